/*
 * The QMP input parser: one message's tokens to a JsonNode.
 *
 * The lexer has bounded everything (token sizes, token count, depth), so
 * the recursion here is at most max_depth deep and every allocation is
 * at most the size of the token it decodes.  What is left to check is
 * the grammar, the escapes in strings, UTF-8, and number ranges; the
 * messages are QEMU's ("JSON parse error, expected separator in list").
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "json-internal.h"
#include "monitor/error.h"

typedef struct {
    const uint8_t *buf;
    const MonitorJsonToken *toks;
    size_t n;
    size_t pos;
} Parser;

static void parse_error(GError **errp, const char *fmt, ...)
    G_GNUC_PRINTF(2, 3);

static void parse_error(GError **errp, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *msg = NULL;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(errp, MONITOR_ERROR, MONITOR_ERROR_JSON_SYNTAX,
                "JSON parse error, %s", msg);
}

static const MonitorJsonToken *peek(Parser *p)
{
    return p->pos < p->n ? &p->toks[p->pos] : NULL;
}

static const MonitorJsonToken *next(Parser *p)
{
    return p->pos < p->n ? &p->toks[p->pos++] : NULL;
}

static int hex_value(uint8_t c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/*
 * The four hex digits after "\u" at @s (@avail bytes available), or -1;
 * *text gets the escape as written, for the error message.
 */
static long read_hex4(const uint8_t *s, size_t avail, char **text)
{
    long v = 0;
    size_t n = MIN(avail, 4);

    g_free(*text);
    *text = g_strdup_printf("\\u%.*s", (int)n, (const char *)s);
    if (avail < 4) {
        return -1;
    }
    for (int i = 0; i < 4; i++) {
        int h = hex_value(s[i]);

        if (h < 0) {
            return -1;
        }
        v = v * 16 + h;
    }
    return v;
}

static bool bad_code_point(long cp)
{
    /* NUL cannot live in a C string; noncharacters are not for interchange */
    return cp == 0 || (cp >= 0xfdd0 && cp <= 0xfdef) || (cp & 0xfffe) == 0xfffe;
}

/* Decode a string token (quotes included) to a NUL-terminated UTF-8 string. */
static char *decode_string(const uint8_t *tok, size_t len, GError **errp)
{
    g_autoptr(GString) out = g_string_sized_new(len);
    size_t end = len - 1; /* the closing quote */
    size_t i = 1;

    while (i < end) {
        uint8_t c = tok[i];
        g_autofree char *text = NULL;
        long cp;

        if (c != '\\') {
            g_string_append_c(out, c);
            i++;
            continue;
        }
        /* The lexer guarantees a byte after the backslash before end. */
        c = tok[i + 1];
        i += 2;
        switch (c) {
        case '"':
        case '\\':
        case '/':
        case '\'':
            g_string_append_c(out, c);
            continue;
        case 'b':
            g_string_append_c(out, '\b');
            continue;
        case 'f':
            g_string_append_c(out, '\f');
            continue;
        case 'n':
            g_string_append_c(out, '\n');
            continue;
        case 'r':
            g_string_append_c(out, '\r');
            continue;
        case 't':
            g_string_append_c(out, '\t');
            continue;
        case 'u':
            break;
        default:
            parse_error(errp, "invalid escape sequence in string");
            return NULL;
        }

        cp = read_hex4(tok + i, len - i, &text);
        if (cp >= 0xd800 && cp <= 0xdbff) {
            g_autofree char *low_text = NULL;
            long low = -1;

            if (i + 6 <= end && tok[i + 4] == '\\' && tok[i + 5] == 'u') {
                low = read_hex4(tok + i + 6, len - i - 6, &low_text);
            }
            if (low < 0xdc00 || low > 0xdfff) {
                cp = -1;
            } else {
                cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
                i += 6;
            }
        } else if (cp >= 0xdc00 && cp <= 0xdfff) {
            cp = -1;
        }
        if (cp < 0 || bad_code_point(cp)) {
            g_autofree char *valid = g_utf8_make_valid(text, -1);

            parse_error(errp, "%s is not a valid Unicode character", valid);
            return NULL;
        }
        g_string_append_unichar(out, (gunichar)cp);
        i += 4;
    }

    if (!g_utf8_validate(out->str, out->len, NULL)) {
        parse_error(errp, "invalid UTF-8 sequence in string");
        return NULL;
    }
    return g_string_free(g_steal_pointer(&out), false);
}

static JsonNode *parse_value(Parser *p, GError **errp);

static JsonNode *parse_number(const MonitorJsonToken *t, const uint8_t *buf,
                              GError **errp)
{
    g_autofree char *text = g_strndup((const char *)buf + t->start, t->len);
    JsonNode *node = json_node_alloc();
    double d;

    if (t->type == MONITOR_JSON_TOK_INTEGER) {
        gint64 v;

        errno = 0;
        v = g_ascii_strtoll(text, NULL, 10);
        if (errno == 0) {
            return json_node_init_int(node, v);
        }
        /* Over gint64: a double, as QEMU does past uint64. */
    }
    errno = 0;
    d = g_ascii_strtod(text, NULL);
    if (!isfinite(d)) {
        json_node_unref(node);
        parse_error(errp, "number '%.32s' out of range", text);
        return NULL;
    }
    return json_node_init_double(node, d);
}

