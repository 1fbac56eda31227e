/*
 * Unit tests for the authorization objects in authz/: authz-simple,
 * authz-list (rules from the keyval and the JSON forms of --object, first
 * match wins, default policy, exact and glob matching, every bad rule),
 * authz-listfile (loading, refreshing on change, keeping the old rules
 * when a new version of the file is broken or gone), and the lookups by
 * id that servers use, where a missing or wrong object denies.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "authz/base.h"
#include "authz/list.h"
#include "authz/listfile.h"
#include "authz/simple.h"
#include "qom/object-cli.h"
#include "qom/object.h"

static char *tmpdir;

/* Warnings logged by the code under test, for the refresh tests. */
static GMutex warnings_lock;
static GPtrArray *warnings;

static GLogWriterOutput capture_warnings(GLogLevelFlags level,
                                         const GLogField *fields,
                                         gsize n_fields, gpointer data)
{
    if (level & G_LOG_LEVEL_WARNING) {
        for (gsize i = 0; i < n_fields; i++) {
            if (g_str_equal(fields[i].key, "MESSAGE")) {
                g_mutex_lock(&warnings_lock);
                g_ptr_array_add(warnings, g_strdup(fields[i].value));
                g_mutex_unlock(&warnings_lock);
            }
        }
        return G_LOG_WRITER_HANDLED;
    }
    return g_log_writer_default(level, fields, n_fields, data);
}

static guint warnings_count(void)
{
    guint n;

    g_mutex_lock(&warnings_lock);
    n = warnings->len;
    g_mutex_unlock(&warnings_lock);
    return n;
}

static const char *last_warning(void)
{
    const char *w;

    g_mutex_lock(&warnings_lock);
    w = warnings->len ? g_ptr_array_index(warnings, warnings->len - 1) : "";
    g_mutex_unlock(&warnings_lock);
    return w;
}

/* ---- Fixtures ----------------------------------------------------------- */

/* A type that is not an authorization object. */
#define TEST_TYPE_THING (test_thing_get_type())
G_DECLARE_FINAL_TYPE(TestThing, test_thing, TEST, THING, GObject)

struct _TestThing {
    GObject parent;
};

G_DEFINE_TYPE(TestThing, test_thing, G_TYPE_OBJECT)

static void test_thing_class_init(TestThingClass *klass)
{
}

static void test_thing_init(TestThing *thing)
{
}

static int group_setup(void **state)
{
    qauthz_register_types();
    qom_type_register("test-thing", TEST_TYPE_THING);
    tmpdir = g_dir_make_tmp("qio-authz-XXXXXX", NULL);
    assert_non_null(tmpdir);
    return 0;
}

static int group_teardown(void **state)
{
    GDir *dir = g_dir_open(tmpdir, 0, NULL);
    const char *name;

    while (dir && (name = g_dir_read_name(dir))) {
        g_autofree char *path = g_build_filename(tmpdir, name, NULL);
        g_unlink(path);
    }
    if (dir) {
        g_dir_close(dir);
    }
    g_rmdir(tmpdir);
    g_free(tmpdir);
    return 0;
}

