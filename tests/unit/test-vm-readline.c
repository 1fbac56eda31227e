/*
 * Unit tests for the HMP line editor (vm/readline.c).  The expected bytes
 * in the echo tests were recorded from QEMU 7.2's monitor for the same
 * input, so a client that parses QEMU's echo sees the same thing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "vm/readline.h"

typedef struct Term {
    VMReadline *rl;
    GString *out;
    GPtrArray *lines;
} Term;

static void term_output(void *opaque, const char *buf, size_t len)
{
    Term *t = opaque;

    g_string_append_len(t->out, buf, len);
}

static void term_line(void *opaque, const char *line)
{
    Term *t = opaque;

    g_ptr_array_add(t->lines, g_strdup(line));
    g_string_append_printf(t->out, "<%s>\r\n", line);
    vm_readline_show_prompt(t->rl);
}

static Term *term_new(void)
{
    Term *t = g_new0(Term, 1);

    t->out = g_string_new(NULL);
    t->lines = g_ptr_array_new_with_free_func(g_free);
    t->rl = vm_readline_new("(qemu) ", term_output, term_line, t);
    vm_readline_show_prompt(t->rl);
    g_string_truncate(t->out, 0);
    return t;
}

static void term_free(Term *t)
{
    vm_readline_free(t->rl);
    g_string_free(t->out, TRUE);
    g_ptr_array_unref(t->lines);
    g_free(t);
}

static void feed(Term *t, const char *s)
{
    vm_readline_feed(t->rl, (const uint8_t *)s, strlen(s));
}

static void feed_bytewise(Term *t, const char *s)
{
    for (; *s; s++) {
        vm_readline_feed(t->rl, (const uint8_t *)s, 1);
    }
}

static void test_echo_like_qemu(void **state)
{
    Term *t = term_new();

    feed(t, "stop\r");
    assert_string_equal(t->out->str,
                        "s\033[K\033[Dst\033[K\033[D\033[Dsto\033[K\033[D\033["
                        "D\033[Dstop\033[K\r\n<stop>\r\n(qemu) ");
    assert_int_equal(t->lines->len, 1);
    assert_string_equal(g_ptr_array_index(t->lines, 0), "stop");
    term_free(t);
}

static void test_bytewise_equals_whole(void **state)
{
    static const char *const inputs[] = {
        "info status\r",
        "ab\177c\010d\r",
        "xy\033[Dz\r\033[A\033[A\033[B\001q\005w\r",
        "abc\033[H\033[3~\033[F!\r",
        "one\rtwo\r\nthree\n",
    };

    for (size_t i = 0; i < G_N_ELEMENTS(inputs); i++) {
        Term *a = term_new();
        Term *b = term_new();

        feed(a, inputs[i]);
        feed_bytewise(b, inputs[i]);
        assert_string_equal(a->out->str, b->out->str);
        assert_int_equal(a->lines->len, b->lines->len);
        term_free(a);
        term_free(b);
    }
}

static void test_editing(void **state)
{
    Term *t = term_new();

    /* Backspace as DEL and as BS. */
    feed(t, "ab\177c\010d\r");
    assert_string_equal(
        t->out->str, "a\033[K\033[Dab\033[K\033[D\033[Da\033[K\033[Dac\033["
                     "K\033[D\033[Da\033[K\033[Dad\033[K\r\n<ad>\r\n(qemu) ");
    g_string_truncate(t->out, 0);

    /* Insert in the middle: the tail is redrawn and the cursor put back. */
    feed(t, "xy\033[Dz\r");
    assert_string_equal(t->out->str,
                        "x\033[K\033[Dxy\033[K\033[D\033[Dxzy\033[K\033[D\r\n"
                        "<xzy>\r\n(qemu) ");
    g_string_truncate(t->out, 0);

    /* Delete under the cursor. */
    feed(t, "abc\033[D\033[D\033[3~\r");
    assert_string_equal(t->out->str,
                        "a\033[K\033[Dab\033[K\033[D\033[Dabc\033[K\033[D\033["
                        "D\033[Dac\033[K\033[D\r\n<ac>\r\n(qemu) ");

    /* Home/End in every spelling, Ctrl-D, Ctrl-K, Ctrl-U, Ctrl-W. */
    feed(t, "bc\033[1~a\033[4~d\033OHx\033OFy\r");
    assert_string_equal(g_ptr_array_index(t->lines, 3), "xabcdy");
    feed(t, "abc\001\004\r");
    assert_string_equal(g_ptr_array_index(t->lines, 4), "bc");
    feed(t, "abcdef\033[D\033[D\013\r");
    assert_string_equal(g_ptr_array_index(t->lines, 5), "abcd");
    feed(t, "abcdef\033[D\033[D\025\r");
    assert_string_equal(g_ptr_array_index(t->lines, 6), "ef");
    feed(t, "info  status\027\027x\r");
    assert_string_equal(g_ptr_array_index(t->lines, 7), "x");
    /* Right arrow stops at the end whatever its count says. */
    feed(t, "a\033[9999Cb\r");
    assert_string_equal(g_ptr_array_index(t->lines, 8), "ab");
    term_free(t);
}

