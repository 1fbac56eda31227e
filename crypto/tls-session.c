/*
 * QCryptoTLSSession: a gnutls session bound to one set of credentials,
 * with the checks qio adds on top of gnutls's handshake.
 *
 * gnutls does the protocol; this file decides who may talk.  After the
 * handshake it verifies the peer certificate chain against the CA file,
 * matches the expected host name, applies the key usage rules (a critical
 * extension that excludes the role fails, a non-critical one is traced),
 * asks the authorization object about the client's identity, and turns
 * every gnutls failure into a QCRYPTO_ERROR code with a message that names
 * the role, the credentials and the peer and says what to change.  Nothing
 * here logs key material: the trace shows versions, ciphers and names.
 */
#define G_LOG_DOMAIN "qio-tls"

#include "crypto/tls-session.h"

#include <errno.h>
#include <string.h>
#include <sys/uio.h>

#include <gio/gio.h>
#include <gnutls/gnutls.h>
/* Only for gnutls_transport_is_ktls_enabled(): no socket calls here. */
#include <gnutls/socket.h>
#include <gnutls/x509.h>

#include "authz/base.h"
#include "qom/object.h"
#include "util/cutils.h"
#include "util/error.h"

struct QCryptoTLSSession {
    gnutls_session_t gs;
    QCryptoTLSCreds *creds;
    QCryptoTLSCredsHandle *handle;
    gnutls_credentials_type_t type;
    QCryptoTLSCredsEndpoint endpoint;
    bool verify_peer;
    char *hostname;
    char *authzid;
    char *label;
    char *peer_name;

    QCryptoTLSSessionPushFunc push;
    QCryptoTLSSessionPullFunc pull;
    void *opaque;
    bool have_transport;
    /* errno of the last failed push / pull, for messages. */
    int push_errno;
    int pull_errno;

    bool handshake_done;
    /*
     * The descriptor gnutls uses itself (qcrypto_tls_session_set_fd()),
     * or -1; and the callbacks that take over the records the kernel does
     * not handle once the handshake is done (set_data_callbacks).
     */
    int fd;
    QCryptoTLSSessionPushvFunc data_pushv;
    QCryptoTLSSessionPullFunc data_pull;
    QCryptoTLSSessionPullTimeoutFunc data_pull_timeout;
    void *data_opaque;
    /*
     * Plaintext bytes of a record gnutls encrypted but could not send yet;
     * the next write flushes it and reports them as written.
     */
    size_t send_pending;
};

static bool is_server(QCryptoTLSSession *sess)
{
    return sess->endpoint == QCRYPTO_TLS_CREDS_ENDPOINT_SERVER;
}

static const char *role_name(QCryptoTLSSession *sess)
{
    return is_server(sess) ? "server" : "client";
}

static const char *peer_role_name(QCryptoTLSSession *sess)
{
    return is_server(sess) ? "client" : "server";
}

/*
 * "TLS client (credentials 'tls0', peer socket to 127.0.0.1:10809)": the
 * prefix of every message, so that a log line says which connection and
 * which configuration it is about.
 */
static char *describe(QCryptoTLSSession *sess)
{
    const char *id = qom_object_get_id(G_OBJECT(sess->creds));
    GString *str = g_string_new(NULL);

    const char *sep = " (";

    g_string_append_printf(str, "TLS %s", role_name(sess));
    if (id) {
        g_string_append_printf(str, "%scredentials '%s'", sep, id);
        sep = ", ";
    }
    if (sess->label) {
        g_string_append_printf(str, "%speer %s", sep, sess->label);
        sep = ", ";
    } else if (sess->hostname && !is_server(sess)) {
        g_string_append_printf(str, "%sserver '%s'", sep, sess->hostname);
        sep = ", ";
    }
    if (*sep == ',') {
        g_string_append_c(str, ')');
    }
    return g_string_free(str, FALSE);
}

static void G_GNUC_PRINTF(4, 5)
    session_error(QCryptoTLSSession *sess, GError **errp, int code,
                  const char *fmt, ...)
{
    g_autofree char *prefix = describe(sess);
    g_autofree char *msg = NULL;
    va_list ap;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(errp, QCRYPTO_ERROR, code, "%s: %s", prefix, msg);
}

/* A path inside the credentials directory, for messages. */
static char *creds_file(QCryptoTLSSession *sess, const char *name)
{
    const char *dir = qcrypto_tls_creds_get_dir(sess->creds);

    return g_build_filename(dir ? dir : ".", name, NULL);
}

/* ---- Transport ---------------------------------------------------------- */

static ssize_t session_push(gnutls_transport_ptr_t ptr, const void *buf,
                            size_t len)
{
    QCryptoTLSSession *sess = ptr;
    ssize_t ret = sess->push(buf, len, sess->opaque);

    if (ret < 0) {
        int err = errno;

        sess->push_errno = err;
        gnutls_transport_set_errno(sess->gs, err);
    }
    return ret;
}

static ssize_t session_pull(gnutls_transport_ptr_t ptr, void *buf, size_t len)
{
    QCryptoTLSSession *sess = ptr;
    ssize_t ret = sess->pull(buf, len, sess->opaque);

    if (ret < 0) {
        int err = errno;

        sess->pull_errno = err;
        gnutls_transport_set_errno(sess->gs, err);
    }
    return ret;
}

void qcrypto_tls_session_set_callbacks(QCryptoTLSSession *sess,
                                       QCryptoTLSSessionPushFunc push,
                                       QCryptoTLSSessionPullFunc pull,
                                       void *opaque)
{
    g_return_if_fail(!sess->have_transport);
    sess->push = push;
    sess->pull = pull;
    sess->opaque = opaque;
    sess->have_transport = true;
    gnutls_transport_set_ptr(sess->gs, sess);
    gnutls_transport_set_push_function(sess->gs, session_push);
    gnutls_transport_set_pull_function(sess->gs, session_pull);
}

void qcrypto_tls_session_set_fd(QCryptoTLSSession *sess, int fd)
{
    g_return_if_fail(!sess->have_transport);
    sess->have_transport = true;
    /*
     * gnutls's own socket functions: they are what lets it hand the keys
     * to the kernel after the handshake when kernel TLS is enabled.
     */
    gnutls_transport_set_int(sess->gs, fd);
    sess->fd = fd;
}

static ssize_t session_pushv(gnutls_transport_ptr_t ptr, const giovec_t *iov,
                             int iovcnt)
{
    QCryptoTLSSession *sess = ptr;
    ssize_t ret;

    G_STATIC_ASSERT(sizeof(giovec_t) == sizeof(struct iovec));
    ret =
        sess->data_pushv((const struct iovec *)iov, iovcnt, sess->data_opaque);
    if (ret < 0) {
        int err = errno;

        sess->push_errno = err;
        gnutls_transport_set_errno(sess->gs, err);
    }
    return ret;
}

