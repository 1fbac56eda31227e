/*
 * Throughput of QIOChannelTLS against plain gnutls record calls on the
 * same kind of socket pair with the same credentials and priority, one
 * writer thread and one reader thread, plus the AES-GCM figure that
 * "gnutls-cli --benchmark-ciphers" reports for this CPU (one core,
 * encryption only: an upper bound for one direction).
 *
 * The contenders run interleaved (raw, channel, raw, channel, ...) so that
 * background noise hits both alike; medians and the channel/raw ratio are
 * printed for a UNIX socketpair and for TCP over 127.0.0.1, with the
 * negotiated cipher and whether kernel TLS engaged.  A program to run,
 * not a pass/fail test.
 *
 *   bench-io-channel-tls [--size MiB] [--rounds N] [--chunk KiB]
 *                        [--ktls] [--no-cipher-bench]
 *
 * --ktls re-runs the program with GNUTLS_SYSTEM_PRIORITY_FILE pointing at
 * a configuration with "[global] ktls = true" (gnutls reads it when it
 * loads, so it cannot be switched on later in the same process).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <gio/gio.h>
#include <gnutls/gnutls.h>
#include <gnutls/socket.h>
#include <gnutls/x509.h>

#include "bench-util.h"
#include "crypto/pki.h"
#include "crypto/tls-creds.h"
#include "io/channel-socket.h"
#include "io/channel-tls.h"
#include "qom/object.h"

typedef struct {
    char *dir;
    QCryptoTLSCreds *server;
    QCryptoTLSCreds *client;
} Creds;

/* ---- Credentials -------------------------------------------------------- */

static QCryptoPKICert *mint(const char *cn, bool ca, const char *purpose,
                            QCryptoPKICert *issuer, const char *dir,
                            const char *certfile, const char *keyfile)
{
    static const char *const dns[] = { "localhost", NULL };
    static const char *const ips[] = { "127.0.0.1", NULL };
    const char *kp[] = { purpose, NULL };
    QCryptoPKICertReq req = {
        .common_name = cn,
        .dns_names = ca ? NULL : dns,
        .ip_addrs = ca ? NULL : ips,
        .basic_constraints = QCRYPTO_PKI_EXT_CRITICAL,
        .is_ca = ca,
        .path_len = -1,
        .key_usage = QCRYPTO_PKI_EXT_CRITICAL,
        .key_usage_bits = ca ? GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN
                             : GNUTLS_KEY_DIGITAL_SIGNATURE,
        .key_purpose =
            ca ? QCRYPTO_PKI_EXT_ABSENT : QCRYPTO_PKI_EXT_NONCRITICAL,
        .key_purpose_oids = ca ? NULL : kp,
    };
    g_autoptr(GError) err = NULL;
    g_autofree char *cpath = g_build_filename(dir, certfile, NULL);
    g_autofree char *kpath =
        keyfile ? g_build_filename(dir, keyfile, NULL) : NULL;
    QCryptoPKICert *cert = qcrypto_pki_cert_new(&req, issuer, &err);

    if (!cert || !qcrypto_pki_cert_write(cert, cpath, &err) ||
        (kpath && !qcrypto_pki_key_write(cert, kpath, NULL, &err))) {
        g_error("minting %s: %s", cn, err->message);
    }
    return cert;
}

static void creds_make(Creds *c)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(QCryptoPKICert) ca = NULL;
    g_autoptr(QCryptoPKICert) srv = NULL;
    g_autoptr(QCryptoPKICert) cli = NULL;
    GObject *obj;

    c->dir = g_dir_make_tmp("qio-bench-tls-XXXXXX", &err);
    if (!c->dir) {
        g_error("%s", err->message);
    }
    ca = mint("bench CA", true, NULL, NULL, c->dir, "ca-cert.pem", NULL);
    srv = mint("localhost", false, GNUTLS_KP_TLS_WWW_SERVER, ca, c->dir,
               "server-cert.pem", "server-key.pem");
    cli = mint("bench client", false, GNUTLS_KP_TLS_WWW_CLIENT, ca, c->dir,
               "client-cert.pem", "client-key.pem");

    obj = qom_object_add_props("tls-creds-x509", "bench-server", &err,
                               "endpoint", "server", "dir", c->dir, NULL);
    if (!obj) {
        g_error("%s", err->message);
    }
    c->server = QCRYPTO_TLS_CREDS(obj);
    obj = qom_object_add_props("tls-creds-x509", "bench-client", &err,
                               "endpoint", "client", "dir", c->dir, NULL);
    if (!obj) {
        g_error("%s", err->message);
    }
    c->client = QCRYPTO_TLS_CREDS(obj);
}

