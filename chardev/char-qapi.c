/*
 * ChardevBackend to chardevs, and -chardev's flat options to
 * ChardevBackend.  The rearrangement of the options is the only
 * hand-written parsing here: it decides where each key goes in the tree
 * (socket addresses under addr, everything else under data) and leaves
 * every value a string, so that the generated keyval visitor does the
 * conversions and the error messages, and a key it does not know is
 * refused by it in QEMU's words.
 */
#include "chardev/char-qapi.h"

#include <string.h>

#include "chardev/char-file.h"
#include "chardev/char-mux.h"
#include "chardev/char-null.h"
#include "chardev/char-pipe.h"
#include "chardev/char-pty.h"
#include "chardev/char-ringbuf.h"
#include "chardev/char-socket.h"
#include "chardev/char-stdio.h"
#include "qapi/keyval-visitor.h"
#include "qapi/qapi-visit-char.h"
#include "util/cutils.h"
#include "util/keyval.h"

/* ---- ChardevBackend to a chardev ------------------------------------------
 */

static QIOSocketAddress *socket_address(SocketAddressLegacy *a, GError **errp)
{
    QIOSocketAddress *addr = NULL;

    switch (a->type) {
    case SOCKET_ADDRESS_TYPE_INET: {
        InetSocketAddress *in = a->u.inet.data;

        if (in->has_to) {
            qio_error_setg(errp, QIO_ERROR_NOT_SUPPORTED,
                           "chardev: socket: port ranges ('to') are not "
                           "supported");
            return NULL;
        }
        addr = qio_socket_address_new_inet(in->host, in->port);
        addr->u.inet.has_numeric = in->has_numeric;
        addr->u.inet.numeric = in->numeric;
        addr->u.inet.has_ipv4 = in->has_ipv4;
        addr->u.inet.ipv4 = in->ipv4;
        addr->u.inet.has_ipv6 = in->has_ipv6;
        addr->u.inet.ipv6 = in->ipv6;
        addr->u.inet.has_keep_alive = in->has_keep_alive;
        addr->u.inet.keep_alive = in->keep_alive;
        break;
    }
    case SOCKET_ADDRESS_TYPE_Q_UNIX: {
        UnixSocketAddress *u = a->u.q_unix.data;

        addr = qio_socket_address_new_unix(u->path,
                                           u->has_abstract && u->abstract);
        addr->u.q_unix.has_tight = u->has_tight;
        addr->u.q_unix.tight = u->tight;
        break;
    }
    case SOCKET_ADDRESS_TYPE_VSOCK:
        addr = qio_socket_address_new_vsock(a->u.vsock.data->cid,
                                            a->u.vsock.data->port);
        break;
    case SOCKET_ADDRESS_TYPE_FD:
        addr = qio_socket_address_new_fd(a->u.fd.data->str);
        break;
    default:
        qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                       "chardev: socket: unknown address type");
        return NULL;
    }
    return addr;
}

static QIOChardev *new_socket(const char *id, ChardevSocket *sock,
                              GError **errp)
{
    g_autoptr(QIOSocketAddress) addr = socket_address(sock->addr, errp);
    bool server = sock->has_server && sock->server;
    QIOChardevSocketOptions so = {
        .addr = addr,
        .server = server,
        .wait = server && (!sock->has_wait || sock->wait),
        .nodelay = sock->has_nodelay && sock->nodelay,
        .telnet = sock->has_telnet && sock->telnet,
        .tls_creds = sock->tls_creds,
        .tls_authz = sock->tls_authz,
    };

    if (!addr) {
        return NULL;
    }
    if (!server && sock->has_wait && sock->wait) {
        qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                       "'wait' option is incompatible with socket in client "
                       "connect mode");
        return NULL;
    }
    if (sock->has_reconnect && sock->has_reconnect_ms) {
        qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                       "'reconnect' and 'reconnect-ms' are mutually "
                       "exclusive");
        return NULL;
    }
    if ((sock->has_reconnect && sock->reconnect < 0) ||
        (sock->has_reconnect_ms && sock->reconnect_ms < 0) ||
        (sock->has_reconnect && sock->reconnect > G_MAXINT64 / 1000)) {
        qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                       "'reconnect' must not be negative");
        return NULL;
    }
    so.reconnect_ms = sock->has_reconnect      ? sock->reconnect * 1000
                      : sock->has_reconnect_ms ? sock->reconnect_ms
                                               : 0;
    return qio_chardev_socket_new(id, &so, errp);
}

