/*
 * PKI minting: keys, certificates, CRLs and PSK files made in process with
 * the gnutls API.
 *
 * One request struct describes a certificate (names, SANs, usages and their
 * criticality, validity relative to now); the same code serves qio-pki,
 * which writes a complete credentials directory for administrators, and
 * the tests, which build a matrix of good and deliberately bad
 * certificates from a table instead of a folder of PEM files.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

G_BEGIN_DECLS

typedef enum {
    QCRYPTO_PKI_KEY_ECDSA_P256, /* the default: fast, TLS 1.3 friendly */
    QCRYPTO_PKI_KEY_RSA,        /* key_bits, default 3072 */
} QCryptoPKIKeyType;

/* Tri-state for an optional extension. */
typedef enum {
    QCRYPTO_PKI_EXT_ABSENT,
    QCRYPTO_PKI_EXT_NONCRITICAL,
    QCRYPTO_PKI_EXT_CRITICAL,
} QCryptoPKIExt;

typedef struct {
    const char *common_name;      /* subject CN; required */
    const char *organization;     /* subject O; optional */
    const char *const *dns_names; /* SAN dNSName, NULL-terminated; optional */
    const char *const *ip_addrs;  /* SAN iPAddress (v4 or v6 text) */

    /* basicConstraints: CA:TRUE/FALSE, path length (-1: none). */
    QCryptoPKIExt basic_constraints;
    bool is_ca;
    int path_len;

    /* keyUsage: GNUTLS_KEY_* bits. */
    QCryptoPKIExt key_usage;
    unsigned int key_usage_bits;

    /* extendedKeyUsage: OIDs such as GNUTLS_KP_TLS_WWW_SERVER. */
    QCryptoPKIExt key_purpose;
    const char *const *key_purpose_oids;

    /*
     * Validity in seconds relative to now: activation = now + start_offset,
     * expiry = now + expire_offset.  Both zero means "one hour ago" and
     * "ten years from now".
     */
    int64_t start_offset;
    int64_t expire_offset;

    QCryptoPKIKeyType key_type;
    unsigned int key_bits;        /* RSA only; 0: default */
    uint64_t serial;              /* 0: random */
} QCryptoPKICertReq;

/* A certificate with its private key. */
typedef struct QCryptoPKICert QCryptoPKICert;

/*
 * Make a key and a certificate from @req, signed by @issuer (NULL: self-
 * signed).  Fails on an invalid request (no CN, bad IP text) with a message
 * naming the field.
 */
QCryptoPKICert *qcrypto_pki_cert_new(const QCryptoPKICertReq *req,
                                     QCryptoPKICert *issuer, GError **errp);
void qcrypto_pki_cert_free(QCryptoPKICert *cert);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QCryptoPKICert, qcrypto_pki_cert_free)

/* PEM text; caller frees. */
char *qcrypto_pki_cert_get_pem(QCryptoPKICert *cert, GError **errp);
/*
 * The private key as PEM: plain PKCS#8 when @password is NULL, else PKCS#8
 * encrypted with it (AES-256, PBKDF2) — what passwordid= decrypts.
 */
char *qcrypto_pki_key_get_pem(QCryptoPKICert *cert, const char *password,
                              GError **errp);

/* Write PEM files; keys are created mode 0600, certificates 0644. */
bool qcrypto_pki_cert_write(QCryptoPKICert *cert, const char *path,
                            GError **errp);
bool qcrypto_pki_key_write(QCryptoPKICert *cert, const char *path,
                           const char *password, GError **errp);
/* Append the certificate's PEM to @path (building a CA bundle). */
bool qcrypto_pki_cert_append(QCryptoPKICert *cert, const char *path,
                             GError **errp);

/* A CRL issued by @issuer revoking @revoked[0..nrevoked-1], as PEM file. */
bool qcrypto_pki_crl_write(QCryptoPKICert *issuer,
                           QCryptoPKICert *const *revoked, size_t nrevoked,
                           const char *path, GError **errp);

/*
 * Append "username:hexkey" to a PSK keys file (created 0600).  @key of
 * @keylen bytes; NULL generates 32 random bytes.  Usernames may not contain
 * ':' or newlines.
 */
bool qcrypto_pki_psk_append(const char *path, const char *username,
                            const guint8 *key, size_t keylen, GError **errp);

G_END_DECLS
