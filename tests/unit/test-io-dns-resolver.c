/*
 * Unit tests for QIODNSResolver, without external DNS: numeric IPv4 and
 * IPv6 literals, "localhost" (which may resolve to IPv4 only), a name
 * under .invalid that must fail, the ipv4/ipv6 filters, the empty host for
 * listening and connecting, pass-through of non-internet addresses, and
 * the async form completing on the caller's main context.
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

#include "io/dns-resolver.h"
#include "io-channel-helpers.h"

/* Async lookups must finish well within this. */
#define LOOP_TIMEOUT_MS 10000

static GPtrArray *lookup(const char *str, QIODNSResolverFlags flags,
                         GError **errp)
{
    g_autoptr(QIOSocketAddress) addr = qio_socket_address_parse(str, NULL);

    assert_non_null(addr);
    return qio_dns_resolver_lookup_sync(qio_dns_resolver_get_instance(), addr,
                                        flags, errp);
}

static char *result_string(GPtrArray *addrs, guint i)
{
    return qio_socket_address_to_string(addrs->pdata[i]);
}

static bool is_ipv6_result(GPtrArray *addrs, guint i)
{
    QIOSocketAddress *addr = addrs->pdata[i];

    return strchr(addr->u.inet.host, ':') != NULL;
}

static void test_numeric_ipv4(void **state)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GPtrArray) addrs = lookup("127.0.0.1:10809", 0, &err);
    g_autofree char *text = NULL;
    QIOSocketAddress *addr;

    assert_null(err);
    assert_non_null(addrs);
    assert_int_equal(addrs->len, 1);
    addr = addrs->pdata[0];
    assert_int_equal(addr->type, QIO_SOCKET_ADDRESS_TYPE_INET);
    assert_true(addr->u.inet.has_numeric && addr->u.inet.numeric);
    text = result_string(addrs, 0);
    assert_string_equal(text, "127.0.0.1:10809");
}

static void test_numeric_ipv6(void **state)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GPtrArray) addrs = NULL;
    g_autofree char *text = NULL;

    if (!qio_test_have_ipv6()) {
        print_message("IPv6 is not available on this host; skipping\n");
        skip();
    }
    addrs = lookup("[::1]:10809", 0, &err);
    assert_null(err);
    assert_int_equal(addrs->len, 1);
    text = result_string(addrs, 0);
    assert_string_equal(text, "[::1]:10809");
}

static void test_localhost(void **state)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GPtrArray) addrs = lookup("localhost:10809", 0, &err);

    assert_null(err);
    assert_non_null(addrs);
    assert_true(addrs->len >= 1);
    for (guint i = 0; i < addrs->len; i++) {
        g_autofree char *text = result_string(addrs, i);

        /* Some hosts map localhost to IPv4 only; both are fine. */
        if (!g_str_has_prefix(text, "127.") &&
            !g_str_equal(text, "[::1]:10809")) {
            fail_msg("unexpected result for localhost: %s", text);
        }
        assert_true(g_str_has_suffix(text, ":10809"));
    }
}

static void test_keep_alive_carried(void **state)
{
    g_autoptr(GPtrArray) addrs = lookup("127.0.0.1:1,keep-alive=on", 0, NULL);
    QIOSocketAddress *addr;

    assert_non_null(addrs);
    addr = addrs->pdata[0];
    assert_true(addr->u.inet.has_keep_alive);
    assert_true(addr->u.inet.keep_alive);
}

static void test_failure(void **state)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GPtrArray) addrs = lookup("name.invalid:80", 0, &err);

    assert_null(addrs);
    assert_non_null(err);
    /*
     * .invalid never exists (RFC 6761); a resolver that cannot be reached
     * at all reports a temporary failure instead.
     */
    if (!g_error_matches(err, QIO_ERROR, QIO_ERROR_NOT_FOUND) &&
        !g_error_matches(err, QIO_ERROR, QIO_ERROR_FAILED)) {
        fail_msg("unexpected error code %d: %s", err->code, err->message);
    }
    if (!strstr(err->message, "cannot resolve 'name.invalid'")) {
        fail_msg("message does not name the host: %s", err->message);
    }
}

static void test_bad_service(void **state)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GPtrArray) addrs =
        lookup("127.0.0.1:no-such-service-qio", 0, &err);

    assert_null(addrs);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_NOT_FOUND));
    assert_non_null(strstr(err->message, "no-such-service-qio"));
}

static void test_numeric_flag(void **state)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GPtrArray) addrs = lookup("localhost:80,numeric=on", 0, &err);

    /* numeric=on forbids looking the name up. */
    assert_null(addrs);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_NOT_FOUND));
}

static void test_filters(void **state)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GPtrArray) v4 = lookup("localhost:80,ipv4=on", 0, &err);
    g_autoptr(GPtrArray) v6 = NULL;
    g_autoptr(GPtrArray) none = NULL;

    assert_null(err);
    assert_non_null(v4);
    for (guint i = 0; i < v4->len; i++) {
        assert_false(is_ipv6_result(v4, i));
    }

    v6 = lookup("localhost:80,ipv6=on", 0, &err);
    if (v6) {
        for (guint i = 0; i < v6->len; i++) {
            assert_true(is_ipv6_result(v6, i));
        }
    } else {
        /* localhost has no IPv6 address on this host. */
        assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_NOT_FOUND));
        g_clear_error(&err);
    }

    none = lookup("127.0.0.1:80,ipv6=on", 0, &err);
    assert_null(none);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_NOT_FOUND));
    g_clear_error(&err);

    none = lookup("[::1]:80,ipv4=on", 0, &err);
    assert_null(none);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_NOT_FOUND));
    g_clear_error(&err);

    none = lookup("127.0.0.1:80,ipv6=off", 0, &err);
    assert_non_null(none);
    assert_int_equal(none->len, 1);
}

