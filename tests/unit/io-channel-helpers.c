/*
 * Two-thread transfer check shared by the channel unit tests.
 */
#include "io-channel-helpers.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <cmocka.h>

#define CHUNK_MAX (256 * 1024)

typedef struct {
    QIOChannel *ioc;
    size_t len;
    bool close;
    GChecksum *sum;
    GError *err;
} TransferSide;

void qio_test_fill(void *buf, size_t len, guint32 seed)
{
    guint8 *p = buf;
    guint32 x = seed | 1;

    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = x & 0xff;
    }
}

/* Sizes vary from 1 byte to CHUNK_MAX so short and long I/O both occur. */
static size_t next_chunk(GRand *rand, size_t left)
{
    size_t n;

    switch (g_rand_int_range(rand, 0, 4)) {
    case 0:
        n = g_rand_int_range(rand, 1, 17);
        break;
    case 1:
        n = g_rand_int_range(rand, 1, 4097);
        break;
    default:
        n = g_rand_int_range(rand, 4096, CHUNK_MAX + 1);
        break;
    }
    return MIN(n, left);
}

static gpointer writer_thread(gpointer opaque)
{
    TransferSide *w = opaque;
    g_autoptr(GRand) rand = g_rand_new_with_seed(42);
    g_autofree guint8 *buf = g_malloc(CHUNK_MAX);
    size_t done = 0;
    guint32 seed = 1;

    while (done < w->len) {
        size_t n = next_chunk(rand, w->len - done);
        size_t split = n > 1 ? (size_t)g_rand_int_range(rand, 0, n) : 0;
        struct iovec iov[2] = {
            { .iov_base = buf, .iov_len = split },
            { .iov_base = buf + split, .iov_len = n - split },
        };

        qio_test_fill(buf, n, seed++);
        g_checksum_update(w->sum, buf, n);
        if (qio_channel_writev_all(w->ioc, iov, 2, &w->err) < 0) {
            return NULL;
        }
        done += n;
    }
    if (w->close) {
        qio_channel_close(w->ioc, &w->err);
    }
    return NULL;
}

static void reader_run(TransferSide *r)
{
    g_autoptr(GRand) rand = g_rand_new_with_seed(7);
    g_autofree guint8 *buf = g_malloc(CHUNK_MAX);
    size_t done = 0;

    while (done < r->len) {
        size_t n = next_chunk(rand, r->len - done);

        if (g_rand_boolean(rand)) {
            /* A single call: may be short, may say "would block". */
            gssize got = qio_channel_read(r->ioc, buf, n, &r->err);

            if (got == QIO_CHANNEL_ERR_BLOCK) {
                qio_channel_wait(r->ioc, G_IO_IN);
                continue;
            }
            if (got <= 0) {
                if (got == 0) {
                    g_set_error(&r->err, QIO_ERROR, QIO_ERROR_UNEXPECTED_EOF,
                                "EOF after %zu of %zu bytes", done, r->len);
                }
                return;
            }
            n = got;
        } else if (qio_channel_read_all(r->ioc, buf, n, &r->err) < 0) {
            return;
        }
        g_checksum_update(r->sum, buf, n);
        done += n;
    }
    if (r->close) {
        char c;
        int ret = qio_channel_read_all_eof(r->ioc, &c, 1, &r->err);

        if (ret != 0 && !r->err) {
            g_set_error(&r->err, QIO_ERROR, QIO_ERROR_PROTOCOL,
                        "expected EOF after the payload");
        }
    }
}

void qio_test_transfer(QIOChannel *src, QIOChannel *dst, size_t len,
                       bool blocking, bool close_src)
{
    TransferSide w = { .ioc = src,
                       .len = len,
                       .close = close_src,
                       .sum = g_checksum_new(G_CHECKSUM_SHA256) };
    TransferSide r = { .ioc = dst,
                       .len = len,
                       .close = close_src,
                       .sum = g_checksum_new(G_CHECKSUM_SHA256) };
    GThread *thread;

    if (!blocking) {
        assert_int_equal(qio_channel_set_blocking(src, false, NULL), 0);
        assert_int_equal(qio_channel_set_blocking(dst, false, NULL), 0);
    }
    thread = g_thread_new("qio-test-writer", writer_thread, &w);
    reader_run(&r);
    if (r.err) {
        /* Unblock a writer stuck on a full pipe before joining it. */
        qio_channel_close(dst, NULL);
    }
    g_thread_join(thread);

    if (w.err) {
        fail_msg("writer failed: %s", w.err->message);
    }
    if (r.err) {
        fail_msg("reader failed: %s", r.err->message);
    }
    assert_string_equal(g_checksum_get_string(w.sum),
                        g_checksum_get_string(r.sum));
    g_checksum_free(w.sum);
    g_checksum_free(r.sum);
}

bool qio_test_have_ipv6(void)
{
    struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6,
                                 .sin6_addr = IN6ADDR_LOOPBACK_INIT };
    int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    bool ok;

    if (fd < 0) {
        return false;
    }
    ok = bind(fd, (struct sockaddr *)&sin6, sizeof(sin6)) == 0;
    close(fd);
    return ok;
}
