/*
 * The input visitor over a json-glib tree: QMP arguments as they arrived,
 * or the tree qapi_keyval_tree() builds from -chardev style options (then
 * every scalar is a string, converted here the way QEMU converts them).
 *
 * The tree is hostile.  Each object keeps the set of its members no visit
 * has asked for yet, so that visit_check_struct() can refuse extras; an
 * array is walked element by element as the generated loop asks, so its
 * length costs one allocation per element actually present.  Nothing here
 * recurses on the input: the depth of a walk is the depth of the schema.
 *
 * Messages name a member by its path from the top, as QEMU does:
 * "backend.data.addr" in an object, "rules[1].match" in a JSON array and
 * "rules.1.match" in keyval, where indices are keys.
 */
#include "qapi/json-visitor.h"
#include "qapi/keyval-visitor.h"
#include "qapi/visitor-impl.h"

#include <math.h>
#include <string.h>

#include "util/cutils.h"

typedef struct InputFrame {
    JsonNode *node;        /* an object or an array, borrowed from the tree */
    char *path;            /* how messages name it; NULL for the root */
    GHashTable *unvisited; /* object: names of members not asked for yet */
    guint index;           /* array: the element being visited */
} InputFrame;

typedef struct InputVisitor {
    QapiVisitor base;
    JsonNode *root;
    GPtrArray *stack; /* of InputFrame */
} InputVisitor;

static InputVisitor *to_iv(QapiVisitor *v)
{
    return (InputVisitor *)v;
}

static InputFrame *top(InputVisitor *iv)
{
    if (iv->stack->len == 0) {
        return NULL;
    }
    return g_ptr_array_index(iv->stack, iv->stack->len - 1);
}

static void frame_free(gpointer p)
{
    InputFrame *f = p;

    g_free(f->path);
    if (f->unvisited) {
        g_hash_table_destroy(f->unvisited);
    }
    g_free(f);
}

static char *input_full_name(QapiVisitor *v, const char *name)
{
    InputVisitor *iv = to_iv(v);
    InputFrame *f = top(iv);

    if (!f) {
        return g_strdup(name ? name : "null");
    }
    if (JSON_NODE_HOLDS_ARRAY(f->node)) {
        if (v->scalars_are_strings) {
            return g_strdup_printf("%s.%u", f->path ? f->path : "", f->index);
        }
        return g_strdup_printf("%s[%u]", f->path ? f->path : "", f->index);
    }
    if (!f->path) {
        return g_strdup(name ? name : "null");
    }
    return g_strdup_printf("%s.%s", f->path, name ? name : "null");
}

/*
 * The value called @name in the current object, the current element of
 * the current array, or the root.  @consume marks an object member as
 * visited.
 */
static JsonNode *lookup(InputVisitor *iv, const char *name, bool consume)
{
    InputFrame *f = top(iv);

    if (!f) {
        return iv->root;
    }
    if (JSON_NODE_HOLDS_ARRAY(f->node)) {
        JsonArray *a = json_node_get_array(f->node);

        if (f->index >= json_array_get_length(a)) {
            return NULL;
        }
        return json_array_get_element(a, f->index);
    }
    g_assert(name);
    JsonObject *o = json_node_get_object(f->node);
    JsonNode *n = json_object_get_member(o, name);

    if (n && consume) {
        g_hash_table_remove(f->unvisited, name);
    }
    return n;
}

static void set_missing(QapiVisitor *v, const char *name, GError **errp)
{
    g_autofree char *full = input_full_name(v, name);

    g_set_error(errp, QAPI_ERROR, QAPI_ERROR_MISSING_PARAMETER,
                "Parameter '%s' is missing", full);
}

static void set_type_error(QapiVisitor *v, const char *name,
                           const char *expected, GError **errp)
{
    g_autofree char *full = input_full_name(v, name);

    g_set_error(errp, QAPI_ERROR, QAPI_ERROR_INVALID_TYPE,
                "Invalid parameter type for '%s', expected: %s", full,
                expected);
}

static void set_value_error(QapiVisitor *v, const char *name,
                            const char *expected, GError **errp)
{
    g_autofree char *full = input_full_name(v, name);

    g_set_error(errp, QAPI_ERROR, QAPI_ERROR_INVALID_VALUE,
                "Parameter '%s' expects %s", full, expected);
}

/* The value @name, which must be there; NULL with @errp set if not. */
static JsonNode *get(InputVisitor *iv, const char *name, GError **errp)
{
    JsonNode *n = lookup(iv, name, true);

    if (!n) {
        set_missing(&iv->base, name, errp);
    }
    return n;
}

