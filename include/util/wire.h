/*
 * A bounds-checked cursor over bytes read from a peer.
 *
 * A parser of a network message wraps the payload in a QUtilWire and takes
 * fields from it in order; every read checks that the bytes are there.
 * When one is short the cursor fails: that read and every later one return
 * false and leave zeros in their outputs, so a parser can take a whole
 * record and check once, instead of a compound length condition before
 * each field:
 *
 *     QUtilWire w;
 *     uint16_t type;
 *     uint64_t size;
 *
 *     qutil_wire_init(&w, payload, len);
 *     qutil_wire_get_be16(&w, &type);
 *     qutil_wire_get_be64(&w, &size);
 *     if (!qutil_wire_ok(&w) || qutil_wire_remaining(&w) != 0) {
 *         ... the reply has the wrong length ...
 *     }
 *
 * Multi-byte integers are big-endian (network order).  The cursor never
 * owns or copies the buffer; spans point into it.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    const uint8_t *buf;
    size_t len;
    size_t pos;
    bool failed;
} QUtilWire;

/* Start reading @len bytes at @buf (@buf may be NULL when @len is 0). */
void qutil_wire_init(QUtilWire *w, const void *buf, size_t len);

/* Bytes not read yet; 0 once the cursor failed. */
size_t qutil_wire_remaining(const QUtilWire *w);

/* True while no read has run out of input. */
bool qutil_wire_ok(const QUtilWire *w);

/* True when the cursor has not failed and every byte was read. */
bool qutil_wire_at_end(const QUtilWire *w);

/*
 * Each reads one field and returns true, or, when fewer bytes remain than
 * it needs (or the cursor already failed), fails the cursor, sets the
 * output to zero and returns false.
 */
bool qutil_wire_get_u8(QUtilWire *w, uint8_t *v);
bool qutil_wire_get_be16(QUtilWire *w, uint16_t *v);
bool qutil_wire_get_be32(QUtilWire *w, uint32_t *v);
bool qutil_wire_get_be64(QUtilWire *w, uint64_t *v);

/* Copy the next @n bytes to @dst (zeroed on failure). */
bool qutil_wire_get_bytes(QUtilWire *w, void *dst, size_t n);

/*
 * Point *@span at the next @n bytes, inside the buffer, and step over
 * them; *@span is NULL on failure (and may be NULL for @n == 0 over an
 * empty buffer).
 */
bool qutil_wire_get_span(QUtilWire *w, const uint8_t **span, size_t n);

/* Step over the next @n bytes. */
bool qutil_wire_skip(QUtilWire *w, size_t n);
