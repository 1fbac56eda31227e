/*
 * QCryptoTLSSession: one TLS session over a byte transport, on top of the
 * credentials objects (--object tls-creds-*).
 *
 * The session knows nothing about channels or sockets: the caller gives
 * it either a pair of push/pull callbacks that move raw bytes, or a
 * socket descriptor that only gnutls touches (which lets gnutls hand the
 * records to the kernel, kernel TLS), with callbacks that take over the
 * records the kernel does not handle after the handshake.  It runs the
 * handshake step by step, checks the peer's credentials once the handshake
 * is done (certificate chain, validity, host name, key usage, and the
 * authorization object a server was given), and then moves application
 * data as TLS records.  io/channel-tls.c wraps it as a QIOChannel; most
 * programs use that instead of this API:
 *
 *   qio-nbd --object tls-creds-x509,id=tls0,endpoint=server,dir=/etc/pki/qio
 *           --object authz-simple,id=auth0,identity=O=Example,,CN=client1
 *           --tls-creds tls0 --tls-authz auth0
 *
 * Failures carry QCRYPTO_ERROR codes (include/crypto/tls-creds.h) and a
 * message naming the role, the credentials id and the peer.
 *
 * Threads: one thread may read while another writes (gnutls allows
 * gnutls_record_recv and gnutls_record_send in parallel); everything else
 * (handshake, bye, free) must not overlap with other calls on the session.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "crypto/tls-creds.h"

G_BEGIN_DECLS

typedef struct QCryptoTLSSession QCryptoTLSSession;

/*
 * Returned by read, write and bye when the transport would block; the same
 * value as QIO_CHANNEL_ERR_BLOCK so that channels can pass it through.
 */
#define QCRYPTO_TLS_SESSION_ERR_BLOCK -2

/* Where a handshake stands after one step. */
typedef enum {
    QCRYPTO_TLS_HANDSHAKE_COMPLETE,
    QCRYPTO_TLS_HANDSHAKE_RECVING, /* wait until the transport is readable */
    QCRYPTO_TLS_HANDSHAKE_SENDING, /* wait until the transport is writable */
} QCryptoTLSSessionHandshakeStatus;

/* Kernel TLS state, a bit mask. */
typedef enum {
    QCRYPTO_TLS_KTLS_NONE = 0,
    QCRYPTO_TLS_KTLS_RECV = 1 << 0,
    QCRYPTO_TLS_KTLS_SEND = 1 << 1,
} QCryptoTLSSessionKTLS;

/*
 * Transport callbacks.  Return the number of bytes moved (a pull returns
 * 0 at end of stream), or -1 with errno set: EAGAIN when the transport
 * would block, so that the session reports "would block" too; anything
 * else is a transport failure.
 */
typedef ssize_t (*QCryptoTLSSessionPushFunc)(const char *buf, size_t len,
                                             void *opaque);
typedef ssize_t (*QCryptoTLSSessionPullFunc)(char *buf, size_t len,
                                             void *opaque);
/* A push of several pieces at once, as one write on the transport. */
typedef ssize_t (*QCryptoTLSSessionPushvFunc)(const struct iovec *iov, int niov,
                                              void *opaque);
/*
 * Wait until a pull would return something, for at most @timeout_ms
 * (-1: no limit).  Returns > 0 when it would, 0 when the time ran out,
 * -1 with errno set on failure.
 */
typedef int (*QCryptoTLSSessionPullTimeoutFunc)(int timeout_ms, void *opaque);

/*
 * A session for the end @endpoint of a connection, which must match the
 * credentials' endpoint (QCRYPTO_ERROR_ENDPOINT otherwise).
 *
 * @hostname (client): the name the server certificate must carry, as a
 * DNS name or an IP address in text form ("db1.example.org",
 * "192.0.2.10", "::1").  Required with x509 credentials that verify the
 * peer (QCRYPTO_ERROR_INVALID_ARGUMENT otherwise): a client connecting
 * over a UNIX socket passes the name configured with tls-hostname.
 * Ignored by servers.
 *
 * @authzid (server): the id of an authorization object asked about the
 * client's identity once the handshake is done (see
 * qcrypto_tls_session_check_credentials()); NULL for none.  Ignored by
 * clients.
 *
 * The session takes a reference on the credentials' current handle, so
 * reloading the credentials later does not affect it.
 */
