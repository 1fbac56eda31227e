/*
 * NBD server: option negotiation, from the greeting to the transmission
 * phase.
 *
 * Negotiation is an explicit state machine (NBDNegState), one small
 * function per state, so that the security rules are single lines that
 * can be found: with credentials every option but STARTTLS and ABORT is
 * refused in the clear; once TLS is up, everything negotiated before is
 * forgotten (CVE-2021-3716); option lengths are bounded before anything
 * is allocated (CVE-2017-15119).  Reads are always exact-sized, so no
 * byte read in the clear can be mistaken for one read through TLS.
 * docs/nbd.md has the protocol coverage and limits.
 *
 * Copyright (c) qio contributors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <string.h>

#include "crypto/error.h"
#include "crypto/tls-creds.h"
#include "io/channel-socket.h"
#include "io/channel-tls.h"
#include "server-internal.h"
#include "util/error.h"

typedef enum NBDNegState {
    NBD_NEG_GREETING,
    NBD_NEG_CLIENT_FLAGS,
    NBD_NEG_OPTION,
    NBD_NEG_TRANSMISSION,
    NBD_NEG_DISCONNECT,
} NBDNegState;

static uint16_t nbd_export_tx_flags(NBDServerConn *client, NBDExport *exp)
{
    uint16_t flags =
        NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH | NBD_FLAG_SEND_CACHE;

    if (exp->readonly) {
        flags |= NBD_FLAG_READ_ONLY;
    } else {
        flags |= NBD_FLAG_SEND_FUA | NBD_FLAG_SEND_TRIM |
                 NBD_FLAG_SEND_WRITE_ZEROES | NBD_FLAG_SEND_FAST_ZERO;
    }
    if (client->structured) {
        flags |= NBD_FLAG_SEND_DF;
    }
    if (exp->multi_conn) {
        flags |= NBD_FLAG_CAN_MULTI_CONN;
    }
    return flags;
}

/* Read and throw away @len bytes (already checked against a bound). */
bool nbd_drain(NBDServerConn *client, size_t len, GError **errp)
{
    uint8_t buf[4096];

    while (len) {
        size_t n = MIN(len, sizeof(buf));
        if (!nbd_read(client, buf, n, errp)) {
            return false;
        }
        len -= n;
    }
    return true;
}

static bool nbd_opt_reply(NBDServerConn *client, uint32_t option, uint32_t type,
                          const void *payload, uint32_t len, GError **errp)
{
    NBDOptionReply rep = { .option = option, .type = type, .length = len };
    uint8_t hdr[NBD_OPTION_REPLY_SIZE];

    nbd_encode_option_reply(hdr, &rep);
    return nbd_write(client, hdr, sizeof(hdr), errp) &&
           (!len || nbd_write(client, payload, len, errp));
}

/* An error reply with a message the client can show its user. */
static bool G_GNUC_PRINTF(4, 5)
    nbd_opt_error(NBDServerConn *client, uint32_t option, uint32_t type,
                  const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    va_list ap;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_info("NBD client %s: option %s: %s: %s",
           qio_channel_get_name(client->master), nbd_opt_name(option),
           nbd_rep_name(type), msg);
    return nbd_opt_reply(client, option, type, msg,
                         MIN(strlen(msg), NBD_MAX_STRING_LENGTH), NULL);
}

/* ---- Negotiation: the security boundary ---------------------------------- */

/*
 * Everything agreed before TLS came up was agreed with whoever sat on the
 * wire, not necessarily the client: forget it (CVE-2021-3716).
 */
static void nbd_conn_forget_negotiation(NBDServerConn *client)
{
    client->structured = false;
    client->extended = false;
    client->meta_base_allocation = false;
    g_clear_pointer(&client->meta_export, g_free);
}

/* ---- Negotiation: options ------------------------------------------------ */

/* A name from the wire; NULL if it holds a NUL (it would match a prefix). */
static char *nbd_name_dup(const uint8_t *p, uint32_t len)
{
    if (!len) {
        return g_strdup(""); /* the default export; @p may be NULL */
    }
    if (memchr(p, '\0', len)) {
        return NULL;
    }
    return g_strndup((const char *)p, len);
}

