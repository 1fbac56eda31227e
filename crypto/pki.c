/*
 * PKI minting with the gnutls API: keys, X.509 certificates, CRLs and PSK
 * key files, made in process from a QCryptoPKICertReq.
 *
 * Every extension is built as DER by gnutls's exporters and added with an
 * explicit criticality, because the dedicated setters always mark theirs
 * critical and tests need certificates where they are not.  Files holding
 * secrets are created 0600 before a byte is written: PEM files are written
 * to a temporary file in the target directory (mkstemp creates it 0600)
 * and renamed into place, so a reader sees the old file or the new one,
 * never a half-written or briefly world-readable one.  The directory
 * helpers at the end serve qio-pki, which writes QEMU's credentials layout.
 */
#include "crypto/pki.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>
#include <gnutls/x509-ext.h>

#include "crypto/error.h"
#include "util/error.h"

#define PKI_OID_BASIC_CONSTRAINTS "2.5.29.19"
#define PKI_OID_KEY_USAGE         "2.5.29.15"
#define PKI_OID_EXT_KEY_USAGE     "2.5.29.37"

#define PKI_DEFAULT_RSA_BITS      3072
#define PKI_DEFAULT_START_OFFSET  (-60 * 60)
#define PKI_DEFAULT_EXPIRE_OFFSET ((int64_t)10 * 365 * 24 * 60 * 60)
#define PKI_SERIAL_LEN            20
#define PKI_KEY_ID_MAX            64
#define PKI_PSK_KEY_LEN           32

struct QCryptoPKICert {
    gnutls_x509_privkey_t key;
    gnutls_x509_crt_t crt;
};

/* Free a gnutls-allocated datum, wiping it first when it held a secret. */
static void pki_datum_free(gnutls_datum_t *d, bool secret)
{
    if (d->data) {
        if (secret) {
            gnutls_memset(d->data, 0, d->size);
        }
        gnutls_free(d->data);
        d->data = NULL;
        d->size = 0;
    }
}

static void pki_set_gnutls_error(GError **errp, int ret, const char *what)
{
    g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_FAILED, "%s: %s", what,
                gnutls_strerror(ret));
}

void qcrypto_pki_cert_free(QCryptoPKICert *cert)
{
    if (!cert) {
        return;
    }
    if (cert->crt) {
        gnutls_x509_crt_deinit(cert->crt);
    }
    if (cert->key) {
        gnutls_x509_privkey_deinit(cert->key);
    }
    g_free(cert);
}

static QCryptoPKICert *pki_cert_alloc(GError **errp)
{
    g_autoptr(QCryptoPKICert) cert = g_new0(QCryptoPKICert, 1);
    int ret;

    ret = gnutls_x509_privkey_init(&cert->key);
    if (ret < 0) {
        cert->key = NULL;
        pki_set_gnutls_error(errp, ret, "cannot initialise a private key");
        return NULL;
    }
    ret = gnutls_x509_crt_init(&cert->crt);
    if (ret < 0) {
        cert->crt = NULL;
        pki_set_gnutls_error(errp, ret, "cannot initialise a certificate");
        return NULL;
    }
    return g_steal_pointer(&cert);
}

/*
 * Parse IPv4 or IPv6 text into the 4 or 16 network-order bytes an
 * iPAddress SAN holds.  Returns the length, 0 when @text is not an address.
 */
static size_t pki_parse_ip(const char *text, guint8 out[16])
{
    if (inet_pton(AF_INET, text, out) == 1) {
        return 4;
    }
    if (inet_pton(AF_INET6, text, out) == 1) {
        return 16;
    }
    return 0;
}

static bool pki_req_check(const QCryptoPKICertReq *req, GError **errp)
{
    size_t i;
    guint8 addr[16];

    if (!req->common_name || !*req->common_name) {
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_INVALID_ARGUMENT,
                    "certificate request: common_name is required");
        return false;
    }
    for (i = 0; req->dns_names && req->dns_names[i]; i++) {
        if (!*req->dns_names[i]) {
            g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_INVALID_ARGUMENT,
                        "certificate request '%s': dns_names[%zu] is "
                        "empty",
                        req->common_name, i);
            return false;
        }
    }
    for (i = 0; req->ip_addrs && req->ip_addrs[i]; i++) {
        if (!pki_parse_ip(req->ip_addrs[i], addr)) {
            g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_INVALID_ARGUMENT,
                        "certificate request '%s': ip_addrs[%zu] '%s' "
                        "is not an IPv4 or IPv6 address",
                        req->common_name, i, req->ip_addrs[i]);
            return false;
        }
    }
    if (req->basic_constraints > QCRYPTO_PKI_EXT_CRITICAL ||
        req->key_usage > QCRYPTO_PKI_EXT_CRITICAL ||
        req->key_purpose > QCRYPTO_PKI_EXT_CRITICAL) {
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_INVALID_ARGUMENT,
                    "certificate request '%s': an extension state is "
                    "out of range",
                    req->common_name);
        return false;
    }
    if (req->key_purpose != QCRYPTO_PKI_EXT_ABSENT &&
        (!req->key_purpose_oids || !req->key_purpose_oids[0])) {
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_INVALID_ARGUMENT,
                    "certificate request '%s': key_purpose is set but "
                    "key_purpose_oids is empty",
                    req->common_name);
        return false;
    }
    if (req->key_type != QCRYPTO_PKI_KEY_ECDSA_P256 &&
        req->key_type != QCRYPTO_PKI_KEY_RSA) {
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_INVALID_ARGUMENT,
                    "certificate request '%s': key_type %d is unknown",
                    req->common_name, (int)req->key_type);
        return false;
    }
    if (req->key_type == QCRYPTO_PKI_KEY_RSA && req->key_bits &&
        (req->key_bits < 2048 || req->key_bits > 16384)) {
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_INVALID_ARGUMENT,
                    "certificate request '%s': key_bits %u is outside "
                    "2048..16384",
                    req->common_name, req->key_bits);
        return false;
    }
    return true;
}

