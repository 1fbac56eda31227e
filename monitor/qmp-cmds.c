/*
 * The QMP commands that belong to the monitor itself: qmp_capabilities,
 * query-version, query-commands, getfd and closefd (query-qmp-schema is
 * qapi's, in qapi/introspect.c).
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
#include "qapi/qapi-commands-misc.h"

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
