/*
 * The input visitor for key=value options: -chardev, -object, -mon.
 *
 * util/keyval.h splits "socket,id=c0,addr.type=inet,addr.port=9000" into
 * flat pairs; this header turns the pairs into a tree and visits it, so the
 * same generated visit_type_X() reads a command line and a QMP command:
 *
 *   - dotted keys are nested objects: "addr.port=9000" is
 *     {"addr": {"port": "9000"}};
 *   - an object whose keys are all decimal numbers 0, 1, ... is a list:
 *     "rules.0.match=a,rules.1.match=b" is {"rules": [{...}, {...}]};
 *   - every scalar is a string, converted when visited: integers in
 *     decimal or 0x hex, booleans as on/off, yes/no, true/false, sizes
 *     with the K, M, G, T, P, E suffixes, numbers in C notation.
 *
 * A key used both as a value and as an object ("a=1,a.b=2"), or list
 * indices with a gap ("x.0=a,x.2=b"), is QAPI_ERROR_BAD_KEYS.  Conversion
 * errors use QEMU's wording ("Parameter 'size' expects a size value"),
 * and an unknown key is "Invalid parameter 'bogus'" as in QEMU.
 *
 *     g_autoptr(QapiVisitor) v =
 *         qapi_keyval_input_visitor_new_str("secret,id=s0,data=x",
 *                                           "qom-type", errp);
 *     ObjectOptions *opts = NULL;
 *     if (v && visit_type_ObjectOptions(v, NULL, &opts, errp)) ...
 */
#pragma once

#include <json-glib/json-glib.h>

#include "qapi/visitor.h"

G_BEGIN_DECLS

/*
 * The tree of @pairs (a GPtrArray of QUtilKeyvalPair from
 * qutil_keyval_parse()): a JSON object whose leaves are strings.  NULL
 * with @errp set when the keys build no tree.
 */
JsonNode *qapi_keyval_tree(GPtrArray *pairs, GError **errp);

/* An input visitor over a tree from qapi_keyval_tree() (reference taken). */
QapiVisitor *qapi_keyval_input_visitor_new(JsonNode *tree);

/*
 * Parse @params with qutil_keyval_parse() (@implied_key as there), build
 * the tree and return a visitor over it; NULL with @errp set on a syntax
 * error.
 */
QapiVisitor *qapi_keyval_input_visitor_new_str(const char *params,
                                               const char *implied_key,
                                               GError **errp);

G_END_DECLS
