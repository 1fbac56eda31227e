/*
 * QIOSocketAddress: construction, validation, the user-facing string
 * syntax and struct sockaddr conversions.  Everything that turns text a
 * user typed into an endpoint goes through here, so every rule about what
 * is acceptable (a port in range, a path that fits sun_path, IPv6 literals
 * in brackets) lives in one place.
 */
#include "io/socket-address.h"

#include "qio-config.h"

#include <limits.h>
#include <netdb.h>
#include <stddef.h>
#include <string.h>
#include <sys/un.h>
#ifdef HAVE_LINUX_VM_SOCKETS_H
#include <linux/vm_sockets.h>
#endif

static QIOSocketAddress *socket_address_new(QIOSocketAddressType type)
{
    QIOSocketAddress *addr = g_new0(QIOSocketAddress, 1);

    addr->type = type;
    return addr;
}

QIOSocketAddress *qio_socket_address_new_inet(const char *host,
                                              const char *port)
{
    QIOSocketAddress *addr = socket_address_new(QIO_SOCKET_ADDRESS_TYPE_INET);

    addr->u.inet.host = g_strdup(host ? host : "");
    addr->u.inet.port = g_strdup(port);
    return addr;
}

QIOSocketAddress *qio_socket_address_new_unix(const char *path, bool abstract)
{
    QIOSocketAddress *addr = socket_address_new(QIO_SOCKET_ADDRESS_TYPE_UNIX);

    addr->u.q_unix.path = g_strdup(path ? path : "");
    addr->u.q_unix.has_abstract = abstract;
    addr->u.q_unix.abstract = abstract;
    return addr;
}

QIOSocketAddress *qio_socket_address_new_vsock(const char *cid,
                                               const char *port)
{
    QIOSocketAddress *addr = socket_address_new(QIO_SOCKET_ADDRESS_TYPE_VSOCK);

    addr->u.vsock.cid = g_strdup(cid);
    addr->u.vsock.port = g_strdup(port);
    return addr;
}

QIOSocketAddress *qio_socket_address_new_fd(const char *str)
{
    QIOSocketAddress *addr = socket_address_new(QIO_SOCKET_ADDRESS_TYPE_FD);

    addr->u.fd.str = g_strdup(str);
    return addr;
}

QIOSocketAddress *qio_socket_address_copy(const QIOSocketAddress *addr)
{
    QIOSocketAddress *copy = g_memdup2(addr, sizeof(*addr));

    switch (addr->type) {
    case QIO_SOCKET_ADDRESS_TYPE_INET:
        copy->u.inet.host = g_strdup(addr->u.inet.host);
        copy->u.inet.port = g_strdup(addr->u.inet.port);
        break;
    case QIO_SOCKET_ADDRESS_TYPE_UNIX:
        copy->u.q_unix.path = g_strdup(addr->u.q_unix.path);
        break;
    case QIO_SOCKET_ADDRESS_TYPE_VSOCK:
        copy->u.vsock.cid = g_strdup(addr->u.vsock.cid);
        copy->u.vsock.port = g_strdup(addr->u.vsock.port);
        break;
    case QIO_SOCKET_ADDRESS_TYPE_FD:
        copy->u.fd.str = g_strdup(addr->u.fd.str);
        break;
    }
    return copy;
}

void qio_socket_address_free(QIOSocketAddress *addr)
{
    if (!addr) {
        return;
    }
    switch (addr->type) {
    case QIO_SOCKET_ADDRESS_TYPE_INET:
        g_free(addr->u.inet.host);
        g_free(addr->u.inet.port);
        break;
    case QIO_SOCKET_ADDRESS_TYPE_UNIX:
        g_free(addr->u.q_unix.path);
        break;
    case QIO_SOCKET_ADDRESS_TYPE_VSOCK:
        g_free(addr->u.vsock.cid);
        g_free(addr->u.vsock.port);
        break;
    case QIO_SOCKET_ADDRESS_TYPE_FD:
        g_free(addr->u.fd.str);
        break;
    }
    g_free(addr);
}

