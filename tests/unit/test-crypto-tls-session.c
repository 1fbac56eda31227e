/*
 * Unit tests for QCryptoTLSSession (crypto/tls-session.c).  The main test
 * is a handshake matrix: each row mints certificates (or writes PSK
 * keys), loads a server and a client credentials object from them, runs
 * both sessions' handshakes and peer checks over a socketpair in this
 * thread, and expects either a working session (with the right peer
 * names and a round trip of data) or one QCRYPTO_ERROR code on the side
 * that must detect the problem.  Further tests: a TLS 1.1-only client,
 * the negotiated ciphers (AES-GCM where the CPU has AES), session
 * arguments, callbacks as transport, EOF vs truncation, and messages.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "crypto-tls-helpers.h"
#include "authz/base.h"
#include "crypto/tls-session.h"
#include "qom/object.h"

#define OK -1

#define HOUR 3600
#define DAY  (24 * HOUR)

#define KU_SRV  (GNUTLS_KEY_DIGITAL_SIGNATURE | GNUTLS_KEY_KEY_ENCIPHERMENT)
#define KU_CLI  GNUTLS_KEY_DIGITAL_SIGNATURE
#define KU_CA   (GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN)
#define CRIT    QCRYPTO_PKI_EXT_CRITICAL
#define NONCRIT QCRYPTO_PKI_EXT_NONCRITICAL
#define ABSENT  QCRYPTO_PKI_EXT_ABSENT

#define F_CA        QCRYPTO_TEST_FILE_CA
#define F_SRV       QCRYPTO_TEST_FILE_SERVER
#define F_SRV_CHAIN QCRYPTO_TEST_FILE_SERVER_CHAIN
#define F_CLI       QCRYPTO_TEST_FILE_CLIENT
#define F_CLI_CHAIN QCRYPTO_TEST_FILE_CLIENT_CHAIN

static const char *const dns_db2[] = { "db2", "db2.example.org", NULL };
static const char *const ip_only[] = { "192.0.2.10", NULL };
static const char *const dns_wild[] = { "*.example.org", NULL };

/* Certificate requests with every knob a row turns. */
#define CA_REQ(cn, isca)                                                       \
    {                                                                          \
        .common_name = (cn), .basic_constraints = CRIT, .is_ca = (isca),       \
        .path_len = -1, .key_usage = CRIT, .key_usage_bits = KU_CA,            \
    }
#define LEAF(cn, org, dns, ips, ku, kubits, eku, ekus, start, expire)          \
    {                                                                          \
        .common_name = (cn), .organization = (org), .dns_names = (dns),        \
        .ip_addrs = (ips), .basic_constraints = CRIT, .is_ca = false,          \
        .path_len = -1, .key_usage = (ku), .key_usage_bits = (kubits),         \
        .key_purpose = (eku), .key_purpose_oids = (ekus),                      \
        .start_offset = (start), .expire_offset = (expire),                    \
    }
#define SRV_T(start, expire)                                                   \
    LEAF("localhost", NULL, qcrypto_test_dns_localhost,                        \
         qcrypto_test_ip_loopback, CRIT, KU_SRV, NONCRIT,                      \
         qcrypto_test_eku_server, start, expire)
#define SRV_OK SRV_T(0, 0)
#define CLI_T(start, expire)                                                   \
    LEAF("client1", "qio test", NULL, NULL, CRIT, KU_CLI, NONCRIT,             \
         qcrypto_test_eku_client, start, expire)
#define CLI_OK CLI_T(0, 0)

#define E_CA                                                                   \
    {                                                                          \
        "ca", NULL, CA_REQ("qio test CA", true), F_CA                          \
    }
#define E_SRV(req)                                                             \
    {                                                                          \
        "srv", "ca", req, F_SRV                                                \
    }
#define E_CLI(req)                                                             \
    {                                                                          \
        "cli", "ca", req, F_CLI                                                \
    }

/*
 * The client certificate's subject as the server reports it and authz
 * rules must name it: in encoded order (pki.c writes O, then CN), as QEMU
 * prints it.
 */
#define CLIENT_DN "O=qio test,CN=client1"
/* The same name in RFC 4514 order, which no rule may match by. */
#define CLIENT_DN_RFC4514 "CN=client1,O=qio test"

/* ---- Certificate tables -------------------------------------------- */

static const QCryptoTestCert t_good[] = {
    E_CA,
    E_SRV(SRV_OK),
    E_CLI(CLI_OK),
};
static const QCryptoTestCert t_no_client[] = {
    E_CA,
    E_SRV(SRV_OK),
};
static const QCryptoTestCert t_intermediate[] = {
    E_CA,
    { "int", "ca", CA_REQ("qio test intermediate", true),
      F_SRV_CHAIN | F_CLI_CHAIN },
    { "srv", "int", SRV_OK, F_SRV },
    { "cli", "int", CLI_OK, F_CLI },
};
static const QCryptoTestCert t_srv_expired[] = {
    E_CA,
    E_SRV(SRV_T(-2 * DAY, -DAY)),
    E_CLI(CLI_OK),
};
static const QCryptoTestCert t_srv_future[] = {
    E_CA,
    E_SRV(SRV_T(DAY, 2 * DAY)),
    E_CLI(CLI_OK),
};
static const QCryptoTestCert t_cli_expired[] = {
    E_CA,
    E_SRV(SRV_OK),
    E_CLI(CLI_T(-2 * DAY, -DAY)),
};
static const QCryptoTestCert t_cli_future[] = {
    E_CA,
    E_SRV(SRV_OK),
    E_CLI(CLI_T(DAY, 2 * DAY)),
};
/* ca-cert.pem holds only the CA of the client certificate. */
static const QCryptoTestCert t_srv_wrong_ca[] = {
    { "ca", NULL, CA_REQ("qio test CA", true), F_CA },
    { "other", NULL, CA_REQ("some other CA", true), 0 },
    { "srv", "other", SRV_OK, F_SRV },
    E_CLI(CLI_OK),
};
/* ca-cert.pem holds only the CA of the server certificate. */
static const QCryptoTestCert t_cli_wrong_ca[] = {
    E_CA,
    { "other", NULL, CA_REQ("some other CA", true), 0 },
    E_SRV(SRV_OK),
    { "cli", "other", CLI_OK, F_CLI },
};
static const QCryptoTestCert t_srv_ip_only[] = {
    E_CA,
    E_SRV(LEAF("db-ip", NULL, NULL, ip_only, CRIT, KU_SRV, NONCRIT,
               qcrypto_test_eku_server, 0, 0)),
    E_CLI(CLI_OK),
};
static const QCryptoTestCert t_srv_cn_only[] = {
    E_CA,
    E_SRV(LEAF("db1.example.org", NULL, NULL, NULL, CRIT, KU_SRV, NONCRIT,
               qcrypto_test_eku_server, 0, 0)),
    E_CLI(CLI_OK),
};
static const QCryptoTestCert t_srv_cn_ip[] = {
    E_CA,
    E_SRV(LEAF("192.0.2.10", NULL, NULL, NULL, CRIT, KU_SRV, NONCRIT,
               qcrypto_test_eku_server, 0, 0)),
    E_CLI(CLI_OK),
};
static const QCryptoTestCert t_srv_wildcard[] = {
    E_CA,
    E_SRV(LEAF("wild", NULL, dns_wild, NULL, CRIT, KU_SRV, NONCRIT,
               qcrypto_test_eku_server, 0, 0)),
    E_CLI(CLI_OK),
};
/* CN db1, but SAN DNS db2 and db2.example.org: the CN must not count. */
static const QCryptoTestCert t_srv_cn_and_san[] = {
    E_CA,
    E_SRV(LEAF("db1", NULL, dns_db2, NULL, CRIT, KU_SRV, NONCRIT,
               qcrypto_test_eku_server, 0, 0)),
    E_CLI(CLI_OK),
};
/*
 * CN db1 and one SAN DNS name longer than any fixed name buffer: the CN
 * must not count for this certificate either.
 */
#define LABEL60 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
#define LABEL600                                                               \
    LABEL60 LABEL60 LABEL60 LABEL60 LABEL60 LABEL60 LABEL60 LABEL60 LABEL60    \
        LABEL60