static bool pki_generate_key(QCryptoPKICert *cert, const QCryptoPKICertReq *req,
                             GError **errp)
{
    int ret;

    if (req->key_type == QCRYPTO_PKI_KEY_RSA) {
        ret = gnutls_x509_privkey_generate(
            cert->key, GNUTLS_PK_RSA,
            req->key_bits ? req->key_bits : PKI_DEFAULT_RSA_BITS, 0);
    } else {
        ret = gnutls_x509_privkey_generate(
            cert->key, GNUTLS_PK_ECDSA,
            GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0);
    }
    if (ret < 0) {
        g_autofree char *what = g_strdup_printf(
            "certificate '%s': cannot generate the key", req->common_name);
        pki_set_gnutls_error(errp, ret, what);
        return false;
    }
    return true;
}

/*
 * A DER INTEGER must be positive and minimal: for a random serial the top
 * bit is cleared and the next one set, so the first byte is never 0x00 and
 * never needs a sign byte; a given serial is written big-endian without
 * leading zeros, with a 0x00 in front when its top bit is set.
 */
static size_t pki_make_serial(uint64_t serial, guint8 out[PKI_SERIAL_LEN + 1],
                              GError **errp)
{
    size_t len = 0;
    int shift;
    int ret;

    if (serial == 0) {
        ret = gnutls_rnd(GNUTLS_RND_NONCE, out, PKI_SERIAL_LEN);
        if (ret < 0) {
            pki_set_gnutls_error(errp, ret, "cannot make a random serial");
            return 0;
        }
        out[0] = (out[0] & 0x7f) | 0x40;
        return PKI_SERIAL_LEN;
    }
    for (shift = 56; shift >= 0; shift -= 8) {
        guint8 b = (serial >> shift) & 0xff;

        if (len == 0 && b == 0) {
            continue;
        }
        if (len == 0 && (b & 0x80)) {
            out[len++] = 0;
        }
        out[len++] = b;
    }
    return len;
}

static bool pki_add_ext(QCryptoPKICert *cert, const QCryptoPKICertReq *req,
                        const char *oid, const char *name, gnutls_datum_t *der,
                        QCryptoPKIExt state, GError **errp)
{
    int ret = gnutls_x509_crt_set_extension_by_oid(
        cert->crt, oid, der->data, der->size,
        state == QCRYPTO_PKI_EXT_CRITICAL);

    pki_datum_free(der, false);
    if (ret < 0) {
        g_autofree char *what = g_strdup_printf(
            "certificate '%s': cannot set %s", req->common_name, name);
        pki_set_gnutls_error(errp, ret, what);
        return false;
    }
    return true;
}

static bool pki_set_extensions(QCryptoPKICert *cert,
                               const QCryptoPKICertReq *req, GError **errp)
{
    gnutls_datum_t der = { NULL, 0 };
    int ret;
    size_t i;

    if (req->basic_constraints != QCRYPTO_PKI_EXT_ABSENT) {
        ret = gnutls_x509_ext_export_basic_constraints(
            req->is_ca, req->is_ca ? req->path_len : -1, &der);
        if (ret < 0) {
            pki_set_gnutls_error(errp, ret, "cannot encode basicConstraints");
            return false;
        }
        if (!pki_add_ext(cert, req, PKI_OID_BASIC_CONSTRAINTS,
                         "basicConstraints", &der, req->basic_constraints,
                         errp)) {
            return false;
        }
    }
    if (req->key_usage != QCRYPTO_PKI_EXT_ABSENT) {
        ret = gnutls_x509_ext_export_key_usage(req->key_usage_bits, &der);
        if (ret < 0) {
            pki_set_gnutls_error(errp, ret, "cannot encode keyUsage");
            return false;
        }
        if (!pki_add_ext(cert, req, PKI_OID_KEY_USAGE, "keyUsage", &der,
                         req->key_usage, errp)) {
            return false;
        }
    }
    if (req->key_purpose != QCRYPTO_PKI_EXT_ABSENT) {
        gnutls_x509_key_purposes_t kp;

        ret = gnutls_x509_key_purpose_init(&kp);
        if (ret < 0) {
            pki_set_gnutls_error(errp, ret, "cannot encode extKeyUsage");
            return false;
        }
        for (i = 0; req->key_purpose_oids[i]; i++) {
            ret = gnutls_x509_key_purpose_set(kp, req->key_purpose_oids[i]);
            if (ret < 0) {
                break;
            }
        }
        if (ret >= 0) {
            ret = gnutls_x509_ext_export_key_purposes(kp, &der);
        }
        gnutls_x509_key_purpose_deinit(kp);
        if (ret < 0) {
            g_autofree char *what = g_strdup_printf(
                "certificate request '%s': cannot encode key_purpose_oids",
                req->common_name);
            g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_INVALID_ARGUMENT,
                        "%s: %s", what, gnutls_strerror(ret));
            return false;
        }
        if (!pki_add_ext(cert, req, PKI_OID_EXT_KEY_USAGE, "extKeyUsage", &der,
                         req->key_purpose, errp)) {
            return false;
        }
    }
    return true;
}

static bool pki_set_names(QCryptoPKICert *cert, const QCryptoPKICertReq *req,
                          GError **errp)
{
    int ret;
    size_t i;

    /* O before CN, the usual order: the DN string reads "CN=..,O=..". */
    if (req->organization && *req->organization) {
        ret = gnutls_x509_crt_set_dn_by_oid(
            cert->crt, GNUTLS_OID_X520_ORGANIZATION_NAME, 0, req->organization,
            strlen(req->organization));
        if (ret < 0) {
            pki_set_gnutls_error(errp, ret, "cannot set organization");
            return false;
        }
    }
    ret = gnutls_x509_crt_set_dn_by_oid(cert->crt, GNUTLS_OID_X520_COMMON_NAME,
                                        0, req->common_name,
                                        strlen(req->common_name));
    if (ret < 0) {
        pki_set_gnutls_error(errp, ret, "cannot set common_name");
        return false;
    }
    for (i = 0; req->dns_names && req->dns_names[i]; i++) {
        ret = gnutls_x509_crt_set_subject_alt_name(
            cert->crt, GNUTLS_SAN_DNSNAME, req->dns_names[i],
            strlen(req->dns_names[i]), GNUTLS_FSAN_APPEND);
        if (ret < 0) {
            pki_set_gnutls_error(errp, ret, "cannot add a dns_names entry");
            return false;
        }
    }
    for (i = 0; req->ip_addrs && req->ip_addrs[i]; i++) {
        guint8 addr[16];
        size_t len = pki_parse_ip(req->ip_addrs[i], addr);

        ret = gnutls_x509_crt_set_subject_alt_name(
            cert->crt, GNUTLS_SAN_IPADDRESS, addr, len, GNUTLS_FSAN_APPEND);
        if (ret < 0) {
            pki_set_gnutls_error(errp, ret, "cannot add an ip_addrs entry");
            return false;
        }
    }
    return true;
}

