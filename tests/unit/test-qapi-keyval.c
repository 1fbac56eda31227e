/*
 * Unit tests of the keyval input visitor (qapi/keyval-visitor.c and the
 * keyval half of qapi/input-visitor.c): dotted keys as nested objects,
 * numbered keys as lists, strings converted to integers, booleans, sizes
 * and numbers the way QEMU converts them, and hostile key sets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

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

#include "qapi/keyval-visitor.h"
#include "test-qapi-visit.h"
#include "util/keyval.h"

typedef bool (*VisitFn)(QapiVisitor *v, const char *name, void **obj,
                        GError **errp);

static void *input(const char *params, const char *implied, VisitFn visit,
                   GError **errp)
{
    g_autoptr(QapiVisitor) v =
        qapi_keyval_input_visitor_new_str(params, implied, errp);
    void *obj = NULL;

    if (!v) {
        return NULL;
    }
    if (!visit(v, NULL, &obj, errp)) {
        assert_null(obj);
        return NULL;
    }
    return obj;
}

static bool visit_inner(QapiVisitor *v, const char *name, void **obj,
                        GError **errp)
{
    return visit_type_TestInner(v, name, (TestInner **)obj, errp);
}

static bool visit_all(QapiVisitor *v, const char *name, void **obj,
                      GError **errp)
{
    return visit_type_TestAll(v, name, (TestAll **)obj, errp);
}

static bool visit_union(QapiVisitor *v, const char *name, void **obj,
                        GError **errp)
{
    return visit_type_TestUnion(v, name, (TestUnion **)obj, errp);
}

static bool visit_wrapped(QapiVisitor *v, const char *name, void **obj,
                          GError **errp)
{
    return visit_type_TestWrapped(v, name, (TestWrapped **)obj, errp);
}

static bool visit_alts(QapiVisitor *v, const char *name, void **obj,
                       GError **errp)
{
    return visit_type_TestAlts(v, name, (TestAlts **)obj, errp);
}

static void expect_error(const char *params, const char *implied, VisitFn visit,
                         int code, const char *message)
{
    g_autoptr(GError) err = NULL;
    void *obj = input(params, implied, visit, &err);

    if (obj) {
        FAIL("'%s' accepted", params);
    }
    REQUIRE(err);
    if (code >= 0 && !g_error_matches(err, QAPI_ERROR, code)) {
        FAIL("'%s': error %s %d \"%s\"", params, g_quark_to_string(err->domain),
             err->code, err->message);
    }
    if (message && strcmp(err->message, message) != 0) {
        FAIL("'%s': \"%s\", expected \"%s\"", params, err->message, message);
    }
}

static const char all_params[] =
    "id=o,i8=-128,u8=255,i16=0x10,u16=65535,i32=-5,u32=4294967295,"
    "i64=-9223372036854775808,u64=18446744073709551615,sz=1.5M,b=on,"
    "num=2.5e1,s=a,,b,colour=blue-ish,opt-bool=yes,opt-int=0,"
    "inner.n=3,inner.label=x,ints.0=1,ints.1=2,strs.0=,"
    "inners.0.n=1,inners.1.n=2,inners.1.label=y,colours.0=red,"
    "opt-any.k=v";

static void test_all(void **state)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(TestAll) all = input(all_params, NULL, visit_all, &err);

    if (!all) {
        FAIL("%s", err->message);
    }
    assert_string_equal(all->id, "o");
    assert_int_equal(all->i8, -128);
    assert_int_equal(all->u8, 255);
    assert_int_equal(all->i16, 16);
    assert_true(all->u32 == UINT32_MAX);
    assert_true(all->i64 == INT64_MIN);
    assert_true(all->u64 == UINT64_MAX);
    assert_int_equal(all->sz, 1572864);
    assert_true(all->b);
    assert_true(all->num == 25.0);
    assert_string_equal(all->s, "a,b");
    assert_int_equal(all->colour, TEST_COLOUR_BLUE_ISH);
    assert_true(all->has_opt_bool && all->opt_bool);
    assert_true(all->has_opt_int && all->opt_int == 0);
    assert_int_equal(all->inner->n, 3);
    assert_string_equal(all->inner->label, "x");
    assert_int_equal(all->ints->value, 1);
    assert_int_equal(all->ints->next->value, 2);
    assert_null(all->ints->next->next);
    assert_string_equal(all->strs->value, "");
    assert_string_equal(all->inners->next->value->label, "y");
    assert_int_equal(all->colours->value, TEST_COLOUR_RED);
    assert_true(JSON_NODE_HOLDS_OBJECT(all->opt_any));
}

static void test_bools_and_sizes(void **state)
{
    static const struct {
        const char *text;
        bool value;
    } bools[] = {
        { "on", true },   { "yes", true }, { "true", true },
        { "off", false }, { "no", false }, { "false", false },
    };
    static const struct {
        const char *text;
        uint64_t value;
    } sizes[] = {
        { "0", 0 },           { "512", 512 },       { "4k", 4096 },
        { "4K", 4096 },       { "1M", 1 << 20 },    { "2G", 2ULL << 30 },
        { "1T", 1ULL << 40 }, { "1P", 1ULL << 50 }, { "15E", 15ULL << 60 },
        { "0x1000", 4096 },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(bools); i++) {
        g_autofree char *p =
            g_strdup_printf("type=file,path=p,append=%s", bools[i].text);
        g_autoptr(GError) err = NULL;
        g_autoptr(TestUnion) u = input(p, NULL, visit_union, &err);

        REQUIRE(u);
        assert_true(u->u.file.has_append);
        assert_int_equal(u->u.file.append, bools[i].value);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(sizes); i++) {
        g_autofree char *p =
            g_strdup_printf("type=net,host=h,port=1,sizes.0=%s", sizes[i].text);
        g_autoptr(GError) err = NULL;
        g_autoptr(TestUnion) u = input(p, NULL, visit_union, &err);

        if (!u) {
            FAIL("%s: %s", p, err->message);
        }
        assert_true(u->u.net.sizes->value == sizes[i].value);
    }
}

static void test_conversion_errors(void **state)
{
    static const struct {
        const char *params, *message;
    } cases[] = {
        { "n=abc", "Parameter 'n' expects an int64 value" },
        { "n=", "Parameter 'n' expects an int64 value" },
        { "n= 1", "Parameter 'n' expects an int64 value" },
        { "n=1x", "Parameter 'n' expects an int64 value" },
        { "n=9223372036854775808", "Parameter 'n' expects an int64 value" },
        { "n=-9223372036854775809", "Parameter 'n' expects an int64 value" },
        { "n=99999999999999999999999", "Parameter 'n' expects an int64 value" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        expect_error(cases[i].params, NULL, visit_inner,
                     QAPI_ERROR_INVALID_VALUE, cases[i].message);
    }
    expect_error("type=file,path=p,append=1", NULL, visit_union,
                 QAPI_ERROR_INVALID_VALUE,
                 "Parameter 'append' expects 'on' or 'off'");
    expect_error("type=file,path=p,append=ON", NULL, visit_union,
                 QAPI_ERROR_INVALID_VALUE,
                 "Parameter 'append' expects 'on' or 'off'");
    expect_error("type=net,host=h,port=65536", NULL, visit_union,
                 QAPI_ERROR_INVALID_VALUE, "Parameter 'port' expects uint16");
    expect_error("type=net,host=h,port=-1", NULL, visit_union,
                 QAPI_ERROR_INVALID_VALUE,
                 "Parameter 'port' expects a uint64 value");
    static const char *const bad_sizes[] = {
        "16E", "1x", "-1", "1.5", "", "1KiB", "99999999999999999999"
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad_sizes); i++) {
        g_autofree char *p =
            g_strdup_printf("type=net,host=h,port=1,sizes.0=%s", bad_sizes[i]);
        expect_error(p, NULL, visit_union, QAPI_ERROR_INVALID_VALUE,
                     "Parameter 'sizes.0' expects a size value");
    }
    expect_error("type=pipe", NULL, visit_union, QAPI_ERROR_INVALID_VALUE,
                 "Parameter 'type' does not accept value 'pipe'");
}

static void test_structure_errors(void **state)
{
    expect_error("label=x", NULL, visit_inner, QAPI_ERROR_MISSING_PARAMETER,
                 "Parameter 'n' is missing");
    expect_error("n=1,bogus=2", NULL, visit_inner,
                 QAPI_ERROR_UNEXPECTED_PARAMETER, "Invalid parameter 'bogus'");
    expect_error("n.x=1", NULL, visit_inner, QAPI_ERROR_INVALID_TYPE,
                 "Invalid parameter type for 'n', expected: integer");
    expect_error("n.0=1", NULL, visit_inner, QAPI_ERROR_INVALID_TYPE,
                 "Invalid parameter type for 'n', expected: integer");
    expect_error("type=net,data.host=h,data.port=1,data.x.y=2", NULL,
                 visit_wrapped, QAPI_ERROR_UNEXPECTED_PARAMETER,
                 "Invalid parameter 'data.x'");
    expect_error("type=net,data=h", NULL, visit_wrapped,
                 QAPI_ERROR_INVALID_TYPE,
                 "Invalid parameter type for 'data', expected: object");
    expect_error("type=net,data.host=h", NULL, visit_wrapped,
                 QAPI_ERROR_MISSING_PARAMETER,
                 "Parameter 'data.port' is missing");
    expect_error("type=net,host=h,port=1,sizes=5", NULL, visit_union,
                 QAPI_ERROR_INVALID_TYPE,
                 "Invalid parameter type for 'sizes', expected: array");
    expect_error("type=net,host=h,port=1,sizes.0.x=5", NULL, visit_union,
                 QAPI_ERROR_INVALID_TYPE,
                 "Invalid parameter type for 'sizes.0', expected: size");
}

static void test_bad_keys(void **state)
{
    /* keys that build no tree */
    static const struct {
        const char *params, *message;
    } cases[] = {
        { "a=1,a.b=2", "Parameters 'a.*' used inconsistently" },
        { "a.b=2,a=1", "Parameters 'a.*' used inconsistently" },
        { "a.b.c=1,a.b=2", "Parameters 'a.b.*' used inconsistently" },
        { "x.0=a,x.2=b", "Parameter 'x.1' missing" },
        { "x.1=a", "Parameter 'x.0' missing" },
        { "x.0=a,x.b=c", "Parameters 'x.*' used inconsistently" },
        { "x.00=a", NULL },
        { "x.4294967295=a", "Parameter 'x.0' missing" },
        { "x.99999999999999999999=a", "Parameter 'x.0' missing" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GError) err = NULL;
        g_autoptr(GPtrArray) pairs =
            qutil_keyval_parse(cases[i].params, NULL, NULL, &err);
        REQUIRE(pairs);
        g_autoptr(JsonNode) tree = qapi_keyval_tree(pairs, &err);

        if (!cases[i].message) {
            /* "00" is a key, not an index: the tree is an object */
            REQUIRE(tree);
            continue;
        }
        if (tree) {
            FAIL("'%s' built a tree", cases[i].params);
        }
        assert_true(g_error_matches(err, QAPI_ERROR, QAPI_ERROR_BAD_KEYS));
        assert_string_equal(err->message, cases[i].message);
    }
    /* a syntax error comes from util's parser, in its domain */
    expect_error("n=1,,", NULL, visit_inner, -1, NULL);
}

