/*
 * The resumable negotiation driver (include/io/negotiation.h).
 *
 * One engine serves both modes: drive() runs steps and non-blocking I/O
 * for as long as they make progress, and when the channel would block it
 * arms one watch on the negotiation's context and returns.  The blocking
 * mode is that engine on a private context that the calling thread
 * iterates until the negotiation finishes; the main loop mode is the
 * same engine on the caller's context, ending in a QIOTask.  A TLS
 * upgrade is QIOChannelTLS's own asynchronous handshake on that context,
 * given what is left of the deadline as its time limit.
 */
#define G_LOG_DOMAIN "qio-negotiation"

#include "io/negotiation.h"

#include <inttypes.h>
#include <string.h>

#include "io/channel-tls.h"

typedef enum {
    PHASE_STEP,  /* run the current state's step */
    PHASE_FLUSH, /* write the queued bytes, then the action */
    PHASE_READ,  /* fill the read buffer */
    PHASE_TLS,   /* start the upgrade */
    PHASE_WAIT,  /* a TLS handshake is running */
} Phase;

/* Where a queued piece of output ends, and what it is, for messages. */
typedef struct {
    size_t end;
    const char *what;
} OutMark;

struct QIONegotiation {
    const QIONegotiationProtocol *proto;
    QIOChannel *ioc;
    char *label;
    gpointer opaque;
    unsigned state;
    guint timeout_ms;
    unsigned max_steps;
    unsigned steps;
    size_t max_read;

    /* What the last step asked for. */
    QIONegotiationAction action;
    bool asked;
    unsigned next;
    size_t want;
    const char *what;
    QCryptoTLSCreds *tls_creds;
    char *tls_name; /* host name (client) or authz id (server) */
    bool tls_server;

    GByteArray *in; /* in->len bytes wanted; have of them read */
    size_t have;
    bool data_valid; /* in holds the read that led to this step */
    GByteArray *out;
    size_t out_done;
    GArray *out_marks; /* of OutMark */

    /* A run. */
    Phase phase;
    bool running;
    bool finished;
    bool sync;
    bool expired;
    gint64 deadline; /* monotonic microseconds, -1: none */
    GMainContext *context;
    GSource *watch;
    GSource *timer;
    QIOChannelTLS *tls; /* the handshake in progress */
    QIOTask *task;
    GError *err; /* blocking mode's outcome */
};

static const char *action_name(QIONegotiationAction action)
{
    switch (action) {
    case QIO_NEGOTIATION_READ:
        return "read";
    case QIO_NEGOTIATION_WRITE:
        return "write";
    case QIO_NEGOTIATION_TLS:
        return "TLS";
    case QIO_NEGOTIATION_DONE:
        return "done";
    case QIO_NEGOTIATION_FAILED:
        return "failed";
    }
    return "?";
}

static const char *state_name(QIONegotiation *neg)
{
    const char *name = neg->proto->states[neg->state].name;

    return name ? name : "?";
}

QIONegotiation *qio_negotiation_new(const QIONegotiationProtocol *proto,
                                    unsigned initial, QIOChannel *ioc,
                                    const char *label, gpointer opaque)
{
    QIONegotiation *neg;

    g_return_val_if_fail(proto && initial < proto->nstates, NULL);
    g_return_val_if_fail(QIO_IS_CHANNEL(ioc), NULL);
    neg = g_new0(QIONegotiation, 1);
    neg->proto = proto;
    neg->state = initial;
    neg->ioc = g_object_ref(ioc);
    neg->label = g_strdup(label ? label : qio_channel_get_name(ioc));
    neg->opaque = opaque;
    neg->max_steps = QIO_NEGOTIATION_DEFAULT_MAX_STEPS;
    neg->max_read = QIO_NEGOTIATION_DEFAULT_MAX_READ;
    neg->in = g_byte_array_new();
    neg->out = g_byte_array_new();
    neg->out_marks = g_array_new(FALSE, FALSE, sizeof(OutMark));
    neg->action = QIO_NEGOTIATION_READ;
    neg->deadline = -1;
    return neg;
}

void qio_negotiation_free(QIONegotiation *neg)
{
    if (!neg) {
        return;
    }
    g_return_if_fail(!neg->running);
    g_object_unref(neg->ioc);
    g_free(neg->label);
    g_clear_object(&neg->tls_creds);
    g_free(neg->tls_name);
    g_byte_array_unref(neg->in);
    g_byte_array_unref(neg->out);
    g_array_unref(neg->out_marks);
    g_clear_error(&neg->err);
    g_free(neg);
}

