/*
 * Tests of qio's own schema through the generated code in qapi/:
 * query-qmp-schema lists every command and event of the issue in QEMU's
 * SchemaInfo shape with masked type names, and the option strings and QMP
 * arguments the other layers will read parse into the generated types (-object,
 * -chardev backends, -mon, chardev-add's backend).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "qapi/json-visitor.h"
#include "qapi/keyval-visitor.h"
#include "qapi/qapi-commands-introspect.h"
#include "qapi/qapi-introspect.h"
#include "qapi/qapi-visit.h"

#define REQUIRE(p) g_assert((p) != NULL)

static const char *const commands[] = {
    "qmp_capabilities",
    "query-version",
    "query-commands",
    "query-qmp-schema",
    "query-name",
    "query-status",
    "stop",
    "cont",
    "quit",
    "object-add",
    "object-del",
    "qom-list",
    "chardev-add",
    "chardev-remove",
    "query-chardev",
    "query-chardev-backends",
    "ringbuf-write",
    "ringbuf-read",
    "getfd",
    "closefd",
    "human-monitor-command",
    "pmemsave",
    "memsave",
};
static const char *const events[] = { "STOP", "RESUME", "SHUTDOWN" };

static SchemaInfo *find(SchemaInfoList *list, const char *name)
{
    for (; list; list = list->next) {
        if (strcmp(list->value->name, name) == 0) {
            return list->value;
        }
    }
    return NULL;
}

static void test_query_qmp_schema(void **state)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(SchemaInfoList) list = qmp_query_qmp_schema(&err);
    size_t n = 0;

    REQUIRE(list);
    for (size_t i = 0; i < G_N_ELEMENTS(commands); i++) {
        SchemaInfo *info = find(list, commands[i]);

        if (!info || info->meta_type != SCHEMA_META_TYPE_COMMAND) {
            fail_msg("command %s is not in the schema", commands[i]);
        }
        REQUIRE(find(list, info->u.command.arg_type));
        REQUIRE(find(list, info->u.command.ret_type));
    }
    for (size_t i = 0; i < G_N_ELEMENTS(events); i++) {
        SchemaInfo *info = find(list, events[i]);

        REQUIRE(info);
        assert_int_equal(info->meta_type, SCHEMA_META_TYPE_EVENT);
    }
    for (SchemaInfoList *l = list; l; l = l->next) {
        SchemaInfo *info = l->value;

        n++;
        switch (info->meta_type) {
        case SCHEMA_META_TYPE_OBJECT:
        case SCHEMA_META_TYPE_Q_ENUM:
        case SCHEMA_META_TYPE_ALTERNATE:
            /* masked, as QEMU does */
            assert_true(g_ascii_isdigit(info->name[0]));
            break;
        case SCHEMA_META_TYPE_BUILTIN:
            assert_false(g_ascii_isdigit(info->name[0]));
            break;
        default:
            break;
        }
    }
    assert_true(n > 100);

    /* SHUTDOWN's data: guest (bool) and reason (an enum) */
    SchemaInfo *shutdown = find(list, "SHUTDOWN");
    REQUIRE(shutdown);
    SchemaInfo *data = find(list, shutdown->u.event.arg_type);
    REQUIRE(data);
    SchemaInfoObjectMemberList *m = data->u.object.members;
    REQUIRE(m);
    REQUIRE(m->next);
    assert_string_equal(m->value->name, "guest");
    assert_string_equal(m->value->type, "bool");
    assert_string_equal(m->next->value->name, "reason");
    SchemaInfo *reason = find(list, m->next->value->type);
    REQUIRE(reason);
    assert_int_equal(reason->meta_type, SCHEMA_META_TYPE_Q_ENUM);
}

/* Output of the parsed list gives back the generated text's value. */
static void test_introspection_round_trip(void **state)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(SchemaInfoList) list = qmp_query_qmp_schema(&err);
    JsonNode *out = NULL;
    g_autoptr(QapiVisitor) v = qapi_json_output_visitor_new(&out);

    REQUIRE(list);
    assert_true(visit_type_SchemaInfoList(v, NULL, &list, NULL));
    visit_complete(v);
    g_autoptr(JsonNode) expected = json_from_string(qapi_introspect_json, &err);
    REQUIRE(expected);
    assert_true(json_node_equal(out, expected));
    json_node_unref(out);
}

static ObjectOptions *object(const char *params, GError **errp)
{
    g_autoptr(QapiVisitor) v =
        qapi_keyval_input_visitor_new_str(params, "qom-type", errp);
    ObjectOptions *opts = NULL;

    if (v) {
        visit_type_ObjectOptions(v, NULL, &opts, errp);
    }
    return opts;
}