static const char *const dns_long[] = { LABEL600 "example.org", NULL };
static const QCryptoTestCert t_srv_cn_and_long_san[] = {
    E_CA,
    E_SRV(LEAF("db1", NULL, dns_long, NULL, CRIT, KU_SRV, NONCRIT,
               qcrypto_test_eku_server, 0, 0)),
    E_CLI(CLI_OK),
};
static const QCryptoTestCert t_srv_eku_client_crit[] = {
    E_CA,
    E_SRV(LEAF("localhost", NULL, qcrypto_test_dns_localhost, NULL, CRIT,
               KU_SRV, CRIT, qcrypto_test_eku_client, 0, 0)),
    E_CLI(CLI_OK),
};
static const QCryptoTestCert t_srv_eku_client_noncrit[] = {
    E_CA,
    E_SRV(LEAF("localhost", NULL, qcrypto_test_dns_localhost, NULL, CRIT,
               KU_SRV, NONCRIT, qcrypto_test_eku_client, 0, 0)),
    E_CLI(CLI_OK),
};
static const QCryptoTestCert t_cli_eku_server_crit[] = {
    E_CA,
    E_SRV(SRV_OK),
    E_CLI(LEAF("client1", "qio test", NULL, NULL, CRIT, KU_CLI, CRIT,
               qcrypto_test_eku_server, 0, 0)),
};
static const QCryptoTestCert t_cli_eku_server_noncrit[] = {
    E_CA,
    E_SRV(SRV_OK),
    E_CLI(LEAF("client1", "qio test", NULL, NULL, CRIT, KU_CLI, NONCRIT,
               qcrypto_test_eku_server, 0, 0)),
};
/* keyUsage without digitalSignature: no TLS signature may be made. */
static const QCryptoTestCert t_srv_ku_crit[] = {
    E_CA,
    E_SRV(LEAF("localhost", NULL, qcrypto_test_dns_localhost, NULL, CRIT,
               GNUTLS_KEY_KEY_AGREEMENT, NONCRIT, qcrypto_test_eku_server, 0,
               0)),
    E_CLI(CLI_OK),
};
static const QCryptoTestCert t_srv_ku_noncrit[] = {
    E_CA,
    E_SRV(LEAF("localhost", NULL, qcrypto_test_dns_localhost, NULL, NONCRIT,
               GNUTLS_KEY_KEY_AGREEMENT, NONCRIT, qcrypto_test_eku_server, 0,
               0)),
    E_CLI(CLI_OK),
};
static const QCryptoTestCert t_cli_ku_crit[] = {
    E_CA,
    E_SRV(SRV_OK),
    E_CLI(LEAF("client1", "qio test", NULL, NULL, CRIT,
               GNUTLS_KEY_KEY_AGREEMENT, NONCRIT, qcrypto_test_eku_client, 0,
               0)),
};
/* The server certificate's issuer is not a CA (sent as its chain). */
static const QCryptoTestCert t_srv_issuer_not_ca[] = {
    E_CA,
    { "notca", "ca", CA_REQ("not a CA", false), F_SRV_CHAIN },
    { "srv", "notca", SRV_OK, F_SRV },
    E_CLI(CLI_OK),
};
static const QCryptoTestCert t_cli_issuer_not_ca[] = {
    E_CA,
    E_SRV(SRV_OK),
    { "notca", "ca", CA_REQ("not a CA", false), F_CLI_CHAIN },
    { "cli", "notca", CLI_OK, F_CLI },
};

/* ---- The matrix -------------------------------------------------------- */

typedef enum {
    KIND_X509,
    KIND_PSK,
    KIND_ANON,
} Kind;

typedef enum {
    SIDE_NONE,
    SIDE_SERVER,
    SIDE_CLIENT,
} Side;

typedef struct {
    const char *name;
    Kind kind;
    const QCryptoTestCert *certs;
    size_t ncerts;
    const char *hostname;  /* client: expected name ("localhost") */
    bool server_no_verify; /* server verify-peer=off */
    /* PSK: the client's username and whether its key differs. */
    const char *psk_user;
    bool psk_wrong_key;
    /* authz-simple on the server allowing this identity; "" = none. */
    const char *authz_allow;
    const char *authz_id;  /* authzid that names no object */
    int expect;            /* OK or a QCryptoErrorCode */
    Side fails;            /* which side reports @expect */
    const char *peer_name; /* OK rows: what the server sees */
} Row;

#define CERTS(t) .certs = (t), .ncerts = G_N_ELEMENTS(t)

static const Row rows[] = {
    /* x509 */
    { "x509-good", KIND_X509, CERTS(t_good), .expect = OK,
      .peer_name = CLIENT_DN },
    { "x509-intermediate", KIND_X509, CERTS(t_intermediate), .expect = OK,
      .peer_name = CLIENT_DN },
    { "x509-server-expired", KIND_X509, CERTS(t_srv_expired),
      .expect = QCRYPTO_ERROR_CERT_EXPIRED, .fails = SIDE_CLIENT },
    { "x509-server-not-active", KIND_X509, CERTS(t_srv_future),
      .expect = QCRYPTO_ERROR_CERT_NOT_ACTIVE, .fails = SIDE_CLIENT },
    { "x509-client-expired", KIND_X509, CERTS(t_cli_expired),
      .expect = QCRYPTO_ERROR_CERT_EXPIRED, .fails = SIDE_SERVER },
    { "x509-client-not-active", KIND_X509, CERTS(t_cli_future),
      .expect = QCRYPTO_ERROR_CERT_NOT_ACTIVE, .fails = SIDE_SERVER },
    { "x509-server-wrong-ca", KIND_X509, CERTS(t_srv_wrong_ca),
      .expect = QCRYPTO_ERROR_CERT_UNTRUSTED, .fails = SIDE_CLIENT },
    /*
     * A gnutls client offers its certificate only when one of the CAs the
     * server names issued it: the server sees no certificate at all.
     */
    { "x509-client-wrong-ca", KIND_X509, CERTS(t_cli_wrong_ca),
      .expect = QCRYPTO_ERROR_NO_CERT, .fails = SIDE_SERVER },
    { "x509-no-client-cert", KIND_X509, CERTS(t_no_client),
      .expect = QCRYPTO_ERROR_NO_CERT, .fails = SIDE_SERVER },
    { "x509-no-client-cert-not-required", KIND_X509, CERTS(t_no_client),
      .server_no_verify = true, .expect = OK, .peer_name = NULL },
    { "x509-hostname-mismatch", KIND_X509, CERTS(t_good), .hostname = "db1",
      .expect = QCRYPTO_ERROR_CERT_HOSTNAME, .fails = SIDE_CLIENT },
    { "x509-ip4-san", KIND_X509, CERTS(t_good), .hostname = "127.0.0.1",
      .expect = OK, .peer_name = CLIENT_DN },
    { "x509-ip6-san", KIND_X509, CERTS(t_good), .hostname = "::1", .expect = OK,
      .peer_name = CLIENT_DN },
    { "x509-ip-not-in-san", KIND_X509, CERTS(t_good), .hostname = "127.0.0.2",
      .expect = QCRYPTO_ERROR_CERT_HOSTNAME, .fails = SIDE_CLIENT },
    { "x509-ip-only-cert-by-name", KIND_X509, CERTS(t_srv_ip_only),
      .hostname = "db-ip", .expect = OK, .peer_name = CLIENT_DN },
    { "x509-cn-only", KIND_X509, CERTS(t_srv_cn_only),
      .hostname = "db1.example.org", .expect = OK, .peer_name = CLIENT_DN },
    { "x509-cn-only-mismatch", KIND_X509, CERTS(t_srv_cn_only),
      .hostname = "db2.example.org", .expect = QCRYPTO_ERROR_CERT_HOSTNAME,
      .fails = SIDE_CLIENT },
    /* An address must be in an iPAddress entry; a CN does not count. */
    { "x509-ip-in-cn-only", KIND_X509, CERTS(t_srv_cn_ip),
      .hostname = "192.0.2.10", .expect = QCRYPTO_ERROR_CERT_HOSTNAME,
      .fails = SIDE_CLIENT },
    { "x509-wildcard", KIND_X509, CERTS(t_srv_wildcard),
      .hostname = "db1.example.org", .expect = OK, .peer_name = CLIENT_DN },
    { "x509-wildcard-one-label", KIND_X509, CERTS(t_srv_wildcard),
      .hostname = "a.db1.example.org", .expect = QCRYPTO_ERROR_CERT_HOSTNAME,
      .fails = SIDE_CLIENT },
    { "x509-cn-ignored-with-san", KIND_X509, CERTS(t_srv_cn_and_san),
      .hostname = "db1", .expect = QCRYPTO_ERROR_CERT_HOSTNAME,
      .fails = SIDE_CLIENT },
    { "x509-cn-ignored-with-long-san", KIND_X509, CERTS(t_srv_cn_and_long_san),
      .hostname = "db1", .expect = QCRYPTO_ERROR_CERT_HOSTNAME,
      .fails = SIDE_CLIENT },
    { "x509-san-dns", KIND_X509, CERTS(t_srv_cn_and_san),
      .hostname = "db2.example.org", .expect = OK, .peer_name = CLIENT_DN },
    { "x509-server-eku-critical", KIND_X509, CERTS(t_srv_eku_client_crit),
      .expect = QCRYPTO_ERROR_CERT_USAGE, .fails = SIDE_CLIENT },
    { "x509-server-eku-noncritical", KIND_X509, CERTS(t_srv_eku_client_noncrit),
      .expect = OK, .peer_name = CLIENT_DN },
    { "x509-client-eku-critical", KIND_X509, CERTS(t_cli_eku_server_crit),
      .expect = QCRYPTO_ERROR_CERT_USAGE, .fails = SIDE_SERVER },
    { "x509-client-eku-noncritical", KIND_X509, CERTS(t_cli_eku_server_noncrit),
      .expect = OK, .peer_name = CLIENT_DN },
    /*
     * keyUsage without digitalSignature: gnutls will not sign with such a
     * key whether or not the extension is critical (every key exchange
     * here needs the signature).  A server finds it has no usable
     * certificate; a client does not offer its certificate, so the server
     * sees none.  Loading with sanity-check=on refuses both up front.
     */
    { "x509-server-ku-critical", KIND_X509, CERTS(t_srv_ku_crit),
      .expect = QCRYPTO_ERROR_CERT_USAGE, .fails = SIDE_SERVER },
    { "x509-server-ku-noncritical", KIND_X509, CERTS(t_srv_ku_noncrit),
      .expect = QCRYPTO_ERROR_CERT_USAGE, .fails = SIDE_SERVER },
    { "x509-client-ku-critical", KIND_X509, CERTS(t_cli_ku_crit),
      .expect = QCRYPTO_ERROR_NO_CERT, .fails = SIDE_SERVER },
    { "x509-server-issuer-not-ca", KIND_X509, CERTS(t_srv_issuer_not_ca),
      .expect = QCRYPTO_ERROR_CERT_USAGE, .fails = SIDE_CLIENT },
    { "x509-client-issuer-not-ca", KIND_X509, CERTS(t_cli_issuer_not_ca),
      .expect = QCRYPTO_ERROR_CERT_USAGE, .fails = SIDE_SERVER },
    { "x509-authz-allow", KIND_X509, CERTS(t_good), .authz_allow = CLIENT_DN,
      .expect = OK, .peer_name = CLIENT_DN },
    { "x509-authz-deny", KIND_X509, CERTS(t_good),
      .authz_allow = "O=qio test,CN=someone-else",
      .expect = QCRYPTO_ERROR_AUTHZ_DENIED, .fails = SIDE_SERVER },
    /* A rule in the other order names another identity. */
    { "x509-authz-deny-rfc4514-order", KIND_X509, CERTS(t_good),
      .authz_allow = CLIENT_DN_RFC4514, .expect = QCRYPTO_ERROR_AUTHZ_DENIED,
      .fails = SIDE_SERVER },
    { "x509-authz-missing-object", KIND_X509, CERTS(t_good),
      .authz_id = "no-such-authz", .expect = QCRYPTO_ERROR_AUTHZ_DENIED,
      .fails = SIDE_SERVER },
    { "x509-authz-unverified-client", KIND_X509, CERTS(t_no_client),
      .server_no_verify = true, .authz_allow = CLIENT_DN,
      .expect = QCRYPTO_ERROR_AUTHZ_DENIED, .fails = SIDE_SERVER },
    /* PSK */
    { "psk-good", KIND_PSK, .psk_user = "alice", .expect = OK,
      .peer_name = "alice" },
    { "psk-wrong-key", KIND_PSK, .psk_user = "alice", .psk_wrong_key = true,
      .expect = QCRYPTO_ERROR_PSK, .fails = SIDE_SERVER },
    { "psk-unknown-user", KIND_PSK, .psk_user = "mallory",
      .expect = QCRYPTO_ERROR_PSK, .fails = SIDE_SERVER },
    { "psk-authz-allow", KIND_PSK, .psk_user = "alice", .authz_allow = "alice",
      .expect = OK, .peer_name = "alice" },
    { "psk-authz-deny", KIND_PSK, .psk_user = "bob", .authz_allow = "alice",
      .expect = QCRYPTO_ERROR_AUTHZ_DENIED, .fails = SIDE_SERVER },
    /* anonymous */
    { "anon", KIND_ANON, .expect = OK, .peer_name = NULL },
    { "anon-authz", KIND_ANON, .authz_allow = "anyone",
      .expect = QCRYPTO_ERROR_AUTHZ_DENIED, .fails = SIDE_SERVER },
};

