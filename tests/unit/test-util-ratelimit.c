/*
 * Unit tests for util/ratelimit.c, driven by a fake clock: the burst per
 * window, the count of suppressed lines carried to the next printed one,
 * and the line that qutil_ratelimit_log() writes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "util/ratelimit.h"

static gint64 fake_now;

static gint64 fake_clock(gpointer opaque)
{
    return *(gint64 *)opaque;
}

static void test_burst_then_suppress(void **state)
{
    QUtilRateLimit rl;
    guint sup = 99;

    qutil_ratelimit_init(&rl, 3, 1000);
    fake_now = 5 * G_TIME_SPAN_SECOND;
    qutil_ratelimit_set_clock(&rl, fake_clock, &fake_now);
    for (int i = 0; i < 3; i++) {
        assert_true(qutil_ratelimit_check(&rl, &sup));
        assert_int_equal(sup, 0);
    }
    for (int i = 0; i < 10; i++) {
        fake_now += 10 * G_TIME_SPAN_MILLISECOND;
        assert_false(qutil_ratelimit_check(&rl, &sup));
    }
    /* Still inside the window that started at 5 s. */
    fake_now = 5 * G_TIME_SPAN_SECOND + 999 * G_TIME_SPAN_MILLISECOND;
    assert_false(qutil_ratelimit_check(&rl, &sup));
    /* A new window: the first line carries the count. */
    fake_now = 6 * G_TIME_SPAN_SECOND;
    assert_true(qutil_ratelimit_check(&rl, &sup));
    assert_int_equal(sup, 11);
    assert_true(qutil_ratelimit_check(&rl, &sup));
    assert_int_equal(sup, 0);
    qutil_ratelimit_destroy(&rl);
}

static void test_flood_is_bounded(void **state)
{
    QUtilRateLimit rl;
    guint printed = 0, total_sup = 0, sup;

    qutil_ratelimit_init(&rl, 2, 60 * 1000);
    fake_now = 0;
    qutil_ratelimit_set_clock(&rl, fake_clock, &fake_now);
    /* One event every 100 ms for ten minutes. */
    for (int i = 0; i < 6000; i++) {
        if (qutil_ratelimit_check(&rl, &sup)) {
            printed++;
            total_sup += sup;
        }
        fake_now += 100 * G_TIME_SPAN_MILLISECOND;
    }
    assert_int_equal(printed, 20);
    /* Every event is either printed or counted in a later line. */
    assert_true(printed + total_sup <= 6000);
    assert_true(printed + total_sup >= 6000 - 600);
    qutil_ratelimit_destroy(&rl);
}

static void test_clock_going_back(void **state)
{
    QUtilRateLimit rl;

    qutil_ratelimit_init(&rl, 1, 1000);
    fake_now = 10 * G_TIME_SPAN_SECOND;
    qutil_ratelimit_set_clock(&rl, fake_clock, &fake_now);
    assert_true(qutil_ratelimit_check(&rl, NULL));
    assert_false(qutil_ratelimit_check(&rl, NULL));
    /* A clock that went backwards starts a new window, not a stuck one. */
    fake_now = G_TIME_SPAN_SECOND;
    assert_true(qutil_ratelimit_check(&rl, NULL));
    qutil_ratelimit_destroy(&rl);
}

static GString *captured;

static GLogWriterOutput capture_writer(GLogLevelFlags level,
                                       const GLogField *fields, gsize n,
                                       gpointer opaque)
{
    for (gsize i = 0; i < n; i++) {
        if (strcmp(fields[i].key, "MESSAGE") == 0) {
            g_string_append_printf(captured, "%s\n",
                                   (const char *)fields[i].value);
        }
    }
    return G_LOG_WRITER_HANDLED;
}

static void test_log_line(void **state)
{
    QUtilRateLimit rl;

    captured = g_string_new(NULL);
    qutil_ratelimit_init(&rl, 1, 1000);
    fake_now = 0;
    qutil_ratelimit_set_clock(&rl, fake_clock, &fake_now);
    assert_true(qutil_ratelimit_log_full(&rl, "test", G_LOG_LEVEL_MESSAGE,
                                         "cannot accept: %s", "EMFILE"));
    assert_false(qutil_ratelimit_log_full(&rl, "test", G_LOG_LEVEL_MESSAGE,
                                          "cannot accept: %s", "EMFILE"));
    assert_false(qutil_ratelimit_log_full(&rl, "test", G_LOG_LEVEL_MESSAGE,
                                          "cannot accept: %s", "EMFILE"));
    fake_now = 2 * G_TIME_SPAN_SECOND;
    assert_true(qutil_ratelimit_log_full(&rl, "test", G_LOG_LEVEL_MESSAGE,
                                         "cannot accept: %s", "EMFILE"));
    assert_string_equal(captured->str,
                        "cannot accept: EMFILE\n"
                        "cannot accept: EMFILE (2 similar messages "
                        "suppressed)\n");
    qutil_ratelimit_destroy(&rl);
    g_string_free(captured, TRUE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_then_suppress),
        cmocka_unit_test(test_flood_is_bounded),
        cmocka_unit_test(test_clock_going_back),
        cmocka_unit_test(test_log_line),
    };

    g_log_set_writer_func(capture_writer, NULL, NULL);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
