/*
 * NBD client with many requests in flight, against a fake server thread
 * on a socketpair.  The server collects the requests that are in flight
 * and answers them in reverse order, so every test exercises cookie
 * matching; scripted variants send what a broken or hostile server
 * would (unknown, duplicate or finished cookies, chunks outside the
 * request, oversized lengths, error offsets) and check that every
 * outstanding request fails and the connection is shut.  The copy
 * engine runs against the same server.  The server speaks compact
 * headers (refusing NBD_OPT_EXTENDED_HEADERS, as older servers do) or
 * extended ones, and the hostile scripts cover both.
 */
#include "nbd/client.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "io/channel-socket.h"
#include "nbd/copy.h"
#include "nbd/nbd-proto.h"
#include "nbd-wire-helpers.h"

#define PEER      "127.0.0.1:10809"
#define DISK_SIZE (4u * 1024 * 1024)
#define META_ID   7

/* ---- Wire helpers ------------------------------------------------------ */

static bool read_full(int fd, void *buf, size_t len)
{
    uint8_t *p = buf;

    while (len) {
        ssize_t n = read(fd, p, len);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return false;
        }
        p += n;
        len -= n;
    }
    return true;
}

static bool write_full(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;

    while (len) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return false;
        }
        p += n;
        len -= n;
    }
    return true;
}

/* ---- The fake server --------------------------------------------------- */

typedef struct FakeServer FakeServer;

/* Scripted behaviour after @n requests arrived; returns bytes to send. */
typedef void (*ScriptFunc)(FakeServer *s, const NBDRequest *reqs, size_t n,
                           GByteArray *out);

struct FakeServer {
    int fd;
    GThread *thread;
    uint8_t *disk;
    uint16_t eflags;
    bool with_block_size;
    uint32_t block_max;
    const char *description;
    unsigned batch;      /* most requests collected before replying */
    bool check_bound;    /* fail if more than @batch arrive at once */
    bool over_bound;     /* ... which happened */
    ScriptFunc script;   /* or NULL: serve the disk */
    size_t script_after; /* requests to collect before the script */
    unsigned max_seen;   /* most requests collected at once */
    unsigned requests;   /* requests served */
    bool saw_disc;
    bool saw_flush;
    bool extended;       /* ACK NBD_OPT_EXTENDED_HEADERS */
    bool client_compact; /* the client is told not to ask for them */
    bool saw_ext_option; /* the client asked for extended headers */
    bool bad_request;    /* a request in the wrong header style */
};

/* A chunk header in whichever style was agreed. */
static void put_reply(FakeServer *s, GByteArray *b, uint16_t flags,
                      uint16_t type, const NBDRequest *req, uint32_t len)
{
    if (s->extended) {
        put_xchunk(b, flags, type, req, len);
    } else {
        put_chunk(b, flags, type, req->cookie, len);
    }
}

/* Success without data: a simple reply only without extended headers. */
static void put_ok(FakeServer *s, GByteArray *b, const NBDRequest *req)
{
    if (s->extended) {
        put_xchunk(b, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_NONE, req, 0);
    } else {
        put_simple(b, 0, req->cookie);
    }
}

static void build_handshake(FakeServer *s, GByteArray *b)
{
    g_autoptr(GByteArray) p = g_byte_array_new();

    put64(b, NBD_INIT_MAGIC);
    put64(b, NBD_OPTS_MAGIC);
    put16(b, NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES);
    if (s->extended) {
        put_rep(b, NBD_OPT_EXTENDED_HEADERS, NBD_REP_ACK, NULL, 0);
    } else {
        if (!s->client_compact) {
            put_rep(b, NBD_OPT_EXTENDED_HEADERS, NBD_REP_ERR_UNSUP, NULL, 0);
        }
        put_rep(b, NBD_OPT_STRUCTURED_REPLY, NBD_REP_ACK, NULL, 0);
    }
    put32(p, META_ID);
    g_byte_array_append(p, (const uint8_t *)NBD_META_BASE_ALLOCATION, 15);
    put_rep(b, NBD_OPT_SET_META_CONTEXT, NBD_REP_META_CONTEXT, p->data, p->len);
    put_rep(b, NBD_OPT_SET_META_CONTEXT, NBD_REP_ACK, NULL, 0);
    g_byte_array_set_size(p, 0);
    put16(p, NBD_INFO_EXPORT);
    put64(p, DISK_SIZE);
    put16(p, s->eflags);
    put_rep(b, NBD_OPT_GO, NBD_REP_INFO, p->data, p->len);
    if (s->description) {
        g_byte_array_set_size(p, 0);
        put16(p, NBD_INFO_DESCRIPTION);
        g_byte_array_append(p, (const uint8_t *)s->description,
                            strlen(s->description));
        put_rep(b, NBD_OPT_GO, NBD_REP_INFO, p->data, p->len);
    }
    if (s->with_block_size) {
        g_byte_array_set_size(p, 0);
        put16(p, NBD_INFO_BLOCK_SIZE);
        put32(p, 512);
        put32(p, 4096);
        put32(p, s->block_max);
        put_rep(b, NBD_OPT_GO, NBD_REP_INFO, p->data, p->len);
    }
    put_rep(b, NBD_OPT_GO, NBD_REP_ACK, NULL, 0);
}

/* Read the client flags and options up to GO. */
static bool skip_options(FakeServer *s)
{
    uint8_t flags[4], hdr[NBD_OPTION_HEADER_SIZE];

    if (!read_full(s->fd, flags, sizeof(flags))) {
        return false;
    }
    for (;;) {
        NBDOption o;
        g_autofree uint8_t *p = NULL;

        if (!read_full(s->fd, hdr, sizeof(hdr)) ||
            !nbd_decode_option(hdr, &o) || o.length > 65536) {
            return false;
        }
        p = g_malloc(o.length + 1);
        if (!read_full(s->fd, p, o.length)) {
            return false;
        }
        if (o.option == NBD_OPT_EXTENDED_HEADERS) {
            s->saw_ext_option = true;
        }
        if (o.option == NBD_OPT_GO) {
            return true;
        }
    }
}