/* ---- Driving two sessions in one thread ------------------------------ */

typedef struct {
    QCryptoTLSSession *sess;
    bool done; /* handshake and checks passed */
    GError *err;
} Peer;

static void make_socketpair(int fds[2])
{
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds),
                     0);
    assert_int_equal(fcntl(fds[0], F_SETFL, O_NONBLOCK), 0);
    assert_int_equal(fcntl(fds[1], F_SETFL, O_NONBLOCK), 0);
}

/* One step of @p; returns true when it made progress or finished. */
static bool step(Peer *p)
{
    int ret;

    if (p->done || p->err) {
        return false;
    }
    ret = qcrypto_tls_session_handshake(p->sess, &p->err);
    if (ret < 0) {
        return true;
    }
    if (ret != QCRYPTO_TLS_HANDSHAKE_COMPLETE) {
        return false;
    }
    if (qcrypto_tls_session_check_credentials(p->sess, &p->err)) {
        p->done = true;
    }
    return true;
}

/*
 * Run both handshakes until both are done, or one failed and the other
 * stopped moving.  Returns with each side's outcome in @c and @s.
 */
static void run_handshakes(Peer *c, Peer *s)
{
    int idle = 0;

    for (int i = 0; i < 2000 && idle < 50; i++) {
        bool moved = step(c);

        moved |= step(s);
        if (c->done && s->done) {
            return;
        }
        if ((c->done || c->err) && (s->done || s->err)) {
            return;
        }
        idle = moved ? 0 : idle + 1;
        if (!moved) {
            g_usleep(1000);
        }
    }
}

/*
 * After one side refused the other in its peer checks, the other may
 * already be done (TLS 1.3 lets a client finish first); the refusal
 * reaches it as an alert on its next read.
 */
static void read_for_alert(Peer *p)
{
    char buf[16];

    if (!p->done || p->err) {
        return;
    }
    for (int i = 0; i < 100; i++) {
        gssize ret =
            qcrypto_tls_session_read(p->sess, buf, sizeof(buf), &p->err);

        if (ret != QCRYPTO_TLS_SESSION_ERR_BLOCK) {
            return;
        }
        g_usleep(1000);
    }
}

static void exchange(QCryptoTLSSession *from, QCryptoTLSSession *to,
                     const char *msg)
{
    g_autoptr(GError) err = NULL;
    char buf[64];
    gssize ret;
    size_t len = strlen(msg);
    int i;

    assert_int_equal(qcrypto_tls_session_write(from, msg, len, &err), len);
    for (i = 0; i < 1000; i++) {
        ret = qcrypto_tls_session_read(to, buf, sizeof(buf), &err);
        if (ret != QCRYPTO_TLS_SESSION_ERR_BLOCK) {
            break;
        }
        g_usleep(1000);
    }
    if (ret < 0) {
        fail_msg("read failed: %s", err ? err->message : "would block");
    }
    assert_int_equal(ret, len);
    assert_memory_equal(buf, msg, len);
}

typedef struct {
    QCryptoTestCredsDir *dir;
    char *psk_srv_dir;
    char *psk_cli_dir;
    QCryptoTLSCreds *server;
    QCryptoTLSCreds *client;
} RowCreds;

static void row_creds_free(RowCreds *rc)
{
    g_clear_object(&rc->server);
    g_clear_object(&rc->client);
    qcrypto_test_creds_dir_free(rc->dir);
    qcrypto_test_tmpdir_remove(rc->psk_srv_dir);
    qcrypto_test_tmpdir_remove(rc->psk_cli_dir);
    g_free(rc->psk_srv_dir);
    g_free(rc->psk_cli_dir);
}

