/*
 * Unit tests for the PKI minting helpers (crypto/pki.c) and the directory
 * writer behind qio-pki.
 *
 * Every certificate is read back with gnutls after a PEM round trip, so
 * each request field is checked as a TLS peer would see it: names, SANs,
 * each extension with its criticality, validity, serial, key ids, the
 * chain root -> intermediate -> leaf, CRLs, encrypted keys, file modes and
 * the PSK file format, plus the requests and user input that must fail.
 * Keys are ECDSA P-256 except one small RSA key, so the program stays fast.
 */
#include "crypto/pki.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "crypto/error.h"

#define TOLERANCE 120 /* seconds between minting and checking */

/* Made once: every test may sign with them but must not change them. */
static QCryptoPKICert *root_ca;
static QCryptoPKICert *inter_ca;
static char *tmpdir;

static QCryptoPKICertReq ca_req(const char *cn)
{
    QCryptoPKICertReq req = {
        .common_name = cn,
        .basic_constraints = QCRYPTO_PKI_EXT_CRITICAL,
        .is_ca = true,
        .path_len = -1,
        .key_usage = QCRYPTO_PKI_EXT_CRITICAL,
        .key_usage_bits = GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN,
    };
    return req;
}

static QCryptoPKICertReq leaf_req(const char *cn)
{
    static const char *const kp[] = { GNUTLS_KP_TLS_WWW_SERVER, NULL };
    static const char *const dns[] = { "db.example.org", NULL };
    QCryptoPKICertReq req = {
        .common_name = cn,
        .dns_names = dns,
        .basic_constraints = QCRYPTO_PKI_EXT_CRITICAL,
        .path_len = -1,
        .key_usage = QCRYPTO_PKI_EXT_CRITICAL,
        .key_usage_bits =
            GNUTLS_KEY_DIGITAL_SIGNATURE | GNUTLS_KEY_KEY_ENCIPHERMENT,
        .key_purpose = QCRYPTO_PKI_EXT_NONCRITICAL,
        .key_purpose_oids = kp,
    };
    return req;
}

static void rm_rf(const char *path)
{
    struct stat st;

    if (lstat(path, &st) < 0) {
        return;
    }
    if (S_ISDIR(st.st_mode)) {
        g_autoptr(GDir) d = g_dir_open(path, 0, NULL);
        const char *name;

        while (d && (name = g_dir_read_name(d))) {
            g_autofree char *child = g_build_filename(path, name, NULL);

            rm_rf(child);
        }
        g_rmdir(path);
    } else {
        g_unlink(path);
    }
}

static int group_setup(void **state)
{
    g_autoptr(GError) err = NULL;
    QCryptoPKICertReq root = ca_req("qio test root CA");
    QCryptoPKICertReq inter = ca_req("qio test intermediate CA");

    inter.path_len = 0;
    root_ca = qcrypto_pki_cert_new(&root, NULL, &err);
    if (!root_ca) {
        return -1;
    }
    inter_ca = qcrypto_pki_cert_new(&inter, root_ca, &err);
    if (!inter_ca) {
        return -1;
    }
    tmpdir = g_dir_make_tmp("qio-test-pki-XXXXXX", &err);
    return tmpdir ? 0 : -1;
}

static int group_teardown(void **state)
{
    qcrypto_pki_cert_free(inter_ca);
    qcrypto_pki_cert_free(root_ca);
    if (tmpdir) {
        rm_rf(tmpdir);
        g_free(tmpdir);
    }
    return 0;
}

/* A fresh path in the temporary directory. */
static char *tmp_path(const char *name)
{
    g_autofree char *path = g_build_filename(tmpdir, name, NULL);

    rm_rf(path);
    return g_steal_pointer(&path);
}

/* The certificate as a peer sees it: PEM out, parsed back by gnutls. */
static gnutls_x509_crt_t parse_cert(QCryptoPKICert *cert)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *pem = qcrypto_pki_cert_get_pem(cert, &err);
    gnutls_x509_crt_t crt;
    gnutls_datum_t d;

    assert_non_null(pem);
    assert_non_null(strstr(pem, "-----BEGIN CERTIFICATE-----"));
    assert_int_equal(gnutls_x509_crt_init(&crt), 0);
    d.data = (unsigned char *)pem;
    d.size = strlen(pem);
    assert_int_equal(gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM), 0);
    return crt;
}

static void assert_dn(gnutls_x509_crt_t crt, const char *oid,
                      const char *expect)
{
    char buf[256];
    size_t size = sizeof(buf);

    assert_int_equal(gnutls_x509_crt_get_dn_by_oid(crt, oid, 0, 0, buf, &size),
                     0);
    assert_string_equal(buf, expect);
}

/*
 * The criticality of extension @oid as it is encoded: 1, 0, or -1 when
 * absent.  Read from the extension list because not every gnutls getter
 * reports it (the SAN one leaves it untouched in 3.7).
 */
static int ext_critical(gnutls_x509_crt_t crt, const char *oid)
{
    char buf[128];
    size_t size;
    unsigned int critical;
    int i;

    for (i = 0;; i++) {
        size = sizeof(buf);
        if (gnutls_x509_crt_get_extension_info(crt, i, buf, &size, &critical) <
            0) {
            return -1;
        }
        if (strcmp(buf, oid) == 0) {
            return critical ? 1 : 0;
        }
    }
}

static void assert_error(GError *err, QCryptoErrorCode code, const char *part)
{
    assert_non_null(err);
    assert_true(g_error_matches(err, QCRYPTO_ERROR, code));
    if (part) {
        if (!strstr(err->message, part)) {
            fail_msg("'%s' not in error '%s'", part, err->message);
        }
    }
}

