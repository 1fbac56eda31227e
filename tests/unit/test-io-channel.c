/*
 * Unit tests for the QIOChannel base class: the full-length I/O helpers,
 * would-block and EOF handling, descriptor passing, features and names,
 * and the fd watches that subclasses build on.  The channel under test is
 * a "scripted" subclass defined here whose reads and writes follow a plan
 * set by each test (bytes per call, would-block calls, EOF, an errno, bytes
 * held in a private buffer), so every path of the helpers can be driven
 * deterministically without a real socket.
 */
#include "io/channel.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <cmocka.h>

#include "io-channel-helpers.h"

/* ---------------------------------------------------------------------- */
/* The scripted channel                                                   */

#define QIO_TYPE_CHANNEL_SCRIPTED (qio_channel_scripted_get_type())
G_DECLARE_DERIVABLE_TYPE(QIOChannelScripted, qio_channel_scripted, QIO,
                         CHANNEL_SCRIPTED, QIOChannel)

struct _QIOChannelScriptedClass {
    QIOChannelClass parent_class;
};

typedef struct {
    /*
     * Read plan.  Reads return bytes of rdata from rpos, at most rmax per
     * call (0: no limit), and EOF once rlen bytes were returned.  rsched
     * has one character per call: 'B' returns QIO_CHANNEL_ERR_BLOCK,
     * anything else (or the end of the string) proceeds.  With rerrno set,
     * the read that would go past rfail_at bytes fails with that errno.
     */
    guint8 *rdata;
    size_t rlen;
    size_t rpos;
    size_t rmax;
    const char *rsched;
    int rerrno;
    size_t rfail_at;
    /*
     * While gated and the gate is shut, reads return would-block; another
     * thread opens the gate and signals the eventfd.
     */
    bool gated;
    int gate_hit;
    int gate_open;
    /* Descriptors handed out, one with each read that returns bytes. */
    int *rfds;
    size_t nrfds;
    size_t rfds_pos;
    /* Bytes "decrypted but not yet read"; drives io_has_pending. */
    size_t pending;

    /* Write plan, as for reads; wzero makes every write accept 0 bytes. */
    GByteArray *wdata;
    size_t wmax;
    const char *wsched;
    int werrno;
    size_t wfail_at;
    bool wzero;
    GArray *wfds;
    guint wfd_calls;

    /* What the base class did to us. */
    guint rcalls;
    guint wcalls;
    guint rzero;
    guint wzero_calls;
    guint watches;
    guint pending_checks;
    bool blocking;
    bool closed;

    /* An eventfd: quiet unless a test makes it readable. */
    int evfd;
    /* The fds the watch polls: the eventfd unless a test swaps them. */
    int watch_rfd;
    int watch_wfd;
} QIOChannelScriptedPrivate;

G_DEFINE_TYPE_WITH_PRIVATE(QIOChannelScripted, qio_channel_scripted,
                           QIO_TYPE_CHANNEL)

static int scripted_finalized;

static QIOChannelScriptedPrivate *spriv(gpointer ioc)
{
    return qio_channel_scripted_get_instance_private(QIO_CHANNEL_SCRIPTED(ioc));
}

static bool sched_blocks(const char *sched, guint call)
{
    return sched && call < strlen(sched) && sched[call] == 'B';
}

static size_t iov_total(const struct iovec *iov, size_t niov)
{
    size_t total = 0;

    for (size_t i = 0; i < niov; i++) {
        total += iov[i].iov_len;
    }
    return total;
}

static gssize scripted_readv(QIOChannel *ioc, const struct iovec *iov,
                             size_t niov, int **fds, size_t *nfds, int flags,
                             GError **errp)
{
    QIOChannelScriptedPrivate *s = spriv(ioc);
    guint call = s->rcalls++;
    size_t want = iov_total(iov, niov);
    size_t n, done = 0;

    if (want == 0) {
        s->rzero++;
    }
    if (s->gated && !g_atomic_int_get(&s->gate_open)) {
        g_atomic_int_set(&s->gate_hit, 1);
    }
    if (sched_blocks(s->rsched, call) ||
        (s->gated && !g_atomic_int_get(&s->gate_open))) {
        /* The contract: only a non-blocking channel may say this. */
        assert_false(s->blocking);
        return QIO_CHANNEL_ERR_BLOCK;
    }
    if (s->rerrno && s->rpos >= s->rfail_at) {
        qio_error_setg_errno(errp, s->rerrno, "%s: read failed",
                             qio_channel_get_name(ioc));
        return -1;
    }
    n = MIN(want, s->rlen - s->rpos);
    if (s->rmax) {
        n = MIN(n, s->rmax);
    }
    if (s->rerrno) {
        n = MIN(n, s->rfail_at - s->rpos);
    }
    for (size_t i = 0; i < niov && done < n; i++) {
        size_t part = MIN(iov[i].iov_len, n - done);

        memcpy(iov[i].iov_base, s->rdata + s->rpos + done, part);
        done += part;
    }
    s->rpos += done;
    s->pending -= MIN(s->pending, done);
    if (done && fds && s->rfds_pos < s->nrfds) {
        *fds = g_new(int, 1);
        (*fds)[0] = s->rfds[s->rfds_pos++];
        *nfds = 1;
    }
    return done;
}

static gssize scripted_writev(QIOChannel *ioc, const struct iovec *iov,
                              size_t niov, const int *fds, size_t nfds,
                              int flags, GError **errp)
{
    QIOChannelScriptedPrivate *s = spriv(ioc);
    guint call = s->wcalls++;
    size_t n = iov_total(iov, niov);
    size_t done = 0;

    if (n == 0) {
        s->wzero_calls++;
    }
    if (sched_blocks(s->wsched, call)) {
        assert_false(s->blocking);
        return QIO_CHANNEL_ERR_BLOCK;
    }
    if (s->werrno && s->wdata->len >= s->wfail_at) {
        qio_error_setg_errno(errp, s->werrno, "%s: write failed",
                             qio_channel_get_name(ioc));
        return -1;
    }
    if (s->wzero) {
        if (call > 1000) {
            fail_msg("the helper keeps retrying a write that takes nothing");
        }
        return 0;
    }
    if (s->wmax) {
        n = MIN(n, s->wmax);
    }
    if (s->werrno) {
        n = MIN(n, s->wfail_at - s->wdata->len);
    }
    for (size_t i = 0; i < niov && done < n; i++) {
        size_t part = MIN(iov[i].iov_len, n - done);

        g_byte_array_append(s->wdata, iov[i].iov_base, part);
        done += part;
    }
    if (nfds) {
        g_array_append_vals(s->wfds, fds, nfds);
        s->wfd_calls++;
    }
    return done;
}

static int scripted_close(QIOChannel *ioc, GError **errp)
{
    spriv(ioc)->closed = true;
    return 0;
}

static GSource *scripted_create_watch(QIOChannel *ioc, GIOCondition cond)
{
    QIOChannelScriptedPrivate *s = spriv(ioc);

    s->watches++;
    return qio_channel_create_fd_pair_watch(ioc, s->watch_rfd, s->watch_wfd,
                                            cond);
}

static int scripted_set_blocking(QIOChannel *ioc, bool enabled, GError **errp)
{
    spriv(ioc)->blocking = enabled;
    return 0;
}

static bool scripted_has_pending(QIOChannel *ioc)
{
    QIOChannelScriptedPrivate *s = spriv(ioc);

    g_atomic_int_inc(&s->pending_checks);
    return s->pending > 0;
}

