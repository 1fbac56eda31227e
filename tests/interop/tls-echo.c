/*
 * tls-echo: qio's end of the TLS interop tests.  A client that connects
 * to 127.0.0.1, sends one line over QIOChannelTLS and checks that the
 * same line comes back (as gnutls-serv --echo does), or a server that
 * accepts one connection, reads one line and echoes it (for gnutls-cli).
 *
 *   tls-echo --role server --x509 DIR --port-file F [--authz-identity DN]
 *   tls-echo --role server --x509 DIR --port-file F \
 *            --object authz-simple,id=auth0,identity=O=Org,,CN=client1 \
 *            --tls-authz auth0
 *   tls-echo --role client --x509 DIR --port N --hostname localhost
 *   tls-echo --role client --psk DIR --psk-user alice --port N
 *   tls-echo ... --expect-error CERT_HOSTNAME
 *
 * Exit status 0 when the exchange (or the expected failure) happened, 1
 * otherwise, with the reason on stderr.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>

#include "authz/base.h"
#include "crypto/tls-creds.h"
#include "io/channel-socket.h"
#include "io/channel-tls.h"
#include "qom/object.h"
#include "qom/object-cli.h"

#define LINE_MAX_LEN 4096

static char *opt_role;
static char *opt_x509;
static char *opt_psk;
static char *opt_psk_user;
static char *opt_hostname;
static char *opt_port_file;
static char *opt_message;
static char *opt_authz_identity;
static char **opt_objects;
static char *opt_tls_authz;
static char *opt_expect_error;
static char *opt_priority;
static gint opt_port;
static gboolean opt_no_verify;

static GOptionEntry entries[] = {
    { "role", 0, 0, G_OPTION_ARG_STRING, &opt_role, "client or server",
      "ROLE" },
    { "x509", 0, 0, G_OPTION_ARG_FILENAME, &opt_x509,
      "x509 credentials directory", "DIR" },
    { "psk", 0, 0, G_OPTION_ARG_FILENAME, &opt_psk,
      "PSK credentials directory (keys.psk)", "DIR" },
    { "psk-user", 0, 0, G_OPTION_ARG_STRING, &opt_psk_user,
      "PSK username (client)", "USER" },
    { "hostname", 0, 0, G_OPTION_ARG_STRING, &opt_hostname,
      "name the server certificate must carry (client)", "NAME" },
    { "port", 0, 0, G_OPTION_ARG_INT, &opt_port, "TCP port on 127.0.0.1", "N" },
    { "port-file", 0, 0, G_OPTION_ARG_FILENAME, &opt_port_file,
      "server: listen on a free port and write it here", "FILE" },
    { "message", 0, 0, G_OPTION_ARG_STRING, &opt_message,
      "client: the line to send", "TEXT" },
    { "authz-identity", 0, 0, G_OPTION_ARG_STRING, &opt_authz_identity,
      "server: only this client identity is allowed", "ID" },
    { "object", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt_objects,
      "create an object as qemu-nbd --object does (repeatable)", "SPEC" },
    { "tls-authz", 0, 0, G_OPTION_ARG_STRING, &opt_tls_authz,
      "server: ask the authz object with this id about the client", "ID" },
    { "expect-error", 0, 0, G_OPTION_ARG_STRING, &opt_expect_error,
      "succeed only if the handshake fails with this QCRYPTO_ERROR code "
      "(e.g. CERT_HOSTNAME)",
      "CODE" },
    { "priority", 0, 0, G_OPTION_ARG_STRING, &opt_priority,
      "gnutls priority string", "PRIO" },
    { "no-verify", 0, 0, G_OPTION_ARG_NONE, &opt_no_verify, "verify-peer=off",
      NULL },
    { NULL },
};

static const char *const code_names[] = {
    "FAILED",
    "INVALID_ARGUMENT",
    "FILE",
    "DECODE",
    "DECRYPT",
    "CERT_EXPIRED",
    "CERT_NOT_ACTIVE",
    "CERT_USAGE",
    "CERT_UNTRUSTED",
    "CERT_REVOKED",
    "CERT_HOSTNAME",
    "KEY_MISMATCH",
    "NO_CERT",
    "AUTHZ_DENIED",
    "HANDSHAKE",
    "PSK",
    "TIMED_OUT",
    "TRUNCATED",
    "ENDPOINT",
};

static const char *code_name(const GError *err)
{
    if (err->domain == QCRYPTO_ERROR && err->code >= 0 &&
        (size_t)err->code < G_N_ELEMENTS(code_names)) {
        return code_names[err->code];
    }
    return "OTHER";
}

static QCryptoTLSCreds *make_creds(bool server, GError **errp)
{
    const char *endpoint = server ? "server" : "client";
    const char *verify = opt_no_verify ? "off" : "on";
    GObject *obj;

    if (opt_x509) {
        obj = qom_object_add_props("tls-creds-x509", "tls0", errp, "endpoint",
                                   endpoint, "dir", opt_x509, "verify-peer",
                                   verify, opt_priority ? "priority" : NULL,
                                   opt_priority, NULL);
    } else if (opt_psk) {
        if (server) {
            obj = qom_object_add_props(
                "tls-creds-psk", "tls0", errp, "endpoint", endpoint, "dir",
                opt_psk, opt_priority ? "priority" : NULL, opt_priority, NULL);
        } else {
            obj = qom_object_add_props(
                "tls-creds-psk", "tls0", errp, "endpoint", endpoint, "dir",
                opt_psk, "username", opt_psk_user ? opt_psk_user : "qio",
                opt_priority ? "priority" : NULL, opt_priority, NULL);
        }
    } else {
        g_set_error(errp, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT,
                    "give --x509 DIR or --psk DIR");
        return NULL;
    }
    return obj ? QCRYPTO_TLS_CREDS(obj) : NULL;
}

/* Read one line (up to and including '\n') from @ioc. */
static char *read_line(QIOChannel *ioc, GError **errp)
{
    GString *line = g_string_new(NULL);

    while (line->len < LINE_MAX_LEN) {
        char c;
        int ret = qio_channel_read_all_eof(ioc, &c, 1, errp);

        if (ret < 0) {
            g_string_free(line, TRUE);
            return NULL;
        }
        if (ret == 0) {
            break;
        }
        g_string_append_c(line, c);
        if (c == '\n') {
            break;
        }
    }
    return g_string_free(line, FALSE);
}

