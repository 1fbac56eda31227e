/*
 * The stdio chardev: -chardev stdio,id=ID[,signal=off].  Input from
 * standard input, output to standard output.  When standard input is a
 * terminal it is put in raw mode (no echo, no line editing, bytes as they
 * are typed); with signal=on (the default) Ctrl-C still raises SIGINT,
 * with signal=off it reaches the frontend as a byte 3.
 *
 * The terminal is restored on every way out: when the chardev is removed,
 * at exit() (atexit), and on a fatal signal whose disposition is still
 * the default (SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGABRT, SIGSEGV, SIGBUS,
 * SIGFPE, SIGILL: restore, then the signal takes its course).  Only one
 * stdio chardev may exist at a time.
 *
 *     QIOChardev *chr = qio_chardev_stdio_new("con0", true, errp);
 */
#pragma once

#include "chardev/char.h"

G_BEGIN_DECLS

GType qio_chardev_stdio_get_type(void);
#define QIO_TYPE_CHARDEV_STDIO (qio_chardev_stdio_get_type())

QIOChardev *qio_chardev_stdio_new(const char *id, bool signal, GError **errp);
/*
 * The same on other descriptors (duplicated; the caller keeps its own):
 * a program's own terminal, or a pty in tests.
 */
QIOChardev *qio_chardev_stdio_new_fds(const char *id, int in_fd, int out_fd,
                                      bool signal, GError **errp);

G_END_DECLS
