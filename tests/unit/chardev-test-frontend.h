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
