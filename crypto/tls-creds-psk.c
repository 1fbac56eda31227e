/*
 * Pre-shared key credentials (tls-creds-psk, see
 * include/crypto/tls-creds-psk.h).  keys.psk is validated as a whole at
 * every load, so a broken line is reported when the object is created or
 * reloaded rather than as an unexplained handshake failure.  A server keeps
 * the parsed keys with its gnutls credentials and answers gnutls's lookup
 * callback from them; gnutls gives that callback no user pointer, so the
 * keys are found through a process-wide table indexed by the gnutls
 * credentials the session uses.
 */
#include "crypto/tls-creds-psk.h"

#include <string.h>

#include "crypto/tls-creds-internal.h"

/* TLS limits a PSK identity to 2^16-1 bytes; keys this long are absurd. */
#define PSK_USERNAME_MAX 65535
#define PSK_KEY_MAX      4096

struct _QCryptoTLSCredsPSK {
    QCryptoTLSCreds parent;

    char *username;
};

G_DEFINE_TYPE(QCryptoTLSCredsPSK, qcrypto_tls_creds_psk, QCRYPTO_TYPE_TLS_CREDS)

enum { PROP_0, PROP_USERNAME, N_PROPS };

static GParamSpec *props[N_PROPS];

/* ---- keys.psk ---------------------------------------------------------- */

typedef struct {
    guint8 *key;
    size_t len;
} PskKey;

static void psk_key_free(gpointer p)
{
    PskKey *k = p;

    qcrypto_tls_creds_free_wiped(k->key, k->len);
    g_free(k);
}

/*
 * Parse keys.psk into username -> PskKey.  Messages name the file, the
 * line and the user but never print key material.
 */
static GHashTable *parse_psk_file(const char *what, const char *path,
                                  const char *data, size_t len, GError **errp)
{
    g_autoptr(GHashTable) keys =
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, psk_key_free);
    const char *p = data, *end = data + len;
    unsigned int lineno = 0;

    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *line = p, *colon, *hex;
        size_t linelen, userlen, hexlen;
        g_autofree char *user = NULL;
        PskKey *k;

        lineno++;
        if (!eol) {
            eol = end;
        }
        p = eol < end ? eol + 1 : end;
        linelen = (size_t)(eol - line);
        if (linelen && line[linelen - 1] == '\r') {
            linelen--;
        }
        if (linelen == 0) {
            continue;
        }
        colon = memchr(line, ':', linelen);
        if (!colon) {
            g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_DECODE,
                        "%s: line %u of %s is not 'username:hexkey' (no "
                        "':')",
                        what, lineno, path);
            return NULL;
        }
        userlen = (size_t)(colon - line);
        hex = colon + 1;
        hexlen = linelen - userlen - 1;
        if (userlen == 0 || userlen > PSK_USERNAME_MAX ||
            memchr(line, '\0', userlen)) {
            g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_DECODE,
                        "%s: line %u of %s has %s username", what, lineno, path,
                        userlen == 0 ? "an empty" : "an invalid");
            return NULL;
        }
        user = g_strndup(line, userlen);
        if (hexlen == 0) {
            g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_DECODE,
                        "%s: line %u of %s gives user '%s' an empty key", what,
                        lineno, path, user);
            return NULL;
        }
        for (size_t i = 0; i < hexlen; i++) {
            if (g_ascii_xdigit_value(hex[i]) < 0) {
                g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_DECODE,
                            "%s: the key of user '%s' on line %u of %s is "
                            "not hexadecimal (character %zu)",
                            what, user, lineno, path, i + 1);
                return NULL;
            }
        }
        if (hexlen % 2) {
            g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_DECODE,
                        "%s: the key of user '%s' on line %u of %s has an "
                        "odd number of hex digits",
                        what, user, lineno, path);
            return NULL;
        }
        if (hexlen / 2 > PSK_KEY_MAX) {
            g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_DECODE,
                        "%s: the key of user '%s' on line %u of %s is longer "
                        "than %d bytes",
                        what, user, lineno, path, PSK_KEY_MAX);
            return NULL;
        }
        if (g_hash_table_contains(keys, user)) {
            g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_DECODE,
                        "%s: user '%s' is given a second key on line %u of "
                        "%s; keep one line per user",
                        what, user, lineno, path);
            return NULL;
        }
        k = g_new0(PskKey, 1);
        k->len = hexlen / 2;
        k->key = g_malloc(k->len);
        for (size_t i = 0; i < k->len; i++) {
            k->key[i] = (guint8)(g_ascii_xdigit_value(hex[2 * i]) * 16 +
                                 g_ascii_xdigit_value(hex[2 * i + 1]));
        }
        g_hash_table_insert(keys, g_steal_pointer(&user), k);
    }
    if (g_hash_table_size(keys) == 0) {
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_DECODE,
                    "%s: %s holds no 'username:hexkey' line", what, path);
        return NULL;
    }
    return g_steal_pointer(&keys);
}

