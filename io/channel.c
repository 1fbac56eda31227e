/*
 * The QIOChannel base class: argument checks and dispatch to the subclass,
 * plus the full-length I/O helpers every consumer relies on.
 */
#include "io/channel.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    unsigned int features;
    char *name;
} QIOChannelPrivate;

G_DEFINE_ABSTRACT_TYPE_WITH_PRIVATE(QIOChannel, qio_channel, G_TYPE_OBJECT)

static void qio_channel_finalize(GObject *obj)
{
    QIOChannelPrivate *priv =
        qio_channel_get_instance_private(QIO_CHANNEL(obj));

    g_free(priv->name);
    G_OBJECT_CLASS(qio_channel_parent_class)->finalize(obj);
}

static void qio_channel_class_init(QIOChannelClass *klass)
{
    G_OBJECT_CLASS(klass)->finalize = qio_channel_finalize;
}

static void qio_channel_init(QIOChannel *ioc)
{
}

bool qio_channel_has_feature(QIOChannel *ioc, QIOChannelFeature feature)
{
    QIOChannelPrivate *priv = qio_channel_get_instance_private(ioc);

    return (priv->features & feature) != 0;
}

void qio_channel_set_feature(QIOChannel *ioc, QIOChannelFeature feature)
{
    QIOChannelPrivate *priv = qio_channel_get_instance_private(ioc);

    priv->features |= feature;
}

void qio_channel_set_name(QIOChannel *ioc, const char *name)
{
    QIOChannelPrivate *priv = qio_channel_get_instance_private(ioc);

    g_free(priv->name);
    priv->name = g_strdup(name);
}

const char *qio_channel_get_name(QIOChannel *ioc)
{
    QIOChannelPrivate *priv = qio_channel_get_instance_private(ioc);

    return priv->name ? priv->name : G_OBJECT_TYPE_NAME(ioc);
}

gssize qio_channel_readv_full(QIOChannel *ioc, const struct iovec *iov,
                              size_t niov, int **fds, size_t *nfds, int flags,
                              GError **errp)
{
    QIOChannelClass *klass = QIO_CHANNEL_GET_CLASS(ioc);

    if ((fds || nfds) &&
        !qio_channel_has_feature(ioc, QIO_CHANNEL_FEATURE_FD_PASS)) {
        qio_error_setg(errp, QIO_ERROR_NOT_SUPPORTED,
                       "%s: channel cannot receive file descriptors",
                       qio_channel_get_name(ioc));
        return -1;
    }
    if (fds) {
        *fds = NULL;
    }
    if (nfds) {
        *nfds = 0;
    }
    return klass->io_readv(ioc, iov, niov, fds, nfds, flags, errp);
}

gssize qio_channel_writev_full(QIOChannel *ioc, const struct iovec *iov,
                               size_t niov, const int *fds, size_t nfds,
                               int flags, GError **errp)
{
    QIOChannelClass *klass = QIO_CHANNEL_GET_CLASS(ioc);

    if (nfds && !qio_channel_has_feature(ioc, QIO_CHANNEL_FEATURE_FD_PASS)) {
        qio_error_setg(errp, QIO_ERROR_NOT_SUPPORTED,
                       "%s: channel cannot send file descriptors",
                       qio_channel_get_name(ioc));
        return -1;
    }
    return klass->io_writev(ioc, iov, niov, fds, nfds, flags, errp);
}

gssize qio_channel_readv(QIOChannel *ioc, const struct iovec *iov, size_t niov,
                         GError **errp)
{
    return qio_channel_readv_full(ioc, iov, niov, NULL, NULL, 0, errp);
}

gssize qio_channel_writev(QIOChannel *ioc, const struct iovec *iov, size_t niov,
                          GError **errp)
{
    return qio_channel_writev_full(ioc, iov, niov, NULL, 0, 0, errp);
}

gssize qio_channel_read(QIOChannel *ioc, void *buf, size_t buflen,
                        GError **errp)
{
    struct iovec iov = { .iov_base = buf, .iov_len = buflen };

    return qio_channel_readv(ioc, &iov, 1, errp);
}

gssize qio_channel_write(QIOChannel *ioc, const void *buf, size_t buflen,
                         GError **errp)
{
    struct iovec iov = { .iov_base = (void *)buf, .iov_len = buflen };

    return qio_channel_writev(ioc, &iov, 1, errp);
}

/* A private copy the *_all helpers can advance; g_memdup2 needs 2.68. */
static struct iovec *iov_copy(const struct iovec *iov, size_t niov)
{
    struct iovec *copy = g_new(struct iovec, niov);

