/*
 * The QMP commands that belong to the monitor itself: qmp_capabilities,
 * query-version, query-commands, query-qmp-schema, getfd and closefd.
 *
 * Each finds its monitor with monitor_cur(); run from anywhere else (the
 * command line, a test without a monitor) the ones that need a monitor
 * fail with an error rather than crash.  The marshallers that call these
 * are generated and compiled by the program (see monitor/meson.build).
 */
#include <string.h>
#include <unistd.h>

#include "monitor/error.h"
#include "monitor/qmp.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-control.h"
#include "qapi/qapi-introspect.h"

static MonitorQMP *cur_qmp(const char *command, GError **errp)
{
    Monitor *mon = monitor_cur();

    if (!mon || !MONITOR_IS_QMP(mon)) {
        g_set_error(errp, QAPI_ERROR, QAPI_ERROR_GENERIC,
                    "%s is only available from a QMP monitor", command);
        return NULL;
    }
    return MONITOR_QMP(mon);
}

void qmp_qmp_capabilities(QMPCapabilityList *enable, GError **errp)
{
    MonitorQMP *qmp = cur_qmp("qmp_capabilities", errp);
    g_autoptr(GPtrArray) names = g_ptr_array_new();

    if (!qmp) {
        return;
    }
    for (QMPCapabilityList *l = enable; l; l = l->next) {
        g_ptr_array_add(names, (char *)QMPCapability_str(l->value));
    }
    g_ptr_array_add(names, NULL);
    monitor_qmp_negotiate(qmp, (const char *const *)names->pdata, errp);
}

VersionInfo *qmp_query_version(GError **errp)
{
    VersionInfo *info = g_new0(VersionInfo, 1);
    int major, minor, micro;
    const char *package;

    monitor_qmp_version(&major, &minor, &micro, &package);
    info->qemu = g_new0(VersionTriple, 1);
    info->qemu->major = major;
    info->qemu->minor = minor;
    info->qemu->micro = micro;
    info->package = g_strdup(package);
    return info;
}

typedef struct {
    CommandInfoList *head;
    CommandInfoList **tail;
} CommandInfoAcc;

static void add_command_info(const QmpCommand *cmd, void *opaque)
{
    CommandInfoAcc *acc = opaque;
    CommandInfoList *node;

    if (!qmp_command_is_enabled(cmd)) {
        return;
    }
    node = g_new0(CommandInfoList, 1);
    node->value = g_new0(CommandInfo, 1);
    node->value->name = g_strdup(qmp_command_name(cmd));
    *acc->tail = node;
    acc->tail = &node->next;
}

CommandInfoList *qmp_query_commands(GError **errp)
{
    MonitorQMP *qmp = cur_qmp("query-commands", errp);
    CommandInfoAcc acc = { NULL, &acc.head };
    const QmpCommandList *cmds;

    if (!qmp) {
        return NULL;
    }
    cmds = monitor_qmp_get_commands(qmp);
    if (cmds) {
        qmp_for_each_command(cmds, add_command_info, &acc);
    }
    return acc.head;
}

void monitor_qmp_marshal_query_qmp_schema(JsonObject *args, JsonNode **ret,
                                          GError **errp)
{
    static JsonNode *schema;
    g_autoptr(GError) err = NULL;

    *ret = NULL;
    if (args && json_object_get_size(args) > 0) {
        GList *members = json_object_get_members(args);

        g_set_error(errp, QAPI_ERROR, QAPI_ERROR_UNEXPECTED_PARAMETER,
                    "Parameter '%s' is unexpected",
                    (const char *)members->data);
        g_list_free(members);
        return;
    }
    if (!schema) {
        g_autoptr(JsonParser) parser = json_parser_new_immutable();

        if (!json_parser_load_from_data(parser, qapi_introspect_json, -1,
                                        &err)) {
            g_set_error(errp, QAPI_ERROR, QAPI_ERROR_GENERIC,
                        "the built-in schema does not parse: %s", err->message);
            return;
        }
        schema = json_parser_steal_root(parser);
    }
    *ret = json_node_copy(schema);
}

void qmp_getfd(const char *fdname, GError **errp)
{
    Monitor *mon = monitor_cur();
    int fd;

    if (!mon) {
        g_set_error(errp, QAPI_ERROR, QAPI_ERROR_GENERIC,
                    "getfd is only available from a monitor");
        return;
    }
    fd = monitor_take_received_fd(mon);
    if (fd < 0) {
        g_set_error(errp, QAPI_ERROR, QAPI_ERROR_GENERIC,
                    "No file descriptor supplied via SCM_RIGHTS");
        return;
    }
    monitor_fd_add(mon, fdname, fd, errp);
}

void qmp_closefd(const char *fdname, GError **errp)
{
    Monitor *mon = monitor_cur();

    if (!mon) {
        g_set_error(errp, QAPI_ERROR, QAPI_ERROR_GENERIC,
                    "closefd is only available from a monitor");
        return;
    }
    monitor_fd_remove(mon, fdname, errp);
}
