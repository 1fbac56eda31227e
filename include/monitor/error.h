/*
 * monitor's error domain, MONITOR_ERROR: what the QMP input parser and
 * the QMP session report about a client's input.
 *
 * The codes are stable; callers and tests match them, never the message:
 *
 *     if (g_error_matches(err, MONITOR_ERROR, MONITOR_ERROR_JSON_LIMIT)) {
 *         ... the client sent a message over a bound ...
 *     }
 *
 * On the wire they are QMP "GenericError" (qapi_error_class(), in
 * include/qapi/error.h); the QMP classes themselves, CommandNotFound
 * among them, are QAPI_ERROR codes.  The messages use QEMU's wording so
 * that a client written for QEMU sees the same text.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define MONITOR_ERROR (monitor_error_quark())
GQuark monitor_error_quark(void);

typedef enum {
    MONITOR_ERROR_FAILED,      /* anything not listed below */
    MONITOR_ERROR_JSON_SYNTAX, /* input that is not JSON */
    MONITOR_ERROR_JSON_LIMIT,  /* a token, message or nesting over a bound */
    MONITOR_ERROR_PROTOCOL,    /* JSON that is not a valid QMP request */
    MONITOR_ERROR_NOT_FOUND,   /* no such fd name, monitor, command */
    MONITOR_ERROR_OUTPUT_FULL, /* the peer does not read its replies */
} MonitorErrorCode;

G_END_DECLS
