/*
 * Unit tests for the NBD server, driven over a socketpair by a tiny
 * client written here byte by byte, so that the tests can send what a
 * well-behaved client never would.  Negotiation: LIST, INFO/GO, unknown
 * options and exports, STARTTLS rules with and without credentials,
 * oversized options (CVE-2017-15119), the post-TLS reset of negotiated
 * state (CVE-2021-3716) and the handshake time limit.  Transmission:
 * reads, writes, the spec's error codes, structured replies and
 * base:allocation block status over a sparse file; many requests in
 * flight with replies in any order; one client's garbage not disturbing
 * another; the per-export discard, detect-zeroes and cache settings;
 * serving on the caller's thread and the service's gone callback.  Extended
 * headers: the option's rules, 32-byte requests and replies with 64-bit
 * lengths and BLOCK_STATUS_EXT, the wrong header style ending the
 * connection, and the client library against this server with and
 * without them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/magic.h>
#include <unistd.h>

#include "crypto-tls-helpers.h"
#include "authz/base.h"
#include "io/channel-socket.h"
#include "io/channel-tls.h"
#include "io/conn-service.h"
#include "nbd/client.h"
#include "nbd/nbd-proto.h"
#include "nbd/server.h"
#include "qom/object.h"

#define EXPORT_SIZE (1024 * 1024)
#define DATA_OFF    (64 * 1024)
#define DATA_LEN    (64 * 1024)

static QCryptoTestCredsDir *creds_dir;
static QCryptoTLSCreds *server_creds;
static QCryptoTLSCreds *client_creds;
static char *export_path;

/* ---- Fixtures ------------------------------------------------------------ */

static int group_setup(void **state)
{
    g_autoptr(GError) err = NULL;
    g_autofree uint8_t *data = g_malloc(DATA_LEN);
    int fd;

    qcrypto_tls_creds_register_types();
    qauthz_register_types();
    creds_dir = qcrypto_test_creds_dir_new_standard(&err);
    if (!creds_dir) {
        fail_msg("creds dir: %s", err->message);
    }
    server_creds = qcrypto_test_creds_new(
        "tls-creds-x509", &err, "endpoint", "server", "dir",
        qcrypto_test_creds_dir_path(creds_dir), NULL);
    client_creds = qcrypto_test_creds_new(
        "tls-creds-x509", &err, "endpoint", "client", "dir",
        qcrypto_test_creds_dir_path(creds_dir), NULL);
    if (!server_creds || !client_creds) {
        fail_msg("creds: %s", err->message);
    }
    /* A sparse file: a hole, 64 KiB of data at 64 KiB, then a hole. */
    fd = g_file_open_tmp("nbd-server-XXXXXX", &export_path, &err);
    assert_true(fd >= 0);
    memset(data, 0xab, DATA_LEN);
    assert_int_equal(ftruncate(fd, EXPORT_SIZE), 0);
    assert_int_equal(pwrite(fd, data, DATA_LEN, DATA_OFF), DATA_LEN);
    close(fd);
    return 0;
}

static int group_teardown(void **state)
{
    g_clear_object(&server_creds);
    g_clear_object(&client_creds);
    qcrypto_test_creds_dir_free(creds_dir);
    unlink(export_path);
    g_free(export_path);
    return 0;
}

static NBDServer *make_server(bool tls)
{
    g_autoptr(GError) err = NULL;
    NBDServer *server = nbd_server_new(tls ? server_creds : NULL, NULL, &err);

    assert_non_null(server);
    assert_true(nbd_server_add_export(server, "disk", "the test disk",
                                      export_path, false, &err));
    assert_true(
        nbd_server_add_export(server, "ro", NULL, export_path, true, &err));
    return server;
}

/* ---- The tiny client ----------------------------------------------------- */

static void rd(QIOChannel *c, void *buf, size_t len)
{
    g_autoptr(GError) err = NULL;

    if (qio_channel_read_all(c, buf, len, &err) < 0) {
        fail_msg("read %zu bytes: %s", len, err->message);
    }
}

static void wr(QIOChannel *c, const void *buf, size_t len)
{
    assert_int_equal(qio_channel_write_all(c, buf, len, NULL), 0);
}

/* The peer has hung up: EOF (or a reset) before any byte. */
static void expect_eof(QIOChannel *c)
{
    uint8_t b;

    assert_true(qio_channel_read_all_eof(c, &b, 1, NULL) <= 0);
}

/* The test's connection service for @server, made on first use. */
static void drop_service(gpointer svc)
{
    qio_conn_service_shutdown(svc);
    g_object_unref(svc);
}

/*
 * Serve the server end of a socket pair through a connection service in
 * thread mode on the default context, as qio-nbd does, without a
 * handshake deadline.  The service is the server's for the test (shut
 * down when the server goes); nbd_server_shutdown() still hangs up on
 * the clients and waits for them.
 */
static void serve_channel(NBDServer *server, QIOChannel *ioc)
{
    QIOConnService *svc = g_object_get_data(G_OBJECT(server), "test-svc");

    if (!svc) {
        svc = qio_conn_service_new("nbd-test", QIO_CONN_SERVICE_THREAD,
                                   nbd_server_handle_conn, server, NULL);
        qio_conn_service_set_handshake_limit(svc, 0);
        g_object_set_data_full(G_OBJECT(server), "test-svc", svc, drop_service);
    }
    assert_true(qio_conn_service_add_client(svc, ioc, NULL));
}

/* Connect a client to @server and get through the greeting. */
static QIOChannel *connect_client(NBDServer *server)
{
    g_autoptr(QIOChannelSocket) sioc = NULL;
    QIOChannelSocket *cioc;
    uint8_t greet[NBD_SERVER_GREETING_SIZE], flags[4];
    uint16_t sflags;
    int fds[2];

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds),
                     0);
    sioc = qio_channel_socket_new_fd(fds[0], NULL);
    cioc = qio_channel_socket_new_fd(fds[1], NULL);
    assert_non_null(sioc);
    assert_non_null(cioc);
    serve_channel(server, QIO_CHANNEL(sioc));
    rd(QIO_CHANNEL(cioc), greet, sizeof(greet));
    assert_true(nbd_decode_greeting(greet, &sflags));
    assert_int_equal(sflags, NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES);
    nbd_put_be32(flags, NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES);
    wr(QIO_CHANNEL(cioc), flags, 4);
    return QIO_CHANNEL(cioc);
}

static void send_opt(QIOChannel *c, uint32_t option, const void *payload,
                     uint32_t len)
{
    NBDOption opt = { .option = option, .length = len };
    g_autofree uint8_t *msg = g_malloc(NBD_OPTION_HEADER_SIZE + len);

    /*
     * One write: a server that refuses the option after its header (an
     * option in the clear when TLS is required) may hang up before a
     * second write, which would then fail with EPIPE.
     */
    nbd_encode_option(msg, &opt);
    if (len) {
        memcpy(msg + NBD_OPTION_HEADER_SIZE, payload, len);
    }
    wr(c, msg, NBD_OPTION_HEADER_SIZE + len);
}

/* Read one option reply for @option; its payload NUL-terminated. */
static uint32_t read_rep(QIOChannel *c, uint32_t option, uint8_t **payload,
                         uint32_t *len)
{
    uint8_t hdr[NBD_OPTION_REPLY_SIZE];
    NBDOptionReply rep;
    uint8_t *p;

    rd(c, hdr, sizeof(hdr));
    assert_true(nbd_decode_option_reply(hdr, &rep));
    assert_int_equal(rep.option, option);
    assert_true(rep.length <= NBD_MAX_OPTION_LENGTH);
    p = g_malloc0(rep.length + 1);
    rd(c, p, rep.length);
    if (payload) {
        *payload = p;
    } else {
        g_free(p);
    }
    if (len) {
        *len = rep.length;
    }
    return rep.type;
}

static void expect_rep(QIOChannel *c, uint32_t option, uint32_t type)
{
    g_autofree uint8_t *msg = NULL;
    uint32_t got = read_rep(c, option, &msg, NULL);

    if (got != type) {
        fail_msg("option %s: got %s (%s), expected %s", nbd_opt_name(option),
                 nbd_rep_name(got), msg, nbd_rep_name(type));
    }
    if (NBD_REP_IS_ERR(type)) {
        assert_true(strlen((char *)msg) > 0); /* a message for the user */
    }
}

/* INFO/GO payload for @name with no information requests. */
static void send_go(QIOChannel *c, uint32_t option, const char *name)
{
    size_t n = strlen(name);
    g_autofree uint8_t *p = g_malloc0(4 + n + 2);

    nbd_put_be32(p, n);
    memcpy(p + 4, name, n);
    send_opt(c, option, p, 4 + n + 2);
}

/* GO to @name; returns the transmission flags. */
static uint16_t go(QIOChannel *c, const char *name, uint64_t *size)
{
    uint16_t flags = 0;
    bool seen = false;

    send_go(c, NBD_OPT_GO, name);
    for (;;) {
        g_autofree uint8_t *p = NULL;
        uint32_t len;
        uint32_t type = read_rep(c, NBD_OPT_GO, &p, &len);

        if (type == NBD_REP_ACK) {
            break;
        }
        assert_int_equal(type, NBD_REP_INFO);
        assert_true(len >= 2);
        if (nbd_get_be16(p) == NBD_INFO_EXPORT) {
            assert_int_equal(len, 12);
            *size = nbd_get_be64(p + 2);
            flags = nbd_get_be16(p + 10);
            seen = true;
        } else if (nbd_get_be16(p) == NBD_INFO_BLOCK_SIZE) {
            assert_int_equal(len, 14);
            assert_int_equal(nbd_get_be32(p + 10), NBD_MAX_PAYLOAD);
        }
    }
    assert_true(seen);
    return flags;
}

static void send_req(QIOChannel *c, uint16_t type, uint16_t flags,
                     uint64_t cookie, uint64_t off, uint32_t len)
{
    NBDRequest req = {
        .type = type,
        .flags = flags,
        .cookie = cookie,
        .offset = off,
        .length = len,
    };
    uint8_t hdr[NBD_REQUEST_SIZE];

    nbd_encode_request(hdr, &req);
    wr(c, hdr, sizeof(hdr));
}

static uint32_t read_simple(QIOChannel *c, uint64_t cookie)
{
    uint8_t hdr[NBD_SIMPLE_REPLY_SIZE];
    NBDSimpleReply rep;

    rd(c, hdr, sizeof(hdr));
    assert_true(nbd_decode_simple_reply(hdr, &rep));
    assert_true(rep.cookie == cookie);
    return rep.error;
}

/* A successful simple reply to any request: its cookie. */
static uint64_t read_simple_any(QIOChannel *c)
{
    uint8_t hdr[NBD_SIMPLE_REPLY_SIZE];
    NBDSimpleReply rep;

    rd(c, hdr, sizeof(hdr));
    assert_true(nbd_decode_simple_reply(hdr, &rep));
    assert_int_equal(rep.error, 0);
    return rep.cookie;
}

static NBDStructuredReply read_chunk(QIOChannel *c, uint64_t cookie,
                                     uint8_t **payload)
{
    uint8_t hdr[NBD_STRUCTURED_REPLY_SIZE];
    NBDStructuredReply rep;

    rd(c, hdr, sizeof(hdr));
    assert_true(nbd_decode_structured_reply(hdr, &rep));
    assert_true(rep.cookie == cookie);
    assert_true(rep.length <= NBD_MAX_PAYLOAD + 8);
    *payload = g_malloc0(rep.length + 1);
    rd(c, *payload, rep.length);
    return rep;
}

static void finish_server(NBDServer *server)
{
    nbd_server_shutdown(server);
    assert_int_equal(nbd_server_get_client_count(server), 0);
    g_object_unref(server);
}

