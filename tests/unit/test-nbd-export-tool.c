/*
 * Unit tests for the qio-nbd command line (nbd/export-tool.c): the
 * qemu-nbd defaults, every supported option landing in its field (the
 * cache, discard and detect-zeroes keywords, -L and what it may be
 * combined with), the answered requests (--help, --version, --object
 * help), and one clear error naming the option for each bad value and
 * each refused qemu-nbd option.  Serving and listing are tested end to
 * end by tests/functional.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "nbd/export-tool.h"

/* Parse a NULL-terminated argument list; argv[0] is supplied. */
static int parse(NBDExportToolOptions *opts, GString *out, GError **errp,
                 const char *const *args)
{
    g_autoptr(GPtrArray) argv = g_ptr_array_new();

    g_ptr_array_add(argv, (char *)"qio-nbd");
    for (; *args; args++) {
        g_ptr_array_add(argv, (char *)*args);
    }
    g_ptr_array_add(argv, NULL);
    return nbd_export_tool_parse(argv->len - 1, (char **)argv->pdata, opts, out,
                                 errp);
}

static void test_defaults(void **state)
{
    static const char *const args[] = { "disk.img", NULL };
    NBDExportToolOptions opts;
    g_autoptr(GString) out = g_string_new(NULL);
    g_autoptr(GError) err = NULL;

    assert_int_equal(parse(&opts, out, &err, args), 1);
    assert_null(err);
    assert_string_equal(opts.filename, "disk.img");
    assert_false(opts.format_raw);
    assert_string_equal(opts.bind, "0.0.0.0");
    assert_string_equal(opts.port, "10809");
    assert_null(opts.socket_path);
    assert_string_equal(opts.export_name, "");
    assert_null(opts.description);
    assert_false(opts.readonly);
    assert_int_equal(opts.shared, 1);
    assert_false(opts.persistent);
    assert_int_equal(opts.objects->len, 0);
    assert_null(opts.tls_creds);
    assert_int_equal(opts.handshake_limit, 10);
    assert_int_equal(opts.idle_limit, 0); /* off, as in qemu-nbd */
    assert_false(opts.daemonize);
    assert_null(opts.pid_file);
    assert_int_equal(opts.cache, NBD_CACHE_WRITEBACK);
    assert_false(opts.discard);
    assert_int_equal(opts.detect_zeroes, NBD_DETECT_ZEROES_OFF);
    assert_false(opts.list);
    assert_null(opts.tls_hostname);
    nbd_export_tool_options_clear(&opts);
}

static void test_all_options(void **state)
{
    static const char *const args[] = {
        "-b",
        "127.0.0.1",
        "--port=1234",
        "-x",
        "disk0",
        "-D",
        "a disk",
        "-rt",
        "-e",
        "3",
        "-f",
        "raw",
        "-v",
        "--object",
        "secret,id=sec0,data=x",
        "--tls-creds",
        "tls0",
        "--tls-authz",
        "auth0",
        "--handshake-limit",
        "0",
        "--idle-limit=300",
        "--fork",
        "--pid-file",
        "/run/x.pid",
        "disk.img",
        NULL,
    };
    NBDExportToolOptions opts;
    g_autoptr(GString) out = g_string_new(NULL);
    g_autoptr(GError) err = NULL;

    assert_int_equal(parse(&opts, out, &err, args), 1);
    assert_string_equal(opts.bind, "127.0.0.1");
    assert_string_equal(opts.port, "1234");
    assert_string_equal(opts.export_name, "disk0");
    assert_string_equal(opts.description, "a disk");
    assert_true(opts.readonly);
    assert_true(opts.persistent);
    assert_int_equal(opts.shared, 3);
    assert_true(opts.format_raw);
    assert_true(opts.verbose);
    assert_int_equal(opts.objects->len, 1);
    assert_string_equal(g_ptr_array_index(opts.objects, 0),
                        "secret,id=sec0,data=x");
    assert_string_equal(opts.tls_creds, "tls0");
    assert_string_equal(opts.tls_authz, "auth0");
    assert_int_equal(opts.handshake_limit, 0);
    assert_int_equal(opts.idle_limit, 300);
    assert_true(opts.daemonize);
    assert_string_equal(opts.pid_file, "/run/x.pid");
    assert_string_equal(opts.filename, "disk.img");
    nbd_export_tool_options_clear(&opts);
}

