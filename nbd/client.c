/*
 * NBD client.  The handshake is an explicit state machine on the
 * negotiation driver (io/negotiation.h): each state is one small step
 * that looks at the bytes the driver read for it and names what it waits
 * for next, so the security decisions (refuse non-fixed-newstyle, TLS
 * first and only, forget pre-TLS state) are single visible lines.  Extended
 * headers are asked for first, structured replies when the server does
 * not know them; once agreed, every request and reply is 32 bytes of
 * header and a reply in the other style is a protocol error.
 * In the transmission phase any number of threads submit requests (sends
 * are serialised by a mutex so a header and its payload stay together)
 * and one reader thread per connection reads the replies, which may come
 * in any order, and matches them to their requests by cookie.  Anything
 * the reader cannot match or that does not fit its request is a protocol
 * error: every outstanding request fails and the connection is shut.
 */
#include "nbd/client.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "crypto/tls-creds-x509.h"
#include "io/channel-socket.h"
#include "io/channel-tls.h"
#include "io/negotiation.h"
#include "nbd/nbd-proto.h"

/* Bounds on what the server may make us allocate. */
#define NBD_CLIENT_MAX_OPT_REPLY NBD_MAX_OPTION_LENGTH
#define NBD_CLIENT_MAX_EXPORTS   65536
#define NBD_CLIENT_MAX_CHUNK     (1024 * 1024)

typedef enum {
    NBD_CLIENT_ST_HANDSHAKE, /* on the negotiation driver */
    NBD_CLIENT_ST_OPTIONS,   /* handshake done: option phase */
    NBD_CLIENT_ST_TRANSMISSION,
    NBD_CLIENT_ST_CLOSED,
} NBDClientState;

struct NBDClient {
    QIOChannel *ioc; /* socket, or TLS over it */
    char *peer;
    QCryptoTLSCreds *creds;
    char *tls_hostname;
    NBDClientState state;
    uint16_t server_flags;
    /* Handshake scratch: the greeting, the option being answered. */
    uint8_t greeting[NBD_SERVER_GREETING_SIZE];
    uint32_t neg_opt;
    unsigned neg_next; /* state for its reply */
    NBDOptionReply neg_rep;
    bool no_zeroes;
    bool want_extended; /* ask for NBD_OPT_EXTENDED_HEADERS */
    bool structured;
    bool extended; /* extended headers agreed (and structured) */
    bool tls;
    bool have_meta;
    uint32_t meta_id;
    uint64_t size;
    uint16_t eflags;
    char *description;
    uint32_t block_min, block_pref, block_max;
    uint32_t max_payload; /* largest READ/WRITE we send */

    /* Transmission phase: lock protects everything below it. */
    GMutex lock;
    GCond cond;           /* a slot freed, work queued, reader done */
    GMutex send_lock;     /* one request on the wire at a time */
    GHashTable *inflight; /* cookie -> NBDClientRequest */
    unsigned max_inflight;
    guint close_timeout_ms; /* nbd_client_close() wait, 0 = no limit */
    uint64_t next_cookie;
    bool dead;        /* no more requests: failed or closing */
    bool stopping;    /* reader should exit once idle */
    GError *fail_err; /* why the connection failed */
    GError *send_err; /* a failed send, which shut it */
    GThread *reader;
};

/* ---- Plumbing ------------------------------------------------------------ */

/*
 * A protocol violation: the connection cannot be trusted any more.  Once
 * the reader thread runs, other threads may be inside the channel, so it
 * is only shut down here and closed by nbd_client_close().
 */
static void nbd_client_fail(NBDClient *c)
{
    if (c->reader) {
        qio_channel_shutdown(c->ioc, QIO_CHANNEL_SHUTDOWN_BOTH, NULL);
        return;
    }
    if (c->ioc) {
        qio_channel_close(c->ioc, NULL);
    }
    c->state = NBD_CLIENT_ST_CLOSED;
}

static bool nbd_client_read(NBDClient *c, void *buf, size_t len,
                            const char *what, GError **errp)
{
    g_autoptr(GError) err = NULL;

    if (qio_channel_read_all(c->ioc, buf, len, &err) < 0) {
        g_set_error(errp, QIO_ERROR, err->code, "NBD server %s: reading %s: %s",
                    c->peer, what, err->message);
        nbd_client_fail(c);
        return false;
    }
    return true;
}

static bool nbd_client_write(NBDClient *c, const void *buf, size_t len,
                             const char *what, GError **errp)
{
    g_autoptr(GError) err = NULL;

    if (qio_channel_write_all(c->ioc, buf, len, &err) < 0) {
        g_set_error(errp, QIO_ERROR, err->code, "NBD server %s: sending %s: %s",
                    c->peer, what, err->message);
        nbd_client_fail(c);
        return false;
    }
    return true;
}

static bool nbd_client_proto_error(NBDClient *c, GError **errp, const char *fmt,
                                   ...) G_GNUC_PRINTF(3, 4);

static bool nbd_client_proto_error(NBDClient *c, GError **errp, const char *fmt,
                                   ...)
{
    va_list ap;
    g_autofree char *msg = NULL;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    qio_error_setg(errp, QIO_ERROR_PROTOCOL,
                   "NBD server %s broke the protocol: %s", c->peer, msg);
    nbd_client_fail(c);
    return false;
}

/* ---- Options ------------------------------------------------------------- */

static bool nbd_client_send_option(NBDClient *c, uint32_t opt, const void *data,
                                   uint32_t len, GError **errp)
{
    uint8_t hdr[NBD_OPTION_HEADER_SIZE];
    NBDOption o = { .option = opt, .length = len };

    nbd_encode_option(hdr, &o);
    if (!nbd_client_write(c, hdr, sizeof(hdr), nbd_opt_name(opt), errp)) {
        return false;
    }
    return len == 0 || nbd_client_write(c, data, len, nbd_opt_name(opt), errp);
}

/*
 * Read one option reply for @opt.  The payload length is bounded before
 * the buffer is allocated; *@payload is NUL-terminated for convenience.
 */
static bool nbd_client_read_option_reply(NBDClient *c, uint32_t opt,
                                         NBDOptionReply *rep, uint8_t **payload,
                                         GError **errp)
{
    uint8_t hdr[NBD_OPTION_REPLY_SIZE];
    g_autofree uint8_t *buf = NULL;

    *payload = NULL;
    if (!nbd_client_read(c, hdr, sizeof(hdr), "option reply", errp)) {
        return false;
    }
    if (!nbd_decode_option_reply(hdr, rep)) {
        return nbd_client_proto_error(c, errp, "bad option reply magic to %s",
                                      nbd_opt_name(opt));
    }
    if (rep->option != opt) {
        return nbd_client_proto_error(c, errp,
                                      "reply for option %s while waiting "
                                      "for %s",
                                      nbd_opt_name(rep->option),
                                      nbd_opt_name(opt));
    }
    if (rep->length > NBD_CLIENT_MAX_OPT_REPLY) {
        qio_error_setg(errp, QIO_ERROR_TOO_LARGE,
                       "NBD server %s sent a %" PRIu32 "-byte reply to %s "
                       "(limit %d); disconnecting",
                       c->peer, rep->length, nbd_opt_name(opt),
                       NBD_CLIENT_MAX_OPT_REPLY);
        nbd_client_fail(c);
        return false;
    }
    buf = g_malloc(rep->length + 1);
    if (!nbd_client_read(c, buf, rep->length, "option reply", errp)) {
        return false;
    }
    buf[rep->length] = '\0';
    *payload = g_steal_pointer(&buf);
    return true;
}

/*
 * Turn an error reply into a user-facing message carrying the server's
 * own explanation.  The connection stays in the option phase.
 */
static void nbd_client_option_error(NBDClient *c, uint32_t opt,
                                    const NBDOptionReply *rep,
                                    const uint8_t *payload, GError **errp)
{
    g_autofree char *why = NULL;
    int code = QIO_ERROR_FAILED;

    if (rep->length &&
        g_utf8_validate((const char *)payload, rep->length, NULL)) {
        why = g_strdup_printf(": %s", (const char *)payload);
    }
    switch (rep->type) {
    case NBD_REP_ERR_TLS_REQD:
        qio_error_setg(errp, QIO_ERROR_PERMISSION_DENIED,
                       "this NBD server requires TLS; use --tls-creds "
                       "(server %s%s)",
                       c->peer, why ? why : "");
        return;
    case NBD_REP_ERR_UNKNOWN:
        code = QIO_ERROR_NOT_FOUND;
        break;
    case NBD_REP_ERR_POLICY:
        code = QIO_ERROR_PERMISSION_DENIED;
        break;
    case NBD_REP_ERR_UNSUP:
        code = QIO_ERROR_NOT_SUPPORTED;
        break;
    }
    qio_error_setg(errp, code, "NBD server %s refused %s (%s)%s", c->peer,
                   nbd_opt_name(opt), nbd_rep_name(rep->type), why ? why : "");
}

/*
 * Everything a server could have made us believe before TLS: after the
 * TLS handshake it is negotiated again, under encryption.
 */
static void nbd_client_forget_negotiated(NBDClient *c)
{
    c->structured = false;
    c->extended = false;
    c->have_meta = false;
    c->meta_id = 0;
    c->size = 0;
    c->eflags = 0;
}

/* ---- Handshake states ---------------------------------------------------- */

