/*
 * Unit tests for the "secret" object and the secret lookups in
 * crypto/secret.c: values from data= and file= in raw and base64 form,
 * AES-256-CBC decryption with a master key checked against the openssl
 * command (an independent implementation), every way creation can fail
 * (with its stable QCRYPTO_ERROR code, a message that names the secret's
 * id and never its value), UTF-8 lookups, and the master key's protection
 * against deletion while a secret uses it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "crypto/error.h"
#include "crypto/secret.h"
#include "qom/object-cli.h"
#include "qom/object.h"

/* Values tests pass as secrets: no message may ever contain them. */
#define SECRET_TEXT "Sw0rdf1sh-Xyzzy"
#define SECRET_B64  "U3cwcmRmMXNoLVh5enp5" /* base64 of SECRET_TEXT */

/* A fixed AES-256 key and iv; the wrong ones differ in one byte. */
static const guint8 master_key[32] = {
    0x60, 0x3d, 0xeb, 0x10, 0x15, 0xca, 0x71, 0xbe, 0x2b, 0x73, 0xae,
    0xf0, 0x85, 0x7d, 0x77, 0x81, 0x1f, 0x35, 0x2c, 0x07, 0x3b, 0x61,
    0x08, 0xd7, 0x2d, 0x98, 0x10, 0xa3, 0x09, 0x14, 0xdf, 0xf4,
};
static const guint8 test_iv[16] = {
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
    0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
};

static char *tmpdir;

/* ---- A type that is not a secret --------------------------------------- */

#define TEST_TYPE_THING (test_thing_get_type())
G_DECLARE_FINAL_TYPE(TestThing, test_thing, TEST, THING, GObject)

struct _TestThing {
    GObject parent;
};

G_DEFINE_TYPE(TestThing, test_thing, G_TYPE_OBJECT)

static void test_thing_class_init(TestThingClass *klass)
{
}

static void test_thing_init(TestThing *thing)
{
}

/* ---- Helpers ------------------------------------------------------------ */

static int group_setup(void **state)
{
    GError *err = NULL;

    qcrypto_secret_register_types();
    qom_type_register("test-thing", TEST_TYPE_THING);
    tmpdir = g_dir_make_tmp("qio-secret-XXXXXX", &err);
    assert_non_null(tmpdir);
    return 0;
}

static int group_teardown(void **state)
{
    GDir *dir = g_dir_open(tmpdir, 0, NULL);
    const char *name;

    while (dir && (name = g_dir_read_name(dir))) {
        g_autofree char *path = g_build_filename(tmpdir, name, NULL);
        if (g_file_test(path, G_FILE_TEST_IS_DIR)) {
            g_rmdir(path);
        } else {
            g_unlink(path);
        }
    }
    if (dir) {
        g_dir_close(dir);
    }
    g_rmdir(tmpdir);
    g_free(tmpdir);
    return 0;
}

static int teardown(void **state)
{
    qom_object_table_clear();
    return 0;
}

/* Write @len bytes to a new file in the temporary directory. */
static char *write_file(const char *name, const void *data, gssize len)
{
    char *path = g_build_filename(tmpdir, name, NULL);
    GError *err = NULL;

    if (!g_file_set_contents(path, data, len, &err)) {
        fail_msg("cannot write %s: %s", path, err->message);
    }
    return path;
}

static char *hex(const guint8 *bytes, size_t len)
{
    GString *s = g_string_new(NULL);

    for (size_t i = 0; i < len; i++) {
        g_string_append_printf(s, "%02x", bytes[i]);
    }
    return g_string_free(s, FALSE);
}

static GObject *cli_ok(const char *arg)
{
    g_autoptr(GError) err = NULL;
    GObject *obj = qom_object_add_from_cli(arg, &err);

    if (!obj) {
        fail_msg("'%s' rejected: %s", arg, err->message);
    }
    return obj;
}

/*
 * --object @arg must fail in @domain with @code; the message must name
 * the object 'sec0', contain @needle, and contain none of @forbidden.
 */
