/*
 * The machine: it owns RAM, the run state, the serial ports and the HMP
 * monitors, and is where a change of run state fans out (serial input
 * resumes, the listener emits events, shutdown ends the main loop).
 */
#include "vm/machine.h"

#include "qom/object.h"
#include "vm/hmp.h"
#include "vm/memory-backend.h"
#include "vm/serial.h"

struct VMMachine {
    char *name;
    char *type;
    VMRam *ram;                /* anonymous RAM we own, or NULL */
    VMMemoryBackend *mbackend; /* or the backend's, referenced */
    char *mbackend_id;
    VMRunStateMachine *rs;
    GPtrArray *serials; /* VMSerial * */
    GPtrArray *hmps;    /* VMHmp * */
    VMMachineShutdownHandler shutdown;
    void *shutdown_opaque;
    VMRunStateListener listener;
    void *listener_opaque;
};

static void state_changed(void *opaque, VMRunState old, VMRunState new,
                          VMShutdownCause cause)
{
    VMMachine *m = opaque;

    for (guint i = 0; i < m->serials->len; i++) {
        vm_serial_kick(g_ptr_array_index(m->serials, i));
    }
    if (m->listener) {
        m->listener(m->listener_opaque, old, new, cause);
    }
    if (new == VM_RUN_STATE_SHUTDOWN && m->shutdown) {
        m->shutdown(m->shutdown_opaque, cause);
    }
}

static bool setup_ram(VMMachine *m, const VMOptions *opts, GError **errp)
{
    if (!opts->memory_backend) {
        m->ram = vm_ram_new_anon(vm_options_ram_size(opts), false, errp);
        return m->ram != NULL;
    }
    m->mbackend = qom_object_ref_typed(opts->memory_backend,
                                       VM_TYPE_MEMORY_BACKEND, errp);
    if (!m->mbackend) {
        g_prefix_error(errp,
                       "-machine memory-backend=%s: ", opts->memory_backend);
        return false;
    }
    if (opts->has_ram_size && vm_ram_get_size(vm_memory_backend_get_ram(
                                  m->mbackend)) != opts->ram_size) {
        g_set_error(errp, VM_ERROR, VM_ERROR_INVALID_VALUE,
                    "Machine memory size does not match the size of the "
                    "memory backend '%s' (-m %" G_GUINT64_FORMAT
                    " bytes, backend %" G_GUINT64_FORMAT " bytes)",
                    opts->memory_backend, opts->ram_size,
                    vm_ram_get_size(vm_memory_backend_get_ram(m->mbackend)));
        return false;
    }
    if (!qom_object_add_user(opts->memory_backend, "machine", errp)) {
        return false;
    }
    m->mbackend_id = g_strdup(opts->memory_backend);
    return true;
}

static bool add_serials(VMMachine *m, const VMOptions *opts, GError **errp)
{
    for (guint i = 0; i < opts->serials->len; i++) {
        VMSerial *s =
            vm_serial_new(m, i, g_ptr_array_index(opts->serials, i), errp);

        if (!s) {
            return false;
        }
        g_ptr_array_add(m->serials, s);
    }
    return true;
}

VMMachine *vm_machine_new(const VMOptions *opts, GError **errp)
{
    VMMachine *m = g_new0(VMMachine, 1);

    m->name = g_strdup(opts->name);
    m->type = g_strdup(opts->machine);
    m->serials = g_ptr_array_new_with_free_func((GDestroyNotify)vm_serial_free);
    m->hmps = g_ptr_array_new_with_free_func((GDestroyNotify)vm_hmp_free);
    m->rs = vm_run_state_new(opts->start_paused);
    vm_run_state_set_listener(m->rs, state_changed, m);
    if (!setup_ram(m, opts, errp)) {
        goto fail;
    }
    /*
     * On a mux chardev shared by a serial port and a monitor (-serial
     * mon:stdio) the newest frontend takes the focus.  QEMU starts with
     * the serial port in front, or the monitor with -S, where the guest
     * has not run: attach in the order that gives the same.
     */
    if (opts->start_paused && !add_serials(m, opts, errp)) {
        goto fail;
    }
    for (guint i = 0; i < opts->monitors->len; i++) {
        VMMonitorOpt *mon = g_ptr_array_index(opts->monitors, i);
        VMHmp *hmp;

        if (mon->mode != VM_MONITOR_MODE_READLINE) {
            continue; /* QMP monitors belong to the monitor layer */
        }
        hmp = vm_hmp_new(m, mon->chardev, errp);
        if (!hmp) {
            goto fail;
        }
        g_ptr_array_add(m->hmps, hmp);
    }
    if (!opts->start_paused && !add_serials(m, opts, errp)) {
        goto fail;
    }
    return m;

fail:
    vm_machine_free(m);
    return NULL;
}