static int teardown(void **state)
{
    qom_object_table_clear();
    return 0;
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

/* --object @arg fails with @domain/@code and a message holding @needle. */
static void cli_fails(const char *arg, GQuark domain, int code,
                      const char *needle)
{
    g_autoptr(GError) err = NULL;

    if (qom_object_add_from_cli(arg, &err)) {
        fail_msg("'%s' accepted", arg);
    }
    if (!g_error_matches(err, domain, code)) {
        fail_msg("'%s': expected %s %d, got %s %d: %s", arg,
                 g_quark_to_string(domain), code,
                 g_quark_to_string(err->domain), err->code, err->message);
    }
    if (needle && !strstr(err->message, needle)) {
        fail_msg("'%s': message '%s' lacks '%s'", arg, err->message, needle);
    }
}

/* qauthz_is_allowed_by_id() must say @allowed; a "no" carries an error. */
static void check(const char *id, const char *identity, bool allowed)
{
    g_autoptr(GError) err = NULL;
    bool got = qauthz_is_allowed_by_id(id, identity, &err);

    if (got != allowed) {
        fail_msg("'%s' asked about '%s': expected %s, got %s%s%s", id, identity,
                 allowed ? "allow" : "deny", got ? "allow" : "deny",
                 err ? ": " : "", err ? err->message : "");
    }
    if (allowed) {
        assert_null(err);
    } else {
        assert_non_null(err);
    }
}

static char *write_file(const char *name, const char *text)
{
    char *path = g_build_filename(tmpdir, name, NULL);

    if (!g_file_set_contents(path, text, -1, NULL)) {
        fail_msg("cannot write %s", path);
    }
    return path;
}

/*
 * Rewrite @path in place (same inode) and give it the modification time
 * @mtime: two writes within one clock tick can otherwise leave every
 * timestamp equal.
 */
static void rewrite_in_place(const char *path, const char *text, time_t mtime)
{
    struct timespec times[2] = {
        { .tv_sec = 0, .tv_nsec = UTIME_OMIT },
        { .tv_sec = mtime, .tv_nsec = 0 },
    };
    int fd = open(path, O_WRONLY | O_TRUNC);
    size_t len = strlen(text);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
    assert_int_equal(utimensat(AT_FDCWD, path, times, 0), 0);
}

/* ---- authz-simple ------------------------------------------------------- */

static void test_simple(void **state)
{
    g_autoptr(GError) err = NULL;
    GObject *obj;

    obj = cli_ok("authz-simple,id=auth0,identity=CN=laptop,,O=Example");
    assert_string_equal(qauthz_simple_get_identity(QAUTHZ_SIMPLE(obj)),
                        "CN=laptop,O=Example");
    check("auth0", "CN=laptop,O=Example", true);
    check("auth0", "CN=laptop,O=example", false);
    check("auth0", "CN=laptop,O=Example ", false);
    check("auth0", "CN=laptop", false);
    check("auth0", "", false);

    /* A denial names the object and the identity. */
    assert_false(qauthz_is_allowed_by_id("auth0", "CN=mallory", &err));
    assert_true(g_error_matches(err, QAUTHZ_ERROR, QAUTHZ_ERROR_DENIED));
    assert_non_null(strstr(err->message, "'auth0'"));
    assert_non_null(strstr(err->message, "'CN=mallory'"));
    g_clear_error(&err);

    /* The object itself, without the lookup. */
    assert_true(
        qauthz_is_allowed(QAUTHZ_AUTHZ(obj), "CN=laptop,O=Example", &err));
    assert_null(err);
    assert_false(qauthz_is_allowed(QAUTHZ_AUTHZ(obj), "x", &err));
    assert_true(g_error_matches(err, QAUTHZ_ERROR, QAUTHZ_ERROR_DENIED));

    cli_fails("authz-simple,id=auth1", QAUTHZ_ERROR,
              QAUTHZ_ERROR_INVALID_ARGUMENT, "'identity'");
    assert_null(qom_object_find("auth1"));
}

/* ---- Lookup by id ------------------------------------------------------- */

static void test_by_id_errors(void **state)
{
    g_autoptr(GError) err = NULL;

    assert_false(qauthz_is_allowed_by_id("nosuch", "CN=fred", &err));
    assert_true(g_error_matches(err, QAUTHZ_ERROR, QAUTHZ_ERROR_NOT_FOUND));
    assert_non_null(strstr(err->message, "'nosuch'"));
    g_clear_error(&err);

    cli_ok("test-thing,id=thing0");
    assert_false(qauthz_is_allowed_by_id("thing0", "CN=fred", &err));
    assert_true(g_error_matches(err, QAUTHZ_ERROR, QAUTHZ_ERROR_WRONG_TYPE));
    assert_non_null(strstr(err->message, "'thing0'"));
    assert_non_null(strstr(err->message, "not an authorization object"));
    g_clear_error(&err);

    /* Deleted objects deny from then on. */
    cli_ok("authz-simple,id=auth0,identity=CN=fred");
    check("auth0", "CN=fred", true);
    assert_true(qom_object_del("auth0", NULL));
    check("auth0", "CN=fred", false);
}

/* ---- authz-list --------------------------------------------------------- */

static void test_list_keyval(void **state)
{
    cli_ok("authz-list,id=auth0,policy=deny,"
           "rules.0.match=*CN=fred*,rules.0.policy=allow,"
           "rules.0.format=glob,"
           "rules.1.match=CN=bob,,O=Example,rules.1.policy=allow");
    check("auth0", "C=GB,O=Example,CN=fred", true);
    /* '*' spans the '/' of slash-separated DNs: no FNM_PATHNAME. */
    check("auth0", "/C=GB/O=Example/CN=fred/emailAddress=f@x", true);
    check("auth0", "CN=bob,O=Example", true);
    check("auth0", "CN=bob,O=Example2", false);
    check("auth0", "CN=alice", false);
}

static void test_list_json(void **state)
{
    GObject *obj;
    JsonNode *rules = NULL;

    obj = cli_ok("{\"qom-type\":\"authz-list\",\"id\":\"auth0\","
                 "\"policy\":\"deny\",\"rules\":["
                 "{\"match\":\"*CN=fred*\",\"policy\":\"allow\","
                 "\"format\":\"glob\"},"
                 "{\"match\":\"CN=bob\",\"policy\":\"allow\"}]}");
    check("auth0", "O=Example,CN=fred", true);
    check("auth0", "CN=bob", true);
    check("auth0", "CN=bobby", false);
    /* The rules read back as they were given. */
    g_object_get(obj, "rules", &rules, NULL);
    assert_non_null(rules);
    assert_true(JSON_NODE_HOLDS_ARRAY(rules));
    assert_int_equal(json_array_get_length(json_node_get_array(rules)), 2);
    json_node_unref(rules);
}

static void test_list_order(void **state)
{
    /* First match wins: mallory is denied before the catch-all. */
    cli_ok("authz-list,id=auth0,policy=deny,"
           "rules.0.match=CN=mallory*,rules.0.format=glob,"
           "rules.0.policy=deny,"
           "rules.1.match=*,rules.1.format=glob,rules.1.policy=allow");
    check("auth0", "CN=mallory,O=Example", false);
    check("auth0", "CN=alice,O=Example", true);

    /* The same rules the other way round: the catch-all wins. */
    cli_ok("authz-list,id=auth1,policy=deny,"
           "rules.0.match=*,rules.0.format=glob,rules.0.policy=allow,"
           "rules.1.match=CN=mallory*,rules.1.format=glob,"
           "rules.1.policy=deny");
    check("auth1", "CN=mallory,O=Example", true);

    /* Keys in any order: the index decides, not the position. */
    cli_ok("authz-list,id=auth2,rules.1.match=*,rules.1.format=glob,"
           "rules.1.policy=allow,rules.0.policy=deny,rules.0.match=CN=eve");
    check("auth2", "CN=eve", false);
    check("auth2", "CN=adam", true);
}

static void test_list_default_policy(void **state)
{
    GObject *obj;
    g_autoptr(QAuthZListRules) rules = NULL;
    int matched = 0;

    /* No rules at all: the policy decides, and defaults to deny. */
    cli_ok("authz-list,id=deny0");
    check("deny0", "CN=anyone", false);
    cli_ok("authz-list,id=allow0,policy=allow");
    check("allow0", "CN=anyone", true);

    /* Rules that do not match fall through to the policy. */
    obj = cli_ok("authz-list,id=allow1,policy=allow,"
                 "rules.0.match=CN=eve,rules.0.policy=deny");
    check("allow1", "CN=eve", false);
    check("allow1", "CN=adam", true);
    cli_ok("authz-list,id=deny1,policy=deny,"
           "rules.0.match=CN=adam,rules.0.policy=allow");
    check("deny1", "CN=adam", true);
    check("deny1", "CN=eve", false);

    rules = qauthz_list_get_rules(QAUTHZ_LIST(obj));
    assert_int_equal(qauthz_list_rules_get_length(rules), 1);
    assert_int_equal(qauthz_list_rules_check(rules, "CN=eve", &matched),
                     QAUTHZ_LIST_POLICY_DENY);
    assert_int_equal(matched, 0);
    assert_int_equal(qauthz_list_rules_check(rules, "CN=x", &matched),
                     QAUTHZ_LIST_POLICY_ALLOW);
    assert_int_equal(matched, -1);
}

static void test_list_exact_vs_glob(void **state)
{
    /* The same text, taken literally or as a pattern. */
    cli_ok("authz-list,id=exact,rules.0.match=CN=*,rules.0.policy=allow");
    cli_ok("authz-list,id=glob,rules.0.match=CN=*,rules.0.policy=allow,"
           "rules.0.format=glob");
    check("exact", "CN=*", true);
    check("exact", "CN=fred", false);
    check("glob", "CN=*", true);
    check("glob", "CN=fred", true);
    check("glob", "O=x,CN=fred", false);

    /* Character classes, '?' and quoting work as in fnmatch(3). */
    cli_ok("authz-list,id=glob2,"
           "rules.0.match=CN=host[0-9]?,rules.0.policy=allow,"
           "rules.0.format=glob,"
           "rules.1.match=CN=\\*lit,rules.1.policy=allow,"
           "rules.1.format=glob");
    check("glob2", "CN=host1a", true);
    check("glob2", "CN=hostx1", false);
    check("glob2", "CN=*lit", true);
    check("glob2", "CN=xlit", false);
    /* A leading '.' is not special (no FNM_PERIOD). */
    cli_ok("authz-list,id=glob3,rules.0.match=*,rules.0.policy=allow,"
           "rules.0.format=glob");
    check("glob3", ".hidden", true);
}

static void test_list_bad_rules(void **state)
{
    static const struct {
        const char *arg;
        GQuark domain;
        int code;
        const char *needle;
    } cases[] = {
        { "authz-list,id=a0,rules.0.match=x,rules.0.policy=maybe", 0,
          QAUTHZ_ERROR_INVALID_ARGUMENT, "rules.0.policy" },
        { "authz-list,id=a0,rules.0.match=x,rules.0.policy=allow,"
          "rules.0.format=regex",
          0, QAUTHZ_ERROR_INVALID_ARGUMENT, "rules.0.format" },
        { "authz-list,id=a0,rules.0.policy=allow", 0,
          QAUTHZ_ERROR_INVALID_ARGUMENT, "'match' is missing" },
        { "authz-list,id=a0,rules.0.match=x", 0, QAUTHZ_ERROR_INVALID_ARGUMENT,
          "'policy' is missing" },
        { "authz-list,id=a0,rules.0.match=x,rules.0.policy=allow,"
          "rules.1.match=y,rules.1.polcy=allow",
          0, QAUTHZ_ERROR_INVALID_ARGUMENT, "rules.1.polcy" },
        { "{\"qom-type\":\"authz-list\",\"id\":\"a0\",\"rules\":"
          "[{\"match\":\"x\",\"policy\":\"allow\"},\"CN=y\"]}",
          0, QAUTHZ_ERROR_INVALID_ARGUMENT, "rules.1" },
        { "{\"qom-type\":\"authz-list\",\"id\":\"a0\",\"rules\":"
          "[{\"match\":true,\"policy\":\"allow\"}]}",
          0, QAUTHZ_ERROR_INVALID_ARGUMENT, "rules.0.match" },
        { "{\"qom-type\":\"authz-list\",\"id\":\"a0\",\"rules\":"
          "{\"match\":\"x\",\"policy\":\"allow\"}}",
          0, QAUTHZ_ERROR_INVALID_ARGUMENT, "list of rules" },
        { "authz-list,id=a0,policy=maybe", 1, QOM_ERROR_INVALID_VALUE,
          "'policy'" },
        /* Keyval shapes the object layer refuses, naming the key. */
        { "authz-list,id=a0,rules.1.match=x,rules.1.policy=allow", 1,
          QOM_ERROR_INVALID_VALUE, "'rules.1.match'" },
        { "authz-list,id=a0,rules.x.match=x", 1, QOM_ERROR_INVALID_VALUE,
          "'rules.x.match'" },
        { "authz-list,id=a0,rules.00.match=x", 1, QOM_ERROR_INVALID_VALUE,
          "'rules.00.match'" },
        { "authz-list,id=a0,rules.0=x", 1, QOM_ERROR_INVALID_VALUE,
          "'rules.0'" },
        { "authz-list,id=a0,rules.0.match.x=x", 1, QOM_ERROR_INVALID_VALUE,
          "'rules.0.match.x'" },
        { "authz-list,id=a0,rules=x", 1, QOM_ERROR_INVALID_VALUE, "'rules'" },
        { "authz-list,id=a0,rule.0.match=x", 1, QOM_ERROR_UNKNOWN_PROPERTY,
          "'rule.0.match'" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        cli_fails(cases[i].arg, cases[i].domain ? QOM_ERROR : QAUTHZ_ERROR,
                  cases[i].code, cases[i].needle);
        assert_null(qom_object_find("a0"));
    }
}

static void test_list_help(void **state)
{
    g_autoptr(GString) help = g_string_new(NULL);

    assert_int_equal(qom_object_cli_help("authz-list,help", help, NULL), 1);
    assert_non_null(strstr(help->str, "rules=<list>"));
    assert_non_null(strstr(help->str, "policy=<deny|allow>"));
}

/* ---- authz-listfile ----------------------------------------------------- */

#define RULES_FRED                                                             \
    "{\"policy\": \"deny\", \"rules\": ["                                      \
    "{\"match\": \"*CN=fred*\", \"policy\": \"allow\", \"format\": \"glob\"}"  \
    "]}\n"
#define RULES_BOBB                                                             \
    "{\"policy\": \"deny\", \"rules\": ["                                      \
    "{\"match\": \"*CN=bobb*\", \"policy\": \"allow\", \"format\": \"glob\"}"  \
    "]}\n"

static void test_listfile_refresh(void **state)
{
    g_autofree char *path = write_file("refresh.json", RULES_FRED);
    g_autofree char *arg =
        g_strdup_printf("authz-listfile,id=auth0,filename=%s", path);
    guint warned = warnings_count();

    cli_ok(arg);
    check("auth0", "O=Example,CN=fred", true);
    check("auth0", "O=Example,CN=bobb", false);

    /* Same inode, same size: only the timestamps tell. */
    rewrite_in_place(path, RULES_BOBB, 1000000000);
    check("auth0", "O=Example,CN=fred", false);
    check("auth0", "O=Example,CN=bobb", true);
    rewrite_in_place(path, RULES_FRED, 1000000001);
    check("auth0", "O=Example,CN=fred", true);

    /* A new file renamed over the old one. */
    g_free(write_file("refresh.json", "{\"policy\": \"allow\"}"));
    check("auth0", "CN=anyone", true);
    assert_int_equal(warnings_count(), warned);
}

/* Rewrite @path in place (same inode), leaving the timestamps to the OS. */
static void rewrite_now(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_TRUNC);
    size_t len = strlen(text);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
}

/*
 * Same-size rewrites right after a load, as an editor saving in place
 * twice in quick succession does: the second lands in the same coarse
 * timestamp tick as the load, so only the content tells.
 */
static void test_listfile_refresh_same_tick(void **state)
{
    g_autofree char *path = write_file("tick.json", RULES_FRED);
    g_autofree char *arg =
        g_strdup_printf("authz-listfile,id=auth0,filename=%s", path);
    guint warned = warnings_count();

    cli_ok(arg);
    for (int i = 0; i < 20; i++) {
        check("auth0", "O=Example,CN=fred", true);
        rewrite_now(path, RULES_BOBB);
        check("auth0", "O=Example,CN=fred", false);
        check("auth0", "O=Example,CN=bobb", true);
        rewrite_now(path, RULES_FRED);
    }
    check("auth0", "O=Example,CN=fred", true);
    /* A broken version is still reported once, not at every check. */
    rewrite_now(path, "{\"policy\": 7}");
    check("auth0", "O=Example,CN=fred", true);
    check("auth0", "O=Example,CN=fred", true);
    assert_int_equal(warnings_count(), warned + 1);
}

static void test_listfile_no_refresh(void **state)
{
    g_autofree char *path = write_file("norefresh.json", RULES_FRED);
    g_autofree char *arg = g_strdup_printf(
        "authz-listfile,id=auth0,filename=%s,refresh=off", path);
    g_autoptr(GError) err = NULL;
    GObject *obj;

    obj = cli_ok(arg);
    check("auth0", "CN=fred", true);
    rewrite_in_place(path, RULES_BOBB, 1000000000);
    check("auth0", "CN=fred", true);
    check("auth0", "CN=bobb", false);
    /* An explicit reload still works. */
    assert_true(qauthz_list_file_reload(QAUTHZ_LIST_FILE(obj), &err));
    check("auth0", "CN=fred", false);
    check("auth0", "CN=bobb", true);

    /* A failed reload names the file and changes nothing. */
    rewrite_in_place(path, "{", 1000000001);
    assert_false(qauthz_list_file_reload(QAUTHZ_LIST_FILE(obj), &err));
    assert_true(g_error_matches(err, QAUTHZ_ERROR, QAUTHZ_ERROR_PARSE));
    assert_non_null(strstr(err->message, path));
    check("auth0", "CN=bobb", true);
}

static void test_listfile_broken_at_creation(void **state)
{
    static const struct {
        const char *text;
        int code;
        const char *needle;
    } cases[] = {
        { "{\"policy\": \"deny\", \"rules\": [", QAUTHZ_ERROR_PARSE, NULL },
        { "", QAUTHZ_ERROR_INVALID_ARGUMENT, "JSON object" },
        { "[]", QAUTHZ_ERROR_INVALID_ARGUMENT, "JSON object" },
        { "{\"policy\": \"perhaps\"}", QAUTHZ_ERROR_INVALID_ARGUMENT,
          "'perhaps'" },
        { "{\"policy\": 1}", QAUTHZ_ERROR_INVALID_ARGUMENT, "policy" },
        { "{\"rules\": [{\"match\": \"x\"}]}", QAUTHZ_ERROR_INVALID_ARGUMENT,
          "rules.0" },
        { "{\"rulez\": []}", QAUTHZ_ERROR_INVALID_ARGUMENT, "'rulez'" },
    };
    g_autofree char *missing = g_build_filename(tmpdir, "missing.json", NULL);
    g_autofree char *arg = NULL;

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *path = write_file("broken.json", cases[i].text);
        g_free(arg);
        arg = g_strdup_printf("authz-listfile,id=auth0,filename=%s", path);
        cli_fails(arg, QAUTHZ_ERROR, cases[i].code, path);
        if (cases[i].needle) {
            cli_fails(arg, QAUTHZ_ERROR, cases[i].code, cases[i].needle);
        }
        assert_null(qom_object_find("auth0"));
    }
    g_free(arg);
    arg = g_strdup_printf("authz-listfile,id=auth0,filename=%s", missing);
    cli_fails(arg, QAUTHZ_ERROR, QAUTHZ_ERROR_FILE, missing);
    cli_fails(arg, QAUTHZ_ERROR, QAUTHZ_ERROR_FILE, g_strerror(ENOENT));
    g_free(arg);
    arg = g_strdup_printf("authz-listfile,id=auth0,filename=%s", tmpdir);
    cli_fails(arg, QAUTHZ_ERROR, QAUTHZ_ERROR_FILE, "regular file");
    cli_fails("authz-listfile,id=auth0", QAUTHZ_ERROR,
              QAUTHZ_ERROR_INVALID_ARGUMENT, "'filename'");
}