static void test_request_fields(void **state)
{
    static const char *const dns[] = { "db1.example.org", "db1", NULL };
    static const char *const ips[] = { "192.0.2.7", "2001:db8::7", NULL };
    static const char *const kp[] = { GNUTLS_KP_TLS_WWW_SERVER,
                                      GNUTLS_KP_TLS_WWW_CLIENT, NULL };
    static const guint8 v4[] = { 192, 0, 2, 7 };
    static const guint8 v6[] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
                                 0,    0,    0,    0,    0, 0, 0, 7 };
    QCryptoPKICertReq req = {
        .common_name = "db1.example.org",
        .organization = "Example Storage",
        .dns_names = dns,
        .ip_addrs = ips,
        .basic_constraints = QCRYPTO_PKI_EXT_NONCRITICAL,
        .is_ca = false,
        .path_len = -1,
        .key_usage = QCRYPTO_PKI_EXT_NONCRITICAL,
        .key_usage_bits =
            GNUTLS_KEY_DIGITAL_SIGNATURE | GNUTLS_KEY_KEY_AGREEMENT,
        .key_purpose = QCRYPTO_PKI_EXT_CRITICAL,
        .key_purpose_oids = kp,
        .start_offset = -600,
        .expire_offset = 86400,
        .serial = 0x1234abcd,
    };
    g_autoptr(GError) err = NULL;
    g_autoptr(QCryptoPKICert) cert = qcrypto_pki_cert_new(&req, root_ca, &err);
    gnutls_x509_crt_t crt;
    char buf[256];
    size_t size;
    unsigned int critical, usage, ca;
    int pathlen, ret;
    time_t now = time(NULL);
    static const guint8 serial[] = { 0x12, 0x34, 0xab, 0xcd };

    assert_non_null(cert);
    crt = parse_cert(cert);

    assert_dn(crt, GNUTLS_OID_X520_COMMON_NAME, "db1.example.org");
    assert_dn(crt, GNUTLS_OID_X520_ORGANIZATION_NAME, "Example Storage");
    /* The whole DN, as QEMU hands it to an authz object. */
    {
        gnutls_datum_t dn = { NULL, 0 };

        assert_int_equal(gnutls_x509_crt_get_dn3(crt, &dn, 0), 0);
        assert_string_equal((char *)dn.data,
                            "CN=db1.example.org,O=Example Storage");
        gnutls_free(dn.data);
    }
    size = sizeof(buf);
    assert_int_equal(gnutls_x509_crt_get_issuer_dn_by_oid(
                         crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, buf, &size),
                     0);
    assert_string_equal(buf, "qio test root CA");

    /* SANs in request order: DNS names first, then addresses. */
    size = sizeof(buf);
    assert_int_equal(
        gnutls_x509_crt_get_subject_alt_name(crt, 0, buf, &size, NULL),
        GNUTLS_SAN_DNSNAME);
    assert_string_equal(buf, "db1.example.org");
    assert_int_equal(ext_critical(crt, "2.5.29.17"), 0);
    size = sizeof(buf);
    assert_int_equal(
        gnutls_x509_crt_get_subject_alt_name(crt, 1, buf, &size, NULL),
        GNUTLS_SAN_DNSNAME);
    assert_string_equal(buf, "db1");
    size = sizeof(buf);
    assert_int_equal(
        gnutls_x509_crt_get_subject_alt_name(crt, 2, buf, &size, NULL),
        GNUTLS_SAN_IPADDRESS);
    assert_int_equal(size, 4);
    assert_memory_equal(buf, v4, 4);
    size = sizeof(buf);
    assert_int_equal(
        gnutls_x509_crt_get_subject_alt_name(crt, 3, buf, &size, NULL),
        GNUTLS_SAN_IPADDRESS);
    assert_int_equal(size, 16);
    assert_memory_equal(buf, v6, 16);
    size = sizeof(buf);
    assert_int_equal(
        gnutls_x509_crt_get_subject_alt_name(crt, 4, buf, &size, NULL),
        GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE);
    assert_true(gnutls_x509_crt_check_hostname(crt, "db1.example.org"));
    assert_true(gnutls_x509_crt_check_ip(crt, v4, 4, 0));
    assert_true(gnutls_x509_crt_check_ip(crt, v6, 16, 0));
    assert_false(gnutls_x509_crt_check_hostname(crt, "db2.example.org"));

    /* basicConstraints CA:FALSE, not critical. */
    ret = gnutls_x509_crt_get_basic_constraints(crt, &critical, &ca, &pathlen);
    assert_true(ret >= 0);
    assert_false(critical);
    assert_false(ca);
    assert_int_equal(ext_critical(crt, "2.5.29.19"), 0);

    /* keyUsage: exactly the bits asked for, not critical. */
    assert_int_equal(gnutls_x509_crt_get_key_usage(crt, &usage, &critical), 0);
    assert_int_equal(usage,
                     GNUTLS_KEY_DIGITAL_SIGNATURE | GNUTLS_KEY_KEY_AGREEMENT);
    assert_false(critical);
    assert_int_equal(ext_critical(crt, "2.5.29.15"), 0);

    /* extendedKeyUsage: both purposes, critical. */
    size = sizeof(buf);
    assert_int_equal(
        gnutls_x509_crt_get_key_purpose_oid(crt, 0, buf, &size, &critical), 0);
    assert_string_equal(buf, GNUTLS_KP_TLS_WWW_SERVER);
    assert_true(critical);
    assert_int_equal(ext_critical(crt, "2.5.29.37"), 1);
    size = sizeof(buf);
    assert_int_equal(
        gnutls_x509_crt_get_key_purpose_oid(crt, 1, buf, &size, &critical), 0);
    assert_string_equal(buf, GNUTLS_KP_TLS_WWW_CLIENT);
    size = sizeof(buf);
    assert_int_equal(
        gnutls_x509_crt_get_key_purpose_oid(crt, 2, buf, &size, NULL),
        GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE);

    /* Validity from the offsets. */
    assert_true(labs((long)(gnutls_x509_crt_get_activation_time(crt) -
                            (now - 600))) <= TOLERANCE);
    assert_true(labs((long)(gnutls_x509_crt_get_expiration_time(crt) -
                            (now + 86400))) <= TOLERANCE);

    /* The serial asked for, DER minimal. */
    size = sizeof(buf);
    assert_int_equal(gnutls_x509_crt_get_serial(crt, buf, &size), 0);
    assert_int_equal(size, sizeof(serial));
    assert_memory_equal(buf, serial, sizeof(serial));

    assert_int_equal(gnutls_x509_crt_get_version(crt), 3);
    assert_int_equal(gnutls_x509_crt_get_signature_algorithm(crt),
                     GNUTLS_SIGN_ECDSA_SHA256);
    gnutls_x509_crt_deinit(crt);
}

