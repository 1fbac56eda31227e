/*
 * NBD client against a scripted fake server: the server end of a
 * socketpair is a thread that writes canned bytes and records everything
 * the client sends until EOF, so each test asserts both the client's
 * verdict and exactly what it put on the wire (nothing after a refusal).
 */
#include "nbd/client.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "crypto-tls-helpers.h"
#include "crypto/tls-creds.h"
#include "io/channel-socket.h"
#include "io/channel-tls.h"
#include "nbd/nbd-proto.h"
#include "nbd-wire-helpers.h"

#define PEER "127.0.0.1:10809"

typedef struct {
    int fd;
    GByteArray *script; /* bytes the server sends */
    GByteArray *got;    /* bytes the client sent */
} FakeServer;

static gpointer fake_server_run(gpointer opaque)
{
    FakeServer *s = opaque;
    uint8_t buf[4096];
    ssize_t n;

    if (s->script->len) {
        g_assert_cmpint(write(s->fd, s->script->data, s->script->len), ==,
                        (ssize_t)s->script->len);
    }
    while ((n = read(s->fd, buf, sizeof(buf))) > 0) {
        g_byte_array_append(s->got, buf, n);
    }
    close(s->fd);
    return NULL;
}

static void put_greeting(GByteArray *b)
{
    put64(b, NBD_INIT_MAGIC);
    put64(b, NBD_OPTS_MAGIC);
    put16(b, NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES);
}

/*
 * Greeting through GO for export "" (size 1 MiB), meta context id 7, as
 * a server without extended headers answers.
 */
static void put_to_transmission(GByteArray *b)
{
    g_autoptr(GByteArray) p = g_byte_array_new();

    put_greeting(b);
    put_rep(b, NBD_OPT_EXTENDED_HEADERS, NBD_REP_ERR_UNSUP, NULL, 0);
    put_rep(b, NBD_OPT_STRUCTURED_REPLY, NBD_REP_ACK, NULL, 0);
    put32(p, 7);
    g_byte_array_append(p, (const uint8_t *)"base:allocation", 15);
    put_rep(b, NBD_OPT_SET_META_CONTEXT, NBD_REP_META_CONTEXT, p->data, p->len);
    put_rep(b, NBD_OPT_SET_META_CONTEXT, NBD_REP_ACK, NULL, 0);
    g_byte_array_set_size(p, 0);
    put16(p, NBD_INFO_EXPORT);
    put64(p, 1024 * 1024);
    put16(p, NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH);
    put_rep(b, NBD_OPT_GO, NBD_REP_INFO, p->data, p->len);
    put_rep(b, NBD_OPT_GO, NBD_REP_ACK, NULL, 0);
}

typedef struct {
    FakeServer srv;
    GThread *thread;
    QIOChannel *ioc;
} Fixture;

static void fixture_start(Fixture *f, GByteArray *script)
{
    int sv[2];
    g_autoptr(GError) err = NULL;

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
    f->srv.fd = sv[1];
    f->srv.script = script;
    f->srv.got = g_byte_array_new();
    f->ioc = QIO_CHANNEL(qio_channel_socket_new_fd(sv[0], &err));
    assert_non_null(f->ioc);
    f->thread = g_thread_new("fake-nbd", fake_server_run, &f->srv);
}

/* Wait for the client to hang up; returns what it sent. */
static GByteArray *fixture_finish(Fixture *f)
{
    qio_channel_close(f->ioc, NULL);
    g_object_unref(f->ioc);
    g_thread_join(f->thread);
    g_byte_array_unref(f->srv.script);
    return f->srv.got;
}

/* The option code of the @i-th option the client sent (after flags). */
static uint32_t sent_option(GByteArray *got, size_t *pos)
{
    uint32_t opt, len;

    assert_true(*pos + 16 <= got->len);
    assert_true(nbd_get_be64(got->data + *pos) == NBD_OPTS_MAGIC);
    opt = nbd_get_be32(got->data + *pos + 8);
    len = nbd_get_be32(got->data + *pos + 12);
    *pos += 16 + len;
    return opt;
}

