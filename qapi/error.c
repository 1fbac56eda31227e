/*
 * qapi's error domain and the mapping from GError to QMP error class.
 */
#include "qapi/error.h"

GQuark qapi_error_quark(void)
{
    return g_quark_from_static_string("qapi-error-quark");
}

const char *qapi_error_class(const GError *err)
{
    g_return_val_if_fail(err != NULL, "GenericError");
    if (err->domain != QAPI_ERROR) {
        return "GenericError";
    }
    switch (err->code) {
    case QAPI_ERROR_COMMAND_NOT_FOUND:
        return "CommandNotFound";
    case QAPI_ERROR_DEVICE_NOT_ACTIVE:
        return "DeviceNotActive";
    case QAPI_ERROR_DEVICE_NOT_FOUND:
        return "DeviceNotFound";
    case QAPI_ERROR_KVM_MISSING_CAP:
        return "KVMMissingCap";
    default:
        return "GenericError";
    }
}
