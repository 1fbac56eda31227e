/*
 * channel-stack: the channel stack at work, end to end, on loopback.
 *
 * A credentials directory is minted in process (CA, server and client
 * certificates), TLS credentials and an authz rule are created from
 * --object strings exactly as a user would type them, and a file is then
 * streamed
 *
 *   file channel -> command channel `cat` -> TLS client over TCP
 *     -> TLS server (async handshake, client certificate, authz check)
 *     -> watch on a main loop -> file channel
 *
 * The SHA-256 of the input, of what crossed TLS and of the output must
 * match.  The NBD disk-export demo, built from the qio programs rather
 * than from the library, is nbd-demo.sh beside this file.
 *
 *   channel-stack [--size MIB] [FILE]
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <glib.h>

#include "crypto/init.h"
#include "crypto/pki.h"
#include "crypto/tls-creds.h"
#include "crypto/tls-session.h"
#include "io/channel-command.h"
#include "io/channel-file.h"
#include "io/channel-socket.h"
#include "io/channel-tls.h"
#include "io/net-listener.h"
#include "qom/object-cli.h"
#include "qom/object.h"

#define CHUNK       (64 * 1024)
#define CLIENT_NAME "demo-client"

typedef struct {
    QIOChannel *src;
    QIOChannel *dst;
    guint64 bytes;
    GError *err;
} Pump;

/* Copy src to dst until EOF on a thread of its own, then half-close dst. */
static void pump(Pump *p)
{
    g_autofree char *buf = g_malloc(CHUNK);

    for (;;) {
        gssize n = qio_channel_read(p->src, buf, CHUNK, &p->err);

        if (n == QIO_CHANNEL_ERR_BLOCK) {
            qio_channel_wait(p->src, G_IO_IN);
            continue;
        }
        if (n < 0) {
            return;
        }
        if (n == 0) {
            break;
        }
        if (qio_channel_write_all(p->dst, buf, n, &p->err) < 0) {
            return;
        }
        p->bytes += n;
    }
    qio_channel_shutdown(p->dst, QIO_CHANNEL_SHUTDOWN_WRITE, &p->err);
}

static gpointer feed_thread(gpointer opaque)
{
    pump(opaque);
    return NULL;
}

/* The client side: connect, TLS handshake, then relay cat's output. */
typedef struct {
    Pump pump;
    QIOSocketAddress *addr;
    char *tls_info;
} Relay;

static void relay_run(Relay *r)
{
    g_autoptr(QIOChannelSocket) sioc = qio_channel_socket_new();
    g_autoptr(QIOChannelTLS) tls = NULL;
    QCryptoTLSCreds *creds;

    if (qio_channel_socket_connect_sync(sioc, r->addr, &r->pump.err) < 0) {
        return;
    }
    creds = qom_object_find_typed("tls-client", QCRYPTO_TYPE_TLS_CREDS,
                                  &r->pump.err);
    if (!creds) {
        return;
    }
    tls = qio_channel_tls_new_client(QIO_CHANNEL(sioc), creds, "localhost",
                                     &r->pump.err);
    if (!tls || qio_channel_tls_handshake_sync(tls, &r->pump.err) < 0) {
        return;
    }
    QCryptoTLSSession *sess = qio_channel_tls_get_session(tls);
    r->tls_info =
        g_strdup_printf("%s, %s", qcrypto_tls_session_get_protocol(sess),
                        qcrypto_tls_session_get_cipher(sess));
    r->pump.dst = QIO_CHANNEL(tls);
    pump(&r->pump);
}

static gpointer relay_thread(gpointer opaque)
{
    Relay *r = opaque;

    relay_run(r);
    if (r->pump.err) {
        /* Nobody reads `cat` any more: let it and the feeder stop. */
        qio_channel_shutdown(r->pump.src, QIO_CHANNEL_SHUTDOWN_READ, NULL);
    }
    return NULL;
}

/* The server side lives on the main loop. */
typedef struct {
    GMainLoop *loop;
    QIOChannel *out;
    QIOChannelTLS *tls;
    GChecksum *sum;
    guint64 bytes;
    char *peer;
    GError *err;
} Sink;

static void sink_fail(Sink *s)
{
    g_main_loop_quit(s->loop);
}

static gboolean sink_ready(QIOChannel *ioc, GIOCondition cond, gpointer opaque)
{
    Sink *s = opaque;
    char buf[CHUNK];

    for (;;) {
        gssize n = qio_channel_read(ioc, buf, sizeof(buf), &s->err);

        if (n == QIO_CHANNEL_ERR_BLOCK) {
            return G_SOURCE_CONTINUE;
        }
        if (n <= 0) {
            g_main_loop_quit(s->loop);
            return G_SOURCE_REMOVE;
        }
        g_checksum_update(s->sum, (guchar *)buf, n);
        if (qio_channel_write_all(s->out, buf, n, &s->err) < 0) {
            sink_fail(s);
            return G_SOURCE_REMOVE;
        }
        s->bytes += n;
    }
}

