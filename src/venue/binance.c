/* Binance market-data decoder: bytes of one message -> one feed_event.
 *
 * Shape: a specialised single-pass JSON scanner, not a DOM. One walk over the message validates
 * the whole syntax (strict RFC 8259: UTF-8, escapes, no control characters, bounded nesting) and
 * records every field the decoder knows into a fixed "slot" (type + span or integer) on the stack;
 * level arrays ("b", "a", "bids", "asks") are parsed straight into the caller's level scratch
 * during that same walk. Unknown keys are skipped (still validated). Only when the message is
 * complete is it classified (the "e" field may come last: Binance never promised key order) and
 * the slots the event kind needs are converted and checked. So: no allocation, no recursion deeper
 * than envelope -> data -> k, every read checked against `end`, deep nesting refused, and any
 * syntax cJSON rejects is rejected here too (we are stricter: see binance.h), which the fuzz
 * target fuzz_binance_diff checks against cJSON itself. */
#include "kestrel/binance.h"

#include "kestrel/decimal.h"

#include <string.h>

typedef unsigned char uch;

enum jtype { JT_NONE = 0, JT_STR, JT_NUM, JT_TRUE, JT_FALSE, JT_NULL, JT_ARR, JT_OBJ };

#define F_ESC 1u /* string: contained a backslash escape */
#define F_INT 2u /* number: integer syntax and fits int64 */

/* Outcome of reading an array as [[price, qty], ...] levels. */
enum lvstate { LV_OK = 0, LV_SHAPE, LV_BADPX, LV_BADQTY, LV_NEGPX, LV_NEGQTY, LV_TOOMANY };

typedef struct slot {
    const uch *s; /* JT_STR: first byte (escapes left as is) */
    int64_t i;    /* JT_NUM with F_INT */
    uint32_t n;   /* JT_STR: length; JT_ARR levels: count */
    uint32_t off; /* JT_ARR levels: first level in the scratch */
    uint8_t jt, flags, lv;
} slot;

/* Fields of a payload (and of the envelope / control replies, which share the top level). */
enum {
    P_e, P_E, P_T, P_s, P_U, P_u, P_pu, P_b, P_a, P_B, P_A, P_t, P_p, P_q, P_m, P_X,
    P_lastUpdateId, P_bids, P_asks, P_k, P_stream, P_data, P_result, P_code, P_msg, P_error,
    P_o, P_h, P_l, P_c, P_v, P_i, P_r, /* 24hrTicker, markPriceUpdate */
    P_COUNT
};
/* Fields of a kline's "k" object. */
enum { K_t, K_T, K_i, K_o, K_c, K_h, K_l, K_v, K_n, K_x, K_q, K_COUNT };

#define BIT(x) (1ull << (x))

typedef struct payload {
    uint64_t seen, kseen; /* which slots were filled: only these are ever read */
    slot f[P_COUNT];
    slot k[K_COUNT];
} payload;

typedef struct dec {
    const uch *end;
    feed_level *lv;
    uint32_t cap, used;
    payload *inner; /* the envelope's "data" */
    const char *why;
} dec;

/* Bytes that stop the fast string loop: '"', '\\', control characters, non-ASCII. */
static const uint8_t str_special[256] = {
    [0 ... 0x1f] = 1, ['"'] = 1, ['\\'] = 1, [0x80 ... 0xff] = 1,
};

/* First byte in [p, end) that is special for strings (see str_special), or end. Eight bytes at a
 * time: flags bytes equal to '"' or '\\', below 0x20 or above 0x7f (classic SWAR; a flag can be
 * spurious only above a genuine one, so the lowest flag is exact). */
static inline const uch *find_special(const uch *p, const uch *end)
{
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    while (end - p >= 8) {
        uint64_t w, q, b, c;
        memcpy(&w, p, 8);
        q = w ^ (ones * '"');
        b = w ^ (ones * '\\');
        q = (q - ones) & ~q;
        b = (b - ones) & ~b;
        c = w - ones * 0x20;
        uint64_t hit = (q | b | c | w) & high;
        if (hit)
            return p + (__builtin_ctzll(hit) >> 3);
        p += 8;
    }
    while (p < end && !str_special[*p])
        p++;
    return p;
}

static inline int is_digit(uch c)
{
    return c >= '0' && c <= '9';
}