/*
 * The handshake runs on the negotiation driver (io/negotiation.h): each
 * state below is one step that looks at the bytes the driver read for it
 * and says what comes next.  An option is sent and its reply header read
 * in one step (nbd_neg_option()); NBD_NEG_OPT_REPLY bounds and reads the
 * payload, then the option's own reply state decides.
 */
typedef enum {
    NBD_NEG_GREETING,       /* start: read NBDMAGIC and the next magic */
    NBD_NEG_GREETING_MAGIC, /* newstyle: read the server's flags */
    NBD_NEG_SERVER_FLAGS,   /* fixed newstyle: send our flags */
    NBD_NEG_STARTTLS,
    NBD_NEG_STARTTLS_REPLY,
    NBD_NEG_TLS_DONE,
    NBD_NEG_EXTENDED_HEADERS,
    NBD_NEG_EXTENDED_HEADERS_REPLY,
    NBD_NEG_STRUCTURED_REPLY,
    NBD_NEG_STRUCTURED_REPLY_REPLY,
    NBD_NEG_OPT_REPLY, /* an option reply header: read its payload */
} NBDClientNegState;

/* A protocol violation, for a step to return. */
static QIONegotiationAction nbd_neg_proto_error(NBDClient *c, GError **errp,
                                                const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);

static QIONegotiationAction nbd_neg_proto_error(NBDClient *c, GError **errp,
                                                const char *fmt, ...)
{
    va_list ap;
    g_autofree char *msg = NULL;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    qio_error_setg(errp, QIO_ERROR_PROTOCOL,
                   "NBD server %s broke the protocol: %s", c->peer, msg);
    return QIO_NEGOTIATION_FAILED;
}

/* Send option @opt (no data) and read its reply, then state @next. */
static QIONegotiationAction nbd_neg_option(NBDClient *c, QIONegotiation *neg,
                                           uint32_t opt, unsigned next)
{
    uint8_t hdr[NBD_OPTION_HEADER_SIZE];
    NBDOption o = { .option = opt, .length = 0 };

    nbd_encode_option(hdr, &o);
    qio_negotiation_send(neg, hdr, sizeof(hdr), nbd_opt_name(opt));
    c->neg_opt = opt;
    c->neg_next = next;
    return qio_negotiation_read(neg, NBD_OPTION_REPLY_SIZE, "option reply",
                                NBD_NEG_OPT_REPLY);
}

/* The header of a reply to c->neg_opt: check it, bound the payload. */
static QIONegotiationAction nbd_neg_st_opt_reply(QIONegotiation *neg,
                                                 gpointer opaque, GError **errp)
{
    NBDClient *c = opaque;
    NBDOptionReply *rep = &c->neg_rep;

    if (!nbd_decode_option_reply(qio_negotiation_get_data(neg, NULL), rep)) {
        return nbd_neg_proto_error(c, errp, "bad option reply magic to %s",
                                   nbd_opt_name(c->neg_opt));
    }
    if (rep->option != c->neg_opt) {
        return nbd_neg_proto_error(
            c, errp, "reply for option %s while waiting for %s",
            nbd_opt_name(rep->option), nbd_opt_name(c->neg_opt));
    }
    if (rep->length > NBD_CLIENT_MAX_OPT_REPLY) {
        qio_error_setg(errp, QIO_ERROR_TOO_LARGE,
                       "NBD server %s sent a %" PRIu32 "-byte reply to %s "
                       "(limit %d); disconnecting",
                       c->peer, rep->length, nbd_opt_name(c->neg_opt),
                       NBD_CLIENT_MAX_OPT_REPLY);
        return QIO_NEGOTIATION_FAILED;
    }
    return qio_negotiation_read(neg, rep->length, "option reply", c->neg_next);
}

/* A refusal of c->neg_opt, with the server's own words. */
static QIONegotiationAction
nbd_neg_option_error(NBDClient *c, QIONegotiation *neg, GError **errp)
{
    size_t len;
    const uint8_t *p = qio_negotiation_get_data(neg, &len);
    g_autofree uint8_t *payload = g_malloc(len + 1);

    memcpy(payload, p, len);
    payload[len] = '\0';
    nbd_client_option_error(c, c->neg_opt, &c->neg_rep, payload, errp);
    return QIO_NEGOTIATION_FAILED;
}

static QIONegotiationAction nbd_neg_st_greeting(QIONegotiation *neg,
                                                gpointer opaque, GError **errp)
{
    return qio_negotiation_read(neg, 16, "greeting", NBD_NEG_GREETING_MAGIC);
}

static QIONegotiationAction
nbd_neg_st_greeting_magic(QIONegotiation *neg, gpointer opaque, GError **errp)
{
    NBDClient *c = opaque;
    const uint8_t *buf = qio_negotiation_get_data(neg, NULL);

    if (nbd_get_be64(buf) != NBD_INIT_MAGIC) {
        return nbd_neg_proto_error(c, errp, "not an NBD server (bad magic)");
    }
    if (nbd_get_be64(buf + 8) == NBD_CLIENT_MAGIC) {
        /* Oldstyle has no options, hence no TLS: never talk to it. */
        qio_error_setg(errp, QIO_ERROR_NOT_SUPPORTED,
                       "NBD server %s uses the oldstyle handshake, which "
                       "cannot do TLS or export names; refusing it",
                       c->peer);
        return QIO_NEGOTIATION_FAILED;
    }
    memcpy(c->greeting, buf, 16);
    return qio_negotiation_read(neg, 2, "greeting", NBD_NEG_SERVER_FLAGS);
}

static QIONegotiationAction
nbd_neg_st_server_flags(QIONegotiation *neg, gpointer opaque, GError **errp)
{
    NBDClient *c = opaque;
    uint8_t buf[4];
    uint32_t flags = NBD_FLAG_C_FIXED_NEWSTYLE;

    memcpy(c->greeting + 16, qio_negotiation_get_data(neg, NULL), 2);
    if (!nbd_decode_greeting(c->greeting, &c->server_flags)) {
        return nbd_neg_proto_error(c, errp, "bad greeting magic");
    }
    if (!(c->server_flags & NBD_FLAG_FIXED_NEWSTYLE)) {
        /* CVE-2019-14842: plain newstyle cannot refuse options safely. */
        qio_error_setg(errp, QIO_ERROR_NOT_SUPPORTED,
                       "NBD server %s is not fixed-newstyle; refusing it",
                       c->peer);
        return QIO_NEGOTIATION_FAILED;
    }
    if (c->server_flags & NBD_FLAG_NO_ZEROES) {
        flags |= NBD_FLAG_C_NO_ZEROES;
        c->no_zeroes = true;
    }
    nbd_put_be32(buf, flags);
    qio_negotiation_send(neg, buf, sizeof(buf), "client flags");
    return qio_negotiation_flush(neg, c->creds ? NBD_NEG_STARTTLS
                                               : NBD_NEG_EXTENDED_HEADERS);
}

static QIONegotiationAction nbd_neg_st_starttls(QIONegotiation *neg,
                                                gpointer opaque, GError **errp)
{
    return nbd_neg_option(opaque, neg, NBD_OPT_STARTTLS,
                          NBD_NEG_STARTTLS_REPLY);
}

static QIONegotiationAction
nbd_neg_st_starttls_reply(QIONegotiation *neg, gpointer opaque, GError **errp)
{
    NBDClient *c = opaque;

    if (c->neg_rep.type != NBD_REP_ACK || c->neg_rep.length != 0) {
        /* TLS required and refused: stop here, never fall back. */
        qio_error_setg(errp, QIO_ERROR_PERMISSION_DENIED,
                       "server %s refused TLS (NBD_OPT_STARTTLS); not "
                       "continuing in clear text",
                       c->peer);
        return QIO_NEGOTIATION_FAILED;
    }
    return qio_negotiation_tls_client(neg, c->creds, c->tls_hostname,
                                      NBD_NEG_TLS_DONE);
}

static QIONegotiationAction nbd_neg_st_tls_done(QIONegotiation *neg,
                                                gpointer opaque, GError **errp)
{
    NBDClient *c = opaque;

    g_set_object(&c->ioc, qio_negotiation_get_channel(neg));
    c->tls = true;
    /* Security boundary: nothing learnt in clear text survives it. */
    nbd_client_forget_negotiated(c);
    return qio_negotiation_flush(neg, NBD_NEG_EXTENDED_HEADERS);
}

/*
 * Extended headers first; a server that does not know them (ERR_UNSUP,
 * or any other refusal but TLS_REQD) gets asked for structured replies.
 */
static QIONegotiationAction
nbd_neg_st_extended_headers(QIONegotiation *neg, gpointer opaque, GError **errp)
{
    NBDClient *c = opaque;

    if (!c->want_extended) {
        return qio_negotiation_flush(neg, NBD_NEG_STRUCTURED_REPLY);
    }
    return nbd_neg_option(c, neg, NBD_OPT_EXTENDED_HEADERS,
                          NBD_NEG_EXTENDED_HEADERS_REPLY);
}

