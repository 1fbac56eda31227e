/*
 * QIOChannel: the abstract byte stream every qio consumer reads and writes.
 *
 * A channel is a GObject whose class carries a small table of virtual
 * methods.  Subclasses (socket, file, command, buffer, null, and later TLS
 * and websocket) implement io_readv/io_writev/io_close and whatever optional
 * methods apply; feature flags say which optional capabilities an instance
 * has.  Consumers only see this header: an NBD server reads requests with
 * qio_channel_read_all() whether the bytes come from a UNIX socket or from a
 * TLS session on TCP.
 *
 * Conventions:
 *  - Functions that can fail take GError **errp last.
 *  - In non-blocking mode a read or write that would block returns
 *    QIO_CHANNEL_ERR_BLOCK and leaves errp untouched.
 *  - The *_all helpers loop over partial I/O and EINTR; on a non-blocking
 *    channel they wait for readiness, so they always complete or fail.
 */
#pragma once

#include <glib-object.h>
#include <stdbool.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "util/error.h"

G_BEGIN_DECLS

#define QIO_TYPE_CHANNEL (qio_channel_get_type())
G_DECLARE_DERIVABLE_TYPE(QIOChannel, qio_channel, QIO, CHANNEL, GObject)

/* Returned by read/write calls on a non-blocking channel that would block. */
#define QIO_CHANNEL_ERR_BLOCK -2

typedef enum {
    QIO_CHANNEL_FEATURE_FD_PASS = 1 << 0,  /* SCM_RIGHTS file descriptors */
    QIO_CHANNEL_FEATURE_SHUTDOWN = 1 << 1, /* half-close with shutdown() */
    QIO_CHANNEL_FEATURE_LISTEN = 1 << 2,   /* a listening socket */
    QIO_CHANNEL_FEATURE_SEEKABLE = 1 << 3, /* io_seek works */
} QIOChannelFeature;

typedef enum {
    QIO_CHANNEL_SHUTDOWN_READ = 1,
    QIO_CHANNEL_SHUTDOWN_WRITE = 2,
    QIO_CHANNEL_SHUTDOWN_BOTH = 3,
} QIOChannelShutdown;

/* Flags for qio_channel_readv_full(). */
typedef enum {
    QIO_CHANNEL_READ_FLAG_NONE = 0,
    QIO_CHANNEL_READ_FLAG_PEEK = 1 << 0, /* leave the bytes in the channel */
} QIOChannelReadFlags;

/* Called when a watch fires; return G_SOURCE_REMOVE to drop the watch. */
typedef gboolean (*QIOChannelFunc)(QIOChannel *ioc, GIOCondition condition,
                                   gpointer opaque);

struct _QIOChannelClass {
    GObjectClass parent_class;

    /*
     * Mandatory.  Return bytes transferred, 0 on EOF (reads only),
     * QIO_CHANNEL_ERR_BLOCK, or -1 with errp set.  Received file
     * descriptors are returned in a g_malloc'd array that the caller owns;
     * a subclass without FD_PASS sets *nfds = 0.
     */
    gssize (*io_readv)(QIOChannel *ioc, const struct iovec *iov, size_t niov,
                       int **fds, size_t *nfds, int flags, GError **errp);
    gssize (*io_writev)(QIOChannel *ioc, const struct iovec *iov, size_t niov,
                        const int *fds, size_t nfds, int flags, GError **errp);
    int (*io_close)(QIOChannel *ioc, GError **errp);
    /* Mandatory: a GSource that fires when @condition holds. */
    GSource *(*io_create_watch)(QIOChannel *ioc, GIOCondition condition);
    /* Mandatory. */
    int (*io_set_blocking)(QIOChannel *ioc, bool enabled, GError **errp);

    /* Optional. */
    int (*io_shutdown)(QIOChannel *ioc, QIOChannelShutdown how, GError **errp);
    void (*io_set_cork)(QIOChannel *ioc, bool enabled);
    void (*io_set_delay)(QIOChannel *ioc, bool enabled);
    off_t (*io_seek)(QIOChannel *ioc, off_t offset, int whence, GError **errp);
    /*
     * Optional: true when the channel holds bytes it can return without
     * the underlying fd becoming readable (decrypted TLS records, a
     * websocket frame already read).  Watches consult it so that they
     * fire for such data instead of waiting for the fd.
     */
    bool (*io_has_pending)(QIOChannel *ioc);
    /*
     * Optional: how many bytes a read can return now without waiting
     * (see qio_channel_input_pending()).  Without it, 1 when
     * io_has_pending says so, else 0.
     */
    size_t (*io_input_pending)(QIOChannel *ioc);
};

