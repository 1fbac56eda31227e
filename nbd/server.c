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
 * In the transmission phase the client's thread reads requests and hands
 * them to a few worker threads of the client's own, so many requests are
 * in flight and replies come back in completion order (see "Transmission"
 * below for the memory bound).  After NBD_OPT_EXTENDED_HEADERS every
 * request and reply of the connection uses the 32-byte extended headers,
 * with 64-bit effect lengths; payloads stay bounded by the maximum block
 * size.  docs/nbd.md has the protocol coverage and
 * limits.
 *
 * Copyright (c) qio contributors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <poll.h>
#include <sys/statfs.h>
#include <sys/uio.h>
#include <linux/magic.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/ioctl.h>
#include <linux/fs.h>
#include <unistd.h>

#include "crypto/tls-creds.h"
#include "io/channel-socket.h"
#include "io/channel-tls.h"
#include "nbd/nbd-proto.h"
#include "nbd/server.h"
#include "io/error.h"

/* Context id handed out for base:allocation. */
#define NBD_META_ID_BASE_ALLOCATION 1
/* Most extents one BLOCK_STATUS reply carries. */
#define NBD_MAX_EXTENTS 1024

typedef struct NBDExport {
    char *name;
    char *description;
    char *path;
    int fd;          /* O_DIRECT with cache=none/directsync */
    int fd_buffered; /* for requests O_DIRECT cannot take, or -1 */
    uint64_t size;
    bool readonly;
    NBDCacheMode cache;
    bool discard;
    NBDDetectZeroes detect_zeroes;
    bool multi_conn;
    bool regular;         /* a regular file, not a block device */
    bool in_memory;       /* tmpfs/ramfs: I/O never waits for a disk */
    gint no_nowait_write; /* atomic: RWF_NOWAIT writes are refused */
    GMutex write_lock;    /* buffered regular file: one pwrite at a time */
    gint may_have_holes;  /* atomic; false: skip the hole probe on reads */
} NBDExport;

typedef enum NBDNegState {
    NBD_NEG_GREETING,
    NBD_NEG_CLIENT_FLAGS,
    NBD_NEG_OPTION,
    NBD_NEG_TRANSMISSION,
    NBD_NEG_DISCONNECT,
} NBDNegState;

/*
 * The reader holds back the short replies of the requests it runs itself
 * while further requests are already waiting to be read, and sends them
 * together: at most this many, each at most this long.
 */
#define NBD_BATCH_REPLIES   16
#define NBD_BATCH_REPLY_MAX 64

typedef struct NBDBuf {
    uint8_t *p;
    size_t cap;
} NBDBuf;

typedef struct NBDServerConn {
    NBDServer *server;
    QIOChannel *master; /* the channel we were given */
    QIOChannel *ioc;    /* master, or the TLS channel over it */
    bool tls;
    bool no_zeroes;
    /* Negotiated state: reset by nbd_conn_forget_negotiation(). */
    bool structured;
    bool extended; /* NBD_OPT_EXTENDED_HEADERS; implies structured */
    bool meta_base_allocation;
    char *meta_export;
    NBDExport *exp;
    /* Handshake watchdog. */
    GMutex lock;
    GCond cond;
    bool negotiated;
    guint timeout_ms;
    GThread *watchdog;
    /* Transmission: replies are sent whole under send_lock. */
    GMutex send_lock;
    gint failed; /* atomic: the channel is being torn down */
    GThreadPool *workers;
    GMutex pool_lock; /* pool, pool_bytes */
    GArray *pool;     /* NBDBuf: free payload buffers */
    size_t pool_bytes;
    GMutex req_lock; /* inflight, inflight_bytes */
    GCond req_cond;
    guint inflight;
    size_t inflight_bytes;
    guint req_waiters; /* threads in g_cond_wait(&req_cond) */
    /* Small replies held back by the reader (see nbd_batch_add()). */
    int batch_fd; /* the socket to poll, or -1: no batching */
    size_t batch_len;
    guint batch_count;
    uint8_t batch[NBD_BATCH_REPLIES * NBD_BATCH_REPLY_MAX];
} NBDServerConn;

