/*
 * Unit tests for QIOChannelSocket: 64 MiB streamed over TCP on IPv4 and
 * IPv6, UNIX paths and abstract names, in blocking and non-blocking mode;
 * adopting descriptors; SCM_RIGHTS passing and its bounds; EOF, EPIPE
 * (without SIGPIPE) and ECONNRESET with their error codes; connection
 * refused naming the address; async connect and listen on a main loop;
 * half-close; address queries and names; watches; socket options; stale
 * UNIX socket files; and vsock where the host has it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <cmocka.h>

#include "io/channel-socket.h"
#include "io-channel-helpers.h"

#define PAYLOAD         (64 * 1024 * 1024)
#define LOOP_TIMEOUT_MS 10000

static char *tmpdir;

static QIOSocketAddress *parse(const char *str)
{
    g_autoptr(GError) err = NULL;
    QIOSocketAddress *addr = qio_socket_address_parse(str, &err);

    if (!addr) {
        fail_msg("cannot parse '%s': %s", str, err->message);
    }
    return addr;
}

static QIOChannelSocket *listen_on(const char *str)
{
    g_autoptr(QIOSocketAddress) addr = parse(str);
    g_autoptr(GError) err = NULL;
    QIOChannelSocket *lsn = qio_channel_socket_new();

    if (qio_channel_socket_listen_sync(lsn, addr, 4, &err) < 0) {
        fail_msg("cannot listen on '%s': %s", str, err->message);
    }
    return lsn;
}

/* Listen on @str, connect a client to it and accept the server end. */
static void make_pair(const char *str, QIOChannelSocket **client,
                      QIOChannelSocket **server)
{
    g_autoptr(QIOChannelSocket) lsn = listen_on(str);
    g_autoptr(QIOSocketAddress) local = NULL;
    g_autoptr(GError) err = NULL;

    local = qio_channel_socket_get_local_address(lsn, &err);
    assert_non_null(local);
    *client = qio_channel_socket_new();
    if (qio_channel_socket_connect_sync(*client, local, &err) < 0) {
        fail_msg("cannot connect to '%s': %s", str, err->message);
    }
    *server = qio_channel_socket_accept(lsn, &err);
    assert_non_null(*server);
}

static void make_socketpair(QIOChannelSocket **a, QIOChannelSocket **b)
{
    int fds[2];

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds),
                     0);
    *a = qio_channel_socket_new_fd(fds[0], NULL);
    *b = qio_channel_socket_new_fd(fds[1], NULL);
    assert_non_null(*a);
    assert_non_null(*b);
}

static char *unix_path(const char *name)
{
    return g_strdup_printf("unix:%s/%s", tmpdir, name);
}

static char *abstract_name(void)
{
    static int counter;

    return g_strdup_printf("unix:@qio-test-%d-%d", (int)getpid(), counter++);
}

/* Run @ctx until *@done or the time limit; false on timeout. */
static gboolean set_flag(gpointer opaque)
{
    *(bool *)opaque = true;
    return G_SOURCE_REMOVE;
}

static bool iterate_until(GMainContext *ctx, bool *done, guint timeout_ms)
{
    bool timed_out = false;
    GSource *timeout = g_timeout_source_new(timeout_ms);

    g_source_set_callback(timeout, set_flag, &timed_out, NULL);
    g_source_attach(timeout, ctx);
    while (!*done && !timed_out) {
        g_main_context_iteration(ctx, TRUE);
    }
    g_source_destroy(timeout);
    g_source_unref(timeout);
    return *done;
}

static void transfer(const char *str, bool blocking)
{
    g_autoptr(QIOChannelSocket) client = NULL;
    g_autoptr(QIOChannelSocket) server = NULL;

    make_pair(str, &client, &server);
    qio_test_transfer(QIO_CHANNEL(client), QIO_CHANNEL(server), PAYLOAD,
                      blocking, true);
}

static void test_tcp_ipv4(void **state)
{
    transfer("127.0.0.1:0", true);
    transfer("127.0.0.1:0", false);
}

static void test_tcp_ipv6(void **state)
{
    if (!qio_test_have_ipv6()) {
        print_message("IPv6 loopback is not available; skipping\n");
        skip();
    }
    transfer("[::1]:0", true);
    transfer("[::1]:0", false);
}

static void test_unix_path(void **state)
{
    g_autofree char *path = unix_path("transfer.sock");

    transfer(path, true);
    transfer(path, false);
}

static void test_unix_abstract(void **state)
{
    g_autofree char *name = abstract_name();

    transfer(name, true);
    transfer(name, false);
}

static void test_socketpair(void **state)
{
    g_autoptr(QIOChannelSocket) a = NULL;
    g_autoptr(QIOChannelSocket) b = NULL;

    make_socketpair(&a, &b);
    assert_true(
        qio_channel_has_feature(QIO_CHANNEL(a), QIO_CHANNEL_FEATURE_FD_PASS));
    assert_true(
        qio_channel_has_feature(QIO_CHANNEL(a), QIO_CHANNEL_FEATURE_SHUTDOWN));
    assert_false(
        qio_channel_has_feature(QIO_CHANNEL(a), QIO_CHANNEL_FEATURE_LISTEN));
    qio_test_transfer(QIO_CHANNEL(a), QIO_CHANNEL(b), 8 * 1024 * 1024, true,
                      true);
}

static void test_new_fd_errors(void **state)
{
    g_autoptr(GError) err = NULL;
    int pipefd[2];
    int dgram;

    assert_null(qio_channel_socket_new_fd(-1, &err));
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT));
    g_clear_error(&err);

    assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
    assert_null(qio_channel_socket_new_fd(pipefd[0], &err));
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT));
    assert_non_null(strstr(err->message, "not a socket"));
    g_clear_error(&err);
    /* Still ours after the failure. */
    assert_int_equal(close(pipefd[0]), 0);
    assert_int_equal(close(pipefd[1]), 0);

    dgram = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(dgram >= 0);
    assert_null(qio_channel_socket_new_fd(dgram, &err));
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_NOT_SUPPORTED));
    assert_int_equal(close(dgram), 0);
}

static void test_new_fd_cloexec_and_mode(void **state)
{
    int fds[2];
    g_autoptr(QIOChannelSocket) a = NULL;
    g_autoptr(QIOChannelSocket) b = NULL;
    char c = 'x';

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    assert_int_equal(fcntl(fds[1], F_SETFL, O_NONBLOCK), 0);
    a = qio_channel_socket_new_fd(fds[0], NULL);
    b = qio_channel_socket_new_fd(fds[1], NULL);
    assert_true(fcntl(fds[0], F_GETFD) & FD_CLOEXEC);
    assert_true(fcntl(fds[1], F_GETFD) & FD_CLOEXEC);
    assert_int_equal(qio_channel_socket_get_fd(a), fds[0]);
    /* The adopted non-blocking mode shows: nothing to read yet. */
    assert_int_equal(qio_channel_read(QIO_CHANNEL(b), &c, 1, NULL),
                     QIO_CHANNEL_ERR_BLOCK);
}

