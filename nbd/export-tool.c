/*
 * qio-nbd: the qemu-nbd command line for raw images, on NBDServer.
 *
 * The options are qemu-nbd's, so that scripts written for it keep
 * working: the ones that make sense for a raw file are implemented, the
 * others (kernel device, image formats, snapshots, bitmaps, AIO modes)
 * are refused by name rather than silently ignored, because a script that
 * asks for --snapshot and gets writes to its base image would be worse
 * off than one that fails.
 *
 * Serving runs on the main loop: a QIOConnService listens, applies the
 * --shared limit, times every client (--handshake-limit, --idle-limit)
 * and runs nbd_server_handle_conn() for each on a thread of its own.  It
 * reports a client gone on the main loop, with its one count of live
 * clients, which drives the exit after the last client when
 * --persistent is not given.
 *
 * -L turns the program into a client that lists another server's
 * exports, as qemu-nbd -L does.
 *
 * Copyright (c) qio contributors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#define G_LOG_DOMAIN "qio-nbd"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib-unix.h>

#include "qio-config.h"
#include "crypto/init.h"
#include "crypto/tls-creds.h"
#include "io/conn-service.h"
#include "io/socket-address.h"
#include "nbd/client.h"
#include "nbd/export-tool.h"
#include "nbd/image-probe.h"
#include "nbd/nbd-proto.h"
#include "nbd/server.h"
#include "qom/object-cli.h"
#include "io/error.h"

enum {
    OPT_OBJECT = 256,
    OPT_TLS_CREDS,
    OPT_TLS_AUTHZ,
    OPT_HANDSHAKE_LIMIT,
    OPT_IDLE_LIMIT,
    OPT_FORK,
    OPT_PID_FILE,
    OPT_CACHE,
    OPT_DISCARD,
    OPT_DETECT_ZEROES,
    OPT_TLS_HOSTNAME,
    OPT_UNSUPPORTED, /* qemu-nbd options refused by name */
};

static const struct option long_options[] = {
    { "help", no_argument, NULL, 'h' },
    { "version", no_argument, NULL, 'V' },
    { "port", required_argument, NULL, 'p' },
    { "bind", required_argument, NULL, 'b' },
    { "socket", required_argument, NULL, 'k' },
    { "export-name", required_argument, NULL, 'x' },
    { "description", required_argument, NULL, 'D' },
    { "read-only", no_argument, NULL, 'r' },
    { "shared", required_argument, NULL, 'e' },
    { "persistent", no_argument, NULL, 't' },
    { "format", required_argument, NULL, 'f' },
    { "verbose", no_argument, NULL, 'v' },
    { "object", required_argument, NULL, OPT_OBJECT },
    { "tls-creds", required_argument, NULL, OPT_TLS_CREDS },
    { "tls-authz", required_argument, NULL, OPT_TLS_AUTHZ },
    { "handshake-limit", required_argument, NULL, OPT_HANDSHAKE_LIMIT },
    { "idle-limit", required_argument, NULL, OPT_IDLE_LIMIT },
    { "fork", no_argument, NULL, OPT_FORK },
    { "pid-file", required_argument, NULL, OPT_PID_FILE },
    { "cache", required_argument, NULL, OPT_CACHE },
    { "nocache", no_argument, NULL, 'n' },
    { "discard", required_argument, NULL, OPT_DISCARD },
    { "detect-zeroes", required_argument, NULL, OPT_DETECT_ZEROES },
    { "list", no_argument, NULL, 'L' },
    { "tls-hostname", required_argument, NULL, OPT_TLS_HOSTNAME },
    /* qemu-nbd options that a raw export cannot honour. */
    { "connect", required_argument, NULL, 'c' },
    { "disconnect", no_argument, NULL, 'd' },
    { "offset", required_argument, NULL, 'o' },
    { "allocation-depth", no_argument, NULL, 'A' },
    { "bitmap", required_argument, NULL, 'B' },
    { "snapshot", no_argument, NULL, 's' },
    { "load-snapshot", required_argument, NULL, 'l' },
    { "trace", required_argument, NULL, 'T' },
    { "image-opts", no_argument, NULL, OPT_UNSUPPORTED },
    { "aio", required_argument, NULL, OPT_UNSUPPORTED },
    { "selinux-label", required_argument, NULL, OPT_UNSUPPORTED },
    { NULL, 0, NULL, 0 },
};

