/*
 * Strict number, size and boolean parsers (see include/util/cutils.h).
 *
 * Digits are accumulated by hand rather than through strtoull() so that
 * every rule (no blanks, no sign on unsigned values, no octal, overflow
 * detection) is visible here instead of depending on errno and end-pointer
 * checks at every caller.
 */
#include "util/cutils.h"

#include <errno.h>
#include <math.h>
#include <string.h>

/* Echoed values are shortened so a pasted megabyte stays out of logs. */
#define ECHO_MAX 64

char *qutil_str_abbrev(const char *str, size_t max)
{
    g_autofree char *valid = g_utf8_make_valid(str, -1);
    size_t len = strlen(valid);

    if (len <= max) {
        return g_steal_pointer(&valid);
    }
    /* Step back to the start of the character that straddles @max. */
    const char *cut = valid + max;
    while (cut > valid && ((unsigned char)*cut & 0xc0) == 0x80) {
        cut--;
    }
    return g_strdup_printf("%.*s...", (int)(cut - valid), valid);
}

static void set_invalid(GError **errp, const char *str, const char *what)
{
    g_autofree char *shown = qutil_str_abbrev(str, ECHO_MAX);

    g_set_error(errp, QUTIL_ERROR, QUTIL_ERROR_INVALID_ARGUMENT,
                "'%s' is not %s", shown, what);
}

/*
 * Consume the digits of an unsigned number at *@pos (decimal, or hex after
 * "0x").  Returns 1 on success, 0 when there are no digits, -1 on
 * overflow.  *@pos is left after the last digit and *@hex says which base
 * was used.
 */
static int scan_unsigned(const char **pos, uint64_t *value, bool *hex)
{
    const char *p = *pos;
    unsigned base = 10;
    uint64_t acc = 0;
    bool overflow = false;
    const char *digits;

    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X') &&
        g_ascii_xdigit_value(p[2]) >= 0) {
        base = 16;
        p += 2;
    }
    digits = p;
    for (;;) {
        int d = g_ascii_xdigit_value(*p);
        if (d < 0 || (unsigned)d >= base) {
            break;
        }
        if (acc > (UINT64_MAX - (unsigned)d) / base) {
            overflow = true;
        } else {
            acc = acc * base + (unsigned)d;
        }
        p++;
    }
    if (p == digits) {
        return 0;
    }
    *pos = p;
    *value = acc;
    *hex = base == 16;
    return overflow ? -1 : 1;
}

bool qutil_strtou64(const char *str, uint64_t *result, GError **errp)
{
    const char *p = str;
    uint64_t value;
    bool hex;
    int r;

    g_return_val_if_fail(str != NULL, false);

    if (*p == '-') {
        g_autofree char *shown = qutil_str_abbrev(str, ECHO_MAX);
        g_set_error(errp, QUTIL_ERROR, QUTIL_ERROR_INVALID_ARGUMENT,
                    "'%s' is negative, a non-negative integer is "
                    "expected",
                    shown);
        return false;
    }
    r = scan_unsigned(&p, &value, &hex);
    if (r == 0 || *p != '\0') {
        set_invalid(errp, str, "an integer");
        return false;
    }
    if (r < 0) {
        set_invalid(errp, str, "an integer below 2^64");
        return false;
    }
    *result = value;
    return true;
}

bool qutil_strtoi64(const char *str, int64_t *result, GError **errp)
{
    const char *p = str;
    bool negative = false;
    uint64_t magnitude;
    bool hex;
    int r;

    g_return_val_if_fail(str != NULL, false);

    if (*p == '-') {
        negative = true;
        p++;
    }
    r = scan_unsigned(&p, &magnitude, &hex);
    if (r == 0 || *p != '\0') {
        set_invalid(errp, str, "an integer");
        return false;
    }
    if (r < 0 || (!negative && magnitude > (uint64_t)INT64_MAX) ||
        (negative && magnitude > (uint64_t)INT64_MAX + 1)) {
        set_invalid(errp, str, "a 64-bit signed integer");
        return false;
    }
    if (negative) {
        /* Negate in unsigned arithmetic so INT64_MIN does not overflow. */
        *result = (int64_t)(0 - magnitude);
    } else {
        *result = (int64_t)magnitude;
    }
    return true;
}

