/*
 * Shared set-up for the NBD fuzz targets; see fuzz-common.h.
 *
 * Copyright (c) qio contributors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "fuzz-common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "crypto-tls-helpers.h"
#include "crypto/init.h"

static char *fuzz_tmpdir;
static char *fuzz_file;
static int fuzz_fd = -1;
static QCryptoTestCredsDir *fuzz_creds_dir;
static QCryptoTLSCreds *fuzz_server_creds;
static QCryptoTLSCreds *fuzz_client_creds;
static bool fuzz_verbose;

static GLogWriterOutput fuzz_log_writer(GLogLevelFlags level,
                                        const GLogField *fields, gsize n_fields,
                                        gpointer opaque)
{
    if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL)) {
        g_log_writer_standard_streams(level, fields, n_fields, opaque);
        abort();
    }
    if (fuzz_verbose) {
        return g_log_writer_standard_streams(level, fields, n_fields, opaque);
    }
    return G_LOG_WRITER_HANDLED;
}

static void fuzz_cleanup(void)
{
    g_clear_object(&fuzz_server_creds);
    g_clear_object(&fuzz_client_creds);
    g_clear_pointer(&fuzz_creds_dir, qcrypto_test_creds_dir_free);
    if (fuzz_fd >= 0) {
        close(fuzz_fd);
        fuzz_fd = -1;
    }
    if (fuzz_file) {
        unlink(fuzz_file);
        g_clear_pointer(&fuzz_file, g_free);
    }
    if (fuzz_tmpdir) {
        rmdir(fuzz_tmpdir);
        g_clear_pointer(&fuzz_tmpdir, g_free);
    }
}

static G_GNUC_NORETURN void fuzz_setup_failed(const char *what, GError *err)
{
    fprintf(stderr, "fuzz set-up: %s: %s\n", what,
            err ? err->message : g_strerror(errno));
    fuzz_cleanup();
    exit(1);
}

void fuzz_init(void)
{
    static bool done;
    g_autoptr(GError) err = NULL;

    if (done) {
        return;
    }
    done = true;
    fuzz_verbose = getenv("QIO_FUZZ_VERBOSE") != NULL;
    g_log_set_writer_func(fuzz_log_writer, NULL, NULL);
    /*
     * The server's per-client workers come from GLib's shared pool, whose
     * idle threads normally exit (beyond two, or after 15 s).  A thread
     * exiting while libFuzzer checks an input for leaks shows its GThread
     * as leaked (88 bytes, seen once in four minutes): keep them all.
     */
    g_thread_pool_set_max_unused_threads(-1);
    g_thread_pool_set_max_idle_time(0);
    if (!qcrypto_init(&err)) {
        fuzz_setup_failed("crypto", err);
    }
    atexit(fuzz_cleanup);

    fuzz_tmpdir = g_dir_make_tmp("qio-fuzz-XXXXXX", &err);
    if (!fuzz_tmpdir) {
        fuzz_setup_failed("temporary directory", err);
    }
    fuzz_file = g_build_filename(fuzz_tmpdir, "disk.raw", NULL);
    fuzz_fd = open(fuzz_file, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fuzz_fd < 0) {
        fuzz_setup_failed(fuzz_file, NULL);
    }
    fuzz_export_reset();

    fuzz_creds_dir = qcrypto_test_creds_dir_new_standard(&err);
    if (!fuzz_creds_dir) {
        fuzz_setup_failed("test PKI", err);
    }
    fuzz_server_creds = qcrypto_test_creds_new(
        "tls-creds-x509", &err, "endpoint", "server", "dir",
        qcrypto_test_creds_dir_path(fuzz_creds_dir), NULL);
    if (!fuzz_server_creds) {
        fuzz_setup_failed("server credentials", err);
    }
    fuzz_client_creds = qcrypto_test_creds_new(
        "tls-creds-x509", &err, "endpoint", "client", "dir",
        qcrypto_test_creds_dir_path(fuzz_creds_dir), NULL);
    if (!fuzz_client_creds) {
        fuzz_setup_failed("client credentials", err);
    }
    /* Loaded into memory: the files are not needed any more. */
    g_clear_pointer(&fuzz_creds_dir, qcrypto_test_creds_dir_free);
}

void fuzz_init_done(void)
{
    /*
     * The exports and the reset keep their descriptors; with the names
     * gone, a run that ends in a crash (no atexit) leaves nothing behind.
     */
    if (fuzz_file) {
        unlink(fuzz_file);
    }
    if (fuzz_tmpdir) {
        rmdir(fuzz_tmpdir);
    }
}

QCryptoTLSCreds *fuzz_tls_creds(const char *endpoint)
{
    return g_str_equal(endpoint, "server") ? fuzz_server_creds
                                           : fuzz_client_creds;
}

const char *fuzz_export_path(void)
{
    return fuzz_file;
}

void fuzz_export_reset(void)
{
    if (ftruncate(fuzz_fd, 0) < 0 || ftruncate(fuzz_fd, FUZZ_EXPORT_SIZE) < 0) {
        fuzz_setup_failed(fuzz_file, NULL);
    }
}

/*
 * "" the default export (discard on), "ro" read-only, "zeroes" with zero
 * detection that may punch holes, "sync" with a real fdatasync on FLUSH
 * and CAN_MULTI_CONN.  The others skip the sync: it costs a disk flush
 * per input and takes no decision on the bytes received.
 */
const char *const fuzz_export_names[FUZZ_EXPORT_COUNT] = {
    "",
    "ro",
    "zeroes",
    "sync",
};

NBDServer *fuzz_nbd_server_new(bool tls)
{
    const NBDExportOptions opts[FUZZ_EXPORT_COUNT] = {
        { .description = "default export",
          .cache = NBD_CACHE_UNSAFE,
          .discard = true },
        { .description = "read-only export", .readonly = true },
        { .cache = NBD_CACHE_UNSAFE,
          .discard = true,
          .detect_zeroes = NBD_DETECT_ZEROES_UNMAP },
        { .cache = NBD_CACHE_WRITEBACK, .multi_conn = true },
    };
    g_autoptr(GError) err = NULL;
    NBDServer *server;

    server = nbd_server_new(tls ? fuzz_server_creds : NULL, NULL, &err);
    if (!server) {
        fuzz_setup_failed("NBD server", err);
    }
    for (size_t i = 0; i < FUZZ_EXPORT_COUNT; i++) {
        if (!nbd_server_add_export_full(server, fuzz_export_names[i], fuzz_file,
                                        &opts[i], &err)) {
            fuzz_setup_failed("NBD export", err);
        }
    }
    return server;
}