/* The other half of the tri-states: critical where the above was not. */
static void test_request_criticality(void **state)
{
    QCryptoPKICertReq req = ca_req("sub CA");
    g_autoptr(GError) err = NULL;
    g_autoptr(QCryptoPKICert) cert = NULL;
    gnutls_x509_crt_t crt;
    unsigned int critical, usage, ca;
    int pathlen;
    char buf[128];
    size_t size = sizeof(buf);

    req.path_len = 2;
    cert = qcrypto_pki_cert_new(&req, root_ca, &err);
    assert_non_null(cert);
    crt = parse_cert(cert);
    assert_true(gnutls_x509_crt_get_basic_constraints(crt, &critical, &ca,
                                                      &pathlen) >= 0);
    assert_true(critical);
    assert_true(ca);
    assert_int_equal(pathlen, 2);
    assert_int_equal(ext_critical(crt, "2.5.29.19"), 1);
    assert_int_equal(gnutls_x509_crt_get_key_usage(crt, &usage, &critical), 0);
    assert_true(critical);
    assert_int_equal(usage, GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN);
    assert_int_equal(ext_critical(crt, "2.5.29.15"), 1);
    assert_int_equal(ext_critical(crt, "2.5.29.37"), -1);
    /* Absent means absent, not empty. */
    assert_int_equal(
        gnutls_x509_crt_get_key_purpose_oid(crt, 0, buf, &size, NULL),
        GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE);
    gnutls_x509_crt_deinit(crt);

    /* No extensions at all. */
    {
        QCryptoPKICertReq bare = { .common_name = "bare" };
        g_autoptr(QCryptoPKICert) c2 =
            qcrypto_pki_cert_new(&bare, root_ca, &err);

        assert_non_null(c2);
        crt = parse_cert(c2);
        assert_int_equal(gnutls_x509_crt_get_basic_constraints(crt, &critical,
                                                               &ca, &pathlen),
                         GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE);
        assert_int_equal(gnutls_x509_crt_get_key_usage(crt, &usage, &critical),
                         GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE);
        size = sizeof(buf);
        assert_int_equal(
            gnutls_x509_crt_get_subject_alt_name(crt, 0, buf, &size, NULL),
            GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE);
        gnutls_x509_crt_deinit(crt);
    }
}

/* Defaults: random positive 20-byte serials, now-1h .. now+10y, key ids. */
static void test_defaults(void **state)
{
    QCryptoPKICertReq req = leaf_req("defaults");
    g_autoptr(GError) err = NULL;
    g_autoptr(QCryptoPKICert) a = qcrypto_pki_cert_new(&req, inter_ca, &err);
    g_autoptr(QCryptoPKICert) b = qcrypto_pki_cert_new(&req, inter_ca, &err);
    gnutls_x509_crt_t ca, cb, ci;
    guint8 sa[32], sb[32], ski[64], aki[64];
    size_t la = sizeof(sa), lb = sizeof(sb), lski, laki;
    unsigned int critical;
    time_t now = time(NULL);
    int64_t ten_years = (int64_t)10 * 365 * 24 * 3600;

    assert_non_null(a);
    assert_non_null(b);
    ca = parse_cert(a);
    cb = parse_cert(b);
    ci = parse_cert(inter_ca);
    assert_int_equal(gnutls_x509_crt_get_serial(ca, sa, &la), 0);
    assert_int_equal(gnutls_x509_crt_get_serial(cb, sb, &lb), 0);
    assert_int_equal(la, 20);
    assert_int_equal(lb, 20);
    assert_true((sa[0] & 0x80) == 0 && sa[0] != 0);
    assert_memory_not_equal(sa, sb, 20);

    assert_true(labs((long)(gnutls_x509_crt_get_activation_time(ca) -
                            (now - 3600))) <= TOLERANCE);
    assert_true(llabs((long long)(gnutls_x509_crt_get_expiration_time(ca) -
                                  (now + ten_years))) <= TOLERANCE);

    /* The leaf's authority key id is the issuer's subject key id. */
    lski = sizeof(ski);
    assert_int_equal(
        gnutls_x509_crt_get_subject_key_id(ci, ski, &lski, &critical), 0);
    laki = sizeof(aki);
    assert_int_equal(
        gnutls_x509_crt_get_authority_key_id(ca, aki, &laki, &critical), 0);
    assert_int_equal(lski, laki);
    assert_memory_equal(ski, aki, lski);
    lski = sizeof(ski);
    assert_int_equal(
        gnutls_x509_crt_get_subject_key_id(ca, ski, &lski, &critical), 0);
    assert_memory_not_equal(ski, aki, MIN(lski, laki));

    assert_int_equal(gnutls_x509_crt_get_pk_algorithm(ca, NULL),
                     GNUTLS_PK_ECDSA);
    gnutls_x509_crt_deinit(ca);
    gnutls_x509_crt_deinit(cb);
    gnutls_x509_crt_deinit(ci);
}

static unsigned int verify_chain(QCryptoPKICert *trusted,
                                 QCryptoPKICert *const *chain, size_t n,
                                 const char *crl_path)
{
    gnutls_x509_trust_list_t tl;
    gnutls_x509_crt_t ca = parse_cert(trusted);
    gnutls_x509_crt_t list[4];
    unsigned int status = 0;
    size_t i;

    g_assert(n <= G_N_ELEMENTS(list));
    for (i = 0; i < n; i++) {
        list[i] = parse_cert(chain[i]);
    }
    assert_int_equal(gnutls_x509_trust_list_init(&tl, 0), 0);
    assert_int_equal(gnutls_x509_trust_list_add_cas(tl, &ca, 1, 0), 1);
    if (crl_path) {
        gnutls_x509_crl_t crl;
        g_autofree char *pem = NULL;
        gsize len;
        gnutls_datum_t d;

        assert_true(g_file_get_contents(crl_path, &pem, &len, NULL));
        d.data = (unsigned char *)pem;
        d.size = len;
        assert_int_equal(gnutls_x509_crl_init(&crl), 0);
        assert_int_equal(gnutls_x509_crl_import(crl, &d, GNUTLS_X509_FMT_PEM),
                         0);
        assert_int_equal(gnutls_x509_trust_list_add_crls(
                             tl, &crl, 1, GNUTLS_TL_VERIFY_CRL, 0),
                         1);
    }
    assert_int_equal(
        gnutls_x509_trust_list_verify_crt(tl, list, n, 0, &status, NULL), 0);
    gnutls_x509_trust_list_deinit(tl, 1);
    for (i = 0; i < n; i++) {
        gnutls_x509_crt_deinit(list[i]);
    }
    return status;
}