static ssize_t session_data_pull(gnutls_transport_ptr_t ptr, void *buf,
                                 size_t len)
{
    QCryptoTLSSession *sess = ptr;
    ssize_t ret = sess->data_pull(buf, len, sess->data_opaque);

    if (ret < 0) {
        int err = errno;

        sess->pull_errno = err;
        gnutls_transport_set_errno(sess->gs, err);
    }
    return ret;
}

static int session_pull_timeout(gnutls_transport_ptr_t ptr, unsigned int ms)
{
    QCryptoTLSSession *sess = ptr;

    return sess->data_pull_timeout(
        ms == GNUTLS_INDEFINITE_TIMEOUT ? -1 : (int)MIN(ms, G_MAXINT),
        sess->data_opaque);
}

void qcrypto_tls_session_set_data_callbacks(
    QCryptoTLSSession *sess, QCryptoTLSSessionPushvFunc pushv,
    QCryptoTLSSessionPullFunc pull,
    QCryptoTLSSessionPullTimeoutFunc pull_timeout, void *opaque)
{
    g_return_if_fail(sess->fd >= 0 && !sess->handshake_done);
    sess->data_pushv = pushv;
    sess->data_pull = pull;
    sess->data_pull_timeout = pull_timeout;
    sess->data_opaque = opaque;
}

/*
 * After the handshake of a session on a descriptor: the directions the
 * kernel did not take go through the data callbacks from now on.  The
 * pull side moves only when the kernel took neither direction (as the
 * push side, gnutls's own write on the descriptor stays with a kernel
 * that took the receive side).
 */
static void data_callbacks_start(QCryptoTLSSession *sess)
{
    int ktls = gnutls_transport_is_ktls_enabled(sess->gs);
    bool pull = sess->data_pull && !(ktls & GNUTLS_KTLS_RECV);
    bool push = pull && sess->data_pushv && !(ktls & GNUTLS_KTLS_SEND);

    if (!pull) {
        return;
    }
    gnutls_transport_set_pull_function(sess->gs, session_data_pull);
    gnutls_transport_set_pull_timeout_function(sess->gs, session_pull_timeout);
    if (push) {
        gnutls_transport_set_vec_push_function(sess->gs, session_pushv);
    }
    gnutls_transport_set_ptr2(sess->gs, sess,
                              push
                                  ? (gnutls_transport_ptr_t)sess
                                  : (gnutls_transport_ptr_t)(intptr_t)sess->fd);
}

void qcrypto_tls_session_set_peer_label(QCryptoTLSSession *sess,
                                        const char *label)
{
    g_free(sess->label);
    sess->label = g_strdup(label);
}

/* ---- Creation ----------------------------------------------------------- */

/*
 * The credentials compose the whole string, key exchanges for PSK and
 * anonymous sessions included.
 */
static char *session_priority(QCryptoTLSSession *sess)
{
    return qcrypto_tls_creds_get_priority(sess->creds);
}

static bool hostname_is_ip(const char *hostname)
{
    return g_hostname_is_ip_address(hostname);
}

QCryptoTLSSession *qcrypto_tls_session_new(QCryptoTLSCreds *creds,
                                           const char *hostname,
                                           const char *authzid,
                                           QCryptoTLSCredsEndpoint endpoint,
                                           GError **errp)
{
    g_autoptr(QCryptoTLSSession) sess = NULL;
    g_autofree char *prio = NULL;
    const char *errpos = NULL;
    unsigned int flags;
    int ret;

    g_return_val_if_fail(QCRYPTO_IS_TLS_CREDS(creds), NULL);

    if (!qcrypto_tls_creds_check_endpoint(creds, endpoint, errp)) {
        return NULL;
    }

    sess = g_new0(QCryptoTLSSession, 1);
    sess->fd = -1;
    sess->creds = g_object_ref(creds);
    sess->endpoint = endpoint;
    sess->verify_peer = qcrypto_tls_creds_get_verify_peer(creds);
    if (!is_server(sess)) {
        sess->hostname = g_strdup(hostname);
    } else {
        sess->authzid = g_strdup(authzid);
    }

    sess->handle = qcrypto_tls_creds_get_handle(creds);
    if (!sess->handle) {
        session_error(sess, errp, QCRYPTO_ERROR_INVALID_ARGUMENT,
                      "the credentials are not loaded");
        return NULL;
    }
    sess->type = qcrypto_tls_creds_handle_get_type(sess->handle);

    if (!is_server(sess) && sess->type == GNUTLS_CRD_CERTIFICATE &&
        sess->verify_peer && (!hostname || !*hostname)) {
        session_error(sess, errp, QCRYPTO_ERROR_INVALID_ARGUMENT,
                      "no host name to check the server certificate "
                      "against; give the name the server certificate "
                      "carries (tls-hostname= for UNIX sockets)");
        return NULL;
    }

    flags = is_server(sess) ? GNUTLS_SERVER : GNUTLS_CLIENT;
    ret = gnutls_init(&sess->gs, flags | GNUTLS_NO_SIGNAL);
    if (ret < 0) {
        sess->gs = NULL;
        session_error(sess, errp, QCRYPTO_ERROR_FAILED,
                      "cannot create a TLS session: %s", gnutls_strerror(ret));
        return NULL;
    }

    prio = session_priority(sess);
    ret = gnutls_priority_set_direct(sess->gs, prio, &errpos);
    if (ret < 0) {
        session_error(sess, errp, QCRYPTO_ERROR_INVALID_ARGUMENT,
                      "cannot use the priority string '%s'%s%s%s: %s", prio,
                      errpos ? " (at '" : "", errpos ? errpos : "",
                      errpos ? "')" : "", gnutls_strerror(ret));
        return NULL;
    }

    ret = gnutls_credentials_set(
        sess->gs, sess->type,
        qcrypto_tls_creds_handle_get_gnutls(sess->handle));
    if (ret < 0) {
        session_error(sess, errp, QCRYPTO_ERROR_FAILED,
                      "cannot use the credentials: %s", gnutls_strerror(ret));
        return NULL;
    }

    if (sess->type == GNUTLS_CRD_CERTIFICATE) {
        if (is_server(sess) && sess->verify_peer) {
            gnutls_certificate_server_set_request(sess->gs,
                                                  GNUTLS_CERT_REQUIRE);
        }
        /* SNI, for servers that pick a certificate by name. */
        if (!is_server(sess) && hostname && *hostname &&
            !hostname_is_ip(hostname)) {
            gnutls_server_name_set(sess->gs, GNUTLS_NAME_DNS, hostname,
                                   strlen(hostname));
        }
    }
    g_debug("new TLS %s session, priority '%s'", role_name(sess), prio);
    return g_steal_pointer(&sess);
}

void qcrypto_tls_session_free(QCryptoTLSSession *sess)
{
    if (!sess) {
        return;
    }
    if (sess->gs) {
        gnutls_deinit(sess->gs);
    }
    if (sess->handle) {
        qcrypto_tls_creds_handle_unref(sess->handle);
    }
    g_clear_object(&sess->creds);
    g_free(sess->hostname);
    g_free(sess->authzid);
    g_free(sess->label);
    g_free(sess->peer_name);
    g_free(sess);
}

