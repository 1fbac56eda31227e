/*
 * QIOChannelSocket: the stream socket channel under every network-facing
 * part of qio (NBD, migration, chardevs, monitors).  It owns one socket
 * descriptor and implements the QIOChannel contract on it with
 * recvmsg/sendmsg, so that file descriptor passing, non-blocking mode and
 * "no SIGPIPE" behave the same for every family: TCP, UNIX and vsock.
 */
#include "io/channel-socket.h"

#include "qio-config.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "io/dns-resolver.h"

struct _QIOChannelSocket {
    QIOChannel parent;

    int fd;
    int family;
    /* The mode the caller asked for; applied to fd whenever one exists. */
    bool blocking;

    /*
     * The UNIX socket file this channel created by listening, removed on
     * close only if it is still the same inode (another server may have
     * replaced it since).
     */
    char *unlink_path;
    dev_t unlink_dev;
    ino_t unlink_ino;
};

G_DEFINE_TYPE(QIOChannelSocket, qio_channel_socket, QIO_TYPE_CHANNEL)

QIOChannelSocket *qio_channel_socket_new(void)
{
    return g_object_new(QIO_TYPE_CHANNEL_SOCKET, NULL);
}

static bool set_nonblock(int fd, bool nonblock, int *errnum)
{
    int flags = fcntl(fd, F_GETFL);

    if (flags < 0) {
        *errnum = errno;
        return false;
    }
    flags = nonblock ? flags | O_NONBLOCK : flags & ~O_NONBLOCK;
    if (fcntl(fd, F_SETFL, flags) < 0) {
        *errnum = errno;
        return false;
    }
    return true;
}

static int socket_family(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);

    memset(&ss, 0, sizeof(ss));
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
        return AF_UNSPEC;
    }
    return ss.ss_family;
}

/*
 * The peer's or our own address fit for a message, or NULL when there is
 * none worth showing (an unnamed UNIX socket, a query that failed).
 */
static char *describe(int fd, bool peer)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    g_autoptr(QIOSocketAddress) addr = NULL;
    int ret;

    memset(&ss, 0, sizeof(ss));
    ret = peer ? getpeername(fd, (struct sockaddr *)&ss, &len)
               : getsockname(fd, (struct sockaddr *)&ss, &len);
    if (ret < 0) {
        return NULL;
    }
    addr = qio_socket_address_from_sockaddr((struct sockaddr *)&ss, len, NULL);
    if (!addr ||
        (addr->type == QIO_SOCKET_ADDRESS_TYPE_UNIX && !*addr->u.q_unix.path)) {
        return NULL;
    }
    return qio_socket_address_to_string(addr);
}

typedef enum {
    SOCKET_ROLE_CONNECTED, /* we connected out */
    SOCKET_ROLE_ACCEPTED,  /* a listener accepted it */
    SOCKET_ROLE_LISTENING,
    SOCKET_ROLE_ADOPTED, /* handed to us as a descriptor */
} SocketRole;

/*
 * Take ownership of a connected or listening @fd: record what kind of
 * socket it is, set the features that apply, apply the requested blocking
 * mode and give the channel a name that shows the peer.
 */
static bool socket_setup(QIOChannelSocket *sioc, int fd, SocketRole role,
                         bool listening, GError **errp)
{
    QIOChannel *ioc = QIO_CHANNEL(sioc);
    g_autofree char *peer = NULL;
    g_autofree char *local = NULL;
    g_autofree char *name = NULL;
    int errnum;

    if (!sioc->blocking && !set_nonblock(fd, true, &errnum)) {
        qio_error_setg_errno(errp, errnum, "cannot make socket non-blocking");
        return false;
    }
    sioc->fd = fd;
    sioc->family = socket_family(fd);
    if (listening) {
        qio_channel_set_feature(ioc, QIO_CHANNEL_FEATURE_LISTEN);
    } else {
        qio_channel_set_feature(ioc, QIO_CHANNEL_FEATURE_SHUTDOWN);
        if (sioc->family == AF_UNIX) {
            qio_channel_set_feature(ioc, QIO_CHANNEL_FEATURE_FD_PASS);
        }
    }

    peer = listening ? NULL : describe(fd, true);
    local = describe(fd, false);
    if (listening) {
        name = g_strdup_printf("socket listening on %s",
                               local ? local : "unknown address");
    } else if (role == SOCKET_ROLE_ACCEPTED) {
        name = peer ? g_strdup_printf("socket from %s", peer)
                    : g_strdup_printf("socket accepted on %s",
                                      local ? local : "unknown address");
    } else if (peer) {
        name = g_strdup_printf("socket to %s", peer);
    } else {
        name = g_strdup_printf("socket fd %d", fd);
    }
    qio_channel_set_name(ioc, name);
    return true;
}