static QIONegotiationAction
nbd_neg_st_extended_headers_reply(QIONegotiation *neg, gpointer opaque,
                                  GError **errp)
{
    NBDClient *c = opaque;
    const NBDOptionReply *rep = &c->neg_rep;

    if (rep->type == NBD_REP_ACK) {
        if (rep->length) {
            return nbd_neg_proto_error(c, errp, "ACK to %s with a payload",
                                       nbd_opt_name(NBD_OPT_EXTENDED_HEADERS));
        }
        c->extended = true;
        c->structured = true;
        return QIO_NEGOTIATION_DONE;
    }
    if (!NBD_REP_IS_ERR(rep->type)) {
        return nbd_neg_proto_error(c, errp, "unexpected %s reply to %s",
                                   nbd_rep_name(rep->type),
                                   nbd_opt_name(NBD_OPT_EXTENDED_HEADERS));
    }
    if (rep->type == NBD_REP_ERR_TLS_REQD) {
        return nbd_neg_option_error(c, neg, errp);
    }
    return qio_negotiation_flush(neg, NBD_NEG_STRUCTURED_REPLY);
}

static QIONegotiationAction
nbd_neg_st_structured_reply(QIONegotiation *neg, gpointer opaque, GError **errp)
{
    return nbd_neg_option(opaque, neg, NBD_OPT_STRUCTURED_REPLY,
                          NBD_NEG_STRUCTURED_REPLY_REPLY);
}

static QIONegotiationAction
nbd_neg_st_structured_reply_reply(QIONegotiation *neg, gpointer opaque,
                                  GError **errp)
{
    NBDClient *c = opaque;
    const NBDOptionReply *rep = &c->neg_rep;

    if (rep->type == NBD_REP_ACK) {
        c->structured = true;
        return QIO_NEGOTIATION_DONE;
    }
    if (!NBD_REP_IS_ERR(rep->type)) {
        return nbd_neg_proto_error(c, errp, "unexpected %s reply to %s",
                                   nbd_rep_name(rep->type),
                                   nbd_opt_name(NBD_OPT_STRUCTURED_REPLY));
    }
    if (rep->type == NBD_REP_ERR_TLS_REQD) {
        return nbd_neg_option_error(c, neg, errp);
    }
    /* Other errors: carry on with simple replies. */
    return QIO_NEGOTIATION_DONE;
}

static const QIONegotiationState nbd_client_neg_states[] = {
    [NBD_NEG_GREETING] = { "GREETING", nbd_neg_st_greeting },
    [NBD_NEG_GREETING_MAGIC] = { "GREETING_MAGIC", nbd_neg_st_greeting_magic },
    [NBD_NEG_SERVER_FLAGS] = { "SERVER_FLAGS", nbd_neg_st_server_flags },
    [NBD_NEG_STARTTLS] = { "STARTTLS", nbd_neg_st_starttls },
    [NBD_NEG_STARTTLS_REPLY] = { "STARTTLS_REPLY", nbd_neg_st_starttls_reply },
    [NBD_NEG_TLS_DONE] = { "TLS_DONE", nbd_neg_st_tls_done },
    [NBD_NEG_EXTENDED_HEADERS] = { "EXTENDED_HEADERS",
                                   nbd_neg_st_extended_headers },
    [NBD_NEG_EXTENDED_HEADERS_REPLY] = { "EXTENDED_HEADERS_REPLY",
                                         nbd_neg_st_extended_headers_reply },
    [NBD_NEG_STRUCTURED_REPLY] = { "STRUCTURED_REPLY",
                                   nbd_neg_st_structured_reply },
    [NBD_NEG_STRUCTURED_REPLY_REPLY] = { "STRUCTURED_REPLY_REPLY",
                                         nbd_neg_st_structured_reply_reply },
    [NBD_NEG_OPT_REPLY] = { "OPT_REPLY", nbd_neg_st_opt_reply },
};

static const QIONegotiationProtocol nbd_client_neg_protocol = {
    "nbd-client",
    nbd_client_neg_states,
    G_N_ELEMENTS(nbd_client_neg_states),
};

/* Up to the option phase, blocking this thread. */
static bool nbd_client_handshake(NBDClient *c, GError **errp)
{
    g_autofree char *label = g_strdup_printf("NBD server %s", c->peer);
    g_autoptr(QIONegotiation) neg = qio_negotiation_new(
        &nbd_client_neg_protocol, NBD_NEG_GREETING, c->ioc, label, c);
    g_autoptr(GError) err = NULL;

    /* Greeting, flags and three options take 13 steps at most. */
    qio_negotiation_set_max_steps(neg, 16);
    qio_negotiation_set_max_read(neg, NBD_CLIENT_MAX_OPT_REPLY);
    c->state = NBD_CLIENT_ST_HANDSHAKE;
    if (qio_negotiation_run_sync(neg, &err) < 0) {
        if (qio_negotiation_get_action(neg) == QIO_NEGOTIATION_TLS) {
            g_set_error(errp, QIO_ERROR, QIO_ERROR_PERMISSION_DENIED,
                        "TLS handshake with NBD server %s failed: %s", c->peer,
                        err->message);
        } else {
            g_propagate_error(errp, g_steal_pointer(&err));
        }
        nbd_client_fail(c);
        return false;
    }
    c->state = NBD_CLIENT_ST_OPTIONS;
    return true;
}

/* ---- Construction -------------------------------------------------------- */

NBDClient *nbd_client_new_channel(QIOChannel *ioc, const char *peer,
                                  QCryptoTLSCreds *creds,
                                  const char *tls_hostname, GError **errp)
{
    return nbd_client_new_channel_full(ioc, peer, creds, tls_hostname, NULL,
                                       errp);
}

NBDClient *nbd_client_new_channel_full(QIOChannel *ioc, const char *peer,
                                       QCryptoTLSCreds *creds,
                                       const char *tls_hostname,
                                       const NBDClientOptions *opts,
                                       GError **errp)
{
    static const NBDClientOptions defaults;
    NBDClient *c;

    g_return_val_if_fail(QIO_IS_CHANNEL(ioc), NULL);
    if (creds && !qcrypto_tls_creds_check_endpoint(
                     creds, QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT, errp)) {
        return NULL;
    }
    /* Requests are whole messages: Nagle would only hold small ones back. */
    qio_channel_set_delay(ioc, false);
    c = g_new0(NBDClient, 1);
    c->ioc = g_object_ref(ioc);
    c->peer = g_strdup(peer ? peer : "(unnamed)");
    c->creds = creds ? g_object_ref(creds) : NULL;
    c->tls_hostname = g_strdup(tls_hostname);
    c->want_extended = !(opts ? opts : &defaults)->compact_headers;
    c->next_cookie = 1;
    c->max_inflight = NBD_CLIENT_DEFAULT_REQUESTS;
    c->close_timeout_ms = NBD_CLIENT_CLOSE_TIMEOUT_MS;
    c->block_min = 1;
    c->block_pref = 4096;
    c->block_max = NBD_CLIENT_MAX_REQUEST;
    c->max_payload = NBD_CLIENT_MAX_REQUEST;
    g_mutex_init(&c->lock);
    g_mutex_init(&c->send_lock);
    g_cond_init(&c->cond);
    c->inflight = g_hash_table_new(g_int64_hash, g_int64_equal);
    if (!nbd_client_handshake(c, errp)) {
        nbd_client_free(c);
        return NULL;
    }
    return c;
}

NBDClient *nbd_client_connect(const QIOSocketAddress *addr,
                              QCryptoTLSCreds *creds, const char *tls_hostname,
                              GError **errp)
{
    return nbd_client_connect_full(addr, creds, tls_hostname, NULL, errp);
}

NBDClient *nbd_client_connect_full(const QIOSocketAddress *addr,
                                   QCryptoTLSCreds *creds,
                                   const char *tls_hostname,
                                   const NBDClientOptions *opts, GError **errp)
{
    g_autoptr(QIOChannelSocket) sioc = NULL;
    g_autofree char *peer = qio_socket_address_to_string(addr);
    const char *host = tls_hostname;

    if (creds && !host) {
        if (addr->type == QIO_SOCKET_ADDRESS_TYPE_INET) {
            host = addr->u.inet.host;
        } else if (QCRYPTO_IS_TLS_CREDS_X509(creds)) {
            qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                           "NBD server %s: x509 TLS over a non-inet socket "
                           "needs a host name to check the certificate "
                           "against; use --tls-hostname",
                           peer);
            return NULL;
        }
    }
    sioc = qio_channel_socket_new();
    if (qio_channel_socket_connect_sync(sioc, addr, errp) < 0) {
        return NULL;
    }
    return nbd_client_new_channel_full(QIO_CHANNEL(sioc), peer, creds, host,
                                       opts, errp);
}

/* ---- Option phase -------------------------------------------------------- */

static bool nbd_client_check_options(NBDClient *c, GError **errp)
{
    if (c->state != NBD_CLIENT_ST_OPTIONS) {
        qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                       "NBD client for %s is not in the option phase", c->peer);
        return false;
    }
    return true;
}

