/*
 * qio-vm's QMP commands.  Each is a thin layer over the machine (or qom)
 * that converts to and from the generated types; HMP's commands call the
 * same machine operations, so the two monitors cannot disagree.  The
 * events are sent from the machine's run-state listener, so a state
 * change made by HMP, QMP or a signal is reported the same way.
 */
#include "vm/qmp-cmds.h"

#include <string.h>

#include "qapi/error.h"
#include "qapi/json-visitor.h"
#include "qapi/qapi-commands-control.h"
#include "qapi/qapi-commands-misc.h"
#include "qapi/qapi-commands-qom.h"
#include "qapi/qapi-commands-run-state.h"
#include "qapi/qapi-events-run-state.h"
#include "qapi/qapi-visit-qom.h"
#include "chardev/char.h"
#include "qom/object.h"
#include "vm/hmp.h"

static VMMachine *cur_machine;

static const RunState run_state_map[VM_RUN_STATE__MAX] = {
    [VM_RUN_STATE_PRELAUNCH] = RUN_STATE_PRELAUNCH,
    [VM_RUN_STATE_RUNNING] = RUN_STATE_RUNNING,
    [VM_RUN_STATE_PAUSED] = RUN_STATE_PAUSED,
    [VM_RUN_STATE_SHUTDOWN] = RUN_STATE_SHUTDOWN,
};

static const ShutdownCause cause_map[VM_SHUTDOWN__MAX] = {
    [VM_SHUTDOWN_HOST_QMP_QUIT] = SHUTDOWN_CAUSE_HOST_QMP_QUIT,
    [VM_SHUTDOWN_HOST_SIGNAL] = SHUTDOWN_CAUSE_HOST_SIGNAL,
};

static void send_events(void *opaque, VMRunState old, VMRunState new,
                        VMShutdownCause cause)
{
    if (new == VM_RUN_STATE_SHUTDOWN) {
        qapi_event_send_shutdown(false, cause_map[cause]);
    } else if (new == VM_RUN_STATE_RUNNING) {
        qapi_event_send_resume();
    } else if (old == VM_RUN_STATE_RUNNING) {
        qapi_event_send_stop();
    }
}

void vm_qmp_set_machine(VMMachine *m)
{
    if (cur_machine) {
        vm_machine_set_state_listener(cur_machine, NULL, NULL);
    }
    cur_machine = m;
    if (m) {
        vm_machine_set_state_listener(m, send_events, NULL);
    }
}

static VMMachine *machine(GError **errp)
{
    if (!cur_machine) {
        g_set_error(errp, QAPI_ERROR, QAPI_ERROR_GENERIC,
                    "there is no machine to run this command on");
    }
    return cur_machine;
}

StatusInfo *qmp_query_status(GError **errp)
{
    VMMachine *m = machine(errp);
    StatusInfo *info;

    if (!m) {
        return NULL;
    }
    info = g_new0(StatusInfo, 1);
    info->running = vm_run_state_is_running(vm_machine_get_run_state(m));
    info->singlestep = false;
    info->status = run_state_map[vm_run_state_get(vm_machine_get_run_state(m))];
    return info;
}

void qmp_stop(GError **errp)
{
    VMMachine *m = machine(errp);

    if (m) {
        vm_machine_stop(m, errp);
    }
}

void qmp_cont(GError **errp)
{
    VMMachine *m = machine(errp);

    if (m) {
        vm_machine_cont(m, errp);
    }
}

void qmp_quit(GError **errp)
{
    VMMachine *m = machine(errp);

    if (m) {
        vm_machine_shutdown(m, VM_SHUTDOWN_HOST_QMP_QUIT);
    }
}

NameInfo *qmp_query_name(GError **errp)
{
    VMMachine *m = machine(errp);
    NameInfo *info;

    if (!m) {
        return NULL;
    }
    info = g_new0(NameInfo, 1);
    info->name = g_strdup(vm_machine_get_name(m));
    return info;
}

void qmp_pmemsave(int64_t val, int64_t size, const char *filename,
                  GError **errp)
{
    VMMachine *m = machine(errp);

    if (m) {
        vm_machine_pmemsave(m, val, size, filename, errp);
    }
}

void qmp_memsave(int64_t val, int64_t size, const char *filename,
                 bool has_cpu_index, int64_t cpu_index, GError **errp)
{
    VMMachine *m = machine(errp);

    if (m) {
        vm_machine_memsave(m, val, size, filename, has_cpu_index, cpu_index,
                           errp);
    }
}

char *qmp_human_monitor_command(const char *command_line, bool has_cpu_index,
                                int64_t cpu_index, GError **errp)
{
    VMMachine *m = machine(errp);

    if (!m) {
        return NULL;
    }
    if (has_cpu_index) {
        /* There is no CPU to select; QEMU answers so on such a machine. */
        g_set_error(errp, QAPI_ERROR, QAPI_ERROR_GENERIC,
                    "Parameter 'cpu-index' expects a CPU number");
        return NULL;
    }
    return vm_hmp_execute(m, command_line);
}