static bool is_all_digits(const char *s)
{
    if (!*s) {
        return false;
    }
    for (; *s; s++) {
        if (!g_ascii_isdigit(*s)) {
            return false;
        }
    }
    return true;
}

/* A decimal number that fits @max; no sign, no spaces. */
static bool parse_decimal(const char *s, guint64 max, guint64 *value)
{
    return is_all_digits(s) &&
           g_ascii_string_to_unsigned(s, 10, 0, max, value, NULL);
}

static bool check_port(const char *port, GError **errp)
{
    guint64 value;

    if (!port || !*port) {
        qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT, "missing port");
        return false;
    }
    if (is_all_digits(port)) {
        if (!parse_decimal(port, 65535, &value)) {
            qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                           "port '%s' is out of range 0-65535", port);
            return false;
        }
        return true;
    }
    /* A service name, as getservbyname(3) knows them. */
    if (!g_ascii_isalpha(port[0])) {
        qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                       "invalid port '%s': expected a number 0-65535 or a "
                       "service name",
                       port);
        return false;
    }
    for (const char *p = port; *p; p++) {
        if (!g_ascii_isalnum(*p) && !strchr("-_.+", *p)) {
            qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                           "invalid port '%s': expected a number 0-65535 "
                           "or a service name",
                           port);
            return false;
        }
    }
    return true;
}

bool qio_socket_address_inet_families(const QIOInetSocketAddress *inet,
                                      bool *want_ipv4, bool *want_ipv6,
                                      GError **errp)
{
    bool v4 = inet->has_ipv4 ? inet->ipv4 : !(inet->has_ipv6 && inet->ipv6);
    bool v6 = inet->has_ipv6 ? inet->ipv6 : !(inet->has_ipv4 && inet->ipv4);

    if (!v4 && !v6) {
        qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                       "ipv4=off and ipv6=off leave no address family to "
                       "use");
        return false;
    }
    *want_ipv4 = v4;
    *want_ipv6 = v6;
    return true;
}

static bool check_inet(const QIOInetSocketAddress *inet, GError **errp)
{
    bool v4, v6;

    if (!inet->host) {
        qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT, "missing host");
        return false;
    }
    /* These would make the formatted form ambiguous. */
    for (const char *p = inet->host; *p; p++) {
        if (strchr(",[]", *p) || g_ascii_isspace(*p) || g_ascii_iscntrl(*p)) {
            qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                           "invalid character in host '%s'", inet->host);
            return false;
        }
    }
    if (!check_port(inet->port, errp)) {
        return false;
    }
    return qio_socket_address_inet_families(inet, &v4, &v6, errp);
}

static bool check_unix(const QIOUnixSocketAddress *un, GError **errp)
{
    const char *kind = un->abstract ? "abstract socket name" : "socket path";

    if (!un->path || !*un->path) {
        qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT, "empty UNIX %s", kind);
        return false;
    }
    if (strlen(un->path) > QIO_SOCKET_ADDRESS_UNIX_PATH_MAX) {
        qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                       "UNIX %s '%s' is longer than %d bytes", kind, un->path,
                       QIO_SOCKET_ADDRESS_UNIX_PATH_MAX);
        return false;
    }
    return true;
}

static bool check_vsock(const QIOVsockSocketAddress *vs, GError **errp)
{
    guint64 value;

    if (!vs->cid || !parse_decimal(vs->cid, G_MAXUINT32, &value)) {
        qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                       "bad vsock cid '%s': expected a number 0-%u",
                       vs->cid ? vs->cid : "", G_MAXUINT32);
        return false;
    }
    if (!vs->port || !parse_decimal(vs->port, G_MAXUINT32, &value)) {
        qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                       "bad vsock port '%s': expected a number 0-%u",
                       vs->port ? vs->port : "", G_MAXUINT32);
        return false;
    }
    return true;
}