static GType value_type(JsonNode *n)
{
    return JSON_NODE_HOLDS_VALUE(n) ? json_node_get_value_type(n)
                                    : G_TYPE_INVALID;
}

/* The string of a keyval scalar; NULL with a type error if not one. */
static const char *get_keyval_str(InputVisitor *iv, const char *name,
                                  const char *expected, GError **errp)
{
    JsonNode *n = get(iv, name, errp);

    if (!n) {
        return NULL;
    }
    if (value_type(n) != G_TYPE_STRING) {
        set_type_error(&iv->base, name, expected, errp);
        return NULL;
    }
    return json_node_get_string(n);
}

/* ---- Objects and arrays ---------------------------------------------- */

static void push(InputVisitor *iv, const char *name, JsonNode *node)
{
    InputFrame *f = g_new0(InputFrame, 1);

    f->node = node;
    if (top(iv)) {
        f->path = input_full_name(&iv->base, name);
    }
    if (JSON_NODE_HOLDS_OBJECT(node)) {
        JsonObject *o = json_node_get_object(node);
        GList *names = json_object_get_members(o);

        f->unvisited = g_hash_table_new(g_str_hash, g_str_equal);
        for (GList *l = names; l; l = l->next) {
            g_hash_table_add(f->unvisited, l->data);
        }
        g_list_free(names);
    }
    g_ptr_array_add(iv->stack, f);
}

static void pop(InputVisitor *iv)
{
    g_assert(iv->stack->len > 0);
    g_ptr_array_remove_index(iv->stack, iv->stack->len - 1);
}

static bool input_start_struct(QapiVisitor *v, const char *name, void **obj,
                               size_t size, GError **errp)
{
    InputVisitor *iv = to_iv(v);
    JsonNode *n = get(iv, name, errp);

    if (obj) {
        *obj = NULL;
    }
    if (!n) {
        return false;
    }
    if (!JSON_NODE_HOLDS_OBJECT(n)) {
        set_type_error(v, name, "object", errp);
        return false;
    }
    push(iv, name, n);
    if (obj) {
        *obj = g_malloc0(size);
    }
    return true;
}

static bool input_check_struct(QapiVisitor *v, GError **errp)
{
    InputVisitor *iv = to_iv(v);
    InputFrame *f = top(iv);

    g_assert(f && f->unvisited);
    if (g_hash_table_size(f->unvisited) == 0) {
        return true;
    }
    /* Name the first extra member in input order, for a stable message. */
    GList *names = json_object_get_members(json_node_get_object(f->node));
    const char *extra = NULL;

    for (GList *l = names; l && !extra; l = l->next) {
        if (g_hash_table_contains(f->unvisited, l->data)) {
            extra = l->data;
        }
    }
    g_list_free(names);
    g_assert(extra);

    g_autofree char *full = input_full_name(v, extra);
    if (v->scalars_are_strings) {
        /* QEMU's wording for an unknown key of an option string */
        g_set_error(errp, QAPI_ERROR, QAPI_ERROR_UNEXPECTED_PARAMETER,
                    "Invalid parameter '%s'", full);
    } else {
        g_set_error(errp, QAPI_ERROR, QAPI_ERROR_UNEXPECTED_PARAMETER,
                    "Parameter '%s' is unexpected", full);
    }
    return false;
}

static void input_end_struct(QapiVisitor *v, void **obj)
{
    pop(to_iv(v));
}

static bool input_optional(QapiVisitor *v, const char *name, bool *present)
{
    *present = lookup(to_iv(v), name, false) != NULL;
    return *present;
}

static bool input_start_list(QapiVisitor *v, const char *name,
                             GenericList **list, size_t size, GError **errp)
{
    InputVisitor *iv = to_iv(v);
    JsonNode *n = get(iv, name, errp);

    if (list) {
        *list = NULL;
    }
    if (!n) {
        return false;
    }
    if (!JSON_NODE_HOLDS_ARRAY(n)) {
        set_type_error(v, name, "array", errp);
        return false;
    }
    push(iv, name, n);
    if (list && json_array_get_length(json_node_get_array(n)) > 0) {
        *list = g_malloc0(size);
    }
    return true;
}

static GenericList *input_next_list(QapiVisitor *v, GenericList *tail,
                                    size_t size)
{
    InputFrame *f = top(to_iv(v));

    g_assert(f);
    f->index++;
    if (f->index >= json_array_get_length(json_node_get_array(f->node))) {
        return NULL;
    }
    tail->next = g_malloc0(size);
    return tail->next;
}

static void input_end_list(QapiVisitor *v, void **list)
{
    pop(to_iv(v));
}