    if (niov) {
        memcpy(copy, iov, niov * sizeof(*iov));
    }
    return copy;
}

/* Drop @done bytes from the front of the iovec array in place. */
static void iov_consume(struct iovec **iov, size_t *niov, size_t done)
{
    while (*niov && done >= (*iov)->iov_len) {
        done -= (*iov)->iov_len;
        (*iov)++;
        (*niov)--;
    }
    if (*niov) {
        (*iov)->iov_base = (char *)(*iov)->iov_base + done;
        (*iov)->iov_len -= done;
    }
    /* Skip empty elements at the new front so "all done" is niov == 0. */
    while (*niov && (*iov)->iov_len == 0) {
        (*iov)++;
        (*niov)--;
    }
}

static void close_fds(int *fds, size_t nfds)
{
    for (size_t i = 0; i < nfds; i++) {
        close(fds[i]);
    }
}

/*
 * Append what one read returned to the descriptors gathered so far.  Done
 * whatever the read returned, so that nothing a subclass handed over can
 * leak on an error or a would-block path.
 */
static void gather_fds(int **all, size_t *nall, int *more, size_t nmore)
{
    if (nmore) {
        *all = g_renew(int, *all, *nall + nmore);
        memcpy(*all + *nall, more, nmore * sizeof(int));
        *nall += nmore;
    }
    g_free(more);
}

int qio_channel_readv_full_all_eof(QIOChannel *ioc, const struct iovec *iov,
                                   size_t niov, int **fds, size_t *nfds,
                                   GError **errp)
{
    g_autofree struct iovec *copy = iov_copy(iov, niov);
    struct iovec *cur = copy;
    size_t ncur = niov;
    bool partial = false;
    int *got_fds = NULL;
    size_t got_nfds = 0;

    /* Asking for descriptors means passing both pointers. */
    g_assert((fds == NULL) == (nfds == NULL));
    if (fds) {
        *fds = NULL;
        *nfds = 0;
        /* Refuse even when there is nothing to read, as readv_full does. */
        if (!qio_channel_has_feature(ioc, QIO_CHANNEL_FEATURE_FD_PASS)) {
            qio_error_setg(errp, QIO_ERROR_NOT_SUPPORTED,
                           "%s: channel cannot receive file descriptors",
                           qio_channel_get_name(ioc));
            return -1;
        }
    }
    iov_consume(&cur, &ncur, 0);
    while (ncur > 0) {
        int *more_fds = NULL;
        size_t more_nfds = 0;
        gssize len =
            qio_channel_readv_full(ioc, cur, ncur, fds ? &more_fds : NULL,
                                   fds ? &more_nfds : NULL, 0, errp);

        gather_fds(&got_fds, &got_nfds, more_fds, more_nfds);
        if (len == QIO_CHANNEL_ERR_BLOCK) {
            qio_channel_wait(ioc, G_IO_IN);
            continue;
        }
        if (len < 0) {
            goto fail;
        }
        if (len == 0) {
            if (!partial && got_nfds == 0) {
                return 0;
            }
            qio_error_setg(errp, QIO_ERROR_UNEXPECTED_EOF,
                           "%s: unexpected end of stream before all data "
                           "was read",
                           qio_channel_get_name(ioc));
            goto fail;
        }
        partial = true;
        iov_consume(&cur, &ncur, len);
    }
    if (fds) {
        *fds = got_fds;
        *nfds = got_nfds;
    }
    return 1;

fail:
    close_fds(got_fds, got_nfds);
    g_free(got_fds);
    return -1;
}

int qio_channel_readv_full_all(QIOChannel *ioc, const struct iovec *iov,
                               size_t niov, int **fds, size_t *nfds,
                               GError **errp)
{
    int ret = qio_channel_readv_full_all_eof(ioc, iov, niov, fds, nfds, errp);

    if (ret == 0) {
        qio_error_setg(errp, QIO_ERROR_UNEXPECTED_EOF,
                       "%s: unexpected end of stream",
                       qio_channel_get_name(ioc));
        return -1;
    }
    return ret < 0 ? -1 : 0;
}

