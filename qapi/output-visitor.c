/*
 * The output visitor: a generated C object to a new json-glib tree.
 *
 * json-glib holds integers as gint64, so an unsigned value above
 * INT64_MAX is written as a JSON number with a fraction's precision; no
 * schema member of qio carries such values today.
 */
#include "qapi/json-visitor.h"
#include "qapi/visitor-impl.h"

typedef struct OutputVisitor {
    QapiVisitor base;
    JsonNode **result;
    JsonNode *root;
    GPtrArray *stack; /* of JsonNode, borrowed: the containers being filled */
} OutputVisitor;

static OutputVisitor *to_ov(QapiVisitor *v)
{
    return (OutputVisitor *)v;
}

/* Put @node (owned) into the current container, or make it the root. */
static void add(OutputVisitor *ov, const char *name, JsonNode *node)
{
    if (ov->stack->len == 0) {
        g_assert(!ov->root);
        ov->root = node;
        return;
    }
    JsonNode *parent = g_ptr_array_index(ov->stack, ov->stack->len - 1);
    if (JSON_NODE_HOLDS_OBJECT(parent)) {
        g_assert(name);
        json_object_set_member(json_node_get_object(parent), name, node);
    } else {
        json_array_add_element(json_node_get_array(parent), node);
    }
}

static bool output_start_struct(QapiVisitor *v, const char *name, void **obj,
                                size_t size, GError **errp)
{
    OutputVisitor *ov = to_ov(v);
    JsonNode *node = json_node_init_object(json_node_alloc(), NULL);

    json_node_take_object(node, json_object_new());
    add(ov, name, node);
    g_ptr_array_add(ov->stack, node);
    return true;
}

static void output_end_struct(QapiVisitor *v, void **obj)
{
    OutputVisitor *ov = to_ov(v);

    g_ptr_array_remove_index(ov->stack, ov->stack->len - 1);
}

static bool output_start_list(QapiVisitor *v, const char *name,
                              GenericList **list, size_t size, GError **errp)
{
    OutputVisitor *ov = to_ov(v);
    JsonNode *node = json_node_init_array(json_node_alloc(), NULL);

    json_node_take_array(node, json_array_new());
    add(ov, name, node);
    g_ptr_array_add(ov->stack, node);
    return true;
}

static GenericList *output_next_list(QapiVisitor *v, GenericList *tail,
                                     size_t size)
{
    return tail->next;
}

static void output_end_list(QapiVisitor *v, void **list)
{
    OutputVisitor *ov = to_ov(v);

    g_ptr_array_remove_index(ov->stack, ov->stack->len - 1);
}

static bool output_start_alternate(QapiVisitor *v, const char *name,
                                   GenericAlternate **obj, size_t size,
                                   GError **errp)
{
    g_assert(*obj);
    return true;
}

static void output_end_alternate(QapiVisitor *v, void **obj)
{
}

static bool output_int64(QapiVisitor *v, const char *name, int64_t *obj,
                         GError **errp)
{
    add(to_ov(v), name, json_node_init_int(json_node_alloc(), *obj));
    return true;
}

static bool output_uint64(QapiVisitor *v, const char *name, uint64_t *obj,
                          GError **errp)
{
    JsonNode *node;

    if (*obj > (uint64_t)G_MAXINT64) {
        node = json_node_init_double(json_node_alloc(), (double)*obj);
    } else {
        node = json_node_init_int(json_node_alloc(), (gint64)*obj);
    }
    add(to_ov(v), name, node);
    return true;
}

static bool output_bool(QapiVisitor *v, const char *name, bool *obj,
                        GError **errp)
{
    add(to_ov(v), name, json_node_init_boolean(json_node_alloc(), *obj));
    return true;
}

static bool output_str(QapiVisitor *v, const char *name, char **obj,
                       GError **errp)
{
    add(to_ov(v), name,
        json_node_init_string(json_node_alloc(), *obj ? *obj : ""));
    return true;
}

static bool output_number(QapiVisitor *v, const char *name, double *obj,
                          GError **errp)
{
    add(to_ov(v), name, json_node_init_double(json_node_alloc(), *obj));
    return true;
}

static bool output_any(QapiVisitor *v, const char *name, JsonNode **obj,
                       GError **errp)
{
    JsonNode *node =
        *obj ? json_node_copy(*obj) : json_node_init_null(json_node_alloc());

    add(to_ov(v), name, node);
    return true;
}

static bool output_null(QapiVisitor *v, const char *name, GError **errp)
{
    add(to_ov(v), name, json_node_init_null(json_node_alloc()));
    return true;
}

static void output_complete(QapiVisitor *v)
{
    OutputVisitor *ov = to_ov(v);

    g_assert(ov->root && ov->stack->len == 0);
    *ov->result = ov->root;
    ov->root = NULL;
}

static void output_free(QapiVisitor *v)
{
    OutputVisitor *ov = to_ov(v);

    if (ov->root) {
        json_node_unref(ov->root);
    }
    g_ptr_array_unref(ov->stack);
    g_free(ov);
}

QapiVisitor *qapi_json_output_visitor_new(JsonNode **result)
{
    OutputVisitor *ov = g_new0(OutputVisitor, 1);

    g_assert(result);
    ov->base.kind = QAPI_VISITOR_OUTPUT;
    ov->base.start_struct = output_start_struct;
    ov->base.end_struct = output_end_struct;
    ov->base.start_list = output_start_list;
    ov->base.next_list = output_next_list;
    ov->base.end_list = output_end_list;
    ov->base.start_alternate = output_start_alternate;
    ov->base.end_alternate = output_end_alternate;
    ov->base.type_int64 = output_int64;
    ov->base.type_uint64 = output_uint64;
    ov->base.type_bool = output_bool;
    ov->base.type_str = output_str;
    ov->base.type_number = output_number;
    ov->base.type_any = output_any;
    ov->base.type_null = output_null;
    ov->base.complete = output_complete;
    ov->base.free = output_free;
    ov->result = result;
    ov->stack = g_ptr_array_new();
    return &ov->base;
}
