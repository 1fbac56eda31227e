/*
 * QIOConnService: listeners, client limit, one handler per connection on
 * a thread or on a main context, handshake and idle limits from a single
 * timer, the registry of live connections, refusal logging and draining.
 *
 * Every connection is in service->conns from accept until it is reaped
 * on the context; a finished one (handler returned, or qio_conn_finish())
 * moves to service->done and wakes the reap source, which may be made
 * ready from any thread (g_source_set_ready_time() is thread-safe).
 */
#define G_LOG_DOMAIN "qio-conn"

#include "io/conn-service.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "io/conn-service-internal.h"
#include "io/net-listener.h"
#include "util/error.h"
#include "util/ratelimit.h"

/* Lines per minute for each kind of repeated message. */
#define LOG_BURST     10
#define LOG_WINDOW_MS (60 * 1000)
/* The expiry timer ticks at a tenth of the shortest limit, within these. */
#define TICK_MIN_MS 20
#define TICK_MAX_MS 1000

struct QIOConn {
    gint ref;
    QIOConnService *service; /* strong: the service outlives its conns */
    QIOChannel *ioc;
    char *peer;
    bool from_listener; /* counts against the listener's client limit */
    GThread *thread;    /* THREAD mode, joined when reaped */
    gint64 start_us;
    atomic_int negotiated;
    atomic_uint activity; /* bumped by qio_conn_touch() */
    atomic_int expired;
    atomic_int finished;
    atomic_int refusal_logged;
    /* Used by the timer on the context only. */
    guint seen_activity;
    gint64 idle_since;
};

struct _QIOConnService {
    GObject parent;

    char *name;
    QIOConnServiceMode mode;
    QIOConnHandler handler;
    gpointer opaque;
    GMainContext *context;
    QIONetListener *listener;
    guint max_clients;
    atomic_uint handshake_ms;
    atomic_uint idle_ms;
    QIOConnGoneFunc gone;
    gpointer gone_opaque;
    QIOConnThreadNewFunc thread_new;

    GMutex lock;   /* conns, done, timer, shut_down */
    GList *conns;  /* QIOConn *, one reference each */
    GQueue done;   /* QIOConn * finished, still in conns */
    GSource *reap; /* ready when done is not empty */
    GSource *timer;
    guint n_conns;
    guint64 served;
    bool shut_down;

    QUtilRateLimit refusal_rl;
    QUtilRateLimit resource_rl;
    QUtilRateLimit expiry_rl;
};

G_DEFINE_TYPE(QIOConnService, qio_conn_service, G_TYPE_OBJECT)

/* ---- Connections -------------------------------------------------------- */

QIOConn *qio_conn_ref(QIOConn *conn)
{
    g_atomic_int_inc(&conn->ref);
    return conn;
}

void qio_conn_unref(QIOConn *conn)
{
    if (!conn || !g_atomic_int_dec_and_test(&conn->ref)) {
        return;
    }
    if (conn->thread) {
        g_thread_unref(conn->thread);
    }
    g_object_unref(conn->ioc);
    g_object_unref(conn->service);
    g_free(conn->peer);
    g_free(conn);
}

QIOChannel *qio_conn_get_channel(QIOConn *conn)
{
    return conn->ioc;
}

const char *qio_conn_get_peer(QIOConn *conn)
{
    return conn->peer;
}

QIOConnService *qio_conn_get_service(QIOConn *conn)
{
    return conn->service;
}

void qio_conn_set_negotiated(QIOConn *conn)
{
    atomic_fetch_add_explicit(&conn->activity, 1, memory_order_relaxed);
    atomic_store(&conn->negotiated, 1);
}

void qio_conn_touch(QIOConn *conn)
{
    atomic_fetch_add_explicit(&conn->activity, 1, memory_order_relaxed);
}

bool qio_conn_is_expired(QIOConn *conn)
{
    return atomic_load(&conn->expired);
}

void qio_conn_report_refusal(QIOConn *conn, const char *fmt, ...)
{
    g_autofree char *reason = NULL;
    va_list ap;

    if (atomic_exchange(&conn->refusal_logged, 1)) {
        return;
    }
    va_start(ap, fmt);
    reason = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    qutil_ratelimit_log(&conn->service->refusal_rl, G_LOG_LEVEL_WARNING,
                        "%s: client %s refused: %s", conn->service->name,
                        conn->peer, reason);
}

