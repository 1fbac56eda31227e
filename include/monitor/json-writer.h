/*
 * QMP output: a JsonNode as the bytes QEMU's monitor would send.
 *
 * QEMU's spacing ({"return": {}, "id": 1}), member order as inserted,
 * non-ASCII and control characters escaped as \uXXXX (upper-case hex,
 * surrogate pairs above U+FFFF) so the output is plain ASCII, doubles
 * with 17 significant digits.  Pretty output (-mon ...,pretty=on) puts
 * each member on its own line, indented by four spaces, with empty
 * objects and arrays opened and closed on two lines as QEMU does.
 *
 *     g_autoptr(GString) out = g_string_new(NULL);
 *     monitor_json_write(out, reply, MONITOR_JSON_CRLF);
 *     // {"return": {}}\r\n
 */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

typedef enum {
    MONITOR_JSON_PRETTY = 1 << 0, /* one member per line */
    MONITOR_JSON_CRLF = 1 << 1,   /* lines end with \r\n, and so does the
                                     value (a QMP message on the wire) */
} MonitorJsonWriteFlags;

/*
 * Append @node to @out.  With MONITOR_JSON_CRLF a line end follows the
 * value; without it nothing follows.  Strings that are not valid UTF-8
 * are written with U+FFFD for each bad byte.  A NULL @node is null.
 */
void monitor_json_write(GString *out, JsonNode *node,
                        MonitorJsonWriteFlags flags);

/* The same as a new string. */
char *monitor_json_to_string(JsonNode *node, MonitorJsonWriteFlags flags);

G_END_DECLS
