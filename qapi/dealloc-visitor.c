/*
 * The dealloc visitor: the walk behind every generated qapi_free_X().
 * It frees on the way out, so a struct's members go before the struct and
 * a list node after its element.
 */
#include "qapi/dealloc-visitor.h"
#include "qapi/visitor-impl.h"

static bool dealloc_start_struct(QapiVisitor *v, const char *name, void **obj,
                                 size_t size, GError **errp)
{
    return true;
}

static void dealloc_end_struct(QapiVisitor *v, void **obj)
{
    if (obj) {
        g_free(*obj);
        *obj = NULL;
    }
}

static bool dealloc_start_list(QapiVisitor *v, const char *name,
                               GenericList **list, size_t size, GError **errp)
{
    return true;
}

static GenericList *dealloc_next_list(QapiVisitor *v, GenericList *tail,
                                      size_t size)
{
    GenericList *next = tail->next;

    g_free(tail);
    return next;
}

static void dealloc_end_list(QapiVisitor *v, void **list)
{
    /* Every node went in dealloc_next_list(); the head was the first. */
    *list = NULL;
}

static bool dealloc_start_alternate(QapiVisitor *v, const char *name,
                                    GenericAlternate **obj, size_t size,
                                    GError **errp)
{
    return true;
}

static void dealloc_end_alternate(QapiVisitor *v, void **obj)
{
    g_free(*obj);
    *obj = NULL;
}

static bool dealloc_int64(QapiVisitor *v, const char *name, int64_t *obj,
                          GError **errp)
{
    return true;
}

static bool dealloc_uint64(QapiVisitor *v, const char *name, uint64_t *obj,
                           GError **errp)
{
    return true;
}

static bool dealloc_bool(QapiVisitor *v, const char *name, bool *obj,
                         GError **errp)
{
    return true;
}

static bool dealloc_str(QapiVisitor *v, const char *name, char **obj,
                        GError **errp)
{
    g_free(*obj);
    *obj = NULL;
    return true;
}

static bool dealloc_number(QapiVisitor *v, const char *name, double *obj,
                           GError **errp)
{
    return true;
}

static bool dealloc_any(QapiVisitor *v, const char *name, JsonNode **obj,
                        GError **errp)
{
    if (*obj) {
        json_node_unref(*obj);
        *obj = NULL;
    }
    return true;
}

static void dealloc_free(QapiVisitor *v)
{
    g_free(v);
}

QapiVisitor *qapi_dealloc_visitor_new(void)
{
    QapiVisitor *v = g_new0(QapiVisitor, 1);

    v->kind = QAPI_VISITOR_DEALLOC;
    v->start_struct = dealloc_start_struct;
    v->end_struct = dealloc_end_struct;
    v->start_list = dealloc_start_list;
    v->next_list = dealloc_next_list;
    v->end_list = dealloc_end_list;
    v->start_alternate = dealloc_start_alternate;
    v->end_alternate = dealloc_end_alternate;
    v->type_int64 = dealloc_int64;
    v->type_uint64 = dealloc_uint64;
    v->type_bool = dealloc_bool;
    v->type_str = dealloc_str;
    v->type_number = dealloc_number;
    v->type_any = dealloc_any;
    v->free = dealloc_free;
    return v;
}
