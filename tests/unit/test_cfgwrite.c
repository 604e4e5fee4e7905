/* cfgwrite: settings written back into a config file in place. Only the changed values' bytes
 * move; comments, blank lines and every unrelated line survive byte for byte (checked line by
 * line), and the result loads through the real config loader with the new values. Runs on the
 * shipped config/kestrel.cfg and on files in the layouts users write (one-line groups, nested
 * groups, `:` and `,`, strings, comments after values). */
#include "check.h"

#include "kestrel/cfgwrite.h"
#include "kestrel/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)len + 1);
    *n = fread(b, 1, (size_t)len, f);
    b[*n] = 0;
    fclose(f);
    return b;
}

/* Every line of a that is not in `skip` (a line containing one of the changed settings)
 * appears in b in the same order, byte for byte; returns the lines of a kept. */
static int lines_kept(const char *a, const char *b, const char *const *skip, int nskip)
{
    int kept = 0;
    const char *pb = b;
    for (const char *p = a; *p;) {
        const char *e = strchr(p, '\n');
        size_t l = e ? (size_t)(e - p + 1) : strlen(p);
        char line[1024];
        snprintf(line, sizeof line, "%.*s", (int)l, p);
        bool changed = false;
        for (int i = 0; i < nskip; i++)
            changed = changed || strstr(line, skip[i]) != NULL;
        if (!changed) {
            const char *f = strstr(pb, line);
            while (f && f != b && f[-1] != '\n') /* only a whole line counts */
                f = strstr(f + 1, line);
            if (!f)
                return -1;
            pb = f + l;
            kept++;
        }
        p += l;
    }
    return kept;
}

static const char *trade_value(const kconfig *c, const char *key)
{
    for (int i = 0; i < c->trade_count; i++)
        if (!strcmp(c->trade[i].key, key))
            return c->trade[i].value;
    return NULL;
}

static kconfig cfg;

static int load_text(const char *text, size_t n, char *err, size_t errlen)
{
    char path[] = "/tmp/kestrel-cfgwrite-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return -1;
    if (write(fd, text, n) != (ssize_t)n) {
        close(fd);
        return -1;
    }
    close(fd);
    config_defaults(&cfg);
    int rc = config_load_file(&cfg, path, NULL, NULL, err, errlen);
    unlink(path);
    return rc;
}

static void test_shipped(void)
{
    size_t n;
    char *orig = slurp("config/kestrel.cfg", &n);
    CHECK(orig != NULL);
    if (!orig)
        return;
    cfgwrite_kv kv[] = {
        {"paper.latency_ms", "75", false},
        {"risk.tp_pct", "2.5", false},
        {"risk.max_positions", "7", false},
        {"risk.size_mode", "fixed_quote", true},
        {"fees.binance-spot.taker", "0.075", false},
    };
    char *out, err[256] = "";
    size_t outlen;
    int changed = 0;
    enum cfgwrite_result r = cfgwrite_text(orig, n, kv, 5, &out, &outlen, &changed, err,
                                           sizeof err);
    CHECK_INT(r, CFGW_OK);
    if (r != CFGW_OK) {
        fprintf(stderr, "%s\n", err);
        free(orig);
        return;
    }
    CHECK_INT(changed, 5);
    /* the only line that changed in place is latency_ms's; every other one is kept */
    const char *skip[] = {"latency_ms = 50;"};
    int total = 0;
    for (const char *p = orig; *p; p++)
        total += *p == '\n';
    CHECK_INT(lines_kept(orig, out, skip, 1), total - 1);
    CHECK(strstr(out, "    latency_ms = 75;\n") != NULL);
    /* the commented-out risk block stays commented; the new values come in a group at the end */
    CHECK(strstr(out, "#     max_positions = 5;          # concurrent open positions") != NULL);
    CHECK_INT(load_text(out, outlen, err, sizeof err), K_OK);
    CHECK_INT(cfg.paper_latency_ms, 75);
    CHECK_STR(trade_value(&cfg, "risk.tp_pct"), "2.5");
    CHECK_STR(trade_value(&cfg, "risk.max_positions"), "7");
    CHECK_STR(trade_value(&cfg, "risk.size_mode"), "fixed_quote");
    CHECK_STR(trade_value(&cfg, "fees.binance-spot.taker"), "0.075");
    /* the same values again: nothing changes, byte for byte */
    char *again;
    size_t alen;
    r = cfgwrite_text(out, outlen, kv, 5, &again, &alen, &changed, err, sizeof err);
    CHECK_INT(r, CFGW_OK);
    CHECK_INT(changed, 0);
    CHECK(r == CFGW_OK && alen == outlen && !memcmp(again, out, outlen));
    if (r == CFGW_OK)
        free(again);
    free(out);
    free(orig);
}

