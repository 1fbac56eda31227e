/*
 * Unit tests for the QMP input stream (monitor/json-stream.c and
 * json-parser.c) and the output writer (json-writer.c): values split at
 * every byte, QEMU's error wording, resynchronisation after a broken
 * message, every limit (with the memory held checked against it), and
 * QEMU's output format.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "monitor/error.h"
#include "monitor/json-stream.h"
#include "monitor/json-writer.h"

/* What a stream emitted, one line per message: the value or the error. */
typedef struct {
    GPtrArray *out;
    MonitorJsonStream *s;
    size_t max_pending; /* largest monitor_json_stream_pending() seen */
} Collect;

static void collect_emit(void *opaque, JsonNode *value, GError *err)
{
    Collect *c = opaque;

    if (err) {
        const char *kind = err->code == MONITOR_ERROR_JSON_LIMIT    ? "LIMIT"
                           : err->code == MONITOR_ERROR_JSON_SYNTAX ? "SYNTAX"
                                                                    : "OTHER";

        assert_int_equal(err->domain, MONITOR_ERROR);
        assert_null(value);
        g_ptr_array_add(c->out, g_strdup_printf("%s: %s", kind, err->message));
        g_error_free(err);
        return;
    }
    assert_non_null(value);
    g_ptr_array_add(c->out, monitor_json_to_string(value, 0));
    json_node_unref(value);
}

/* Feed @input in pieces of @chunk bytes (0: all at once); the lines. */
static GPtrArray *run(const MonitorJsonLimits *lim, const char *input,
                      size_t len, size_t chunk, size_t *max_pending)
{
    Collect c = { .out = g_ptr_array_new_with_free_func(g_free) };
    size_t off = 0;

    c.s = monitor_json_stream_new(lim, collect_emit, &c);
    if (!chunk) {
        chunk = len ? len : 1;
    }
    while (off < len) {
        size_t n = MIN(chunk, len - off);

        monitor_json_stream_feed(c.s, input + off, n);
        c.max_pending = MAX(c.max_pending, monitor_json_stream_pending(c.s));
        off += n;
    }
    monitor_json_stream_free(c.s);
    if (max_pending) {
        *max_pending = c.max_pending;
    }
    return c.out;
}

/*
 * Check that @input gives exactly the lines @expected (NULL-terminated),
 * fed whole, one byte at a time, and in pieces of 3 and 7 bytes.
 */
static void check_stream(const char *input, const char *const *expected)
{
    static const size_t chunks[] = { 0, 1, 3, 7 };

    for (size_t k = 0; k < G_N_ELEMENTS(chunks); k++) {
        g_autoptr(GPtrArray) got =
            run(NULL, input, strlen(input), chunks[k], NULL);
        size_t n = g_strv_length((char **)expected);

        for (size_t i = 0; i < MAX(n, got->len); i++) {
            const char *g = i < got->len ? got->pdata[i] : "(nothing)";
            const char *e = i < n ? expected[i] : "(nothing)";

            if (strcmp(g, e)) {
                fail_msg("input '%s' chunk %zu line %zu: got '%s', want '%s'",
                         input, chunks[k], i, g, e);
            }
        }
    }
}

static void test_values(void **state)
{
    check_stream(
        "{\"execute\":\"qmp_capabilities\"}",
        (const char *[]){ "{\"execute\": \"qmp_capabilities\"}", NULL });
    check_stream(" {\"a\" : [1, -2, 3.5, true, false, null, {}, []] }\n",
                 (const char *[]){ "{\"a\": [1, -2, 3.5, true, false, null, "
                                   "{}, []]}",
                                   NULL });
    /* Back to back, no separator; scalars end at the next byte. */
    check_stream("{}[]\"x\"1 {\"b\":{\"c\":[[]]}}null\n",
                 (const char *[]){ "{}", "[]", "\"x\"", "1",
                                   "{\"b\": {\"c\": [[]]}}", "null", NULL });
    /* Member order is kept. */
    check_stream("{\"z\":1,\"a\":2,\"m\":3}",
                 (const char *[]){ "{\"z\": 1, \"a\": 2, \"m\": 3}", NULL });
}

