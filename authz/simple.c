/*
 * authz-simple (see include/authz/simple.h): one identity, compared
 * exactly.  The identity is fixed at creation, so checks from any thread
 * need no lock.
 */
#include "authz/simple.h"

#include <gio/gio.h>
#include <string.h>

struct _QAuthZSimple {
    QAuthZ parent;
    char *identity;
};

enum {
    PROP_0,
    PROP_IDENTITY,
    N_PROPS,
};

static void qauthz_simple_initable_iface_init(GInitableIface *iface);

G_DEFINE_TYPE_WITH_CODE(
    QAuthZSimple, qauthz_simple, QAUTHZ_TYPE_AUTHZ,
    G_IMPLEMENT_INTERFACE(G_TYPE_INITABLE, qauthz_simple_initable_iface_init))

const char *qauthz_simple_get_identity(QAuthZSimple *authz)
{
    g_return_val_if_fail(QAUTHZ_IS_SIMPLE(authz), NULL);
    return authz->identity;
}

static bool qauthz_simple_is_allowed(QAuthZ *authz, const char *identity,
                                     GError **errp)
{
    return g_str_equal(QAUTHZ_SIMPLE(authz)->identity, identity);
}

static gboolean qauthz_simple_initable_init(GInitable *initable,
                                            GCancellable *cancellable,
                                            GError **errp)
{
    QAuthZSimple *authz = QAUTHZ_SIMPLE(initable);

    if (!authz->identity) {
        g_set_error(errp, QAUTHZ_ERROR, QAUTHZ_ERROR_INVALID_ARGUMENT,
                    "'identity' is not set; give the one identity to "
                    "allow (for patterns, use authz-list)");
        return FALSE;
    }
    return TRUE;
}

static void qauthz_simple_initable_iface_init(GInitableIface *iface)
{
    iface->init = qauthz_simple_initable_init;
}

static void qauthz_simple_set_property(GObject *obj, guint prop_id,
                                       const GValue *value, GParamSpec *pspec)
{
    QAuthZSimple *authz = QAUTHZ_SIMPLE(obj);

    switch (prop_id) {
    case PROP_IDENTITY:
        g_free(authz->identity);
        authz->identity = g_value_dup_string(value);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, prop_id, pspec);
    }
}

static void qauthz_simple_get_property(GObject *obj, guint prop_id,
                                       GValue *value, GParamSpec *pspec)
{
    QAuthZSimple *authz = QAUTHZ_SIMPLE(obj);

    switch (prop_id) {
    case PROP_IDENTITY:
        g_value_set_string(value, authz->identity);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, prop_id, pspec);
    }
}

static void qauthz_simple_finalize(GObject *obj)
{
    g_free(QAUTHZ_SIMPLE(obj)->identity);
    G_OBJECT_CLASS(qauthz_simple_parent_class)->finalize(obj);
}

static void qauthz_simple_class_init(QAuthZSimpleClass *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);
    QAuthZClass *ac = QAUTHZ_AUTHZ_CLASS(klass);

    oc->set_property = qauthz_simple_set_property;
    oc->get_property = qauthz_simple_get_property;
    oc->finalize = qauthz_simple_finalize;
    ac->is_allowed = qauthz_simple_is_allowed;

    g_object_class_install_property(
        oc, PROP_IDENTITY,
        g_param_spec_string("identity", "Identity", "The one identity allowed",
                            NULL,
                            G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                                G_PARAM_STATIC_STRINGS));
}

static void qauthz_simple_init(QAuthZSimple *authz)
{
}
