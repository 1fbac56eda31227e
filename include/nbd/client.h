/*
 * NBD client: connect to an NBD server (fixed newstyle only), optionally
 * upgrade to TLS, list exports, select one and issue block requests.
 *
 *   qio-nbd-client --object tls-creds-x509,id=tls0,endpoint=client,dir=...
 *                  --tls-creds tls0 127.0.0.1:10809 --export disk0
 *
 * The handshake is a state machine in nbd/client.c run by the negotiation
 * driver (io/negotiation.h), one step function per state.
 * Security rules that it enforces:
 *  - a server that is not fixed newstyle is refused before anything is
 *    sent to it (CVE-2019-14842 class: no clear-text fallback);
 *  - with TLS credentials, NBD_OPT_STARTTLS is the first option and any
 *    reply but ACK ends the connection without sending GO/EXPORT_NAME;
 *  - after the TLS handshake everything negotiated before it is forgotten;
 *  - every length read from the server is bounded before allocation.
 *
 * After nbd_client_go() a client carries many requests at once: the
 * nbd_client_submit_*() calls queue a request and return, and a reader
 * thread (one per connection) completes them in whatever order the
 * server answers, matching replies by cookie.  The blocking calls
 * (nbd_client_pread() ...) are thin wrappers over them and may be called
 * from several threads on one client at once.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "crypto/tls-creds.h"
#include "io/channel.h"
#include "io/socket-address.h"

G_BEGIN_DECLS

typedef struct NBDClient NBDClient;

/* One extent of base:allocation (flags: NBD_STATE_HOLE / NBD_STATE_ZERO). */
typedef struct {
    uint64_t length;
    uint32_t flags;
} NBDClientExtent;

/*
 * Largest single read/write request this client sends (32 MiB), lowered
 * further when the server announces a smaller maximum block size: see
 * nbd_client_get_max_request().
 */
#define NBD_CLIENT_MAX_REQUEST (32u * 1024 * 1024)

/* Requests in flight per connection: default and upper bound. */
#define NBD_CLIENT_DEFAULT_REQUESTS 64
#define NBD_CLIENT_MAX_REQUESTS     1024

/* Flags for nbd_client_pwrite() / nbd_client_zero(). */
#define NBD_CLIENT_FUA       (1u << 0)
#define NBD_CLIENT_NO_HOLE   (1u << 1)
#define NBD_CLIENT_FAST_ZERO (1u << 2)

/*
 * Connect to @addr and run the handshake up to the option phase.
 * @creds (endpoint=client) or NULL for clear text.  @tls_hostname is the
 * name the server certificate must carry; NULL takes the host of an inet
 * address, and is an error for a UNIX socket with x509 credentials.
 * Errors use QIO_ERROR codes and name the server address.
 */
NBDClient *nbd_client_connect(const QIOSocketAddress *addr,
                              QCryptoTLSCreds *creds, const char *tls_hostname,
                              GError **errp);

/*
 * The same over an already connected channel (a reference is taken).
 * @peer names the server in error messages.
 */
NBDClient *nbd_client_new_channel(QIOChannel *ioc, const char *peer,
                                  QCryptoTLSCreds *creds,
                                  const char *tls_hostname, GError **errp);

/*
 * Choices made before the handshake; all-zero is the default.
 *
 * By default the client asks for extended headers
 * (NBD_OPT_EXTENDED_HEADERS: 32-byte requests and replies, every reply a
 * chunk) and, when the server does not know them, for structured
 * replies.  @compact_headers skips the first step, so only the compact
 * request and reply headers are ever used.
 */
typedef struct {
    bool compact_headers;
} NBDClientOptions;

/* nbd_client_connect() and nbd_client_new_channel() with @opts (or NULL). */
NBDClient *nbd_client_connect_full(const QIOSocketAddress *addr,
                                   QCryptoTLSCreds *creds,
                                   const char *tls_hostname,
                                   const NBDClientOptions *opts, GError **errp);
NBDClient *nbd_client_new_channel_full(QIOChannel *ioc, const char *peer,
                                       QCryptoTLSCreds *creds,
                                       const char *tls_hostname,
                                       const NBDClientOptions *opts,
                                       GError **errp);