static void creds_free(Creds *c)
{
    static const char *const files[] = {
        "ca-cert.pem",     "server-cert.pem", "server-key.pem",
        "client-cert.pem", "client-key.pem",
    };

    qom_object_del("bench-server", NULL);
    qom_object_del("bench-client", NULL);
    for (size_t i = 0; i < G_N_ELEMENTS(files); i++) {
        g_autofree char *p = g_build_filename(c->dir, files[i], NULL);

        unlink(p);
    }
    rmdir(c->dir);
    g_free(c->dir);
}

/* ---- Raw gnutls --------------------------------------------------------- */

typedef struct {
    gnutls_session_t s;
    QIOChannelTLS *tioc;
    size_t total;
    size_t chunk;
    int ret;
} Side;

static gnutls_session_t raw_session(QCryptoTLSCreds *creds, bool server, int fd)
{
    g_autoptr(QCryptoTLSCredsHandle) h = qcrypto_tls_creds_get_handle(creds);
    g_autofree char *prio = qcrypto_tls_creds_get_priority(creds);
    gnutls_session_t s;

    if (gnutls_init(&s, server ? GNUTLS_SERVER : GNUTLS_CLIENT) < 0 ||
        gnutls_priority_set_direct(s, prio, NULL) < 0 ||
        gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE,
                               qcrypto_tls_creds_handle_get_gnutls(h)) < 0) {
        g_error("raw gnutls session setup failed");
    }
    if (server) {
        gnutls_certificate_server_set_request(s, GNUTLS_CERT_REQUIRE);
    } else {
        /* The same checks the channel makes, done by gnutls. */
        gnutls_session_set_verify_cert(s, "localhost", 0);
    }
    gnutls_transport_set_int(s, fd);
    return s;
}

static gpointer raw_handshake_thread(gpointer opaque)
{
    Side *side = opaque;

    do {
        side->ret = gnutls_handshake(side->s);
    } while (side->ret < 0 && !gnutls_error_is_fatal(side->ret));
    return NULL;
}

static gpointer raw_writer(gpointer opaque)
{
    Side *w = opaque;
    g_autofree char *buf = g_malloc0(w->chunk);
    size_t done = 0;

    while (done < w->total) {
        size_t n = MIN(w->chunk, w->total - done);
        size_t off = 0;

        while (off < n) {
            ssize_t r = gnutls_record_send(w->s, buf + off, n - off);

            if (r < 0) {
                if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) {
                    continue;
                }
                g_error("gnutls_record_send: %s", gnutls_strerror(r));
            }
            off += r;
        }
        done += n;
    }
    return NULL;
}

static void raw_reader(Side *r)
{
    g_autofree char *buf = g_malloc(r->chunk);
    size_t done = 0;

    while (done < r->total) {
        ssize_t n = gnutls_record_recv(r->s, buf, r->chunk);

        if (n < 0) {
            if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
                continue;
            }
            g_error("gnutls_record_recv: %s", gnutls_strerror(n));
        }
        if (n == 0) {
            g_error("unexpected end of TLS stream");
        }
        done += n;
    }
}

/* ---- Channel ------------------------------------------------------------ */

static gpointer chan_handshake_thread(gpointer opaque)
{
    Side *side = opaque;
    g_autoptr(GError) err = NULL;

    side->ret = qio_channel_tls_handshake_sync(side->tioc, &err);
    if (side->ret < 0) {
        g_error("handshake: %s", err->message);
    }
    return NULL;
}

static gpointer chan_writer(gpointer opaque)
{
    Side *w = opaque;

    bench_channel_send(QIO_CHANNEL(w->tioc), w->total, w->chunk);
    return NULL;
}

static void chan_reader(Side *r)
{
    bench_channel_receive(QIO_CHANNEL(r->tioc), r->total, r->chunk);
}