static bool check_fd(const QIOFdSocketAddress *fd, GError **errp)
{
    guint64 value;

    if (!fd->str || !*fd->str) {
        qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                       "missing file descriptor number or name");
        return false;
    }
    if (g_ascii_isdigit(fd->str[0])) {
        if (!parse_decimal(fd->str, INT_MAX, &value)) {
            qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                           "bad file descriptor '%s': a name must not start "
                           "with a digit, a number must fit an int",
                           fd->str);
            return false;
        }
        return true;
    }
    for (const char *p = fd->str; *p; p++) {
        if (*p == ',' || g_ascii_isspace(*p) || g_ascii_iscntrl(*p)) {
            qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                           "invalid character in file descriptor name '%s'",
                           fd->str);
            return false;
        }
    }
    return true;
}

bool qio_socket_address_validate(const QIOSocketAddress *addr, GError **errp)
{
    switch (addr->type) {
    case QIO_SOCKET_ADDRESS_TYPE_INET:
        if (!check_inet(&addr->u.inet, errp)) {
            qutil_error_prepend(errp, "address host '%s'",
                                addr->u.inet.host ? addr->u.inet.host : "");
            return false;
        }
        return true;
    case QIO_SOCKET_ADDRESS_TYPE_UNIX:
        return check_unix(&addr->u.q_unix, errp);
    case QIO_SOCKET_ADDRESS_TYPE_VSOCK:
        return check_vsock(&addr->u.vsock, errp);
    case QIO_SOCKET_ADDRESS_TYPE_FD:
        return check_fd(&addr->u.fd, errp);
    }
    qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                   "unknown socket address type %d", addr->type);
    return false;
}

/* "on"/"off" or a bare key, which means on. */
static bool parse_flag(const char *key, const char *value, bool *has,
                       bool *flag, GError **errp)
{
    if (*has) {
        qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                       "option '%s' given twice", key);
        return false;
    }
    if (!value || g_str_equal(value, "on")) {
        *flag = true;
    } else if (g_str_equal(value, "off")) {
        *flag = false;
    } else {
        qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                       "option '%s' takes 'on' or 'off', not '%s'", key, value);
        return false;
    }
    *has = true;
    return true;
}

static bool parse_inet_options(QIOInetSocketAddress *inet, const char *opts,
                               GError **errp)
{
    g_auto(GStrv) parts = g_strsplit(opts, ",", -1);

    /* g_strsplit() gives no parts at all for a trailing comma. */
    if (!*opts) {
        qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT, "empty option");
        return false;
    }
    for (char **part = parts; *part; part++) {
        char *eq = strchr(*part, '=');
        const char *value = NULL;
        bool ok;

        if (eq) {
            *eq = '\0';
            value = eq + 1;
        }
        if (g_str_equal(*part, "ipv4")) {
            ok = parse_flag(*part, value, &inet->has_ipv4, &inet->ipv4, errp);
        } else if (g_str_equal(*part, "ipv6")) {
            ok = parse_flag(*part, value, &inet->has_ipv6, &inet->ipv6, errp);
        } else if (g_str_equal(*part, "keep-alive")) {
            ok = parse_flag(*part, value, &inet->has_keep_alive,
                            &inet->keep_alive, errp);
        } else if (g_str_equal(*part, "numeric")) {
            ok = parse_flag(*part, value, &inet->has_numeric, &inet->numeric,
                            errp);
        } else if (!**part) {
            qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT, "empty option");
            ok = false;
        } else {
            qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                           "unknown option '%s' (expected ipv4, ipv6, "
                           "keep-alive or numeric)",
                           *part);
            ok = false;
        }
        if (!ok) {
            return false;
        }
    }
    return true;
}

