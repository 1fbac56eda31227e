/*
 * QIOChannelBuffer: a channel over a growable block of memory.  Writes
 * append at the end of the data, reads consume from a separate read offset,
 * and a read at the end of the data is EOF.  It serves wherever a byte
 * stream has to be built or replayed in memory: a device's state collected
 * before it is sent as one migration section, a parser fed from a fuzzer's
 * input, or a test checking exactly what a protocol wrote.
 *
 *     g_autoptr(QIOChannelBuffer) buf = qio_channel_buffer_new(0);
 *     qio_channel_buffer_set_max_size(buf, 16 * 1024 * 1024);
 *     if (save_device_state(QIO_CHANNEL(buf), errp) < 0) { ... }
 *     send(qio_channel_buffer_get_data(buf),
 *          qio_channel_buffer_get_length(buf));
 *
 * The buffer never blocks and its watches are always ready.  It is not
 * thread safe: one thread at a time may use a given buffer channel.
 * Seeking (QIO_CHANNEL_FEATURE_SEEKABLE) moves the read offset; writes
 * always append.
 */
#pragma once

#include <stddef.h>

#include "io/channel.h"

G_BEGIN_DECLS

#define QIO_TYPE_CHANNEL_BUFFER (qio_channel_buffer_get_type())
G_DECLARE_FINAL_TYPE(QIOChannelBuffer, qio_channel_buffer, QIO, CHANNEL_BUFFER,
                     QIOChannel)

/*
 * An empty buffer with room for @capacity bytes before it first grows
 * (0: allocate on the first write).  Capacity grows by doubling.
 */
QIOChannelBuffer *qio_channel_buffer_new(size_t capacity);

/*
 * A buffer holding a copy of @len bytes at @data, read offset 0: reads
 * return those bytes and then EOF.
 *
 *     g_autoptr(QIOChannelBuffer) in =
 *         qio_channel_buffer_new_with_data(fuzz_data, fuzz_len);
 *     nbd_receive_reply(QIO_CHANNEL(in), &reply, NULL);
 */
QIOChannelBuffer *qio_channel_buffer_new_with_data(const void *data,
                                                   size_t len);

/*
 * Bound the data length to @max_size bytes (0: unbounded, the default).  A
 * write that would take the length past the bound fails with
 * QIO_ERROR_TOO_LARGE and stores nothing, so the buffer holds exactly the
 * writes that succeeded.  A bound below the current length only affects
 * later writes.
 */
void qio_channel_buffer_set_max_size(QIOChannelBuffer *ioc, size_t max_size);

/*
 * The data written so far, from offset 0 regardless of the read offset,
 * or NULL when nothing was ever written.  Valid until the next write or
 * until the channel is finalized; closing the channel keeps the data.
 */
const guint8 *qio_channel_buffer_get_data(QIOChannelBuffer *ioc);

/* The number of bytes written so far. */
size_t qio_channel_buffer_get_length(QIOChannelBuffer *ioc);

/* The read offset: bytes before it have been read (or seeked past). */
size_t qio_channel_buffer_get_offset(QIOChannelBuffer *ioc);

G_END_DECLS