static bool pki_set_key_ids(QCryptoPKICert *cert, QCryptoPKICert *issuer,
                            GError **errp)
{
    guint8 id[PKI_KEY_ID_MAX];
    size_t idlen = sizeof(id);
    unsigned int critical;
    int ret;

    ret = gnutls_x509_crt_get_key_id(cert->crt, GNUTLS_KEYID_USE_SHA1, id,
                                     &idlen);
    if (ret >= 0) {
        ret = gnutls_x509_crt_set_subject_key_id(cert->crt, id, idlen);
    }
    if (ret < 0) {
        pki_set_gnutls_error(errp, ret, "cannot set the subject key id");
        return false;
    }
    if (issuer) {
        /* Prefer what the issuer says about itself, so chains match. */
        idlen = sizeof(id);
        ret = gnutls_x509_crt_get_subject_key_id(issuer->crt, id, &idlen,
                                                 &critical);
        if (ret < 0) {
            idlen = sizeof(id);
            ret = gnutls_x509_crt_get_key_id(issuer->crt, GNUTLS_KEYID_USE_SHA1,
                                             id, &idlen);
        }
    }
    if (ret >= 0) {
        ret = gnutls_x509_crt_set_authority_key_id(cert->crt, id, idlen);
    }
    if (ret < 0) {
        pki_set_gnutls_error(errp, ret, "cannot set the authority key id");
        return false;
    }
    return true;
}

QCryptoPKICert *qcrypto_pki_cert_new(const QCryptoPKICertReq *req,
                                     QCryptoPKICert *issuer, GError **errp)
{
    g_autoptr(QCryptoPKICert) cert = NULL;
    guint8 serial[PKI_SERIAL_LEN + 1];
    size_t serial_len;
    int64_t start = req->start_offset;
    int64_t expire = req->expire_offset;
    time_t now = time(NULL);
    int ret;

    if (!pki_req_check(req, errp)) {
        return NULL;
    }
    if (issuer && (!issuer->crt || !issuer->key)) {
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_INVALID_ARGUMENT,
                    "certificate '%s': the issuer has no private key",
                    req->common_name);
        return NULL;
    }
    cert = pki_cert_alloc(errp);
    if (!cert) {
        return NULL;
    }
    if (!pki_generate_key(cert, req, errp)) {
        return NULL;
    }

    if (start == 0 && expire == 0) {
        start = PKI_DEFAULT_START_OFFSET;
        expire = PKI_DEFAULT_EXPIRE_OFFSET;
    }
    serial_len = pki_make_serial(req->serial, serial, errp);
    if (!serial_len) {
        return NULL;
    }

    ret = gnutls_x509_crt_set_version(cert->crt, 3);
    if (ret >= 0) {
        ret = gnutls_x509_crt_set_key(cert->crt, cert->key);
    }
    if (ret >= 0) {
        ret = gnutls_x509_crt_set_serial(cert->crt, serial, serial_len);
    }
    if (ret >= 0) {
        ret = gnutls_x509_crt_set_activation_time(cert->crt, now + start);
    }
    if (ret >= 0) {
        ret = gnutls_x509_crt_set_expiration_time(cert->crt, now + expire);
    }
    if (ret < 0) {
        g_autofree char *what = g_strdup_printf(
            "certificate '%s': cannot set key, serial or validity",
            req->common_name);
        pki_set_gnutls_error(errp, ret, what);
        return NULL;
    }
    if (!pki_set_names(cert, req, errp) ||
        !pki_set_extensions(cert, req, errp) ||
        !pki_set_key_ids(cert, issuer, errp)) {
        g_prefix_error(errp, "certificate '%s': ", req->common_name);
        return NULL;
    }

    if (issuer) {
        ret = gnutls_x509_crt_sign2(cert->crt, issuer->crt, issuer->key,
                                    GNUTLS_DIG_SHA256, 0);
    } else {
        ret = gnutls_x509_crt_sign2(cert->crt, cert->crt, cert->key,
                                    GNUTLS_DIG_SHA256, 0);
    }
    if (ret < 0) {
        g_autofree char *what =
            g_strdup_printf("certificate '%s': cannot sign", req->common_name);
        pki_set_gnutls_error(errp, ret, what);
        return NULL;
    }
    return g_steal_pointer(&cert);
}

static char *pki_datum_to_string(gnutls_datum_t *d, bool secret)
{
    char *s = g_malloc(d->size + 1);

    memcpy(s, d->data, d->size);
    s[d->size] = '\0';
    pki_datum_free(d, secret);
    return s;
}

char *qcrypto_pki_cert_get_pem(QCryptoPKICert *cert, GError **errp)
{
    gnutls_datum_t d = { NULL, 0 };
    int ret = gnutls_x509_crt_export2(cert->crt, GNUTLS_X509_FMT_PEM, &d);

    if (ret < 0) {
        pki_set_gnutls_error(errp, ret, "cannot export the certificate");
        return NULL;
    }
    return pki_datum_to_string(&d, false);
}

char *qcrypto_pki_key_get_pem(QCryptoPKICert *cert, const char *password,
                              GError **errp)
{
    gnutls_datum_t d = { NULL, 0 };
    int ret;

    if (!cert->key) {
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_INVALID_ARGUMENT,
                    "the certificate has no private key");
        return NULL;
    }
    if (password && !*password) {
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_INVALID_ARGUMENT,
                    "the key password is empty");
        return NULL;
    }
    ret = gnutls_x509_privkey_export2_pkcs8(
        cert->key, GNUTLS_X509_FMT_PEM, password,
        password ? GNUTLS_PKCS_PBES2_AES_256 : GNUTLS_PKCS_PLAIN, &d);
    if (ret < 0) {
        pki_set_gnutls_error(errp, ret, "cannot export the private key");
        return NULL;
    }
    return pki_datum_to_string(&d, true);
}

static bool pki_write_all(int fd, const char *data, size_t len,
                          const char *path, GError **errp)
{
    while (len) {
        ssize_t n = write(fd, data, len);

        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            qutil_error_setg_errno(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_FILE,
                                   errno, "cannot write %s", path);
            return false;
        }
        data += n;
        len -= n;
    }
    return true;
}

