/*
 * Unit tests for the object layer in qom/object.c: the type registry, the
 * conversion of option strings into every supported property type, the
 * id table with its users, and the error for each way creation can fail.
 * The object types are defined here: a widget with one property of each
 * kind and a GInitable check, an abstract base with a description and a
 * subclass, a plain type, and a "user" type that records a dependency on
 * another object in init and drops it in finalize, as TLS credentials do
 * with their secret.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <gio/gio.h>
#include <string.h>

#include "qom/object.h"
#include "util/keyval.h"

/* Finalizers bump these so tests can tell objects really went away. */
static int widgets_finalized;
static int users_finalized;
/* The id the widget saw during init: it must already be set. */
static char *widget_id_in_init;
/* Worker threads create widgets too. */
static GMutex widget_id_lock;

/* ---- TestColor ---------------------------------------------------------- */

typedef enum {
    TEST_COLOR_RED,
    TEST_COLOR_GREEN,
    TEST_COLOR_BLUE,
} TestColor;

static GType test_color_get_type(void)
{
    static gsize type;
    static const GEnumValue values[] = {
        { TEST_COLOR_RED, "TEST_COLOR_RED", "red" },
        { TEST_COLOR_GREEN, "TEST_COLOR_GREEN", "green" },
        { TEST_COLOR_BLUE, "TEST_COLOR_BLUE", "blue" },
        { 0, NULL, NULL },
    };

    if (g_once_init_enter(&type)) {
        g_once_init_leave(&type, g_enum_register_static("TestColor", values));
    }
    return type;
}

/* ---- TestWidget: every property kind, GInitable ------------------------- */

#define TEST_TYPE_WIDGET (test_widget_get_type())
G_DECLARE_FINAL_TYPE(TestWidget, test_widget, TEST, WIDGET, GObject)

struct _TestWidget {
    GObject parent;
    gboolean flag;
    gint count;
    guint port;
    gint64 offset;
    guint64 size_limit;
    gdouble ratio;
    gfloat weight;
    gint8 level;
    guint8 ttl;
    glong along;
    gulong aulong;
    char *name;
    char *label;
    char *hidden;
    TestColor color;
};

enum {
    W_PROP_0,
    W_PROP_FLAG,
    W_PROP_COUNT,
    W_PROP_PORT,
    W_PROP_OFFSET,
    W_PROP_SIZE_LIMIT,
    W_PROP_RATIO,
    W_PROP_WEIGHT,
    W_PROP_LEVEL,
    W_PROP_TTL,
    W_PROP_ALONG,
    W_PROP_AULONG,
    W_PROP_NAME,
    W_PROP_LABEL,
    W_PROP_HIDDEN,
    W_PROP_COLOR,
    W_PROP_STATUS,
    W_PROP_TAGS,
    W_N_PROPS,
};

static void test_widget_initable_iface_init(GInitableIface *iface);

G_DEFINE_TYPE_WITH_CODE(TestWidget, test_widget, G_TYPE_OBJECT,
                        G_IMPLEMENT_INTERFACE(G_TYPE_INITABLE,
                                              test_widget_initable_iface_init))

static gboolean test_widget_init_check(GInitable *initable,
                                       GCancellable *cancellable, GError **errp)
{
    TestWidget *w = TEST_WIDGET(initable);

    g_mutex_lock(&widget_id_lock);
    g_free(widget_id_in_init);
    widget_id_in_init = g_strdup(qom_object_get_id(G_OBJECT(w)));
    g_mutex_unlock(&widget_id_lock);
    if (w->flag && !w->name) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                    "'flag' needs a 'name'");
        return FALSE;
    }
    if (w->name && g_str_equal(w->name, "silent")) {
        return FALSE; /* a buggy class that forgets to set the error */
    }
    return TRUE;
}

static void test_widget_initable_iface_init(GInitableIface *iface)
{
    iface->init = test_widget_init_check;
}

static void test_widget_set_property(GObject *obj, guint id,
                                     const GValue *value, GParamSpec *pspec)
{
    TestWidget *w = TEST_WIDGET(obj);

    switch (id) {
    case W_PROP_FLAG:
        w->flag = g_value_get_boolean(value);
        break;
    case W_PROP_COUNT:
        w->count = g_value_get_int(value);
        break;
    case W_PROP_PORT:
        w->port = g_value_get_uint(value);
        break;
    case W_PROP_OFFSET:
        w->offset = g_value_get_int64(value);
        break;
    case W_PROP_SIZE_LIMIT:
        w->size_limit = g_value_get_uint64(value);
        break;
    case W_PROP_RATIO:
        w->ratio = g_value_get_double(value);
        break;
    case W_PROP_WEIGHT:
        w->weight = g_value_get_float(value);
        break;
    case W_PROP_LEVEL:
        w->level = g_value_get_schar(value);
        break;
    case W_PROP_TTL:
        w->ttl = g_value_get_uchar(value);
        break;
    case W_PROP_ALONG:
        w->along = g_value_get_long(value);
        break;
    case W_PROP_AULONG:
        w->aulong = g_value_get_ulong(value);
        break;
    case W_PROP_NAME:
        g_free(w->name);
        w->name = g_value_dup_string(value);
        break;
    case W_PROP_LABEL:
        g_free(w->label);
        w->label = g_value_dup_string(value);
        break;
    case W_PROP_HIDDEN:
        g_free(w->hidden);
        w->hidden = g_value_dup_string(value);
        break;
    case W_PROP_COLOR:
        w->color = g_value_get_enum(value);
        break;
    case W_PROP_TAGS:
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, pspec);
    }
}

