/*
 * The built-in guest console of a serial port.  Everything it prints goes
 * through emit(), which also keeps the bounded scrollback, so the
 * scrollback is exactly what the line carried.  Commands that take
 * addresses check them against guest RAM with checked arithmetic before
 * touching it, and bound how much one command may read or hash.
 */
#include "vm/guest-console.h"

#include <string.h>

#include "util/cutils.h"
#include "util/wire.h"
#include "vm/readline.h"

struct VMGuestConsole {
    unsigned port;
    char *hostname;
    char *prompt;
    VMRam *ram;
    VMGuestConsoleOutput output;
    void *opaque;
    VMGuestConsoleClock clock;
    int64_t start_us;       /* clock at boot, or at restore */
    uint64_t uptime_before; /* microseconds run before start_us */
    GByteArray *scrollback;
    VMReadline *rl;
};

static void emit(VMGuestConsole *gc, const char *buf, size_t len)
{
    g_byte_array_append(gc->scrollback, (const guint8 *)buf, (guint)len);
    if (gc->scrollback->len > VM_GUEST_CONSOLE_SCROLLBACK) {
        g_byte_array_remove_range(gc->scrollback, 0,
                                  gc->scrollback->len -
                                      VM_GUEST_CONSOLE_SCROLLBACK);
    }
    gc->output(gc->opaque, buf, len);
}

static void rl_output(void *opaque, const char *buf, size_t len)
{
    emit(opaque, buf, len);
}

