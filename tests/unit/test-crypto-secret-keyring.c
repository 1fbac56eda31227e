/*
 * Unit tests for the "secret_keyring" object in crypto/secret-keyring.c:
 * keys are added to this process's own key ring with the add_key system
 * call and read back through the object, in raw and base64 form and as a
 * master key; revoked, unreadable and missing keys fail with
 * QCRYPTO_ERROR_FILE and a message naming the serial, never the payload.
 * Where a seccomp filter or the kernel refuses keyctl (common in
 * containers) every test is skipped and says why.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <gio/gio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/keyctl.h>

#include "crypto/error.h"
#include "crypto/secret-keyring.h"
#include "crypto/secret.h"
#include "qom/object-cli.h"
#include "qom/object.h"

#define PAYLOAD     "K3yr1ng-Pa55phrase"
#define PAYLOAD_B64 "SzN5cjFuZy1QYTU1cGhyYXNl"

/* Possessor may view and change attributes, nobody may read. */
#define PERM_NO_READ 0x21000000

/* Why keyctl cannot be used here, or NULL when it can. */
static char *keyctl_unavailable;
static int key_counter;

static gint32 add_key(const void *payload, size_t len)
{
    g_autofree char *desc =
        g_strdup_printf("qio-test:%d:%d", (int)getpid(), ++key_counter);
    long serial = syscall(SYS_add_key, "user", desc, payload, len,
                          KEY_SPEC_PROCESS_KEYRING);

    if (serial < 0) {
        fail_msg("add_key failed: %s", g_strerror(errno));
    }
    return (gint32)serial;
}

static void drop_key(gint32 serial)
{
    syscall(SYS_keyctl, KEYCTL_UNLINK, (long)serial,
            (long)KEY_SPEC_PROCESS_KEYRING);
}

static int group_setup(void **state)
{
    long serial;

    qcrypto_secret_register_types();
    serial = syscall(SYS_add_key, "user", "qio-test:probe", "x", 1,
                     KEY_SPEC_PROCESS_KEYRING);
    if (serial < 0) {
        keyctl_unavailable = g_strdup_printf(
            "the kernel key ring is not usable here (add_key: %s)",
            g_strerror(errno));
    } else {
        drop_key((gint32)serial);
    }
    return 0;
}

static int group_teardown(void **state)
{
    g_free(keyctl_unavailable);
    return 0;
}

static int teardown(void **state)
{
    qom_object_table_clear();
    return 0;
}

#define NEED_KEYCTL()                                                          \
    do {                                                                       \
        if (keyctl_unavailable) {                                              \
            print_message("%s; skipping\n", keyctl_unavailable);               \
            skip();                                                            \
        }                                                                      \
    } while (0)

static GObject *add_ok(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

static GObject *add_ok(const char *fmt, ...)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *arg = NULL;
    va_list ap;
    GObject *obj;

    va_start(ap, fmt);
    arg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    obj = qom_object_add_from_cli(arg, &err);
    if (!obj) {
        fail_msg("'%s' rejected: %s", arg, err->message);
    }
    return obj;
}

/* Creating 'sec0' for kernel key @serial fails with @code. */
static void keyring_fails(gint32 serial, int code, const char *needle)
{
    g_autofree char *arg = g_strdup_printf("secret_keyring,id=sec0,"
                                           "serial=%" G_GINT32_FORMAT,
                                           serial);
    g_autofree char *serial_text = g_strdup_printf("%" G_GINT32_FORMAT, serial);
    g_autoptr(GError) err = NULL;

    assert_null(qom_object_add_from_cli(arg, &err));
    if (!g_error_matches(err, QCRYPTO_ERROR, code)) {
        fail_msg("expected QCRYPTO_ERROR %d, got %s %d: %s", code,
                 g_quark_to_string(err->domain), err->code, err->message);
    }
    assert_non_null(strstr(err->message, "'sec0'"));
    assert_non_null(strstr(err->message, serial_text));
    if (needle && !strstr(err->message, needle)) {
        fail_msg("message '%s' lacks '%s'", err->message, needle);
    }
    assert_null(strstr(err->message, PAYLOAD));
    assert_null(qom_object_find("sec0"));
}

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
    qcrypto_secret_free(value, len);
}

