/*
 * Unit tests of the JSON input and output visitors and the dealloc visitor
 * (qapi/input-visitor.c, output-visitor.c, dealloc-visitor.c) through the
 * code generated from tests/qapi-schema/qapi-schema-test.json.
 *
 * The input is treated as a hostile client's: wrong types, missing and
 * extra members, numbers out of range, unknown enum values, deep nesting.
 * Each error is matched by code, and its message against QEMU's wording,
 * which clients written for QEMU look for.  Leaks on the failure paths are
 * caught by the sanitizer build of scripts/run-tests.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <string.h>

/*
 * cmocka's assertions do not tell the compiler that they stop the test;
 * g_assert() does, so a pointer checked with it may be used after.
 */
#define REQUIRE(p) g_assert((p) != NULL)
#define FAIL(...)                                                              \
    do {                                                                       \
        fail_msg(__VA_ARGS__);                                                 \
        g_assert_not_reached();                                                \
    } while (0)

#include "qapi/dealloc-visitor.h"
#include "qapi/json-visitor.h"
#include "test-qapi-visit.h"

/* A TestAll with every member given. */
static const char all_json[] =
    "{\"id\": \"obj0\", \"i8\": -128, \"u8\": 255, \"i16\": -32768,"
    " \"u16\": 65535, \"i32\": -2147483648, \"u32\": 4294967295,"
    " \"i64\": -9223372036854775807, \"u64\": 9223372036854775807,"
    " \"sz\": 4096, \"b\": true, \"num\": 1.5, \"s\": \"hello\","
    " \"colour\": \"blue-ish\", \"opt-int\": 7, \"opt-bool\": false,"
    " \"opt-str\": \"\", \"opt-colour\": \"red\","
    " \"opt-inner\": {\"n\": 1}, \"opt-any\": {\"x\": [1, null]},"
    " \"inner\": {\"n\": 2, \"label\": \"two\"}, \"ints\": [1, 2, 3],"
    " \"strs\": [], \"inners\": [{\"n\": 3}, {\"n\": 4, \"label\": \"l\"}],"
    " \"colours\": [\"green\", \"red\"], \"tls-creds\": \"tls0\"}";

/* The mandatory members only. */
static const char min_json[] =
    "{\"id\": \"x\", \"i8\": 0, \"u8\": 0, \"i16\": 0, \"u16\": 0,"
    " \"i32\": 0, \"u32\": 0, \"i64\": 0, \"u64\": 0, \"sz\": 0,"
    " \"b\": false, \"num\": 0, \"s\": \"\", \"colour\": \"red\","
    " \"inner\": {\"n\": 0}, \"ints\": [], \"strs\": [], \"inners\": [],"
    " \"colours\": []}";

static JsonNode *parse(const char *json)
{
    g_autoptr(GError) err = NULL;
    JsonNode *node = json_from_string(json, &err);

    if (!node) {
        FAIL("bad test JSON %s: %s", json, err->message);
    }
    return node;
}

/* @json with top-level member @key set to @value (JSON), or removed. */
static JsonNode *with_member(const char *json, const char *key,
                             const char *value)
{
    JsonNode *root = parse(json);
    JsonObject *obj = json_node_get_object(root);

    if (value) {
        json_object_set_member(obj, key, parse(value));
    } else {
        json_object_remove_member(obj, key);
    }
    return root;
}

static TestAll *input_all(JsonNode *root, GError **errp)
{
    g_autoptr(QapiVisitor) v = qapi_json_input_visitor_new(root);
    TestAll *all = (TestAll *)0x1; /* must be overwritten */

    if (!visit_type_TestAll(v, NULL, &all, errp)) {
        assert_null(all);
        return NULL;
    }
    REQUIRE(all);
    return all;
}

