/*
 * QIOChannelTLS: the channel that runs a QCryptoTLSSession over another
 * channel.
 *
 * This is where the crypto layer meets the channels: the session is fed
 * push/pull callbacks that read and write the master channel.  A socket
 * master's descriptor is also handed to gnutls for the handshake, so that
 * gnutls can pass the session to the kernel (kernel TLS); the records the
 * kernel does not take then come back to callbacks here, which read ahead
 * from the master and gather the records of large writes.  The handshake is a
 * small loop of steps, each waiting on the master for the direction gnutls asks
 * for, under a time limit; the async form runs the same steps from watches on a
 * GMainContext.  Data calls move as many records as they can per call, so
 * that large transfers cost little more than gnutls itself.
 */
#define G_LOG_DOMAIN "qio-tls"

#include "io/channel-tls.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>

#include "io/channel-socket.h"

#define TLS_RECORD_MAX QCRYPTO_TLS_SESSION_RECORD_MAX

struct _QIOChannelTLS {
    QIOChannel parent;

    QIOChannel *master;
    QCryptoTLSSession *session;
    bool server;
    /* The master socket handed to gnutls directly, or -1. */
    int fd;
    bool blocking;
    guint timeout_ms;
    bool in_handshake;
    /* The handshake and the peer checks passed: data may flow. */
    bool ready;
    bool bye_sent;
    bool closed;
    bool read_eof;

    /* The master's error from the last failed pull (reader side). */
    GError *pull_err;
    /* ... and push (writer side). */
    GError *push_err;
    /* An error met after some bytes of a read were already returned. */
    GError *read_err;
    /* Length of the record a write left inside gnutls (see writev). */
    size_t write_pending;
    /* Gathers small iovec pieces into one record (writer side). */
    char *bounce;

    /*
     * Socket masters, after the handshake, unless the kernel does the
     * records: ciphertext read ahead from the master in large reads
     * (reader side, see data_pull()), and the records of one large
     * blocking write, sent together (writer side, see data_pushv()).
     */
    bool gather;
    uint8_t *ra_buf;
    size_t ra_off, ra_len;
    GThread *wb_owner; /* atomic: the thread gathering, or NULL */
    uint8_t *wb_buf;
    size_t wb_len;

    /*
     * Held by a reader, and by a writer that looks for the peer's last
     * alert (peer_alert): gnutls allows one reader at a time.
     */
    GMutex read_lock;
    /* Application data peer_alert() read, for the next read; its length. */
    GByteArray *stash;
    gint stash_len;
};

G_DEFINE_TYPE(QIOChannelTLS, qio_channel_tls, QIO_TYPE_CHANNEL)

static const char *tls_name(QIOChannelTLS *tioc)
{
    return qio_channel_get_name(QIO_CHANNEL(tioc));
}

/* ---- Transport callbacks (masters that are not sockets) ---------------- */

static ssize_t tls_push(const char *buf, size_t len, void *opaque)
{
    QIOChannelTLS *tioc = opaque;
    GError *err = NULL;
    gssize ret = qio_channel_write(tioc->master, buf, len, &err);

    if (ret == QIO_CHANNEL_ERR_BLOCK) {
        errno = EAGAIN;
        return -1;
    }
    if (ret < 0) {
        g_clear_error(&tioc->push_err);
        tioc->push_err = err;
        errno = EIO;
        return -1;
    }
    return ret;
}

static ssize_t tls_pull(char *buf, size_t len, void *opaque)
{
    QIOChannelTLS *tioc = opaque;
    GError *err = NULL;
    gssize ret = qio_channel_read(tioc->master, buf, len, &err);

    if (ret == QIO_CHANNEL_ERR_BLOCK) {
        errno = EAGAIN;
        return -1;
    }
    if (ret < 0) {
        g_clear_error(&tioc->pull_err);
        tioc->pull_err = err;
        errno = EIO;
        return -1;
    }
    return ret;
}

/* ---- Transport callbacks (socket masters, after the handshake) --------- */

static bool wait_master(QIOChannelTLS *tioc, GIOCondition cond,
                        gint64 deadline);

/* Bytes one read of the master may bring in for the read-ahead buffer. */
#define READAHEAD_SIZE (256 * 1024)

/* Room for the records of one gathered write before they must go out. */
#define GATHER_SIZE (512 * 1024)

/* Ciphertext read ahead and not yet handed to gnutls. */
static size_t readahead_len(QIOChannelTLS *tioc)
{
    return tioc->ra_len - tioc->ra_off;
}

/*
 * gnutls reads a record as two exact reads (its 5-byte header, then the
 * rest), and every recv() on TCP may send a window update: two system
 * calls and often an ACK per 16 KiB record.  Reading ahead in large
 * chunks makes a stream of records cost a few large reads.  Only the
 * session's records come after the handshake, so nothing read ahead
 * belongs to anyone else.
 */
