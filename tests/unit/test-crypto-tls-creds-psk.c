/*
 * Unit tests for tls-creds-psk and tls-creds-anon (crypto/tls-creds-psk.c,
 * crypto/tls-creds-anon.c) and for the priority strings every kind uses
 * (crypto/tls-creds.c).  keys.psk is fed good and malformed files, and
 * every refusal must name the file and line but never the key.  The
 * priority tests check that TLS 1.0 and 1.1 never survive, that AES-GCM is
 * negotiated where the CPU has AES (raw gnutls handshakes with our
 * defaults and with stock gnutls peers), and, in child processes started
 * with GNUTLS_SYSTEM_PRIORITY_FILE (read by gnutls only at start-up), the
 * @QIO,SYSTEM fallback order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <glib/gstdio.h>

#include "crypto-tls-helpers.h"
#include "crypto/tls-creds-anon.h"
#include "crypto/tls-creds-internal.h"
#include "crypto/tls-creds-psk.h"
#include "qio-config.h"
#include "qom/object.h"

/* What stock gnutls peers (qemu-nbd, nbdcopy) use for PSK. */
#define STOCK_PSK "NORMAL:+ECDHE-PSK:+DHE-PSK:+PSK"

#define CHILD_ARG "--priority-report"

static int setup(void **state)
{
    qcrypto_tls_creds_register_types();
    return 0;
}

static int teardown(void **state)
{
    qom_object_table_clear();
    qcrypto_test_tmpdir_remove_all();
    return 0;
}

/* ---- keys.psk ----------------------------------------------------------- */

static QCryptoTLSCreds *psk_new(const char *endpoint, const char *dir,
                                const char *username, GError **errp)
{
    return QCRYPTO_TLS_CREDS(qom_object_add_props(
        "tls-creds-psk", "tls0", errp, "endpoint", endpoint, "dir", dir,
        username ? "username" : NULL, username, NULL));
}

typedef struct {
    const char *desc;
    const char *contents;
    const char *endpoint;
    const char *username;
    int expect;             /* -1: OK */
    const char *in_message; /* must appear in the message */
} PskRow;

#define KEY_HEX "00112233445566778899aabbccddeeff"

/* clang-format off */
static const PskRow psk_rows[] = {
    { "one user, server", "alice:" KEY_HEX "\n", "server", NULL, -1, NULL },
    { "one user, client", "alice:" KEY_HEX "\n", "client", "alice", -1,
      NULL },
    { "default username qemu", "qemu:" KEY_HEX, "client", NULL, -1, NULL },
    { "blank lines, CRLF, upper-case hex, no final newline",
      "\nalice:" KEY_HEX "\r\n\r\nbob:ABCDEF0123\n\nqemu:01", "client",
      "bob", -1, NULL },
    { "bad hex", "alice:" KEY_HEX "\nbob:" KEY_HEX "zz\n", "server", NULL,
      QCRYPTO_ERROR_DECODE, "line 2" },
    { "odd number of digits", "alice:" KEY_HEX "1\n", "server", NULL,
      QCRYPTO_ERROR_DECODE, "line 1" },
    { "empty key", "alice:" KEY_HEX "\nbob:\n", "client", "alice",
      QCRYPTO_ERROR_DECODE, "line 2" },
    { "missing ':'", "alice:" KEY_HEX "\n\n" KEY_HEX "\n", "server", NULL,
      QCRYPTO_ERROR_DECODE, "line 3" },
    { "empty username", ":" KEY_HEX "\n", "server", NULL,
      QCRYPTO_ERROR_DECODE, "line 1" },
    { "space around the key", "alice: " KEY_HEX "\n", "server", NULL,
      QCRYPTO_ERROR_DECODE, "line 1" },
    { "user given twice", "alice:" KEY_HEX "\nalice:" KEY_HEX "\n",
      "server", NULL, QCRYPTO_ERROR_DECODE, "line 2" },
    { "no keys at all", "\n\n", "server", NULL, QCRYPTO_ERROR_DECODE,
      "no 'username:hexkey'" },
    { "client username not in the file", "alice:" KEY_HEX "\n", "client",
      "mallory", QCRYPTO_ERROR_PSK, "'mallory'" },
    { "default username not in the file", "alice:" KEY_HEX "\n", "client",
      NULL, QCRYPTO_ERROR_PSK, "'qemu'" },
};
/* clang-format on */

