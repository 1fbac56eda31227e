/*
 * QIOSocketAddress: where a socket connects to or listens on.
 *
 * A plain tagged union shaped like QEMU's SocketAddress so that option
 * parsers, the monitor schema and the channel code share one description of
 * an endpoint: an internet host and port (with address family
 * preferences), a UNIX socket path or abstract name, a vsock context and
 * port, or an already open file descriptor.  This header also holds the
 * string syntax users type ("localhost:10809", "[::1]:10809",
 * "unix:/run/qio.sock", "unix:@name", "fd:3", "vsock:2:1024"; see
 * docs/addresses.md) and conversions to and from struct sockaddr.
 *
 * Names follow QEMU's schema: optional booleans come as a has_X / X pair,
 * and the UNIX member is u.q_unix because "unix" is a predefined macro in
 * GNU C.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <sys/socket.h>

#include "io/error.h"

G_BEGIN_DECLS

typedef enum {
    QIO_SOCKET_ADDRESS_TYPE_INET,
    QIO_SOCKET_ADDRESS_TYPE_UNIX,
    QIO_SOCKET_ADDRESS_TYPE_VSOCK,
    QIO_SOCKET_ADDRESS_TYPE_FD,
} QIOSocketAddressType;

/*
 * An internet endpoint.  @host is a name or a numeric address (IPv6
 * literals are stored without brackets); "" means "any address" when
 * listening and is rejected when connecting.  @port is a decimal number
 * (0-65535) or a service name from /etc/services.
 *
 * ipv4 / ipv6: with neither given, both families are used.  Giving only
 * ipv4=on (or ipv6=off) restricts to IPv4, and the other way round; both
 * on means both; both off is an error.
 * numeric: @host is a numeric address, never look it up in DNS.
 * keep_alive: enable SO_KEEPALIVE on connected sockets.
 */
typedef struct {
    char *host;
    char *port;
    bool has_numeric;
    bool numeric;
    bool has_ipv4;
    bool ipv4;
    bool has_ipv6;
    bool ipv6;
    bool has_keep_alive;
    bool keep_alive;
} QIOInetSocketAddress;

/*
 * A UNIX domain endpoint.  With abstract, @path is a name in Linux's
 * abstract namespace (no file is created).  tight (default on) makes the
 * address length cover only the name instead of the whole sun_path; it
 * matters only for abstract names, and peers must agree on it.
 */
typedef struct {
    char *path;
    bool has_abstract;
    bool abstract;
    bool has_tight;
    bool tight;
} QIOUnixSocketAddress;

/* A vsock endpoint; both members are decimal 32-bit unsigned numbers. */
typedef struct {
    char *cid;
    char *port;
} QIOVsockSocketAddress;

/*
 * An open file descriptor: a decimal number, or a name that a higher layer
 * (the monitor's fd table) translates.  The channel that uses it takes
 * ownership of the descriptor.
 */
typedef struct {
    char *str;
} QIOFdSocketAddress;

typedef struct {
    QIOSocketAddressType type;
    union {
        QIOInetSocketAddress inet;
        QIOUnixSocketAddress q_unix;
        QIOVsockSocketAddress vsock;
        QIOFdSocketAddress fd;
    } u;
} QIOSocketAddress;

/*
 * Longest UNIX path or abstract name accepted: sun_path is 108 bytes and
 * keeps room for the terminating NUL (a path) or the leading NUL (an
 * abstract name).
 */
#define QIO_SOCKET_ADDRESS_UNIX_PATH_MAX 107

/* Constructors; the strings are copied.  Free with qio_socket_address_free. */
QIOSocketAddress *qio_socket_address_new_inet(const char *host,
                                              const char *port);
QIOSocketAddress *qio_socket_address_new_unix(const char *path, bool abstract);
QIOSocketAddress *qio_socket_address_new_vsock(const char *cid,
                                               const char *port);
QIOSocketAddress *qio_socket_address_new_fd(const char *str);

/* A deep copy. */
QIOSocketAddress *qio_socket_address_copy(const QIOSocketAddress *addr);
void qio_socket_address_free(QIOSocketAddress *addr);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(QIOSocketAddress, qio_socket_address_free)

/*
 * Check an address built in code (or by a schema) the way the parser
 * checks typed ones: a port present and in range, a UNIX path that fits
 * in sun_path, a valid vsock cid and port, a non-empty fd.  Sets
 * QIO_ERROR_INVALID_ARGUMENT.
 */
bool qio_socket_address_validate(const QIOSocketAddress *addr, GError **errp);

/*
 * Parse the syntax of docs/addresses.md:
 *
 *     host:port[,ipv4=on|off][,ipv6=on|off][,keep-alive=on|off]
 *              [,numeric=on|off]
 *     [ipv6-literal]:port[,...]
 *     :port                      (any address, for listening)
 *     unix:/path/to/socket       (the rest of the string is the path)
 *     unix:@name                 (abstract namespace, tight)
 *     fd:N  or  fd:name
 *     vsock:cid:port
 *
 * Returns NULL with QIO_ERROR_INVALID_ARGUMENT on malformed input.
 */
QIOSocketAddress *qio_socket_address_parse(const char *str, GError **errp);

/*
 * The full form that qio_socket_address_parse() turns back into an equal
 * address, options included: "localhost:10809,ipv4=on".  A non-tight
 * abstract name has no spelling and is formatted as a tight one.
 */
char *qio_socket_address_format(const QIOSocketAddress *addr);

/*
 * A short form for messages and channel names, without options:
 * "127.0.0.1:10809", "[::1]:10809", "unix:/run/x.sock", "unix:@name",
 * "fd:3", "vsock:2:1024".  An unnamed UNIX socket (one end of a
 * socketpair, a client that never bound) shows as "unix:".
 */
char *qio_socket_address_to_string(const QIOSocketAddress *addr);

/*
 * Translate a result of getsockname()/getpeername()/accept().  Internet
 * addresses come back numeric (numeric=on) with a numeric port.  Fails with
 * QIO_ERROR_NOT_SUPPORTED for other families.
 */
QIOSocketAddress *qio_socket_address_from_sockaddr(const struct sockaddr *sa,
                                                   socklen_t salen,
                                                   GError **errp);

/*
 * Build the struct sockaddr for @addr.  Internet addresses must already be
 * numeric (see QIODNSResolver) and have a numeric port; fd addresses have
 * no sockaddr (QIO_ERROR_NOT_SUPPORTED).
 */
bool qio_socket_address_to_sockaddr(const QIOSocketAddress *addr,
                                    struct sockaddr_storage *ss,
                                    socklen_t *sslen, GError **errp);

/*
 * The address families an internet address allows, from its ipv4/ipv6
 * preferences (see QIOInetSocketAddress).  Fails with
 * QIO_ERROR_INVALID_ARGUMENT when both are off.
 */
bool qio_socket_address_inet_families(const QIOInetSocketAddress *inet,
                                      bool *want_ipv4, bool *want_ipv6,
                                      GError **errp);

G_END_DECLS
