/*
 * Fuzz target: the NBD server's transmission phase.
 *
 * A fixed, valid negotiation is played first (fixed newstyle with
 * NO_ZEROES, then optionally STRUCTURED_REPLY or EXTENDED_HEADERS and
 * SET_META_CONTEXT base:allocation, then GO or EXPORT_NAME), so that the
 * input, from its second byte on, is read as requests (32-byte extended
 * ones after EXTENDED_HEADERS, 28-byte compact ones otherwise).  The
 * first byte picks the negotiation:
 *   bits 0-1  the export (fuzz_export_names: default, read-only, zero
 *             detection, synced)
 *   bit 2     structured replies and the base:allocation context
 *   bit 3     enter with EXPORT_NAME instead of GO
 *   bit 4     with bit 2: extended headers instead of structured replies
 *
 * Copyright (c) qio contributors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz-channel.h"
#include "fuzz-common.h"
#include "nbd/nbd-proto.h"
#include "nbd/server.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static NBDServer *server;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init();
    server = fuzz_nbd_server_new(false);
    fuzz_init_done();
    return 0;
}

static void put_u32(GByteArray *out, uint32_t v)
{
    uint8_t b[4];

    nbd_put_be32(b, v);
    g_byte_array_append(out, b, sizeof(b));
}

static void put_option(GByteArray *out, uint32_t option, const uint8_t *payload,
                       uint32_t len)
{
    uint8_t hdr[NBD_OPTION_HEADER_SIZE];
    NBDOption opt = { .option = option, .length = len };

    nbd_encode_option(hdr, &opt);
    g_byte_array_append(out, hdr, sizeof(hdr));
    if (len) {
        g_byte_array_append(out, payload, len);
    }
}

/* The client's side of a successful negotiation chosen by @mode. */
static void put_negotiation(GByteArray *out, uint8_t mode)
{
    const char *name = fuzz_export_names[mode & 3];
    uint32_t nlen = strlen(name);
    uint32_t qlen = strlen(NBD_META_BASE_ALLOCATION);
    g_autoptr(GByteArray) p = g_byte_array_new();

    put_u32(out, NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES);
    if (mode & 8) {
        put_option(out, NBD_OPT_EXPORT_NAME, (const uint8_t *)name, nlen);
        return;
    }
    if (mode & 4) {
        put_option(out,
                   (mode & 16) ? NBD_OPT_EXTENDED_HEADERS
                               : NBD_OPT_STRUCTURED_REPLY,
                   NULL, 0);
        put_u32(p, nlen);
        g_byte_array_append(p, (const uint8_t *)name, nlen);
        put_u32(p, 1);
        put_u32(p, qlen);
        g_byte_array_append(p, (const uint8_t *)NBD_META_BASE_ALLOCATION, qlen);
        put_option(out, NBD_OPT_SET_META_CONTEXT, p->data, p->len);
        g_byte_array_set_size(p, 0);
    }
    /* GO: name, then no information requests. */
    put_u32(p, nlen);
    g_byte_array_append(p, (const uint8_t *)name, nlen);
    g_byte_array_append(p, (const uint8_t[]){ 0, 0 }, 2);
    put_option(out, NBD_OPT_GO, p->data, p->len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autoptr(GByteArray) stream = g_byte_array_new();
    g_autoptr(QIOChannelFuzz) ioc = NULL;

    if (size < 1) {
        return -1;
    }
    put_negotiation(stream, data[0]);
    g_byte_array_append(stream, data + 1, size - 1);
    fuzz_export_reset();
    ioc = qio_channel_fuzz_new(stream->data, stream->len);
    nbd_server_run_client(server, QIO_CHANNEL(ioc));
    return 0;
}
