/*
 * Test fixtures for TLS credentials (see crypto-tls-helpers.h): minting a
 * table of certificates into a credentials directory, PSK keys files,
 * creating credentials objects outside the object table, and a raw gnutls
 * handshake that reports what two credentials' priorities negotiate.
 */
#include "crypto-tls-helpers.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "crypto/tls-creds-x509.h"
#include "qom/object.h"
#include "util/cutils.h"

const char *const qcrypto_test_eku_server[] = { GNUTLS_KP_TLS_WWW_SERVER,
                                                NULL };
const char *const qcrypto_test_eku_client[] = { GNUTLS_KP_TLS_WWW_CLIENT,
                                                NULL };
const char *const qcrypto_test_eku_both[] = { GNUTLS_KP_TLS_WWW_SERVER,
                                              GNUTLS_KP_TLS_WWW_CLIENT, NULL };
const char *const qcrypto_test_dns_localhost[] = { "localhost", NULL };
const char *const qcrypto_test_ip_loopback[] = { "127.0.0.1", "::1", NULL };

const guint8 qcrypto_test_psk_key[32] = {
    0x6b, 0x1f, 0x0e, 0x93, 0x55, 0x27, 0xc8, 0x40, 0x9a, 0x3d, 0x71,
    0x0b, 0xe2, 0x5c, 0x86, 0x14, 0xf7, 0x28, 0x4e, 0xa1, 0x63, 0x9f,
    0x02, 0xbd, 0x38, 0xc5, 0x7a, 0x11, 0xde, 0x90, 0x4b, 0x26,
};

/* Every file a table can produce; rewrite removes the ones not made. */
static const char *const creds_files[] = {
    QCRYPTO_TLS_CREDS_X509_CA_CERT,     QCRYPTO_TLS_CREDS_X509_CA_CRL,
    QCRYPTO_TLS_CREDS_X509_SERVER_CERT, QCRYPTO_TLS_CREDS_X509_SERVER_KEY,
    QCRYPTO_TLS_CREDS_X509_CLIENT_CERT, QCRYPTO_TLS_CREDS_X509_CLIENT_KEY,
};

struct QCryptoTestCredsDir {
    char *path;
    GHashTable *certs; /* name -> QCryptoPKICert */
};

/* ---- Temporary directories ------------------------------------------- */

/*
 * Directories made and not yet removed: a failed cmocka assertion jumps
 * past the test's own cleanup, so teardown sweeps what is left.
 */
static GMutex tmpdirs_lock;
static GPtrArray *tmpdirs;

char *qcrypto_test_tmpdir_new(GError **errp)
{
    char *path = g_dir_make_tmp("qio-tls-test-XXXXXX", errp);

    if (path) {
        g_mutex_lock(&tmpdirs_lock);
        if (!tmpdirs) {
            tmpdirs = g_ptr_array_new_with_free_func(g_free);
        }
        g_ptr_array_add(tmpdirs, g_strdup(path));
        g_mutex_unlock(&tmpdirs_lock);
    }
    return path;
}

static void remove_tree(const char *path)
{
    GDir *dir = g_dir_open(path, 0, NULL);
    const char *name;

    if (dir) {
        while ((name = g_dir_read_name(dir))) {
            g_autofree char *child = g_build_filename(path, name, NULL);
            if (g_file_test(child, G_FILE_TEST_IS_DIR) &&
                !g_file_test(child, G_FILE_TEST_IS_SYMLINK)) {
                remove_tree(child);
            } else {
                g_unlink(child);
            }
        }
        g_dir_close(dir);
    }
    g_rmdir(path);
}

void qcrypto_test_tmpdir_remove(const char *path)
{
    if (!path) {
        return;
    }
    remove_tree(path);
    g_mutex_lock(&tmpdirs_lock);
    if (tmpdirs) {
        for (guint i = 0; i < tmpdirs->len; i++) {
            if (g_str_equal(g_ptr_array_index(tmpdirs, i), path)) {
                g_ptr_array_remove_index_fast(tmpdirs, i);
                break;
            }
        }
    }
    g_mutex_unlock(&tmpdirs_lock);
}

