/*
 * Unit tests for the negotiation driver (io/negotiation.c): a toy
 * protocol run blocking and from watches over a socketpair, with a peer
 * thread on the other end; the overall deadline against a silent peer, a
 * peer that trickles bytes and a peer that stalls the TLS handshake; the
 * step limit; the peer closing part way through a read; a write bigger
 * than the socket buffer from watches (the main loop keeps running); a
 * TLS upgrade both ways; and bytes the peer sends in the clear right
 * after asking for TLS, which must never reach the protocol.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "crypto-tls-helpers.h"
#include "io/channel-socket.h"
#include "io/channel-tls.h"
#include "io/negotiation.h"

#define PEER_WAIT_MS 10000
#define BULK_LEN     (4 * 1024 * 1024)

static QCryptoTestCredsDir *creds_dir;
static QCryptoTLSCreds *server_creds;
static QCryptoTLSCreds *client_creds;

static int group_setup(void **state)
{
    g_autoptr(GError) err = NULL;

    qcrypto_tls_creds_register_types();
    creds_dir = qcrypto_test_creds_dir_new_standard(&err);
    if (!creds_dir) {
        fail_msg("creds dir: %s", err->message);
    }
    server_creds = qcrypto_test_creds_new(
        "tls-creds-x509", &err, "endpoint", "server", "dir",
        qcrypto_test_creds_dir_path(creds_dir), NULL);
    client_creds = qcrypto_test_creds_new(
        "tls-creds-x509", &err, "endpoint", "client", "dir",
        qcrypto_test_creds_dir_path(creds_dir), NULL);
    if (!server_creds || !client_creds) {
        fail_msg("creds: %s", err->message);
    }
    return 0;
}

static int group_teardown(void **state)
{
    g_clear_object(&server_creds);
    g_clear_object(&client_creds);
    qcrypto_test_creds_dir_free(creds_dir);
    return 0;
}

/* ---- The peer: plain blocking I/O on the other end, bounded in time -- */

static bool peer_wait(int fd, short events)
{
    struct pollfd pfd = { .fd = fd, .events = events };

    return poll(&pfd, 1, PEER_WAIT_MS) == 1;
}

static bool peer_read(int fd, void *buf, size_t len)
{
    size_t got = 0;

    while (got < len) {
        ssize_t n;

        if (!peer_wait(fd, POLLIN)) {
            return false;
        }
        n = read(fd, (char *)buf + got, len - got);
        if (n <= 0) {
            return false;
        }
        got += n;
    }
    return true;
}

static bool peer_write(int fd, const void *buf, size_t len)
{
    size_t done = 0;

    while (done < len) {
        ssize_t n;

        if (!peer_wait(fd, POLLOUT)) {
            return false;
        }
        n = write(fd, (const char *)buf + done, len - done);
        if (n <= 0) {
            return false;
        }
        done += n;
    }
    return true;
}

typedef enum {
    PEER_GOOD,        /* the whole toy exchange, then "TAIL" */
    PEER_SILENT,      /* sends nothing, waits for the close */
    PEER_HALF_LEN,    /* one byte of the two-byte length, then close */
    PEER_HALF_NAME,   /* length 10 and three bytes of name, then close */
    PEER_BAD_LEN,     /* a length over the toy's bound */
    PEER_TRICKLE,     /* one byte every 20 ms */
    PEER_FLOOD,       /* many bytes at once */
    PEER_SLOW_READER, /* reads the bulk write only after 300 ms */
    PEER_TLS,         /* STARTTLS, then TLS as the client */
    PEER_TLS_INJECT,  /* STARTTLS and clear-text bytes in one write */
    PEER_TLS_STALL,   /* STARTTLS, then never starts the handshake */
} PeerKind;

typedef struct {
    PeerKind kind;
    int fd;
    bool ok;        /* the peer saw what it expected */
    char reply[64]; /* what the peer read at the end */
    GThread *thread;
} Peer;

static const char toy_name[] = "disk0";

