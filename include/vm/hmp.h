/*
 * The HMP monitor of qio-vm: QEMU's human monitor on a chardev.
 *
 *     -mon chardev=m0,mode=readline      -monitor
 * unix:/run/hmp,server=on,wait=off
 *
 * On each connection it prints
 *
 *     qio-vm X.Y.Z monitor - type 'help' for more information
 *     (qemu)
 *
 * and runs the lines typed, with QEMU's names and argument syntax: help,
 * info version|status|name|chardev|qom-tree, object_add, object_del,
 * chardev-add, chardev-remove, stop, cont, quit, pmemsave, memsave.
 * Output lines end in CR LF.  An unknown command answers
 * "unknown command: 'X'"; a failed one "Error: MESSAGE".
 */
#pragma once

#include <glib.h>

#include "vm/hmp-parse.h"
#include "vm/machine.h"

G_BEGIN_DECLS

#define VM_HMP_PROMPT "(qemu) "

typedef struct VMHmp VMHmp;

/* An HMP monitor for @m on the chardev @chardev (which must exist). */
VMHmp *vm_hmp_new(VMMachine *m, const char *chardev, GError **errp);
void vm_hmp_free(VMHmp *hmp);

/*
 * Run one command line and return what it printed, lines ending in CR LF
 * (human-monitor-command).  Never NULL.
 */
char *vm_hmp_execute(VMMachine *m, const char *line);

/* The command table (for tests and the fuzz target). */
const VMHmpCommand *vm_hmp_commands(size_t *n);

/*
 * How chardev-add creates a chardev from its keyval argument
 * ("socket,id=c1,path=/tmp/s,server=on,wait=off"); set by the program
 * from the chardev layer's command-line parser.  Without one, chardev-add
 * fails.
 */
typedef bool (*VMHmpChardevAdd)(const char *args, GError **errp);
void vm_hmp_set_chardev_add(VMHmpChardevAdd fn);

G_END_DECLS