static void cli_fails(const char *arg, GQuark domain, int code,
                      const char *needle, const char *const *forbidden)
{
    g_autoptr(GError) err = NULL;

    if (qom_object_add_from_cli(arg, &err)) {
        fail_msg("'%s' accepted", arg);
    }
    assert_non_null(err);
    if (!g_error_matches(err, domain, code)) {
        fail_msg("'%s': expected %s %d, got %s %d: %s", arg,
                 g_quark_to_string(domain), code,
                 g_quark_to_string(err->domain), err->code, err->message);
    }
    if (!strstr(err->message, "'sec0'")) {
        fail_msg("'%s': message '%s' does not name 'sec0'", arg, err->message);
    }
    if (needle && !strstr(err->message, needle)) {
        fail_msg("'%s': message '%s' lacks '%s'", arg, err->message, needle);
    }
    for (; forbidden && *forbidden; forbidden++) {
        if (strstr(err->message, *forbidden)) {
            fail_msg("'%s': message '%s' reveals '%s'", arg, err->message,
                     *forbidden);
        }
    }
    assert_null(qom_object_find("sec0"));
}

#define NO_SECRETS ((const char *const[]){ SECRET_TEXT, SECRET_B64, NULL })

static void assert_value(const char *id, const void *want, size_t wantlen)
{
    g_autoptr(GError) err = NULL;
    size_t len = 0;
    guint8 *value = qcrypto_secret_lookup(id, &len, &err);

    if (!value) {
        fail_msg("lookup of '%s' failed: %s", id, err->message);
    }
    assert_int_equal(len, wantlen);
    assert_memory_equal(value, want, wantlen);
    assert_int_equal(value[len], 0);
    qcrypto_secret_free(value, len);
}

/* Add the 32-byte master key as "master0", given in base64. */
static void add_master_key(void)
{
    g_autofree char *b64 = g_base64_encode(master_key, sizeof(master_key));
    g_autofree char *arg =
        g_strdup_printf("secret,id=master0,format=base64,data=%s", b64);

    cli_ok(arg);
}

/*
 * Encrypt @plain with the openssl command, as a management application
 * would, and return the base64 ciphertext; NULL (and a skip message)
 * when openssl is not installed.  @nopad leaves the padding to the
 * caller, to craft bad padding.
 */
static char *openssl_encrypt(const void *plain, size_t len, const guint8 *key,
                             const guint8 *iv, bool nopad)
{
    g_autofree char *openssl = g_find_program_in_path("openssl");
    g_autofree char *key_hex = hex(key, 32);
    g_autofree char *iv_hex = hex(iv, 16);
    g_autoptr(GSubprocess) proc = NULL;
    g_autoptr(GBytes) in = g_bytes_new(plain, len);
    g_autoptr(GBytes) out = NULL;
    g_autoptr(GError) err = NULL;
    const char *argv[] = {
        "openssl", "enc", "-aes-256-cbc",          "-K", key_hex, "-iv", iv_hex,
        "-base64", "-A",  nopad ? "-nopad" : NULL, NULL,
    };

    if (!openssl) {
        return NULL;
    }
    argv[0] = openssl;
    proc = g_subprocess_newv(
        argv, G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE,
        &err);
    if (!proc) {
        fail_msg("cannot run openssl: %s", err->message);
    }
    if (!g_subprocess_communicate(proc, in, NULL, &out, NULL, &err)) {
        fail_msg("openssl failed: %s", err->message);
    }
    if (!g_subprocess_get_if_exited(proc) ||
        g_subprocess_get_exit_status(proc) != 0) {
        fail_msg("openssl enc exited with an error");
    }
    return g_strndup(g_bytes_get_data(out, NULL), g_bytes_get_size(out));
}

#define NEED_OPENSSL(var)                                                      \
    do {                                                                       \
        if (!(var)) {                                                          \
            print_message("openssl is not installed; skipping\n");             \
            skip();                                                            \
        }                                                                      \
    } while (0)

/* ---- Plain values -------------------------------------------------------- */

static void test_raw_data(void **state)
{
    g_autoptr(GError) err = NULL;
    char *text;

    cli_ok("secret,id=sec0,data=" SECRET_TEXT);
    assert_value("sec0", SECRET_TEXT, strlen(SECRET_TEXT));
    text = qcrypto_secret_lookup_as_utf8("sec0", &err);
    assert_non_null(text);
    assert_string_equal(text, SECRET_TEXT);
    qcrypto_secret_free_text(text);

    /* Commas need doubling on the command line; empty values are fine. */
    cli_ok("secret,id=sec1,data=a,,b");
    assert_value("sec1", "a,b", 3);
    cli_ok("secret,id=sec2,data=");
    assert_value("sec2", "", 0);
}

