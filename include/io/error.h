/*
 * io's error domain, QIO_ERROR: the I/O and argument errors of channels,
 * listeners, tasks, address parsing, and of the consumers built on them
 * (NBD, the tools).
 *
 * Every function that can fail takes "GError **errp" last and returns
 * false, -1 or NULL.  The codes below are stable so that callers and tests
 * can match on them without parsing the message:
 *
 *     if (g_error_matches(err, QIO_ERROR, QIO_ERROR_BROKEN_PIPE)) {
 *         ... the peer went away ...
 *     }
 *
 * The layers below io/ have their own domains (QUTIL_ERROR, QOM_ERROR,
 * QAUTHZ_ERROR, QCRYPTO_ERROR) and report failed system calls in them with
 * qutil_error_setg_errno().
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

#include "util/error.h"

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

/* Set @errp with QIO_ERROR and @code; shorthand for g_set_error. */
#define qio_error_setg(errp, code, ...)                                        \
    g_set_error((errp), QIO_ERROR, (code), __VA_ARGS__)

G_END_DECLS