/*
 * NBD_OPT_LIST: a NULL-terminated array of export names (g_strfreev), or
 * NULL with @errp set.  Only in the option phase.
 */
char **nbd_client_list(NBDClient *client, GError **errp);

/*
 * The same, also returning in *@descriptions (g_strfreev) a parallel
 * array with each export's description, "" when the server gave none.
 */
char **nbd_client_list_full(NBDClient *client, char ***descriptions,
                            GError **errp);

/*
 * What NBD_INFO_EXPORT, NBD_INFO_DESCRIPTION and NBD_INFO_BLOCK_SIZE say
 * about an export.  Without a BLOCK_SIZE item the block sizes are 1,
 * 4096 and NBD_CLIENT_MAX_REQUEST; without a description it is NULL.
 */
typedef struct {
    uint64_t size;
    uint16_t eflags;
    char *description;
    uint32_t block_min;
    uint32_t block_pref;
    uint32_t block_max;
} NBDClientExportInfo;

void nbd_client_export_info_clear(NBDClientExportInfo *info);

/*
 * NBD_OPT_INFO on @export_name: its size and transmission flags, staying
 * in the option phase.  An unknown export is QIO_ERROR_NOT_FOUND with the
 * server's message.
 */
bool nbd_client_info(NBDClient *client, const char *export_name, uint64_t *size,
                     uint16_t *eflags, GError **errp);

/* The same with description and block sizes (clear @info afterwards). */
bool nbd_client_info_full(NBDClient *client, const char *export_name,
                          NBDClientExportInfo *info, GError **errp);

/*
 * NBD_OPT_GO on @export_name ("" is the default export); on success the
 * client enters the transmission phase and starts its reader thread.
 * Also requests the base:allocation metadata context for
 * nbd_client_block_status(), and the export's description and block
 * sizes.
 */
bool nbd_client_go(NBDClient *client, const char *export_name, GError **errp);

/* After nbd_client_go(): export size and transmission flags. */
uint64_t nbd_client_get_size(NBDClient *client);
uint16_t nbd_client_get_flags(NBDClient *client);
bool nbd_client_is_tls(NBDClient *client);
/* True with extended headers too, which bring structured replies. */
bool nbd_client_has_structured_replies(NBDClient *client);
/* Whether NBD_OPT_EXTENDED_HEADERS was agreed. */
bool nbd_client_has_extended_headers(NBDClient *client);
/* The export's description (NBD_INFO_DESCRIPTION), or NULL. */
const char *nbd_client_get_description(NBDClient *client);
/* Block sizes the server announced (or the defaults above). */
void nbd_client_get_block_sizes(NBDClient *client, uint32_t *minimum,
                                uint32_t *preferred, uint32_t *maximum);
/*
 * Largest READ/WRITE this client sends: the server's maximum block size
 * capped at NBD_CLIENT_MAX_REQUEST.  Longer requests are refused with
 * QIO_ERROR_INVALID_ARGUMENT before anything is sent.
 */
uint32_t nbd_client_get_max_request(NBDClient *client);

/*
 * Bound the requests in flight on this connection (1 ..
 * NBD_CLIENT_MAX_REQUESTS, default NBD_CLIENT_DEFAULT_REQUESTS): a submit
 * while that many are outstanding blocks until one completes.
 */
void nbd_client_set_max_requests(NBDClient *client, unsigned n);

/* Default time nbd_client_close() waits for requests in flight. */
#define NBD_CLIENT_CLOSE_TIMEOUT_MS 30000

/*
 * How long nbd_client_close() waits for the requests in flight to be
 * answered (0: no limit).  When it runs out the connection is closed
 * without NBD_CMD_DISC and those requests fail with QIO_ERROR_CLOSED.
 */
void nbd_client_set_close_timeout(NBDClient *client, guint timeout_ms);