static void test_fd_address(void **state)
{
    int fds[2];
    g_autofree char *str = NULL;
    g_autoptr(QIOSocketAddress) addr = NULL;
    g_autoptr(QIOSocketAddress) named = parse("fd:some-name");
    g_autoptr(QIOChannelSocket) a = qio_channel_socket_new();
    g_autoptr(QIOChannelSocket) x = qio_channel_socket_new();
    g_autoptr(QIOChannelSocket) b = NULL;
    g_autoptr(GError) err = NULL;
    char buf[4];

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds),
                     0);
    str = g_strdup_printf("fd:%d", fds[0]);
    addr = parse(str);
    assert_int_equal(qio_channel_socket_connect_sync(a, addr, &err), 0);
    assert_int_equal(qio_channel_socket_get_fd(a), fds[0]);
    b = qio_channel_socket_new_fd(fds[1], NULL);
    assert_int_equal(qio_channel_write_all(QIO_CHANNEL(a), "ping", 4, NULL), 0);
    assert_int_equal(qio_channel_read_all(QIO_CHANNEL(b), buf, 4, NULL), 0);
    assert_memory_equal(buf, "ping", 4);

    assert_int_equal(qio_channel_socket_connect_sync(x, named, &err), -1);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_NOT_SUPPORTED));
}

static void check_same_file(int a, int b)
{
    struct stat sa, sb;

    assert_int_equal(fstat(a, &sa), 0);
    assert_int_equal(fstat(b, &sb), 0);
    assert_int_equal(sa.st_dev, sb.st_dev);
    assert_int_equal(sa.st_ino, sb.st_ino);
}

static int count_open_fds(void)
{
    g_autoptr(GDir) dir = g_dir_open("/proc/self/fd", 0, NULL);
    int n = 0;

    assert_non_null(dir);
    while (g_dir_read_name(dir)) {
        n++;
    }
    return n;
}

static void test_fd_passing(void **state)
{
    g_autoptr(QIOChannelSocket) a = NULL;
    g_autoptr(QIOChannelSocket) b = NULL;
    g_autofree char *file = g_build_filename(tmpdir, "passed", NULL);
    g_autofree int *got = NULL;
    g_autoptr(GError) err = NULL;
    int send[3];
    size_t ngot = 0;
    char buf[5];
    struct iovec out = { .iov_base = "hello", .iov_len = 5 };
    struct iovec in = { .iov_base = buf, .iov_len = sizeof(buf) };

    make_socketpair(&a, &b);
    send[0] = open(file, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    send[1] = open("/dev/null", O_RDONLY | O_CLOEXEC);
    send[2] = open(tmpdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    for (int i = 0; i < 3; i++) {
        assert_true(send[i] >= 0);
    }

    assert_int_equal(
        qio_channel_writev_full(QIO_CHANNEL(a), &out, 1, send, 3, 0, &err), 5);
    assert_int_equal(
        qio_channel_readv_full_all(QIO_CHANNEL(b), &in, 1, &got, &ngot, &err),
        0);
    assert_null(err);
    assert_memory_equal(buf, "hello", 5);
    assert_int_equal(ngot, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_not_equal(got[i], send[i]);
        check_same_file(got[i], send[i]);
        /* Received with MSG_CMSG_CLOEXEC. */
        assert_true(fcntl(got[i], F_GETFD) & FD_CLOEXEC);
        close(got[i]);
        close(send[i]);
    }
    unlink(file);
}

static void test_fd_passing_unsupported(void **state)
{
    g_autoptr(QIOChannelSocket) client = NULL;
    g_autoptr(QIOChannelSocket) server = NULL;
    g_autoptr(GError) err = NULL;
    struct iovec out = { .iov_base = "x", .iov_len = 1 };
    int fd = 0;

    make_pair("127.0.0.1:0", &client, &server);
    assert_false(qio_channel_has_feature(QIO_CHANNEL(client),
                                         QIO_CHANNEL_FEATURE_FD_PASS));
    assert_int_equal(
        qio_channel_writev_full(QIO_CHANNEL(client), &out, 1, &fd, 1, 0, &err),
        -1);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_NOT_SUPPORTED));
}

static void test_fd_passing_bounds(void **state)
{
    g_autoptr(QIOChannelSocket) a = NULL;
    g_autoptr(QIOChannelSocket) b = NULL;
    g_autoptr(GError) err = NULL;
    int many[QIO_CHANNEL_SOCKET_MAX_FDS + 4];
    union {
        char buf[CMSG_SPACE(sizeof(many))];
        struct cmsghdr align;
    } control;
    struct iovec iov = { .iov_base = "z", .iov_len = 1 };
    struct msghdr msg = { .msg_iov = &iov,
                          .msg_iovlen = 1,
                          .msg_control = control.buf,
                          .msg_controllen = sizeof(control.buf) };
    struct cmsghdr *cmsg;
    g_autofree int *got = NULL;
    size_t ngot = 99;
    char c;
    int before;

    make_socketpair(&a, &b);
    for (size_t i = 0; i < G_N_ELEMENTS(many); i++) {
        many[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
        assert_true(many[i] >= 0);
    }

    /* Sending more than the bound is refused before anything is sent. */
    assert_int_equal(qio_channel_writev_full(QIO_CHANNEL(a), &iov, 1, many,
                                             G_N_ELEMENTS(many), 0, &err),
                     -1);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_TOO_LARGE));
    g_clear_error(&err);

    /* A peer that sends too many anyway: all received ones are closed. */
    memset(&control, 0, sizeof(control));
    cmsg = &control.align;
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(many));
    memcpy(CMSG_DATA(cmsg), many, sizeof(many));
    assert_int_equal(sendmsg(qio_channel_socket_get_fd(a), &msg, 0), 1);
    for (size_t i = 0; i < G_N_ELEMENTS(many); i++) {
        close(many[i]);
    }

    before = count_open_fds();
    iov.iov_base = &c;
    assert_int_equal(
        qio_channel_readv_full(QIO_CHANNEL(b), &iov, 1, &got, &ngot, 0, &err),
        -1);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_TOO_LARGE));
    assert_null(got);
    assert_int_equal(count_open_fds(), before);
}

static void test_eof(void **state)
{
    g_autoptr(QIOChannelSocket) client = NULL;
    g_autoptr(QIOChannelSocket) server = NULL;
    g_autoptr(GError) err = NULL;
    char buf[8];

    make_pair("127.0.0.1:0", &client, &server);
    assert_int_equal(qio_channel_write_all(QIO_CHANNEL(client), "abc", 3, NULL),
                     0);
    assert_int_equal(qio_channel_close(QIO_CHANNEL(client), NULL), 0);

    /* Three bytes then EOF: read_all of 8 fails part way. */
    assert_int_equal(qio_channel_read_all(QIO_CHANNEL(server), buf, 8, &err),
                     -1);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_UNEXPECTED_EOF));
    g_clear_error(&err);
    assert_int_equal(qio_channel_read(QIO_CHANNEL(server), buf, 8, &err), 0);
    assert_null(err);
    assert_int_equal(qio_channel_read_all(QIO_CHANNEL(server), buf, 1, &err),
                     -1);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_UNEXPECTED_EOF));
    g_clear_error(&err);
    assert_int_equal(
        qio_channel_read_all_eof(QIO_CHANNEL(server), buf, 1, &err), 0);
    assert_null(err);
}

