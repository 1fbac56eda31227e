/*
 * The Monitor base: bounded output to one peer, its descriptors, the
 * current monitor, and the binding to a character device.
 *
 * What is subtle: nothing here may block or grow without bound, because
 * one process serves several monitors from one main loop.  Output waits
 * in one buffer per monitor; while it holds more than MONITOR_OUTPUT_HIGH
 * bytes the chardev is told that the monitor takes no input (can_read 0),
 * so the backend stops reading the peer and the kernel's socket buffer
 * pushes back.  When the chardev takes the output and the buffer drains
 * below the mark, qio_chardev_accept_input() starts reading again.
 * Unsolicited output (events) cannot be held back that way, so past
 * MONITOR_OUTPUT_MAX it is dropped for that one peer.
 */
#include "monitor/monitor.h"

#include <errno.h>
#include <unistd.h>

#include "monitor/error.h"
#include "util/ratelimit.h"

typedef struct {
    GByteArray *out; /* bytes for the peer, from out_off on */
    size_t out_off;
    bool open;

    QIOChardev *chr;
    int chr_tag;
    bool flushing;
    bool input_stopped; /* the chardev was told 0 by can_read */
    bool draining;      /* in output_drained() */

    GQueue received; /* descriptors the peer passed, as GINT_TO_POINTER */
    GHashTable *fds; /* name -> descriptor + 1 (as pointer) */
    guint64 dropped; /* unsolicited messages dropped */
} MonitorPrivate;

G_DEFINE_ABSTRACT_TYPE_WITH_PRIVATE(Monitor, monitor, G_TYPE_OBJECT)

static __thread Monitor *cur_monitor;
static QUtilRateLimit drop_rl;

static void close_received(MonitorPrivate *priv)
{
    while (!g_queue_is_empty(&priv->received)) {
        close(GPOINTER_TO_INT(g_queue_pop_head(&priv->received)));
    }
}

static void fd_value_close(gpointer value)
{
    close(GPOINTER_TO_INT(value) - 1);
}

static void monitor_init(Monitor *mon)
{
    MonitorPrivate *priv = monitor_get_instance_private(mon);

    priv->out = g_byte_array_new();
    priv->chr_tag = -1;
    g_queue_init(&priv->received);
    priv->fds =
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, fd_value_close);
}

static void monitor_dispose(GObject *obj)
{
    monitor_detach_chardev(MONITOR_BASE(obj));
    G_OBJECT_CLASS(monitor_parent_class)->dispose(obj);
}

static void monitor_finalize(GObject *obj)
{
    Monitor *mon = MONITOR_BASE(obj);
    MonitorPrivate *priv = monitor_get_instance_private(mon);

    if (cur_monitor == mon) {
        cur_monitor = NULL;
    }
    g_byte_array_unref(priv->out);
    close_received(priv);
    g_hash_table_unref(priv->fds);
    G_OBJECT_CLASS(monitor_parent_class)->finalize(obj);
}

static void monitor_class_init(MonitorClass *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);

    oc->dispose = monitor_dispose;
    oc->finalize = monitor_finalize;
    qutil_ratelimit_init(&drop_rl, 3, 60 * 1000);
}

/* ---- Output --------------------------------------------------------------
 */

size_t monitor_output_pending(Monitor *mon)
{
    MonitorPrivate *priv = monitor_get_instance_private(mon);

    return priv->out->len - priv->out_off;
}

const uint8_t *monitor_output_peek(Monitor *mon, size_t *len)
{
    MonitorPrivate *priv = monitor_get_instance_private(mon);

    *len = priv->out->len - priv->out_off;
    return priv->out->data + priv->out_off;
}

static void output_clear(MonitorPrivate *priv)
{
    g_byte_array_set_size(priv->out, 0);
    priv->out_off = 0;
}

/*
 * Output went down: let the subclass handle the input it holds, then let
 * the chardev read again if it was told to stop.
 */
static void output_went_down(Monitor *mon)
{
    MonitorPrivate *priv = monitor_get_instance_private(mon);
    MonitorClass *klass = MONITOR_BASE_GET_CLASS(mon);

    if (monitor_output_pending(mon) >= MONITOR_OUTPUT_HIGH) {
        return;
    }
    if (klass->output_drained && !priv->draining) {
        Monitor *prev = monitor_set_cur(mon);

        priv->draining = true;
        klass->output_drained(mon);
        priv->draining = false;
        monitor_set_cur(prev);
    }
    if (priv->chr && priv->input_stopped && monitor_can_input(mon) > 0) {
        priv->input_stopped = false;
        qio_chardev_accept_input(priv->chr);
    }
}