static int run_client(QCryptoTLSCreds *creds, GError **errp)
{
    g_autoptr(QIOChannelSocket) sioc = qio_channel_socket_new();
    g_autoptr(QIOChannelTLS) tioc = NULL;
    g_autofree char *addrstr = g_strdup_printf("127.0.0.1:%d", opt_port);
    g_autoptr(QIOSocketAddress) addr = qio_socket_address_parse(addrstr, errp);
    g_autofree char *msg =
        g_strdup_printf("%s\n", opt_message ? opt_message : "hello from qio");
    g_autofree char *reply = NULL;

    if (!addr || qio_channel_socket_connect_sync(sioc, addr, errp) < 0) {
        return -1;
    }
    tioc = qio_channel_tls_new_client(QIO_CHANNEL(sioc), creds,
                                      opt_hostname ? opt_hostname : "127.0.0.1",
                                      errp);
    if (!tioc || qio_channel_tls_handshake_sync(tioc, errp) < 0) {
        return -1;
    }
    fprintf(stderr, "tls-echo: client: %s %s, peer '%s'\n",
            qcrypto_tls_session_get_protocol(qio_channel_tls_get_session(tioc)),
            qcrypto_tls_session_get_cipher(qio_channel_tls_get_session(tioc)),
            qcrypto_tls_session_get_peer_name(qio_channel_tls_get_session(tioc))
                ?: "");
    if (qio_channel_write_all(QIO_CHANNEL(tioc), msg, strlen(msg), errp) < 0) {
        return -1;
    }
    reply = read_line(QIO_CHANNEL(tioc), errp);
    if (!reply) {
        return -1;
    }
    if (!g_str_equal(reply, msg)) {
        g_set_error(errp, QIO_ERROR, QIO_ERROR_PROTOCOL,
                    "expected the line back, got '%s'", reply);
        return -1;
    }
    printf("%s", reply);
    qio_channel_close(QIO_CHANNEL(tioc), NULL);
    return 0;
}