/*
 * "127.0.0.1:40512"; a UNIX peer has no address worth printing, but
 * SO_PEERCRED tells which process it is.
 */
static char *describe_peer(QIOChannel *ioc)
{
    g_autoptr(QIOSocketAddress) addr = NULL;
    QIOChannelSocket *sioc;

    if (!QIO_IS_CHANNEL_SOCKET(ioc)) {
        return g_strdup(qio_channel_get_name(ioc));
    }
    sioc = QIO_CHANNEL_SOCKET(ioc);
    addr = qio_channel_socket_get_remote_address(sioc, NULL);
    if (addr && addr->type == QIO_SOCKET_ADDRESS_TYPE_UNIX) {
        struct ucred cred;
        socklen_t len = sizeof(cred);
        int fd = qio_channel_socket_get_fd(sioc);

        if (*addr->u.q_unix.path) {
            return qio_socket_address_to_string(addr);
        }
        if (fd >= 0 &&
            getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
            return g_strdup_printf("unix peer pid %d", (int)cred.pid);
        }
        return g_strdup("unix peer");
    }
    if (addr) {
        return qio_socket_address_to_string(addr);
    }
    return g_strdup("unknown peer");
}

/* Handler done: into the done queue, for the context to reap. */
static void conn_done(QIOConn *conn)
{
    QIOConnService *service = conn->service;

    if (atomic_exchange(&conn->finished, 1)) {
        return;
    }
    /*
     * Closed under the lock that the timer and the drain hold while they
     * shut channels down, so neither can reach a descriptor number that
     * a new connection already reuses.
     */
    g_mutex_lock(&service->lock);
    qio_channel_shutdown(conn->ioc, QIO_CHANNEL_SHUTDOWN_BOTH, NULL);
    qio_channel_close(conn->ioc, NULL);
    g_queue_push_tail(&service->done, conn);
    if (service->reap) {
        g_source_set_ready_time(service->reap, 0);
    }
    g_mutex_unlock(&service->lock);
}

void qio_conn_finish(QIOConn *conn)
{
    conn_done(conn);
}

static gpointer conn_thread(gpointer opaque)
{
    QIOConn *conn = opaque;
    QIOConnService *service = conn->service;

    service->handler(conn, service->opaque);
    conn_done(conn);
    /* After this the thread touches nothing: the reap joins it. */
    return NULL;
}

/* ---- Timer -------------------------------------------------------------- */

static guint tick_ms(QIOConnService *service)
{
    guint hs = atomic_load(&service->handshake_ms);
    guint idle = atomic_load(&service->idle_ms);
    guint shortest = hs && idle ? MIN(hs, idle) : MAX(hs, idle);

    return CLAMP(shortest / 10, TICK_MIN_MS, TICK_MAX_MS);
}

static void expire(QIOConn *conn, const char *why, guint limit_ms)
{
    QIOConnService *service = conn->service;

    atomic_store(&conn->expired, 1);
    qutil_ratelimit_log(&service->expiry_rl, G_LOG_LEVEL_MESSAGE,
                        "%s: client %s %s after %u.%03u s; disconnecting",
                        service->name, conn->peer, why, limit_ms / 1000,
                        limit_ms % 1000);
    qio_channel_shutdown(conn->ioc, QIO_CHANNEL_SHUTDOWN_BOTH, NULL);
}

static void check_conn(QIOConn *conn, gint64 now, guint hs_ms, guint idle_ms)
{
    guint activity;

    if (atomic_load(&conn->finished) || atomic_load(&conn->expired)) {
        return;
    }
    if (!atomic_load(&conn->negotiated)) {
        if (hs_ms &&
            now - conn->start_us >= (gint64)hs_ms * G_TIME_SPAN_MILLISECOND) {
            expire(conn, "did not finish negotiating", hs_ms);
        }
        return;
    }
    activity = atomic_load_explicit(&conn->activity, memory_order_relaxed);
    if (activity != conn->seen_activity || !conn->idle_since) {
        conn->seen_activity = activity;
        conn->idle_since = now;
        return;
    }
    if (idle_ms &&
        now - conn->idle_since >= (gint64)idle_ms * G_TIME_SPAN_MILLISECOND) {
        expire(conn, "was idle", idle_ms);
    }
}

