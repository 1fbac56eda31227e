/*
 * Unit tests for the socket chardev: a TCP server seen by raw client
 * sockets (data both ways, QEMU's filename strings, one client at a time,
 * backpressure in both directions), telnet negotiation and filtering,
 * descriptors passed over a UNIX socket, clients with and without
 * reconnect, and TLS between a server and a client chardev with each kind
 * of refusal followed by a good client.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "chardev-test-frontend.h"
#include "chardev/char-socket.h"
#include "chardev/telnet.h"
#include "crypto-tls-helpers.h"
#include "authz/base.h"
#include "qom/object.h"

typedef TestFe Fe;

/* Run the context for @ms milliseconds. */
static void run_for(unsigned ms)
{
    gint64 end = g_get_monotonic_time() + ms * 1000;

    while (g_get_monotonic_time() < end) {
        test_fe_iterate();
    }
}

static int teardown(void **state)
{
    qio_chardev_remove_all();
    qom_object_table_clear();
    qcrypto_test_tmpdir_remove_all();
    return 0;
}

static QIOChardev *tcp_server(const char *id, bool telnet, GError **errp)
{
    g_autoptr(QIOSocketAddress) addr =
        qio_socket_address_new_inet("127.0.0.1", "0");
    QIOChardevSocketOptions so = {
        .addr = addr,
        .server = true,
        .telnet = telnet,
    };

    return qio_chardev_socket_new(id, &so, errp);
}

static int server_port(QIOChardev *chr)
{
    g_autoptr(GPtrArray) addrs =
        qio_chardev_socket_get_local_addresses(chr, NULL);
    QIOSocketAddress *a;

    assert_non_null(addrs);
    a = g_ptr_array_index(addrs, 0);
    return atoi(a->u.inet.port);
}

static int tcp_connect(int port)
{
    struct sockaddr_in sin = {
        .sin_family = AF_INET,
        .sin_port = htons(port),
        .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
    };
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    return fd;
}

static int local_port(int fd)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);

    assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    return ntohs(sin.sin_port);
}

/* Read exactly @len bytes from @fd while running the context. */
static void recv_exact(int fd, void *buf, size_t len)
{
    size_t got = 0;
    gint64 end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;

    while (got < len && g_get_monotonic_time() < end) {
        ssize_t n = recv(fd, (char *)buf + got, len - got, MSG_DONTWAIT);

        if (n > 0) {
            got += n;
        } else {
            assert_true(n < 0 && (errno == EAGAIN || errno == EINTR));
            test_fe_iterate();
        }
    }
    assert_int_equal(got, len);
}

/* Nothing arrives on @fd within @ms while the context runs. */
static void assert_silent(int fd, unsigned ms)
{
    char c;

    run_for(ms);
    assert_int_equal(recv(fd, &c, 1, MSG_DONTWAIT), -1);
    assert_int_equal(errno, EAGAIN);
}

static void test_tcp_server(void **state)
{
    g_autoptr(GError) err = NULL;
    QIOChardev *chr = tcp_server("s0", false, &err);
    Fe *fe;
    g_autofree char *fn = NULL;
    g_autofree char *want = NULL;
    char buf[16];
    int port, fd;

    assert_non_null(chr);
    port = server_port(chr);
    fn = qio_chardev_get_filename(chr);
    want = g_strdup_printf("disconnected:tcp:127.0.0.1:%d,server=on", port);
    assert_string_equal(fn, want);
    assert_string_equal(qio_chardev_get_backend_name(chr), "socket");
    fe = test_fe_new(chr);

    fd = tcp_connect(port);
    WAIT_UNTIL(fe->events[QIO_CHARDEV_EVENT_OPENED] == 1);
    g_free(fn);
    g_free(want);
    fn = qio_chardev_get_filename(chr);
    want = g_strdup_printf("tcp:127.0.0.1:%d,server=on <-> 127.0.0.1:%d", port,
                           local_port(fd));
    assert_string_equal(fn, want);
    assert_true(qio_chardev_socket_is_connected(chr));

    assert_int_equal(send(fd, "hello", 5, 0), 5);
    WAIT_UNTIL(fe->in->len == 5);
    assert_string_equal(fe->in->str, "hello");
    assert_int_equal(qio_chardev_write(chr, "world", 5, &err), 5);
    recv_exact(fd, buf, 5);
    assert_memory_equal(buf, "world", 5);

    close(fd);
    WAIT_UNTIL(fe->events[QIO_CHARDEV_EVENT_CLOSED] == 1);
    g_free(fn);
    fn = qio_chardev_get_filename(chr);
    assert_true(g_str_has_prefix(fn, "disconnected:tcp:127.0.0.1:"));
    /* Writes without a peer are dropped, not queued. */
    assert_int_equal(qio_chardev_write(chr, "lost", 4, &err), 4);

    /* The next client is served, and does not see the dropped bytes. */
    fd = tcp_connect(port);
    WAIT_UNTIL(fe->events[QIO_CHARDEV_EVENT_OPENED] == 2);
    assert_int_equal(qio_chardev_write(chr, "2", 1, &err), 1);
    recv_exact(fd, buf, 1);
    assert_int_equal(buf[0], '2');
    assert_silent(fd, 50);
    close(fd);
    WAIT_UNTIL(fe->events[QIO_CHARDEV_EVENT_CLOSED] == 2);
    test_fe_free(chr, fe);
}

