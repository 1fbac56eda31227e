/*
 * Unit tests for QIONetListener: IPv4 and IPv6 bound as one set on a
 * shared port picked from port 0, UNIX sockets, the accept callback on
 * the listener's main context once per client, the client limit (a client
 * over the limit waits until one leaves, including when the departure is
 * reported from another thread), wait_client (which waits at the limit
 * too), reporting bound addresses, bind failures leaving the listener
 * untouched, and disconnect stopping all accepting.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "io/net-listener.h"
#include "io-channel-helpers.h"

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

typedef struct {
    GMainContext *ctx;
    GThread *thread;
    GPtrArray *clients; /* accepted QIOChannelSocket, referenced */
} Server;

static void new_client(QIONetListener *listener, QIOChannelSocket *sioc,
                       gpointer opaque)
{
    Server *srv = opaque;

    assert_ptr_equal(g_thread_self(), srv->thread);
    g_ptr_array_add(srv->clients, g_object_ref(sioc));
}

static void server_init(Server *srv)
{
    srv->ctx = g_main_context_new();
    srv->thread = g_thread_self();
    srv->clients = g_ptr_array_new_with_free_func(g_object_unref);
}

static void server_clear(Server *srv)
{
    /* Run what is still pending (watch updates) before letting go. */
    while (g_main_context_iteration(srv->ctx, FALSE)) {
    }
    g_ptr_array_unref(srv->clients);
    g_main_context_unref(srv->ctx);
}

static gboolean set_flag(gpointer opaque)
{
    *(bool *)opaque = true;
    return G_SOURCE_REMOVE;
}

/* Iterate until @n clients were accepted; false if that took too long. */
static bool wait_clients(Server *srv, guint n, guint timeout_ms)
{
    bool timed_out = false;
    GSource *timeout = g_timeout_source_new(timeout_ms);

    g_source_set_callback(timeout, set_flag, &timed_out, NULL);
    g_source_attach(timeout, srv->ctx);
    while (srv->clients->len < n && !timed_out) {
        g_main_context_iteration(srv->ctx, TRUE);
    }
    g_source_destroy(timeout);
    g_source_unref(timeout);
    return srv->clients->len >= n;
}

static QIOChannelSocket *connect_to(const QIOSocketAddress *addr)
{
    g_autoptr(GError) err = NULL;
    QIOChannelSocket *sioc = qio_channel_socket_new();

    if (qio_channel_socket_connect_sync(sioc, addr, &err) < 0) {
        fail_msg("connect: %s", err->message);
    }
    return sioc;
}

/* Connected clients and accepted ends talk to each other. */
static void check_echo(QIOChannelSocket *client, QIOChannelSocket *server)
{
    char buf[5];

    assert_int_equal(
        qio_channel_write_all(QIO_CHANNEL(client), "hello", 5, NULL), 0);
    assert_int_equal(qio_channel_read_all(QIO_CHANNEL(server), buf, 5, NULL),
                     0);
    assert_memory_equal(buf, "hello", 5);
}

