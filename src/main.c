/* Placeholder entry point; replaced by the integration of the core issue. */
#include "kestrel/ctl.h"

#include <stdio.h>
#include <string.h>
int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "ctl") == 0)
        return ctl_client_main(argc - 1, argv + 1);
    puts("kestrel " KESTREL_VERSION);
    return 0;
}
