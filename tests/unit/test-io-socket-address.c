/*
 * Unit tests for QIOSocketAddress: parsing and formatting round trips for
 * every form users type, each malformed input and its error code, the
 * address family preferences, copies, and conversions to and from struct
 * sockaddr for IPv4, IPv6, UNIX paths, abstract names and vsock.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>
#include <cmocka.h>

#include "qio-config.h"
#ifdef HAVE_LINUX_VM_SOCKETS_H
#include <linux/vm_sockets.h>
#endif

#include "io/socket-address.h"

static QIOSocketAddress *parse_ok(const char *str)
{
    g_autoptr(GError) err = NULL;
    QIOSocketAddress *addr = qio_socket_address_parse(str, &err);

    if (!addr) {
        fail_msg("parsing '%s' failed: %s", str, err->message);
    }
    assert_null(err);
    return addr;
}

static void test_parse_inet(void **state)
{
    g_autoptr(QIOSocketAddress) a = parse_ok("localhost:10809");
    g_autoptr(QIOSocketAddress) b = parse_ok("[::1]:10809");
    g_autoptr(QIOSocketAddress) c = parse_ok(":10809");
    g_autoptr(QIOSocketAddress) d = parse_ok("127.0.0.1:0");
    g_autoptr(QIOSocketAddress) e = parse_ok("example.org:https");
    g_autoptr(QIOSocketAddress) f = parse_ok("[fe80::1%lo]:65535");

    assert_int_equal(a->type, QIO_SOCKET_ADDRESS_TYPE_INET);
    assert_string_equal(a->u.inet.host, "localhost");
    assert_string_equal(a->u.inet.port, "10809");
    assert_false(a->u.inet.has_ipv4);
    assert_false(a->u.inet.has_ipv6);
    assert_false(a->u.inet.has_keep_alive);
    assert_false(a->u.inet.has_numeric);

    assert_string_equal(b->u.inet.host, "::1");
    assert_string_equal(b->u.inet.port, "10809");

    assert_string_equal(c->u.inet.host, "");
    assert_string_equal(c->u.inet.port, "10809");

    assert_string_equal(d->u.inet.port, "0");
    assert_string_equal(e->u.inet.port, "https");
    assert_string_equal(f->u.inet.host, "fe80::1%lo");
}

static void test_parse_inet_options(void **state)
{
    g_autoptr(QIOSocketAddress) a = parse_ok("localhost:10809,ipv4=on");
    g_autoptr(QIOSocketAddress) b =
        parse_ok("h:1,ipv4=off,ipv6=on,keep-alive=on,numeric=off");
    g_autoptr(QIOSocketAddress) c = parse_ok("h:1,ipv6");

    assert_true(a->u.inet.has_ipv4);
    assert_true(a->u.inet.ipv4);
    assert_false(a->u.inet.has_ipv6);

    assert_true(b->u.inet.has_ipv4);
    assert_false(b->u.inet.ipv4);
    assert_true(b->u.inet.has_ipv6);
    assert_true(b->u.inet.ipv6);
    assert_true(b->u.inet.has_keep_alive);
    assert_true(b->u.inet.keep_alive);
    assert_true(b->u.inet.has_numeric);
    assert_false(b->u.inet.numeric);

    /* A bare option name means on. */
    assert_true(c->u.inet.has_ipv6);
    assert_true(c->u.inet.ipv6);
}

