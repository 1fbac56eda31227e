/*
 * GSource watches on file descriptors that also respect data a channel
 * holds in its own buffers.  A TLS channel may have decrypted a record that
 * the caller has not read yet; the socket underneath will never become
 * readable for it, so a plain fd watch would sleep forever.  These sources
 * report G_IO_IN as soon as qio_channel_has_pending() says so.  Channels
 * layered over another channel, and channels that never wait at all, get
 * their watches here too, so every subclass builds on one set of sources.
 */
#include "io/channel.h"

typedef struct {
    GSource source;
    QIOChannel *ioc;
    GPollFD fdread;
    GPollFD fdwrite;
    bool pair;
    GIOCondition condition;
} QIOChannelFDSource;

static GIOCondition fd_source_revents(QIOChannelFDSource *s)
{
    GIOCondition cond = s->fdread.revents;

    if (s->pair) {
        cond |= s->fdwrite.revents;
    }
    if ((s->condition & G_IO_IN) && qio_channel_has_pending(s->ioc)) {
        cond |= G_IO_IN;
    }
    return cond & (s->condition | G_IO_HUP | G_IO_ERR | G_IO_NVAL);
}

static gboolean fd_source_prepare(GSource *source, gint *timeout)
{
    QIOChannelFDSource *s = (QIOChannelFDSource *)source;

    *timeout = -1;
    return (s->condition & G_IO_IN) && qio_channel_has_pending(s->ioc);
}

static gboolean fd_source_check(GSource *source)
{
    return fd_source_revents((QIOChannelFDSource *)source) != 0;
}

static gboolean fd_source_dispatch(GSource *source, GSourceFunc callback,
                                   gpointer user_data)
{
    QIOChannelFDSource *s = (QIOChannelFDSource *)source;
    QIOChannelFunc func = (QIOChannelFunc)(void (*)(void))callback;
    GIOCondition cond = fd_source_revents(s);

    if (!func) {
        return G_SOURCE_REMOVE;
    }
    /*
     * Buffered data can be consumed by another thread between prepare or
     * check and here; a callback is never told "nothing happened".
     */
    if (!cond) {
        return G_SOURCE_CONTINUE;
    }
    return func(s->ioc, cond, user_data);
}

static void fd_source_finalize(GSource *source)
{
    QIOChannelFDSource *s = (QIOChannelFDSource *)source;

    g_object_unref(s->ioc);
}

static GSourceFuncs fd_source_funcs = {
    .prepare = fd_source_prepare,
    .check = fd_source_check,
    .dispatch = fd_source_dispatch,
    .finalize = fd_source_finalize,
};

GSource *qio_channel_create_fd_pair_watch(QIOChannel *ioc, int fdread,
                                          int fdwrite, GIOCondition condition)
{
    GSource *source =
        g_source_new(&fd_source_funcs, sizeof(QIOChannelFDSource));
    QIOChannelFDSource *s = (QIOChannelFDSource *)source;
    GIOCondition rdcond = condition & ~G_IO_OUT;
    GIOCondition wrcond = condition & ~(G_IO_IN | G_IO_PRI);
    bool wants_rd = condition & (G_IO_IN | G_IO_PRI);
    bool wants_wr = condition & G_IO_OUT;

    g_source_set_name(source, "qio-channel-fd-watch");
    s->ioc = g_object_ref(ioc);
    s->condition = condition;
    s->pair = fdread != fdwrite;
    if (!s->pair) {
        s->fdread.fd = fdread;
        s->fdread.events = condition;
        g_source_add_poll(source, &s->fdread);
        return source;
    }

    /*
     * Poll only the side the condition asks about.  poll() reports
     * HUP/ERR on every descriptor it is given, so polling the other side
     * as well would wake a writer waiting for G_IO_OUT whenever the read
     * side hung up (and a reader when the write side did), and the
     * caller would retry and block again in a busy loop.  A condition
     * naming neither direction (only G_IO_HUP/G_IO_ERR) watches both.
     */
    s->fdread.fd = fdread;
    s->fdread.events = rdcond;
    s->fdwrite.fd = fdwrite;
    s->fdwrite.events = wrcond;
    if (wants_rd || !wants_wr) {
        g_source_add_poll(source, &s->fdread);
    }
    if (wants_wr || !wants_rd) {
        g_source_add_poll(source, &s->fdwrite);
    }
    return source;
}

GSource *qio_channel_create_fd_watch(QIOChannel *ioc, int fd,
                                     GIOCondition condition)
{
    return qio_channel_create_fd_pair_watch(ioc, fd, fd, condition);
}

/*
 * Watches for channels layered over another channel (TLS, websocket):
 * readiness comes from a watch on the channel underneath, which may be
 * any kind of channel, plus the layer's own buffered data.  The child
 * watch only records what it saw; the callback runs from this source,
 * with the layered channel, so callers never see the channel underneath.
 */
