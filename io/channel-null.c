/*
 * QIOChannelNull: a channel that reads as empty and swallows writes, with
 * watches that are always ready, so consumers can be driven without a peer.
 */
#include "io/channel-null.h"

struct _QIOChannelNull {
    QIOChannel parent;
    bool closed;
};

G_DEFINE_TYPE(QIOChannelNull, qio_channel_null, QIO_TYPE_CHANNEL)

QIOChannelNull *qio_channel_null_new(void)
{
    QIOChannelNull *nioc = g_object_new(QIO_TYPE_CHANNEL_NULL, NULL);

    qio_channel_set_name(QIO_CHANNEL(nioc), "null");
    return nioc;
}

static bool check_open(QIOChannelNull *nioc, GError **errp)
{
    if (nioc->closed) {
        qio_error_setg(errp, QIO_ERROR_CLOSED, "%s: channel is closed",
                       qio_channel_get_name(QIO_CHANNEL(nioc)));
        return false;
    }
    return true;
}

static gssize qio_channel_null_readv(QIOChannel *ioc, const struct iovec *iov,
                                     size_t niov, int **fds, size_t *nfds,
                                     int flags, GError **errp)
{
    return check_open(QIO_CHANNEL_NULL(ioc), errp) ? 0 : -1;
}

static gssize qio_channel_null_writev(QIOChannel *ioc, const struct iovec *iov,
                                      size_t niov, const int *fds, size_t nfds,
                                      int flags, GError **errp)
{
    size_t total = 0;

    if (!check_open(QIO_CHANNEL_NULL(ioc), errp)) {
        return -1;
    }
    /* Stop short of what gssize can express; callers loop for the rest. */
    for (size_t i = 0; i < niov; i++) {
        total += MIN(iov[i].iov_len, (size_t)G_MAXSSIZE - total);
    }
    return total;
}

static int qio_channel_null_set_blocking(QIOChannel *ioc, bool enabled,
                                         GError **errp)
{
    return 0;
}

static int qio_channel_null_close(QIOChannel *ioc, GError **errp)
{
    QIO_CHANNEL_NULL(ioc)->closed = true;
    return 0;
}

static void qio_channel_null_class_init(QIOChannelNullClass *klass)
{
    QIOChannelClass *ioc_klass = QIO_CHANNEL_CLASS(klass);

    ioc_klass->io_readv = qio_channel_null_readv;
    ioc_klass->io_writev = qio_channel_null_writev;
    ioc_klass->io_close = qio_channel_null_close;
    ioc_klass->io_create_watch = qio_channel_create_ready_watch;
    ioc_klass->io_set_blocking = qio_channel_null_set_blocking;
}

static void qio_channel_null_init(QIOChannelNull *nioc)
{
}
