/*
 * Unit tests for the QMP session (monitor/qmp.c) over the Monitor byte
 * interface, with a small command table of its own: the greeting,
 * negotiation, QEMU's wording for every protocol mistake (as
 * qemu-system-x86_64 7.2 answers them), id echo, events with timestamps
 * to negotiated clients only, pretty output, bounded output with input
 * stopped while a client does not read, and named descriptors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "monitor/error.h"
#include "monitor/qmp.h"
#include "qapi/error.h"
#include "qapi/event.h"
#include "monitor-test-commands.h"
#include "qapi/qapi-commands-control.h"
#include "qapi/qapi-commands-misc.h"

/* ---- A command table -----------------------------------------------------
 */

static void cmd_echo(JsonObject *args, JsonNode **ret, GError **errp)
{
    *ret = json_node_init_object(json_node_alloc(),
                                 args ? args : json_object_new());
    if (!args) {
        json_object_unref(json_node_get_object(*ret));
    }
}

static void cmd_fail(JsonObject *args, JsonNode **ret, GError **errp)
{
    g_set_error(errp, MONITOR_ERROR, MONITOR_ERROR_FAILED, "it failed");
}

static void cmd_device_fail(JsonObject *args, JsonNode **ret, GError **errp)
{
    g_set_error(errp, QAPI_ERROR, QAPI_ERROR_DEVICE_NOT_FOUND,
                "Device 'x' not found");
}

/* What a marshaller returns for a command that returns nothing. */
static JsonNode *empty_return(void)
{
    JsonNode *node = json_node_init_object(json_node_alloc(), NULL);

    json_node_take_object(node, json_object_new());
    return node;
}

static void cmd_stop(JsonObject *args, JsonNode **ret, GError **errp)
{
    qapi_event_emit("STOP", NULL);
    *ret = empty_return();
}

static void cmd_big(JsonObject *args, JsonNode **ret, GError **errp)
{
    g_autofree char *s = g_strnfill(40000, 'x');

    *ret = json_node_init_string(json_node_alloc(), s);
}

static QmpCommandList *commands;

/* The control module's generated marshallers, and a few of our own. */
static int setup_commands(void **state)
{
    commands = qmp_command_list_new();
    monitor_test_register_commands(commands);
    qmp_register_command(commands, "echo", cmd_echo, 0, NULL);
    qmp_register_command(commands, "fail", cmd_fail, 0, NULL);
    qmp_register_command(commands, "device-fail", cmd_device_fail, 0, NULL);
    qmp_register_command(commands, "stop", cmd_stop, 0, NULL);
    qmp_register_command(commands, "big", cmd_big, 0, NULL);
    qmp_register_command(commands, "off", cmd_echo, 0, NULL);
    qmp_disable_command(commands, "off", "not today");
    return 0;
}

static int teardown_commands(void **state)
{
    g_clear_pointer(&commands, qmp_command_list_free);
    return 0;
}

/* ---- Helpers -------------------------------------------------------------
 */

static Monitor *new_qmp(bool pretty)
{
    MonitorQMPOptions opts = { .pretty = pretty, .commands = commands };

    return MONITOR_BASE(monitor_qmp_new(&opts));
}

/* Everything the monitor has for the peer, taken. */
static char *take_output(Monitor *mon)
{
    size_t len;
    const uint8_t *data = monitor_output_peek(mon, &len);
    char *s = g_strndup((const char *)data, len);

    monitor_output_consume(mon, len);
    return s;
}

/* Send @in (whole) and return the output it caused. */
static char *xchg(Monitor *mon, const char *in)
{
    monitor_input(mon, in, strlen(in));
    return take_output(mon);
}

static void check_xchg(Monitor *mon, const char *in, const char *want)
{
    g_autofree char *got = xchg(mon, in);

    if (strcmp(got, want)) {
        fail_msg("sent %s\n got: %s\nwant: %s", in, got, want);
    }
}

