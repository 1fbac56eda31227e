/*
 * Unit tests for tls-creds-x509 (crypto/tls-creds-x509.c).  The main test
 * is a table: each row mints a set of certificates with pki.h, writes a
 * credentials directory, loads it as one endpoint with sanity-check on or
 * off, and expects either success or one QCRYPTO_ERROR code (and, for
 * refusals, the full path of the file at fault in the message).  Further
 * tests cover missing files, encrypted keys with passwordid, the secret's
 * user edge, reload with handles, endpoint checks, and what a raw gnutls
 * handshake with the default priority negotiates.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "crypto-tls-helpers.h"
#include "crypto/secret.h"
#include "crypto/tls-creds-internal.h"
#include "crypto/tls-creds-x509.h"
#include "qom/object.h"

#define OK -1

#define HOUR 3600
#define DAY  (24 * HOUR)

#define KU_SRV  (GNUTLS_KEY_DIGITAL_SIGNATURE | GNUTLS_KEY_KEY_ENCIPHERMENT)
#define KU_CA   (GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN)
#define CRIT    QCRYPTO_PKI_EXT_CRITICAL
#define NONCRIT QCRYPTO_PKI_EXT_NONCRITICAL
#define ABSENT  QCRYPTO_PKI_EXT_ABSENT

/* A CA with every knob a row turns. */
#define CA_REQ(cn, bc, isca, ku, kubits, start, expire)                        \
    {                                                                          \
        .common_name = (cn), .basic_constraints = (bc), .is_ca = (isca),       \
        .path_len = -1, .key_usage = (ku), .key_usage_bits = (kubits),         \
        .start_offset = (start), .expire_offset = (expire),                    \
    }
#define CA_OK(cn) CA_REQ(cn, CRIT, true, CRIT, KU_CA, 0, 0)

/* A leaf with every knob a row turns. */
#define LEAF_REQ(cn, ku, kubits, eku, ekus, start, expire)                     \
    {                                                                          \
        .common_name = (cn), .dns_names = qcrypto_test_dns_localhost,          \
        .ip_addrs = qcrypto_test_ip_loopback, .basic_constraints = CRIT,       \
        .is_ca = false, .path_len = -1, .key_usage = (ku),                     \
        .key_usage_bits = (kubits), .key_purpose = (eku),                      \
        .key_purpose_oids = (ekus), .start_offset = (start),                   \
        .expire_offset = (expire),                                             \
    }
#define SRV_OK                                                                 \
    LEAF_REQ("localhost", CRIT, KU_SRV, NONCRIT, qcrypto_test_eku_server, 0, 0)
#define CLI_OK                                                                 \
    LEAF_REQ("client", CRIT, GNUTLS_KEY_DIGITAL_SIGNATURE, NONCRIT,            \
             qcrypto_test_eku_client, 0, 0)

#define F_CA        QCRYPTO_TEST_FILE_CA
#define F_SRV       QCRYPTO_TEST_FILE_SERVER
#define F_SRV_CHAIN QCRYPTO_TEST_FILE_SERVER_CHAIN
#define F_CLI       QCRYPTO_TEST_FILE_CLIENT
#define F_CRL       QCRYPTO_TEST_FILE_CRL
#define F_REVOKED   QCRYPTO_TEST_FILE_REVOKED

typedef struct {
    const char *desc;
    QCryptoTestCert certs[5];
    const char *endpoint;
    bool sanity;
    int expect;           /* OK or a QCryptoErrorCode */
    const char *bad_file; /* refusal must name this file by full path */
} Row;

