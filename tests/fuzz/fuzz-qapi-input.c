/*
 * Fuzz target: the input visitors with the schema's own types, as a user
 * or a QMP client reaches them.
 *
 * The first byte picks the path; the rest, up to the first NUL, is text:
 *   0  a -chardev style keyval string read as a ChardevBackend ("type"
 *      implied: "socket,data.addr.type=inet,...")
 *   1  an -object string read as ObjectOptions ("qom-type" implied)
 *   2  a -mon string read as MonitorOptions
 *   3  JSON text read as a ChardevBackend (chardev-add's backend)
 *   4  JSON text read as ObjectOptions (object-add's arguments)
 * Whatever is accepted is written back out as JSON and freed, so the
 * output and dealloc visitors walk every shape the input ones build.
 *
 * json-glib 1.6 leaks the tree it built when the text holds a second
 * top-level value ("[1] [2]"); the JSON paths therefore get one object
 * or array and nothing after it, as the QMP stream splitter hands them
 * (docs/devel/qapi.md).
 * Parse errors are expected; crashes, leaks and sanitizer reports are
 * findings.
 *
 * Copyright (c) qio contributors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "qapi/json-visitor.h"
#include "qapi/keyval-visitor.h"
#include "qapi/qapi-visit.h"

/* Bounded like a QMP message: the monitor refuses longer ones first. */
#define MAX_TEXT (64 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void write_out(bool (*visit)(QapiVisitor *, const char *, void **,
                                    GError **),
                      void *obj)
{
    JsonNode *out = NULL;
    QapiVisitor *v = qapi_json_output_visitor_new(&out);

    if (visit(v, NULL, &obj, NULL)) {
        visit_complete(v);
        g_autofree char *text = json_to_string(out, FALSE);

        /* an object always writes out as a non-empty JSON object */
        g_assert(text && text[0] == '{');
        json_node_unref(out);
    }
    visit_free(v);
}

static bool visit_backend(QapiVisitor *v, const char *name, void **obj,
                          GError **errp)
{
    return visit_type_ChardevBackend(v, name, (ChardevBackend **)obj, errp);
}

static bool visit_object(QapiVisitor *v, const char *name, void **obj,
                         GError **errp)
{
    return visit_type_ObjectOptions(v, name, (ObjectOptions **)obj, errp);
}

static bool visit_monitor(QapiVisitor *v, const char *name, void **obj,
                          GError **errp)
{
    return visit_type_MonitorOptions(v, name, (MonitorOptions **)obj, errp);
}

static void run(QapiVisitor *v,
                bool (*visit)(QapiVisitor *, const char *, void **, GError **),
                void (*free_fn)(void *))
{
    g_autoptr(GError) err = NULL;
    void *obj = NULL;

    if (!v) {
        return;
    }
    if (visit(v, NULL, &obj, &err)) {
        g_assert(obj && !err);
        write_out(visit, obj);
        free_fn(obj);
    } else {
        /* a failed input visit leaves nothing behind and says why */
        g_assert(!obj && err && err->message[0]);
    }
    visit_free(v);
}

static void free_backend(void *p)
{
    qapi_free_ChardevBackend(p);
}

static void free_object(void *p)
{
    qapi_free_ObjectOptions(p);
}

static void free_monitor(void *p)
{
    qapi_free_MonitorOptions(p);
}

/* True when @text is one JSON object or array with nothing after it. */
static bool one_value(const char *text)
{
    int depth = 0;
    bool in_string = false;
    const char *p = text;

    while (g_ascii_isspace(*p)) {
        p++;
    }
    if (*p != '{' && *p != '[') {
        return false;
    }
    for (; *p; p++) {
        if (in_string) {
            if (*p == '\\' && p[1]) {
                p++;
            } else if (*p == '"') {
                in_string = false;
            }
        } else if (*p == '"') {
            in_string = true;
        } else if (*p == '{' || *p == '[') {
            depth++;
        } else if (*p == '}' || *p == ']') {
            if (--depth == 0) {
                for (p++; g_ascii_isspace(*p); p++) {
                }
                return *p == 0;
            }
        }
    }
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size - 1 > MAX_TEXT) {
        return 0;
    }
    g_autofree char *text = g_strndup((const char *)data + 1, size - 1);
    g_autoptr(GError) err = NULL;

    switch (data[0] % 5) {
    case 0:
        run(qapi_keyval_input_visitor_new_str(text, "type", &err),
            visit_backend, free_backend);
        break;
    case 1:
        run(qapi_keyval_input_visitor_new_str(text, "qom-type", &err),
            visit_object, free_object);
        break;
    case 2:
        run(qapi_keyval_input_visitor_new_str(text, NULL, &err), visit_monitor,
            free_monitor);
        break;
    default: {
        if (!one_value(text)) {
            break;
        }
        g_autoptr(JsonNode) root = json_from_string(text, &err);

        if (root) {
            run(qapi_json_input_visitor_new(root),
                data[0] % 5 == 3 ? visit_backend : visit_object,
                data[0] % 5 == 3 ? free_backend : free_object);
        }
        break;
    }
    }
    return 0;
}