static void peer_tls(Peer *p, bool inject)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(QIOChannelSocket) sioc = NULL;
    g_autoptr(QIOChannelTLS) tioc = NULL;
    const char *req = inject ? "STARTTLShello" : "STARTTLS";
    char ok[2];

    if (!peer_write(p->fd, req, strlen(req)) || !peer_read(p->fd, ok, 2) ||
        memcmp(ok, "OK", 2) != 0) {
        return;
    }
    if (p->kind == PEER_TLS_STALL) {
        peer_wait(p->fd, POLLIN); /* until the driver gives up and closes */
        p->ok = true;
        return;
    }
    sioc = qio_channel_socket_new_fd(dup(p->fd), &err);
    if (!sioc) {
        return;
    }
    tioc = qio_channel_tls_new_client(QIO_CHANNEL(sioc), client_creds,
                                      "localhost", &err);
    if (!tioc || qio_channel_tls_handshake_sync(tioc, &err) < 0) {
        /* The expected end of the injection case. */
        p->ok = inject;
        return;
    }
    if (qio_channel_write_all(QIO_CHANNEL(tioc), "hello", 5, &err) < 0 ||
        qio_channel_read_all(QIO_CHANNEL(tioc), p->reply, 5, &err) < 0) {
        return;
    }
    p->ok = !inject;
}

static gpointer peer_main(gpointer opaque)
{
    Peer *p = opaque;
    uint8_t buf[256];
    char ack[4 + sizeof(toy_name)];

    switch (p->kind) {
    case PEER_GOOD:
        buf[0] = 0;
        buf[1] = strlen(toy_name);
        memcpy(buf + 2, toy_name, strlen(toy_name));
        p->ok = peer_read(p->fd, ack, 4) && memcmp(ack, "HELO", 4) == 0 &&
                peer_write(p->fd, buf, 2 + strlen(toy_name)) &&
                peer_read(p->fd, ack, 4 + strlen(toy_name)) &&
                memcmp(ack, "ACK:disk0", 9) == 0 &&
                peer_write(p->fd, "KTAIL", 5);
        break;
    case PEER_SILENT:
        peer_wait(p->fd, POLLIN);
        p->ok = true;
        break;
    case PEER_HALF_LEN:
        p->ok = peer_read(p->fd, ack, 4) && peer_write(p->fd, "\0", 1) &&
                shutdown(p->fd, SHUT_WR) == 0;
        break;
    case PEER_HALF_NAME:
        p->ok = peer_read(p->fd, ack, 4) && peer_write(p->fd, "\0\012abc", 5) &&
                shutdown(p->fd, SHUT_WR) == 0;
        break;
    case PEER_BAD_LEN:
        p->ok = peer_read(p->fd, ack, 4) && peer_write(p->fd, "\377\377", 2);
        break;
    case PEER_TRICKLE:
        p->ok = true;
        for (int i = 0; i < 100 && p->ok; i++) {
            g_usleep(20 * 1000);
            p->ok = send(p->fd, "x", 1, MSG_NOSIGNAL) == 1;
        }
        p->ok = true; /* the driver closing ends it */
        break;
    case PEER_FLOOD:
        memset(buf, 'x', sizeof(buf));
        p->ok = peer_write(p->fd, buf, sizeof(buf));
        break;
    case PEER_SLOW_READER: {
        g_autofree uint8_t *bulk = g_malloc(BULK_LEN);
        bool same = true;

        g_usleep(300 * 1000);
        if (!peer_read(p->fd, bulk, BULK_LEN)) {
            break;
        }
        for (size_t i = 0; i < BULK_LEN; i++) {
            same = same && bulk[i] == (uint8_t)(i * 7);
        }
        p->ok = same && peer_write(p->fd, "A", 1);
        break;
    }
    case PEER_TLS:
    case PEER_TLS_STALL:
        peer_tls(p, false);
        break;
    case PEER_TLS_INJECT:
        peer_tls(p, true);
        break;
    }
    return NULL;
}

/* A socketpair: the driver's channel, and a peer thread on the other end. */
static QIOChannel *start_peer(Peer *p, PeerKind kind)
{
    g_autoptr(GError) err = NULL;
    QIOChannelSocket *sioc;
    int fds[2];

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds),
                     0);
    *p = (Peer){ .kind = kind, .fd = fds[1] };
    sioc = qio_channel_socket_new_fd(fds[0], &err);
    assert_non_null(sioc);
    p->thread = g_thread_new("peer", peer_main, p);
    return QIO_CHANNEL(sioc);
}

static void end_peer(Peer *p, QIOChannel *ioc)
{
    qio_channel_close(ioc, NULL);
    g_thread_join(p->thread);
    close(p->fd);
}

/* ---- The toy protocol ---------------------------------------------------- */

