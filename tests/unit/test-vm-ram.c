/*
 * Unit tests for guest RAM (vm/ram.c): anonymous and file-backed blocks,
 * the directory form of mem-path, share=on reaching the file and
 * share=off not, and range checks that no address or length can pass.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "vm/ram.h"

#define MiB (1024ull * 1024)

static void test_anon(void **state)
{
    g_autoptr(GError) err = NULL;
    VMRam *ram = vm_ram_new_anon(MiB + 1, false, &err);
    uint8_t buf[8] = { 0 };

    assert_non_null(ram);
    /* Rounded up to pages. */
    assert_true(vm_ram_get_size(ram) > MiB);
    assert_int_equal(vm_ram_get_size(ram) % sysconf(_SC_PAGESIZE), 0);
    assert_null(vm_ram_get_path(ram));
    assert_true(vm_ram_read(ram, 0, buf, sizeof(buf), &err));
    assert_int_equal(buf[0], 0);
    assert_true(vm_ram_write(ram, 0x1000, "hello", 5, &err));
    assert_true(vm_ram_read(ram, 0x1000, buf, 5, &err));
    assert_memory_equal(buf, "hello", 5);
    vm_ram_free(ram);
}

static void test_ranges(void **state)
{
    g_autoptr(GError) err = NULL;
    VMRam *ram = vm_ram_new_anon(64 * 1024, false, &err);
    uint64_t size = vm_ram_get_size(ram);
    uint8_t buf[16];
    static const struct {
        uint64_t addr, len;
        bool ok;
    } cases[] = {
        { 0, 0, true },
        { 0, 16, true },
        { 65536 - 16, 16, true },
        { 65536, 0, true },
        { 65536 - 15, 16, false },
        { 65536, 1, false },
        { 65537, 0, false },
        { UINT64_MAX, 2, false },
        { 1, UINT64_MAX, false },
        { UINT64_MAX - 7, 16, false },
    };

    assert_int_equal(size, 65536);
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        bool ok = vm_ram_check_range(ram, cases[i].addr, cases[i].len, &err);

        assert_int_equal(ok, cases[i].ok);
        if (!ok) {
            assert_true(g_error_matches(err, VM_ERROR, VM_ERROR_OUT_OF_RANGE));
            g_clear_error(&err);
            assert_null(vm_ram_get_ptr(ram, cases[i].addr, cases[i].len, &err));
            g_clear_error(&err);
        }
    }
    assert_false(vm_ram_read(ram, 65536 - 8, buf, 16, &err));
    g_clear_error(&err);
    assert_false(vm_ram_write(ram, 65536 - 8, buf, 16, &err));
    assert_true(g_error_matches(err, VM_ERROR, VM_ERROR_OUT_OF_RANGE));
    vm_ram_free(ram);
}

static void test_no_ram(void **state)
{
    g_autoptr(GError) err = NULL;
    VMRam *ram = vm_ram_new_anon(0, false, &err);
    uint8_t b;

    assert_non_null(ram);
    assert_int_equal(vm_ram_get_size(ram), 0);
    assert_true(vm_ram_read(ram, 0, &b, 0, &err));
    assert_false(vm_ram_read(ram, 0, &b, 1, &err));
    assert_true(g_error_matches(err, VM_ERROR, VM_ERROR_OUT_OF_RANGE));
    vm_ram_free(ram);
}

static void test_too_large(void **state)
{
    g_autoptr(GError) err = NULL;

    assert_null(vm_ram_new_anon(UINT64_MAX - 10, false, &err));
    assert_true(g_error_matches(err, VM_ERROR, VM_ERROR_NO_MEMORY));
}

