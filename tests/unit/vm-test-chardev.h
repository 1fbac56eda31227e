/*
 * A chardev backend for vm/ tests: what the frontend writes is captured,
 * up to a room the test sets (to play a peer that stops reading), and the
 * test injects input and events as a peer would.
 */
#pragma once

#include "chardev/char.h"

G_BEGIN_DECLS

#define VM_TYPE_TEST_CHARDEV (vm_test_chardev_get_type())
G_DECLARE_FINAL_TYPE(VMTestChardev, vm_test_chardev, VM, TEST_CHARDEV,
                     QIOChardev)

/* A registered test chardev @id (borrowed from the registry). */
QIOChardev *vm_test_chardev_new(const char *id);

/* What the frontend wrote so far (borrowed); clear with truncate. */
GString *vm_test_chardev_output(QIOChardev *chr);

/* How many more bytes writes may take; G_MAXSIZE by default. */
void vm_test_chardev_set_room(QIOChardev *chr, size_t room);

/*
 * Offer @s to the frontend as a peer would, taking only what can_read
 * allows; returns the number of bytes taken.
 */
size_t vm_test_chardev_type(QIOChardev *chr, const char *s);

G_END_DECLS
