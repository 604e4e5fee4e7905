/* Placeholder entry point; replaced by the integration of the core issue. */
#include <stdio.h>
#include <string.h>

#include "kestrel/ta_cli.h"

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "ta") == 0) /* kestrel ta ... (indicators CLI) */
        return ta_cli_main(argc - 1, argv + 1);
    puts("kestrel " KESTREL_VERSION);
    return 0;
}
