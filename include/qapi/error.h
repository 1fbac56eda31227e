/*
 * qapi's error domain, and the QMP error classes a monitor reports.
 *
 * A QMP error reply carries a "class" string that clients match on
 * (GenericError, CommandNotFound, ...).  qio keeps the class in the GError:
 * code QAPI_ERROR_COMMAND_NOT_FOUND in domain QAPI_ERROR is the class
 * CommandNotFound, and every error of any other domain, or of any other
 * code of this one, is GenericError.  A command implementation that wants a
 * client to see DeviceNotFound sets
 *
 *     g_set_error(errp, QAPI_ERROR, QAPI_ERROR_DEVICE_NOT_FOUND,
 *                 "Device '%s' not found", id);
 *
 * and the monitor asks qapi_error_class(err) for the string to send.
 *
 * The visitors report malformed input in this domain too, each mistake
 * with its own code so that callers and tests match codes, never text;
 * the messages use the wording QEMU's monitor uses, because scripts
 * written for QEMU look for it.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define QAPI_ERROR (qapi_error_quark())
GQuark qapi_error_quark(void);

typedef enum {
    /* The QMP error classes, in the order QEMU's QapiErrorClass has them. */
    QAPI_ERROR_GENERIC,           /* GenericError */
    QAPI_ERROR_COMMAND_NOT_FOUND, /* CommandNotFound */
    QAPI_ERROR_DEVICE_NOT_ACTIVE, /* DeviceNotActive */
    QAPI_ERROR_DEVICE_NOT_FOUND,  /* DeviceNotFound */
    QAPI_ERROR_KVM_MISSING_CAP,   /* KVMMissingCap */
    /* Visitor errors; all of class GenericError. */
    QAPI_ERROR_MISSING_PARAMETER,    /* "Parameter 'x' is missing" */
    QAPI_ERROR_INVALID_TYPE,         /* "Invalid parameter type for 'x', ..." */
    QAPI_ERROR_UNEXPECTED_PARAMETER, /* "Parameter 'x' is unexpected" */
    QAPI_ERROR_INVALID_VALUE,        /* "Parameter 'x' expects ..." and enums */
    QAPI_ERROR_BAD_KEYS,             /* keyval keys that build no tree */
} QapiErrorCode;

/*
 * The QMP class string of @err: "CommandNotFound", "DeviceNotActive",
 * "DeviceNotFound" or "KVMMissingCap" for those codes of QAPI_ERROR,
 * "GenericError" for everything else (any other domain included).
 * @err may not be NULL.
 */
const char *qapi_error_class(const GError *err);

G_END_DECLS