/* One request (and a write's payload) into @reqs; false at EOF/DISC. */
static bool read_request(FakeServer *s, NBDRequest *req)
{
    uint8_t hdr[NBD_EXTENDED_REQUEST_SIZE];

    if (!read_full(s->fd, hdr,
                   s->extended ? NBD_EXTENDED_REQUEST_SIZE
                               : NBD_REQUEST_SIZE)) {
        return false;
    }
    if (!(s->extended ? nbd_decode_extended_request(hdr, req)
                      : nbd_decode_request(hdr, req)) ||
        (s->extended && req->type == NBD_CMD_WRITE) !=
            !!(req->flags & NBD_CMD_FLAG_PAYLOAD_LEN)) {
        /* The payload flag goes with extended writes, and only them. */
        s->bad_request = true;
        return false;
    }
    if (req->type == NBD_CMD_DISC) {
        s->saw_disc = true;
        return false;
    }
    if (req->type == NBD_CMD_WRITE) {
        g_assert_cmpuint(req->length, <=, DISK_SIZE);
        g_assert_cmpuint(req->offset + req->length, <=, DISK_SIZE);
        if (!read_full(s->fd, s->disk + req->offset, req->length)) {
            return false;
        }
    }
    return true;
}

static bool all_zero(const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (p[i]) {
            return false;
        }
    }
    return true;
}

/* The reply a correct server sends to @req. */
static void serve(FakeServer *s, const NBDRequest *req, GByteArray *out)
{
    uint64_t off = req->offset;
    uint32_t len = req->length;

    s->requests++;
    switch (req->type) {
    case NBD_CMD_READ: {
        uint32_t half = len / 2;

        if (all_zero(s->disk + off, len)) {
            put_reply(s, out, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_OFFSET_HOLE,
                      req, 12);
            put64(out, off);
            put32(out, len);
            return;
        }
        /* Two data chunks, second half first. */
        put_reply(s, out, 0, NBD_REPLY_TYPE_OFFSET_DATA, req, 8 + len - half);
        put64(out, off + half);
        g_byte_array_append(out, s->disk + off + half, len - half);
        if (half) {
            put_reply(s, out, 0, NBD_REPLY_TYPE_OFFSET_DATA, req, 8 + half);
            put64(out, off);
            g_byte_array_append(out, s->disk + off, half);
        }
        put_reply(s, out, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_NONE, req, 0);
        return;
    }
    case NBD_CMD_WRITE_ZEROES:
    case NBD_CMD_TRIM:
        memset(s->disk + off, 0, len);
        put_ok(s, out, req);
        return;
    case NBD_CMD_BLOCK_STATUS: {
        g_autoptr(GByteArray) ext = g_byte_array_new();
        uint64_t end = MIN(off + len, DISK_SIZE);
        const uint32_t gran = 64 * 1024;

        /* One extent per 64 KiB granule, no merging: many extents. */
        while (off < end) {
            uint32_t n = MIN(end - off, gran - off % gran);
            uint32_t st = all_zero(s->disk + off, n)
                              ? NBD_STATE_HOLE | NBD_STATE_ZERO
                              : 0;

            if (s->extended) {
                put64(ext, n);
                put64(ext, st);
            } else {
                put32(ext, n);
                put32(ext, st);
            }
            off += n;
        }
        if (s->extended) {
            put_xchunk(out, NBD_REPLY_FLAG_DONE,
                       NBD_REPLY_TYPE_BLOCK_STATUS_EXT, req, 8 + ext->len);
            put32(out, META_ID);
            put32(out, ext->len / 16);
        } else {
            put_chunk(out, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_BLOCK_STATUS,
                      req->cookie, 4 + ext->len);
            put32(out, META_ID);
        }
        g_byte_array_append(out, ext->data, ext->len);
        return;
    }
    case NBD_CMD_FLUSH:
        s->saw_flush = true;
        /* fall through */
    default:
        put_ok(s, out, req);
        return;
    }
}

static bool readable(int fd, int ms)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };

    return poll(&p, 1, ms) > 0;
}

static gpointer fake_server_run(gpointer opaque)
{
    FakeServer *s = opaque;
    g_autoptr(GByteArray) out = g_byte_array_new();
    g_autofree NBDRequest *reqs = g_new(NBDRequest, s->batch);
    bool eof = false;

    build_handshake(s, out);
    if (!write_full(s->fd, out->data, out->len) || !skip_options(s)) {
        goto done;
    }
    while (!eof) {
        size_t n = 0;

        /*
         * Collect what is in flight: wait for the first request, then
         * take the others while they keep coming.
         */
        while (n < s->batch) {
            if (n > 0 && !s->script &&
                !readable(s->fd, s->check_bound ? 2000 : 20)) {
                break;
            }
            if (!read_request(s, &reqs[n])) {
                eof = true;
                break;
            }
            n++;
            if (s->script && n == s->script_after) {
                break;
            }
        }
        if (s->check_bound && n == s->batch) {
            uint8_t peek;

            /* A client within its bound cannot have sent more yet. */
            if (recv(s->fd, &peek, 1, MSG_PEEK | MSG_DONTWAIT) > 0) {
                s->over_bound = true;
            }
        }
        s->max_seen = MAX(s->max_seen, n);
        g_byte_array_set_size(out, 0);
        if (s->script && n) {
            s->script(s, reqs, n, out);
            s->script = NULL;
            /* Then serve on, until a client that gave up hangs up. */
            if (!write_full(s->fd, out->data, out->len)) {
                break;
            }
            continue;
        }
        for (size_t i = n; i-- > 0;) {
            serve(s, &reqs[i], out);
        }
        if (!write_full(s->fd, out->data, out->len)) {
            break;
        }
    }
done:
    /* Drain until the client hangs up. */
    g_byte_array_set_size(out, 4096);
    while (read(s->fd, out->data, out->len) > 0) {
        continue;
    }
    close(s->fd);
    return NULL;
}

static void server_init(FakeServer *s)
{
    memset(s, 0, sizeof(*s));
    s->disk = g_malloc0(DISK_SIZE);
    s->eflags = NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH |
                NBD_FLAG_SEND_WRITE_ZEROES | NBD_FLAG_SEND_TRIM |
                NBD_FLAG_CAN_MULTI_CONN;
    s->batch = 64;
    s->block_max = NBD_CLIENT_MAX_REQUEST;
}

/* Start @s and return a client through GO, or NULL with @errp set. */
static NBDClient *server_start(FakeServer *s, GError **errp)
{
    int sv[2];
    g_autoptr(QIOChannelSocket) sioc = NULL;
    NBDClient *c;

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
    s->fd = sv[1];
    sioc = qio_channel_socket_new_fd(sv[0], errp);
    assert_non_null(sioc);
    s->thread = g_thread_new("fake-nbd", fake_server_run, s);
    c = nbd_client_new_channel_full(QIO_CHANNEL(sioc), PEER, NULL, NULL,
                                    &(NBDClientOptions){
                                        .compact_headers = s->client_compact,
                                    },
                                    errp);
    if (c && !nbd_client_go(c, "", errp)) {
        g_clear_pointer(&c, nbd_client_free);
    }
    return c;
}