static void row_creds_make(const Row *row, RowCreds *rc)
{
    g_autoptr(GError) err = NULL;
    const char *verify = row->server_no_verify ? "off" : "on";

    memset(rc, 0, sizeof(*rc));
    switch (row->kind) {
    case KIND_X509:
        rc->dir = qcrypto_test_creds_dir_new(row->certs, row->ncerts, &err);
        if (!rc->dir) {
            fail_msg("minting: %s", err->message);
        }
        /* The handshake is under test, not loading: no sanity check. */
        rc->server = qcrypto_test_creds_new(
            "tls-creds-x509", &err, "endpoint", "server", "dir",
            qcrypto_test_creds_dir_path(rc->dir), "verify-peer", verify,
            "sanity-check", "off", NULL);
        if (rc->server) {
            rc->client = qcrypto_test_creds_new(
                "tls-creds-x509", &err, "endpoint", "client", "dir",
                qcrypto_test_creds_dir_path(rc->dir), "sanity-check", "off",
                NULL);
        }
        break;
    case KIND_PSK: {
        static const guint8 other_key[32] = { 1, 2, 3, 4, 5, 6, 7, 8 };

        rc->psk_srv_dir = qcrypto_test_tmpdir_new(&err);
        rc->psk_cli_dir =
            rc->psk_srv_dir ? qcrypto_test_tmpdir_new(&err) : NULL;
        if (!rc->psk_cli_dir ||
            !qcrypto_test_psk_add(rc->psk_srv_dir, "alice", NULL, 0, &err) ||
            !qcrypto_test_psk_add(rc->psk_srv_dir, "bob", NULL, 0, &err) ||
            !qcrypto_test_psk_add(rc->psk_cli_dir, row->psk_user,
                                  row->psk_wrong_key ? other_key : NULL,
                                  row->psk_wrong_key ? sizeof(other_key) : 0,
                                  &err)) {
            fail_msg("PSK files: %s", err->message);
        }
        rc->server =
            qcrypto_test_creds_new("tls-creds-psk", &err, "endpoint", "server",
                                   "dir", rc->psk_srv_dir, NULL);
        if (rc->server) {
            rc->client = qcrypto_test_creds_new(
                "tls-creds-psk", &err, "endpoint", "client", "dir",
                rc->psk_cli_dir, "username", row->psk_user, NULL);
        }
        break;
    }
    case KIND_ANON:
        rc->server = qcrypto_test_creds_new("tls-creds-anon", &err, "endpoint",
                                            "server", NULL);
        if (rc->server) {
            rc->client = qcrypto_test_creds_new("tls-creds-anon", &err,
                                                "endpoint", "client", NULL);
        }
        break;
    }
    if (!rc->client) {
        fail_msg("credentials: %s", err->message);
    }
}

static void check_side(const char *row, const char *side, Peer *p, int expect)
{
    if (expect == OK) {
        if (p->err) {
            fail_msg("%s: %s failed: %s", row, side, p->err->message);
        }
        assert_true(p->done);
        return;
    }
    if (!p->err) {
        fail_msg("%s: %s expected error code %d, but it %s", row, side, expect,
                 p->done ? "succeeded" : "stalled");
    }
    if (!g_error_matches(p->err, QCRYPTO_ERROR, expect)) {
        fail_msg("%s: %s expected code %d, got %s %d: %s", row, side, expect,
                 g_quark_to_string(p->err->domain), p->err->code,
                 p->err->message);
    }
}

static void test_row(void **state)
{
    const Row *row = *state;
    RowCreds rc;
    g_autoptr(GError) err = NULL;
    const char *authzid = NULL;
    Peer c = { NULL }, s = { NULL };
    int fds[2];

    row_creds_make(row, &rc);
    /* Left behind when an earlier row failed half way: start clean. */
    qom_object_del("authz0", NULL);
    if (row->authz_allow) {
        assert_non_null(qom_object_add_props("authz-simple", "authz0", &err,
                                             "identity", row->authz_allow,
                                             NULL));
        authzid = "authz0";
    } else if (row->authz_id) {
        authzid = row->authz_id;
    }

    s.sess = qcrypto_tls_session_new(rc.server, NULL, authzid,
                                     QCRYPTO_TLS_CREDS_ENDPOINT_SERVER, &err);
    assert_non_null(s.sess);
    c.sess = qcrypto_tls_session_new(
        rc.client, row->hostname ? row->hostname : "localhost", NULL,
        QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT, &err);
    if (!c.sess) {
        fail_msg("client session: %s", err->message);
    }
    make_socketpair(fds);
    qcrypto_tls_session_set_fd(s.sess, fds[0]);
    qcrypto_tls_session_set_fd(c.sess, fds[1]);

    run_handshakes(&c, &s);
    if (row->expect != OK) {
        read_for_alert(row->fails == SIDE_SERVER ? &c : &s);
    }
    if (c.err) {
        print_message("  [%s] client: %s\n", row->name, c.err->message);
    }
    if (s.err) {
        print_message("  [%s] server: %s\n", row->name, s.err->message);
    }

    if (row->expect == OK) {
        check_side(row->name, "client", &c, OK);
        check_side(row->name, "server", &s, OK);
        if (row->peer_name) {
            assert_string_equal(qcrypto_tls_session_get_peer_name(s.sess),
                                row->peer_name);
        } else {
            assert_null(qcrypto_tls_session_get_peer_name(s.sess));
        }
        exchange(c.sess, s.sess, "ping from the client");
        exchange(s.sess, c.sess, "pong from the server");
        print_message("  [%s] %s %s kx %s\n", row->name,
                      qcrypto_tls_session_get_protocol(c.sess),
                      qcrypto_tls_session_get_cipher(c.sess),
                      qcrypto_tls_session_get_kx(c.sess));
    } else {
        check_side(row->name, row->fails == SIDE_SERVER ? "server" : "client",
                   row->fails == SIDE_SERVER ? &s : &c, row->expect);
        /* The other side must not end up with a working session. */
        Peer *other = row->fails == SIDE_SERVER ? &c : &s;

        if (!other->err) {
            char buf[8];
            g_autoptr(GError) rerr = NULL;
            gssize ret = other->done ? qcrypto_tls_session_read(
                                           other->sess, buf, sizeof(buf), &rerr)
                                     : -1;

            assert_true(ret < 0);
        }
    }

    qcrypto_tls_session_free(c.sess);
    qcrypto_tls_session_free(s.sess);
    g_clear_error(&c.err);
    g_clear_error(&s.err);
    close(fds[0]);
    close(fds[1]);
    if (row->authz_allow) {
        assert_true(qom_object_del("authz0", NULL));
    }
    row_creds_free(&rc);
}

/* ---- Other tests ----------------------------------------------------- */

typedef struct {
    QCryptoTestCredsDir *dir;
    QCryptoTLSCreds *server;
    QCryptoTLSCreds *client;
} Standard;

static void standard_make(Standard *st)
{
    g_autoptr(GError) err = NULL;

    st->dir = qcrypto_test_creds_dir_new(t_good, G_N_ELEMENTS(t_good), &err);
    assert_non_null(st->dir);
    st->server = qcrypto_test_creds_new(
        "tls-creds-x509", &err, "endpoint", "server", "dir",
        qcrypto_test_creds_dir_path(st->dir), NULL);
    assert_non_null(st->server);
    st->client = qcrypto_test_creds_new(
        "tls-creds-x509", &err, "endpoint", "client", "dir",
        qcrypto_test_creds_dir_path(st->dir), NULL);
    assert_non_null(st->client);
}

static void standard_free(Standard *st)
{
    g_clear_object(&st->server);
    g_clear_object(&st->client);
    qcrypto_test_creds_dir_free(st->dir);
}

/* A pair of sessions handshaken over a socketpair, ready for data. */
static void connect_pair(QCryptoTLSCreds *server, QCryptoTLSCreds *client,
                         Peer *s, Peer *c, int fds[2])
{
    g_autoptr(GError) err = NULL;

    *s = (Peer){ NULL };
    *c = (Peer){ NULL };
    s->sess = qcrypto_tls_session_new(server, NULL, NULL,
                                      QCRYPTO_TLS_CREDS_ENDPOINT_SERVER, &err);
    assert_non_null(s->sess);
    c->sess = qcrypto_tls_session_new(client, "localhost", NULL,
                                      QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT, &err);
    assert_non_null(c->sess);
    make_socketpair(fds);
    qcrypto_tls_session_set_fd(s->sess, fds[0]);
    qcrypto_tls_session_set_fd(c->sess, fds[1]);
    run_handshakes(c, s);
    check_side("pair", "client", c, OK);
    check_side("pair", "server", s, OK);
}

static void disconnect_pair(Peer *s, Peer *c, int fds[2])
{
    qcrypto_tls_session_free(s->sess);
    qcrypto_tls_session_free(c->sess);
    g_clear_error(&s->err);
    g_clear_error(&c->err);
    if (fds[0] >= 0) {
        close(fds[0]);
    }
    if (fds[1] >= 0) {
        close(fds[1]);
    }
}

static bool cpu_has_aes(void)
{
    g_autofree char *info = NULL;
    g_auto(GStrv) lines = NULL;

    if (!g_file_get_contents("/proc/cpuinfo", &info, NULL, NULL)) {
        return false;
    }
    lines = g_strsplit(info, "\n", -1);
    for (char **p = lines; *p; p++) {
        if (g_str_has_prefix(*p, "flags")) {
            g_auto(GStrv) words = g_strsplit_set(*p, " \t", -1);

            return g_strv_contains((const char *const *)words, "aes");
        }
    }
    return false;
}

