/*
 * Unit tests for the terminal frontend (vm/term.c): input a line at a
 * time, output queued when the peer does not read, input stopped while
 * output is congested or the owner may not read, and resumed after.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "vm-test-chardev.h"
#include "vm/term.h"

typedef struct Owner {
    VMTerm *term;
    GPtrArray *inputs;
    int opened, closed;
    bool may_read;
    size_t answer; /* bytes written back per line */
} Owner;

static void owner_opened(void *opaque)
{
    ((Owner *)opaque)->opened++;
}

static void owner_closed(void *opaque)
{
    ((Owner *)opaque)->closed++;
}

static void owner_input(void *opaque, const uint8_t *buf, size_t len)
{
    Owner *o = opaque;

    g_ptr_array_add(o->inputs, g_strndup((const char *)buf, len));
    if (o->answer && (buf[len - 1] == '\r' || buf[len - 1] == '\n')) {
        g_autofree char *a = g_strnfill(o->answer, 'x');

        vm_term_write(o->term, a, o->answer);
    }
}

static bool owner_may_read(void *opaque)
{
    return ((Owner *)opaque)->may_read;
}

static const VMTermOps ops = {
    .opened = owner_opened,
    .closed = owner_closed,
    .input = owner_input,
    .may_read = owner_may_read,
};

static void test_lines(void **state)
{
    QIOChardev *chr = vm_test_chardev_new("t0");
    Owner o = { .inputs = g_ptr_array_new_with_free_func(g_free),
                .may_read = true };

    o.term = vm_term_new(chr, &ops, &o, NULL);

    vm_term_start(o.term);
    assert_non_null(o.term);
    assert_int_equal(vm_test_chardev_type(chr, "ab\r"), 0);
    qio_chardev_be_event(chr, QIO_CHARDEV_EVENT_OPENED);
    assert_int_equal(o.opened, 1);
    /* A second OPENED for the same peer is not passed on. */
    qio_chardev_be_event(chr, QIO_CHARDEV_EVENT_OPENED);
    assert_int_equal(o.opened, 1);
    assert_int_equal(vm_test_chardev_type(chr, "ab\rcd\r\nef"), 9);
    assert_int_equal(o.inputs->len, 4);
    assert_string_equal(g_ptr_array_index(o.inputs, 0), "ab\r");
    assert_string_equal(g_ptr_array_index(o.inputs, 1), "cd\r");
    assert_string_equal(g_ptr_array_index(o.inputs, 2), "\n");
    assert_string_equal(g_ptr_array_index(o.inputs, 3), "ef");
    vm_term_write(o.term, "hello", 5);
    assert_string_equal(vm_test_chardev_output(chr)->str, "hello");
    qio_chardev_be_event(chr, QIO_CHARDEV_EVENT_CLOSED);
    assert_int_equal(o.closed, 1);
    /* The chardev is taken while the term is attached. */
    {
        g_autoptr(GError) err = NULL;
        VMTerm *second = vm_term_new(chr, &ops, &o, &err);

        assert_null(second);
        assert_non_null(err);
    }
    vm_term_free(o.term);
    assert_true(qio_chardev_remove("t0", NULL));
    g_ptr_array_unref(o.inputs);
}

static void test_backpressure(void **state)
{
    QIOChardev *chr = vm_test_chardev_new("t1");
    Owner o = { .inputs = g_ptr_array_new_with_free_func(g_free),
                .may_read = true,
                .answer = 40000 };
    g_autoptr(GString) many = g_string_new(NULL);
    size_t taken;

    o.term = vm_term_new(chr, &ops, &o, NULL);

    vm_term_start(o.term);
    qio_chardev_be_event(chr, QIO_CHARDEV_EVENT_OPENED);
    /* A peer that reads nothing and sends 100 commands in one write. */
    vm_test_chardev_set_room(chr, 0);
    for (int i = 0; i < 100; i++) {
        g_string_append(many, "cmd\r");
    }
    taken = vm_test_chardev_type(chr, many->str);
    /* Two answers reach the limit; the rest of the read waits. */
    assert_int_equal(o.inputs->len, 2);
    assert_true(vm_term_pending(o.term) < VM_TERM_OUT_LIMIT + 40000);
    assert_true(taken <= VM_TERM_IN_CHUNK);
    assert_int_equal(qio_chardev_be_can_read(chr), 0);
    /* The peer reads: output drains, waiting input runs, input flows. */
    vm_test_chardev_set_room(chr, G_MAXSIZE);
    assert_int_equal(vm_term_pending(o.term), 0);
    assert_int_equal(o.inputs->len, taken / 4);
    assert_int_equal(vm_test_chardev_output(chr)->len, 40000 * (taken / 4));
    assert_int_equal(qio_chardev_be_can_read(chr), VM_TERM_IN_CHUNK);
    vm_term_free(o.term);
    assert_true(qio_chardev_remove("t1", NULL));
    g_ptr_array_unref(o.inputs);
}

static void test_may_read(void **state)
{
    QIOChardev *chr = vm_test_chardev_new("t2");
    Owner o = { .inputs = g_ptr_array_new_with_free_func(g_free),
                .may_read = false };

    o.term = vm_term_new(chr, &ops, &o, NULL);

    vm_term_start(o.term);
    /* Nothing is taken before the peer is reported... */
    o.may_read = true;
    assert_int_equal(vm_test_chardev_type(chr, "x\r"), 0);
    qio_chardev_be_event(chr, QIO_CHARDEV_EVENT_OPENED);
    assert_int_equal(o.opened, 1);
    /* ... nor while the owner may not read. */
    o.may_read = false;
    vm_term_kick(o.term);
    assert_int_equal(vm_test_chardev_type(chr, "x\r"), 0);
    assert_int_equal(o.inputs->len, 0);
    o.may_read = true;
    vm_term_kick(o.term);
    assert_int_equal(vm_test_chardev_type(chr, "x\r"), 2);
    assert_int_equal(o.inputs->len, 1);
    vm_term_free(o.term);
    assert_true(qio_chardev_remove("t2", NULL));
    g_ptr_array_unref(o.inputs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines),
        cmocka_unit_test(test_backpressure),
        cmocka_unit_test(test_may_read),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
