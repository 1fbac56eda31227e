/*
 * NBD server: option negotiation and the transmission phase over file
 * exports.
 *
 * Each client runs on a worker thread of its own, blocking on its
 * channel.  Negotiation is an explicit state machine (NBDNegState), one
 * small function per state, so that the security rules are single lines
 * that can be found: with credentials every option but STARTTLS and ABORT
 * is refused in the clear; once TLS is up, everything negotiated before is
 * forgotten (CVE-2021-3716); option lengths are bounded before anything is
 * allocated (CVE-2017-15119).  Reads are always exact-sized, so no byte
 * read in the clear can be mistaken for one read through TLS.
 *
 * Requests are handled one at a time in arrival order; clients may pipeline
 * them and get the replies in the same order.  docs/nbd.md has the
 * protocol coverage and limits.
 *
 * Copyright (c) qio contributors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/ioctl.h>
#include <linux/fs.h>
#include <unistd.h>

#include "crypto/tls-creds.h"
#include "io/channel-tls.h"
#include "nbd/nbd-proto.h"
#include "nbd/server.h"
#include "util/error.h"

/* Context id handed out for base:allocation. */
#define NBD_META_ID_BASE_ALLOCATION 1
/* Most extents one BLOCK_STATUS reply carries. */
#define NBD_MAX_EXTENTS 1024

typedef struct NBDExport {
    char *name;
    char *description;
    char *path;
    int fd;              /* O_DIRECT with cache=none/directsync */
    int fd_buffered;     /* for requests O_DIRECT cannot take, or -1 */
    uint64_t size;
    bool readonly;
    NBDCacheMode cache;
    bool discard;
    NBDDetectZeroes detect_zeroes;
    bool multi_conn;
} NBDExport;

typedef enum NBDNegState {
    NBD_NEG_GREETING,
    NBD_NEG_CLIENT_FLAGS,
    NBD_NEG_OPTION,
    NBD_NEG_TRANSMISSION,
    NBD_NEG_DISCONNECT,
} NBDNegState;

typedef struct NBDServerConn {
    NBDServer *server;
    QIOChannel *master;  /* the channel we were given */
    QIOChannel *ioc;     /* master, or the TLS channel over it */
    bool tls;
    bool no_zeroes;
    /* Negotiated state: reset by nbd_conn_forget_negotiation(). */
    bool structured;
    bool meta_base_allocation;
    char *meta_export;
    NBDExport *exp;
    /* Handshake watchdog. */
    GMutex lock;
    GCond cond;
    bool negotiated;
    guint timeout_ms;
    GThread *watchdog;
} NBDServerConn;

struct _NBDServer {
    GObject parent;
    QCryptoTLSCreds *tls_creds;
    char *tls_authz;
    guint handshake_timeout_ms;
    GPtrArray *exports;
    GMutex lock;      /* clients, nclients, shut_down, exports */
    GCond cond;       /* nclients went down */
    GList *clients;
    guint nclients;
    bool shut_down;
    NBDServerClientGoneFunc client_gone;
    gpointer client_gone_opaque;
    guint gone_callbacks;  /* client_gone calls in progress */
};

G_DEFINE_TYPE(NBDServer, nbd_server, G_TYPE_OBJECT)

/* ---- Exports ------------------------------------------------------------ */

static void nbd_export_free(gpointer p)
{
    NBDExport *exp = p;

    if (exp->fd >= 0) {
        close(exp->fd);
    }
    if (exp->fd_buffered >= 0) {
        close(exp->fd_buffered);
    }
    g_free(exp->name);
    g_free(exp->description);
    g_free(exp->path);
    g_free(exp);
}

/*
 * Exports are only ever added (until finalize), so a pointer stays valid;
 * the lock guards the array, which may grow while clients are served.
 */
static NBDExport *nbd_server_export_at(NBDServer *server, guint i)
{
    NBDExport *exp = NULL;

    g_mutex_lock(&server->lock);
    if (i < server->exports->len) {
        exp = g_ptr_array_index(server->exports, i);
    }
    g_mutex_unlock(&server->lock);
    return exp;
}

static NBDExport *nbd_server_find_export(NBDServer *server, const char *name)
{
    NBDExport *exp;

    for (guint i = 0; (exp = nbd_server_export_at(server, i)); i++) {
        if (g_str_equal(exp->name, name)) {
            return exp;
        }
    }
    /* The empty name asks for the default export: the first one added. */
    return *name ? NULL : nbd_server_export_at(server, 0);
}

bool nbd_server_add_export(NBDServer *server, const char *name,
                           const char *description, const char *path,
                           bool readonly, GError **errp)
{
    NBDExportOptions opts = {
        .description = description,
        .readonly = readonly,
        .discard = true,
        .multi_conn = true,
    };

    return nbd_server_add_export_full(server, name, path, &opts, errp);
}