static void qio_channel_scripted_finalize(GObject *obj)
{
    QIOChannelScriptedPrivate *s = spriv(obj);

    close(s->evfd);
    g_free(s->rdata);
    g_free(s->rfds);
    g_byte_array_unref(s->wdata);
    g_array_unref(s->wfds);
    scripted_finalized++;
    G_OBJECT_CLASS(qio_channel_scripted_parent_class)->finalize(obj);
}

static void qio_channel_scripted_class_init(QIOChannelScriptedClass *klass)
{
    QIOChannelClass *ioc_class = QIO_CHANNEL_CLASS(klass);

    G_OBJECT_CLASS(klass)->finalize = qio_channel_scripted_finalize;
    ioc_class->io_readv = scripted_readv;
    ioc_class->io_writev = scripted_writev;
    ioc_class->io_close = scripted_close;
    ioc_class->io_create_watch = scripted_create_watch;
    ioc_class->io_set_blocking = scripted_set_blocking;
    ioc_class->io_has_pending = scripted_has_pending;
}

static void qio_channel_scripted_init(QIOChannelScripted *sioc)
{
    QIOChannelScriptedPrivate *s = spriv(sioc);

    s->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    g_assert(s->evfd >= 0);
    s->watch_rfd = s->evfd;
    s->watch_wfd = s->evfd;
    s->blocking = true;
    s->wdata = g_byte_array_new();
    s->wfds = g_array_new(FALSE, FALSE, sizeof(int));
}

/*
 * A channel that will return @len bytes of a known pattern, then EOF.
 * Pattern byte i is (i * 7 + 3) & 0xff so misplaced bytes show up.
 */
static QIOChannel *scripted_new(size_t len)
{
    QIOChannel *ioc = g_object_new(QIO_TYPE_CHANNEL_SCRIPTED, NULL);
    QIOChannelScriptedPrivate *s = spriv(ioc);

    s->rdata = g_malloc(len ? len : 1);
    for (size_t i = 0; i < len; i++) {
        s->rdata[i] = (i * 7 + 3) & 0xff;
    }
    s->rlen = len;
    return ioc;
}

static void scripted_signal(QIOChannel *ioc)
{
    uint64_t one = 1;

    assert_int_equal(write(spriv(ioc)->evfd, &one, sizeof(one)), sizeof(one));
}

static void scripted_drain(QIOChannel *ioc)
{
    uint64_t val;

    while (read(spriv(ioc)->evfd, &val, sizeof(val)) > 0) {
        /* nothing */
    }
}

static bool fd_is_open(int fd)
{
    return fcntl(fd, F_GETFD) != -1;
}

static int *fds_copy(const int *fds, size_t nfds)
{
    int *copy = g_new(int, nfds);

    memcpy(copy, fds, nfds * sizeof(int));
    return copy;
}

static int open_devnull(void)
{
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

    g_assert(fd >= 0);
    return fd;
}

/*
 * A subclass that also implements the optional methods, to check that
 * the wrappers dispatch to them once the feature is present.
 */
#define QIO_TYPE_CHANNEL_SCRIPTED_FULL (qio_channel_scripted_full_get_type())
G_DECLARE_FINAL_TYPE(QIOChannelScriptedFull, qio_channel_scripted_full, QIO,
                     CHANNEL_SCRIPTED_FULL, QIOChannelScripted)

struct _QIOChannelScriptedFull {
    QIOChannelScripted parent;
    int shutdowns;
    int last_how;
    int corks;
    int delays;
    int seeks;
};

G_DEFINE_TYPE(QIOChannelScriptedFull, qio_channel_scripted_full,
              QIO_TYPE_CHANNEL_SCRIPTED)

static int full_shutdown(QIOChannel *ioc, QIOChannelShutdown how, GError **errp)
{
    QIOChannelScriptedFull *f = QIO_CHANNEL_SCRIPTED_FULL(ioc);

    f->shutdowns++;
    f->last_how = how;
    return 0;
}

static void full_set_cork(QIOChannel *ioc, bool enabled)
{
    QIO_CHANNEL_SCRIPTED_FULL(ioc)->corks++;
}

static void full_set_delay(QIOChannel *ioc, bool enabled)
{
    QIO_CHANNEL_SCRIPTED_FULL(ioc)->delays++;
}

static off_t full_seek(QIOChannel *ioc, off_t offset, int whence, GError **errp)
{
    QIO_CHANNEL_SCRIPTED_FULL(ioc)->seeks++;
    return offset;
}

static void
qio_channel_scripted_full_class_init(QIOChannelScriptedFullClass *klass)
{
    QIOChannelClass *ioc_class = QIO_CHANNEL_CLASS(klass);

    ioc_class->io_shutdown = full_shutdown;
    ioc_class->io_set_cork = full_set_cork;
    ioc_class->io_set_delay = full_set_delay;
    ioc_class->io_seek = full_seek;
}

static void qio_channel_scripted_full_init(QIOChannelScriptedFull *f)
{
}

/* ---------------------------------------------------------------------- */
/* Main loop helpers, each bounded in time                                */

static gboolean flag_set(gpointer opaque)
{
    *(bool *)opaque = true;
    return G_SOURCE_REMOVE;
}

/*
 * Iterate @ctx until *@done or @ms milliseconds pass; return *@done.
 * *@iterations (if given) counts wake-ups, to catch busy loops.
 */
static bool run_until(GMainContext *ctx, bool *done, guint ms,
                      guint *iterations)
{
    bool timed_out = false;
    GSource *timer = g_timeout_source_new(ms);

    g_source_set_callback(timer, flag_set, &timed_out, NULL);
    g_source_attach(timer, ctx);
    while (!*done && !timed_out) {
        g_main_context_iteration(ctx, TRUE);
        if (iterations) {
            (*iterations)++;
        }
    }
    g_source_destroy(timer);
    g_source_unref(timer);
    return *done;
}

typedef struct {
    int calls;
    GIOCondition cond;
    gboolean ret;
    bool fired;
    bool consume;
    int notified;
} WatchRecord;

static gboolean watch_cb(QIOChannel *ioc, GIOCondition cond, gpointer opaque)
{
    WatchRecord *rec = opaque;

    rec->calls++;
    rec->cond = cond;
    rec->fired = true;
    if (rec->consume) {
        char buf[64];

        qio_channel_read(ioc, buf, sizeof(buf), NULL);
    }
    return rec->ret;
}

static void watch_notify(gpointer opaque)
{
    ((WatchRecord *)opaque)->notified++;
}

/* Attach a watch on @cond to a fresh context. */
static GSource *attach_watch(QIOChannel *ioc, GIOCondition cond,
                             WatchRecord *rec, GMainContext *ctx)
{
    GSource *src = qio_channel_create_watch(ioc, cond);

    g_source_set_callback(src, (GSourceFunc)(void (*)(void))watch_cb, rec,
                          watch_notify);
    g_source_attach(src, ctx);
    return src;
}

static void make_pipe(int fds[2])
{
    assert_int_equal(pipe2(fds, O_CLOEXEC | O_NONBLOCK), 0);
}

static void fill_pipe(int wfd)
{
    char buf[4096] = { 0 };

    while (write(wfd, buf, sizeof(buf)) > 0) {
        /* until EAGAIN */
    }
    assert_int_equal(errno, EAGAIN);
}

/* ---------------------------------------------------------------------- */
/* Full-length reads and writes                                           */

static void check_pattern(const guint8 *buf, size_t off, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        assert_int_equal(buf[i], ((off + i) * 7 + 3) & 0xff);
    }
}

