/*
 * QIONegotiation: a small resumable driver for protocol negotiations.
 *
 * A negotiation (the NBD option haggling, a websocket upgrade, RFB and
 * VeNCrypt, a QMP greeting) is a set of states.  Each state has a step
 * function that looks at what has arrived and tells the driver what it
 * waits for next: exactly N bytes to read, the bytes it queued to be
 * written, a TLS upgrade, done, or failed.  The driver does the I/O, so
 * the same steps run blocking on a worker thread or from watches on a
 * GMainContext, and a protocol never needs per-mode code.
 *
 * What the driver guarantees:
 *  - a read asks the channel for exactly the bytes the step wanted, never
 *    more: nothing read before a TLS upgrade is carried across it, and
 *    bytes a peer sends in the clear after asking for TLS reach the TLS
 *    layer (where they fail the handshake), never the protocol;
 *  - queued output is flushed before the next read, upgrade or the end,
 *    so a step can queue a request and wait for its reply in one go;
 *  - one overall deadline (qio_negotiation_set_timeout()), covering the
 *    TLS handshake too, and a step limit
 *    (qio_negotiation_set_max_steps()), so a peer can hold a negotiation
 *    neither by staying silent nor by keeping it busy;
 *  - each read is bounded (qio_negotiation_set_max_read()) before its
 *    buffer is allocated, although steps should bound lengths the peer
 *    sends themselves and fail with a protocol error.
 *
 * A toy protocol: the peer sends a 2-byte length and a name, we answer
 * "OK", upgrade to TLS as the server, and read one byte of status over
 * TLS (tests/unit/test-io-negotiation.c has a complete one):
 *
 *     enum { ST_START, ST_LEN, ST_NAME, ST_SECURE, ST_STATUS };
 *
 *     static QIONegotiationAction st_start(QIONegotiation *neg,
 *                                          gpointer opaque, GError **errp)
 *     {
 *         return qio_negotiation_read(neg, 2, "name length", ST_LEN);
 *     }
 *
 *     static QIONegotiationAction st_len(QIONegotiation *neg,
 *                                        gpointer opaque, GError **errp)
 *     {
 *         const uint8_t *p = qio_negotiation_get_data(neg, NULL);
 *         unsigned len = p[0] << 8 | p[1];
 *
 *         if (len == 0 || len > 255) {      // bound what the peer says
 *             qio_error_setg(errp, QIO_ERROR_PROTOCOL, "bad name length");
 *             return QIO_NEGOTIATION_FAILED;
 *         }
 *         return qio_negotiation_read(neg, len, "name", ST_NAME);
 *     }
 *
 *     static QIONegotiationAction st_name(QIONegotiation *neg,
 *                                         gpointer opaque, GError **errp)
 *     {
 *         qio_negotiation_send(neg, "OK", 2, "answer");
 *         return qio_negotiation_tls_server(neg, creds, "auth0", ST_SECURE);
 *     }
 *
 *     static QIONegotiationAction st_secure(QIONegotiation *neg,
 *                                           gpointer opaque, GError **errp)
 *     {
 *         Toy *toy = opaque;
 *
 *         toy_forget_everything(toy);        // the security boundary
 *         return qio_negotiation_read(neg, 1, "status", ST_STATUS);
 *     }
 *
 *     static QIONegotiationAction st_status(...) { return DONE or FAILED }
 *
 *     static const QIONegotiationState toy_states[] = {
 *         [ST_START] = { "START", st_start },
 *         [ST_LEN] = { "LEN", st_len },
 *         [ST_NAME] = { "NAME", st_name },
 *         [ST_SECURE] = { "SECURE", st_secure },
 *         [ST_STATUS] = { "STATUS", st_status },
 *     };
 *     static const QIONegotiationProtocol toy_proto = {
 *         "toy", toy_states, G_N_ELEMENTS(toy_states),
 *     };
 *
 *     // On a worker thread:
 *     g_autoptr(QIONegotiation) neg =
 *         qio_negotiation_new(&toy_proto, ST_START, ioc, "toy 10.0.0.1", toy);
 *     qio_negotiation_set_timeout(neg, 10000);
 *     if (qio_negotiation_run_sync(neg, errp) < 0) {
 *         return -1;                         // the caller closes ioc
 *     }
 *     ioc = qio_negotiation_get_channel(neg); // TLS from now on
 *
 *     // Or on a main loop: toy_done is called there with a QIOTask whose
 *     // result pointer is the channel to carry on with.
 *     qio_negotiation_run(neg, toy_done, toy, NULL, context);
 *
 * Errors: I/O errors keep their domain and code, prefixed with the label
 * and what was being read or written ("toy client 10.0.0.1: reading
 * name: ...").  The peer closing before a read is complete is
 * QIO_ERROR_UNEXPECTED_EOF, the deadline QIO_ERROR_TIMED_OUT, the step
 * limit QIO_ERROR_PROTOCOL, a read over the bound QIO_ERROR_TOO_LARGE; a
 * failed TLS upgrade is returned as QIOChannelTLS reported it (its
 * QCRYPTO_ERROR code, a message that names the channel), so that the
 * protocol can say in its own words that TLS failed.  A step's own error
 * is returned as the step set it.  qio_negotiation_get_action() says what
 * the driver was waiting for when it stopped.
 *
 * Tracing: G_MESSAGES_DEBUG=qio-negotiation prints each step and what it
 * asked for; never the bytes.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/tls-creds.h"
#include "io/channel.h"
#include "io/task.h"

G_BEGIN_DECLS

typedef struct QIONegotiation QIONegotiation;

/* What a step asks the driver to do next. */
typedef enum {
    QIO_NEGOTIATION_READ,   /* read exactly N bytes, then the next state */
    QIO_NEGOTIATION_WRITE,  /* flush queued bytes, then the next state */
    QIO_NEGOTIATION_TLS,    /* upgrade the channel to TLS, then next */
    QIO_NEGOTIATION_DONE,   /* flush queued bytes and finish */
    QIO_NEGOTIATION_FAILED, /* finish with the error the step set */
} QIONegotiationAction;