/* ---- Server key lookup ------------------------------------------------- */

static GMutex server_keys_lock;
/* gnutls_psk_server_credentials_t -> GHashTable of PskKey by username */
static GHashTable *server_keys;

static int psk_server_lookup(gnutls_session_t session,
                             const gnutls_datum_t *username,
                             gnutls_datum_t *key)
{
    void *cred = NULL;
    g_autofree char *user = NULL;
    GHashTable *keys;
    PskKey *k = NULL;
    int ret = -1;

    if (gnutls_credentials_get(session, GNUTLS_CRD_PSK, &cred) < 0 ||
        !username->data || memchr(username->data, '\0', username->size)) {
        return -1;
    }
    user = g_strndup((const char *)username->data, username->size);

    g_mutex_lock(&server_keys_lock);
    keys = server_keys ? g_hash_table_lookup(server_keys, cred) : NULL;
    if (keys) {
        k = g_hash_table_lookup(keys, user);
    }
    if (k) {
        key->data = gnutls_malloc(k->len);
        if (key->data) {
            memcpy(key->data, k->key, k->len);
            key->size = (unsigned int)k->len;
            ret = 0;
        }
    }
    g_mutex_unlock(&server_keys_lock);
    /* An unknown user fails the handshake; gnutls reports it as such. */
    return ret;
}

static void free_psk_server(void *cred)
{
    GHashTable *keys = NULL;

    g_mutex_lock(&server_keys_lock);
    if (server_keys) {
        g_hash_table_steal_extended(server_keys, cred, NULL, (gpointer *)&keys);
    }
    g_mutex_unlock(&server_keys_lock);
    if (keys) {
        g_hash_table_unref(keys);
    }
    gnutls_psk_free_server_credentials(cred);
}

static void free_psk_client(void *cred)
{
    gnutls_psk_free_client_credentials(cred);
}

static void free_dh_params(gpointer dh)
{
    gnutls_dh_params_deinit(dh);
}

/* ---- Loading ---------------------------------------------------------- */

static QCryptoTLSCredsHandle *load_server(QCryptoTLSCreds *creds,
                                          const char *what, GHashTable *keys,
                                          GError **errp)
{
    gnutls_psk_server_credentials_t cred;
    gnutls_dh_params_t dh = NULL;
    QCryptoTLSCredsHandle *h;
    int ret;

    if (!qcrypto_tls_creds_load_dh_params(creds, &dh, errp)) {
        return NULL;
    }
    ret = gnutls_psk_allocate_server_credentials(&cred);
    if (ret < 0) {
        if (dh) {
            gnutls_dh_params_deinit(dh);
        }
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_FAILED,
                    "%s: cannot allocate PSK credentials: %s", what,
                    gnutls_strerror(ret));
        return NULL;
    }
    gnutls_psk_set_server_credentials_function2(cred, psk_server_lookup);

    g_mutex_lock(&server_keys_lock);
    if (!server_keys) {
        server_keys = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL,
                                            (GDestroyNotify)g_hash_table_unref);
    }
    g_hash_table_insert(server_keys, cred, g_hash_table_ref(keys));
    g_mutex_unlock(&server_keys_lock);

    h = qcrypto_tls_creds_handle_new(GNUTLS_CRD_PSK, cred, free_psk_server);
    if (dh) {
        /* gnutls keeps only a pointer to DH parameters. */
        gnutls_psk_set_server_dh_params(cred, dh);
        qcrypto_tls_creds_handle_add_data(h, dh, free_dh_params);
    }
    return h;
}

static QCryptoTLSCredsHandle *load_client(QCryptoTLSCredsPSK *psk,
                                          const char *what, const char *path,
                                          GHashTable *keys, GError **errp)
{
    const char *user = qcrypto_tls_creds_psk_get_username(psk);
    gnutls_psk_client_credentials_t cred;
    gnutls_datum_t datum;
    PskKey *k = g_hash_table_lookup(keys, user);
    int ret;

    if (!k) {
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_PSK,
                    "%s: username '%s' has no key in %s; add a "
                    "'%s:HEXKEY' line or set username= to a user listed "
                    "there",
                    what, user, path, user);
        return NULL;
    }
    ret = gnutls_psk_allocate_client_credentials(&cred);
    if (ret < 0) {
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_FAILED,
                    "%s: cannot allocate PSK credentials: %s", what,
                    gnutls_strerror(ret));
        return NULL;
    }
    datum.data = k->key;
    datum.size = (unsigned int)k->len;
    /* gnutls copies the key. */
    ret = gnutls_psk_set_client_credentials(cred, user, &datum,
                                            GNUTLS_PSK_KEY_RAW);
    if (ret < 0) {
        gnutls_psk_free_client_credentials(cred);
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_PSK,
                    "%s: gnutls refuses the key of user '%s' from %s: %s", what,
                    user, path, gnutls_strerror(ret));
        return NULL;
    }
    return qcrypto_tls_creds_handle_new(GNUTLS_CRD_PSK, cred, free_psk_client);
}