/* clang-format off */
static const Row rows[] = {
    { "good chain, server",
      { { "ca", NULL, CA_OK("Root CA"), F_CA },
        { "srv", "ca", SRV_OK, F_SRV } },
      "server", true, OK, NULL },
    { "good chain, client",
      { { "ca", NULL, CA_OK("Root CA"), F_CA },
        { "cli", "ca", CLI_OK, F_CLI } },
      "client", true, OK, NULL },
    { "client without a certificate of its own",
      { { "ca", NULL, CA_OK("Root CA"), F_CA } },
      "client", true, OK, NULL },
    { "intermediate CA in ca-cert.pem",
      { { "root", NULL, CA_OK("Root CA"), F_CA },
        { "inter", "root", CA_OK("Intermediate CA"), F_CA },
        { "srv", "inter", SRV_OK, F_SRV } },
      "server", true, OK, NULL },
    { "intermediate CA appended to server-cert.pem",
      { { "root", NULL, CA_OK("Root CA"), F_CA },
        { "inter", "root", CA_OK("Intermediate CA"), F_SRV_CHAIN },
        { "srv", "inter", SRV_OK, F_SRV } },
      "server", true, OK, NULL },
    { "intermediate CA nowhere",
      { { "root", NULL, CA_OK("Root CA"), F_CA },
        { "inter", "root", CA_OK("Intermediate CA"), 0 },
        { "srv", "inter", SRV_OK, F_SRV } },
      "server", true, QCRYPTO_ERROR_CERT_UNTRUSTED, "server-cert.pem" },
    { "two CAs, server issued by the second",
      { { "ca1", NULL, CA_OK("First CA"), F_CA },
        { "ca2", NULL, CA_OK("Second CA"), F_CA },
        { "srv", "ca2", SRV_OK, F_SRV } },
      "server", true, OK, NULL },
    { "expired server certificate",
      { { "ca", NULL, CA_OK("Root CA"), F_CA },
        { "srv", "ca", LEAF_REQ("localhost", CRIT, KU_SRV, NONCRIT,
                                qcrypto_test_eku_server, -2 * DAY, -DAY),
          F_SRV } },
      "server", true, QCRYPTO_ERROR_CERT_EXPIRED, "server-cert.pem" },
    { "server certificate not yet active",
      { { "ca", NULL, CA_OK("Root CA"), F_CA },
        { "srv", "ca", LEAF_REQ("localhost", CRIT, KU_SRV, NONCRIT,
                                qcrypto_test_eku_server, DAY, 2 * DAY),
          F_SRV } },
      "server", true, QCRYPTO_ERROR_CERT_NOT_ACTIVE, "server-cert.pem" },
    { "expired CA",
      { { "ca", NULL, CA_REQ("Root CA", CRIT, true, CRIT, KU_CA, -2 * DAY,
                             -DAY), F_CA },
        { "srv", "ca", SRV_OK, F_SRV } },
      "server", true, QCRYPTO_ERROR_CERT_EXPIRED, "ca-cert.pem" },
    { "CA not yet active",
      { { "ca", NULL, CA_REQ("Root CA", CRIT, true, CRIT, KU_CA, DAY,
                             2 * DAY), F_CA },
        { "srv", "ca", SRV_OK, F_SRV } },
      "server", true, QCRYPTO_ERROR_CERT_NOT_ACTIVE, "ca-cert.pem" },
    { "CA with basicConstraints CA:FALSE",
      { { "ca", NULL, CA_REQ("Root CA", CRIT, false, CRIT, KU_CA, 0, 0),
          F_CA },
        { "srv", "ca", SRV_OK, F_SRV } },
      "server", true, QCRYPTO_ERROR_CERT_USAGE, "ca-cert.pem" },
    { "CA without basicConstraints",
      { { "ca", NULL, CA_REQ("Root CA", ABSENT, false, CRIT, KU_CA, 0, 0),
          F_CA },
        { "srv", "ca", SRV_OK, F_SRV } },
      "server", true, QCRYPTO_ERROR_CERT_USAGE, "ca-cert.pem" },
    { "CA whose keyUsage lacks keyCertSign",
      { { "ca", NULL, CA_REQ("Root CA", CRIT, true, CRIT,
                             GNUTLS_KEY_CRL_SIGN |
                             GNUTLS_KEY_DIGITAL_SIGNATURE, 0, 0), F_CA },
        { "srv", "ca", SRV_OK, F_SRV } },
      "server", true, QCRYPTO_ERROR_CERT_USAGE, "ca-cert.pem" },
    { "intermediate appended to the leaf that is not a CA",
      { { "root", NULL, CA_OK("Root CA"), F_CA },
        { "inter", "root", CA_REQ("Not a CA", CRIT, false, CRIT, KU_CA, 0,
                                  0), F_SRV_CHAIN },
        { "srv", "inter", SRV_OK, F_SRV } },
      "server", true, QCRYPTO_ERROR_CERT_USAGE, "server-cert.pem" },
    { "server keyUsage critical without digitalSignature",
      { { "ca", NULL, CA_OK("Root CA"), F_CA },
        { "srv", "ca", LEAF_REQ("localhost", CRIT,
                                GNUTLS_KEY_KEY_ENCIPHERMENT, NONCRIT,
                                qcrypto_test_eku_server, 0, 0), F_SRV } },
      "server", true, QCRYPTO_ERROR_CERT_USAGE, "server-cert.pem" },
    { "server keyUsage non-critical without digitalSignature",
      { { "ca", NULL, CA_OK("Root CA"), F_CA },
        { "srv", "ca", LEAF_REQ("localhost", NONCRIT,
                                GNUTLS_KEY_KEY_ENCIPHERMENT, NONCRIT,
                                qcrypto_test_eku_server, 0, 0), F_SRV } },
      "server", true, OK, NULL },
    { "server EKU critical, client only",
      { { "ca", NULL, CA_OK("Root CA"), F_CA },
        { "srv", "ca", LEAF_REQ("localhost", CRIT, KU_SRV, CRIT,
                                qcrypto_test_eku_client, 0, 0), F_SRV } },
      "server", true, QCRYPTO_ERROR_CERT_USAGE, "server-cert.pem" },
    { "server EKU non-critical, client only",
      { { "ca", NULL, CA_OK("Root CA"), F_CA },
        { "srv", "ca", LEAF_REQ("localhost", CRIT, KU_SRV, NONCRIT,
                                qcrypto_test_eku_client, 0, 0), F_SRV } },
      "server", true, OK, NULL },
    { "server EKU critical, server and client",
      { { "ca", NULL, CA_OK("Root CA"), F_CA },
        { "srv", "ca", LEAF_REQ("localhost", CRIT, KU_SRV, CRIT,
                                qcrypto_test_eku_both, 0, 0), F_SRV } },
      "server", true, OK, NULL },
    { "ECDSA server, digitalSignature without keyEncipherment",
      { { "ca", NULL, CA_OK("Root CA"), F_CA },
        { "srv", "ca", LEAF_REQ("localhost", CRIT,
                                GNUTLS_KEY_DIGITAL_SIGNATURE, CRIT,
                                qcrypto_test_eku_server, 0, 0), F_SRV } },
      "server", true, OK, NULL },
    { "client EKU critical, server only",
      { { "ca", NULL, CA_OK("Root CA"), F_CA },
        { "cli", "ca", LEAF_REQ("client", CRIT,
                                GNUTLS_KEY_DIGITAL_SIGNATURE, CRIT,
                                qcrypto_test_eku_server, 0, 0), F_CLI } },
      "client", true, QCRYPTO_ERROR_CERT_USAGE, "client-cert.pem" },
    { "client EKU non-critical, server only",
      { { "ca", NULL, CA_OK("Root CA"), F_CA },
        { "cli", "ca", LEAF_REQ("client", CRIT,
                                GNUTLS_KEY_DIGITAL_SIGNATURE, NONCRIT,
                                qcrypto_test_eku_server, 0, 0), F_CLI } },
      "client", true, OK, NULL },
    { "server certificate from another CA",
      { { "ca", NULL, CA_OK("Root CA"), F_CA },
        { "other", NULL, CA_OK("Other CA"), 0 },
        { "srv", "other", SRV_OK, F_SRV } },
      "server", true, QCRYPTO_ERROR_CERT_UNTRUSTED, "server-cert.pem" },
    { "client certificate from another CA",
      { { "ca", NULL, CA_OK("Root CA"), F_CA },
        { "other", NULL, CA_OK("Other CA"), 0 },
        { "cli", "other", CLI_OK, F_CLI } },
      "client", true, QCRYPTO_ERROR_CERT_UNTRUSTED, "client-cert.pem" },
    { "server key of another certificate",
      { { "ca", NULL, CA_OK("Root CA"), F_CA },
        { "other", "ca", SRV_OK, 0 },
        { "srv", "ca", SRV_OK, F_SRV, "other" } },
      "server", true, QCRYPTO_ERROR_KEY_MISMATCH, "server-key.pem" },
    { "server key of another certificate, sanity-check off",
      { { "ca", NULL, CA_OK("Root CA"), F_CA },
        { "other", "ca", SRV_OK, 0 },
        { "srv", "ca", SRV_OK, F_SRV, "other" } },
      "server", false, QCRYPTO_ERROR_KEY_MISMATCH, "server-key.pem" },
    { "expired server certificate, sanity-check off",
      { { "ca", NULL, CA_OK("Root CA"), F_CA },
        { "srv", "ca", LEAF_REQ("localhost", CRIT, KU_SRV, NONCRIT,
                                qcrypto_test_eku_server, -2 * DAY, -DAY),
          F_SRV } },
      "server", false, OK, NULL },
    { "server certificate from another CA, sanity-check off",
      { { "ca", NULL, CA_OK("Root CA"), F_CA },
        { "other", NULL, CA_OK("Other CA"), 0 },
        { "srv", "other", SRV_OK, F_SRV } },
      "server", false, OK, NULL },
    { "CRL revoking another certificate",
      { { "ca", NULL, CA_OK("Root CA"), F_CA | F_CRL },
        { "gone", "ca", SRV_OK, F_REVOKED },
        { "srv", "ca", SRV_OK, F_SRV } },
      "server", true, OK, NULL },
    { "CRL revoking our own certificate",
      { { "ca", NULL, CA_OK("Root CA"), F_CA | F_CRL },
        { "srv", "ca", SRV_OK, F_SRV | F_REVOKED } },
      "server", true, QCRYPTO_ERROR_CERT_REVOKED, "server-cert.pem" },
    { "CRL from a CA not in ca-cert.pem",
      { { "ca", NULL, CA_OK("Root CA"), F_CA },
        { "other", NULL, CA_OK("Other CA"), F_CRL },
        { "srv", "ca", SRV_OK, F_SRV } },
      "server", true, QCRYPTO_ERROR_CERT_UNTRUSTED, "ca-crl.pem" },
};
/* clang-format on */