/*
 * Replace @path with @data: a temporary file beside it (created 0600 by
 * mkstemp, then set to @mode before anything is written), synced and
 * renamed over the target.
 */
static bool pki_write_file(const char *path, const char *data, mode_t mode,
                           GError **errp)
{
    g_autofree char *tmp = g_strdup_printf("%s.XXXXXX", path);
    int fd = g_mkstemp_full(tmp, O_WRONLY | O_CLOEXEC, 0600);

    if (fd < 0) {
        qutil_error_setg_errno(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_FILE, errno,
                               "cannot create %s", path);
        return false;
    }
    if (fchmod(fd, mode) < 0) {
        qutil_error_setg_errno(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_FILE, errno,
                               "cannot set the mode of %s", path);
        goto fail;
    }
    if (!pki_write_all(fd, data, strlen(data), path, errp)) {
        goto fail;
    }
    if (fsync(fd) < 0) {
        qutil_error_setg_errno(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_FILE, errno,
                               "cannot write %s", path);
        goto fail;
    }
    if (close(fd) < 0) {
        fd = -1;
        qutil_error_setg_errno(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_FILE, errno,
                               "cannot write %s", path);
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) < 0) {
        qutil_error_setg_errno(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_FILE, errno,
                               "cannot create %s", path);
        goto fail;
    }
    return true;

fail:
    if (fd >= 0) {
        close(fd);
    }
    unlink(tmp);
    return false;
}

/*
 * Open @path for appending, creating it with @mode.  An existing file is
 * narrowed to @mode when it allows more, so a secret file never stays
 * readable by others once we add to it.
 */
static int pki_open_append(const char *path, mode_t mode, GError **errp)
{
    struct stat st;
    int fd =
        open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, mode);

    if (fd < 0) {
        qutil_error_setg_errno(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_FILE, errno,
                               "cannot open %s", path);
        return -1;
    }
    if (fstat(fd, &st) < 0) {
        qutil_error_setg_errno(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_FILE, errno,
                               "cannot stat %s", path);
        close(fd);
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_INVALID_ARGUMENT,
                    "%s is not a regular file", path);
        close(fd);
        return -1;
    }
    if ((st.st_mode & 07777 & ~mode) && fchmod(fd, mode) < 0) {
        qutil_error_setg_errno(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_FILE, errno,
                               "cannot set the mode of %s", path);
        close(fd);
        return -1;
    }
    return fd;
}

static bool pki_append_file(const char *path, const char *data, mode_t mode,
                            GError **errp)
{
    int fd = pki_open_append(path, mode, errp);
    bool ok;

    if (fd < 0) {
        return false;
    }
    ok = pki_write_all(fd, data, strlen(data), path, errp);
    if (close(fd) < 0 && ok) {
        qutil_error_setg_errno(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_FILE, errno,
                               "cannot write %s", path);
        ok = false;
    }
    return ok;
}

/* Replace @path with @cert, or add it at the end (a CA bundle). */
static bool pki_cert_save(QCryptoPKICert *cert, const char *path, bool append,
                          GError **errp)
{
    g_autofree char *pem = qcrypto_pki_cert_get_pem(cert, errp);

    if (!pem) {
        g_prefix_error(errp, "%s: ", path);
        return false;
    }
    return append ? pki_append_file(path, pem, 0644, errp)
                  : pki_write_file(path, pem, 0644, errp);
}

bool qcrypto_pki_cert_write(QCryptoPKICert *cert, const char *path,
                            GError **errp)
{
    return pki_cert_save(cert, path, false, errp);
}

bool qcrypto_pki_key_write(QCryptoPKICert *cert, const char *path,
                           const char *password, GError **errp)
{
    char *pem = qcrypto_pki_key_get_pem(cert, password, errp);
    bool ok;

    if (!pem) {
        g_prefix_error(errp, "%s: ", path);
        return false;
    }
    ok = pki_write_file(path, pem, 0600, errp);
    memset(pem, 0, strlen(pem));
    g_free(pem);
    return ok;
}

bool qcrypto_pki_cert_append(QCryptoPKICert *cert, const char *path,
                             GError **errp)
{
    return pki_cert_save(cert, path, true, errp);
}

bool qcrypto_pki_crl_write(QCryptoPKICert *issuer,
                           QCryptoPKICert *const *revoked, size_t nrevoked,
                           const char *path, GError **errp)
{
    gnutls_x509_crl_t crl;
    gnutls_datum_t d = { NULL, 0 };
    guint8 id[PKI_KEY_ID_MAX];
    size_t idlen = sizeof(id);
    unsigned int critical;
    guint8 number[8];
    time_t now = time(NULL);
    size_t i;
    int ret;
    bool ok;

    if (!issuer || !issuer->key) {
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_INVALID_ARGUMENT,
                    "%s: the CRL issuer has no private key", path);
        return false;
    }
    ret = gnutls_x509_crl_init(&crl);
    if (ret < 0) {
        pki_set_gnutls_error(errp, ret, "cannot initialise a CRL");
        return false;
    }
    ret = gnutls_x509_crl_set_version(crl, 2);
    if (ret >= 0) {
        ret = gnutls_x509_crl_set_this_update(crl, now - 60 * 60);
    }
    if (ret >= 0) {
        ret = gnutls_x509_crl_set_next_update(crl, now + 30 * 24 * 60 * 60);
    }
    if (ret >= 0) {
        /* A number that grows with time, so a newer CRL sorts later. */
        uint64_t n = (uint64_t)now;

        for (i = 0; i < sizeof(number); i++) {
            number[i] = (n >> (56 - 8 * i)) & 0xff;
        }
        number[0] &= 0x7f;
        ret = gnutls_x509_crl_set_number(crl, number, sizeof(number));
    }
    if (ret >= 0 && gnutls_x509_crt_get_subject_key_id(issuer->crt, id, &idlen,
                                                       &critical) >= 0) {
        ret = gnutls_x509_crl_set_authority_key_id(crl, id, idlen);
    }
    for (i = 0; ret >= 0 && i < nrevoked; i++) {
        ret = gnutls_x509_crl_set_crt(crl, revoked[i]->crt, now - 60);
    }
    if (ret >= 0) {
        ret = gnutls_x509_crl_sign2(crl, issuer->crt, issuer->key,
                                    GNUTLS_DIG_SHA256, 0);
    }
    if (ret >= 0) {
        ret = gnutls_x509_crl_export2(crl, GNUTLS_X509_FMT_PEM, &d);
    }
    gnutls_x509_crl_deinit(crl);
    if (ret < 0) {
        g_autofree char *what =
            g_strdup_printf("%s: cannot make the CRL", path);
        pki_set_gnutls_error(errp, ret, what);
        return false;
    }
    {
        g_autofree char *pem = pki_datum_to_string(&d, false);

        ok = pki_write_file(path, pem, 0644, errp);
    }
    return ok;
}

