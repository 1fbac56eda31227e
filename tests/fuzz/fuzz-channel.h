/*
 * QIOChannelFuzz: a channel that plays back one fuzz input.  Reads return
 * the input's bytes, in pieces as small as the caller asks for, and then
 * EOF; writes are counted and discarded.  Watches are always ready, so a
 * consumer that waits for readiness never blocks, and shutdown behaves as
 * on a socket (reads see EOF, writes fail).  Safe to use from several
 * threads at once, as the NBD server's workers do.
 *
 * Copyright (c) qio contributors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "io/channel.h"

G_BEGIN_DECLS

#define QIO_TYPE_CHANNEL_FUZZ (qio_channel_fuzz_get_type())
G_DECLARE_FINAL_TYPE(QIOChannelFuzz, qio_channel_fuzz, QIO, CHANNEL_FUZZ,
                     QIOChannel)

/*
 * A channel reading @len bytes from @data.  The bytes are copied, so the
 * caller's buffer may go away (libFuzzer reuses it after each run).
 */
QIOChannelFuzz *qio_channel_fuzz_new(const uint8_t *data, size_t len);

/* Bytes written to the channel so far (accepted and thrown away). */
size_t qio_channel_fuzz_get_written(QIOChannelFuzz *fioc);

G_END_DECLS
