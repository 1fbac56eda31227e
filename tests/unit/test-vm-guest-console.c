/*
 * Unit tests for the built-in guest console (vm/guest-console.c): banner
 * and prompt on open, the commands on guest RAM with their range checks
 * and bounds, a bounded scrollback, and the state blob: it round-trips,
 * and every truncation or corruption is refused without changing the
 * console.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "vm/guest-console.h"

static int64_t fake_now;

static int64_t fake_clock(void)
{
    return fake_now;
}

typedef struct Line {
    VMGuestConsole *gc;
    GString *out;
    VMRam *ram;
} Line;

static void line_output(void *opaque, const char *buf, size_t len)
{
    Line *l = opaque;

    g_string_append_len(l->out, buf, len);
}

static Line *line_new(const char *hostname)
{
    Line *l = g_new0(Line, 1);

    l->out = g_string_new(NULL);
    l->ram = vm_ram_new_anon(64 * 1024, false, NULL);
    l->gc = vm_guest_console_new(0, hostname, l->ram, line_output, l);
    vm_guest_console_set_clock(l->gc, fake_clock);
    return l;
}

static void line_free(Line *l)
{
    vm_guest_console_free(l->gc);
    vm_ram_free(l->ram);
    g_string_free(l->out, TRUE);
    g_free(l);
}

/* Type @cmd and return what the console answered before its prompt. */
static char *run(Line *l, const char *cmd)
{
    const char *start, *end;

    g_string_truncate(l->out, 0);
    vm_guest_console_input(l->gc, (const uint8_t *)cmd, strlen(cmd));
    vm_guest_console_input(l->gc, (const uint8_t *)"\r", 1);
    start = strstr(l->out->str, "\r\n");
    assert_non_null(start);
    start += 2;
    end = g_strrstr(start, "$ ");
    while (end > start && end[-1] != '\n') {
        end--;
    }
    assert_non_null(end);
    return g_strndup(start, end - start);
}

static void test_open(void **state)
{
    Line *l = line_new("guest1");

    vm_guest_console_open(l->gc);
    assert_string_equal(l->out->str, "qio-vm guest console on ttyS0 - type "
                                     "'help' for commands\r\nguest1$ ");
    line_free(l);
}

static void test_commands(void **state)
{
    Line *l = line_new("guest1");
    g_autofree char *help = run(l, "help");
    g_autofree char *host = run(l, "hostname");
    g_autofree char *up0 = NULL;
    g_autofree char *up = NULL;

    assert_non_null(strstr(help, "read ADDR LEN"));
    assert_non_null(strstr(help, "\r\n"));
    assert_string_equal(host, "guest1\r\n");
    fake_now += 1;
    up0 = run(l, "uptime");
    assert_string_equal(up0, "up 0 seconds\r\n");
    fake_now += 42 * G_USEC_PER_SEC;
    up = run(l, "  uptime  ");
    assert_string_equal(up, "up 42 seconds\r\n");
    line_free(l);
}

static void test_ram_commands(void **state)
{
    Line *l = line_new("guest1");
    g_autofree char *w = run(l, "write 0x1000 68656C6c6f");
    g_autofree char *r = run(l, "read 4096 5");
    g_autofree char *s = run(l, "sum 0x1000 5");
    g_autofree char *r2 = run(l, "read 0xfff 18");
    uint8_t buf[5];

    assert_string_equal(w, "wrote 5 bytes at 0x1000\r\n");
    assert_true(vm_ram_read(l->ram, 0x1000, buf, 5, NULL));
    assert_memory_equal(buf, "hello", 5);
    {
        g_autofree char *pad1 = g_strnfill(11 * 3, ' ');
        g_autofree char *pad2 = g_strnfill(14 * 3, ' ');
        g_autofree char *want1 = g_strdup_printf(
            "0000000000001000: 68 65 6c 6c 6f %s |hello|\r\n", pad1);
        g_autofree char *want2 = g_strdup_printf(
            "0000000000000fff: 00 68 65 6c 6c 6f 00 00 00 00 00 00 00 00 00 "
            "00  |.hello..........|\r\n"
            "000000000000100f: 00 00 %s |..|\r\n",
            pad2);

        assert_string_equal(r, want1);
        assert_string_equal(r2, want2);
    }
    assert_string_equal(s, "sha256 0x1000+5: 2cf24dba5fb0a30e26e83b2ac5b9e2"
                           "9e1b161e5c1fa7425e73043362938b9824\r\n");
    line_free(l);
}