void qio_negotiation_set_timeout(QIONegotiation *neg, guint timeout_ms)
{
    neg->timeout_ms = timeout_ms;
}

void qio_negotiation_set_max_steps(QIONegotiation *neg, unsigned max_steps)
{
    neg->max_steps = MAX(max_steps, 1);
}

void qio_negotiation_set_max_read(QIONegotiation *neg, size_t max_read)
{
    neg->max_read = max_read;
}

/* ---- What steps call ---------------------------------------------------- */

void qio_negotiation_send(QIONegotiation *neg, const void *buf, size_t len,
                          const char *what)
{
    OutMark mark;

    g_byte_array_append(neg->out, buf, len);
    mark.end = neg->out->len;
    mark.what = what ? what : "data";
    g_array_append_val(neg->out_marks, mark);
}

static QIONegotiationAction ask(QIONegotiation *neg,
                                QIONegotiationAction action, unsigned next)
{
    g_assert(next < neg->proto->nstates);
    neg->action = action;
    neg->next = next;
    neg->asked = true;
    return action;
}

QIONegotiationAction qio_negotiation_read(QIONegotiation *neg, size_t len,
                                          const char *what, unsigned next)
{
    neg->want = len;
    neg->what = what ? what : "data";
    return ask(neg, QIO_NEGOTIATION_READ, next);
}

QIONegotiationAction qio_negotiation_flush(QIONegotiation *neg, unsigned next)
{
    return ask(neg, QIO_NEGOTIATION_WRITE, next);
}

static QIONegotiationAction ask_tls(QIONegotiation *neg, QCryptoTLSCreds *creds,
                                    const char *name, bool server,
                                    unsigned next)
{
    g_set_object(&neg->tls_creds, creds);
    g_free(neg->tls_name);
    neg->tls_name = g_strdup(name);
    neg->tls_server = server;
    return ask(neg, QIO_NEGOTIATION_TLS, next);
}

QIONegotiationAction qio_negotiation_tls_client(QIONegotiation *neg,
                                                QCryptoTLSCreds *creds,
                                                const char *hostname,
                                                unsigned next)
{
    return ask_tls(neg, creds, hostname, false, next);
}

QIONegotiationAction qio_negotiation_tls_server(QIONegotiation *neg,
                                                QCryptoTLSCreds *creds,
                                                const char *authzid,
                                                unsigned next)
{
    return ask_tls(neg, creds, authzid, true, next);
}

const uint8_t *qio_negotiation_get_data(QIONegotiation *neg, size_t *len)
{
    size_t n = neg->data_valid ? neg->have : 0;

    if (len) {
        *len = n;
    }
    return n ? neg->in->data : (const uint8_t *)"";
}

QIOChannel *qio_negotiation_get_channel(QIONegotiation *neg)
{
    return neg->ioc;
}

unsigned qio_negotiation_get_state(QIONegotiation *neg)
{
    return neg->state;
}

unsigned qio_negotiation_get_steps(QIONegotiation *neg)
{
    return neg->steps;
}

QIONegotiationAction qio_negotiation_get_action(QIONegotiation *neg)
{
    return neg->action;
}

/* ---- The engine --------------------------------------------------------- */

static void drive(QIONegotiation *neg);

/*
 * End the run with @err (owned) or success.  In the main loop mode this
 * completes the task, whose callback may free @neg: callers return at
 * once.
 */
static void finish(QIONegotiation *neg, GError *err)
{
    QIOTask *task = neg->task;

    if (neg->watch) {
        g_source_destroy(neg->watch);
        neg->watch = NULL;
    }
    if (neg->timer) {
        g_source_destroy(neg->timer);
        neg->timer = NULL;
    }
    g_byte_array_set_size(neg->out, 0);
    g_array_set_size(neg->out_marks, 0);
    neg->out_done = 0;
    neg->data_valid = false;
    neg->finished = true;
    neg->running = false;
    g_debug("%s %s: %s in state %s after %u steps: %s", neg->proto->name,
            neg->label, err ? "failed" : "done", state_name(neg), neg->steps,
            err ? err->message : "ok");
    if (neg->sync) {
        neg->err = err;
        return;
    }
    neg->task = NULL;
    g_main_context_unref(neg->context);
    neg->context = NULL;
    if (err) {
        qio_task_set_error(task, err);
    } else {
        qio_task_set_result_pointer(task, neg->ioc, NULL);
    }
    qio_task_complete(task);
}

