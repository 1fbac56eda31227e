/*
 * The QMP input parser: splits a byte stream from a client into JSON
 * values and parses each one into a JsonNode, with every size bounded
 * before anything is allocated for it.
 *
 * A QMP client sends JSON values back to back, with no framing.  The
 * stream lexes the bytes as they arrive (any split: one byte at a time
 * or many messages in one read), counts brackets to find where a value
 * ends, and hands each complete value, or the error for a broken one,
 * to a callback.  The bounds (MonitorJsonLimits) are the size of one
 * token (a string, say), the bytes of all tokens of one message, the
 * number of tokens in one message and the nesting depth; going over any
 * of them reports MONITOR_ERROR_JSON_LIMIT and skips the rest of that
 * message without storing it, so a client cannot make the process
 * allocate more than the limits allow.
 *
 * Errors use QEMU's wording ("JSON parse error, expecting value",
 * "JSON nesting depth limit exceeded").  After a lexical error (a byte
 * that cannot start or continue a token) the stream skips input until a
 * newline or a bracket and starts over there, as QEMU does: a client
 * that is unsure of the parser's state sends a newline.
 *
 * The grammar is RFC 8259 plus QEMU's extensions: strings may also be
 * in single quotes (with \' as an escape), and \' is accepted in double
 * quoted strings.  Differences from QEMU: \u0000 is refused (strings are
 * C strings), and so are numbers out of the range of a double; integers
 * over the range of gint64 become doubles.
 *
 *     static void on_value(void *opaque, JsonNode *value, GError *err)
 *     {
 *         if (err) {
 *             reply_error(opaque, err);   // e.g. "JSON parse error, ..."
 *         } else {
 *             handle_request(opaque, value);
 *         }
 *     }
 *
 *     MonitorJsonStream *s = monitor_json_stream_new(NULL, on_value, mon);
 *     monitor_json_stream_feed(s, buf, n);   // for each read
 *     monitor_json_stream_free(s);
 */
#pragma once

#include <json-glib/json-glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

G_BEGIN_DECLS

typedef struct MonitorJsonLimits {
    size_t max_token;   /* bytes of one token, quotes included */
    size_t max_message; /* bytes of all the tokens of one message */
    size_t max_tokens;  /* tokens in one message */
    unsigned max_depth; /* nested objects and arrays, 1 for {} */
} MonitorJsonLimits;

/*
 * The defaults: 256 KiB per token, 1 MiB and 65536 tokens per message,
 * depth 64.  A QMP request is a few hundred bytes; the largest a client
 * sends in practice (ringbuf-write data, a secret) is far below these.
 */
#define MONITOR_JSON_MAX_TOKEN   (256 * 1024)
#define MONITOR_JSON_MAX_MESSAGE (1024 * 1024)
#define MONITOR_JSON_MAX_TOKENS  65536
#define MONITOR_JSON_MAX_DEPTH   64

/* Fill @limits with the defaults above. */
void monitor_json_limits_init(MonitorJsonLimits *limits);

/*
 * Called once per message, in order: @value (owned by the callee) is the
 * parsed value and @err is NULL, or @value is NULL and @err (owned by the
 * callee) says what was wrong, in MONITOR_ERROR with
 * MONITOR_ERROR_JSON_SYNTAX or MONITOR_ERROR_JSON_LIMIT.  The callback
 * must not free the stream.
 */
typedef void (*MonitorJsonEmit)(void *opaque, JsonNode *value, GError *err);

typedef struct MonitorJsonStream MonitorJsonStream;

/* A new stream; @limits NULL for the defaults.  Never fails. */
MonitorJsonStream *monitor_json_stream_new(const MonitorJsonLimits *limits,
                                           MonitorJsonEmit emit, void *opaque);

/*
 * Lex @len bytes of input; the callback runs for each message that ends
 * within them.  A message may span any number of calls.
 */
void monitor_json_stream_feed(MonitorJsonStream *s, const void *buf,
                              size_t len);

/*
 * The same, but return as soon as the callback has run once (a message
 * or an error ended): the number of bytes of @buf used, @len when no
 * message ended.  A consumer that must not run ahead of its output feeds
 * the rest later.
 */
size_t monitor_json_stream_feed_one(MonitorJsonStream *s, const void *buf,
                                    size_t len);

/*
 * Forget a partial message and any error recovery in progress, as if the
 * stream were new (a new client on the same chardev).
 */
void monitor_json_stream_reset(MonitorJsonStream *s);

/*
 * Bytes held for the message in progress (for tests and statistics; at
 * most max_message).
 */
size_t monitor_json_stream_pending(MonitorJsonStream *s);

void monitor_json_stream_free(MonitorJsonStream *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MonitorJsonStream, monitor_json_stream_free)

/*
 * Parse exactly one JSON value from @len bytes of @buf with the same
 * grammar, wording and @limits (NULL for the defaults).  Anything but
 * one value and whitespace is an error.
 *
 *     g_autoptr(JsonNode) args = monitor_json_parse("{\"a\": 1}", 8,
 *                                                   NULL, errp);
 */
JsonNode *monitor_json_parse(const void *buf, size_t len,
                             const MonitorJsonLimits *limits, GError **errp);

G_END_DECLS
