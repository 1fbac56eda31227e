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

static gssize qio_channel_null_readv(QIOChannel *ioc,
                                     const struct iovec *iov, size_t niov,
                                     int **fds, size_t *nfds, int flags,
                                     GError **errp)
{
    return check_open(QIO_CHANNEL_NULL(ioc), errp) ? 0 : -1;
}

static gssize qio_channel_null_writev(QIOChannel *ioc,
                                      const struct iovec *iov, size_t niov,
                                      const int *fds, size_t nfds, int flags,
                                      GError **errp)
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

/* Ready on every iteration for whichever of G_IO_IN/G_IO_OUT was asked. */
typedef struct {
    GSource source;
    QIOChannel *ioc;
    GIOCondition condition;
} NullSource;

static gboolean null_source_prepare(GSource *source, gint *timeout)
{
    *timeout = -1;
    return (((NullSource *)source)->condition & (G_IO_IN | G_IO_OUT)) != 0;
}

static gboolean null_source_check(GSource *source)
{
    return (((NullSource *)source)->condition & (G_IO_IN | G_IO_OUT)) != 0;
}

static gboolean null_source_dispatch(GSource *source, GSourceFunc callback,
                                     gpointer user_data)
{
    NullSource *s = (NullSource *)source;
    QIOChannelFunc func = (QIOChannelFunc)(void (*)(void))callback;

    if (!func) {
        return G_SOURCE_REMOVE;
    }
    return func(s->ioc, s->condition & (G_IO_IN | G_IO_OUT), user_data);
}

static void null_source_finalize(GSource *source)
{
    g_object_unref(((NullSource *)source)->ioc);
}

static GSourceFuncs null_source_funcs = {
    .prepare = null_source_prepare,
    .check = null_source_check,
    .dispatch = null_source_dispatch,
    .finalize = null_source_finalize,
};

static GSource *qio_channel_null_create_watch(QIOChannel *ioc,
                                              GIOCondition condition)
{
    GSource *source = g_source_new(&null_source_funcs, sizeof(NullSource));
    NullSource *s = (NullSource *)source;

    g_source_set_name(source, "qio-channel-null-watch");
    s->ioc = g_object_ref(ioc);
    s->condition = condition;
    return source;
}

static void qio_channel_null_class_init(QIOChannelNullClass *klass)
{
    QIOChannelClass *ioc_klass = QIO_CHANNEL_CLASS(klass);

    ioc_klass->io_readv = qio_channel_null_readv;
    ioc_klass->io_writev = qio_channel_null_writev;
    ioc_klass->io_close = qio_channel_null_close;
    ioc_klass->io_create_watch = qio_channel_null_create_watch;
    ioc_klass->io_set_blocking = qio_channel_null_set_blocking;
}

static void qio_channel_null_init(QIOChannelNull *nioc)
{
}
