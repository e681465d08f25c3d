/* pthread_create + pthread_join, N times. */
#include <pthread.h>
#include <stdlib.h>
static void *nothing(void *p) { return p; }
int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 100;
    for (int i = 0; i < n; i++) {
        pthread_t t;
        if (pthread_create(&t, 0, nothing, 0)) return 1;
        pthread_join(t, 0);
    }
    return 0;
}
