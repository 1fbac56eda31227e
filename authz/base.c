/*
 * The abstract authorization object (see include/authz/base.h): the
 * public wrappers that dispatch to the class, turn a plain "no" into an
 * error that names the object and the identity, and log each decision;
 * plus the registration of every authz type.
 *
 * Consumers look the object up by id at every check instead of keeping a
 * pointer, and hold a reference only for the duration of the check, so
 * that deleting or replacing an authz object never leaves a server
 * asking a dead one.
 */
#include "authz/base.h"

#include "authz/list.h"
#include "authz/listfile.h"
#include "authz/simple.h"
#include "qom/object.h"

GQuark qauthz_error_quark(void)
{
    return g_quark_from_static_string("qauthz-error-quark");
}

G_DEFINE_ABSTRACT_TYPE(QAuthZ, qauthz, G_TYPE_OBJECT)

static void qauthz_class_init(QAuthZClass *klass)
{
}

static void qauthz_init(QAuthZ *authz)
{
}

const char *qauthz_get_name(QAuthZ *authz)
{
    const char *id;

    g_return_val_if_fail(QAUTHZ_IS_AUTHZ(authz), NULL);
    id = qom_object_get_id(G_OBJECT(authz));
    return id ? id : "(unnamed)";
}

bool qauthz_is_allowed(QAuthZ *authz, const char *identity, GError **errp)
{
    QAuthZClass *klass;
    GError *local = NULL;
    bool allowed;

    g_return_val_if_fail(QAUTHZ_IS_AUTHZ(authz), false);
    g_return_val_if_fail(identity != NULL, false);
    klass = QAUTHZ_AUTHZ_GET_CLASS(authz);
    g_return_val_if_fail(klass->is_allowed != NULL, false);

    allowed = klass->is_allowed(authz, identity, &local);
    if (allowed) {
        /* An error with a "yes" is a bug in the class; "yes" wins. */
        g_clear_error(&local);
        g_debug("authorization object '%s' allows '%s'", qauthz_get_name(authz),
                identity);
        return true;
    }
    g_debug("authorization object '%s' denies '%s'%s%s", qauthz_get_name(authz),
            identity, local ? ": " : "", local ? local->message : "");
    if (local) {
        g_propagate_prefixed_error(errp, local,
                                   "authorization object '%s' denies "
                                   "access to '%s': ",
                                   qauthz_get_name(authz), identity);
    } else {
        g_set_error(errp, QAUTHZ_ERROR, QAUTHZ_ERROR_DENIED,
                    "authorization object '%s' denies access to '%s'",
                    qauthz_get_name(authz), identity);
    }
    return false;
}

bool qauthz_is_allowed_by_id(const char *authzid, const char *identity,
                             GError **errp)
{
    g_autoptr(QAuthZ) authz = NULL;
    g_autoptr(GError) local = NULL;

    g_return_val_if_fail(authzid != NULL && identity != NULL, false);

    authz = qom_object_ref_typed(authzid, QAUTHZ_TYPE_AUTHZ, &local);
    if (!authz) {
        bool wrong_type =
            g_error_matches(local, QOM_ERROR, QOM_ERROR_WRONG_TYPE);
        g_debug("authorization object '%s' unusable, denying '%s': %s", authzid,
                identity, local->message);
        g_set_error(errp, QAUTHZ_ERROR,
                    wrong_type ? QAUTHZ_ERROR_WRONG_TYPE
                               : QAUTHZ_ERROR_NOT_FOUND,
                    "%s; denying access to '%s' (create an authz-simple, "
                    "authz-list or authz-listfile object with id '%s')",
                    local->message, identity, authzid);
        return false;
    }
    return qauthz_is_allowed(authz, identity, errp);
}

void qauthz_register_types(void)
{
    qom_type_set_description(QAUTHZ_TYPE_AUTHZ, "an authorization object");
    qom_type_register("authz-simple", QAUTHZ_TYPE_SIMPLE);
    qom_type_set_description(QAUTHZ_TYPE_SIMPLE,
                             "an authorization object allowing one "
                             "identity");
    qom_type_register("authz-list", QAUTHZ_TYPE_LIST);
    qom_type_set_description(QAUTHZ_TYPE_LIST,
                             "an authorization object with ordered "
                             "rules");
    qom_type_register("authz-listfile", QAUTHZ_TYPE_LIST_FILE);
    qom_type_set_description(QAUTHZ_TYPE_LIST_FILE,
                             "an authorization object with rules in "
                             "a JSON file");
}