/* Leading ':' reports a missing argument as ':' rather than '?'. */
static const char short_options[] = ":hVp:b:k:x:D:re:tf:vc:dLo:AB:sl:nT:";

static const char usage_text[] =
    "Usage: qio-nbd [OPTIONS] FILE\n"
    "  or:  qio-nbd -L [-k PATH | -b HOST -p PORT] [TLS OPTIONS]\n"
    "Export the raw image or block device FILE over NBD, or list the exports\n"
    "of an NBD server.\n"
    "\n"
    "  -h, --help                display this help and exit\n"
    "  -V, --version             output version information and exit\n"
    "\n"
    "Connection:\n"
    "  -p, --port=PORT           port to listen on, or with -L to connect to\n"
    "                            (default 10809)\n"
    "  -b, --bind=IFACE          address to bind to, or with -L to connect to\n"
    "                            (default 0.0.0.0; '' for every address)\n"
    "  -k, --socket=PATH         listen on (-L: connect to) a UNIX socket\n"
    "  -e, --shared=NUM          serve NUM clients at once (default 1,\n"
    "                            0 for no limit)\n"
    "  -t, --persistent          don't exit when the last client leaves\n"
    "  -x, --export-name=NAME    export name (default empty)\n"
    "  -D, --description=TEXT    human-readable export description\n"
    "  --handshake-limit=SECS    time a client has to finish negotiation,\n"
    "                            from when it is accepted (default 10, 0 for\n"
    "                            no limit)\n"
    "  --idle-limit=SECS         disconnect a client silent this long after\n"
    "                            negotiation (default 0: no limit)\n"
    "\n"
    "Security:\n"
    "  --object TYPE,id=ID,...   create an object (secret, tls-creds-x509,\n"
    "                            tls-creds-psk, authz-simple, ...);\n"
    "                            '--object help' lists the types\n"
    "  --tls-creds=ID            require TLS with these server credentials\n"
    "                            (-L: use these client credentials)\n"
    "  --tls-authz=ID            authorize TLS clients with this object\n"
    "  --tls-hostname=NAME       -L: name the server certificate must carry\n"
    "                            (default: the -b host; needed with -k)\n"
    "\n"
    "Image:\n"
    "  -f, --format=raw          image format (only raw)\n"
    "  -r, --read-only           export read-only\n"
    "  --cache=MODE              none, writeback (default), writethrough,\n"
    "                            directsync or unsafe\n"
    "  -n, --nocache             same as --cache=none (O_DIRECT)\n"
    "  --discard=MODE            ignore (or off; default) or unmap (or on):\n"
    "                            whether trims punch holes in FILE\n"
    "  --detect-zeroes=MODE      off (default), on, or unmap (needs\n"
    "                            --discard=unmap): turn written zeros into\n"
    "                            zero writes\n"
    "\n"
    "Client:\n"
    "  -L, --list                list the exports of the server at -k or\n"
    "                            -b/-p, and exit\n"
    "\n"
    "Process:\n"
    "  --fork                    run in the background once listening\n"
    "  --pid-file=PATH           write the server's process id to PATH\n"
    "  -v, --verbose             print debugging messages\n"
    "\n"
    "See qio-nbd(1) for the qemu-nbd options that are not supported.\n";

static bool parse_uint(const char *opt, const char *value, guint64 max,
                       guint64 *out, GError **errp)
{
    g_autoptr(GError) err = NULL;

    if (!g_ascii_string_to_unsigned(value, 10, 0, max, out, &err)) {
        qio_error_setg(
            errp, QIO_ERROR_INVALID_ARGUMENT,
            "option --%s: '%s' is not a number from 0 to %" G_GUINT64_FORMAT,
            opt, value, max);
        return false;
    }
    return true;
}

/* One accepted spelling of a keyword option's value. */
typedef struct {
    const char *name;
    int value;
} ToolChoice;

static const ToolChoice cache_choices[] = {
    { "none", NBD_CACHE_NONE },
    { "writeback", NBD_CACHE_WRITEBACK },
    { "writethrough", NBD_CACHE_WRITETHROUGH },
    { "directsync", NBD_CACHE_DIRECTSYNC },
    { "unsafe", NBD_CACHE_UNSAFE },
    { NULL, 0 },
};