static NBDNegState nbd_opt_abort(NBDServerConn *client, uint32_t len)
{
    /* Best effort: the client may already be gone. */
    nbd_opt_reply(client, NBD_OPT_ABORT, NBD_REP_ACK, NULL, 0, NULL);
    return NBD_NEG_DISCONNECT;
}

/* How long a refused TLS client gets to read our alert. */
#define NBD_LINGER_MS 2000

/*
 * After a failed TLS handshake: the alert that says why (access denied,
 * bad certificate) is on its way, but a TLS 1.3 client may already be
 * sending its first option.  Closing at once would reset the connection
 * and the client would see "broken pipe" instead of the reason, so stop
 * sending, and read and discard what comes for a short while, until the
 * client closes.
 */
static void nbd_linger(NBDServerConn *client)
{
    if (!qio_channel_has_feature(client->master,
                                 QIO_CHANNEL_FEATURE_SHUTDOWN) ||
        qio_channel_shutdown(client->master, QIO_CHANNEL_SHUTDOWN_WRITE, NULL) <
            0) {
        return;
    }
    qio_channel_discard(client->master, 1024 * 1024, NBD_LINGER_MS, NULL);
}

static NBDNegState nbd_opt_starttls(NBDServerConn *client, uint32_t len)
{
    NBDServer *server = client->server;
    g_autoptr(QIOChannelTLS) tioc = NULL;
    g_autoptr(GError) err = NULL;

    if (len) {
        return nbd_opt_error(client, NBD_OPT_STARTTLS, NBD_REP_ERR_INVALID,
                             "STARTTLS takes no payload")
                   ? NBD_NEG_OPTION
                   : NBD_NEG_DISCONNECT;
    }
    if (!server->tls_creds) {
        return nbd_opt_error(client, NBD_OPT_STARTTLS, NBD_REP_ERR_UNSUP,
                             "TLS is not configured on this server")
                   ? NBD_NEG_OPTION
                   : NBD_NEG_DISCONNECT;
    }
    if (client->tls) {
        return nbd_opt_error(client, NBD_OPT_STARTTLS, NBD_REP_ERR_INVALID,
                             "TLS is already in use")
                   ? NBD_NEG_OPTION
                   : NBD_NEG_DISCONNECT;
    }
    if (!nbd_opt_reply(client, NBD_OPT_STARTTLS, NBD_REP_ACK, NULL, 0, NULL)) {
        return NBD_NEG_DISCONNECT;
    }
    tioc = qio_channel_tls_new_server(client->master, server->tls_creds,
                                      server->tls_authz, &err);
    if (!tioc || qio_channel_tls_handshake_sync(tioc, &err) < 0) {
        /* A security event: the service logs it without -v. */
        if (client->conn) {
            /* The message already says handshake or authz, and why. */
            qio_conn_report_refusal(client->conn, "%s", err->message);
        } else {
            g_info("NBD client %s: TLS handshake failed: %s",
                   qio_channel_get_name(client->master), err->message);
        }
        nbd_linger(client);
        return NBD_NEG_DISCONNECT;
    }
    client->ioc = QIO_CHANNEL(g_steal_pointer(&tioc));
    client->tls = true;
    nbd_conn_forget_negotiation(client);
    return NBD_NEG_OPTION;
}

static bool nbd_send_export_info(NBDServerConn *client, uint32_t option,
                                 NBDExport *exp, uint16_t info)
{
    uint8_t buf[2 + 12];
    g_autofree uint8_t *str = NULL;
    const char *s;
    size_t slen;

    switch (info) {
    case NBD_INFO_EXPORT:
        nbd_put_be16(buf, NBD_INFO_EXPORT);
        nbd_put_be64(buf + 2, exp->size);
        nbd_put_be16(buf + 10, nbd_export_tx_flags(client, exp));
        return nbd_opt_reply(client, option, NBD_REP_INFO, buf, 12, NULL);
    case NBD_INFO_BLOCK_SIZE:
        nbd_put_be16(buf, NBD_INFO_BLOCK_SIZE);
        nbd_put_be32(buf + 2, NBD_MIN_BLOCK_SIZE);
        nbd_put_be32(buf + 6, NBD_PREFERRED_BLOCK_SIZE);
        nbd_put_be32(buf + 10, NBD_SERVER_MAX_REQUEST);
        return nbd_opt_reply(client, option, NBD_REP_INFO, buf, 14, NULL);
    case NBD_INFO_NAME:
    case NBD_INFO_DESCRIPTION:
        s = info == NBD_INFO_NAME ? exp->name : exp->description;
        if (!s) {
            return true;
        }
        slen = strlen(s);
        str = g_malloc(2 + slen);
        nbd_put_be16(str, info);
        memcpy(str + 2, s, slen);
        return nbd_opt_reply(client, option, NBD_REP_INFO, str, 2 + slen, NULL);
    default:
        /* Requests for information we do not have are ignored. */
        return true;
    }
}