/* Features and name. */
bool qio_channel_has_feature(QIOChannel *ioc, QIOChannelFeature feature);
void qio_channel_set_feature(QIOChannel *ioc, QIOChannelFeature feature);
/* A name for messages and debugging, e.g. "nbd-client 127.0.0.1:40512". */
void qio_channel_set_name(QIOChannel *ioc, const char *name);
const char *qio_channel_get_name(QIOChannel *ioc);

/* Single-call I/O; may transfer fewer bytes than asked. */
gssize qio_channel_readv_full(QIOChannel *ioc, const struct iovec *iov,
                              size_t niov, int **fds, size_t *nfds, int flags,
                              GError **errp);
gssize qio_channel_writev_full(QIOChannel *ioc, const struct iovec *iov,
                               size_t niov, const int *fds, size_t nfds,
                               int flags, GError **errp);
gssize qio_channel_readv(QIOChannel *ioc, const struct iovec *iov, size_t niov,
                         GError **errp);
gssize qio_channel_writev(QIOChannel *ioc, const struct iovec *iov, size_t niov,
                          GError **errp);
gssize qio_channel_read(QIOChannel *ioc, void *buf, size_t buflen,
                        GError **errp);
gssize qio_channel_write(QIOChannel *ioc, const void *buf, size_t buflen,
                         GError **errp);

/*
 * Full-length I/O.  The *_eof variants return 1 when everything was read,
 * 0 when the channel was at EOF before the first byte, and -1 on error
 * (including EOF part way through, QIO_ERROR_UNEXPECTED_EOF).  The others
 * return 0 or -1 and treat any EOF as an error.  A zero total length
 * succeeds without calling the channel.
 *
 * File descriptors received along the way are accumulated into *fds /
 * *nfds (pass both or neither).  On failure every descriptor received so
 * far is closed and *fds is NULL.  Asking for descriptors on a channel
 * without QIO_CHANNEL_FEATURE_FD_PASS fails with QIO_ERROR_NOT_SUPPORTED,
 * even for a zero length.  Descriptors written go out with the first byte
 * the channel accepts.  A write the channel accepts no bytes of fails with
 * QIO_ERROR_FAILED rather than being retried forever.
 */
int qio_channel_readv_full_all_eof(QIOChannel *ioc, const struct iovec *iov,
                                   size_t niov, int **fds, size_t *nfds,
                                   GError **errp);
int qio_channel_readv_full_all(QIOChannel *ioc, const struct iovec *iov,
                               size_t niov, int **fds, size_t *nfds,
                               GError **errp);
int qio_channel_writev_full_all(QIOChannel *ioc, const struct iovec *iov,
                                size_t niov, const int *fds, size_t nfds,
                                GError **errp);
int qio_channel_readv_all_eof(QIOChannel *ioc, const struct iovec *iov,
                              size_t niov, GError **errp);
int qio_channel_readv_all(QIOChannel *ioc, const struct iovec *iov, size_t niov,
                          GError **errp);
int qio_channel_writev_all(QIOChannel *ioc, const struct iovec *iov,
                           size_t niov, GError **errp);
int qio_channel_read_all_eof(QIOChannel *ioc, void *buf, size_t buflen,
                             GError **errp);
int qio_channel_read_all(QIOChannel *ioc, void *buf, size_t buflen,
                         GError **errp);
int qio_channel_write_all(QIOChannel *ioc, const void *buf, size_t buflen,
                          GError **errp);

/* Mode and lifecycle. */
int qio_channel_set_blocking(QIOChannel *ioc, bool enabled, GError **errp);
int qio_channel_close(QIOChannel *ioc, GError **errp);
/* Fails with QIO_ERROR_NOT_SUPPORTED without the SHUTDOWN feature. */
int qio_channel_shutdown(QIOChannel *ioc, QIOChannelShutdown how,
                         GError **errp);
/* Hints; silently ignored by channels they do not apply to. */
void qio_channel_set_cork(QIOChannel *ioc, bool enabled);
void qio_channel_set_delay(QIOChannel *ioc, bool enabled);
/* Fails with QIO_ERROR_NOT_SUPPORTED on channels that cannot seek. */
off_t qio_channel_io_seek(QIOChannel *ioc, off_t offset, int whence,
                          GError **errp);
/* True when the channel buffers readable data (see io_has_pending). */
bool qio_channel_has_pending(QIOChannel *ioc);

/*
 * Bytes readable now without waiting: what the kernel holds for a socket
 * (FIONREAD), what is left of a memory buffer, and for a TLS channel the
 * plaintext and ciphertext it holds plus its master's own count.  A
 * lower bound that is good enough to tell a stream of data from a pause;
 * it does not promise that one read returns that many bytes (a TLS
 * record may be incomplete).  0 when nothing is known to be there.  A
 * reader that batches its replies while more requests are queued asks
 * it before every read that could wait:
 *
 *     if (qio_channel_input_pending(ioc) < NBD_REQUEST_SIZE) {
 *         flush_replies(conn);
 *     }
 */