static void test_read_all_one_byte(void **state)
{
    g_autoptr(QIOChannel) ioc = scripted_new(100);
    g_autoptr(GError) err = NULL;
    guint8 buf[100];

    spriv(ioc)->rmax = 1;
    assert_int_equal(qio_channel_read_all(ioc, buf, sizeof(buf), &err), 0);
    assert_null(err);
    check_pattern(buf, 0, sizeof(buf));
    assert_int_equal(spriv(ioc)->rcalls, 100);
    assert_int_equal(spriv(ioc)->rzero, 0);
}

static void test_read_all_eof_full(void **state)
{
    g_autoptr(QIOChannel) ioc = scripted_new(10);
    g_autoptr(GError) err = NULL;
    guint8 buf[10];

    spriv(ioc)->rmax = 3;
    assert_int_equal(qio_channel_read_all_eof(ioc, buf, sizeof(buf), &err), 1);
    assert_null(err);
    check_pattern(buf, 0, sizeof(buf));
    /* 3 + 3 + 3 + 1 and no more: the helper must not read past the end. */
    assert_int_equal(spriv(ioc)->rcalls, 4);
}

/*
 * Uneven iovecs with empty elements at the front, middle and end, read
 * with every per-call limit that straddles their boundaries.
 */
static void test_readv_all_empty_elements(void **state)
{
    static const size_t lens[] = { 0, 3, 0, 0, 5, 1, 0, 7, 0 };
    enum { NIOV = G_N_ELEMENTS(lens) };

    for (size_t rmax = 0; rmax <= 17; rmax++) {
        g_autoptr(QIOChannel) ioc = scripted_new(16);
        g_autoptr(GError) err = NULL;
        guint8 buf[16 + NIOV];
        struct iovec iov[NIOV];
        size_t off = 0, pos = 0;

        spriv(ioc)->rmax = rmax;
        memset(buf, 0xee, sizeof(buf));
        /* A guard byte after each element catches overruns. */
        for (size_t i = 0; i < NIOV; i++) {
            iov[i].iov_base = buf + off;
            iov[i].iov_len = lens[i];
            off += lens[i] + 1;
        }
        assert_int_equal(qio_channel_readv_all(ioc, iov, NIOV, &err), 0);
        assert_null(err);
        off = 0;
        for (size_t i = 0; i < NIOV; i++) {
            check_pattern(buf + off, pos, lens[i]);
            assert_int_equal(buf[off + lens[i]], 0xee);
            pos += lens[i];
            off += lens[i] + 1;
            /* The caller's array is left as it was. */
            assert_int_equal(iov[i].iov_len, lens[i]);
        }
        assert_int_equal(spriv(ioc)->rpos, 16);
        assert_int_equal(spriv(ioc)->rzero, 0);
    }
}

static void test_readv_full_all_plain(void **state)
{
    g_autoptr(QIOChannel) ioc = scripted_new(8);
    g_autoptr(GError) err = NULL;
    guint8 a[3], b[5];
    struct iovec iov[] = {
        { .iov_base = a, .iov_len = sizeof(a) },
        { .iov_base = b, .iov_len = sizeof(b) },
    };

    spriv(ioc)->rmax = 2;
    assert_int_equal(qio_channel_readv_full_all(ioc, iov, 2, NULL, NULL, &err),
                     0);
    assert_null(err);
    check_pattern(a, 0, 3);
    check_pattern(b, 3, 5);
}

static void test_readv_zero_length(void **state)
{
    g_autoptr(QIOChannel) ioc = scripted_new(4);
    g_autoptr(GError) err = NULL;
    guint8 buf[1];
    struct iovec empty[] = {
        { .iov_base = buf, .iov_len = 0 },
        { .iov_base = NULL, .iov_len = 0 },
        { .iov_base = buf, .iov_len = 0 },
    };

    /* Nothing to do: success without a single call to the subclass. */
    assert_int_equal(qio_channel_readv_all(ioc, NULL, 0, &err), 0);
    assert_int_equal(qio_channel_readv_all_eof(ioc, NULL, 0, &err), 1);
    assert_int_equal(qio_channel_readv_all(ioc, empty, 3, &err), 0);
    assert_int_equal(qio_channel_readv_all_eof(ioc, empty, 3, &err), 1);
    assert_int_equal(qio_channel_read_all(ioc, buf, 0, &err), 0);
    assert_int_equal(qio_channel_read_all_eof(ioc, buf, 0, &err), 1);
    assert_null(err);
    assert_int_equal(spriv(ioc)->rcalls, 0);

    /* Even on a channel at EOF. */
    g_autoptr(QIOChannel) eof = scripted_new(0);
    assert_int_equal(qio_channel_read_all(eof, buf, 0, &err), 0);
    assert_null(err);
    assert_int_equal(spriv(eof)->rcalls, 0);
}

static void test_write_all_one_byte(void **state)
{
    g_autoptr(QIOChannel) ioc = scripted_new(0);
    g_autoptr(GError) err = NULL;
    guint8 buf[300];

    qio_test_fill(buf, sizeof(buf), 7);
    spriv(ioc)->wmax = 1;
    assert_int_equal(qio_channel_write_all(ioc, buf, sizeof(buf), &err), 0);
    assert_null(err);
    assert_int_equal(spriv(ioc)->wdata->len, sizeof(buf));
    assert_memory_equal(spriv(ioc)->wdata->data, buf, sizeof(buf));
    assert_int_equal(spriv(ioc)->wcalls, sizeof(buf));
    assert_int_equal(spriv(ioc)->wzero_calls, 0);
}

static void test_writev_all_empty_elements(void **state)
{
    static const size_t lens[] = { 0, 4, 0, 1, 0, 0, 9, 2, 0 };
    enum { NIOV = G_N_ELEMENTS(lens) };
    guint8 src[16];

    qio_test_fill(src, sizeof(src), 3);
    for (size_t wmax = 0; wmax <= 17; wmax++) {
        g_autoptr(QIOChannel) ioc = scripted_new(0);
        g_autoptr(GError) err = NULL;
        struct iovec iov[NIOV];
        size_t off = 0;

        for (size_t i = 0; i < NIOV; i++) {
            iov[i].iov_base = src + off;
            iov[i].iov_len = lens[i];
            off += lens[i];
        }
        spriv(ioc)->wmax = wmax;
        assert_int_equal(qio_channel_writev_all(ioc, iov, NIOV, &err), 0);
        assert_null(err);
        assert_int_equal(spriv(ioc)->wdata->len, sizeof(src));
        assert_memory_equal(spriv(ioc)->wdata->data, src, sizeof(src));
        assert_int_equal(spriv(ioc)->wzero_calls, 0);
        for (size_t i = 0; i < NIOV; i++) {
            assert_int_equal(iov[i].iov_len, lens[i]);
        }
    }
}

static void test_writev_zero_length(void **state)
{
    g_autoptr(QIOChannel) ioc = scripted_new(0);
    g_autoptr(GError) err = NULL;
    struct iovec empty[] = {
        { .iov_base = NULL, .iov_len = 0 },
        { .iov_base = NULL, .iov_len = 0 },
    };

    assert_int_equal(qio_channel_writev_all(ioc, NULL, 0, &err), 0);
    assert_int_equal(qio_channel_writev_all(ioc, empty, 2, &err), 0);
    assert_int_equal(qio_channel_write_all(ioc, "", 0, &err), 0);
    assert_int_equal(qio_channel_writev_full_all(ioc, empty, 2, NULL, 0, &err),
                     0);
    assert_null(err);
    assert_int_equal(spriv(ioc)->wcalls, 0);
}

