/*
 * Unit tests for qio-vm's command-line parser (vm/options.c): QEMU's
 * "-opt value" syntax, implied keys, sizes in MiB by default, the legacy
 * chardev shorthand of -serial/-monitor/-qmp, and one clear error naming
 * the option for everything qio-vm does not do.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "vm/options.h"

#define MiB (1024ull * 1024)

static VMOptions *parse(const char *cmdline, GError **errp)
{
    g_autofree char *full = g_strconcat("qio-vm ", cmdline, NULL);
    g_auto(GStrv) argv = NULL;
    int argc;

    if (!g_shell_parse_argv(full, &argc, &argv, NULL)) {
        fail_msg("bad test command line '%s'", cmdline);
    }
    return vm_options_parse(argc, argv, errp);
}

static VMOptions *parse_ok(const char *cmdline)
{
    g_autoptr(GError) err = NULL;
    VMOptions *opts = parse(cmdline, &err);

    if (!opts) {
        fail_msg("'%s' rejected: %s", cmdline, err->message);
    }
    return opts;
}

static void parse_bad(const char *cmdline, int code, const char *message)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(VMOptions) opts = parse(cmdline, &err);

    if (opts) {
        fail_msg("'%s' accepted", cmdline);
    }
    if (!g_error_matches(err, VM_ERROR, code)) {
        fail_msg("'%s': code %d, expected %d: %s", cmdline, err->code, code,
                 err->message);
    }
    if (message && !g_str_equal(err->message, message)) {
        fail_msg("'%s': message '%s', expected '%s'", cmdline, err->message,
                 message);
    }
}

static void test_defaults(void **state)
{
    g_autoptr(VMOptions) opts = parse_ok("");

    assert_int_equal(opts->action, VM_OPTIONS_RUN);
    assert_string_equal(opts->machine, "pc");
    assert_false(opts->has_ram_size);
    assert_int_equal(vm_options_ram_size(opts), 128 * MiB);
    assert_null(opts->name);
    assert_false(opts->start_paused);
    /* pc without -nodefaults has one serial port on a null chardev. */
    assert_int_equal(opts->serials->len, 1);
    assert_string_equal(g_ptr_array_index(opts->serials, 0), "serial0");
    assert_string_equal(g_ptr_array_index(opts->chardevs, 0),
                        "null,id=serial0");
}

static void test_nodefaults_none(void **state)
{
    g_autoptr(VMOptions) opts =
        parse_ok("-machine none -nodefaults -display none -S -daemonize "
                 "-pidfile /run/x.pid -name guest1");

    assert_string_equal(opts->machine, "none");
    assert_int_equal(vm_options_ram_size(opts), 0);
    assert_int_equal(opts->serials->len, 0);
    assert_int_equal(opts->chardevs->len, 0);
    assert_true(opts->start_paused);
    assert_true(opts->daemonize);
    assert_true(opts->nodefaults);
    assert_string_equal(opts->pidfile, "/run/x.pid");
    assert_string_equal(opts->name, "guest1");
}

static void test_double_dash(void **state)
{
    g_autoptr(VMOptions) opts = parse_ok("--m 64 --machine none");

    assert_int_equal(vm_options_ram_size(opts), 64 * MiB);
    assert_string_equal(opts->machine, "none");
}

