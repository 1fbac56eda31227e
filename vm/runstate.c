/*
 * Run states.  The table of what each request does in each state is the
 * whole of this file; the subtle part is QEMU's leniency (stop while
 * stopped and cont while running succeed silently, without an event),
 * which clients written for QEMU rely on.
 */
#include "vm/runstate.h"

struct VMRunStateMachine {
    VMRunState state;
    VMRunStateListener listener;
    void *opaque;
};

static const char *const run_state_names[VM_RUN_STATE__MAX] = {
    [VM_RUN_STATE_PRELAUNCH] = "prelaunch",
    [VM_RUN_STATE_RUNNING] = "running",
    [VM_RUN_STATE_PAUSED] = "paused",
    [VM_RUN_STATE_SHUTDOWN] = "shutdown",
};

static const char *const shutdown_cause_names[VM_SHUTDOWN__MAX] = {
    [VM_SHUTDOWN_HOST_QMP_QUIT] = "host-qmp-quit",
    [VM_SHUTDOWN_HOST_SIGNAL] = "host-signal",
};

const char *vm_run_state_str(VMRunState state)
{
    g_return_val_if_fail(state < VM_RUN_STATE__MAX, NULL);
    return run_state_names[state];
}

const char *vm_shutdown_cause_str(VMShutdownCause cause)
{
    g_return_val_if_fail(cause < VM_SHUTDOWN__MAX, NULL);
    return shutdown_cause_names[cause];
}

VMRunStateMachine *vm_run_state_new(bool start_paused)
{
    VMRunStateMachine *rs = g_new0(VMRunStateMachine, 1);

    rs->state = start_paused ? VM_RUN_STATE_PRELAUNCH : VM_RUN_STATE_RUNNING;
    return rs;
}

void vm_run_state_free(VMRunStateMachine *rs)
{
    g_free(rs);
}

void vm_run_state_set_listener(VMRunStateMachine *rs,
                               VMRunStateListener listener, void *opaque)
{
    rs->listener = listener;
    rs->opaque = opaque;
}

VMRunState vm_run_state_get(VMRunStateMachine *rs)
{
    return rs->state;
}

bool vm_run_state_is_running(VMRunStateMachine *rs)
{
    return rs->state == VM_RUN_STATE_RUNNING;
}

static void change(VMRunStateMachine *rs, VMRunState new, VMShutdownCause cause)
{
    VMRunState old = rs->state;

    rs->state = new;
    if (rs->listener) {
        rs->listener(rs->opaque, old, new, cause);
    }
}

bool vm_run_state_stop(VMRunStateMachine *rs, GError **errp)
{
    switch (rs->state) {
    case VM_RUN_STATE_RUNNING:
        change(rs, VM_RUN_STATE_PAUSED, 0);
        return true;
    case VM_RUN_STATE_PRELAUNCH:
    case VM_RUN_STATE_PAUSED:
        return true;
    default:
        g_set_error(errp, VM_ERROR, VM_ERROR_BAD_STATE,
                    "the machine has shut down and cannot be stopped");
        return false;
    }
}

bool vm_run_state_cont(VMRunStateMachine *rs, GError **errp)
{
    switch (rs->state) {
    case VM_RUN_STATE_PRELAUNCH:
    case VM_RUN_STATE_PAUSED:
        change(rs, VM_RUN_STATE_RUNNING, 0);
        return true;
    case VM_RUN_STATE_RUNNING:
        return true;
    default:
        g_set_error(errp, VM_ERROR, VM_ERROR_BAD_STATE,
                    "the machine has shut down and cannot be resumed");
        return false;
    }
}

bool vm_run_state_shutdown(VMRunStateMachine *rs, VMShutdownCause cause)
{
    if (rs->state == VM_RUN_STATE_SHUTDOWN) {
        return false;
    }
    change(rs, VM_RUN_STATE_SHUTDOWN, cause);
    return true;
}

char *vm_run_state_describe(VMRunState state)
{
    if (state == VM_RUN_STATE_RUNNING) {
        return g_strdup("VM status: running");
    }
    if (state == VM_RUN_STATE_PAUSED) {
        return g_strdup("VM status: paused");
    }
    return g_strdup_printf("VM status: paused (%s)", vm_run_state_str(state));
}