static const ToolChoice discard_choices[] = {
    { "ignore", false }, { "off", false }, { "unmap", true },
    { "on", true },      { NULL, 0 },
};

static const ToolChoice detect_zeroes_choices[] = {
    { "off", NBD_DETECT_ZEROES_OFF },
    { "on", NBD_DETECT_ZEROES_ON },
    { "unmap", NBD_DETECT_ZEROES_UNMAP },
    { NULL, 0 },
};

/* @value looked up in @choices; the error lists every spelling. */
static bool parse_choice(const char *opt, const char *value,
                         const ToolChoice *choices, int *out, GError **errp)
{
    g_autoptr(GString) names = g_string_new(NULL);

    for (const ToolChoice *c = choices; c->name; c++) {
        if (strcmp(c->name, value) == 0) {
            *out = c->value;
            return true;
        }
        g_string_append_printf(names, "%s%s", names->len ? ", " : "", c->name);
    }
    qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                   "option --%s: '%s' is not one of %s", opt, value,
                   names->str);
    return false;
}

/* Options about the export being served, which -L cannot take. */
static bool option_serves(int c)
{
    switch (c) {
    case 'x':
    case 'D':
    case 'r':
    case 'e':
    case 't':
    case 'f':
    case 'n':
    case OPT_CACHE:
    case OPT_DISCARD:
    case OPT_DETECT_ZEROES:
    case OPT_TLS_AUTHZ:
    case OPT_HANDSHAKE_LIMIT:
    case OPT_IDLE_LIMIT:
    case OPT_FORK:
    case OPT_PID_FILE:
        return true;
    default:
        return false;
    }
}

/* The long name of the option getopt just returned, for messages. */
static const char *option_name(int c, int long_index)
{
    if (long_index >= 0) {
        return long_options[long_index].name;
    }
    for (const struct option *o = long_options; o->name; o++) {
        if (o->val == c) {
            return o->name;
        }
    }
    return "?";
}