static void dual_stack(void)
{
    g_autoptr(QIONetListener) lst = qio_net_listener_new();
    g_autoptr(QIOSocketAddress) v4 = parse("127.0.0.1:0");
    g_autoptr(QIOSocketAddress) v6 = parse("[::1]:0");
    g_autoptr(GPtrArray) local = NULL;
    g_autoptr(GError) err = NULL;
    g_autoptr(QIOChannelSocket) c4 = NULL;
    g_autoptr(QIOChannelSocket) c6 = NULL;
    g_autofree char *s4 = NULL;
    g_autofree char *s6 = NULL;
    QIOSocketAddress *both[2] = { v4, v6 };
    const char *port;
    Server srv;

    server_init(&srv);
    qio_net_listener_set_name(lst, "test-server");
    assert_int_equal(qio_net_listener_open_sync_list(lst, both, 2, 4, &err), 0);
    assert_int_equal(qio_net_listener_get_n_channels(lst), 2);

    /* Both sockets share the one port the kernel picked for the first. */
    local = qio_net_listener_get_local_addresses(lst, &err);
    assert_non_null(local);
    assert_int_equal(local->len, 2);

    /* The channels, in order: each is bound where the addresses say. */
    for (guint i = 0; i < 2; i++) {
        QIOChannelSocket *ch = qio_net_listener_get_channel(lst, i);
        g_autoptr(QIOSocketAddress) a = NULL;
        g_autofree char *want = NULL, *got = NULL;

        assert_non_null(ch);
        a = qio_channel_socket_get_local_address(ch, &err);
        assert_non_null(a);
        want = qio_socket_address_to_string(local->pdata[i]);
        got = qio_socket_address_to_string(a);
        assert_string_equal(got, want);
    }
    assert_ptr_not_equal(qio_net_listener_get_channel(lst, 0),
                         qio_net_listener_get_channel(lst, 1));
    assert_null(qio_net_listener_get_channel(lst, 2));
    assert_null(qio_net_listener_get_channel(lst, G_MAXUINT));
    port = ((QIOSocketAddress *)local->pdata[0])->u.inet.port;
    assert_string_not_equal(port, "0");
    assert_string_equal(((QIOSocketAddress *)local->pdata[1])->u.inet.port,
                        port);
    s4 = qio_socket_address_to_string(local->pdata[0]);
    s6 = qio_socket_address_to_string(local->pdata[1]);
    assert_true(g_str_has_prefix(s4, "127.0.0.1:"));
    assert_true(g_str_has_prefix(s6, "[::1]:"));

    qio_net_listener_set_client_func_full(lst, new_client, &srv, NULL, srv.ctx);
    c4 = connect_to(local->pdata[0]);
    c6 = connect_to(local->pdata[1]);
    assert_true(wait_clients(&srv, 2, LOOP_TIMEOUT_MS));
    assert_int_equal(qio_net_listener_get_num_clients(lst), 2);

    /* Match each accepted end with its client by address. */
    for (guint i = 0; i < 2; i++) {
        QIOChannelSocket *acc = srv.clients->pdata[i];
        g_autoptr(QIOSocketAddress) peer =
            qio_channel_socket_get_remote_address(acc, NULL);
        const char *name = qio_channel_get_name(QIO_CHANNEL(acc));

        assert_true(g_str_has_prefix(name, "test-server client "));
        check_echo(strchr(peer->u.inet.host, ':') ? c6 : c4, acc);
    }
    server_clear(&srv);
}

static void test_dual_stack(void **state)
{
    if (!qio_test_have_ipv6()) {
        print_message("IPv6 loopback is not available; skipping\n");
        skip();
    }
    dual_stack();
}

static void test_localhost(void **state)
{
    g_autoptr(QIONetListener) lst = qio_net_listener_new();
    g_autoptr(QIOSocketAddress) addr = parse("localhost:0");
    g_autoptr(GPtrArray) local = NULL;
    g_autoptr(GError) err = NULL;
    Server srv;

    server_init(&srv);
    assert_int_equal(qio_net_listener_open_sync(lst, addr, 4, &err), 0);
    local = qio_net_listener_get_local_addresses(lst, &err);
    assert_non_null(local);
    /* localhost may be IPv4 only, or both; every address is bound. */
    assert_true(local->len >= 1 && local->len <= 2);
    qio_net_listener_set_client_func_full(lst, new_client, &srv, NULL, srv.ctx);
    for (guint i = 0; i < local->len; i++) {
        QIOSocketAddress *a = local->pdata[i];
        g_autoptr(QIOChannelSocket) c = NULL;

        assert_string_equal(a->u.inet.port,
                            ((QIOSocketAddress *)local->pdata[0])->u.inet.port);
        c = connect_to(a);
        assert_true(wait_clients(&srv, i + 1, LOOP_TIMEOUT_MS));
        check_echo(c, srv.clients->pdata[i]);
    }
    server_clear(&srv);
}

