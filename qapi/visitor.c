/*
 * The visitor core: argument checks and dispatch to the visitor's table,
 * and the scalar types built on its few primitives (sized integers are
 * range-checked 64-bit ones, enums are strings).
 *
 * The range errors use QEMU's wording, "Parameter 'x' expects uint8", and
 * name the member without its path, as QEMU does.
 */
#include "qapi/visitor-impl.h"

#include <string.h>

const char *qapi_enum_lookup(const QEnumLookup *lookup, int val)
{
    g_assert(val >= 0 && val < lookup->size);
    return lookup->array[val];
}

int qapi_enum_parse(const QEnumLookup *lookup, const char *name, int def,
                    GError **errp)
{
    if (!name) {
        return def;
    }
    for (int i = 0; i < lookup->size; i++) {
        if (strcmp(lookup->array[i], name) == 0) {
            return i;
        }
    }
    g_set_error(errp, QAPI_ERROR, QAPI_ERROR_INVALID_VALUE,
                "Parameter 'null' does not accept value '%s'", name);
    return -1;
}

bool visit_is_input(QapiVisitor *v)
{
    return v->kind == QAPI_VISITOR_INPUT;
}

bool visit_is_dealloc(QapiVisitor *v)
{
    return v->kind == QAPI_VISITOR_DEALLOC;
}

bool visit_scalars_are_strings(QapiVisitor *v)
{
    return v->scalars_are_strings;
}

void visit_complete(QapiVisitor *v)
{
    if (v->complete) {
        v->complete(v);
    }
}

void visit_free(QapiVisitor *v)
{
    if (v) {
        v->free(v);
    }
}

char *visit_full_name(QapiVisitor *v, const char *name)
{
    if (v->full_name) {
        return v->full_name(v, name);
    }
    return g_strdup(name ? name : "null");
}

bool visit_start_struct(QapiVisitor *v, const char *name, void **obj,
                        size_t size, GError **errp)
{
    g_assert(!obj || size);
    return v->start_struct(v, name, obj, size, errp);
}

bool visit_check_struct(QapiVisitor *v, GError **errp)
{
    return v->check_struct ? v->check_struct(v, errp) : true;
}

void visit_end_struct(QapiVisitor *v, void **obj)
{
    v->end_struct(v, obj);
}

bool visit_optional(QapiVisitor *v, const char *name, bool *present)
{
    if (v->optional) {
        v->optional(v, name, present);
    }
    return *present;
}

bool visit_start_list(QapiVisitor *v, const char *name, GenericList **list,
                      size_t size, GError **errp)
{
    g_assert(size >= sizeof(GenericList));
    return v->start_list(v, name, list, size, errp);
}

GenericList *visit_next_list(QapiVisitor *v, GenericList *tail, size_t size)
{
    return v->next_list(v, tail, size);
}

bool visit_check_list(QapiVisitor *v, GError **errp)
{
    return v->check_list ? v->check_list(v, errp) : true;
}

void visit_end_list(QapiVisitor *v, void **list)
{
    v->end_list(v, list);
}

bool visit_start_alternate(QapiVisitor *v, const char *name,
                           GenericAlternate **obj, size_t size, GError **errp)
{
    g_assert(obj && size >= sizeof(GenericAlternate));
    return v->start_alternate(v, name, obj, size, errp);
}

void visit_end_alternate(QapiVisitor *v, void **obj)
{
    v->end_alternate(v, obj);
}

/* ---- Integers ---------------------------------------------------------- */

static bool out_of_range(const char *name, const char *type, GError **errp)
{
    g_set_error(errp, QAPI_ERROR, QAPI_ERROR_INVALID_VALUE,
                "Parameter '%s' expects %s", name ? name : "null", type);
    return false;
}

static bool visit_signed(QapiVisitor *v, const char *name, int64_t *value,
                         int64_t min, int64_t max, const char *type,
                         GError **errp)
{
    if (!v->type_int64(v, name, value, errp)) {
        return false;
    }
    if (v->kind == QAPI_VISITOR_INPUT && (*value < min || *value > max)) {
        return out_of_range(name, type, errp);
    }
    return true;
}

static bool visit_unsigned(QapiVisitor *v, const char *name, uint64_t *value,
                           uint64_t max, const char *type, GError **errp)
{
    GError *err = NULL;

    if (!v->type_uint64(v, name, value, &err)) {
        /* JSON's negative numbers: name the member's own type */
        if (!v->scalars_are_strings &&
            g_error_matches(err, QAPI_ERROR, QAPI_ERROR_INVALID_VALUE)) {
            g_clear_error(&err);
            return out_of_range(name, type, errp);
        }
        g_propagate_error(errp, err);
        return false;
    }
    if (v->kind == QAPI_VISITOR_INPUT && *value > max) {
        return out_of_range(name, type, errp);
    }
    return true;
}