enum {
    ST_HELLO,
    ST_LEN,
    ST_NAME,
    ST_STATUS,
    ST_LOOP,
    ST_BULK,
    ST_BULK_ACK,
    ST_T_REQ,
    ST_T_CHECK,
    ST_T_SECURE,
    ST_T_PAYLOAD,
};

typedef struct {
    char *name;
    char payload[6];
    bool secure;
    unsigned loops;
} Toy;

static QIONegotiationAction st_hello(QIONegotiation *neg, gpointer opaque,
                                     GError **errp)
{
    qio_negotiation_send(neg, "HELO", 4, "hello");
    return qio_negotiation_read(neg, 2, "name length", ST_LEN);
}

static QIONegotiationAction st_len(QIONegotiation *neg, gpointer opaque,
                                   GError **errp)
{
    size_t len;
    const uint8_t *p = qio_negotiation_get_data(neg, &len);
    unsigned n;

    assert_int_equal(len, 2);
    n = p[0] << 8 | p[1];
    if (n == 0 || n > 64) {
        qio_error_setg(errp, QIO_ERROR_PROTOCOL, "toy: name of %u bytes", n);
        return QIO_NEGOTIATION_FAILED;
    }
    return qio_negotiation_read(neg, n, "name", ST_NAME);
}

static QIONegotiationAction st_name(QIONegotiation *neg, gpointer opaque,
                                    GError **errp)
{
    Toy *toy = opaque;
    size_t len;
    const uint8_t *p = qio_negotiation_get_data(neg, &len);

    toy->name = g_strndup((const char *)p, len);
    qio_negotiation_send(neg, "ACK:", 4, "ack");
    qio_negotiation_send(neg, p, len, "ack");
    return qio_negotiation_read(neg, 1, "status", ST_STATUS);
}

static QIONegotiationAction st_status(QIONegotiation *neg, gpointer opaque,
                                      GError **errp)
{
    if (qio_negotiation_get_data(neg, NULL)[0] != 'K') {
        qio_error_setg(errp, QIO_ERROR_PERMISSION_DENIED, "toy: refused");
        return QIO_NEGOTIATION_FAILED;
    }
    return QIO_NEGOTIATION_DONE;
}

/* Reads one byte at a time for ever: only the limits end it. */
static QIONegotiationAction st_loop(QIONegotiation *neg, gpointer opaque,
                                    GError **errp)
{
    Toy *toy = opaque;

    toy->loops++;
    return qio_negotiation_read(neg, 1, "byte", ST_LOOP);
}

static QIONegotiationAction st_bulk(QIONegotiation *neg, gpointer opaque,
                                    GError **errp)
{
    g_autofree uint8_t *bulk = g_malloc(BULK_LEN);

    for (size_t i = 0; i < BULK_LEN; i++) {
        bulk[i] = i * 7;
    }
    qio_negotiation_send(neg, bulk, BULK_LEN, "bulk");
    return qio_negotiation_read(neg, 1, "bulk ack", ST_BULK_ACK);
}

static QIONegotiationAction st_bulk_ack(QIONegotiation *neg, gpointer opaque,
                                        GError **errp)
{
    assert_int_equal(qio_negotiation_get_data(neg, NULL)[0], 'A');
    return QIO_NEGOTIATION_DONE;
}

static QIONegotiationAction st_t_req(QIONegotiation *neg, gpointer opaque,
                                     GError **errp)
{
    return qio_negotiation_read(neg, 8, "request", ST_T_CHECK);
}

static QIONegotiationAction st_t_check(QIONegotiation *neg, gpointer opaque,
                                       GError **errp)
{
    if (memcmp(qio_negotiation_get_data(neg, NULL), "STARTTLS", 8) != 0) {
        qio_error_setg(errp, QIO_ERROR_PROTOCOL, "toy: not STARTTLS");
        return QIO_NEGOTIATION_FAILED;
    }
    qio_negotiation_send(neg, "OK", 2, "answer");
    return qio_negotiation_tls_server(neg, server_creds, NULL, ST_T_SECURE);
}

static QIONegotiationAction st_t_secure(QIONegotiation *neg, gpointer opaque,
                                        GError **errp)
{
    Toy *toy = opaque;

    /* Nothing read before the upgrade is visible here. */
    assert_int_equal(qio_negotiation_get_data(neg, NULL)[0], '\0');
    assert_true(QIO_IS_CHANNEL_TLS(qio_negotiation_get_channel(neg)));
    toy->secure = true;
    return qio_negotiation_read(neg, 5, "payload", ST_T_PAYLOAD);
}

