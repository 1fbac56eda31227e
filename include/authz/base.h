/*
 * QAuthZ: authorization objects, which answer one question for a server:
 * may this identity (an x509 distinguished name, a PSK or SASL user name)
 * use the service?
 *
 *   qio-nbd --object authz-simple,id=auth0,identity=CN=laptop,O=Example \
 *           --tls-creds tls0 --tls-authz auth0
 *   qio-nbd --object authz-list,id=auth0,policy=deny,\
 *                    rules.0.match=*O=Example*,rules.0.format=glob,\
 *                    rules.0.policy=allow ...
 *   qio-nbd --object authz-listfile,id=auth0,filename=/etc/qio/authz.json
 *
 * The abstract base holds the one virtual method, is_allowed; the kinds
 * are authz-simple (one identity, include/authz/simple.h), authz-list
 * (ordered rules, include/authz/list.h) and authz-listfile (the same rules
 * in a JSON file that is re-read when it changes,
 * include/authz/listfile.h).  Consumers do not hold the object: they keep
 * its id and ask qauthz_is_allowed_by_id() at each check, so that a
 * replaced object takes effect for the next connection and a deleted one
 * denies everyone.
 *
 * Every check may run on any thread: the objects are immutable after
 * creation, except authz-listfile, which swaps its rules under a lock.
 * Decisions are logged at debug level (G_MESSAGES_DEBUG=all shows them).
 */
#pragma once

#include <glib-object.h>
#include <stdbool.h>

G_BEGIN_DECLS

/*
 * The authorization layer's error domain.  Codes are stable: callers
 * (the TLS session, NBD, the monitor) match on them, not on text.
 */
#define QAUTHZ_ERROR (qauthz_error_quark())
GQuark qauthz_error_quark(void);

typedef enum {
    QAUTHZ_ERROR_FAILED,           /* anything not listed below */
    QAUTHZ_ERROR_DENIED,           /* the policy denies the identity */
    QAUTHZ_ERROR_NOT_FOUND,        /* no object with the authz id */
    QAUTHZ_ERROR_WRONG_TYPE,       /* the id names a non-authz object */
    QAUTHZ_ERROR_INVALID_ARGUMENT, /* a bad property or rule */
    QAUTHZ_ERROR_FILE,             /* a rules file cannot be read */
    QAUTHZ_ERROR_PARSE,            /* a rules file is not valid JSON */
} QAuthZErrorCode;

#define QAUTHZ_TYPE_AUTHZ (qauthz_get_type())
G_DECLARE_DERIVABLE_TYPE(QAuthZ, qauthz, QAUTHZ, AUTHZ, GObject)

struct _QAuthZClass {
    GObjectClass parent_class;

    /*
     * Return true when @identity is allowed.  Return false to deny; set
     * @errp only when the decision could not be made normally (the
     * wrapper below reports a plain denial itself).  Called from any
     * thread.
     */
    bool (*is_allowed)(QAuthZ *authz, const char *identity, GError **errp);
};

/*
 * Ask @authz about @identity.  Returns true when allowed.  A denial
 * returns false with QAUTHZ_ERROR_DENIED ("authorization object 'auth0'
 * denies access to 'CN=mallory'") or with the subclass's own error.
 */
bool qauthz_is_allowed(QAuthZ *authz, const char *identity, GError **errp);

/*
 * As qauthz_is_allowed() for the object named @authzid, looked up now:
 *
 *   --object authz-simple,id=auth0,identity=CN=laptop ... --tls-authz auth0
 *
 * No object @authzid denies with QAUTHZ_ERROR_NOT_FOUND, and an object
 * that is not an authorization object denies with QAUTHZ_ERROR_WRONG_TYPE;
 * both messages name the id.  Returns true only when allowed.
 */
bool qauthz_is_allowed_by_id(const char *authzid, const char *identity,
                             GError **errp);

/*
 * The id of @authz for messages: its object id, or "(unnamed)" for one
 * made without the object layer.
 */
const char *qauthz_get_name(QAuthZ *authz);

/*
 * Register authz-simple, authz-list and authz-listfile with the object
 * layer, and describe the abstract base as "an authorization object" for
 * lookups that find something else.  Idempotent.
 */
void qauthz_register_types(void);

G_END_DECLS