static void server_finish(FakeServer *s)
{
    g_thread_join(s->thread);
    g_free(s->disk);
}

/* ---- Completion bookkeeping -------------------------------------------- */

typedef struct {
    GMutex lock;
    GCond cond;
    unsigned pending;
    unsigned ok;
    unsigned failed;
    int last_code;
    char *last_msg;
    GString *order; /* tags in completion order */
} Tally;

typedef struct {
    Tally *t;
    char tag;
} Op;

static void tally_init(Tally *t)
{
    memset(t, 0, sizeof(*t));
    g_mutex_init(&t->lock);
    g_cond_init(&t->cond);
    t->order = g_string_new(NULL);
    t->last_code = -1;
}

static void tally_clear(Tally *t)
{
    g_mutex_clear(&t->lock);
    g_cond_clear(&t->cond);
    g_string_free(t->order, true);
    g_free(t->last_msg);
}

static void tally_cb(const GError *err, gpointer opaque)
{
    Op *op = opaque;
    Tally *t = op->t;

    g_mutex_lock(&t->lock);
    if (err) {
        t->failed++;
        t->last_code = err->code;
        g_free(t->last_msg);
        t->last_msg = g_strdup(err->message);
    } else {
        t->ok++;
    }
    g_string_append_c(t->order, op->tag);
    t->pending--;
    g_cond_broadcast(&t->cond);
    g_mutex_unlock(&t->lock);
}

static void tally_add(Tally *t)
{
    g_mutex_lock(&t->lock);
    t->pending++;
    g_mutex_unlock(&t->lock);
}

static void tally_wait(Tally *t)
{
    g_mutex_lock(&t->lock);
    while (t->pending) {
        g_cond_wait(&t->cond, &t->lock);
    }
    g_mutex_unlock(&t->lock);
}

/*
 * Completion order, batch by batch, sorted: a request answered while its
 * submitter is still returning from the send completes a little later,
 * so only the batches are fixed, not the order inside them.
 */
static int cmp_char(const void *a, const void *b)
{
    return *(const char *)a - *(const char *)b;
}

static void assert_batches(const char *order, size_t batch, const char *want)
{
    g_autofree char *got = g_strdup(order);

    assert_int_equal(strlen(got), strlen(want));
    for (size_t i = 0; i < strlen(got); i += batch) {
        size_t n = MIN(batch, strlen(got) - i);

        qsort(got + i, n, 1, cmp_char);
    }
    assert_string_equal(got, want);
}

static void fill_pattern(uint8_t *p, size_t len, uint64_t off)
{
    for (size_t i = 0; i < len; i++) {
        p[i] = (uint8_t)((off + i) * 7 + ((off + i) >> 12));
    }
}

/* ---- Tests ------------------------------------------------------------- */

/* Eight reads in flight answered last-first land in the right buffers. */
static void test_out_of_order(void **state)
{
    FakeServer s;
    g_autoptr(GError) err = NULL;
    Tally t;
    Op ops[8];
    uint8_t bufs[8][4096];
    NBDClient *c;

    (void)state;
    server_init(&s);
    fill_pattern(s.disk, DISK_SIZE, 0);
    s.batch = 8;
    s.check_bound = true;
    c = server_start(&s, &err);
    assert_non_null(c);
    tally_init(&t);
    for (int i = 0; i < 8; i++) {
        ops[i] = (Op){ .t = &t, .tag = 'a' + i };
        tally_add(&t);
        assert_true(nbd_client_submit_pread(c, bufs[i], sizeof(bufs[i]),
                                            i * 65536 + 3, tally_cb, &ops[i],
                                            &err));
    }
    tally_wait(&t);
    assert_int_equal(t.ok, 8);
    /* The server collected all eight, then answered in reverse. */
    assert_batches(t.order->str, 8, "abcdefgh");
    for (int i = 0; i < 8; i++) {
        uint8_t want[4096];

        fill_pattern(want, sizeof(want), i * 65536 + 3);
        assert_memory_equal(bufs[i], want, sizeof(want));
    }
    nbd_client_free(c);
    server_finish(&s);
    assert_true(s.saw_disc);
    assert_int_equal(s.max_seen, 8);
    tally_clear(&t);
}

/* A limit of 4 keeps the fifth submit waiting until a reply arrives. */
static void test_in_flight_bound(void **state)
{
    FakeServer s;
    g_autoptr(GError) err = NULL;
    Tally t;
    Op ops[12];
    static uint8_t bufs[12][512];
    NBDClient *c;

    (void)state;
    server_init(&s);
    fill_pattern(s.disk, DISK_SIZE, 0);
    s.batch = 4;
    s.check_bound = true;
    c = server_start(&s, &err);
    assert_non_null(c);
    nbd_client_set_max_requests(c, 4);
    tally_init(&t);
    for (int i = 0; i < 12; i++) {
        ops[i] = (Op){ .t = &t, .tag = 'a' + i };
        tally_add(&t);
        assert_true(nbd_client_submit_pread(c, bufs[i], 512, i * 512, tally_cb,
                                            &ops[i], &err));
    }
    tally_wait(&t);
    assert_int_equal(t.ok, 12);
    assert_batches(t.order->str, 4, "abcdefghijkl");
    nbd_client_free(c);
    server_finish(&s);
    assert_false(s.over_bound);
    assert_int_equal(s.max_seen, 4);
    tally_clear(&t);
}

/* Reads the request and never answers it. */
static void script_silent(FakeServer *s, const NBDRequest *r, size_t n,
                          GByteArray *out)
{
}

/* A server that stops answering: close gives up on it in time. */
static void test_close_timeout(void **state)
{
    FakeServer s;
    g_autoptr(GError) err = NULL;
    static uint8_t buf[512];
    gint64 start;
    Tally t;
    Op op;
    NBDClient *c;

    (void)state;
    server_init(&s);
    s.script = script_silent;
    s.script_after = 1;
    c = server_start(&s, &err);
    assert_non_null(c);
    tally_init(&t);
    op = (Op){ .t = &t, .tag = 'a' };
    tally_add(&t);
    assert_true(
        nbd_client_submit_pread(c, buf, sizeof(buf), 0, tally_cb, &op, &err));
    nbd_client_set_close_timeout(c, 300);
    start = g_get_monotonic_time();
    nbd_client_close(c);
    assert_true(g_get_monotonic_time() - start < 10 * G_USEC_PER_SEC);
    tally_wait(&t);
    assert_int_equal(t.ok, 0); /* the read failed, it did not hang */
    nbd_client_free(c);
    server_finish(&s);
    tally_clear(&t);
}

