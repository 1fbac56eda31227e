/*
 * The null chardev: swallows what the frontend writes and never has input.
 */
#include "chardev/char-null.h"

struct _QIOChardevNull {
    QIOChardev parent;
};

G_DEFINE_TYPE(QIOChardevNull, qio_chardev_null, QIO_TYPE_CHARDEV)

static gssize qio_chardev_null_write(QIOChardev *chr, const uint8_t *buf,
                                     size_t len, GError **errp)
{
    return len;
}

static void qio_chardev_null_class_init(QIOChardevNullClass *klass)
{
    QIOChardevClass *chr_klass = QIO_CHARDEV_CLASS(klass);

    chr_klass->backend_name = "null";
    chr_klass->chr_write = qio_chardev_null_write;
}

static void qio_chardev_null_init(QIOChardevNull *chr)
{
}

QIOChardev *qio_chardev_null_new(const char *id, GError **errp)
{
    QIOChardev *chr = g_object_new(QIO_TYPE_CHARDEV_NULL, NULL);

    if (!qio_chardev_register(chr, id, errp)) {
        g_object_unref(chr);
        return NULL;
    }
    if (id) {
        g_object_unref(chr); /* the registry holds it */
    }
    return chr;
}
