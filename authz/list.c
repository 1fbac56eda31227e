/*
 * authz-list and its rule sets (see include/authz/list.h).
 *
 * The rules arrive as JSON however the user wrote them: the object layer
 * assembles "rules.N.FIELD" keyval keys into the same JSON array the JSON
 * form gives, and authz-listfile reads a JSON document.  One parser turns
 * that into an immutable, reference-counted QAuthZListRules, checked
 * without locks from any thread; authz-listfile swaps whole sets when its
 * file changes.  Messages name fields the way the keyval form spells
 * them ("rules.1.policy"), which also reads well for JSON users.
 */
#include "authz/list.h"

#include <fnmatch.h>
#include <gio/gio.h>
#include <string.h>

#include "util/cutils.h"

/* Longest piece of user input quoted back in a message. */
#define ECHO_MAX 64

/* ---- Enums ------------------------------------------------------------ */

GType qauthz_list_policy_get_type(void)
{
    static gsize type;
    static const GEnumValue values[] = {
        { QAUTHZ_LIST_POLICY_DENY, "QAUTHZ_LIST_POLICY_DENY", "deny" },
        { QAUTHZ_LIST_POLICY_ALLOW, "QAUTHZ_LIST_POLICY_ALLOW", "allow" },
        { 0, NULL, NULL },
    };

    if (g_once_init_enter(&type)) {
        g_once_init_leave(&type,
                          g_enum_register_static("QAuthZListPolicy", values));
    }
    return type;
}

GType qauthz_list_format_get_type(void)
{
    static gsize type;
    static const GEnumValue values[] = {
        { QAUTHZ_LIST_FORMAT_EXACT, "QAUTHZ_LIST_FORMAT_EXACT", "exact" },
        { QAUTHZ_LIST_FORMAT_GLOB, "QAUTHZ_LIST_FORMAT_GLOB", "glob" },
        { 0, NULL, NULL },
    };

    if (g_once_init_enter(&type)) {
        g_once_init_leave(&type,
                          g_enum_register_static("QAuthZListFormat", values));
    }
    return type;
}

/*
 * The enum value whose nick is the JSON string @node, or -1 with an
 * error naming @where and listing the nicks.
 */
static int parse_enum(GType type, JsonNode *node, const char *where,
                      GError **errp)
{
    g_autoptr(GEnumClass) klass = g_type_class_ref(type);
    GEnumValue *ev =
        g_enum_get_value_by_nick(klass, json_node_get_string(node));
    g_autofree char *shown = NULL;
    g_autoptr(GString) nicks = NULL;

    if (ev) {
        return ev->value;
    }
    shown = qutil_str_abbrev(json_node_get_string(node), ECHO_MAX);
    nicks = g_string_new(NULL);
    for (guint i = 0; i < klass->n_values; i++) {
        g_string_append_printf(nicks, "%s%s", i ? ", " : "",
                               klass->values[i].value_nick);
    }
    g_set_error(errp, QAUTHZ_ERROR, QAUTHZ_ERROR_INVALID_ARGUMENT,
                "%s: '%s' is not one of: %s", where, shown, nicks->str);
    return -1;
}

static bool is_json_string(JsonNode *node)
{
    return JSON_NODE_HOLDS_VALUE(node) &&
           json_node_get_value_type(node) == G_TYPE_STRING;
}

/* ---- Rule sets -------------------------------------------------------- */

typedef struct {
    char *match;
    QAuthZListPolicy policy;
    QAuthZListFormat format;
} Rule;

struct QAuthZListRules {
    gint refcount;
    QAuthZListPolicy policy;
    guint n_rules;
    Rule *rules;
};

QAuthZListRules *qauthz_list_rules_ref(QAuthZListRules *rules)
{
    g_return_val_if_fail(rules != NULL, NULL);
    g_atomic_int_inc(&rules->refcount);
    return rules;
}

