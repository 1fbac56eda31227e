/*
 * The QMP input stream: a resumable byte-at-a-time lexer and a splitter
 * that finds where each JSON value ends by counting brackets.
 *
 * What is subtle: every byte of a client's input is hostile, so nothing
 * grows without a check first.  Only token bytes are kept (whitespace is
 * dropped, punctuation is kept as a token type), in a buffer that grows
 * to at most max_message; tokens go in an array of at most max_tokens
 * entries; open brackets in a stack of max_depth bytes allocated once.
 * When a message goes over a bound, the error is reported at once and
 * the stream switches to discarding: it keeps lexing, keeps only a
 * counter of open brackets, and starts storing again when the message
 * that was too big has closed.  A lexical error instead drops the
 * message and skips input until a newline or a bracket (recovery), since
 * after a stray byte the bracket count cannot be trusted.
 */
#include "monitor/json-stream.h"

#include <string.h>

#include "json-internal.h"
#include "monitor/error.h"

/* Longest stray text quoted back in an error message. */
#define STRAY_TEXT_MAX 64
/* A message buffer larger than this is freed once its message is done. */
#define BUF_KEEP_MAX (64 * 1024)

typedef enum {
    LEX_START,
    LEX_STRING,
    LEX_STRING_ESC,
    LEX_NUM_MINUS,  /* "-" */
    LEX_NUM_ZERO,   /* "0" or "-0" */
    LEX_NUM_INT,    /* "12" */
    LEX_NUM_DOT,    /* "1." */
    LEX_NUM_FRAC,   /* "1.5" */
    LEX_NUM_E,      /* "1e" */
    LEX_NUM_E_SIGN, /* "1e-" */
    LEX_NUM_EXP,    /* "1e5" */
    LEX_KEYWORD,    /* "tru" */
    LEX_RECOVERY,   /* after a stray byte: skip to a newline or bracket */
} LexState;

struct MonitorJsonStream {
    MonitorJsonLimits lim;
    MonitorJsonEmit emit;
    void *opaque;

    LexState state;
    char quote;        /* '"' or '\'' in a string */
    bool float_number; /* the number in progress has '.' or an exponent */
    size_t tok_start;  /* offset of the token in progress in buf */
    size_t tok_len;    /* its length so far, counted even when discarding */

    uint8_t *buf; /* token bytes of the message in progress */
    size_t len;
    size_t cap;
    MonitorJsonToken *toks;
    size_t ntoks;
    size_t toks_cap;
    char *stack; /* open brackets, max_depth of them */
    unsigned depth;

    bool discard;          /* skipping the rest of a message over a limit */
    uint64_t discard_open; /* its brackets still open */
    uint64_t emitted;      /* callbacks run so far */
};

void monitor_json_limits_init(MonitorJsonLimits *limits)
{
    limits->max_token = MONITOR_JSON_MAX_TOKEN;
    limits->max_message = MONITOR_JSON_MAX_MESSAGE;
    limits->max_tokens = MONITOR_JSON_MAX_TOKENS;
    limits->max_depth = MONITOR_JSON_MAX_DEPTH;
}

MonitorJsonStream *monitor_json_stream_new(const MonitorJsonLimits *limits,
                                           MonitorJsonEmit emit, void *opaque)
{
    MonitorJsonStream *s = g_new0(MonitorJsonStream, 1);

    if (limits) {
        s->lim = *limits;
    } else {
        monitor_json_limits_init(&s->lim);
    }
    /* Offsets are 32-bit; nothing near that is useful for QMP anyway. */
    s->lim.max_message = CLAMP(s->lim.max_message, 1, G_MAXINT32);
    s->lim.max_token = CLAMP(s->lim.max_token, 1, s->lim.max_message);
    s->lim.max_tokens = CLAMP(s->lim.max_tokens, 1, G_MAXINT32);
    s->lim.max_depth = CLAMP(s->lim.max_depth, 1, 4096);
    s->emit = emit;
    s->opaque = opaque;
    s->stack = g_malloc(s->lim.max_depth);
    return s;
}

static void message_clear(MonitorJsonStream *s)
{
    s->len = 0;
    s->ntoks = 0;
    s->depth = 0;
    if (s->cap > BUF_KEEP_MAX) {
        g_clear_pointer(&s->buf, g_free);
        s->cap = 0;
    }
    if (s->toks_cap * sizeof(MonitorJsonToken) > BUF_KEEP_MAX) {
        g_clear_pointer(&s->toks, g_free);
        s->toks_cap = 0;
    }
}

