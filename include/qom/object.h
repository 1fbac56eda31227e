/*
 * User-creatable objects: GObjects with a QEMU-style type name that users
 * create by id from the command line (--object) or the monitor
 * (object-add), and that other subsystems find again by id.
 *
 *   --object secret,id=sec0,file=/run/qio/key
 *   --object tls-creds-x509,id=tls0,dir=/etc/pki/qio,passwordid=sec0
 *
 * A subsystem registers each of its classes under a user-facing name with
 * qom_type_register(); properties are the class's GParamSpecs; a class that
 * must check its properties as a whole or load files implements GInitable,
 * whose init runs once every property is set.  This layer converts option
 * strings (or JSON values) into property values, creates and initialises
 * the object, and keeps the process-wide table of live objects by id.  It
 * also records which objects use which, so that an object in use cannot be
 * deleted from under its users.
 *
 * Every function here is thread-safe: the tables are protected by locks.
 * Objects returned as borrowed pointers stay valid until they are deleted;
 * code that keeps one beyond that, or uses it on a thread other than the
 * one that deletes objects, takes its own reference (see
 * qom_object_ref_typed()).
 */
#pragma once

#include <glib-object.h>
#include <json-glib/json-glib.h>
#include <stdbool.h>

#include "util/keyval.h"

G_BEGIN_DECLS

/*
 * The object layer's error domain.  The codes are stable; tests and
 * callers match on them instead of on message text.  Errors produced by a
 * class's GInitable init keep their own domain and code; only their
 * message gains the "object 'ID': " prefix.
 */
#define QOM_ERROR (qom_error_quark())
GQuark qom_error_quark(void);

typedef enum {
    QOM_ERROR_FAILED,             /* anything not listed below */
    QOM_ERROR_UNKNOWN_TYPE,       /* no such object type, or it is abstract */
    QOM_ERROR_UNKNOWN_PROPERTY,   /* the type has no such property */
    QOM_ERROR_INVALID_VALUE,      /* a value does not parse, fit or match */
    QOM_ERROR_DUPLICATE_ID,       /* an object with that id already exists */
    QOM_ERROR_INVALID_ID,         /* the id breaks the naming rule */
    QOM_ERROR_MISSING_ID,         /* no id given */
    QOM_ERROR_NOT_FOUND,          /* no object with that id */
    QOM_ERROR_WRONG_TYPE,         /* the object is not of the expected type */
    QOM_ERROR_IN_USE,             /* the object still has users */
    QOM_ERROR_INIT_FAILED,        /* init failed without saying why */
    QOM_ERROR_PARSE,              /* option syntax: keyval or JSON */
    QOM_ERROR_DUPLICATE_PROPERTY, /* a property is set twice */
    QOM_ERROR_NOT_SETTABLE,       /* read-only, or not settable from text */
} QomErrorCode;

/* ---- Types ------------------------------------------------------------ */

/*
 * Make @type (a GObject subclass) creatable as @name, e.g.
 * qom_type_register("secret", QCRYPTO_TYPE_SECRET).  Abstract types may be
 * registered too, so that messages and help can name them, but they cannot
 * be created.  Registering the same pair again does nothing; giving a name
 * or a type a second, different registration is a programmer error.
 */
void qom_type_register(const char *name, GType type);

/* The GType registered as @name, or G_TYPE_INVALID. */
GType qom_type_lookup(const char *name);

/*
 * Describe @type in messages, e.g. "TLS credentials" for the abstract
 * QCryptoTLSCreds, so that a lookup expecting it says "object 'tls0' is a
 * 'secret', not TLS credentials".  @type need not be registered.
 */
void qom_type_set_description(GType type, const char *description);

/*
 * Declare that @type's GInitable init names the object in every error it
 * sets ("TLS credentials 'tls0': cannot read ..."), so that
 * qom_object_add() passes those errors on as they are.  Errors of any
 * other type get "object 'ID': " in front.  Subtypes inherit the
 * declaration:
 *
 *     qom_type_set_init_errors_named(QCRYPTO_TYPE_TLS_CREDS);
 */
void qom_type_set_init_errors_named(GType type);

/*
 * The description set for @type, or NULL.  Only @type itself is looked
 * at, not its parents.
 */
const char *qom_type_get_description(GType type);