void qauthz_list_rules_unref(QAuthZListRules *rules)
{
    if (!rules || !g_atomic_int_dec_and_test(&rules->refcount)) {
        return;
    }
    for (guint i = 0; i < rules->n_rules; i++) {
        g_free(rules->rules[i].match);
    }
    g_free(rules->rules);
    g_free(rules);
}

guint qauthz_list_rules_get_length(QAuthZListRules *rules)
{
    g_return_val_if_fail(rules != NULL, 0);
    return rules->n_rules;
}

/* Parse element @index of the rules array into @rule. */
static bool parse_rule(JsonNode *node, guint index, Rule *rule, GError **errp)
{
    g_autoptr(GList) members = NULL;
    JsonObject *obj;
    JsonNode *match = NULL, *policy = NULL, *format = NULL;
    int value;

    if (!JSON_NODE_HOLDS_OBJECT(node)) {
        g_set_error(errp, QAUTHZ_ERROR, QAUTHZ_ERROR_INVALID_ARGUMENT,
                    "rules.%u: expected a rule, an object with 'match', "
                    "'policy' and optionally 'format'",
                    index);
        return false;
    }
    obj = json_node_get_object(node);
    members = json_object_get_members(obj);
    for (GList *l = members; l; l = l->next) {
        const char *name = l->data;
        JsonNode *member = json_object_get_member(obj, name);
        g_autofree char *shown = qutil_str_abbrev(name, ECHO_MAX);

        if (g_str_equal(name, "match")) {
            match = member;
        } else if (g_str_equal(name, "policy")) {
            policy = member;
        } else if (g_str_equal(name, "format")) {
            format = member;
        } else {
            g_set_error(errp, QAUTHZ_ERROR, QAUTHZ_ERROR_INVALID_ARGUMENT,
                        "rules.%u.%s: unknown field (a rule has match, "
                        "policy and format)",
                        index, shown);
            return false;
        }
        if (!is_json_string(member)) {
            g_set_error(errp, QAUTHZ_ERROR, QAUTHZ_ERROR_INVALID_ARGUMENT,
                        "rules.%u.%s: expected a string", index, shown);
            return false;
        }
    }
    if (!match) {
        g_set_error(errp, QAUTHZ_ERROR, QAUTHZ_ERROR_INVALID_ARGUMENT,
                    "rules.%u: 'match' is missing; give the identity or "
                    "pattern the rule is about",
                    index);
        return false;
    }
    if (!policy) {
        g_set_error(errp, QAUTHZ_ERROR, QAUTHZ_ERROR_INVALID_ARGUMENT,
                    "rules.%u: 'policy' is missing; give allow or deny", index);
        return false;
    }
    {
        g_autofree char *where = g_strdup_printf("rules.%u.policy", index);
        value = parse_enum(QAUTHZ_TYPE_LIST_POLICY, policy, where, errp);
        if (value < 0) {
            return false;
        }
        rule->policy = value;
    }
    rule->format = QAUTHZ_LIST_FORMAT_EXACT;
    if (format) {
        g_autofree char *where = g_strdup_printf("rules.%u.format", index);
        value = parse_enum(QAUTHZ_TYPE_LIST_FORMAT, format, where, errp);
        if (value < 0) {
            return false;
        }
        rule->format = value;
    }
    rule->match = g_strdup(json_node_get_string(match));
    return true;
}

QAuthZListRules *qauthz_list_rules_new(QAuthZListPolicy policy, JsonNode *rules,
                                       GError **errp)
{
    g_autoptr(QAuthZListRules) set = g_new0(QAuthZListRules, 1);
    JsonArray *array;

    set->refcount = 1;
    set->policy = policy;
    if (!rules || JSON_NODE_HOLDS_NULL(rules)) {
        return g_steal_pointer(&set);
    }
    if (!JSON_NODE_HOLDS_ARRAY(rules)) {
        g_set_error(errp, QAUTHZ_ERROR, QAUTHZ_ERROR_INVALID_ARGUMENT,
                    "rules: expected a list of rules (a JSON array, or "
                    "rules.0.match=...,rules.0.policy=... keys)");
        return NULL;
    }
    array = json_node_get_array(rules);
    set->rules = g_new0(Rule, json_array_get_length(array) + 1);
    for (guint i = 0; i < json_array_get_length(array); i++) {
        if (!parse_rule(json_array_get_element(array, i), i, &set->rules[i],
                        errp)) {
            return NULL;
        }
        /* Counted as they are filled, so unref frees exactly these. */
        set->n_rules++;
    }
    return g_steal_pointer(&set);
}