static void test_widget_get_property(GObject *obj, guint id, GValue *value,
                                     GParamSpec *pspec)
{
    TestWidget *w = TEST_WIDGET(obj);

    switch (id) {
    case W_PROP_STATUS:
        g_value_set_string(value, "ok");
        break;
    case W_PROP_NAME:
        g_value_set_string(value, w->name);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, pspec);
    }
}

static void test_widget_finalize(GObject *obj)
{
    TestWidget *w = TEST_WIDGET(obj);

    g_free(w->name);
    g_free(w->label);
    g_free(w->hidden);
    g_atomic_int_inc(&widgets_finalized);
    G_OBJECT_CLASS(test_widget_parent_class)->finalize(obj);
}

static void test_widget_class_init(TestWidgetClass *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);
    const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS;
    GParamSpec *props[W_N_PROPS] = { NULL };

    oc->set_property = test_widget_set_property;
    oc->get_property = test_widget_get_property;
    oc->finalize = test_widget_finalize;

    props[W_PROP_FLAG] =
        g_param_spec_boolean("flag", "Flag", "A switch", FALSE, rw);
    props[W_PROP_COUNT] =
        g_param_spec_int("count", "Count", "How many", -100, 100, 0, rw);
    props[W_PROP_PORT] =
        g_param_spec_uint("port", "Port", "A TCP port", 0, 65535, 0, rw);
    props[W_PROP_OFFSET] = g_param_spec_int64("offset", "Offset", "Anywhere",
                                              G_MININT64, G_MAXINT64, 0, rw);
    props[W_PROP_SIZE_LIMIT] = qom_param_spec_mark_size(g_param_spec_uint64(
        "size-limit", "Size limit", "Bytes at most", 0, G_MAXUINT64, 0, rw));
    props[W_PROP_RATIO] =
        g_param_spec_double("ratio", "Ratio", "A fraction", 0.0, 1.0, 0.5, rw);
    props[W_PROP_WEIGHT] =
        g_param_spec_float("weight", "Weight", "Kilos", 0.0f, 10.0f, 1.0f, rw);
    props[W_PROP_LEVEL] =
        g_param_spec_char("level", "Level", "Small", -5, 5, 0, rw);
    props[W_PROP_TTL] =
        g_param_spec_uchar("ttl", "TTL", "Hops", 1, 255, 64, rw);
    props[W_PROP_ALONG] = g_param_spec_long("along", "A long", "Long",
                                            G_MINLONG, G_MAXLONG, 0, rw);
    props[W_PROP_AULONG] =
        g_param_spec_ulong("aulong", "A ulong", "Ulong", 0, G_MAXULONG, 0, rw);
    props[W_PROP_NAME] =
        g_param_spec_string("name", "Name", "What to call it", NULL, rw);
    props[W_PROP_LABEL] = g_param_spec_string(
        "label", "Label", "Set once", NULL,
        G_PARAM_WRITABLE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
    props[W_PROP_HIDDEN] = qom_param_spec_mark_hidden(
        g_param_spec_string("internal", "Internal", "Not for users", NULL, rw));
    props[W_PROP_COLOR] = g_param_spec_enum(
        "color", "Color", "Paint", test_color_get_type(), TEST_COLOR_RED, rw);
    props[W_PROP_STATUS] =
        g_param_spec_string("status", "Status", "Output", NULL,
                            G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
    props[W_PROP_TAGS] =
        g_param_spec_boxed("tags", "Tags", "A list", G_TYPE_STRV, rw);
    g_object_class_install_properties(oc, W_N_PROPS, props);
}

static void test_widget_init(TestWidget *w)
{
    w->ratio = 0.5;
    w->weight = 1.0f;
    w->ttl = 64;
}

/* ---- TestBase (abstract, described) and TestDerived --------------------- */

#define TEST_TYPE_BASE (test_base_get_type())
G_DECLARE_DERIVABLE_TYPE(TestBase, test_base, TEST, BASE, GObject)

struct _TestBaseClass {
    GObjectClass parent_class;
};

G_DEFINE_ABSTRACT_TYPE(TestBase, test_base, G_TYPE_OBJECT)

static void test_base_class_init(TestBaseClass *klass)
{
}

static void test_base_init(TestBase *b)
{
}

#define TEST_TYPE_DERIVED (test_derived_get_type())
G_DECLARE_FINAL_TYPE(TestDerived, test_derived, TEST, DERIVED, TestBase)

struct _TestDerived {
    TestBase parent;
};

G_DEFINE_TYPE(TestDerived, test_derived, TEST_TYPE_BASE)

static void test_derived_class_init(TestDerivedClass *klass)
{
}

static void test_derived_init(TestDerived *d)
{
}

/* A subclass that is never registered: it borrows its parent's name. */
#define TEST_TYPE_UNNAMED (test_unnamed_get_type())
G_DECLARE_FINAL_TYPE(TestUnnamed, test_unnamed, TEST, UNNAMED, TestBase)

struct _TestUnnamed {
    TestBase parent;
};

G_DEFINE_TYPE(TestUnnamed, test_unnamed, TEST_TYPE_BASE)

static void test_unnamed_class_init(TestUnnamedClass *klass)
{
}

static void test_unnamed_init(TestUnnamed *u)
{
}

/* ---- TestOther: plain, no description ----------------------------------- */

#define TEST_TYPE_OTHER (test_other_get_type())
G_DECLARE_FINAL_TYPE(TestOther, test_other, TEST, OTHER, GObject)

struct _TestOther {
    GObject parent;
};

G_DEFINE_TYPE(TestOther, test_other, G_TYPE_OBJECT)

static void test_other_class_init(TestOtherClass *klass)
{
}

static void test_other_init(TestOther *o)
{
}

/* ---- TestUser: records itself as a user of "target" --------------------- */

#define TEST_TYPE_USER (test_user_get_type())
G_DECLARE_FINAL_TYPE(TestUser, test_user, TEST, USER, GObject)

struct _TestUser {
    GObject parent;
    char *target;
    char *self_id;
};

static void test_user_initable_iface_init(GInitableIface *iface);

G_DEFINE_TYPE_WITH_CODE(TestUser, test_user, G_TYPE_OBJECT,
                        G_IMPLEMENT_INTERFACE(G_TYPE_INITABLE,
                                              test_user_initable_iface_init))

static gboolean test_user_init_check(GInitable *initable,
                                     GCancellable *cancellable, GError **errp)
{
    TestUser *u = TEST_USER(initable);

    if (!u->target) {
        return TRUE;
    }
    u->self_id = g_strdup(qom_object_get_id(G_OBJECT(u)));
    /* Type-check first, as real users do. */
    if (!qom_object_find_typed(u->target, TEST_TYPE_OTHER, errp) ||
        !qom_object_add_user(u->target, u->self_id, errp)) {
        g_clear_pointer(&u->self_id, g_free);
        return FALSE;
    }
    return TRUE;
}

static void test_user_initable_iface_init(GInitableIface *iface)
{
    iface->init = test_user_init_check;
}

static void test_user_set_property(GObject *obj, guint id, const GValue *value,
                                   GParamSpec *pspec)
{
    TestUser *u = TEST_USER(obj);

    g_free(u->target);
    u->target = g_value_dup_string(value);
}

static void test_user_finalize(GObject *obj)
{
    TestUser *u = TEST_USER(obj);

    /* Calls back into the table: must not deadlock on its lock. */
    if (u->self_id) {
        qom_object_remove_user(u->target, u->self_id);
    }
    g_free(u->target);
    g_free(u->self_id);
    g_atomic_int_inc(&users_finalized);
    G_OBJECT_CLASS(test_user_parent_class)->finalize(obj);
}

static void test_user_class_init(TestUserClass *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);

    oc->set_property = test_user_set_property;
    oc->finalize = test_user_finalize;
    g_object_class_install_property(
        oc, 1,
        g_param_spec_string("target", "Target", "Object used", NULL,
                            G_PARAM_WRITABLE | G_PARAM_STATIC_STRINGS));
}

