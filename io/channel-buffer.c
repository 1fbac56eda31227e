/*
 * QIOChannelBuffer: an in-memory byte stream with independent read and
 * write positions, an optional size bound, and watches that are always
 * ready because memory never makes anyone wait.
 */
#include "io/channel-buffer.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Smallest allocation, so that many tiny writes do not realloc each time. */
#define BUFFER_MIN_CAPACITY 4096

struct _QIOChannelBuffer {
    QIOChannel parent;
    guint8 *data;
    size_t capacity;
    size_t length;
    size_t offset;
    size_t max_size;
    bool closed;
};

G_DEFINE_TYPE(QIOChannelBuffer, qio_channel_buffer, QIO_TYPE_CHANNEL)

QIOChannelBuffer *qio_channel_buffer_new(size_t capacity)
{
    QIOChannelBuffer *bioc = g_object_new(QIO_TYPE_CHANNEL_BUFFER, NULL);

    if (capacity) {
        bioc->data = g_malloc(capacity);
        bioc->capacity = capacity;
    }
    return bioc;
}

QIOChannelBuffer *qio_channel_buffer_new_with_data(const void *data, size_t len)
{
    QIOChannelBuffer *bioc;

    g_return_val_if_fail(data != NULL || len == 0, NULL);

    bioc = qio_channel_buffer_new(len);
    if (len) {
        memcpy(bioc->data, data, len);
        bioc->length = len;
    }
    return bioc;
}

void qio_channel_buffer_set_max_size(QIOChannelBuffer *ioc, size_t max_size)
{
    g_return_if_fail(QIO_IS_CHANNEL_BUFFER(ioc));

    ioc->max_size = max_size;
}

const guint8 *qio_channel_buffer_get_data(QIOChannelBuffer *ioc)
{
    g_return_val_if_fail(QIO_IS_CHANNEL_BUFFER(ioc), NULL);

    return ioc->data;
}

size_t qio_channel_buffer_get_length(QIOChannelBuffer *ioc)
{
    g_return_val_if_fail(QIO_IS_CHANNEL_BUFFER(ioc), 0);

    return ioc->length;
}

size_t qio_channel_buffer_get_offset(QIOChannelBuffer *ioc)
{
    g_return_val_if_fail(QIO_IS_CHANNEL_BUFFER(ioc), 0);

    return ioc->offset;
}

static bool check_open(QIOChannelBuffer *bioc, GError **errp)
{
    if (bioc->closed) {
        qio_error_setg(errp, QIO_ERROR_CLOSED, "%s: channel is closed",
                       qio_channel_get_name(QIO_CHANNEL(bioc)));
        return false;
    }
    return true;
}

static gssize qio_channel_buffer_readv(QIOChannel *ioc, const struct iovec *iov,
                                       size_t niov, int **fds, size_t *nfds,
                                       int flags, GError **errp)
{
    QIOChannelBuffer *bioc = QIO_CHANNEL_BUFFER(ioc);
    /* A gssize result cannot say more; callers loop for the rest. */
    size_t avail;
    size_t done = 0;

    if (!check_open(bioc, errp)) {
        return -1;
    }
    avail = MIN(bioc->length - bioc->offset, (size_t)G_MAXSSIZE);
    for (size_t i = 0; i < niov && done < avail; i++) {
        size_t n = MIN(iov[i].iov_len, avail - done);

        memcpy(iov[i].iov_base, bioc->data + bioc->offset + done, n);
        done += n;
    }
    if (!(flags & QIO_CHANNEL_READ_FLAG_PEEK)) {
        bioc->offset += done;
    }
    return done;
}

/* Make room for @need bytes in total, doubling the capacity. */
static bool buffer_reserve(QIOChannelBuffer *bioc, size_t need, GError **errp)
{
    size_t cap = MAX(bioc->capacity, (size_t)BUFFER_MIN_CAPACITY);
    guint8 *data;

    if (need <= bioc->capacity) {
        return true;
    }
    while (cap < need) {
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    }
    /* Doubling past the bound would only waste memory nobody may use. */
    if (bioc->max_size && cap > bioc->max_size) {
        cap = MAX(bioc->max_size, need);
    }
    data = g_try_realloc(bioc->data, cap);
    if (!data) {
        qio_error_setg_errno(errp, ENOMEM,
                             "%s: cannot grow the buffer to %zu bytes",
                             qio_channel_get_name(QIO_CHANNEL(bioc)), cap);
        return false;
    }
    bioc->data = data;
    bioc->capacity = cap;
    return true;
}