void qcrypto_test_tmpdir_remove_all(void)
{
    g_autoptr(GPtrArray) left = NULL;

    g_mutex_lock(&tmpdirs_lock);
    left = g_steal_pointer(&tmpdirs);
    g_mutex_unlock(&tmpdirs_lock);
    if (left) {
        for (guint i = 0; i < left->len; i++) {
            remove_tree(g_ptr_array_index(left, i));
        }
    }
}

/* ---- Credentials directories ----------------------------------------- */

static bool append_file(QCryptoTestCredsDir *d, const char *filename,
                        QCryptoPKICert *cert, GError **errp)
{
    g_autofree char *path = g_build_filename(d->path, filename, NULL);

    return qcrypto_pki_cert_append(cert, path, errp);
}

static bool write_key(QCryptoTestCredsDir *d, const char *filename,
                      const QCryptoTestCert *entry, QCryptoPKICert *own,
                      GError **errp)
{
    g_autofree char *path = g_build_filename(d->path, filename, NULL);
    QCryptoPKICert *key = own;

    if (entry->key_of) {
        key = g_hash_table_lookup(d->certs, entry->key_of);
        if (!key) {
            g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                        "entry '%s': key_of names unknown entry '%s'",
                        entry->name, entry->key_of);
            return false;
        }
    }
    return qcrypto_pki_key_write(key, path, entry->key_password, errp);
}

static bool write_table(QCryptoTestCredsDir *d, const QCryptoTestCert *certs,
                        size_t n, GError **errp)
{
    g_autoptr(GHashTable) minted = g_hash_table_new(g_str_hash, g_str_equal);
    const QCryptoTestCert *crl_issuer = NULL;

    for (size_t i = 0; i < G_N_ELEMENTS(creds_files); i++) {
        g_autofree char *path = g_build_filename(d->path, creds_files[i], NULL);
        g_unlink(path);
    }

    for (size_t i = 0; i < n; i++) {
        const QCryptoTestCert *e = &certs[i];
        QCryptoPKICert *issuer = NULL;
        QCryptoPKICert *cert;

        g_assert(e->name);
        if (e->issuer) {
            issuer = g_hash_table_lookup(minted, e->issuer);
            if (!issuer) {
                g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                            "entry '%s': issuer '%s' is not an earlier "
                            "entry",
                            e->name, e->issuer);
                return false;
            }
        }
        cert = qcrypto_pki_cert_new(&e->req, issuer, errp);
        if (!cert) {
            g_prefix_error(errp, "entry '%s': ", e->name);
            return false;
        }
        g_hash_table_replace(d->certs, g_strdup(e->name), cert);
        g_hash_table_insert(minted, (gpointer)e->name, cert);
        if (e->files & QCRYPTO_TEST_FILE_CRL) {
            crl_issuer = e;
        }
    }

    /* Files in a fixed order: leaves before their chains. */
    for (size_t i = 0; i < n; i++) {
        const QCryptoTestCert *e = &certs[i];
        QCryptoPKICert *cert = g_hash_table_lookup(minted, e->name);

        if ((e->files & QCRYPTO_TEST_FILE_CA) &&
            !append_file(d, QCRYPTO_TLS_CREDS_X509_CA_CERT, cert, errp)) {
            return false;
        }
        if (e->files & QCRYPTO_TEST_FILE_SERVER) {
            if (!append_file(d, QCRYPTO_TLS_CREDS_X509_SERVER_CERT, cert,
                             errp) ||
                !write_key(d, QCRYPTO_TLS_CREDS_X509_SERVER_KEY, e, cert,
                           errp)) {
                return false;
            }
        }
        if (e->files & QCRYPTO_TEST_FILE_CLIENT) {
            if (!append_file(d, QCRYPTO_TLS_CREDS_X509_CLIENT_CERT, cert,
                             errp) ||
                !write_key(d, QCRYPTO_TLS_CREDS_X509_CLIENT_KEY, e, cert,
                           errp)) {
                return false;
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        const QCryptoTestCert *e = &certs[i];
        QCryptoPKICert *cert = g_hash_table_lookup(minted, e->name);

        if ((e->files & QCRYPTO_TEST_FILE_SERVER_CHAIN) &&
            !append_file(d, QCRYPTO_TLS_CREDS_X509_SERVER_CERT, cert, errp)) {
            return false;
        }
        if ((e->files & QCRYPTO_TEST_FILE_CLIENT_CHAIN) &&
            !append_file(d, QCRYPTO_TLS_CREDS_X509_CLIENT_CERT, cert, errp)) {
            return false;
        }
    }

    if (crl_issuer) {
        g_autoptr(GPtrArray) revoked = g_ptr_array_new();
        g_autofree char *path =
            g_build_filename(d->path, QCRYPTO_TLS_CREDS_X509_CA_CRL, NULL);

        for (size_t i = 0; i < n; i++) {
            if ((certs[i].files & QCRYPTO_TEST_FILE_REVOKED) &&
                certs[i].issuer &&
                g_str_equal(certs[i].issuer, crl_issuer->name)) {
                g_ptr_array_add(revoked,
                                g_hash_table_lookup(minted, certs[i].name));
            }
        }
        if (!qcrypto_pki_crl_write(
                g_hash_table_lookup(minted, crl_issuer->name),
                (QCryptoPKICert *const *)revoked->pdata, revoked->len, path,
                errp)) {
            return false;
        }
    }
    return true;
}

QCryptoTestCredsDir *qcrypto_test_creds_dir_new(const QCryptoTestCert *certs,
                                                size_t ncerts, GError **errp)
{
    QCryptoTestCredsDir *d = g_new0(QCryptoTestCredsDir, 1);

    d->certs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                     (GDestroyNotify)qcrypto_pki_cert_free);
    d->path = qcrypto_test_tmpdir_new(errp);
    if (!d->path || !write_table(d, certs, ncerts, errp)) {
        qcrypto_test_creds_dir_free(d);
        return NULL;
    }
    return d;
}