static NBDNegState nbd_opt_info_go(NBDServerConn *client, uint32_t option,
                                   const uint8_t *p, uint32_t len)
{
    g_autofree char *name = NULL;
    uint32_t namelen;
    uint16_t nreq;
    NBDExport *exp;

    if (len < 6 || (namelen = nbd_get_be32(p)) > len - 6 ||
        namelen > NBD_MAX_STRING_LENGTH ||
        (nreq = nbd_get_be16(p + 4 + namelen),
         len != 4 + namelen + 2 + 2 * (uint32_t)nreq)) {
        return nbd_opt_error(client, option, NBD_REP_ERR_INVALID,
                             "malformed %s request (length %u)",
                             nbd_opt_name(option), len)
                   ? NBD_NEG_OPTION
                   : NBD_NEG_DISCONNECT;
    }
    name = nbd_name_dup(p + 4, namelen);
    if (!name) {
        return nbd_opt_error(client, option, NBD_REP_ERR_INVALID,
                             "export name contains a NUL byte")
                   ? NBD_NEG_OPTION
                   : NBD_NEG_DISCONNECT;
    }
    exp = nbd_server_find_export(client->server, name);
    if (!exp) {
        return nbd_opt_error(client, option, NBD_REP_ERR_UNKNOWN,
                             "export '%s' not found; NBD_OPT_LIST shows the "
                             "exports of this server",
                             name)
                   ? NBD_NEG_OPTION
                   : NBD_NEG_DISCONNECT;
    }
    if (!nbd_send_export_info(client, option, exp, NBD_INFO_EXPORT) ||
        !nbd_send_export_info(client, option, exp, NBD_INFO_BLOCK_SIZE)) {
        return NBD_NEG_DISCONNECT;
    }
    for (uint16_t i = 0; i < nreq; i++) {
        uint16_t info = nbd_get_be16(p + 4 + namelen + 2 + 2 * i);
        if (info != NBD_INFO_EXPORT && info != NBD_INFO_BLOCK_SIZE &&
            !nbd_send_export_info(client, option, exp, info)) {
            return NBD_NEG_DISCONNECT;
        }
    }
    if (!nbd_opt_reply(client, option, NBD_REP_ACK, NULL, 0, NULL)) {
        return NBD_NEG_DISCONNECT;
    }
    if (option == NBD_OPT_INFO) {
        return NBD_NEG_OPTION;
    }
    /* Meta contexts chosen for another export do not carry over. */
    if (client->meta_export && !g_str_equal(client->meta_export, exp->name)) {
        client->meta_base_allocation = false;
    }
    client->exp = exp;
    return NBD_NEG_TRANSMISSION;
}

static NBDNegState nbd_opt_export_name(NBDServerConn *client, const uint8_t *p,
                                       uint32_t len)
{
    g_autofree char *name = nbd_name_dup(p, len);
    uint8_t buf[NBD_EXPORT_NAME_REPLY_SIZE + 124] = { 0 };
    NBDExport *exp = NULL;

    if (client->extended) {
        /*
         * The spec forbids EXPORT_NAME once extended headers are agreed
         * (only GO can say why it fails), and this option has no error
         * reply: hang up.
         */
        g_info("NBD client %s: NBD_OPT_EXPORT_NAME after extended headers; "
               "disconnecting",
               qio_channel_get_name(client->master));
        return NBD_NEG_DISCONNECT;
    }
    if (name && len <= NBD_MAX_STRING_LENGTH) {
        exp = nbd_server_find_export(client->server, name);
    }
    if (!exp) {
        /* This option has no error reply: all we can do is hang up. */
        g_info("NBD client %s: export '%s' not found",
               qio_channel_get_name(client->master), name ? name : "?");
        return NBD_NEG_DISCONNECT;
    }
    client->exp = exp;
    client->meta_base_allocation = false;
    nbd_put_be64(buf, exp->size);
    nbd_put_be16(buf + 8, nbd_export_tx_flags(client, exp));
    if (!nbd_write(client, buf,
                   client->no_zeroes ? NBD_EXPORT_NAME_REPLY_SIZE : sizeof(buf),
                   NULL)) {
        return NBD_NEG_DISCONNECT;
    }
    return NBD_NEG_TRANSMISSION;
}

