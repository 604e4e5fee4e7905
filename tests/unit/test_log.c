/* Logging: line format (UTC ISO-8601 with ms), level filter, counts, file mode 0600, append,
 * escaping, the 4 KiB line cap, write errors (disk full, closed pipe) and concurrent writers. */
#include "check.h"
#include "kestrel/log.h"

#include <ctype.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char tmpdir[256];

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    size_t r;
    while ((r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
        }
    }
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* "YYYY-MM-DDTHH:MM:SS.mmmZ LEVEL " then the message; returns the message start or NULL. */
static const char *check_prefix(const char *line, const char *label, time_t *when)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *p = strptime(line, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!p || p[0] != '.' || !isdigit((unsigned char)p[1]) || !isdigit((unsigned char)p[2]) ||
        !isdigit((unsigned char)p[3]) || p[4] != 'Z' || p[5] != ' ')
        return NULL;
    if (when)
        *when = timegm(&tm);
    p += 6;
    size_t ll = strlen(label);
    if (strncmp(p, label, ll) != 0)
        return NULL;
    return p + ll;
}

static void test_file_format_levels_counts(void)
{
    char path[512], err[256] = "";
    snprintf(path, sizeof path, "%s/k.log", tmpdir);
    mode_t old = umask(0); /* prove the 0600 comes from us, not the umask */
    klog *lg = log_open(path, true, LOG_INFO, err, sizeof err);
    umask(old);
    CHECK(lg != NULL);
    if (!lg)
        return;
    struct stat st;
    CHECK_INT(stat(path, &st), 0);
    CHECK_INT(st.st_mode & 0777, 0600);

    time_t before = time(NULL);
    log_error(lg, "disk %s at %d%%", "full", 99);
    log_warn(lg, "slow");
    log_info(lg, "hello %s", "world");
    log_debug(lg, "not written");
    log_debug(lg, "not written either");
    time_t after = time(NULL);
    CHECK_INT(log_count(lg, LOG_ERROR), 1);
    CHECK_INT(log_count(lg, LOG_WARN), 1);
    CHECK_INT(log_count(lg, LOG_INFO), 1);
    CHECK_INT(log_count(lg, LOG_DEBUG), 2); /* counted even though filtered */
    CHECK_INT(log_count(lg, (enum log_level)9), 0);
    CHECK_INT(log_dropped(lg), 0);
    log_close(lg);

    size_t len;
    char *text = slurp(path, &len);
    CHECK(text != NULL);
    if (!text)
        return;
    CHECK_INT(count_lines(text), 3);
    char *save = NULL;
    char *l1 = strtok_r(text, "\n", &save);
    char *l2 = strtok_r(NULL, "\n", &save);
    char *l3 = strtok_r(NULL, "\n", &save);
    time_t when = 0;
    const char *m = l1 ? check_prefix(l1, "ERROR ", &when) : NULL;
    CHECK(m != NULL);
    CHECK_STR(m, "disk full at 99%");
    CHECK(when >= before - 1 && when <= after + 1); /* UTC: timegm of the stamp is now */
    m = l2 ? check_prefix(l2, "WARN  ", NULL) : NULL;
    CHECK_STR(m, "slow");
    m = l3 ? check_prefix(l3, "INFO  ", NULL) : NULL;
    CHECK_STR(m, "hello world");
    free(text);

    /* reopening appends; level debug writes everything */
    lg = log_open(path, false, LOG_DEBUG, err, sizeof err);
    CHECK(lg != NULL);
    log_debug(lg, "now written");
    log_close(lg);
    text = slurp(path, &len);
    CHECK_INT(count_lines(text), 4);
    CHECK(strstr(text, "Z DEBUG now written\n") != NULL);
    CHECK(strncmp(text + len - 12, "now written\n", 12) == 0);
    free(text);

    /* level error: only errors */
    snprintf(path, sizeof path, "%s/e.log", tmpdir);
    lg = log_open(path, false, LOG_ERROR, err, sizeof err);
    log_warn(lg, "w");
    log_info(lg, "i");
    log_error(lg, "e");
    CHECK_INT(log_count(lg, LOG_WARN), 1);
    log_close(lg);
    text = slurp(path, &len);
    CHECK_INT(count_lines(text), 1);
    CHECK(strstr(text, " ERROR e\n") != NULL);
    free(text);
}

static void test_disabled_and_null(void)
{
    char err[256];
    klog *lg = log_open(NULL, false, LOG_DEBUG, err, sizeof err);
    CHECK(lg != NULL);
    log_error(lg, "nowhere");
    log_info(lg, "nowhere");
    CHECK_INT(log_count(lg, LOG_ERROR), 1);
    CHECK_INT(log_count(lg, LOG_INFO), 1);
    CHECK_INT(log_dropped(lg), 0);
    log_close(lg);
    lg = log_open("", false, LOG_DEBUG, err, sizeof err);
    CHECK(lg != NULL);
    log_close(lg);

    log_error(NULL, "ignored");
    CHECK_INT(log_count(NULL, LOG_ERROR), 0);
    CHECK_INT(log_dropped(NULL), 0);
    log_close(NULL);

    char path[512], want[600];
    snprintf(path, sizeof path, "%s/no/such/dir/k.log", tmpdir);
    lg = log_open(path, false, LOG_INFO, err, sizeof err);
    CHECK(lg == NULL);
    snprintf(want, sizeof want, "%s: cannot open log file: No such file or directory", path);
    CHECK_STR(err, want);
}