typedef struct {
    NBDClient *c;
    int id;
    bool ok;
} Worker;

/* Blocking calls from several threads at once on one client. */
static gpointer worker_run(gpointer opaque)
{
    Worker *w = opaque;
    uint8_t buf[8192], want[8192];

    w->ok = true;
    for (int i = 0; i < 25 && w->ok; i++) {
        uint64_t off = (uint64_t)(w->id * 25 + i) * sizeof(buf);
        g_autoptr(GError) err = NULL;

        fill_pattern(want, sizeof(want), off ^ 0x5a5a);
        w->ok = nbd_client_pwrite(w->c, want, sizeof(want), off, 0, &err) &&
                nbd_client_pread(w->c, buf, sizeof(buf), off, &err) &&
                memcmp(buf, want, sizeof(buf)) == 0;
        if (err) {
            fprintf(stderr, "worker %d: %s\n", w->id, err->message);
        }
    }
    return NULL;
}

static void test_threads(void **state)
{
    FakeServer s;
    g_autoptr(GError) err = NULL;
    Worker w[4];
    GThread *th[4];
    NBDClient *c;

    (void)state;
    server_init(&s);
    s.batch = 4;
    c = server_start(&s, &err);
    assert_non_null(c);
    for (int i = 0; i < 4; i++) {
        w[i] = (Worker){ .c = c, .id = i };
        th[i] = g_thread_new("worker", worker_run, &w[i]);
    }
    for (int i = 0; i < 4; i++) {
        g_thread_join(th[i]);
        assert_true(w[i].ok);
    }
    assert_true(nbd_client_flush(c, &err));
    nbd_client_free(c);
    server_finish(&s);
    assert_true(s.saw_flush);
    assert_true(s.saw_disc);
    assert_int_equal(s.requests, 4 * 25 * 2 + 1);
    /* Several requests were really in flight together. */
    assert_true(s.max_seen > 1);
}

/* ---- Hostile replies ---------------------------------------------------- */

static void script_unknown_cookie(FakeServer *s, const NBDRequest *r, size_t n,
                                  GByteArray *out)
{
    (void)s;
    (void)n;
    put_simple(out, 0, r[2].cookie + 1000);
}

static void script_duplicate(FakeServer *s, const NBDRequest *r, size_t n,
                             GByteArray *out)
{
    /* Requests are flushes: answer the first twice. */
    (void)s;
    (void)n;
    put_simple(out, 0, r[0].cookie);
    put_simple(out, 0, r[0].cookie);
}

static void script_after_done(FakeServer *s, const NBDRequest *r, size_t n,
                              GByteArray *out)
{
    (void)s;
    (void)n;
    put_chunk(out, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_NONE, r[1].cookie, 0);
    put_chunk(out, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_NONE, r[1].cookie, 0);
}

static void script_data_outside(FakeServer *s, const NBDRequest *r, size_t n,
                                GByteArray *out)
{
    (void)s;
    (void)n;
    /* 16 bytes of data for a 512-byte read at 512, placed at 1020. */
    put_chunk(out, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_OFFSET_DATA, r[0].cookie,
              8 + 16);
    put64(out, r[0].offset + 508);
    g_byte_array_set_size(out, out->len + 16);
}

static void script_data_too_long(FakeServer *s, const NBDRequest *r, size_t n,
                                 GByteArray *out)
{
    (void)s;
    (void)n;
    put_chunk(out, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_OFFSET_DATA, r[0].cookie,
              0xfffffff0);
    put64(out, r[0].offset);
}

static void script_chunk_too_long(FakeServer *s, const NBDRequest *r, size_t n,
                                  GByteArray *out)
{
    (void)s;
    (void)n;
    put_chunk(out, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_BLOCK_STATUS,
              r[0].cookie, 64u * 1024 * 1024);
}

static void script_error_offset_outside(FakeServer *s, const NBDRequest *r,
                                        size_t n, GByteArray *out)
{
    (void)s;
    (void)n;
    put_chunk(out, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_ERROR_OFFSET,
              r[0].cookie, 6 + 8);
    put32(out, NBD_EIO);
    put16(out, 0);
    put64(out, r[0].offset + r[0].length);
}

static void script_simple_read(FakeServer *s, const NBDRequest *r, size_t n,
                               GByteArray *out)
{
    (void)s;
    (void)n;
    put_simple(out, 0, r[0].cookie);
}

/*
 * Three requests in flight (reads of 512 bytes at 0, 512, 1024, or
 * flushes); @script answers; every request not answered properly must
 * fail with @code, later submits with QIO_ERROR_CLOSED.
 */
static void check_hostile_mode(ScriptFunc script, bool extended, bool flushes,
                               unsigned want_ok, int code, const char *what)
{
    FakeServer s;
    g_autoptr(GError) err = NULL;
    Tally t;
    Op ops[3];
    uint8_t bufs[3][512];
    NBDClient *c;

    server_init(&s);
    s.extended = extended;
    s.script = script;
    s.script_after = 3;
    c = server_start(&s, &err);
    assert_non_null(c);
    tally_init(&t);
    for (int i = 0; i < 3; i++) {
        ops[i] = (Op){ .t = &t, .tag = 'a' + i };
        tally_add(&t);
        assert_true(flushes
                        ? nbd_client_submit_flush(c, tally_cb, &ops[i], &err)
                        : nbd_client_submit_pread(c, bufs[i], 512, i * 512,
                                                  tally_cb, &ops[i], &err));
    }
    tally_wait(&t);
    if (t.ok != want_ok || t.failed != 3 - want_ok || t.last_code != code) {
        fail_msg("%s: %u ok, %u failed, code %d (%s)", what, t.ok, t.failed,
                 t.last_code, t.last_msg ? t.last_msg : "-");
    }
    assert_non_null(strstr(t.last_msg, PEER));
    assert_false(nbd_client_submit_flush(c, tally_cb, &ops[0], &err));
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_CLOSED));
    g_clear_error(&err);
    assert_false(nbd_client_flush(c, &err));
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_CLOSED));
    nbd_client_free(c);
    server_finish(&s);
    assert_false(s.saw_disc);
    tally_clear(&t);
}

static void check_hostile(ScriptFunc script, bool flushes, unsigned want_ok,
                          int code, const char *what)
{
    check_hostile_mode(script, false, flushes, want_ok, code, what);
}

/* ---- Hostile extended replies -------------------------------------------- */

/*
 * Simple replies where every reply must be an extended chunk (two of
 * them, so that the client has the 32 bytes of a header to judge).
 */
