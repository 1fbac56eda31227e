/*
 * The --object command-line option shared by every qio tool.
 *
 *   qio-nbd --object secret,id=sec0,file=/run/qio/key \
 *           --object '{"qom-type":"tls-creds-psk","id":"tls0",
 *                      "dir":"/etc/qio/psk","endpoint":"server"}'
 *   qio-nbd --object help                  # list the object types
 *   qio-nbd --object tls-creds-x509,help   # list a type's properties
 *
 * A tool hands each --object argument first to qom_object_cli_help(),
 * which prints help and tells it to exit 0, and otherwise to
 * qom_object_add_from_cli().  Errors carry the object id and property name
 * in their message, so the tool can print
 *
 *   qio-nbd: --object secret,id=sec0: <message>
 *
 * using qom_object_cli_describe() for the part before the message: it
 * never repeats property values, which may be secrets.
 */
#pragma once

#include <glib-object.h>
#include <stdbool.h>

#include "qom/object.h"

G_BEGIN_DECLS

/*
 * Create an object from one --object argument: the keyval form
 * "TYPE,id=ID,prop=value,..." (util/keyval.h; TYPE is the implied
 * "qom-type") or, when @optarg starts with '{' (or '['), a JSON object as
 * accepted by qom_object_add_json().  Syntax errors (keyval or JSON, a
 * JSON value that is not an object, a member given twice) are
 * QOM_ERROR_PARSE; the other errors are those of qom_object_add().  A
 * help request is refused with QOM_ERROR_PARSE: check with
 * qom_object_cli_help() first.
 *
 * Returns the new object, owned by the object table (borrowed), or NULL.
 */
GObject *qom_object_add_from_cli(const char *optarg, GError **errp);

/*
 * If @optarg asks for help ("help", "?", "TYPE,help", "TYPE,...,help"),
 * append the help text to @out and return 1: the list of creatable types,
 * or the settable properties of TYPE with their value types, ranges,
 * defaults and descriptions.  Return 0, touching nothing, when @optarg is
 * not a help request (including every JSON argument), and -1 with @errp
 * set when it is one that cannot be answered (a syntax error, an unknown
 * type).
 */
int qom_object_cli_help(const char *optarg, GString *out, GError **errp);

/*
 * A short label for @optarg for use in messages: "TYPE,id=ID", "TYPE" or
 * "?" for the parts that cannot be found.  Property values never appear
 * in it.  Free with g_free().
 */
char *qom_object_cli_describe(const char *optarg);

G_END_DECLS
