/*
 * A terminal-like frontend on a chardev, shared by the HMP monitor and
 * the serial ports' guest console: it hands input to its owner a line at
 * a time and queues output, so that one slow or stalled peer costs a
 * bounded amount of memory and never blocks the main loop.
 *
 *     static const VMTermOps ops = { .opened = banner, .input = feed };
 *     owner->term = vm_term_new(chr, &ops, owner, errp);
 *     vm_term_start(owner->term);
 *     vm_term_write(owner->term, "(qemu) ", 7);
 *
 * Flow control: output the chardev cannot take now is queued; while the
 * queue holds VM_TERM_OUT_LIMIT bytes or more, no more input is taken
 * (the chardev stops reading, so the peer's own buffers fill).  Input is
 * passed on up to and including each line end, and the rest waits while
 * output is congested, so a peer that sends many commands in one write
 * without reading the answers gets at most one command's answer beyond
 * the limit.  No input is taken before the peer is reported (OPENED, or
 * a chardev already open when the term attaches), so the owner's banner
 * always comes first.  An owner that must not take input for a while (a serial
 * port while the machine is paused) says so with may_read and calls
 * vm_term_kick() when that changes.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chardev/char.h"

G_BEGIN_DECLS

/* Queued output at which input stops. */
#define VM_TERM_OUT_LIMIT (64 * 1024)
/* Input taken from the chardev at once. */
#define VM_TERM_IN_CHUNK 4096

typedef struct VMTerm VMTerm;

typedef struct VMTermOps {
    /* A peer connected (for a socket: after TLS and authz). Optional. */
    void (*opened)(void *opaque);
    /* The peer went away; queued output was dropped. Optional. */
    void (*closed)(void *opaque);
    /* Input: at most one line end, which is then the last byte. */
    void (*input)(void *opaque, const uint8_t *buf, size_t len);
    /* Whether input may be taken now; NULL means always. */
    bool (*may_read)(void *opaque);
} VMTermOps;

/*
 * Attach to @chr; fails (QIO_ERROR) when the chardev is busy.  No
 * callback runs before vm_term_start().
 */
VMTerm *vm_term_new(QIOChardev *chr, const VMTermOps *ops, void *opaque,
                    GError **errp);

/*
 * Call once the owner has stored the term: when the chardev's peer is
 * there already, ops->opened runs now.
 */
void vm_term_start(VMTerm *t);

/* Detach and drop queued output. */
void vm_term_free(VMTerm *t);

/* Queue @len bytes for the peer (never blocks, never fails). */
void vm_term_write(VMTerm *t, const void *buf, size_t len);

/* Bytes queued and not yet taken by the chardev. */
size_t vm_term_pending(VMTerm *t);

/* may_read may have changed: process waiting input, let input flow. */
void vm_term_kick(VMTerm *t);

QIOChardev *vm_term_get_chardev(VMTerm *t);

G_END_DECLS