static inline const uch *binance_ws(const uch *p, const uch *end)
{
    while (p < end && *p <= ' ' && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    return p;
}

static const uch *fail(dec *d, const char *why)
{
    if (!d->why)
        d->why = why;
    return NULL;
}

static int hex4(const uch *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        uch c = p[i];
        unsigned x;
        if (c >= '0' && c <= '9')
            x = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            x = (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            x = (unsigned)(c - 'A' + 10);
        else
            return 0;
        v = v << 4 | x;
    }
    *out = v;
    return 1;
}

/* p at '\\'. Returns the byte after the escape, or NULL. \u0000 and unpaired surrogates are
 * refused (a NUL would silently truncate the string for C consumers). */
static const uch *scan_escape(const uch *p, const uch *end)
{
    if (end - p < 2)
        return NULL;
    switch (p[1]) {
    case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
        return p + 2;
    case 'u': {
        unsigned cp, lo;
        if (end - p < 6 || !hex4(p + 2, &cp) || cp == 0 || (cp >= 0xDC00 && cp <= 0xDFFF))
            return NULL;
        p += 6;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || !hex4(p + 2, &lo) || lo < 0xDC00 ||
                lo > 0xDFFF)
                return NULL;
            p += 6;
        }
        return p;
    }
    default:
        return NULL;
    }
}