static ssize_t data_pull(char *buf, size_t len, void *opaque)
{
    QIOChannelTLS *tioc = opaque;
    size_t n;

    if (!readahead_len(tioc)) {
        GError *err = NULL;
        gssize got;

        if (!tioc->ra_buf) {
            tioc->ra_buf = g_malloc(READAHEAD_SIZE);
        }
        got =
            qio_channel_read(tioc->master, tioc->ra_buf, READAHEAD_SIZE, &err);
        if (got == QIO_CHANNEL_ERR_BLOCK) {
            errno = EAGAIN;
            return -1;
        }
        if (got < 0) {
            g_clear_error(&tioc->pull_err);
            tioc->pull_err = err;
            errno = EIO;
            return -1;
        }
        tioc->ra_off = 0;
        tioc->ra_len = got;
        if (got == 0) {
            return 0;
        }
    }
    n = MIN(len, readahead_len(tioc));
    memcpy(buf, tioc->ra_buf + tioc->ra_off, n);
    tioc->ra_off += n;
    return n;
}

static int data_pull_timeout(int timeout_ms, void *opaque)
{
    QIOChannelTLS *tioc = opaque;

    if (readahead_len(tioc)) {
        return 1;
    }
    return wait_master(tioc, G_IO_IN,
                       timeout_ms < 0
                           ? -1
                           : g_get_monotonic_time() + (gint64)timeout_ms * 1000)
               ? 1
               : 0;
}

/* All of the gathered records to the master, waiting while it is full. */
static bool gather_flush(QIOChannelTLS *tioc)
{
    size_t off = 0;

    while (off < tioc->wb_len) {
        GError *err = NULL;
        gssize n = qio_channel_write(tioc->master, tioc->wb_buf + off,
                                     tioc->wb_len - off, &err);

        if (n == QIO_CHANNEL_ERR_BLOCK) {
            /* Another thread made the master non-blocking for a moment. */
            wait_master(tioc, G_IO_OUT, -1);
            continue;
        }
        if (n < 0) {
            g_clear_error(&tioc->push_err);
            tioc->push_err = err;
            tioc->wb_len = 0;
            return false;
        }
        off += n;
    }
    tioc->wb_len = 0;
    return true;
}

/*
 * gnutls pushes every record (16 KiB) as a write of its own; while a
 * gathered write runs (see qio_channel_tls_writev()), the writer's
 * records collect in wb_buf and leave together.  A push from another
 * thread (a reader answering the peer) goes out at once.
 */
static ssize_t data_pushv(const struct iovec *iov, int niov, void *opaque)
{
    QIOChannelTLS *tioc = opaque;
    bool gathering = g_atomic_pointer_get(&tioc->wb_owner) == g_thread_self();
    GError *err = NULL;
    size_t total = 0;
    gssize n;

    for (int i = 0; i < niov; i++) {
        total += iov[i].iov_len;
    }
    if (gathering && total <= GATHER_SIZE) {
        if (tioc->wb_len + total > GATHER_SIZE && !gather_flush(tioc)) {
            errno = EIO;
            return -1;
        }
        for (int i = 0; i < niov; i++) {
            memcpy(tioc->wb_buf + tioc->wb_len, iov[i].iov_base,
                   iov[i].iov_len);
            tioc->wb_len += iov[i].iov_len;
        }
        return total;
    }
    if (gathering && tioc->wb_len && !gather_flush(tioc)) {
        errno = EIO;
        return -1;
    }
    n = qio_channel_writev(tioc->master, iov, niov, &err);
    if (n == QIO_CHANNEL_ERR_BLOCK) {
        errno = EAGAIN;
        return -1;
    }
    if (n < 0) {
        g_clear_error(&tioc->push_err);
        tioc->push_err = err;
        errno = EIO;
        return -1;
    }
    return n;
}

/*
 * When the session failed because the master did, the master's error
 * says more ("Connection reset by peer" with its QIO_ERROR code) than
 * gnutls's "error in the pull function".
 */
static void propagate_session_error(QIOChannelTLS *tioc, GError *err,
                                    GError **master_err, bool handshake,
                                    GError **errp)
{
    if (*master_err) {
        if (handshake) {
            g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_HANDSHAKE,
                        "%s: TLS handshake failed: %s", tls_name(tioc),
                        (*master_err)->message);
        } else {
            g_set_error(errp, (*master_err)->domain, (*master_err)->code,
                        "%s: %s", tls_name(tioc), (*master_err)->message);
        }
        g_clear_error(master_err);
        g_error_free(err);
        return;
    }
    g_propagate_error(errp, err);
}

/*
 * gnutls holds the socket's descriptor number; if the socket channel was
 * closed behind our back, that number may already belong to something
 * else, so check before every call that hands it to gnutls.
 */
static bool master_fd_valid(QIOChannelTLS *tioc)
{
    return tioc->fd < 0 || qio_channel_socket_get_fd(
                               QIO_CHANNEL_SOCKET(tioc->master)) == tioc->fd;
}

/* ---- Construction ------------------------------------------------------- */

