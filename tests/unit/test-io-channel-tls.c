/*
 * Unit tests for QIOChannelTLS: 64 MiB through TLS on a socketpair in
 * blocking and non-blocking mode, over a socket (gnutls on the
 * descriptor) and over a non-socket master (push/pull callbacks); the
 * async handshake with both ends on one GMainLoop; watches that fire for
 * decrypted data gnutls holds while the socket is empty; orderly shutdown
 * (EOF) against an abrupt close (QCRYPTO_ERROR_TRUNCATED); the handshake
 * time limit against a silent peer, sync and async; a peer that sends
 * garbage; a server that refuses the client after the client's TLS 1.3
 * handshake ended (the write reports the server's alert, not EPIPE); odd
 * read and write sizes; names; and kernel TLS status.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "crypto-tls-helpers.h"
#include "io-channel-helpers.h"
#include "authz/base.h"
#include "io/channel-file.h"
#include "io/channel-socket.h"
#include "io/channel-tls.h"
#include "qom/object.h"

#define PAYLOAD         (64 * 1024 * 1024)
#define LOOP_TIMEOUT_MS 10000

static QCryptoTestCredsDir *creds_dir;
static QCryptoTLSCreds *server_creds;
static QCryptoTLSCreds *client_creds;

/* ---- Fixtures ------------------------------------------------------- */

static int group_setup(void **state)
{
    g_autoptr(GError) err = NULL;

    qcrypto_tls_creds_register_types();
    qauthz_register_types();
    creds_dir = qcrypto_test_creds_dir_new_standard(&err);
    if (!creds_dir) {
        fail_msg("creds dir: %s", err->message);
    }
    server_creds = qcrypto_test_creds_new(
        "tls-creds-x509", &err, "endpoint", "server", "dir",
        qcrypto_test_creds_dir_path(creds_dir), NULL);
    if (!server_creds) {
        fail_msg("server creds: %s", err->message);
    }
    client_creds = qcrypto_test_creds_new(
        "tls-creds-x509", &err, "endpoint", "client", "dir",
        qcrypto_test_creds_dir_path(creds_dir), NULL);
    if (!client_creds) {
        fail_msg("client creds: %s", err->message);
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

typedef enum {
    MASTER_SOCKET, /* QIOChannelSocket: gnutls uses the descriptor */
    MASTER_FILE,   /* QIOChannelFile: push/pull callbacks */
} MasterKind;

static void raw_pair(int fds[2])
{
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds),
                     0);
}

static QIOChannel *wrap_fd(int fd, MasterKind kind)
{
    g_autoptr(GError) err = NULL;

    if (kind == MASTER_SOCKET) {
        QIOChannelSocket *sioc = qio_channel_socket_new_fd(fd, &err);

        assert_non_null(sioc);
        return QIO_CHANNEL(sioc);
    }
    return QIO_CHANNEL(qio_channel_file_new_fd(fd));
}

typedef struct {
    QIOChannelTLS *tioc;
    GError *err;
} SyncSide;

static gpointer handshake_thread(gpointer opaque)
{
    SyncSide *s = opaque;

    qio_channel_tls_handshake_sync(s->tioc, &s->err);
    return NULL;
}

/* TLS channels over a fresh socketpair, handshaken on two threads. */
static void tls_pair(MasterKind kind, QIOChannelTLS **client,
                     QIOChannelTLS **server)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(QIOChannel) mc = NULL;
    g_autoptr(QIOChannel) ms = NULL;
    SyncSide c = { NULL }, s = { NULL };
    GThread *thread;
    int fds[2];

    raw_pair(fds);
    mc = wrap_fd(fds[0], kind);
    ms = wrap_fd(fds[1], kind);
    c.tioc = qio_channel_tls_new_client(mc, client_creds, "localhost", &err);
    assert_non_null(c.tioc);
    s.tioc = qio_channel_tls_new_server(ms, server_creds, NULL, &err);
    assert_non_null(s.tioc);

    thread = g_thread_new("tls-server-handshake", handshake_thread, &s);
    handshake_thread(&c);
    g_thread_join(thread);
    if (c.err) {
        fail_msg("client handshake: %s", c.err->message);
    }
    if (s.err) {
        fail_msg("server handshake: %s", s.err->message);
    }
    *client = c.tioc;
    *server = s.tioc;
}

/* ---- Bulk transfer ------------------------------------------------------ */

static void transfer(MasterKind kind, bool blocking, bool close_src)
{
    QIOChannelTLS *c, *s;

    tls_pair(kind, &c, &s);
    qio_test_transfer(QIO_CHANNEL(c), QIO_CHANNEL(s), PAYLOAD, blocking,
                      close_src);
    g_object_unref(c);
    g_object_unref(s);
}

