/*
 * The qom schema against the registered user-creatable types; see
 * qom-schema-check.h.  Read through the introspection data, so that what
 * query-qmp-schema tells a client is what object-add accepts.
 */
#include "qom-schema-check.h"

#include <stdbool.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "qapi/qapi-introspect.h"
#include "qom/object.h"

static JsonNode *schema;

static JsonObject *entity(const char *name)
{
    JsonArray *all = json_node_get_array(schema);

    for (guint i = 0; i < json_array_get_length(all); i++) {
        JsonObject *o = json_array_get_object_element(all, i);

        if (strcmp(json_object_get_string_member(o, "name"), name) == 0) {
            return o;
        }
    }
    return NULL;
}

static JsonObject *object_options(void)
{
    JsonObject *cmd = entity("object-add");

    g_assert(cmd);
    JsonObject *opts = entity(json_object_get_string_member(cmd, "arg-type"));
    g_assert(opts);
    g_assert_cmpstr(json_object_get_string_member(opts, "tag"), ==, "qom-type");
    return opts;
}

/* Check one member against its property; NULL when they agree. */
static char *compare_type(const char *qom_type, GParamSpec *pspec,
                          const char *schema_type)
{
    GType vt = G_PARAM_SPEC_VALUE_TYPE(pspec);
    JsonObject *t = entity(schema_type);
    const char *meta =
        t ? json_object_get_string_member(t, "meta-type") : "missing";

    if (vt == G_TYPE_STRING) {
        return strcmp(schema_type, "str") == 0
                   ? NULL
                   : g_strdup_printf("%s.%s: a string property, schema "
                                     "type %s",
                                     qom_type, pspec->name, schema_type);
    }
    if (vt == G_TYPE_BOOLEAN) {
        return strcmp(schema_type, "bool") == 0
                   ? NULL
                   : g_strdup_printf("%s.%s: a boolean property, schema "
                                     "type %s",
                                     qom_type, pspec->name, schema_type);
    }
    if (vt == G_TYPE_INT || vt == G_TYPE_UINT || vt == G_TYPE_INT64 ||
        vt == G_TYPE_UINT64) {
        return strcmp(schema_type, "int") == 0
                   ? NULL
                   : g_strdup_printf("%s.%s: an integer property, schema "
                                     "type %s",
                                     qom_type, pspec->name, schema_type);
    }
    if (G_TYPE_IS_ENUM(vt)) {
        if (strcmp(meta, "enum") != 0) {
            return g_strdup_printf("%s.%s: an enum property, schema type "
                                   "%s is a %s",
                                   qom_type, pspec->name, schema_type, meta);
        }
        g_autoptr(GEnumClass) klass = g_type_class_ref(vt);
        JsonArray *values = json_object_get_array_member(t, "values");
        if (json_array_get_length(values) != klass->n_values) {
            return g_strdup_printf("%s.%s: %u values, the schema has %u",
                                   qom_type, pspec->name, klass->n_values,
                                   json_array_get_length(values));
        }
        for (guint i = 0; i < klass->n_values; i++) {
            const char *nick = klass->values[i].value_nick;
            bool found = false;

            for (guint j = 0; j < json_array_get_length(values); j++) {
                found |=
                    strcmp(json_array_get_string_element(values, j), nick) == 0;
            }
            if (!found) {
                return g_strdup_printf("%s.%s: value %s is not in the "
                                       "schema",
                                       qom_type, pspec->name, nick);
            }
        }
        return NULL;
    }
    if (vt == JSON_TYPE_NODE) {
        /* structured options, such as authz-list's rules */
        return strcmp(meta, "array") == 0 || strcmp(meta, "object") == 0
                   ? NULL
                   : g_strdup_printf("%s.%s: a JSON property, schema type "
                                     "%s is a %s",
                                     qom_type, pspec->name, schema_type, meta);
    }
    return g_strdup_printf("%s.%s: property of type %s not compared", qom_type,
                           pspec->name, g_type_name(vt));
}

