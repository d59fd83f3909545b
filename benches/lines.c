/* The producer of the log rotation benchmark: writes TOTAL bytes of numbered lines to stdout,
 * as fast as the pipe takes them, in writes of 100,000 bytes that end anywhere within a line.
 * Line N is "N LEN " then filler up to LEN bytes in all (LEN from a fixed pseudo-random
 * sequence, 20 to 2,000), then "\n": a reader can tell a whole line from a piece of one.
 * Arguments: TOTAL. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHUNK 100000

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    long long total = atoll(argv[1]), written = 0, n = 0;
    unsigned long long seed = 88172645463325252ULL;
    static char buf[CHUNK + 4096];
    size_t used = 0;
    while (written < total) {
        seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17;
        int len = 20 + (int)(seed % 1981);
        char head[64];
        int h = snprintf(head, sizeof head, "%lld %d ", n++, len);
        memcpy(buf + used, head, h);
        memset(buf + used + h, 'x', len - h - 1);
        buf[used + len - 1] = '\n';
        used += len;
        while (used >= CHUNK) {
            size_t off = 0;
            while (off < CHUNK) {
                ssize_t w = write(1, buf + off, CHUNK - off);
                if (w <= 0) return 1;
                off += w;
            }
            memmove(buf, buf + CHUNK, used - CHUNK);
            used -= CHUNK;
            written += CHUNK;
        }
    }
    size_t off = 0;
    while (off < used) {
        ssize_t w = write(1, buf + off, used - off);
        if (w <= 0) return 1;
        off += w;
    }
    return 0;
}
