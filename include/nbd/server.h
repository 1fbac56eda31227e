/*
 * NBD server: exports files and block devices to NBD clients.
 *
 * An NBDServer holds a set of named exports and, optionally, TLS
 * credentials.  A server process serves it through a QIOConnService,
 * which accepts, owns the client threads and times each client (the
 * handshake deadline, the idle limit):
 *
 *     svc = qio_conn_service_new("nbd", QIO_CONN_SERVICE_THREAD,
 *                                nbd_server_handle_conn, server, NULL);
 *     qio_conn_service_set_handshake_limit(svc, 10 * 1000);
 *     qio_conn_service_listen(svc, &addr, 1, &err);
 *
 * Each connection then runs the whole conversation - option negotiation,
 * then the transmission phase - blocking on the service's thread for it.
 * A channel connected elsewhere (a socket pair) is handed to the same
 * service with qio_conn_service_add_client(); the service's gone
 * callback reports each client gone.  nbd_server_run_client() serves a
 * channel in the caller's thread without a service (fuzzing): no
 * deadline applies then.  With credentials, TLS is required: nothing but
 * STARTTLS and ABORT is answered in the clear.
 *
 * Copyright (c) qio contributors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#ifndef QIO_NBD_SERVER_H
#define QIO_NBD_SERVER_H

#include <glib-object.h>

#include "crypto/tls-creds.h"
#include "io/channel.h"
#include "io/conn-service.h"

G_BEGIN_DECLS

#define NBD_TYPE_SERVER nbd_server_get_type()
G_DECLARE_FINAL_TYPE(NBDServer, nbd_server, NBD, SERVER, GObject)

/*
 * Default time a client has to finish option negotiation, for the
 * connection service that serves it (qio-nbd --handshake-limit).
 */
#define NBD_SERVER_HANDSHAKE_TIMEOUT_MS 10000

/*
 * A new server.  @tls_creds (server endpoint) makes TLS mandatory; NULL
 * serves in the clear.  @tls_authz names an authorization object checked
 * against the client's identity during the TLS handshake (NULL: any
 * client the credentials accept); it needs @tls_creds.
 */
NBDServer *nbd_server_new(QCryptoTLSCreds *tls_creds, const char *tls_authz,
                          GError **errp);

/*
 * Export the regular file or block device at @path as @name (at most
 * NBD_MAX_STRING_LENGTH bytes; "" is also the default export a client
 * gets by asking for the empty name).  @description may be NULL.
 * Fails if the name is taken or the file cannot be opened.  Same as
 * nbd_server_add_export_full() with discard on and CAN_MULTI_CONN.
 */
bool nbd_server_add_export(NBDServer *server, const char *name,
                           const char *description, const char *path,
                           bool readonly, GError **errp);

/* How an export reaches its file (qemu-nbd's --cache values). */
typedef enum {
    NBD_CACHE_WRITEBACK = 0, /* page cache; FLUSH is fdatasync (default) */
    NBD_CACHE_WRITETHROUGH,  /* page cache; every write is synced */
    NBD_CACHE_NONE,          /* O_DIRECT; FLUSH is fdatasync (-n) */
    NBD_CACHE_DIRECTSYNC,    /* O_DIRECT and every write is synced */
    NBD_CACHE_UNSAFE,        /* page cache; FLUSH does nothing */
} NBDCacheMode;

/* What to do with written blocks of zeros (qemu-nbd's --detect-zeroes). */
typedef enum {
    NBD_DETECT_ZEROES_OFF = 0,
    NBD_DETECT_ZEROES_ON,    /* an all-zero WRITE becomes a zero write */
    NBD_DETECT_ZEROES_UNMAP, /* ... which may punch a hole (needs discard) */
} NBDDetectZeroes;

/*
 * Per-export settings.  All-zero is qemu-nbd's default: read-write,
 * writeback, TRIM accepted but ignored, WRITE_ZEROES writes zeros,
 * no zero detection, a single client (no CAN_MULTI_CONN).
 */
typedef struct {
    const char *description; /* NBD_INFO_DESCRIPTION, or NULL */
    bool readonly;
    NBDCacheMode cache;
    bool discard; /* --discard=unmap: TRIM and WRITE_ZEROES
                   * without NO_HOLE punch holes */
    NBDDetectZeroes detect_zeroes;
    bool multi_conn; /* announce NBD_FLAG_CAN_MULTI_CONN: the
                      * caller lets several clients in at once */
} NBDExportOptions;

/*
 * Export @path as @name with @opts (NULL: all defaults).  Errors as for
 * nbd_server_add_export(); NBD_CACHE_NONE/DIRECTSYNC on a file system
 * without O_DIRECT fails naming the file.
 */
bool nbd_server_add_export_full(NBDServer *server, const char *name,
                                const char *path, const NBDExportOptions *opts,
                                GError **errp);

/* Largest READ/WRITE payload accepted (announced in NBD_INFO_BLOCK_SIZE). */
#define NBD_SERVER_MAX_REQUEST (32u * 1024 * 1024)

/*
 * Serve one client on @ioc (a reference is taken) in the calling thread,
 * returning when it is gone; for callers that own their threads, and for
 * fuzzing.  Requests are still answered by the client's worker threads.
 */
void nbd_server_run_client(NBDServer *server, QIOChannel *ioc);

/*
 * QIOConnHandler for a QIOConnService in QIO_CONN_SERVICE_THREAD mode,
 * with the NBDServer as opaque: serves the connection's channel in the
 * calling thread.  Negotiation reaching the transmission phase is
 * reported with qio_conn_set_negotiated(), each request with
 * qio_conn_touch(), and a failed TLS handshake or tls-authz refusal with
 * qio_conn_report_refusal() (logged by the service with the peer).
 */
void nbd_server_handle_conn(QIOConn *conn, gpointer server);

/* Clients currently connected (negotiating or transmitting). */
guint nbd_server_get_client_count(NBDServer *server);

/*
 * Memory for READ and WRITE payloads.  Each client may always have
 * NBD_SERVER_CLIENT_RESERVED bytes in flight; beyond that it draws on a
 * budget the whole server shares (total), and holds at most per_client.
 * A client that has used its share is not read from until its replies
 * have gone out, so what clients that never read their replies can hold
 * is bounded by total + clients * NBD_SERVER_CLIENT_RESERVED, plus at
 * most NBD_SERVER_POOL_BYTES of idle buffers kept for reuse server-wide.
 * One request larger than what is left is still served when nothing
 * else draws on the budget.  Applies to requests read afterwards; 0
 * keeps a default.  For example, a server for many small clients:
 *
 *     nbd_server_set_memory_limits(server, 64 * 1024 * 1024,
 *                                  8 * 1024 * 1024);
 */
#define NBD_SERVER_MEMORY_LIMIT        (256u * 1024 * 1024)
#define NBD_SERVER_CLIENT_MEMORY_LIMIT (64u * 1024 * 1024)
#define NBD_SERVER_CLIENT_RESERVED     (2u * 1024 * 1024)
#define NBD_SERVER_POOL_BYTES          (16u * 1024 * 1024)
void nbd_server_set_memory_limits(NBDServer *server, size_t total,
                                  size_t per_client);

/*
 * Bytes of payload buffers the server holds now: in use by requests in
 * flight, and kept for reuse.
 */
size_t nbd_server_get_buffer_bytes(NBDServer *server);

/*
 * Disconnect every client, wait for their threads and refuse new ones.
 * Also done when the last reference goes.
 */
void nbd_server_shutdown(NBDServer *server);

G_END_DECLS

#endif /* QIO_NBD_SERVER_H */