static NBDNegState nbd_opt_list(NBDServerConn *client, uint32_t len)
{
    NBDServer *server = client->server;
    NBDExport *exp;

    if (len) {
        return nbd_opt_error(client, NBD_OPT_LIST, NBD_REP_ERR_INVALID,
                             "LIST takes no payload")
                   ? NBD_NEG_OPTION
                   : NBD_NEG_DISCONNECT;
    }
    for (guint i = 0; (exp = nbd_server_export_at(server, i)); i++) {
        size_t nlen = strlen(exp->name);
        size_t dlen = exp->description ? strlen(exp->description) : 0;
        g_autofree uint8_t *buf = g_malloc(4 + nlen + dlen);

        nbd_put_be32(buf, nlen);
        memcpy(buf + 4, exp->name, nlen);
        if (dlen) {
            memcpy(buf + 4 + nlen, exp->description, dlen);
        }
        if (!nbd_opt_reply(client, NBD_OPT_LIST, NBD_REP_SERVER, buf,
                           4 + nlen + dlen, NULL)) {
            return NBD_NEG_DISCONNECT;
        }
    }
    return nbd_opt_reply(client, NBD_OPT_LIST, NBD_REP_ACK, NULL, 0, NULL)
               ? NBD_NEG_OPTION
               : NBD_NEG_DISCONNECT;
}

static NBDNegState nbd_opt_structured_reply(NBDServerConn *client, uint32_t len)
{
    if (len) {
        return nbd_opt_error(client, NBD_OPT_STRUCTURED_REPLY,
                             NBD_REP_ERR_INVALID,
                             "STRUCTURED_REPLY takes no payload")
                   ? NBD_NEG_OPTION
                   : NBD_NEG_DISCONNECT;
    }
    if (client->extended) {
        /* Extended headers take precedence: no way back to compact ones. */
        return nbd_opt_error(client, NBD_OPT_STRUCTURED_REPLY,
                             NBD_REP_ERR_EXT_HEADER_REQD,
                             "extended headers are already in use and "
                             "take precedence over structured replies")
                   ? NBD_NEG_OPTION
                   : NBD_NEG_DISCONNECT;
    }
    client->structured = true;
    return nbd_opt_reply(client, NBD_OPT_STRUCTURED_REPLY, NBD_REP_ACK, NULL, 0,
                         NULL)
               ? NBD_NEG_OPTION
               : NBD_NEG_DISCONNECT;
}

/*
 * Extended headers: 32-byte requests and reply chunks for everything,
 * which brings structured replies with it.  Asking after structured
 * replies is fine (this takes over); asking twice is harmless.
 */
static NBDNegState nbd_opt_extended_headers(NBDServerConn *client, uint32_t len)
{
    if (len) {
        return nbd_opt_error(client, NBD_OPT_EXTENDED_HEADERS,
                             NBD_REP_ERR_INVALID,
                             "EXTENDED_HEADERS takes no payload")
                   ? NBD_NEG_OPTION
                   : NBD_NEG_DISCONNECT;
    }
    client->extended = true;
    client->structured = true;
    return nbd_opt_reply(client, NBD_OPT_EXTENDED_HEADERS, NBD_REP_ACK, NULL, 0,
                         NULL)
               ? NBD_NEG_OPTION
               : NBD_NEG_DISCONNECT;
}

/* Does @query select base:allocation?  LIST accepts the "base:" prefix. */
static bool nbd_meta_matches(const uint8_t *q, uint32_t qlen, bool list)
{
    static const char ctx[] = NBD_META_BASE_ALLOCATION;

    if (qlen == sizeof(ctx) - 1 && !memcmp(q, ctx, qlen)) {
        return true;
    }
    return list && qlen == 5 && !memcmp(q, "base:", 5);
}

