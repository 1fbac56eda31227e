/*
 * QMP output in QEMU's format.
 *
 * Subtle: the output must be ASCII and valid JSON whatever a command
 * returns, so strings are walked as UTF-8 with every bad byte written as
 * U+FFFD, and a double that is not finite (no JSON spelling) is null.
 * Negative zero is written -0.0 so that it reads back as a double.
 */
#include "monitor/json-writer.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

static void write_string(GString *out, const char *s)
{
    const char *p = s;
    const char *end = s + strlen(s);

    g_string_append_c(out, '"');
    while (p < end) {
        gunichar c = g_utf8_get_char_validated(p, end - p);

        if (c == (gunichar)-1 || c == (gunichar)-2) {
            c = 0xfffd;
            p++;
        } else {
            p = g_utf8_next_char(p);
        }
        switch (c) {
        case '"':
            g_string_append(out, "\\\"");
            break;
        case '\\':
            g_string_append(out, "\\\\");
            break;
        case '\b':
            g_string_append(out, "\\b");
            break;
        case '\f':
            g_string_append(out, "\\f");
            break;
        case '\n':
            g_string_append(out, "\\n");
            break;
        case '\r':
            g_string_append(out, "\\r");
            break;
        case '\t':
            g_string_append(out, "\\t");
            break;
        default:
            if (c >= 0x20 && c < 0x7f) {
                g_string_append_c(out, (char)c);
            } else if (c < 0x10000) {
                g_string_append_printf(out, "\\u%04X", c);
            } else {
                c -= 0x10000;
                g_string_append_printf(out, "\\u%04X\\u%04X",
                                       0xd800 + (c >> 10),
                                       0xdc00 + (c & 0x3ff));
            }
        }
    }
    g_string_append_c(out, '"');
}

static void write_value(GString *out, JsonNode *node)
{
    char buf[G_ASCII_DTOSTR_BUF_SIZE];
    double d;

    switch (json_node_get_value_type(node)) {
    case G_TYPE_INT64:
        g_string_append_printf(out, "%" G_GINT64_FORMAT,
                               json_node_get_int(node));
        break;
    case G_TYPE_DOUBLE:
        d = json_node_get_double(node);
        if (!isfinite(d)) {
            g_string_append(out, "null");
        } else if (d == 0 && signbit(d)) {
            /* "-0" would read back as the integer 0 */
            g_string_append(out, "-0.0");
        } else {
            g_string_append(out, g_ascii_formatd(buf, sizeof(buf), "%.17g", d));
        }
        break;
    case G_TYPE_BOOLEAN:
        g_string_append(out, json_node_get_boolean(node) ? "true" : "false");
        break;
    case G_TYPE_STRING:
        write_string(out, json_node_get_string(node));
        break;
    default:
        g_string_append(out, "null");
        break;
    }
}

static void newline(GString *out, MonitorJsonWriteFlags flags, unsigned level)
{
    g_string_append(out, (flags & MONITOR_JSON_CRLF) ? "\r\n" : "\n");
    for (unsigned i = 0; i < level; i++) {
        g_string_append(out, "    ");
    }
}

static void write_node(GString *out, JsonNode *node,
                       MonitorJsonWriteFlags flags, unsigned level)
{
    bool pretty = flags & MONITOR_JSON_PRETTY;

    if (!node) {
        g_string_append(out, "null");
        return;
    }
    switch (json_node_get_node_type(node)) {
    case JSON_NODE_OBJECT: {
        JsonObject *obj = json_node_get_object(node);
        JsonObjectIter iter;
        const char *name;
        JsonNode *member;
        bool first = true;

        g_string_append_c(out, '{');
        json_object_iter_init_ordered(&iter, obj);
        while (json_object_iter_next_ordered(&iter, &name, &member)) {
            if (!first) {
                g_string_append_c(out, ',');
                if (!pretty) {
                    g_string_append_c(out, ' ');
                }
            }
            first = false;
            if (pretty) {
                newline(out, flags, level + 1);
            }
            write_string(out, name);
            g_string_append(out, ": ");
            write_node(out, member, flags, level + 1);
        }
        if (pretty) {
            newline(out, flags, level);
        }
        g_string_append_c(out, '}');
        break;
    }
    case JSON_NODE_ARRAY: {
        JsonArray *arr = json_node_get_array(node);
        guint n = json_array_get_length(arr);

        g_string_append_c(out, '[');
        for (guint i = 0; i < n; i++) {
            if (i > 0) {
                g_string_append_c(out, ',');
                if (!pretty) {
                    g_string_append_c(out, ' ');
                }
            }
            if (pretty) {
                newline(out, flags, level + 1);
            }
            write_node(out, json_array_get_element(arr, i), flags, level + 1);
        }
        if (pretty) {
            newline(out, flags, level);
        }
        g_string_append_c(out, ']');
        break;
    }
    case JSON_NODE_VALUE:
        write_value(out, node);
        break;
    case JSON_NODE_NULL:
        g_string_append(out, "null");
        break;
    }
}

void monitor_json_write(GString *out, JsonNode *node,
                        MonitorJsonWriteFlags flags)
{
    write_node(out, node, flags, 0);
    if (flags & MONITOR_JSON_CRLF) {
        g_string_append(out, "\r\n");
    }
}

char *monitor_json_to_string(JsonNode *node, MonitorJsonWriteFlags flags)
{
    GString *out = g_string_new(NULL);

    monitor_json_write(out, node, flags);
    return g_string_free(out, false);
}
