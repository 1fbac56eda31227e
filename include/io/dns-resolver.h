/*
 * QIODNSResolver: turn an internet QIOSocketAddress into the numeric
 * addresses a socket can bind or connect to.
 *
 * "localhost:10809" may stand for 127.0.0.1 and ::1; a server binds both
 * and a client tries each in turn.  The resolver runs getaddrinfo(3) and
 * returns one numeric QIOSocketAddress per distinct result, honouring the
 * address's ipv4/ipv6 preferences.  Non-internet addresses (unix, vsock,
 * fd) need no lookup and come back unchanged as a one-element list.
 *
 * A name lookup can block for seconds, so a main loop must use the async
 * form, which runs the lookup on a QIOTask worker thread:
 *
 *     qio_dns_resolver_lookup_async(qio_dns_resolver_get_instance(), addr,
 *                                   QIO_DNS_RESOLVER_FLAG_NONE,
 *                                   lookup_done, data, NULL, NULL);
 *
 *     static void lookup_done(QIOTask *task, gpointer data)
 *     {
 *         g_autoptr(GError) err = NULL;
 *         g_autoptr(GPtrArray) addrs =
 *             qio_dns_resolver_lookup_result(task, &err);
 *         ...
 *     }
 */
#pragma once

#include <glib-object.h>

#include "io/socket-address.h"
#include "io/task.h"

G_BEGIN_DECLS

#define QIO_TYPE_DNS_RESOLVER (qio_dns_resolver_get_type())
G_DECLARE_FINAL_TYPE(QIODNSResolver, qio_dns_resolver, QIO, DNS_RESOLVER,
                     GObject)

typedef enum {
    QIO_DNS_RESOLVER_FLAG_NONE = 0,
    /*
     * The addresses are for listening: an empty host means every local
     * address (0.0.0.0 and ::, AI_PASSIVE).  Without this flag an empty
     * host is an error, since there is nothing to connect to.
     */
    QIO_DNS_RESOLVER_FLAG_PASSIVE = 1 << 0,
} QIODNSResolverFlags;

/* The process-wide resolver (no reference is transferred). */
QIODNSResolver *qio_dns_resolver_get_instance(void);

/*
 * Resolve @addr now, blocking the calling thread.  Returns a GPtrArray of
 * QIOSocketAddress (freed with the array), never empty, or NULL with
 * @errp set: QIO_ERROR_NOT_FOUND when the name does not exist or has no
 * address of an allowed family, QIO_ERROR_INVALID_ARGUMENT for a bad
 * address, QIO_ERROR_FAILED for a temporary resolver failure.  The message
 * names the host: "cannot resolve 'nohost.invalid': Name or service not
 * known".
 *
 * Each result is numeric (numeric=on) with a numeric port and keeps
 * @addr's keep-alive setting; ipv4/ipv6 are left unset since the address
 * itself fixes the family.
 */
GPtrArray *qio_dns_resolver_lookup_sync(QIODNSResolver *resolver,
                                        const QIOSocketAddress *addr,
                                        QIODNSResolverFlags flags,
                                        GError **errp);

/*
 * Resolve @addr on a worker thread and call @func on @context (NULL: the
 * caller's thread-default context) when done.  @addr is copied.  Inside
 * @func, collect the outcome with qio_dns_resolver_lookup_result().
 * @notify frees @opaque after @func returns.
 */
void qio_dns_resolver_lookup_async(QIODNSResolver *resolver,
                                   const QIOSocketAddress *addr,
                                   QIODNSResolverFlags flags, QIOTaskFunc func,
                                   gpointer opaque, GDestroyNotify notify,
                                   GMainContext *context);

/*
 * From within the completion callback of qio_dns_resolver_lookup_async():
 * the result array (now owned by the caller), or NULL with @errp set as
 * for qio_dns_resolver_lookup_sync().  Call it at most once per task.
 */
GPtrArray *qio_dns_resolver_lookup_result(QIOTask *task, GError **errp);

G_END_DECLS