static void test_chain(void **state)
{
    QCryptoPKICertReq req = leaf_req("chain leaf");
    QCryptoPKICertReq other_req = ca_req("other root CA");
    QCryptoPKICertReq notca_req = leaf_req("not a CA");
    g_autoptr(GError) err = NULL;
    g_autoptr(QCryptoPKICert) leaf = qcrypto_pki_cert_new(&req, inter_ca, &err);
    g_autoptr(QCryptoPKICert) other =
        qcrypto_pki_cert_new(&other_req, NULL, &err);
    g_autoptr(QCryptoPKICert) notca =
        qcrypto_pki_cert_new(&notca_req, root_ca, &err);
    g_autoptr(QCryptoPKICert) under_notca = NULL;
    QCryptoPKICert *chain[2];
    gnutls_x509_crt_t list[3];
    unsigned int status;

    assert_non_null(leaf);
    assert_non_null(other);
    assert_non_null(notca);
    under_notca = qcrypto_pki_cert_new(&req, notca, &err);
    assert_non_null(under_notca);

    chain[0] = leaf;
    chain[1] = inter_ca;
    assert_int_equal(verify_chain(root_ca, chain, 2, NULL), 0);
    status = verify_chain(other, chain, 2, NULL);
    assert_true(status & GNUTLS_CERT_INVALID);
    assert_true(status & GNUTLS_CERT_SIGNER_NOT_FOUND);
    /* Without the intermediate the leaf cannot reach the root. */
    assert_true(verify_chain(root_ca, chain, 1, NULL) & GNUTLS_CERT_INVALID);
    /* A leaf signed by a certificate that is not a CA. */
    chain[0] = under_notca;
    chain[1] = notca;
    status = verify_chain(root_ca, chain, 2, NULL);
    assert_true(status & GNUTLS_CERT_INVALID);
    assert_true(status & GNUTLS_CERT_SIGNER_NOT_CA);

    /* The same chain through gnutls_x509_crt_list_verify. */
    list[0] = parse_cert(leaf);
    list[1] = parse_cert(inter_ca);
    list[2] = parse_cert(root_ca);
    assert_int_equal(
        gnutls_x509_crt_list_verify(list, 2, &list[2], 1, NULL, 0, 0, &status),
        0);
    assert_int_equal(status, 0);
    gnutls_x509_crt_deinit(list[0]);
    gnutls_x509_crt_deinit(list[1]);
    gnutls_x509_crt_deinit(list[2]);
}

static void test_encrypted_key(void **state)
{
    QCryptoPKICertReq req = leaf_req("encrypted");
    g_autoptr(GError) err = NULL;
    g_autoptr(QCryptoPKICert) cert = qcrypto_pki_cert_new(&req, root_ca, &err);
    g_autofree char *enc = NULL;
    g_autofree char *plain = NULL;
    gnutls_x509_privkey_t key;
    gnutls_x509_crt_t crt;
    gnutls_datum_t d;
    guint8 id1[64], id2[64];
    size_t l1 = sizeof(id1), l2 = sizeof(id2);

    assert_non_null(cert);
    enc = qcrypto_pki_key_get_pem(cert, "correct horse", &err);
    assert_non_null(enc);
    assert_non_null(strstr(enc, "-----BEGIN ENCRYPTED PRIVATE KEY-----"));
    plain = qcrypto_pki_key_get_pem(cert, NULL, &err);
    assert_non_null(plain);
    assert_non_null(strstr(plain, "-----BEGIN PRIVATE KEY-----"));

    d.data = (unsigned char *)enc;
    d.size = strlen(enc);
    assert_int_equal(gnutls_x509_privkey_init(&key), 0);
    assert_true(gnutls_x509_privkey_import2(key, &d, GNUTLS_X509_FMT_PEM,
                                            "wrong horse", 0) < 0);
    gnutls_x509_privkey_deinit(key);
    assert_int_equal(gnutls_x509_privkey_init(&key), 0);
    assert_true(gnutls_x509_privkey_import_pkcs8(key, &d, GNUTLS_X509_FMT_PEM,
                                                 NULL, 0) < 0);
    gnutls_x509_privkey_deinit(key);
    assert_int_equal(gnutls_x509_privkey_init(&key), 0);
    assert_int_equal(gnutls_x509_privkey_import2(key, &d, GNUTLS_X509_FMT_PEM,
                                                 "correct horse", 0),
                     0);

    /* The decrypted key is the certificate's. */
    crt = parse_cert(cert);
    assert_int_equal(gnutls_x509_crt_get_key_id(crt, 0, id1, &l1), 0);
    assert_int_equal(gnutls_x509_privkey_get_key_id(key, 0, id2, &l2), 0);
    assert_int_equal(l1, l2);
    assert_memory_equal(id1, id2, l1);
    gnutls_x509_privkey_deinit(key);
    gnutls_x509_crt_deinit(crt);

    /* An empty password would be no protection at all. */
    assert_null(qcrypto_pki_key_get_pem(cert, "", &err));
    assert_error(err, QCRYPTO_ERROR_INVALID_ARGUMENT, "password");
}

static void test_rsa(void **state)
{
    QCryptoPKICertReq req = leaf_req("rsa");
    g_autoptr(GError) err = NULL;
    g_autoptr(QCryptoPKICert) rsa = NULL;
    g_autoptr(QCryptoPKICert) under = NULL;
    QCryptoPKICertReq ca = ca_req("rsa CA");
    QCryptoPKICert *chain[1];
    gnutls_x509_crt_t crt;
    unsigned int bits = 0;

    ca.key_type = QCRYPTO_PKI_KEY_RSA;
    ca.key_bits = 2048;
    rsa = qcrypto_pki_cert_new(&ca, NULL, &err);
    assert_non_null(rsa);
    crt = parse_cert(rsa);
    assert_int_equal(gnutls_x509_crt_get_pk_algorithm(crt, &bits),
                     GNUTLS_PK_RSA);
    assert_int_equal(bits, 2048);
    assert_int_equal(gnutls_x509_crt_get_signature_algorithm(crt),
                     GNUTLS_SIGN_RSA_SHA256);
    gnutls_x509_crt_deinit(crt);

    /* An ECDSA leaf under the RSA CA: signed with RSA-SHA256, verifies. */
    under = qcrypto_pki_cert_new(&req, rsa, &err);
    assert_non_null(under);
    crt = parse_cert(under);
    assert_int_equal(gnutls_x509_crt_get_pk_algorithm(crt, &bits),
                     GNUTLS_PK_ECDSA);
    assert_int_equal(gnutls_x509_crt_get_signature_algorithm(crt),
                     GNUTLS_SIGN_RSA_SHA256);
    gnutls_x509_crt_deinit(crt);
    chain[0] = under;
    assert_int_equal(verify_chain(rsa, chain, 1, NULL), 0);

    /* Keys too small to be safe are refused. */
    ca.key_bits = 1024;
    assert_null(qcrypto_pki_cert_new(&ca, NULL, &err));
    assert_error(err, QCRYPTO_ERROR_INVALID_ARGUMENT, "key_bits");
}

