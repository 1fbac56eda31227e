/*
 * QIOChardev: a character device, the byte stream between a frontend (a
 * monitor, a serial port, a console) and a backend (a socket, a file, a
 * pty, the terminal, a ring buffer).
 *
 * A chardev has an id (its name in the registry, in -chardev id=ID and in
 * query-chardev) and a label (the same as the id).  A backend subclass
 * moves the bytes; the frontend attaches three handlers and writes:
 *
 *  - can_read(opaque) says how many bytes the frontend can take now; the
 *    backend never delivers more, and stops reading its source while it
 *    is 0 (backpressure reaches the peer, nothing is buffered without
 *    bound).  When the frontend can take more again it calls
 *    qio_chardev_accept_input();
 *  - read(opaque, buf, len) delivers at most what can_read allowed;
 *  - event(opaque, QIO_CHARDEV_EVENT_*) reports that a peer connected
 *    (OPENED: for a TLS socket, only once the handshake and the tls-authz
 *    check are done), went away (CLOSED), sent a break (BREAK), or that a
 *    mux gave this frontend the input focus or took it away (MUX_IN,
 *    MUX_OUT);
 *  - writable(opaque), optional, runs once a write that took less than it
 *    was given can take more;
 *  - qio_chardev_write() never blocks: it takes what the backend can take
 *    now (perhaps nothing) and the frontend keeps the rest until writable
 *    runs.  A backend without a peer (a server socket nobody is connected
 *    to) discards what is written, as QEMU does.
 *
 * Every callback runs on the GMainContext that was the thread-default
 * context when the chardev was created (g_main_context_ref_thread_default);
 * create chardevs, attach frontends and write on the thread that runs that
 * context.
 *
 * File descriptors a peer passes with SCM_RIGHTS over a UNIX socket are
 * kept for the frontend (qio_chardev_take_fd()) until it takes them or
 * the next descriptors arrive; at most QIO_CHARDEV_MAX_FDS at a time.
 *
 * Embedding, e.g. a program that serves its serial line on a TLS socket
 * (include/chardev/char-socket.h for the options):
 *
 *     static size_t line_can_read(gpointer opaque)
 *     {
 *         return serial_room(opaque);           // 0: stop the peer
 *     }
 *     static void line_read(gpointer opaque, const uint8_t *buf,
 *                           size_t len)
 *     {
 *         serial_receive(opaque, buf, len);
 *     }
 *     static void line_event(gpointer opaque, QIOChardevEvent ev)
 *     {
 *         if (ev == QIO_CHARDEV_EVENT_OPENED) {
 *             serial_carrier_on(opaque);        // TLS and authz done
 *         }
 *     }
 *     static const QIOChardevHandlers line_handlers = {
 *         .can_read = line_can_read,
 *         .read = line_read,
 *         .event = line_event,
 *         .writable = line_flush,               // write what was left
 *     };
 *
 *     QIOChardevSocketOptions so = {
 *         .addr = addr,                         // 0.0.0.0:9000
 *         .server = true, .wait = false,
 *         .tls_creds = "tls0", .tls_authz = "auth0",
 *     };
 *     QIOChardev *chr = qio_chardev_socket_new("serial0", &so, errp);
 *     qio_chardev_attach(chr, &line_handlers, line, errp);
 *     ...
 *     n = qio_chardev_write(chr, out, outlen, errp);   // may be short
 *     ...
 *     qio_chardev_remove("serial0", errp);      // or detach + unref
 *
 * Errors are in the QIO_ERROR domain: QIO_ERROR_EXISTS for a duplicate
 * id, QIO_ERROR_NOT_FOUND for an unknown one, QIO_ERROR_INVALID_ARGUMENT
 * for a bad id or option, QIO_ERROR_FAILED for "in use".
 */
#pragma once

#include <glib-object.h>
#include <stdbool.h>
#include <stdint.h>

#include "io/error.h"

G_BEGIN_DECLS

