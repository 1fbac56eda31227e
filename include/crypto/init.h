/*
 * One call that readies the crypto layer: gnutls's global state and the
 * registration of every user-creatable crypto and authz type (secret,
 * secret_keyring, tls-creds-x509/psk/anon, authz-simple/list/listfile), so
 * that --object can create them.  Every program calls it before parsing
 * its command line.  Idempotent and thread-safe.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

G_BEGIN_DECLS

bool qcrypto_init(GError **errp);

G_END_DECLS