static QIOSocketAddress *parse_inet(const char *str, GError **errp)
{
    g_autoptr(QIOSocketAddress) addr = NULL;
    g_autofree char *hostport = NULL;
    const char *comma = strchr(str, ',');
    const char *port;
    char *host;

    hostport = comma ? g_strndup(str, comma - str) : g_strdup(str);
    if (hostport[0] == '[') {
        char *end = strchr(hostport, ']');

        if (!end) {
            qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                           "unterminated '[' in address '%s'", str);
            return NULL;
        }
        *end = '\0';
        host = hostport + 1;
        if (!strchr(host, ':')) {
            qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                           "address '%s': brackets are only for IPv6 "
                           "addresses",
                           str);
            return NULL;
        }
        if (end[1] == '\0') {
            qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                           "address '%s' has no port; write [%s]:PORT", str,
                           host);
            return NULL;
        }
        if (end[1] != ':') {
            qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                           "address '%s': expected ':' after ']'", str);
            return NULL;
        }
        port = end + 2;
    } else {
        char *colon = strchr(hostport, ':');

        if (!colon) {
            qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                           "address '%s' has no port; write HOST:PORT, "
                           "[IPV6]:PORT or :PORT",
                           str);
            return NULL;
        }
        if (strchr(colon + 1, ':')) {
            qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                           "address '%s': an IPv6 address must be written "
                           "in brackets, as in [::1]:10809",
                           str);
            return NULL;
        }
        *colon = '\0';
        host = hostport;
        port = colon + 1;
    }
    if (!*port) {
        qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                       "address '%s' has no port", str);
        return NULL;
    }

    addr = qio_socket_address_new_inet(host, port);
    if (comma && !parse_inet_options(&addr->u.inet, comma + 1, errp)) {
        qutil_error_prepend(errp, "address '%s'", str);
        return NULL;
    }
    if (!check_inet(&addr->u.inet, errp)) {
        qutil_error_prepend(errp, "address '%s'", str);
        return NULL;
    }
    return g_steal_pointer(&addr);
}

static QIOSocketAddress *parse_vsock(const char *str, GError **errp)
{
    const char *rest = str + strlen("vsock:");
    const char *colon = strchr(rest, ':');
    g_autofree char *cid = NULL;
    g_autoptr(QIOSocketAddress) addr = NULL;

    if (!colon) {
        qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                       "address '%s': expected vsock:CID:PORT", str);
        return NULL;
    }
    cid = g_strndup(rest, colon - rest);
    addr = qio_socket_address_new_vsock(cid, colon + 1);
    if (!check_vsock(&addr->u.vsock, errp)) {
        qutil_error_prepend(errp, "address '%s'", str);
        return NULL;
    }
    return g_steal_pointer(&addr);
}

QIOSocketAddress *qio_socket_address_parse(const char *str, GError **errp)
{
    g_autoptr(QIOSocketAddress) addr = NULL;

    if (!str || !*str) {
        qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                       "empty socket address");
        return NULL;
    }
    if (g_str_has_prefix(str, "unix:")) {
        const char *path = str + strlen("unix:");
        bool abstract = path[0] == '@';

        addr =
            qio_socket_address_new_unix(abstract ? path + 1 : path, abstract);
    } else if (g_str_has_prefix(str, "fd:")) {
        addr = qio_socket_address_new_fd(str + strlen("fd:"));
    } else if (g_str_has_prefix(str, "vsock:")) {
        return parse_vsock(str, errp);
    } else {
        return parse_inet(str, errp);
    }
    if (!qio_socket_address_validate(addr, errp)) {
        qutil_error_prepend(errp, "address '%s'", str);
        return NULL;
    }
    return g_steal_pointer(&addr);
}

static void append_flag(GString *s, const char *key, bool has, bool value)
{
    if (has) {
        g_string_append_printf(s, ",%s=%s", key, value ? "on" : "off");
    }
}