static bool pki_psk_username_check(const char *username, GError **errp)
{
    if (!username || !*username) {
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_INVALID_ARGUMENT,
                    "PSK username is empty");
        return false;
    }
    if (strpbrk(username, ":\r\n")) {
        g_autofree char *shown = g_strescape(username, NULL);

        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_INVALID_ARGUMENT,
                    "PSK username '%s' contains ':' or a line break", shown);
        return false;
    }
    if (!g_utf8_validate(username, -1, NULL)) {
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_INVALID_ARGUMENT,
                    "PSK username is not valid UTF-8");
        return false;
    }
    return true;
}

/* True when @contents has a line "username:...". */
static bool pki_psk_has_user(const char *contents, const char *username)
{
    size_t ulen = strlen(username);
    const char *line = contents;

    while (line && *line) {
        if (strncmp(line, username, ulen) == 0 && line[ulen] == ':') {
            return true;
        }
        line = strchr(line, '\n');
        if (line) {
            line++;
        }
    }
    return false;
}

bool qcrypto_pki_psk_append(const char *path, const char *username,
                            const guint8 *key, size_t keylen, GError **errp)
{
    guint8 random_key[PKI_PSK_KEY_LEN];
    g_autofree char *contents = NULL;
    g_autoptr(GError) local_err = NULL;
    GString *line;
    size_t i;
    bool ok;
    int ret;

    if (!pki_psk_username_check(username, errp)) {
        g_prefix_error(errp, "%s: ", path);
        return false;
    }
    if (key && keylen == 0) {
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_INVALID_ARGUMENT,
                    "%s: the PSK for '%s' is empty", path, username);
        return false;
    }
    if (g_file_get_contents(path, &contents, NULL, &local_err)) {
        bool dup = pki_psk_has_user(contents, username);

        gnutls_memset(contents, 0, strlen(contents));
        if (dup) {
            g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_EXISTS,
                        "%s already has a key for '%s'", path, username);
            return false;
        }
    } else if (!g_error_matches(local_err, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_FILE, "%s",
                    local_err->message);
        return false;
    }
    if (!key) {
        ret = gnutls_rnd(GNUTLS_RND_KEY, random_key, sizeof(random_key));
        if (ret < 0) {
            pki_set_gnutls_error(errp, ret, "cannot make a random PSK");
            return false;
        }
        key = random_key;
        keylen = sizeof(random_key);
    }
    line = g_string_sized_new(strlen(username) + 2 * keylen + 2);
    g_string_append(line, username);
    g_string_append_c(line, ':');
    for (i = 0; i < keylen; i++) {
        g_string_append_printf(line, "%02x", key[i]);
    }
    g_string_append_c(line, '\n');
    gnutls_memset(random_key, 0, sizeof(random_key));

    ok = pki_append_file(path, line->str, 0600, errp);
    gnutls_memset(line->str, 0, line->len);
    g_string_free(line, TRUE);
    return ok;
}

QCryptoPKICert *qcrypto_pki_cert_load(const char *cert_path,
                                      const char *key_path,
                                      const char *password, GError **errp)
{
    g_autoptr(QCryptoPKICert) cert = NULL;
    g_autoptr(GError) local_err = NULL;
    g_autofree char *crt_pem = NULL;
    char *key_pem = NULL;
    gsize crt_len, key_len;
    gnutls_datum_t d;
    guint8 id1[PKI_KEY_ID_MAX], id2[PKI_KEY_ID_MAX];
    size_t id1len = sizeof(id1), id2len = sizeof(id2);
    int ret;

    if (!g_file_get_contents(cert_path, &crt_pem, &crt_len, &local_err)) {
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_FILE, "%s",
                    local_err->message);
        return NULL;
    }
    if (!g_file_get_contents(key_path, &key_pem, &key_len, &local_err)) {
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_FILE, "%s",
                    local_err->message);
        return NULL;
    }
    cert = pki_cert_alloc(errp);
    if (!cert) {
        gnutls_memset(key_pem, 0, key_len);
        g_free(key_pem);
        return NULL;
    }
    d.data = (unsigned char *)crt_pem;
    d.size = crt_len;
    ret = gnutls_x509_crt_import(cert->crt, &d, GNUTLS_X509_FMT_PEM);
    if (ret < 0) {
        gnutls_memset(key_pem, 0, key_len);
        g_free(key_pem);
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_INVALID_ARGUMENT,
                    "%s: not a PEM certificate: %s", cert_path,
                    gnutls_strerror(ret));
        return NULL;
    }
    d.data = (unsigned char *)key_pem;
    d.size = key_len;
    ret = gnutls_x509_privkey_import2(cert->key, &d, GNUTLS_X509_FMT_PEM,
                                      password, 0);
    gnutls_memset(key_pem, 0, key_len);
    g_free(key_pem);
    if (ret < 0) {
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_INVALID_ARGUMENT,
                    "%s: cannot load the private key%s: %s", key_path,
                    password ? " (wrong password?)" : "", gnutls_strerror(ret));
        return NULL;
    }
    ret = gnutls_x509_crt_get_key_id(cert->crt, GNUTLS_KEYID_USE_SHA256, id1,
                                     &id1len);
    if (ret >= 0) {
        ret = gnutls_x509_privkey_get_key_id(cert->key, GNUTLS_KEYID_USE_SHA256,
                                             id2, &id2len);
    }
    if (ret < 0 || id1len != id2len || memcmp(id1, id2, id1len) != 0) {
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_INVALID_ARGUMENT,
                    "%s does not hold the key of %s", key_path, cert_path);
        return NULL;
    }
    return g_steal_pointer(&cert);
}

#define PKI_PASSWORD_MAX 4096

