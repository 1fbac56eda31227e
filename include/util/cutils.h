/*
 * Strict parsers for the small values users type on command lines and in
 * --object options: integers, floating-point numbers, sizes with binary
 * suffixes and booleans.
 *
 * The C library's strtol family skips leading blanks, silently wraps "-1"
 * into a huge unsigned value and stops quietly at the first bad character;
 * each of those has turned a typo into a wrong setting somewhere.  The
 * functions here accept a value only when the whole string is one, and
 * report everything else as QUTIL_ERROR_INVALID_ARGUMENT with a message that
 * quotes the offending text (shortened when it is long) and says what was
 * expected.  The message never names a property or object: callers know
 * those and prefix them.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/error.h"

G_BEGIN_DECLS

/*
 * Parse a signed 64-bit integer: an optional '-', then decimal digits or
 * "0x"/"0X" and hex digits.  No blanks, no '+', no octal (a leading 0 is
 * just decimal), nothing after the number.
 *
 *   qutil_strtoi64("-42", &v, errp)     -> true, v = -42
 *   qutil_strtoi64("0x10", &v, errp)    -> true, v = 16
 *   qutil_strtoi64("9223372036854775808", &v, errp) -> false (out of range)
 *
 * On failure *result is left untouched.
 */
bool qutil_strtoi64(const char *str, int64_t *result, GError **errp);

/*
 * As qutil_strtoi64() for an unsigned 64-bit integer.  A minus sign is an
 * error, never a wrap-around.
 */
bool qutil_strtou64(const char *str, uint64_t *result, GError **errp);

/*
 * Parse a finite floating-point number in the C locale ("0.5", "1e-3",
 * "-2").  Infinity, NaN, blanks and trailing text are rejected.
 */
bool qutil_strtod(const char *str, double *result, GError **errp);

/*
 * Parse a size in bytes: a number followed by an optional unit suffix,
 * case-insensitive, each a power of 1024:
 *
 *   B = 1, K = 2^10, M = 2^20, G = 2^30, T = 2^40, P = 2^50, E = 2^60
 *
 * "4096", "4k", "4K", "1.5M", "2G", "0x1000" are accepted.  A fractional
 * number needs a suffix of K or larger ("1.5" and "1.5B" are rejected
 * because a byte cannot be split), and the fractional bytes are truncated.
 * Hex numbers cannot have a fraction.  Negative numbers, blanks, unknown
 * suffixes ("1KiB", "1x") and values of 2^64 or more ("16E") are rejected.
 */
bool qutil_parse_size(const char *str, uint64_t *result, GError **errp);

/*
 * Parse a boolean: "on", "yes", "true" are true; "off", "no", "false" are
 * false.  The words are lower case, as QEMU accepts them; anything else is
 * an error.
 */
bool qutil_parse_bool(const char *str, bool *result, GError **errp);

/*
 * Return a copy of @str fit for an error message: strings longer than
 * @max bytes are cut (on a UTF-8 character boundary) and end in "...".
 * Invalid UTF-8 is replaced, so the result is always printable text.
 */
char *qutil_str_abbrev(const char *str, size_t max);

G_END_DECLS
