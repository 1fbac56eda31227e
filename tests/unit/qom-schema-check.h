/*
 * The check that the qom schema (ObjectOptions in qapi/qom.json, read
 * through the introspection data) and the registered user-creatable types
 * agree, shared by the tests of each layer that registers such types
 * (test-crypto-qom-schema for crypto and authz, test-vm-qom-schema for the
 * memory backends).
 */
#pragma once

#include <glib.h>

/*
 * For every branch of ObjectOptions whose type is registered, compare the
 * schema's members with the properties options can set (names, types,
 * enum values); a branch in @not_here (NULL-terminated) is skipped, any
 * other unregistered branch is a problem, and so is a registered type
 * that the schema lacks.  Problems are appended to @problems, one a line.
 * Returns the number of types compared.
 */
guint qom_schema_check(const char *const *not_here, GString *problems);