/* Write until the peer's absence shows; bounded in time. */
static GError *write_until_error(QIOChannel *ioc)
{
    static char chunk[4096];
    GError *err = NULL;

    for (int i = 0; i < 2000; i++) {
        if (qio_channel_write(ioc, chunk, sizeof(chunk), &err) < 0) {
            return err;
        }
        g_usleep(1000);
    }
    fail_msg("writing to a closed peer kept succeeding");
    return NULL;
}

static void test_epipe(void **state)
{
    g_autoptr(QIOChannelSocket) a = NULL;
    g_autoptr(QIOChannelSocket) b = NULL;
    g_autoptr(QIOChannelSocket) client = NULL;
    g_autoptr(QIOChannelSocket) server = NULL;
    g_autoptr(GError) err = NULL;

    /* SIGPIPE is left at its default (fatal) action for this test. */
    make_socketpair(&a, &b);
    qio_channel_close(QIO_CHANNEL(b), NULL);
    assert_int_equal(qio_channel_write(QIO_CHANNEL(a), "x", 1, &err), -1);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_BROKEN_PIPE));
    assert_non_null(strstr(err->message, qio_channel_get_name(QIO_CHANNEL(a))));
    g_clear_error(&err);

    make_pair("127.0.0.1:0", &client, &server);
    qio_channel_close(QIO_CHANNEL(server), NULL);
    err = write_until_error(QIO_CHANNEL(client));
    if (!g_error_matches(err, QIO_ERROR, QIO_ERROR_BROKEN_PIPE) &&
        !g_error_matches(err, QIO_ERROR, QIO_ERROR_CONNECTION_RESET)) {
        fail_msg("unexpected error: %s", err->message);
    }
}

static void test_econnreset(void **state)
{
    g_autoptr(QIOChannelSocket) client = NULL;
    g_autoptr(QIOChannelSocket) server = NULL;
    g_autoptr(QIOChannelSocket) client2 = NULL;
    g_autoptr(QIOChannelSocket) server2 = NULL;
    g_autoptr(GError) err = NULL;
    struct linger lg = { .l_onoff = 1, .l_linger = 0 };
    char buf[4];

    /* SO_LINGER 0: close sends a reset. */
    make_pair("127.0.0.1:0", &client, &server);
    assert_int_equal(setsockopt(qio_channel_socket_get_fd(server), SOL_SOCKET,
                                SO_LINGER, &lg, sizeof(lg)),
                     0);
    qio_channel_close(QIO_CHANNEL(server), NULL);
    qio_channel_wait(QIO_CHANNEL(client), G_IO_IN);
    assert_int_equal(qio_channel_read(QIO_CHANNEL(client), buf, 4, &err), -1);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_CONNECTION_RESET));
    g_clear_error(&err);

    /* Closing with unread data does the same. */
    make_pair("127.0.0.1:0", &client2, &server2);
    assert_int_equal(
        qio_channel_write_all(QIO_CHANNEL(client2), "unread", 6, NULL), 0);
    g_usleep(20 * 1000);
    qio_channel_close(QIO_CHANNEL(server2), NULL);
    qio_channel_wait(QIO_CHANNEL(client2), G_IO_IN);
    assert_int_equal(qio_channel_read(QIO_CHANNEL(client2), buf, 4, &err), -1);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_CONNECTION_RESET));
}

static void test_connect_refused(void **state)
{
    g_autoptr(QIOChannelSocket) lsn = listen_on("127.0.0.1:0");
    g_autoptr(QIOSocketAddress) local = NULL;
    g_autoptr(QIOSocketAddress) byname = NULL;
    g_autoptr(QIOChannelSocket) sioc = qio_channel_socket_new();
    g_autoptr(QIOChannelSocket) sioc2 = qio_channel_socket_new();
    g_autoptr(GError) err = NULL;
    g_autofree char *expect = NULL;
    g_autofree char *str = NULL;

    /* A port that was just free: nothing listens there any more. */
    local = qio_channel_socket_get_local_address(lsn, NULL);
    qio_channel_close(QIO_CHANNEL(lsn), NULL);
    assert_int_equal(qio_channel_socket_connect_sync(sioc, local, &err), -1);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_CONNECTION_REFUSED));
    expect =
        g_strdup_printf("cannot connect to 127.0.0.1:%s: ", local->u.inet.port);
    if (!g_str_has_prefix(err->message, expect)) {
        fail_msg("message '%s' does not start with '%s'", err->message, expect);
    }
    assert_int_equal(qio_channel_socket_get_fd(sioc), -1);
    g_clear_error(&err);

    /* By name: every address is tried and the name is in the message. */
    str = g_strdup_printf("localhost:%s", local->u.inet.port);
    byname = parse(str);
    assert_int_equal(qio_channel_socket_connect_sync(sioc2, byname, &err), -1);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_CONNECTION_REFUSED));
    assert_non_null(strstr(err->message, str));
}

static void test_connect_errors(void **state)
{
    g_autofree char *path = unix_path("nothing-here.sock");
    g_autoptr(QIOSocketAddress) addr = parse(path);
    g_autoptr(QIOSocketAddress) any = parse(":10809");
    g_autoptr(QIOChannelSocket) sioc = qio_channel_socket_new();
    g_autoptr(QIOChannelSocket) client = NULL;
    g_autoptr(QIOChannelSocket) server = NULL;
    g_autoptr(GError) err = NULL;

    assert_int_equal(qio_channel_socket_connect_sync(sioc, addr, &err), -1);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_NOT_FOUND));
    assert_non_null(strstr(err->message, path));
    g_clear_error(&err);

    assert_int_equal(qio_channel_socket_connect_sync(sioc, any, &err), -1);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT));
    g_clear_error(&err);

    /* A channel connects once. */
    make_pair("127.0.0.1:0", &client, &server);
    assert_int_equal(qio_channel_socket_connect_sync(client, addr, &err), -1);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT));
}

typedef struct {
    GMainContext *ctx;
    GThread *thread;
    bool listened;
    bool connected;
    bool accepted;
    bool refused;
    GError *err;
    QIOChannelSocket *lsn;
    QIOChannelSocket *client;
    QIOChannelSocket *server;
} AsyncState;