static void finish(NBDServer *server, QIOChannel *c)
{
    g_object_unref(c);
    finish_server(server);
}

/* ---- Negotiation --------------------------------------------------------- */

static void test_list_info_unknown(void **state)
{
    NBDServer *server = make_server(false);
    QIOChannel *c = connect_client(server);
    g_autofree uint8_t *p = NULL;
    uint32_t len;

    send_opt(c, NBD_OPT_LIST, NULL, 0);
    assert_int_equal(read_rep(c, NBD_OPT_LIST, &p, &len), NBD_REP_SERVER);
    assert_int_equal(nbd_get_be32(p), 4);
    assert_memory_equal(p + 4, "disk", 4);
    assert_memory_equal(p + 8, "the test disk", len - 8);
    g_clear_pointer(&p, g_free);
    assert_int_equal(read_rep(c, NBD_OPT_LIST, NULL, NULL), NBD_REP_SERVER);
    expect_rep(c, NBD_OPT_LIST, NBD_REP_ACK);

    /* Unknown options are refused, and negotiation goes on. */
    send_opt(c, 200, "xyz", 3);
    expect_rep(c, 200, NBD_REP_ERR_UNSUP);

    send_go(c, NBD_OPT_INFO, "nosuch");
    assert_int_equal(read_rep(c, NBD_OPT_INFO, &p, NULL), NBD_REP_ERR_UNKNOWN);
    assert_non_null(strstr((char *)p, "nosuch"));

    /* A malformed INFO. */
    send_opt(c, NBD_OPT_INFO, "\0\0\0\x09zz", 6);
    expect_rep(c, NBD_OPT_INFO, NBD_REP_ERR_INVALID);

    /* A NUL inside a name would otherwise match "disk". */
    send_opt(c, NBD_OPT_INFO, "\0\0\0\x05disk\0\0\0", 11);
    expect_rep(c, NBD_OPT_INFO, NBD_REP_ERR_INVALID);

    /* STARTTLS on a server without credentials: the spec's UNSUP. */
    send_opt(c, NBD_OPT_STARTTLS, NULL, 0);
    expect_rep(c, NBD_OPT_STARTTLS, NBD_REP_ERR_UNSUP);

    send_opt(c, NBD_OPT_ABORT, NULL, 0);
    expect_rep(c, NBD_OPT_ABORT, NBD_REP_ACK);
    expect_eof(c);
    finish(server, c);
}

/*
 * Lengths inside INFO/GO and SET/LIST_META_CONTEXT payloads that do not
 * add up: each is refused with ERR_INVALID and negotiation goes on.
 */
static void test_hostile_option_payloads(void **state)
{
    NBDServer *server = make_server(false);
    QIOChannel *c = connect_client(server);
    static const struct {
        uint32_t option;
        const char *payload;
        size_t len;
    } bad[] = {
        /* INFO: shorter than a name length and a request count. */
        { NBD_OPT_INFO, "\0\0\0\0\0", 5 },
        /* INFO: one request announced, none sent. */
        { NBD_OPT_INFO,
          "\0\0\0\x04"
          "disk\0\x01",
          10 },
        /* INFO: one byte after the requests. */
        { NBD_OPT_INFO,
          "\0\0\0\x04"
          "disk\0\x01\0\x03"
          "x",
          13 },
        /* GO: a name length that wraps past the payload. */
        { NBD_OPT_GO, "\xff\xff\xff\xfe\0\0", 6 },
        /* META: 2^32-1 queries in an 8-byte payload. */
        { NBD_OPT_LIST_META_CONTEXT, "\0\0\0\0\xff\xff\xff\xff", 8 },
        /* META: a query longer than what is left. */
        { NBD_OPT_LIST_META_CONTEXT,
          "\0\0\0\0\0\0\0\x01\0\0\0\x09"
          "base:",
          17 },
        /* META: a byte after the last query. */
        { NBD_OPT_SET_META_CONTEXT, "\0\0\0\0\0\0\0\0x", 9 },
        /* META: the name length alone, cut short. */
        { NBD_OPT_SET_META_CONTEXT, "\0\0\0", 3 },
    };

    send_opt(c, NBD_OPT_STRUCTURED_REPLY, NULL, 0);
    expect_rep(c, NBD_OPT_STRUCTURED_REPLY, NBD_REP_ACK);
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        send_opt(c, bad[i].option, bad[i].payload, bad[i].len);
        expect_rep(c, bad[i].option, NBD_REP_ERR_INVALID);
    }
    /* The well-formed forms still work on the same connection. */
    /* One request: the description, on top of export and block sizes. */
    send_opt(c, NBD_OPT_INFO,
             "\0\0\0\x04"
             "disk\0\x01\0\x02",
             12);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(read_rep(c, NBD_OPT_INFO, NULL, NULL), NBD_REP_INFO);
    }
    expect_rep(c, NBD_OPT_INFO, NBD_REP_ACK);
    send_opt(c, NBD_OPT_LIST_META_CONTEXT,
             "\0\0\0\x04"
             "disk\0\0\0\x01\0\0\0\x05"
             "base:",
             21);
    expect_rep(c, NBD_OPT_LIST_META_CONTEXT, NBD_REP_META_CONTEXT);
    expect_rep(c, NBD_OPT_LIST_META_CONTEXT, NBD_REP_ACK);
    send_opt(c, NBD_OPT_ABORT, NULL, 0);
    expect_rep(c, NBD_OPT_ABORT, NBD_REP_ACK);
    finish(server, c);
}

static void test_cve_2017_15119_option_length(void **state)
{
    NBDServer *server = make_server(false);
    QIOChannel *c = connect_client(server);

    NBDOption opt = { .option = NBD_OPT_LIST, .length = 0xffffffffu - 16 };
    uint8_t hdr[NBD_OPTION_HEADER_SIZE];

    /* Only the header: the server must not wait for 4 GiB of payload. */
    nbd_encode_option(hdr, &opt);
    wr(c, hdr, sizeof(hdr));
    expect_rep(c, NBD_OPT_LIST, NBD_REP_ERR_TOO_BIG);
    expect_eof(c);
    finish(server, c);
}

static void test_bad_client_flags(void **state)
{
    NBDServer *server = make_server(false);
    g_autoptr(QIOChannelSocket) sioc = NULL;
    g_autoptr(QIOChannelSocket) cioc = NULL;
    uint8_t greet[NBD_SERVER_GREETING_SIZE];
    int fds[2];

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds),
                     0);
    sioc = qio_channel_socket_new_fd(fds[0], NULL);
    cioc = qio_channel_socket_new_fd(fds[1], NULL);
    serve_channel(server, QIO_CHANNEL(sioc));
    rd(QIO_CHANNEL(cioc), greet, sizeof(greet));
    /* Plain newstyle (no FIXED bit) is not served. */
    wr(QIO_CHANNEL(cioc), "\0\0\0\0", 4);
    expect_eof(QIO_CHANNEL(cioc));
    nbd_server_shutdown(server);
    g_object_unref(server);
}

static void test_tls_required(void **state)
{
    static const uint32_t opts[] = {
        NBD_OPT_LIST,
        NBD_OPT_INFO,
        NBD_OPT_GO,
        NBD_OPT_STRUCTURED_REPLY,
        NBD_OPT_LIST_META_CONTEXT,
        NBD_OPT_SET_META_CONTEXT,
        NBD_OPT_EXTENDED_HEADERS,
        200,
    };
    NBDServer *server = make_server(true);
    QIOChannel *c = connect_client(server);

    for (size_t i = 0; i < G_N_ELEMENTS(opts); i++) {
        send_opt(c, opts[i], "abcd", 4);
        expect_rep(c, opts[i], NBD_REP_ERR_TLS_REQD);
    }
    /* STARTTLS with a payload is malformed. */
    send_opt(c, NBD_OPT_STARTTLS, "x", 1);
    expect_rep(c, NBD_OPT_STARTTLS, NBD_REP_ERR_INVALID);
    send_opt(c, NBD_OPT_ABORT, NULL, 0);
    expect_rep(c, NBD_OPT_ABORT, NBD_REP_ACK);
    expect_eof(c);
    finish(server, c);
}

static void test_export_name_in_clear(void **state)
{
    NBDServer *server = make_server(true);
    QIOChannel *c = connect_client(server);

    send_opt(c, NBD_OPT_EXPORT_NAME, "disk", 4);
    expect_eof(c); /* not a byte of export data or size */
    finish(server, c);
}

static QIOChannel *start_tls(QIOChannel *c)
{
    g_autoptr(GError) err = NULL;
    QIOChannelTLS *tioc;

    send_opt(c, NBD_OPT_STARTTLS, NULL, 0);
    expect_rep(c, NBD_OPT_STARTTLS, NBD_REP_ACK);
    tioc = qio_channel_tls_new_client(c, client_creds, "localhost", &err);
    assert_non_null(tioc);
    if (qio_channel_tls_handshake_sync(tioc, &err) < 0) {
        fail_msg("client handshake: %s", err->message);
    }
    g_object_unref(c);
    return QIO_CHANNEL(tioc);
}

static void test_cve_2021_3716_structured_reply_reset(void **state)
{
    NBDServer *server = make_server(true);
    QIOChannel *c = connect_client(server);
    uint8_t buf[16];
    uint64_t size = 0;
    uint16_t flags;

    /* Whatever a machine in the middle negotiated in the clear... */
    send_opt(c, NBD_OPT_STRUCTURED_REPLY, NULL, 0);
    expect_rep(c, NBD_OPT_STRUCTURED_REPLY, NBD_REP_ERR_TLS_REQD);
    c = start_tls(c);
    /* ...does not hold after TLS: meta contexts need it again. */
    send_opt(c, NBD_OPT_SET_META_CONTEXT, "\0\0\0\0\0\0\0\0", 8);
    expect_rep(c, NBD_OPT_SET_META_CONTEXT, NBD_REP_ERR_INVALID);
    /* A second STARTTLS is refused. */
    send_opt(c, NBD_OPT_STARTTLS, NULL, 0);
    expect_rep(c, NBD_OPT_STARTTLS, NBD_REP_ERR_INVALID);
    flags = go(c, "disk", &size);
    assert_int_equal(size, EXPORT_SIZE);
    assert_false(flags & NBD_FLAG_SEND_DF);
    /* Simple replies, since structured ones were never agreed over TLS. */
    send_req(c, NBD_CMD_READ, 0, 1, DATA_OFF, sizeof(buf));
    assert_int_equal(read_simple(c, 1), 0);
    rd(c, buf, sizeof(buf));
    assert_int_equal(buf[0], 0xab);
    send_req(c, NBD_CMD_DISC, 0, 2, 0, 0);
    expect_eof(c);
    finish(server, c);
}

static void test_tls_authz_denied(void **state)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(QIOChannelTLS) tioc = NULL;
    NBDServer *server;
    QIOChannel *c;

    assert_non_null(qom_object_add_props("authz-simple", "nbd-authz-deny", &err,
                                         "identity", "CN=nobody", NULL));
    server = nbd_server_new(server_creds, "nbd-authz-deny", &err);
    assert_non_null(server);
    assert_true(
        nbd_server_add_export(server, "disk", NULL, export_path, false, &err));
    c = connect_client(server);
    send_opt(c, NBD_OPT_STARTTLS, NULL, 0);
    expect_rep(c, NBD_OPT_STARTTLS, NBD_REP_ACK);
    tioc = qio_channel_tls_new_client(c, client_creds, "localhost", &err);
    assert_non_null(tioc);
    /*
     * TLS 1.3 lets the client finish before the server has judged its
     * certificate; the refusal then shows on the first exchange.
     */
    if (qio_channel_tls_handshake_sync(tioc, &err) == 0) {
        uint8_t b;

        NBDOption opt = { .option = NBD_OPT_LIST };
        uint8_t hdr[NBD_OPTION_HEADER_SIZE];

        /* The server may already have hung up: the write may fail too. */
        nbd_encode_option(hdr, &opt);
        if (qio_channel_write_all(QIO_CHANNEL(tioc), hdr, sizeof(hdr), &err) ==
            0) {
            assert_true(qio_channel_read_all(QIO_CHANNEL(tioc), &b, 1, &err) <
                        0);
        }
    }
    assert_non_null(err);
    assert_true(strlen(err->message) > 0);
    g_clear_object(&tioc);
    finish(server, c);
    assert_true(qom_object_del("nbd-authz-deny", NULL));
}