static QCryptoTLSCreds *anon_client_creds(void)
{
    g_autoptr(GError) err = NULL;
    QCryptoTLSCreds *creds;

    creds = qcrypto_test_creds_new("tls-creds-anon", &err, "endpoint", "client",
                                   NULL);
    if (!creds) {
        fail_msg("creds: %s", err->message);
    }
    return creds;
}

/* ---- Tests ------------------------------------------------------------ */

static void test_oldstyle_refused(void **state)
{
    Fixture f;
    GByteArray *script = g_byte_array_new();
    g_autoptr(GError) err = NULL;
    g_autoptr(GByteArray) got = NULL;
    g_autoptr(QCryptoTLSCreds) creds = anon_client_creds();
    NBDClient *c;

    (void)state;
    put64(script, NBD_INIT_MAGIC);
    put64(script, NBD_CLIENT_MAGIC);
    put64(script, 1024);
    fixture_start(&f, script);
    c = nbd_client_new_channel(f.ioc, PEER, creds, "localhost", &err);
    assert_null(c);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_NOT_SUPPORTED));
    assert_non_null(strstr(err->message, "oldstyle"));
    got = fixture_finish(&f);
    assert_int_equal(got->len, 0);
}

/* CVE-2019-14842: newstyle without the FIXED flag is refused. */
static void test_cve_2019_14842_not_fixed(void **state)
{
    Fixture f;
    GByteArray *script = g_byte_array_new();
    g_autoptr(GError) err = NULL;
    g_autoptr(GByteArray) got = NULL;
    g_autoptr(QCryptoTLSCreds) creds = anon_client_creds();

    (void)state;
    put64(script, NBD_INIT_MAGIC);
    put64(script, NBD_OPTS_MAGIC);
    put16(script, 0);
    fixture_start(&f, script);
    assert_null(nbd_client_new_channel(f.ioc, PEER, creds, "localhost", &err));
    assert_non_null(strstr(err->message, "fixed-newstyle"));
    got = fixture_finish(&f);
    assert_int_equal(got->len, 0);
}

static void check_starttls_refused(uint32_t reply)
{
    Fixture f;
    GByteArray *script = g_byte_array_new();
    g_autoptr(GError) err = NULL;
    g_autoptr(GByteArray) got = NULL;
    g_autoptr(QCryptoTLSCreds) creds = anon_client_creds();
    size_t pos = 4;

    put_greeting(script);
    put_rep(script, NBD_OPT_STARTTLS, reply, "no", 2);
    /* Bait: a server pretending all is well afterwards. */
    put_rep(script, NBD_OPT_GO, NBD_REP_ACK, NULL, 0);
    fixture_start(&f, script);
    assert_null(nbd_client_new_channel(f.ioc, PEER, creds, "localhost", &err));
    assert_string_equal(err->message,
                        "server 127.0.0.1:10809 refused TLS "
                        "(NBD_OPT_STARTTLS); not continuing in clear text");
    got = fixture_finish(&f);
    assert_int_equal(nbd_get_be32(got->data),
                     NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES);
    assert_int_equal(sent_option(got, &pos), NBD_OPT_STARTTLS);
    assert_int_equal(pos, got->len);
}

static void test_starttls_unsup(void **state)
{
    (void)state;
    check_starttls_refused(NBD_REP_ERR_UNSUP);
}

static void test_starttls_policy(void **state)
{
    (void)state;
    check_starttls_refused(NBD_REP_ERR_POLICY);
}

static void test_tls_required(void **state)
{
    Fixture f;
    GByteArray *script = g_byte_array_new();
    g_autoptr(GError) err = NULL;
    g_autoptr(GByteArray) got = NULL;
    size_t pos = 4;

    (void)state;
    put_greeting(script);
    put_rep(script, NBD_OPT_EXTENDED_HEADERS, NBD_REP_ERR_TLS_REQD, NULL, 0);
    fixture_start(&f, script);
    assert_null(nbd_client_new_channel(f.ioc, PEER, NULL, NULL, &err));
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_PERMISSION_DENIED));
    assert_non_null(strstr(err->message, "this NBD server requires TLS; "
                                         "use --tls-creds"));
    got = fixture_finish(&f);
    assert_int_equal(sent_option(got, &pos), NBD_OPT_EXTENDED_HEADERS);
    assert_true(pos == got->len);
}