/* ---- One transfer ------------------------------------------------------- */

typedef struct {
    double mibs;
    char cipher[64];
    int ktls; /* GNUTLS_KTLS_* of the sending side */
} Result;

static Result run_once(Creds *creds, bool tcp, bool channel, size_t total,
                       size_t chunk)
{
    Side w = { .total = total, .chunk = chunk };
    Side r = { .total = total, .chunk = chunk };
    Result res = { 0 };
    GThread *thread;
    gint64 start, end;
    int fds[2];

    bench_make_pair(tcp, fds);
    if (channel) {
        g_autoptr(GError) err = NULL;
        g_autoptr(QIOChannelSocket) a = qio_channel_socket_new_fd(fds[0], &err);
        g_autoptr(QIOChannelSocket) b =
            a ? qio_channel_socket_new_fd(fds[1], &err) : NULL;

        if (!b) {
            g_error("%s", err->message);
        }
        w.tioc = qio_channel_tls_new_client(QIO_CHANNEL(a), creds->client,
                                            "localhost", &err);
        r.tioc = w.tioc ? qio_channel_tls_new_server(QIO_CHANNEL(b),
                                                     creds->server, NULL, &err)
                        : NULL;
        if (!r.tioc) {
            g_error("%s", err->message);
        }
        thread = g_thread_new("handshake", chan_handshake_thread, &r);
        chan_handshake_thread(&w);
    } else {
        w.s = raw_session(creds->client, false, fds[0]);
        r.s = raw_session(creds->server, true, fds[1]);
        thread = g_thread_new("handshake", raw_handshake_thread, &r);
        raw_handshake_thread(&w);
    }
    g_thread_join(thread);
    if (!channel && (w.ret < 0 || r.ret < 0)) {
        g_error("raw handshake: %s",
                gnutls_strerror(w.ret < 0 ? w.ret : r.ret));
    }

    start = g_get_monotonic_time();
    if (channel) {
        thread = g_thread_new("writer", chan_writer, &w);
        chan_reader(&r);
    } else {
        thread = g_thread_new("writer", raw_writer, &w);
        raw_reader(&r);
    }
    g_thread_join(thread);
    end = g_get_monotonic_time();
    res.mibs = bench_mib_per_s(total, start, end);

    if (channel) {
        QCryptoTLSSession *sess = qio_channel_tls_get_session(w.tioc);
        QCryptoTLSSessionKTLS k = qcrypto_tls_session_get_ktls(sess);

        g_strlcpy(res.cipher, qcrypto_tls_session_get_cipher(sess),
                  sizeof(res.cipher));
        res.ktls = (k & QCRYPTO_TLS_KTLS_SEND ? GNUTLS_KTLS_SEND : 0) |
                   (k & QCRYPTO_TLS_KTLS_RECV ? GNUTLS_KTLS_RECV : 0);
        g_object_unref(w.tioc); /* closes the sockets */
        g_object_unref(r.tioc);
    } else {
        g_strlcpy(res.cipher, gnutls_cipher_get_name(gnutls_cipher_get(w.s)),
                  sizeof(res.cipher));
        res.ktls = gnutls_transport_is_ktls_enabled(w.s);
        gnutls_deinit(w.s);
        gnutls_deinit(r.s);
        close(fds[0]);
        close(fds[1]);
    }
    return res;
}

static const char *ktls_text(int k)
{
    switch (k & GNUTLS_KTLS_DUPLEX) {
    case GNUTLS_KTLS_DUPLEX:
        return "on";
    case GNUTLS_KTLS_SEND:
        return "send only";
    case GNUTLS_KTLS_RECV:
        return "recv only";
    default:
        return "off";
    }
}

/*
 * The AEAD lines of "gnutls-cli --benchmark-ciphers", which come first;
 * the rest of its run (a minute or two) is not waited for.
 */
