/*
 * QIOChardevFd: the shared part of the chardevs that move bytes over file
 * descriptors (file, pipe, stdio, pty): an input channel read only while
 * the frontend has room, and an output channel behind a bounded buffer
 * flushed from a G_IO_OUT watch.  Private to chardev/.
 *
 * A subclass gives it the descriptors and says when a peer is there
 * (qio_chardev_fd_set_connected()); while not connected, writes are taken
 * and dropped and nothing is read.  At EOF or a read error on the input
 * the class's fd_hup runs (default: stop reading, the output stays).
 */
#pragma once

#include "chardev/char.h"
#include "io/channel.h"

G_BEGIN_DECLS

#define QIO_TYPE_CHARDEV_FD (qio_chardev_fd_get_type())
G_DECLARE_DERIVABLE_TYPE(QIOChardevFd, qio_chardev_fd, QIO, CHARDEV_FD,
                         QIOChardev)

/* The output buffer: what a write can take beyond the descriptor's own. */
#define QIO_CHARDEV_FD_OUT_MAX (64 * 1024)

struct _QIOChardevFdClass {
    QIOChardevClass parent_class;

    /* Optional: the input reached EOF or failed (@err may be NULL). */
    void (*fd_hup)(QIOChardevFd *cfd, GError *err);
};

/*
 * Use @in and @out (references taken; either may be NULL, and they may
 * be the same channel).  Both are made non-blocking unless @out_blocking,
 * which keeps the output blocking (a terminal shared with stderr).
 */
void qio_chardev_fd_set_channels(QIOChardevFd *cfd, QIOChannel *in,
                                 QIOChannel *out, bool out_blocking);
/* A peer is there (OPENED, reading starts) or gone (CLOSED, drop output). */
void qio_chardev_fd_set_connected(QIOChardevFd *cfd, bool connected);
bool qio_chardev_fd_is_connected(QIOChardevFd *cfd);
/* Stop reading the input for good (EOF of a file given as input). */
void qio_chardev_fd_stop_input(QIOChardevFd *cfd);

G_END_DECLS
