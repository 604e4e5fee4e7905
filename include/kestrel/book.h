/* One order book: levels as exact integers, and the exchange's sync state machine
 * (Binance spot U/u rules, Binance USD-M pu chain, OKX seqId/prevSeqId chain). The book never
 * presents itself as valid unless it is LIVE. Bounded: max levels per side, max buffered diffs. */
#ifndef KESTREL_BOOK_H
#define KESTREL_BOOK_H
#include "kestrel/feed.h"

/* BOOK_RULES_OKX: diffs carry first_id = last_id = seqId, prev_id = prevSeqId (has_prev); see
 * book.c for the rules (exchanges.md §8.6). */
enum book_rules { BOOK_RULES_BINANCE_SPOT, BOOK_RULES_BINANCE_USDM, BOOK_RULES_OKX };

enum book_state {
    BOOK_EMPTY = 0,   /* nothing received yet */
    BOOK_SYNCING,     /* buffering diffs, waiting for the first snapshot */
    BOOK_LIVE,        /* synced; levels are valid */
    BOOK_RESYNCING,   /* a gap was seen: levels invalid, buffering, waiting for a new snapshot */
};
const char *book_state_name(enum book_state s); /* "empty" "syncing" "live" "resyncing" */

enum book_side { BOOK_BID = 0, BOOK_ASK = 1 };

/* What a diff or snapshot did. */
enum book_result {
    BOOK_APPLIED,        /* diff applied to a live book */
    BOOK_BUFFERED,       /* diff kept until a snapshot arrives */
    BOOK_STALE,          /* diff older than the book, ignored */
    BOOK_GAP,            /* sequence gap: book went to RESYNCING (caller: count, log, resync) */
    BOOK_SYNCED,         /* snapshot accepted (buffered diffs replayed), book is LIVE */
    BOOK_SNAPSHOT_OLD,   /* snapshot older than the buffered diffs: still waiting (re-snapshot) */
    BOOK_REJECTED,       /* malformed input (e.g. U > u, negative qty): ignored, counted */
};

typedef struct book_stats {
    uint64_t diffs_applied;  /* diffs applied to a live book (incl. buffered ones replayed) */
    uint64_t diffs_stale;
    uint64_t diffs_buffered_dropped; /* buffer overflow or dropped as older than the snapshot */
    uint64_t gaps;           /* sequence gaps detected */
    uint64_t resyncs;        /* times the book went LIVE again after a gap */
    uint64_t crossed;        /* times the book became crossed (best bid >= best ask) */
    uint64_t snapshots;
    uint64_t rejected;
} book_stats;

typedef struct book book;

/* max_levels: cap per side (worst levels dropped beyond it);
 * max_buffered: cap on diffs buffered while syncing (oldest dropped beyond it). */
book *book_new(enum book_rules rules, uint32_t max_levels, uint32_t max_buffered);
void book_free(book *b);

enum book_result book_on_diff(book *b, const feed_event *diff);
enum book_result book_on_snapshot(book *b, const feed_event *snap);
/* Drops all levels and buffered diffs, state RESYNCING (e.g. on a reconnect). */
void book_invalidate(book *b);

enum book_state book_state(const book *b);
bool book_is_live(const book *b);
bool book_is_crossed(const book *b);
int64_t book_last_id(const book *b);
const book_stats *book_get_stats(const book *b);
/* Diffs currently held in the sync buffer (0 when LIVE). */
uint32_t book_buffered(const book *b);

uint32_t book_depth(const book *b, enum book_side side);
/* i = 0 is the best level. K_OK, or K_ERR when i >= depth. */
int book_level(const book *b, enum book_side side, uint32_t i, kdec *px, kdec *qty);
/* Best bid/ask; false when either side is empty. Valid only when book_is_live(). */
bool book_best(const book *b, kdec *bid, kdec *bid_qty, kdec *ask, kdec *ask_qty);
/* Sum of quantities of the top n levels of a side. */
kdec book_depth_qty(const book *b, enum book_side side, uint32_t n);

#endif