static int setup(void **state)
{
    qcrypto_tls_creds_register_types();
    qcrypto_secret_register_types();
    return 0;
}

static int teardown(void **state)
{
    qom_object_table_clear();
    qcrypto_test_tmpdir_remove_all();
    return 0;
}

static size_t row_ncerts(const Row *row)
{
    size_t n = 0;

    while (n < G_N_ELEMENTS(row->certs) && row->certs[n].name) {
        n++;
    }
    return n;
}

static void test_table(void **state)
{
    for (size_t i = 0; i < G_N_ELEMENTS(rows); i++) {
        const Row *row = &rows[i];
        g_autoptr(GError) err = NULL;
        g_autoptr(QCryptoTestCredsDir) d = NULL;
        GObject *obj;

        d = qcrypto_test_creds_dir_new(row->certs, row_ncerts(row), &err);
        if (!d) {
            fail_msg("row '%s': fixture: %s", row->desc, err->message);
        }
        obj = qom_object_add_props(
            "tls-creds-x509", "tls0", &err, "endpoint", row->endpoint, "dir",
            qcrypto_test_creds_dir_path(d), "sanity-check",
            row->sanity ? "on" : "off", NULL);
        if (row->expect == OK) {
            if (!obj) {
                fail_msg("row '%s': expected success, got: %s", row->desc,
                         err->message);
            }
            assert_true(qom_object_del("tls0", NULL));
        } else {
            g_autofree char *path = NULL;

            if (obj) {
                fail_msg("row '%s': expected error %d, got success", row->desc,
                         row->expect);
            }
            if (!g_error_matches(err, QCRYPTO_ERROR, row->expect)) {
                fail_msg("row '%s': expected error %d, got %d: %s", row->desc,
                         row->expect, err->code, err->message);
            }
            path = qcrypto_test_creds_dir_file(d, row->bad_file);
            if (!strstr(err->message, path) ||
                !strstr(err->message, "TLS credentials 'tls0'")) {
                fail_msg("row '%s': message does not name %s and the "
                         "object: %s",
                         row->desc, path, err->message);
            }
        }
    }
}