static void test_transfer_blocking(void **state)
{
    /* The writer closes: close sends close_notify, the reader sees EOF. */
    transfer(MASTER_SOCKET, true, true);
}

static void test_transfer_nonblocking(void **state)
{
    transfer(MASTER_SOCKET, false, true);
}

static void test_transfer_callbacks_blocking(void **state)
{
    transfer(MASTER_FILE, true, true);
}

static void test_transfer_callbacks_nonblocking(void **state)
{
    transfer(MASTER_FILE, false, false);
}

/* ---- Async handshake ---------------------------------------------------- */

typedef struct {
    GMainLoop *loop;
    int pending;
    GError *err[2];
    bool done[2];
    bool called_early;
    bool returned;
} AsyncState;

static void async_done(QIOTask *task, gpointer opaque, int idx)
{
    AsyncState *st = opaque;

    if (!st->returned) {
        st->called_early = true;
    }
    qio_task_propagate_error(task, &st->err[idx]);
    st->done[idx] = true;
    if (--st->pending == 0) {
        g_main_loop_quit(st->loop);
    }
}

static void async_client_done(QIOTask *task, gpointer opaque)
{
    async_done(task, opaque, 0);
}

static void async_server_done(QIOTask *task, gpointer opaque)
{
    async_done(task, opaque, 1);
}

static gboolean loop_timeout(gpointer opaque)
{
    fail_msg("main loop did not finish within %d ms", LOOP_TIMEOUT_MS);
    return G_SOURCE_REMOVE;
}

static void test_async_handshake(void **state)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(QIOChannel) mc = NULL, ms = NULL;
    g_autoptr(QIOChannelTLS) c = NULL, s = NULL;
    g_autoptr(GMainContext) ctx = g_main_context_new();
    AsyncState st = { .loop = g_main_loop_new(ctx, FALSE), .pending = 2 };
    GSource *timer = g_timeout_source_new(LOOP_TIMEOUT_MS);
    char buf[6];
    int fds[2];

    raw_pair(fds);
    mc = wrap_fd(fds[0], MASTER_SOCKET);
    ms = wrap_fd(fds[1], MASTER_SOCKET);
    c = qio_channel_tls_new_client(mc, client_creds, "localhost", &err);
    s = qio_channel_tls_new_server(ms, server_creds, NULL, &err);
    assert_non_null(c);
    assert_non_null(s);
    assert_int_equal(qio_channel_set_blocking(QIO_CHANNEL(c), false, NULL), 0);
    assert_int_equal(qio_channel_set_blocking(QIO_CHANNEL(s), false, NULL), 0);

    g_source_set_callback(timer, loop_timeout, NULL, NULL);
    g_source_attach(timer, ctx);
    qio_channel_tls_handshake(c, async_client_done, &st, NULL, ctx);
    qio_channel_tls_handshake(s, async_server_done, &st, NULL, ctx);
    st.returned = true;
    g_main_loop_run(st.loop);
    g_source_destroy(timer);
    g_source_unref(timer);

    assert_false(st.called_early);
    if (st.err[0] || st.err[1]) {
        fail_msg("async handshake: %s",
                 (st.err[0] ? st.err[0] : st.err[1])->message);
    }
    /* The subject in encoded order (O, then CN), as authz rules name it. */
    assert_string_equal(
        qcrypto_tls_session_get_peer_name(qio_channel_tls_get_session(s)),
        "O=qio test,CN=qio-test-client");

    /* The channels stay non-blocking and work. */
    assert_int_equal(qio_channel_write_all(QIO_CHANNEL(c), "hello", 5, &err),
                     0);
    assert_int_equal(qio_channel_read_all(QIO_CHANNEL(s), buf, 5, &err), 0);
    assert_memory_equal(buf, "hello", 5);
    g_main_loop_unref(st.loop);
}

/* ---- Watches and pending data ------------------------------------------ */

static gboolean watch_fired(QIOChannel *ioc, GIOCondition cond, gpointer opaque)
{
    *(GIOCondition *)opaque = cond;
    return G_SOURCE_REMOVE;
}

/* What a G_IO_IN watch on @ioc reports within 2 s (0: nothing). */
static GIOCondition wait_for_input(QIOChannel *ioc, GMainContext *ctx)
{
    GSource *src = qio_channel_create_watch(ioc, G_IO_IN);
    gint64 deadline = g_get_monotonic_time() + 2 * G_USEC_PER_SEC;
    GIOCondition fired = 0;

    g_source_set_callback(src, (GSourceFunc)(void (*)(void))watch_fired, &fired,
                          NULL);
    g_source_attach(src, ctx);
    while (!fired && g_get_monotonic_time() < deadline) {
        g_main_context_iteration(ctx, FALSE);
        g_usleep(1000);
    }
    g_source_destroy(src);
    g_source_unref(src);
    return fired;
}