struct _NBDServer {
    GObject parent;
    QCryptoTLSCreds *tls_creds;
    char *tls_authz;
    guint handshake_timeout_ms;
    GPtrArray *exports;
    GMutex lock; /* clients, nclients, shut_down, exports */
    GCond cond;  /* nclients went down */
    GList *clients;
    guint nclients;
    bool shut_down;
    NBDServerClientGoneFunc client_gone;
    gpointer client_gone_opaque;
    guint gone_callbacks; /* client_gone calls in progress */
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
    g_mutex_clear(&exp->write_lock);
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
                                const char *path, const NBDExportOptions *opts,
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
                    "discard=unmap",
                    name);
        return false;
    }
    if (strlen(name) > NBD_MAX_STRING_LENGTH ||
        (description && strlen(description) > NBD_MAX_STRING_LENGTH)) {
        g_set_error(errp, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT,
                    "NBD export '%.64s...': name and description must be "
                    "at most %d bytes",
                    name, NBD_MAX_STRING_LENGTH);
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
                    err == ENOENT ? QIO_ERROR_NOT_FOUND
                    : (err == EACCES || err == EPERM || err == EROFS)
                        ? QIO_ERROR_PERMISSION_DENIED
                        : QIO_ERROR_FAILED,
                    "NBD export '%s': cannot open '%s'%s: %s", name, path,
                    readonly ? " read-only" : " read-write", g_strerror(err));
        return false;
    }
    if (fstat(fd, &st) < 0 || !(S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))) {
        g_set_error(errp, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT,
                    "NBD export '%s': '%s' is not a regular file or block "
                    "device",
                    name, path);
        close(fd);
        return false;
    }
    exp = g_new0(NBDExport, 1);
    g_mutex_init(&exp->write_lock);
    exp->fd = fd;
    exp->fd_buffered = -1;
    exp->cache = opts->cache;
    exp->discard = opts->discard;
    exp->detect_zeroes = opts->detect_zeroes;
    exp->multi_conn = opts->multi_conn;
    if (nbd_cache_direct(opts->cache)) {
        /* Unaligned requests go through a second, buffered descriptor. */
        exp->fd_buffered = exp->fd;
        exp->fd =
            open(path, (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_DIRECT);
        if (exp->fd < 0) {
            g_set_error(errp, QIO_ERROR, QIO_ERROR_NOT_SUPPORTED,
                        "NBD export '%s': cannot open '%s' with O_DIRECT "
                        "(cache=none/directsync): %s; use another cache "
                        "mode",
                        name, path, g_strerror(errno));
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
        exp->regular = true;
        {
            struct statfs sfs;
            exp->in_memory =
                fstatfs(fd, &sfs) == 0 &&
                (sfs.f_type == TMPFS_MAGIC || sfs.f_type == RAMFS_MAGIC);
        }
        /* Holes appear only from outside or from our own punching. */
        exp->may_have_holes = (uint64_t)st.st_blocks * 512 < exp->size;
    }
    g_mutex_lock(&server->lock);
    g_ptr_array_add(server->exports, exp);
    g_mutex_unlock(&server->lock);
    return true;
}

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
    gint64 deadline =
        g_get_monotonic_time() + NBD_LINGER_MS * G_TIME_SPAN_MILLISECOND;
    size_t total = 0;
    uint8_t scratch[4096];
    int fd;

    if (!QIO_IS_CHANNEL_SOCKET(client->master)) {
        return;
    }
    fd = qio_channel_socket_get_fd(QIO_CHANNEL_SOCKET(client->master));
    if (fd < 0 || shutdown(fd, SHUT_WR) < 0) {
        return;
    }
    while (total < 1024 * 1024) {
        gint64 left = (deadline - g_get_monotonic_time()) / 1000;
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        ssize_t n;

        if (left <= 0 || poll(&pfd, 1, left) <= 0) {
            return;
        }
        n = recv(fd, scratch, sizeof(scratch), MSG_DONTWAIT);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
            continue;
        }
        if (n <= 0) {
            return;
        }
        total += n;
    }
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
        g_info("NBD client %s: TLS handshake failed: %s",
               qio_channel_get_name(client->master), err->message);
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

/*
 * The client's thread reads requests (and WRITE payloads) and queues them
 * for the client's workers, which do the file I/O and send the replies;
 * replies leave in completion order, each one whole under send_lock.
 * Memory is bounded per client: the reader waits while the payloads in
 * flight exceed NBD_SERVER_INFLIGHT_BYTES or NBD_SERVER_INFLIGHT_REQUESTS
 * requests are queued, which back-pressures the client through TCP.
 */

/* Worker threads per client. */
#define NBD_SERVER_WORKERS 4
/* Payload bytes (reads and writes) in flight per client. */
#define NBD_SERVER_INFLIGHT_BYTES (64u * 1024 * 1024)
/* Requests in flight per client. */
#define NBD_SERVER_INFLIGHT_REQUESTS 256
/* Alignment O_DIRECT needs for offsets, lengths and buffers. */
#define NBD_DIRECT_ALIGN 4096

typedef struct NBDServerReq {
    NBDRequest req;
    NBDBuf buf;    /* WRITE payload, or none */
    size_t charge; /* bytes counted against the in-flight budget */
} NBDServerReq;

/* Marks the connection dead; the reader notices at its next read. */
static void nbd_conn_fail(NBDServerConn *client)
{
    if (!g_atomic_int_exchange(&client->failed, 1)) {
        qio_channel_shutdown(client->master, QIO_CHANNEL_SHUTDOWN_BOTH, NULL);
    }
}

/* Set on the reader thread while it runs a request itself. */
static __thread NBDServerConn *nbd_batching;

/*
 * One reply, all of its pieces in one go so replies never interleave;
 * replies the reader held back go first, in the same call.
 */
static bool nbd_send_iov(NBDServerConn *client, struct iovec *iov, size_t niov)
{
    struct iovec all[4];
    size_t n = 0;
    bool ok;

    g_assert(niov < G_N_ELEMENTS(all));
    if (g_atomic_int_get(&client->failed)) {
        return false;
    }
    if (nbd_batching == client && client->batch_len) {
        all[n++] = (struct iovec){ client->batch, client->batch_len };
    }
    memcpy(all + n, iov, niov * sizeof(*iov));
    n += niov;
    g_mutex_lock(&client->send_lock);
    ok = qio_channel_writev_all(client->ioc, all, n, NULL) == 0;
    g_mutex_unlock(&client->send_lock);
    if (nbd_batching == client) {
        client->batch_len = 0;
        client->batch_count = 0;
    }
    if (!ok) {
        nbd_conn_fail(client);
    }
    return ok;
}

/*
 * On the reader, a short reply is held back while more requests wait:
 * one send (and one wakeup of the client) for several replies, which is
 * most of what a stream of writes costs besides the copies.  Sent by
 * nbd_batch_flush() before the reader would wait for input, or when
 * full, or with the next reply the reader sends.
 */
static bool nbd_batch_add(NBDServerConn *client, struct iovec *iov, size_t niov)
{
    size_t total = 0;

    if (nbd_batching != client || client->batch_fd < 0) {
        return false;
    }
    for (size_t i = 0; i < niov; i++) {
        total += iov[i].iov_len;
    }
    if (total > NBD_BATCH_REPLY_MAX ||
        client->batch_count + 1 >= NBD_BATCH_REPLIES) {
        return false; /* goes out now, with what is held */
    }
    for (size_t i = 0; i < niov; i++) {
        memcpy(client->batch + client->batch_len, iov[i].iov_base,
               iov[i].iov_len);
        client->batch_len += iov[i].iov_len;
    }
    client->batch_count++;
    return true;
}

