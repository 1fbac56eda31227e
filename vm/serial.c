/*
 * A serial port: the guest console behind a terminal frontend.  The guest
 * only runs while the machine runs, so input waits in the chardev (and
 * the peer's buffers) while it is paused or in prelaunch, and a client
 * that connected before the first cont gets its banner when the guest
 * starts.
 */
#include "vm/serial.h"

#include "vm/term.h"

struct VMSerial {
    VMMachine *machine;
    char *chardev;
    VMGuestConsole *console;
    VMTerm *term;
    bool banner_due;
};

static bool running(VMSerial *s)
{
    return vm_run_state_is_running(vm_machine_get_run_state(s->machine));
}

static void serial_output(void *opaque, const char *buf, size_t len)
{
    VMSerial *s = opaque;

    vm_term_write(s->term, buf, len);
}

static void serial_opened(void *opaque)
{
    VMSerial *s = opaque;

    if (running(s)) {
        vm_guest_console_open(s->console);
    } else {
        s->banner_due = true;
    }
}

static void serial_closed(void *opaque)
{
    ((VMSerial *)opaque)->banner_due = false;
}

static void serial_input(void *opaque, const uint8_t *buf, size_t len)
{
    VMSerial *s = opaque;

    vm_guest_console_input(s->console, buf, len);
}

static bool serial_may_read(void *opaque)
{
    return running(opaque);
}

static const VMTermOps serial_ops = {
    .opened = serial_opened,
    .closed = serial_closed,
    .input = serial_input,
    .may_read = serial_may_read,
};

VMSerial *vm_serial_new(VMMachine *m, unsigned index, const char *chardev,
                        GError **errp)
{
    QIOChardev *chr = qio_chardev_find(chardev);
    VMSerial *s;

    if (!chr) {
        g_set_error(errp, VM_ERROR, VM_ERROR_NOT_FOUND,
                    "serial port %u: chardev '%s' not found; create it "
                    "with -chardev ...,id=%s",
                    index, chardev, chardev);
        return NULL;
    }
    s = g_new0(VMSerial, 1);
    s->machine = m;
    s->chardev = g_strdup(chardev);
    s->console = vm_guest_console_new(index, vm_machine_get_name(m),
                                      vm_machine_get_ram(m), serial_output, s);
    s->term = vm_term_new(chr, &serial_ops, s, errp);
    if (!s->term) {
        g_prefix_error(errp, "serial port %u: ", index);
        vm_serial_free(s);
        return NULL;
    }
    vm_term_start(s->term);
    return s;
}

void vm_serial_free(VMSerial *s)
{
    if (!s) {
        return;
    }
    vm_term_free(s->term);
    vm_guest_console_free(s->console);
    g_free(s->chardev);
    g_free(s);
}

void vm_serial_kick(VMSerial *s)
{
    if (s->banner_due && running(s)) {
        s->banner_due = false;
        vm_guest_console_open(s->console);
    }
    vm_term_kick(s->term);
}

VMGuestConsole *vm_serial_get_console(VMSerial *s)
{
    return s->console;
}

const char *vm_serial_get_chardev(VMSerial *s)
{
    return s->chardev;
}
