/*
 * What a visitor implements: the table behind include/qapi/visitor.h.
 *
 * Only visitor implementations (the qapi/ visitor files) include this.  A
 * callback left NULL falls back as visitor.c says next to it (type_size to
 * type_uint64, check_struct and check_list to true, ...).
 */
#pragma once

#include "qapi/visitor.h"

G_BEGIN_DECLS

typedef enum QapiVisitorKind {
    QAPI_VISITOR_INPUT,
    QAPI_VISITOR_OUTPUT,
    QAPI_VISITOR_DEALLOC,
} QapiVisitorKind;

struct QapiVisitor {
    QapiVisitorKind kind;
    bool scalars_are_strings;

    bool (*start_struct)(QapiVisitor *v, const char *name, void **obj,
                         size_t size, GError **errp);
    bool (*check_struct)(QapiVisitor *v, GError **errp);
    void (*end_struct)(QapiVisitor *v, void **obj);

    bool (*start_list)(QapiVisitor *v, const char *name, GenericList **list,
                       size_t size, GError **errp);
    GenericList *(*next_list)(QapiVisitor *v, GenericList *tail, size_t size);
    bool (*check_list)(QapiVisitor *v, GError **errp);
    void (*end_list)(QapiVisitor *v, void **list);

    bool (*start_alternate)(QapiVisitor *v, const char *name,
                            GenericAlternate **obj, size_t size, GError **errp);
    void (*end_alternate)(QapiVisitor *v, void **obj);

    bool (*optional)(QapiVisitor *v, const char *name, bool *present);

    bool (*type_int64)(QapiVisitor *v, const char *name, int64_t *obj,
                       GError **errp);
    bool (*type_uint64)(QapiVisitor *v, const char *name, uint64_t *obj,
                        GError **errp);
    bool (*type_size)(QapiVisitor *v, const char *name, uint64_t *obj,
                      GError **errp);
    bool (*type_bool)(QapiVisitor *v, const char *name, bool *obj,
                      GError **errp);
    bool (*type_str)(QapiVisitor *v, const char *name, char **obj,
                     GError **errp);
    bool (*type_number)(QapiVisitor *v, const char *name, double *obj,
                        GError **errp);
    bool (*type_any)(QapiVisitor *v, const char *name, JsonNode **obj,
                     GError **errp);
    bool (*type_null)(QapiVisitor *v, const char *name, GError **errp);

    /*
     * The name of member @name for messages, with the path to it
     * ("backend.data.addr"); NULL means "use @name".  Returns a new string.
     */
    char *(*full_name)(QapiVisitor *v, const char *name);

    void (*complete)(QapiVisitor *v);
    void (*free)(QapiVisitor *v);
};

/* The name of member @name in messages: the visitor's path, or "null". */
char *visit_full_name(QapiVisitor *v, const char *name);

G_END_DECLS