static void pending_watch(MasterKind kind)
{
    QIOChannelTLS *c, *s;
    g_autoptr(GError) err = NULL;
    g_autoptr(GMainContext) ctx = g_main_context_new();
    char rec1[100], rec2[100], in[200];
    GIOCondition fired = 0;
    GSource *src;
    gint64 deadline;
    int fd;

    memset(rec1, 'a', sizeof(rec1));
    memset(rec2, 'b', sizeof(rec2));
    tls_pair(kind, &c, &s);

    /* Two records in the socket. */
    assert_int_equal(qio_channel_write_all(QIO_CHANNEL(c), rec1, 100, &err), 0);
    assert_int_equal(qio_channel_write_all(QIO_CHANNEL(c), rec2, 100, &err), 0);
    g_usleep(50 * 1000);

    /*
     * 101 bytes: all of the first record and one byte of the second, so
     * that gnutls has read both records off the socket and holds 99
     * decrypted bytes.
     */
    assert_int_equal(qio_channel_read_all(QIO_CHANNEL(s), in, 101, &err), 0);
    assert_true(qio_channel_has_pending(QIO_CHANNEL(s)));

    fd = kind == MASTER_SOCKET
             ? qio_channel_socket_get_fd(
                   QIO_CHANNEL_SOCKET(qio_channel_tls_get_master(s)))
             : qio_channel_file_get_fd(
                   QIO_CHANNEL_FILE(qio_channel_tls_get_master(s)));
    {
        struct pollfd pfd = { .fd = fd, .events = POLLIN };

        assert_int_equal(poll(&pfd, 1, 0), 0); /* the socket is empty */
    }

    assert_true(wait_for_input(QIO_CHANNEL(s), ctx) & G_IO_IN);

    assert_int_equal(qio_channel_read_all(QIO_CHANNEL(s), in + 101, 99, &err),
                     0);
    assert_memory_equal(in, rec1, 100);
    assert_memory_equal(in + 100, rec2, 100);
    assert_false(qio_channel_has_pending(QIO_CHANNEL(s)));

    /* With nothing pending and nothing sent, a watch must not fire. */
    fired = 0;
    src = qio_channel_create_watch(QIO_CHANNEL(s), G_IO_IN);
    g_source_set_callback(src, (GSourceFunc)(void (*)(void))watch_fired, &fired,
                          NULL);
    g_source_attach(src, ctx);
    for (int i = 0; i < 20; i++) {
        g_main_context_iteration(ctx, FALSE);
        g_usleep(1000);
    }
    assert_int_equal(fired, 0);
    /* ...until data arrives. */
    assert_int_equal(qio_channel_write_all(QIO_CHANNEL(c), "x", 1, &err), 0);
    deadline = g_get_monotonic_time() + 2 * G_USEC_PER_SEC;
    while (!fired && g_get_monotonic_time() < deadline) {
        g_main_context_iteration(ctx, FALSE);
        g_usleep(1000);
    }
    g_source_destroy(src);
    g_source_unref(src);
    assert_true(fired & G_IO_IN);

    g_object_unref(c);
    g_object_unref(s);
}

/*
 * Read exactly one whole record of two that arrived together: the second
 * may already be off the socket (read ahead by the session), so a watch
 * must still fire for it without any new data arriving.
 */
static void test_pending_watch_read_ahead(void **state)
{
    QIOChannelTLS *c, *s;
    g_autoptr(GError) err = NULL;
    g_autoptr(GMainContext) ctx = g_main_context_new();
    char rec1[100], rec2[100], in[200];

    memset(rec1, 'c', sizeof(rec1));
    memset(rec2, 'd', sizeof(rec2));
    tls_pair(MASTER_SOCKET, &c, &s);
    assert_int_equal(qio_channel_write_all(QIO_CHANNEL(c), rec1, 100, &err), 0);
    assert_int_equal(qio_channel_write_all(QIO_CHANNEL(c), rec2, 100, &err), 0);
    g_usleep(50 * 1000);
    assert_int_equal(qio_channel_read_all(QIO_CHANNEL(s), in, 100, &err), 0);

    assert_true(wait_for_input(QIO_CHANNEL(s), ctx) & G_IO_IN);
    assert_int_equal(qio_channel_read_all(QIO_CHANNEL(s), in + 100, 100, &err),
                     0);
    assert_memory_equal(in, rec1, 100);
    assert_memory_equal(in + 100, rec2, 100);
    g_object_unref(c);
    g_object_unref(s);
}