/* Visiting @root as a TestAll must fail with @code and @message. */
static void expect_all_error(JsonNode *root, int code, const char *message)
{
    g_autoptr(GError) err = NULL;
    TestAll *all = input_all(root, &err);

    json_node_unref(root);
    if (all) {
        qapi_free_TestAll(all);
        FAIL("accepted; expected \"%s\"", message);
    }
    REQUIRE(err);
    if (!g_error_matches(err, QAPI_ERROR, code)) {
        FAIL("error %d \"%s\"; expected %d \"%s\"", err->code, err->message,
             code, message);
    }
    assert_string_equal(err->message, message);
}

static void expect_member_error(const char *key, const char *value, int code,
                                const char *message)
{
    expect_all_error(with_member(all_json, key, value), code, message);
}

static void test_input_all(void **state)
{
    g_autoptr(GError) err = NULL;
    JsonNode *root = parse(all_json);
    g_autoptr(TestAll) all = input_all(root, &err);

    json_node_unref(root);
    REQUIRE(all);
    assert_string_equal(all->id, "obj0");
    assert_int_equal(all->i8, -128);
    assert_int_equal(all->u8, 255);
    assert_int_equal(all->i16, -32768);
    assert_int_equal(all->u16, 65535);
    assert_true(all->i32 == INT32_MIN);
    assert_true(all->u32 == UINT32_MAX);
    assert_true(all->i64 == -INT64_MAX);
    assert_true(all->u64 == (uint64_t)INT64_MAX);
    assert_int_equal(all->sz, 4096);
    assert_true(all->b);
    assert_true(all->num == 1.5);
    assert_string_equal(all->s, "hello");
    assert_int_equal(all->colour, TEST_COLOUR_BLUE_ISH);
    assert_true(all->has_opt_int);
    assert_int_equal(all->opt_int, 7);
    assert_true(all->has_opt_bool);
    assert_false(all->opt_bool);
    assert_string_equal(all->opt_str, "");
    assert_true(all->has_opt_colour);
    assert_int_equal(all->opt_colour, TEST_COLOUR_RED);
    REQUIRE(all->opt_inner);
    assert_int_equal(all->opt_inner->n, 1);
    assert_null(all->opt_inner->label);
    REQUIRE(all->opt_any);
    assert_true(JSON_NODE_HOLDS_OBJECT(all->opt_any));
    assert_int_equal(all->inner->n, 2);
    assert_string_equal(all->inner->label, "two");
    assert_int_equal(all->ints->value, 1);
    assert_int_equal(all->ints->next->value, 2);
    assert_int_equal(all->ints->next->next->value, 3);
    assert_null(all->ints->next->next->next);
    assert_null(all->strs);
    assert_int_equal(all->inners->next->value->n, 4);
    assert_string_equal(all->inners->next->value->label, "l");
    assert_int_equal(all->colours->value, TEST_COLOUR_GREEN);
    assert_int_equal(all->colours->next->value, TEST_COLOUR_RED);
    assert_string_equal(all->tls_creds, "tls0");
    assert_int_equal(TMODE_SLOW, 1);
    assert_string_equal(TestMode_str(TMODE_SLOW), "slow");
}

static void test_input_optional_absent(void **state)
{
    g_autoptr(GError) err = NULL;
    JsonNode *root = parse(min_json);
    g_autoptr(TestAll) all = input_all(root, &err);

    json_node_unref(root);
    REQUIRE(all);
    assert_false(all->has_opt_int);
    assert_false(all->has_opt_bool);
    assert_false(all->has_opt_colour);
    assert_null(all->opt_str);
    assert_null(all->opt_inner);
    assert_null(all->opt_any);
    assert_null(all->tls_creds);
    assert_null(all->ints);
}

static void test_input_missing(void **state)
{
    expect_member_error("s", NULL, QAPI_ERROR_MISSING_PARAMETER,
                        "Parameter 's' is missing");
    expect_member_error("id", NULL, QAPI_ERROR_MISSING_PARAMETER,
                        "Parameter 'id' is missing");
    expect_member_error("inner", "{\"label\": \"x\"}",
                        QAPI_ERROR_MISSING_PARAMETER,
                        "Parameter 'inner.n' is missing");
    expect_member_error("inners", "[{\"n\": 1}, {}]",
                        QAPI_ERROR_MISSING_PARAMETER,
                        "Parameter 'inners[1].n' is missing");
}

