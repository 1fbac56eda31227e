/*
 * From flat key=value pairs to the tree the input visitor walks.
 *
 * "addr.type=inet,addr.port=9000,rules.0.match=a" becomes
 * {"addr": {"type": "inet", "port": "9000"}, "rules": [{"match": "a"}]}.
 * The pairs are hostile (a command line, or a QMP string in HMP): a list
 * index is never used to size anything.  An object whose keys are all
 * decimal numbers is a list only if they are exactly 0 .. n-1, so a key
 * such as "x.4294967295" costs what any other key costs and then fails.
 * Depth is bounded by the key length limit of util/keyval.c.
 */
#include "qapi/keyval-visitor.h"

#include <string.h>

#include "util/keyval.h"

static void bad_keys(GError **errp, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void bad_keys(GError **errp, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error_literal(errp, QAPI_ERROR, QAPI_ERROR_BAD_KEYS, msg);
}

/* Put @value at the dotted @key under @root. */
static bool put(JsonObject *root, const char *key, const char *value,
                GError **errp)
{
    g_auto(GStrv) parts = g_strsplit(key, ".", -1);
    JsonObject *obj = root;
    guint n = g_strv_length(parts);
    g_autoptr(GString) prefix = g_string_new(NULL);

    for (guint i = 0; i < n; i++) {
        const char *part = parts[i];
        JsonNode *existing;

        if (!*part) {
            bad_keys(errp, "Invalid parameter '%s'", key);
            return false;
        }
        if (i > 0) {
            g_string_append_c(prefix, '.');
        }
        g_string_append(prefix, part);
        existing = json_object_get_member(obj, part);
        if (i + 1 == n) {
            if (existing) {
                /* a.b=1 after a.b.c=2, or a key given twice */
                bad_keys(errp, "Parameters '%s.*' used inconsistently",
                         prefix->str);
                return false;
            }
            json_object_set_string_member(obj, part, value);
            return true;
        }
        if (!existing) {
            JsonObject *child = json_object_new();

            json_object_set_object_member(obj, part, child);
            obj = child;
        } else if (JSON_NODE_HOLDS_OBJECT(existing)) {
            obj = json_node_get_object(existing);
        } else {
            /* a.b.c=2 after a.b=1 */
            bad_keys(errp, "Parameters '%s.*' used inconsistently",
                     prefix->str);
            return false;
        }
    }
    g_assert_not_reached();
}

/*
 * A list index: "0", or digits without a leading zero; -1 if not one.
 * Indices too large to be real saturate, and fail as a gap later.
 */
static gint64 index_of(const char *key)
{
    gint64 value = 0;

    if (!g_ascii_isdigit(key[0]) || (key[0] == '0' && key[1])) {
        return -1;
    }
    for (const char *p = key; *p; p++) {
        if (!g_ascii_isdigit(*p)) {
            return -1;
        }
        if (value < G_MAXINT32) {
            value = value * 10 + (*p - '0');
        }
    }
    return value;
}

/*
 * Replace every object of @node whose keys are list indices by an array,
 * bottom up.  @path names @node in messages.
 */
static JsonNode *listify(JsonNode *node, const char *path, GError **errp)
{
    if (!JSON_NODE_HOLDS_OBJECT(node)) {
        return json_node_ref(node);
    }
    JsonObject *obj = json_node_get_object(node);
    GList *names = json_object_get_members(obj);
    guint n = g_list_length(names);
    guint indices = 0;
    JsonNode *result = NULL;

    for (GList *l = names; l; l = l->next) {
        if (index_of(l->data) >= 0) {
            indices++;
        }
    }
    if (indices > 0 && indices < n) {
        bad_keys(errp, "Parameters '%s%s*' used inconsistently", path,
                 *path ? "." : "");
        goto out;
    }
    if (indices > 0) {
        /* n distinct indices in 0..n-1 cover it exactly. */
        g_autofree JsonNode **slots = g_new0(JsonNode *, n);
        JsonArray *array;

        for (GList *l = names; l; l = l->next) {
            gint64 i = index_of(l->data);

            if (i < (gint64)n) {
                slots[i] = json_object_get_member(obj, l->data);
            }
        }
        for (guint i = 0; i < n; i++) {
            if (!slots[i]) {
                bad_keys(errp, "Parameter '%s%s%u' missing", path,
                         *path ? "." : "", i);
                goto out;
            }
        }
        array = json_array_sized_new(n);
        for (guint i = 0; i < n; i++) {
            g_autofree char *sub =
                g_strdup_printf("%s%s%u", path, *path ? "." : "", i);
            JsonNode *child = listify(slots[i], sub, errp);

            if (!child) {
                json_array_unref(array);
                goto out;
            }
            json_array_add_element(array, child);
        }
        result = json_node_init_array(json_node_alloc(), array);
        json_array_unref(array);
        goto out;
    }

    JsonObject *copy = json_object_new();
    for (GList *l = names; l; l = l->next) {
        g_autofree char *sub = g_strdup_printf("%s%s%s", path, *path ? "." : "",
                                               (const char *)l->data);
        JsonNode *child =
            listify(json_object_get_member(obj, l->data), sub, errp);

        if (!child) {
            json_object_unref(copy);
            goto out;
        }
        json_object_set_member(copy, l->data, child);
    }
    result = json_node_init_object(json_node_alloc(), copy);
    json_object_unref(copy);
out:
    g_list_free(names);
    return result;
}

JsonNode *qapi_keyval_tree(GPtrArray *pairs, GError **errp)
{
    g_autoptr(JsonObject) flat = json_object_new();

    for (guint i = 0; i < pairs->len; i++) {
        QUtilKeyvalPair *pair = g_ptr_array_index(pairs, i);

        if (!put(flat, pair->key, pair->value, errp)) {
            return NULL;
        }
    }
    g_autoptr(JsonNode) node = json_node_init_object(json_node_alloc(), flat);
    return listify(node, "", errp);
}

QapiVisitor *qapi_keyval_input_visitor_new_str(const char *params,
                                               const char *implied_key,
                                               GError **errp)
{
    g_autoptr(GPtrArray) pairs =
        qutil_keyval_parse(params, implied_key, NULL, errp);

    if (!pairs) {
        return NULL;
    }
    g_autoptr(JsonNode) tree = qapi_keyval_tree(pairs, errp);
    if (!tree) {
        return NULL;
    }
    return qapi_keyval_input_visitor_new(tree);
}
