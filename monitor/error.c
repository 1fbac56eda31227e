/*
 * monitor's error domain.
 */
#include "monitor/error.h"

/* Spelled out: the formatter would space a dashed G_DEFINE_QUARK name. */
GQuark monitor_error_quark(void)
{
    return g_quark_from_static_string("monitor-error-quark");
}