typedef struct {
    GSource source;
    QIOChannel *ioc;
    GIOCondition condition;
    GIOCondition fired;
} QIOChannelLayeredSource;

static gboolean layered_child_fired(QIOChannel *child, GIOCondition cond,
                                    gpointer opaque)
{
    QIOChannelLayeredSource *s = opaque;

    s->fired |= cond;
    return G_SOURCE_CONTINUE;
}

static GIOCondition layered_revents(QIOChannelLayeredSource *s)
{
    GIOCondition cond = s->fired;

    if ((s->condition & G_IO_IN) && qio_channel_has_pending(s->ioc)) {
        cond |= G_IO_IN;
    }
    return cond & (s->condition | G_IO_HUP | G_IO_ERR | G_IO_NVAL);
}

static gboolean layered_prepare(GSource *source, gint *timeout)
{
    *timeout = -1;
    return layered_revents((QIOChannelLayeredSource *)source) != 0;
}

static gboolean layered_check(GSource *source)
{
    return layered_revents((QIOChannelLayeredSource *)source) != 0;
}

static gboolean layered_dispatch(GSource *source, GSourceFunc callback,
                                 gpointer user_data)
{
    QIOChannelLayeredSource *s = (QIOChannelLayeredSource *)source;
    QIOChannelFunc func = (QIOChannelFunc)(void (*)(void))callback;
    GIOCondition cond = layered_revents(s);

    /*
     * GLib dispatches this source as soon as the child is ready, possibly
     * before the child's own callback has recorded what it saw; the next
     * iteration then delivers it (prepare sees s->fired).
     */
    s->fired = 0;
    if (!func) {
        return G_SOURCE_REMOVE;
    }
    if (!cond) {
        return G_SOURCE_CONTINUE;
    }
    return func(s->ioc, cond, user_data);
}

static void layered_finalize(GSource *source)
{
    QIOChannelLayeredSource *s = (QIOChannelLayeredSource *)source;

    g_object_unref(s->ioc);
}

static GSourceFuncs layered_source_funcs = {
    .prepare = layered_prepare,
    .check = layered_check,
    .dispatch = layered_dispatch,
    .finalize = layered_finalize,
};

GSource *qio_channel_create_layered_watch(QIOChannel *ioc, QIOChannel *lower,
                                          GIOCondition condition)
{
    GSource *source =
        g_source_new(&layered_source_funcs, sizeof(QIOChannelLayeredSource));
    QIOChannelLayeredSource *s = (QIOChannelLayeredSource *)source;
    GSource *child = qio_channel_create_watch(lower, condition);

    g_source_set_name(source, "qio-channel-layered-watch");
    s->ioc = g_object_ref(ioc);
    s->condition = condition;
    /* The child dies with this source, so its callback data stays valid. */
    g_source_set_callback(
        child, (GSourceFunc)(void (*)(void))layered_child_fired, s, NULL);
    g_source_add_child_source(source, child);
    g_source_unref(child);
    return source;
}

/*
 * Watches for channels that never make anyone wait (memory, the null
 * channel): there is nothing to poll, and a read or write is always
 * possible (a read at the end reports EOF, which is progress too), so the
 * source is ready on every iteration for whichever of G_IO_IN and
 * G_IO_OUT was asked for.
 */
typedef struct {
    GSource source;
    QIOChannel *ioc;
    GIOCondition condition;
} QIOChannelReadySource;

static gboolean ready_check(GSource *source)
{
    QIOChannelReadySource *s = (QIOChannelReadySource *)source;

    return (s->condition & (G_IO_IN | G_IO_OUT)) != 0;
}

static gboolean ready_prepare(GSource *source, gint *timeout)
{
    *timeout = -1;
    return ready_check(source);
}

static gboolean ready_dispatch(GSource *source, GSourceFunc callback,
                               gpointer user_data)
{
    QIOChannelReadySource *s = (QIOChannelReadySource *)source;
    QIOChannelFunc func = (QIOChannelFunc)(void (*)(void))callback;

    if (!func) {
        return G_SOURCE_REMOVE;
    }
    return func(s->ioc, s->condition & (G_IO_IN | G_IO_OUT), user_data);
}

static void ready_finalize(GSource *source)
{
    g_object_unref(((QIOChannelReadySource *)source)->ioc);
}

static GSourceFuncs ready_source_funcs = {
    .prepare = ready_prepare,
    .check = ready_check,
    .dispatch = ready_dispatch,
    .finalize = ready_finalize,
};

GSource *qio_channel_create_ready_watch(QIOChannel *ioc, GIOCondition condition)
{
    GSource *source =
        g_source_new(&ready_source_funcs, sizeof(QIOChannelReadySource));
    QIOChannelReadySource *s = (QIOChannelReadySource *)source;

    g_source_set_name(source, "qio-channel-ready-watch");
    s->ioc = g_object_ref(ioc);
    s->condition = condition;
    return source;
}