static void test_psk_files(void **state)
{
    for (size_t i = 0; i < G_N_ELEMENTS(psk_rows); i++) {
        const PskRow *row = &psk_rows[i];
        g_autoptr(GError) err = NULL;
        g_autofree char *dir = qcrypto_test_tmpdir_new(&err);
        g_autofree char *path = NULL;
        QCryptoTLSCreds *creds;

        assert_non_null(dir);
        assert_true(qcrypto_test_psk_write(dir, row->contents, &err));
        path = g_build_filename(dir, "keys.psk", NULL);
        creds = psk_new(row->endpoint, dir, row->username, &err);
        if (row->expect < 0) {
            if (!creds) {
                fail_msg("row '%s': %s", row->desc, err->message);
            }
            g_autoptr(QCryptoTLSCredsHandle) h =
                qcrypto_tls_creds_get_handle(creds);
            assert_non_null(h);
            assert_int_equal(qcrypto_tls_creds_handle_get_type(h),
                             GNUTLS_CRD_PSK);
            assert_true(qom_object_del("tls0", NULL));
        } else {
            if (creds) {
                fail_msg("row '%s': loaded", row->desc);
            }
            if (!g_error_matches(err, QCRYPTO_ERROR, row->expect)) {
                fail_msg("row '%s': code %d: %s", row->desc, err->code,
                         err->message);
            }
            if (!strstr(err->message, path) ||
                !strstr(err->message, row->in_message) ||
                !strstr(err->message, "TLS credentials 'tls0'")) {
                fail_msg("row '%s': '%s' lacks the path or '%s'", row->desc,
                         err->message, row->in_message);
            }
            /* Not even half of a key. */
            if (strstr(err->message, "0011223344556677") ||
                strstr(err->message, "8899aabbccddeeff")) {
                fail_msg("row '%s': key in message '%s'", row->desc,
                         err->message);
            }
        }
        qcrypto_test_tmpdir_remove(dir);
    }
}

static void test_psk_missing(void **state)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *dir = qcrypto_test_tmpdir_new(&err);
    g_autofree char *want = NULL;

    assert_non_null(dir);
    assert_null(psk_new("server", dir, NULL, &err));
    assert_true(g_error_matches(err, QCRYPTO_ERROR, QCRYPTO_ERROR_FILE));
    want = g_strdup_printf("TLS credentials 'tls0': cannot read %s/keys.psk: "
                           "No such file or directory",
                           dir);
    assert_non_null(strstr(err->message, want));
    g_clear_error(&err);

    assert_null(qom_object_add_props("tls-creds-psk", "tls0", &err, "endpoint",
                                     "server", NULL));
    assert_true(
        g_error_matches(err, QCRYPTO_ERROR, QCRYPTO_ERROR_INVALID_ARGUMENT));
    qcrypto_test_tmpdir_remove(dir);
}

static void test_psk_username(void **state)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *dir = qcrypto_test_tmpdir_new(&err);
    g_autoptr(QCryptoTLSCreds) a = NULL;
    g_autoptr(QCryptoTLSCreds) b = NULL;
    g_autofree char *value = NULL;

    assert_non_null(dir);
    assert_true(qcrypto_test_psk_add(dir, "qemu", NULL, 0, &err));
    assert_true(qcrypto_test_psk_add(dir, "alice", NULL, 0, &err));
    a = qcrypto_test_creds_new("tls-creds-psk", &err, "endpoint", "client",
                               "dir", dir, NULL);
    b = qcrypto_test_creds_new("tls-creds-psk", &err, "endpoint", "client",
                               "dir", dir, "username", "alice", NULL);
    assert_non_null(a);
    assert_non_null(b);
    assert_string_equal(
        qcrypto_tls_creds_psk_get_username(QCRYPTO_TLS_CREDS_PSK(a)), "qemu");
    assert_string_equal(
        qcrypto_tls_creds_psk_get_username(QCRYPTO_TLS_CREDS_PSK(b)), "alice");
    g_object_get(a, "username", &value, NULL);
    assert_string_equal(value, "qemu");
    qcrypto_test_tmpdir_remove(dir);
}