void monitor_json_stream_reset(MonitorJsonStream *s)
{
    message_clear(s);
    s->state = LEX_START;
    s->tok_len = 0;
    s->discard = false;
    s->discard_open = 0;
}

size_t monitor_json_stream_pending(MonitorJsonStream *s)
{
    return s->len;
}

void monitor_json_stream_free(MonitorJsonStream *s)
{
    if (!s) {
        return;
    }
    g_free(s->buf);
    g_free(s->toks);
    g_free(s->stack);
    g_free(s);
}

static void emit_error(MonitorJsonStream *s, int code, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);

static void emit_error(MonitorJsonStream *s, int code, const char *fmt, ...)
{
    va_list ap;
    GError *err;

    va_start(ap, fmt);
    err = g_error_new_valist(MONITOR_ERROR, code, fmt, ap);
    va_end(ap);
    s->emitted++;
    s->emit(s->opaque, NULL, err);
}

/*
 * A bound was crossed: report it, drop what was kept of the message and
 * skip the rest of it, still counting its brackets.
 */
static void over_limit(MonitorJsonStream *s, const char *what)
{
    uint64_t open = s->depth;

    message_clear(s);
    s->discard = true;
    s->discard_open = open;
    emit_error(s, MONITOR_ERROR_JSON_LIMIT, "JSON %s limit exceeded", what);
}

/* Keep one byte of the token in progress, if the bounds allow it. */
static void store(MonitorJsonStream *s, uint8_t c)
{
    s->tok_len++;
    if (s->discard) {
        return;
    }
    if (s->tok_len > s->lim.max_token) {
        over_limit(s, "token size");
        return;
    }
    if (s->len >= s->lim.max_message) {
        over_limit(s, "message size");
        return;
    }
    if (s->len == s->cap) {
        size_t cap = MAX(s->cap * 2, 256);

        s->cap = MIN(cap, s->lim.max_message);
        s->buf = g_realloc(s->buf, s->cap);
    }
    s->buf[s->len++] = c;
}

static void token_begin(MonitorJsonStream *s, LexState state, uint8_t c)
{
    s->state = state;
    s->tok_start = s->len;
    s->tok_len = 0;
    s->float_number = false;
    store(s, c);
}

static void emit_message(MonitorJsonStream *s)
{
    GError *err = NULL;
    JsonNode *value =
        monitor_json_parse_tokens(s->buf, s->toks, s->ntoks, &err);

    message_clear(s);
    s->emitted++;
    s->emit(s->opaque, value, err);
}

static bool is_opener(int type)
{
    return type == MONITOR_JSON_TOK_LBRACE || type == MONITOR_JSON_TOK_LSQUARE;
}

static bool is_closer(int type)
{
    return type == MONITOR_JSON_TOK_RBRACE || type == MONITOR_JSON_TOK_RSQUARE;
}

/* In discard mode: count brackets until the message over a limit ends. */
static void discard_token(MonitorJsonStream *s, int type)
{
    if (is_opener(type)) {
        s->discard_open++;
    } else if (is_closer(type) && s->discard_open > 0) {
        s->discard_open--;
    }
    if (s->discard_open == 0) {
        s->discard = false;
        message_clear(s);
    }
}

static void token_done(MonitorJsonStream *s, int type)
{
    MonitorJsonToken *t;

    s->state = LEX_START;
    if (!s->discard && s->ntoks >= s->lim.max_tokens) {
        over_limit(s, "token count");
    }
    if (!s->discard && is_opener(type) && s->depth >= s->lim.max_depth) {
        over_limit(s, "nesting depth");
    }
    if (s->discard) {
        discard_token(s, type);
        return;
    }

    if (s->ntoks == s->toks_cap) {
        size_t cap = MAX(s->toks_cap * 2, 32);

        s->toks_cap = MIN(cap, s->lim.max_tokens);
        s->toks = g_renew(MonitorJsonToken, s->toks, s->toks_cap);
    }
    t = &s->toks[s->ntoks++];
    t->type = type;
    if (type == MONITOR_JSON_TOK_STRING || type == MONITOR_JSON_TOK_INTEGER ||
        type == MONITOR_JSON_TOK_FLOAT || type == MONITOR_JSON_TOK_KEYWORD) {
        t->start = s->tok_start;
        t->len = s->len - s->tok_start;
    } else {
        t->start = s->len;
        t->len = 0;
    }

    if (is_opener(type)) {
        s->stack[s->depth++] = type;
        return;
    }
    if (is_closer(type)) {
        char want = type == MONITOR_JSON_TOK_RBRACE ? '{' : '[';

        if (s->depth == 0 || s->stack[s->depth - 1] != want) {
            /* Unbalanced: let the parser say what is wrong, now. */
            emit_message(s);
            return;
        }
        s->depth--;
    }
    if (s->depth == 0) {
        emit_message(s);
    }
}