/* An RSA server certificate, the kind most existing setups have. */
static void test_rsa_server(void **state)
{
    static const QCryptoTestCert certs[] = {
        { "ca", NULL, CA_OK("Root CA"), F_CA },
        { "srv",
          "ca",
          { .common_name = "localhost",
            .dns_names = qcrypto_test_dns_localhost,
            .basic_constraints = CRIT,
            .path_len = -1,
            .key_usage = CRIT,
            .key_usage_bits = KU_SRV,
            .key_purpose = NONCRIT,
            .key_purpose_oids = qcrypto_test_eku_server,
            .key_type = QCRYPTO_PKI_KEY_RSA,
            .key_bits = 2048 },
          F_SRV },
    };
    g_autoptr(GError) err = NULL;
    g_autoptr(QCryptoTestCredsDir) d =
        qcrypto_test_creds_dir_new(certs, G_N_ELEMENTS(certs), &err);

    assert_non_null(d);
    assert_non_null(qom_object_add_props("tls-creds-x509", "tls0", &err,
                                         "endpoint", "server", "dir",
                                         qcrypto_test_creds_dir_path(d), NULL));
}

static void assert_missing(QCryptoTestCredsDir *d, const char *endpoint,
                           const char *file, const char *expect_file)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *path = qcrypto_test_creds_dir_file(d, file);
    g_autofree char *expect_path = qcrypto_test_creds_dir_file(d, expect_file);
    g_autofree char *saved = g_strconcat(path, ".away", NULL);
    g_autofree char *want = NULL;

    assert_int_equal(rename(path, saved), 0);
    assert_null(qom_object_add_props("tls-creds-x509", "tls0", &err, "endpoint",
                                     endpoint, "dir",
                                     qcrypto_test_creds_dir_path(d), NULL));
    assert_true(g_error_matches(err, QCRYPTO_ERROR, QCRYPTO_ERROR_FILE));
    want = g_strdup_printf("TLS credentials 'tls0': cannot read %s: "
                           "No such file or directory",
                           expect_path);
    if (!strstr(err->message, want)) {
        fail_msg("'%s' not in '%s'", want, err->message);
    }
    assert_int_equal(rename(saved, path), 0);
}

