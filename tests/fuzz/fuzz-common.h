/*
 * Shared set-up for the NBD fuzz targets: one-time initialization of the
 * crypto layer and of GLib logging, a test PKI minted once per process,
 * and a small sparse file to export, reset before every input so that one
 * input's writes do not change what the next one sees.
 *
 * Copyright (c) qio contributors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/tls-creds.h"
#include "nbd/server.h"

G_BEGIN_DECLS

/* Size of the exported file. */
#define FUZZ_EXPORT_SIZE (1024 * 1024)

/*
 * Initialize everything once (later calls do nothing).  GLib messages
 * below critical are dropped unless QIO_FUZZ_VERBOSE is set; a critical
 * or an error aborts, so that a failed g_return_if_fail() on bytes from
 * a peer counts as a crash.  Exits the process on a set-up failure.
 */
void fuzz_init(void);

/*
 * x509 credentials for @endpoint ("server" or "client") from a standard
 * test PKI (server certificate for "localhost"); borrowed, kept for the
 * life of the process.
 */
QCryptoTLSCreds *fuzz_tls_creds(const char *endpoint);

/* The file to export (FUZZ_EXPORT_SIZE bytes, sparse, all zeros). */
const char *fuzz_export_path(void);

/*
 * Call at the end of LLVMFuzzerInitialize(), once the exports are open:
 * removes the export file's name and its directory (the open descriptors
 * keep working), so that a crash leaves no files behind.
 */
void fuzz_init_done(void);

/* Make the export file all zeros and fully sparse again. */
void fuzz_export_reset(void);

/*
 * The exports every server target offers, all of the one export file:
 * names in the order of this table, so that a target can pick one with a
 * byte of its input.
 */
#define FUZZ_EXPORT_COUNT 4
extern const char *const fuzz_export_names[FUZZ_EXPORT_COUNT];

/*
 * A new server (TLS required when @tls) with the exports above and no
 * handshake time limit (the fuzz channel never stalls).
 */
NBDServer *fuzz_nbd_server_new(bool tls);

G_END_DECLS
