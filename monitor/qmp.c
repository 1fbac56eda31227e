/*
 * MonitorQMP: the QMP session on top of the Monitor base.
 *
 * What is subtle: the wording and shapes are QEMU's, checked against
 * qemu-system-x86_64 7.2, because clients and scripts written for QEMU
 * compare them: the greeting, the two CommandNotFound texts around
 * negotiation, the checks on the request object in QEMU's order and
 * words, "id" echoed whatever its type, and the member order of replies
 * ({"return", "id"} but {"id", "error"}) and events ({"timestamp",
 * "event", "data"}).  Each message ends with \r\n as QEMU's do.
 *
 * Requests run synchronously from the input callback, one after the
 * other in the order they arrived, so replies are in request order.
 */
#include "monitor/qmp.h"

#include <stdio.h>
#include <string.h>

#include "monitor/error.h"
#include "monitor/json-writer.h"
#include "qapi/error.h"
#include "qapi/event.h"
#include "qio-config.h"

struct _MonitorQMP {
    Monitor parent;

    bool pretty;
    MonitorJsonStream *stream;
    GByteArray *backlog; /* input not handled yet: output was full */
    bool processing;
    const QmpCommandList *commands;
    bool negotiated;
};

G_DEFINE_TYPE(MonitorQMP, monitor_qmp, MONITOR_TYPE_BASE)

/* Every QMP monitor, for events; only touched on the main thread. */
static GList *qmp_monitors;

void monitor_qmp_version(int *major, int *minor, int *micro,
                         const char **package)
{
    unsigned v[3] = { 0, 0, 0 };

    sscanf(QIO_VERSION, "%u.%u.%u", &v[0], &v[1], &v[2]);
    *major = v[0];
    *minor = v[1];
    *micro = v[2];
    *package = "";
}

/* ---- Output --------------------------------------------------------------
 */

static void send_node(MonitorQMP *qmp, JsonNode *node, bool unsolicited)
{
    g_autoptr(GString) out = g_string_new(NULL);

    monitor_json_write(
        out, node, MONITOR_JSON_CRLF | (qmp->pretty ? MONITOR_JSON_PRETTY : 0));
    if (unsolicited) {
        monitor_write_unsolicited(MONITOR_BASE(qmp), out->str, out->len);
    } else {
        monitor_write(MONITOR_BASE(qmp), out->str, out->len);
    }
}

static void send_object(MonitorQMP *qmp, JsonObject *obj, bool unsolicited)
{
    g_autoptr(JsonNode) node = json_node_init_object(json_node_alloc(), obj);

    send_node(qmp, node, unsolicited);
}

static void send_greeting(MonitorQMP *qmp)
{
    g_autoptr(JsonObject) triple = json_object_new();
    g_autoptr(JsonObject) version = json_object_new();
    g_autoptr(JsonObject) qmpobj = json_object_new();
    g_autoptr(JsonObject) greeting = json_object_new();
    int major, minor, micro;
    const char *package;

    monitor_qmp_version(&major, &minor, &micro, &package);
    /* QEMU's order */
    json_object_set_int_member(triple, "micro", micro);
    json_object_set_int_member(triple, "minor", minor);
    json_object_set_int_member(triple, "major", major);
    json_object_set_object_member(version, "qemu", json_object_ref(triple));
    json_object_set_string_member(version, "package", package);
    json_object_set_object_member(qmpobj, "version", json_object_ref(version));
    json_object_set_array_member(qmpobj, "capabilities", json_array_new());
    json_object_set_object_member(greeting, "QMP", json_object_ref(qmpobj));
    send_object(qmp, greeting, false);
}

static void send_return(MonitorQMP *qmp, JsonNode *ret, JsonNode *id)
{
    g_autoptr(JsonObject) reply = json_object_new();

    if (ret) {
        json_object_set_member(reply, "return", json_node_ref(ret));
    } else {
        json_object_set_object_member(reply, "return", json_object_new());
    }
    if (id) {
        json_object_set_member(reply, "id", json_node_ref(id));
    }
    send_object(qmp, reply, false);
}

static void send_error(MonitorQMP *qmp, const GError *err, JsonNode *id)
{
    g_autoptr(JsonObject) reply = json_object_new();
    g_autoptr(JsonObject) error = json_object_new();

    json_object_set_string_member(error, "class", qapi_error_class(err));
    json_object_set_string_member(error, "desc", err->message);
    if (id) {
        json_object_set_member(reply, "id", json_node_ref(id));
    }
    json_object_set_object_member(reply, "error", json_object_ref(error));
    send_object(qmp, reply, false);
}

/* ---- Requests ------------------------------------------------------------
 */

/*
 * QEMU's checks on the request object, in its words: the name of the
 * command, or NULL with @errp set.
 */