static gboolean async_accept(QIOChannel *ioc, GIOCondition cond,
                             gpointer opaque)
{
    AsyncState *st = opaque;

    assert_int_equal(qio_channel_socket_try_accept(st->lsn, &st->server, NULL),
                     0);
    st->accepted = true;
    return G_SOURCE_REMOVE;
}

static void async_connected(QIOTask *task, gpointer opaque)
{
    AsyncState *st = opaque;

    assert_ptr_equal(g_thread_self(), st->thread);
    assert_false(qio_task_propagate_error(task, &st->err));
    assert_ptr_equal(qio_task_get_source(task), st->client);
    st->connected = true;
}

static void async_listened(QIOTask *task, gpointer opaque)
{
    AsyncState *st = opaque;
    g_autoptr(QIOSocketAddress) local = NULL;
    GSource *watch;

    assert_ptr_equal(g_thread_self(), st->thread);
    assert_false(qio_task_propagate_error(task, &st->err));
    st->listened = true;

    /* Now connect to it, also asynchronously, and accept from a watch. */
    assert_int_equal(
        qio_channel_set_blocking(QIO_CHANNEL(st->lsn), false, NULL), 0);
    watch = qio_channel_create_watch(QIO_CHANNEL(st->lsn), G_IO_IN);
    g_source_set_callback(watch, (GSourceFunc)(void (*)(void))async_accept, st,
                          NULL);
    g_source_attach(watch, st->ctx);
    g_source_unref(watch);

    local = qio_channel_socket_get_local_address(st->lsn, NULL);
    assert_non_null(local);
    qio_channel_socket_connect_async(st->client, local, async_connected, st,
                                     NULL, NULL);
}

static void async_refused(QIOTask *task, gpointer opaque)
{
    AsyncState *st = opaque;
    g_autoptr(GError) err = NULL;

    assert_true(qio_task_propagate_error(task, &err));
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_CONNECTION_REFUSED));
    st->refused = true;
}

static void test_async(void **state)
{
    g_autoptr(GMainContext) ctx = g_main_context_new();
    g_autoptr(QIOSocketAddress) addr = parse("127.0.0.1:0");
    g_autoptr(QIOChannelSocket) gone = listen_on("127.0.0.1:0");
    g_autoptr(QIOSocketAddress) gone_addr = NULL;
    g_autoptr(QIOChannelSocket) fail = qio_channel_socket_new();
    AsyncState st = { .ctx = ctx, .thread = g_thread_self() };
    bool timed_out = false;
    GSource *timeout;

    gone_addr = qio_channel_socket_get_local_address(gone, NULL);
    qio_channel_close(QIO_CHANNEL(gone), NULL);

    g_main_context_push_thread_default(ctx);
    st.lsn = qio_channel_socket_new();
    st.client = qio_channel_socket_new();
    qio_channel_socket_listen_async(st.lsn, addr, 4, async_listened, &st, NULL,
                                    NULL);
    qio_channel_socket_connect_async(fail, gone_addr, async_refused, &st, NULL,
                                     NULL);
    timeout = g_timeout_source_new(LOOP_TIMEOUT_MS);
    g_source_set_callback(timeout, set_flag, &timed_out, NULL);
    g_source_attach(timeout, ctx);
    while (!(st.listened && st.connected && st.accepted && st.refused) &&
           !st.err && !timed_out) {
        g_main_context_iteration(ctx, TRUE);
    }
    g_source_destroy(timeout);
    g_source_unref(timeout);
    if (timed_out) {
        fail_msg("async connect/listen did not complete in %d ms",
                 LOOP_TIMEOUT_MS);
    }
    g_main_context_pop_thread_default(ctx);
    if (st.err) {
        fail_msg("async operation failed: %s", st.err->message);
    }
    assert_true(qio_channel_has_feature(QIO_CHANNEL(st.lsn),
                                        QIO_CHANNEL_FEATURE_LISTEN));
    assert_int_equal(
        qio_channel_write_all(QIO_CHANNEL(st.client), "hi", 2, NULL), 0);
    {
        char buf[2];

        assert_int_equal(
            qio_channel_read_all(QIO_CHANNEL(st.server), buf, 2, NULL), 0);
        assert_memory_equal(buf, "hi", 2);
    }
    g_object_unref(st.lsn);
    g_object_unref(st.client);
    g_object_unref(st.server);
}

static void test_shutdown(void **state)
{
    g_autoptr(QIOChannelSocket) client = NULL;
    g_autoptr(QIOChannelSocket) server = NULL;
    g_autoptr(GError) err = NULL;
    char buf[8];

    make_pair("127.0.0.1:0", &client, &server);
    assert_int_equal(qio_channel_write_all(QIO_CHANNEL(client), "req", 3, NULL),
                     0);
    assert_int_equal(qio_channel_shutdown(QIO_CHANNEL(client),
                                          QIO_CHANNEL_SHUTDOWN_WRITE, &err),
                     0);
    assert_int_equal(qio_channel_read_all(QIO_CHANNEL(server), buf, 3, NULL),
                     0);
    assert_int_equal(qio_channel_read(QIO_CHANNEL(server), buf, 8, &err), 0);
    /* The other direction still works. */
    assert_int_equal(
        qio_channel_write_all(QIO_CHANNEL(server), "reply", 5, NULL), 0);
    assert_int_equal(qio_channel_read_all(QIO_CHANNEL(client), buf, 5, &err),
                     0);
    assert_memory_equal(buf, "reply", 5);
    /* And the client may no longer write. */
    assert_int_equal(qio_channel_write(QIO_CHANNEL(client), "x", 1, &err), -1);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_BROKEN_PIPE));
}

/* Wait (bounded) until the kernel reports at least @want bytes. */
static size_t pending_at_least(QIOChannel *ioc, size_t want)
{
    gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
    size_t n;

    while ((n = qio_channel_input_pending(ioc)) < want &&
           g_get_monotonic_time() < deadline) {
        g_usleep(1000);
    }
    return n;
}

static void input_pending(QIOChannelSocket *a, QIOChannelSocket *b)
{
    char buf[8];

    assert_int_equal(qio_channel_input_pending(QIO_CHANNEL(b)), 0);
    assert_int_equal(qio_channel_write_all(QIO_CHANNEL(a), "hello", 5, NULL),
                     0);
    assert_int_equal(pending_at_least(QIO_CHANNEL(b), 5), 5);
    assert_int_equal(qio_channel_read_all(QIO_CHANNEL(b), buf, 2, NULL), 0);
    assert_int_equal(qio_channel_input_pending(QIO_CHANNEL(b)), 3);
    assert_int_equal(qio_channel_read_all(QIO_CHANNEL(b), buf, 3, NULL), 0);
    assert_int_equal(qio_channel_input_pending(QIO_CHANNEL(b)), 0);
    /* EOF is no data. */
    assert_int_equal(
        qio_channel_shutdown(QIO_CHANNEL(a), QIO_CHANNEL_SHUTDOWN_WRITE, NULL),
        0);
    assert_int_equal(qio_channel_input_pending(QIO_CHANNEL(b)), 0);
    assert_int_equal(qio_channel_close(QIO_CHANNEL(b), NULL), 0);
    assert_int_equal(qio_channel_input_pending(QIO_CHANNEL(b)), 0);
}