/* ---- Handshake ---------------------------------------------------------- */

static void send_alert(QCryptoTLSSession *sess,
                       gnutls_alert_description_t alert);

static const char *transport_errno_text(int err)
{
    return err ? g_strerror(err) : "transport failure";
}

/*
 * An alert from the peer: pick the code that says what went wrong on our
 * side of the fence, and quote the peer's reason.
 */
static void alert_error(QCryptoTLSSession *sess, GError **errp)
{
    gnutls_alert_description_t alert = gnutls_alert_get(sess->gs);
    const char *name = gnutls_alert_get_name(alert);
    int code = QCRYPTO_ERROR_HANDSHAKE;
    const char *hint = "";

    switch ((int)alert) {
    case GNUTLS_A_CERTIFICATE_REQUIRED:
        code = QCRYPTO_ERROR_NO_CERT;
        hint = "; the server requires a client certificate: put "
               "client-cert.pem and client-key.pem in the credentials "
               "directory";
        break;
    case GNUTLS_A_UNKNOWN_PSK_IDENTITY:
        code = QCRYPTO_ERROR_PSK;
        hint = "; the server does not know this PSK username";
        break;
    case GNUTLS_A_DECRYPT_ERROR:
    case GNUTLS_A_BAD_RECORD_MAC:
    case GNUTLS_A_ILLEGAL_PARAMETER:
    case GNUTLS_A_HANDSHAKE_FAILURE:
        if (sess->type == GNUTLS_CRD_PSK) {
            code = QCRYPTO_ERROR_PSK;
            hint = "; check that both ends have the same PSK username "
                   "and key";
        }
        break;
    case GNUTLS_A_ACCESS_DENIED:
        code = QCRYPTO_ERROR_AUTHZ_DENIED;
        hint = "; the server's authorization rules do not allow this "
               "client";
        break;
    case GNUTLS_A_BAD_CERTIFICATE:
    case GNUTLS_A_UNSUPPORTED_CERTIFICATE:
    case GNUTLS_A_CERTIFICATE_REVOKED:
    case GNUTLS_A_CERTIFICATE_EXPIRED:
    case GNUTLS_A_CERTIFICATE_UNKNOWN:
    case GNUTLS_A_UNKNOWN_CA:
        hint = is_server(sess) ? "; the client rejected our certificate"
                               : "; the server rejected our certificate";
        break;
    case GNUTLS_A_PROTOCOL_VERSION:
    case GNUTLS_A_INSUFFICIENT_SECURITY:
        hint = "; no TLS version or cipher suite in common: compare the "
               "priority strings of both ends";
        break;
    default:
        break;
    }
    session_error(sess, errp, code, "the %s sent a fatal alert: %s%s",
                  peer_role_name(sess), name ? name : "unknown alert", hint);
}

/*
 * A server certificate whose keyUsage forbids signatures makes gnutls
 * find "no cipher suite": say what is really wrong.  Only servers, whose
 * certificate is known before any suite is chosen.
 */
static bool own_cert_cannot_sign(QCryptoTLSSession *sess, const char *what,
                                 GError **errp)
{
    gnutls_certificate_credentials_t cred;
    gnutls_x509_crt_t *list = NULL;
    unsigned int n = 0, usage = 0, critical = 0;
    bool bad = false;

    if (!is_server(sess) || sess->type != GNUTLS_CRD_CERTIFICATE) {
        return false;
    }
    cred = qcrypto_tls_creds_handle_get_gnutls(sess->handle);
    if (gnutls_certificate_get_x509_crt(cred, 0, &list, &n) < 0) {
        return false;
    }
    if (n > 0 &&
        gnutls_x509_crt_get_key_usage(list[0], &usage, &critical) >= 0 &&
        !(usage & GNUTLS_KEY_DIGITAL_SIGNATURE)) {
        g_autofree char *path = creds_file(sess, "server-cert.pem");

        session_error(sess, errp, QCRYPTO_ERROR_CERT_USAGE,
                      "%s: our certificate %s cannot be used: its keyUsage "
                      "lacks digitalSignature, which every TLS key exchange "
                      "here needs; reissue it (sanity-check=on reports "
                      "this when the credentials load)",
                      what, path);
        bad = true;
    }
    for (unsigned int i = 0; i < n; i++) {
        gnutls_x509_crt_deinit(list[i]);
    }
    gnutls_free(list);
    return bad;
}

/*
 * Map a failed gnutls call to a QCRYPTO_ERROR.  @what says what we were
 * doing ("TLS handshake failed").
 */
