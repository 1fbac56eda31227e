/*
 * Secrets (see include/crypto/secret.h): the abstract QCryptoSecretCommon
 * that turns loaded bytes into a value (AES-256-CBC decryption with a
 * master key, then base64 decoding), the "secret" object that loads them
 * from data= or file=, the lookup functions other subsystems call, and
 * wiping.
 *
 * The whole value is computed once, in GInitable init, and never changes
 * afterwards, so lookups from any thread only need a reference to copy
 * it.  Every intermediate buffer that held secret bytes (file contents,
 * ciphertext, plaintext, the master key, the AES key schedule) is wiped
 * before it is freed.  Messages describe what is wrong with a value
 * (its length, the offset of a bad character) but never quote it.
 */
#include "crypto/secret.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nettle/aes.h>
#include <nettle/cbc.h>

#include "crypto/secret-keyring.h"
#include "crypto/error.h"
#include "qom/object.h"

#define AES256_KEY_LEN 32
#define AES_IV_LEN     16

/* ---- Wiping ----------------------------------------------------------- */

void qcrypto_secret_wipe(void *buf, size_t len)
{
    if (buf && len) {
        /* Unlike memset, explicit_bzero is never optimised away. */
        explicit_bzero(buf, len);
    }
}

void qcrypto_secret_free(void *buf, size_t len)
{
    if (buf) {
        qcrypto_secret_wipe(buf, len);
        g_free(buf);
    }
}

void qcrypto_secret_free_text(char *text)
{
    if (text) {
        qcrypto_secret_free(text, strlen(text));
    }
}

/* ---- The format enum -------------------------------------------------- */

GType qcrypto_secret_format_get_type(void)
{
    static gsize type;
    static const GEnumValue values[] = {
        { QCRYPTO_SECRET_FORMAT_RAW, "QCRYPTO_SECRET_FORMAT_RAW", "raw" },
        { QCRYPTO_SECRET_FORMAT_BASE64, "QCRYPTO_SECRET_FORMAT_BASE64",
          "base64" },
        { 0, NULL, NULL },
    };

    if (g_once_init_enter(&type)) {
        g_once_init_leave(
            &type, g_enum_register_static("QCryptoSecretFormat", values));
    }
    return type;
}

/* ---- Base64 ----------------------------------------------------------- */

static bool is_base64_char(guint8 c)
{
    return g_ascii_isalnum(c) || c == '+' || c == '/';
}

/*
 * Decode base64 strictly: GLib's decoder skips characters it does not
 * know, which would turn a typo into a silently different secret.
 * Trailing whitespace is dropped so that a file ending in a newline
 * works.  @what names the input in messages ("data", "iv", ...).  The
 * result is NUL-terminated (not counted), for text secrets.
 */
static guint8 *decode_base64(const char *what, const guint8 *text, size_t len,
                             size_t *outlen, GError **errp)
{
    guint8 *out;
    gint state = 0;
    guint save = 0;
    size_t n;

    while (len > 0 && g_ascii_isspace(text[len - 1])) {
        len--;
    }
    if (len % 4 != 0) {
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_DECODE,
                    "%s is not valid base64: its length (%zu characters) "
                    "is not a multiple of 4",
                    what, len);
        return NULL;
    }
    for (size_t i = 0; i < len; i++) {
        bool pad_ok = text[i] == '=' &&
                      (i == len - 1 || (i == len - 2 && text[i + 1] == '='));
        if (!is_base64_char(text[i]) && !pad_ok) {
            g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_DECODE,
                        "%s is not valid base64: unexpected %s at offset "
                        "%zu",
                        what, text[i] == '=' ? "'=' padding" : "character", i);
            return NULL;
        }
    }
    out = g_malloc(len / 4 * 3 + 3);
    n = g_base64_decode_step((const char *)text, len, out, &state, &save);
    out[n] = '\0';
    *outlen = n;
    return out;
}

/* ---- QCryptoSecretCommon ---------------------------------------------- */

typedef struct {
    QCryptoSecretFormat format;
    char *keyid;
    char *iv;

    /* Set once by init; immutable afterwards. */
    bool initialized;
    guint8 *value;
    size_t value_len;
    /* The edge recorded on the master key, to drop in finalize. */
    char *keyid_user;
} QCryptoSecretCommonPrivate;

