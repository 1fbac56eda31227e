/*
 * QIONetListener: a set of listening sockets, the watches that accept on
 * them, and the client limit.  Servers in qio (NBD, chardev, monitor,
 * console proxy) get dual-stack binding, port 0 handling and back-pressure
 * against connection floods from here instead of each doing its own.
 */
#include "io/net-listener.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "io/dns-resolver.h"
#include "util/ratelimit.h"

/*
 * How long to stop accepting after accept() fails (EMFILE and the like):
 * the pause doubles with each failure in a row, up to the maximum, and
 * starts again from the minimum after an accept that works.
 */
#define ACCEPT_ERROR_PAUSE_MS     100
#define ACCEPT_ERROR_PAUSE_MAX_MS 2000
/* The accept failure warning: this many lines per window at most. */
#define ACCEPT_WARN_BURST     3
#define ACCEPT_WARN_WINDOW_MS (60 * 1000)
/* Attempts to find a port free on every address when asked for port 0. */
#define PORT_ZERO_ATTEMPTS 8

struct _QIONetListener {
    GObject parent;

    char *name;
    GPtrArray *sioc;    /* QIOChannelSocket *, referenced */
    GPtrArray *sources; /* GSource * per sioc while armed, else empty */

    QIONetListenerClientFunc func;
    gpointer opaque;
    GDestroyNotify notify;
    GMainContext *context;

    guint max_clients;
    guint num_clients; /* atomic: client_closed() may run on any thread */
    GMutex slot_lock;  /* with slot_cond: wait_client() waiting for room */
    GCond slot_cond;
    GSource *pause; /* set while accepting is suspended after an error */
    guint pause_ms; /* the next pause; grows while accept keeps failing */
    QUtilRateLimit accept_warn;
};

G_DEFINE_TYPE(QIONetListener, qio_net_listener, G_TYPE_OBJECT)

QIONetListener *qio_net_listener_new(void)
{
    return g_object_new(QIO_TYPE_NET_LISTENER, NULL);
}

void qio_net_listener_set_name(QIONetListener *listener, const char *name)
{
    g_free(listener->name);
    listener->name = g_strdup(name);
}

static const char *listener_name(QIONetListener *listener)
{
    return listener->name ? listener->name : "listener";
}

static void disarm(QIONetListener *listener)
{
    for (guint i = 0; i < listener->sources->len; i++) {
        GSource *source = listener->sources->pdata[i];

        g_source_destroy(source);
        g_source_unref(source);
    }
    g_ptr_array_set_size(listener->sources, 0);
}

static gboolean accept_ready(QIOChannel *ioc, GIOCondition cond,
                             gpointer opaque);

static void arm(QIONetListener *listener)
{
    for (guint i = listener->sources->len; i < listener->sioc->len; i++) {
        QIOChannel *ioc = QIO_CHANNEL(listener->sioc->pdata[i]);
        GSource *source = qio_channel_create_watch(ioc, G_IO_IN);

        g_source_set_name(source, "qio-net-listener");
        g_source_set_callback(source, (GSourceFunc)(void (*)(void))accept_ready,
                              listener, NULL);
        g_source_attach(source, listener->context);
        g_ptr_array_add(listener->sources, source);
    }
}

/* Watches on exactly when a client may be accepted now. */
static void update_watches(QIONetListener *listener)
{
    guint num = g_atomic_int_get(&listener->num_clients);
    bool want = listener->func && listener->sioc->len > 0 && !listener->pause &&
                (listener->max_clients == 0 || num < listener->max_clients);

    if (want) {
        arm(listener);
    } else {
        disarm(listener);
    }
}

static gboolean update_watches_idle(gpointer opaque)
{
    g_autoptr(QIONetListener) listener = g_weak_ref_get(opaque);

    if (listener) {
        update_watches(listener);
    }
    return G_SOURCE_REMOVE;
}

static void weak_ref_free(gpointer opaque)
{
    g_weak_ref_clear(opaque);
    g_free(opaque);
}

/*
 * Re-evaluate the watches on the listener's own context.  Always through
 * an idle source, never directly, so that a worker thread never touches
 * the watch list while the owning thread does.  The idle holds only a
 * weak reference: the listener holds the context, and a strong reference
 * from a source that never runs would keep both alive for ever.
 */