bool qutil_strtod(const char *str, double *result, GError **errp)
{
    char *end = NULL;
    double value;

    g_return_val_if_fail(str != NULL, false);

    /* g_ascii_strtod would skip blanks; a value never starts with one. */
    if (*str == '\0' || g_ascii_isspace(*str)) {
        set_invalid(errp, str, "a number");
        return false;
    }
    errno = 0;
    value = g_ascii_strtod(str, &end);
    if (end == str || *end != '\0') {
        set_invalid(errp, str, "a number");
        return false;
    }
    if (!isfinite(value)) {
        set_invalid(errp, str, "a finite number");
        return false;
    }
    *result = value;
    return true;
}

/* The power of 1024 for a unit letter, or -1 when it is not one. */
static int suffix_shift(char c)
{
    switch (g_ascii_toupper(c)) {
    case 'B':
        return 0;
    case 'K':
        return 10;
    case 'M':
        return 20;
    case 'G':
        return 30;
    case 'T':
        return 40;
    case 'P':
        return 50;
    case 'E':
        return 60;
    default:
        return -1;
    }
}

bool qutil_parse_size(const char *str, uint64_t *result, GError **errp)
{
    static const char expected[] =
        "a size (a number with an optional B, K, M, G, T, P or E suffix)";
    const char *p = str;
    uint64_t whole;
    bool hex;
    int r;
    const char *frac_start = NULL;
    size_t frac_len = 0;
    int shift = 0;
    uint64_t mul;

    g_return_val_if_fail(str != NULL, false);

    if (*p == '-') {
        g_autofree char *shown = qutil_str_abbrev(str, ECHO_MAX);
        g_set_error(errp, QUTIL_ERROR, QUTIL_ERROR_INVALID_ARGUMENT,
                    "'%s' is negative, a size is expected", shown);
        return false;
    }
    r = scan_unsigned(&p, &whole, &hex);
    if (r == 0) {
        set_invalid(errp, str, expected);
        return false;
    }
    if (*p == '.' && !hex) {
        p++;
        frac_start = p;
        while (g_ascii_isdigit(*p)) {
            p++;
        }
        frac_len = p - frac_start;
        if (frac_len == 0) {
            set_invalid(errp, str, expected);
            return false;
        }
    }
    if (*p != '\0') {
        shift = suffix_shift(*p);
        if (shift < 0 || p[1] != '\0') {
            set_invalid(errp, str, expected);
            return false;
        }
    }
    if (frac_start && shift == 0) {
        g_autofree char *shown = qutil_str_abbrev(str, ECHO_MAX);
        g_set_error(errp, QUTIL_ERROR, QUTIL_ERROR_INVALID_ARGUMENT,
                    "'%s' is not a whole number of bytes (a fraction "
                    "needs a K, M, G, T, P or E suffix)",
                    shown);
        return false;
    }

    mul = (uint64_t)1 << shift;
    if (r < 0 || whole > UINT64_MAX / mul) {
        set_invalid(errp, str, "a size below 2^64 bytes (16E)");
        return false;
    }
    whole *= mul;
    if (frac_start) {
        g_autofree char *frac_text =
            g_strdup_printf("0.%.*s", (int)frac_len, frac_start);
        double frac = g_ascii_strtod(frac_text, NULL);
        /* frac < 1 and mul <= 2^60, so the product fits a uint64_t. */
        uint64_t extra = (uint64_t)(frac * (double)mul);
        /* Rounding may turn ".99999999999999999999" into 1; truncate. */
        if (extra >= mul) {
            extra = mul - 1;
        }
        if (extra > UINT64_MAX - whole) {
            set_invalid(errp, str, "a size below 2^64 bytes (16E)");
            return false;
        }
        whole += extra;
    }
    *result = whole;
    return true;
}

bool qutil_parse_bool(const char *str, bool *result, GError **errp)
{
    g_return_val_if_fail(str != NULL, false);

    if (g_str_equal(str, "on") || g_str_equal(str, "yes") ||
        g_str_equal(str, "true")) {
        *result = true;
        return true;
    }
    if (g_str_equal(str, "off") || g_str_equal(str, "no") ||
        g_str_equal(str, "false")) {
        *result = false;
        return true;
    }
    set_invalid(errp, str, "a boolean (use on/off, yes/no or true/false)");
    return false;
}