QAuthZListRules *qauthz_list_rules_from_document(JsonNode *root, GError **errp)
{
    g_autoptr(GList) members = NULL;
    JsonObject *obj;
    JsonNode *policy_node = NULL, *rules_node = NULL;
    QAuthZListPolicy policy = QAUTHZ_LIST_POLICY_DENY;

    if (!root || !JSON_NODE_HOLDS_OBJECT(root)) {
        g_set_error(errp, QAUTHZ_ERROR, QAUTHZ_ERROR_INVALID_ARGUMENT,
                    "expected a JSON object with 'policy' and 'rules'");
        return NULL;
    }
    obj = json_node_get_object(root);
    members = json_object_get_members(obj);
    for (GList *l = members; l; l = l->next) {
        const char *name = l->data;

        if (g_str_equal(name, "policy")) {
            policy_node = json_object_get_member(obj, name);
        } else if (g_str_equal(name, "rules")) {
            rules_node = json_object_get_member(obj, name);
        } else {
            g_autofree char *shown = qutil_str_abbrev(name, ECHO_MAX);
            g_set_error(errp, QAUTHZ_ERROR, QAUTHZ_ERROR_INVALID_ARGUMENT,
                        "unknown member '%s' (expected 'policy' and "
                        "'rules')",
                        shown);
            return NULL;
        }
    }
    if (policy_node) {
        int value;
        if (!is_json_string(policy_node)) {
            g_set_error(errp, QAUTHZ_ERROR, QAUTHZ_ERROR_INVALID_ARGUMENT,
                        "policy: expected a string, allow or deny");
            return NULL;
        }
        value =
            parse_enum(QAUTHZ_TYPE_LIST_POLICY, policy_node, "policy", errp);
        if (value < 0) {
            return NULL;
        }
        policy = value;
    }
    return qauthz_list_rules_new(policy, rules_node, errp);
}

QAuthZListPolicy qauthz_list_rules_check(QAuthZListRules *rules,
                                         const char *identity, int *matched)
{
    g_return_val_if_fail(rules != NULL && identity != NULL,
                         QAUTHZ_LIST_POLICY_DENY);

    for (guint i = 0; i < rules->n_rules; i++) {
        const Rule *rule = &rules->rules[i];
        bool hit;

        if (rule->format == QAUTHZ_LIST_FORMAT_GLOB) {
            /* No FNM_PATHNAME: '*' must span the '/' of a DN. */
            hit = fnmatch(rule->match, identity, 0) == 0;
        } else {
            hit = g_str_equal(rule->match, identity);
        }
        if (hit) {
            if (matched) {
                *matched = (int)i;
            }
            return rule->policy;
        }
    }
    if (matched) {
        *matched = -1;
    }
    return rules->policy;
}

/* ---- The authz-list object -------------------------------------------- */

struct _QAuthZList {
    QAuthZ parent;
    QAuthZListPolicy policy;
    JsonNode *rules_json;
    /* Built by init; immutable afterwards. */
    QAuthZListRules *rules;
};

enum {
    PROP_0,
    PROP_POLICY,
    PROP_RULES,
    N_PROPS,
};

static void qauthz_list_initable_iface_init(GInitableIface *iface);

G_DEFINE_TYPE_WITH_CODE(QAuthZList, qauthz_list, QAUTHZ_TYPE_AUTHZ,
                        G_IMPLEMENT_INTERFACE(G_TYPE_INITABLE,
                                              qauthz_list_initable_iface_init))