static void fail_timeout(QIONegotiation *neg)
{
    const char *doing = neg->phase == PHASE_FLUSH  ? "sending"
                        : neg->phase == PHASE_READ ? "reading"
                        : neg->phase == PHASE_STEP ? "negotiating"
                                                   : "in the TLS handshake";
    const char *what = neg->phase == PHASE_READ ? neg->what : "";

    if (neg->phase == PHASE_FLUSH) {
        for (guint i = 0; i < neg->out_marks->len; i++) {
            OutMark *m = &g_array_index(neg->out_marks, OutMark, i);

            if (neg->out_done < m->end) {
                what = m->what;
                break;
            }
        }
    }
    if (neg->phase == PHASE_FLUSH) {
        neg->action = QIO_NEGOTIATION_WRITE;
    }
    finish(neg, g_error_new(QIO_ERROR, QIO_ERROR_TIMED_OUT,
                            "%s: %s timed out after %u ms while %s%s%s",
                            neg->label, neg->proto->name, neg->timeout_ms,
                            doing, *what ? " " : "", what));
}

static gboolean on_ready(QIOChannel *ioc, GIOCondition cond, gpointer opaque)
{
    QIONegotiation *neg = opaque;

    neg->watch = NULL; /* removed when this returns */
    drive(neg);
    return G_SOURCE_REMOVE;
}

static void wait_for(QIONegotiation *neg, GIOCondition cond)
{
    GSource *src = qio_channel_create_watch(neg->ioc, cond);

    g_source_set_callback(src, (GSourceFunc)(void (*)(void))on_ready, neg,
                          NULL);
    g_source_attach(src, neg->context);
    g_source_unref(src);
    neg->watch = src;
}

static gboolean on_timeout(gpointer opaque)
{
    QIONegotiation *neg = opaque;

    neg->timer = NULL;
    neg->expired = true;
    if (neg->phase == PHASE_WAIT) {
        /* The handshake has the same deadline and reports it itself. */
        return G_SOURCE_REMOVE;
    }
    fail_timeout(neg);
    return G_SOURCE_REMOVE;
}

/* Run one step.  False when the run finished. */
static bool run_step(QIONegotiation *neg)
{
    const QIONegotiationState *st = &neg->proto->states[neg->state];
    GError *err = NULL;
    QIONegotiationAction action;

    if (neg->deadline >= 0 && g_get_monotonic_time() >= neg->deadline) {
        fail_timeout(neg);
        return false;
    }
    if (neg->steps >= neg->max_steps) {
        neg->action = QIO_NEGOTIATION_FAILED;
        finish(neg, g_error_new(QIO_ERROR, QIO_ERROR_PROTOCOL,
                                "%s: %s took more than %u steps; giving up",
                                neg->label, neg->proto->name, neg->max_steps));
        return false;
    }
    neg->steps++;
    neg->asked = false;
    action = st->step(neg, neg->opaque, &err);
    neg->data_valid = false;
    neg->have = 0;
    g_debug("%s %s: %s -> %s", neg->proto->name, neg->label, state_name(neg),
            action_name(action));
    if (action == QIO_NEGOTIATION_FAILED) {
        neg->action = action;
        if (!err) {
            /* A step that forgot its error must still not succeed. */
            err = g_error_new(QIO_ERROR, QIO_ERROR_FAILED,
                              "%s: %s failed in state %s", neg->label,
                              neg->proto->name, state_name(neg));
        }
        finish(neg, err);
        return false;
    }
    g_assert(!err);
    if (action == QIO_NEGOTIATION_DONE) {
        neg->action = action;
    } else {
        /* READ, WRITE and TLS come from the functions that record them. */
        g_assert(neg->asked && neg->action == action);
    }
    if (action == QIO_NEGOTIATION_READ) {
        if (neg->want > neg->max_read) {
            finish(neg, g_error_new(QIO_ERROR, QIO_ERROR_TOO_LARGE,
                                    "%s: %s: %zu bytes of %s is over the "
                                    "limit of %zu",
                                    neg->label, neg->proto->name, neg->want,
                                    neg->what, neg->max_read));
            return false;
        }
        g_byte_array_set_size(neg->in, neg->want);
    }
    neg->phase = PHASE_FLUSH;
    return true;
}