static void test_input_wrong_type(void **state)
{
    static const struct {
        const char *key, *value, *message;
    } cases[] = {
        { "s", "5", "Invalid parameter type for 's', expected: string" },
        { "s", "null", "Invalid parameter type for 's', expected: string" },
        { "s", "[\"a\"]", "Invalid parameter type for 's', expected: string" },
        { "i64", "\"5\"",
          "Invalid parameter type for 'i64', expected: integer" },
        { "i64", "1.0", "Invalid parameter type for 'i64', expected: integer" },
        { "i8", "true", "Invalid parameter type for 'i8', expected: integer" },
        /* QEMU words unsigned members of the wrong type so */
        { "u64", "1e3", "Parameter 'u64' expects uint64" },
        { "u64", "\"1\"", "Parameter 'u64' expects uint64" },
        { "sz", "\"1G\"", "Parameter 'sz' expects uint64" },
        { "b", "1", "Invalid parameter type for 'b', expected: boolean" },
        { "b", "\"on\"", "Invalid parameter type for 'b', expected: boolean" },
        { "num", "\"1.5\"",
          "Invalid parameter type for 'num', expected: number" },
        { "colour", "0",
          "Invalid parameter type for 'colour', expected: string" },
        { "inner", "\"x\"",
          "Invalid parameter type for 'inner', expected: object" },
        { "inner", "[]",
          "Invalid parameter type for 'inner', expected: object" },
        { "inner", "{\"n\": \"1\"}",
          "Invalid parameter type for 'inner.n', expected: integer" },
        { "ints", "{}", "Invalid parameter type for 'ints', expected: array" },
        { "ints", "5", "Invalid parameter type for 'ints', expected: array" },
        { "ints", "[1, \"2\"]",
          "Invalid parameter type for 'ints[1]', expected: integer" },
        { "inners", "[{\"n\": 1}, 7]",
          "Invalid parameter type for 'inners[1]', expected: object" },
        { "opt-str", "null",
          "Invalid parameter type for 'opt-str', expected: string" },
        { "opt-inner", "null",
          "Invalid parameter type for 'opt-inner', expected: object" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        expect_member_error(cases[i].key, cases[i].value,
                            QAPI_ERROR_INVALID_TYPE, cases[i].message);
    }
}

static void test_input_unexpected(void **state)
{
    expect_member_error("bogus", "1", QAPI_ERROR_UNEXPECTED_PARAMETER,
                        "Parameter 'bogus' is unexpected");
    expect_member_error("inner", "{\"n\": 1, \"x\": {\"deep\": [1]}}",
                        QAPI_ERROR_UNEXPECTED_PARAMETER,
                        "Parameter 'inner.x' is unexpected");
    expect_member_error("inners", "[{\"n\": 1, \"extra\": null}]",
                        QAPI_ERROR_UNEXPECTED_PARAMETER,
                        "Parameter 'inners[0].extra' is unexpected");
    /* QEMU's spelling differs only in case: still unexpected */
    expect_member_error("ID", "\"x\"", QAPI_ERROR_UNEXPECTED_PARAMETER,
                        "Parameter 'ID' is unexpected");
}

static void test_input_enum(void **state)
{
    expect_member_error("colour", "\"purple\"", QAPI_ERROR_INVALID_VALUE,
                        "Parameter 'colour' does not accept value 'purple'");
    expect_member_error("colour", "\"\"", QAPI_ERROR_INVALID_VALUE,
                        "Parameter 'colour' does not accept value ''");
    expect_member_error("colour", "\"RED\"", QAPI_ERROR_INVALID_VALUE,
                        "Parameter 'colour' does not accept value 'RED'");
    expect_member_error("colours", "[\"red\", \"x\"]", QAPI_ERROR_INVALID_VALUE,
                        "Parameter 'null' does not accept value 'x'");
    /* an enum value is never parsed as its number */
    expect_member_error("opt-colour", "\"0\"", QAPI_ERROR_INVALID_VALUE,
                        "Parameter 'opt-colour' does not accept value '0'");
}

static void test_input_ranges(void **state)
{
    static const struct {
        const char *key, *value, *message;
    } cases[] = {
        { "i8", "128", "Parameter 'i8' expects int8" },
        { "i8", "-129", "Parameter 'i8' expects int8" },
        { "u8", "256", "Parameter 'u8' expects uint8" },
        { "u8", "-1", "Parameter 'u8' expects uint8" },
        { "i16", "32768", "Parameter 'i16' expects int16" },
        { "u16", "65536", "Parameter 'u16' expects uint16" },
        { "i32", "2147483648", "Parameter 'i32' expects int32" },
        { "i32", "-2147483649", "Parameter 'i32' expects int32" },
        { "u32", "4294967296", "Parameter 'u32' expects uint32" },
        { "u64", "-1", "Parameter 'u64' expects uint64" },
        { "sz", "-4096", "Parameter 'sz' expects uint64" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        expect_member_error(cases[i].key, cases[i].value,
                            QAPI_ERROR_INVALID_VALUE, cases[i].message);
    }
}

/*
 * Numbers beyond 64 bits never become a small value here.  json-glib
 * itself wraps integer literals beyond int64 ("18446744073709551616" is
 * -1) before any visitor sees them, so whoever parses QMP text must refuse
 * those literals (docs/devel/qapi.md); what reaches the visitor as a
 * double (with a fraction or an exponent, or infinite) is refused as an
 * integer, and a non-finite number is refused as a number.
 */
static void test_input_huge_numbers(void **state)
{
    static const char *const huge[] = {
        "1e400",
        "-1e400",
        "1.8446744073709552e19",
        "123456789012345678901234567890.5",
    };
    static const char *const members[] = { "i64", "u64", "i8", "sz" };

    for (size_t i = 0; i < G_N_ELEMENTS(huge); i++) {
        for (size_t m = 0; m < G_N_ELEMENTS(members); m++) {
            /* QEMU words the unsigned ones (u64, sz) differently */
            g_autofree char *msg =
                m % 2 ? g_strdup_printf("Parameter '%s' expects uint64",
                                        members[m])
                      : g_strdup_printf("Invalid parameter type for '%s', "
                                        "expected: integer",
                                        members[m]);

            expect_member_error(members[m], huge[i], QAPI_ERROR_INVALID_TYPE,
                                msg);
        }
    }
    expect_member_error("num", "1e400", QAPI_ERROR_INVALID_VALUE,
                        "Parameter 'num' expects a finite number");
    expect_member_error("num", "-1e400", QAPI_ERROR_INVALID_VALUE,
                        "Parameter 'num' expects a finite number");
}

/* Hostile nesting: the walk goes only as deep as the schema does. */
static void test_input_deep_nesting(void **state)
{
    enum { DEPTH = 2000 };
    g_autoptr(GString) deep = g_string_new(NULL);

    for (int i = 0; i < DEPTH; i++) {
        g_string_append(deep, "{\"n\": ");
    }
    g_string_append(deep, "1");
    for (int i = 0; i < DEPTH; i++) {
        g_string_append(deep, "}");
    }
    expect_member_error("inner", deep->str, QAPI_ERROR_INVALID_TYPE,
                        "Invalid parameter type for 'inner.n', "
                        "expected: integer");

    /* As 'any' it is kept whole, and freed whole. */
    g_autoptr(GError) err = NULL;
    JsonNode *root = with_member(all_json, "opt-any", deep->str);
    g_autoptr(TestAll) all = input_all(root, &err);
    json_node_unref(root);
    REQUIRE(all);
    assert_true(JSON_NODE_HOLDS_OBJECT(all->opt_any));

    /* A long list of elements each of the wrong type fails at the first. */
    g_autoptr(GString) list = g_string_new("[");
    for (int i = 0; i < 10000; i++) {
        g_string_append(list, i ? ", [[[]]]" : "[[[]]]");
    }
    g_string_append(list, "]");
    expect_member_error("inners", list->str, QAPI_ERROR_INVALID_TYPE,
                        "Invalid parameter type for 'inners[0]', "
                        "expected: object");
}

static void test_input_not_object(void **state)
{
    static const char *const roots[] = { "5", "\"x\"", "[]", "null", "true" };

    for (size_t i = 0; i < G_N_ELEMENTS(roots); i++) {
        expect_all_error(parse(roots[i]), QAPI_ERROR_INVALID_TYPE,
                         "Invalid parameter type for 'null', expected: "
                         "object");
    }
}

static TestUnion *input_union(const char *json, GError **errp)
{
    g_autoptr(JsonNode) root = parse(json);
    g_autoptr(QapiVisitor) v = qapi_json_input_visitor_new(root);
    TestUnion *u = NULL;

    if (!visit_type_TestUnion(v, NULL, &u, errp)) {
        assert_null(u);
    }
    return u;
}

static void expect_union_error(const char *json, int code, const char *msg)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(TestUnion) u = input_union(json, &err);

    if (u) {
        FAIL("%s accepted", json);
    }
    assert_true(g_error_matches(err, QAPI_ERROR, code));
    assert_string_equal(err->message, msg);
}

static void test_input_union(void **state)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(TestUnion) f = input_union(
        "{\"type\": \"file\", \"path\": \"/tmp/x\", \"append\": true}", &err);
    g_autoptr(TestUnion) n =
        input_union("{\"type\": \"net\", \"tag\": \"t\", \"host\": \"::1\", "
                    "\"port\": 9000, \"sizes\": [1, 2]}",
                    &err);
    g_autoptr(TestUnion) none = input_union("{\"type\": \"nothing\"}", &err);

    REQUIRE(f);
    assert_int_equal(f->type, TEST_KIND_FILE);
    assert_string_equal(f->u.file.path, "/tmp/x");
    assert_true(f->u.file.has_append && f->u.file.append);
    REQUIRE(n);
    assert_string_equal(n->tag, "t");
    assert_string_equal(n->u.net.host, "::1");
    assert_int_equal(n->u.net.port, 9000);
    assert_int_equal(n->u.net.sizes->next->value, 2);
    REQUIRE(none);
    assert_int_equal(none->type, TEST_KIND_NOTHING);

    expect_union_error("{\"path\": \"/x\"}", QAPI_ERROR_MISSING_PARAMETER,
                       "Parameter 'type' is missing");
    expect_union_error("{\"type\": \"pipe\"}", QAPI_ERROR_INVALID_VALUE,
                       "Parameter 'type' does not accept value 'pipe'");
    expect_union_error("{\"type\": \"file\"}", QAPI_ERROR_MISSING_PARAMETER,
                       "Parameter 'path' is missing");
    expect_union_error("{\"type\": \"file\", \"path\": \"/x\", "
                       "\"host\": \"h\"}",
                       QAPI_ERROR_UNEXPECTED_PARAMETER,
                       "Parameter 'host' is unexpected");
    expect_union_error("{\"type\": \"nothing\", \"path\": \"/x\"}",
                       QAPI_ERROR_UNEXPECTED_PARAMETER,
                       "Parameter 'path' is unexpected");
    expect_union_error("{\"type\": \"net\", \"host\": \"h\", "
                       "\"port\": 65536}",
                       QAPI_ERROR_INVALID_VALUE,
                       "Parameter 'port' expects uint16");
    expect_union_error("{\"type\": \"net\", \"host\": \"h\", \"port\": 1, "
                       "\"sizes\": [1, -1]}",
                       QAPI_ERROR_INVALID_VALUE,
                       "Parameter 'sizes[1]' expects uint64");
}