enum {
    COMMON_PROP_0,
    COMMON_PROP_FORMAT,
    COMMON_PROP_KEYID,
    COMMON_PROP_IV,
    COMMON_N_PROPS,
};

static void qcrypto_secret_common_initable_iface_init(GInitableIface *iface);

G_DEFINE_ABSTRACT_TYPE_WITH_CODE(
    QCryptoSecretCommon, qcrypto_secret_common, G_TYPE_OBJECT,
    G_ADD_PRIVATE(QCryptoSecretCommon)
        G_IMPLEMENT_INTERFACE(G_TYPE_INITABLE,
                              qcrypto_secret_common_initable_iface_init))

const char *qcrypto_secret_common_get_name(QCryptoSecretCommon *secret)
{
    const char *id;

    g_return_val_if_fail(QCRYPTO_IS_SECRET_COMMON(secret), NULL);
    id = qom_object_get_id(G_OBJECT(secret));
    return id ? id : "(unnamed)";
}

guint8 *qcrypto_secret_common_get_value(QCryptoSecretCommon *secret,
                                        size_t *len)
{
    QCryptoSecretCommonPrivate *priv;
    guint8 *copy;

    g_return_val_if_fail(QCRYPTO_IS_SECRET_COMMON(secret), NULL);
    g_return_val_if_fail(len != NULL, NULL);
    priv = qcrypto_secret_common_get_instance_private(secret);
    g_return_val_if_fail(priv->initialized, NULL);

    copy = g_malloc(priv->value_len + 1);
    memcpy(copy, priv->value, priv->value_len);
    copy[priv->value_len] = '\0';
    *len = priv->value_len;
    return copy;
}

/*
 * Resolve keyid= to a completed secret, with a reference.  With
 * GInitable the master key must exist, complete, before this secret is
 * created, so a chain of keyids can only point at older objects and the
 * only cycle possible is a secret naming itself, refused earlier.
 */
static QCryptoSecretCommon *get_master_key(const char *keyid, GError **errp)
{
    GObject *obj = qom_object_find(keyid);
    g_autoptr(GError) local = NULL;
    QCryptoSecretCommon *master;

    master = qom_object_ref_typed(keyid, QCRYPTO_TYPE_SECRET_COMMON, &local);
    if (master) {
        return master;
    }
    if (g_error_matches(local, QOM_ERROR, QOM_ERROR_WRONG_TYPE) && obj) {
        const char *type = qom_type_get_name(G_OBJECT_TYPE(obj));
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_INVALID_ARGUMENT,
                    "keyid '%s' is a '%s', not a secret", keyid,
                    type ? type : G_OBJECT_TYPE_NAME(obj));
    } else {
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_INVALID_ARGUMENT,
                    "keyid '%s' names no object; create the master key "
                    "secret before the secrets encrypted with it",
                    keyid);
    }
    return NULL;
}

/* AES-256-CBC decryption of @cipher (a multiple of the block size). */
static guint8 *aes256_cbc_decrypt(const guint8 *key, const guint8 *iv,
                                  const guint8 *cipher, size_t len)
{
    struct aes256_ctx ctx;
    guint8 chain[AES_IV_LEN];
    guint8 *plain = g_malloc(len + 1);

    aes256_set_decrypt_key(&ctx, key);
    /* cbc_decrypt advances the iv it is given: work on a copy. */
    memcpy(chain, iv, sizeof(chain));
    cbc_decrypt(&ctx, (nettle_cipher_func *)aes256_decrypt, AES_BLOCK_SIZE,
                chain, len, plain, cipher);
    qcrypto_secret_wipe(&ctx, sizeof(ctx));
    qcrypto_secret_wipe(chain, sizeof(chain));
    return plain;
}

/*
 * Check PKCS#7 padding over the whole last block, without stopping at the
 * first bad byte, and return the unpadded length or -1.
 */
static ssize_t check_pkcs7_padding(const guint8 *plain, size_t len)
{
    guint8 pad = plain[len - 1];
    unsigned bad = (pad == 0) | (pad > AES_BLOCK_SIZE);

    for (size_t i = 0; i < AES_BLOCK_SIZE; i++) {
        unsigned in_pad = i < pad;
        bad |= in_pad & (plain[len - 1 - i] != pad);
    }
    return bad ? -1 : (ssize_t)(len - pad);
}