static JsonNode *parse_keyword(const MonitorJsonToken *t, const uint8_t *buf,
                               GError **errp)
{
    const char *text = (const char *)buf + t->start;

    if (t->len == 4 && !memcmp(text, "true", 4)) {
        return json_node_init_boolean(json_node_alloc(), true);
    }
    if (t->len == 5 && !memcmp(text, "false", 5)) {
        return json_node_init_boolean(json_node_alloc(), false);
    }
    if (t->len == 4 && !memcmp(text, "null", 4)) {
        return json_node_init_null(json_node_alloc());
    }
    parse_error(errp, "invalid keyword '%.*s'", (int)MIN(t->len, 64), text);
    return NULL;
}

static JsonNode *parse_object(Parser *p, GError **errp)
{
    g_autoptr(JsonObject) obj = json_object_new();
    const MonitorJsonToken *t = peek(p);

    if (t && t->type == MONITOR_JSON_TOK_RBRACE) {
        p->pos++;
        return json_node_init_object(json_node_alloc(), obj);
    }
    for (;;) {
        g_autofree char *key = NULL;
        JsonNode *value;

        t = next(p);
        if (!t || (t->type != MONITOR_JSON_TOK_STRING &&
                   t->type != MONITOR_JSON_TOK_INTEGER &&
                   t->type != MONITOR_JSON_TOK_FLOAT &&
                   t->type != MONITOR_JSON_TOK_KEYWORD &&
                   t->type != MONITOR_JSON_TOK_LBRACE &&
                   t->type != MONITOR_JSON_TOK_LSQUARE)) {
            parse_error(errp, "expecting value");
            return NULL;
        }
        if (t->type != MONITOR_JSON_TOK_STRING) {
            parse_error(errp, "key is not a string in object");
            return NULL;
        }
        key = decode_string(p->buf + t->start, t->len, errp);
        if (!key) {
            return NULL;
        }
        t = next(p);
        if (!t || t->type != MONITOR_JSON_TOK_COLON) {
            parse_error(errp, "missing : in object pair");
            return NULL;
        }
        value = parse_value(p, errp);
        if (!value) {
            return NULL;
        }
        if (json_object_has_member(obj, key)) {
            json_node_unref(value);
            parse_error(errp, "duplicate key");
            return NULL;
        }
        json_object_set_member(obj, key, value);

        t = next(p);
        if (t && t->type == MONITOR_JSON_TOK_RBRACE) {
            return json_node_init_object(json_node_alloc(), obj);
        }
        if (!t || t->type != MONITOR_JSON_TOK_COMMA) {
            parse_error(errp, "expected separator in dict");
            return NULL;
        }
    }
}

static JsonNode *parse_array(Parser *p, GError **errp)
{
    g_autoptr(JsonArray) arr = json_array_new();
    const MonitorJsonToken *t = peek(p);

    if (t && t->type == MONITOR_JSON_TOK_RSQUARE) {
        p->pos++;
        return json_node_init_array(json_node_alloc(), arr);
    }
    for (;;) {
        JsonNode *value = parse_value(p, errp);

        if (!value) {
            return NULL;
        }
        json_array_add_element(arr, value);
        t = next(p);
        if (t && t->type == MONITOR_JSON_TOK_RSQUARE) {
            return json_node_init_array(json_node_alloc(), arr);
        }
        if (!t || t->type != MONITOR_JSON_TOK_COMMA) {
            parse_error(errp, "expected separator in list");
            return NULL;
        }
    }
}

static JsonNode *parse_value(Parser *p, GError **errp)
{
    const MonitorJsonToken *t = next(p);

    if (!t) {
        parse_error(errp, "premature end of input");
        return NULL;
    }
    switch (t->type) {
    case MONITOR_JSON_TOK_LBRACE:
        return parse_object(p, errp);
    case MONITOR_JSON_TOK_LSQUARE:
        return parse_array(p, errp);
    case MONITOR_JSON_TOK_STRING: {
        char *s = decode_string(p->buf + t->start, t->len, errp);
        JsonNode *node;

        if (!s) {
            return NULL;
        }
        node = json_node_init_string(json_node_alloc(), s);
        g_free(s);
        return node;
    }
    case MONITOR_JSON_TOK_INTEGER:
    case MONITOR_JSON_TOK_FLOAT:
        return parse_number(t, p->buf, errp);
    case MONITOR_JSON_TOK_KEYWORD:
        return parse_keyword(t, p->buf, errp);
    default:
        parse_error(errp, "expecting value");
        return NULL;
    }
}

JsonNode *monitor_json_parse_tokens(const uint8_t *buf,
                                    const MonitorJsonToken *toks, size_t n,
                                    GError **errp)
{
    Parser p = { .buf = buf, .toks = toks, .n = n };
    JsonNode *value = parse_value(&p, errp);

    if (value && p.pos != p.n) {
        /* Only after an unbalanced closer: "[1]]" never reaches here. */
        json_node_unref(value);
        parse_error(errp, "expecting value");
        return NULL;
    }
    return value;
}
