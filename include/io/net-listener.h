/*
 * QIONetListener: the accepting side of every qio server.
 *
 * One listener owns one or more listening QIOChannelSockets (a host name
 * such as "localhost", or the empty host, can stand for both an IPv4 and
 * an IPv6 address, and each needs its own socket), watches them on a
 * GMainContext and hands every accepted connection to one callback:
 *
 *     g_autoptr(QIONetListener) lst = qio_net_listener_new();
 *     qio_net_listener_set_name(lst, "nbd-server");
 *     if (qio_net_listener_open_sync(lst, addr, 16, &err) < 0) ...
 *     qio_net_listener_set_max_clients(lst, 8);
 *     qio_net_listener_set_client_func(lst, new_client, server, NULL);
 *
 * Client limit.  When max_clients connections are open, the listener
 * stops accepting: its watches are removed and further clients wait in
 * the kernel's backlog (and are refused by the kernel once that is full)
 * until the owner reports a departure with
 * qio_net_listener_client_closed().  Accepting and immediately closing the
 * excess would instead let a flood of short connections take every slot
 * that frees up; leaving them queued serves them in order.
 *
 * Thread rules: everything runs on the listener's context except
 * qio_net_listener_client_closed(), which may be called from any thread
 * (a per-connection worker) and is forwarded to that context.
 */
#pragma once

#include <glib-object.h>

#include "io/channel-socket.h"

G_BEGIN_DECLS

#define QIO_TYPE_NET_LISTENER (qio_net_listener_get_type())
G_DECLARE_FINAL_TYPE(QIONetListener, qio_net_listener, QIO, NET_LISTENER,
                     GObject)

/*
 * Called on the listener's context with each accepted client, a new
 * blocking channel.  The callback gets a borrowed reference and takes its
 * own if it keeps the channel.
 */
typedef void (*QIONetListenerClientFunc)(QIONetListener *listener,
                                         QIOChannelSocket *sioc,
                                         gpointer opaque);

QIONetListener *qio_net_listener_new(void);

/*
 * A label for messages and for the accepted channels' names
 * ("nbd-server client 127.0.0.1:40512").
 */
void qio_net_listener_set_name(QIONetListener *listener, const char *name);

/*
 * Resolve @addr for listening and bind every result, each on its own
 * socket, adding them to the listener.  Port 0 means "pick one": the
 * first address gets a port from the kernel and the others are bound to
 * the same number; if it is taken on one of them, the whole set is bound
 * again with a new port (a few attempts).  Addresses of a family the host
 * cannot use (IPv6 disabled: EAFNOSUPPORT, EADDRNOTAVAIL) are skipped as
 * long as at least one address binds; any other failure fails the call
 * and leaves the listener as it was.
 */
int qio_net_listener_open_sync(QIONetListener *listener,
                               const QIOSocketAddress *addr, int backlog,
                               GError **errp);

/*
 * As above for several addresses at once, as one set: every resolved
 * address of every entry is bound, and all entries with port 0 share the
 * one port picked for the first ("127.0.0.1:0" and "[::1]:0" end up on
 * the same port).
 */
int qio_net_listener_open_sync_list(QIONetListener *listener,
                                    QIOSocketAddress *const *addrs,
                                    size_t naddrs, int backlog, GError **errp);

/*
 * Add an already listening channel (for example one made from an
 * inherited descriptor).  The listener takes a reference and makes the
 * channel non-blocking, as it does with the sockets it opens itself.  If
 * a client function is set, the channel is watched at once.
 */
void qio_net_listener_add(QIONetListener *listener, QIOChannelSocket *sioc);

/*
 * Set (or with @func NULL, clear) the callback for new clients, on the
 * caller's thread-default main context; the _full form names the context
 * (NULL: the caller's thread-default one).  @notify frees @opaque when the
 * callback is replaced or the listener finalized.  Watches are armed
 * while a callback is set, the listener is open and the client limit is
 * not reached.
 */
void qio_net_listener_set_client_func(QIONetListener *listener,
                                      QIONetListenerClientFunc func,
                                      gpointer opaque, GDestroyNotify notify);
void qio_net_listener_set_client_func_full(QIONetListener *listener,
                                           QIONetListenerClientFunc func,
                                           gpointer opaque,
                                           GDestroyNotify notify,
                                           GMainContext *context);

/*
 * At most @max_clients accepted clients at once; 0 (the default) means no
 * limit.  Every client handed out counts until
 * qio_net_listener_client_closed() is called for it.
 */
void qio_net_listener_set_max_clients(QIONetListener *listener,
                                      guint max_clients);
/* Thread-safe: one client counted against the limit has gone. */
void qio_net_listener_client_closed(QIONetListener *listener);
/* Clients handed out and not yet reported closed. */
guint qio_net_listener_get_num_clients(QIONetListener *listener);

/*
 * Block until a client connects on any of the listener's sockets and
 * return it (it counts against the limit like any other), ignoring the
 * client function.  For programs that accept exactly one peer, such as an
 * incoming migration.  At the client limit it first waits, as the client
 * does in the backlog, until another thread reports a departure with
 * qio_net_listener_client_closed().  NULL with @errp set on failure or if
 * the listener has no sockets.
 */
QIOChannelSocket *qio_net_listener_wait_client(QIONetListener *listener,
                                               GError **errp);

/* Stop watching and close every listening socket.  Idempotent. */
void qio_net_listener_disconnect(QIONetListener *listener);
/* True while the listener holds at least one open listening socket. */
bool qio_net_listener_is_connected(QIONetListener *listener);

/*
 * The listening channels, in the order they were opened, borrowed; valid
 * until disconnect.  qio_net_listener_get_channel() returns NULL when
 * @index is not below qio_net_listener_get_n_channels().  For a server
 * that sets options on, or watches, the listening sockets itself.
 */
guint qio_net_listener_get_n_channels(QIONetListener *listener);
QIOChannelSocket *qio_net_listener_get_channel(QIONetListener *listener,
                                               guint index);

/*
 * The bound local addresses, one per listening socket, so that a server
 * started on port 0 can say where it is: a new GPtrArray of
 * QIOSocketAddress (freed with the array), or NULL with @errp set.
 */
GPtrArray *qio_net_listener_get_local_addresses(QIONetListener *listener,
                                                GError **errp);

G_END_DECLS
