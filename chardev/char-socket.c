/*
 * The socket chardev: a TCP, UNIX or inherited socket, as server or
 * client, with optional TLS and telnet.
 *
 * Every connection, accepted or made, goes through one QIOConnService in
 * CONTEXT mode: a server's service listens with a client limit of one (so
 * the next client waits in the kernel's backlog), and a client hands its
 * connected socket to the service with qio_conn_service_add_client(), so
 * that both get the same handshake deadline, refusal log and drain.  The
 * handler starts a QIONegotiation for TLS (the tls-authz check is part of
 * the TLS server upgrade) and the telnet offer; only when it is done does
 * the frontend hear OPENED.
 *
 * What is subtle:
 *  - at most one connection is live (s->conn); a second one handed to the
 *    handler while one is live (a client limit race, an inherited socket)
 *    is finished at once;
 *  - the read watch exists only while the frontend can take input, so a
 *    frontend that stops reading stops the peer through TCP flow control;
 *  - writes go through a bounded buffer flushed from a G_IO_OUT watch:
 *    TLS needs a blocked record retried with the same bytes, which a
 *    frontend cannot be trusted to do, and the buffer's bound is what
 *    makes a write short;
 *  - a write error or EOF never tears the connection down inside the
 *    frontend's own call: it is done from an idle source;
 *  - a client's reconnect timer is a one-shot source armed after each
 *    failure or disconnect, so a dead server costs one connect per
 *    interval and nothing in between.
 */
#include "chardev/char-socket.h"

#include <string.h>
#include <unistd.h>

#include "chardev/telnet.h"
#include "crypto/tls-creds.h"
#include "io/channel-socket.h"
#include "io/channel-tls.h"
#include "io/conn-service.h"
#include "io/negotiation.h"
#include "qom/object.h"

#define READ_CHUNK 4096

struct _QIOChardevSocket {
    QIOChardev parent;

    QIOSocketAddress *addr; /* as given; a server's bound address later */
    bool server;
    bool nodelay;
    bool telnet;
    guint64 reconnect_ms;
    char *tls_creds_id;
    char *tls_authz_id;
    char *user; /* our name as a user of the qom objects */
    QCryptoTLSCreds *creds;

    QIOConnService *service;
    bool listening;

    /* The live connection, from the handler to the disconnect. */
    QIOConn *conn;
    QIOChannel *ioc; /* the socket, or the TLS channel over it */
    QIONegotiation *neg;
    bool negotiating;
    bool connected;      /* OPENED delivered */
    char *peer_filename; /* "tcp:... <-> ..." while connected */
    ChardevTelnet tn;

    GSource *read_src;
    GSource *write_src;
    GSource *hup_idle;
    GByteArray *out;
    bool want_writable;

    /* Client side. */
    bool closing;
    bool connecting;
    GSource *reconnect_src;
    bool connect_err_reported;
};

G_DEFINE_TYPE(QIOChardevSocket, qio_chardev_socket, QIO_TYPE_CHARDEV)

static void start_connect(QIOChardevSocket *s);
static void update_read_watch(QIOChardevSocket *s);

static const char *protocol_name(QIOChardevSocket *s)
{
    return s->telnet ? "telnet" : "tcp";
}