static QIOChannelTLS *tls_new(QIOChannel *master, QCryptoTLSCreds *creds,
                              const char *hostname, const char *authzid,
                              bool server, GError **errp)
{
    g_autoptr(QIOChannelTLS) tioc = NULL;
    g_autofree char *name = NULL;
    QCryptoTLSSession *sess;

    g_return_val_if_fail(QIO_IS_CHANNEL(master), NULL);
    sess = qcrypto_tls_session_new(creds, server ? NULL : hostname,
                                   server ? authzid : NULL,
                                   server ? QCRYPTO_TLS_CREDS_ENDPOINT_SERVER
                                          : QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT,
                                   errp);
    if (!sess) {
        return NULL;
    }
    qcrypto_tls_session_set_peer_label(sess, qio_channel_get_name(master));

    tioc = g_object_new(QIO_TYPE_CHANNEL_TLS, NULL);
    tioc->master = g_object_ref(master);
    tioc->session = sess;
    tioc->server = server;

    if (QIO_IS_CHANNEL_SOCKET(master) &&
        qio_channel_socket_get_fd(QIO_CHANNEL_SOCKET(master)) >= 0) {
        int fd = qio_channel_socket_get_fd(QIO_CHANNEL_SOCKET(master));
        int fl = fcntl(fd, F_GETFL);

        tioc->fd = fd;
        tioc->blocking = fl < 0 || !(fl & O_NONBLOCK);
        qcrypto_tls_session_set_fd(sess, fd);
        qcrypto_tls_session_set_data_callbacks(sess, data_pushv, data_pull,
                                               data_pull_timeout, tioc);
    } else {
        /* Channels are created blocking; set_blocking keeps this true. */
        tioc->blocking = true;
        qcrypto_tls_session_set_callbacks(sess, tls_push, tls_pull, tioc);
    }
    if (qio_channel_has_feature(master, QIO_CHANNEL_FEATURE_SHUTDOWN)) {
        qio_channel_set_feature(QIO_CHANNEL(tioc),
                                QIO_CHANNEL_FEATURE_SHUTDOWN);
    }
    name = g_strdup_printf("tls %s %s", server ? "server" : "client",
                           qio_channel_get_name(master));
    qio_channel_set_name(QIO_CHANNEL(tioc), name);
    return g_steal_pointer(&tioc);
}

QIOChannelTLS *qio_channel_tls_new_client(QIOChannel *master,
                                          QCryptoTLSCreds *creds,
                                          const char *hostname, GError **errp)
{
    return tls_new(master, creds, hostname, NULL, false, errp);
}

QIOChannelTLS *qio_channel_tls_new_server(QIOChannel *master,
                                          QCryptoTLSCreds *creds,
                                          const char *authzid, GError **errp)
{
    return tls_new(master, creds, NULL, authzid, true, errp);
}

void qio_channel_tls_set_handshake_timeout(QIOChannelTLS *tioc,
                                           guint timeout_ms)
{
    tioc->timeout_ms = timeout_ms;
}

QIOChannel *qio_channel_tls_get_master(QIOChannelTLS *tioc)
{
    return tioc->master;
}

QCryptoTLSSession *qio_channel_tls_get_session(QIOChannelTLS *tioc)
{
    return tioc->session;
}

/* ---- Waiting on the master ---------------------------------------------- */

static gboolean wait_ready(QIOChannel *ioc, GIOCondition cond, gpointer opaque)
{
    *(bool *)opaque = true;
    return G_SOURCE_REMOVE;
}

static gboolean wait_expired(gpointer opaque)
{
    *(bool *)opaque = true;
    return G_SOURCE_REMOVE;
}

/*
 * Wait until the master is ready for @cond or the monotonic time
 * @deadline (microseconds; -1: none) passes.  False on timeout.
 */
static bool wait_master(QIOChannelTLS *tioc, GIOCondition cond, gint64 deadline)
{
    if (tioc->fd >= 0) {
        struct pollfd pfd = { .fd = tioc->fd,
                              .events = cond & G_IO_OUT ? POLLOUT : POLLIN };

        for (;;) {
            int ms = -1;
            int ret;

            if (deadline >= 0) {
                gint64 left = deadline - g_get_monotonic_time();

                if (left <= 0) {
                    return false;
                }
                ms = (int)MIN((left + 999) / 1000, G_MAXINT);
            }
            ret = poll(&pfd, 1, ms);
            if (ret > 0) {
                return true;
            }
            if (ret < 0 && errno != EINTR) {
                return true; /* let the next call report the failure */
            }
        }
    }

    g_autoptr(GMainContext) ctx = g_main_context_new();
    GSource *io = qio_channel_create_watch(tioc->master, cond);
    GSource *timer = NULL;
    bool ready = false, expired = false;

    g_source_set_callback(io, (GSourceFunc)(void (*)(void))wait_ready, &ready,
                          NULL);
    g_source_attach(io, ctx);
    if (deadline >= 0) {
        gint64 left = MAX(deadline - g_get_monotonic_time(), 0);

        timer =
            g_timeout_source_new((guint)MIN((left + 999) / 1000, G_MAXUINT));
        g_source_set_callback(timer, wait_expired, &expired, NULL);
        g_source_attach(timer, ctx);
    }
    while (!ready && !expired) {
        g_main_context_iteration(ctx, TRUE);
    }
    g_source_destroy(io);
    g_source_unref(io);
    if (timer) {
        g_source_destroy(timer);
        g_source_unref(timer);
    }
    return ready;
}

/* Cut the connection of a peer that ran out of time. */
static void drop_peer(QIOChannelTLS *tioc)
{
    if (qio_channel_has_feature(tioc->master, QIO_CHANNEL_FEATURE_SHUTDOWN)) {
        qio_channel_shutdown(tioc->master, QIO_CHANNEL_SHUTDOWN_BOTH, NULL);
    } else {
        qio_channel_close(tioc->master, NULL);
    }
}

static void timeout_error(QIOChannelTLS *tioc, GError **errp)
{
    g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_TIMED_OUT,
                "%s: the TLS handshake did not finish within %u ms; the "
                "peer was disconnected",
                tls_name(tioc), tioc->timeout_ms);
}

