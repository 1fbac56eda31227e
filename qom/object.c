/*
 * The user-creatable object layer: type registry, option-to-property
 * conversion and the process-wide id -> object table (see
 * include/qom/object.h).
 *
 * Creation converts every option before the object exists, so a typo is
 * reported without running any class code, then builds the object with
 * all its properties at once (construct-only ones included), names it, runs
 * its GInitable init, and only then publishes it in the table.  A failure
 * anywhere before publication releases the object, so the table never
 * holds a half-initialised one.  Objects are always released outside the
 * table lock because their finalizers may call back in (to drop the users
 * they recorded, for instance).
 */
#include "qom/object.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "util/cutils.h"
#include "util/error.h"
#include "util/keyval.h"

GQuark qom_error_quark(void)
{
    return g_quark_from_static_string("qom-error-quark");
}

/* Property values are quoted back at most this long in messages. */
#define VALUE_ECHO_MAX 64

/* ---- Type registry ---------------------------------------------------- */

static GMutex type_lock;
/* name (interned) -> GType; created on first registration. */
static GHashTable *types_by_name;

/* Keys for the qdata this layer hangs on types, pspecs and objects. */
#define DEFINE_PRIVATE_QUARK(name, fn)                                         \
    static GQuark fn(void)                                                     \
    {                                                                          \
        return g_quark_from_static_string(name);                               \
    }

DEFINE_PRIVATE_QUARK("qom-type-name", qom_type_name_quark)
DEFINE_PRIVATE_QUARK("qom-type-description", qom_type_description_quark)
DEFINE_PRIVATE_QUARK("qom-param-size", qom_param_size_quark)
DEFINE_PRIVATE_QUARK("qom-param-hidden", qom_param_hidden_quark)
DEFINE_PRIVATE_QUARK("qom-object-id", qom_object_id_quark)

void qom_type_register(const char *name, GType type)
{
    const char *interned;

    g_return_if_fail(name != NULL && *name != '\0');
    g_return_if_fail(g_type_is_a(type, G_TYPE_OBJECT));

    interned = g_intern_string(name);
    g_mutex_lock(&type_lock);
    if (!types_by_name) {
        types_by_name = g_hash_table_new(g_str_hash, g_str_equal);
    }
    gpointer old = g_hash_table_lookup(types_by_name, interned);
    const char *old_name = g_type_get_qdata(type, qom_type_name_quark());
    if ((old && GPOINTER_TO_SIZE(old) != type) ||
        (old_name && old_name != interned)) {
        g_mutex_unlock(&type_lock);
        g_critical("object type '%s' (%s) conflicts with an earlier "
                   "registration",
                   name, g_type_name(type));
        return;
    }
    g_hash_table_insert(types_by_name, (gpointer)interned,
                        GSIZE_TO_POINTER(type));
    g_type_set_qdata(type, qom_type_name_quark(), (gpointer)interned);
    g_mutex_unlock(&type_lock);
}

GType qom_type_lookup(const char *name)
{
    GType type = G_TYPE_INVALID;

    g_return_val_if_fail(name != NULL, G_TYPE_INVALID);

    g_mutex_lock(&type_lock);
    if (types_by_name) {
        type = GPOINTER_TO_SIZE(g_hash_table_lookup(types_by_name, name));
    }
    g_mutex_unlock(&type_lock);
    return type;
}

static GQuark qom_type_errors_named_quark(void)
{
    return g_quark_from_static_string("qom-type-init-errors-named");
}

void qom_type_set_init_errors_named(GType type)
{
    g_return_if_fail(type != G_TYPE_INVALID);

    g_type_set_qdata(type, qom_type_errors_named_quark(), GINT_TO_POINTER(1));
}

static bool qom_type_init_errors_named(GType type)
{
    for (GType t = type; t != 0; t = g_type_parent(t)) {
        if (g_type_get_qdata(t, qom_type_errors_named_quark())) {
            return true;
        }
    }
    return false;
}

void qom_type_set_description(GType type, const char *description)
{
    g_return_if_fail(type != G_TYPE_INVALID && description != NULL);

    /* Interned: type qdata lives as long as the process anyway. */
    g_type_set_qdata(type, qom_type_description_quark(),
                     (gpointer)g_intern_string(description));
}

const char *qom_type_get_description(GType type)
{
    return g_type_get_qdata(type, qom_type_description_quark());
}

const char *qom_type_get_name(GType type)
{
    for (GType t = type; t != 0; t = g_type_parent(t)) {
        const char *name = g_type_get_qdata(t, qom_type_name_quark());
        if (name) {
            return name;
        }
    }
    return NULL;
}

char *qom_type_describe(GType type)
{
    const char *desc = qom_type_get_description(type);
    const char *name;

    if (desc) {
        return g_strdup(desc);
    }
    name = g_type_get_qdata(type, qom_type_name_quark());
    return g_strdup_printf("'%s'", name ? name : g_type_name(type));
}

