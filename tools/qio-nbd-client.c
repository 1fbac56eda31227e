/*
 * qio-nbd-client: look at and copy NBD exports named by URI, the way
 * nbdinfo and nbdcopy do, over qio's own NBD client and TLS stack.
 *
 *   qio-nbd-client info nbds://127.0.0.1/disk0?tls-certificates=/etc/pki
 *   qio-nbd-client list nbd+unix:///?socket=/run/nbd.sock
 *   qio-nbd-client copy nbd://127.0.0.1/disk0 disk.raw --connections 4
 *
 * Run as "nbdcopy" (a link or a copy with that name) it takes the copy
 * subcommand for granted, so an nbdcopy command line works as it is.  The
 * URI grammar lives in nbd/uri.c and the copy engine in nbd/copy.c; this
 * file only glues them to the command line (docs/qio-nbd-client.md).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>

#include "crypto/init.h"
#include "crypto/tls-creds.h"
#include "io/channel-socket.h"
#include "io/socket-address.h"
#include "nbd/client.h"
#include "nbd/copy.h"
#include "nbd/nbd-proto.h"
#include "nbd/uri.h"
#include "qom/object.h"
#include "qom/object-cli.h"
#include "util/error.h"
#include "util/log.h"

#define URI_CREDS_ID "nbd-uri-tls-creds"

static char **opt_objects;
static char *opt_tls_creds;
static char *opt_tls_hostname;
static gint opt_connections = 4;
static gint opt_requests = NBD_COPY_DEFAULT_REQUESTS;
static char *opt_request_size;
static gboolean opt_progress;
static gboolean opt_verbose;

static const GOptionEntry entries[] = {
    { "object", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt_objects,
      "create an object, e.g. tls-creds-x509,id=tls0,endpoint=client,"
      "dir=DIR (repeatable)",
      "SPEC" },
    { "tls-creds", 0, 0, G_OPTION_ARG_STRING, &opt_tls_creds,
      "use the TLS credentials object ID (endpoint=client) instead of the "
      "URI's",
      "ID" },
    { "tls-hostname", 0, 0, G_OPTION_ARG_STRING, &opt_tls_hostname,
      "name the server certificate must carry (default: the URI's host)",
      "NAME" },
    { "connections", 'C', 0, G_OPTION_ARG_INT, &opt_connections,
      "copy over N connections in parallel when the export allows "
      "multi-conn (default 4)",
      "N" },
    { "requests", 'R', 0, G_OPTION_ARG_INT, &opt_requests,
      "keep up to N requests in flight per connection (default 16)", "N" },
    { "request-size", 0, 0, G_OPTION_ARG_STRING, &opt_request_size,
      "bytes per read or write request, e.g. 256K or 1M (default 256K)",
      "SIZE" },
    { "progress", 'p', 0, G_OPTION_ARG_NONE, &opt_progress,
      "show a progress bar even when stderr is not a terminal", NULL },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &opt_verbose,
      "print debugging messages (on stderr)", NULL },
    { NULL },
};

/* What a connection needs, shared by the copy worker threads. */
typedef struct {
    NBDUri *uri;
    QCryptoTLSCreds *creds;
} Target;

static const char *prog = "qio-nbd-client";

static int die(const GError *err)
{
    fprintf(stderr, "%s: %s\n", prog, err->message);
    return 1;
}

static int usage_error(const char *msg)
{
    fprintf(stderr, "%s: %s (see --help)\n", prog, msg);
    return 1;
}

static bool target_init(Target *t, const char *str, GError **errp)
{
    t->uri = nbd_uri_parse(str, errp);
    if (!t->uri) {
        return false;
    }
    if (opt_tls_creds) {
        t->creds =
            qom_object_ref_typed(opt_tls_creds, QCRYPTO_TYPE_TLS_CREDS, errp);
        return t->creds != NULL;
    }
    if (t->uri->tls) {
        t->creds = nbd_uri_make_tls_creds(t->uri, URI_CREDS_ID, errp);
        return t->creds != NULL;
    }
    return true;
}