static void test_object_options(void **state)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(ObjectOptions) sec = object("secret,id=s0,data=letmein", &err);
    g_autoptr(ObjectOptions) ram =
        object("memory-backend-ram,id=ram0,size=1G,share=on", &err);
    g_autoptr(ObjectOptions) file = object(
        "memory-backend-file,id=m,size=64M,mem-path=/dev/shm/q,share=yes",
        &err);
    g_autoptr(ObjectOptions) x509 =
        object("tls-creds-x509,id=tls0,endpoint=server,dir=/etc/pki/qio,"
               "verify-peer=off",
               &err);
    g_autoptr(ObjectOptions) list = object(
        "authz-list,id=a,policy=deny,rules.0.match=CN=a*,rules.0.policy=allow,"
        "rules.0.format=glob,rules.1.match=CN=b,rules.1.policy=allow",
        &err);

    REQUIRE(sec);
    assert_int_equal(sec->qom_type, OBJECT_TYPE_SECRET);
    assert_string_equal(sec->id, "s0");
    assert_string_equal(sec->u.secret.data, "letmein");
    REQUIRE(ram);
    assert_true(ram->u.memory_backend_ram.size == 1ULL << 30);
    assert_true(ram->u.memory_backend_ram.has_share);
    assert_true(ram->u.memory_backend_ram.share);
    REQUIRE(file);
    assert_string_equal(file->u.memory_backend_file.mem_path, "/dev/shm/q");
    assert_true(file->u.memory_backend_file.size == 64ULL << 20);
    REQUIRE(x509);
    assert_int_equal(x509->u.tls_creds_x509.endpoint,
                     TLS_CREDS_ENDPOINT_SERVER);
    assert_false(x509->u.tls_creds_x509.verify_peer);
    REQUIRE(list);
    AuthZListRuleList *rules = list->u.authz_list.rules;
    REQUIRE(rules);
    assert_string_equal(rules->value->match, "CN=a*");
    assert_int_equal(rules->value->format, AUTHZ_LIST_FORMAT_GLOB);
    assert_int_equal(rules->next->value->policy, AUTHZ_LIST_POLICY_ALLOW);

    g_autoptr(ObjectOptions) bad = object("memory-backend-ram,id=m", &err);
    assert_null(bad);
    assert_string_equal(err->message, "Parameter 'size' is missing");
    g_clear_error(&err);
    g_autoptr(ObjectOptions) bad2 = object("bogus,id=m", &err);
    assert_null(bad2);
    assert_string_equal(err->message,
                        "Parameter 'qom-type' does not accept value 'bogus'");
    g_clear_error(&err);
    g_autoptr(ObjectOptions) bad3 =
        object("memory-backend-ram,id=m,size=abc", &err);
    assert_null(bad3);
    assert_string_equal(err->message, "Parameter 'size' expects a size value");
}

/* The chardev-add example. */
static void test_chardev_backend_json(void **state)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(JsonNode) node = json_from_string(
        "{\"type\": \"socket\", \"data\": {\"addr\": {\"type\": \"inet\", "
        "\"data\": {\"host\": \"127.0.0.1\", \"port\": \"9000\"}}, "
        "\"server\": true, \"wait\": false, \"tls-creds\": \"tls0\"}}",
        &err);
    g_autoptr(QapiVisitor) v = qapi_json_input_visitor_new(node);
    g_autoptr(ChardevBackend) b = NULL;

    assert_true(visit_type_ChardevBackend(v, NULL, &b, &err));
    assert_int_equal(b->type, CHARDEV_BACKEND_KIND_SOCKET);
    ChardevSocket *s = b->u.socket.data;
    assert_int_equal(s->addr->type, SOCKET_ADDRESS_TYPE_INET);
    assert_string_equal(s->addr->u.inet.data->host, "127.0.0.1");
    assert_string_equal(s->addr->u.inet.data->port, "9000");
    assert_true(s->has_server && s->server);
    assert_true(s->has_wait && !s->wait);
    assert_string_equal(s->tls_creds, "tls0");
    assert_null(s->logfile);
}

static void test_keyval_shapes(void **state)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(QapiVisitor) v = qapi_keyval_input_visitor_new_str(
        "type=unix,data.path=/tmp/s,data.abstract=on", NULL, &err);
    g_autoptr(SocketAddressLegacy) addr = NULL;

    REQUIRE(v);
    assert_true(visit_type_SocketAddressLegacy(v, NULL, &addr, &err));
    assert_string_equal(addr->u.q_unix.data->path, "/tmp/s");
    assert_true(addr->u.q_unix.data->abstract);

    g_autoptr(QapiVisitor) mv = qapi_keyval_input_visitor_new_str(
        "chardev=c0,mode=control,pretty=on", NULL, &err);
    g_autoptr(MonitorOptions) mon = NULL;
    assert_true(visit_type_MonitorOptions(mv, NULL, &mon, &err));
    assert_string_equal(mon->chardev, "c0");
    assert_int_equal(mon->mode, MONITOR_MODE_CONTROL);
    assert_true(mon->has_pretty && mon->pretty);

    g_autoptr(QapiVisitor) rv = qapi_keyval_input_visitor_new_str(
        "type=ringbuf,data.size=1024", NULL, &err);
    g_autoptr(ChardevBackend) rb = NULL;
    assert_true(visit_type_ChardevBackend(rv, NULL, &rb, &err));
    assert_int_equal(rb->u.ringbuf.data->size, 1024);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_query_qmp_schema),
        cmocka_unit_test(test_introspection_round_trip),
        cmocka_unit_test(test_object_options),
        cmocka_unit_test(test_chardev_backend_json),
        cmocka_unit_test(test_keyval_shapes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
