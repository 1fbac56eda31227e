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
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib.h>

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
    g_autofree char *buf = g_malloc0(s->chunk);
    size_t done = 0;
    g_autoptr(GError) err = NULL;

    while (done < s->total) {
        size_t n = MIN(s->chunk, s->total - done);

        if (qio_channel_write_all(s->ioc, buf, n, &err) < 0) {
            g_error("%s", err->message);
        }
        done += n;
    }
    return NULL;
}

static void chan_reader(Side *s)
{
    g_autofree char *buf = g_malloc(s->chunk);
    size_t done = 0;
    g_autoptr(GError) err = NULL;

    while (done < s->total) {
        gssize r = qio_channel_read(s->ioc, buf, s->chunk, &err);

        if (r <= 0) {
            g_error("read: %s", err ? err->message : "unexpected EOF");
        }
        done += r;
    }
}

/* A connected pair: AF_UNIX socketpair or TCP over 127.0.0.1. */
static void make_pair(bool tcp, int fds[2])
{
    if (!tcp) {
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0) {
            g_error("socketpair: %s", g_strerror(errno));
        }
        return;
    }
    struct sockaddr_in sin = { .sin_family = AF_INET,
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof(sin);
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;

    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
        listen(lfd, 1) < 0 ||
        getsockname(lfd, (struct sockaddr *)&sin, &len) < 0) {
        g_error("listen on 127.0.0.1: %s", g_strerror(errno));
    }
    fds[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fds[0] < 0 || connect(fds[0], (struct sockaddr *)&sin, len) < 0) {
        g_error("connect: %s", g_strerror(errno));
    }
    fds[1] = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (fds[1] < 0) {
        g_error("accept: %s", g_strerror(errno));
    }
    setsockopt(fds[0], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(fds[1], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    close(lfd);
}

/* One transfer; returns MiB/s. */
static double run_once(bool tcp, bool channel, size_t total, size_t chunk)
{
    int fds[2];
    Side w = { .total = total, .chunk = chunk };
    Side r = { .total = total, .chunk = chunk };
    GThread *thread;
    gint64 start, end;

    make_pair(tcp, fds);
    w.fd = fds[0];
    r.fd = fds[1];
    if (channel) {
        g_autoptr(GError) err = NULL;
        QIOChannelSocket *a = qio_channel_socket_new_fd(fds[0], &err);
        QIOChannelSocket *b = a ? qio_channel_socket_new_fd(fds[1], &err)
                                : NULL;

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
    return (double)total / (1024.0 * 1024.0) / ((end - start) / 1e6);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
    gint size_mib = 1024, rounds = 5, chunk_kib = 128;
    GOptionEntry entries[] = {
        { "size", 's', 0, G_OPTION_ARG_INT, &size_mib,
          "MiB per transfer (default 1024)", "MIB" },
        { "rounds", 'r', 0, G_OPTION_ARG_INT, &rounds,
          "rounds per contender (default 5)", "N" },
        { "chunk", 'c', 0, G_OPTION_ARG_INT, &chunk_kib,
          "bytes per read/write call, KiB (default 128)", "KIB" },
        { NULL },
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("");
    g_autoptr(GError) err = NULL;

    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
        fprintf(stderr, "bench-io-channel-socket: %s\n", err->message);
        return 1;
    }
    if (size_mib <= 0 || rounds <= 0 || chunk_kib <= 0) {
        fprintf(stderr, "bench-io-channel-socket: --size, --rounds and "
                        "--chunk must be positive\n");
        return 1;
    }

    size_t total = (size_t)size_mib * 1024 * 1024;
    size_t chunk = (size_t)chunk_kib * 1024;

    printf("socket channel vs raw read/write: %d MiB per transfer, "
           "%d KiB calls, %d interleaved rounds, medians\n",
           size_mib, chunk_kib, rounds);
    for (int tcp = 0; tcp <= 1; tcp++) {
        g_autofree double *raw = g_new(double, rounds);
        g_autofree double *chan = g_new(double, rounds);

        for (int i = 0; i < rounds; i++) {
            raw[i] = run_once(tcp, false, total, chunk);
            chan[i] = run_once(tcp, true, total, chunk);
        }
        double mr = median(raw, rounds), mc = median(chan, rounds);

        printf("%-16s raw %8.0f MiB/s   channel %8.0f MiB/s   "
               "ratio %.3f\n", tcp ? "tcp 127.0.0.1" : "unix socketpair",
               mr, mc, mc / mr);
    }
    return 0;
}