/* A channel that keeps accepting nothing must not hang write_all. */
static void test_write_all_no_progress(void **state)
{
    g_autoptr(QIOChannel) ioc = scripted_new(0);
    g_autoptr(GError) err = NULL;

    spriv(ioc)->wzero = true;
    assert_int_equal(qio_channel_write_all(ioc, "abc", 3, &err), -1);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_FAILED));
    assert_int_equal(spriv(ioc)->wcalls, 1);
}

/* ---------------------------------------------------------------------- */
/* Would-block                                                            */

static void test_read_single_would_block(void **state)
{
    g_autoptr(QIOChannel) ioc = scripted_new(4);
    g_autoptr(GError) err = NULL;
    guint8 buf[4];

    qio_channel_set_blocking(ioc, false, NULL);
    spriv(ioc)->rsched = "B";
    assert_int_equal(qio_channel_read(ioc, buf, sizeof(buf), &err),
                     QIO_CHANNEL_ERR_BLOCK);
    assert_null(err);
    /* And errp may be NULL too. */
    spriv(ioc)->rsched = "BB";
    assert_int_equal(qio_channel_read(ioc, buf, sizeof(buf), NULL),
                     QIO_CHANNEL_ERR_BLOCK);
    assert_int_equal(qio_channel_read(ioc, buf, sizeof(buf), &err), 4);
    assert_null(err);
    assert_int_equal(spriv(ioc)->watches, 0);
}

/*
 * Every would-block in the helpers costs exactly one wait; the eventfd is
 * kept readable and writable so each wait returns at once.
 */
static void test_all_would_block_scheduled(void **state)
{
    static const char sched[] = "BB.B..B.BBB.";
    g_autoptr(QIOChannel) ioc = scripted_new(7);
    g_autoptr(GError) err = NULL;
    guint8 buf[7];
    guint8 out[5] = { 1, 2, 3, 4, 5 };
    guint blocks = 0;

    for (const char *p = sched; *p; p++) {
        blocks += *p == 'B';
    }
    qio_channel_set_blocking(ioc, false, NULL);
    scripted_signal(ioc);
    spriv(ioc)->rmax = 1;
    spriv(ioc)->rsched = sched;
    assert_int_equal(qio_channel_read_all(ioc, buf, sizeof(buf), &err), 0);
    assert_null(err);
    check_pattern(buf, 0, sizeof(buf));
    assert_int_equal(spriv(ioc)->watches, blocks);
    assert_int_equal(spriv(ioc)->rcalls, blocks + 7);

    spriv(ioc)->watches = 0;
    spriv(ioc)->wmax = 1;
    spriv(ioc)->wsched = sched;
    assert_int_equal(qio_channel_write_all(ioc, out, sizeof(out), &err), 0);
    assert_null(err);
    assert_memory_equal(spriv(ioc)->wdata->data, out, sizeof(out));
    assert_int_equal(spriv(ioc)->watches, blocks);
}

static gpointer open_gate_later(gpointer opaque)
{
    QIOChannel *ioc = opaque;

    /* Open only once the reader has found it shut (bounded by alarm()). */
    while (!g_atomic_int_get(&spriv(ioc)->gate_hit)) {
        g_usleep(1000);
    }
    g_usleep(50 * 1000);
    g_atomic_int_set(&spriv(ioc)->gate_open, 1);
    scripted_signal(ioc);
    return NULL;
}

/*
 * The data arrives from another thread 50 ms later: the helper has to
 * sleep on the fd, not spin on the subclass.
 */
static void test_read_all_waits(void **state)
{
    g_autoptr(QIOChannel) ioc = scripted_new(4);
    g_autoptr(GError) err = NULL;
    guint8 buf[4];
    GThread *th;
    gint64 start = g_get_monotonic_time();

    qio_channel_set_blocking(ioc, false, NULL);
    spriv(ioc)->gated = true;
    th = g_thread_new("gate", open_gate_later, ioc);
    assert_int_equal(qio_channel_read_all(ioc, buf, sizeof(buf), &err), 0);
    g_thread_join(th);
    assert_null(err);
    check_pattern(buf, 0, sizeof(buf));
    assert_true(g_get_monotonic_time() - start >= 40 * 1000);
    assert_int_equal(spriv(ioc)->rcalls, 2);
    assert_int_equal(spriv(ioc)->watches, 1);
}

/* ---------------------------------------------------------------------- */
/* EOF                                                                    */

static void test_eof_before_any_byte(void **state)
{
    g_autoptr(QIOChannel) ioc = scripted_new(0);
    g_autoptr(GError) err = NULL;
    guint8 buf[8];

    assert_int_equal(qio_channel_read_all_eof(ioc, buf, sizeof(buf), &err), 0);
    assert_null(err);
    assert_int_equal(qio_channel_read_all(ioc, buf, sizeof(buf), &err), -1);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_UNEXPECTED_EOF));
}

static void test_eof_after_partial(void **state)
{
    g_autoptr(QIOChannel) ioc = scripted_new(3);
    g_autoptr(QIOChannel) ioc2 = scripted_new(3);
    g_autoptr(GError) err = NULL;
    guint8 buf[8];

    spriv(ioc)->rmax = 1;
    assert_int_equal(qio_channel_read_all_eof(ioc, buf, sizeof(buf), &err), -1);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_UNEXPECTED_EOF));
    assert_non_null(strstr(err->message, "QIOChannelScripted"));
    check_pattern(buf, 0, 3);
    g_clear_error(&err);

    assert_int_equal(qio_channel_read_all(ioc2, buf, sizeof(buf), &err), -1);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_UNEXPECTED_EOF));
}

/* EOF seen after a would-block is still EOF before the first byte. */
static void test_eof_after_block(void **state)
{
    g_autoptr(QIOChannel) ioc = scripted_new(0);
    g_autoptr(GError) err = NULL;
    guint8 buf[8];

    qio_channel_set_blocking(ioc, false, NULL);
    scripted_signal(ioc);
    spriv(ioc)->rsched = "BB";
    assert_int_equal(qio_channel_read_all_eof(ioc, buf, sizeof(buf), &err), 0);
    assert_null(err);
    assert_int_equal(spriv(ioc)->rcalls, 3);
}

/* ---------------------------------------------------------------------- */
/* Errors from the subclass                                               */

static void test_error_propagation(void **state)
{
    static const struct {
        int errnum;
        QIOErrorCode code;
    } cases[] = {
        { ECONNRESET, QIO_ERROR_CONNECTION_RESET },
        { EPIPE, QIO_ERROR_BROKEN_PIPE },
        { EACCES, QIO_ERROR_PERMISSION_DENIED },
        { EIO, QIO_ERROR_FAILED },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(QIOChannel) ioc = scripted_new(10);
        g_autoptr(GError) err = NULL;
        guint8 buf[10];

        qio_channel_set_name(ioc, "peer-x");
        spriv(ioc)->rmax = 1;
        spriv(ioc)->rerrno = cases[i].errnum;
        spriv(ioc)->rfail_at = 3;
        assert_int_equal(qio_channel_read_all(ioc, buf, sizeof(buf), &err), -1);
        assert_true(g_error_matches(err, QIO_ERROR, cases[i].code));
        assert_non_null(strstr(err->message, "peer-x"));
        check_pattern(buf, 0, 3);
        g_clear_error(&err);

        /* Same for read_all_eof, at the very first call. */
        spriv(ioc)->rfail_at = 0;
        assert_int_equal(qio_channel_read_all_eof(ioc, buf, 1, &err), -1);
        assert_true(g_error_matches(err, QIO_ERROR, cases[i].code));
        g_clear_error(&err);

        spriv(ioc)->wmax = 2;
        spriv(ioc)->werrno = cases[i].errnum;
        spriv(ioc)->wfail_at = 4;
        assert_int_equal(qio_channel_write_all(ioc, "abcdefgh", 8, &err), -1);
        assert_true(g_error_matches(err, QIO_ERROR, cases[i].code));
        assert_int_equal(spriv(ioc)->wdata->len, 4);
    }
}