static bool fd_is_listening(int fd)
{
    int val = 0;
    socklen_t len = sizeof(val);

    return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &val, &len) == 0 &&
           val != 0;
}

/* Check that @fd is a stream socket we can adopt, and make it cloexec. */
static bool check_socket_fd(int fd, GError **errp)
{
    struct stat st;
    int type = 0;
    socklen_t len = sizeof(type);
    int flags;

    if (fstat(fd, &st) < 0) {
        qio_error_setg_errno(errp, errno, "file descriptor %d", fd);
        return false;
    }
    if (!S_ISSOCK(st.st_mode)) {
        qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                       "file descriptor %d is not a socket", fd);
        return false;
    }
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0) {
        qio_error_setg_errno(errp, errno,
                             "cannot query socket type of descriptor %d", fd);
        return false;
    }
    if (type != SOCK_STREAM) {
        qio_error_setg(errp, QIO_ERROR_NOT_SUPPORTED,
                       "file descriptor %d is not a stream socket", fd);
        return false;
    }
    flags = fcntl(fd, F_GETFD);
    if (flags < 0 || fcntl(fd, F_SETFD, flags | FD_CLOEXEC) < 0) {
        qio_error_setg_errno(errp, errno,
                             "cannot set close-on-exec on descriptor %d", fd);
        return false;
    }
    return true;
}

QIOChannelSocket *qio_channel_socket_new_fd(int fd, GError **errp)
{
    g_autoptr(QIOChannelSocket) sioc = NULL;
    int flags;

    if (fd < 0) {
        qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                       "invalid file descriptor %d", fd);
        return NULL;
    }
    if (!check_socket_fd(fd, errp)) {
        return NULL;
    }
    flags = fcntl(fd, F_GETFL);
    sioc = qio_channel_socket_new();
    sioc->blocking = flags < 0 || !(flags & O_NONBLOCK);
    if (!socket_setup(sioc, fd, SOCKET_ROLE_ADOPTED, fd_is_listening(fd),
                      errp)) {
        sioc->fd = -1;
        return NULL;
    }
    return g_steal_pointer(&sioc);
}

static bool check_unused(QIOChannelSocket *sioc, GError **errp)
{
    if (sioc->fd >= 0) {
        qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                       "%s: channel already has a socket",
                       qio_channel_get_name(QIO_CHANNEL(sioc)));
        return false;
    }
    return true;
}

/* A numeric fd address: the descriptor it names, checked and cloexec. */
static int fd_from_address(const QIOSocketAddress *addr, GError **errp)
{
    const char *str = addr->u.fd.str;
    guint64 num;

    if (!g_ascii_string_to_unsigned(str, 10, 0, G_MAXINT, &num, NULL)) {
        qio_error_setg(errp, QIO_ERROR_NOT_SUPPORTED,
                       "named file descriptor 'fd:%s' cannot be used here; "
                       "give its number",
                       str);
        return -1;
    }
    if (!check_socket_fd(num, errp)) {
        return -1;
    }
    return num;
}

/*
 * connect(2) that survives EINTR: once interrupted, the connection goes on
 * in the background, so wait for it and collect its outcome.  Returns 0 or
 * an errno value.
 */
static int connect_fd(int fd, const struct sockaddr *sa, socklen_t len)
{
    struct pollfd pfd = { .fd = fd, .events = POLLOUT };
    int err = 0;
    socklen_t errlen = sizeof(err);

    if (connect(fd, sa, len) == 0) {
        return 0;
    }
    if (errno != EINTR) {
        return errno;
    }
    while (poll(&pfd, 1, -1) < 0) {
        if (errno != EINTR) {
            return errno;
        }
    }
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &errlen) < 0) {
        return errno;
    }
    return err;
}

/*
 * A new stream socket for @family.  A host without vsock (no module, a
 * sandbox) says so with QIO_ERROR_NOT_SUPPORTED whatever errno it gave.
 */
