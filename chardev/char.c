/*
 * QIOChardev, the base of every character device: the frontend slots,
 * the registry by id, the logfile, and the descriptors a peer passed.
 *
 * What is subtle: a frontend attached to a backend that already has a peer
 * must see OPENED, but not from inside qio_chardev_attach() (the caller is
 * still setting up), so it is delivered from an idle source on the
 * chardev's context, and cancelled if the frontend detaches first.  The
 * registry and every callback live on one thread (the one running the
 * chardev's context); the registry has a lock only so that lookups from
 * elsewhere do not crash.
 */
#include "chardev/char.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "io/error.h"

#define QIO_CHARDEV_MAX_FRONTENDS 4

typedef struct {
    const QIOChardevHandlers *handlers;
    gpointer opaque;
    GSource *opened_idle; /* OPENED owed to a frontend attached late */
} QIOChardevFrontend;

typedef struct {
    char *id;
    char *label;
    char *filename;
    GMainContext *context;
    QIOChardevFrontend fe[QIO_CHARDEV_MAX_FRONTENDS];
    unsigned nfe;
    bool be_open;
    bool closed;
    int logfd;
    GQueue fds; /* GINT_TO_POINTER(fd) */
} QIOChardevPrivate;

G_DEFINE_ABSTRACT_TYPE_WITH_PRIVATE(QIOChardev, qio_chardev, G_TYPE_OBJECT)

static GMutex registry_lock;
static GHashTable *registry; /* id -> QIOChardev (a reference) */

static QIOChardevPrivate *priv_of(QIOChardev *chr)
{
    return qio_chardev_get_instance_private(chr);
}

static unsigned max_frontends(QIOChardev *chr)
{
    QIOChardevClass *klass = QIO_CHARDEV_GET_CLASS(chr);
    unsigned n = klass->chr_max_frontends ? klass->chr_max_frontends(chr) : 1;

    return MIN(MAX(n, 1), QIO_CHARDEV_MAX_FRONTENDS);
}

static void close_fds(QIOChardevPrivate *priv)
{
    while (!g_queue_is_empty(&priv->fds)) {
        close(GPOINTER_TO_INT(g_queue_pop_head(&priv->fds)));
    }
}

static void cancel_opened(QIOChardevFrontend *fe)
{
    if (fe->opened_idle) {
        g_source_destroy(fe->opened_idle);
        g_source_unref(fe->opened_idle);
        fe->opened_idle = NULL;
    }
}

static void qio_chardev_do_close(QIOChardev *chr)
{
    QIOChardevPrivate *priv = priv_of(chr);
    QIOChardevClass *klass = QIO_CHARDEV_GET_CLASS(chr);

    if (priv->closed) {
        return;
    }
    priv->closed = true;
    if (klass->chr_close) {
        klass->chr_close(chr);
    }
    for (unsigned i = 0; i < QIO_CHARDEV_MAX_FRONTENDS; i++) {
        cancel_opened(&priv->fe[i]);
    }
}

static void qio_chardev_finalize(GObject *obj)
{
    QIOChardev *chr = QIO_CHARDEV(obj);
    QIOChardevPrivate *priv = priv_of(chr);

    qio_chardev_do_close(chr);
    close_fds(priv);
    if (priv->logfd >= 0) {
        close(priv->logfd);
    }
    g_free(priv->id);
    g_free(priv->label);
    g_free(priv->filename);
    g_main_context_unref(priv->context);
    G_OBJECT_CLASS(qio_chardev_parent_class)->finalize(obj);
}

static void qio_chardev_class_init(QIOChardevClass *klass)
{
    G_OBJECT_CLASS(klass)->finalize = qio_chardev_finalize;
}

static void qio_chardev_init(QIOChardev *chr)
{
    QIOChardevPrivate *priv = priv_of(chr);

    priv->context = g_main_context_ref_thread_default();
    priv->logfd = -1;
    g_queue_init(&priv->fds);
}

/* ---- Registry ------------------------------------------------------------
 */

bool qio_chardev_id_wellformed(const char *id)
{
    if (!id || !g_ascii_isalpha(id[0])) {
        return false;
    }
    for (const char *p = id + 1; *p; p++) {
        if (!g_ascii_isalnum(*p) && *p != '-' && *p != '.' && *p != '_') {
            return false;
        }
    }
    return true;
}