/*
 * qio_channel_input_pending(): nothing before anything is sent; the
 * ciphertext in the socket before the first read; plaintext and
 * ciphertext held on this side after a partial read; nothing once all is
 * read.
 */
static void input_pending(MasterKind kind)
{
    QIOChannelTLS *c, *s;
    g_autoptr(GError) err = NULL;
    char rec1[100], rec2[100], in[200];
    QIOChannel *master;

    memset(rec1, 'e', sizeof(rec1));
    memset(rec2, 'f', sizeof(rec2));
    tls_pair(kind, &c, &s);
    master = qio_channel_tls_get_master(s);
    assert_int_equal(qio_channel_input_pending(QIO_CHANNEL(s)), 0);

    assert_int_equal(qio_channel_write_all(QIO_CHANNEL(c), rec1, 100, &err), 0);
    assert_int_equal(qio_channel_write_all(QIO_CHANNEL(c), rec2, 100, &err), 0);
    g_usleep(50 * 1000);
    if (kind == MASTER_SOCKET) {
        /* Two records with their headers and tags: more than 200. */
        assert_true(qio_channel_input_pending(master) > 200);
        assert_true(qio_channel_input_pending(QIO_CHANNEL(s)) > 200);
    }

    assert_int_equal(qio_channel_read_all(QIO_CHANNEL(s), in, 101, &err), 0);
    if (kind == MASTER_SOCKET) {
        /* Read ahead: the socket is empty, the rest is on this side. */
        assert_int_equal(qio_channel_input_pending(master), 0);
    }
    assert_true(qio_channel_input_pending(QIO_CHANNEL(s)) >= 99);

    assert_int_equal(qio_channel_read_all(QIO_CHANNEL(s), in + 101, 99, &err),
                     0);
    assert_memory_equal(in, rec1, 100);
    assert_memory_equal(in + 100, rec2, 100);
    assert_int_equal(qio_channel_input_pending(QIO_CHANNEL(s)), 0);

    /* A closed channel has nothing to offer. */
    assert_int_equal(qio_channel_write_all(QIO_CHANNEL(c), rec1, 100, &err), 0);
    assert_int_equal(qio_channel_close(QIO_CHANNEL(s), NULL), 0);
    assert_int_equal(qio_channel_input_pending(QIO_CHANNEL(s)), 0);
    g_object_unref(c);
    g_object_unref(s);
}

static void test_input_pending_socket(void **state)
{
    input_pending(MASTER_SOCKET);
}

static void test_input_pending_callbacks(void **state)
{
    input_pending(MASTER_FILE);
}

static void test_pending_watch_socket(void **state)
{
    pending_watch(MASTER_SOCKET);
}

static void test_pending_watch_callbacks(void **state)
{
    pending_watch(MASTER_FILE);
}

/* ---- Ending ------------------------------------------------------------- */

static void test_shutdown_eof(void **state)
{
    QIOChannelTLS *c, *s;
    g_autoptr(GError) err = NULL;
    char buf[8];

    tls_pair(MASTER_SOCKET, &c, &s);
    assert_int_equal(qio_channel_write_all(QIO_CHANNEL(c), "bye", 3, &err), 0);
    assert_int_equal(
        qio_channel_shutdown(QIO_CHANNEL(c), QIO_CHANNEL_SHUTDOWN_WRITE, &err),
        0);
    assert_int_equal(qio_channel_read_all(QIO_CHANNEL(s), buf, 3, &err), 0);
    assert_memory_equal(buf, "bye", 3);
    /* close_notify: a clean end of stream. */
    assert_int_equal(qio_channel_read(QIO_CHANNEL(s), buf, sizeof(buf), &err),
                     0);
    assert_null(err);
    assert_int_equal(qio_channel_read(QIO_CHANNEL(s), buf, sizeof(buf), &err),
                     0);
    /* Half-close: the other direction still works. */
    assert_int_equal(qio_channel_write_all(QIO_CHANNEL(s), "ack", 3, &err), 0);
    assert_int_equal(qio_channel_read_all(QIO_CHANNEL(c), buf, 3, &err), 0);
    assert_memory_equal(buf, "ack", 3);
    g_object_unref(c);
    g_object_unref(s);
}