static void test_listfile_broken_on_refresh(void **state)
{
    g_autofree char *path = write_file("flaky.json", RULES_FRED);
    g_autofree char *arg =
        g_strdup_printf("authz-listfile,id=auth0,filename=%s", path);
    guint warned;

    cli_ok(arg);
    check("auth0", "CN=fred", true);

    /* Broken: the old rules stay, with one warning naming the file. */
    warned = warnings_count();
    rewrite_in_place(path, "{\"policy\": \"allow\", \"rules\": [", 1000000000);
    check("auth0", "CN=fred", true);
    check("auth0", "CN=bobb", false);
    assert_int_equal(warnings_count(), warned + 1);
    assert_non_null(strstr(last_warning(), path));
    assert_non_null(strstr(last_warning(), "'auth0'"));
    check("auth0", "CN=fred", true);
    assert_int_equal(warnings_count(), warned + 1);

    /* Valid JSON with a bad rule: the same. */
    rewrite_in_place(path,
                     "{\"rules\": [{\"match\": \"x\", "
                     "\"policy\": \"allow\", \"format\": \"regex\"}]}",
                     1000000001);
    check("auth0", "CN=fred", true);
    assert_int_equal(warnings_count(), warned + 2);
    assert_non_null(strstr(last_warning(), "rules.0.format"));

    /* Gone: the same again, once. */
    assert_int_equal(g_unlink(path), 0);
    check("auth0", "CN=fred", true);
    check("auth0", "CN=fred", true);
    assert_int_equal(warnings_count(), warned + 3);

    /* Fixed: picked up at the next check. */
    g_free(write_file("flaky.json", RULES_BOBB));
    check("auth0", "CN=fred", false);
    check("auth0", "CN=bobb", true);
    assert_int_equal(warnings_count(), warned + 3);
}