static void test_missing_files(void **state)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(QCryptoTestCredsDir) d =
        qcrypto_test_creds_dir_new_standard(&err);

    assert_non_null(d);
    assert_missing(d, "server", "ca-cert.pem", "ca-cert.pem");
    assert_missing(d, "server", "server-cert.pem", "server-cert.pem");
    assert_missing(d, "server", "server-key.pem", "server-key.pem");
    assert_missing(d, "client", "ca-cert.pem", "ca-cert.pem");
    /* Half a client identity: the message names the missing half. */
    assert_missing(d, "client", "client-key.pem", "client-key.pem");
    assert_missing(d, "client", "client-cert.pem", "client-cert.pem");

    /* No dir= at all. */
    assert_null(qom_object_add_props("tls-creds-x509", "tls0", &err, "endpoint",
                                     "server", NULL));
    assert_true(
        g_error_matches(err, QCRYPTO_ERROR, QCRYPTO_ERROR_INVALID_ARGUMENT));
    g_clear_error(&err);

    /* A directory that does not exist. */
    assert_null(qom_object_add_props("tls-creds-x509", "tls0", &err, "endpoint",
                                     "server", "dir", "/nonexistent/qio-pki",
                                     NULL));
    assert_true(g_error_matches(err, QCRYPTO_ERROR, QCRYPTO_ERROR_FILE));
    assert_non_null(strstr(err->message, "/nonexistent/qio-pki/ca-cert.pem"));
}

/* A client that checks nothing needs no CA; one that checks does. */
static void test_client_no_ca(void **state)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *dir = qcrypto_test_tmpdir_new(&err);
    g_autoptr(QCryptoTLSCreds) creds = NULL;

    assert_non_null(dir);
    creds = qcrypto_test_creds_new("tls-creds-x509", &err, "endpoint", "client",
                                   "dir", dir, "verify-peer", "off", NULL);
    assert_non_null(creds);
    assert_false(
        qcrypto_tls_creds_x509_has_cert(QCRYPTO_TLS_CREDS_X509(creds)));
    assert_null(qcrypto_test_creds_new("tls-creds-x509", &err, "endpoint",
                                       "client", "dir", dir, NULL));
    assert_true(g_error_matches(err, QCRYPTO_ERROR, QCRYPTO_ERROR_FILE));
    qcrypto_test_tmpdir_remove(dir);
}

static void test_relative_dir(void **state)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *cwd = g_get_current_dir();
    g_autofree char *dir = qcrypto_test_tmpdir_new(&err);
    g_autofree char *parent = g_path_get_dirname(dir);
    g_autofree char *base = g_path_get_basename(dir);
    g_autofree char *want = g_build_filename(dir, "ca-cert.pem", NULL);

    assert_int_equal(chdir(parent), 0);
    assert_null(qcrypto_test_creds_new("tls-creds-x509", &err, "endpoint",
                                       "server", "dir", base, NULL));
    assert_int_equal(chdir(cwd), 0);
    assert_true(g_error_matches(err, QCRYPTO_ERROR, QCRYPTO_ERROR_FILE));
    /* A relative dir= is reported as the absolute path. */
    if (!strstr(err->message, want)) {
        fail_msg("'%s' not in '%s'", want, err->message);
    }
    qcrypto_test_tmpdir_remove(dir);
}

static void test_garbage_files(void **state)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(QCryptoTestCredsDir) d =
        qcrypto_test_creds_dir_new_standard(&err);
    g_autofree char *key = NULL;
    g_autofree char *crl = NULL;

    assert_non_null(d);
    key = qcrypto_test_creds_dir_file(d, "server-key.pem");
    assert_true(g_file_set_contents(key, "not a key\n", -1, NULL));
    assert_null(qom_object_add_props("tls-creds-x509", "tls0", &err, "endpoint",
                                     "server", "dir",
                                     qcrypto_test_creds_dir_path(d), NULL));
    assert_true(g_error_matches(err, QCRYPTO_ERROR, QCRYPTO_ERROR_DECODE));
    assert_non_null(strstr(err->message, key));
    g_clear_error(&err);

    /* A CRL file that holds no CRL is refused, sanity check or not. */
    crl = qcrypto_test_creds_dir_file(d, "ca-crl.pem");
    assert_true(g_file_set_contents(crl, "garbage\n", -1, NULL));
    assert_null(qom_object_add_props(
        "tls-creds-x509", "tls0", &err, "endpoint", "client", "dir",
        qcrypto_test_creds_dir_path(d), "sanity-check", "off", NULL));
    assert_true(g_error_matches(err, QCRYPTO_ERROR, QCRYPTO_ERROR_DECODE));
    assert_non_null(strstr(err->message, crl));
}

static QCryptoTestCredsDir *make_encrypted_dir(const char *password)
{
    const QCryptoTestCert certs[] = {
        { "ca", NULL, CA_OK("Root CA"), F_CA },
        { "srv", "ca", SRV_OK, F_SRV, NULL, password },
    };
    g_autoptr(GError) err = NULL;
    QCryptoTestCredsDir *d =
        qcrypto_test_creds_dir_new(certs, G_N_ELEMENTS(certs), &err);

    if (!d) {
        fail_msg("fixture: %s", err->message);
    }
    return d;
}

