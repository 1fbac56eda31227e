/*
 * QCryptoTLSCredsAnon: anonymous credentials.  The connection is encrypted
 * but neither end proves who it is, so an active attacker in the middle
 * can read and change everything: use them only where an unauthenticated
 * peer is acceptable, and prefer tls-creds-x509 or tls-creds-psk.
 *
 *   --object tls-creds-anon,id=tls0,endpoint=server
 *   --object tls-creds-anon,id=tls0,endpoint=server,dir=/etc/qio/anon
 *
 * dir= is optional; a server reads dh-params.pem (PKCS#3 PEM) from it when
 * present, and otherwise negotiates an RFC 7919 group with the client.
 * verify-peer has no meaning here.  gnutls has no anonymous key exchange
 * in TLS 1.3, so these sessions use TLS 1.2; the default priority adds
 * +ANON-ECDH:+ANON-DH.
 */
#pragma once

#include "crypto/tls-creds.h"

G_BEGIN_DECLS

#define QCRYPTO_TYPE_TLS_CREDS_ANON (qcrypto_tls_creds_anon_get_type())
G_DECLARE_FINAL_TYPE(QCryptoTLSCredsAnon, qcrypto_tls_creds_anon, QCRYPTO,
                     TLS_CREDS_ANON, QCryptoTLSCreds)

G_END_DECLS
