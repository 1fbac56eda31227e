/*
 * Shared checks for channel unit tests: stream a large pseudo-random
 * payload from one channel to another across two threads, using uneven
 * iovec splits, and verify it arrives intact by checksum.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "io/channel.h"

/*
 * Write @len bytes to @src on a writer thread while this thread reads them
 * from @dst; assert (cmocka) that the SHA-256 of what was read equals that
 * of what was written and that both sides reported no error.  With
 * @blocking false, both channels are switched to non-blocking mode first,
 * so the *_all helpers' waiting and QIO_CHANNEL_ERR_BLOCK are exercised.
 * If @close_src is true the writer closes @src afterwards and the reader
 * asserts that it then sees EOF.
 */
void qio_test_transfer(QIOChannel *src, QIOChannel *dst, size_t len,
                       bool blocking, bool close_src);

/* Fill @buf with deterministic pseudo-random bytes derived from @seed. */
void qio_test_fill(void *buf, size_t len, guint32 seed);

/* True when this host can bind a TCP socket on the IPv6 loopback [::1]. */
bool qio_test_have_ipv6(void);
