/*
 * Helpers shared by the channel benchmarks: option parsing, socket pairs,
 * channel transfer loops and medians (see bench-util.h).  Failures abort
 * with g_error(), since a benchmark that cannot run has nothing to report.
 */
#include "bench-util.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

bool bench_parse_options(const char *prog, const GOptionEntry *extra,
                         BenchOptions *opts, int *argc, char ***argv)
{
    GOptionEntry entries[] = {
        { "size", 's', 0, G_OPTION_ARG_INT, &opts->size_mib,
          "MiB per transfer (default 1024)", "MIB" },
        { "rounds", 'r', 0, G_OPTION_ARG_INT, &opts->rounds,
          "rounds per contender (default 5)", "N" },
        { "chunk", 'c', 0, G_OPTION_ARG_INT, &opts->chunk_kib,
          "bytes per read/write call, KiB (default 128)", "KIB" },
        { NULL },
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("");
    g_autoptr(GError) err = NULL;

    opts->size_mib = 1024;
    opts->rounds = 5;
    opts->chunk_kib = 128;
    g_option_context_add_main_entries(ctx, entries, NULL);
    if (extra) {
        g_option_context_add_main_entries(ctx, extra, NULL);
    }
    if (!g_option_context_parse(ctx, argc, argv, &err)) {
        fprintf(stderr, "%s: %s\n", prog, err->message);
        return false;
    }
    if (opts->size_mib <= 0 || opts->rounds <= 0 || opts->chunk_kib <= 0) {
        fprintf(stderr,
                "%s: --size, --rounds and --chunk must be "
                "positive\n",
                prog);
        return false;
    }
    opts->total = (size_t)opts->size_mib * 1024 * 1024;
    opts->chunk = (size_t)opts->chunk_kib * 1024;
    return true;
}

void bench_make_pair(bool tcp, int fds[2])
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

const char *bench_pair_name(bool tcp)
{
    return tcp ? "tcp 127.0.0.1" : "unix socketpair";
}

void bench_channel_send(QIOChannel *ioc, size_t total, size_t chunk)
{
    g_autofree char *buf = g_malloc0(chunk);
    size_t done = 0;
    g_autoptr(GError) err = NULL;

    while (done < total) {
        size_t n = MIN(chunk, total - done);

        if (qio_channel_write_all(ioc, buf, n, &err) < 0) {
            g_error("%s", err->message);
        }
        done += n;
    }
}

void bench_channel_receive(QIOChannel *ioc, size_t total, size_t chunk)
{
    g_autofree char *buf = g_malloc(chunk);
    size_t done = 0;
    g_autoptr(GError) err = NULL;

    while (done < total) {
        gssize r = qio_channel_read(ioc, buf, chunk, &err);

        if (r <= 0) {
            g_error("read: %s", err ? err->message : "unexpected EOF");
        }
        done += r;
    }
}

double bench_mib_per_s(size_t total, gint64 start, gint64 end)
{
    return (double)total / (1024.0 * 1024.0) / ((end - start) / 1e6);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

double bench_median(double *v, int n)
{
    qsort(v, n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}