/*
 * Serve @server through a QIOConnService on the default context: the
 * connection service owns the handshake deadline and the idle limit.
 * Returns the client end, greeting read and flags sent.
 */
static QIOChannel *connect_via_service(QIOConnService *svc)
{
    g_autoptr(QIOChannelSocket) sioc = NULL;
    QIOChannelSocket *cioc;
    uint8_t greet[NBD_SERVER_GREETING_SIZE], flags[4];
    uint16_t sflags;
    int fds[2];

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds),
                     0);
    sioc = qio_channel_socket_new_fd(fds[0], NULL);
    cioc = qio_channel_socket_new_fd(fds[1], NULL);
    assert_true(qio_conn_service_add_client(svc, QIO_CHANNEL(sioc), NULL));
    rd(QIO_CHANNEL(cioc), greet, sizeof(greet));
    assert_true(nbd_decode_greeting(greet, &sflags));
    nbd_put_be32(flags, NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES);
    wr(QIO_CHANNEL(cioc), flags, 4);
    return QIO_CHANNEL(cioc);
}

/* Run the default context until @c is hung up on; its time in ms. */
static gint64 wait_hangup(QIOChannel *c, int max_ms)
{
    int fd = qio_channel_socket_get_fd(QIO_CHANNEL_SOCKET(c));
    gint64 start = g_get_monotonic_time();

    while (g_get_monotonic_time() - start < max_ms * 1000) {
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        uint8_t b;

        g_main_context_iteration(NULL, FALSE);
        if (poll(&pfd, 1, 5) == 1) {
            assert_true(recv(fd, &b, 1, MSG_DONTWAIT) <= 0);
            break;
        }
    }
    return (g_get_monotonic_time() - start) / 1000;
}

static void test_handshake_timeout(void **state)
{
    NBDServer *server = make_server(false);
    QIOConnService *svc =
        qio_conn_service_new("nbd-test", QIO_CONN_SERVICE_THREAD,
                             nbd_server_handle_conn, server, NULL);
    QIOChannel *c;

    qio_conn_service_set_handshake_limit(svc, 200);
    c = connect_via_service(svc);
    /* We never send an option: hung up on after about 200 ms. */
    assert_true(wait_hangup(c, 5000) < 5000);
    g_object_unref(c);
    qio_conn_service_shutdown(svc);
    g_object_unref(svc);
    finish_server(server);
}

static void test_idle_limit_after_go(void **state)
{
    NBDServer *server = make_server(false);
    QIOConnService *svc =
        qio_conn_service_new("nbd-test", QIO_CONN_SERVICE_THREAD,
                             nbd_server_handle_conn, server, NULL);
    QIOChannel *c;
    uint64_t size;
    uint8_t back[512];
    gint64 waited;

    qio_conn_service_set_handshake_limit(svc, 200);
    qio_conn_service_set_idle_limit(svc, 600);
    c = connect_via_service(svc);
    go(c, "disk", &size);
    /* Past the handshake limit: negotiated, so still served. */
    for (int i = 0; i < 4; i++) {
        assert_true(wait_hangup(c, 150) >= 150);
        send_req(c, NBD_CMD_READ, 0, 20 + i, 0, sizeof(back));
        assert_int_equal(read_simple(c, 20 + i), 0);
        rd(c, back, sizeof(back));
    }
    /* Silent: dropped after the idle limit. */
    waited = wait_hangup(c, 5000);
    assert_true(waited >= 500 && waited < 5000);
    g_object_unref(c);
    qio_conn_service_shutdown(svc);
    g_object_unref(svc);
    finish_server(server);
}

/* ---- Transmission -------------------------------------------------------- */

static void test_simple_io(void **state)
{
    NBDServer *server = make_server(false);
    QIOChannel *c = connect_client(server);
    uint8_t data[512], back[512];
    uint64_t size = 0;
    uint16_t flags = go(c, "disk", &size);

    assert_int_equal(size, EXPORT_SIZE);
    assert_true(flags & NBD_FLAG_SEND_FLUSH);
    assert_true(flags & NBD_FLAG_SEND_TRIM);
    assert_false(flags & NBD_FLAG_READ_ONLY);
    assert_false(flags & NBD_FLAG_SEND_DF);

    memset(data, 0x5a, sizeof(data));
    send_req(c, NBD_CMD_WRITE, NBD_CMD_FLAG_FUA, 10, 4096, sizeof(data));
    wr(c, data, sizeof(data));
    assert_int_equal(read_simple(c, 10), 0);
    send_req(c, NBD_CMD_READ, 0, 11, 4096, sizeof(back));
    assert_int_equal(read_simple(c, 11), 0);
    rd(c, back, sizeof(back));
    assert_memory_equal(data, back, sizeof(data));

    send_req(c, NBD_CMD_FLUSH, 0, 12, 0, 0);
    assert_int_equal(read_simple(c, 12), 0);
    send_req(c, NBD_CMD_WRITE_ZEROES, 0, 13, 4096, sizeof(data));
    assert_int_equal(read_simple(c, 13), 0);
    send_req(c, NBD_CMD_READ, 0, 14, 4096, sizeof(back));
    assert_int_equal(read_simple(c, 14), 0);
    rd(c, back, sizeof(back));
    memset(data, 0, sizeof(data));
    assert_memory_equal(data, back, sizeof(data));
    send_req(c, NBD_CMD_TRIM, 0, 15, 8192, 4096);
    assert_int_equal(read_simple(c, 15), 0);
    send_req(c, NBD_CMD_CACHE, 0, 16, 0, 4096);
    assert_int_equal(read_simple(c, 16), 0);

    /* Pipelined requests: every cookie answered once, in any order. */
    for (uint64_t i = 0; i < 8; i++) {
        send_req(c, NBD_CMD_READ, 0, 100 + i, DATA_OFF + i * 512, 512);
    }
    {
        unsigned seen = 0;
        for (uint64_t i = 0; i < 8; i++) {
            uint64_t cookie = read_simple_any(c);
            assert_true(cookie >= 100 && cookie < 108);
            assert_false(seen & (1u << (cookie - 100)));
            seen |= 1u << (cookie - 100);
            rd(c, back, sizeof(back));
            assert_int_equal(back[0], 0xab);
        }
    }

    /* The spec's error codes. */
    send_req(c, NBD_CMD_READ, 0, 20, EXPORT_SIZE - 1, 2);
    assert_int_equal(read_simple(c, 20), NBD_EINVAL);
    send_req(c, NBD_CMD_WRITE, 0, 21, EXPORT_SIZE - 1, 2);
    wr(c, "zz", 2);
    assert_int_equal(read_simple(c, 21), NBD_ENOSPC);
    send_req(c, 99, 0, 22, 0, 0);
    assert_int_equal(read_simple(c, 22), NBD_EINVAL);
    send_req(c, NBD_CMD_READ, NBD_CMD_FLAG_DF, 23, 0, 1);
    assert_int_equal(read_simple(c, 23), NBD_EINVAL);
    send_req(c, NBD_CMD_BLOCK_STATUS, 0, 24, 0, 4096);
    assert_int_equal(read_simple(c, 24), NBD_EINVAL);

    /* A write over the payload bound cannot be skipped: hang up. */
    send_req(c, NBD_CMD_WRITE, 0, 25, 0, NBD_MAX_PAYLOAD + 1);
    expect_eof(c);
    finish(server, c);
}

static void test_readonly_export_name(void **state)
{
    NBDServer *server = make_server(false);
    QIOChannel *c = connect_client(server);
    uint8_t reply[NBD_EXPORT_NAME_REPLY_SIZE];
    uint16_t flags;

    send_opt(c, NBD_OPT_EXPORT_NAME, "ro", 2);
    rd(c, reply, sizeof(reply)); /* no zeroes: we asked for NO_ZEROES */
    assert_true(nbd_get_be64(reply) == EXPORT_SIZE);
    flags = nbd_get_be16(reply + 8);
    assert_true(flags & NBD_FLAG_READ_ONLY);
    assert_false(flags & NBD_FLAG_SEND_WRITE_ZEROES);
    send_req(c, NBD_CMD_WRITE, 0, 1, 0, 3);
    wr(c, "abc", 3);
    assert_int_equal(read_simple(c, 1), NBD_EPERM);
    send_req(c, NBD_CMD_TRIM, 0, 2, 0, 4096);
    assert_int_equal(read_simple(c, 2), NBD_EPERM);
    /* Bad magic: the server hangs up. */
    wr(c, "garbage garbage garbage garb", NBD_REQUEST_SIZE);
    expect_eof(c);
    finish(server, c);
}

/* EXPORT_NAME with no name at all selects the default export. */
static void test_export_name_default(void **state)
{
    NBDServer *server = make_server(false);
    QIOChannel *c = connect_client(server);
    uint8_t reply[NBD_EXPORT_NAME_REPLY_SIZE];

    send_opt(c, NBD_OPT_EXPORT_NAME, NULL, 0);
    rd(c, reply, sizeof(reply));
    assert_true(nbd_get_be64(reply) == EXPORT_SIZE);
    assert_false(nbd_get_be16(reply + 8) & NBD_FLAG_READ_ONLY); /* "disk" */
    send_req(c, NBD_CMD_FLUSH, 0, 1, 0, 0);
    assert_int_equal(read_simple(c, 1), 0);
    finish(server, c);
}

