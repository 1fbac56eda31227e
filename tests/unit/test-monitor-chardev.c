/*
 * Unit tests for QMP monitors on socket chardevs (monitor_attach_chardev):
 * real UNIX-socket clients talk to monitors served from this thread's
 * main context.  Several monitors at once, each on its own state; a
 * client that floods requests and never reads stops being read while
 * the other monitor answers at once; descriptors passed with SCM_RIGHTS
 * reach getfd; a new connection starts a new session.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "chardev/char-socket.h"
#include "monitor/qmp.h"
#include "monitor-test-commands.h"
#include "qapi/qapi-commands-control.h"
#include "qapi/qapi-commands-misc.h"

#define WAIT_MS 10000

static QmpCommandList *commands;
static char *tmpdir;

static void cmd_big(JsonObject *args, JsonNode **ret, GError **errp)
{
    g_autofree char *s = g_strnfill(30000, 'y');

    *ret = json_node_init_string(json_node_alloc(), s);
}

static int setup(void **state)
{
    commands = qmp_command_list_new();
    monitor_test_register_commands(commands);
    qmp_register_command(commands, "big", cmd_big, 0, NULL);
    tmpdir = g_dir_make_tmp("qio-monitor-XXXXXX", NULL);
    assert_non_null(tmpdir);
    return 0;
}

static int teardown(void **state)
{
    qio_chardev_remove_all();
    g_clear_pointer(&commands, qmp_command_list_free);
    g_rmdir(tmpdir);
    g_clear_pointer(&tmpdir, g_free);
    return 0;
}

/* A QMP monitor on a new UNIX socket server chardev. */
typedef struct {
    char *path;
    QIOChardev *chr;
    MonitorQMP *qmp;
} Served;

static Served *serve(const char *id)
{
    Served *s = g_new0(Served, 1);
    g_autoptr(GError) err = NULL;
    g_autoptr(QIOSocketAddress) addr = NULL;
    QIOChardevSocketOptions so = { .server = true, .wait = false };
    MonitorQMPOptions opts = { .commands = commands };

    s->path = g_strdup_printf("%s/%s.sock", tmpdir, id);
    addr = qio_socket_address_new_unix(s->path, false);
    so.addr = addr;
    s->chr = qio_chardev_socket_new(id, &so, &err);
    if (!s->chr) {
        fail_msg("chardev %s: %s", id, err->message);
    }
    s->qmp = monitor_qmp_new(&opts);
    assert_true(monitor_attach_chardev(MONITOR_BASE(s->qmp), s->chr, &err));
    return s;
}

static void served_free(Served *s)
{
    g_clear_object(&s->qmp);
    assert_true(qio_chardev_remove(qio_chardev_get_id(s->chr), NULL));
    unlink(s->path);
    g_free(s->path);
    g_free(s);
}

static int client_connect(const char *path)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

    assert_true(fd >= 0);
    g_strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
    assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
    return fd;
}

/* Run the main context for up to @ms, or until @done(@opaque). */
static void pump(int ms, bool (*done)(void *), void *opaque)
{
    gint64 end = g_get_monotonic_time() + ms * 1000;

    while (g_get_monotonic_time() < end) {
        if (done && done(opaque)) {
            return;
        }
        if (!g_main_context_iteration(NULL, FALSE)) {
            g_usleep(1000);
        }
    }
}

typedef struct {
    int fd;
    GString *in;
    unsigned want_lines;
} Reader;

static bool reader_done(void *opaque)
{
    Reader *r = opaque;
    char buf[65536];
    ssize_t n;
    unsigned lines = 0;

    while ((n = recv(r->fd, buf, sizeof(buf), 0)) > 0) {
        g_string_append_len(r->in, buf, n);
    }
    for (const char *p = r->in->str; (p = strstr(p, "\r\n")); p += 2) {
        lines++;
    }
    return lines >= r->want_lines;
}