static void handshake_done(QIOTask *task, gpointer opaque)
{
    Sink *s = opaque;
    QIOChannel *ioc = QIO_CHANNEL(s->tls);

    if (qio_task_propagate_error(task, &s->err) ||
        qio_channel_set_blocking(ioc, false, &s->err) < 0) {
        sink_fail(s);
        return;
    }
    s->peer = g_strdup(
        qcrypto_tls_session_get_peer_name(qio_channel_tls_get_session(s->tls)));
    qio_channel_add_watch(ioc, G_IO_IN | G_IO_HUP, sink_ready, s, NULL);
}

static void new_client(QIONetListener *listener, QIOChannelSocket *sioc,
                       gpointer opaque)
{
    Sink *s = opaque;
    QCryptoTLSCreds *creds;

    if (s->tls) {
        return; /* one client is all this demo serves */
    }
    creds =
        qom_object_find_typed("tls-server", QCRYPTO_TYPE_TLS_CREDS, &s->err);
    if (creds) {
        s->tls = qio_channel_tls_new_server(QIO_CHANNEL(sioc), creds, "authz0",
                                            &s->err);
    }
    if (!s->tls) {
        sink_fail(s);
        return;
    }
    qio_channel_tls_handshake(s->tls, handshake_done, s, NULL, NULL);
}

static char *file_sha256(const char *path, GError **errp)
{
    g_autofree char *data = NULL;
    gsize len;

    if (!g_file_get_contents(path, &data, &len, errp)) {
        return NULL;
    }
    return g_compute_checksum_for_data(G_CHECKSUM_SHA256, (guchar *)data, len);
}

static bool make_input(const char *path, gint size_mib, GError **errp)
{
    g_autoptr(GRand) rand = g_rand_new();
    gsize len = (gsize)size_mib * 1024 * 1024;
    g_autofree guint32 *data = g_malloc(len);

    for (gsize i = 0; i < len / 4; i++) {
        data[i] = g_rand_int(rand);
    }
    return g_file_set_contents(path, (char *)data, len, errp);
}

/* The temporary directory (input, output, keys) goes on every exit path. */
static char *cleanup_dir;

static void remove_tmpdir(void)
{
    const char *rm_argv[] = { "rm", "-rf", cleanup_dir, NULL };

    if (cleanup_dir) {
        g_spawn_sync(NULL, (char **)rm_argv, NULL, G_SPAWN_SEARCH_PATH, NULL,
                     NULL, NULL, NULL, NULL, NULL);
    }
}

static int fail(const char *what, GError *err)
{
    fprintf(stderr, "channel-stack: %s: %s\n", what, err ? err->message : "?");
    return 1;
}

/* Mint the PKI and create the objects from option strings. */
static bool setup_objects(const char *pkidir, GError **errp)
{
    const char *hostnames[] = { "localhost", NULL };
    const char *ips[] = { "127.0.0.1", NULL };
    QCryptoPKIDirOptions pki = {
        .dir = pkidir,
        .hostnames = hostnames,
        .ip_addrs = ips,
        .client_name = CLIENT_NAME,
    };
    g_autofree char *server = g_strdup_printf(
        "tls-creds-x509,id=tls-server,endpoint=server,dir=%s", pkidir);
    g_autofree char *client = g_strdup_printf(
        "tls-creds-x509,id=tls-client,endpoint=client,dir=%s", pkidir);
    const char *authz = "authz-simple,id=authz0,identity=CN=" CLIENT_NAME;

    if (!qcrypto_init(errp) || !qcrypto_pki_dir_init(&pki, errp)) {
        return false;
    }
    printf("minted a CA, a server certificate for localhost/127.0.0.1 and "
           "a client certificate for %s in %s\n",
           CLIENT_NAME, pkidir);
    for (const char *opt[] = { server, client, authz, NULL }, **o = opt; *o;
         o++) {
        printf("  --object %s\n", *o);
        if (!qom_object_add_from_cli(*o, errp)) {
            return false;
        }
    }
    return true;
}