static void test_structured(void **state)
{
    static const char ctx[] = NBD_META_BASE_ALLOCATION;
    NBDServer *server = make_server(false);
    QIOChannel *c = connect_client(server);
    uint8_t q[4 + 2 + 4 + 4 + sizeof(ctx) - 1];
    g_autofree uint8_t *p = NULL;
    NBDStructuredReply r;
    uint64_t size;
    uint32_t len;

    send_opt(c, NBD_OPT_STRUCTURED_REPLY, NULL, 0);
    expect_rep(c, NBD_OPT_STRUCTURED_REPLY, NBD_REP_ACK);
    nbd_put_be32(q, 2);
    memcpy(q + 4, "ro", 2);
    nbd_put_be32(q + 6, 1);
    nbd_put_be32(q + 10, sizeof(ctx) - 1);
    memcpy(q + 14, ctx, sizeof(ctx) - 1);
    send_opt(c, NBD_OPT_SET_META_CONTEXT, q, sizeof(q));
    assert_int_equal(read_rep(c, NBD_OPT_SET_META_CONTEXT, &p, &len),
                     NBD_REP_META_CONTEXT);
    assert_int_equal(len, 4 + sizeof(ctx) - 1);
    assert_memory_equal(p + 4, ctx, sizeof(ctx) - 1);
    g_clear_pointer(&p, g_free);
    expect_rep(c, NBD_OPT_SET_META_CONTEXT, NBD_REP_ACK);
    assert_true(go(c, "ro", &size) & NBD_FLAG_SEND_DF);

    /* Data with DF: one OFFSET_DATA chunk. */
    send_req(c, NBD_CMD_READ, NBD_CMD_FLAG_DF, 1, DATA_OFF, 8);
    r = read_chunk(c, 1, &p);
    assert_int_equal(r.type, NBD_REPLY_TYPE_OFFSET_DATA);
    assert_int_equal(r.flags, NBD_REPLY_FLAG_DONE);
    assert_int_equal(r.length, 16);
    assert_true(nbd_get_be64(p) == DATA_OFF);
    assert_int_equal(p[8], 0xab);
    g_clear_pointer(&p, g_free);

    /* Error chunk with a message. */
    send_req(c, NBD_CMD_READ, 0, 2, EXPORT_SIZE, 1);
    r = read_chunk(c, 2, &p);
    assert_int_equal(r.type, NBD_REPLY_TYPE_ERROR);
    assert_int_equal(nbd_get_be32(p), NBD_EINVAL);
    assert_int_equal(nbd_get_be16(p + 4), r.length - 6);
    g_clear_pointer(&p, g_free);

    /* Block status: a hole, then data (file systems without SEEK_DATA
     * report it all as data; then we only check the total). */
    send_req(c, NBD_CMD_BLOCK_STATUS, 0, 3, 0, 2 * DATA_OFF);
    r = read_chunk(c, 3, &p);
    assert_int_equal(r.type, NBD_REPLY_TYPE_BLOCK_STATUS);
    assert_int_equal(nbd_get_be32(p), 1);
    assert_true(r.length >= 12 && (r.length - 4) % 8 == 0);
    {
        uint64_t total = 0;
        for (uint32_t i = 4; i < r.length; i += 8) {
            total += nbd_get_be32(p + i);
        }
        assert_true(total == 2 * DATA_OFF);
        if (r.length == 20) {
            assert_int_equal(nbd_get_be32(p + 4), DATA_OFF);
            assert_int_equal(nbd_get_be32(p + 8),
                             NBD_STATE_HOLE | NBD_STATE_ZERO);
            assert_int_equal(nbd_get_be32(p + 16), 0);
        }
    }
    g_clear_pointer(&p, g_free);

    send_req(c, NBD_CMD_FLUSH, 0, 4, 0, 0);
    r = read_chunk(c, 4, &p);
    assert_int_equal(r.type, NBD_REPLY_TYPE_NONE);
    assert_int_equal(r.flags, NBD_REPLY_FLAG_DONE);
    g_clear_pointer(&p, g_free);
    send_req(c, NBD_CMD_DISC, 0, 5, 0, 0);
    expect_eof(c);
    finish(server, c);
}

static void test_api_errors(void **state)
{
    g_autoptr(GError) err = NULL;
    NBDServer *server;

    assert_null(nbd_server_new(NULL, "authz0", &err));
    g_clear_error(&err);
    assert_null(nbd_server_new(client_creds, NULL, &err));
    g_clear_error(&err);
    server = make_server(false);
    assert_false(
        nbd_server_add_export(server, "disk", NULL, export_path, false, &err));
    assert_non_null(strstr(err->message, "disk"));
    g_clear_error(&err);
    assert_false(nbd_server_add_export(server, "x", NULL, "/nonexistent/f",
                                       false, &err));
    assert_non_null(strstr(err->message, "/nonexistent/f"));
    g_object_unref(server);
}

/* ---- Requests in flight ----------------------------------------------------
 */

#define PIPE_N 48

/* Writes then reads, all pipelined; replies matched by cookie. */
static void test_pipelined(void **state)
{
    NBDServer *server = make_server(false);
    QIOChannel *c = connect_client(server);
    uint8_t block[4096];
    uint64_t size;
    bool seen[2 * PIPE_N] = { false };

    go(c, "disk", &size);
    for (uint64_t i = 0; i < PIPE_N; i++) {
        memset(block, (int)(i + 1), sizeof(block));
        send_req(c, NBD_CMD_WRITE, 0, i, 256 * 1024 + i * 4096, sizeof(block));
        wr(c, block, sizeof(block));
    }
    for (uint64_t i = 0; i < PIPE_N; i++) {
        seen[read_simple_any(c)] = true;
    }
    for (uint64_t i = 0; i < PIPE_N; i++) {
        assert_true(seen[i]);
        send_req(c, NBD_CMD_READ, 0, PIPE_N + i, 256 * 1024 + i * 4096,
                 sizeof(block));
    }
    /* A polite disconnect still gets every reply owed before EOF. */
    send_req(c, NBD_CMD_DISC, 0, 999, 0, 0);
    for (uint64_t i = 0; i < PIPE_N; i++) {
        uint64_t cookie = read_simple_any(c);

        assert_true(cookie >= PIPE_N && cookie < 2 * PIPE_N);
        assert_false(seen[cookie]);
        seen[cookie] = true;
        rd(c, block, sizeof(block));
        assert_int_equal(block[0], (int)(cookie - PIPE_N + 1));
        assert_int_equal(block[4095], (int)(cookie - PIPE_N + 1));
    }
    expect_eof(c);
    finish(server, c);
}

/* Many large writes sent without reading a reply: no deadlock, all done. */
static void test_many_large_writes(void **state)
{
    NBDServer *server = make_server(false);
    QIOChannel *c = connect_client(server);
    g_autofree uint8_t *buf = g_malloc(EXPORT_SIZE / 4);
    uint64_t size;

    go(c, "disk", &size);
    memset(buf, 0x77, EXPORT_SIZE / 4);
    for (uint64_t i = 0; i < 64; i++) {
        send_req(c, NBD_CMD_WRITE, 0, i, (i % 4) * (EXPORT_SIZE / 4),
                 EXPORT_SIZE / 4);
        wr(c, buf, EXPORT_SIZE / 4);
    }
    for (uint64_t i = 0; i < 64; i++) {
        assert_true(read_simple_any(c) < 64);
    }
    /* Put the fixture's layout back for the other tests. */
    memset(buf, 0, EXPORT_SIZE / 4);
    send_req(c, NBD_CMD_TRIM, 0, 100, 0, EXPORT_SIZE);
    assert_int_equal(read_simple(c, 100), 0);
    memset(buf, 0xab, DATA_LEN);
    send_req(c, NBD_CMD_WRITE, 0, 101, DATA_OFF, DATA_LEN);
    wr(c, buf, DATA_LEN);
    assert_int_equal(read_simple(c, 101), 0);
    finish(server, c);
}

/* A client sending garbage is dropped; another one mid-way carries on. */
static void test_bad_client_isolated(void **state)
{
    NBDServer *server = make_server(false);
    QIOChannel *good = connect_client(server);
    QIOChannel *bad = connect_client(server);
    uint8_t back[512];
    uint64_t size;

    go(good, "disk", &size);
    go(bad, "disk", &size);
    send_req(good, NBD_CMD_READ, 0, 1, DATA_OFF, sizeof(back));
    wr(bad, "\xff\xff\xff\xff garbage garbage garbage", NBD_REQUEST_SIZE);
    expect_eof(bad);
    assert_int_equal(read_simple(good, 1), 0);
    rd(good, back, sizeof(back));
    assert_int_equal(back[0], 0xab);
    send_req(good, NBD_CMD_READ, 0, 2, DATA_OFF, sizeof(back));
    assert_int_equal(read_simple(good, 2), 0);
    rd(good, back, sizeof(back));
    g_object_unref(bad);
    finish(server, good);
}

/* ---- Export options --------------------------------------------------------
 */

static char *make_file(uint8_t fill)
{
    g_autoptr(GError) err = NULL;
    g_autofree uint8_t *data = g_malloc(EXPORT_SIZE);
    char *path = NULL;
    int fd = g_file_open_tmp("nbd-opts-XXXXXX", &path, &err);

    assert_true(fd >= 0);
    memset(data, fill, EXPORT_SIZE);
    assert_int_equal(pwrite(fd, data, EXPORT_SIZE, 0), EXPORT_SIZE);
    assert_int_equal(fsync(fd), 0);
    close(fd);
    return path;
}

/* Allocated bytes of @path. */
static uint64_t allocated(const char *path)
{
    struct stat st;

    assert_int_equal(stat(path, &st), 0);
    return (uint64_t)st.st_blocks * 512;
}

/* Does the file system of @path punch holes? */
static bool can_punch(const char *path)
{
    int fd = open(path, O_RDWR);
    bool ok;

    assert_true(fd >= 0);
    ok = fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                   EXPORT_SIZE - 65536, 65536) == 0;
    close(fd);
    return ok && allocated(path) < EXPORT_SIZE;
}

static uint16_t add_and_go(NBDServer *server, QIOChannel **c, const char *name,
                           const char *path, const NBDExportOptions *opts)
{
    g_autoptr(GError) err = NULL;
    uint64_t size;

    if (!nbd_server_add_export_full(server, name, path, opts, &err)) {
        fail_msg("add export %s: %s", name, err->message);
    }
    *c = connect_client(server);
    return go(*c, name, &size);
}

/* A reply must come within 5 s, not wait for more requests. */
static void expect_input(QIOChannel *c)
{
    struct pollfd pfd = {
        .fd = qio_channel_socket_get_fd(QIO_CHANNEL_SOCKET(c)),
        .events = POLLIN,
    };

    if (poll(&pfd, 1, 5000) != 1) {
        fail_msg("no reply within 5 s");
    }
}

/*
 * The reader holds back the short replies of requests it ran itself while
 * more requests are waiting; none may be lost or kept: a burst longer
 * than a batch, with a flush (run elsewhere) and a read (a long reply)
 * inside it, a lone request after a pause, a write whose successor's
 * payload is slow to come, and a burst ended by DISC.
 */
/* @scratch: @path is the test's own, removed once the server opened it. */
static void check_reply_batching(const char *path, bool scratch)
{
    NBDServer *server = nbd_server_new(NULL, NULL, NULL);
    g_autoptr(GByteArray) burst = g_byte_array_new();
    bool seen[42] = { false };
    uint8_t block[512], hdr[NBD_REQUEST_SIZE];
    QIOChannel *c;

    add_and_go(server, &c, "b", path, NULL);
    if (scratch) {
        unlink(path); /* nothing left behind if an assertion fails */
    }
    /*
     * What the read in the burst will find: requests in flight have no
     * order, so it must not read what the burst writes.
     */
    memset(block, 0x42, sizeof(block));
    send_req(c, NBD_CMD_WRITE, 0, 99, 256 * 1024, sizeof(block));
    wr(c, block, sizeof(block));
    expect_input(c);
    assert_int_equal(read_simple(c, 99), 0);
    for (uint64_t i = 0; i < 42; i++) {
        NBDRequest req = {
            .type = i == 40   ? NBD_CMD_FLUSH
                    : i == 41 ? NBD_CMD_READ
                              : NBD_CMD_WRITE,
            .cookie = i,
            .offset = i == 41 ? 256 * 1024 : 512 * 1024 + i * 512,
            .length = i == 40 ? 0 : sizeof(block),
        };

        nbd_encode_request(hdr, &req);
        g_byte_array_append(burst, hdr, sizeof(hdr));
        if (req.type == NBD_CMD_WRITE) {
            memset(block, (int)(i + 1), sizeof(block));
            g_byte_array_append(burst, block, sizeof(block));
        }
    }
    /* One write, so the server finds the whole burst waiting. */
    wr(c, burst->data, burst->len);
    for (int n = 0; n < 42; n++) {
        uint64_t cookie;

        expect_input(c);
        cookie = read_simple_any(c);

        assert_true(cookie < 42);
        assert_false(seen[cookie]);
        seen[cookie] = true;
        if (cookie == 41) {
            rd(c, block, sizeof(block));
            assert_int_equal(block[0], 0x42);
            assert_int_equal(block[511], 0x42);
        }
    }
    /* Nothing follows this one: its reply must not be held back. */
    memset(block, 0x5a, sizeof(block));
    send_req(c, NBD_CMD_WRITE, 0, 100, 512 * 1024, sizeof(block));
    wr(c, block, sizeof(block));
    expect_input(c);
    assert_int_equal(read_simple(c, 100), 0);
    /* A reply is not held while the next write's payload trickles in. */
    g_byte_array_set_size(burst, 0);
    for (uint64_t i = 0; i < 2; i++) {
        NBDRequest req = {
            .type = NBD_CMD_WRITE,
            .cookie = 300 + i,
            .offset = 512 * 1024,
            .length = sizeof(block),
        };

        nbd_encode_request(hdr, &req);
        g_byte_array_append(burst, hdr, sizeof(hdr));
        g_byte_array_append(burst, block, i ? 100 : sizeof(block));
    }
    wr(c, burst->data, burst->len);
    expect_input(c);
    assert_int_equal(read_simple(c, 300), 0);
    wr(c, block + 100, sizeof(block) - 100);
    expect_input(c);
    assert_int_equal(read_simple(c, 301), 0);
    /* A burst ended by DISC: every reply, then EOF. */
    g_byte_array_set_size(burst, 0);
    for (uint64_t i = 0; i < 20; i++) {
        NBDRequest req = {
            .type = NBD_CMD_WRITE,
            .cookie = 200 + i,
            .offset = 512 * 1024 + i * 512,
            .length = sizeof(block),
        };

        nbd_encode_request(hdr, &req);
        g_byte_array_append(burst, hdr, sizeof(hdr));
        g_byte_array_append(burst, block, sizeof(block));
    }
    wr(c, burst->data, burst->len);
    send_req(c, NBD_CMD_DISC, 0, 999, 0, 0);
    memset(seen, 0, sizeof(seen));
    for (int n = 0; n < 20; n++) {
        uint64_t cookie;

        expect_input(c);
        cookie = read_simple_any(c);

        assert_true(cookie >= 200 && cookie < 220);
        assert_false(seen[cookie - 200]);
        seen[cookie - 200] = true;
    }
    expect_eof(c);
    finish(server, c);
}

