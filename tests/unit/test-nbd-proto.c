/*
 * Unit tests for the NBD wire helpers in nbd/proto.c: every header is
 * encoded to the exact big-endian bytes the protocol fixes, decodes back,
 * and is refused when its magic is wrong; errno mapping and name tables
 * cover every value the server can send.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include <glib.h>

#include "nbd/nbd-proto.h"

static void test_byte_order(void **state)
{
    uint8_t b[8];

    nbd_put_be64(b, UINT64_C(0x0102030405060708));
    for (int i = 0; i < 8; i++) {
        assert_int_equal(b[i], i + 1);
    }
    assert_true(nbd_get_be64(b) == UINT64_C(0x0102030405060708));
    assert_int_equal(nbd_get_be32(b + 4), 0x05060708);
    assert_int_equal(nbd_get_be16(b + 6), 0x0708);
    nbd_put_be16(b, 0xfffe);
    assert_int_equal(nbd_get_be16(b), 0xfffe);
}

static void test_magics(void **state)
{
    uint8_t b[8];

    nbd_put_be64(b, NBD_INIT_MAGIC);
    assert_memory_equal(b, "NBDMAGIC", 8);
    nbd_put_be64(b, NBD_OPTS_MAGIC);
    assert_memory_equal(b, "IHAVEOPT", 8);
}

static void test_greeting(void **state)
{
    uint8_t b[NBD_SERVER_GREETING_SIZE];
    uint16_t flags = 0;

    nbd_encode_greeting(b, NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES);
    assert_memory_equal(b, "NBDMAGICIHAVEOPT\x00\x03", sizeof(b));
    assert_true(nbd_decode_greeting(b, &flags));
    assert_int_equal(flags, 3);
    b[0] ^= 1;
    assert_false(nbd_decode_greeting(b, &flags));
}

static void test_option(void **state)
{
    static const uint8_t want[] = "IHAVEOPT\x00\x00\x00\x07\x00\x01\x00\x02";
    NBDOption in = { .option = NBD_OPT_GO, .length = 0x10002 };
    NBDOption out = { 0 };
    uint8_t b[NBD_OPTION_HEADER_SIZE];

    nbd_encode_option(b, &in);
    assert_memory_equal(b, want, sizeof(b));
    assert_true(nbd_decode_option(b, &out));
    assert_int_equal(out.option, NBD_OPT_GO);
    assert_int_equal(out.length, 0x10002);
    b[7] = 'X';
    assert_false(nbd_decode_option(b, &out));
}

static void test_option_reply(void **state)
{
    static const uint8_t want[] = {
        0x00, 0x03, 0xe8, 0x89, 0x04, 0x55, 0x65, 0xa9, 0x00, 0x00,
        0x00, 0x05, 0x80, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x2a,
    };
    NBDOptionReply in = {
        .option = NBD_OPT_STARTTLS,
        .type = NBD_REP_ERR_TLS_REQD,
        .length = 42,
    };
    NBDOptionReply out = { 0 };
    uint8_t b[NBD_OPTION_REPLY_SIZE];

    nbd_encode_option_reply(b, &in);
    assert_memory_equal(b, want, sizeof(b));
    assert_true(nbd_decode_option_reply(b, &out));
    assert_int_equal(out.option, in.option);
    assert_int_equal(out.type, in.type);
    assert_int_equal(out.length, in.length);
    assert_true(NBD_REP_IS_ERR(out.type));
    assert_false(NBD_REP_IS_ERR(NBD_REP_ACK));
    b[0] = 1;
    assert_false(nbd_decode_option_reply(b, &out));
}

static void test_request(void **state)
{
    static const uint8_t want[] = {
        0x25, 0x60, 0x95, 0x13, 0x00, 0x01, 0x00, 0x01, 0x11, 0x22,
        0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x00, 0x00, 0x00, 0x01,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00,
    };
    NBDRequest in = {
        .flags = NBD_CMD_FLAG_FUA,
        .type = NBD_CMD_WRITE,
        .cookie = UINT64_C(0x1122334455667788),
        .offset = UINT64_C(0x100000000),
        .length = 4096,
    };
    NBDRequest out = { 0 };
    uint8_t b[NBD_REQUEST_SIZE];

    nbd_encode_request(b, &in);
    assert_memory_equal(b, want, sizeof(b));
    assert_true(nbd_decode_request(b, &out));
    assert_int_equal(out.flags, in.flags);
    assert_int_equal(out.type, in.type);
    assert_true(out.cookie == in.cookie);
    assert_true(out.offset == in.offset);
    assert_int_equal(out.length, in.length);
    b[3] = 0;
    assert_false(nbd_decode_request(b, &out));
}

/* Extended headers: 32 bytes each way, 64-bit lengths, offset echoed. */
static void test_extended_headers(void **state)
{
    static const uint8_t want_req[] = {
        0x21, 0xe4, 0x1c, 0x71, 0x00, 0x20, 0x00, 0x04, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x09, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01,
    };
    static const uint8_t want_rep[] = {
        0x6e, 0x8a, 0x27, 0x8c, 0x00, 0x01, 0x00, 0x06, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x09, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x18,
    };
    NBDRequest in = {
        .flags = NBD_CMD_FLAG_PAYLOAD_LEN,
        .type = NBD_CMD_TRIM,
        .cookie = 9,
        .offset = UINT64_C(0x100000000),
        .length = UINT64_C(0x200000001),
    };
    NBDRequest out = { 0 };
    NBDExtendedReply r = {
        .flags = NBD_REPLY_FLAG_DONE, .type = NBD_REPLY_TYPE_BLOCK_STATUS_EXT,
        .cookie = 9, .offset = UINT64_C(0x100000000), .length = 24,
    }, r2 = { 0 };
    uint8_t b[NBD_EXTENDED_REQUEST_SIZE];

    assert_int_equal(NBD_EXTENDED_REQUEST_SIZE, sizeof(want_req));
    assert_int_equal(NBD_EXTENDED_REPLY_SIZE, sizeof(want_rep));
    nbd_encode_extended_request(b, &in);
    assert_memory_equal(b, want_req, sizeof(b));
    assert_true(nbd_decode_extended_request(b, &out));
    assert_int_equal(out.flags, in.flags);
    assert_int_equal(out.type, in.type);
    assert_true(out.cookie == in.cookie);
    assert_true(out.offset == in.offset);
    assert_true(out.length == in.length);
    /* Neither style decodes as the other. */
    assert_false(nbd_decode_request(b, &out));
    nbd_encode_request(b, &in);
    assert_false(nbd_decode_extended_request(b, &out));

    nbd_encode_extended_reply(b, &r);
    assert_memory_equal(b, want_rep, sizeof(b));
    assert_true(nbd_decode_extended_reply(b, &r2));
    assert_int_equal(r2.flags, r.flags);
    assert_int_equal(r2.type, r.type);
    assert_true(r2.cookie == r.cookie);
    assert_true(r2.offset == r.offset);
    assert_true(r2.length == r.length);
    {
        NBDStructuredReply sr;

        assert_false(nbd_decode_structured_reply(b, &sr));
    }
    b[0] ^= 1;
    assert_false(nbd_decode_extended_reply(b, &r2));
}