#define QIO_TYPE_CHARDEV (qio_chardev_get_type())
G_DECLARE_DERIVABLE_TYPE(QIOChardev, qio_chardev, QIO, CHARDEV, GObject)

/* Descriptors kept for the frontend at once; more are closed. */
#define QIO_CHARDEV_MAX_FDS 16

typedef enum {
    QIO_CHARDEV_EVENT_OPENED,
    QIO_CHARDEV_EVENT_CLOSED,
    QIO_CHARDEV_EVENT_BREAK,
    QIO_CHARDEV_EVENT_MUX_IN,
    QIO_CHARDEV_EVENT_MUX_OUT,
} QIOChardevEvent;

typedef struct {
    /* Mandatory: how many bytes read() may be given now. */
    size_t (*can_read)(gpointer opaque);
    /* Mandatory: @len is at most what can_read() last returned. */
    void (*read)(gpointer opaque, const uint8_t *buf, size_t len);
    /* Optional. */
    void (*event)(gpointer opaque, QIOChardevEvent event);
    /* Optional: a short write can now take more. */
    void (*writable)(gpointer opaque);
} QIOChardevHandlers;

struct _QIOChardevClass {
    GObjectClass parent_class;

    /* The backend type's name in -chardev and query-chardev-backends. */
    const char *backend_name;
    /*
     * Mandatory.  Take what can be taken now without blocking: the count
     * (0 to @len), or -1 with @errp set.  When it took less than @len the
     * backend calls qio_chardev_be_writable() once it can take more.
     */
    gssize (*chr_write)(QIOChardev *chr, const uint8_t *buf, size_t len,
                        GError **errp);
    /* Optional: the frontend can take input again; resume reading. */
    void (*chr_accept_input)(QIOChardev *chr);
    /*
     * Optional: a frontend was attached (true) or detached (false); a
     * backend that reads only while a frontend listens starts or stops.
     */
    void (*chr_frontend_changed)(QIOChardev *chr, bool attached);
    /* Optional: send a break to the peer (telnet, a serial line). */
    void (*chr_send_break)(QIOChardev *chr);
    /* Optional: the id is being removed; stop all I/O and watches. */
    void (*chr_close)(QIOChardev *chr);
    /*
     * Optional: mux chardevs take several frontends (up to the value
     * returned); 1 when not set.
     */
    unsigned (*chr_max_frontends)(QIOChardev *chr);
};

/* ---- Registry ------------------------------------------------------------
 */

/* The chardev with @id (borrowed), or NULL. */
QIOChardev *qio_chardev_find(const char *id);
/*
 * QEMU's rule for -chardev ids: a letter, then letters, digits, '-', '.'
 * and '_'.  chardev-add, like QEMU's, takes any non-empty id.
 */
bool qio_chardev_id_wellformed(const char *id);
/*
 * Remove @id from the registry and close it: false with @errp set if
 * there is no such chardev (QIO_ERROR_NOT_FOUND) or a frontend still uses
 * it (QIO_ERROR_FAILED, "Chardev 'ID' is busy").  The registry's
 * reference is dropped.
 */
bool qio_chardev_remove(const char *id, GError **errp);
/* The registered chardevs, sorted by id; each element borrowed. */
GPtrArray *qio_chardev_list(void);
/* Remove and close every chardev (at exit), frontends or not. */
void qio_chardev_remove_all(void);

/* ---- Frontend ------------------------------------------------------------
 */

/*
 * Attach a frontend: @handlers (kept by pointer; keep it static) called
 * with @opaque.  If the backend already has a peer, OPENED is delivered
 * from the context soon after.  -1 with @errp set when every frontend
 * slot is taken ("Chardev 'ID' is busy"); else a tag for
 * qio_chardev_detach() (0 for a plain chardev; a mux numbers its
 * frontends 0..3 in the order they attach).
 */
int qio_chardev_attach(QIOChardev *chr, const QIOChardevHandlers *handlers,
                       gpointer opaque, GError **errp);