/* ---- Handshake ---------------------------------------------------------- */

/*
 * One step: returns a QCryptoTLSSessionHandshakeStatus, or -1.  The peer
 * checks run as soon as gnutls is done, so "complete" means "trusted".
 */
static int handshake_step(QIOChannelTLS *tioc, GError **errp)
{
    GError *err = NULL;
    int ret;

    if (!master_fd_valid(tioc)) {
        g_set_error(errp, QIO_ERROR, QIO_ERROR_CLOSED,
                    "%s: the socket was closed", tls_name(tioc));
        return -1;
    }

    g_clear_error(&tioc->pull_err);
    g_clear_error(&tioc->push_err);
    ret = qcrypto_tls_session_handshake(tioc->session, &err);
    if (ret < 0) {
        propagate_session_error(
            tioc, err, tioc->pull_err ? &tioc->pull_err : &tioc->push_err, true,
            errp);
        g_debug("%s: handshake failed", tls_name(tioc));
        return -1;
    }
    if (ret != QCRYPTO_TLS_HANDSHAKE_COMPLETE) {
        g_debug("%s: handshake waiting to %s", tls_name(tioc),
                ret == QCRYPTO_TLS_HANDSHAKE_RECVING ? "read" : "write");
        return ret;
    }
    if (!qcrypto_tls_session_check_credentials(tioc->session, errp)) {
        g_debug("%s: peer checks failed", tls_name(tioc));
        return -1;
    }
    tioc->ready = true;
    /* The session's own push is ours now, unless the kernel took over. */
    tioc->gather = tioc->fd >= 0 && qcrypto_tls_session_get_ktls(
                                        tioc->session) == QCRYPTO_TLS_KTLS_NONE;
    {
        const char *peer = qcrypto_tls_session_get_peer_name(tioc->session);

        g_debug("%s: TLS up: %s, %s, peer '%s', kernel TLS %s", tls_name(tioc),
                qcrypto_tls_session_get_protocol(tioc->session),
                qcrypto_tls_session_get_cipher(tioc->session),
                peer ? peer : "(anonymous)",
                qcrypto_tls_session_get_ktls(tioc->session) ? "on" : "off");
    }
    return QCRYPTO_TLS_HANDSHAKE_COMPLETE;
}

static bool handshake_begin(QIOChannelTLS *tioc, bool *restore_blocking,
                            GError **errp)
{
    if (tioc->in_handshake || tioc->ready ||
        qcrypto_tls_session_is_handshake_done(tioc->session)) {
        g_set_error(errp, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT,
                    "%s: the TLS handshake was already started",
                    tls_name(tioc));
        return false;
    }
    tioc->in_handshake = true;
    *restore_blocking = false;
    g_debug("%s: handshake started (%s transport, limit %u ms)", tls_name(tioc),
            tioc->fd >= 0 ? "socket" : "channel", tioc->timeout_ms);
    /* A blocking step could outlive the time limit. */
    if (tioc->blocking) {
        if (qio_channel_set_blocking(tioc->master, false, errp) < 0) {
            tioc->in_handshake = false;
            return false;
        }
        *restore_blocking = true;
    }
    return true;
}

static void handshake_end(QIOChannelTLS *tioc, bool restore_blocking)
{
    if (restore_blocking) {
        qio_channel_set_blocking(tioc->master, true, NULL);
    }
    tioc->in_handshake = false;
}

int qio_channel_tls_handshake_sync(QIOChannelTLS *tioc, GError **errp)
{
    gint64 deadline = tioc->timeout_ms ? g_get_monotonic_time() +
                                             (gint64)tioc->timeout_ms * 1000
                                       : -1;
    bool restore;
    int ret;

    if (!handshake_begin(tioc, &restore, errp)) {
        return -1;
    }
    for (;;) {
        ret = handshake_step(tioc, errp);
        if (ret < 0 || ret == QCRYPTO_TLS_HANDSHAKE_COMPLETE) {
            break;
        }
        if (!wait_master(
                tioc, ret == QCRYPTO_TLS_HANDSHAKE_RECVING ? G_IO_IN : G_IO_OUT,
                deadline)) {
            drop_peer(tioc);
            timeout_error(tioc, errp);
            g_debug("%s: handshake timed out", tls_name(tioc));
            ret = -1;
            break;
        }
    }
    handshake_end(tioc, restore);
    return ret < 0 ? -1 : 0;
}

typedef struct {
    QIOChannelTLS *tioc; /* kept alive by the task */
    QIOTask *task;
    GMainContext *context;
    GSource *step; /* idle or master watch; owned by the context */
    GSource *timer;
    bool restore_blocking;
} TLSHandshake;

static void async_finish(TLSHandshake *hs, GError *err)
{
    if (hs->step) {
        g_source_destroy(hs->step);
    }
    if (hs->timer) {
        g_source_destroy(hs->timer);
    }
    handshake_end(hs->tioc, hs->restore_blocking);
    if (err) {
        qio_task_set_error(hs->task, err);
    }
    qio_task_complete(hs->task);
    g_main_context_unref(hs->context);
    g_free(hs);
}

static gboolean async_io(QIOChannel *master, GIOCondition cond,
                         gpointer opaque);