static void test_replies(void **state)
{
    NBDSimpleReply s = { .error = NBD_EPERM, .cookie = 99 }, s2 = { 0 };
    NBDStructuredReply r = {
        .flags = NBD_REPLY_FLAG_DONE, .type = NBD_REPLY_TYPE_ERROR,
        .cookie = 7, .length = 6,
    }, r2 = { 0 };
    /* Both sized for the larger header, so each can be cross-decoded. */
    uint8_t sb[NBD_STRUCTURED_REPLY_SIZE] = { 0 };
    uint8_t rb[NBD_STRUCTURED_REPLY_SIZE];

    nbd_encode_simple_reply(sb, &s);
    assert_memory_equal(sb, "\x67\x44\x66\x98\x00\x00\x00\x01", 8);
    assert_true(nbd_decode_simple_reply(sb, &s2));
    assert_int_equal(s2.error, NBD_EPERM);
    assert_int_equal(s2.cookie, 99);
    assert_false(nbd_decode_structured_reply(sb, &r2));

    nbd_encode_structured_reply(rb, &r);
    assert_memory_equal(rb, "\x66\x8e\x33\xef\x00\x01\x80\x01", 8);
    assert_true(nbd_decode_structured_reply(rb, &r2));
    assert_int_equal(r2.flags, r.flags);
    assert_int_equal(r2.type, r.type);
    assert_int_equal(r2.cookie, 7);
    assert_int_equal(r2.length, 6);
    assert_true(NBD_REPLY_TYPE_IS_ERR(r2.type));
    assert_false(nbd_decode_simple_reply(rb, &s2));
}