static Monitor *open_negotiated(bool pretty)
{
    Monitor *mon = new_qmp(pretty);
    g_autofree char *greeting = NULL;

    monitor_peer_opened(mon);
    greeting = take_output(mon);
    check_xchg(mon, "{\"execute\": \"qmp_capabilities\"}",
               pretty ? "{\r\n    \"return\": {\r\n    }\r\n}\r\n"
                      : "{\"return\": {}}\r\n");
    return mon;
}

/* ---- Tests ---------------------------------------------------------------
 */

static void test_greeting(void **state)
{
    g_autoptr(Monitor) mon = new_qmp(false);
    g_autofree char *greeting = NULL;
    g_autofree char *want = NULL;
    int major, minor, micro;
    const char *package;

    /* Nothing before a peer connects. */
    assert_int_equal(monitor_output_pending(mon), 0);
    monitor_peer_opened(mon);
    greeting = take_output(mon);
    monitor_qmp_version(&major, &minor, &micro, &package);
    want = g_strdup_printf(
        "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": %d, \"minor\": %d, "
        "\"major\": %d}, \"package\": \"%s\"}, \"capabilities\": []}}\r\n",
        micro, minor, major, package);
    assert_string_equal(greeting, want);
    assert_string_equal(package, "");
    assert_true(major + minor + micro > 0);
}

static void test_negotiation(void **state)
{
    g_autoptr(Monitor) mon = new_qmp(false);
    g_autofree char *greeting = NULL;

    monitor_peer_opened(mon);
    greeting = take_output(mon);
    /* Before: every command but qmp_capabilities, known or not. */
    check_xchg(mon, "{\"execute\": \"echo\", \"id\": 1}",
               "{\"id\": 1, \"error\": {\"class\": \"CommandNotFound\", "
               "\"desc\": \"Expecting capabilities negotiation with "
               "'qmp_capabilities'\"}}\r\n");
    check_xchg(mon, "{\"execute\": \"foo\"}",
               "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": "
               "\"Expecting capabilities negotiation with "
               "'qmp_capabilities'\"}}\r\n");
    /* Protocol checks come first, as in QEMU. */
    check_xchg(mon, "{}",
               "{\"error\": {\"class\": \"GenericError\", \"desc\": \"QMP "
               "input lacks member 'execute'\"}}\r\n");
    /* oob is not offered. */
    check_xchg(mon,
               "{\"execute\": \"qmp_capabilities\", \"arguments\": "
               "{\"enable\": [\"oob\"]}}",
               "{\"error\": {\"class\": \"GenericError\", \"desc\": "
               "\"Capability oob not available\"}}\r\n");
    assert_false(monitor_qmp_is_negotiated(MONITOR_QMP(mon)));
    check_xchg(mon, "{\"execute\": \"qmp_capabilities\", \"id\": {\"a\": [1]}}",
               "{\"return\": {}, \"id\": {\"a\": [1]}}\r\n");
    assert_true(monitor_qmp_is_negotiated(MONITOR_QMP(mon)));
    /* After. */
    check_xchg(mon, "{\"execute\": \"qmp_capabilities\"}",
               "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": "
               "\"Capabilities negotiation is already complete, command "
               "ignored\"}}\r\n");
    check_xchg(mon, "{\"execute\": \"foo\", \"id\": \"x\"}",
               "{\"id\": \"x\", \"error\": {\"class\": \"CommandNotFound\", "
               "\"desc\": \"The command foo has not been found\"}}\r\n");

    /* A new peer starts over. */
    monitor_peer_closed(mon);
    assert_false(monitor_qmp_is_negotiated(MONITOR_QMP(mon)));
    monitor_peer_opened(mon);
    g_free(take_output(mon));
    check_xchg(mon, "{\"execute\": \"echo\"}",
               "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": "
               "\"Expecting capabilities negotiation with "
               "'qmp_capabilities'\"}}\r\n");
}

