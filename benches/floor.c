/* The floor of a crash -> restart: the least a supervisor can do. It starts N copies of a
 * program, blocks in wait(), and the moment one ends starts it again with vfork+exec; no
 * logs, no state, no policy. The benchmark kills its children as it kills every supervisor's,
 * so what svc-any adds to a restart is measured against this, in the same run.
 * Arguments: N PROGRAM FIFO. Child i runs PROGRAM FIFO f<i>. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static pid_t start(char *program, char *fifo, char *id) {
    char *argv[] = {program, fifo, id, NULL};
    pid_t pid = vfork();
    if (pid == 0) {
        execve(program, argv, environ);
        _exit(127);
    }
    return pid;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: floor N PROGRAM FIFO\n");
        return 2;
    }
    int n = atoi(argv[1]);
    pid_t *pids = calloc(n, sizeof *pids);
    char (*ids)[16] = calloc(n, sizeof *ids);
    for (int i = 0; i < n; i++) {
        snprintf(ids[i], sizeof ids[i], "f%d", i);
        pids[i] = start(argv[2], argv[3], ids[i]);
    }
    for (;;) {
        pid_t gone = wait(NULL);
        if (gone < 0) return 1;
        for (int i = 0; i < n; i++) {
            if (pids[i] == gone) {
                pids[i] = start(argv[2], argv[3], ids[i]);
                break;
            }
        }
    }
}
