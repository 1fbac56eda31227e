/*
 * PKI minting: keys, certificates, CRLs and PSK files made in process with
 * the gnutls API.
 *
 * One request struct describes a certificate (names, SANs, usages and their
 * criticality, validity relative to now); the same code serves qio-pki,
 * which writes a complete credentials directory for administrators, and
 * the tests, which build a matrix of good and deliberately bad
 * certificates from a table instead of a folder of PEM files.
 *
 * Errors are in QCRYPTO_ERROR: QCRYPTO_ERROR_INVALID_ARGUMENT for a bad
 * request, QCRYPTO_ERROR_FILE for a file that cannot be read or written,
 * QCRYPTO_ERROR_EXISTS for a target that is already there.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

G_BEGIN_DECLS

typedef enum {
    QCRYPTO_PKI_KEY_ECDSA_P256, /* the default: fast, TLS 1.3 friendly */
    QCRYPTO_PKI_KEY_RSA,        /* key_bits, default 3072 */
} QCryptoPKIKeyType;

/* Tri-state for an optional extension. */
typedef enum {
    QCRYPTO_PKI_EXT_ABSENT,
    QCRYPTO_PKI_EXT_NONCRITICAL,
    QCRYPTO_PKI_EXT_CRITICAL,
} QCryptoPKIExt;

typedef struct {
    const char *common_name;      /* subject CN; required */
    const char *organization;     /* subject O; optional */
    const char *const *dns_names; /* SAN dNSName, NULL-terminated; optional */
    const char *const *ip_addrs;  /* SAN iPAddress (v4 or v6 text) */

    /* basicConstraints: CA:TRUE/FALSE, path length (-1: none). */
    QCryptoPKIExt basic_constraints;
    bool is_ca;
    int path_len;

    /* keyUsage: GNUTLS_KEY_* bits. */
    QCryptoPKIExt key_usage;
    unsigned int key_usage_bits;

    /* extendedKeyUsage: OIDs such as GNUTLS_KP_TLS_WWW_SERVER. */
    QCryptoPKIExt key_purpose;
    const char *const *key_purpose_oids;

    /*
     * Validity in seconds relative to now: activation = now + start_offset,
     * expiry = now + expire_offset.  Both zero means "one hour ago" and
     * "ten years from now".
     */
    int64_t start_offset;
    int64_t expire_offset;

    QCryptoPKIKeyType key_type;
    unsigned int key_bits; /* RSA only; 0: default */
    uint64_t serial;       /* 0: random */
} QCryptoPKICertReq;

/* A certificate with its private key. */
typedef struct QCryptoPKICert QCryptoPKICert;

/*
 * Make a key and a certificate from @req, signed by @issuer (NULL: self-
 * signed).  Fails on an invalid request (no CN, bad IP text) with a message
 * naming the field.
 */
QCryptoPKICert *qcrypto_pki_cert_new(const QCryptoPKICertReq *req,
                                     QCryptoPKICert *issuer, GError **errp);
void qcrypto_pki_cert_free(QCryptoPKICert *cert);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QCryptoPKICert, qcrypto_pki_cert_free)

/* PEM text; caller frees. */
char *qcrypto_pki_cert_get_pem(QCryptoPKICert *cert, GError **errp);
/*
 * The private key as PEM: plain PKCS#8 when @password is NULL, else PKCS#8
 * encrypted with it (AES-256, PBKDF2) — what passwordid= decrypts.
 */
char *qcrypto_pki_key_get_pem(QCryptoPKICert *cert, const char *password,
                              GError **errp);

/*
 * Write PEM files; keys are created mode 0600, certificates 0644.  The
 * file is written beside @path and renamed over it, so it is replaced
 * whole (a symlink at @path is replaced, not followed).
 */
bool qcrypto_pki_cert_write(QCryptoPKICert *cert, const char *path,
                            GError **errp);
bool qcrypto_pki_key_write(QCryptoPKICert *cert, const char *path,
                           const char *password, GError **errp);
/* Append the certificate's PEM to @path (building a CA bundle). */
bool qcrypto_pki_cert_append(QCryptoPKICert *cert, const char *path,
                             GError **errp);

/* A CRL issued by @issuer revoking @revoked[0..nrevoked-1], as PEM file. */
bool qcrypto_pki_crl_write(QCryptoPKICert *issuer,
                           QCryptoPKICert *const *revoked, size_t nrevoked,
                           const char *path, GError **errp);

/*
 * Append "username:hexkey" to a PSK keys file (created 0600).  @key of
 * @keylen bytes; NULL generates 32 random bytes.  Usernames may not contain
 * ':' or newlines.
 */
bool qcrypto_pki_psk_append(const char *path, const char *username,
                            const guint8 *key, size_t keylen, GError **errp);