static void test_passwordid(void **state)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(QCryptoTestCredsDir) d = make_encrypted_dir("s3cret pass");
    const char *dir = qcrypto_test_creds_dir_path(d);
    g_autofree char *key = qcrypto_test_creds_dir_file(d, "server-key.pem");
    g_auto(GStrv) users = NULL;
    GObject *obj;

    assert_non_null(qom_object_add_props("secret", "good", &err, "data",
                                         "s3cret pass", NULL));
    assert_non_null(qom_object_add_props("secret", "bad", &err, "data",
                                         "wrong pass", NULL));

    /* Right password. */
    obj =
        qom_object_add_props("tls-creds-x509", "tls0", &err, "endpoint",
                             "server", "dir", dir, "passwordid", "good", NULL);
    if (!obj) {
        fail_msg("%s", err->message);
    }
    assert_string_equal(
        qcrypto_tls_creds_x509_get_passwordid(QCRYPTO_TLS_CREDS_X509(obj)),
        "good");

    /* The secret is in use and cannot go while the creds exist. */
    users = qom_object_get_users("good");
    assert_non_null(users);
    assert_true(g_strv_contains((const char *const *)users, "tls0"));
    assert_false(qom_object_del("good", &err));
    assert_true(g_error_matches(err, QOM_ERROR, QOM_ERROR_IN_USE));
    g_clear_error(&err);
    /* A reload decrypts again. */
    assert_true(qcrypto_tls_creds_reload(QCRYPTO_TLS_CREDS(obj), &err));
    assert_true(qom_object_del("tls0", &err));
    assert_true(qom_object_del("good", &err));

    /* Wrong password: DECRYPT, naming the key file, never the password. */
    assert_null(qom_object_add_props("tls-creds-x509", "tls0", &err, "endpoint",
                                     "server", "dir", dir, "passwordid", "bad",
                                     NULL));
    assert_true(g_error_matches(err, QCRYPTO_ERROR, QCRYPTO_ERROR_DECRYPT));
    assert_non_null(strstr(err->message, key));
    assert_null(strstr(err->message, "wrong pass"));
    assert_null(strstr(err->message, "s3cret"));
    g_clear_error(&err);
    /* The failed object released its edge. */
    users = (g_strfreev(users), qom_object_get_users("bad"));
    assert_non_null(users);
    assert_null(users[0]);

    /* Encrypted key, no passwordid. */
    assert_null(qom_object_add_props("tls-creds-x509", "tls0", &err, "endpoint",
                                     "server", "dir", dir, NULL));
    assert_true(g_error_matches(err, QCRYPTO_ERROR, QCRYPTO_ERROR_DECRYPT));
    assert_non_null(strstr(err->message, key));
    assert_non_null(strstr(err->message, "passwordid"));
    g_clear_error(&err);

    /* A passwordid that names no object. */
    assert_null(qom_object_add_props("tls-creds-x509", "tls0", &err, "endpoint",
                                     "server", "dir", dir, "passwordid",
                                     "nosuch", NULL));
    assert_non_null(err);
    assert_non_null(strstr(err->message, "nosuch"));
}

