/*
 * The socket chardev: -chardev socket,id=ID,... with QEMU's options.
 *
 *   host=H,port=P[,ipv4=on][,ipv6=on][,keep-alive=on]   a TCP endpoint
 *   path=P[,abstract=on][,tight=off]                    a UNIX socket
 *   fd=N                                                an open socket
 *   server=on[,wait=off]   listen; wait=on (QEMU's default) holds the
 *                          creation until the first client is connected
 *   reconnect-ms=MS, reconnect=SECONDS   a client retries at that interval
 *                          after a failed connect or a disconnect
 *   nodelay=on             TCP_NODELAY
 *   telnet=on              RFC 854 negotiation (see chardev/telnet.h)
 *   tls-creds=ID[,tls-authz=ID]   TLS with the credentials object ID
 *
 * A server serves one client at a time: the next one waits in the
 * kernel's backlog until the first leaves.  Connections are accepted,
 * timed (a TLS handshake has QIO_CONN_SERVICE_HANDSHAKE_LIMIT_MS) and
 * counted by a QIOConnService in CONTEXT mode; TLS and telnet run as one
 * QIONegotiation.  The frontend sees OPENED only when the TLS handshake
 * and the tls-authz check are done and the telnet offer is sent; a client
 * refused by TLS or authz is logged once with its address
 * ("chardev 's0': client 127.0.0.1:40512 refused: ...") and the server
 * goes on to the next.
 *
 * Backpressure: nothing is read while the frontend's can_read() is 0;
 * what the frontend writes goes through an output buffer of
 * QIO_CHARDEV_SOCKET_OUT_MAX bytes, so qio_chardev_write() takes less
 * when the peer does not read, and writable() runs when it has drained.
 * Descriptors passed with SCM_RIGHTS on a UNIX socket are kept for the
 * frontend (qio_chardev_take_fd()).
 *
 * Serving a local serial line over TLS, as
 * -object tls-creds-x509,id=tls0,endpoint=server,dir=/etc/pki/qio
 * -chardev socket,id=s0,host=0.0.0.0,port=9000,server=on,wait=off,
 *  tls-creds=tls0:
 *
 *     g_autoptr(QIOSocketAddress) addr =
 *         qio_socket_address_new_inet("0.0.0.0", "9000");
 *     QIOChardevSocketOptions so = {
 *         .addr = addr, .server = true, .wait = false, .tls_creds = "tls0",
 *     };
 *     QIOChardev *chr = qio_chardev_socket_new("s0", &so, errp);
 *     // then qio_chardev_attach() as in chardev/char.h
 */
#pragma once

#include "chardev/char.h"
#include "io/socket-address.h"

G_BEGIN_DECLS

#define QIO_TYPE_CHARDEV_SOCKET (qio_chardev_socket_get_type())
G_DECLARE_FINAL_TYPE(QIOChardevSocket, qio_chardev_socket, QIO, CHARDEV_SOCKET,
                     QIOChardev)

/* The output buffer's size: what a write can take beyond the socket's. */
#define QIO_CHARDEV_SOCKET_OUT_MAX (64 * 1024)

typedef struct {
    /* Where to listen or connect (copied); inet, unix, vsock or fd. */
    const QIOSocketAddress *addr;
    /* Listen and serve one client at a time; else connect. */
    bool server;
    /*
     * Server only: return from qio_chardev_socket_new() only once a
     * client is connected (QEMU's default is wait=on; here a zeroed
     * struct means off).
     */
    bool wait;
    bool nodelay;
    bool telnet;
    /* Client only: retry interval in milliseconds; 0: connect once. */
    guint64 reconnect_ms;
    /* Ids of a tls-creds-* object and an authz object (server only). */
    const char *tls_creds;
    const char *tls_authz;
} QIOChardevSocketOptions;

/*
 * A socket chardev registered as @id (NULL: anonymous, owned by the
 * caller; otherwise borrowed from the registry).  A server is listening
 * when this returns; a client without reconnect is connected (its TLS
 * handshake runs on the context) or fails here; a client with reconnect
 * connects from the context and never fails here.
 */
QIOChardev *qio_chardev_socket_new(const char *id,
                                   const QIOChardevSocketOptions *opts,
                                   GError **errp);

/* True while a peer is connected and past TLS, authz and telnet. */
bool qio_chardev_socket_is_connected(QIOChardev *chr);
/* A server's bound addresses (for port=0), as the service returns them. */
GPtrArray *qio_chardev_socket_get_local_addresses(QIOChardev *chr,
                                                  GError **errp);

G_END_DECLS
