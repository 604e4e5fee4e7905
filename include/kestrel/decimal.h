/* Exact decimal strings <-> kdec (fixed point, 8 decimals). Pure functions, no allocation. */
#ifndef KESTREL_DECIMAL_H
#define KESTREL_DECIMAL_H
#include "kestrel/common.h"

/* Parses [-]digits[.digits] exactly (no exponent, no spaces, no "+", no leading ".").
 * More than 8 fractional digits are accepted only if the extra ones are zeros.
 * Fails (K_ERR) on empty input, junk, NaN/Inf, exponents, overflow beyond the kdec range. */
int decimal_parse(const char *s, size_t len, kdec *out);

/* Formats v with exactly `decimals` (0..8) fractional digits, truncating toward zero any
 * finer digits only if they are zero (otherwise the extra digits are kept: never lossy).
 * Returns the length written (NUL-terminated), or 0 if cap is too small. */
size_t decimal_format(kdec v, int decimals, char *buf, size_t cap);

/* Number of fractional digits v needs (0..8): 61602.01 -> 2, 2677.60 -> 1, 5 -> 0. */
int decimal_places(kdec v);

double decimal_to_double(kdec v);

#endif
