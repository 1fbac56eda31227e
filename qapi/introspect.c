/*
 * query-qmp-schema: the introspection data the generator wrote, read back
 * through the generated SchemaInfo visitor.  Reading it through the schema
 * rather than passing the text on checks, on every call and in the unit
 * tests, that the data has exactly the shape the schema promises.
 */
#include "qapi/qapi-commands-introspect.h"

#include "qapi/json-visitor.h"
#include "qapi/qapi-introspect.h"
#include "qapi/qapi-visit-introspect.h"

SchemaInfoList *qmp_query_qmp_schema(GError **errp)
{
    g_autoptr(JsonNode) root = json_from_string(qapi_introspect_json, errp);
    SchemaInfoList *list = NULL;

    if (!root) {
        return NULL;
    }
    g_autoptr(QapiVisitor) v = qapi_json_input_visitor_new(root);
    if (!visit_type_SchemaInfoList(v, NULL, &list, errp)) {
        return NULL;
    }
    return list;
}