static void test_history(void **state)
{
    Term *t = term_new();

    feed(t, "ad\rxzy\r");
    g_string_truncate(t->out, 0);
    feed(t, "\033[A");
    assert_string_equal(t->out->str, "xzy\033[K");
    g_string_truncate(t->out, 0);
    feed(t, "\033[A");
    assert_string_equal(t->out->str, "\033[D\033[D\033[Dad\033[K");
    g_string_truncate(t->out, 0);
    feed(t, "\033[A"); /* stays on the oldest */
    assert_string_equal(t->out->str, "");
    feed(t, "\033[B");
    assert_string_equal(t->out->str, "\033[D\033[Dxzy\033[K");
    g_string_truncate(t->out, 0);
    /* Ctrl-A, insert, Ctrl-E, append: QEMU's bytes. */
    feed(t, "\001q\005w\r");
    assert_string_equal(t->out->str,
                        "\033[D\033[D\033[Dqxzy\033[K\033[D\033[D\033[D\033[C"
                        "\033[C\033[C\033[D\033[D\033[D\033[Dqxzyw\033[K\r\n"
                        "<qxzyw>\r\n(qemu) ");
    /* Down past the newest gives an empty line. */
    feed(t, "\033[A\033[B\r");
    assert_string_equal(g_ptr_array_index(t->lines, 3), "");
    /* A repeated command moves to the end; empty lines are not kept. */
    feed(t, "ad\r");
    assert_string_equal(vm_readline_get_history(t->rl, 0), "xzy");
    assert_string_equal(vm_readline_get_history(t->rl, 1), "qxzyw");
    assert_string_equal(vm_readline_get_history(t->rl, 2), "ad");
    assert_null(vm_readline_get_history(t->rl, 3));
    /* Bounded. */
    for (int i = 0; i < VM_READLINE_HISTORY_MAX + 10; i++) {
        g_autofree char *cmd = g_strdup_printf("c%d\r", i);

        feed(t, cmd);
    }
    assert_non_null(
        vm_readline_get_history(t->rl, VM_READLINE_HISTORY_MAX - 1));
    assert_null(vm_readline_get_history(t->rl, VM_READLINE_HISTORY_MAX));
    assert_string_equal(vm_readline_get_history(t->rl, 0), "c10");
    term_free(t);
}

static void test_line_ends(void **state)
{
    Term *t = term_new();

    /* CR LF is one line end; LF alone and CR alone are one each. */
    feed(t, "a\r\nb\nc\r\rd\n\n");
    assert_int_equal(t->lines->len, 6);
    assert_string_equal(g_ptr_array_index(t->lines, 0), "a");
    assert_string_equal(g_ptr_array_index(t->lines, 1), "b");
    assert_string_equal(g_ptr_array_index(t->lines, 2), "c");
    assert_string_equal(g_ptr_array_index(t->lines, 3), "");
    assert_string_equal(g_ptr_array_index(t->lines, 4), "d");
    assert_string_equal(g_ptr_array_index(t->lines, 5), "");
    /* ... also when the LF comes in the next read. */
    feed(t, "e\r");
    feed(t, "\nf\r");
    assert_int_equal(t->lines->len, 8);
    assert_string_equal(g_ptr_array_index(t->lines, 7), "f");
    term_free(t);
}