static void test_ram_sizes(void **state)
{
    static const struct {
        const char *arg;
        uint64_t bytes;
    } good[] = {
        { "512", 512 * MiB },      { "1G", 1024 * MiB },  { "1g", 1024 * MiB },
        { "1.5G", 1536 * MiB },    { "256M", 256 * MiB }, { "4096K", 4 * MiB },
        { "size=2G", 2048 * MiB }, { "0x10", 16 * MiB },  { "65536B", 65536 },
    };
    static const char *const bad[] = {
        "1.5x", "-1", "0.5", "1 G", "18446744073709551615", "16E", "size=1x"
    };

    for (size_t i = 0; i < G_N_ELEMENTS(good); i++) {
        g_autofree char *cmd = g_strdup_printf("-m '%s'", good[i].arg);
        g_autoptr(VMOptions) opts = parse_ok(cmd);

        assert_true(opts->has_ram_size);
        assert_int_equal(vm_options_ram_size(opts), good[i].bytes);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autofree char *cmd = g_strdup_printf("-m '%s'", bad[i]);

        parse_bad(cmd, VM_ERROR_INVALID_VALUE, NULL);
    }
    {
        g_autoptr(GError) err = NULL;
        g_autoptr(VMOptions) opts = parse("-m 1.5x", &err);

        assert_null(opts);
        assert_true(
            g_str_has_prefix(err->message, "-m 1.5x: Parameter 'size'"));
    }
    /* -m 0 means the default, and a later -m wins. */
    {
        g_autoptr(VMOptions) opts = parse_ok("-m 0");

        assert_int_equal(vm_options_ram_size(opts), 128 * MiB);
    }
    {
        g_autoptr(VMOptions) opts = parse_ok("-m 1 -m 2");

        assert_int_equal(vm_options_ram_size(opts), 2 * MiB);
    }
    parse_bad("-m 1G,slots=2", VM_ERROR_NOT_SUPPORTED,
              "-m 1G,slots=2: parameter 'slots' not supported");
}

static void test_bad_options(void **state)
{
    parse_bad("-cpu host", VM_ERROR_NOT_SUPPORTED, "-cpu: not supported");
    parse_bad("-enable-kvm", VM_ERROR_NOT_SUPPORTED,
              "-enable-kvm: not supported");
    parse_bad("-m=1G", VM_ERROR_INVALID_OPTION, "-m=1G: invalid option");
    parse_bad("--name=x", VM_ERROR_INVALID_OPTION, "--name=x: invalid option");
    parse_bad("-m", VM_ERROR_MISSING_ARGUMENT, "-m: requires an argument");
    parse_bad("-S -name", VM_ERROR_MISSING_ARGUMENT,
              "-name: requires an argument");
    parse_bad("disk.img", VM_ERROR_NOT_SUPPORTED,
              "disk.img: not supported: qio-vm has no disks");
    parse_bad("-", VM_ERROR_NOT_SUPPORTED, NULL);
    parse_bad("-incoming tcp:127.0.0.1:4444", VM_ERROR_NOT_SUPPORTED,
              "-incoming tcp:127.0.0.1:4444: not supported: qio-vm cannot "
              "receive a migration yet");
    parse_bad("-display gtk", VM_ERROR_NOT_SUPPORTED, NULL);
    parse_bad("-machine q35", VM_ERROR_NOT_SUPPORTED, NULL);
    parse_bad("-machine pc,accel=kvm", VM_ERROR_NOT_SUPPORTED,
              "-machine pc,accel=kvm: parameter 'accel' not supported");
    parse_bad("-name g,foo=bar", VM_ERROR_NOT_SUPPORTED, NULL);
    parse_bad("-name g,debug-threads=maybe", VM_ERROR_INVALID_VALUE, NULL);
    parse_bad("-machine pc,=x", VM_ERROR_INVALID_VALUE, NULL);
    parse_bad("-m ''", VM_ERROR_MISSING_ARGUMENT,
              "-m : Parameter 'size' is missing");
}