static void test_user_init(TestUser *u)
{
}

/* A type whose init errors name the object themselves. */
G_DECLARE_FINAL_TYPE(TestNamed, test_named, TEST, NAMED, GObject)

struct _TestNamed {
    GObject parent;
};

static void test_named_initable_iface_init(GInitableIface *iface);

G_DEFINE_TYPE_WITH_CODE(TestNamed, test_named, G_TYPE_OBJECT,
                        G_IMPLEMENT_INTERFACE(G_TYPE_INITABLE,
                                              test_named_initable_iface_init))

static gboolean test_named_init_check(GInitable *initable,
                                      GCancellable *cancellable, GError **errp)
{
    g_set_error(errp, G_IO_ERROR, G_IO_ERROR_FAILED,
                "named thing '%s': always fails",
                qom_object_get_id(G_OBJECT(initable)));
    return FALSE;
}

static void test_named_initable_iface_init(GInitableIface *iface)
{
    iface->init = test_named_init_check;
}

static void test_named_class_init(TestNamedClass *klass)
{
}

static void test_named_init(TestNamed *n)
{
}

/* ---- Fixtures ----------------------------------------------------------- */

static int group_setup(void **state)
{
    qom_type_register("test-widget", TEST_TYPE_WIDGET);
    qom_type_register("test-base", TEST_TYPE_BASE);
    qom_type_set_description(TEST_TYPE_BASE, "test bases");
    qom_type_register("test-derived", TEST_TYPE_DERIVED);
    qom_type_register("test-other", TEST_TYPE_OTHER);
    qom_type_register("test-user", TEST_TYPE_USER);
    /* Registering the same pair again is harmless. */
    qom_type_register("test-widget", TEST_TYPE_WIDGET);
    g_type_ensure(TEST_TYPE_UNNAMED);
    return 0;
}

static int teardown(void **state)
{
    qom_object_table_clear();
    g_clear_pointer(&widget_id_in_init, g_free);
    return 0;
}

static int group_teardown(void **state)
{
    return teardown(state);
}

/* Assert @err matches QOM_ERROR/@code and its message holds @needles. */
static void check_error(GError *err, int code, const char *const *needles)
{
    assert_non_null(err);
    if (!g_error_matches(err, QOM_ERROR, code)) {
        fail_msg("expected QOM_ERROR %d, got %s %d: %s", code,
                 g_quark_to_string(err->domain), err->code, err->message);
    }
    for (; needles && *needles; needles++) {
        if (!strstr(err->message, *needles)) {
            fail_msg("message '%s' lacks '%s'", err->message, *needles);
        }
    }
}

