#!/usr/bin/env python3
"""svc-any at scale and at the edges: one figure per row, each with its goal (issue 17).

Run through benches/scale, which builds svc-any in release mode once, compiles the C helpers,
installs honcho from PyPI in a venv, mounts a fresh ext4 image for the work directory, and
passes the paths. Every figure runs in its own scope (SVC_ANY_STATE_DIR on the work directory,
SVC_ANY_RUNTIME_DIR on tmpfs as /run is on a booted system), one after the other; --only picks
figures, --baseline BINARY adds a column measured with another build (the same figures, the
same run).

  nofile          services running under `ulimit -Sn 1024` (and under a hard limit of 1024)
  install-each    one install --start per call, 1,000 calls: last 10% against first 10%
  install-bulk    one install of 1,000 services (no start), on this file system
  status-empty    `status` with nothing installed against `detect`
  status-1000     `status` of 1,000 running services (runit's `sv status` beside it)
  pss             the supervisor's PSS with those 1,000 services
  systemd         `status` of 200 running services on real systemd 252 against
                  `systemctl list-units` of them (a container booted by tests/harness/box.sh)
  render          `render` of one definition against `honcho export systemd` of one process
  wait            `start --wait`: from the moment a TCP health check can pass to the return
  rotation        log rotation: lines split at file boundaries, throughput at keep 1000 and 3
  restart         crash -> restart median against a C floor (wait(), vfork+exec), interleaved
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

ALL = ["nofile", "install-each", "install-bulk", "status-empty", "status-1000", "pss", "systemd",
       "render", "wait", "rotation", "restart"]
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def say(text):
    print(f"# {text}", file=sys.stderr, flush=True)


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def spawn_time(argv, env=None, cwd=None):
    """Wall time of one run of argv (ms), stdout and stderr to /dev/null, and its exit code."""
    actions = [(os.POSIX_SPAWN_OPEN, 1, "/dev/null", os.O_WRONLY, 0),
               (os.POSIX_SPAWN_OPEN, 2, "/dev/null", os.O_WRONLY, 0)]
    if cwd:
        argv = ["/bin/sh", "-c", 'cd "$0" && exec "$@"', cwd, *argv]
    start = time.perf_counter()
    pid = os.posix_spawn(argv[0], argv, env if env is not None else os.environ, file_actions=actions)
    _, status = os.waitpid(pid, 0)
    return (time.perf_counter() - start) * 1000, os.waitstatus_to_exitcode(status)


def timed(argv, n, env=None, cwd=None):
    return [spawn_time(argv, env, cwd)[0] for _ in range(n)]


def processes_with(needle):
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if needle in cmd:
            out.append(int(pid))
    return out


def pss_kib(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    fields = stat[stat.rfind(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Scope:
    """An isolated svc-any scope: its own state and runtime directories, its own supervisor."""

    def __init__(self, args, name, binary):
        self.binary = binary
        self.dir = os.path.join(args.work, name)
        self.run_dir = os.path.join(args.runtime, name)
        self.cleanup()
        os.makedirs(self.dir)
        self.env = dict(os.environ, SVC_ANY_STATE_DIR=f"{self.dir}/state", SVC_ANY_RUNTIME_DIR=self.run_dir)
        self.env.pop("SVC_ANY_BACKEND", None)

    def cmd(self, *args):
        return [self.binary, *args]

    def run(self, *args, check=True, capture=False, prefix=()):
        return subprocess.run([*prefix, self.binary, *args], env=self.env, check=check,
                              stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
                              stderr=subprocess.PIPE if capture else subprocess.DEVNULL, text=capture)

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def supervisor(self):
        pids = processes_with(f"--runtime-dir {self.run_dir}")
        return pids[0] if pids else None

    def statuses(self):
        out = self.run("status", "--json", check=False, capture=True).stdout
        return {s["unit"]: s for s in json.loads(out)["services"]} if out else {}

    def cleanup(self):
        """Kills this scope's supervisor (its services die with it) and removes its files."""
        for pid in processes_with(f"--runtime-dir {self.run_dir}"):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.2)
        shutil.rmtree(self.dir, ignore_errors=True)
        shutil.rmtree(self.run_dir, ignore_errors=True)


