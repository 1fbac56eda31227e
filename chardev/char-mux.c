/*
 * The mux chardev: a frontend of its base chardev and a chardev with up
 * to four frontends of its own.  It reads from the base as much as the
 * focused frontend can take, and while that frontend takes nothing (a
 * serial port of a paused machine) up to MUX_PENDING bytes more, kept
 * for it: so the escapes still get through and C-a c or C-a x work
 * whatever the frontend does.  Escape bytes are consumed on the way.
 * Output time
 * stamps are best effort: a stamp that does not fit in the base's window
 * is left out rather than buffered.
 */
#include "chardev/char-mux.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Input kept per frontend while it takes none, as QEMU keeps 32 bytes. */
#define MUX_PENDING 32

typedef struct {
    QIOChardev parent;
    uint8_t pend[QIO_CHARDEV_MUX_MAX][MUX_PENDING];
    size_t pend_len[QIO_CHARDEV_MUX_MAX];
    QIOChardev *base;
    int base_tag;
    int focus;
    unsigned known; /* bitmask of attached tags */
    bool got_escape;
    bool timestamps;
    bool linestart;
    gint64 ts_start;
} QIOChardevMux;
typedef struct {
    QIOChardevClass parent_class;
} QIOChardevMuxClass;

G_DEFINE_TYPE(QIOChardevMux, qio_chardev_mux, QIO_TYPE_CHARDEV)

#define MUX(obj)                                                               \
    G_TYPE_CHECK_INSTANCE_CAST((obj), QIO_TYPE_CHARDEV_MUX, QIOChardevMux)

static QIOChardevMuxQuitFunc quit_func;
static gpointer quit_opaque;

void qio_chardev_mux_set_quit_func(QIOChardevMuxQuitFunc func, gpointer opaque)
{
    quit_func = func;
    quit_opaque = opaque;
}

static bool focused(QIOChardevMux *m, const QIOChardevHandlers **h,
                    gpointer *opaque)
{
    return qio_chardev_get_frontend(QIO_CHARDEV(m), m->focus, h, opaque);
}

static void send_to(QIOChardevMux *m, int tag, QIOChardevEvent ev)
{
    const QIOChardevHandlers *h;
    gpointer opaque;

    if (qio_chardev_get_frontend(QIO_CHARDEV(m), tag, &h, &opaque) &&
        h->event) {
        h->event(opaque, ev);
    }
}

/* Hand the focused frontend what was kept for it, as far as it takes. */
static void flush_pending(QIOChardevMux *m)
{
    const QIOChardevHandlers *h;
    gpointer fe;
    size_t *len, n;

    if (m->focus < 0 || !focused(m, &h, &fe)) {
        return;
    }
    len = &m->pend_len[m->focus];
    n = MIN(*len, h->can_read(fe));
    if (n == 0) {
        return;
    }
    h->read(fe, m->pend[m->focus], n);
    /* The frontend may have been detached or the focus moved meanwhile. */
    if (m->focus >= 0 && len == &m->pend_len[m->focus]) {
        memmove(m->pend[m->focus], m->pend[m->focus] + n, *len - n);
        *len -= n;
    }
}

static void set_focus(QIOChardevMux *m, int tag)
{
    if (m->focus >= 0) {
        send_to(m, m->focus, QIO_CHARDEV_EVENT_MUX_OUT);
    }
    m->focus = tag;
    if (tag >= 0) {
        send_to(m, tag, QIO_CHARDEV_EVENT_MUX_IN);
    }
}

/* The next attached tag after @from, cyclically, or -1. */
static int next_tag(QIOChardevMux *m, int from)
{
    for (int i = 1; i <= QIO_CHARDEV_MUX_MAX; i++) {
        int t = (from + i + QIO_CHARDEV_MUX_MAX) % QIO_CHARDEV_MUX_MAX;

        if (m->known & (1u << t)) {
            return t;
        }
    }
    return -1;
}

/* Write to the base, ignoring what it cannot take (messages, stamps). */
static void say(QIOChardevMux *m, const char *text)
{
    qio_chardev_write(m->base, text, strlen(text), NULL);
}

static void print_help(QIOChardevMux *m)
{
    say(m, "\n\r"
           "C-a h    show these escapes\n\r"
           "C-a x    quit\n\r"
           "C-a s    save disk data (nothing to save)\n\r"
           "C-a t    time stamps on output lines on/off\n\r"
           "C-a b    send a break\n\r"
           "C-a c    switch between the frontends (console, monitor)\n\r"
           "C-a C-a  send C-a\n\r");
}