static NBDNegState nbd_opt_meta_context(NBDServerConn *client, uint32_t option,
                                        const uint8_t *p, uint32_t len)
{
    bool list = option == NBD_OPT_LIST_META_CONTEXT;
    g_autofree char *name = NULL;
    uint32_t namelen, nq, pos;
    bool selected = false;
    uint8_t rep[4 + sizeof(NBD_META_BASE_ALLOCATION) - 1];

    if (!client->structured) {
        return nbd_opt_error(client, option, NBD_REP_ERR_INVALID,
                             "meta contexts need NBD_OPT_STRUCTURED_REPLY "
                             "or NBD_OPT_EXTENDED_HEADERS first")
                   ? NBD_NEG_OPTION
                   : NBD_NEG_DISCONNECT;
    }
    if (len < 8 || (namelen = nbd_get_be32(p)) > len - 8 ||
        namelen > NBD_MAX_STRING_LENGTH) {
        goto invalid;
    }
    name = nbd_name_dup(p + 4, namelen);
    if (!name) {
        goto invalid;
    }
    nq = nbd_get_be32(p + 4 + namelen);
    pos = 8 + namelen;
    /* Validate every query before answering any. */
    for (uint32_t i = 0; i < nq; i++) {
        uint32_t qlen;
        if (len - pos < 4 || (qlen = nbd_get_be32(p + pos)) > len - pos - 4 ||
            qlen > NBD_MAX_STRING_LENGTH) {
            goto invalid;
        }
        pos += 4 + qlen;
    }
    if (pos != len) {
        goto invalid;
    }
    if (!nbd_server_find_export(client->server, name)) {
        return nbd_opt_error(client, option, NBD_REP_ERR_UNKNOWN,
                             "export '%s' not found", name)
                   ? NBD_NEG_OPTION
                   : NBD_NEG_DISCONNECT;
    }
    pos = 8 + namelen;
    selected = list && nq == 0;
    for (uint32_t i = 0; i < nq; i++) {
        uint32_t qlen = nbd_get_be32(p + pos);
        selected |= nbd_meta_matches(p + pos + 4, qlen, list);
        pos += 4 + qlen;
    }
    if (!list) {
        client->meta_base_allocation = selected;
        g_free(client->meta_export);
        client->meta_export = g_strdup(name);
    }
    if (selected) {
        nbd_put_be32(rep, list ? 0 : NBD_META_ID_BASE_ALLOCATION);
        memcpy(rep + 4, NBD_META_BASE_ALLOCATION, sizeof(rep) - 4);
        if (!nbd_opt_reply(client, option, NBD_REP_META_CONTEXT, rep,
                           sizeof(rep), NULL)) {
            return NBD_NEG_DISCONNECT;
        }
    }
    return nbd_opt_reply(client, option, NBD_REP_ACK, NULL, 0, NULL)
               ? NBD_NEG_OPTION
               : NBD_NEG_DISCONNECT;

invalid:
    return nbd_opt_error(client, option, NBD_REP_ERR_INVALID,
                         "malformed %s request", nbd_opt_name(option))
               ? NBD_NEG_OPTION
               : NBD_NEG_DISCONNECT;
}

/* ---- Negotiation: states ------------------------------------------------- */

static NBDNegState nbd_state_greeting(NBDServerConn *client)
{
    uint8_t buf[NBD_SERVER_GREETING_SIZE];

    nbd_encode_greeting(buf, NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES);
    return nbd_write(client, buf, sizeof(buf), NULL) ? NBD_NEG_CLIENT_FLAGS
                                                     : NBD_NEG_DISCONNECT;
}

static NBDNegState nbd_state_client_flags(NBDServerConn *client)
{
    uint8_t buf[4];
    uint32_t flags;

    if (!nbd_read(client, buf, sizeof(buf), NULL)) {
        return NBD_NEG_DISCONNECT;
    }
    flags = nbd_get_be32(buf);
    /* Only fixed newstyle: the old variants cannot refuse an option. */
    if (!(flags & NBD_FLAG_C_FIXED_NEWSTYLE) ||
        (flags & ~(NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES))) {
        g_info("NBD client %s: unsupported client flags 0x%x",
               qio_channel_get_name(client->master), flags);
        return NBD_NEG_DISCONNECT;
    }
    client->no_zeroes = flags & NBD_FLAG_C_NO_ZEROES;
    return NBD_NEG_OPTION;
}