/*
 * Load a certificate and its private key from PEM files, e.g. a CA kept
 * by qio-pki so that more certificates can be issued with it later.
 * @password decrypts an encrypted PKCS#8 key; NULL for a plain key.
 *
 *   qio-pki client /etc/pki/qio alice   (loads ca-cert.pem + ca-key.pem)
 */
QCryptoPKICert *qcrypto_pki_cert_load(const char *cert_path,
                                      const char *key_path,
                                      const char *password, GError **errp);

/*
 * Read a key password from @path, byte for byte as QEMU's secret object
 * reads its file= (a trailing newline is part of the password).  Empty
 * files, NUL bytes, invalid UTF-8 and files over 4 KiB are errors.  The
 * result is wiped and freed by the caller.
 *
 *   qio-pki init DIR --hostname h --key-password-file /run/pw
 *   qemu-nbd --object secret,id=sec0,file=/run/pw ...
 */
char *qcrypto_pki_read_password_file(const char *path, GError **errp);

/*
 * What qio-pki writes.  A credentials directory in QEMU's layout holds
 *   ca-cert.pem                     the CA certificate (0644)
 *   ca-key.pem                      the CA key (0600), unless @ca_dir
 *   server-cert.pem server-key.pem  endpoint=server
 *   client-cert.pem client-key.pem  endpoint=client
 *   keys.psk                        "user:hexkey" lines for tls-creds-psk
 * and is used as
 *   --object tls-creds-x509,id=tls0,endpoint=server,dir=DIR
 * With @ca_dir, ca-cert.pem and ca-key.pem go there and DIR receives a
 * copy of ca-cert.pem only, so the CA key never sits next to a server.
 */
typedef struct {
    const char *dir;                 /* the credentials directory */
    const char *ca_dir;              /* NULL: CA key in @dir */
    const char *ca_name;             /* CA CN; NULL: derived from names */
    const char *organization;        /* subject O of every cert; optional */
    const char *const *hostnames;    /* server SAN dNSName; CN = first */
    const char *const *ip_addrs;     /* server SAN iPAddress */
    const char *client_name;         /* client CN; NULL: no client cert */
    const char *client_dir;          /* add_client: see there */
    const char *server_key_password; /* NULL: server key unencrypted */
    const char *const *psk_users;    /* keys.psk users; NULL: none */
    QCryptoPKIKeyType key_type;      /* for every key made */
    unsigned int key_bits;           /* RSA only; 0: default */
    unsigned int days;               /* leaf validity; 0: 3650 */
    bool force;                      /* replace existing files */
} QCryptoPKIDirOptions;

/*
 * Create a CA and write a complete directory: the CA, a server
 * certificate for @hostnames and @ip_addrs (at least one is required),
 * a client certificate when @client_name is set, and keys.psk when
 * @psk_users is set.  The CA is valid for at least ten years, the others
 * for @days.  Without @force no file is touched when any target exists
 * (QCRYPTO_ERROR_EXISTS naming it); directories are created as needed
 * (@ca_dir 0700).
 *
 *   qio-pki init /etc/pki/qio --hostname db1.example.org --ip 127.0.0.1 \
 *       --client-name client1
 */
bool qcrypto_pki_dir_init(const QCryptoPKIDirOptions *opts, GError **errp);

/*
 * Issue a new server certificate signed by the CA kept in @ca_dir (or
 * @dir), replacing server-cert.pem and server-key.pem in @dir only with
 * @force.  For renewing or re-naming a server.
 *
 *   qio-pki server /etc/pki/qio --hostname db2.example.org --force
 */
bool qcrypto_pki_dir_add_server(const QCryptoPKIDirOptions *opts,
                                GError **errp);

/*
 * Issue a client certificate with CN @client_name signed by the CA kept
 * in @ca_dir (or @dir).  With @client_dir NULL it is written into @dir
 * as NAME-cert.pem and NAME-key.pem; otherwise @client_dir becomes a
 * complete client directory: ca-cert.pem, client-cert.pem, client-key.pem.
 * Validity is @days, cut to the CA's own expiry.
 *
 *   qio-pki client /etc/pki/qio alice --out-dir /home/alice/.pki/qio
 */
bool qcrypto_pki_dir_add_client(const QCryptoPKIDirOptions *opts,
                                GError **errp);

/*
 * Add a random 32-byte key for each of @psk_users to @dir/keys.psk
 * (created 0600).  A user already in the file is an error
 * (QCRYPTO_ERROR_EXISTS) unless @force, which replaces that user's key.
 *
 *   qio-pki psk /etc/qio/psk alice
 *   --object tls-creds-psk,id=tls0,endpoint=server,dir=/etc/qio/psk
 */
bool qcrypto_pki_dir_add_psk(const QCryptoPKIDirOptions *opts, GError **errp);

G_END_DECLS