char **nbd_client_list_full(NBDClient *c, char ***descriptions, GError **errp)
{
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GPtrArray) descs = g_ptr_array_new_with_free_func(g_free);

    if (!nbd_client_check_options(c, errp) ||
        !nbd_client_send_option(c, NBD_OPT_LIST, NULL, 0, errp)) {
        return NULL;
    }
    for (;;) {
        NBDOptionReply rep;
        g_autofree uint8_t *p = NULL;
        const char *desc;
        uint32_t nlen;

        if (!nbd_client_read_option_reply(c, NBD_OPT_LIST, &rep, &p, errp)) {
            return NULL;
        }
        if (rep.type == NBD_REP_ACK) {
            break;
        }
        if (NBD_REP_IS_ERR(rep.type)) {
            nbd_client_option_error(c, NBD_OPT_LIST, &rep, p, errp);
            return NULL;
        }
        if (rep.type != NBD_REP_SERVER || rep.length < 4 ||
            (nlen = nbd_get_be32(p)) > rep.length - 4) {
            nbd_client_proto_error(c, errp, "malformed reply to list");
            return NULL;
        }
        if (names->len >= NBD_CLIENT_MAX_EXPORTS) {
            nbd_client_proto_error(c, errp, "more than %d exports listed",
                                   NBD_CLIENT_MAX_EXPORTS);
            return NULL;
        }
        g_ptr_array_add(names, g_strndup((const char *)p + 4, nlen));
        /* The rest of the reply, if anything, is the description. */
        desc = (const char *)p + 4 + nlen;
        g_ptr_array_add(descs, g_utf8_validate(desc, -1, NULL) &&
                                       strlen(desc) == rep.length - 4 - nlen
                                   ? g_strdup(desc)
                                   : g_strdup(""));
    }
    g_ptr_array_add(names, NULL);
    g_ptr_array_add(descs, NULL);
    if (descriptions) {
        *descriptions =
            (char **)g_ptr_array_free(g_steal_pointer(&descs), false);
    }
    return (char **)g_ptr_array_free(g_steal_pointer(&names), false);
}

char **nbd_client_list(NBDClient *c, GError **errp)
{
    return nbd_client_list_full(c, NULL, errp);
}

static bool nbd_client_set_meta(NBDClient *c, const char *name, GError **errp)
{
    uint32_t nlen = strlen(name), qlen = strlen(NBD_META_BASE_ALLOCATION);
    g_autofree uint8_t *data = g_malloc(12 + nlen + qlen);

    nbd_put_be32(data, nlen);
    memcpy(data + 4, name, nlen);
    nbd_put_be32(data + 4 + nlen, 1);
    nbd_put_be32(data + 8 + nlen, qlen);
    memcpy(data + 12 + nlen, NBD_META_BASE_ALLOCATION, qlen);
    if (!nbd_client_send_option(c, NBD_OPT_SET_META_CONTEXT, data,
                                12 + nlen + qlen, errp)) {
        return false;
    }
    c->have_meta = false;
    for (;;) {
        NBDOptionReply rep;
        g_autofree uint8_t *p = NULL;

        if (!nbd_client_read_option_reply(c, NBD_OPT_SET_META_CONTEXT, &rep, &p,
                                          errp)) {
            return false;
        }
        if (rep.type == NBD_REP_ACK) {
            return true;
        }
        if (NBD_REP_IS_ERR(rep.type)) {
            /* Block status is optional; the export is still usable. */
            return true;
        }
        if (rep.type != NBD_REP_META_CONTEXT || rep.length < 4) {
            return nbd_client_proto_error(c, errp,
                                          "malformed reply to "
                                          "set-meta-context");
        }
        if (rep.length - 4 == qlen &&
            memcmp(p + 4, NBD_META_BASE_ALLOCATION, qlen) == 0) {
            c->have_meta = true;
            c->meta_id = nbd_get_be32(p);
        }
    }
}

void nbd_client_export_info_clear(NBDClientExportInfo *info)
{
    g_clear_pointer(&info->description, g_free);
}

/* One NBD_REP_INFO item (@p, @len bytes, type already known). */
static bool nbd_client_info_item(NBDClient *c, uint32_t opt, const uint8_t *p,
                                 uint32_t len, NBDClientExportInfo *info,
                                 bool *got_export, GError **errp)
{
    uint16_t type = nbd_get_be16(p);

    switch (type) {
    case NBD_INFO_EXPORT:
        if (len != 12) {
            return nbd_client_proto_error(
                c, errp, "export info of %" PRIu32 " bytes", len);
        }
        info->size = nbd_get_be64(p + 2);
        info->eflags = nbd_get_be16(p + 10);
        *got_export = true;
        return true;
    case NBD_INFO_DESCRIPTION:
        if (len - 2 > NBD_MAX_STRING_LENGTH) {
            return nbd_client_proto_error(
                c, errp, "description of %" PRIu32 " bytes", len - 2);
        }
        g_free(info->description);
        info->description = g_strndup((const char *)p + 2, len - 2);
        if (strlen(info->description) != len - 2 ||
            !g_utf8_validate(info->description, -1, NULL)) {
            /* Not text: show nothing rather than garbage. */
            g_clear_pointer(&info->description, g_free);
        }
        return true;
    case NBD_INFO_BLOCK_SIZE: {
        uint32_t min, pref, max;

        if (len != 14) {
            return nbd_client_proto_error(
                c, errp, "block size info of %" PRIu32 " bytes", len);
        }
        min = nbd_get_be32(p + 2);
        pref = nbd_get_be32(p + 6);
        max = nbd_get_be32(p + 10);
        /* The spec's rules; a server breaking them cannot be followed. */
        if (min == 0 || min > 65536 || (min & (min - 1)) || pref < min ||
            (pref & (pref - 1)) || max < min ||
            (max != UINT32_MAX && max % min)) {
            return nbd_client_proto_error(c, errp,
                                          "impossible block sizes "
                                          "%" PRIu32 "/%" PRIu32 "/%" PRIu32
                                          " in reply to %s",
                                          min, pref, max, nbd_opt_name(opt));
        }
        info->block_min = min;
        info->block_pref = pref;
        info->block_max = max;
        return true;
    }
    default:
        /* NBD_INFO_NAME and anything newer: not needed. */
        return true;
    }
}

/*
 * NBD_OPT_INFO or NBD_OPT_GO on @export_name: both answer with
 * NBD_REP_INFO replies ending in ACK; only GO enters transmission.  Both
 * ask for the description and the block sizes.
 */
static bool nbd_client_info_or_go(NBDClient *c, uint32_t opt,
                                  const char *export_name,
                                  NBDClientExportInfo *info, GError **errp)
{
    uint32_t nlen;
    g_autofree uint8_t *data = NULL;
    bool got_export = false;

    *info = (NBDClientExportInfo){
        .block_min = 1,
        .block_pref = 4096,
        .block_max = NBD_CLIENT_MAX_REQUEST,
    };
    if (!nbd_client_check_options(c, errp)) {
        return false;
    }
    nlen = strlen(export_name);
    if (nlen > NBD_MAX_STRING_LENGTH) {
        qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                       "NBD export name is longer than %d bytes",
                       NBD_MAX_STRING_LENGTH);
        return false;
    }
    data = g_malloc(nlen + 10);
    nbd_put_be32(data, nlen);
    memcpy(data + 4, export_name, nlen);
    nbd_put_be16(data + 4 + nlen, 2);
    nbd_put_be16(data + 6 + nlen, NBD_INFO_DESCRIPTION);
    nbd_put_be16(data + 8 + nlen, NBD_INFO_BLOCK_SIZE);
    if (!nbd_client_send_option(c, opt, data, nlen + 10, errp)) {
        return false;
    }
    for (;;) {
        NBDOptionReply rep;
        g_autofree uint8_t *p = NULL;

        if (!nbd_client_read_option_reply(c, opt, &rep, &p, errp)) {
            break;
        }
        if (NBD_REP_IS_ERR(rep.type)) {
            nbd_client_option_error(c, opt, &rep, p, errp);
            g_prefix_error(errp, "export '%s': ", export_name);
            break;
        }
        if (rep.type == NBD_REP_ACK) {
            if (got_export) {
                return true;
            }
            nbd_client_proto_error(c, errp,
                                   "%s acknowledged without "
                                   "export information",
                                   nbd_opt_name(opt));
            break;
        }
        if (rep.type != NBD_REP_INFO || rep.length < 2) {
            nbd_client_proto_error(c, errp, "malformed reply to %s",
                                   nbd_opt_name(opt));
            break;
        }
        if (!nbd_client_info_item(c, opt, p, rep.length, info, &got_export,
                                  errp)) {
            break;
        }
    }
    nbd_client_export_info_clear(info);
    return false;
}

bool nbd_client_info_full(NBDClient *c, const char *export_name,
                          NBDClientExportInfo *info, GError **errp)
{
    g_return_val_if_fail(export_name && info, false);
    return nbd_client_info_or_go(c, NBD_OPT_INFO, export_name, info, errp);
}

bool nbd_client_info(NBDClient *c, const char *export_name, uint64_t *size,
                     uint16_t *eflags, GError **errp)
{
    NBDClientExportInfo info;

    g_return_val_if_fail(export_name && size && eflags, false);
    if (!nbd_client_info_or_go(c, NBD_OPT_INFO, export_name, &info, errp)) {
        return false;
    }
    *size = info.size;
    *eflags = info.eflags;
    nbd_client_export_info_clear(&info);
    return true;
}

static gpointer nbd_client_reader(gpointer opaque);