/* ---------------------------------------------------------------------- */
/* Descriptor passing                                                     */

static void test_fds_accumulated(void **state)
{
    g_autoptr(QIOChannel) ioc = scripted_new(6);
    g_autoptr(GError) err = NULL;
    g_autofree int *fds = NULL;
    size_t nfds = 99;
    guint8 buf[6];
    int mine[3];

    for (int i = 0; i < 3; i++) {
        mine[i] = open_devnull();
    }
    qio_channel_set_feature(ioc, QIO_CHANNEL_FEATURE_FD_PASS);
    qio_channel_set_blocking(ioc, false, NULL);
    scripted_signal(ioc);
    spriv(ioc)->rfds = fds_copy(mine, G_N_ELEMENTS(mine));
    spriv(ioc)->nrfds = 3;
    spriv(ioc)->rmax = 1;
    spriv(ioc)->rsched = ".B.B";
    struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
    assert_int_equal(
        qio_channel_readv_full_all(ioc, &iov, 1, &fds, &nfds, &err), 0);
    assert_null(err);
    check_pattern(buf, 0, sizeof(buf));
    assert_int_equal(nfds, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(fds[i], mine[i]);
        assert_true(fd_is_open(fds[i]));
        close(fds[i]);
    }
}

static void check_fds_closed_on(int how)
{
    g_autoptr(QIOChannel) ioc = scripted_new(6);
    g_autoptr(GError) err = NULL;
    static int dummy;
    int *fds = &dummy; /* must be reset by the helper */
    size_t nfds = 99;
    guint8 buf[6];
    int mine[2] = { open_devnull(), open_devnull() };
    struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
    int ret;

    qio_channel_set_feature(ioc, QIO_CHANNEL_FEATURE_FD_PASS);
    spriv(ioc)->rfds = fds_copy(mine, G_N_ELEMENTS(mine));
    spriv(ioc)->nrfds = 2;
    spriv(ioc)->rmax = 1;
    if (how == 0) {
        /* EOF after two bytes and two descriptors. */
        spriv(ioc)->rlen = 2;
        ret = qio_channel_readv_full_all_eof(ioc, &iov, 1, &fds, &nfds, &err);
        assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_UNEXPECTED_EOF));
    } else {
        /* A subclass error after two bytes and two descriptors. */
        spriv(ioc)->rerrno = ECONNRESET;
        spriv(ioc)->rfail_at = 2;
        ret = qio_channel_readv_full_all(ioc, &iov, 1, &fds, &nfds, &err);
        assert_true(
            g_error_matches(err, QIO_ERROR, QIO_ERROR_CONNECTION_RESET));
    }
    assert_int_equal(ret, -1);
    assert_null(fds);
    assert_int_equal(nfds, 0);
    assert_int_equal(spriv(ioc)->rfds_pos, 2);
    assert_false(fd_is_open(mine[0]));
    assert_false(fd_is_open(mine[1]));
}

static void test_fds_closed_on_eof(void **state)
{
    check_fds_closed_on(0);
}

static void test_fds_closed_on_error(void **state)
{
    check_fds_closed_on(1);
}

static void test_fds_eof_before_any_byte(void **state)
{
    g_autoptr(QIOChannel) ioc = scripted_new(0);
    g_autoptr(GError) err = NULL;
    int *fds = NULL;
    size_t nfds = 5;
    guint8 buf[4];
    struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };

    qio_channel_set_feature(ioc, QIO_CHANNEL_FEATURE_FD_PASS);
    assert_int_equal(
        qio_channel_readv_full_all_eof(ioc, &iov, 1, &fds, &nfds, &err), 0);
    assert_null(err);
    assert_null(fds);
    assert_int_equal(nfds, 0);
}

static void test_fds_write(void **state)
{
    g_autoptr(QIOChannel) ioc = scripted_new(0);
    g_autoptr(GError) err = NULL;
    int mine[2] = { open_devnull(), open_devnull() };
    struct iovec iov = { .iov_base = (void *)"wxyz", .iov_len = 4 };

    qio_channel_set_feature(ioc, QIO_CHANNEL_FEATURE_FD_PASS);
    qio_channel_set_blocking(ioc, false, NULL);
    spriv(ioc)->wmax = 1;
    spriv(ioc)->wsched = "B.B";
    assert_int_equal(qio_channel_writev_full_all(ioc, &iov, 1, mine, 2, &err),
                     0);
    assert_null(err);
    assert_int_equal(spriv(ioc)->wdata->len, 4);
    /* Sent once, with the first byte accepted, and never again. */
    assert_int_equal(spriv(ioc)->wfd_calls, 1);
    assert_int_equal(spriv(ioc)->wfds->len, 2);
    assert_int_equal(g_array_index(spriv(ioc)->wfds, int, 0), mine[0]);
    assert_int_equal(g_array_index(spriv(ioc)->wfds, int, 1), mine[1]);
    /* The caller still owns them. */
    assert_true(fd_is_open(mine[0]));
    assert_true(fd_is_open(mine[1]));
    close(mine[0]);
    close(mine[1]);
}

static void test_fds_not_supported(void **state)
{
    g_autoptr(QIOChannel) ioc = scripted_new(4);
    g_autoptr(GError) err = NULL;
    int *fds = NULL;
    size_t nfds = 0;
    guint8 buf[4];
    int mine = open_devnull();
    struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };

    assert_false(qio_channel_has_feature(ioc, QIO_CHANNEL_FEATURE_FD_PASS));
    assert_int_equal(qio_channel_readv_full(ioc, &iov, 1, &fds, &nfds, 0, &err),
                     -1);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_NOT_SUPPORTED));
    g_clear_error(&err);
    assert_int_equal(
        qio_channel_readv_full_all(ioc, &iov, 1, &fds, &nfds, &err), -1);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_NOT_SUPPORTED));
    g_clear_error(&err);
    assert_int_equal(
        qio_channel_readv_full_all_eof(ioc, &iov, 1, &fds, &nfds, &err), -1);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_NOT_SUPPORTED));
    g_clear_error(&err);
    /* Refused even when there is nothing to read. */
    assert_int_equal(
        qio_channel_readv_full_all(ioc, NULL, 0, &fds, &nfds, &err), -1);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_NOT_SUPPORTED));
    g_clear_error(&err);
    assert_int_equal(spriv(ioc)->rcalls, 0);

    assert_int_equal(qio_channel_writev_full(ioc, &iov, 1, &mine, 1, 0, &err),
                     -1);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_NOT_SUPPORTED));
    g_clear_error(&err);
    assert_int_equal(qio_channel_writev_full_all(ioc, &iov, 1, &mine, 1, &err),
                     -1);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_NOT_SUPPORTED));
    g_clear_error(&err);
    assert_int_equal(qio_channel_writev_full_all(ioc, NULL, 0, &mine, 1, &err),
                     -1);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_NOT_SUPPORTED));
    assert_int_equal(spriv(ioc)->wcalls, 0);
    assert_true(fd_is_open(mine));
    close(mine);
}