/* What the default priority picks for x509 and PSK on this machine. */
static void test_cipher_aes_gcm(void **state)
{
    Standard st;
    Peer s = { NULL }, c = { NULL };
    int fds[2];
    bool aes = cpu_has_aes();
    const char *cipher;
    g_autoptr(GError) err = NULL;
    g_autofree char *dir = NULL;
    g_autoptr(QCryptoTLSCreds) psrv = NULL, pcli = NULL;

    standard_make(&st);
    connect_pair(st.server, st.client, &s, &c, fds);
    cipher = qcrypto_tls_session_get_cipher(c.sess);
    print_message("  x509: %s %s (cpu aes: %s)\n",
                  qcrypto_tls_session_get_protocol(c.sess), cipher,
                  aes ? "yes" : "no");
    assert_string_equal(cipher, qcrypto_tls_session_get_cipher(s.sess));
    if (aes) {
        assert_non_null(strstr(cipher, "AES"));
        assert_non_null(strstr(cipher, "GCM"));
    }
    disconnect_pair(&s, &c, fds);
    standard_free(&st);

    dir = qcrypto_test_tmpdir_new(&err);
    assert_non_null(dir);
    assert_true(qcrypto_test_psk_add(dir, "alice", NULL, 0, &err));
    psrv = qcrypto_test_creds_new("tls-creds-psk", &err, "endpoint", "server",
                                  "dir", dir, NULL);
    pcli = qcrypto_test_creds_new("tls-creds-psk", &err, "endpoint", "client",
                                  "dir", dir, "username", "alice", NULL);
    assert_non_null(psrv);
    assert_non_null(pcli);
    connect_pair(psrv, pcli, &s, &c, fds);
    cipher = qcrypto_tls_session_get_cipher(c.sess);
    print_message("  psk: %s %s kx %s\n",
                  qcrypto_tls_session_get_protocol(c.sess), cipher,
                  qcrypto_tls_session_get_kx(c.sess));
    if (aes) {
        assert_non_null(strstr(cipher, "AES"));
        assert_non_null(strstr(cipher, "GCM"));
    }
    assert_string_equal(qcrypto_tls_session_get_peer_name(s.sess), "alice");
    disconnect_pair(&s, &c, fds);
    qcrypto_test_tmpdir_remove(dir);
}

/*
 * A client that only speaks TLS 1.1 (a plain gnutls session: credentials
 * objects refuse such a priority outright) gets nowhere with a server
 * using the default priority.
 */
static void test_tls11_client(void **state)
{
    Standard st;
    Peer s = { NULL };
    g_autoptr(GError) err = NULL;
    g_autoptr(QCryptoTLSCredsHandle) h = NULL;
    gnutls_session_t raw;
    int fds[2], cret = GNUTLS_E_AGAIN;
    g_autoptr(QCryptoTLSCreds) bad = NULL;

    standard_make(&st);

    bad = qcrypto_test_creds_new("tls-creds-x509", &err, "endpoint", "client",
                                 "dir", qcrypto_test_creds_dir_path(st.dir),
                                 "priority", "NORMAL:-VERS-ALL:+VERS-TLS1.1",
                                 NULL);
    assert_null(bad);
    assert_true(
        g_error_matches(err, QCRYPTO_ERROR, QCRYPTO_ERROR_INVALID_ARGUMENT));
    g_clear_error(&err);

    s.sess = qcrypto_tls_session_new(st.server, NULL, NULL,
                                     QCRYPTO_TLS_CREDS_ENDPOINT_SERVER, &err);
    assert_non_null(s.sess);
    make_socketpair(fds);
    qcrypto_tls_session_set_fd(s.sess, fds[0]);

    h = qcrypto_tls_creds_get_handle(st.client);
    assert_int_equal(gnutls_init(&raw, GNUTLS_CLIENT), 0);
    assert_int_equal(
        gnutls_priority_set_direct(raw, "NORMAL:-VERS-ALL:+VERS-TLS1.1", NULL),
        0);
    assert_int_equal(
        gnutls_credentials_set(raw, GNUTLS_CRD_CERTIFICATE,
                               qcrypto_tls_creds_handle_get_gnutls(h)),
        0);
    gnutls_transport_set_int(raw, fds[1]);

    for (int i = 0; i < 2000 && cret == GNUTLS_E_AGAIN; i++) {
        cret = gnutls_handshake(raw);
        step(&s);
        g_usleep(500);
    }
    print_message("  server: %s\n  raw client: %s\n",
                  s.err ? s.err->message : "(no error)", gnutls_strerror(cret));
    assert_non_null(s.err);
    assert_true(g_error_matches(s.err, QCRYPTO_ERROR, QCRYPTO_ERROR_HANDSHAKE));
    assert_true(cret < 0 && cret != GNUTLS_E_AGAIN);

    gnutls_deinit(raw);
    qcrypto_tls_session_free(s.sess);
    g_clear_error(&s.err);
    close(fds[0]);
    close(fds[1]);
    standard_free(&st);
}

static void test_session_args(void **state)
{
    Standard st;
    g_autoptr(GError) err = NULL;
    QCryptoTLSSession *sess;

    standard_make(&st);
    /* Server credentials for a client session. */
    sess = qcrypto_tls_session_new(st.server, "localhost", NULL,
                                   QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT, &err);
    assert_null(sess);
    assert_true(g_error_matches(err, QCRYPTO_ERROR, QCRYPTO_ERROR_ENDPOINT));
    g_clear_error(&err);

    /* A verifying x509 client needs a host name. */
    sess = qcrypto_tls_session_new(st.client, NULL, NULL,
                                   QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT, &err);
    assert_null(sess);
    assert_true(
        g_error_matches(err, QCRYPTO_ERROR, QCRYPTO_ERROR_INVALID_ARGUMENT));
    assert_non_null(strstr(err->message, "tls-hostname"));
    g_clear_error(&err);

    /* Nothing negotiated before the handshake. */
    sess = qcrypto_tls_session_new(st.client, "localhost", NULL,
                                   QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT, &err);
    assert_non_null(sess);
    assert_null(qcrypto_tls_session_get_protocol(sess));
    assert_null(qcrypto_tls_session_get_cipher(sess));
    assert_null(qcrypto_tls_session_get_peer_name(sess));
    assert_false(qcrypto_tls_session_is_handshake_done(sess));
    assert_false(qcrypto_tls_session_check_credentials(sess, &err));
    g_clear_error(&err);
    qcrypto_tls_session_free(sess);
    standard_free(&st);
}

/* The host name message lists every name the certificate carries. */
static void test_hostname_message(void **state)
{
    RowCreds rc;
    Peer s = { NULL }, c = { NULL };
    g_autoptr(GError) err = NULL;
    int fds[2];
    Row row = { "msg", KIND_X509, CERTS(t_srv_cn_and_san) };

    row_creds_make(&row, &rc);
    s.sess = qcrypto_tls_session_new(rc.server, NULL, NULL,
                                     QCRYPTO_TLS_CREDS_ENDPOINT_SERVER, &err);
    c.sess = qcrypto_tls_session_new(rc.client, "db1", NULL,
                                     QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT, &err);
    assert_non_null(c.sess);
    make_socketpair(fds);
    qcrypto_tls_session_set_fd(s.sess, fds[0]);
    qcrypto_tls_session_set_fd(c.sess, fds[1]);
    qcrypto_tls_session_set_peer_label(c.sess, "db1:10809");
    run_handshakes(&c, &s);
    assert_non_null(c.err);
    print_message("  %s\n", c.err->message);
    assert_non_null(strstr(c.err->message,
                           "the server certificate is not valid for 'db1': "
                           "it names 'db2', 'db2.example.org'"));
    assert_non_null(strstr(c.err->message, "CN 'db1'"));
    assert_non_null(strstr(c.err->message, "db1:10809"));
    disconnect_pair(&s, &c, fds);
    row_creds_free(&rc);
}

/*
 * A dNSName too long for a fixed buffer is still listed (abbreviated),
 * and the CN is still marked as not used.
 */