static void test_reload(void **state)
{
    static const QCryptoTestCert first[] = {
        { "ca", NULL, CA_OK("Root CA"), F_CA },
        { "srv", "ca", SRV_OK, F_SRV },
    };
    static const QCryptoTestCert second[] = {
        { "ca2", NULL, CA_OK("Second CA"), F_CA },
        { "srv2", "ca2", SRV_OK, F_SRV },
    };
    static const QCryptoTestCert expired[] = {
        { "ca3", NULL, CA_OK("Third CA"), F_CA },
        { "srv3", "ca3",
          LEAF_REQ("localhost", CRIT, KU_SRV, NONCRIT, qcrypto_test_eku_server,
                   -2 * DAY, -DAY),
          F_SRV },
    };
    g_autoptr(GError) err = NULL;
    g_autoptr(QCryptoTestCredsDir) d =
        qcrypto_test_creds_dir_new(first, G_N_ELEMENTS(first), &err);
    QCryptoTLSCreds *creds;
    QCryptoTLSCredsHandle *before, *after, *kept;
    gnutls_certificate_credentials_t gc;
    gnutls_x509_crt_t *crts;
    unsigned int ncrts;
    g_autofree char *pem2 = NULL;
    gnutls_datum_t out = { NULL, 0 };

    assert_non_null(d);
    creds = QCRYPTO_TLS_CREDS(qom_object_add_props(
        "tls-creds-x509", "tls0", &err, "endpoint", "server", "dir",
        qcrypto_test_creds_dir_path(d), NULL));
    assert_non_null(creds);
    before = qcrypto_tls_creds_get_handle(creds);
    assert_non_null(before);

    /* Rotate the files and reload: new handle, old one still alive. */
    assert_true(
        qcrypto_test_creds_dir_rewrite(d, second, G_N_ELEMENTS(second), &err));
    assert_true(qcrypto_tls_creds_reload(creds, &err));
    after = qcrypto_tls_creds_get_handle(creds);
    assert_ptr_not_equal(before, after);
    assert_ptr_not_equal(qcrypto_tls_creds_handle_get_gnutls(before),
                         qcrypto_tls_creds_handle_get_gnutls(after));

    /* The new handle serves the new certificate... */
    gc = qcrypto_tls_creds_handle_get_gnutls(after);
    assert_int_equal(gnutls_certificate_get_x509_crt(gc, 0, &crts, &ncrts), 0);
    assert_int_equal(
        gnutls_x509_crt_export2(crts[0], GNUTLS_X509_FMT_PEM, &out), 0);
    pem2 =
        qcrypto_pki_cert_get_pem(qcrypto_test_creds_dir_cert(d, "srv2"), &err);
    assert_non_null(pem2);
    assert_memory_equal(out.data, pem2, strlen(pem2));
    gnutls_free(out.data);
    for (unsigned int i = 0; i < ncrts; i++) {
        gnutls_x509_crt_deinit(crts[i]);
    }
    gnutls_free(crts);

    /* ...the old one, held like a running session, the old one. */
    gc = qcrypto_tls_creds_handle_get_gnutls(before);
    assert_int_equal(gnutls_certificate_get_x509_crt(gc, 0, &crts, &ncrts), 0);
    assert_int_equal(
        gnutls_x509_crt_export2(crts[0], GNUTLS_X509_FMT_PEM, &out), 0);
    assert_memory_not_equal(out.data, pem2, strlen(pem2));
    gnutls_free(out.data);
    for (unsigned int i = 0; i < ncrts; i++) {
        gnutls_x509_crt_deinit(crts[i]);
    }
    gnutls_free(crts);
    qcrypto_tls_creds_handle_unref(before);

    /* A failing reload keeps what is in force. */
    assert_true(qcrypto_test_creds_dir_rewrite(d, expired,
                                               G_N_ELEMENTS(expired), &err));
    assert_false(qcrypto_tls_creds_reload(creds, &err));
    assert_true(
        g_error_matches(err, QCRYPTO_ERROR, QCRYPTO_ERROR_CERT_EXPIRED));
    g_clear_error(&err);
    kept = qcrypto_tls_creds_get_handle(creds);
    assert_ptr_equal(kept, after);
    qcrypto_tls_creds_handle_unref(kept);

    /* A handle outlives the object that made it. */
    assert_true(qom_object_del("tls0", &err));
    assert_non_null(qcrypto_tls_creds_handle_get_gnutls(after));
    qcrypto_tls_creds_handle_unref(after);
}

static void test_endpoint(void **state)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(QCryptoTestCredsDir) d =
        qcrypto_test_creds_dir_new_standard(&err);
    QCryptoTLSCreds *server, *client;

    assert_non_null(d);
    server = QCRYPTO_TLS_CREDS(qom_object_add_props(
        "tls-creds-x509", "srv0", &err, "endpoint", "server", "dir",
        qcrypto_test_creds_dir_path(d), NULL));
    client = QCRYPTO_TLS_CREDS(
        qom_object_add_props("tls-creds-x509", "cli0", &err, "dir",
                             qcrypto_test_creds_dir_path(d), NULL));
    assert_non_null(server);
    assert_non_null(client);

    /* Defaults. */
    assert_int_equal(qcrypto_tls_creds_get_endpoint(client),
                     QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT);
    assert_true(qcrypto_tls_creds_get_verify_peer(client));
    assert_true(qcrypto_tls_creds_x509_get_sanity_check(
        QCRYPTO_TLS_CREDS_X509(client)));
    assert_true(
        qcrypto_tls_creds_x509_has_cert(QCRYPTO_TLS_CREDS_X509(client)));
    assert_string_equal(qcrypto_tls_creds_get_dir(client),
                        qcrypto_test_creds_dir_path(d));

    assert_true(qcrypto_tls_creds_check_endpoint(
        server, QCRYPTO_TLS_CREDS_ENDPOINT_SERVER, &err));
    assert_false(qcrypto_tls_creds_check_endpoint(
        server, QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT, &err));
    assert_true(g_error_matches(err, QCRYPTO_ERROR, QCRYPTO_ERROR_ENDPOINT));
    assert_string_equal(err->message,
                        "TLS credentials 'srv0' are for a server, but this "
                        "is a client; create credentials with "
                        "endpoint=client");
    g_clear_error(&err);
    assert_false(qcrypto_tls_creds_check_endpoint(
        client, QCRYPTO_TLS_CREDS_ENDPOINT_SERVER, &err));
    assert_true(g_error_matches(err, QCRYPTO_ERROR, QCRYPTO_ERROR_ENDPOINT));
    assert_non_null(strstr(err->message, "'cli0' are for a client"));

    /* Looked up as TLS credentials by id, as consumers do. */
    assert_ptr_equal(
        qom_object_find_typed("srv0", QCRYPTO_TYPE_TLS_CREDS, NULL), server);
}