static bool input_start_alternate(QapiVisitor *v, const char *name,
                                  GenericAlternate **obj, size_t size,
                                  GError **errp)
{
    InputVisitor *iv = to_iv(v);
    JsonNode *n = lookup(iv, name, false);

    *obj = NULL;
    if (!n) {
        set_missing(v, name, errp);
        return false;
    }
    *obj = g_malloc0(size);
    switch (json_node_get_node_type(n)) {
    case JSON_NODE_OBJECT:
        (*obj)->type = QAPI_TYPE_OBJECT;
        break;
    case JSON_NODE_ARRAY:
        (*obj)->type = QAPI_TYPE_ARRAY;
        break;
    case JSON_NODE_NULL:
        (*obj)->type = QAPI_TYPE_NULL;
        break;
    case JSON_NODE_VALUE: {
        GType t = json_node_get_value_type(n);

        if (t == G_TYPE_INT64) {
            (*obj)->type = QAPI_TYPE_INT;
        } else if (t == G_TYPE_DOUBLE) {
            (*obj)->type = QAPI_TYPE_NUMBER;
        } else if (t == G_TYPE_BOOLEAN) {
            (*obj)->type = QAPI_TYPE_BOOL;
        } else {
            (*obj)->type = QAPI_TYPE_STRING;
        }
        break;
    }
    }
    return true;
}

static void input_end_alternate(QapiVisitor *v, void **obj)
{
}

/* ---- Scalars from JSON ------------------------------------------------ */

static bool json_int64(QapiVisitor *v, const char *name, int64_t *obj,
                       GError **errp)
{
    JsonNode *n = get(to_iv(v), name, errp);

    if (!n) {
        return false;
    }
    if (value_type(n) != G_TYPE_INT64) {
        set_type_error(v, name, "integer", errp);
        return false;
    }
    *obj = json_node_get_int(n);
    return true;
}

/*
 * json-glib keeps integers as gint64, so an unsigned value above
 * INT64_MAX cannot arrive here as one.  A negative number is refused
 * (QEMU wraps it around; qio does not turn a typo into a huge count).
 * QEMU words both a wrong type and a bad value of an unsigned member as
 * "Parameter 'x' expects uint64", sizes included; so does qio.
 */
static bool json_uint64(QapiVisitor *v, const char *name, uint64_t *obj,
                        GError **errp)
{
    JsonNode *n = get(to_iv(v), name, errp);

    if (!n) {
        return false;
    }
    if (value_type(n) != G_TYPE_INT64) {
        g_autofree char *full = input_full_name(v, name);

        g_set_error(errp, QAPI_ERROR, QAPI_ERROR_INVALID_TYPE,
                    "Parameter '%s' expects uint64", full);
        return false;
    }
    gint64 value = json_node_get_int(n);
    if (value < 0) {
        set_value_error(v, name, "uint64", errp);
        return false;
    }
    *obj = (uint64_t)value;
    return true;
}

static bool json_bool(QapiVisitor *v, const char *name, bool *obj,
                      GError **errp)
{
    JsonNode *n = get(to_iv(v), name, errp);

    if (!n) {
        return false;
    }
    if (value_type(n) != G_TYPE_BOOLEAN) {
        set_type_error(v, name, "boolean", errp);
        return false;
    }
    *obj = json_node_get_boolean(n);
    return true;
}

static bool input_str(QapiVisitor *v, const char *name, char **obj,
                      GError **errp)
{
    JsonNode *n = get(to_iv(v), name, errp);

    *obj = NULL;
    if (!n) {
        return false;
    }
    if (value_type(n) != G_TYPE_STRING) {
        set_type_error(v, name, "string", errp);
        return false;
    }
    *obj = g_strdup(json_node_get_string(n));
    return true;
}

static bool json_number(QapiVisitor *v, const char *name, double *obj,
                        GError **errp)
{
    JsonNode *n = get(to_iv(v), name, errp);
    GType t;

    if (!n) {
        return false;
    }
    t = value_type(n);
    if (t == G_TYPE_INT64) {
        *obj = (double)json_node_get_int(n);
    } else if (t == G_TYPE_DOUBLE) {
        *obj = json_node_get_double(n);
        if (!isfinite(*obj)) {
            set_value_error(v, name, "a finite number", errp);
            return false;
        }
    } else {
        set_type_error(v, name, "number", errp);
        return false;
    }
    return true;
}

static bool input_any(QapiVisitor *v, const char *name, JsonNode **obj,
                      GError **errp)
{
    JsonNode *n = get(to_iv(v), name, errp);

    *obj = NULL;
    if (!n) {
        return false;
    }
    *obj = json_node_copy(n);
    return true;
}

