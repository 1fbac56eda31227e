/*
 * qio-demo: the channel layer at work, end to end.
 *
 * A file is read through a file channel, pushed through `cat` in a command
 * channel, carried across a UNIX socket pair by two socket channels (the
 * receiving end driven by a watch on a main loop, in non-blocking mode), and
 * written to a new file.  The SHA-256 of the input and of the output must
 * match.  It grows into the TLS disk-export demo as the NBD layer lands.
 *
 *   qio-demo [--size MIB] [FILE]
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib.h>

#include "io/channel-command.h"
#include "io/channel-file.h"
#include "io/channel-socket.h"

#define CHUNK (64 * 1024)

typedef struct {
    QIOChannel *src;
    QIOChannel *dst;
    bool shutdown_dst; /* half-close dst at EOF, else close it */
    guint64 bytes;
    GError *err;
} Pump;

/* Copy src to dst until EOF on a thread of its own. */
static gpointer pump_thread(gpointer opaque)
{
    Pump *p = opaque;
    g_autofree char *buf = g_malloc(CHUNK);

    for (;;) {
        gssize n = qio_channel_read(p->src, buf, CHUNK, &p->err);

        if (n == QIO_CHANNEL_ERR_BLOCK) {
            qio_channel_wait(p->src, G_IO_IN);
            continue;
        }
        if (n < 0) {
            return NULL;
        }
        if (n == 0) {
            break;
        }
        if (qio_channel_write_all(p->dst, buf, n, &p->err) < 0) {
            return NULL;
        }
        p->bytes += n;
    }
    if (p->shutdown_dst) {
        qio_channel_shutdown(p->dst, QIO_CHANNEL_SHUTDOWN_WRITE, &p->err);
    } else {
        qio_channel_close(p->dst, &p->err);
    }
    return NULL;
}

typedef struct {
    GMainLoop *loop;
    QIOChannel *out;
    GChecksum *sum;
    guint64 bytes;
    GError *err;
} Sink;

/* The receiving socket: read what is ready, never block the loop. */
static gboolean sink_ready(QIOChannel *ioc, GIOCondition cond,
                           gpointer opaque)
{
    Sink *s = opaque;
    char buf[CHUNK];

    for (;;) {
        gssize n = qio_channel_read(ioc, buf, sizeof(buf), &s->err);

        if (n == QIO_CHANNEL_ERR_BLOCK) {
            return G_SOURCE_CONTINUE;
        }
        if (n <= 0) {
            g_main_loop_quit(s->loop);
            return G_SOURCE_REMOVE;
        }
        g_checksum_update(s->sum, (guchar *)buf, n);
        if (qio_channel_write_all(s->out, buf, n, &s->err) < 0) {
            g_main_loop_quit(s->loop);
            return G_SOURCE_REMOVE;
        }
        s->bytes += n;
    }
}

static char *file_sha256(const char *path, GError **errp)
{
    g_autofree char *data = NULL;
    gsize len;

    if (!g_file_get_contents(path, &data, &len, errp)) {
        return NULL;
    }
    return g_compute_checksum_for_data(G_CHECKSUM_SHA256, (guchar *)data,
                                       len);
}

static bool make_input(const char *path, gint size_mib, GError **errp)
{
    g_autoptr(GRand) rand = g_rand_new();
    gsize len = (gsize)size_mib * 1024 * 1024;
    g_autofree guint32 *data = g_malloc(len);

    for (gsize i = 0; i < len / 4; i++) {
        data[i] = g_rand_int(rand);
    }
    return g_file_set_contents(path, (char *)data, len, errp);
}

static int fail(const char *what, GError *err)
{
    fprintf(stderr, "qio-demo: %s: %s\n", what, err ? err->message : "?");
    return 1;
}

