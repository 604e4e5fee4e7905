/* Whole-process replay against a whole-process reference, side by side in one run: the real
 * binary (`kestrel --headless --exit-at-end --speed 0`) replaying all six shared captures (spot
 * BTC/ETH 08+09, USD-M BTC/ETH 08: the files of tests/integration/replay_facts.sh), and this same
 * program run as `--reference FILE...`: gunzip (zlib gzread) + cJSON_Parse of every line's JSON,
 * nothing else. Both are timed as processes (fork, exec, wait: start-up, reading, exit),
 * alternately, best of ROUNDS each; the ratio is reference / kestrel (goal >= 2: inflating in the
 * replay's reader threads, beside decoding, is what gets there). CPU time and peak RSS of the
 * kestrel run are reported too (memory stays bounded). Prints one JSON line.
 * Usage: bench_replay_whole [--reference FILE...]   (run from the repository root) */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#define ROUNDS 3
#define NFILES 6

static const char *const bench_files[NFILES] = {
    "binance/streams/spot/btcusdt_20240808.gz", "binance/streams/spot/btcusdt_20240809.gz",
    "binance/streams/spot/ethusdt_20240808.gz", "binance/streams/spot/ethusdt_20240809.gz",
    "binance/streams/usdm/btcusdt_20240808.gz", "binance/streams/usdm/ethusdt_20240808.gz",
};

/* The reference: every line's JSON (after "<ns> ") through cJSON_Parse, then freed. */
static int bench_reference(int n, char **files)
{
    size_t cap = (4u << 20) + 2;
    char *line = malloc(cap);
    unsigned long long lines = 0, parsed = 0;
    for (int i = 0; i < n && line; i++) {
        gzFile g = gzopen(files[i], "rb");
        if (!g) {
            fprintf(stderr, "reference: cannot open %s\n", files[i]);
            free(line);
            return 1;
        }
        gzbuffer(g, 128u << 10);
        while (gzgets(g, line, (int)cap)) {
            char *sp = strchr(line, ' ');
            if (!sp)
                continue;
            lines++;
            cJSON *j = cJSON_Parse(sp + 1);
            if (j) {
                parsed++;
                cJSON_Delete(j);
            }
        }
        gzclose(g);
    }
    free(line);
    printf("%llu %llu\n", lines, parsed);
    return parsed == lines && lines > 0 ? 0 : 1;
}

static double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs argv with stdout to /dev/null: wall seconds, child CPU seconds and peak RSS (MB), or a
 * negative wall time when it failed. */
static double bench_run(char *const argv[], double *cpu, double *rss_mb)
{
    double t0 = bench_now();
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stdout))
            _exit(127);
        execv(argv[0], argv);
        _exit(127);
    }
    if (pid < 0)
        return -1;
    int status = 0;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) != pid)
        return -1;
    double wall = bench_now() - t0;
    *cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    *rss_mb = (double)ru.ru_maxrss / 1024.0;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? wall : -1;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--reference") == 0)
        return bench_reference(argc - 2, argv + 2);

    const char *shared = getenv("KESTREL_SHARED_DATA");
    if (!shared || !*shared)
        shared = "../shared/data";
    char paths[NFILES][1024], list[NFILES * 1024 + NFILES];
    list[0] = '\0';
    for (int i = 0; i < NFILES; i++) {
        snprintf(paths[i], sizeof paths[i], "%s/%s", shared, bench_files[i]);
        if (access(paths[i], R_OK) != 0) {
            printf("{\"bench\":\"replay_whole\",\"skipped\":\"%s not found\"}\n", paths[i]);
            return 0;
        }
        strcat(list, i ? "," : "");
        strcat(list, paths[i]);
    }
    /* the kestrel binary beside this one: BUILD/bench/bench_replay_whole -> BUILD/kestrel */
    char self[1024], kbin[1100];
    snprintf(self, sizeof self, "%s", argv[0]);
    char *slash = strrchr(self, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(self, sizeof self, ".");
    snprintf(kbin, sizeof kbin, "%s/../kestrel", self);
    char tmp[] = "/tmp/kestrel-bench-whole.XXXXXX";
    if (!mkdtemp(tmp)) {
        perror("mkdtemp");
        return 1;
    }
    char db[128], sock[128], logf[128], cmd[256];
    snprintf(db, sizeof db, "%s/w.db", tmp);
    snprintf(sock, sizeof sock, "%s/w.sock", tmp);
    snprintf(logf, sizeof logf, "%s/w.log", tmp);
    char *kargv[] = {kbin, "--headless", "--exit-at-end", "--speed", "0", "--replay", list,
                     "--db", db, "--socket", sock, "--log", logf, NULL};
    char *rargv[NFILES + 3];
    rargv[0] = argv[0];
    rargv[1] = "--reference";
    for (int i = 0; i < NFILES; i++)
        rargv[2 + i] = paths[i];
    rargv[2 + NFILES] = NULL;

    double kbest = 1e9, rbest = 1e9, kcpu = 0, krss = 0, rcpu = 0, cpu, rss;
    int bad = 0;
    for (int r = 0; r < ROUNDS; r++) {
        unlink(db); /* each run starts from an empty database, as the first run of a user */
        double k = bench_run(kargv, &cpu, &rss);
        if (k < 0)
            bad++;
        else if (k < kbest) {
            kbest = k;
            kcpu = cpu;
            krss = rss;
        }
        double ref = bench_run(rargv, &cpu, &rss);
        if (ref < 0)
            bad++;
        else if (ref < rbest) {
            rbest = ref;
            rcpu = cpu;
        }
    }
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmp);
    if (bad) {
        printf("{\"bench\":\"replay_whole\",\"failed_runs\":%d}\n", bad);
        return 1;
    }
    printf("{\"bench\":\"replay_whole\",\"files\":%d,\"rounds\":%d,\"kestrel_s\":%.3f,"
           "\"reference_s\":%.3f,\"ratio\":%.2f,\"kestrel_cpu_s\":%.3f,\"reference_cpu_s\":%.3f,"
           "\"kestrel_peak_rss_mb\":%.1f}\n",
           NFILES, ROUNDS, kbest, rbest, rbest / kbest, kcpu, rcpu, krss);
    return 0;
}
