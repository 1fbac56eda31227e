/*
 * Unit tests for the --object front end in qom/object-cli.c: objects made
 * from the keyval and the JSON forms, JSON value types, syntax errors
 * (QOM_ERROR_PARSE), the errors of the object layer as seen through the
 * command line, help output, labels that never repeat a value, and
 * structured (JsonNode) properties, set from a JSON value or from
 * "NAME.INDEX.FIELD" keys assembled into a list.  The object types are
 * defined here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <gio/gio.h>
#include <string.h>

#include "qom/object-cli.h"

static int gadgets_finalized;

/* ---- CliMode enum ------------------------------------------------------- */

static GType cli_mode_get_type(void)
{
    static gsize type;
    static const GEnumValue values[] = {
        { 0, "CLI_MODE_CLIENT", "client" },
        { 1, "CLI_MODE_SERVER", "server" },
        { 0, NULL, NULL },
    };

    if (g_once_init_enter(&type)) {
        g_once_init_leave(&type, g_enum_register_static("CliMode", values));
    }
    return type;
}

/* ---- CliGadget: one property per kind, GInitable ------------------------ */

#define CLI_TYPE_GADGET (cli_gadget_get_type())
G_DECLARE_FINAL_TYPE(CliGadget, cli_gadget, CLI, GADGET, GObject)

struct _CliGadget {
    GObject parent;
    gboolean verbose;
    gint count;
    guint port;
    guint64 limit;
    gdouble ratio;
    char *name;
    char *data;
    gint mode;
};

enum {
    G_PROP_0,
    G_PROP_VERBOSE,
    G_PROP_COUNT,
    G_PROP_PORT,
    G_PROP_LIMIT,
    G_PROP_RATIO,
    G_PROP_NAME,
    G_PROP_DATA,
    G_PROP_MODE,
    G_PROP_HIDDEN,
    G_PROP_STATE,
    G_N_PROPS,
};

static void cli_gadget_initable_iface_init(GInitableIface *iface);

G_DEFINE_TYPE_WITH_CODE(CliGadget, cli_gadget, G_TYPE_OBJECT,
                        G_IMPLEMENT_INTERFACE(G_TYPE_INITABLE,
                                              cli_gadget_initable_iface_init))

static gboolean cli_gadget_init_check(GInitable *initable,
                                      GCancellable *cancellable, GError **errp)
{
    CliGadget *g = CLI_GADGET(initable);

    if (g->mode == 1 && g->port == 0) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                    "a server needs a 'port'");
        return FALSE;
    }
    return TRUE;
}

static void cli_gadget_initable_iface_init(GInitableIface *iface)
{
    iface->init = cli_gadget_init_check;
}

static void cli_gadget_set_property(GObject *obj, guint id, const GValue *value,
                                    GParamSpec *pspec)
{
    CliGadget *g = CLI_GADGET(obj);

    switch (id) {
    case G_PROP_VERBOSE:
        g->verbose = g_value_get_boolean(value);
        break;
    case G_PROP_COUNT:
        g->count = g_value_get_int(value);
        break;
    case G_PROP_PORT:
        g->port = g_value_get_uint(value);
        break;
    case G_PROP_LIMIT:
        g->limit = g_value_get_uint64(value);
        break;
    case G_PROP_RATIO:
        g->ratio = g_value_get_double(value);
        break;
    case G_PROP_NAME:
        g_free(g->name);
        g->name = g_value_dup_string(value);
        break;
    case G_PROP_DATA:
        g_free(g->data);
        g->data = g_value_dup_string(value);
        break;
    case G_PROP_MODE:
        g->mode = g_value_get_enum(value);
        break;
    case G_PROP_HIDDEN:
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, pspec);
    }
}

static void cli_gadget_get_property(GObject *obj, guint id, GValue *value,
                                    GParamSpec *pspec)
{
    switch (id) {
    case G_PROP_STATE:
        g_value_set_string(value, "ready");
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, pspec);
    }
}

static void cli_gadget_finalize(GObject *obj)
{
    CliGadget *g = CLI_GADGET(obj);

    g_free(g->name);
    g_free(g->data);
    gadgets_finalized++;
    G_OBJECT_CLASS(cli_gadget_parent_class)->finalize(obj);
}