/*
 * One address that resolves to both families (the empty host, as in
 * "-p 10809" with no bind address) binds both, on one port.
 */
static void test_any_address(void **state)
{
    g_autoptr(QIONetListener) lst = qio_net_listener_new();
    g_autoptr(QIOSocketAddress) addr = parse(":0");
    g_autoptr(GPtrArray) local = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree char *v4str = NULL;
    g_autofree char *v6str = NULL;
    g_autoptr(QIOSocketAddress) v4 = NULL;
    g_autoptr(QIOSocketAddress) v6 = NULL;
    g_autoptr(QIOChannelSocket) c4 = NULL;
    g_autoptr(QIOChannelSocket) c6 = NULL;
    const char *port;
    Server srv;

    if (!qio_test_have_ipv6()) {
        print_message("IPv6 loopback is not available; skipping\n");
        skip();
    }
    server_init(&srv);
    assert_int_equal(qio_net_listener_open_sync(lst, addr, 4, &err), 0);
    assert_int_equal(qio_net_listener_get_n_channels(lst), 2);
    local = qio_net_listener_get_local_addresses(lst, &err);
    assert_non_null(local);
    assert_int_equal(local->len, 2);
    port = ((QIOSocketAddress *)local->pdata[0])->u.inet.port;
    assert_string_equal(((QIOSocketAddress *)local->pdata[1])->u.inet.port,
                        port);

    qio_net_listener_set_client_func_full(lst, new_client, &srv, NULL, srv.ctx);
    v4str = g_strdup_printf("127.0.0.1:%s", port);
    v6str = g_strdup_printf("[::1]:%s", port);
    v4 = parse(v4str);
    v6 = parse(v6str);
    c4 = connect_to(v4);
    c6 = connect_to(v6);
    assert_true(wait_clients(&srv, 2, LOOP_TIMEOUT_MS));
    server_clear(&srv);
}

static void test_unix(void **state)
{
    g_autoptr(QIONetListener) lst = qio_net_listener_new();
    g_autofree char *path = g_build_filename(tmpdir, "lst.sock", NULL);
    g_autofree char *str = g_strdup_printf("unix:%s", path);
    g_autoptr(QIOSocketAddress) addr = parse(str);
    g_autoptr(GPtrArray) local = NULL;
    g_autoptr(QIOChannelSocket) c = NULL;
    g_autofree char *text = NULL;
    Server srv;

    server_init(&srv);
    qio_net_listener_set_client_func_full(lst, new_client, &srv, NULL, srv.ctx);
    assert_int_equal(qio_net_listener_open_sync(lst, addr, 4, NULL), 0);
    local = qio_net_listener_get_local_addresses(lst, NULL);
    text = qio_socket_address_to_string(local->pdata[0]);
    assert_string_equal(text, str);

    c = connect_to(addr);
    assert_true(wait_clients(&srv, 1, LOOP_TIMEOUT_MS));
    check_echo(c, srv.clients->pdata[0]);

    qio_net_listener_disconnect(lst);
    assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
    server_clear(&srv);
}

static void test_many_clients(void **state)
{
    g_autoptr(QIONetListener) lst = qio_net_listener_new();
    g_autoptr(QIOSocketAddress) addr = parse("127.0.0.1:0");
    g_autoptr(GPtrArray) local = NULL;
    g_autoptr(GPtrArray) conns = g_ptr_array_new_with_free_func(g_object_unref);
    Server srv;

    server_init(&srv);
    assert_int_equal(qio_net_listener_open_sync(lst, addr, 8, NULL), 0);
    local = qio_net_listener_get_local_addresses(lst, NULL);
    qio_net_listener_set_client_func_full(lst, new_client, &srv, NULL, srv.ctx);
    for (int i = 0; i < 5; i++) {
        g_ptr_array_add(conns, connect_to(local->pdata[0]));
    }
    assert_true(wait_clients(&srv, 5, LOOP_TIMEOUT_MS));
    /* Exactly one callback per client, no more. */
    assert_false(wait_clients(&srv, 6, 100));
    assert_int_equal(srv.clients->len, 5);
    for (guint i = 0; i < 5; i++) {
        qio_net_listener_client_closed(lst);
    }
    assert_int_equal(qio_net_listener_get_num_clients(lst), 0);
    server_clear(&srv);
}

