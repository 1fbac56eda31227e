/*
 * qio-vm's main(), in the library.  What is subtle: -daemonize forks
 * before anything is created (no thread or main context exists yet) and
 * the parent waits on a pipe for the child's verdict, so a failure while
 * setting up is still reported on the user's terminal with status 1; the
 * shutdown handler quits the loop from an idle callback, so the reply to
 * quit and the SHUTDOWN event are written before the monitors go away.
 */
#include "vm/tool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib-unix.h>

#include "chardev/char-mux.h"
#include "chardev/char-qapi.h"
#include "crypto/init.h"
#include "monitor/qmp.h"
#include "qapi/qapi-commands-char.h"
#include "qapi/qapi-commands-control.h"
#include "qapi/qapi-commands-introspect.h"
#include "qapi/qapi-commands-misc.h"
#include "qapi/qapi-commands-qom.h"
#include "qapi/qapi-commands-run-state.h"
#include "qio-config.h"
#include "qom/object-cli.h"
#include "util/log.h"
#include "vm/hmp.h"
#include "vm/machine.h"
#include "vm/memory-backend.h"
#include "vm/options.h"
#include "vm/qmp-cmds.h"

typedef struct Tool {
    VMOptions *opts;
    GMainLoop *loop;
    VMMachine *machine;
    QmpCommandList *cmds;
    GPtrArray *qmps; /* MonitorQMP * */
    char *pidfile;   /* written by us: removed at exit */
    int pidfile_fd;
    int ready_fd; /* -daemonize: tells the waiting parent */
    int exit_status;
} Tool;

/* ---- -chardev ---------------------------------------------------------- */

static bool chardev_create(const char *arg, GError **errp)
{
    g_autoptr(GError) local = NULL;

    if (!qio_chardev_new_from_opts(arg, &local)) {
        g_set_error(errp, local->domain, local->code, "-chardev %s: %s", arg,
                    local->message);
        return false;
    }
    return true;
}

static bool hmp_chardev_add(const char *args, GError **errp)
{
    return qio_chardev_new_from_opts(args, errp) != NULL;
}

/* ---- -pidfile ----------------------------------------------------------- */

static bool write_pidfile(Tool *t, const char *path, GError **errp)
{
    g_autofree char *text = g_strdup_printf("%d\n", (int)getpid());
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

    if (fd < 0 || lockf(fd, F_TLOCK, 0) < 0 || ftruncate(fd, 0) < 0 ||
        write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
        int err = errno;

        g_set_error(
            errp, VM_ERROR, VM_ERROR_IO, "cannot create PID file %s: %s%s",
            path, g_strerror(err),
            err == EAGAIN || err == EACCES ? " (another qio-vm holds it)" : "");
        if (fd >= 0) {
            close(fd);
        }
        return false;
    }
    /* The lock is held as long as the process lives. */
    t->pidfile_fd = fd;
    t->pidfile = g_canonicalize_filename(path, NULL);
    return true;
}

/* ---- -daemonize -----------------------------------------------------------
 */

/*
 * Fork: the parent waits for one byte from the child (setup done) and
 * exits 0, or for end of file (the child failed) and exits 1.  Returns in
 * the child only.
 */
static void daemonize(Tool *t)
{
    int fds[2];
    pid_t pid;

    if (pipe2(fds, O_CLOEXEC) < 0) {
        fprintf(stderr, "qio-vm: -daemonize: cannot create a pipe: %s\n",
                g_strerror(errno));
        exit(EXIT_FAILURE);
    }
    pid = fork();
    if (pid < 0) {
        fprintf(stderr, "qio-vm: -daemonize: cannot fork: %s\n",
                g_strerror(errno));
        exit(EXIT_FAILURE);
    }
    if (pid > 0) {
        char c;
        ssize_t n;

        close(fds[1]);
        do {
            n = read(fds[0], &c, 1);
        } while (n < 0 && errno == EINTR);
        _exit(n == 1 ? EXIT_SUCCESS : EXIT_FAILURE);
    }
    close(fds[0]);
    setsid();
    t->ready_fd = fds[1];
}