char *qcrypto_pki_read_password_file(const char *path, GError **errp)
{
    g_autoptr(GError) local_err = NULL;
    char *data = NULL;
    gsize len = 0;

    if (!g_file_get_contents(path, &data, &len, &local_err)) {
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_FILE, "%s",
                    local_err->message);
        return NULL;
    }
    if (len == 0 || len > PKI_PASSWORD_MAX || memchr(data, 0, len) ||
        !g_utf8_validate(data, len, NULL)) {
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_INVALID_ARGUMENT,
                    "%s: a password file must hold 1 to %d bytes of "
                    "UTF-8 text without NUL bytes",
                    path, PKI_PASSWORD_MAX);
        gnutls_memset(data, 0, len);
        g_free(data);
        return NULL;
    }
    return data;
}

/* ---- credentials directories, as qio-pki writes them ---- */

#define PKI_SECONDS_PER_DAY ((int64_t)24 * 60 * 60)
#define PKI_DEFAULT_DAYS    3650
#define PKI_MAX_DAYS        36500

static bool pki_check_targets(GPtrArray *paths, bool force, GError **errp)
{
    struct stat st;
    guint i;

    for (i = 0; i < paths->len; i++) {
        const char *path = g_ptr_array_index(paths, i);

        if (lstat(path, &st) == 0) {
            if (!force) {
                g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_EXISTS,
                            "refusing to overwrite %s: it exists (use "
                            "--force to replace it)",
                            path);
                return false;
            }
            if (!S_ISREG(st.st_mode)) {
                g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_INVALID_ARGUMENT,
                            "cannot replace %s: not a regular file", path);
                return false;
            }
        } else if (errno != ENOENT) {
            qutil_error_setg_errno(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_FILE,
                                   errno, "cannot check %s", path);
            return false;
        }
    }
    return true;
}

static bool pki_make_dir(const char *dir, int mode, GError **errp)
{
    if (g_mkdir_with_parents(dir, mode) < 0) {
        qutil_error_setg_errno(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_FILE, errno,
                               "cannot create directory %s", dir);
        return false;
    }
    return true;
}

static bool pki_opts_check(const QCryptoPKIDirOptions *opts, GError **errp)
{
    if (!opts->dir || !*opts->dir) {
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_INVALID_ARGUMENT,
                    "no credentials directory given");
        return false;
    }
    if (opts->days > PKI_MAX_DAYS) {
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_INVALID_ARGUMENT,
                    "days %u is more than %d", opts->days, PKI_MAX_DAYS);
        return false;
    }
    return true;
}

static const char *pki_ca_dir(const QCryptoPKIDirOptions *opts)
{
    return opts->ca_dir ? opts->ca_dir : opts->dir;
}

/*
 * The leaf validity in seconds from now: @days, but never past
 * @ca_expiry (0: no limit), since a certificate outliving its issuer only
 * fails later and more confusingly.
 */
static int64_t pki_leaf_expiry(const QCryptoPKIDirOptions *opts,
                               time_t ca_expiry)
{
    int64_t expire = (int64_t)(opts->days ? opts->days : PKI_DEFAULT_DAYS) *
                     PKI_SECONDS_PER_DAY;
    int64_t limit;

    if (ca_expiry > 0) {
        limit = (int64_t)ca_expiry - (int64_t)time(NULL);
        if (limit < expire) {
            expire = limit;
        }
    }
    return expire;
}

static QCryptoPKICert *pki_make_ca(const QCryptoPKIDirOptions *opts,
                                   const char *subject, GError **errp)
{
    g_autofree char *name = NULL;
    unsigned int days = MAX(opts->days, PKI_DEFAULT_DAYS);
    QCryptoPKICertReq req = {
        .organization = opts->organization,
        .basic_constraints = QCRYPTO_PKI_EXT_CRITICAL,
        .is_ca = true,
        .path_len = 0,
        .key_usage = QCRYPTO_PKI_EXT_CRITICAL,
        .key_usage_bits = GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN,
        .start_offset = PKI_DEFAULT_START_OFFSET,
        .expire_offset = (int64_t)days * PKI_SECONDS_PER_DAY,
        .key_type = opts->key_type,
        .key_bits = opts->key_bits,
    };

    if (opts->ca_name && *opts->ca_name) {
        req.common_name = opts->ca_name;
    } else {
        name = g_strdup_printf("qio-pki CA for %s", subject);
        req.common_name = name;
    }
    return qcrypto_pki_cert_new(&req, NULL, errp);
}

static QCryptoPKICert *pki_make_leaf(const QCryptoPKIDirOptions *opts,
                                     QCryptoPKICert *ca, bool server,
                                     GError **errp)
{
    static const char *const server_kp[] = { GNUTLS_KP_TLS_WWW_SERVER, NULL };
    static const char *const client_kp[] = { GNUTLS_KP_TLS_WWW_CLIENT, NULL };
    QCryptoPKICertReq req = {
        .organization = opts->organization,
        .basic_constraints = QCRYPTO_PKI_EXT_CRITICAL,
        .is_ca = false,
        .path_len = -1,
        /*
         * QEMU refuses a critical keyUsage without keyEncipherment even
         * for ECDSA keys, which never use it; carrying the bit is harmless.
         */
        .key_usage = QCRYPTO_PKI_EXT_CRITICAL,
        .key_usage_bits =
            GNUTLS_KEY_DIGITAL_SIGNATURE | GNUTLS_KEY_KEY_ENCIPHERMENT,
        .key_purpose = QCRYPTO_PKI_EXT_NONCRITICAL,
        .key_purpose_oids = server ? server_kp : client_kp,
        .start_offset = PKI_DEFAULT_START_OFFSET,
        .expire_offset =
            pki_leaf_expiry(opts, gnutls_x509_crt_get_expiration_time(ca->crt)),
        .key_type = opts->key_type,
        .key_bits = opts->key_bits,
    };

    if (req.expire_offset <= 0) {
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_INVALID_ARGUMENT,
                    "the CA in %s has expired; make a new one",
                    pki_ca_dir(opts));
        return NULL;
    }
    if (server) {
        req.dns_names = opts->hostnames;
        req.ip_addrs = opts->ip_addrs;
        if (opts->hostnames && opts->hostnames[0]) {
            req.common_name = opts->hostnames[0];
        } else if (opts->ip_addrs && opts->ip_addrs[0]) {
            req.common_name = opts->ip_addrs[0];
        } else {
            g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_INVALID_ARGUMENT,
                        "a server certificate needs at least one host "
                        "name or IP address");
            return NULL;
        }
    } else {
        req.common_name = opts->client_name;
    }
    return qcrypto_pki_cert_new(&req, ca, errp);
}

