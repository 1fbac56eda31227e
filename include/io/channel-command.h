/*
 * QIOChannelCommand: a channel to a child process, writing its standard
 * input and reading its standard output.  It is what `exec:` migration runs
 * on:
 *
 *     qio-vm migrate "exec:gzip -c > /var/lib/qio/vm1.gz"      (O_WRONLY)
 *     qio-vm --incoming "exec:gzip -dc /var/lib/qio/vm1.gz"    (O_RDONLY)
 *
 * The child's standard error goes to a pipe that a helper thread drains
 * all the time, keeping only the last QIO_CHANNEL_COMMAND_STDERR_TAIL
 * bytes, so a chatty child can never stall on a full pipe.  When the child
 * fails, qio_channel_close() reports how, quoting that tail:
 *
 *     command 'gzip -dc /x.gz' exited with status 1: gzip: /x.gz: No such
 *     file or directory
 *
 * The child runs in its own process group with an empty signal mask,
 * SIGPIPE at its default action, and no descriptors of ours other than the
 * three pipes (descriptors 0, 1 and 2; the ones not used by @flags are
 * /dev/null).
 *
 * SIGPIPE: writing to a child that has exited fails with
 * QIO_ERROR_BROKEN_PIPE; the signal is blocked for the writing thread and
 * consumed (see io/channel-file.h), never delivered to the process.
 *
 * Threads: one thread may read while another writes and then calls
 * qio_channel_shutdown(QIO_CHANNEL_SHUTDOWN_WRITE); closing must not race
 * with other calls.
 */
#pragma once

#include <sys/types.h>

#include "io/channel.h"

G_BEGIN_DECLS

#define QIO_TYPE_CHANNEL_COMMAND (qio_channel_command_get_type())
G_DECLARE_FINAL_TYPE(QIOChannelCommand, qio_channel_command, QIO,
                     CHANNEL_COMMAND, QIOChannel)

/* How much of the child's standard error is kept for error messages. */
#define QIO_CHANNEL_COMMAND_STDERR_TAIL 4096

/* Default for qio_channel_command_set_exit_timeout(), in milliseconds. */
#define QIO_CHANNEL_COMMAND_EXIT_TIMEOUT_MS 10000

/*
 * Run @argv (argv[0] is looked up in PATH unless it contains a '/') with
 * pipes selected by @flags: O_RDONLY to read its standard output, O_WRONLY
 * to write its standard input, O_RDWR for both.  A command that cannot be
 * started fails here, not at close, with the code mapped from the reason:
 * QIO_ERROR_NOT_FOUND and "cannot run command 'no-such-tool': No such file
 * or directory".
 *
 *     const char *argv[] = { "gzip", "-c", NULL };
 *     QIOChannelCommand *cmd =
 *         qio_channel_command_new_spawn(argv, O_RDWR, errp);
 *
 * The channel has QIO_CHANNEL_FEATURE_SHUTDOWN: shutting down WRITE closes
 * the child's standard input so that it sees EOF (later writes fail with
 * QIO_ERROR_BROKEN_PIPE); shutting down READ closes our end of its standard
 * output (later reads return EOF).  Its name is "command '<argv joined by
 * spaces>'".
 *
 * qio_channel_close() closes both pipes, then waits for the child to exit
 * and reaps it.  A child still running after the exit timeout (see
 * qio_channel_command_set_exit_timeout()) is sent SIGTERM, and after a
 * second timeout SIGKILL, both to its whole process group, so close
 * returns within about twice the timeout.  Close fails when the child did
 * not exit with status 0:
 *   - QIO_ERROR_COMMAND_FAILED: "command 'X' exited with status 3" or
 *     "command 'X' was killed by signal 9 (Killed)";
 *   - QIO_ERROR_TIMED_OUT: the child had to be signalled, e.g. "command
 *     'sleep 60' did not exit within 10000 ms of its pipes closing and was
 *     killed by signal 15 (Terminated)".
 * followed by ": " and the tail of its standard error when it wrote any.
 * Closing the pipes before reading all output can make the child die of
 * SIGPIPE, which is reported like any other signal.  If the application
 * reaps children itself (SIGCHLD set to SIG_IGN, or its own waitpid(-1)),
 * the exit status is lost and close reports success.
 *
 * Finalizing a channel that was not closed closes it the same way and
 * drops the error, so the child is never left a zombie.
 */
QIOChannelCommand *qio_channel_command_new_spawn(const char *const argv[],
                                                 int flags, GError **errp);

/*
 * The child's process id.  After qio_channel_close() the child has been
 * reaped and the number may belong to another process.
 */
pid_t qio_channel_command_get_pid(QIOChannelCommand *ioc);

/*
 * How long close waits for the child after closing its pipes, and again
 * after SIGTERM, before escalating (default
 * QIO_CHANNEL_COMMAND_EXIT_TIMEOUT_MS).  0 escalates at once.
 */
void qio_channel_command_set_exit_timeout(QIOChannelCommand *ioc,
                                          unsigned int timeout_ms);

/*
 * A copy of the last bytes (at most QIO_CHANNEL_COMMAND_STDERR_TAIL) the
 * child wrote to its standard error so far, starting at a line boundary
 * when older output was dropped, with trailing white space removed and
 * control characters other than newline and tab replaced by '?'.  Free
 * with g_free().
 */
char *qio_channel_command_get_stderr(QIOChannelCommand *ioc);

G_END_DECLS