/* QEMU's "disconnected:..." form, from the configured (or bound) address. */
static char *address_filename(QIOChardevSocket *s, const char *prefix)
{
    const QIOSocketAddress *a = s->addr;
    const char *srv = s->server ? ",server=on" : "";

    switch (a->type) {
    case QIO_SOCKET_ADDRESS_TYPE_INET:
        return g_strdup_printf("%s%s:%s:%s%s", prefix, protocol_name(s),
                               a->u.inet.host, a->u.inet.port, srv);
    case QIO_SOCKET_ADDRESS_TYPE_UNIX: {
        const QIOUnixSocketAddress *u = &a->u.q_unix;
        bool abstract = u->has_abstract && u->abstract;
        /* As QEMU: shown when given (-chardev always gives it). */
        bool tight = u->has_tight && u->tight;

        return g_strdup_printf("%sunix:%s%s%s%s", prefix, u->path,
                               abstract ? ",abstract=on" : "",
                               abstract && tight ? ",tight=on" : "", srv);
    }
    case QIO_SOCKET_ADDRESS_TYPE_FD:
        return g_strdup_printf("%sfd:%s%s", prefix, a->u.fd.str, srv);
    case QIO_SOCKET_ADDRESS_TYPE_VSOCK:
        return g_strdup_printf("%svsock:%s:%s%s", prefix, a->u.vsock.cid,
                               a->u.vsock.port, srv);
    }
    return g_strdup_printf("%ssocket", prefix);
}

static void update_filename(QIOChardevSocket *s)
{
    g_autofree char *fn = NULL;

    if (s->connected && s->peer_filename) {
        qio_chardev_set_filename(QIO_CHARDEV(s), s->peer_filename);
        return;
    }
    fn = address_filename(s, "disconnected:");
    qio_chardev_set_filename(QIO_CHARDEV(s), fn);
}

static char *inet_part(const QIOSocketAddress *a)
{
    if (!a || a->type != QIO_SOCKET_ADDRESS_TYPE_INET) {
        return g_strdup("?");
    }
    if (strchr(a->u.inet.host, ':')) {
        return g_strdup_printf("[%s]:%s", a->u.inet.host, a->u.inet.port);
    }
    return g_strdup_printf("%s:%s", a->u.inet.host, a->u.inet.port);
}

/* QEMU's connected form: "tcp:L,server=on <-> P", "unix:PATH,server=on". */
static char *connected_filename(QIOChardevSocket *s, QIOChannelSocket *sioc)
{
    g_autoptr(QIOSocketAddress) local =
        qio_channel_socket_get_local_address(sioc, NULL);
    g_autoptr(QIOSocketAddress) remote =
        qio_channel_socket_get_remote_address(sioc, NULL);
    const char *srv = s->server ? ",server=on" : "";
    g_autofree char *l = NULL;
    g_autofree char *r = NULL;

    if (local && local->type == QIO_SOCKET_ADDRESS_TYPE_UNIX) {
        return g_strdup_printf("unix:%s%s", local->u.q_unix.path, srv);
    }
    if (!local || local->type != QIO_SOCKET_ADDRESS_TYPE_INET) {
        return g_strdup("unknown");
    }
    l = inet_part(local);
    r = inet_part(remote);
    return g_strdup_printf("%s:%s%s <-> %s", protocol_name(s), l, srv, r);
}

static void destroy_source(GSource **src)
{
    if (*src) {
        g_source_destroy(*src);
        g_source_unref(*src);
        *src = NULL;
    }
}

static GMainContext *ctx_of(QIOChardevSocket *s)
{
    return qio_chardev_get_context(QIO_CHARDEV(s));
}

/* ---- Disconnect ------------------------------------------------------------
 */

static void schedule_reconnect(QIOChardevSocket *s);
static void report_connect_error(QIOChardevSocket *s, GError *err);

/*
 * End the live connection: watches go, the frontend hears CLOSED if it
 * had heard OPENED, and the service closes the channel and reports it
 * gone (which schedules a client's reconnect).
 */
static void disconnect(QIOChardevSocket *s)
{
    QIOConn *conn = s->conn;
    bool was_connected = s->connected;

    if (!conn) {
        return;
    }
    destroy_source(&s->read_src);
    destroy_source(&s->write_src);
    destroy_source(&s->hup_idle);
    g_byte_array_set_size(s->out, 0);
    s->connected = false;
    g_clear_pointer(&s->peer_filename, g_free);
    g_clear_object(&s->ioc);
    s->conn = NULL;
    update_filename(s);
    qio_conn_finish(conn);
    qio_conn_unref(conn);
    if (was_connected) {
        qio_chardev_be_event(QIO_CHARDEV(s), QIO_CHARDEV_EVENT_CLOSED);
    }
    if (s->want_writable) {
        /* A blocked writer may go on: writes are dropped while closed. */
        s->want_writable = false;
        qio_chardev_be_writable(QIO_CHARDEV(s));
    }
}