int nbd_export_tool_parse(int argc, char **argv, NBDExportToolOptions *opts,
                          GString *out, GError **errp)
{
    bool port_given = false;
    bool bind_given = false;
    bool cache_given = false;
    const char *server_only = NULL; /* an option that -L cannot take */
    guint64 v;
    int choice;
    int c;
    int long_index = -1;

    memset(opts, 0, sizeof(*opts));
    opts->bind = g_strdup(NBD_EXPORT_TOOL_DEFAULT_BIND);
    opts->port = g_strdup(NBD_EXPORT_TOOL_DEFAULT_PORT);
    opts->export_name = g_strdup("");
    opts->shared = 1;
    opts->handshake_limit = NBD_SERVER_HANDSHAKE_TIMEOUT_MS / 1000;
    opts->objects = g_ptr_array_new_with_free_func(g_free);

    opterr = 0;
    optind = 0; /* glibc: also forget a half-parsed option cluster */
    while ((c = getopt_long(argc, argv, short_options, long_options,
                            &long_index)) != -1) {
        const char *name = option_name(c, long_index);

        long_index = -1;
        if (option_serves(c)) {
            server_only = name;
        }
        switch (c) {
        case 'h':
            g_string_append(out, usage_text);
            return 0;
        case 'V':
            g_string_append_printf(out, "qio-nbd %s\n", QIO_VERSION);
            return 0;
        case 'p':
            if (!g_ascii_string_to_unsigned(optarg, 10, 1, 65535, &v, NULL)) {
                qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                               "option --port: '%s' is not a port number "
                               "(1 to 65535)",
                               optarg);
                return -1;
            }
            g_free(opts->port);
            opts->port = g_strdup(optarg);
            port_given = true;
            break;
        case 'b':
            g_free(opts->bind);
            opts->bind = g_strdup(optarg);
            bind_given = true;
            break;
        case 'k':
            if (!*optarg || strlen(optarg) > QIO_SOCKET_ADDRESS_UNIX_PATH_MAX) {
                qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                               "option --socket: the path must be 1 to %d "
                               "bytes long",
                               QIO_SOCKET_ADDRESS_UNIX_PATH_MAX);
                return -1;
            }
            g_free(opts->socket_path);
            opts->socket_path = g_strdup(optarg);
            break;
        case 'x':
            if (strlen(optarg) > NBD_MAX_STRING_LENGTH) {
                qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                               "option --export-name: longer than %d bytes",
                               NBD_MAX_STRING_LENGTH);
                return -1;
            }
            g_free(opts->export_name);
            opts->export_name = g_strdup(optarg);
            break;
        case 'D':
            if (strlen(optarg) > NBD_MAX_STRING_LENGTH) {
                qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                               "option --description: longer than %d bytes",
                               NBD_MAX_STRING_LENGTH);
                return -1;
            }
            g_free(opts->description);
            opts->description = g_strdup(optarg);
            break;
        case 'r':
            opts->readonly = true;
            break;
        case 'e':
            if (!parse_uint("shared", optarg, G_MAXINT, &v, errp)) {
                return -1;
            }
            opts->shared = v;
            break;
        case 't':
            opts->persistent = true;
            break;
        case 'f':
            if (strcmp(optarg, "raw") != 0) {
                qio_error_setg(errp, QIO_ERROR_NOT_SUPPORTED,
                               "--format '%s' is not supported: only raw "
                               "images are",
                               optarg);
                return -1;
            }
            opts->format_raw = true;
            break;
        case 'v':
            opts->verbose = true;
            break;
        case OPT_OBJECT: {
            g_autoptr(GError) err = NULL;
            int help;

            if (!qcrypto_init(errp)) {
                return -1;
            }
            help = qom_object_cli_help(optarg, out, &err);
            if (help < 0) {
                g_autofree char *what = qom_object_cli_describe(optarg);

                qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                               "--object %s: %s", what, err->message);
                return -1;
            }
            if (help > 0) {
                return 0;
            }
            g_ptr_array_add(opts->objects, g_strdup(optarg));
            break;
        }
        case OPT_TLS_CREDS:
            g_free(opts->tls_creds);
            opts->tls_creds = g_strdup(optarg);
            break;
        case OPT_TLS_AUTHZ:
            g_free(opts->tls_authz);
            opts->tls_authz = g_strdup(optarg);
            break;
        case OPT_HANDSHAKE_LIMIT:
            if (!parse_uint("handshake-limit", optarg, G_MAXUINT / 1000, &v,
                            errp)) {
                return -1;
            }
            opts->handshake_limit = v;
            break;
        case OPT_IDLE_LIMIT:
            if (!parse_uint("idle-limit", optarg, G_MAXUINT / 1000, &v, errp)) {
                return -1;
            }
            opts->idle_limit = v;
            break;
        case OPT_FORK:
            opts->daemonize = true;
            break;
        case OPT_PID_FILE:
            g_free(opts->pid_file);
            opts->pid_file = g_strdup(optarg);
            break;
        case 'n':
        case OPT_CACHE:
            if (cache_given) {
                qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                               "options -n/--nocache and --cache can be "
                               "given only once in all");
                return -1;
            }
            cache_given = true;
            if (c == 'n') {
                opts->cache = NBD_CACHE_NONE;
                break;
            }
            if (!parse_choice("cache", optarg, cache_choices, &choice, errp)) {
                return -1;
            }
            opts->cache = choice;
            break;
        case OPT_DISCARD:
            if (!parse_choice("discard", optarg, discard_choices, &choice,
                              errp)) {
                return -1;
            }
            opts->discard = choice;
            break;
        case OPT_DETECT_ZEROES:
            if (!parse_choice("detect-zeroes", optarg, detect_zeroes_choices,
                              &choice, errp)) {
                return -1;
            }
            opts->detect_zeroes = choice;
            break;
        case 'L':
            opts->list = true;
            break;
        case OPT_TLS_HOSTNAME:
            if (!*optarg) {
                qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                               "option --tls-hostname: empty host name");
                return -1;
            }
            g_free(opts->tls_hostname);
            opts->tls_hostname = g_strdup(optarg);
            break;
        case ':':
            qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                           "option %s needs a value", argv[optind - 1]);
            return -1;
        case '?':
            if (optopt && g_str_has_prefix(argv[optind - 1], "--")) {
                qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                               "option --%s does not take a value",
                               option_name(optopt, -1));
            } else if (optopt) {
                qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                               "unrecognized option -%c (see --help)", optopt);
            } else {
                qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                               "unrecognized option %s (see --help)",
                               argv[optind - 1]);
            }
            return -1;
        default:
            /* Every other entry of the tables is a refused qemu-nbd one. */
            qio_error_setg(errp, QIO_ERROR_NOT_SUPPORTED,
                           "option --%s is not supported", name);
            return -1;
        }
    }

    if (opts->socket_path && (port_given || bind_given)) {
        qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                       "option --socket cannot be combined with --%s",
                       port_given ? "port" : "bind");
        return -1;
    }
    if (opts->list) {
        if (server_only) {
            qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                           "option --%s cannot be combined with --list",
                           server_only);
            return -1;
        }
        if (optind < argc) {
            qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                           "option --list takes no FILE, but '%s' was "
                           "given",
                           argv[optind]);
            return -1;
        }
        if (opts->tls_hostname && !opts->tls_creds) {
            qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                           "option --tls-hostname needs --tls-creds");
            return -1;
        }
        return 1;
    }
    if (opts->tls_hostname) {
        qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                       "option --tls-hostname is only for --list");
        return -1;
    }
    if (opts->detect_zeroes == NBD_DETECT_ZEROES_UNMAP && !opts->discard) {
        qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                       "option --detect-zeroes=unmap needs --discard=unmap");
        return -1;
    }
    if (optind >= argc) {
        qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                       "no FILE to export given (see --help)");
        return -1;
    }
    if (optind + 1 < argc) {
        qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                       "one FILE only, but '%s' follows '%s'", argv[optind + 1],
                       argv[optind]);
        return -1;
    }
    opts->filename = g_strdup(argv[optind]);
    if (opts->tls_authz && !opts->tls_creds) {
        qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                       "option --tls-authz needs --tls-creds");
        return -1;
    }
    return 1;
}