static int open_socket(int family, const char *verb, const char *what,
                       GError **errp)
{
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd >= 0) {
        return fd;
    }
#ifdef AF_VSOCK
    if (family == AF_VSOCK) {
        qio_error_setg(errp, QIO_ERROR_NOT_SUPPORTED,
                       "cannot %s %s: vsock sockets are not available on "
                       "this host: %s",
                       verb, what, g_strerror(errno));
        return -1;
    }
#endif
    qio_error_setg_errno(errp, errno, "cannot %s %s: socket", verb, what);
    return -1;
}

/*
 * Connect to one numeric address; @name is what the user asked for, shown
 * next to the numeric form when they differ.
 */
static int connect_one(const QIOSocketAddress *addr, const char *name,
                       GError **errp)
{
    struct sockaddr_storage ss;
    socklen_t sslen;
    g_autofree char *desc = qio_socket_address_to_string(addr);
    g_autofree char *what = NULL;
    int fd;
    int err;

    what = name && !g_str_equal(name, desc)
               ? g_strdup_printf("%s (%s)", name, desc)
               : g_strdup(desc);
    if (!qio_socket_address_to_sockaddr(addr, &ss, &sslen, errp)) {
        qutil_error_prepend(errp, "cannot connect to %s", what);
        return -1;
    }
    fd = open_socket(ss.ss_family, "connect to", what, errp);
    if (fd < 0) {
        return -1;
    }
    if (addr->type == QIO_SOCKET_ADDRESS_TYPE_INET &&
        addr->u.inet.has_keep_alive && addr->u.inet.keep_alive) {
        int one = 1;

        if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)) < 0) {
            qio_error_setg_errno(errp, errno, "cannot enable keep-alive for %s",
                                 what);
            close(fd);
            return -1;
        }
    }
    err = connect_fd(fd, (struct sockaddr *)&ss, sslen);
    if (err != 0) {
        qio_error_setg_errno(errp, err, "cannot connect to %s", what);
        close(fd);
        return -1;
    }
    return fd;
}

int qio_channel_socket_connect_sync(QIOChannelSocket *sioc,
                                    const QIOSocketAddress *addr, GError **errp)
{
    g_autoptr(GPtrArray) addrs = NULL;
    g_autoptr(GError) last = NULL;
    g_autofree char *name = NULL;
    int fd = -1;

    if (!check_unused(sioc, errp)) {
        return -1;
    }
    if (addr->type == QIO_SOCKET_ADDRESS_TYPE_FD) {
        fd = fd_from_address(addr, errp);
    } else {
        addrs =
            qio_dns_resolver_lookup_sync(qio_dns_resolver_get_instance(), addr,
                                         QIO_DNS_RESOLVER_FLAG_NONE, errp);
        if (!addrs) {
            return -1;
        }
        name = qio_socket_address_to_string(addr);
        for (guint i = 0; i < addrs->len && fd < 0; i++) {
            g_clear_error(&last);
            fd = connect_one(addrs->pdata[i], name, &last);
        }
        if (fd < 0) {
            g_propagate_error(errp, g_steal_pointer(&last));
        }
    }
    if (fd < 0) {
        return -1;
    }
    if (!socket_setup(sioc, fd, SOCKET_ROLE_CONNECTED, false, errp)) {
        sioc->fd = -1;
        close(fd);
        return -1;
    }
    return 0;
}

/*
 * Listening on a UNIX path that already exists: replace it only if it is a
 * socket nobody accepts on any more (left behind by a crash), never a
 * live server's socket or a regular file.
 */
static bool unix_path_is_stale(const struct sockaddr_storage *ss,
                               socklen_t sslen, const char *path)
{
    struct stat st;
    int fd;
    int err;

    if (lstat(path, &st) < 0 || !S_ISSOCK(st.st_mode)) {
        return false;
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return false;
    }
    err = connect_fd(fd, (const struct sockaddr *)ss, sslen);
    close(fd);
    return err == ECONNREFUSED;
}

