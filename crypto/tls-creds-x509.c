/*
 * X.509 certificate credentials (tls-creds-x509, see
 * include/crypto/tls-creds-x509.h).  Every file is read once per load and
 * parsed once, so the checks and the gnutls credentials always see the
 * same bytes even while an administrator is rotating files.  With
 * sanity-check on, loading refuses certificates that would make every
 * handshake fail and says which file and certificate is wrong, instead of
 * leaving the user with a handshake error on the first connection.
 */
#include "crypto/tls-creds-x509.h"

#include <string.h>
#include <time.h>

#include <gnutls/x509.h>

#include "crypto/secret.h"
#include "crypto/tls-creds-internal.h"
#include "qom/object.h"

/* extendedKeyUsage "any purpose" (RFC 5280 4.2.1.12). */
#define KP_ANY "2.5.29.37.0"

struct _QCryptoTLSCredsX509 {
    QCryptoTLSCreds parent;

    bool sanity_check;
    char *passwordid;
    gint has_cert; /* atomic: the last load included our certificate */
    char *user_id; /* our id, recorded as a user of the passwordid */
};

G_DEFINE_TYPE(QCryptoTLSCredsX509, qcrypto_tls_creds_x509,
              QCRYPTO_TYPE_TLS_CREDS)

enum { PROP_0, PROP_SANITY_CHECK, PROP_PASSWORDID, N_PROPS };

static GParamSpec *props[N_PROPS];

/* Certificates parsed from one PEM file. */
typedef struct {
    char *path;
    gnutls_x509_crt_t *certs;
    unsigned int n;
} CertFile;

static void cert_file_clear(CertFile *f)
{
    for (unsigned int i = 0; i < f->n; i++) {
        gnutls_x509_crt_deinit(f->certs[i]);
    }
    gnutls_free(f->certs);
    g_free(f->path);
    memset(f, 0, sizeof(*f));
}

typedef struct {
    QCryptoTLSCredsX509 *x509;
    char *what; /* "TLS credentials 'tls0'" */
    bool server;

    CertFile ca;
    CertFile own; /* leaf first, then any intermediates */
    char *key_path;
    gnutls_x509_privkey_t key;
    char *crl_path;
    gnutls_x509_crl_t *crls;
    unsigned int ncrls;
    gnutls_dh_params_t dh;
} Load;

static void load_clear(Load *l)
{
    cert_file_clear(&l->ca);
    cert_file_clear(&l->own);
    if (l->key) {
        gnutls_x509_privkey_deinit(l->key);
    }
    for (unsigned int i = 0; i < l->ncrls; i++) {
        gnutls_x509_crl_deinit(l->crls[i]);
    }
    gnutls_free(l->crls);
    if (l->dh) {
        gnutls_dh_params_deinit(l->dh);
    }
    g_free(l->key_path);
    g_free(l->crl_path);
    g_free(l->what);
}

/*
 * The certificate's subject for messages, in the same form TLS sessions
 * and authz rules use (gnutls's compat form, attributes in encoded order,
 * e.g. "O=Example,CN=server"), so every message names a certificate alike.
 */
static char *cert_name(gnutls_x509_crt_t cert)
{
    gnutls_datum_t dn = { NULL, 0 };
    char *name;

    if (gnutls_x509_crt_get_dn3(cert, &dn, GNUTLS_X509_DN_FLAG_COMPAT) < 0 ||
        dn.size == 0) {
        gnutls_free(dn.data);
        return g_strdup("(no subject)");
    }
    name = g_strndup((const char *)dn.data, dn.size);
    gnutls_free(dn.data);
    return name;
}

static char *format_time(time_t t)
{
    g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc((gint64)t);

    if (!dt) {
        return g_strdup("(unrepresentable date)");
    }
    return g_date_time_format(dt, "%Y-%m-%d %H:%M:%S UTC");
}

static const char *role_name(bool server)
{
    return server ? "server" : "client";
}