static gboolean timer_tick(gpointer opaque)
{
    QIOConnService *service = opaque;
    guint hs_ms = atomic_load(&service->handshake_ms);
    guint idle_ms = atomic_load(&service->idle_ms);
    gint64 now = g_get_monotonic_time();

    g_mutex_lock(&service->lock);
    for (GList *l = service->conns; l; l = l->next) {
        check_conn(l->data, now, hs_ms, idle_ms);
    }
    g_mutex_unlock(&service->lock);
    return G_SOURCE_CONTINUE;
}

/* (Re)arm the timer for the current limits; none when there are none. */
static void update_timer(QIOConnService *service)
{
    g_mutex_lock(&service->lock);
    if (service->timer) {
        g_source_destroy(service->timer);
        g_clear_pointer(&service->timer, g_source_unref);
    }
    if (!service->shut_down && (atomic_load(&service->handshake_ms) ||
                                atomic_load(&service->idle_ms))) {
        service->timer = g_timeout_source_new(tick_ms(service));
        g_source_set_name(service->timer, "qio-conn-service timer");
        g_source_set_callback(service->timer, timer_tick, service, NULL);
        g_source_attach(service->timer, service->context);
    }
    g_mutex_unlock(&service->lock);
}

/* ---- Accepting and reaping ---------------------------------------------- */

static GThread *default_thread_new(const char *name, GThreadFunc func,
                                   gpointer data, GError **errp)
{
    return g_thread_try_new(name, func, data, errp);
}

static void unregister(QIOConnService *service, QIOConn *conn)
{
    g_mutex_lock(&service->lock);
    service->conns = g_list_remove(service->conns, conn);
    service->n_conns--;
    g_mutex_unlock(&service->lock);
    if (conn->from_listener && service->listener) {
        qio_net_listener_client_closed(service->listener);
    }
}

static void count_served(QIOConnService *service)
{
    g_mutex_lock(&service->lock);
    service->served++;
    g_mutex_unlock(&service->lock);
}

/*
 * Register @ioc and start its handler.  False (with @errp set) if the
 * service is shut down or the handler cannot be started; the caller
 * closes the channel.
 */
static bool serve(QIOConnService *service, QIOChannel *ioc, bool from_listener,
                  GError **errp)
{
    QIOConn *conn;
    g_autoptr(GError) err = NULL;
    bool blocking = service->mode == QIO_CONN_SERVICE_THREAD;

    if (qio_channel_set_blocking(ioc, blocking, errp) < 0) {
        return false;
    }
    conn = g_new0(QIOConn, 1);
    conn->ref = 1;
    conn->service = g_object_ref(service);
    conn->ioc = g_object_ref(ioc);
    conn->peer = describe_peer(ioc);
    conn->from_listener = from_listener;
    conn->start_us = g_get_monotonic_time();

    g_mutex_lock(&service->lock);
    if (service->shut_down) {
        g_mutex_unlock(&service->lock);
        qio_error_setg(errp, QIO_ERROR_CLOSED,
                       "%s: shut down; not serving client %s", service->name,
                       conn->peer);
        qio_conn_unref(conn);
        return false;
    }
    service->conns = g_list_prepend(service->conns, conn);
    service->n_conns++;
    g_debug("%s: client %s connected, %u now", service->name, conn->peer,
            service->n_conns);
    g_mutex_unlock(&service->lock);

    if (service->mode == QIO_CONN_SERVICE_CONTEXT) {
        count_served(service);
        service->handler(conn, service->opaque);
        return true;
    }
    /* The thread borrows the registry's reference; the reap joins it. */
    conn->thread = service->thread_new(service->name, conn_thread, conn, &err);
    if (!conn->thread) {
        qutil_ratelimit_log(&service->resource_rl, G_LOG_LEVEL_WARNING,
                            "%s: client %s refused: cannot create a thread "
                            "for it: %s",
                            service->name, conn->peer, err->message);
        qio_error_setg(errp, QIO_ERROR_FAILED,
                       "%s: cannot create a thread for client %s: %s",
                       service->name, conn->peer, err->message);
        atomic_store(&conn->finished, 1);
        g_mutex_lock(&service->lock);
        service->conns = g_list_remove(service->conns, conn);
        service->n_conns--;
        g_mutex_unlock(&service->lock);
        qio_conn_unref(conn);
        return false;
    }
    count_served(service);
    return true;
}