bool qio_chardev_check_id(const char *id, GError **errp)
{
    bool taken;

    /* Any non-empty string, as QEMU's chardev-add takes. */
    if (!id || !*id) {
        qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                       "Chardev id must not be empty");
        return false;
    }
    g_mutex_lock(&registry_lock);
    taken = registry && g_hash_table_contains(registry, id);
    g_mutex_unlock(&registry_lock);
    if (taken) {
        qio_error_setg(errp, QIO_ERROR_EXISTS,
                       "Chardev with id '%s' already exists", id);
        return false;
    }
    return true;
}

bool qio_chardev_register(QIOChardev *chr, const char *id, GError **errp)
{
    QIOChardevPrivate *priv = priv_of(chr);

    g_return_val_if_fail(!priv->id, false);
    if (!id) {
        return true;
    }
    if (!qio_chardev_check_id(id, errp)) {
        return false;
    }
    priv->id = g_strdup(id);
    g_free(priv->label);
    priv->label = g_strdup(id);
    g_mutex_lock(&registry_lock);
    if (!registry) {
        registry = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                         g_object_unref);
    }
    g_hash_table_insert(registry, g_strdup(id), g_object_ref(chr));
    g_mutex_unlock(&registry_lock);
    return true;
}

QIOChardev *qio_chardev_find(const char *id)
{
    QIOChardev *chr = NULL;

    g_mutex_lock(&registry_lock);
    if (registry && id) {
        chr = g_hash_table_lookup(registry, id);
    }
    g_mutex_unlock(&registry_lock);
    return chr;
}

bool qio_chardev_remove(const char *id, GError **errp)
{
    QIOChardev *chr = qio_chardev_find(id);
    gpointer key, value;

    if (!chr) {
        qio_error_setg(errp, QIO_ERROR_NOT_FOUND, "Chardev '%s' not found",
                       id ? id : "");
        return false;
    }
    if (qio_chardev_frontend_open(chr)) {
        qio_error_setg(errp, QIO_ERROR_FAILED, "Chardev '%s' is busy", id);
        return false;
    }
    g_mutex_lock(&registry_lock);
    g_hash_table_steal_extended(registry, id, &key, &value);
    g_mutex_unlock(&registry_lock);
    g_free(key);
    qio_chardev_do_close(chr);
    g_object_unref(chr);
    return true;
}

static gint compare_ids(gconstpointer a, gconstpointer b)
{
    QIOChardev *ca = *(QIOChardev *const *)a;
    QIOChardev *cb = *(QIOChardev *const *)b;

    return strcmp(priv_of(ca)->id, priv_of(cb)->id);
}

GPtrArray *qio_chardev_list(void)
{
    GPtrArray *list = g_ptr_array_new();
    GHashTableIter iter;
    gpointer value;

    g_mutex_lock(&registry_lock);
    if (registry) {
        g_hash_table_iter_init(&iter, registry);
        while (g_hash_table_iter_next(&iter, NULL, &value)) {
            g_ptr_array_add(list, value);
        }
    }
    g_mutex_unlock(&registry_lock);
    g_ptr_array_sort(list, compare_ids);
    return list;
}

void qio_chardev_remove_all(void)
{
    GHashTable *old;
    GHashTableIter iter;
    gpointer value;

    g_mutex_lock(&registry_lock);
    old = registry;
    registry = NULL;
    g_mutex_unlock(&registry_lock);
    if (!old) {
        return;
    }
    g_hash_table_iter_init(&iter, old);
    while (g_hash_table_iter_next(&iter, NULL, &value)) {
        qio_chardev_do_close(value);
    }
    g_hash_table_unref(old);
}

/* ---- Frontend ------------------------------------------------------------
 */

static gboolean deliver_opened(gpointer opaque)
{
    QIOChardevFrontend *fe = opaque;
    const QIOChardevHandlers *h = fe->handlers;

    g_source_unref(fe->opened_idle);
    fe->opened_idle = NULL;
    if (h && h->event) {
        h->event(fe->opaque, QIO_CHARDEV_EVENT_OPENED);
    }
    return G_SOURCE_REMOVE;
}

