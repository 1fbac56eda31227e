/*
 * Fuzz target: the NBD client's parsing of what a server sends.
 *
 * The input, from its second byte on, is the server's side of the whole
 * conversation: greeting, option replies, then replies to requests.  The
 * client negotiates, and when GO succeeds issues one request of each
 * kind the export's flags allow, in a fixed order, so that every reply
 * parser (simple and structured: data, hole, block status, errors) gets
 * the bytes.  The first byte picks the client's path:
 *   bits 0-1  0: GO only; 1: LIST then GO; 2: INFO then GO;
 *             3: LIST then INFO, staying in the option phase
 *   bit 2     ask for export "disk" instead of the default ""
 *   bit 3     TLS credentials: STARTTLS first (the handshake then fails
 *             on anything but a real TLS server, as it must)
 *   bit 4     after GO, first four reads and a block status in flight
 *             together (the asynchronous API: replies in any order)
 *   bit 5     ask for extended headers first (NBD_OPT_EXTENDED_HEADERS;
 *             the server's answer decides between 32-byte extended
 *             replies and the fallback to structured replies); clear,
 *             the client uses compact headers only
 *
 * Copyright (c) qio contributors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz-channel.h"
#include "fuzz-common.h"
#include "nbd/client.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_IO_SIZE 4096

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init();
    fuzz_init_done();
    return 0;
}

/* Requests in flight together: replies may come in any order. */
typedef struct {
    GMutex lock;
    GCond cond;
    unsigned left;
} FuzzBatch;

static void fuzz_batch_done(const GError *err, gpointer opaque)
{
    FuzzBatch *b = opaque;

    g_mutex_lock(&b->lock);
    b->left--;
    g_cond_signal(&b->cond);
    g_mutex_unlock(&b->lock);
}

static void fuzz_async(NBDClient *client)
{
    static uint8_t bufs[4][FUZZ_IO_SIZE];
    g_autoptr(GArray) extents =
        g_array_new(FALSE, FALSE, sizeof(NBDClientExtent));
    FuzzBatch b = { .left = 0 };

    g_mutex_init(&b.lock);
    g_cond_init(&b.cond);
    for (unsigned i = 0; i < 4; i++) {
        g_mutex_lock(&b.lock);
        b.left++;
        g_mutex_unlock(&b.lock);
        if (!nbd_client_submit_pread(client, bufs[i], FUZZ_IO_SIZE,
                                     i * FUZZ_IO_SIZE, fuzz_batch_done, &b,
                                     NULL)) {
            fuzz_batch_done(NULL, &b); /* not submitted: no callback */
        }
    }
    g_mutex_lock(&b.lock);
    b.left++;
    g_mutex_unlock(&b.lock);
    if (!nbd_client_submit_block_status(client, 65536, 0, extents,
                                        fuzz_batch_done, &b, NULL)) {
        fuzz_batch_done(NULL, &b);
    }
    g_mutex_lock(&b.lock);
    while (b.left) {
        g_cond_wait(&b.cond, &b.lock);
    }
    g_mutex_unlock(&b.lock);
    g_mutex_clear(&b.lock);
    g_cond_clear(&b.cond);
}

/* Every request, in the order the seed generator answers them. */
static void fuzz_requests(NBDClient *client)
{
    static uint8_t buf[FUZZ_IO_SIZE];
    g_autoptr(GArray) extents = NULL;

    nbd_client_pread(client, buf, sizeof(buf), 0, NULL);
    extents = nbd_client_block_status(client, 65536, 0, NULL);
    memset(buf, 0x5a, 512);
    nbd_client_pwrite(client, buf, 512, 4096, 0, NULL);
    nbd_client_pwrite(client, buf, 512, 8192, NBD_CLIENT_FUA, NULL);
    nbd_client_zero(client, FUZZ_IO_SIZE, 0, NBD_CLIENT_NO_HOLE, NULL);
    nbd_client_zero(client, FUZZ_IO_SIZE, 0, NBD_CLIENT_FAST_ZERO, NULL);
    nbd_client_trim(client, FUZZ_IO_SIZE, 0, NULL);
    nbd_client_cache(client, FUZZ_IO_SIZE, 0, NULL);
    nbd_client_flush(client, NULL);
    nbd_client_pread(client, buf, 1, nbd_client_get_size(client) - 1, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autoptr(QIOChannelFuzz) ioc = NULL;
    g_autoptr(NBDClient) client = NULL;
    const char *name;
    uint8_t mode;

    if (size < 1) {
        return -1;
    }
    mode = data[0];
    name = (mode & 4) ? "disk" : "";
    ioc = qio_channel_fuzz_new(data + 1, size - 1);
    client = nbd_client_new_channel_full(
        QIO_CHANNEL(ioc), "fuzz", (mode & 8) ? fuzz_tls_creds("client") : NULL,
        "localhost", &(NBDClientOptions){ .compact_headers = !(mode & 32) },
        NULL);
    if (!client) {
        return 0;
    }
    if ((mode & 3) == 1 || (mode & 3) == 3) {
        g_strfreev(nbd_client_list(client, NULL));
    }
    if ((mode & 3) == 2 || (mode & 3) == 3) {
        uint64_t esize;
        uint16_t eflags;

        nbd_client_info(client, name, &esize, &eflags, NULL);
    }
    if ((mode & 3) != 3 && nbd_client_go(client, name, NULL)) {
        nbd_client_get_flags(client);
        nbd_client_has_structured_replies(client);
        nbd_client_has_extended_headers(client);
        if (mode & 16) {
            fuzz_async(client);
        }
        fuzz_requests(client);
    }
    return 0;
}