static void test_base64_data(void **state)
{
    static const guint8 binary[] = { 0x00, 0xff, 0x10, 0x80, 0x00 };
    g_autofree char *b64 = g_base64_encode(binary, sizeof(binary));
    g_autofree char *arg = g_strdup_printf(
        "{\"qom-type\":\"secret\",\"id\":\"sec1\",\"format\":\"base64\","
        "\"data\":\"%s\"}",
        b64);

    cli_ok("secret,id=sec0,format=base64,data=" SECRET_B64);
    assert_value("sec0", SECRET_TEXT, strlen(SECRET_TEXT));
    cli_ok(arg);
    assert_value("sec1", binary, sizeof(binary));
    /* Every padding length. */
    cli_ok("secret,id=p1,format=base64,data=YQ==");
    assert_value("p1", "a", 1);
    cli_ok("secret,id=p2,format=base64,data=YWI=");
    assert_value("p2", "ab", 2);
    cli_ok("secret,id=p3,format=base64,data=YWJj");
    assert_value("p3", "abc", 3);
}

static void test_raw_file(void **state)
{
    g_autofree char *path = write_file("raw", SECRET_TEXT "\n", -1);
    g_autofree char *arg = g_strdup_printf("secret,id=sec0,file=%s", path);
    g_autofree char *file = NULL;

    cli_ok(arg);
    /* Raw means every byte, the newline too. */
    assert_value("sec0", SECRET_TEXT "\n", strlen(SECRET_TEXT) + 1);
    /* The path can be read back; the value cannot. */
    g_object_get(qom_object_find("sec0"), "file", &file, NULL);
    assert_string_equal(file, path);
}

static void test_base64_file(void **state)
{
    g_autofree char *path = write_file("b64", SECRET_B64 "\r\n", -1);
    g_autofree char *arg =
        g_strdup_printf("secret,id=sec0,file=%s,format=base64", path);

    cli_ok(arg);
    /* Trailing whitespace after base64 text is ignored. */
    assert_value("sec0", SECRET_TEXT, strlen(SECRET_TEXT));
}

static void test_binary_file(void **state)
{
    guint8 data[3000];
    g_autofree char *path = NULL;
    g_autofree char *arg = NULL;

    for (size_t i = 0; i < sizeof(data); i++) {
        data[i] = (guint8)(i * 7 + 3);
    }
    path = write_file("binary", data, sizeof(data));
    arg = g_strdup_printf("secret,id=sec0,file=%s", path);
    cli_ok(arg);
    assert_value("sec0", data, sizeof(data));
}

/* ---- Lookups ------------------------------------------------------------- */

static void test_lookup_errors(void **state)
{
    g_autoptr(GError) err = NULL;
    size_t len = 0;

    assert_null(qcrypto_secret_lookup("nosuch", &len, &err));
    assert_true(g_error_matches(err, QOM_ERROR, QOM_ERROR_NOT_FOUND));
    assert_non_null(strstr(err->message, "'nosuch'"));
    g_clear_error(&err);

    cli_ok("test-thing,id=thing0");
    assert_null(qcrypto_secret_lookup_as_utf8("thing0", &err));
    assert_true(g_error_matches(err, QOM_ERROR, QOM_ERROR_WRONG_TYPE));
    assert_non_null(strstr(err->message, "'thing0'"));
    assert_non_null(strstr(err->message, "not a secret"));
}

static void test_lookup_utf8(void **state)
{
    g_autoptr(GError) err = NULL;
    char *text;

    /* Multi-byte UTF-8 is fine. */
    cli_ok("secret,id=ok,data=gr\xc3\xbc\xc3\x9f");
    text = qcrypto_secret_lookup_as_utf8("ok", &err);
    assert_non_null(text);
    assert_string_equal(text, "gr\xc3\xbc\xc3\x9f");
    qcrypto_secret_free_text(text);

    /* 0xff 0xfe is not UTF-8; as bytes it is still a valid secret. */
    cli_ok("secret,id=sec0,format=base64,data=//4=");
    assert_value("sec0", "\xff\xfe", 2);
    assert_null(qcrypto_secret_lookup_as_utf8("sec0", &err));
    assert_true(g_error_matches(err, QCRYPTO_ERROR, QCRYPTO_ERROR_DECODE));
    assert_non_null(strstr(err->message, "'sec0'"));
    assert_non_null(strstr(err->message, "UTF-8"));
    g_clear_error(&err);

    /* A NUL byte would cut the text short: refused too. */
    cli_ok("secret,id=nul,format=base64,data=YQBi");
    assert_value("nul", "a\0b", 3);
    assert_null(qcrypto_secret_lookup_as_utf8("nul", &err));
    assert_true(g_error_matches(err, QCRYPTO_ERROR, QCRYPTO_ERROR_DECODE));
    assert_non_null(strstr(err->message, "NUL"));
}

