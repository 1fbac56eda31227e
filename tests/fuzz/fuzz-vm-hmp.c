/*
 * Fuzz target: what an HMP client or a serial-line peer types into
 * qio-vm (vm/readline.c, vm/hmp-parse.c against the real HMP command
 * table, vm/guest-console.c), and the guest console's state blob as a
 * migration stream would bring it (vm_guest_console_restore()).
 *
 * The first byte picks the mode, the rest is the input:
 *   bits 0-3  piece size for the line editor: 0 the whole input in one
 *             call, else 1..15 bytes per call
 *   bit 4     the input goes to the guest console (on 64 KiB of RAM)
 *             instead of the HMP line editor and parser
 *   bit 5     the input is a guest console state blob: restore it, and
 *             when it is accepted, save it again: the two blobs must be
 *             equal (the clock is frozen)
 *
 * HMP lines are parsed, not run (quit, pmemsave and object_add would act
 * on the process and the file system).  Besides crashes, sanitizer
 * reports and leaks, the target aborts when a parse error is not in
 * VM_ERROR, when the line editor's line grows past its bound, or when a
 * restored blob does not save back to itself.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vm/guest-console.h"
#include "vm/hmp.h"
#include "vm/readline.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void sink(void *opaque, const char *buf, size_t len)
{
}

/* The editor being fed, for the line callback's prompt. */
static VMReadline *cur_rl;

static void hmp_line(void *opaque, const char *line)
{
    size_t n;
    const VMHmpCommand *table = vm_hmp_commands(&n);
    GError *err = NULL;
    char *topic = NULL;
    VMHmpParsed *p = vm_hmp_parse(table, n, line, &topic, &err);

    if (p) {
        const VMHmpCommand *cmd = vm_hmp_parsed_command(p);

        if (cmd) {
            /* Reading every argument must be safe. */
            (void)vm_hmp_arg_str(p, "filename");
            (void)vm_hmp_arg_int(p, "val");
        }
        vm_hmp_parsed_free(p);
    } else if (!err || err->domain != VM_ERROR) {
        abort();
    }
    g_clear_error(&err);
    g_free(topic);
    vm_readline_show_prompt(cur_rl);
}

static int64_t frozen_clock(void)
{
    return 1000000;
}

static void feed_pieces(const uint8_t *data, size_t size, size_t piece,
                        void (*feed)(void *, const uint8_t *, size_t),
                        void *obj)
{
    if (!piece) {
        feed(obj, data, size);
        return;
    }
    for (size_t off = 0; off < size; off += piece) {
        feed(obj, data + off, MIN(piece, size - off));
    }
}

static void feed_rl(void *obj, const uint8_t *buf, size_t len)
{
    vm_readline_feed(obj, buf, len);
    if (strlen(vm_readline_get_line(obj)) > VM_READLINE_LINE_MAX) {
        abort();
    }
}

static void feed_gc(void *obj, const uint8_t *buf, size_t len)
{
    vm_guest_console_input(obj, buf, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t mode;
    size_t piece;

    if (size < 1) {
        return 0;
    }
    mode = data[0];
    piece = mode & 0x0f;
    data++;
    size--;

    if (mode & 0x20) {
        VMGuestConsole *gc = vm_guest_console_new(0, "fuzz", NULL, sink, NULL);
        GError *err = NULL;

        vm_guest_console_set_clock(gc, frozen_clock);
        if (vm_guest_console_restore(gc, data, size, &err)) {
            GByteArray *again = g_byte_array_new();

            vm_guest_console_save(gc, again);
            if (again->len != size || memcmp(again->data, data, size)) {
                abort();
            }
            g_byte_array_unref(again);
        } else if (err->domain != VM_ERROR) {
            abort();
        }
        g_clear_error(&err);
        vm_guest_console_free(gc);
    } else if (mode & 0x10) {
        VMRam *ram = vm_ram_new_anon(64 * 1024, false, NULL);
        VMGuestConsole *gc = vm_guest_console_new(0, "fuzz", ram, sink, NULL);

        vm_guest_console_set_clock(gc, frozen_clock);
        vm_guest_console_open(gc);
        feed_pieces(data, size, piece, feed_gc, gc);
        vm_guest_console_free(gc);
        vm_ram_free(ram);
    } else {
        cur_rl = vm_readline_new("(qemu) ", sink, hmp_line, NULL);
        feed_pieces(data, size, piece, feed_rl, cur_rl);
        vm_readline_free(cur_rl);
        cur_rl = NULL;
    }
    return 0;
}