static const char *check_request(JsonObject *req, JsonObject **args,
                                 GError **errp)
{
    JsonObjectIter iter;
    const char *member;
    JsonNode *value;
    const char *name = NULL;

    *args = NULL;
    json_object_iter_init_ordered(&iter, req);
    while (json_object_iter_next_ordered(&iter, &member, &value)) {
        if (!strcmp(member, "execute")) {
            if (!JSON_NODE_HOLDS_VALUE(value) ||
                json_node_get_value_type(value) != G_TYPE_STRING) {
                g_set_error(errp, MONITOR_ERROR, MONITOR_ERROR_PROTOCOL,
                            "QMP input member 'execute' must be a string");
                return NULL;
            }
            name = json_node_get_string(value);
        } else if (!strcmp(member, "arguments")) {
            if (!JSON_NODE_HOLDS_OBJECT(value)) {
                g_set_error(errp, MONITOR_ERROR, MONITOR_ERROR_PROTOCOL,
                            "QMP input member 'arguments' must be an object");
                return NULL;
            }
            *args = json_node_get_object(value);
        } else if (strcmp(member, "id") != 0) {
            /* exec-oob included: out-of-band is not offered */
            g_set_error(errp, MONITOR_ERROR, MONITOR_ERROR_PROTOCOL,
                        "QMP input member '%s' is unexpected", member);
            return NULL;
        }
    }
    if (!name) {
        g_set_error(errp, MONITOR_ERROR, MONITOR_ERROR_PROTOCOL,
                    "QMP input lacks member 'execute'");
        return NULL;
    }
    return name;
}

static void handle_request(MonitorQMP *qmp, JsonNode *req)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(JsonNode) ret = NULL;
    JsonObject *obj;
    JsonObject *args;
    JsonNode *id;
    const char *name;
    const QmpCommand *cmd;

    if (!JSON_NODE_HOLDS_OBJECT(req)) {
        g_set_error(&err, MONITOR_ERROR, MONITOR_ERROR_PROTOCOL,
                    "QMP input must be a JSON object");
        send_error(qmp, err, NULL);
        return;
    }
    obj = json_node_get_object(req);
    id = json_object_get_member(obj, "id");
    name = check_request(obj, &args, &err);
    if (!name) {
        send_error(qmp, err, id);
        return;
    }

    cmd = qmp->commands ? qmp_find_command(qmp->commands, name) : NULL;
    if (!qmp->negotiated && (!cmd || strcmp(name, "qmp_capabilities"))) {
        g_set_error(&err, QAPI_ERROR, QAPI_ERROR_COMMAND_NOT_FOUND,
                    "Expecting capabilities negotiation with "
                    "'qmp_capabilities'");
        send_error(qmp, err, id);
        return;
    }
    if (!cmd) {
        g_set_error(&err, QAPI_ERROR, QAPI_ERROR_COMMAND_NOT_FOUND,
                    "The command %s has not been found", name);
        send_error(qmp, err, id);
        return;
    }
    if (!qmp_command_is_enabled(cmd)) {
        const char *why = qmp_command_disable_reason(cmd);

        g_set_error(&err, QAPI_ERROR, QAPI_ERROR_COMMAND_NOT_FOUND,
                    "Command %s has been disabled%s%s", name, why ? ": " : "",
                    why ? why : "");
        send_error(qmp, err, id);
        return;
    }

    /* The reply may come after the command freed its monitor: hold it. */
    g_object_ref(qmp);
    if (qmp_command_run(cmd, args, &ret, &err)) {
        send_return(qmp, ret, id);
    } else {
        send_error(qmp, err, id);
    }
    g_object_unref(qmp);
}

static void stream_emit(void *opaque, JsonNode *value, GError *err)
{
    MonitorQMP *qmp = opaque;

    if (err) {
        send_error(qmp, err, NULL);
        g_error_free(err);
        return;
    }
    handle_request(qmp, value);
    json_node_unref(value);
}

/* ---- Negotiation ---------------------------------------------------------
 */

bool monitor_qmp_negotiate(MonitorQMP *qmp, const char *const *enable,
                           GError **errp)
{
    if (qmp->negotiated) {
        g_set_error(errp, QAPI_ERROR, QAPI_ERROR_COMMAND_NOT_FOUND,
                    "Capabilities negotiation is already complete, command "
                    "ignored");
        return false;
    }
    if (enable && enable[0]) {
        /* Nothing is offered, so every capability asked for is missing. */
        g_autofree char *list = g_strjoinv(", ", (char **)enable);

        g_set_error(errp, QAPI_ERROR, QAPI_ERROR_GENERIC,
                    "Capability %s not available", list);
        return false;
    }
    qmp->negotiated = true;
    return true;
}

bool monitor_qmp_is_negotiated(MonitorQMP *qmp)
{
    return qmp->negotiated;
}

/* ---- Events --------------------------------------------------------------
 */

static gpointer ref_monitor(gconstpointer mon, gpointer unused)
{
    return g_object_ref((gpointer)mon);
}