static void test_hostname_message_long_san(void **state)
{
    RowCreds rc;
    Peer s = { NULL }, c = { NULL };
    g_autoptr(GError) err = NULL;
    int fds[2];
    Row row = { "msg-long", KIND_X509, CERTS(t_srv_cn_and_long_san) };

    row_creds_make(&row, &rc);
    s.sess = qcrypto_tls_session_new(rc.server, NULL, NULL,
                                     QCRYPTO_TLS_CREDS_ENDPOINT_SERVER, &err);
    c.sess = qcrypto_tls_session_new(rc.client, "db1", NULL,
                                     QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT, &err);
    assert_non_null(c.sess);
    make_socketpair(fds);
    qcrypto_tls_session_set_fd(s.sess, fds[0]);
    qcrypto_tls_session_set_fd(c.sess, fds[1]);
    run_handshakes(&c, &s);
    assert_non_null(c.err);
    assert_true(
        g_error_matches(c.err, QCRYPTO_ERROR, QCRYPTO_ERROR_CERT_HOSTNAME));
    assert_non_null(strstr(c.err->message, "it names 'aaaa"));
    assert_non_null(strstr(c.err->message, "...'"));
    assert_null(strstr(c.err->message, LABEL600));
    assert_non_null(strstr(c.err->message, "CN 'db1' (not used"));
    disconnect_pair(&s, &c, fds);
    row_creds_free(&rc);
}

/*
 * A client with verify-peer=off needs no host name (the session accepts
 * NULL then), so the checks after the handshake must not look for one.
 */
static void test_client_no_verify(void **state)
{
    RowCreds rc;
    Peer s = { NULL }, c = { NULL };
    g_autoptr(GError) err = NULL;
    g_autoptr(QCryptoTLSCreds) noverify = NULL;
    int fds[2];
    Row row = { "client-no-verify", KIND_X509, CERTS(t_good) };

    row_creds_make(&row, &rc);
    noverify = qcrypto_test_creds_new(
        "tls-creds-x509", &err, "endpoint", "client", "dir",
        qcrypto_test_creds_dir_path(rc.dir), "verify-peer", "off",
        "sanity-check", "off", NULL);
    assert_non_null(noverify);
    s.sess = qcrypto_tls_session_new(rc.server, NULL, NULL,
                                     QCRYPTO_TLS_CREDS_ENDPOINT_SERVER, &err);
    assert_non_null(s.sess);
    c.sess = qcrypto_tls_session_new(noverify, NULL, NULL,
                                     QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT, &err);
    assert_non_null(c.sess);
    make_socketpair(fds);
    qcrypto_tls_session_set_fd(s.sess, fds[0]);
    qcrypto_tls_session_set_fd(c.sess, fds[1]);
    run_handshakes(&c, &s);
    if (c.err || s.err) {
        fail_msg("handshake: %s", c.err ? c.err->message : s.err->message);
    }
    disconnect_pair(&s, &c, fds);
    row_creds_free(&rc);
}

/* The untrusted-issuer message names the CA file. */
static void test_untrusted_message(void **state)
{
    RowCreds rc;
    Peer s = { NULL }, c = { NULL };
    g_autoptr(GError) err = NULL;
    g_autofree char *ca = NULL;
    int fds[2];
    Row row = { "msg", KIND_X509, CERTS(t_srv_wrong_ca) };

    row_creds_make(&row, &rc);
    ca = qcrypto_test_creds_dir_file(rc.dir, "ca-cert.pem");
    s.sess = qcrypto_tls_session_new(rc.server, NULL, NULL,
                                     QCRYPTO_TLS_CREDS_ENDPOINT_SERVER, &err);
    c.sess = qcrypto_tls_session_new(rc.client, "localhost", NULL,
                                     QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT, &err);
    make_socketpair(fds);
    qcrypto_tls_session_set_fd(s.sess, fds[0]);
    qcrypto_tls_session_set_fd(c.sess, fds[1]);
    run_handshakes(&c, &s);
    assert_non_null(c.err);
    print_message("  %s\n", c.err->message);
    assert_non_null(strstr(c.err->message, "not signed by a CA in"));
    assert_non_null(strstr(c.err->message, ca));
    assert_non_null(strstr(c.err->message, "CN=some other CA"));
    disconnect_pair(&s, &c, fds);
    row_creds_free(&rc);
}

/* ---- Callbacks as the transport ---------------------------------------- */

typedef struct {
    int fd;
    size_t pushed;
    size_t pulled;
} CbTransport;

static ssize_t cb_push(const char *buf, size_t len, void *opaque)
{
    CbTransport *t = opaque;
    ssize_t ret = send(t->fd, buf, len, MSG_NOSIGNAL);

    if (ret > 0) {
        t->pushed += ret;
    }
    return ret;
}

static ssize_t cb_pull(char *buf, size_t len, void *opaque)
{
    CbTransport *t = opaque;
    ssize_t ret = recv(t->fd, buf, len, 0);

    if (ret > 0) {
        t->pulled += ret;
    }
    return ret;
}

static void test_callbacks(void **state)
{
    Standard st;
    Peer s = { NULL }, c = { NULL };
    g_autoptr(GError) err = NULL;
    CbTransport ts, tc;
    int fds[2];

    standard_make(&st);
    s.sess = qcrypto_tls_session_new(st.server, NULL, NULL,
                                     QCRYPTO_TLS_CREDS_ENDPOINT_SERVER, &err);
    c.sess = qcrypto_tls_session_new(st.client, "localhost", NULL,
                                     QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT, &err);
    make_socketpair(fds);
    ts = (CbTransport){ .fd = fds[0] };
    tc = (CbTransport){ .fd = fds[1] };
    qcrypto_tls_session_set_callbacks(s.sess, cb_push, cb_pull, &ts);
    qcrypto_tls_session_set_callbacks(c.sess, cb_push, cb_pull, &tc);
    run_handshakes(&c, &s);
    check_side("callbacks", "client", &c, OK);
    check_side("callbacks", "server", &s, OK);
    exchange(c.sess, s.sess, "over callbacks");
    assert_true(ts.pushed > 0 && ts.pulled > 0);
    assert_true(tc.pushed > 0 && tc.pulled > 0);
    assert_int_equal(qcrypto_tls_session_get_ktls(c.sess),
                     QCRYPTO_TLS_KTLS_NONE);
    disconnect_pair(&s, &c, fds);
    standard_free(&st);
}

/* ---- A descriptor for the handshake, callbacks for the records ---------- */

typedef struct {
    int fd;
    size_t pushv_calls;
    size_t pushed;
    size_t pulled;
} DataTransport;

static ssize_t data_pushv(const struct iovec *iov, int niov, void *opaque)
{
    DataTransport *t = opaque;
    struct msghdr msg = { .msg_iov = (struct iovec *)iov, .msg_iovlen = niov };
    ssize_t ret = sendmsg(t->fd, &msg, MSG_NOSIGNAL);

    t->pushv_calls++;
    if (ret > 0) {
        t->pushed += ret;
    }
    return ret;
}

static ssize_t data_pull(char *buf, size_t len, void *opaque)
{
    DataTransport *t = opaque;
    ssize_t ret = recv(t->fd, buf, len, 0);

    if (ret > 0) {
        t->pulled += ret;
    }
    return ret;
}

static int data_pull_timeout(int timeout_ms, void *opaque)
{
    DataTransport *t = opaque;
    struct pollfd pfd = { .fd = t->fd, .events = POLLIN };

    return poll(&pfd, 1, timeout_ms);
}

/*
 * The handshake runs on the descriptor (that is what lets gnutls hand
 * the session to the kernel); once it is done, and the kernel did not
 * take the records, every record goes through the data callbacks.
 */
static void test_data_callbacks(void **state)
{
    Standard st;
    Peer s = { NULL }, c = { NULL };
    g_autoptr(GError) err = NULL;
    DataTransport ts, tc;
    int fds[2];

    standard_make(&st);
    s.sess = qcrypto_tls_session_new(st.server, NULL, NULL,
                                     QCRYPTO_TLS_CREDS_ENDPOINT_SERVER, &err);
    c.sess = qcrypto_tls_session_new(st.client, "localhost", NULL,
                                     QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT, &err);
    make_socketpair(fds);
    ts = (DataTransport){ .fd = fds[0] };
    tc = (DataTransport){ .fd = fds[1] };
    qcrypto_tls_session_set_fd(s.sess, fds[0]);
    qcrypto_tls_session_set_fd(c.sess, fds[1]);
    qcrypto_tls_session_set_data_callbacks(s.sess, data_pushv, data_pull,
                                           data_pull_timeout, &ts);
    qcrypto_tls_session_set_data_callbacks(c.sess, data_pushv, data_pull,
                                           data_pull_timeout, &tc);
    run_handshakes(&c, &s);
    check_side("data callbacks", "client", &c, OK);
    check_side("data callbacks", "server", &s, OK);
    /* A socketpair never gets kernel TLS. */
    assert_int_equal(qcrypto_tls_session_get_ktls(c.sess),
                     QCRYPTO_TLS_KTLS_NONE);

    /* What the handshake left for the client (session tickets) is read
     * through the callbacks, with the first record. */
    exchange(s.sess, c.sess, "first record from the server");
    assert_true(ts.pushv_calls > 0 && ts.pushed > 0);
    assert_true(tc.pulled >= ts.pushed);
    exchange(c.sess, s.sess, "and one from the client");
    assert_true(tc.pushed > 0 && ts.pulled == tc.pushed);

    /* Nothing decrypted is left over. */
    assert_int_equal(qcrypto_tls_session_check_pending(s.sess), 0);
    assert_int_equal(qcrypto_tls_session_check_pending(c.sess), 0);
    disconnect_pair(&s, &c, fds);
    standard_free(&st);
}