/* ---------------------------------------------------------------------- */
/* Features, names, optional methods                                      */

static void test_features_and_name(void **state)
{
    g_autoptr(QIOChannel) ioc = scripted_new(0);

    assert_string_equal(qio_channel_get_name(ioc), "QIOChannelScripted");
    qio_channel_set_name(ioc, "nbd-client 127.0.0.1:10809");
    assert_string_equal(qio_channel_get_name(ioc),
                        "nbd-client 127.0.0.1:10809");
    qio_channel_set_name(ioc, "second");
    assert_string_equal(qio_channel_get_name(ioc), "second");
    qio_channel_set_name(ioc, NULL);
    assert_string_equal(qio_channel_get_name(ioc), "QIOChannelScripted");

    assert_false(qio_channel_has_feature(ioc, QIO_CHANNEL_FEATURE_FD_PASS));
    assert_false(qio_channel_has_feature(ioc, QIO_CHANNEL_FEATURE_SHUTDOWN));
    qio_channel_set_feature(ioc, QIO_CHANNEL_FEATURE_SHUTDOWN);
    qio_channel_set_feature(ioc, QIO_CHANNEL_FEATURE_LISTEN);
    assert_true(qio_channel_has_feature(ioc, QIO_CHANNEL_FEATURE_SHUTDOWN));
    assert_true(qio_channel_has_feature(ioc, QIO_CHANNEL_FEATURE_LISTEN));
    assert_false(qio_channel_has_feature(ioc, QIO_CHANNEL_FEATURE_FD_PASS));
    assert_false(qio_channel_has_feature(ioc, QIO_CHANNEL_FEATURE_SEEKABLE));
}

static void test_optional_methods_missing(void **state)
{
    g_autoptr(QIOChannel) ioc = scripted_new(0);
    g_autoptr(GError) err = NULL;

    /* Missing even though the feature is (wrongly) claimed. */
    qio_channel_set_feature(ioc, QIO_CHANNEL_FEATURE_SHUTDOWN);
    qio_channel_set_feature(ioc, QIO_CHANNEL_FEATURE_SEEKABLE);
    assert_int_equal(qio_channel_shutdown(ioc, QIO_CHANNEL_SHUTDOWN_BOTH, &err),
                     -1);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_NOT_SUPPORTED));
    g_clear_error(&err);
    assert_int_equal(qio_channel_io_seek(ioc, 0, SEEK_SET, &err), -1);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_NOT_SUPPORTED));
    g_clear_error(&err);
    qio_channel_set_cork(ioc, true);
    qio_channel_set_delay(ioc, false);
    assert_int_equal(qio_channel_close(ioc, &err), 0);
    assert_true(spriv(ioc)->closed);
    assert_null(err);
}

static void test_optional_methods_present(void **state)
{
    g_autoptr(QIOChannel) ioc =
        g_object_new(QIO_TYPE_CHANNEL_SCRIPTED_FULL, NULL);
    QIOChannelScriptedFull *f = QIO_CHANNEL_SCRIPTED_FULL(ioc);
    g_autoptr(GError) err = NULL;

    assert_string_equal(qio_channel_get_name(ioc), "QIOChannelScriptedFull");
    /* Implemented but the instance lacks the feature: still refused. */
    assert_int_equal(qio_channel_shutdown(ioc, QIO_CHANNEL_SHUTDOWN_READ, &err),
                     -1);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_NOT_SUPPORTED));
    g_clear_error(&err);
    assert_int_equal(qio_channel_io_seek(ioc, 5, SEEK_SET, &err), -1);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_NOT_SUPPORTED));
    g_clear_error(&err);
    assert_int_equal(f->shutdowns + f->seeks, 0);

    qio_channel_set_feature(ioc, QIO_CHANNEL_FEATURE_SHUTDOWN);
    qio_channel_set_feature(ioc, QIO_CHANNEL_FEATURE_SEEKABLE);
    assert_int_equal(
        qio_channel_shutdown(ioc, QIO_CHANNEL_SHUTDOWN_WRITE, &err), 0);
    assert_int_equal(f->shutdowns, 1);
    assert_int_equal(f->last_how, QIO_CHANNEL_SHUTDOWN_WRITE);
    assert_int_equal(qio_channel_io_seek(ioc, 42, SEEK_SET, &err), 42);
    assert_int_equal(f->seeks, 1);
    qio_channel_set_cork(ioc, true);
    qio_channel_set_delay(ioc, true);
    assert_int_equal(f->corks, 1);
    assert_int_equal(f->delays, 1);
    assert_null(err);
}

/* ---------------------------------------------------------------------- */
/* Watches                                                                */

static void test_watch_fd_readable(void **state)
{
    g_autoptr(QIOChannel) ioc = scripted_new(0);
    g_autoptr(GMainContext) ctx = g_main_context_new();
    WatchRecord rec = { .ret = G_SOURCE_REMOVE };
    GSource *src = attach_watch(ioc, G_IO_IN, &rec, ctx);

    /* Quiet at first. */
    assert_false(run_until(ctx, &rec.fired, 50, NULL));
    scripted_signal(ioc);
    assert_true(run_until(ctx, &rec.fired, 5000, NULL));
    assert_int_equal(rec.cond, G_IO_IN);
    assert_true(g_source_is_destroyed(src));
    assert_int_equal(rec.notified, 1);
    g_source_unref(src);
}

/*
 * The TLS/websocket case: the fd stays quiet but the channel holds
 * decrypted bytes.  The watch must fire, and stop firing once they have
 * been read.
 */
static void test_watch_pending_only(void **state)
{
    g_autoptr(QIOChannel) ioc = scripted_new(64);
    g_autoptr(GMainContext) ctx = g_main_context_new();
    WatchRecord rec = { .ret = G_SOURCE_CONTINUE, .consume = true };
    GSource *src;

    spriv(ioc)->pending = 10;
    spriv(ioc)->rmax = 10;
    src = attach_watch(ioc, G_IO_IN, &rec, ctx);
    assert_true(run_until(ctx, &rec.fired, 5000, NULL));
    assert_int_equal(rec.cond, G_IO_IN);
    assert_int_equal(spriv(ioc)->pending, 0);
    assert_true(spriv(ioc)->pending_checks > 0);

    /* Drained: no more callbacks although the source is still there. */
    rec.fired = false;
    assert_false(run_until(ctx, &rec.fired, 100, NULL));
    assert_int_equal(rec.calls, 1);
    assert_false(g_source_is_destroyed(src));
    g_source_destroy(src);
    g_source_unref(src);
    assert_int_equal(rec.notified, 1);
}

/* A write watch does not care about buffered read data. */
static void test_watch_pending_ignored_for_out(void **state)
{
    g_autoptr(QIOChannel) ioc = scripted_new(0);
    g_autoptr(GMainContext) ctx = g_main_context_new();
    WatchRecord rec = { .ret = G_SOURCE_REMOVE };
    int p[2];
    GSource *src;

    make_pipe(p);
    fill_pipe(p[1]);
    spriv(ioc)->watch_rfd = p[1];
    spriv(ioc)->watch_wfd = p[1];
    spriv(ioc)->pending = 3;
    src = attach_watch(ioc, G_IO_OUT, &rec, ctx);
    assert_false(run_until(ctx, &rec.fired, 100, NULL));
    g_source_destroy(src);
    g_source_unref(src);
    close(p[0]);
    close(p[1]);
}