static void test_abrupt_close(void **state)
{
    QIOChannelTLS *c, *s;
    g_autoptr(GError) err = NULL;
    char buf[8];

    tls_pair(MASTER_SOCKET, &c, &s);
    assert_int_equal(qio_channel_write_all(QIO_CHANNEL(c), "cut", 3, &err), 0);
    /* The transport ends without a TLS close_notify. */
    assert_int_equal(qio_channel_close(qio_channel_tls_get_master(c), &err), 0);
    assert_int_equal(qio_channel_read_all(QIO_CHANNEL(s), buf, 3, &err), 0);
    assert_int_equal(qio_channel_read(QIO_CHANNEL(s), buf, sizeof(buf), &err),
                     -1);
    print_message("  %s\n", err->message);
    assert_true(g_error_matches(err, QCRYPTO_ERROR, QCRYPTO_ERROR_TRUNCATED));
    assert_non_null(strstr(err->message,
                           "closed the connection without ending the TLS "
                           "session"));
    g_clear_error(&err);
    /* read_all_eof must not mistake it for a clean EOF either. */
    assert_int_equal(qio_channel_read_all_eof(QIO_CHANNEL(s), buf, 1, &err),
                     -1);
    g_clear_error(&err);
    /* The client's TLS channel no longer has a socket to hand gnutls. */
    assert_int_equal(qio_channel_write(QIO_CHANNEL(c), "x", 1, &err), -1);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_CLOSED));
    g_object_unref(c);
    g_object_unref(s);
}

/* ---- Handshake time limit and bad peers -------------------------------- */

static void test_timeout_sync(void **state)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(QIOChannel) ms = NULL;
    g_autoptr(QIOChannelTLS) s = NULL;
    gint64 start, elapsed;
    char c;
    int fds[2];

    raw_pair(fds);
    ms = wrap_fd(fds[1], MASTER_SOCKET);
    s = qio_channel_tls_new_server(ms, server_creds, NULL, &err);
    assert_non_null(s);
    qio_channel_tls_set_handshake_timeout(s, 300);

    start = g_get_monotonic_time();
    assert_int_equal(qio_channel_tls_handshake_sync(s, &err), -1);
    elapsed = (g_get_monotonic_time() - start) / 1000;
    print_message("  after %" G_GINT64_FORMAT " ms: %s\n", elapsed,
                  err->message);
    assert_true(g_error_matches(err, QCRYPTO_ERROR, QCRYPTO_ERROR_TIMED_OUT));
    assert_true(elapsed >= 280 && elapsed < 3000);
    /* The silent peer was dropped: it reads EOF. */
    assert_int_equal(read(fds[0], &c, 1), 0);
    close(fds[0]);
}

static void timeout_async_done(QIOTask *task, gpointer opaque)
{
    AsyncState *st = opaque;

    qio_task_propagate_error(task, &st->err[0]);
    st->done[0] = true;
    g_main_loop_quit(st->loop);
}

static void test_timeout_async(void **state)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(QIOChannel) ms = NULL;
    g_autoptr(QIOChannelTLS) s = NULL;
    g_autoptr(GMainContext) ctx = g_main_context_new();
    AsyncState st = { .loop = g_main_loop_new(ctx, FALSE) };
    GSource *timer = g_timeout_source_new(LOOP_TIMEOUT_MS);
    gint64 start, elapsed;
    char c;
    int fds[2];

    raw_pair(fds);
    ms = wrap_fd(fds[1], MASTER_SOCKET);
    s = qio_channel_tls_new_server(ms, server_creds, NULL, &err);
    qio_channel_tls_set_handshake_timeout(s, 300);
    g_source_set_callback(timer, loop_timeout, NULL, NULL);
    g_source_attach(timer, ctx);

    start = g_get_monotonic_time();
    qio_channel_tls_handshake(s, timeout_async_done, &st, NULL, ctx);
    g_main_loop_run(st.loop);
    elapsed = (g_get_monotonic_time() - start) / 1000;
    g_source_destroy(timer);
    g_source_unref(timer);

    assert_true(st.done[0]);
    assert_non_null(st.err[0]);
    print_message("  after %" G_GINT64_FORMAT " ms: %s\n", elapsed,
                  st.err[0]->message);
    assert_true(
        g_error_matches(st.err[0], QCRYPTO_ERROR, QCRYPTO_ERROR_TIMED_OUT));
    assert_true(elapsed >= 280 && elapsed < 3000);
    assert_int_equal(read(fds[0], &c, 1), 0);
    close(fds[0]);
    g_clear_error(&st.err[0]);
    g_main_loop_unref(st.loop);
}

static void test_garbage_client(void **state)
{
    static const char junk[] = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
    g_autoptr(GError) err = NULL;
    g_autoptr(QIOChannel) ms = NULL;
    g_autoptr(QIOChannelTLS) s = NULL;
    gint64 start;
    int fds[2];

    raw_pair(fds);
    assert_int_equal(write(fds[0], junk, sizeof(junk) - 1), sizeof(junk) - 1);
    ms = wrap_fd(fds[1], MASTER_SOCKET);
    s = qio_channel_tls_new_server(ms, server_creds, NULL, &err);
    start = g_get_monotonic_time();
    assert_int_equal(qio_channel_tls_handshake_sync(s, &err), -1);
    print_message("  %s\n", err->message);
    assert_true(g_error_matches(err, QCRYPTO_ERROR, QCRYPTO_ERROR_HANDSHAKE));
    /* Refused at once, not by the time limit. */
    assert_true(g_get_monotonic_time() - start < G_USEC_PER_SEC);
    close(fds[0]);
}