#define NEEDLES(...) ((const char *const[]){ __VA_ARGS__, NULL })

/* Create a widget "w0" with one property; expect failure with @code. */
static GError *widget_fails(const char *name, const char *value, int code)
{
    GError *err = NULL;
    GObject *obj =
        qom_object_add_props("test-widget", "w0", &err, name, value, NULL);

    if (obj) {
        fail_msg("%s=%s accepted", name, value);
    }
    assert_non_null(err);
    if (!g_error_matches(err, QOM_ERROR, code)) {
        fail_msg("%s=%s: expected code %d, got %d: %s", name, value, code,
                 err->code, err->message);
    }
    assert_null(qom_object_find("w0"));
    return err;
}

/* ---- Tests -------------------------------------------------------------- */

static void test_types(void **state)
{
    g_auto(GStrv) all = qom_type_list(G_TYPE_OBJECT, false);
    g_auto(GStrv) with_abstract = qom_type_list(G_TYPE_OBJECT, true);
    g_auto(GStrv) bases = qom_type_list(TEST_TYPE_BASE, true);
    g_autofree char *d1 = qom_type_describe(TEST_TYPE_BASE);
    g_autofree char *d2 = qom_type_describe(TEST_TYPE_WIDGET);
    g_autofree char *d3 = qom_type_describe(G_TYPE_OBJECT);
    g_autofree char *joined = g_strjoinv(" ", all);
    g_autofree char *joined_all = g_strjoinv(" ", with_abstract);
    g_autofree char *joined_bases = g_strjoinv(" ", bases);

    assert_string_equal(joined,
                        "test-derived test-other test-user test-widget");
    assert_string_equal(joined_all, "test-base test-derived test-other "
                                    "test-user test-widget");
    assert_string_equal(joined_bases, "test-base test-derived");
    assert_true(qom_type_lookup("test-widget") == TEST_TYPE_WIDGET);
    assert_true(qom_type_lookup("nope") == G_TYPE_INVALID);
    assert_string_equal(qom_type_get_name(TEST_TYPE_DERIVED), "test-derived");
    assert_string_equal(qom_type_get_name(TEST_TYPE_UNNAMED), "test-base");
    assert_null(qom_type_get_name(G_TYPE_OBJECT));
    assert_string_equal(qom_type_get_description(TEST_TYPE_BASE), "test bases");
    assert_null(qom_type_get_description(TEST_TYPE_DERIVED));
    assert_string_equal(d1, "test bases");
    assert_string_equal(d2, "'test-widget'");
    assert_string_equal(d3, "'GObject'");
}

static void test_add_all_kinds(void **state)
{
    g_autoptr(GError) err = NULL;
    GObject *obj;
    TestWidget *w;

    obj = qom_object_add_props(
        "test-widget", "w0", &err, "flag", "on", "count", "-42", "port", "443",
        "offset", "-9223372036854775808", "size-limit", "4k", "ratio", "0.25",
        "weight", "2.5", "level", "-5", "ttl", "255", "along", "-7", "aulong",
        "0x10", "name", "a,b=c", "label", "fixed", "color", "blue", NULL);
    if (!obj) {
        fail_msg("%s", err->message);
    }
    w = TEST_WIDGET(obj);
    assert_true(w->flag);
    assert_int_equal(w->count, -42);
    assert_int_equal(w->port, 443);
    assert_true(w->offset == G_MININT64);
    assert_int_equal(w->size_limit, 4096);
    assert_true(w->ratio == 0.25);
    assert_true(w->weight == 2.5f);
    assert_int_equal(w->level, -5);
    assert_int_equal(w->ttl, 255);
    assert_int_equal(w->along, -7);
    assert_int_equal(w->aulong, 16);
    assert_string_equal(w->name, "a,b=c");
    assert_string_equal(w->label, "fixed");
    assert_int_equal(w->color, TEST_COLOR_BLUE);
    assert_string_equal(qom_object_get_id(obj), "w0");
    assert_string_equal(widget_id_in_init, "w0");
    assert_ptr_equal(qom_object_find("w0"), obj);
    assert_null(qom_object_find("w1"));
}

static void test_add_from_pairs_and_table(void **state)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GPtrArray) pairs = qutil_keyval_parse(
        "test-widget,id=w0,count=5,name=x", "qom-type", NULL, &err);
    g_autoptr(GHashTable) table = g_hash_table_new(g_str_hash, g_str_equal);
    g_auto(GStrv) ids = NULL;
    GObject *obj;

    assert_non_null(pairs);
    /* "qom-type" and "id" in the list are skipped, not properties. */
    obj = qom_object_add("test-widget", "w0", pairs, &err);
    assert_non_null(obj);
    assert_int_equal(TEST_WIDGET(obj)->count, 5);

    g_hash_table_insert(table, "count", "7");
    g_hash_table_insert(table, "color", "green");
    obj = qom_object_add_table("test-widget", "w1", table, &err);
    assert_non_null(obj);
    assert_int_equal(TEST_WIDGET(obj)->count, 7);
    assert_int_equal(TEST_WIDGET(obj)->color, TEST_COLOR_GREEN);

    obj = qom_object_add("test-other", "o0", NULL, &err);
    assert_non_null(obj);

    ids = qom_object_list_ids();
    assert_int_equal(g_strv_length(ids), 3);
    assert_string_equal(ids[0], "o0");
    assert_string_equal(ids[1], "w0");
    assert_string_equal(ids[2], "w1");
}