static void test_copies_and_wipe(void **state)
{
    guint8 buf[64];
    size_t len = 0;
    guint8 *value;

    cli_ok("secret,id=sec0,data=" SECRET_TEXT);
    /* A lookup hands out a copy: scribbling on it changes nothing. */
    value = qcrypto_secret_lookup("sec0", &len, NULL);
    assert_non_null(value);
    memset(value, 'x', len);
    qcrypto_secret_free(value, len);
    assert_value("sec0", SECRET_TEXT, strlen(SECRET_TEXT));

    memset(buf, 0xa5, sizeof(buf));
    qcrypto_secret_wipe(buf + 8, 48);
    for (size_t i = 0; i < sizeof(buf); i++) {
        assert_int_equal(buf[i], i >= 8 && i < 56 ? 0 : 0xa5);
    }
    qcrypto_secret_free(NULL, 10);
    qcrypto_secret_free_text(NULL);
}

static void test_data_not_readable(void **state)
{
    g_autoptr(GTypeClass) klass = g_type_class_ref(QCRYPTO_TYPE_SECRET);
    GParamSpec *data =
        g_object_class_find_property(G_OBJECT_CLASS(klass), "data");
    g_autoptr(GString) help = g_string_new(NULL);

    assert_non_null(data);
    assert_true(data->flags & G_PARAM_WRITABLE);
    assert_false(data->flags & G_PARAM_READABLE);
    /* Help lists it (it can be set) with its default of nothing. */
    assert_int_equal(qom_object_cli_help("secret,help", help, NULL), 1);
    assert_non_null(strstr(help->str, "data="));
    assert_non_null(strstr(help->str, "format=<raw|base64>"));
}

/* ---- Errors without encryption ------------------------------------------- */

static void test_data_and_file(void **state)
{
    g_autofree char *path = write_file("both", SECRET_TEXT, -1);
    g_autofree char *arg =
        g_strdup_printf("secret,id=sec0,data=" SECRET_TEXT ",file=%s", path);

    cli_fails(arg, QCRYPTO_ERROR, QCRYPTO_ERROR_INVALID_ARGUMENT, "exactly one",
              NO_SECRETS);
    cli_fails("secret,id=sec0", QCRYPTO_ERROR, QCRYPTO_ERROR_INVALID_ARGUMENT,
              "neither", NO_SECRETS);
    cli_fails("secret,id=sec0,format=base64", QCRYPTO_ERROR,
              QCRYPTO_ERROR_INVALID_ARGUMENT, "neither", NO_SECRETS);
}

static void test_file_errors(void **state)
{
    g_autofree char *missing = g_build_filename(tmpdir, "missing", NULL);
    g_autofree char *arg = g_strdup_printf("secret,id=sec0,file=%s", missing);
    g_autofree char *cwd = g_get_current_dir();
    g_autofree char *rel_full =
        g_build_filename(cwd, "no-such-secret-file", NULL);
    g_autofree char *dirarg = g_strdup_printf("secret,id=sec0,file=%s", tmpdir);
    g_autofree char *reason = g_strdup(g_strerror(ENOENT));

    cli_fails(arg, QCRYPTO_ERROR, QCRYPTO_ERROR_FILE, missing, NULL);
    cli_fails(arg, QCRYPTO_ERROR, QCRYPTO_ERROR_FILE, reason, NULL);
    /* A relative path is shown in full. */
    cli_fails("secret,id=sec0,file=no-such-secret-file", QCRYPTO_ERROR,
              QCRYPTO_ERROR_FILE, rel_full, NULL);
    /* Opens, but read() fails. */
    cli_fails(dirarg, QCRYPTO_ERROR, QCRYPTO_ERROR_FILE, g_strerror(EISDIR),
              NULL);
    /* Endless files are cut off instead of filling memory. */
    cli_fails("secret,id=sec0,file=/dev/zero", QCRYPTO_ERROR,
              QCRYPTO_ERROR_FILE, "limit", NULL);
}

