/* The service every supervisor runs in the benchmark: the moment it starts, it writes
 * "ID PID MONOTONIC_NS\n" to a FIFO (one write, so lines from many children never mix), tells
 * s6 it is ready on fd 3 if that is open, and waits to be killed.
 * Arguments: FIFO ID. Without them (runsv and s6 run ./run bare) the FIFO comes from
 * $BENCH_FIFO and the ID is the name of the service directory it runs in. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    const char *fifo = argc >= 3 ? argv[1] : getenv("BENCH_FIFO");
    char cwd[4096];
    const char *id = argv[2];
    if (argc < 3) {
        if (!getcwd(cwd, sizeof cwd)) return 2;
        id = strrchr(cwd, '/') ? strrchr(cwd, '/') + 1 : cwd;
    }
    if (!fifo) return 2;
    char line[160];
    int n = snprintf(line, sizeof line, "%s %d %lld\n", id, (int)getpid(),
                     (long long)now.tv_sec * 1000000000LL + now.tv_nsec);
    int fd = open(fifo, O_WRONLY | O_NONBLOCK);
    if (fd >= 0) { (void)!write(fd, line, n); close(fd); }
    if (fcntl(3, F_GETFD) != -1) { (void)!write(3, "\n", 1); close(3); }
    for (;;) pause();
}