int qio_channel_writev_full_all(QIOChannel *ioc, const struct iovec *iov,
                                size_t niov, const int *fds, size_t nfds,
                                GError **errp)
{
    g_autofree struct iovec *copy = iov_copy(iov, niov);
    struct iovec *cur = copy;
    size_t ncur = niov;

    iov_consume(&cur, &ncur, 0);
    while (ncur > 0 || nfds > 0) {
        gssize len =
            qio_channel_writev_full(ioc, cur, ncur, fds, nfds, 0, errp);

        if (len == QIO_CHANNEL_ERR_BLOCK) {
            qio_channel_wait(ioc, G_IO_OUT);
            continue;
        }
        if (len < 0) {
            return -1;
        }
        /*
         * A write that accepts nothing would make this loop spin forever;
         * no working channel does that, so report it instead.
         */
        if (len == 0 && ncur > 0) {
            qio_error_setg(errp, QIO_ERROR_FAILED,
                           "%s: channel accepted no data",
                           qio_channel_get_name(ioc));
            return -1;
        }
        /* Descriptors travel with the first bytes that were accepted. */
        fds = NULL;
        nfds = 0;
        iov_consume(&cur, &ncur, len);
    }
    return 0;
}

int qio_channel_readv_all_eof(QIOChannel *ioc, const struct iovec *iov,
                              size_t niov, GError **errp)
{
    return qio_channel_readv_full_all_eof(ioc, iov, niov, NULL, NULL, errp);
}

int qio_channel_readv_all(QIOChannel *ioc, const struct iovec *iov, size_t niov,
                          GError **errp)
{
    return qio_channel_readv_full_all(ioc, iov, niov, NULL, NULL, errp);
}

int qio_channel_writev_all(QIOChannel *ioc, const struct iovec *iov,
                           size_t niov, GError **errp)
{
    return qio_channel_writev_full_all(ioc, iov, niov, NULL, 0, errp);
}

int qio_channel_read_all_eof(QIOChannel *ioc, void *buf, size_t buflen,
                             GError **errp)
{
    struct iovec iov = { .iov_base = buf, .iov_len = buflen };

    return qio_channel_readv_all_eof(ioc, &iov, 1, errp);
}

int qio_channel_read_all(QIOChannel *ioc, void *buf, size_t buflen,
                         GError **errp)
{
    struct iovec iov = { .iov_base = buf, .iov_len = buflen };

    return qio_channel_readv_all(ioc, &iov, 1, errp);
}

int qio_channel_write_all(QIOChannel *ioc, const void *buf, size_t buflen,
                          GError **errp)
{
    struct iovec iov = { .iov_base = (void *)buf, .iov_len = buflen };

    return qio_channel_writev_all(ioc, &iov, 1, errp);
}

int qio_channel_set_blocking(QIOChannel *ioc, bool enabled, GError **errp)
{
    return QIO_CHANNEL_GET_CLASS(ioc)->io_set_blocking(ioc, enabled, errp);
}

int qio_channel_close(QIOChannel *ioc, GError **errp)
{
    return QIO_CHANNEL_GET_CLASS(ioc)->io_close(ioc, errp);
}

int qio_channel_shutdown(QIOChannel *ioc, QIOChannelShutdown how, GError **errp)
{
    QIOChannelClass *klass = QIO_CHANNEL_GET_CLASS(ioc);

    if (!klass->io_shutdown ||
        !qio_channel_has_feature(ioc, QIO_CHANNEL_FEATURE_SHUTDOWN)) {
        qio_error_setg(errp, QIO_ERROR_NOT_SUPPORTED,
                       "%s: channel does not support shutdown",
                       qio_channel_get_name(ioc));
        return -1;
    }
    return klass->io_shutdown(ioc, how, errp);
}

void qio_channel_set_cork(QIOChannel *ioc, bool enabled)
{
    QIOChannelClass *klass = QIO_CHANNEL_GET_CLASS(ioc);

    if (klass->io_set_cork) {
        klass->io_set_cork(ioc, enabled);
    }
}

void qio_channel_set_delay(QIOChannel *ioc, bool enabled)
{
    QIOChannelClass *klass = QIO_CHANNEL_GET_CLASS(ioc);

    if (klass->io_set_delay) {
        klass->io_set_delay(ioc, enabled);
    }
}

off_t qio_channel_io_seek(QIOChannel *ioc, off_t offset, int whence,
                          GError **errp)
{
    QIOChannelClass *klass = QIO_CHANNEL_GET_CLASS(ioc);

    if (!klass->io_seek ||
        !qio_channel_has_feature(ioc, QIO_CHANNEL_FEATURE_SEEKABLE)) {
        qio_error_setg(errp, QIO_ERROR_NOT_SUPPORTED,
                       "%s: channel does not support seeking",
                       qio_channel_get_name(ioc));
        return -1;
    }
    return klass->io_seek(ioc, offset, whence, errp);
}

