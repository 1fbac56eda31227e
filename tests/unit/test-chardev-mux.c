/*
 * Unit tests for the mux chardev over a ring buffer whose input the test
 * injects with the backend API: focus order and MUX_IN/MUX_OUT, events to
 * every frontend, each Ctrl-a escape (also split across reads), the help
 * and quit messages, time stamps, and input bounded by the focused
 * frontend's room.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "chardev-test-frontend.h"
#include "chardev/char-mux.h"
#include "chardev/char-ringbuf.h"

typedef TestFe Fe;

static QIOChardev *base;
static QIOChardev *mux;
static Fe fa, fb;
static unsigned quits;

static void inject(const char *s)
{
    size_t len = strlen(s);

    assert_true(qio_chardev_be_can_read(base) >= len);
    qio_chardev_be_read(base, (const uint8_t *)s, len);
}

static char *output(void)
{
    uint8_t buf[4096];
    gssize n = qio_chardev_ringbuf_read(base, buf, sizeof(buf), NULL);

    assert_true(n >= 0);
    return g_strndup((const char *)buf, n);
}

static void drain(void)
{
    while (g_main_context_iteration(NULL, false)) {
    }
}

static void on_quit(gpointer opaque)
{
    quits++;
}

static int setup(void **state)
{
    g_autoptr(GError) err = NULL;

    memset(&fa, 0, sizeof(fa));
    memset(&fb, 0, sizeof(fb));
    fa.in = g_string_new("");
    fb.in = g_string_new("");
    fa.room = fb.room = 1024;
    base = qio_chardev_ringbuf_new("m0-base", 4096, &err);
    assert_non_null(base);
    mux = qio_chardev_mux_new("m0", base, &err);
    assert_non_null(mux);
    drain();
    g_free(output());
    return 0;
}

static int teardown(void **state)
{
    qio_chardev_detach(mux, 0);
    qio_chardev_detach(mux, 1);
    assert_true(qio_chardev_remove("m0", NULL));
    assert_true(qio_chardev_remove("m0-base", NULL));
    g_string_free(fa.in, true);
    g_string_free(fb.in, true);
    return 0;
}

static void test_focus_and_events(void **state)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *fn = qio_chardev_get_filename(mux);

    assert_string_equal(fn, "mux");
    assert_ptr_equal(qio_chardev_mux_get_base(mux), base);
    /* The base is the mux's now. */
    assert_false(qio_chardev_remove("m0-base", &err));
    g_clear_error(&err);

    assert_int_equal(qio_chardev_attach(mux, &test_fe_handlers, &fa, &err), 0);
    assert_int_equal(qio_chardev_mux_get_focus(mux), 0);
    assert_int_equal(fa.events[QIO_CHARDEV_EVENT_MUX_IN], 1);
    assert_int_equal(qio_chardev_attach(mux, &test_fe_handlers, &fb, &err), 1);
    assert_int_equal(qio_chardev_mux_get_focus(mux), 1);
    assert_int_equal(fa.events[QIO_CHARDEV_EVENT_MUX_OUT], 1);
    assert_int_equal(fb.events[QIO_CHARDEV_EVENT_MUX_IN], 1);
    /* The ring buffer is open from the start: both hear OPENED. */
    drain();
    assert_int_equal(fa.events[QIO_CHARDEV_EVENT_OPENED], 1);
    assert_int_equal(fb.events[QIO_CHARDEV_EVENT_OPENED], 1);
    /* The mux itself is busy while frontends use it. */
    assert_false(qio_chardev_remove("m0", &err));
    g_clear_error(&err);

    inject("ab");
    assert_string_equal(fb.in->str, "ab");
    inject("\001c");
    assert_int_equal(qio_chardev_mux_get_focus(mux), 0);
    assert_int_equal(fb.events[QIO_CHARDEV_EVENT_MUX_OUT], 1);
    assert_int_equal(fa.events[QIO_CHARDEV_EVENT_MUX_IN], 2);
    inject("x");
    assert_string_equal(fa.in->str, "x");
    /* An escape split across two reads. */
    inject("\001");
    inject("c");
    assert_int_equal(qio_chardev_mux_get_focus(mux), 1);
    inject("\001c\001c");
    assert_int_equal(qio_chardev_mux_get_focus(mux), 1);

    /* Bytes before a switch in the same read stay with the old focus. */
    g_string_truncate(fa.in, 0);
    g_string_truncate(fb.in, 0);
    inject("pq\001cr");
    assert_string_equal(fb.in->str, "pq");
    assert_string_equal(fa.in->str, "r");
    inject("\001c");

    /* Output from either frontend reaches the base. */
    assert_int_equal(qio_chardev_write(mux, "out", 3, &err), 3);
    g_free(fn);
    fn = output();
    assert_string_equal(fn, "out");

    /* The focused frontend leaving passes the focus on. */
    qio_chardev_detach(mux, 1);
    assert_int_equal(qio_chardev_mux_get_focus(mux), 0);
}