static void async_run(TLSHandshake *hs)
{
    GError *err = NULL;
    int ret = handshake_step(hs->tioc, &err);
    GSource *src;

    if (ret < 0) {
        async_finish(hs, err);
        return;
    }
    if (ret == QCRYPTO_TLS_HANDSHAKE_COMPLETE) {
        async_finish(hs, NULL);
        return;
    }
    src = qio_channel_create_watch(
        hs->tioc->master,
        ret == QCRYPTO_TLS_HANDSHAKE_RECVING ? G_IO_IN : G_IO_OUT);
    g_source_set_callback(src, (GSourceFunc)(void (*)(void))async_io, hs, NULL);
    g_source_attach(src, hs->context);
    g_source_unref(src);
    hs->step = src;
}

static gboolean async_io(QIOChannel *master, GIOCondition cond, gpointer opaque)
{
    TLSHandshake *hs = opaque;

    hs->step = NULL; /* removed when this returns */
    async_run(hs);
    return G_SOURCE_REMOVE;
}

static gboolean async_start(gpointer opaque)
{
    TLSHandshake *hs = opaque;

    hs->step = NULL;
    async_run(hs);
    return G_SOURCE_REMOVE;
}

static gboolean async_timeout(gpointer opaque)
{
    TLSHandshake *hs = opaque;
    GError *err = NULL;

    hs->timer = NULL;
    drop_peer(hs->tioc);
    timeout_error(hs->tioc, &err);
    g_debug("%s: handshake timed out", tls_name(hs->tioc));
    async_finish(hs, err);
    return G_SOURCE_REMOVE;
}

static gboolean complete_later(gpointer opaque)
{
    qio_task_complete(opaque);
    return G_SOURCE_REMOVE;
}

void qio_channel_tls_handshake(QIOChannelTLS *tioc, QIOTaskFunc func,
                               gpointer opaque, GDestroyNotify destroy,
                               GMainContext *context)
{
    TLSHandshake *hs = g_new0(TLSHandshake, 1);
    GError *err = NULL;
    GSource *src;

    hs->tioc = tioc;
    hs->task = qio_task_new(G_OBJECT(tioc), func, opaque, destroy);
    hs->context = context ? g_main_context_ref(context)
                          : g_main_context_ref(g_main_context_default());
    if (!handshake_begin(tioc, &hs->restore_blocking, &err)) {
        /* Still report from the context, never from inside this call. */
        qio_task_set_error(hs->task, err);
        src = g_idle_source_new();
        g_source_set_callback(src, complete_later, hs->task, NULL);
        g_source_attach(src, hs->context);
        g_source_unref(src);
        g_main_context_unref(hs->context);
        g_free(hs);
        return;
    }
    if (tioc->timeout_ms) {
        src = g_timeout_source_new(tioc->timeout_ms);
        g_source_set_callback(src, async_timeout, hs, NULL);
        g_source_attach(src, hs->context);
        g_source_unref(src);
        hs->timer = src;
    }
    src = g_idle_source_new();
    g_source_set_callback(src, async_start, hs, NULL);
    g_source_attach(src, hs->context);
    g_source_unref(src);
    hs->step = src;
}

/* ---- Data --------------------------------------------------------------- */

static bool check_ready(QIOChannelTLS *tioc, GError **errp)
{
    if (tioc->closed || !master_fd_valid(tioc)) {
        g_set_error(errp, QIO_ERROR, QIO_ERROR_CLOSED, "%s: channel is closed",
                    tls_name(tioc));
        return false;
    }
    if (!tioc->ready || tioc->in_handshake) {
        g_set_error(errp, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT,
                    "%s: no TLS session: the handshake has not completed "
                    "or the peer was refused",
                    tls_name(tioc));
        return false;
    }
    return true;
}

/* Bytes held on this side of the master: decrypted, and read ahead. */
static size_t buffered_input(QIOChannelTLS *tioc)
{
    return qcrypto_tls_session_check_pending(tioc->session) +
           readahead_len(tioc);
}

/*
 * After some bytes were read, whether another record can be had without
 * blocking: decrypted bytes in gnutls, or a non-blocking transport (try
 * and see).  A blocking transport would need a poll() per record to know,
 * which costs more than returning and being called again.
 */
static bool more_to_read(QIOChannelTLS *tioc)
{
    return !tioc->blocking || buffered_input(tioc) > 0;
}

/* Hand out application data that peer_alert() read.  Under read_lock. */
static gssize read_stash(QIOChannelTLS *tioc, const struct iovec *iov,
                         size_t niov)
{
    size_t got = 0;

    for (size_t i = 0; i < niov && got < tioc->stash->len; i++) {
        size_t take = MIN(iov[i].iov_len, tioc->stash->len - got);

        memcpy(iov[i].iov_base, tioc->stash->data + got, take);
        got += take;
    }
    g_byte_array_remove_range(tioc->stash, 0, got);
    g_atomic_int_set(&tioc->stash_len, (gint)tioc->stash->len);
    return got;
}