/* Problems with @qom_type, appended to @problems. */
static void compare(const char *qom_type, JsonObject *branch, GString *problems)
{
    GType type = qom_type_lookup(qom_type);
    g_autoptr(GHashTable) members = g_hash_table_new(g_str_hash, g_str_equal);
    JsonArray *list = json_object_get_array_member(branch, "members");

    g_assert(type != G_TYPE_INVALID);
    for (guint i = 0; i < json_array_get_length(list); i++) {
        JsonObject *m = json_array_get_object_element(list, i);

        g_hash_table_insert(members,
                            (char *)json_object_get_string_member(m, "name"),
                            (char *)json_object_get_string_member(m, "type"));
    }

    g_autoptr(GTypeClass) klass = g_type_class_ref(type);
    guint n = 0;
    g_autofree GParamSpec **pspecs =
        g_object_class_list_properties(G_OBJECT_CLASS(klass), &n);
    guint settable = 0;
    for (guint i = 0; i < n; i++) {
        if (!qom_param_spec_is_settable(pspecs[i])) {
            continue;
        }
        settable++;
        const char *schema_type = g_hash_table_lookup(members, pspecs[i]->name);
        if (!schema_type) {
            g_string_append_printf(problems,
                                   "%s: property %s is not in the schema\n",
                                   qom_type, pspecs[i]->name);
            continue;
        }
        g_autofree char *p = compare_type(qom_type, pspecs[i], schema_type);
        if (p) {
            g_string_append_printf(problems, "%s\n", p);
        }
    }
    GHashTableIter iter;
    gpointer key;
    g_hash_table_iter_init(&iter, members);
    while (g_hash_table_iter_next(&iter, &key, NULL)) {
        GParamSpec *p =
            g_object_class_find_property(G_OBJECT_CLASS(klass), key);

        if (!p || !qom_param_spec_is_settable(p)) {
            g_string_append_printf(problems,
                                   "%s: schema member %s is no settable "
                                   "property\n",
                                   qom_type, (const char *)key);
        }
    }
    g_assert(settable > 0 || json_array_get_length(list) == 0 ||
             problems->len > 0);
}

static bool listed(const char *const *names, const char *name)
{
    for (; names && *names; names++) {
        if (strcmp(*names, name) == 0) {
            return true;
        }
    }
    return false;
}

guint qom_schema_check(const char *const *not_here, GString *problems)
{
    g_autoptr(GError) err = NULL;
    guint compared = 0;

    schema = json_from_string(qapi_introspect_json, &err);
    g_assert(schema);

    JsonArray *variants =
        json_object_get_array_member(object_options(), "variants");
    for (guint i = 0; i < json_array_get_length(variants); i++) {
        JsonObject *v = json_array_get_object_element(variants, i);
        const char *qom_type = json_object_get_string_member(v, "case");
        JsonObject *branch = entity(json_object_get_string_member(v, "type"));

        g_assert(branch);
        if (listed(not_here, qom_type)) {
            continue;
        }
        if (qom_type_lookup(qom_type) == G_TYPE_INVALID) {
            g_string_append_printf(
                problems, "%s: in the schema, not registered\n", qom_type);
            continue;
        }
        compare(qom_type, branch, problems);
        compared++;
    }

    /* every registered type that options can create is in the schema */
    g_auto(GStrv) names = qom_type_list(G_TYPE_OBJECT, false);
    for (char **n = names; n && *n; n++) {
        bool found = false;

        for (guint i = 0; i < json_array_get_length(variants); i++) {
            JsonObject *v = json_array_get_object_element(variants, i);

            found |= strcmp(json_object_get_string_member(v, "case"), *n) == 0;
        }
        if (!found) {
            g_string_append_printf(
                problems, "%s: registered, not in ObjectOptions\n", *n);
        }
    }
    json_node_unref(schema);
    schema = NULL;
    return compared;
}