/* ---- Handshakes --------------------------------------------------------- */

typedef struct {
    char *sdir;
    char *cdir;
    QCryptoTLSCreds *server;
    QCryptoTLSCreds *client;
} PskPair;

static void psk_pair_init(PskPair *p, const guint8 *client_key)
{
    g_autoptr(GError) err = NULL;

    p->sdir = qcrypto_test_tmpdir_new(&err);
    p->cdir = qcrypto_test_tmpdir_new(&err);
    assert_non_null(p->sdir);
    assert_non_null(p->cdir);
    assert_true(qcrypto_test_psk_add(p->sdir, "alice", NULL, 0, &err));
    assert_true(qcrypto_test_psk_add(p->cdir, "alice", client_key,
                                     client_key ? 32 : 0, &err));
    p->server = qcrypto_test_creds_new("tls-creds-psk", &err, "endpoint",
                                       "server", "dir", p->sdir, NULL);
    p->client =
        qcrypto_test_creds_new("tls-creds-psk", &err, "endpoint", "client",
                               "dir", p->cdir, "username", "alice", NULL);
    if (!p->server || !p->client) {
        fail_msg("%s", err->message);
    }
}

static void psk_pair_clear(PskPair *p)
{
    g_clear_object(&p->server);
    g_clear_object(&p->client);
    qcrypto_test_tmpdir_remove(p->sdir);
    qcrypto_test_tmpdir_remove(p->cdir);
    g_free(p->sdir);
    g_free(p->cdir);
}

static void handshake_ok(QCryptoTLSCreds *c, const char *cprio,
                         QCryptoTLSCreds *s, const char *sprio,
                         QCryptoTestHandshake *hs)
{
    g_autoptr(GError) err = NULL;

    if (!qcrypto_test_raw_handshake(c, cprio, s, sprio, hs, &err)) {
        fail_msg("%s", err->message);
    }
}

static void test_psk_handshake(void **state)
{
    PskPair p;
    QCryptoTestHandshake hs;
    bool aes = qcrypto_tls_cpu_has_aes_gcm();
    g_autofree char *cprio = NULL;
    g_autofree char *tls12 = NULL;

    psk_pair_init(&p, NULL);

    /* Ours to ours: TLS 1.3, AES-128-GCM (SHA-256 binder). */
    handshake_ok(p.client, NULL, p.server, NULL, &hs);
    assert_int_equal(hs.version, GNUTLS_TLS1_3);
    if (aes) {
        assert_int_equal(hs.cipher, GNUTLS_CIPHER_AES_128_GCM);
    }

    /* A stock client to our server: the server's order wins. */
    handshake_ok(p.client, STOCK_PSK, p.server, NULL, &hs);
    if (aes) {
        assert_int_equal(hs.cipher, GNUTLS_CIPHER_AES_128_GCM);
    }

    /* Our client to a stock server: the client's order wins there. */
    handshake_ok(p.client, NULL, p.server, STOCK_PSK, &hs);
    if (aes) {
        assert_int_equal(hs.cipher, GNUTLS_CIPHER_AES_128_GCM);
    }

    /* TLS 1.2: DHE-PSK with AES-GCM rather than ECDHE-PSK with CHACHA20. */
    cprio = qcrypto_tls_creds_get_priority(p.client);
    tls12 = g_strdup_printf("%s:-VERS-TLS1.3", cprio);
    handshake_ok(p.client, tls12, p.server, NULL, &hs);
    assert_int_equal(hs.version, GNUTLS_TLS1_2);
    if (aes) {
        assert_int_equal(hs.kx, GNUTLS_KX_DHE_PSK);
        assert_int_equal(hs.cipher, GNUTLS_CIPHER_AES_256_GCM);
    }

    /* A client limited to TLS 1.1 is refused. */
    {
        g_autoptr(GError) err = NULL;
        assert_false(qcrypto_test_raw_handshake(
            p.client, STOCK_PSK ":-VERS-ALL:+VERS-TLS1.1", p.server, NULL, &hs,
            &err));
        assert_true(
            g_error_matches(err, QCRYPTO_ERROR, QCRYPTO_ERROR_HANDSHAKE));
    }
    psk_pair_clear(&p);
}

