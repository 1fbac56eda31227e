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
 * Commands come from a lookup function (monitor_qmp_set_commands()); the
 * marshallers have the generated signature.  A command runs with its
 * monitor current (monitor_cur()).
 *
 *     MonitorQMPOptions opts = { .pretty = false };
 *     MonitorQMP *qmp = monitor_qmp_new(&opts);
 *     monitor_qmp_set_commands(qmp, my_lookup, my_table);
 *     monitor_attach_chardev(MONITOR_BASE(qmp), chr, errp);
 */
#pragma once

#include <json-glib/json-glib.h>
#include <stdbool.h>

#include "monitor/json-stream.h"
#include "monitor/monitor.h"

G_BEGIN_DECLS

#define MONITOR_TYPE_QMP (monitor_qmp_get_type())
G_DECLARE_FINAL_TYPE(MonitorQMP, monitor_qmp, MONITOR, QMP, Monitor)

/* A command's marshaller: the generated qmp_marshal_NAME(). */
typedef void (*MonitorQMPMarshal)(JsonObject *args, JsonNode **ret,
                                  GError **errp);
/* The marshaller of @name, or NULL when there is no such command. */
typedef MonitorQMPMarshal (*MonitorQMPLookup)(gpointer opaque,
                                              const char *name);

typedef struct MonitorQMPOptions {
    bool pretty;             /* -mon ...,pretty=on */
    MonitorJsonLimits *json; /* NULL: the defaults */
} MonitorQMPOptions;

/* A new QMP monitor (@opts NULL: compact output, default limits). */
MonitorQMP *monitor_qmp_new(const MonitorQMPOptions *opts);

/* Where the monitor finds its commands (@opaque is passed to @lookup). */
void monitor_qmp_set_commands(MonitorQMP *qmp, MonitorQMPLookup lookup,
                              gpointer opaque);

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
 * Send event @name with @data (borrowed; NULL for none, as STOP has) to
 * every QMP monitor whose client has negotiated:
 *
 *     {"timestamp": {"seconds": S, "microseconds": U}, "event": "STOP"}
 *
 * A client that does not read its output loses events once its output
 * is full (monitor_write_unsolicited()); the others get theirs.
 */
void monitor_qmp_broadcast_event(const char *name, JsonObject *data);

/*
 * The class QMP reports for @err: QEMU's "CommandNotFound" for
 * MONITOR_ERROR_COMMAND_NOT_FOUND, "GenericError" for anything else.
 */
const char *monitor_qmp_error_class(const GError *err);

/* The version triple and package in the greeting and query-version. */
void monitor_qmp_version(int *major, int *minor, int *micro,
                         const char **package);

G_END_DECLS