/*
 * Bytes the reader can have without waiting: the socket's queue, plus
 * what the TLS session holds (read ahead, or decrypted).  Ciphertext
 * counts as data, a little more than it will be: good enough to tell a
 * stream of requests from a pause.
 */
static size_t nbd_input_ready(NBDServerConn *client)
{
    int avail = 0;
    size_t n;

    if (ioctl(client->batch_fd, FIONREAD, &avail) < 0 || avail < 0) {
        avail = 0;
    }
    n = avail;
    if (client->tls) {
        n += qcrypto_tls_session_check_pending(
            qio_channel_tls_get_session(QIO_CHANNEL_TLS(client->ioc)));
    }
    return n;
}

/*
 * Sends held-back replies unless the next @need bytes the reader wants
 * are already there (0: send them now).  Called before every read that
 * could wait: a request header, or a write's payload, which may take
 * long to arrive behind a slow link.
 */
static bool nbd_batch_flush(NBDServerConn *client, size_t need)
{
    struct iovec none[1] = { { NULL, 0 } };
    bool ok;

    if (!client->batch_len || (need && nbd_input_ready(client) >= need)) {
        return true;
    }
    nbd_batching = client;
    ok = nbd_send_iov(client, none, 0);
    nbd_batching = NULL;
    return ok;
}

static bool nbd_send_reply(NBDServerConn *client, struct iovec *iov,
                           size_t niov)
{
    return nbd_batch_add(client, iov, niov) || nbd_send_iov(client, iov, niov);
}

static bool nbd_send_simple(NBDServerConn *client, uint64_t cookie,
                            uint32_t err, const void *data, size_t len)
{
    NBDSimpleReply rep = { .error = err, .cookie = cookie };
    uint8_t hdr[NBD_SIMPLE_REPLY_SIZE];
    struct iovec iov[2] = {
        { hdr, sizeof(hdr) },
        { (void *)data, len },
    };

    nbd_encode_simple_reply(hdr, &rep);
    return nbd_send_reply(client, iov, len ? 2 : 1);
}

/*
 * One reply chunk to @req: a structured one, or with extended headers
 * an extended one, which also echoes the request's offset.
 */
static bool nbd_send_chunk(NBDServerConn *client, const NBDRequest *req,
                           uint16_t flags, uint16_t type, const void *pre,
                           size_t prelen, const void *data, size_t len)
{
    uint8_t hdr[NBD_EXTENDED_REPLY_SIZE];
    struct iovec iov[3] = {
        { hdr, 0 },
        { (void *)pre, prelen },
        { (void *)data, len },
    };

    if (client->extended) {
        NBDExtendedReply rep = {
            .flags = flags,
            .type = type,
            .cookie = req->cookie,
            .offset = req->offset,
            .length = prelen + len,
        };

        nbd_encode_extended_reply(hdr, &rep);
        iov[0].iov_len = NBD_EXTENDED_REPLY_SIZE;
    } else {
        NBDStructuredReply rep = {
            .flags = flags,
            .type = type,
            .cookie = req->cookie,
            .length = prelen + len,
        };

        nbd_encode_structured_reply(hdr, &rep);
        iov[0].iov_len = NBD_STRUCTURED_REPLY_SIZE;
    }
    return nbd_send_reply(client, iov, len ? 3 : prelen ? 2 : 1);
}

static void nbd_log_error(NBDServerConn *client, const NBDRequest *req,
                          uint32_t err, const char *msg)
{
    g_info("NBD client %s: %s at %" G_GUINT64_FORMAT "+%" G_GUINT64_FORMAT
           ": %s: %s",
           qio_channel_get_name(client->master), nbd_cmd_name(req->type),
           req->offset, req->length, nbd_err_name(err), msg);
}

/* A reply without data: success, or an error with a message. */
static bool nbd_send_status(NBDServerConn *client, const NBDRequest *req,
                            uint32_t err, const char *msg)
{
    uint8_t pre[6];
    size_t mlen;

    if (err) {
        nbd_log_error(client, req, err, msg);
    }
    if (!client->structured) {
        return nbd_send_simple(client, req->cookie, err, NULL, 0);
    }
    if (!err) {
        return nbd_send_chunk(client, req, NBD_REPLY_FLAG_DONE,
                              NBD_REPLY_TYPE_NONE, NULL, 0, NULL, 0);
    }
    mlen = MIN(strlen(msg), NBD_MAX_STRING_LENGTH);
    nbd_put_be32(pre, err);
    nbd_put_be16(pre + 4, mlen);
    return nbd_send_chunk(client, req, NBD_REPLY_FLAG_DONE,
                          NBD_REPLY_TYPE_ERROR, pre, 6, msg, mlen);
}

/* Errno-style result (0 or -errno) as a reply. */
static bool nbd_send_result(NBDServerConn *client, const NBDRequest *req,
                            int ret)
{
    return nbd_send_status(client, req, ret ? nbd_errno_to_wire(-ret) : 0,
                           ret ? g_strerror(-ret) : NULL);
}

static bool nbd_range_ok(NBDExport *exp, const NBDRequest *req)
{
    return req->offset <= exp->size && req->length <= exp->size - req->offset;
}

static bool nbd_fully_hole(NBDExport *exp, uint64_t off, uint64_t len)
{
    off_t data;

    if (!g_atomic_int_get(&exp->may_have_holes)) {
        return false;
    }
    data = lseek(exp->fd, off, SEEK_DATA);
    if (data < 0) {
        return errno == ENXIO; /* no data after @off at all */
    }
    return (uint64_t)data >= off + len;
}

static bool nbd_direct_ok(NBDExport *exp, uint64_t off, size_t len)
{
    return exp->fd_buffered < 0 || ((off | len) & (NBD_DIRECT_ALIGN - 1)) == 0;
}