static void test_bad_base64(void **state)
{
    static const char *const bad[] = {
        "U3cwcmRmMXNoLVh5enp",     /* length not a multiple of 4 */
        "U3cwcmRmMXNo*Vh5enp5",    /* '*' is not in the alphabet */
        "U3cw cmRmMXNoLVh5enp5",   /* no inner spaces */
        "U3cw=mRmMXNoLVh5enp5",    /* '=' in the middle */
        "YQ=a",                    /* '=' before the last */
        "Y===",                    /* too much padding */
        "U3cwcmRmMXNoLVh5enp5\n=", /* nothing after the whitespace */
    };

    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autofree char *json = g_strescape(bad[i], NULL);
        g_autofree char *arg = g_strdup_printf(
            "{\"qom-type\":\"secret\",\"id\":\"sec0\",\"format\":\"base64\","
            "\"data\":\"%s\"}",
            json);
        cli_fails(arg, QCRYPTO_ERROR, QCRYPTO_ERROR_DECODE, "base64",
                  (const char *const[]){ bad[i], "U3cw", NULL });
    }
    /* Not a format at all. */
    {
        g_autoptr(GError) err = NULL;
        assert_null(qom_object_add_from_cli("secret,id=sec0,format=hex,"
                                            "data=00",
                                            &err));
        assert_true(g_error_matches(err, QOM_ERROR, QOM_ERROR_INVALID_VALUE));
    }
}

/* ---- Encryption ---------------------------------------------------------- */

/* "secret,id=sec0,keyid=master0,iv=..,data=.." with the test iv. */
static char *encrypted_arg(const char *id, const char *cipher_b64,
                           const char *extra)
{
    g_autofree char *iv = g_base64_encode(test_iv, sizeof(test_iv));

    return g_strdup_printf("secret,id=%s,keyid=master0,iv=%s,data=%s%s", id, iv,
                           cipher_b64, extra ? extra : "");
}

static void test_decrypt_openssl(void **state)
{
    static const size_t lengths[] = { 0, 1, 15, 16, 17, 31, 32, 33, 100 };
    char plain[101];

    for (size_t i = 0; i < sizeof(plain); i++) {
        plain[i] = (char)('A' + i % 26);
    }
    add_master_key();
    for (size_t i = 0; i < G_N_ELEMENTS(lengths); i++) {
        g_autofree char *cipher =
            openssl_encrypt(plain, lengths[i], master_key, test_iv, false);
        g_autofree char *id = g_strdup_printf("enc%zu", lengths[i]);
        g_autofree char *arg = NULL;

        NEED_OPENSSL(cipher);
        arg = encrypted_arg(id, cipher, NULL);
        cli_ok(arg);
        assert_value(id, plain, lengths[i]);
    }
}

static void test_decrypt_then_base64(void **state)
{
    static const guint8 binary[] = { 0xde, 0xad, 0x00, 0xbe, 0xef };
    g_autofree char *inner = g_base64_encode(binary, sizeof(binary));
    g_autofree char *cipher =
        openssl_encrypt(inner, strlen(inner), master_key, test_iv, false);
    g_autofree char *arg = NULL;
    g_autofree char *path = NULL;
    g_autofree char *filearg = NULL;
    g_autofree char *filecipher = NULL;

    NEED_OPENSSL(cipher);
    add_master_key();
    /* format=base64 applies to the plaintext, not to the ciphertext. */
    arg = encrypted_arg("sec0", cipher, ",format=base64");
    cli_ok(arg);
    assert_value("sec0", binary, sizeof(binary));

    /* The ciphertext may come from a file, with a final newline. */
    filecipher = g_strdup_printf("%s\n", cipher);
    path = write_file("cipher", filecipher, -1);
    {
        g_autofree char *iv = g_base64_encode(test_iv, sizeof(test_iv));
        filearg = g_strdup_printf("secret,id=sec1,keyid=master0,iv=%s,"
                                  "file=%s,format=base64",
                                  iv, path);
    }
    cli_ok(filearg);
    assert_value("sec1", binary, sizeof(binary));
}

