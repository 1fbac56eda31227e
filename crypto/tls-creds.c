/*
 * The abstract TLS credentials object (see include/crypto/tls-creds.h):
 * the properties every kind shares, GInitable init and reload around the
 * class's load method, the reference-counted handle that lets sessions
 * keep the credentials they started with across a reload, and the priority
 * string, which is resolved from the host's crypto policy when a session
 * asks for it and never allows TLS 1.0 or 1.1.  docs/tls.md describes all
 * of it for users.
 */
#include "crypto/tls-creds.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#elif defined(__aarch64__) && defined(__linux__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

#include "qio-config.h"
#include "qom/object.h"

#include "crypto/tls-creds-anon.h"
#include "crypto/tls-creds-internal.h"
#include "crypto/tls-creds-psk.h"
#include "crypto/tls-creds-x509.h"

GQuark qcrypto_error_quark(void)
{
    return g_quark_from_static_string("qcrypto-error-quark");
}

/* gnutls's own default, used when the host's policy names neither entry. */
#define QCRYPTO_TLS_PRIORITY_FALLBACK "NORMAL"

/* Credential files are small; a bigger one is a mistake, not a CRL. */
#define QCRYPTO_TLS_CREDS_FILE_MAX (64 * 1024 * 1024)

GType qcrypto_tls_creds_endpoint_get_type(void)
{
    static gsize type_id;

    if (g_once_init_enter(&type_id)) {
        static const GEnumValue values[] = {
            { QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT,
              "QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT", "client" },
            { QCRYPTO_TLS_CREDS_ENDPOINT_SERVER,
              "QCRYPTO_TLS_CREDS_ENDPOINT_SERVER", "server" },
            { 0, NULL, NULL },
        };
        g_once_init_leave(&type_id, g_enum_register_static(
                                        "QCryptoTLSCredsEndpoint", values));
    }
    return type_id;
}

/* ---- Handles ------------------------------------------------------------ */

typedef struct {
    gpointer data;
    GDestroyNotify destroy;
} HandleData;

struct QCryptoTLSCredsHandle {
    gint ref;
    gnutls_credentials_type_t type;
    void *gnutls_creds;
    void (*free_creds)(void *gnutls_creds);
    GArray *extra; /* HandleData, freed after the gnutls credentials */
};

QCryptoTLSCredsHandle *
qcrypto_tls_creds_handle_new(gnutls_credentials_type_t type, void *gnutls_creds,
                             void (*free_creds)(void *gnutls_creds))
{
    QCryptoTLSCredsHandle *h = g_new0(QCryptoTLSCredsHandle, 1);

    h->ref = 1;
    h->type = type;
    h->gnutls_creds = gnutls_creds;
    h->free_creds = free_creds;
    return h;
}

QCryptoTLSCredsHandle *qcrypto_tls_creds_handle_ref(QCryptoTLSCredsHandle *h)
{
    g_return_val_if_fail(h != NULL, NULL);
    g_atomic_int_inc(&h->ref);
    return h;
}

void qcrypto_tls_creds_handle_unref(QCryptoTLSCredsHandle *h)
{
    if (!h || !g_atomic_int_dec_and_test(&h->ref)) {
        return;
    }
    if (h->free_creds && h->gnutls_creds) {
        h->free_creds(h->gnutls_creds);
    }
    if (h->extra) {
        for (guint i = 0; i < h->extra->len; i++) {
            HandleData *d = &g_array_index(h->extra, HandleData, i);
            d->destroy(d->data);
        }
        g_array_unref(h->extra);
    }
    g_free(h);
}

gnutls_credentials_type_t
qcrypto_tls_creds_handle_get_type(QCryptoTLSCredsHandle *h)
{
    return h->type;
}

void *qcrypto_tls_creds_handle_get_gnutls(QCryptoTLSCredsHandle *h)
{
    return h->gnutls_creds;
}

