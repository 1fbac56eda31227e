/*
 * Unit tests of the generated command marshallers, the QMP command table
 * (qapi/qmp-registry.c), the event emitter (qapi/event.c) and the error
 * class mapping (qapi/error.c), through the test schema
 * tests/qapi-schema/qapi-schema-test.json.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

/*
 * cmocka's assertions do not tell the compiler that they stop the test;
 * g_assert() does, so a pointer checked with it may be used after.
 */
#define REQUIRE(p) g_assert((p) != NULL)
#define FAIL(...)                                                              \
    do {                                                                       \
        fail_msg(__VA_ARGS__);                                                 \
        g_assert_not_reached();                                                \
    } while (0)

#include "qapi-test-commands.h"
#include "qapi/event.h"
#include "qapi/json-visitor.h"
#include "qapi/qmp-registry.h"
#include "test-qapi-commands.h"
#include "test-qapi-events.h"
#include "test-qapi-init-commands.h"
#include "test-qapi-introspect.h"

static QmpCommandList *new_table(void)
{
    QmpCommandList *cmds = qmp_command_list_new();

    qmp_init_marshal(cmds);
    return cmds;
}

/* Run @name with @args (JSON text or NULL); the reply as JSON text. */
static char *run(QmpCommandList *cmds, const char *name, const char *args,
                 GError **errp)
{
    const QmpCommand *cmd = qmp_find_command(cmds, name);
    g_autoptr(JsonNode) argnode = NULL;
    JsonNode *ret = NULL;

    REQUIRE(cmd);
    if (args) {
        argnode = json_from_string(args, NULL);
        REQUIRE(argnode);
    }
    if (!qmp_command_run(cmd, argnode ? json_node_get_object(argnode) : NULL,
                         &ret, errp)) {
        assert_null(ret);
        return NULL;
    }
    char *text = json_to_string(ret, FALSE);
    json_node_unref(ret);
    return text;
}

static void expect_reply(QmpCommandList *cmds, const char *name,
                         const char *args, const char *reply)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *got = run(cmds, name, args, &err);

    if (!got) {
        FAIL("%s %s: %s", name, args ? args : "", err->message);
    }
    assert_string_equal(got, reply);
}

static void expect_error(QmpCommandList *cmds, const char *name,
                         const char *args, const char *klass,
                         const char *message)
{
    g_autoptr(GError) err = NULL;
    int before = qapi_test_calls;
    g_autofree char *got = run(cmds, name, args, &err);

    if (got) {
        FAIL("%s %s answered %s", name, args ? args : "", got);
    }
    assert_string_equal(qapi_error_class(err), klass);
    assert_string_equal(err->message, message);
    /* argument errors never reach the implementation */
    if (strcmp(name, "test-fail") != 0 && !strstr(message, "times")) {
        assert_int_equal(qapi_test_calls, before);
    }
}

static void test_marshal_good(void **state)
{
    g_autoptr(QmpCommandList) cmds = new_table();

    expect_reply(cmds, "test-echo", "{\"msg\": \"ab\"}", "\"ab\"");
    expect_reply(cmds, "test-echo",
                 "{\"msg\": \"ab\", \"times\": 3, \"inner\": {\"n\": 9}}",
                 "\"ababab/9\"");
    expect_reply(cmds, "test-nothing", NULL, "{}");
    expect_reply(cmds, "test-nothing", "{}", "{}");
    expect_reply(cmds, "test-list", "{\"n\": 0}", "[]");
    expect_reply(cmds, "test-list", "{\"n\": 2}",
                 "[{\"n\":1,\"label\":\"item 1\"},"
                 "{\"n\":2,\"label\":\"item 2\"}]");
    expect_reply(cmds, "test-boxed",
                 "{\"type\": \"file\", \"path\": \"/p\", \"append\": false}",
                 "{\"type\":\"file\",\"tag\":\"echoed\",\"path\":\"/p\","
                 "\"append\":false}");
    expect_reply(cmds, "test-flat", "{\"n\": 40, \"label\": \"ab\"}", "42");
}

static void test_marshal_bad_arguments(void **state)
{
    g_autoptr(QmpCommandList) cmds = new_table();

    expect_error(cmds, "test-echo", NULL, "GenericError",
                 "Parameter 'msg' is missing");
    expect_error(cmds, "test-echo", "{\"msg\": 1}", "GenericError",
                 "Invalid parameter type for 'msg', expected: string");
    expect_error(cmds, "test-echo", "{\"msg\": \"a\", \"x\": 1}",
                 "GenericError", "Parameter 'x' is unexpected");
    expect_error(cmds, "test-echo",
                 "{\"msg\": \"a\", \"inner\": {\"n\": true}}", "GenericError",
                 "Invalid parameter type for 'inner.n', expected: integer");
    expect_error(cmds, "test-nothing", "{\"x\": 1}", "GenericError",
                 "Parameter 'x' is unexpected");
    expect_error(cmds, "test-list", "{\"n\": 256}", "GenericError",
                 "Parameter 'n' expects uint8");
    expect_error(cmds, "test-boxed", "{\"type\": \"bogus\"}", "GenericError",
                 "Parameter 'type' does not accept value 'bogus'");
    expect_error(cmds, "test-flat", "{}", "GenericError",
                 "Parameter 'n' is missing");
}

static void test_marshal_command_errors(void **state)
{
    g_autoptr(QmpCommandList) cmds = new_table();

    expect_error(cmds, "test-fail", NULL, "DeviceNotFound",
                 "Device 'nowhere' not found");
    expect_error(cmds, "test-echo", "{\"msg\": \"a\", \"times\": 17}",
                 "GenericError", "times must be from 0 to 16");
}

