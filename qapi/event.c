/*
 * The one emitter every generated qapi_event_send_NAME() goes through.
 * Events can be sent from any thread; a mutex keeps them in one order and
 * keeps the emitter from changing under a sender.
 */
#include "qapi/event.h"

static GMutex lock;
static QapiEventEmitter emitter;
static void *emitter_opaque;

void qapi_event_set_emitter(QapiEventEmitter fn, void *opaque)
{
    g_mutex_lock(&lock);
    emitter = fn;
    emitter_opaque = opaque;
    g_mutex_unlock(&lock);
}

void qapi_event_emit(const char *event, JsonObject *data)
{
    g_autoptr(JsonObject) empty = NULL;

    if (!data) {
        empty = json_object_new();
        data = empty;
    }
    g_mutex_lock(&lock);
    if (emitter) {
        emitter(event, data, emitter_opaque);
    }
    g_mutex_unlock(&lock);
}
