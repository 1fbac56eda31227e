/*
 * Overflow-checked arithmetic for sizes and offsets that come from a peer
 * or a user.
 *
 * Each returns true with the result stored, or false (the result left
 * zero) when the exact result does not fit.  Checking "offset + length"
 * against a size with a plain addition is the classic mistake: a large
 * offset wraps the sum below the size.  qutil_range_within() asks the
 * question without computing the sum:
 *
 *     if (!qutil_range_within(req.offset, req.length, export_size)) {
 *         ... refuse the request: out of range ...
 *     }
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

static inline bool qutil_add_u64(uint64_t a, uint64_t b, uint64_t *res)
{
    if (__builtin_add_overflow(a, b, res)) {
        *res = 0;
        return false;
    }
    return true;
}

static inline bool qutil_mul_u64(uint64_t a, uint64_t b, uint64_t *res)
{
    if (__builtin_mul_overflow(a, b, res)) {
        *res = 0;
        return false;
    }
    return true;
}

static inline bool qutil_add_size(size_t a, size_t b, size_t *res)
{
    if (__builtin_add_overflow(a, b, res)) {
        *res = 0;
        return false;
    }
    return true;
}

static inline bool qutil_mul_size(size_t a, size_t b, size_t *res)
{
    if (__builtin_mul_overflow(a, b, res)) {
        *res = 0;
        return false;
    }
    return true;
}

/*
 * True when [@offset, @offset + @length) lies within [0, @size): an empty
 * range at @size itself is within, one that starts past @size is not.
 */
static inline bool qutil_range_within(uint64_t offset, uint64_t length,
                                      uint64_t size)
{
    return offset <= size && length <= size - offset;
}
