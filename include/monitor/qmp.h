/*
 * MonitorQMP: a QMP session, as QEMU's -qmp and -mon mode=control.
 *
 * When a peer connects the monitor sends the greeting
 *
 *     {"QMP": {"version": {"qemu": {"micro": 0, "minor": 1, "major": 0},
 *              "package": "qio"}, "capabilities": []}}
 *
 * (qio's version in QEMU's shape) and accepts only qmp_capabilities until
 * the client has negotiated; every other command gets QEMU's
 * CommandNotFound "Expecting capabilities negotiation with
 * 'qmp_capabilities'".  Then each request
 *
 *     {"execute": NAME, "arguments": {...}, "id": ANY}
 *
 * is checked as QEMU checks it (an object; "execute" a string;
 * "arguments" an object; no other member), dispatched to the command's
 * marshaller, and answered {"return": ...} or {"error": {"class",
 * "desc"}}, with "id" echoed as it came.  Input is parsed by
 * MonitorJsonStream with its bounds; a broken message gets its error and
 * the session goes on.  Events go to every negotiated QMP monitor
 * (monitor_qmp_broadcast_event()), with a timestamp.  Out-of-band
 * execution is not offered, so "oob" is not in the greeting and
 * qmp_capabilities refuses it.
 *
 * Commands come from a QmpCommandList (include/qapi/qmp-registry.h)
 * that the program fills with the generated qmp_init_marshal(); a
 * disabled command is answered CommandNotFound.  A command runs with its
 * monitor current (monitor_cur()); the commands the monitor implements
 * itself (qmp_capabilities, query-version, query-commands, getfd and
 * closefd, whose prototypes are in the generated qapi-commands-control.h
 * and qapi-commands-misc.h) use it; query-qmp-schema is qapi's own.
 *
 *     g_autoptr(QmpCommandList) cmds = qmp_command_list_new();
 *     qmp_init_marshal(cmds);
 *     MonitorQMPOptions opts = { .pretty = false, .commands = cmds };
 *     MonitorQMP *qmp = monitor_qmp_new(&opts);
 *     monitor_attach_chardev(MONITOR_BASE(qmp), chr, errp);
 *
 * Events: the first MonitorQMP installs monitor_qmp_event_emitter() as
 * qapi's event emitter, so qapi_event_send_STOP() reaches every client.
 * Monitors, commands and events all run on the thread of the main
 * context the monitors' chardevs use.
 */
#pragma once

#include <json-glib/json-glib.h>
#include <stdbool.h>

#include "monitor/json-stream.h"
#include "monitor/monitor.h"
#include "qapi/qmp-registry.h"

G_BEGIN_DECLS

#define MONITOR_TYPE_QMP (monitor_qmp_get_type())
G_DECLARE_FINAL_TYPE(MonitorQMP, monitor_qmp, MONITOR, QMP, Monitor)

typedef struct MonitorQMPOptions {
    bool pretty; /* -mon ...,pretty=on */
    /* The commands (borrowed: keep it while the monitor lives) */
    const QmpCommandList *commands;
    const MonitorJsonLimits *json; /* NULL: the defaults */
} MonitorQMPOptions;

/* A new QMP monitor (@opts NULL: compact output, default limits). */
MonitorQMP *monitor_qmp_new(const MonitorQMPOptions *opts);

/* The commands the monitor dispatches to (borrowed). */
const QmpCommandList *monitor_qmp_get_commands(MonitorQMP *qmp);

/*
 * The work of qmp_capabilities for the current monitor: accept the
 * capabilities in @enable (NULL-terminated, may be NULL), which must all
 * have been offered (none is: "Capability oob not available"), and leave
 * negotiation mode.  Once negotiated, the error is QEMU's CommandNotFound
 * "Capabilities negotiation is already complete, command ignored".
 */
bool monitor_qmp_negotiate(MonitorQMP *qmp, const char *const *enable,
                           GError **errp);
/* True once qmp_capabilities succeeded for the current peer. */
bool monitor_qmp_is_negotiated(MonitorQMP *qmp);

/*
 * Send event @name with @data (borrowed; NULL or empty for none, as STOP
 * has: no "data" member then, as in QEMU) to every QMP monitor whose
 * client has negotiated:
 *
 *     {"timestamp": {"seconds": S, "microseconds": U}, "event": "STOP"}
 *
 * A client that does not read its output loses events once its output
 * is full (monitor_write_unsolicited()); the others get theirs.
 */
void monitor_qmp_broadcast_event(const char *name, JsonObject *data);

/* qapi's QapiEventEmitter: monitor_qmp_broadcast_event(). */
void monitor_qmp_event_emitter(const char *event, JsonObject *data,
                               void *opaque);

/* The version triple and package in the greeting and query-version
 * (package: empty, as in an upstream QEMU build). */
void monitor_qmp_version(int *major, int *minor, int *micro,
                         const char **package);

G_END_DECLS
