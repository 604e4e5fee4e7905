/* Feed health policy for live data: when a stream counts as stalled (a multiple of its expected
 * cadence), and the primary/backup failover of a watched symbol with hysteresis. Pure: no I/O,
 * no clock of its own (every call is given now), no allocation after failover_new. The live
 * module (live.c) feeds it each connection's and book's state on its health tick and acts on
 * the events (panes, banner, alerts, the entry gate). docs/LIVE.md "Health and failover". */
#ifndef KESTREL_FAILOVER_H
#define KESTREL_FAILOVER_H
#include "kestrel/common.h"

#define FAILOVER_MAX 64

/* Silence after which a stream is stalled: factor x its cadence, where the cadence is the
 * documented push interval (cadence_ms, e.g. 100 ms for depth@100ms) or, when the stream is
 * observed to be slower (gap_ms: a moving average of the gaps between its messages), that;
 * never above ceiling_ms (the venue's guaranteed keepalive, e.g. OKX's 60 s book heartbeat x
 * 1.5), never below 2 x cadence_ms. */
int64_t failover_stall_ms(double factor, int64_t cadence_ms, double gap_ms, int64_t ceiling_ms);

typedef struct failover_opts {
    int64_t after_ms;      /* the primary unhealthy this long (and the backup healthy) -> backup */
    int64_t back_after_ms; /* on the backup, the primary healthy this long -> primary */
} failover_opts;

enum failover_event {
    FAILOVER_EV_NONE = 0,
    FAILOVER_EV_TO_BACKUP,  /* the panes show the backup from now on */
    FAILOVER_EV_TO_PRIMARY, /* back to the primary */
};

typedef struct failover_pair {
    bool on_backup;        /* the backup is what is shown */
    bool primary_ok, backup_ok; /* as last updated */
    int64_t bad_since_ms;  /* primary unhealthy since (0: healthy) */
    int64_t good_since_ms; /* on the backup: primary healthy since (0: not) */
    int64_t switched_ms;   /* the last switch (0: never) */
    uint64_t failovers, failbacks;
} failover_pair;

typedef struct failover failover;

failover *failover_new(const failover_opts *o);
void failover_free(failover *f); /* NULL is fine */
/* A new pair (both healthy, on the primary): its index, or -1 when FAILOVER_MAX are in use. */
int failover_add(failover *f);
uint32_t failover_count(const failover *f);
const failover_pair *failover_get(const failover *f, uint32_t i); /* NULL out of range */
/* The pair's health now. Rules: on the primary, switch when it has been unhealthy for
 * after_ms and the backup is healthy; on the backup, switch back when the primary has been
 * healthy for back_after_ms (hysteresis), or at once when the backup turns unhealthy while the
 * primary is healthy. Both unhealthy: stay where it is. */
enum failover_event failover_update(failover *f, uint32_t i, int64_t now_ms, bool primary_ok,
                                    bool backup_ok);

#endif