static gboolean hup_idle_cb(gpointer opaque)
{
    QIOChardevSocket *s = opaque;

    g_source_unref(s->hup_idle);
    s->hup_idle = NULL;
    disconnect(s);
    return G_SOURCE_REMOVE;
}

/* Disconnect from the context, not from inside the caller's call. */
static void disconnect_later(QIOChardevSocket *s)
{
    if (s->hup_idle || !s->conn) {
        return;
    }
    destroy_source(&s->read_src);
    destroy_source(&s->write_src);
    s->hup_idle = g_idle_source_new();
    g_source_set_callback(s->hup_idle, hup_idle_cb, s, NULL);
    g_source_attach(s->hup_idle, ctx_of(s));
}

/* ---- Data path -------------------------------------------------------------
 */

static gboolean read_ready(QIOChannel *ioc, GIOCondition cond, gpointer opaque)
{
    QIOChardevSocket *s = opaque;
    QIOChardev *chr = QIO_CHARDEV(s);
    uint8_t buf[READ_CHUNK];
    struct iovec iov = { .iov_base = buf };
    g_autofree int *fds = NULL;
    size_t nfds = 0;
    bool want_fds = qio_channel_has_feature(ioc, QIO_CHANNEL_FEATURE_FD_PASS);
    size_t room = qio_chardev_be_can_read(chr);
    unsigned breaks = 0;
    gssize n;

    if (room == 0) {
        g_source_unref(s->read_src);
        s->read_src = NULL;
        return G_SOURCE_REMOVE;
    }
    iov.iov_len = MIN(room, sizeof(buf));
    n = qio_channel_readv_full(ioc, &iov, 1, want_fds ? &fds : NULL,
                               want_fds ? &nfds : NULL, 0, NULL);
    if (n == QIO_CHANNEL_ERR_BLOCK) {
        return G_SOURCE_CONTINUE;
    }
    if (n <= 0) {
        g_source_unref(s->read_src);
        s->read_src = NULL;
        disconnect_later(s);
        return G_SOURCE_REMOVE;
    }
    qio_conn_touch(s->conn);
    if (nfds) {
        qio_chardev_be_set_fds(chr, fds, nfds);
    }
    if (s->telnet) {
        n = chardev_telnet_filter(&s->tn, buf, n, &breaks);
    }
    /* The frontend may detach or write (and so disconnect) in here. */
    g_object_ref(s);
    qio_chardev_be_read(chr, buf, n);
    while (breaks-- > 0) {
        qio_chardev_be_event(chr, QIO_CHARDEV_EVENT_BREAK);
    }
    if (s->read_src && qio_chardev_be_can_read(chr) == 0) {
        destroy_source(&s->read_src);
    }
    g_object_unref(s);
    /* Removed above, or by a disconnect inside the frontend's call. */
    return G_SOURCE_CONTINUE;
}

static void update_read_watch(QIOChardevSocket *s)
{
    if (!s->connected || s->read_src || s->hup_idle ||
        qio_chardev_be_can_read(QIO_CHARDEV(s)) == 0) {
        return;
    }
    s->read_src =
        qio_channel_create_watch(s->ioc, G_IO_IN | G_IO_HUP | G_IO_ERR);
    g_source_set_callback(s->read_src, (GSourceFunc)(void (*)(void))read_ready,
                          s, NULL);
    g_source_attach(s->read_src, ctx_of(s));
}

static void flush_out(QIOChardevSocket *s);