static void target_clear(Target *t)
{
    g_clear_object(&t->creds);
    g_clear_pointer(&t->uri, nbd_uri_free);
}

static NBDClient *target_connect(Target *t, GError **errp)
{
    return nbd_client_connect(t->uri->addr, t->creds, opt_tls_hostname, errp);
}

/*
 * How long an extra copy connection waits for the server's greeting.  A
 * server that announces multi-conn may still cap its clients (qemu-nbd
 * or qio-nbd -e 2) and leave further connections in its listen queue;
 * the copy engine then gives their parts to the first connection.
 */
#define EXTRA_CONNECTION_WAIT_MS 5000

static NBDClient *target_connect_extra(Target *t, GError **errp)
{
    g_autoptr(QIOChannelSocket) sioc = qio_channel_socket_new();
    g_autofree char *peer = qio_socket_address_to_string(t->uri->addr);
    const char *host = opt_tls_hostname;
    struct pollfd pfd = { .events = POLLIN };
    int ret;

    if (t->creds && !host &&
        t->uri->addr->type == QIO_SOCKET_ADDRESS_TYPE_INET) {
        host = t->uri->addr->u.inet.host;
    }
    if (qio_channel_socket_connect_sync(sioc, t->uri->addr, errp) < 0) {
        return NULL;
    }
    pfd.fd = qio_channel_socket_get_fd(sioc);
    do {
        ret = poll(&pfd, 1, EXTRA_CONNECTION_WAIT_MS);
    } while (ret < 0 && errno == EINTR);
    if (ret == 0) {
        qio_error_setg(errp, QIO_ERROR_TIMED_OUT,
                       "NBD server %s did not greet a further connection "
                       "within %d ms (does it limit its clients?)",
                       peer, EXTRA_CONNECTION_WAIT_MS);
        return NULL;
    }
    return nbd_client_new_channel(QIO_CHANNEL(sioc), peer, t->creds, host,
                                  errp);
}

/* A further connection in the transmission phase, for the copy engine. */
static NBDClient *target_open(gpointer opaque, GError **errp)
{
    Target *t = opaque;
    g_autoptr(NBDClient) c = target_connect_extra(t, errp);

    if (!c || !nbd_client_go(c, t->uri->export_name, errp)) {
        return NULL;
    }
    return g_steal_pointer(&c);
}

static char *describe_flags(uint16_t flags)
{
    static const struct {
        uint16_t bit;
        const char *name;
    } names[] = {
        { NBD_FLAG_READ_ONLY, "read-only" },
        { NBD_FLAG_SEND_FLUSH, "flush" },
        { NBD_FLAG_SEND_FUA, "fua" },
        { NBD_FLAG_ROTATIONAL, "rotational" },
        { NBD_FLAG_SEND_TRIM, "trim" },
        { NBD_FLAG_SEND_WRITE_ZEROES, "write-zeroes" },
        { NBD_FLAG_SEND_DF, "df" },
        { NBD_FLAG_CAN_MULTI_CONN, "multi-conn" },
        { NBD_FLAG_SEND_RESIZE, "resize" },
        { NBD_FLAG_SEND_CACHE, "cache" },
        { NBD_FLAG_SEND_FAST_ZERO, "fast-zero" },
        { NBD_FLAG_BLOCK_STAT_PAYLOAD, "block-status-payload" },
    };
    g_autoptr(GString) s = g_string_new(NULL);

    for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
        if (flags & names[i].bit) {
            g_string_append_printf(s, "%s%s", s->len ? " " : "", names[i].name);
        }
    }
    return g_string_free(g_steal_pointer(&s), false);
}

