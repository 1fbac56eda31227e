/*
 * Fuzz target: the NBD server's option negotiation.
 *
 * The input is what a client sends after the server's greeting: the
 * 32-bit client flags, then options (and, if an option reaches the
 * transmission phase, requests).  Its first byte is not sent: bit 0 picks
 * a server with TLS credentials (TLS required: the FORCEDTLS rules for
 * everything before STARTTLS) instead of one in the clear.  What the
 * server answers is discarded; a crash, a sanitizer report, a GLib
 * critical or a hang is a finding.
 *
 * Copyright (c) qio contributors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz-channel.h"
#include "fuzz-common.h"
#include "nbd/server.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static NBDServer *plain_server;
static NBDServer *tls_server;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init();
    plain_server = fuzz_nbd_server_new(false);
    tls_server = fuzz_nbd_server_new(true);
    fuzz_init_done();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autoptr(QIOChannelFuzz) ioc = NULL;

    if (size < 1) {
        return -1;
    }
    fuzz_export_reset();
    ioc = qio_channel_fuzz_new(data + 1, size - 1);
    nbd_server_run_client((data[0] & 1) ? tls_server : plain_server,
                          QIO_CHANNEL(ioc));
    return 0;
}