/* The logfile options every branch carries (ChardevCommon is the base). */
static ChardevCommon *common_of(ChardevBackend *b)
{
    switch (b->type) {
    case CHARDEV_BACKEND_KIND_FILE:
        return (ChardevCommon *)b->u.file.data;
    case CHARDEV_BACKEND_KIND_PIPE:
        return (ChardevCommon *)b->u.pipe.data;
    case CHARDEV_BACKEND_KIND_SOCKET:
        return (ChardevCommon *)b->u.socket.data;
    case CHARDEV_BACKEND_KIND_PTY:
        return b->u.pty.data;
    case CHARDEV_BACKEND_KIND_NULL:
        return b->u.null.data;
    case CHARDEV_BACKEND_KIND_MUX:
        return (ChardevCommon *)b->u.mux.data;
    case CHARDEV_BACKEND_KIND_STDIO:
        return (ChardevCommon *)b->u.stdio.data;
    case CHARDEV_BACKEND_KIND_RINGBUF:
        return (ChardevCommon *)b->u.ringbuf.data;
    default:
        return NULL;
    }
}

static QIOChardev *new_backend(const char *id, ChardevBackend *b, GError **errp)
{
    switch (b->type) {
    case CHARDEV_BACKEND_KIND_FILE: {
        ChardevFile *f = b->u.file.data;

        return qio_chardev_file_new(id, f->out, f->in,
                                    f->has_append && f->append, errp);
    }
    case CHARDEV_BACKEND_KIND_PIPE:
        return qio_chardev_pipe_new(id, b->u.pipe.data->device, errp);
    case CHARDEV_BACKEND_KIND_SOCKET:
        return new_socket(id, b->u.socket.data, errp);
    case CHARDEV_BACKEND_KIND_PTY:
        return qio_chardev_pty_new(id, errp);
    case CHARDEV_BACKEND_KIND_NULL:
        return qio_chardev_null_new(id, errp);
    case CHARDEV_BACKEND_KIND_MUX: {
        QIOChardev *base = qio_chardev_find(b->u.mux.data->chardev);

        if (!base) {
            qio_error_setg(errp, QIO_ERROR_NOT_FOUND,
                           "mux: base chardev %s not found",
                           b->u.mux.data->chardev);
            return NULL;
        }
        return qio_chardev_mux_new(id, base, errp);
    }
    case CHARDEV_BACKEND_KIND_STDIO: {
        ChardevStdio *s = b->u.stdio.data;

        return qio_chardev_stdio_new(id, !s->has_signal || s->signal, errp);
    }
    case CHARDEV_BACKEND_KIND_RINGBUF: {
        ChardevRingbuf *r = b->u.ringbuf.data;

        if (r->has_size && r->size <= 0) {
            qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                           "size of ringbuf chardev must be power of two");
            return NULL;
        }
        return qio_chardev_ringbuf_new(id, r->has_size ? r->size : 0, errp);
    }
    default:
        qio_error_setg(errp, QIO_ERROR_NOT_SUPPORTED,
                       "chardev: backend type %d is not supported", b->type);
        return NULL;
    }
}