static void test_strings(void **state)
{
    check_stream("\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\" ",
                 (const char *[]){ "\"a\\\"b\\\\c/d\\b\\f\\n\\r\\t\"", NULL });
    /* QEMU's single quotes, and \' in either kind. */
    check_stream(
        "{'execute':'x\\'y\"'} \"\\'\"",
        (const char *[]){ "{\"execute\": \"x'y\\\"\"}", "\"'\"", NULL });
    /* \u escapes, a surrogate pair, raw UTF-8; written back as ASCII. */
    check_stream(
        "\"\\u00e9\\u20AC\\ud834\\udd1e\xc3\xa9\\u001f\\u007f\"",
        (const char *[]){ "\"\\u00E9\\u20AC\\uD834\\uDD1E\\u00E9\\u001F"
                          "\\u007F\"",
                          NULL });
    check_stream("\"\\u12\" ",
                 (const char *[]){ "SYNTAX: JSON parse error, \\u12\" is not "
                                   "a valid Unicode character",
                                   NULL });
    check_stream("\"\\u12g4\"",
                 (const char *[]){ "SYNTAX: JSON parse error, \\u12g4 is not "
                                   "a valid Unicode character",
                                   NULL });
    check_stream(
        "\"\\udc00\" \"\\ud800\" \"\\ud800\\u0041\" \"\\uFFFE\"",
        (const char *[]){ "SYNTAX: JSON parse error, \\udc00 is not a valid "
                          "Unicode character",
                          "SYNTAX: JSON parse error, \\ud800 is not a valid "
                          "Unicode character",
                          "SYNTAX: JSON parse error, \\ud800 is not a valid "
                          "Unicode character",
                          "SYNTAX: JSON parse error, \\uFFFE is not a valid "
                          "Unicode character",
                          NULL });
    /* NUL cannot be carried in a C string: refused, not truncated. */
    check_stream("\"a\\u0000b\"",
                 (const char *[]){ "SYNTAX: JSON parse error, \\u0000 is not "
                                   "a valid Unicode character",
                                   NULL });
    check_stream("\"\\x\"",
                 (const char *[]){ "SYNTAX: JSON parse error, invalid escape "
                                   "sequence in string",
                                   NULL });
    /* Overlong, surrogate, truncated and out-of-range UTF-8. */
    check_stream(
        "\"\xc0\x80\" \"\xed\xa0\x80\" \"\xe2\x82\" "
        "\"\xf4\x90\x80\x80\" \"\xfe\"",
        (const char *[]){ "SYNTAX: JSON parse error, invalid UTF-8 sequence in "
                          "string",
                          "SYNTAX: JSON parse error, invalid UTF-8 sequence in "
                          "string",
                          "SYNTAX: JSON parse error, invalid UTF-8 sequence in "
                          "string",
                          "SYNTAX: JSON parse error, invalid UTF-8 sequence in "
                          "string",
                          "SYNTAX: JSON parse error, invalid UTF-8 sequence in "
                          "string",
                          NULL });
}

static void test_numbers(void **state)
{
    check_stream("[0, -0, 9223372036854775807, -9223372036854775808, "
                 "9223372036854775808, 1.5, 1E5, -0.0, 0.1, 1e-400, 2e+3]",
                 (const char *[]){ "[0, 0, 9223372036854775807, "
                                   "-9223372036854775808, "
                                   "9.2233720368547758e+18, 1.5, 100000, -0.0, "
                                   "0.10000000000000001, 0, 2000]",
                                   NULL });
    check_stream("[1e999]",
                 (const char *[]){ "SYNTAX: JSON parse error, number '1e999' "
                                   "out of range",
                                   NULL });
    /* A number at depth 0 ends at the byte after it. */
    check_stream("12 ", (const char *[]){ "12", NULL });
    check_stream("12", (const char *[]){ NULL });
    /* Lexically broken numbers are stray, with the token so far. */
    check_stream("1.-\n{}",
                 (const char *[]){ "SYNTAX: JSON parse error, stray '1.-'",
                                   "{}", NULL });
    check_stream(
        "-x\n[]",
        (const char *[]){ "SYNTAX: JSON parse error, stray '-x'", "[]", NULL });
}

