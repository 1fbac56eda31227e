/*
 * Secrets: passwords and keys that other objects take by id, so that the
 * value itself never has to appear on a command line.
 *
 *   --object secret,id=sec0,file=/run/qio/tls-key-password
 *   --object secret,id=sec0,data=bGV0bWVpbg==,format=base64
 *   --object secret,id=master0,file=/run/qio/master.key,format=raw
 *   --object secret,id=sec1,data=<base64 ciphertext>,keyid=master0,
 *            iv=<base64 of 16 bytes>
 *   --object secret_keyring,id=sec2,serial=1071554681
 *
 * QCryptoSecretCommon is the abstract base that both kinds of secret
 * share: it turns the raw bytes its subclass loads (from data= or file=
 * for "secret", from the kernel key ring for "secret_keyring") into the
 * final value, in this order:
 *
 *   1. keyid= set: the loaded bytes are the base64 text of an AES-256-CBC
 *      ciphertext with PKCS#7 padding, encrypted with the 32-byte value of
 *      the secret named by keyid= (the master key) and the 16-byte iv=
 *      (base64).  They are decoded and decrypted, and the padding is
 *      checked in full.
 *   2. format=base64: the bytes from step 1 (the plaintext, or the loaded
 *      bytes when there is no keyid) are base64 text and are decoded.
 *      format=raw (the default) takes them as they are.
 *
 * Base64 text is the standard alphabet with '=' padding, its length a
 * multiple of 4; trailing whitespace (a final newline in a file) is
 * ignored, any other stray character is an error.  Raw values are taken
 * byte for byte, trailing newline included.
 *
 * All of this happens once, when the object completes (GInitable init);
 * afterwards the value is immutable and lookups only copy it.  A secret
 * with keyid= records itself as a user of its master key, so the master
 * key cannot be deleted while the secret exists.  Secret bytes are wiped
 * before their memory is freed, and no property or message shows them.
 *
 * Errors are in the QCRYPTO_ERROR domain (include/crypto/error.h):
 * QCRYPTO_ERROR_INVALID_ARGUMENT for wrong or missing properties,
 * QCRYPTO_ERROR_FILE for unreadable files and kernel keys,
 * QCRYPTO_ERROR_DECODE for bad base64, a ciphertext that is not whole AES
 * blocks, or (at lookup) text that is not UTF-8, and
 * QCRYPTO_ERROR_DECRYPT when the padding check fails after decryption
 * (the key or the iv is wrong).  Messages name the secret's id (through
 * the object layer's "object 'sec0': " prefix, or in the lookup's own
 * text) and never contain its value.
 */
#pragma once

#include <glib-object.h>
#include <stdbool.h>
#include <stddef.h>

G_BEGIN_DECLS

/* The largest secret accepted from a file or a kernel key, in bytes. */
#define QCRYPTO_SECRET_MAX_SIZE (1024 * 1024)

/* How the (decrypted) bytes are encoded: format=raw|base64. */
typedef enum {
    QCRYPTO_SECRET_FORMAT_RAW,
    QCRYPTO_SECRET_FORMAT_BASE64,
} QCryptoSecretFormat;

GType qcrypto_secret_format_get_type(void);
#define QCRYPTO_TYPE_SECRET_FORMAT (qcrypto_secret_format_get_type())

/* ---- The abstract base ------------------------------------------------ */

#define QCRYPTO_TYPE_SECRET_COMMON (qcrypto_secret_common_get_type())
G_DECLARE_DERIVABLE_TYPE(QCryptoSecretCommon, qcrypto_secret_common, QCRYPTO,
                         SECRET_COMMON, GObject)

struct _QCryptoSecretCommonClass {
    GObjectClass parent_class;

    /*
     * Load the bytes as stored (before decryption and decoding) into a
     * g_malloc'd buffer; the base wipes and frees it.  Messages name the
     * source (the file path, the key serial) but never the bytes.  Called
     * once, from GInitable init.
     */
    bool (*load_data)(QCryptoSecretCommon *secret, guint8 **data, size_t *len,
                      GError **errp);
};

/*
 * Properties of the base (both kinds):
 *   format  raw | base64 (default raw): the encoding of the value, after
 *           decryption when keyid is set
 *   keyid   id of another secret holding a 32-byte AES-256 key that the
 *           value is encrypted with
 *   iv      base64 of the 16-byte AES-CBC initialisation vector; required
 *           with keyid and refused without it
 */

/*
 * The id of @secret for messages: its object id, or "(unnamed)" for one
 * made without the object layer.
 */
const char *qcrypto_secret_common_get_name(QCryptoSecretCommon *secret);

/*
 * A copy of the value of a completed secret, in a g_malloc'd buffer with
 * a NUL byte after the @len bytes (not counted), so text can be used as a
 * C string.  Release with qcrypto_secret_free().
 */
guint8 *qcrypto_secret_common_get_value(QCryptoSecretCommon *secret,
                                        size_t *len);

/* ---- "secret": data= or file= ----------------------------------------- */

/*
 *   data    the value itself (write-only: reading it gives nothing)
 *   file    path of a file holding the value
 * Exactly one of them must be given.
 */
#define QCRYPTO_TYPE_SECRET (qcrypto_secret_get_type())
G_DECLARE_FINAL_TYPE(QCryptoSecret, qcrypto_secret, QCRYPTO, SECRET,
                     QCryptoSecretCommon)

/* ---- Lookup by id ----------------------------------------------------- */

/*
 * The value of the secret @secretid (of either kind) as a g_malloc'd
 * buffer of *@len bytes, followed by a NUL byte that is not counted.  The
 * caller wipes and frees it: qcrypto_secret_free(buf, len).
 *
 *   --object secret,id=sec0,file=/run/qio/key
 *   --object tls-creds-x509,id=tls0,...,passwordid=sec0
 *
 * Fails with QOM_ERROR_NOT_FOUND when there is no object @secretid and
 * QOM_ERROR_WRONG_TYPE when it is not a secret ("object 'tls0' is a
 * 'tls-creds-x509', not a secret").
 */
guint8 *qcrypto_secret_lookup(const char *secretid, size_t *len, GError **errp);

/*
 * As qcrypto_secret_lookup(), for values that are text: fails with
 * QCRYPTO_ERROR_DECODE, naming the secret, when the value is not valid
 * UTF-8 or contains a NUL byte.  Release with qcrypto_secret_free_text().
 */
char *qcrypto_secret_lookup_as_utf8(const char *secretid, GError **errp);

/* ---- Wiping ----------------------------------------------------------- */

/* Overwrite @len bytes at @buf with zeros in a way the compiler keeps. */
void qcrypto_secret_wipe(void *buf, size_t len);

/* Wipe @len bytes at @buf, then g_free() it.  NULL is allowed. */
void qcrypto_secret_free(void *buf, size_t len);

/* Wipe a NUL-terminated string, then g_free() it.  NULL is allowed. */
void qcrypto_secret_free_text(char *text);

/*
 * Register "secret" and "secret_keyring" with the object layer and
 * describe the abstract base as "a secret", so that a lookup of the wrong
 * kind of object says "object 'tls0' is a 'tls-creds-x509', not a
 * secret".  Idempotent.
 */
void qcrypto_secret_register_types(void);

G_END_DECLS
