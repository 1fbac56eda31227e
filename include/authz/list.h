/*
 * authz-list: an ordered list of rules and a default policy.  Each rule
 * matches identities exactly or by a glob pattern and allows or denies
 * them; the first rule that matches decides, and an identity no rule
 * matches gets the default policy.
 *
 *   --object authz-list,id=auth0,policy=deny,\
 *            rules.0.match=CN=mallory*,rules.0.format=glob,\
 *            rules.0.policy=deny,\
 *            rules.1.match=*O=Example*,rules.1.format=glob,\
 *            rules.1.policy=allow
 *   --object '{"qom-type": "authz-list", "id": "auth0", "policy": "deny",
 *              "rules": [{"match": "*O=Example*", "policy": "allow",
 *                         "format": "glob"}]}'
 *
 * A rule has three fields: match (required), policy (allow|deny,
 * required) and format (exact|glob, default exact).  Glob patterns are
 * fnmatch(3) patterns without FNM_PATHNAME, so '*' also matches the '/'
 * and ',' inside distinguished names; '\' quotes the next character.
 *
 * The rule set (QAuthZListRules) is also the content of an
 * authz-listfile's file, so its parser and matcher are public here.
 */
#pragma once

#include <json-glib/json-glib.h>

#include "authz/base.h"

G_BEGIN_DECLS

/* What a rule, or the list's default, does: policy=allow|deny. */
typedef enum {
    QAUTHZ_LIST_POLICY_DENY,
    QAUTHZ_LIST_POLICY_ALLOW,
} QAuthZListPolicy;

GType qauthz_list_policy_get_type(void);
#define QAUTHZ_TYPE_LIST_POLICY (qauthz_list_policy_get_type())

/* How a rule's match is compared: format=exact|glob. */
typedef enum {
    QAUTHZ_LIST_FORMAT_EXACT,
    QAUTHZ_LIST_FORMAT_GLOB,
} QAuthZListFormat;

GType qauthz_list_format_get_type(void);
#define QAUTHZ_TYPE_LIST_FORMAT (qauthz_list_format_get_type())

/* ---- Rule sets -------------------------------------------------------- */

/* An immutable, reference-counted default policy plus ordered rules. */
typedef struct QAuthZListRules QAuthZListRules;

/*
 * Build a rule set from @rules, a JSON array of rule objects (NULL for
 * none), as the "rules" property or a rules file gives it.  Errors are
 * QAUTHZ_ERROR_INVALID_ARGUMENT and name the offending field the way the
 * keyval form spells it: "rules.1.policy: 'maybe' is not one of: deny,
 * allow", "rules.0: 'match' is missing", "rules.2.mtch: unknown field".
 */
QAuthZListRules *qauthz_list_rules_new(QAuthZListPolicy policy, JsonNode *rules,
                                       GError **errp);

/*
 * Build a rule set from the JSON document of an authz-listfile:
 * {"policy": "deny", "rules": [...]}; both members are optional (policy
 * defaults to deny), any other member is an error.
 */
QAuthZListRules *qauthz_list_rules_from_document(JsonNode *root, GError **errp);

QAuthZListRules *qauthz_list_rules_ref(QAuthZListRules *rules);
void qauthz_list_rules_unref(QAuthZListRules *rules);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QAuthZListRules, qauthz_list_rules_unref)

/* How many rules the set has. */
guint qauthz_list_rules_get_length(QAuthZListRules *rules);

/*
 * Decide for @identity: the policy of the first matching rule, else the
 * default.  *@matched (when not NULL) is set to the index of that rule,
 * or -1 when the default applied.
 */
QAuthZListPolicy qauthz_list_rules_check(QAuthZListRules *rules,
                                         const char *identity, int *matched);

/* ---- The authz-list object -------------------------------------------- */

/*
 *   policy  allow | deny (default deny): for identities no rule matches
 *   rules   the rules, as rules.N.FIELD keys or a JSON array
 */
#define QAUTHZ_TYPE_LIST (qauthz_list_get_type())
G_DECLARE_FINAL_TYPE(QAuthZList, qauthz_list, QAUTHZ, LIST, QAuthZ)

/* The rule set in force, with a new reference. */
QAuthZListRules *qauthz_list_get_rules(QAuthZList *authz);

G_END_DECLS
