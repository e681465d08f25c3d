/* The static hello-world whose start-up `cargo bench --bench compare` and
 * `cargo bench --bench startup` time: spawn to exit. */
#include <stdio.h>

int main(void)
{
    puts("hello, world");
    return 0;
}