/* A server that hangs up during the handshake: a clear client error. */
static void test_server_hangs_up(void **state)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(QIOChannel) mc = NULL;
    g_autoptr(QIOChannelTLS) c = NULL;
    int fds[2];

    raw_pair(fds);
    close(fds[1]);
    mc = wrap_fd(fds[0], MASTER_SOCKET);
    c = qio_channel_tls_new_client(mc, client_creds, "localhost", &err);
    assert_int_equal(qio_channel_tls_handshake_sync(c, &err), -1);
    print_message("  %s\n", err->message);
    assert_true(g_error_matches(err, QCRYPTO_ERROR, QCRYPTO_ERROR_HANDSHAKE));
}

/* A host name mismatch surfaces through the channel with its code. */
static void test_channel_hostname_error(void **state)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(QIOChannel) mc = NULL, ms = NULL;
    SyncSide c = { NULL }, s = { NULL };
    GThread *thread;
    int fds[2];

    raw_pair(fds);
    mc = wrap_fd(fds[0], MASTER_SOCKET);
    ms = wrap_fd(fds[1], MASTER_SOCKET);
    c.tioc = qio_channel_tls_new_client(mc, client_creds, "db9", &err);
    s.tioc = qio_channel_tls_new_server(ms, server_creds, NULL, &err);
    qio_channel_tls_set_handshake_timeout(s.tioc, 2000);
    thread = g_thread_new("tls-server-handshake", handshake_thread, &s);
    handshake_thread(&c);
    g_thread_join(thread);
    assert_non_null(c.err);
    print_message("  client: %s\n", c.err->message);
    assert_true(
        g_error_matches(c.err, QCRYPTO_ERROR, QCRYPTO_ERROR_CERT_HOSTNAME));
    assert_non_null(strstr(c.err->message, "'db9'"));
    /* Data calls on a channel whose handshake failed are refused. */
    assert_int_equal(qio_channel_write(QIO_CHANNEL(c.tioc), "x", 1, &err), -1);
    g_clear_error(&c.err);
    g_clear_error(&s.err);
    g_object_unref(c.tioc);
    g_object_unref(s.tioc);
}

/* ---- A server that refuses the client after its handshake ------------ */

/*
 * A TLS 1.3 client's handshake ends before the server has looked at the
 * client's certificate.  A server that requires one then sends
 * "certificate required" and closes, and the client's first write meets
 * a closed socket.  Here the server is done before the client writes, so
 * the write always fails; it must report the alert, not "Broken pipe".
 */
static void refused_after_handshake(MasterKind kind)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(QIOChannel) mc = NULL, ms = NULL;
    g_autoptr(QCryptoTLSCreds) nocert = NULL;
    g_autofree char *tmp = g_dir_make_tmp("qio-tls-nocert-XXXXXX", NULL);
    g_autofree char *src = g_build_filename(
        qcrypto_test_creds_dir_path(creds_dir), "ca-cert.pem", NULL);
    g_autofree char *dst = NULL;
    g_autofree char *pem = NULL;
    gsize pem_len = 0;
    SyncSide c = { NULL }, s = { NULL };
    GThread *thread;
    int fds[2];

    /* A client that trusts the CA but has no certificate of its own. */
    assert_non_null(tmp);
    dst = g_build_filename(tmp, "ca-cert.pem", NULL);
    assert_true(g_file_get_contents(src, &pem, &pem_len, NULL));
    assert_true(g_file_set_contents(dst, pem, pem_len, NULL));
    nocert = qcrypto_test_creds_new("tls-creds-x509", &err, "endpoint",
                                    "client", "dir", tmp, NULL);
    g_unlink(dst);
    g_rmdir(tmp);
    if (!nocert) {
        fail_msg("client creds: %s", err->message);
    }

    raw_pair(fds);
    mc = wrap_fd(fds[0], kind);
    ms = wrap_fd(fds[1], kind);
    c.tioc = qio_channel_tls_new_client(mc, nocert, "localhost", &err);
    assert_non_null(c.tioc);
    s.tioc = qio_channel_tls_new_server(ms, server_creds, NULL, &err);
    assert_non_null(s.tioc);
    thread = g_thread_new("tls-server-handshake", handshake_thread, &s);
    handshake_thread(&c);
    g_thread_join(thread);
    assert_non_null(s.err);
    print_message("  server: %s\n", s.err->message);
    assert_true(g_error_matches(s.err, QCRYPTO_ERROR, QCRYPTO_ERROR_NO_CERT));
    if (c.err) {
        fail_msg("client handshake: %s", c.err->message);
    }
    assert_string_equal(
        qcrypto_tls_session_get_protocol(qio_channel_tls_get_session(c.tioc)),
        "TLS1.3");
    /* The server has sent its alert; now it goes away. */
    assert_int_equal(qio_channel_close(ms, NULL), 0);

    assert_int_equal(
        qio_channel_write_all(QIO_CHANNEL(c.tioc), "hello", 5, &err), -1);
    print_message("  client: %s\n", err->message);
    assert_true(g_error_matches(err, QCRYPTO_ERROR, QCRYPTO_ERROR_NO_CERT));
    assert_non_null(strstr(err->message, "requires a client certificate"));
    g_clear_error(&s.err);
    g_object_unref(c.tioc);
    g_object_unref(s.tioc);
}