static void test_socket(void **state)
{
    static const char *const args[] = { "-e",          "0",        "-k",
                                        "/tmp/x.sock", "disk.img", NULL };
    NBDExportToolOptions opts;
    g_autoptr(GString) out = g_string_new(NULL);
    g_autoptr(GError) err = NULL;

    assert_int_equal(parse(&opts, out, &err, args), 1);
    assert_string_equal(opts.socket_path, "/tmp/x.sock");
    assert_int_equal(opts.shared, 0);
    nbd_export_tool_options_clear(&opts);
}

typedef struct {
    const char *args[5];
    NBDCacheMode cache;
    bool discard;
    NBDDetectZeroes detect_zeroes;
} ImageCase;

static void test_image_options(void **state)
{
    static const ImageCase cases[] = {
        { { "-n", "d", NULL }, NBD_CACHE_NONE, false, NBD_DETECT_ZEROES_OFF },
        { { "--nocache", "d", NULL },
          NBD_CACHE_NONE,
          false,
          NBD_DETECT_ZEROES_OFF },
        { { "--cache=none", "d", NULL },
          NBD_CACHE_NONE,
          false,
          NBD_DETECT_ZEROES_OFF },
        { { "--cache", "writeback", "d", NULL },
          NBD_CACHE_WRITEBACK,
          false,
          NBD_DETECT_ZEROES_OFF },
        { { "--cache=writethrough", "d", NULL },
          NBD_CACHE_WRITETHROUGH,
          false,
          NBD_DETECT_ZEROES_OFF },
        { { "--cache=directsync", "d", NULL },
          NBD_CACHE_DIRECTSYNC,
          false,
          NBD_DETECT_ZEROES_OFF },
        { { "--cache=unsafe", "d", NULL },
          NBD_CACHE_UNSAFE,
          false,
          NBD_DETECT_ZEROES_OFF },
        { { "--discard=ignore", "d", NULL },
          NBD_CACHE_WRITEBACK,
          false,
          NBD_DETECT_ZEROES_OFF },
        { { "--discard=off", "d", NULL },
          NBD_CACHE_WRITEBACK,
          false,
          NBD_DETECT_ZEROES_OFF },
        { { "--discard=unmap", "d", NULL },
          NBD_CACHE_WRITEBACK,
          true,
          NBD_DETECT_ZEROES_OFF },
        { { "--discard", "on", "d", NULL },
          NBD_CACHE_WRITEBACK,
          true,
          NBD_DETECT_ZEROES_OFF },
        { { "--detect-zeroes=off", "d", NULL },
          NBD_CACHE_WRITEBACK,
          false,
          NBD_DETECT_ZEROES_OFF },
        { { "--detect-zeroes=on", "d", NULL },
          NBD_CACHE_WRITEBACK,
          false,
          NBD_DETECT_ZEROES_ON },
        { { "--detect-zeroes=unmap", "--discard=unmap", "d", NULL },
          NBD_CACHE_WRITEBACK,
          true,
          NBD_DETECT_ZEROES_UNMAP },
        { { "--discard=on", "--detect-zeroes=unmap", "d", NULL },
          NBD_CACHE_WRITEBACK,
          true,
          NBD_DETECT_ZEROES_UNMAP },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        NBDExportToolOptions opts;
        g_autoptr(GString) out = g_string_new(NULL);
        g_autoptr(GError) err = NULL;

        if (parse(&opts, out, &err, cases[i].args) != 1) {
            fail_msg("case %zu: %s", i, err ? err->message : "answered");
        }
        assert_int_equal(opts.cache, cases[i].cache);
        assert_int_equal(opts.discard, cases[i].discard);
        assert_int_equal(opts.detect_zeroes, cases[i].detect_zeroes);
        nbd_export_tool_options_clear(&opts);
    }
}