static gboolean write_ready(QIOChannel *ioc, GIOCondition cond, gpointer opaque)
{
    QIOChardevSocket *s = opaque;

    g_source_unref(s->write_src);
    s->write_src = NULL;
    flush_out(s);
    if (s->out->len == 0 && s->want_writable && s->connected) {
        s->want_writable = false;
        qio_chardev_be_writable(QIO_CHARDEV(s));
    }
    return G_SOURCE_REMOVE;
}

static void flush_out(QIOChardevSocket *s)
{
    while (s->out->len > 0 && s->ioc && !s->hup_idle) {
        g_autoptr(GError) err = NULL;
        gssize n = qio_channel_write(s->ioc, s->out->data, s->out->len, &err);

        if (n == QIO_CHANNEL_ERR_BLOCK) {
            if (!s->write_src) {
                s->write_src = qio_channel_create_watch(s->ioc, G_IO_OUT);
                g_source_set_callback(s->write_src,
                                      (GSourceFunc)(void (*)(void))write_ready,
                                      s, NULL);
                g_source_attach(s->write_src, ctx_of(s));
            }
            return;
        }
        if (n < 0) {
            g_debug("%s: write failed: %s",
                    qio_chardev_get_label(QIO_CHARDEV(s)), err->message);
            disconnect_later(s);
            return;
        }
        g_byte_array_remove_range(s->out, 0, n);
    }
}

static gssize qio_chardev_socket_write(QIOChardev *chr, const uint8_t *buf,
                                       size_t len, GError **errp)
{
    QIOChardevSocket *s = QIO_CHARDEV_SOCKET(chr);
    size_t take;

    if (!s->connected || s->hup_idle) {
        /* Nobody to send to: dropped, as on a serial line with no cable. */
        return len;
    }
    take = MIN(len, QIO_CHARDEV_SOCKET_OUT_MAX - s->out->len);
    g_byte_array_append(s->out, buf, take);
    if (!s->write_src) {
        flush_out(s);
    }
    if (take < len) {
        s->want_writable = true;
    }
    return take;
}

static void qio_chardev_socket_accept_input(QIOChardev *chr)
{
    update_read_watch(QIO_CHARDEV_SOCKET(chr));
}

static void qio_chardev_socket_frontend_changed(QIOChardev *chr, bool attached)
{
    update_read_watch(QIO_CHARDEV_SOCKET(chr));
}

static void qio_chardev_socket_send_break(QIOChardev *chr)
{
    QIOChardevSocket *s = QIO_CHARDEV_SOCKET(chr);
    static const uint8_t brk[2] = { CHARDEV_TELNET_IAC, CHARDEV_TELNET_BREAK };

    if (s->telnet && s->connected &&
        s->out->len + sizeof(brk) <= QIO_CHARDEV_SOCKET_OUT_MAX) {
        g_byte_array_append(s->out, brk, sizeof(brk));
        if (!s->write_src) {
            flush_out(s);
        }
    }
}

/* ---- Connection set-up -----------------------------------------------------
 */

enum { ST_START, ST_AFTER_TLS };

static QIONegotiationAction st_start(QIONegotiation *neg, gpointer opaque,
                                     GError **errp)
{
    QIOChardevSocket *s = opaque;

    if (!s->creds) {
        return qio_negotiation_flush(neg, ST_AFTER_TLS);
    }
    if (s->server) {
        return qio_negotiation_tls_server(neg, s->creds, s->tls_authz_id,
                                          ST_AFTER_TLS);
    }
    return qio_negotiation_tls_client(
        neg, s->creds,
        s->addr->type == QIO_SOCKET_ADDRESS_TYPE_INET ? s->addr->u.inet.host
                                                      : NULL,
        ST_AFTER_TLS);
}

static QIONegotiationAction st_after_tls(QIONegotiation *neg, gpointer opaque,
                                         GError **errp)
{
    QIOChardevSocket *s = opaque;

    if (s->telnet) {
        qio_negotiation_send(neg, chardev_telnet_init,
                             sizeof(chardev_telnet_init), "telnet options");
    }
    return QIO_NEGOTIATION_DONE;
}