static void test_option_reply_too_long(void **state)
{
    Fixture f;
    GByteArray *script = g_byte_array_new();
    g_autoptr(GError) err = NULL;
    g_autoptr(GByteArray) got = NULL;

    (void)state;
    put_greeting(script);
    put64(script, NBD_REP_MAGIC);
    put32(script, NBD_OPT_EXTENDED_HEADERS);
    put32(script, NBD_REP_ACK);
    put32(script, 0xffffffff);
    fixture_start(&f, script);
    assert_null(nbd_client_new_channel(f.ioc, PEER, NULL, NULL, &err));
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_TOO_LARGE));
    got = fixture_finish(&f);
}

static void test_option_error_message(void **state)
{
    Fixture f;
    GByteArray *script = g_byte_array_new();
    g_autoptr(GError) err = NULL;
    g_autoptr(GByteArray) got = NULL;
    NBDClient *c;
    const char *why = "export 'disk9' does not exist";

    (void)state;
    put_greeting(script);
    put_rep(script, NBD_OPT_EXTENDED_HEADERS, NBD_REP_ERR_UNSUP, NULL, 0);
    put_rep(script, NBD_OPT_STRUCTURED_REPLY, NBD_REP_ERR_UNSUP, NULL, 0);
    put_rep(script, NBD_OPT_GO, NBD_REP_ERR_UNKNOWN, why, strlen(why));
    fixture_start(&f, script);
    c = nbd_client_new_channel(f.ioc, PEER, NULL, NULL, &err);
    assert_non_null(c);
    assert_false(nbd_client_has_structured_replies(c));
    assert_false(nbd_client_go(c, "disk9", &err));
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_NOT_FOUND));
    assert_non_null(strstr(err->message, why));
    nbd_client_free(c);
    got = fixture_finish(&f);
}

static void test_transmission(void **state)
{
    Fixture f;
    GByteArray *script = g_byte_array_new();
    g_autoptr(GError) err = NULL;
    g_autoptr(GByteArray) got = NULL;
    g_autoptr(GArray) ext = NULL;
    NBDClient *c;
    uint8_t buf[16];
    size_t pos = 4;

    (void)state;
    put_to_transmission(script);
    /* cookie 1: read of 16 bytes at 0: data 8 + hole 8. */
    put_chunk(script, 0, NBD_REPLY_TYPE_OFFSET_DATA, 1, 16);
    put64(script, 0);
    g_byte_array_append(script, (const uint8_t *)"ABCDEFGH", 8);
    put_chunk(script, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_OFFSET_HOLE, 1, 12);
    put64(script, 8);
    put32(script, 8);
    /* cookie 2: block status. */
    put_chunk(script, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_BLOCK_STATUS, 2, 20);
    put32(script, 7);
    put32(script, 4096);
    put32(script, 0);
    put32(script, 4096);
    put32(script, NBD_STATE_HOLE | NBD_STATE_ZERO);
    /* cookie 3: read failing with a message. */
    put_chunk(script, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_ERROR, 3, 6 + 12);
    put32(script, NBD_EIO);
    put16(script, 12);
    g_byte_array_append(script, (const uint8_t *)"disk on fire", 12);
    /* cookie 4: flush, simple reply. */
    put32(script, NBD_SIMPLE_REPLY_MAGIC);
    put32(script, 0);
    put64(script, 4);
    fixture_start(&f, script);

    c = nbd_client_new_channel(f.ioc, PEER, NULL, NULL, &err);
    assert_non_null(c);
    assert_true(nbd_client_go(c, "", &err));
    assert_int_equal(nbd_client_get_size(c), 1024 * 1024);
    assert_true(nbd_client_pread(c, buf, 16, 0, &err));
    assert_memory_equal(buf, "ABCDEFGH\0\0\0\0\0\0\0\0", 16);
    ext = nbd_client_block_status(c, 8192, 0, &err);
    assert_non_null(ext);
    assert_int_equal(ext->len, 2);
    assert_int_equal(g_array_index(ext, NBDClientExtent, 1).flags,
                     NBD_STATE_HOLE | NBD_STATE_ZERO);
    assert_false(nbd_client_pread(c, buf, 16, 0, &err));
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_FAILED));
    assert_non_null(strstr(err->message, "disk on fire"));
    g_clear_error(&err);
    /* A server error leaves the connection usable. */
    assert_true(nbd_client_flush(c, &err));
    nbd_client_free(c);

    got = fixture_finish(&f);
    /* Extended headers refused: structured replies, compact requests. */
    assert_int_equal(sent_option(got, &pos), NBD_OPT_EXTENDED_HEADERS);
    assert_int_equal(sent_option(got, &pos), NBD_OPT_STRUCTURED_REPLY);
    assert_int_equal(sent_option(got, &pos), NBD_OPT_SET_META_CONTEXT);
    assert_int_equal(sent_option(got, &pos), NBD_OPT_GO);
    /* Four requests and the disconnect. */
    assert_int_equal(got->len - pos, 5 * NBD_REQUEST_SIZE);
    assert_int_equal(nbd_get_be16(got->data + got->len - 22), NBD_CMD_DISC);
}

