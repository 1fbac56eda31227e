/*
 * The line-paced, bounded frontend behind HMP and the serial consoles.
 * The subtle part is the order of the checks: input is taken only while
 * the owner may read and output is below the limit, and what was taken
 * but not yet used waits in a stash of at most VM_TERM_IN_CHUNK bytes
 * (can_read is 0 while the stash is not empty), so memory stays bounded
 * whatever the peer sends.
 */
#include "vm/term.h"

#include <string.h>

struct VMTerm {
    QIOChardev *chr;
    int tag;
    const VMTermOps *ops;
    void *opaque;
    GByteArray *out;
    GByteArray *stash;
    bool processing;
    bool opened; /* the owner was told of the current peer */
};

static bool congested(VMTerm *t)
{
    return t->out->len >= VM_TERM_OUT_LIMIT;
}

static bool owner_may_read(VMTerm *t)
{
    return !t->ops->may_read || t->ops->may_read(t->opaque);
}

static void flush(VMTerm *t)
{
    while (t->out->len) {
        g_autoptr(GError) err = NULL;
        gssize n = qio_chardev_write(t->chr, t->out->data, t->out->len, &err);

        if (n < 0) {
            /* The peer is gone; its CLOSED event follows. */
            g_byte_array_set_size(t->out, 0);
            return;
        }
        if (n == 0) {
            return;
        }
        g_byte_array_remove_range(t->out, 0, (guint)n);
    }
}

/* Pass stashed input on, a line at a time, while allowed. */
static void process(VMTerm *t)
{
    if (t->processing) {
        return; /* an input handler wrote and flushed; we are below it */
    }
    t->processing = true;
    while (t->stash->len && !congested(t) && owner_may_read(t)) {
        const uint8_t *p = t->stash->data;
        size_t n = 0;

        while (n < t->stash->len && p[n] != '\r' && p[n] != '\n') {
            n++;
        }
        if (n < t->stash->len) {
            n++; /* the line end */
        }
        {
            g_autofree uint8_t *chunk = g_memdup2(p, n);

            g_byte_array_remove_range(t->stash, 0, (guint)n);
            t->ops->input(t->opaque, chunk, n);
        }
    }
    t->processing = false;
}

static size_t term_can_read(gpointer opaque)
{
    VMTerm *t = opaque;

    /* Input before the peer is reported (and greeted) waits. */
    if (!t->opened || t->stash->len || congested(t) || !owner_may_read(t)) {
        return 0;
    }
    return VM_TERM_IN_CHUNK;
}

static void term_read(gpointer opaque, const uint8_t *buf, size_t len)
{
    VMTerm *t = opaque;

    /* can_read bounded len; the stash was empty when it said so. */
    g_byte_array_append(t->stash, buf, (guint)MIN(len, VM_TERM_IN_CHUNK));
    process(t);
}

static void term_event(gpointer opaque, QIOChardevEvent event)
{
    VMTerm *t = opaque;

    switch (event) {
    case QIO_CHARDEV_EVENT_OPENED:
        /* Already told by vm_term_start(). */
        if (!t->opened) {
            t->opened = true;
            if (t->ops->opened) {
                t->ops->opened(t->opaque);
            }
            vm_term_kick(t);
        }
        break;
    case QIO_CHARDEV_EVENT_CLOSED:
        t->opened = false;
        g_byte_array_set_size(t->out, 0);
        g_byte_array_set_size(t->stash, 0);
        if (t->ops->closed) {
            t->ops->closed(t->opaque);
        }
        qio_chardev_accept_input(t->chr);
        break;
    default:
        break;
    }
}

static void term_writable(gpointer opaque)
{
    VMTerm *t = opaque;

    flush(t);
    vm_term_kick(t);
}

static const QIOChardevHandlers term_handlers = {
    .can_read = term_can_read,
    .read = term_read,
    .event = term_event,
    .writable = term_writable,
};

VMTerm *vm_term_new(QIOChardev *chr, const VMTermOps *ops, void *opaque,
                    GError **errp)
{
    VMTerm *t = g_new0(VMTerm, 1);

    t->chr = g_object_ref(chr);
    t->ops = ops;
    t->opaque = opaque;
    t->out = g_byte_array_new();
    t->stash = g_byte_array_new();
    t->tag = qio_chardev_attach(chr, &term_handlers, t, errp);
    if (t->tag < 0) {
        g_object_unref(t->chr);
        g_byte_array_unref(t->out);
        g_byte_array_unref(t->stash);
        g_free(t);
        return NULL;
    }
    return t;
}

void vm_term_start(VMTerm *t)
{
    /*
     * A chardev whose peer is there already (stdio, a file, a server
     * that waited for its client) reports OPENED later, from its
     * context, and may deliver input before that: tell the owner now, so
     * a banner comes before the answers.  Not from vm_term_new(): the
     * owner's opened() writes through the term, which the owner must
     * have stored first.
     */
    if (!t->opened && qio_chardev_be_is_open(t->chr)) {
        t->opened = true;
        if (t->ops->opened) {
            t->ops->opened(t->opaque);
        }
        vm_term_kick(t);
    }
}

void vm_term_free(VMTerm *t)
{
    if (!t) {
        return;
    }
    qio_chardev_detach(t->chr, t->tag);
    g_object_unref(t->chr);
    g_byte_array_unref(t->out);
    g_byte_array_unref(t->stash);
    g_free(t);
}

void vm_term_write(VMTerm *t, const void *buf, size_t len)
{
    g_byte_array_append(t->out, buf, (guint)len);
    flush(t);
}

size_t vm_term_pending(VMTerm *t)
{
    return t->out->len;
}

void vm_term_kick(VMTerm *t)
{
    process(t);
    if (t->opened && !t->stash->len && !congested(t) && owner_may_read(t)) {
        qio_chardev_accept_input(t->chr);
    }
}

QIOChardev *vm_term_get_chardev(VMTerm *t)
{
    return t->chr;
}
