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

#include "crypto/error.h"

G_BEGIN_DECLS

/* The QCRYPTO_ERROR domain and its codes live in crypto/error.h. */

typedef enum {
    QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT,
    QCRYPTO_TLS_CREDS_ENDPOINT_SERVER,
} QCryptoTLSCredsEndpoint;

GType qcrypto_tls_creds_endpoint_get_type(void);
#define QCRYPTO_TYPE_TLS_CREDS_ENDPOINT (qcrypto_tls_creds_endpoint_get_type())

/* Reference-counted, immutable snapshot of loaded gnutls credentials. */
typedef struct QCryptoTLSCredsHandle QCryptoTLSCredsHandle;

#define QCRYPTO_TYPE_TLS_CREDS (qcrypto_tls_creds_get_type())
G_DECLARE_DERIVABLE_TYPE(QCryptoTLSCreds, qcrypto_tls_creds, QCRYPTO, TLS_CREDS,
                         GObject)

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
 * the default, with TLS 1.0 and 1.1 always removed and the kind's key
 * exchanges added (PSK: +ECDHE-PSK:+DHE-PSK:+PSK, anon: +ANON-ECDH:
 * +ANON-DH).  When the default is used on a CPU with AES-GCM instructions,
 * the ciphers the policy enables are reordered AES-GCM first, DHE-PSK and
 * ANON-DH go before their ECDH forms, and servers add %SERVER_PRECEDENCE
 * (docs/tls.md explains why).  Resolved on each call, so a changed host
 * policy applies to the next session.  Caller frees.
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
QCryptoTLSCredsHandle *
qcrypto_tls_creds_handle_new(gnutls_credentials_type_t type, void *gnutls_creds,
                             void (*free_creds)(void *gnutls_creds));
QCryptoTLSCredsHandle *qcrypto_tls_creds_handle_ref(QCryptoTLSCredsHandle *h);
void qcrypto_tls_creds_handle_unref(QCryptoTLSCredsHandle *h);
gnutls_credentials_type_t
qcrypto_tls_creds_handle_get_type(QCryptoTLSCredsHandle *h);
void *qcrypto_tls_creds_handle_get_gnutls(QCryptoTLSCredsHandle *h);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QCryptoTLSCredsHandle,
                              qcrypto_tls_creds_handle_unref)

/*
 * Make the credential kinds creatable with --object: the abstract
 * "tls-creds" (described as "TLS credentials" in messages),
 * "tls-creds-x509", "tls-creds-psk" and "tls-creds-anon".  Idempotent.
 */
void qcrypto_tls_creds_register_types(void);

G_END_DECLS