/*
 * Decrypt the loaded bytes: base64 text of an AES-256-CBC ciphertext
 * under the master key @keyid and @iv.
 */
static guint8 *decrypt_input(const char *keyid, const guint8 *iv,
                             const guint8 *input, size_t inlen, size_t *outlen,
                             GError **errp)
{
    g_autoptr(QCryptoSecretCommon) master = NULL;
    guint8 *key = NULL, *cipher = NULL, *plain = NULL;
    size_t keylen = 0, cipherlen = 0;
    ssize_t plainlen;

    master = get_master_key(keyid, errp);
    if (!master) {
        return NULL;
    }
    key = qcrypto_secret_common_get_value(master, &keylen);
    if (keylen != AES256_KEY_LEN) {
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_INVALID_ARGUMENT,
                    "master key '%s' is %zu bytes; AES-256 needs exactly "
                    "%d (if it holds base64 text, create it with "
                    "format=base64)",
                    keyid, keylen, AES256_KEY_LEN);
        goto out;
    }
    cipher =
        decode_base64("the encrypted data", input, inlen, &cipherlen, errp);
    if (!cipher) {
        goto out;
    }
    if (cipherlen == 0 || cipherlen % AES_BLOCK_SIZE != 0) {
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_DECODE,
                    "the encrypted data is %zu bytes, not a non-zero "
                    "multiple of the %d-byte AES block; was it encrypted "
                    "with AES-256-CBC?",
                    cipherlen, AES_BLOCK_SIZE);
        goto out;
    }
    plain = aes256_cbc_decrypt(key, iv, cipher, cipherlen);
    plainlen = check_pkcs7_padding(plain, cipherlen);
    if (plainlen < 0) {
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_DECRYPT,
                    "decryption with master key '%s' gave invalid padding: "
                    "the key or the iv is probably wrong",
                    keyid);
        qcrypto_secret_free(plain, cipherlen);
        plain = NULL;
        goto out;
    }
    /* The padding bytes are wiped too: they follow the value in memory. */
    qcrypto_secret_wipe(plain + plainlen, cipherlen - (size_t)plainlen);
    plain[plainlen] = '\0';
    *outlen = (size_t)plainlen;

out:
    qcrypto_secret_free(key, keylen);
    qcrypto_secret_free(cipher, cipherlen);
    return plain;
}

/* Checks that need no file and no other object. */
static bool check_properties(QCryptoSecretCommonPrivate *priv, const char *name,
                             guint8 *iv, GError **errp)
{
    g_autofree guint8 *decoded = NULL;
    size_t len = 0;

    if (priv->iv && !priv->keyid) {
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_INVALID_ARGUMENT,
                    "'iv' is set but 'keyid' is not: an iv is only used to "
                    "decrypt the value with a master key");
        return false;
    }
    if (!priv->keyid) {
        return true;
    }
    if (g_str_equal(priv->keyid, name)) {
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_INVALID_ARGUMENT,
                    "keyid '%s' is this secret itself: a secret cannot be "
                    "encrypted with its own value; name another secret",
                    priv->keyid);
        return false;
    }
    if (!priv->iv) {
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_INVALID_ARGUMENT,
                    "'keyid' is set but 'iv' is not: decrypting needs the "
                    "16-byte iv (in base64) the value was encrypted with");
        return false;
    }
    decoded = decode_base64("iv", (const guint8 *)priv->iv, strlen(priv->iv),
                            &len, errp);
    if (!decoded) {
        return false;
    }
    if (len != AES_IV_LEN) {
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_INVALID_ARGUMENT,
                    "iv is %zu bytes after base64 decoding; AES-CBC needs "
                    "exactly %d",
                    len, AES_IV_LEN);
        return false;
    }
    memcpy(iv, decoded, AES_IV_LEN);
    return true;
}