static void test_one_client_at_a_time(void **state)
{
    g_autoptr(GError) err = NULL;
    QIOChardev *chr = tcp_server("s1", false, &err);
    Fe *fe = test_fe_new(chr);
    int port = server_port(chr);
    int a, b;
    char c;

    a = tcp_connect(port);
    WAIT_UNTIL(fe->events[QIO_CHARDEV_EVENT_OPENED] == 1);
    /* The kernel queues b; the chardev does not serve it yet. */
    b = tcp_connect(port);
    assert_int_equal(send(b, "B", 1, 0), 1);
    run_for(200);
    assert_int_equal(fe->events[QIO_CHARDEV_EVENT_OPENED], 1);
    assert_int_equal(fe->in->len, 0);
    assert_int_equal(qio_chardev_write(chr, "A", 1, &err), 1);
    recv_exact(a, &c, 1);
    assert_int_equal(c, 'A');
    assert_silent(b, 50);

    close(a);
    WAIT_UNTIL(fe->events[QIO_CHARDEV_EVENT_OPENED] == 2);
    WAIT_UNTIL(fe->in->len == 1);
    assert_string_equal(fe->in->str, "B");
    assert_int_equal(fe->events[QIO_CHARDEV_EVENT_CLOSED], 1);
    close(b);
    WAIT_UNTIL(fe->events[QIO_CHARDEV_EVENT_CLOSED] == 2);
    test_fe_free(chr, fe);
}

static void test_backpressure(void **state)
{
    g_autoptr(GError) err = NULL;
    QIOChardev *chr = tcp_server("s2", false, &err);
    Fe *fe = test_fe_new(chr);
    int port = server_port(chr);
    g_autofree char *big = g_malloc(1 << 20);
    size_t sent = 0, taken = 0;
    int fd;
    gssize n;

    memset(big, 'x', 1 << 20);
    fe->room = 0;
    fd = tcp_connect(port);
    WAIT_UNTIL(fe->events[QIO_CHARDEV_EVENT_OPENED] == 1);

    /* Input: with no room the chardev reads nothing; the peer blocks. */
    for (int i = 0; i < 200; i++) {
        n = send(fd, big, 1 << 20, MSG_DONTWAIT);
        if (n > 0) {
            sent += n;
        }
        test_fe_iterate();
    }
    n = send(fd, big, 1 << 20, MSG_DONTWAIT);
    assert_int_equal(n, -1);
    assert_int_equal(errno, EAGAIN);
    assert_int_equal(fe->in->len, 0);
    assert_true(sent < (16 << 20));
    fe->room = 10;
    qio_chardev_accept_input(chr);
    WAIT_UNTIL(fe->in->len == 10);
    run_for(50);
    assert_int_equal(fe->in->len, 10);
    fe->room = sent;
    qio_chardev_accept_input(chr);
    WAIT_UNTIL(fe->in->len == sent);

    /* Output: the peer does not read; writes get short, never unbounded. */
    for (int i = 0; i < 200; i++) {
        n = qio_chardev_write(chr, big, 1 << 16, &err);
        assert_true(n >= 0);
        taken += n;
        if (n < (1 << 16)) {
            break;
        }
        test_fe_iterate();
    }
    assert_true(taken < (16 << 20));
    n = qio_chardev_write(chr, big, 1 << 16, &err);
    assert_true(n < (1 << 16));
    taken += n;
    assert_int_equal(fe->writable, 0);
    /* The peer drains it all; the frontend hears it may write again. */
    {
        g_autofree char *sink = g_malloc(taken);

        recv_exact(fd, sink, taken);
        assert_int_equal(sink[0], 'x');
        assert_int_equal(sink[taken - 1], 'x');
    }
    WAIT_UNTIL(fe->writable == 1);
    close(fd);
    WAIT_UNTIL(fe->events[QIO_CHARDEV_EVENT_CLOSED] == 1);
    test_fe_free(chr, fe);
}

