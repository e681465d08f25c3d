/* The static hello-world whose start-up `cargo bench --bench compare`
 * times: spawn to exit of `RUNNER hello`. */
#include <stdio.h>

int main(void)
{
    puts("hello, world");
    return 0;
}
