/*
 * Unit tests for HMP command-line parsing (vm/hmp-parse.c): QEMU's
 * argument types, quoting, expressions, aliases, info subcommands, and
 * QEMU's error messages for each kind of mistake.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "vm/hmp-parse.h"

static const VMHmpCommand info_table[] = {
    { "status", "", "", "show the current VM status (running|paused)" },
    { "qom-tree", "path:s?", "[path]", "show QOM composition tree" },
};

static const VMHmpCommand table[] = {
    { "help|?", "name:S?", "[cmd]", "show the help" },
    { "info|i", "item:s?", "[subcommand]", "show various information",
      info_table, G_N_ELEMENTS(info_table) },
    { "stop|s", "", "", "stop emulation" },
    { "object_add", "object:S", "[qom-type=]type,id=str[,prop=value][,...]",
      "create QOM object" },
    { "object_del", "id:s", "id", "destroy QOM object" },
    { "pmemsave", "val:l,size:i,filename:s", "addr size file", "save" },
};

static VMHmpParsed *ok(const char *line)
{
    g_autoptr(GError) err = NULL;
    VMHmpParsed *p = vm_hmp_parse(table, G_N_ELEMENTS(table), line, NULL, &err);

    if (!p) {
        fail_msg("'%s' rejected: %s", line, err->message);
    }
    return p;
}

static void bad(const char *line, int code, const char *message,
                const char *topic)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *help = NULL;
    g_autoptr(VMHmpParsed) p =
        vm_hmp_parse(table, G_N_ELEMENTS(table), line, &help, &err);

    if (p) {
        fail_msg("'%s' accepted", line);
    }
    if (!g_error_matches(err, VM_ERROR, code)) {
        fail_msg("'%s': code %d: %s", line, err->code, err->message);
    }
    assert_string_equal(err->message, message);
    if (topic) {
        assert_non_null(help);
        assert_string_equal(help, topic);
    } else {
        assert_null(help);
    }
}

static void test_commands(void **state)
{
    g_autoptr(VMHmpParsed) blank = ok("   ");
    g_autoptr(VMHmpParsed) stop = ok("  stop  ");
    g_autoptr(VMHmpParsed) s = ok("s");
    g_autoptr(VMHmpParsed) info = ok("info");
    g_autoptr(VMHmpParsed) status = ok("i status");
    g_autoptr(VMHmpParsed) tree = ok("info qom-tree /objects");

    assert_null(vm_hmp_parsed_command(blank));
    assert_string_equal(vm_hmp_parsed_command(stop)->name, "stop|s");
    assert_ptr_equal(vm_hmp_parsed_command(s), vm_hmp_parsed_command(stop));
    /* "info" alone is the info command itself, for its list. */
    assert_string_equal(vm_hmp_parsed_command(info)->name, "info|i");
    assert_false(vm_hmp_arg_has(info, "item"));
    assert_string_equal(vm_hmp_parsed_command(status)->name, "status");
    assert_string_equal(vm_hmp_arg_str(tree, "path"), "/objects");
    assert_ptr_equal(vm_hmp_find(table, G_N_ELEMENTS(table), "?"), &table[0]);
    assert_null(vm_hmp_find(table, G_N_ELEMENTS(table), "sto"));
}

static void test_strings(void **state)
{
    g_autoptr(VMHmpParsed) add = ok("object_add  secret,id=s0,data=a b c  ");
    g_autoptr(VMHmpParsed) del = ok("object_del \"a \\\"b\\\" \\\\ \\n\"");
    g_autoptr(VMHmpParsed) help = ok("help info status");
    g_autoptr(VMHmpParsed) help0 = ok("help");

    /* S takes the rest of the line, trailing blanks trimmed. */
    assert_string_equal(vm_hmp_arg_str(add, "object"),
                        "secret,id=s0,data=a b c");
    assert_string_equal(vm_hmp_arg_str(del, "id"), "a \"b\" \\ \n");
    assert_string_equal(vm_hmp_arg_str(help, "name"), "info status");
    assert_false(vm_hmp_arg_has(help0, "name"));
    assert_null(vm_hmp_arg_str(help0, "name"));
}

static void test_pmemsave(void **state)
{
    g_autoptr(VMHmpParsed) p = ok("pmemsave 0x10+1 (2*3) \"/tmp/x y\"");
    g_autoptr(VMHmpParsed) q = ok("pmemsave -1 ~0&0xff010 rel");

    assert_int_equal(vm_hmp_arg_int(p, "val"), 17);
    assert_int_equal(vm_hmp_arg_int(p, "size"), 6);
    assert_string_equal(vm_hmp_arg_str(p, "filename"), "/tmp/x y");
    assert_int_equal(vm_hmp_arg_int(q, "val"), -1);
    assert_int_equal(vm_hmp_arg_int(q, "size"), 0xff010);
    assert_string_equal(vm_hmp_arg_str(q, "filename"), "rel");
}