static void test_psk_wrong_key(void **state)
{
    static const guint8 other[32] = { 1, 2, 3 };
    g_autoptr(GError) err = NULL;
    QCryptoTestHandshake hs;
    PskPair p;

    psk_pair_init(&p, other);
    assert_false(
        qcrypto_test_raw_handshake(p.client, NULL, p.server, NULL, &hs, &err));
    assert_true(g_error_matches(err, QCRYPTO_ERROR, QCRYPTO_ERROR_HANDSHAKE));
    psk_pair_clear(&p);
}

static void test_psk_unknown_user(void **state)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(QCryptoTLSCreds) bob = NULL;
    QCryptoTestHandshake hs;
    PskPair p;

    psk_pair_init(&p, NULL);
    assert_true(qcrypto_test_psk_add(p.cdir, "bob", NULL, 0, &err));
    bob = qcrypto_test_creds_new("tls-creds-psk", &err, "endpoint", "client",
                                 "dir", p.cdir, "username", "bob", NULL);
    assert_non_null(bob);
    assert_false(
        qcrypto_test_raw_handshake(bob, NULL, p.server, NULL, &hs, &err));
    assert_true(g_error_matches(err, QCRYPTO_ERROR, QCRYPTO_ERROR_HANDSHAKE));
    psk_pair_clear(&p);
}

/* The server answers from what it loaded; reload picks up a rotation. */
static void test_psk_reload(void **state)
{
    static const guint8 rotated[32] = { 0xaa, 0xbb, 0xcc };
    g_autoptr(GError) err = NULL;
    g_autoptr(QCryptoTLSCreds) newclient = NULL;
    g_autofree char *newdir = NULL;
    g_autofree char *path = NULL;
    QCryptoTLSCredsHandle *before, *after;
    QCryptoTestHandshake hs;
    PskPair p;

    psk_pair_init(&p, NULL);
    newdir = qcrypto_test_tmpdir_new(&err);
    assert_true(qcrypto_test_psk_add(newdir, "alice", rotated, 32, &err));
    newclient =
        qcrypto_test_creds_new("tls-creds-psk", &err, "endpoint", "client",
                               "dir", newdir, "username", "alice", NULL);
    assert_non_null(newclient);

    path = g_build_filename(p.sdir, "keys.psk", NULL);
    g_unlink(path);
    assert_true(qcrypto_test_psk_add(p.sdir, "alice", rotated, 32, &err));

    /* Before the reload: the old key still works, the new one does not. */
    handshake_ok(p.client, NULL, p.server, NULL, &hs);
    assert_false(
        qcrypto_test_raw_handshake(newclient, NULL, p.server, NULL, &hs, &err));
    g_clear_error(&err);

    before = qcrypto_tls_creds_get_handle(p.server);
    assert_true(qcrypto_tls_creds_reload(p.server, &err));
    after = qcrypto_tls_creds_get_handle(p.server);
    assert_ptr_not_equal(before, after);
    handshake_ok(newclient, NULL, p.server, NULL, &hs);
    assert_false(
        qcrypto_test_raw_handshake(p.client, NULL, p.server, NULL, &hs, &err));
    g_clear_error(&err);

    /* A broken file on reload keeps the keys in force. */
    assert_true(qcrypto_test_psk_write(p.sdir, "alice:xyz\n", &err));
    assert_false(qcrypto_tls_creds_reload(p.server, &err));
    assert_true(g_error_matches(err, QCRYPTO_ERROR, QCRYPTO_ERROR_DECODE));
    g_clear_error(&err);
    handshake_ok(newclient, NULL, p.server, NULL, &hs);

    qcrypto_tls_creds_handle_unref(before);
    qcrypto_tls_creds_handle_unref(after);
    qcrypto_test_tmpdir_remove(newdir);
    psk_pair_clear(&p);
}