void qcrypto_tls_creds_handle_add_data(QCryptoTLSCredsHandle *h, gpointer data,
                                       GDestroyNotify destroy)
{
    HandleData d = { data, destroy };

    if (!h->extra) {
        h->extra = g_array_new(FALSE, FALSE, sizeof(HandleData));
    }
    g_array_append_val(h->extra, d);
}

/* ---- The object --------------------------------------------------------- */

typedef struct {
    QCryptoTLSCredsEndpoint endpoint;
    char *dir;
    bool verify_peer;
    char *priority;

    bool init_done;
    GMutex lock;        /* guards handle */
    GMutex reload_lock; /* one load at a time, so the last one wins */
    QCryptoTLSCredsHandle *handle;
} QCryptoTLSCredsPrivate;

static void qcrypto_tls_creds_initable_iface_init(GInitableIface *iface);

G_DEFINE_ABSTRACT_TYPE_WITH_CODE(
    QCryptoTLSCreds, qcrypto_tls_creds, G_TYPE_OBJECT,
    G_ADD_PRIVATE(QCryptoTLSCreds)
        G_IMPLEMENT_INTERFACE(G_TYPE_INITABLE,
                              qcrypto_tls_creds_initable_iface_init))

enum {
    PROP_0,
    PROP_ENDPOINT,
    PROP_DIR,
    PROP_VERIFY_PEER,
    PROP_PRIORITY,
    N_PROPS
};

static GParamSpec *props[N_PROPS];

static QCryptoTLSCredsPrivate *get_priv(QCryptoTLSCreds *creds)
{
    return qcrypto_tls_creds_get_instance_private(creds);
}

char *qcrypto_tls_creds_describe(QCryptoTLSCreds *creds)
{
    const char *id = qom_object_get_id(G_OBJECT(creds));

    if (id) {
        return g_strdup_printf("TLS credentials '%s'", id);
    }
    return g_strdup("TLS credentials");
}

char *qcrypto_tls_creds_path(QCryptoTLSCreds *creds, const char *filename)
{
    QCryptoTLSCredsPrivate *priv = get_priv(creds);
    g_autofree char *path =
        g_build_filename(priv->dir ? priv->dir : ".", filename, NULL);

    /* Users act on the message, so it names the file the way ls would. */
    return g_canonicalize_filename(path, NULL);
}

bool qcrypto_tls_creds_require_dir(QCryptoTLSCreds *creds, GError **errp)
{
    QCryptoTLSCredsPrivate *priv = get_priv(creds);

    if (!priv->dir || !*priv->dir) {
        g_autofree char *what = qcrypto_tls_creds_describe(creds);
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_INVALID_ARGUMENT,
                    "%s: the 'dir' property is required: give the "
                    "directory that holds the credential files",
                    what);
        return false;
    }
    return true;
}

void qcrypto_tls_creds_free_wiped(void *data, size_t len)
{
    if (data) {
        explicit_bzero(data, len);
        g_free(data);
    }
}

bool qcrypto_tls_creds_read_file(QCryptoTLSCreds *creds, const char *path,
                                 bool optional, char **data, size_t *len,
                                 GError **errp)
{
    g_autofree char *what = NULL;
    struct stat st;
    char *buf = NULL;
    size_t cap, got = 0;
    int fd, saved;

    *data = NULL;
    *len = 0;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        saved = errno;
        if (optional && saved == ENOENT) {
            return true;
        }
        goto fail;
    }
    if (fstat(fd, &st) < 0) {
        saved = errno;
        close(fd);
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        what = qcrypto_tls_creds_describe(creds);
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_FILE,
                    "%s: cannot read %s: not a regular file", what, path);
        return false;
    }
    if (st.st_size > QCRYPTO_TLS_CREDS_FILE_MAX) {
        close(fd);
        what = qcrypto_tls_creds_describe(creds);
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_FILE,
                    "%s: cannot read %s: larger than %d MiB", what, path,
                    QCRYPTO_TLS_CREDS_FILE_MAX / (1024 * 1024));
        return false;
    }
    /* The size may change under us (rotation): read until EOF, bounded. */
    cap = (size_t)st.st_size + 1;
    buf = g_malloc(cap + 1);
    for (;;) {
        ssize_t n;

        if (got == cap) {
            size_t ncap = cap * 2;
            char *nbuf;

            if (cap > QCRYPTO_TLS_CREDS_FILE_MAX) {
                qcrypto_tls_creds_free_wiped(buf, cap + 1);
                close(fd);
                what = qcrypto_tls_creds_describe(creds);
                g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_FILE,
                            "%s: cannot read %s: larger than %d MiB", what,
                            path, QCRYPTO_TLS_CREDS_FILE_MAX / (1024 * 1024));
                return false;
            }
            /* Not g_realloc: the old buffer may hold key bytes. */
            nbuf = g_malloc(ncap + 1);
            memcpy(nbuf, buf, got);
            qcrypto_tls_creds_free_wiped(buf, cap + 1);
            buf = nbuf;
            cap = ncap;
        }
        n = read(fd, buf + got, cap - got);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            saved = errno;
            qcrypto_tls_creds_free_wiped(buf, cap + 1);
            close(fd);
            goto fail;
        }
        if (n == 0) {
            break;
        }
        got += (size_t)n;
    }
    close(fd);
    buf[got] = '\0';
    *data = buf;
    *len = got;
    return true;