int main(int argc, char **argv)
{
    gint size_mib = 32;
    GOptionEntry entries[] = {
        { "size", 's', 0, G_OPTION_ARG_INT, &size_mib,
          "size of the generated input in MiB when no FILE is given "
          "(default 32)",
          "MIB" },
        { NULL },
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("[FILE]");
    g_autoptr(GError) err = NULL;
    char *tmpdir = NULL;
    g_autofree char *pkidir = NULL;
    g_autofree char *input = NULL;
    g_autofree char *output = NULL;
    const char *cat_argv[] = { "cat", NULL };

    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
        return fail("bad command line", err);
    }
    if (argc > 2 || size_mib <= 0 || size_mib > 4096) {
        fprintf(stderr, "channel-stack: usage: channel-stack "
                        "[--size MIB (1-4096)] [FILE]\n");
        return 1;
    }
    tmpdir = g_dir_make_tmp("channel-stack-XXXXXX", &err);
    if (!tmpdir) {
        return fail("temporary directory", err);
    }
    cleanup_dir = tmpdir;
    atexit(remove_tmpdir);
    pkidir = g_build_filename(tmpdir, "pki", NULL);
    output = g_build_filename(tmpdir, "output", NULL);
    if (argc == 2) {
        input = g_strdup(argv[1]);
    } else {
        input = g_build_filename(tmpdir, "input", NULL);
        printf("generating %d MiB of random data\n", size_mib);
        if (!make_input(input, size_mib, &err)) {
            return fail("input", err);
        }
    }
    if (!setup_objects(pkidir, &err)) {
        return fail("setup", err);
    }

    g_autoptr(QIOChannelFile) fin =
        qio_channel_file_new_path(input, O_RDONLY, 0, &err);
    if (!fin) {
        return fail("input", err);
    }
    g_autoptr(QIOChannelFile) fout = qio_channel_file_new_path(
        output, O_WRONLY | O_CREAT | O_TRUNC, 0600, &err);
    if (!fout) {
        return fail("output", err);
    }
    g_autoptr(QIOChannelCommand) cmd =
        qio_channel_command_new_spawn(cat_argv, O_RDWR, &err);
    if (!cmd) {
        return fail("spawn", err);
    }

    g_autoptr(GMainLoop) loop = g_main_loop_new(NULL, FALSE);
    Sink sink = { .loop = loop,
                  .out = QIO_CHANNEL(fout),
                  .sum = g_checksum_new(G_CHECKSUM_SHA256) };
    g_autoptr(QIONetListener) listener = qio_net_listener_new();
    g_autoptr(QIOSocketAddress) any =
        qio_socket_address_parse("127.0.0.1:0", &err);
    g_autoptr(GPtrArray) bound = NULL;

    if (!any || qio_net_listener_open_sync(listener, any, 4, &err) < 0 ||
        !(bound = qio_net_listener_get_local_addresses(listener, &err))) {
        return fail("listen", err);
    }
    g_autofree char *where = qio_socket_address_to_string(bound->pdata[0]);
    qio_net_listener_set_client_func(listener, new_client, &sink, NULL);

    printf("streaming %s\n  -> file channel -> command channel `cat` -> "
           "TLS client\n  -> TCP %s -> TLS server (client certificate, "
           "authz) -> main-loop watch -> file channel\n",
           input, where);
    gint64 start = g_get_monotonic_time();
    Pump feed = { .src = QIO_CHANNEL(fin), .dst = QIO_CHANNEL(cmd) };
    Relay relay = { .pump = { .src = QIO_CHANNEL(cmd) },
                    .addr = bound->pdata[0] };
    GThread *t1 = g_thread_new("feed", feed_thread, &feed);
    GThread *t2 = g_thread_new("relay", relay_thread, &relay);

    g_main_loop_run(loop);
    if (sink.err || !sink.tls) {
        /* The client end may be blocked writing: unblock it. */
        if (sink.tls) {
            qio_channel_shutdown(QIO_CHANNEL(sink.tls),
                                 QIO_CHANNEL_SHUTDOWN_BOTH, NULL);
        }
    }
    g_thread_join(t1);
    g_thread_join(t2);
    double secs = (g_get_monotonic_time() - start) / 1e6;
    qio_net_listener_disconnect(listener);

    /* The first failure in the pipeline explains the others. */
    if (sink.err) {
        return fail("TLS server", sink.err);
    }
    if (relay.pump.err) {
        return fail("TLS client", relay.pump.err);
    }
    if (feed.err) {
        return fail("file -> command", feed.err);
    }
    /* Reaps `cat`: a non-zero exit or a signal would be an error here. */
    if (qio_channel_close(QIO_CHANNEL(cmd), &err) < 0) {
        return fail("command", err);
    }
    if (qio_channel_close(QIO_CHANNEL(fout), &err) < 0) {
        return fail("output", err);
    }

    g_autofree char *want = file_sha256(input, &err);
    if (!want) {
        return fail("input", err);
    }
    g_autofree char *got = file_sha256(output, &err);
    if (!got) {
        return fail("output", err);
    }
    const char *wire = g_checksum_get_string(sink.sum);
    int ok = g_str_equal(want, got) && g_str_equal(want, wire);

    printf("TLS: %s; client identity '%s' allowed by authz0\n",
           relay.tls_info ? relay.tls_info : "?", sink.peer);
    printf("moved %" G_GUINT64_FORMAT " bytes in %.2f s (%.0f MiB/s)\n",
           sink.bytes, secs, sink.bytes / 1048576.0 / (secs > 0 ? secs : 1));
    printf("sha256 in   %s\nsha256 wire %s\nsha256 out  %s\n", want, wire, got);
    printf("%s\n",
           ok ? "OK: the data arrived intact" : "FAILED: checksums differ");

    g_checksum_free(sink.sum);
    g_free(sink.peer);
    g_free(relay.tls_info);
    g_clear_object(&sink.tls);
    qom_object_table_clear();
    return ok ? 0 : 1;
}
