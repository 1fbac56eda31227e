/*
 * qio-vm's program: everything main() does, in the library so that tests
 * can reach it.  tools/qio-vm.c is one call:
 *
 *     int main(int argc, char **argv) { return vm_tool_main(argc, argv); }
 *
 * The steps, in QEMU's order: parse the command line (errors print
 * "qio-vm: MESSAGE" and exit 1), answer -help/-version/... help, fork
 * into the background for -daemonize (the parent exits 0 only once the
 * child is set up, 1 if it failed), create the -object objects, the
 * -chardev chardevs, the machine with its serial ports and HMP monitors
 * and the QMP monitors, write the -pidfile, then run the main loop until
 * quit or SIGTERM/SIGINT/SIGHUP, which shut the machine down (SHUTDOWN
 * event) and end the process with status 0, the pid file removed.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

int vm_tool_main(int argc, char **argv);

G_END_DECLS