static const char user_file[] =
    "# my settings\n"
    "paper: { balances: { USDT = \"5000\"; }; slippage_cap_pct = 0.5; };\n"
    "/* fees I pay */\n"
    "fees:\n"
    "{\n"
    "  binance-spot: { maker = 0.05; taker = \"0.075\"; };   // VIP 1\n"
    "  binance-usdm = {\n"
    "    maker = 0.02, # maker\n"
    "    taker = 0.05\n"
    "  };\n"
    "};\n"
    "risk: { size_mode = \"fixed_quote\"; max_positions = 3; max_asset_pct = 20; };\n"
    "replay: { files = [\"a.gz\", \"b.gz\"]; };  # risk.tp_pct = 9 is a comment here\n";

static void test_user_layouts(void)
{
    cfgwrite_kv kv[] = {
        {"fees.binance-spot.taker", "0.1", false},   /* a string stays a string */
        {"fees.binance-usdm.taker", "0.04", false},  /* no ';' after it */
        {"fees.binance-usdm.maker", "0.018", false}, /* ',' and a comment after it */
        {"risk.max_positions", "9", false},
        {"risk.tp_pct", "1.75", false},              /* into the one-line group */
        {"fees.okx.maker", "0.06", false},           /* a new group inside fees */
    };
    char *out, err[256] = "";
    size_t outlen;
    int changed = 0;
    size_t n = strlen(user_file);
    enum cfgwrite_result r =
        cfgwrite_text(user_file, n, kv, 6, &out, &outlen, &changed, err, sizeof err);
    CHECK_INT(r, CFGW_OK);
    if (r != CFGW_OK) {
        fprintf(stderr, "%s\n", err);
        return;
    }
    CHECK_INT(changed, 6);
    CHECK(strstr(out, "  binance-spot: { maker = 0.05; taker = \"0.1\"; };   // VIP 1\n") != NULL);
    CHECK(strstr(out, "    maker = 0.018, # maker\n    taker = 0.04\n") != NULL);
    CHECK(strstr(out, "risk: { size_mode = \"fixed_quote\"; max_positions = 9; max_asset_pct = 20;"
                      " tp_pct = 1.75; };\n") != NULL);
    CHECK(strstr(out, "  okx = { maker = 0.06; };\n};\n") != NULL);
    /* the comment that names a key is not a setting: untouched */
    CHECK(strstr(out, "# risk.tp_pct = 9 is a comment here\n") != NULL);
    const char *skip[] = {"binance-spot:", "maker = 0.02", "taker = 0.05", "risk:"};
    CHECK(lines_kept(user_file, out, skip, 4) == 9);
    CHECK_INT(load_text(out, outlen, err, sizeof err), K_OK);
    CHECK_STR(trade_value(&cfg, "fees.binance-spot.taker"), "0.1");
    CHECK_STR(trade_value(&cfg, "fees.binance-usdm.taker"), "0.04");
    CHECK_STR(trade_value(&cfg, "fees.binance-usdm.maker"), "0.018");
    CHECK_STR(trade_value(&cfg, "fees.okx.maker"), "0.06");
    CHECK_STR(trade_value(&cfg, "risk.max_positions"), "9");
    CHECK_STR(trade_value(&cfg, "risk.tp_pct"), "1.75");
    CHECK_STR(trade_value(&cfg, "paper.balances.USDT"), "5000");
    free(out);

    /* a group where a value is wanted, a bad key, a file that does not parse */
    cfgwrite_kv g = {"fees.binance-spot", "1", false};
    r = cfgwrite_text(user_file, n, &g, 1, &out, &outlen, &changed, err, sizeof err);
    CHECK_INT(r, CFGW_ERR_KEY);
    CHECK(strstr(err, "fees.binance-spot is a group") != NULL);
    cfgwrite_kv bad = {"risk..x", "1", false};
    CHECK_INT(cfgwrite_text(user_file, n, &bad, 1, &out, &outlen, &changed, err, sizeof err),
              CFGW_ERR_KEY);
    const char broken[] = "risk: { max_positions = 3;\n";
    CHECK_INT(cfgwrite_text(broken, strlen(broken), kv + 3, 1, &out, &outlen, &changed, err,
                            sizeof err),
              CFGW_ERR_PARSE);
}