static gssize qio_channel_buffer_writev(QIOChannel *ioc,
                                        const struct iovec *iov, size_t niov,
                                        const int *fds, size_t nfds, int flags,
                                        GError **errp)
{
    QIOChannelBuffer *bioc = QIO_CHANNEL_BUFFER(ioc);
    size_t limit;
    size_t total = 0;
    bool too_large = false;

    if (!check_open(bioc, errp)) {
        return -1;
    }
    limit = MIN(bioc->max_size ? bioc->max_size : SIZE_MAX, (size_t)G_MAXSSIZE);
    /* total never exceeds limit, so the subtraction cannot wrap. */
    for (size_t i = 0; i < niov && !too_large; i++) {
        too_large = iov[i].iov_len > limit - total;
        total += too_large ? 0 : iov[i].iov_len;
    }
    if (too_large || bioc->length > limit - total) {
        qio_error_setg(errp, QIO_ERROR_TOO_LARGE,
                       "%s: write would take the buffer past its limit of "
                       "%zu bytes (%zu already used)",
                       qio_channel_get_name(ioc), limit, bioc->length);
        return -1;
    }
    if (!buffer_reserve(bioc, bioc->length + total, errp)) {
        return -1;
    }
    for (size_t i = 0; i < niov; i++) {
        if (iov[i].iov_len) {
            memcpy(bioc->data + bioc->length, iov[i].iov_base, iov[i].iov_len);
            bioc->length += iov[i].iov_len;
        }
    }
    return total;
}

static off_t qio_channel_buffer_seek(QIOChannel *ioc, off_t offset, int whence,
                                     GError **errp)
{
    QIOChannelBuffer *bioc = QIO_CHANNEL_BUFFER(ioc);
    gint64 base;
    gint64 pos;

    if (!check_open(bioc, errp)) {
        return -1;
    }
    switch (whence) {
    case SEEK_SET:
        base = 0;
        break;
    case SEEK_CUR:
        base = bioc->offset;
        break;
    case SEEK_END:
        base = bioc->length;
        break;
    default:
        qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                       "%s: unknown seek origin %d", qio_channel_get_name(ioc),
                       whence);
        return -1;
    }
    /* Compare magnitudes so that no offset can overflow the sum. */
    if (offset < 0 ? (guint64) - (offset + 1) + 1 > (guint64)base
                   : (guint64)offset > (guint64)bioc->length - base) {
        qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                       "%s: cannot seek %s%jd bytes from %" G_GINT64_FORMAT
                       ", outside the %zu bytes of data",
                       qio_channel_get_name(ioc), offset < 0 ? "" : "+",
                       (intmax_t)offset, base, bioc->length);
        return -1;
    }
    pos = base + offset;
    bioc->offset = pos;
    return pos;
}

static int qio_channel_buffer_set_blocking(QIOChannel *ioc, bool enabled,
                                           GError **errp)
{
    /* Memory never blocks, so both modes behave the same. */
    return 0;
}

static int qio_channel_buffer_close(QIOChannel *ioc, GError **errp)
{
    QIO_CHANNEL_BUFFER(ioc)->closed = true;
    return 0;
}

static void qio_channel_buffer_finalize(GObject *obj)
{
    g_free(QIO_CHANNEL_BUFFER(obj)->data);
    G_OBJECT_CLASS(qio_channel_buffer_parent_class)->finalize(obj);
}

static size_t qio_channel_buffer_input_pending(QIOChannel *ioc)
{
    QIOChannelBuffer *bioc = QIO_CHANNEL_BUFFER(ioc);

    return bioc->closed ? 0 : bioc->length - bioc->offset;
}

static void qio_channel_buffer_class_init(QIOChannelBufferClass *klass)
{
    QIOChannelClass *ioc_klass = QIO_CHANNEL_CLASS(klass);

    G_OBJECT_CLASS(klass)->finalize = qio_channel_buffer_finalize;
    ioc_klass->io_readv = qio_channel_buffer_readv;
    ioc_klass->io_writev = qio_channel_buffer_writev;
    ioc_klass->io_close = qio_channel_buffer_close;
    ioc_klass->io_create_watch = qio_channel_create_ready_watch;
    ioc_klass->io_set_blocking = qio_channel_buffer_set_blocking;
    ioc_klass->io_seek = qio_channel_buffer_seek;
    ioc_klass->io_input_pending = qio_channel_buffer_input_pending;
}

static void qio_channel_buffer_init(QIOChannelBuffer *bioc)
{
    qio_channel_set_feature(QIO_CHANNEL(bioc), QIO_CHANNEL_FEATURE_SEEKABLE);
}
