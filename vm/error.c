/*
 * The vm layer's error domain.  The quark's name is spelled out (see
 * docs/devel/style.md on why not G_DEFINE_QUARK).
 */
#include "vm/error.h"

GQuark vm_error_quark(void)
{
    return g_quark_from_static_string("vm-error-quark");
}
