/*
 * QCryptoTLSCredsX509: X.509 certificate credentials read from a
 * directory laid out the way QEMU names the files.
 *
 *   --object secret,id=sec0,file=/run/qio/key-password
 *   --object tls-creds-x509,id=tls0,endpoint=server,dir=/etc/pki/qio,
 *            passwordid=sec0
 *
 * In dir=:
 *   ca-cert.pem      the CA certificates that issued the peer's (and our
 *                    own) certificate; required, except for a client with
 *                    verify-peer=off
 *   ca-crl.pem       optional revocation list
 *   server-cert.pem  server certificate, optionally followed by the
 *   server-key.pem   intermediate CAs, and its private key (endpoint=server)
 *   client-cert.pem  client certificate and key (endpoint=client); optional:
 *   client-key.pem   a client without them cannot authenticate itself
 *   dh-params.pem    optional PKCS#3 DH parameters (endpoint=server)
 *
 * Properties beyond the base's:
 *   sanity-check  bool, default on: refuse, when loading, certificates that
 *                 would make every handshake fail (expired, not yet
 *                 active, wrong CA flags or key usage, not issued by a CA
 *                 in ca-cert.pem); errors name the file and certificate
 *   passwordid    id of a secret object holding the password of an
 *                 encrypted PKCS#8 private key
 *
 * Errors: QCRYPTO_ERROR_FILE (missing or unreadable file, by full path),
 * QCRYPTO_ERROR_DECODE, QCRYPTO_ERROR_DECRYPT (wrong password),
 * QCRYPTO_ERROR_KEY_MISMATCH, and with sanity-check on
 * QCRYPTO_ERROR_CERT_EXPIRED / _NOT_ACTIVE / _USAGE / _UNTRUSTED /
 * _REVOKED.
 */
#pragma once

#include "crypto/tls-creds.h"

G_BEGIN_DECLS

#define QCRYPTO_TYPE_TLS_CREDS_X509 (qcrypto_tls_creds_x509_get_type())
G_DECLARE_FINAL_TYPE(QCryptoTLSCredsX509, qcrypto_tls_creds_x509, QCRYPTO,
                     TLS_CREDS_X509, QCryptoTLSCreds)

/* File names inside dir=. */
#define QCRYPTO_TLS_CREDS_X509_CA_CERT     "ca-cert.pem"
#define QCRYPTO_TLS_CREDS_X509_CA_CRL      "ca-crl.pem"
#define QCRYPTO_TLS_CREDS_X509_SERVER_CERT "server-cert.pem"
#define QCRYPTO_TLS_CREDS_X509_SERVER_KEY  "server-key.pem"
#define QCRYPTO_TLS_CREDS_X509_CLIENT_CERT "client-cert.pem"
#define QCRYPTO_TLS_CREDS_X509_CLIENT_KEY  "client-key.pem"
#define QCRYPTO_TLS_CREDS_DH_PARAMS        "dh-params.pem"

/* Whether sanity-check is on (the default). */
bool qcrypto_tls_creds_x509_get_sanity_check(QCryptoTLSCredsX509 *creds);

/* The passwordid property, or NULL. */
const char *qcrypto_tls_creds_x509_get_passwordid(QCryptoTLSCredsX509 *creds);

/*
 * Whether the loaded credentials include our own certificate: always for
 * a server; for a client, whether client-cert.pem was present, i.e. it can
 * answer a server that requires client certificates.
 */
bool qcrypto_tls_creds_x509_has_cert(QCryptoTLSCredsX509 *creds);

G_END_DECLS