static void test_watch_quiet(void **state)
{
    g_autoptr(QIOChannel) ioc = scripted_new(0);
    g_autoptr(GMainContext) ctx = g_main_context_new();
    WatchRecord rec = { .ret = G_SOURCE_CONTINUE };
    GSource *src = attach_watch(ioc, G_IO_IN, &rec, ctx);
    guint iterations = 0;

    assert_false(run_until(ctx, &rec.fired, 200, &iterations));
    assert_int_equal(rec.calls, 0);
    /* Sleeping in poll, not spinning. */
    assert_true(iterations < 10);
    g_source_destroy(src);
    g_source_unref(src);
}

static void test_watch_pair(void **state)
{
    g_autoptr(QIOChannel) ioc = scripted_new(0);
    g_autoptr(GMainContext) ctx = g_main_context_new();
    int rp[2], wp[2];
    GSource *src;

    make_pipe(rp);
    make_pipe(wp);
    spriv(ioc)->watch_rfd = rp[0];
    spriv(ioc)->watch_wfd = wp[1];

    /* Write side is writable, read side quiet: G_IO_OUT only. */
    WatchRecord out = { .ret = G_SOURCE_REMOVE };
    src = attach_watch(ioc, G_IO_OUT, &out, ctx);
    assert_true(run_until(ctx, &out.fired, 5000, NULL));
    assert_int_equal(out.cond, G_IO_OUT);
    g_source_unref(src);

    WatchRecord both = { .ret = G_SOURCE_REMOVE };
    src = attach_watch(ioc, G_IO_IN | G_IO_OUT, &both, ctx);
    assert_true(run_until(ctx, &both.fired, 5000, NULL));
    assert_int_equal(both.cond, G_IO_OUT);
    g_source_unref(src);

    /* A writable write fd does not make the channel readable. */
    WatchRecord in = { .ret = G_SOURCE_REMOVE };
    src = attach_watch(ioc, G_IO_IN, &in, ctx);
    assert_false(run_until(ctx, &in.fired, 100, NULL));
    assert_int_equal(write(rp[1], "x", 1), 1);
    assert_true(run_until(ctx, &in.fired, 5000, NULL));
    assert_int_equal(in.cond, G_IO_IN);
    g_source_unref(src);

    for (int i = 0; i < 2; i++) {
        close(rp[i]);
        close(wp[i]);
    }
}

/*
 * A hang-up on one side of a pair must not wake a watch waiting on the
 * other side: the waiter would retry, block again and spin.
 */
static void test_watch_pair_other_side_hup(void **state)
{
    g_autoptr(QIOChannel) ioc = scripted_new(0);
    g_autoptr(GMainContext) ctx = g_main_context_new();
    int rp[2], wp[2];
    guint iterations = 0;
    GSource *src;

    make_pipe(rp);
    make_pipe(wp);
    spriv(ioc)->watch_rfd = rp[0];
    spriv(ioc)->watch_wfd = wp[1];

    /* Read side hung up, write side full: a writer keeps waiting. */
    close(rp[1]);
    fill_pipe(wp[1]);
    WatchRecord out = { .ret = G_SOURCE_CONTINUE };
    src = attach_watch(ioc, G_IO_OUT, &out, ctx);
    assert_false(run_until(ctx, &out.fired, 150, &iterations));
    assert_true(iterations < 10);
    g_source_destroy(src);
    g_source_unref(src);

    /* Write side broken (reader gone), read side quiet. */
    close(wp[0]);
    int rp2[2];
    make_pipe(rp2);
    spriv(ioc)->watch_rfd = rp2[0];
    WatchRecord in = { .ret = G_SOURCE_CONTINUE };
    iterations = 0;
    src = attach_watch(ioc, G_IO_IN, &in, ctx);
    assert_false(run_until(ctx, &in.fired, 150, &iterations));
    assert_true(iterations < 10);
    g_source_destroy(src);
    g_source_unref(src);

    /* But a hang-up on the side asked about is reported. */
    WatchRecord hup = { .ret = G_SOURCE_REMOVE };
    src = attach_watch(ioc, G_IO_OUT, &hup, ctx);
    assert_true(run_until(ctx, &hup.fired, 5000, NULL));
    assert_true(hup.cond & G_IO_ERR);
    g_source_unref(src);

    close(rp[0]);
    close(rp2[0]);
    close(rp2[1]);
    close(wp[1]);
}

static void test_watch_hup(void **state)
{
    g_autoptr(QIOChannel) ioc = scripted_new(0);
    g_autoptr(GMainContext) ctx = g_main_context_new();
    WatchRecord rec = { .ret = G_SOURCE_REMOVE };
    int p[2];
    GSource *src;

    make_pipe(p);
    spriv(ioc)->watch_rfd = p[0];
    spriv(ioc)->watch_wfd = p[0];
    src = attach_watch(ioc, G_IO_IN, &rec, ctx);
    assert_false(run_until(ctx, &rec.fired, 50, NULL));
    close(p[1]);
    assert_true(run_until(ctx, &rec.fired, 5000, NULL));
    assert_true(rec.cond & G_IO_HUP);
    g_source_unref(src);
    close(p[0]);
}

static void test_watch_remove_not_called_again(void **state)
{
    g_autoptr(QIOChannel) ioc = scripted_new(0);
    g_autoptr(GMainContext) ctx = g_main_context_new();
    WatchRecord rec = { .ret = G_SOURCE_REMOVE };
    bool never = false;
    GSource *src;

    scripted_signal(ioc);
    spriv(ioc)->pending = 1;
    src = attach_watch(ioc, G_IO_IN, &rec, ctx);
    assert_true(run_until(ctx, &rec.fired, 5000, NULL));
    /* Still readable and still pending, yet no second call. */
    run_until(ctx, &never, 100, NULL);
    assert_int_equal(rec.calls, 1);
    assert_int_equal(rec.notified, 1);
    assert_true(g_source_is_destroyed(src));
    g_source_unref(src);
}

static void test_watch_other_context(void **state)
{
    QIOChannel *ioc = scripted_new(0);
    g_autoptr(GMainContext) ctx = g_main_context_new();
    WatchRecord rec = { .ret = G_SOURCE_REMOVE };
    guint id;

    scripted_signal(ioc);
    id = qio_channel_add_watch_full(ioc, G_IO_IN, watch_cb, &rec, watch_notify,
                                    ctx);
    assert_true(id > 0);
    assert_non_null(g_main_context_find_source_by_id(ctx, id));
    /* The default context knows nothing of it. */
    for (int i = 0; i < 5; i++) {
        g_main_context_iteration(NULL, FALSE);
    }
    assert_int_equal(rec.calls, 0);
    /* The watch holds the channel, so the caller may drop it. */
    g_object_unref(ioc);
    assert_true(run_until(ctx, &rec.fired, 5000, NULL));
    assert_int_equal(rec.calls, 1);
    assert_int_equal(rec.notified, 1);
    assert_null(g_main_context_find_source_by_id(ctx, id));
}

static void test_watch_default_context(void **state)
{
    g_autoptr(QIOChannel) ioc = scripted_new(0);
    WatchRecord rec = { .ret = G_SOURCE_REMOVE };
    guint id;

    scripted_signal(ioc);
    id = qio_channel_add_watch(ioc, G_IO_IN, watch_cb, &rec, watch_notify);
    assert_true(id > 0);
    assert_true(run_until(NULL, &rec.fired, 5000, NULL));
    assert_int_equal(rec.calls, 1);
    assert_int_equal(rec.notified, 1);
}