static void test_decrypt_chain(void **state)
{
    /* master0 decrypts master1, which decrypts the secret. */
    static const guint8 key2[32] = { 0x42, 0x13, 0x37 };
    g_autofree char *key2_cipher =
        openssl_encrypt(key2, sizeof(key2), master_key, test_iv, false);
    g_autofree char *cipher =
        openssl_encrypt(SECRET_TEXT, strlen(SECRET_TEXT), key2, test_iv, false);
    g_autofree char *iv = g_base64_encode(test_iv, sizeof(test_iv));
    g_autofree char *arg1 = NULL;
    g_autofree char *arg2 = NULL;
    g_autoptr(GError) err = NULL;

    NEED_OPENSSL(cipher);
    add_master_key();
    arg1 = g_strdup_printf("secret,id=master1,keyid=master0,iv=%s,data=%s", iv,
                           key2_cipher);
    cli_ok(arg1);
    arg2 = g_strdup_printf("secret,id=sec0,keyid=master1,iv=%s,data=%s", iv,
                           cipher);
    cli_ok(arg2);
    assert_value("sec0", SECRET_TEXT, strlen(SECRET_TEXT));

    /* Neither key can go while something depends on it. */
    assert_false(qom_object_del("master0", &err));
    assert_true(g_error_matches(err, QOM_ERROR, QOM_ERROR_IN_USE));
    assert_non_null(strstr(err->message, "'master1'"));
    g_clear_error(&err);
    assert_false(qom_object_del("master1", &err));
    assert_true(g_error_matches(err, QOM_ERROR, QOM_ERROR_IN_USE));
    assert_non_null(strstr(err->message, "'sec0'"));
    g_clear_error(&err);
    /* From the top down it works. */
    assert_true(qom_object_del("sec0", NULL));
    assert_true(qom_object_del("master1", NULL));
    assert_true(qom_object_del("master0", NULL));
}

static void test_master_in_use(void **state)
{
    g_autofree char *cipher = openssl_encrypt(SECRET_TEXT, strlen(SECRET_TEXT),
                                              master_key, test_iv, false);
    g_autofree char *arg = NULL;
    g_autoptr(GError) err = NULL;
    g_auto(GStrv) users = NULL;

    NEED_OPENSSL(cipher);
    add_master_key();
    arg = encrypted_arg("sec0", cipher, NULL);
    cli_ok(arg);
    users = qom_object_get_users("master0");
    assert_non_null(users);
    assert_string_equal(users[0], "sec0");
    assert_null(users[1]);

    assert_false(qom_object_del("master0", &err));
    assert_true(g_error_matches(err, QOM_ERROR, QOM_ERROR_IN_USE));
    assert_non_null(qom_object_find("master0"));
    assert_true(qom_object_del("sec0", NULL));
    /* The edge went with the secret. */
    g_strfreev(users);
    users = qom_object_get_users("master0");
    assert_null(users[0]);
    assert_true(qom_object_del("master0", NULL));
}

static void test_failed_secret_releases_master(void **state)
{
    g_autofree char *cipher = openssl_encrypt(SECRET_TEXT, strlen(SECRET_TEXT),
                                              master_key, test_iv, false);
    g_autofree char *arg = NULL;

    NEED_OPENSSL(cipher);
    add_master_key();
    /* Decrypts, then fails base64 decoding: no edge may stay behind. */
    arg = encrypted_arg("sec0", cipher, ",format=base64");
    cli_fails(arg, QCRYPTO_ERROR, QCRYPTO_ERROR_DECODE, "decrypted",
              NO_SECRETS);
    assert_true(qom_object_del("master0", NULL));
}

static void test_wrong_key_or_iv(void **state)
{
    g_autofree char *cipher = openssl_encrypt(SECRET_TEXT, strlen(SECRET_TEXT),
                                              master_key, test_iv, false);
    guint8 wrong_key[32];
    guint8 wrong_iv[16];
    g_autofree char *wrong_key_b64 = NULL;
    g_autofree char *wrong_iv_b64 = NULL;
    g_autofree char *arg = NULL;
    g_autofree char *ivarg = NULL;

    NEED_OPENSSL(cipher);
    memcpy(wrong_key, master_key, sizeof(wrong_key));
    wrong_key[0] ^= 0x01;
    wrong_key_b64 = g_base64_encode(wrong_key, sizeof(wrong_key));
    arg = g_strdup_printf("secret,id=master0,format=base64,data=%s",
                          wrong_key_b64);
    cli_ok(arg);
    g_free(arg);
    arg = encrypted_arg("sec0", cipher, NULL);
    cli_fails(arg, QCRYPTO_ERROR, QCRYPTO_ERROR_DECRYPT, "key or the iv",
              NO_SECRETS);
    assert_true(qom_object_del("master0", NULL));

    /*
     * One block of ciphertext: a wrong iv flips plaintext bits, here in
     * the last byte, which holds the padding length.
     */
    add_master_key();
    memcpy(wrong_iv, test_iv, sizeof(wrong_iv));
    wrong_iv[15] ^= 0xf0;
    wrong_iv_b64 = g_base64_encode(wrong_iv, sizeof(wrong_iv));
    ivarg = g_strdup_printf("secret,id=sec0,keyid=master0,iv=%s,data=%s",
                            wrong_iv_b64, cipher);
    cli_fails(ivarg, QCRYPTO_ERROR, QCRYPTO_ERROR_DECRYPT, "padding",
              NO_SECRETS);
}

