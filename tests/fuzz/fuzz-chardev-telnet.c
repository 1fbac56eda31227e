/*
 * Fuzz target: the telnet filter of socket chardevs, which sees every byte
 * a telnet=on peer sends.  The first byte sets the size of the reads the
 * rest is cut into (1 to 256; 0: all at once), so that commands split
 * across reads are covered.  Besides the sanitizers, the target checks
 * that the filter never grows its input, and that splitting the stream
 * differently never changes the result.
 *
 * Copyright (c) qio contributors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <glib.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chardev/telnet.h"

static size_t run(const uint8_t *in, size_t len, size_t piece, uint8_t *out,
                  unsigned *breaks)
{
    ChardevTelnet tn = { 0 };
    size_t total = 0;

    *breaks = 0;
    for (size_t off = 0; off < len; off += piece) {
        size_t n = MIN(piece, len - off);
        size_t kept;

        memcpy(out + total, in + off, n);
        kept = chardev_telnet_filter(&tn, out + total, n, breaks);
        if (kept > n) {
            abort();
        }
        total += kept;
    }
    return total;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autofree uint8_t *a = NULL;
    g_autofree uint8_t *b = NULL;
    unsigned breaks_a, breaks_b;
    size_t piece, na, nb;

    if (size < 1) {
        return 0;
    }
    piece = data[0] ? data[0] : size;
    data++;
    size--;
    a = g_malloc(size + 1);
    b = g_malloc(size + 1);
    na = run(data, size, piece, a, &breaks_a);
    nb = run(data, size, size ? size : 1, b, &breaks_b);
    if (na != nb || breaks_a != breaks_b || memcmp(a, b, na) != 0) {
        abort();
    }
    return 0;
}