static mode_t file_mode(const char *path)
{
    struct stat st;

    assert_int_equal(stat(path, &st), 0);
    return st.st_mode & 07777;
}

static void test_files(void **state)
{
    QCryptoPKICertReq req = leaf_req("files");
    g_autoptr(GError) err = NULL;
    g_autoptr(QCryptoPKICert) cert = qcrypto_pki_cert_new(&req, root_ca, &err);
    g_autofree char *key = tmp_path("files-key.pem");
    g_autofree char *crt = tmp_path("files-cert.pem");
    g_autofree char *bundle = tmp_path("bundle.pem");
    g_autofree char *missing =
        g_build_filename(tmpdir, "no-such-dir", "key.pem", NULL);
    g_autofree char *pem = NULL;
    g_autofree char *expect = NULL;
    gnutls_x509_crt_t *list = NULL;
    unsigned int n = 0;
    gnutls_datum_t d;
    gsize len;
    mode_t old = umask(0);

    assert_non_null(cert);
    /* Modes are explicit, whatever the umask says. */
    assert_true(qcrypto_pki_key_write(cert, key, NULL, &err));
    assert_true(qcrypto_pki_cert_write(cert, crt, &err));
    assert_int_equal(file_mode(key), 0600);
    assert_int_equal(file_mode(crt), 0644);

    /* Replacing a world-readable file still leaves a 0600 key. */
    assert_true(g_file_set_contents(key, "old", -1, NULL));
    assert_int_equal(chmod(key, 0644), 0);
    assert_true(qcrypto_pki_key_write(cert, key, "pw", &err));
    assert_int_equal(file_mode(key), 0600);
    assert_true(g_file_get_contents(key, &pem, &len, NULL));
    assert_non_null(strstr(pem, "ENCRYPTED PRIVATE KEY"));
    g_clear_pointer(&pem, g_free);
    umask(old);

    /* The written certificate is the one in memory. */
    expect = qcrypto_pki_cert_get_pem(cert, &err);
    assert_true(g_file_get_contents(crt, &pem, &len, NULL));
    assert_string_equal(pem, expect);
    g_clear_pointer(&pem, g_free);

    /* A bundle of two. */
    assert_true(qcrypto_pki_cert_append(root_ca, bundle, &err));
    assert_true(qcrypto_pki_cert_append(inter_ca, bundle, &err));
    assert_true(g_file_get_contents(bundle, &pem, &len, NULL));
    d.data = (unsigned char *)pem;
    d.size = len;
    assert_int_equal(
        gnutls_x509_crt_list_import2(&list, &n, &d, GNUTLS_X509_FMT_PEM, 0), 0);
    assert_int_equal(n, 2);
    gnutls_x509_crt_deinit(list[0]);
    gnutls_x509_crt_deinit(list[1]);
    gnutls_free(list);

    /* Errors name the full path. */
    assert_false(qcrypto_pki_key_write(cert, missing, NULL, &err));
    assert_error(err, QCRYPTO_ERROR_FILE, missing);
    g_clear_error(&err);
    assert_false(qcrypto_pki_cert_write(cert, missing, &err));
    assert_error(err, QCRYPTO_ERROR_FILE, missing);
    g_clear_error(&err);
    assert_false(qcrypto_pki_cert_append(cert, missing, &err));
    assert_error(err, QCRYPTO_ERROR_FILE, missing);
    g_clear_error(&err);
    assert_false(qcrypto_pki_psk_append(missing, "alice", NULL, 0, &err));
    assert_error(err, QCRYPTO_ERROR_FILE, missing);
}

static void test_load(void **state)
{
    QCryptoPKICertReq req = leaf_req("load");
    g_autoptr(GError) err = NULL;
    g_autoptr(QCryptoPKICert) cert = qcrypto_pki_cert_new(&req, root_ca, &err);
    g_autoptr(QCryptoPKICert) loaded = NULL;
    g_autoptr(QCryptoPKICert) leaf = NULL;
    g_autofree char *key = tmp_path("load-key.pem");
    g_autofree char *crt = tmp_path("load-cert.pem");
    g_autofree char *other = tmp_path("other-key.pem");
    g_autofree char *a = NULL;
    g_autofree char *b = NULL;
    QCryptoPKICertReq lreq = leaf_req("signed by loaded");
    QCryptoPKICert *chain[1];

    assert_non_null(cert);
    assert_true(qcrypto_pki_key_write(cert, key, "pw", &err));
    assert_true(qcrypto_pki_cert_write(cert, crt, &err));
    assert_true(qcrypto_pki_key_write(root_ca, other, NULL, &err));

    loaded = qcrypto_pki_cert_load(crt, key, "pw", &err);
    assert_non_null(loaded);
    a = qcrypto_pki_cert_get_pem(cert, &err);
    b = qcrypto_pki_cert_get_pem(loaded, &err);
    assert_string_equal(a, b);

    assert_null(qcrypto_pki_cert_load(crt, key, "nope", &err));
    assert_error(err, QCRYPTO_ERROR_INVALID_ARGUMENT, key);
    g_clear_error(&err);
    assert_null(qcrypto_pki_cert_load(crt, other, NULL, &err));
    assert_error(err, QCRYPTO_ERROR_INVALID_ARGUMENT, "does not hold the key");
    g_clear_error(&err);
    assert_null(qcrypto_pki_cert_load(key, key, "pw", &err));
    assert_error(err, QCRYPTO_ERROR_INVALID_ARGUMENT, key);
    g_clear_error(&err);

    /* A loaded root signs certificates that chain to the original. */
    g_clear_pointer(&loaded, qcrypto_pki_cert_free);
    assert_true(qcrypto_pki_cert_write(root_ca, crt, &err));
    loaded = qcrypto_pki_cert_load(crt, other, NULL, &err);
    assert_non_null(loaded);
    leaf = qcrypto_pki_cert_new(&lreq, loaded, &err);
    assert_non_null(leaf);
    chain[0] = leaf;
    assert_int_equal(verify_chain(root_ca, chain, 1, NULL), 0);
}

