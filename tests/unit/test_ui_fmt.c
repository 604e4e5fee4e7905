/* The UI's number formatting (src/ui/draw.c, internal to the UI): quantities are shown from their
 * exact integer value, never through a double, so no digit is invented even at the top of the
 * kdec range; narrower columns round half away from zero, then fall back to k/M/G/T. Values are
 * hand-picked edge cases of the formatter, not market data. */
#include "check.h"

#include "../../src/ui/ui_int.h"
#include "kestrel/decimal.h"

static kdec D(const char *s)
{
    kdec v = 0;
    if (decimal_parse(s, strlen(s), &v) != K_OK)
        fprintf(stderr, "bad decimal %s\n", s);
    return v;
}

static void qty(const char *in, int decimals, int width, const char *want)
{
    char buf[64];
    int n = ui_fmt_qty(buf, sizeof buf, D(in), decimals, width);
    CHECK_STR(buf, want);
    CHECK_INT(n, (long long)strlen(want));
    CHECK((int)strlen(buf) <= width);
}

int main(void)
{
    /* exact at the top of the range: a double would print 92233720368.54776001 */
    qty("92233720368.54775807", 8, 20, "92233720368.54775807");
    qty("92233720368.54775807", 8, 19, "92233720368.5477581");
    qty("92233720368.54775807", 8, 14, "92233720368.55");
    qty("92233720368.54775807", 8, 11, "92233720369");
    qty("92233720368.54775807", 8, 10, "92233720k");
    qty("92233720368.54775807", 8, 6, "92234M");
    qty("-92233720368.54775807", 8, 21, "-92233720368.54775807");
    qty("12345678901.23556789", 2, 14, "12345678901.24");
    /* ordinary book and tape quantities */
    qty("0.32323", 5, 11, "0.32323");
    qty("0.32323", 5, 6, "0.3232");
    qty("3.74979", 5, 4, "3.75");
    qty("0.00009", 5, 4, "0.00");
    qty("0.000005", 5, 7, "0.00001"); /* half away from zero */
    qty("0.000004", 5, 7, "0.00000");
    qty("2.5", 0, 3, "3");
    qty("-2.5", 0, 3, "-3");
    qty("0", 4, 6, "0.0000");
    qty("999.99999999", 8, 6, "1000.0");
    qty("1234567", 0, 4, "1.2M");
    CHECK_DONE();
}