QIOChardev *qio_chardev_new_from_backend(const char *id,
                                         ChardevBackend *backend, GError **errp)
{
    ChardevCommon *common = common_of(backend);
    QIOChardev *chr;

    /* Checked first, so that a bad id never opens a file or a socket. */
    if (!id || !qio_chardev_check_id(id, errp)) {
        if (!id) {
            qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                           "chardev: no id specified");
        }
        return NULL;
    }
    chr = new_backend(id, backend, errp);
    if (!chr) {
        return NULL;
    }
    if (common && common->logfile &&
        !qio_chardev_set_logfile(chr, common->logfile,
                                 common->has_logappend && common->logappend,
                                 errp)) {
        qio_chardev_remove(id, NULL);
        return NULL;
    }
    return chr;
}

/* ---- -chardev options ------------------------------------------------------
 */

/* The booleans QEMU 7.2 still accepts in the short form. */
static const char *const short_bools[] = {
    "server", "wait",     "delay",     "nodelay", "telnet",
    "ipv4",   "ipv6",     "mux",       "signal",  "append",
    "tight",  "abstract", "logappend", "numeric", "keep-alive",
};

static bool is_short_bool(const char *word)
{
    for (size_t i = 0; i < G_N_ELEMENTS(short_bools); i++) {
        if (!strcmp(word, short_bools[i])) {
            return true;
        }
    }
    return false;
}

/*
 * Rewrite the short boolean forms ("server", "nowait") as key=value with
 * QEMU's warning; everything else is copied as it is.  Elements end at a
 * ',' that is not part of a ",," escape inside a value.
 */
static char *expand_short_bools(const char *opts)
{
    GString *out = g_string_new("");
    const char *p = opts;
    bool first = true;

    while (*p) {
        const char *start = p;
        bool has_eq = false;

        while (*p) {
            if (*p == '=') {
                has_eq = true;
            } else if (*p == ',') {
                if (has_eq && p[1] == ',') {
                    p += 2;
                    continue;
                }
                break;
            }
            p++;
        }
        g_autofree char *elem = g_strndup(start, p - start);

        if (out->len) {
            g_string_append_c(out, ',');
        }
        if (!first && !has_eq && elem[0]) {
            const char *key = elem;
            const char *val = "on";

            if (!is_short_bool(key) && g_str_has_prefix(key, "no") &&
                is_short_bool(key + 2)) {
                key += 2;
                val = "off";
            }
            if (is_short_bool(key)) {
                g_warning("short-form boolean option '%s' deprecated\n"
                          "Please use %s=%s instead",
                          elem, key, val);
                g_string_append_printf(out, "%s=%s", key, val);
            } else {
                g_string_append(out, elem);
            }
        } else {
            g_string_append(out, elem);
        }
        first = false;
        if (*p == ',') {
            p++;
            if (!*p) {
                g_string_append_c(out, ','); /* a trailing ',' stays */
            }
        }
    }
    return g_string_free(out, false);
}

static JsonObject *child(JsonObject *parent, const char *name)
{
    if (!json_object_has_member(parent, name)) {
        json_object_set_object_member(parent, name, json_object_new());
    }
    return json_object_get_object_member(parent, name);
}

/* Where socket keys go: the address, whose type the keys decide. */
static const char *const inet_keys[] = {
    "host", "port", "to", "ipv4", "ipv6", "numeric", "keep-alive",
};
static const char *const unix_keys[] = { "path", "abstract", "tight" };

static bool in_list(const char *key, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(key, list[i])) {
            return true;
        }
    }
    return false;
}