/*
 * The registered name of @type or, when it has none, of its closest
 * registered ancestor; NULL when no ancestor is registered either.
 */
const char *qom_type_get_name(GType type);

/*
 * How @type is named in messages: its description, else its registered
 * name in quotes ("'secret'"), else its GType name in quotes.  Free with
 * g_free().
 */
char *qom_type_describe(GType type);

/*
 * The names of the registered types that are @base or derive from it
 * (pass G_TYPE_OBJECT for all), sorted, NULL-terminated.  Abstract types
 * are left out unless @include_abstract.  Free with g_strfreev().
 */
char **qom_type_list(GType base, bool include_abstract);

/* ---- Property markers ------------------------------------------------- */

/*
 * Mark an unsigned integer property (guint, gulong, guint64) as a size in
 * bytes: its value is then parsed with qutil_parse_size() and accepts the
 * K/M/G/T suffixes.  Returns @pspec so that it can wrap the constructor:
 *
 *   props[PROP_LIMIT] = qom_param_spec_mark_size(
 *       g_param_spec_uint64("limit", "Limit", "Bytes at most", 0,
 *                           G_MAXUINT64, 0, G_PARAM_READWRITE |
 *                           G_PARAM_STATIC_STRINGS));
 */
GParamSpec *qom_param_spec_mark_size(GParamSpec *pspec);
bool qom_param_spec_is_size(GParamSpec *pspec);

/*
 * Hide a writable property from users: options cannot set it (it is
 * reported as unknown) and help does not list it.  For properties that
 * code sets internally.  Returns @pspec.
 */
GParamSpec *qom_param_spec_mark_hidden(GParamSpec *pspec);
bool qom_param_spec_is_hidden(GParamSpec *pspec);

/*
 * True when @pspec holds a JsonNode (a boxed property of type
 * JSON_TYPE_NODE).  Such a property takes structured values: an array or
 * object in the JSON form, or a list assembled from dotted keys in the
 * keyval form (see qom_object_add()).  The class checks the structure,
 * usually in its GInitable init.
 *
 *   props[PROP_RULES] = g_param_spec_boxed("rules", "Rules", "...",
 *                                          JSON_TYPE_NODE,
 *                                          G_PARAM_READWRITE |
 *                                          G_PARAM_STATIC_STRINGS);
 */
bool qom_param_spec_is_json(GParamSpec *pspec);

/*
 * True when options can set @pspec: it is writable, not hidden, and of a
 * type this layer converts from text (boolean, integer, floating point,
 * string or enum) or a JsonNode (qom_param_spec_is_json()).  Help lists
 * exactly these properties.
 */
bool qom_param_spec_is_settable(GParamSpec *pspec);

/* ---- Creating objects ------------------------------------------------- */

/*
 * Rules for ids (QEMU's): a letter first, then letters, digits, '-', '.'
 * and '_'.  Returns false with QOM_ERROR_INVALID_ID otherwise.
 */
bool qom_id_is_valid(const char *id, GError **errp);

/*
 * Create an object of registered type @type named @id, set its properties
 * from @props (a GPtrArray of QUtilKeyvalPair from util/keyval.h, in order;
 * NULL for none), run its GInitable init if it has one and add it to the
 * object table.  Each value is converted according to the property's
 * GParamSpec:
 *
 *   gboolean          on/off, yes/no, true/false
 *   integers          decimal or 0x hex, checked against the pspec range
 *   sizes (marked)    4096, 64K, 1.5G ...
 *   gdouble/gfloat    C-locale decimal, checked against the pspec range
 *   strings           as given
 *   enums             by nick; the error lists the valid nicks
 *
 * Flags, object and boxed properties other than JsonNode cannot be set
 * this way (QOM_ERROR_NOT_SETTABLE).  Keys "qom-type" and "id" in @props
 * are ignored so that a parsed --object list can be passed as it is.
 *
 * A JsonNode property NAME (qom_param_spec_is_json()) is set from dotted
 * keys "NAME.INDEX.FIELD", assembled into a JSON array of objects whose
 * members are strings:
 *
 *   rules.0.match=*CN=fred*,rules.0.policy=allow,rules.1.match=bob
 *     -> "rules": [{"match": "*CN=fred*", "policy": "allow"},
 *                  {"match": "bob"}]
 *
 * Indices are decimal without leading zeros and must run from 0 without
 * gaps; a field may not be given twice.  Any other shape ("rules.x.match",
 * "rules.0", "rules.0.a.b", "rules=...") is QOM_ERROR_INVALID_VALUE naming
 * the key.  Which fields exist is for the class to check.
 *
 * An error from the class's init keeps its domain and code; unless the
 * class declared qom_type_set_init_errors_named(), its message is
 * prefixed with "object 'ID': ".
 *
 * Returns the new object, owned by the table (borrowed), or NULL.  On
 * failure nothing is added and the half-made object is released.
 */