void qmp_object_add(ObjectOptions *arg, GError **errp)
{
    g_autoptr(JsonNode) node = NULL;
    g_autoptr(QapiVisitor) v = qapi_json_output_visitor_new(&node);

    if (!visit_type_ObjectOptions(v, NULL, &arg, errp)) {
        return;
    }
    visit_complete(v);
    qom_object_add_json(json_node_get_object(node), errp);
}

void qmp_object_del(const char *id, GError **errp)
{
    qom_object_del(id, errp);
}

/* ---- qom-list ----------------------------------------------------------- */

static void add_prop(ObjectPropertyInfoList **list, const char *name,
                     const char *type)
{
    ObjectPropertyInfoList *entry = g_new0(ObjectPropertyInfoList, 1);

    entry->value = g_new0(ObjectPropertyInfo, 1);
    entry->value->name = g_strdup(name);
    entry->value->type = g_strdup(type);
    entry->next = *list;
    *list = entry;
}

static void add_child(ObjectPropertyInfoList **list, const char *name,
                      const char *type)
{
    g_autofree char *child = g_strdup_printf("child<%s>", type);

    add_prop(list, name, child);
}

/* QEMU's names for the property types qom converts. */
static const char *pspec_type(GParamSpec *pspec)
{
    GType t = G_PARAM_SPEC_VALUE_TYPE(pspec);

    if (qom_param_spec_is_size(pspec)) {
        return "size";
    }
    switch (G_TYPE_FUNDAMENTAL(t)) {
    case G_TYPE_BOOLEAN:
        return "bool";
    case G_TYPE_STRING:
        return "string";
    case G_TYPE_INT:
    case G_TYPE_LONG:
        return "int";
    case G_TYPE_INT64:
        return "int64";
    case G_TYPE_UINT:
    case G_TYPE_ULONG:
        return "uint32";
    case G_TYPE_UINT64:
        return "uint64";
    case G_TYPE_DOUBLE:
    case G_TYPE_FLOAT:
        return "number";
    case G_TYPE_ENUM:
        return g_type_name(t);
    default:
        return qom_param_spec_is_json(pspec) ? "any" : g_type_name(t);
    }
}

static void list_object(ObjectPropertyInfoList **list, GObject *obj)
{
    guint n;
    g_autofree GParamSpec **pspecs =
        g_object_class_list_properties(G_OBJECT_GET_CLASS(obj), &n);

    /* Reverse order, so the list comes out in the class's order. */
    for (guint i = n; i-- > 0;) {
        if (!qom_param_spec_is_hidden(pspecs[i])) {
            add_prop(list, pspecs[i]->name, pspec_type(pspecs[i]));
        }
    }
}

ObjectPropertyInfoList *qmp_qom_list(const char *path, GError **errp)
{
    ObjectPropertyInfoList *list = NULL;
    VMMachine *m = machine(errp);
    g_autofree char *mtype = NULL;

    if (!m) {
        return NULL;
    }
    mtype = g_strdup_printf("%s-machine", vm_machine_get_type(m));
    if (g_str_equal(path, "/")) {
        add_child(&list, "chardevs", "container");
        add_child(&list, "objects", "container");
        add_child(&list, "machine", mtype);
    } else if (g_str_equal(path, "/machine")) {
        add_child(&list, "unattached", "container");
    } else if (g_str_equal(path, "/machine/unattached")) {
        for (unsigned i = vm_machine_get_serial_count(m); i-- > 0;) {
            g_autofree char *name = g_strdup_printf("serial[%u]", i);

            add_child(&list, name, "isa-serial");
        }
    } else if (g_str_equal(path, "/objects")) {
        g_auto(GStrv) ids = qom_object_list_ids();
        guint n = g_strv_length(ids);

        for (guint i = n; i-- > 0;) {
            GObject *obj = qom_object_find(ids[i]);
            const char *type =
                obj ? qom_type_get_name(G_OBJECT_TYPE(obj)) : NULL;

            add_child(&list, ids[i], type ? type : "object");
        }
    } else if (g_str_has_prefix(path, "/objects/") &&
               qom_object_find(path + 9)) {
        list_object(&list, qom_object_find(path + 9));
    } else if (g_str_equal(path, "/chardevs")) {
        g_autoptr(GPtrArray) chrs = qio_chardev_list();

        for (guint i = chrs->len; i-- > 0;) {
            QIOChardev *chr = g_ptr_array_index(chrs, i);
            g_autofree char *type = g_strdup_printf(
                "chardev-%s", qio_chardev_get_backend_name(chr));

            add_child(&list, qio_chardev_get_id(chr), type);
        }
    } else if (!(g_str_has_prefix(path, "/chardevs/") &&
                 qio_chardev_find(path + 10)) &&
               !(g_str_has_prefix(path, "/machine/unattached/serial["))) {
        g_set_error(errp, QAPI_ERROR, QAPI_ERROR_DEVICE_NOT_FOUND,
                    "Device '%s' not found", path);
        return NULL;
    }
    add_prop(&list, "type", "string");
    return list;
}