static void gnutls_failure(QCryptoTLSSession *sess, int ret, const char *what,
                           GError **errp)
{
    int saved_errno = errno;
    g_autofree char *prio = NULL;

    switch (ret) {
    case GNUTLS_E_FATAL_ALERT_RECEIVED:
        alert_error(sess, errp);
        return;
    case GNUTLS_E_PREMATURE_TERMINATION:
        if (sess->handshake_done) {
            session_error(sess, errp, QCRYPTO_ERROR_TRUNCATED,
                          "the peer closed the connection without ending "
                          "the TLS session");
        } else {
            session_error(sess, errp, QCRYPTO_ERROR_HANDSHAKE,
                          "%s: the %s closed the connection during the "
                          "handshake",
                          what, peer_role_name(sess));
        }
        return;
    case GNUTLS_E_PULL_ERROR:
    case GNUTLS_E_PUSH_ERROR: {
        bool pull = ret == GNUTLS_E_PULL_ERROR;
        int err = pull ? sess->pull_errno : sess->push_errno;
        g_autofree char *prefix = describe(sess);

        /* With a socket descriptor, gnutls left the reason in errno. */
        if (!err) {
            err = saved_errno;
        }
        if (sess->handshake_done) {
            /* A transport failure keeps the transport's error code. */
            qio_error_setg_errno(errp, err ? err : EIO, "%s: cannot %s the %s",
                                 prefix, pull ? "read from" : "write to",
                                 peer_role_name(sess));
        } else {
            session_error(sess, errp, QCRYPTO_ERROR_HANDSHAKE,
                          "%s: cannot %s the %s: %s", what,
                          pull ? "read from" : "write to", peer_role_name(sess),
                          transport_errno_text(err));
        }
        return;
    }
    case GNUTLS_E_NO_CERTIFICATE_FOUND:
    case GNUTLS_E_CERTIFICATE_REQUIRED:
        if (is_server(sess)) {
            g_autofree char *ca = creds_file(sess, "ca-cert.pem");

            session_error(sess, errp, QCRYPTO_ERROR_NO_CERT,
                          "%s: the client presented no certificate, but "
                          "verify-peer is on: give the client a certificate "
                          "signed by a CA in %s (a client only offers a "
                          "certificate issued by one of those CAs, with a "
                          "key usage that allows signing)",
                          what, ca);
        } else {
            session_error(sess, errp, QCRYPTO_ERROR_NO_CERT,
                          "%s: no certificate to present to the server", what);
        }
        return;
    case GNUTLS_E_KEY_USAGE_VIOLATION:
        session_error(sess, errp, QCRYPTO_ERROR_CERT_USAGE,
                      "%s: the %s certificate's key usage does not allow "
                      "TLS signatures (it needs digitalSignature)",
                      what, peer_role_name(sess));
        return;
    case GNUTLS_E_UNSUPPORTED_VERSION_PACKET:
        if (!sess->handshake_done) {
            session_error(sess, errp, QCRYPTO_ERROR_HANDSHAKE,
                          "%s: the %s sent a TLS version we do not accept "
                          "(TLS 1.0 and 1.1 are never used), or is not "
                          "speaking TLS: %s",
                          what, peer_role_name(sess), gnutls_strerror(ret));
            return;
        }
        break;
    case GNUTLS_E_UNEXPECTED_PACKET_LENGTH:
    case GNUTLS_E_UNEXPECTED_PACKET:
    case GNUTLS_E_RECORD_OVERFLOW:
        if (!sess->handshake_done) {
            session_error(sess, errp, QCRYPTO_ERROR_HANDSHAKE,
                          "%s: the %s did not send a TLS handshake message "
                          "(is it speaking TLS on this port?): %s",
                          what, peer_role_name(sess), gnutls_strerror(ret));
            return;
        }
        break;
    case GNUTLS_E_INSUFFICIENT_CREDENTIALS:
    case GNUTLS_E_DECRYPTION_FAILED:
    case GNUTLS_E_USER_ERROR:
    case GNUTLS_E_SRP_PWD_ERROR:
    case GNUTLS_E_RECEIVED_ILLEGAL_PARAMETER:
    case GNUTLS_E_ERROR_IN_FINISHED_PACKET:
        if (sess->type == GNUTLS_CRD_PSK && !sess->handshake_done) {
            session_error(sess, errp, QCRYPTO_ERROR_PSK,
                          "%s: PSK authentication failed: %s; check that "
                          "the client's username is in the server's "
                          "keys.psk with the same key",
                          what,
                          ret == GNUTLS_E_SRP_PWD_ERROR
                              ? "unknown username"
                              : "the keys at the two ends differ");
            return;
        }
        if (ret == GNUTLS_E_INSUFFICIENT_CREDENTIALS &&
            own_cert_cannot_sign(sess, what, errp)) {
            return;
        }
        break;
    case GNUTLS_E_NO_PRIORITIES_WERE_SET:
    case GNUTLS_E_NO_CIPHER_SUITES:
    case GNUTLS_E_UNKNOWN_CIPHER_SUITE:
    case GNUTLS_E_NO_COMMON_KEY_SHARE:
    case GNUTLS_E_INSUFFICIENT_SECURITY:
    case GNUTLS_E_UNKNOWN_PK_ALGORITHM:
        /* A server whose certificate may not sign has no usable suite. */
        if (own_cert_cannot_sign(sess, what, errp)) {
            return;
        }
        prio = session_priority(sess);
        session_error(sess, errp, QCRYPTO_ERROR_HANDSHAKE,
                      "%s: no TLS version or cipher suite in common with "
                      "the %s (our priority '%s'): %s",
                      what, peer_role_name(sess), prio, gnutls_strerror(ret));
        return;
    default:
        break;
    }
    session_error(sess, errp,
                  sess->handshake_done ? QCRYPTO_ERROR_FAILED
                                       : QCRYPTO_ERROR_HANDSHAKE,
                  "%s: %s", what, gnutls_strerror(ret));
}

int qcrypto_tls_session_handshake(QCryptoTLSSession *sess, GError **errp)
{
    int ret;

    g_return_val_if_fail(sess->have_transport, -1);
    if (sess->handshake_done) {
        return QCRYPTO_TLS_HANDSHAKE_COMPLETE;
    }
    ret = gnutls_handshake(sess->gs);
    if (ret == GNUTLS_E_SUCCESS) {
        sess->handshake_done = true;
        data_callbacks_start(sess);
        g_debug("TLS %s handshake done: %s, %s, %s, kernel TLS %s",
                role_name(sess), qcrypto_tls_session_get_protocol(sess),
                qcrypto_tls_session_get_cipher(sess),
                qcrypto_tls_session_get_kx(sess),
                qcrypto_tls_session_get_ktls(sess) ? "on" : "off");
        return QCRYPTO_TLS_HANDSHAKE_COMPLETE;
    }
    if (ret == GNUTLS_E_AGAIN || ret == GNUTLS_E_INTERRUPTED) {
        return gnutls_record_get_direction(sess->gs)
                   ? QCRYPTO_TLS_HANDSHAKE_SENDING
                   : QCRYPTO_TLS_HANDSHAKE_RECVING;
    }
    if (!gnutls_error_is_fatal(ret)) {
        /* A warning alert or similar: not an end, keep going. */
        g_debug("TLS %s handshake: ignoring %s", role_name(sess),
                gnutls_strerror(ret));
        return gnutls_record_get_direction(sess->gs)
                   ? QCRYPTO_TLS_HANDSHAKE_SENDING
                   : QCRYPTO_TLS_HANDSHAKE_RECVING;
    }
    gnutls_failure(sess, ret, "TLS handshake failed", errp);
    /*
     * Tell the peer why, unless it told us or the transport is gone: it
     * would otherwise wait for a message that never comes.
     */
    if (ret != GNUTLS_E_FATAL_ALERT_RECEIVED &&
        ret != GNUTLS_E_PREMATURE_TERMINATION && ret != GNUTLS_E_PULL_ERROR &&
        ret != GNUTLS_E_PUSH_ERROR) {
        if (ret == GNUTLS_E_SRP_PWD_ERROR && sess->type == GNUTLS_CRD_PSK) {
            send_alert(sess, GNUTLS_A_UNKNOWN_PSK_IDENTITY);
        } else {
            gnutls_alert_send_appropriate(sess->gs, ret);
        }
    }
    return -1;
}

bool qcrypto_tls_session_is_handshake_done(QCryptoTLSSession *sess)
{
    return sess->handshake_done;
}

/* ---- Peer checks -------------------------------------------------------- */

/* Tell the peer why we are hanging up; best effort, never blocks long. */
static void send_alert(QCryptoTLSSession *sess,
                       gnutls_alert_description_t alert)
{
    int ret = gnutls_alert_send(sess->gs, GNUTLS_AL_FATAL, alert);

    if (ret < 0 && ret != GNUTLS_E_AGAIN && ret != GNUTLS_E_INTERRUPTED) {
        g_debug("TLS %s: cannot send alert '%s': %s", role_name(sess),
                gnutls_alert_get_name(alert), gnutls_strerror(ret));
    }
}

/*
 * The longest distinguished name taken from a peer certificate, with its
 * terminating NUL.  Real names are a few hundred bytes; the bound keeps a
 * hostile certificate from making us copy and log megabytes.
 */
#define DN_MAX (64 * 1024)