/* The action after the flush.  False when the run finished. */
static bool after_flush(QIONegotiation *neg)
{
    switch (neg->action) {
    case QIO_NEGOTIATION_READ:
        neg->phase = PHASE_READ;
        return true;
    case QIO_NEGOTIATION_TLS:
        neg->phase = PHASE_TLS;
        return true;
    case QIO_NEGOTIATION_DONE:
        finish(neg, NULL);
        return false;
    default:
        neg->state = neg->next;
        neg->phase = PHASE_STEP;
        return true;
    }
}

/* Write what is queued.  False when waiting or finished. */
static bool do_flush(QIONegotiation *neg)
{
    while (neg->out_done < neg->out->len) {
        GError *err = NULL;
        gssize n = qio_channel_write(neg->ioc, neg->out->data + neg->out_done,
                                     neg->out->len - neg->out_done, &err);
        const char *what = "data";

        if (n == QIO_CHANNEL_ERR_BLOCK) {
            wait_for(neg, G_IO_OUT);
            return false;
        }
        for (guint i = 0; i < neg->out_marks->len; i++) {
            OutMark *m = &g_array_index(neg->out_marks, OutMark, i);

            if (neg->out_done < m->end) {
                what = m->what;
                break;
            }
        }
        if (n <= 0) {
            neg->action = QIO_NEGOTIATION_WRITE;
            if (n == 0) {
                err = g_error_new(QIO_ERROR, QIO_ERROR_FAILED,
                                  "%s: the channel accepted none of %zu "
                                  "bytes",
                                  qio_channel_get_name(neg->ioc),
                                  neg->out->len - neg->out_done);
            }
            g_prefix_error(&err, "%s: sending %s: ", neg->label, what);
            finish(neg, err);
            return false;
        }
        neg->out_done += n;
    }
    g_byte_array_set_size(neg->out, 0);
    g_array_set_size(neg->out_marks, 0);
    neg->out_done = 0;
    return after_flush(neg);
}

/* Fill the read buffer.  False when waiting or finished. */
static bool do_read(QIONegotiation *neg)
{
    while (neg->have < neg->in->len) {
        GError *err = NULL;
        /* Exactly what is missing: never a byte of what follows. */
        gssize n = qio_channel_read(neg->ioc, neg->in->data + neg->have,
                                    neg->in->len - neg->have, &err);

        if (n == QIO_CHANNEL_ERR_BLOCK) {
            wait_for(neg, G_IO_IN);
            return false;
        }
        if (n < 0) {
            g_prefix_error(&err, "%s: reading %s: ", neg->label, neg->what);
            finish(neg, err);
            return false;
        }
        if (n == 0) {
            finish(neg,
                   g_error_new(QIO_ERROR, QIO_ERROR_UNEXPECTED_EOF,
                               "%s: reading %s: the peer closed the "
                               "connection after %zu of %u bytes",
                               neg->label, neg->what, neg->have, neg->in->len));
            return false;
        }
        neg->have += n;
    }
    neg->data_valid = true;
    neg->state = neg->next;
    neg->phase = PHASE_STEP;
    return true;
}

static void tls_done(QIOTask *task, gpointer opaque)
{
    QIONegotiation *neg = opaque;
    g_autoptr(QIOChannelTLS) tioc = g_steal_pointer(&neg->tls);
    GError *err = NULL;

    if (qio_task_propagate_error(task, &err)) {
        if (neg->expired) {
            g_clear_error(&err);
            neg->phase = PHASE_TLS;
            fail_timeout(neg);
            return;
        }
        /* QIOChannelTLS's message names the channel and the peer. */
        finish(neg, err);
        return;
    }
    /* Steps run non-blocking, whatever the handshake left behind. */
    if (qio_channel_set_blocking(QIO_CHANNEL(tioc), false, &err) < 0) {
        g_prefix_error(&err, "%s: after the TLS handshake: ", neg->label);
        finish(neg, err);
        return;
    }
    g_object_unref(neg->ioc);
    neg->ioc = QIO_CHANNEL(g_steal_pointer(&tioc));
    neg->state = neg->next;
    neg->phase = PHASE_STEP;
    g_debug("%s %s: TLS is up", neg->proto->name, neg->label);
    drive(neg);
}