static const QIONegotiationState socket_states[] = {
    [ST_START] = { "START", st_start },
    [ST_AFTER_TLS] = { "AFTER-TLS", st_after_tls },
};
static const QIONegotiationProtocol socket_proto = {
    "chardev-socket",
    socket_states,
    G_N_ELEMENTS(socket_states),
};

static void set_connected(QIOChardevSocket *s, QIOChannel *ioc)
{
    QIOChannelSocket *sioc = QIO_CHANNEL_SOCKET(qio_conn_get_channel(s->conn));

    g_set_object(&s->ioc, ioc);
    qio_conn_set_negotiated(s->conn);
    s->connected = true;
    s->connect_err_reported = false;
    memset(&s->tn, 0, sizeof(s->tn));
    g_free(s->peer_filename);
    s->peer_filename = connected_filename(s, sioc);
    update_filename(s);
    qio_chardev_be_event(QIO_CHARDEV(s), QIO_CHARDEV_EVENT_OPENED);
    /* The frontend may have written already: flush from the context. */
    update_read_watch(s);
    if (s->out->len && !s->write_src) {
        flush_out(s);
    }
}

static void negotiation_done(QIOTask *task, gpointer opaque)
{
    QIOChardevSocket *s = opaque;
    g_autoptr(GError) err = NULL;
    QIONegotiation *neg = s->neg;

    s->neg = NULL;
    s->negotiating = false;
    if (qio_task_propagate_error(task, &err)) {
        QIOConn *conn = s->conn;

        if (s->closing) {
            /* Drained by the service: nothing to report. */
        } else if (s->server) {
            /* What the peer got wrong; the service logs it once. */
            qio_conn_report_refusal(conn, "%s", err->message);
        } else {
            report_connect_error(s, err);
        }
        qio_negotiation_free(neg);
        g_clear_object(&s->ioc);
        s->conn = NULL;
        qio_conn_finish(conn);
        qio_conn_unref(conn);
        return;
    }
    set_connected(s, qio_task_get_result_pointer(task));
    qio_negotiation_free(neg);
}

static void handle_conn(QIOConn *conn, gpointer opaque)
{
    QIOChardevSocket *s = opaque;
    QIOChannel *ioc = qio_conn_get_channel(conn);
    g_autofree char *label = NULL;

    if (s->conn) {
        /* One client at a time. */
        qio_conn_finish(conn);
        return;
    }
    s->conn = qio_conn_ref(conn);
    s->ioc = g_object_ref(ioc);
    g_byte_array_set_size(s->out, 0);
    if (QIO_IS_CHANNEL_SOCKET(ioc)) {
        qio_channel_set_delay(ioc, !s->nodelay);
        if (s->server && s->addr->type == QIO_SOCKET_ADDRESS_TYPE_INET &&
            s->addr->u.inet.has_keep_alive && s->addr->u.inet.keep_alive) {
            qio_channel_socket_set_keepalive(QIO_CHANNEL_SOCKET(ioc), true,
                                             NULL);
        }
    }
    if (!s->creds && !s->telnet) {
        set_connected(s, ioc);
        return;
    }
    label = g_strdup_printf(
        "chardev '%s' %s %s", qio_chardev_get_label(QIO_CHARDEV(s)),
        s->server ? "client" : "server", qio_conn_get_peer(conn));
    s->neg = qio_negotiation_new(&socket_proto, ST_START, ioc, label, s);
    qio_negotiation_set_timeout(s->neg, QIO_CONN_SERVICE_HANDSHAKE_LIMIT_MS);
    s->negotiating = true;
    qio_negotiation_run(s->neg, negotiation_done, s, NULL, ctx_of(s));
}

static void conn_gone(QIOConnService *service, QIOConn *conn, gpointer opaque)
{
    QIOChardevSocket *s = opaque;

    if (!s->server && !s->conn) {
        schedule_reconnect(s);
    }
}

/* ---- Client ----------------------------------------------------------------
 */