static bool nbd_cache_direct(NBDCacheMode cache)
{
    return cache == NBD_CACHE_NONE || cache == NBD_CACHE_DIRECTSYNC;
}

bool nbd_server_add_export_full(NBDServer *server, const char *name,
                                const char *path,
                                const NBDExportOptions *opts,
                                GError **errp)
{
    static const NBDExportOptions defaults;
    const char *description;
    bool readonly;
    NBDExport *exp;
    struct stat st;
    int fd;

    g_return_val_if_fail(NBD_IS_SERVER(server), false);
    opts = opts ? opts : &defaults;
    description = opts->description;
    readonly = opts->readonly;
    if (opts->detect_zeroes == NBD_DETECT_ZEROES_UNMAP && !opts->discard) {
        g_set_error(errp, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT,
                    "NBD export '%s': detect-zeroes=unmap needs "
                    "discard=unmap", name);
        return false;
    }
    if (strlen(name) > NBD_MAX_STRING_LENGTH ||
        (description && strlen(description) > NBD_MAX_STRING_LENGTH)) {
        g_set_error(errp, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT,
                    "NBD export '%.64s...': name and description must be "
                    "at most %d bytes", name, NBD_MAX_STRING_LENGTH);
        return false;
    }
    for (guint i = 0; (exp = nbd_server_export_at(server, i)); i++) {
        if (g_str_equal(exp->name, name)) {
            g_set_error(errp, QIO_ERROR, QIO_ERROR_EXISTS,
                        "NBD export '%s' already exists; pick another name",
                        name);
            return false;
        }
    }
    fd = open(path, (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
    if (fd < 0) {
        int err = errno;
        g_set_error(errp, QIO_ERROR,
                    err == ENOENT ? QIO_ERROR_NOT_FOUND :
                    (err == EACCES || err == EPERM || err == EROFS) ?
                    QIO_ERROR_PERMISSION_DENIED : QIO_ERROR_FAILED,
                    "NBD export '%s': cannot open '%s'%s: %s", name, path,
                    readonly ? " read-only" : " read-write",
                    g_strerror(err));
        return false;
    }
    if (fstat(fd, &st) < 0 || !(S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))) {
        g_set_error(errp, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT,
                    "NBD export '%s': '%s' is not a regular file or block "
                    "device", name, path);
        close(fd);
        return false;
    }
    exp = g_new0(NBDExport, 1);
    exp->fd = fd;
    exp->fd_buffered = -1;
    exp->cache = opts->cache;
    exp->discard = opts->discard;
    exp->detect_zeroes = opts->detect_zeroes;
    exp->multi_conn = opts->multi_conn;
    if (nbd_cache_direct(opts->cache)) {
        /* Unaligned requests go through a second, buffered descriptor. */
        exp->fd_buffered = exp->fd;
        exp->fd = open(path, (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC |
                       O_DIRECT);
        if (exp->fd < 0) {
            g_set_error(errp, QIO_ERROR, QIO_ERROR_NOT_SUPPORTED,
                        "NBD export '%s': cannot open '%s' with O_DIRECT "
                        "(cache=none/directsync): %s; use another cache "
                        "mode", name, path, g_strerror(errno));
            nbd_export_free(exp);
            return false;
        }
    }
    exp->name = g_strdup(name);
    exp->description = g_strdup(description);
    exp->path = g_strdup(path);
    exp->readonly = readonly;
    if (S_ISBLK(st.st_mode)) {
        uint64_t sz = 0;
        if (ioctl(fd, BLKGETSIZE64, &sz) < 0) {
            g_set_error(errp, QIO_ERROR, QIO_ERROR_FAILED,
                        "NBD export '%s': cannot get the size of '%s': %s",
                        name, path, g_strerror(errno));
            nbd_export_free(exp);
            return false;
        }
        exp->size = sz;
    } else {
        exp->size = st.st_size;
    }
    g_mutex_lock(&server->lock);
    g_ptr_array_add(server->exports, exp);
    g_mutex_unlock(&server->lock);
    return true;
}

static uint16_t nbd_export_tx_flags(NBDServerConn *client, NBDExport *exp)
{
    uint16_t flags = NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH |
                     NBD_FLAG_SEND_CACHE;

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

/* ---- Wire helpers -------------------------------------------------------- */

static bool nbd_read(NBDServerConn *client, void *buf, size_t len,
                     GError **errp)
{
    return qio_channel_read_all(client->ioc, buf, len, errp) == 0;
}

static bool nbd_write(NBDServerConn *client, const void *buf, size_t len,
                      GError **errp)
{
    return qio_channel_write_all(client->ioc, buf, len, errp) == 0;
}

/* Read and throw away @len bytes (already checked against a bound). */
static bool nbd_drain(NBDServerConn *client, size_t len, GError **errp)
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
    client->meta_base_allocation = false;
    g_clear_pointer(&client->meta_export, g_free);
}

/* ---- Negotiation: options ------------------------------------------------ */

/* A name from the wire; NULL if it holds a NUL (it would match a prefix). */
static char *nbd_name_dup(const uint8_t *p, uint32_t len)
{
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

static NBDNegState nbd_opt_starttls(NBDServerConn *client, uint32_t len)
{
    NBDServer *server = client->server;
    g_autoptr(QIOChannelTLS) tioc = NULL;
    g_autoptr(GError) err = NULL;

    if (len) {
        return nbd_opt_error(client, NBD_OPT_STARTTLS, NBD_REP_ERR_INVALID,
                             "STARTTLS takes no payload") ?
               NBD_NEG_OPTION : NBD_NEG_DISCONNECT;
    }
    if (!server->tls_creds) {
        return nbd_opt_error(client, NBD_OPT_STARTTLS, NBD_REP_ERR_UNSUP,
                             "TLS is not configured on this server") ?
               NBD_NEG_OPTION : NBD_NEG_DISCONNECT;
    }
    if (client->tls) {
        return nbd_opt_error(client, NBD_OPT_STARTTLS, NBD_REP_ERR_INVALID,
                             "TLS is already in use") ?
               NBD_NEG_OPTION : NBD_NEG_DISCONNECT;
    }
    if (!nbd_opt_reply(client, NBD_OPT_STARTTLS, NBD_REP_ACK, NULL, 0, NULL)) {
        return NBD_NEG_DISCONNECT;
    }
    tioc = qio_channel_tls_new_server(client->master, server->tls_creds,
                                      server->tls_authz, &err);
    if (!tioc || qio_channel_tls_handshake_sync(tioc, &err) < 0) {
        g_info("NBD client %s: TLS handshake failed: %s",
               qio_channel_get_name(client->master), err->message);
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
        nbd_put_be32(buf + 10, NBD_MAX_PAYLOAD);
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
        return nbd_opt_reply(client, option, NBD_REP_INFO, str, 2 + slen,
                             NULL);
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
                             nbd_opt_name(option), len) ?
               NBD_NEG_OPTION : NBD_NEG_DISCONNECT;
    }
    name = nbd_name_dup(p + 4, namelen);
    if (!name) {
        return nbd_opt_error(client, option, NBD_REP_ERR_INVALID,
                             "export name contains a NUL byte") ?
               NBD_NEG_OPTION : NBD_NEG_DISCONNECT;
    }
    exp = nbd_server_find_export(client->server, name);
    if (!exp) {
        return nbd_opt_error(client, option, NBD_REP_ERR_UNKNOWN,
                             "export '%s' not found; NBD_OPT_LIST shows the "
                             "exports of this server", name) ?
               NBD_NEG_OPTION : NBD_NEG_DISCONNECT;
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
    if (!nbd_write(client, buf, client->no_zeroes ?
                   NBD_EXPORT_NAME_REPLY_SIZE : sizeof(buf), NULL)) {
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
                             "LIST takes no payload") ?
               NBD_NEG_OPTION : NBD_NEG_DISCONNECT;
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
    return nbd_opt_reply(client, NBD_OPT_LIST, NBD_REP_ACK, NULL, 0, NULL) ?
           NBD_NEG_OPTION : NBD_NEG_DISCONNECT;
}

static NBDNegState nbd_opt_structured_reply(NBDServerConn *client, uint32_t len)
{
    if (len) {
        return nbd_opt_error(client, NBD_OPT_STRUCTURED_REPLY,
                             NBD_REP_ERR_INVALID,
                             "STRUCTURED_REPLY takes no payload") ?
               NBD_NEG_OPTION : NBD_NEG_DISCONNECT;
    }
    client->structured = true;
    return nbd_opt_reply(client, NBD_OPT_STRUCTURED_REPLY, NBD_REP_ACK,
                         NULL, 0, NULL) ?
           NBD_NEG_OPTION : NBD_NEG_DISCONNECT;
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
                             "first") ?
               NBD_NEG_OPTION : NBD_NEG_DISCONNECT;
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
                             "export '%s' not found", name) ?
               NBD_NEG_OPTION : NBD_NEG_DISCONNECT;
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
    return nbd_opt_reply(client, option, NBD_REP_ACK, NULL, 0, NULL) ?
           NBD_NEG_OPTION : NBD_NEG_DISCONNECT;

invalid:
    return nbd_opt_error(client, option, NBD_REP_ERR_INVALID,
                         "malformed %s request", nbd_opt_name(option)) ?
           NBD_NEG_OPTION : NBD_NEG_DISCONNECT;
}

/* ---- Negotiation: states ------------------------------------------------- */

static NBDNegState nbd_state_greeting(NBDServerConn *client)
{
    uint8_t buf[NBD_SERVER_GREETING_SIZE];

    nbd_encode_greeting(buf, NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES);
    return nbd_write(client, buf, sizeof(buf), NULL) ?
           NBD_NEG_CLIENT_FLAGS : NBD_NEG_DISCONNECT;
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
                             "(did you forget --tls-creds?)") ?
               NBD_NEG_OPTION : NBD_NEG_DISCONNECT;
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
    case NBD_OPT_LIST_META_CONTEXT:
    case NBD_OPT_SET_META_CONTEXT:
        return nbd_opt_meta_context(client, opt.option, payload, opt.length);
    default:
        return nbd_opt_error(client, opt.option, NBD_REP_ERR_UNSUP,
                             "option %u (%s) is not supported", opt.option,
                             nbd_opt_name(opt.option)) ?
               NBD_NEG_OPTION : NBD_NEG_DISCONNECT;
    }
}

