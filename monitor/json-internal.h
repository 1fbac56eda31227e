/*
 * What the QMP input lexer (json-stream.c) hands the parser
 * (json-parser.c): the tokens of one message, as offsets into the bytes
 * kept for it.
 */
#pragma once

#include <json-glib/json-glib.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    MONITOR_JSON_TOK_LBRACE = '{',
    MONITOR_JSON_TOK_RBRACE = '}',
    MONITOR_JSON_TOK_LSQUARE = '[',
    MONITOR_JSON_TOK_RSQUARE = ']',
    MONITOR_JSON_TOK_COLON = ':',
    MONITOR_JSON_TOK_COMMA = ',',
    MONITOR_JSON_TOK_STRING = 's',  /* quotes included */
    MONITOR_JSON_TOK_INTEGER = 'i', /* no fraction, no exponent */
    MONITOR_JSON_TOK_FLOAT = 'f',
    MONITOR_JSON_TOK_KEYWORD = 'k', /* letters: true, false, null or junk */
} MonitorJsonTokenType;

typedef struct MonitorJsonToken {
    uint32_t type;  /* MonitorJsonTokenType */
    uint32_t start; /* offset of the token's bytes in the message buffer */
    uint32_t len;   /* 0 for punctuation, which is not stored */
} MonitorJsonToken;

/*
 * Parse the @n tokens of one message whose bytes are in @buf.  The
 * lexer has checked the token shapes and the limits; the parser checks
 * the grammar, escapes, UTF-8 and number ranges.  Errors are
 * MONITOR_ERROR_JSON_SYNTAX with QEMU's wording.
 */
JsonNode *monitor_json_parse_tokens(const uint8_t *buf,
                                    const MonitorJsonToken *toks, size_t n,
                                    GError **errp);