/* The child is set up: detach from the terminal and release the parent. */
static void daemon_ready(Tool *t)
{
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);

    if (chdir("/") < 0) {
        /* Keep the directory; nothing depends on it. */
    }
    if (null >= 0) {
        dup2(null, STDIN_FILENO);
        dup2(null, STDOUT_FILENO);
        dup2(null, STDERR_FILENO);
        close(null);
    }
    if (write(t->ready_fd, "", 1) != 1) {
        /* The parent is gone; carry on. */
    }
    close(t->ready_fd);
    t->ready_fd = -1;
}

/* ---- Running ------------------------------------------------------------- */

static gboolean quit_loop(gpointer opaque)
{
    g_main_loop_quit(((Tool *)opaque)->loop);
    return G_SOURCE_REMOVE;
}

static void on_shutdown(void *opaque, VMShutdownCause cause)
{
    g_idle_add(quit_loop, opaque);
}

/* C-a x on a mux chardev: quit as the quit command does. */
static void on_mux_quit(gpointer opaque)
{
    Tool *t = opaque;

    vm_machine_shutdown(t->machine, VM_SHUTDOWN_HOST_QMP_QUIT);
}

static gboolean on_signal(gpointer opaque)
{
    Tool *t = opaque;

    g_message("terminating on signal");
    vm_machine_shutdown(t->machine, VM_SHUTDOWN_HOST_SIGNAL);
    return G_SOURCE_CONTINUE;
}

static bool uses_stdio(const VMOptions *opts)
{
    for (guint i = 0; i < opts->chardevs->len; i++) {
        const char *c = g_ptr_array_index(opts->chardevs, i);

        if (g_str_has_prefix(c, "stdio,") || g_str_equal(c, "stdio") ||
            g_str_has_prefix(c, "backend=stdio")) {
            return true;
        }
    }
    return false;
}

static bool setup(Tool *t, GError **errp)
{
    VMOptions *opts = t->opts;

    if (!qcrypto_init(errp)) {
        return false;
    }
    vm_memory_backend_register_types();
    for (guint i = 0; i < opts->objects->len; i++) {
        const char *arg = g_ptr_array_index(opts->objects, i);
        g_autoptr(GError) local = NULL;

        if (!qom_object_add_from_cli(arg, &local)) {
            g_autofree char *what = qom_object_cli_describe(arg);

            g_set_error(errp, local->domain, local->code, "-object %s: %s",
                        what, local->message);
            return false;
        }
    }
    for (guint i = 0; i < opts->chardevs->len; i++) {
        if (!chardev_create(g_ptr_array_index(opts->chardevs, i), errp)) {
            return false;
        }
    }
    vm_hmp_set_chardev_add(hmp_chardev_add);
    t->machine = vm_machine_new(opts, errp);
    if (!t->machine) {
        return false;
    }
    vm_machine_set_shutdown_handler(t->machine, on_shutdown, t);
    qio_chardev_mux_set_quit_func(on_mux_quit, t);
    vm_qmp_set_machine(t->machine);

    t->cmds = qmp_command_list_new();
    qmp_init_marshal_char(t->cmds);
    qmp_init_marshal_control(t->cmds);
    qmp_init_marshal_misc(t->cmds);
    qmp_init_marshal_run_state(t->cmds);
    qmp_init_marshal_qom(t->cmds);
    qmp_init_marshal_introspect(t->cmds);
    for (guint i = 0; i < opts->monitors->len; i++) {
        VMMonitorOpt *mon = g_ptr_array_index(opts->monitors, i);
        MonitorQMPOptions qo = { .pretty = mon->pretty, .commands = t->cmds };
        QIOChardev *chr;
        MonitorQMP *qmp;

        if (mon->mode != VM_MONITOR_MODE_CONTROL) {
            continue;
        }
        chr = qio_chardev_find(mon->chardev);
        if (!chr) {
            g_set_error(errp, VM_ERROR, VM_ERROR_NOT_FOUND,
                        "-mon chardev=%s: chardev \"%s\" not found",
                        mon->chardev, mon->chardev);
            return false;
        }
        qmp = monitor_qmp_new(&qo);
        g_ptr_array_add(t->qmps, qmp);
        if (!monitor_attach_chardev(MONITOR_BASE(qmp), chr, errp)) {
            g_prefix_error(errp, "-mon chardev=%s: ", mon->chardev);
            return false;
        }
    }
    if (opts->pidfile && !write_pidfile(t, opts->pidfile, errp)) {
        return false;
    }
    return true;
}