/* Runs the state machine; true when the transmission phase is reached. */
static bool nbd_negotiate(NBDServerConn *client)
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

/* ---- Transmission -------------------------------------------------------- */

static bool nbd_send_simple(NBDServerConn *client, uint64_t cookie,
                            uint32_t err,
                            const void *data, size_t len)
{
    NBDSimpleReply rep = { .error = err, .cookie = cookie };
    uint8_t hdr[NBD_SIMPLE_REPLY_SIZE];

    nbd_encode_simple_reply(hdr, &rep);
    return nbd_write(client, hdr, sizeof(hdr), NULL) &&
           (!len || nbd_write(client, data, len, NULL));
}

static bool nbd_send_chunk(NBDServerConn *client, uint64_t cookie,
                           uint16_t flags,
                           uint16_t type, const void *pre, size_t prelen,
                           const void *data, size_t len)
{
    NBDStructuredReply rep = {
        .flags = flags, .type = type, .cookie = cookie,
        .length = prelen + len,
    };
    uint8_t hdr[NBD_STRUCTURED_REPLY_SIZE];

    nbd_encode_structured_reply(hdr, &rep);
    return nbd_write(client, hdr, sizeof(hdr), NULL) &&
           (!prelen || nbd_write(client, pre, prelen, NULL)) &&
           (!len || nbd_write(client, data, len, NULL));
}

