/*
 * Unit tests for the machine and its HMP monitor and serial ports
 * (vm/machine.c, vm/hmp.c, vm/serial.c) on capturing test chardevs: the
 * banner and prompt, QEMU's wording for info status and the errors, run
 * states seen from HMP and from the serial console, pmemsave, memory
 * backends held by the machine.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <glib/gstdio.h>
#include <string.h>

#include "qio-config.h"
#include "qom/object.h"
#include "vm-test-chardev.h"
#include "vm/hmp.h"
#include "vm/machine.h"
#include "vm/memory-backend.h"

static VMMachine *machine_new(const char *cmdline, GError **errp)
{
    g_autofree char *full = g_strconcat("qio-vm ", cmdline, NULL);
    g_auto(GStrv) argv = NULL;
    g_autoptr(VMOptions) opts = NULL;
    int argc;

    g_assert(g_shell_parse_argv(full, &argc, &argv, NULL));
    opts = vm_options_parse(argc, argv, errp);
    g_assert(opts);
    return vm_machine_new(opts, errp);
}

/* Type a line into @chr and return what came back, echo excluded. */
static char *hmp(QIOChardev *chr, const char *line)
{
    GString *out = vm_test_chardev_output(chr);
    g_autofree char *typed = g_strconcat(line, "\r", NULL);
    const char *start;

    g_string_truncate(out, 0);
    vm_test_chardev_type(chr, typed);
    start = strstr(out->str, "\033[K\r\n");
    if (!start) {
        start = strstr(out->str, "\r\n"); /* an empty line has no echo */
        g_assert(start);
        return g_strdup(start + 2);
    }
    return g_strdup(start + 5);
}

static void test_hmp_session(void **state)
{
    QIOChardev *chr = vm_test_chardev_new("m0");
    g_autoptr(GError) err = NULL;
    VMMachine *m = machine_new("-nodefaults -machine none -name guest1 "
                               "-mon chardev=m0 -S",
                               &err);
    g_autofree char *banner = NULL;

    assert_non_null(m);
    qio_chardev_be_event(chr, QIO_CHARDEV_EVENT_OPENED);
    banner = g_strdup_printf("qio-vm %s monitor - type 'help' for more "
                             "information\r\n(qemu) ",
                             QIO_VERSION);
    assert_string_equal(vm_test_chardev_output(chr)->str, banner);

#define CHECK(line, answer)                                                    \
    do {                                                                       \
        g_autofree char *got = hmp(chr, line);                                 \
        assert_string_equal(got, answer "(qemu) ");                            \
    } while (0)

    CHECK("info status", "VM status: paused (prelaunch)\r\n");
    CHECK("stop", "");
    CHECK("info status", "VM status: paused (prelaunch)\r\n");
    CHECK("c", "");
    CHECK("info status", "VM status: running\r\n");
    CHECK("s", "");
    CHECK("info status", "VM status: paused\r\n");
    CHECK("cont", "");
    CHECK("info name", "guest1\r\n");
    CHECK("info version", QIO_VERSION "\r\n");
    CHECK("", "");
    CHECK("foo bar", "unknown command: 'foo'\r\n");
    CHECK("info foo", "unknown command: 'info foo'\r\n");
    CHECK("stop s", "stop|s: extraneous characters at the end of line\r\n"
                    "Try \"help stop\" for more information\r\n");
    CHECK("info status 1", "status: extraneous characters at the end of "
                           "line\r\nTry \"help info status\" for more "
                           "information\r\n");
    CHECK("object_del", "object_del: string expected\r\n"
                        "Try \"help object_del\" for more information\r\n");
    CHECK("help stop", "stop|s  -- pause the machine\r\n");
    CHECK("help nosuch", "unknown command: 'nosuch'\r\n");
    CHECK("memsave 0 16 \"/dev/null\"",
          "Error: Parameter 'cpu-index' expects a CPU number\r\n");
    CHECK("info chardev", "m0: filename=test\r\n");
    CHECK("info qom-tree", "/machine (none-machine)\r\n"
                           "  /unattached (container)\r\n");
    {
        g_autofree char *got = hmp(chr, "info");

        assert_non_null(strstr(got, "info status  -- "));
        assert_non_null(strstr(got, "info qom-tree [path] -- "));
    }
    {
        g_autofree char *got = hmp(chr, "help");

        assert_non_null(strstr(got, "pmemsave addr size file -- "));
        assert_non_null(strstr(got, "quit|q  -- "));
    }
    /* human-monitor-command's form. */
    {
        g_autofree char *text = vm_hmp_execute(m, "info status");

        assert_string_equal(text, "VM status: running\r\n");
    }
    vm_machine_free(m);
    assert_true(qio_chardev_remove("m0", NULL));
}