static void accepted(QIONetListener *listener, QIOChannelSocket *sioc,
                     gpointer opaque)
{
    QIOConnService *service = opaque;
    g_autoptr(GError) err = NULL;

    if (!serve(service, QIO_CHANNEL(sioc), true, &err)) {
        /* serve() logged a refusal for want of resources already. */
        g_debug("%s", err->message);
        qio_channel_close(QIO_CHANNEL(sioc), NULL);
        qio_net_listener_client_closed(listener);
    }
}

static gboolean reap_dispatch(GSource *source, GSourceFunc callback,
                              gpointer opaque)
{
    g_source_set_ready_time(source, -1);
    return callback(opaque);
}

static GSourceFuncs reap_funcs = {
    .dispatch = reap_dispatch,
};

static gboolean reap(gpointer opaque)
{
    QIOConnService *service = opaque;
    QIOConn *conn;

    for (;;) {
        g_mutex_lock(&service->lock);
        conn = g_queue_pop_head(&service->done);
        g_mutex_unlock(&service->lock);
        if (!conn) {
            break;
        }
        if (conn->thread) {
            g_thread_join(g_steal_pointer(&conn->thread));
        }
        unregister(service, conn);
        if (service->gone) {
            service->gone(service, conn, service->gone_opaque);
        }
        qio_conn_unref(conn);
    }
    return G_SOURCE_CONTINUE;
}

/* ---- Public API --------------------------------------------------------- */

QIOConnService *qio_conn_service_new(const char *name, QIOConnServiceMode mode,
                                     QIOConnHandler handler, gpointer opaque,
                                     GMainContext *context)
{
    QIOConnService *service = g_object_new(QIO_TYPE_CONN_SERVICE, NULL);

    service->name = g_strdup(name ? name : "server");
    service->mode = mode;
    service->handler = handler;
    service->opaque = opaque;
    service->context = context ? g_main_context_ref(context)
                               : g_main_context_ref_thread_default();
    service->listener = qio_net_listener_new();
    qio_net_listener_set_name(service->listener, service->name);
    service->reap = g_source_new(&reap_funcs, sizeof(GSource));
    g_source_set_name(service->reap, "qio-conn-service reap");
    g_source_set_callback(service->reap, reap, service, NULL);
    g_source_attach(service->reap, service->context);
    update_timer(service);
    return service;
}

void qio_conn_service_set_max_clients(QIOConnService *service,
                                      guint max_clients)
{
    service->max_clients = max_clients;
    qio_net_listener_set_max_clients(service->listener, max_clients);
}

void qio_conn_service_set_handshake_limit(QIOConnService *service,
                                          guint limit_ms)
{
    atomic_store(&service->handshake_ms, limit_ms);
    update_timer(service);
}

void qio_conn_service_set_idle_limit(QIOConnService *service, guint limit_ms)
{
    atomic_store(&service->idle_ms, limit_ms);
    update_timer(service);
}

void qio_conn_service_set_gone_func(QIOConnService *service,
                                    QIOConnGoneFunc func, gpointer opaque)
{
    service->gone = func;
    service->gone_opaque = opaque;
}

void qio_conn_service_set_thread_new_func(QIOConnService *service,
                                          QIOConnThreadNewFunc func)
{
    service->thread_new = func ? func : default_thread_new;
}

int qio_conn_service_system_backlog(void)
{
    g_autofree char *text = NULL;
    guint64 v;

    if (g_file_get_contents("/proc/sys/net/core/somaxconn", &text, NULL,
                            NULL) &&
        g_ascii_string_to_unsigned(g_strstrip(text), 10, 1, G_MAXINT, &v,
                                   NULL)) {
        return (int)v;
    }
    return SOMAXCONN;
}

static void start_accepting(QIOConnService *service)
{
    qio_net_listener_set_client_func_full(service->listener, accepted, service,
                                          NULL, service->context);
}