static void test_empty_host(void **state)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GPtrArray) any =
        lookup(":10809", QIO_DNS_RESOLVER_FLAG_PASSIVE, &err);
    g_autoptr(GPtrArray) any4 = NULL;
    g_autoptr(GPtrArray) connect = NULL;
    bool saw_v4 = false;

    assert_null(err);
    assert_non_null(any);
    for (guint i = 0; i < any->len; i++) {
        g_autofree char *text = result_string(any, i);

        if (g_str_equal(text, "0.0.0.0:10809")) {
            saw_v4 = true;
        } else if (!g_str_equal(text, "[::]:10809")) {
            fail_msg("unexpected wildcard address %s", text);
        }
    }
    assert_true(saw_v4);

    any4 = lookup(":10809,ipv4=on", QIO_DNS_RESOLVER_FLAG_PASSIVE, &err);
    assert_non_null(any4);
    assert_int_equal(any4->len, 1);

    /* Nothing to connect to without a host. */
    connect = lookup(":10809", 0, &err);
    assert_null(connect);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT));
}

static void test_passthrough(void **state)
{
    static const char *const forms[] = {
        "unix:/run/qio.sock",
        "unix:@abs",
        "fd:5",
        "vsock:2:1024",
    };

    for (size_t i = 0; i < G_N_ELEMENTS(forms); i++) {
        g_autoptr(GError) err = NULL;
        g_autoptr(GPtrArray) addrs = lookup(forms[i], 0, &err);
        g_autofree char *text = NULL;

        assert_null(err);
        assert_int_equal(addrs->len, 1);
        text = qio_socket_address_format(addrs->pdata[0]);
        assert_string_equal(text, forms[i]);
    }
}

static void test_invalid_address(void **state)
{
    g_autoptr(QIOSocketAddress) addr =
        qio_socket_address_new_inet("127.0.0.1", "70000");
    g_autoptr(GError) err = NULL;

    assert_null(qio_dns_resolver_lookup_sync(qio_dns_resolver_get_instance(),
                                             addr, 0, &err));
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT));
}

typedef struct {
    GMainLoop *loop;
    GThread *thread;
    int pending;
    GPtrArray *results[4];
    GError *errors[4];
} AsyncState;

typedef struct {
    AsyncState *st;
    int index;
} AsyncCall;

static void async_done(QIOTask *task, gpointer opaque)
{
    AsyncCall *call = opaque;
    AsyncState *st = call->st;

    /* Completion must come back to the thread that runs the loop. */
    assert_ptr_equal(g_thread_self(), st->thread);
    st->results[call->index] =
        qio_dns_resolver_lookup_result(task, &st->errors[call->index]);
    if (--st->pending == 0) {
        g_main_loop_quit(st->loop);
    }
}

static gboolean async_timeout(gpointer opaque)
{
    fail_msg("async lookups did not complete in %d ms", LOOP_TIMEOUT_MS);
    return G_SOURCE_REMOVE;
}

static void test_async(void **state)
{
    static const char *const forms[4] = {
        "127.0.0.1:10809",
        "localhost:10809",
        "name.invalid:80",
        "unix:/run/qio.sock",
    };
    g_autoptr(GMainContext) ctx = g_main_context_new();
    AsyncState st = { .thread = g_thread_self() };
    GSource *timeout;

    /* A private context as thread default: completion must land there. */
    g_main_context_push_thread_default(ctx);
    st.loop = g_main_loop_new(ctx, FALSE);
    for (int i = 0; i < 4; i++) {
        g_autoptr(QIOSocketAddress) addr =
            qio_socket_address_parse(forms[i], NULL);
        AsyncCall *call = g_new0(AsyncCall, 1);

        call->st = &st;
        call->index = i;
        st.pending++;
        qio_dns_resolver_lookup_async(qio_dns_resolver_get_instance(), addr, 0,
                                      async_done, call, g_free, NULL);
    }
    timeout = g_timeout_source_new(LOOP_TIMEOUT_MS);
    g_source_set_callback(timeout, async_timeout, NULL, NULL);
    g_source_attach(timeout, ctx);
    g_main_loop_run(st.loop);
    g_source_destroy(timeout);
    g_source_unref(timeout);
    g_main_loop_unref(st.loop);
    g_main_context_pop_thread_default(ctx);

    assert_non_null(st.results[0]);
    assert_int_equal(st.results[0]->len, 1);
    {
        g_autofree char *text = result_string(st.results[0], 0);

        assert_string_equal(text, "127.0.0.1:10809");
    }
    assert_non_null(st.results[1]);
    assert_true(st.results[1]->len >= 1);
    assert_null(st.results[2]);
    assert_non_null(st.errors[2]);
    assert_true(g_error_matches(st.errors[2], QIO_ERROR, QIO_ERROR_NOT_FOUND) ||
                g_error_matches(st.errors[2], QIO_ERROR, QIO_ERROR_FAILED));
    assert_non_null(st.results[3]);
    for (int i = 0; i < 4; i++) {
        if (st.results[i]) {
            g_ptr_array_unref(st.results[i]);
        }
        g_clear_error(&st.errors[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numeric_ipv4),
        cmocka_unit_test(test_numeric_ipv6),
        cmocka_unit_test(test_localhost),
        cmocka_unit_test(test_keep_alive_carried),
        cmocka_unit_test(test_failure),
        cmocka_unit_test(test_bad_service),
        cmocka_unit_test(test_numeric_flag),
        cmocka_unit_test(test_filters),
        cmocka_unit_test(test_empty_host),
        cmocka_unit_test(test_passthrough),
        cmocka_unit_test(test_invalid_address),
        cmocka_unit_test(test_async),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
