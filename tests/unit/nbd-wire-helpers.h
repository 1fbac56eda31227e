/*
 * Byte builders for the NBD unit tests' fake peers: big-endian integers
 * and the protocol's reply headers appended to a GByteArray, so a test
 * can script exactly what a server sends, well-formed or not.
 *
 * Copyright (c) qio contributors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <stdint.h>
#include <glib.h>

#include "nbd/nbd-proto.h"

void put16(GByteArray *b, uint16_t v);
void put32(GByteArray *b, uint32_t v);
void put64(GByteArray *b, uint64_t v);

/* An option reply: magic, @opt, @type, then @len bytes of @data. */
void put_rep(GByteArray *b, uint32_t opt, uint32_t type, const void *data,
             uint32_t len);

/* A simple reply header. */
void put_simple(GByteArray *b, uint32_t err, uint64_t cookie);

/* A structured reply chunk header announcing @len bytes of payload. */
void put_chunk(GByteArray *b, uint16_t flags, uint16_t type, uint64_t cookie,
               uint32_t len);

/* An extended reply chunk header answering @req (its offset echoed). */
void put_xchunk(GByteArray *b, uint16_t flags, uint16_t type,
                const NBDRequest *req, uint64_t len);