static void test_parse_other(void **state)
{
    g_autoptr(QIOSocketAddress) u = parse_ok("unix:/run/qio.sock");
    g_autoptr(QIOSocketAddress) r = parse_ok("unix:rel/path.sock");
    g_autoptr(QIOSocketAddress) ab = parse_ok("unix:@qio-test");
    g_autoptr(QIOSocketAddress) fdn = parse_ok("fd:3");
    g_autoptr(QIOSocketAddress) fds = parse_ok("fd:monitor-sock");
    g_autoptr(QIOSocketAddress) vs = parse_ok("vsock:2:1024");
    g_autoptr(QIOSocketAddress) vmax = parse_ok("vsock:4294967295:0");

    assert_int_equal(u->type, QIO_SOCKET_ADDRESS_TYPE_UNIX);
    assert_string_equal(u->u.q_unix.path, "/run/qio.sock");
    assert_false(u->u.q_unix.abstract);
    assert_string_equal(r->u.q_unix.path, "rel/path.sock");

    assert_int_equal(ab->type, QIO_SOCKET_ADDRESS_TYPE_UNIX);
    assert_string_equal(ab->u.q_unix.path, "qio-test");
    assert_true(ab->u.q_unix.has_abstract);
    assert_true(ab->u.q_unix.abstract);
    assert_false(ab->u.q_unix.has_tight);

    assert_int_equal(fdn->type, QIO_SOCKET_ADDRESS_TYPE_FD);
    assert_string_equal(fdn->u.fd.str, "3");
    assert_string_equal(fds->u.fd.str, "monitor-sock");

    assert_int_equal(vs->type, QIO_SOCKET_ADDRESS_TYPE_VSOCK);
    assert_string_equal(vs->u.vsock.cid, "2");
    assert_string_equal(vs->u.vsock.port, "1024");
    assert_string_equal(vmax->u.vsock.cid, "4294967295");
}

/* format(parse(s)) == s, and both parse to the same thing. */
static void test_round_trip(void **state)
{
    static const char *const forms[] = {
        "localhost:10809",
        "127.0.0.1:10809",
        "[::1]:10809",
        "[::ffff:127.0.0.1]:1",
        ":10809",
        "[::]:0",
        "host.example:nbd",
        "localhost:10809,ipv4=on",
        "localhost:10809,ipv6=on",
        "h:1,ipv4=off,ipv6=on,keep-alive=on,numeric=on",
        "h:1,keep-alive=off",
        "unix:/run/qio.sock",
        "unix:relative.sock",
        "unix:@abstract-name",
        "fd:3",
        "fd:named",
        "vsock:2:1024",
        "vsock:4294967295:4294967295",
    };

    for (size_t i = 0; i < G_N_ELEMENTS(forms); i++) {
        g_autoptr(QIOSocketAddress) addr = parse_ok(forms[i]);
        g_autofree char *text = qio_socket_address_format(addr);
        g_autoptr(QIOSocketAddress) again = parse_ok(text);
        g_autofree char *text2 = qio_socket_address_format(again);
        g_autoptr(QIOSocketAddress) copy = qio_socket_address_copy(addr);
        g_autofree char *text3 = qio_socket_address_format(copy);

        assert_string_equal(text, forms[i]);
        assert_string_equal(text2, forms[i]);
        assert_string_equal(text3, forms[i]);
    }
}