static gboolean qcrypto_secret_common_initable_init(GInitable *initable,
                                                    GCancellable *cancel,
                                                    GError **errp)
{
    QCryptoSecretCommon *secret = QCRYPTO_SECRET_COMMON(initable);
    QCryptoSecretCommonPrivate *priv =
        qcrypto_secret_common_get_instance_private(secret);
    QCryptoSecretCommonClass *klass = QCRYPTO_SECRET_COMMON_GET_CLASS(secret);
    const char *name = qcrypto_secret_common_get_name(secret);
    guint8 iv[AES_IV_LEN];
    guint8 *data = NULL;
    size_t len = 0;
    bool ok = false;

    if (priv->initialized) {
        return TRUE;
    }
    g_return_val_if_fail(klass->load_data != NULL, FALSE);

    if (!check_properties(priv, name, iv, errp) ||
        !klass->load_data(secret, &data, &len, errp)) {
        goto out;
    }
    if (priv->keyid) {
        size_t plainlen = 0;
        guint8 *plain =
            decrypt_input(priv->keyid, iv, data, len, &plainlen, errp);
        if (!plain) {
            goto out;
        }
        qcrypto_secret_free(data, len);
        data = plain;
        len = plainlen;
    }
    if (priv->format == QCRYPTO_SECRET_FORMAT_BASE64) {
        size_t rawlen = 0;
        guint8 *raw =
            decode_base64(priv->keyid ? "the decrypted value" : "the value",
                          data, len, &rawlen, errp);
        if (!raw) {
            goto out;
        }
        qcrypto_secret_free(data, len);
        data = raw;
        len = rawlen;
    }
    if (priv->keyid) {
        /* The master key must outlive this secret's use of it. */
        if (!qom_object_add_user(priv->keyid, name, errp)) {
            g_prefix_error(errp, "master key '%s': ", priv->keyid);
            goto out;
        }
        priv->keyid_user = g_strdup(name);
    }
    if (!data) {
        /* load_data may give NULL for an empty value. */
        data = g_malloc0(1);
    }
    priv->value = data;
    priv->value_len = len;
    data = NULL;
    priv->initialized = true;
    ok = true;

out:
    qcrypto_secret_wipe(iv, sizeof(iv));
    qcrypto_secret_free(data, len);
    return ok;
}

static void qcrypto_secret_common_initable_iface_init(GInitableIface *iface)
{
    iface->init = qcrypto_secret_common_initable_init;
}

static void qcrypto_secret_common_set_property(GObject *obj, guint prop_id,
                                               const GValue *value,
                                               GParamSpec *pspec)
{
    QCryptoSecretCommonPrivate *priv =
        qcrypto_secret_common_get_instance_private(QCRYPTO_SECRET_COMMON(obj));

    switch (prop_id) {
    case COMMON_PROP_FORMAT:
        priv->format = g_value_get_enum(value);
        break;
    case COMMON_PROP_KEYID:
        g_free(priv->keyid);
        priv->keyid = g_value_dup_string(value);
        break;
    case COMMON_PROP_IV:
        g_free(priv->iv);
        priv->iv = g_value_dup_string(value);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, prop_id, pspec);
    }
}

static void qcrypto_secret_common_get_property(GObject *obj, guint prop_id,
                                               GValue *value, GParamSpec *pspec)
{
    QCryptoSecretCommonPrivate *priv =
        qcrypto_secret_common_get_instance_private(QCRYPTO_SECRET_COMMON(obj));

    switch (prop_id) {
    case COMMON_PROP_FORMAT:
        g_value_set_enum(value, priv->format);
        break;
    case COMMON_PROP_KEYID:
        g_value_set_string(value, priv->keyid);
        break;
    case COMMON_PROP_IV:
        g_value_set_string(value, priv->iv);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, prop_id, pspec);
    }
}

static void qcrypto_secret_common_finalize(GObject *obj)
{
    QCryptoSecretCommonPrivate *priv =
        qcrypto_secret_common_get_instance_private(QCRYPTO_SECRET_COMMON(obj));

    if (priv->keyid_user) {
        /*
         * Fails harmlessly when the object layer already dropped the
         * edge (the secret was deleted, or the table cleared).
         */
        qom_object_remove_user(priv->keyid, priv->keyid_user);
        g_free(priv->keyid_user);
    }
    qcrypto_secret_free(priv->value, priv->value_len);
    g_free(priv->keyid);
    g_free(priv->iv);
    G_OBJECT_CLASS(qcrypto_secret_common_parent_class)->finalize(obj);
}

