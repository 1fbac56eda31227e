/*
 * Test fixtures for TLS credentials, built on include/crypto/pki.h: a
 * table of certificate requests becomes a credentials directory in QEMU's
 * layout (ca-cert.pem, ca-crl.pem, server-cert.pem, server-key.pem,
 * client-cert.pem, client-key.pem) under a fresh temporary directory; PSK
 * keys files are written from a username and key or verbatim; and a raw
 * gnutls handshake between two credentials objects reports the protocol
 * version and cipher their priority strings negotiate.
 *
 * A typical test:
 *
 *   static const QCryptoTestCert certs[] = {
 *       { "ca", NULL, QCRYPTO_TEST_REQ_CA("Test CA"), QCRYPTO_TEST_FILE_CA },
 *       { "srv", "ca", QCRYPTO_TEST_REQ_SERVER("localhost"),
 *         QCRYPTO_TEST_FILE_SERVER },
 *   };
 *   g_autoptr(QCryptoTestCredsDir) d =
 *       qcrypto_test_creds_dir_new(certs, G_N_ELEMENTS(certs), &err);
 *   qom_object_add_props("tls-creds-x509", "tls0", &err,
 *                        "endpoint", "server",
 *                        "dir", qcrypto_test_creds_dir_path(d), NULL);
 *
 * Keys are ECDSA P-256 unless a request says otherwise, so minting a table
 * takes milliseconds.  Everything written is removed by the free
 * functions.  Failures are reported through GError, never by aborting, so
 * that the caller's assertion names the step that failed.
 */
#pragma once

#include <glib.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdbool.h>

#include "crypto/pki.h"
#include "crypto/tls-creds.h"

G_BEGIN_DECLS

/* SAN and extendedKeyUsage lists for the request macros below. */
extern const char *const qcrypto_test_eku_server[];    /* TLS WWW server */
extern const char *const qcrypto_test_eku_client[];    /* TLS WWW client */
extern const char *const qcrypto_test_eku_both[];      /* server and client */
extern const char *const qcrypto_test_dns_localhost[]; /* "localhost" */
extern const char *const qcrypto_test_ip_loopback[];   /* 127.0.0.1, ::1 */

/*
 * Requests for the usual certificates, valid from an hour ago for ten
 * years, as initializers for QCryptoPKICertReq (tables can use them):
 *   CA:      basicConstraints CA:TRUE (critical), keyUsage keyCertSign +
 *            cRLSign (critical)
 *   SERVER:  CN @cn, SAN DNS localhost + IP 127.0.0.1 and ::1, keyUsage
 *            digitalSignature + keyEncipherment (critical), EKU server
 *   CLIENT:  CN @cn, O "qio test", keyUsage digitalSignature (critical),
 *            EKU client
 * For variants, fill a QCryptoPKICertReq field by field instead.
 */
#define QCRYPTO_TEST_REQ_CA(cn)                                                \
    {                                                                          \
        .common_name = (cn), .basic_constraints = QCRYPTO_PKI_EXT_CRITICAL,    \
        .is_ca = true, .path_len = -1, .key_usage = QCRYPTO_PKI_EXT_CRITICAL,  \
        .key_usage_bits = GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN,      \
    }
#define QCRYPTO_TEST_REQ_SERVER(cn)                                            \
    {                                                                          \
        .common_name = (cn), .dns_names = qcrypto_test_dns_localhost,          \
        .ip_addrs = qcrypto_test_ip_loopback,                                  \
        .basic_constraints = QCRYPTO_PKI_EXT_CRITICAL, .is_ca = false,         \
        .path_len = -1, .key_usage = QCRYPTO_PKI_EXT_CRITICAL,                 \
        .key_usage_bits =                                                      \
            GNUTLS_KEY_DIGITAL_SIGNATURE | GNUTLS_KEY_KEY_ENCIPHERMENT,        \
        .key_purpose = QCRYPTO_PKI_EXT_NONCRITICAL,                            \
        .key_purpose_oids = qcrypto_test_eku_server,                           \
    }
#define QCRYPTO_TEST_REQ_CLIENT(cn)                                            \
    {                                                                          \
        .common_name = (cn), .organization = "qio test",                       \
        .basic_constraints = QCRYPTO_PKI_EXT_CRITICAL, .is_ca = false,         \
        .path_len = -1, .key_usage = QCRYPTO_PKI_EXT_CRITICAL,                 \
        .key_usage_bits = GNUTLS_KEY_DIGITAL_SIGNATURE,                        \
        .key_purpose = QCRYPTO_PKI_EXT_NONCRITICAL,                            \
        .key_purpose_oids = qcrypto_test_eku_client,                           \
    }

/* Where a minted certificate goes; bits of QCryptoTestCert.files. */
typedef enum {
    QCRYPTO_TEST_FILE_NONE = 0,
    /* Appended to ca-cert.pem, in table order. */
    QCRYPTO_TEST_FILE_CA = 1 << 0,
    /* The leaf of server-cert.pem, its key in server-key.pem. */
    QCRYPTO_TEST_FILE_SERVER = 1 << 1,
    /* Appended to server-cert.pem after the leaf (an intermediate CA). */
    QCRYPTO_TEST_FILE_SERVER_CHAIN = 1 << 2,
    /* The leaf of client-cert.pem, its key in client-key.pem. */
    QCRYPTO_TEST_FILE_CLIENT = 1 << 3,
    /* Appended to client-cert.pem after the leaf. */
    QCRYPTO_TEST_FILE_CLIENT_CHAIN = 1 << 4,
    /* This CA issues ca-crl.pem (at most one entry may say so)... */
    QCRYPTO_TEST_FILE_CRL = 1 << 5,
    /* ...which lists every entry marked REVOKED that it issued. */
    QCRYPTO_TEST_FILE_REVOKED = 1 << 6,
} QCryptoTestFile;