static bool build_socket(GPtrArray *pairs, JsonObject *data, GError **errp)
{
    const char *host = qutil_keyval_lookup(pairs, "host");
    const char *port = qutil_keyval_lookup(pairs, "port");
    const char *path = qutil_keyval_lookup(pairs, "path");
    const char *fd = qutil_keyval_lookup(pairs, "fd");
    JsonObject *addr = json_object_new();
    JsonObject *adata = json_object_new();

    json_object_set_object_member(data, "addr", addr);
    json_object_set_object_member(addr, "data", adata);
    if (path) {
        json_object_set_string_member(addr, "type", "unix");
        /* -chardev's default, stated, as QEMU's option parser does. */
        if (!qutil_keyval_lookup(pairs, "tight")) {
            json_object_set_string_member(adata, "tight", "on");
        }
    } else if (host || port) {
        if (!port) {
            qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                           "chardev: socket: no port given");
            return false;
        }
        json_object_set_string_member(addr, "type", "inet");
        if (!host) {
            json_object_set_string_member(adata, "host", "");
        }
    } else if (fd) {
        json_object_set_string_member(addr, "type", "fd");
        json_object_set_string_member(adata, "str", fd);
    } else {
        qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                       "chardev: socket: give host and port, path, or fd");
        return false;
    }
    for (guint i = 0; i < pairs->len; i++) {
        QUtilKeyvalPair *kv = g_ptr_array_index(pairs, i);

        if (!strcmp(kv->key, "fd")) {
            continue;
        }
        if (in_list(kv->key, inet_keys, G_N_ELEMENTS(inet_keys)) ||
            in_list(kv->key, unix_keys, G_N_ELEMENTS(unix_keys))) {
            json_object_set_string_member(adata, kv->key, kv->value);
        } else if (!strcmp(kv->key, "delay")) {
            bool delay;

            if (!qutil_parse_bool(kv->value, &delay, errp)) {
                g_prefix_error(errp, "Parameter 'delay': ");
                return false;
            }
            json_object_set_string_member(data, "nodelay",
                                          delay ? "off" : "on");
        } else {
            json_object_set_string_member(data, kv->key, kv->value);
        }
    }
    return true;
}

/*
 * The visitor names members by their place in ChardevBackend
 * ("data.addr.data.port", "data.out"); the user wrote -chardev's flat
 * names ("port", "path").  Say it in the user's terms, as QEMU does; the
 * domain and code stay.
 */
static void opts_error(GError *err, const char *type)
{
    static const struct {
        const char *backend, *member, *option;
    } renamed[] = {
        { "file", "'out'", "'path'" },
        { "file", "'in'", "'input-path'" },
        { "pipe", "'device'", "'path'" },
    };
    g_autofree char *msg = NULL;
    char *p;

    msg = g_strdup(err->message);
    while ((p = strstr(msg, "'data.addr.data.")) ||
           (p = strstr(msg, "'data."))) {
        size_t skip = g_str_has_prefix(p, "'data.addr.data.") ? 15 : 5;

        memmove(p + 1, p + 1 + skip, strlen(p + 1 + skip) + 1);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(renamed); i++) {
        if (!strcmp(type, renamed[i].backend) &&
            (p = strstr(msg, renamed[i].member))) {
            g_autofree char *fixed = g_strdup_printf(
                "%.*s%s%s", (int)(p - msg), msg, renamed[i].option,
                p + strlen(renamed[i].member));

            g_free(msg);
            msg = g_steal_pointer(&fixed);
        }
    }
    g_free(err->message);
    err->message = g_steal_pointer(&msg);
}

