/* Feed health policy (failover.h): the stall threshold of a stream from its cadence, and each
 * watched symbol's primary/backup choice with hysteresis. It owns only the pairs' state; the
 * live module owns the connections and books and decides what healthy means (open, not
 * stalled, book live) before it calls failover_update on its health tick. Kept apart from
 * live.c so the rules are unit-tested on their own (tests/unit/test_failover.c). */
#include "kestrel/failover.h"

#include "kestrel/xmalloc.h"

#include <stdlib.h>

struct failover {
    failover_opts o;
    failover_pair pairs[FAILOVER_MAX];
    uint32_t n;
};

int64_t failover_stall_ms(double factor, int64_t cadence_ms, double gap_ms, int64_t ceiling_ms)
{
    if (cadence_ms < 1)
        cadence_ms = 1;
    double c = gap_ms > (double)cadence_ms ? gap_ms : (double)cadence_ms;
    double t = factor * c;
    if (ceiling_ms > 0 && t > (double)ceiling_ms)
        t = (double)ceiling_ms;
    if (t < 2.0 * (double)cadence_ms)
        t = 2.0 * (double)cadence_ms;
    return (int64_t)t;
}

failover *failover_new(const failover_opts *o)
{
    failover *f = xcalloc(1, sizeof *f);
    f->o = *o;
    return f;
}

void failover_free(failover *f)
{
    free(f);
}

int failover_add(failover *f)
{
    if (f->n >= FAILOVER_MAX)
        return -1;
    failover_pair *p = &f->pairs[f->n];
    *p = (failover_pair){.primary_ok = true, .backup_ok = true};
    return (int)f->n++;
}

uint32_t failover_count(const failover *f)
{
    return f ? f->n : 0;
}

const failover_pair *failover_get(const failover *f, uint32_t i)
{
    return f && i < f->n ? &f->pairs[i] : NULL;
}

enum failover_event failover_update(failover *f, uint32_t i, int64_t now_ms, bool primary_ok,
                                    bool backup_ok)
{
    if (!f || i >= f->n)
        return FAILOVER_EV_NONE;
    failover_pair *p = &f->pairs[i];
    p->primary_ok = primary_ok;
    p->backup_ok = backup_ok;
    if (primary_ok)
        p->bad_since_ms = 0;
    else if (!p->bad_since_ms)
        p->bad_since_ms = now_ms;
    if (!p->on_backup) {
        p->good_since_ms = 0;
        if (!primary_ok && backup_ok && now_ms - p->bad_since_ms >= f->o.after_ms) {
            p->on_backup = true;
            p->switched_ms = now_ms;
            p->failovers++;
            return FAILOVER_EV_TO_BACKUP;
        }
        return FAILOVER_EV_NONE;
    }
    if (!primary_ok) {
        p->good_since_ms = 0;
        return FAILOVER_EV_NONE;
    }
    if (!p->good_since_ms)
        p->good_since_ms = now_ms;
    if (!backup_ok || now_ms - p->good_since_ms >= f->o.back_after_ms) {
        p->on_backup = false;
        p->good_since_ms = 0;
        p->switched_ms = now_ms;
        p->failbacks++;
        return FAILOVER_EV_TO_PRIMARY;
    }
    return FAILOVER_EV_NONE;
}