/*
 * A distinguished name in gnutls's "compat" form: the attributes in the
 * order the certificate encodes them, joined by commas, values escaped as
 * RFC 4514 says ("O=Example,CN=client1" for a subject encoded O then CN;
 * RFC 4514 itself would print the reverse).  QEMU asks its authorization
 * objects about this same string, so an identity written for qemu-nbd or
 * libvirt matches here too.  Every message shows names in this form, so
 * that one copied from a message works as a rule.
 *
 * Returns the name ("" when the certificate has none), or NULL with @why
 * set to a static reason when it cannot be read, is longer than DN_MAX or
 * would be cut short by a NUL byte.
 */
static char *crt_dn_compat(gnutls_x509_crt_t crt, bool issuer, const char **why)
{
    size_t size = 0, alloc;
    g_autofree char *buf = NULL;
    int ret;

    /* Asked with no buffer, gnutls says how much it needs, NUL included. */
    ret = issuer ? gnutls_x509_crt_get_issuer_dn(crt, NULL, &size)
                 : gnutls_x509_crt_get_dn(crt, NULL, &size);
    if (ret == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE) {
        return g_strdup("");
    }
    if (ret != GNUTLS_E_SHORT_MEMORY_BUFFER) {
        *why = ret < 0 ? gnutls_strerror(ret) : "no size reported";
        return NULL;
    }
    if (size == 0 || size > DN_MAX) {
        *why = "the name is longer than 64 KiB";
        return NULL;
    }
    alloc = size;
    buf = g_malloc(alloc);
    ret = issuer ? gnutls_x509_crt_get_issuer_dn(crt, buf, &size)
                 : gnutls_x509_crt_get_dn(crt, buf, &size);
    if (ret < 0) {
        *why = gnutls_strerror(ret);
        return NULL;
    }
    /* On success @size is the length without the NUL gnutls appended. */
    if (size >= alloc || strnlen(buf, alloc) != size) {
        *why = "the name contains a NUL byte";
        return NULL;
    }
    return g_steal_pointer(&buf);
}

/* The same, for messages only: never fails. */
static char *crt_dn(gnutls_x509_crt_t crt, bool issuer)
{
    const char *why = NULL;
    char *dn = crt_dn_compat(crt, issuer, &why);

    return dn ? dn : g_strdup_printf("(unreadable name: %s)", why);
}

static char *format_time(time_t t)
{
    g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc(t);

    return dt ? g_date_time_format(dt, "%Y-%m-%d %H:%M:%S UTC")
              : g_strdup("(invalid time)");
}

/*
 * subjectAltName entry @i of @crt: its type (or a negative gnutls error,
 * GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE past the last) and its value,
 * NUL-terminated, in *@value with its length in *@len.  Entries of any
 * length are read whole: a name that did not fit a fixed buffer would
 * otherwise be skipped, and skipping a dNSName would let the CN count.
 */
static int crt_san(gnutls_x509_crt_t crt, unsigned int i, char **value,
                   size_t *len)
{
    size_t size = 256;

    for (;;) {
        g_autofree char *buf = g_malloc(size + 1);
        size_t got = size;
        int type =
            gnutls_x509_crt_get_subject_alt_name(crt, i, buf, &got, NULL);

        if (type == GNUTLS_E_SHORT_MEMORY_BUFFER && got > size) {
            size = got;
            continue;
        }
        if (type >= 0) {
            buf[MIN(got, size)] = '\0';
            *len = got;
            *value = g_steal_pointer(&buf);
        }
        return type;
    }
}

/* How much of one name an error message quotes. */
#define NAME_ECHO_MAX 128

/* Every name a host name could match: SAN DNS, SAN IP, CN; quoted. */
static char *crt_names(gnutls_x509_crt_t crt)
{
    GString *str = g_string_new(NULL);
    bool have_dns = false;

    for (unsigned int i = 0;; i++) {
        g_autofree char *buf = NULL;
        size_t len = 0;
        int type = crt_san(crt, i, &buf, &len);

        if (type == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE) {
            break;
        }
        if (type == GNUTLS_SAN_DNSNAME) {
            g_autofree char *shown = qutil_str_abbrev(buf, NAME_ECHO_MAX);

            g_string_append_printf(str, "%s'%s'", str->len ? ", " : "", shown);
            have_dns = true;
        } else if (type == GNUTLS_SAN_IPADDRESS && (len == 4 || len == 16)) {
            g_autoptr(GInetAddress) addr = g_inet_address_new_from_bytes(
                (const guint8 *)buf,
                len == 4 ? G_SOCKET_FAMILY_IPV4 : G_SOCKET_FAMILY_IPV6);
            g_autofree char *text = g_inet_address_to_string(addr);

            g_string_append_printf(str, "%s'%s'", str->len ? ", " : "", text);
        }
    }

    char cn[512];
    size_t cnlen = sizeof(cn);

    if (gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0,
                                      cn, &cnlen) >= 0) {
        g_string_append_printf(str, "%sCN '%s'%s", str->len ? ", " : "", cn,
                               have_dns ? " (not used: the certificate has "
                                          "DNS names)"
                                        : "");
    }
    if (!str->len) {
        g_string_append(str, "no names at all");
    }
    return g_string_free(str, FALSE);
}

/*
 * Whether @crt has a dNSName.  An entry gnutls cannot read counts as one
 * (unless gnutls knows it is of another type), so that the CN is not
 * tried on a guess.
 */
static bool crt_has_dns_san(gnutls_x509_crt_t crt)
{
    for (unsigned int i = 0;; i++) {
        g_autofree char *buf = NULL;
        size_t len = 0;
        int type = crt_san(crt, i, &buf, &len);

        if (type == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE) {
            return false;
        }
        if (type == GNUTLS_SAN_DNSNAME ||
            (type < 0 && type != GNUTLS_E_X509_UNKNOWN_SAN)) {
            return true;
        }
    }
}

/*
 * The host name rules: a dNSName (wildcards as RFC 6125 allows) or an
 * iPAddress in subjectAltName, as gnutls checks them; and the subject CN,
 * compared whole, only when the certificate has no dNSName.  gnutls
 * alone would also ignore the CN of a certificate that lists IP addresses
 * only; such certificates are common for hosts known by address and name.
 */
static bool hostname_matches(QCryptoTLSSession *sess, gnutls_x509_crt_t crt)
{
    char cn[512];
    size_t len = sizeof(cn);

    if (gnutls_x509_crt_check_hostname2(crt, sess->hostname, 0)) {
        return true;
    }
    if (hostname_is_ip(sess->hostname) || crt_has_dns_san(crt)) {
        return false;
    }
    if (gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0,
                                      cn, &len) < 0) {
        return false;
    }
    /* A second CN makes the name ambiguous: no match. */
    len = sizeof(cn);
    {
        char other[512];
        size_t olen = sizeof(other);

        /* Any answer but "none" (a CN too long for @other, too) counts. */
        if (gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 1,
                                          0, other, &olen) !=
            GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE) {
            return false;
        }
    }
    return g_ascii_strcasecmp(cn, sess->hostname) == 0;
}

/*
 * extendedKeyUsage must allow the peer's role; critical means the issuer
 * insists, so a mismatch fails, while a non-critical mismatch is only a
 * hint and is traced.
 */