/* Each protocol mistake and QEMU 7.2's reply to it. */
static void test_protocol_errors(void **state)
{
    g_autoptr(Monitor) mon = open_negotiated(false);
    static const struct {
        const char *in;
        const char *out;
    } cases[] = {
        { "[1]", "{\"error\": {\"class\": \"GenericError\", \"desc\": \"QMP "
                 "input must be a JSON object\"}}\r\n" },
        { "\"x\"\n", "{\"error\": {\"class\": \"GenericError\", \"desc\": "
                     "\"QMP input must be a JSON object\"}}\r\n" },
        { "{\"execute\": 1}",
          "{\"error\": {\"class\": \"GenericError\", \"desc\": \"QMP input "
          "member 'execute' must be a string\"}}\r\n" },
        { "{\"execute\": \"echo\", \"arguments\": [1]}",
          "{\"error\": {\"class\": \"GenericError\", \"desc\": \"QMP input "
          "member 'arguments' must be an object\"}}\r\n" },
        { "{\"execute\": \"echo\", \"bogus\": 1}",
          "{\"error\": {\"class\": \"GenericError\", \"desc\": \"QMP input "
          "member 'bogus' is unexpected\"}}\r\n" },
        { "{\"exec-oob\": \"echo\"}",
          "{\"error\": {\"class\": \"GenericError\", \"desc\": \"QMP input "
          "member 'exec-oob' is unexpected\"}}\r\n" },
        { "{\"execute\": \"echo\", \"control\": {}}",
          "{\"error\": {\"class\": \"GenericError\", \"desc\": \"QMP input "
          "member 'control' is unexpected\"}}\r\n" },
        { "{\"id\": 5}", "{\"id\": 5, \"error\": {\"class\": "
                         "\"GenericError\", \"desc\": \"QMP input lacks "
                         "member 'execute'\"}}\r\n" },
        { "{\"a\" 1}", "{\"error\": {\"class\": \"GenericError\", \"desc\": "
                       "\"JSON parse error, missing : in object pair\"}}\r\n" },
        { "foo\n", "{\"error\": {\"class\": \"GenericError\", \"desc\": "
                   "\"JSON parse error, invalid keyword 'foo'\"}}\r\n" },
        { "@", "{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON "
               "parse error, stray '@'\"}}\r\n" },
        { "}", "{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON "
               "parse error, expecting value\"}}\r\n" },
        { "{\"execute\": \"fail\", \"id\": [true]}",
          "{\"id\": [true], \"error\": {\"class\": \"GenericError\", "
          "\"desc\": \"it failed\"}}\r\n" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        check_xchg(mon, cases[i].in, cases[i].out);
    }
    /* The session is still usable after all of that. */
    check_xchg(mon, "{\"execute\": \"echo\", \"arguments\": {\"a\": 1}}",
               "{\"return\": {\"a\": 1}}\r\n");
}

static void test_id_and_arguments(void **state)
{
    g_autoptr(Monitor) mon = open_negotiated(false);

    /* Every JSON type as id, echoed; QEMU's single quotes accepted. */
    check_xchg(mon, "{\"execute\": \"echo\", \"id\": null}",
               "{\"return\": {}, \"id\": null}\r\n");
    check_xchg(mon, "{\"execute\": \"echo\", \"id\": \"\\u00e9\\\"\"}",
               "{\"return\": {}, \"id\": \"\\u00E9\\\"\"}\r\n");
    check_xchg(mon, "{'execute': 'echo', 'id': 1.5, 'arguments': {'x': [1]}}",
               "{\"return\": {\"x\": [1]}, \"id\": 1.5}\r\n");
    /* Several requests in one read, answered in order. */
    check_xchg(mon,
               "{\"execute\": \"echo\", \"id\": 1}{\"execute\": \"fail\", "
               "\"id\": 2}\n{\"execute\": \"echo\", \"id\": 3}",
               "{\"return\": {}, \"id\": 1}\r\n"
               "{\"id\": 2, \"error\": {\"class\": \"GenericError\", "
               "\"desc\": \"it failed\"}}\r\n"
               "{\"return\": {}, \"id\": 3}\r\n");
}

/* One byte at a time gives the same replies. */
static void test_bytewise(void **state)
{
    g_autoptr(Monitor) mon = open_negotiated(false);
    const char *in = "{\"execute\": \"echo\", \"id\": 7, \"arguments\": "
                     "{\"s\": \"a b\"}}";
    g_autofree char *out = NULL;

    for (size_t i = 0; in[i]; i++) {
        monitor_input(mon, in + i, 1);
        if (in[i + 1]) {
            assert_int_equal(monitor_output_pending(mon), 0);
        }
    }
    out = take_output(mon);
    assert_string_equal(out, "{\"return\": {\"s\": \"a b\"}, \"id\": 7}\r\n");
}

static void test_pretty(void **state)
{
    g_autoptr(Monitor) mon = new_qmp(true);
    g_autofree char *greeting = NULL;
    g_autoptr(Monitor) mon2 = NULL;

    monitor_peer_opened(mon);
    greeting = take_output(mon);
    assert_true(g_str_has_prefix(greeting, "{\r\n    \"QMP\": {\r\n        "
                                           "\"version\": {\r\n"));
    assert_true(g_str_has_suffix(greeting, "        \"capabilities\": [\r\n"
                                           "        ]\r\n    }\r\n}\r\n"));
    monitor_peer_closed(mon);
    g_clear_object(&mon);

    mon2 = open_negotiated(true);
    check_xchg(mon2, "{\"execute\": \"echo\", \"id\": []}",
               "{\r\n    \"return\": {\r\n    },\r\n    \"id\": [\r\n    "
               "]\r\n}\r\n");
}

/* Check one event line: {"timestamp": {...}, "event": NAME} */
static void check_event(const char *line, const char *name, gint64 before)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(JsonParser) parser = json_parser_new();
    JsonObject *obj;
    JsonObject *ts;
    gint64 when;
    g_autofree char *tail = g_strdup_printf(", \"event\": \"%s\"}\r\n", name);

    if (!g_str_has_prefix(line, "{\"timestamp\": {\"seconds\": ")) {
        fail_msg("not an event: %s", line);
    }
    assert_true(g_str_has_suffix(line, tail));
    assert_true(json_parser_load_from_data(parser, line, -1, &err));
    obj = json_node_get_object(json_parser_get_root(parser));
    ts = json_object_get_object_member(obj, "timestamp");
    when = json_object_get_int_member(ts, "seconds") * G_USEC_PER_SEC +
           json_object_get_int_member(ts, "microseconds");
    assert_true(json_object_get_int_member(ts, "microseconds") < 1000000);
    assert_true(when >= before - G_USEC_PER_SEC);
    assert_true(when <= g_get_real_time() + G_USEC_PER_SEC);
    assert_false(json_object_has_member(obj, "data"));
}

