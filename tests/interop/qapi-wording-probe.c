/*
 * qio's QMP argument checking without a monitor: every command of the
 * schema is registered with its generated marshaller, and each line of
 * standard input ({"execute": ..., "arguments": ...}) is answered on
 * standard output with {"return": ...} or {"error": {"class", "desc"}}.
 * test-qapi-wording-qemu.py sends the same malformed arguments here and
 * to qemu-system-x86_64 and compares the answers.  With --object, each
 * line is instead an -object option string, read by the keyval visitor
 * into ObjectOptions, and the answer is the error message or "ok".
 *
 * The implementations below are never meant to be reached: an argument
 * error stops in the marshaller.  Each reports that it was reached, so a
 * test sees arguments that were wrongly accepted.
 */
#include <stdio.h>
#include <string.h>

#include "qapi/qapi-commands-char.h"
#include "qapi/qapi-commands-control.h"
#include "qapi/qapi-commands-misc.h"
#include "qapi/qapi-commands-qom.h"
#include "qapi/qapi-commands-run-state.h"
#include "qapi/qapi-init-commands.h"
#include "qapi/keyval-visitor.h"
#include "qapi/qapi-visit-qom.h"

#define REACHED(errp)                                                          \
    g_set_error(errp, QAPI_ERROR, QAPI_ERROR_GENERIC, "%s reached", __func__)

ChardevInfoList *qmp_query_chardev(GError **errp)
{
    REACHED(errp);
    return NULL;
}

ChardevBackendInfoList *qmp_query_chardev_backends(GError **errp)
{
    REACHED(errp);
    return NULL;
}

void qmp_ringbuf_write(const char *device, const char *data, bool has_format,
                       DataFormat format, GError **errp)
{
    REACHED(errp);
}

char *qmp_ringbuf_read(const char *device, int64_t size, bool has_format,
                       DataFormat format, GError **errp)
{
    REACHED(errp);
    return NULL;
}

ChardevReturn *qmp_chardev_add(const char *id, ChardevBackend *backend,
                               GError **errp)
{
    REACHED(errp);
    return NULL;
}

void qmp_chardev_remove(const char *id, GError **errp)
{
    REACHED(errp);
}

void qmp_qmp_capabilities(QMPCapabilityList *enable, GError **errp)
{
    REACHED(errp);
}

VersionInfo *qmp_query_version(GError **errp)
{
    REACHED(errp);
    return NULL;
}

CommandInfoList *qmp_query_commands(GError **errp)
{
    REACHED(errp);
    return NULL;
}

void qmp_quit(GError **errp)
{
    REACHED(errp);
}

void qmp_getfd(const char *fdname, GError **errp)
{
    REACHED(errp);
}

void qmp_closefd(const char *fdname, GError **errp)
{
    REACHED(errp);
}

char *qmp_human_monitor_command(const char *command_line, bool has_cpu_index,
                                int64_t cpu_index, GError **errp)
{
    REACHED(errp);
    return NULL;
}

void qmp_pmemsave(int64_t val, int64_t size, const char *filename,
                  GError **errp)
{
    REACHED(errp);
}

void qmp_memsave(int64_t val, int64_t size, const char *filename,
                 bool has_cpu_index, int64_t cpu_index, GError **errp)
{
    REACHED(errp);
}

ObjectPropertyInfoList *qmp_qom_list(const char *path, GError **errp)
{
    REACHED(errp);
    return NULL;
}

void qmp_object_add(ObjectOptions *arg, GError **errp)
{
    REACHED(errp);
}

void qmp_object_del(const char *id, GError **errp)
{
    REACHED(errp);
}

StatusInfo *qmp_query_status(GError **errp)
{
    REACHED(errp);
    return NULL;
}

void qmp_stop(GError **errp)
{
    REACHED(errp);
}

void qmp_cont(GError **errp)
{
    REACHED(errp);
}

NameInfo *qmp_query_name(GError **errp)
{
    REACHED(errp);
    return NULL;
}

/* The reply to one request line, as a new string. */
static char *answer(QmpCommandList *cmds, const char *line)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(JsonNode) req = json_from_string(line, &err);
    g_autoptr(JsonBuilder) b = json_builder_new();
    JsonNode *ret = NULL;

    json_builder_begin_object(b);
    if (req && JSON_NODE_HOLDS_OBJECT(req)) {
        JsonObject *o = json_node_get_object(req);
        const char *name =
            json_object_get_string_member_with_default(o, "execute", "");
        JsonObject *args = json_object_has_member(o, "arguments")
                               ? json_object_get_object_member(o, "arguments")
                               : NULL;
        const QmpCommand *cmd = qmp_find_command(cmds, name);

        if (!cmd) {
            g_set_error(&err, QAPI_ERROR, QAPI_ERROR_COMMAND_NOT_FOUND,
                        "The command %s has not been found", name);
        } else if (qmp_command_run(cmd, args, &ret, &err)) {
            json_builder_set_member_name(b, "return");
            json_builder_add_value(b, ret);
        }
    } else if (!err) {
        g_set_error(&err, QAPI_ERROR, QAPI_ERROR_GENERIC,
                    "probe: one JSON object per line");
    }
    if (err) {
        json_builder_set_member_name(b, "error");
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "class");
        json_builder_add_string_value(b, qapi_error_class(err));
        json_builder_set_member_name(b, "desc");
        json_builder_add_string_value(b, err->message);
        json_builder_end_object(b);
    }
    json_builder_end_object(b);
    g_autoptr(JsonNode) reply = json_builder_get_root(b);
    return json_to_string(reply, FALSE);
}

/* What -object makes of @line: "ok" or the error message. */
static char *object_answer(char *line)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(ObjectOptions) opts = NULL;

    line[strcspn(line, "\n")] = 0;
    g_autoptr(QapiVisitor) v =
        qapi_keyval_input_visitor_new_str(line, "qom-type", &err);
    if (v) {
        visit_type_ObjectOptions(v, NULL, &opts, &err);
    }
    return g_strdup(err ? err->message : "ok");
}

int main(int argc, char **argv)
{
    g_autoptr(QmpCommandList) cmds = qmp_command_list_new();
    bool objects = argc > 1 && strcmp(argv[1], "--object") == 0;
    char line[65536];

    qmp_init_marshal(cmds);
    while (fgets(line, sizeof(line), stdin)) {
        if (objects) {
            g_autofree char *reply = object_answer(line);

            printf("%s\n", reply);
            fflush(stdout);
            continue;
        }
        g_autofree char *reply = answer(cmds, line);

        printf("%s\n", reply);
        fflush(stdout);
    }
    return 0;
}