/*
 * Asynchronous requests, after nbd_client_go().
 *
 * A submit call returns false with @errp set, and never calls @cb, when
 * the request cannot be sent (bad argument, command not offered by the
 * export, connection already failed or closed).  Otherwise it returns
 * true after sending the request (a failed send is reported through @cb)
 * and @cb is called exactly once with the outcome: @err NULL on success, else
 * an error owned by the caller of @cb (copy it to keep it).  @cb runs on the
 * connection's reader thread (or, rarely, on the submitting thread); it must be
 * quick and must not call into the same client (not even a submit, which
 * waits when the limit of requests in flight is reached).
 * Buffers (@buf of a read or write, @extents) must stay valid until
 * then; a read buffer is zeroed by the submit (with structured replies,
 * so a reply that skips a range cannot expose old memory) and then
 * filled by the reply.
 *
 * Errors: a server error reply is QIO_ERROR_FAILED with the server's
 * message and offset when it sent them, and leaves the connection
 * usable.  A protocol violation (unknown or finished cookie, a chunk out
 * of the request's range, a length over its bound, a bad magic) is
 * QIO_ERROR_PROTOCOL or QIO_ERROR_TOO_LARGE, fails every request in
 * flight and shuts the connection; later submits get QIO_ERROR_CLOSED.
 */
typedef void (*NBDClientCallback)(const GError *err, gpointer opaque);

bool nbd_client_submit_pread(NBDClient *client, void *buf, uint32_t len,
                             uint64_t offset, NBDClientCallback cb,
                             gpointer opaque, GError **errp);
bool nbd_client_submit_pwrite(NBDClient *client, const void *buf, uint32_t len,
                              uint64_t offset, unsigned flags,
                              NBDClientCallback cb, gpointer opaque,
                              GError **errp);
bool nbd_client_submit_zero(NBDClient *client, uint64_t len, uint64_t offset,
                            unsigned flags, NBDClientCallback cb,
                            gpointer opaque, GError **errp);
bool nbd_client_submit_trim(NBDClient *client, uint64_t len, uint64_t offset,
                            NBDClientCallback cb, gpointer opaque,
                            GError **errp);
bool nbd_client_submit_flush(NBDClient *client, NBDClientCallback cb,
                             gpointer opaque, GError **errp);
bool nbd_client_submit_cache(NBDClient *client, uint64_t len, uint64_t offset,
                             NBDClientCallback cb, gpointer opaque,
                             GError **errp);
/* @extents: an empty GArray of NBDClientExtent, filled before @cb. */
bool nbd_client_submit_block_status(NBDClient *client, uint64_t len,
                                    uint64_t offset, GArray *extents,
                                    NBDClientCallback cb, gpointer opaque,
                                    GError **errp);

/*
 * Blocking block requests: submit and wait for the reply.  Thread-safe.
 * READ/WRITE @len is at most nbd_client_get_max_request(); zero, trim,
 * cache and block status take any 32-bit length, and with extended
 * headers (nbd_client_has_extended_headers()) any 64-bit one; without
 * them a longer request is QIO_ERROR_INVALID_ARGUMENT, nothing sent.
 * Return true on success; errors as for the submit calls above.
 */
bool nbd_client_pread(NBDClient *client, void *buf, uint32_t len,
                      uint64_t offset, GError **errp);
bool nbd_client_pwrite(NBDClient *client, const void *buf, uint32_t len,
                       uint64_t offset, unsigned flags, GError **errp);
bool nbd_client_zero(NBDClient *client, uint64_t len, uint64_t offset,
                     unsigned flags, GError **errp);
bool nbd_client_trim(NBDClient *client, uint64_t len, uint64_t offset,
                     GError **errp);
bool nbd_client_flush(NBDClient *client, GError **errp);
bool nbd_client_cache(NBDClient *client, uint64_t len, uint64_t offset,
                      GError **errp);

/*
 * NBD_CMD_BLOCK_STATUS for base:allocation over [@offset, @offset+@len):
 * a GArray of NBDClientExtent (at least one), or NULL with @errp set.
 */
GArray *nbd_client_block_status(NBDClient *client, uint64_t len,
                                uint64_t offset, GError **errp);

/*
 * Polite close: NBD_OPT_ABORT in the option phase; in the transmission
 * phase wait for the requests in flight, send NBD_CMD_DISC and stop the
 * reader thread; then close the channel.  Safe to call twice, not
 * concurrently with other calls on the same client.
 */
void nbd_client_close(NBDClient *client);

/* Close (if still open) and free.  NULL is ignored. */
void nbd_client_free(NBDClient *client);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(NBDClient, nbd_client_free)

G_END_DECLS