/* Events go to every negotiated client, before the reply that caused them. */
static void test_events(void **state)
{
    g_autoptr(Monitor) a = open_negotiated(false);
    g_autoptr(Monitor) b = open_negotiated(false);
    g_autoptr(Monitor) c = new_qmp(false); /* connected, not negotiated */
    g_autoptr(Monitor) d = new_qmp(false); /* never connected */
    g_autofree char *out_a = NULL;
    g_autofree char *out_b = NULL;
    g_autofree char *out_c = NULL;
    g_auto(GStrv) lines = NULL;
    gint64 before = g_get_real_time();

    monitor_peer_opened(c);
    g_free(take_output(c));
    out_a = xchg(a, "{\"execute\": \"stop\", \"id\": \"s\"}");
    lines = g_strsplit(out_a, "\n", -1);
    assert_int_equal(g_strv_length(lines), 3);
    {
        g_autofree char *first = g_strconcat(lines[0], "\n", NULL);

        check_event(first, "STOP", before);
    }
    assert_string_equal(lines[1], "{\"return\": {}, \"id\": \"s\"}\r");

    out_b = take_output(b);
    check_event(out_b, "STOP", before);
    out_c = take_output(c);
    assert_string_equal(out_c, "");
    assert_int_equal(monitor_output_pending(d), 0);

    /* With data. */
    {
        g_autoptr(JsonObject) data = json_object_new();
        g_autofree char *ev = NULL;

        json_object_set_boolean_member(data, "guest", false);
        json_object_set_string_member(data, "reason", "host-qmp-quit");
        monitor_qmp_broadcast_event("SHUTDOWN", data);
        ev = take_output(b);
        assert_non_null(strstr(ev, ", \"event\": \"SHUTDOWN\", \"data\": "
                                   "{\"guest\": false, \"reason\": "
                                   "\"host-qmp-quit\"}}\r\n"));
        g_free(take_output(a));
    }
}

