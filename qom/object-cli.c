/*
 * The --object front end (see include/qom/object-cli.h): parses the keyval
 * or JSON argument, answers help requests, and hands the result to the
 * object table.
 *
 * json-glib keeps only the last of two members with the same name, which
 * would let "data" given twice slip through with whichever came last; the
 * parser's object-member signal is used to notice the repetition, since
 * the object's size does not grow when a name comes back.
 */
#include "qom/object-cli.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "util/cutils.h"
#include "util/keyval.h"

#define IMPLIED_KEY "qom-type"

/* ---- JSON form -------------------------------------------------------- */

/*
 * No type name starts with '{' or '[', so these select JSON; '[' only so
 * that an array gets a JSON error rather than "unknown type '[...'".
 */
static bool is_json(const char *optarg)
{
    return optarg[0] == '{' || optarg[0] == '[';
}

typedef struct {
    /* JsonObject * -> members seen so far */
    GHashTable *counts;
    /* the first repeated member name, if any */
    char *duplicate;
} MemberWatch;

static void on_object_member(JsonParser *parser, JsonObject *object,
                             const char *name, gpointer opaque)
{
    MemberWatch *watch = opaque;
    guint seen = GPOINTER_TO_UINT(g_hash_table_lookup(watch->counts, object));

    seen++;
    g_hash_table_insert(watch->counts, object, GUINT_TO_POINTER(seen));
    if (seen != json_object_get_size(object) && !watch->duplicate) {
        watch->duplicate = g_strdup(name);
    }
}

/*
 * json-glib's messages quote the token they choked on, which may be part
 * of a secret; keep only the position and the kind of mistake.
 */
static void json_syntax_error(GError **errp, const GError *cause)
{
    unsigned line = 0, column = 0;
    const char *what;

    if (cause->domain == JSON_PARSER_ERROR) {
        switch (cause->code) {
        case JSON_PARSER_ERROR_TRAILING_COMMA:
            what = "trailing comma";
            break;
        case JSON_PARSER_ERROR_MISSING_COMMA:
            what = "missing comma";
            break;
        case JSON_PARSER_ERROR_MISSING_COLON:
            what = "missing colon";
            break;
        case JSON_PARSER_ERROR_INVALID_BAREWORD:
            what = "unexpected token";
            break;
        case JSON_PARSER_ERROR_EMPTY_MEMBER_NAME:
            what = "empty member name";
            break;
        case JSON_PARSER_ERROR_INVALID_DATA:
            what = "invalid data";
            break;
        default:
            what = "syntax error";
            break;
        }
    } else {
        what = "syntax error";
    }
    if (sscanf(cause->message, "<data>:%u:%u", &line, &column) == 2) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_PARSE,
                    "invalid JSON at line %u, column %u: %s", line, column,
                    what);
    } else {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_PARSE, "invalid JSON: %s", what);
    }
}

static GObject *add_from_json(const char *optarg, GError **errp)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    MemberWatch watch = {
        .counts = g_hash_table_new(NULL, NULL),
    };
    g_autoptr(GError) local = NULL;
    JsonNode *root;
    bool ok;

    g_signal_connect(parser, "object-member", G_CALLBACK(on_object_member),
                     &watch);
    ok = json_parser_load_from_data(parser, optarg, -1, &local);
    g_signal_handlers_disconnect_by_data(parser, &watch);
    g_hash_table_unref(watch.counts);
    g_autofree char *duplicate = watch.duplicate;

    if (!ok) {
        json_syntax_error(errp, local);
        return NULL;
    }
    root = json_parser_get_root(parser);
    if (!root || !JSON_NODE_HOLDS_OBJECT(root)) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_PARSE,
                    "JSON options must be an object "
                    "({\"qom-type\": ..., \"id\": ..., ...})");
        return NULL;
    }
    if (duplicate) {
        g_autofree char *shown = qutil_str_abbrev(duplicate, 64);
        g_set_error(errp, QOM_ERROR, QOM_ERROR_PARSE,
                    "member '%s' is given more than once", shown);
        return NULL;
    }
    return qom_object_add_json(json_node_get_object(root), errp);
}

/* ---- Keyval form ------------------------------------------------------ */

/* Parse with help detection; syntax errors become QOM_ERROR_PARSE. */
static GPtrArray *parse_keyval(const char *optarg, bool *help, GError **errp)
{
    g_autoptr(GError) local = NULL;
    GPtrArray *pairs = qutil_keyval_parse(optarg, IMPLIED_KEY, help, &local);

    if (!pairs) {
        g_set_error_literal(errp, QOM_ERROR, QOM_ERROR_PARSE, local->message);
    }
    return pairs;
}