static void test_invalid_requests(void **state)
{
    static const char *const bad_ip[] = { "127.0.0.1", "300.1.2.3", NULL };
    static const char *const host_ip[] = { "db.example.org", NULL };
    static const char *const empty_dns[] = { "", NULL };
    QCryptoPKICertReq req = leaf_req("x");
    g_autoptr(GError) err = NULL;

    req.common_name = NULL;
    assert_null(qcrypto_pki_cert_new(&req, root_ca, &err));
    assert_error(err, QCRYPTO_ERROR_INVALID_ARGUMENT, "common_name");
    g_clear_error(&err);

    req.common_name = "";
    assert_null(qcrypto_pki_cert_new(&req, root_ca, &err));
    assert_error(err, QCRYPTO_ERROR_INVALID_ARGUMENT, "common_name");
    g_clear_error(&err);

    req.common_name = "x";
    req.ip_addrs = bad_ip;
    assert_null(qcrypto_pki_cert_new(&req, root_ca, &err));
    assert_error(err, QCRYPTO_ERROR_INVALID_ARGUMENT,
                 "ip_addrs[1] '300.1.2.3'");
    g_clear_error(&err);

    req.ip_addrs = host_ip;
    assert_null(qcrypto_pki_cert_new(&req, root_ca, &err));
    assert_error(err, QCRYPTO_ERROR_INVALID_ARGUMENT, "ip_addrs[0]");
    g_clear_error(&err);

    req.ip_addrs = NULL;
    req.dns_names = empty_dns;
    assert_null(qcrypto_pki_cert_new(&req, root_ca, &err));
    assert_error(err, QCRYPTO_ERROR_INVALID_ARGUMENT, "dns_names[0]");
    g_clear_error(&err);

    req = leaf_req("x");
    req.key_purpose_oids = NULL;
    assert_null(qcrypto_pki_cert_new(&req, root_ca, &err));
    assert_error(err, QCRYPTO_ERROR_INVALID_ARGUMENT, "key_purpose");
    g_clear_error(&err);

    req = leaf_req("x");
    req.key_type = (QCryptoPKIKeyType)42;
    assert_null(qcrypto_pki_cert_new(&req, root_ca, &err));
    assert_error(err, QCRYPTO_ERROR_INVALID_ARGUMENT, "key_type");
}

static void test_psk(void **state)
{
    static const guint8 key[] = { 0x00, 0x01, 0xab, 0xff };
    g_autoptr(GError) err = NULL;
    g_autofree char *path = tmp_path("keys.psk");
    g_autofree char *contents = NULL;
    g_auto(GStrv) lines = NULL;
    static const char *const bad[] = { "", "a:b", "a\nb", "a\r", ":" };
    size_t i;

    assert_true(qcrypto_pki_psk_append(path, "alice", key, sizeof(key), &err));
    assert_int_equal(file_mode(path), 0600);
    assert_true(qcrypto_pki_psk_append(path, "bob", NULL, 0, &err));
    assert_true(g_file_get_contents(path, &contents, NULL, NULL));
    lines = g_strsplit(contents, "\n", -1);
    assert_int_equal(g_strv_length(lines), 3);
    assert_string_equal(lines[0], "alice:0001abff");
    assert_true(g_str_has_prefix(lines[1], "bob:"));
    assert_int_equal(strlen(lines[1]), 4 + 64);
    for (i = 4; i < 68; i++) {
        assert_true(g_ascii_isxdigit(lines[1][i]) &&
                    !g_ascii_isupper(lines[1][i]));
    }
    assert_string_equal(lines[2], "");

    /* A second key for a user would be ambiguous. */
    assert_false(qcrypto_pki_psk_append(path, "alice", NULL, 0, &err));
    assert_error(err, QCRYPTO_ERROR_EXISTS, path);
    g_clear_error(&err);

    for (i = 0; i < G_N_ELEMENTS(bad); i++) {
        assert_false(qcrypto_pki_psk_append(path, bad[i], NULL, 0, &err));
        assert_error(err, QCRYPTO_ERROR_INVALID_ARGUMENT, path);
        g_clear_error(&err);
    }
    assert_false(qcrypto_pki_psk_append(path, NULL, NULL, 0, &err));
    assert_error(err, QCRYPTO_ERROR_INVALID_ARGUMENT, "empty");
    g_clear_error(&err);
    assert_false(qcrypto_pki_psk_append(path, "carol", key, 0, &err));
    assert_error(err, QCRYPTO_ERROR_INVALID_ARGUMENT, "empty");
    g_clear_error(&err);

    /* Nothing was added by the failures. */
    g_clear_pointer(&contents, g_free);
    assert_true(g_file_get_contents(path, &contents, NULL, NULL));
    assert_int_equal(strlen(contents), strlen("alice:0001abff\n") + 69);

    /* An existing file readable by others is narrowed on append. */
    assert_int_equal(chmod(path, 0644), 0);
    assert_true(qcrypto_pki_psk_append(path, "dave", NULL, 0, &err));
    assert_int_equal(file_mode(path), 0600);
}

static void test_crl(void **state)
{
    QCryptoPKICertReq req = leaf_req("revoked");
    QCryptoPKICertReq req2 = leaf_req("still good");
    g_autoptr(GError) err = NULL;
    g_autoptr(QCryptoPKICert) bad = NULL;
    g_autoptr(QCryptoPKICert) good = NULL;
    g_autofree char *path = tmp_path("ca-crl.pem");
    g_autofree char *pem = NULL;
    gnutls_x509_crl_t crl;
    gnutls_x509_crt_t ca;
    gnutls_datum_t d;
    guint8 serial[32], want[32];
    size_t slen = sizeof(serial), wlen = sizeof(want);
    time_t when;
    gsize len;
    QCryptoPKICert *chain[2];
    QCryptoPKICert *revoked[1];
    unsigned int status;

    req.serial = 0xfeedface;
    bad = qcrypto_pki_cert_new(&req, root_ca, &err);
    good = qcrypto_pki_cert_new(&req2, root_ca, &err);
    assert_non_null(bad);
    assert_non_null(good);
    revoked[0] = bad;
    assert_true(qcrypto_pki_crl_write(root_ca, revoked, 1, path, &err));
    assert_int_equal(file_mode(path) & 0444, 0444);

    assert_true(g_file_get_contents(path, &pem, &len, NULL));
    d.data = (unsigned char *)pem;
    d.size = len;
    assert_int_equal(gnutls_x509_crl_init(&crl), 0);
    assert_int_equal(gnutls_x509_crl_import(crl, &d, GNUTLS_X509_FMT_PEM), 0);
    assert_int_equal(gnutls_x509_crl_get_crt_count(crl), 1);
    assert_int_equal(
        gnutls_x509_crl_get_crt_serial(crl, 0, serial, &slen, &when), 0);
    {
        gnutls_x509_crt_t b = parse_cert(bad);

        assert_int_equal(gnutls_x509_crt_get_serial(b, want, &wlen), 0);
        gnutls_x509_crt_deinit(b);
    }
    assert_int_equal(slen, wlen);
    assert_memory_equal(serial, want, slen);
    assert_true(when <= time(NULL));
    ca = parse_cert(root_ca);
    assert_int_equal(gnutls_x509_crl_verify(crl, &ca, 1, 0, &status), 0);
    assert_int_equal(status, 0);
    gnutls_x509_crt_deinit(ca);
    gnutls_x509_crl_deinit(crl);

    chain[0] = bad;
    status = verify_chain(root_ca, chain, 1, path);
    assert_true(status & GNUTLS_CERT_REVOKED);
    chain[0] = good;
    assert_int_equal(verify_chain(root_ca, chain, 1, path), 0);

    /* An empty CRL is valid too. */
    assert_true(qcrypto_pki_crl_write(root_ca, NULL, 0, path, &err));
}