static void test_telnet(void **state)
{
    g_autoptr(GError) err = NULL;
    QIOChardev *chr = tcp_server("t0", true, &err);
    Fe *fe = test_fe_new(chr);
    int port = server_port(chr);
    g_autofree char *fn = qio_chardev_get_filename(chr);
    g_autofree char *want = NULL;
    uint8_t init[12];
    static const uint8_t in[] = {
        'a', 255, 251, 1,             /* IAC WILL ECHO */
        'b', 255, 255,                /* IAC IAC: a data byte 255 */
        'c', 255, 243,                /* IAC BREAK */
        'd', 255, 250, 24,  0,   'x', /* IAC SB TERMINAL-TYPE IS x */
        255, 255, 'y', 255, 240, 'e', /* (escaped 255 inside) IAC SE */
        255, 241, 'f',                /* IAC NOP */
    };
    int fd;

    want = g_strdup_printf("disconnected:telnet:127.0.0.1:%d,server=on", port);
    assert_string_equal(fn, want);
    fd = tcp_connect(port);
    /* The offer QEMU makes: WILL ECHO, WILL SGA, WILL BINARY, DO BINARY. */
    recv_exact(fd, init, sizeof(init));
    assert_memory_equal(init,
                        "\xff\xfb\x01\xff\xfb\x03\xff\xfb\x00\xff\xfd\x00", 12);
    WAIT_UNTIL(fe->events[QIO_CHARDEV_EVENT_OPENED] == 1);
    g_free(fn);
    fn = qio_chardev_get_filename(chr);
    assert_true(g_str_has_prefix(fn, "telnet:127.0.0.1:"));

    /* Byte by byte, so every command is split across reads. */
    for (size_t i = 0; i < sizeof(in); i++) {
        assert_int_equal(send(fd, &in[i], 1, 0), 1);
        run_for(2);
    }
    WAIT_UNTIL(fe->in->len == 7);
    assert_memory_equal(fe->in->str,
                        "ab\xff"
                        "cdef",
                        7);
    assert_int_equal(fe->events[QIO_CHARDEV_EVENT_BREAK], 1);

    qio_chardev_send_break(chr);
    recv_exact(fd, init, 2);
    assert_memory_equal(init, "\xff\xf3", 2);
    close(fd);
    WAIT_UNTIL(fe->events[QIO_CHARDEV_EVENT_CLOSED] == 1);
    test_fe_free(chr, fe);
}

static void test_telnet_filter(void **state)
{
    ChardevTelnet tn = { 0 };
    unsigned breaks = 0;
    uint8_t all[256];
    uint8_t buf[4];

    /* Plain data passes untouched, 255 aside. */
    for (int i = 0; i < 255; i++) {
        all[i] = i;
    }
    assert_int_equal(chardev_telnet_filter(&tn, all, 255, &breaks), 255);
    assert_int_equal(all[254], 254);
    /* A long subnegotiation is skipped without buffering it. */
    buf[0] = 255;
    buf[1] = 250;
    assert_int_equal(chardev_telnet_filter(&tn, buf, 2, &breaks), 0);
    memset(all, 'z', sizeof(all));
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(chardev_telnet_filter(&tn, all, 256, &breaks), 0);
    }
    buf[0] = 255;
    buf[1] = 240;
    buf[2] = 'k';
    assert_int_equal(chardev_telnet_filter(&tn, buf, 3, &breaks), 1);
    assert_int_equal(buf[0], 'k');
    assert_int_equal(breaks, 0);
}