/* Checks on several threads while the file keeps changing. */
typedef struct {
    const char *id;
    gint failures;
    gint stop;
} StressState;

static gpointer stress_checker(gpointer opaque)
{
    StressState *st = opaque;

    while (!g_atomic_int_get(&st->stop)) {
        /* Every version of the file denies eve. */
        if (qauthz_is_allowed_by_id(st->id, "CN=eve", NULL)) {
            g_atomic_int_inc(&st->failures);
        }
        qauthz_is_allowed_by_id(st->id, "CN=fred", NULL);
    }
    return NULL;
}

static void test_listfile_threads(void **state)
{
    g_autofree char *path = write_file("threads.json", RULES_FRED);
    g_autofree char *arg =
        g_strdup_printf("authz-listfile,id=auth0,filename=%s", path);
    StressState st = { .id = "auth0" };
    GThread *threads[3];

    cli_ok(arg);
    for (size_t i = 0; i < G_N_ELEMENTS(threads); i++) {
        threads[i] = g_thread_new("authz-check", stress_checker, &st);
    }
    for (int i = 0; i < 200; i++) {
        g_free(write_file("threads.json", i % 2 ? RULES_FRED : RULES_BOBB));
    }
    g_atomic_int_set(&st.stop, 1);
    for (size_t i = 0; i < G_N_ELEMENTS(threads); i++) {
        g_thread_join(threads[i]);
    }
    assert_int_equal(st.failures, 0);
    check("auth0", "CN=bobb", false);
    check("auth0", "CN=fred", true);
}