fail:
    what = qcrypto_tls_creds_describe(creds);
    g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_FILE,
                "%s: cannot read %s: %s", what, path, g_strerror(saved));
    return false;
}

bool qcrypto_tls_creds_load_dh_params(QCryptoTLSCreds *creds,
                                      gnutls_dh_params_t *params, GError **errp)
{
    g_autofree char *path = qcrypto_tls_creds_path(creds, "dh-params.pem");
    g_autofree char *data = NULL;
    gnutls_datum_t datum;
    size_t len;
    int ret;

    *params = NULL;
    if (!qcrypto_tls_creds_read_file(creds, path, true, &data, &len, errp)) {
        return false;
    }
    if (!data) {
        return true;
    }
    ret = gnutls_dh_params_init(params);
    if (ret < 0) {
        g_autofree char *what = qcrypto_tls_creds_describe(creds);
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_FAILED,
                    "%s: cannot allocate DH parameters: %s", what,
                    gnutls_strerror(ret));
        *params = NULL;
        return false;
    }
    datum.data = (unsigned char *)data;
    datum.size = (unsigned int)len;
    ret = gnutls_dh_params_import_pkcs3(*params, &datum, GNUTLS_X509_FMT_PEM);
    if (ret < 0) {
        g_autofree char *what = qcrypto_tls_creds_describe(creds);
        gnutls_dh_params_deinit(*params);
        *params = NULL;
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_DECODE,
                    "%s: cannot load DH parameters from %s: %s; make the "
                    "file with 'certtool --generate-dh-params' or remove it",
                    what, path, gnutls_strerror(ret));
        return false;
    }
    return true;
}

/* ---- Priority ------------------------------------------------------------ */

typedef struct {
    char *kx;
    char *kx_aes;
} ClassKx;

static GQuark class_kx_quark(void)
{
    return g_quark_from_static_string("qcrypto-tls-creds-kx");
}

void qcrypto_tls_creds_class_set_kx(QCryptoTLSCredsClass *klass, const char *kx,
                                    const char *kx_aes)
{
    ClassKx *ck = g_new0(ClassKx, 1);

    /* Lives as long as the class, which is for the whole process. */
    ck->kx = g_strdup(kx);
    ck->kx_aes = g_strdup(kx_aes ? kx_aes : kx);
    g_type_set_qdata(G_TYPE_FROM_CLASS(klass), class_kx_quark(), ck);
}

static const ClassKx *class_kx_lookup(GType type)
{
    for (; type != G_TYPE_INVALID && type != G_TYPE_OBJECT;
         type = g_type_parent(type)) {
        ClassKx *ck = g_type_get_qdata(type, class_kx_quark());
        if (ck) {
            return ck;
        }
    }
    return NULL;
}