static QIONegotiationAction st_t_payload(QIONegotiation *neg, gpointer opaque,
                                         GError **errp)
{
    Toy *toy = opaque;

    memcpy(toy->payload, qio_negotiation_get_data(neg, NULL), 5);
    qio_negotiation_send(neg, "READY", 5, "ready");
    return QIO_NEGOTIATION_DONE;
}

static const QIONegotiationState toy_states[] = {
    [ST_HELLO] = { "HELLO", st_hello },
    [ST_LEN] = { "LEN", st_len },
    [ST_NAME] = { "NAME", st_name },
    [ST_STATUS] = { "STATUS", st_status },
    [ST_LOOP] = { "LOOP", st_loop },
    [ST_BULK] = { "BULK", st_bulk },
    [ST_BULK_ACK] = { "BULK_ACK", st_bulk_ack },
    [ST_T_REQ] = { "T_REQ", st_t_req },
    [ST_T_CHECK] = { "T_CHECK", st_t_check },
    [ST_T_SECURE] = { "T_SECURE", st_t_secure },
    [ST_T_PAYLOAD] = { "T_PAYLOAD", st_t_payload },
};

static const QIONegotiationProtocol toy_proto = {
    "toy",
    toy_states,
    G_N_ELEMENTS(toy_states),
};

/* ---- Running it ---------------------------------------------------------- */

typedef struct {
    bool done;
    GError *err;
    QIOChannel *result;
} AsyncResult;

static void async_done(QIOTask *task, gpointer opaque)
{
    AsyncResult *r = opaque;

    r->done = true;
    if (!qio_task_propagate_error(task, &r->err)) {
        r->result = qio_task_get_result_pointer(task);
    }
}

static gboolean tick(gpointer opaque)
{
    (*(unsigned *)opaque)++;
    return G_SOURCE_CONTINUE;
}

/*
 * Run @neg blocking (@async false) or from watches on a private context.
 * In the latter case *@ticks counts a 5 ms timer on the same context,
 * which only runs while the driver does not block the loop.
 */
static int run(QIONegotiation *neg, bool async, unsigned *ticks, GError **errp)
{
    g_autoptr(GMainContext) ctx = NULL;
    AsyncResult r = { false };
    GSource *timer;
    gint64 give_up = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;

    if (!async) {
        return qio_negotiation_run_sync(neg, errp);
    }
    ctx = g_main_context_new();
    timer = g_timeout_source_new(5);
    g_source_set_callback(timer, tick, ticks, NULL);
    g_source_attach(timer, ctx);
    qio_negotiation_run(neg, async_done, &r, NULL, ctx);
    assert_false(r.done); /* never from inside the call */
    while (!r.done && g_get_monotonic_time() < give_up) {
        g_main_context_iteration(ctx, TRUE);
    }
    g_source_destroy(timer);
    g_source_unref(timer);
    assert_true(r.done);
    if (r.err) {
        g_propagate_error(errp, r.err);
        return -1;
    }
    assert_ptr_equal(r.result, qio_negotiation_get_channel(neg));
    return 0;
}

static void check_toy(bool async)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(QIOChannel) ioc = NULL;
    g_autoptr(QIONegotiation) neg = NULL;
    Toy toy = { NULL };
    Peer peer;
    unsigned ticks = 0;
    char tail[4];

    ioc = start_peer(&peer, PEER_GOOD);
    neg = qio_negotiation_new(&toy_proto, ST_HELLO, ioc, "toy peer", &toy);
    qio_negotiation_set_timeout(neg, 10000);
    if (run(neg, async, &ticks, &err) < 0) {
        fail_msg("toy: %s", err->message);
    }
    assert_string_equal(toy.name, toy_name);
    assert_int_equal(qio_negotiation_get_action(neg), QIO_NEGOTIATION_DONE);
    assert_int_equal(qio_negotiation_get_state(neg), ST_STATUS);
    assert_int_equal(qio_negotiation_get_steps(neg), 4);
    /* Only what the steps asked for was read: the rest is still there. */
    assert_int_equal(qio_channel_read_all(ioc, tail, 4, &err), 0);
    assert_memory_equal(tail, "TAIL", 4);
    end_peer(&peer, ioc);
    assert_true(peer.ok);
    g_free(toy.name);
}

static void test_toy_blocking(void **state)
{
    check_toy(false);
}

static void test_toy_watches(void **state)
{
    check_toy(true);
}