static void report_connect_error(QIOChardevSocket *s, GError *err)
{
    /* Once per run of failures, as QEMU does; a dead server stays quiet. */
    if (!s->connect_err_reported) {
        g_warning("Unable to connect character device %s: %s",
                  qio_chardev_get_label(QIO_CHARDEV(s)), err->message);
        s->connect_err_reported = true;
    }
}

static gboolean reconnect_cb(gpointer opaque)
{
    QIOChardevSocket *s = opaque;

    g_source_unref(s->reconnect_src);
    s->reconnect_src = NULL;
    start_connect(s);
    return G_SOURCE_REMOVE;
}

static void schedule_reconnect(QIOChardevSocket *s)
{
    if (!s->reconnect_ms || s->reconnect_src || s->connecting || s->conn ||
        !s->service || s->closing) {
        return;
    }
    s->reconnect_src = g_timeout_source_new(MIN(s->reconnect_ms, G_MAXUINT));
    g_source_set_callback(s->reconnect_src, reconnect_cb, s, NULL);
    g_source_attach(s->reconnect_src, ctx_of(s));
}

static bool hand_to_service(QIOChardevSocket *s, QIOChannelSocket *sioc,
                            GError **errp)
{
    return qio_conn_service_add_client(s->service, QIO_CHANNEL(sioc), errp);
}

static void connect_done(QIOTask *task, gpointer opaque)
{
    QIOChardevSocket *s = opaque;
    QIOChannelSocket *sioc = QIO_CHANNEL_SOCKET(qio_task_get_source(task));
    g_autoptr(GError) err = NULL;

    s->connecting = false;
    if (!s->service) {
        /* Closed while connecting. */
        qio_channel_close(QIO_CHANNEL(sioc), NULL);
        return;
    }
    if (qio_task_propagate_error(task, &err) ||
        !hand_to_service(s, sioc, &err)) {
        report_connect_error(s, err);
        schedule_reconnect(s);
    }
}

static void start_connect(QIOChardevSocket *s)
{
    g_autoptr(QIOChannelSocket) sioc = qio_channel_socket_new();

    s->connecting = true;
    qio_channel_socket_connect_async(sioc, s->addr, connect_done,
                                     g_object_ref(s), g_object_unref,
                                     ctx_of(s));
}

/* ---- Object ----------------------------------------------------------------
 */

static void qio_chardev_socket_close(QIOChardev *chr)
{
    QIOChardevSocket *s = QIO_CHARDEV_SOCKET(chr);

    s->closing = true;
    destroy_source(&s->reconnect_src);
    if (s->conn && !s->negotiating) {
        disconnect(s);
    }
    if (s->service) {
        QIOConnService *svc = s->service;

        /* Drains: a running negotiation ends (and finishes its conn). */
        qio_conn_service_shutdown(svc);
        s->service = NULL;
        g_object_unref(svc);
    }
    destroy_source(&s->hup_idle);
    if (s->creds) {
        qom_object_remove_user(s->tls_creds_id, s->user);
        g_clear_object(&s->creds);
    }
    if (s->tls_authz_id) {
        qom_object_remove_user(s->tls_authz_id, s->user);
        g_clear_pointer(&s->tls_authz_id, g_free);
    }
}

static void qio_chardev_socket_finalize(GObject *obj)
{
    QIOChardevSocket *s = QIO_CHARDEV_SOCKET(obj);

    G_OBJECT_CLASS(qio_chardev_socket_parent_class)->finalize(obj);
    g_clear_pointer(&s->addr, qio_socket_address_free);
    g_free(s->tls_creds_id);
    g_free(s->user);
    g_free(s->peer_filename);
    g_byte_array_unref(s->out);
}