bool qio_channel_has_pending(QIOChannel *ioc)
{
    QIOChannelClass *klass = QIO_CHANNEL_GET_CLASS(ioc);

    return klass->io_has_pending && klass->io_has_pending(ioc);
}

size_t qio_channel_input_pending(QIOChannel *ioc)
{
    QIOChannelClass *klass = QIO_CHANNEL_GET_CLASS(ioc);

    if (klass->io_input_pending) {
        return klass->io_input_pending(ioc);
    }
    return qio_channel_has_pending(ioc) ? 1 : 0;
}

GSource *qio_channel_create_watch(QIOChannel *ioc, GIOCondition condition)
{
    return QIO_CHANNEL_GET_CLASS(ioc)->io_create_watch(ioc, condition);
}

guint qio_channel_add_watch_full(QIOChannel *ioc, GIOCondition condition,
                                 QIOChannelFunc func, gpointer opaque,
                                 GDestroyNotify notify, GMainContext *context)
{
    GSource *source = qio_channel_create_watch(ioc, condition);
    guint id;

    g_source_set_callback(source, (GSourceFunc)(void (*)(void))func, opaque,
                          notify);
    id = g_source_attach(source, context);
    g_source_unref(source);
    return id;
}

guint qio_channel_add_watch(QIOChannel *ioc, GIOCondition condition,
                            QIOChannelFunc func, gpointer opaque,
                            GDestroyNotify notify)
{
    return qio_channel_add_watch_full(ioc, condition, func, opaque, notify,
                                      NULL);
}

static gboolean wait_done(QIOChannel *ioc, GIOCondition cond, gpointer opaque)
{
    *(bool *)opaque = true;
    return G_SOURCE_REMOVE;
}

void qio_channel_wait(QIOChannel *ioc, GIOCondition condition)
{
    g_autoptr(GMainContext) ctx = g_main_context_new();
    bool done = false;
    GSource *source = qio_channel_create_watch(ioc, condition);

    g_source_set_callback(source, (GSourceFunc)(void (*)(void))wait_done, &done,
                          NULL);
    g_source_attach(source, ctx);
    while (!done) {
        g_main_context_iteration(ctx, TRUE);
    }
    g_source_destroy(source);
    g_source_unref(source);
}

static gboolean wait_expired(gpointer opaque)
{
    *(bool *)opaque = true;
    return G_SOURCE_REMOVE;
}

bool qio_channel_wait_timeout(QIOChannel *ioc, GIOCondition condition,
                              int timeout_ms)
{
    g_autoptr(GMainContext) ctx = NULL;
    GSource *source;
    GSource *timer = NULL;
    bool done = false, expired = false;

    if (timeout_ms < 0) {
        qio_channel_wait(ioc, condition);
        return true;
    }
    ctx = g_main_context_new();
    source = qio_channel_create_watch(ioc, condition);
    g_source_set_callback(source, (GSourceFunc)(void (*)(void))wait_done, &done,
                          NULL);
    g_source_attach(source, ctx);
    if (timeout_ms == 0) {
        /* One look, dispatching whatever is ready already. */
        g_main_context_iteration(ctx, FALSE);
    } else {
        timer = g_timeout_source_new((guint)timeout_ms);
        g_source_set_callback(timer, wait_expired, &expired, NULL);
        g_source_attach(timer, ctx);
        while (!done && !expired) {
            g_main_context_iteration(ctx, TRUE);
        }
        g_source_destroy(timer);
        g_source_unref(timer);
    }
    g_source_destroy(source);
    g_source_unref(source);
    return done;
}

gssize qio_channel_discard(QIOChannel *ioc, size_t max, guint timeout_ms,
                           GError **errp)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
    g_autofree char *scratch = NULL;
    size_t total = 0;

    /* A blocking read could outlive the time limit. */
    if (qio_channel_set_blocking(ioc, false, errp) < 0) {
        return -1;
    }
    scratch = g_malloc(4096);
    while (total < max) {
        gssize n = qio_channel_read(ioc, scratch, MIN(max - total, 4096), errp);
        gint64 left;

        if (n == 0) {
            break;
        }
        if (n > 0) {
            total += n;
            continue;
        }
        if (n != QIO_CHANNEL_ERR_BLOCK) {
            return -1;
        }
        left = deadline - g_get_monotonic_time();
        if (left <= 0 ||
            !qio_channel_wait_timeout(
                ioc, G_IO_IN, (int)MIN((left + 999) / 1000, G_MAXINT))) {
            break;
        }
    }
    return total;
}