static gint compare_strings(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

char **qom_type_list(GType base, bool include_abstract)
{
    GPtrArray *names = g_ptr_array_new();
    GHashTableIter iter;
    gpointer key, value;

    g_mutex_lock(&type_lock);
    if (types_by_name) {
        g_hash_table_iter_init(&iter, types_by_name);
        while (g_hash_table_iter_next(&iter, &key, &value)) {
            GType type = GPOINTER_TO_SIZE(value);
            if (!g_type_is_a(type, base)) {
                continue;
            }
            if (!include_abstract && G_TYPE_IS_ABSTRACT(type)) {
                continue;
            }
            g_ptr_array_add(names, g_strdup(key));
        }
    }
    g_mutex_unlock(&type_lock);
    g_ptr_array_sort(names, compare_strings);
    g_ptr_array_add(names, NULL);
    return (char **)g_ptr_array_free(names, FALSE);
}

/* ---- Property markers ------------------------------------------------- */

GParamSpec *qom_param_spec_mark_size(GParamSpec *pspec)
{
    g_return_val_if_fail(G_IS_PARAM_SPEC_UINT(pspec) ||
                             G_IS_PARAM_SPEC_ULONG(pspec) ||
                             G_IS_PARAM_SPEC_UINT64(pspec),
                         pspec);
    g_param_spec_set_qdata(pspec, qom_param_size_quark(), GINT_TO_POINTER(1));
    return pspec;
}

bool qom_param_spec_is_size(GParamSpec *pspec)
{
    return g_param_spec_get_qdata(pspec, qom_param_size_quark()) != NULL;
}

GParamSpec *qom_param_spec_mark_hidden(GParamSpec *pspec)
{
    g_return_val_if_fail(G_IS_PARAM_SPEC(pspec), pspec);
    g_param_spec_set_qdata(pspec, qom_param_hidden_quark(), GINT_TO_POINTER(1));
    return pspec;
}

bool qom_param_spec_is_hidden(GParamSpec *pspec)
{
    return g_param_spec_get_qdata(pspec, qom_param_hidden_quark()) != NULL;
}

bool qom_param_spec_is_json(GParamSpec *pspec)
{
    return G_IS_PARAM_SPEC_BOXED(pspec) &&
           G_PARAM_SPEC_VALUE_TYPE(pspec) == JSON_TYPE_NODE;
}

bool qom_param_spec_is_settable(GParamSpec *pspec)
{
    if (!(pspec->flags & G_PARAM_WRITABLE) || qom_param_spec_is_hidden(pspec)) {
        return false;
    }
    return qom_param_spec_is_json(pspec) || G_IS_PARAM_SPEC_BOOLEAN(pspec) ||
           G_IS_PARAM_SPEC_CHAR(pspec) || G_IS_PARAM_SPEC_UCHAR(pspec) ||
           G_IS_PARAM_SPEC_INT(pspec) || G_IS_PARAM_SPEC_UINT(pspec) ||
           G_IS_PARAM_SPEC_LONG(pspec) || G_IS_PARAM_SPEC_ULONG(pspec) ||
           G_IS_PARAM_SPEC_INT64(pspec) || G_IS_PARAM_SPEC_UINT64(pspec) ||
           G_IS_PARAM_SPEC_FLOAT(pspec) || G_IS_PARAM_SPEC_DOUBLE(pspec) ||
           G_IS_PARAM_SPEC_STRING(pspec) || G_IS_PARAM_SPEC_ENUM(pspec);
}

/* ---- Hints for misspelt names ----------------------------------------- */

/*
 * Edit distance counting insertions, deletions, substitutions and swaps
 * of neighbours ("nmae" is one step from "name").  Names are short and
 * lists small, so the full table is fine.
 */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    g_autofree size_t *d = NULL;

    if (la > 64 || lb > 64) {
        return G_MAXSIZE;
    }
    d = g_new(size_t, (la + 1) * (lb + 1));
#define D(i, j) d[(i) * (lb + 1) + (j)]
    for (size_t i = 0; i <= la; i++) {
        D(i, 0) = i;
    }
    for (size_t j = 0; j <= lb; j++) {
        D(0, j) = j;
    }
    for (size_t i = 1; i <= la; i++) {
        for (size_t j = 1; j <= lb; j++) {
            size_t best = D(i - 1, j - 1) + (a[i - 1] != b[j - 1]);
            best = MIN(best, D(i - 1, j) + 1);
            best = MIN(best, D(i, j - 1) + 1);
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
                a[i - 2] == b[j - 1]) {
                best = MIN(best, D(i - 2, j - 2) + 1);
            }
            D(i, j) = best;
        }
    }
    size_t result = D(la, lb);
#undef D
    return result;
}

/*
 * " (did you mean 'x'?)" when one candidate is close to @wrong, else
 * " (valid <what>: a, b, c)", else "" when there are no candidates.
 */
static char *name_hint(const char *wrong, char **candidates, const char *what)
{
    const char *best = NULL;
    size_t best_dist = G_MAXSIZE;
    size_t limit = MAX(strlen(wrong) / 3, 1);

    if (!candidates || !candidates[0]) {
        return g_strdup("");
    }
    for (char **c = candidates; *c; c++) {
        size_t d = edit_distance(wrong, *c);
        if (d < best_dist) {
            best_dist = d;
            best = *c;
        }
    }
    if (best && best_dist <= MIN(limit, 2)) {
        return g_strdup_printf(" (did you mean '%s'?)", best);
    }
    g_autofree char *list = g_strjoinv(", ", candidates);
    return g_strdup_printf(" (valid %s: %s)", what, list);
}

/* Names of the settable properties of @klass, sorted. */
static char **settable_property_names(GObjectClass *klass)
{
    guint n = 0;
    g_autofree GParamSpec **specs = g_object_class_list_properties(klass, &n);
    GPtrArray *names = g_ptr_array_new();

    for (guint i = 0; i < n; i++) {
        if (qom_param_spec_is_settable(specs[i])) {
            g_ptr_array_add(names, g_strdup(specs[i]->name));
        }
    }
    g_ptr_array_sort(names, compare_strings);
    g_ptr_array_add(names, NULL);
    return (char **)g_ptr_array_free(names, FALSE);
}

/* ---- Value conversion ------------------------------------------------- */

/* What is being built, for messages. */
typedef struct {
    const char *type;
    const char *id;
} PropContext;

/* One option: a string (keyval, tables) or a JSON value. */
typedef struct {
    const char *name;
    const char *str;
    JsonNode *node;
} PropInput;

G_GNUC_PRINTF(4, 5)
static void prop_error(GError **errp, const PropContext *ctx, GParamSpec *pspec,
                       const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(errp, QOM_ERROR, QOM_ERROR_INVALID_VALUE,
                "property '%s' of object '%s': %s", pspec->name, ctx->id, msg);
}

/* Re-raise a cutils parse error as an invalid value of @pspec. */
static void prop_error_from(GError **errp, const PropContext *ctx,
                            GParamSpec *pspec, GError *cause)
{
    prop_error(errp, ctx, pspec, "%s", cause->message);
    g_error_free(cause);
}

static bool pspec_is_signed_int(GParamSpec *pspec)
{
    return G_IS_PARAM_SPEC_CHAR(pspec) || G_IS_PARAM_SPEC_INT(pspec) ||
           G_IS_PARAM_SPEC_LONG(pspec) || G_IS_PARAM_SPEC_INT64(pspec);
}

static bool pspec_is_unsigned_int(GParamSpec *pspec)
{
    return G_IS_PARAM_SPEC_UCHAR(pspec) || G_IS_PARAM_SPEC_UINT(pspec) ||
           G_IS_PARAM_SPEC_ULONG(pspec) || G_IS_PARAM_SPEC_UINT64(pspec);
}

