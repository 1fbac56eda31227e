/*
 * The visitor: one walk over a C object that either fills it from input,
 * writes it out, or frees it.
 *
 * The generated visit_type_X() functions (qapi/qapi-visit-MODULE.h in the
 * build tree) describe each schema type once, as a sequence of calls to the
 * functions below; the visitor they are given decides what the walk does:
 *
 *   - an input visitor (JSON in include/qapi/json-visitor.h, keyval in
 *     include/qapi/keyval-visitor.h) allocates the object and fills it,
 *     checking every member against the schema;
 *   - an output visitor (include/qapi/json-visitor.h) turns it into JSON;
 *   - the dealloc visitor (include/qapi/dealloc-visitor.h) frees it; the
 *     generated qapi_free_X() functions are that walk.
 *
 * Parsing QMP arguments, reading -chardev options and freeing a
 * ChardevBackend are therefore the same generated code:
 *
 *     QapiVisitor *v = qapi_json_input_visitor_new(node);
 *     ChardevBackend *backend = NULL;
 *     bool ok = visit_type_ChardevBackend(v, NULL, &backend, errp);
 *     visit_free(v);
 *     ...
 *     qapi_free_ChardevBackend(backend);
 *
 * An input visit that fails leaves *obj NULL and frees whatever it had
 * built.  Names: @name is the member's name in its parent object, NULL at
 * the top and for list elements.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "qapi/error.h"

G_BEGIN_DECLS

typedef struct QapiVisitor QapiVisitor;

/* The JSON kind of a value, as an alternate's input sees it. */
typedef enum QapiType {
    QAPI_TYPE_NONE,   /* no value */
    QAPI_TYPE_NULL,   /* JSON null */
    QAPI_TYPE_INT,    /* a JSON number without fraction or exponent */
    QAPI_TYPE_NUMBER, /* any other JSON number */
    QAPI_TYPE_STRING, /* a string; every keyval scalar is one */
    QAPI_TYPE_BOOL,
    QAPI_TYPE_OBJECT,
    QAPI_TYPE_ARRAY,
    QAPI_TYPE__MAX,
} QapiType;

/* What every generated list starts with; see visit_start_list(). */
typedef struct GenericList {
    struct GenericList *next;
    char padding[];
} GenericList;

/* What every generated alternate starts with; see visit_start_alternate(). */
typedef struct GenericAlternate {
    QapiType type;
    char padding[];
} GenericAlternate;

/*
 * The string table of a generated enum: X_lookup for enum X.  X_str(v)
 * is qapi_enum_lookup(&X_lookup, v).
 */
typedef struct QEnumLookup {
    const char *const *array;
    int size;
} QEnumLookup;

/* The name of @val, which must be in range (a programmer's mistake if not). */
const char *qapi_enum_lookup(const QEnumLookup *lookup, int val);

/*
 * The value named @name, or @def when @name is NULL; an unknown name is
 * QAPI_ERROR_INVALID_VALUE "Parameter 'NAME' does not accept value 'V'"
 * with NAME "null" (the wording of a value outside any object) and -1.
 */
int qapi_enum_parse(const QEnumLookup *lookup, const char *name, int def,
                    GError **errp);

/* ---- What a walk is ------------------------------------------------- */

bool visit_is_input(QapiVisitor *v);
bool visit_is_dealloc(QapiVisitor *v);

/*
 * Finish an output walk: the output visitor stores its result where its
 * constructor was told.  Call it once, after a successful top visit.
 */
void visit_complete(QapiVisitor *v);

/* Free the visitor (not what it visited).  NULL is allowed. */
void visit_free(QapiVisitor *v);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(QapiVisitor, visit_free)

/* ---- Objects ---------------------------------------------------------- */

/*
 * Enter an object.  Input: the value must be a JSON object; when @obj is
 * not NULL, *obj becomes a zeroed allocation of @size bytes.  Output and
 * dealloc: *obj is the C object (@obj may be NULL for an object that has
 * no C struct, such as a command's arguments).  Every successful start is
 * paired with visit_end_struct(), also after a failure inside.
 */
bool visit_start_struct(QapiVisitor *v, const char *name, void **obj,
                        size_t size, GError **errp);