static void test_escape_and_cap(void)
{
    char path[512], err[256];
    snprintf(path, sizeof path, "%s/x.log", tmpdir);
    klog *lg = log_open(path, false, LOG_INFO, err, sizeof err);
    CHECK(lg != NULL);
    log_info(lg, "a\nb\r\tc\x1b[31md\x7f" "e caf\xc3\xa9");

    char big[10001];
    memset(big, 'x', 10000);
    big[10000] = '\0';
    log_info(lg, "%s", big);

    /* 4095 ASCII bytes then a 2-byte character: the cut must not split it */
    char edge[4100];
    memset(edge, 'y', 4095);
    memcpy(edge + 4095, "\xc3\xa9", 3);
    log_info(lg, "%s", edge);
    /* exactly the cap: not truncated */
    edge[4095] = 'z';
    edge[4096] = '\0';
    log_info(lg, "%s", edge);
    /* escaping grows the line past the cap */
    char ctl[2100];
    memset(ctl, '\x01', 2000);
    ctl[2000] = '\0';
    log_info(lg, "%s", ctl);
    log_close(lg);

    size_t len;
    char *text = slurp(path, &len);
    CHECK_INT(count_lines(text), 5);
    char *save = NULL;
    char *l1 = strtok_r(text, "\n", &save);
    char *l2 = strtok_r(NULL, "\n", &save);
    char *l3 = strtok_r(NULL, "\n", &save);
    char *l4 = strtok_r(NULL, "\n", &save);
    char *l5 = strtok_r(NULL, "\n", &save);
    const char *m = check_prefix(l1, "INFO  ", NULL);
    CHECK_STR(m, "a\\nb\\r\\tc\\x1b[31md\\x7fe caf\xc3\xa9");

    m = check_prefix(l2, "INFO  ", NULL);
    CHECK(m != NULL);
    if (m) {
        CHECK_INT(strspn(m, "x"), LOG_LINE_MAX);
        CHECK_STR(m + LOG_LINE_MAX, " [truncated, 10000 bytes]");
    }
    m = check_prefix(l3, "INFO  ", NULL);
    CHECK(m != NULL);
    if (m) {
        CHECK_INT(strspn(m, "y"), 4095);
        CHECK_STR(m + 4095, " [truncated, 4097 bytes]");
    }
    m = check_prefix(l4, "INFO  ", NULL);
    CHECK(m != NULL);
    if (m) {
        CHECK_INT(strlen(m), 4096);
        CHECK(m[4095] == 'z');
    }
    m = check_prefix(l5, "INFO  ", NULL);
    CHECK(m != NULL);
    if (m) {
        CHECK_INT(strlen(m), LOG_LINE_MAX + strlen(" [truncated, 2000 bytes]"));
        CHECK(strncmp(m, "\\x01\\x01", 8) == 0);
        CHECK_STR(m + LOG_LINE_MAX, " [truncated, 2000 bytes]");
    }
    free(text);
}

static void test_stderr_and_write_errors(void)
{
    char path[512], err[256];
    int saved = dup(STDERR_FILENO);
    CHECK(saved >= 0);

    /* to stderr */
    snprintf(path, sizeof path, "%s/stderr.log", tmpdir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, STDERR_FILENO);
    close(fd);
    klog *lg = log_open(NULL, true, LOG_WARN, err, sizeof err);
    log_warn(lg, "to stderr");
    log_info(lg, "filtered");
    log_close(lg); /* must not close fd 2 */
    CHECK(fcntl(STDERR_FILENO, F_GETFD) != -1);
    dup2(saved, STDERR_FILENO);
    size_t len;
    char *text = slurp(path, &len);
    CHECK_INT(count_lines(text), 1);
    CHECK(strstr(text, "Z WARN  to stderr\n") != NULL);
    free(text);

    /* a full disk: counted as dropped, nothing else happens */
    lg = log_open("/dev/full", false, LOG_INFO, err, sizeof err);
    CHECK(lg != NULL);
    if (lg) {
        log_info(lg, "lost");
        log_error(lg, "lost too");
        CHECK_INT(log_dropped(lg), 2);
        CHECK_INT(log_count(lg, LOG_ERROR), 1);
        log_close(lg);
    }

    /* stderr is a pipe nobody reads: EPIPE, no SIGPIPE death, no SIGPIPE left pending */
    int p[2];
    CHECK_INT(pipe(p), 0);
    close(p[0]);
    dup2(p[1], STDERR_FILENO);
    close(p[1]);
    lg = log_open(NULL, true, LOG_INFO, err, sizeof err);
    log_info(lg, "into a closed pipe");
    log_info(lg, "again");
    uint64_t dropped = log_dropped(lg);
    log_close(lg);
    dup2(saved, STDERR_FILENO);
    close(saved);
    CHECK_INT(dropped, 2);
    sigset_t pend;
    sigpending(&pend);
    CHECK(!sigismember(&pend, SIGPIPE));
}