/* A reply without data: success, or an error with a message. */
static bool nbd_send_status(NBDServerConn *client, const NBDRequest *req,
                            uint32_t err, const char *msg)
{
    uint8_t pre[6];
    size_t mlen;

    if (err) {
        g_info("NBD client %s: %s at %" G_GUINT64_FORMAT "+%u: %s: %s",
               qio_channel_get_name(client->master), nbd_cmd_name(req->type),
               req->offset, req->length, nbd_err_name(err), msg);
    }
    if (!client->structured) {
        return nbd_send_simple(client, req->cookie, err, NULL, 0);
    }
    if (!err) {
        return nbd_send_chunk(client, req->cookie, NBD_REPLY_FLAG_DONE,
                              NBD_REPLY_TYPE_NONE, NULL, 0, NULL, 0);
    }
    mlen = MIN(strlen(msg), NBD_MAX_STRING_LENGTH);
    nbd_put_be32(pre, err);
    nbd_put_be16(pre + 4, mlen);
    return nbd_send_chunk(client, req->cookie, NBD_REPLY_FLAG_DONE,
                          NBD_REPLY_TYPE_ERROR, pre, 6, msg, mlen);
}

static bool nbd_range_ok(NBDExport *exp, const NBDRequest *req)
{
    return req->offset <= exp->size && req->length <= exp->size - req->offset;
}

static bool nbd_fully_hole(NBDExport *exp, uint64_t off, uint32_t len)
{
    off_t data = lseek(exp->fd, off, SEEK_DATA);

    if (data < 0) {
        return errno == ENXIO;  /* no data after @off at all */
    }
    return (uint64_t)data >= off + len;
}

