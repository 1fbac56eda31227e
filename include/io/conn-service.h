/*
 * QIOConnService: how every qio server accepts, times and counts its
 * connections.
 *
 * A server (NBD, a chardev socket, the monitor, the console proxy, an
 * incoming migration) gives the service its addresses and one handler.
 * The service then
 *
 *  - owns the listening sockets and listens with the system's largest
 *    backlog (/proc/sys/net/core/somaxconn), so that a burst of connects
 *    is queued, not dropped;
 *  - applies the client limit: beyond it, new clients wait in the
 *    kernel's backlog and are accepted, in order, as others leave;
 *  - runs the handler once per connection, either on a worker thread of
 *    its own with a blocking channel (QIO_CONN_SERVICE_THREAD), or on the
 *    service's GMainContext with a non-blocking channel for a consumer
 *    driven by watches (QIO_CONN_SERVICE_CONTEXT);
 *  - refuses one client, with one rate-limited warning naming the peer,
 *    when a resource is missing (a thread cannot be created under
 *    ulimit -u or a pids cgroup), and keeps serving the others;
 *  - enforces the handshake deadline and the idle limit from one timer
 *    source on its context, never a thread per connection: expiry shuts
 *    the channel down and logs why;
 *  - keeps the registry of live connections and reports each one gone on
 *    its context;
 *  - logs, once per connection and rate limited across connections, why
 *    a handler refused its peer (TLS handshake failed, tls-authz denied),
 *    to stderr at warning level, with the peer address;
 *  - drains on shutdown: stops accepting, shuts every live channel down,
 *    waits for the handlers; no callback runs after that.
 *
 * Plugging a new server in.  The handler runs the protocol and tells the
 * service two things: when negotiation is over (the connection moves from
 * the handshake deadline to the idle limit), and that the peer did
 * something (a cheap atomic increment, called once per request):
 *
 *     static void echo_client(QIOConn *conn, gpointer opaque)
 *     {
 *         QIOChannel *ioc = qio_conn_get_channel(conn);
 *         char buf[512];
 *         ssize_t n;
 *
 *         if (!my_handshake(ioc)) {
 *             qio_conn_report_refusal(conn, "bad greeting");
 *             return;            // the service closes the channel
 *         }
 *         qio_conn_set_negotiated(conn);
 *         while ((n = qio_channel_read(ioc, buf, sizeof(buf), NULL)) > 0) {
 *             qio_conn_touch(conn);
 *             qio_channel_write_all(ioc, buf, n, NULL);
 *         }
 *     }
 *
 *     svc = qio_conn_service_new("echo", QIO_CONN_SERVICE_THREAD,
 *                                echo_client, NULL, NULL);
 *     qio_conn_service_set_max_clients(svc, 16);
 *     qio_conn_service_set_idle_limit(svc, 300 * 1000);
 *     if (qio_conn_service_listen(svc, &addr, 1, &err) < 0) ...
 *     g_main_loop_run(loop);              // accepting, timers, gone
 *     qio_conn_service_shutdown(svc);     // drain
 *     g_object_unref(svc);
 *
 * Time limits.  The handshake deadline runs from accept() to
 * qio_conn_set_negotiated() (default QIO_CONN_SERVICE_HANDSHAKE_LIMIT_MS).
 * A client waiting in the kernel's backlog because the client limit is
 * reached has not been accepted and is not timed: its deadline starts
 * when a slot frees up and it is accepted.  The idle limit runs from the
 * last qio_conn_touch() after negotiation and is off by default, because
 * an idle peer (a guest not touching its disk) is usually legitimate.
 * Expiry is checked on a timer of a tenth of the shortest limit (20 ms
 * to 1 s), so a limit is honoured within that.
 *
 * Thread rules.  Setters, listen, and shutdown run on the thread that
 * runs the service's context (or before it runs).  The QIOConn calls
 * (set_negotiated, touch, report_refusal, finish) may be made from any
 * thread.  The gone callback runs on the context.
 */
#pragma once

#include <glib-object.h>

#include "io/channel-socket.h"
#include "io/socket-address.h"

G_BEGIN_DECLS

#define QIO_TYPE_CONN_SERVICE (qio_conn_service_get_type())
G_DECLARE_FINAL_TYPE(QIOConnService, qio_conn_service, QIO, CONN_SERVICE,
                     GObject)

/* Default time a client has from accept to the end of negotiation. */
#define QIO_CONN_SERVICE_HANDSHAKE_LIMIT_MS 10000

/* One live connection; reference counted, owned by the service. */
typedef struct QIOConn QIOConn;

typedef enum {
    /*
     * The handler runs on a new thread with a blocking channel; the
     * connection is over when it returns.
     */
    QIO_CONN_SERVICE_THREAD,
    /*
     * The handler runs on the service's context with a non-blocking
     * channel, sets up its watches and returns; the connection is over
     * when the consumer calls qio_conn_finish().
     */
    QIO_CONN_SERVICE_CONTEXT,
} QIOConnServiceMode;

typedef void (*QIOConnHandler)(QIOConn *conn, gpointer opaque);