static void say(VMGuestConsole *gc, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void say(VMGuestConsole *gc, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *text = NULL;
    g_autoptr(GString) crlf = g_string_new(NULL);

    va_start(ap, fmt);
    text = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    for (const char *p = text; *p; p++) {
        if (*p == '\n') {
            g_string_append_c(crlf, '\r');
        }
        g_string_append_c(crlf, *p);
    }
    emit(gc, crlf->str, crlf->len);
}

uint64_t vm_guest_console_uptime(VMGuestConsole *gc)
{
    int64_t now = gc->clock();
    uint64_t run = now > gc->start_us ? (uint64_t)(now - gc->start_us) : 0;

    return (gc->uptime_before + run) / G_USEC_PER_SEC;
}

static bool parse_u64(VMGuestConsole *gc, const char *what, const char *s,
                      uint64_t *v)
{
    g_autoptr(GError) err = NULL;

    if (!qutil_strtou64(s, v, &err)) {
        say(gc, "%s: %s\n", what, err->message);
        return false;
    }
    return true;
}

static bool check_range(VMGuestConsole *gc, const char *cmd, uint64_t addr,
                        uint64_t len)
{
    g_autoptr(GError) err = NULL;

    if (!gc->ram) {
        say(gc, "%s: this machine has no RAM\n", cmd);
        return false;
    }
    if (!vm_ram_check_range(gc->ram, addr, len, &err)) {
        say(gc, "%s: %s\n", cmd, err->message);
        return false;
    }
    return true;
}

static void cmd_help(VMGuestConsole *gc, char **argv)
{
    say(gc,
        "help                 this list\n"
        "uptime               time since the guest started\n"
        "hostname             the guest's name\n"
        "read ADDR LEN        dump guest RAM (at most %d bytes)\n"
        "write ADDR HEX       write bytes given in hex to guest RAM\n"
        "sum ADDR LEN         SHA-256 of a range of guest RAM\n"
        "ADDR and LEN are decimal or 0x hex.\n",
        VM_GUEST_CONSOLE_READ_MAX);
}

static void cmd_uptime(VMGuestConsole *gc, char **argv)
{
    uint64_t s = vm_guest_console_uptime(gc);

    say(gc, "up %" G_GUINT64_FORMAT " second%s\n", s, s == 1 ? "" : "s");
}

static void cmd_hostname(VMGuestConsole *gc, char **argv)
{
    say(gc, "%s\n", gc->hostname);
}

static void cmd_read(VMGuestConsole *gc, char **argv)
{
    uint64_t addr, len;
    const uint8_t *p;

    if (!parse_u64(gc, "read", argv[1], &addr) ||
        !parse_u64(gc, "read", argv[2], &len)) {
        return;
    }
    if (len > VM_GUEST_CONSOLE_READ_MAX) {
        say(gc, "read: at most %d bytes at once\n", VM_GUEST_CONSOLE_READ_MAX);
        return;
    }
    if (!check_range(gc, "read", addr, len)) {
        return;
    }
    p = vm_ram_get_ptr(gc->ram, addr, len, NULL);
    for (uint64_t off = 0; off < len; off += 16) {
        g_autoptr(GString) line = g_string_new(NULL);
        uint64_t n = MIN(16, len - off);

        g_string_append_printf(line,
                               "%016" G_GINT64_MODIFIER "x: ", addr + off);
        for (uint64_t i = 0; i < 16; i++) {
            if (i < n) {
                g_string_append_printf(line, "%02x ", p[off + i]);
            } else {
                g_string_append(line, "   ");
            }
        }
        g_string_append(line, " |");
        for (uint64_t i = 0; i < n; i++) {
            uint8_t c = p[off + i];

            g_string_append_c(line, c >= 0x20 && c < 0x7f ? (char)c : '.');
        }
        say(gc, "%s|\n", line->str);
    }
}

static void cmd_write(VMGuestConsole *gc, char **argv)
{
    const char *hex = argv[2];
    size_t hexlen = strlen(hex);
    g_autofree uint8_t *bytes = NULL;
    g_autoptr(GError) err = NULL;
    uint64_t addr;

    if (!parse_u64(gc, "write", argv[1], &addr)) {
        return;
    }
    if (hexlen % 2) {
        say(gc, "write: give whole bytes: an even number of hex digits\n");
        return;
    }
    bytes = g_malloc(hexlen / 2 + 1);
    for (size_t i = 0; i < hexlen; i += 2) {
        int hi = g_ascii_xdigit_value(hex[i]);
        int lo = g_ascii_xdigit_value(hex[i + 1]);

        if (hi < 0 || lo < 0) {
            say(gc, "write: '%c%c' is not a hex byte\n", hex[i], hex[i + 1]);
            return;
        }
        bytes[i / 2] = (uint8_t)(hi << 4 | lo);
    }
    if (!check_range(gc, "write", addr, hexlen / 2)) {
        return;
    }
    if (!vm_ram_write(gc->ram, addr, bytes, hexlen / 2, &err)) {
        say(gc, "write: %s\n", err->message);
        return;
    }
    say(gc, "wrote %zu byte%s at 0x%" G_GINT64_MODIFIER "x\n", hexlen / 2,
        hexlen == 2 ? "" : "s", addr);
}

static void cmd_sum(VMGuestConsole *gc, char **argv)
{
    g_autoptr(GChecksum) sha = g_checksum_new(G_CHECKSUM_SHA256);
    uint64_t addr, len;
    const uint8_t *p;

    if (!parse_u64(gc, "sum", argv[1], &addr) ||
        !parse_u64(gc, "sum", argv[2], &len)) {
        return;
    }
    if (len > VM_GUEST_CONSOLE_SUM_MAX) {
        say(gc, "sum: at most %llu bytes at once\n",
            (unsigned long long)VM_GUEST_CONSOLE_SUM_MAX);
        return;
    }
    if (!check_range(gc, "sum", addr, len)) {
        return;
    }
    p = vm_ram_get_ptr(gc->ram, addr, len, NULL);
    for (uint64_t off = 0; off < len; off += 1u << 20) {
        g_checksum_update(sha, p + off, (gssize)MIN(1u << 20, len - off));
    }
    say(gc, "sha256 0x%" G_GINT64_MODIFIER "x+%" G_GUINT64_FORMAT ": %s\n",
        addr, len, g_checksum_get_string(sha));
}

typedef struct GuestCommand {
    const char *name;
    int argc; /* words after the name */
    const char *usage;
    void (*run)(VMGuestConsole *gc, char **argv);
} GuestCommand;

static const GuestCommand commands[] = {
    { "help", 0, "help", cmd_help },
    { "uptime", 0, "uptime", cmd_uptime },
    { "hostname", 0, "hostname", cmd_hostname },
    { "read", 2, "read ADDR LEN", cmd_read },
    { "write", 2, "write ADDR HEX", cmd_write },
    { "sum", 2, "sum ADDR LEN", cmd_sum },
};

static void rl_line(void *opaque, const char *line)
{
    VMGuestConsole *gc = opaque;
    g_auto(GStrv) argv = g_strsplit_set(line, " \t", -1);
    g_autoptr(GPtrArray) words = g_ptr_array_new();

    for (char **w = argv; *w; w++) {
        if (**w) {
            g_ptr_array_add(words, *w);
        }
    }
    g_ptr_array_add(words, NULL);
    if (words->len > 1) {
        const char *name = g_ptr_array_index(words, 0);
        size_t i;

        for (i = 0; i < G_N_ELEMENTS(commands); i++) {
            if (g_str_equal(commands[i].name, name)) {
                break;
            }
        }
        if (i == G_N_ELEMENTS(commands)) {
            g_autofree char *shown = qutil_str_abbrev(name, 32);

            say(gc, "%s: command not found; type 'help'\n", shown);
        } else if ((int)words->len - 2 != commands[i].argc) {
            say(gc, "usage: %s\n", commands[i].usage);
        } else {
            commands[i].run(gc, (char **)words->pdata);
        }
    }
    vm_readline_show_prompt(gc->rl);
}

VMGuestConsole *vm_guest_console_new(unsigned port, const char *hostname,
                                     VMRam *ram, VMGuestConsoleOutput output,
                                     void *opaque)
{
    VMGuestConsole *gc = g_new0(VMGuestConsole, 1);
    const char *name = hostname && *hostname ? hostname : "qio-vm";

    gc->port = port;
    gc->hostname = g_utf8_make_valid(
        name, MIN(strlen(name), VM_GUEST_CONSOLE_HOSTNAME_MAX));
    gc->prompt = g_strdup_printf("%s$ ", gc->hostname);
    gc->ram = ram;
    gc->output = output;
    gc->opaque = opaque;
    gc->clock = g_get_monotonic_time;
    gc->start_us = gc->clock();
    gc->scrollback = g_byte_array_new();
    gc->rl = vm_readline_new(gc->prompt, rl_output, rl_line, gc);
    return gc;
}

void vm_guest_console_free(VMGuestConsole *gc)
{
    if (!gc) {
        return;
    }
    vm_readline_free(gc->rl);
    g_byte_array_unref(gc->scrollback);
    g_free(gc->hostname);
    g_free(gc->prompt);
    g_free(gc);
}

void vm_guest_console_set_clock(VMGuestConsole *gc, VMGuestConsoleClock clock)
{
    gc->clock = clock;
    gc->start_us = clock();
    gc->uptime_before = 0;
}

void vm_guest_console_open(VMGuestConsole *gc)
{
    say(gc, "qio-vm guest console on ttyS%u - type 'help' for commands\n",
        gc->port);
    vm_readline_show_prompt(gc->rl);
}

void vm_guest_console_input(VMGuestConsole *gc, const uint8_t *buf, size_t len)
{
    vm_readline_feed(gc->rl, buf, len);
}

GBytes *vm_guest_console_get_scrollback(VMGuestConsole *gc)
{
    return g_bytes_new(gc->scrollback->data, gc->scrollback->len);
}

/* ---- Device state ----------------------------------------------------- */

static void put_be32(GByteArray *out, uint32_t v)
{
    uint8_t b[4] = { v >> 24, v >> 16, v >> 8, v };

    g_byte_array_append(out, b, 4);
}

static void put_be64(GByteArray *out, uint64_t v)
{
    put_be32(out, (uint32_t)(v >> 32));
    put_be32(out, (uint32_t)v);
}

void vm_guest_console_save(VMGuestConsole *gc, GByteArray *out)
{
    int64_t now = gc->clock();
    uint64_t run = now > gc->start_us ? (uint64_t)(now - gc->start_us) : 0;

    g_byte_array_append(out, (const guint8 *)VM_GUEST_CONSOLE_MAGIC, 4);
    put_be32(out, VM_GUEST_CONSOLE_VERSION);
    put_be32(out, gc->port);
    put_be32(out, (uint32_t)strlen(gc->hostname));
    g_byte_array_append(out, (const guint8 *)gc->hostname,
                        (guint)strlen(gc->hostname));
    put_be64(out, gc->uptime_before + run);
    put_be32(out, gc->scrollback->len);
    g_byte_array_append(out, gc->scrollback->data, gc->scrollback->len);
    vm_readline_save(gc->rl, out);
}

bool vm_guest_console_restore(VMGuestConsole *gc, const uint8_t *buf,
                              size_t len, GError **errp)
{
    g_autofree char *hostname = NULL;
    g_autofree char *prompt = NULL;
    VMReadline *rl;
    const uint8_t *magic, *name, *scroll;
    uint32_t version, port, name_len, scroll_len;
    uint64_t uptime;
    QUtilWire w;

    qutil_wire_init(&w, buf, len);
    if (!qutil_wire_get_span(&w, &magic, 4) ||
        memcmp(magic, VM_GUEST_CONSOLE_MAGIC, 4)) {
        g_set_error(errp, VM_ERROR, VM_ERROR_INVALID_VALUE,
                    "guest console state: not a guest console state blob");
        return false;
    }
    if (!qutil_wire_get_be32(&w, &version) ||
        version != VM_GUEST_CONSOLE_VERSION) {
        g_set_error(errp, VM_ERROR, VM_ERROR_INVALID_VALUE,
                    "guest console state: version %u not supported (this "
                    "qio-vm reads version %d)",
                    version, VM_GUEST_CONSOLE_VERSION);
        return false;
    }
    qutil_wire_get_be32(&w, &port);
    qutil_wire_get_be32(&w, &name_len);
    if (!qutil_wire_ok(&w) || port >= VM_GUEST_CONSOLE_PORTS || name_len == 0 ||
        name_len > VM_GUEST_CONSOLE_HOSTNAME_MAX ||
        !qutil_wire_get_span(&w, &name, name_len) ||
        memchr(name, '\0', name_len) ||
        !g_utf8_validate((const char *)name, name_len, NULL)) {
        goto bad;
    }
    hostname = g_strndup((const char *)name, name_len);
    qutil_wire_get_be64(&w, &uptime);
    qutil_wire_get_be32(&w, &scroll_len);
    if (!qutil_wire_ok(&w) || scroll_len > VM_GUEST_CONSOLE_SCROLLBACK ||
        !qutil_wire_get_span(&w, &scroll, scroll_len)) {
        goto bad;
    }
    prompt = g_strdup_printf("%s$ ", hostname);
    rl = vm_readline_new(prompt, rl_output, rl_line, gc);
    if (!vm_readline_restore(rl, &w) || !qutil_wire_at_end(&w)) {
        vm_readline_free(rl);
        goto bad;
    }
    /* All checked: now replace the state. */
    vm_readline_free(gc->rl);
    g_free(gc->prompt);
    g_free(gc->hostname);
    gc->hostname = g_steal_pointer(&hostname);
    gc->prompt = g_steal_pointer(&prompt);
    gc->rl = rl;
    gc->port = port;
    gc->uptime_before = uptime;
    gc->start_us = gc->clock();
    g_byte_array_set_size(gc->scrollback, 0);
    g_byte_array_append(gc->scrollback, scroll, scroll_len);
    return true;

bad:
    g_set_error(errp, VM_ERROR, VM_ERROR_INVALID_VALUE,
                "guest console state: malformed or truncated");
    return false;
}