static bool nbd_do_read(NBDServerConn *client, const NBDRequest *req)
{
    NBDExport *exp = client->exp;
    g_autofree uint8_t *buf = NULL;
    uint8_t pre[12];
    size_t done = 0;

    if (req->length > NBD_MAX_PAYLOAD) {
        return nbd_send_status(client, req, NBD_EINVAL,
                               "read larger than the maximum block size");
    }
    if (!nbd_range_ok(exp, req)) {
        return nbd_send_status(client, req, NBD_EINVAL,
                               "read past the end of the export");
    }
    if (client->structured && !(req->flags & NBD_CMD_FLAG_DF) &&
        req->length && nbd_fully_hole(exp, req->offset, req->length)) {
        nbd_put_be64(pre, req->offset);
        nbd_put_be32(pre + 8, req->length);
        return nbd_send_chunk(client, req->cookie, NBD_REPLY_FLAG_DONE,
                              NBD_REPLY_TYPE_OFFSET_HOLE, pre, 12, NULL, 0);
    }
    buf = g_try_malloc(MAX(req->length, 1));
    if (!buf) {
        return nbd_send_status(client, req, NBD_ENOMEM, "out of memory");
    }
    while (done < req->length) {
        ssize_t n = pread(exp->fd, buf + done, req->length - done,
                          req->offset + done);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return nbd_send_status(client, req, nbd_errno_to_wire(errno),
                                   g_strerror(errno));
        }
        if (n == 0) {
            /* The file shrank under us: the rest reads as zeroes. */
            memset(buf + done, 0, req->length - done);
            break;
        }
        done += n;
    }
    if (!client->structured) {
        return nbd_send_simple(client, req->cookie, 0, buf, req->length);
    }
    if (!req->length) {
        return nbd_send_status(client, req, 0, NULL);
    }
    nbd_put_be64(pre, req->offset);
    return nbd_send_chunk(client, req->cookie, NBD_REPLY_FLAG_DONE,
                          NBD_REPLY_TYPE_OFFSET_DATA, pre, 8, buf,
                          req->length);
}

static int nbd_pwrite_all(int fd, const uint8_t *buf, size_t len, off_t off)
{
    while (len) {
        ssize_t n = pwrite(fd, buf, len, off);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return -errno;
        }
        buf += n;
        len -= n;
        off += n;
    }
    return 0;
}

/* Returns false only when the connection must end. */
static bool nbd_do_write(NBDServerConn *client, const NBDRequest *req)
{
    NBDExport *exp = client->exp;
    g_autofree uint8_t *buf = NULL;
    int ret;

    if (req->length > NBD_MAX_PAYLOAD) {
        /* The payload cannot be skipped safely: hang up. */
        g_info("NBD client %s: write of %u bytes over the limit of %d",
               qio_channel_get_name(client->master), req->length,
               NBD_MAX_PAYLOAD);
        return false;
    }
    buf = g_malloc(MAX(req->length, 1));
    if (!nbd_read(client, buf, req->length, NULL)) {
        return false;
    }
    if (exp->readonly) {
        return nbd_send_status(client, req, NBD_EPERM, "export is read-only");
    }
    if (!nbd_range_ok(exp, req)) {
        return nbd_send_status(client, req, NBD_ENOSPC,
                               "write past the end of the export");
    }
    ret = nbd_pwrite_all(exp->fd, buf, req->length, req->offset);
    if (!ret && (req->flags & NBD_CMD_FLAG_FUA) && fdatasync(exp->fd) < 0) {
        ret = -errno;
    }
    return nbd_send_status(client, req, nbd_errno_to_wire(-ret),
                           ret ? g_strerror(-ret) : NULL);
}

static bool nbd_do_write_zeroes(NBDServerConn *client, const NBDRequest *req)
{
    NBDExport *exp = client->exp;
    int mode = (req->flags & NBD_CMD_FLAG_NO_HOLE) ?
               FALLOC_FL_ZERO_RANGE :
               FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
    int ret = 0;

    if (exp->readonly) {
        return nbd_send_status(client, req, NBD_EPERM, "export is read-only");
    }
    if (!nbd_range_ok(exp, req)) {
        return nbd_send_status(client, req, NBD_ENOSPC,
                               "write past the end of the export");
    }
    if (req->length && fallocate(exp->fd, mode, req->offset,
                                 req->length) < 0) {
        ret = -errno;
        if (ret != -EOPNOTSUPP && ret != -ENOSYS) {
            goto out;
        }
        if (req->flags & NBD_CMD_FLAG_FAST_ZERO) {
            return nbd_send_status(client, req, NBD_ENOTSUP,
                                   "fast zeroing is not possible here");
        }
        /* Slow path: write zero buffers. */
        g_autofree uint8_t *zero = g_malloc0(MIN(req->length, 1024 * 1024));
        uint64_t off = req->offset;
        uint32_t left = req->length;
        ret = 0;
        while (left && !ret) {
            uint32_t n = MIN(left, 1024 * 1024);
            ret = nbd_pwrite_all(exp->fd, zero, n, off);
            off += n;
            left -= n;
        }
    }
    if (!ret && (req->flags & NBD_CMD_FLAG_FUA) && fdatasync(exp->fd) < 0) {
        ret = -errno;
    }
out:
    return nbd_send_status(client, req, nbd_errno_to_wire(-ret),
                           ret ? g_strerror(-ret) : NULL);
}

