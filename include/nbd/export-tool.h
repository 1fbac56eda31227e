/*
 * The qio-nbd program as a library: a qemu-nbd compatible command line
 * turned into an NBDServer behind a QIOConnService.
 *
 * tools/qio-nbd.c is only
 *
 *     int st = nbd_export_tool_parse(argc, argv, &opts, out, &err);
 *     ...print out or err...
 *     nbd_export_tool_run(&opts, &err);
 *
 * (or nbd_export_tool_list() for -L) so that the option rules (which
 * qemu-nbd options exist, which are refused, what each bad value is
 * called) can be tested and reused.  docs/qio-nbd.md is the manual.
 *
 * Copyright (c) qio contributors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

#include "nbd/server.h"

G_BEGIN_DECLS

/* Port qemu-nbd listens on when none is given (the IANA NBD port). */
#define NBD_EXPORT_TOOL_DEFAULT_PORT "10809"
/* Address qemu-nbd binds when none is given. */
#define NBD_EXPORT_TOOL_DEFAULT_BIND "0.0.0.0"

typedef struct NBDExportToolOptions {
    char *filename;                /* the raw image or block device */
    bool format_raw;               /* -f raw: serve an image's bytes too */
    char *bind;                    /* -b: host to listen on ("" = all) */
    char *port;                    /* -p: decimal port */
    char *socket_path;             /* -k: UNIX socket instead of TCP */
    char *export_name;             /* -x */
    char *description;             /* -D, or NULL */
    bool readonly;                 /* -r */
    guint shared;                  /* -e: clients at once, 0 = no limit */
    bool persistent;               /* -t: keep serving after the last client */
    GPtrArray *objects;            /* --object arguments, in order */
    char *tls_creds;               /* --tls-creds id */
    char *tls_authz;               /* --tls-authz id */
    guint handshake_limit;         /* seconds, 0 = no limit */
    guint idle_limit;              /* seconds, 0 = no limit (default) */
    bool verbose;                  /* -v */
    bool daemonize;                /* --fork */
    char *pid_file;                /* --pid-file */
    NBDCacheMode cache;            /* --cache, -n */
    bool discard;                  /* --discard=unmap|on */
    NBDDetectZeroes detect_zeroes; /* --detect-zeroes */
    bool list;                     /* -L: list a server's exports instead */
    char *tls_hostname;            /* --tls-hostname (with -L) */
} NBDExportToolOptions;

/*
 * Parse a qio-nbd command line into @opts (which the caller clears with
 * nbd_export_tool_options_clear() whatever the result).
 *
 * Returns 1 when the server should run (or, with opts->list, the
 * listing be made); 0 when the request was answered
 * (--help, --version, --object help) and the text in @out should be
 * printed before exiting with status 0; -1 with @errp set, naming the
 * option, on a bad command line.
 */
int nbd_export_tool_parse(int argc, char **argv, NBDExportToolOptions *opts,
                          GString *out, GError **errp);

/* Free what nbd_export_tool_parse() put in @opts. */
void nbd_export_tool_options_clear(NBDExportToolOptions *opts);

/*
 * Refuse, unless -f raw was given, a FILE that starts with the header of
 * a disk image format (nbd/image-probe.h), which would otherwise be
 * served as its container's bytes.  Then create the objects, open the
 * export, listen, write the pid file and serve until SIGTERM, SIGINT or
 * SIGHUP, or (without --persistent) until the last client has left.
 * With --fork, the calling process returns as soon as the server is
 * listening (true) or has failed to start (false, after the server
 * process printed why), and the server continues in a detached child,
 * which also returns here when it is done.  On exit the UNIX socket and
 * the pid file are removed.
 */
bool nbd_export_tool_run(const NBDExportToolOptions *opts, GError **errp);

/*
 * -L: create the objects, connect to the server named by -k or -b/-p
 * (with TLS when --tls-creds names client credentials) and append to
 * @out, in qemu-nbd's format, the number of exports and each export's
 * name and what NBD_OPT_INFO tells about it:
 *
 *     exports available: 1
 *      export: 'disk0'
 *       description: the test disk
 *       size:  1048576
 *       flags: 0xced ( flush fua trim zeroes df cache fast-zero )
 *       min block: 1
 *       opt block: 4096
 *       max block: 33554432
 *
 * False with @errp set (naming the server) if any step fails.
 */
bool nbd_export_tool_list(const NBDExportToolOptions *opts, GString *out,
                          GError **errp);

G_END_DECLS