static void on_shutdown(void *opaque, VMShutdownCause cause)
{
    *(int *)opaque = (int)cause + 1;
}

static void test_quit(void **state)
{
    QIOChardev *chr = vm_test_chardev_new("m1");
    VMMachine *m = machine_new("-nodefaults -machine none -mon m1", NULL);
    int cause = 0;

    vm_machine_set_shutdown_handler(m, on_shutdown, &cause);
    qio_chardev_be_event(chr, QIO_CHARDEV_EVENT_OPENED);
    g_free(hmp(chr, "q"));
    assert_int_equal(cause, VM_SHUTDOWN_HOST_QMP_QUIT + 1);
    assert_int_equal(vm_run_state_get(vm_machine_get_run_state(m)),
                     VM_RUN_STATE_SHUTDOWN);
    vm_machine_free(m);
    assert_true(qio_chardev_remove("m1", NULL));
}

static void test_pmemsave(void **state)
{
    QIOChardev *chr = vm_test_chardev_new("m2");
    VMMachine *m = machine_new("-nodefaults -machine none -m 1 -mon m2", NULL);
    g_autofree char *dir = g_dir_make_tmp("test-vm-machine-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "dump", NULL);
    g_autofree char *cmd = NULL;
    g_autofree char *got = NULL;
    g_autofree char *contents = NULL;
    gsize len;

    qio_chardev_be_event(chr, QIO_CHARDEV_EVENT_OPENED);
    assert_true(vm_ram_write(vm_machine_get_ram(m), 0x100, "qio!", 4, NULL));
    cmd = g_strdup_printf("pmemsave 0x80+0x80 2*2 \"%s\"", path);
    got = hmp(chr, cmd);
    assert_string_equal(got, "(qemu) ");
    assert_true(g_file_get_contents(path, &contents, &len, NULL));
    assert_int_equal(len, 4);
    assert_memory_equal(contents, "qio!", 4);
    g_unlink(path);
    g_free(got);
    got = hmp(chr, "pmemsave 0xfffff 2 \"x\"");
    assert_string_equal(got, "Error: range 0xfffff + 0x2 is outside guest "
                             "RAM (1048576 bytes)\r\n(qemu) ");
    g_free(got);
    got = hmp(chr, "pmemsave 0 -1 \"x\"");
    assert_string_equal(got, "invalid char '\"' in expression\r\nTry \"help "
                             "pmemsave\" for more information\r\n(qemu) ");
    g_free(got);
    got = hmp(chr, "pmemsave 0 (-1) \"x\"");
    assert_string_equal(got, "Error: Invalid parameter 'size'\r\n(qemu) ");
    assert_false(g_file_test("x", G_FILE_TEST_EXISTS));
    vm_machine_free(m);
    assert_true(qio_chardev_remove("m2", NULL));
    g_rmdir(dir);
}

static void test_memory_backend(void **state)
{
    g_autoptr(GError) err = NULL;
    VMMachine *m;

    assert_non_null(qom_object_add_props("memory-backend-ram", "mem0", &err,
                                         "size", "2M", NULL));
    /* -m must match the backend. */
    m = machine_new("-nodefaults -machine none,memory-backend=mem0 -m 1", &err);
    assert_null(m);
    assert_true(g_error_matches(err, VM_ERROR, VM_ERROR_INVALID_VALUE));
    g_clear_error(&err);
    m = machine_new("-nodefaults -machine none,memory-backend=nosuch", &err);
    assert_null(m);
    assert_true(g_error_matches(err, QOM_ERROR, QOM_ERROR_NOT_FOUND));
    g_clear_error(&err);
    m = machine_new("-nodefaults -machine none,memory-backend=mem0", &err);
    assert_non_null(m);
    assert_int_equal(vm_ram_get_size(vm_machine_get_ram(m)), 2 * 1024 * 1024);
    /* The machine holds it. */
    {
        g_autofree char *text = vm_hmp_execute(m, "object_del mem0");

        assert_true(g_str_has_prefix(text, "Error: "));
    }
    vm_machine_free(m);
    assert_true(qom_object_del("mem0", &err));
    /* QEMU's other properties: carried out, or refused by name. */
    assert_non_null(qom_object_add_props(
        "memory-backend-ram", "mem2", &err, "size", "64K", "prealloc", "on",
        "reserve", "off", "dump", "off", "merge", "off", "prealloc-threads",
        "4", "policy", "default", NULL));
    assert_true(qom_object_del("mem2", &err));
    assert_null(qom_object_add_props("memory-backend-ram", "mem3", &err, "size",
                                     "64K", "policy", "bind", NULL));
    assert_true(g_error_matches(err, VM_ERROR, VM_ERROR_NOT_SUPPORTED));
    g_clear_error(&err);
    {
        g_autofree char *dir = g_dir_make_tmp("test-vm-mb-XXXXXX", NULL);
        g_autofree char *path = g_build_filename(dir, "ram", NULL);
        GObject *obj;

        assert_null(qom_object_add_props("memory-backend-file", "f0", &err,
                                         "size", "64K", "mem-path", path,
                                         "pmem", "on", NULL));
        assert_true(g_error_matches(err, VM_ERROR, VM_ERROR_NOT_SUPPORTED));
        g_clear_error(&err);
        assert_null(qom_object_add_props("memory-backend-file", "f0", &err,
                                         "size", "64K", "mem-path", path,
                                         "align", "3", NULL));
        assert_true(g_error_matches(err, VM_ERROR, VM_ERROR_NOT_SUPPORTED));
        g_clear_error(&err);
        assert_null(qom_object_add_props("memory-backend-file", "f0", &err,
                                         "size", "64K", NULL));
        assert_true(g_error_matches(err, VM_ERROR, VM_ERROR_MISSING_ARGUMENT));
        g_clear_error(&err);
        /* Make the file, then map it read-only: writes are refused. */
        assert_non_null(qom_object_add_props("memory-backend-file", "f0", &err,
                                             "size", "64K", "mem-path", path,
                                             "share", "on", NULL));
        assert_true(qom_object_del("f0", &err));
        obj = qom_object_add_props("memory-backend-file", "f1", &err, "size",
                                   "64K", "mem-path", path, "readonly", "on",
                                   "align", "4096", NULL);
        assert_non_null(obj);
        {
            VMRam *ram = vm_memory_backend_get_ram(VM_MEMORY_BACKEND(obj));
            uint8_t b;

            assert_true(vm_ram_is_readonly(ram));
            assert_true(vm_ram_read(ram, 0, &b, 1, &err));
            assert_false(vm_ram_write(ram, 0, "x", 1, &err));
            assert_true(g_error_matches(err, VM_ERROR, VM_ERROR_BAD_STATE));
            g_clear_error(&err);
        }
        assert_true(qom_object_del("f1", &err));
        g_unlink(path);
        g_rmdir(dir);
    }
    /* A backend needs a size. */
    assert_null(qom_object_add_props("memory-backend-ram", "mem1", &err,
                                     "share", "on", NULL));
    assert_true(g_error_matches(err, VM_ERROR, VM_ERROR_MISSING_ARGUMENT));
}

static void test_serial_console(void **state)
{
    QIOChardev *chr = vm_test_chardev_new("s0");
    VMMachine *m = machine_new("-nodefaults -machine none -m 1 -name g1 "
                               "-device isa-serial,chardev=s0 -S",
                               NULL);
    GString *out = vm_test_chardev_output(chr);

    assert_int_equal(vm_machine_get_serial_count(m), 1);
    assert_string_equal(vm_machine_get_serial_chardev(m, 0), "s0");
    /* Prelaunch: the guest has not started; no banner, no input taken. */
    qio_chardev_be_event(chr, QIO_CHARDEV_EVENT_OPENED);
    assert_string_equal(out->str, "");
    assert_int_equal(vm_test_chardev_type(chr, "hostname\r"), 0);
    assert_true(vm_machine_cont(m, NULL));
    assert_true(g_str_has_prefix(out->str, "qio-vm guest console on ttyS0"));
    assert_true(g_str_has_suffix(out->str, "g1$ "));
    assert_int_equal(vm_test_chardev_type(chr, "hostname\r"), 9);
    assert_non_null(strstr(out->str, "\r\ng1\r\ng1$ "));
    /* Paused: input waits again. */
    assert_true(vm_machine_stop(m, NULL));
    assert_int_equal(vm_test_chardev_type(chr, "x"), 0);
    vm_machine_free(m);
    assert_true(qio_chardev_remove("s0", NULL));
}

static void test_missing_chardevs(void **state)
{
    g_autoptr(GError) err = NULL;

    assert_null(machine_new("-nodefaults -mon nosuch", &err));
    assert_true(g_error_matches(err, VM_ERROR, VM_ERROR_NOT_FOUND));
    g_clear_error(&err);
    assert_null(machine_new("-nodefaults -serial chardev:nosuch", &err));
    assert_true(g_error_matches(err, VM_ERROR, VM_ERROR_NOT_FOUND));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hmp_session),
        cmocka_unit_test(test_quit),
        cmocka_unit_test(test_pmemsave),
        cmocka_unit_test(test_memory_backend),
        cmocka_unit_test(test_serial_console),
        cmocka_unit_test(test_missing_chardevs),
    };

    vm_memory_backend_register_types();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