static void test_to_string(void **state)
{
    static const struct {
        const char *in;
        const char *out;
    } cases[] = {
        { "localhost:10809,ipv4=on,keep-alive=on", "localhost:10809" },
        { "[::1]:10809,ipv6=on", "[::1]:10809" },
        { "unix:/run/x.sock", "unix:/run/x.sock" },
        { "unix:@name", "unix:@name" },
        { "fd:7", "fd:7" },
        { "vsock:3:99", "vsock:3:99" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(QIOSocketAddress) addr = parse_ok(cases[i].in);
        g_autofree char *text = qio_socket_address_to_string(addr);

        assert_string_equal(text, cases[i].out);
    }
}

/* A relative path beginning with '@' must not turn into an abstract name. */
static void test_format_at_path(void **state)
{
    g_autoptr(QIOSocketAddress) addr = qio_socket_address_new_unix("@x", false);
    g_autofree char *text = qio_socket_address_format(addr);
    g_autoptr(QIOSocketAddress) again = parse_ok(text);

    assert_string_equal(text, "unix:./@x");
    assert_false(again->u.q_unix.abstract);
    assert_string_equal(again->u.q_unix.path, "./@x");
}

static void test_parse_errors(void **state)
{
    g_autofree char *long_path = NULL;
    g_autofree char *long_abstract = NULL;
    g_autofree char *max_path = NULL;
    g_autofree char *p107 = g_strnfill(107, 'p');
    g_autofree char *p106 = g_strnfill(106, 'p');
    g_autofree char *a108 = g_strnfill(108, 'a');
    const char *bad[] = {
        "",
        "localhost",
        "localhost:",
        "[::1]",
        "[::1]:",
        "[::1",
        "[::1]x80",
        "[localhost]:80",
        "::1:80",
        "fe80::1:80",
        "h:65536",
        "h:99999999999999999999999",
        "h:-1",
        "h:1x",
        "h:a b",
        "h:1,ipv4=maybe",
        "h:1,bogus=on",
        "h:1,",
        "h:1,,ipv4=on",
        "h:1,ipv4=on,ipv4=off",
        "h:1,ipv4=off,ipv6=off",
        "ho st:80",
        "unix:",
        "unix:@",
        "fd:",
        "fd:3x",
        "fd:99999999999",
        "fd:a,b",
        "vsock:",
        "vsock:1",
        "vsock:x:1",
        "vsock:-1:1",
        "vsock:4294967296:1",
        "vsock:1:x",
        "vsock:1:",
        NULL, /* long path */
        NULL, /* long abstract name */
    };
    size_t n = G_N_ELEMENTS(bad);

    long_path = g_strdup_printf("unix:/%s", p107);
    long_abstract = g_strdup_printf("unix:@%s", a108);
    bad[n - 2] = long_path;
    bad[n - 1] = long_abstract;

    for (size_t i = 0; i < n; i++) {
        g_autoptr(GError) err = NULL;
        g_autoptr(QIOSocketAddress) addr =
            qio_socket_address_parse(bad[i], &err);

        if (addr) {
            g_autofree char *text = qio_socket_address_format(addr);

            fail_msg("'%s' was accepted as '%s'", bad[i], text);
        }
        assert_non_null(err);
        assert_true(
            g_error_matches(err, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT));
    }

    /* Exactly the limit is fine: 107 bytes of path. */
    max_path = g_strdup_printf("unix:/%s", p106);
    {
        g_autoptr(QIOSocketAddress) addr = parse_ok(max_path);

        assert_int_equal(strlen(addr->u.q_unix.path),
                         QIO_SOCKET_ADDRESS_UNIX_PATH_MAX);
    }
}

/* The messages must say what is wrong, and with which input. */
static void test_error_messages(void **state)
{
    static const struct {
        const char *in;
        const char *needle;
    } cases[] = {
        { "[::1:80", "unterminated '['" },
        { "localhost", "no port" },
        { "::1:80", "brackets" },
        { "h:70000", "out of range 0-65535" },
        { "vsock:x:1", "bad vsock cid" },
        { "h:1,ipv4=off,ipv6=off", "no address family" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GError) err = NULL;

        assert_null(qio_socket_address_parse(cases[i].in, &err));
        assert_non_null(err);
        if (!strstr(err->message, cases[i].needle) ||
            !strstr(err->message, cases[i].in)) {
            fail_msg("message for '%s' is '%s'", cases[i].in, err->message);
        }
    }
}

static void test_validate(void **state)
{
    g_autoptr(QIOSocketAddress) ok = qio_socket_address_new_inet("h", "80");
    g_autoptr(QIOSocketAddress) port =
        qio_socket_address_new_inet("h", "70000");
    g_autoptr(QIOSocketAddress) noport = qio_socket_address_new_inet("h", NULL);
    g_autoptr(QIOSocketAddress) vs = qio_socket_address_new_vsock("2", "x");
    g_autoptr(QIOSocketAddress) un = qio_socket_address_new_unix("", false);
    g_autoptr(GError) err = NULL;

    assert_true(qio_socket_address_validate(ok, NULL));
    assert_false(qio_socket_address_validate(port, &err));
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT));
    g_clear_error(&err);
    assert_false(qio_socket_address_validate(noport, &err));
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT));
    g_clear_error(&err);
    assert_false(qio_socket_address_validate(vs, &err));
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT));
    g_clear_error(&err);
    assert_false(qio_socket_address_validate(un, &err));
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT));
}

