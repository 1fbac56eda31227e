/*
 * Parser for the key=value,key=value option syntax (see
 * include/util/keyval.h for the grammar).
 *
 * The parser works element by element: it looks ahead from the start of an
 * element for the first '=' or ',' to decide whether the element is
 * "key=value", a bare value for the implied key, or a bare key; values are
 * then read with ",," unescaping up to the next single ','.  It copies
 * nothing but the resulting strings, so input length only costs linear
 * time.
 */
#include "util/keyval.h"

#include <string.h>

#include "util/cutils.h"

/* How much of a bad key is quoted back; keys are short by rule anyway. */
#define KEY_ECHO_MAX 64

void qutil_keyval_pair_free(QUtilKeyvalPair *pair)
{
    if (!pair) {
        return;
    }
    g_free(pair->key);
    g_free(pair->value);
    g_free(pair);
}

static bool key_char_ok(char c)
{
    return g_ascii_isalnum(c) || c == '_' || c == '-' || c == '.';
}

static bool validate_key(const char *key, size_t len, GError **errp)
{
    g_autofree char *copy = g_strndup(key, len);
    g_autofree char *shown = qutil_str_abbrev(copy, KEY_ECHO_MAX);

    if (len == 0) {
        g_set_error(errp, QUTIL_ERROR, QUTIL_ERROR_INVALID_ARGUMENT,
                    "empty parameter name");
        return false;
    }
    if (len > KEYVAL_KEY_MAX) {
        g_set_error(errp, QUTIL_ERROR, QUTIL_ERROR_INVALID_ARGUMENT,
                    "parameter name '%s' is too long (at most %d "
                    "characters)",
                    shown, KEYVAL_KEY_MAX);
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (!key_char_ok(key[i])) {
            g_set_error(errp, QUTIL_ERROR, QUTIL_ERROR_INVALID_ARGUMENT,
                        "invalid parameter name '%s' (use letters, "
                        "digits, '-', '_' and '.')",
                        shown);
            return false;
        }
    }
    if (key[0] == '.' || key[len - 1] == '.' || strstr(copy, "..")) {
        g_set_error(errp, QUTIL_ERROR, QUTIL_ERROR_INVALID_ARGUMENT,
                    "invalid parameter name '%s' (empty component "
                    "between dots)",
                    shown);
        return false;
    }
    return true;
}

/*
 * Read a value starting at @pos up to the first single ',' or the end,
 * turning ",," into ','.  Returns the value and leaves *@next after the
 * terminating ',' (or at the end of the string).
 */
static char *read_value(const char *pos, const char **next)
{
    GString *value = g_string_new(NULL);
    const char *p = pos;

    for (;;) {
        const char *comma = strchr(p, ',');
        if (!comma) {
            g_string_append(value, p);
            p += strlen(p);
            break;
        }
        g_string_append_len(value, p, comma - p);
        if (comma[1] == ',') {
            g_string_append_c(value, ',');
            p = comma + 2;
            continue;
        }
        p = comma + 1;
        break;
    }
    *next = p;
    return g_string_free(value, FALSE);
}

static bool is_help_word(const char *start, size_t len)
{
    return (len == 4 && strncmp(start, "help", 4) == 0) ||
           (len == 1 && start[0] == '?');
}

GPtrArray *qutil_keyval_parse(const char *params, const char *implied_key,
                              bool *help, GError **errp)
{
    g_autoptr(GPtrArray) pairs =
        g_ptr_array_new_with_free_func((GDestroyNotify)qutil_keyval_pair_free);
    g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
    const char *pos = params;
    bool first = true;

    g_return_val_if_fail(params != NULL, NULL);

    if (help) {
        *help = false;
    }

    while (*pos) {
        const char *start = pos;
        size_t span = strcspn(start, "=,");
        g_autofree char *key = NULL;
        char *value;

        if (start[span] == '=') {
            if (!validate_key(start, span, errp)) {
                return NULL;
            }
            key = g_strndup(start, span);
            value = read_value(start + span + 1, &pos);
        } else if (help && is_help_word(start, span)) {
            *help = true;
            pos = start + span;
            if (*pos == ',') {
                pos++;
            }
            first = false;
            continue;
        } else if (first && implied_key && span > 0) {
            key = g_strdup(implied_key);
            value = read_value(start, &pos);
        } else if (span == 0) {
            g_set_error(errp, QUTIL_ERROR, QUTIL_ERROR_INVALID_ARGUMENT,
                        "empty parameter name (an element starts "
                        "with ',')");
            return NULL;
        } else {
            /*
             * The element itself is not echoed: after "data=pass,word" it
             * is the tail of a secret whose comma was not doubled.  Name
             * the key before it instead.
             */
            if (pairs->len > 0) {
                QUtilKeyvalPair *prev = pairs->pdata[pairs->len - 1];
                g_autofree char *shown =
                    qutil_str_abbrev(prev->key, KEY_ECHO_MAX);

                g_set_error(errp, QUTIL_ERROR, QUTIL_ERROR_INVALID_ARGUMENT,
                            "the parameter after '%s' has no '=': write "
                            "KEY=VALUE, and a comma inside a value as "
                            "',,'",
                            shown);
            } else {
                g_set_error(errp, QUTIL_ERROR, QUTIL_ERROR_INVALID_ARGUMENT,
                            "the first parameter has no '=': write "
                            "KEY=VALUE");
            }
            return NULL;
        }
        first = false;

        if (g_hash_table_contains(seen, key)) {
            g_autofree char *shown = qutil_str_abbrev(key, KEY_ECHO_MAX);
            g_free(value);
            g_set_error(errp, QUTIL_ERROR, QUTIL_ERROR_INVALID_ARGUMENT,
                        "parameter '%s' is given more than once", shown);
            return NULL;
        }

        QUtilKeyvalPair *pair = g_new0(QUtilKeyvalPair, 1);
        pair->key = g_steal_pointer(&key);
        pair->value = value;
        g_ptr_array_add(pairs, pair);
        g_hash_table_add(seen, pair->key);
    }
    return g_steal_pointer(&pairs);
}

const char *qutil_keyval_lookup(GPtrArray *pairs, const char *key)
{
    g_return_val_if_fail(pairs != NULL && key != NULL, NULL);

    for (guint i = 0; i < pairs->len; i++) {
        QUtilKeyvalPair *pair = g_ptr_array_index(pairs, i);
        if (g_str_equal(pair->key, key)) {
            return pair->value;
        }
    }
    return NULL;
}