ChardevBackend *qio_chardev_parse_opts(const char *opts, char **id, bool *mux,
                                       GError **errp)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *expanded = expand_short_bools(opts);
    g_autoptr(GPtrArray) pairs = NULL;
    g_autoptr(JsonNode) root = NULL;
    g_autoptr(QapiVisitor) v = NULL;
    ChardevBackend *backend = NULL;
    JsonObject *top, *data;
    g_autofree char *type = NULL;
    const char *muxval;

    *id = NULL;
    *mux = false;
    pairs = qutil_keyval_parse(expanded, "backend", NULL, errp);
    if (!pairs) {
        return NULL;
    }
    /* A copy: the pairs that are not the backend's are dropped below. */
    type = g_strdup(qutil_keyval_lookup(pairs, "backend"));
    if (!type || !qutil_keyval_lookup(pairs, "id")) {
        qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                       type ? "chardev: no id specified"
                            : "chardev: no backend type given");
        return NULL;
    }
    if (!strcmp(type, "memory")) {
        g_free(type);
        type = g_strdup("ringbuf");
    }
    if (qapi_enum_parse(&ChardevBackendKind_lookup, type, -1, NULL) < 0 ||
        !strcmp(type, "mux")) {
        qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                       "'%s' is not a valid char driver name", type);
        return NULL;
    }
    muxval = qutil_keyval_lookup(pairs, "mux");
    if (muxval && !qutil_parse_bool(muxval, mux, errp)) {
        g_prefix_error(errp, "Parameter 'mux': ");
        return NULL;
    }

    root = json_node_new(JSON_NODE_OBJECT);
    top = json_object_new();
    json_node_take_object(root, top);
    json_object_set_string_member(top, "type", type);
    data = child(top, "data");

    /* Take out what is not the backend's: backend, id, mux. */
    for (guint i = pairs->len; i-- > 0;) {
        QUtilKeyvalPair *kv = g_ptr_array_index(pairs, i);

        if (!strcmp(kv->key, "backend") || !strcmp(kv->key, "mux")) {
            g_ptr_array_remove_index(pairs, i);
        } else if (!strcmp(kv->key, "id")) {
            *id = g_strdup(kv->value);
            g_ptr_array_remove_index(pairs, i);
        }
    }

    if (!qio_chardev_id_wellformed(*id)) {
        qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                       "Parameter 'id' expects an identifier");
        goto fail;
    }
    if (!strcmp(type, "socket")) {
        if (!build_socket(pairs, data, errp)) {
            goto fail;
        }
    } else {
        for (guint i = 0; i < pairs->len; i++) {
            QUtilKeyvalPair *kv = g_ptr_array_index(pairs, i);
            const char *key = kv->key;
            g_autofree char *num = NULL;

            if (!strcmp(type, "file") && !strcmp(key, "path")) {
                key = "out";
            } else if (!strcmp(type, "file") && !strcmp(key, "input-path")) {
                key = "in";
            } else if (!strcmp(type, "pipe") && !strcmp(key, "path")) {
                key = "device";
            } else if (!strcmp(type, "ringbuf") && !strcmp(key, "size")) {
                uint64_t size;

                /* A size on the command line, as QEMU takes it ("64K"). */
                if (!qutil_parse_size(kv->value, &size, NULL) ||
                    size > G_MAXINT64) {
                    qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                                   "Parameter 'size' expects a size value");
                    goto fail;
                }
                num = g_strdup_printf("%" G_GUINT64_FORMAT, size);
            }
            json_object_set_string_member(data, key, num ? num : kv->value);
        }
    }

    v = qapi_keyval_input_visitor_new(root);
    if (!visit_type_ChardevBackend(v, NULL, &backend, &err)) {
        opts_error(err, type);
        g_propagate_error(errp, g_steal_pointer(&err));
        goto fail;
    }
    return backend;

fail:
    g_clear_pointer(id, g_free);
    return NULL;
}

QIOChardev *qio_chardev_new_from_opts(const char *opts, GError **errp)
{
    g_autofree char *id = NULL;
    g_autofree char *base_id = NULL;
    g_autoptr(ChardevBackend) backend = NULL;
    QIOChardev *base, *chr;
    bool mux;

    backend = qio_chardev_parse_opts(opts, &id, &mux, errp);
    if (!backend) {
        return NULL;
    }
    if (qio_chardev_find(id)) {
        qio_error_setg(errp, QIO_ERROR_EXISTS, "Duplicate ID '%s' for chardev",
                       id);
        return NULL;
    }
    if (!mux) {
        return qio_chardev_new_from_backend(id, backend, errp);
    }
    if (!qio_chardev_check_id(id, errp)) {
        return NULL;
    }
    base_id = g_strdup_printf("%s-base", id);
    base = qio_chardev_new_from_backend(base_id, backend, errp);
    if (!base) {
        return NULL;
    }
    chr = qio_chardev_mux_new(id, base, errp);
    if (!chr) {
        qio_chardev_remove(base_id, NULL);
    }
    return chr;
}
