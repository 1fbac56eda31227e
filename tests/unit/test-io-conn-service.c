/*
 * Unit tests for QIOConnService: handlers on threads and on the main
 * context, the client limit with queued clients, handshake and idle
 * expiry from one timer (no thread per deadline, counted in
 * /proc/self/task), a thread that cannot be created refusing one client
 * only, draining on shutdown, the gone callback's thread, and the
 * refusal log lines with their rate limit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "io/conn-service-internal.h"
#include "io/conn-service.h"

/* ---- Log capture ---------------------------------------------------------
 */

static GMutex log_lock;
static GPtrArray *log_lines;

static GLogWriterOutput capture_writer(GLogLevelFlags level,
                                       const GLogField *fields, gsize n,
                                       gpointer opaque)
{
    for (gsize i = 0; i < n; i++) {
        if (strcmp(fields[i].key, "MESSAGE") == 0) {
            g_mutex_lock(&log_lock);
            g_ptr_array_add(log_lines, g_strdup(fields[i].value));
            g_mutex_unlock(&log_lock);
        }
    }
    return G_LOG_WRITER_HANDLED;
}

/* Captured lines containing @needle and (unless NULL) @also. */
static guint log_count2(const char *needle, const char *also)
{
    guint n = 0;

    g_mutex_lock(&log_lock);
    for (guint i = 0; i < log_lines->len; i++) {
        if (strstr(log_lines->pdata[i], needle) &&
            (!also || strstr(log_lines->pdata[i], also))) {
            n++;
        }
    }
    g_mutex_unlock(&log_lock);
    return n;
}

static guint log_count(const char *needle)
{
    return log_count2(needle, NULL);
}

static void log_reset(void)
{
    g_mutex_lock(&log_lock);
    g_ptr_array_set_size(log_lines, 0);
    g_mutex_unlock(&log_lock);
}

/* ---- Helpers ------------------------------------------------------------- */

typedef struct {
    GThread *main_thread;
    gint handled;  /* handlers started */
    gint finished; /* handlers returned */
    gint gone;     /* gone callbacks */
    gint gone_off_main;
    gint refusals; /* report_refusal calls per handler */
    bool negotiate;
    GMutex lock;
    GCond cond;
    bool release; /* blocking handlers may return */
} TestState;

static TestState ts;

static void state_reset(void)
{
    ts.main_thread = g_thread_self();
    ts.handled = ts.finished = ts.gone = ts.gone_off_main = 0;
    ts.refusals = 0;
    ts.negotiate = false;
    ts.release = false;
    log_reset();
}

static void on_gone(QIOConnService *svc, QIOConn *conn, gpointer opaque)
{
    if (g_thread_self() != ts.main_thread) {
        g_atomic_int_inc(&ts.gone_off_main);
    }
    assert_non_null(qio_conn_get_peer(conn));
    g_atomic_int_inc(&ts.gone);
}

static int service_port(QIOConnService *svc)
{
    g_autoptr(GPtrArray) addrs =
        qio_conn_service_get_local_addresses(svc, NULL);
    QIOSocketAddress *a;

    assert_non_null(addrs);
    assert_true(addrs->len >= 1);
    a = addrs->pdata[0];
    return atoi(a->u.inet.port);
}

static void listen_local(QIOConnService *svc)
{
    g_autoptr(QIOSocketAddress) addr =
        qio_socket_address_new_inet("127.0.0.1", "0");
    g_autoptr(GError) err = NULL;
    QIOSocketAddress *one = addr;

    if (qio_conn_service_listen(svc, &one, 1, &err) < 0) {
        fail_msg("listen: %s", err->message);
    }
}