static void qio_chardev_socket_class_init(QIOChardevSocketClass *klass)
{
    QIOChardevClass *chr_klass = QIO_CHARDEV_CLASS(klass);

    G_OBJECT_CLASS(klass)->finalize = qio_chardev_socket_finalize;
    chr_klass->backend_name = "socket";
    chr_klass->chr_write = qio_chardev_socket_write;
    chr_klass->chr_accept_input = qio_chardev_socket_accept_input;
    chr_klass->chr_frontend_changed = qio_chardev_socket_frontend_changed;
    chr_klass->chr_send_break = qio_chardev_socket_send_break;
    chr_klass->chr_close = qio_chardev_socket_close;
}

static void qio_chardev_socket_init(QIOChardevSocket *s)
{
    s->out = g_byte_array_new();
}

static bool check_options(const char *id, const QIOChardevSocketOptions *o,
                          GError **errp)
{
    if (!o->addr) {
        qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                       "chardev: socket: no address given");
        return false;
    }
    if (!qio_socket_address_validate(o->addr, errp)) {
        return false;
    }
    if (o->server && o->reconnect_ms) {
        qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                       "'reconnect' option is incompatible with socket in "
                       "server listen mode");
        return false;
    }
    if (!o->server && o->wait) {
        qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                       "'wait' option is incompatible with "
                       "socket in client connect mode");
        return false;
    }
    if (o->tls_authz && !o->tls_creds) {
        qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                       "'tls-authz' provided but TLS is not enabled");
        return false;
    }
    if (o->tls_authz && !o->server) {
        qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                       "'tls-authz' option is incompatible with "
                       "socket in client connect mode");
        return false;
    }
    return true;
}

static bool setup_tls(QIOChardevSocket *s, const QIOChardevSocketOptions *o,
                      GError **errp)
{
    QCryptoTLSCredsEndpoint want = s->server
                                       ? QCRYPTO_TLS_CREDS_ENDPOINT_SERVER
                                       : QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT;

    if (!o->tls_creds) {
        return true;
    }
    s->creds = qom_object_ref_typed(o->tls_creds, QCRYPTO_TYPE_TLS_CREDS, errp);
    if (!s->creds) {
        return false;
    }
    if (!qcrypto_tls_creds_check_endpoint(s->creds, want, errp)) {
        g_clear_object(&s->creds);
        return false;
    }
    if (o->tls_authz && !qom_object_find(o->tls_authz)) {
        qio_error_setg(errp, QIO_ERROR_NOT_FOUND,
                       "tls-authz: no object with id '%s'", o->tls_authz);
        g_clear_object(&s->creds);
        return false;
    }
    s->tls_creds_id = g_strdup(o->tls_creds);
    qom_object_add_user(s->tls_creds_id, s->user, NULL);
    if (o->tls_authz) {
        s->tls_authz_id = g_strdup(o->tls_authz);
        qom_object_add_user(s->tls_authz_id, s->user, NULL);
    }
    return true;
}

/* Record the bound address, so that port=0 shows the real port. */
static void note_bound_address(QIOChardevSocket *s)
{
    g_autoptr(GPtrArray) bound =
        qio_conn_service_get_local_addresses(s->service, NULL);
    QIOSocketAddress *first;

    if (!bound || bound->len == 0 ||
        s->addr->type != QIO_SOCKET_ADDRESS_TYPE_INET) {
        return;
    }
    first = g_ptr_array_index(bound, 0);
    if (first->type == QIO_SOCKET_ADDRESS_TYPE_INET) {
        g_free(s->addr->u.inet.port);
        s->addr->u.inet.port = g_strdup(first->u.inet.port);
    }
}

static bool open_server(QIOChardevSocket *s, GError **errp)
{
    if (s->addr->type == QIO_SOCKET_ADDRESS_TYPE_FD) {
        g_autoptr(QIOChannelSocket) lsioc = qio_channel_socket_new();

        /* connect_sync adopts an fd address's descriptor. */
        if (qio_channel_socket_connect_sync(lsioc, s->addr, errp) < 0) {
            return false;
        }
        if (!qio_channel_has_feature(QIO_CHANNEL(lsioc),
                                     QIO_CHANNEL_FEATURE_LISTEN)) {
            qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                           "chardev: fd=%s is not a listening socket",
                           s->addr->u.fd.str);
            return false;
        }
        qio_conn_service_add_listener(s->service, lsioc);
    } else {
        QIOSocketAddress *addrs[1] = { s->addr };

        if (qio_conn_service_listen(s->service, addrs, 1, errp) < 0) {
            return false;
        }
        note_bound_address(s);
    }
    s->listening = true;
    return true;
}

