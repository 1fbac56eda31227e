/*
 * QIOChardevFd, the descriptor-moving part of file, pipe, stdio and pty
 * chardevs (see char-fd.h).  The read watch exists only while the
 * frontend has room and a peer is connected; the write watch only while
 * the output buffer holds bytes the descriptor did not take.
 */
#include "chardev/char-fd.h"

typedef struct {
    QIOChannel *in;
    QIOChannel *out;
    bool connected;
    bool input_done;
    GSource *read_src;
    GSource *write_src;
    GByteArray *buf;
    bool want_writable;
} QIOChardevFdPrivate;

G_DEFINE_ABSTRACT_TYPE_WITH_PRIVATE(QIOChardevFd, qio_chardev_fd,
                                    QIO_TYPE_CHARDEV)

#define READ_CHUNK 4096

static QIOChardevFdPrivate *fd_priv(QIOChardevFd *cfd)
{
    return qio_chardev_fd_get_instance_private(cfd);
}

static void drop_source(GSource **src)
{
    if (*src) {
        g_source_destroy(*src);
        g_source_unref(*src);
        *src = NULL;
    }
}

static void update_read_watch(QIOChardevFd *cfd);

static gboolean fd_read_ready(QIOChannel *ioc, GIOCondition cond,
                              gpointer opaque)
{
    QIOChardevFd *cfd = opaque;
    QIOChardevFdPrivate *p = fd_priv(cfd);
    QIOChardev *chr = QIO_CHARDEV(cfd);
    g_autoptr(GError) err = NULL;
    uint8_t buf[READ_CHUNK];
    size_t room = qio_chardev_be_can_read(chr);
    gssize n;

    if (room == 0) {
        g_source_unref(p->read_src);
        p->read_src = NULL;
        return G_SOURCE_REMOVE;
    }
    n = qio_channel_read(ioc, buf, MIN(room, sizeof(buf)), &err);
    if (n == QIO_CHANNEL_ERR_BLOCK) {
        return G_SOURCE_CONTINUE;
    }
    if (n <= 0) {
        QIOChardevFdClass *klass = QIO_CHARDEV_FD_GET_CLASS(cfd);

        g_source_unref(p->read_src);
        p->read_src = NULL;
        p->input_done = true;
        g_object_ref(cfd);
        if (klass->fd_hup) {
            klass->fd_hup(cfd, err);
        }
        g_object_unref(cfd);
        return G_SOURCE_REMOVE;
    }
    g_object_ref(cfd);
    qio_chardev_be_read(chr, buf, n);
    if (p->read_src && qio_chardev_be_can_read(chr) == 0) {
        drop_source(&p->read_src);
    }
    g_object_unref(cfd);
    return G_SOURCE_CONTINUE;
}

static void update_read_watch(QIOChardevFd *cfd)
{
    QIOChardevFdPrivate *p = fd_priv(cfd);

    if (!p->in || !p->connected || p->input_done || p->read_src ||
        qio_chardev_be_can_read(QIO_CHARDEV(cfd)) == 0) {
        return;
    }
    p->read_src =
        qio_channel_create_watch(p->in, G_IO_IN | G_IO_HUP | G_IO_ERR);
    g_source_set_callback(
        p->read_src, (GSourceFunc)(void (*)(void))fd_read_ready, cfd, NULL);
    g_source_attach(p->read_src, qio_chardev_get_context(QIO_CHARDEV(cfd)));
}

static void flush(QIOChardevFd *cfd);

static gboolean fd_write_ready(QIOChannel *ioc, GIOCondition cond,
                               gpointer opaque)
{
    QIOChardevFd *cfd = opaque;
    QIOChardevFdPrivate *p = fd_priv(cfd);

    g_source_unref(p->write_src);
    p->write_src = NULL;
    flush(cfd);
    if (p->buf->len == 0 && p->want_writable) {
        p->want_writable = false;
        qio_chardev_be_writable(QIO_CHARDEV(cfd));
    }
    return G_SOURCE_REMOVE;
}

static void flush(QIOChardevFd *cfd)
{
    QIOChardevFdPrivate *p = fd_priv(cfd);

    while (p->buf->len > 0) {
        g_autoptr(GError) err = NULL;
        gssize n = qio_channel_write(p->out, p->buf->data, p->buf->len, &err);

        if (n == QIO_CHANNEL_ERR_BLOCK) {
            if (!p->write_src) {
                p->write_src = qio_channel_create_watch(p->out, G_IO_OUT);
                g_source_set_callback(
                    p->write_src, (GSourceFunc)(void (*)(void))fd_write_ready,
                    cfd, NULL);
                g_source_attach(p->write_src,
                                qio_chardev_get_context(QIO_CHARDEV(cfd)));
            }
            return;
        }
        if (n < 0) {
            /* The reader went away (a pty's slave, a pipe): drop it. */
            g_debug("chardev '%s': %s", qio_chardev_get_label(QIO_CHARDEV(cfd)),
                    err->message);
            g_byte_array_set_size(p->buf, 0);
            return;
        }
        g_byte_array_remove_range(p->buf, 0, n);
    }
}