GObject *qom_object_add(const char *type, const char *id, GPtrArray *props,
                        GError **errp);

/* As qom_object_add() with the properties in a string-to-string table. */
GObject *qom_object_add_table(const char *type, const char *id,
                              GHashTable *props, GError **errp);

/*
 * As qom_object_add() with the properties as NULL-terminated name/value
 * string pairs, for C callers:
 *
 *   qom_object_add_props("secret", "sec0", errp,
 *                        "data", "letmein", "format", "raw", NULL);
 */
GObject *qom_object_add_props(const char *type, const char *id, GError **errp,
                              const char *first_name,
                              ...) G_GNUC_NULL_TERMINATED;

/*
 * Create an object from a JSON object holding "qom-type" and "id" (both
 * strings) and the properties, as --object {...} and the monitor's
 * object-add give them.  A JSON string is converted like a keyval value.
 * A JSON boolean sets a boolean property.  A JSON number sets a numeric
 * property when it fits (an integer property needs an integral value in
 * range); integers and booleans also set string properties, as their
 * decimal or true/false text.  Any JSON value, arrays and nested objects
 * included, sets a JsonNode property (qom_param_spec_is_json()); for every
 * other property null, arrays and nested objects are rejected with
 * QOM_ERROR_INVALID_VALUE.
 */
GObject *qom_object_add_json(JsonObject *args, GError **errp);

/* ---- The object table ------------------------------------------------- */

/*
 * Remove the object @id from the table and drop the table's reference.
 * Refused with QOM_ERROR_IN_USE while the object has users; the message
 * names them.  Edges the object itself held as a user of others are
 * dropped with it.
 */
bool qom_object_del(const char *id, GError **errp);

/* The object named @id (borrowed), or NULL. */
GObject *qom_object_find(const char *id);

/*
 * The object named @id if it is an instance of @expected (borrowed).
 * Fails with QOM_ERROR_NOT_FOUND ("no object with id 'tls0'") or
 * QOM_ERROR_WRONG_TYPE ("object 'tls0' is a 'secret', not TLS
 * credentials", see qom_type_describe()).
 */
gpointer qom_object_find_typed(const char *id, GType expected, GError **errp);

/*
 * As qom_object_find_typed() but returns a new reference, taken under the
 * table lock, for callers on other threads or that outlive the object's
 * place in the table.  Release with g_object_unref().
 */
gpointer qom_object_ref_typed(const char *id, GType expected, GError **errp);

/*
 * The id of an object created through this layer (borrowed), or NULL for
 * any other object.  Set before the object's GInitable init runs, so init
 * may use it in messages.
 */
const char *qom_object_get_id(GObject *obj);

/* The ids of the live objects, sorted, NULL-terminated; g_strfreev(). */
char **qom_object_list_ids(void);

/*
 * Record that @user needs the object @id: @user is another object's id
 * (e.g. the TLS credentials "tls0" using the secret "sec0") or a free-form
 * name of a consumer ("nbd-server").  Edges are counted: each add needs
 * its own remove.  Fails with QOM_ERROR_NOT_FOUND when there is no object
 * @id.
 */
bool qom_object_add_user(const char *id, const char *user, GError **errp);

/*
 * Drop one edge added by qom_object_add_user().  Returns false when there
 * was none (the object may have been removed by
 * qom_object_table_clear(), or @user deleted, which drops its edges).
 */
bool qom_object_remove_user(const char *id, const char *user);

/* The users of @id, sorted, NULL-terminated (NULL if no such object). */
char **qom_object_get_users(const char *id);

/*
 * Remove every object, users or not, and drop the references; for tests
 * and process exit.  Objects are released outside the lock, so their
 * finalizers may call back into this layer.
 */
void qom_object_table_clear(void);

G_END_DECLS