static void test_find_typed(void **state)
{
    g_autoptr(GError) err = NULL;

    assert_non_null(qom_object_add("test-widget", "w0", NULL, NULL));
    assert_non_null(qom_object_add("test-derived", "d0", NULL, NULL));
    assert_non_null(qom_object_add("test-other", "o0", NULL, NULL));

    assert_non_null(qom_object_find_typed("w0", TEST_TYPE_WIDGET, &err));
    assert_non_null(qom_object_find_typed("d0", TEST_TYPE_BASE, &err));
    assert_non_null(qom_object_find_typed("d0", TEST_TYPE_DERIVED, &err));
    assert_non_null(qom_object_find_typed("o0", G_TYPE_OBJECT, &err));
    assert_null(err);

    /* The expected type's description when it has one... */
    assert_null(qom_object_find_typed("w0", TEST_TYPE_BASE, &err));
    check_error(err, QOM_ERROR_WRONG_TYPE,
                NEEDLES("object 'w0' is a 'test-widget', not test bases"));
    g_clear_error(&err);
    /* ...else its registered name. */
    assert_null(qom_object_find_typed("o0", TEST_TYPE_WIDGET, &err));
    check_error(err, QOM_ERROR_WRONG_TYPE,
                NEEDLES("object 'o0' is a 'test-other', not a "
                        "'test-widget'"));
    g_clear_error(&err);
    assert_null(qom_object_find_typed("nope", TEST_TYPE_WIDGET, &err));
    check_error(err, QOM_ERROR_NOT_FOUND, NEEDLES("no object with id 'nope'"));
}

static void test_delete_finalizes(void **state)
{
    g_autoptr(GError) err = NULL;
    int before = widgets_finalized;

    assert_non_null(qom_object_add("test-widget", "w0", NULL, &err));
    assert_true(qom_object_del("w0", &err));
    assert_int_equal(widgets_finalized, before + 1);
    assert_null(qom_object_find("w0"));

    assert_false(qom_object_del("w0", &err));
    /* QEMU's object-del wording. */
    check_error(err, QOM_ERROR_NOT_FOUND, NEEDLES("object 'w0' not found"));
    g_clear_error(&err);

    /* The id is free again. */
    assert_non_null(qom_object_add("test-widget", "w0", NULL, &err));
}

static void test_ref_outlives_delete(void **state)
{
    g_autoptr(GError) err = NULL;
    int before = widgets_finalized;
    GObject *ref;

    assert_non_null(qom_object_add("test-widget", "w0", NULL, &err));
    ref = qom_object_ref_typed("w0", TEST_TYPE_WIDGET, &err);
    assert_non_null(ref);
    assert_true(qom_object_del("w0", &err));
    assert_int_equal(widgets_finalized, before);
    assert_string_equal(qom_object_get_id(ref), "w0");
    g_object_unref(ref);
    assert_int_equal(widgets_finalized, before + 1);
    assert_null(qom_object_ref_typed("w0", TEST_TYPE_WIDGET, &err));
    check_error(err, QOM_ERROR_NOT_FOUND, NULL);
}

static void test_users_object(void **state)
{
    g_autoptr(GError) err = NULL;
    g_auto(GStrv) users = NULL;
    int before = users_finalized;

    assert_non_null(qom_object_add("test-other", "s0", NULL, &err));
    assert_non_null(
        qom_object_add_props("test-user", "u0", &err, "target", "s0", NULL));
    users = qom_object_get_users("s0");
    assert_int_equal(g_strv_length(users), 1);
    assert_string_equal(users[0], "u0");

    assert_false(qom_object_del("s0", &err));
    check_error(err, QOM_ERROR_IN_USE,
                NEEDLES("object 's0' is in use by 'u0'"));
    g_clear_error(&err);
    assert_non_null(qom_object_find("s0"));

    /* Deleting the user drops its edge; then the target can go. */
    assert_true(qom_object_del("u0", &err));
    assert_int_equal(users_finalized, before + 1);
    assert_true(qom_object_del("s0", &err));

    /* A user whose target is of the wrong type fails in init. */
    assert_non_null(qom_object_add("test-widget", "w0", NULL, &err));
    assert_null(
        qom_object_add_props("test-user", "u1", &err, "target", "w0", NULL));
    check_error(err, QOM_ERROR_WRONG_TYPE,
                NEEDLES("object 'u1': ", "'w0' is a 'test-widget'"));
    assert_null(qom_object_find("u1"));
}

static void test_users_free_form(void **state)
{
    g_autoptr(GError) err = NULL;
    g_auto(GStrv) users = NULL;

    assert_non_null(qom_object_add("test-other", "s0", NULL, &err));
    assert_true(qom_object_add_user("s0", "nbd-server", &err));
    assert_true(qom_object_add_user("s0", "nbd-server", &err));
    assert_true(qom_object_add_user("s0", "chardev0", &err));

    assert_false(qom_object_del("s0", &err));
    check_error(err, QOM_ERROR_IN_USE, NEEDLES("'chardev0', 'nbd-server'"));
    g_clear_error(&err);

    assert_true(qom_object_remove_user("s0", "chardev0"));
    assert_false(qom_object_remove_user("s0", "chardev0"));
    /* Counted: one remove per add. */
    assert_true(qom_object_remove_user("s0", "nbd-server"));
    users = qom_object_get_users("s0");
    assert_int_equal(g_strv_length(users), 1);
    assert_false(qom_object_del("s0", &err));
    check_error(err, QOM_ERROR_IN_USE, NEEDLES("'nbd-server'"));
    g_clear_error(&err);
    assert_true(qom_object_remove_user("s0", "nbd-server"));
    assert_true(qom_object_del("s0", &err));

    assert_false(qom_object_add_user("s0", "x", &err));
    check_error(err, QOM_ERROR_NOT_FOUND, NEEDLES("'s0'"));
    g_clear_error(&err);
    assert_false(qom_object_remove_user("s0", "x"));
    assert_null(qom_object_get_users("s0"));

    assert_non_null(qom_object_add("test-other", "s1", NULL, &err));
    assert_false(qom_object_add_user("s1", "s1", &err));
    check_error(err, QOM_ERROR_INVALID_VALUE, NEEDLES("'s1'"));
}