static void test_input_wrapped_union(void **state)
{
    g_autoptr(JsonNode) root =
        parse("{\"type\": \"net\", \"data\": {\"host\": \"h\", \"port\": 22}}");
    g_autoptr(JsonNode) bad =
        parse("{\"type\": \"net\", \"data\": {\"host\": \"h\"}}");
    g_autoptr(QapiVisitor) v = qapi_json_input_visitor_new(root);
    g_autoptr(QapiVisitor) vbad = qapi_json_input_visitor_new(bad);
    g_autoptr(GError) err = NULL;
    TestWrapped *w = NULL;

    assert_true(visit_type_TestWrapped(v, NULL, &w, &err));
    assert_string_equal(w->u.net.data->host, "h");
    assert_int_equal(w->u.net.data->port, 22);
    qapi_free_TestWrapped(w);

    w = NULL;
    assert_false(visit_type_TestWrapped(vbad, NULL, &w, &err));
    assert_null(w);
    assert_string_equal(err->message, "Parameter 'data.port' is missing");
}

static TestAlts *input_alts(const char *json, GError **errp)
{
    g_autoptr(JsonNode) root = parse(json);
    g_autoptr(QapiVisitor) v = qapi_json_input_visitor_new(root);
    TestAlts *a = NULL;

    visit_type_TestAlts(v, NULL, &a, errp);
    return a;
}