static void signed_bounds(GParamSpec *pspec, int64_t *min, int64_t *max)
{
    if (G_IS_PARAM_SPEC_CHAR(pspec)) {
        *min = G_PARAM_SPEC_CHAR(pspec)->minimum;
        *max = G_PARAM_SPEC_CHAR(pspec)->maximum;
    } else if (G_IS_PARAM_SPEC_INT(pspec)) {
        *min = G_PARAM_SPEC_INT(pspec)->minimum;
        *max = G_PARAM_SPEC_INT(pspec)->maximum;
    } else if (G_IS_PARAM_SPEC_LONG(pspec)) {
        *min = G_PARAM_SPEC_LONG(pspec)->minimum;
        *max = G_PARAM_SPEC_LONG(pspec)->maximum;
    } else {
        *min = G_PARAM_SPEC_INT64(pspec)->minimum;
        *max = G_PARAM_SPEC_INT64(pspec)->maximum;
    }
}

static void unsigned_bounds(GParamSpec *pspec, uint64_t *min, uint64_t *max)
{
    if (G_IS_PARAM_SPEC_UCHAR(pspec)) {
        *min = G_PARAM_SPEC_UCHAR(pspec)->minimum;
        *max = G_PARAM_SPEC_UCHAR(pspec)->maximum;
    } else if (G_IS_PARAM_SPEC_UINT(pspec)) {
        *min = G_PARAM_SPEC_UINT(pspec)->minimum;
        *max = G_PARAM_SPEC_UINT(pspec)->maximum;
    } else if (G_IS_PARAM_SPEC_ULONG(pspec)) {
        *min = G_PARAM_SPEC_ULONG(pspec)->minimum;
        *max = G_PARAM_SPEC_ULONG(pspec)->maximum;
    } else {
        *min = G_PARAM_SPEC_UINT64(pspec)->minimum;
        *max = G_PARAM_SPEC_UINT64(pspec)->maximum;
    }
}

/*
 * Store an integer given as sign and magnitude (so that every int64 and
 * uint64 value fits) into @out after checking the pspec's range.
 */
static bool set_integer(const PropContext *ctx, GParamSpec *pspec,
                        bool negative, uint64_t magnitude, GValue *out,
                        GError **errp)
{
    g_auto(GValue) wide = G_VALUE_INIT;
    g_autofree char *range = NULL;

    if (pspec_is_signed_int(pspec)) {
        int64_t min, max, v = 0;
        bool fits = negative ? magnitude <= (uint64_t)INT64_MAX + 1
                             : magnitude <= (uint64_t)INT64_MAX;

        signed_bounds(pspec, &min, &max);
        if (fits) {
            v = negative ? (int64_t)(0 - magnitude) : (int64_t)magnitude;
        }
        if (!fits || v < min || v > max) {
            range = g_strdup_printf("%" PRId64 "-%" PRId64, min, max);
        }
        g_value_init(&wide, G_TYPE_INT64);
        g_value_set_int64(&wide, v);
    } else {
        uint64_t min, max;

        unsigned_bounds(pspec, &min, &max);
        if ((negative && magnitude) || magnitude < min || magnitude > max) {
            range = g_strdup_printf("%" PRIu64 "-%" PRIu64, min, max);
        }
        g_value_init(&wide, G_TYPE_UINT64);
        g_value_set_uint64(&wide, magnitude);
    }
    if (range) {
        g_autofree char *shown = g_strdup_printf(
            "%s%" PRIu64, negative && magnitude ? "-" : "", magnitude);

        prop_error(errp, ctx, pspec, "%s is out of range (%s)", shown, range);
        return false;
    }
    /* In range, so GLib's numeric conversion to the narrower type is exact. */
    g_value_init(out, G_PARAM_SPEC_VALUE_TYPE(pspec));
    if (!g_value_transform(&wide, out)) {
        g_assert_not_reached();
    }
    return true;
}

static bool set_double(const PropContext *ctx, GParamSpec *pspec, double v,
                       GValue *out, GError **errp)
{
    double min, max;

    if (G_IS_PARAM_SPEC_FLOAT(pspec)) {
        min = G_PARAM_SPEC_FLOAT(pspec)->minimum;
        max = G_PARAM_SPEC_FLOAT(pspec)->maximum;
    } else {
        min = G_PARAM_SPEC_DOUBLE(pspec)->minimum;
        max = G_PARAM_SPEC_DOUBLE(pspec)->maximum;
    }
    if (v < min || v > max) {
        prop_error(errp, ctx, pspec, "%g is out of range (%g-%g)", v, min, max);
        return false;
    }
    g_value_init(out, G_PARAM_SPEC_VALUE_TYPE(pspec));
    if (G_IS_PARAM_SPEC_FLOAT(pspec)) {
        g_value_set_float(out, (float)v);
    } else {
        g_value_set_double(out, v);
    }
    return true;
}

static char *enum_nicks(GEnumClass *klass)
{
    GString *s = g_string_new(NULL);

    for (guint i = 0; i < klass->n_values; i++) {
        g_string_append_printf(s, "%s%s", i ? ", " : "",
                               klass->values[i].value_nick);
    }
    return g_string_free(s, FALSE);
}

static bool set_enum(const PropContext *ctx, GParamSpec *pspec, const char *str,
                     GValue *out, GError **errp)
{
    GEnumClass *klass = G_PARAM_SPEC_ENUM(pspec)->enum_class;
    GEnumValue *ev = g_enum_get_value_by_nick(klass, str);

    if (!ev) {
        g_autofree char *shown = qutil_str_abbrev(str, VALUE_ECHO_MAX);
        g_autofree char *nicks = enum_nicks(klass);
        prop_error(errp, ctx, pspec, "'%s' is not one of: %s", shown, nicks);
        return false;
    }
    g_value_init(out, G_PARAM_SPEC_VALUE_TYPE(pspec));
    g_value_set_enum(out, ev->value);
    return true;
}