static void test_quark_name(void **state)
{
    assert_string_equal(g_quark_to_string(QAUTHZ_ERROR), "qauthz-error-quark");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quark_name),
        cmocka_unit_test_teardown(test_simple, teardown),
        cmocka_unit_test_teardown(test_by_id_errors, teardown),
        cmocka_unit_test_teardown(test_list_keyval, teardown),
        cmocka_unit_test_teardown(test_list_json, teardown),
        cmocka_unit_test_teardown(test_list_order, teardown),
        cmocka_unit_test_teardown(test_list_default_policy, teardown),
        cmocka_unit_test_teardown(test_list_exact_vs_glob, teardown),
        cmocka_unit_test_teardown(test_list_bad_rules, teardown),
        cmocka_unit_test_teardown(test_list_help, teardown),
        cmocka_unit_test_teardown(test_listfile_refresh, teardown),
        cmocka_unit_test_teardown(test_listfile_refresh_same_tick, teardown),
        cmocka_unit_test_teardown(test_listfile_no_refresh, teardown),
        cmocka_unit_test_teardown(test_listfile_broken_at_creation, teardown),
        cmocka_unit_test_teardown(test_listfile_broken_on_refresh, teardown),
        cmocka_unit_test_teardown(test_listfile_threads, teardown),
    };
    int rc;

    warnings = g_ptr_array_new_with_free_func(g_free);
    g_log_set_writer_func(capture_warnings, NULL, NULL);
    rc = cmocka_run_group_tests(tests, group_setup, group_teardown);
    g_ptr_array_unref(warnings);
    return rc;
}