static bool check_key_purpose(QCryptoTLSSession *sess, gnutls_x509_crt_t crt,
                              const char *subject, GError **errp)
{
    const char *want =
        is_server(sess) ? GNUTLS_KP_TLS_WWW_CLIENT : GNUTLS_KP_TLS_WWW_SERVER;
    bool present = false, allowed = false;
    unsigned int critical = 0;

    for (unsigned int i = 0;; i++) {
        char oid[256];
        size_t len = sizeof(oid);
        unsigned int crit = 0;
        int ret = gnutls_x509_crt_get_key_purpose_oid(crt, i, oid, &len, &crit);

        if (ret < 0) {
            break;
        }
        present = true;
        critical |= crit;
        if (g_str_equal(oid, want) || g_str_equal(oid, GNUTLS_KP_ANY)) {
            allowed = true;
        }
    }
    if (!present || allowed) {
        return true;
    }
    if (critical) {
        session_error(sess, errp, QCRYPTO_ERROR_CERT_USAGE,
                      "the %s certificate '%s' is not for TLS %ss: its "
                      "critical extendedKeyUsage lacks %s; reissue it with "
                      "that purpose",
                      peer_role_name(sess), subject, peer_role_name(sess),
                      is_server(sess) ? "TLS Web Client Authentication"
                                      : "TLS Web Server Authentication");
        return false;
    }
    g_debug("TLS %s: the %s certificate '%s' has a non-critical "
            "extendedKeyUsage without the TLS %s purpose; accepted",
            role_name(sess), peer_role_name(sess), subject,
            peer_role_name(sess));
    return true;
}

static bool check_key_usage(QCryptoTLSSession *sess, gnutls_x509_crt_t crt,
                            const char *subject, GError **errp)
{
    unsigned int usage = 0, critical = 0;

    if (gnutls_x509_crt_get_key_usage(crt, &usage, &critical) < 0) {
        return true; /* no keyUsage: any use */
    }
    if (usage & (GNUTLS_KEY_DIGITAL_SIGNATURE | GNUTLS_KEY_KEY_ENCIPHERMENT)) {
        return true;
    }
    if (critical) {
        session_error(sess, errp, QCRYPTO_ERROR_CERT_USAGE,
                      "the %s certificate '%s' may not be used for TLS: its "
                      "critical keyUsage allows neither digitalSignature nor "
                      "keyEncipherment",
                      peer_role_name(sess), subject);
        return false;
    }
    g_debug("TLS %s: the %s certificate '%s' has a non-critical keyUsage "
            "without digitalSignature; accepted",
            role_name(sess), peer_role_name(sess), subject);
    return true;
}

/* Turn a verification status into the one most useful error. */
static void verify_status_error(QCryptoTLSSession *sess, unsigned int status,
                                gnutls_x509_crt_t leaf, const char *subject,
                                GError **errp)
{
    const char *who = peer_role_name(sess);
    g_autofree char *issuer = crt_dn(leaf, true);
    g_autofree char *ca = creds_file(sess, "ca-cert.pem");
    time_t now = time(NULL);

    if (status & GNUTLS_CERT_REVOKED) {
        g_autofree char *crl = creds_file(sess, "ca-crl.pem");

        session_error(sess, errp, QCRYPTO_ERROR_CERT_REVOKED,
                      "the %s certificate '%s' has been revoked (listed in "
                      "%s)",
                      who, subject, crl);
    } else if (status & GNUTLS_CERT_SIGNER_NOT_FOUND) {
        session_error(sess, errp, QCRYPTO_ERROR_CERT_UNTRUSTED,
                      "the %s certificate '%s' (issued by '%s') is not "
                      "signed by a CA in %s; add the issuing CA there or get "
                      "a certificate from one of those CAs",
                      who, subject, issuer, ca);
    } else if (status & GNUTLS_CERT_SIGNER_NOT_CA) {
        session_error(sess, errp, QCRYPTO_ERROR_CERT_USAGE,
                      "the %s certificate '%s' is signed by '%s', which is "
                      "not a CA certificate (basicConstraints CA:FALSE or "
                      "no keyCertSign)",
                      who, subject, issuer);
    } else if (status & GNUTLS_CERT_SIGNER_CONSTRAINTS_FAILURE) {
        session_error(sess, errp, QCRYPTO_ERROR_CERT_USAGE,
                      "the %s certificate '%s' breaks the constraints of "
                      "its issuer '%s' (path length or name constraints)",
                      who, subject, issuer);
    } else if (status & GNUTLS_CERT_EXPIRED) {
        time_t end = gnutls_x509_crt_get_expiration_time(leaf);
        g_autofree char *when = format_time(end);

        if (end != (time_t)-1 && end < now) {
            session_error(sess, errp, QCRYPTO_ERROR_CERT_EXPIRED,
                          "the %s certificate '%s' expired on %s; renew it",
                          who, subject, when);
        } else {
            session_error(sess, errp, QCRYPTO_ERROR_CERT_EXPIRED,
                          "a CA certificate in the chain of the %s "
                          "certificate '%s' has expired; renew it",
                          who, subject);
        }
    } else if (status & GNUTLS_CERT_NOT_ACTIVATED) {
        time_t start = gnutls_x509_crt_get_activation_time(leaf);
        g_autofree char *when = format_time(start);

        if (start != (time_t)-1 && start > now) {
            session_error(sess, errp, QCRYPTO_ERROR_CERT_NOT_ACTIVE,
                          "the %s certificate '%s' is not valid before %s; "
                          "check the clocks of both hosts",
                          who, subject, when);
        } else {
            session_error(sess, errp, QCRYPTO_ERROR_CERT_NOT_ACTIVE,
                          "a CA certificate in the chain of the %s "
                          "certificate '%s' is not valid yet; check the "
                          "clocks of both hosts",
                          who, subject);
        }
    } else {
        gnutls_datum_t text = { NULL, 0 };

        gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509,
                                                     &text, 0);
        session_error(sess, errp, QCRYPTO_ERROR_CERT_UNTRUSTED,
                      "the %s certificate '%s' is not trusted: %s", who,
                      subject, text.data ? (char *)text.data : "invalid");
        gnutls_free(text.data);
    }
}

static gnutls_alert_description_t verify_status_alert(unsigned int status)
{
    if (status & GNUTLS_CERT_REVOKED) {
        return GNUTLS_A_CERTIFICATE_REVOKED;
    }
    if (status & GNUTLS_CERT_SIGNER_NOT_FOUND) {
        return GNUTLS_A_UNKNOWN_CA;
    }
    if (status & (GNUTLS_CERT_EXPIRED | GNUTLS_CERT_NOT_ACTIVATED)) {
        return GNUTLS_A_CERTIFICATE_EXPIRED;
    }
    return GNUTLS_A_BAD_CERTIFICATE;
}

