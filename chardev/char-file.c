/*
 * The file and pipe chardevs: descriptors opened from paths, moved by
 * QIOChardevFd.  Both are "connected" from the start, as in QEMU, so the
 * frontend hears OPENED at once.
 */
#include "chardev/char-file.h"

#include <errno.h>
#include <fcntl.h>

#include "chardev/char-fd.h"
#include "chardev/char-pipe.h"
#include "io/channel-file.h"

typedef struct {
    QIOChardevFd parent;
} QIOChardevFile;
typedef struct {
    QIOChardevFdClass parent_class;
} QIOChardevFileClass;

G_DEFINE_TYPE(QIOChardevFile, qio_chardev_file, QIO_TYPE_CHARDEV_FD)

static void qio_chardev_file_class_init(QIOChardevFileClass *klass)
{
    QIO_CHARDEV_CLASS(klass)->backend_name = "file";
}

static void qio_chardev_file_init(QIOChardevFile *f)
{
}

typedef struct {
    QIOChardevFd parent;
} QIOChardevPipe;
typedef struct {
    QIOChardevFdClass parent_class;
} QIOChardevPipeClass;

G_DEFINE_TYPE(QIOChardevPipe, qio_chardev_pipe, QIO_TYPE_CHARDEV_FD)

static void qio_chardev_pipe_class_init(QIOChardevPipeClass *klass)
{
    QIO_CHARDEV_CLASS(klass)->backend_name = "pipe";
}

static void qio_chardev_pipe_init(QIOChardevPipe *p)
{
}

/* Register, connect, and hand back as the registry's convention says. */
static QIOChardev *finish(QIOChardev *chr, const char *id, QIOChannel *in,
                          QIOChannel *out, GError **errp)
{
    qio_chardev_fd_set_channels(QIO_CHARDEV_FD(chr), in, out, false);
    if (!qio_chardev_register(chr, id, errp)) {
        g_object_unref(chr);
        return NULL;
    }
    qio_chardev_fd_set_connected(QIO_CHARDEV_FD(chr), true);
    if (id) {
        g_object_unref(chr);
    }
    return chr;
}

QIOChardev *qio_chardev_file_new(const char *id, const char *path,
                                 const char *in, bool append, GError **errp)
{
    g_autoptr(QIOChannelFile) out = NULL;
    g_autoptr(QIOChannelFile) inc = NULL;
    int flags = O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC);

    if (id && !qio_chardev_check_id(id, errp)) {
        return NULL;
    }
    out = qio_channel_file_new_path(path, flags, 0666, errp);
    if (!out) {
        return NULL;
    }
    if (in) {
        inc = qio_channel_file_new_path(in, O_RDONLY, 0, errp);
        if (!inc) {
            return NULL;
        }
    }
    return finish(g_object_new(QIO_TYPE_CHARDEV_FILE, NULL), id,
                  inc ? QIO_CHANNEL(inc) : NULL, QIO_CHANNEL(out), errp);
}

QIOChardev *qio_chardev_pipe_new(const char *id, const char *path,
                                 GError **errp)
{
    g_autofree char *pin = g_strdup_printf("%s.in", path);
    g_autofree char *pout = g_strdup_printf("%s.out", path);
    g_autoptr(QIOChannelFile) in = NULL;
    g_autoptr(QIOChannelFile) out = NULL;

    if (id && !qio_chardev_check_id(id, errp)) {
        return NULL;
    }
    in = qio_channel_file_new_path(pin, O_RDWR | O_NONBLOCK, 0, NULL);
    out = qio_channel_file_new_path(pout, O_RDWR | O_NONBLOCK, 0, NULL);
    if (!in || !out) {
        g_clear_object(&in);
        g_clear_object(&out);
        in = qio_channel_file_new_path(path, O_RDWR | O_NONBLOCK, 0, errp);
        if (!in) {
            return NULL;
        }
        out = g_object_ref(in);
    }
    return finish(g_object_new(QIO_TYPE_CHARDEV_PIPE, NULL), id,
                  QIO_CHANNEL(in), QIO_CHANNEL(out), errp);
}