static void test_split_escapes(void **state)
{
    Term *t = term_new();

    feed(t, "ab");
    feed(t, "\033");
    feed(t, "[");
    feed(t, "D");
    feed(t, "X");
    feed(t, "\033[");
    feed(t, "3");
    feed(t, "~\r");
    assert_string_equal(g_ptr_array_index(t->lines, 0), "aX");
    /* Unknown sequences and control bytes are ignored, long ones
     * abandoned (their tail is then typed text, as on a terminal). */
    feed(t, "a\033[1;5Cb\003\033[Zc\033[123456789012D\r");
    assert_string_equal(g_ptr_array_index(t->lines, 1), "abc012D");
    feed(t, "\033x\033Oq1\r");
    assert_string_equal(g_ptr_array_index(t->lines, 2), "1");
    term_free(t);
}

static void test_bounds(void **state)
{
    Term *t = term_new();
    g_autofree char *big = g_strnfill(10000, 'a');

    feed(t, big);
    assert_int_equal(strlen(vm_readline_get_line(t->rl)), VM_READLINE_LINE_MAX);
    feed(t, "\r");
    assert_int_equal(strlen(g_ptr_array_index(t->lines, 0)),
                     VM_READLINE_LINE_MAX);
    /* Bytes above 0x7f (UTF-8) are kept as they are. */
    feed(t, "\xc3\xa9\r");
    assert_string_equal(g_ptr_array_index(t->lines, 1), "\xc3\xa9");
    term_free(t);
}

static void complete_cmds(void *opaque, const char *line, GPtrArray *matches)
{
    static const char *const cmds[] = { "info", "stop", "stat" };

    for (size_t i = 0; i < G_N_ELEMENTS(cmds); i++) {
        if (g_str_has_prefix(cmds[i], line)) {
            g_ptr_array_add(matches, g_strdup(cmds[i]));
        }
    }
}

static void test_completion(void **state)
{
    Term *t = term_new();

    vm_readline_set_completion(t->rl, complete_cmds);
    feed(t, "in\t");
    assert_string_equal(vm_readline_get_line(t->rl), "info ");
    feed(t, "\025st\t");
    assert_string_equal(vm_readline_get_line(t->rl), "st");
    assert_non_null(strstr(t->out->str, "stop"));
    assert_non_null(strstr(t->out->str, "stat"));
    term_free(t);
}

static void test_save_restore(void **state)
{
    Term *t = term_new();
    Term *u = term_new();
    g_autoptr(GByteArray) blob = g_byte_array_new();
    QUtilWire w;

    feed(t, "first\rsecond\rhalf\033[D\033[");
    vm_readline_save(t->rl, blob);
    qutil_wire_init(&w, blob->data, blob->len);
    assert_true(vm_readline_restore(u->rl, &w));
    assert_true(qutil_wire_at_end(&w));
    assert_string_equal(vm_readline_get_line(u->rl), "half");
    assert_int_equal(vm_readline_get_cursor(u->rl), 3);
    assert_string_equal(vm_readline_get_history(u->rl, 1), "second");
    /* The pending ESC [ continues on the new side. */
    feed(u, "D!\r");
    assert_string_equal(g_ptr_array_index(u->lines, 0), "ha!lf");

    /* Every truncation fails and leaves the editor as it was. */
    for (guint cut = 0; cut < blob->len; cut++) {
        Term *v = term_new();

        feed(v, "keep");
        qutil_wire_init(&w, blob->data, cut);
        assert_false(vm_readline_restore(v->rl, &w));
        assert_string_equal(vm_readline_get_line(v->rl), "keep");
        term_free(v);
    }
    /* A cursor past the line and an oversized length are refused. */
    {
        static const uint8_t bad_cursor[] = { 0, 0, 0, 1, 'a', 0, 0, 0, 2, 0,
                                              0, 0, 0, 0, 0,   0, 0, 0, 0 };
        static const uint8_t huge_line[] = { 0xff, 0xff, 0xff, 0xff };

        qutil_wire_init(&w, bad_cursor, sizeof(bad_cursor));
        assert_false(vm_readline_restore(u->rl, &w));
        qutil_wire_init(&w, huge_line, sizeof(huge_line));
        assert_false(vm_readline_restore(u->rl, &w));
    }
    term_free(t);
    term_free(u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_echo_like_qemu),
        cmocka_unit_test(test_bytewise_equals_whole),
        cmocka_unit_test(test_editing),
        cmocka_unit_test(test_history),
        cmocka_unit_test(test_line_ends),
        cmocka_unit_test(test_split_escapes),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_completion),
        cmocka_unit_test(test_save_restore),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