QCryptoTLSSession *qcrypto_tls_session_new(QCryptoTLSCreds *creds,
                                           const char *hostname,
                                           const char *authzid,
                                           QCryptoTLSCredsEndpoint endpoint,
                                           GError **errp);

void qcrypto_tls_session_free(QCryptoTLSSession *sess);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QCryptoTLSSession, qcrypto_tls_session_free)

/*
 * A short description of the peer for messages ("socket to
 * 127.0.0.1:10809"); the session copies it.  Optional.
 */
void qcrypto_tls_session_set_peer_label(QCryptoTLSSession *sess,
                                        const char *label);

/*
 * Give the session its transport: either callbacks, or a connected socket
 * descriptor that gnutls reads and writes itself (the descriptor stays
 * owned by the caller and must outlive the session's use of it).  Only the
 * descriptor form can use kernel TLS.  Call exactly one, once, before the
 * handshake.  The descriptor's blocking mode is the session's: on a
 * non-blocking descriptor calls report "would block".
 */
void qcrypto_tls_session_set_callbacks(QCryptoTLSSession *sess,
                                       QCryptoTLSSessionPushFunc push,
                                       QCryptoTLSSessionPullFunc pull,
                                       void *opaque);
void qcrypto_tls_session_set_fd(QCryptoTLSSession *sess, int fd);

/*
 * With a descriptor (call after qcrypto_tls_session_set_fd(), before the
 * handshake): once the handshake is done, the records the kernel does not
 * handle move through these callbacks instead of gnutls's own system
 * calls on the descriptor, so that the transport can read ahead and
 * gather writes (io/channel-tls.c does both).  The handshake itself, and
 * everything when kernel TLS took both directions, stays on the
 * descriptor.  @pushv carries every record gnutls sends; @pull_timeout
 * answers gnutls when it needs to wait with a limit.  All three are
 * required and run on the thread that called into the session.
 */
void qcrypto_tls_session_set_data_callbacks(
    QCryptoTLSSession *sess, QCryptoTLSSessionPushvFunc pushv,
    QCryptoTLSSessionPullFunc pull,
    QCryptoTLSSessionPullTimeoutFunc pull_timeout, void *opaque);

/*
 * Run the handshake as far as the transport allows.  Returns a
 * QCryptoTLSSessionHandshakeStatus: COMPLETE, or RECVING / SENDING when
 * the transport would block (call again once it is readable / writable);
 * -1 with @errp set on failure (QCRYPTO_ERROR_HANDSHAKE, or a more precise
 * code: QCRYPTO_ERROR_NO_CERT when a server requires a client certificate
 * that was not sent, QCRYPTO_ERROR_PSK for an unknown user or a wrong
 * key, QCRYPTO_ERROR_CERT_USAGE when the key usage forbids the signature;
 * an alert from the peer is named in the message).
 */
int qcrypto_tls_session_handshake(QCryptoTLSSession *sess, GError **errp);

/* True once a handshake step returned COMPLETE. */
bool qcrypto_tls_session_is_handshake_done(QCryptoTLSSession *sess);

/*
 * After the handshake: check who the peer is.
 *
 * x509 client: the server certificate chain must lead to a CA in the
 * credentials' ca-cert.pem (QCRYPTO_ERROR_CERT_UNTRUSTED), be within its
 * validity period (CERT_EXPIRED, CERT_NOT_ACTIVE), not be revoked
 * (CERT_REVOKED), be signed by certificates that are CAs
 * (CERT_USAGE), and name the host name: a subjectAltName dNSName
 * (wildcards as in RFC 6125) or iPAddress, and the subject CN only when the
 * certificate has no dNSName at all (CERT_HOSTNAME).  A critical
 * keyUsage or extendedKeyUsage that excludes a TLS server fails
 * (CERT_USAGE); a non-critical one is only traced.
 *
 * x509 server with verify-peer: the same for the client certificate
 * (no host name; NO_CERT when there is none).
 *
 * Server with @authzid: the identity is asked of the authorization object
 * (QCRYPTO_ERROR_AUTHZ_DENIED when it says no).  The identity is the
 * verified client certificate's subject distinguished name in the form
 * QEMU uses (gnutls_x509_crt_get_dn): the attributes in the order the
 * certificate encodes them, comma separated, values escaped as in RFC
 * 4514, e.g. "C=GB,ST=London,L=London,O=Example,CN=client1" for a
 * typical subject; or the PSK username.  So a rule written for qemu-nbd
 * matches the same client here.  A subject that cannot be read or is
 * longer than 64 KiB fails (QCRYPTO_ERROR_DECODE); an empty subject is
 * "".  A server without a verified identity (anon credentials,
 * verify-peer off) denies.
 *
 * A failure also sends the peer a fatal alert saying why.
 */