static bool check_x509(QCryptoTLSSession *sess, GError **errp)
{
    const gnutls_datum_t *certs;
    unsigned int ncerts = 0, status = 0;
    gnutls_x509_crt_t leaf = NULL;
    g_autofree char *subject = NULL;
    g_autofree char *identity = NULL;
    const char *why = NULL;
    bool ok = false;
    int ret;

    if (!sess->verify_peer) {
        /*
         * A server asked for no certificate: the client stays anonymous.
         * A client was told not to check the server's, and may have no
         * host name to check it against: the server stays unverified.
         */
        if (!is_server(sess)) {
            g_debug("TLS client: verify-peer=off, the server certificate "
                    "is not checked");
        }
        return true;
    }

    certs = gnutls_certificate_get_peers(sess->gs, &ncerts);
    if (!certs || ncerts == 0) {
        g_autofree char *ca = creds_file(sess, "ca-cert.pem");

        session_error(sess, errp, QCRYPTO_ERROR_NO_CERT,
                      "the %s presented no certificate; it needs one signed "
                      "by a CA in %s",
                      peer_role_name(sess), ca);
        send_alert(sess, GNUTLS_A_CERTIFICATE_REQUIRED);
        return false;
    }
    if (gnutls_x509_crt_init(&leaf) < 0) {
        session_error(sess, errp, QCRYPTO_ERROR_FAILED, "out of memory");
        return false;
    }
    ret = gnutls_x509_crt_import(leaf, &certs[0], GNUTLS_X509_FMT_DER);
    if (ret < 0) {
        session_error(sess, errp, QCRYPTO_ERROR_DECODE,
                      "cannot parse the %s certificate: %s",
                      peer_role_name(sess), gnutls_strerror(ret));
        send_alert(sess, GNUTLS_A_BAD_CERTIFICATE);
        goto out;
    }
    identity = crt_dn_compat(leaf, false, &why);
    subject = identity ? g_strdup(identity)
                       : g_strdup_printf("(unreadable name: %s)", why);

    ret = gnutls_certificate_verify_peers2(sess->gs, &status);
    if (ret < 0) {
        session_error(sess, errp, QCRYPTO_ERROR_CERT_UNTRUSTED,
                      "cannot verify the %s certificate '%s': %s",
                      peer_role_name(sess), subject, gnutls_strerror(ret));
        send_alert(sess, GNUTLS_A_BAD_CERTIFICATE);
        goto out;
    }
    if (status) {
        verify_status_error(sess, status, leaf, subject, errp);
        send_alert(sess, verify_status_alert(status));
        goto out;
    }

    if (!check_key_usage(sess, leaf, subject, errp) ||
        !check_key_purpose(sess, leaf, subject, errp)) {
        send_alert(sess, GNUTLS_A_UNSUPPORTED_CERTIFICATE);
        goto out;
    }

    if (!is_server(sess) && !hostname_matches(sess, leaf)) {
        g_autofree char *names = crt_names(leaf);

        bool ip = hostname_is_ip(sess->hostname);

        session_error(sess, errp, QCRYPTO_ERROR_CERT_HOSTNAME,
                      "the server certificate is not valid for '%s': it "
                      "names %s; connect with one of those names (or set "
                      "tls-hostname) or reissue the certificate with '%s' "
                      "in its subjectAltName%s",
                      sess->hostname, names, sess->hostname,
                      ip ? " (an address counts only as an iPAddress entry)"
                         : "");
        send_alert(sess, GNUTLS_A_BAD_CERTIFICATE);
        goto out;
    }

    /*
     * The subject is the identity authz is asked about and that
     * qcrypto_tls_session_get_peer_name() returns: a name we could not
     * read whole must not stand in for it.
     */
    if (!identity) {
        session_error(sess, errp, QCRYPTO_ERROR_DECODE,
                      "cannot take the identity of the %s from its "
                      "certificate: %s; reissue the certificate with an "
                      "ordinary subject name",
                      peer_role_name(sess), why);
        send_alert(sess, GNUTLS_A_BAD_CERTIFICATE);
        goto out;
    }

    g_debug("TLS %s: %s certificate '%s' verified%s%s", role_name(sess),
            peer_role_name(sess), identity,
            is_server(sess) ? "" : " for host name ",
            is_server(sess) ? "" : sess->hostname);
    g_free(sess->peer_name);
    sess->peer_name = g_steal_pointer(&identity);
    ok = true;

out:
    gnutls_x509_crt_deinit(leaf);
    return ok;
}

static bool check_psk(QCryptoTLSSession *sess)
{
    g_free(sess->peer_name);
    sess->peer_name = NULL;
    if (is_server(sess)) {
        const char *user = gnutls_psk_server_get_username(sess->gs);

        sess->peer_name = g_strdup(user);
    } else if (g_object_class_find_property(G_OBJECT_GET_CLASS(sess->creds),
                                            "username")) {
        /* Our own identity: the key proves both ends share it. */
        g_object_get(sess->creds, "username", &sess->peer_name, NULL);
    }
    g_debug("TLS %s: PSK session for user '%s'", role_name(sess),
            sess->peer_name ? sess->peer_name : "(none)");
    return true;
}

static bool check_authz(QCryptoTLSSession *sess, GError **errp)
{
    g_autoptr(GError) local = NULL;

    if (!sess->authzid) {
        return true;
    }
    if (!sess->peer_name) {
        session_error(sess, errp, QCRYPTO_ERROR_AUTHZ_DENIED,
                      "the client has no verified identity to check with "
                      "'%s' (anonymous credentials or verify-peer=off); "
                      "use x509 credentials with verify-peer=on or PSK",
                      sess->authzid);
        send_alert(sess, GNUTLS_A_ACCESS_DENIED);
        return false;
    }
    /*
     * peer_name is the exact string rules must match (for x509 the
     * subject in the form crt_dn_compat() describes); the trace shows it
     * so that an administrator can copy it into a rule.
     */
    if (!qauthz_is_allowed_by_id(sess->authzid, sess->peer_name, &local)) {
        g_debug("TLS server: authz '%s' denies identity '%s'", sess->authzid,
                sess->peer_name);
        session_error(sess, errp, QCRYPTO_ERROR_AUTHZ_DENIED,
                      "client '%s' is not authorized by '%s'%s%s",
                      sess->peer_name, sess->authzid, local ? ": " : "",
                      local ? local->message : "");
        send_alert(sess, GNUTLS_A_ACCESS_DENIED);
        return false;
    }
    g_debug("TLS server: authz '%s' allows identity '%s'", sess->authzid,
            sess->peer_name);
    return true;
}

bool qcrypto_tls_session_check_credentials(QCryptoTLSSession *sess,
                                           GError **errp)
{
    if (!sess->handshake_done) {
        session_error(sess, errp, QCRYPTO_ERROR_FAILED,
                      "cannot check the peer before the handshake is done");
        return false;
    }
    switch (gnutls_auth_get_type(sess->gs)) {
    case GNUTLS_CRD_CERTIFICATE:
        if (!check_x509(sess, errp)) {
            return false;
        }
        break;
    case GNUTLS_CRD_PSK:
        check_psk(sess);
        break;
    case GNUTLS_CRD_ANON:
        g_debug("TLS %s: anonymous session, the peer is not authenticated",
                role_name(sess));
        break;
    default:
        session_error(sess, errp, QCRYPTO_ERROR_HANDSHAKE,
                      "unexpected authentication type %d",
                      (int)gnutls_auth_get_type(sess->gs));
        return false;
    }
    return !is_server(sess) || check_authz(sess, errp);
}