int qio_chardev_attach(QIOChardev *chr, const QIOChardevHandlers *handlers,
                       gpointer opaque, GError **errp)
{
    QIOChardevPrivate *priv = priv_of(chr);
    QIOChardevClass *klass = QIO_CHARDEV_GET_CLASS(chr);
    unsigned max = max_frontends(chr);
    int tag = -1;

    g_return_val_if_fail(handlers && handlers->can_read && handlers->read, -1);
    for (unsigned i = 0; i < max; i++) {
        if (!priv->fe[i].handlers) {
            tag = i;
            break;
        }
    }
    if (tag < 0 || priv->closed) {
        qio_error_setg(errp, QIO_ERROR_FAILED, "Chardev '%s' is busy",
                       priv->label ? priv->label : "");
        return -1;
    }
    priv->fe[tag].handlers = handlers;
    priv->fe[tag].opaque = opaque;
    priv->nfe++;
    if (priv->be_open && handlers->event) {
        GSource *src = g_idle_source_new();

        g_source_set_callback(src, deliver_opened, &priv->fe[tag], NULL);
        g_source_attach(src, priv->context);
        priv->fe[tag].opened_idle = src;
    }
    if (klass->chr_frontend_changed) {
        klass->chr_frontend_changed(chr, true);
    }
    return tag;
}

void qio_chardev_detach(QIOChardev *chr, int tag)
{
    QIOChardevPrivate *priv = priv_of(chr);
    QIOChardevClass *klass = QIO_CHARDEV_GET_CLASS(chr);

    if (tag < 0 || tag >= QIO_CHARDEV_MAX_FRONTENDS ||
        !priv->fe[tag].handlers) {
        return;
    }
    cancel_opened(&priv->fe[tag]);
    priv->fe[tag].handlers = NULL;
    priv->fe[tag].opaque = NULL;
    priv->nfe--;
    if (klass->chr_frontend_changed) {
        klass->chr_frontend_changed(chr, false);
    }
}

bool qio_chardev_frontend_open(QIOChardev *chr)
{
    return priv_of(chr)->nfe > 0;
}

bool qio_chardev_get_frontend(QIOChardev *chr, int tag,
                              const QIOChardevHandlers **handlers,
                              gpointer *opaque)
{
    QIOChardevPrivate *priv = priv_of(chr);

    if (tag < 0 || tag >= QIO_CHARDEV_MAX_FRONTENDS ||
        !priv->fe[tag].handlers) {
        return false;
    }
    *handlers = priv->fe[tag].handlers;
    *opaque = priv->fe[tag].opaque;
    return true;
}

static void write_log(QIOChardevPrivate *priv, const uint8_t *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(priv->logfd, buf, len);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            /* A full disk must not stop the device: drop the log. */
            return;
        }
        buf += n;
        len -= n;
    }
}

gssize qio_chardev_write(QIOChardev *chr, const void *buf, size_t len,
                         GError **errp)
{
    QIOChardevPrivate *priv = priv_of(chr);
    gssize n;

    if (priv->closed) {
        qio_error_setg(errp, QIO_ERROR_CLOSED, "Chardev '%s' is closed",
                       priv->label ? priv->label : "");
        return -1;
    }
    if (len == 0) {
        return 0;
    }
    n = QIO_CHARDEV_GET_CLASS(chr)->chr_write(chr, buf, MIN(len, G_MAXSSIZE),
                                              errp);
    if (n > 0 && priv->logfd >= 0) {
        write_log(priv, buf, n);
    }
    return n;
}

void qio_chardev_accept_input(QIOChardev *chr)
{
    QIOChardevClass *klass = QIO_CHARDEV_GET_CLASS(chr);

    if (!priv_of(chr)->closed && klass->chr_accept_input) {
        klass->chr_accept_input(chr);
    }
}

void qio_chardev_send_break(QIOChardev *chr)
{
    QIOChardevClass *klass = QIO_CHARDEV_GET_CLASS(chr);

    if (!priv_of(chr)->closed && klass->chr_send_break) {
        klass->chr_send_break(chr);
    }
}

int qio_chardev_take_fd(QIOChardev *chr)
{
    QIOChardevPrivate *priv = priv_of(chr);

    if (g_queue_is_empty(&priv->fds)) {
        return -1;
    }
    return GPOINTER_TO_INT(g_queue_pop_head(&priv->fds));
}

/* ---- Queries ---------------------------------------------------------------
 */

const char *qio_chardev_get_id(QIOChardev *chr)
{
    return priv_of(chr)->id;
}

const char *qio_chardev_get_label(QIOChardev *chr)
{
    QIOChardevPrivate *priv = priv_of(chr);

    return priv->label ? priv->label : qio_chardev_get_backend_name(chr);
}

char *qio_chardev_get_filename(QIOChardev *chr)
{
    QIOChardevPrivate *priv = priv_of(chr);

    return g_strdup(priv->filename ? priv->filename
                                   : qio_chardev_get_backend_name(chr));
}

const char *qio_chardev_get_backend_name(QIOChardev *chr)
{
    return QIO_CHARDEV_GET_CLASS(chr)->backend_name;
}