int qio_conn_service_listen(QIOConnService *service,
                            QIOSocketAddress *const *addrs, size_t naddrs,
                            GError **errp)
{
    if (service->shut_down) {
        qio_error_setg(errp, QIO_ERROR_CLOSED, "%s: shut down", service->name);
        return -1;
    }
    if (qio_net_listener_open_sync_list(service->listener, addrs, naddrs,
                                        qio_conn_service_system_backlog(),
                                        errp) < 0) {
        return -1;
    }
    start_accepting(service);
    return 0;
}

void qio_conn_service_add_listener(QIOConnService *service,
                                   QIOChannelSocket *sioc)
{
    g_return_if_fail(!service->shut_down);
    qio_net_listener_add(service->listener, sioc);
    start_accepting(service);
}

bool qio_conn_service_add_client(QIOConnService *service, QIOChannel *ioc,
                                 GError **errp)
{
    if (!serve(service, ioc, false, errp)) {
        qio_channel_close(ioc, NULL);
        return false;
    }
    return true;
}

GPtrArray *qio_conn_service_get_local_addresses(QIOConnService *service,
                                                GError **errp)
{
    return qio_net_listener_get_local_addresses(service->listener, errp);
}

guint qio_conn_service_get_n_clients(QIOConnService *service)
{
    guint n;

    g_mutex_lock(&service->lock);
    n = service->n_conns;
    g_mutex_unlock(&service->lock);
    return n;
}

guint64 qio_conn_service_get_n_served(QIOConnService *service)
{
    guint64 n;

    g_mutex_lock(&service->lock);
    n = service->served;
    g_mutex_unlock(&service->lock);
    return n;
}

void qio_conn_service_shutdown(QIOConnService *service)
{
    bool again;

    g_mutex_lock(&service->lock);
    again = service->shut_down;
    service->shut_down = true;
    g_mutex_unlock(&service->lock);
    if (again) {
        return;
    }
    qio_net_listener_set_client_func(service->listener, NULL, NULL, NULL);
    qio_net_listener_disconnect(service->listener);
    update_timer(service); /* removes it */

    g_mutex_lock(&service->lock);
    for (GList *l = service->conns; l; l = l->next) {
        QIOConn *conn = l->data;

        if (!atomic_load(&conn->finished)) {
            qio_channel_shutdown(conn->ioc, QIO_CHANNEL_SHUTDOWN_BOTH, NULL);
        }
    }
    g_mutex_unlock(&service->lock);

    /* Handlers end, consumers see the hang-up and finish; reap them all. */
    g_main_context_push_thread_default(service->context);
    while (qio_conn_service_get_n_clients(service) > 0) {
        g_main_context_iteration(service->context, TRUE);
    }
    g_main_context_pop_thread_default(service->context);

    service->gone = NULL;
    g_source_destroy(service->reap);
}

/* ---- GObject ------------------------------------------------------------ */

static void qio_conn_service_finalize(GObject *obj)
{
    QIOConnService *service = QIO_CONN_SERVICE(obj);

    qio_conn_service_shutdown(service);
    g_source_unref(service->reap);
    g_object_unref(service->listener);
    g_main_context_unref(service->context);
    g_mutex_clear(&service->lock);
    qutil_ratelimit_destroy(&service->refusal_rl);
    qutil_ratelimit_destroy(&service->resource_rl);
    qutil_ratelimit_destroy(&service->expiry_rl);
    g_free(service->name);
    G_OBJECT_CLASS(qio_conn_service_parent_class)->finalize(obj);
}

static void qio_conn_service_class_init(QIOConnServiceClass *klass)
{
    G_OBJECT_CLASS(klass)->finalize = qio_conn_service_finalize;
}

static void qio_conn_service_init(QIOConnService *service)
{
    g_mutex_init(&service->lock);
    g_queue_init(&service->done);
    service->thread_new = default_thread_new;
    atomic_init(&service->handshake_ms, QIO_CONN_SERVICE_HANDSHAKE_LIMIT_MS);
    atomic_init(&service->idle_ms, 0);
    qutil_ratelimit_init(&service->refusal_rl, LOG_BURST, LOG_WINDOW_MS);
    qutil_ratelimit_init(&service->resource_rl, LOG_BURST, LOG_WINDOW_MS);
    qutil_ratelimit_init(&service->expiry_rl, LOG_BURST, LOG_WINDOW_MS);
}
