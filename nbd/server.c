/*
 * NBD server: the NBDServer object, its registry of exports, and the
 * lifecycle of its clients.
 *
 * Each client runs on a thread of its own, blocking on its channel:
 * option negotiation (server-negotiate.c), then the transmission phase
 * (server-transmit.c) over an export backend (export-file.c).  Served
 * through a QIOConnService (nbd_server_handle_conn()), the thread is the
 * service's, and so are the handshake deadline and the idle limit.
 *
 * Copyright (c) qio contributors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <string.h>

#include "crypto/tls-creds.h"
#include "io/error.h"
#include "server-internal.h"

G_DEFINE_TYPE(NBDServer, nbd_server, G_TYPE_OBJECT)

/* ---- Exports ------------------------------------------------------------ */

static void nbd_export_free(gpointer p)
{
    NBDExport *exp = p;

    exp->ops->close(exp);
}

/*
 * Exports are only ever added (until finalize), so a pointer stays valid;
 * the lock guards the array, which may grow while clients are served.
 */
NBDExport *nbd_server_export_at(NBDServer *server, guint i)
{
    NBDExport *exp = NULL;

    g_mutex_lock(&server->lock);
    if (i < server->exports->len) {
        exp = g_ptr_array_index(server->exports, i);
    }
    g_mutex_unlock(&server->lock);
    return exp;
}

NBDExport *nbd_server_find_export(NBDServer *server, const char *name)
{
    NBDExport *exp;

    for (guint i = 0; (exp = nbd_server_export_at(server, i)); i++) {
        if (g_str_equal(exp->name, name)) {
            return exp;
        }
    }
    /* The empty name asks for the default export: the first one added. */
    return *name ? NULL : nbd_server_export_at(server, 0);
}

bool nbd_server_add_export(NBDServer *server, const char *name,
                           const char *description, const char *path,
                           bool readonly, GError **errp)
{
    NBDExportOptions opts = {
        .description = description,
        .readonly = readonly,
        .discard = true,
        .multi_conn = true,
    };

    return nbd_server_add_export_full(server, name, path, &opts, errp);
}

bool nbd_server_add_export_full(NBDServer *server, const char *name,
                                const char *path, const NBDExportOptions *opts,
                                GError **errp)
{
    static const NBDExportOptions defaults;
    const char *description;
    NBDExport *exp;

    g_return_val_if_fail(NBD_IS_SERVER(server), false);
    opts = opts ? opts : &defaults;
    description = opts->description;
    if (strlen(name) > NBD_MAX_STRING_LENGTH ||
        (description && strlen(description) > NBD_MAX_STRING_LENGTH)) {
        g_set_error(errp, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT,
                    "NBD export '%.64s...': name and description must be "
                    "at most %d bytes",
                    name, NBD_MAX_STRING_LENGTH);
        return false;
    }
    for (guint i = 0; (exp = nbd_server_export_at(server, i)); i++) {
        if (g_str_equal(exp->name, name)) {
            g_set_error(errp, QIO_ERROR, QIO_ERROR_EXISTS,
                        "NBD export '%s' already exists; pick another name",
                        name);
            return false;
        }
    }
    exp = nbd_file_export_open(name, path, opts, errp);
    if (!exp) {
        return false;
    }
    g_mutex_lock(&server->lock);
    g_ptr_array_add(server->exports, exp);
    g_mutex_unlock(&server->lock);
    return true;
}

/* ---- Client threads ------------------------------------------------------ */

static void nbd_conn_free(NBDServerConn *client)
{
    if (client->ioc != client->master) {
        g_object_unref(client->ioc);
    }
    g_object_unref(client->master);
    g_free(client->meta_export);
    g_mutex_clear(&client->send_lock);
    g_free(client);
}

/*
 * Runs a client in the calling thread, which frees it; the server only
 * counts clients, and nbd_server_shutdown() waits for the count to reach
 * zero.  The handshake deadline and the idle limit are the connection
 * service's (client->conn): no thread here waits for them.
 */
static void nbd_conn_run(NBDServerConn *client)
{
    NBDServer *server = client->server;
    bool last;
    bool ok;

    ok = nbd_negotiate(client);
    if (ok && client->conn) {
        qio_conn_set_negotiated(client->conn);
    }
    if (ok) {
        nbd_transmission(client);
    }
    qio_channel_shutdown(client->master, QIO_CHANNEL_SHUTDOWN_BOTH, NULL);

    g_mutex_lock(&server->lock);
    server->clients = g_list_remove(server->clients, client);
    g_mutex_unlock(&server->lock);
    nbd_conn_free(client);

    /*
     * Counted out, but still using the server while it trims: shutdown
     * waits for the leaving too.
     */
    g_mutex_lock(&server->lock);
    last = --server->nclients == 0;
    server->nleaving++;
    g_mutex_unlock(&server->lock);
    if (last) {
        /* Nobody to reuse them soon: idle buffers go back. */
        nbd_mem_trim(server);
    }
    g_mutex_lock(&server->lock);
    server->nleaving--;
    g_cond_broadcast(&server->cond);
    g_mutex_unlock(&server->lock);
}

