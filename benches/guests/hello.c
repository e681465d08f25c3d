/* The start-up benchmark's program: a static printf hello-world. */
#include <stdio.h>
int main(void) {
    printf("hello, world\n");
    return 0;
}
