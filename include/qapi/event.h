/*
 * Where QMP events go.
 *
 * The generator writes qapi_event_send_NAME(args...) for every event of
 * the schema; each builds the event's "data" object and hands it to the
 * one emitter set here, which a monitor installs to add the timestamp and
 * send it to every negotiated client:
 *
 *     static void emit(const char *event, JsonObject *data, void *opaque)
 *     {
 *         // {"event": event, "data": data, "timestamp": {...}}
 *     }
 *     qapi_event_set_emitter(emit, monitors);
 *     qapi_event_send_STOP();   // emit("STOP", {}, monitors)
 *
 * With no emitter set, events are dropped.  The emitter is called on the
 * thread that sends the event, with a lock held that serialises events;
 * it must not send an event itself.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* @data is borrowed for the call: an empty object for an event without. */
typedef void (*QapiEventEmitter)(const char *event, JsonObject *data,
                                 void *opaque);

/* Install @fn (NULL to drop events); returns nothing, replaces any other. */
void qapi_event_set_emitter(QapiEventEmitter fn, void *opaque);

/* What the generated senders call: @data NULL means an empty object. */
void qapi_event_emit(const char *event, JsonObject *data);

G_END_DECLS