/* Parse every certificate in a PEM buffer; @sort orders a chain. */
static bool parse_certs(Load *l, const char *path, const char *data, size_t len,
                        bool sort, CertFile *out, GError **errp)
{
    gnutls_datum_t datum = { (unsigned char *)data, (unsigned int)len };
    int ret;

    out->path = g_strdup(path);
    ret = gnutls_x509_crt_list_import2(&out->certs, &out->n, &datum,
                                       GNUTLS_X509_FMT_PEM,
                                       sort ? GNUTLS_X509_CRT_LIST_SORT : 0);
    if (ret < 0 || out->n == 0) {
        out->certs = NULL;
        out->n = 0;
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_DECODE,
                    "%s: %s holds no PEM certificate that gnutls can read%s%s",
                    l->what, path, ret < 0 ? ": " : "",
                    ret < 0 ? gnutls_strerror(ret) : "");
        return false;
    }
    return true;
}

static bool parse_crls(Load *l, const char *data, size_t len, GError **errp)
{
    gnutls_datum_t datum = { (unsigned char *)data, (unsigned int)len };
    int ret;

    ret = gnutls_x509_crl_list_import2(&l->crls, &l->ncrls, &datum,
                                       GNUTLS_X509_FMT_PEM, 0);
    if (ret < 0 || l->ncrls == 0) {
        l->crls = NULL;
        l->ncrls = 0;
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_DECODE,
                    "%s: %s holds no PEM certificate revocation list that "
                    "gnutls can read%s%s",
                    l->what, l->crl_path, ret < 0 ? ": " : "",
                    ret < 0 ? gnutls_strerror(ret) : "");
        return false;
    }
    return true;
}

/* PKCS#8 encrypted, or the legacy OpenSSL PEM encryption. */
static bool key_is_encrypted(const char *data)
{
    return strstr(data, "-----BEGIN ENCRYPTED PRIVATE KEY-----") != NULL ||
           strstr(data, "Proc-Type: 4,ENCRYPTED") != NULL;
}

static bool parse_key(Load *l, const char *data, size_t len,
                      const char *password, GError **errp)
{
    gnutls_datum_t datum = { (unsigned char *)data, (unsigned int)len };
    bool encrypted = key_is_encrypted(data);
    const char *secretid = l->x509->passwordid;
    int ret;

    if (encrypted && !password) {
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_DECRYPT,
                    "%s: the private key in %s is encrypted; give the id of "
                    "a secret holding its password with passwordid=",
                    l->what, l->key_path);
        return false;
    }
    ret = gnutls_x509_privkey_init(&l->key);
    if (ret < 0) {
        l->key = NULL;
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_FAILED,
                    "%s: cannot allocate a private key: %s", l->what,
                    gnutls_strerror(ret));
        return false;
    }
    ret = gnutls_x509_privkey_import2(l->key, &datum, GNUTLS_X509_FMT_PEM,
                                      encrypted ? password : NULL, 0);
    if (ret < 0) {
        gnutls_x509_privkey_deinit(l->key);
        l->key = NULL;
        if (encrypted) {
            /*
             * A wrong password shows up as a decryption or a decoding
             * error depending on the bytes it produced: both mean the
             * same to the user.
             */
            g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_DECRYPT,
                        "%s: cannot decrypt the private key in %s with the "
                        "password in secret '%s' (%s); check the secret",
                        l->what, l->key_path, secretid, gnutls_strerror(ret));
        } else {
            g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_DECODE,
                        "%s: %s holds no PEM private key that gnutls can "
                        "read: %s",
                        l->what, l->key_path, gnutls_strerror(ret));
        }
        return false;
    }
    return true;
}

/* ---- Sanity checks ------------------------------------------------------- */

static bool check_times(Load *l, gnutls_x509_crt_t cert, const char *path,
                        time_t now, GError **errp)
{
    time_t expires = gnutls_x509_crt_get_expiration_time(cert);
    time_t starts = gnutls_x509_crt_get_activation_time(cert);

    if (expires != (time_t)-1 && expires < now) {
        g_autofree char *name = cert_name(cert);
        g_autofree char *when = format_time(expires);
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_CERT_EXPIRED,
                    "%s: certificate '%s' in %s expired on %s; install a "
                    "renewed certificate",
                    l->what, name, path, when);
        return false;
    }
    if (starts != (time_t)-1 && starts > now) {
        g_autofree char *name = cert_name(cert);
        g_autofree char *when = format_time(starts);
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_CERT_NOT_ACTIVE,
                    "%s: certificate '%s' in %s is not valid before %s; "
                    "check this host's clock",
                    l->what, name, path, when);
        return false;
    }
    return true;
}