static void test_password_file(void **state)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *path = tmp_path("pw");
    char *pw;

    assert_true(g_file_set_contents(path, "s3cret\n", -1, NULL));
    pw = qcrypto_pki_read_password_file(path, &err);
    assert_non_null(pw);
    /* Byte for byte, as QEMU's secret object reads file=. */
    assert_string_equal(pw, "s3cret\n");
    g_free(pw);

    assert_true(g_file_set_contents(path, "", 0, NULL));
    assert_null(qcrypto_pki_read_password_file(path, &err));
    assert_error(err, QCRYPTO_ERROR_INVALID_ARGUMENT, path);
    g_clear_error(&err);
    assert_true(g_file_set_contents(path, "a\0b", 3, NULL));
    assert_null(qcrypto_pki_read_password_file(path, &err));
    assert_error(err, QCRYPTO_ERROR_INVALID_ARGUMENT, path);
    g_clear_error(&err);
    g_unlink(path);
    assert_null(qcrypto_pki_read_password_file(path, &err));
    assert_error(err, QCRYPTO_ERROR_FILE, path);
}

/* A server certificate of a written directory as gnutls verifies it. */
static void assert_dir_server_ok(const char *dir, const char *hostname)
{
    g_autofree char *ca = g_build_filename(dir, "ca-cert.pem", NULL);
    g_autofree char *srv = g_build_filename(dir, "server-cert.pem", NULL);
    gnutls_x509_crt_t *cas = NULL, *crts = NULL;
    unsigned int ncas = 0, ncrts = 0, status = 1;
    gnutls_datum_t d;

    assert_int_equal(gnutls_load_file(ca, &d), 0);
    assert_int_equal(
        gnutls_x509_crt_list_import2(&cas, &ncas, &d, GNUTLS_X509_FMT_PEM, 0),
        0);
    gnutls_free(d.data);
    assert_int_equal(gnutls_load_file(srv, &d), 0);
    assert_int_equal(
        gnutls_x509_crt_list_import2(&crts, &ncrts, &d, GNUTLS_X509_FMT_PEM, 0),
        0);
    gnutls_free(d.data);
    assert_int_equal(gnutls_x509_crt_list_verify(crts, ncrts, cas, ncas, NULL,
                                                 0, 0, &status),
                     0);
    assert_int_equal(status, 0);
    assert_true(gnutls_x509_crt_check_hostname(crts[0], hostname));
    gnutls_x509_crt_deinit(cas[0]);
    gnutls_x509_crt_deinit(crts[0]);
    gnutls_free(cas);
    gnutls_free(crts);
}