static void test_unix_fds(void **state)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *dir = g_dir_make_tmp("test-chardev-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "s.sock", NULL);
    g_autoptr(QIOSocketAddress) addr = qio_socket_address_new_unix(path, false);
    QIOChardevSocketOptions so = { .addr = addr, .server = true };
    QIOChardev *chr = qio_chardev_socket_new("u0", &so, &err);
    g_autofree char *fn = NULL;
    g_autofree char *want = NULL;
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    char cbuf[CMSG_SPACE(2 * sizeof(int))] = { 0 };
    struct iovec iov = { .iov_base = "F", .iov_len = 1 };
    struct msghdr msg = {
        .msg_iov = &iov,
        .msg_iovlen = 1,
        .msg_control = cbuf,
        .msg_controllen = sizeof(cbuf),
    };
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    int pass[2], fd, got;
    Fe *fe;

    assert_non_null(chr);
    fn = qio_chardev_get_filename(chr);
    want = g_strdup_printf("disconnected:unix:%s,server=on", path);
    assert_string_equal(fn, want);
    fe = test_fe_new(chr);
    g_strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
    WAIT_UNTIL(fe->events[QIO_CHARDEV_EVENT_OPENED] == 1);
    g_free(fn);
    g_free(want);
    fn = qio_chardev_get_filename(chr);
    want = g_strdup_printf("unix:%s,server=on", path);
    assert_string_equal(fn, want);

    assert_int_equal(pipe2(pass, O_CLOEXEC), 0);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(2 * sizeof(int));
    memcpy(CMSG_DATA(cmsg), pass, sizeof(pass));
    assert_int_equal(sendmsg(fd, &msg, 0), 1);
    close(pass[0]);
    WAIT_UNTIL(fe->in->len == 1);
    /* Both descriptors are there for the frontend, in order. */
    got = qio_chardev_take_fd(chr);
    assert_true(got >= 0);
    assert_int_equal(write(pass[1], "p", 1), 1);
    {
        char c = 0;

        assert_int_equal(read(got, &c, 1), 1);
        assert_int_equal(c, 'p');
    }
    close(got);
    got = qio_chardev_take_fd(chr);
    assert_true(got >= 0);
    close(got);
    assert_int_equal(qio_chardev_take_fd(chr), -1);
    close(pass[1]);
    close(fd);
    WAIT_UNTIL(fe->events[QIO_CHARDEV_EVENT_CLOSED] == 1);
    test_fe_free(chr, fe);
    assert_true(qio_chardev_remove("u0", &err));
    g_rmdir(dir);
}

/* Connect to the UNIX socket @opaque once it exists; the fd, or -1. */
static gpointer late_client(gpointer opaque)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    gint64 end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;

    g_strlcpy(sun.sun_path, opaque, sizeof(sun.sun_path));
    g_usleep(200 * 1000);
    while (g_get_monotonic_time() < end) {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
            return GINT_TO_POINTER(fd);
        }
        close(fd);
        g_usleep(10 * 1000);
    }
    return GINT_TO_POINTER(-1);
}

/* wait=on: creation returns only once a client is connected. */
static void test_wait(void **state)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *dir = g_dir_make_tmp("test-chardev-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "w.sock", NULL);
    g_autoptr(QIOSocketAddress) addr = qio_socket_address_new_unix(path, false);
    QIOChardevSocketOptions so = { .addr = addr, .server = true, .wait = true };
    GThread *th = g_thread_new("late-client", late_client, path);
    gint64 start = g_get_monotonic_time();
    QIOChardev *chr = qio_chardev_socket_new("w0", &so, &err);
    int fd = GPOINTER_TO_INT(g_thread_join(th));
    Fe *fe;

    assert_non_null(chr);
    assert_true(fd >= 0);
    assert_true(qio_chardev_socket_is_connected(chr));
    assert_true(g_get_monotonic_time() - start >= 150 * 1000);
    /* The frontend attached afterwards still hears OPENED. */
    fe = test_fe_new(chr);
    WAIT_UNTIL(fe->events[QIO_CHARDEV_EVENT_OPENED] == 1);
    assert_int_equal(send(fd, "w", 1, 0), 1);
    WAIT_UNTIL(fe->in->len == 1);
    close(fd);
    WAIT_UNTIL(fe->events[QIO_CHARDEV_EVENT_CLOSED] == 1);
    test_fe_free(chr, fe);
    assert_true(qio_chardev_remove("w0", &err));
    g_rmdir(dir);
}

