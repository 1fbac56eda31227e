/*
 * Byte builders for the NBD unit tests; see nbd-wire-helpers.h.
 *
 * Copyright (c) qio contributors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "nbd-wire-helpers.h"

void put16(GByteArray *b, uint16_t v)
{
    uint8_t x[2];

    nbd_put_be16(x, v);
    g_byte_array_append(b, x, 2);
}

void put32(GByteArray *b, uint32_t v)
{
    uint8_t x[4];

    nbd_put_be32(x, v);
    g_byte_array_append(b, x, 4);
}

void put64(GByteArray *b, uint64_t v)
{
    uint8_t x[8];

    nbd_put_be64(x, v);
    g_byte_array_append(b, x, 8);
}

void put_rep(GByteArray *b, uint32_t opt, uint32_t type, const void *data,
             uint32_t len)
{
    put64(b, NBD_REP_MAGIC);
    put32(b, opt);
    put32(b, type);
    put32(b, len);
    if (len) {
        g_byte_array_append(b, data, len);
    }
}

void put_simple(GByteArray *b, uint32_t err, uint64_t cookie)
{
    put32(b, NBD_SIMPLE_REPLY_MAGIC);
    put32(b, err);
    put64(b, cookie);
}

void put_chunk(GByteArray *b, uint16_t flags, uint16_t type, uint64_t cookie,
               uint32_t len)
{
    put32(b, NBD_STRUCTURED_REPLY_MAGIC);
    put16(b, flags);
    put16(b, type);
    put64(b, cookie);
    put32(b, len);
}

void put_xchunk(GByteArray *b, uint16_t flags, uint16_t type,
                const NBDRequest *req, uint64_t len)
{
    put32(b, NBD_EXTENDED_REPLY_MAGIC);
    put16(b, flags);
    put16(b, type);
    put64(b, req->cookie);
    put64(b, req->offset);
    put64(b, len);
}