static bool nbd_do_trim(NBDServerConn *client, const NBDRequest *req)
{
    NBDExport *exp = client->exp;

    if (exp->readonly) {
        return nbd_send_status(client, req, NBD_EPERM, "export is read-only");
    }
    if (!nbd_range_ok(exp, req)) {
        return nbd_send_status(client, req, NBD_EINVAL,
                               "trim past the end of the export");
    }
    /* Trimming is advisory: a file system without holes just ignores it. */
    if (req->length) {
        fallocate(exp->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                  req->offset, req->length);
    }
    if ((req->flags & NBD_CMD_FLAG_FUA) && fdatasync(exp->fd) < 0) {
        return nbd_send_status(client, req, nbd_errno_to_wire(errno),
                               g_strerror(errno));
    }
    return nbd_send_status(client, req, 0, NULL);
}

static bool nbd_do_block_status(NBDServerConn *client, const NBDRequest *req)
{
    NBDExport *exp = client->exp;
    g_autofree uint8_t *ext = NULL;
    uint64_t off = req->offset, end;
    uint32_t n = 0;
    uint8_t pre[4];

    if (!client->structured || !client->meta_base_allocation) {
        return nbd_send_status(client, req, NBD_EINVAL,
                               "no meta context was selected; use "
                               "NBD_OPT_SET_META_CONTEXT base:allocation");
    }
    if (!req->length || !nbd_range_ok(exp, req)) {
        return nbd_send_status(client, req, NBD_EINVAL,
                               "block status range outside the export");
    }
    end = req->offset + req->length;
    ext = g_malloc(8 * NBD_MAX_EXTENTS);
    while (off < end && n < NBD_MAX_EXTENTS) {
        off_t data = lseek(exp->fd, off, SEEK_DATA);
        uint64_t next;
        uint32_t flags;

        if (data < 0 && errno != ENXIO) {
            /* No SEEK_DATA support: report everything as data. */
            next = end;
            flags = 0;
        } else if (data < 0 || (uint64_t)data > off) {
            next = data < 0 ? end : MIN((uint64_t)data, end);
            flags = NBD_STATE_HOLE | NBD_STATE_ZERO;
        } else {
            off_t hole = lseek(exp->fd, off, SEEK_HOLE);
            next = hole < 0 ? end : MIN((uint64_t)hole, end);
            flags = 0;
        }
        if (next <= off) {
            next = end;
        }
        nbd_put_be32(ext + 8 * n, next - off);
        nbd_put_be32(ext + 8 * n + 4, flags);
        n++;
        off = next;
        if (req->flags & NBD_CMD_FLAG_REQ_ONE) {
            break;
        }
    }
    nbd_put_be32(pre, NBD_META_ID_BASE_ALLOCATION);
    return nbd_send_chunk(client, req->cookie, NBD_REPLY_FLAG_DONE,
                          NBD_REPLY_TYPE_BLOCK_STATUS, pre, 4, ext, 8 * n);
}

/* Flags each command accepts. */
static uint16_t nbd_cmd_allowed_flags(NBDServerConn *client, uint16_t type)
{
    switch (type) {
    case NBD_CMD_READ:
        return client->structured ? NBD_CMD_FLAG_DF : 0;
    case NBD_CMD_WRITE:
    case NBD_CMD_TRIM:
        return NBD_CMD_FLAG_FUA;
    case NBD_CMD_WRITE_ZEROES:
        return NBD_CMD_FLAG_FUA | NBD_CMD_FLAG_NO_HOLE |
               NBD_CMD_FLAG_FAST_ZERO;
    case NBD_CMD_BLOCK_STATUS:
        return NBD_CMD_FLAG_REQ_ONE;
    default:
        return 0;
    }
}