static void test_input_pending(void **state)
{
    g_autoptr(QIOChannelSocket) client = NULL;
    g_autoptr(QIOChannelSocket) server = NULL;
    g_autoptr(QIOChannelSocket) lsn = listen_on("127.0.0.1:0");

    make_pair("127.0.0.1:0", &client, &server);
    input_pending(client, server);
    g_clear_object(&client);
    g_clear_object(&server);
    make_socketpair(&client, &server);
    input_pending(client, server);
    /* A listener has no bytes, whatever connections wait on it. */
    assert_int_equal(qio_channel_input_pending(QIO_CHANNEL(lsn)), 0);
}

/* The peer ends the stream: everything it sent goes, then EOF ends it. */
static void test_discard_eof(void **state)
{
    g_autoptr(QIOChannelSocket) client = NULL;
    g_autoptr(QIOChannelSocket) server = NULL;
    g_autofree char *junk = g_malloc0(10000);
    gint64 start;

    make_pair("127.0.0.1:0", &client, &server);
    assert_int_equal(
        qio_channel_write_all(QIO_CHANNEL(client), junk, 10000, NULL), 0);
    assert_int_equal(qio_channel_shutdown(QIO_CHANNEL(client),
                                          QIO_CHANNEL_SHUTDOWN_WRITE, NULL),
                     0);
    start = g_get_monotonic_time();
    assert_int_equal(
        qio_channel_discard(QIO_CHANNEL(server), 1024 * 1024, 5000, NULL),
        10000);
    assert_true(g_get_monotonic_time() - start < 4 * G_USEC_PER_SEC);
}

/* A peer that keeps sending is cut off at @max, without waiting. */
static void test_discard_max(void **state)
{
    g_autoptr(QIOChannelSocket) client = NULL;
    g_autoptr(QIOChannelSocket) server = NULL;
    g_autofree char *junk = g_malloc0(10000);
    gint64 start;
    char buf[8];

    make_pair("127.0.0.1:0", &client, &server);
    assert_int_equal(
        qio_channel_write_all(QIO_CHANNEL(client), junk, 10000, NULL), 0);
    assert_int_equal(pending_at_least(QIO_CHANNEL(server), 10000), 10000);
    start = g_get_monotonic_time();
    assert_int_equal(qio_channel_discard(QIO_CHANNEL(server), 4096, 5000, NULL),
                     4096);
    assert_true(g_get_monotonic_time() - start < 4 * G_USEC_PER_SEC);
    assert_int_equal(qio_channel_input_pending(QIO_CHANNEL(server)),
                     10000 - 4096);
    /* Left non-blocking, as documented. */
    assert_int_equal(qio_channel_read(QIO_CHANNEL(server), buf, 8, NULL), 8);
}

/* A peer that says a little and then nothing holds it only so long. */
static void test_discard_timeout(void **state)
{
    g_autoptr(QIOChannelSocket) client = NULL;
    g_autoptr(QIOChannelSocket) server = NULL;
    gint64 start, took;

    make_pair("127.0.0.1:0", &client, &server);
    assert_int_equal(
        qio_channel_write_all(QIO_CHANNEL(client), "0123456789", 10, NULL), 0);
    start = g_get_monotonic_time();
    assert_int_equal(
        qio_channel_discard(QIO_CHANNEL(server), 1024 * 1024, 200, NULL), 10);
    took = g_get_monotonic_time() - start;
    assert_true(took >= 150 * 1000);
    assert_true(took < 4 * G_USEC_PER_SEC);
}

/* A read error is an error; a closed channel cannot discard. */
static void test_discard_errors(void **state)
{
    g_autoptr(QIOChannelSocket) client = NULL;
    g_autoptr(QIOChannelSocket) server = NULL;
    g_autoptr(GError) err = NULL;
    struct linger lg = { .l_onoff = 1, .l_linger = 0 };

    make_pair("127.0.0.1:0", &client, &server);
    assert_int_equal(qio_channel_write_all(QIO_CHANNEL(server), "x", 1, NULL),
                     0);
    /* The client resets the connection: it closes with unread data. */
    assert_int_equal(setsockopt(qio_channel_socket_get_fd(client), SOL_SOCKET,
                                SO_LINGER, &lg, sizeof(lg)),
                     0);
    g_usleep(50 * 1000);
    assert_int_equal(qio_channel_close(QIO_CHANNEL(client), NULL), 0);
    assert_int_equal(
        qio_channel_discard(QIO_CHANNEL(server), 1024 * 1024, 2000, &err), -1);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_CONNECTION_RESET));
    g_clear_error(&err);

    assert_int_equal(qio_channel_close(QIO_CHANNEL(server), NULL), 0);
    assert_int_equal(
        qio_channel_discard(QIO_CHANNEL(server), 1024 * 1024, 2000, &err), -1);
    assert_non_null(err);
}

static void check_addresses(const char *str, const char *host_prefix)
{
    g_autoptr(QIOChannelSocket) client = NULL;
    g_autoptr(QIOChannelSocket) server = NULL;
    g_autoptr(QIOSocketAddress) cl = NULL;
    g_autoptr(QIOSocketAddress) cp = NULL;
    g_autoptr(QIOSocketAddress) sl = NULL;
    g_autoptr(QIOSocketAddress) sp = NULL;
    g_autofree char *cls = NULL, *cps = NULL, *sls = NULL, *sps = NULL;

    make_pair(str, &client, &server);
    cl = qio_channel_socket_get_local_address(client, NULL);
    cp = qio_channel_socket_get_remote_address(client, NULL);
    sl = qio_channel_socket_get_local_address(server, NULL);
    sp = qio_channel_socket_get_remote_address(server, NULL);
    assert_non_null(cl);
    assert_non_null(cp);
    assert_non_null(sl);
    assert_non_null(sp);
    cls = qio_socket_address_to_string(cl);
    cps = qio_socket_address_to_string(cp);
    sls = qio_socket_address_to_string(sl);
    sps = qio_socket_address_to_string(sp);
    assert_string_equal(cls, sps);
    assert_string_equal(cps, sls);
    assert_true(g_str_has_prefix(cps, host_prefix));

    /* Names show the peer. */
    assert_non_null(strstr(qio_channel_get_name(QIO_CHANNEL(client)), cps));
    if (cl->type == QIO_SOCKET_ADDRESS_TYPE_INET) {
        assert_non_null(strstr(qio_channel_get_name(QIO_CHANNEL(server)), sps));
    }
}