void nbd_export_tool_options_clear(NBDExportToolOptions *opts)
{
    g_free(opts->filename);
    g_free(opts->bind);
    g_free(opts->port);
    g_free(opts->socket_path);
    g_free(opts->export_name);
    g_free(opts->description);
    if (opts->objects) {
        g_ptr_array_unref(opts->objects);
    }
    g_free(opts->tls_creds);
    g_free(opts->tls_authz);
    g_free(opts->pid_file);
    g_free(opts->tls_hostname);
    memset(opts, 0, sizeof(*opts));
}

typedef struct ExportTool {
    const NBDExportToolOptions *opts;
    GMainLoop *loop;
    NBDServer *server;
    QIOConnService *service;
} ExportTool;

/* On the main loop, once a client is out of the service's count. */
static void export_tool_client_gone(QIOConnService *service, QIOConn *conn,
                                    gpointer opaque)
{
    ExportTool *t = opaque;
    guint live = qio_conn_service_get_n_clients(service);

    g_debug("client %s left, %u now", qio_conn_get_peer(conn), live);
    if (!t->opts->persistent && live == 0) {
        g_debug("the last client left and --persistent is not set");
        g_main_loop_quit(t->loop);
    }
}

static gboolean export_tool_signal(gpointer opaque)
{
    ExportTool *t = opaque;

    g_main_loop_quit(t->loop);
    return G_SOURCE_CONTINUE;
}

/*
 * Create the --object list, then find the --tls-creds object (NULL when
 * none is named), which must be for @endpoint.
 */
static bool export_tool_objects(const NBDExportToolOptions *opts,
                                QCryptoTLSCredsEndpoint endpoint,
                                QCryptoTLSCreds **creds, GError **errp)
{
    g_autoptr(GError) err = NULL;
    bool server = endpoint == QCRYPTO_TLS_CREDS_ENDPOINT_SERVER;

    *creds = NULL;
    if (!qcrypto_init(errp)) {
        return false;
    }
    for (guint i = 0; i < opts->objects->len; i++) {
        const char *arg = g_ptr_array_index(opts->objects, i);

        if (!qom_object_add_from_cli(arg, &err)) {
            g_autofree char *what = qom_object_cli_describe(arg);

            qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT, "--object %s: %s",
                           what, err->message);
            return false;
        }
    }
    if (!opts->tls_creds) {
        return true;
    }
    *creds =
        qom_object_find_typed(opts->tls_creds, QCRYPTO_TYPE_TLS_CREDS, &err);
    if (!*creds) {
        qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                       "option --tls-creds: %s", err->message);
        return false;
    }
    if (qcrypto_tls_creds_get_endpoint(*creds) != endpoint) {
        qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                       "option --tls-creds: TLS credentials '%s' are for "
                       "a %s; %s needs them with endpoint=%s",
                       opts->tls_creds, server ? "client" : "server",
                       server ? "serving" : "--list",
                       server ? "server" : "client");
        *creds = NULL;
        return false;
    }
    return true;
}

