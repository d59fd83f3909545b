"""Start-to-exit time of each binary given, for three commands, each run RUNS times
interleaved (so a slower moment of a shared machine hits every binary alike); median and p90 in
milliseconds. Started with posix_spawn, as a shell or a CI step starts it; the page cache is
warm after the first run (what every later invocation of a CLI sees)."""
import os, statistics, sys, time

RUNS = 200
COMMANDS = [["--version"], ["detect"], ["--backend", "systemd", "render", "-f", "examples/demo.toml"]]


def once(argv):
    start = time.perf_counter()
    pid = os.posix_spawn(argv[0], argv, {"PATH": "/usr/bin:/bin"},
                         file_actions=[(os.POSIX_SPAWN_OPEN, 1, "/dev/null", os.O_WRONLY, 0),
                                       (os.POSIX_SPAWN_OPEN, 2, "/dev/null", os.O_WRONLY, 0)])
    _, status = os.waitpid(pid, 0)
    took = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{' '.join(argv)} failed")
    return took * 1000


def main():
    rows = [("/bin/true", [])] + [(b, c) for c in COMMANDS for b in sys.argv[1:]]
    times = {i: [] for i in range(len(rows))}
    for _ in range(RUNS):
        for i, (binary, args) in enumerate(rows):
            times[i].append(once([os.path.abspath(binary) if "/" in binary else binary] + args))
    print(f"| command | median | p90 |\n|---|---|---|")
    for i, (binary, args) in enumerate(rows):
        t = sorted(times[i])
        print(f"| `{binary} {' '.join(args)}` | {statistics.median(t):.2f} ms | {t[int(len(t) * 0.9)]:.2f} ms |")


main()
