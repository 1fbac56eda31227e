/*
 * QCryptoTLSCredsPSK: pre-shared key credentials.  Both ends hold the
 * same secret key under a username; no certificates are involved.
 *
 *   --object tls-creds-psk,id=tls0,endpoint=server,dir=/etc/qio/psk
 *   --object tls-creds-psk,id=tls0,endpoint=client,dir=/etc/qio/psk,
 *            username=alice
 *
 * dir= holds keys.psk, one "username:hexkey" line per key (the format of
 * psktool and of QEMU), e.g. "alice:8b6c1f...".  Keys are an even number
 * of hex digits, at least one byte.  Blank lines are ignored; any other
 * malformed line, or a username given twice, is an error naming the file
 * and line (never the key).  A server accepts every user in the file; a
 * client uses the line of its username (default "qemu").
 *
 * The file is read when the object is created and again on reload: a
 * server answers handshakes from that snapshot, so a rotated keys.psk
 * takes effect at the next qcrypto_tls_creds_reload(), and sessions
 * already running are not affected.
 *
 * Properties beyond the base's:
 *   username  the client's identity (default "qemu"); servers ignore it
 * verify-peer has no meaning for PSK: knowing the key is the check.
 *
 * The default priority adds the PSK key exchanges (+ECDHE-PSK:+DHE-PSK:
 * +PSK); see docs/tls.md for the order used on CPUs with AES.
 */
#pragma once

#include "crypto/tls-creds.h"

G_BEGIN_DECLS

#define QCRYPTO_TYPE_TLS_CREDS_PSK (qcrypto_tls_creds_psk_get_type())
G_DECLARE_FINAL_TYPE(QCryptoTLSCredsPSK, qcrypto_tls_creds_psk, QCRYPTO,
                     TLS_CREDS_PSK, QCryptoTLSCreds)

#define QCRYPTO_TLS_CREDS_PSKFILE              "keys.psk"
#define QCRYPTO_TLS_CREDS_PSK_DEFAULT_USERNAME "qemu"

/* The username a client presents: the property, or "qemu". */
const char *qcrypto_tls_creds_psk_get_username(QCryptoTLSCredsPSK *creds);

G_END_DECLS