static void test_reply_batching(void **state)
{
    g_autofree char *shm = g_strdup("/dev/shm/nbd-batch-XXXXXX");
    struct statfs sfs;
    int fd;

    /* On disk, writes are run by workers; on tmpfs, by the reader. */
    check_reply_batching(export_path, false);
    fd = g_mkstemp(shm);
    if (fd < 0 || fstatfs(fd, &sfs) < 0 || sfs.f_type != TMPFS_MAGIC) {
        if (fd >= 0) {
            close(fd);
            unlink(shm);
        }
        skip();
    }
    assert_int_equal(ftruncate(fd, EXPORT_SIZE), 0);
    close(fd);
    check_reply_batching(shm, true);
}

static void test_discard_and_detect_zeroes(void **state)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *keep = make_file(0x11);
    g_autofree char *punch = make_file(0x22);
    g_autofree char *detect = make_file(0x33);
    NBDExportOptions o_keep = { 0 };
    NBDExportOptions o_punch = { .discard = true, .multi_conn = true };
    NBDExportOptions o_detect = {
        .discard = true,
        .detect_zeroes = NBD_DETECT_ZEROES_UNMAP,
    };
    NBDExportOptions o_bad = { .detect_zeroes = NBD_DETECT_ZEROES_UNMAP };
    NBDServer *server = nbd_server_new(NULL, NULL, &err);
    QIOChannel *ck, *cp, *cd;
    g_autofree uint8_t *zeros = g_malloc0(65536);
    uint8_t back[16];
    uint64_t before;
    uint16_t flags;
    bool holes = can_punch(punch);

    assert_non_null(server);
    /* detect-zeroes=unmap without discard is refused by name. */
    assert_false(nbd_server_add_export_full(server, "bad", keep, &o_bad, &err));
    assert_non_null(strstr(err->message, "detect-zeroes=unmap"));
    g_clear_error(&err);

    /* Defaults: no CAN_MULTI_CONN; TRIM and WRITE_ZEROES keep blocks. */
    flags = add_and_go(server, &ck, "keep", keep, &o_keep);
    assert_false(flags & NBD_FLAG_CAN_MULTI_CONN);
    assert_true(flags & NBD_FLAG_SEND_TRIM);
    before = allocated(keep);
    send_req(ck, NBD_CMD_TRIM, 0, 1, 0, 65536);
    assert_int_equal(read_simple(ck, 1), 0);
    send_req(ck, NBD_CMD_READ, 0, 2, 0, sizeof(back));
    assert_int_equal(read_simple(ck, 2), 0);
    rd(ck, back, sizeof(back));
    assert_int_equal(back[0], 0x11); /* discard=ignore: untouched */
    send_req(ck, NBD_CMD_WRITE_ZEROES, 0, 3, 65536, 65536);
    assert_int_equal(read_simple(ck, 3), 0);
    send_req(ck, NBD_CMD_READ, 0, 4, 65536, sizeof(back));
    assert_int_equal(read_simple(ck, 4), 0);
    rd(ck, back, sizeof(back));
    assert_int_equal(back[0], 0);                       /* zeroed ... */
    assert_true(allocated(keep) >= before - 65536 * 0); /* ... not punched */
    send_req(ck, NBD_CMD_FLUSH, 0, 5, 0, 0);
    assert_int_equal(read_simple(ck, 5), 0);

    /* discard=unmap: both punch holes when the file system can. */
    flags = add_and_go(server, &cp, "punch", punch, &o_punch);
    assert_true(flags & NBD_FLAG_CAN_MULTI_CONN);
    before = allocated(punch);
    send_req(cp, NBD_CMD_TRIM, 0, 1, 0, 65536);
    assert_int_equal(read_simple(cp, 1), 0);
    send_req(cp, NBD_CMD_WRITE_ZEROES, 0, 2, 65536, 65536);
    assert_int_equal(read_simple(cp, 2), 0);
    send_req(cp, NBD_CMD_WRITE_ZEROES, NBD_CMD_FLAG_NO_HOLE, 3, 131072, 65536);
    assert_int_equal(read_simple(cp, 3), 0);
    send_req(cp, NBD_CMD_READ, 0, 4, 65536, sizeof(back));
    assert_int_equal(read_simple(cp, 4), 0);
    rd(cp, back, sizeof(back));
    assert_int_equal(back[0], 0);
    if (holes) {
        assert_true(allocated(punch) <= before - 2 * 65536);
    }

    /* detect-zeroes=unmap: a WRITE of zeros becomes a hole. */
    add_and_go(server, &cd, "detect", detect, &o_detect);
    before = allocated(detect);
    send_req(cd, NBD_CMD_WRITE, 0, 1, 0, 65536);
    wr(cd, zeros, 65536);
    assert_int_equal(read_simple(cd, 1), 0);
    send_req(cd, NBD_CMD_READ, 0, 2, 0, sizeof(back));
    assert_int_equal(read_simple(cd, 2), 0);
    rd(cd, back, sizeof(back));
    assert_int_equal(back[0], 0);
    if (holes) {
        assert_true(allocated(detect) <= before - 65536);
    }

    g_object_unref(ck);
    g_object_unref(cp);
    finish(server, cd);
    unlink(keep);
    unlink(punch);
    unlink(detect);
}

/* cache=none: O_DIRECT where aligned, the page cache where not. */
static void test_cache_modes(void **state)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *path = make_file(0x44);
    NBDExportOptions o_direct = { .cache = NBD_CACHE_DIRECTSYNC };
    NBDExportOptions o_unsafe = { .cache = NBD_CACHE_UNSAFE };
    NBDServer *server = nbd_server_new(NULL, NULL, &err);
    g_autofree uint8_t *data = g_malloc(8192 + 3);
    g_autofree uint8_t *back = g_malloc(8192 + 3);
    QIOChannel *c;

    assert_non_null(server);
    add_and_go(server, &c, "unsafe", path, &o_unsafe);
    send_req(c, NBD_CMD_FLUSH, 0, 1, 0, 0);
    assert_int_equal(read_simple(c, 1), 0);
    g_object_unref(c);

    if (!nbd_server_add_export_full(server, "direct", path, &o_direct, &err)) {
        /* tmpfs and some overlays refuse O_DIRECT: the error says so. */
        assert_int_equal(err->code, QIO_ERROR_NOT_SUPPORTED);
        assert_non_null(strstr(err->message, "O_DIRECT"));
        finish(server, connect_client(server));
        unlink(path);
        skip();
    }
    c = connect_client(server);
    {
        uint64_t size;
        go(c, "direct", &size);
    }
    for (size_t i = 0; i < 8192 + 3; i++) {
        data[i] = (uint8_t)(i * 7 + 1);
    }
    /* Aligned, then unaligned offset and length. */
    send_req(c, NBD_CMD_WRITE, 0, 1, 8192, 8192);
    wr(c, data, 8192);
    assert_int_equal(read_simple(c, 1), 0);
    send_req(c, NBD_CMD_WRITE, NBD_CMD_FLAG_FUA, 2, 65536 + 5, 8192 + 3);
    wr(c, data, 8192 + 3);
    assert_int_equal(read_simple(c, 2), 0);
    send_req(c, NBD_CMD_READ, 0, 3, 8192, 8192);
    assert_int_equal(read_simple(c, 3), 0);
    rd(c, back, 8192);
    assert_memory_equal(back, data, 8192);
    send_req(c, NBD_CMD_READ, 0, 4, 65536 + 5, 8192 + 3);
    assert_int_equal(read_simple(c, 4), 0);
    rd(c, back, 8192 + 3);
    assert_memory_equal(back, data, 8192 + 3);
    /* The last, partial block of a file whose size is not aligned. */
    send_req(c, NBD_CMD_READ, 0, 5, EXPORT_SIZE - 4096, 4096);
    assert_int_equal(read_simple(c, 5), 0);
    rd(c, back, 4096);
    assert_int_equal(back[4095], 0x44);
    finish(server, c);
    unlink(path);
}

/* ---- Serving API ------------------------------------------------------------
 */

typedef struct {
    NBDServer *server;
    gint calls;
    guint count_seen;
} GoneState;

/* The service's gone callback: runs on the default context. */
static void on_gone(QIOConnService *svc, QIOConn *conn, gpointer opaque)
{
    GoneState *gs = opaque;

    gs->count_seen = nbd_server_get_client_count(gs->server);
    g_atomic_int_inc(&gs->calls);
}

typedef struct {
    NBDServer *server;
    QIOChannel *ioc;
} RunArgs;

static gpointer run_thread(gpointer opaque)
{
    RunArgs *a = opaque;

    nbd_server_run_client(a->server, a->ioc);
    return NULL;
}

static void test_run_client_and_gone(void **state)
{
    g_autoptr(QIOChannelSocket) sioc = NULL;
    g_autoptr(QIOChannelSocket) cioc = NULL;
    NBDServer *server = make_server(false);
    GoneState gs = { .server = server };
    QIOConnService *svc;
    uint8_t greet[NBD_SERVER_GREETING_SIZE], flags[4];
    uint16_t sflags;
    uint64_t size;
    gint64 deadline;
    QIOChannel *c;
    RunArgs a;
    GThread *t;
    int fds[2];

    /* On the caller's thread, without a service. */
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds),
                     0);
    sioc = qio_channel_socket_new_fd(fds[0], NULL);
    cioc = qio_channel_socket_new_fd(fds[1], NULL);
    a.server = server;
    a.ioc = QIO_CHANNEL(sioc);
    t = g_thread_new("run", run_thread, &a);
    rd(QIO_CHANNEL(cioc), greet, sizeof(greet));
    assert_true(nbd_decode_greeting(greet, &sflags));
    nbd_put_be32(flags, NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES);
    wr(QIO_CHANNEL(cioc), flags, 4);
    go(QIO_CHANNEL(cioc), "disk", &size);
    assert_int_equal(nbd_server_get_client_count(server), 1);
    send_req(QIO_CHANNEL(cioc), NBD_CMD_DISC, 0, 1, 0, 0);
    g_thread_join(t);
    /* Returned only once the client was gone and counted out. */
    assert_int_equal(nbd_server_get_client_count(server), 0);

    /* Through a service: its gone callback, on its context. */
    svc = qio_conn_service_new("nbd-test", QIO_CONN_SERVICE_THREAD,
                               nbd_server_handle_conn, server, NULL);
    qio_conn_service_set_handshake_limit(svc, 0);
    qio_conn_service_set_gone_func(svc, on_gone, &gs);
    c = connect_via_service(svc);
    go(c, "disk", &size);
    assert_int_equal(nbd_server_get_client_count(server), 1);
    while (g_main_context_iteration(NULL, FALSE)) {
    }
    assert_int_equal(g_atomic_int_get(&gs.calls), 0);
    send_req(c, NBD_CMD_DISC, 0, 1, 0, 0);
    expect_eof(c);
    deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
    while (!g_atomic_int_get(&gs.calls) && g_get_monotonic_time() < deadline) {
        g_main_context_iteration(NULL, FALSE);
        g_usleep(1000);
    }
    /* Called once, after the client was counted out of the server. */
    assert_int_equal(g_atomic_int_get(&gs.calls), 1);
    assert_int_equal(gs.count_seen, 0);
    assert_int_equal(qio_conn_service_get_n_clients(svc), 0);
    g_object_unref(c);
    qio_conn_service_shutdown(svc);
    assert_int_equal(g_atomic_int_get(&gs.calls), 1);
    g_object_unref(svc);
    nbd_server_shutdown(server);
    g_object_unref(server);
}