static void test_families(void **state)
{
    static const struct {
        const char *opts;
        bool ok, v4, v6;
    } cases[] = {
        { "", true, true, true },
        { ",ipv4=on", true, true, false },
        { ",ipv6=on", true, false, true },
        { ",ipv4=off", true, false, true },
        { ",ipv6=off", true, true, false },
        { ",ipv4=on,ipv6=on", true, true, true },
        { ",ipv4=on,ipv6=off", true, true, false },
        { ",ipv4=off,ipv6=on", true, false, true },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *str = g_strdup_printf("h:1%s", cases[i].opts);
        g_autoptr(QIOSocketAddress) addr = parse_ok(str);
        bool v4 = false, v6 = false;

        assert_true(
            qio_socket_address_inet_families(&addr->u.inet, &v4, &v6, NULL));
        assert_int_equal(v4, cases[i].v4);
        assert_int_equal(v6, cases[i].v6);
    }

    {
        g_autoptr(QIOSocketAddress) addr =
            qio_socket_address_new_inet("h", "1");
        g_autoptr(GError) err = NULL;
        bool v4, v6;

        addr->u.inet.has_ipv4 = addr->u.inet.has_ipv6 = true;
        assert_false(
            qio_socket_address_inet_families(&addr->u.inet, &v4, &v6, &err));
        assert_true(
            g_error_matches(err, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT));
    }
}

/* sockaddr -> QIOSocketAddress -> sockaddr gives back the same bytes. */
static void check_sockaddr_round_trip(const void *sa, socklen_t salen,
                                      const char *expect)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(QIOSocketAddress) addr =
        qio_socket_address_from_sockaddr(sa, salen, &err);
    g_autofree char *text = NULL;
    struct sockaddr_storage ss;
    socklen_t sslen = 0;

    if (!addr) {
        fail_msg("from_sockaddr for %s: %s", expect, err->message);
    }
    text = qio_socket_address_to_string(addr);
    assert_string_equal(text, expect);
    assert_true(qio_socket_address_validate(addr, NULL));
    if (!qio_socket_address_to_sockaddr(addr, &ss, &sslen, &err)) {
        fail_msg("to_sockaddr for %s: %s", expect, err->message);
    }
    assert_int_equal(sslen, salen);
    assert_memory_equal(&ss, sa, salen);
}

static void test_sockaddr_inet(void **state)
{
    struct sockaddr_in sin = { .sin_family = AF_INET,
                               .sin_port = htons(10809) };
    struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6,
                                 .sin6_port = htons(10809) };
    g_autoptr(QIOSocketAddress) addr = NULL;

    assert_int_equal(inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr), 1);
    check_sockaddr_round_trip(&sin, sizeof(sin), "127.0.0.1:10809");

    sin6.sin6_addr = in6addr_loopback;
    check_sockaddr_round_trip(&sin6, sizeof(sin6), "[::1]:10809");

    sin6.sin6_addr = in6addr_any;
    sin6.sin6_port = 0;
    check_sockaddr_round_trip(&sin6, sizeof(sin6), "[::]:0");

    /* Results are marked numeric, so nothing will look them up again. */
    addr = qio_socket_address_from_sockaddr((struct sockaddr *)&sin,
                                            sizeof(sin), NULL);
    assert_true(addr->u.inet.has_numeric);
    assert_true(addr->u.inet.numeric);
}

