/*
 * A QMP server for the side-by-side checks against QEMU
 * (test-qmp-conformance.py): a MonitorQMP on a UNIX socket chardev with
 * the generated control, misc, introspect and run-state commands, where
 * what belongs to a machine is a stand-in: stop and cont switch a flag
 * and send STOP and RESUME, quit sends SHUTDOWN and exits, the rest
 * fails.  It exits on SIGTERM too.
 *
 * Usage: qmp-test-server SOCKET-PATH [pretty]
 */
#include <glib-unix.h>
#include <stdio.h>
#include <string.h>

#include "chardev/char-socket.h"
#include "monitor/qmp.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-control.h"
#include "qapi/qapi-commands-introspect.h"
#include "qapi/qapi-commands-misc.h"
#include "qapi/qapi-commands-run-state.h"
#include "qapi/qapi-events-run-state.h"

static GMainLoop *loop;
static bool running = true;

void qmp_quit(GError **errp)
{
    qapi_event_send_shutdown(false, SHUTDOWN_CAUSE_HOST_QMP_QUIT);
    g_main_loop_quit(loop);
}

void qmp_stop(GError **errp)
{
    if (running) {
        running = false;
        qapi_event_send_stop();
    }
}

void qmp_cont(GError **errp)
{
    if (!running) {
        running = true;
        qapi_event_send_resume();
    }
}

StatusInfo *qmp_query_status(GError **errp)
{
    StatusInfo *info = g_new0(StatusInfo, 1);

    info->running = running;
    info->status = running ? RUN_STATE_RUNNING : RUN_STATE_PAUSED;
    return info;
}

NameInfo *qmp_query_name(GError **errp)
{
    return g_new0(NameInfo, 1);
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

static gboolean on_sigterm(gpointer opaque)
{
    g_main_loop_quit(loop);
    return G_SOURCE_REMOVE;
}

int main(int argc, char **argv)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(QmpCommandList) cmds = qmp_command_list_new();
    g_autoptr(QIOSocketAddress) addr = NULL;
    QIOChardevSocketOptions so = { .server = true, .wait = false };
    MonitorQMPOptions opts = { .commands = cmds };
    QIOChardev *chr;
    MonitorQMP *qmp;

    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s SOCKET-PATH [pretty]\n", argv[0]);
        return 2;
    }
    opts.pretty = argc == 3 && !strcmp(argv[2], "pretty");
    qmp_init_marshal_control(cmds);
    qmp_init_marshal_misc(cmds);
    qmp_init_marshal_introspect(cmds);
    qmp_init_marshal_run_state(cmds);

    loop = g_main_loop_new(NULL, FALSE);
    addr = qio_socket_address_new_unix(argv[1], false);
    so.addr = addr;
    chr = qio_chardev_socket_new("qmp0", &so, &err);
    if (!chr) {
        fprintf(stderr, "qmp-test-server: %s\n", err->message);
        return 1;
    }
    qmp = monitor_qmp_new(&opts);
    if (!monitor_attach_chardev(MONITOR_BASE(qmp), chr, &err)) {
        fprintf(stderr, "qmp-test-server: %s\n", err->message);
        return 1;
    }
    g_unix_signal_add(SIGTERM, on_sigterm, NULL);
    g_main_loop_run(loop);

    g_object_unref(qmp);
    qio_chardev_remove_all();
    g_main_loop_unref(loop);
    return 0;
}