static void test_errno(void **state)
{
    static const int round[] = {
        0, EPERM, EIO, ENOMEM, EINVAL, ENOSPC, EOVERFLOW, ENOTSUP, ESHUTDOWN,
    };

    for (size_t i = 0; i < G_N_ELEMENTS(round); i++) {
        assert_int_equal(nbd_wire_to_errno(nbd_errno_to_wire(round[i])),
                         round[i]);
    }
    assert_int_equal(nbd_errno_to_wire(EROFS), NBD_EPERM);
    assert_int_equal(nbd_errno_to_wire(EBADF), NBD_EINVAL);
    assert_int_equal(nbd_wire_to_errno(12345), EINVAL);
}

static void test_names(void **state)
{
    assert_string_equal(nbd_opt_name(NBD_OPT_STARTTLS), "starttls");
    assert_string_equal(nbd_opt_name(NBD_OPT_GO), "go");
    assert_string_equal(nbd_opt_name(999), "unknown");
    for (uint32_t o = NBD_OPT_EXPORT_NAME; o <= NBD_OPT_EXTENDED_HEADERS; o++) {
        assert_string_not_equal(nbd_opt_name(o), "unknown");
    }
    assert_string_equal(nbd_rep_name(NBD_REP_ERR_TLS_REQD), "err_tls_reqd");
    for (uint32_t t = 1; t <= 10; t++) {
        assert_string_not_equal(nbd_rep_name(NBD_REP_ERR_BIT | t), "unknown");
    }
    for (uint32_t t = NBD_REP_ACK; t <= NBD_REP_META_CONTEXT; t++) {
        assert_string_not_equal(nbd_rep_name(t), "unknown");
    }
    assert_string_equal(nbd_rep_name(NBD_REP_ERR_BIT | 77), "unknown");
    for (uint16_t c = NBD_CMD_READ; c <= NBD_CMD_RESIZE; c++) {
        assert_string_not_equal(nbd_cmd_name(c), "unknown");
    }
    assert_string_equal(nbd_cmd_name(1000), "unknown");
    assert_string_equal(nbd_info_name(NBD_INFO_BLOCK_SIZE), "block_size");
    assert_string_equal(nbd_reply_type_name(NBD_REPLY_TYPE_ERROR_OFFSET),
                        "error_offset");
    assert_string_equal(nbd_err_name(NBD_ENOSPC), "ENOSPC");
}

/* One table, two spellings, in bit order; nothing for unnamed bits. */
static void test_flag_names(void **state)
{
    static const char *const qemu[16] = {
        NULL,
        "readonly",
        "flush",
        "fua",
        "rotational",
        "trim",
        "zeroes",
        "df",
        "multi",
        "resize",
        "cache",
        "fast-zero",
        "block-status-payload",
    };
    static const char *const spelled[16] = {
        NULL,
        "read-only",
        "flush",
        "fua",
        "rotational",
        "trim",
        "write-zeroes",
        "df",
        "multi-conn",
        "resize",
        "cache",
        "fast-zero",
        "block-status-payload",
    };

    for (unsigned i = 0; i < 16; i++) {
        const char *q = nbd_flag_name(1u << i, NBD_FLAG_SPELLING_QEMU);
        const char *l = nbd_flag_name(1u << i, NBD_FLAG_SPELLING_LONG);

        if (qemu[i]) {
            assert_non_null(q);
            assert_string_equal(q, qemu[i]);
            assert_non_null(l);
            assert_string_equal(l, spelled[i]);
        } else {
            assert_null(q);
            assert_null(l);
        }
    }
    assert_string_equal(
        nbd_flag_name(NBD_FLAG_SEND_FLUSH, NBD_FLAG_SPELLING_QEMU), "flush");
    /* Not a single bit: no name. */
    assert_null(nbd_flag_name(0, NBD_FLAG_SPELLING_QEMU));
    assert_null(nbd_flag_name(NBD_FLAG_READ_ONLY | NBD_FLAG_SEND_FLUSH,
                              NBD_FLAG_SPELLING_LONG));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_byte_order),
        cmocka_unit_test(test_magics),
        cmocka_unit_test(test_greeting),
        cmocka_unit_test(test_option),
        cmocka_unit_test(test_option_reply),
        cmocka_unit_test(test_request),
        cmocka_unit_test(test_replies),
        cmocka_unit_test(test_extended_headers),
        cmocka_unit_test(test_errno),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_flag_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