static gssize tls_readv_locked(QIOChannelTLS *tioc, const struct iovec *iov,
                               size_t niov, GError **errp)
{
    gssize got = 0;

    if (tioc->stash && tioc->stash->len) {
        return read_stash(tioc, iov, niov);
    }
    if (tioc->read_err) {
        g_propagate_error(errp, g_steal_pointer(&tioc->read_err));
        return -1;
    }
    if (tioc->read_eof) {
        return 0;
    }

    for (size_t i = 0; i < niov; i++) {
        char *base = iov[i].iov_base;
        size_t off = 0;

        while (off < iov[i].iov_len) {
            GError *err = NULL;
            gssize ret;

            if (got > 0 && !more_to_read(tioc)) {
                return got;
            }
            g_clear_error(&tioc->pull_err);
            ret = qcrypto_tls_session_read(tioc->session, base + off,
                                           iov[i].iov_len - off, &err);
            if (ret > 0) {
                got += ret;
                off += ret;
                continue;
            }
            if (ret == 0) {
                tioc->read_eof = true;
                return got;
            }
            if (ret == QCRYPTO_TLS_SESSION_ERR_BLOCK) {
                if (got > 0) {
                    return got;
                }
                if (!tioc->blocking) {
                    return QIO_CHANNEL_ERR_BLOCK;
                }
                /*
                 * A blocking transport still says "again" after gnutls
                 * consumed a post-handshake message, or when another
                 * thread toggled the mode for a moment: wait and retry.
                 */
                if (!buffered_input(tioc)) {
                    wait_master(tioc, G_IO_IN, -1);
                }
                continue;
            }
            if (got > 0) {
                /* Return what arrived; the error comes with the next call. */
                propagate_session_error(tioc, err, &tioc->pull_err, false,
                                        &tioc->read_err);
                return got;
            }
            propagate_session_error(tioc, err, &tioc->pull_err, false, errp);
            return -1;
        }
    }
    return got;
}

static gssize qio_channel_tls_readv(QIOChannel *ioc, const struct iovec *iov,
                                    size_t niov, int **fds, size_t *nfds,
                                    int flags, GError **errp)
{
    QIOChannelTLS *tioc = QIO_CHANNEL_TLS(ioc);
    gssize ret;

    if (flags & QIO_CHANNEL_READ_FLAG_PEEK) {
        g_set_error(errp, QIO_ERROR, QIO_ERROR_NOT_SUPPORTED,
                    "%s: cannot peek at TLS data", tls_name(tioc));
        return -1;
    }
    if (!check_ready(tioc, errp)) {
        return -1;
    }
    g_mutex_lock(&tioc->read_lock);
    ret = tls_readv_locked(tioc, iov, niov, errp);
    g_mutex_unlock(&tioc->read_lock);
    return ret;
}

/*
 * A write found the transport gone (EPIPE, ECONNRESET).  A TLS 1.3
 * client's handshake ends before the server has checked the client, so a
 * server that refuses it (no certificate, authz) sends a fatal alert and
 * closes while the client may already be writing.  The alert may still
 * sit unread in the socket: report it, since "Broken pipe" says nothing
 * about why.  Only what already arrived is read, never waiting; with a
 * reader busy on another thread nothing is, as that reader meets the
 * alert itself.  True with @errp set when the peer sent one.
 */
static bool peer_alert(QIOChannelTLS *tioc, GError **errp)
{
    bool found;

    if (!g_mutex_trylock(&tioc->read_lock)) {
        return false;
    }
    if (tioc->blocking &&
        qio_channel_set_blocking(tioc->master, false, NULL) < 0) {
        g_mutex_unlock(&tioc->read_lock);
        return false;
    }
    if (!tioc->stash) {
        tioc->stash = g_byte_array_new();
    }
    found = qcrypto_tls_session_read_alert(tioc->session, tioc->stash, errp);
    g_atomic_int_set(&tioc->stash_len, (gint)tioc->stash->len);
    g_clear_error(&tioc->pull_err);
    if (tioc->blocking) {
        qio_channel_set_blocking(tioc->master, true, NULL);
    }
    g_mutex_unlock(&tioc->read_lock);
    return found;
}

static bool transport_gone(const GError *err)
{
    return err->domain == QIO_ERROR &&
           (err->code == QIO_ERROR_BROKEN_PIPE ||
            err->code == QIO_ERROR_CONNECTION_RESET);
}