/*
 * The NBDServer with its credentials and the one export, after the
 * --object list has created what the options refer to.
 */
static NBDServer *export_tool_server_new(const NBDExportToolOptions *opts,
                                         GError **errp)
{
    g_autoptr(NBDServer) server = NULL;
    QCryptoTLSCreds *creds = NULL;
    NBDExportOptions eopts = {
        .description = opts->description,
        .readonly = opts->readonly,
        .cache = opts->cache,
        .discard = opts->discard,
        .detect_zeroes = opts->detect_zeroes,
        /*
         * Several clients at once: FLUSH is fdatasync() on the one file
         * descriptor they share, so a flush on any connection covers the
         * writes completed on all of them, which is the promise.
         */
        .multi_conn = opts->shared != 1,
    };

    if (!export_tool_objects(opts, QCRYPTO_TLS_CREDS_ENDPOINT_SERVER, &creds,
                             errp)) {
        return NULL;
    }
    if (opts->tls_authz && !qom_object_find(opts->tls_authz)) {
        qio_error_setg(errp, QIO_ERROR_NOT_FOUND,
                       "option --tls-authz: no object with id '%s' (create "
                       "it with --object first)",
                       opts->tls_authz);
        return NULL;
    }
    server = nbd_server_new(creds, opts->tls_authz, errp);
    if (!server) {
        return NULL;
    }
    if (!nbd_server_add_export_full(server, opts->export_name, opts->filename,
                                    &eopts, errp)) {
        return NULL;
    }
    return g_steal_pointer(&server);
}

static bool export_tool_listen(ExportTool *t, GError **errp)
{
    const NBDExportToolOptions *opts = t->opts;
    g_autoptr(QIOSocketAddress) addr = NULL;
    g_autoptr(GError) err = NULL;

    if (opts->socket_path) {
        addr = qio_socket_address_new_unix(opts->socket_path, false);
    } else {
        addr = qio_socket_address_new_inet(opts->bind, opts->port);
    }
    if (!qio_socket_address_validate(addr, &err) ||
        qio_conn_service_listen(t->service, &addr, 1, &err) < 0) {
        /* The service's message names the address and the reason. */
        qio_error_setg(
            errp,
            g_error_matches(err, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT)
                ? QIO_ERROR_INVALID_ARGUMENT
                : QIO_ERROR_FAILED,
            "option --%s: %s", opts->socket_path ? "socket" : "bind/--port",
            err->message);
        return false;
    }
    return true;
}

static bool write_pid_file(const char *path, GError **errp)
{
    g_autofree char *text = g_strdup_printf("%d\n", (int)getpid());
    g_autoptr(GError) err = NULL;

    if (!g_file_set_contents(path, text, -1, &err)) {
        qio_error_setg(errp, QIO_ERROR_FAILED, "option --pid-file: %s",
                       err->message);
        return false;
    }
    return true;
}

/*
 * --fork: the parent waits on a pipe until the child says it is
 * listening (one byte) or dies trying (end of file), so that whoever ran
 * us can connect as soon as we return.  Returns the write end in the
 * child, or -1 in the parent with *parent_ok set.
 */
static int export_tool_fork(bool *parent_ok, GError **errp)
{
    int fds[2];
    pid_t pid;
    char byte;
    ssize_t n;

    if (pipe(fds) < 0) {
        qio_error_setg(errp, QIO_ERROR_FAILED, "option --fork: pipe: %s",
                       g_strerror(errno));
        *parent_ok = false;
        return -1;
    }
    pid = fork();
    if (pid < 0) {
        qio_error_setg(errp, QIO_ERROR_FAILED, "option --fork: fork: %s",
                       g_strerror(errno));
        close(fds[0]);
        close(fds[1]);
        *parent_ok = false;
        return -1;
    }
    if (pid == 0) {
        close(fds[0]);
        setsid();
        return fds[1];
    }
    close(fds[1]);
    do {
        n = read(fds[0], &byte, 1);
    } while (n < 0 && errno == EINTR);
    close(fds[0]);
    *parent_ok = n == 1;
    if (!*parent_ok) {
        qio_error_setg(errp, QIO_ERROR_FAILED,
                       "the server process did not start");
    }
    return -1;
}

