/* libFuzzer target: ws_url_parse on arbitrary text (URLs come from the configuration and the
 * command line). It must never crash or read out of bounds, and its contract must hold: on
 * WS_OK the host is non-empty and NUL-terminated, the port is in 1..65535, the path starts
 * with '/' and holds no space or control byte, and a plain (non-TLS) URL names a loopback
 * host; WS_ERR_INSECURE only for plain URLs; any error leaves a message. Seeds: the documented
 * venue URLs (exchanges.md) and loopback/insecure variants. */
#include "kestrel/ws.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    ws_url u;
    char err[256];
    enum ws_result r = ws_url_parse(s, &u, err, sizeof err);
    if (r == WS_OK) {
        if (!u.host[0] || memchr(u.host, '\0', sizeof u.host) == NULL)
            abort();
        if (u.port < 1 || u.port > 65535 || u.path[0] != '/')
            abort();
        for (const char *p = u.path; *p; p++)
            if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
                abort();
        if (!u.tls && !ws_host_is_loopback(u.host))
            abort();
    } else {
        if (r != WS_ERR_URL && r != WS_ERR_INSECURE)
            abort();
        if (!err[0] || memchr(err, '\0', sizeof err) == NULL)
            abort();
    }
    free(s);
    return 0;
}