/* ---- Tests -------------------------------------------------------------- */

static void test_read_raw(void **state)
{
    gint32 serial;
    GObject *obj;
    char *text;

    NEED_KEYCTL();
    serial = add_key(PAYLOAD, strlen(PAYLOAD));
    obj = add_ok("secret_keyring,id=sec0,serial=%" G_GINT32_FORMAT, serial);
    assert_true(QCRYPTO_IS_SECRET_KEYRING(obj));
    assert_int_equal(
        qcrypto_secret_keyring_get_serial(QCRYPTO_SECRET_KEYRING(obj)), serial);
    assert_value("sec0", PAYLOAD, strlen(PAYLOAD));
    text = qcrypto_secret_lookup_as_utf8("sec0", NULL);
    assert_non_null(text);
    assert_string_equal(text, PAYLOAD);
    qcrypto_secret_free_text(text);
    drop_key(serial);
}

static void test_read_base64_and_binary(void **state)
{
    guint8 big[8000];
    gint32 s1, s2;

    NEED_KEYCTL();
    s1 = add_key(PAYLOAD_B64 "\n", strlen(PAYLOAD_B64) + 1);
    add_ok("secret_keyring,id=sec0,serial=%" G_GINT32_FORMAT ",format=base64",
           s1);
    assert_value("sec0", PAYLOAD, strlen(PAYLOAD));

    /* Binary, with NUL bytes, larger than one page (within the quota). */
    for (size_t i = 0; i < sizeof(big); i++) {
        big[i] = (guint8)(i * 31);
    }
    s2 = add_key(big, sizeof(big));
    add_ok("{\"qom-type\":\"secret_keyring\",\"id\":\"sec1\","
           "\"serial\":%" G_GINT32_FORMAT "}",
           s2);
    assert_value("sec1", big, sizeof(big));
    drop_key(s1);
    drop_key(s2);
}

static void test_read_once(void **state)
{
    gint32 serial;

    NEED_KEYCTL();
    serial = add_key(PAYLOAD, strlen(PAYLOAD));
    add_ok("secret_keyring,id=sec0,serial=%" G_GINT32_FORMAT, serial);
    /* The value was copied at creation: revoking the key later is fine. */
    syscall(SYS_keyctl, KEYCTL_REVOKE, (long)serial);
    assert_value("sec0", PAYLOAD, strlen(PAYLOAD));
    drop_key(serial);
}

static void test_master_key_in_keyring(void **state)
{
    static const guint8 key[32] = {
        1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
        17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32,
    };
    static const guint8 iv[16] = { 0xaa, 0xbb };
    g_autofree char *openssl = g_find_program_in_path("openssl");
    g_autofree char *key_hex = NULL;
    g_autofree char *iv_hex = NULL;
    g_autofree char *iv_b64 = g_base64_encode(iv, sizeof(iv));
    g_autoptr(GSubprocess) proc = NULL;
    g_autoptr(GBytes) in = g_bytes_new_static(PAYLOAD, strlen(PAYLOAD));
    g_autoptr(GBytes) out = NULL;
    g_autofree char *cipher = NULL;
    g_autoptr(GError) err = NULL;
    GString *hex = g_string_new(NULL);
    gint32 serial;

    NEED_KEYCTL();
    if (!openssl) {
        g_string_free(hex, TRUE);
        print_message("openssl is not installed; skipping\n");
        skip();
    }
    for (size_t i = 0; i < sizeof(key); i++) {
        g_string_append_printf(hex, "%02x", key[i]);
    }
    key_hex = g_string_free(hex, FALSE);
    hex = g_string_new(NULL);
    for (size_t i = 0; i < sizeof(iv); i++) {
        g_string_append_printf(hex, "%02x", iv[i]);
    }
    iv_hex = g_string_free(hex, FALSE);
    proc = g_subprocess_new(G_SUBPROCESS_FLAGS_STDIN_PIPE |
                                G_SUBPROCESS_FLAGS_STDOUT_PIPE,
                            &err, openssl, "enc", "-aes-256-cbc", "-K", key_hex,
                            "-iv", iv_hex, "-base64", "-A", NULL);
    assert_non_null(proc);
    assert_true(g_subprocess_communicate(proc, in, NULL, &out, NULL, &err));
    assert_true(g_subprocess_get_if_exited(proc) &&
                g_subprocess_get_exit_status(proc) == 0);
    cipher = g_strndup(g_bytes_get_data(out, NULL), g_bytes_get_size(out));

    serial = add_key(key, sizeof(key));
    add_ok("secret_keyring,id=master0,serial=%" G_GINT32_FORMAT, serial);
    add_ok("secret,id=sec0,keyid=master0,iv=%s,data=%s", iv_b64, cipher);
    assert_value("sec0", PAYLOAD, strlen(PAYLOAD));
    assert_false(qom_object_del("master0", &err));
    assert_true(g_error_matches(err, QOM_ERROR, QOM_ERROR_IN_USE));
    drop_key(serial);
}