GMainContext *qio_chardev_get_context(QIOChardev *chr)
{
    return priv_of(chr)->context;
}

bool qio_chardev_set_logfile(QIOChardev *chr, const char *path, bool append,
                             GError **errp)
{
    QIOChardevPrivate *priv = priv_of(chr);
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC);
    int fd = open(path, flags, 0666);

    if (fd < 0) {
        qio_error_setg_errno(errp, errno,
                             "Chardev '%s': cannot open logfile %s",
                             qio_chardev_get_label(chr), path);
        return false;
    }
    if (priv->logfd >= 0) {
        close(priv->logfd);
    }
    priv->logfd = fd;
    return true;
}

void qio_chardev_set_filename(QIOChardev *chr, const char *filename)
{
    QIOChardevPrivate *priv = priv_of(chr);

    g_free(priv->filename);
    priv->filename = g_strdup(filename);
}

/* ---- For backends ----------------------------------------------------------
 */

size_t qio_chardev_be_can_read(QIOChardev *chr)
{
    QIOChardevFrontend *fe = &priv_of(chr)->fe[0];

    if (priv_of(chr)->closed || !fe->handlers) {
        return 0;
    }
    return fe->handlers->can_read(fe->opaque);
}

void qio_chardev_be_read(QIOChardev *chr, const uint8_t *buf, size_t len)
{
    QIOChardevFrontend *fe = &priv_of(chr)->fe[0];

    if (len > 0 && fe->handlers && !priv_of(chr)->closed) {
        fe->handlers->read(fe->opaque, buf, len);
    }
}

void qio_chardev_be_event(QIOChardev *chr, QIOChardevEvent event)
{
    QIOChardevPrivate *priv = priv_of(chr);

    if (priv->closed) {
        /* Removed: its frontends are gone or going. */
        return;
    }
    if (event == QIO_CHARDEV_EVENT_OPENED) {
        if (priv->be_open) {
            return;
        }
        priv->be_open = true;
    } else if (event == QIO_CHARDEV_EVENT_CLOSED) {
        if (!priv->be_open) {
            return;
        }
        priv->be_open = false;
    }
    /* A handler may detach itself or others: look each slot up afresh. */
    g_object_ref(chr);
    for (unsigned i = 0; i < QIO_CHARDEV_MAX_FRONTENDS; i++) {
        QIOChardevFrontend *fe = &priv->fe[i];

        if (!fe->handlers) {
            continue;
        }
        if (fe->opened_idle) {
            /* Not told OPENED yet: tell it now, or never if closed. */
            cancel_opened(fe);
            if (event == QIO_CHARDEV_EVENT_CLOSED) {
                continue;
            }
            if (event != QIO_CHARDEV_EVENT_OPENED && fe->handlers->event) {
                fe->handlers->event(fe->opaque, QIO_CHARDEV_EVENT_OPENED);
                if (!fe->handlers) {
                    continue;
                }
            }
        }
        if (fe->handlers->event) {
            fe->handlers->event(fe->opaque, event);
        }
    }
    g_object_unref(chr);
}

void qio_chardev_be_writable(QIOChardev *chr)
{
    QIOChardevPrivate *priv = priv_of(chr);

    if (priv->closed) {
        return;
    }
    g_object_ref(chr);
    for (unsigned i = 0; i < QIO_CHARDEV_MAX_FRONTENDS; i++) {
        QIOChardevFrontend *fe = &priv->fe[i];

        if (fe->handlers && fe->handlers->writable) {
            fe->handlers->writable(fe->opaque);
        }
    }
    g_object_unref(chr);
}

void qio_chardev_be_set_fds(QIOChardev *chr, const int *fds, size_t nfds)
{
    QIOChardevPrivate *priv = priv_of(chr);

    close_fds(priv);
    for (size_t i = 0; i < nfds; i++) {
        if (i < QIO_CHARDEV_MAX_FDS && !priv->closed) {
            g_queue_push_tail(&priv->fds, GINT_TO_POINTER(fds[i]));
        } else {
            close(fds[i]);
        }
    }
}

bool qio_chardev_be_is_open(QIOChardev *chr)
{
    return priv_of(chr)->be_open;
}

const char *const *qio_chardev_backend_names(void)
{
    /* Keep in step with the backends chardev/ builds. */
    static const char *const names[] = {
        "file",    "mux",    "null",  "pipe", "pty",
        "ringbuf", "socket", "stdio", NULL,
    };

    return names;
}