static inline int cont(const uch *p, const uch *end, int n)
{
    if (end - p < n)
        return 0;
    for (int i = 0; i < n; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    return 1;
}

/* p at a byte >= 0x80: one well-formed UTF-8 sequence (no overlongs, no surrogates, <= U+10FFFF).
 */
static const uch *scan_utf8(const uch *p, const uch *end)
{
    uch c = p[0];
    if (c >= 0xC2 && c <= 0xDF)
        return cont(p + 1, end, 1) ? p + 2 : NULL;
    if (c >= 0xE0 && c <= 0xEF) {
        if (end - p < 3)
            return NULL;
        if ((c == 0xE0 && p[1] < 0xA0) || (c == 0xED && p[1] > 0x9F))
            return NULL;
        return cont(p + 1, end, 2) ? p + 3 : NULL;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (end - p < 4)
            return NULL;
        if ((c == 0xF0 && p[1] < 0x90) || (c == 0xF4 && p[1] > 0x8F))
            return NULL;
        return cont(p + 1, end, 3) ? p + 4 : NULL;
    }
    return NULL;
}

/* Rest of a string from a special byte p: escapes, UTF-8, the closing quote. */
static const uch *scan_str_slow(const uch *p, const uch *end, uint8_t *flags)
{
    for (;;) {
        if (p >= end)
            return NULL;
        if (*p == '"')
            return p + 1;
        if (*p == '\\') {
            *flags |= F_ESC;
            p = scan_escape(p, end);
        } else if (*p >= 0x80) {
            p = scan_utf8(p, end);
        } else {
            return NULL; /* raw control character */
        }
        if (!p)
            return NULL;
        p = find_special(p, end);
    }
}

/* p just after the opening quote. Returns the byte after the closing quote, or NULL. */
static inline const uch *scan_str(const uch *p, const uch *end, uint8_t *flags)
{
    p = find_special(p, end);
    if (p < end && *p == '"')
        return p + 1;
    return scan_str_slow(p, end, flags);
}

/* p at '-' or a digit. JSON number grammar, at most 63 bytes (cJSON's own limit). */
static const uch *scan_num(const uch *p, const uch *end, int64_t *iv, uint8_t *flags)
{
    const uch *s = p;
    int neg = 0, isint = 1, ovf = 0;
    uint64_t v = 0;
    if (*p == '-') {
        neg = 1;
        p++;
    }
    if (p >= end || !is_digit(*p))
        return NULL;
    if (*p == '0') {
        p++;
    } else {
        while (p < end && is_digit(*p)) {
            unsigned d = (unsigned)(*p - '0');
            if (v >= (uint64_t)INT64_MAX / 10 && (v > (uint64_t)INT64_MAX / 10 || d > 7))
                ovf = 1; /* INT64_MAX = 922337203685477580 * 10 + 7 */
            else
                v = v * 10 + d;
            p++;
            if (p - s > 63)
                return NULL;
        }
    }
    if (p < end && *p == '.') {
        isint = 0;
        p++;
        if (p >= end || !is_digit(*p))
            return NULL;
        while (p < end && is_digit(*p) && p - s <= 63)
            p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        isint = 0;
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (p >= end || !is_digit(*p))
            return NULL;
        while (p < end && is_digit(*p) && p - s <= 63)
            p++;
    }
    if (p - s > 63)
        return NULL;
    if (isint && !ovf) {
        *iv = neg ? -(int64_t)v : (int64_t)v;
        *flags |= F_INT;
    }
    return p;
}

static const uch *scan_lit(const uch *p, const uch *end, uint8_t *jt)
{
    size_t left = (size_t)(end - p);
    if (left >= 4 && memcmp(p, "true", 4) == 0) {
        *jt = JT_TRUE;
        return p + 4;
    }
    if (left >= 5 && memcmp(p, "false", 5) == 0) {
        *jt = JT_FALSE;
        return p + 5;
    }
    if (left >= 4 && memcmp(p, "null", 4) == 0) {
        *jt = JT_NULL;
        return p + 4;
    }
    return NULL;
}

/* Validates and skips one value starting at p (whitespace allowed before it); `depth` is the
 * nesting depth of the container holding it. Iterative: a bit stack remembers arrays vs objects. */
static const uch *skip_value(dec *d, const uch *p, int depth)
{
    const uch *end = d->end;
    uint64_t arr = 0; /* bit i: container i (0-based from this value) is an array */
    int n = 0;        /* containers open */
    uint8_t fl, jt;
    int64_t iv;
value:
    p = binance_ws(p, end);
    if (p >= end)
        return fail(d, "invalid json");
    switch (*p) {
    case '{':
    case '[':
        if (depth + n + 1 > BINANCE_MAX_DEPTH)
            return fail(d, "too deep");
        if (*p == '[')
            arr |= 1ull << n;
        else
            arr &= ~(1ull << n);
        n++;
        p = binance_ws(p + 1, end);
        if (p < end && *p == ((arr >> (n - 1) & 1) ? ']' : '}')) {
            p++;
            n--;
            goto after;
        }
        if (arr >> (n - 1) & 1)
            goto value;
        goto key;
    case '"':
        fl = 0;
        p = scan_str(p + 1, end, &fl);
        break;
    case 't':
    case 'f':
    case 'n':
        p = scan_lit(p, end, &jt);
        break;
    default:
        if (*p != '-' && !is_digit(*p))
            return fail(d, "invalid json");
        fl = 0;
        p = scan_num(p, end, &iv, &fl);
        break;
    }
    if (!p)
        return fail(d, "invalid json");
after:
    if (n == 0)
        return p;
    p = binance_ws(p, end);
    if (p >= end)
        return fail(d, "invalid json");
    if (*p == ',') {
        p = binance_ws(p + 1, end);
        if (arr >> (n - 1) & 1)
            goto value;
        goto key;
    }
    if (*p != ((arr >> (n - 1) & 1) ? ']' : '}'))
        return fail(d, "invalid json");
    p++;
    n--;
    goto after;
key:
    if (p >= end || *p != '"')
        return fail(d, "invalid json");
    fl = 0;
    p = scan_str(p + 1, end, &fl);
    if (!p)
        return fail(d, "invalid json");
    p = binance_ws(p, end);
    if (p >= end || *p != ':')
        return fail(d, "invalid json");
    p++;
    goto value;
}

/* One [price, qty] string: the fast path for level arrays (plain ASCII digits, no escapes). */
static inline const uch *level_num(const uch *p, const uch *end, kdec *out, int *st, int bad,
                                   int neg)
{
    if (p >= end || *p != '"') {
        *st = LV_SHAPE;
        return NULL;
    }
    const uch *s = ++p;
    p = find_special(p, end);
    if (p >= end || *p != '"' || decimal_parse((const char *)s, (size_t)(p - s), out) != K_OK) {
        *st = bad;
        return NULL;
    }
    if (*out < 0) {
        *st = neg;
        return NULL;
    }
    return p + 1;
}

/* p at '['. Reads [[price, qty, ...], ...] into the scratch. Anything that is not such an array
 * (or overflows the scratch) is recorded in sl->lv and skipped generically, so an unexpected
 * array under a known key only matters if the event kind needs it. */
static const uch *parse_levels(dec *d, const uch *p, slot *sl, int depth)
{
    const uch *start = p, *end = d->end;
    uint32_t used = d->used;
    int st = LV_OK;
    kdec px, qty;
    sl->off = used;
    sl->n = 0;
    if (depth + 2 > BINANCE_MAX_DEPTH)
        goto generic;
    p = binance_ws(p + 1, end);
    if (p < end && *p == ']') {
        sl->lv = LV_OK;
        return p + 1;
    }
    for (;;) {
        if (p >= end || *p != '[') {
            st = LV_SHAPE;
            goto generic;
        }
        p = binance_ws(p + 1, end);
        p = level_num(p, end, &px, &st, LV_BADPX, LV_NEGPX);
        if (!p)
            goto generic;
        p = binance_ws(p, end);
        if (p >= end || *p != ',') {
            st = LV_SHAPE;
            goto generic;
        }
        p = binance_ws(p + 1, end);
        p = level_num(p, end, &qty, &st, LV_BADQTY, LV_NEGQTY);
        if (!p)
            goto generic;
        p = binance_ws(p, end);
        while (p < end && *p == ',') { /* extra elements are tolerated and ignored */
            p = skip_value(d, p + 1, depth + 2);
            if (!p)
                return NULL;
            p = binance_ws(p, end);
        }
        if (p >= end || *p != ']') {
            st = LV_SHAPE;
            goto generic;
        }
        if (used >= d->cap) {
            st = LV_TOOMANY;
            goto generic;
        }
        d->lv[used].px = px;
        d->lv[used].qty = qty;
        used++;
        p = binance_ws(p + 1, end);
        if (p < end && *p == ',') {
            p = binance_ws(p + 1, end);
            continue;
        }
        if (p < end && *p == ']') {
            sl->lv = LV_OK;
            sl->n = used - sl->off;
            d->used = used;
            return p + 1;
        }
        st = LV_SHAPE;
        goto generic;
    }
generic:
    sl->lv = (uint8_t)st;
    sl->n = 0;
    return skip_value(d, start, depth);
}

static int payload_key(const uch *k, size_t n)
{
    switch (n) {
    case 1:
        switch (k[0]) {
        case 'e': return P_e;
        case 'E': return P_E;
        case 'T': return P_T;
        case 's': return P_s;
        case 'U': return P_U;
        case 'u': return P_u;
        case 'b': return P_b;
        case 'a': return P_a;
        case 'B': return P_B;
        case 'A': return P_A;
        case 't': return P_t;
        case 'p': return P_p;
        case 'q': return P_q;
        case 'm': return P_m;
        case 'X': return P_X;
        case 'k': return P_k;
        case 'o': return P_o;
        case 'h': return P_h;
        case 'l': return P_l;
        case 'c': return P_c;
        case 'v': return P_v;
        case 'i': return P_i;
        case 'r': return P_r;
        default: return -1;
        }
    case 2:
        return k[0] == 'p' && k[1] == 'u' ? P_pu : -1;
    case 3:
        return memcmp(k, "msg", 3) == 0 ? P_msg : -1;
    case 4:
        if (memcmp(k, "bids", 4) == 0)
            return P_bids;
        if (memcmp(k, "asks", 4) == 0)
            return P_asks;
        if (memcmp(k, "data", 4) == 0)
            return P_data;
        if (memcmp(k, "code", 4) == 0)
            return P_code;
        return -1;
    case 5:
        return memcmp(k, "error", 5) == 0 ? P_error : -1;
    case 6:
        if (memcmp(k, "stream", 6) == 0)
            return P_stream;
        if (memcmp(k, "result", 6) == 0)
            return P_result;
        return -1;
    case 12:
        return memcmp(k, "lastUpdateId", 12) == 0 ? P_lastUpdateId : -1;
    default:
        return -1;
    }
}

static int kline_key(const uch *k, size_t n)
{
    if (n != 1)
        return -1;
    switch (k[0]) {
    case 't': return K_t;
    case 'T': return K_T;
    case 'i': return K_i;
    case 'o': return K_o;
    case 'c': return K_c;
    case 'h': return K_h;
    case 'l': return K_l;
    case 'v': return K_v;
    case 'n': return K_n;
    case 'x': return K_x;
    case 'q': return K_q;
    default: return -1;
    }
}

enum objkind { OBJ_TOP, OBJ_DATA, OBJ_KLINE };

static const uch *parse_obj(dec *d, const uch *p, payload *pl, int depth, enum objkind kind);

/* One value of a known field: primitives are recorded, level arrays parsed, "data" / "k" objects
 * descended into; anything else is recorded by type and skipped. */
static const uch *parse_field(dec *d, const uch *p, payload *pl, slot *sl, int id, int depth,
                              enum objkind kind)
{
    const uch *end = d->end;
    sl->flags = 0;
    switch (*p) {
    case '"':
        sl->jt = JT_STR;
        sl->s = p + 1;
        p = scan_str(p + 1, end, &sl->flags);
        if (!p)
            return fail(d, "invalid json");
        /* lengths only matter up to a few dozen bytes: clamp so a > 4 GiB string stays huge */
        sl->n = (size_t)(p - 1 - sl->s) > UINT32_MAX ? UINT32_MAX : (uint32_t)(p - 1 - sl->s);
        return p;
    case '[':
        sl->jt = JT_ARR;
        if (kind != OBJ_KLINE && (id == P_b || id == P_a || id == P_bids || id == P_asks))
            return parse_levels(d, p, sl, depth);
        return skip_value(d, p, depth);
    case '{':
        sl->jt = JT_OBJ;
        if (kind == OBJ_TOP && id == P_data) {
            if (depth + 1 > BINANCE_MAX_DEPTH)
                return fail(d, "too deep");
            return parse_obj(d, p, d->inner, depth + 1, OBJ_DATA);
        }
        if (kind != OBJ_KLINE && id == P_k) {
            if (depth + 1 > BINANCE_MAX_DEPTH)
                return fail(d, "too deep");
            return parse_obj(d, p, pl, depth + 1, OBJ_KLINE);
        }
        return skip_value(d, p, depth);
    case 't':
    case 'f':
    case 'n':
        p = scan_lit(p, end, &sl->jt);
        return p ? p : fail(d, "invalid json");
    default:
        if (*p != '-' && !is_digit(*p))
            return fail(d, "invalid json");
        sl->jt = JT_NUM;
        p = scan_num(p, end, &sl->i, &sl->flags);
        return p ? p : fail(d, "invalid json");
    }
}

/* p at '{' of an object at nesting `depth`. Known keys fill pl's slots (the kline object fills
 * pl->k); a key seen twice is refused, so no field can be both validated and overridden. */
static const uch *parse_obj(dec *d, const uch *p, payload *pl, int depth, enum objkind kind)
{
    const uch *end = d->end;
    p = binance_ws(p + 1, end);
    if (p < end && *p == '}')
        return p + 1;
    for (;;) {
        if (p >= end || *p != '"')
            return fail(d, "invalid json");
        const uch *k = p + 1;
        uint8_t fl = 0;
        p = scan_str(k, end, &fl);
        if (!p)
            return fail(d, "invalid json");
        if (fl & F_ESC)
            return fail(d, "escaped key");
        size_t klen = (size_t)(p - 1 - k);
        p = binance_ws(p, end);
        if (p >= end || *p != ':')
            return fail(d, "invalid json");
        p = binance_ws(p + 1, end);
        if (p >= end)
            return fail(d, "invalid json");
        int id = kind == OBJ_KLINE ? kline_key(k, klen) : payload_key(k, klen);
        if (id < 0) {
            p = skip_value(d, p, depth);
        } else {
            uint64_t *seen = kind == OBJ_KLINE ? &pl->kseen : &pl->seen;
            if (*seen & BIT(id))
                return fail(d, "duplicate key");
            *seen |= BIT(id);
            slot *sl = kind == OBJ_KLINE ? &pl->k[id] : &pl->f[id];
            p = parse_field(d, p, pl, sl, id, depth, kind);
        }
        if (!p)
            return NULL;
        p = binance_ws(p, end);
        if (p >= end)
            return fail(d, "invalid json");
        if (*p == ',') {
            p = binance_ws(p + 1, end);
            continue;
        }
        if (*p != '}')
            return fail(d, "invalid json");
        return p + 1;
    }
}

/* ---- classification and conversion of the recorded slots ---- */

static const slot *binance_get(const payload *pl, int id)
{
    return pl->seen & BIT(id) ? &pl->f[id] : NULL;
}

static const slot *kget(const payload *pl, int id)
{
    return pl->kseen & BIT(id) ? &pl->k[id] : NULL;
}

static int slot_int(const slot *s, int64_t *out, int allow_neg)
{
    if (!s || s->jt != JT_NUM || !(s->flags & F_INT) || (!allow_neg && s->i < 0))
        return 0;
    *out = s->i;
    return 1;
}

/* Optional integer: absent -> 0 (and *present = 0); present but not an integer >= 0 -> fail. */
static int opt_int(const slot *s, int64_t *out, int *present)
{
    *out = 0;
    if (present)
        *present = s != NULL;
    return s ? slot_int(s, out, 0) : 1;
}

static const char *slot_dec(const slot *s, kdec *out, const char *bad, const char *neg)
{
    if (!s || s->jt != JT_STR || (s->flags & F_ESC) ||
        decimal_parse((const char *)s->s, s->n, out) != K_OK)
        return bad;
    return *out < 0 ? neg : NULL;
}

static int slot_bool(const slot *s, bool *out)
{
    if (!s || (s->jt != JT_TRUE && s->jt != JT_FALSE))
        return 0;
    *out = s->jt == JT_TRUE;
    return 1;
}

static int slot_is(const slot *s, const char *lit)
{
    size_t n = strlen(lit);
    return s->n == n && memcmp(s->s, lit, n) == 0;
}

static const char *get_symbol(const payload *pl, char out[KSYM_MAX])
{
    const slot *s = binance_get(pl, P_s);
    if (!s || s->jt != JT_STR || (s->flags & F_ESC) || s->n == 0 || s->n > KSYM_MAX - 1)
        return "bad symbol";
    /* Binance's documented charset, [A-Z0-9] (lowercase, as in stream names, is folded): no
     * wide, combining or bidi characters can reach the screen, no separators that could spoof */
    for (uint32_t i = 0; i < s->n; i++) {
        uch c = s->s[i];
        if (c >= 'a' && c <= 'z')
            c = (uch)(c - 32);
        else if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
            return "bad symbol";
        out[i] = (char)c;
    }
    out[s->n] = '\0';
    return NULL;
}

static const char *lv_reason(const slot *s)
{
    if (!s || s->jt != JT_ARR)
        return "bad levels";
    switch (s->lv) {
    case LV_OK: return NULL;
    case LV_BADPX: return "bad price";
    case LV_BADQTY: return "bad qty";
    case LV_NEGPX: return "negative price";
    case LV_NEGQTY: return "negative qty";
    case LV_TOOMANY: return "too many levels";
    default: return "bad level";
    }
}

static const char *set_levels(const dec *d, const slot *b, const slot *a, feed_event *ev)
{
    const char *r = lv_reason(b);
    if (!r)
        r = lv_reason(a);
    if (r)
        return r;
    ev->u.depth.bids = d->lv ? d->lv + b->off : NULL;
    ev->u.depth.nbids = b->n;
    ev->u.depth.asks = d->lv ? d->lv + a->off : NULL;
    ev->u.depth.nasks = a->n;
    return NULL;
}

static const char *do_depth(const dec *d, const payload *pl, feed_event *ev)
{
    const char *r;
    const slot *pu = binance_get(pl, P_pu);
    if ((r = get_symbol(pl, ev->symbol)))
        return r;
    if (!slot_int(binance_get(pl, P_U), &ev->u.depth.first_id, 0) ||
        !slot_int(binance_get(pl, P_u), &ev->u.depth.last_id, 0) ||
        ev->u.depth.first_id > ev->u.depth.last_id)
        return "bad update id";
    if (pu) {
        if (!slot_int(pu, &ev->u.depth.prev_id, 1))
            return "bad update id";
        ev->u.depth.has_prev = true;
        ev->venue = VENUE_BINANCE_USDM;
    }
    if ((r = set_levels(d, binance_get(pl, P_b), binance_get(pl, P_a), ev)))
        return r;
    ev->kind = FEED_DEPTH_DIFF;
    return NULL;
}

static const char *do_trade(const payload *pl, feed_event *ev, int agg)
{
    const char *r;
    int64_t t;
    int has_t;
    if ((r = get_symbol(pl, ev->symbol)))
        return r;
    if (!slot_int(binance_get(pl, agg ? P_a : P_t), &ev->u.trade.id, 0))
        return "bad trade id";
    if ((r = slot_dec(binance_get(pl, P_p), &ev->u.trade.px, "bad price", "negative price")) ||
        (r = slot_dec(binance_get(pl, P_q), &ev->u.trade.qty, "bad qty", "negative qty")))
        return r;
    if (!slot_bool(binance_get(pl, P_m), &ev->u.trade.buyer_maker))
        return "bad flag";
    if (!opt_int(binance_get(pl, P_T), &t, &has_t))
        return "bad time";
    ev->u.trade.time_ms = has_t ? t : ev->event_ms;
    if (!agg && binance_get(pl, P_X))
        ev->venue = VENUE_BINANCE_USDM;
    ev->kind = FEED_TRADE;
    return NULL;
}

static const char *do_ticker(const payload *pl, feed_event *ev)
{
    const char *r;
    if ((r = get_symbol(pl, ev->symbol)))
        return r;
    if (!slot_int(binance_get(pl, P_u), &ev->u.ticker.update_id, 0))
        return "bad update id";
    if ((r = slot_dec(binance_get(pl, P_b), &ev->u.ticker.bid_px, "bad price", "negative price")) ||
        (r = slot_dec(binance_get(pl, P_B), &ev->u.ticker.bid_qty, "bad qty", "negative qty")) ||
        (r = slot_dec(binance_get(pl, P_a), &ev->u.ticker.ask_px, "bad price", "negative price")) ||
        (r = slot_dec(binance_get(pl, P_A), &ev->u.ticker.ask_qty, "bad qty", "negative qty")))
        return r;
    ev->kind = FEED_BOOK_TICKER;
    return NULL;
}

static const char *do_kline(const payload *pl, feed_event *ev)
{
    const char *r;
    const slot *k = binance_get(pl, P_k), *iv;
    if ((r = get_symbol(pl, ev->symbol)))
        return r;
    if (!k || k->jt != JT_OBJ)
        return "bad kline";
    if (!slot_int(kget(pl, K_t), &ev->u.kline.open_ms, 0) ||
        !slot_int(kget(pl, K_T), &ev->u.kline.close_ms, 0))
        return "bad time";
    iv = kget(pl, K_i);
    if (!iv || iv->jt != JT_STR || (iv->flags & F_ESC) || iv->n == 0 ||
        iv->n >= sizeof ev->u.kline.interval)
        return "bad interval";
    for (uint32_t i = 0; i < iv->n; i++) {
        uch c = iv->s[i];
        if (!is_digit(c) && !((c | 32) >= 'a' && (c | 32) <= 'z'))
            return "bad interval";
        ev->u.kline.interval[i] = (char)c;
    }
    if ((r = slot_dec(kget(pl, K_o), &ev->u.kline.o, "bad price", "negative price")) ||
        (r = slot_dec(kget(pl, K_h), &ev->u.kline.h, "bad price", "negative price")) ||
        (r = slot_dec(kget(pl, K_l), &ev->u.kline.l, "bad price", "negative price")) ||
        (r = slot_dec(kget(pl, K_c), &ev->u.kline.c, "bad price", "negative price")) ||
        (r = slot_dec(kget(pl, K_v), &ev->u.kline.volume, "bad qty", "negative qty")) ||
        (r = slot_dec(kget(pl, K_q), &ev->u.kline.quote_volume, "bad qty", "negative qty")))
        return r;
    if (!slot_int(kget(pl, K_n), &ev->u.kline.trades, 0))
        return "bad count";
    if (!slot_bool(kget(pl, K_x), &ev->u.kline.closed))
        return "bad flag";
    ev->kind = FEED_KLINE;
    return NULL;
}

static const char *do_snapshot(const dec *d, const payload *pl, feed_event *ev)
{
    const char *r;
    if (!slot_int(binance_get(pl, P_lastUpdateId), &ev->u.depth.last_id, 0))
        return "bad update id";
    ev->u.depth.first_id = ev->u.depth.last_id;
    if ((r = set_levels(d, binance_get(pl, P_bids), binance_get(pl, P_asks), ev)))
        return r;
    if (binance_get(pl, P_E) || binance_get(pl, P_T))
        ev->venue = VENUE_BINANCE_USDM;
    ev->kind = FEED_DEPTH_SNAPSHOT;
    return NULL;
}

/* 24hrTicker: o (open 24 h ago), c (last), h, l, v (base), q (quote). */
static const char *do_ticker24(const payload *pl, feed_event *ev)
{
    const char *r;
    if ((r = get_symbol(pl, ev->symbol)))
        return r;
    if ((r = slot_dec(binance_get(pl, P_o), &ev->u.day.open, "bad price", "negative price")) ||
        (r = slot_dec(binance_get(pl, P_c), &ev->u.day.last, "bad price", "negative price")) ||
        (r = slot_dec(binance_get(pl, P_h), &ev->u.day.high, "bad price", "negative price")) ||
        (r = slot_dec(binance_get(pl, P_l), &ev->u.day.low, "bad price", "negative price")) ||
        (r = slot_dec(binance_get(pl, P_v), &ev->u.day.volume, "bad qty", "negative qty")) ||
        (r = slot_dec(binance_get(pl, P_q), &ev->u.day.quote_volume, "bad qty", "negative qty")))
        return r;
    ev->kind = FEED_TICKER24;
    return NULL;
}

/* markPriceUpdate (USD-M): p mark, i index (optional), r funding rate ("" on contracts without
 * funding: 0), T next funding time. */
static const char *do_mark(const payload *pl, feed_event *ev)
{
    const char *r;
    const slot *ix = binance_get(pl, P_i), *rt = binance_get(pl, P_r);
    if ((r = get_symbol(pl, ev->symbol)))
        return r;
    if ((r = slot_dec(binance_get(pl, P_p), &ev->u.mark.mark, "bad price", "negative price")))
        return r;
    if (ix && (r = slot_dec(ix, &ev->u.mark.index, "bad price", "negative price")))
        return r;
    if (rt && !(rt->jt == JT_STR && rt->n == 0)) {
        if (rt->jt != JT_STR || (rt->flags & F_ESC) ||
            decimal_parse((const char *)rt->s, rt->n, &ev->u.mark.rate) != K_OK)
            return "bad rate"; /* negative rates are normal: not slot_dec */
    }
    if (!slot_int(binance_get(pl, P_T), &ev->u.mark.next_funding_ms, 0))
        return "bad time";
    ev->kind = FEED_MARK;
    ev->venue = VENUE_BINANCE_USDM;
    return NULL;
}

/* Event types that are valid Binance traffic but carry nothing the model consumes (yet). */
static const char *const ignored_events[] = {
    "24hrMiniTicker", "serverShutdown", "avgPrice", "1hTicker", "4hTicker", "1dTicker",
};

/* "<sym>@depth5", "@depth10@100ms", ...: partial book depth, a snapshot of the top, not a diff. */
static int partial_depth_stream(const slot *s)
{
    for (uint32_t i = 0; i + 6 < s->n; i++)
        if (s->s[i] == '@' && memcmp(s->s + i + 1, "depth", 5) == 0 && is_digit(s->s[i + 6]))
            return 1;
    return 0;
}

static const char *classify(const dec *d, const payload *top, feed_event *ev)
{
    const payload *pl = top;
    const char *r;
    if (top->seen & (BIT(P_stream) | BIT(P_data))) {
        const slot *st = binance_get(top, P_stream), *da = binance_get(top, P_data);
        if (!st || !da || st->jt != JT_STR || (st->flags & F_ESC) || da->jt != JT_OBJ)
            return "bad envelope";
        if (partial_depth_stream(st))
            return "partial depth unsupported";
        pl = d->inner;
    } else if (top->seen & BIT(P_result)) {
        return NULL; /* {"result":null,"id":1}: subscribe ack and friends */
    } else if ((top->seen & BIT(P_error)) ||
               ((top->seen & BIT(P_code)) && (top->seen & BIT(P_msg)))) {
        return "exchange error";
    }

    const slot *e = binance_get(pl, P_e);
    if (!opt_int(binance_get(pl, P_E), &ev->event_ms, NULL))
        return "bad time";
    if (e) {
        if (e->jt != JT_STR || (e->flags & F_ESC))
            return "bad event type";
        if (slot_is(e, "depthUpdate"))
            return do_depth(d, pl, ev);
        if (slot_is(e, "trade"))
            return do_trade(pl, ev, 0);
        if (slot_is(e, "aggTrade"))
            return do_trade(pl, ev, 1);
        if (slot_is(e, "bookTicker")) {
            if ((r = do_ticker(pl, ev)))
                return r;
            ev->venue = VENUE_BINANCE_USDM;
            return NULL;
        }
        if (slot_is(e, "kline"))
            return do_kline(pl, ev);
        if (slot_is(e, "24hrTicker"))
            return do_ticker24(pl, ev);
        if (slot_is(e, "markPriceUpdate"))
            return do_mark(pl, ev);
        for (size_t i = 0; i < K_ARRAY_LEN(ignored_events); i++)
            if (slot_is(e, ignored_events[i])) {
                ev->event_ms = 0;
                return NULL;
            }
        return "unknown stream";
    }
    if (binance_get(pl, P_lastUpdateId))
        return do_snapshot(d, pl, ev);
    if (binance_get(pl, P_u))
        return do_ticker(pl, ev);
    return "unknown message";
}

int binance_decode(const char *json, size_t len, feed_event *ev, feed_level *levels,
                   uint32_t cap_levels, const char **why)
{
    payload top, inner;
    dec d;
    const char *r = NULL;

    memset(ev, 0, sizeof *ev);
    ev->kind = FEED_NONE;
    ev->venue = VENUE_BINANCE_SPOT;
    if (!json || len == 0) {
        r = "empty";
        goto out;
    }
    top.seen = top.kseen = inner.seen = inner.kseen = 0;
    d.end = (const uch *)json + len;
    d.lv = levels;
    d.cap = levels ? cap_levels : 0;
    d.used = 0;
    d.inner = &inner;
    d.why = NULL;

    const uch *p = binance_ws((const uch *)json, d.end);
    if (p >= d.end) {
        r = "empty";
        goto out;
    }
    if (*p != '{') {
        p = skip_value(&d, p, 0);
        r = p && binance_ws(p, d.end) == d.end ? "not an object" : d.why ? d.why : "invalid json";
        goto out;
    }
    p = parse_obj(&d, p, &top, 1, OBJ_TOP);
    if (!p) {
        r = d.why ? d.why : "invalid json";
        goto out;
    }
    if (binance_ws(p, d.end) != d.end) {
        r = "invalid json";
        goto out;
    }
    r = classify(&d, &top, ev);
out:
    if (r) {
        memset(ev, 0, sizeof *ev);
        ev->kind = FEED_NONE;
        ev->venue = VENUE_BINANCE_SPOT;
    }
    if (why)
        *why = r;
    return r ? K_ERR : K_OK;
}
