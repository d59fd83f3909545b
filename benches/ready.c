/* The service of the --wait benchmark: it waits as long as DELAY_FILE says (milliseconds),
 * then listens on 127.0.0.1:PORT and at that moment writes CLOCK_MONOTONIC (ns) to
 * READY_FILE: the instant a TCP health check can first pass. Then it waits to be stopped.
 * Arguments: PORT DELAY_FILE READY_FILE. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 4) return 2;
    long delay_ms = 0;
    FILE *d = fopen(argv[2], "r");
    if (d) {
        if (fscanf(d, "%ld", &delay_ms) != 1) delay_ms = 0;
        fclose(d);
    }
    struct timespec pause = {delay_ms / 1000, (delay_ms % 1000) * 1000000L};
    nanosleep(&pause, NULL);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)atoi(argv[1]));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(s, (struct sockaddr *)&addr, sizeof addr) != 0) return 3;
    if (listen(s, 64) != 0) return 4;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    FILE *r = fopen(argv[3], "w");
    if (!r) return 5;
    fprintf(r, "%lld\n", (long long)now.tv_sec * 1000000000LL + now.tv_nsec);
    fclose(r);
    for (;;) {
        int c = accept(s, NULL, NULL);
        if (c >= 0) close(c);
    }
}
