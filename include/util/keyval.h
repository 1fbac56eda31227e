/*
 * The key=value option syntax of --object and similar command-line
 * options, parsed into an ordered list of string pairs.
 *
 *   secret,id=sec0,data=letmein
 *   tls-creds-x509,id=tls0,dir=/etc/pki/qio,endpoint=server
 *
 * Rules:
 *  - Elements are separated by ','.  Inside a value ",," stands for one
 *    literal comma: "data=a,,b" is the value "a,b" and "data=a,," is "a,".
 *  - With an implied key, the first element may be a bare value: it is
 *    stored under that key ("secret" becomes qom-type=secret).  Only the
 *    first element can be implied.
 *  - Keys are 1 to KEYVAL_KEY_MAX characters from [A-Za-z0-9_.-].  Dotted
 *    keys ("rules.0.match") are returned as they are, flat; nothing builds
 *    nested structures from them yet.  A dotted key may not begin or end
 *    with '.' or contain "..".
 *  - Values may be empty ("data=").  A key without '=' is an error, except
 *    "help" and "?" when the caller asks about help.
 *  - A key given twice is an error.
 *  - One trailing ',' after the last element is ignored ("a=1," is "a=1"),
 *    as QEMU does; an empty element anywhere else (",a=1", "a=1,,,,") is
 *    an error or part of a value by the escaping rule above.
 *
 * Errors are QUTIL_ERROR_INVALID_ARGUMENT.  Messages name the offending key
 * but never echo a value: values may be secrets.  Callers in higher layers
 * (qom's --object front end) may re-code them into their own domain.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

#include "util/error.h"

G_BEGIN_DECLS

/* Longest accepted key, in bytes. */
#define KEYVAL_KEY_MAX 128

/* One key=value element; both strings are owned by the pair. */
typedef struct QUtilKeyvalPair {
    char *key;
    char *value;
} QUtilKeyvalPair;

/* Free a pair and its strings; NULL is allowed. */
void qutil_keyval_pair_free(QUtilKeyvalPair *pair);

/*
 * Parse @params.  @implied_key, when not NULL, is the key of a first
 * element given without '='.  @help, when not NULL, is set to true if an
 * element "help" or "?" appears without '=' (and to false otherwise); such
 * elements are not added to the list.  When @help is NULL they are errors
 * like any other key without a value.
 *
 * Returns a GPtrArray of QUtilKeyvalPair (its free function set), in input
 * order, or NULL with @errp set.  The empty string gives an empty array.
 *
 *   qutil_keyval_parse("secret,id=s0,data=a,,b", "qom-type", NULL, errp)
 *     -> [qom-type=secret, id=s0, data=a,b]
 */
GPtrArray *qutil_keyval_parse(const char *params, const char *implied_key,
                              bool *help, GError **errp);

/* The value stored under @key in @pairs (borrowed), or NULL. */
const char *qutil_keyval_lookup(GPtrArray *pairs, const char *key);

G_END_DECLS
