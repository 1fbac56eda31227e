/*
 * The pty chardev.  Linux reports POLLHUP on a master whose slave nobody
 * has open, and nothing at all when someone opens it, so the only way to
 * notice a new reader is to look: a one-shot timer every
 * QIO_CHARDEV_PTY_POLL_MS while disconnected, none while connected (then
 * the read watch reports the hang-up).
 */
#include "chardev/char-pty.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <termios.h>
#include <unistd.h>

#include "chardev/char-fd.h"
#include "io/channel-file.h"

typedef struct {
    QIOChardevFd parent;
    int master; /* owned by the channel */
    char *path;
    GSource *poll_src;
} QIOChardevPty;
typedef struct {
    QIOChardevFdClass parent_class;
} QIOChardevPtyClass;

G_DEFINE_TYPE(QIOChardevPty, qio_chardev_pty, QIO_TYPE_CHARDEV_FD)

#define PTY(obj)                                                               \
    G_TYPE_CHECK_INSTANCE_CAST((obj), QIO_TYPE_CHARDEV_PTY, QIOChardevPty)

static void arm_poll(QIOChardevPty *p);

/* Someone has the slave open: no POLLHUP on the master. */
static bool slave_open(QIOChardevPty *p)
{
    struct pollfd pfd = { .fd = p->master, .events = POLLIN };

    if (poll(&pfd, 1, 0) < 0) {
        return false;
    }
    return !(pfd.revents & POLLHUP);
}

static gboolean poll_cb(gpointer opaque)
{
    QIOChardevPty *p = opaque;

    g_source_unref(p->poll_src);
    p->poll_src = NULL;
    if (slave_open(p)) {
        qio_chardev_fd_set_connected(QIO_CHARDEV_FD(p), true);
    } else {
        arm_poll(p);
    }
    return G_SOURCE_REMOVE;
}

static void arm_poll(QIOChardevPty *p)
{
    if (p->poll_src) {
        return;
    }
    p->poll_src = g_timeout_source_new(QIO_CHARDEV_PTY_POLL_MS);
    g_source_set_callback(p->poll_src, poll_cb, p, NULL);
    g_source_attach(p->poll_src, qio_chardev_get_context(QIO_CHARDEV(p)));
}

static void qio_chardev_pty_hup(QIOChardevFd *cfd, GError *err)
{
    QIOChardevPty *p = PTY(cfd);

    qio_chardev_fd_set_connected(cfd, false);
    arm_poll(p);
}

static void qio_chardev_pty_close(QIOChardev *chr)
{
    QIOChardevPty *p = PTY(chr);

    if (p->poll_src) {
        g_source_destroy(p->poll_src);
        g_clear_pointer(&p->poll_src, g_source_unref);
    }
    QIO_CHARDEV_CLASS(qio_chardev_pty_parent_class)->chr_close(chr);
}

static void qio_chardev_pty_finalize(GObject *obj)
{
    G_OBJECT_CLASS(qio_chardev_pty_parent_class)->finalize(obj);
    g_free(PTY(obj)->path);
}

static void qio_chardev_pty_class_init(QIOChardevPtyClass *klass)
{
    QIOChardevClass *chr_klass = QIO_CHARDEV_CLASS(klass);

    G_OBJECT_CLASS(klass)->finalize = qio_chardev_pty_finalize;
    chr_klass->backend_name = "pty";
    chr_klass->chr_close = qio_chardev_pty_close;
    QIO_CHARDEV_FD_CLASS(klass)->fd_hup = qio_chardev_pty_hup;
}

static void qio_chardev_pty_init(QIOChardevPty *p)
{
    p->master = -1;
}

/* A new master in raw mode; *@path set to the slave's. */
static int open_pty(char **path, GError **errp)
{
    char name[64];
    struct termios t;
    int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    int slave;

    if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0 ||
        ptsname_r(master, name, sizeof(name)) != 0) {
        int e = errno;

        if (master >= 0) {
            close(master);
        }
        qio_error_setg_errno(errp, e, "chardev pty: cannot create a pty");
        return -1;
    }
    /* Raw, so the guest's bytes pass unchanged. */
    slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (slave >= 0) {
        if (tcgetattr(slave, &t) == 0) {
            cfmakeraw(&t);
            tcsetattr(slave, TCSAFLUSH, &t);
        }
        close(slave);
    }
    *path = g_strdup(name);
    return master;
}

QIOChardev *qio_chardev_pty_new(const char *id, GError **errp)
{
    g_autoptr(QIOChannelFile) ioc = NULL;
    g_autofree char *fn = NULL;
    QIOChardevPty *p;
    char *path = NULL;
    int master;

    if (id && !qio_chardev_check_id(id, errp)) {
        return NULL;
    }
    master = open_pty(&path, errp);
    if (master < 0) {
        return NULL;
    }
    ioc = qio_channel_file_new_fd(master);
    p = g_object_new(QIO_TYPE_CHARDEV_PTY, NULL);
    p->master = master;
    p->path = path;
    fn = g_strdup_printf("pty:%s", path);
    qio_chardev_set_filename(QIO_CHARDEV(p), fn);
    if (!qio_chardev_register(QIO_CHARDEV(p), id, errp)) {
        g_object_unref(p);
        return NULL;
    }
    qio_chardev_fd_set_channels(QIO_CHARDEV_FD(p), QIO_CHANNEL(ioc),
                                QIO_CHANNEL(ioc), false);
    /* Where to find it, on stdout as QEMU prints it. */
    printf("char device redirected to %s (label %s)\n", path,
           qio_chardev_get_label(QIO_CHARDEV(p)));
    fflush(stdout);
    if (slave_open(p)) {
        qio_chardev_fd_set_connected(QIO_CHARDEV_FD(p), true);
    } else {
        arm_poll(p);
    }
    if (id) {
        g_object_unref(p);
    }
    return QIO_CHARDEV(p);
}

const char *qio_chardev_pty_get_path(QIOChardev *chr)
{
    if (!G_TYPE_CHECK_INSTANCE_TYPE(chr, QIO_TYPE_CHARDEV_PTY)) {
        return NULL;
    }
    return PTY(chr)->path;
}