static void test_errors(void **state)
{
    static const struct {
        const char *cmd, *answer;
    } cases[] = {
        { "reboot", "reboot: command not found; type 'help'\r\n" },
        { "read 1", "usage: read ADDR LEN\r\n" },
        { "read 0 1 2", "usage: read ADDR LEN\r\n" },
        { "read 0 4097", "read: at most 4096 bytes at once\r\n" },
        { "read 65535 2", "read: range 0xffff + 0x2 is outside guest RAM "
                          "(65536 bytes)\r\n" },
        { "read 0xffffffffffffffff 2",
          "read: range 0xffffffffffffffff + 0x2 "
          "is outside guest RAM (65536 bytes)\r\n" },
        { "write 65535 0102", "write: range 0xffff + 0x2 is outside guest RAM "
                              "(65536 bytes)\r\n" },
        { "write 0 123", "write: give whole bytes: an even number of hex "
                         "digits\r\n" },
        { "write 0 zz", "write: 'zz' is not a hex byte\r\n" },
        { "sum 0 65537", "sum: range 0x0 + 0x10001 is outside guest RAM "
                         "(65536 bytes)\r\n" },
        { "sum 0 0x10000001", "sum: at most 268435456 bytes at once\r\n" },
    };
    Line *l = line_new("guest1");

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *answer = run(l, cases[i].cmd);

        assert_string_equal(answer, cases[i].answer);
    }
    {
        g_autofree char *answer = run(l, "read -1 2");

        assert_true(g_str_has_prefix(answer, "read: "));
    }
    {
        g_autofree char *answer = run(l, "");

        assert_string_equal(answer, "");
    }
    line_free(l);
}

static void test_no_ram(void **state)
{
    Line l = { .out = g_string_new(NULL) };
    g_autofree char *answer = NULL;

    l.gc = vm_guest_console_new(1, NULL, NULL, line_output, &l);
    vm_guest_console_open(l.gc);
    assert_non_null(strstr(l.out->str, "ttyS1"));
    assert_non_null(strstr(l.out->str, "qio-vm$ "));
    g_string_truncate(l.out, 0);
    vm_guest_console_input(l.gc, (const uint8_t *)"read 0 1\r", 9);
    assert_non_null(strstr(l.out->str, "read: this machine has no RAM\r\n"));
    vm_guest_console_free(l.gc);
    g_string_free(l.out, TRUE);
}

static void test_scrollback_bounded(void **state)
{
    Line *l = line_new("guest1");
    g_autoptr(GBytes) sb = NULL;

    for (int i = 0; i < 50; i++) {
        g_free(run(l, "read 0 4096"));
    }
    sb = vm_guest_console_get_scrollback(l->gc);
    assert_int_equal(g_bytes_get_size(sb), VM_GUEST_CONSOLE_SCROLLBACK);
    /* It ends with what was printed last: the prompt. */
    assert_memory_equal((const char *)g_bytes_get_data(sb, NULL) +
                            VM_GUEST_CONSOLE_SCROLLBACK - 8,
                        "guest1$ ", 8);
    line_free(l);
}

static void test_state_blob(void **state)
{
    Line *a = line_new("guest1");
    Line *b = line_new("other");
    g_autoptr(GByteArray) blob = g_byte_array_new();
    g_autoptr(GError) err = NULL;
    g_autoptr(GBytes) sa = NULL;
    g_autoptr(GBytes) sb = NULL;
    g_autofree char *host = NULL;
    g_autofree char *up = NULL;

    vm_guest_console_open(a->gc);
    g_free(run(a, "hostname"));
    fake_now += 100 * G_USEC_PER_SEC;
    vm_guest_console_input(a->gc, (const uint8_t *)"hostn", 5);
    vm_guest_console_save(a->gc, blob);
    assert_memory_equal(blob->data, VM_GUEST_CONSOLE_MAGIC, 4);

    /* Every truncation, and every single-byte corruption of the header,
     * is refused and leaves the console as it was. */
    for (guint cut = 0; cut < blob->len; cut++) {
        g_autoptr(GError) e = NULL;

        assert_false(vm_guest_console_restore(b->gc, blob->data, cut, &e));
        assert_true(g_error_matches(e, VM_ERROR, VM_ERROR_INVALID_VALUE));
    }
    for (guint i = 0; i < 12; i++) {
        g_autoptr(GError) e = NULL;
        g_autoptr(GByteArray) bad = g_byte_array_new();

        g_byte_array_append(bad, blob->data, blob->len);
        bad->data[i] ^= 0x80;
        assert_false(vm_guest_console_restore(b->gc, bad->data, bad->len, &e));
    }
    {
        g_autoptr(GByteArray) longer = g_byte_array_new();
        g_autoptr(GError) e = NULL;

        g_byte_array_append(longer, blob->data, blob->len);
        g_byte_array_append(longer, (const guint8 *)"x", 1);
        assert_false(
            vm_guest_console_restore(b->gc, longer->data, longer->len, &e));
    }
    host = run(b, "hostname");
    assert_string_equal(host, "other\r\n");

    assert_true(vm_guest_console_restore(b->gc, blob->data, blob->len, &err));
    /* Hostname, scrollback, the half-typed line and uptime moved. */
    sa = vm_guest_console_get_scrollback(a->gc);
    sb = vm_guest_console_get_scrollback(b->gc);
    assert_true(g_bytes_equal(sa, sb));
    g_string_truncate(b->out, 0);
    vm_guest_console_input(b->gc, (const uint8_t *)"ame\r", 4);
    assert_non_null(strstr(b->out->str, "\r\nguest1\r\nguest1$ "));
    fake_now += 5 * G_USEC_PER_SEC;
    up = run(b, "uptime");
    assert_string_equal(up, "up 105 seconds\r\n");
    line_free(a);
    line_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open),
        cmocka_unit_test(test_commands),
        cmocka_unit_test(test_ram_commands),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_no_ram),
        cmocka_unit_test(test_scrollback_bounded),
        cmocka_unit_test(test_state_blob),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