/* True if @c is data for the focused frontend. */
static bool process_byte(QIOChardevMux *m, uint8_t c)
{
    if (!m->got_escape) {
        if (c == QIO_CHARDEV_MUX_ESCAPE) {
            m->got_escape = true;
            return false;
        }
        return true;
    }
    m->got_escape = false;
    switch (c) {
    case QIO_CHARDEV_MUX_ESCAPE:
        return true;
    case 'h':
    case '?':
        print_help(m);
        break;
    case 'x':
        say(m, "qio: Terminated\n\r");
        if (quit_func) {
            quit_func(quit_opaque);
        } else {
            exit(0);
        }
        break;
    case 's':
        break;
    case 'b':
        send_to(m, m->focus, QIO_CHARDEV_EVENT_BREAK);
        break;
    case 'c':
        set_focus(m, next_tag(m, m->focus));
        /* The new frontend may take more, or less, than the old one. */
        qio_chardev_accept_input(m->base);
        break;
    case 't':
        m->timestamps = !m->timestamps;
        m->ts_start = -1;
        m->linestart = false;
        break;
    default:
        break;
    }
    return false;
}

/* ---- As the base's frontend ------------------------------------------- */

static size_t mux_can_read(gpointer opaque)
{
    QIOChardevMux *m = opaque;
    const QIOChardevHandlers *h;
    gpointer fe;
    size_t room;

    if (!focused(m, &h, &fe)) {
        return 0;
    }
    room = m->pend_len[m->focus] ? 0 : h->can_read(fe);
    return room ? room : MUX_PENDING - m->pend_len[m->focus];
}

/*
 * Give @n bytes to the focused frontend, within what it can take; keep
 * what it cannot take yet, up to MUX_PENDING.  More than that arrives only
 * when C-a c moved the focus in the middle of a read to a frontend with
 * less room: the excess of that one read is dropped.
 */
static void deliver(QIOChardevMux *m, const uint8_t *buf, size_t n)
{
    const QIOChardevHandlers *h;
    gpointer fe;
    size_t now, keep;
    int tag = m->focus;

    if (n == 0 || !focused(m, &h, &fe)) {
        return;
    }
    flush_pending(m);
    if (m->focus != tag) {
        return;
    }
    now = m->pend_len[tag] ? 0 : MIN(n, h->can_read(fe));
    if (now > 0) {
        h->read(fe, buf, now);
    }
    if (m->focus != tag) {
        return;
    }
    keep = MIN(n - now, MUX_PENDING - m->pend_len[tag]);
    memcpy(m->pend[tag] + m->pend_len[tag], buf + now, keep);
    m->pend_len[tag] += keep;
}

static void mux_read(gpointer opaque, const uint8_t *buf, size_t len)
{
    QIOChardevMux *m = opaque;
    uint8_t out[4096];
    size_t n = 0;

    g_object_ref(m);
    for (size_t i = 0; i < len; i++) {
        if (m->got_escape) {
            /* The escape may move the focus: what came before is the old
             * frontend's. */
            deliver(m, out, n);
            n = 0;
        }
        if (process_byte(m, buf[i])) {
            out[n++] = buf[i];
        }
        if (n == sizeof(out)) {
            deliver(m, out, n);
            n = 0;
        }
    }
    deliver(m, out, n);
    g_object_unref(m);
}

static void mux_event(gpointer opaque, QIOChardevEvent ev)
{
    qio_chardev_be_event(QIO_CHARDEV(opaque), ev);
}

static void mux_writable(gpointer opaque)
{
    qio_chardev_be_writable(QIO_CHARDEV(opaque));
}

static const QIOChardevHandlers mux_handlers = {
    .can_read = mux_can_read,
    .read = mux_read,
    .event = mux_event,
    .writable = mux_writable,
};

/* ---- As a chardev ---------------------------------------------------------
 */

static void write_stamp(QIOChardevMux *m)
{
    gint64 now = g_get_monotonic_time() / 1000;
    char stamp[40];
    gint64 ms;

    if (m->ts_start < 0) {
        m->ts_start = now;
    }
    ms = now - m->ts_start;
    snprintf(stamp, sizeof(stamp), "[%02d:%02d:%02d.%03d] ",
             (int)(ms / 3600000), (int)(ms / 60000 % 60), (int)(ms / 1000 % 60),
             (int)(ms % 1000));
    say(m, stamp);
}

static gssize qio_chardev_mux_write(QIOChardev *chr, const uint8_t *buf,
                                    size_t len, GError **errp)
{
    QIOChardevMux *m = MUX(chr);
    size_t done = 0;

    if (!m->timestamps) {
        return qio_chardev_write(m->base, buf, len, errp);
    }
    while (done < len) {
        const uint8_t *nl = memchr(buf + done, '\n', len - done);
        size_t chunk = nl ? (size_t)(nl - (buf + done)) + 1 : len - done;
        gssize n;

        if (m->linestart) {
            write_stamp(m);
            m->linestart = false;
        }
        n = qio_chardev_write(m->base, buf + done, chunk, errp);
        if (n < 0) {
            return done ? (gssize)done : -1;
        }
        done += n;
        if ((size_t)n < chunk) {
            break;
        }
        if (nl) {
            m->linestart = true;
        }
    }
    return done;
}