bool nbd_client_go(NBDClient *c, const char *export_name, GError **errp)
{
    NBDClientExportInfo info;

    g_return_val_if_fail(export_name, false);
    if (!nbd_client_check_options(c, errp)) {
        return false;
    }
    if (c->structured && strlen(export_name) <= NBD_MAX_STRING_LENGTH &&
        !nbd_client_set_meta(c, export_name, errp)) {
        return false;
    }
    if (!nbd_client_info_or_go(c, NBD_OPT_GO, export_name, &info, errp)) {
        return false;
    }
    c->size = info.size;
    c->eflags = info.eflags;
    c->description = g_steal_pointer(&info.description);
    c->block_min = info.block_min;
    c->block_pref = info.block_pref;
    c->block_max = info.block_max;
    c->max_payload = MIN(info.block_max, NBD_CLIENT_MAX_REQUEST);
    /* Whole minimum blocks only, so a maximum-sized request stays legal. */
    c->max_payload -= c->max_payload % c->block_min;
    c->state = NBD_CLIENT_ST_TRANSMISSION;
    c->reader = g_thread_new("nbd-client-reader", nbd_client_reader, c);
    return true;
}

uint64_t nbd_client_get_size(NBDClient *c)
{
    return c->size;
}

uint16_t nbd_client_get_flags(NBDClient *c)
{
    return c->eflags;
}

bool nbd_client_is_tls(NBDClient *c)
{
    return c->tls;
}

bool nbd_client_has_structured_replies(NBDClient *c)
{
    return c->structured;
}

bool nbd_client_has_extended_headers(NBDClient *c)
{
    return c->extended;
}

const char *nbd_client_get_description(NBDClient *c)
{
    return c->description;
}

void nbd_client_get_block_sizes(NBDClient *c, uint32_t *minimum,
                                uint32_t *preferred, uint32_t *maximum)
{
    *minimum = c->block_min;
    *preferred = c->block_pref;
    *maximum = c->block_max;
}

uint32_t nbd_client_get_max_request(NBDClient *c)
{
    return c->max_payload;
}

void nbd_client_set_max_requests(NBDClient *c, unsigned n)
{
    g_mutex_lock(&c->lock);
    c->max_inflight = CLAMP(n, 1, NBD_CLIENT_MAX_REQUESTS);
    g_cond_broadcast(&c->cond);
    g_mutex_unlock(&c->lock);
}

void nbd_client_set_close_timeout(NBDClient *c, guint timeout_ms)
{
    g_mutex_lock(&c->lock);
    c->close_timeout_ms = timeout_ms;
    g_mutex_unlock(&c->lock);
}

/* ---- Transmission phase -------------------------------------------------- */

/* A request in flight and what its reply must deliver. */
typedef struct {
    uint16_t type;
    uint16_t flags;
    uint64_t cookie;
    uint64_t offset;
    uint64_t len;     /* over 32 bits only with extended headers */
    uint8_t *rbuf;    /* NBD_CMD_READ destination */
    uint64_t covered; /* bytes of rbuf filled by chunks */
    GArray *extents;  /* NBD_CMD_BLOCK_STATUS result */
    GError *err;      /* first server error, or the connection's */
    bool sending;     /* the submitter is still writing it */
    bool finished;    /* replied to while still being sent */
    NBDClientCallback cb;
    gpointer opaque;
} NBDClientRequest;

static void nbd_client_request_free(NBDClientRequest *r)
{
    g_clear_error(&r->err);
    g_free(r);
}

static void nbd_client_request_call(NBDClientRequest *r)
{
    r->cb(r->err, r->opaque);
    nbd_client_request_free(r);
}

/*
 * @r has left the in-flight table: report it, unless its submitter is
 * still writing its payload from the caller's buffer; then the submitter
 * reports it when done, so the caller never frees a buffer in use.
 */
static void nbd_client_request_done(NBDClient *c, NBDClientRequest *r)
{
    g_mutex_lock(&c->lock);
    if (r->sending) {
        r->finished = true;
        g_mutex_unlock(&c->lock);
        return;
    }
    g_mutex_unlock(&c->lock);
    nbd_client_request_call(r);
}

/*
 * The connection is lost or cannot be trusted: fail everything in flight
 * with @err (or the reason recorded earlier) and refuse new requests.
 * Only the reader thread, or nbd_client_close() after it, calls this, so
 * no reply is being read into a buffer that is handed back here.
 */
static void nbd_client_fail_all(NBDClient *c, const GError *err)
{
    GPtrArray *reqs = g_ptr_array_new();
    GHashTableIter it;
    gpointer value;

    g_mutex_lock(&c->lock);
    c->dead = true;
    if (c->send_err && !c->fail_err &&
        !g_error_matches(err, QIO_ERROR, QIO_ERROR_PROTOCOL) &&
        !g_error_matches(err, QIO_ERROR, QIO_ERROR_TOO_LARGE)) {
        /* The reader only saw the shutdown; the send says why. */
        c->fail_err = g_error_copy(c->send_err);
    }
    if (!c->fail_err) {
        c->fail_err =
            err ? g_error_copy(err)
                : g_error_new(QIO_ERROR, QIO_ERROR_CLOSED,
                              "NBD server %s: connection closed", c->peer);
    }
    g_hash_table_iter_init(&it, c->inflight);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        g_ptr_array_add(reqs, value);
    }
    g_hash_table_remove_all(c->inflight);
    g_cond_broadcast(&c->cond);
    for (guint i = 0; i < reqs->len; i++) {
        NBDClientRequest *r = reqs->pdata[i];

        g_clear_error(&r->err);
        r->err = g_error_copy(c->fail_err);
    }
    g_mutex_unlock(&c->lock);
    qio_channel_shutdown(c->ioc, QIO_CHANNEL_SHUTDOWN_BOTH, NULL);
    for (guint i = 0; i < reqs->len; i++) {
        nbd_client_request_done(c, reqs->pdata[i]);
    }
    g_ptr_array_free(reqs, true);
}

static NBDClientRequest *nbd_client_lookup(NBDClient *c, uint64_t cookie,
                                           GError **errp)
{
    NBDClientRequest *r;

    g_mutex_lock(&c->lock);
    r = g_hash_table_lookup(c->inflight, &cookie);
    g_mutex_unlock(&c->lock);
    if (!r) {
        nbd_client_proto_error(c, errp,
                               "reply for unknown or already "
                               "completed cookie %" PRIu64,
                               cookie);
    }
    return r;
}

/* The final reply for @r arrived: take it out of flight and report it. */
static void nbd_client_retire(NBDClient *c, NBDClientRequest *r)
{
    g_mutex_lock(&c->lock);
    g_hash_table_remove(c->inflight, &r->cookie);
    g_cond_broadcast(&c->cond);
    g_mutex_unlock(&c->lock);
    nbd_client_request_done(c, r);
}

static void nbd_client_server_error(NBDClient *c, NBDClientRequest *r,
                                    uint32_t err, const char *msg,
                                    const uint64_t *err_offset)
{
    if (r->err) {
        return;
    }
    r->err = g_error_new(
        QIO_ERROR, QIO_ERROR_FAILED,
        "NBD server %s failed %s at offset %" PRIu64 ": %s%s%s", c->peer,
        nbd_cmd_name(r->type), err_offset ? *err_offset : r->offset,
        g_strerror(nbd_wire_to_errno(err)), msg ? ": " : "", msg ? msg : "");
}

static bool nbd_client_chunk_data(NBDClient *c, NBDClientRequest *r,
                                  const NBDStructuredReply *h, GError **errp)
{
    uint8_t off[8];
    uint64_t o;
    uint32_t dlen;

    if (r->type != NBD_CMD_READ || h->length <= 8 || h->length - 8 > r->len) {
        return nbd_client_proto_error(
            c, errp, "bad data chunk of %" PRIu32 " bytes for %s of %" PRIu64,
            h->length, nbd_cmd_name(r->type), r->len);
    }
    if (!nbd_client_read(c, off, 8, "data chunk", errp)) {
        return false;
    }
    o = nbd_get_be64(off);
    dlen = h->length - 8;
    if (o < r->offset || o - r->offset > r->len - dlen) {
        return nbd_client_proto_error(c, errp,
                                      "data chunk outside the "
                                      "request");
    }
    r->covered += dlen;
    return nbd_client_read(c, r->rbuf + (o - r->offset), dlen, "data", errp);
}

/* An ERROR or ERROR_OFFSET chunk already read into @p. */
static bool nbd_client_chunk_error(NBDClient *c, NBDClientRequest *r,
                                   const NBDStructuredReply *h,
                                   const uint8_t *p, GError **errp)
{
    uint32_t len = h->length;
    uint16_t mlen;
    uint64_t eoff;
    g_autofree char *msg = NULL;

    if (len < 6 || (mlen = nbd_get_be16(p + 4)) > len - 6) {
        return nbd_client_proto_error(c, errp, "bad error chunk");
    }
    if (h->type == NBD_REPLY_TYPE_ERROR_OFFSET) {
        if (len - 6 - mlen != 8) {
            return nbd_client_proto_error(c, errp, "bad error-offset chunk");
        }
        eoff = nbd_get_be64(p + 6 + mlen);
        if (eoff < r->offset || eoff - r->offset >= r->len) {
            return nbd_client_proto_error(
                c, errp, "error offset %" PRIu64 " outside the request", eoff);
        }
    } else if (h->type != NBD_REPLY_TYPE_ERROR) {
        return nbd_client_proto_error(c, errp,
                                      "unknown error chunk type "
                                      "%u",
                                      h->type);
    } else if (len - 6 != mlen) {
        return nbd_client_proto_error(c, errp, "bad error chunk");
    }
    if (nbd_get_be32(p) == 0) {
        return nbd_client_proto_error(c, errp,
                                      "error chunk without an "
                                      "error");
    }
    msg = g_strndup((const char *)p + 6, mlen);
    if (strlen(msg) != mlen || !g_utf8_validate(msg, -1, NULL)) {
        g_clear_pointer(&msg, g_free);
    }
    nbd_client_server_error(c, r, nbd_get_be32(p), msg,
                            h->type == NBD_REPLY_TYPE_ERROR_OFFSET ? &eoff
                                                                   : NULL);
    return true;
}