static gpointer report_closed(gpointer opaque)
{
    qio_net_listener_client_closed(opaque);
    return NULL;
}

static void test_client_limit(void **state)
{
    g_autoptr(QIONetListener) lst = qio_net_listener_new();
    g_autoptr(QIOSocketAddress) addr = parse("127.0.0.1:0");
    g_autoptr(GPtrArray) local = NULL;
    g_autoptr(QIOChannelSocket) a = NULL;
    g_autoptr(QIOChannelSocket) b = NULL;
    g_autoptr(QIOChannelSocket) c = NULL;
    Server srv;

    server_init(&srv);
    assert_int_equal(qio_net_listener_open_sync(lst, addr, 8, NULL), 0);
    local = qio_net_listener_get_local_addresses(lst, NULL);
    qio_net_listener_set_max_clients(lst, 1);
    qio_net_listener_set_client_func_full(lst, new_client, &srv, NULL, srv.ctx);

    a = connect_to(local->pdata[0]);
    assert_true(wait_clients(&srv, 1, LOOP_TIMEOUT_MS));
    check_echo(a, srv.clients->pdata[0]);

    /* The second client waits in the backlog while the first stays. */
    b = connect_to(local->pdata[0]);
    assert_false(wait_clients(&srv, 2, 300));
    assert_int_equal(qio_net_listener_get_num_clients(lst), 1);

    /* The first leaves: the second is served. */
    qio_channel_close(QIO_CHANNEL(a), NULL);
    qio_net_listener_client_closed(lst);
    assert_true(wait_clients(&srv, 2, LOOP_TIMEOUT_MS));
    check_echo(b, srv.clients->pdata[1]);

    /* A departure reported from a worker thread counts too. */
    c = connect_to(local->pdata[0]);
    assert_false(wait_clients(&srv, 3, 200));
    g_thread_join(g_thread_new("closer", report_closed, lst));
    assert_true(wait_clients(&srv, 3, LOOP_TIMEOUT_MS));
    check_echo(c, srv.clients->pdata[2]);
    server_clear(&srv);
}

static gpointer connect_later(gpointer opaque)
{
    QIOSocketAddress *addr = opaque;

    g_usleep(50 * 1000);
    return connect_to(addr);
}

static void test_wait_client(void **state)
{
    g_autoptr(QIONetListener) lst = qio_net_listener_new();
    g_autoptr(QIONetListener) empty = qio_net_listener_new();
    g_autoptr(QIOSocketAddress) addr = parse("127.0.0.1:0");
    g_autoptr(GPtrArray) local = NULL;
    g_autoptr(QIOChannelSocket) client = NULL;
    g_autoptr(QIOChannelSocket) server = NULL;
    g_autoptr(GError) err = NULL;
    GThread *thread;

    assert_int_equal(qio_net_listener_open_sync(lst, addr, 1, NULL), 0);
    local = qio_net_listener_get_local_addresses(lst, NULL);
    thread = g_thread_new("connect", connect_later, local->pdata[0]);
    server = qio_net_listener_wait_client(lst, &err);
    client = g_thread_join(thread);
    assert_non_null(server);
    assert_int_equal(qio_net_listener_get_num_clients(lst), 1);
    check_echo(client, server);

    assert_null(qio_net_listener_wait_client(empty, &err));
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_CLOSED));
}

typedef struct {
    QIONetListener *lst;
    QIOChannelSocket *got;
    gint returned; /* atomic */
} Waiter;

static gpointer waiter_thread(gpointer opaque)
{
    Waiter *w = opaque;

    w->got = qio_net_listener_wait_client(w->lst, NULL);
    g_atomic_int_set(&w->returned, 1);
    return NULL;
}