static void test_input_alternates(void **state)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(TestAlts) a1 = input_alts(
        "{\"a\": \"x\", \"b\": 5, \"c\": 2, \"d\": \"green\", \"e\": 10}",
        &err);
    g_autoptr(TestAlts) a2 = input_alts(
        "{\"a\": null, \"b\": {\"n\": 3}, \"c\": true, \"d\": false, "
        "\"e\": {\"n\": 4}}",
        &err);
    g_autoptr(TestAlts) a3 =
        input_alts("{\"a\": \"\", \"b\": [\"p\", \"q\"], \"c\": 0.25}", &err);

    REQUIRE(a1);
    assert_int_equal(a1->a->type, QAPI_TYPE_STRING);
    assert_string_equal(a1->a->u.s, "x");
    assert_int_equal(a1->b->type, QAPI_TYPE_INT);
    assert_int_equal(a1->b->u.i, 5);
    assert_int_equal(a1->c->type, QAPI_TYPE_NUMBER);
    assert_true(a1->c->u.f == 2.0);
    assert_int_equal(a1->d->type, QAPI_TYPE_STRING);
    assert_int_equal(a1->d->u.e, TEST_COLOUR_GREEN);
    assert_int_equal(a1->e->type, QAPI_TYPE_INT);
    assert_int_equal(a1->e->u.sz, 10);

    REQUIRE(a2);
    assert_int_equal(a2->a->type, QAPI_TYPE_NULL);
    assert_int_equal(a2->b->type, QAPI_TYPE_OBJECT);
    assert_int_equal(a2->b->u.o->n, 3);
    assert_int_equal(a2->c->type, QAPI_TYPE_BOOL);
    assert_true(a2->c->u.b);
    assert_int_equal(a2->d->type, QAPI_TYPE_BOOL);
    assert_false(a2->d->u.b);
    assert_int_equal(a2->e->u.o->n, 4);

    REQUIRE(a3);
    assert_int_equal(a3->b->type, QAPI_TYPE_ARRAY);
    assert_string_equal(a3->b->u.l->next->value, "q");
    assert_true(a3->c->u.f == 0.25);
    assert_null(a3->d);

    static const struct {
        const char *json, *message;
        int code;
    } bad[] = {
        { "{\"a\": 5}",
          "Invalid parameter type for 'a', expected: "
          "TestAltStrNull",
          QAPI_ERROR_INVALID_TYPE },
        { "{\"a\": \"x\", \"b\": \"5\"}",
          "Invalid parameter type for 'b', expected: TestAltIntObj",
          QAPI_ERROR_INVALID_TYPE },
        { "{\"a\": \"x\", \"b\": {\"n\": 1, \"z\": 2}}",
          "Parameter 'b.z' is unexpected", QAPI_ERROR_UNEXPECTED_PARAMETER },
        { "{\"a\": \"x\", \"b\": [1]}",
          "Invalid parameter type for 'b[0]', expected: string",
          QAPI_ERROR_INVALID_TYPE },
        { "{\"a\": \"x\", \"d\": \"pink\"}",
          "Parameter 'd' does not accept value 'pink'",
          QAPI_ERROR_INVALID_VALUE },
        { "{\"a\": \"x\", \"c\": null}",
          "Invalid parameter type for 'c', expected: TestAltNumBool",
          QAPI_ERROR_INVALID_TYPE },
        { "{\"a\": \"x\", \"e\": -1}", "Parameter 'e' expects uint64",
          QAPI_ERROR_INVALID_VALUE },
        { "{}", "Parameter 'a' is missing", QAPI_ERROR_MISSING_PARAMETER },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) e = NULL;
        g_autoptr(TestAlts) a = input_alts(bad[i].json, &e);

        if (a) {
            FAIL("%s accepted", bad[i].json);
        }
        if (!g_error_matches(e, QAPI_ERROR, bad[i].code) ||
            strcmp(e->message, bad[i].message) != 0) {
            FAIL("%s: got %d \"%s\"", bad[i].json, e->code, e->message);
        }
    }
}