static void test_anon(void **state)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(QCryptoTLSCreds) server = NULL;
    g_autoptr(QCryptoTLSCreds) client = NULL;
    g_autofree char *dir = qcrypto_test_tmpdir_new(&err);
    g_autofree char *dh = NULL;
    QCryptoTestHandshake hs;

    server = qcrypto_test_creds_new("tls-creds-anon", &err, "endpoint",
                                    "server", NULL);
    client = qcrypto_test_creds_new("tls-creds-anon", &err, "endpoint",
                                    "client", NULL);
    assert_non_null(server);
    assert_non_null(client);
    handshake_ok(client, NULL, server, NULL, &hs);
    /* gnutls has no anonymous key exchange in TLS 1.3. */
    assert_int_equal(hs.version, GNUTLS_TLS1_2);
    if (qcrypto_tls_cpu_has_aes_gcm()) {
        assert_int_equal(hs.kx, GNUTLS_KX_ANON_DH);
        assert_int_equal(hs.cipher, GNUTLS_CIPHER_AES_256_GCM);
    }
    g_clear_object(&server);

    /* A dir= without dh-params.pem is fine; a broken one is not. */
    server = qcrypto_test_creds_new("tls-creds-anon", &err, "endpoint",
                                    "server", "dir", dir, NULL);
    assert_non_null(server);
    g_clear_object(&server);
    dh = g_build_filename(dir, "dh-params.pem", NULL);
    assert_true(g_file_set_contents(dh, "junk\n", -1, NULL));
    assert_null(qcrypto_test_creds_new("tls-creds-anon", &err, "endpoint",
                                       "server", "dir", dir, NULL));
    assert_true(g_error_matches(err, QCRYPTO_ERROR, QCRYPTO_ERROR_DECODE));
    assert_non_null(strstr(err->message, dh));
    qcrypto_test_tmpdir_remove(dir);
}

/* ---- Priority strings --------------------------------------------------- */

/* The protocols and ciphers @prio enables, as ",NAME,NAME," strings. */
static char *priority_lists(const char *prio, char **ciphers)
{
    gnutls_priority_t p;
    const unsigned int *list;
    GString *protos = g_string_new(",");
    GString *ciph = g_string_new(",");
    int n;

    if (gnutls_priority_init2(&p, prio, NULL, 0) < 0) {
        g_string_free(ciph, TRUE);
        *ciphers = NULL;
        return g_string_free(protos, TRUE);
    }
    n = gnutls_priority_protocol_list(p, &list);
    for (int i = 0; i < n; i++) {
        g_string_append_printf(protos, "%s,",
                               gnutls_protocol_get_name(list[i]));
    }
    n = gnutls_priority_cipher_list(p, &list);
    for (int i = 0; i < n; i++) {
        g_string_append_printf(ciph, "%s,", gnutls_cipher_get_name(list[i]));
    }
    gnutls_priority_deinit(p);
    *ciphers = g_string_free(ciph, FALSE);
    return g_string_free(protos, FALSE);
}

static void assert_no_old_versions(const char *prio)
{
    g_autofree char *ciphers = NULL;
    g_autofree char *protos = priority_lists(prio, &ciphers);

    if (!ciphers) {
        fail_msg("gnutls refuses '%s'", prio);
    }
    if (strstr(protos, ",TLS1.0,") || strstr(protos, ",TLS1.1,") ||
        strstr(protos, ",SSL3.0,")) {
        fail_msg("'%s' allows %s", prio, protos);
    }
    assert_non_null(strstr(protos, ",TLS1.2,"));
}

