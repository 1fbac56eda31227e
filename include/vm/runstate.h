/*
 * The run state of a qio-vm machine, as QEMU reports it in query-status
 * and "info status".
 *
 *   prelaunch --cont--> running --stop--> paused --cont--> running
 *   (any) --quit / SIGTERM--> shutdown
 *
 * A machine starts in prelaunch with -S and in running otherwise.  There
 * is no CPU: "running" means that the devices (serial consoles) run and
 * guest RAM may be changed by them.
 *
 * As in QEMU, stop in prelaunch or paused, and cont while running, are
 * accepted and change nothing; only real changes are reported to the
 * listener, which is where qio-vm emits the STOP, RESUME and SHUTDOWN
 * events:
 *
 *     VMRunStateMachine *rs = vm_run_state_new(start_paused);
 *     vm_run_state_set_listener(rs, on_change, monitor);
 *     vm_run_state_stop(rs, errp);      // running -> paused, STOP
 *
 * Once in shutdown nothing leaves it: cont then fails with
 * VM_ERROR_BAD_STATE.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

#include "vm/error.h"

G_BEGIN_DECLS

typedef enum {
    VM_RUN_STATE_PRELAUNCH,
    VM_RUN_STATE_RUNNING,
    VM_RUN_STATE_PAUSED,
    VM_RUN_STATE_SHUTDOWN,
    VM_RUN_STATE__MAX,
} VMRunState;

/* Why the machine shut down, as QEMU's SHUTDOWN event names it. */
typedef enum {
    VM_SHUTDOWN_HOST_QMP_QUIT,
    VM_SHUTDOWN_HOST_SIGNAL,
    VM_SHUTDOWN__MAX,
} VMShutdownCause;

/* QEMU's name of @state: "prelaunch", "running", "paused", "shutdown". */
const char *vm_run_state_str(VMRunState state);

/* QEMU's name of @cause: "host-qmp-quit", "host-signal". */
const char *vm_shutdown_cause_str(VMShutdownCause cause);

typedef struct VMRunStateMachine VMRunStateMachine;

/*
 * Called after each real change from @old to @new.  @cause is meaningful
 * when @new is VM_RUN_STATE_SHUTDOWN.
 */
typedef void (*VMRunStateListener)(void *opaque, VMRunState old, VMRunState new,
                                   VMShutdownCause cause);

/* A machine in prelaunch when @start_paused (-S), else running. */
VMRunStateMachine *vm_run_state_new(bool start_paused);
void vm_run_state_free(VMRunStateMachine *rs);

/* One listener; NULL removes it. */
void vm_run_state_set_listener(VMRunStateMachine *rs,
                               VMRunStateListener listener, void *opaque);

VMRunState vm_run_state_get(VMRunStateMachine *rs);

/* True only in VM_RUN_STATE_RUNNING (query-status's "running"). */
bool vm_run_state_is_running(VMRunStateMachine *rs);

/*
 * stop: running -> paused.  In prelaunch and paused it does nothing and
 * succeeds; in shutdown it fails with VM_ERROR_BAD_STATE.
 */
bool vm_run_state_stop(VMRunStateMachine *rs, GError **errp);

/*
 * cont: prelaunch or paused -> running.  While running it does nothing;
 * in shutdown it fails with VM_ERROR_BAD_STATE.
 */
bool vm_run_state_cont(VMRunStateMachine *rs, GError **errp);

/*
 * Enter shutdown for @cause.  Returns false when the machine was already
 * shut down (the listener is not called again), true otherwise.
 */
bool vm_run_state_shutdown(VMRunStateMachine *rs, VMShutdownCause cause);

/*
 * The "info status" line, without its line ending: "VM status: running",
 * "VM status: paused", "VM status: paused (prelaunch)",
 * "VM status: paused (shutdown)".  Free with g_free().
 */
char *vm_run_state_describe(VMRunState state);

G_END_DECLS