static void cipher_bench(void)
{
    const char *argv[] = { "gnutls-cli", "--benchmark-ciphers", NULL };
    g_autoptr(GError) err = NULL;
    g_autoptr(GSubprocess) proc = g_subprocess_newv(
        argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_MERGE,
        &err);
    g_autoptr(GDataInputStream) in = NULL;
    int found = 0;

    if (!proc) {
        printf("gnutls-cli --benchmark-ciphers: not available (%s)\n",
               err->message);
        return;
    }
    in = g_data_input_stream_new(g_subprocess_get_stdout_pipe(proc));
    for (int lines = 0; lines < 20 && found < 2; lines++) {
        g_autofree char *line =
            g_data_input_stream_read_line(in, NULL, NULL, NULL);

        if (!line) {
            break;
        }
        if (strstr(line, "AES-128-GCM") || strstr(line, "AES-256-GCM")) {
            printf("gnutls-cli --benchmark-ciphers: %s\n", g_strstrip(line));
            found++;
        }
        if (strstr(line, "cipher-MAC")) {
            break; /* past the AEAD section */
        }
    }
    if (!found) {
        printf("gnutls-cli --benchmark-ciphers: no AES-GCM line\n");
    }
    g_subprocess_force_exit(proc);
    g_subprocess_wait(proc, NULL, NULL);
}

/* Re-run ourselves with a gnutls configuration that enables kernel TLS. */
static void reexec_with_ktls(char **argv)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *path = NULL;
    int fd = g_file_open_tmp("qio-bench-ktls-XXXXXX.conf", &path, &err);

    if (fd < 0 || write(fd, "[global]\nktls = true\n", 21) != 21) {
        g_error("cannot write a gnutls configuration: %s",
                err ? err->message : g_strerror(errno));
    }
    close(fd);
    g_setenv("GNUTLS_SYSTEM_PRIORITY_FILE", path, TRUE);
    g_setenv("QIO_BENCH_KTLS_CONF", path, TRUE);
    execv("/proc/self/exe", argv);
    g_error("cannot re-run myself: %s", g_strerror(errno));
}

int main(int argc, char **argv)
{
    gboolean ktls = FALSE, no_cipher_bench = FALSE;
    GOptionEntry entries[] = {
        { "ktls", 0, 0, G_OPTION_ARG_NONE, &ktls,
          "enable kernel TLS in the gnutls configuration", NULL },
        { "no-cipher-bench", 0, 0, G_OPTION_ARG_NONE, &no_cipher_bench,
          "skip gnutls-cli --benchmark-ciphers", NULL },
        { NULL },
    };
    BenchOptions opts;
    char **orig_argv = g_strdupv(argv);
    const char *ktls_conf = g_getenv("QIO_BENCH_KTLS_CONF");
    Creds creds;

    if (!bench_parse_options("bench-io-channel-tls", entries, &opts, &argc,
                             &argv)) {
        return 1;
    }
    if (ktls && !ktls_conf) {
        reexec_with_ktls(orig_argv);
    }
    g_strfreev(orig_argv);

    qcrypto_tls_creds_register_types();
    creds_make(&creds);

    if (!no_cipher_bench) {
        cipher_bench();
    }
    printf("TLS channel vs raw gnutls records: %d MiB per transfer, "
           "%d KiB calls, %d interleaved rounds, medians%s\n",
           opts.size_mib, opts.chunk_kib, opts.rounds,
           ktls_conf ? ", gnutls config [global] ktls = true" : "");
    for (int tcp = 0; tcp <= 1; tcp++) {
        g_autofree double *raw = g_new(double, opts.rounds);
        g_autofree double *chan = g_new(double, opts.rounds);
        Result rr = { 0 }, rc = { 0 };

        for (int i = 0; i < opts.rounds; i++) {
            rr = run_once(&creds, tcp, false, opts.total, opts.chunk);
            raw[i] = rr.mibs;
            rc = run_once(&creds, tcp, true, opts.total, opts.chunk);
            chan[i] = rc.mibs;
        }
        double mr = bench_median(raw, opts.rounds);
        double mc = bench_median(chan, opts.rounds);

        printf("%-16s raw %7.0f MiB/s   channel %7.0f MiB/s   ratio %.3f   "
               "%s, kTLS raw %s / channel %s\n",
               bench_pair_name(tcp), mr, mc, mc / mr, rc.cipher,
               ktls_text(rr.ktls), ktls_text(rc.ktls));
    }
    creds_free(&creds);
    if (ktls_conf) {
        unlink(ktls_conf);
    }
    return 0;
}