/* close_notify reads as EOF; a bare end of stream as truncation. */
static void test_bye_and_truncation(void **state)
{
    Standard st;
    Peer s = { NULL }, c = { NULL };
    g_autoptr(GError) err = NULL;
    char buf[16];
    gssize ret = 0;
    int fds[2];

    standard_make(&st);

    connect_pair(st.server, st.client, &s, &c, fds);
    assert_int_equal(qcrypto_tls_session_bye(c.sess, &err), 0);
    for (int i = 0; i < 1000; i++) {
        ret = qcrypto_tls_session_read(s.sess, buf, sizeof(buf), &err);
        if (ret != QCRYPTO_TLS_SESSION_ERR_BLOCK) {
            break;
        }
        g_usleep(1000);
    }
    assert_int_equal(ret, 0);
    disconnect_pair(&s, &c, fds);

    connect_pair(st.server, st.client, &s, &c, fds);
    close(fds[1]);
    fds[1] = -1;
    ret = qcrypto_tls_session_read(s.sess, buf, sizeof(buf), &err);
    assert_int_equal(ret, -1);
    print_message("  %s\n", err->message);
    assert_true(g_error_matches(err, QCRYPTO_ERROR, QCRYPTO_ERROR_TRUNCATED));
    assert_non_null(strstr(err->message, "without ending the TLS session"));
    disconnect_pair(&s, &c, fds);

    standard_free(&st);
}

/* Records larger than one TLS record come out whole, one record a read. */
static void test_large_records(void **state)
{
    Standard st;
    Peer s = { NULL }, c = { NULL };
    g_autoptr(GError) err = NULL;
    g_autofree char *out = g_malloc(100000);
    g_autofree char *in = g_malloc(100000);
    size_t sent = 0, got = 0;
    int fds[2];

    for (size_t i = 0; i < 100000; i++) {
        out[i] = (char)(i * 7);
    }
    standard_make(&st);
    connect_pair(st.server, st.client, &s, &c, fds);
    while (got < 100000) {
        if (sent < 100000) {
            gssize w = qcrypto_tls_session_write(c.sess, out + sent,
                                                 100000 - sent, &err);

            assert_true(w > 0 || w == QCRYPTO_TLS_SESSION_ERR_BLOCK);
            if (w > 0) {
                assert_true(w <= 16384);
                sent += w;
            }
        }
        gssize r =
            qcrypto_tls_session_read(s.sess, in + got, 100000 - got, &err);

        assert_true(r > 0 || r == QCRYPTO_TLS_SESSION_ERR_BLOCK);
        if (r > 0) {
            got += r;
        }
    }
    assert_memory_equal(in, out, 100000);
    disconnect_pair(&s, &c, fds);
    standard_free(&st);
}

/* ---- The identity format --------------------------------------------- */

/*
 * Client certificates whose subjects pki.h cannot express (any
 * attributes, in any order) are minted here with gnutls directly, signed
 * by the "ca" entry of a credentials directory.  The identity the server
 * reports and authz matches must be the subject in encoded order, as
 * gnutls_x509_crt_get_dn() and so QEMU print it, whatever the order.
 */

typedef struct {
    const char *name;
    /* Subject attributes in encoding order: OID, value, ..., NULL. */
    const char *const *attrs;
    /* CN of this many 'a's appended after @attrs (0: none). */
    size_t long_cn;
    /* Expected identity; NULL: the server refuses with DECODE. */
    const char *identity;
    /* Another spelling of the same name, which a rule must not match. */
    const char *other;
} DnCase;

static const char *const dn_o_cn[] = {
    GNUTLS_OID_X520_ORGANIZATION_NAME,
    "Org",
    GNUTLS_OID_X520_COMMON_NAME,
    "client1",
    NULL,
};
static const char *const dn_cn_o[] = {
    GNUTLS_OID_X520_COMMON_NAME,
    "client1",
    GNUTLS_OID_X520_ORGANIZATION_NAME,
    "Org",
    NULL,
};
/* What a certtool template with country ... cn gives. */
static const char *const dn_template[] = {
    GNUTLS_OID_X520_COUNTRY_NAME,
    "GB",
    GNUTLS_OID_X520_STATE_OR_PROVINCE_NAME,
    "London",
    GNUTLS_OID_X520_LOCALITY_NAME,
    "London",
    GNUTLS_OID_X520_ORGANIZATION_NAME,
    "Example Org",
    GNUTLS_OID_X520_COMMON_NAME,
    "client1",
    NULL,
};
static const char *const dn_special[] = {
    GNUTLS_OID_X520_ORGANIZATION_NAME,
    "Example, Inc.",
    GNUTLS_OID_X520_ORGANIZATIONAL_UNIT_NAME,
    "R+D",
    GNUTLS_OID_X520_COMMON_NAME,
    "client=1;x",
    NULL,
};
static const char *const dn_none[] = { NULL };
static const char *const dn_o[] = {
    GNUTLS_OID_X520_ORGANIZATION_NAME,
    "Org",
    NULL,
};

/* "O=Org,CN=" + a CN this long + NUL is exactly 64 KiB, the most taken. */
#define DN_LONG_OK  (64 * 1024 - 10)
#define DN_LONG_BAD (DN_LONG_OK + 1)

static const DnCase dn_cases[] = {
    { "o-cn", dn_o_cn, 0, "O=Org,CN=client1", "CN=client1,O=Org" },
    { "cn-o", dn_cn_o, 0, "CN=client1,O=Org", "O=Org,CN=client1" },
    { "certtool-template", dn_template, 0,
      "C=GB,ST=London,L=London,O=Example Org,CN=client1",
      "CN=client1,O=Example Org,L=London,ST=London,C=GB" },
    { "escaped", dn_special, 0, "O=Example\\, Inc.,OU=R\\+D,CN=client=1\\;x",
      "O=Example, Inc.,OU=R+D,CN=client=1;x" },
    { "empty", dn_none, 0, "", NULL },
    { "long", dn_o, DN_LONG_OK, NULL /* computed */, NULL },
    { "too-long", dn_o, DN_LONG_BAD, NULL, NULL },
};

static void datum_write(const gnutls_datum_t *d, const char *path)
{
    g_autoptr(GError) err = NULL;

    if (!g_file_set_contents(path, (const char *)d->data, d->size, &err)) {
        fail_msg("%s", err->message);
    }
}

static void import_pem(QCryptoPKICert *cert, gnutls_x509_crt_t *crt,
                       gnutls_x509_privkey_t *key)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *cpem = qcrypto_pki_cert_get_pem(cert, &err);
    g_autofree char *kpem =
        cpem ? qcrypto_pki_key_get_pem(cert, NULL, &err) : NULL;
    gnutls_datum_t d;

    if (!kpem) {
        fail_msg("%s", err->message);
    }
    assert_int_equal(gnutls_x509_crt_init(crt), 0);
    assert_int_equal(gnutls_x509_privkey_init(key), 0);
    d = (gnutls_datum_t){ (unsigned char *)cpem, strlen(cpem) };
    assert_int_equal(gnutls_x509_crt_import(*crt, &d, GNUTLS_X509_FMT_PEM), 0);
    d = (gnutls_datum_t){ (unsigned char *)kpem, strlen(kpem) };
    assert_int_equal(gnutls_x509_privkey_import(*key, &d, GNUTLS_X509_FMT_PEM),
                     0);
}

