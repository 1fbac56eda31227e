/*
 * Unit tests for the QIOChardev base, through the null and ringbuf
 * backends: the registry (ids, duplicates, busy, remove), frontend slots
 * and the late OPENED, events, received descriptors, the logfile, and the
 * ring buffer's wrap-around.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <glib/gstdio.h>
#include <unistd.h>

#include "chardev-test-frontend.h"
#include "chardev/char-null.h"
#include "chardev/char-ringbuf.h"

typedef TestFe Fe;

static void drain(void)
{
    while (g_main_context_iteration(NULL, false)) {
    }
}

static int teardown(void **state)
{
    qio_chardev_remove_all();
    return 0;
}

static void test_registry(void **state)
{
    g_autoptr(GError) err = NULL;
    QIOChardev *a = qio_chardev_null_new("a0", &err);
    QIOChardev *b;
    g_autoptr(GPtrArray) list = NULL;
    g_autofree char *fn = NULL;

    assert_non_null(a);
    assert_ptr_equal(qio_chardev_find("a0"), a);
    assert_null(qio_chardev_find("nope"));
    assert_string_equal(qio_chardev_get_id(a), "a0");
    assert_string_equal(qio_chardev_get_label(a), "a0");
    assert_string_equal(qio_chardev_get_backend_name(a), "null");
    fn = qio_chardev_get_filename(a);
    assert_string_equal(fn, "null");

    assert_null(qio_chardev_null_new("a0", &err));
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_EXISTS));
    g_clear_error(&err);
    /* A failed ring keeps the registry as it was. */
    assert_null(qio_chardev_ringbuf_new("a0", 16, &err));
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_EXISTS));
    g_clear_error(&err);
    assert_ptr_equal(qio_chardev_find("a0"), a);

    assert_null(qio_chardev_null_new("", &err));
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT));
    g_clear_error(&err);
    /* -chardev's rule (the registry itself takes any id, as QMP does). */
    const char *bad[] = { "0abc", "a b", "a/b", "-x", "a,b", "" };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        assert_false(qio_chardev_id_wellformed(bad[i]));
    }
    assert_true(qio_chardev_id_wellformed("B-1.x_y"));

    b = qio_chardev_ringbuf_new("B-1.x_y", 0, &err);
    assert_non_null(b);
    list = qio_chardev_list();
    assert_int_equal(list->len, 2);
    assert_ptr_equal(list->pdata[0], b); /* "B..." sorts before "a..." */
    assert_ptr_equal(list->pdata[1], a);

    assert_false(qio_chardev_remove("nope", &err));
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_NOT_FOUND));
    g_clear_error(&err);
    assert_true(qio_chardev_remove("a0", &err));
    assert_null(qio_chardev_find("a0"));
    /* The id is free again. */
    assert_non_null(qio_chardev_null_new("a0", &err));
}

static void test_busy(void **state)
{
    g_autoptr(GError) err = NULL;
    QIOChardev *chr = qio_chardev_null_new("n0", &err);
    Fe fe = { .in = g_string_new("") };
    int tag;

    tag = qio_chardev_attach(chr, &test_fe_handlers, &fe, &err);
    assert_int_equal(tag, 0);
    assert_true(qio_chardev_frontend_open(chr));
    /* One frontend per plain chardev. */
    assert_int_equal(qio_chardev_attach(chr, &test_fe_handlers, &fe, &err), -1);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_FAILED));
    g_clear_error(&err);
    assert_false(qio_chardev_remove("n0", &err));
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_FAILED));
    g_clear_error(&err);
    qio_chardev_detach(chr, tag);
    assert_false(qio_chardev_frontend_open(chr));
    assert_true(qio_chardev_remove("n0", &err));
    /* The null backend never opens. */
    drain();
    assert_int_equal(fe.events[QIO_CHARDEV_EVENT_OPENED], 0);
    g_string_free(fe.in, true);
}

static void test_events(void **state)
{
    g_autoptr(GError) err = NULL;
    QIOChardev *chr = qio_chardev_null_new("e0", &err);
    Fe fe = { .in = g_string_new(""), .room = 3 };
    int tag;

    /* Open before the frontend: it hears OPENED later, not in attach. */
    qio_chardev_be_event(chr, QIO_CHARDEV_EVENT_OPENED);
    tag = qio_chardev_attach(chr, &test_fe_handlers, &fe, &err);
    assert_int_equal(fe.events[QIO_CHARDEV_EVENT_OPENED], 0);
    drain();
    assert_int_equal(fe.events[QIO_CHARDEV_EVENT_OPENED], 1);
    /* A second OPENED without CLOSED is not repeated. */
    qio_chardev_be_event(chr, QIO_CHARDEV_EVENT_OPENED);
    assert_int_equal(fe.events[QIO_CHARDEV_EVENT_OPENED], 1);
    qio_chardev_be_event(chr, QIO_CHARDEV_EVENT_BREAK);
    assert_int_equal(fe.events[QIO_CHARDEV_EVENT_BREAK], 1);
    qio_chardev_be_event(chr, QIO_CHARDEV_EVENT_CLOSED);
    qio_chardev_be_event(chr, QIO_CHARDEV_EVENT_CLOSED);
    assert_int_equal(fe.events[QIO_CHARDEV_EVENT_CLOSED], 1);

    /* Input is bounded by can_read. */
    assert_int_equal(qio_chardev_be_can_read(chr), 3);
    qio_chardev_be_read(chr, (const uint8_t *)"abc", 3);
    assert_int_equal(qio_chardev_be_can_read(chr), 0);
    assert_string_equal(fe.in->str, "abc");

    /* Attached then detached before the idle runs: no OPENED. */
    qio_chardev_detach(chr, tag);
    qio_chardev_be_event(chr, QIO_CHARDEV_EVENT_OPENED);
    tag = qio_chardev_attach(chr, &test_fe_handlers, &fe, &err);
    qio_chardev_detach(chr, tag);
    drain();
    assert_int_equal(fe.events[QIO_CHARDEV_EVENT_OPENED], 1);
    /* Without a frontend, nothing can be read. */
    assert_int_equal(qio_chardev_be_can_read(chr), 0);
    g_string_free(fe.in, true);
}