/* ---- Extended headers (NBD_OPT_EXTENDED_HEADERS) ------------------------- */

static void send_xreq(QIOChannel *c, uint16_t type, uint16_t flags,
                      uint64_t cookie, uint64_t off, uint64_t len)
{
    NBDRequest req = {
        .type = type,
        .flags = flags,
        .cookie = cookie,
        .offset = off,
        .length = len,
    };
    uint8_t hdr[NBD_EXTENDED_REQUEST_SIZE];

    nbd_encode_extended_request(hdr, &req);
    wr(c, hdr, sizeof(hdr));
}

/* One extended chunk for @cookie; its header must echo @off. */
static NBDExtendedReply read_xchunk(QIOChannel *c, uint64_t cookie,
                                    uint64_t off, uint8_t **payload)
{
    uint8_t hdr[NBD_EXTENDED_REPLY_SIZE];
    NBDExtendedReply rep;

    rd(c, hdr, sizeof(hdr));
    assert_true(nbd_decode_extended_reply(hdr, &rep));
    assert_true(rep.cookie == cookie);
    assert_true(rep.offset == off);
    assert_true(rep.length <= NBD_MAX_PAYLOAD + 8);
    *payload = g_malloc0(rep.length + 1);
    rd(c, *payload, rep.length);
    return rep;
}

/* An error chunk for @cookie carrying @err (and a message). */
static void expect_xerror(QIOChannel *c, uint64_t cookie, uint64_t off,
                          uint32_t err)
{
    g_autofree uint8_t *p = NULL;
    NBDExtendedReply r = read_xchunk(c, cookie, off, &p);

    assert_int_equal(r.type, NBD_REPLY_TYPE_ERROR);
    assert_int_equal(r.flags, NBD_REPLY_FLAG_DONE);
    assert_int_equal(nbd_get_be32(p), err);
    assert_true(nbd_get_be16(p + 4) > 0);
    assert_true(r.length == 6 + (uint64_t)nbd_get_be16(p + 4));
}

static void expect_xdone(QIOChannel *c, uint64_t cookie, uint64_t off)
{
    g_autofree uint8_t *p = NULL;
    NBDExtendedReply r = read_xchunk(c, cookie, off, &p);

    assert_int_equal(r.type, NBD_REPLY_TYPE_NONE);
    assert_int_equal(r.flags, NBD_REPLY_FLAG_DONE);
    assert_true(r.length == 0);
}

/* SET_META_CONTEXT base:allocation on @name: context id 1. */
static void set_meta(QIOChannel *c, const char *name)
{
    static const char ctx[] = NBD_META_BASE_ALLOCATION;
    size_t n = strlen(name);
    g_autofree uint8_t *q = g_malloc(4 + n + 8 + sizeof(ctx) - 1);
    g_autofree uint8_t *p = NULL;
    uint32_t len;

    nbd_put_be32(q, n);
    memcpy(q + 4, name, n);
    nbd_put_be32(q + 4 + n, 1);
    nbd_put_be32(q + 8 + n, sizeof(ctx) - 1);
    memcpy(q + 12 + n, ctx, sizeof(ctx) - 1);
    send_opt(c, NBD_OPT_SET_META_CONTEXT, q, 12 + n + sizeof(ctx) - 1);
    assert_int_equal(read_rep(c, NBD_OPT_SET_META_CONTEXT, &p, &len),
                     NBD_REP_META_CONTEXT);
    assert_int_equal(nbd_get_be32(p), 1);
    expect_rep(c, NBD_OPT_SET_META_CONTEXT, NBD_REP_ACK);
}

static void test_extended_negotiation(void **state)
{
    NBDServer *server = make_server(false);
    QIOChannel *c = connect_client(server);
    uint64_t size = 0;

    /* No payload allowed. */
    send_opt(c, NBD_OPT_EXTENDED_HEADERS, "x", 1);
    expect_rep(c, NBD_OPT_EXTENDED_HEADERS, NBD_REP_ERR_INVALID);
    /* Structured replies first, then extended headers take over... */
    send_opt(c, NBD_OPT_STRUCTURED_REPLY, NULL, 0);
    expect_rep(c, NBD_OPT_STRUCTURED_REPLY, NBD_REP_ACK);
    send_opt(c, NBD_OPT_EXTENDED_HEADERS, NULL, 0);
    expect_rep(c, NBD_OPT_EXTENDED_HEADERS, NBD_REP_ACK);
    /* ...and there is no way back to structured replies. */
    send_opt(c, NBD_OPT_STRUCTURED_REPLY, NULL, 0);
    expect_rep(c, NBD_OPT_STRUCTURED_REPLY, NBD_REP_ERR_EXT_HEADER_REQD);
    send_opt(c, NBD_OPT_EXTENDED_HEADERS, NULL, 0);
    expect_rep(c, NBD_OPT_EXTENDED_HEADERS, NBD_REP_ACK);
    /* Meta contexts and DF come with it, as with structured replies. */
    set_meta(c, "disk");
    assert_true(go(c, "disk", &size) & NBD_FLAG_SEND_DF);
    assert_int_equal(size, EXPORT_SIZE);
    send_xreq(c, NBD_CMD_FLUSH, 0, 1, 0, 0);
    expect_xdone(c, 1, 0);
    send_xreq(c, NBD_CMD_DISC, 0, 2, 0, 0);
    expect_eof(c);
    g_object_unref(c);

    /* Alone, without structured replies, it implies them. */
    c = connect_client(server);
    send_opt(c, NBD_OPT_EXTENDED_HEADERS, NULL, 0);
    expect_rep(c, NBD_OPT_EXTENDED_HEADERS, NBD_REP_ACK);
    set_meta(c, "ro");
    assert_true(go(c, "ro", &size) & NBD_FLAG_SEND_DF);
    send_xreq(c, NBD_CMD_DISC, 0, 1, 0, 0);
    expect_eof(c);
    g_object_unref(c);

    /* EXPORT_NAME is forbidden once they are agreed: it cannot refuse. */
    c = connect_client(server);
    send_opt(c, NBD_OPT_EXTENDED_HEADERS, NULL, 0);
    expect_rep(c, NBD_OPT_EXTENDED_HEADERS, NBD_REP_ACK);
    send_opt(c, NBD_OPT_EXPORT_NAME, "disk", 4);
    expect_eof(c);
    finish(server, c);
}

/* An extended request where none were agreed: the stream is lost. */
static void test_extended_request_not_agreed(void **state)
{
    NBDServer *server = make_server(false);
    QIOChannel *c = connect_client(server);
    uint64_t size = 0;

    send_opt(c, NBD_OPT_STRUCTURED_REPLY, NULL, 0);
    expect_rep(c, NBD_OPT_STRUCTURED_REPLY, NBD_REP_ACK);
    go(c, "disk", &size);
    send_xreq(c, NBD_CMD_FLUSH, 0, 1, 0, 0);
    expect_eof(c);
    finish(server, c);
}

/* Like CVE-2021-3716 for structured replies: TLS resets the header style. */
static void test_extended_headers_reset_by_starttls(void **state)
{
    NBDServer *server = make_server(true);
    QIOChannel *c = connect_client(server);
    uint8_t buf[16];
    uint64_t size = 0;

    send_opt(c, NBD_OPT_EXTENDED_HEADERS, NULL, 0);
    expect_rep(c, NBD_OPT_EXTENDED_HEADERS, NBD_REP_ERR_TLS_REQD);
    c = start_tls(c);
    assert_false(go(c, "disk", &size) & NBD_FLAG_SEND_DF);
    /* Compact requests and simple replies: nothing carried over. */
    send_req(c, NBD_CMD_READ, 0, 1, DATA_OFF, sizeof(buf));
    assert_int_equal(read_simple(c, 1), 0);
    rd(c, buf, sizeof(buf));
    assert_int_equal(buf[15], 0xab);
    send_req(c, NBD_CMD_DISC, 0, 2, 0, 0);
    expect_eof(c);
    g_object_unref(c);

    /* Asked inside TLS, they hold. */
    c = connect_client(server);
    c = start_tls(c);
    send_opt(c, NBD_OPT_EXTENDED_HEADERS, NULL, 0);
    expect_rep(c, NBD_OPT_EXTENDED_HEADERS, NBD_REP_ACK);
    go(c, "disk", &size);
    send_xreq(c, NBD_CMD_FLUSH, 0, 7, 0, 0);
    expect_xdone(c, 7, 0);
    send_xreq(c, NBD_CMD_DISC, 0, 8, 0, 0);
    expect_eof(c);
    finish(server, c);
}

/* A sparse file of @size bytes with the test data at DATA_OFF. */
static char *make_sparse(uint64_t size)
{
    g_autoptr(GError) err = NULL;
    g_autofree uint8_t *data = g_malloc(DATA_LEN);
    char *path = NULL;
    int fd = g_file_open_tmp("nbd-ext-XXXXXX", &path, &err);

    assert_true(fd >= 0);
    memset(data, 0xab, DATA_LEN);
    assert_int_equal(ftruncate(fd, size), 0);
    assert_int_equal(pwrite(fd, data, DATA_LEN, DATA_OFF), DATA_LEN);
    close(fd);
    return path;
}

/* Through GO on a fresh copy of the sparse test file of @size bytes. */
static QIOChannel *extended_client(NBDServer **server, char **path,
                                   uint64_t size)
{
    g_autoptr(GError) err = NULL;
    QIOChannel *c;
    uint64_t got = 0;

    *path = make_sparse(size);
    *server = nbd_server_new(NULL, NULL, &err);
    assert_non_null(*server);
    assert_true(nbd_server_add_export(*server, "x", NULL, *path, false, &err));
    c = connect_client(*server);
    send_opt(c, NBD_OPT_EXTENDED_HEADERS, NULL, 0);
    expect_rep(c, NBD_OPT_EXTENDED_HEADERS, NBD_REP_ACK);
    set_meta(c, "x");
    go(c, "x", &got);
    assert_true(got == size);
    return c;
}

static void drop_file(char *path)
{
    unlink(path);
    g_free(path);
}

