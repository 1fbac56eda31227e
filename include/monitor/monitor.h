/*
 * Monitor: what every monitor (QMP, and HMP in vm/) shares: a byte stream
 * to one peer with bounded output, the descriptors the peer passed, and
 * the "current monitor" that a command implementation asks for.
 *
 * A subclass gets the peer's bytes in its input() method and writes with
 * monitor_write().  The bytes come from, and go to, either a character
 * device (monitor_attach_chardev()) or the caller directly, which is how
 * the unit tests drive a monitor:
 *
 *     Monitor *mon = MONITOR_BASE(monitor_qmp_new(&opts));
 *     monitor_peer_opened(mon);                  // greeting is queued
 *     out = monitor_output_peek(mon, &len);      // ... read it
 *     monitor_output_consume(mon, len);
 *     n = MIN(monitor_can_input(mon), inlen);    // 0: stop reading
 *     monitor_input(mon, in, n);
 *
 * Output is bounded: while more than MONITOR_OUTPUT_HIGH bytes wait for
 * the peer, monitor_can_input() is 0, so a peer that does not read its
 * replies is not read either; a subclass also stops handling requests
 * it already holds until the output drains (input_backlog and
 * output_drained), so one read of small requests with large replies
 * cannot pile up output either.  What a monitor sends unasked (QMP events)
 * is dropped for that peer once MONITOR_OUTPUT_MAX bytes wait (see
 * monitor_write_unsolicited()).  Nothing blocks, so such a peer never
 * stalls the other monitors.
 *
 * Descriptors (QMP getfd/closefd): the peer passes one with SCM_RIGHTS
 * along with a command; monitor_take_received_fd() takes it, and
 * monitor_fd_add() keeps it under a name until monitor_fd_remove() or
 * the monitor goes away.  Other code finds it with monitor_fd_get().
 *
 * All of this runs on one thread: the one that runs the main context the
 * monitor's chardev uses.
 */
#pragma once

#include <glib-object.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chardev/char.h"

G_BEGIN_DECLS

#define MONITOR_TYPE_BASE (monitor_get_type())
G_DECLARE_DERIVABLE_TYPE(Monitor, monitor, MONITOR, BASE, GObject)

/* Above this many bytes of pending output the monitor reads no input. */
#define MONITOR_OUTPUT_HIGH (64 * 1024)
/* Above this many, unsolicited output (events) is dropped for the peer. */
#define MONITOR_OUTPUT_MAX (1024 * 1024)
/* Input taken at once: bounds the replies one read can cause. */
#define MONITOR_INPUT_CHUNK 4096
/* Named descriptors one monitor keeps. */
#define MONITOR_MAX_FDS 64

struct _MonitorClass {
    GObjectClass parent_class;

    /* Mandatory: the peer sent @len bytes (at most monitor_can_input()). */
    void (*input)(Monitor *mon, const uint8_t *buf, size_t len);
    /* Optional: a peer connected (send a greeting, a banner). */
    void (*opened)(Monitor *mon);
    /* Optional: the peer went away (forget its session state). */
    void (*closed)(Monitor *mon);
    /*
     * Optional: bytes of input the subclass holds unprocessed; while
     * there are any, monitor_can_input() is 0.
     */
    size_t (*input_backlog)(Monitor *mon);
    /*
     * Optional: output went below MONITOR_OUTPUT_HIGH; process held
     * input (runs as the current monitor).
     */
    void (*output_drained)(Monitor *mon);
};

/* ---- The byte interface --------------------------------------------------
 */

/* How many bytes monitor_input() takes now; 0 while output is backed up. */
size_t monitor_can_input(Monitor *mon);
/* Bytes from the peer; the subclass's input() runs as the current monitor. */
void monitor_input(Monitor *mon, const void *buf, size_t len);
/* A peer connected; pending output is dropped first. */
void monitor_peer_opened(Monitor *mon);
/* The peer went away; pending output and descriptors received are dropped. */
void monitor_peer_closed(Monitor *mon);
/* True between monitor_peer_opened() and monitor_peer_closed(). */
bool monitor_is_open(Monitor *mon);

/* For subclasses: queue @len bytes for the peer and push them out. */
void monitor_write(Monitor *mon, const void *buf, size_t len);
/*
 * The same for output the peer did not ask for: false, and nothing
 * queued, when MONITOR_OUTPUT_MAX bytes already wait (a warning is
 * logged, rate limited).
 */
bool monitor_write_unsolicited(Monitor *mon, const void *buf, size_t len);

/* The bytes waiting for the peer (when no chardev takes them). */
const uint8_t *monitor_output_peek(Monitor *mon, size_t *len);
/* The peer took @len of them. */
void monitor_output_consume(Monitor *mon, size_t len);
/* How many bytes wait for the peer. */
size_t monitor_output_pending(Monitor *mon);

/* ---- On a character device ----------------------------------------------
 */

/*
 * Make @chr the monitor's transport, as -mon chardev=ID does: its peer's
 * bytes become input, output goes to it without blocking (what it does not
 * take now waits, bounded as above, until it is writable), OPENED and
 * CLOSED become monitor_peer_opened() and monitor_peer_closed(), and
 * descriptors the peer passes are what monitor_take_received_fd() returns.
 * False with @errp set when the chardev has no free frontend slot, or the
 * monitor has a chardev already.  The monitor holds a reference to @chr.
 */
bool monitor_attach_chardev(Monitor *mon, QIOChardev *chr, GError **errp);
/* Let go of the chardev (also done when the monitor is finalized). */
void monitor_detach_chardev(Monitor *mon);
/* The chardev, borrowed, or NULL. */
QIOChardev *monitor_get_chardev(Monitor *mon);

/* ---- The current monitor -------------------------------------------------
 */

/*
 * The monitor whose command is running on this thread, or NULL (a command
 * run from the command line or a test).  getfd, closefd, qmp_capabilities,
 * query-commands and human-monitor-command find their monitor here.
 */
Monitor *monitor_cur(void);
/* Make @mon current on this thread; returns the previous one. */
Monitor *monitor_set_cur(Monitor *mon);

/* ---- Descriptors ---------------------------------------------------------
 */

/*
 * The next descriptor the peer passed (SCM_RIGHTS), owned by the caller,
 * or -1 when none came.
 */
int monitor_take_received_fd(Monitor *mon);
/* For transports and tests: the peer passed @fd (ownership taken). */
void monitor_push_received_fd(Monitor *mon, int fd);

/*
 * Keep @fd (ownership taken) as @name, replacing (and closing) one of that
 * name.  False with @errp set, and @fd closed, when MONITOR_MAX_FDS are
 * kept already or @name starts with a digit (QEMU's rule: such names
 * would read as descriptor numbers).
 */
bool monitor_fd_add(Monitor *mon, const char *name, int fd, GError **errp);
/*
 * Close the descriptor kept as @name.  False with @errp set
 * (MONITOR_ERROR_NOT_FOUND, "File descriptor named 'NAME' not found")
 * when there is none.
 */
bool monitor_fd_remove(Monitor *mon, const char *name, GError **errp);
/*
 * Hand over the descriptor kept as @name: the caller owns it and the
 * monitor forgets it (QEMU's monitor_get_fd()).  -1 with @errp set when
 * there is none.
 */
int monitor_fd_get(Monitor *mon, const char *name, GError **errp);

G_END_DECLS