static int listen_one(QIOChannelSocket *sioc, const QIOSocketAddress *addr,
                      int backlog, GError **errp)
{
    struct sockaddr_storage ss;
    socklen_t sslen;
    g_autofree char *desc = qio_socket_address_to_string(addr);
    const char *path = NULL;
    int one = 1;
    int fd;
    int ret;

    if (!qio_socket_address_to_sockaddr(addr, &ss, &sslen, errp)) {
        qutil_error_prepend(errp, "cannot listen on %s", desc);
        return -1;
    }
    if (addr->type == QIO_SOCKET_ADDRESS_TYPE_UNIX &&
        !addr->u.q_unix.abstract) {
        path = addr->u.q_unix.path;
    }
    fd = open_socket(ss.ss_family, "listen on", desc, errp);
    if (fd < 0) {
        return -1;
    }
    if (ss.ss_family == AF_INET || ss.ss_family == AF_INET6) {
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0) {
            qio_error_setg_errno(errp, errno,
                                 "cannot listen on %s: SO_REUSEADDR", desc);
            close(fd);
            return -1;
        }
    }
    if (ss.ss_family == AF_INET6 &&
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) {
        qio_error_setg_errno(errp, errno, "cannot listen on %s: IPV6_V6ONLY",
                             desc);
        close(fd);
        return -1;
    }

    ret = bind(fd, (struct sockaddr *)&ss, sslen);
    if (ret < 0 && errno == EADDRINUSE && path &&
        unix_path_is_stale(&ss, sslen, path)) {
        unlink(path);
        ret = bind(fd, (struct sockaddr *)&ss, sslen);
    }
    if (ret < 0) {
        qio_error_setg_errno(errp, errno, "cannot listen on %s", desc);
        close(fd);
        return -1;
    }
    if (listen(fd, backlog > 0 ? backlog : SOMAXCONN) < 0) {
        qio_error_setg_errno(errp, errno, "cannot listen on %s", desc);
        if (path) {
            unlink(path);
        }
        close(fd);
        return -1;
    }
    if (path) {
        struct stat st;

        if (stat(path, &st) == 0) {
            g_free(sioc->unlink_path);
            sioc->unlink_path = g_strdup(path);
            sioc->unlink_dev = st.st_dev;
            sioc->unlink_ino = st.st_ino;
        }
    }
    return fd;
}

int qio_channel_socket_listen_sync(QIOChannelSocket *sioc,
                                   const QIOSocketAddress *addr, int backlog,
                                   GError **errp)
{
    g_autoptr(GPtrArray) addrs = NULL;
    g_autoptr(GError) last = NULL;
    int fd = -1;

    if (!check_unused(sioc, errp)) {
        return -1;
    }
    if (addr->type == QIO_SOCKET_ADDRESS_TYPE_FD) {
        fd = fd_from_address(addr, errp);
        if (fd < 0) {
            return -1;
        }
        if (!fd_is_listening(fd) &&
            listen(fd, backlog > 0 ? backlog : SOMAXCONN) < 0) {
            qio_error_setg_errno(errp, errno, "cannot listen on fd:%s",
                                 addr->u.fd.str);
            return -1;
        }
    } else {
        addrs =
            qio_dns_resolver_lookup_sync(qio_dns_resolver_get_instance(), addr,
                                         QIO_DNS_RESOLVER_FLAG_PASSIVE, errp);
        if (!addrs) {
            return -1;
        }
        for (guint i = 0; i < addrs->len && fd < 0; i++) {
            g_clear_error(&last);
            fd = listen_one(sioc, addrs->pdata[i], backlog, &last);
        }
        if (fd < 0) {
            g_propagate_error(errp, g_steal_pointer(&last));
            return -1;
        }
    }
    if (!socket_setup(sioc, fd, SOCKET_ROLE_LISTENING, true, errp)) {
        sioc->fd = -1;
        if (sioc->unlink_path) {
            unlink(sioc->unlink_path);
            g_clear_pointer(&sioc->unlink_path, g_free);
        }
        close(fd);
        return -1;
    }
    return 0;
}

typedef struct {
    QIOSocketAddress *addr;
    int backlog;
} SocketTaskData;

static void socket_task_data_free(gpointer opaque)
{
    SocketTaskData *data = opaque;

    qio_socket_address_free(data->addr);
    g_free(data);
}

static void connect_worker(QIOTask *task, gpointer opaque)
{
    SocketTaskData *data = opaque;
    QIOChannelSocket *sioc = QIO_CHANNEL_SOCKET(qio_task_get_source(task));
    GError *err = NULL;

    if (qio_channel_socket_connect_sync(sioc, data->addr, &err) < 0) {
        qio_task_set_error(task, err);
    }
}

