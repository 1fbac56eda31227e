/*
 * Anonymous credentials (tls-creds-anon, see
 * include/crypto/tls-creds-anon.h): encryption without any identity
 * check.  The only file is an optional dh-params.pem for servers.
 */
#include "crypto/tls-creds-anon.h"

#include "crypto/tls-creds-internal.h"

struct _QCryptoTLSCredsAnon {
    QCryptoTLSCreds parent;
};

G_DEFINE_TYPE(QCryptoTLSCredsAnon, qcrypto_tls_creds_anon,
              QCRYPTO_TYPE_TLS_CREDS)

static void free_anon_server(void *cred)
{
    gnutls_anon_free_server_credentials(cred);
}

static void free_anon_client(void *cred)
{
    gnutls_anon_free_client_credentials(cred);
}

static void free_dh_params(gpointer dh)
{
    gnutls_dh_params_deinit(dh);
}

static QCryptoTLSCredsHandle *
qcrypto_tls_creds_anon_load(QCryptoTLSCreds *creds, GError **errp)
{
    g_autofree char *what = qcrypto_tls_creds_describe(creds);
    const char *dir = qcrypto_tls_creds_get_dir(creds);
    QCryptoTLSCredsHandle *h;
    int ret;

    if (qcrypto_tls_creds_get_endpoint(creds) ==
        QCRYPTO_TLS_CREDS_ENDPOINT_SERVER) {
        gnutls_anon_server_credentials_t cred;
        gnutls_dh_params_t dh = NULL;

        if (dir && *dir &&
            !qcrypto_tls_creds_load_dh_params(creds, &dh, errp)) {
            return NULL;
        }
        ret = gnutls_anon_allocate_server_credentials(&cred);
        if (ret < 0) {
            if (dh) {
                gnutls_dh_params_deinit(dh);
            }
            goto fail;
        }
        h = qcrypto_tls_creds_handle_new(GNUTLS_CRD_ANON, cred,
                                         free_anon_server);
        if (dh) {
            /* gnutls keeps only a pointer to DH parameters. */
            gnutls_anon_set_server_dh_params(cred, dh);
            qcrypto_tls_creds_handle_add_data(h, dh, free_dh_params);
        }
        return h;
    } else {
        gnutls_anon_client_credentials_t cred;

        ret = gnutls_anon_allocate_client_credentials(&cred);
        if (ret < 0) {
            goto fail;
        }
        return qcrypto_tls_creds_handle_new(GNUTLS_CRD_ANON, cred,
                                            free_anon_client);
    }

fail:
    g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_FAILED,
                "%s: cannot allocate anonymous credentials: %s", what,
                gnutls_strerror(ret));
    return NULL;
}

static void qcrypto_tls_creds_anon_init(QCryptoTLSCredsAnon *anon)
{
}

static void qcrypto_tls_creds_anon_class_init(QCryptoTLSCredsAnonClass *klass)
{
    QCryptoTLSCredsClass *cc = QCRYPTO_TLS_CREDS_CLASS(klass);

    cc->load = qcrypto_tls_creds_anon_load;
    /*
     * In TLS 1.2 gnutls pairs ANON-ECDH with CBC only and ANON-DH with
     * AES-GCM, so ANON-DH goes first where AES is in hardware.
     */
    qcrypto_tls_creds_class_set_kx(cc, "+ANON-ECDH:+ANON-DH",
                                   "+ANON-DH:+ANON-ECDH");
}