/* The descriptor to use for [off, off+len). */
static int nbd_export_fd(NBDExport *exp, uint64_t off, size_t len)
{
    return nbd_direct_ok(exp, off, len) ? exp->fd : exp->fd_buffered;
}

/*
 * Payload buffers come from a small per-client pool: fresh memory for
 * every request costs a page fault per page, more than the data copy.
 * Buffers are 4 KiB aligned (what O_DIRECT needs) and at least
 * NBD_BUF_MIN bytes, so the usual request sizes share them; the pool
 * keeps at most NBD_POOL_BYTES.
 */
#define NBD_BUF_MIN    (256u * 1024)
#define NBD_POOL_BYTES (16u * 1024 * 1024)

static bool nbd_buf_get(NBDServerConn *client, size_t len, NBDBuf *out)
{
    void *p = NULL;

    g_mutex_lock(&client->pool_lock);
    for (guint i = 0; i < client->pool->len; i++) {
        NBDBuf *b = &g_array_index(client->pool, NBDBuf, i);

        if (b->cap >= len) {
            *out = *b;
            client->pool_bytes -= b->cap;
            g_array_remove_index_fast(client->pool, i);
            g_mutex_unlock(&client->pool_lock);
            return true;
        }
    }
    g_mutex_unlock(&client->pool_lock);
    out->cap = MAX(len, NBD_BUF_MIN);
    if (posix_memalign(&p, NBD_DIRECT_ALIGN, out->cap)) {
        out->p = NULL;
        return false;
    }
    out->p = p;
    return true;
}

static void nbd_buf_put(NBDServerConn *client, NBDBuf *b)
{
    if (!b->p) {
        return;
    }
    g_mutex_lock(&client->pool_lock);
    if (client->pool_bytes + b->cap <= NBD_POOL_BYTES) {
        g_array_append_val(client->pool, *b);
        client->pool_bytes += b->cap;
        b->p = NULL;
    }
    g_mutex_unlock(&client->pool_lock);
    free(b->p);
    b->p = NULL;
}

static void nbd_pool_clear(NBDServerConn *client)
{
    for (guint i = 0; client->pool && i < client->pool->len; i++) {
        free(g_array_index(client->pool, NBDBuf, i).p);
    }
    g_clear_pointer(&client->pool, g_array_unref);
}

/* Flush if the cache mode or the request asks for it; 0 or -errno. */
static int nbd_maybe_sync(NBDExport *exp, const NBDRequest *req, int ret)
{
    bool sync =
        exp->cache == NBD_CACHE_WRITETHROUGH ||
        exp->cache == NBD_CACHE_DIRECTSYNC ||
        ((req->flags & NBD_CMD_FLAG_FUA) && exp->cache != NBD_CACHE_UNSAFE);

    if (!ret && sync && fdatasync(exp->fd) < 0) {
        ret = -errno;
    }
    return ret;
}

/*
 * Read [off, off+len) into @buf: the number of bytes read before an error
 * (*@err = errno), or @len; bytes past a shrunk file's end read as zeros.
 */
static size_t nbd_pread_all(NBDExport *exp, uint8_t *buf, size_t len,
                            uint64_t off, bool nowait, int *err)
{
    int fd = nbd_export_fd(exp, off, len);
    size_t done = 0;

    *err = 0;
    while (done < len) {
        struct iovec iov = { buf + done, len - done };
        ssize_t n = preadv2(fd, &iov, 1, off + done, nowait ? RWF_NOWAIT : 0);
        if (n < 0 && nowait && (errno == EAGAIN || errno == EOPNOTSUPP)) {
            *err = EAGAIN; /* not in the page cache: would wait */
            return done;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            *err = errno;
            return done;
        }
        if (n == 0) {
            memset(buf + done, 0, len - done);
            break;
        }
        done += n;
        if (done < len && fd != exp->fd_buffered && exp->fd_buffered >= 0) {
            fd = exp->fd_buffered; /* a short direct read: go on buffered */
        }
    }
    return len;
}

/*
 * With @nowait, a read that would wait for the disk is not done and not
 * answered: *@would_block is set and the request goes to a worker.
 */
