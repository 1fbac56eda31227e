/*
 * Visitors between generated C types and JSON held as json-glib nodes.
 *
 * The input visitor reads what a QMP client sent, so it treats it as
 * hostile: every member is checked against the schema, and a mistake is a
 * QAPI_ERROR with QEMU's wording, the member named by its path from the
 * top ("backend.data.addr"):
 *
 *     Parameter 'id' is missing                        MISSING_PARAMETER
 *     Invalid parameter type for 'port', expected: string   INVALID_TYPE
 *     Parameter 'bogus' is unexpected               UNEXPECTED_PARAMETER
 *     Parameter 'type' does not accept value 'x'           INVALID_VALUE
 *     Parameter 'x' expects uint8                          INVALID_VALUE
 *     Parameter 'x' expects uint64 (a string or -1 given)   INVALID_TYPE or
 *                                                          INVALID_VALUE
 *
 * Example: a command's arguments.
 *
 *     JsonNode *root = json_node_init_object(json_node_alloc(), args);
 *     g_autoptr(QapiVisitor) v = qapi_json_input_visitor_new(root);
 *     ChardevBackend *b = NULL;
 *     if (!visit_type_ChardevBackend(v, "backend", &b, errp)) ...
 *
 * The output visitor builds a new JsonNode:
 *
 *     JsonNode *out = NULL;
 *     g_autoptr(QapiVisitor) v = qapi_json_output_visitor_new(&out);
 *     visit_type_StatusInfo(v, NULL, &info, NULL); // cannot fail
 *     visit_complete(v);   // out now holds {"running": true, ...}
 */
#pragma once

#include <json-glib/json-glib.h>

#include "qapi/visitor.h"

G_BEGIN_DECLS

/*
 * An input visitor over @root (a reference is taken).  The top visit's
 * name is ignored: @root is the value.
 */
QapiVisitor *qapi_json_input_visitor_new(JsonNode *root);

/*
 * An output visitor whose visit_complete() stores the new tree in
 * *@result (owned by the caller).
 */
QapiVisitor *qapi_json_output_visitor_new(JsonNode **result);

G_END_DECLS