static gssize tls_writev_records(QIOChannel *ioc, const struct iovec *iov,
                                 size_t niov, const int *fds, size_t nfds,
                                 int flags, GError **errp)
{
    QIOChannelTLS *tioc = QIO_CHANNEL_TLS(ioc);
    size_t total = 0, done = 0;
    size_t idx = 0, off = 0; /* position of byte @done in @iov */
    GError *werr = NULL;

    if (!check_ready(tioc, errp)) {
        return -1;
    }
    for (size_t i = 0; i < niov; i++) {
        total += iov[i].iov_len;
    }
    if (tioc->write_pending > total) {
        g_set_error(errp, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT,
                    "%s: a write that would block must be retried with the "
                    "same data",
                    tls_name(tioc));
        return -1;
    }

    while (done < total) {
        size_t want = tioc->write_pending ? tioc->write_pending
                                          : MIN(TLS_RECORD_MAX, total - done);
        const char *data;
        GError *err = NULL;
        gssize ret;

        while (off == iov[idx].iov_len) {
            idx++;
            off = 0;
        }
        if (iov[idx].iov_len - off >= want) {
            data = (const char *)iov[idx].iov_base + off;
        } else {
            /* Gather pieces so that small iovecs do not each cost a record. */
            size_t n = 0, gi = idx, goff = off;

            if (!tioc->bounce) {
                tioc->bounce = g_malloc(TLS_RECORD_MAX);
            }
            while (n < want) {
                size_t take = MIN(iov[gi].iov_len - goff, want - n);

                memcpy(tioc->bounce + n, (const char *)iov[gi].iov_base + goff,
                       take);
                n += take;
                gi++;
                goff = 0;
            }
            data = tioc->bounce;
        }

        g_clear_error(&tioc->push_err);
        ret = qcrypto_tls_session_write(tioc->session, data, want, &err);
        if (ret > 0) {
            size_t adv = ret;

            tioc->write_pending = 0;
            done += adv;
            while (adv) {
                size_t take = MIN(iov[idx].iov_len - off, adv);

                off += take;
                adv -= take;
                if (off == iov[idx].iov_len && adv) {
                    idx++;
                    off = 0;
                }
            }
            continue;
        }
        if (ret == QCRYPTO_TLS_SESSION_ERR_BLOCK) {
            tioc->write_pending = want;
            if (done > 0) {
                return done;
            }
            if (!tioc->blocking) {
                return QIO_CHANNEL_ERR_BLOCK;
            }
            wait_master(tioc, G_IO_OUT, -1);
            continue;
        }
        tioc->write_pending = 0;
        if (done > 0) {
            /* The transport is broken; the next call reports it. */
            g_error_free(err);
            g_clear_error(&tioc->push_err);
            return done;
        }
        propagate_session_error(tioc, err, &tioc->push_err, false, &werr);
        if (transport_gone(werr) && peer_alert(tioc, errp)) {
            g_debug("%s: write failed (%s) after the peer's alert",
                    tls_name(tioc), werr->message);
            g_error_free(werr);
            return -1;
        }
        g_propagate_error(errp, werr);
        return -1;
    }
    return done;
}

/*
 * A blocking write of more than a record gathers its records into one
 * write on the socket (data_pushv()): a 256 KiB write is 17 records,
 * which were 17 system calls.  Non-blocking writes are not gathered: they
 * must be able to stop at any record.
 */
static gssize qio_channel_tls_writev(QIOChannel *ioc, const struct iovec *iov,
                                     size_t niov, const int *fds, size_t nfds,
                                     int flags, GError **errp)
{
    QIOChannelTLS *tioc = QIO_CHANNEL_TLS(ioc);
    GError *err = NULL;
    size_t total = 0;
    gssize ret;

    for (size_t i = 0; i < niov; i++) {
        total += iov[i].iov_len;
    }
    if (!tioc->blocking || total <= TLS_RECORD_MAX || !tioc->gather) {
        return tls_writev_records(ioc, iov, niov, fds, nfds, flags, errp);
    }
    if (!tioc->wb_buf) {
        tioc->wb_buf = g_malloc(GATHER_SIZE);
    }
    g_atomic_pointer_set(&tioc->wb_owner, g_thread_self());
    ret = tls_writev_records(ioc, iov, niov, fds, nfds, flags, errp);
    g_atomic_pointer_set(&tioc->wb_owner, NULL);
    if (tioc->wb_len && !gather_flush(tioc)) {
        /* As a record's own write failing would have said. */
        g_set_error(&err, tioc->push_err->domain, tioc->push_err->code,
                    "%s: %s", tls_name(tioc), tioc->push_err->message);
        g_clear_error(&tioc->push_err);
        if (ret < 0 || (transport_gone(err) && peer_alert(tioc, errp))) {
            g_error_free(err); /* already said, or the alert says more */
            return -1;
        }
        g_propagate_error(errp, err);
        return -1;
    }
    return ret;
}

/*
 * Send close_notify, waiting for the master to take it (up to the
 * handshake time limit, or 10 s without one) whatever the blocking mode,
 * so that a writer that closes right after a large write still ends
 * cleanly.
 */
static int send_bye(QIOChannelTLS *tioc, GError **errp)
{
    guint ms = tioc->timeout_ms ? tioc->timeout_ms
                                : QIO_CHANNEL_TLS_HANDSHAKE_TIMEOUT_MS;
    gint64 deadline = g_get_monotonic_time() + (gint64)ms * 1000;
    bool was_blocking = tioc->blocking;
    int ret;

    if (tioc->bye_sent || tioc->closed || !tioc->ready ||
        !master_fd_valid(tioc)) {
        return 0;
    }
    tioc->bye_sent = true;
    if (was_blocking) {
        qio_channel_set_blocking(tioc->master, false, NULL);
    }
    for (;;) {
        GError *err = NULL;

        g_clear_error(&tioc->push_err);
        ret = qcrypto_tls_session_bye(tioc->session, &err);
        if (ret == 0) {
            break;
        }
        if (ret < 0) {
            propagate_session_error(tioc, err, &tioc->push_err, false, errp);
            break;
        }
        if (!wait_master(tioc, G_IO_OUT, deadline)) {
            g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_TIMED_OUT,
                        "%s: the peer did not accept the TLS close_notify "
                        "within %u ms",
                        tls_name(tioc), ms);
            ret = -1;
            break;
        }
    }
    if (was_blocking) {
        qio_channel_set_blocking(tioc->master, true, NULL);
    }
    g_debug("%s: %s", tls_name(tioc),
            ret == 0 ? "sent close_notify" : "could not send close_notify");
    return ret;
}

