/*
 * Unit tests for the NBD URI parser: every scheme, ports, IPv6 literals,
 * users, percent-decoded export names and query values, and a table of
 * malformed URIs, each of which must fail with QIO_ERROR_INVALID_ARGUMENT
 * and a message naming the part that is wrong.  Also the PSK file that is
 * not called keys.psk, which must still load and leave no temporary
 * directory behind.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "crypto/init.h"
#include "crypto/tls-creds-psk.h"
#include "nbd/uri.h"
#include "qom/object.h"
#include "io/error.h"

static NBDUri *parse_ok(const char *str)
{
    g_autoptr(GError) err = NULL;
    NBDUri *uri = nbd_uri_parse(str, &err);

    if (!uri) {
        fail_msg("parsing '%s' failed: %s", str, err->message);
    }
    return uri;
}

static void check_addr(const NBDUri *uri, const char *want)
{
    g_autofree char *got = qio_socket_address_to_string(uri->addr);

    assert_string_equal(got, want);
}

static void test_plain_tcp(void **state)
{
    g_autoptr(NBDUri) a = parse_ok("nbd://example.com/disk0");
    g_autoptr(NBDUri) b = parse_ok("nbd://127.0.0.1:10900/");
    g_autoptr(NBDUri) c = parse_ok("nbd://localhost");
    g_autoptr(NBDUri) d = parse_ok("nbd://[::1]:1234/a/b");
    g_autoptr(NBDUri) e = parse_ok("nbd://[fe80::1]/x");

    (void)state;
    assert_false(a->tls);
    check_addr(a, "example.com:10809");
    assert_string_equal(a->export_name, "disk0");
    assert_null(a->username);
    assert_true(a->tls_verify_peer);
    check_addr(b, "127.0.0.1:10900");
    assert_string_equal(b->export_name, "");
    check_addr(c, "localhost:10809");
    assert_string_equal(c->export_name, "");
    assert_int_equal(d->addr->type, QIO_SOCKET_ADDRESS_TYPE_INET);
    assert_string_equal(d->addr->u.inet.host, "::1");
    assert_string_equal(d->addr->u.inet.port, "1234");
    assert_string_equal(d->export_name, "a/b");
    assert_string_equal(e->addr->u.inet.host, "fe80::1");
    assert_string_equal(e->addr->u.inet.port, "10809");
}

static void test_tls_and_query(void **state)
{
    g_autoptr(NBDUri) a =
        parse_ok("nbds://alice@localhost:10810/disk%20one"
                 "?tls-certificates=/etc/pki/q%26io&tls-verify-peer=false");
    g_autoptr(NBDUri) b =
        parse_ok("nbds://b%40ob@[::1]/?tls-psk-file=/tmp/k.psk");

    (void)state;
    assert_true(a->tls);
    assert_string_equal(a->username, "alice");
    assert_string_equal(a->export_name, "disk one");
    assert_string_equal(a->tls_certificates, "/etc/pki/q&io");
    assert_false(a->tls_verify_peer);
    assert_null(a->tls_psk_file);
    assert_string_equal(b->username, "b@ob");
    assert_string_equal(b->tls_psk_file, "/tmp/k.psk");
    assert_string_equal(b->addr->u.inet.host, "::1");
}

static void test_unix(void **state)
{
    g_autoptr(NBDUri) a = parse_ok("nbd+unix:///?socket=/tmp/nbd.sock");
    g_autoptr(NBDUri) b =
        parse_ok("nbds+unix://alice@/exp%2Fort?socket=/run/a%20b.sock&"
                 "tls-psk-file=/tmp/keys.psk");
    g_autoptr(NBDUri) c = parse_ok("nbd+unix://?socket=/s");

    (void)state;
    assert_false(a->tls);
    check_addr(a, "unix:/tmp/nbd.sock");
    assert_string_equal(a->export_name, "");
    assert_true(b->tls);
    assert_string_equal(b->username, "alice");
    assert_string_equal(b->export_name, "exp/ort");
    check_addr(b, "unix:/run/a b.sock");
    check_addr(c, "unix:/s");
}

static const struct {
    const char *uri;
    const char *part; /* must appear in the message */
} bad_uris[] = {
    { "http://localhost/", "unknown scheme" },
    { "nbd:/localhost/", "unknown scheme" },
    { "localhost:10809", "unknown scheme" },
    { "nbd:///disk0", "no host" },
    { "nbd://:10809/", "no host" },
    { "nbd://host:0/", "port '0'" },
    { "nbd://host:65536/", "port '65536'" },
    { "nbd://host:http/", "port 'http'" },
    { "nbd://host:/", "port ''" },
    { "nbd://host:-1/", "port '-1'" },
    { "nbd://::1/", "IPv6 address in brackets" },
    { "nbd://[::1/", "closing ']'" },
    { "nbd://[]/", "not an IPv6 address" },
    { "nbd://[nothex]/", "not an IPv6 address" },
    { "nbd://[::1]x/", "after the IPv6 host" },
    { "nbd://ho st/", "invalid character ' ' in host" },
    { "nbd://host/a%zz", "percent escape in the export name" },
    { "nbd://host/a%4", "percent escape in the export name" },
    { "nbd://host/a%00b", "export name contains %00" },
    { "nbd://host/%ff", "export name is not valid UTF-8" },
    { "nbd://host/#frag", "fragment" },
    { "nbd://alice@host/", "user is only meaningful with TLS" },
    { "nbds://@host/", "empty user" },
    { "nbds://alice:secret@host/", "password" },
    { "nbds://al%zzice@host/", "percent escape in the user" },
    { "nbd://host/?socket=/tmp/s", "socket= needs the nbd+unix" },
    { "nbd://host/?tls-certificates=/x", "TLS parameters on a plain" },
    { "nbd+unix:///?tls-psk-file=/x&socket=/s", "TLS parameters on a plain" },
    { "nbd://host/?frobnicate=1", "unknown query parameter 'frobnicate'" },
    { "nbd://host/?socket", "'socket' has no '=VALUE'" },
    { "nbds://host/?tls-certificates=", "'tls-certificates' is empty" },
    { "nbds://host/?tls-certificates=/a&tls-certificates=/b",
      "'tls-certificates' is given twice" },
    { "nbds://host/?tls-verify-peer=maybe", "tls-verify-peer=maybe" },
    { "nbds://host/?tls-verify-peer=0&tls-verify-peer=1",
      "'tls-verify-peer' is given twice" },
    { "nbds://host/?tls-certificates=/a&tls-psk-file=/b", "cannot both" },
    { "nbd+unix:///", "missing query parameter socket" },
    { "nbd+unix://host/?socket=/s", "UNIX socket URI has no host" },
    { "nbd+unix:///?socket=/s%", "percent escape in the query parameter "
                                 "value" },
};