static void test_revoked(void **state)
{
    gint32 serial;

    NEED_KEYCTL();
    serial = add_key(PAYLOAD, strlen(PAYLOAD));
    assert_int_equal(syscall(SYS_keyctl, KEYCTL_REVOKE, (long)serial), 0);
    keyring_fails(serial, QCRYPTO_ERROR_FILE, g_strerror(EKEYREVOKED));
    drop_key(serial);
}

static void test_permission_denied(void **state)
{
    gint32 serial;

    NEED_KEYCTL();
    serial = add_key(PAYLOAD, strlen(PAYLOAD));
    assert_int_equal(
        syscall(SYS_keyctl, KEYCTL_SETPERM, (long)serial, (long)PERM_NO_READ),
        0);
    keyring_fails(serial, QCRYPTO_ERROR_FILE, g_strerror(EACCES));
    drop_key(serial);
}

static void test_not_found(void **state)
{
    gint32 serial = 0x7ffffff0;

    NEED_KEYCTL();
    /* Serials are random: find one that names no key right now. */
    while (syscall(SYS_keyctl, KEYCTL_DESCRIBE, (long)serial, NULL, 0L) >= 0 ||
           errno != ENOKEY) {
        serial--;
    }
    keyring_fails(serial, QCRYPTO_ERROR_FILE, "check the serial");
}

static void test_bad_serial(void **state)
{
    g_autoptr(GError) err = NULL;

    /* No kernel needed: these fail before any keyctl. */
    assert_null(qom_object_add_from_cli("secret_keyring,id=sec0", &err));
    assert_true(
        g_error_matches(err, QCRYPTO_ERROR, QCRYPTO_ERROR_INVALID_ARGUMENT));
    assert_non_null(strstr(err->message, "'sec0'"));
    assert_non_null(strstr(err->message, "serial"));
    g_clear_error(&err);
    /* Negative serials name key rings, not keys. */
    assert_null(
        qom_object_add_from_cli("secret_keyring,id=sec0,serial=-2", &err));
    assert_true(g_error_matches(err, QOM_ERROR, QOM_ERROR_INVALID_VALUE));
    g_clear_error(&err);
    assert_null(qom_object_add_from_cli("secret_keyring,id=sec0,"
                                        "serial=4294967296",
                                        &err));
    assert_true(g_error_matches(err, QOM_ERROR, QOM_ERROR_INVALID_VALUE));
    g_clear_error(&err);
    /* No data or file here. */
    assert_null(qom_object_add_from_cli("secret_keyring,id=sec0,serial=1,"
                                        "data=x",
                                        &err));
    assert_true(g_error_matches(err, QOM_ERROR, QOM_ERROR_UNKNOWN_PROPERTY));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_read_raw, teardown),
        cmocka_unit_test_teardown(test_read_base64_and_binary, teardown),
        cmocka_unit_test_teardown(test_read_once, teardown),
        cmocka_unit_test_teardown(test_master_key_in_keyring, teardown),
        cmocka_unit_test_teardown(test_revoked, teardown),
        cmocka_unit_test_teardown(test_permission_denied, teardown),
        cmocka_unit_test_teardown(test_not_found, teardown),
        cmocka_unit_test_teardown(test_bad_serial, teardown),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