static void listen_worker(QIOTask *task, gpointer opaque)
{
    SocketTaskData *data = opaque;
    QIOChannelSocket *sioc = QIO_CHANNEL_SOCKET(qio_task_get_source(task));
    GError *err = NULL;

    if (qio_channel_socket_listen_sync(sioc, data->addr, data->backlog, &err) <
        0) {
        qio_task_set_error(task, err);
    }
}

static void socket_run_async(QIOChannelSocket *sioc, QIOTaskWorker worker,
                             const QIOSocketAddress *addr, int backlog,
                             QIOTaskFunc callback, gpointer opaque,
                             GDestroyNotify destroy, GMainContext *context)
{
    QIOTask *task = qio_task_new(G_OBJECT(sioc), callback, opaque, destroy);
    SocketTaskData *data = g_new0(SocketTaskData, 1);

    data->addr = qio_socket_address_copy(addr);
    data->backlog = backlog;
    qio_task_run_in_thread(task, worker, data, socket_task_data_free, context);
}

void qio_channel_socket_connect_async(QIOChannelSocket *sioc,
                                      const QIOSocketAddress *addr,
                                      QIOTaskFunc callback, gpointer opaque,
                                      GDestroyNotify destroy,
                                      GMainContext *context)
{
    socket_run_async(sioc, connect_worker, addr, 0, callback, opaque, destroy,
                     context);
}

void qio_channel_socket_listen_async(QIOChannelSocket *sioc,
                                     const QIOSocketAddress *addr, int backlog,
                                     QIOTaskFunc callback, gpointer opaque,
                                     GDestroyNotify destroy,
                                     GMainContext *context)
{
    socket_run_async(sioc, listen_worker, addr, backlog, callback, opaque,
                     destroy, context);
}

static bool check_open(QIOChannelSocket *sioc, GError **errp)
{
    if (sioc->fd < 0) {
        qio_error_setg(errp, QIO_ERROR_CLOSED, "%s: channel is not open",
                       qio_channel_get_name(QIO_CHANNEL(sioc)));
        return false;
    }
    return true;
}

/*
 * accept(2) lists EOPNOTSUPP among them too, but that is also the answer
 * for a socket that cannot accept at all (a datagram descriptor passed
 * as fd:N), which retrying would turn into a busy loop.
 */
static bool accept_error_is_transient(int err)
{
    switch (err) {
    case EINTR:
    case ECONNABORTED:
    case EPROTO:
    case ENETDOWN:
    case ENOPROTOOPT:
    case EHOSTDOWN:
    case ENONET:
    case EHOSTUNREACH:
    case ENETUNREACH:
        return true;
    default:
        return false;
    }
}

int qio_channel_socket_try_accept(QIOChannelSocket *sioc,
                                  QIOChannelSocket **client, GError **errp)
{
    g_autoptr(QIOChannelSocket) csioc = NULL;
    int fd;

    *client = NULL;
    if (!check_open(sioc, errp)) {
        return -1;
    }
    for (;;) {
        fd = accept4(sioc->fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd >= 0) {
            break;
        }
        /*
         * A client that gave up while queued is no reason to fail, nor is
         * a network error pending on its connection, which Linux reports
         * from accept() itself (see accept(2)): either only ends that one
         * connection, and a remote host can cause them at will.
         */
        if (accept_error_is_transient(errno)) {
            continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return QIO_CHANNEL_ERR_BLOCK;
        }
        qio_error_setg_errno(errp, errno, "%s: cannot accept",
                             qio_channel_get_name(QIO_CHANNEL(sioc)));
        return -1;
    }

    csioc = qio_channel_socket_new();
    if (!socket_setup(csioc, fd, SOCKET_ROLE_ACCEPTED, false, errp)) {
        csioc->fd = -1;
        close(fd);
        return -1;
    }
    *client = g_steal_pointer(&csioc);
    return 0;
}

QIOChannelSocket *qio_channel_socket_accept(QIOChannelSocket *sioc,
                                            GError **errp)
{
    QIOChannelSocket *client = NULL;

    for (;;) {
        int ret = qio_channel_socket_try_accept(sioc, &client, errp);

        if (ret == QIO_CHANNEL_ERR_BLOCK) {
            qio_channel_wait(QIO_CHANNEL(sioc), G_IO_IN);
            continue;
        }
        return ret < 0 ? NULL : client;
    }
}

int qio_channel_socket_get_fd(QIOChannelSocket *sioc)
{
    return sioc->fd;
}