bool qcrypto_tls_session_check_credentials(QCryptoTLSSession *sess,
                                           GError **errp);

/*
 * Application data, at most one TLS record (16 KiB) per call.  Return the
 * bytes moved, QCRYPTO_TLS_SESSION_ERR_BLOCK, or -1 with @errp set.  A
 * read returns 0 when the peer ended the session with a TLS close_notify
 * (see qcrypto_tls_session_bye()), and fails with QCRYPTO_ERROR_TRUNCATED
 * when the transport reached its end without one.
 *
 * A write that would block keeps the record it encrypted; the next write
 * must pass the same bytes again (as the channel *_all helpers do), and
 * then returns their length once the record is out.
 */
gssize qcrypto_tls_session_write(QCryptoTLSSession *sess, const char *buf,
                                 size_t len, GError **errp);
gssize qcrypto_tls_session_read(QCryptoTLSSession *sess, char *buf, size_t len,
                                GError **errp);

/* gnutls's largest plaintext record. */
#define QCRYPTO_TLS_SESSION_RECORD_MAX 16384

/*
 * After the transport failed under an established session (a write met
 * EPIPE or ECONNRESET), look at what the peer sent before it went away:
 * a server that refuses a client only after the client's side of a TLS
 * 1.3 handshake is done says why in a fatal alert, then closes.  The
 * caller makes the transport non-blocking first, so that only what has
 * already arrived is read, and must not run this while another thread
 * reads the session.  At most a few records are read; application data
 * among them is appended to @data, for the caller to hand to its next
 * read.  Returns true with @errp set, as a read that met the alert would
 * have (QCRYPTO_ERROR_NO_CERT for "certificate required", ...), when a
 * fatal alert was found; false otherwise, @errp untouched.
 */
bool qcrypto_tls_session_read_alert(QCryptoTLSSession *sess, GByteArray *data,
                                    GError **errp);

/*
 * Decrypted bytes that a read returns without touching the transport
 * (what the transport itself holds is the transport's to count).
 */
size_t qcrypto_tls_session_check_pending(QCryptoTLSSession *sess);

/*
 * Send close_notify: the orderly end of the sending direction.  Returns 0,
 * QCRYPTO_TLS_SESSION_ERR_BLOCK (call again), or -1 with @errp set.
 */
int qcrypto_tls_session_bye(QCryptoTLSSession *sess, GError **errp);

/*
 * The peer's identity once qcrypto_tls_session_check_credentials()
 * passed: the certificate subject DN (in the format described there) or
 * the PSK username; NULL for anonymous sessions and unverified peers.
 */
const char *qcrypto_tls_session_get_peer_name(QCryptoTLSSession *sess);

/*
 * What the handshake negotiated, for traces and tests: the version
 * ("TLS1.3"), the cipher ("AES-256-GCM") and the key exchange ("ECDHE-RSA"
 * in TLS 1.2; in TLS 1.3 the key share group, "SECP256R1" or "X25519").
 * NULL before the handshake.
 */
const char *qcrypto_tls_session_get_protocol(QCryptoTLSSession *sess);
const char *qcrypto_tls_session_get_cipher(QCryptoTLSSession *sess);
const char *qcrypto_tls_session_get_kx(QCryptoTLSSession *sess);

/*
 * Whether the kernel encrypts and decrypts the records.  Only possible
 * with qcrypto_tls_session_set_fd() on a TCP socket, when gnutls was built
 * with kernel TLS, its configuration enables it ([global] ktls = true in
 * the file GNUTLS_SYSTEM_PRIORITY_FILE or /etc/gnutls/config names) and
 * the kernel has the tls module.
 */
QCryptoTLSSessionKTLS qcrypto_tls_session_get_ktls(QCryptoTLSSession *sess);

QCryptoTLSCredsEndpoint
qcrypto_tls_session_get_endpoint(QCryptoTLSSession *sess);

G_END_DECLS