/* Run the toy from @initial against @kind; the error, or NULL. */
static GError *toy_fails(PeerKind kind, unsigned initial, bool async,
                         guint timeout_ms, unsigned max_steps, Toy *toy,
                         QIONegotiationAction *action, gint64 *elapsed_ms)
{
    g_autoptr(QIOChannel) ioc = NULL;
    g_autoptr(QIONegotiation) neg = NULL;
    GError *err = NULL;
    Peer peer;
    unsigned ticks = 0;
    gint64 start;

    ioc = start_peer(&peer, kind);
    neg = qio_negotiation_new(&toy_proto, initial, ioc, "toy peer", toy);
    qio_negotiation_set_timeout(neg, timeout_ms);
    if (max_steps) {
        qio_negotiation_set_max_steps(neg, max_steps);
    }
    start = g_get_monotonic_time();
    assert_int_equal(run(neg, async, &ticks, &err), -1);
    if (elapsed_ms) {
        *elapsed_ms = (g_get_monotonic_time() - start) / 1000;
    }
    *action = qio_negotiation_get_action(neg);
    end_peer(&peer, ioc);
    assert_true(peer.ok);
    return err;
}

static void check_deadline(PeerKind kind, unsigned initial, bool async,
                           QIONegotiationAction expect_action)
{
    g_autoptr(GError) err = NULL;
    Toy toy = { NULL };
    QIONegotiationAction action;
    gint64 ms;

    err = toy_fails(kind, initial, async, 200, 0, &toy, &action, &ms);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_TIMED_OUT));
    assert_non_null(strstr(err->message, "toy peer"));
    assert_int_equal(action, expect_action);
    assert_true(ms >= 190);
    assert_true(ms < 5000);
    g_free(toy.name);
}

static void test_deadline_silent(void **state)
{
    check_deadline(PEER_SILENT, ST_HELLO, false, QIO_NEGOTIATION_READ);
    check_deadline(PEER_SILENT, ST_HELLO, true, QIO_NEGOTIATION_READ);
}

/* One deadline for the whole run, not one per read. */
static void test_deadline_trickle(void **state)
{
    check_deadline(PEER_TRICKLE, ST_LOOP, false, QIO_NEGOTIATION_READ);
    check_deadline(PEER_TRICKLE, ST_LOOP, true, QIO_NEGOTIATION_READ);
}

/* A peer that asks for TLS and never starts it: the driver's deadline. */
static void test_deadline_tls(void **state)
{
    check_deadline(PEER_TLS_STALL, ST_T_REQ, false, QIO_NEGOTIATION_TLS);
    check_deadline(PEER_TLS_STALL, ST_T_REQ, true, QIO_NEGOTIATION_TLS);
}

static void test_step_limit(void **state)
{
    for (int async = 0; async < 2; async++) {
        g_autoptr(GError) err = NULL;
        Toy toy = { NULL };
        QIONegotiationAction action;

        err = toy_fails(PEER_FLOOD, ST_LOOP, async, 10000, 10, &toy, &action,
                        NULL);
        assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_PROTOCOL));
        assert_int_equal(toy.loops, 10);
        assert_int_equal(action, QIO_NEGOTIATION_FAILED);
    }
}

static void test_peer_closes_mid_read(void **state)
{
    static const PeerKind kinds[] = { PEER_HALF_LEN, PEER_HALF_NAME };

    for (int async = 0; async < 2; async++) {
        for (size_t i = 0; i < G_N_ELEMENTS(kinds); i++) {
            g_autoptr(GError) err = NULL;
            Toy toy = { NULL };
            QIONegotiationAction action;

            err = toy_fails(kinds[i], ST_HELLO, async, 10000, 0, &toy, &action,
                            NULL);
            assert_true(
                g_error_matches(err, QIO_ERROR, QIO_ERROR_UNEXPECTED_EOF));
            assert_non_null(strstr(err->message,
                                   i ? "reading name" : "reading name length"));
            assert_int_equal(action, QIO_NEGOTIATION_READ);
            assert_null(toy.name);
        }
    }
}

/* A step's own error comes back as the step set it. */
static void test_step_error(void **state)
{
    g_autoptr(GError) err = NULL;
    Toy toy = { NULL };
    QIONegotiationAction action;

    err =
        toy_fails(PEER_BAD_LEN, ST_HELLO, false, 10000, 0, &toy, &action, NULL);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_PROTOCOL));
    assert_string_equal(err->message, "toy: name of 65535 bytes");
    assert_int_equal(action, QIO_NEGOTIATION_FAILED);
}

