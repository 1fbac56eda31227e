/*
 * QCryptoTLSCreds: the TLS credentials objects every qio server and client
 * takes by id (--tls-creds tls0).
 *
 *   --object tls-creds-x509,id=tls0,endpoint=server,dir=/etc/pki/qio
 *   --object tls-creds-psk,id=tls0,endpoint=client,dir=/etc/qio/psk,
 *            username=alice
 *   --object tls-creds-anon,id=tls0,endpoint=server
 *
 * The abstract base holds what every kind shares: which end of a
 * connection the credentials are for, the directory files are read from,
 * whether the peer must present a valid certificate, and the gnutls
 * priority string.  Subclasses load their files in GInitable init, through
 * the class's load method, which reload calls again later so certificates
 * rotate without a restart.
 *
 * Loaded gnutls credentials are kept in a reference-counted handle: a TLS
 * session takes a reference when it starts, so a reload swaps the handle
 * for new sessions while running ones keep the one they started with.
 */
#pragma once

#include <glib-object.h>
#include <gio/gio.h>
#include <gnutls/gnutls.h>
#include <stdbool.h>

G_BEGIN_DECLS

/*
 * The crypto layer's error domain; codes are stable for callers and tests.
 */
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
} QCryptoErrorCode;

typedef enum {
    QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT,
    QCRYPTO_TLS_CREDS_ENDPOINT_SERVER,
} QCryptoTLSCredsEndpoint;

GType qcrypto_tls_creds_endpoint_get_type(void);
#define QCRYPTO_TYPE_TLS_CREDS_ENDPOINT (qcrypto_tls_creds_endpoint_get_type())

/* Reference-counted, immutable snapshot of loaded gnutls credentials. */
typedef struct QCryptoTLSCredsHandle QCryptoTLSCredsHandle;

#define QCRYPTO_TYPE_TLS_CREDS (qcrypto_tls_creds_get_type())
G_DECLARE_DERIVABLE_TYPE(QCryptoTLSCreds, qcrypto_tls_creds, QCRYPTO,
                         TLS_CREDS, GObject)

struct _QCryptoTLSCredsClass {
    GObjectClass parent_class;

    /*
     * Read the files and build a new handle.  Called from GInitable init
     * and from qcrypto_tls_creds_reload(); must not change @creds.
     */
    QCryptoTLSCredsHandle *(*load)(QCryptoTLSCreds *creds, GError **errp);
};

/*
 * Properties of the base (all kinds):
 *   endpoint     "client" | "server" (default "client")
 *   dir          directory holding the files (x509, psk)
 *   verify-peer  bool, default on: a server requires and checks a client
 *                certificate, a client checks the server's
 *   priority     gnutls priority string; default: see
 *                qcrypto_tls_priority_default()
 */
QCryptoTLSCredsEndpoint qcrypto_tls_creds_get_endpoint(QCryptoTLSCreds *creds);
const char *qcrypto_tls_creds_get_dir(QCryptoTLSCreds *creds);
bool qcrypto_tls_creds_get_verify_peer(QCryptoTLSCreds *creds);

/*
 * Fail with QCRYPTO_ERROR_ENDPOINT unless the credentials are for
 * @endpoint: "TLS credentials 'tls0' are for a client, but this is a
 * server".
 */
bool qcrypto_tls_creds_check_endpoint(QCryptoTLSCreds *creds,
                                      QCryptoTLSCredsEndpoint endpoint,
                                      GError **errp);

/*
 * The priority string sessions use: the priority property when set, else
 * the default, with TLS 1.0 and 1.1 always removed.  Caller frees.
 */
char *qcrypto_tls_creds_get_priority(QCryptoTLSCreds *creds);

/*
 * The default priority: the host's crypto-policy entry for qio, then the
 * system one ("@QIO,SYSTEM"), falling back to gnutls's built-in default
 * only when the host defines neither.  A meson option can replace it at
 * build time.
 */
const char *qcrypto_tls_priority_default(void);

/*
 * Re-read the credentials from disk.  On failure the old credentials stay
 * in force and the error says why.  Sessions already running keep the
 * handle they started with.
 */
bool qcrypto_tls_creds_reload(QCryptoTLSCreds *creds, GError **errp);

/* The current handle, with a new reference. */
QCryptoTLSCredsHandle *qcrypto_tls_creds_get_handle(QCryptoTLSCreds *creds);

/* For subclasses: install a freshly loaded handle (takes the reference). */
void qcrypto_tls_creds_set_handle(QCryptoTLSCreds *creds,
                                  QCryptoTLSCredsHandle *handle);

/*
 * Handles.  A subclass's load builds one with the gnutls credentials it
 * allocated (freed with @free when the last reference goes) and the
 * credential type.
 */
QCryptoTLSCredsHandle *qcrypto_tls_creds_handle_new(
    gnutls_credentials_type_t type, void *gnutls_creds,
    void (*free_creds)(void *gnutls_creds));
QCryptoTLSCredsHandle *qcrypto_tls_creds_handle_ref(QCryptoTLSCredsHandle *h);
void qcrypto_tls_creds_handle_unref(QCryptoTLSCredsHandle *h);
gnutls_credentials_type_t qcrypto_tls_creds_handle_get_type(
    QCryptoTLSCredsHandle *h);
void *qcrypto_tls_creds_handle_get_gnutls(QCryptoTLSCredsHandle *h);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QCryptoTLSCredsHandle,
                              qcrypto_tls_creds_handle_unref)

G_END_DECLS
