/*
 * qio-vm: a QEMU-style process without CPU emulation (guest RAM, serial
 * ports with a built-in guest console, HMP and QMP monitors), with QEMU's
 * command line.  Everything lives in vm/tool.c; docs/qio-vm.md is the
 * manual.
 *
 * Copyright (c) qio contributors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <glib.h>

#include "vm/tool.h"

int main(int argc, char **argv)
{
    return vm_tool_main(argc, argv);
}