static void test_duplicate_id(void **state)
{
    g_autoptr(GError) err = NULL;
    GObject *first;
    int before;

    first = qom_object_add_props("test-widget", "w0", &err, "count", "1", NULL);
    assert_non_null(first);
    before = widgets_finalized;
    assert_null(
        qom_object_add_props("test-widget", "w0", &err, "count", "2", NULL));
    check_error(err, QOM_ERROR_DUPLICATE_ID,
                NEEDLES("an object with id 'w0' already exists"));
    g_clear_error(&err);
    /* Another type with the same id is just as much a duplicate. */
    assert_null(qom_object_add("test-other", "w0", NULL, &err));
    check_error(err, QOM_ERROR_DUPLICATE_ID, NULL);
    assert_ptr_equal(qom_object_find("w0"), first);
    assert_int_equal(TEST_WIDGET(first)->count, 1);
    assert_int_equal(widgets_finalized, before);
}

static void test_missing_id(void **state)
{
    g_autoptr(GError) err = NULL;

    assert_null(
        qom_object_add_props("test-widget", NULL, &err, "count", "1", NULL));
    check_error(err, QOM_ERROR_MISSING_ID,
                NEEDLES("object type 'test-widget' needs an 'id'"));
}

static void test_bad_ids(void **state)
{
    static const char *const bad[] = {
        "",    "1abc", "-a",  "_a",       ".a",        "a b",
        "a/b", "a,b",  "a=b", "\xc3\xa9", "a\xc3\xa9",
    };
    static const char *const good[] = { "a", "Z", "a-b.c_d9", "tls0" };

    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) err = NULL;
        if (qom_object_add("test-other", bad[i], NULL, &err)) {
            fail_msg("id '%s' accepted", bad[i]);
        }
        check_error(err, QOM_ERROR_INVALID_ID, NEEDLES("invalid object id"));
    }
    for (size_t i = 0; i < G_N_ELEMENTS(good); i++) {
        g_autoptr(GError) err = NULL;
        if (!qom_object_add("test-other", good[i], NULL, &err)) {
            fail_msg("id '%s' rejected: %s", good[i], err->message);
        }
    }
}

static void test_unknown_type(void **state)
{
    g_autoptr(GError) err = NULL;

    assert_null(qom_object_add("test-widgte", "w0", NULL, &err));
    check_error(err, QOM_ERROR_UNKNOWN_TYPE,
                NEEDLES("unknown object type 'test-widgte'",
                        "did you mean 'test-widget'"));
    g_clear_error(&err);
    assert_null(qom_object_add("zzz", "w0", NULL, &err));
    check_error(err, QOM_ERROR_UNKNOWN_TYPE,
                NEEDLES("'zzz'", "test-derived", "test-widget"));
    g_clear_error(&err);
    assert_null(qom_object_add("test-base", "b0", NULL, &err));
    check_error(err, QOM_ERROR_UNKNOWN_TYPE,
                NEEDLES("'test-base' is abstract", "test-derived"));
    g_clear_error(&err);
    assert_null(qom_object_add(NULL, "b0", NULL, &err));
    check_error(err, QOM_ERROR_UNKNOWN_TYPE, NEEDLES("qom-type"));
}

static void test_unknown_property(void **state)
{
    g_autoptr(GError) err = NULL;

    err = widget_fails("nmae", "x", QOM_ERROR_UNKNOWN_PROPERTY);
    check_error(err, QOM_ERROR_UNKNOWN_PROPERTY,
                NEEDLES("object 'w0' of type 'test-widget' has no property "
                        "'nmae'",
                        "did you mean 'name'"));
    g_clear_error(&err);
    err = widget_fails("qqqqqq", "x", QOM_ERROR_UNKNOWN_PROPERTY);
    /* No close match: the valid names are listed; hidden ones are not. */
    check_error(err, QOM_ERROR_UNKNOWN_PROPERTY,
                NEEDLES("'qqqqqq'", "color", "size-limit", "weight"));
    assert_null(strstr(err->message, "internal"));
    assert_null(strstr(err->message, "status"));
    g_clear_error(&err);
    err = widget_fails("internal", "x", QOM_ERROR_UNKNOWN_PROPERTY);
    g_clear_error(&err);
    err = widget_fails("status", "x", QOM_ERROR_NOT_SETTABLE);
    check_error(err, QOM_ERROR_NOT_SETTABLE,
                NEEDLES("'status'", "'w0'", "read-only"));
    g_clear_error(&err);
    err = widget_fails("tags", "a", QOM_ERROR_NOT_SETTABLE);
    check_error(err, QOM_ERROR_NOT_SETTABLE, NEEDLES("'tags'"));
}

