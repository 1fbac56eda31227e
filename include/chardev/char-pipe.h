/*
 * The pipe chardev: -chardev pipe,id=ID,path=PATH.  Input is read from
 * PATH.in and output written to PATH.out when both exist (two FIFOs made
 * with mkfifo), else PATH is used both ways.  The FIFOs are opened
 * read-write so that opening never waits for the other side.
 *
 *     QIOChardev *chr = qio_chardev_pipe_new("p0", "/run/vm/ser0", errp);
 */
#pragma once

#include "chardev/char.h"

G_BEGIN_DECLS

GType qio_chardev_pipe_get_type(void);
#define QIO_TYPE_CHARDEV_PIPE (qio_chardev_pipe_get_type())

QIOChardev *qio_chardev_pipe_new(const char *id, const char *path,
                                 GError **errp);

G_END_DECLS
