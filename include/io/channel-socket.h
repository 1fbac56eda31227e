/*
 * QIOChannelSocket: a QIOChannel on a stream socket.
 *
 * TCP over IPv4 and IPv6, UNIX sockets (a path or a Linux abstract name),
 * vsock where the host has it, or any socket file descriptor handed over
 * by a parent process or a systemd unit.  A channel is created empty and
 * then connected or put into listening state, or it adopts a descriptor:
 *
 *     g_autoptr(QIOChannelSocket) sioc = qio_channel_socket_new();
 *     g_autoptr(QIOSocketAddress) addr =
 *         qio_socket_address_parse("localhost:10809", &err);
 *     if (qio_channel_socket_connect_sync(sioc, addr, &err) < 0) ...
 *
 * Features: SHUTDOWN on connected sockets, LISTEN on listening ones,
 * FD_PASS (SCM_RIGHTS) on UNIX sockets.  Every descriptor is close-on-exec
 * and writes use MSG_NOSIGNAL, so a peer that goes away produces
 * QIO_ERROR_BROKEN_PIPE or QIO_ERROR_CONNECTION_RESET, never SIGPIPE.
 *
 * Threads: a connected channel may be read on one thread while another
 * writes to it.  Connect/listen (sync or async) and close must not run
 * concurrently with other use of the same channel.
 */
#pragma once

#include "io/channel.h"
#include "io/socket-address.h"
#include "io/task.h"

G_BEGIN_DECLS

#define QIO_TYPE_CHANNEL_SOCKET (qio_channel_socket_get_type())
G_DECLARE_FINAL_TYPE(QIOChannelSocket, qio_channel_socket, QIO, CHANNEL_SOCKET,
                     QIOChannel)

/*
 * Most file descriptors accepted in one received message.  Any beyond
 * this are closed and the read fails (QIO_ERROR_TOO_LARGE); sending more
 * in one call fails the same way.
 */
#define QIO_CHANNEL_SOCKET_MAX_FDS 16

/* An unconnected channel, blocking, with no descriptor yet. */
QIOChannelSocket *qio_channel_socket_new(void);

/*
 * Adopt @fd, which must be a socket (QIO_ERROR_INVALID_ARGUMENT
 * otherwise).  On success the channel owns @fd and closes it; on failure
 * the caller still owns it.  close-on-exec is set; the blocking mode is
 * left as it is and reported by the channel.  A listening socket gets the
 * LISTEN feature.
 */
QIOChannelSocket *qio_channel_socket_new_fd(int fd, GError **errp);

/*
 * Connect to @addr.  An internet address is resolved and each result
 * tried in turn; the error is the last failure, naming host and port:
 * "cannot connect to 127.0.0.1:9: Connection refused"
 * (QIO_ERROR_CONNECTION_REFUSED).  An fd address adopts that descriptor
 * (numeric fds only; named ones need a monitor and are
 * QIO_ERROR_NOT_SUPPORTED here).  The connect itself is blocking; if the
 * channel was set non-blocking beforehand, that mode applies once
 * connected.  Fails with QIO_ERROR_INVALID_ARGUMENT if the channel already
 * has a socket.
 */
int qio_channel_socket_connect_sync(QIOChannelSocket *sioc,
                                    const QIOSocketAddress *addr,
                                    GError **errp);

/*
 * As above on a QIOTask worker thread; @callback runs on @context (NULL:
 * the caller's thread-default context) and checks the outcome with
 * qio_task_propagate_error().  The task holds a reference on @sioc, which
 * must not be used until the callback.  @addr is copied.
 */
void qio_channel_socket_connect_async(QIOChannelSocket *sioc,
                                      const QIOSocketAddress *addr,
                                      QIOTaskFunc callback, gpointer opaque,
                                      GDestroyNotify destroy,
                                      GMainContext *context);

/*
 * Bind @addr and listen with @backlog (<= 0: SOMAXCONN).  An internet
 * name is resolved for listening (an empty host is the wildcard) and the
 * first result that binds is used; QIONetListener is the way to bind all
 * of them.  TCP sockets get SO_REUSEADDR, and IPv6 ones IPV6_V6ONLY so
 * that 0.0.0.0 and :: can be bound side by side ("[::]:N" alone therefore
 * accepts only IPv6 clients).  A UNIX path that exists as a stale socket
 * (nothing accepts on it) is replaced; a live one gives QIO_ERROR_EXISTS.
 * The path is removed again when the channel is closed, if it is still
 * the socket this channel created.
 */
int qio_channel_socket_listen_sync(QIOChannelSocket *sioc,
                                   const QIOSocketAddress *addr, int backlog,
                                   GError **errp);

/* As qio_channel_socket_connect_async(), for listening. */
void qio_channel_socket_listen_async(QIOChannelSocket *sioc,
                                     const QIOSocketAddress *addr, int backlog,
                                     QIOTaskFunc callback, gpointer opaque,
                                     GDestroyNotify destroy,
                                     GMainContext *context);

/*
 * Accept one connection on a listening channel.  Returns 0 and sets
 * *@client to a new blocking channel (whatever the listener's mode),
 * QIO_CHANNEL_ERR_BLOCK if the listener is non-blocking and no connection
 * is pending (nothing set, @errp untouched), or -1 with @errp set.  This
 * is the form for watch callbacks, where another acceptor may have taken
 * the connection first.
 */
int qio_channel_socket_try_accept(QIOChannelSocket *sioc,
                                  QIOChannelSocket **client, GError **errp);

/*
 * Accept one connection, waiting for one even on a non-blocking listener.
 * Returns the new channel, or NULL with @errp set.
 */
QIOChannelSocket *qio_channel_socket_accept(QIOChannelSocket *sioc,
                                            GError **errp);

/* The socket descriptor, still owned by the channel; -1 when closed. */
int qio_channel_socket_get_fd(QIOChannelSocket *sioc);

/*
 * The local (getsockname) and peer (getpeername) addresses, newly
 * allocated.  NULL with @errp set when the channel is closed or not
 * connected.
 */
QIOSocketAddress *qio_channel_socket_get_local_address(QIOChannelSocket *sioc,
                                                       GError **errp);
QIOSocketAddress *qio_channel_socket_get_remote_address(QIOChannelSocket *sioc,
                                                        GError **errp);

/* SO_KEEPALIVE on or off. */
int qio_channel_socket_set_keepalive(QIOChannelSocket *sioc, bool enabled,
                                     GError **errp);

G_END_DECLS