static void test_dir(void **state)
{
    static const char *const hosts[] = { "db1.example.org", NULL };
    static const char *const ips[] = { "127.0.0.1", "::1", NULL };
    static const char *const users[] = { "alice", "bob", NULL };
    g_autoptr(GError) err = NULL;
    g_autofree char *dir = tmp_path("creds");
    g_autofree char *cadir = tmp_path("ca");
    g_autofree char *clidir = tmp_path("client-alice");
    QCryptoPKIDirOptions opts = {
        .dir = dir,
        .hostnames = hosts,
        .ip_addrs = ips,
        .client_name = "client1",
        .server_key_password = "pw",
        .psk_users = users,
        .days = 30,
    };
    g_autofree char *ca_key = g_build_filename(dir, "ca-key.pem", NULL);
    g_autofree char *srv_key = g_build_filename(dir, "server-key.pem", NULL);
    g_autofree char *srv_crt = g_build_filename(dir, "server-cert.pem", NULL);
    g_autofree char *cli_key = g_build_filename(dir, "client-key.pem", NULL);
    g_autofree char *psk = g_build_filename(dir, "keys.psk", NULL);
    g_autofree char *before = NULL;
    g_autofree char *after = NULL;
    g_autoptr(QCryptoPKICert) server = NULL;
    g_autoptr(QCryptoPKICert) client = NULL;

    assert_true(qcrypto_pki_dir_init(&opts, &err));
    assert_int_equal(file_mode(ca_key), 0600);
    assert_int_equal(file_mode(srv_key), 0600);
    assert_int_equal(file_mode(cli_key), 0600);
    assert_int_equal(file_mode(psk), 0600);
    assert_int_equal(file_mode(srv_crt), 0644);
    assert_dir_server_ok(dir, "db1.example.org");

    /* The server key is encrypted with the password, the client's not. */
    server = qcrypto_pki_cert_load(srv_crt, srv_key, "pw", &err);
    assert_non_null(server);
    assert_null(qcrypto_pki_cert_load(srv_crt, srv_key, NULL, &err));
    g_clear_error(&err);
    {
        g_autofree char *c = g_build_filename(dir, "client-cert.pem", NULL);
        gnutls_x509_crt_t crt;
        char buf[128];
        size_t size = sizeof(buf);

        client = qcrypto_pki_cert_load(c, cli_key, NULL, &err);
        assert_non_null(client);
        crt = parse_cert(client);
        assert_dn(crt, GNUTLS_OID_X520_COMMON_NAME, "client1");
        assert_int_equal(
            gnutls_x509_crt_get_key_purpose_oid(crt, 0, buf, &size, NULL), 0);
        assert_string_equal(buf, GNUTLS_KP_TLS_WWW_CLIENT);
        assert_true(llabs((long long)(gnutls_x509_crt_get_expiration_time(crt) -
                                      time(NULL) - 30 * 86400)) <= TOLERANCE);
        gnutls_x509_crt_deinit(crt);
    }

    /* No clobbering without force, and nothing touched. */
    assert_true(g_file_get_contents(srv_crt, &before, NULL, NULL));
    assert_false(qcrypto_pki_dir_init(&opts, &err));
    assert_error(err, QCRYPTO_ERROR_EXISTS, dir);
    g_clear_error(&err);
    assert_true(g_file_get_contents(srv_crt, &after, NULL, NULL));
    assert_string_equal(before, after);
    g_clear_pointer(&after, g_free);

    /* A new server certificate from the kept CA. */
    opts.server_key_password = NULL;
    assert_false(qcrypto_pki_dir_add_server(&opts, &err));
    assert_error(err, QCRYPTO_ERROR_EXISTS, srv_crt);
    g_clear_error(&err);
    opts.force = true;
    assert_true(qcrypto_pki_dir_add_server(&opts, &err));
    assert_true(g_file_get_contents(srv_crt, &after, NULL, NULL));
    assert_string_not_equal(before, after);
    assert_dir_server_ok(dir, "db1.example.org");
    opts.force = false;

    /* More clients: into the directory, and as a directory of their own. */
    opts.client_name = "alice";
    assert_true(qcrypto_pki_dir_add_client(&opts, &err));
    {
        g_autofree char *c = g_build_filename(dir, "alice-cert.pem", NULL);
        g_autofree char *k = g_build_filename(dir, "alice-key.pem", NULL);

        assert_int_equal(file_mode(k), 0600);
        g_clear_pointer(&client, qcrypto_pki_cert_free);
        client = qcrypto_pki_cert_load(c, k, NULL, &err);
        assert_non_null(client);
    }
    assert_false(qcrypto_pki_dir_add_client(&opts, &err));
    assert_error(err, QCRYPTO_ERROR_EXISTS, "alice-cert.pem");
    g_clear_error(&err);
    opts.client_dir = clidir;
    assert_true(qcrypto_pki_dir_add_client(&opts, &err));
    {
        g_autofree char *c = g_build_filename(clidir, "client-cert.pem", NULL);
        g_autofree char *k = g_build_filename(clidir, "client-key.pem", NULL);
        g_autofree char *ca = g_build_filename(clidir, "ca-cert.pem", NULL);

        assert_int_equal(file_mode(k), 0600);
        assert_int_equal(file_mode(ca), 0644);
        g_clear_pointer(&client, qcrypto_pki_cert_free);
        client = qcrypto_pki_cert_load(c, k, NULL, &err);
        assert_non_null(client);
    }
    opts.client_dir = NULL;
    opts.client_name = "../evil";
    assert_false(qcrypto_pki_dir_add_client(&opts, &err));
    assert_error(err, QCRYPTO_ERROR_INVALID_ARGUMENT, "../evil");
    g_clear_error(&err);

    /* PSK users: duplicates refused, --force replaces the key. */
    {
        static const char *const more[] = { "carol", "alice", NULL };
        static const char *const twice[] = { "erin", "erin", NULL };
        g_autofree char *p1 = NULL;
        g_autofree char *p2 = NULL;

        assert_true(g_file_get_contents(psk, &p1, NULL, NULL));
        opts.psk_users = more;
        assert_false(qcrypto_pki_dir_add_psk(&opts, &err));
        assert_error(err, QCRYPTO_ERROR_EXISTS, "'alice'");
        g_clear_error(&err);
        assert_true(g_file_get_contents(psk, &p2, NULL, NULL));
        assert_string_equal(p1, p2);
        g_clear_pointer(&p2, g_free);
        opts.force = true;
        assert_true(qcrypto_pki_dir_add_psk(&opts, &err));
        assert_true(g_file_get_contents(psk, &p2, NULL, NULL));
        assert_non_null(strstr(p2, "bob:"));
        assert_non_null(strstr(p2, "carol:"));
        assert_non_null(strstr(p2, "alice:"));
        {
            g_autofree char *line = g_strndup(strstr(p2, "alice:"), 70);

            assert_null(strstr(p1, line));
        }
        assert_int_equal(file_mode(psk), 0600);
        opts.psk_users = twice;
        assert_false(qcrypto_pki_dir_add_psk(&opts, &err));
        assert_error(err, QCRYPTO_ERROR_INVALID_ARGUMENT, "erin");
        g_clear_error(&err);
        opts.force = false;
    }

    /* The CA in a separate directory. */
    {
        g_autofree char *dir2 = tmp_path("creds2");
        g_autofree char *k = g_build_filename(dir2, "ca-key.pem", NULL);
        g_autofree char *ck = g_build_filename(cadir, "ca-key.pem", NULL);
        struct stat st;

        opts.dir = dir2;
        opts.ca_dir = cadir;
        opts.client_name = NULL;
        opts.psk_users = NULL;
        assert_true(qcrypto_pki_dir_init(&opts, &err));
        assert_int_equal(lstat(k, &st), -1);
        assert_int_equal(file_mode(ck), 0600);
        assert_int_equal(file_mode(cadir), 0700);
        assert_dir_server_ok(dir2, "db1.example.org");
        opts.client_name = "bob";
        assert_true(qcrypto_pki_dir_add_client(&opts, &err));

        /* Without the CA key nothing more can be issued. */
        opts.ca_dir = NULL;
        opts.client_name = "carol";
        assert_false(qcrypto_pki_dir_add_client(&opts, &err));
        assert_error(err, QCRYPTO_ERROR_FILE, k);
        g_clear_error(&err);
    }

    /* A server needs a name. */
    opts.dir = dir;
    opts.hostnames = NULL;
    opts.ip_addrs = NULL;
    opts.force = true;
    assert_false(qcrypto_pki_dir_add_server(&opts, &err));
    assert_error(err, QCRYPTO_ERROR_INVALID_ARGUMENT, "host name");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_fields),
        cmocka_unit_test(test_request_criticality),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_chain),
        cmocka_unit_test(test_encrypted_key),
        cmocka_unit_test(test_rsa),
        cmocka_unit_test(test_files),
        cmocka_unit_test(test_load),
        cmocka_unit_test(test_invalid_requests),
        cmocka_unit_test(test_psk),
        cmocka_unit_test(test_crl),
        cmocka_unit_test(test_password_file),
        cmocka_unit_test(test_dir),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