static int qio_channel_tls_shutdown(QIOChannel *ioc, QIOChannelShutdown how,
                                    GError **errp)
{
    QIOChannelTLS *tioc = QIO_CHANNEL_TLS(ioc);

    if ((how & QIO_CHANNEL_SHUTDOWN_WRITE) && send_bye(tioc, errp) < 0) {
        /* Shut the transport down anyway: that was asked for. */
        qio_channel_shutdown(tioc->master, how, NULL);
        return -1;
    }
    return qio_channel_shutdown(tioc->master, how, errp);
}

static int qio_channel_tls_close(QIOChannel *ioc, GError **errp)
{
    QIOChannelTLS *tioc = QIO_CHANNEL_TLS(ioc);

    if (tioc->closed) {
        return 0;
    }
    /* A close is an orderly end: the peer then reads EOF, not truncation. */
    send_bye(tioc, NULL);
    tioc->closed = true;
    return qio_channel_close(tioc->master, errp);
}

static GSource *qio_channel_tls_create_watch(QIOChannel *ioc,
                                             GIOCondition condition)
{
    QIOChannelTLS *tioc = QIO_CHANNEL_TLS(ioc);

    if (tioc->fd >= 0) {
        bool gone = tioc->closed || !master_fd_valid(tioc);

        return qio_channel_create_fd_watch(ioc, gone ? -1 : tioc->fd,
                                           condition);
    }
    return qio_channel_create_layered_watch(ioc, tioc->master, condition);
}

static int qio_channel_tls_set_blocking(QIOChannel *ioc, bool enabled,
                                        GError **errp)
{
    QIOChannelTLS *tioc = QIO_CHANNEL_TLS(ioc);

    if (qio_channel_set_blocking(tioc->master, enabled, errp) < 0) {
        return -1;
    }
    tioc->blocking = enabled;
    return 0;
}

static bool qio_channel_tls_has_pending(QIOChannel *ioc)
{
    QIOChannelTLS *tioc = QIO_CHANNEL_TLS(ioc);

    if (tioc->closed || !tioc->ready || tioc->in_handshake) {
        return false;
    }
    /*
     * A deferred error or a close_notify already seen is news for a
     * reader too: the socket may never become readable for it.
     */
    return g_atomic_pointer_get(&tioc->read_err) != NULL || tioc->read_eof ||
           g_atomic_int_get(&tioc->stash_len) > 0 || buffered_input(tioc) > 0;
}

/*
 * Plaintext ready for a read, ciphertext read ahead or in the master: a
 * little more than a read will return (record headers and tags count),
 * which is good enough to tell a stream of data from a pause.
 */
static size_t qio_channel_tls_input_pending(QIOChannel *ioc)
{
    QIOChannelTLS *tioc = QIO_CHANNEL_TLS(ioc);

    if (tioc->closed || !tioc->ready || tioc->in_handshake) {
        return 0;
    }
    return (size_t)g_atomic_int_get(&tioc->stash_len) + buffered_input(tioc) +
           qio_channel_input_pending(tioc->master);
}

static void qio_channel_tls_set_cork(QIOChannel *ioc, bool enabled)
{
    qio_channel_set_cork(QIO_CHANNEL_TLS(ioc)->master, enabled);
}

static void qio_channel_tls_set_delay(QIOChannel *ioc, bool enabled)
{
    qio_channel_set_delay(QIO_CHANNEL_TLS(ioc)->master, enabled);
}

static void qio_channel_tls_finalize(GObject *obj)
{
    QIOChannelTLS *tioc = QIO_CHANNEL_TLS(obj);

    qcrypto_tls_session_free(tioc->session);
    g_clear_object(&tioc->master);
    g_clear_error(&tioc->pull_err);
    g_clear_error(&tioc->push_err);
    g_clear_error(&tioc->read_err);
    g_free(tioc->bounce);
    g_free(tioc->ra_buf);
    g_free(tioc->wb_buf);
    if (tioc->stash) {
        g_byte_array_unref(tioc->stash);
    }
    g_mutex_clear(&tioc->read_lock);
    G_OBJECT_CLASS(qio_channel_tls_parent_class)->finalize(obj);
}

static void qio_channel_tls_class_init(QIOChannelTLSClass *klass)
{
    QIOChannelClass *ioc_klass = QIO_CHANNEL_CLASS(klass);

    G_OBJECT_CLASS(klass)->finalize = qio_channel_tls_finalize;
    ioc_klass->io_readv = qio_channel_tls_readv;
    ioc_klass->io_writev = qio_channel_tls_writev;
    ioc_klass->io_close = qio_channel_tls_close;
    ioc_klass->io_create_watch = qio_channel_tls_create_watch;
    ioc_klass->io_set_blocking = qio_channel_tls_set_blocking;
    ioc_klass->io_shutdown = qio_channel_tls_shutdown;
    ioc_klass->io_set_cork = qio_channel_tls_set_cork;
    ioc_klass->io_set_delay = qio_channel_tls_set_delay;
    ioc_klass->io_has_pending = qio_channel_tls_has_pending;
    ioc_klass->io_input_pending = qio_channel_tls_input_pending;
}

static void qio_channel_tls_init(QIOChannelTLS *tioc)
{
    tioc->fd = -1;
    tioc->blocking = true;
    g_mutex_init(&tioc->read_lock);
    tioc->timeout_ms = QIO_CHANNEL_TLS_HANDSHAKE_TIMEOUT_MS;
}