static bool input_null(QapiVisitor *v, const char *name, GError **errp)
{
    JsonNode *n = get(to_iv(v), name, errp);

    if (!n) {
        return false;
    }
    if (!JSON_NODE_HOLDS_NULL(n)) {
        set_type_error(v, name, "null", errp);
        return false;
    }
    return true;
}

/* ---- Scalars from keyval strings -------------------------------------- */

static bool keyval_int64(QapiVisitor *v, const char *name, int64_t *obj,
                         GError **errp)
{
    const char *s = get_keyval_str(to_iv(v), name, "integer", errp);

    if (!s) {
        return false;
    }
    if (!qutil_strtoi64(s, obj, NULL)) {
        set_value_error(v, name, "an int64 value", errp);
        return false;
    }
    return true;
}

static bool keyval_uint64(QapiVisitor *v, const char *name, uint64_t *obj,
                          GError **errp)
{
    const char *s = get_keyval_str(to_iv(v), name, "integer", errp);

    if (!s) {
        return false;
    }
    if (!qutil_strtou64(s, obj, NULL)) {
        set_value_error(v, name, "a uint64 value", errp);
        return false;
    }
    return true;
}

static bool keyval_size(QapiVisitor *v, const char *name, uint64_t *obj,
                        GError **errp)
{
    const char *s = get_keyval_str(to_iv(v), name, "size", errp);

    if (!s) {
        return false;
    }
    if (!qutil_parse_size(s, obj, NULL)) {
        set_value_error(v, name, "a size value", errp);
        return false;
    }
    return true;
}

static bool keyval_bool(QapiVisitor *v, const char *name, bool *obj,
                        GError **errp)
{
    const char *s = get_keyval_str(to_iv(v), name, "boolean", errp);

    if (!s) {
        return false;
    }
    if (!qutil_parse_bool(s, obj, NULL)) {
        set_value_error(v, name, "'on' or 'off'", errp);
        return false;
    }
    return true;
}

static bool keyval_number(QapiVisitor *v, const char *name, double *obj,
                          GError **errp)
{
    const char *s = get_keyval_str(to_iv(v), name, "number", errp);

    if (!s) {
        return false;
    }
    if (!qutil_strtod(s, obj, NULL)) {
        set_value_error(v, name, "a number", errp);
        return false;
    }
    return true;
}

/* keyval has no null: the empty string stands for it, as in QEMU. */
static bool keyval_null(QapiVisitor *v, const char *name, GError **errp)
{
    const char *s = get_keyval_str(to_iv(v), name, "null", errp);

    if (!s) {
        return false;
    }
    if (*s) {
        set_type_error(v, name, "null", errp);
        return false;
    }
    return true;
}

/* ---- Construction ----------------------------------------------------- */

static void input_free(QapiVisitor *v)
{
    InputVisitor *iv = to_iv(v);

    g_ptr_array_unref(iv->stack);
    json_node_unref(iv->root);
    g_free(iv);
}

static InputVisitor *input_new(JsonNode *root)
{
    InputVisitor *iv = g_new0(InputVisitor, 1);

    g_assert(root);
    iv->base.kind = QAPI_VISITOR_INPUT;
    iv->base.start_struct = input_start_struct;
    iv->base.check_struct = input_check_struct;
    iv->base.end_struct = input_end_struct;
    iv->base.start_list = input_start_list;
    iv->base.next_list = input_next_list;
    iv->base.end_list = input_end_list;
    iv->base.start_alternate = input_start_alternate;
    iv->base.end_alternate = input_end_alternate;
    iv->base.optional = input_optional;
    iv->base.type_str = input_str;
    iv->base.type_any = input_any;
    iv->base.full_name = input_full_name;
    iv->base.free = input_free;
    iv->root = json_node_ref(root);
    iv->stack = g_ptr_array_new_with_free_func(frame_free);
    return iv;
}

QapiVisitor *qapi_json_input_visitor_new(JsonNode *root)
{
    InputVisitor *iv = input_new(root);

    iv->base.type_int64 = json_int64;
    iv->base.type_uint64 = json_uint64;
    iv->base.type_bool = json_bool;
    iv->base.type_number = json_number;
    iv->base.type_null = input_null;
    return &iv->base;
}

QapiVisitor *qapi_keyval_input_visitor_new(JsonNode *tree)
{
    InputVisitor *iv = input_new(tree);

    iv->base.scalars_are_strings = true;
    iv->base.type_int64 = keyval_int64;
    iv->base.type_uint64 = keyval_uint64;
    iv->base.type_size = keyval_size;
    iv->base.type_bool = keyval_bool;
    iv->base.type_number = keyval_number;
    iv->base.type_null = keyval_null;
    return &iv->base;
}