static QCryptoTLSCredsHandle *qcrypto_tls_creds_psk_load(QCryptoTLSCreds *creds,
                                                         GError **errp)
{
    g_autofree char *what = qcrypto_tls_creds_describe(creds);
    g_autofree char *path = NULL;
    g_autoptr(GHashTable) keys = NULL;
    char *data = NULL;
    size_t len = 0;
    QCryptoTLSCredsHandle *h;

    if (!qcrypto_tls_creds_require_dir(creds, errp)) {
        return NULL;
    }
    path = qcrypto_tls_creds_path(creds, QCRYPTO_TLS_CREDS_PSKFILE);
    if (!qcrypto_tls_creds_read_file(creds, path, false, &data, &len, errp)) {
        return NULL;
    }
    keys = parse_psk_file(what, path, data, len, errp);
    qcrypto_tls_creds_free_wiped(data, len);
    if (!keys) {
        return NULL;
    }
    if (qcrypto_tls_creds_get_endpoint(creds) ==
        QCRYPTO_TLS_CREDS_ENDPOINT_SERVER) {
        h = load_server(creds, what, keys, errp);
    } else {
        h = load_client(QCRYPTO_TLS_CREDS_PSK(creds), what, path, keys, errp);
    }
    return h;
}

const char *qcrypto_tls_creds_psk_get_username(QCryptoTLSCredsPSK *creds)
{
    return creds->username && *creds->username
               ? creds->username
               : QCRYPTO_TLS_CREDS_PSK_DEFAULT_USERNAME;
}

static void qcrypto_tls_creds_psk_set_property(GObject *obj, guint prop_id,
                                               const GValue *value,
                                               GParamSpec *pspec)
{
    QCryptoTLSCredsPSK *psk = QCRYPTO_TLS_CREDS_PSK(obj);

    switch (prop_id) {
    case PROP_USERNAME:
        g_free(psk->username);
        psk->username = g_value_dup_string(value);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, prop_id, pspec);
    }
}

static void qcrypto_tls_creds_psk_get_property(GObject *obj, guint prop_id,
                                               GValue *value, GParamSpec *pspec)
{
    QCryptoTLSCredsPSK *psk = QCRYPTO_TLS_CREDS_PSK(obj);

    switch (prop_id) {
    case PROP_USERNAME:
        g_value_set_string(value, qcrypto_tls_creds_psk_get_username(psk));
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, prop_id, pspec);
    }
}

static void qcrypto_tls_creds_psk_finalize(GObject *obj)
{
    g_free(QCRYPTO_TLS_CREDS_PSK(obj)->username);
    G_OBJECT_CLASS(qcrypto_tls_creds_psk_parent_class)->finalize(obj);
}

static void qcrypto_tls_creds_psk_init(QCryptoTLSCredsPSK *psk)
{
}

static void qcrypto_tls_creds_psk_class_init(QCryptoTLSCredsPSKClass *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);
    QCryptoTLSCredsClass *cc = QCRYPTO_TLS_CREDS_CLASS(klass);

    oc->set_property = qcrypto_tls_creds_psk_set_property;
    oc->get_property = qcrypto_tls_creds_psk_get_property;
    oc->finalize = qcrypto_tls_creds_psk_finalize;
    cc->load = qcrypto_tls_creds_psk_load;
    /*
     * In TLS 1.2 gnutls offers ECDHE-PSK only with CHACHA20-POLY1305 or
     * CBC, and DHE-PSK with AES-GCM: where AES is in hardware DHE-PSK goes
     * first (see docs/tls.md).  TLS 1.3 is not affected by this order.
     */
    qcrypto_tls_creds_class_set_kx(cc, "+ECDHE-PSK:+DHE-PSK:+PSK",
                                   "+DHE-PSK:+ECDHE-PSK:+PSK");

    props[PROP_USERNAME] = g_param_spec_string(
        "username", "Username", "The client's PSK identity in keys.psk",
        QCRYPTO_TLS_CREDS_PSK_DEFAULT_USERNAME,
        G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
    g_object_class_install_properties(oc, N_PROPS, props);
}