/* One function per C type: the value goes through a 64-bit temporary. */
#define VISIT_SIGNED(bits)                                                     \
    bool visit_type_int##bits(QapiVisitor *v, const char *name,                \
                              int##bits##_t *obj, GError **errp)               \
    {                                                                          \
        int64_t value = *obj;                                                  \
        if (!visit_signed(v, name, &value, INT##bits##_MIN, INT##bits##_MAX,   \
                          "int" #bits, errp)) {                                \
            return false;                                                      \
        }                                                                      \
        *obj = (int##bits##_t)value;                                           \
        return true;                                                           \
    }
#define VISIT_UNSIGNED(bits)                                                   \
    bool visit_type_uint##bits(QapiVisitor *v, const char *name,               \
                               uint##bits##_t *obj, GError **errp)             \
    {                                                                          \
        uint64_t value = *obj;                                                 \
        if (!visit_unsigned(v, name, &value, UINT##bits##_MAX, "uint" #bits,   \
                            errp)) {                                           \
            return false;                                                      \
        }                                                                      \
        *obj = (uint##bits##_t)value;                                          \
        return true;                                                           \
    }

VISIT_SIGNED(8)
VISIT_SIGNED(16)
VISIT_SIGNED(32)
VISIT_UNSIGNED(8)
VISIT_UNSIGNED(16)
VISIT_UNSIGNED(32)

bool visit_type_int(QapiVisitor *v, const char *name, int64_t *obj,
                    GError **errp)
{
    return v->type_int64(v, name, obj, errp);
}

bool visit_type_int64(QapiVisitor *v, const char *name, int64_t *obj,
                      GError **errp)
{
    return v->type_int64(v, name, obj, errp);
}

bool visit_type_uint64(QapiVisitor *v, const char *name, uint64_t *obj,
                       GError **errp)
{
    return v->type_uint64(v, name, obj, errp);
}

bool visit_type_size(QapiVisitor *v, const char *name, uint64_t *obj,
                     GError **errp)
{
    if (v->type_size) {
        return v->type_size(v, name, obj, errp);
    }
    return v->type_uint64(v, name, obj, errp);
}

/* ---- Other scalars ----------------------------------------------------- */

bool visit_type_bool(QapiVisitor *v, const char *name, bool *obj, GError **errp)
{
    return v->type_bool(v, name, obj, errp);
}

bool visit_type_str(QapiVisitor *v, const char *name, char **obj, GError **errp)
{
    bool ok = v->type_str(v, name, obj, errp);

    g_assert(!(v->kind == QAPI_VISITOR_INPUT) || ok == (*obj != NULL));
    return ok;
}

bool visit_type_number(QapiVisitor *v, const char *name, double *obj,
                       GError **errp)
{
    return v->type_number(v, name, obj, errp);
}

bool visit_type_any(QapiVisitor *v, const char *name, JsonNode **obj,
                    GError **errp)
{
    return v->type_any(v, name, obj, errp);
}

bool visit_type_null(QapiVisitor *v, const char *name, GError **errp)
{
    return v->type_null ? v->type_null(v, name, errp) : true;
}

bool visit_type_enum(QapiVisitor *v, const char *name, int *obj,
                     const QEnumLookup *lookup, GError **errp)
{
    switch (v->kind) {
    case QAPI_VISITOR_INPUT: {
        g_autofree char *str = NULL;

        if (!v->type_str(v, name, &str, errp)) {
            return false;
        }
        for (int i = 0; i < lookup->size; i++) {
            if (strcmp(lookup->array[i], str) == 0) {
                *obj = i;
                return true;
            }
        }
        g_set_error(errp, QAPI_ERROR, QAPI_ERROR_INVALID_VALUE,
                    "Parameter '%s' does not accept value '%s'",
                    name ? name : "null", str);
        return false;
    }
    case QAPI_VISITOR_OUTPUT: {
        /* A value outside the enum is a programmer's mistake. */
        char *str = (char *)qapi_enum_lookup(lookup, *obj);

        return v->type_str(v, name, &str, errp);
    }
    case QAPI_VISITOR_DEALLOC:
        return true;
    }
    g_assert_not_reached();
}
