/*
 * The ring buffer chardev.  Producer and consumer counters run freely
 * (64-bit, never wrapping in practice) and are reduced modulo the size,
 * which is a power of two, on access; the buffer holds prod - cons bytes,
 * and a write that would exceed the size advances cons, dropping the
 * oldest bytes as QEMU's ringbuf does.
 */
#include "chardev/char-ringbuf.h"

struct _QIOChardevRingbuf {
    QIOChardev parent;
    uint8_t *buf;
    size_t size;
    uint64_t prod;
    uint64_t cons;
};

G_DEFINE_TYPE(QIOChardevRingbuf, qio_chardev_ringbuf, QIO_TYPE_CHARDEV)

static void ringbuf_put(QIOChardevRingbuf *rb, const uint8_t *buf, size_t len)
{
    /* Only the last @size bytes can survive. */
    if (len > rb->size) {
        rb->prod += len - rb->size;
        buf += len - rb->size;
        len = rb->size;
    }
    for (size_t i = 0; i < len; i++) {
        rb->buf[rb->prod++ & (rb->size - 1)] = buf[i];
    }
    if (rb->prod - rb->cons > rb->size) {
        rb->cons = rb->prod - rb->size;
    }
}

static gssize qio_chardev_ringbuf_chr_write(QIOChardev *chr, const uint8_t *buf,
                                            size_t len, GError **errp)
{
    ringbuf_put(QIO_CHARDEV_RINGBUF(chr), buf, len);
    return len;
}

static void qio_chardev_ringbuf_finalize(GObject *obj)
{
    g_free(QIO_CHARDEV_RINGBUF(obj)->buf);
    G_OBJECT_CLASS(qio_chardev_ringbuf_parent_class)->finalize(obj);
}

static void qio_chardev_ringbuf_class_init(QIOChardevRingbufClass *klass)
{
    QIOChardevClass *chr_klass = QIO_CHARDEV_CLASS(klass);

    G_OBJECT_CLASS(klass)->finalize = qio_chardev_ringbuf_finalize;
    chr_klass->backend_name = "ringbuf";
    chr_klass->chr_write = qio_chardev_ringbuf_chr_write;
}

static void qio_chardev_ringbuf_init(QIOChardevRingbuf *rb)
{
}

QIOChardev *qio_chardev_ringbuf_new(const char *id, uint64_t size,
                                    GError **errp)
{
    QIOChardevRingbuf *rb;

    if (size == 0) {
        size = QIO_CHARDEV_RINGBUF_DEFAULT_SIZE;
    }
    if (size & (size - 1)) {
        qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                       "size of ringbuf chardev must be power of two");
        return NULL;
    }
    if (size > QIO_CHARDEV_RINGBUF_MAX_SIZE) {
        qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                       "size of ringbuf chardev must be at most %u",
                       QIO_CHARDEV_RINGBUF_MAX_SIZE);
        return NULL;
    }
    if (id && !qio_chardev_check_id(id, errp)) {
        return NULL;
    }
    rb = g_object_new(QIO_TYPE_CHARDEV_RINGBUF, NULL);
    rb->size = size;
    rb->buf = g_try_malloc(size);
    if (!rb->buf) {
        qio_error_setg(errp, QIO_ERROR_FAILED,
                       "Chardev '%s': no memory for a ring of %zu bytes",
                       id ? id : "ringbuf", rb->size);
        g_object_unref(rb);
        return NULL;
    }
    if (!qio_chardev_register(QIO_CHARDEV(rb), id, errp)) {
        g_object_unref(rb);
        return NULL;
    }
    /* Always "connected", as in QEMU: a monitor on it prints its banner. */
    qio_chardev_be_event(QIO_CHARDEV(rb), QIO_CHARDEV_EVENT_OPENED);
    if (id) {
        g_object_unref(rb);
    }
    return QIO_CHARDEV(rb);
}

static QIOChardevRingbuf *check_ringbuf(QIOChardev *chr, GError **errp)
{
    if (!QIO_IS_CHARDEV_RINGBUF(chr)) {
        qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                       "%s is not a ringbuf device",
                       qio_chardev_get_label(chr));
        return NULL;
    }
    return QIO_CHARDEV_RINGBUF(chr);
}

bool qio_chardev_ringbuf_write(QIOChardev *chr, const uint8_t *buf, size_t len,
                               GError **errp)
{
    if (!check_ringbuf(chr, errp)) {
        return false;
    }
    /* Through the base, so that the logfile sees it too. */
    return qio_chardev_write(chr, buf, len, errp) >= 0;
}

gssize qio_chardev_ringbuf_read(QIOChardev *chr, uint8_t *buf, size_t size,
                                GError **errp)
{
    QIOChardevRingbuf *rb = check_ringbuf(chr, errp);
    size_t n;

    if (!rb) {
        return -1;
    }
    n = MIN(size, rb->prod - rb->cons);
    for (size_t i = 0; i < n; i++) {
        buf[i] = rb->buf[rb->cons++ & (rb->size - 1)];
    }
    return n;
}

size_t qio_chardev_ringbuf_count(QIOChardev *chr)
{
    QIOChardevRingbuf *rb = check_ringbuf(chr, NULL);

    return rb ? rb->prod - rb->cons : 0;
}