static char *output_json(bool (*visit)(QapiVisitor *, const char *, void *,
                                       GError **),
                         void *obj)
{
    JsonNode *out = NULL;
    QapiVisitor *v = qapi_json_output_visitor_new(&out);

    assert_true(visit(v, NULL, obj, NULL));
    visit_complete(v);
    visit_free(v);
    REQUIRE(out);
    char *text = json_to_string(out, FALSE);
    json_node_unref(out);
    return text;
}

static bool visit_all(QapiVisitor *v, const char *name, void *obj,
                      GError **errp)
{
    return visit_type_TestAll(v, name, obj, errp);
}

/* Input then output gives the same JSON value back. */
static void test_round_trip(void **state)
{
    const char *inputs[] = { all_json, min_json };

    for (size_t i = 0; i < G_N_ELEMENTS(inputs); i++) {
        g_autoptr(JsonNode) in = parse(inputs[i]);
        g_autoptr(GError) err = NULL;
        g_autoptr(TestAll) all = input_all(in, &err);

        REQUIRE(all);
        g_autofree char *text = output_json(visit_all, &all);
        g_autoptr(JsonNode) back = parse(text);
        if (!json_node_equal(in, back)) {
            FAIL("round trip changed %s into %s", inputs[i], text);
        }
    }
}

