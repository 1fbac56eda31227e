/*
 * Error helpers shared by every layer, and util's own error domain.
 */
#include "util/error.h"

#include <errno.h>
#include <string.h>

GQuark qutil_error_quark(void)
{
    return g_quark_from_static_string("qutil-error-quark");
}

void qutil_error_vsetg_errno(GError **errp, GQuark domain, int code, int errnum,
                             const char *fmt, va_list ap)
{
    int saved = errno;

    if (errp) {
        g_autofree char *msg = g_strdup_vprintf(fmt, ap);

        g_set_error(errp, domain, code, "%s: %s", msg, g_strerror(errnum));
    }
    errno = saved;
}

void qutil_error_setg_errno(GError **errp, GQuark domain, int code, int errnum,
                            const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    qutil_error_vsetg_errno(errp, domain, code, errnum, fmt, ap);
    va_end(ap);
}

void qutil_error_prepend(GError **errp, const char *fmt, ...)
{
    va_list ap;

    if (!errp || !*errp) {
        return;
    }
    va_start(ap, fmt);
    g_autofree char *prefix = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_prefix_error(errp, "%s: ", prefix);
}