static int cmd_info(Target *t)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(NBDClient) c = target_open(t, &err);
    g_autofree char *flags = NULL;
    uint32_t bmin, bpref, bmax;

    if (!c) {
        return die(err);
    }
    flags = describe_flags(nbd_client_get_flags(c));
    nbd_client_get_block_sizes(c, &bmin, &bpref, &bmax);
    printf("export: \"%s\"\n", t->uri->export_name);
    if (nbd_client_get_description(c)) {
        printf("description: %s\n", nbd_client_get_description(c));
    }
    printf("size: %" G_GUINT64_FORMAT "\n", nbd_client_get_size(c));
    printf("flags: 0x%04x (%s)\n", nbd_client_get_flags(c), flags);
    printf("block size: minimum %" G_GUINT32_FORMAT
           ", preferred %" G_GUINT32_FORMAT ", maximum %" G_GUINT32_FORMAT "\n",
           bmin, bpref, bmax);
    printf("read-only: %s\n",
           nbd_client_get_flags(c) & NBD_FLAG_READ_ONLY ? "yes" : "no");
    printf("tls: %s\n", nbd_client_is_tls(c) ? "yes" : "no");
    printf("structured replies: %s\n",
           nbd_client_has_structured_replies(c) ? "yes" : "no");
    printf("extended headers: %s\n",
           nbd_client_has_extended_headers(c) ? "yes" : "no");
    nbd_client_close(c);
    return 0;
}

static int cmd_list(Target *t)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(NBDClient) c = target_connect(t, &err);
    g_auto(GStrv) names = NULL;
    g_auto(GStrv) descs = NULL;

    if (!c) {
        return die(err);
    }
    names = nbd_client_list_full(c, &descs, &err);
    if (!names) {
        return die(err);
    }
    for (size_t i = 0; names[i]; i++) {
        /* NAME, or NAME<TAB>DESCRIPTION when the server gave one. */
        printf("%s%s%s\n", names[i], descs[i][0] ? "\t" : "", descs[i]);
    }
    nbd_client_close(c);
    return 0;
}

/*
 * Redrawn on every whole percent, on stderr (a terminal, or -p): stdout
 * may be the copy's destination.
 */
static void show_progress(uint64_t done, uint64_t total, gpointer opaque)
{
    int *last = opaque;
    int pct = total ? (int)(done * 100 / total) : 100;
    char bar[51];

    if (pct == *last) {
        return;
    }
    *last = pct;
    memset(bar, '#', pct / 2);
    memset(bar + pct / 2, ' ', 50 - pct / 2);
    bar[50] = '\0';
    fprintf(stderr, "\r[%s] %3d%%%s", bar, pct, pct == 100 ? "\n" : "");
}

/* SIZE with an optional K or M suffix (powers of 1024), 512 .. 32M. */
static bool parse_request_size(const char *str, uint32_t *size)
{
    char *end;
    guint64 v;

    errno = 0;
    v = g_ascii_strtoull(str, &end, 10);
    if (errno || end == str) {
        return false;
    }
    if (*end == 'K' || *end == 'k') {
        v *= 1024;
        end++;
    } else if (*end == 'M' || *end == 'm') {
        v *= 1024 * 1024;
        end++;
    }
    if (*end || v < 512 || v > NBD_CLIENT_MAX_REQUEST) {
        return false;
    }
    *size = v;
    return true;
}