static int listen_local(int *port)
{
    struct sockaddr_in sin = {
        .sin_family = AF_INET,
        .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
    };
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int one = 1;

    /* So that the port can be bound again while old sockets linger. */
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(listen(fd, 16), 0);
    *port = local_port(fd);
    return fd;
}

/* Accept one connection on @lfd while running the context, or -1. */
static int accept_within(int lfd, unsigned ms)
{
    gint64 end = g_get_monotonic_time() + ms * 1000;

    while (g_get_monotonic_time() < end) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd >= 0) {
            return fd;
        }
        test_fe_iterate();
    }
    return -1;
}

static void test_client(void **state)
{
    g_autoptr(GError) err = NULL;
    int port, lfd = listen_local(&port);
    g_autofree char *ports = g_strdup_printf("%d", port);
    g_autoptr(QIOSocketAddress) addr =
        qio_socket_address_new_inet("127.0.0.1", ports);
    QIOChardevSocketOptions so = { .addr = addr };
    QIOChardev *chr = qio_chardev_socket_new("c0", &so, &err);
    g_autofree char *fn = NULL;
    g_autofree char *want = NULL;
    Fe *fe;
    int fd;
    char c;

    assert_non_null(chr);
    fe = test_fe_new(chr);
    fd = accept_within(lfd, 5000);
    assert_true(fd >= 0);
    WAIT_UNTIL(fe->events[QIO_CHARDEV_EVENT_OPENED] == 1);
    fn = qio_chardev_get_filename(chr);
    /* The local port is the client's ephemeral one; no ",server=on". */
    want = g_strdup_printf(" <-> 127.0.0.1:%d", port);
    assert_true(g_str_has_prefix(fn, "tcp:127.0.0.1:"));
    assert_true(g_str_has_suffix(fn, want));
    assert_null(strstr(fn, "server"));
    assert_int_equal(qio_chardev_write(chr, "c", 1, &err), 1);
    recv_exact(fd, &c, 1);
    assert_int_equal(c, 'c');
    close(fd);
    WAIT_UNTIL(fe->events[QIO_CHARDEV_EVENT_CLOSED] == 1);
    g_free(fn);
    g_free(want);
    fn = qio_chardev_get_filename(chr);
    want = g_strdup_printf("disconnected:tcp:127.0.0.1:%d", port);
    assert_string_equal(fn, want);
    /* Without reconnect it stays disconnected. */
    assert_int_equal(accept_within(lfd, 300), -1);
    test_fe_free(chr, fe);
    close(lfd);

    /* Nobody listening: refused at once, nothing registered. */
    assert_null(qio_chardev_socket_new("c1", &so, &err));
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_CONNECTION_REFUSED));
    assert_null(qio_chardev_find("c1"));
    g_clear_error(&err);

    /* Option mistakes. */
    so.wait = true;
    assert_null(qio_chardev_socket_new("c1", &so, &err));
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT));
    g_clear_error(&err);
    so.wait = false;
    so.server = true;
    so.reconnect_ms = 1000;
    assert_null(qio_chardev_socket_new("c1", &so, &err));
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT));
}

static void test_reconnect(void **state)
{
    g_autoptr(GError) err = NULL;
    int port, lfd = listen_local(&port);
    g_autofree char *ports = g_strdup_printf("%d", port);
    g_autoptr(QIOSocketAddress) addr =
        qio_socket_address_new_inet("127.0.0.1", ports);
    QIOChardevSocketOptions so = { .addr = addr, .reconnect_ms = 200 };
    QIOChardev *chr;
    Fe *fe;
    gint64 start;
    unsigned accepted = 0;
    int fd;

    /* A server that hangs up at once: one attempt per interval. */
    chr = qio_chardev_socket_new("r0", &so, &err);
    assert_non_null(chr);
    fe = test_fe_new(chr);
    start = g_get_monotonic_time();
    while (g_get_monotonic_time() - start < 1100 * 1000) {
        fd = accept_within(lfd, 50);
        if (fd >= 0) {
            accepted++;
            close(fd);
        }
    }
    /* ~1 + 1100/200; a spinning client would make thousands. */
    assert_true(accepted >= 3);
    assert_true(accepted <= 8);
    WAIT_UNTIL(fe->events[QIO_CHARDEV_EVENT_CLOSED] ==
               fe->events[QIO_CHARDEV_EVENT_OPENED]);

    /* No server at all: retried quietly, then served when one appears. */
    close(lfd);
    run_for(500);
    assert_false(qio_chardev_socket_is_connected(chr));
    {
        struct sockaddr_in sin = {
            .sin_family = AF_INET,
            .sin_port = htons(port),
            .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
        };
        int one = 1;

        lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
            fail_msg("bind port %d again: %s", port, g_strerror(errno));
        }
        assert_int_equal(listen(lfd, 4), 0);
    }
    fd = accept_within(lfd, 5000);
    assert_true(fd >= 0);
    WAIT_UNTIL(qio_chardev_socket_is_connected(chr));
    close(fd);
    close(lfd);
    test_fe_free(chr, fe);
}