static void test_watch_holds_channel(void **state)
{
    QIOChannel *ioc = scripted_new(0);
    g_autoptr(GMainContext) ctx = g_main_context_new();
    WatchRecord rec = { .ret = G_SOURCE_CONTINUE };
    int before = scripted_finalized;
    gpointer weak = ioc;
    GSource *src;

    g_object_add_weak_pointer(G_OBJECT(ioc), &weak);
    src = attach_watch(ioc, G_IO_IN, &rec, ctx);
    g_object_unref(ioc);
    assert_non_null(weak);
    assert_int_equal(scripted_finalized, before);

    /* Still usable from the callback. */
    scripted_signal(ioc);
    assert_true(run_until(ctx, &rec.fired, 5000, NULL));
    assert_non_null(weak);

    g_source_destroy(src);
    /* Our own reference on the source keeps it, and so the channel. */
    assert_non_null(weak);
    g_source_unref(src);
    assert_null(weak);
    assert_int_equal(scripted_finalized, before + 1);
}

/* ---------------------------------------------------------------------- */
/* qio_channel_wait                                                       */

typedef struct {
    QIOChannel *ioc;
    GIOCondition cond;
    GMutex lock;
    GCond done_cond;
    bool done;
} WaitJob;

static gpointer wait_thread(gpointer opaque)
{
    WaitJob *job = opaque;

    qio_channel_wait(job->ioc, job->cond);
    g_mutex_lock(&job->lock);
    job->done = true;
    g_cond_signal(&job->done_cond);
    g_mutex_unlock(&job->lock);
    return NULL;
}

/* Run qio_channel_wait on a thread; true if it returned within @ms. */
static bool wait_bounded(QIOChannel *ioc, GIOCondition cond, guint ms)
{
    WaitJob job = { .ioc = ioc, .cond = cond };
    gint64 deadline = g_get_monotonic_time() + ms * G_TIME_SPAN_MILLISECOND;
    GThread *th;
    bool done;

    g_mutex_init(&job.lock);
    g_cond_init(&job.done_cond);
    th = g_thread_new("wait", wait_thread, &job);
    g_mutex_lock(&job.lock);
    while (!job.done) {
        if (!g_cond_wait_until(&job.done_cond, &job.lock, deadline)) {
            break;
        }
    }
    done = job.done;
    g_mutex_unlock(&job.lock);
    if (!done) {
        /* Release the waiter so the thread can be joined. */
        scripted_signal(ioc);
    }
    g_thread_join(th);
    g_mutex_clear(&job.lock);
    g_cond_clear(&job.done_cond);
    return done;
}

static void test_wait_pending(void **state)
{
    g_autoptr(QIOChannel) ioc = scripted_new(0);

    spriv(ioc)->pending = 1;
    assert_true(wait_bounded(ioc, G_IO_IN, 5000));
}

/* Without io_input_pending: 1 while io_has_pending says so, else 0. */
static void test_input_pending_default(void **state)
{
    g_autoptr(QIOChannel) ioc = scripted_new(0);

    assert_int_equal(qio_channel_input_pending(ioc), 0);
    spriv(ioc)->pending = 1;
    assert_int_equal(qio_channel_input_pending(ioc), 1);
    spriv(ioc)->pending = 0;
    assert_int_equal(qio_channel_input_pending(ioc), 0);
}

/* A limited wait gives up in time, and succeeds at once when ready. */
static void test_wait_timeout(void **state)
{
    g_autoptr(QIOChannel) ioc = scripted_new(0);
    gint64 start = g_get_monotonic_time();

    assert_false(qio_channel_wait_timeout(ioc, G_IO_IN, 0));
    assert_false(qio_channel_wait_timeout(ioc, G_IO_IN, 100));
    assert_true(g_get_monotonic_time() - start >= 90 * 1000);
    assert_true(g_get_monotonic_time() - start < 5 * G_USEC_PER_SEC);

    spriv(ioc)->pending = 1;
    assert_true(qio_channel_wait_timeout(ioc, G_IO_IN, 0));
    spriv(ioc)->pending = 0;
    scripted_signal(ioc);
    start = g_get_monotonic_time();
    assert_true(qio_channel_wait_timeout(ioc, G_IO_IN, 5000));
    assert_true(g_get_monotonic_time() - start < 2 * G_USEC_PER_SEC);
    assert_true(qio_channel_wait_timeout(ioc, G_IO_IN, -1));
    scripted_drain(ioc);
}

static void test_wait_fd(void **state)
{
    g_autoptr(QIOChannel) ioc = scripted_new(0);

    /* An eventfd is writable at once. */
    assert_true(wait_bounded(ioc, G_IO_OUT, 5000));
    scripted_signal(ioc);
    assert_true(wait_bounded(ioc, G_IO_IN, 5000));
    scripted_drain(ioc);
}

static gpointer signal_later(gpointer opaque)
{
    g_usleep(50 * 1000);
    scripted_signal(opaque);
    return NULL;
}

static void test_wait_blocks_until_ready(void **state)
{
    g_autoptr(QIOChannel) ioc = scripted_new(0);
    gint64 start = g_get_monotonic_time();
    GThread *th = g_thread_new("signal", signal_later, ioc);

    assert_true(wait_bounded(ioc, G_IO_IN, 5000));
    assert_true(g_get_monotonic_time() - start >= 40 * 1000);
    g_thread_join(th);
}

/* ---------------------------------------------------------------------- */

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_all_one_byte),
        cmocka_unit_test(test_read_all_eof_full),
        cmocka_unit_test(test_readv_all_empty_elements),
        cmocka_unit_test(test_readv_full_all_plain),
        cmocka_unit_test(test_readv_zero_length),
        cmocka_unit_test(test_write_all_one_byte),
        cmocka_unit_test(test_writev_all_empty_elements),
        cmocka_unit_test(test_writev_zero_length),
        cmocka_unit_test(test_write_all_no_progress),
        cmocka_unit_test(test_read_single_would_block),
        cmocka_unit_test(test_all_would_block_scheduled),
        cmocka_unit_test(test_read_all_waits),
        cmocka_unit_test(test_eof_before_any_byte),
        cmocka_unit_test(test_eof_after_partial),
        cmocka_unit_test(test_eof_after_block),
        cmocka_unit_test(test_error_propagation),
        cmocka_unit_test(test_fds_accumulated),
        cmocka_unit_test(test_fds_closed_on_eof),
        cmocka_unit_test(test_fds_closed_on_error),
        cmocka_unit_test(test_fds_eof_before_any_byte),
        cmocka_unit_test(test_fds_write),
        cmocka_unit_test(test_fds_not_supported),
        cmocka_unit_test(test_features_and_name),
        cmocka_unit_test(test_optional_methods_missing),
        cmocka_unit_test(test_optional_methods_present),
        cmocka_unit_test(test_watch_fd_readable),
        cmocka_unit_test(test_watch_pending_only),
        cmocka_unit_test(test_watch_pending_ignored_for_out),
        cmocka_unit_test(test_watch_quiet),
        cmocka_unit_test(test_watch_pair),
        cmocka_unit_test(test_watch_pair_other_side_hup),
        cmocka_unit_test(test_watch_hup),
        cmocka_unit_test(test_watch_remove_not_called_again),
        cmocka_unit_test(test_watch_other_context),
        cmocka_unit_test(test_watch_default_context),
        cmocka_unit_test(test_watch_holds_channel),
        cmocka_unit_test(test_wait_pending),
        cmocka_unit_test(test_input_pending_default),
        cmocka_unit_test(test_wait_timeout),
        cmocka_unit_test(test_wait_fd),
        cmocka_unit_test(test_wait_blocks_until_ready),
    };

    /* A last resort: a hung test kills the program instead of the run. */
    alarm(30);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
