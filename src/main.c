/* Placeholder entry point; replaced by the integration of the core issue. */
#include <stdio.h>
int main(void)
{
    puts("kestrel " KESTREL_VERSION);
    return 0;
}