static void test_wrong_value_type(void **state)
{
    static const struct {
        const char *name, *value, *kind;
    } cases[] = {
        { "count", "abc", "integer" },    { "count", "1.5", "integer" },
        { "count", "", "integer" },       { "port", "1k", "integer" },
        { "port", "-1", "negative" },     { "flag", "maybe", "boolean" },
        { "flag", "1", "boolean" },       { "ratio", "half", "number" },
        { "size-limit", "lots", "size" }, { "size-limit", "-1", "negative" },
        { "offset", "1e3", "integer" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GError) err = widget_fails(cases[i].name, cases[i].value,
                                             QOM_ERROR_INVALID_VALUE);
        g_autofree char *prop = g_strdup_printf("property '%s' of object "
                                                "'w0'",
                                                cases[i].name);
        check_error(err, QOM_ERROR_INVALID_VALUE, NEEDLES(prop, cases[i].kind));
    }
}

static void test_out_of_range(void **state)
{
    static const struct {
        const char *name, *value, *message;
    } cases[] = {
        { "port", "70000",
          "property 'port' of object 'w0': 70000 is out of range "
          "(0-65535)" },
        { "count", "-101", "-101 is out of range (-100-100)" },
        { "count", "101", "101 is out of range (-100-100)" },
        { "level", "6", "6 is out of range (-5-5)" },
        { "ttl", "0", "0 is out of range (1-255)" },
        { "ttl", "256", "256 is out of range (1-255)" },
        { "port", "99999999999999999999", "integer" },
        { "offset", "9223372036854775808", "integer" },
        { "ratio", "1.5", "1.5 is out of range (0-1)" },
        { "weight", "-0.1", "is out of range (0-10)" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GError) err = widget_fails(cases[i].name, cases[i].value,
                                             QOM_ERROR_INVALID_VALUE);
        check_error(err, QOM_ERROR_INVALID_VALUE, NEEDLES(cases[i].message));
    }
}

static void test_enum_bad_name(void **state)
{
    g_autoptr(GError) err =
        widget_fails("color", "purple", QOM_ERROR_INVALID_VALUE);

    check_error(err, QOM_ERROR_INVALID_VALUE,
                NEEDLES("property 'color' of object 'w0'",
                        "'purple' is not one of: red, green, blue"));
    g_clear_error(&err);
    /* The C name is not a nick. */
    err = widget_fails("color", "TEST_COLOR_RED", QOM_ERROR_INVALID_VALUE);
}

static void test_size_suffixes(void **state)
{
    static const struct {
        const char *value;
        guint64 bytes;
    } cases[] = {
        { "0", 0 },           { "512", 512 },         { "4k", 4096 },
        { "4K", 4096 },       { "1M", 1 << 20 },      { "1.5G", 3ULL << 29 },
        { "2T", 2ULL << 40 }, { "15E", 15ULL << 60 },
    };
    g_autoptr(GError) err = NULL;

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        GObject *obj = qom_object_add_props("test-widget", "w0", &err,
                                            "size-limit", cases[i].value, NULL);
        if (!obj) {
            fail_msg("%s: %s", cases[i].value, err->message);
        }
        assert_true(TEST_WIDGET(obj)->size_limit == cases[i].bytes);
        assert_true(qom_object_del("w0", NULL));
    }
    g_clear_error(&err);
    err = widget_fails("size-limit", "16E", QOM_ERROR_INVALID_VALUE);
    check_error(err, QOM_ERROR_INVALID_VALUE,
                NEEDLES("property 'size-limit' of object 'w0'"));
    g_clear_error(&err);
    err = widget_fails("size-limit", "1KiB", QOM_ERROR_INVALID_VALUE);
}

static void test_duplicate_property(void **state)
{
    g_autoptr(GError) err = NULL;

    assert_null(qom_object_add_props("test-widget", "w0", &err, "count", "1",
                                     "count", "2", NULL));
    check_error(err, QOM_ERROR_DUPLICATE_PROPERTY,
                NEEDLES("property 'count' of object 'w0'"));
    g_clear_error(&err);
    /* '_' and '-' name the same GObject property. */
    assert_null(qom_object_add_props("test-widget", "w0", &err, "size_limit",
                                     "1", "size-limit", "2", NULL));
    check_error(err, QOM_ERROR_DUPLICATE_PROPERTY, NEEDLES("'size-limit'"));
    assert_null(qom_object_find("w0"));
}

