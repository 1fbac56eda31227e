/*
 * The bounds-checked wire cursor: every read checks the bytes it needs
 * against what remains, and a short read fails the cursor for good.
 */
#include "util/wire.h"

#include <string.h>

void qutil_wire_init(QUtilWire *w, const void *buf, size_t len)
{
    w->buf = buf;
    w->len = buf ? len : 0;
    w->pos = 0;
    w->failed = false;
}

size_t qutil_wire_remaining(const QUtilWire *w)
{
    return w->failed ? 0 : w->len - w->pos;
}

bool qutil_wire_ok(const QUtilWire *w)
{
    return !w->failed;
}

bool qutil_wire_at_end(const QUtilWire *w)
{
    return !w->failed && w->pos == w->len;
}

/*
 * Step over the next @n bytes, pointing *@p at them, or fail the cursor
 * when they are not all there.  The check is a subtraction, so that a huge
 * @n cannot wrap.
 */
static bool take(QUtilWire *w, size_t n, const uint8_t **p)
{
    if (w->failed || n > w->len - w->pos) {
        w->failed = true;
        *p = NULL;
        return false;
    }
    /* A NULL buffer has length 0: no offset is added to it. */
    *p = n ? w->buf + w->pos : w->buf;
    w->pos += n;
    return true;
}

bool qutil_wire_get_u8(QUtilWire *w, uint8_t *v)
{
    const uint8_t *p;
    bool ok = take(w, 1, &p);

    *v = ok ? p[0] : 0;
    return ok;
}

bool qutil_wire_get_be16(QUtilWire *w, uint16_t *v)
{
    const uint8_t *p;
    bool ok = take(w, 2, &p);

    *v = ok ? (uint16_t)((p[0] << 8) | p[1]) : 0;
    return ok;
}

bool qutil_wire_get_be32(QUtilWire *w, uint32_t *v)
{
    const uint8_t *p;
    bool ok = take(w, 4, &p);

    *v = ok ? ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
                  ((uint32_t)p[2] << 8) | p[3]
            : 0;
    return ok;
}

bool qutil_wire_get_be64(QUtilWire *w, uint64_t *v)
{
    const uint8_t *p;
    bool ok = take(w, 8, &p);

    *v = 0;
    for (int i = 0; ok && i < 8; i++) {
        *v = (*v << 8) | p[i];
    }
    return ok;
}

bool qutil_wire_get_bytes(QUtilWire *w, void *dst, size_t n)
{
    const uint8_t *p;

    if (!take(w, n, &p)) {
        memset(dst, 0, n);
        return false;
    }
    if (n) {
        memcpy(dst, p, n);
    }
    return true;
}

bool qutil_wire_get_span(QUtilWire *w, const uint8_t **span, size_t n)
{
    return take(w, n, span);
}

bool qutil_wire_skip(QUtilWire *w, size_t n)
{
    const uint8_t *p;

    return take(w, n, &p);
}