/*
 * Input: fail with "Parameter 'x' is unexpected" if the object has a
 * member that no visit asked for.  Other visitors: true.
 */
bool visit_check_struct(QapiVisitor *v, GError **errp);

/* Leave the object; @obj as given to visit_start_struct(). */
void visit_end_struct(QapiVisitor *v, void **obj);

/*
 * Ask whether the optional member @name is there.  Input: sets *present
 * from the input.  Output and dealloc: returns *present as the C object
 * has it.  Returns *present: visit the member only when it is true.
 */
bool visit_optional(QapiVisitor *v, const char *name, bool *present);

/* ---- Lists ------------------------------------------------------------ */

/*
 * Enter a list.  Input: the value must be an array; *list becomes its
 * first node (@size bytes, zeroed) or NULL when it is empty.  Walk it with
 *
 *     for (tail = *list; tail; tail = visit_next_list(v, tail, size)) {
 *         visit the element in tail, with name NULL
 *     }
 *
 * then visit_check_list() and visit_end_list().
 */
bool visit_start_list(QapiVisitor *v, const char *name, GenericList **list,
                      size_t size, GError **errp);
GenericList *visit_next_list(QapiVisitor *v, GenericList *tail, size_t size);
bool visit_check_list(QapiVisitor *v, GError **errp);
void visit_end_list(QapiVisitor *v, void **list);

/* ---- Alternates ------------------------------------------------------- */

/*
 * Enter an alternate: input allocates *obj (@size bytes) and sets
 * (*obj)->type to the JSON kind of the value, which picks the branch;
 * scalars of a keyval visitor are all QAPI_TYPE_STRING.  Pair with
 * visit_end_alternate().
 */
bool visit_start_alternate(QapiVisitor *v, const char *name,
                           GenericAlternate **obj, size_t size, GError **errp);
void visit_end_alternate(QapiVisitor *v, void **obj);

/*
 * True when the visitor reads every scalar from a string (keyval): an
 * alternate then tries its one non-string scalar branch on a string.
 */
bool visit_scalars_are_strings(QapiVisitor *v);

/* ---- Scalars ---------------------------------------------------------- */

bool visit_type_int(QapiVisitor *v, const char *name, int64_t *obj,
                    GError **errp);
bool visit_type_int8(QapiVisitor *v, const char *name, int8_t *obj,
                     GError **errp);
bool visit_type_int16(QapiVisitor *v, const char *name, int16_t *obj,
                      GError **errp);
bool visit_type_int32(QapiVisitor *v, const char *name, int32_t *obj,
                      GError **errp);
bool visit_type_int64(QapiVisitor *v, const char *name, int64_t *obj,
                      GError **errp);
bool visit_type_uint8(QapiVisitor *v, const char *name, uint8_t *obj,
                      GError **errp);
bool visit_type_uint16(QapiVisitor *v, const char *name, uint16_t *obj,
                       GError **errp);
bool visit_type_uint32(QapiVisitor *v, const char *name, uint32_t *obj,
                       GError **errp);
bool visit_type_uint64(QapiVisitor *v, const char *name, uint64_t *obj,
                       GError **errp);
/* A byte count: keyval accepts suffixes (1G), JSON a plain integer. */
bool visit_type_size(QapiVisitor *v, const char *name, uint64_t *obj,
                     GError **errp);
/* keyval accepts on/off, yes/no, true/false. */
bool visit_type_bool(QapiVisitor *v, const char *name, bool *obj,
                     GError **errp);
/* Input: *obj becomes a new string.  Output: NULL is written as "". */
bool visit_type_str(QapiVisitor *v, const char *name, char **obj,
                    GError **errp);
bool visit_type_number(QapiVisitor *v, const char *name, double *obj,
                       GError **errp);
/* Any JSON value, kept as a JsonNode (a reference is taken on input). */
bool visit_type_any(QapiVisitor *v, const char *name, JsonNode **obj,
                    GError **errp);
/* JSON null, and nothing else. */
bool visit_type_null(QapiVisitor *v, const char *name, GError **errp);

/*
 * An enum, as its name; input refuses other names with "Parameter 'x'
 * does not accept value 'y'".
 */
bool visit_type_enum(QapiVisitor *v, const char *name, int *obj,
                     const QEnumLookup *lookup, GError **errp);

G_END_DECLS