static void test_bad_priority(void **state)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(QCryptoTestCredsDir) d =
        qcrypto_test_creds_dir_new_standard(&err);

    assert_non_null(d);
    assert_null(qom_object_add_props("tls-creds-x509", "tls0", &err, "dir",
                                     qcrypto_test_creds_dir_path(d), "priority",
                                     "NORMAL:+BOGUS", NULL));
    assert_true(
        g_error_matches(err, QCRYPTO_ERROR, QCRYPTO_ERROR_INVALID_ARGUMENT));
    assert_non_null(strstr(err->message, "BOGUS"));
    g_clear_error(&err);

    /* Only old versions left: nothing to negotiate. */
    assert_null(qom_object_add_props("tls-creds-x509", "tls0", &err, "dir",
                                     qcrypto_test_creds_dir_path(d), "priority",
                                     "NORMAL:-VERS-ALL:+VERS-TLS1.1", NULL));
    assert_true(
        g_error_matches(err, QCRYPTO_ERROR, QCRYPTO_ERROR_INVALID_ARGUMENT));
    assert_non_null(strstr(err->message, "TLS 1.2"));
}

/* What the defaults negotiate between two of our own objects. */
static void test_negotiated_cipher(void **state)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(QCryptoTestCredsDir) d =
        qcrypto_test_creds_dir_new_standard(&err);
    g_autoptr(QCryptoTLSCreds) server = NULL;
    g_autoptr(QCryptoTLSCreds) client = NULL;
    g_autofree char *prio = NULL;
    g_autofree char *tls12 = NULL;
    QCryptoTestHandshake hs;

    assert_non_null(d);
    server =
        qcrypto_test_creds_new("tls-creds-x509", &err, "endpoint", "server",
                               "dir", qcrypto_test_creds_dir_path(d), NULL);
    client =
        qcrypto_test_creds_new("tls-creds-x509", &err, "endpoint", "client",
                               "dir", qcrypto_test_creds_dir_path(d), NULL);
    assert_non_null(server);
    assert_non_null(client);

    if (!qcrypto_test_raw_handshake(client, NULL, server, NULL, &hs, &err)) {
        fail_msg("%s", err->message);
    }
    assert_int_equal(hs.version, GNUTLS_TLS1_3);
    if (qcrypto_tls_cpu_has_aes_gcm()) {
        assert_int_equal(hs.cipher, GNUTLS_CIPHER_AES_256_GCM);
    }

    /* A TLS 1.2-only client still gets AES-GCM with ECDHE. */
    prio = qcrypto_tls_creds_get_priority(client);
    tls12 = g_strdup_printf("%s:-VERS-TLS1.3", prio);
    if (!qcrypto_test_raw_handshake(client, tls12, server, NULL, &hs, &err)) {
        fail_msg("%s", err->message);
    }
    assert_int_equal(hs.version, GNUTLS_TLS1_2);
    assert_int_equal(hs.kx, GNUTLS_KX_ECDHE_ECDSA);
    if (qcrypto_tls_cpu_has_aes_gcm()) {
        assert_int_equal(hs.cipher, GNUTLS_CIPHER_AES_256_GCM);
    }

    /* A client limited to TLS 1.1 is refused. */
    assert_false(qcrypto_test_raw_handshake(
        client, "NORMAL:-VERS-ALL:+VERS-TLS1.1", server, NULL, &hs, &err));
    assert_true(g_error_matches(err, QCRYPTO_ERROR, QCRYPTO_ERROR_HANDSHAKE));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_table, teardown),
        cmocka_unit_test_teardown(test_rsa_server, teardown),
        cmocka_unit_test_teardown(test_missing_files, teardown),
        cmocka_unit_test_teardown(test_client_no_ca, teardown),
        cmocka_unit_test_teardown(test_relative_dir, teardown),
        cmocka_unit_test_teardown(test_garbage_files, teardown),
        cmocka_unit_test_teardown(test_passwordid, teardown),
        cmocka_unit_test_teardown(test_reload, teardown),
        cmocka_unit_test_teardown(test_endpoint, teardown),
        cmocka_unit_test_teardown(test_bad_priority, teardown),
        cmocka_unit_test_teardown(test_negotiated_cipher, teardown),
    };

    return cmocka_run_group_tests(tests, setup, NULL);
}