static void script_ext_simple(FakeServer *s, const NBDRequest *r, size_t n,
                              GByteArray *out)
{
    (void)s;
    (void)n;
    put_simple(out, 0, r[0].cookie);
    put_simple(out, 0, r[1].cookie);
}

/* A compact structured chunk header under extended headers. */
static void script_ext_structured(FakeServer *s, const NBDRequest *r, size_t n,
                                  GByteArray *out)
{
    (void)s;
    (void)n;
    put_chunk(out, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_NONE, r[0].cookie, 0);
    put_chunk(out, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_NONE, r[1].cookie, 0);
}

static void script_ext_unknown_cookie(FakeServer *s, const NBDRequest *r,
                                      size_t n, GByteArray *out)
{
    NBDRequest other = r[2];

    (void)s;
    (void)n;
    other.cookie += 1000;
    put_xchunk(out, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_NONE, &other, 0);
}

/* The header's offset is not the request's (data itself in range). */
static void script_ext_wrong_offset(FakeServer *s, const NBDRequest *r,
                                    size_t n, GByteArray *out)
{
    NBDRequest moved = r[1];

    (void)s;
    (void)n;
    moved.offset += 512;
    put_xchunk(out, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_OFFSET_DATA, &moved,
               8 + 512);
    put64(out, r[1].offset);
    g_byte_array_set_size(out, out->len + 512);
    /* Proper answers to the others: a client that took the bait passes. */
    for (size_t i = 0; i < 3; i += 2) {
        put_xchunk(out, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_OFFSET_HOLE, &r[i],
                   12);
        put64(out, r[i].offset);
        put32(out, r[i].length);
    }
}

/* A 64-bit payload length no reply can have. */
static void script_ext_huge(FakeServer *s, const NBDRequest *r, size_t n,
                            GByteArray *out)
{
    (void)s;
    (void)n;
    put_xchunk(out, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_OFFSET_DATA, &r[0],
               UINT64_C(1) << 40);
    put64(out, r[0].offset);
}

/* A length just over 4 GiB: would read as 8 + 512 if truncated. */
static void script_ext_truncating(FakeServer *s, const NBDRequest *r, size_t n,
                                  GByteArray *out)
{
    (void)s;
    (void)n;
    put_xchunk(out, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_OFFSET_DATA, &r[0],
               (UINT64_C(1) << 32) + 8 + 512);
    put64(out, r[0].offset);
    g_byte_array_set_size(out, out->len + 512);
}

/* A data chunk whose length does not match the read (512 bytes). */
static void script_ext_data_mismatch(FakeServer *s, const NBDRequest *r,
                                     size_t n, GByteArray *out)
{
    (void)s;
    (void)n;
    put_xchunk(out, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_OFFSET_DATA, &r[0],
               8 + 1024);
    put64(out, r[0].offset);
    g_byte_array_set_size(out, out->len + 1024);
}

/* An extended chunk header although only compact ones were agreed. */
static void script_ext_unasked(FakeServer *s, const NBDRequest *r, size_t n,
                               GByteArray *out)
{
    (void)s;
    (void)n;
    put_xchunk(out, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_NONE, &r[0], 0);
}

/* BLOCK_STATUS_EXT on a compact connection. */
static void script_status_ext_unasked(FakeServer *s, const NBDRequest *r,
                                      size_t n, GByteArray *out)
{
    (void)s;
    (void)n;
    put_chunk(out, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_BLOCK_STATUS_EXT,
              r[0].cookie, 8 + 16);
    put32(out, META_ID);
    put32(out, 1);
    put64(out, 512);
    put64(out, 0);
}

static void test_hostile_extended_replies(void **state)
{
    (void)state;
    check_hostile_mode(script_ext_simple, true, true, 0, QIO_ERROR_PROTOCOL,
                       "simple reply under extended headers");
    check_hostile_mode(script_ext_structured, true, true, 0, QIO_ERROR_PROTOCOL,
                       "structured chunk under extended headers");
    check_hostile_mode(script_ext_unknown_cookie, true, false, 0,
                       QIO_ERROR_PROTOCOL, "unknown cookie, extended");
    check_hostile_mode(script_ext_wrong_offset, true, false, 0,
                       QIO_ERROR_PROTOCOL, "offset not the request's");
    check_hostile_mode(script_ext_huge, true, false, 0, QIO_ERROR_TOO_LARGE,
                       "2^40-byte reply length");
    check_hostile_mode(script_ext_truncating, true, false, 0,
                       QIO_ERROR_TOO_LARGE, "length over 32 bits");
    check_hostile_mode(script_ext_data_mismatch, true, false, 0,
                       QIO_ERROR_PROTOCOL, "data longer than the read");
    check_hostile_mode(script_ext_unasked, false, false, 0, QIO_ERROR_PROTOCOL,
                       "extended reply, not agreed");
    check_hostile_mode(script_status_ext_unasked, false, false, 0,
                       QIO_ERROR_PROTOCOL, "extended block status, not agreed");
}

/* Block status chunks a server with extended headers must not send. */
static void script_status_count(FakeServer *s, const NBDRequest *r, size_t n,
                                GByteArray *out)
{
    (void)s;
    (void)n;
    put_xchunk(out, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_BLOCK_STATUS_EXT, &r[0],
               8 + 2 * 16);
    put32(out, META_ID);
    put32(out, 3); /* but two follow */
    put64(out, 512);
    put64(out, 0);
    put64(out, 512);
    put64(out, NBD_STATE_HOLE);
}

static void script_status_high_flags(FakeServer *s, const NBDRequest *r,
                                     size_t n, GByteArray *out)
{
    (void)s;
    (void)n;
    put_xchunk(out, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_BLOCK_STATUS_EXT, &r[0],
               8 + 16);
    put32(out, META_ID);
    put32(out, 1);
    put64(out, 512);
    put64(out, UINT64_C(1) << 40);
}

static void script_status_empty(FakeServer *s, const NBDRequest *r, size_t n,
                                GByteArray *out)
{
    (void)s;
    (void)n;
    put_xchunk(out, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_BLOCK_STATUS_EXT, &r[0],
               8 + 16);
    put32(out, META_ID);
    put32(out, 0);
    put64(out, 0);
    put64(out, 0);
}

static void script_status_ragged(FakeServer *s, const NBDRequest *r, size_t n,
                                 GByteArray *out)
{
    (void)s;
    (void)n;
    put_xchunk(out, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_BLOCK_STATUS_EXT, &r[0],
               8 + 12);
    put32(out, META_ID);
    put32(out, 0);
    put64(out, 512);
    put32(out, 0);
}