static NBDNegState nbd_state_option(NBDServerConn *client)
{
    uint8_t hdr[NBD_OPTION_HEADER_SIZE];
    g_autofree uint8_t *payload = NULL;
    NBDOption opt;

    if (!nbd_read(client, hdr, sizeof(hdr), NULL)) {
        return NBD_NEG_DISCONNECT;
    }
    if (!nbd_decode_option(hdr, &opt)) {
        g_info("NBD client %s: bad option magic",
               qio_channel_get_name(client->master));
        return NBD_NEG_DISCONNECT;
    }
    /* Bound before allocating, and read nothing more (CVE-2017-15119). */
    if (opt.length > NBD_MAX_OPTION_LENGTH) {
        if (opt.option != NBD_OPT_EXPORT_NAME) {
            nbd_opt_error(client, opt.option, NBD_REP_ERR_TOO_BIG,
                          "option %s of %u bytes exceeds the limit of %d",
                          nbd_opt_name(opt.option), opt.length,
                          NBD_MAX_OPTION_LENGTH);
        }
        return NBD_NEG_DISCONNECT;
    }
    /* Security: with credentials, nothing but these two in the clear. */
    if (client->server->tls_creds && !client->tls &&
        opt.option != NBD_OPT_STARTTLS && opt.option != NBD_OPT_ABORT) {
        if (opt.option == NBD_OPT_EXPORT_NAME) {
            return NBD_NEG_DISCONNECT;
        }
        if (!nbd_drain(client, opt.length, NULL)) {
            return NBD_NEG_DISCONNECT;
        }
        return nbd_opt_error(client, opt.option, NBD_REP_ERR_TLS_REQD,
                             "TLS is required; use NBD_OPT_STARTTLS "
                             "(did you forget --tls-creds?)")
                   ? NBD_NEG_OPTION
                   : NBD_NEG_DISCONNECT;
    }
    if (opt.length) {
        payload = g_malloc(opt.length);
        if (!nbd_read(client, payload, opt.length, NULL)) {
            return NBD_NEG_DISCONNECT;
        }
    }

    switch (opt.option) {
    case NBD_OPT_ABORT:
        return nbd_opt_abort(client, opt.length);
    case NBD_OPT_STARTTLS:
        return nbd_opt_starttls(client, opt.length);
    case NBD_OPT_EXPORT_NAME:
        return nbd_opt_export_name(client, payload, opt.length);
    case NBD_OPT_LIST:
        return nbd_opt_list(client, opt.length);
    case NBD_OPT_INFO:
    case NBD_OPT_GO:
        return nbd_opt_info_go(client, opt.option, payload, opt.length);
    case NBD_OPT_STRUCTURED_REPLY:
        return nbd_opt_structured_reply(client, opt.length);
    case NBD_OPT_EXTENDED_HEADERS:
        return nbd_opt_extended_headers(client, opt.length);
    case NBD_OPT_LIST_META_CONTEXT:
    case NBD_OPT_SET_META_CONTEXT:
        return nbd_opt_meta_context(client, opt.option, payload, opt.length);
    default:
        return nbd_opt_error(client, opt.option, NBD_REP_ERR_UNSUP,
                             "option %u (%s) is not supported", opt.option,
                             nbd_opt_name(opt.option))
                   ? NBD_NEG_OPTION
                   : NBD_NEG_DISCONNECT;
    }
}

/* Runs the state machine; true when the transmission phase is reached. */
bool nbd_negotiate(NBDServerConn *client)
{
    NBDNegState state = NBD_NEG_GREETING;

    for (;;) {
        switch (state) {
        case NBD_NEG_GREETING:
            state = nbd_state_greeting(client);
            break;
        case NBD_NEG_CLIENT_FLAGS:
            state = nbd_state_client_flags(client);
            break;
        case NBD_NEG_OPTION:
            state = nbd_state_option(client);
            break;
        case NBD_NEG_TRANSMISSION:
            return true;
        case NBD_NEG_DISCONNECT:
            return false;
        }
    }
}
