/*
 * NBD server: exports files and block devices to NBD clients.
 *
 * An NBDServer holds a set of named exports and, optionally, TLS
 * credentials.  The caller accepts connections (QIONetListener, a socket
 * pair, anything that yields a QIOChannel) and hands each one to
 * nbd_server_serve_client(), which runs the whole conversation - option
 * negotiation, then the transmission phase - blocking on a worker thread
 * of its own.  With credentials, TLS is required: nothing but STARTTLS
 * and ABORT is answered in the clear.
 *
 * Copyright (c) qio contributors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#ifndef QIO_NBD_SERVER_H
#define QIO_NBD_SERVER_H

#include <glib-object.h>

#include "crypto/tls-creds.h"
#include "io/channel.h"

G_BEGIN_DECLS

#define NBD_TYPE_SERVER nbd_server_get_type()
G_DECLARE_FINAL_TYPE(NBDServer, nbd_server, NBD, SERVER, GObject)

/* Default time a client has to finish option negotiation. */
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
 * Limit, in milliseconds, for a client to get from connecting to the
 * transmission phase (0: no limit).  A client still negotiating then is
 * disconnected.  Applies to clients served afterwards.
 */
void nbd_server_set_handshake_timeout(NBDServer *server, guint timeout_ms);

/*
 * Export the regular file or block device at @path as @name (at most
 * NBD_MAX_STRING_LENGTH bytes; "" is also the default export a client
 * gets by asking for the empty name).  @description may be NULL.
 * Fails if the name is taken or the file cannot be opened.
 */
bool nbd_server_add_export(NBDServer *server, const char *name,
                           const char *description, const char *path,
                           bool readonly, GError **errp);

/*
 * Serve one client on @ioc (a reference is taken) from a new worker
 * thread; the channel is put in blocking mode.  Returns false only if
 * the server is shut down.
 */
bool nbd_server_serve_client(NBDServer *server, QIOChannel *ioc,
                             GError **errp);

/* Clients currently connected (negotiating or transmitting). */
guint nbd_server_get_client_count(NBDServer *server);

/*
 * Disconnect every client, wait for their threads and refuse new ones.
 * Also done when the last reference goes.
 */
void nbd_server_shutdown(NBDServer *server);

G_END_DECLS

#endif /* QIO_NBD_SERVER_H */
