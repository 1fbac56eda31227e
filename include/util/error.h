/*
 * Error helpers shared by every layer, and util's own error domain.
 *
 * Every function that can fail takes "GError **errp" last and returns
 * false, -1 or NULL.  Each layer reports in its own domain with stable
 * codes (QUTIL_ERROR here for the string parsers, then QOM_ERROR,
 * QAUTHZ_ERROR, QCRYPTO_ERROR, and io's QIO_ERROR in include/io/error.h),
 * so that callers match codes, never message text.
 */
#pragma once

#include <glib.h>
#include <stdarg.h>
#include <stdbool.h>

G_BEGIN_DECLS

#define QUTIL_ERROR (qutil_error_quark())
GQuark qutil_error_quark(void);

typedef enum {
    QUTIL_ERROR_FAILED,           /* anything not listed below */
    QUTIL_ERROR_INVALID_ARGUMENT, /* a string that is not a valid value */
} QUtilErrorCode;

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

/* The same with a va_list, for wrappers such as qio_error_setg_errno(). */
void qutil_error_vsetg_errno(GError **errp, GQuark domain, int code, int errnum,
                             const char *fmt, va_list ap) G_GNUC_PRINTF(5, 0);

/*
 * Prefix an existing error's message: "<prefix>: <old message>".  Does
 * nothing when @errp or *errp is NULL.
 */
void qutil_error_prepend(GError **errp, const char *fmt, ...)
    G_GNUC_PRINTF(2, 3);

G_END_DECLS