static void qio_chardev_mux_accept_input(QIOChardev *chr)
{
    flush_pending(MUX(chr));
    qio_chardev_accept_input(MUX(chr)->base);
}

static void qio_chardev_mux_send_break(QIOChardev *chr)
{
    qio_chardev_send_break(MUX(chr)->base);
}

static void qio_chardev_mux_frontend_changed(QIOChardev *chr, bool attached)
{
    QIOChardevMux *m = MUX(chr);
    unsigned now = 0;

    for (int t = 0; t < QIO_CHARDEV_MUX_MAX; t++) {
        const QIOChardevHandlers *h;
        gpointer opaque;

        if (qio_chardev_get_frontend(chr, t, &h, &opaque)) {
            now |= 1u << t;
        }
    }
    if (attached) {
        unsigned added = now & ~m->known;

        m->known = now;
        if (added) {
            /* The newest frontend takes the focus, as in QEMU. */
            set_focus(m, g_bit_nth_lsf(added, -1));
        }
    } else {
        for (int t = 0; t < QIO_CHARDEV_MUX_MAX; t++) {
            if (!(now & (1u << t))) {
                m->pend_len[t] = 0;
            }
        }
        m->known = now;
        if (m->focus >= 0 && !(now & (1u << m->focus))) {
            m->focus = -1;
            set_focus(m, next_tag(m, -1));
        }
    }
    qio_chardev_accept_input(m->base);
}

static unsigned qio_chardev_mux_max_frontends(QIOChardev *chr)
{
    return QIO_CHARDEV_MUX_MAX;
}

static void qio_chardev_mux_close(QIOChardev *chr)
{
    QIOChardevMux *m = MUX(chr);

    if (m->base_tag >= 0) {
        qio_chardev_detach(m->base, m->base_tag);
        m->base_tag = -1;
    }
}

static void qio_chardev_mux_finalize(GObject *obj)
{
    G_OBJECT_CLASS(qio_chardev_mux_parent_class)->finalize(obj);
    g_clear_object(&MUX(obj)->base);
}

static void qio_chardev_mux_class_init(QIOChardevMuxClass *klass)
{
    QIOChardevClass *chr_klass = QIO_CHARDEV_CLASS(klass);

    G_OBJECT_CLASS(klass)->finalize = qio_chardev_mux_finalize;
    chr_klass->backend_name = "mux";
    chr_klass->chr_write = qio_chardev_mux_write;
    chr_klass->chr_accept_input = qio_chardev_mux_accept_input;
    chr_klass->chr_send_break = qio_chardev_mux_send_break;
    chr_klass->chr_frontend_changed = qio_chardev_mux_frontend_changed;
    chr_klass->chr_max_frontends = qio_chardev_mux_max_frontends;
    chr_klass->chr_close = qio_chardev_mux_close;
}

static void qio_chardev_mux_init(QIOChardevMux *m)
{
    m->base_tag = -1;
    m->focus = -1;
    m->ts_start = -1;
}

QIOChardev *qio_chardev_mux_new(const char *id, QIOChardev *base, GError **errp)
{
    QIOChardevMux *m;

    if (id && !qio_chardev_check_id(id, errp)) {
        return NULL;
    }
    m = g_object_new(QIO_TYPE_CHARDEV_MUX, NULL);
    m->base = g_object_ref(base);
    m->base_tag = qio_chardev_attach(base, &mux_handlers, m, errp);
    if (m->base_tag < 0) {
        g_object_unref(m);
        return NULL;
    }
    if (!qio_chardev_register(QIO_CHARDEV(m), id, errp)) {
        qio_chardev_mux_close(QIO_CHARDEV(m));
        g_object_unref(m);
        return NULL;
    }
    if (id) {
        g_object_unref(m);
    }
    return QIO_CHARDEV(m);
}

int qio_chardev_mux_get_focus(QIOChardev *chr)
{
    return G_TYPE_CHECK_INSTANCE_TYPE(chr, QIO_TYPE_CHARDEV_MUX)
               ? MUX(chr)->focus
               : -1;
}

QIOChardev *qio_chardev_mux_get_base(QIOChardev *chr)
{
    return G_TYPE_CHECK_INSTANCE_TYPE(chr, QIO_TYPE_CHARDEV_MUX)
               ? MUX(chr)->base
               : NULL;
}
