/*
 * The "secret_keyring" object (see include/crypto/secret-keyring.h): a
 * secret whose bytes are the payload of a Linux kernel key, read with
 * keyctl(KEYCTL_READ).  The system call is made directly so that the
 * library needs no libkeyutils.
 *
 * KEYCTL_READ returns the payload's full size whatever the buffer size,
 * so the payload is read into a buffer of the size it reported and read
 * again if it grew in between (keys can be updated at any time).  Every
 * buffer that held the payload is wiped before it is freed.
 */
#include "crypto/secret-keyring.h"

#include <errno.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/keyctl.h>

#include "crypto/error.h"

struct _QCryptoSecretKeyring {
    QCryptoSecretCommon parent;
    gint32 serial;
};

enum {
    PROP_0,
    PROP_SERIAL,
    N_PROPS,
};

G_DEFINE_TYPE(QCryptoSecretKeyring, qcrypto_secret_keyring,
              QCRYPTO_TYPE_SECRET_COMMON)

gint32 qcrypto_secret_keyring_get_serial(QCryptoSecretKeyring *secret)
{
    g_return_val_if_fail(QCRYPTO_IS_SECRET_KEYRING(secret), 0);
    return secret->serial;
}

static long keyctl_read(gint32 serial, guint8 *buf, size_t len)
{
    return syscall(SYS_keyctl, KEYCTL_READ, (long)serial, buf, len);
}

/* What to tell the user for each way KEYCTL_READ fails. */
static const char *keyctl_hint(int err)
{
    switch (err) {
    case ENOKEY:
        return "; check the serial (keyctl show @u, keyctl show @s)";
    case EKEYEXPIRED:
    case EKEYREVOKED:
        return "; add the key again and pass its new serial";
    case EACCES:
        return "; the key must grant read permission to this process "
               "(keyctl setperm, or link it into a key ring the process "
               "possesses)";
    case ENOSYS:
    case EPERM:
        return "; the kernel key ring is not available here (a seccomp "
               "filter, as in many containers, may block keyctl)";
    default:
        return "";
    }
}

static bool qcrypto_secret_keyring_load_data(QCryptoSecretCommon *common,
                                             guint8 **data, size_t *len,
                                             GError **errp)
{
    QCryptoSecretKeyring *secret = QCRYPTO_SECRET_KEYRING(common);
    guint8 *buf = NULL;
    size_t cap = 0;
    long n;

    if (secret->serial <= 0) {
        g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_INVALID_ARGUMENT,
                    "'serial' is not set; give the serial number of the "
                    "kernel key holding the secret");
        return false;
    }
    for (;;) {
        n = keyctl_read(secret->serial, buf, cap);
        if (n < 0) {
            int err = errno;
            g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_FILE,
                        "cannot read kernel key %" G_GINT32_FORMAT ": %s%s",
                        secret->serial, g_strerror(err), keyctl_hint(err));
            qcrypto_secret_free(buf, cap);
            return false;
        }
        if ((size_t)n > QCRYPTO_SECRET_MAX_SIZE) {
            g_set_error(errp, QCRYPTO_ERROR, QCRYPTO_ERROR_FILE,
                        "kernel key %" G_GINT32_FORMAT " is larger than "
                        "the %d-byte limit for secrets",
                        secret->serial, QCRYPTO_SECRET_MAX_SIZE);
            qcrypto_secret_free(buf, cap);
            return false;
        }
        if (buf && (size_t)n <= cap) {
            break;
        }
        /* First call, or the key grew since: make room and read again. */
        qcrypto_secret_free(buf, cap);
        cap = (size_t)n;
        buf = g_malloc(cap + 1);
    }
    buf[n] = '\0';
    *data = buf;
    *len = (size_t)n;
    return true;
}

static void qcrypto_secret_keyring_set_property(GObject *obj, guint prop_id,
                                                const GValue *value,
                                                GParamSpec *pspec)
{
    QCryptoSecretKeyring *secret = QCRYPTO_SECRET_KEYRING(obj);

    switch (prop_id) {
    case PROP_SERIAL:
        secret->serial = g_value_get_int(value);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, prop_id, pspec);
    }
}

static void qcrypto_secret_keyring_get_property(GObject *obj, guint prop_id,
                                                GValue *value,
                                                GParamSpec *pspec)
{
    QCryptoSecretKeyring *secret = QCRYPTO_SECRET_KEYRING(obj);

    switch (prop_id) {
    case PROP_SERIAL:
        g_value_set_int(value, secret->serial);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, prop_id, pspec);
    }
}

static void qcrypto_secret_keyring_class_init(QCryptoSecretKeyringClass *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);
    QCryptoSecretCommonClass *sc = QCRYPTO_SECRET_COMMON_CLASS(klass);
    GParamSpec *props[N_PROPS] = { NULL };

    oc->set_property = qcrypto_secret_keyring_set_property;
    oc->get_property = qcrypto_secret_keyring_get_property;
    sc->load_data = qcrypto_secret_keyring_load_data;

    /* 0 stands for "not set"; negative serials name key rings, not keys. */
    props[PROP_SERIAL] = g_param_spec_int(
        "serial", "Serial", "Serial number of the kernel key", 0, G_MAXINT32, 0,
        G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
    g_object_class_install_properties(oc, N_PROPS, props);
}

static void qcrypto_secret_keyring_init(QCryptoSecretKeyring *secret)
{
}
