/* One byte back and forth between two processes over two pipes, N times. */
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 1000;
    int a[2], b[2];
    char c = 'x';
    if (pipe(a) || pipe(b)) return 1;
    if (fork() == 0) {
        for (int i = 0; i < n; i++) { if (read(a[0], &c, 1) != 1) _exit(1); write(b[1], &c, 1); }
        _exit(0);
    }
    for (int i = 0; i < n; i++) { write(a[1], &c, 1); if (read(b[0], &c, 1) != 1) return 1; }
    wait(0);
    return 0;
}