static char *socket_address_print(const QIOSocketAddress *addr, bool options)
{
    const QIOInetSocketAddress *inet = &addr->u.inet;
    const QIOUnixSocketAddress *un = &addr->u.q_unix;
    GString *s = g_string_new(NULL);

    switch (addr->type) {
    case QIO_SOCKET_ADDRESS_TYPE_INET:
        if (strchr(inet->host, ':')) {
            g_string_append_printf(s, "[%s]:%s", inet->host, inet->port);
        } else {
            g_string_append_printf(s, "%s:%s", inet->host, inet->port);
        }
        if (options) {
            append_flag(s, "ipv4", inet->has_ipv4, inet->ipv4);
            append_flag(s, "ipv6", inet->has_ipv6, inet->ipv6);
            append_flag(s, "keep-alive", inet->has_keep_alive,
                        inet->keep_alive);
            append_flag(s, "numeric", inet->has_numeric, inet->numeric);
        }
        break;
    case QIO_SOCKET_ADDRESS_TYPE_UNIX:
        if (un->abstract) {
            g_string_append_printf(s, "unix:@%s", un->path);
        } else if (un->path[0] == '@') {
            /* A relative path that would read as an abstract name. */
            g_string_append_printf(s, "unix:./%s", un->path);
        } else {
            g_string_append_printf(s, "unix:%s", un->path);
        }
        break;
    case QIO_SOCKET_ADDRESS_TYPE_VSOCK:
        g_string_append_printf(s, "vsock:%s:%s", addr->u.vsock.cid,
                               addr->u.vsock.port);
        break;
    case QIO_SOCKET_ADDRESS_TYPE_FD:
        g_string_append_printf(s, "fd:%s", addr->u.fd.str);
        break;
    }
    return g_string_free(s, FALSE);
}

char *qio_socket_address_format(const QIOSocketAddress *addr)
{
    return socket_address_print(addr, true);
}

char *qio_socket_address_to_string(const QIOSocketAddress *addr)
{
    return socket_address_print(addr, false);
}

static QIOSocketAddress *from_sockaddr_un(const struct sockaddr_un *sun,
                                          socklen_t salen)
{
    const size_t off = offsetof(struct sockaddr_un, sun_path);
    QIOSocketAddress *addr;
    size_t len;

    if (salen > sizeof(*sun)) {
        salen = sizeof(*sun);
    }
    if (salen <= off) {
        /* Unnamed: a socketpair end or an unbound client. */
        return qio_socket_address_new_unix("", false);
    }
    len = salen - off;
    if (sun->sun_path[0] != '\0') {
        g_autofree char *path = g_strndup(sun->sun_path, len);

        return qio_socket_address_new_unix(path, false);
    }
    /*
     * Abstract.  A name that fills the whole of sun_path was bound without
     * "tight" and is padded with NULs; a name is text up to the first NUL
     * either way.
     */
    {
        g_autofree char *name = g_strndup(sun->sun_path + 1, len - 1);

        addr = qio_socket_address_new_unix(name, true);
    }
    if (salen == sizeof(*sun)) {
        addr->u.q_unix.has_tight = true;
        addr->u.q_unix.tight = false;
    }
    return addr;
}

QIOSocketAddress *qio_socket_address_from_sockaddr(const struct sockaddr *sa,
                                                   socklen_t salen,
                                                   GError **errp)
{
    char host[NI_MAXHOST];
    char serv[NI_MAXSERV];
    QIOSocketAddress *addr;
    int ret;

    if (salen < (socklen_t)sizeof(sa_family_t)) {
        qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                       "socket address of %u bytes is too short",
                       (unsigned)salen);
        return NULL;
    }
    switch (sa->sa_family) {
    case AF_INET:
    case AF_INET6:
        ret = getnameinfo(sa, salen, host, sizeof(host), serv, sizeof(serv),
                          NI_NUMERICHOST | NI_NUMERICSERV);
        if (ret != 0) {
            qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                           "cannot format internet address: %s",
                           gai_strerror(ret));
            return NULL;
        }
        addr = qio_socket_address_new_inet(host, serv);
        addr->u.inet.has_numeric = true;
        addr->u.inet.numeric = true;
        return addr;
    case AF_UNIX:
        return from_sockaddr_un((const struct sockaddr_un *)sa, salen);
#ifdef HAVE_LINUX_VM_SOCKETS_H
    case AF_VSOCK: {
        struct sockaddr_vm svm;
        char cid[16];
        char port[16];

        if (salen < (socklen_t)sizeof(svm)) {
            qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                           "vsock address of %u bytes is too short",
                           (unsigned)salen);
            return NULL;
        }
        /* A copy: @sa need not be aligned for sockaddr_vm. */
        memcpy(&svm, sa, sizeof(svm));
        g_snprintf(cid, sizeof(cid), "%u", svm.svm_cid);
        g_snprintf(port, sizeof(port), "%u", svm.svm_port);
        return qio_socket_address_new_vsock(cid, port);
    }
