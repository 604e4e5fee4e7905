/* libFuzzer target for the configuration loader: any bytes as a config file (through a memfd, so
 * nothing touches the disk) must either load into a valid struct or fail with a "file:line: ..."
 * message; never crash. libconfig itself leaks a string on some syntax errors (see
 * tests/fuzz/lsan.supp); our code must not leak. */
#include "kestrel/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void fuzz_warn(void *ud, const char *msg)
{
    (void)ud;
    if (!msg || !msg[0])
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 16)
        return 0;
    int fd = memfd_create("kestrel-fuzz-cfg", 0);
    if (fd < 0)
        return 0;
    if (write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return 0;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    kconfig cfg;
    config_defaults(&cfg);
    char err[1024] = "";
    int rc = config_load_file(&cfg, path, fuzz_warn, NULL, err, sizeof err);
    if (rc != K_OK && !err[0])
        abort(); /* a refusal must say why */
    if (rc == K_OK) {
        if (cfg.ui_fps < 1 || cfg.ui_fps > 60 || (unsigned)cfg.ui_timeframe >= TF_COUNT ||
            cfg.replay_count < 0 || cfg.replay_count > CONFIG_MAX_REPLAY ||
            (cfg.replay_speed != 0 && (cfg.replay_speed < 0.01 || cfg.replay_speed > 1000)))
            abort(); /* validation let an out-of-range value through */
    }
    close(fd);
    return 0;
}