void monitor_qmp_broadcast_event(const char *name, JsonObject *data)
{
    g_autoptr(JsonObject) ts = json_object_new();
    g_autoptr(JsonObject) event = json_object_new();
    gint64 now = g_get_real_time();
    GList *targets;

    json_object_set_int_member(ts, "seconds", now / G_USEC_PER_SEC);
    json_object_set_int_member(ts, "microseconds", now % G_USEC_PER_SEC);
    json_object_set_object_member(event, "timestamp", json_object_ref(ts));
    json_object_set_string_member(event, "event", name);
    if (data && json_object_get_size(data) > 0) {
        json_object_set_object_member(event, "data", json_object_ref(data));
    }
    /*
     * On a copy, each monitor held: a write can report the peer gone,
     * and what that triggers may drop a monitor from the list.
     */
    targets = g_list_copy_deep(qmp_monitors, ref_monitor, NULL);
    for (GList *l = targets; l; l = l->next) {
        MonitorQMP *qmp = l->data;

        if (qmp->negotiated && monitor_is_open(MONITOR_BASE(qmp))) {
            send_object(qmp, event, true);
        }
    }
    g_list_free_full(targets, g_object_unref);
}

void monitor_qmp_event_emitter(const char *event, JsonObject *data,
                               void *opaque)
{
    monitor_qmp_broadcast_event(event, data);
}

/* ---- Object --------------------------------------------------------------
 */

/*
 * Handle held input one message at a time while the output has room: a
 * read of many small requests with large replies stops at the mark.
 */
static void process_backlog(MonitorQMP *qmp)
{
    Monitor *mon = MONITOR_BASE(qmp);

    if (qmp->processing) {
        return;
    }
    qmp->processing = true;
    while (qmp->backlog->len > 0 &&
           monitor_output_pending(mon) < MONITOR_OUTPUT_HIGH) {
        size_t n = monitor_json_stream_feed_one(qmp->stream, qmp->backlog->data,
                                                qmp->backlog->len);

        g_byte_array_remove_range(qmp->backlog, 0, n);
    }
    qmp->processing = false;
}

static void monitor_qmp_input(Monitor *mon, const uint8_t *buf, size_t len)
{
    MonitorQMP *qmp = MONITOR_QMP(mon);

    g_byte_array_append(qmp->backlog, buf, len);
    process_backlog(qmp);
}

static size_t monitor_qmp_input_backlog(Monitor *mon)
{
    return MONITOR_QMP(mon)->backlog->len;
}

static void monitor_qmp_output_drained(Monitor *mon)
{
    process_backlog(MONITOR_QMP(mon));
}

static void monitor_qmp_opened(Monitor *mon)
{
    MonitorQMP *qmp = MONITOR_QMP(mon);

    monitor_json_stream_reset(qmp->stream);
    g_byte_array_set_size(qmp->backlog, 0);
    qmp->negotiated = false;
    send_greeting(qmp);
}

static void monitor_qmp_closed(Monitor *mon)
{
    MonitorQMP *qmp = MONITOR_QMP(mon);

    monitor_json_stream_reset(qmp->stream);
    g_byte_array_set_size(qmp->backlog, 0);
    qmp->negotiated = false;
}

MonitorQMP *monitor_qmp_new(const MonitorQMPOptions *opts)
{
    MonitorQMP *qmp = g_object_new(MONITOR_TYPE_QMP, NULL);

    qmp->pretty = opts && opts->pretty;
    qmp->commands = opts ? opts->commands : NULL;
    qmp->stream =
        monitor_json_stream_new(opts ? opts->json : NULL, stream_emit, qmp);
    return qmp;
}

const QmpCommandList *monitor_qmp_get_commands(MonitorQMP *qmp)
{
    return qmp->commands;
}

static void monitor_qmp_init(MonitorQMP *qmp)
{
    qmp->backlog = g_byte_array_new();
    qmp_monitors = g_list_prepend(qmp_monitors, qmp);
}

static void monitor_qmp_dispose(GObject *obj)
{
    /* No event reaches a monitor on its way out. */
    qmp_monitors = g_list_remove(qmp_monitors, obj);
    G_OBJECT_CLASS(monitor_qmp_parent_class)->dispose(obj);
}

static void monitor_qmp_finalize(GObject *obj)
{
    MonitorQMP *qmp = MONITOR_QMP(obj);

    monitor_json_stream_free(qmp->stream);
    g_byte_array_unref(qmp->backlog);
    G_OBJECT_CLASS(monitor_qmp_parent_class)->finalize(obj);
}

static void monitor_qmp_class_init(MonitorQMPClass *klass)
{
    GObjectClass *oc = G_OBJECT_CLASS(klass);
    MonitorClass *mc = MONITOR_BASE_CLASS(klass);

    oc->dispose = monitor_qmp_dispose;
    oc->finalize = monitor_qmp_finalize;
    mc->input = monitor_qmp_input;
    mc->opened = monitor_qmp_opened;
    mc->closed = monitor_qmp_closed;
    mc->input_backlog = monitor_qmp_input_backlog;
    mc->output_drained = monitor_qmp_output_drained;
    qapi_event_set_emitter(monitor_qmp_event_emitter, NULL);
}
