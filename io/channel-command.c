/*
 * QIOChannelCommand: posix_spawn a child with pipes on its standard input
 * and output, read and write them through two QIOChannelFile objects,
 * collect the tail of its standard error on a helper thread, and turn its
 * exit into an error a user can act on.  Close is bounded in time: a child
 * that ignores EOF is escalated through SIGTERM to SIGKILL.
 */
#include "io/channel-command.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io/channel-file.h"

/* After close, stop draining a grandchild that keeps writing stderr. */
#define STDERR_DRAIN_MAX (1024 * 1024)

/*
 * State shared with the stderr thread.  It lives apart from the GObject
 * so that the thread never touches the channel itself.
 */
typedef struct {
    int fd;      /* our end of the child's stderr pipe, non-blocking */
    int wake[2]; /* closing wake[1] tells the thread to finish */
    GThread *thread;
    GMutex lock;
    /* Up to two tails, so that an append never needs to drop first. */
    char buf[2 * QIO_CHANNEL_COMMAND_STDERR_TAIL];
    size_t len;
    bool truncated;
} StderrTail;

struct _QIOChannelCommand {
    QIOChannel parent;
    pid_t pid;
    char *cmdline;
    QIOChannelFile *readc;  /* the child's stdout; NULL with O_WRONLY */
    QIOChannelFile *writec; /* the child's stdin; NULL with O_RDONLY */
    bool read_shut;
    bool write_shut;
    bool closed;
    unsigned int exit_timeout_ms;
    StderrTail *tail;
};

G_DEFINE_TYPE(QIOChannelCommand, qio_channel_command, QIO_TYPE_CHANNEL)