void monitor_output_consume(Monitor *mon, size_t len)
{
    MonitorPrivate *priv = monitor_get_instance_private(mon);

    g_return_if_fail(len <= monitor_output_pending(mon));
    priv->out_off += len;
    if (priv->out_off == priv->out->len) {
        output_clear(priv);
    } else if (priv->out_off >= MONITOR_OUTPUT_HIGH) {
        g_byte_array_remove_range(priv->out, 0, priv->out_off);
        priv->out_off = 0;
    }
    if (!priv->flushing) {
        output_went_down(mon);
    }
}

/* Hand what waits to the chardev, as much as it takes now. */
static void flush(Monitor *mon)
{
    MonitorPrivate *priv = monitor_get_instance_private(mon);

    if (!priv->chr || priv->flushing) {
        return;
    }
    priv->flushing = true;
    while (monitor_output_pending(mon) > 0) {
        g_autoptr(GError) err = NULL;
        size_t len;
        const uint8_t *data = monitor_output_peek(mon, &len);
        gssize n = qio_chardev_write(priv->chr, data, len, &err);

        if (n < 0) {
            /* The peer is gone; CLOSED follows.  Nothing to keep. */
            g_debug("monitor on chardev '%s': %s",
                    qio_chardev_get_id(priv->chr), err->message);
            monitor_output_consume(mon, len);
            break;
        }
        if (n == 0) {
            break; /* writable() calls again */
        }
        monitor_output_consume(mon, n);
    }
    priv->flushing = false;
    output_went_down(mon);
}

void monitor_write(Monitor *mon, const void *buf, size_t len)
{
    MonitorPrivate *priv = monitor_get_instance_private(mon);

    g_byte_array_append(priv->out, buf, len);
    flush(mon);
}

bool monitor_write_unsolicited(Monitor *mon, const void *buf, size_t len)
{
    MonitorPrivate *priv = monitor_get_instance_private(mon);

    if (monitor_output_pending(mon) + len > MONITOR_OUTPUT_MAX) {
        priv->dropped++;
        qutil_ratelimit_log(
            &drop_rl, G_LOG_LEVEL_WARNING,
            "monitor%s%s: the client does not read its "
            "output; %" G_GUINT64_FORMAT " event(s) dropped for it",
            priv->chr ? " on chardev " : "",
            priv->chr ? qio_chardev_get_id(priv->chr) : "", priv->dropped);
        return false;
    }
    monitor_write(mon, buf, len);
    return true;
}

/* ---- Input ---------------------------------------------------------------
 */

size_t monitor_can_input(Monitor *mon)
{
    MonitorClass *klass = MONITOR_BASE_GET_CLASS(mon);

    if (monitor_output_pending(mon) >= MONITOR_OUTPUT_HIGH ||
        (klass->input_backlog && klass->input_backlog(mon) > 0)) {
        return 0;
    }
    return MONITOR_INPUT_CHUNK;
}

void monitor_input(Monitor *mon, const void *buf, size_t len)
{
    Monitor *prev = monitor_set_cur(mon);

    g_object_ref(mon);
    MONITOR_BASE_GET_CLASS(mon)->input(mon, buf, len);
    monitor_set_cur(prev);
    g_object_unref(mon);
}

bool monitor_is_open(Monitor *mon)
{
    MonitorPrivate *priv = monitor_get_instance_private(mon);

    return priv->open;
}

void monitor_peer_opened(Monitor *mon)
{
    MonitorPrivate *priv = monitor_get_instance_private(mon);
    MonitorClass *klass = MONITOR_BASE_GET_CLASS(mon);

    output_clear(priv);
    priv->open = true;
    if (klass->opened) {
        klass->opened(mon);
    }
}

void monitor_peer_closed(Monitor *mon)
{
    MonitorPrivate *priv = monitor_get_instance_private(mon);
    MonitorClass *klass = MONITOR_BASE_GET_CLASS(mon);

    priv->open = false;
    output_clear(priv);
    close_received(priv);
    if (klass->closed) {
        klass->closed(mon);
    }
}

/* ---- Chardev binding -----------------------------------------------------
 */

static size_t chr_can_read(gpointer opaque)
{
    Monitor *mon = opaque;
    MonitorPrivate *priv = monitor_get_instance_private(mon);
    size_t n = monitor_can_input(mon);

    if (n == 0) {
        priv->input_stopped = true;
    }
    return n;
}

static void chr_read(gpointer opaque, const uint8_t *buf, size_t len)
{
    monitor_input(opaque, buf, len);
}