static gssize qio_chardev_fd_write(QIOChardev *chr, const uint8_t *buf,
                                   size_t len, GError **errp)
{
    QIOChardevFd *cfd = QIO_CHARDEV_FD(chr);
    QIOChardevFdPrivate *p = fd_priv(cfd);
    size_t take;

    if (!p->out || !p->connected) {
        return len;
    }
    take = MIN(len, QIO_CHARDEV_FD_OUT_MAX - p->buf->len);
    g_byte_array_append(p->buf, buf, take);
    if (!p->write_src) {
        flush(cfd);
    }
    if (take < len) {
        p->want_writable = true;
    }
    return take;
}

static void qio_chardev_fd_accept_input(QIOChardev *chr)
{
    update_read_watch(QIO_CHARDEV_FD(chr));
}

static void qio_chardev_fd_frontend_changed(QIOChardev *chr, bool attached)
{
    update_read_watch(QIO_CHARDEV_FD(chr));
}

static void qio_chardev_fd_close(QIOChardev *chr)
{
    QIOChardevFdPrivate *p = fd_priv(QIO_CHARDEV_FD(chr));

    drop_source(&p->read_src);
    drop_source(&p->write_src);
    if (p->out && p->buf->len) {
        /* Last words (a monitor's reply) go out if they can now. */
        qio_channel_write(p->out, p->buf->data, p->buf->len, NULL);
    }
    g_byte_array_set_size(p->buf, 0);
    p->connected = false;
}

static void qio_chardev_fd_finalize(GObject *obj)
{
    QIOChardevFdPrivate *p = fd_priv(QIO_CHARDEV_FD(obj));

    G_OBJECT_CLASS(qio_chardev_fd_parent_class)->finalize(obj);
    g_clear_object(&p->in);
    g_clear_object(&p->out);
    g_byte_array_unref(p->buf);
}

static void qio_chardev_fd_class_init(QIOChardevFdClass *klass)
{
    QIOChardevClass *chr_klass = QIO_CHARDEV_CLASS(klass);

    G_OBJECT_CLASS(klass)->finalize = qio_chardev_fd_finalize;
    chr_klass->chr_write = qio_chardev_fd_write;
    chr_klass->chr_accept_input = qio_chardev_fd_accept_input;
    chr_klass->chr_frontend_changed = qio_chardev_fd_frontend_changed;
    chr_klass->chr_close = qio_chardev_fd_close;
}

static void qio_chardev_fd_init(QIOChardevFd *cfd)
{
    fd_priv(cfd)->buf = g_byte_array_new();
}

void qio_chardev_fd_set_channels(QIOChardevFd *cfd, QIOChannel *in,
                                 QIOChannel *out, bool out_blocking)
{
    QIOChardevFdPrivate *p = fd_priv(cfd);

    drop_source(&p->read_src);
    drop_source(&p->write_src);
    g_set_object(&p->in, in);
    g_set_object(&p->out, out);
    p->input_done = false;
    if (in) {
        qio_channel_set_blocking(in, false, NULL);
    }
    if (out && out != in) {
        qio_channel_set_blocking(out, out_blocking, NULL);
    }
    update_read_watch(cfd);
}

void qio_chardev_fd_set_connected(QIOChardevFd *cfd, bool connected)
{
    QIOChardevFdPrivate *p = fd_priv(cfd);

    if (p->connected == connected) {
        return;
    }
    p->connected = connected;
    if (!connected) {
        drop_source(&p->read_src);
        drop_source(&p->write_src);
        g_byte_array_set_size(p->buf, 0);
        qio_chardev_be_event(QIO_CHARDEV(cfd), QIO_CHARDEV_EVENT_CLOSED);
        if (p->want_writable) {
            p->want_writable = false;
            qio_chardev_be_writable(QIO_CHARDEV(cfd));
        }
        return;
    }
    p->input_done = false;
    qio_chardev_be_event(QIO_CHARDEV(cfd), QIO_CHARDEV_EVENT_OPENED);
    update_read_watch(cfd);
}

bool qio_chardev_fd_is_connected(QIOChardevFd *cfd)
{
    return fd_priv(cfd)->connected;
}

void qio_chardev_fd_stop_input(QIOChardevFd *cfd)
{
    QIOChardevFdPrivate *p = fd_priv(cfd);

    p->input_done = true;
    drop_source(&p->read_src);
}
