/*
 * A serial port of a qio-vm machine: its guest console on a chardev.
 * Private to vm/.
 */
#pragma once

#include "vm/guest-console.h"
#include "vm/machine.h"

typedef struct VMSerial VMSerial;

VMSerial *vm_serial_new(VMMachine *m, unsigned index, const char *chardev,
                        GError **errp);
void vm_serial_free(VMSerial *s);

/* The run state changed: input may flow again, a banner may be due. */
void vm_serial_kick(VMSerial *s);

VMGuestConsole *vm_serial_get_console(VMSerial *s);
const char *vm_serial_get_chardev(VMSerial *s);