static void schedule_update(QIONetListener *listener)
{
    GWeakRef *ref;
    GSource *idle;

    if (!listener->context) {
        return;
    }
    ref = g_new0(GWeakRef, 1);
    g_weak_ref_init(ref, listener);
    idle = g_idle_source_new();
    g_source_set_name(idle, "qio-net-listener-update");
    g_source_set_callback(idle, update_watches_idle, ref, weak_ref_free);
    g_source_attach(idle, listener->context);
    g_source_unref(idle);
}

static gboolean pause_done(gpointer opaque)
{
    QIONetListener *listener = opaque;

    g_source_unref(listener->pause);
    listener->pause = NULL;
    update_watches(listener);
    return G_SOURCE_REMOVE;
}

/*
 * accept() failing while the socket stays readable (out of descriptors)
 * would otherwise spin the main loop; back off briefly instead.
 */
static void pause_accepting(QIONetListener *listener)
{
    if (listener->pause) {
        return;
    }
    if (listener->pause_ms < ACCEPT_ERROR_PAUSE_MS) {
        listener->pause_ms = ACCEPT_ERROR_PAUSE_MS;
    }
    listener->pause = g_timeout_source_new(listener->pause_ms);
    listener->pause_ms = MIN(listener->pause_ms * 2, ACCEPT_ERROR_PAUSE_MAX_MS);
    g_source_set_callback(listener->pause, pause_done, listener, NULL);
    g_source_attach(listener->pause, listener->context);
    update_watches(listener);
}

static void name_client(QIONetListener *listener, QIOChannelSocket *client)
{
    g_autoptr(QIOSocketAddress) peer = NULL;
    g_autofree char *peerstr = NULL;
    g_autofree char *name = NULL;

    if (!listener->name) {
        return;
    }
    peer = qio_channel_socket_get_remote_address(client, NULL);
    if (peer && !(peer->type == QIO_SOCKET_ADDRESS_TYPE_UNIX &&
                  !*peer->u.q_unix.path)) {
        peerstr = qio_socket_address_to_string(peer);
    }
    name = peerstr ? g_strdup_printf("%s client %s", listener->name, peerstr)
                   : g_strdup_printf("%s client", listener->name);
    qio_channel_set_name(QIO_CHANNEL(client), name);
}

static gboolean accept_ready(QIOChannel *ioc, GIOCondition cond,
                             gpointer opaque)
{
    g_autoptr(QIONetListener) listener = g_object_ref(opaque);
    g_autoptr(QIOChannelSocket) client = NULL;
    g_autoptr(GError) err = NULL;
    int ret;

    ret = qio_channel_socket_try_accept(QIO_CHANNEL_SOCKET(ioc), &client, &err);
    if (ret == QIO_CHANNEL_ERR_BLOCK) {
        return G_SOURCE_CONTINUE;
    }
    if (ret < 0) {
        /* A peer holding descriptors can make this fail for hours. */
        qutil_ratelimit_log(&listener->accept_warn, G_LOG_LEVEL_WARNING,
                            "%s: %s", listener_name(listener), err->message);
        pause_accepting(listener);
        return G_SOURCE_CONTINUE;
    }

    listener->pause_ms = 0;
    name_client(listener, client);
    /* Count and apply the limit before the callback sees the client. */
    g_atomic_int_inc(&listener->num_clients);
    update_watches(listener);
    if (listener->func) {
        listener->func(listener, client, listener->opaque);
    }
    return G_SOURCE_CONTINUE;
}

/*
 * Non-blocking, so that a connection another process sharing the socket
 * accepted first costs a spurious wake-up, not a stalled main loop.
 */
static void listener_take(QIONetListener *listener, QIOChannelSocket *sioc)
{
    g_autoptr(GError) err = NULL;

    if (qio_channel_set_blocking(QIO_CHANNEL(sioc), false, &err) < 0) {
        g_warning("%s: %s", listener_name(listener), err->message);
    }
    g_ptr_array_add(listener->sioc, g_object_ref(sioc));
}

void qio_net_listener_add(QIONetListener *listener, QIOChannelSocket *sioc)
{
    listener_take(listener, sioc);
    update_watches(listener);
}

