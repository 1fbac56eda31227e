/*
 * QIOChannelFile: a channel over a file descriptor that is not a socket --
 * a regular file, a FIFO, one end of a pipe or a character device.  It is
 * what `file:` migration targets, image dumps and pipes handed over by a
 * parent process are read and written through, for example
 *
 *     qio-vm --incoming file:/var/lib/qio/vm1.state
 *
 * opens the path with qio_channel_file_new_path() and streams it.  A channel
 * made from a pipe with qio_channel_file_new_fd() is an ordinary byte
 * stream; one made from a regular file or block device can also seek
 * (QIO_CHANNEL_FEATURE_SEEKABLE).
 *
 * SIGPIPE: a write to a pipe or FIFO whose reader has gone away fails with
 * QIO_ERROR_BROKEN_PIPE instead of killing the process.  The channel blocks
 * SIGPIPE for the calling thread around such writes and consumes the signal
 * the kernel raised, so the application's own SIGPIPE disposition is never
 * changed.
 *
 * Regular files are always "ready" for poll(2): a watch on one fires at
 * once, and a non-blocking read of a file on slow storage still blocks.
 */
#pragma once

#include <sys/types.h>

#include "io/channel.h"

G_BEGIN_DECLS

#define QIO_TYPE_CHANNEL_FILE (qio_channel_file_get_type())
G_DECLARE_FINAL_TYPE(QIOChannelFile, qio_channel_file, QIO, CHANNEL_FILE,
                     QIOChannel)

/*
 * Wrap @fd, which the channel then owns: closing or finalizing the channel
 * closes it.  @fd may be in blocking or non-blocking mode; the channel
 * reports QIO_CHANNEL_ERR_BLOCK when a non-blocking fd would block.
 *
 *     int fds[2];
 *     pipe2(fds, O_CLOEXEC);
 *     g_autoptr(QIOChannelFile) rd = qio_channel_file_new_fd(fds[0]);
 *     g_autoptr(QIOChannelFile) wr = qio_channel_file_new_fd(fds[1]);
 *
 * The channel's name (see qio_channel_set_name()) starts as "fd N".
 */
QIOChannelFile *qio_channel_file_new_fd(int fd);

/*
 * Open @path with open(2) @flags (O_CLOEXEC is always added) and @mode
 * (used with O_CREAT/O_TMPFILE), and wrap the result.  On failure the error
 * names the path and carries the code mapped from errno, for instance
 * QIO_ERROR_NOT_FOUND with "cannot open /x/y: No such file or directory".
 * The channel's name is @path, so later I/O errors name it too.
 *
 *     ioc = qio_channel_file_new_path("/var/lib/qio/vm1.state",
 *                                     O_WRONLY | O_CREAT | O_TRUNC, 0600,
 *                                     errp);
 */
QIOChannelFile *qio_channel_file_new_path(const char *path, int flags,
                                          mode_t mode, GError **errp);

/*
 * The file descriptor, still owned by the channel, or -1 once the channel
 * is closed.  Useful for fstat(), fsync() or ioctl(); do not close it.
 */
int qio_channel_file_get_fd(QIOChannelFile *ioc);

G_END_DECLS
