/*
 * QIOChannelNull: the /dev/null of channels.  Reads report EOF at once,
 * writes discard their data and report it all as written, and watches are
 * always ready.  It stands in wherever a consumer needs a channel but the
 * bytes do not matter:
 *
 *     qio-vm -chardev null,id=ser0       (a serial port nobody listens to)
 *     qio-vm migrate null:               (time a migration without a peer)
 *
 * Like every channel, after qio_channel_close() reads and writes fail with
 * QIO_ERROR_CLOSED.  Seeking is not supported.
 */
#pragma once

#include "io/channel.h"

G_BEGIN_DECLS

#define QIO_TYPE_CHANNEL_NULL (qio_channel_null_get_type())
G_DECLARE_FINAL_TYPE(QIOChannelNull, qio_channel_null, QIO, CHANNEL_NULL,
                     QIOChannel)

/* A new open null channel, named "null". */
QIOChannelNull *qio_channel_null_new(void);

G_END_DECLS