static bool convert_string(const PropContext *ctx, GParamSpec *pspec,
                           const char *str, GValue *out, GError **errp)
{
    GError *cause = NULL;

    if (qom_param_spec_is_json(pspec)) {
        prop_error(errp, ctx, pspec,
                   "takes a list: give it as %s.0.FIELD="
                   "...,%s.1.FIELD=... or use the JSON form",
                   pspec->name, pspec->name);
        return false;
    }
    if (G_IS_PARAM_SPEC_STRING(pspec)) {
        g_value_init(out, G_TYPE_STRING);
        g_value_set_string(out, str);
        return true;
    }
    if (G_IS_PARAM_SPEC_BOOLEAN(pspec)) {
        bool b;
        if (!qutil_parse_bool(str, &b, &cause)) {
            prop_error_from(errp, ctx, pspec, cause);
            return false;
        }
        g_value_init(out, G_TYPE_BOOLEAN);
        g_value_set_boolean(out, b);
        return true;
    }
    if (pspec_is_signed_int(pspec)) {
        int64_t v;
        if (!qutil_strtoi64(str, &v, &cause)) {
            prop_error_from(errp, ctx, pspec, cause);
            return false;
        }
        return set_integer(ctx, pspec, v < 0,
                           v < 0 ? 0 - (uint64_t)v : (uint64_t)v, out, errp);
    }
    if (pspec_is_unsigned_int(pspec)) {
        uint64_t v;
        bool ok = qom_param_spec_is_size(pspec)
                      ? qutil_parse_size(str, &v, &cause)
                      : qutil_strtou64(str, &v, &cause);
        if (!ok) {
            prop_error_from(errp, ctx, pspec, cause);
            return false;
        }
        return set_integer(ctx, pspec, false, v, out, errp);
    }
    if (G_IS_PARAM_SPEC_DOUBLE(pspec) || G_IS_PARAM_SPEC_FLOAT(pspec)) {
        double d;
        if (!qutil_strtod(str, &d, &cause)) {
            prop_error_from(errp, ctx, pspec, cause);
            return false;
        }
        return set_double(ctx, pspec, d, out, errp);
    }
    if (G_IS_PARAM_SPEC_ENUM(pspec)) {
        return set_enum(ctx, pspec, str, out, errp);
    }
    g_assert_not_reached(); /* filtered by qom_param_spec_is_settable() */
}

/* "a boolean", "an integer", ... for "expected X, got a JSON Y". */
static const char *pspec_kind(GParamSpec *pspec)
{
    if (G_IS_PARAM_SPEC_BOOLEAN(pspec)) {
        return "a boolean";
    }
    if (pspec_is_signed_int(pspec) || pspec_is_unsigned_int(pspec)) {
        return qom_param_spec_is_size(pspec) ? "a size" : "an integer";
    }
    if (G_IS_PARAM_SPEC_DOUBLE(pspec) || G_IS_PARAM_SPEC_FLOAT(pspec)) {
        return "a number";
    }
    if (G_IS_PARAM_SPEC_ENUM(pspec)) {
        return "an enumeration name (a string)";
    }
    return "a string";
}

static bool convert_json(const PropContext *ctx, GParamSpec *pspec,
                         JsonNode *node, GValue *out, GError **errp)
{
    GType vtype;

    if (qom_param_spec_is_json(pspec)) {
        /* Copied whole: the class judges the structure. */
        g_value_init(out, JSON_TYPE_NODE);
        g_value_set_boxed(out, node);
        return true;
    }
    switch (JSON_NODE_TYPE(node)) {
    case JSON_NODE_NULL:
        prop_error(errp, ctx, pspec, "expected %s, got null",
                   pspec_kind(pspec));
        return false;
    case JSON_NODE_ARRAY:
        prop_error(errp, ctx, pspec,
                   "expected %s, got an array "
                   "(arrays are not supported)",
                   pspec_kind(pspec));
        return false;
    case JSON_NODE_OBJECT:
        prop_error(errp, ctx, pspec,
                   "expected %s, got an object "
                   "(nested objects are not supported)",
                   pspec_kind(pspec));
        return false;
    case JSON_NODE_VALUE:
        break;
    }

    vtype = json_node_get_value_type(node);
    if (vtype == G_TYPE_STRING) {
        return convert_string(ctx, pspec, json_node_get_string(node), out,
                              errp);
    }
    if (vtype == G_TYPE_BOOLEAN) {
        bool b = json_node_get_boolean(node);
        if (G_IS_PARAM_SPEC_BOOLEAN(pspec)) {
            g_value_init(out, G_TYPE_BOOLEAN);
            g_value_set_boolean(out, b);
            return true;
        }
        if (G_IS_PARAM_SPEC_STRING(pspec)) {
            g_value_init(out, G_TYPE_STRING);
            g_value_set_string(out, b ? "true" : "false");
            return true;
        }
        prop_error(errp, ctx, pspec, "expected %s, got a boolean",
                   pspec_kind(pspec));
        return false;
    }
    if (vtype == G_TYPE_INT64) {
        gint64 v = json_node_get_int(node);
        if (pspec_is_signed_int(pspec) || pspec_is_unsigned_int(pspec)) {
            return set_integer(ctx, pspec, v < 0,
                               v < 0 ? 0 - (uint64_t)v : (uint64_t)v, out,
                               errp);
        }
        if (G_IS_PARAM_SPEC_DOUBLE(pspec) || G_IS_PARAM_SPEC_FLOAT(pspec)) {
            return set_double(ctx, pspec, (double)v, out, errp);
        }
        if (G_IS_PARAM_SPEC_STRING(pspec)) {
            g_autofree char *text = g_strdup_printf("%" G_GINT64_FORMAT, v);
            g_value_init(out, G_TYPE_STRING);
            g_value_set_string(out, text);
            return true;
        }
        prop_error(errp, ctx, pspec, "expected %s, got a number",
                   pspec_kind(pspec));
        return false;
    }
    if (vtype == G_TYPE_DOUBLE) {
        double d = json_node_get_double(node);
        if (G_IS_PARAM_SPEC_DOUBLE(pspec) || G_IS_PARAM_SPEC_FLOAT(pspec)) {
            return set_double(ctx, pspec, d, out, errp);
        }
        if (pspec_is_signed_int(pspec) || pspec_is_unsigned_int(pspec)) {
            /* 2^64 is exactly representable; anything at or above fails. */
            if (!isfinite(d) || d != floor(d) ||
                fabs(d) >= 18446744073709551616.0) {
                prop_error(errp, ctx, pspec, "%g is not %s", d,
                           pspec_kind(pspec));
                return false;
            }
            return set_integer(ctx, pspec, d < 0, (uint64_t)fabs(d), out, errp);
        }
        prop_error(errp, ctx, pspec, "expected %s, got a number",
                   pspec_kind(pspec));
        return false;
    }
    prop_error(errp, ctx, pspec, "unsupported JSON value");
    return false;
}

/* ---- Lists from dotted keys ------------------------------------------- */

/*
 * One JsonNode property being assembled from "NAME.INDEX.FIELD" keys.
 * Keys arrive in any order, so elements are collected by index first and
 * the array is built once every key has been seen.
 */
typedef struct {
    GParamSpec *pspec;
    size_t first;         /* input position of the first key */
    GHashTable *elements; /* index (guint64 *) -> JsonObject */
    GArray *indices;      /* index of each key, in input order */
    GPtrArray *keys;      /* the keys themselves (borrowed) */
    JsonNode *node;       /* the array, once assembled */
} DottedList;

