/* Placeholder entry point; replaced by the integration of the core issue. */
#include "kestrel/ctl.h"
#include "kestrel/ta_cli.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "ctl") == 0)
        return ctl_client_main(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "ta") == 0) /* kestrel ta ... (indicators CLI) */
        return ta_cli_main(argc - 1, argv + 1);
    puts("kestrel " KESTREL_VERSION);
    return 0;
}
