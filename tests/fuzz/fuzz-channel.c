/*
 * QIOChannelFuzz: playback of a fuzz input as a byte stream; see
 * fuzz-channel.h.
 *
 * Copyright (c) qio contributors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "fuzz-channel.h"

#include <errno.h>
#include <string.h>

struct _QIOChannelFuzz {
    QIOChannel parent;
    GMutex lock;
    GBytes *input;
    size_t offset;
    size_t written;
    bool read_shut;
    bool write_shut;
    bool closed;
};

G_DEFINE_TYPE(QIOChannelFuzz, qio_channel_fuzz, QIO_TYPE_CHANNEL)

QIOChannelFuzz *qio_channel_fuzz_new(const uint8_t *data, size_t len)
{
    QIOChannelFuzz *fioc = g_object_new(QIO_TYPE_CHANNEL_FUZZ, NULL);

    fioc->input = g_bytes_new(data, len);
    qio_channel_set_feature(QIO_CHANNEL(fioc), QIO_CHANNEL_FEATURE_SHUTDOWN);
    qio_channel_set_name(QIO_CHANNEL(fioc), "fuzz");
    return fioc;
}

size_t qio_channel_fuzz_get_written(QIOChannelFuzz *fioc)
{
    size_t n;

    g_mutex_lock(&fioc->lock);
    n = fioc->written;
    g_mutex_unlock(&fioc->lock);
    return n;
}

static bool qio_channel_fuzz_check_open(QIOChannelFuzz *fioc, GError **errp)
{
    if (fioc->closed) {
        qio_error_setg(errp, QIO_ERROR_CLOSED, "%s: channel is closed",
                       qio_channel_get_name(QIO_CHANNEL(fioc)));
        return false;
    }
    return true;
}

static gssize qio_channel_fuzz_readv(QIOChannel *ioc, const struct iovec *iov,
                                     size_t niov, int **fds, size_t *nfds,
                                     int flags, GError **errp)
{
    QIOChannelFuzz *fioc = QIO_CHANNEL_FUZZ(ioc);
    size_t size;
    const uint8_t *data;
    size_t done = 0;

    g_mutex_lock(&fioc->lock);
    if (!qio_channel_fuzz_check_open(fioc, errp)) {
        g_mutex_unlock(&fioc->lock);
        return -1;
    }
    data = g_bytes_get_data(fioc->input, &size);
    if (!fioc->read_shut) {
        size_t off = fioc->offset;

        for (size_t i = 0; i < niov && off < size; i++) {
            size_t n = MIN(iov[i].iov_len, size - off);

            memcpy(iov[i].iov_base, data + off, n);
            off += n;
            done += n;
        }
        if (!(flags & QIO_CHANNEL_READ_FLAG_PEEK)) {
            fioc->offset = off;
        }
    }
    g_mutex_unlock(&fioc->lock);
    return done;
}

static gssize qio_channel_fuzz_writev(QIOChannel *ioc, const struct iovec *iov,
                                      size_t niov, const int *fds, size_t nfds,
                                      int flags, GError **errp)
{
    QIOChannelFuzz *fioc = QIO_CHANNEL_FUZZ(ioc);
    size_t total = 0;

    g_mutex_lock(&fioc->lock);
    if (!qio_channel_fuzz_check_open(fioc, errp)) {
        g_mutex_unlock(&fioc->lock);
        return -1;
    }
    if (fioc->write_shut) {
        g_mutex_unlock(&fioc->lock);
        qio_error_setg_errno(errp, EPIPE, "%s: writing after shutdown",
                             qio_channel_get_name(ioc));
        return -1;
    }
    for (size_t i = 0; i < niov; i++) {
        total += MIN(iov[i].iov_len, (size_t)G_MAXSSIZE - total);
    }
    fioc->written += total;
    g_mutex_unlock(&fioc->lock);
    return total;
}

static int qio_channel_fuzz_set_blocking(QIOChannel *ioc, bool enabled,
                                         GError **errp)
{
    return 0;
}

static int qio_channel_fuzz_shutdown(QIOChannel *ioc, QIOChannelShutdown how,
                                     GError **errp)
{
    QIOChannelFuzz *fioc = QIO_CHANNEL_FUZZ(ioc);

    g_mutex_lock(&fioc->lock);
    if (how & QIO_CHANNEL_SHUTDOWN_READ) {
        fioc->read_shut = true;
    }
    if (how & QIO_CHANNEL_SHUTDOWN_WRITE) {
        fioc->write_shut = true;
    }
    g_mutex_unlock(&fioc->lock);
    return 0;
}

static int qio_channel_fuzz_close(QIOChannel *ioc, GError **errp)
{
    QIOChannelFuzz *fioc = QIO_CHANNEL_FUZZ(ioc);

    g_mutex_lock(&fioc->lock);
    fioc->closed = true;
    g_mutex_unlock(&fioc->lock);
    return 0;
}

static void qio_channel_fuzz_finalize(GObject *obj)
{
    QIOChannelFuzz *fioc = QIO_CHANNEL_FUZZ(obj);

    g_bytes_unref(fioc->input);
    g_mutex_clear(&fioc->lock);
    G_OBJECT_CLASS(qio_channel_fuzz_parent_class)->finalize(obj);
}

static void qio_channel_fuzz_class_init(QIOChannelFuzzClass *klass)
{
    QIOChannelClass *ioc_klass = QIO_CHANNEL_CLASS(klass);

    G_OBJECT_CLASS(klass)->finalize = qio_channel_fuzz_finalize;
    ioc_klass->io_readv = qio_channel_fuzz_readv;
    ioc_klass->io_writev = qio_channel_fuzz_writev;
    ioc_klass->io_close = qio_channel_fuzz_close;
    ioc_klass->io_create_watch = qio_channel_create_ready_watch;
    ioc_klass->io_set_blocking = qio_channel_fuzz_set_blocking;
    ioc_klass->io_shutdown = qio_channel_fuzz_shutdown;
}

static void qio_channel_fuzz_init(QIOChannelFuzz *fioc)
{
    g_mutex_init(&fioc->lock);
}