static void test_sockaddr_unix(void **state)
{
    const size_t off = offsetof(struct sockaddr_un, sun_path);
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    g_autoptr(QIOSocketAddress) addr = NULL;
    g_autoptr(QIOSocketAddress) unnamed = NULL;
    g_autofree char *text = NULL;

    strcpy(sun.sun_path, "/tmp/qio-test.sock");
    check_sockaddr_round_trip(&sun, off + strlen(sun.sun_path) + 1,
                              "unix:/tmp/qio-test.sock");

    /* Abstract, tight: the length covers just the name. */
    memset(sun.sun_path, 0, sizeof(sun.sun_path));
    memcpy(sun.sun_path + 1, "qio-abs", 7);
    check_sockaddr_round_trip(&sun, off + 1 + 7, "unix:@qio-abs");

    /* Abstract, padded to the whole of sun_path. */
    check_sockaddr_round_trip(&sun, sizeof(sun), "unix:@qio-abs");
    addr = qio_socket_address_from_sockaddr((struct sockaddr *)&sun,
                                            sizeof(sun), NULL);
    assert_true(addr->u.q_unix.abstract);
    assert_true(addr->u.q_unix.has_tight);
    assert_false(addr->u.q_unix.tight);

    /* Unnamed: a socketpair end. */
    unnamed = qio_socket_address_from_sockaddr((struct sockaddr *)&sun,
                                               sizeof(sa_family_t), NULL);
    assert_non_null(unnamed);
    text = qio_socket_address_to_string(unnamed);
    assert_string_equal(text, "unix:");
}

static void test_sockaddr_vsock(void **state)
{
#ifdef HAVE_LINUX_VM_SOCKETS_H
    struct sockaddr_vm svm = { .svm_family = AF_VSOCK,
                               .svm_cid = 2,
                               .svm_port = 1024 };

    check_sockaddr_round_trip(&svm, sizeof(svm), "vsock:2:1024");
    svm.svm_cid = VMADDR_CID_ANY;
    svm.svm_port = VMADDR_PORT_ANY;
    check_sockaddr_round_trip(&svm, sizeof(svm), "vsock:4294967295:4294967295");
#else
    skip();
#endif
}

static void test_sockaddr_errors(void **state)
{
    struct sockaddr_storage ss = { .ss_family = AF_APPLETALK };
    g_autoptr(QIOSocketAddress) name =
        qio_socket_address_new_inet("localhost", "80");
    g_autoptr(QIOSocketAddress) svc =
        qio_socket_address_new_inet("127.0.0.1", "http");
    g_autoptr(QIOSocketAddress) v6only = NULL;
    g_autoptr(QIOSocketAddress) fd = qio_socket_address_new_fd("3");
    g_autoptr(GError) err = NULL;
    socklen_t sslen;

    assert_null(qio_socket_address_from_sockaddr((struct sockaddr *)&ss,
                                                 sizeof(ss), &err));
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_NOT_SUPPORTED));
    g_clear_error(&err);

    assert_null(
        qio_socket_address_from_sockaddr((struct sockaddr *)&ss, 1, &err));
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT));
    g_clear_error(&err);

    /* Names must be resolved before a sockaddr exists for them. */
    assert_false(qio_socket_address_to_sockaddr(name, &ss, &sslen, &err));
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT));
    g_clear_error(&err);
    assert_false(qio_socket_address_to_sockaddr(svc, &ss, &sslen, &err));
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT));
    g_clear_error(&err);

    /* An IPv4 literal with ipv6=on only has no sockaddr. */
    v6only = parse_ok("127.0.0.1:80,ipv6=on");
    assert_false(qio_socket_address_to_sockaddr(v6only, &ss, &sslen, &err));
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT));
    g_clear_error(&err);

    assert_false(qio_socket_address_to_sockaddr(fd, &ss, &sslen, &err));
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_NOT_SUPPORTED));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_inet),
        cmocka_unit_test(test_parse_inet_options),
        cmocka_unit_test(test_parse_other),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_to_string),
        cmocka_unit_test(test_format_at_path),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_error_messages),
        cmocka_unit_test(test_validate),
        cmocka_unit_test(test_families),
        cmocka_unit_test(test_sockaddr_inet),
        cmocka_unit_test(test_sockaddr_unix),
        cmocka_unit_test(test_sockaddr_vsock),
        cmocka_unit_test(test_sockaddr_errors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