static bool pki_name_check(const char *what, const char *name, GError **errp)
{
    if (!name || !*name) {
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_INVALID_ARGUMENT,
                    "%s is empty", what);
        return false;
    }
    if (!g_utf8_validate(name, -1, NULL)) {
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_INVALID_ARGUMENT,
                    "%s is not valid UTF-8", what);
        return false;
    }
    return true;
}

/* All PSK users valid and distinct, before anything is written. */
static bool pki_psk_users_check(const char *const *users, GError **errp)
{
    size_t i, j;

    for (i = 0; users && users[i]; i++) {
        if (!pki_psk_username_check(users[i], errp)) {
            return false;
        }
        for (j = 0; j < i; j++) {
            if (strcmp(users[i], users[j]) == 0) {
                g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_INVALID_ARGUMENT,
                            "PSK user '%s' is given twice", users[i]);
                return false;
            }
        }
    }
    return true;
}

bool qcrypto_pki_dir_init(const QCryptoPKIDirOptions *opts, GError **errp)
{
    const char *ca_dir = pki_ca_dir(opts);
    g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(QCryptoPKICert) ca = NULL;
    g_autoptr(QCryptoPKICert) server = NULL;
    g_autoptr(QCryptoPKICert) client = NULL;
    g_autofree char *ca_cert = g_build_filename(opts->dir, "ca-cert.pem", NULL);
    g_autofree char *ca_cert2 = g_build_filename(ca_dir, "ca-cert.pem", NULL);
    g_autofree char *ca_key = g_build_filename(ca_dir, "ca-key.pem", NULL);
    g_autofree char *srv_cert =
        g_build_filename(opts->dir, "server-cert.pem", NULL);
    g_autofree char *srv_key =
        g_build_filename(opts->dir, "server-key.pem", NULL);
    g_autofree char *cli_cert =
        g_build_filename(opts->dir, "client-cert.pem", NULL);
    g_autofree char *cli_key =
        g_build_filename(opts->dir, "client-key.pem", NULL);
    g_autofree char *psk = g_build_filename(opts->dir, "keys.psk", NULL);
    size_t i;

    if (!pki_opts_check(opts, errp)) {
        return false;
    }
    if (opts->client_name &&
        !pki_name_check("the client name", opts->client_name, errp)) {
        return false;
    }
    if (!pki_psk_users_check(opts->psk_users, errp)) {
        return false;
    }
    g_ptr_array_add(paths, g_strdup(ca_cert));
    g_ptr_array_add(paths, g_strdup(ca_key));
    if (opts->ca_dir) {
        g_ptr_array_add(paths, g_strdup(ca_cert2));
    }
    g_ptr_array_add(paths, g_strdup(srv_cert));
    g_ptr_array_add(paths, g_strdup(srv_key));
    if (opts->client_name) {
        g_ptr_array_add(paths, g_strdup(cli_cert));
        g_ptr_array_add(paths, g_strdup(cli_key));
    }
    if (opts->psk_users && opts->psk_users[0]) {
        g_ptr_array_add(paths, g_strdup(psk));
    }
    if (!pki_check_targets(paths, opts->force, errp)) {
        return false;
    }

    /* Make every key before writing anything, so errors leave no debris. */
    ca = pki_make_ca(opts,
                     opts->hostnames && opts->hostnames[0] ? opts->hostnames[0]
                     : opts->ip_addrs && opts->ip_addrs[0] ? opts->ip_addrs[0]
                                                           : "qio",
                     errp);
    if (!ca) {
        return false;
    }
    server = pki_make_leaf(opts, ca, true, errp);
    if (!server) {
        return false;
    }
    if (opts->client_name) {
        client = pki_make_leaf(opts, ca, false, errp);
        if (!client) {
            return false;
        }
    }

    if (!pki_make_dir(opts->dir, 0755, errp) ||
        (opts->ca_dir && !pki_make_dir(opts->ca_dir, 0700, errp))) {
        return false;
    }
    if (!qcrypto_pki_key_write(ca, ca_key, NULL, errp) ||
        !qcrypto_pki_cert_write(ca, ca_cert, errp) ||
        (opts->ca_dir && !qcrypto_pki_cert_write(ca, ca_cert2, errp)) ||
        !qcrypto_pki_key_write(server, srv_key, opts->server_key_password,
                               errp) ||
        !qcrypto_pki_cert_write(server, srv_cert, errp)) {
        return false;
    }
    if (client && (!qcrypto_pki_key_write(client, cli_key, NULL, errp) ||
                   !qcrypto_pki_cert_write(client, cli_cert, errp))) {
        return false;
    }
    if (opts->psk_users && opts->psk_users[0]) {
        if (unlink(psk) < 0 && errno != ENOENT) {
            qutil_error_setg_errno(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_FILE,
                                   errno, "cannot replace %s", psk);
            return false;
        }
        for (i = 0; opts->psk_users[i]; i++) {
            if (!qcrypto_pki_psk_append(psk, opts->psk_users[i], NULL, 0,
                                        errp)) {
                return false;
            }
        }
    }
    return true;
}

static QCryptoPKICert *pki_load_ca(const QCryptoPKIDirOptions *opts,
                                   GError **errp)
{
    const char *ca_dir = pki_ca_dir(opts);
    g_autofree char *ca_cert = g_build_filename(ca_dir, "ca-cert.pem", NULL);
    g_autofree char *ca_key = g_build_filename(ca_dir, "ca-key.pem", NULL);
    QCryptoPKICert *ca = qcrypto_pki_cert_load(ca_cert, ca_key, NULL, errp);

    if (!ca) {
        g_prefix_error(errp,
                       "cannot load the CA from %s (written by "
                       "'qio-pki init'; see --ca-dir): ",
                       ca_dir);
    }
    return ca;
}