/* Compact BLOCK_STATUS is still allowed with extended headers. */
static void script_status_compact(FakeServer *s, const NBDRequest *r, size_t n,
                                  GByteArray *out)
{
    (void)s;
    (void)n;
    put_xchunk(out, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_BLOCK_STATUS, &r[0],
               4 + 8);
    put32(out, META_ID);
    put32(out, 4096);
    put32(out, NBD_STATE_HOLE);
}

/* One block status request answered by @script: ok, or fails with @code. */
static void check_status_ext(ScriptFunc script, int code, const char *what)
{
    FakeServer s;
    g_autoptr(GError) err = NULL;
    g_autoptr(GArray) ext = NULL;
    NBDClient *c;

    server_init(&s);
    s.extended = true;
    s.script = script;
    s.script_after = 1;
    c = server_start(&s, &err);
    assert_non_null(c);
    assert_true(nbd_client_has_extended_headers(c));
    ext = nbd_client_block_status(c, 4096, 0, &err);
    if (code < 0) {
        if (!ext) {
            fail_msg("%s: %s", what, err->message);
        }
        assert_int_equal(ext->len, 1);
        assert_int_equal(g_array_index(ext, NBDClientExtent, 0).length, 4096);
        assert_int_equal(g_array_index(ext, NBDClientExtent, 0).flags,
                         NBD_STATE_HOLE);
    } else if (ext || !g_error_matches(err, QIO_ERROR, code)) {
        fail_msg("%s: %s", what, err ? err->message : "accepted");
    }
    nbd_client_free(c);
    server_finish(&s);
}

static void test_block_status_ext_replies(void **state)
{
    (void)state;
    check_status_ext(script_status_compact, -1, "compact status chunk");
    check_status_ext(script_status_count, QIO_ERROR_PROTOCOL,
                     "descriptor count does not match");
    check_status_ext(script_status_high_flags, QIO_ERROR_PROTOCOL,
                     "flags beyond 32 bits for base:allocation");
    check_status_ext(script_status_empty, QIO_ERROR_PROTOCOL,
                     "zero-length extent");
    check_status_ext(script_status_ragged, QIO_ERROR_PROTOCOL,
                     "length not 8 + 16n");
}

/*
 * The same workload with extended headers, with compact ones after the
 * server refused extended headers, and with a client told not to ask:
 * data, zeroes and block status agree with the server's disk.
 */
static void check_io_mode(bool extended, bool client_compact)
{
    FakeServer s;
    g_autoptr(GError) err = NULL;
    g_autoptr(GArray) ext = NULL;
    g_autofree uint8_t *wbuf = g_malloc(256 * 1024);
    g_autofree uint8_t *rbuf = g_malloc(256 * 1024);
    NBDClient *c;

    server_init(&s);
    s.extended = extended;
    s.client_compact = client_compact;
    c = server_start(&s, &err);
    if (!c) {
        fail_msg("connect: %s", err->message);
    }
    assert_int_equal(nbd_client_has_extended_headers(c), extended);
    assert_true(nbd_client_has_structured_replies(c));
    fill_pattern(wbuf, 256 * 1024, 65536);
    assert_true(nbd_client_pwrite(c, wbuf, 256 * 1024, 65536, 0, &err));
    assert_memory_equal(s.disk + 65536, wbuf, 256 * 1024);
    assert_true(nbd_client_zero(c, 4096, 65536 + 8192, 0, &err));
    memset(wbuf + 8192, 0, 4096);
    assert_true(nbd_client_pread(c, rbuf, 256 * 1024, 65536, &err));
    assert_memory_equal(rbuf, wbuf, 256 * 1024);
    /* A hole reads as zeroes (OFFSET_HOLE). */
    memset(rbuf, 0xee, 4096);
    assert_true(nbd_client_pread(c, rbuf, 4096, 1024 * 1024, &err));
    assert_true(all_zero(rbuf, 4096));
    ext = nbd_client_block_status(c, 256 * 1024, 0, &err);
    assert_non_null(ext);
    /* 64 KiB granules: the first a hole, the next three data. */
    assert_int_equal(ext->len, 4);
    assert_int_equal(g_array_index(ext, NBDClientExtent, 0).flags,
                     NBD_STATE_HOLE | NBD_STATE_ZERO);
    assert_int_equal(g_array_index(ext, NBDClientExtent, 1).flags, 0);
    assert_int_equal(g_array_index(ext, NBDClientExtent, 3).length, 65536);
    assert_true(nbd_client_trim(c, 65536, 65536, &err));
    assert_true(all_zero(s.disk + 65536, 65536));
    assert_true(nbd_client_flush(c, &err));
    nbd_client_free(c);
    server_finish(&s);
    assert_false(s.bad_request);
    assert_true(s.saw_disc);
    assert_true(s.saw_flush);
    assert_int_equal(s.saw_ext_option, !client_compact);
}

static void test_extended_headers_io(void **state)
{
    (void)state;
    check_io_mode(true, false);
}

static void test_extended_headers_refused_io(void **state)
{
    (void)state;
    check_io_mode(false, false);
}

static void test_extended_headers_off_io(void **state)
{
    (void)state;
    check_io_mode(false, true);
}

static void test_hostile_replies(void **state)
{
    (void)state;
    check_hostile(script_unknown_cookie, false, 0, QIO_ERROR_PROTOCOL,
                  "unknown cookie");
    check_hostile(script_duplicate, true, 1, QIO_ERROR_PROTOCOL,
                  "duplicate reply");
    check_hostile(script_after_done, true, 1, QIO_ERROR_PROTOCOL,
                  "chunk after the final one");
    check_hostile(script_data_outside, false, 0, QIO_ERROR_PROTOCOL,
                  "data outside the request");
    check_hostile(script_data_too_long, false, 0, QIO_ERROR_PROTOCOL,
                  "data chunk longer than the request");
    check_hostile(script_chunk_too_long, false, 0, QIO_ERROR_TOO_LARGE,
                  "64 MiB non-data chunk");
    check_hostile(script_error_offset_outside, false, 0, QIO_ERROR_PROTOCOL,
                  "error offset outside the request");
    check_hostile(script_simple_read, false, 0, QIO_ERROR_PROTOCOL,
                  "simple reply to a structured read");
}