static void test_escapes(void **state)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *out = NULL;

    assert_int_equal(qio_chardev_attach(mux, &test_fe_handlers, &fa, &err), 0);
    inject("1\001\0012");
    assert_string_equal(fa.in->str, "1\0012");
    inject("\001b");
    assert_int_equal(fa.events[QIO_CHARDEV_EVENT_BREAK], 1);
    /* s (nothing to save) and unknown escapes are dropped. */
    inject("\001s\001z3");
    assert_string_equal(fa.in->str, "1\00123");
    assert_int_equal(strlen(out = output()), 0);
    g_clear_pointer(&out, g_free);

    inject("\001h");
    out = output();
    assert_non_null(strstr(out, "C-a h"));
    assert_non_null(strstr(out, "C-a x"));
    assert_non_null(strstr(out, "C-a c"));
    assert_non_null(strstr(out, "C-a C-a"));
    g_clear_pointer(&out, g_free);
    inject("\001?");
    out = output();
    assert_non_null(strstr(out, "C-a t"));
    g_clear_pointer(&out, g_free);

    qio_chardev_mux_set_quit_func(on_quit, NULL);
    inject("\001x");
    assert_int_equal(quits, 1);
    out = output();
    assert_string_equal(out, "qio: Terminated\n\r");
    qio_chardev_mux_set_quit_func(NULL, NULL);
    assert_string_equal(fa.in->str, "1\00123");
}

static void test_timestamps(void **state)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *out = NULL;
    g_autoptr(GRegex) re = NULL;

    assert_int_equal(qio_chardev_attach(mux, &test_fe_handlers, &fa, &err), 0);
    inject("\001t");
    assert_int_equal(qio_chardev_write(mux, "one\ntwo\nthr", 11, &err), 11);
    assert_int_equal(qio_chardev_write(mux, "ee\n", 3, &err), 3);
    out = output();
    re = g_regex_new("^one\n\\[00:00:00\\.[0-9]{3}\\] two\n"
                     "\\[00:00:00\\.[0-9]{3}\\] three\n$",
                     0, 0, NULL);
    if (!g_regex_match(re, out, 0, NULL)) {
        fail_msg("stamped output: '%s'", out);
    }
    g_clear_pointer(&out, g_free);
    inject("\001t");
    assert_int_equal(qio_chardev_write(mux, "x\ny\n", 4, &err), 4);
    out = output();
    assert_string_equal(out, "x\ny\n");
}

static void test_backpressure(void **state)
{
    g_autoptr(GError) err = NULL;

    assert_int_equal(qio_chardev_attach(mux, &test_fe_handlers, &fa, &err), 0);
    fa.room = 2;
    assert_int_equal(qio_chardev_be_can_read(base), 2);
    inject("ab");
    /* Full: the mux still takes 32 bytes more for it, so escapes pass. */
    assert_int_equal(qio_chardev_be_can_read(base), 32);
    inject("cd");
    assert_string_equal(fa.in->str, "ab");
    assert_int_equal(qio_chardev_be_can_read(base), 30);
    assert_int_equal(qio_chardev_attach(mux, &test_fe_handlers, &fb, &err), 1);
    /* The focus follows the newest frontend, and so does the room. */
    assert_int_equal(qio_chardev_be_can_read(base), 1024);
    qio_chardev_detach(mux, 1);
    /* Back to the full one: only what is left of its 32 bytes. */
    assert_int_equal(qio_chardev_be_can_read(base), 30);
    /* When it takes input again, what was kept comes first, in order. */
    fa.room = 10;
    qio_chardev_accept_input(mux);
    assert_string_equal(fa.in->str, "abcd");
    assert_int_equal(qio_chardev_be_can_read(base), 8);
    qio_chardev_detach(mux, 0);
    assert_int_equal(qio_chardev_be_can_read(base), 0);
}

/* A frontend that takes nothing (a paused guest) must not trap the user. */
static void test_escape_past_full_frontend(void **state)
{
    g_autoptr(GError) err = NULL;

    assert_int_equal(qio_chardev_attach(mux, &test_fe_handlers, &fa, &err), 0);
    assert_int_equal(qio_chardev_attach(mux, &test_fe_handlers, &fb, &err), 1);
    fb.room = 0;
    assert_int_equal(qio_chardev_mux_get_focus(mux), 1);
    inject("xy\001c");
    assert_int_equal(qio_chardev_mux_get_focus(mux), 0);
    inject("to a");
    assert_string_equal(fa.in->str, "to a");
    inject("\001c");
    assert_int_equal(qio_chardev_mux_get_focus(mux), 1);
    fb.room = 100;
    qio_chardev_accept_input(mux);
    assert_string_equal(fb.in->str, "xy");
    qio_chardev_mux_set_quit_func(on_quit, NULL);
    quits = 0;
    fb.room = 0;
    inject("\001x");
    assert_int_equal(quits, 1);
    qio_chardev_mux_set_quit_func(NULL, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_focus_and_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_escapes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timestamps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backpressure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_escape_past_full_frontend, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