/* ---- TLS ------------------------------------------------------------------
 */

typedef struct {
    QIOChardev *srv;
    Fe *sfe;
    int port;
} TlsServer;

static void tls_server_start(TlsServer *ts, const char *authz)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(QIOSocketAddress) addr =
        qio_socket_address_new_inet("127.0.0.1", "0");
    QIOChardevSocketOptions so = {
        .addr = addr,
        .server = true,
        .tls_creds = "tls-srv",
        .tls_authz = authz,
    };

    ts->srv = qio_chardev_socket_new("ts", &so, &err);
    assert_non_null(ts->srv);
    ts->sfe = test_fe_new(ts->srv);
    ts->port = server_port(ts->srv);
}

/* A client chardev with credentials @creds; returns it connected or not. */
static QIOChardev *tls_client(TlsServer *ts, const char *id, const char *creds)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *ports = g_strdup_printf("%d", ts->port);
    g_autoptr(QIOSocketAddress) addr =
        qio_socket_address_new_inet("localhost", ports);
    QIOChardevSocketOptions so = { .addr = addr, .tls_creds = creds };
    QIOChardev *chr;

    addr->u.inet.has_ipv4 = true;
    addr->u.inet.ipv4 = true;
    chr = qio_chardev_socket_new(id, &so, &err);
    assert_non_null(chr);
    return chr;
}

/* A good client is served: OPENED on both sides and data both ways. */
static void tls_good_client(TlsServer *ts, unsigned nth)
{
    QIOChardev *cli = tls_client(ts, "good", "tls-cli");
    Fe *cfe = test_fe_new(cli);

    WAIT_UNTIL(cfe->events[QIO_CHARDEV_EVENT_OPENED] == 1 &&
               ts->sfe->events[QIO_CHARDEV_EVENT_OPENED] == nth);
    assert_int_equal(qio_chardev_write(cli, "ping", 4, NULL), 4);
    WAIT_UNTIL(ts->sfe->in->len >= 4);
    assert_true(g_str_has_suffix(ts->sfe->in->str, "ping"));
    assert_int_equal(qio_chardev_write(ts->srv, "pong", 4, NULL), 4);
    WAIT_UNTIL(cfe->in->len == 4);
    assert_string_equal(cfe->in->str, "pong");
    test_fe_free(cli, cfe);
    assert_true(qio_chardev_remove("good", NULL));
    WAIT_UNTIL(ts->sfe->events[QIO_CHARDEV_EVENT_CLOSED] == nth);
}

/* A refused client: the server's frontend never hears of it. */
static void tls_refused_client(TlsServer *ts, const char *creds)
{
    QIOChardev *cli = tls_client(ts, "bad", creds);
    Fe *cfe = test_fe_new(cli);
    unsigned opened = ts->sfe->events[QIO_CHARDEV_EVENT_OPENED];

    run_for(500);
    assert_int_equal(ts->sfe->events[QIO_CHARDEV_EVENT_OPENED], opened);
    /* The client may complete its side before the server refuses. */
    WAIT_UNTIL(!qio_chardev_socket_is_connected(cli));
    test_fe_free(cli, cfe);
    assert_true(qio_chardev_remove("bad", NULL));
}

static QCryptoTestCredsDir *creds_dirs[2];

