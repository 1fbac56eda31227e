/*
 * QIOChannelTLS: a QIOChannel that runs TLS over another channel.
 *
 * The TLS channel wraps any connected channel (its "master": a socket, a
 * command's pipes, even another TLS channel) as the client or the server
 * end of a TLS session made from a credentials object, and is itself an
 * ordinary channel once the handshake is done.  Every consumer with a
 * --tls-creds option goes through it:
 *
 *   qio-nbd --object tls-creds-x509,id=tls0,endpoint=server,dir=/etc/pki/qio
 *           --tls-creds tls0 --tls-authz auth0 ...
 *   qio-nbd-client --object tls-creds-x509,id=tls0,endpoint=client,
 *                  dir=/etc/pki/qio --tls-creds tls0 --tls-hostname db1 ...
 *
 * In code:
 *
 *     g_autoptr(QIOChannelTLS) tioc =
 *         qio_channel_tls_new_client(QIO_CHANNEL(sioc), creds, "db1", errp);
 *     if (!tioc || qio_channel_tls_handshake_sync(tioc, errp) < 0) {
 *         return -1;
 *     }
 *     qio_channel_write_all(QIO_CHANNEL(tioc), buf, len, errp);
 *
 * The channel reads from the master only after it is created, through the
 * TLS session: bytes a protocol read in the clear before switching to TLS
 * (an NBD STARTTLS exchange) are never replayed into it, and nothing the
 * peer pipelined before the switch can reach the TLS data stream.
 *
 * Ending: qio_channel_shutdown() for WRITE or BOTH, and
 * qio_channel_close(), first send a TLS close_notify, so the peer reads
 * EOF (0).  When the peer's transport ends without one, reads fail with
 * QCRYPTO_ERROR_TRUNCATED: the data may have been cut short by an attacker
 * or a crash, and a protocol must not take it as a clean end.
 *
 * Refusals after the handshake: in TLS 1.3 a client's handshake ends
 * before the server has checked the client's certificate, so a server
 * that refuses the client answers with a fatal alert and closes.  When a
 * write then fails with EPIPE or ECONNRESET, the channel first reads what
 * the server already sent (without waiting), and a fatal alert found there
 * is what the write reports: "certificate required" as
 * QCRYPTO_ERROR_NO_CERT, "access denied" as QCRYPTO_ERROR_AUTHZ_DENIED,
 * the same codes the handshake and reads give.  Application data read on
 * the way is returned by the next reads.
 *
 * Tracing: G_MESSAGES_DEBUG=qio-tls prints each handshake step, the TLS
 * version, cipher and key exchange, the peer's verified name and the
 * authorization decision; never keys or data.
 *
 * Threads: after the handshake one thread may read while another writes.
 */
#pragma once

#include "crypto/tls-creds.h"
#include "crypto/tls-session.h"
#include "io/channel.h"
#include "io/task.h"

G_BEGIN_DECLS

#define QIO_TYPE_CHANNEL_TLS (qio_channel_tls_get_type())
G_DECLARE_FINAL_TYPE(QIOChannelTLS, qio_channel_tls, QIO, CHANNEL_TLS,
                     QIOChannel)

/* The handshake time limit unless qio_channel_tls_set_handshake_timeout(). */
#define QIO_CHANNEL_TLS_HANDSHAKE_TIMEOUT_MS 10000

/*
 * The client end over @master, expecting the server certificate to name
 * @hostname (a DNS name or an IP address; see qcrypto_tls_session_new()
 * for when it may be NULL).  The channel takes a reference on @master and
 * is named "tls client <master name>".  When @master is a
 * QIOChannelSocket, gnutls is given the socket descriptor for the
 * handshake so that kernel TLS can take over where the host enables it;
 * records the kernel does not take are then read ahead from, and
 * gathered into large writes to, @master by the channel.
 */
QIOChannelTLS *qio_channel_tls_new_client(QIOChannel *master,
                                          QCryptoTLSCreds *creds,
                                          const char *hostname, GError **errp);

/*
 * The server end over @master.  @authzid names an authorization object
 * (--object authz-simple,id=auth0,...) that must allow the client's
 * identity, or is NULL.
 */
QIOChannelTLS *qio_channel_tls_new_server(QIOChannel *master,
                                          QCryptoTLSCreds *creds,
                                          const char *authzid, GError **errp);

/*
 * Time limit for the handshake in milliseconds, from the start of
 * qio_channel_tls_handshake*() to the peer checks passing; 0 disables it.
 * When it runs out the handshake fails with QCRYPTO_ERROR_TIMED_OUT and
 * the master is shut down, so a peer that connects and stays silent
 * cannot hold a connection slot.  Default
 * QIO_CHANNEL_TLS_HANDSHAKE_TIMEOUT_MS.
 */
void qio_channel_tls_set_handshake_timeout(QIOChannelTLS *tioc,
                                           guint timeout_ms);

/*
 * Run the handshake and the peer checks without blocking @context: the
 * steps run from watches on the master attached to @context (NULL: the
 * global default context), and @func is called there with a QIOTask whose
 * source is @tioc; qio_task_propagate_error() says whether TLS is up.
 * @func never runs before this function returns.  The master is switched
 * to non-blocking mode for the handshake and put back afterwards.  The
 * channel must not be used until @func runs.
 */
void qio_channel_tls_handshake(QIOChannelTLS *tioc, QIOTaskFunc func,
                               gpointer opaque, GDestroyNotify destroy,
                               GMainContext *context);

/*
 * The same, blocking the calling thread (a worker, never a main loop
 * thread).  Returns 0 or -1 with @errp set.
 */
int qio_channel_tls_handshake_sync(QIOChannelTLS *tioc, GError **errp);

/* The underlying channel (borrowed). */
QIOChannel *qio_channel_tls_get_master(QIOChannelTLS *tioc);

/* The TLS session, for its queries (cipher, peer name, kernel TLS). */
QCryptoTLSSession *qio_channel_tls_get_session(QIOChannelTLS *tioc);

G_END_DECLS