static void test_extended_io(void **state)
{
    NBDServer *server;
    char *path;
    QIOChannel *c = extended_client(&server, &path, EXPORT_SIZE);
    g_autofree uint8_t *p = NULL;
    uint8_t wbuf[512], junk[8] = { 0 };
    NBDExtendedReply r;
    int fd;

    /* Data: the header echoes the request offset, the payload its own. */
    send_xreq(c, NBD_CMD_READ, NBD_CMD_FLAG_DF, 1, DATA_OFF - 4, 8);
    r = read_xchunk(c, 1, DATA_OFF - 4, &p);
    assert_int_equal(r.type, NBD_REPLY_TYPE_OFFSET_DATA);
    assert_int_equal(r.flags, NBD_REPLY_FLAG_DONE);
    assert_true(r.length == 16);
    assert_true(nbd_get_be64(p) == DATA_OFF - 4);
    assert_memory_equal(p + 8, "\0\0\0\0\xab\xab\xab\xab", 8);
    g_clear_pointer(&p, g_free);
    /* A hole. */
    send_xreq(c, NBD_CMD_READ, 0, 2, 4096, 4096);
    r = read_xchunk(c, 2, 4096, &p);
    assert_int_equal(r.type, NBD_REPLY_TYPE_OFFSET_HOLE);
    assert_true(r.length == 12);
    assert_true(nbd_get_be64(p) == 4096);
    assert_int_equal(nbd_get_be32(p + 8), 4096);
    g_clear_pointer(&p, g_free);

    /* A write carries NBD_CMD_FLAG_PAYLOAD_LEN; the file has the bytes. */
    memset(wbuf, 0x5c, sizeof(wbuf));
    send_xreq(c, NBD_CMD_WRITE, NBD_CMD_FLAG_PAYLOAD_LEN | NBD_CMD_FLAG_FUA, 3,
              8192, sizeof(wbuf));
    wr(c, wbuf, sizeof(wbuf));
    expect_xdone(c, 3, 8192);
    fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    memset(wbuf, 0, sizeof(wbuf));
    assert_int_equal(pread(fd, wbuf, sizeof(wbuf), 8192), sizeof(wbuf));
    assert_int_equal(wbuf[0], 0x5c);
    assert_int_equal(wbuf[511], 0x5c);
    /* Without the flag there is no payload: refused, still in step. */
    send_xreq(c, NBD_CMD_WRITE, 0, 4, 8192, 512);
    expect_xerror(c, 4, 8192, NBD_EINVAL);
    /* A payload on a command that takes none is read and refused. */
    send_xreq(c, NBD_CMD_FLUSH, NBD_CMD_FLAG_PAYLOAD_LEN, 5, 0, sizeof(junk));
    wr(c, junk, sizeof(junk));
    expect_xerror(c, 5, 0, NBD_EINVAL);
    /* The connection is still in step. */
    send_xreq(c, NBD_CMD_FLUSH, 0, 6, 0, 0);
    expect_xdone(c, 6, 0);

    /* 64-bit effect lengths beyond the export, and offset overflow. */
    send_xreq(c, NBD_CMD_TRIM, 0, 7, 0, UINT64_C(1) << 33);
    expect_xerror(c, 7, 0, NBD_EINVAL);
    send_xreq(c, NBD_CMD_WRITE_ZEROES, 0, 8, UINT64_MAX - 10,
              UINT64_C(1) << 40);
    expect_xerror(c, 8, UINT64_MAX - 10, NBD_ENOSPC);
    send_xreq(c, NBD_CMD_CACHE, 0, 9, 4096, UINT64_MAX - 100);
    expect_xerror(c, 9, 4096, NBD_EINVAL);
    send_xreq(c, NBD_CMD_BLOCK_STATUS, 0, 10, 0, (UINT64_C(1) << 32) + 1);
    expect_xerror(c, 10, 0, NBD_EINVAL);
    send_xreq(c, NBD_CMD_READ, 0, 11, 0, UINT64_C(1) << 32);
    expect_xerror(c, 11, 0, NBD_EINVAL);
    /* Trimming the data makes it read as zeroes. */
    send_xreq(c, NBD_CMD_TRIM, 0, 12, 8192, 512);
    expect_xdone(c, 12, 8192);
    assert_int_equal(pread(fd, wbuf, sizeof(wbuf), 8192), sizeof(wbuf));
    assert_int_equal(wbuf[0], 0);
    close(fd);

    /*
     * A compact request now (and the start of the next one, to fill the
     * 32 bytes the server reads): the stream is lost, it hangs up.
     */
    send_req(c, NBD_CMD_FLUSH, 0, 13, 0, 0);
    wr(c, junk, 4);
    expect_eof(c);
    finish(server, c);
    drop_file(path);
}

/* A write payload over the maximum block size cannot be skipped. */
static void test_extended_oversized_payload(void **state)
{
    NBDServer *server;
    char *path;
    QIOChannel *c = extended_client(&server, &path, EXPORT_SIZE);

    send_xreq(c, NBD_CMD_WRITE, NBD_CMD_FLAG_PAYLOAD_LEN, 1, 0,
              (uint64_t)NBD_MAX_PAYLOAD + 1);
    expect_eof(c);
    g_object_unref(c);
    /* The same for a command that takes no payload at all. */
    nbd_server_shutdown(server);
    g_object_unref(server);
    drop_file(path);

    c = extended_client(&server, &path, EXPORT_SIZE);
    send_xreq(c, NBD_CMD_TRIM, NBD_CMD_FLAG_PAYLOAD_LEN, 1, 0,
              UINT64_C(1) << 40);
    expect_eof(c);
    finish(server, c);
    drop_file(path);
}

/*
 * A sparse 6 GiB export: a block status over all of it answers with
 * BLOCK_STATUS_EXT, whose last extent is longer than 32 bits can say;
 * TRIM and WRITE_ZEROES take effect lengths over 4 GiB.
 */
static void test_extended_block_status_64(void **state)
{
    const uint64_t size = UINT64_C(6) << 30;
    NBDServer *server;
    char *path;
    QIOChannel *c = extended_client(&server, &path, size);
    g_autofree uint8_t *p = NULL;
    NBDExtendedReply r;
    uint64_t total = 0;
    uint32_t n;

    send_xreq(c, NBD_CMD_BLOCK_STATUS, 0, 1, 0, size);
    r = read_xchunk(c, 1, 0, &p);
    assert_int_equal(r.type, NBD_REPLY_TYPE_BLOCK_STATUS_EXT);
    assert_int_equal(r.flags, NBD_REPLY_FLAG_DONE);
    assert_true(r.length >= 24 && (r.length - 8) % 16 == 0);
    assert_int_equal(nbd_get_be32(p), 1);
    n = nbd_get_be32(p + 4);
    assert_true(r.length == 8 + 16 * (uint64_t)n);
    for (uint32_t i = 0; i < n; i++) {
        uint64_t len = nbd_get_be64(p + 8 + 16 * i);

        assert_true(len > 0);
        assert_true(nbd_get_be64(p + 16 + 16 * i) >> 32 == 0);
        total += len;
    }
    assert_true(total == size);
    /* Where SEEK_DATA works: hole, data, and one 6 GiB - 128 KiB hole. */
    if (n == 3) {
        assert_true(nbd_get_be64(p + 8) == DATA_OFF);
        assert_true(nbd_get_be64(p + 16) == (NBD_STATE_HOLE | NBD_STATE_ZERO));
        assert_true(nbd_get_be64(p + 24) == DATA_LEN);
        assert_true(nbd_get_be64(p + 32) == 0);
        assert_true(nbd_get_be64(p + 40) == size - DATA_OFF - DATA_LEN);
        assert_true(nbd_get_be64(p + 48) == (NBD_STATE_HOLE | NBD_STATE_ZERO));
    }
    g_clear_pointer(&p, g_free);

    /* 64-bit effect lengths inside the export (punching, not writing). */
    if (can_punch(path)) {
        send_xreq(c, NBD_CMD_TRIM, 0, 2, UINT64_C(1) << 30, UINT64_C(5) << 30);
        expect_xdone(c, 2, UINT64_C(1) << 30);
        send_xreq(c, NBD_CMD_WRITE_ZEROES, 0, 3, 0, size);
        expect_xdone(c, 3, 0);
        assert_true(allocated(path) < 65536);
        send_xreq(c, NBD_CMD_CACHE, 0, 4, 0, size);
        expect_xdone(c, 4, 0);
    }
    send_xreq(c, NBD_CMD_DISC, 0, 5, 0, 0);
    expect_eof(c);
    finish(server, c);
    drop_file(path);
}

/*
 * The client library through GO on export "x" of a new server over a
 * sparse file of @size bytes, asking for extended headers unless
 * @compact.
 */
static NBDClient *library_client(uint64_t size, bool compact,
                                 NBDServer **server, char **path)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(QIOChannelSocket) sioc = NULL;
    g_autoptr(QIOChannelSocket) cioc = NULL;
    NBDClientOptions opts = { .compact_headers = compact };
    NBDClient *cl;
    int fds[2];

    *path = make_sparse(size);
    *server = nbd_server_new(NULL, NULL, &err);
    assert_non_null(*server);
    assert_true(nbd_server_add_export(*server, "x", NULL, *path, false, &err));
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds),
                     0);
    sioc = qio_channel_socket_new_fd(fds[0], NULL);
    cioc = qio_channel_socket_new_fd(fds[1], NULL);
    serve_channel(*server, QIO_CHANNEL(sioc));
    cl = nbd_client_new_channel_full(QIO_CHANNEL(cioc), "qio", NULL, NULL,
                                     &opts, &err);
    if (!cl) {
        fail_msg("client: %s", err->message);
    }
    if (!nbd_client_go(cl, "x", &err)) {
        fail_msg("go: %s", err->message);
    }
    assert_int_equal(nbd_client_has_extended_headers(cl), !compact);
    assert_true(nbd_client_has_structured_replies(cl));
    assert_true(nbd_client_get_size(cl) == size);
    return cl;
}

static void library_client_done(NBDClient *cl, NBDServer *server, char *path)
{
    nbd_client_free(cl);
    nbd_server_shutdown(server);
    assert_int_equal(nbd_server_get_client_count(server), 0);
    g_object_unref(server);
    drop_file(path);
}

/* The client library against this server, with and without them. */
static void check_client_roundtrip(bool compact)
{
    g_autoptr(GError) err = NULL;
    g_autofree uint8_t *wbuf = g_malloc(256 * 1024);
    g_autofree uint8_t *rbuf = g_malloc(256 * 1024);
    g_autoptr(GArray) ext = NULL;
    NBDServer *server;
    char *path;
    NBDClient *cl = library_client(EXPORT_SIZE, compact, &server, &path);
    uint64_t total = 0;

    for (size_t i = 0; i < 256 * 1024; i++) {
        wbuf[i] = (uint8_t)(i * 13 + (i >> 9));
    }
    assert_true(nbd_client_pwrite(cl, wbuf, 256 * 1024, 256 * 1024, 0, &err));
    assert_true(nbd_client_zero(cl, 4096, 256 * 1024 + 8192, 0, &err));
    memset(wbuf + 8192, 0, 4096);
    assert_true(nbd_client_pread(cl, rbuf, 256 * 1024, 256 * 1024, &err));
    assert_memory_equal(rbuf, wbuf, 256 * 1024);
    /* The original data, across a hole boundary. */
    assert_true(nbd_client_pread(cl, rbuf, 8192, DATA_OFF - 4096, &err));
    assert_int_equal(rbuf[4095], 0);
    assert_int_equal(rbuf[4096], 0xab);
    ext = nbd_client_block_status(cl, EXPORT_SIZE, 0, &err);
    if (!ext) {
        fail_msg("block status: %s", err->message);
    }
    assert_int_equal(g_array_index(ext, NBDClientExtent, 0).flags,
                     NBD_STATE_HOLE | NBD_STATE_ZERO);
    assert_true(g_array_index(ext, NBDClientExtent, 0).length == DATA_OFF);
    for (guint i = 0; i < ext->len; i++) {
        total += g_array_index(ext, NBDClientExtent, i).length;
    }
    assert_true(total == EXPORT_SIZE);
    assert_true(nbd_client_trim(cl, 4096, 256 * 1024, &err));
    assert_true(nbd_client_flush(cl, &err));
    /* A server error leaves the connection usable. */
    assert_false(nbd_client_pread(cl, rbuf, 16, EXPORT_SIZE, &err));
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_FAILED));
    g_clear_error(&err);
    assert_true(nbd_client_cache(cl, 4096, 0, &err));
    library_client_done(cl, server, path);
}