static void test_priority_compose(void **state)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *dir = qcrypto_test_tmpdir_new(&err);
    g_autoptr(QCryptoTLSCreds) user = NULL;
    g_autoptr(QCryptoTLSCreds) def = NULL;
    g_autofree char *prio = NULL;
    g_autofree char *ciphers = NULL;
    g_autofree char *protos = NULL;
    const char *base = qcrypto_tls_priority_default();

    /* The default is the build's setting or gnutls's own. */
    assert_true(g_str_equal(base, QIO_TLS_PRIORITY) ||
                g_str_equal(base, "NORMAL"));

    /* Every combination keeps TLS 1.0 and 1.1 out, even when asked. */
    for (int tune = 0; tune < 2; tune++) {
        for (int aes = 0; aes < 2; aes++) {
            for (int ep = 0; ep < 2; ep++) {
                g_autofree char *a = qcrypto_tls_priority_compose(
                    "NORMAL:+VERS-TLS1.0:+VERS-TLS1.1", NULL, NULL, tune, aes,
                    ep);
                g_autofree char *b = qcrypto_tls_priority_compose(
                    base, "+ECDHE-PSK:+DHE-PSK:+PSK",
                    "+DHE-PSK:+ECDHE-PSK:+PSK", tune, aes, ep);
                assert_no_old_versions(a);
                assert_no_old_versions(b);
            }
        }
    }

    /* Untuned: exactly base, versions, key exchanges. */
    prio =
        qcrypto_tls_priority_compose("NORMAL", "+PSK", "+DHE-PSK", false, true,
                                     QCRYPTO_TLS_CREDS_ENDPOINT_SERVER);
    assert_string_equal(prio, "NORMAL:-VERS-TLS1.0:-VERS-TLS1.1:+PSK");
    g_free(prio);
    prio =
        qcrypto_tls_priority_compose("NORMAL", "+PSK", "+DHE-PSK", true, false,
                                     QCRYPTO_TLS_CREDS_ENDPOINT_SERVER);
    assert_string_equal(prio, "NORMAL:-VERS-TLS1.0:-VERS-TLS1.1:+PSK");
    g_free(prio);

    /* Tuned: AES-GCM first, same set; servers take precedence. */
    prio =
        qcrypto_tls_priority_compose("NORMAL", "+PSK", "+DHE-PSK", true, true,
                                     QCRYPTO_TLS_CREDS_ENDPOINT_SERVER);
    assert_true(g_str_has_prefix(prio, "NORMAL:-VERS-TLS1.0:-VERS-TLS1.1:"
                                       "+DHE-PSK:-CIPHER-ALL:"
                                       "+AES-256-GCM:+AES-128-GCM:"));
    assert_true(g_str_has_suffix(prio, ":%SERVER_PRECEDENCE"));
    protos = priority_lists(prio, &ciphers);
    assert_true(g_str_has_prefix(ciphers, ",AES-256-GCM,AES-128-GCM,"));
    assert_non_null(strstr(ciphers, ",CHACHA20-POLY1305,"));
    g_free(prio);
    prio = qcrypto_tls_priority_compose("NORMAL", NULL, NULL, true, true,
                                        QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT);
    assert_null(strstr(prio, "SERVER_PRECEDENCE"));
    g_free(prio);

    /* A policy without CHACHA20 does not get it back from the reorder. */
    g_free(ciphers);
    g_free(protos);
    prio = qcrypto_tls_priority_compose("NORMAL:-CHACHA20-POLY1305", NULL, NULL,
                                        true, true,
                                        QCRYPTO_TLS_CREDS_ENDPOINT_SERVER);
    protos = priority_lists(prio, &ciphers);
    assert_null(strstr(ciphers, "CHACHA20"));
    g_free(prio);

    /* The priority property is used as given, plus the fixed parts. */
    assert_true(qcrypto_test_psk_add(dir, "qemu", NULL, 0, &err));
    user = qcrypto_test_creds_new("tls-creds-psk", &err, "endpoint", "server",
                                  "dir", dir, "priority",
                                  "SECURE256:+VERS-TLS1.1", NULL);
    assert_non_null(user);
    prio = qcrypto_tls_creds_get_priority(user);
    assert_string_equal(prio, "SECURE256:+VERS-TLS1.1:-VERS-TLS1.0:"
                              "-VERS-TLS1.1:+ECDHE-PSK:+DHE-PSK:+PSK");
    assert_no_old_versions(prio);
    g_free(prio);

    def = qcrypto_test_creds_new("tls-creds-anon", &err, "endpoint", "client",
                                 NULL);
    assert_non_null(def);
    prio = qcrypto_tls_creds_get_priority(def);
    assert_true(g_str_has_prefix(prio, base));
    assert_non_null(strstr(prio, "ANON-DH"));
    assert_no_old_versions(prio);
    qcrypto_test_tmpdir_remove(dir);
}