/* Parse a small chunk already read into @p (@len bytes). */
static bool nbd_client_chunk_small(NBDClient *c, NBDClientRequest *r,
                                   const NBDStructuredReply *h,
                                   const uint8_t *p, GError **errp)
{
    uint32_t len = h->length;

    if (NBD_REPLY_TYPE_IS_ERR(h->type)) {
        return nbd_client_chunk_error(c, r, h, p, errp);
    }
    switch (h->type) {
    case NBD_REPLY_TYPE_OFFSET_HOLE: {
        uint64_t o;
        uint32_t hlen;

        if (r->type != NBD_CMD_READ || len != 12) {
            return nbd_client_proto_error(c, errp, "bad hole chunk");
        }
        o = nbd_get_be64(p);
        hlen = nbd_get_be32(p + 8);
        if (hlen == 0 || hlen > r->len || o < r->offset ||
            o - r->offset > r->len - hlen) {
            return nbd_client_proto_error(c, errp,
                                          "hole chunk outside "
                                          "the request");
        }
        memset(r->rbuf + (o - r->offset), 0, hlen);
        r->covered += hlen;
        return true;
    }
    case NBD_REPLY_TYPE_BLOCK_STATUS: {
        uint32_t i, n;

        if (r->type != NBD_CMD_BLOCK_STATUS || len < 12 || (len - 4) % 8 != 0) {
            return nbd_client_proto_error(c, errp, "bad block status chunk");
        }
        if (nbd_get_be32(p) != c->meta_id || r->extents->len) {
            return nbd_client_proto_error(c, errp,
                                          "unexpected block status "
                                          "context");
        }
        n = (len - 4) / 8;
        for (i = 0; i < n; i++) {
            NBDClientExtent e = {
                .length = nbd_get_be32(p + 4 + i * 8),
                .flags = nbd_get_be32(p + 8 + i * 8),
            };
            if (e.length == 0) {
                return nbd_client_proto_error(c, errp, "empty extent");
            }
            g_array_append_val(r->extents, e);
        }
        return true;
    }
    case NBD_REPLY_TYPE_BLOCK_STATUS_EXT: {
        uint32_t i, n, count;

        /* Context id, descriptor count, then 16-byte descriptors. */
        if (!c->extended || r->type != NBD_CMD_BLOCK_STATUS || len < 24 ||
            (len - 8) % 16 != 0) {
            return nbd_client_proto_error(c, errp,
                                          "bad extended block "
                                          "status chunk");
        }
        if (nbd_get_be32(p) != c->meta_id || r->extents->len) {
            return nbd_client_proto_error(c, errp,
                                          "unexpected block status "
                                          "context");
        }
        n = (len - 8) / 16;
        count = nbd_get_be32(p + 4);
        if (count != 0 && count != n) {
            return nbd_client_proto_error(c, errp,
                                          "block status chunk says "
                                          "%" PRIu32
                                          " extents but holds %" PRIu32,
                                          count, n);
        }
        for (i = 0; i < n; i++) {
            uint64_t flags = nbd_get_be64(p + 16 + i * 16);
            NBDClientExtent e = {
                .length = nbd_get_be64(p + 8 + i * 16),
                .flags = (uint32_t)flags,
            };
            if (e.length == 0) {
                return nbd_client_proto_error(c, errp, "empty extent");
            }
            if (flags >> 32) {
                /* base:allocation has 32-bit flags only. */
                return nbd_client_proto_error(
                    c, errp, "extent flags 0x%" PRIx64 " beyond 32 bits",
                    flags);
            }
            g_array_append_val(r->extents, e);
        }
        return true;
    }
    case NBD_REPLY_TYPE_NONE:
        if (len != 0 || !(h->flags & NBD_REPLY_FLAG_DONE)) {
            return nbd_client_proto_error(c, errp, "bad none chunk");
        }
        return true;
    default:
        return nbd_client_proto_error(c, errp, "unknown chunk type %u",
                                      h->type);
    }
}

/* The payload of one chunk for @r, whose header is @hp. */
static bool nbd_client_chunk_body(NBDClient *c, NBDClientRequest *r,
                                  const NBDStructuredReply *hp, GError **errp)
{
    NBDStructuredReply h = *hp;

    if (h.type == NBD_REPLY_TYPE_OFFSET_DATA) {
        if (!nbd_client_chunk_data(c, r, &h, errp)) {
            return false;
        }
    } else {
        g_autofree uint8_t *p = NULL;

        if (h.length > NBD_CLIENT_MAX_CHUNK) {
            qio_error_setg(errp, QIO_ERROR_TOO_LARGE,
                           "NBD server %s sent a %" PRIu32 "-byte %s "
                           "chunk (limit %d); disconnecting",
                           c->peer, h.length, nbd_reply_type_name(h.type),
                           NBD_CLIENT_MAX_CHUNK);
            nbd_client_fail(c);
            return false;
        }
        p = g_malloc(h.length + 1);
        if (!nbd_client_read(c, p, h.length, "chunk", errp) ||
            !nbd_client_chunk_small(c, r, &h, p, errp)) {
            return false;
        }
    }
    if (!(h.flags & NBD_REPLY_FLAG_DONE)) {
        return true;
    }
    if (!r->err) {
        if (r->type == NBD_CMD_READ && r->covered != r->len) {
            return nbd_client_proto_error(
                c, errp, "read reply covered %" PRIu64 " of %" PRIu64 " bytes",
                r->covered, r->len);
        }
        if (r->type == NBD_CMD_BLOCK_STATUS && r->extents->len == 0) {
            return nbd_client_proto_error(c, errp, "no block status");
        }
    }
    nbd_client_retire(c, r);
    return true;
}

/* One structured chunk whose first 16 bytes are in @first. */
static bool nbd_client_chunk(NBDClient *c, const uint8_t *first, GError **errp)
{
    uint8_t hdr[NBD_STRUCTURED_REPLY_SIZE];
    NBDStructuredReply h;
    NBDClientRequest *r;

    memcpy(hdr, first, NBD_SIMPLE_REPLY_SIZE);
    if (!nbd_client_read(c, hdr + NBD_SIMPLE_REPLY_SIZE,
                         sizeof(hdr) - NBD_SIMPLE_REPLY_SIZE, "reply", errp)) {
        return false;
    }
    if (!nbd_decode_structured_reply(hdr, &h)) {
        return nbd_client_proto_error(c, errp, "bad reply magic");
    }
    if (h.type == NBD_REPLY_TYPE_BLOCK_STATUS_EXT) {
        return nbd_client_proto_error(c, errp,
                                      "extended block status "
                                      "without extended headers");
    }
    r = nbd_client_lookup(c, h.cookie, errp);
    return r && nbd_client_chunk_body(c, r, &h, errp);
}

/*
 * With extended headers every reply is a 32-byte chunk header: any other
 * magic (simple or structured replies included) means the stream is lost.
 * The header's offset must be the request's, and its 64-bit length is
 * bounded before the payload parsers see it.
 */
static bool nbd_client_extended_chunk(NBDClient *c, GError **errp)
{
    uint8_t hdr[NBD_EXTENDED_REPLY_SIZE];
    NBDExtendedReply x;
    NBDStructuredReply h;
    NBDClientRequest *r;

    if (!nbd_client_read(c, hdr, sizeof(hdr), "reply", errp)) {
        return false;
    }
    if (!nbd_decode_extended_reply(hdr, &x)) {
        return nbd_client_proto_error(c, errp,
                                      "reply magic 0x%08" PRIx32
                                      " where extended headers were agreed",
                                      nbd_get_be32(hdr));
    }
    r = nbd_client_lookup(c, x.cookie, errp);
    if (!r) {
        return false;
    }
    if (x.offset != r->offset) {
        return nbd_client_proto_error(
            c, errp, "reply to %s at %" PRIu64 " says offset %" PRIu64,
            nbd_cmd_name(r->type), r->offset, x.offset);
    }
    /* Over both bounds below, whatever the type: never truncated. */
    if (x.length > MAX(NBD_CLIENT_MAX_CHUNK, NBD_CLIENT_MAX_REQUEST + 8)) {
        qio_error_setg(errp, QIO_ERROR_TOO_LARGE,
                       "NBD server %s sent a %" PRIu64 "-byte %s chunk "
                       "for %s; disconnecting",
                       c->peer, x.length, nbd_reply_type_name(x.type),
                       nbd_cmd_name(r->type));
        nbd_client_fail(c);
        return false;
    }
    h = (NBDStructuredReply){
        .flags = x.flags,
        .type = x.type,
        .cookie = x.cookie,
        .length = (uint32_t)x.length,
    };
    return nbd_client_chunk_body(c, r, &h, errp);
}