static void test_addresses(void **state)
{
    g_autofree char *path = unix_path("addr.sock");
    g_autofree char *expect = g_strdup_printf("unix:%s/addr.sock", tmpdir);
    g_autoptr(QIOChannelSocket) lsn = NULL;
    g_autoptr(GError) err = NULL;

    check_addresses("127.0.0.1:0", "127.0.0.1:");
    if (qio_test_have_ipv6()) {
        check_addresses("[::1]:0", "[::1]:");
    }
    check_addresses(path, expect);
    {
        g_autofree char *name = abstract_name();

        check_addresses(name, name);
    }

    lsn = listen_on("127.0.0.1:0");
    assert_non_null(
        strstr(qio_channel_get_name(QIO_CHANNEL(lsn)), "127.0.0.1:"));
    assert_null(qio_channel_socket_get_remote_address(lsn, &err));
    assert_non_null(err);
    g_clear_error(&err);
    qio_channel_close(QIO_CHANNEL(lsn), NULL);
    assert_null(qio_channel_socket_get_local_address(lsn, &err));
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_CLOSED));
}

typedef struct {
    GIOCondition seen;
    bool fired;
} WatchState;

static gboolean watch_cb(QIOChannel *ioc, GIOCondition cond, gpointer opaque)
{
    WatchState *ws = opaque;

    ws->seen = cond;
    ws->fired = true;
    return G_SOURCE_REMOVE;
}

static void add_watch(QIOChannel *ioc, GIOCondition cond, WatchState *ws,
                      GMainContext *ctx)
{
    memset(ws, 0, sizeof(*ws));
    qio_channel_add_watch_full(ioc, cond, watch_cb, ws, NULL, ctx);
}

static void test_watches(void **state)
{
    g_autoptr(GMainContext) ctx = g_main_context_new();
    g_autoptr(QIOChannelSocket) a = NULL;
    g_autoptr(QIOChannelSocket) b = NULL;
    g_autoptr(GError) err = NULL;
    WatchState ws;
    char c;

    make_socketpair(&a, &b);
    assert_int_equal(qio_channel_set_blocking(QIO_CHANNEL(a), false, NULL), 0);
    assert_int_equal(qio_channel_set_blocking(QIO_CHANNEL(b), false, NULL), 0);

    /* Writable at once. */
    add_watch(QIO_CHANNEL(a), G_IO_OUT, &ws, ctx);
    assert_true(iterate_until(ctx, &ws.fired, LOOP_TIMEOUT_MS));
    assert_true(ws.seen & G_IO_OUT);

    /* Not readable until data arrives. */
    assert_int_equal(qio_channel_read(QIO_CHANNEL(b), &c, 1, &err),
                     QIO_CHANNEL_ERR_BLOCK);
    assert_null(err);
    add_watch(QIO_CHANNEL(b), G_IO_IN, &ws, ctx);
    assert_false(iterate_until(ctx, &ws.fired, 50));
    assert_int_equal(qio_channel_write(QIO_CHANNEL(a), "d", 1, NULL), 1);
    assert_true(iterate_until(ctx, &ws.fired, LOOP_TIMEOUT_MS));
    assert_true(ws.seen & G_IO_IN);
    assert_int_equal(qio_channel_read(QIO_CHANNEL(b), &c, 1, NULL), 1);
    assert_int_equal(c, 'd');

    /* The peer going away shows as HUP. */
    add_watch(QIO_CHANNEL(b), G_IO_IN, &ws, ctx);
    qio_channel_close(QIO_CHANNEL(a), NULL);
    assert_true(iterate_until(ctx, &ws.fired, LOOP_TIMEOUT_MS));
    assert_true(ws.seen & G_IO_HUP);
    assert_int_equal(qio_channel_read(QIO_CHANNEL(b), &c, 1, NULL), 0);
}

static void test_watch_tcp_nonblocking(void **state)
{
    g_autoptr(GMainContext) ctx = g_main_context_new();
    g_autoptr(QIOChannelSocket) client = NULL;
    g_autoptr(QIOChannelSocket) server = NULL;
    WatchState ws;
    char buf[4];

    make_pair("127.0.0.1:0", &client, &server);
    assert_int_equal(qio_channel_set_blocking(QIO_CHANNEL(server), false, NULL),
                     0);
    add_watch(QIO_CHANNEL(server), G_IO_IN, &ws, ctx);
    assert_false(iterate_until(ctx, &ws.fired, 50));
    assert_int_equal(
        qio_channel_write_all(QIO_CHANNEL(client), "tcp!", 4, NULL), 0);
    assert_true(iterate_until(ctx, &ws.fired, LOOP_TIMEOUT_MS));
    assert_true(ws.seen & G_IO_IN);
    assert_int_equal(qio_channel_read(QIO_CHANNEL(server), buf, 4, NULL), 4);
    assert_memory_equal(buf, "tcp!", 4);
}

static void test_peek(void **state)
{
    g_autoptr(QIOChannelSocket) a = NULL;
    g_autoptr(QIOChannelSocket) b = NULL;
    char buf[4];
    struct iovec iov = { .iov_base = buf, .iov_len = 4 };

    make_socketpair(&a, &b);
    assert_int_equal(qio_channel_write_all(QIO_CHANNEL(a), "peek", 4, NULL), 0);
    assert_int_equal(qio_channel_readv_full(QIO_CHANNEL(b), &iov, 1, NULL, NULL,
                                            QIO_CHANNEL_READ_FLAG_PEEK, NULL),
                     4);
    memset(buf, 0, sizeof(buf));
    assert_int_equal(qio_channel_read_all(QIO_CHANNEL(b), buf, 4, NULL), 0);
    assert_memory_equal(buf, "peek", 4);
}

static int get_int_opt(QIOChannelSocket *sioc, int level, int name)
{
    int val = -1;
    socklen_t len = sizeof(val);

    assert_int_equal(
        getsockopt(qio_channel_socket_get_fd(sioc), level, name, &val, &len),
        0);
    return val;
}

static void test_options(void **state)
{
    g_autoptr(QIOChannelSocket) client = NULL;
    g_autoptr(QIOChannelSocket) server = NULL;
    g_autoptr(QIOChannelSocket) a = NULL;
    g_autoptr(QIOChannelSocket) b = NULL;
    g_autoptr(QIOChannelSocket) ka = qio_channel_socket_new();
    g_autoptr(QIOChannelSocket) lsn = listen_on("127.0.0.1:0");
    g_autoptr(QIOSocketAddress) local = NULL;
    g_autofree char *str = NULL;
    g_autoptr(QIOSocketAddress) kaddr = NULL;
    g_autoptr(GError) err = NULL;

    make_pair("127.0.0.1:0", &client, &server);
    qio_channel_set_delay(QIO_CHANNEL(client), false);
    assert_true(get_int_opt(client, IPPROTO_TCP, TCP_NODELAY) != 0);
    qio_channel_set_delay(QIO_CHANNEL(client), true);
    assert_int_equal(get_int_opt(client, IPPROTO_TCP, TCP_NODELAY), 0);
    qio_channel_set_cork(QIO_CHANNEL(client), true);
    qio_channel_set_cork(QIO_CHANNEL(client), false);
    assert_int_equal(qio_channel_socket_set_keepalive(client, true, &err), 0);
    assert_true(get_int_opt(client, SOL_SOCKET, SO_KEEPALIVE) != 0);
    assert_int_equal(qio_channel_socket_set_keepalive(client, false, &err), 0);
    assert_int_equal(get_int_opt(client, SOL_SOCKET, SO_KEEPALIVE), 0);

    /* Hints on a UNIX socket are ignored quietly. */
    make_socketpair(&a, &b);
    qio_channel_set_delay(QIO_CHANNEL(a), false);
    qio_channel_set_cork(QIO_CHANNEL(a), true);

    /* keep-alive=on in the address applies at connect. */
    local = qio_channel_socket_get_local_address(lsn, NULL);
    str = g_strdup_printf("127.0.0.1:%s,keep-alive=on", local->u.inet.port);
    kaddr = parse(str);
    assert_int_equal(qio_channel_socket_connect_sync(ka, kaddr, &err), 0);
    assert_true(get_int_opt(ka, SOL_SOCKET, SO_KEEPALIVE) != 0);
}

