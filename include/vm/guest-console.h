/*
 * The program "running" on a qio-vm serial port.  qio-vm has no CPU, so
 * the guest side of each serial port is this small built-in console: on
 * open it prints a banner and a prompt, echoes and edits lines (the same
 * editor as HMP), and runs a few commands against guest RAM:
 *
 *     qio-vm guest console on ttyS0 - type 'help' for commands
 *     guest1$ write 0x1000 68656c6c6f
 *     wrote 5 bytes at 0x1000
 *     guest1$ read 0x1000 5
 *     0000000000001000: 68 65 6c 6c 6f |hello| guest1$ sum 0x1000 5 sha256
 * 0x1000+5: 2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824
 *     guest1$ uptime
 *     up 42 seconds
 *
 * It is a pure state machine: bytes in (vm_guest_console_input()), bytes
 * out (the output callback), with the clock injected, so it is tested
 * without a chardev.  Its state (line being edited, history, uptime,
 * scrollback of the last VM_GUEST_CONSOLE_SCROLLBACK bytes of output)
 * saves to a versioned blob that the migration of a machine carries, and
 * restores from one after checking every field.
 *
 * Bounds: read dumps at most VM_GUEST_CONSOLE_READ_MAX bytes, sum hashes
 * at most VM_GUEST_CONSOLE_SUM_MAX bytes per command; every range is
 * checked against guest RAM first.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "vm/ram.h"

G_BEGIN_DECLS

#define VM_GUEST_CONSOLE_SCROLLBACK   (64 * 1024)
#define VM_GUEST_CONSOLE_READ_MAX     4096
#define VM_GUEST_CONSOLE_SUM_MAX      (256ull * 1024 * 1024)
#define VM_GUEST_CONSOLE_HOSTNAME_MAX 64
/* ttyS0 .. ttyS3, as many as a pc has. */
#define VM_GUEST_CONSOLE_PORTS 4

/* The state blob starts with these 4 bytes and a big-endian version. */
#define VM_GUEST_CONSOLE_MAGIC   "QGC1"
#define VM_GUEST_CONSOLE_VERSION 1

typedef struct VMGuestConsole VMGuestConsole;

typedef void (*VMGuestConsoleOutput)(void *opaque, const char *buf, size_t len);

/* Microseconds of a monotonic clock (g_get_monotonic_time by default). */
typedef int64_t (*VMGuestConsoleClock)(void);

/*
 * A console for serial port @port (ttyS<port>) with @hostname (NULL for
 * "qio-vm"; cut to VM_GUEST_CONSOLE_HOSTNAME_MAX bytes) on guest RAM @ram
 * (borrowed, may be NULL for none).  The guest's uptime starts now.
 */
VMGuestConsole *vm_guest_console_new(unsigned port, const char *hostname,
                                     VMRam *ram, VMGuestConsoleOutput output,
                                     void *opaque);
void vm_guest_console_free(VMGuestConsole *gc);

/* For tests: use @clock instead of the monotonic clock; the uptime
 * restarts at zero. */
void vm_guest_console_set_clock(VMGuestConsole *gc, VMGuestConsoleClock clock);

/* The chardev opened (a client connected): banner and prompt. */
void vm_guest_console_open(VMGuestConsole *gc);

/* Bytes typed on the serial line. */
void vm_guest_console_input(VMGuestConsole *gc, const uint8_t *buf, size_t len);

/* Seconds since the guest booted. */
uint64_t vm_guest_console_uptime(VMGuestConsole *gc);

/* The last bytes written to the line (at most the scrollback size). */
GBytes *vm_guest_console_get_scrollback(VMGuestConsole *gc);

/* Append the state blob to @out. */
void vm_guest_console_save(VMGuestConsole *gc, GByteArray *out);

/*
 * Replace @gc's state with the blob @buf/@len (from
 * vm_guest_console_save()).  Fails with VM_ERROR_INVALID_VALUE, @gc
 * unchanged, on a wrong magic or version, a field out of bounds, or
 * bytes left over.
 */
bool vm_guest_console_restore(VMGuestConsole *gc, const uint8_t *buf,
                              size_t len, GError **errp);

G_END_DECLS
