/* OHLCV candles per timeframe: a bounded ring of closed bars plus the forming bar.
 * Built from trades (or from closed bars of a lower timeframe). Bars with no trades carry the
 * previous close with zero volume. Bars close when a later trade arrives or when the data clock
 * passes their end (candles_advance). */
#ifndef KESTREL_CANDLES_H
#define KESTREL_CANDLES_H
#include "kestrel/common.h"

enum tf { TF_1S = 0, TF_1M, TF_5M, TF_15M, TF_1H, TF_4H, TF_1D, TF_COUNT };

int64_t tf_ms(enum tf tf);
/* "1s" "1m" "5m" "15m" "1h" "4h" "1d": also the store's on-disk candles.tf values, so renaming
 * one is a database format change (a migration), not a display tweak. */
const char *tf_name(enum tf tf);
int tf_parse(const char *name, enum tf *out); /* K_OK / K_ERR */
/* An exchange kline's interval: tf_parse's names (Binance spells them so) and OKX's "1H", "4H",
 * "1Dutc" (OKX's "1D" opens at UTC+8 midnight: not our 1d, refused). K_OK / K_ERR. */
int tf_parse_kline(const char *name, enum tf *out);

typedef struct candle {
    int64_t open_ms;   /* UTC, aligned to the timeframe */
    kdec o, h, l, c;
    kdec volume;       /* base asset */
    kdec buy_volume;   /* taker-buy base volume (aggressor = buyer) */
    kdec quote_volume; /* sum px*qty, in quote units */
    uint32_t trades;
    uint32_t flags;    /* CANDLE_PARTIAL */
} candle;

/* The bar's period started before this series' data did (the first bar of a replay or of a live
 * start without history right before it): its OHLCV covers only part of the period. */
#define CANDLE_PARTIAL 1u

typedef struct candles candles;

/* Called for every bar that closes, in time order. */
typedef void (*candles_closed_fn)(void *ud, enum tf tf, const candle *bar);

candles *candles_new(enum tf tf, uint32_t cap);
void candles_free(candles *c);
enum tf candles_tf(const candles *c);

/* A trade. Trades older than the forming bar are counted (late) and ignored.
 * Returns the number of bars closed by it. */
int candles_on_trade(candles *c, int64_t time_ms, kdec px, kdec qty, bool buyer_maker,
                     candles_closed_fn fn, void *ud);
/* A closed bar of a lower timeframe (aggregation, e.g. 1m -> 5m); same closing rules. */
int candles_on_bar(candles *c, const candle *lower, int64_t lower_ms, candles_closed_fn fn,
                   void *ud);
/* Data clock: closes the forming bar once now_ms >= its end (and fills empty bars up to now). */
int candles_advance(candles *c, int64_t now_ms, candles_closed_fn fn, void *ud);
/* Seeds closed history (e.g. from the store), oldest first, before any live data. Bars that
 * are misaligned, not after the last held bar, or not sane (l <= 0, o or c outside [l, h],
 * h < l, a negative volume) are skipped. */
void candles_load(candles *c, const candle *bars, uint32_t n);

/* Merges stored history (oldest first) in FRONT of what is held, whenever it arrives (a history
 * load answers after live bars may have closed): only sane, aligned bars strictly older than the
 * oldest held bar (or the forming one) are taken; the ring keeps the newest cap bars. Returns the
 * bars taken. */
uint32_t candles_load_older(candles *c, const candle *bars, uint32_t n);

/* The exchange's own bar for a held closed bar of the same open time (kline reconciliation,
 * docs/MARKET.md): the held bar takes bar's OHLCV (trades and buy volume are kept when bar has
 * none) and loses CANDLE_PARTIAL. 1 when it differed in o/h/l/c/volume, 0 when it was equal
 * (nothing changes), -1 when no closed bar of that open time is held or bar is not sane. */
int candles_replace(candles *c, const candle *bar);
/* Exchange history (REST backfill, oldest first) merged with what is held: a bar whose open
 * time is held replaces it as candles_replace does (counted in *replaced when it differed), a
 * bar of a missing open time (before the oldest held bar, or in a gap between held bars) is
 * inserted; a bar at or after the forming bar's open is never taken (a forming bar is never
 * turned into a closed one), nor one that is not sane or not after the previous one. The ring
 * keeps the newest cap bars. Returns the bars inserted. O(n + held). */
uint32_t candles_merge(candles *c, const candle *bars, uint32_t n, uint32_t *replaced);

uint32_t candles_count(const candles *c); /* closed bars held (<= cap) */
/* i = 0 is the OLDEST held closed bar; NULL when out of range */
const candle *candles_get(const candles *c, uint32_t i);
const candle *candles_last(const candles *c);    /* newest closed bar or NULL */
/* The held closed bar that opened at open_ms, or NULL (O(log n)). */
const candle *candles_find(const candles *c, int64_t open_ms);
const candle *candles_forming(const candles *c); /* forming bar or NULL */
uint64_t candles_total_closed(const candles *c); /* bars closed since start (not capped) */
uint64_t candles_late(const candles *c);
kdec candles_late_volume(const candles *c); /* base volume of the late trades (saturating) */
/* Bytes a series of this cap holds once its ring is full (the memory budget's figure, from the
 * real struct sizes), and what it holds now. */
size_t candles_memory_max(uint32_t cap);
uint32_t candles_cap(const candles *c); /* closed bars the ring keeps at most */
size_t candles_memory(const candles *c);

#endif