QAuthZListRules *qauthz_list_get_rules(QAuthZList *authz)
{
    g_return_val_if_fail(QAUTHZ_IS_LIST(authz), NULL);
    g_return_val_if_fail(authz->rules != NULL, NULL);
    return qauthz_list_rules_ref(authz->rules);
}

static bool qauthz_list_is_allowed(QAuthZ *base, const char *identity,
                                   GError **errp)
{
    QAuthZList *authz = QAUTHZ_LIST(base);
    QAuthZListPolicy policy;
    int matched;

    g_return_val_if_fail(authz->rules != NULL, false);
    policy = qauthz_list_rules_check(authz->rules, identity, &matched);
    if (matched >= 0) {
        g_debug("authz-list '%s': '%s' matches rule %d", qauthz_get_name(base),
                identity, matched);
    } else {
        g_debug("authz-list '%s': no rule matches '%s', default policy",
                qauthz_get_name(base), identity);
    }
    return policy == QAUTHZ_LIST_POLICY_ALLOW;
}

static gboolean qauthz_list_initable_init(GInitable *initable,
                                          GCancellable *cancellable,
                                          GError **errp)
{
    QAuthZList *authz = QAUTHZ_LIST(initable);

    if (authz->rules) {
        return TRUE;
    }
    authz->rules =
        qauthz_list_rules_new(authz->policy, authz->rules_json, errp);
    return authz->rules != NULL;
}

static void qauthz_list_initable_iface_init(GInitableIface *iface)
{
    iface->init = qauthz_list_initable_init;
}

static void qauthz_list_set_property(GObject *obj, guint prop_id,
                                     const GValue *value, GParamSpec *pspec)
{
    QAuthZList *authz = QAUTHZ_LIST(obj);

    switch (prop_id) {
    case PROP_POLICY:
        authz->policy = g_value_get_enum(value);
        break;
    case PROP_RULES:
        if (authz->rules_json) {
            json_node_unref(authz->rules_json);
        }
        authz->rules_json = g_value_dup_boxed(value);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, prop_id, pspec);
    }
}

static void qauthz_list_get_property(GObject *obj, guint prop_id, GValue *value,
                                     GParamSpec *pspec)
{
    QAuthZList *authz = QAUTHZ_LIST(obj);

    switch (prop_id) {
    case PROP_POLICY:
        g_value_set_enum(value, authz->policy);
        break;
    case PROP_RULES:
        g_value_set_boxed(value, authz->rules_json);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, prop_id, pspec);
    }
}

static void qauthz_list_finalize(GObject *obj)
{
    QAuthZList *authz = QAUTHZ_LIST(obj);

    if (authz->rules_json) {
        json_node_unref(authz->rules_json);
    }
    qauthz_list_rules_unref(authz->rules);
    G_OBJECT_CLASS(qauthz_list_parent_class)->finalize(obj);
}

static void qauthz_list_class_init(QAuthZListClass *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);
    QAuthZClass *ac = QAUTHZ_AUTHZ_CLASS(klass);
    const GParamFlags flags =
        G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;
    GParamSpec *props[N_PROPS] = { NULL };

    oc->set_property = qauthz_list_set_property;
    oc->get_property = qauthz_list_get_property;
    oc->finalize = qauthz_list_finalize;
    ac->is_allowed = qauthz_list_is_allowed;

    props[PROP_POLICY] = g_param_spec_enum(
        "policy", "Policy", "What identities no rule matches get",
        QAUTHZ_TYPE_LIST_POLICY, QAUTHZ_LIST_POLICY_DENY, flags);
    props[PROP_RULES] = g_param_spec_boxed(
        "rules", "Rules",
        "Ordered rules: rules.N.match=..., rules.N.policy=allow|deny, "
        "rules.N.format=exact|glob",
        JSON_TYPE_NODE, flags);
    g_object_class_install_properties(oc, N_PROPS, props);
}

static void qauthz_list_init(QAuthZList *authz)
{
}