static void close_fd(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

static void stderr_tail_append(StderrTail *t, const char *data, size_t len)
{
    g_mutex_lock(&t->lock);
    memcpy(t->buf + t->len, data, len);
    t->len += len;
    if (t->len > QIO_CHANNEL_COMMAND_STDERR_TAIL) {
        size_t drop = t->len - QIO_CHANNEL_COMMAND_STDERR_TAIL;

        memmove(t->buf, t->buf + drop, QIO_CHANNEL_COMMAND_STDERR_TAIL);
        t->len = QIO_CHANNEL_COMMAND_STDERR_TAIL;
        t->truncated = true;
    }
    g_mutex_unlock(&t->lock);
}

/* Read what is in the pipe now; false at EOF or on a hard error. */
static bool stderr_tail_read(StderrTail *t, size_t *budget)
{
    char chunk[QIO_CHANNEL_COMMAND_STDERR_TAIL];

    for (;;) {
        ssize_t n = read(t->fd, chunk, sizeof(chunk));

        if (n > 0) {
            stderr_tail_append(t, chunk, n);
            if (budget) {
                *budget -= MIN(*budget, (size_t)n);
                if (*budget == 0) {
                    return false;
                }
            }
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    }
}

static gpointer stderr_thread(gpointer opaque)
{
    StderrTail *t = opaque;
    struct pollfd pfd[2] = {
        { .fd = t->fd, .events = POLLIN },
        { .fd = t->wake[0], .events = POLLIN },
    };

    for (;;) {
        if (poll(pfd, 2, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            break;
        }
        if (pfd[1].revents) {
            /*
             * The child has been reaped, so all it wrote is in the pipe.
             * Take that, but do not wait for descendants holding it open.
             */
            size_t budget = STDERR_DRAIN_MAX;

            stderr_tail_read(t, &budget);
            break;
        }
        if (pfd[0].revents && !stderr_tail_read(t, NULL)) {
            break;
        }
    }
    return NULL;
}

static StderrTail *stderr_tail_start(int fd, GError **errp)
{
    StderrTail *t = g_new0(StderrTail, 1);
    sigset_t all, old;
    GError *err = NULL;

    t->fd = fd;
    g_mutex_init(&t->lock);
    if (pipe2(t->wake, O_CLOEXEC) < 0) {
        qio_error_setg_errno(errp, errno, "cannot create a pipe");
        g_mutex_clear(&t->lock);
        g_free(t);
        return NULL;
    }
    /* Signals meant for the application must not land on our thread. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    t->thread = g_thread_try_new("qio-cmd-stderr", stderr_thread, t, &err);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!t->thread) {
        qio_error_setg(errp, QIO_ERROR_FAILED,
                       "cannot start a thread for the command's stderr: %s",
                       err->message);
        g_error_free(err);
        close_fd(&t->wake[0]);
        close_fd(&t->wake[1]);
        g_mutex_clear(&t->lock);
        g_free(t);
        return NULL;
    }
    return t;
}

/* Stop the thread (it drains what is left first) and free everything. */
static void stderr_tail_stop(StderrTail *t)
{
    close_fd(&t->wake[1]);
    g_thread_join(t->thread);
    t->thread = NULL;
    close_fd(&t->wake[0]);
    close_fd(&t->fd);
}

static void stderr_tail_free(StderrTail *t)
{
    if (t->thread) {
        stderr_tail_stop(t);
    }
    g_mutex_clear(&t->lock);
    g_free(t);
}

/* The printable form documented at qio_channel_command_get_stderr(). */
static char *stderr_tail_format(StderrTail *t)
{
    g_autofree char *raw = NULL;
    const char *start;
    size_t len;
    char *out;

    g_mutex_lock(&t->lock);
    raw = g_strndup(t->buf, t->len);
    len = t->len;
    if (t->truncated) {
        /* Start at a whole line unless the tail is one giant line. */
        const char *nl = memchr(raw, '\n', len);

        start = nl && nl + 1 < raw + len ? nl + 1 : raw;
    } else {
        start = raw;
    }
    g_mutex_unlock(&t->lock);

    len -= start - raw;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = start[i];

        if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f) {
            raw[(start - raw) + i] = '?';
        }
    }
    out = g_utf8_make_valid(start, len);
    return g_strchomp(out);
}

/* Descriptors 0-2 are the child's targets; keep ours out of the way. */
static bool move_above_stdio(int *fd, GError **errp)
{
    int nfd;

    if (*fd > STDERR_FILENO) {
        return true;
    }
    nfd = fcntl(*fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
    if (nfd < 0) {
        qio_error_setg_errno(errp, errno, "cannot duplicate a descriptor");
        return false;
    }
    close(*fd);
    *fd = nfd;
    return true;
}

static bool make_pipe(int fds[2], GError **errp)
{
    if (pipe2(fds, O_CLOEXEC) < 0) {
        qio_error_setg_errno(errp, errno, "cannot create a pipe");
        return false;
    }
    return move_above_stdio(&fds[0], errp) && move_above_stdio(&fds[1], errp);
}

static void close_pipe(int fds[2])
{
    close_fd(&fds[0]);
    close_fd(&fds[1]);
}

/*
 * Connect @child_fd to @target in the child, or /dev/null when the pipe is
 * not in use (child_fd < 0).
 */
static int spawn_connect(posix_spawn_file_actions_t *fa, int child_fd,
                         int target, int null_flags)
{
    if (child_fd >= 0) {
        return posix_spawn_file_actions_adddup2(fa, child_fd, target);
    }
    return posix_spawn_file_actions_addopen(fa, target, "/dev/null", null_flags,
                                            0);
}

static int spawn_child(const char *const argv[], int in_fd, int out_fd,
                       int err_fd, pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t mask, deflt;
    int ret;

    ret = posix_spawn_file_actions_init(&fa);
    if (ret) {
        return ret;
    }
    ret = posix_spawnattr_init(&attr);
    if (ret) {
        posix_spawn_file_actions_destroy(&fa);
        return ret;
    }

    sigemptyset(&mask);
    sigemptyset(&deflt);
    sigaddset(&deflt, SIGPIPE);
    ret = spawn_connect(&fa, in_fd, STDIN_FILENO, O_RDONLY);
    ret = ret ? ret : spawn_connect(&fa, out_fd, STDOUT_FILENO, O_WRONLY);
    ret = ret ? ret : spawn_connect(&fa, err_fd, STDERR_FILENO, O_WRONLY);
#ifdef __GLIBC__
#if __GLIBC_PREREQ(2, 34)
    /* Descriptors leaked without O_CLOEXEC by other code stay with us. */
    ret =
        ret ? ret
            : posix_spawn_file_actions_addclosefrom_np(&fa, STDERR_FILENO + 1);
#endif
#endif
    ret = ret ? ret : posix_spawnattr_setsigmask(&attr, &mask);
    ret = ret ? ret : posix_spawnattr_setsigdefault(&attr, &deflt);
    /* Its own group, so escalation reaches whatever it started too. */
    ret = ret ? ret : posix_spawnattr_setpgroup(&attr, 0);
    ret = ret ? ret
              : posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK |
                                                    POSIX_SPAWN_SETSIGDEF |
                                                    POSIX_SPAWN_SETPGROUP);
    if (!ret) {
        ret = posix_spawnp(pid, argv[0], &fa, &attr, (char *const *)argv,
                           environ);
    }
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    return ret;
}

static QIOChannelFile *pipe_channel(int fd, const char *name)
{
    QIOChannelFile *fioc = qio_channel_file_new_fd(fd);

    qio_channel_set_name(QIO_CHANNEL(fioc), name);
    return fioc;
}

QIOChannelCommand *qio_channel_command_new_spawn(const char *const argv[],
                                                 int flags, GError **errp)
{
    int mode = flags & O_ACCMODE;
    bool want_read = mode == O_RDONLY || mode == O_RDWR;
    bool want_write = mode == O_WRONLY || mode == O_RDWR;
    int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 };
    g_autofree char *cmdline = NULL;
    g_autofree char *name = NULL;
    QIOChannelCommand *cmd;
    StderrTail *tail;
    pid_t pid;
    int ret;

    g_return_val_if_fail(argv != NULL && argv[0] != NULL, NULL);

    cmdline = g_strjoinv(" ", (char **)argv);
    if (mode != O_RDONLY && mode != O_WRONLY && mode != O_RDWR) {
        qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                       "command '%s': flags must be O_RDONLY, O_WRONLY or "
                       "O_RDWR",
                       cmdline);
        return NULL;
    }
    if ((want_write && !make_pipe(in, errp)) ||
        (want_read && !make_pipe(out, errp)) || !make_pipe(err, errp)) {
        qutil_error_prepend(errp, "cannot run command '%s'", cmdline);
        close_pipe(in);
        close_pipe(out);
        close_pipe(err);
        return NULL;
    }
    if (fcntl(err[0], F_SETFL, O_NONBLOCK) < 0) {
        qio_error_setg_errno(errp, errno, "cannot run command '%s'", cmdline);
        close_pipe(in);
        close_pipe(out);
        close_pipe(err);
        return NULL;
    }

    /* Started first so that a spawn failure only needs err[1] closed. */
    tail = stderr_tail_start(err[0], errp);
    if (!tail) {
        qutil_error_prepend(errp, "cannot run command '%s'", cmdline);
        close_pipe(in);
        close_pipe(out);
        close_pipe(err);
        return NULL;
    }

    ret = spawn_child(argv, in[0], out[1], err[1], &pid);
    close_fd(&in[0]);
    close_fd(&out[1]);
    close_fd(&err[1]);
    if (ret) {
        qio_error_setg_errno(errp, ret, "cannot run command '%s'", cmdline);
        close_fd(&in[1]);
        close_fd(&out[0]);
        stderr_tail_free(tail);
        return NULL;
    }

    cmd = g_object_new(QIO_TYPE_CHANNEL_COMMAND, NULL);
    name = g_strdup_printf("command '%s'", cmdline);
    qio_channel_set_name(QIO_CHANNEL(cmd), name);
    cmd->pid = pid;
    cmd->cmdline = g_steal_pointer(&cmdline);
    cmd->tail = tail;
    if (want_write) {
        cmd->writec = pipe_channel(in[1], name);
    }
    if (want_read) {
        cmd->readc = pipe_channel(out[0], name);
    }
    return cmd;
}