static void dotted_list_free(DottedList *list)
{
    g_hash_table_unref(list->elements);
    g_array_unref(list->indices);
    g_ptr_array_unref(list->keys);
    if (list->node) {
        json_node_unref(list->node);
    }
    g_free(list);
}

/* "0", "1", ... "12": decimal, no sign, no leading zero. */
static bool parse_list_index(const char *text, size_t len, guint64 *index)
{
    guint64 v = 0;

    if (len == 0 || (text[0] == '0' && len > 1) || len > 19) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (!g_ascii_isdigit(text[i])) {
            return false;
        }
        v = v * 10 + (guint64)(text[i] - '0');
    }
    *index = v;
    return true;
}

/* Add one "NAME.INDEX.FIELD=value" to @list, or explain what is wrong. */
static bool dotted_list_add(const PropContext *ctx, DottedList *list,
                            const char *key, const char *value, GError **errp)
{
    g_autofree char *shown = qutil_str_abbrev(key, VALUE_ECHO_MAX);
    const char *rest = key + strlen(list->pspec->name) + 1;
    const char *dot = strchr(rest, '.');
    const char *field;
    guint64 index;
    JsonObject *element;

    if (!parse_list_index(rest, dot ? (size_t)(dot - rest) : strlen(rest),
                          &index)) {
        prop_error(errp, ctx, list->pspec,
                   "key '%s': expected a list "
                   "index (0, 1, ...) after '%s.'",
                   shown, list->pspec->name);
        return false;
    }
    if (!dot || dot[1] == '\0') {
        prop_error(errp, ctx, list->pspec,
                   "key '%s': expected a field "
                   "name, as in %s.%" G_GUINT64_FORMAT ".FIELD",
                   shown, list->pspec->name, index);
        return false;
    }
    field = dot + 1;
    if (strchr(field, '.')) {
        prop_error(errp, ctx, list->pspec,
                   "key '%s': only keys of the "
                   "form %s.INDEX.FIELD are supported",
                   shown, list->pspec->name);
        return false;
    }
    element = g_hash_table_lookup(list->elements, &index);
    if (!element) {
        guint64 *stored = g_new(guint64, 1);
        *stored = index;
        element = json_object_new();
        g_hash_table_insert(list->elements, stored, element);
    }
    if (json_object_has_member(element, field)) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_DUPLICATE_PROPERTY,
                    "property '%s' of object '%s': key '%s' is given more "
                    "than once",
                    list->pspec->name, ctx->id, shown);
        return false;
    }
    json_object_set_string_member(element, field, value);
    g_array_append_val(list->indices, index);
    g_ptr_array_add(list->keys, (gpointer)key);
    return true;
}

/*
 * Build the array once all keys are in: indices must be exactly
 * 0..n-1, where n is the number of distinct indices.
 */
static bool dotted_list_finish(const PropContext *ctx, DottedList *list,
                               GError **errp)
{
    guint64 n = g_hash_table_size(list->elements);
    JsonArray *array;

    for (guint64 i = 0; i < n; i++) {
        if (g_hash_table_contains(list->elements, &i)) {
            continue;
        }
        /* Some key uses an index beyond the gap: name the first one. */
        for (guint k = 0; k < list->indices->len; k++) {
            if (g_array_index(list->indices, guint64, k) > i) {
                g_autofree char *shown = qutil_str_abbrev(
                    g_ptr_array_index(list->keys, k), VALUE_ECHO_MAX);
                prop_error(errp, ctx, list->pspec,
                           "key '%s': list indices "
                           "must run from 0 without gaps, but there is no "
                           "element %" G_GUINT64_FORMAT,
                           shown, i);
                return false;
            }
        }
        g_assert_not_reached();
    }
    array = json_array_sized_new((guint)n);
    for (guint64 i = 0; i < n; i++) {
        JsonObject *element = g_hash_table_lookup(list->elements, &i);
        json_array_add_object_element(array, json_object_ref(element));
    }
    list->node = json_node_new(JSON_NODE_ARRAY);
    json_node_take_array(list->node, array);
    return true;
}

/*
 * Replace the "NAME.INDEX.FIELD" string inputs of JsonNode properties by
 * one JSON input per property, placed where its first key was.  Other
 * dotted keys are left alone and reported as unknown properties later.
 * @lists owns the assembled nodes, which @out borrows.
 */
static bool assemble_dotted_lists(const PropContext *ctx, GObjectClass *klass,
                                  const PropInput *in, size_t n,
                                  PropInput **out, size_t *nout,
                                  GPtrArray **lists, GError **errp)
{
    /* input position -> the list it feeds, or NULL */
    g_autofree DottedList **owner = g_new0(DottedList *, n + 1);
    PropInput *result;
    size_t m = 0;

    *lists = g_ptr_array_new_with_free_func((GDestroyNotify)dotted_list_free);
    for (size_t i = 0; i < n; i++) {
        const char *dot;
        g_autofree char *name = NULL;
        GParamSpec *pspec;
        DottedList *list = NULL;

        if (in[i].node || !(dot = strchr(in[i].name, '.'))) {
            continue;
        }
        name = g_strndup(in[i].name, dot - in[i].name);
        pspec = g_object_class_find_property(klass, name);
        if (!pspec || qom_param_spec_is_hidden(pspec) ||
            !qom_param_spec_is_json(pspec) ||
            !(pspec->flags & G_PARAM_WRITABLE)) {
            continue;
        }
        for (guint k = 0; k < (*lists)->len; k++) {
            DottedList *l = g_ptr_array_index(*lists, k);
            if (l->pspec == pspec) {
                list = l;
                break;
            }
        }
        if (!list) {
            list = g_new0(DottedList, 1);
            list->pspec = pspec;
            list->first = i;
            list->elements =
                g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free,
                                      (GDestroyNotify)json_object_unref);
            list->indices = g_array_new(FALSE, FALSE, sizeof(guint64));
            list->keys = g_ptr_array_new();
            g_ptr_array_add(*lists, list);
        }
        if (!dotted_list_add(ctx, list, in[i].name, in[i].str, errp)) {
            return false;
        }
        owner[i] = list;
    }
    for (guint k = 0; k < (*lists)->len; k++) {
        if (!dotted_list_finish(ctx, g_ptr_array_index(*lists, k), errp)) {
            return false;
        }
    }

    result = g_new0(PropInput, n + 1);
    for (size_t i = 0; i < n; i++) {
        if (!owner[i]) {
            result[m++] = in[i];
        } else if (owner[i]->first == i) {
            result[m].name = owner[i]->pspec->name;
            result[m].node = owner[i]->node;
            m++;
        }
    }
    *out = result;
    *nout = m;
    return true;
}

