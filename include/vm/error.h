/*
 * The error domain of qio-vm's layer (vm/): its options, guest RAM, run
 * states, the HMP monitor and the guest console.
 *
 * Callers and tests match the codes, never the message text.  Errors from
 * lower layers (qom, io, chardev) keep their own domain and code when they
 * pass through and only gain context in front of their message.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define VM_ERROR (vm_error_quark())
GQuark vm_error_quark(void);

typedef enum {
    VM_ERROR_FAILED,           /* anything not listed below */
    VM_ERROR_INVALID_OPTION,   /* an option QEMU would not accept either */
    VM_ERROR_NOT_SUPPORTED,    /* a QEMU option or value qio-vm lacks */
    VM_ERROR_MISSING_ARGUMENT, /* an option or parameter without its value */
    VM_ERROR_INVALID_VALUE,    /* a value that does not parse or fit */
    VM_ERROR_OUT_OF_RANGE,     /* a guest address range outside guest RAM */
    VM_ERROR_BAD_STATE,        /* not allowed in the current run state */
    VM_ERROR_NOT_FOUND,        /* no such object, chardev or command */
    VM_ERROR_IO,               /* a file could not be read or written */
    VM_ERROR_NO_MEMORY,        /* guest RAM could not be allocated */
} VMErrorCode;

G_END_DECLS
