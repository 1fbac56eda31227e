/*
 * qio-nbd: export a raw image or block device over NBD, with the
 * command line of qemu-nbd (-L: list another server's exports).
 * Everything but printing lives in nbd/export-tool.c; docs/qio-nbd.md
 * is the manual.
 *
 * Copyright (c) qio contributors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdio.h>
#include <stdlib.h>

#include <glib.h>

#include "nbd/export-tool.h"
#include "util/log.h"

int main(int argc, char **argv)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GString) out = g_string_new(NULL);
    NBDExportToolOptions opts;
    int status;

    qutil_log_init("qio-nbd");
    status = nbd_export_tool_parse(argc, argv, &opts, out, &err);
    if (status > 0) {
        qutil_log_set_verbose(opts.verbose);
        bool ok = opts.list ? nbd_export_tool_list(&opts, out, &err)
                            : nbd_export_tool_run(&opts, &err);

        if (!ok) {
            status = -1;
        }
    }
    nbd_export_tool_options_clear(&opts);
    if (status < 0) {
        fprintf(stderr, "qio-nbd: %s\n", err->message);
        return EXIT_FAILURE;
    }
    fputs(out->str, stdout);
    return EXIT_SUCCESS;
}