/* ---- The object table ------------------------------------------------- */

typedef struct {
    char *id;
    GObject *obj;
    /* user name -> count of qom_object_add_user() calls */
    GHashTable *users;
} QomEntry;

static GMutex table_lock;
/* id -> QomEntry; created on first use. */
static GHashTable *objects;

static void qom_entry_free(QomEntry *entry)
{
    g_free(entry->id);
    g_hash_table_unref(entry->users);
    g_object_unref(entry->obj);
    g_free(entry);
}

/* Caller holds table_lock. */
static GHashTable *table_locked(void)
{
    if (!objects) {
        objects = g_hash_table_new(g_str_hash, g_str_equal);
    }
    return objects;
}

/* Sorted "'a', 'b'" list of a user table's names. */
static char *users_text(GHashTable *users)
{
    g_autofree gpointer *keys = g_hash_table_get_keys_as_array(users, NULL);
    guint n = g_hash_table_size(users);
    GString *s = g_string_new(NULL);

    qsort(keys, n, sizeof(gpointer), compare_strings);
    for (guint i = 0; i < n; i++) {
        g_string_append_printf(s, "%s'%s'", i ? ", " : "",
                               (const char *)keys[i]);
    }
    return g_string_free(s, FALSE);
}

bool qom_id_is_valid(const char *id, GError **errp)
{
    g_return_val_if_fail(id != NULL, false);

    if (!g_ascii_isalpha(id[0])) {
        g_autofree char *shown = qutil_str_abbrev(id, VALUE_ECHO_MAX);
        g_set_error(errp, QOM_ERROR, QOM_ERROR_INVALID_ID,
                    "invalid object id '%s': it must start with a letter",
                    shown);
        return false;
    }
    for (const char *p = id; *p; p++) {
        if (!g_ascii_isalnum(*p) && *p != '-' && *p != '.' && *p != '_') {
            g_autofree char *shown = qutil_str_abbrev(id, VALUE_ECHO_MAX);
            g_set_error(errp, QOM_ERROR, QOM_ERROR_INVALID_ID,
                        "invalid object id '%s': use only letters, digits, "
                        "'-', '.' and '_'",
                        shown);
            return false;
        }
    }
    return true;
}

/* Resolve @type to an instantiable GType or explain why it is not one. */
static GType resolve_type(const char *type, GError **errp)
{
    GType gtype;

    if (!type || !*type) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_UNKNOWN_TYPE,
                    "no object type given ('qom-type' is missing)");
        return G_TYPE_INVALID;
    }
    gtype = qom_type_lookup(type);
    if (gtype == G_TYPE_INVALID) {
        g_auto(GStrv) names = qom_type_list(G_TYPE_OBJECT, false);
        g_autofree char *shown = qutil_str_abbrev(type, VALUE_ECHO_MAX);
        g_autofree char *hint = name_hint(type, names, "types");
        g_set_error(errp, QOM_ERROR, QOM_ERROR_UNKNOWN_TYPE,
                    "unknown object type '%s'%s", shown, hint);
        return G_TYPE_INVALID;
    }
    if (G_TYPE_IS_ABSTRACT(gtype)) {
        g_auto(GStrv) names = qom_type_list(gtype, false);
        g_autofree char *list = g_strjoinv(", ", names);
        g_set_error(errp, QOM_ERROR, QOM_ERROR_UNKNOWN_TYPE,
                    "object type '%s' is abstract; create one of its "
                    "subtypes instead%s%s%s",
                    type, names[0] ? " (" : "", list, names[0] ? ")" : "");
        return G_TYPE_INVALID;
    }
    return gtype;
}

static bool id_is_taken(const char *id)
{
    bool taken;

    g_mutex_lock(&table_lock);
    taken = g_hash_table_contains(table_locked(), id);
    g_mutex_unlock(&table_lock);
    return taken;
}

static GObject *object_add_internal(const char *type, const char *id,
                                    const PropInput *in, size_t n,
                                    GError **errp)
{
    PropContext ctx = { .type = type, .id = id };
    GType gtype;
    g_autoptr(GTypeClass) klass = NULL;
    g_autoptr(GHashTable) seen = NULL;
    g_autofree const char **names = NULL;
    g_autofree GValue *values = NULL;
    g_autofree PropInput *assembled = NULL;
    g_autoptr(GPtrArray) lists = NULL;
    size_t nvalues = 0;
    GObject *obj = NULL;
    GError *local = NULL;
    QomEntry *entry;
    bool ok = false;

    gtype = resolve_type(type, errp);
    if (gtype == G_TYPE_INVALID) {
        return NULL;
    }
    if (!id) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_MISSING_ID,
                    "object type '%s' needs an 'id'", type);
        return NULL;
    }
    if (!qom_id_is_valid(id, errp)) {
        return NULL;
    }
    if (id_is_taken(id)) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_DUPLICATE_ID,
                    "an object with id '%s' already exists", id);
        return NULL;
    }

    klass = g_type_class_ref(gtype);
    if (!assemble_dotted_lists(&ctx, G_OBJECT_CLASS(klass), in, n, &assembled,
                               &n, &lists, errp)) {
        goto out;
    }
    in = assembled;
    seen = g_hash_table_new(NULL, NULL);
    names = g_new0(const char *, n + 1);
    values = g_new0(GValue, n + 1);

    for (size_t i = 0; i < n; i++) {
        const char *key = in[i].name;
        GParamSpec *pspec;

        if (g_str_equal(key, "qom-type") || g_str_equal(key, "id")) {
            continue;
        }
        pspec = g_object_class_find_property(G_OBJECT_CLASS(klass), key);
        if (!pspec || qom_param_spec_is_hidden(pspec)) {
            g_auto(GStrv) valid =
                settable_property_names(G_OBJECT_CLASS(klass));
            g_autofree char *shown = qutil_str_abbrev(key, VALUE_ECHO_MAX);
            g_autofree char *hint = name_hint(key, valid, "properties");
            g_set_error(errp, QOM_ERROR, QOM_ERROR_UNKNOWN_PROPERTY,
                        "object '%s' of type '%s' has no property '%s'%s", id,
                        type, shown, hint);
            goto out;
        }
        if (!qom_param_spec_is_settable(pspec)) {
            g_set_error(errp, QOM_ERROR, QOM_ERROR_NOT_SETTABLE,
                        "property '%s' of object '%s' %s", pspec->name, id,
                        (pspec->flags & G_PARAM_WRITABLE)
                            ? "cannot be set from options"
                            : "is read-only");
            goto out;
        }
        /* By pspec, so "verify_peer" and "verify-peer" count as one. */
        if (!g_hash_table_add(seen, pspec)) {
            g_set_error(errp, QOM_ERROR, QOM_ERROR_DUPLICATE_PROPERTY,
                        "property '%s' of object '%s' is set more than once",
                        pspec->name, id);
            goto out;
        }
        if (in[i].node
                ? !convert_json(&ctx, pspec, in[i].node, &values[nvalues], errp)
                : !convert_string(&ctx, pspec, in[i].str, &values[nvalues],
                                  errp)) {
            goto out;
        }
        names[nvalues++] = pspec->name;
    }

    obj = g_object_new_with_properties(gtype, nvalues, names, values);
    if (G_IS_INITIALLY_UNOWNED(obj)) {
        g_object_ref_sink(obj);
    }
    g_object_set_qdata_full(obj, qom_object_id_quark(), g_strdup(id), g_free);

    if (G_IS_INITABLE(obj) && !g_initable_init(G_INITABLE(obj), NULL, &local)) {
        if (local) {
            /* The class says whether its messages name the object. */
            if (qom_type_init_errors_named(gtype)) {
                g_propagate_error(errp, local);
            } else {
                g_propagate_prefixed_error(errp, local, "object '%s': ", id);
            }
        } else {
            g_set_error(errp, QOM_ERROR, QOM_ERROR_INIT_FAILED,
                        "object '%s': initialisation failed", id);
        }
        goto out;
    }

    entry = g_new0(QomEntry, 1);
    entry->id = g_strdup(id);
    entry->obj = obj;
    entry->users = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_mutex_lock(&table_lock);
    /* Checked again: another thread may have taken the id meanwhile. */
    if (g_hash_table_contains(table_locked(), id)) {
        g_mutex_unlock(&table_lock);
        entry->obj = NULL;
        g_free(entry->id);
        g_hash_table_unref(entry->users);
        g_free(entry);
        g_set_error(errp, QOM_ERROR, QOM_ERROR_DUPLICATE_ID,
                    "an object with id '%s' already exists", id);
        goto out;
    }
    g_hash_table_insert(objects, entry->id, entry);
    g_mutex_unlock(&table_lock);
    ok = true;

