/*
 * A counting, collecting chardev frontend for the chardev/ unit tests
 * (see chardev-test-frontend.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "chardev-test-frontend.h"

static size_t fe_can_read(gpointer opaque)
{
    return ((TestFe *)opaque)->room;
}

static void fe_read(gpointer opaque, const uint8_t *buf, size_t len)
{
    TestFe *fe = opaque;

    /* A chardev never gives more than can_read allowed. */
    assert_true(len <= fe->room);
    g_string_append_len(fe->in, (const char *)buf, len);
    fe->room -= len;
}

static void fe_event(gpointer opaque, QIOChardevEvent ev)
{
    ((TestFe *)opaque)->events[ev]++;
}

static void fe_writable(gpointer opaque)
{
    ((TestFe *)opaque)->writable++;
}

const QIOChardevHandlers test_fe_handlers = {
    .can_read = fe_can_read,
    .read = fe_read,
    .event = fe_event,
    .writable = fe_writable,
};

void test_fe_init(TestFe *fe, size_t room)
{
    memset(fe, 0, sizeof(*fe));
    fe->in = g_string_new("");
    fe->room = room;
}

void test_fe_clear(TestFe *fe)
{
    if (fe->in) {
        g_string_free(fe->in, true);
        fe->in = NULL;
    }
}

TestFe *test_fe_new(QIOChardev *chr)
{
    TestFe *fe = g_new0(TestFe, 1);

    test_fe_init(fe, 1 << 20);
    assert_int_equal(qio_chardev_attach(chr, &test_fe_handlers, fe, NULL), 0);
    return fe;
}

void test_fe_free(QIOChardev *chr, TestFe *fe)
{
    qio_chardev_detach(chr, 0);
    test_fe_clear(fe);
    g_free(fe);
}

void test_fe_iterate(void)
{
    if (!g_main_context_iteration(NULL, false)) {
        g_usleep(1000);
    }
}