/* Many list elements cost one node each; the index is never a size. */
static void test_long_list(void **state)
{
    g_autoptr(GString) p = g_string_new("type=net,host=h,port=1");
    g_autoptr(GError) err = NULL;

    for (int i = 0; i < 5000; i++) {
        g_string_append_printf(p, ",sizes.%d=%d", i, i);
    }
    g_autoptr(TestUnion) u = input(p->str, NULL, visit_union, &err);
    REQUIRE(u);
    int n = 0;
    for (sizeList *l = u->u.net.sizes; l; l = l->next) {
        assert_int_equal(l->value, n);
        n++;
    }
    assert_int_equal(n, 5000);
}

static void test_implied_key_and_alternates(void **state)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(TestUnion) u = input("file,path=/p", "type", visit_union, &err);
    g_autoptr(TestAlts) a =
        input("a=x,b.n=4,d=blue-ish,e=2K", NULL, visit_alts, &err);
    g_autoptr(TestAlts) a2 = input("a=,b.0=q,d=green", NULL, visit_alts, &err);

    REQUIRE(u);
    assert_int_equal(u->type, TEST_KIND_FILE);
    REQUIRE(a);
    assert_string_equal(a->a->u.s, "x");
    assert_int_equal(a->b->type, QAPI_TYPE_OBJECT);
    assert_int_equal(a->b->u.o->n, 4);
    /* one non-string scalar branch reads the string */
    assert_int_equal(a->e->type, QAPI_TYPE_INT);
    assert_int_equal(a->e->u.sz, 2048);
    /* bool beside enum: the enum takes strings, "on" is no colour */
    assert_int_equal(a->d->type, QAPI_TYPE_STRING);
    assert_int_equal(a->d->u.e, TEST_COLOUR_BLUE_ISH);
    expect_error("a=x,d=on", NULL, visit_alts, QAPI_ERROR_INVALID_VALUE,
                 "Parameter 'd' does not accept value 'on'");
    REQUIRE(a2);
    assert_string_equal(a2->b->u.l->value, "q");
    assert_int_equal(a2->d->u.e, TEST_COLOUR_GREEN);
    /* number beside bool is ambiguous from a string: refused */
    expect_error("a=x,c=1.5", NULL, visit_alts, QAPI_ERROR_INVALID_TYPE,
                 "Invalid parameter type for 'c', expected: TestAltNumBool");
    /* an integer branch beside an object branch still needs a number */
    expect_error("a=x,e=big", NULL, visit_alts, QAPI_ERROR_INVALID_VALUE,
                 "Parameter 'e' expects a size value");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all),
        cmocka_unit_test(test_bools_and_sizes),
        cmocka_unit_test(test_conversion_errors),
        cmocka_unit_test(test_structure_errors),
        cmocka_unit_test(test_bad_keys),
        cmocka_unit_test(test_long_list),
        cmocka_unit_test(test_implied_key_and_alternates),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