out:
    for (size_t i = 0; i < nvalues; i++) {
        g_value_unset(&values[i]);
    }
    if (!ok) {
        g_clear_object(&obj);
    }
    return obj;
}

GObject *qom_object_add(const char *type, const char *id, GPtrArray *props,
                        GError **errp)
{
    guint n = props ? props->len : 0;
    g_autofree PropInput *in = g_new0(PropInput, n + 1);

    for (guint i = 0; i < n; i++) {
        QUtilKeyvalPair *pair = g_ptr_array_index(props, i);
        in[i].name = pair->key;
        in[i].str = pair->value;
    }
    return object_add_internal(type, id, in, n, errp);
}

GObject *qom_object_add_table(const char *type, const char *id,
                              GHashTable *props, GError **errp)
{
    guint n = 0;
    g_autofree gpointer *keys =
        props ? g_hash_table_get_keys_as_array(props, &n) : NULL;
    g_autofree PropInput *in = g_new0(PropInput, n + 1);

    /* Sorted so that errors do not depend on hash order. */
    if (keys) {
        qsort(keys, n, sizeof(gpointer), compare_strings);
    }
    for (guint i = 0; i < n; i++) {
        in[i].name = keys[i];
        in[i].str = g_hash_table_lookup(props, keys[i]);
    }
    return object_add_internal(type, id, in, n, errp);
}

GObject *qom_object_add_props(const char *type, const char *id, GError **errp,
                              const char *first_name, ...)
{
    g_autoptr(GArray) in = g_array_new(FALSE, TRUE, sizeof(PropInput));
    va_list ap;

    va_start(ap, first_name);
    for (const char *name = first_name; name; name = va_arg(ap, const char *)) {
        PropInput p = { .name = name, .str = va_arg(ap, const char *) };
        if (!p.str) {
            /* A name without a value: the caller's list is malformed. */
            va_end(ap);
            g_critical("qom_object_add_props: property '%s' has no value",
                       name);
            g_set_error(errp, QOM_ERROR, QOM_ERROR_INVALID_VALUE,
                        "property '%s' of object '%s' has no value", name,
                        id ? id : "?");
            return NULL;
        }
        g_array_append_val(in, p);
    }
    va_end(ap);
    return object_add_internal(type, id, (PropInput *)(void *)in->data, in->len,
                               errp);
}

/* A string member of @args, or NULL when absent; false if not a string. */
static bool json_string_member(JsonObject *args, const char *name,
                               const char **out, GError **errp)
{
    JsonNode *node = json_object_get_member(args, name);

    *out = NULL;
    if (!node) {
        return true;
    }
    if (!JSON_NODE_HOLDS_VALUE(node) ||
        json_node_get_value_type(node) != G_TYPE_STRING) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_INVALID_VALUE,
                    "'%s' must be a string", name);
        return false;
    }
    *out = json_node_get_string(node);
    return true;
}

GObject *qom_object_add_json(JsonObject *args, GError **errp)
{
    const char *type, *id;
    g_autoptr(GList) members = NULL;
    g_autofree PropInput *in = NULL;
    size_t n = 0;

    g_return_val_if_fail(args != NULL, NULL);

    if (!json_string_member(args, "qom-type", &type, errp)) {
        return NULL;
    }
    if (!json_string_member(args, "id", &id, errp)) {
        if (type) {
            g_prefix_error(errp, "object type '%s': ", type);
        }
        return NULL;
    }
    members = json_object_get_members(args);
    in = g_new0(PropInput, g_list_length(members) + 1);
    for (GList *l = members; l; l = l->next) {
        in[n].name = l->data;
        in[n].node = json_object_get_member(args, l->data);
        n++;
    }
    return object_add_internal(type, id, in, n, errp);
}