/* Tell the --fork parent we are up, and let go of its terminal. */
static void export_tool_detach(int ready_fd, bool verbose)
{
    int null_fd = open("/dev/null", O_RDWR);

    if (write(ready_fd, "", 1) != 1) {
        /* The parent is gone: nobody is waiting for the byte. */
    }
    close(ready_fd);
    if (null_fd < 0) {
        return;
    }
    dup2(null_fd, STDIN_FILENO);
    dup2(null_fd, STDOUT_FILENO);
    if (!verbose) {
        /* With -v the messages (all on stderr) stay. */
        dup2(null_fd, STDERR_FILENO);
    }
    if (null_fd > STDERR_FILENO) {
        close(null_fd);
    }
}

/*
 * An image whose format we do not read: exporting it raw would give the
 * client the container, not the disk (qemu-nbd would serve the disk).
 */
static bool export_tool_check_format(const NBDExportToolOptions *opts,
                                     GError **errp)
{
    const char *fmt =
        opts->format_raw ? NULL : nbd_image_probe_file(opts->filename);

    if (fmt) {
        qio_error_setg(errp, QIO_ERROR_NOT_SUPPORTED,
                       "%s is a %s image, which qio-nbd cannot serve as a "
                       "disk; give -f raw to export its bytes as they are, "
                       "or convert it with 'qemu-img convert -f %s -O raw "
                       "%s DISK.raw' and export that",
                       opts->filename, fmt, fmt, opts->filename);
        return false;
    }
    return true;
}

bool nbd_export_tool_run(const NBDExportToolOptions *opts, GError **errp)
{
    ExportTool t = { .opts = opts };
    int ready_fd = -1;
    bool pid_written = false;
    bool ok = false;
    guint sig_ids[3] = { 0, 0, 0 };
    static const int sigs[3] = { SIGTERM, SIGINT, SIGHUP };

    if (opts->verbose) {
        g_setenv("G_MESSAGES_DEBUG", "all", TRUE);
    }
    if (!export_tool_check_format(opts, errp)) {
        return false;
    }
    /* A client vanishing mid-reply must not end the server. */
    signal(SIGPIPE, SIG_IGN);
    if (opts->daemonize) {
        /* Before any client thread: only the caller survives fork. */
        bool parent_ok = false;

        ready_fd = export_tool_fork(&parent_ok, errp);
        if (ready_fd < 0) {
            return parent_ok;
        }
    }

    t.server = export_tool_server_new(opts, errp);
    if (!t.server) {
        goto out;
    }
    t.loop = g_main_loop_new(NULL, FALSE);
    /* Not the program's name, which starts every message already. */
    t.service = qio_conn_service_new("NBD server", QIO_CONN_SERVICE_THREAD,
                                     nbd_server_handle_conn, t.server, NULL);
    qio_conn_service_set_max_clients(t.service, opts->shared);
    qio_conn_service_set_handshake_limit(t.service,
                                         opts->handshake_limit * 1000);
    qio_conn_service_set_idle_limit(t.service, opts->idle_limit * 1000);
    qio_conn_service_set_gone_func(t.service, export_tool_client_gone, &t);
    if (!export_tool_listen(&t, errp)) {
        goto out;
    }
    if (opts->pid_file) {
        if (!write_pid_file(opts->pid_file, errp)) {
            goto out;
        }
        pid_written = true;
    }
    for (guint i = 0; i < G_N_ELEMENTS(sigs); i++) {
        sig_ids[i] = g_unix_signal_add(sigs[i], export_tool_signal, &t);
    }
    if (ready_fd >= 0) {
        export_tool_detach(ready_fd, opts->verbose);
        ready_fd = -1;
    }

    g_main_loop_run(t.loop);
    ok = true;

out:
    if (t.service) {
        /*
         * Stops listening (which removes a UNIX socket file), hangs up on
         * every client and waits for their threads.
         */
        qio_conn_service_shutdown(t.service);
        g_object_unref(t.service);
    }
    if (t.server) {
        nbd_server_shutdown(t.server);
        g_object_unref(t.server);
    }
    if (pid_written && unlink(opts->pid_file) < 0 && errno != ENOENT) {
        g_warning("cannot remove pid file %s: %s", opts->pid_file,
                  g_strerror(errno));
    }
    /*
     * Only now: removing the last GLib watch of a signal restores its
     * default action, and a second SIGTERM (timeout(1) sends one to the
     * process and one to its group) must not kill us halfway through
     * the cleanup above.
     */
    for (guint i = 0; i < G_N_ELEMENTS(sigs); i++) {
        if (sig_ids[i]) {
            g_source_remove(sig_ids[i]);
            /*
             * The server is done and the process is on its way out: a
             * stop request racing with that exit (the last client left
             * just as SIGTERM was sent) must not turn a clean exit into
             * death by signal.
             */
            signal(sigs[i], SIG_IGN);
        }
    }
    if (t.loop) {
        g_main_loop_unref(t.loop);
    }
    if (ready_fd >= 0) {
        close(ready_fd); /* the parent reads EOF: startup failed */
    }
    return ok;
}

