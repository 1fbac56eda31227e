/*
 * The implementations of the test schema's commands
 * (tests/qapi-schema/qapi-schema-test.json), linked into every qapi unit
 * test because the generated marshallers call them.
 */
#include "qapi-test-commands.h"

#include "test-qapi-commands.h"

int qapi_test_calls;

char *qmp_test_echo(const char *msg, bool has_times, int64_t times,
                    TestInner *inner, GError **errp)
{
    g_autoptr(GString) out = g_string_new(NULL);

    qapi_test_calls++;
    if (!has_times) {
        times = 1;
    }
    if (times < 0 || times > 16) {
        g_set_error(errp, QAPI_ERROR, QAPI_ERROR_GENERIC,
                    "times must be from 0 to 16");
        return NULL;
    }
    for (int64_t i = 0; i < times; i++) {
        g_string_append(out, msg);
    }
    if (inner) {
        g_string_append_printf(out, "/%" G_GINT64_FORMAT, inner->n);
    }
    return g_string_free(g_steal_pointer(&out), FALSE);
}

void qmp_test_nothing(GError **errp)
{
    qapi_test_calls++;
}

TestInnerList *qmp_test_list(uint8_t n, GError **errp)
{
    TestInnerList *head = NULL;

    qapi_test_calls++;
    for (int i = n; i > 0; i--) {
        TestInnerList *node = g_new0(TestInnerList, 1);

        node->value = g_new0(TestInner, 1);
        node->value->n = i;
        node->value->label = g_strdup_printf("item %d", i);
        node->next = head;
        head = node;
    }
    return head;
}

TestUnion *qmp_test_boxed(TestUnion *arg, GError **errp)
{
    TestUnion *copy = g_new0(TestUnion, 1);

    qapi_test_calls++;
    copy->type = arg->type;
    copy->tag = g_strdup(arg->tag ? arg->tag : "echoed");
    switch (arg->type) {
    case TEST_KIND_FILE:
        copy->u.file.path = g_strdup(arg->u.file.path);
        copy->u.file.has_append = arg->u.file.has_append;
        copy->u.file.append = arg->u.file.append;
        break;
    case TEST_KIND_NET:
        copy->u.net.host = g_strdup(arg->u.net.host);
        copy->u.net.port = arg->u.net.port;
        break;
    default:
        break;
    }
    return copy;
}

int64_t qmp_test_flat(int64_t n, const char *label, GError **errp)
{
    qapi_test_calls++;
    return label ? n + (int64_t)strlen(label) : n;
}

void qmp_test_fail(GError **errp)
{
    qapi_test_calls++;
    g_set_error(errp, QAPI_ERROR, QAPI_ERROR_DEVICE_NOT_FOUND,
                "Device 'nowhere' not found");
}
