/*
 * Throughput of QIOChannelSocket against raw read(2)/write(2) on the same
 * kind of socket pair, one writer thread and one reader thread.
 *
 * The contenders run interleaved (raw, channel, raw, channel, ...) so that
 * background noise on a shared machine hits both alike; the medians of the
 * rounds and their ratio are printed.  This is a program to run, not a
 * pass/fail test.
 *
 *   bench-io-channel-socket [--size MiB] [--rounds N] [--chunk KiB]
 */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include <glib.h>

#include "bench-util.h"
#include "io/channel-socket.h"

typedef struct {
    int fd;
    QIOChannel *ioc;
    size_t total;
    size_t chunk;
} Side;

static gpointer raw_writer(gpointer opaque)
{
    Side *s = opaque;
    g_autofree char *buf = g_malloc0(s->chunk);
    size_t done = 0;

    while (done < s->total) {
        size_t n = MIN(s->chunk, s->total - done);
        ssize_t w = write(s->fd, buf, n);

        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            g_error("write: %s", g_strerror(errno));
        }
        done += w;
    }
    return NULL;
}

static void raw_reader(Side *s)
{
    g_autofree char *buf = g_malloc(s->chunk);
    size_t done = 0;

    while (done < s->total) {
        ssize_t r = read(s->fd, buf, s->chunk);

        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            g_error("read: %s", g_strerror(errno));
        }
        if (r == 0) {
            g_error("unexpected EOF");
        }
        done += r;
    }
}

static gpointer chan_writer(gpointer opaque)
{
    Side *s = opaque;

    bench_channel_send(s->ioc, s->total, s->chunk);
    return NULL;
}

static void chan_reader(Side *s)
{
    bench_channel_receive(s->ioc, s->total, s->chunk);
}

/* One transfer; returns MiB/s. */
static double run_once(bool tcp, bool channel, size_t total, size_t chunk)
{
    int fds[2];
    Side w = { .total = total, .chunk = chunk };
    Side r = { .total = total, .chunk = chunk };
    GThread *thread;
    gint64 start, end;

    bench_make_pair(tcp, fds);
    w.fd = fds[0];
    r.fd = fds[1];
    if (channel) {
        g_autoptr(GError) err = NULL;
        QIOChannelSocket *a = qio_channel_socket_new_fd(fds[0], &err);
        QIOChannelSocket *b =
            a ? qio_channel_socket_new_fd(fds[1], &err) : NULL;

        if (!b) {
            g_error("%s", err->message);
        }
        w.ioc = QIO_CHANNEL(a);
        r.ioc = QIO_CHANNEL(b);
    }

    start = g_get_monotonic_time();
    thread = g_thread_new("writer", channel ? chan_writer : raw_writer, &w);
    if (channel) {
        chan_reader(&r);
    } else {
        raw_reader(&r);
    }
    g_thread_join(thread);
    end = g_get_monotonic_time();

    if (channel) {
        g_object_unref(w.ioc); /* closes the fds */
        g_object_unref(r.ioc);
    } else {
        close(fds[0]);
        close(fds[1]);
    }
    return bench_mib_per_s(total, start, end);
}

int main(int argc, char **argv)
{
    BenchOptions opts;

    if (!bench_parse_options("bench-io-channel-socket", NULL, &opts, &argc,
                             &argv)) {
        return 1;
    }
    printf("socket channel vs raw read/write: %d MiB per transfer, "
           "%d KiB calls, %d interleaved rounds, medians\n",
           opts.size_mib, opts.chunk_kib, opts.rounds);
    for (int tcp = 0; tcp <= 1; tcp++) {
        g_autofree double *raw = g_new(double, opts.rounds);
        g_autofree double *chan = g_new(double, opts.rounds);

        for (int i = 0; i < opts.rounds; i++) {
            raw[i] = run_once(tcp, false, opts.total, opts.chunk);
            chan[i] = run_once(tcp, true, opts.total, opts.chunk);
        }
        double mr = bench_median(raw, opts.rounds);
        double mc = bench_median(chan, opts.rounds);

        printf("%-16s raw %8.0f MiB/s   channel %8.0f MiB/s   "
               "ratio %.3f\n",
               bench_pair_name(tcp), mr, mc, mc / mr);
    }
    return 0;
}