static void test_fds(void **state)
{
    QIOChardev *chr = qio_chardev_null_new("f0", NULL);
    int fds[QIO_CHARDEV_MAX_FDS + 2];
    int got;

    for (size_t i = 0; i < G_N_ELEMENTS(fds); i++) {
        fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
        assert_true(fds[i] >= 0);
    }
    qio_chardev_be_set_fds(chr, fds, 2);
    /* The next arrival replaces what was not taken (and closes it). */
    qio_chardev_be_set_fds(chr, fds + 2, G_N_ELEMENTS(fds) - 2);
    assert_int_equal(fcntl(fds[0], F_GETFD), -1);
    assert_int_equal(fcntl(fds[1], F_GETFD), -1);
    for (size_t i = 0; i < QIO_CHARDEV_MAX_FDS; i++) {
        got = qio_chardev_take_fd(chr);
        assert_int_equal(got, fds[2 + i]);
        close(got);
    }
    assert_int_equal(qio_chardev_take_fd(chr), -1);
}

static void test_logfile(void **state)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *dir = g_dir_make_tmp("test-chardev-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "log", NULL);
    g_autofree char *data = NULL;
    QIOChardev *chr = qio_chardev_null_new("l0", &err);

    assert_true(g_file_set_contents(path, "old:", -1, NULL));
    assert_true(qio_chardev_set_logfile(chr, path, true, &err));
    assert_int_equal(qio_chardev_write(chr, "hello", 5, &err), 5);
    assert_true(g_file_get_contents(path, &data, NULL, NULL));
    assert_string_equal(data, "old:hello");
    g_clear_pointer(&data, g_free);

    assert_true(qio_chardev_set_logfile(chr, path, false, &err));
    assert_int_equal(qio_chardev_write(chr, "x", 1, &err), 1);
    assert_true(g_file_get_contents(path, &data, NULL, NULL));
    assert_string_equal(data, "x");

    assert_false(
        qio_chardev_set_logfile(chr, "/nonexistent/dir/log", false, &err));
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_NOT_FOUND));
    g_unlink(path);
    g_rmdir(dir);
}

static void test_closed(void **state)
{
    g_autoptr(GError) err = NULL;
    QIOChardev *chr = qio_chardev_null_new("c0", &err);

    g_object_ref(chr);
    assert_true(qio_chardev_remove("c0", &err));
    /* A holder of a reference sees a closed device, not a crash. */
    assert_int_equal(qio_chardev_write(chr, "x", 1, &err), -1);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_CLOSED));
    g_object_unref(chr);
}

static void test_ringbuf(void **state)
{
    g_autoptr(GError) err = NULL;
    QIOChardev *chr;
    QIOChardev *null = qio_chardev_null_new("n1", NULL);
    uint8_t buf[64];

    assert_null(qio_chardev_ringbuf_new("r0", 12, &err));
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT));
    g_clear_error(&err);
    assert_null(qio_chardev_ringbuf_new("r0", 1ull << 40, &err));
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT));
    g_clear_error(&err);

    chr = qio_chardev_ringbuf_new("r0", 8, &err);
    assert_non_null(chr);
    assert_int_equal(qio_chardev_write(chr, "abcde", 5, &err), 5);
    assert_int_equal(qio_chardev_ringbuf_read(chr, buf, 2, &err), 2);
    assert_memory_equal(buf, "ab", 2);
    /* Over-fill: the oldest bytes go, the newest 8 stay. */
    assert_true(
        qio_chardev_ringbuf_write(chr, (const uint8_t *)"fghijk", 6, &err));
    assert_int_equal(qio_chardev_ringbuf_count(chr), 8);
    assert_int_equal(qio_chardev_ringbuf_read(chr, buf, sizeof(buf), &err), 8);
    assert_memory_equal(buf, "defghijk", 8);
    assert_int_equal(qio_chardev_ringbuf_read(chr, buf, sizeof(buf), &err), 0);
    /* A single write larger than the ring keeps its tail. */
    assert_int_equal(qio_chardev_write(chr, "0123456789ABCDEF", 16, &err), 16);
    assert_int_equal(qio_chardev_ringbuf_read(chr, buf, sizeof(buf), &err), 8);
    assert_memory_equal(buf, "89ABCDEF", 8);

    assert_int_equal(qio_chardev_ringbuf_read(null, buf, 1, &err), -1);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT));
    assert_string_equal(err->message, "n1 is not a ringbuf device");
    g_clear_error(&err);
    assert_false(qio_chardev_ringbuf_write(null, buf, 1, &err));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_registry, teardown),
        cmocka_unit_test_teardown(test_busy, teardown),
        cmocka_unit_test_teardown(test_events, teardown),
        cmocka_unit_test_teardown(test_fds, teardown),
        cmocka_unit_test_teardown(test_logfile, teardown),
        cmocka_unit_test_teardown(test_closed, teardown),
        cmocka_unit_test_teardown(test_ringbuf, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