/*
 * A client that sends but never reads: once its output passes the high
 * mark it is not read any more, and events for it are dropped past the
 * maximum, while another client is served.
 */
static void test_backpressure(void **state)
{
    g_autoptr(Monitor) slow = open_negotiated(false);
    g_autoptr(Monitor) fast = open_negotiated(false);
    const char *req = "{\"execute\": \"big\"}";
    int sent = 0;
    size_t max_pending = 0;

    while (monitor_can_input(slow) > 0) {
        monitor_input(slow, req, strlen(req));
        sent++;
        assert_true(sent < 100);
    }
    assert_true(sent >= 2);
    max_pending = monitor_output_pending(slow);
    assert_true(max_pending >= MONITOR_OUTPUT_HIGH);
    assert_true(max_pending < MONITOR_OUTPUT_HIGH + 50000);

    /* Events fill it to the maximum, no further. */
    for (int i = 0; i < 20000; i++) {
        monitor_qmp_broadcast_event("STOP", NULL);
        g_free(take_output(fast));
    }
    assert_true(monitor_output_pending(slow) <= MONITOR_OUTPUT_MAX);
    assert_true(monitor_output_pending(slow) > MONITOR_OUTPUT_MAX - 200);
    check_xchg(fast, "{\"execute\": \"echo\", \"id\": 1}",
               "{\"return\": {}, \"id\": 1}\r\n");

    /* Reading resumes once it drains. */
    g_free(take_output(slow));
    assert_true(monitor_can_input(slow) > 0);
    check_xchg(slow, "{\"execute\": \"echo\", \"id\": 2}",
               "{\"return\": {}, \"id\": 2}\r\n");
}

static void test_limits(void **state)
{
    g_autoptr(Monitor) mon = open_negotiated(false);
    g_autofree char *deep = g_strnfill(1000, '[');
    g_autofree char *close = g_strnfill(1000, ']');

    check_xchg(mon, deep,
               "{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON "
               "nesting depth limit exceeded\"}}\r\n");
    /* The rest of the message over the limit is skipped silently. */
    check_xchg(mon, close, "");
    check_xchg(mon, "{\"execute\": \"echo\", \"id\": 3}",
               "{\"return\": {}, \"id\": 3}\r\n");
}

static int pipe_fd(void)
{
    int fds[2];

    assert_int_equal(pipe(fds), 0);
    close(fds[1]);
    return fds[0];
}

static bool fd_is_open(int fd)
{
    return fcntl(fd, F_GETFD) >= 0;
}