/*
 * In a child started with GNUTLS_SYSTEM_PRIORITY_FILE: print what the
 * default resolves to, for the parent to check.
 */
static int child_report(void)
{
    g_autofree char *plain = qcrypto_tls_priority_compose(
        qcrypto_tls_priority_default(), NULL, NULL, false, false,
        QCRYPTO_TLS_CREDS_ENDPOINT_SERVER);
    g_autofree char *tuned = qcrypto_tls_priority_compose(
        qcrypto_tls_priority_default(), "+ECDHE-PSK:+DHE-PSK:+PSK",
        "+DHE-PSK:+ECDHE-PSK:+PSK", true, true,
        QCRYPTO_TLS_CREDS_ENDPOINT_SERVER);
    g_autofree char *ciphers = NULL;
    g_autofree char *protos = priority_lists(plain, &ciphers);
    g_autofree char *tciphers = NULL;
    g_autofree char *tprotos = priority_lists(tuned, &tciphers);

    printf("default=%s\n", qcrypto_tls_priority_default());
    printf("protocols=%s\n", protos);
    printf("ciphers=%s\n", ciphers ? ciphers : "(refused)");
    printf("tuned-protocols=%s\n", tprotos);
    printf("tuned-ciphers=%s\n", tciphers ? tciphers : "(refused)");
    return 0;
}

typedef struct {
    const char *desc;
    const char *config;     /* NULL: point at a file that does not exist */
    const char *default_is; /* "build" (QIO_TLS_PRIORITY) or "NORMAL" */
    const char *has;        /* ",X," that must be in ciphers/protocols */
    const char *lacks;      /* ",X," that must not be */
} PolicyRow;

/* clang-format off */
static const PolicyRow policy_rows[] = {
    { "QIO and SYSTEM: QIO wins",
      "[priorities]\nQIO = NORMAL:-CHACHA20-POLY1305\n"
      "SYSTEM = NORMAL:-AES-128-CCM\n",
      "build", ",AES-128-CCM,", ",CHACHA20-POLY1305," },
    { "SYSTEM only: SYSTEM",
      "[priorities]\nSYSTEM = NORMAL:-AES-128-CCM\n",
      "build", ",CHACHA20-POLY1305,", ",AES-128-CCM," },
    { "QIO only: QIO",
      "[priorities]\nQIO = NORMAL:-CHACHA20-POLY1305\n",
      "build", ",AES-128-CCM,", ",CHACHA20-POLY1305," },
    { "neither: gnutls's NORMAL",
      "[priorities]\nOTHERAPP = NORMAL:-AES-128-CCM\n",
      "NORMAL", ",AES-128-CCM,", NULL },
    { "no config file: gnutls's NORMAL", NULL, "NORMAL",
      ",CHACHA20-POLY1305,", NULL },
    { "SYSTEM allows TLS 1.0 and 1.1: still removed",
      "[priorities]\nSYSTEM = NORMAL:+VERS-TLS1.0:+VERS-TLS1.1\n",
      "build", ",TLS1.2,", ",TLS1.1," },
    { "QIO limits to TLS 1.2: kept",
      "[priorities]\nQIO = NORMAL:-VERS-TLS1.3\nSYSTEM = NORMAL\n",
      "build", ",TLS1.2,", ",TLS1.3," },
};
/* clang-format on */