static void test_init_failure(void **state)
{
    g_autoptr(GError) err = NULL;
    int before = widgets_finalized;

    assert_null(
        qom_object_add_props("test-widget", "w0", &err, "flag", "on", NULL));
    /* The class's own domain and code pass through, prefixed with the id. */
    assert_true(g_error_matches(err, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT));
    assert_string_equal(err->message, "object 'w0': 'flag' needs a 'name'");
    assert_string_equal(widget_id_in_init, "w0");
    assert_null(qom_object_find("w0"));
    assert_int_equal(widgets_finalized, before + 1);
    g_clear_error(&err);

    /*
     * Whether the message gets the prefix does not depend on its text: a
     * message that happens to quote the id still needs it.
     */
    assert_null(
        qom_object_add_props("test-widget", "name", &err, "flag", "on", NULL));
    assert_true(g_error_matches(err, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT));
    assert_string_equal(err->message, "object 'name': 'flag' needs a 'name'");
    assert_null(qom_object_find("name"));
    g_clear_error(&err);
    before++;

    /* A type that names itself in its errors declares it: no prefix. */
    qom_type_register("test-named", test_named_get_type());
    qom_type_set_init_errors_named(test_named_get_type());
    assert_null(qom_object_add("test-named", "n0", NULL, &err));
    assert_true(g_error_matches(err, G_IO_ERROR, G_IO_ERROR_FAILED));
    assert_string_equal(err->message, "named thing 'n0': always fails");
    g_clear_error(&err);

    /* An init that fails without an error still fails cleanly. */
    assert_null(qom_object_add_props("test-widget", "w0", &err, "name",
                                     "silent", NULL));
    check_error(err, QOM_ERROR_INIT_FAILED, NEEDLES("object 'w0'"));
    assert_null(qom_object_find("w0"));
    assert_int_equal(widgets_finalized, before + 2);
    g_clear_error(&err);

    /* Fixing the options makes the same id work. */
    assert_non_null(qom_object_add_props("test-widget", "w0", &err, "flag",
                                         "on", "name", "n", NULL));
}

static void test_table_clear(void **state)
{
    g_autoptr(GError) err = NULL;
    int widgets = widgets_finalized;
    int users = users_finalized;
    g_auto(GStrv) ids = NULL;

    assert_non_null(qom_object_add("test-other", "s0", NULL, &err));
    assert_non_null(
        qom_object_add_props("test-user", "u0", &err, "target", "s0", NULL));
    assert_non_null(qom_object_add("test-widget", "w0", NULL, &err));
    assert_true(qom_object_add_user("w0", "somebody", &err));

    /* Users do not hold clear back; finalizers may call in meanwhile. */
    qom_object_table_clear();
    assert_int_equal(widgets_finalized, widgets + 1);
    assert_int_equal(users_finalized, users + 1);
    ids = qom_object_list_ids();
    assert_int_equal(g_strv_length(ids), 0);
    assert_null(qom_object_find("s0"));
    assert_false(qom_object_remove_user("w0", "somebody"));
}

/* Worker threads add, look up and delete their own ids, and race for one. */
#define THREADS 4
#define ROUNDS  200

static gint shared_wins;

static gpointer thread_body(gpointer opaque)
{
    int n = GPOINTER_TO_INT(opaque);

    for (int i = 0; i < ROUNDS; i++) {
        g_autofree char *id = g_strdup_printf("t%d-%d", n, i);
        g_autoptr(GError) err = NULL;

        if (!qom_object_add_props("test-widget", id, &err, "count", "3",
                                  NULL)) {
            g_error("add %s: %s", id, err->message);
        }
        g_autoptr(GObject) ref =
            qom_object_ref_typed(id, TEST_TYPE_WIDGET, &err);
        if (!ref || !qom_object_del(id, &err)) {
            g_error("find/del %s: %s", id, err ? err->message : "no object");
        }
        if (qom_object_add("test-other", "shared", NULL, NULL)) {
            g_atomic_int_inc(&shared_wins);
        }
    }
    return NULL;
}

static void test_threads(void **state)
{
    GThread *threads[THREADS];
    int before = widgets_finalized;
    g_auto(GStrv) ids = NULL;

    shared_wins = 0;
    for (int i = 0; i < THREADS; i++) {
        threads[i] = g_thread_new("qom-test", thread_body, GINT_TO_POINTER(i));
    }
    for (int i = 0; i < THREADS; i++) {
        g_thread_join(threads[i]);
    }
    assert_int_equal(shared_wins, 1);
    assert_int_equal(widgets_finalized, before + THREADS * ROUNDS);
    ids = qom_object_list_ids();
    assert_int_equal(g_strv_length(ids), 1);
    assert_string_equal(ids[0], "shared");
}

static void test_quark_name(void **state)
{
    assert_string_equal(g_quark_to_string(QOM_ERROR), "qom-error-quark");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quark_name),
        cmocka_unit_test_teardown(test_types, teardown),
        cmocka_unit_test_teardown(test_add_all_kinds, teardown),
        cmocka_unit_test_teardown(test_add_from_pairs_and_table, teardown),
        cmocka_unit_test_teardown(test_find_typed, teardown),
        cmocka_unit_test_teardown(test_delete_finalizes, teardown),
        cmocka_unit_test_teardown(test_ref_outlives_delete, teardown),
        cmocka_unit_test_teardown(test_users_object, teardown),
        cmocka_unit_test_teardown(test_users_free_form, teardown),
        cmocka_unit_test_teardown(test_duplicate_id, teardown),
        cmocka_unit_test_teardown(test_missing_id, teardown),
        cmocka_unit_test_teardown(test_bad_ids, teardown),
        cmocka_unit_test_teardown(test_unknown_type, teardown),
        cmocka_unit_test_teardown(test_unknown_property, teardown),
        cmocka_unit_test_teardown(test_wrong_value_type, teardown),
        cmocka_unit_test_teardown(test_out_of_range, teardown),
        cmocka_unit_test_teardown(test_enum_bad_name, teardown),
        cmocka_unit_test_teardown(test_size_suffixes, teardown),
        cmocka_unit_test_teardown(test_duplicate_property, teardown),
        cmocka_unit_test_teardown(test_init_failure, teardown),
        cmocka_unit_test_teardown(test_table_clear, teardown),
        cmocka_unit_test_teardown(test_threads, teardown),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