static int tls_setup(void **state)
{
    g_autoptr(GError) err = NULL;
    static const QCryptoTestCert other[] = {
        { "ca", NULL, QCRYPTO_TEST_REQ_CA("other CA"), QCRYPTO_TEST_FILE_CA,
          NULL, NULL },
        { "client", "ca", QCRYPTO_TEST_REQ_CLIENT("qio-test-client"),
          QCRYPTO_TEST_FILE_CLIENT, NULL, NULL },
    };
    g_autofree char *nocert = NULL;
    g_autofree char *cafile = NULL;
    g_autofree char *cadata = NULL;
    g_autofree char *dst = NULL;

    qcrypto_tls_creds_register_types();
    qauthz_register_types();
    creds_dirs[0] = qcrypto_test_creds_dir_new_standard(&err);
    assert_non_null(creds_dirs[0]);
    creds_dirs[1] =
        qcrypto_test_creds_dir_new(other, G_N_ELEMENTS(other), &err);
    assert_non_null(creds_dirs[1]);
    assert_non_null(qom_object_add_props(
        "tls-creds-x509", "tls-srv", &err, "endpoint", "server", "dir",
        qcrypto_test_creds_dir_path(creds_dirs[0]), NULL));
    assert_non_null(qom_object_add_props(
        "tls-creds-x509", "tls-cli", &err, "endpoint", "client", "dir",
        qcrypto_test_creds_dir_path(creds_dirs[0]), NULL));
    /* Trusts another CA, and its certificate is from that CA. */
    assert_non_null(qom_object_add_props(
        "tls-creds-x509", "tls-other", &err, "endpoint", "client", "dir",
        qcrypto_test_creds_dir_path(creds_dirs[1]), NULL));
    /* Trusts the right CA but has no certificate of its own. */
    nocert = qcrypto_test_tmpdir_new(&err);
    cafile = qcrypto_test_creds_dir_file(creds_dirs[0], "ca-cert.pem");
    assert_true(g_file_get_contents(cafile, &cadata, NULL, NULL));
    dst = g_build_filename(nocert, "ca-cert.pem", NULL);
    assert_true(g_file_set_contents(dst, cadata, -1, NULL));
    assert_non_null(qom_object_add_props("tls-creds-x509", "tls-nocert", &err,
                                         "endpoint", "client", "dir", nocert,
                                         NULL));
    assert_non_null(
        qom_object_add_props("authz-simple", "auth-ok", &err, "identity",
                             "O=qio test,CN=qio-test-client", NULL));
    assert_non_null(qom_object_add_props("authz-simple", "auth-deny", &err,
                                         "identity", "CN=nobody", NULL));
    return 0;
}

static int tls_teardown(void **state)
{
    qio_chardev_remove_all();
    qom_object_table_clear();
    g_clear_pointer(&creds_dirs[0], qcrypto_test_creds_dir_free);
    g_clear_pointer(&creds_dirs[1], qcrypto_test_creds_dir_free);
    qcrypto_test_tmpdir_remove_all();
    return 0;
}

static void test_tls_refusals(void **state)
{
    TlsServer ts = { 0 };
    g_autofree char *fn = NULL;
    size_t inlen;
    int fd;

    tls_server_start(&ts, "auth-ok");
    /* The frontend of a TLS server sees nothing before the handshake. */
    tls_good_client(&ts, 1);

    tls_refused_client(&ts, "tls-other");
    tls_good_client(&ts, 2);
    tls_refused_client(&ts, "tls-nocert");
    tls_good_client(&ts, 3);

    /* A plain client speaking in the clear. */
    inlen = ts.sfe->in->len;
    fd = tcp_connect(ts.port);
    assert_int_equal(send(fd, "info version\r\n", 14, 0), 14);
    run_for(300);
    assert_int_equal(ts.sfe->events[QIO_CHARDEV_EVENT_OPENED], 3);
    assert_int_equal(ts.sfe->in->len, inlen);
    close(fd);
    run_for(100);
    tls_good_client(&ts, 4);

    /* A plain client connected and silent does not show as a peer. */
    fd = tcp_connect(ts.port);
    run_for(200);
    fn = qio_chardev_get_filename(ts.srv);
    assert_true(g_str_has_prefix(fn, "disconnected:tcp:127.0.0.1:"));
    close(fd);
    run_for(100);
    tls_good_client(&ts, 5);
    test_fe_free(ts.srv, ts.sfe);
    assert_true(qio_chardev_remove("ts", NULL));
}