/* Read one reply or chunk and deliver it to its request. */
static bool nbd_client_read_reply(NBDClient *c, GError **errp)
{
    uint8_t hdr[NBD_SIMPLE_REPLY_SIZE];
    NBDSimpleReply s;
    NBDClientRequest *r;

    if (c->extended) {
        return nbd_client_extended_chunk(c, errp);
    }
    if (!nbd_client_read(c, hdr, sizeof(hdr), "reply", errp)) {
        return false;
    }
    if (nbd_get_be32(hdr) == NBD_STRUCTURED_REPLY_MAGIC && c->structured) {
        return nbd_client_chunk(c, hdr, errp);
    }
    if (!nbd_decode_simple_reply(hdr, &s)) {
        return nbd_client_proto_error(c, errp, "bad reply magic");
    }
    r = nbd_client_lookup(c, s.cookie, errp);
    if (!r) {
        return false;
    }
    if (s.error) {
        nbd_client_server_error(c, r, s.error, NULL, NULL);
    } else if (r->type == NBD_CMD_READ) {
        if (c->structured) {
            return nbd_client_proto_error(c, errp, "simple reply to a read");
        }
        if (!nbd_client_read(c, r->rbuf, r->len, "data", errp)) {
            return false;
        }
    } else if (r->type == NBD_CMD_BLOCK_STATUS) {
        return nbd_client_proto_error(c, errp,
                                      "simple reply to block "
                                      "status");
    }
    nbd_client_retire(c, r);
    return true;
}

/*
 * The reader thread: reads replies while requests are in flight, sleeps
 * while none are (so nothing unasked is accepted), and on any failure
 * fails everything in flight.
 */
static gpointer nbd_client_reader(gpointer opaque)
{
    NBDClient *c = opaque;
    g_autoptr(GError) err = NULL;

    for (;;) {
        bool stop;

        g_mutex_lock(&c->lock);
        while (!c->dead && !c->stopping &&
               g_hash_table_size(c->inflight) == 0) {
            g_cond_wait(&c->cond, &c->lock);
        }
        stop = c->dead || g_hash_table_size(c->inflight) == 0;
        g_mutex_unlock(&c->lock);
        if (stop || !nbd_client_read_reply(c, &err)) {
            break;
        }
    }
    if (err) {
        nbd_client_fail_all(c, err);
    }
    return NULL;
}

static bool nbd_client_send_request(NBDClient *c, const NBDClientRequest *r,
                                    const void *payload, GError **errp)
{
    uint8_t buf[NBD_EXTENDED_REQUEST_SIZE];
    NBDRequest req = {
        .flags = r->flags,
        .type = r->type,
        .cookie = r->cookie,
        .offset = r->offset,
        .length = r->len,
    };
    struct iovec iov[2] = {
        { .iov_base = buf, .iov_len = NBD_REQUEST_SIZE },
        { .iov_base = (void *)payload, .iov_len = payload ? r->len : 0 },
    };
    g_autoptr(GError) err = NULL;

    if (c->extended) {
        /* The flag tells the server a payload follows (WRITE only). */
        if (payload) {
            req.flags |= NBD_CMD_FLAG_PAYLOAD_LEN;
        }
        nbd_encode_extended_request(buf, &req);
        iov[0].iov_len = NBD_EXTENDED_REQUEST_SIZE;
    } else {
        nbd_encode_request(buf, &req);
    }
    if (qio_channel_writev_all(c->ioc, iov, payload ? 2 : 1, &err) < 0) {
        g_set_error(errp, QIO_ERROR, err->code, "NBD server %s: sending %s: %s",
                    c->peer, nbd_cmd_name(r->type), err->message);
        return false;
    }
    return true;
}

/*
 * Put @tmpl in flight: wait for a free slot, give it a cookie, register
 * it for the reader, then send it.  From here on @cb is always called.
 */
static bool nbd_client_submit(NBDClient *c, const NBDClientRequest *tmpl,
                              const void *payload, GError **errp)
{
    NBDClientRequest *r;
    g_autoptr(GError) err = NULL;
    bool ok, finished;

    if (c->state != NBD_CLIENT_ST_TRANSMISSION) {
        qio_error_setg(errp, QIO_ERROR_CLOSED,
                       "NBD client for %s is not connected to an export",
                       c->peer);
        return false;
    }
    if (tmpl->len > UINT32_MAX && !c->extended) {
        qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                       "NBD %s of %" PRIu64 " bytes needs extended headers, "
                       "which server %s did not agree to",
                       nbd_cmd_name(tmpl->type), tmpl->len, c->peer);
        return false;
    }
    if (tmpl->offset > UINT64_MAX - tmpl->len ||
        ((tmpl->type == NBD_CMD_READ || tmpl->type == NBD_CMD_WRITE) &&
         tmpl->len > c->max_payload)) {
        qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                       "NBD %s of %" PRIu64 " bytes at %" PRIu64
                       " is out of range (at most %" PRIu32 " bytes per "
                       "request for server %s)",
                       nbd_cmd_name(tmpl->type), tmpl->len, tmpl->offset,
                       c->max_payload, c->peer);
        return false;
    }
    r = g_new(NBDClientRequest, 1);
    *r = *tmpl;
    r->sending = true;
    g_mutex_lock(&c->lock);
    while (!c->dead && g_hash_table_size(c->inflight) >= c->max_inflight) {
        g_cond_wait(&c->cond, &c->lock);
    }
    if (c->dead) {
        qio_error_setg(
            errp, QIO_ERROR_CLOSED, "NBD client for %s is closed%s%s", c->peer,
            c->fail_err ? ": " : "", c->fail_err ? c->fail_err->message : "");
        g_mutex_unlock(&c->lock);
        g_free(r);
        return false;
    }
    r->cookie = c->next_cookie++;
    g_hash_table_insert(c->inflight, &r->cookie, r);
    g_cond_broadcast(&c->cond);
    g_mutex_unlock(&c->lock);

    g_mutex_lock(&c->send_lock);
    ok = nbd_client_send_request(c, r, payload, &err);
    g_mutex_unlock(&c->send_lock);

    g_mutex_lock(&c->lock);
    if (!ok && !c->send_err) {
        c->send_err = g_steal_pointer(&err);
    }
    r->sending = false;
    finished = r->finished;
    g_mutex_unlock(&c->lock);
    if (!ok) {
        /* The reader sees the shutdown and fails every request. */
        qio_channel_shutdown(c->ioc, QIO_CHANNEL_SHUTDOWN_BOTH, NULL);
    }
    if (finished) {
        nbd_client_request_call(r);
    }
    return true;
}

static bool nbd_client_need_flag(NBDClient *c, uint16_t flag, const char *what,
                                 GError **errp)
{
    if (c->state == NBD_CLIENT_ST_TRANSMISSION && !(c->eflags & flag)) {
        qio_error_setg(errp, QIO_ERROR_NOT_SUPPORTED,
                       "NBD server %s does not support %s on this export",
                       c->peer, what);
        return false;
    }
    return true;
}

bool nbd_client_submit_pread(NBDClient *c, void *buf, uint32_t len,
                             uint64_t offset, NBDClientCallback cb,
                             gpointer opaque, GError **errp)
{
    NBDClientRequest r = {
        .type = NBD_CMD_READ,
        .offset = offset,
        .len = len,
        .rbuf = buf,
        .cb = cb,
        .opaque = opaque,
    };

    if (c->structured && len <= c->max_payload) {
        /* Chunks may leave gaps only by breaking the protocol: no leaks. */
        memset(buf, 0, len);
    }
    return nbd_client_submit(c, &r, NULL, errp);
}

bool nbd_client_submit_pwrite(NBDClient *c, const void *buf, uint32_t len,
                              uint64_t offset, unsigned flags,
                              NBDClientCallback cb, gpointer opaque,
                              GError **errp)
{
    NBDClientRequest r = {
        .type = NBD_CMD_WRITE,
        .offset = offset,
        .len = len,
        .flags = (flags & NBD_CLIENT_FUA) ? NBD_CMD_FLAG_FUA : 0,
        .cb = cb,
        .opaque = opaque,
    };

    if ((flags & NBD_CLIENT_FUA) &&
        !nbd_client_need_flag(c, NBD_FLAG_SEND_FUA, "FUA", errp)) {
        return false;
    }
    return nbd_client_submit(c, &r, buf, errp);
}

bool nbd_client_submit_zero(NBDClient *c, uint64_t len, uint64_t offset,
                            unsigned flags, NBDClientCallback cb,
                            gpointer opaque, GError **errp)
{
    NBDClientRequest r = {
        .type = NBD_CMD_WRITE_ZEROES,
        .offset = offset,
        .len = len,
        .cb = cb,
        .opaque = opaque,
    };

    if (!nbd_client_need_flag(c, NBD_FLAG_SEND_WRITE_ZEROES, "write zeroes",
                              errp) ||
        ((flags & NBD_CLIENT_FAST_ZERO) &&
         !nbd_client_need_flag(c, NBD_FLAG_SEND_FAST_ZERO, "fast zero",
                               errp)) ||
        ((flags & NBD_CLIENT_FUA) &&
         !nbd_client_need_flag(c, NBD_FLAG_SEND_FUA, "FUA", errp))) {
        return false;
    }
    r.flags |= (flags & NBD_CLIENT_FUA) ? NBD_CMD_FLAG_FUA : 0;
    r.flags |= (flags & NBD_CLIENT_NO_HOLE) ? NBD_CMD_FLAG_NO_HOLE : 0;
    r.flags |= (flags & NBD_CLIENT_FAST_ZERO) ? NBD_CMD_FLAG_FAST_ZERO : 0;
    return nbd_client_submit(c, &r, NULL, errp);
}

