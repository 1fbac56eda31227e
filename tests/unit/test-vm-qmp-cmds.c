/*
 * Unit tests for qio-vm's QMP commands (vm/qmp-cmds.c) through their
 * generated marshallers, as a monitor runs them: query-status in each run
 * state, the STOP/RESUME/SHUTDOWN events with QEMU's rule that only real
 * changes are reported, query-name, pmemsave, human-monitor-command,
 * object-add/-del through the ObjectOptions union, and qom-list.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <glib/gstdio.h>
#include <string.h>

#include "qapi/error.h"
#include "qapi/event.h"
#include "qapi/qapi-commands-misc.h"
#include "qapi/qapi-commands-qom.h"
#include "qapi/qapi-commands-run-state.h"
#include "qom/object.h"
#include "vm/machine.h"
#include "vm/memory-backend.h"
#include "vm/qmp-cmds.h"

static GString *events;

static void emitter(const char *event, JsonObject *data, void *opaque)
{
    g_string_append(events, event);
    if (data && json_object_get_size(data)) {
        g_autoptr(JsonNode) node = json_node_new(JSON_NODE_OBJECT);
        g_autofree char *text = NULL;

        json_node_set_object(node, data);
        text = json_to_string(node, FALSE);
        g_string_append(events, text);
    }
    g_string_append_c(events, ' ');
}

static QmpCommandList *cmds;

/* Run @name with @args (JSON text or NULL); return the reply as text. */
static char *run(const char *name, const char *args, GError **errp)
{
    const QmpCommand *cmd = qmp_find_command(cmds, name);
    g_autoptr(JsonNode) argn = args ? json_from_string(args, NULL) : NULL;
    g_autoptr(JsonNode) ret = NULL;

    g_assert(cmd);
    if (!qmp_command_run(cmd, argn ? json_node_get_object(argn) : NULL, &ret,
                         errp)) {
        return NULL;
    }
    return json_to_string(ret, FALSE);
}

static char *run_ok(const char *name, const char *args)
{
    g_autoptr(GError) err = NULL;
    char *r = run(name, args, &err);

    if (!r) {
        fail_msg("%s %s: %s", name, args ? args : "", err->message);
    }
    return r;
}

static VMMachine *machine_new(const char *cmdline)
{
    g_autofree char *full = g_strconcat("qio-vm ", cmdline, NULL);
    g_auto(GStrv) argv = NULL;
    g_autoptr(VMOptions) opts = NULL;
    int argc;

    g_assert(g_shell_parse_argv(full, &argc, &argv, NULL));
    opts = vm_options_parse(argc, argv, NULL);
    return vm_machine_new(opts, NULL);
}

static void test_run_states(void **state)
{
    VMMachine *m = machine_new("-nodefaults -machine none -S -name g1");
    g_autoptr(GError) err = NULL;

    vm_qmp_set_machine(m);
    g_string_truncate(events, 0);
#define CHECK(name, reply)                                                     \
    do {                                                                       \
        g_autofree char *r = run_ok(name, NULL);                               \
        assert_string_equal(r, reply);                                         \
    } while (0)
    CHECK("query-status",
          "{\"running\":false,\"singlestep\":false,\"status\":\"prelaunch\"}");
    CHECK("stop", "{}");
    CHECK("query-status",
          "{\"running\":false,\"singlestep\":false,\"status\":\"prelaunch\"}");
    CHECK("cont", "{}");
    CHECK("cont", "{}");
    CHECK("query-status",
          "{\"running\":true,\"singlestep\":false,\"status\":\"running\"}");
    CHECK("stop", "{}");
    CHECK("stop", "{}");
    CHECK("query-status",
          "{\"running\":false,\"singlestep\":false,\"status\":\"paused\"}");
    CHECK("query-name", "{\"name\":\"g1\"}");
    assert_string_equal(events->str, "RESUME STOP ");
    {
        g_autofree char *r =
            qmp_human_monitor_command("info status", false, 0, &err);

        assert_string_equal(r, "VM status: paused\r\n");
        assert_null(qmp_human_monitor_command("info status", true, 0, &err));
        assert_true(g_error_matches(err, QAPI_ERROR, QAPI_ERROR_GENERIC));
    }
    vm_machine_shutdown(m, VM_SHUTDOWN_HOST_SIGNAL);
    assert_string_equal(
        events->str,
        "RESUME STOP SHUTDOWN{\"guest\":false,\"reason\":\"host-signal\"} ");
    vm_qmp_set_machine(NULL);
    assert_null(run("query-status", NULL, &err));
    vm_machine_free(m);
}

