/*
 * The command implementations the monitor tests need besides the
 * monitor's own: the control, misc and introspect modules' generated
 * marshallers are linked into the tests, and quit, human-monitor-command,
 * pmemsave and memsave belong to the program (vm/), so the tests give
 * them stand-ins.
 */
#include "monitor-test-commands.h"

#include "qapi/error.h"
#include "qapi/qapi-commands-control.h"
#include "qapi/qapi-commands-introspect.h"
#include "qapi/qapi-commands-misc.h"

int monitor_test_quit_calls;

void qmp_quit(GError **errp)
{
    monitor_test_quit_calls++;
}

char *qmp_human_monitor_command(const char *command_line, bool has_cpu_index,
                                int64_t cpu_index, GError **errp)
{
    g_set_error(errp, QAPI_ERROR, QAPI_ERROR_GENERIC, "no HMP here");
    return NULL;
}

void qmp_pmemsave(int64_t val, int64_t size, const char *filename,
                  GError **errp)
{
    g_set_error(errp, QAPI_ERROR, QAPI_ERROR_GENERIC, "no memory here");
}

void qmp_memsave(int64_t val, int64_t size, const char *filename,
                 bool has_cpu_index, int64_t cpu_index, GError **errp)
{
    g_set_error(errp, QAPI_ERROR, QAPI_ERROR_GENERIC, "no memory here");
}

void monitor_test_register_commands(QmpCommandList *cmds)
{
    qmp_init_marshal_control(cmds);
    qmp_init_marshal_misc(cmds);
    qmp_init_marshal_introspect(cmds);
}
