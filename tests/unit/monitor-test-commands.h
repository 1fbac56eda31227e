/*
 * The generated command table the monitor tests dispatch through: the
 * control, misc and introspect modules, with stand-ins for what belongs
 * to qio-vm (quit, human-monitor-command, pmemsave, memsave).
 */
#pragma once

#include "qapi/qmp-registry.h"

/* Times qmp_quit() ran. */
extern int monitor_test_quit_calls;

/* Register control, misc and introspect in @cmds. */
void monitor_test_register_commands(QmpCommandList *cmds);