pid_t qio_channel_command_get_pid(QIOChannelCommand *ioc)
{
    g_return_val_if_fail(QIO_IS_CHANNEL_COMMAND(ioc), -1);

    return ioc->pid;
}

void qio_channel_command_set_exit_timeout(QIOChannelCommand *ioc,
                                          unsigned int timeout_ms)
{
    g_return_if_fail(QIO_IS_CHANNEL_COMMAND(ioc));

    ioc->exit_timeout_ms = timeout_ms;
}

char *qio_channel_command_get_stderr(QIOChannelCommand *ioc)
{
    g_return_val_if_fail(QIO_IS_CHANNEL_COMMAND(ioc), NULL);

    return stderr_tail_format(ioc->tail);
}

static bool check_open(QIOChannelCommand *cmd, GError **errp)
{
    if (cmd->closed) {
        qio_error_setg(errp, QIO_ERROR_CLOSED, "%s: channel is closed",
                       qio_channel_get_name(QIO_CHANNEL(cmd)));
        return false;
    }
    return true;
}

static gssize qio_channel_command_readv(QIOChannel *ioc,
                                        const struct iovec *iov, size_t niov,
                                        int **fds, size_t *nfds, int flags,
                                        GError **errp)
{
    QIOChannelCommand *cmd = QIO_CHANNEL_COMMAND(ioc);

    if (!check_open(cmd, errp)) {
        return -1;
    }
    if (!cmd->readc) {
        qio_error_setg(errp, QIO_ERROR_NOT_SUPPORTED,
                       "%s: cannot read, the command was started write-only",
                       qio_channel_get_name(ioc));
        return -1;
    }
    if (cmd->read_shut) {
        return 0;
    }
    return qio_channel_readv_full(QIO_CHANNEL(cmd->readc), iov, niov, NULL,
                                  NULL, flags, errp);
}