static void test_list(void **state)
{
    static const char *const tcp[] = {
        "-L",
        "-b",
        "127.0.0.1",
        "-p",
        "10810",
        "--object",
        "tls-creds-x509,id=tls0,endpoint=client,dir=/x",
        "--tls-creds",
        "tls0",
        "--tls-hostname",
        "nbd.example.com",
        "-v",
        NULL,
    };
    static const char *const unix_socket[] = { "--list", "-k", "/tmp/s", NULL };
    NBDExportToolOptions opts;
    g_autoptr(GString) out = g_string_new(NULL);
    g_autoptr(GError) err = NULL;

    assert_int_equal(parse(&opts, out, &err, tcp), 1);
    assert_true(opts.list);
    assert_null(opts.filename);
    assert_string_equal(opts.bind, "127.0.0.1");
    assert_string_equal(opts.port, "10810");
    assert_string_equal(opts.tls_creds, "tls0");
    assert_string_equal(opts.tls_hostname, "nbd.example.com");
    assert_int_equal(opts.objects->len, 1);
    nbd_export_tool_options_clear(&opts);

    assert_int_equal(parse(&opts, out, &err, unix_socket), 1);
    assert_true(opts.list);
    assert_string_equal(opts.socket_path, "/tmp/s");
    nbd_export_tool_options_clear(&opts);
}

static void test_answered(void **state)
{
    static const char *const help[] = { "--help", NULL };
    static const char *const version[] = { "-V", NULL };
    static const char *const object_help[] = { "--object", "help", NULL };
    static const char *const *const cases[] = { help, version, object_help };
    static const char *const expect[] = { "Usage: qio-nbd", "qio-nbd ",
                                          "tls-creds-x509" };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        NBDExportToolOptions opts;
        g_autoptr(GString) out = g_string_new(NULL);
        g_autoptr(GError) err = NULL;

        assert_int_equal(parse(&opts, out, &err, cases[i]), 0);
        assert_null(err);
        assert_non_null(strstr(out->str, expect[i]));
        nbd_export_tool_options_clear(&opts);
    }
}

typedef struct {
    const char *args[6];
    const char *message;
} BadCase;