/*
 * A state's step.  The bytes of the read that led here are available
 * from qio_negotiation_get_data() until the step returns.  A step returns
 * what one of qio_negotiation_read(), _flush(), _tls_client() or
 * _tls_server() returned, or QIO_NEGOTIATION_DONE, or
 * QIO_NEGOTIATION_FAILED with @errp set.  @opaque is the one given to
 * qio_negotiation_new().
 */
typedef QIONegotiationAction (*QIONegotiationStep)(QIONegotiation *neg,
                                                   gpointer opaque,
                                                   GError **errp);

typedef struct {
    const char *name; /* for tracing: "GREETING" */
    QIONegotiationStep step;
} QIONegotiationState;

typedef struct {
    const char *name; /* for tracing: "nbd-client" */
    const QIONegotiationState *states;
    unsigned nstates;
} QIONegotiationProtocol;

/* Defaults; see the setters below. */
#define QIO_NEGOTIATION_DEFAULT_MAX_STEPS 1000
#define QIO_NEGOTIATION_DEFAULT_MAX_READ  (1024 * 1024)

/*
 * A negotiation of @proto over @ioc (a reference is taken) starting in
 * state @initial.  @label names the peer in error messages ("NBD server
 * 127.0.0.1:10809").  No deadline until qio_negotiation_set_timeout().
 */
QIONegotiation *qio_negotiation_new(const QIONegotiationProtocol *proto,
                                    unsigned initial, QIOChannel *ioc,
                                    const char *label, gpointer opaque);
/* Must not be called while qio_negotiation_run() is in progress. */
void qio_negotiation_free(QIONegotiation *neg);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QIONegotiation, qio_negotiation_free)