static void cli_gadget_class_init(CliGadgetClass *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);
    const GParamFlags w = G_PARAM_WRITABLE | G_PARAM_STATIC_STRINGS;
    GParamSpec *props[G_N_PROPS] = { NULL };

    oc->set_property = cli_gadget_set_property;
    oc->get_property = cli_gadget_get_property;
    oc->finalize = cli_gadget_finalize;

    props[G_PROP_VERBOSE] =
        g_param_spec_boolean("verbose", "Verbose", "Say more", FALSE, w);
    props[G_PROP_COUNT] =
        g_param_spec_int("count", "Count", "How many", 0, 100, 10, w);
    props[G_PROP_PORT] =
        g_param_spec_uint("port", "Port", "TCP port", 0, 65535, 0, w);
    props[G_PROP_LIMIT] = qom_param_spec_mark_size(g_param_spec_uint64(
        "limit", "Limit", "Bytes at most", 0, G_MAXUINT64, 0, w));
    props[G_PROP_RATIO] =
        g_param_spec_double("ratio", "Ratio", "A fraction", 0.0, 1.0, 0.5, w);
    props[G_PROP_NAME] =
        g_param_spec_string("name", "Name", "What to call it", "gadget", w);
    props[G_PROP_DATA] =
        g_param_spec_string("data", "Data", "Secret bytes", NULL, w);
    props[G_PROP_MODE] = g_param_spec_enum("mode", "Mode", "Which end",
                                           cli_mode_get_type(), 0, w);
    props[G_PROP_HIDDEN] = qom_param_spec_mark_hidden(
        g_param_spec_string("backdoor", "Hidden", "Internal", NULL, w));
    props[G_PROP_STATE] =
        g_param_spec_string("state", "State", "Read only", NULL,
                            G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
    g_object_class_install_properties(oc, G_N_PROPS, props);
}

static void cli_gadget_init(CliGadget *g)
{
    g->count = 10;
    g->ratio = 0.5;
    g->name = g_strdup("gadget");
}

/* ---- CliBase: abstract, described; CliDerived --------------------------- */

#define CLI_TYPE_BASE (cli_base_get_type())
G_DECLARE_DERIVABLE_TYPE(CliBase, cli_base, CLI, BASE, GObject)

struct _CliBaseClass {
    GObjectClass parent_class;
};

G_DEFINE_ABSTRACT_TYPE(CliBase, cli_base, G_TYPE_OBJECT)

static void cli_base_class_init(CliBaseClass *klass)
{
}

static void cli_base_init(CliBase *b)
{
}

#define CLI_TYPE_DERIVED (cli_derived_get_type())
G_DECLARE_FINAL_TYPE(CliDerived, cli_derived, CLI, DERIVED, CliBase)

struct _CliDerived {
    CliBase parent;
};

G_DEFINE_TYPE(CliDerived, cli_derived, CLI_TYPE_BASE)

static void cli_derived_class_init(CliDerivedClass *klass)
{
}

static void cli_derived_init(CliDerived *d)
{
}

/* ---- CliLister: structured (JsonNode) properties ----------------------- */

#define CLI_TYPE_LISTER (cli_lister_get_type())
G_DECLARE_FINAL_TYPE(CliLister, cli_lister, CLI, LISTER, GObject)

struct _CliLister {
    GObject parent;
    JsonNode *items;
    JsonNode *tags;
    char *label;
};

enum {
    L_PROP_0,
    L_PROP_ITEMS,
    L_PROP_TAGS,
    L_PROP_LABEL,
    L_N_PROPS,
};

G_DEFINE_TYPE(CliLister, cli_lister, G_TYPE_OBJECT)

static void cli_lister_set_property(GObject *obj, guint id, const GValue *value,
                                    GParamSpec *pspec)
{
    CliLister *l = CLI_LISTER(obj);

    switch (id) {
    case L_PROP_ITEMS:
        g_clear_pointer(&l->items, json_node_unref);
        l->items = g_value_dup_boxed(value);
        break;
    case L_PROP_TAGS:
        g_clear_pointer(&l->tags, json_node_unref);
        l->tags = g_value_dup_boxed(value);
        break;
    case L_PROP_LABEL:
        g_free(l->label);
        l->label = g_value_dup_string(value);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(obj, id, pspec);
    }
}

static void cli_lister_finalize(GObject *obj)
{
    CliLister *l = CLI_LISTER(obj);

    g_clear_pointer(&l->items, json_node_unref);
    g_clear_pointer(&l->tags, json_node_unref);
    g_free(l->label);
    G_OBJECT_CLASS(cli_lister_parent_class)->finalize(obj);
}

static void cli_lister_class_init(CliListerClass *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);
    const GParamFlags w = G_PARAM_WRITABLE | G_PARAM_STATIC_STRINGS;
    GParamSpec *props[L_N_PROPS] = { NULL };

    oc->set_property = cli_lister_set_property;
    oc->finalize = cli_lister_finalize;
    props[L_PROP_ITEMS] =
        g_param_spec_boxed("items", "Items", "A list", JSON_TYPE_NODE, w);
    props[L_PROP_TAGS] =
        g_param_spec_boxed("tags", "Tags", "Another list", JSON_TYPE_NODE, w);
    props[L_PROP_LABEL] =
        g_param_spec_string("label", "Label", "Plain text", NULL, w);
    g_object_class_install_properties(oc, L_N_PROPS, props);
}

