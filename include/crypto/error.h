/*
 * The crypto layer's error domain, QCRYPTO_ERROR, shared by secrets, TLS
 * credentials, TLS sessions and the PKI helpers.  It has a header of its
 * own so that code which only handles secrets need not include the TLS
 * headers (and gnutls); include/crypto/tls-creds.h includes it.  The
 * quark itself is defined in crypto/tls-creds.c.  The codes are stable for
 * callers and tests, which match on them rather than on message text.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define QCRYPTO_ERROR (qcrypto_error_quark())
GQuark qcrypto_error_quark(void);

typedef enum {
    QCRYPTO_ERROR_FAILED,           /* anything not listed below */
    QCRYPTO_ERROR_INVALID_ARGUMENT, /* bad property value or combination */
    QCRYPTO_ERROR_FILE,             /* a file is missing or unreadable */
    QCRYPTO_ERROR_DECODE,           /* bad base64, PEM, DER, key format */
    QCRYPTO_ERROR_DECRYPT,          /* wrong key, bad padding, bad password */
    QCRYPTO_ERROR_CERT_EXPIRED,     /* a certificate is past its end */
    QCRYPTO_ERROR_CERT_NOT_ACTIVE,  /* a certificate is not yet valid */
    QCRYPTO_ERROR_CERT_USAGE,       /* key usage / purpose / CA flags */
    QCRYPTO_ERROR_CERT_UNTRUSTED,   /* not issued by a trusted CA */
    QCRYPTO_ERROR_CERT_REVOKED,     /* listed in the CRL */
    QCRYPTO_ERROR_CERT_HOSTNAME,    /* does not name the expected host */
    QCRYPTO_ERROR_KEY_MISMATCH,     /* key does not match its certificate */
    QCRYPTO_ERROR_NO_CERT,          /* the peer presented no certificate */
    QCRYPTO_ERROR_AUTHZ_DENIED,     /* the authz object said no */
    QCRYPTO_ERROR_HANDSHAKE,        /* TLS handshake failed */
    QCRYPTO_ERROR_PSK,              /* unknown PSK user or wrong key */
    QCRYPTO_ERROR_TIMED_OUT,        /* handshake took too long */
    QCRYPTO_ERROR_TRUNCATED,        /* peer closed without a TLS bye */
    QCRYPTO_ERROR_ENDPOINT,         /* client creds used for a server... */
    QCRYPTO_ERROR_EXISTS,           /* a file or PSK user already exists */
    QCRYPTO_ERROR_TRANSPORT,        /* the transport under a session failed */
} QCryptoErrorCode;

G_END_DECLS