/* A read over the driver's bound fails before anything is allocated. */
static void test_max_read(void **state)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(QIOChannel) ioc = NULL;
    g_autoptr(QIONegotiation) neg = NULL;
    Toy toy = { NULL };
    Peer peer;

    ioc = start_peer(&peer, PEER_HALF_NAME);
    neg = qio_negotiation_new(&toy_proto, ST_HELLO, ioc, "toy peer", &toy);
    qio_negotiation_set_max_read(neg, 4);
    assert_int_equal(qio_negotiation_run_sync(neg, &err), -1);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_TOO_LARGE));
    end_peer(&peer, ioc);
}

/*
 * 4 MiB queued through a socket that takes far less at once, from
 * watches: the loop keeps running while the peer is not reading.
 */
static void test_partial_write_watches(void **state)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(QIOChannel) ioc = NULL;
    g_autoptr(QIONegotiation) neg = NULL;
    Toy toy = { NULL };
    Peer peer;
    unsigned ticks = 0;
    int small = 4096;

    ioc = start_peer(&peer, PEER_SLOW_READER);
    assert_int_equal(
        setsockopt(qio_channel_socket_get_fd(QIO_CHANNEL_SOCKET(ioc)),
                   SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)),
        0);
    assert_int_equal(
        setsockopt(peer.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
    neg = qio_negotiation_new(&toy_proto, ST_BULK, ioc, "toy peer", &toy);
    qio_negotiation_set_timeout(neg, 15000);
    if (run(neg, true, &ticks, &err) < 0) {
        fail_msg("bulk: %s", err->message);
    }
    end_peer(&peer, ioc);
    assert_true(peer.ok);
    /* 300 ms of a stalled peer: a blocking write would have stopped these. */
    assert_true(ticks >= 20);
}

static void check_tls(bool async)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(QIOChannel) ioc = NULL;
    g_autoptr(QIONegotiation) neg = NULL;
    Toy toy = { NULL };
    Peer peer;
    unsigned ticks = 0;

    ioc = start_peer(&peer, PEER_TLS);
    neg = qio_negotiation_new(&toy_proto, ST_T_REQ, ioc, "toy peer", &toy);
    qio_negotiation_set_timeout(neg, 10000);
    if (run(neg, async, &ticks, &err) < 0) {
        fail_msg("tls: %s", err->message);
    }
    assert_true(toy.secure);
    assert_string_equal(toy.payload, "hello");
    assert_true(QIO_IS_CHANNEL_TLS(qio_negotiation_get_channel(neg)));
    g_thread_join(peer.thread);
    assert_true(peer.ok);
    assert_string_equal(peer.reply, "READY");
    qio_channel_close(qio_negotiation_get_channel(neg), NULL);
    close(peer.fd);
}

static void test_tls_blocking(void **state)
{
    check_tls(false);
}

static void test_tls_watches(void **state)
{
    check_tls(true);
}

/*
 * The peer sends STARTTLS and, in the same write, bytes in the clear that
 * would be the first application data after the upgrade.  They must go
 * to the TLS layer (and fail the handshake), never to the protocol.
 */
static void test_tls_cleartext_injection(void **state)
{
    for (int async = 0; async < 2; async++) {
        g_autoptr(GError) err = NULL;
        Toy toy = { NULL };
        QIONegotiationAction action;

        err = toy_fails(PEER_TLS_INJECT, ST_T_REQ, async, 10000, 0, &toy,
                        &action, NULL);
        assert_int_equal(action, QIO_NEGOTIATION_TLS);
        assert_int_equal(err->domain, QCRYPTO_ERROR);
        assert_false(toy.secure);
        assert_string_equal(toy.payload, "");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_toy_blocking),
        cmocka_unit_test(test_toy_watches),
        cmocka_unit_test(test_deadline_silent),
        cmocka_unit_test(test_deadline_trickle),
        cmocka_unit_test(test_deadline_tls),
        cmocka_unit_test(test_step_limit),
        cmocka_unit_test(test_peer_closes_mid_read),
        cmocka_unit_test(test_step_error),
        cmocka_unit_test(test_max_read),
        cmocka_unit_test(test_partial_write_watches),
        cmocka_unit_test(test_tls_blocking),
        cmocka_unit_test(test_tls_watches),
        cmocka_unit_test(test_tls_cleartext_injection),
    };

    /* The peer may write to a socket the driver just closed. */
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