static int connect_port(int port)
{
    struct sockaddr_in sin = { .sin_family = AF_INET,
                               .sin_port = htons(port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    return fd;
}

typedef bool (*CondFunc)(gpointer data);

/* Run the default context until @cond holds; false after @ms. */
static bool iterate_until(CondFunc cond, gpointer data, int ms)
{
    gint64 end = g_get_monotonic_time() + ms * G_TIME_SPAN_MILLISECOND;

    while (!cond(data)) {
        if (g_get_monotonic_time() > end) {
            return false;
        }
        g_main_context_iteration(NULL, FALSE);
        g_usleep(1000);
    }
    return true;
}

static bool fd_readable(gpointer data)
{
    struct pollfd pfd = { .fd = GPOINTER_TO_INT(data), .events = POLLIN };

    return poll(&pfd, 1, 0) == 1;
}

/* The next byte from @fd (running the context meanwhile), or -1 at EOF. */
static int read_byte(int fd, int ms)
{
    uint8_t b;
    ssize_t n;

    if (!iterate_until(fd_readable, GINT_TO_POINTER(fd), ms)) {
        return -2;
    }
    n = recv(fd, &b, 1, 0);
    return n == 1 ? b : -1;
}

static bool int_at_least(gpointer data)
{
    gint *p = data;

    return g_atomic_int_get(&p[0]) >= p[1];
}

static bool wait_count(gint *counter, gint want, int ms)
{
    gint pair[2];
    gint64 end = g_get_monotonic_time() + ms * G_TIME_SPAN_MILLISECOND;

    pair[1] = want;
    while (g_get_monotonic_time() < end) {
        pair[0] = g_atomic_int_get(counter);
        if (int_at_least(pair)) {
            return true;
        }
        g_main_context_iteration(NULL, FALSE);
        g_usleep(1000);
    }
    return false;
}

static guint task_count(void)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    guint n = 0;

    assert_non_null(d);
    while ((e = readdir(d))) {
        if (e->d_name[0] != '.') {
            n++;
        }
    }
    closedir(d);
    return n;
}

/*
 * THREAD handler: says 'G' (greeting), optionally reports negotiation and
 * refusals, then echoes each byte + 1 until EOF, touching the connection.
 */
static void thread_handler(QIOConn *conn, gpointer opaque)
{
    QIOChannel *ioc = qio_conn_get_channel(conn);
    char b = 'G';

    g_atomic_int_inc(&ts.handled);
    assert_true(g_thread_self() != ts.main_thread);
    for (int i = 0; i < ts.refusals; i++) {
        qio_conn_report_refusal(conn, "test reason %d", i);
    }
    if (qio_channel_write_all(ioc, &b, 1, NULL) == 0) {
        if (ts.negotiate) {
            qio_conn_set_negotiated(conn);
        }
        while (qio_channel_read(ioc, &b, 1, NULL) == 1) {
            qio_conn_touch(conn);
            b++;
            if (qio_channel_write_all(ioc, &b, 1, NULL) < 0) {
                break;
            }
        }
    }
    g_atomic_int_inc(&ts.finished);
}

/* ---- Tests -------------------------------------------------------------- */

static void test_thread_mode(void **state)
{
    QIOConnService *svc;
    int fds[3];

    state_reset();
    svc = qio_conn_service_new("test", QIO_CONN_SERVICE_THREAD, thread_handler,
                               NULL, NULL);
    qio_conn_service_set_gone_func(svc, on_gone, NULL);
    listen_local(svc);
    for (int i = 0; i < 3; i++) {
        fds[i] = connect_port(service_port(svc));
    }
    for (int i = 0; i < 3; i++) {
        char b = 'a';

        assert_int_equal(read_byte(fds[i], 5000), 'G');
        assert_int_equal(send(fds[i], &b, 1, 0), 1);
        assert_int_equal(read_byte(fds[i], 5000), 'b');
    }
    assert_int_equal(qio_conn_service_get_n_clients(svc), 3);
    assert_int_equal(qio_conn_service_get_n_served(svc), 3);
    for (int i = 0; i < 3; i++) {
        close(fds[i]);
    }
    assert_true(wait_count(&ts.gone, 3, 5000));
    assert_int_equal(ts.finished, 3);
    assert_int_equal(ts.gone_off_main, 0);
    assert_int_equal(qio_conn_service_get_n_clients(svc), 0);
    qio_conn_service_shutdown(svc);
    g_object_unref(svc);
}

/* CONTEXT handler: answers each byte + 1 from a watch; EOF finishes. */
static gboolean ctx_ready(QIOChannel *ioc, GIOCondition cond, gpointer opaque)
{
    QIOConn *conn = opaque;
    char b;
    ssize_t n = qio_channel_read(ioc, &b, 1, NULL);

    if (n == QIO_CHANNEL_ERR_BLOCK) {
        return G_SOURCE_CONTINUE;
    }
    if (n == 1) {
        qio_conn_touch(conn);
        b++;
        if (qio_channel_write_all(ioc, &b, 1, NULL) == 0) {
            return G_SOURCE_CONTINUE;
        }
    }
    g_atomic_int_inc(&ts.finished);
    qio_conn_finish(conn);
    return G_SOURCE_REMOVE;
}

static void ctx_handler(QIOConn *conn, gpointer opaque)
{
    QIOChannel *ioc = qio_conn_get_channel(conn);
    char b = 'G';

    g_atomic_int_inc(&ts.handled);
    assert_true(g_thread_self() == ts.main_thread);
    if (ts.negotiate) {
        qio_conn_set_negotiated(conn);
    }
    qio_channel_write_all(ioc, &b, 1, NULL);
    qio_channel_add_watch_full(ioc, G_IO_IN | G_IO_HUP | G_IO_ERR, ctx_ready,
                               qio_conn_ref(conn),
                               (GDestroyNotify)qio_conn_unref, NULL);
}

static void test_context_mode(void **state)
{
    QIOConnService *svc;
    guint tasks;
    int fd;
    char b = 'x';

    state_reset();
    svc = qio_conn_service_new("test", QIO_CONN_SERVICE_CONTEXT, ctx_handler,
                               NULL, NULL);
    qio_conn_service_set_gone_func(svc, on_gone, NULL);
    listen_local(svc);
    tasks = task_count();
    fd = connect_port(service_port(svc));
    assert_int_equal(read_byte(fd, 5000), 'G');
    assert_int_equal(send(fd, &b, 1, 0), 1);
    assert_int_equal(read_byte(fd, 5000), 'y');
    assert_int_equal(task_count(), tasks); /* no thread for it */
    close(fd);
    assert_true(wait_count(&ts.gone, 1, 5000));
    assert_int_equal(ts.gone_off_main, 0);
    qio_conn_service_shutdown(svc);
    g_object_unref(svc);
}

static void test_client_limit_queues(void **state)
{
    QIOConnService *svc;
    int a, b, c;

    state_reset();
    svc = qio_conn_service_new("test", QIO_CONN_SERVICE_THREAD, thread_handler,
                               NULL, NULL);
    qio_conn_service_set_gone_func(svc, on_gone, NULL);
    qio_conn_service_set_max_clients(svc, 2);
    listen_local(svc);
    a = connect_port(service_port(svc));
    assert_int_equal(read_byte(a, 5000), 'G');
    b = connect_port(service_port(svc));
    assert_int_equal(read_byte(b, 5000), 'G');
    /* The third connects (the kernel queues it) but is not accepted. */
    c = connect_port(service_port(svc));
    assert_int_equal(read_byte(c, 300), -2);
    assert_int_equal(qio_conn_service_get_n_clients(svc), 2);
    close(a);
    assert_int_equal(read_byte(c, 5000), 'G');
    close(b);
    close(c);
    assert_true(wait_count(&ts.gone, 3, 5000));
    qio_conn_service_shutdown(svc);
    g_object_unref(svc);
}

#define MANY 40

static void test_handshake_expiry_no_threads(void **state)
{
    QIOConnService *svc;
    int fds[MANY];
    guint base;
    gint64 start;

    state_reset();
    svc = qio_conn_service_new("test", QIO_CONN_SERVICE_THREAD, thread_handler,
                               NULL, NULL);
    qio_conn_service_set_gone_func(svc, on_gone, NULL);
    qio_conn_service_set_handshake_limit(svc, 300);
    listen_local(svc);
    base = task_count();
    start = g_get_monotonic_time();
    for (int i = 0; i < MANY; i++) {
        fds[i] = connect_port(service_port(svc));
    }
    assert_true(wait_count(&ts.handled, MANY, 5000));
    /* One thread per connection, none per deadline. */
    if (ts.finished == 0) {
        assert_true(task_count() <= base + MANY);
    }
    for (int i = 0; i < MANY; i++) {
        assert_int_equal(read_byte(fds[i], 5000), 'G');
        assert_int_equal(read_byte(fds[i], 5000), -1); /* hung up on */
    }
    assert_true(g_get_monotonic_time() - start >= 300 * 1000);
    assert_true(wait_count(&ts.gone, MANY, 5000));
    assert_int_equal(task_count(), base);
    assert_true(log_count("did not finish negotiating") >= 1);
    for (int i = 0; i < MANY; i++) {
        close(fds[i]);
    }
    qio_conn_service_shutdown(svc);
    g_object_unref(svc);
}

static void test_idle_expiry_context(void **state)
{
    QIOConnService *svc;
    int busy, idle[MANY];
    guint base;
    gint64 end;
    char b = 'a';

    state_reset();
    ts.negotiate = true;
    svc = qio_conn_service_new("test", QIO_CONN_SERVICE_CONTEXT, ctx_handler,
                               NULL, NULL);
    qio_conn_service_set_gone_func(svc, on_gone, NULL);
    qio_conn_service_set_handshake_limit(svc, 100);
    qio_conn_service_set_idle_limit(svc, 400);
    listen_local(svc);
    base = task_count();
    busy = connect_port(service_port(svc));
    assert_int_equal(read_byte(busy, 5000), 'G');
    for (int i = 0; i < MANY; i++) {
        idle[i] = connect_port(service_port(svc));
        assert_int_equal(read_byte(idle[i], 5000), 'G');
    }
    /* Negotiated: the 100 ms handshake limit no longer applies. */
    end = g_get_monotonic_time() + 1200 * G_TIME_SPAN_MILLISECOND;
    while (g_get_monotonic_time() < end) {
        assert_int_equal(send(busy, &b, 1, 0), 1);
        assert_int_equal(read_byte(busy, 2000), b + 1);
        g_usleep(50 * 1000);
    }
    assert_true(wait_count(&ts.gone, MANY, 5000));
    for (int i = 0; i < MANY; i++) {
        assert_int_equal(read_byte(idle[i], 2000), -1);
        close(idle[i]);
    }
    /* The busy one survived three idle limits. */
    assert_int_equal(send(busy, &b, 1, 0), 1);
    assert_int_equal(read_byte(busy, 2000), b + 1);
    assert_int_equal(task_count(), base);
    assert_true(log_count("was idle") >= 1);
    close(busy);
    qio_conn_service_shutdown(svc);
    g_object_unref(svc);
}

static gint thread_failures;

static GThread *failing_thread_new(const char *name, GThreadFunc func,
                                   gpointer data, GError **errp)
{
    if (g_atomic_int_add(&thread_failures, -1) > 0) {
        g_set_error(errp, G_THREAD_ERROR, G_THREAD_ERROR_AGAIN,
                    "Error creating thread: Resource temporarily unavailable");
        return NULL;
    }
    return g_thread_try_new(name, func, data, errp);
}

static void test_thread_failure_refuses_one(void **state)
{
    QIOConnService *svc;
    int a, b;

    state_reset();
    svc = qio_conn_service_new("test", QIO_CONN_SERVICE_THREAD, thread_handler,
                               NULL, NULL);
    qio_conn_service_set_gone_func(svc, on_gone, NULL);
    qio_conn_service_set_max_clients(svc, 1);
    qio_conn_service_set_thread_new_func(svc, failing_thread_new);
    thread_failures = 1;
    listen_local(svc);
    a = connect_port(service_port(svc));
    assert_int_equal(read_byte(a, 5000), -1); /* refused: closed */
    assert_int_equal(log_count("refused: cannot create a thread"), 1);
    assert_int_equal(log_count2("test: client 127.0.0.1:", "refused"), 1);
    /* Its slot was given back: the next client is served. */
    b = connect_port(service_port(svc));
    assert_int_equal(read_byte(b, 5000), 'G');
    assert_int_equal(qio_conn_service_get_n_served(svc), 1);
    assert_int_equal(ts.gone, 0); /* a refused client was never served */
    close(a);
    close(b);
    assert_true(wait_count(&ts.gone, 1, 5000));
    qio_conn_service_shutdown(svc);
    g_object_unref(svc);
}

static void test_drain_on_shutdown(void **state)
{
    QIOConnService *svc;
    int fds[5];
    int port;

    state_reset();
    svc = qio_conn_service_new("test", QIO_CONN_SERVICE_THREAD, thread_handler,
                               NULL, NULL);
    qio_conn_service_set_gone_func(svc, on_gone, NULL);
    qio_conn_service_set_handshake_limit(svc, 0);
    listen_local(svc);
    port = service_port(svc);
    for (int i = 0; i < 5; i++) {
        fds[i] = connect_port(port);
        assert_int_equal(read_byte(fds[i], 5000), 'G');
    }
    /* Every handler is blocked reading; shutdown must end them. */
    qio_conn_service_shutdown(svc);
    assert_int_equal(ts.finished, 5);
    assert_int_equal(ts.gone, 5);
    assert_int_equal(qio_conn_service_get_n_clients(svc), 0);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(read_byte(fds[i], 2000), -1);
        close(fds[i]);
    }
    /* No longer listening, and nothing is called back any more. */
    {
        struct sockaddr_in sin = { .sin_family = AF_INET,
                                   .sin_port = htons(port),
                                   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        assert_true(connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0);
        close(fd);
    }
    for (int i = 0; i < 20; i++) {
        g_main_context_iteration(NULL, FALSE);
    }
    assert_int_equal(ts.gone, 5);
    g_object_unref(svc);
}

static void test_refusal_log_rate_limited(void **state)
{
    QIOConnService *svc;
    int fds[15];

    state_reset();
    ts.refusals = 3; /* three reports per connection: one line each */
    svc = qio_conn_service_new("test-svc", QIO_CONN_SERVICE_THREAD,
                               thread_handler, NULL, NULL);
    qio_conn_service_set_gone_func(svc, on_gone, NULL);
    listen_local(svc);
    fds[0] = connect_port(service_port(svc));
    assert_int_equal(read_byte(fds[0], 5000), 'G');
    assert_int_equal(log_count("refused: test reason 0"), 1);
    assert_int_equal(log_count("refused: test reason 1"), 0);
    assert_int_equal(log_count2("test-svc: client 127.0.0.1:", "refused"), 1);
    for (int i = 1; i < 15; i++) {
        fds[i] = connect_port(service_port(svc));
        assert_int_equal(read_byte(fds[i], 5000), 'G');
    }
    /* Ten lines a minute at most across connections. */
    assert_int_equal(log_count("refused"), 10);
    for (int i = 0; i < 15; i++) {
        close(fds[i]);
    }
    assert_true(wait_count(&ts.gone, 15, 5000));
    qio_conn_service_shutdown(svc);
    g_object_unref(svc);
}

static void test_add_client_and_backlog(void **state)
{
    QIOConnService *svc;
    g_autoptr(QIOChannelSocket) sioc = NULL;
    int fds[2];

    state_reset();
    assert_true(qio_conn_service_system_backlog() >= SOMAXCONN ||
                qio_conn_service_system_backlog() > 0);
    svc = qio_conn_service_new("test", QIO_CONN_SERVICE_THREAD, thread_handler,
                               NULL, NULL);
    qio_conn_service_set_gone_func(svc, on_gone, NULL);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds),
                     0);
    sioc = qio_channel_socket_new_fd(fds[0], NULL);
    assert_true(qio_conn_service_add_client(svc, QIO_CHANNEL(sioc), NULL));
    assert_int_equal(read_byte(fds[1], 5000), 'G');
    close(fds[1]);
    assert_true(wait_count(&ts.gone, 1, 5000));
    qio_conn_service_shutdown(svc);
    /* Shut down: a channel handed in now is refused. */
    assert_false(qio_conn_service_add_client(svc, QIO_CHANNEL(sioc), NULL));
    g_object_unref(svc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_thread_mode),
        cmocka_unit_test(test_context_mode),
        cmocka_unit_test(test_client_limit_queues),
        cmocka_unit_test(test_handshake_expiry_no_threads),
        cmocka_unit_test(test_idle_expiry_context),
        cmocka_unit_test(test_thread_failure_refuses_one),
        cmocka_unit_test(test_drain_on_shutdown),
        cmocka_unit_test(test_refusal_log_rate_limited),
        cmocka_unit_test(test_add_client_and_backlog),
    };

    log_lines = g_ptr_array_new_with_free_func(g_free);
    g_log_set_writer_func(capture_writer, NULL, NULL);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