/* ERROR_OFFSET inside the request: that request fails, others go on. */
static void script_error_offset(FakeServer *s, const NBDRequest *r, size_t n,
                                GByteArray *out)
{
    const char *msg = "bad sector";

    (void)n;
    put_chunk(out, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_ERROR_OFFSET,
              r[1].cookie, 6 + strlen(msg) + 8);
    put32(out, NBD_EIO);
    put16(out, strlen(msg));
    g_byte_array_append(out, (const uint8_t *)msg, strlen(msg));
    put64(out, r[1].offset + 100);
    serve(s, &r[0], out);
    serve(s, &r[2], out);
}

static void test_error_offset(void **state)
{
    FakeServer s;
    g_autoptr(GError) err = NULL;
    Tally t;
    Op ops[3];
    uint8_t bufs[3][512];
    NBDClient *c;

    (void)state;
    server_init(&s);
    s.script = script_error_offset;
    s.script_after = 3;
    c = server_start(&s, &err);
    assert_non_null(c);
    tally_init(&t);
    for (int i = 0; i < 3; i++) {
        ops[i] = (Op){ .t = &t, .tag = 'a' + i };
        tally_add(&t);
        assert_true(nbd_client_submit_pread(c, bufs[i], 512, 4096 + i * 512,
                                            tally_cb, &ops[i], &err));
    }
    tally_wait(&t);
    assert_int_equal(t.ok, 2);
    assert_int_equal(t.failed, 1);
    assert_batches(t.order->str, 3, "abc");
    assert_int_equal(t.last_code, QIO_ERROR_FAILED);
    assert_non_null(strstr(t.last_msg, "bad sector"));
    /* 4096 + 512 + 100 */
    assert_non_null(strstr(t.last_msg, "at offset 4708"));
    /* The connection stays usable after a server error. */
    assert_true(nbd_client_flush(c, &err));
    nbd_client_free(c);
    server_finish(&s);
    assert_true(s.saw_disc);
    tally_clear(&t);
}

/* ---- Negotiated limits and information ---------------------------------- */

static void test_block_size(void **state)
{
    FakeServer s;
    g_autoptr(GError) err = NULL;
    uint32_t bmin, bpref, bmax;
    g_autofree uint8_t *buf = g_malloc(128 * 1024);
    NBDClient *c;

    (void)state;
    server_init(&s);
    s.with_block_size = true;
    s.block_max = 64 * 1024;
    s.description = "scratch disk";
    c = server_start(&s, &err);
    assert_non_null(c);
    assert_string_equal(nbd_client_get_description(c), "scratch disk");
    nbd_client_get_block_sizes(c, &bmin, &bpref, &bmax);
    assert_int_equal(bmin, 512);
    assert_int_equal(bpref, 4096);
    assert_int_equal(bmax, 64 * 1024);
    assert_int_equal(nbd_client_get_max_request(c), 64 * 1024);
    /* Over the server's maximum: refused before sending anything. */
    assert_false(nbd_client_pread(c, buf, 128 * 1024, 0, &err));
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT));
    g_clear_error(&err);
    assert_false(nbd_client_pwrite(c, buf, 64 * 1024 + 512, 0, 0, &err));
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT));
    g_clear_error(&err);
    assert_true(nbd_client_pread(c, buf, 64 * 1024, 0, &err));
    nbd_client_free(c);
    server_finish(&s);
    /* Only the valid read reached the server. */
    assert_int_equal(s.requests, 1);
}

static void test_block_size_default(void **state)
{
    FakeServer s;
    g_autoptr(GError) err = NULL;
    uint32_t bmin, bpref, bmax;
    NBDClient *c;

    (void)state;
    server_init(&s);
    c = server_start(&s, &err);
    assert_non_null(c);
    assert_null(nbd_client_get_description(c));
    nbd_client_get_block_sizes(c, &bmin, &bpref, &bmax);
    assert_int_equal(bmin, 1);
    assert_int_equal(bmax, NBD_CLIENT_MAX_REQUEST);
    assert_int_equal(nbd_client_get_max_request(c), NBD_CLIENT_MAX_REQUEST);
    nbd_client_free(c);
    server_finish(&s);
}

static void test_block_size_impossible(void **state)
{
    FakeServer s;
    g_autoptr(GError) err = NULL;

    (void)state;
    server_init(&s);
    s.with_block_size = true;
    s.block_max = 100; /* below the minimum of 512 */
    assert_null(server_start(&s, &err));
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_PROTOCOL));
    assert_non_null(strstr(err->message, "block sizes"));
    server_finish(&s);
}

/* INFO and GO ask for the description and the block sizes. */
static gpointer info_request_server(gpointer opaque)
{
    int fd = GPOINTER_TO_INT(opaque);
    g_autoptr(GByteArray) b = g_byte_array_new();
    uint8_t flags[4], hdr[NBD_OPTION_HEADER_SIZE];
    g_autofree uint8_t *p = NULL;
    NBDOption o;
    gpointer verdict = GINT_TO_POINTER(0);

    put64(b, NBD_INIT_MAGIC);
    put64(b, NBD_OPTS_MAGIC);
    put16(b, NBD_FLAG_FIXED_NEWSTYLE);
    put_rep(b, NBD_OPT_EXTENDED_HEADERS, NBD_REP_ERR_UNSUP, NULL, 0);
    put_rep(b, NBD_OPT_STRUCTURED_REPLY, NBD_REP_ERR_UNSUP, NULL, 0);
    put_rep(b, NBD_OPT_INFO, NBD_REP_ERR_UNKNOWN, NULL, 0);
    write_full(fd, b->data, b->len);
    if (read_full(fd, flags, 4) && read_full(fd, hdr, sizeof(hdr)) &&
        nbd_decode_option(hdr, &o) && o.option == NBD_OPT_EXTENDED_HEADERS &&
        read_full(fd, hdr, sizeof(hdr)) && nbd_decode_option(hdr, &o) &&
        o.option == NBD_OPT_STRUCTURED_REPLY &&
        read_full(fd, hdr, sizeof(hdr)) && nbd_decode_option(hdr, &o) &&
        o.option == NBD_OPT_INFO && o.length == 4 + 2 + 2 + 4 &&
        (p = g_malloc(o.length)) && read_full(fd, p, o.length) &&
        nbd_get_be32(p) == 2 && memcmp(p + 4, "d0", 2) == 0 &&
        nbd_get_be16(p + 6) == 2 &&
        nbd_get_be16(p + 8) == NBD_INFO_DESCRIPTION &&
        nbd_get_be16(p + 10) == NBD_INFO_BLOCK_SIZE) {
        verdict = GINT_TO_POINTER(1);
    }
    while (read(fd, flags, 4) > 0) {
        continue;
    }
    close(fd);
    return verdict;
}

