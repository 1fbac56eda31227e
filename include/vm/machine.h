/*
 * A qio-vm machine: guest RAM, the run state, the name, the serial ports
 * with their guest consoles, and the HMP monitors; and the operations the
 * monitors offer on it (query and change the run state, quit, save RAM
 * to a file).  QMP's and HMP's commands are thin wrappers over these.
 *
 *     g_autoptr(VMOptions) opts = vm_options_parse(argc, argv, errp);
 *     // -object and -chardev are created first, by qom and chardev
 *     VMMachine *m = vm_machine_new(opts, errp);
 *     vm_machine_set_shutdown_handler(m, quit_main_loop, loop);
 *     g_main_loop_run(loop);
 *     vm_machine_free(m);
 *
 * vm_machine_new() finds the chardevs of the serial ports and HMP
 * monitors by id (they must exist), and the memory backend of
 * -machine memory-backend=ID (its size must equal -m when -m is given).
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "vm/guest-console.h"
#include "vm/options.h"
#include "vm/ram.h"
#include "vm/runstate.h"

G_BEGIN_DECLS

typedef struct VMMachine VMMachine;

VMMachine *vm_machine_new(const VMOptions *opts, GError **errp);
void vm_machine_free(VMMachine *m);

/* Called once when the machine enters shutdown (quit, SIGTERM). */
typedef void (*VMMachineShutdownHandler)(void *opaque, VMShutdownCause cause);
void vm_machine_set_shutdown_handler(VMMachine *m,
                                     VMMachineShutdownHandler handler,
                                     void *opaque);

/*
 * Called after every run-state change (for the STOP, RESUME and SHUTDOWN
 * events).  One listener; NULL removes it.
 */
void vm_machine_set_state_listener(VMMachine *m, VMRunStateListener listener,
                                   void *opaque);

VMRam *vm_machine_get_ram(VMMachine *m);
VMRunStateMachine *vm_machine_get_run_state(VMMachine *m);
/* -name guest=NAME, or NULL. */
const char *vm_machine_get_name(VMMachine *m);
/* "pc" or "none". */
const char *vm_machine_get_type(VMMachine *m);

/* stop and cont as QEMU's (see vm/runstate.h). */
bool vm_machine_stop(VMMachine *m, GError **errp);
bool vm_machine_cont(VMMachine *m, GError **errp);

/* Enter shutdown for @cause and run the shutdown handler (once). */
void vm_machine_shutdown(VMMachine *m, VMShutdownCause cause);

/*
 * pmemsave: write guest RAM [@addr, @addr + @size) to @filename.  A
 * negative @size or a range outside RAM is refused before the file is
 * touched.
 */
bool vm_machine_pmemsave(VMMachine *m, int64_t addr, int64_t size,
                         const char *filename, GError **errp);

/*
 * memsave: guest virtual memory through a CPU's page tables.  qio-vm has
 * no CPU, so this fails as QEMU's does on a machine without one.
 */
bool vm_machine_memsave(VMMachine *m, int64_t addr, int64_t size,
                        const char *filename, bool has_cpu_index,
                        int64_t cpu_index, GError **errp);

/* The number of serial ports and the guest console of port @i. */
unsigned vm_machine_get_serial_count(VMMachine *m);
VMGuestConsole *vm_machine_get_serial_console(VMMachine *m, unsigned i);
/* The chardev id serial port @i is connected to (borrowed). */
const char *vm_machine_get_serial_chardev(VMMachine *m, unsigned i);

G_END_DECLS