/* ---- -L: list a server's exports ---------------------------------------- */

/*
 * A name or description from the server, made safe for a terminal: a
 * control byte (an escape sequence, a newline forging another line of
 * the listing) becomes '?'.
 */
static char *list_printable(const char *text)
{
    char *copy = g_strdup(text);

    for (char *p = copy; *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            *p = '?';
        }
    }
    return copy;
}

/* The transmission flags as qemu-nbd -L spells them. */
static void list_append_flags(GString *out, uint16_t flags)
{
    g_string_append_printf(out, "  flags: 0x%x (", flags);
    for (unsigned i = 0; i < 16; i++) {
        const char *name =
            nbd_flag_name(flags & (1u << i), NBD_FLAG_SPELLING_QEMU);

        if (name) {
            g_string_append_printf(out, " %s", name);
        }
    }
    g_string_append(out, " )\n");
}

bool nbd_export_tool_list(const NBDExportToolOptions *opts, GString *out,
                          GError **errp)
{
    g_autoptr(QIOSocketAddress) addr = NULL;
    g_autoptr(NBDClient) client = NULL;
    g_autoptr(GError) err = NULL;
    g_auto(GStrv) names = NULL;
    g_autoptr(GString) text = g_string_new(NULL);
    QCryptoTLSCreds *creds = NULL;

    if (opts->verbose) {
        g_setenv("G_MESSAGES_DEBUG", "all", TRUE);
    }
    signal(SIGPIPE, SIG_IGN);
    if (!export_tool_objects(opts, QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT, &creds,
                             errp)) {
        return false;
    }
    if (opts->socket_path) {
        addr = qio_socket_address_new_unix(opts->socket_path, false);
    } else {
        addr = qio_socket_address_new_inet(opts->bind, opts->port);
    }
    if (!qio_socket_address_validate(addr, &err)) {
        qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT, "option --%s: %s",
                       opts->socket_path ? "socket" : "bind", err->message);
        return false;
    }
    client = nbd_client_connect(addr, creds, opts->tls_hostname, errp);
    if (!client) {
        return false;
    }
    names = nbd_client_list(client, errp);
    if (!names) {
        return false;
    }
    g_string_append_printf(text, "exports available: %u\n",
                           g_strv_length(names));
    for (char **n = names; *n; n++) {
        g_autofree char *shown = list_printable(*n);
        NBDClientExportInfo info = { 0 };
        bool ok = nbd_client_info_full(client, *n, &info, errp);

        if (ok) {
            g_string_append_printf(text, " export: '%s'\n", shown);
            if (info.description && *info.description) {
                g_autofree char *desc = list_printable(info.description);

                g_string_append_printf(text, "  description: %s\n", desc);
            }
            g_string_append_printf(text, "  size:  %" G_GUINT64_FORMAT "\n",
                                   info.size);
            list_append_flags(text, info.eflags);
            g_string_append_printf(text,
                                   "  min block: %u\n"
                                   "  opt block: %u\n"
                                   "  max block: %u\n",
                                   info.block_min, info.block_pref,
                                   info.block_max);
        }
        nbd_client_export_info_clear(&info);
        if (!ok) {
            return false;
        }
    }
    nbd_client_close(client);
    g_string_append(out, text->str);
    return true;
}