static char *report_value(const char *report, const char *key)
{
    g_auto(GStrv) lines = g_strsplit(report, "\n", -1);
    g_autofree char *prefix = g_strconcat(key, "=", NULL);

    for (char **l = lines; *l; l++) {
        if (g_str_has_prefix(*l, prefix)) {
            return g_strdup(*l + strlen(prefix));
        }
    }
    return NULL;
}

static void test_priority_policy(void **state)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *dir = qcrypto_test_tmpdir_new(&err);

    /* The default only follows the host policy when it names a keyword. */
    if (QIO_TLS_PRIORITY[0] != '@') {
        skip();
    }
    assert_non_null(dir);
    for (size_t i = 0; i < G_N_ELEMENTS(policy_rows); i++) {
        const PolicyRow *row = &policy_rows[i];
        g_autofree char *cfg = g_build_filename(dir, "gnutls-config", NULL);
        g_autofree char *out = NULL;
        g_autofree char *errout = NULL;
        g_autofree char *def = NULL;
        g_autofree char *protos = NULL;
        g_autofree char *ciphers = NULL;
        g_autofree char *tprotos = NULL;
        g_autofree char *tciphers = NULL;
        g_autofree char *both = NULL;
        g_autofree char *tboth = NULL;
        g_auto(GStrv) env = g_get_environ();
        const char *argv[] = { "/proc/self/exe", CHILD_ARG, NULL };
        int status;

        g_unlink(cfg);
        if (row->config) {
            assert_true(g_file_set_contents(cfg, row->config, -1, NULL));
        }
        env = g_environ_setenv(env, "GNUTLS_SYSTEM_PRIORITY_FILE", cfg, TRUE);
        if (!g_spawn_sync(NULL, (char **)argv, env, G_SPAWN_DEFAULT, NULL, NULL,
                          &out, &errout, &status, &err) ||
            !g_spawn_check_wait_status(status, &err)) {
            fail_msg("row '%s': child: %s (%s)", row->desc, err->message,
                     errout ? errout : "");
        }
        def = report_value(out, "default");
        protos = report_value(out, "protocols");
        ciphers = report_value(out, "ciphers");
        tprotos = report_value(out, "tuned-protocols");
        tciphers = report_value(out, "tuned-ciphers");
        assert_non_null(def);
        assert_non_null(tciphers);
        assert_string_equal(def, g_str_equal(row->default_is, "build")
                                     ? QIO_TLS_PRIORITY
                                     : "NORMAL");
        both = g_strconcat(protos, ciphers, NULL);
        tboth = g_strconcat(tprotos, tciphers, NULL);
        if (!strstr(both, row->has) || !strstr(tboth, row->has) ||
            (row->lacks &&
             (strstr(both, row->lacks) || strstr(tboth, row->lacks)))) {
            fail_msg("row '%s': want %s%s%s, got %s / tuned %s", row->desc,
                     row->has, row->lacks ? " but not " : "",
                     row->lacks ? row->lacks : "", both, tboth);
        }
        /* Whatever the policy: never TLS 1.0 or 1.1. */
        assert_null(strstr(both, ",TLS1.0,"));
        assert_null(strstr(both, ",TLS1.1,"));
        assert_null(strstr(tboth, ",TLS1.0,"));
        assert_null(strstr(tboth, ",TLS1.1,"));
    }
    qcrypto_test_tmpdir_remove(dir);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_psk_files, teardown),
        cmocka_unit_test_teardown(test_psk_missing, teardown),
        cmocka_unit_test_teardown(test_psk_username, teardown),
        cmocka_unit_test_teardown(test_psk_handshake, teardown),
        cmocka_unit_test_teardown(test_psk_wrong_key, teardown),
        cmocka_unit_test_teardown(test_psk_unknown_user, teardown),
        cmocka_unit_test_teardown(test_psk_reload, teardown),
        cmocka_unit_test_teardown(test_anon, teardown),
        cmocka_unit_test_teardown(test_priority_compose, teardown),
        cmocka_unit_test_teardown(test_priority_policy, teardown),
    };

    if (argc == 2 && g_str_equal(argv[1], CHILD_ARG)) {
        return child_report();
    }
    return cmocka_run_group_tests(tests, setup, NULL);
}