static void test_machine(void **state)
{
    g_autoptr(VMOptions) opts =
        parse_ok("-machine type=none -M memory-backend=mem0 -m 64");

    assert_string_equal(opts->machine, "none");
    assert_string_equal(opts->memory_backend, "mem0");
    {
        g_autoptr(VMOptions) help = parse_ok("-machine help -cpu host");

        /* Help stops the parse, as in QEMU: nothing after it matters. */
        assert_int_equal(help->action, VM_OPTIONS_MACHINE_HELP);
    }
    {
        g_autoptr(VMOptions) help = parse_ok("-device help");

        assert_int_equal(help->action, VM_OPTIONS_DEVICE_HELP);
    }
    {
        g_autoptr(VMOptions) help = parse_ok("-object secret,help");

        assert_int_equal(help->action, VM_OPTIONS_OBJECT_HELP);
        assert_string_equal(g_ptr_array_index(help->objects, 0), "secret,help");
    }
    {
        g_autoptr(VMOptions) v = parse_ok("-version");

        assert_int_equal(v->action, VM_OPTIONS_VERSION);
    }
    {
        g_autoptr(VMOptions) h = parse_ok("-h");

        assert_int_equal(h->action, VM_OPTIONS_HELP);
        assert_non_null(strstr(vm_options_usage(), "-serial"));
    }
}

static void test_monitors(void **state)
{
    g_autoptr(VMOptions) opts = parse_ok(
        "-nodefaults -chardev socket,id=c0,path=/tmp/m,server=on,wait=off "
        "-mon chardev=c0,mode=control,pretty=on "
        "-qmp unix:/tmp/q.sock,server=on,wait=off "
        "-monitor tcp:127.0.0.1:4444,server=on,wait=off "
        "-mon c0 -monitor none");
    VMMonitorOpt *mon;

    assert_int_equal(opts->monitors->len, 4);
    mon = g_ptr_array_index(opts->monitors, 0);
    assert_string_equal(mon->chardev, "c0");
    assert_int_equal(mon->mode, VM_MONITOR_MODE_CONTROL);
    assert_true(mon->pretty);
    mon = g_ptr_array_index(opts->monitors, 1);
    assert_string_equal(mon->chardev, "compat_monitor0");
    assert_int_equal(mon->mode, VM_MONITOR_MODE_CONTROL);
    assert_false(mon->pretty);
    mon = g_ptr_array_index(opts->monitors, 2);
    assert_string_equal(mon->chardev, "compat_monitor1");
    assert_int_equal(mon->mode, VM_MONITOR_MODE_READLINE);
    /* -mon's first element is the implied chardev; mode defaults to HMP. */
    mon = g_ptr_array_index(opts->monitors, 3);
    assert_string_equal(mon->chardev, "c0");
    assert_int_equal(mon->mode, VM_MONITOR_MODE_READLINE);
    assert_int_equal(opts->chardevs->len, 3);
    assert_string_equal(g_ptr_array_index(opts->chardevs, 1),
                        "socket,id=compat_monitor0,path=/tmp/q.sock,"
                        "server=on,wait=off");
    assert_string_equal(g_ptr_array_index(opts->chardevs, 2),
                        "socket,id=compat_monitor1,host=127.0.0.1,port=4444,"
                        "server=on,wait=off");
}

static void test_mon_errors(void **state)
{
    parse_bad("-mon mode=readline", VM_ERROR_MISSING_ARGUMENT,
              "-mon mode=readline: Parameter 'chardev' is missing");
    parse_bad("-mon chardev=x,mode=foo", VM_ERROR_INVALID_VALUE,
              "-mon chardev=x,mode=foo: Parameter 'mode' does not accept "
              "value 'foo'");
    parse_bad("-mon chardev=x,pretty=on", VM_ERROR_INVALID_VALUE, NULL);
    parse_bad("-mon chardev=x,bogus=1", VM_ERROR_NOT_SUPPORTED, NULL);
    parse_bad("-qmp udp:1.2.3.4:5", VM_ERROR_NOT_SUPPORTED, NULL);
    parse_bad("-qmp tcp:nohostport", VM_ERROR_INVALID_VALUE, NULL);
    parse_bad("-monitor unix:", VM_ERROR_INVALID_VALUE, NULL);
    parse_bad("-monitor chardev:", VM_ERROR_MISSING_ARGUMENT, NULL);
}

