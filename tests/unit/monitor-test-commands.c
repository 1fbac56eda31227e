/*
 * The command implementations the monitor tests need besides the
 * monitor's own: the control module's generated marshallers are linked
 * into the tests, and quit belongs to the program (vm/), so the tests
 * give it a stand-in that records the call.
 */
#include "qapi/qapi-commands-control.h"

int monitor_test_quit_calls;

void qmp_quit(GError **errp)
{
    monitor_test_quit_calls++;
}