static gssize qio_channel_command_writev(QIOChannel *ioc,
                                         const struct iovec *iov, size_t niov,
                                         const int *fds, size_t nfds, int flags,
                                         GError **errp)
{
    QIOChannelCommand *cmd = QIO_CHANNEL_COMMAND(ioc);

    if (!check_open(cmd, errp)) {
        return -1;
    }
    if (!cmd->writec) {
        qio_error_setg(errp, QIO_ERROR_NOT_SUPPORTED,
                       "%s: cannot write, the command was started read-only",
                       qio_channel_get_name(ioc));
        return -1;
    }
    if (cmd->write_shut) {
        qio_error_setg_errno(errp, EPIPE,
                             "cannot write to %s after "
                             "shutting down its input",
                             qio_channel_get_name(ioc));
        return -1;
    }
    return qio_channel_writev_full(QIO_CHANNEL(cmd->writec), iov, niov, NULL, 0,
                                   flags, errp);
}

static int qio_channel_command_set_blocking(QIOChannel *ioc, bool enabled,
                                            GError **errp)
{
    QIOChannelCommand *cmd = QIO_CHANNEL_COMMAND(ioc);

    if (!check_open(cmd, errp)) {
        return -1;
    }
    if (cmd->readc && !cmd->read_shut &&
        qio_channel_set_blocking(QIO_CHANNEL(cmd->readc), enabled, errp) < 0) {
        return -1;
    }
    if (cmd->writec && !cmd->write_shut &&
        qio_channel_set_blocking(QIO_CHANNEL(cmd->writec), enabled, errp) < 0) {
        return -1;
    }
    return 0;
}

static int qio_channel_command_shutdown(QIOChannel *ioc, QIOChannelShutdown how,
                                        GError **errp)
{
    QIOChannelCommand *cmd = QIO_CHANNEL_COMMAND(ioc);

    if (!check_open(cmd, errp)) {
        return -1;
    }
    if ((how & QIO_CHANNEL_SHUTDOWN_WRITE) && cmd->writec && !cmd->write_shut) {
        cmd->write_shut = true;
        qio_channel_close(QIO_CHANNEL(cmd->writec), NULL);
    }
    if ((how & QIO_CHANNEL_SHUTDOWN_READ) && cmd->readc && !cmd->read_shut) {
        cmd->read_shut = true;
        qio_channel_close(QIO_CHANNEL(cmd->readc), NULL);
    }
    return 0;
}

/*
 * Wait up to @timeout_ms for @pid to exit.  1: reaped, *status set;
 * 0: still running; -1: not our child any more (someone else reaped it).
 */
static int wait_for_exit(pid_t pid, int *status, unsigned int timeout_ms)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
    gulong delay_us = 500;

    for (;;) {
        pid_t r = waitpid(pid, status, WNOHANG);
        gint64 now;

        if (r == pid) {
            return 1;
        }
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        now = g_get_monotonic_time();
        if (now >= deadline) {
            return 0;
        }
        /* Poll quickly at first: most children exit right after EOF. */
        g_usleep(MIN((gint64)delay_us, deadline - now));
        delay_us = MIN(delay_us * 2, 50000);
    }
}

static void signal_group(pid_t pid, int sig)
{
    /* The child is not reaped yet, so neither number can be reused. */
    if (kill(-pid, sig) < 0) {
        kill(pid, sig);
    }
}

/*
 * Reap the child, escalating to SIGTERM and SIGKILL when it outstays the
 * timeout.  *sent is the last signal we sent (0 if none).  Returns false
 * when the exit status is unknown.
 */
static bool reap_child(QIOChannelCommand *cmd, int *status, int *sent)
{
    static const int escalation[] = { SIGTERM, SIGKILL };
    int r = wait_for_exit(cmd->pid, status, cmd->exit_timeout_ms);

    *sent = 0;
    for (size_t i = 0; r == 0 && i < G_N_ELEMENTS(escalation); i++) {
        *sent = escalation[i];
        signal_group(cmd->pid, *sent);
        r = wait_for_exit(cmd->pid, status,
                          *sent == SIGKILL ? G_MAXUINT : cmd->exit_timeout_ms);
    }
    return r == 1;
}