QCryptoTestCredsDir *qcrypto_test_creds_dir_new_standard(GError **errp)
{
    static const QCryptoTestCert certs[] = {
        { "ca", NULL, QCRYPTO_TEST_REQ_CA("qio test CA"), QCRYPTO_TEST_FILE_CA,
          NULL, NULL },
        { "server", "ca", QCRYPTO_TEST_REQ_SERVER("localhost"),
          QCRYPTO_TEST_FILE_SERVER, NULL, NULL },
        { "client", "ca", QCRYPTO_TEST_REQ_CLIENT("qio-test-client"),
          QCRYPTO_TEST_FILE_CLIENT, NULL, NULL },
    };

    return qcrypto_test_creds_dir_new(certs, G_N_ELEMENTS(certs), errp);
}

bool qcrypto_test_creds_dir_rewrite(QCryptoTestCredsDir *d,
                                    const QCryptoTestCert *certs, size_t ncerts,
                                    GError **errp)
{
    return write_table(d, certs, ncerts, errp);
}

const char *qcrypto_test_creds_dir_path(QCryptoTestCredsDir *d)
{
    return d->path;
}

char *qcrypto_test_creds_dir_file(QCryptoTestCredsDir *d, const char *filename)
{
    return g_build_filename(d->path, filename, NULL);
}

QCryptoPKICert *qcrypto_test_creds_dir_cert(QCryptoTestCredsDir *d,
                                            const char *name)
{
    return g_hash_table_lookup(d->certs, name);
}

void qcrypto_test_creds_dir_free(QCryptoTestCredsDir *d)
{
    if (!d) {
        return;
    }
    qcrypto_test_tmpdir_remove(d->path);
    g_free(d->path);
    g_hash_table_unref(d->certs);
    g_free(d);
}

/* ---- PSK ------------------------------------------------------------- */