static void test_file(void)
{
    char path[] = "/tmp/kestrel-cfgwrite-file-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    CHECK(write(fd, user_file, strlen(user_file)) == (ssize_t)strlen(user_file));
    fchmod(fd, 0640);
    close(fd);
    cfgwrite_kv kv = {"risk.max_positions", "4", false};
    int changed = 0;
    char err[256] = "";
    CHECK_INT(cfgwrite_file(path, &kv, 1, &changed, err, sizeof err), CFGW_OK);
    CHECK_INT(changed, 1);
    size_t n;
    char *b = slurp(path, &n);
    CHECK(b && strstr(b, "max_positions = 4;") && n == strlen(user_file));
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0640);
    free(b);
    CHECK_INT(cfgwrite_file("/nonexistent/kestrel.cfg", &kv, 1, &changed, err, sizeof err),
              CFGW_ERR_READ);
    unlink(path);
}

/* Where settings may be written: the loaded file, never none and never the shipped default
 * (./config/kestrel.cfg of the working directory, by whatever name reaches it). Runs in a
 * directory of its own laid out as a checkout. */
static void test_target(void)
{
    char dir[] = "/tmp/kestrel-cfgw-target.XXXXXX", here[4096], p[4200], q[4200];
    char err[512] = "";
    CHECK(mkdtemp(dir) != NULL && getcwd(here, sizeof here) != NULL);
    snprintf(p, sizeof p, "%s/config", dir);
    CHECK(mkdir(p, 0700) == 0);
    snprintf(p, sizeof p, "%s/config/kestrel.cfg", dir);
    FILE *f = fopen(p, "w");
    CHECK(f != NULL);
    if (f) {
        fputs("risk: { max_positions = 3; };\n", f);
        fclose(f);
    }
    snprintf(q, sizeof q, "%s/mine.cfg", dir);
    f = fopen(q, "w");
    if (f) {
        fputs("risk: { max_positions = 3; };\n", f);
        fclose(f);
    }
    CHECK(chdir(dir) == 0);
    CHECK_INT(cfgwrite_target("", err, sizeof err), CFGW_ERR_TARGET);
    CHECK(strstr(err, "without a config file") != NULL);
    const char *shipped[] = {"config/kestrel.cfg", "./config/kestrel.cfg",
                             "config/../config/kestrel.cfg", p, "link.cfg"};
    CHECK(symlink("config/kestrel.cfg", "link.cfg") == 0);
    for (size_t i = 0; i < sizeof shipped / sizeof shipped[0]; i++) {
        err[0] = '\0';
        CHECK_INT(cfgwrite_target(shipped[i], err, sizeof err), CFGW_ERR_TARGET);
        CHECK(strstr(err, shipped[i]) != NULL);
        CHECK(strstr(err, "the repository's shipped default config: not written") != NULL);
    }
    CHECK_INT(cfgwrite_target("mine.cfg", err, sizeof err), CFGW_OK);
    CHECK_INT(cfgwrite_target(q, err, sizeof err), CFGW_OK);
    /* a file that is not there is the writer's to report (CFGW_ERR_READ), not a refusal */
    CHECK_INT(cfgwrite_target("nonexistent.cfg", err, sizeof err), CFGW_OK);
    unlink("link.cfg");
    unlink("mine.cfg");
    unlink("config/kestrel.cfg");
    rmdir("config");
    CHECK(chdir(here) == 0);
    rmdir(dir);
}

int main(void)
{
    test_shipped();
    test_user_layouts();
    test_file();
    test_target();
    CHECK_DONE();
}