typedef struct {
    const char *name;   /* label, unique in the table; required */
    const char *issuer; /* label of an earlier entry; NULL: self-signed */
    QCryptoPKICertReq req;
    unsigned int files; /* QCryptoTestFile bits */
    /*
     * Write the key of this other entry instead of the entry's own (to
     * make a key that does not match its certificate); NULL: own key.
     */
    const char *key_of;
    /* Encrypt the written key with this password (PKCS#8); NULL: plain. */
    const char *key_password;
} QCryptoTestCert;

typedef struct QCryptoTestCredsDir QCryptoTestCredsDir;

/*
 * Mint every certificate of @certs in order (an issuer must come before
 * what it issues) and write them into a new temporary directory.
 */
QCryptoTestCredsDir *qcrypto_test_creds_dir_new(const QCryptoTestCert *certs,
                                                size_t ncerts, GError **errp);

/*
 * The usual trio in one directory, usable by both endpoints: "ca" (CN
 * "qio test CA"), "server" (CN localhost, SERVER request) and "client"
 * (CN "qio-test-client", CLIENT request).
 */
QCryptoTestCredsDir *qcrypto_test_creds_dir_new_standard(GError **errp);

/*
 * Mint @certs afresh and replace the directory's certificate and key
 * files with them (files the new table does not produce are removed), as
 * an administrator rotating certificates would.  Earlier certificates
 * stay available by name unless the new table reuses the name.
 */
bool qcrypto_test_creds_dir_rewrite(QCryptoTestCredsDir *d,
                                    const QCryptoTestCert *certs, size_t ncerts,
                                    GError **errp);

/* The directory, for dir= (borrowed). */
const char *qcrypto_test_creds_dir_path(QCryptoTestCredsDir *d);

/* The full path of @filename in the directory; g_free() it. */
char *qcrypto_test_creds_dir_file(QCryptoTestCredsDir *d, const char *filename);

/* The minted certificate labelled @name (borrowed), or NULL. */
QCryptoPKICert *qcrypto_test_creds_dir_cert(QCryptoTestCredsDir *d,
                                            const char *name);

/* Remove the directory with everything in it, and free @d. */
void qcrypto_test_creds_dir_free(QCryptoTestCredsDir *d);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QCryptoTestCredsDir, qcrypto_test_creds_dir_free)

/* ---- Temporary directories and PSK files ------------------------------- */

/* A new empty directory under $TMPDIR; g_free() the path. */
char *qcrypto_test_tmpdir_new(GError **errp);

/* Remove @path and everything under it (NULL is ignored). */
void qcrypto_test_tmpdir_remove(const char *path);

/*
 * Remove every directory made by qcrypto_test_tmpdir_new() (and so by
 * qcrypto_test_creds_dir_new()) that is still there.  Call it from a
 * cmocka teardown: a failed assertion skips the test's own cleanup.
 * Directories of a QCryptoTestCredsDir still in use are removed too.
 */
void qcrypto_test_tmpdir_remove_all(void);

/*
 * Append "USERNAME:HEXKEY" to @dir/keys.psk; @key of @keylen bytes, or
 * NULL for qcrypto_test_psk_key (so that two directories made this way
 * share the key).
 */
bool qcrypto_test_psk_add(const char *dir, const char *username,
                          const guint8 *key, size_t keylen, GError **errp);

/* Write @contents verbatim as @dir/keys.psk (for malformed files). */
bool qcrypto_test_psk_write(const char *dir, const char *contents,
                            GError **errp);

/* The fixed 32-byte key qcrypto_test_psk_add() uses for NULL. */
extern const guint8 qcrypto_test_psk_key[32];

/* ---- Credentials objects --------------------------------------------- */

/*
 * Create credentials of @type ("tls-creds-x509", ...) without putting
 * them in the object table: properties as NULL-terminated name/value
 * string pairs, converted as --object would.  Returns a new reference, or
 * NULL with the object's error.  For tests that need no id lookups; use
 * qom_object_add_props() when something looks the object up by id.
 */
QCryptoTLSCreds *qcrypto_test_creds_new(const char *type, GError **errp,
                                        const char *first_name,
                                        ...) G_GNUC_NULL_TERMINATED;

/* ---- Raw handshake --------------------------------------------------- */

typedef struct {
    gnutls_protocol_t version;
    gnutls_cipher_algorithm_t cipher;
    gnutls_kx_algorithm_t kx;
} QCryptoTestHandshake;

/*
 * Handshake plain gnutls sessions over a socketpair, the server on a
 * thread, with the current handles of @client_creds and @server_creds and
 * the given priority strings (NULL: each object's
 * qcrypto_tls_creds_get_priority()).  No certificate or host name check
 * is made: this measures what priorities negotiate, not QCryptoTLSSession.
 * Bounded by a 10 s timeout.  Returns false with the gnutls error of the
 * side that failed.
 */
bool qcrypto_test_raw_handshake(QCryptoTLSCreds *client_creds,
                                const char *client_priority,
                                QCryptoTLSCreds *server_creds,
                                const char *server_priority,
                                QCryptoTestHandshake *out, GError **errp);

G_END_DECLS