bool qcrypto_tls_cpu_has_aes_gcm(void)
{
#if defined(__x86_64__) || defined(__i386__)
    unsigned int eax, ebx, ecx, edx;

    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) {
        return false;
    }
    return (ecx & bit_AES) && (ecx & bit_PCLMUL);
#elif defined(__aarch64__) && defined(__linux__)
    unsigned long caps = getauxval(AT_HWCAP);

    return (caps & HWCAP_AES) && (caps & HWCAP_PMULL);
#else
    /* Unknown: keep gnutls's own order. */
    return false;
#endif
}

static bool priority_accepted(const char *prio, gnutls_priority_t *out)
{
    gnutls_priority_t p;
    const char *err = NULL;

    if (gnutls_priority_init2(&p, prio, &err, 0) < 0) {
        return false;
    }
    if (out) {
        *out = p;
    } else {
        gnutls_priority_deinit(p);
    }
    return true;
}

static bool cipher_is_aes_gcm(gnutls_cipher_algorithm_t c)
{
    return c == GNUTLS_CIPHER_AES_128_GCM || c == GNUTLS_CIPHER_AES_256_GCM;
}

/*
 * The ciphers @prio enables, AES-GCM first and otherwise in gnutls's
 * order, as "-CIPHER-ALL:+A:+B...".  Re-emitting only what the policy
 * already enabled keeps its choices; only the order changes.  NULL when
 * there is nothing to change.
 */
static char *cipher_order_aes_gcm_first(const char *prio)
{
    gnutls_priority_t p;
    const unsigned int *list;
    g_autoptr(GString) out = NULL;
    bool changed = false, seen_other = false;
    int n;

    if (!priority_accepted(prio, &p)) {
        return NULL;
    }
    n = gnutls_priority_cipher_list(p, &list);
    if (n <= 0) {
        gnutls_priority_deinit(p);
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        if (!cipher_is_aes_gcm(list[i])) {
            seen_other = true;
        } else if (seen_other) {
            changed = true;
        }
    }
    out = g_string_new("-CIPHER-ALL");
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < n; i++) {
            const char *name;

            if (cipher_is_aes_gcm(list[i]) != (pass == 0)) {
                continue;
            }
            name = gnutls_cipher_get_name(list[i]);
            if (!name) {
                gnutls_priority_deinit(p);
                return NULL;
            }
            g_string_append_printf(out, ":+%s", name);
        }
    }
    gnutls_priority_deinit(p);
    if (!changed) {
        return NULL;
    }
    return g_string_free(g_steal_pointer(&out), FALSE);
}

char *qcrypto_tls_priority_compose(const char *base, const char *kx,
                                   const char *kx_aes, bool tune,
                                   bool prefer_aes_gcm,
                                   QCryptoTLSCredsEndpoint endpoint)
{
    g_autofree char *plain = NULL;
    g_autofree char *tuned = NULL;
    g_autofree char *order = NULL;
    const char *use_kx = kx;
    bool tuning = tune && prefer_aes_gcm;

    if (tuning && kx_aes) {
        use_kx = kx_aes;
    }
    /*
     * Modifiers after an "@KEYWORD" apply on top of what the keyword
     * resolves to (checked with gnutls 3.7), so appending is enough.
     */
    plain =
        g_strdup_printf("%s:%s%s%s", base, QCRYPTO_TLS_PRIORITY_NO_OLD_VERSIONS,
                        kx ? ":" : "", kx ? kx : "");
    if (!tuning) {
        return g_steal_pointer(&plain);
    }

    tuned =
        g_strdup_printf("%s:%s%s%s", base, QCRYPTO_TLS_PRIORITY_NO_OLD_VERSIONS,
                        use_kx ? ":" : "", use_kx ? use_kx : "");
    order = cipher_order_aes_gcm_first(tuned);
    if (order) {
        char *t = g_strdup_printf("%s:%s", tuned, order);
        g_free(tuned);
        tuned = t;
    }
    if (endpoint == QCRYPTO_TLS_CREDS_ENDPOINT_SERVER) {
        /*
         * gnutls servers follow the client's order by default, and stock
         * clients put CHACHA20-POLY1305 before AES-128-GCM, which is what
         * TLS 1.3 PSK ends up with (its SHA-256 binder rules out
         * AES-256-GCM-SHA384).
         */
        char *t = g_strdup_printf("%s:%%SERVER_PRECEDENCE", tuned);
        g_free(tuned);
        tuned = t;
    }
    if (!priority_accepted(tuned, NULL)) {
        return g_steal_pointer(&plain);
    }
    return g_steal_pointer(&tuned);
}

