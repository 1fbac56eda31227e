/*
 * The multiplexer: -chardev BACKEND,id=ID,mux=on shares one chardev
 * (registered as "ID-base") between up to QIO_CHARDEV_MUX_MAX frontends,
 * typically a serial port and the HMP monitor on stdio.  Output from every
 * frontend goes to the base; input goes to the frontend that has the
 * focus, which is the one attached last until the user switches.  Events
 * from the base (OPENED, CLOSED) reach every frontend; a focus change
 * sends MUX_OUT to the old one and MUX_IN to the new one.
 *
 * QEMU's escapes, after Ctrl-a (byte 1):
 *   C-a h, C-a ?   print the list of escapes
 *   C-a x          print "qio: Terminated" and quit (see
 *                  qio_chardev_mux_set_quit_func(); default exit(0))
 *   C-a s          save disk data (nothing to save here: ignored)
 *   C-a t          toggle a "[hh:mm:ss.mmm] " time stamp on output lines
 *   C-a b          send a break to the focused frontend
 *   C-a c          give the focus to the next frontend
 *   C-a C-a        send one Ctrl-a to the focused frontend
 * Any other byte after Ctrl-a is dropped.
 *
 * Input is read only while the focused frontend has room, so the escapes
 * wait for it too; nothing is buffered in the mux.
 *
 *     QIOChardev *base = qio_chardev_stdio_new("mon0-base", true, errp);
 *     QIOChardev *mux = qio_chardev_mux_new("mon0", base, errp);
 *     qio_chardev_attach(mux, &serial_handlers, serial, errp);   // tag 0
 *     qio_chardev_attach(mux, &monitor_handlers, mon, errp);     // tag 1
 */
#pragma once

#include "chardev/char.h"

G_BEGIN_DECLS

GType qio_chardev_mux_get_type(void);
#define QIO_TYPE_CHARDEV_MUX (qio_chardev_mux_get_type())

#define QIO_CHARDEV_MUX_MAX    4
#define QIO_CHARDEV_MUX_ESCAPE 0x01 /* Ctrl-a */

/*
 * A mux registered as @id over @base (a reference is taken; @base is
 * attached to and so busy until the mux is removed).
 */
QIOChardev *qio_chardev_mux_new(const char *id, QIOChardev *base,
                                GError **errp);
/* The tag of the focused frontend, or -1. */
int qio_chardev_mux_get_focus(QIOChardev *chr);
/* The chardev under the mux (borrowed). */
QIOChardev *qio_chardev_mux_get_base(QIOChardev *chr);

/* What C-a x does, for every mux (NULL: exit(0), after the message). */
typedef void (*QIOChardevMuxQuitFunc)(gpointer opaque);
void qio_chardev_mux_set_quit_func(QIOChardevMuxQuitFunc func, gpointer opaque);

G_END_DECLS