/*
 * A byte that cannot start or continue a token: report it with the
 * token so far ("stray '1.-'"), drop the message and skip to a newline
 * or a bracket.
 */
static void lex_error(MonitorJsonStream *s, uint8_t c, bool in_token)
{
    g_autoptr(GString) text = g_string_new(NULL);
    g_autofree char *valid = NULL;
    bool was_discarding = s->discard;

    if (in_token && !s->discard) {
        size_t n = s->len - s->tok_start;

        g_string_append_len(text, (const char *)s->buf + s->tok_start,
                            MIN(n, STRAY_TEXT_MAX));
        if (n > STRAY_TEXT_MAX) {
            g_string_append(text, "...");
        }
    }
    g_string_append_c(text, c);
    message_clear(s);
    s->discard = false;
    s->discard_open = 0;
    s->state = LEX_RECOVERY;
    if (was_discarding) {
        /* The message over a limit was reported already. */
        return;
    }
    valid = g_utf8_make_valid(text->str, text->len);
    emit_error(s, MONITOR_ERROR_JSON_SYNTAX, "JSON parse error, stray '%s'",
               valid);
}

static bool is_digit(uint8_t c)
{
    return c >= '0' && c <= '9';
}

static bool is_letter(uint8_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* The number in progress ends before @c, or @c is a stray byte. */
static bool number_end(MonitorJsonStream *s, uint8_t c)
{
    switch (s->state) {
    case LEX_NUM_ZERO:
    case LEX_NUM_INT:
    case LEX_NUM_FRAC:
    case LEX_NUM_EXP:
        token_done(s, s->float_number ? MONITOR_JSON_TOK_FLOAT
                                      : MONITOR_JSON_TOK_INTEGER);
        return true; /* look at @c again from the start state */
    default:
        lex_error(s, c, true);
        return false;
    }
}

/* Lex one byte; returns true when it must be looked at again. */
static bool lex_byte(MonitorJsonStream *s, uint8_t c)
{
    switch (s->state) {
    case LEX_RECOVERY:
        if (c == '\n' || c == 0xff) {
            s->state = LEX_START;
            return false;
        }
        if (c == '{' || c == '[' || c == '}' || c == ']') {
            s->state = LEX_START;
            return true;
        }
        return false;

    case LEX_START:
        switch (c) {
        case ' ':
        case '\t':
        case '\r':
        case '\n':
            return false;
        case '{':
        case '}':
        case '[':
        case ']':
        case ':':
        case ',':
            s->tok_len = 0;
            token_done(s, c);
            return false;
        case '"':
        case '\'':
            s->quote = c;
            token_begin(s, LEX_STRING, c);
            return false;
        case '-':
            token_begin(s, LEX_NUM_MINUS, c);
            return false;
        case '0':
            token_begin(s, LEX_NUM_ZERO, c);
            return false;
        default:
            if (is_digit(c)) {
                token_begin(s, LEX_NUM_INT, c);
            } else if (is_letter(c)) {
                token_begin(s, LEX_KEYWORD, c);
            } else {
                lex_error(s, c, false);
            }
            return false;
        }

    case LEX_STRING:
        if (c < 0x20) {
            lex_error(s, c, true);
        } else if (c == s->quote) {
            store(s, c);
            token_done(s, MONITOR_JSON_TOK_STRING);
        } else {
            if (c == '\\') {
                s->state = LEX_STRING_ESC;
            }
            store(s, c);
        }
        return false;

    case LEX_STRING_ESC:
        /* Any printable byte; the parser says which escapes are valid. */
        if (c < 0x20) {
            lex_error(s, c, true);
        } else {
            s->state = LEX_STRING;
            store(s, c);
        }
        return false;

    case LEX_KEYWORD:
        if (is_letter(c)) {
            store(s, c);
            return false;
        }
        token_done(s, MONITOR_JSON_TOK_KEYWORD);
        return true;

    case LEX_NUM_MINUS:
        if (c == '0') {
            s->state = LEX_NUM_ZERO;
        } else if (is_digit(c)) {
            s->state = LEX_NUM_INT;
        } else {
            return number_end(s, c);
        }
        store(s, c);
        return false;

    case LEX_NUM_ZERO:
    case LEX_NUM_INT:
        if (is_digit(c) && s->state == LEX_NUM_INT) {
            store(s, c);
        } else if (c == '.') {
            s->state = LEX_NUM_DOT;
            s->float_number = true;
            store(s, c);
        } else if (c == 'e' || c == 'E') {
            s->state = LEX_NUM_E;
            s->float_number = true;
            store(s, c);
        } else {
            return number_end(s, c);
        }
        return false;

    case LEX_NUM_DOT:
    case LEX_NUM_FRAC:
        if (is_digit(c)) {
            s->state = LEX_NUM_FRAC;
            store(s, c);
        } else if ((c == 'e' || c == 'E') && s->state == LEX_NUM_FRAC) {
            s->state = LEX_NUM_E;
            store(s, c);
        } else {
            return number_end(s, c);
        }
        return false;

    case LEX_NUM_E:
        if (c == '+' || c == '-') {
            s->state = LEX_NUM_E_SIGN;
            store(s, c);
            return false;
        }
        /* fall through */
    case LEX_NUM_E_SIGN:
    case LEX_NUM_EXP:
        if (is_digit(c)) {
            s->state = LEX_NUM_EXP;
            store(s, c);
            return false;
        }
        return number_end(s, c);
    }
    g_assert_not_reached();
}

void monitor_json_stream_feed(MonitorJsonStream *s, const void *buf, size_t len)
{
    const uint8_t *p = buf;

    for (size_t i = 0; i < len; i++) {
        while (lex_byte(s, p[i])) {
            /* the byte ended a token; look at it again */
        }
    }
}

size_t monitor_json_stream_feed_one(MonitorJsonStream *s, const void *buf,
                                    size_t len)
{
    const uint8_t *p = buf;
    uint64_t before = s->emitted;

    for (size_t i = 0; i < len; i++) {
        while (lex_byte(s, p[i])) {
            /* the byte ended a token; look at it again */
        }
        if (s->emitted != before) {
            return i + 1;
        }
    }
    return len;
}

typedef struct {
    JsonNode *value;
    GError *err;
    unsigned count;
} ParseOne;

static void parse_one_emit(void *opaque, JsonNode *value, GError *err)
{
    ParseOne *one = opaque;

    one->count++;
    if (one->count == 1) {
        one->value = value;
        one->err = err;
        return;
    }
    if (value) {
        json_node_unref(value);
    }
    if (err) {
        g_error_free(err);
    }
}

JsonNode *monitor_json_parse(const void *buf, size_t len,
                             const MonitorJsonLimits *limits, GError **errp)
{
    ParseOne one = { 0 };
    g_autoptr(MonitorJsonStream) s =
        monitor_json_stream_new(limits, parse_one_emit, &one);
    bool unfinished;

    monitor_json_stream_feed(s, buf, len);
    /* A number or keyword at the very end is complete there. */
    switch (s->state) {
    case LEX_NUM_ZERO:
    case LEX_NUM_INT:
    case LEX_NUM_FRAC:
    case LEX_NUM_EXP:
        number_end(s, ' ');
        break;
    case LEX_KEYWORD:
        token_done(s, MONITOR_JSON_TOK_KEYWORD);
        break;
    default:
        break;
    }
    unfinished = s->state != LEX_START || s->ntoks > 0 || s->discard;

    if (one.err) {
        g_propagate_error(errp, one.err);
        g_clear_pointer(&one.value, json_node_unref);
        return NULL;
    }
    if (one.count == 0 || (one.count == 1 && unfinished)) {
        g_set_error(errp, MONITOR_ERROR, MONITOR_ERROR_JSON_SYNTAX,
                    "JSON parse error, premature end of input");
        g_clear_pointer(&one.value, json_node_unref);
        return NULL;
    }
    if (one.count > 1 || unfinished) {
        g_set_error(errp, MONITOR_ERROR, MONITOR_ERROR_JSON_SYNTAX,
                    "JSON parse error, more than one value");
        g_clear_pointer(&one.value, json_node_unref);
        return NULL;
    }
    return one.value;
}