static void chr_event(gpointer opaque, QIOChardevEvent event)
{
    Monitor *mon = opaque;

    switch (event) {
    case QIO_CHARDEV_EVENT_OPENED:
        monitor_peer_opened(mon);
        break;
    case QIO_CHARDEV_EVENT_CLOSED:
        monitor_peer_closed(mon);
        break;
    default:
        break;
    }
}

static void chr_writable(gpointer opaque)
{
    flush(opaque);
}

static const QIOChardevHandlers monitor_chr_handlers = {
    .can_read = chr_can_read,
    .read = chr_read,
    .event = chr_event,
    .writable = chr_writable,
};

bool monitor_attach_chardev(Monitor *mon, QIOChardev *chr, GError **errp)
{
    MonitorPrivate *priv = monitor_get_instance_private(mon);
    int tag;

    if (priv->chr) {
        g_set_error(errp, MONITOR_ERROR, MONITOR_ERROR_FAILED,
                    "monitor already uses chardev '%s'",
                    qio_chardev_get_id(priv->chr));
        return false;
    }
    tag = qio_chardev_attach(chr, &monitor_chr_handlers, mon, errp);
    if (tag < 0) {
        return false;
    }
    priv->chr = g_object_ref(chr);
    priv->chr_tag = tag;
    return true;
}

void monitor_detach_chardev(Monitor *mon)
{
    MonitorPrivate *priv = monitor_get_instance_private(mon);

    if (!priv->chr) {
        return;
    }
    qio_chardev_detach(priv->chr, priv->chr_tag);
    g_clear_object(&priv->chr);
    priv->chr_tag = -1;
}

QIOChardev *monitor_get_chardev(Monitor *mon)
{
    MonitorPrivate *priv = monitor_get_instance_private(mon);

    return priv->chr;
}

/* ---- Current monitor -----------------------------------------------------
 */

Monitor *monitor_cur(void)
{
    return cur_monitor;
}

Monitor *monitor_set_cur(Monitor *mon)
{
    Monitor *prev = cur_monitor;

    cur_monitor = mon;
    return prev;
}

/* ---- Descriptors ---------------------------------------------------------
 */

int monitor_take_received_fd(Monitor *mon)
{
    MonitorPrivate *priv = monitor_get_instance_private(mon);

    if (!g_queue_is_empty(&priv->received)) {
        return GPOINTER_TO_INT(g_queue_pop_head(&priv->received));
    }
    if (priv->chr) {
        return qio_chardev_take_fd(priv->chr);
    }
    return -1;
}

void monitor_push_received_fd(Monitor *mon, int fd)
{
    MonitorPrivate *priv = monitor_get_instance_private(mon);

    if (fd < 0) {
        return;
    }
    if (g_queue_get_length(&priv->received) >= MONITOR_MAX_FDS) {
        close(fd);
        return;
    }
    g_queue_push_tail(&priv->received, GINT_TO_POINTER(fd));
}

bool monitor_fd_add(Monitor *mon, const char *name, int fd, GError **errp)
{
    MonitorPrivate *priv = monitor_get_instance_private(mon);

    if (g_ascii_isdigit(name[0])) {
        g_set_error(errp, MONITOR_ERROR, MONITOR_ERROR_FAILED,
                    "Parameter 'fdname' expects a name not starting with a "
                    "digit");
        close(fd);
        return false;
    }
    if (!g_hash_table_contains(priv->fds, name) &&
        g_hash_table_size(priv->fds) >= MONITOR_MAX_FDS) {
        g_set_error(errp, MONITOR_ERROR, MONITOR_ERROR_FAILED,
                    "this monitor keeps %d descriptors already; close some "
                    "with closefd first",
                    MONITOR_MAX_FDS);
        close(fd);
        return false;
    }
    g_hash_table_replace(priv->fds, g_strdup(name), GINT_TO_POINTER(fd + 1));
    return true;
}

bool monitor_fd_remove(Monitor *mon, const char *name, GError **errp)
{
    MonitorPrivate *priv = monitor_get_instance_private(mon);

    if (!g_hash_table_remove(priv->fds, name)) {
        g_set_error(errp, MONITOR_ERROR, MONITOR_ERROR_NOT_FOUND,
                    "File descriptor named '%s' not found", name);
        return false;
    }
    return true;
}

int monitor_fd_get(Monitor *mon, const char *name, GError **errp)
{
    MonitorPrivate *priv = monitor_get_instance_private(mon);
    gpointer key;
    gpointer value;

    if (!g_hash_table_steal_extended(priv->fds, name, &key, &value)) {
        g_set_error(errp, MONITOR_ERROR, MONITOR_ERROR_NOT_FOUND,
                    "File descriptor named '%s' has not been found", name);
        return -1;
    }
    g_free(key);
    return GPOINTER_TO_INT(value) - 1;
}