/*
 * Padding that only a full check rejects: the last byte says 3, but the
 * byte before the last two is not 3.  Encrypted with -nopad so the bad
 * padding is ours.
 */
static void test_padding_every_byte(void **state)
{
    static const struct {
        guint8 tail[3];
        bool valid;
    } cases[] = {
        { { 0x03, 0x03, 0x03 }, true },  { { 0x02, 0x03, 0x03 }, false },
        { { 0x03, 0x02, 0x03 }, false }, { { 0x41, 0x41, 0x00 }, false },
        { { 0x41, 0x41, 0x11 }, false }, { { 0x41, 0x41, 0xff }, false },
        { { 0x41, 0x41, 0x01 }, true },
    };

    add_master_key();
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        guint8 block[32];
        g_autofree char *cipher = NULL;
        g_autofree char *arg = NULL;

        memset(block, 'A', sizeof(block));
        memcpy(block + 29, cases[i].tail, 3);
        cipher =
            openssl_encrypt(block, sizeof(block), master_key, test_iv, true);
        NEED_OPENSSL(cipher);
        arg = encrypted_arg("sec0", cipher, NULL);
        if (cases[i].valid) {
            size_t want = sizeof(block) - block[31];
            cli_ok(arg);
            assert_value("sec0", block, want);
            assert_true(qom_object_del("sec0", NULL));
        } else {
            cli_fails(arg, QCRYPTO_ERROR, QCRYPTO_ERROR_DECRYPT, "padding",
                      NO_SECRETS);
        }
    }
    /* A full block of padding (16 x 0x10) is valid and empty. */
    {
        guint8 block[16];
        g_autofree char *cipher = NULL;
        g_autofree char *arg = NULL;

        memset(block, 0x10, sizeof(block));
        cipher =
            openssl_encrypt(block, sizeof(block), master_key, test_iv, true);
        NEED_OPENSSL(cipher);
        arg = encrypted_arg("sec0", cipher, NULL);
        cli_ok(arg);
        assert_value("sec0", "", 0);
        /* ... and 0x10 with one byte changed is not. */
        block[3] = 0x0f;
        g_free(cipher);
        g_free(arg);
        cipher =
            openssl_encrypt(block, sizeof(block), master_key, test_iv, true);
        arg = encrypted_arg("sec1", cipher, NULL);
        {
            g_autoptr(GError) err = NULL;
            assert_null(qom_object_add_from_cli(arg, &err));
            assert_true(
                g_error_matches(err, QCRYPTO_ERROR, QCRYPTO_ERROR_DECRYPT));
        }
    }
}