static void cli_lister_init(CliLister *l)
{
}

/* ---- Fixtures ----------------------------------------------------------- */

static int group_setup(void **state)
{
    qom_type_register("cli-gadget", CLI_TYPE_GADGET);
    qom_type_register("cli-base", CLI_TYPE_BASE);
    qom_type_set_description(CLI_TYPE_BASE, "test base objects");
    qom_type_register("cli-derived", CLI_TYPE_DERIVED);
    qom_type_register("cli-lister", CLI_TYPE_LISTER);
    return 0;
}

static int teardown(void **state)
{
    qom_object_table_clear();
    return 0;
}

#define NEEDLES(...) ((const char *const[]){ __VA_ARGS__, NULL })

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

/* --object @arg must fail with @code, leaving the table unchanged. */
static GError *cli_fails(const char *arg, int code)
{
    g_auto(GStrv) before = qom_object_list_ids();
    g_auto(GStrv) after = NULL;
    GError *err = NULL;

    if (qom_object_add_from_cli(arg, &err)) {
        fail_msg("'%s' accepted", arg);
    }
    assert_non_null(err);
    if (!g_error_matches(err, QOM_ERROR, code)) {
        fail_msg("'%s': expected code %d, got %s %d: %s", arg, code,
                 g_quark_to_string(err->domain), err->code, err->message);
    }
    after = qom_object_list_ids();
    assert_int_equal(g_strv_length(before), g_strv_length(after));
    return err;
}

static GObject *cli_ok(const char *arg)
{
    g_autoptr(GError) err = NULL;
    GObject *obj = qom_object_add_from_cli(arg, &err);

    if (!obj) {
        fail_msg("'%s' rejected: %s", arg, err->message);
    }
    return obj;
}

/* ---- Keyval form -------------------------------------------------------- */

static void test_keyval_add(void **state)
{
    CliGadget *g = CLI_GADGET(
        cli_ok("cli-gadget,id=g0,verbose=on,count=5,port=0x50,limit=1.5M,"
               "ratio=0.125,name=a,,b,mode=server,data="));

    assert_true(g->verbose);
    assert_int_equal(g->count, 5);
    assert_int_equal(g->port, 80);
    assert_int_equal(g->limit, 3 << 19);
    assert_true(g->ratio == 0.125);
    assert_string_equal(g->name, "a,b");
    assert_string_equal(g->data, "");
    assert_int_equal(g->mode, 1);
    assert_ptr_equal(qom_object_find("g0"), g);
    assert_string_equal(qom_object_get_id(G_OBJECT(g)), "g0");

    /* Explicit qom-type, a trailing comma, and then delete. */
    cli_ok("qom-type=cli-derived,id=d0,");
    assert_non_null(qom_object_find_typed("d0", CLI_TYPE_BASE, NULL));
    assert_true(qom_object_del("d0", NULL));
    assert_true(qom_object_del("g0", NULL));
    assert_null(qom_object_find("g0"));
}

static void test_keyval_syntax(void **state)
{
    g_autoptr(GError) err = NULL;

    err = cli_fails("cli-gadget,id=g0,verbose", QOM_ERROR_PARSE);
    check_error(err, QOM_ERROR_PARSE, NEEDLES("after 'id'"));
    g_clear_error(&err);
    err = cli_fails("cli-gadget,id=g0,=1", QOM_ERROR_PARSE);
    g_clear_error(&err);
    err = cli_fails(",id=g0", QOM_ERROR_PARSE);
    g_clear_error(&err);
    err = cli_fails("cli-gadget,id=g0,na me=x", QOM_ERROR_PARSE);
    check_error(err, QOM_ERROR_PARSE, NEEDLES("'na me'"));
    g_clear_error(&err);
    err = cli_fails("cli-gadget,id=g0,data=hunter2,data=hunter3",
                    QOM_ERROR_PARSE);
    check_error(err, QOM_ERROR_PARSE, NEEDLES("'data'"));
    assert_null(strstr(err->message, "hunter"));
    g_clear_error(&err);
    err = cli_fails("cli-gadget,id=g0,help", QOM_ERROR_PARSE);
    check_error(err, QOM_ERROR_PARSE, NEEDLES("help"));
}