static void test_serials(void **state)
{
    g_autoptr(VMOptions) opts =
        parse_ok("-chardev null,id=n0 -device isa-serial,chardev=n0 "
                 "-serial chardev:c9 -serial none -serial mon:stdio "
                 "-serial 'file:/tmp/a,b'");

    /* -serial ports first, then -device, as QEMU numbers them. */
    assert_int_equal(opts->serials->len, 4);
    assert_string_equal(g_ptr_array_index(opts->serials, 0), "c9");
    assert_string_equal(g_ptr_array_index(opts->serials, 1), "serial1");
    assert_string_equal(g_ptr_array_index(opts->serials, 2), "serial2");
    assert_string_equal(g_ptr_array_index(opts->serials, 3), "n0");
    assert_string_equal(g_ptr_array_index(opts->chardevs, 1),
                        "stdio,id=serial1,mux=on");
    assert_string_equal(g_ptr_array_index(opts->chardevs, 2),
                        "file,id=serial2,path=/tmp/a,,b");
    /* mon: puts a readline monitor on the muxed chardev. */
    assert_int_equal(opts->monitors->len, 1);
    assert_string_equal(
        ((VMMonitorOpt *)g_ptr_array_index(opts->monitors, 0))->chardev,
        "serial1");

    parse_bad("-device isa-serial", VM_ERROR_MISSING_ARGUMENT,
              "-device isa-serial: Parameter 'chardev' is missing");
    parse_bad("-device virtio-net-pci", VM_ERROR_NOT_SUPPORTED, NULL);
    parse_bad("-device isa-serial,chardev=a,iobase=0x3f8",
              VM_ERROR_NOT_SUPPORTED, NULL);
    parse_bad("-serial null -serial null -serial null -serial null "
              "-serial null",
              VM_ERROR_INVALID_VALUE, NULL);
    parse_bad("-serial vc", VM_ERROR_NOT_SUPPORTED, NULL);
}

static void test_legacy_chardev(void **state)
{
    static const struct {
        const char *spec, *kv;
    } good[] = {
        { "null", "null,id=x" },
        { "stdio", "stdio,id=x" },
        { "pty", "pty,id=x" },
        { "pipe:/tmp/p", "pipe,id=x,path=/tmp/p" },
        { "tcp::4444,server=on", "socket,id=x,host=,port=4444,server=on" },
        { "tcp:[::1]:4444", "socket,id=x,host=::1,port=4444" },
        { "telnet:127.0.0.1:23,server,nowait",
          "socket,id=x,host=127.0.0.1,port=23,server,nowait,telnet=on" },
        { "unix:/tmp/s,server=on", "socket,id=x,path=/tmp/s,server=on" },
    };
    static const char *const bad[] = {
        "tcp:",         "tcp:host",   "tcp:[::1]4444", "tcp:a,b:1", "file:",
        "unix:,server", "vc:80Cx24C", "/dev/ttyS0",    ""
    };

    for (size_t i = 0; i < G_N_ELEMENTS(good); i++) {
        g_autoptr(GError) err = NULL;
        g_autofree char *kv =
            vm_options_legacy_chardev(good[i].spec, "x", &err);

        if (!kv) {
            fail_msg("'%s' rejected: %s", good[i].spec, err->message);
        }
        assert_string_equal(kv, good[i].kv);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) err = NULL;
        g_autofree char *kv = vm_options_legacy_chardev(bad[i], "x", &err);

        if (kv) {
            fail_msg("'%s' accepted as '%s'", bad[i], kv);
        }
        assert_true(err->domain == VM_ERROR);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_nodefaults_none),
        cmocka_unit_test(test_double_dash),
        cmocka_unit_test(test_ram_sizes),
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_machine),
        cmocka_unit_test(test_monitors),
        cmocka_unit_test(test_mon_errors),
        cmocka_unit_test(test_serials),
        cmocka_unit_test(test_legacy_chardev),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