const char *qcrypto_tls_priority_default(void)
{
    /*
     * Resolved on every call: gnutls re-reads its system configuration
     * file when it changes, so a policy edited while a server runs is
     * seen by the next session.
     */
    if (priority_accepted(QIO_TLS_PRIORITY, NULL)) {
        return QIO_TLS_PRIORITY;
    }
    return QCRYPTO_TLS_PRIORITY_FALLBACK;
}

static bool prefer_aes_gcm(void)
{
    static gsize answer;

    if (g_once_init_enter(&answer)) {
        g_once_init_leave(&answer, qcrypto_tls_cpu_has_aes_gcm() ? 2 : 1);
    }
    return answer == 2;
}

char *qcrypto_tls_creds_get_priority(QCryptoTLSCreds *creds)
{
    QCryptoTLSCredsPrivate *priv = get_priv(creds);
    const ClassKx *ck = class_kx_lookup(G_OBJECT_TYPE(creds));
    bool user = priv->priority && *priv->priority;

    return qcrypto_tls_priority_compose(
        user ? priv->priority : qcrypto_tls_priority_default(),
        ck ? ck->kx : NULL, ck ? ck->kx_aes : NULL, !user, prefer_aes_gcm(),
        priv->endpoint);
}

/*
 * Refuse a priority string gnutls cannot parse, or one that leaves no TLS
 * version once 1.0 and 1.1 are taken out, when the object is created
 * rather than at the first connection.
 */
static bool check_priority(QCryptoTLSCreds *creds, GError **errp)
{
    g_autofree char *prio = qcrypto_tls_creds_get_priority(creds);
    g_autofree char *what = NULL;
    gnutls_priority_t p;
    const unsigned int *list;
    const char *err = NULL;
    bool modern = false;
    int n, ret;

    ret = gnutls_priority_init2(&p, prio, &err, 0);
    if (ret == GNUTLS_E_NO_PRIORITIES_WERE_SET) {
        goto no_version;
    }
    if (ret < 0) {
        what = qcrypto_tls_creds_describe(creds);
        if (ret == GNUTLS_E_INVALID_REQUEST && err && *err) {
            g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_INVALID_ARGUMENT,
                        "%s: gnutls rejects the priority string '%s' at "
                        "'%s'; see 'gnutls-cli --priority STRING --list'",
                        what, prio, err);
        } else {
            g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_INVALID_ARGUMENT,
                        "%s: gnutls rejects the priority string '%s': %s", what,
                        prio, gnutls_strerror(ret));
        }
        return false;
    }
    n = gnutls_priority_protocol_list(p, &list);
    for (int i = 0; i < n; i++) {
        if (list[i] == GNUTLS_TLS1_2 || list[i] == GNUTLS_TLS1_3) {
            modern = true;
        }
    }
    gnutls_priority_deinit(p);
    if (modern) {
        return true;
    }

no_version:
    what = qcrypto_tls_creds_describe(creds);
    g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_INVALID_ARGUMENT,
                "%s: the priority string '%s' enables neither TLS 1.2 nor "
                "TLS 1.3 (TLS 1.0 and 1.1 are never used)",
                what, prio);
    return false;
}

QCryptoTLSCredsEndpoint qcrypto_tls_creds_get_endpoint(QCryptoTLSCreds *creds)
{
    return get_priv(creds)->endpoint;
}

const char *qcrypto_tls_creds_get_dir(QCryptoTLSCreds *creds)
{
    return get_priv(creds)->dir;
}

bool qcrypto_tls_creds_get_verify_peer(QCryptoTLSCreds *creds)
{
    return get_priv(creds)->verify_peer;
}