static void teardown(Tool *t)
{
    g_ptr_array_unref(t->qmps);
    vm_qmp_set_machine(NULL);
    vm_machine_free(t->machine);
    if (t->cmds) {
        qmp_command_list_free(t->cmds);
    }
    qio_chardev_remove_all();
    qom_object_table_clear();
    if (t->pidfile) {
        unlink(t->pidfile);
        close(t->pidfile_fd);
        g_free(t->pidfile);
    }
    if (t->loop) {
        g_main_loop_unref(t->loop);
    }
    vm_options_free(t->opts);
}

static int print_help(VMOptions *opts)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GString) out = g_string_new(NULL);

    switch (opts->action) {
    case VM_OPTIONS_HELP:
        fputs(vm_options_usage(), stdout);
        return EXIT_SUCCESS;
    case VM_OPTIONS_VERSION:
        printf("qio-vm version %s\n", QIO_VERSION);
        return EXIT_SUCCESS;
    case VM_OPTIONS_MACHINE_HELP:
        printf("Supported machines are:\n"
               "none                 empty machine: RAM only if -m is given\n"
               "pc                   a PC without CPU: RAM (128M by "
               "default) and serial ports (default)\n");
        return EXIT_SUCCESS;
    case VM_OPTIONS_DEVICE_HELP:
        printf("Devices qio-vm has:\n"
               "name \"isa-serial\", bus ISA, desc \"serial port with the "
               "built-in guest console; chardev=ID\"\n");
        return EXIT_SUCCESS;
    case VM_OPTIONS_OBJECT_HELP:
        if (!qcrypto_init(&err)) {
            break;
        }
        vm_memory_backend_register_types();
        if (qom_object_cli_help(g_ptr_array_index(opts->objects, 0), out,
                                &err) < 0) {
            break;
        }
        fputs(out->str, stdout);
        return EXIT_SUCCESS;
    default:
        g_assert_not_reached();
    }
    fprintf(stderr, "qio-vm: -object: %s\n", err->message);
    return EXIT_FAILURE;
}

int vm_tool_main(int argc, char **argv)
{
    g_autoptr(GError) err = NULL;
    Tool t = { .ready_fd = -1, .pidfile_fd = -1 };

    qutil_log_init("qio-vm");
    t.opts = vm_options_parse(argc, argv, &err);
    if (!t.opts) {
        fprintf(stderr, "qio-vm: %s\n", err->message);
        return EXIT_FAILURE;
    }
    if (t.opts->action != VM_OPTIONS_RUN) {
        int status = print_help(t.opts);

        vm_options_free(t.opts);
        return status;
    }
    if (t.opts->daemonize && uses_stdio(t.opts)) {
        fprintf(stderr, "qio-vm: stdio: cannot use stdio with -daemonize\n");
        vm_options_free(t.opts);
        return EXIT_FAILURE;
    }
    if (t.opts->daemonize) {
        daemonize(&t);
    }
    t.qmps = g_ptr_array_new_with_free_func(g_object_unref);
    t.loop = g_main_loop_new(NULL, FALSE);
    if (!setup(&t, &err)) {
        fprintf(stderr, "qio-vm: %s\n", err->message);
        teardown(&t);
        return EXIT_FAILURE;
    }
    g_unix_signal_add(SIGTERM, on_signal, &t);
    g_unix_signal_add(SIGINT, on_signal, &t);
    g_unix_signal_add(SIGHUP, on_signal, &t);
    if (t.opts->daemonize) {
        daemon_ready(&t);
    }
    g_main_loop_run(t.loop);
    teardown(&t);
    return EXIT_SUCCESS;
}