/*
 * One time limit in milliseconds for the whole negotiation, TLS
 * handshakes included, counted from the start of the run; 0 (the default)
 * is none, and TLS handshakes then keep their own limit
 * (QIO_CHANNEL_TLS_HANDSHAKE_TIMEOUT_MS).  The driver does not close the
 * channel when time runs out: the caller does, as after any failure.
 */
void qio_negotiation_set_timeout(QIONegotiation *neg, guint timeout_ms);
/* How many steps may run before the negotiation fails (at least 1). */
void qio_negotiation_set_max_steps(QIONegotiation *neg, unsigned max_steps);
/* The largest single read a step may ask for. */
void qio_negotiation_set_max_read(QIONegotiation *neg, size_t max_read);

/*
 * Run on the calling thread until the negotiation is done (0) or failed
 * (-1, @errp set).  The channel is non-blocking while the driver runs and
 * blocking when this returns, so a thread can carry on with the *_all()
 * calls; waiting runs a private GMainContext, never the caller's.
 */
int qio_negotiation_run_sync(QIONegotiation *neg, GError **errp);

/*
 * Run from watches on @context (NULL: the global default context).
 * @func is called there, never before this returns, with a QIOTask whose
 * source is the channel the negotiation started on; on success its
 * result pointer is the channel to carry on with (borrowed; the same as
 * qio_negotiation_get_channel()).  The channel is left non-blocking.
 * @func may free @neg.  Until @func runs, @neg and the channel must not
 * be used.
 */
void qio_negotiation_run(QIONegotiation *neg, QIOTaskFunc func, gpointer opaque,
                         GDestroyNotify destroy, GMainContext *context);

/* ---- For steps ----------------------------------------------------------- */

/*
 * Queue @len bytes to be written (copied).  @what names them in error
 * messages ("client flags").  They are flushed before the next read, TLS
 * upgrade or the end.
 */
void qio_negotiation_send(QIONegotiation *neg, const void *buf, size_t len,
                          const char *what);

/* Read exactly @len bytes (0 is allowed), then run state @next. */
QIONegotiationAction qio_negotiation_read(QIONegotiation *neg, size_t len,
                                          const char *what, unsigned next);

/* Flush what was queued, then run state @next (at once if nothing was). */
QIONegotiationAction qio_negotiation_flush(QIONegotiation *neg, unsigned next);

/*
 * Flush, then wrap the channel in a QIOChannelTLS as the client (server
 * certificate checked against @hostname) or as the server (client
 * identity checked by the authorization object @authzid, or NULL),
 * complete the handshake and run state @next on the TLS channel.  State
 * @next is where a protocol forgets everything it learnt before TLS.
 */
QIONegotiationAction qio_negotiation_tls_client(QIONegotiation *neg,
                                                QCryptoTLSCreds *creds,
                                                const char *hostname,
                                                unsigned next);
QIONegotiationAction qio_negotiation_tls_server(QIONegotiation *neg,
                                                QCryptoTLSCreds *creds,
                                                const char *authzid,
                                                unsigned next);

/*
 * The bytes of the read that led to the current step (*@len set when
 * @len is not NULL); valid until the step returns.
 */
const uint8_t *qio_negotiation_get_data(QIONegotiation *neg, size_t *len);

/* ---- Queries --------------------------------------------------------------
 */

/* The channel now: the one given, or the TLS channel after an upgrade. */
QIOChannel *qio_negotiation_get_channel(QIONegotiation *neg);
/* The current state, or the last one that ran once finished. */
unsigned qio_negotiation_get_state(QIONegotiation *neg);
/* Steps run so far. */
unsigned qio_negotiation_get_steps(QIONegotiation *neg);
/*
 * What the driver was doing when it stopped: QIO_NEGOTIATION_DONE,
 * QIO_NEGOTIATION_FAILED when a step failed, or READ / WRITE / TLS when
 * that I/O failed or ran out of time.
 */
QIONegotiationAction qio_negotiation_get_action(QIONegotiation *neg);

G_END_DECLS