static void check_bad_reply(GByteArray *script, const char *what)
{
    Fixture f;
    g_autoptr(GError) err = NULL;
    g_autoptr(GByteArray) got = NULL;
    NBDClient *c;
    uint8_t buf[16];

    fixture_start(&f, script);
    c = nbd_client_new_channel(f.ioc, PEER, NULL, NULL, &err);
    assert_non_null(c);
    assert_true(nbd_client_go(c, "", &err));
    assert_false(nbd_client_pread(c, buf, 16, 0, &err));
    if (!g_error_matches(err, QIO_ERROR, QIO_ERROR_PROTOCOL) &&
        !g_error_matches(err, QIO_ERROR, QIO_ERROR_TOO_LARGE)) {
        fail_msg("%s: unexpected error %s", what, err->message);
    }
    /* The connection is dead afterwards, cleanly. */
    g_clear_error(&err);
    assert_false(nbd_client_flush(c, &err));
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_CLOSED));
    nbd_client_free(c);
    got = fixture_finish(&f);
}

static void test_bad_replies(void **state)
{
    GByteArray *s;

    (void)state;
    s = g_byte_array_new();
    put_to_transmission(s);
    put32(s, 0xdeadbeef);
    put32(s, 0);
    put64(s, 1);
    check_bad_reply(s, "bad magic");

    s = g_byte_array_new();
    put_to_transmission(s);
    put_chunk(s, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_NONE, 99, 0);
    check_bad_reply(s, "wrong cookie");

    s = g_byte_array_new();
    put_to_transmission(s);
    put_chunk(s, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_OFFSET_DATA, 1, 8 + 16);
    put64(s, 4);
    check_bad_reply(s, "data beyond the request");

    s = g_byte_array_new();
    put_to_transmission(s);
    put_chunk(s, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_ERROR, 1, 0xffffffff);
    check_bad_reply(s, "huge error chunk");

    s = g_byte_array_new();
    put_to_transmission(s);
    put_chunk(s, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_ERROR, 1, 8);
    put32(s, NBD_EIO);
    put16(s, 500);
    put16(s, 0);
    check_bad_reply(s, "error message longer than chunk");

    s = g_byte_array_new();
    put_to_transmission(s);
    put_chunk(s, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_OFFSET_DATA, 1, 8 + 8);
    put64(s, 0);
    put64(s, 0);
    check_bad_reply(s, "read not fully covered");
}

/*
 * A server that accepts STARTTLS and then really does TLS (anonymous
 * credentials): the client's first option must be STARTTLS, and
 * structured replies must be negotiated again inside TLS.
 */
typedef struct {
    int fd;
    QCryptoTLSCreds *creds;
    uint32_t first_opt;
    uint32_t tls_opt;
    bool tls_ok;
} TLSServer;