static void qcrypto_secret_common_class_init(QCryptoSecretCommonClass *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);
    const GParamFlags flags =
        G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;
    GParamSpec *props[COMMON_N_PROPS] = { NULL };

    oc->set_property = qcrypto_secret_common_set_property;
    oc->get_property = qcrypto_secret_common_get_property;
    oc->finalize = qcrypto_secret_common_finalize;

    props[COMMON_PROP_FORMAT] = g_param_spec_enum(
        "format", "Format",
        "Encoding of the value (after decryption with keyid)",
        QCRYPTO_TYPE_SECRET_FORMAT, QCRYPTO_SECRET_FORMAT_RAW, flags);
    props[COMMON_PROP_KEYID] = g_param_spec_string(
        "keyid", "Key id",
        "Id of a secret holding the 32-byte AES-256 key the value is "
        "encrypted with",
        NULL, flags);
    props[COMMON_PROP_IV] = g_param_spec_string(
        "iv", "IV", "Base64 of the 16-byte AES-CBC iv (with keyid)", NULL,
        flags);
    g_object_class_install_properties(oc, COMMON_N_PROPS, props);
}

static void qcrypto_secret_common_init(QCryptoSecretCommon *secret)
{
}

/* ---- QCryptoSecret: data= or file= ------------------------------------ */

struct _QCryptoSecret {
    QCryptoSecretCommon parent;
    char *data;
    char *file;
};

enum {
    SECRET_PROP_0,
    SECRET_PROP_DATA,
    SECRET_PROP_FILE,
    SECRET_N_PROPS,
};

G_DEFINE_TYPE(QCryptoSecret, qcrypto_secret, QCRYPTO_TYPE_SECRET_COMMON)

/*
 * Read a whole file into a buffer that is wiped whenever it is replaced.
 * Bounded, so that file=/dev/zero fails instead of eating memory.
 */
static bool read_secret_file(const char *path, guint8 **out, size_t *outlen,
                             GError **errp)
{
    g_autofree char *shown = g_canonicalize_filename(path, NULL);
    size_t cap = 4096, len = 0;
    struct stat st;
    guint8 *buf;
    int fd;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int err = errno;
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_FILE,
                    "cannot open %s: %s", shown, g_strerror(err));
        return false;
    }
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
        st.st_size < QCRYPTO_SECRET_MAX_SIZE) {
        cap = (size_t)st.st_size + 1;
    }
    buf = g_malloc(cap + 1);
    for (;;) {
        ssize_t n;

        if (len == cap) {
            guint8 *bigger;
            if (cap > QCRYPTO_SECRET_MAX_SIZE) {
                g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_FILE,
                            "%s is larger than the %d-byte limit for "
                            "secrets",
                            shown, QCRYPTO_SECRET_MAX_SIZE);
                goto fail;
            }
            bigger = g_malloc(cap * 2 + 1);
            memcpy(bigger, buf, len);
            qcrypto_secret_free(buf, cap + 1);
            buf = bigger;
            cap *= 2;
        }
        n = read(fd, buf + len, cap - len);
        if (n < 0) {
            int err = errno;
            if (err == EINTR) {
                continue;
            }
            g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_FILE,
                        "cannot read %s: %s", shown, g_strerror(err));
            goto fail;
        }
        if (n == 0) {
            break;
        }
        len += (size_t)n;
    }
    if (len > QCRYPTO_SECRET_MAX_SIZE) {
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_FILE,
                    "%s is larger than the %d-byte limit for secrets", shown,
                    QCRYPTO_SECRET_MAX_SIZE);
        goto fail;
    }
    close(fd);
    buf[len] = '\0';
    *out = buf;
    *outlen = len;
    return true;

fail:
    close(fd);
    qcrypto_secret_free(buf, cap + 1);
    return false;
}

static bool qcrypto_secret_load_data(QCryptoSecretCommon *common, guint8 **data,
                                     size_t *len, GError **errp)
{
    QCryptoSecret *secret = QCRYPTO_SECRET(common);

    if (secret->data && secret->file) {
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_INVALID_ARGUMENT,
                    "'data' and 'file' are both set; give exactly one");
        return false;
    }
    if (secret->file) {
        return read_secret_file(secret->file, data, len, errp);
    }
    if (!secret->data) {
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_INVALID_ARGUMENT,
                    "neither 'data' nor 'file' is set; give exactly one");
        return false;
    }
    *len = strlen(secret->data);
    *data = (guint8 *)g_strndup(secret->data, *len);
    /* The value now lives in the base; this copy is no longer needed. */
    qcrypto_secret_free_text(secret->data);
    secret->data = NULL;
    return true;
}