static NBDServerConn *nbd_server_add_client(NBDServer *server, QIOChannel *ioc,
                                            QIOConn *conn, GError **errp)
{
    NBDServerConn *client;

    if (qio_channel_set_blocking(ioc, true, errp) < 0) {
        return NULL;
    }
    /* Replies are whole messages: Nagle would only hold small ones back. */
    qio_channel_set_delay(ioc, false);
    client = g_new0(NBDServerConn, 1);
    client->server = server;
    client->master = g_object_ref(ioc);
    client->ioc = client->master;
    client->conn = conn;
    g_mutex_init(&client->send_lock);

    g_mutex_lock(&server->lock);
    if (server->shut_down) {
        g_mutex_unlock(&server->lock);
        g_set_error(errp, QIO_ERROR, QIO_ERROR_CLOSED,
                    "NBD server is shut down; not serving %s",
                    qio_channel_get_name(ioc));
        nbd_conn_free(client);
        return NULL;
    }
    server->clients = g_list_prepend(server->clients, client);
    server->nclients++;
    g_mutex_unlock(&server->lock);
    return client;
}

void nbd_server_run_client(NBDServer *server, QIOChannel *ioc)
{
    g_autoptr(GError) err = NULL;
    NBDServerConn *client;

    g_return_if_fail(NBD_IS_SERVER(server));
    g_return_if_fail(QIO_IS_CHANNEL(ioc));
    client = nbd_server_add_client(server, ioc, NULL, &err);
    if (!client) {
        g_info("%s", err->message);
        return;
    }
    nbd_conn_run(client);
}

void nbd_server_handle_conn(QIOConn *conn, gpointer opaque)
{
    NBDServer *server = opaque;
    g_autoptr(GError) err = NULL;
    NBDServerConn *client;

    g_return_if_fail(NBD_IS_SERVER(server));
    client =
        nbd_server_add_client(server, qio_conn_get_channel(conn), conn, &err);
    if (!client) {
        g_info("%s", err->message);
        return;
    }
    nbd_conn_run(client);
}

guint nbd_server_get_client_count(NBDServer *server)
{
    guint n;

    g_return_val_if_fail(NBD_IS_SERVER(server), 0);
    g_mutex_lock(&server->lock);
    n = server->nclients;
    g_mutex_unlock(&server->lock);
    return n;
}

void nbd_server_shutdown(NBDServer *server)
{
    g_return_if_fail(NBD_IS_SERVER(server));
    g_mutex_lock(&server->lock);
    server->shut_down = true;
    /* A client frees itself only after leaving the list, under the lock. */
    for (GList *l = server->clients; l; l = l->next) {
        NBDServerConn *client = l->data;
        qio_channel_shutdown(client->master, QIO_CHANNEL_SHUTDOWN_BOTH, NULL);
    }
    /* Readers waiting for memory wake and leave. */
    nbd_mem_stop(server);
    while (server->nclients || server->nleaving) {
        g_cond_wait(&server->cond, &server->lock);
    }
    g_mutex_unlock(&server->lock);
}

void nbd_server_set_memory_limits(NBDServer *server, size_t total,
                                  size_t per_client)
{
    g_return_if_fail(NBD_IS_SERVER(server));
    nbd_mem_set_limits(server, total, per_client);
}

size_t nbd_server_get_buffer_bytes(NBDServer *server)
{
    g_return_val_if_fail(NBD_IS_SERVER(server), 0);
    return g_atomic_pointer_get(&server->buf_bytes);
}

NBDServer *nbd_server_new(QCryptoTLSCreds *tls_creds, const char *tls_authz,
                          GError **errp)
{
    NBDServer *server;

    if (tls_authz && !tls_creds) {
        g_set_error(errp, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT,
                    "NBD server: tls-authz '%s' needs TLS credentials; "
                    "did you forget --tls-creds?",
                    tls_authz);
        return NULL;
    }
    if (tls_creds && !qcrypto_tls_creds_check_endpoint(
                         tls_creds, QCRYPTO_TLS_CREDS_ENDPOINT_SERVER, errp)) {
        return NULL;
    }
    server = g_object_new(NBD_TYPE_SERVER, NULL);
    server->tls_creds = tls_creds ? g_object_ref(tls_creds) : NULL;
    server->tls_authz = g_strdup(tls_authz);
    return server;
}

static void nbd_server_finalize(GObject *obj)
{
    NBDServer *server = NBD_SERVER(obj);

    nbd_server_shutdown(server);
    g_clear_object(&server->tls_creds);
    g_free(server->tls_authz);
    g_ptr_array_unref(server->exports);
    nbd_mem_clear(server);
    g_mutex_clear(&server->lock);
    g_cond_clear(&server->cond);
    G_OBJECT_CLASS(nbd_server_parent_class)->finalize(obj);
}

static void nbd_server_init(NBDServer *server)
{
    server->exports = g_ptr_array_new_with_free_func(nbd_export_free);
    g_mutex_init(&server->lock);
    g_cond_init(&server->cond);
    nbd_mem_init(server);
}

static void nbd_server_class_init(NBDServerClass *klass)
{
    G_OBJECT_CLASS(klass)->finalize = nbd_server_finalize;
}
