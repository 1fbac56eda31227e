/*
 * qio's generic error domain.
 *
 * Every function that can fail takes "GError **errp" last and returns
 * false, -1 or NULL.  The codes below are stable so that callers and tests
 * can match on them without parsing the message.  Subsystems with their own
 * vocabulary (the object layer, NBD, TLS) add their own domains; this one
 * covers I/O and argument errors shared by all of them.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

G_BEGIN_DECLS

#define QIO_ERROR (qio_error_quark())
GQuark qio_error_quark(void);

typedef enum {
    QIO_ERROR_FAILED,             /* anything not listed below */
    QIO_ERROR_INVALID_ARGUMENT,   /* bad value from a user or caller */
    QIO_ERROR_NOT_SUPPORTED,      /* the channel or host cannot do this */
    QIO_ERROR_NOT_FOUND,          /* no such file, host, address, object */
    QIO_ERROR_PERMISSION_DENIED,  /* EACCES, EPERM */
    QIO_ERROR_EXISTS,             /* EEXIST, EADDRINUSE */
    QIO_ERROR_UNEXPECTED_EOF,     /* peer closed before a full message */
    QIO_ERROR_BROKEN_PIPE,        /* EPIPE: peer stopped reading */
    QIO_ERROR_CONNECTION_RESET,   /* ECONNRESET */
    QIO_ERROR_CONNECTION_REFUSED, /* ECONNREFUSED */
    QIO_ERROR_TIMED_OUT,          /* ETIMEDOUT or our own time limit */
    QIO_ERROR_CANCELLED,          /* a GCancellable fired */
    QIO_ERROR_CLOSED,             /* operation on a closed channel */
    QIO_ERROR_COMMAND_FAILED,     /* a child process exited non-zero */
    QIO_ERROR_PROTOCOL,           /* the peer broke a protocol rule */
    QIO_ERROR_TOO_LARGE,          /* a length over its bound */
} QIOErrorCode;

/* Map an errno value to the closest QIOErrorCode. */
QIOErrorCode qio_error_code_from_errno(int errnum);

/*
 * Set @errp to "<message>: <strerror(errnum)>" with the code derived from
 * @errnum.  errno is preserved across the call.
 */
void qio_error_setg_errno(GError **errp, int errnum, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);

/*
 * Set @errp to "<message>: <strerror(errnum)>" in @domain with @code, for
 * the layers below io/ that report a failed system call in their own
 * vocabulary:
 *
 *     qutil_error_setg_errno(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_FILE, errno,
 *                            "cannot create %s", path);
 *
 * errno is preserved across the call.
 */
void qutil_error_setg_errno(GError **errp, GQuark domain, int code, int errnum,
                            const char *fmt, ...) G_GNUC_PRINTF(5, 6);

/* Set @errp with QIO_ERROR and @code; shorthand for g_set_error. */
#define qio_error_setg(errp, code, ...)                                        \
    g_set_error((errp), QIO_ERROR, (code), __VA_ARGS__)

/*
 * Prefix an existing error's message: "<prefix>: <old message>".  Does
 * nothing when @errp or *errp is NULL.
 */
void qutil_error_prepend(GError **errp, const char *fmt, ...)
    G_GNUC_PRINTF(2, 3);

G_END_DECLS