/* Start the upgrade.  False always: the handshake resumes the run. */
static bool do_tls(QIONegotiation *neg)
{
    GError *err = NULL;
    QIOChannelTLS *tioc;

    if (neg->tls_server) {
        tioc = qio_channel_tls_new_server(neg->ioc, neg->tls_creds,
                                          neg->tls_name, &err);
    } else {
        tioc = qio_channel_tls_new_client(neg->ioc, neg->tls_creds,
                                          neg->tls_name, &err);
    }
    if (!tioc) {
        finish(neg, err);
        return false;
    }
    if (neg->deadline >= 0) {
        gint64 left = neg->deadline - g_get_monotonic_time();

        if (left <= 0) {
            g_object_unref(tioc);
            fail_timeout(neg);
            return false;
        }
        qio_channel_tls_set_handshake_timeout(
            tioc, (guint)MIN((left + 999) / 1000, G_MAXUINT));
    }
    neg->tls = tioc;
    neg->phase = PHASE_WAIT;
    qio_channel_tls_handshake(tioc, tls_done, neg, NULL, neg->context);
    return false;
}

static void drive(QIONegotiation *neg)
{
    bool more = true;

    while (more) {
        switch (neg->phase) {
        case PHASE_STEP:
            more = run_step(neg);
            break;
        case PHASE_FLUSH:
            more = do_flush(neg);
            break;
        case PHASE_READ:
            more = do_read(neg);
            break;
        case PHASE_TLS:
            more = do_tls(neg);
            break;
        case PHASE_WAIT:
            more = false;
            break;
        }
    }
}

/* Common start of both modes, on neg->context. */
static void start(QIONegotiation *neg)
{
    g_return_if_fail(!neg->running && !neg->finished);
    neg->running = true;
    neg->phase = PHASE_STEP;
    neg->steps = 0;
    neg->expired = false;
    neg->deadline = -1;
    if (neg->timeout_ms) {
        neg->deadline = g_get_monotonic_time() + (gint64)neg->timeout_ms * 1000;
        neg->timer = g_timeout_source_new(neg->timeout_ms);
        g_source_set_callback(neg->timer, on_timeout, neg, NULL);
        g_source_attach(neg->timer, neg->context);
        g_source_unref(neg->timer);
    }
    g_debug("%s %s: start in state %s (limit %u ms, %u steps)",
            neg->proto->name, neg->label, state_name(neg), neg->timeout_ms,
            neg->max_steps);
}

int qio_negotiation_run_sync(QIONegotiation *neg, GError **errp)
{
    g_autoptr(GMainContext) ctx = NULL;

    g_return_val_if_fail(!neg->running && !neg->finished, -1);
    if (qio_channel_set_blocking(neg->ioc, false, errp) < 0) {
        g_prefix_error(errp, "%s: ", neg->label);
        return -1;
    }
    ctx = g_main_context_new();
    neg->context = ctx;
    neg->sync = true;
    start(neg);
    drive(neg);
    while (!neg->finished) {
        g_main_context_iteration(ctx, TRUE);
    }
    neg->context = NULL;
    qio_channel_set_blocking(neg->ioc, true, NULL);
    if (neg->err) {
        g_propagate_error(errp, g_steal_pointer(&neg->err));
        return -1;
    }
    return 0;
}

static gboolean start_later(gpointer opaque)
{
    QIONegotiation *neg = opaque;

    neg->watch = NULL;
    if (neg->err) {
        finish(neg, g_steal_pointer(&neg->err));
        return G_SOURCE_REMOVE;
    }
    drive(neg);
    return G_SOURCE_REMOVE;
}

void qio_negotiation_run(QIONegotiation *neg, QIOTaskFunc func, gpointer opaque,
                         GDestroyNotify destroy, GMainContext *context)
{
    GError *err = NULL;
    GSource *src;

    g_return_if_fail(!neg->running && !neg->finished);
    neg->task = qio_task_new(G_OBJECT(neg->ioc), func, opaque, destroy);
    neg->context =
        g_main_context_ref(context ? context : g_main_context_default());
    neg->sync = false;
    start(neg);
    if (qio_channel_set_blocking(neg->ioc, false, &err) < 0) {
        g_prefix_error(&err, "%s: ", neg->label);
        neg->action = QIO_NEGOTIATION_FAILED;
        /* Report from the context all the same, never from in here. */
        neg->phase = PHASE_WAIT;
        neg->err = err;
    }
    src = g_idle_source_new();
    g_source_set_callback(src, start_later, neg, NULL);
    g_source_attach(src, neg->context);
    g_source_unref(src);
    neg->watch = src;
}