GObject *qom_object_add_from_cli(const char *optarg, GError **errp)
{
    g_autoptr(GPtrArray) pairs = NULL;
    bool help = false;

    g_return_val_if_fail(optarg != NULL, NULL);

    if (is_json(optarg)) {
        return add_from_json(optarg, errp);
    }
    pairs = parse_keyval(optarg, &help, errp);
    if (!pairs) {
        return NULL;
    }
    if (help) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_PARSE,
                    "'help' asks for help and cannot be combined with "
                    "creating an object");
        return NULL;
    }
    return qom_object_add(qutil_keyval_lookup(pairs, IMPLIED_KEY),
                          qutil_keyval_lookup(pairs, "id"), pairs, errp);
}

/* ---- Help ------------------------------------------------------------- */

static void help_types(GString *out)
{
    g_auto(GStrv) names = qom_type_list(G_TYPE_OBJECT, false);

    if (!names[0]) {
        g_string_append(out, "No object types are available.\n");
        return;
    }
    g_string_append(out, "Object types:\n");
    for (char **n = names; *n; n++) {
        const char *desc = qom_type_get_description(qom_type_lookup(*n));
        if (desc) {
            g_string_append_printf(out, "  %-24s - %s\n", *n, desc);
        } else {
            g_string_append_printf(out, "  %s\n", *n);
        }
    }
}

/* "<int>" style placeholder for a property's value. */
static char *value_placeholder(GParamSpec *pspec)
{
    if (qom_param_spec_is_json(pspec)) {
        return g_strdup("<list>");
    }
    if (G_IS_PARAM_SPEC_BOOLEAN(pspec)) {
        return g_strdup("<bool>");
    }
    if (G_IS_PARAM_SPEC_ENUM(pspec)) {
        GEnumClass *klass = G_PARAM_SPEC_ENUM(pspec)->enum_class;
        GString *s = g_string_new("<");
        for (guint i = 0; i < klass->n_values; i++) {
            g_string_append_printf(s, "%s%s", i ? "|" : "",
                                   klass->values[i].value_nick);
        }
        g_string_append_c(s, '>');
        return g_string_free(s, FALSE);
    }
    if (qom_param_spec_is_size(pspec)) {
        return g_strdup("<size>");
    }
    if (G_IS_PARAM_SPEC_CHAR(pspec) || G_IS_PARAM_SPEC_INT(pspec) ||
        G_IS_PARAM_SPEC_LONG(pspec) || G_IS_PARAM_SPEC_INT64(pspec)) {
        return g_strdup("<int>");
    }
    if (G_IS_PARAM_SPEC_UCHAR(pspec) || G_IS_PARAM_SPEC_UINT(pspec) ||
        G_IS_PARAM_SPEC_ULONG(pspec) || G_IS_PARAM_SPEC_UINT64(pspec)) {
        return g_strdup("<uint>");
    }
    if (G_IS_PARAM_SPEC_DOUBLE(pspec) || G_IS_PARAM_SPEC_FLOAT(pspec)) {
        return g_strdup("<number>");
    }
    return g_strdup("<string>");
}

/* The range of an integer or floating-point property, when restricted. */
static void append_range(GString *notes, GParamSpec *pspec)
{
    const char *sep = notes->len ? ", " : "";

    if (G_IS_PARAM_SPEC_INT(pspec)) {
        GParamSpecInt *p = G_PARAM_SPEC_INT(pspec);
        if (p->minimum != G_MININT || p->maximum != G_MAXINT) {
            g_string_append_printf(notes, "%s%d to %d", sep, p->minimum,
                                   p->maximum);
        }
    } else if (G_IS_PARAM_SPEC_UINT(pspec)) {
        GParamSpecUInt *p = G_PARAM_SPEC_UINT(pspec);
        if (p->minimum != 0 || p->maximum != G_MAXUINT) {
            g_string_append_printf(notes, "%s%u to %u", sep, p->minimum,
                                   p->maximum);
        }
    } else if (G_IS_PARAM_SPEC_INT64(pspec)) {
        GParamSpecInt64 *p = G_PARAM_SPEC_INT64(pspec);
        if (p->minimum != G_MININT64 || p->maximum != G_MAXINT64) {
            g_string_append_printf(notes, "%s%" PRId64 " to %" PRId64, sep,
                                   (int64_t)p->minimum, (int64_t)p->maximum);
        }
    } else if (G_IS_PARAM_SPEC_UINT64(pspec)) {
        GParamSpecUInt64 *p = G_PARAM_SPEC_UINT64(pspec);
        if (p->minimum != 0 || p->maximum != G_MAXUINT64) {
            g_string_append_printf(notes, "%s%" PRIu64 " to %" PRIu64, sep,
                                   (uint64_t)p->minimum, (uint64_t)p->maximum);
        }
    } else if (G_IS_PARAM_SPEC_DOUBLE(pspec)) {
        GParamSpecDouble *p = G_PARAM_SPEC_DOUBLE(pspec);
        if (p->minimum != -G_MAXDOUBLE || p->maximum != G_MAXDOUBLE) {
            g_string_append_printf(notes, "%s%g to %g", sep, p->minimum,
                                   p->maximum);
        }
    }
}

