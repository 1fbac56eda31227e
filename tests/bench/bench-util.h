/*
 * What the channel benchmarks share: the --size/--rounds/--chunk options,
 * a connected socket pair of either kind (a UNIX socketpair or TCP over
 * 127.0.0.1), timed transfers through a QIOChannel, and the median of the
 * rounds.  Each benchmark keeps only its own contenders.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <glib.h>

#include "io/channel.h"

typedef struct {
    gint size_mib;  /* --size: MiB per transfer */
    gint rounds;    /* --rounds: rounds per contender */
    gint chunk_kib; /* --chunk: KiB per read/write call */
    size_t total;   /* size_mib in bytes */
    size_t chunk;   /* chunk_kib in bytes */
} BenchOptions;

/*
 * Parse the common options, plus @extra (NULL-terminated, or NULL) for a
 * benchmark's own, into @opts, removing them from @argc/@argv.  On a bad
 * option or a size, round count or chunk that is not positive, print
 * "@prog: reason" on stderr and return false.
 *
 *     bench-io-channel-socket --size 256 --rounds 9 --chunk 64
 */
bool bench_parse_options(const char *prog, const GOptionEntry *extra,
                         BenchOptions *opts, int *argc, char ***argv);

/*
 * Fill @fds with a connected stream pair: a UNIX socketpair, or with @tcp
 * a TCP connection over 127.0.0.1 with Nagle off on both ends.  Aborts the
 * program on failure.
 */
void bench_make_pair(bool tcp, int fds[2]);
/* How bench_make_pair(@tcp) is shown in the result lines. */
const char *bench_pair_name(bool tcp);

/*
 * Write @total zero bytes to @ioc in calls of @chunk bytes, or read
 * @total bytes from it in reads of up to @chunk bytes; abort on error or
 * early EOF.
 */
void bench_channel_send(QIOChannel *ioc, size_t total, size_t chunk);
void bench_channel_receive(QIOChannel *ioc, size_t total, size_t chunk);

/* Throughput of @total bytes moved between two g_get_monotonic_time()s. */
double bench_mib_per_s(size_t total, gint64 start, gint64 end);

/* The median of the @n values in @v, which are sorted in place. */
double bench_median(double *v, int n);