static const char *endpoint_name(QCryptoTLSCredsEndpoint endpoint)
{
    return endpoint == QCRYPTO_TLS_CREDS_ENDPOINT_SERVER ? "server" : "client";
}

bool qcrypto_tls_creds_check_endpoint(QCryptoTLSCreds *creds,
                                      QCryptoTLSCredsEndpoint endpoint,
                                      GError **errp)
{
    QCryptoTLSCredsPrivate *priv = get_priv(creds);
    g_autofree char *what = NULL;

    if (priv->endpoint == endpoint) {
        return true;
    }
    what = qcrypto_tls_creds_describe(creds);
    g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_ENDPOINT,
                "%s are for a %s, but this is a %s; create credentials "
                "with endpoint=%s",
                what, endpoint_name(priv->endpoint), endpoint_name(endpoint),
                endpoint_name(endpoint));
    return false;
}

QCryptoTLSCredsHandle *qcrypto_tls_creds_get_handle(QCryptoTLSCreds *creds)
{
    QCryptoTLSCredsPrivate *priv = get_priv(creds);
    QCryptoTLSCredsHandle *h = NULL;

    g_mutex_lock(&priv->lock);
    if (priv->handle) {
        h = qcrypto_tls_creds_handle_ref(priv->handle);
    }
    g_mutex_unlock(&priv->lock);
    return h;
}

void qcrypto_tls_creds_set_handle(QCryptoTLSCreds *creds,
                                  QCryptoTLSCredsHandle *handle)
{
    QCryptoTLSCredsPrivate *priv = get_priv(creds);
    QCryptoTLSCredsHandle *old;

    g_mutex_lock(&priv->lock);
    old = priv->handle;
    priv->handle = handle;
    g_mutex_unlock(&priv->lock);
    /* Outside the lock: freeing gnutls credentials is not instant. */
    qcrypto_tls_creds_handle_unref(old);
}

static bool load_and_install(QCryptoTLSCreds *creds, GError **errp)
{
    QCryptoTLSCredsClass *klass = QCRYPTO_TLS_CREDS_GET_CLASS(creds);
    QCryptoTLSCredsPrivate *priv = get_priv(creds);
    QCryptoTLSCredsHandle *h;
    bool ok = false;

    g_mutex_lock(&priv->reload_lock);
    if (check_priority(creds, errp)) {
        h = klass->load(creds, errp);
        if (h) {
            qcrypto_tls_creds_set_handle(creds, h);
            ok = true;
        }
    }
    g_mutex_unlock(&priv->reload_lock);
    return ok;
}

bool qcrypto_tls_creds_reload(QCryptoTLSCreds *creds, GError **errp)
{
    QCryptoTLSCredsPrivate *priv = get_priv(creds);

    if (!priv->init_done) {
        g_autofree char *what = qcrypto_tls_creds_describe(creds);
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_FAILED,
                    "%s: cannot reload credentials that were never loaded",
                    what);
        return false;
    }
    return load_and_install(creds, errp);
}

static gboolean qcrypto_tls_creds_initable_init(GInitable *initable,
                                                GCancellable *cancellable,
                                                GError **errp)
{
    QCryptoTLSCreds *creds = QCRYPTO_TLS_CREDS(initable);
    QCryptoTLSCredsPrivate *priv = get_priv(creds);

    if (priv->init_done) {
        return TRUE;
    }
    g_return_val_if_fail(QCRYPTO_TLS_CREDS_GET_CLASS(creds)->load != NULL,
                         FALSE);
    if (!load_and_install(creds, errp)) {
        return FALSE;
    }
    priv->init_done = true;
    return TRUE;
}

static void qcrypto_tls_creds_initable_iface_init(GInitableIface *iface)
{
    iface->init = qcrypto_tls_creds_initable_init;
}