static void test_fds(void **state)
{
    g_autoptr(Monitor) mon = open_negotiated(false);
    g_autoptr(GError) err = NULL;
    int fd = pipe_fd();
    int fd2 = pipe_fd();
    int got;

    check_xchg(mon,
               "{\"execute\": \"getfd\", \"arguments\": {\"fdname\": "
               "\"f\"}}",
               "{\"error\": {\"class\": \"GenericError\", \"desc\": \"No file "
               "descriptor supplied via SCM_RIGHTS\"}}\r\n");
    monitor_push_received_fd(mon, fd);
    check_xchg(mon,
               "{\"execute\": \"getfd\", \"arguments\": {\"fdname\": "
               "\"f\"}}",
               "{\"return\": {}}\r\n");
    assert_true(fd_is_open(fd));
    /* A second one under the same name replaces (and closes) the first. */
    monitor_push_received_fd(mon, fd2);
    check_xchg(mon,
               "{\"execute\": \"getfd\", \"arguments\": {\"fdname\": "
               "\"f\"}}",
               "{\"return\": {}}\r\n");
    assert_false(fd_is_open(fd));
    got = monitor_fd_get(mon, "f", &err);
    assert_int_equal(got, fd2);
    close(got);
    assert_int_equal(monitor_fd_get(mon, "f", &err), -1);
    assert_true(g_error_matches(err, MONITOR_ERROR, MONITOR_ERROR_NOT_FOUND));
    g_clear_error(&err);
    assert_false(monitor_fd_remove(mon, "f", &err));
    assert_string_equal(err->message, "File descriptor named 'f' not found");
    g_clear_error(&err);
    check_xchg(mon,
               "{\"execute\": \"closefd\", \"arguments\": {\"fdname\": "
               "\"f\"}}",
               "{\"error\": {\"class\": \"GenericError\", \"desc\": \"File "
               "descriptor named 'f' not found\"}}\r\n");
    fd = pipe_fd();
    monitor_push_received_fd(mon, fd);
    check_xchg(mon,
               "{\"execute\": \"getfd\", \"arguments\": {\"fdname\": "
               "\"g\"}}",
               "{\"return\": {}}\r\n");
    check_xchg(mon,
               "{\"execute\": \"closefd\", \"arguments\": {\"fdname\": "
               "\"g\"}}",
               "{\"return\": {}}\r\n");
    assert_false(fd_is_open(fd));

    /* Names that start with a digit are refused, the fd closed. */
    fd = pipe_fd();
    assert_false(monitor_fd_add(mon, "3", fd, &err));
    assert_false(fd_is_open(fd));
    g_clear_error(&err);

    /* Bounded: MONITOR_MAX_FDS names, then refused. */
    for (int i = 0; i < MONITOR_MAX_FDS; i++) {
        g_autofree char *name = g_strdup_printf("n%d", i);

        assert_true(monitor_fd_add(mon, name, pipe_fd(), NULL));
    }
    fd = pipe_fd();
    assert_false(monitor_fd_add(mon, "one-more", fd, &err));
    assert_false(fd_is_open(fd));
    g_clear_error(&err);
    fd = pipe_fd();
    assert_true(monitor_fd_remove(mon, "n0", NULL));
    assert_true(monitor_fd_add(mon, "one-more", fd, NULL));

    /* Descriptors received but not taken are closed when the peer goes. */
    fd = pipe_fd();
    monitor_push_received_fd(mon, fd);
    monitor_peer_closed(mon);
    assert_false(fd_is_open(fd));
}