static void test_refused_after_handshake_socket(void **state)
{
    refused_after_handshake(MASTER_SOCKET);
}

static void test_refused_after_handshake_callbacks(void **state)
{
    refused_after_handshake(MASTER_FILE);
}

/* A peer that just went away still gives the transport's error. */
static void test_write_after_peer_closed(void **state)
{
    QIOChannelTLS *c, *s;
    g_autoptr(GError) err = NULL;

    tls_pair(MASTER_SOCKET, &c, &s);
    assert_int_equal(qio_channel_close(qio_channel_tls_get_master(s), &err), 0);
    assert_int_equal(qio_channel_write_all(QIO_CHANNEL(c), "hello", 5, &err),
                     -1);
    print_message("  %s\n", err->message);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_BROKEN_PIPE));
    g_object_unref(c);
    g_object_unref(s);
}

/*
 * The same for a write of many records, which leave the socket gathered
 * (less than the gathering room, so only the final flush can fail).
 */
static void test_large_write_after_peer_closed(void **state)
{
    QIOChannelTLS *c, *s;
    g_autoptr(GError) err = NULL;
    g_autofree char *buf = g_malloc0(200 * 1024);

    tls_pair(MASTER_SOCKET, &c, &s);
    assert_int_equal(qio_channel_close(qio_channel_tls_get_master(s), &err), 0);
    assert_int_equal(
        qio_channel_write_all(QIO_CHANNEL(c), buf, 200 * 1024, &err), -1);
    print_message("  %s\n", err->message);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_BROKEN_PIPE) ||
                g_error_matches(err, QIO_ERROR, QIO_ERROR_CONNECTION_RESET));
    g_object_unref(c);
    g_object_unref(s);
}

/* ---- Sizes, names, kernel TLS ----------------------------------------- */

typedef struct {
    QIOChannel *ioc;
    const char *buf;
    size_t len;
    GError *err;
} Writer;

static gpointer writer_thread(gpointer opaque)
{
    Writer *w = opaque;

    qio_channel_write_all(w->ioc, w->buf, w->len, &w->err);
    return NULL;
}

static void test_odd_sizes(void **state)
{
    static const size_t sizes[] = {
        1, 16384, 16385, 16384 * 3 + 7, 1024 * 1024, 1024 * 1024 + 1,
    };
    QIOChannelTLS *c, *s;
    g_autofree char *out = g_malloc(1024 * 1024 + 1);
    g_autofree char *in = g_malloc(1024 * 1024 + 1);

    qio_test_fill(out, 1024 * 1024 + 1, 99);
    tls_pair(MASTER_SOCKET, &c, &s);
    for (size_t i = 0; i < G_N_ELEMENTS(sizes); i++) {
        Writer w = { QIO_CHANNEL(c), out, sizes[i] };
        g_autoptr(GError) err = NULL;
        GThread *thread = g_thread_new("writer", writer_thread, &w);
        size_t got = 0;

        /* Single reads: at most what was asked, never more. */
        while (got < sizes[i]) {
            size_t want = MIN(sizes[i] - got, (size_t)(i % 2 ? 1 : 70000));
            gssize r = qio_channel_read(QIO_CHANNEL(s), in + got, want, &err);

            assert_true(r > 0);
            assert_true((size_t)r <= want);
            got += r;
        }
        g_thread_join(thread);
        assert_null(w.err);
        assert_memory_equal(in, out, sizes[i]);
    }
    g_object_unref(c);
    g_object_unref(s);
}