/* ---- Data --------------------------------------------------------------- */

gssize qcrypto_tls_session_write(QCryptoTLSSession *sess, const char *buf,
                                 size_t len, GError **errp)
{
    ssize_t ret;

    if (sess->send_pending) {
        /* Flush the record held back; its bytes lead @buf. */
        if (len < sess->send_pending) {
            session_error(sess, errp, QCRYPTO_ERROR_FAILED,
                          "a write was retried with %zu bytes, fewer than "
                          "the %zu already encrypted",
                          len, sess->send_pending);
            return -1;
        }
        ret = gnutls_record_send(sess->gs, NULL, 0);
        if (ret > 0) {
            sess->send_pending = 0;
            return ret;
        }
        if (ret < 0) {
            goto failed;
        }
        /* Nothing was held back after all: send normally. */
        sess->send_pending = 0;
    }
    ret = gnutls_record_send(sess->gs, buf, len);
    if (ret >= 0) {
        return ret;
    }

failed:
    if (ret == GNUTLS_E_AGAIN || ret == GNUTLS_E_INTERRUPTED) {
        if (!sess->send_pending) {
            sess->send_pending = MIN(len, gnutls_record_get_max_size(sess->gs));
        }
        return QCRYPTO_TLS_SESSION_ERR_BLOCK;
    }
    sess->send_pending = 0;
    gnutls_failure(sess, ret, "cannot send TLS data", errp);
    return -1;
}

gssize qcrypto_tls_session_read(QCryptoTLSSession *sess, char *buf, size_t len,
                                GError **errp)
{
    for (;;) {
        ssize_t ret = gnutls_record_recv(sess->gs, buf, len);

        if (ret >= 0) {
            return ret;
        }
        switch (ret) {
        case GNUTLS_E_AGAIN:
        case GNUTLS_E_INTERRUPTED:
            return QCRYPTO_TLS_SESSION_ERR_BLOCK;
        case GNUTLS_E_REHANDSHAKE:
            /* Renegotiation is refused: it only ever served attacks. */
            gnutls_alert_send(sess->gs, GNUTLS_AL_WARNING,
                              GNUTLS_A_NO_RENEGOTIATION);
            continue;
        case GNUTLS_E_WARNING_ALERT_RECEIVED:
            g_debug("TLS %s: ignoring warning alert '%s' from the %s",
                    role_name(sess),
                    gnutls_alert_get_name(gnutls_alert_get(sess->gs)),
                    peer_role_name(sess));
            continue;
        default:
            gnutls_failure(sess, ret, "cannot receive TLS data", errp);
            return -1;
        }
    }
}

bool qcrypto_tls_session_read_alert(QCryptoTLSSession *sess, GByteArray *data,
                                    GError **errp)
{
    g_autofree char *buf = NULL;

    if (!sess->handshake_done) {
        return false;
    }
    buf = g_malloc(QCRYPTO_TLS_SESSION_RECORD_MAX);
    /* A few records at most: this is a last look, not a drain. */
    for (int i = 0; i < 4; i++) {
        ssize_t ret =
            gnutls_record_recv(sess->gs, buf, QCRYPTO_TLS_SESSION_RECORD_MAX);

        if (ret > 0) {
            g_byte_array_append(data, (const guint8 *)buf, ret);
            continue;
        }
        switch (ret) {
        case GNUTLS_E_WARNING_ALERT_RECEIVED:
            continue;
        case GNUTLS_E_FATAL_ALERT_RECEIVED:
            g_debug("TLS %s: the %s sent fatal alert '%s' before the "
                    "transport failed",
                    role_name(sess), peer_role_name(sess),
                    gnutls_alert_get_name(gnutls_alert_get(sess->gs)));
            alert_error(sess, errp);
            return true;
        default:
            /* close_notify, nothing more buffered, or a broken record. */
            return false;
        }
    }
    return false;
}

size_t qcrypto_tls_session_check_pending(QCryptoTLSSession *sess)
{
    if (!sess->handshake_done) {
        return 0;
    }
    return gnutls_record_check_pending(sess->gs);
}

int qcrypto_tls_session_bye(QCryptoTLSSession *sess, GError **errp)
{
    int ret;

    if (!sess->handshake_done) {
        return 0;
    }
    ret = gnutls_bye(sess->gs, GNUTLS_SHUT_WR);
    if (ret == GNUTLS_E_SUCCESS) {
        return 0;
    }
    if (ret == GNUTLS_E_AGAIN || ret == GNUTLS_E_INTERRUPTED) {
        return QCRYPTO_TLS_SESSION_ERR_BLOCK;
    }
    gnutls_failure(sess, ret, "cannot end the TLS session", errp);
    return -1;
}

/* ---- Queries ------------------------------------------------------------ */

const char *qcrypto_tls_session_get_peer_name(QCryptoTLSSession *sess)
{
    return sess->peer_name;
}

const char *qcrypto_tls_session_get_protocol(QCryptoTLSSession *sess)
{
    if (!sess->handshake_done) {
        return NULL;
    }
    return gnutls_protocol_get_name(gnutls_protocol_get_version(sess->gs));
}

const char *qcrypto_tls_session_get_cipher(QCryptoTLSSession *sess)
{
    if (!sess->handshake_done) {
        return NULL;
    }
    return gnutls_cipher_get_name(gnutls_cipher_get(sess->gs));
}

const char *qcrypto_tls_session_get_kx(QCryptoTLSSession *sess)
{
    gnutls_group_t group;

    if (!sess->handshake_done) {
        return NULL;
    }
    /* TLS 1.3 has no key exchange algorithm, only the key share group. */
    if (gnutls_protocol_get_version(sess->gs) == GNUTLS_TLS1_3) {
        group = gnutls_group_get(sess->gs);
        if (group) {
            return gnutls_group_get_name(group);
        }
    }
    return gnutls_kx_get_name(gnutls_kx_get(sess->gs));
}

QCryptoTLSSessionKTLS qcrypto_tls_session_get_ktls(QCryptoTLSSession *sess)
{
    int flags = gnutls_transport_is_ktls_enabled(sess->gs);
    QCryptoTLSSessionKTLS ret = QCRYPTO_TLS_KTLS_NONE;

    if (flags & GNUTLS_KTLS_RECV) {
        ret |= QCRYPTO_TLS_KTLS_RECV;
    }
    if (flags & GNUTLS_KTLS_SEND) {
        ret |= QCRYPTO_TLS_KTLS_SEND;
    }
    return ret;
}

QCryptoTLSCredsEndpoint
qcrypto_tls_session_get_endpoint(QCryptoTLSSession *sess)
{
    return sess->endpoint;
}