static bool is_port_zero(const QIOSocketAddress *addr)
{
    guint64 port;

    return addr->type == QIO_SOCKET_ADDRESS_TYPE_INET &&
           g_ascii_string_to_unsigned(addr->u.inet.port, 10, 0, 65535, &port,
                                      NULL) &&
           port == 0;
}

/*
 * Can this host use @addr's address at all?  Binding it with port 0 on a
 * scratch socket tells "IPv6 is disabled" (EAFNOSUPPORT, EADDRNOTAVAIL)
 * apart from real failures such as a port in use.
 */
static bool address_usable(const QIOSocketAddress *addr)
{
    struct sockaddr_storage ss;
    socklen_t sslen;
    int fd;
    int ret;

    if (addr->type != QIO_SOCKET_ADDRESS_TYPE_INET ||
        !qio_socket_address_to_sockaddr(addr, &ss, &sslen, NULL)) {
        return true;
    }
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return errno != EAFNOSUPPORT;
    }
    if (ss.ss_family == AF_INET6) {
        ((struct sockaddr_in6 *)&ss)->sin6_port = 0;
    } else {
        ((struct sockaddr_in *)&ss)->sin_port = 0;
    }
    ret = bind(fd, (struct sockaddr *)&ss, sslen);
    if (ret < 0 && errno == EADDRNOTAVAIL) {
        close(fd);
        return false;
    }
    close(fd);
    return true;
}

/*
 * One attempt at binding all of @addrs.  Returns the channels, or NULL
 * with @errp set; *@retry says the failure was the port picked for port 0
 * being taken on a later address, worth another attempt.
 */
static GPtrArray *bind_all(QIONetListener *listener, GPtrArray *addrs,
                           int backlog, bool *retry, GError **errp)
{
    g_autoptr(GPtrArray) socks = g_ptr_array_new_with_free_func(g_object_unref);
    g_autoptr(GError) skipped = NULL;
    g_autofree char *chosen_port = NULL;

    *retry = false;
    for (guint i = 0; i < addrs->len; i++) {
        g_autoptr(QIOSocketAddress) addr =
            qio_socket_address_copy(addrs->pdata[i]);
        g_autoptr(QIOChannelSocket) sioc = NULL;
        GError *err = NULL;

        if (!address_usable(addr)) {
            if (!skipped) {
                g_autofree char *desc = qio_socket_address_to_string(addr);

                skipped = g_error_new(QIO_ERROR, QIO_ERROR_NOT_SUPPORTED,
                                      "%s: cannot listen on %s: address "
                                      "family not available on this host",
                                      listener_name(listener), desc);
            }
            continue;
        }
        if (chosen_port && is_port_zero(addr)) {
            g_free(addr->u.inet.port);
            addr->u.inet.port = g_strdup(chosen_port);
        }
        sioc = qio_channel_socket_new();
        if (qio_channel_socket_listen_sync(sioc, addr, backlog, &err) < 0) {
            *retry = chosen_port &&
                     g_error_matches(err, QIO_ERROR, QIO_ERROR_EXISTS);
            qutil_error_prepend(&err, "%s", listener_name(listener));
            g_propagate_error(errp, err);
            return NULL;
        }
        if (!chosen_port && is_port_zero(addr)) {
            g_autoptr(QIOSocketAddress) local =
                qio_channel_socket_get_local_address(sioc, errp);

            if (!local) {
                return NULL;
            }
            chosen_port = g_strdup(local->u.inet.port);
        }
        g_ptr_array_add(socks, g_steal_pointer(&sioc));
    }
    if (socks->len == 0) {
        g_propagate_error(errp, g_steal_pointer(&skipped));
        return NULL;
    }
    return g_steal_pointer(&socks);
}