int main(int argc, char **argv)
{
    gint size_mib = 32;
    GOptionEntry entries[] = {
        { "size", 's', 0, G_OPTION_ARG_INT, &size_mib,
          "size of the generated input in MiB when no FILE is given "
          "(default 32)", "MIB" },
        { NULL },
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("[FILE]");
    g_autoptr(GError) err = NULL;
    g_autofree char *tmpdir = NULL;
    g_autofree char *input = NULL;
    g_autofree char *output = NULL;
    const char *cat_argv[] = { "cat", NULL };
    int fds[2];

    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
        return fail("bad command line", err);
    }
    if (argc > 2 || size_mib <= 0 || size_mib > 4096) {
        fprintf(stderr, "qio-demo: usage: qio-demo [--size MIB (1-4096)] "
                        "[FILE]\n");
        return 1;
    }
    tmpdir = g_dir_make_tmp("qio-demo-XXXXXX", &err);
    if (!tmpdir) {
        return fail("temporary directory", err);
    }
    output = g_build_filename(tmpdir, "output", NULL);
    if (argc == 2) {
        input = g_strdup(argv[1]);
    } else {
        input = g_build_filename(tmpdir, "input", NULL);
        printf("generating %d MiB of random data in %s\n", size_mib, input);
        if (!make_input(input, size_mib, &err)) {
            return fail("input", err);
        }
    }

    g_autoptr(QIOChannelFile) fin =
        qio_channel_file_new_path(input, O_RDONLY, 0, &err);
    if (!fin) {
        return fail("input", err);
    }
    g_autoptr(QIOChannelFile) fout = qio_channel_file_new_path(
        output, O_WRONLY | O_CREAT | O_TRUNC, 0600, &err);
    if (!fout) {
        return fail("output", err);
    }
    g_autoptr(QIOChannelCommand) cmd =
        qio_channel_command_new_spawn(cat_argv, O_RDWR, &err);
    if (!cmd) {
        return fail("spawn", err);
    }
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0) {
        fprintf(stderr, "qio-demo: socketpair: %s\n", g_strerror(errno));
        return 1;
    }
    g_autoptr(QIOChannelSocket) sa = qio_channel_socket_new_fd(fds[0], &err);
    g_autoptr(QIOChannelSocket) sb =
        sa ? qio_channel_socket_new_fd(fds[1], &err) : NULL;
    if (!sb) {
        return fail("socket pair", err);
    }
    if (qio_channel_set_blocking(QIO_CHANNEL(sb), false, &err) < 0) {
        return fail("socket pair", err);
    }

    printf("streaming %s\n  -> file channel -> command channel `cat` "
           "-> socket channel pair -> file channel\n  -> %s\n",
           input, output);
    gint64 start = g_get_monotonic_time();
    Pump feed = { .src = QIO_CHANNEL(fin), .dst = QIO_CHANNEL(cmd),
                  .shutdown_dst = true };
    Pump relay = { .src = QIO_CHANNEL(cmd), .dst = QIO_CHANNEL(sa),
                   .shutdown_dst = true };
    g_autoptr(GMainLoop) loop = g_main_loop_new(NULL, FALSE);
    Sink sink = { .loop = loop, .out = QIO_CHANNEL(fout),
                  .sum = g_checksum_new(G_CHECKSUM_SHA256) };
    GThread *t1 = g_thread_new("feed", pump_thread, &feed);
    GThread *t2 = g_thread_new("relay", pump_thread, &relay);

    qio_channel_add_watch(QIO_CHANNEL(sb), G_IO_IN | G_IO_HUP, sink_ready,
                          &sink, NULL);
    g_main_loop_run(loop);
    g_thread_join(t1);
    g_thread_join(t2);
    double secs = (g_get_monotonic_time() - start) / 1e6;

    if (feed.err) {
        return fail("file -> command", feed.err);
    }
    if (relay.err) {
        return fail("command -> socket", relay.err);
    }
    if (sink.err) {
        return fail("socket -> file", sink.err);
    }
    /* Reaps `cat`: a non-zero exit or a signal would be an error here. */
    if (qio_channel_close(QIO_CHANNEL(cmd), &err) < 0) {
        return fail("command", err);
    }
    if (qio_channel_close(QIO_CHANNEL(fout), &err) < 0) {
        return fail("output", err);
    }

    g_autofree char *want = file_sha256(input, &err);
    if (!want) {
        return fail("input", err);
    }
    g_autofree char *got = file_sha256(output, &err);
    if (!got) {
        return fail("output", err);
    }
    const char *sink_sum = g_checksum_get_string(sink.sum);
    printf("moved %" G_GUINT64_FORMAT " bytes in %.2f s (%.0f MiB/s)\n",
           sink.bytes, secs, sink.bytes / 1048576.0 / (secs > 0 ? secs : 1));
    printf("sha256 in   %s\nsha256 wire %s\nsha256 out  %s\n", want,
           sink_sum, got);
    int ok = g_str_equal(want, got) && g_str_equal(want, sink_sum);

    g_checksum_free(sink.sum);
    unlink(output);
    if (argc != 2) {
        unlink(input);
    }
    rmdir(tmpdir);
    printf("%s\n", ok ? "OK: the data arrived intact"
                      : "FAILED: checksums differ");
    return ok ? 0 : 1;
}
