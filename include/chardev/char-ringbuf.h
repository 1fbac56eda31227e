/*
 * The ring buffer chardev: -chardev ringbuf,id=ID[,size=N].  What the
 * frontend writes is kept in a buffer of @size bytes (a power of two,
 * 65536 by default); when it is full the oldest bytes are overwritten, so
 * a write is always taken whole and never blocks.  The monitor reads it
 * with ringbuf-read and appends to it with ringbuf-write; the frontend
 * never gets input from it.
 *
 *     QIOChardev *chr = qio_chardev_ringbuf_new("log0", 4096, errp);
 *     qio_chardev_write(chr, "boot\n", 5, NULL);
 *     n = qio_chardev_ringbuf_read(chr, buf, sizeof(buf));   // "boot\n"
 */
#pragma once

#include "chardev/char.h"

G_BEGIN_DECLS

#define QIO_TYPE_CHARDEV_RINGBUF (qio_chardev_ringbuf_get_type())
G_DECLARE_FINAL_TYPE(QIOChardevRingbuf, qio_chardev_ringbuf, QIO,
                     CHARDEV_RINGBUF, QIOChardev)

#define QIO_CHARDEV_RINGBUF_DEFAULT_SIZE 65536
/* The largest size accepted (1 GiB), so a typo cannot eat the memory. */
#define QIO_CHARDEV_RINGBUF_MAX_SIZE (1u << 30)

/*
 * A ring buffer of @size bytes (0: the default) registered as @id (NULL:
 * anonymous, owned by the caller; otherwise borrowed from the registry).
 * A size that is not a power of two, or over the maximum, is
 * QIO_ERROR_INVALID_ARGUMENT.
 */
QIOChardev *qio_chardev_ringbuf_new(const char *id, uint64_t size,
                                    GError **errp);

/*
 * Append @len bytes as if the frontend wrote them (ringbuf-write).  False
 * with @errp set if @chr is not a ring buffer ("ID is not a ringbuf
 * device", QIO_ERROR_INVALID_ARGUMENT).
 */
bool qio_chardev_ringbuf_write(QIOChardev *chr, const uint8_t *buf, size_t len,
                               GError **errp);
/*
 * Take up to @size of the oldest bytes (ringbuf-read) into @buf; returns
 * the count, or -1 with @errp set if @chr is not a ring buffer.
 */
gssize qio_chardev_ringbuf_read(QIOChardev *chr, uint8_t *buf, size_t size,
                                GError **errp);
/* Bytes held now. */
size_t qio_chardev_ringbuf_count(QIOChardev *chr);

G_END_DECLS