static void count(const QmpCommand *cmd, void *opaque)
{
    GString *names = opaque;

    g_string_append_printf(names, "%s%s", names->len ? " " : "",
                           qmp_command_name(cmd));
}

static void test_registry(void **state)
{
    g_autoptr(QmpCommandList) cmds = new_table();
    g_autoptr(GString) names = g_string_new(NULL);
    const QmpCommand *cmd;

    qmp_for_each_command(cmds, count, names);
    assert_string_equal(names->str, "test-boxed test-echo test-fail "
                                    "test-flat test-list test-nothing");
    assert_null(qmp_find_command(cmds, "nonexistent"));

    cmd = qmp_find_command(cmds, "test-fail");
    assert_true(qmp_command_options(cmd) & QMP_CMD_ALLOW_OOB);
    assert_false(qmp_command_has_feature(cmd, "deprecated"));
    cmd = qmp_find_command(cmds, "test-flat");
    assert_true(qmp_command_has_feature(cmd, "deprecated"));
    assert_int_equal(qmp_command_options(cmd), QMP_CMD_NO_OPTIONS);

    assert_true(qmp_command_is_enabled(cmd));
    qmp_disable_command(cmds, "test-flat", "not now");
    assert_false(qmp_command_is_enabled(cmd));
    assert_string_equal(qmp_command_disable_reason(cmd), "not now");
    qmp_enable_command(cmds, "test-flat");
    assert_true(qmp_command_is_enabled(cmd));
    assert_null(qmp_command_disable_reason(cmd));
    qmp_disable_command(cmds, "nonexistent", "ignored");

    qmp_unregister_command(cmds, "test-flat");
    assert_null(qmp_find_command(cmds, "test-flat"));
}

static void test_error_classes(void **state)
{
    static const struct {
        GQuark domain;
        int code;
        const char *klass;
    } cases[] = {
        { 0, QAPI_ERROR_GENERIC, "GenericError" },
        { 0, QAPI_ERROR_COMMAND_NOT_FOUND, "CommandNotFound" },
        { 0, QAPI_ERROR_DEVICE_NOT_ACTIVE, "DeviceNotActive" },
        { 0, QAPI_ERROR_DEVICE_NOT_FOUND, "DeviceNotFound" },
        { 0, QAPI_ERROR_KVM_MISSING_CAP, "KVMMissingCap" },
        { 0, QAPI_ERROR_MISSING_PARAMETER, "GenericError" },
        { 0, QAPI_ERROR_INVALID_TYPE, "GenericError" },
        { 0, QAPI_ERROR_UNEXPECTED_PARAMETER, "GenericError" },
        { 0, QAPI_ERROR_INVALID_VALUE, "GenericError" },
        { 0, QAPI_ERROR_BAD_KEYS, "GenericError" },
        { 1, QAPI_ERROR_COMMAND_NOT_FOUND, "GenericError" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        GQuark domain = cases[i].domain ? G_IO_ERROR : QAPI_ERROR;
        g_autoptr(GError) err = g_error_new(domain, cases[i].code, "x");

        assert_string_equal(qapi_error_class(err), cases[i].klass);
    }
}

typedef struct Seen {
    GString *log;
} Seen;

static void emitter(const char *event, JsonObject *data, void *opaque)
{
    Seen *seen = opaque;
    g_autoptr(JsonNode) node = json_node_init_object(json_node_alloc(), data);
    g_autofree char *text = json_to_string(node, FALSE);

    g_string_append_printf(seen->log, "%s %s;", event, text);
}

static void test_events(void **state)
{
    Seen seen = { g_string_new(NULL) };

    qapi_event_send_test_empty(); /* no emitter: dropped */
    qapi_event_set_emitter(emitter, &seen);
    qapi_event_send_test_empty();
    qapi_event_send_test_event(TEST_COLOUR_GREEN, true, 5, "s");
    qapi_event_send_test_event(TEST_COLOUR_RED, false, 0, NULL);
    qapi_event_set_emitter(NULL, NULL);
    qapi_event_send_test_empty();
    assert_string_equal(seen.log->str,
                        "TEST_EMPTY {};"
                        "TEST_EVENT {\"reason\":\"green\",\"n\":5,"
                        "\"s\":\"s\"};"
                        "TEST_EVENT {\"reason\":\"red\"};");
    g_string_free(seen.log, TRUE);
}

/* The introspection data is a JSON array in SchemaInfo's shape. */
static void test_introspection_data(void **state)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(JsonNode) root =
        json_from_string(test_qapi_introspect_json, &err);
    bool found_command = false;

    REQUIRE(root);
    assert_true(JSON_NODE_HOLDS_ARRAY(root));
    JsonArray *a = json_node_get_array(root);
    for (guint i = 0; i < json_array_get_length(a); i++) {
        JsonObject *o = json_array_get_object_element(a, i);
        const char *meta = json_object_get_string_member(o, "meta-type");

        REQUIRE(json_object_get_string_member(o, "name"));
        if (strcmp(meta, "command") == 0 &&
            strcmp(json_object_get_string_member(o, "name"), "test-echo") ==
                0) {
            found_command = true;
            assert_string_equal(json_object_get_string_member(o, "ret-type"),
                                "str");
        }
    }
    assert_true(found_command);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_marshal_good),
        cmocka_unit_test(test_marshal_bad_arguments),
        cmocka_unit_test(test_marshal_command_errors),
        cmocka_unit_test(test_registry),
        cmocka_unit_test(test_error_classes),
        cmocka_unit_test(test_events),
        cmocka_unit_test(test_introspection_data),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
