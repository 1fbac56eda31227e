/*
 * The QMP commands of qapi/char.json, with QEMU's wording for what a
 * client gets wrong.  ringbuf-read bounds its buffer by what the ring
 * holds, never by the size the client asks for.
 */
#include <string.h>

#include "chardev/char-mux.h"
#include "chardev/char-pty.h"
#include "chardev/char-qapi.h"
#include "chardev/char-ringbuf.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-char.h"

ChardevReturn *qmp_chardev_add(const char *id, ChardevBackend *backend,
                               GError **errp)
{
    g_autoptr(GError) err = NULL;
    ChardevReturn *ret;
    QIOChardev *chr;

    if (qio_chardev_find(id)) {
        g_set_error(errp, QAPI_ERROR, QAPI_ERROR_GENERIC,
                    "Chardev with id '%s' already exists", id);
        return NULL;
    }
    chr = qio_chardev_new_from_backend(id, backend, &err);
    if (!chr) {
        g_propagate_prefixed_error(errp, g_steal_pointer(&err),
                                   "Failed to add chardev '%s': ", id);
        return NULL;
    }
    ret = g_new0(ChardevReturn, 1);
    ret->pty = g_strdup(qio_chardev_pty_get_path(chr));
    return ret;
}

void qmp_chardev_remove(const char *id, GError **errp)
{
    QIOChardev *chr = qio_chardev_find(id);

    if (!chr) {
        g_set_error(errp, QAPI_ERROR, QAPI_ERROR_GENERIC,
                    "Chardev '%s' not found", id);
        return;
    }
    qio_chardev_remove(id, errp);
}

ChardevInfoList *qmp_query_chardev(GError **errp)
{
    g_autoptr(GPtrArray) all = qio_chardev_list();
    ChardevInfoList *head = NULL;

    /* Built backwards so that the list comes out sorted by label. */
    for (guint i = all->len; i-- > 0;) {
        QIOChardev *chr = g_ptr_array_index(all, i);
        ChardevInfo *info = g_new0(ChardevInfo, 1);
        ChardevInfoList *node = g_new0(ChardevInfoList, 1);

        info->label = g_strdup(qio_chardev_get_label(chr));
        info->filename = qio_chardev_get_filename(chr);
        info->frontend_open = qio_chardev_frontend_open(chr);
        node->value = info;
        node->next = head;
        head = node;
    }
    return head;
}

ChardevBackendInfoList *qmp_query_chardev_backends(GError **errp)
{
    const char *const *names = qio_chardev_backend_names();
    ChardevBackendInfoList *head = NULL;
    size_t n = g_strv_length((char **)names);

    for (size_t i = n; i-- > 0;) {
        ChardevBackendInfoList *node = g_new0(ChardevBackendInfoList, 1);

        node->value = g_new0(ChardevBackendInfo, 1);
        node->value->name = g_strdup(names[i]);
        node->next = head;
        head = node;
    }
    return head;
}

static QIOChardev *find_device(const char *device, GError **errp)
{
    QIOChardev *chr = qio_chardev_find(device);

    if (!chr) {
        g_set_error(errp, QAPI_ERROR, QAPI_ERROR_GENERIC,
                    "Device '%s' not found", device);
    }
    return chr;
}

void qmp_ringbuf_write(const char *device, const char *data, bool has_format,
                       DataFormat format, GError **errp)
{
    QIOChardev *chr = find_device(device, errp);
    g_autofree guchar *decoded = NULL;
    const guint8 *bytes = (const guint8 *)data;
    gsize len = strlen(data);

    if (!chr) {
        return;
    }
    if (has_format && format == DATA_FORMAT_BASE64) {
        /* Strict: only the alphabet, padding and whole quanta. */
        if (len % 4 ||
            strspn(data, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                         "0123456789+/=") != len ||
            (strchr(data, '=') &&
             strspn(strchr(data, '='), "=") != strlen(strchr(data, '=')))) {
            g_set_error(errp, QAPI_ERROR, QAPI_ERROR_GENERIC,
                        "Invalid base64 data");
            return;
        }
        decoded = g_base64_decode(data, &len);
        bytes = decoded;
    }
    qio_chardev_ringbuf_write(chr, bytes, len, errp);
}

char *qmp_ringbuf_read(const char *device, int64_t size, bool has_format,
                       DataFormat format, GError **errp)
{
    QIOChardev *chr = find_device(device, errp);
    g_autofree uint8_t *buf = NULL;
    gssize n;

    if (!chr) {
        return NULL;
    }
    if (size <= 0) {
        g_set_error(errp, QAPI_ERROR, QAPI_ERROR_GENERIC,
                    "size must be greater than zero");
        return NULL;
    }
    if (!QIO_IS_CHARDEV_RINGBUF(chr)) {
        g_set_error(errp, QAPI_ERROR, QAPI_ERROR_GENERIC,
                    "%s is not a ringbuf device", device);
        return NULL;
    }
    size = MIN((uint64_t)size, qio_chardev_ringbuf_count(chr));
    buf = g_malloc(size + 1);
    n = qio_chardev_ringbuf_read(chr, buf, size, errp);
    if (n < 0) {
        return NULL;
    }
    if (has_format && format == DATA_FORMAT_BASE64) {
        return g_base64_encode(buf, n);
    }
    /* JSON strings are UTF-8: invalid sequences become U+FFFD. */
    return g_utf8_make_valid((const char *)buf, n);
}