void vm_machine_free(VMMachine *m)
{
    if (!m) {
        return;
    }
    g_ptr_array_unref(m->hmps);
    g_ptr_array_unref(m->serials);
    if (m->mbackend_id) {
        qom_object_remove_user(m->mbackend_id, "machine");
    }
    g_clear_object(&m->mbackend);
    g_free(m->mbackend_id);
    vm_ram_free(m->ram);
    vm_run_state_free(m->rs);
    g_free(m->name);
    g_free(m->type);
    g_free(m);
}

void vm_machine_set_shutdown_handler(VMMachine *m,
                                     VMMachineShutdownHandler handler,
                                     void *opaque)
{
    m->shutdown = handler;
    m->shutdown_opaque = opaque;
}

void vm_machine_set_state_listener(VMMachine *m, VMRunStateListener listener,
                                   void *opaque)
{
    m->listener = listener;
    m->listener_opaque = opaque;
}

VMRam *vm_machine_get_ram(VMMachine *m)
{
    return m->mbackend ? vm_memory_backend_get_ram(m->mbackend) : m->ram;
}

VMRunStateMachine *vm_machine_get_run_state(VMMachine *m)
{
    return m->rs;
}

const char *vm_machine_get_name(VMMachine *m)
{
    return m->name;
}

const char *vm_machine_get_type(VMMachine *m)
{
    return m->type;
}

bool vm_machine_stop(VMMachine *m, GError **errp)
{
    return vm_run_state_stop(m->rs, errp);
}

bool vm_machine_cont(VMMachine *m, GError **errp)
{
    return vm_run_state_cont(m->rs, errp);
}

void vm_machine_shutdown(VMMachine *m, VMShutdownCause cause)
{
    vm_run_state_shutdown(m->rs, cause);
}

bool vm_machine_pmemsave(VMMachine *m, int64_t addr, int64_t size,
                         const char *filename, GError **errp)
{
    if (size < 0) {
        g_set_error(errp, VM_ERROR, VM_ERROR_INVALID_VALUE,
                    "Invalid parameter 'size'");
        return false;
    }
    return vm_ram_save(vm_machine_get_ram(m), (uint64_t)addr, (uint64_t)size,
                       filename, errp);
}

bool vm_machine_memsave(VMMachine *m, int64_t addr, int64_t size,
                        const char *filename, bool has_cpu_index,
                        int64_t cpu_index, GError **errp)
{
    g_set_error(errp, VM_ERROR, VM_ERROR_INVALID_VALUE,
                "Parameter 'cpu-index' expects a CPU number");
    return false;
}

unsigned vm_machine_get_serial_count(VMMachine *m)
{
    return m->serials->len;
}

VMGuestConsole *vm_machine_get_serial_console(VMMachine *m, unsigned i)
{
    g_return_val_if_fail(i < m->serials->len, NULL);
    return vm_serial_get_console(g_ptr_array_index(m->serials, i));
}

const char *vm_machine_get_serial_chardev(VMMachine *m, unsigned i)
{
    g_return_val_if_fail(i < m->serials->len, NULL);
    return vm_serial_get_chardev(g_ptr_array_index(m->serials, i));
}