static bool check_ca(Load *l, gnutls_x509_crt_t cert, const char *path,
                     GError **errp)
{
    unsigned int critical = 0, ca = 0, usage = 0;
    int pathlen = -1;
    int ret;

    ret = gnutls_x509_crt_get_basic_constraints(cert, &critical, &ca, &pathlen);
    if (ret < 0 || !ca) {
        g_autofree char *name = cert_name(cert);
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_CERT_USAGE,
                    "%s: certificate '%s' in %s is not a CA: its "
                    "basicConstraints %s; only CA certificates can issue "
                    "others",
                    l->what, name, path,
                    ret < 0 ? "extension is missing" : "say CA:FALSE");
        return false;
    }
    /* A CA's key usage binds whatever its criticality: gnutls enforces it. */
    ret = gnutls_x509_crt_get_key_usage(cert, &usage, &critical);
    if (ret >= 0 && !(usage & GNUTLS_KEY_KEY_CERT_SIGN)) {
        g_autofree char *name = cert_name(cert);
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_CERT_USAGE,
                    "%s: CA certificate '%s' in %s may not sign "
                    "certificates: its keyUsage lacks keyCertSign",
                    l->what, name, path);
        return false;
    }
    return true;
}

/*
 * Our own certificate must be usable by our role.  Only what the
 * certificate marks critical is enforced: a non-critical extension is
 * advice.  digitalSignature is what ECDHE and TLS 1.3 need;
 * keyEncipherment only serves TLS 1.2 RSA key exchange, so its absence is
 * fine (ECDSA certificates never carry it).
 */
static bool check_purpose(Load *l, gnutls_x509_crt_t cert, const char *path,
                          GError **errp)
{
    const char *want =
        l->server ? GNUTLS_KP_TLS_WWW_SERVER : GNUTLS_KP_TLS_WWW_CLIENT;
    unsigned int usage = 0, critical = 0;
    bool any_eku = false, allowed = false, eku_critical = false;
    int ret;

    ret = gnutls_x509_crt_get_key_usage(cert, &usage, &critical);
    if (ret >= 0 && critical && !(usage & GNUTLS_KEY_DIGITAL_SIGNATURE)) {
        g_autofree char *name = cert_name(cert);
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_CERT_USAGE,
                    "%s: certificate '%s' in %s cannot be used by a TLS %s: "
                    "its critical keyUsage lacks digitalSignature",
                    l->what, name, path, role_name(l->server));
        return false;
    }

    for (unsigned int i = 0;; i++) {
        char oid[256];
        size_t size = sizeof(oid);
        unsigned int crit = 0;

        ret = gnutls_x509_crt_get_key_purpose_oid(cert, i, oid, &size, &crit);
        if (ret == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE) {
            break;
        }
        if (ret < 0) {
            g_autofree char *name = cert_name(cert);
            g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_DECODE,
                        "%s: cannot read the extendedKeyUsage of certificate "
                        "'%s' in %s: %s",
                        l->what, name, path, gnutls_strerror(ret));
            return false;
        }
        any_eku = true;
        eku_critical = crit != 0;
        if (g_str_equal(oid, want) || g_str_equal(oid, KP_ANY)) {
            allowed = true;
        }
    }
    if (any_eku && !allowed && eku_critical) {
        g_autofree char *name = cert_name(cert);
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_CERT_USAGE,
                    "%s: certificate '%s' in %s cannot be used by a TLS %s: "
                    "its critical extendedKeyUsage does not include TLS "
                    "%s authentication (%s)",
                    l->what, name, path, role_name(l->server),
                    role_name(l->server), want);
        return false;
    }
    return true;
}