size_t qio_channel_input_pending(QIOChannel *ioc);

/* Watches. */
GSource *qio_channel_create_watch(QIOChannel *ioc, GIOCondition condition);
guint qio_channel_add_watch(QIOChannel *ioc, GIOCondition condition,
                            QIOChannelFunc func, gpointer opaque,
                            GDestroyNotify notify);
/*
 * As above, attached to @context (NULL: the global default context).  The
 * id is only meaningful in @context: remove the watch with
 * g_source_destroy(g_main_context_find_source_by_id(context, id)), since
 * g_source_remove() looks in the global default context.
 */
guint qio_channel_add_watch_full(QIOChannel *ioc, GIOCondition condition,
                                 QIOChannelFunc func, gpointer opaque,
                                 GDestroyNotify notify, GMainContext *context);
/*
 * Block the calling thread until @condition holds on @ioc (or G_IO_HUP /
 * G_IO_ERR).  Runs a private main context, so it is safe on any thread.
 */
void qio_channel_wait(QIOChannel *ioc, GIOCondition condition);
/*
 * As qio_channel_wait(), for at most @timeout_ms milliseconds (-1: no
 * limit, 0: only look).  True when @condition (or G_IO_HUP / G_IO_ERR)
 * holds, false when the time ran out.
 */
bool qio_channel_wait_timeout(QIOChannel *ioc, GIOCondition condition,
                              int timeout_ms);

/*
 * Read and throw away what the peer sends until it ends the stream,
 * @max bytes went, or @timeout_ms milliseconds passed, whichever comes
 * first; never waits longer.  For the end of a connection: a server that
 * refused a peer lets the reason it sent reach the peer, instead of
 * resetting the connection by closing with unread data:
 *
 *     qio_channel_shutdown(ioc, QIO_CHANNEL_SHUTDOWN_WRITE, NULL);
 *     qio_channel_discard(ioc, 1024 * 1024, 2000, NULL);
 *     qio_channel_close(ioc, NULL);
 *
 * Leaves @ioc non-blocking.  Returns the bytes discarded (end of stream,
 * @max and the time limit are not errors), or -1 with @errp set when a
 * read failed.
 */
gssize qio_channel_discard(QIOChannel *ioc, size_t max, guint timeout_ms,
                           GError **errp);

/*
 * Watch helpers for subclasses: a GSource that polls one fd (or a read fd
 * and a write fd) and that also fires for G_IO_IN whenever
 * qio_channel_has_pending(@ioc) is true.  The source keeps a reference on
 * @ioc.  The callback is a QIOChannelFunc.
 *
 * With two fds, only the side @condition asks about is polled: @fdread for
 * G_IO_IN/G_IO_PRI, @fdwrite for G_IO_OUT (both when @condition names
 * neither).  So G_IO_HUP/G_IO_ERR are reported for the side being waited
 * on, and a hang-up on the other side does not wake the watch.  A
 * negative fd is never ready.
 */
GSource *qio_channel_create_fd_watch(QIOChannel *ioc, int fd,
                                     GIOCondition condition);
GSource *qio_channel_create_fd_pair_watch(QIOChannel *ioc, int fdread,
                                          int fdwrite, GIOCondition condition);

/*
 * Watch helper for channels layered over another channel @lower (TLS over
 * a socket or a command's pipes): a GSource that fires when a watch on
 * @lower for @condition fires, and also for G_IO_IN whenever
 * qio_channel_has_pending(@ioc) is true.  The callback is a QIOChannelFunc
 * called with @ioc, on which the source keeps a reference.
 */
GSource *qio_channel_create_layered_watch(QIOChannel *ioc, QIOChannel *lower,
                                          GIOCondition condition);

/*
 * Watch helper for channels whose reads and writes never wait (a memory
 * buffer, the null channel): a GSource with nothing to poll that is ready
 * on every main loop iteration while @condition includes G_IO_IN or
 * G_IO_OUT, and never ready otherwise.  The QIOChannelFunc callback is
 * called with @ioc, on which the source keeps a reference, and with
 * @condition restricted to G_IO_IN | G_IO_OUT.  So a consumer that waits
 * for G_IO_IN before each read, like an NBD server fed from a
 * QIOChannelBuffer in a test, runs without a peer:
 *
 *     source = qio_channel_create_ready_watch(ioc, G_IO_IN);
 */
GSource *qio_channel_create_ready_watch(QIOChannel *ioc,
                                        GIOCondition condition);

G_END_DECLS
