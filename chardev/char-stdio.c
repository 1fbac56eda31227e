/*
 * The stdio chardev.  What is subtle is the terminal: its settings are
 * saved once, before the first change, in static storage that a signal
 * handler can read, and put back by one async-signal-safe function from
 * every exit path (remove, atexit, fatal signals).  Signal handlers are
 * installed only where the disposition is still the default, so a
 * program's own SIGTERM handling is left alone.
 */
#include "chardev/char-stdio.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <termios.h>
#include <unistd.h>

#include "chardev/char-fd.h"
#include "io/channel-file.h"

typedef struct {
    QIOChardevFd parent;
} QIOChardevStdio;
typedef struct {
    QIOChardevFdClass parent_class;
} QIOChardevStdioClass;

G_DEFINE_TYPE(QIOChardevStdio, qio_chardev_stdio, QIO_TYPE_CHARDEV_FD)

/* The terminal to restore; touched only on the main thread and in handlers. */
static volatile sig_atomic_t term_saved;
static int term_fd = -1;
static struct termios term_orig;
static int term_fl_orig = -1;
static bool stdio_in_use;
static bool exit_hooks_installed;

static const int fatal_signals[] = {
    SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL,
};

/* Async-signal-safe: tcsetattr and fcntl only. */
static void term_restore(void)
{
    if (term_saved) {
        tcsetattr(term_fd, TCSANOW, &term_orig);
        term_saved = 0;
    }
    if (term_fl_orig >= 0 && term_fd >= 0) {
        fcntl(term_fd, F_SETFL, term_fl_orig);
    }
}

static void term_signal(int sig)
{
    term_restore();
    /* SA_RESETHAND put the default back: let the signal do its work. */
    raise(sig);
}

/*
 * atexit once; the signals each time, since a handler that fired reset
 * itself (SA_RESETHAND) and a program may have set its own since.
 */
static void install_exit_hooks(void)
{
    if (!exit_hooks_installed) {
        exit_hooks_installed = true;
        atexit(term_restore);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(fatal_signals); i++) {
        struct sigaction old, sa = { .sa_handler = term_signal };

        if (sigaction(fatal_signals[i], NULL, &old) == 0 &&
            !(old.sa_flags & SA_SIGINFO) && old.sa_handler == SIG_DFL) {
            sigemptyset(&sa.sa_mask);
            sa.sa_flags = SA_RESETHAND | SA_NODEFER;
            sigaction(fatal_signals[i], &sa, NULL);
        }
    }
}

static void term_setup(int fd, bool allow_signal)
{
    struct termios t;

    term_fd = fd;
    term_fl_orig = fcntl(fd, F_GETFL);
    if (!isatty(fd) || tcgetattr(fd, &term_orig) < 0) {
        return;
    }
    term_saved = 1;
    install_exit_hooks();
    t = term_orig;
    /* Bytes as typed: no translation, flow control, echo or editing. */
    t.c_iflag &=
        ~(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
    t.c_oflag |= OPOST;
    t.c_lflag &= ~(ECHO | ECHONL | ICANON | IEXTEN);
    if (!allow_signal) {
        t.c_lflag &= ~ISIG;
    }
    t.c_cflag &= ~(CSIZE | PARENB);
    t.c_cflag |= CS8;
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    tcsetattr(fd, TCSANOW, &t);
}

static void qio_chardev_stdio_close(QIOChardev *chr)
{
    QIO_CHARDEV_CLASS(qio_chardev_stdio_parent_class)->chr_close(chr);
    term_restore();
    term_fl_orig = -1;
    term_fd = -1;
    stdio_in_use = false;
}

static void qio_chardev_stdio_class_init(QIOChardevStdioClass *klass)
{
    QIOChardevClass *chr_klass = QIO_CHARDEV_CLASS(klass);

    chr_klass->backend_name = "stdio";
    chr_klass->chr_close = qio_chardev_stdio_close;
}

static void qio_chardev_stdio_init(QIOChardevStdio *s)
{
}

QIOChardev *qio_chardev_stdio_new_fds(const char *id, int in_fd, int out_fd,
                                      bool signal, GError **errp)
{
    g_autoptr(QIOChannelFile) in = NULL;
    g_autoptr(QIOChannelFile) out = NULL;
    QIOChardev *chr;
    int din, dout;

    if (stdio_in_use) {
        qio_error_setg(errp, QIO_ERROR_EXISTS,
                       "cannot use stdio by multiple character devices");
        return NULL;
    }
    if (id && !qio_chardev_check_id(id, errp)) {
        return NULL;
    }
    din = fcntl(in_fd, F_DUPFD_CLOEXEC, 3);
    dout = din < 0 ? -1 : fcntl(out_fd, F_DUPFD_CLOEXEC, 3);
    if (din < 0 || dout < 0) {
        int e = errno;

        if (din >= 0) {
            close(din);
        }
        qio_error_setg_errno(errp, e, "chardev stdio: cannot use fd %d/%d",
                             in_fd, out_fd);
        return NULL;
    }
    in = qio_channel_file_new_fd(din);
    out = qio_channel_file_new_fd(dout);
    chr = g_object_new(QIO_TYPE_CHARDEV_STDIO, NULL);
    if (!qio_chardev_register(chr, id, errp)) {
        g_object_unref(chr);
        return NULL;
    }
    stdio_in_use = true;
    term_setup(in_fd, signal);
    /* The output stays blocking: the terminal is shared with stderr. */
    qio_chardev_fd_set_channels(QIO_CHARDEV_FD(chr), QIO_CHANNEL(in),
                                QIO_CHANNEL(out), true);
    qio_chardev_fd_set_connected(QIO_CHARDEV_FD(chr), true);
    if (id) {
        g_object_unref(chr);
    }
    return chr;
}

QIOChardev *qio_chardev_stdio_new(const char *id, bool signal, GError **errp)
{
    return qio_chardev_stdio_new_fds(id, 0, 1, signal, errp);
}