static QIOSocketAddress *socket_address(QIOChannelSocket *sioc, bool peer,
                                        GError **errp)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int ret;

    if (!check_open(sioc, errp)) {
        return NULL;
    }
    memset(&ss, 0, sizeof(ss));
    ret = peer ? getpeername(sioc->fd, (struct sockaddr *)&ss, &len)
               : getsockname(sioc->fd, (struct sockaddr *)&ss, &len);
    if (ret < 0) {
        qio_error_setg_errno(errp, errno, "%s: cannot get %s address",
                             qio_channel_get_name(QIO_CHANNEL(sioc)),
                             peer ? "peer" : "local");
        return NULL;
    }
    return qio_socket_address_from_sockaddr((struct sockaddr *)&ss, len, errp);
}

QIOSocketAddress *qio_channel_socket_get_local_address(QIOChannelSocket *sioc,
                                                       GError **errp)
{
    return socket_address(sioc, false, errp);
}

QIOSocketAddress *qio_channel_socket_get_remote_address(QIOChannelSocket *sioc,
                                                        GError **errp)
{
    return socket_address(sioc, true, errp);
}

int qio_channel_socket_set_keepalive(QIOChannelSocket *sioc, bool enabled,
                                     GError **errp)
{
    int val = enabled;

    if (!check_open(sioc, errp)) {
        return -1;
    }
    if (setsockopt(sioc->fd, SOL_SOCKET, SO_KEEPALIVE, &val, sizeof(val)) < 0) {
        qio_error_setg_errno(errp, errno, "%s: cannot %s keep-alive",
                             qio_channel_get_name(QIO_CHANNEL(sioc)),
                             enabled ? "enable" : "disable");
        return -1;
    }
    return 0;
}

/*
 * Pull the descriptors out of a received message.  More than @max (which
 * the control buffer size already enforces on Linux) are closed; a
 * truncated control message means descriptors were lost, which leaves the
 * caller unable to tell which data they belonged to, so it is an error.
 */
static bool take_fds(QIOChannelSocket *sioc, struct msghdr *msg, int **fds,
                     size_t *nfds, GError **errp)
{
    g_autofree int *got = NULL;
    size_t ngot = 0;
    size_t extra = 0;

    for (struct cmsghdr *cmsg = CMSG_FIRSTHDR(msg); cmsg;
         cmsg = CMSG_NXTHDR(msg, cmsg)) {
        const unsigned char *data;
        size_t n;

        if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS ||
            cmsg->cmsg_len < CMSG_LEN(0)) {
            continue;
        }
        data = CMSG_DATA(cmsg);
        n = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < n; i++) {
            int fd;

            memcpy(&fd, data + i * sizeof(int), sizeof(int));
            if (ngot < QIO_CHANNEL_SOCKET_MAX_FDS) {
                if (!got) {
                    got = g_new(int, QIO_CHANNEL_SOCKET_MAX_FDS);
                }
                got[ngot++] = fd;
            } else {
                close(fd);
                extra++;
            }
        }
    }

    if (extra || (msg->msg_flags & MSG_CTRUNC)) {
        for (size_t i = 0; i < ngot; i++) {
            close(got[i]);
        }
        qio_error_setg(errp, QIO_ERROR_TOO_LARGE,
                       "%s: peer sent more than %d file descriptors in one "
                       "message (control data truncated)",
                       qio_channel_get_name(QIO_CHANNEL(sioc)),
                       QIO_CHANNEL_SOCKET_MAX_FDS);
        return false;
    }
    *fds = g_steal_pointer(&got);
    *nfds = ngot;
    return true;
}

/* Room for the most descriptors one message carries, aligned for cmsghdr. */
typedef union {
    char buf[CMSG_SPACE(sizeof(int) * QIO_CHANNEL_SOCKET_MAX_FDS)];
    struct cmsghdr align;
} SocketControl;

/*
 * One recvmsg() or sendmsg(), retried after EINTR, with its failure turned
 * into the channel's convention: QIO_CHANNEL_ERR_BLOCK when it would
 * block, -1 with errp set otherwise.
 */