static void qcrypto_tls_creds_set_property(GObject *obj, guint prop_id,
                                           const GValue *value,
                                           GParamSpec *pspec)
{
    QCryptoTLSCredsPrivate *priv = get_priv(QCRYPTO_TLS_CREDS(obj));

    switch (prop_id) {
    case PROP_ENDPOINT:
        priv->endpoint = g_value_get_enum(value);
        break;
    case PROP_DIR:
        g_free(priv->dir);
        priv->dir = g_value_dup_string(value);
        break;
    case PROP_VERIFY_PEER:
        priv->verify_peer = g_value_get_boolean(value);
        break;
    case PROP_PRIORITY:
        g_free(priv->priority);
        priv->priority = g_value_dup_string(value);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, prop_id, pspec);
    }
}

static void qcrypto_tls_creds_get_property(GObject *obj, guint prop_id,
                                           GValue *value, GParamSpec *pspec)
{
    QCryptoTLSCredsPrivate *priv = get_priv(QCRYPTO_TLS_CREDS(obj));

    switch (prop_id) {
    case PROP_ENDPOINT:
        g_value_set_enum(value, priv->endpoint);
        break;
    case PROP_DIR:
        g_value_set_string(value, priv->dir);
        break;
    case PROP_VERIFY_PEER:
        g_value_set_boolean(value, priv->verify_peer);
        break;
    case PROP_PRIORITY:
        g_value_set_string(value, priv->priority);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, prop_id, pspec);
    }
}

static void qcrypto_tls_creds_finalize(GObject *obj)
{
    QCryptoTLSCredsPrivate *priv = get_priv(QCRYPTO_TLS_CREDS(obj));

    qcrypto_tls_creds_handle_unref(priv->handle);
    g_free(priv->dir);
    g_free(priv->priority);
    g_mutex_clear(&priv->lock);
    g_mutex_clear(&priv->reload_lock);
    G_OBJECT_CLASS(qcrypto_tls_creds_parent_class)->finalize(obj);
}

static void qcrypto_tls_creds_init(QCryptoTLSCreds *creds)
{
    QCryptoTLSCredsPrivate *priv = get_priv(creds);

    priv->verify_peer = true;
    g_mutex_init(&priv->lock);
    g_mutex_init(&priv->reload_lock);
}

static void qcrypto_tls_creds_class_init(QCryptoTLSCredsClass *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);
    const GParamFlags flags =
        G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;

    oc->set_property = qcrypto_tls_creds_set_property;
    oc->get_property = qcrypto_tls_creds_get_property;
    oc->finalize = qcrypto_tls_creds_finalize;

    props[PROP_ENDPOINT] =
        g_param_spec_enum("endpoint", "Endpoint",
                          "Which end of the connection the credentials are for",
                          QCRYPTO_TYPE_TLS_CREDS_ENDPOINT,
                          QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT, flags);
    props[PROP_DIR] = g_param_spec_string(
        "dir", "Directory", "Directory holding the credential files", NULL,
        flags);
    props[PROP_VERIFY_PEER] = g_param_spec_boolean(
        "verify-peer", "Verify peer",
        "Require and check the peer's certificate", TRUE, flags);
    props[PROP_PRIORITY] = g_param_spec_string(
        "priority", "Priority",
        "gnutls priority string (default: the host's policy for qio)", NULL,
        flags);
    g_object_class_install_properties(oc, N_PROPS, props);
}

/* ---- Registration ---------------------------------------------------------
 */

void qcrypto_tls_creds_register_types(void)
{
    qom_type_register("tls-creds", QCRYPTO_TYPE_TLS_CREDS);
    qom_type_set_description(QCRYPTO_TYPE_TLS_CREDS, "TLS credentials");
    /* Every load error starts with qcrypto_tls_creds_describe(). */
    qom_type_set_init_errors_named(QCRYPTO_TYPE_TLS_CREDS);
    qom_type_register("tls-creds-x509", QCRYPTO_TYPE_TLS_CREDS_X509);
    qom_type_register("tls-creds-psk", QCRYPTO_TYPE_TLS_CREDS_PSK);
    qom_type_register("tls-creds-anon", QCRYPTO_TYPE_TLS_CREDS_ANON);
}