static bool check_crls(Load *l, time_t now, GError **errp)
{
    for (unsigned int i = 0; i < l->ncrls; i++) {
        time_t next = gnutls_x509_crl_get_next_update(l->crls[i]);
        unsigned int status = 0;
        int ret;

        if (l->ca.n) {
            ret = gnutls_x509_crl_verify(l->crls[i], l->ca.certs, l->ca.n, 0,
                                         &status);
            if (ret < 0 || status != 0) {
                g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_CERT_UNTRUSTED,
                            "%s: revocation list %u in %s is not signed by "
                            "a CA in %s",
                            l->what, i + 1, l->crl_path, l->ca.path);
                return false;
            }
        }
        /* gnutls treats a superseded list as a verification failure. */
        if (next != (time_t)-1 && next < now) {
            g_autofree char *when = format_time(next);
            g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_CERT_EXPIRED,
                        "%s: revocation list %u in %s is out of date (its "
                        "next update was due %s); publish a new one",
                        l->what, i + 1, l->crl_path, when);
            return false;
        }
    }
    for (unsigned int i = 0; i < l->own.n; i++) {
        if (gnutls_x509_crt_check_revocation(l->own.certs[i], l->crls,
                                             l->ncrls) == 1) {
            g_autofree char *name = cert_name(l->own.certs[i]);
            g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_CERT_REVOKED,
                        "%s: certificate '%s' in %s is revoked by %s", l->what,
                        name, l->own.path, l->crl_path);
            return false;
        }
    }
    return true;
}

static bool check_chain(Load *l, GError **errp)
{
    gnutls_x509_trust_list_t tl;
    unsigned int status = 0;
    g_autofree char *name = NULL;
    gnutls_datum_t text = { NULL, 0 };
    int ret;

    ret = gnutls_x509_trust_list_init(&tl, 0);
    if (ret < 0) {
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_FAILED,
                    "%s: cannot allocate a trust list: %s", l->what,
                    gnutls_strerror(ret));
        return false;
    }
    /* The list borrows the certificates: deinit below with all=0. */
    ret = gnutls_x509_trust_list_add_cas(tl, l->ca.certs, l->ca.n, 0);
    if (ret >= 0) {
        ret = gnutls_x509_trust_list_verify_crt2(tl, l->own.certs, l->own.n,
                                                 NULL, 0, 0, &status, NULL);
    }
    gnutls_x509_trust_list_deinit(tl, 0);
    if (ret < 0) {
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_FAILED,
                    "%s: cannot verify %s against %s: %s", l->what, l->own.path,
                    l->ca.path, gnutls_strerror(ret));
        return false;
    }
    if (status == 0) {
        return true;
    }

    name = cert_name(l->own.certs[0]);
    if (status & GNUTLS_CERT_SIGNER_NOT_FOUND) {
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_CERT_UNTRUSTED,
                    "%s: certificate '%s' in %s is not issued by any CA in "
                    "%s; add its issuer (and any intermediate CA) to %s or "
                    "after the certificate in %s",
                    l->what, name, l->own.path, l->ca.path, l->ca.path,
                    l->own.path);
    } else if (status & GNUTLS_CERT_SIGNER_NOT_CA) {
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_CERT_USAGE,
                    "%s: certificate '%s' in %s is issued by a certificate "
                    "that is not allowed to act as a CA",
                    l->what, name, l->own.path);
    } else if (status & GNUTLS_CERT_REVOKED) {
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_CERT_REVOKED,
                    "%s: certificate '%s' in %s is revoked", l->what, name,
                    l->own.path);
    } else if (status & GNUTLS_CERT_EXPIRED) {
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_CERT_EXPIRED,
                    "%s: the chain of certificate '%s' in %s holds an "
                    "expired certificate",
                    l->what, name, l->own.path);
    } else if (status & GNUTLS_CERT_NOT_ACTIVATED) {
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_CERT_NOT_ACTIVE,
                    "%s: the chain of certificate '%s' in %s holds a "
                    "certificate that is not yet valid",
                    l->what, name, l->own.path);
    } else {
        gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509,
                                                     &text, 0);
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_CERT_UNTRUSTED,
                    "%s: certificate '%s' in %s does not verify against %s: "
                    "%s",
                    l->what, name, l->own.path, l->ca.path,
                    text.data ? (const char *)text.data : "unknown reason");
        gnutls_free(text.data);
    }
    return false;
}