static void nbd_transmission(NBDServerConn *client)
{
    for (;;) {
        uint8_t hdr[NBD_REQUEST_SIZE];
        NBDRequest req;
        bool ok;

        if (!nbd_read(client, hdr, sizeof(hdr), NULL)) {
            return;
        }
        if (!nbd_decode_request(hdr, &req)) {
            g_info("NBD client %s: bad request magic; disconnecting",
                   qio_channel_get_name(client->master));
            return;
        }
        if (req.flags & ~nbd_cmd_allowed_flags(client, req.type)) {
            if (req.type == NBD_CMD_WRITE) {
                /* Keep in step: the payload follows regardless. */
                if (req.length > NBD_MAX_PAYLOAD ||
                    !nbd_drain(client, req.length, NULL)) {
                    return;
                }
            }
            ok = nbd_send_status(client, &req, NBD_EINVAL,
                                 "unsupported command flags");
            if (!ok) {
                return;
            }
            continue;
        }
        switch (req.type) {
        case NBD_CMD_READ:
            ok = nbd_do_read(client, &req);
            break;
        case NBD_CMD_WRITE:
            ok = nbd_do_write(client, &req);
            break;
        case NBD_CMD_DISC:
            return;
        case NBD_CMD_FLUSH:
            ok = fdatasync(client->exp->fd) == 0 ?
                 nbd_send_status(client, &req, 0, NULL) :
                 nbd_send_status(client, &req, nbd_errno_to_wire(errno),
                                 g_strerror(errno));
            break;
        case NBD_CMD_TRIM:
            ok = nbd_do_trim(client, &req);
            break;
        case NBD_CMD_CACHE:
            if (!nbd_range_ok(client->exp, &req)) {
                ok = nbd_send_status(client, &req, NBD_EINVAL,
                                     "cache past the end of the export");
                break;
            }
            posix_fadvise(client->exp->fd, req.offset, req.length,
                          POSIX_FADV_WILLNEED);
            ok = nbd_send_status(client, &req, 0, NULL);
            break;
        case NBD_CMD_WRITE_ZEROES:
            ok = nbd_do_write_zeroes(client, &req);
            break;
        case NBD_CMD_BLOCK_STATUS:
            ok = nbd_do_block_status(client, &req);
            break;
        default:
            ok = nbd_send_status(client, &req, NBD_EINVAL,
                                 "unknown command");
            break;
        }
        if (!ok) {
            return;
        }
    }
}

/* ---- Client threads ------------------------------------------------------ */

/* Drops a client that has not finished negotiating in time. */
static gpointer nbd_conn_watchdog(gpointer opaque)
{
    NBDServerConn *client = opaque;
    gint64 deadline = g_get_monotonic_time() +
                      (gint64)client->timeout_ms * G_TIME_SPAN_MILLISECOND;
    bool expired = false;

    g_mutex_lock(&client->lock);
    while (!client->negotiated && !expired) {
        expired = !g_cond_wait_until(&client->cond, &client->lock, deadline);
    }
    if (!client->negotiated) {
        g_info("NBD client %s: negotiation not finished after %u ms; "
               "disconnecting", qio_channel_get_name(client->master),
               client->timeout_ms);
        qio_channel_shutdown(client->master, QIO_CHANNEL_SHUTDOWN_BOTH, NULL);
    }
    g_mutex_unlock(&client->lock);
    return NULL;
}

static void nbd_conn_negotiation_over(NBDServerConn *client)
{
    g_mutex_lock(&client->lock);
    client->negotiated = true;
    g_cond_signal(&client->cond);
    g_mutex_unlock(&client->lock);
    if (client->watchdog) {
        g_thread_join(g_steal_pointer(&client->watchdog));
    }
}

static void nbd_conn_free(NBDServerConn *client)
{
    if (client->ioc != client->master) {
        g_object_unref(client->ioc);
    }
    g_object_unref(client->master);
    g_free(client->meta_export);
    g_mutex_clear(&client->lock);
    g_cond_clear(&client->cond);
    g_free(client);
}

/*
 * Client threads are detached and free themselves, so a finished client
 * releases its socket at once; the server only counts them, and
 * nbd_server_shutdown() waits for the count to reach zero.
 */
static gpointer nbd_conn_run(gpointer opaque)
{
    NBDServerConn *client = opaque;
    NBDServer *server = client->server;
    bool ok;

    if (client->timeout_ms) {
        client->watchdog = g_thread_new("nbd-watchdog", nbd_conn_watchdog,
                                        client);
    }
    ok = nbd_negotiate(client);
    nbd_conn_negotiation_over(client);
    if (ok) {
        nbd_transmission(client);
    }
    qio_channel_shutdown(client->master, QIO_CHANNEL_SHUTDOWN_BOTH, NULL);

    g_mutex_lock(&server->lock);
    server->clients = g_list_remove(server->clients, client);
    g_mutex_unlock(&server->lock);
    nbd_conn_free(client);

    /*
     * The callback runs outside the lock (it may ask for the count), so
     * shutdown also waits for callbacks still running.
     */
    g_mutex_lock(&server->lock);
    server->nclients--;
    server->gone_callbacks++;
    g_mutex_unlock(&server->lock);
    if (server->client_gone) {
        server->client_gone(server, server->client_gone_opaque);
    }
    g_mutex_lock(&server->lock);
    server->gone_callbacks--;
    g_cond_broadcast(&server->cond);
    g_mutex_unlock(&server->lock);
    return NULL;
}

void nbd_server_set_client_gone_func(NBDServer *server,
                                     NBDServerClientGoneFunc func,
                                     gpointer opaque)
{
    g_return_if_fail(NBD_IS_SERVER(server));
    g_mutex_lock(&server->lock);
    server->client_gone = func;
    server->client_gone_opaque = opaque;
    g_mutex_unlock(&server->lock);
}