/* The grammar errors, in QEMU's words. */
static void test_syntax_errors(void **state)
{
    static const struct {
        const char *in;
        const char *msg;
    } cases[] = {
        { "}", "expecting value" },
        { "]", "expecting value" },
        { ":", "expecting value" },
        { ",", "expecting value" },
        { "[1,]", "expecting value" },
        { "[,]", "expecting value" },
        { "[1,,2]", "expecting value" },
        { "{,}", "expecting value" },
        { "{\"a\":1,}", "expecting value" },
        { "{\"a\":}", "expecting value" },
        { "{\"a\"::1}", "expecting value" },
        { "{\"a\" 1}", "missing : in object pair" },
        { "{\"a\"}", "missing : in object pair" },
        { "{1:2}", "key is not a string in object" },
        { "{\"a\":1]", "expected separator in dict" },
        { "{\"a\":1 \"b\":2}", "expected separator in dict" },
        { "[1 2]", "expected separator in list" },
        { "[1}", "expected separator in list" },
        { "[true false]", "expected separator in list" },
        { "[nul]", "invalid keyword 'nul'" },
        { "{\"a\":tru}", "invalid keyword 'tru'" },
        { "{\"a\":1,\"a\":2}", "duplicate key" },
        { "@", "stray '@'" },
        { "\x01", "stray '\x01'" },
        { "\"abc\n", "stray '\"abc\n'" },
        { "\"a\tb\"", "stray '\"a\t'" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *want =
            g_strdup_printf("SYNTAX: JSON parse error, %s", cases[i].msg);
        const char *expected[] = { want, NULL };

        check_stream(cases[i].in, expected);
    }
    /* A bare word is one token; it ends at the first non-letter. */
    check_stream("foo\n", (const char *[]){ "SYNTAX: JSON parse error, invalid "
                                            "keyword 'foo'",
                                            NULL });
    /* Stray bytes are quoted back as valid UTF-8. */
    check_stream("\xff{}", (const char *[]){ "SYNTAX: JSON parse error, stray "
                                             "'\xef\xbf\xbd'",
                                             "{}", NULL });
}

/* After a broken message, the next good one on a new line gets through. */
static void test_resync(void **state)
{
    check_stream("{\"execute\": @ \"x\", \"y\": 1\n{\"execute\":\"a\"}",
                 (const char *[]){ "SYNTAX: JSON parse error, stray '@'",
                                   "{\"execute\": \"a\"}", NULL });
    /* As in QEMU, the broken message's own closer is an error of its own. */
    check_stream("{\"execute\": @ \"x\"}\n{\"execute\":\"a\"}",
                 (const char *[]){ "SYNTAX: JSON parse error, stray '@'",
                                   "SYNTAX: JSON parse error, expecting value",
                                   "{\"execute\": \"a\"}", NULL });
    /* Recovery restarts at a bracket too: the closer left over is an error. */
    check_stream("[1, @ 2]{}",
                 (const char *[]){ "SYNTAX: JSON parse error, stray '@'",
                                   "SYNTAX: JSON parse error, expecting value",
                                   "{}", NULL });
    /* An unterminated string swallows until a control byte. */
    check_stream("{\"a\": \"xyz\r\n{\"b\":1}",
                 (const char *[]){ "SYNTAX: JSON parse error, stray '\"xyz\r'",
                                   "{\"b\": 1}", NULL });
    /* A parse error drops only its own message. */
    check_stream("{\"a\" 1}{\"c\":2}",
                 (const char *[]){ "SYNTAX: JSON parse error, missing : in "
                                   "object pair",
                                   "{\"c\": 2}", NULL });
    /* A stray byte inside a long string is reported with a bounded quote. */
    {
        g_autofree char *pad = g_strnfill(1000, 'a');
        g_autofree char *in = g_strdup_printf("\"%s\x02\n[]", pad);
        g_autoptr(GPtrArray) got = run(NULL, in, strlen(in), 0, NULL);

        assert_int_equal(got->len, 2);
        assert_true(strlen(got->pdata[0]) < 200);
        assert_string_equal(got->pdata[1], "[]");
    }
}

static MonitorJsonLimits small_limits(void)
{
    MonitorJsonLimits lim = {
        .max_token = 100,
        .max_message = 400,
        .max_tokens = 50,
        .max_depth = 8,
    };
    return lim;
}

/*
 * One error for the whole message over a limit, nothing for its rest,
 * and the next message parses; the bytes held never exceed the bound.
 */
static void check_limit(const char *bad, const char *what)
{
    MonitorJsonLimits lim = small_limits();
    g_autofree char *in = g_strdup_printf("%s{\"next\":1}", bad);
    g_autofree char *want =
        g_strdup_printf("LIMIT: JSON %s limit exceeded", what);
    static const size_t chunks[] = { 0, 1, 5 };

    for (size_t k = 0; k < G_N_ELEMENTS(chunks); k++) {
        size_t pending = 0;
        g_autoptr(GPtrArray) got =
            run(&lim, in, strlen(in), chunks[k], &pending);

        if (got->len != 2) {
            fail_msg("%s: %u lines, first '%s'", what, got->len,
                     got->len ? (char *)got->pdata[0] : "");
        }
        assert_string_equal(got->pdata[0], want);
        assert_string_equal(got->pdata[1], "{\"next\": 1}");
        assert_true(pending <= lim.max_message);
    }
}

/* @mid inside @depth arrays. */
static char *nest(size_t depth, const char *mid)
{
    g_autofree char *open = g_strnfill(depth, '[');
    g_autofree char *close = g_strnfill(depth, ']');

    return g_strconcat(open, mid, close, NULL);
}

static void test_limits(void **state)
{
    MonitorJsonLimits lim = small_limits();
    g_autofree char *deep_ok = nest(8, "");
    g_autofree char *deep_bad = nest(9, "");
    g_autofree char *very_deep = nest(5000, "1");
    g_autofree char *xs = g_strnfill(94, 'x');
    g_autofree char *long_string = g_strdup_printf("{\"a\":\"%s\"}", xs);
    g_autofree char *big_message =
        g_strdup("[\"0123456789012345678901234567890123456789\","
                 "\"0123456789012345678901234567890123456789\","
                 "\"0123456789012345678901234567890123456789\","
                 "\"0123456789012345678901234567890123456789\","
                 "\"0123456789012345678901234567890123456789\","
                 "\"0123456789012345678901234567890123456789\","
                 "\"0123456789012345678901234567890123456789\","
                 "\"0123456789012345678901234567890123456789\","
                 "\"0123456789012345678901234567890123456789\","
                 "\"0123456789012345678901234567890123456789\"]");
    g_autoptr(GString) many = g_string_new("[");
    g_autoptr(GPtrArray) got = NULL;

    for (int i = 0; i < 30; i++) {
        g_string_append(many, "1,");
    }
    g_string_append(many, "1]");

    /* At the bounds: accepted. */
    got = run(&lim, deep_ok, strlen(deep_ok), 1, NULL);
    assert_int_equal(got->len, 1);
    assert_string_equal(got->pdata[0], "[[[[[[[[]]]]]]]]");
    g_clear_pointer(&got, g_ptr_array_unref);
    got = run(&lim, long_string, strlen(long_string), 0, NULL);
    assert_int_equal(got->len, 1);
    g_clear_pointer(&got, g_ptr_array_unref);

    check_limit(deep_bad, "nesting depth");
    check_limit(very_deep, "nesting depth");
    check_limit("{\"a\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                "\"}",
                "token size");
    /* A top-level scalar over the token size ends the discard by itself. */
    check_limit("123456789012345678901234567890123456789012345678901234567890"
                "1234567890123456789012345678901234567890123456789012345 ",
                "token size");
    check_limit(big_message, "message size");
    check_limit(many->str, "token count");
}

/* The defaults hold against a flood: memory stays bounded. */
static void test_flood(void **state)
{
    size_t n = 4 * 1024 * 1024;
    g_autofree char *flood = g_malloc(n + 16);
    size_t pending = 0;
    g_autoptr(GPtrArray) got = NULL;

    /* One string four times the token bound, then a good message. */
    flood[0] = '"';
    memset(flood + 1, 'a', n - 1);
    strcpy(flood + n, "\"{\"ok\":1}");
    got = run(NULL, flood, strlen(flood), 65536, &pending);
    assert_int_equal(got->len, 2);
    assert_string_equal(got->pdata[0], "LIMIT: JSON token size limit exceeded");
    assert_string_equal(got->pdata[1], "{\"ok\": 1}");
    assert_true(pending <= MONITOR_JSON_MAX_TOKEN);
    g_clear_pointer(&got, g_ptr_array_unref);

    /* Brackets forever: one error, nothing kept. */
    memset(flood, '[', n);
    flood[n] = 0;
    got = run(NULL, flood, n, 65536, &pending);
    assert_int_equal(got->len, 1);
    assert_string_equal(got->pdata[0],
                        "LIMIT: JSON nesting depth limit exceeded");
    assert_true(pending <= 64);
}

static void test_reset(void **state)
{
    Collect c = { .out = g_ptr_array_new_with_free_func(g_free) };

    c.s = monitor_json_stream_new(NULL, collect_emit, &c);
    monitor_json_stream_feed(c.s, "{\"a\": [1, 2", 11);
    assert_true(monitor_json_stream_pending(c.s) > 0);
    monitor_json_stream_reset(c.s);
    assert_int_equal(monitor_json_stream_pending(c.s), 0);
    monitor_json_stream_feed(c.s, "{\"b\": 1}", 8);
    assert_int_equal(c.out->len, 1);
    assert_string_equal(c.out->pdata[0], "{\"b\": 1}");
    monitor_json_stream_free(c.s);
    g_ptr_array_unref(c.out);
}

static void test_parse_one(void **state)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(JsonNode) node = monitor_json_parse(" 42 ", 4, NULL, &err);
    g_autoptr(JsonNode) obj = NULL;

    assert_non_null(node);
    assert_int_equal(json_node_get_int(node), 42);
    g_clear_pointer(&node, json_node_unref);
    node = monitor_json_parse("42", 2, NULL, &err);
    assert_non_null(node);
    g_clear_pointer(&node, json_node_unref);
    node = monitor_json_parse("true", 4, NULL, &err);
    assert_non_null(node);
    assert_true(json_node_get_boolean(node));
    obj = monitor_json_parse("{\"a\": [1]}", 10, NULL, &err);
    assert_non_null(obj);

    assert_null(monitor_json_parse("{\"a\": [1]", 9, NULL, &err));
    assert_true(g_error_matches(err, MONITOR_ERROR, MONITOR_ERROR_JSON_SYNTAX));
    assert_string_equal(err->message,
                        "JSON parse error, premature end of input");
    g_clear_error(&err);
    assert_null(monitor_json_parse("1 2", 3, NULL, &err));
    assert_true(g_error_matches(err, MONITOR_ERROR, MONITOR_ERROR_JSON_SYNTAX));
    g_clear_error(&err);
    assert_null(monitor_json_parse("", 0, NULL, &err));
    assert_true(g_error_matches(err, MONITOR_ERROR, MONITOR_ERROR_JSON_SYNTAX));
    g_clear_error(&err);
    assert_null(monitor_json_parse("[@]", 3, NULL, &err));
    assert_true(g_error_matches(err, MONITOR_ERROR, MONITOR_ERROR_JSON_SYNTAX));
}

