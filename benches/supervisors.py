#!/usr/bin/env python3
"""Supervisors side by side: crash->restart latency, memory, idle wakeups.

Every supervisor runs the same C child (benches/child.c), which reports "ID PID MONOTONIC_NS"
on a FIFO the moment it starts. Latency is that start time minus the moment just before
SIGKILL reached the old process. Kills go round-robin over 20 services, each killed only once it
has run for 1.2 s, so no supervisor's "died too soon" throttle is measured instead of its
restart path (s6-supervise and runsv wait a second after a quick death; svc-any does not,
with restart_delay = "0s"). Memory is the PSS and RSS of the supervisor's own processes (not
the services), with 1 and with 100 services; idle wakeups are the context switches of those
processes over 5 s with nothing happening.

Run through benches/run, which installs the peers.
"""

import argparse
import os
import select
import shutil
import signal
import statistics
import subprocess
import sys
import time

KILLS = 200
LATENCY_SERVICES = 20
MIN_UPTIME_NS = 1_200_000_000
IDLE_SECONDS = 5


def proc_pids():
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def ppid_of(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
        return int(stat[stat.rfind(")") + 2:].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def comm_of(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def descendants(root):
    children = {}
    for pid in proc_pids():
        children.setdefault(ppid_of(pid), []).append(pid)
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def memory_kib(pids):
    """(PSS, RSS) in KiB, summed."""
    pss = rss = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        pss += int(line.split()[1])
                    elif line.startswith("Rss:"):
                        rss += int(line.split()[1])
        except OSError:
            pass
    return pss, rss


def context_switches(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if "ctxt_switches" in line:
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


class Fifo:
    """The FIFO the children report on; a writer is kept open so reads never see EOF."""

    def __init__(self, path):
        self.path = path
        if os.path.exists(path):
            os.unlink(path)
        os.mkfifo(path, 0o666)
        self.fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        self.keep = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        self.pending = b""

    def lines(self, timeout):
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return []
        self.pending += os.read(self.fd, 65536)
        *complete, self.pending = self.pending.split(b"\n")
        out = []
        for line in complete:
            ident, pid, ns = line.decode().split()
            out.append((ident, int(pid), int(ns)))
        return out

    def close(self):
        os.close(self.fd)
        os.close(self.keep)
        os.unlink(self.path)


class Peer:
    """One supervisor under test: start with N services, list its own processes, stop."""

    name = "?"

    def __init__(self, args, work):
        self.args = args
        self.work = os.path.join(work, self.key)
        shutil.rmtree(self.work, ignore_errors=True)
        os.makedirs(self.work)
        self.proc = None

    def supervisor_pids(self):
        raise NotImplementedError

    def stop(self):
        if self.proc and self.proc.poll() is None:
            for pid in reversed(descendants(self.proc.pid)):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.proc.wait()


class SvcAny(Peer):
    name, key = "svc-any builtin", "svc-any"

    def env(self):
        return dict(os.environ, SVC_ANY_STATE_DIR=f"{self.work}/state", SVC_ANY_RUNTIME_DIR=f"{self.work}/run")

    def start(self, n, fifo):
        lines = []
        for i in range(n):
            lines += [
                f"[services.s{i}]",
                f'exec = ["{self.args.child}", "{fifo}", "s{i}"]',
                'restart = "always"',
                'restart_delay = "0s"',
                "restart_limit = 0",
                "",
            ]
        spec = f"{self.work}/svc-any.toml"
        with open(spec, "w") as f:
            f.write("\n".join(lines))
        subprocess.run([self.args.svc_any, "install", "-f", spec, "--start", "-q"], env=self.env(), check=True)
        self.names = [f"s{i}" for i in range(n)]

    def supervisor_pids(self):
        needle = f"--runtime-dir {self.work}/run"
        out = []
        for pid in proc_pids():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if "supervisor" in cmd and needle in cmd:
                out.append(pid)
        return out

    def stop(self):
        subprocess.run([self.args.svc_any, "uninstall", "-q", *self.names], env=self.env(), check=False)


class ScanDirPeer(Peer):
    """runit and s6: a scan directory of service directories whose ./run is the child."""

    scanner = "?"
    notification_fd = False

    def start(self, n, fifo):
        scan = f"{self.work}/scan"
        os.makedirs(scan)
        for i in range(n):
            d = f"{scan}/s{i}"
            os.makedirs(d)
            os.symlink(self.args.child, f"{d}/run")
            if self.notification_fd:
                with open(f"{d}/notification-fd", "w") as f:
                    f.write("3\n")
        env = dict(os.environ, BENCH_FIFO=fifo)
        self.proc = subprocess.Popen([self.scanner, scan], env=env, start_new_session=True,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class Runsv(ScanDirPeer):
    name, key, scanner = "runit runsv", "runsv", "runsvdir"

    def supervisor_pids(self):
        return [p for p in descendants(self.proc.pid) if comm_of(p) in ("runsvdir", "runsv")]


class S6(ScanDirPeer):
    # Readiness on fd 3, so s6-supervise counts the service as up (see the README's note).
    name, key, scanner, notification_fd = "s6-supervise", "s6", "s6-svscan", True

    def supervisor_pids(self):
        return [p for p in descendants(self.proc.pid) if comm_of(p) in ("s6-svscan", "s6-supervise")]


class Supervisord(Peer):
    name, key = "supervisord 4.2.5", "supervisord"

    def start(self, n, fifo):
        conf = f"{self.work}/supervisord.conf"
        with open(conf, "w") as f:
            f.write(f"[supervisord]\nnodaemon=true\nlogfile={self.work}/supervisord.log\n"
                    f"pidfile={self.work}/supervisord.pid\n"
                    f"[unix_http_server]\nfile={self.work}/supervisor.sock\n")
            for i in range(n):
                f.write(f"[program:s{i}]\ncommand={self.args.child} {fifo} s{i}\nautorestart=true\n"
                        "startsecs=0\nstartretries=1000000\nstdout_logfile=NONE\nstderr_logfile=NONE\n")
        self.proc = subprocess.Popen([self.args.supervisord, "-c", conf], start_new_session=True,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def supervisor_pids(self):
        return [self.proc.pid]


class Floor(Peer):
    """benches/floor.c: wait() then vfork+exec at once, nothing else: what a restart costs at least."""

    name, key = "fork+exec floor (C)", "floor"

    def start(self, n, fifo):
        self.proc = subprocess.Popen([self.args.floor, str(n), self.args.child, fifo], start_new_session=True,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def supervisor_pids(self):
        return [self.proc.pid]

    def stop(self):
        # The whole process group at once: killed one by one, a child would be started again.
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def wait_all(fifo, n, timeout=30):
    """Collects the first report of every service: {id: (pid, start_ns)}."""
    seen = {}
    deadline = time.monotonic() + timeout
    while len(seen) < n:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {len(seen)} of {n} services reported")
        for ident, pid, ns in fifo.lines(0.5):
            seen[ident] = (pid, ns)
    return seen


def measure_latency(peer, fifo):
    peer.start(LATENCY_SERVICES, fifo.path)
    try:
        current = wait_all(fifo, LATENCY_SERVICES)
        ids = sorted(current)
        latencies = []
        for k in range(KILLS):
            ident = ids[k % len(ids)]
            pid, started = current[ident]
            wait = (started + MIN_UPTIME_NS - time.monotonic_ns()) / 1e9
            if wait > 0:
                time.sleep(wait)
            killed = time.monotonic_ns()
            os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 10
            while True:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{peer.name}: {ident} was not restarted within 10 s")
                for who, new_pid, ns in fifo.lines(1.0):
                    current[who] = (new_pid, ns)
                    if who == ident and new_pid != pid:
                        latencies.append((ns - killed) / 1e6)
                if len(latencies) == k + 1:
                    break
        return latencies
    finally:
        peer.stop()


def measure_memory(peer, fifo, n):
    peer.start(n, fifo.path)
    try:
        wait_all(fifo, n)
        time.sleep(2)
        pids = peer.supervisor_pids()
        pss, rss = memory_kib(pids)
        before = context_switches(pids)
        time.sleep(IDLE_SECONDS)
        wakeups = context_switches(pids) - before
        return pss, rss, len(pids), wakeups
    finally:
        peer.stop()


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", required=True)
    parser.add_argument("--svc-any", required=True)
    parser.add_argument("--supervisord", required=True)
    parser.add_argument("--child", default=None)
    parser.add_argument("--floor", default=None)
    parser.add_argument("--only", nargs="*", default=None, help="keys: svc-any floor runsv s6 supervisord")
    args = parser.parse_args()
    args.svc_any = os.path.abspath(args.svc_any)
    args.child = os.path.abspath(args.child or os.path.join(args.work, "child"))
    args.floor = os.path.abspath(args.floor or os.path.join(args.work, "restart-floor"))
    peers = [SvcAny, Floor, Runsv, S6, Supervisord]
    if args.only:
        peers = [p for p in peers if p.key in args.only]
    rows = []
    for cls in peers:
        fifo = Fifo(os.path.join(args.work, "report.fifo"))
        try:
            print(f"# {cls.name}: {KILLS} kills over {LATENCY_SERVICES} services...", file=sys.stderr, flush=True)
            lat = measure_latency(cls(args, args.work), fifo)
            print(f"# {cls.name}: memory with 1 and 100 services...", file=sys.stderr, flush=True)
            one = measure_memory(cls(args, args.work), fifo, 1)
            hundred = measure_memory(cls(args, args.work), fifo, 100)
        finally:
            fifo.close()
        rows.append((cls.name, statistics.median(lat), percentile(lat, 99), one, hundred))

    print()
    print(f"crash->restart latency over {KILLS} kills; memory of the supervisor's own processes; "
          f"idle = context switches in {IDLE_SECONDS} s with 100 services and nothing happening")
    header = ("supervisor", "restart median", "restart p99", "1 svc PSS", "1 svc RSS",
              "100 svc PSS", "100 svc RSS", "processes", "idle wakeups")
    rows_text = [header]
    for name, median, p99, one, hundred in rows:
        rows_text.append((name, f"{median:.2f} ms", f"{p99:.2f} ms", f"{one[0] / 1024:.1f} MiB",
                          f"{one[1] / 1024:.1f} MiB", f"{hundred[0] / 1024:.1f} MiB", f"{hundred[1] / 1024:.1f} MiB",
                          str(hundred[2]), str(hundred[3])))
    widths = [max(len(r[i]) for r in rows_text) for i in range(len(header))]
    for r in rows_text:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |")
        if r is header:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")


if __name__ == "__main__":
    main()