/*
 * 64-bit lengths through the library on a sparse 6 GiB export: with
 * extended headers a block status over all of it (an extent over 4 GiB)
 * and a zero of all of it; without them such requests are refused before
 * anything is sent and the connection goes on.
 */
static void check_client_64(bool compact)
{
    const uint64_t size = UINT64_C(6) << 30;
    g_autoptr(GError) err = NULL;
    g_autoptr(GArray) ext = NULL;
    uint8_t buf[16];
    NBDServer *server;
    char *path;
    NBDClient *cl = library_client(size, compact, &server, &path);
    uint64_t total = 0;

    ext = nbd_client_block_status(cl, size, 0, &err);
    if (compact) {
        assert_null(ext);
        assert_true(
            g_error_matches(err, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT));
        g_clear_error(&err);
        assert_false(nbd_client_trim(cl, UINT64_C(1) << 32, 0, &err));
        assert_true(
            g_error_matches(err, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT));
        g_clear_error(&err);
        assert_true(nbd_client_flush(cl, &err));
        library_client_done(cl, server, path);
        return;
    }
    if (!ext) {
        fail_msg("block status: %s", err->message);
    }
    for (guint i = 0; i < ext->len; i++) {
        total += g_array_index(ext, NBDClientExtent, i).length;
    }
    assert_true(total == size);
    if (ext->len == 3) {
        /* SEEK_DATA works here: hole, data, then one 6 GiB hole. */
        assert_true(g_array_index(ext, NBDClientExtent, 2).length ==
                    size - DATA_OFF - DATA_LEN);
    }
    /* Beyond the export: the server's error, the connection goes on. */
    assert_false(nbd_client_trim(cl, size, 1, &err));
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_FAILED));
    g_clear_error(&err);
    assert_true(nbd_client_cache(cl, size, 0, &err));
    if (can_punch(path)) {
        assert_true(nbd_client_zero(cl, size, 0, 0, &err));
        assert_true(nbd_client_pread(cl, buf, sizeof(buf), DATA_OFF, &err));
        assert_true(buf[0] == 0 && buf[15] == 0);
        assert_true(allocated(path) < 65536);
    }
    library_client_done(cl, server, path);
}

static void test_client_extended_roundtrip(void **state)
{
    check_client_roundtrip(false);
}

static void test_client_compact_roundtrip(void **state)
{
    check_client_roundtrip(true);
}

static void test_client_extended_64bit(void **state)
{
    check_client_64(false);
}

static void test_client_compact_64bit_refused(void **state)
{
    check_client_64(true);
}

/* ---- Memory -------------------------------------------------------------- */

#define MEM_BAD_CLIENTS 16
#define MEM_READS       8
#define MEM_EXPORT_SIZE (64ull * 1024 * 1024)

/* A sparse export of MEM_EXPORT_SIZE bytes, for requests of any size. */
static NBDServer *make_big_server(char **path)
{
    g_autoptr(GError) err = NULL;
    NBDServer *server = nbd_server_new(NULL, NULL, &err);
    int fd = g_file_open_tmp("nbd-server-mem-XXXXXX", path, &err);

    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, MEM_EXPORT_SIZE), 0);
    close(fd);
    assert_non_null(server);
    assert_true(nbd_server_add_export(server, "big", NULL, *path, false, &err));
    return server;
}

/*
 * The largest nbd_server_get_buffer_bytes() seen once it is non-zero and
 * has not changed for a second (at most 20 s): what the server settles
 * at.  Generous, as other work may share the machine.
 */
static size_t settled_buffer_bytes(NBDServer *server)
{
    gint64 end = g_get_monotonic_time() + 20 * G_TIME_SPAN_SECOND;
    gint64 stable_since = g_get_monotonic_time();
    size_t last = nbd_server_get_buffer_bytes(server), peak = last;

    while (g_get_monotonic_time() < end &&
           (!last || g_get_monotonic_time() - stable_since < G_USEC_PER_SEC)) {
        size_t now;

        g_usleep(10 * 1000);
        now = nbd_server_get_buffer_bytes(server);
        peak = MAX(peak, now);
        if (now != last) {
            last = now;
            stable_since = g_get_monotonic_time();
        }
    }
    return peak;
}

/*
 * Clients that send large READs and never read a reply hold no more than
 * the server-wide budget, and a well-behaved client is still served.
 */
static void test_memory_bounded_total(void **state)
{
    g_autofree char *path = NULL;
    NBDServer *server = make_big_server(&path);
    QIOChannel *bad[MEM_BAD_CLIENTS];
    QIOChannel *good;
    size_t held, bound;
    uint8_t block[64 * 1024];
    uint64_t size;

    for (int i = 0; i < MEM_BAD_CLIENTS; i++) {
        bad[i] = connect_client(server);
        go(bad[i], "big", &size);
    }
    for (int i = 0; i < MEM_BAD_CLIENTS; i++) {
        for (uint64_t j = 0; j < MEM_READS; j++) {
            send_req(bad[i], NBD_CMD_READ, 0, j,
                     (j % 2) * (MEM_EXPORT_SIZE / 2), NBD_MAX_PAYLOAD);
        }
    }
    held = settled_buffer_bytes(server);
    bound = NBD_SERVER_MEMORY_LIMIT +
            (MEM_BAD_CLIENTS + 1) * NBD_SERVER_CLIENT_RESERVED +
            NBD_SERVER_POOL_BYTES;
    print_message("payload buffers held by %d clients not reading: %zu MiB "
                  "(bound %zu MiB)\n",
                  MEM_BAD_CLIENTS, held >> 20, bound >> 20);
    assert_true(held > 0);
    assert_true(held <= bound);

    /* A 17th client, reading its replies, is served meanwhile. */
    good = connect_client(server);
    go(good, "big", &size);
    for (uint64_t j = 0; j < 16; j++) {
        send_req(good, NBD_CMD_READ, 0, 100 + j, j * sizeof(block),
                 sizeof(block));
    }
    for (uint64_t j = 0; j < 16; j++) {
        uint64_t cookie = read_simple_any(good);

        assert_true(cookie >= 100 && cookie < 116);
        rd(good, block, sizeof(block));
    }
    assert_true(nbd_server_get_buffer_bytes(server) <= bound);
    for (int i = 0; i < MEM_BAD_CLIENTS; i++) {
        g_object_unref(bad[i]);
    }
    finish(server, good);
    unlink(path);
}

/* The budget is the server's to set: a smaller one holds less. */
static void test_memory_limit_set(void **state)
{
    g_autofree char *path = NULL;
    NBDServer *server = make_big_server(&path);
    QIOChannel *bad[4];
    size_t total = 64u * 1024 * 1024, held, bound;
    uint64_t size;

    nbd_server_set_memory_limits(server, total, total);
    for (int i = 0; i < 4; i++) {
        bad[i] = connect_client(server);
        go(bad[i], "big", &size);
        for (uint64_t j = 0; j < MEM_READS; j++) {
            send_req(bad[i], NBD_CMD_READ, 0, j, 0, NBD_MAX_PAYLOAD);
        }
    }
    held = settled_buffer_bytes(server);
    bound = total + 4 * NBD_SERVER_CLIENT_RESERVED + NBD_SERVER_POOL_BYTES;
    assert_true(held > 0);
    assert_true(held <= bound);
    for (int i = 1; i < 4; i++) {
        g_object_unref(bad[i]);
    }
    finish(server, bad[0]);
    unlink(path);
}

/*
 * Buffers a client used are not kept per client once it goes idle: what
 * several idle clients leave is at most the one server-wide pool.
 */
static void test_memory_idle_buffers(void **state)
{
    g_autofree char *path = NULL;
    NBDServer *server = make_big_server(&path);
    g_autofree uint8_t *data = g_malloc0(4 * 1024 * 1024);
    QIOChannel *c[4];
    uint64_t size;

    for (int i = 0; i < 4; i++) {
        c[i] = connect_client(server);
        go(c[i], "big", &size);
        /* FUA writes go to workers: many buffers at once. */
        for (uint64_t j = 0; j < 12; j++) {
            send_req(c[i], NBD_CMD_WRITE, NBD_CMD_FLAG_FUA, j,
                     j * (4 * 1024 * 1024), 4 * 1024 * 1024);
            wr(c[i], data, 4 * 1024 * 1024);
        }
    }
    for (int i = 0; i < 4; i++) {
        for (uint64_t j = 0; j < 12; j++) {
            assert_true(read_simple_any(c[i]) < 12);
        }
    }
    /* Replies are out before the buffer goes back: let them settle. */
    settled_buffer_bytes(server);
    print_message("payload buffers kept by 4 idle clients: %zu MiB\n",
                  nbd_server_get_buffer_bytes(server) >> 20);
    assert_true(nbd_server_get_buffer_bytes(server) <= NBD_SERVER_POOL_BYTES);
    /* When the last client has left, nothing is kept at all. */
    for (int i = 0; i < 4; i++) {
        g_object_unref(c[i]);
    }
    /* The last client frees the pool just after it stops counting. */
    for (int i = 0; i < 1000 && (nbd_server_get_client_count(server) ||
                                 nbd_server_get_buffer_bytes(server));
         i++) {
        g_usleep(10 * 1000);
    }
    assert_int_equal(nbd_server_get_client_count(server), 0);
    assert_int_equal(nbd_server_get_buffer_bytes(server), 0);
    nbd_server_shutdown(server);
    g_object_unref(server);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_info_unknown),
        cmocka_unit_test(test_hostile_option_payloads),
        cmocka_unit_test(test_cve_2017_15119_option_length),
        cmocka_unit_test(test_bad_client_flags),
        cmocka_unit_test(test_tls_required),
        cmocka_unit_test(test_export_name_in_clear),
        cmocka_unit_test(test_cve_2021_3716_structured_reply_reset),
        cmocka_unit_test(test_tls_authz_denied),
        cmocka_unit_test(test_handshake_timeout),
        cmocka_unit_test(test_idle_limit_after_go),
        cmocka_unit_test(test_simple_io),
        cmocka_unit_test(test_readonly_export_name),
        cmocka_unit_test(test_export_name_default),
        cmocka_unit_test(test_structured),
        cmocka_unit_test(test_api_errors),
        cmocka_unit_test(test_pipelined),
        cmocka_unit_test(test_many_large_writes),
        cmocka_unit_test(test_reply_batching),
        cmocka_unit_test(test_bad_client_isolated),
        cmocka_unit_test(test_discard_and_detect_zeroes),
        cmocka_unit_test(test_cache_modes),
        cmocka_unit_test(test_run_client_and_gone),
        cmocka_unit_test(test_extended_negotiation),
        cmocka_unit_test(test_extended_request_not_agreed),
        cmocka_unit_test(test_extended_headers_reset_by_starttls),
        cmocka_unit_test(test_extended_io),
        cmocka_unit_test(test_extended_oversized_payload),
        cmocka_unit_test(test_extended_block_status_64),
        cmocka_unit_test(test_client_extended_roundtrip),
        cmocka_unit_test(test_client_compact_roundtrip),
        cmocka_unit_test(test_client_extended_64bit),
        cmocka_unit_test(test_client_compact_64bit_refused),
        cmocka_unit_test(test_memory_bounded_total),
        cmocka_unit_test(test_memory_limit_set),
        cmocka_unit_test(test_memory_idle_buffers),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