/* The default value as a user would type it; NULL when there is none. */
static char *default_text(GParamSpec *pspec)
{
    const GValue *def = g_param_spec_get_default_value(pspec);

    if (G_IS_PARAM_SPEC_BOOLEAN(pspec)) {
        return g_strdup(g_value_get_boolean(def) ? "on" : "off");
    }
    if (G_IS_PARAM_SPEC_ENUM(pspec)) {
        GEnumValue *ev = g_enum_get_value(G_PARAM_SPEC_ENUM(pspec)->enum_class,
                                          g_value_get_enum(def));
        return ev ? g_strdup(ev->value_nick) : NULL;
    }
    if (G_IS_PARAM_SPEC_STRING(pspec)) {
        const char *s = g_value_get_string(def);
        return s && *s ? g_strdup(s) : NULL;
    }
    if (G_IS_PARAM_SPEC_DOUBLE(pspec) || G_IS_PARAM_SPEC_FLOAT(pspec)) {
        GValue d = G_VALUE_INIT;
        g_value_init(&d, G_TYPE_DOUBLE);
        g_value_transform(def, &d);
        return g_strdup_printf("%g", g_value_get_double(&d));
    }
    /* Integers: GLib's transform to string prints plain decimal. */
    GValue s = G_VALUE_INIT;
    g_value_init(&s, G_TYPE_STRING);
    if (!g_value_transform(def, &s)) {
        return NULL;
    }
    char *text = g_value_dup_string(&s);
    g_value_unset(&s);
    return text;
}

static gint compare_pspecs(gconstpointer a, gconstpointer b)
{
    const GParamSpec *pa = *(GParamSpec *const *)a;
    const GParamSpec *pb = *(GParamSpec *const *)b;

    return strcmp(pa->name, pb->name);
}

static void help_line(GString *out, const char *name, const char *value,
                      const char *blurb, const char *notes)
{
    g_autofree char *lhs = g_strdup_printf("%s=%s", name, value);

    g_string_append_printf(out, "  %-28s", lhs);
    if ((blurb && *blurb) || (notes && *notes)) {
        g_string_append_printf(out, " - %s", blurb && *blurb ? blurb : "");
        if (notes && *notes) {
            g_string_append_printf(out, "%s(%s)", blurb && *blurb ? " " : "",
                                   notes);
        }
    }
    g_string_append_c(out, '\n');
}

static void help_properties(GString *out, const char *name, GType type)
{
    g_autoptr(GTypeClass) klass = g_type_class_ref(type);
    guint n = 0;
    g_autofree GParamSpec **specs =
        g_object_class_list_properties(G_OBJECT_CLASS(klass), &n);
    const char *desc = qom_type_get_description(type);

    qsort(specs, n, sizeof(specs[0]), compare_pspecs);
    if (desc) {
        g_string_append_printf(out, "Object type '%s' (%s) properties:\n", name,
                               desc);
    } else {
        g_string_append_printf(out, "Object type '%s' properties:\n", name);
    }
    help_line(out, "id", "<string>", "the object's id", "required");
    for (guint i = 0; i < n; i++) {
        GParamSpec *pspec = specs[i];
        g_autofree char *value = NULL;
        g_autofree char *def = NULL;
        g_autoptr(GString) notes = g_string_new(NULL);

        if (!qom_param_spec_is_settable(pspec)) {
            continue;
        }
        value = value_placeholder(pspec);
        append_range(notes, pspec);
        def = default_text(pspec);
        if (def) {
            g_string_append_printf(notes, "%sdefault: %s",
                                   notes->len ? ", " : "", def);
        }
        help_line(out, pspec->name, value, g_param_spec_get_blurb(pspec),
                  notes->str);
    }
    if (G_TYPE_IS_ABSTRACT(type)) {
        g_auto(GStrv) subtypes = qom_type_list(type, false);
        g_autofree char *list = g_strjoinv(", ", subtypes);
        g_string_append_printf(out, "'%s' is abstract; create one of: %s\n",
                               name, subtypes[0] ? list : "(none)");
    }
}