/* Read @lines lines (CRLF-terminated) from @fd while serving. */
static char *read_lines(int fd, unsigned lines)
{
    Reader r = { fd, g_string_new(NULL), lines };

    pump(WAIT_MS, reader_done, &r);
    if (!reader_done(&r)) {
        fail_msg("wanted %u lines, got '%s'", lines, r.in->str);
    }
    return g_string_free(r.in, false);
}

static void send_str(int fd, const char *s)
{
    size_t len = strlen(s);

    assert_int_equal(send(fd, s, len, MSG_NOSIGNAL), (ssize_t)len);
}

static void xchg(int fd, const char *req, const char *want)
{
    g_autofree char *got = NULL;

    send_str(fd, req);
    got = read_lines(fd, 1);
    if (strcmp(got, want)) {
        fail_msg("sent %s\n got: %s\nwant: %s", req, got, want);
    }
}

static int open_negotiated(Served *s)
{
    int fd = client_connect(s->path);
    g_autofree char *greeting = read_lines(fd, 1);

    assert_true(g_str_has_prefix(greeting, "{\"QMP\": {\"version\": "));
    xchg(fd, "{\"execute\": \"qmp_capabilities\"}", "{\"return\": {}}\r\n");
    return fd;
}

static void test_session_and_reconnect(void **state)
{
    Served *s = serve("m0");
    int fd = open_negotiated(s);
    g_autofree char *version = NULL;

    send_str(fd, "{\"execute\": \"query-version\", \"id\": \"v\"}");
    version = read_lines(fd, 1);
    assert_true(g_str_has_prefix(version, "{\"return\": {\"qemu\": "));
    assert_true(g_str_has_suffix(version, ", \"id\": \"v\"}\r\n"));
    close(fd);

    /* The next client gets a greeting and must negotiate again. */
    fd = client_connect(s->path);
    g_free(read_lines(fd, 1));
    xchg(fd, "{\"execute\": \"query-version\"}",
         "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": "
         "\"Expecting capabilities negotiation with "
         "'qmp_capabilities'\"}}\r\n");
    close(fd);
    served_free(s);
}

static bool not_reading(void *opaque)
{
    Served *s = opaque;

    return monitor_can_input(MONITOR_BASE(s->qmp)) == 0;
}

/*
 * Client A floods requests and never reads; its monitor stops reading,
 * keeps a bounded amount of output, and client B on another monitor is
 * answered at once and gets events; A loses only events past its bound.
 * Once A reads, it gets every reply, in order, and is served again.
 */
