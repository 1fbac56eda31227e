/*
 * A small NBD server for the functional tests, until the qio-nbd tool
 * exists: listens on one address, serves the given exports with
 * NBDServer, and runs until killed (or --max-seconds passes, so that a
 * forgotten server cannot outlive its test).
 *
 *   nbd-test-server [--object OBJ]... [--tls-creds ID] [--tls-authz ID]
 *                   [--handshake-timeout MS] [--max-seconds N]
 *                   ADDRESS NAME=PATH[:ro]...
 *
 * "listening" is printed on stdout once clients can connect.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto/init.h"
#include "crypto/tls-creds.h"
#include "io/channel-socket.h"
#include "io/conn-service.h"
#include "io/socket-address.h"
#include "nbd/server.h"
#include "qom/object-cli.h"

int main(int argc, char **argv)
{
    g_autoptr(GError) err = NULL;
    g_auto(GStrv) objects = NULL;
    g_autofree char *creds_id = NULL;
    g_autofree char *authz_id = NULL;
    gint timeout_ms = NBD_SERVER_HANDSHAKE_TIMEOUT_MS;
    gint max_seconds = 60;
    GOptionEntry entries[] = {
        { "object", 0, 0, G_OPTION_ARG_STRING_ARRAY, &objects,
          "create an object", "OBJ" },
        { "tls-creds", 0, 0, G_OPTION_ARG_STRING, &creds_id,
          "TLS credentials object id", "ID" },
        { "tls-authz", 0, 0, G_OPTION_ARG_STRING, &authz_id,
          "authorization object id", "ID" },
        { "handshake-timeout", 0, 0, G_OPTION_ARG_INT, &timeout_ms,
          "negotiation time limit in ms", "MS" },
        { "max-seconds", 0, 0, G_OPTION_ARG_INT, &max_seconds,
          "exit after this long", "N" },
        { NULL },
    };
    g_autoptr(GOptionContext) ctx =
        g_option_context_new("ADDRESS NAME=PATH[:ro]...");
    g_autoptr(QIOSocketAddress) addr = NULL;
    g_autoptr(NBDServer) server = NULL;
    g_autoptr(QIOConnService) svc = NULL;
    g_autoptr(GMainLoop) loop = NULL;
    QCryptoTLSCreds *creds = NULL;

    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!g_option_context_parse(ctx, &argc, &argv, &err) || argc < 3) {
        fprintf(stderr, "nbd-test-server: %s\n",
                err ? err->message : "need ADDRESS and an export");
        return 2;
    }
    if (!qcrypto_init(&err)) {
        goto fail;
    }
    for (char **o = objects; o && *o; o++) {
        if (!qom_object_add_from_cli(*o, &err)) {
            goto fail;
        }
    }
    if (creds_id) {
        creds = qom_object_find_typed(creds_id, QCRYPTO_TYPE_TLS_CREDS, &err);
        if (!creds) {
            goto fail;
        }
    }
    server = nbd_server_new(creds, authz_id, &err);
    if (!server) {
        goto fail;
    }
    for (int i = 2; i < argc; i++) {
        g_autofree char *spec = g_strdup(argv[i]);
        char *eq = strchr(spec, '=');
        bool ro = g_str_has_suffix(spec, ":ro");

        if (!eq) {
            fprintf(stderr,
                    "nbd-test-server: export '%s' is not "
                    "NAME=PATH[:ro]\n",
                    spec);
            return 2;
        }
        *eq = '\0';
        if (ro) {
            eq[1 + strlen(eq + 1) - 3] = '\0';
        }
        if (!nbd_server_add_export(server, spec, NULL, eq + 1, ro, &err)) {
            goto fail;
        }
    }
    addr = qio_socket_address_parse(argv[1], &err);
    if (!addr) {
        goto fail;
    }
    svc = qio_conn_service_new("nbd-test-server", QIO_CONN_SERVICE_THREAD,
                               nbd_server_handle_conn, server, NULL);
    qio_conn_service_set_handshake_limit(svc, timeout_ms);
    if (qio_conn_service_listen(svc, &addr, 1, &err) < 0) {
        goto fail;
    }
    if (max_seconds > 0) {
        alarm(max_seconds); /* SIGALRM's default action ends us */
    }
    printf("listening\n");
    fflush(stdout);
    loop = g_main_loop_new(NULL, FALSE);
    g_main_loop_run(loop);
    return 0;

fail:
    fprintf(stderr, "nbd-test-server: %s\n", err->message);
    return 1;
}