/*
 * A connection handed to the handler is over: its channel is closed and
 * it is out of the registry (and of the client count).  Runs on the
 * service's context; @conn is borrowed.
 */
typedef void (*QIOConnGoneFunc)(QIOConnService *service, QIOConn *conn,
                                gpointer opaque);

/*
 * A service named @name (used in messages: "qio-nbd: client 127.0.0.1:
 * 40512 refused: ..."), calling @handler with @opaque for every
 * connection, with timers and callbacks on @context (NULL: the caller's
 * thread-default context).
 */
QIOConnService *qio_conn_service_new(const char *name, QIOConnServiceMode mode,
                                     QIOConnHandler handler, gpointer opaque,
                                     GMainContext *context);

/* At most @max_clients connections at once (0, the default: no limit). */
void qio_conn_service_set_max_clients(QIOConnService *service,
                                      guint max_clients);
/* Accept to negotiated, in milliseconds; 0: no limit. */
void qio_conn_service_set_handshake_limit(QIOConnService *service,
                                          guint limit_ms);
/* Negotiated and silent, in milliseconds; 0 (the default): no limit. */
void qio_conn_service_set_idle_limit(QIOConnService *service, guint limit_ms);
/* Called on the context for every connection that is over. */
void qio_conn_service_set_gone_func(QIOConnService *service,
                                    QIOConnGoneFunc func, gpointer opaque);

/*
 * Listen on every address of every entry of @addrs (as
 * qio_net_listener_open_sync_list(): dual stack, port 0 shared) with the
 * system's backlog, and start accepting.  -1 with @errp set, naming the
 * address, if any fails.
 */
int qio_conn_service_listen(QIOConnService *service,
                            QIOSocketAddress *const *addrs, size_t naddrs,
                            GError **errp);
/*
 * Accept on an already listening socket (an inherited descriptor); the
 * service takes a reference.  Its backlog is the one it was given.
 */
void qio_conn_service_add_listener(QIOConnService *service,
                                   QIOChannelSocket *sioc);
/*
 * Serve @ioc, connected elsewhere (a socket pair, a channel passed over
 * a monitor), as if it had been accepted now.  It is in the registry and
 * timed, but does not count against the client limit.  False with @errp
 * set if the service is shut down or the handler cannot be started (the
 * channel is then closed).  In QIO_CONN_SERVICE_CONTEXT mode the handler
 * runs at once, so call this on the thread that runs the context.
 */
bool qio_conn_service_add_client(QIOConnService *service, QIOChannel *ioc,
                                 GError **errp);

/* The bound addresses (see qio_net_listener_get_local_addresses()). */
GPtrArray *qio_conn_service_get_local_addresses(QIOConnService *service,
                                                GError **errp);
/* Live connections: accepted and not yet reported gone. */
guint qio_conn_service_get_n_clients(QIOConnService *service);
/* Connections ever handed to the handler. */
guint64 qio_conn_service_get_n_served(QIOConnService *service);

/*
 * Stop accepting, shut every live channel down and wait (running the
 * context) until every handler has finished and every gone callback has
 * run.  Nothing is called back after it returns.  Idempotent; also done
 * when the last reference goes.
 */
void qio_conn_service_shutdown(QIOConnService *service);

/*
 * The largest listen backlog the system grants:
 * /proc/sys/net/core/somaxconn, or SOMAXCONN where that cannot be read.
 */
int qio_conn_service_system_backlog(void);

/* ---- One connection ---------------------------------------------------- */

QIOConn *qio_conn_ref(QIOConn *conn);
void qio_conn_unref(QIOConn *conn);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QIOConn, qio_conn_unref)

/* The connection's channel (borrowed; valid while @conn is). */
QIOChannel *qio_conn_get_channel(QIOConn *conn);
/*
 * The peer, for messages: "127.0.0.1:40512", "[::1]:40512", or for a
 * UNIX socket "unix peer pid 1234" (from SO_PEERCRED).
 */
const char *qio_conn_get_peer(QIOConn *conn);
QIOConnService *qio_conn_get_service(QIOConn *conn);

/*
 * Negotiation is over: the handshake deadline stops and the idle limit
 * (if any) starts.  Idempotent, any thread.
 */
void qio_conn_set_negotiated(QIOConn *conn);
/* The peer did something: restarts the idle limit.  An atomic add. */
void qio_conn_touch(QIOConn *conn);
/*
 * The handler refuses its peer for @fmt (a security decision: "TLS
 * handshake failed: ...", "tls-authz 'auth0' denied CN=x").  Logged once
 * per connection, with the peer address, at warning level, rate limited
 * across connections.  Any thread.
 */
void qio_conn_report_refusal(QIOConn *conn, const char *fmt, ...)
    G_GNUC_PRINTF(2, 3);
/*
 * QIO_CONN_SERVICE_CONTEXT: the consumer is done with the connection
 * (its watches removed); the service closes the channel and reports it
 * gone.  Any thread; later calls do nothing.  In THREAD mode the
 * handler's return does this.
 */
void qio_conn_finish(QIOConn *conn);
/* True once the service shut the channel down (deadline, drain). */
bool qio_conn_is_expired(QIOConn *conn);

G_END_DECLS