/* Detach frontend @tag: no handler of it runs after this returns. */
void qio_chardev_detach(QIOChardev *chr, int tag);
/* True while a frontend is attached (query-chardev's frontend-open). */
bool qio_chardev_frontend_open(QIOChardev *chr);

/*
 * Write without blocking; see the top of this file.  Returns 0..@len or
 * -1 with @errp set.  Also copies what was taken to the logfile.
 */
gssize qio_chardev_write(QIOChardev *chr, const void *buf, size_t len,
                         GError **errp);
/* The frontend's can_read() grew from 0: let the backend read again. */
void qio_chardev_accept_input(QIOChardev *chr);
/* Send a break to the peer where the backend has one (telnet). */
void qio_chardev_send_break(QIOChardev *chr);
/*
 * Take one descriptor the peer passed (FIFO order), or -1 if none.  The
 * caller owns it.
 */
int qio_chardev_take_fd(QIOChardev *chr);

/* ---- Queries ---------------------------------------------------------------
 */

const char *qio_chardev_get_id(QIOChardev *chr);
const char *qio_chardev_get_label(QIOChardev *chr);
/* QEMU's filename string, e.g. "disconnected:tcp:127.0.0.1:9000,server=on" */
char *qio_chardev_get_filename(QIOChardev *chr);
/* The backend type's name: "socket", "ringbuf", ... */
const char *qio_chardev_get_backend_name(QIOChardev *chr);
/* The context the chardev's callbacks run on (borrowed). */
GMainContext *qio_chardev_get_context(QIOChardev *chr);

/*
 * Copy everything the frontend writes to @path (created 0666 & ~umask,
 * truncated unless @append), as -chardev ...,logfile=PATH,logappend=on.
 */
bool qio_chardev_set_logfile(QIOChardev *chr, const char *path, bool append,
                             GError **errp);

/* The names of every backend type, for query-chardev-backends. */
const char *const *qio_chardev_backend_names(void);

/* ---- For backends ----------------------------------------------------------
 */

/*
 * Give the new chardev its id and put it in the registry (the registry
 * takes a reference).  @id NULL: an anonymous chardev (a mux's base, an
 * embedder's own), not registered, labelled @label_if_anonymous.  Call
 * after the backend opened its resources, so a failed open leaves no
 * trace; check first with qio_chardev_check_id().
 */
bool qio_chardev_register(QIOChardev *chr, const char *id, GError **errp);
/* False with @errp set if @id is empty or already registered. */
bool qio_chardev_check_id(const char *id, GError **errp);
/* Set the filename string (copied); default: the backend name. */
void qio_chardev_set_filename(QIOChardev *chr, const char *filename);

/* How many bytes the frontend takes now (0 without a frontend). */
size_t qio_chardev_be_can_read(QIOChardev *chr);
/* Deliver input; @len at most qio_chardev_be_can_read(). */
void qio_chardev_be_read(QIOChardev *chr, const uint8_t *buf, size_t len);
/* Report an event to every frontend. */
void qio_chardev_be_event(QIOChardev *chr, QIOChardevEvent event);
/* A short write can now take more: tell the frontends. */
void qio_chardev_be_writable(QIOChardev *chr);
/*
 * The peer passed @nfds descriptors: they replace any not yet taken
 * (which are closed); beyond QIO_CHARDEV_MAX_FDS they are closed.  Takes
 * ownership of the descriptors, not of the array.
 */
void qio_chardev_be_set_fds(QIOChardev *chr, const int *fds, size_t nfds);
/* True when the peer is connected (OPENED delivered, no CLOSED since). */
bool qio_chardev_be_is_open(QIOChardev *chr);

/* For a mux: the frontend at @tag and its opaque, or false. */
bool qio_chardev_get_frontend(QIOChardev *chr, int tag,
                              const QIOChardevHandlers **handlers,
                              gpointer *opaque);

G_END_DECLS