static void test_file_share(void **state)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *dir = g_dir_make_tmp("test-vm-ram-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "ram", NULL);
    g_autofree char *contents = NULL;
    gsize len;
    VMRam *ram;

    /* share=on: the file sees the writes and is extended to the size. */
    ram = vm_ram_new_file(path, 8192, true, &err);
    assert_non_null(ram);
    assert_string_equal(vm_ram_get_path(ram), path);
    assert_true(vm_ram_write(ram, 4096, "shared", 6, &err));
    vm_ram_free(ram);
    assert_true(g_file_get_contents(path, &contents, &len, NULL));
    assert_int_equal(len, 8192);
    assert_memory_equal(contents + 4096, "shared", 6);
    g_clear_pointer(&contents, g_free);

    /* share=off: the contents are read but writes stay private. */
    ram = vm_ram_new_file(path, 8192, false, &err);
    assert_non_null(ram);
    {
        char buf[6];

        assert_true(vm_ram_read(ram, 4096, buf, 6, &err));
        assert_memory_equal(buf, "shared", 6);
    }
    assert_true(vm_ram_write(ram, 4096, "PRIVAT", 6, &err));
    vm_ram_free(ram);
    assert_true(g_file_get_contents(path, &contents, &len, NULL));
    assert_memory_equal(contents + 4096, "shared", 6);

    /* A directory: a file is made inside and unlinked at once. */
    ram = vm_ram_new_file(dir, 8192, true, &err);
    assert_non_null(ram);
    assert_true(vm_ram_write(ram, 0, "x", 1, &err));
    {
        GDir *d = g_dir_open(dir, 0, NULL);
        int n = 0;

        while (g_dir_read_name(d)) {
            n++;
        }
        g_dir_close(d);
        assert_int_equal(n, 1); /* only "ram" */
    }
    vm_ram_free(ram);

    g_unlink(path);
    g_rmdir(dir);

    /* A path that cannot be opened names itself. */
    assert_null(vm_ram_new_file("/nonexistent/dir/ram", 4096, true, &err));
    assert_true(g_error_matches(err, VM_ERROR, VM_ERROR_IO));
    assert_non_null(strstr(err->message, "/nonexistent/dir/ram"));
}

static void test_save(void **state)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *dir = g_dir_make_tmp("test-vm-ram-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "dump", NULL);
    g_autofree char *contents = NULL;
    gsize len;
    VMRam *ram = vm_ram_new_anon(8192, false, &err);

    assert_true(vm_ram_write(ram, 100, "abcdef", 6, &err));
    assert_true(vm_ram_save(ram, 100, 6, path, &err));
    assert_true(g_file_get_contents(path, &contents, &len, NULL));
    assert_int_equal(len, 6);
    assert_memory_equal(contents, "abcdef", 6);
    g_unlink(path);

    /* Out of range: refused before the file is created. */
    assert_false(vm_ram_save(ram, 8000, 200, path, &err));
    assert_true(g_error_matches(err, VM_ERROR, VM_ERROR_OUT_OF_RANGE));
    assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
    g_clear_error(&err);

    assert_false(vm_ram_save(ram, 0, 1, "/nonexistent/dir/dump", &err));
    assert_true(g_error_matches(err, VM_ERROR, VM_ERROR_IO));
    vm_ram_free(ram);
    g_rmdir(dir);
}

static void test_options(void **state)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *dir = g_dir_make_tmp("test-vm-ram-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "ram", NULL);
    VMRamOptions ro = { .readonly = true };
    VMRamOptions all = {
        .noreserve = true, .dontdump = true, .mergeable = true, .prealloc = true
    };
    VMRam *ram;

    /* Read-only needs a file, and one long enough. */
    assert_null(vm_ram_new(NULL, 4096, &ro, &err));
    assert_true(g_error_matches(err, VM_ERROR, VM_ERROR_INVALID_VALUE));
    g_clear_error(&err);
    assert_true(g_file_set_contents(path, "abc", 3, NULL));
    assert_null(vm_ram_new(path, 8192, &ro, &err));
    assert_true(g_error_matches(err, VM_ERROR, VM_ERROR_INVALID_VALUE));
    g_clear_error(&err);
    assert_null(vm_ram_new(dir, 8192, &ro, &err));
    g_clear_error(&err);
    /* The file is never extended or changed through a read-only map. */
    ram = vm_ram_new(path, 0, &ro, &err);
    assert_non_null(ram);
    vm_ram_free(ram);
    {
        g_autofree char *big = g_strnfill(8192, 'q');
        char c;

        assert_true(g_file_set_contents(path, big, 8192, NULL));
        ram = vm_ram_new(path, 8192, &ro, &err);
        assert_non_null(ram);
        assert_true(vm_ram_read(ram, 100, &c, 1, &err));
        assert_int_equal(c, 'q');
        assert_false(vm_ram_write(ram, 100, "x", 1, &err));
        assert_true(g_error_matches(err, VM_ERROR, VM_ERROR_BAD_STATE));
        vm_ram_free(ram);
    }
    /* The advice flags and preallocation leave a usable block. */
    ram = vm_ram_new(NULL, 1 << 20, &all, &err);
    assert_non_null(ram);
    assert_true(vm_ram_write(ram, 0, "ok", 2, NULL));
    vm_ram_free(ram);
    g_unlink(path);
    g_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_anon),       cmocka_unit_test(test_ranges),
        cmocka_unit_test(test_no_ram),     cmocka_unit_test(test_too_large),
        cmocka_unit_test(test_file_share), cmocka_unit_test(test_save),
        cmocka_unit_test(test_options),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
