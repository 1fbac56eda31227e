/*
 * What the TLS credentials classes share and do not export: how they name
 * themselves and their files in messages, how they read files from their
 * directory, the per-class key-exchange additions to the priority string,
 * and data a handle keeps alive for the gnutls credentials it holds.  The
 * priority composition is declared here too so that tests can drive it
 * with a chosen CPU answer instead of the host's.
 */
#pragma once

#include "crypto/tls-creds.h"

G_BEGIN_DECLS

/* Appended to every priority string: TLS 1.0 and 1.1 are never used. */
#define QCRYPTO_TLS_PRIORITY_NO_OLD_VERSIONS "-VERS-TLS1.0:-VERS-TLS1.1"

/* "TLS credentials 'tls0'", or "TLS credentials" without an id. */
char *qcrypto_tls_creds_describe(QCryptoTLSCreds *creds);

/*
 * The full path of @filename in the credentials' directory (made absolute
 * against the working directory when dir= is relative).
 */
char *qcrypto_tls_creds_path(QCryptoTLSCreds *creds, const char *filename);

/* Fail with QCRYPTO_ERROR_INVALID_ARGUMENT when dir= is not set. */
bool qcrypto_tls_creds_require_dir(QCryptoTLSCreds *creds, GError **errp);

/*
 * Read @path whole.  A missing file is an error (QCRYPTO_ERROR_FILE,
 * "cannot read PATH: No such file or directory") unless @optional, when
 * true is returned with *@data = NULL.  Files over 64 MiB are refused.
 * The buffer is NUL-terminated (not counted in *@len); callers holding
 * keys wipe it with qcrypto_tls_creds_free_wiped().
 */
bool qcrypto_tls_creds_read_file(QCryptoTLSCreds *creds, const char *path,
                                 bool optional, char **data, size_t *len,
                                 GError **errp);

/* Wipe @len bytes of @data and free it; NULL is allowed. */
void qcrypto_tls_creds_free_wiped(void *data, size_t len);

/*
 * Key exchanges a kind adds to every priority string, e.g.
 * "+ECDHE-PSK:+DHE-PSK:+PSK", and the order used instead when AES-GCM is
 * preferred (see qcrypto_tls_priority_compose()); set once from class_init.
 */
void qcrypto_tls_creds_class_set_kx(QCryptoTLSCredsClass *klass, const char *kx,
                                    const char *kx_aes);

/*
 * Build the priority string sessions use:
 *   BASE:-VERS-TLS1.0:-VERS-TLS1.1[:KX]
 * and, when @tune (the default priority is in use) and @prefer_aes_gcm
 * (the CPU has AES and carry-less multiply instructions), the cipher list
 * BASE resolves to is re-emitted with the AES-GCM ciphers first, KX_AES
 * replaces KX, and a server adds %SERVER_PRECEDENCE.  A tuned string that
 * gnutls refuses falls back to the untuned one.  Never fails.
 */
char *qcrypto_tls_priority_compose(const char *base, const char *kx,
                                   const char *kx_aes, bool tune,
                                   bool prefer_aes_gcm,
                                   QCryptoTLSCredsEndpoint endpoint);

/* Whether this CPU runs AES-GCM in hardware (AES-NI + PCLMULQDQ etc.). */
bool qcrypto_tls_cpu_has_aes_gcm(void);

/*
 * Keep @data alive as long as @h: @destroy runs after the gnutls
 * credentials are freed (gnutls keeps pointers to DH parameters, for
 * example, without copying them).
 */
void qcrypto_tls_creds_handle_add_data(QCryptoTLSCredsHandle *h, gpointer data,
                                       GDestroyNotify destroy);

/*
 * Load a PEM PKCS#3 dh-params.pem from the credentials' directory if it
 * exists.  Returns false on a read or decode error; *@params is NULL when
 * the file is absent.
 */
bool qcrypto_tls_creds_load_dh_params(QCryptoTLSCreds *creds,
                                      gnutls_dh_params_t *params,
                                      GError **errp);

G_END_DECLS
