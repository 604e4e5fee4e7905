/* Exact decimal strings <-> kdec (int64 fixed point, 8 decimals).
 *
 * Money never passes through a double: Binance sends prices and quantities as decimal strings
 * ("61602.01000000") and this file turns them into integers of 1e-8 units and back, exactly.
 * The parser is strict on purpose (it sits behind every decoder that reads the network): only
 * [-]digits[.digits], no exponent, sign "+", spaces, NaN/Inf, leading or trailing '.', and no
 * value outside +-KDEC_MAX (INT64_MIN is excluded so that negation is always safe). Fractional
 * digits beyond the 8th are accepted only when they are zeros ("1.000000000" ok, "1.000000001"
 * refused): a non-zero 9th digit cannot be represented, and rounding it silently would be lossy.
 * Pure functions, no allocation, no locale. */
#include "kestrel/decimal.h"

#include <string.h>

static const int64_t pow10_tab[KDEC_DIGITS + 1] = {
    1LL, 10LL, 100LL, 1000LL, 10000LL, 100000LL, 1000000LL, 10000000LL, 100000000LL,
};

/* Whether the 8 bytes of w (little-endian load) are all ASCII digits. */
static inline bool decimal_swar_digits(uint64_t w)
{
    const uint64_t hi = 0xF0F0F0F0F0F0F0F0ULL;
    return ((w & hi) | (((w + 0x0606060606060606ULL) & hi) >> 4)) == 0x3333333333333333ULL;
}

/* The value of 8 ASCII digits loaded little-endian (first digit in the low byte): Lemire's
 * three multiply steps (digit pairs, then quads, then the eight). */
static inline uint64_t decimal_swar8(uint64_t w)
{
    w = ((w & 0x0F0F0F0F0F0F0F0FULL) * 2561) >> 8;
    w = ((w & 0x00FF00FF00FF00FFULL) * 6553601) >> 16;
    return ((w & 0x0000FFFF0000FFFFULL) * 42949672960001ULL) >> 32;
}

int decimal_parse(const char *s, size_t len, kdec *out)
{
    if (!s || len == 0)
        return K_ERR;
    size_t i = 0;
    bool neg = false;
    if (s[0] == '-') {
        neg = true;
        i = 1;
    }
    /* integer part: at least one digit */
    size_t int_start = i;
    uint64_t ip = 0;
    const uint64_t ip_max = (uint64_t)(KDEC_MAX / KDEC_SCALE); /* 92233720368 */
    while (i < len && s[i] >= '0' && s[i] <= '9') {
        ip = ip * 10 + (uint64_t)(s[i] - '0');
        if (ip > ip_max)
            return K_ERR; /* overflow (also stops ip itself from ever wrapping) */
        i++;
    }
    if (i == int_start)
        return K_ERR; /* "", "-", ".5", "-.5", "abc", " 1" */
    uint64_t fp = 0;
    if (i < len && s[i] == '.') {
        i++;
        size_t frac_start = i;
        int nd = 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        if (len - i >= 8) { /* eight fraction digits, as Binance sends them: in one word */
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (decimal_swar_digits(w)) {
                fp = decimal_swar8(w);
                nd = KDEC_DIGITS;
                i += 8;
            }
        }
#endif
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            if (nd < KDEC_DIGITS) {
                fp = fp * 10 + (uint64_t)(s[i] - '0');
                nd++;
            } else if (s[i] != '0') {
                return K_ERR; /* a non-zero digit finer than 1e-8: not representable */
            }
            i++;
        }
        if (i == frac_start)
            return K_ERR; /* "5." */
        fp *= (uint64_t)pow10_tab[KDEC_DIGITS - nd];
    }
    if (i != len)
        return K_ERR; /* trailing junk: "1e5", "1.5 ", "1,5", embedded NUL, ... */
    uint64_t mag = ip * (uint64_t)KDEC_SCALE + fp; /* ip <= ip_max: no wrap */
    if (mag > (uint64_t)KDEC_MAX)
        return K_ERR;
    *out = neg ? -(kdec)mag : (kdec)mag;
    return K_OK;
}

int decimal_places(kdec v)
{
    if (v % KDEC_SCALE == 0)
        return 0;
    int places = KDEC_DIGITS;
    while (places > 0 && v % 10 == 0) {
        v /= 10;
        places--;
    }
    return places;
}

size_t decimal_format(kdec v, int decimals, char *buf, size_t cap)
{
    if (!buf || cap == 0)
        return 0;
    if (decimals < 0)
        decimals = 0;
    if (decimals > KDEC_DIGITS)
        decimals = KDEC_DIGITS;
    int need = decimal_places(v);
    if (need > decimals)
        decimals = need; /* never lossy */

    /* magnitude as unsigned so that INT64_MIN is formatted correctly as well */
    uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    uint64_t ip = mag / (uint64_t)KDEC_SCALE;
    uint64_t fp = mag % (uint64_t)KDEC_SCALE;

    char tmp[40];
    size_t n = 0;
    /* fractional digits, written backwards: keep the `decimals` most significant of 8 */
    if (decimals > 0) {
        uint64_t f = fp / (uint64_t)pow10_tab[KDEC_DIGITS - decimals];
        for (int k = 0; k < decimals; k++) {
            tmp[n++] = (char)('0' + f % 10);
            f /= 10;
        }
        tmp[n++] = '.';
    }
    do {
        tmp[n++] = (char)('0' + ip % 10);
        ip /= 10;
    } while (ip);
    if (v < 0)
        tmp[n++] = '-';
    if (n + 1 > cap)
        return 0;
    for (size_t k = 0; k < n; k++)
        buf[k] = tmp[n - 1 - k];
    buf[n] = '\0';
    return n;
}

double decimal_to_double(kdec v)
{
    /* split so that the integer part converts exactly and only the fraction rounds */
    return (double)(v / KDEC_SCALE) + (double)(v % KDEC_SCALE) / (double)KDEC_SCALE;
}