static char *describe_status(int status)
{
    if (WIFEXITED(status)) {
        return g_strdup_printf("exited with status %d", WEXITSTATUS(status));
    }
    if (WIFSIGNALED(status)) {
        return g_strdup_printf("was killed by signal %d (%s)", WTERMSIG(status),
                               g_strsignal(WTERMSIG(status)));
    }
    return g_strdup_printf("ended with wait status 0x%x", status);
}

static int qio_channel_command_close(QIOChannel *ioc, GError **errp)
{
    QIOChannelCommand *cmd = QIO_CHANNEL_COMMAND(ioc);
    g_autofree char *how = NULL;
    g_autofree char *stderr_text = NULL;
    bool reaped;
    int status = 0;
    int sent;

    if (cmd->closed) {
        return 0;
    }
    cmd->closed = true;
    if (cmd->pid <= 0) {
        return 0;
    }
    /* Pipe descriptors cannot fail to close in a way worth reporting. */
    if (cmd->writec) {
        qio_channel_close(QIO_CHANNEL(cmd->writec), NULL);
    }
    if (cmd->readc) {
        qio_channel_close(QIO_CHANNEL(cmd->readc), NULL);
    }
    reaped = reap_child(cmd, &status, &sent);
    stderr_tail_stop(cmd->tail);

    if (!reaped || (!sent && WIFEXITED(status) && !WEXITSTATUS(status))) {
        return 0;
    }
    how = describe_status(status);
    stderr_text = stderr_tail_format(cmd->tail);
    if (sent) {
        qio_error_setg(errp, QIO_ERROR_TIMED_OUT,
                       "command '%s' did not exit within %u ms of its "
                       "pipes closing and %s%s%s",
                       cmd->cmdline, cmd->exit_timeout_ms, how,
                       *stderr_text ? ": " : "", stderr_text);
    } else {
        qio_error_setg(errp, QIO_ERROR_COMMAND_FAILED, "command '%s' %s%s%s",
                       cmd->cmdline, how, *stderr_text ? ": " : "",
                       stderr_text);
    }
    return -1;
}

static GSource *qio_channel_command_create_watch(QIOChannel *ioc,
                                                 GIOCondition condition)
{
    QIOChannelCommand *cmd = QIO_CHANNEL_COMMAND(ioc);
    int rfd = cmd->readc ? qio_channel_file_get_fd(cmd->readc) : -1;
    int wfd = cmd->writec ? qio_channel_file_get_fd(cmd->writec) : -1;

    /*
     * Poll only the pipe the caller cares about: a reader waiting for
     * output must not wake up because the input pipe reports an error, nor
     * poll a descriptor that a writing thread is shutting down.
     */
    if (!(condition & G_IO_OUT)) {
        return qio_channel_create_fd_watch(ioc, rfd, condition);
    }
    if (!(condition & G_IO_IN)) {
        return qio_channel_create_fd_watch(ioc, wfd, condition);
    }
    return qio_channel_create_fd_pair_watch(ioc, rfd, wfd, condition);
}

static void qio_channel_command_finalize(GObject *obj)
{
    QIOChannelCommand *cmd = QIO_CHANNEL_COMMAND(obj);

    if (!cmd->closed) {
        qio_channel_command_close(QIO_CHANNEL(cmd), NULL);
    }
    g_clear_object(&cmd->readc);
    g_clear_object(&cmd->writec);
    if (cmd->tail) {
        stderr_tail_free(cmd->tail);
    }
    g_free(cmd->cmdline);
    G_OBJECT_CLASS(qio_channel_command_parent_class)->finalize(obj);
}

static void qio_channel_command_class_init(QIOChannelCommandClass *klass)
{
    QIOChannelClass *ioc_klass = QIO_CHANNEL_CLASS(klass);

    G_OBJECT_CLASS(klass)->finalize = qio_channel_command_finalize;
    ioc_klass->io_readv = qio_channel_command_readv;
    ioc_klass->io_writev = qio_channel_command_writev;
    ioc_klass->io_close = qio_channel_command_close;
    ioc_klass->io_create_watch = qio_channel_command_create_watch;
    ioc_klass->io_set_blocking = qio_channel_command_set_blocking;
    ioc_klass->io_shutdown = qio_channel_command_shutdown;
}

static void qio_channel_command_init(QIOChannelCommand *cmd)
{
    cmd->pid = -1;
    cmd->exit_timeout_ms = QIO_CHANNEL_COMMAND_EXIT_TIMEOUT_MS;
    qio_channel_set_feature(QIO_CHANNEL(cmd), QIO_CHANNEL_FEATURE_SHUTDOWN);
}