int qio_net_listener_open_sync_list(QIONetListener *listener,
                                    QIOSocketAddress *const *addrs,
                                    size_t naddrs, int backlog, GError **errp)
{
    g_autoptr(GPtrArray) all =
        g_ptr_array_new_with_free_func((GDestroyNotify)qio_socket_address_free);
    g_autoptr(GPtrArray) socks = NULL;

    for (size_t i = 0; i < naddrs; i++) {
        g_autoptr(GPtrArray) res = qio_dns_resolver_lookup_sync(
            qio_dns_resolver_get_instance(), addrs[i],
            QIO_DNS_RESOLVER_FLAG_PASSIVE, errp);

        if (!res) {
            qutil_error_prepend(errp, "%s", listener_name(listener));
            return -1;
        }
        for (guint j = 0; j < res->len; j++) {
            g_ptr_array_add(all, g_steal_pointer(&res->pdata[j]));
        }
    }
    if (all->len == 0) {
        qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                       "%s: no address to listen on", listener_name(listener));
        return -1;
    }
    for (int attempt = 0; attempt < PORT_ZERO_ATTEMPTS; attempt++) {
        g_autoptr(GError) err = NULL;
        bool retry;

        socks = bind_all(listener, all, backlog, &retry, &err);
        if (socks) {
            break;
        }
        if (!retry || attempt == PORT_ZERO_ATTEMPTS - 1) {
            g_propagate_error(errp, g_steal_pointer(&err));
            return -1;
        }
    }
    for (guint i = 0; i < socks->len; i++) {
        listener_take(listener, socks->pdata[i]);
    }
    update_watches(listener);
    return 0;
}

int qio_net_listener_open_sync(QIONetListener *listener,
                               const QIOSocketAddress *addr, int backlog,
                               GError **errp)
{
    QIOSocketAddress *one = (QIOSocketAddress *)addr;

    return qio_net_listener_open_sync_list(listener, &one, 1, backlog, errp);
}

void qio_net_listener_set_client_func_full(QIONetListener *listener,
                                           QIONetListenerClientFunc func,
                                           gpointer opaque,
                                           GDestroyNotify notify,
                                           GMainContext *context)
{
    GDestroyNotify old_notify = listener->notify;
    gpointer old_opaque = listener->opaque;

    disarm(listener);
    if (listener->pause) {
        g_source_destroy(listener->pause);
        g_clear_pointer(&listener->pause, g_source_unref);
    }
    listener->func = func;
    listener->opaque = opaque;
    listener->notify = notify;
    if (listener->context) {
        g_main_context_unref(listener->context);
    }
    listener->context = context ? g_main_context_ref(context)
                                : g_main_context_ref_thread_default();
    update_watches(listener);
    /* Last, in case freeing the old data drops a reference on us. */
    if (old_notify) {
        old_notify(old_opaque);
    }
}

void qio_net_listener_set_client_func(QIONetListener *listener,
                                      QIONetListenerClientFunc func,
                                      gpointer opaque, GDestroyNotify notify)
{
    qio_net_listener_set_client_func_full(listener, func, opaque, notify, NULL);
}

void qio_net_listener_set_max_clients(QIONetListener *listener,
                                      guint max_clients)
{
    listener->max_clients = max_clients;
    update_watches(listener);
}

void qio_net_listener_client_closed(QIONetListener *listener)
{
    guint num;

    do {
        num = g_atomic_int_get(&listener->num_clients);
        if (num == 0) {
            g_warning("%s: more clients reported closed than accepted",
                      listener_name(listener));
            return;
        }
    } while (!g_atomic_int_compare_and_exchange(&listener->num_clients, num,
                                                num - 1));
    g_mutex_lock(&listener->slot_lock);
    g_cond_broadcast(&listener->slot_cond);
    g_mutex_unlock(&listener->slot_lock);
    schedule_update(listener);
}

guint qio_net_listener_get_num_clients(QIONetListener *listener)
{
    return g_atomic_int_get(&listener->num_clients);
}

typedef struct {
    QIOChannelSocket *ready;
} WaitData;

static gboolean wait_ready(QIOChannel *ioc, GIOCondition cond, gpointer opaque)
{
    WaitData *data = opaque;

    data->ready = QIO_CHANNEL_SOCKET(ioc);
    return G_SOURCE_CONTINUE;
}