static void test_output(void **state)
{
    TestInner inner = { .n = 5 };
    TestInner inner2 = { .n = -1, .label = (char *)"two" };
    TestInnerList l2 = { .next = NULL, .value = &inner2 };
    TestInnerList l1 = { .next = &l2, .value = &inner };
    TestAll all = {
        .id = (char *)"o",
        .u64 = UINT64_MAX,
        .colour = TEST_COLOUR_BLUE_ISH,
        .has_opt_bool = true,
        .opt_bool = false,
        .inner = &inner,
        .inners = &l1,
        /* s NULL: written as "" */
    };
    TestAll *p = &all;
    g_autofree char *text = output_json(visit_all, &p);

    assert_string_equal(
        text, "{\"id\":\"o\",\"i8\":0,\"u8\":0,\"i16\":0,\"u16\":0,\"i32\":0,"
              "\"u32\":0,\"i64\":0,\"u64\":1.8446744073709552e+19,\"sz\":0,"
              "\"b\":false,\"num\":0.0,\"s\":\"\",\"colour\":\"blue-ish\","
              "\"opt-bool\":false,\"inner\":{\"n\":5},\"ints\":[],\"strs\":[],"
              "\"inners\":[{\"n\":5},{\"n\":-1,\"label\":\"two\"}],"
              "\"colours\":[]}");
}