def services_toml(n, exec_line='exec = ["/bin/sleep", "100000"]', prefix="s"):
    return "".join(f"[services.{prefix}{i}]\n{exec_line}\n\n" for i in range(n))


# ---- figures ------------------------------------------------------------------------------

def fig_nofile(args, binary):
    n = args.nofile_services
    rows = {}
    for label, limit in (("soft 1024", "ulimit -Sn 1024"), ("hard 1024", "ulimit -n 1024")):
        scope = Scope(args, f"nofile-{label[:4]}", binary)
        try:
            spec = scope.write("svc-any.toml", services_toml(n))
            hard = subprocess.run(["sh", "-c", f"{limit}; ulimit -Hn"], capture_output=True, text=True).stdout.strip()
            say(f"nofile ({label}, hard {hard}): installing and starting {n} services")
            subprocess.run(["sh", "-c", f'{limit}; exec "$0" install -q -f "$1" --start', binary, spec],
                           env=scope.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            before = scope.statuses()
            running = {u: s["pid"] for u, s in before.items() if s["state"] == "running"}
            # Exact: every unit has a status, and each running one's pid runs the service.
            exact = len(before) == n and all(_runs(pid, "/bin/sleep") for pid in running.values())
            refused = [s for s in before.values() if s["state"] == "failed"]
            reasons = {bool(re.search("file descriptors", s.get("reason") or "")) for s in refused}
            sup = scope.supervisor()
            if sup:
                os.kill(sup, signal.SIGHUP)
            extra = scope.write("extra.toml", 'exec = ["/bin/sleep", "100000"]\n')
            scope.run("install", "-q", "extra", "-f", extra, check=False)
            time.sleep(0.5)
            after = scope.statuses()
            lost = sum(1 for u, pid in running.items() if after.get(u, {}).get("pid") != pid)
            lost += max(0, n - sum(1 for u in after if u != "extra"))
            rows[label] = dict(hard=hard, running=len(running), exact=exact, refused=len(refused),
                               said_why=reasons == {True} if refused else None, lost=lost)
        finally:
            scope.cleanup()
    soft = rows["soft 1024"]
    hard = rows["hard 1024"]
    value = (f"{soft['running']:,} of {n:,} running (soft 1024, hard {soft['hard']}), status "
             f"{'exact' if soft['exact'] else 'NOT exact'}, {soft['lost']} lost; hard 1024: "
             f"{hard['running']} running, {hard['refused']} refused"
             f"{' saying why' if hard['said_why'] else ''}, {hard['lost']} lost")
    met = soft["running"] == n and soft["exact"] and soft["lost"] == 0 and hard["lost"] == 0
    return value, met


def _runs(pid, program):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().split(b"\0")[0].decode() == program
    except OSError:
        return False


def fig_install_each(args, binary):
    n = args.each
    scope = Scope(args, "install-each", binary)
    try:
        # One service first, so that no measured call starts the supervisor.
        warm = scope.write("warm.toml", 'exec = ["/bin/sleep", "100000"]\n')
        scope.run("install", "-q", "warm", "-f", warm, "--start")
        say(f"install-each: {n} calls of install --start, one service each")
        times = []
        for i in range(n):
            path = scope.write(f"s{i}.toml", 'exec = ["/bin/sleep", "100000"]\n')
            ms, code = spawn_time(scope.cmd("install", "-q", f"s{i}", "-f", path, "--start"), scope.env)
            if code != 0:
                raise RuntimeError(f"install s{i} exited {code}")
            times.append(ms)
        sup = scope.supervisor()
        cpu = cpu_seconds(sup) if sup else float("nan")
    finally:
        scope.cleanup()
    k = n // 10
    first, last = statistics.mean(times[:k]), statistics.mean(times[-k:])
    ratio = last / first
    return (f"{ratio:.2f}x (first 10% {first:.1f} ms, last 10% {last:.1f} ms per call; "
            f"supervisor CPU {cpu:.2f} s)"), ratio <= 1.2


def fig_install_bulk(args, binary):
    n = 1000
    results = []
    for attempt in range(3):
        scope = Scope(args, "install-bulk", binary)
        try:
            spec = scope.write("svc-any.toml", services_toml(n))
            ms, code = spawn_time(scope.cmd("install", "-q", "-f", spec), scope.env)
            if code != 0:
                raise RuntimeError(f"bulk install exited {code}")
            results.append(ms)
        finally:
            scope.cleanup()
    fs = subprocess.run(["findmnt", "-n", "-o", "FSTYPE", "--target", args.work],
                        capture_output=True, text=True).stdout.strip() or "?"
    best = median(results)
    return f"{best / 1000:.2f} s (median of 3, {fs})", best <= 1000


def fig_status_empty(args, binary):
    scope = Scope(args, "status-empty", binary)
    try:
        status, detect = [], []
        for _ in range(args.repeat):
            status.append(spawn_time(scope.cmd("status"), scope.env)[0])
            detect.append(spawn_time(scope.cmd("detect"), scope.env)[0])
    finally:
        scope.cleanup()
    ratio = median(status) / median(detect)
    return f"{ratio:.2f}x ({median(status):.2f} ms against {median(detect):.2f} ms)", ratio <= 1.3


def running_1000(args, binary):
    scope = Scope(args, "thousand", binary)
    spec = scope.write("svc-any.toml", services_toml(1000))
    say("status-1000 / pss: installing and starting 1,000 services")
    scope.run("install", "-q", "-f", spec, "--start")
    time.sleep(1)
    return scope


def fig_status_1000(args, binary, scope):
    table = timed(scope.cmd("status"), 30, scope.env)
    as_json = timed(scope.cmd("status", "--json"), 15, scope.env)
    peer = runit_status(args, 1000)
    value = f"{median(table):.1f} ms (--json {median(as_json):.1f} ms)"
    return value, median(table) <= 25, peer


def fig_pss(args, binary, scope):
    sup = scope.supervisor()
    pss = pss_kib(sup) / 1024
    return f"{pss:.1f} MiB", pss <= 8


def runit_status(args, n):
    """runit's `sv status` of n services under runsvdir, or None without runit."""
    if not shutil.which("runsvdir") or not shutil.which("sv"):
        return None
    work = os.path.join(args.work, "runit")
    shutil.rmtree(work, ignore_errors=True)
    scan = os.path.join(work, "scan")
    os.makedirs(scan)
    for i in range(n):
        d = f"{scan}/s{i}"
        os.makedirs(d)
        with open(f"{d}/run", "w") as f:
            f.write("#!/bin/sh\nexec /bin/sleep 100000\n")
        os.chmod(f"{d}/run", 0o755)
    say(f"status-1000: runit with {n} services")
    proc = subprocess.Popen(["runsvdir", scan], start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        dirs = [f"{scan}/s{i}" for i in range(n)]
        while time.time() < deadline:
            out = subprocess.run(["sv", "status", *dirs], capture_output=True, text=True).stdout
            if out.count("run: ") == n:
                break
            time.sleep(1)
        return f"runit `sv status`: {median(timed([shutil.which('sv'), 'status', *dirs], 30)):.1f} ms"
    finally:
        # runsvdir, every runsv below it, and their services: by pid, found as its descendants.
        for pid in reversed(descendants(proc.pid)):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.wait()
        shutil.rmtree(work, ignore_errors=True)


def descendants(root):
    children = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
            children.setdefault(int(stat[stat.rfind(")") + 2:].split()[1]), []).append(int(pid))
        except (OSError, ValueError, IndexError):
            pass
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def fig_systemd(args, binary):
    box = os.path.join(ROOT, "tests/harness/box.sh")
    env = dict(os.environ, SVC_ANY_BOX=f"{os.environ.get('SVC_ANY_BOX_PREFIX', '')}bench", SVC_ANY_BIN=binary)

    def sh(cmd, check=True):
        return subprocess.run(["bash", box, "exec", "systemd", "sh", "-c", cmd], env=env, check=check,
                              capture_output=True, text=True)

    say("systemd: booting a container with systemd as PID 1")
    subprocess.run(["bash", box, "build", "systemd"], env=env, check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(args.work, "box-up.log"), "w") as log:
        subprocess.run(["bash", box, "up", "systemd"], env=env, check=True, stdout=log, stderr=log)
    try:
        n = 200
        units = " ".join(f"s{i}.service" for i in range(n))
        timer = ("import subprocess,sys,time,statistics\n"
                 "n=int(sys.argv[1]); xs=[]\n"
                 "for _ in range(n):\n"
                 "    s=time.perf_counter(); subprocess.run(sys.argv[2:],stdout=subprocess.DEVNULL); "
                 "xs.append((time.perf_counter()-s)*1000)\n"
                 "print(statistics.median(xs))\n")
        sh(f"cat > /root/timer.py <<'EOF'\n{timer}EOF")
        sh(f"mkdir -p /root/b && cd /root/b && for i in $(seq 0 {n - 1}); do "
           "printf '[services.s%d]\\nexec = [\"/bin/sleep\", \"100000\"]\\n\\n' $i; done > svc-any.toml && "
           "svc-any install -q -f svc-any.toml --start")
        running = sh("svc-any status | grep -c ' running '", check=False).stdout.strip()
        status = float(sh("python3 /root/timer.py 20 svc-any status").stdout)
        listed = float(sh(f"python3 /root/timer.py 20 systemctl list-units --all --plain --no-legend {units}").stdout)
        as_json = float(sh("python3 /root/timer.py 5 svc-any status --json").stdout)
        version = sh("systemctl --version | head -1").stdout.strip()
    finally:
        subprocess.run(["bash", box, "down", "systemd"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ratio = status / listed
    value = (f"{ratio:.1f}x ({status:.1f} ms against {listed:.1f} ms; {running} running; "
             f"--json {as_json:.0f} ms; {version})")
    return value, ratio <= 4


def fig_render(args, binary):
    work = os.path.join(args.work, "render")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    definition = os.path.join(work, "api.toml")
    with open(definition, "w") as f:
        f.write('exec = ["/usr/bin/api", "--port", "8080"]\n')
    with open(os.path.join(work, "Procfile"), "w") as f:
        f.write("api: /usr/bin/api --port 8080\n")
    ours = timed([binary, "--backend", "systemd", "render", "-f", definition], args.repeat)
    theirs = None
    if args.honcho and os.path.exists(args.honcho):
        out = os.path.join(work, "out")
        theirs = timed([args.honcho, "export", "-f", os.path.join(work, "Procfile"), "systemd", out], 30, cwd=work)
    shutil.rmtree(work, ignore_errors=True)
    if theirs is None:
        return f"{median(ours):.2f} ms (honcho not installed)", None
    ratio = median(theirs) / median(ours)
    return (f"{ratio:.0f}x faster ({median(ours):.2f} ms against honcho {median(theirs):.1f} ms)"), ratio >= 100


def fig_wait(args, binary):
    scope = Scope(args, "wait", binary)
    port = free_port()
    delay_file, ready_file = os.path.join(scope.dir, "delay"), os.path.join(scope.dir, "ready")
    with open(delay_file, "w") as f:
        f.write("0\n")
    spec = scope.write("ready.toml", f'exec = ["{args.ready}", "{port}", "{delay_file}", "{ready_file}"]\n'
                                     f'[health]\ntcp = "127.0.0.1:{port}"\ntimeout = "10s"\n')
    lateness = []
    try:
        scope.run("install", "-q", "ready", "-f", spec)
        say(f"wait: {args.wait_runs} starts, ready 20 to 500 ms after each")
        for i in range(args.wait_runs):
            delay = 20 + (i * 37) % 480
            with open(delay_file, "w") as f:
                f.write(f"{delay}\n")
            if os.path.exists(ready_file):
                os.unlink(ready_file)
            _, code = spawn_time(scope.cmd("start", "-q", "ready", "--wait"), scope.env)
            returned = time.monotonic_ns()
            if code != 0:
                raise RuntimeError(f"start --wait exited {code}")
            with open(ready_file) as f:
                ready = int(f.read())
            lateness.append((returned - ready) / 1e6)
            scope.run("stop", "-q", "ready")
    finally:
        scope.cleanup()
    med = median(lateness)
    p90 = sorted(lateness)[int(0.9 * (len(lateness) - 1))]
    return f"{med:.1f} ms median, {p90:.1f} ms p90 ({len(lateness)} starts)", med <= 10


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fig_rotation(args, binary):
    results = {}
    for keep, total in ((1000, args.rotation_bytes), (3, args.rotation_bytes)):
        scope = Scope(args, f"rotation-{keep}", binary)
        try:
            log = os.path.join(scope.dir, "out.log")
            spec = scope.write("lines.toml", f'exec = ["{args.lines}", "{total}"]\nrestart = "no"\n'
                                             f'[log]\nfile = "{log}"\nmax_size = "{args.rotation_max}"\nkeep = {keep}\n')
            scope.run("install", "-q", "lines", "-f", spec)
            scope.run("install", "-q", "idle", "--", "/bin/sleep", "100000")
            scope.run("start", "-q", "idle")
            sup = scope.supervisor()
            cpu0 = cpu_seconds(sup)
            start = time.perf_counter()
            scope.run("start", "-q", "lines")
            # Its pid file goes once the supervisor has read the last output and the exit:
            # watched without asking the supervisor anything.
            pid_file = os.path.join(scope.run_dir, "pids", "lines")
            while os.path.exists(pid_file):
                time.sleep(0.005)
            wall = time.perf_counter() - start
            cpu = cpu_seconds(sup) - cpu0
            split, boundaries, whole = check_lines(log) if keep == 1000 else (None, None, None)
            results[keep] = dict(wall=wall, cpu=cpu, mb=total / 1e6, split=split, boundaries=boundaries, whole=whole)
        finally:
            scope.cleanup()
    k1000, k3 = results[1000], results[3]
    t1000, t3 = k1000["mb"] / k1000["wall"], k3["mb"] / k3["wall"]
    value = (f"{k1000['split']}/{k1000['boundaries']} split"
             f"{'' if k1000['whole'] else ' (lines lost or out of order)'}; "
             f"{t1000:.0f} MB/s at keep 1000 against {t3:.0f} MB/s at keep 3 "
             f"(supervisor CPU {k1000['cpu']:.2f} s against {k3['cpu']:.2f} s, max_size {args.rotation_max})")
    return value, k1000["split"] == 0 and k1000["whole"] and t1000 >= t3 / 2


def check_lines(log):
    """(lines split at a file boundary, boundaries, every line there whole and in order)."""
    directory, base = os.path.split(log)
    files = [os.path.join(directory, f) for f in os.listdir(directory)
             if f == base or re.fullmatch(re.escape(base) + r"\.\d+", f)]
    bodies = []
    for path in files:
        with open(path, "rb") as f:
            data = f.read()
        if data:
            bodies.append(data)

    # Whatever the names, the files in the order of their lines: by the number of the line
    # that follows a file's first line end (its first line may be a piece of one).
    def order(data):
        rest = data.split(b"\n", 1)
        if len(rest) == 2 and rest[1][:1].isdigit():
            return int(rest[1].split(b" ", 1)[0])
        return int(data.split(b" ", 1)[0]) if data[:1].isdigit() else -1
    bodies.sort(key=order)
    bodies = [(None, None, data) for data in bodies]
    split = sum(1 for _, _, data in bodies[:-1] if not data.endswith(b"\n"))
    text = b"".join(data for _, _, data in bodies)
    expected, whole = None, True
    for line in text.split(b"\n")[:-1]:
        parts = line.split(b" ", 2)
        try:
            number, length = int(parts[0]), int(parts[1])
        except (ValueError, IndexError):
            whole = False
            break
        if expected is not None and number != expected or len(line) + 1 != length:
            whole = False
            break
        expected = number + 1
    return split, len(bodies) - 1, whole


def fig_restart(args, binary):
    """Kills alternate between svc-any's services and the floor's, each killed once it has run
    1.2 s, so both are measured under the same load at the same time."""
    fifo_path = os.path.join(args.runtime, "restart.fifo")
    if os.path.exists(fifo_path):
        os.unlink(fifo_path)
    os.mkfifo(fifo_path, 0o666)
    fd = os.open(fifo_path, os.O_RDONLY | os.O_NONBLOCK)
    keep = os.open(fifo_path, os.O_WRONLY | os.O_NONBLOCK)
    pending = b""

    def reports(timeout):
        nonlocal pending
        import select
        ready, _, _ = select.select([fd], [], [], timeout)
        if not ready:
            return []
        pending += os.read(fd, 65536)
        *lines, pending = pending.split(b"\n")
        return [(i.decode(), int(p), int(ns)) for i, p, ns in (l.split() for l in lines)]

    n = 10
    scope = Scope(args, "restart", binary)
    floor = None
    try:
        spec = scope.write("svc-any.toml", "".join(
            f'[services.s{i}]\nexec = ["{args.child}", "{fifo_path}", "s{i}"]\nrestart = "always"\n'
            f'restart_delay = "0s"\nrestart_limit = 0\n\n' for i in range(n)))
        scope.run("install", "-q", "-f", spec, "--start")
        floor = subprocess.Popen([args.floor, str(n), args.child, fifo_path], start_new_session=True,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        current = {}
        deadline = time.time() + 30
        while len(current) < 2 * n and time.time() < deadline:
            for ident, pid, ns in reports(0.5):
                current[ident] = (pid, ns)
        ids = [f"s{i}" for i in range(n)] + [f"f{i}" for i in range(n)]
        order = [ids[(k // 2) % n + (n if k % 2 else 0)] for k in range(2 * args.kills)]
        lat = {"s": [], "f": []}
        say(f"restart: {args.kills} kills each, svc-any and the floor alternating")
        for ident in order:
            pid, started = current[ident]
            wait = (started + 1_200_000_000 - time.monotonic_ns()) / 1e9
            if wait > 0:
                time.sleep(wait)
            killed = time.monotonic_ns()
            os.kill(pid, signal.SIGKILL)
            end = time.time() + 10
            while time.time() < end:
                got = False
                for who, new_pid, ns in reports(1.0):
                    current[who] = (new_pid, ns)
                    if who == ident and new_pid != pid:
                        lat[ident[0]].append((ns - killed) / 1e6)
                        got = True
                if got:
                    break
    finally:
        if floor:
            os.killpg(floor.pid, signal.SIGKILL)
            floor.wait()
        scope.cleanup()
        os.close(fd)
        os.close(keep)
        os.unlink(fifo_path)
    ours, theirs = median(lat["s"]), median(lat["f"])
    ratio = ours / theirs
    return (f"{ratio:.2f}x the floor ({ours:.2f} ms against {theirs:.2f} ms, median of "
            f"{len(lat['s'])} each)"), ratio <= 1.5


GOALS = {
    "nofile": ("units under `ulimit -n 1024`", "5,000 running, `status` exact, nothing lost"),
    "install-each": ("one-call-each install, last 10% vs first 10% of 1,000 calls", "<= 1.2x (flat)"),
    "install-bulk": ("bulk install of 1,000 services", "<= 1 s"),
    "status-empty": ("`status`, nothing installed / `detect`", "<= 1.3x"),
    "status-1000": ("`status` of 1,000 running services", "<= 25 ms"),
    "systemd": ("systemd: `status` of 200 running vs `systemctl list-units` of them", "<= 4x"),
    "render": ("`render` of one definition vs honcho export", ">= 100x faster"),
    "wait": ("`--wait`: ready -> return", "median <= 10 ms"),
    "rotation": ("log rotation: split lines; throughput at keep 1000 vs keep 3", "0; >= keep 3 / 2"),
    "restart": ("crash -> restart median vs the fork+exec floor", "<= 1.5x the floor"),
    "pss": ("supervisor PSS, 1,000 services", "<= 8 MiB"),
}


def measure(args, binary, only):
    rows, peers = {}, {}
    thousand = None
    for key in ALL:
        if key not in only:
            continue
        try:
            if key in ("status-1000", "pss"):
                if thousand is None:
                    thousand = running_1000(args, binary)
                if key == "status-1000":
                    value, met, peer = fig_status_1000(args, binary, thousand)
                    peers[key] = peer
                else:
                    value, met = fig_pss(args, binary, thousand)
            else:
                value, met = FIGURES[key](args, binary)
        except Exception as e:  # a figure that cannot be measured says why, the others go on
            value, met = f"not measured: {e}", None
        rows[key] = (value, met)
        say(f"{key}: {value}")
    if thousand is not None:
        thousand.cleanup()
    return rows, peers


FIGURES = {
    "nofile": fig_nofile, "install-each": fig_install_each, "install-bulk": fig_install_bulk,
    "status-empty": fig_status_empty, "systemd": fig_systemd, "render": fig_render,
    "wait": fig_wait, "rotation": fig_rotation, "restart": fig_restart,
}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", required=True)
    parser.add_argument("--runtime", default="/dev/shm/svc-any-bench")
    parser.add_argument("--svc-any", required=True)
    parser.add_argument("--baseline", help="another svc-any build, measured the same way")
    parser.add_argument("--child", required=True)
    parser.add_argument("--floor", required=True)
    parser.add_argument("--ready", required=True)
    parser.add_argument("--lines", required=True)
    parser.add_argument("--honcho")
    parser.add_argument("--only", nargs="*", default=ALL, choices=ALL)
    parser.add_argument("--repeat", type=int, default=200, help="runs of each short command")
    parser.add_argument("--each", type=int, default=1000)
    parser.add_argument("--nofile-services", type=int, default=5000)
    parser.add_argument("--wait-runs", type=int, default=40)
    parser.add_argument("--kills", type=int, default=200)
    parser.add_argument("--rotation-bytes", type=int, default=20_000_000)
    parser.add_argument("--rotation-max", default="64K")
    args = parser.parse_args()
    for name in ("svc_any", "baseline", "child", "floor", "ready", "lines", "honcho", "work", "runtime"):
        if getattr(args, name):
            setattr(args, name, os.path.abspath(getattr(args, name)))
    os.makedirs(args.work, exist_ok=True)
    os.makedirs(args.runtime, exist_ok=True)

    ours, peers = measure(args, args.svc_any, args.only)
    base = measure(args, args.baseline, args.only)[0] if args.baseline else None

    print()
    header = ["figure", "measured"] + (["baseline"] if base else []) + ["goal", "met"]
    table = [header]
    for key in ALL:
        if key not in ours:
            continue
        value, met = ours[key]
        if peers.get(key):
            value = f"{value}; {peers[key]}"
        row = [GOALS[key][0], value] + ([base[key][0]] if base else []) + [
            GOALS[key][1], {True: "yes", False: "NO", None: "-"}[met]]
        table.append(row)
    for row in table:
        print("| " + " | ".join(row) + " |")
        if row is header:
            print("|" + "|".join("---" for _ in row) + "|")


if __name__ == "__main__":
    main()
