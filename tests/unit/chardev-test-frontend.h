/*
 * A chardev frontend for the chardev/ unit tests: it counts the events
 * it is told, collects its input up to a room the test sets (0 plays a
 * frontend that takes nothing), and counts writable() calls.
 *
 *     TestFe fe;
 *     test_fe_init(&fe, 1024);
 *     tag = qio_chardev_attach(chr, &test_fe_handlers, &fe, &err);
 *     ... fe.events[QIO_CHARDEV_EVENT_OPENED], fe.in->str ...
 *     qio_chardev_detach(chr, tag);
 *     test_fe_clear(&fe);
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

#include "chardev/char.h"

typedef struct {
    unsigned events[QIO_CHARDEV_EVENT_MUX_OUT + 1];
    unsigned writable;
    GString *in;
    size_t room;
} TestFe;

extern const QIOChardevHandlers test_fe_handlers;

/* Zero the counters, start an empty input, set the room. */
void test_fe_init(TestFe *fe, size_t room);

/* Free the input. */
void test_fe_clear(TestFe *fe);

/* A frontend with 1 MiB of room attached to @chr as its first (tag 0). */
TestFe *test_fe_new(QIOChardev *chr);

/* Detach tag 0 from @chr and free @fe. */
void test_fe_free(QIOChardev *chr, TestFe *fe);

/* One turn of the default context, or a millisecond's nap when idle. */
void test_fe_iterate(void);

/* Run the default context until @cond holds, for at most 10 s. */
#define WAIT_UNTIL(cond)                                                       \
    do {                                                                       \
        gint64 end_ = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;            \
        bool ok_;                                                              \
        while (!(ok_ = (cond)) && g_get_monotonic_time() < end_) {             \
            test_fe_iterate();                                                 \
        }                                                                      \
        assert_true(ok_);                                                      \
    } while (0)
