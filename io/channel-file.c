/*
 * QIOChannelFile: readv(2)/writev(2) on a plain file descriptor (regular
 * file, pipe, FIFO, character device), with seeking where lseek(2) works
 * and SIGPIPE kept away from the process when a pipe's reader is gone.
 */
#include "io/channel-file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

struct _QIOChannelFile {
    QIOChannel parent;
    int fd;
    /* Pipes, FIFOs and sockets raise SIGPIPE on a write with no reader. */
    bool may_sigpipe;
};

G_DEFINE_TYPE(QIOChannelFile, qio_channel_file, QIO_TYPE_CHANNEL)

static void qio_channel_file_adopt(QIOChannelFile *fioc, int fd)
{
    struct stat st;

    fioc->fd = fd;
    if (fstat(fd, &st) == 0) {
        fioc->may_sigpipe = S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode);
    } else {
        fioc->may_sigpipe = true;
    }
    if (lseek(fd, 0, SEEK_CUR) != (off_t)-1) {
        qio_channel_set_feature(QIO_CHANNEL(fioc),
                                QIO_CHANNEL_FEATURE_SEEKABLE);
    }
}

QIOChannelFile *qio_channel_file_new_fd(int fd)
{
    QIOChannelFile *fioc;
    g_autofree char *name = NULL;

    g_return_val_if_fail(fd >= 0, NULL);

    fioc = g_object_new(QIO_TYPE_CHANNEL_FILE, NULL);
    qio_channel_file_adopt(fioc, fd);
    name = g_strdup_printf("fd %d", fd);
    qio_channel_set_name(QIO_CHANNEL(fioc), name);
    return fioc;
}

QIOChannelFile *qio_channel_file_new_path(const char *path, int flags,
                                          mode_t mode, GError **errp)
{
    QIOChannelFile *fioc;
    int fd;

    g_return_val_if_fail(path != NULL, NULL);

    /* Opening a FIFO blocks until a peer appears, so a signal may land. */
    do {
        fd = open(path, flags | O_CLOEXEC, mode);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        qio_error_setg_errno(errp, errno, "cannot open %s", path);
        return NULL;
    }

    fioc = g_object_new(QIO_TYPE_CHANNEL_FILE, NULL);
    qio_channel_file_adopt(fioc, fd);
    qio_channel_set_name(QIO_CHANNEL(fioc), path);
    return fioc;
}

int qio_channel_file_get_fd(QIOChannelFile *ioc)
{
    g_return_val_if_fail(QIO_IS_CHANNEL_FILE(ioc), -1);

    return ioc->fd;
}

static bool check_open(QIOChannelFile *fioc, GError **errp)
{
    if (fioc->fd < 0) {
        qio_error_setg(errp, QIO_ERROR_CLOSED, "%s: channel is closed",
                       qio_channel_get_name(QIO_CHANNEL(fioc)));
        return false;
    }
    return true;
}

/*
 * writev(2) without SIGPIPE.  Pipes have no MSG_NOSIGNAL, and changing the
 * process-wide disposition is not a library's call, so block the signal in
 * this thread for the duration of the write and, if the write itself raised
 * it, take it back off the pending set with a zero-timeout sigtimedwait().
 * A SIGPIPE that was already pending before the write is left alone.
 */
static ssize_t writev_nosigpipe(int fd, const struct iovec *iov, int niov)
{
    static const struct timespec no_wait = { 0, 0 };
    sigset_t pipe_set, old_set, pending;
    bool was_pending;
    ssize_t ret;
    int saved_errno;

    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);
    sigemptyset(&pending);
    sigpending(&pending);
    was_pending = sigismember(&pending, SIGPIPE) == 1;

    do {
        ret = writev(fd, iov, niov);
    } while (ret < 0 && errno == EINTR);
    saved_errno = errno;

    if (ret < 0 && saved_errno == EPIPE && !was_pending) {
        while (sigtimedwait(&pipe_set, NULL, &no_wait) < 0 && errno == EINTR) {
            /* retry */
        }
    }
    if (sigismember(&old_set, SIGPIPE) != 1) {
        pthread_sigmask(SIG_UNBLOCK, &pipe_set, NULL);
    }
    errno = saved_errno;
    return ret;
}

static gssize qio_channel_file_readv(QIOChannel *ioc, const struct iovec *iov,
                                     size_t niov, int **fds, size_t *nfds,
                                     int flags, GError **errp)
{
    QIOChannelFile *fioc = QIO_CHANNEL_FILE(ioc);
    ssize_t ret;

    if (!check_open(fioc, errp)) {
        return -1;
    }
    if (flags & QIO_CHANNEL_READ_FLAG_PEEK) {
        qio_error_setg(errp, QIO_ERROR_NOT_SUPPORTED,
                       "%s: cannot peek at a file", qio_channel_get_name(ioc));
        return -1;
    }
    do {
        ret = readv(fioc->fd, iov, (int)MIN(niov, (size_t)IOV_MAX));
    } while (ret < 0 && errno == EINTR);
    if (ret < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return QIO_CHANNEL_ERR_BLOCK;
        }
        qio_error_setg_errno(errp, errno, "cannot read from %s",
                             qio_channel_get_name(ioc));
        return -1;
    }
    return ret;
}