static void test_keyval_errors(void **state)
{
    g_autoptr(GError) err = NULL;

    err = cli_fails("cli-gadgte,id=g0", QOM_ERROR_UNKNOWN_TYPE);
    check_error(err, QOM_ERROR_UNKNOWN_TYPE,
                NEEDLES("'cli-gadgte'", "did you mean 'cli-gadget'"));
    g_clear_error(&err);
    err = cli_fails("id=g0", QOM_ERROR_UNKNOWN_TYPE);
    g_clear_error(&err);
    err = cli_fails("cli-base,id=b0", QOM_ERROR_UNKNOWN_TYPE);
    check_error(err, QOM_ERROR_UNKNOWN_TYPE, NEEDLES("abstract"));
    g_clear_error(&err);
    err = cli_fails("cli-gadget,count=1", QOM_ERROR_MISSING_ID);
    check_error(err, QOM_ERROR_MISSING_ID,
                NEEDLES("object type 'cli-gadget' needs an 'id'"));
    g_clear_error(&err);
    err = cli_fails("cli-gadget,id=0g", QOM_ERROR_INVALID_ID);
    check_error(err, QOM_ERROR_INVALID_ID, NEEDLES("'0g'"));
    g_clear_error(&err);
    err = cli_fails("cli-gadget,id=g0,dat=x", QOM_ERROR_UNKNOWN_PROPERTY);
    check_error(err, QOM_ERROR_UNKNOWN_PROPERTY,
                NEEDLES("object 'g0' of type 'cli-gadget' has no property "
                        "'dat'",
                        "did you mean 'data'"));
    g_clear_error(&err);
    err = cli_fails("cli-gadget,id=g0,backdoor=x", QOM_ERROR_UNKNOWN_PROPERTY);
    g_clear_error(&err);
    err = cli_fails("cli-gadget,id=g0,state=x", QOM_ERROR_NOT_SETTABLE);
    g_clear_error(&err);
    err = cli_fails("cli-gadget,id=g0,port=70000", QOM_ERROR_INVALID_VALUE);
    check_error(err, QOM_ERROR_INVALID_VALUE,
                NEEDLES("property 'port' of object 'g0': 70000 is out of "
                        "range (0-65535)"));
    g_clear_error(&err);
    err = cli_fails("cli-gadget,id=g0,verbose=si", QOM_ERROR_INVALID_VALUE);
    check_error(err, QOM_ERROR_INVALID_VALUE,
                NEEDLES("'verbose'", "'g0'", "boolean"));
    g_clear_error(&err);
    err = cli_fails("cli-gadget,id=g0,mode=both", QOM_ERROR_INVALID_VALUE);
    check_error(err, QOM_ERROR_INVALID_VALUE,
                NEEDLES("'mode'", "client, server"));
    g_clear_error(&err);
    err = cli_fails("cli-gadget,id=g0,limit=16E", QOM_ERROR_INVALID_VALUE);
    check_error(err, QOM_ERROR_INVALID_VALUE, NEEDLES("'limit'"));
    g_clear_error(&err);
    err = cli_fails("cli-gadget,id=g0,count=5,count_=6",
                    QOM_ERROR_UNKNOWN_PROPERTY);
    g_clear_error(&err);

    /* GInitable errors keep their domain and gain the id. */
    assert_null(qom_object_add_from_cli("cli-gadget,id=g0,mode=server", &err));
    assert_true(g_error_matches(err, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT));
    assert_string_equal(err->message, "object 'g0': a server needs a 'port'");
    assert_null(qom_object_find("g0"));
    g_clear_error(&err);

    cli_ok("cli-gadget,id=g0");
    err = cli_fails("cli-derived,id=g0", QOM_ERROR_DUPLICATE_ID);
    check_error(err, QOM_ERROR_DUPLICATE_ID,
                NEEDLES("an object with id 'g0' already exists"));
}

/* ---- JSON form ---------------------------------------------------------- */

static void test_json_add(void **state)
{
    CliGadget *g =
        CLI_GADGET(cli_ok("{\"qom-type\": \"cli-gadget\", \"id\": \"j0\", "
                          "\"verbose\": true, \"count\": 7, \"port\": \"80\", "
                          "\"limit\": \"4k\", \"ratio\": 0.25, "
                          "\"name\": \"a,b\", \"mode\": \"server\"}"));

    assert_true(g->verbose);
    assert_int_equal(g->count, 7);
    assert_int_equal(g->port, 80);
    assert_int_equal(g->limit, 4096);
    assert_true(g->ratio == 0.25);
    assert_string_equal(g->name, "a,b");
    assert_int_equal(g->mode, 1);
    assert_ptr_equal(qom_object_find("j0"), g);
}