#endif
    default:
        qio_error_setg(errp, QIO_ERROR_NOT_SUPPORTED,
                       "unsupported socket address family %d", sa->sa_family);
        return NULL;
    }
}

static bool inet_to_sockaddr(const QIOInetSocketAddress *inet,
                             struct sockaddr_storage *ss, socklen_t *sslen,
                             GError **errp)
{
    struct addrinfo hints = {
        .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
        .ai_socktype = SOCK_STREAM,
    };
    struct addrinfo *res = NULL;
    bool v4, v6;
    int ret;

    if (!qio_socket_address_inet_families(inet, &v4, &v6, errp)) {
        return false;
    }
    hints.ai_family = v4 && v6 ? AF_UNSPEC : v4 ? AF_INET : AF_INET6;
    ret = getaddrinfo(inet->host, inet->port, &hints, &res);
    if (ret != 0) {
        qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                       "'%s' port '%s' is not a numeric address of an "
                       "allowed family (resolve names first): %s",
                       inet->host, inet->port, gai_strerror(ret));
        return false;
    }
    g_assert(res->ai_addrlen <= sizeof(*ss));
    memset(ss, 0, sizeof(*ss));
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *sslen = res->ai_addrlen;
    freeaddrinfo(res);
    return true;
}

static bool unix_to_sockaddr(const QIOUnixSocketAddress *un,
                             struct sockaddr_storage *ss, socklen_t *sslen,
                             GError **errp)
{
    struct sockaddr_un *sun = (struct sockaddr_un *)ss;
    const size_t off = offsetof(struct sockaddr_un, sun_path);
    size_t len;

    G_STATIC_ASSERT(sizeof(struct sockaddr_un) <=
                    sizeof(struct sockaddr_storage));
    if (!check_unix(un, errp)) {
        return false;
    }
    len = strlen(un->path);
    memset(ss, 0, sizeof(*ss));
    sun->sun_family = AF_UNIX;
    if (un->abstract) {
        bool tight = un->has_tight ? un->tight : true;

        memcpy(sun->sun_path + 1, un->path, len);
        *sslen = tight ? off + 1 + len : sizeof(*sun);
    } else {
        memcpy(sun->sun_path, un->path, len);
        *sslen = off + len + 1;
    }
    return true;
}

bool qio_socket_address_to_sockaddr(const QIOSocketAddress *addr,
                                    struct sockaddr_storage *ss,
                                    socklen_t *sslen, GError **errp)
{
    switch (addr->type) {
    case QIO_SOCKET_ADDRESS_TYPE_INET:
        return inet_to_sockaddr(&addr->u.inet, ss, sslen, errp);
    case QIO_SOCKET_ADDRESS_TYPE_UNIX:
        return unix_to_sockaddr(&addr->u.q_unix, ss, sslen, errp);
    case QIO_SOCKET_ADDRESS_TYPE_VSOCK: {
#ifdef HAVE_LINUX_VM_SOCKETS_H
        struct sockaddr_vm *svm = (struct sockaddr_vm *)ss;

        if (!check_vsock(&addr->u.vsock, errp)) {
            return false;
        }
        memset(ss, 0, sizeof(*ss));
        svm->svm_family = AF_VSOCK;
        svm->svm_cid = g_ascii_strtoull(addr->u.vsock.cid, NULL, 10);
        svm->svm_port = g_ascii_strtoull(addr->u.vsock.port, NULL, 10);
        *sslen = sizeof(*svm);
        return true;
#else
        qio_error_setg(errp, QIO_ERROR_NOT_SUPPORTED,
                       "vsock sockets are not supported on this host");
        return false;
#endif
    }
    case QIO_SOCKET_ADDRESS_TYPE_FD:
        qio_error_setg(errp, QIO_ERROR_NOT_SUPPORTED,
                       "a file descriptor address (fd:%s) has no sockaddr",
                       addr->u.fd.str);
        return false;
    }
    qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                   "unknown socket address type %d", addr->type);
    return false;
}