static void test_bad(void **state)
{
    (void)state;
    for (size_t i = 0; i < G_N_ELEMENTS(bad_uris); i++) {
        g_autoptr(GError) err = NULL;
        g_autoptr(NBDUri) uri = nbd_uri_parse(bad_uris[i].uri, &err);

        if (uri) {
            fail_msg("'%s' was accepted", bad_uris[i].uri);
        }
        assert_true(
            g_error_matches(err, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT));
        if (!strstr(err->message, bad_uris[i].part) ||
            !strstr(err->message, bad_uris[i].uri)) {
            fail_msg("'%s': message '%s' does not name '%s'", bad_uris[i].uri,
                     err->message, bad_uris[i].part);
        }
    }
}

static void test_long(void **state)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *name = g_strnfill(4097, 'a');
    g_autofree char *str = g_strdup_printf("nbd://h/%s", name);
    g_autofree char *sock = g_strnfill(200, 's');
    g_autofree char *str2 = g_strdup_printf("nbd+unix:///?socket=/%s", sock);
    g_autoptr(NBDUri) uri = nbd_uri_parse(str, &err);

    (void)state;
    assert_null(uri);
    assert_non_null(strstr(err->message, "longer than 4096"));
    g_clear_error(&err);
    uri = nbd_uri_parse(str2, &err);
    assert_null(uri);
    assert_non_null(strstr(err->message, "socket path is longer"));
}

static void test_has_scheme(void **state)
{
    (void)state;
    assert_true(nbd_uri_has_scheme("nbd://x/"));
    assert_true(nbd_uri_has_scheme("nbds+unix:///?socket=/s"));
    assert_false(nbd_uri_has_scheme("disk.raw"));
    assert_false(nbd_uri_has_scheme("nbd:/x"));
    assert_false(nbd_uri_has_scheme("./nbd://x"));
}

static void test_psk_file(void **state)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *dir = g_dir_make_tmp("test-nbd-uri.XXXXXX", NULL);
    g_autofree char *file = g_build_filename(dir, "alice.keys", NULL);
    g_autofree char *str =
        g_strdup_printf("nbds://alice@localhost/?tls-psk-file=%s", file);
    g_autoptr(NBDUri) uri = parse_ok(str);
    g_autoptr(NBDUri) nocreds = parse_ok("nbds://localhost/");
    QCryptoTLSCreds *creds;

    (void)state;
    assert_non_null(dir);
    assert_true(qcrypto_init(NULL));
    assert_true(g_file_set_contents(
        file, "alice:0123456789abcdef0123456789abcdef\n", -1, NULL));
    creds = nbd_uri_make_tls_creds(uri, "uri-psk0", &err);
    if (!creds) {
        fail_msg("PSK creds: %s", err->message);
    }
    assert_true(QCRYPTO_IS_TLS_CREDS_PSK(creds));
    assert_string_equal(
        qcrypto_tls_creds_psk_get_username(QCRYPTO_TLS_CREDS_PSK(creds)),
        "alice");
    /* The temporary keys.psk link is gone once the file is loaded. */
    assert_false(
        g_file_test(qcrypto_tls_creds_get_dir(creds), G_FILE_TEST_EXISTS));
    g_object_unref(creds);

    assert_null(nbd_uri_make_tls_creds(nocreds, "uri-none", &err));
    assert_non_null(strstr(err->message, "tls-certificates=DIR"));
    qom_object_table_clear();
    g_unlink(file);
    g_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_tcp), cmocka_unit_test(test_tls_and_query),
        cmocka_unit_test(test_unix),      cmocka_unit_test(test_bad),
        cmocka_unit_test(test_long),      cmocka_unit_test(test_has_scheme),
        cmocka_unit_test(test_psk_file),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