static void test_listen_options(void **state)
{
    g_autoptr(QIOChannelSocket) lsn = listen_on("127.0.0.1:0");
    g_autoptr(QIOChannelSocket) lsn6 = NULL;

    assert_true(get_int_opt(lsn, SOL_SOCKET, SO_REUSEADDR) != 0);
    assert_true(
        qio_channel_has_feature(QIO_CHANNEL(lsn), QIO_CHANNEL_FEATURE_LISTEN));
    assert_false(qio_channel_has_feature(QIO_CHANNEL(lsn),
                                         QIO_CHANNEL_FEATURE_SHUTDOWN));
    if (qio_test_have_ipv6()) {
        lsn6 = listen_on("[::1]:0");
        assert_true(get_int_opt(lsn6, IPPROTO_IPV6, IPV6_V6ONLY) != 0);
    }
}

static void test_listen_in_use(void **state)
{
    g_autoptr(QIOChannelSocket) lsn = listen_on("127.0.0.1:0");
    g_autoptr(QIOSocketAddress) local =
        qio_channel_socket_get_local_address(lsn, NULL);
    g_autoptr(QIOChannelSocket) again = qio_channel_socket_new();
    g_autoptr(GError) err = NULL;

    assert_int_equal(qio_channel_socket_listen_sync(again, local, 1, &err), -1);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_EXISTS));
    assert_non_null(strstr(err->message, "127.0.0.1:"));
}

static void test_unix_stale_and_unlink(void **state)
{
    g_autofree char *str = unix_path("stale.sock");
    g_autofree char *path = g_build_filename(tmpdir, "stale.sock", NULL);
    g_autoptr(QIOSocketAddress) addr = parse(str);
    g_autoptr(QIOChannelSocket) live = NULL;
    g_autoptr(QIOChannelSocket) second = qio_channel_socket_new();
    g_autoptr(GError) err = NULL;
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    int fd;

    /* A socket file left behind by a process that died. */
    g_strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
    close(fd);
    assert_true(g_file_test(path, G_FILE_TEST_EXISTS));

    live = listen_on(str);
    /* A live server's socket is not taken over. */
    assert_int_equal(qio_channel_socket_listen_sync(second, addr, 1, &err), -1);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_EXISTS));
    assert_true(g_file_test(path, G_FILE_TEST_EXISTS));

    /* Closing the listener removes its file. */
    qio_channel_close(QIO_CHANNEL(live), NULL);
    assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
}

static void test_unix_keeps_replaced_file(void **state)
{
    g_autofree char *str = unix_path("replaced.sock");
    g_autofree char *path = g_build_filename(tmpdir, "replaced.sock", NULL);
    g_autoptr(QIOChannelSocket) lsn = listen_on(str);

    /* Someone else's file now lives at the path: leave it alone. */
    assert_int_equal(unlink(path), 0);
    assert_true(g_file_set_contents(path, "other", -1, NULL));
    g_clear_object(&lsn);
    assert_true(g_file_test(path, G_FILE_TEST_EXISTS));
    unlink(path);
}

typedef struct {
    char *str;
} ConnectLater;

static gpointer connect_later(gpointer opaque)
{
    ConnectLater *cl = opaque;
    g_autoptr(QIOSocketAddress) addr = parse(cl->str);
    QIOChannelSocket *sioc = qio_channel_socket_new();

    g_usleep(50 * 1000);
    assert_int_equal(qio_channel_socket_connect_sync(sioc, addr, NULL), 0);
    return sioc;
}

/* ---- Network errors reported by accept() ------------------------------ */

/*
 * accept4() as the library sees it: fails with each errno of
 * accept_inject[] in turn, as Linux does for a queued connection with a
 * network error pending, then accepts for real.
 */
static const int *accept_inject;

int accept4(int fd, __SOCKADDR_ARG addr, socklen_t *len, int flags)
{
    if (accept_inject && *accept_inject) {
        errno = *accept_inject++;
        return -1;
    }
    return (int)syscall(SYS_accept4, fd, addr.__sockaddr__, len, flags);
}

/*
 * A remote host can make accept() fail for its own connection (an ICMP
 * error while it is queued); that must not fail the accept of the next
 * client, blocking or not.
 */
static void test_accept_pending_error(void **state)
{
    static const int errs[] = { EPROTO,    ENETUNREACH, EHOSTUNREACH, ENETDOWN,
                                EHOSTDOWN, ENONET,      ENOPROTOOPT,  0 };
    g_autoptr(QIOChannelSocket) lsn = listen_on("127.0.0.1:0");
    g_autoptr(QIOSocketAddress) local = NULL;
    g_autoptr(QIOChannelSocket) client = qio_channel_socket_new();
    g_autoptr(QIOChannelSocket) server = NULL;
    g_autoptr(QIOChannelSocket) client2 = qio_channel_socket_new();
    g_autoptr(QIOChannelSocket) server2 = NULL;
    g_autoptr(GError) err = NULL;

    local = qio_channel_socket_get_local_address(lsn, &err);
    assert_non_null(local);
    assert_int_equal(qio_channel_socket_connect_sync(client, local, &err), 0);
    accept_inject = errs;
    server = qio_channel_socket_accept(lsn, &err);
    accept_inject = NULL;
    if (!server) {
        fail_msg("accept failed: %s", err->message);
    }

    assert_int_equal(qio_channel_socket_connect_sync(client2, local, &err), 0);
    accept_inject = errs;
    assert_int_equal(qio_channel_socket_try_accept(lsn, &server2, &err), 0);
    accept_inject = NULL;
    assert_non_null(server2);

    /* Other errors still fail: they are about the listening socket. */
    {
        static const int bad[][2] = { { EMFILE, 0 }, { EOPNOTSUPP, 0 } };

        for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
            g_autoptr(QIOChannelSocket) none = NULL;

            g_clear_error(&err);
            accept_inject = bad[i];
            assert_int_equal(qio_channel_socket_try_accept(lsn, &none, &err),
                             -1);
            accept_inject = NULL;
            assert_null(none);
            assert_non_null(err);
        }
    }
}