static bool nbd_do_read(NBDServerConn *client, const NBDRequest *req,
                        bool nowait, bool *would_block)
{
    NBDExport *exp = client->exp;
    NBDBuf nb;
    uint8_t *buf;
    uint8_t pre[12];
    size_t done;
    bool ok;
    int err;

    if (client->structured && !(req->flags & NBD_CMD_FLAG_DF) && req->length &&
        nbd_fully_hole(exp, req->offset, req->length)) {
        nbd_put_be64(pre, req->offset);
        nbd_put_be32(pre + 8, req->length);
        return nbd_send_chunk(client, req, NBD_REPLY_FLAG_DONE,
                              NBD_REPLY_TYPE_OFFSET_HOLE, pre, 12, NULL, 0);
    }
    if (!nbd_buf_get(client, req->length, &nb)) {
        return nbd_send_status(client, req, NBD_ENOMEM, "out of memory");
    }
    buf = nb.p;
    done = nbd_pread_all(exp, buf, req->length, req->offset, nowait, &err);
    if (err == EAGAIN && nowait) {
        nbd_buf_put(client, &nb);
        *would_block = true;
        return true;
    }
    if (err &&
        (!client->structured || !done || (req->flags & NBD_CMD_FLAG_DF))) {
        nbd_buf_put(client, &nb);
        return nbd_send_status(client, req, nbd_errno_to_wire(err),
                               g_strerror(err));
    }
    if (err) {
        /* Hand over what was read, then say where it failed. */
        const char *msg = g_strerror(err);
        size_t mlen = MIN(strlen(msg), NBD_MAX_STRING_LENGTH);
        g_autofree uint8_t *tail = g_malloc(mlen + 8);
        uint8_t epre[6];

        nbd_log_error(client, req, nbd_errno_to_wire(err), msg);
        nbd_put_be64(pre, req->offset);
        ok = nbd_send_chunk(client, req, 0, NBD_REPLY_TYPE_OFFSET_DATA, pre, 8,
                            buf, done);
        nbd_buf_put(client, &nb);
        /* Error, message length, message, then the failing offset. */
        nbd_put_be32(epre, nbd_errno_to_wire(err));
        nbd_put_be16(epre + 4, mlen);
        memcpy(tail, msg, mlen);
        nbd_put_be64(tail + mlen, req->offset + done);
        return ok && nbd_send_chunk(client, req, NBD_REPLY_FLAG_DONE,
                                    NBD_REPLY_TYPE_ERROR_OFFSET, epre, 6, tail,
                                    mlen + 8);
    }
    if (!client->structured) {
        ok = nbd_send_simple(client, req->cookie, 0, buf, req->length);
    } else if (!req->length) {
        ok = nbd_send_status(client, req, 0, NULL);
    } else {
        nbd_put_be64(pre, req->offset);
        ok = nbd_send_chunk(client, req, NBD_REPLY_FLAG_DONE,
                            NBD_REPLY_TYPE_OFFSET_DATA, pre, 8, buf,
                            req->length);
    }
    nbd_buf_put(client, &nb);
    return ok;
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

static bool nbd_is_zero(const uint8_t *buf, size_t len)
{
    return !len || (buf[0] == 0 && !memcmp(buf, buf + 1, len - 1));
}

/*
 * Zero [off, off+len): punch a hole when @may_punch, else make the range
 * read as zeros keeping it allocated; with @fast, fail with -ENOTSUP
 * rather than write zeros by hand.  0 or -errno.
 */
static int nbd_zero_range(NBDExport *exp, uint64_t off, uint64_t len,
                          bool may_punch, bool fast)
{
    g_autofree uint8_t *zero = NULL;
    int ret;

    if (!len) {
        return 0;
    }
    if (may_punch) {
        g_atomic_int_set(&exp->may_have_holes, 1);
        if (fallocate(exp->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off,
                      len) == 0) {
            return 0;
        }
    }
    if (fallocate(exp->fd, FALLOC_FL_ZERO_RANGE, off, len) == 0) {
        return 0;
    }
    ret = -errno;
    if (ret != -EOPNOTSUPP && ret != -ENOSYS && ret != -EINVAL) {
        return ret;
    }
    if (fast) {
        return -ENOTSUP;
    }
    if (posix_memalign((void **)&zero, NBD_DIRECT_ALIGN,
                       MIN(len, 1024 * 1024))) {
        return -ENOMEM;
    }
    memset(zero, 0, MIN(len, 1024 * 1024));
    ret = 0;
    while (len && !ret) {
        size_t n = MIN(len, 1024 * 1024);
        ret = nbd_pwrite_all(nbd_export_fd(exp, off, n), zero, n, off);
        off += n;
        len -= n;
    }
    free(g_steal_pointer(&zero));
    return ret;
}

/* One pwritev2(RWF_NOWAIT) pass: 0, -EAGAIN (would wait) or -errno. */
static int nbd_pwrite_nowait(NBDExport *exp, const uint8_t *buf, size_t len,
                             off_t off)
{
    while (len) {
        struct iovec iov = { (void *)buf, len };
        ssize_t n = pwritev2(exp->fd, &iov, 1, off, RWF_NOWAIT);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && errno == EOPNOTSUPP) {
            g_atomic_int_set(&exp->no_nowait_write, 1);
            return -EAGAIN;
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

/* @nowait and @would_block as for nbd_do_read(). */
static bool nbd_do_write(NBDServerConn *client, const NBDRequest *req,
                         const uint8_t *buf, bool nowait, bool *would_block)
{
    NBDExport *exp = client->exp;
    int ret;

    if (exp->readonly) {
        return nbd_send_status(client, req, NBD_EPERM, "export is read-only");
    }
    if (!nbd_range_ok(exp, req)) {
        return nbd_send_status(client, req, NBD_ENOSPC,
                               "write past the end of the export");
    }
    if (exp->detect_zeroes != NBD_DETECT_ZEROES_OFF &&
        nbd_is_zero(buf, req->length)) {
        if (nowait) {
            *would_block = true; /* fallocate may wait */
            return true;
        }
        ret = nbd_zero_range(exp, req->offset, req->length,
                             exp->detect_zeroes == NBD_DETECT_ZEROES_UNMAP &&
                                 exp->discard,
                             false);
    } else if (nowait) {
        /* Rewriting from the start on a worker is harmless. */
        ret = nbd_pwrite_nowait(exp, buf, req->length, req->offset);
        if (ret == -EAGAIN) {
            *would_block = true;
            return true;
        }
    } else {
        /*
         * Buffered writes to a regular file take its inode lock (tmpfs,
         * ext4, xfs), so they run one at a time anyway; waiting here
         * sleeps, where waiting in the kernel spins on the lock holder
         * and burns the CPU the other threads need (a 1 GiB nbdcopy
         * write to tmpfs: 0.60 instead of 0.87 server CPU-s).
         */
        bool serialise = exp->regular && exp->fd_buffered < 0;

        if (serialise) {
            g_mutex_lock(&exp->write_lock);
        }
        ret = nbd_pwrite_all(nbd_export_fd(exp, req->offset, req->length), buf,
                             req->length, req->offset);
        if (serialise) {
            g_mutex_unlock(&exp->write_lock);
        }
    }
    return nbd_send_result(client, req, nbd_maybe_sync(exp, req, ret));
}

static bool nbd_do_write_zeroes(NBDServerConn *client, const NBDRequest *req)
{
    NBDExport *exp = client->exp;
    int ret;

    if (exp->readonly) {
        return nbd_send_status(client, req, NBD_EPERM, "export is read-only");
    }
    if (!nbd_range_ok(exp, req)) {
        return nbd_send_status(client, req, NBD_ENOSPC,
                               "write past the end of the export");
    }
    ret = nbd_zero_range(exp, req->offset, req->length,
                         exp->discard && !(req->flags & NBD_CMD_FLAG_NO_HOLE),
                         req->flags & NBD_CMD_FLAG_FAST_ZERO);
    if (ret == -ENOTSUP) {
        return nbd_send_status(client, req, NBD_ENOTSUP,
                               "fast zeroing is not possible here");
    }
    return nbd_send_result(client, req, nbd_maybe_sync(exp, req, ret));
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
    /*
     * Trimming is advisory: with discard off it is accepted and ignored,
     * and a file system without holes ignores it too.
     */
    if (exp->discard && req->length) {
        g_atomic_int_set(&exp->may_have_holes, 1);
        fallocate(exp->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                  req->offset, req->length);
    }
    return nbd_send_result(client, req, nbd_maybe_sync(exp, req, 0));
}

static bool nbd_do_flush(NBDServerConn *client, const NBDRequest *req)
{
    NBDExport *exp = client->exp;
    int ret = 0;

    if (exp->cache != NBD_CACHE_UNSAFE && fdatasync(exp->fd) < 0) {
        ret = -errno;
    }
    return nbd_send_result(client, req, ret);
}

static bool nbd_do_cache(NBDServerConn *client, const NBDRequest *req)
{
    NBDExport *exp = client->exp;

    if (!nbd_range_ok(exp, req)) {
        return nbd_send_status(client, req, NBD_EINVAL,
                               "cache past the end of the export");
    }
    posix_fadvise(exp->fd_buffered >= 0 ? exp->fd_buffered : exp->fd,
                  req->offset, req->length, POSIX_FADV_WILLNEED);
    return nbd_send_status(client, req, 0, NULL);
}

static bool nbd_do_block_status(NBDServerConn *client, const NBDRequest *req)
{
    NBDExport *exp = client->exp;
    g_autofree uint8_t *ext = NULL;
    uint64_t off = req->offset, end;
    uint32_t n = 0;
    uint8_t pre[8];
    /* Extended headers: 64-bit lengths and flags (BLOCK_STATUS_EXT). */
    size_t dsize = client->extended ? 16 : 8;

    if (!client->structured || !client->meta_base_allocation) {
        return nbd_send_status(client, req, NBD_EINVAL,
                               "no meta context was selected; use "
                               "NBD_OPT_SET_META_CONTEXT base:allocation");
    }
    if (!req->length || !nbd_range_ok(exp, req)) {
        return nbd_send_status(client, req, NBD_EINVAL,
                               "block status range outside the export");
    }
    /* No overflow: the range is inside the export. */
    end = req->offset + req->length;
    ext = g_malloc(dsize * NBD_MAX_EXTENTS);
    while (off < end && n < NBD_MAX_EXTENTS) {
        /* Saying "data" is always safe; it is all there is to say. */
        off_t data = g_atomic_int_get(&exp->may_have_holes)
                         ? lseek(exp->fd, off, SEEK_DATA)
                         : (off_t)off;
        uint64_t next;
        uint32_t flags;

        if (data < 0 && errno != ENXIO) {
            /* No SEEK_DATA support: report everything as data. */
            next = end;
            flags = 0;
        } else if (data < 0 || (uint64_t)data > off) {
            next = data < 0 ? end : MIN((uint64_t)data, end);
            flags = NBD_STATE_HOLE | NBD_STATE_ZERO;
        } else if (!g_atomic_int_get(&exp->may_have_holes)) {
            next = end;
            flags = 0;
        } else {
            off_t hole = lseek(exp->fd, off, SEEK_HOLE);
            next = hole < 0 ? end : MIN((uint64_t)hole, end);
            flags = 0;
        }
        if (next <= off) {
            next = end;
        }
        if (client->extended) {
            nbd_put_be64(ext + dsize * n, next - off);
            nbd_put_be64(ext + dsize * n + 8, flags);
        } else {
            /* A compact request is under 4 GiB, so is each extent. */
            nbd_put_be32(ext + dsize * n, next - off);
            nbd_put_be32(ext + dsize * n + 4, flags);
        }
        n++;
        off = next;
        if (req->flags & NBD_CMD_FLAG_REQ_ONE) {
            break;
        }
    }
    nbd_put_be32(pre, NBD_META_ID_BASE_ALLOCATION);
    if (client->extended) {
        /* The descriptor count is optional; giving it costs nothing. */
        nbd_put_be32(pre + 4, n);
        return nbd_send_chunk(client, req, NBD_REPLY_FLAG_DONE,
                              NBD_REPLY_TYPE_BLOCK_STATUS_EXT, pre, 8, ext,
                              dsize * n);
    }
    return nbd_send_chunk(client, req, NBD_REPLY_FLAG_DONE,
                          NBD_REPLY_TYPE_BLOCK_STATUS, pre, 4, ext, dsize * n);
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
        return NBD_CMD_FLAG_FUA | NBD_CMD_FLAG_NO_HOLE | NBD_CMD_FLAG_FAST_ZERO;
    case NBD_CMD_BLOCK_STATUS:
        return NBD_CMD_FLAG_REQ_ONE;
    default:
        return 0;
    }
}

/*
 * Whether the reader may run @req itself instead of handing it over: a
 * READ or a plain WRITE on a buffered export.  In memory (tmpfs) they
 * never wait; elsewhere they are tried with RWF_NOWAIT and go to a
 * worker if the page cache cannot serve them at once.  A thread handoff
 * costs more CPU here than the copy of a 256 KiB request.
 */
static bool nbd_inline_ok(NBDServerConn *client, const NBDRequest *req)
{
    NBDExport *exp = client->exp;

    if (exp->fd_buffered >= 0) {
        return false; /* O_DIRECT */
    }
    switch (req->type) {
    case NBD_CMD_READ:
        return true;
    case NBD_CMD_WRITE:
        return !(req->flags & NBD_CMD_FLAG_FUA) &&
               (exp->cache == NBD_CACHE_WRITEBACK ||
                exp->cache == NBD_CACHE_UNSAFE) &&
               (exp->in_memory || !g_atomic_int_get(&exp->no_nowait_write));
    default:
        return false;
    }
}

/*
 * Runs @r and answers it; false if the connection must end.  With
 * @nowait (see nbd_inline_ok()) *@would_block may come back set instead.
 */
static bool nbd_handle(NBDServerConn *client, NBDServerReq *r, bool nowait,
                       bool *would_block)
{
    const NBDRequest *req = &r->req;
    bool ok;

    switch (req->type) {
    case NBD_CMD_READ:
        ok = nbd_do_read(client, req, nowait, would_block);
        break;
    case NBD_CMD_WRITE:
        ok = nbd_do_write(client, req, r->buf.p, nowait, would_block);
        break;
    case NBD_CMD_FLUSH:
        ok = nbd_do_flush(client, req);
        break;
    case NBD_CMD_TRIM:
        ok = nbd_do_trim(client, req);
        break;
    case NBD_CMD_CACHE:
        ok = nbd_do_cache(client, req);
        break;
    case NBD_CMD_WRITE_ZEROES:
        ok = nbd_do_write_zeroes(client, req);
        break;
    case NBD_CMD_BLOCK_STATUS:
        ok = nbd_do_block_status(client, req);
        break;
    default:
        g_assert_not_reached();
    }
    return ok;
}

/* A request is answered: release its buffer and its in-flight charge. */
static void nbd_finish(NBDServerConn *client, NBDServerReq *r)
{
    nbd_buf_put(client, &r->buf);
    g_mutex_lock(&client->req_lock);
    client->inflight--;
    client->inflight_bytes -= r->charge;
    if (client->req_waiters) {
        /* GLib's broadcast is a system call even with nobody waiting. */
        g_cond_broadcast(&client->req_cond);
    }
    g_mutex_unlock(&client->req_lock);
    g_free(r);
}

/* Runs on a worker: one request, start to reply. */
static void nbd_worker(gpointer data, gpointer opaque)
{
    NBDServerReq *r = data;
    NBDServerConn *client = opaque;
    bool would_block = false;

    if (!nbd_handle(client, r, false, &would_block)) {
        nbd_conn_fail(client);
    }
    nbd_finish(client, r);
}

/* Waits for room for a request carrying @bytes of payload. */
static void nbd_reserve(NBDServerConn *client, size_t bytes)
{
    g_mutex_lock(&client->req_lock);
    while (client->inflight >= NBD_SERVER_INFLIGHT_REQUESTS ||
           (client->inflight_bytes &&
            client->inflight_bytes + bytes > NBD_SERVER_INFLIGHT_BYTES)) {
        client->req_waiters++;
        g_cond_wait(&client->req_cond, &client->req_lock);
        client->req_waiters--;
    }
    client->inflight++;
    client->inflight_bytes += bytes;
    g_mutex_unlock(&client->req_lock);
}

/*
 * Checks the reader makes before queueing: true if the request was
 * answered here (or, with *@fatal, must end the connection).
 */
/*
 * With extended headers NBD_CMD_FLAG_PAYLOAD_LEN says whether a payload
 * follows the header: a WRITE must have it (it is taken off @req here),
 * no other command takes one.  Payload lengths over the maximum block
 * size end the connection; a shorter unexpected payload is read and
 * thrown away, and the command fails.  True if answered, as below.
 */
static bool nbd_check_payload_flag(NBDServerConn *client, NBDRequest *req,
                                   bool *fatal)
{
    bool payload = req->flags & NBD_CMD_FLAG_PAYLOAD_LEN;

    if (!client->extended) {
        return false; /* the flag is refused like any unknown one */
    }
    if (payload && req->length > NBD_SERVER_MAX_REQUEST) {
        g_info("NBD client %s: %s with a payload of %" G_GUINT64_FORMAT
               " bytes over the limit of %u; disconnecting",
               qio_channel_get_name(client->master), nbd_cmd_name(req->type),
               req->length, NBD_SERVER_MAX_REQUEST);
        *fatal = true;
        return true;
    }
    if (req->type == NBD_CMD_WRITE) {
        if (!payload) {
            /* No flag, no payload: the stream stays in step. */
            *fatal = !nbd_send_status(client, req, NBD_EINVAL,
                                      "a write needs NBD_CMD_FLAG_PAYLOAD_LEN "
                                      "with extended headers");
            return true;
        }
        req->flags &= ~NBD_CMD_FLAG_PAYLOAD_LEN;
        return false;
    }
    if (payload) {
        if (!nbd_drain(client, req->length, NULL)) {
            *fatal = true;
            return true;
        }
        *fatal = !nbd_send_status(client, req, NBD_EINVAL,
                                  "this command takes no payload");
        return true;
    }
    return false;
}

static bool nbd_check_request(NBDServerConn *client, NBDRequest *req,
                              bool *fatal)
{
    *fatal = false;
    if (req->type != NBD_CMD_DISC &&
        nbd_check_payload_flag(client, req, fatal)) {
        return true;
    }
    if (req->flags & ~nbd_cmd_allowed_flags(client, req->type)) {
        if (req->type == NBD_CMD_WRITE) {
            /* Keep in step: the payload follows regardless. */
            if (req->length > NBD_SERVER_MAX_REQUEST ||
                !nbd_drain(client, req->length, NULL)) {
                *fatal = true;
                return true;
            }
        }
        *fatal = !nbd_send_status(client, req, NBD_EINVAL,
                                  "unsupported command flags");
        return true;
    }
    switch (req->type) {
    case NBD_CMD_READ:
        if (req->length > NBD_SERVER_MAX_REQUEST) {
            *fatal = !nbd_send_status(client, req, NBD_EINVAL,
                                      "read larger than the maximum block "
                                      "size");
            return true;
        }
        if (!nbd_range_ok(client->exp, req)) {
            *fatal = !nbd_send_status(client, req, NBD_EINVAL,
                                      "read past the end of the export");
            return true;
        }
        return false;
    case NBD_CMD_WRITE:
        if (req->length > NBD_SERVER_MAX_REQUEST) {
            /* The payload cannot be skipped safely: hang up. */
            g_info("NBD client %s: write of %" G_GUINT64_FORMAT " bytes over "
                   "the limit of %u",
                   qio_channel_get_name(client->master), req->length,
                   NBD_SERVER_MAX_REQUEST);
            *fatal = true;
            return true;
        }
        return false;
    case NBD_CMD_FLUSH:
    case NBD_CMD_TRIM:
    case NBD_CMD_CACHE:
    case NBD_CMD_WRITE_ZEROES:
    case NBD_CMD_BLOCK_STATUS:
        return false;
    default:
        *fatal = !nbd_send_status(client, req, NBD_EINVAL, "unknown command");
        return true;
    }
}

static void nbd_transmission(NBDServerConn *client)
{
    bool ok;

    client->batch_fd =
        QIO_IS_CHANNEL_SOCKET(client->master)
            ? qio_channel_socket_get_fd(QIO_CHANNEL_SOCKET(client->master))
            : -1;
    client->workers =
        g_thread_pool_new(nbd_worker, client, NBD_SERVER_WORKERS, FALSE, NULL);
    for (;;) {
        /* One header style for the whole connection, fixed at GO. */
        size_t hlen =
            client->extended ? NBD_EXTENDED_REQUEST_SIZE : NBD_REQUEST_SIZE;
        uint8_t hdr[NBD_EXTENDED_REQUEST_SIZE];
        NBDServerReq *r;
        NBDRequest req;
        bool fatal;
        size_t charge = 0;

        if (g_atomic_int_get(&client->failed) ||
            !nbd_batch_flush(client, hlen) ||
            !nbd_read(client, hdr, hlen, NULL)) {
            break;
        }
        if (!(client->extended ? nbd_decode_extended_request(hdr, &req)
                               : nbd_decode_request(hdr, &req))) {
            /* Includes the other header style: the stream is lost. */
            g_info("NBD client %s: bad %s request magic 0x%08x; "
                   "disconnecting",
                   qio_channel_get_name(client->master),
                   client->extended ? "extended" : "compact",
                   nbd_get_be32(hdr));
            break;
        }
        if (req.type == NBD_CMD_DISC) {
            break;
        }
        if (nbd_check_request(client, &req, &fatal)) {
            if (fatal) {
                break;
            }
            continue;
        }
        if (req.type == NBD_CMD_READ || req.type == NBD_CMD_WRITE) {
            charge = req.length;
        }
        nbd_reserve(client, charge);
        r = g_new0(NBDServerReq, 1);
        r->req = req;
        r->charge = charge;
        if (req.type == NBD_CMD_WRITE) {
            if (!nbd_batch_flush(client, req.length) ||
                !nbd_buf_get(client, req.length, &r->buf) ||
                !nbd_read(client, r->buf.p, req.length, NULL)) {
                /* Out of memory for a bounded buffer, or the peer left. */
                nbd_finish(client, r);
                break;
            }
        }
        if (nbd_inline_ok(client, &req)) {
            bool would_block = false;
            bool nowait = !client->exp->in_memory;

            nbd_batching = client;
            ok = nbd_handle(client, r, nowait, &would_block);
            nbd_batching = NULL;
            if (!ok) {
                nbd_finish(client, r);
                break;
            }
            if (!would_block) {
                nbd_finish(client, r);
                continue;
            }
        }
        g_thread_pool_push(client->workers, r, NULL);
    }
    /* Replies still owed go out before the connection closes. */
    nbd_batch_flush(client, 0);
    g_thread_pool_free(g_steal_pointer(&client->workers), FALSE, TRUE);
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
               "disconnecting",
               qio_channel_get_name(client->master), client->timeout_ms);
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
    g_mutex_clear(&client->send_lock);
    nbd_pool_clear(client);
    g_mutex_clear(&client->pool_lock);
    g_mutex_clear(&client->req_lock);
    g_cond_clear(&client->req_cond);
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
        client->watchdog =
            g_thread_new("nbd-watchdog", nbd_conn_watchdog, client);
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
    /* Replies are whole messages: Nagle would only hold small ones back. */
    qio_channel_set_delay(ioc, false);
    client = g_new0(NBDServerConn, 1);
    client->server = server;
    client->master = g_object_ref(ioc);
    client->ioc = client->master;
    client->timeout_ms = server->handshake_timeout_ms;
    g_mutex_init(&client->lock);
    g_cond_init(&client->cond);
    g_mutex_init(&client->send_lock);
    g_mutex_init(&client->pool_lock);
    client->pool = g_array_new(FALSE, FALSE, sizeof(NBDBuf));
    g_mutex_init(&client->req_lock);
    g_cond_init(&client->req_cond);

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

bool nbd_server_serve_client(NBDServer *server, QIOChannel *ioc, GError **errp)
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
                    "did you forget --tls-creds?",
                    tls_authz);
        return NULL;
    }
    if (tls_creds && !qcrypto_tls_creds_check_endpoint(
                         tls_creds, QCRYPTO_TLS_CREDS_ENDPOINT_SERVER, errp)) {
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