static void qcrypto_secret_set_property(GObject *obj, guint prop_id,
                                        const GValue *value, GParamSpec *pspec)
{
    QCryptoSecret *secret = QCRYPTO_SECRET(obj);

    switch (prop_id) {
    case SECRET_PROP_DATA:
        qcrypto_secret_free_text(secret->data);
        secret->data = g_value_dup_string(value);
        break;
    case SECRET_PROP_FILE:
        g_free(secret->file);
        secret->file = g_value_dup_string(value);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, prop_id, pspec);
    }
}

static void qcrypto_secret_get_property(GObject *obj, guint prop_id,
                                        GValue *value, GParamSpec *pspec)
{
    QCryptoSecret *secret = QCRYPTO_SECRET(obj);

    switch (prop_id) {
    case SECRET_PROP_FILE:
        g_value_set_string(value, secret->file);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, prop_id, pspec);
    }
}

static void qcrypto_secret_finalize(GObject *obj)
{
    QCryptoSecret *secret = QCRYPTO_SECRET(obj);

    qcrypto_secret_free_text(secret->data);
    g_free(secret->file);
    G_OBJECT_CLASS(qcrypto_secret_parent_class)->finalize(obj);
}

static void qcrypto_secret_class_init(QCryptoSecretClass *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);
    QCryptoSecretCommonClass *sc = QCRYPTO_SECRET_COMMON_CLASS(klass);
    GParamSpec *props[SECRET_N_PROPS] = { NULL };

    oc->set_property = qcrypto_secret_set_property;
    oc->get_property = qcrypto_secret_get_property;
    oc->finalize = qcrypto_secret_finalize;
    sc->load_data = qcrypto_secret_load_data;

    /* Write-only: nothing can read the value back through a property. */
    props[SECRET_PROP_DATA] = g_param_spec_string(
        "data", "Data", "The value itself (prefer file=)", NULL,
        G_PARAM_WRITABLE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
    props[SECRET_PROP_FILE] = g_param_spec_string(
        "file", "File", "Path of a file holding the value", NULL,
        G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
    g_object_class_install_properties(oc, SECRET_N_PROPS, props);
}

static void qcrypto_secret_init(QCryptoSecret *secret)
{
}

/* ---- Lookup ----------------------------------------------------------- */

guint8 *qcrypto_secret_lookup(const char *secretid, size_t *len, GError **errp)
{
    g_autoptr(QCryptoSecretCommon) secret = NULL;

    g_return_val_if_fail(secretid != NULL && len != NULL, NULL);

    secret = qom_object_ref_typed(secretid, QCRYPTO_TYPE_SECRET_COMMON, errp);
    if (!secret) {
        return NULL;
    }
    return qcrypto_secret_common_get_value(secret, len);
}

char *qcrypto_secret_lookup_as_utf8(const char *secretid, GError **errp)
{
    const char *end = NULL;
    size_t len = 0;
    guint8 *value = qcrypto_secret_lookup(secretid, &len, errp);

    if (!value) {
        return NULL;
    }
    if (!g_utf8_validate((const char *)value, (gssize)len, &end)) {
        size_t offset = (size_t)((const guint8 *)end - value);
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_DECODE,
                    "secret '%s' is not valid UTF-8 text (%s at byte %zu); "
                    "give text, or a value the user of this secret takes "
                    "as bytes",
                    secretid, value[offset] ? "invalid sequence" : "NUL byte",
                    offset);
        qcrypto_secret_free(value, len);
        return NULL;
    }
    return (char *)value;
}

/* ---- Registration ----------------------------------------------------- */

void qcrypto_secret_register_types(void)
{
    qom_type_set_description(QCRYPTO_TYPE_SECRET_COMMON, "a secret");
    qom_type_register("secret", QCRYPTO_TYPE_SECRET);
    qom_type_set_description(QCRYPTO_TYPE_SECRET,
                             "a secret given as data= or in a file=");
    qom_type_register("secret_keyring", QCRYPTO_TYPE_SECRET_KEYRING);
    qom_type_set_description(QCRYPTO_TYPE_SECRET_KEYRING,
                             "a secret in the kernel key ring");
}
