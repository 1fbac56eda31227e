/*
 * NBD client: connect to an NBD server (fixed newstyle only), optionally
 * upgrade to TLS, list exports, select one and issue block requests.
 *
 *   qio-nbd-client --object tls-creds-x509,id=tls0,endpoint=client,dir=...
 *                  --tls-creds tls0 127.0.0.1:10809 --export disk0
 *
 * Negotiation is a state machine in nbd/client.c, one function per state.
 * Security rules that it enforces:
 *  - a server that is not fixed newstyle is refused before anything is
 *    sent to it (CVE-2019-14842 class: no clear-text fallback);
 *  - with TLS credentials, NBD_OPT_STARTTLS is the first option and any
 *    reply but ACK ends the connection without sending GO/EXPORT_NAME;
 *  - after the TLS handshake everything negotiated before it is forgotten;
 *  - every length read from the server is bounded before allocation.
 *
 * Requests are issued one at a time per connection in this version: each
 * call sends a request with a fresh cookie and waits for its reply.  The
 * cookie is checked on every reply, so pipelining can be added without an
 * API change (one NBDClient per thread until then; not thread-safe).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "crypto/tls-creds.h"
#include "io/channel.h"
#include "io/socket-address.h"

G_BEGIN_DECLS

typedef struct NBDClient NBDClient;

/* Largest single read/write request this client sends (32 MiB). */
#define NBD_CLIENT_MAX_REQUEST (32u * 1024 * 1024)

/* Flags for nbd_client_pwrite() / nbd_client_zero(). */
#define NBD_CLIENT_FUA        (1u << 0)
#define NBD_CLIENT_NO_HOLE    (1u << 1)
#define NBD_CLIENT_FAST_ZERO  (1u << 2)

/*
 * Connect to @addr and run the handshake up to the option phase.
 * @creds (endpoint=client) or NULL for clear text.  @tls_hostname is the
 * name the server certificate must carry; NULL takes the host of an inet
 * address, and is an error for a UNIX socket with x509 credentials.
 * Errors use QIO_ERROR codes and name the server address.
 */
NBDClient *nbd_client_connect(const QIOSocketAddress *addr,
                              QCryptoTLSCreds *creds,
                              const char *tls_hostname,
                              GError **errp);

/*
 * The same over an already connected channel (a reference is taken).
 * @peer names the server in error messages.
 */
NBDClient *nbd_client_new_channel(QIOChannel *ioc, const char *peer,
                                  QCryptoTLSCreds *creds,
                                  const char *tls_hostname,
                                  GError **errp);

/*
 * NBD_OPT_LIST: a NULL-terminated array of export names (g_strfreev), or
 * NULL with @errp set.  Only in the option phase.
 */
char **nbd_client_list(NBDClient *client, GError **errp);

/*
 * NBD_OPT_INFO on @export_name: its size and transmission flags, staying
 * in the option phase.  An unknown export is QIO_ERROR_NOT_FOUND with the
 * server's message.
 */
bool nbd_client_info(NBDClient *client, const char *export_name,
                     uint64_t *size, uint16_t *eflags, GError **errp);

/*
 * NBD_OPT_GO on @export_name ("" is the default export); on success the
 * client enters the transmission phase.  Also requests the
 * base:allocation metadata context for nbd_client_block_status().
 */
bool nbd_client_go(NBDClient *client, const char *export_name,
                   GError **errp);

/* After nbd_client_go(): export size and transmission flags. */
uint64_t nbd_client_get_size(NBDClient *client);
uint16_t nbd_client_get_flags(NBDClient *client);
bool nbd_client_is_tls(NBDClient *client);
bool nbd_client_has_structured_replies(NBDClient *client);

/*
 * Block requests.  @len is at most NBD_CLIENT_MAX_REQUEST.  Return true on
 * success.  A server error reply is QIO_ERROR_FAILED (with the server's
 * message when it sent one) and leaves the connection usable; a protocol
 * violation is QIO_ERROR_PROTOCOL and closes it.
 */
bool nbd_client_pread(NBDClient *client, void *buf, uint32_t len,
                      uint64_t offset, GError **errp);
bool nbd_client_pwrite(NBDClient *client, const void *buf, uint32_t len,
                       uint64_t offset, unsigned flags, GError **errp);
bool nbd_client_zero(NBDClient *client, uint32_t len, uint64_t offset,
                     unsigned flags, GError **errp);
bool nbd_client_trim(NBDClient *client, uint32_t len, uint64_t offset,
                     GError **errp);
bool nbd_client_flush(NBDClient *client, GError **errp);
bool nbd_client_cache(NBDClient *client, uint32_t len, uint64_t offset,
                      GError **errp);

/* One extent of base:allocation (flags: NBD_STATE_HOLE / NBD_STATE_ZERO). */
typedef struct {
    uint64_t length;
    uint32_t flags;
} NBDClientExtent;

/*
 * NBD_CMD_BLOCK_STATUS for base:allocation over [@offset, @offset+@len):
 * a GArray of NBDClientExtent (at least one), or NULL with @errp set.
 */
GArray *nbd_client_block_status(NBDClient *client, uint32_t len,
                                uint64_t offset, GError **errp);

/*
 * Polite close: NBD_OPT_ABORT in the option phase, NBD_CMD_DISC in the
 * transmission phase, then close the channel.  Safe to call twice.
 */
void nbd_client_close(NBDClient *client);

/* Close (if still open) and free.  NULL is ignored. */
void nbd_client_free(NBDClient *client);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NBDClient, nbd_client_free)

G_END_DECLS