/* The monitor's own commands, through the generated marshallers. */
static void test_monitor_commands(void **state)
{
    g_autoptr(Monitor) mon = open_negotiated(false);
    g_autofree char *version = NULL;
    g_autofree char *commands_out = NULL;
    g_autofree char *schema = NULL;
    int major, minor, micro;
    const char *package;

    monitor_qmp_version(&major, &minor, &micro, &package);
    version = g_strdup_printf("{\"return\": {\"qemu\": {\"major\": %d, "
                              "\"minor\": %d, \"micro\": %d}, \"package\": "
                              "\"%s\"}, \"id\": 1}\r\n",
                              major, minor, micro, package);
    check_xchg(mon, "{\"execute\": \"query-version\", \"id\": 1}", version);

    /* Every enabled command, in name order; not the disabled one. */
    commands_out = xchg(mon, "{\"execute\": \"query-commands\"}");
    assert_true(g_str_has_prefix(commands_out, "{\"return\": [{\"name\": "
                                               "\"big\"}, {\"name\": "
                                               "\"closefd\"}, "));
    assert_non_null(strstr(commands_out, "{\"name\": \"qmp_capabilities\"}"));
    assert_non_null(strstr(commands_out, "{\"name\": \"query-commands\"}"));
    assert_null(strstr(commands_out, "\"off\""));

    check_xchg(mon, "{\"execute\": \"off\"}",
               "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": "
               "\"Command off has been disabled: not today\"}}\r\n");
    /* Other classes pass through. */
    check_xchg(mon, "{\"execute\": \"device-fail\"}",
               "{\"error\": {\"class\": \"DeviceNotFound\", \"desc\": "
               "\"Device 'x' not found\"}}\r\n");
    /* Argument errors come from the generated visitors, in QEMU's words. */
    check_xchg(mon,
               "{\"execute\": \"query-version\", \"arguments\": "
               "{\"a\": 1}}",
               "{\"error\": {\"class\": \"GenericError\", \"desc\": "
               "\"Parameter 'a' is unexpected\"}}\r\n");

    /* query-qmp-schema: the introspection array. */
    schema = xchg(mon, "{\"execute\": \"query-qmp-schema\", \"id\": 9}");
    assert_true(g_str_has_prefix(schema, "{\"return\": [{"));
    assert_true(g_str_has_suffix(schema, "}], \"id\": 9}\r\n"));
    assert_non_null(strstr(schema, "\"name\": \"query-version\""));
    check_xchg(mon,
               "{\"execute\": \"query-qmp-schema\", \"arguments\": "
               "{\"x\": 1}}",
               "{\"error\": {\"class\": \"GenericError\", \"desc\": "
               "\"Parameter 'x' is unexpected\"}}\r\n");
}

static void test_negotiation_arguments(void **state)
{
    g_autoptr(Monitor) mon = new_qmp(false);

    monitor_peer_opened(mon);
    g_free(take_output(mon));
    check_xchg(mon,
               "{\"execute\": \"qmp_capabilities\", \"arguments\": "
               "{\"enable\": \"oob\"}}",
               "{\"error\": {\"class\": \"GenericError\", \"desc\": "
               "\"Invalid parameter type for 'enable', expected: "
               "array\"}}\r\n");
    check_xchg(mon,
               "{\"execute\": \"qmp_capabilities\", \"arguments\": "
               "{\"enable\": []}}",
               "{\"return\": {}}\r\n");
}

/* Commands that need a monitor fail cleanly without one. */
static void test_no_monitor(void **state)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(VersionInfo) info = NULL;

    assert_null(monitor_cur());
    qmp_qmp_capabilities(NULL, &err);
    assert_true(g_error_matches(err, QAPI_ERROR, QAPI_ERROR_GENERIC));
    g_clear_error(&err);
    assert_null(qmp_query_commands(&err));
    assert_non_null(err);
    g_clear_error(&err);
    qmp_getfd("x", &err);
    assert_non_null(err);
    g_clear_error(&err);
    qmp_closefd("x", &err);
    assert_non_null(err);
    info = qmp_query_version(NULL);
    assert_non_null(info->qemu);
}

static void test_cur(void **state)
{
    g_autoptr(Monitor) mon = new_qmp(false);

    assert_null(monitor_cur());
    assert_null(monitor_set_cur(mon));
    assert_ptr_equal(monitor_cur(), mon);
    assert_ptr_equal(monitor_set_cur(NULL), mon);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greeting),
        cmocka_unit_test(test_negotiation),
        cmocka_unit_test(test_protocol_errors),
        cmocka_unit_test(test_id_and_arguments),
        cmocka_unit_test(test_bytewise),
        cmocka_unit_test(test_pretty),
        cmocka_unit_test(test_events),
        cmocka_unit_test(test_backpressure),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_fds),
        cmocka_unit_test(test_monitor_commands),
        cmocka_unit_test(test_negotiation_arguments),
        cmocka_unit_test(test_no_monitor),
        cmocka_unit_test(test_cur),
    };

    return cmocka_run_group_tests(tests, setup_commands, teardown_commands);
}