static void test_info_requests(void **state)
{
    int sv[2];
    g_autoptr(GError) err = NULL;
    g_autoptr(QIOChannelSocket) sioc = NULL;
    NBDClientExportInfo info;
    GThread *th;
    NBDClient *c;

    (void)state;
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
    sioc = qio_channel_socket_new_fd(sv[0], &err);
    th = g_thread_new("info", info_request_server, GINT_TO_POINTER(sv[1]));
    c = nbd_client_new_channel(QIO_CHANNEL(sioc), PEER, NULL, NULL, &err);
    assert_non_null(c);
    assert_false(nbd_client_info_full(c, "d0", &info, &err));
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_NOT_FOUND));
    nbd_client_free(c);
    assert_int_equal(GPOINTER_TO_INT(g_thread_join(th)), 1);
}

/* NBD_OPT_LIST replies carry descriptions after the name. */
static gpointer list_server(gpointer opaque)
{
    int fd = GPOINTER_TO_INT(opaque);
    g_autoptr(GByteArray) b = g_byte_array_new();
    g_autoptr(GByteArray) p = g_byte_array_new();
    uint8_t sink[256];

    put64(b, NBD_INIT_MAGIC);
    put64(b, NBD_OPTS_MAGIC);
    put16(b, NBD_FLAG_FIXED_NEWSTYLE);
    put_rep(b, NBD_OPT_EXTENDED_HEADERS, NBD_REP_ACK, NULL, 0);
    put32(p, 5);
    g_byte_array_append(p, (const uint8_t *)"disk0boot disk", 14);
    put_rep(b, NBD_OPT_LIST, NBD_REP_SERVER, p->data, p->len);
    g_byte_array_set_size(p, 0);
    put32(p, 5);
    g_byte_array_append(p, (const uint8_t *)"disk1", 5);
    put_rep(b, NBD_OPT_LIST, NBD_REP_SERVER, p->data, p->len);
    put_rep(b, NBD_OPT_LIST, NBD_REP_ACK, NULL, 0);
    write_full(fd, b->data, b->len);
    while (read(fd, sink, sizeof(sink)) > 0) {
        continue;
    }
    close(fd);
    return NULL;
}

static void test_list_descriptions(void **state)
{
    int sv[2];
    g_autoptr(GError) err = NULL;
    g_autoptr(QIOChannelSocket) sioc = NULL;
    g_auto(GStrv) names = NULL;
    g_auto(GStrv) descs = NULL;
    GThread *th;
    NBDClient *c;

    (void)state;
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
    sioc = qio_channel_socket_new_fd(sv[0], &err);
    th = g_thread_new("list", list_server, GINT_TO_POINTER(sv[1]));
    c = nbd_client_new_channel(QIO_CHANNEL(sioc), PEER, NULL, NULL, &err);
    assert_non_null(c);
    names = nbd_client_list_full(c, &descs, &err);
    assert_non_null(names);
    assert_int_equal(g_strv_length(names), 2);
    assert_string_equal(names[0], "disk0");
    assert_string_equal(descs[0], "boot disk");
    assert_string_equal(names[1], "disk1");
    assert_string_equal(descs[1], "");
    nbd_client_free(c);
    g_thread_join(th);
}

/* ---- The copy engine over the async API --------------------------------- */

static void copy_file_through(unsigned requests, uint32_t request_size)
{
    FakeServer s;
    g_autoptr(GError) err = NULL;
    g_autofree char *dir = g_dir_make_tmp("nbd-copy-XXXXXX", NULL);
    g_autofree char *src = g_build_filename(dir, "src", NULL);
    g_autofree char *dst = g_build_filename(dir, "dst", NULL);
    g_autofree uint8_t *data = g_malloc0(DISK_SIZE);
    g_autofree char *back = NULL;
    gsize back_len;
    NBDCopyOptions opts = {
        .connections = 1,
        .requests = requests,
        .request_size = request_size,
    };
    NBDClient *c;
    int fd;

    assert_non_null(dir);
    /* Data, a zero block and a hole, and an odd-sized tail. */
    fill_pattern(data, DISK_SIZE / 2, 0);
    memset(data + 256 * 1024, 0, 128 * 1024);
    fill_pattern(data + DISK_SIZE - 4096, 1000, 99);
    assert_true(
        g_file_set_contents(src, (const char *)data, DISK_SIZE - 3096, &err));

    server_init(&s);
    memset(s.disk, 0xee, DISK_SIZE); /* must be overwritten */
    c = server_start(&s, &err);
    assert_non_null(c);
    fd = open(src, O_RDONLY);
    assert_true(fd >= 0);
    if (!nbd_copy_from_file(fd, src, c, &opts, &err)) {
        fail_msg("copy to NBD: %s", err->message);
    }
    close(fd);
    assert_memory_equal(s.disk, data, DISK_SIZE - 3096);

    fd = open(dst, O_WRONLY | O_CREAT, 0600);
    assert_true(fd >= 0);
    if (!nbd_copy_to_file(c, fd, dst, &opts, &err)) {
        fail_msg("copy from NBD: %s", err->message);
    }
    close(fd);
    nbd_client_free(c);
    server_finish(&s);
    assert_true(s.saw_flush);
    assert_true(s.max_seen > 1 || requests == 1);
    if (requests == 1) {
        assert_int_equal(s.max_seen, 1);
    }

    assert_true(g_file_get_contents(dst, &back, &back_len, &err));
    assert_int_equal(back_len, DISK_SIZE);
    /* The export's last 3096 bytes kept the server's 0xee filler. */
    assert_memory_equal(back, data, DISK_SIZE - 3096);
    unlink(src);
    unlink(dst);
    rmdir(dir);
}

static void test_copy(void **state)
{
    (void)state;
    copy_file_through(16, 64 * 1024);
    copy_file_through(1, 256 * 1024);
    copy_file_through(64, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_out_of_order),
        cmocka_unit_test(test_in_flight_bound),
        cmocka_unit_test(test_close_timeout),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_hostile_replies),
        cmocka_unit_test(test_hostile_extended_replies),
        cmocka_unit_test(test_block_status_ext_replies),
        cmocka_unit_test(test_extended_headers_io),
        cmocka_unit_test(test_extended_headers_refused_io),
        cmocka_unit_test(test_extended_headers_off_io),
        cmocka_unit_test(test_error_offset),
        cmocka_unit_test(test_block_size),
        cmocka_unit_test(test_block_size_default),
        cmocka_unit_test(test_block_size_impossible),
        cmocka_unit_test(test_info_requests),
        cmocka_unit_test(test_list_descriptions),
        cmocka_unit_test(test_copy),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