/*
 * One TLS record carrying many commands, taken by a frontend 10 bytes at a
 * time: the rest waits decrypted inside the TLS layer, with nothing more
 * arriving on the socket, and must still be delivered.
 */
static void test_tls_pending_record(void **state)
{
    TlsServer ts = { 0 };
    QIOChardev *cli;
    Fe *cfe;
    char msg[3000];

    for (size_t i = 0; i < sizeof(msg); i++) {
        msg[i] = 'a' + i % 26;
    }
    tls_server_start(&ts, NULL);
    cli = tls_client(&ts, "good", "tls-cli");
    cfe = test_fe_new(cli);
    WAIT_UNTIL(cfe->events[QIO_CHARDEV_EVENT_OPENED] == 1 &&
               ts.sfe->events[QIO_CHARDEV_EVENT_OPENED] == 1);
    ts.sfe->room = 10;
    qio_chardev_accept_input(ts.srv);
    assert_int_equal(qio_chardev_write(cli, msg, sizeof(msg), NULL),
                     sizeof(msg));
    while (ts.sfe->in->len < sizeof(msg)) {
        size_t before = ts.sfe->in->len;

        WAIT_UNTIL(ts.sfe->in->len == before + 10 ||
                   ts.sfe->in->len == sizeof(msg));
        ts.sfe->room = 10;
        qio_chardev_accept_input(ts.srv);
    }
    assert_memory_equal(ts.sfe->in->str, msg, sizeof(msg));
    test_fe_free(cli, cfe);
    test_fe_free(ts.srv, ts.sfe);
}

static void test_tls_authz_deny(void **state)
{
    TlsServer ts = { 0 };

    tls_server_start(&ts, "auth-deny");
    tls_refused_client(&ts, "tls-cli");
    test_fe_free(ts.srv, ts.sfe);
    assert_true(qio_chardev_remove("ts", NULL));

    /* The same client is served by a server whose authz allows it. */
    tls_server_start(&ts, "auth-ok");
    tls_good_client(&ts, 1);
    test_fe_free(ts.srv, ts.sfe);
    assert_true(qio_chardev_remove("ts", NULL));
}

static void test_tls_options(void **state)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(QIOSocketAddress) addr =
        qio_socket_address_new_inet("127.0.0.1", "0");
    QIOChardevSocketOptions so = {
        .addr = addr,
        .server = true,
        .tls_creds = "tls-cli", /* a client endpoint on a server */
    };

    assert_null(qio_chardev_socket_new("x", &so, &err));
    assert_non_null(err);
    g_clear_error(&err);
    so.tls_creds = "no-such";
    assert_null(qio_chardev_socket_new("x", &so, &err));
    assert_true(g_error_matches(err, QOM_ERROR, QOM_ERROR_NOT_FOUND));
    g_clear_error(&err);
    so.tls_creds = NULL;
    so.tls_authz = "auth-ok";
    assert_null(qio_chardev_socket_new("x", &so, &err));
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT));
    g_clear_error(&err);
    /* While a chardev uses them, the credentials cannot be deleted. */
    so.tls_creds = "tls-srv";
    so.tls_authz = NULL;
    assert_non_null(qio_chardev_socket_new("x", &so, &err));
    assert_false(qom_object_del("tls-srv", &err));
    g_clear_error(&err);
    assert_true(qio_chardev_remove("x", NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_tcp_server, teardown),
        cmocka_unit_test_teardown(test_one_client_at_a_time, teardown),
        cmocka_unit_test_teardown(test_backpressure, teardown),
        cmocka_unit_test_teardown(test_telnet, teardown),
        cmocka_unit_test_teardown(test_telnet_filter, teardown),
        cmocka_unit_test_teardown(test_unix_fds, teardown),
        cmocka_unit_test_teardown(test_wait, teardown),
        cmocka_unit_test_teardown(test_client, teardown),
        cmocka_unit_test_teardown(test_reconnect, teardown),
        cmocka_unit_test_setup_teardown(test_tls_refusals, tls_setup,
                                        tls_teardown),
        cmocka_unit_test_setup_teardown(test_tls_pending_record, tls_setup,
                                        tls_teardown),
        cmocka_unit_test_setup_teardown(test_tls_authz_deny, tls_setup,
                                        tls_teardown),
        cmocka_unit_test_setup_teardown(test_tls_options, tls_setup,
                                        tls_teardown),
    };

    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