static void test_json_conversions(void **state)
{
    CliGadget *g;

    /* Strings are parsed like keyval values. */
    g = CLI_GADGET(cli_ok("{\"qom-type\":\"cli-gadget\",\"id\":\"a\","
                          "\"verbose\":\"on\",\"count\":\"0x10\"}"));
    assert_true(g->verbose);
    assert_int_equal(g->count, 16);
    /* Integral numbers fit integer properties; integers fit doubles. */
    g = CLI_GADGET(cli_ok("{\"qom-type\":\"cli-gadget\",\"id\":\"b\","
                          "\"count\":1.0,\"port\":1e3,\"ratio\":1,"
                          "\"limit\":65536}"));
    assert_int_equal(g->count, 1);
    assert_int_equal(g->port, 1000);
    assert_true(g->ratio == 1.0);
    assert_int_equal(g->limit, 65536);
    /* Integers and booleans become text for string properties. */
    g = CLI_GADGET(cli_ok("{\"qom-type\":\"cli-gadget\",\"id\":\"c\","
                          "\"name\":42,\"data\":false}"));
    assert_string_equal(g->name, "42");
    assert_string_equal(g->data, "false");
}

static void test_json_wrong_types(void **state)
{
    static const struct {
        const char *member;
        const char *needle;
    } cases[] = {
        { "\"count\": 1.5", "integer" },
        { "\"count\": -1", "out of range" },
        { "\"count\": 101", "out of range" },
        { "\"count\": true", "got a boolean" },
        { "\"count\": \"many\"", "integer" },
        { "\"verbose\": 1", "got a number" },
        { "\"verbose\": \"1\"", "boolean" },
        { "\"mode\": 1", "got a number" },
        { "\"ratio\": 2", "out of range" },
        { "\"ratio\": false", "got a boolean" },
        { "\"name\": 1.5", "got a number" },
        { "\"limit\": -1", "out of range" },
        { "\"limit\": 1.5", "not a size" },
        { "\"name\": null", "got null" },
        { "\"name\": [\"a\"]", "array" },
        { "\"name\": {\"a\": 1}", "nested objects" },
        { "\"port\": 1e30", "port" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *arg = g_strdup_printf(
            "{\"qom-type\":\"cli-gadget\",\"id\":\"g0\",%s}", cases[i].member);
        g_autoptr(GError) err = cli_fails(arg, QOM_ERROR_INVALID_VALUE);
        check_error(err, QOM_ERROR_INVALID_VALUE,
                    NEEDLES("of object 'g0'", cases[i].needle));
    }
}

static void test_json_structure(void **state)
{
    g_autoptr(GError) err = NULL;

    err = cli_fails("{\"qom-type\":\"cli-gadget\",\"id\":\"g0\"",
                    QOM_ERROR_PARSE);
    check_error(err, QOM_ERROR_PARSE, NEEDLES("invalid JSON"));
    g_clear_error(&err);
    /* json-glib would quote the bad token: it may be a secret. */
    err = cli_fails("{\"qom-type\":\"cli-gadget\",\"data\":\"hunter2",
                    QOM_ERROR_PARSE);
    check_error(err, QOM_ERROR_PARSE, NEEDLES("invalid JSON at line 1"));
    assert_null(strstr(err->message, "hunter"));
    g_clear_error(&err);
    err = cli_fails("{\"data\":hunter2}", QOM_ERROR_PARSE);
    assert_null(strstr(err->message, "hunter"));
    g_clear_error(&err);
    err = cli_fails("{\"qom-type\":\"cli-gadget\",\"id\":\"g0\"} x",
                    QOM_ERROR_PARSE);
    g_clear_error(&err);
    err = cli_fails("[\"cli-gadget\"]", QOM_ERROR_PARSE);
    check_error(err, QOM_ERROR_PARSE, NEEDLES("must be an object"));
    g_clear_error(&err);
    err = cli_fails("{\"qom-type\":\"cli-gadget\",\"id\":\"g0\","
                    "\"data\":\"hunter2\",\"data\":\"hunter3\"}",
                    QOM_ERROR_PARSE);
    check_error(err, QOM_ERROR_PARSE, NEEDLES("'data'"));
    assert_null(strstr(err->message, "hunter"));
    g_clear_error(&err);
    err = cli_fails("{\"qom-type\":1,\"id\":\"g0\"}", QOM_ERROR_INVALID_VALUE);
    check_error(err, QOM_ERROR_INVALID_VALUE, NEEDLES("'qom-type'"));
    g_clear_error(&err);
    err = cli_fails("{\"qom-type\":\"cli-gadget\",\"id\":[]}",
                    QOM_ERROR_INVALID_VALUE);
    check_error(err, QOM_ERROR_INVALID_VALUE, NEEDLES("'id'"));
    g_clear_error(&err);
    err = cli_fails("{\"id\":\"g0\"}", QOM_ERROR_UNKNOWN_TYPE);
    g_clear_error(&err);
    err = cli_fails("{\"qom-type\":\"cli-gadget\"}", QOM_ERROR_MISSING_ID);
    check_error(err, QOM_ERROR_MISSING_ID, NEEDLES("'cli-gadget'"));
    g_clear_error(&err);
    err = cli_fails("{\"qom-type\":\"cli-gadget\",\"id\":\"g0\","
                    "\"colour\":1}",
                    QOM_ERROR_UNKNOWN_PROPERTY);
    check_error(err, QOM_ERROR_UNKNOWN_PROPERTY, NEEDLES("'colour'"));
}

/* ---- Help --------------------------------------------------------------- */

static void test_help_types(void **state)
{
    g_autoptr(GString) out = g_string_new(NULL);
    g_autoptr(GError) err = NULL;

    assert_int_equal(qom_object_cli_help("help", out, &err), 1);
    assert_non_null(strstr(out->str, "  cli-derived\n"));
    assert_non_null(strstr(out->str, "  cli-gadget\n"));
    assert_null(strstr(out->str, "cli-base")); /* abstract */

    g_string_truncate(out, 0);
    assert_int_equal(qom_object_cli_help("?", out, &err), 1);
    assert_non_null(strstr(out->str, "cli-gadget"));
}

static void test_help_properties(void **state)
{
    g_autoptr(GString) out = g_string_new(NULL);
    g_autoptr(GError) err = NULL;

    assert_int_equal(qom_object_cli_help("cli-gadget,help", out, &err), 1);
    assert_non_null(strstr(out->str, "'cli-gadget'"));
    assert_non_null(strstr(out->str, "id=<string>"));
    assert_non_null(strstr(out->str, "verbose=<bool>"));
    assert_non_null(strstr(out->str, "Say more (default: off)"));
    assert_non_null(strstr(out->str, "count=<int>"));
    assert_non_null(strstr(out->str, "How many (0 to 100, default: 10)"));
    assert_non_null(strstr(out->str, "port=<uint>"));
    assert_non_null(strstr(out->str, "0 to 65535"));
    assert_non_null(strstr(out->str, "limit=<size>"));
    assert_non_null(strstr(out->str, "ratio=<number>"));
    assert_non_null(strstr(out->str, "name=<string>"));
    assert_non_null(strstr(out->str, "default: gadget"));
    assert_non_null(strstr(out->str, "mode=<client|server>"));
    assert_non_null(strstr(out->str, "default: client"));
    assert_null(strstr(out->str, "backdoor"));
    assert_null(strstr(out->str, "state"));
    /* Sorted by name. */
    assert_true(strstr(out->str, "count=") < strstr(out->str, "verbose="));

    /* help anywhere after the type; other keys are ignored. */
    g_string_truncate(out, 0);
    assert_int_equal(qom_object_cli_help("cli-gadget,id=x,help", out, &err), 1);
    assert_non_null(strstr(out->str, "verbose=<bool>"));

    g_string_truncate(out, 0);
    assert_int_equal(qom_object_cli_help("cli-base,help", out, &err), 1);
    assert_non_null(strstr(out->str, "test base objects"));
    assert_non_null(strstr(out->str, "abstract; create one of: "
                                     "cli-derived"));
}

static void test_help_not_requested(void **state)
{
    g_autoptr(GString) out = g_string_new(NULL);
    g_autoptr(GError) err = NULL;

    assert_int_equal(qom_object_cli_help("cli-gadget,id=g0", out, &err), 0);
    assert_int_equal(qom_object_cli_help("{\"qom-type\":\"help\"}", out, &err),
                     0);
    /* Syntax errors without help are left for the add call. */
    assert_int_equal(qom_object_cli_help("cli-gadget,bad", out, &err), 0);
    assert_int_equal(out->len, 0);
    assert_null(err);

    assert_int_equal(qom_object_cli_help("nosuch,help", out, &err), -1);
    check_error(err, QOM_ERROR_UNKNOWN_TYPE, NEEDLES("'nosuch'", "cli-gadget"));
    g_clear_error(&err);
    assert_int_equal(qom_object_cli_help("cli-gadget,help,bad", out, &err), -1);
    check_error(err, QOM_ERROR_PARSE, NEEDLES("after 'qom-type'"));
    assert_int_equal(out->len, 0);
}

/* ---- Labels and dependencies -------------------------------------------- */

static void test_describe(void **state)
{
    static const struct {
        const char *arg, *label;
    } cases[] = {
        { "cli-gadget,id=g0,data=hunter2", "cli-gadget,id=g0" },
        { "cli-gadget,data=hunter2", "cli-gadget" },
        { "id=g0,data=hunter2", "?,id=g0" },
        { "{\"qom-type\":\"cli-gadget\",\"id\":\"j0\",\"data\":\"hunter2\"}",
          "cli-gadget,id=j0" },
        { "{\"data\":\"hunter2\"", "?" },
        { "cli-gadget,data", "cli-gadget" },
        { "data=hunter2,x", "?" },
        { "", "?" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *label = qom_object_cli_describe(cases[i].arg);
        assert_string_equal(label, cases[i].label);
    }
}

static void test_in_use_through_cli(void **state)
{
    g_autoptr(GError) err = NULL;
    int before = gadgets_finalized;

    cli_ok("cli-gadget,id=sec0,data=x");
    assert_true(qom_object_add_user("sec0", "tls0", &err));
    assert_false(qom_object_del("sec0", &err));
    check_error(err, QOM_ERROR_IN_USE,
                NEEDLES("object 'sec0' is in use by 'tls0'"));
    g_clear_error(&err);
    assert_true(qom_object_remove_user("sec0", "tls0"));
    assert_true(qom_object_del("sec0", &err));
    assert_int_equal(gadgets_finalized, before + 1);
}

/* ---- Lists from dotted keys and JSON ------------------------------------ */

/* Element @index of @node, an array of objects, member @name as text. */
static const char *list_member(JsonNode *node, guint index, const char *name)
{
    JsonArray *array;
    JsonObject *obj;

    assert_non_null(node);
    assert_true(JSON_NODE_HOLDS_ARRAY(node));
    array = json_node_get_array(node);
    assert_true(index < json_array_get_length(array));
    obj = json_array_get_object_element(array, index);
    assert_non_null(obj);
    if (!json_object_has_member(obj, name)) {
        return NULL;
    }
    return json_object_get_string_member(obj, name);
}

static guint list_length(JsonNode *node)
{
    assert_true(JSON_NODE_HOLDS_ARRAY(node));
    return json_array_get_length(json_node_get_array(node));
}

static void test_list_keyval(void **state)
{
    CliLister *l;
    g_autoptr(GHashTable) table = NULL;
    g_autoptr(GError) err = NULL;

    l = CLI_LISTER(cli_ok("cli-lister,id=l0,items.0.a=1,items.0.b=x,,y,"
                          "label=plain,items.1.a=2"));
    assert_int_equal(list_length(l->items), 2);
    /* Values stay strings: the class decides what they mean. */
    assert_string_equal(list_member(l->items, 0, "a"), "1");
    assert_string_equal(list_member(l->items, 0, "b"), "x,y");
    assert_string_equal(list_member(l->items, 1, "a"), "2");
    assert_null(list_member(l->items, 1, "b"));
    assert_string_equal(l->label, "plain");
    assert_null(l->tags);

    /* The index orders elements, not the position of the keys. */
    l = CLI_LISTER(cli_ok("cli-lister,id=l1,items.2.a=c,tags.0.t=x,"
                          "items.0.a=a,items.1.a=b"));
    assert_int_equal(list_length(l->items), 3);
    assert_string_equal(list_member(l->items, 0, "a"), "a");
    assert_string_equal(list_member(l->items, 1, "a"), "b");
    assert_string_equal(list_member(l->items, 2, "a"), "c");
    assert_int_equal(list_length(l->tags), 1);
    assert_string_equal(list_member(l->tags, 0, "t"), "x");

    /* Ten or more elements: indices are numbers, not strings. */
    l = CLI_LISTER(cli_ok("cli-lister,id=l2,items.10.a=k,items.9.a=j,"
                          "items.8.a=i,items.7.a=h,items.6.a=g,items.5.a=f,"
                          "items.4.a=e,items.3.a=d,items.2.a=c,items.1.a=b,"
                          "items.0.a=a"));
    assert_int_equal(list_length(l->items), 11);
    assert_string_equal(list_member(l->items, 10, "a"), "k");

    /* The table and C-call entry points assemble too. */
    table = g_hash_table_new(g_str_hash, g_str_equal);
    g_hash_table_insert(table, "items.0.a", "t0");
    g_hash_table_insert(table, "items.1.a", "t1");
    l = CLI_LISTER(qom_object_add_table("cli-lister", "l3", table, &err));
    assert_non_null(l);
    assert_int_equal(list_length(l->items), 2);
    l = CLI_LISTER(qom_object_add_props("cli-lister", "l4", &err, "items.0.a",
                                        "p0", NULL));
    assert_non_null(l);
    assert_string_equal(list_member(l->items, 0, "a"), "p0");
}

static void test_list_json(void **state)
{
    CliLister *l;

    /* The JSON value is passed on as it is, numbers included. */
    l = CLI_LISTER(cli_ok("{\"qom-type\":\"cli-lister\",\"id\":\"l0\","
                          "\"items\":[{\"a\":\"1\",\"n\":2},[3]],"
                          "\"tags\":{\"k\":\"v\"}}"));
    assert_int_equal(list_length(l->items), 2);
    assert_string_equal(list_member(l->items, 0, "a"), "1");
    assert_true(JSON_NODE_HOLDS_OBJECT(l->tags));
    l = CLI_LISTER(cli_ok("{\"qom-type\":\"cli-lister\",\"id\":\"l1\","
                          "\"items\":\"text\"}"));
    assert_true(JSON_NODE_HOLDS_VALUE(l->items));
}

static void test_list_errors(void **state)
{
    static const struct {
        const char *arg;
        int code;
        const char *needle;
    } cases[] = {
        { "cli-lister,id=l0,items.1.a=x", QOM_ERROR_INVALID_VALUE,
          "'items.1.a'" },
        { "cli-lister,id=l0,items.0.a=x,items.2.a=y,items.3.a=z",
          QOM_ERROR_INVALID_VALUE, "'items.2.a'" },
        { "cli-lister,id=l0,items.0.a=x,items.4294967296.a=y",
          QOM_ERROR_INVALID_VALUE, "'items.4294967296.a'" },
        { "cli-lister,id=l0,items.99999999999999999999.a=y",
          QOM_ERROR_INVALID_VALUE, "'items.99999999999999999999.a'" },
        { "cli-lister,id=l0,items.a.b=x", QOM_ERROR_INVALID_VALUE,
          "'items.a.b'" },
        { "cli-lister,id=l0,items.01.a=x", QOM_ERROR_INVALID_VALUE,
          "'items.01.a'" },
        { "cli-lister,id=l0,items.-1.a=x", QOM_ERROR_INVALID_VALUE,
          "'items.-1.a'" },
        { "cli-lister,id=l0,items.0=x", QOM_ERROR_INVALID_VALUE, "'items.0'" },
        { "cli-lister,id=l0,items.0.a.b=x", QOM_ERROR_INVALID_VALUE,
          "'items.0.a.b'" },
        { "cli-lister,id=l0,items=x", QOM_ERROR_INVALID_VALUE, "JSON form" },
        { "cli-lister,id=l0,label.0.a=x", QOM_ERROR_UNKNOWN_PROPERTY,
          "'label.0.a'" },
        { "cli-lister,id=l0,nosuch.0.a=x", QOM_ERROR_UNKNOWN_PROPERTY,
          "'nosuch.0.a'" },
        /* Dotted keys are a keyval notion; JSON has arrays. */
        { "{\"qom-type\":\"cli-lister\",\"id\":\"l0\","
          "\"items.0.a\":\"x\"}",
          QOM_ERROR_UNKNOWN_PROPERTY, "'items.0.a'" },
        /* Other properties still refuse structured JSON. */
        { "{\"qom-type\":\"cli-lister\",\"id\":\"l0\","
          "\"label\":[\"x\"]}",
          QOM_ERROR_INVALID_VALUE, "array" },
    };
    g_autoptr(GError) err = NULL;

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GError) e = cli_fails(cases[i].arg, cases[i].code);
        check_error(e, cases[i].code, NEEDLES(cases[i].needle));
    }
    /* A field given twice (keyval itself refuses repeated keys). */
    assert_null(qom_object_add_props("cli-lister", "l0", &err, "items.0.a", "x",
                                     "items.0.a", "y", NULL));
    check_error(err, QOM_ERROR_DUPLICATE_PROPERTY, NEEDLES("'items.0.a'"));
    g_clear_error(&err);
    /* Both forms of one property. */
    assert_null(qom_object_add_props("cli-lister", "l0", &err, "items.0.a", "x",
                                     "items", "y", NULL));
    assert_non_null(err);
}