static gssize socket_transfer(QIOChannelSocket *sioc, struct msghdr *msg,
                              bool sending, int flags, GError **errp)
{
    ssize_t ret;

    do {
        ret = sending ? sendmsg(sioc->fd, msg, flags)
                      : recvmsg(sioc->fd, msg, flags);
    } while (ret < 0 && errno == EINTR);
    if (ret < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return QIO_CHANNEL_ERR_BLOCK;
        }
        qio_error_setg_errno(errp, errno, "%s: cannot %s",
                             qio_channel_get_name(QIO_CHANNEL(sioc)),
                             sending ? "write" : "read");
        return -1;
    }
    return ret;
}

static gssize qio_channel_socket_readv(QIOChannel *ioc, const struct iovec *iov,
                                       size_t niov, int **fds, size_t *nfds,
                                       int flags, GError **errp)
{
    QIOChannelSocket *sioc = QIO_CHANNEL_SOCKET(ioc);
    SocketControl control;
    struct msghdr msg = {
        .msg_iov = (struct iovec *)iov,
        .msg_iovlen = niov,
    };
    int rflags = 0;
    ssize_t ret;

    if (!check_open(sioc, errp)) {
        return -1;
    }
    if (fds && nfds) {
        memset(&control, 0, sizeof(control));
        msg.msg_control = control.buf;
        msg.msg_controllen = sizeof(control.buf);
        rflags |= MSG_CMSG_CLOEXEC;
    }
    if (flags & QIO_CHANNEL_READ_FLAG_PEEK) {
        rflags |= MSG_PEEK;
    }

    ret = socket_transfer(sioc, &msg, false, rflags, errp);
    if (ret < 0) {
        return ret;
    }
    if (fds && nfds && !take_fds(sioc, &msg, fds, nfds, errp)) {
        return -1;
    }
    return ret;
}

static gssize qio_channel_socket_writev(QIOChannel *ioc,
                                        const struct iovec *iov, size_t niov,
                                        const int *fds, size_t nfds, int flags,
                                        GError **errp)
{
    QIOChannelSocket *sioc = QIO_CHANNEL_SOCKET(ioc);
    SocketControl control;
    struct msghdr msg = {
        .msg_iov = (struct iovec *)iov,
        .msg_iovlen = niov,
    };

    if (!check_open(sioc, errp)) {
        return -1;
    }
    if (nfds > QIO_CHANNEL_SOCKET_MAX_FDS) {
        qio_error_setg(errp, QIO_ERROR_TOO_LARGE,
                       "%s: cannot send %zu file descriptors in one message "
                       "(at most %d)",
                       qio_channel_get_name(ioc), nfds,
                       QIO_CHANNEL_SOCKET_MAX_FDS);
        return -1;
    }
    if (nfds) {
        struct cmsghdr *cmsg;

        memset(&control, 0, sizeof(control));
        msg.msg_control = control.buf;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
        cmsg = CMSG_FIRSTHDR(&msg);
        cmsg->cmsg_level = SOL_SOCKET;
        cmsg->cmsg_type = SCM_RIGHTS;
        cmsg->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
        memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * nfds);
    }

    return socket_transfer(sioc, &msg, true, MSG_NOSIGNAL, errp);
}

static void remove_socket_file(QIOChannelSocket *sioc)
{
    struct stat st;

    if (!sioc->unlink_path) {
        return;
    }
    if (lstat(sioc->unlink_path, &st) == 0 && st.st_dev == sioc->unlink_dev &&
        st.st_ino == sioc->unlink_ino) {
        unlink(sioc->unlink_path);
    }
    g_clear_pointer(&sioc->unlink_path, g_free);
}

static int qio_channel_socket_close(QIOChannel *ioc, GError **errp)
{
    QIOChannelSocket *sioc = QIO_CHANNEL_SOCKET(ioc);
    int fd = sioc->fd;

    if (fd < 0) {
        return 0;
    }
    remove_socket_file(sioc);
    sioc->fd = -1;
    /* Linux releases the descriptor even when close() reports EINTR. */
    if (close(fd) < 0 && errno != EINTR) {
        qio_error_setg_errno(errp, errno, "%s: cannot close",
                             qio_channel_get_name(ioc));
        return -1;
    }
    return 0;
}

static GSource *qio_channel_socket_create_watch(QIOChannel *ioc,
                                                GIOCondition condition)
{
    return qio_channel_create_fd_watch(ioc, QIO_CHANNEL_SOCKET(ioc)->fd,
                                       condition);
}