static void test_names(void **state)
{
    QIOChannelTLS *c, *s;
    const char *cn, *sn, *mn;

    tls_pair(MASTER_SOCKET, &c, &s);
    cn = qio_channel_get_name(QIO_CHANNEL(c));
    sn = qio_channel_get_name(QIO_CHANNEL(s));
    mn = qio_channel_get_name(qio_channel_tls_get_master(c));
    print_message("  %s / %s\n", cn, sn);
    assert_true(g_str_has_prefix(cn, "tls client "));
    assert_true(g_str_has_prefix(sn, "tls server "));
    assert_non_null(strstr(cn, mn));
    assert_true(
        qio_channel_has_feature(QIO_CHANNEL(c), QIO_CHANNEL_FEATURE_SHUTDOWN));
    assert_false(
        qio_channel_has_feature(QIO_CHANNEL(c), QIO_CHANNEL_FEATURE_FD_PASS));
    g_object_unref(c);
    g_object_unref(s);
}

/*
 * Kernel TLS can only engage on TCP with the tls module loaded and
 * "[global] ktls = true" in the gnutls configuration; report what this
 * host does rather than assume it.
 */
static void test_ktls_status(void **state)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(QIOChannelSocket) lsn = qio_channel_socket_new();
    g_autoptr(QIOSocketAddress) addr =
        qio_socket_address_parse("127.0.0.1:0", &err);
    g_autoptr(QIOSocketAddress) local = NULL;
    g_autoptr(QIOChannelSocket) cs = qio_channel_socket_new();
    g_autoptr(QIOChannelSocket) ss = NULL;
    g_autofree char *ulp = NULL;
    SyncSide c = { NULL }, s = { NULL };
    GThread *thread;
    QCryptoTLSSessionKTLS k;

    assert_int_equal(qio_channel_socket_listen_sync(lsn, addr, 1, &err), 0);
    local = qio_channel_socket_get_local_address(lsn, &err);
    assert_int_equal(qio_channel_socket_connect_sync(cs, local, &err), 0);
    ss = qio_channel_socket_accept(lsn, &err);
    assert_non_null(ss);
    c.tioc = qio_channel_tls_new_client(QIO_CHANNEL(cs), client_creds,
                                        "127.0.0.1", &err);
    s.tioc =
        qio_channel_tls_new_server(QIO_CHANNEL(ss), server_creds, NULL, &err);
    thread = g_thread_new("tls-server-handshake", handshake_thread, &s);
    handshake_thread(&c);
    g_thread_join(thread);
    assert_null(c.err);
    assert_null(s.err);

    k = qcrypto_tls_session_get_ktls(qio_channel_tls_get_session(c.tioc));
    g_file_get_contents("/proc/sys/net/ipv4/tcp_available_ulp", &ulp, NULL,
                        NULL);
    print_message("  kernel TLS over TCP: %s%s (kernel ULPs: %s)\n",
                  k & QCRYPTO_TLS_KTLS_SEND ? "send " : "",
                  k & QCRYPTO_TLS_KTLS_RECV ? "recv"
                  : k                       ? ""
                                            : "off",
                  ulp ? g_strstrip(ulp) : "unknown");
    if (!ulp || !strstr(ulp, "tls")) {
        /* Without the kernel module it cannot be on. */
        assert_int_equal(k, QCRYPTO_TLS_KTLS_NONE);
    }
    qio_test_transfer(QIO_CHANNEL(c.tioc), QIO_CHANNEL(s.tioc), 4 * 1024 * 1024,
                      true, true);
    g_object_unref(c.tioc);
    g_object_unref(s.tioc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_transfer_blocking),
        cmocka_unit_test(test_transfer_nonblocking),
        cmocka_unit_test(test_transfer_callbacks_blocking),
        cmocka_unit_test(test_transfer_callbacks_nonblocking),
        cmocka_unit_test(test_async_handshake),
        cmocka_unit_test(test_pending_watch_socket),
        cmocka_unit_test(test_pending_watch_callbacks),
        cmocka_unit_test(test_pending_watch_read_ahead),
        cmocka_unit_test(test_input_pending_socket),
        cmocka_unit_test(test_input_pending_callbacks),
        cmocka_unit_test(test_shutdown_eof),
        cmocka_unit_test(test_abrupt_close),
        cmocka_unit_test(test_timeout_sync),
        cmocka_unit_test(test_timeout_async),
        cmocka_unit_test(test_garbage_client),
        cmocka_unit_test(test_server_hangs_up),
        cmocka_unit_test(test_channel_hostname_error),
        cmocka_unit_test(test_refused_after_handshake_socket),
        cmocka_unit_test(test_refused_after_handshake_callbacks),
        cmocka_unit_test(test_write_after_peer_closed),
        cmocka_unit_test(test_large_write_after_peer_closed),
        cmocka_unit_test(test_odd_sizes),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_ktls_status),
    };

    return cmocka_run_group_tests_name("io-channel-tls", tests, group_setup,
                                       group_teardown);
}