bool qcrypto_test_psk_add(const char *dir, const char *username,
                          const guint8 *key, size_t keylen, GError **errp)
{
    g_autofree char *path = g_build_filename(dir, "keys.psk", NULL);

    if (!key) {
        key = qcrypto_test_psk_key;
        keylen = sizeof(qcrypto_test_psk_key);
    }
    return qcrypto_pki_psk_append(path, username, key, keylen, errp);
}

bool qcrypto_test_psk_write(const char *dir, const char *contents,
                            GError **errp)
{
    g_autofree char *path = g_build_filename(dir, "keys.psk", NULL);

    return g_file_set_contents(path, contents, -1, errp);
}

/* ---- Credentials objects --------------------------------------------- */

static bool value_from_string(GParamSpec *pspec, const char *text,
                              GValue *value, GError **errp)
{
    GType type = G_PARAM_SPEC_VALUE_TYPE(pspec);

    g_value_init(value, type);
    if (type == G_TYPE_STRING) {
        g_value_set_string(value, text);
        return true;
    }
    if (type == G_TYPE_BOOLEAN) {
        bool b;
        if (!qutil_parse_bool(text, &b, errp)) {
            return false;
        }
        g_value_set_boolean(value, b);
        return true;
    }
    if (G_TYPE_IS_ENUM(type)) {
        g_autoptr(GEnumClass) ec = g_type_class_ref(type);
        GEnumValue *ev = g_enum_get_value_by_nick(ec, text);
        if (!ev) {
            g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                        "'%s' is not a value of property '%s'", text,
                        pspec->name);
            return false;
        }
        g_value_set_enum(value, ev->value);
        return true;
    }
    g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                "property '%s' cannot be set from text here", pspec->name);
    return false;
}

QCryptoTLSCreds *qcrypto_test_creds_new(const char *type, GError **errp,
                                        const char *first_name, ...)
{
    GType gtype;
    g_autoptr(GTypeClass) klass = NULL;
    g_autoptr(GPtrArray) names = g_ptr_array_new();
    g_autoptr(GArray) values = g_array_new(FALSE, TRUE, sizeof(GValue));
    GObject *obj = NULL;
    const char *name;
    va_list ap;
    bool ok = true;

    g_array_set_clear_func(values, (GDestroyNotify)g_value_unset);
    qcrypto_tls_creds_register_types();
    gtype = qom_type_lookup(type);
    g_assert(gtype != G_TYPE_INVALID &&
             g_type_is_a(gtype, QCRYPTO_TYPE_TLS_CREDS));
    klass = g_type_class_ref(gtype);

    va_start(ap, first_name);
    for (name = first_name; name && ok; name = va_arg(ap, const char *)) {
        const char *text = va_arg(ap, const char *);
        GParamSpec *pspec =
            g_object_class_find_property(G_OBJECT_CLASS(klass), name);
        GValue v = G_VALUE_INIT;

        if (!pspec) {
            g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                        "type '%s' has no property '%s'", type, name);
            ok = false;
            break;
        }
        if (!value_from_string(pspec, text, &v, errp)) {
            g_value_unset(&v);
            ok = false;
            break;
        }
        g_ptr_array_add(names, (gpointer)pspec->name);
        g_array_append_val(values, v);
    }
    va_end(ap);
    if (!ok) {
        return NULL;
    }

    obj = g_object_new_with_properties(gtype, names->len,
                                       (const char **)names->pdata,
                                       &g_array_index(values, GValue, 0));
    if (!g_initable_init(G_INITABLE(obj), NULL, errp)) {
        g_object_unref(obj);
        return NULL;
    }
    return QCRYPTO_TLS_CREDS(obj);
}

/* ---- Raw handshake --------------------------------------------------- */

typedef struct {
    gnutls_session_t session;
    int ret;
} HandshakeSide;