static NBDServerConn *nbd_server_add_client(NBDServer *server, QIOChannel *ioc,
                                            bool threaded, GError **errp)
{
    NBDServerConn *client;

    if (qio_channel_set_blocking(ioc, true, errp) < 0) {
        return NULL;
    }
    client = g_new0(NBDServerConn, 1);
    client->server = server;
    client->master = g_object_ref(ioc);
    client->ioc = client->master;
    client->timeout_ms = server->handshake_timeout_ms;
    g_mutex_init(&client->lock);
    g_cond_init(&client->cond);

    g_mutex_lock(&server->lock);
    if (server->shut_down) {
        g_mutex_unlock(&server->lock);
        g_set_error(errp, QIO_ERROR, QIO_ERROR_CLOSED,
                    "NBD server is shut down; not serving %s",
                    qio_channel_get_name(ioc));
        nbd_conn_free(client);
        return NULL;
    }
    server->clients = g_list_prepend(server->clients, client);
    server->nclients++;
    if (threaded) {
        g_thread_unref(g_thread_new("nbd-client", nbd_conn_run, client));
    }
    g_mutex_unlock(&server->lock);
    return client;
}

void nbd_server_run_client(NBDServer *server, QIOChannel *ioc)
{
    g_autoptr(GError) err = NULL;
    NBDServerConn *client;

    g_return_if_fail(NBD_IS_SERVER(server));
    g_return_if_fail(QIO_IS_CHANNEL(ioc));
    client = nbd_server_add_client(server, ioc, false, &err);
    if (!client) {
        g_info("%s", err->message);
        return;
    }
    nbd_conn_run(client);
}

bool nbd_server_serve_client(NBDServer *server, QIOChannel *ioc,
                             GError **errp)
{
    g_return_val_if_fail(NBD_IS_SERVER(server), false);
    g_return_val_if_fail(QIO_IS_CHANNEL(ioc), false);
    return nbd_server_add_client(server, ioc, true, errp) != NULL;
}

guint nbd_server_get_client_count(NBDServer *server)
{
    guint n;

    g_return_val_if_fail(NBD_IS_SERVER(server), 0);
    g_mutex_lock(&server->lock);
    n = server->nclients;
    g_mutex_unlock(&server->lock);
    return n;
}

void nbd_server_shutdown(NBDServer *server)
{
    g_return_if_fail(NBD_IS_SERVER(server));
    g_mutex_lock(&server->lock);
    server->shut_down = true;
    /* A client frees itself only after leaving the list, under the lock. */
    for (GList *l = server->clients; l; l = l->next) {
        NBDServerConn *client = l->data;
        qio_channel_shutdown(client->master, QIO_CHANNEL_SHUTDOWN_BOTH, NULL);
    }
    while (server->nclients || server->gone_callbacks) {
        g_cond_wait(&server->cond, &server->lock);
    }
    g_mutex_unlock(&server->lock);
}

void nbd_server_set_handshake_timeout(NBDServer *server, guint timeout_ms)
{
    g_return_if_fail(NBD_IS_SERVER(server));
    server->handshake_timeout_ms = timeout_ms;
}

NBDServer *nbd_server_new(QCryptoTLSCreds *tls_creds, const char *tls_authz,
                          GError **errp)
{
    NBDServer *server;

    if (tls_authz && !tls_creds) {
        g_set_error(errp, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT,
                    "NBD server: tls-authz '%s' needs TLS credentials; "
                    "did you forget --tls-creds?", tls_authz);
        return NULL;
    }
    if (tls_creds &&
        !qcrypto_tls_creds_check_endpoint(tls_creds,
                                          QCRYPTO_TLS_CREDS_ENDPOINT_SERVER,
                                          errp)) {
        return NULL;
    }
    server = g_object_new(NBD_TYPE_SERVER, NULL);
    server->tls_creds = tls_creds ? g_object_ref(tls_creds) : NULL;
    server->tls_authz = g_strdup(tls_authz);
    return server;
}

static void nbd_server_finalize(GObject *obj)
{
    NBDServer *server = NBD_SERVER(obj);

    nbd_server_shutdown(server);
    g_clear_object(&server->tls_creds);
    g_free(server->tls_authz);
    g_ptr_array_unref(server->exports);
    g_mutex_clear(&server->lock);
    g_cond_clear(&server->cond);
    G_OBJECT_CLASS(nbd_server_parent_class)->finalize(obj);
}

static void nbd_server_init(NBDServer *server)
{
    server->exports = g_ptr_array_new_with_free_func(nbd_export_free);
    server->handshake_timeout_ms = NBD_SERVER_HANDSHAKE_TIMEOUT_MS;
    g_mutex_init(&server->lock);
    g_cond_init(&server->cond);
}

static void nbd_server_class_init(NBDServerClass *klass)
{
    G_OBJECT_CLASS(klass)->finalize = nbd_server_finalize;
}
