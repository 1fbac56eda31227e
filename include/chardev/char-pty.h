/*
 * The pty chardev: -chardev pty,id=ID.  A new pseudo-terminal is made; the
 * chardev keeps the master and prints, as QEMU does, on standard output:
 *
 *     char device redirected to /dev/pts/3 (label ID)
 *
 * query-chardev's filename is "pty:/dev/pts/3".  The frontend hears
 * OPENED when a program opens the slave side and CLOSED when the last one
 * closes it; whether someone has it open is checked once a second while
 * nobody does (a pty gives no event for it), so an unused pty costs one
 * poll() a second.  Writes while nobody is connected are dropped.
 *
 *     QIOChardev *chr = qio_chardev_pty_new("ser0", errp);
 *     const char *path = qio_chardev_pty_get_path(chr);
 */
#pragma once

#include "chardev/char.h"

G_BEGIN_DECLS

GType qio_chardev_pty_get_type(void);
#define QIO_TYPE_CHARDEV_PTY (qio_chardev_pty_get_type())

/* How often a disconnected pty checks for a reader, in milliseconds. */
#define QIO_CHARDEV_PTY_POLL_MS 1000

QIOChardev *qio_chardev_pty_new(const char *id, GError **errp);
/* The slave's path, or NULL if @chr is not a pty chardev. */
const char *qio_chardev_pty_get_path(QIOChardev *chr);

G_END_DECLS