static void test_slow_client(void **state)
{
    Served *a = serve("slow");
    Served *b = serve("fast");
    int fa = open_negotiated(a);
    int fb = open_negotiated(b);
    const char *req = "{\"execute\": \"big\"}\n";
    size_t sent = 0;
    gint64 t0;
    g_autofree char *ev = NULL;

    /*
     * Fill A's socket until the kernel refuses more, without serving in
     * between, so that the monitor reads many requests at once.
     */
    for (;;) {
        ssize_t n = send(fa, req, strlen(req), MSG_NOSIGNAL | MSG_DONTWAIT);

        if (n < 0) {
            assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
            break;
        }
        assert_int_equal(n, strlen(req));
        sent++;
        assert_true(sent < 200000);
    }
    pump(500, NULL, NULL);
    /* Whatever the kernel took meanwhile, send more until it stops. */
    for (;;) {
        ssize_t n = send(fa, req, strlen(req), MSG_NOSIGNAL | MSG_DONTWAIT);

        if (n < 0) {
            break;
        }
        sent++;
        pump(1, NULL, NULL);
    }
    pump(200, not_reading, a);
    assert_int_equal(monitor_can_input(MONITOR_BASE(a->qmp)), 0);
    /* The mark plus one reply, not a reply per request read. */
    assert_true(monitor_output_pending(MONITOR_BASE(a->qmp)) <
                MONITOR_OUTPUT_HIGH + 30100);

    /* B is served promptly. */
    t0 = g_get_monotonic_time();
    xchg(fb, "{\"execute\": \"query-version\", \"id\": 1}",
         "{\"return\": {\"qemu\": {\"major\": 0, \"minor\": 1, \"micro\": "
         "0}, \"package\": \"\"}, \"id\": 1}\r\n");
    assert_true(g_get_monotonic_time() - t0 < 2 * G_USEC_PER_SEC);

    /* Events reach B; A's output stays bounded. */
    for (int i = 0; i < 2000; i++) {
        monitor_qmp_broadcast_event("RESUME", NULL);
    }
    ev = read_lines(fb, 2000);
    assert_true(monitor_output_pending(MONITOR_BASE(a->qmp)) <=
                MONITOR_OUTPUT_MAX);

    /* A reads: every reply arrives, then it is served again. */
    {
        size_t replies = 0;
        g_autoptr(GString) in = g_string_new(NULL);
        gint64 end = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;

        while (replies < sent && g_get_monotonic_time() < end) {
            char buf[65536];
            ssize_t n = recv(fa, buf, sizeof(buf), MSG_DONTWAIT);

            if (n > 0) {
                g_string_append_len(in, buf, n);
                for (char *p; (p = strstr(in->str, "\r\n"));) {
                    if (g_str_has_prefix(in->str, "{\"return\": \"yyy")) {
                        replies++;
                    }
                    g_string_erase(in, 0, p + 2 - in->str);
                }
            } else {
                g_main_context_iteration(NULL, FALSE);
            }
        }
        assert_int_equal(replies, sent);
    }
    xchg(fa, "{\"execute\": \"query-version\", \"id\": 2}",
         "{\"return\": {\"qemu\": {\"major\": 0, \"minor\": 1, \"micro\": "
         "0}, \"package\": \"\"}, \"id\": 2}\r\n");
    close(fa);
    close(fb);
    served_free(a);
    served_free(b);
}

static void send_with_fd(int sock, const char *s, int fd)
{
    char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
    struct iovec iov = { .iov_base = (void *)s, .iov_len = strlen(s) };
    struct msghdr msg = {
        .msg_iov = &iov,
        .msg_iovlen = 1,
        .msg_control = cbuf,
        .msg_controllen = sizeof(cbuf),
    };
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);

    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
    assert_int_equal(sendmsg(sock, &msg, MSG_NOSIGNAL), (ssize_t)strlen(s));
}

static void test_getfd_scm_rights(void **state)
{
    Served *s = serve("fds");
    int fd = open_negotiated(s);
    g_autofree char *file = g_strdup_printf("%s/passed", tmpdir);
    int passed = open(file, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
    struct stat want, got;
    int kept;

    assert_true(passed >= 0);
    assert_int_equal(fstat(passed, &want), 0);
    xchg(fd, "{\"execute\": \"getfd\", \"arguments\": {\"fdname\": \"f\"}}",
         "{\"error\": {\"class\": \"GenericError\", \"desc\": \"No file "
         "descriptor supplied via SCM_RIGHTS\"}}\r\n");
    send_with_fd(fd,
                 "{\"execute\": \"getfd\", \"arguments\": "
                 "{\"fdname\": \"f\"}}",
                 passed);
    {
        g_autofree char *reply = read_lines(fd, 1);

        assert_string_equal(reply, "{\"return\": {}}\r\n");
    }
    close(passed);
    kept = monitor_fd_get(MONITOR_BASE(s->qmp), "f", NULL);
    assert_true(kept >= 0);
    assert_int_equal(fstat(kept, &got), 0);
    assert_int_equal(got.st_ino, want.st_ino);
    assert_int_equal(got.st_dev, want.st_dev);
    close(kept);
    unlink(file);
    close(fd);
    served_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_session_and_reconnect),
        cmocka_unit_test(test_slow_client),
        cmocka_unit_test(test_getfd_scm_rights),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