static int run_server(QCryptoTLSCreds *creds, GError **errp)
{
    g_autoptr(QIOChannelSocket) lsn = qio_channel_socket_new();
    g_autoptr(QIOChannelSocket) sioc = NULL;
    g_autoptr(QIOChannelTLS) tioc = NULL;
    g_autofree char *addrstr = g_strdup_printf("127.0.0.1:%d", opt_port);
    g_autoptr(QIOSocketAddress) addr = qio_socket_address_parse(addrstr, errp);
    g_autoptr(QIOSocketAddress) local = NULL;
    g_autofree char *line = NULL;
    const char *authzid = NULL;

    if (!addr || qio_channel_socket_listen_sync(lsn, addr, 1, errp) < 0) {
        return -1;
    }
    local = qio_channel_socket_get_local_address(lsn, errp);
    if (!local) {
        return -1;
    }
    if (opt_port_file) {
        g_autofree char *port = g_strdup_printf("%s\n", local->u.inet.port);
        g_autofree char *tmp = g_strdup_printf("%s.tmp", opt_port_file);

        /* Written then renamed, so a reader never sees half a number. */
        if (!g_file_set_contents(tmp, port, -1, errp) ||
            rename(tmp, opt_port_file) < 0) {
            return -1;
        }
    }
    if (opt_authz_identity) {
        if (!qom_object_add_props("authz-simple", "auth0", errp, "identity",
                                  opt_authz_identity, NULL)) {
            return -1;
        }
        authzid = "auth0";
    } else if (opt_tls_authz) {
        authzid = opt_tls_authz;
    }

    sioc = qio_channel_socket_accept(lsn, errp);
    if (!sioc) {
        return -1;
    }
    tioc = qio_channel_tls_new_server(QIO_CHANNEL(sioc), creds, authzid, errp);
    if (!tioc || qio_channel_tls_handshake_sync(tioc, errp) < 0) {
        return -1;
    }
    fprintf(stderr, "tls-echo: server: %s %s, client '%s'\n",
            qcrypto_tls_session_get_protocol(qio_channel_tls_get_session(tioc)),
            qcrypto_tls_session_get_cipher(qio_channel_tls_get_session(tioc)),
            qcrypto_tls_session_get_peer_name(qio_channel_tls_get_session(tioc))
                ?: "");
    line = read_line(QIO_CHANNEL(tioc), errp);
    if (!line) {
        return -1;
    }
    if (!*line) {
        g_set_error(errp, QIO_ERROR, QIO_ERROR_UNEXPECTED_EOF,
                    "the client sent nothing");
        return -1;
    }
    if (qio_channel_write_all(QIO_CHANNEL(tioc), line, strlen(line), errp) <
        0) {
        return -1;
    }
    printf("%s", line);
    fflush(stdout);
    /* Wait for the client to hang up, so it reads the echo first. */
    {
        char c;

        qio_channel_read_all_eof(QIO_CHANNEL(tioc), &c, 1, NULL);
    }
    qio_channel_close(QIO_CHANNEL(tioc), NULL);
    return 0;
}

int main(int argc, char **argv)
{
    g_autoptr(GOptionContext) ctx = g_option_context_new("");
    g_autoptr(GError) err = NULL;
    QCryptoTLSCreds *creds;
    bool server;
    int ret;

    /* A test helper must never hang its test. */
    alarm(60);
    signal(SIGPIPE, SIG_IGN);

    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
        fprintf(stderr, "tls-echo: %s\n", err->message);
        return 1;
    }
    if (!opt_role || (!g_str_equal(opt_role, "client") &&
                      !g_str_equal(opt_role, "server"))) {
        fprintf(stderr, "tls-echo: --role client|server is required\n");
        return 1;
    }
    server = g_str_equal(opt_role, "server");

    qcrypto_tls_creds_register_types();
    qauthz_register_types();
    if (opt_authz_identity && opt_tls_authz) {
        fprintf(stderr, "tls-echo: use --authz-identity or --tls-authz, "
                        "not both\n");
        return 1;
    }
    /* The same strings a qemu-nbd command line would carry. */
    for (char **o = opt_objects; o && *o; o++) {
        if (!qom_object_add_from_cli(*o, &err)) {
            g_autofree char *what = qom_object_cli_describe(*o);

            fprintf(stderr, "tls-echo: --object %s: %s\n", what, err->message);
            return 1;
        }
    }
    creds = make_creds(server, &err);
    if (!creds) {
        fprintf(stderr, "tls-echo: %s\n", err->message);
        return 1;
    }
    ret = server ? run_server(creds, &err) : run_client(creds, &err);

    if (opt_expect_error) {
        if (ret == 0) {
            fprintf(stderr,
                    "tls-echo: expected error %s, but the exchange "
                    "worked\n",
                    opt_expect_error);
            return 1;
        }
        fprintf(stderr, "tls-echo: failed as expected: [%s] %s\n",
                code_name(err), err->message);
        return g_str_equal(code_name(err), opt_expect_error) ? 0 : 1;
    }
    if (ret < 0) {
        fprintf(stderr, "tls-echo: [%s] %s\n", code_name(err), err->message);
        return 1;
    }
    return 0;
}