static bool check_key_match(Load *l, GError **errp)
{
    unsigned char a[64], b[64];
    size_t alen = sizeof(a), blen = sizeof(b);
    int ra, rb;

    ra = gnutls_x509_crt_get_key_id(l->own.certs[0], GNUTLS_KEYID_USE_SHA256, a,
                                    &alen);
    rb = gnutls_x509_privkey_get_key_id(l->key, GNUTLS_KEYID_USE_SHA256, b,
                                        &blen);
    if (ra < 0 || rb < 0 || alen != blen || memcmp(a, b, alen) != 0) {
        g_autofree char *name = cert_name(l->own.certs[0]);
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_KEY_MISMATCH,
                    "%s: the private key in %s does not belong to "
                    "certificate '%s' in %s; install the key the "
                    "certificate was issued for",
                    l->what, l->key_path, name, l->own.path);
        return false;
    }
    return true;
}

static bool sanity_check(Load *l, GError **errp)
{
    time_t now = time(NULL);

    for (unsigned int i = 0; i < l->ca.n; i++) {
        if (!check_times(l, l->ca.certs[i], l->ca.path, now, errp) ||
            !check_ca(l, l->ca.certs[i], l->ca.path, errp)) {
            return false;
        }
    }
    for (unsigned int i = 0; i < l->own.n; i++) {
        if (!check_times(l, l->own.certs[i], l->own.path, now, errp)) {
            return false;
        }
        /* What follows the leaf in its file is its chain of CAs. */
        if (i > 0 && !check_ca(l, l->own.certs[i], l->own.path, errp)) {
            return false;
        }
    }
    if (l->own.n && !check_purpose(l, l->own.certs[0], l->own.path, errp)) {
        return false;
    }
    if (l->ncrls && !check_crls(l, now, errp)) {
        return false;
    }
    if (l->own.n && l->ca.n && !check_chain(l, errp)) {
        return false;
    }
    return true;
}

/* ---- Loading ---------------------------------------------------------- */

static void free_cert_creds(void *creds)
{
    gnutls_certificate_free_credentials(creds);
}

static void free_dh_params(gpointer dh)
{
    gnutls_dh_params_deinit(dh);
}

/* Read and parse every file the endpoint uses into @l. */
static bool read_and_parse(Load *l, QCryptoTLSCreds *creds, GError **errp)
{
    bool client = !l->server;
    bool verify = qcrypto_tls_creds_get_verify_peer(creds);
    g_autofree char *ca_path =
        qcrypto_tls_creds_path(creds, QCRYPTO_TLS_CREDS_X509_CA_CERT);
    g_autofree char *cert_path = qcrypto_tls_creds_path(
        creds, l->server ? QCRYPTO_TLS_CREDS_X509_SERVER_CERT
                         : QCRYPTO_TLS_CREDS_X509_CLIENT_CERT);
    g_autofree char *ca_data = NULL;
    g_autofree char *crl_data = NULL;
    g_autofree char *cert_data = NULL;
    char *key_data = NULL;
    char *password = NULL;
    size_t ca_len, crl_len, cert_len, key_len = 0;
    bool ok = false;

    l->key_path = qcrypto_tls_creds_path(
        creds, l->server ? QCRYPTO_TLS_CREDS_X509_SERVER_KEY
                         : QCRYPTO_TLS_CREDS_X509_CLIENT_KEY);
    l->crl_path = qcrypto_tls_creds_path(creds, QCRYPTO_TLS_CREDS_X509_CA_CRL);

    /* A client that checks nothing needs no CA. */
    if (!qcrypto_tls_creds_read_file(creds, ca_path, client && !verify,
                                     &ca_data, &ca_len, errp) ||
        !qcrypto_tls_creds_read_file(creds, l->crl_path, true, &crl_data,
                                     &crl_len, errp) ||
        !qcrypto_tls_creds_read_file(creds, cert_path, client, &cert_data,
                                     &cert_len, errp) ||
        !qcrypto_tls_creds_read_file(creds, l->key_path, client, &key_data,
                                     &key_len, errp)) {
        goto out;
    }
    if (client && (cert_data != NULL) != (key_data != NULL)) {
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_FILE,
                    "%s: cannot read %s: No such file or directory; a "
                    "client certificate needs both %s and %s",
                    l->what, cert_data ? l->key_path : cert_path,
                    QCRYPTO_TLS_CREDS_X509_CLIENT_CERT,
                    QCRYPTO_TLS_CREDS_X509_CLIENT_KEY);
        goto out;
    }
    if (l->server && !qcrypto_tls_creds_load_dh_params(creds, &l->dh, errp)) {
        goto out;
    }

    if (ca_data &&
        !parse_certs(l, ca_path, ca_data, ca_len, false, &l->ca, errp)) {
        goto out;
    }
    if (crl_data && !parse_crls(l, crl_data, crl_len, errp)) {
        goto out;
    }
    if (cert_data &&
        !parse_certs(l, cert_path, cert_data, cert_len, true, &l->own, errp)) {
        goto out;
    }
    if (key_data) {
        if (l->x509->passwordid) {
            password = qcrypto_secret_lookup_as_utf8(l->x509->passwordid, errp);
            if (!password) {
                g_prefix_error(errp,
                               "%s: cannot get the password for %s: ", l->what,
                               l->key_path);
                goto out;
            }
        }
        if (!parse_key(l, key_data, key_len, password, errp) ||
            !check_key_match(l, errp)) {
            goto out;
        }
    }
    ok = true;