#define THREAD_LINES 2000

static void *writer(void *arg)
{
    klog *lg = arg;
    for (int i = 0; i < THREAD_LINES; i++)
        log_info(lg, "thread line %d of %d with some padding to make it longer", i,
                 THREAD_LINES);
    return NULL;
}

static void test_threads(void)
{
    char path[512], err[256];
    snprintf(path, sizeof path, "%s/t.log", tmpdir);
    klog *lg = log_open(path, false, LOG_INFO, err, sizeof err);
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&t[i], NULL, writer, lg);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    CHECK_INT(log_count(lg, LOG_INFO), 3 * THREAD_LINES);
    log_close(lg);
    size_t len;
    char *text = slurp(path, &len);
    CHECK_INT(count_lines(text), 3 * THREAD_LINES);
    int good = 0;
    char *save = NULL;
    for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        const char *m = check_prefix(l, "INFO  ", NULL);
        if (m && strncmp(m, "thread line ", 12) == 0 &&
            strstr(m, " with some padding to make it longer") != NULL)
            good++;
    }
    CHECK_INT(good, 3 * THREAD_LINES);
    free(text);
}

/* The tail in memory: the lines as written to the file (same text, no newline), oldest first,
 * bounded to LOG_TAIL_LINES (older ones leave), filtered like the file, kept when the log is
 * disabled, a long line cut at a UTF-8 boundary; the sequence number moves with every line. */
static void test_tail(void)
{
    char path[512], err[256];
    snprintf(path, sizeof path, "%s/tail.log", tmpdir);
    klog *lg = log_open(path, false, LOG_INFO, err, sizeof err);
    CHECK(lg != NULL);
    if (!lg)
        return;
    static char got[LOG_TAIL_LINES + 8][LOG_TAIL_COLS];
    uint64_t seq = 99;
    CHECK_INT(log_tail(lg, got, LOG_TAIL_LINES, &seq), 0);
    CHECK_INT(seq, 0);
    for (int i = 0; i < LOG_TAIL_LINES + 10; i++)
        log_info(lg, "line %d", i);
    log_debug(lg, "filtered out");
    log_warn(lg, "last\nline");
    CHECK_INT(log_tail_seq(lg), LOG_TAIL_LINES + 11);
    uint32_t n = log_tail(lg, got, LOG_TAIL_LINES + 8, &seq);
    CHECK_INT(n, LOG_TAIL_LINES);
    CHECK_INT(seq, LOG_TAIL_LINES + 11);
    /* oldest kept: line 11 (0..10 left the ring); newest: the warning, escaped */
    CHECK(n == LOG_TAIL_LINES && strstr(got[0], "INFO  line 11") && !strstr(got[0], "\n"));
    CHECK(n == LOG_TAIL_LINES && check_prefix(got[n - 1], "WARN  ", NULL) &&
          strcmp(check_prefix(got[n - 1], "WARN  ", NULL), "last\\nline") == 0);
    /* the newest 3 only */
    CHECK_INT(log_tail(lg, got, 3, NULL), 3);
    CHECK(strstr(got[0], "line 72") && strstr(got[1], "line 73") && strstr(got[2], "last"));
    /* the same text as the file's last line */
    log_close(lg);
    size_t len;
    char *text = slurp(path, &len);
    CHECK(text && len > 0);
    if (text) {
        text[len - 1] = '\0';
        const char *lastl = strrchr(text, '\n');
        CHECK(lastl && strcmp(lastl + 1, got[2]) == 0);
        free(text);
    }

    /* disabled: counted and kept all the same; a long UTF-8 line cut on a character */
    lg = log_open(NULL, false, LOG_INFO, err, sizeof err);
    CHECK(lg != NULL);
    if (!lg)
        return;
    char big[600];
    size_t k = 0;
    big[k++] = 'x';
    while (k + 2 < sizeof big) { /* "é" = 2 bytes each, after the "x" */
        big[k++] = (char)0xC3;
        big[k++] = (char)0xA9;
    }
    big[k] = '\0';
    log_error(lg, "%s", big);
    CHECK_INT(log_tail(lg, got, 1, NULL), 1);
    size_t gl = strlen(got[0]);
    CHECK(gl <= LOG_TAIL_COLS - 1 && gl >= LOG_TAIL_COLS - 3);
    CHECK(gl > 0 && (unsigned char)got[0][gl - 1] == 0xA9); /* ends on a whole character */
    log_close(lg);
    CHECK_INT(log_tail(NULL, got, 4, &seq), 0);
    CHECK_INT(seq, 0);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/kestrel-test-log.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 2;
    }
    test_file_format_levels_counts();
    test_disabled_and_null();
    test_escape_and_cap();
    test_stderr_and_write_errors();
    test_threads();
    test_tail();
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    CHECK_DONE();
}
