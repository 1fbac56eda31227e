/*
 * QIODNSResolver: getaddrinfo(3) behind a small API that hands back
 * QIOSocketAddress lists, synchronously or on a QIOTask worker thread.
 * The rest of qio only ever binds or connects to numeric addresses that
 * came out of here, so address family preferences and the "empty host
 * means any address, but only for listening" rule are applied once.
 */
#include "io/dns-resolver.h"

#include <errno.h>
#include <netdb.h>
#include <string.h>

struct _QIODNSResolver {
    GObject parent;
};

G_DEFINE_TYPE(QIODNSResolver, qio_dns_resolver, G_TYPE_OBJECT)

static void qio_dns_resolver_class_init(QIODNSResolverClass *klass)
{
}

static void qio_dns_resolver_init(QIODNSResolver *resolver)
{
}

QIODNSResolver *qio_dns_resolver_get_instance(void)
{
    static QIODNSResolver *instance;

    if (g_once_init_enter(&instance)) {
        g_once_init_leave(&instance, g_object_new(QIO_TYPE_DNS_RESOLVER, NULL));
    }
    return instance;
}

static QIOErrorCode code_from_gai(int ret, int errnum)
{
    switch (ret) {
    case EAI_NONAME:
#ifdef EAI_NODATA
    case EAI_NODATA:
#endif
#ifdef EAI_ADDRFAMILY
    case EAI_ADDRFAMILY:
#endif
    case EAI_SERVICE:
        return QIO_ERROR_NOT_FOUND;
    case EAI_FAMILY:
        return QIO_ERROR_NOT_SUPPORTED;
    case EAI_SYSTEM:
        return qio_error_code_from_errno(errnum);
    default:
        return QIO_ERROR_FAILED;
    }
}

static GPtrArray *lookup_inet(const QIOInetSocketAddress *inet,
                              QIODNSResolverFlags flags, GError **errp)
{
    struct addrinfo hints = {
        .ai_socktype = SOCK_STREAM,
    };
    struct addrinfo *res = NULL;
    g_autoptr(GPtrArray) out = NULL;
    g_autoptr(GHashTable) seen = NULL;
    const char *host = inet->host;
    bool v4, v6;
    int ret;

    if (!qio_socket_address_inet_families(inet, &v4, &v6, errp)) {
        qutil_error_prepend(errp, "cannot resolve '%s'", inet->host);
        return NULL;
    }
    if (!*host) {
        if (!(flags & QIO_DNS_RESOLVER_FLAG_PASSIVE)) {
            qio_error_setg(errp, QIO_ERROR_INVALID_ARGUMENT,
                           "no host given in address ':%s'; a host is "
                           "needed to connect",
                           inet->port);
            return NULL;
        }
        host = NULL;
    }
    /*
     * No AI_ADDRCONFIG: it ignores loopback when deciding which families
     * the host "has", so on a machine with only loopback networking it
     * would hide ::1 and even 127.0.0.1.  Callers skip addresses that turn
     * out unusable instead.
     */
    hints.ai_family = v4 && v6 ? AF_UNSPEC : v4 ? AF_INET : AF_INET6;
    if (flags & QIO_DNS_RESOLVER_FLAG_PASSIVE) {
        hints.ai_flags |= AI_PASSIVE;
    }
    if (inet->has_numeric && inet->numeric) {
        hints.ai_flags |= AI_NUMERICHOST;
    }

    ret = getaddrinfo(host, inet->port, &hints, &res);
    if (ret != 0) {
        int errnum = errno;

        if (ret == EAI_SERVICE) {
            qio_error_setg(errp, code_from_gai(ret, errnum),
                           "cannot resolve '%s' port '%s': %s", inet->host,
                           inet->port, gai_strerror(ret));
        } else if (ret == EAI_SYSTEM) {
            qio_error_setg(errp, code_from_gai(ret, errnum),
                           "cannot resolve '%s': %s", inet->host,
                           g_strerror(errnum));
        } else {
            qio_error_setg(errp, code_from_gai(ret, errnum),
                           "cannot resolve '%s': %s", inet->host,
                           gai_strerror(ret));
        }
        return NULL;
    }

    out =
        g_ptr_array_new_with_free_func((GDestroyNotify)qio_socket_address_free);
    seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        QIOSocketAddress *addr;
        char *key;

        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) {
            continue;
        }
        addr =
            qio_socket_address_from_sockaddr(ai->ai_addr, ai->ai_addrlen, NULL);
        if (!addr) {
            continue;
        }
        /* /etc/hosts may list an address twice; bind it only once. */
        key = qio_socket_address_to_string(addr);
        if (!g_hash_table_add(seen, key)) {
            qio_socket_address_free(addr);
            continue;
        }
        addr->u.inet.has_keep_alive = inet->has_keep_alive;
        addr->u.inet.keep_alive = inet->keep_alive;
        g_ptr_array_add(out, addr);
    }
    freeaddrinfo(res);

    if (out->len == 0) {
        qio_error_setg(errp, QIO_ERROR_NOT_FOUND,
                       "cannot resolve '%s': no %s address", inet->host,
                       v4 && v6 ? "IPv4 or IPv6"
                       : v4     ? "IPv4"
                                : "IPv6");
        return NULL;
    }
    return g_steal_pointer(&out);
}

GPtrArray *qio_dns_resolver_lookup_sync(QIODNSResolver *resolver,
                                        const QIOSocketAddress *addr,
                                        QIODNSResolverFlags flags,
                                        GError **errp)
{
    GPtrArray *out;

    if (!qio_socket_address_validate(addr, errp)) {
        return NULL;
    }
    if (addr->type == QIO_SOCKET_ADDRESS_TYPE_INET) {
        return lookup_inet(&addr->u.inet, flags, errp);
    }
    out =
        g_ptr_array_new_with_free_func((GDestroyNotify)qio_socket_address_free);
    g_ptr_array_add(out, qio_socket_address_copy(addr));
    return out;
}

typedef struct {
    QIOSocketAddress *addr;
    QIODNSResolverFlags flags;
} LookupData;

static void lookup_data_free(gpointer opaque)
{
    LookupData *data = opaque;

    qio_socket_address_free(data->addr);
    g_free(data);
}

static void lookup_worker(QIOTask *task, gpointer opaque)
{
    LookupData *data = opaque;
    QIODNSResolver *resolver = QIO_DNS_RESOLVER(qio_task_get_source(task));
    GError *err = NULL;
    GPtrArray *out;

    out = qio_dns_resolver_lookup_sync(resolver, data->addr, data->flags, &err);
    if (!out) {
        qio_task_set_error(task, err);
        return;
    }
    qio_task_set_result_pointer(task, out, (GDestroyNotify)g_ptr_array_unref);
}

void qio_dns_resolver_lookup_async(QIODNSResolver *resolver,
                                   const QIOSocketAddress *addr,
                                   QIODNSResolverFlags flags, QIOTaskFunc func,
                                   gpointer opaque, GDestroyNotify notify,
                                   GMainContext *context)
{
    QIOTask *task = qio_task_new(G_OBJECT(resolver), func, opaque, notify);
    LookupData *data = g_new0(LookupData, 1);

    data->addr = qio_socket_address_copy(addr);
    data->flags = flags;
    qio_task_run_in_thread(task, lookup_worker, data, lookup_data_free,
                           context);
}

GPtrArray *qio_dns_resolver_lookup_result(QIOTask *task, GError **errp)
{
    if (qio_task_propagate_error(task, errp)) {
        return NULL;
    }
    return qio_task_steal_result_pointer(task);
}