bool qom_object_del(const char *id, GError **errp)
{
    QomEntry *entry;
    GHashTableIter iter;
    gpointer value;

    g_return_val_if_fail(id != NULL, false);

    g_mutex_lock(&table_lock);
    entry = g_hash_table_lookup(table_locked(), id);
    if (!entry) {
        g_mutex_unlock(&table_lock);
        /* object-del's wording in QEMU, which scripts may look for. */
        g_set_error(errp, QOM_ERROR, QOM_ERROR_NOT_FOUND,
                    "object '%s' not found", id);
        return false;
    }
    if (g_hash_table_size(entry->users) > 0) {
        g_autofree char *users = users_text(entry->users);
        g_mutex_unlock(&table_lock);
        g_set_error(errp, QOM_ERROR, QOM_ERROR_IN_USE,
                    "object '%s' is in use by %s", id, users);
        return false;
    }
    g_hash_table_steal(objects, id);
    g_hash_table_iter_init(&iter, objects);
    while (g_hash_table_iter_next(&iter, NULL, &value)) {
        QomEntry *other = value;
        g_hash_table_remove(other->users, id);
    }
    g_mutex_unlock(&table_lock);

    qom_entry_free(entry);
    return true;
}

GObject *qom_object_find(const char *id)
{
    QomEntry *entry;
    GObject *obj = NULL;

    g_return_val_if_fail(id != NULL, NULL);

    g_mutex_lock(&table_lock);
    entry = g_hash_table_lookup(table_locked(), id);
    if (entry) {
        obj = entry->obj;
    }
    g_mutex_unlock(&table_lock);
    return obj;
}

/* Look up and type-check under the lock; optionally take a reference. */
static gpointer find_typed(const char *id, GType expected, bool ref,
                           GError **errp)
{
    QomEntry *entry;
    GObject *obj;

    g_return_val_if_fail(id != NULL, NULL);

    g_mutex_lock(&table_lock);
    entry = g_hash_table_lookup(table_locked(), id);
    if (!entry) {
        g_mutex_unlock(&table_lock);
        g_set_error(errp, QOM_ERROR, QOM_ERROR_NOT_FOUND,
                    "no object with id '%s'", id);
        return NULL;
    }
    obj = entry->obj;
    if (!g_type_is_a(G_OBJECT_TYPE(obj), expected)) {
        const char *actual = qom_type_get_name(G_OBJECT_TYPE(obj));
        g_autofree char *want = qom_type_describe(expected);
        g_mutex_unlock(&table_lock);
        if (!qom_type_get_description(expected)) {
            /* "not a 'secret'" reads better than "not 'secret'". */
            char *with_article = g_strdup_printf("a %s", want);
            g_free(want);
            want = with_article;
        }
        g_set_error(errp, QOM_ERROR, QOM_ERROR_WRONG_TYPE,
                    "object '%s' is a '%s', not %s", id,
                    actual ? actual : G_OBJECT_TYPE_NAME(obj), want);
        return NULL;
    }
    if (ref) {
        g_object_ref(obj);
    }
    g_mutex_unlock(&table_lock);
    return obj;
}

gpointer qom_object_find_typed(const char *id, GType expected, GError **errp)
{
    return find_typed(id, expected, false, errp);
}

gpointer qom_object_ref_typed(const char *id, GType expected, GError **errp)
{
    return find_typed(id, expected, true, errp);
}

const char *qom_object_get_id(GObject *obj)
{
    g_return_val_if_fail(G_IS_OBJECT(obj), NULL);
    return g_object_get_qdata(obj, qom_object_id_quark());
}

char **qom_object_list_ids(void)
{
    GPtrArray *ids = g_ptr_array_new();
    GHashTableIter iter;
    gpointer key;

    g_mutex_lock(&table_lock);
    g_hash_table_iter_init(&iter, table_locked());
    while (g_hash_table_iter_next(&iter, &key, NULL)) {
        g_ptr_array_add(ids, g_strdup(key));
    }
    g_mutex_unlock(&table_lock);
    g_ptr_array_sort(ids, compare_strings);
    g_ptr_array_add(ids, NULL);
    return (char **)g_ptr_array_free(ids, FALSE);
}

bool qom_object_add_user(const char *id, const char *user, GError **errp)
{
    QomEntry *entry;

    g_return_val_if_fail(id != NULL && user != NULL, false);

    if (g_str_equal(id, user)) {
        g_set_error(errp, QOM_ERROR, QOM_ERROR_INVALID_VALUE,
                    "object '%s' cannot be its own user", id);
        return false;
    }
    g_mutex_lock(&table_lock);
    entry = g_hash_table_lookup(table_locked(), id);
    if (!entry) {
        g_mutex_unlock(&table_lock);
        g_set_error(errp, QOM_ERROR, QOM_ERROR_NOT_FOUND,
                    "no object with id '%s'", id);
        return false;
    }
    guint count = GPOINTER_TO_UINT(g_hash_table_lookup(entry->users, user));
    g_hash_table_insert(entry->users, g_strdup(user),
                        GUINT_TO_POINTER(count + 1));
    g_mutex_unlock(&table_lock);
    return true;
}

bool qom_object_remove_user(const char *id, const char *user)
{
    QomEntry *entry;
    bool found = false;

    g_return_val_if_fail(id != NULL && user != NULL, false);

    g_mutex_lock(&table_lock);
    entry = g_hash_table_lookup(table_locked(), id);
    if (entry) {
        guint count = GPOINTER_TO_UINT(g_hash_table_lookup(entry->users, user));
        if (count > 1) {
            g_hash_table_insert(entry->users, g_strdup(user),
                                GUINT_TO_POINTER(count - 1));
            found = true;
        } else if (count == 1) {
            g_hash_table_remove(entry->users, user);
            found = true;
        }
    }
    g_mutex_unlock(&table_lock);
    return found;
}

char **qom_object_get_users(const char *id)
{
    QomEntry *entry;
    char **users = NULL;

    g_return_val_if_fail(id != NULL, NULL);

    g_mutex_lock(&table_lock);
    entry = g_hash_table_lookup(table_locked(), id);
    if (entry) {
        guint n = 0;
        gpointer *keys = g_hash_table_get_keys_as_array(entry->users, &n);
        qsort(keys, n, sizeof(gpointer), compare_strings);
        users = g_new0(char *, n + 1);
        for (guint i = 0; i < n; i++) {
            users[i] = g_strdup(keys[i]);
        }
        g_free(keys);
    }
    g_mutex_unlock(&table_lock);
    return users;
}

void qom_object_table_clear(void)
{
    GHashTable *old;

    g_mutex_lock(&table_lock);
    old = objects;
    objects = NULL;
    g_mutex_unlock(&table_lock);

    if (old) {
        GHashTableIter iter;
        gpointer value;

        g_hash_table_iter_init(&iter, old);
        while (g_hash_table_iter_next(&iter, NULL, &value)) {
            g_hash_table_iter_steal(&iter);
            qom_entry_free(value);
        }
        g_hash_table_unref(old);
    }
}
