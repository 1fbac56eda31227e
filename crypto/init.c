/*
 * Readies the crypto layer once per process: gnutls's global state and the
 * registration of every user-creatable crypto and authz type, so that
 * --object and object-add can create them by name.
 */
#include "crypto/init.h"

#include <gnutls/gnutls.h>

#include "authz/base.h"
#include "crypto/secret.h"
#include "crypto/tls-creds.h"

static gsize init_done;
static int init_status;

bool qcrypto_init(GError **errp)
{
    if (g_once_init_enter(&init_done)) {
        /* gnutls initialises itself too; this call makes it explicit and
         * reports a broken library (e.g. a failed self-test) up front. */
        init_status = gnutls_global_init();
        if (init_status == GNUTLS_E_SUCCESS) {
            qauthz_register_types();
            qcrypto_secret_register_types();
            qcrypto_tls_creds_register_types();
        }
        g_once_init_leave(&init_done, 1);
    }
    if (init_status != GNUTLS_E_SUCCESS) {
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_FAILED,
                    "cannot initialise gnutls: %s",
                    gnutls_strerror(init_status));
        return false;
    }
    return true;
}