/* wait_client honours the limit: the second client waits for a slot. */
static void test_wait_client_limit(void **state)
{
    g_autoptr(QIONetListener) lst = qio_net_listener_new();
    g_autoptr(QIOSocketAddress) addr = parse("127.0.0.1:0");
    g_autoptr(GPtrArray) local = NULL;
    g_autoptr(QIOChannelSocket) c1 = NULL;
    g_autoptr(QIOChannelSocket) c2 = NULL;
    g_autoptr(QIOChannelSocket) s1 = NULL;
    Waiter w = { NULL };
    GThread *thread;

    assert_int_equal(qio_net_listener_open_sync(lst, addr, 4, NULL), 0);
    qio_net_listener_set_max_clients(lst, 1);
    local = qio_net_listener_get_local_addresses(lst, NULL);
    c1 = connect_to(local->pdata[0]);
    s1 = qio_net_listener_wait_client(lst, NULL);
    assert_non_null(s1);
    check_echo(c1, s1);

    w.lst = lst;
    c2 = connect_to(local->pdata[0]); /* queued in the backlog */
    thread = g_thread_new("waiter", waiter_thread, &w);
    g_usleep(200 * 1000);
    assert_int_equal(g_atomic_int_get(&w.returned), 0);
    assert_int_equal(qio_net_listener_get_num_clients(lst), 1);

    qio_net_listener_client_closed(lst);
    g_thread_join(thread);
    assert_non_null(w.got);
    assert_int_equal(qio_net_listener_get_num_clients(lst), 1);
    check_echo(c2, w.got);
    g_object_unref(w.got);
}

static void test_port_in_use(void **state)
{
    g_autoptr(QIONetListener) first = qio_net_listener_new();
    g_autoptr(QIONetListener) second = qio_net_listener_new();
    g_autoptr(QIOSocketAddress) addr = parse("127.0.0.1:0");
    g_autoptr(GPtrArray) local = NULL;
    g_autoptr(GError) err = NULL;

    assert_int_equal(qio_net_listener_open_sync(first, addr, 1, NULL), 0);
    local = qio_net_listener_get_local_addresses(first, NULL);
    qio_net_listener_set_name(second, "second");
    assert_int_equal(
        qio_net_listener_open_sync(second, local->pdata[0], 1, &err), -1);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_EXISTS));
    assert_true(g_str_has_prefix(err->message, "second: "));
    assert_int_equal(qio_net_listener_get_n_channels(second), 0);
    assert_false(qio_net_listener_is_connected(second));
}

static void test_add_adopted(void **state)
{
    g_autoptr(QIONetListener) lst = qio_net_listener_new();
    g_autoptr(QIOSocketAddress) addr = parse("127.0.0.1:0");
    g_autoptr(QIOChannelSocket) lsn = qio_channel_socket_new();
    g_autoptr(QIOChannelSocket) adopted = NULL;
    g_autoptr(QIOSocketAddress) local = NULL;
    g_autoptr(QIOChannelSocket) c = NULL;
    Server srv;
    int fd;

    /* A listening descriptor as a service manager would hand it over. */
    assert_int_equal(qio_channel_socket_listen_sync(lsn, addr, 1, NULL), 0);
    fd = dup(qio_channel_socket_get_fd(lsn));
    local = qio_channel_socket_get_local_address(lsn, NULL);
    qio_channel_close(QIO_CHANNEL(lsn), NULL);
    adopted = qio_channel_socket_new_fd(fd, NULL);
    assert_non_null(adopted);
    assert_true(qio_channel_has_feature(QIO_CHANNEL(adopted),
                                        QIO_CHANNEL_FEATURE_LISTEN));

    server_init(&srv);
    qio_net_listener_set_client_func_full(lst, new_client, &srv, NULL, srv.ctx);
    qio_net_listener_add(lst, adopted);
    c = connect_to(local);
    assert_true(wait_clients(&srv, 1, LOOP_TIMEOUT_MS));
    check_echo(c, srv.clients->pdata[0]);
    server_clear(&srv);
}