static void test_expressions(void **state)
{
    static const struct {
        const char *expr;
        int64_t value;
    } good[] = {
        { "0", 0 },     { "010", 8 },           { "0x1F", 31 },
        { "1+2*3", 7 }, { "(1+2)*3", 9 },       { "7%4", 3 },
        { "1|2^3", 0 }, { "6&3", 2 },           { "- 5", -5 },
        { "~0", -1 },   { "2 * (3 + 4) ", 14 }, { "0xffffffffffffffff", -1 },
        { "1-2", -1 },  { "8/3", 2 },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(good); i++) {
        g_autoptr(GError) err = NULL;
        const char *p = good[i].expr;
        int64_t v;

        if (!vm_hmp_eval_expr(&p, &v, &err)) {
            fail_msg("'%s': %s", good[i].expr, err->message);
        }
        assert_int_equal(v, good[i].value);
        assert_int_equal(*p, '\0');
    }
}

static void test_errors(void **state)
{
    g_autofree char *deep = NULL;

    bad("foo bar", VM_ERROR_NOT_FOUND, "unknown command: 'foo'", NULL);
    bad("info foo", VM_ERROR_NOT_FOUND, "unknown command: 'info foo'", NULL);
    bad("help2", VM_ERROR_NOT_FOUND, "unknown command: 'help2'", NULL);
    bad("stop s", VM_ERROR_INVALID_VALUE,
        "stop|s: extraneous characters at the end of line", "stop");
    bad("s 1", VM_ERROR_INVALID_VALUE,
        "stop|s: extraneous characters at the end of line", "s");
    bad("info status extra", VM_ERROR_INVALID_VALUE,
        "status: extraneous characters at the end of line", "info status");
    bad("i status extra", VM_ERROR_INVALID_VALUE,
        "status: extraneous characters at the end of line", "info status");
    bad("object_add", VM_ERROR_INVALID_VALUE, "object_add: string expected",
        "object_add");
    bad("object_del", VM_ERROR_INVALID_VALUE, "object_del: string expected",
        "object_del");
    bad("object_del a b", VM_ERROR_INVALID_VALUE,
        "object_del: extraneous characters at the end of line", "object_del");
    bad("pmemsave 0 16", VM_ERROR_INVALID_VALUE, "pmemsave: string expected",
        "pmemsave");
    /* QEMU reads "16 /tmp" as a division: quote file names. */
    bad("pmemsave 0 16 /tmp/x", VM_ERROR_INVALID_VALUE,
        "invalid char 't' in expression", "pmemsave");
    bad("pmemsave", VM_ERROR_INVALID_VALUE, "unexpected end of expression",
        "pmemsave");
    bad("pmemsave 1/0 1 f", VM_ERROR_INVALID_VALUE, "division by zero",
        "pmemsave");
    bad("pmemsave 1%0 1 f", VM_ERROR_INVALID_VALUE, "division by zero",
        "pmemsave");
    bad("pmemsave (1 1 f", VM_ERROR_INVALID_VALUE, "')' expected", "pmemsave");
    bad("pmemsave $pc 1 f", VM_ERROR_INVALID_VALUE,
        "no CPU: registers cannot be read", "pmemsave");
    bad("pmemsave 99999999999999999999 1 f", VM_ERROR_INVALID_VALUE,
        "number too large", "pmemsave");
    bad("object_del \"abc", VM_ERROR_INVALID_VALUE, "unterminated string",
        "object_del");
    bad("object_del \"abc\\", VM_ERROR_INVALID_VALUE, "unterminated string",
        "object_del");
    bad("object_del \"\\q\"", VM_ERROR_INVALID_VALUE,
        "unsupported escape code: '\\q'", "object_del");

    /* Hostile nesting is bounded, not a stack overflow. */
    {
        g_autofree char *open = g_strnfill(10000, '(');
        g_autoptr(GError) err = NULL;
        g_autoptr(VMHmpParsed) p = NULL;

        deep = g_strdup_printf("pmemsave %s1 1 f", open);
        p = vm_hmp_parse(table, G_N_ELEMENTS(table), deep, NULL, &err);
        assert_null(p);
        assert_true(g_error_matches(err, VM_ERROR, VM_ERROR_INVALID_VALUE));
    }
    {
        g_autofree char *open = g_strnfill(VM_HMP_EXPR_DEPTH_MAX - 1, '(');
        g_autofree char *close = g_strnfill(VM_HMP_EXPR_DEPTH_MAX - 1, ')');
        g_autofree char *nest =
            g_strdup_printf("pmemsave %s1%s 1 f", open, close);
        g_autoptr(VMHmpParsed) p = ok(nest);

        assert_int_equal(vm_hmp_arg_int(p, "val"), 1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_commands), cmocka_unit_test(test_strings),
        cmocka_unit_test(test_pmemsave), cmocka_unit_test(test_expressions),
        cmocka_unit_test(test_errors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