static void test_query_name_absent(void **state)
{
    VMMachine *m = machine_new("-nodefaults -machine none");
    g_autofree char *r = NULL;

    vm_qmp_set_machine(m);
    r = run_ok("query-name", NULL);
    assert_string_equal(r, "{}");
    vm_qmp_set_machine(NULL);
    vm_machine_free(m);
}

static void test_pmemsave(void **state)
{
    VMMachine *m = machine_new("-nodefaults -machine none -m 1");
    g_autofree char *dir = g_dir_make_tmp("test-vm-qmp-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "dump", NULL);
    g_autoptr(GError) err = NULL;
    g_autofree char *contents = NULL;
    gsize len;

    vm_qmp_set_machine(m);
    vm_ram_write(vm_machine_get_ram(m), 16, "abc", 3, NULL);
    qmp_pmemsave(16, 3, path, &err);
    assert_null(err);
    assert_true(g_file_get_contents(path, &contents, &len, NULL));
    assert_int_equal(len, 3);
    assert_memory_equal(contents, "abc", 3);
    g_unlink(path);
    qmp_pmemsave(1 << 20, 1, path, &err);
    assert_true(g_error_matches(err, VM_ERROR, VM_ERROR_OUT_OF_RANGE));
    assert_string_equal(qapi_error_class(err), "GenericError");
    g_clear_error(&err);
    qmp_memsave(0, 1, path, false, 0, &err);
    assert_string_equal(err->message,
                        "Parameter 'cpu-index' expects a CPU number");
    assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
    g_rmdir(dir);
    vm_qmp_set_machine(NULL);
    vm_machine_free(m);
}

static void test_objects(void **state)
{
    VMMachine *m = machine_new("-nodefaults -machine none");
    g_autoptr(GError) err = NULL;
    g_autofree char *r = NULL;

    vm_qmp_set_machine(m);
    r = run_ok("object-add", "{\"qom-type\": \"memory-backend-ram\", "
                             "\"id\": \"mem0\", \"size\": 4096, "
                             "\"share\": true}");
    assert_string_equal(r, "{}");
    assert_non_null(qom_object_find("mem0"));
    assert_null(run("object-add",
                    "{\"qom-type\": \"memory-backend-ram\", \"id\": \"mem0\", "
                    "\"size\": 4096}",
                    &err));
    assert_true(g_error_matches(err, QOM_ERROR, QOM_ERROR_DUPLICATE_ID));
    g_clear_error(&err);
    assert_null(
        run("object-add", "{\"qom-type\": \"nosuch\", \"id\": \"x\"}", &err));
    g_clear_error(&err);
    g_free(r);
    r = run_ok("qom-list", "{\"path\": \"/objects\"}");
    assert_string_equal(r, "[{\"name\":\"type\",\"type\":\"string\"},"
                           "{\"name\":\"mem0\",\"type\":"
                           "\"child<memory-backend-ram>\"}]");
    g_free(r);
    r = run_ok("qom-list", "{\"path\": \"/objects/mem0\"}");
    assert_non_null(strstr(r, "{\"name\":\"size\",\"type\":\"size\"}"));
    assert_non_null(strstr(r, "{\"name\":\"share\",\"type\":\"bool\"}"));
    g_free(r);
    r = run_ok("qom-list", "{\"path\": \"/\"}");
    assert_non_null(strstr(r, "\"child<none-machine>\""));
    assert_null(run("qom-list", "{\"path\": \"/nosuch\"}", &err));
    assert_true(g_error_matches(err, QAPI_ERROR, QAPI_ERROR_DEVICE_NOT_FOUND));
    assert_string_equal(err->message, "Device '/nosuch' not found");
    g_clear_error(&err);
    g_free(r);
    r = run_ok("object-del", "{\"id\": \"mem0\"}");
    assert_null(qom_object_find("mem0"));
    assert_null(run("object-del", "{\"id\": \"mem0\"}", &err));
    assert_true(g_error_matches(err, QOM_ERROR, QOM_ERROR_NOT_FOUND));
    vm_qmp_set_machine(NULL);
    vm_machine_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_states),
        cmocka_unit_test(test_query_name_absent),
        cmocka_unit_test(test_pmemsave),
        cmocka_unit_test(test_objects),
    };
    int ret;

    events = g_string_new(NULL);
    qapi_event_set_emitter(emitter, NULL);
    vm_memory_backend_register_types();
    cmds = qmp_command_list_new();
    qmp_init_marshal_run_state(cmds);
    qmp_init_marshal_qom(cmds);
    ret = cmocka_run_group_tests(tests, NULL, NULL);
    qmp_command_list_free(cmds);
    g_string_free(events, TRUE);
    return ret;
}