bool qcrypto_pki_dir_add_server(const QCryptoPKIDirOptions *opts, GError **errp)
{
    g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(QCryptoPKICert) ca = NULL;
    g_autoptr(QCryptoPKICert) server = NULL;
    g_autofree char *srv_cert = NULL;
    g_autofree char *srv_key = NULL;

    if (!pki_opts_check(opts, errp)) {
        return false;
    }
    srv_cert = g_build_filename(opts->dir, "server-cert.pem", NULL);
    srv_key = g_build_filename(opts->dir, "server-key.pem", NULL);
    g_ptr_array_add(paths, g_strdup(srv_cert));
    g_ptr_array_add(paths, g_strdup(srv_key));
    if (!pki_check_targets(paths, opts->force, errp)) {
        return false;
    }
    ca = pki_load_ca(opts, errp);
    if (!ca) {
        return false;
    }
    server = pki_make_leaf(opts, ca, true, errp);
    if (!server) {
        return false;
    }
    return qcrypto_pki_key_write(server, srv_key, opts->server_key_password,
                                 errp) &&
           qcrypto_pki_cert_write(server, srv_cert, errp);
}

bool qcrypto_pki_dir_add_client(const QCryptoPKIDirOptions *opts, GError **errp)
{
    g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(QCryptoPKICert) ca = NULL;
    g_autoptr(QCryptoPKICert) client = NULL;
    g_autofree char *cli_cert = NULL;
    g_autofree char *cli_key = NULL;
    g_autofree char *ca_copy = NULL;

    if (!pki_opts_check(opts, errp) ||
        !pki_name_check("the client name", opts->client_name, errp)) {
        return false;
    }
    if (opts->client_dir) {
        cli_cert = g_build_filename(opts->client_dir, "client-cert.pem", NULL);
        cli_key = g_build_filename(opts->client_dir, "client-key.pem", NULL);
        ca_copy = g_build_filename(opts->client_dir, "ca-cert.pem", NULL);
        g_ptr_array_add(paths, g_strdup(ca_copy));
    } else {
        g_autofree char *base = NULL;

        /* The name becomes a file name: keep it inside the directory. */
        if (strchr(opts->client_name, '/') || opts->client_name[0] == '.') {
            g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_INVALID_ARGUMENT,
                        "client name '%s' cannot be used as a file name "
                        "in %s (it has '/' or starts with '.'); give an "
                        "output directory instead",
                        opts->client_name, opts->dir);
            return false;
        }
        base = g_strdup_printf("%s-cert.pem", opts->client_name);
        cli_cert = g_build_filename(opts->dir, base, NULL);
        g_free(base);
        base = g_strdup_printf("%s-key.pem", opts->client_name);
        cli_key = g_build_filename(opts->dir, base, NULL);
    }
    g_ptr_array_add(paths, g_strdup(cli_cert));
    g_ptr_array_add(paths, g_strdup(cli_key));
    if (!pki_check_targets(paths, opts->force, errp)) {
        return false;
    }
    ca = pki_load_ca(opts, errp);
    if (!ca) {
        return false;
    }
    client = pki_make_leaf(opts, ca, false, errp);
    if (!client) {
        return false;
    }
    if (opts->client_dir && !pki_make_dir(opts->client_dir, 0755, errp)) {
        return false;
    }
    if (ca_copy && !qcrypto_pki_cert_write(ca, ca_copy, errp)) {
        return false;
    }
    return qcrypto_pki_key_write(client, cli_key, NULL, errp) &&
           qcrypto_pki_cert_write(client, cli_cert, errp);
}

/* Rewrite @path without the lines of @users (for replacing their keys). */
static bool pki_psk_remove_users(const char *path, const char *const *users,
                                 GError **errp)
{
    g_autoptr(GError) local_err = NULL;
    char *contents = NULL;
    gsize len = 0;
    GString *out;
    char **lines;
    size_t i, j;
    bool ok;

    if (!g_file_get_contents(path, &contents, &len, &local_err)) {
        if (g_error_matches(local_err, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
            return true;
        }
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_FILE, "%s",
                    local_err->message);
        return false;
    }
    lines = g_strsplit(contents, "\n", -1);
    gnutls_memset(contents, 0, len);
    g_free(contents);
    out = g_string_sized_new(len);
    for (i = 0; lines[i]; i++) {
        bool drop = false;

        for (j = 0; users[j] && !drop; j++) {
            size_t ulen = strlen(users[j]);

            drop =
                strncmp(lines[i], users[j], ulen) == 0 && lines[i][ulen] == ':';
        }
        if (!drop && *lines[i]) {
            g_string_append(out, lines[i]);
            g_string_append_c(out, '\n');
        }
        gnutls_memset(lines[i], 0, strlen(lines[i]));
    }
    g_strfreev(lines);
    ok = pki_write_file(path, out->str, 0600, errp);
    gnutls_memset(out->str, 0, out->len);
    g_string_free(out, TRUE);
    return ok;
}

/* No user of @users in @path yet, checked before any is added. */
static bool pki_psk_users_absent(const char *path, const char *const *users,
                                 GError **errp)
{
    g_autoptr(GError) local_err = NULL;
    char *contents = NULL;
    gsize len = 0;
    size_t i;
    bool ok = true;

    if (!g_file_get_contents(path, &contents, &len, &local_err)) {
        if (g_error_matches(local_err, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
            return true;
        }
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_FILE, "%s",
                    local_err->message);
        return false;
    }
    for (i = 0; users[i] && ok; i++) {
        if (pki_psk_has_user(contents, users[i])) {
            g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_EXISTS,
                        "%s already has a key for '%s' (use --force to "
                        "replace it)",
                        path, users[i]);
            ok = false;
        }
    }
    gnutls_memset(contents, 0, len);
    g_free(contents);
    return ok;
}

bool qcrypto_pki_dir_add_psk(const QCryptoPKIDirOptions *opts, GError **errp)
{
    g_autofree char *psk = NULL;
    size_t i;

    if (!pki_opts_check(opts, errp)) {
        return false;
    }
    if (!opts->psk_users || !opts->psk_users[0]) {
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_INVALID_ARGUMENT,
                    "no PSK user given");
        return false;
    }
    if (!pki_psk_users_check(opts->psk_users, errp)) {
        return false;
    }
    psk = g_build_filename(opts->dir, "keys.psk", NULL);
    if (!pki_make_dir(opts->dir, 0755, errp)) {
        return false;
    }
    if (opts->force) {
        if (!pki_psk_remove_users(psk, opts->psk_users, errp)) {
            return false;
        }
    } else if (!pki_psk_users_absent(psk, opts->psk_users, errp)) {
        return false;
    }
    for (i = 0; opts->psk_users[i]; i++) {
        if (!qcrypto_pki_psk_append(psk, opts->psk_users[i], NULL, 0, errp)) {
            return false;
        }
    }
    return true;
}