static void test_disconnect(void **state)
{
    g_autoptr(QIONetListener) lst = qio_net_listener_new();
    g_autoptr(QIOSocketAddress) addr = parse("127.0.0.1:0");
    g_autoptr(GPtrArray) local = NULL;
    g_autoptr(QIOChannelSocket) late = qio_channel_socket_new();
    g_autoptr(QIOChannelSocket) c = NULL;
    g_autoptr(GError) err = NULL;
    Server srv;

    server_init(&srv);
    assert_int_equal(qio_net_listener_open_sync(lst, addr, 4, NULL), 0);
    assert_true(qio_net_listener_is_connected(lst));
    local = qio_net_listener_get_local_addresses(lst, NULL);
    qio_net_listener_set_client_func_full(lst, new_client, &srv, NULL, srv.ctx);
    c = connect_to(local->pdata[0]);
    assert_true(wait_clients(&srv, 1, LOOP_TIMEOUT_MS));

    qio_net_listener_disconnect(lst);
    qio_net_listener_disconnect(lst);
    assert_false(qio_net_listener_is_connected(lst));
    assert_int_equal(qio_net_listener_get_n_channels(lst), 0);
    assert_null(qio_net_listener_get_channel(lst, 0));
    assert_int_equal(
        qio_channel_socket_connect_sync(late, local->pdata[0], &err), -1);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_CONNECTION_REFUSED));
    assert_false(wait_clients(&srv, 2, 100));
    /* Clients already accepted are not affected. */
    check_echo(c, srv.clients->pdata[0]);
    server_clear(&srv);
}

static int notified;

static void count_notify(gpointer opaque)
{
    Server *srv = opaque;

    assert_non_null(srv->clients);
    notified++;
}

static void test_func_lifecycle(void **state)
{
    QIONetListener *lst = qio_net_listener_new();
    g_autoptr(QIOSocketAddress) addr = parse("127.0.0.1:0");
    g_autoptr(GPtrArray) local = NULL;
    g_autoptr(QIOChannelSocket) c = NULL;
    Server srv;

    notified = 0;
    server_init(&srv);
    assert_int_equal(qio_net_listener_open_sync(lst, addr, 4, NULL), 0);
    local = qio_net_listener_get_local_addresses(lst, NULL);

    /* Without a callback nothing is accepted. */
    c = connect_to(local->pdata[0]);
    assert_false(wait_clients(&srv, 1, 100));

    /* The thread-default context is used when none is named. */
    g_main_context_push_thread_default(srv.ctx);
    qio_net_listener_set_client_func(lst, new_client, &srv, count_notify);
    g_main_context_pop_thread_default(srv.ctx);
    assert_true(wait_clients(&srv, 1, LOOP_TIMEOUT_MS));

    /* Replacing the callback frees the old data; so does finalizing. */
    qio_net_listener_set_client_func_full(lst, new_client, &srv, count_notify,
                                          srv.ctx);
    assert_int_equal(notified, 1);
    g_object_unref(lst);
    assert_int_equal(notified, 2);
    server_clear(&srv);
}

static int setup(void **state)
{
    tmpdir = g_dir_make_tmp("qio-test-listener-XXXXXX", NULL);
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
        cmocka_unit_test(test_dual_stack),
        cmocka_unit_test(test_localhost),
        cmocka_unit_test(test_any_address),
        cmocka_unit_test(test_unix),
        cmocka_unit_test(test_many_clients),
        cmocka_unit_test(test_client_limit),
        cmocka_unit_test(test_wait_client),
        cmocka_unit_test(test_wait_client_limit),
        cmocka_unit_test(test_port_in_use),
        cmocka_unit_test(test_add_adopted),
        cmocka_unit_test(test_disconnect),
        cmocka_unit_test(test_func_lifecycle),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