static bool visit_union(QapiVisitor *v, const char *name, void *obj,
                        GError **errp)
{
    return visit_type_TestUnion(v, name, obj, errp);
}

static bool visit_alts(QapiVisitor *v, const char *name, void *obj,
                       GError **errp)
{
    return visit_type_TestAlts(v, name, obj, errp);
}

static void test_output_union_alternate(void **state)
{
    TestUnion u = { .type = TEST_KIND_NET };
    TestUnion *pu = &u;
    TestAltStrNull a = { .type = QAPI_TYPE_NULL };
    TestAltIntObj b = { .type = QAPI_TYPE_INT, .u.i = 42 };
    TestAlts alts = { .a = &a, .b = &b };
    TestAlts *pa = &alts;

    u.u.net.host = (char *)"h";
    u.u.net.port = 7;
    g_autofree char *t1 = output_json(visit_union, &pu);
    assert_string_equal(t1, "{\"type\":\"net\",\"host\":\"h\",\"port\":7}");

    g_autofree char *t2 = output_json(visit_alts, &pa);
    assert_string_equal(t2, "{\"a\":null,\"b\":42}");
}

/* A NULL object frees as nothing and writes out as an empty object. */
static void test_null_objects(void **state)
{
    TestAll *none = NULL;

    qapi_free_TestAll(NULL);
    qapi_free_TestAllList(NULL);
    qapi_free_strList(NULL);
    g_autofree char *text = output_json(visit_all, &none);
    assert_string_equal(text, "{}");
}

/* The dealloc visitor frees everything a full object holds. */
static void test_dealloc(void **state)
{
    for (int round = 0; round < 50; round++) {
        g_autoptr(JsonNode) root = parse(all_json);
        g_autoptr(GError) err = NULL;
        TestAll *all = input_all(root, &err);

        REQUIRE(all);
        qapi_free_TestAll(all);
    }
}

static void test_enum_helpers(void **state)
{
    g_autoptr(GError) err = NULL;

    assert_string_equal(TestColour_str(TEST_COLOUR_BLUE_ISH), "blue-ish");
    assert_int_equal(TestColour_lookup.size, TEST_COLOUR__MAX);
    assert_int_equal(qapi_enum_parse(&TestColour_lookup, "green", -1, &err),
                     TEST_COLOUR_GREEN);
    assert_int_equal(qapi_enum_parse(&TestColour_lookup, NULL, 7, &err), 7);
    assert_int_equal(qapi_enum_parse(&TestColour_lookup, "grey", -1, &err), -1);
    assert_true(g_error_matches(err, QAPI_ERROR, QAPI_ERROR_INVALID_VALUE));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_input_all),
        cmocka_unit_test(test_input_optional_absent),
        cmocka_unit_test(test_input_missing),
        cmocka_unit_test(test_input_wrong_type),
        cmocka_unit_test(test_input_unexpected),
        cmocka_unit_test(test_input_enum),
        cmocka_unit_test(test_input_ranges),
        cmocka_unit_test(test_input_huge_numbers),
        cmocka_unit_test(test_input_deep_nesting),
        cmocka_unit_test(test_input_not_object),
        cmocka_unit_test(test_input_union),
        cmocka_unit_test(test_input_wrapped_union),
        cmocka_unit_test(test_input_alternates),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_output),
        cmocka_unit_test(test_output_union_alternate),
        cmocka_unit_test(test_null_objects),
        cmocka_unit_test(test_dealloc),
        cmocka_unit_test(test_enum_helpers),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