static void test_accept_modes(void **state)
{
    g_autoptr(QIOChannelSocket) lsn = listen_on("127.0.0.1:0");
    g_autoptr(QIOSocketAddress) local =
        qio_channel_socket_get_local_address(lsn, NULL);
    g_autoptr(QIOChannelSocket) server = NULL;
    g_autoptr(QIOChannelSocket) client = NULL;
    g_autoptr(GError) err = NULL;
    QIOChannelSocket *none = NULL;
    ConnectLater cl;
    GThread *thread;

    assert_int_equal(qio_channel_set_blocking(QIO_CHANNEL(lsn), false, NULL),
                     0);
    assert_int_equal(qio_channel_socket_try_accept(lsn, &none, &err),
                     QIO_CHANNEL_ERR_BLOCK);
    assert_null(none);
    assert_null(err);

    /* accept() waits even on a non-blocking listener. */
    cl.str = qio_socket_address_to_string(local);
    thread = g_thread_new("connect", connect_later, &cl);
    server = qio_channel_socket_accept(lsn, &err);
    client = g_thread_join(thread);
    g_free(cl.str);
    assert_non_null(server);
    /* Accepted channels are blocking whatever the listener's mode. */
    assert_false(fcntl(qio_channel_socket_get_fd(server), F_GETFL) &
                 O_NONBLOCK);
    assert_true(fcntl(qio_channel_socket_get_fd(server), F_GETFD) & FD_CLOEXEC);
}

static void test_closed(void **state)
{
    g_autoptr(QIOChannelSocket) a = NULL;
    g_autoptr(QIOChannelSocket) b = NULL;
    g_autoptr(GError) err = NULL;
    char c;

    make_socketpair(&a, &b);
    assert_int_equal(qio_channel_close(QIO_CHANNEL(a), NULL), 0);
    assert_int_equal(qio_channel_close(QIO_CHANNEL(a), NULL), 0);
    assert_int_equal(qio_channel_socket_get_fd(a), -1);
    assert_int_equal(qio_channel_read(QIO_CHANNEL(a), &c, 1, &err), -1);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_CLOSED));
    g_clear_error(&err);
    assert_int_equal(qio_channel_write(QIO_CHANNEL(a), "x", 1, &err), -1);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_CLOSED));
}

/*
 * Returns NULL after a transfer over vsock loopback, or why vsock cannot
 * be used here.  Kept apart from the test so that everything is freed
 * before skip() leaves the test.
 */
static char *try_vsock(void)
{
    g_autoptr(QIOSocketAddress) addr = parse("vsock:4294967295:4294967295");
    g_autoptr(QIOChannelSocket) lsn = qio_channel_socket_new();
    g_autoptr(QIOSocketAddress) local = NULL;
    g_autoptr(QIOSocketAddress) loop = NULL;
    g_autoptr(QIOChannelSocket) client = qio_channel_socket_new();
    g_autoptr(QIOChannelSocket) server = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree char *str = NULL;

    if (qio_channel_socket_listen_sync(lsn, addr, 1, &err) < 0) {
        /* Whatever the reason, it must be an error, cleanly reported. */
        assert_true(err->domain == QIO_ERROR);
        return g_strdup_printf("vsock is not usable here (%s)", err->message);
    }
    local = qio_channel_socket_get_local_address(lsn, &err);
    assert_non_null(local);
    /* Local loopback is cid 1 (VMADDR_CID_LOCAL). */
    str = g_strdup_printf("vsock:1:%s", local->u.vsock.port);
    loop = parse(str);
    if (qio_channel_socket_connect_sync(client, loop, &err) < 0) {
        assert_true(err->domain == QIO_ERROR);
        return g_strdup_printf("vsock loopback is not available (%s)",
                               err->message);
    }
    server = qio_channel_socket_accept(lsn, &err);
    assert_non_null(server);
    qio_test_transfer(QIO_CHANNEL(client), QIO_CHANNEL(server), 4 * 1024 * 1024,
                      true, true);
    return NULL;
}

static void test_vsock(void **state)
{
    char *why = try_vsock();

    if (why) {
        print_message("%s; skipping\n", why);
        g_free(why);
        skip();
    }
}

static int setup(void **state)
{
    tmpdir = g_dir_make_tmp("qio-test-socket-XXXXXX", NULL);
    return tmpdir ? 0 : -1;
}

static int teardown(void **state)
{
    g_autoptr(GDir) dir = g_dir_open(tmpdir, 0, NULL);
    const char *name;

    while (dir && (name = g_dir_read_name(dir))) {
        g_autofree char *path = g_build_filename(tmpdir, name, NULL);

        unlink(path);
    }
    rmdir(tmpdir);
    g_free(tmpdir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tcp_ipv4),
        cmocka_unit_test(test_tcp_ipv6),
        cmocka_unit_test(test_unix_path),
        cmocka_unit_test(test_unix_abstract),
        cmocka_unit_test(test_socketpair),
        cmocka_unit_test(test_new_fd_errors),
        cmocka_unit_test(test_new_fd_cloexec_and_mode),
        cmocka_unit_test(test_fd_address),
        cmocka_unit_test(test_fd_passing),
        cmocka_unit_test(test_fd_passing_unsupported),
        cmocka_unit_test(test_fd_passing_bounds),
        cmocka_unit_test(test_eof),
        cmocka_unit_test(test_epipe),
        cmocka_unit_test(test_econnreset),
        cmocka_unit_test(test_connect_refused),
        cmocka_unit_test(test_connect_errors),
        cmocka_unit_test(test_async),
        cmocka_unit_test(test_shutdown),
        cmocka_unit_test(test_input_pending),
        cmocka_unit_test(test_discard_eof),
        cmocka_unit_test(test_discard_max),
        cmocka_unit_test(test_discard_timeout),
        cmocka_unit_test(test_discard_errors),
        cmocka_unit_test(test_addresses),
        cmocka_unit_test(test_watches),
        cmocka_unit_test(test_watch_tcp_nonblocking),
        cmocka_unit_test(test_peek),
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_listen_options),
        cmocka_unit_test(test_listen_in_use),
        cmocka_unit_test(test_unix_stale_and_unlink),
        cmocka_unit_test(test_unix_keeps_replaced_file),
        cmocka_unit_test(test_accept_modes),
        cmocka_unit_test(test_accept_pending_error),
        cmocka_unit_test(test_closed),
        cmocka_unit_test(test_vsock),
    };

    /* Keep SIGPIPE fatal so that a missing MSG_NOSIGNAL kills the test. */
    signal(SIGPIPE, SIG_DFL);
    return cmocka_run_group_tests(tests, setup, teardown);
}