static void set_timeout(int fd, int seconds)
{
    struct timeval tv = { .tv_sec = seconds, .tv_usec = 0 };

    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static void run_handshake(HandshakeSide *side)
{
    int ret;

    do {
        ret = gnutls_handshake(side->session);
    } while (ret < 0 && !gnutls_error_is_fatal(ret));
    side->ret = ret;
}

static gpointer server_thread(gpointer opaque)
{
    HandshakeSide *side = opaque;
    int fd = gnutls_transport_get_int(side->session);

    run_handshake(side);
    if (side->ret < 0) {
        /* Unblock the client, which may be waiting for our answer. */
        shutdown(fd, SHUT_RDWR);
    }
    return NULL;
}

static bool setup_side(HandshakeSide *side, QCryptoTLSCreds *creds,
                       const char *priority, unsigned int flags, int fd,
                       QCryptoTLSCredsHandle **handle, GError **errp)
{
    g_autofree char *prio =
        priority ? g_strdup(priority) : qcrypto_tls_creds_get_priority(creds);
    const char *err = NULL;
    int ret;

    *handle = qcrypto_tls_creds_get_handle(creds);
    ret = gnutls_init(&side->session, flags);
    if (ret < 0) {
        side->session = NULL;
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_FAILED,
                    "gnutls_init: %s", gnutls_strerror(ret));
        return false;
    }
    ret = gnutls_priority_set_direct(side->session, prio, &err);
    if (ret < 0) {
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_INVALID_ARGUMENT,
                    "priority '%s' refused at '%s': %s", prio, err ? err : "",
                    gnutls_strerror(ret));
        return false;
    }
    ret = gnutls_credentials_set(side->session,
                                 qcrypto_tls_creds_handle_get_type(*handle),
                                 qcrypto_tls_creds_handle_get_gnutls(*handle));
    if (ret < 0) {
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_FAILED,
                    "gnutls_credentials_set: %s", gnutls_strerror(ret));
        return false;
    }
    gnutls_transport_set_int(side->session, fd);
    gnutls_handshake_set_timeout(side->session, 10 * 1000);
    return true;
}

bool qcrypto_test_raw_handshake(QCryptoTLSCreds *client_creds,
                                const char *client_priority,
                                QCryptoTLSCreds *server_creds,
                                const char *server_priority,
                                QCryptoTestHandshake *out, GError **errp)
{
    HandshakeSide client = { NULL, 0 }, server = { NULL, 0 };
    QCryptoTLSCredsHandle *ch = NULL, *sh = NULL;
    GThread *thread;
    int fds[2];
    bool ok = false;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0) {
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_FAILED, "socketpair: %s",
                    g_strerror(errno));
        return false;
    }
    set_timeout(fds[0], 10);
    set_timeout(fds[1], 10);
    if (!setup_side(&client, client_creds, client_priority, GNUTLS_CLIENT,
                    fds[0], &ch, errp) ||
        !setup_side(&server, server_creds, server_priority, GNUTLS_SERVER,
                    fds[1], &sh, errp)) {
        goto out;
    }

    thread = g_thread_new("tls-test-server", server_thread, &server);
    run_handshake(&client);
    if (client.ret < 0) {
        shutdown(fds[0], SHUT_RDWR);
    }
    g_thread_join(thread);

    if (client.ret < 0 || server.ret < 0) {
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_HANDSHAKE,
                    "handshake failed: client: %s; server: %s",
                    client.ret < 0 ? gnutls_strerror(client.ret) : "ok",
                    server.ret < 0 ? gnutls_strerror(server.ret) : "ok");
        goto out;
    }
    out->version = gnutls_protocol_get_version(client.session);
    out->cipher = gnutls_cipher_get(client.session);
    out->kx = gnutls_kx_get(client.session);
    ok = true;

out:
    if (client.session) {
        gnutls_deinit(client.session);
    }
    if (server.session) {
        gnutls_deinit(server.session);
    }
    qcrypto_tls_creds_handle_unref(ch);
    qcrypto_tls_creds_handle_unref(sh);
    close(fds[0]);
    close(fds[1]);
    return ok;
}