static int qio_channel_socket_set_blocking(QIOChannel *ioc, bool enabled,
                                           GError **errp)
{
    QIOChannelSocket *sioc = QIO_CHANNEL_SOCKET(ioc);
    int errnum;

    if (sioc->fd >= 0 && !set_nonblock(sioc->fd, !enabled, &errnum)) {
        qio_error_setg_errno(errp, errnum, "%s: cannot make %s",
                             qio_channel_get_name(ioc),
                             enabled ? "blocking" : "non-blocking");
        return -1;
    }
    sioc->blocking = enabled;
    return 0;
}

static int qio_channel_socket_shutdown(QIOChannel *ioc, QIOChannelShutdown how,
                                       GError **errp)
{
    QIOChannelSocket *sioc = QIO_CHANNEL_SOCKET(ioc);
    int sockhow;

    switch (how) {
    case QIO_CHANNEL_SHUTDOWN_READ:
        sockhow = SHUT_RD;
        break;
    case QIO_CHANNEL_SHUTDOWN_WRITE:
        sockhow = SHUT_WR;
        break;
    default:
        sockhow = SHUT_RDWR;
        break;
    }
    if (!check_open(sioc, errp)) {
        return -1;
    }
    if (shutdown(sioc->fd, sockhow) < 0) {
        qio_error_setg_errno(errp, errno, "%s: cannot shut down",
                             qio_channel_get_name(ioc));
        return -1;
    }
    return 0;
}

static bool is_tcp(QIOChannelSocket *sioc)
{
    return sioc->fd >= 0 &&
           (sioc->family == AF_INET || sioc->family == AF_INET6);
}

/* Hints: failure only costs latency or throughput, so it is ignored. */
static void qio_channel_socket_set_delay(QIOChannel *ioc, bool enabled)
{
    QIOChannelSocket *sioc = QIO_CHANNEL_SOCKET(ioc);
    int val = !enabled;

    if (is_tcp(sioc)) {
        setsockopt(sioc->fd, IPPROTO_TCP, TCP_NODELAY, &val, sizeof(val));
    }
}

static void qio_channel_socket_set_cork(QIOChannel *ioc, bool enabled)
{
    QIOChannelSocket *sioc = QIO_CHANNEL_SOCKET(ioc);
    int val = enabled;

    if (is_tcp(sioc)) {
        setsockopt(sioc->fd, IPPROTO_TCP, TCP_CORK, &val, sizeof(val));
    }
}

static void qio_channel_socket_finalize(GObject *obj)
{
    QIOChannelSocket *sioc = QIO_CHANNEL_SOCKET(obj);

    if (sioc->fd >= 0) {
        remove_socket_file(sioc);
        close(sioc->fd);
        sioc->fd = -1;
    }
    g_free(sioc->unlink_path);
    G_OBJECT_CLASS(qio_channel_socket_parent_class)->finalize(obj);
}

/* What the kernel holds for the next read (0 for a listener, or closed). */
static size_t qio_channel_socket_input_pending(QIOChannel *ioc)
{
    QIOChannelSocket *sioc = QIO_CHANNEL_SOCKET(ioc);
    int avail = 0;

    if (sioc->fd < 0 ||
        qio_channel_has_feature(ioc, QIO_CHANNEL_FEATURE_LISTEN) ||
        ioctl(sioc->fd, FIONREAD, &avail) < 0 || avail < 0) {
        return 0;
    }
    return avail;
}

static void qio_channel_socket_class_init(QIOChannelSocketClass *klass)
{
    QIOChannelClass *ioc_klass = QIO_CHANNEL_CLASS(klass);

    G_OBJECT_CLASS(klass)->finalize = qio_channel_socket_finalize;
    ioc_klass->io_readv = qio_channel_socket_readv;
    ioc_klass->io_writev = qio_channel_socket_writev;
    ioc_klass->io_close = qio_channel_socket_close;
    ioc_klass->io_create_watch = qio_channel_socket_create_watch;
    ioc_klass->io_set_blocking = qio_channel_socket_set_blocking;
    ioc_klass->io_shutdown = qio_channel_socket_shutdown;
    ioc_klass->io_set_delay = qio_channel_socket_set_delay;
    ioc_klass->io_set_cork = qio_channel_socket_set_cork;
    ioc_klass->io_input_pending = qio_channel_socket_input_pending;
}

static void qio_channel_socket_init(QIOChannelSocket *sioc)
{
    sioc->fd = -1;
    sioc->family = AF_UNSPEC;
    sioc->blocking = true;
}