/* client-cert.pem and client-key.pem in @d with the subject of @dc. */
static void write_client_with_dn(QCryptoTestCredsDir *d, const DnCase *dc)
{
    QCryptoPKICert *ca = qcrypto_test_creds_dir_cert(d, "ca");
    gnutls_x509_crt_t ca_crt, crt;
    gnutls_x509_privkey_t ca_key, key;
    gnutls_datum_t out = { NULL, 0 };
    g_autofree char *cert_path = NULL, *key_path = NULL;
    time_t now = time(NULL);

    assert_non_null(ca);
    import_pem(ca, &ca_crt, &ca_key);
    assert_int_equal(gnutls_x509_privkey_init(&key), 0);
    assert_int_equal(gnutls_x509_privkey_generate(
                         key, GNUTLS_PK_ECDSA,
                         GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0),
                     0);
    assert_int_equal(gnutls_x509_crt_init(&crt), 0);
    assert_int_equal(gnutls_x509_crt_set_version(crt, 3), 0);
    assert_int_equal(gnutls_x509_crt_set_serial(crt, "\x01\x23", 2), 0);
    assert_int_equal(gnutls_x509_crt_set_activation_time(crt, now - HOUR), 0);
    assert_int_equal(gnutls_x509_crt_set_expiration_time(crt, now + DAY), 0);
    assert_int_equal(gnutls_x509_crt_set_key(crt, key), 0);
    for (size_t i = 0; dc->attrs[i]; i += 2) {
        assert_int_equal(gnutls_x509_crt_set_dn_by_oid(
                             crt, dc->attrs[i], 0, dc->attrs[i + 1],
                             strlen(dc->attrs[i + 1])),
                         0);
    }
    if (dc->long_cn) {
        g_autofree char *cn = g_malloc(dc->long_cn);

        memset(cn, 'a', dc->long_cn);
        assert_int_equal(
            gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0,
                                          cn, dc->long_cn),
            0);
    }
    assert_int_equal(gnutls_x509_crt_set_basic_constraints(crt, 0, -1), 0);
    assert_int_equal(
        gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE), 0);
    assert_int_equal(
        gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_CLIENT, 0),
        0);
    assert_int_equal(
        gnutls_x509_crt_sign2(crt, ca_crt, ca_key, GNUTLS_DIG_SHA256, 0), 0);

    cert_path = qcrypto_test_creds_dir_file(d, "client-cert.pem");
    key_path = qcrypto_test_creds_dir_file(d, "client-key.pem");
    assert_int_equal(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &out),
                     0);
    datum_write(&out, cert_path);
    gnutls_free(out.data);
    assert_int_equal(gnutls_x509_privkey_export2_pkcs8(key, GNUTLS_X509_FMT_PEM,
                                                       NULL, GNUTLS_PKCS_PLAIN,
                                                       &out),
                     0);
    datum_write(&out, key_path);
    gnutls_free(out.data);

    gnutls_x509_crt_deinit(crt);
    gnutls_x509_privkey_deinit(key);
    gnutls_x509_crt_deinit(ca_crt);
    gnutls_x509_privkey_deinit(ca_key);
}

/*
 * One handshake of the directory's client against its server, the server
 * asking authz-simple "authz0" allowing @allow (NULL: no authz).  Returns
 * the server's outcome: its peer name or the error.
 */
static char *dn_handshake(QCryptoTLSCreds *server, QCryptoTLSCreds *client,
                          const char *allow, GError **serr)
{
    g_autoptr(GError) err = NULL;
    Peer c = { NULL }, s = { NULL };
    char *peer = NULL;
    int fds[2];

    qom_object_del("authz0", NULL); /* from a failed earlier case */
    if (allow) {
        assert_non_null(qom_object_add_props("authz-simple", "authz0", &err,
                                             "identity", allow, NULL));
    }
    s.sess = qcrypto_tls_session_new(server, NULL, allow ? "authz0" : NULL,
                                     QCRYPTO_TLS_CREDS_ENDPOINT_SERVER, &err);
    assert_non_null(s.sess);
    c.sess = qcrypto_tls_session_new(client, "localhost", NULL,
                                     QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT, &err);
    assert_non_null(c.sess);
    make_socketpair(fds);
    qcrypto_tls_session_set_fd(s.sess, fds[0]);
    qcrypto_tls_session_set_fd(c.sess, fds[1]);
    run_handshakes(&c, &s);

    if (s.done) {
        peer = g_strdup(qcrypto_tls_session_get_peer_name(s.sess));
        assert_non_null(peer);
        exchange(c.sess, s.sess, "ping from the client");
    } else {
        assert_non_null(s.err);
        *serr = g_steal_pointer(&s.err);
    }
    qcrypto_tls_session_free(c.sess);
    qcrypto_tls_session_free(s.sess);
    g_clear_error(&c.err);
    g_clear_error(&s.err);
    close(fds[0]);
    close(fds[1]);
    if (allow) {
        assert_true(qom_object_del("authz0", NULL));
    }
    return peer;
}

static void test_identity_format(void **state)
{
    (void)state;

    for (size_t i = 0; i < G_N_ELEMENTS(dn_cases); i++) {
        const DnCase *dc = &dn_cases[i];
        g_autoptr(GError) err = NULL;
        g_autoptr(QCryptoTestCredsDir) d = NULL;
        g_autoptr(QCryptoTLSCreds) server = NULL;
        g_autoptr(QCryptoTLSCreds) client = NULL;
        g_autofree char *want = NULL;
        g_autofree char *peer = NULL;

        print_message("  [identity %s]\n", dc->name);
        d = qcrypto_test_creds_dir_new(t_no_client, G_N_ELEMENTS(t_no_client),
                                       &err);
        assert_non_null(d);
        write_client_with_dn(d, dc);
        server = qcrypto_test_creds_new(
            "tls-creds-x509", &err, "endpoint", "server", "dir",
            qcrypto_test_creds_dir_path(d), "sanity-check", "off", NULL);
        client = server ? qcrypto_test_creds_new("tls-creds-x509", &err,
                                                 "endpoint", "client", "dir",
                                                 qcrypto_test_creds_dir_path(d),
                                                 "sanity-check", "off", NULL)
                        : NULL;
        if (!client) {
            fail_msg("%s: credentials: %s", dc->name, err->message);
        }

        if (dc->long_cn == DN_LONG_BAD) {
            peer = dn_handshake(server, client, NULL, &err);
            assert_null(peer);
            assert_true(
                g_error_matches(err, QCRYPTO_ERROR, QCRYPTO_ERROR_DECODE));
            print_message("  [identity %s] server: %s\n", dc->name,
                          err->message);
            continue;
        }
        if (dc->long_cn) {
            g_autofree char *cn = g_strnfill(dc->long_cn, 'a');

            want = g_strdup_printf("O=Org,CN=%s", cn);
        } else {
            want = g_strdup(dc->identity);
        }

        /* The peer name is the identity, with and without authz. */
        peer = dn_handshake(server, client, NULL, &err);
        if (!peer) {
            fail_msg("%s: %s", dc->name, err->message);
        }
        assert_string_equal(peer, want);
        if (!*want) {
            continue; /* authz-simple takes no empty identity */
        }
        g_free(peer);
        peer = dn_handshake(server, client, want, &err);
        if (!peer) {
            fail_msg("%s: allowed identity denied: %s", dc->name, err->message);
        }
        assert_string_equal(peer, want);

        if (dc->other) {
            g_autofree char *expect_msg = g_strdup_printf(
                "client '%s' is not authorized by 'authz0'", want);

            g_free(peer);
            peer = dn_handshake(server, client, dc->other, &err);
            assert_null(peer);
            assert_true(g_error_matches(err, QCRYPTO_ERROR,
                                        QCRYPTO_ERROR_AUTHZ_DENIED));
            /* The message shows the exact string a rule must match. */
            if (!strstr(err->message, expect_msg)) {
                fail_msg("%s: message lacks \"%s\": %s", dc->name, expect_msg,
                         err->message);
            }
        }
    }
}

/* A failed assertion skips a test's own cleanup: sweep what it left. */
static int group_teardown(void **state)
{
    (void)state;
    qcrypto_test_tmpdir_remove_all();
    return 0;
}

int main(void)
{
    g_autofree struct CMUnitTest *tests = NULL;
    const struct CMUnitTest others[] = {
        cmocka_unit_test(test_cipher_aes_gcm),
        cmocka_unit_test(test_tls11_client),
        cmocka_unit_test(test_session_args),
        cmocka_unit_test(test_hostname_message),
        cmocka_unit_test(test_hostname_message_long_san),
        cmocka_unit_test(test_client_no_verify),
        cmocka_unit_test(test_untrusted_message),
        cmocka_unit_test(test_callbacks),
        cmocka_unit_test(test_data_callbacks),
        cmocka_unit_test(test_bye_and_truncation),
        cmocka_unit_test(test_large_records),
        cmocka_unit_test(test_identity_format),
    };
    size_t n = G_N_ELEMENTS(rows);
    int ret;

    qcrypto_tls_creds_register_types();
    qauthz_register_types();

    tests = g_new0(struct CMUnitTest, n);
    for (size_t i = 0; i < n; i++) {
        tests[i].name = rows[i].name;
        tests[i].test_func = test_row;
        tests[i].initial_state = (void *)&rows[i];
    }
    ret = _cmocka_run_group_tests("tls-session-matrix", tests, n, NULL,
                                  group_teardown);
    ret |= cmocka_run_group_tests_name("tls-session", others, NULL,
                                       group_teardown);
    return ret;
}
