/*
 * The QMP commands qio-vm implements itself, over its machine:
 * query-status, stop, cont, quit, query-name, pmemsave, memsave,
 * human-monitor-command, object-add, object-del and qom-list (their
 * qmp_* functions are declared by the generated qapi-commands-*.h), and
 * the STOP, RESUME and SHUTDOWN events.
 *
 *     VMMachine *m = vm_machine_new(opts, errp);
 *     vm_qmp_set_machine(m);     // the commands act on m; events are sent
 *     ...
 *     vm_qmp_set_machine(NULL);
 *     vm_machine_free(m);
 *
 * Without a machine the commands fail with a GenericError saying so.
 */
#pragma once

#include "vm/machine.h"

G_BEGIN_DECLS

/* The machine the commands act on (NULL: none), and its events. */
void vm_qmp_set_machine(VMMachine *m);

G_END_DECLS