static void test_errors(void **state)
{
    static const BadCase cases[] = {
        { { "-p", "0", "d", NULL }, "option --port: '0' is not a port" },
        { { "-p", "65536", "d", NULL }, "option --port" },
        { { "-e", "x", "d", NULL }, "option --shared: 'x'" },
        { { "--handshake-limit", "1s", "d", NULL },
          "option --handshake-limit" },
        { { "--idle-limit", "-1", "d", NULL },
          "option --idle-limit: '-1' is not a number" },
        { { "--idle-limit=99999999999", "d", NULL }, "option --idle-limit" },
        { { "-f", "qcow2", "d", NULL },
          "--format 'qcow2' is not supported: only raw images are" },
        { { "--format=vmdk", "d", NULL }, "--format 'vmdk'" },
        { { "-c", "/dev/nbd0", "d", NULL },
          "option --connect is not supported" },
        { { "-d", "d", NULL }, "option --disconnect is not supported" },
        { { "-s", "d", NULL }, "option --snapshot is not supported" },
        { { "-l", "snap", "d", NULL },
          "option --load-snapshot is not supported" },
        { { "-B", "b0", "d", NULL }, "option --bitmap is not supported" },
        { { "-A", "d", NULL }, "option --allocation-depth is not supported" },
        { { "--image-opts", "d", NULL },
          "option --image-opts is not supported" },
        { { "--aio=threads", "d", NULL }, "option --aio is not supported" },
        { { "--cache=fast", "d", NULL },
          "option --cache: 'fast' is not one of none, writeback, "
          "writethrough, directsync, unsafe" },
        { { "--cache=", "d", NULL }, "option --cache: '' is not one of" },
        { { "--cache=None", "d", NULL }, "option --cache: 'None'" },
        { { "-n", "--cache=none", "d", NULL },
          "options -n/--nocache and --cache can be given only once" },
        { { "--cache=unsafe", "--cache=none", "d", NULL },
          "can be given only once" },
        { { "--nocache=yes", "d", NULL },
          "option --nocache does not take a value" },
        { { "--discard=trim", "d", NULL },
          "option --discard: 'trim' is not one of ignore, off, unmap, on" },
        { { "--detect-zeroes=yes", "d", NULL },
          "option --detect-zeroes: 'yes' is not one of off, on, unmap" },
        { { "--detect-zeroes=unmap", "d", NULL },
          "option --detect-zeroes=unmap needs --discard=unmap" },
        { { "--detect-zeroes=unmap", "--discard=ignore", "d", NULL },
          "option --detect-zeroes=unmap needs --discard=unmap" },
        { { "-L", "d", NULL }, "option --list takes no FILE, but 'd'" },
        { { "-L", "-x", "disk0", NULL },
          "option --export-name cannot be combined with --list" },
        { { "-L", "-r", NULL },
          "option --read-only cannot be combined with --list" },
        { { "-L", "--cache=none", NULL },
          "option --cache cannot be combined with --list" },
        { { "-L", "--idle-limit=5", NULL },
          "option --idle-limit cannot be combined with --list" },
        { { "-t", "--list", NULL },
          "option --persistent cannot be combined with --list" },
        { { "-L", "--tls-authz", "a0", NULL },
          "option --tls-authz cannot be combined with --list" },
        { { "-L", "--fork", NULL },
          "option --fork cannot be combined with --list" },
        { { "-L", "-k", "/s", "-p", "1", NULL },
          "option --socket cannot be combined with --port" },
        { { "--tls-hostname", "h", "d", NULL },
          "option --tls-hostname is only for --list" },
        { { "-L", "--tls-hostname=h", NULL },
          "option --tls-hostname needs --tls-creds" },
        { { "-L", "--tls-hostname=", NULL },
          "option --tls-hostname: empty host name" },
        { { "--nope", "d", NULL }, "unrecognized option --nope" },
        { { "-Z", "d", NULL }, "unrecognized option -Z" },
        { { "--read-only=yes", "d", NULL },
          "option --read-only does not take a value" },
        { { "d", "-x", NULL }, "option -x needs a value" },
        { { "-t", NULL }, "no FILE" },
        { { "a", "b", NULL }, "one FILE only" },
        { { "-k", "/s", "-b", "::1", "d", NULL },
          "option --socket cannot be combined with --bind" },
        { { "--tls-authz", "a0", "d", NULL },
          "option --tls-authz needs --tls-creds" },
        { { "--object", "nosuch,help", "d", NULL }, "--object nosuch" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        NBDExportToolOptions opts;
        g_autoptr(GString) out = g_string_new(NULL);
        g_autoptr(GError) err = NULL;

        assert_int_equal(parse(&opts, out, &err, cases[i].args), -1);
        assert_non_null(err);
        if (!strstr(err->message, cases[i].message)) {
            fail_msg("case %zu: '%s' lacks '%s'", i, err->message,
                     cases[i].message);
        }
        nbd_export_tool_options_clear(&opts);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults), cmocka_unit_test(test_all_options),
        cmocka_unit_test(test_socket),   cmocka_unit_test(test_image_options),
        cmocka_unit_test(test_list),     cmocka_unit_test(test_answered),
        cmocka_unit_test(test_errors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