static gpointer tls_server_run(gpointer opaque)
{
    TLSServer *t = opaque;
    g_autoptr(GByteArray) out = g_byte_array_new();
    g_autoptr(QIOChannelSocket) sioc = NULL;
    g_autoptr(QIOChannelTLS) tioc = NULL;
    uint8_t in[4 + NBD_OPTION_HEADER_SIZE];
    uint8_t opt[NBD_OPTION_HEADER_SIZE];

    sioc = qio_channel_socket_new_fd(t->fd, NULL);
    put_greeting(out);
    if (qio_channel_write_all(QIO_CHANNEL(sioc), out->data, out->len, NULL) <
            0 ||
        qio_channel_read_all(QIO_CHANNEL(sioc), in, sizeof(in), NULL) < 0) {
        return NULL;
    }
    t->first_opt = nbd_get_be32(in + 4 + 8);
    g_byte_array_set_size(out, 0);
    put_rep(out, NBD_OPT_STARTTLS, NBD_REP_ACK, NULL, 0);
    if (qio_channel_write_all(QIO_CHANNEL(sioc), out->data, out->len, NULL) <
        0) {
        return NULL;
    }
    tioc = qio_channel_tls_new_server(QIO_CHANNEL(sioc), t->creds, NULL, NULL);
    if (!tioc || qio_channel_tls_handshake_sync(tioc, NULL) < 0) {
        return NULL;
    }
    t->tls_ok = true;
    if (qio_channel_read_all(QIO_CHANNEL(tioc), opt, sizeof(opt), NULL) < 0) {
        return NULL;
    }
    t->tls_opt = nbd_get_be32(opt + 8);
    g_byte_array_set_size(out, 0);
    put_rep(out, t->tls_opt, NBD_REP_ACK, NULL, 0);
    qio_channel_write_all(QIO_CHANNEL(tioc), out->data, out->len, NULL);
    /* Drain until the client hangs up (its NBD_OPT_ABORT). */
    while (qio_channel_read(QIO_CHANNEL(tioc), opt, sizeof(opt), NULL) > 0) {
        continue;
    }
    return NULL;
}

static void test_starttls_then_renegotiate(void **state)
{
    int sv[2];
    g_autoptr(GError) err = NULL;
    g_autoptr(QCryptoTLSCreds) creds = anon_client_creds();
    g_autoptr(QIOChannelSocket) cioc = NULL;
    TLSServer t = { 0 };
    GThread *th;
    NBDClient *c;

    (void)state;
    t.creds = qcrypto_test_creds_new("tls-creds-anon", &err, "endpoint",
                                     "server", NULL);
    if (!t.creds) {
        fail_msg("server creds: %s", err->message);
    }
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
    t.fd = sv[1];
    cioc = qio_channel_socket_new_fd(sv[0], &err);
    assert_non_null(cioc);
    th = g_thread_new("fake-nbd-tls", tls_server_run, &t);
    c = nbd_client_new_channel(QIO_CHANNEL(cioc), PEER, creds, NULL, &err);
    if (!c) {
        fail_msg("client: %s", err->message);
    }
    assert_true(nbd_client_is_tls(c));
    assert_true(nbd_client_has_structured_replies(c));
    assert_true(nbd_client_has_extended_headers(c));
    nbd_client_free(c);
    g_thread_join(th);
    g_object_unref(t.creds);
    assert_true(t.tls_ok);
    assert_int_equal(t.first_opt, NBD_OPT_STARTTLS);
    /* The first option inside TLS: headers are negotiated afresh. */
    assert_int_equal(t.tls_opt, NBD_OPT_EXTENDED_HEADERS);
}

/*
 * A man in the middle acknowledges STARTTLS and appends, in the clear,
 * the replies the client would wait for next.  They must reach the TLS
 * handshake (which fails on them), never the option parser: the client
 * reads the ACK and not a byte more, and sends no option in the clear
 * after STARTTLS.
 */
static void test_starttls_cleartext_injection(void **state)
{
    Fixture f;
    GByteArray *script = g_byte_array_new();
    g_autoptr(GError) err = NULL;
    g_autoptr(GByteArray) got = NULL;
    g_autoptr(QCryptoTLSCreds) creds = anon_client_creds();
    size_t pos = 4;
    gint64 start;

    (void)state;
    put_greeting(script);
    put_rep(script, NBD_OPT_STARTTLS, NBD_REP_ACK, NULL, 0);
    put_rep(script, NBD_OPT_EXTENDED_HEADERS, NBD_REP_ACK, NULL, 0);
    put_rep(script, NBD_OPT_STRUCTURED_REPLY, NBD_REP_ACK, NULL, 0);
    fixture_start(&f, script);
    start = g_get_monotonic_time();
    assert_null(nbd_client_new_channel(f.ioc, PEER, creds, "localhost", &err));
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_PERMISSION_DENIED));
    assert_non_null(strstr(err->message, "TLS handshake"));
    /*
     * At once, on the injected bytes: a client that had read them with
     * the ACK would wait for a ServerHello until its 10 s limit.
     */
    assert_true(g_get_monotonic_time() - start < 5 * G_USEC_PER_SEC);
    got = fixture_finish(&f);
    assert_int_equal(sent_option(got, &pos), NBD_OPT_STARTTLS);
    /* Whatever follows is the TLS ClientHello record, not an option. */
    assert_true(pos < got->len);
    assert_int_equal(got->data[pos], 0x16);
}

