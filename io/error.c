/*
 * io's error domain and its errno translation.
 */
#include "io/error.h"

#include <errno.h>
#include <string.h>

/*
 * Spelled out rather than G_DEFINE_QUARK(a-b-c, ...): the formatter reads
 * that macro argument as a subtraction and spaces it into the name.
 */
GQuark qio_error_quark(void)
{
    return g_quark_from_static_string("qio-error-quark");
}

QIOErrorCode qio_error_code_from_errno(int errnum)
{
    switch (errnum) {
    case EINVAL:
    case EBADF:
    case ERANGE:
        return QIO_ERROR_INVALID_ARGUMENT;
    case ENOTSUP:
#if EOPNOTSUPP != ENOTSUP
    case EOPNOTSUPP:
#endif
    case ENOSYS:
    case EAFNOSUPPORT:
    case EPROTONOSUPPORT:
    case ESOCKTNOSUPPORT:
        return QIO_ERROR_NOT_SUPPORTED;
    case ENOENT:
    case ENODEV:
    case ENXIO:
    case EHOSTUNREACH:
    case ENETUNREACH:
        return QIO_ERROR_NOT_FOUND;
    case EACCES:
    case EPERM:
        return QIO_ERROR_PERMISSION_DENIED;
    case EEXIST:
    case EADDRINUSE:
        return QIO_ERROR_EXISTS;
    case EPIPE:
        return QIO_ERROR_BROKEN_PIPE;
    case ECONNRESET:
    case ECONNABORTED:
        return QIO_ERROR_CONNECTION_RESET;
    case ECONNREFUSED:
        return QIO_ERROR_CONNECTION_REFUSED;
    case ETIMEDOUT:
        return QIO_ERROR_TIMED_OUT;
    case ECANCELED:
        return QIO_ERROR_CANCELLED;
    case EMSGSIZE:
    case EFBIG:
    case E2BIG:
        return QIO_ERROR_TOO_LARGE;
    case EPROTO:
        return QIO_ERROR_PROTOCOL;
    default:
        return QIO_ERROR_FAILED;
    }
}

void qio_error_setg_errno(GError **errp, int errnum, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    qutil_error_vsetg_errno(errp, QIO_ERROR, qio_error_code_from_errno(errnum),
                            errnum, fmt, ap);
    va_end(ap);
}