QIOChannelSocket *qio_net_listener_wait_client(QIONetListener *listener,
                                               GError **errp)
{
    g_autoptr(GMainContext) ctx = NULL;
    g_autoptr(GPtrArray) sources = NULL;
    QIOChannelSocket *client = NULL;
    WaitData data = { NULL };

    if (listener->sioc->len == 0) {
        qio_error_setg(errp, QIO_ERROR_CLOSED, "%s: no listening sockets",
                       listener_name(listener));
        return NULL;
    }
    /* At the limit, the next client waits in the backlog for a slot. */
    g_mutex_lock(&listener->slot_lock);
    while (listener->max_clients &&
           (guint)g_atomic_int_get(&listener->num_clients) >=
               listener->max_clients) {
        g_cond_wait(&listener->slot_cond, &listener->slot_lock);
    }
    g_mutex_unlock(&listener->slot_lock);
    ctx = g_main_context_new();
    sources = g_ptr_array_new();
    for (guint i = 0; i < listener->sioc->len; i++) {
        GSource *source =
            qio_channel_create_watch(listener->sioc->pdata[i], G_IO_IN);

        g_source_set_callback(source, (GSourceFunc)(void (*)(void))wait_ready,
                              &data, NULL);
        g_source_attach(source, ctx);
        g_ptr_array_add(sources, source);
    }
    while (!client) {
        int ret;

        data.ready = NULL;
        g_main_context_iteration(ctx, TRUE);
        if (!data.ready) {
            continue;
        }
        ret = qio_channel_socket_try_accept(data.ready, &client, errp);
        if (ret == QIO_CHANNEL_ERR_BLOCK) {
            continue;
        }
        if (ret < 0) {
            break;
        }
    }
    for (guint i = 0; i < sources->len; i++) {
        g_source_destroy(sources->pdata[i]);
        g_source_unref(sources->pdata[i]);
    }
    if (client) {
        name_client(listener, client);
        g_atomic_int_inc(&listener->num_clients);
        schedule_update(listener);
    }
    return client;
}

void qio_net_listener_disconnect(QIONetListener *listener)
{
    disarm(listener);
    if (listener->pause) {
        g_source_destroy(listener->pause);
        g_clear_pointer(&listener->pause, g_source_unref);
    }
    for (guint i = 0; i < listener->sioc->len; i++) {
        qio_channel_close(QIO_CHANNEL(listener->sioc->pdata[i]), NULL);
    }
    g_ptr_array_set_size(listener->sioc, 0);
}

bool qio_net_listener_is_connected(QIONetListener *listener)
{
    return listener->sioc->len > 0;
}

guint qio_net_listener_get_n_channels(QIONetListener *listener)
{
    return listener->sioc->len;
}

QIOChannelSocket *qio_net_listener_get_channel(QIONetListener *listener,
                                               guint index)
{
    if (index >= listener->sioc->len) {
        return NULL;
    }
    return listener->sioc->pdata[index];
}

GPtrArray *qio_net_listener_get_local_addresses(QIONetListener *listener,
                                                GError **errp)
{
    g_autoptr(GPtrArray) out =
        g_ptr_array_new_with_free_func((GDestroyNotify)qio_socket_address_free);

    for (guint i = 0; i < listener->sioc->len; i++) {
        QIOSocketAddress *addr = qio_channel_socket_get_local_address(
            listener->sioc->pdata[i], errp);

        if (!addr) {
            return NULL;
        }
        g_ptr_array_add(out, addr);
    }
    return g_steal_pointer(&out);
}

static void qio_net_listener_finalize(GObject *obj)
{
    QIONetListener *listener = QIO_NET_LISTENER(obj);

    qio_net_listener_disconnect(listener);
    if (listener->notify) {
        listener->notify(listener->opaque);
    }
    if (listener->context) {
        g_main_context_unref(listener->context);
    }
    g_ptr_array_unref(listener->sioc);
    g_ptr_array_unref(listener->sources);
    g_free(listener->name);
    g_mutex_clear(&listener->slot_lock);
    g_cond_clear(&listener->slot_cond);
    qutil_ratelimit_destroy(&listener->accept_warn);
    G_OBJECT_CLASS(qio_net_listener_parent_class)->finalize(obj);
}

static void qio_net_listener_class_init(QIONetListenerClass *klass)
{
    G_OBJECT_CLASS(klass)->finalize = qio_net_listener_finalize;
}

static void qio_net_listener_init(QIONetListener *listener)
{
    listener->sioc = g_ptr_array_new_with_free_func(g_object_unref);
    listener->sources = g_ptr_array_new();
    g_mutex_init(&listener->slot_lock);
    g_cond_init(&listener->slot_cond);
    qutil_ratelimit_init(&listener->accept_warn, ACCEPT_WARN_BURST,
                         ACCEPT_WARN_WINDOW_MS);
}
