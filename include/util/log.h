/*
 * One log writer for the programs: every GLib log message goes to
 * standard error as one line that starts with the program's name, so
 * that standard output carries only what the program produces (the
 * export's bytes in "qio-nbd-client copy nbd://... -", a listing).
 * GLib's own default writer sends info and debug messages to standard
 * output, which is why a program installs this one first thing:
 *
 *   int main(int argc, char **argv)
 *   {
 *       qutil_log_init("qio-nbd-client");
 *       ...parse the command line...
 *       qutil_log_set_verbose(opt_verbose);     (-v)
 *
 * Errors, criticals and warnings carry their level ("qio-nbd: warning:
 * cannot remove pid file ..."), messages and info do not, debug lines
 * say "debug:".  Info and debug are printed only when verbose, or when
 * G_MESSAGES_DEBUG names their log domain or "all", as GLib does.
 * Control characters in a message (a peer's name or an export name can
 * carry any byte) are shown as '?', and a line break is followed by an
 * indent, so that no message can forge a line of its own or send an
 * escape sequence to a terminal.  Each line is one write(2), so lines
 * from different threads do not mix.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

G_BEGIN_DECLS

/*
 * Send every GLib log message of this process to standard error,
 * prefixed with @prog (which also becomes g_get_prgname() if none is
 * set).  Call it before any thread is started.  A second call only
 * changes the prefix.
 */
void qutil_log_init(const char *prog);

/* Print info and debug messages too (the -v of the programs). */
void qutil_log_set_verbose(bool verbose);

/*
 * The line qutil_log_init()'s writer prints for one message, with its
 * trailing newline: "PROG: [LEVEL: ]MESSAGE\n".  For tests.
 */
char *qutil_log_format(const char *prog, GLogLevelFlags level,
                       const char *message);

G_END_DECLS