static void test_list_help(void **state)
{
    g_autoptr(GString) out = g_string_new(NULL);

    assert_int_equal(qom_object_cli_help("cli-lister,help", out, NULL), 1);
    assert_non_null(strstr(out->str, "items=<list>"));
    assert_non_null(strstr(out->str, "label=<string>"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_keyval_add, teardown),
        cmocka_unit_test_teardown(test_keyval_syntax, teardown),
        cmocka_unit_test_teardown(test_keyval_errors, teardown),
        cmocka_unit_test_teardown(test_json_add, teardown),
        cmocka_unit_test_teardown(test_json_conversions, teardown),
        cmocka_unit_test_teardown(test_json_wrong_types, teardown),
        cmocka_unit_test_teardown(test_json_structure, teardown),
        cmocka_unit_test_teardown(test_help_types, teardown),
        cmocka_unit_test_teardown(test_help_properties, teardown),
        cmocka_unit_test_teardown(test_help_not_requested, teardown),
        cmocka_unit_test_teardown(test_describe, teardown),
        cmocka_unit_test_teardown(test_in_use_through_cli, teardown),
        cmocka_unit_test_teardown(test_list_keyval, teardown),
        cmocka_unit_test_teardown(test_list_json, teardown),
        cmocka_unit_test_teardown(test_list_errors, teardown),
        cmocka_unit_test_teardown(test_list_help, teardown),
    };

    return cmocka_run_group_tests(tests, group_setup, teardown);
}