static int cmd_copy(const char *src, const char *dst)
{
    bool from_nbd = nbd_uri_has_scheme(src);
    bool to_nbd = nbd_uri_has_scheme(dst);
    const char *local = from_nbd ? dst : src;
    g_autoptr(GError) err = NULL;
    g_autoptr(NBDClient) c = NULL;
    Target t = { 0 };
    int last_pct = -1;
    NBDCopyOptions opts = {
        .connections = opt_connections,
        .requests = opt_requests,
        .connect = target_open,
        .connect_opaque = &t,
    };
    bool ok;

    if (from_nbd == to_nbd) {
        return usage_error("copy needs one NBD URI and one local file");
    }
    if (opt_connections < 1 || opt_connections > NBD_COPY_MAX_CONNECTIONS) {
        g_autofree char *msg = g_strdup_printf(
            "--connections must be from 1 to %d", NBD_COPY_MAX_CONNECTIONS);
        return usage_error(msg);
    }
    if (opt_requests < 1 || opt_requests > NBD_CLIENT_MAX_REQUESTS) {
        g_autofree char *msg = g_strdup_printf(
            "--requests must be from 1 to %d", NBD_CLIENT_MAX_REQUESTS);
        return usage_error(msg);
    }
    if (opt_request_size &&
        !parse_request_size(opt_request_size, &opts.request_size)) {
        g_autofree char *msg =
            g_strdup_printf("--request-size '%s' is not a size from 512 to 32M",
                            opt_request_size);
        return usage_error(msg);
    }
    if (opt_progress || isatty(STDERR_FILENO)) {
        opts.progress = show_progress;
        opts.progress_opaque = &last_pct;
    }
    if (!target_init(&t, from_nbd ? src : dst, &err) ||
        !(c = target_open(&t, &err))) {
        target_clear(&t);
        return die(err);
    }
    ok = nbd_copy_local(c, local, from_nbd, &opts, &err);
    if (ok) {
        nbd_client_close(c);
    }
    g_clear_pointer(&c, nbd_client_free);
    target_clear(&t);
    return ok ? 0 : die(err);
}

int main(int argc, char **argv)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GOptionContext) ctx = NULL;
    g_autofree char *base = g_path_get_basename(argv[0]);
    bool as_nbdcopy = !strcmp(base, "nbdcopy");
    const char *cmd;
    int rc;

    qutil_log_init(as_nbdcopy ? "nbdcopy" : prog);
    ctx = g_option_context_new(as_nbdcopy ? "SRC DST"
                                          : "info URI | list URI | "
                                            "copy SRC DST");
    g_option_context_set_summary(
        ctx, "Show, list and copy NBD exports named by nbd://, nbds://, "
             "nbd+unix:// and\nnbds+unix:// URIs.  One side of a copy is a "
             "local file,\n"
             "- (standard input or output) or, as the destination, null:.");
    g_option_context_add_main_entries(ctx, entries, NULL);
    if (as_nbdcopy) {
        prog = "nbdcopy";
    }
    if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
        return die(err);
    }
    qutil_log_set_verbose(opt_verbose);
    if (!qcrypto_init(&err)) {
        return die(err);
    }
    for (char **o = opt_objects; o && *o; o++) {
        if (!qom_object_add_from_cli(*o, &err)) {
            return die(err);
        }
    }
    if (as_nbdcopy) {
        if (argc != 3) {
            return usage_error("expected SRC DST");
        }
        rc = cmd_copy(argv[1], argv[2]);
    } else {
        if (argc < 2) {
            return usage_error("expected a subcommand: info, list or copy");
        }
        cmd = argv[1];
        if (!strcmp(cmd, "copy")) {
            if (argc != 4) {
                return usage_error("copy expects SRC DST");
            }
            rc = cmd_copy(argv[2], argv[3]);
        } else if (!strcmp(cmd, "info") || !strcmp(cmd, "list")) {
            Target t = { 0 };

            if (argc != 3) {
                return usage_error(!strcmp(cmd, "info") ? "info expects URI"
                                                        : "list expects URI");
            }
            if (!target_init(&t, argv[2], &err)) {
                target_clear(&t);
                return die(err);
            }
            rc = !strcmp(cmd, "info") ? cmd_info(&t) : cmd_list(&t);
            target_clear(&t);
        } else {
            g_autofree char *msg = g_strdup_printf(
                "unknown subcommand '%s' (info, list or copy)", cmd);
            return usage_error(msg);
        }
    }
    qom_object_table_clear();
    return rc;
}
