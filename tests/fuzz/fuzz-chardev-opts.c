/*
 * Fuzz target: -chardev option strings (chardev-add from HMP takes the
 * same) through qio_chardev_parse_opts(): the short boolean rewrite, the
 * rearrangement into ChardevBackend's shape, the keyval parser and the
 * generated keyval visitor.  Nothing is created: the target parses and
 * frees.  The input is the option string; a NUL ends it early.
 *
 * Copyright (c) qio contributors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <glib.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "chardev/char-qapi.h"

/* Longer than any real command line needs; keeps each run fast. */
#define MAX_OPTS 4096

static GLogWriterOutput quiet(GLogLevelFlags level, const GLogField *fields,
                              gsize n, gpointer opaque)
{
    if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL)) {
        abort();
    }
    return G_LOG_WRITER_HANDLED;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool init;
    g_autofree char *opts = NULL;
    g_autofree char *id = NULL;
    g_autoptr(GError) err = NULL;
    ChardevBackend *b;
    bool mux;

    if (!init) {
        /* Short-form warnings are expected; criticals are findings. */
        g_log_set_writer_func(quiet, NULL, NULL);
        init = true;
    }
    opts = g_strndup((const char *)data, MIN(size, MAX_OPTS));
    b = qio_chardev_parse_opts(opts, &id, &mux, &err);
    if (b) {
        /* A backend without an id never comes back. */
        if (!id) {
            abort();
        }
        qapi_free_ChardevBackend(b);
    } else if (!err || id) {
        abort();
    }
    return 0;
}
