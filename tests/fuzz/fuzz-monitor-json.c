/*
 * Fuzz target: the QMP input stream (monitor/json-stream.c and
 * json-parser.c), which reads every byte a QMP client sends.
 *
 * The input, from its second byte on, is the client's byte stream; the
 * first byte picks how it arrives and the bounds:
 *   bits 0-3  piece size: 0 the whole input in one call, else 1..15
 *             bytes per call (a message split at every place)
 *   bit 4     small limits (token 64, message 256, 32 tokens, depth 4),
 *             so every limit and the discarding after it is reached
 *             often; clear, the defaults
 *   bit 5     feed each piece with monitor_json_stream_feed_one(), one
 *             message at a time, as the QMP monitor does when its output
 *             is full; the bytes used must be all of them, or end just
 *             where a message ended
 *
 * Besides crashes, sanitizer reports and leaks, the target checks three
 * properties and aborts when one fails: the bytes held for a message
 * never exceed the message bound; every value parsed is written back
 * (json-writer.c) as text that parses again to the same text; and every
 * error is in MONITOR_ERROR with a syntax or limit code and a message
 * that is valid UTF-8.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "monitor/error.h"
#include "monitor/json-stream.h"
#include "monitor/json-writer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_emit(void *opaque, JsonNode *value, GError *err)
{
    unsigned *emitted = opaque;

    (*emitted)++;
    if (err) {
        if (err->domain != MONITOR_ERROR ||
            (err->code != MONITOR_ERROR_JSON_SYNTAX &&
             err->code != MONITOR_ERROR_JSON_LIMIT) ||
            !g_utf8_validate(err->message, -1, NULL)) {
            abort();
        }
        g_error_free(err);
        return;
    }

    g_autofree char *text = monitor_json_to_string(value, 0);
    g_autofree char *pretty =
        monitor_json_to_string(value, MONITOR_JSON_PRETTY | MONITOR_JSON_CRLF);
    g_autoptr(GError) again_err = NULL;
    /* The writer's output is bounded by ~12x the input: parse it freely. */
    MonitorJsonLimits lim = {
        .max_token = G_MAXINT32,
        .max_message = G_MAXINT32,
        .max_tokens = G_MAXINT32,
        .max_depth = 4096,
    };
    g_autoptr(JsonNode) again =
        monitor_json_parse(text, strlen(text), &lim, &again_err);
    g_autoptr(JsonNode) again_pretty =
        monitor_json_parse(pretty, strlen(pretty), &lim, &again_err);
    g_autofree char *text2 = NULL;
    g_autofree char *text3 = NULL;

    json_node_unref(value);
    if (!again || !again_pretty) {
        abort();
    }
    text2 = monitor_json_to_string(again, 0);
    text3 = monitor_json_to_string(again_pretty, 0);
    if (strcmp(text, text2) || strcmp(text, text3)) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    MonitorJsonLimits small = {
        .max_token = 64,
        .max_message = 256,
        .max_tokens = 32,
        .max_depth = 4,
    };
    MonitorJsonLimits lim;
    g_autoptr(MonitorJsonStream) s = NULL;
    size_t piece;
    bool one_at_a_time;
    unsigned emitted = 0;

    if (size < 1) {
        return 0;
    }
    if (data[0] & 0x10) {
        lim = small;
    } else {
        monitor_json_limits_init(&lim);
    }
    piece = data[0] & 0x0f;
    one_at_a_time = data[0] & 0x20;
    data++;
    size--;
    if (piece == 0) {
        piece = size ? size : 1;
    }

    s = monitor_json_stream_new(&lim, check_emit, &emitted);
    for (size_t off = 0; off < size; off += piece) {
        size_t len = MIN(piece, size - off);

        if (!one_at_a_time) {
            monitor_json_stream_feed(s, data + off, len);
        } else {
            for (size_t used = 0; used < len;) {
                unsigned before = emitted;
                size_t n = monitor_json_stream_feed_one(s, data + off + used,
                                                        len - used);

                if (n == 0 || n > len - used ||
                    (n < len - used && emitted == before)) {
                    abort();
                }
                used += n;
            }
        }
        if (monitor_json_stream_pending(s) > lim.max_message) {
            abort();
        }
    }
    return 0;
}