static bool open_client(QIOChardevSocket *s, GError **errp)
{
    g_autoptr(QIOChannelSocket) sioc = NULL;

    if (s->reconnect_ms) {
        start_connect(s);
        return true;
    }
    sioc = qio_channel_socket_new();
    if (qio_channel_socket_connect_sync(sioc, s->addr, errp) < 0) {
        return false;
    }
    return hand_to_service(s, sioc, errp);
}

QIOChardev *qio_chardev_socket_new(const char *id,
                                   const QIOChardevSocketOptions *opts,
                                   GError **errp)
{
    g_autoptr(QIOChardevSocket) s = NULL;
    g_autofree char *svcname = NULL;
    g_autofree char *fn = NULL;

    if (!check_options(id, opts, errp) ||
        (id && !qio_chardev_check_id(id, errp))) {
        return NULL;
    }
    s = g_object_new(QIO_TYPE_CHARDEV_SOCKET, NULL);
    s->addr = qio_socket_address_copy(opts->addr);
    s->server = opts->server;
    s->nodelay = opts->nodelay;
    s->telnet = opts->telnet;
    s->reconnect_ms = opts->reconnect_ms;
    s->user = g_strdup_printf("chardev '%s'", id ? id : "socket");
    svcname = g_strdup_printf("chardev '%s'", id ? id : "socket");
    if (!setup_tls(s, opts, errp)) {
        return NULL;
    }
    s->service = qio_conn_service_new(svcname, QIO_CONN_SERVICE_CONTEXT,
                                      handle_conn, s, ctx_of(s));
    qio_conn_service_set_gone_func(s->service, conn_gone, s);
    if (s->server) {
        qio_conn_service_set_max_clients(s->service, 1);
    }
    update_filename(s);
    if (!(s->server ? open_server(s, errp) : open_client(s, errp))) {
        qio_chardev_socket_close(QIO_CHARDEV(s));
        return NULL;
    }
    update_filename(s);
    if (!qio_chardev_register(QIO_CHARDEV(s), id, errp)) {
        qio_chardev_socket_close(QIO_CHARDEV(s));
        return NULL;
    }
    if (s->server && opts->wait) {
        fn = qio_chardev_get_filename(QIO_CHARDEV(s));
        g_message("waiting for connection on: %s", fn);
        while (!s->connected && s->service) {
            g_main_context_iteration(ctx_of(s), true);
        }
        if (!s->service) {
            qio_error_setg(errp, QIO_ERROR_CLOSED,
                           "chardev '%s' was removed while waiting for a "
                           "connection",
                           id ? id : "socket");
            return NULL;
        }
    }
    if (id) {
        /* The registry holds it; the caller borrows. */
        return QIO_CHARDEV(s);
    }
    return QIO_CHARDEV(g_steal_pointer(&s));
}

bool qio_chardev_socket_is_connected(QIOChardev *chr)
{
    return QIO_IS_CHARDEV_SOCKET(chr) && QIO_CHARDEV_SOCKET(chr)->connected;
}

GPtrArray *qio_chardev_socket_get_local_addresses(QIOChardev *chr,
                                                  GError **errp)
{
    QIOChardevSocket *s = QIO_CHARDEV_SOCKET(chr);

    if (!s->service || !s->listening) {
        qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                       "chardev '%s' is not listening",
                       qio_chardev_get_label(chr));
        return NULL;
    }
    return qio_conn_service_get_local_addresses(s->service, errp);
}