out:
    qcrypto_tls_creds_free_wiped(key_data, key_len);
    if (password) {
        qcrypto_secret_free_text(password);
    }
    return ok;
}

static QCryptoTLSCredsHandle *build_handle(Load *l, GError **errp)
{
    gnutls_certificate_credentials_t gc;
    QCryptoTLSCredsHandle *h;
    int ret;

    ret = gnutls_certificate_allocate_credentials(&gc);
    if (ret < 0) {
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_FAILED,
                    "%s: cannot allocate certificate credentials: %s", l->what,
                    gnutls_strerror(ret));
        return NULL;
    }
    /* These gnutls calls copy what they are given. */
    if (l->ca.n) {
        ret = gnutls_certificate_set_x509_trust(gc, l->ca.certs, l->ca.n);
        if (ret < 0) {
            g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_DECODE,
                        "%s: cannot use the CA certificates in %s: %s", l->what,
                        l->ca.path, gnutls_strerror(ret));
            goto fail;
        }
    }
    if (l->ncrls) {
        ret = gnutls_certificate_set_x509_crl(gc, l->crls, l->ncrls);
        if (ret < 0) {
            g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_DECODE,
                        "%s: cannot use the revocation lists in %s: %s",
                        l->what, l->crl_path, gnutls_strerror(ret));
            goto fail;
        }
    }
    if (l->own.n) {
        ret =
            gnutls_certificate_set_x509_key(gc, l->own.certs, l->own.n, l->key);
        if (ret < 0) {
            g_set_error(errp, QCRYPTO_ERROR,
                        ret == GNUTLS_E_CERTIFICATE_KEY_MISMATCH
                            ? QCRYPTO_ERROR_KEY_MISMATCH
                            : QCRYPTO_ERROR_DECODE,
                        "%s: cannot use the certificate in %s with the key "
                        "in %s: %s",
                        l->what, l->own.path, l->key_path,
                        gnutls_strerror(ret));
            goto fail;
        }
    }
    h = qcrypto_tls_creds_handle_new(GNUTLS_CRD_CERTIFICATE, gc,
                                     free_cert_creds);
    if (l->dh) {
        /* gnutls keeps only a pointer to DH parameters. */
        gnutls_certificate_set_dh_params(gc, l->dh);
        qcrypto_tls_creds_handle_add_data(h, l->dh, free_dh_params);
        l->dh = NULL;
    }
    return h;

fail:
    gnutls_certificate_free_credentials(gc);
    return NULL;
}