static JsonNode *parse_ok(const char *s)
{
    g_autoptr(GError) err = NULL;
    JsonNode *node = monitor_json_parse(s, strlen(s), NULL, &err);

    if (!node) {
        fail_msg("'%s': %s", s, err->message);
    }
    return node;
}

static void test_writer(void **state)
{
    g_autoptr(JsonNode) reply =
        parse_ok("{\"return\": {}, \"id\": [1, {\"a\": []}]}");
    g_autoptr(JsonNode) greeting = parse_ok(
        "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 1, "
        "\"major\": 0}, \"package\": \"qio\"}, \"capabilities\": []}}");
    g_autoptr(JsonNode) str = json_node_init_string(
        json_node_alloc(), "bad \xff utf8 \xf0\x9f\x98\x80 \x7f");
    g_autofree char *compact = monitor_json_to_string(reply, MONITOR_JSON_CRLF);
    g_autofree char *pretty =
        monitor_json_to_string(reply, MONITOR_JSON_PRETTY | MONITOR_JSON_CRLF);
    g_autofree char *pretty_greeting =
        monitor_json_to_string(greeting, MONITOR_JSON_PRETTY);
    g_autofree char *escaped = monitor_json_to_string(str, 0);

    assert_string_equal(compact, "{\"return\": {}, \"id\": [1, {\"a\": []}]}"
                                 "\r\n");
    /* QEMU's pretty layout: empty containers on two lines. */
    assert_string_equal(pretty, "{\r\n"
                                "    \"return\": {\r\n"
                                "    },\r\n"
                                "    \"id\": [\r\n"
                                "        1,\r\n"
                                "        {\r\n"
                                "            \"a\": [\r\n"
                                "            ]\r\n"
                                "        }\r\n"
                                "    ]\r\n"
                                "}\r\n");
    assert_string_equal(pretty_greeting, "{\n"
                                         "    \"QMP\": {\n"
                                         "        \"version\": {\n"
                                         "            \"qemu\": {\n"
                                         "                \"micro\": 0,\n"
                                         "                \"minor\": 1,\n"
                                         "                \"major\": 0\n"
                                         "            },\n"
                                         "            \"package\": \"qio\"\n"
                                         "        },\n"
                                         "        \"capabilities\": [\n"
                                         "        ]\n"
                                         "    }\n"
                                         "}");
    assert_string_equal(escaped, "\"bad \\uFFFD utf8 \\uD83D\\uDE00 \\u007F\"");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values),    cmocka_unit_test(test_strings),
        cmocka_unit_test(test_numbers),   cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_resync),    cmocka_unit_test(test_limits),
        cmocka_unit_test(test_flood),     cmocka_unit_test(test_reset),
        cmocka_unit_test(test_parse_one), cmocka_unit_test(test_writer),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