static void test_encryption_errors(void **state)
{
    g_autofree char *iv = g_base64_encode(test_iv, sizeof(test_iv));
    g_autofree char *arg = NULL;
    /* "AAAA..." is valid base64 of 48 zero bytes: the ciphertext. */
    const char *cipher = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
                         "AAAAAAAAAAAAAAAAAAAA";

#define TRY(code, needle, ...)                                                 \
    do {                                                                       \
        g_free(arg);                                                           \
        arg = g_strdup_printf(__VA_ARGS__);                                    \
        cli_fails(arg, QCRYPTO_ERROR, (code), (needle), NO_SECRETS);           \
    } while (0)

    /* keyid naming nothing, or something that is not a secret. */
    TRY(QCRYPTO_ERROR_INVALID_ARGUMENT, "'nokey'",
        "secret,id=sec0,keyid=nokey,iv=%s,data=%s", iv, cipher);
    cli_ok("test-thing,id=thing0");
    TRY(QCRYPTO_ERROR_INVALID_ARGUMENT, "is a 'test-thing', not a secret",
        "secret,id=sec0,keyid=thing0,iv=%s,data=%s", iv, cipher);
    /* A secret that names itself: the only cycle possible. */
    TRY(QCRYPTO_ERROR_INVALID_ARGUMENT, "itself",
        "secret,id=sec0,keyid=sec0,iv=%s,data=%s", iv, cipher);

    /* Master keys of the wrong size. */
    cli_ok("secret,id=short,data=0123456789abcdef0123456789abcde");
    TRY(QCRYPTO_ERROR_INVALID_ARGUMENT, "31 bytes",
        "secret,id=sec0,keyid=short,iv=%s,data=%s", iv, cipher);
    cli_ok("secret,id=long,data=0123456789abcdef0123456789abcdef0");
    TRY(QCRYPTO_ERROR_INVALID_ARGUMENT, "33 bytes",
        "secret,id=sec0,keyid=long,iv=%s,data=%s", iv, cipher);

    add_master_key();
    /* iv: missing, without keyid, not base64, wrong length. */
    TRY(QCRYPTO_ERROR_INVALID_ARGUMENT, "'iv'",
        "secret,id=sec0,keyid=master0,data=%s", cipher);
    TRY(QCRYPTO_ERROR_INVALID_ARGUMENT, "'keyid'",
        "secret,id=sec0,iv=%s,data=" SECRET_TEXT, iv);
    TRY(QCRYPTO_ERROR_DECODE, "iv",
        "secret,id=sec0,keyid=master0,iv=AAAA*AAAAAAAAAAAAAAAAA==,data=%s",
        cipher);
    TRY(QCRYPTO_ERROR_INVALID_ARGUMENT, "15 bytes",
        "secret,id=sec0,keyid=master0,iv=AAAAAAAAAAAAAAAAAAAA,data=%s", cipher);
    TRY(QCRYPTO_ERROR_INVALID_ARGUMENT, "17 bytes",
        "secret,id=sec0,keyid=master0,iv=AAAAAAAAAAAAAAAAAAAAAAA=,data=%s",
        cipher);

    /* The ciphertext: not base64, not whole blocks, empty. */
    TRY(QCRYPTO_ERROR_DECODE, "base64",
        "secret,id=sec0,keyid=master0,iv=%s,data=" SECRET_TEXT, iv);
    TRY(QCRYPTO_ERROR_DECODE, "multiple",
        "secret,id=sec0,keyid=master0,iv=%s,data=AAAAAAAA", iv);
    TRY(QCRYPTO_ERROR_DECODE, "multiple",
        "secret,id=sec0,keyid=master0,iv=%s,data=", iv);
#undef TRY

    /* Nothing failed half-way: only the keys are left. */
    assert_null(qom_object_find("sec0"));
    assert_true(qom_object_del("master0", NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_raw_data, teardown),
        cmocka_unit_test_teardown(test_base64_data, teardown),
        cmocka_unit_test_teardown(test_raw_file, teardown),
        cmocka_unit_test_teardown(test_base64_file, teardown),
        cmocka_unit_test_teardown(test_binary_file, teardown),
        cmocka_unit_test_teardown(test_lookup_errors, teardown),
        cmocka_unit_test_teardown(test_lookup_utf8, teardown),
        cmocka_unit_test_teardown(test_copies_and_wipe, teardown),
        cmocka_unit_test_teardown(test_data_not_readable, teardown),
        cmocka_unit_test_teardown(test_data_and_file, teardown),
        cmocka_unit_test_teardown(test_file_errors, teardown),
        cmocka_unit_test_teardown(test_bad_base64, teardown),
        cmocka_unit_test_teardown(test_decrypt_openssl, teardown),
        cmocka_unit_test_teardown(test_decrypt_then_base64, teardown),
        cmocka_unit_test_teardown(test_decrypt_chain, teardown),
        cmocka_unit_test_teardown(test_master_in_use, teardown),
        cmocka_unit_test_teardown(test_failed_secret_releases_master, teardown),
        cmocka_unit_test_teardown(test_wrong_key_or_iv, teardown),
        cmocka_unit_test_teardown(test_padding_every_byte, teardown),
        cmocka_unit_test_teardown(test_encryption_errors, teardown),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