int qom_object_cli_help(const char *optarg, GString *out, GError **errp)
{
    g_autoptr(GPtrArray) pairs = NULL;
    g_autoptr(GError) local = NULL;
    bool help = false;
    const char *type;
    GType gtype;

    g_return_val_if_fail(optarg != NULL && out != NULL, -1);

    if (is_json(optarg)) {
        return 0;
    }
    pairs = qutil_keyval_parse(optarg, IMPLIED_KEY, &help, &local);
    if (!pairs) {
        /*
         * qutil_keyval_parse() sets @help as it goes, so a "help" seen before
         * the syntax error makes this a help request that fails.  Any
         * other syntax error is left for qom_object_add_from_cli().
         */
        if (help) {
            g_set_error_literal(errp, QOM_ERROR, QOM_ERROR_PARSE,
                                local->message);
            return -1;
        }
        return 0;
    }
    if (!help) {
        return 0;
    }
    type = qutil_keyval_lookup(pairs, IMPLIED_KEY);
    if (!type) {
        help_types(out);
        return 1;
    }
    gtype = qom_type_lookup(type);
    if (gtype == G_TYPE_INVALID) {
        g_auto(GStrv) names = qom_type_list(G_TYPE_OBJECT, false);
        g_autofree char *list = g_strjoinv(", ", names);
        g_autofree char *shown = qutil_str_abbrev(type, 64);
        g_set_error(errp, QOM_ERROR, QOM_ERROR_UNKNOWN_TYPE,
                    "unknown object type '%s' (types: %s)", shown,
                    names[0] ? list : "none");
        return -1;
    }
    help_properties(out, type, gtype);
    return 1;
}

/* ---- Labels ----------------------------------------------------------- */

char *qom_object_cli_describe(const char *optarg)
{
    g_autofree char *type = NULL;
    g_autofree char *id = NULL;

    g_return_val_if_fail(optarg != NULL, NULL);

    if (is_json(optarg)) {
        g_autoptr(JsonParser) parser = json_parser_new();
        JsonNode *root;

        if (json_parser_load_from_data(parser, optarg, -1, NULL) &&
            (root = json_parser_get_root(parser)) &&
            JSON_NODE_HOLDS_OBJECT(root)) {
            JsonObject *obj = json_node_get_object(root);
            JsonNode *t = json_object_get_member(obj, IMPLIED_KEY);
            JsonNode *i = json_object_get_member(obj, "id");
            if (t && JSON_NODE_HOLDS_VALUE(t) &&
                json_node_get_value_type(t) == G_TYPE_STRING) {
                type = g_strdup(json_node_get_string(t));
            }
            if (i && JSON_NODE_HOLDS_VALUE(i) &&
                json_node_get_value_type(i) == G_TYPE_STRING) {
                id = g_strdup(json_node_get_string(i));
            }
        }
    } else {
        bool help;
        g_autoptr(GPtrArray) pairs =
            qutil_keyval_parse(optarg, IMPLIED_KEY, &help, NULL);
        if (pairs) {
            type = g_strdup(qutil_keyval_lookup(pairs, IMPLIED_KEY));
            id = g_strdup(qutil_keyval_lookup(pairs, "id"));
        } else {
            /* Unparsable: only a leading bare word can be the type. */
            size_t span = strcspn(optarg, ",=");
            if (span > 0 && optarg[span] != '=') {
                type = g_strndup(optarg, span);
            }
        }
    }

    g_autofree char *type_shown = type ? qutil_str_abbrev(type, 64) : NULL;
    g_autofree char *id_shown = id ? qutil_str_abbrev(id, 64) : NULL;
    if (id_shown) {
        return g_strdup_printf("%s,id=%s", type_shown ? type_shown : "?",
                               id_shown);
    }
    return g_strdup(type_shown ? type_shown : "?");
}