static gssize qio_channel_file_writev(QIOChannel *ioc, const struct iovec *iov,
                                      size_t niov, const int *fds, size_t nfds,
                                      int flags, GError **errp)
{
    QIOChannelFile *fioc = QIO_CHANNEL_FILE(ioc);
    int count = (int)MIN(niov, (size_t)IOV_MAX);
    ssize_t ret;

    if (!check_open(fioc, errp)) {
        return -1;
    }
    if (fioc->may_sigpipe) {
        ret = writev_nosigpipe(fioc->fd, iov, count);
    } else {
        do {
            ret = writev(fioc->fd, iov, count);
        } while (ret < 0 && errno == EINTR);
    }
    if (ret < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return QIO_CHANNEL_ERR_BLOCK;
        }
        qio_error_setg_errno(errp, errno, "cannot write to %s",
                             qio_channel_get_name(ioc));
        return -1;
    }
    return ret;
}

static int qio_channel_file_set_blocking(QIOChannel *ioc, bool enabled,
                                         GError **errp)
{
    QIOChannelFile *fioc = QIO_CHANNEL_FILE(ioc);
    int fl;

    if (!check_open(fioc, errp)) {
        return -1;
    }
    fl = fcntl(fioc->fd, F_GETFL);
    if (fl < 0) {
        qio_error_setg_errno(errp, errno, "%s: cannot get file flags",
                             qio_channel_get_name(ioc));
        return -1;
    }
    fl = enabled ? (fl & ~O_NONBLOCK) : (fl | O_NONBLOCK);
    if (fcntl(fioc->fd, F_SETFL, fl) < 0) {
        qio_error_setg_errno(errp, errno, "%s: cannot set %s mode",
                             qio_channel_get_name(ioc),
                             enabled ? "blocking" : "non-blocking");
        return -1;
    }
    return 0;
}

static off_t qio_channel_file_seek(QIOChannel *ioc, off_t offset, int whence,
                                   GError **errp)
{
    QIOChannelFile *fioc = QIO_CHANNEL_FILE(ioc);
    off_t ret;

    if (!check_open(fioc, errp)) {
        return -1;
    }
    ret = lseek(fioc->fd, offset, whence);
    if (ret == (off_t)-1) {
        qio_error_setg_errno(errp, errno, "cannot seek in %s",
                             qio_channel_get_name(ioc));
        return -1;
    }
    return ret;
}

static int qio_channel_file_close(QIOChannel *ioc, GError **errp)
{
    QIOChannelFile *fioc = QIO_CHANNEL_FILE(ioc);
    int fd = fioc->fd;

    if (fd < 0) {
        return 0;
    }
    fioc->fd = -1;
    /*
     * On Linux the descriptor is gone even when close() reports EINTR, so
     * retrying could close a descriptor another thread just opened.
     */
    if (close(fd) < 0 && errno != EINTR) {
        qio_error_setg_errno(errp, errno, "cannot close %s",
                             qio_channel_get_name(ioc));
        return -1;
    }
    return 0;
}

static GSource *qio_channel_file_create_watch(QIOChannel *ioc,
                                              GIOCondition condition)
{
    return qio_channel_create_fd_watch(ioc, QIO_CHANNEL_FILE(ioc)->fd,
                                       condition);
}

static void qio_channel_file_finalize(GObject *obj)
{
    QIOChannelFile *fioc = QIO_CHANNEL_FILE(obj);

    if (fioc->fd >= 0) {
        close(fioc->fd);
        fioc->fd = -1;
    }
    G_OBJECT_CLASS(qio_channel_file_parent_class)->finalize(obj);
}

static void qio_channel_file_class_init(QIOChannelFileClass *klass)
{
    QIOChannelClass *ioc_klass = QIO_CHANNEL_CLASS(klass);

    G_OBJECT_CLASS(klass)->finalize = qio_channel_file_finalize;
    ioc_klass->io_readv = qio_channel_file_readv;
    ioc_klass->io_writev = qio_channel_file_writev;
    ioc_klass->io_close = qio_channel_file_close;
    ioc_klass->io_create_watch = qio_channel_file_create_watch;
    ioc_klass->io_set_blocking = qio_channel_file_set_blocking;
    ioc_klass->io_seek = qio_channel_file_seek;
}

static void qio_channel_file_init(QIOChannelFile *fioc)
{
    fioc->fd = -1;
}