/*
 * Extended headers are asked for first; any refusal but TLS_REQD falls
 * back to structured replies; an ACK with a payload is a violation; a
 * client told to use compact headers never asks.
 */
static void test_extended_headers_negotiation(void **state)
{
    Fixture f;
    GByteArray *script = g_byte_array_new();
    g_autoptr(GError) err = NULL;
    g_autoptr(GByteArray) got = NULL;
    NBDClientOptions compact = { .compact_headers = true };
    NBDClient *c;
    size_t pos = 4;

    (void)state;
    put_greeting(script);
    put_rep(script, NBD_OPT_EXTENDED_HEADERS, NBD_REP_ERR_POLICY, "no", 2);
    put_rep(script, NBD_OPT_STRUCTURED_REPLY, NBD_REP_ACK, NULL, 0);
    fixture_start(&f, script);
    c = nbd_client_new_channel(f.ioc, PEER, NULL, NULL, &err);
    assert_non_null(c);
    assert_false(nbd_client_has_extended_headers(c));
    assert_true(nbd_client_has_structured_replies(c));
    nbd_client_free(c);
    got = fixture_finish(&f);
    assert_int_equal(sent_option(got, &pos), NBD_OPT_EXTENDED_HEADERS);
    assert_int_equal(sent_option(got, &pos), NBD_OPT_STRUCTURED_REPLY);
    assert_int_equal(sent_option(got, &pos), NBD_OPT_ABORT);
    g_clear_pointer(&got, g_byte_array_unref);

    script = g_byte_array_new();
    put_greeting(script);
    put_rep(script, NBD_OPT_EXTENDED_HEADERS, NBD_REP_ACK, "x", 1);
    fixture_start(&f, script);
    assert_null(nbd_client_new_channel(f.ioc, PEER, NULL, NULL, &err));
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_PROTOCOL));
    g_clear_error(&err);
    got = fixture_finish(&f);
    pos = 4;
    assert_int_equal(sent_option(got, &pos), NBD_OPT_EXTENDED_HEADERS);
    assert_true(pos == got->len);
    g_clear_pointer(&got, g_byte_array_unref);

    script = g_byte_array_new();
    put_greeting(script);
    put_rep(script, NBD_OPT_STRUCTURED_REPLY, NBD_REP_ACK, NULL, 0);
    fixture_start(&f, script);
    c = nbd_client_new_channel_full(f.ioc, PEER, NULL, NULL, &compact, &err);
    assert_non_null(c);
    assert_false(nbd_client_has_extended_headers(c));
    assert_true(nbd_client_has_structured_replies(c));
    nbd_client_free(c);
    got = fixture_finish(&f);
    pos = 4;
    assert_int_equal(sent_option(got, &pos), NBD_OPT_STRUCTURED_REPLY);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_oldstyle_refused),
        cmocka_unit_test(test_cve_2019_14842_not_fixed),
        cmocka_unit_test(test_starttls_unsup),
        cmocka_unit_test(test_starttls_policy),
        cmocka_unit_test(test_tls_required),
        cmocka_unit_test(test_starttls_then_renegotiate),
        cmocka_unit_test(test_starttls_cleartext_injection),
        cmocka_unit_test(test_option_reply_too_long),
        cmocka_unit_test(test_option_error_message),
        cmocka_unit_test(test_transmission),
        cmocka_unit_test(test_bad_replies),
        cmocka_unit_test(test_extended_headers_negotiation),
    };

    qcrypto_tls_creds_register_types();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