static QCryptoTLSCredsHandle *
qcrypto_tls_creds_x509_load(QCryptoTLSCreds *creds, GError **errp)
{
    QCryptoTLSCredsX509 *x509 = QCRYPTO_TLS_CREDS_X509(creds);
    Load l = { 0 };
    QCryptoTLSCredsHandle *h = NULL;
    const char *id;

    l.x509 = x509;
    l.what = qcrypto_tls_creds_describe(creds);
    l.server = qcrypto_tls_creds_get_endpoint(creds) ==
               QCRYPTO_TLS_CREDS_ENDPOINT_SERVER;

    if (!qcrypto_tls_creds_require_dir(creds, errp) ||
        !read_and_parse(&l, creds, errp) ||
        (x509->sanity_check && !sanity_check(&l, errp))) {
        goto out;
    }
    h = build_handle(&l, errp);
    if (!h) {
        goto out;
    }
    g_atomic_int_set(&x509->has_cert, l.own.n > 0);

    /*
     * Record once that we use the password secret, so that it cannot be
     * deleted while a reload may still need it.
     */
    id = qom_object_get_id(G_OBJECT(creds));
    if (x509->passwordid && id && !x509->user_id &&
        qom_object_add_user(x509->passwordid, id, NULL)) {
        x509->user_id = g_strdup(id);
    }

out:
    load_clear(&l);
    return h;
}

bool qcrypto_tls_creds_x509_get_sanity_check(QCryptoTLSCredsX509 *creds)
{
    return creds->sanity_check;
}

const char *qcrypto_tls_creds_x509_get_passwordid(QCryptoTLSCredsX509 *creds)
{
    return creds->passwordid;
}

bool qcrypto_tls_creds_x509_has_cert(QCryptoTLSCredsX509 *creds)
{
    return g_atomic_int_get(&creds->has_cert) != 0;
}

static void qcrypto_tls_creds_x509_set_property(GObject *obj, guint prop_id,
                                                const GValue *value,
                                                GParamSpec *pspec)
{
    QCryptoTLSCredsX509 *x509 = QCRYPTO_TLS_CREDS_X509(obj);

    switch (prop_id) {
    case PROP_SANITY_CHECK:
        x509->sanity_check = g_value_get_boolean(value);
        break;
    case PROP_PASSWORDID:
        g_free(x509->passwordid);
        x509->passwordid = g_value_dup_string(value);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, prop_id, pspec);
    }
}

static void qcrypto_tls_creds_x509_get_property(GObject *obj, guint prop_id,
                                                GValue *value,
                                                GParamSpec *pspec)
{
    QCryptoTLSCredsX509 *x509 = QCRYPTO_TLS_CREDS_X509(obj);

    switch (prop_id) {
    case PROP_SANITY_CHECK:
        g_value_set_boolean(value, x509->sanity_check);
        break;
    case PROP_PASSWORDID:
        g_value_set_string(value, x509->passwordid);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, prop_id, pspec);
    }
}

static void qcrypto_tls_creds_x509_finalize(GObject *obj)
{
    QCryptoTLSCredsX509 *x509 = QCRYPTO_TLS_CREDS_X509(obj);

    /*
     * Deleting us from the object table already dropped the edge; if a
     * new object took our id meanwhile, the edge is its own, not ours.
     */
    if (x509->user_id) {
        GObject *holder = qom_object_find(x509->user_id);
        if (!holder || holder == obj) {
            qom_object_remove_user(x509->passwordid, x509->user_id);
        }
    }
    g_free(x509->user_id);
    g_free(x509->passwordid);
    G_OBJECT_CLASS(qcrypto_tls_creds_x509_parent_class)->finalize(obj);
}

static void qcrypto_tls_creds_x509_init(QCryptoTLSCredsX509 *x509)
{
    x509->sanity_check = true;
}

static void qcrypto_tls_creds_x509_class_init(QCryptoTLSCredsX509Class *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);
    QCryptoTLSCredsClass *cc = QCRYPTO_TLS_CREDS_CLASS(klass);
    const GParamFlags flags =
        G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;

    oc->set_property = qcrypto_tls_creds_x509_set_property;
    oc->get_property = qcrypto_tls_creds_x509_get_property;
    oc->finalize = qcrypto_tls_creds_x509_finalize;
    cc->load = qcrypto_tls_creds_x509_load;

    props[PROP_SANITY_CHECK] = g_param_spec_boolean(
        "sanity-check", "Sanity check",
        "Refuse unusable certificates when loading", TRUE, flags);
    props[PROP_PASSWORDID] = g_param_spec_string(
        "passwordid", "Password id",
        "Id of the secret holding the private key's password", NULL, flags);
    g_object_class_install_properties(oc, N_PROPS, props);
}