bool nbd_client_submit_trim(NBDClient *c, uint64_t len, uint64_t offset,
                            NBDClientCallback cb, gpointer opaque,
                            GError **errp)
{
    NBDClientRequest r = {
        .type = NBD_CMD_TRIM,
        .offset = offset,
        .len = len,
        .cb = cb,
        .opaque = opaque,
    };

    return nbd_client_need_flag(c, NBD_FLAG_SEND_TRIM, "trim", errp) &&
           nbd_client_submit(c, &r, NULL, errp);
}

bool nbd_client_submit_flush(NBDClient *c, NBDClientCallback cb,
                             gpointer opaque, GError **errp)
{
    NBDClientRequest r = {
        .type = NBD_CMD_FLUSH,
        .cb = cb,
        .opaque = opaque,
    };

    return nbd_client_need_flag(c, NBD_FLAG_SEND_FLUSH, "flush", errp) &&
           nbd_client_submit(c, &r, NULL, errp);
}

bool nbd_client_submit_cache(NBDClient *c, uint64_t len, uint64_t offset,
                             NBDClientCallback cb, gpointer opaque,
                             GError **errp)
{
    NBDClientRequest r = {
        .type = NBD_CMD_CACHE,
        .offset = offset,
        .len = len,
        .cb = cb,
        .opaque = opaque,
    };

    return nbd_client_need_flag(c, NBD_FLAG_SEND_CACHE, "cache", errp) &&
           nbd_client_submit(c, &r, NULL, errp);
}

bool nbd_client_submit_block_status(NBDClient *c, uint64_t len, uint64_t offset,
                                    GArray *extents, NBDClientCallback cb,
                                    gpointer opaque, GError **errp)
{
    NBDClientRequest r = {
        .type = NBD_CMD_BLOCK_STATUS,
        .offset = offset,
        .len = len,
        .extents = extents,
        .cb = cb,
        .opaque = opaque,
    };

    g_return_val_if_fail(extents && extents->len == 0, false);
    if (c->state == NBD_CLIENT_ST_TRANSMISSION && !c->have_meta) {
        qio_error_setg(errp, QIO_ERROR_NOT_SUPPORTED,
                       "NBD server %s did not agree to %s", c->peer,
                       NBD_META_BASE_ALLOCATION);
        return false;
    }
    return nbd_client_submit(c, &r, NULL, errp);
}

/* ---- Blocking wrappers --------------------------------------------------- */

typedef struct {
    GMutex lock;
    GCond cond;
    bool done;
    GError *err;
} NBDClientWait;

static void nbd_client_wait_cb(const GError *err, gpointer opaque)
{
    NBDClientWait *w = opaque;

    g_mutex_lock(&w->lock);
    w->err = err ? g_error_copy(err) : NULL;
    w->done = true;
    g_cond_signal(&w->cond);
    g_mutex_unlock(&w->lock);
}

static void nbd_client_wait_init(NBDClientWait *w)
{
    g_mutex_init(&w->lock);
    g_cond_init(&w->cond);
    w->done = false;
    w->err = NULL;
}

/* @submitted: what the submit call returned. */
static bool nbd_client_wait(NBDClientWait *w, bool submitted, GError **errp)
{
    if (submitted) {
        g_mutex_lock(&w->lock);
        while (!w->done) {
            g_cond_wait(&w->cond, &w->lock);
        }
        g_mutex_unlock(&w->lock);
    }
    g_mutex_clear(&w->lock);
    g_cond_clear(&w->cond);
    if (w->err) {
        g_propagate_error(errp, w->err);
        return false;
    }
    return submitted;
}

bool nbd_client_pread(NBDClient *c, void *buf, uint32_t len, uint64_t offset,
                      GError **errp)
{
    NBDClientWait w;

    nbd_client_wait_init(&w);
    return nbd_client_wait(&w,
                           nbd_client_submit_pread(c, buf, len, offset,
                                                   nbd_client_wait_cb, &w,
                                                   errp),
                           errp);
}

bool nbd_client_pwrite(NBDClient *c, const void *buf, uint32_t len,
                       uint64_t offset, unsigned flags, GError **errp)
{
    NBDClientWait w;

    nbd_client_wait_init(&w);
    return nbd_client_wait(&w,
                           nbd_client_submit_pwrite(c, buf, len, offset, flags,
                                                    nbd_client_wait_cb, &w,
                                                    errp),
                           errp);
}

bool nbd_client_zero(NBDClient *c, uint64_t len, uint64_t offset,
                     unsigned flags, GError **errp)
{
    NBDClientWait w;

    nbd_client_wait_init(&w);
    return nbd_client_wait(&w,
                           nbd_client_submit_zero(c, len, offset, flags,
                                                  nbd_client_wait_cb, &w, errp),
                           errp);
}

bool nbd_client_trim(NBDClient *c, uint64_t len, uint64_t offset, GError **errp)
{
    NBDClientWait w;

    nbd_client_wait_init(&w);
    return nbd_client_wait(
        &w,
        nbd_client_submit_trim(c, len, offset, nbd_client_wait_cb, &w, errp),
        errp);
}

bool nbd_client_flush(NBDClient *c, GError **errp)
{
    NBDClientWait w;

    nbd_client_wait_init(&w);
    return nbd_client_wait(
        &w, nbd_client_submit_flush(c, nbd_client_wait_cb, &w, errp), errp);
}

bool nbd_client_cache(NBDClient *c, uint64_t len, uint64_t offset,
                      GError **errp)
{
    NBDClientWait w;

    nbd_client_wait_init(&w);
    return nbd_client_wait(
        &w,
        nbd_client_submit_cache(c, len, offset, nbd_client_wait_cb, &w, errp),
        errp);
}

GArray *nbd_client_block_status(NBDClient *c, uint64_t len, uint64_t offset,
                                GError **errp)
{
    g_autoptr(GArray) ext = g_array_new(false, false, sizeof(NBDClientExtent));
    NBDClientWait w;

    nbd_client_wait_init(&w);
    if (!nbd_client_wait(&w,
                         nbd_client_submit_block_status(
                             c, len, offset, ext, nbd_client_wait_cb, &w, errp),
                         errp)) {
        return NULL;
    }
    return g_steal_pointer(&ext);
}

/* ---- Teardown ------------------------------------------------------------ */

void nbd_client_close(NBDClient *c)
{
    if (c->state == NBD_CLIENT_ST_OPTIONS) {
        /* Best effort; the reply, if any, is not awaited. */
        nbd_client_send_option(c, NBD_OPT_ABORT, NULL, 0, NULL);
    } else if (c->state == NBD_CLIENT_ST_TRANSMISSION) {
        NBDClientRequest r = { .type = NBD_CMD_DISC };
        bool dead;

        gint64 deadline = g_get_monotonic_time() +
                          (gint64)c->close_timeout_ms * G_TIME_SPAN_MILLISECOND;

        /*
         * Let the requests in flight finish, then say goodbye; a server
         * that stops answering gets no goodbye, and the requests fail.
         */
        g_mutex_lock(&c->lock);
        while (!c->dead && g_hash_table_size(c->inflight) > 0) {
            if (!c->close_timeout_ms) {
                g_cond_wait(&c->cond, &c->lock);
            } else if (!g_cond_wait_until(&c->cond, &c->lock, deadline)) {
                g_info("NBD server %s: %u requests still unanswered after "
                       "%u ms; closing without NBD_CMD_DISC",
                       c->peer, g_hash_table_size(c->inflight),
                       c->close_timeout_ms);
                c->dead = true;
            }
        }
        dead = c->dead;
        c->dead = true;
        c->stopping = true;
        r.cookie = c->next_cookie++;
        g_cond_broadcast(&c->cond);
        g_mutex_unlock(&c->lock);
        if (!dead) {
            g_mutex_lock(&c->send_lock);
            nbd_client_send_request(c, &r, NULL, NULL);
            g_mutex_unlock(&c->send_lock);
        }
        qio_channel_shutdown(c->ioc, QIO_CHANNEL_SHUTDOWN_BOTH, NULL);
        g_thread_join(c->reader);
        c->reader = NULL;
        /* Nothing can be in flight now; fail anything left, to be sure. */
        nbd_client_fail_all(c, NULL);
        qio_channel_close(c->ioc, NULL);
        c->state = NBD_CLIENT_ST_CLOSED;
    }
    if (c->state != NBD_CLIENT_ST_CLOSED) {
        nbd_client_fail(c);
    }
}

void nbd_client_free(NBDClient *c)
{
    if (!c) {
        return;
    }
    nbd_client_close(c);
    g_clear_object(&c->ioc);
    g_clear_object(&c->creds);
    g_clear_error(&c->fail_err);
    g_clear_error(&c->send_err);
    g_hash_table_unref(c->inflight);
    g_mutex_clear(&c->lock);
    g_mutex_clear(&c->send_lock);
    g_cond_clear(&c->cond);
    g_free(c->description);
    g_free(c->peer);
    g_free(c->tls_hostname);
    g_free(c);
}
