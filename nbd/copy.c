/*
 * The copy engine behind "qio-nbd-client copy" (see include/nbd/copy.h).
 * The range to copy is cut into one contiguous part per connection; each
 * part runs in its own thread with its own NBDClient and a fixed set of
 * request slots, each with its buffer.  The part's thread takes a free
 * slot, fills it (a local read, or nothing for an NBD read) and submits
 * it; the slot comes back when the reply has been handled on the
 * connection's reader thread (which also writes a read's data to the
 * file, at its own offset).  So at most that many requests are in
 * flight per connection, and waiting for all slots means every request
 * has completed.  Shared between threads: the local file descriptor
 * (positional I/O only), the progress counter and the first error, both
 * under one mutex.  A failure anywhere makes the parts stop submitting.
 *
 * A local side that cannot be read or written at an offset (a pipe, a
 * socket, a terminal: nbdcopy's "-") is streamed instead: in order, one
 * request at a time on the first connection, as nbdcopy does too.
 */
#include "nbd/copy.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>

#include "nbd/nbd-proto.h"
#include "util/error.h"

/* The local names nbdcopy gives a meaning of their own. */
#define COPY_STDIO_NAME "-"
#define COPY_NULL_NAME  "null:"

/* Block status is asked for this much at a time. */
#define COPY_STATUS_SPAN (1024u * 1024 * 1024)
/* Largest WRITE_ZEROES sent in one request. */
#define COPY_ZERO_MAX (32u * 1024 * 1024)

typedef struct Copy Copy;
typedef struct CopyPart CopyPart;

/* One request slot of a part, with its buffer; free ones sit in a queue. */
typedef struct {
    CopyPart *part;
    uint8_t *buf;
    uint64_t off;
    uint32_t len;
    bool local_write; /* a read whose data goes to the local file */
} CopyOp;

struct CopyPart {
    Copy *copy;
    NBDClient *client; /* owned unless it is the caller's */
    bool own_client;
    bool no_connection; /* its own connection failed: redo on the first */
    uint64_t start, end;
    GThread *thread;
    GAsyncQueue *free_ops; /* CopyOp slots not in flight */
    CopyOp *ops;
    unsigned nops;
};

struct Copy {
    const NBDCopyOptions *opts;
    int fd; /* -1: "null:", the data is thrown away */
    const char *path;
    bool sparse; /* local file is regular: holes need no write */
    /* Not seekable: copied in order by this instead of the parts. */
    bool (*stream)(Copy *copy, NBDClient *client, GError **errp);
    uint64_t total;
    uint32_t block;    /* bytes per read or write request */
    unsigned requests; /* in flight per connection */
    uint8_t *zeros;    /* block bytes of zeros, shared read-only */
    GMutex lock;
    uint64_t done;
    GError *error; /* the first failure */
    gint failed;
    bool (*run)(CopyPart *part, GError **errp);
};

static bool is_zero(const uint8_t *buf, size_t len)
{
    return len == 0 || (buf[0] == 0 && memcmp(buf, buf + 1, len - 1) == 0);
}

static void copy_progress(Copy *copy, uint64_t bytes)
{
    g_mutex_lock(&copy->lock);
    copy->done += bytes;
    if (copy->opts->progress) {
        copy->opts->progress(copy->done, copy->total,
                             copy->opts->progress_opaque);
    }
    g_mutex_unlock(&copy->lock);
}

static bool local_pwrite(Copy *copy, const void *buf, size_t len, uint64_t off,
                         GError **errp)
{
    const uint8_t *p = buf;

    while (len) {
        ssize_t n = pwrite(copy->fd, p, len, off);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            g_set_error(errp, QIO_ERROR, QIO_ERROR_FAILED,
                        "cannot write %s at offset %" G_GUINT64_FORMAT ": %s",
                        copy->path, off,
                        n < 0 ? g_strerror(errno) : "short write");
            return false;
        }
        p += n;
        len -= n;
        off += n;
    }
    return true;
}

static bool local_pread(Copy *copy, void *buf, size_t len, uint64_t off,
                        GError **errp)
{
    uint8_t *p = buf;

    while (len) {
        ssize_t n = pread(copy->fd, p, len, off);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            g_set_error(errp, QIO_ERROR, QIO_ERROR_FAILED,
                        "cannot read %s at offset %" G_GUINT64_FORMAT ": %s",
                        copy->path, off, g_strerror(errno));
            return false;
        }
        if (n == 0) {
            /* The file shrank under us: the rest reads as zeros. */
            memset(p, 0, len);
            return true;
        }
        p += n;
        len -= n;
        off += n;
    }
    return true;
}

static void copy_fail(Copy *copy, const GError *err)
{
    g_mutex_lock(&copy->lock);
    if (!copy->error) {
        copy->error = g_error_copy(err);
    }
    g_mutex_unlock(&copy->lock);
    g_atomic_int_set(&copy->failed, 1);
}

/* Zeros in the local file: nothing for a sparse file, else real zeros. */
static bool local_zero(Copy *copy, uint64_t off, uint64_t len, GError **errp)
{
    while (len && !copy->sparse) {
        size_t n = MIN(len, copy->block);

        if (!local_pwrite(copy, copy->zeros, n, off, errp)) {
            return false;
        }
        off += n;
        len -= n;
    }
    return true;
}

/*
 * A request finished (on the connection's reader thread): finish its
 * local side, count it and give its slot back.
 */
static void op_done(const GError *err, gpointer opaque)
{
    CopyOp *op = opaque;
    Copy *copy = op->part->copy;
    g_autoptr(GError) local_err = NULL;

    if (err) {
        copy_fail(copy, err);
    } else if (op->local_write && copy->fd >= 0 &&
               !g_atomic_int_get(&copy->failed) &&
               !(copy->sparse && is_zero(op->buf, op->len)) &&
               !local_pwrite(copy, op->buf, op->len, op->off, &local_err)) {
        /* Data read back as zeros stays a hole after the truncate. */
        copy_fail(copy, local_err);
    } else {
        copy_progress(copy, op->len);
    }
    g_async_queue_push(op->part->free_ops, op);
}

/* A free slot for a request at @off of @len bytes (waits for one). */
static CopyOp *op_get(CopyPart *part, uint64_t off, uint32_t len)
{
    CopyOp *op = g_async_queue_pop(part->free_ops);

    op->off = off;
    op->len = len;
    op->local_write = false;
    return op;
}

/* Submit failed: the slot was never used. */
static bool op_unused(CopyPart *part, CopyOp *op)
{
    g_async_queue_push(part->free_ops, op);
    return false;
}

/* NBD -> file: reads of [off, off+len), in flight together. */
static bool read_range(CopyPart *part, uint64_t off, uint64_t len,
                       GError **errp)
{
    Copy *copy = part->copy;

    while (len && !g_atomic_int_get(&copy->failed)) {
        uint32_t n = MIN(len, copy->block);
        CopyOp *op = op_get(part, off, n);

        op->local_write = true;
        if (!nbd_client_submit_pread(part->client, op->buf, n, off, op_done, op,
                                     errp)) {
            return op_unused(part, op);
        }
        off += n;
        len -= n;
    }
    return true;
}

/* NBD -> file, one part. */
static bool part_to_file(CopyPart *part, GError **errp)
{
    Copy *copy = part->copy;
    NBDClient *c = part->client;
    bool use_status = nbd_client_has_structured_replies(c);
    uint64_t off = part->start;

    while (off < part->end && !g_atomic_int_get(&copy->failed)) {
        uint64_t span = MIN(part->end - off, COPY_STATUS_SPAN);
        g_autoptr(GError) err = NULL;
        g_autoptr(GArray) ext = NULL;

        if (use_status) {
            ext = nbd_client_block_status(c, span, off, &err);
            if (!ext) {
                if (!g_error_matches(err, QIO_ERROR, QIO_ERROR_NOT_SUPPORTED)) {
                    g_propagate_error(errp, g_steal_pointer(&err));
                    return false;
                }
                use_status = false;
            }
        }
        if (!ext) {
            if (!read_range(part, off, span, errp)) {
                return false;
            }
            off += span;
            continue;
        }
        for (guint i = 0; i < ext->len && off < part->end; i++) {
            const NBDClientExtent *e = &g_array_index(ext, NBDClientExtent, i);
            uint64_t len = MIN(e->length, part->end - off);

            if (e->flags & NBD_STATE_ZERO) {
                if (!local_zero(copy, off, len, errp)) {
                    return false;
                }
                copy_progress(copy, len);
            } else if (!read_range(part, off, len, errp)) {
                return false;
            }
            off += len;
        }
    }
    return true;
}

/* Zero [off, off+len) of the export: WRITE_ZEROES when offered. */
static bool zero_range(CopyPart *part, uint64_t off, uint64_t len,
                       GError **errp)
{
    Copy *copy = part->copy;
    NBDClient *c = part->client;
    bool can_zero = nbd_client_get_flags(c) & NBD_FLAG_SEND_WRITE_ZEROES;

    while (len && !g_atomic_int_get(&copy->failed)) {
        uint32_t n = MIN(len, can_zero ? COPY_ZERO_MAX : copy->block);
        CopyOp *op = op_get(part, off, n);
        bool ok = can_zero
                      ? nbd_client_submit_zero(c, n, off, 0, op_done, op, errp)
                      : nbd_client_submit_pwrite(c, copy->zeros, n, off, 0,
                                                 op_done, op, errp);

        if (!ok) {
            return op_unused(part, op);
        }
        off += n;
        len -= n;
    }
    return true;
}

/*
 * The next data extent of the local file at or after @off, clipped to
 * @end: *data_start..*data_end.  Without SEEK_DATA support everything is
 * data.
 */
static void next_data(Copy *copy, uint64_t off, uint64_t end,
                      uint64_t *data_start, uint64_t *data_end)
{
    off_t d = lseek(copy->fd, off, SEEK_DATA);
    off_t h;

    if (d < 0) {
        /* ENXIO: only a hole is left; anything else: no SEEK_DATA. */
        *data_start = errno == ENXIO ? end : off;
        *data_end = end;
        return;
    }
    *data_start = MIN((uint64_t)d, end);
    h = lseek(copy->fd, d, SEEK_HOLE);
    *data_end = h < 0 ? end : MIN((uint64_t)h, end);
}

/* file -> NBD, one part. */
static bool part_from_file(CopyPart *part, GError **errp)
{
    Copy *copy = part->copy;
    NBDClient *c = part->client;
    uint64_t off = part->start;

    while (off < part->end && !g_atomic_int_get(&copy->failed)) {
        uint64_t ds, de;

        next_data(copy, off, part->end, &ds, &de);
        if (ds > off && !zero_range(part, off, ds - off, errp)) {
            return false;
        }
        for (off = ds; off < de && !g_atomic_int_get(&copy->failed);) {
            uint32_t n = MIN(de - off, copy->block);
            CopyOp *op = op_get(part, off, n);

            if (!local_pread(copy, op->buf, n, off, errp)) {
                return op_unused(part, op);
            }
            if (is_zero(op->buf, n)) {
                op_unused(part, op);
                if (!zero_range(part, off, n, errp)) {
                    return false;
                }
            } else if (!nbd_client_submit_pwrite(c, op->buf, n, off, 0, op_done,
                                                 op, errp)) {
                return op_unused(part, op);
            }
            off += n;
        }
        off = MAX(off, de);
    }
    return true;
}

/* Wait until every request of @part has completed. */
static void part_drain(CopyPart *part)
{
    for (unsigned i = 0; i < part->nops; i++) {
        g_async_queue_pop(part->free_ops);
    }
}

static void part_init_ops(CopyPart *part)
{
    Copy *copy = part->copy;

    part->nops = copy->requests;
    part->ops = g_new0(CopyOp, part->nops);
    part->free_ops = g_async_queue_new();
    nbd_client_set_max_requests(part->client, part->nops);
    for (unsigned i = 0; i < part->nops; i++) {
        part->ops[i].part = part;
        part->ops[i].buf = g_malloc(copy->block);
        g_async_queue_push(part->free_ops, &part->ops[i]);
    }
}

static void part_free_ops(CopyPart *part)
{
    for (unsigned i = 0; i < part->nops; i++) {
        g_free(part->ops[i].buf);
    }
    g_clear_pointer(&part->ops, g_free);
    g_clear_pointer(&part->free_ops, g_async_queue_unref);
}

static gpointer part_thread(gpointer opaque)
{
    CopyPart *part = opaque;
    Copy *copy = part->copy;
    g_autoptr(GError) err = NULL;
    bool ok;

    if (!part->client) {
        part->client = copy->opts->connect(copy->opts->connect_opaque, &err);
        part->own_client = part->client != NULL;
    }
    if (!part->client) {
        /*
         * A server announcing multi-conn may still cap its clients
         * (qemu-nbd -e 2): the first connection takes this part over
         * once its own is done.
         */
        g_info("extra NBD connection not made (%s); the first connection "
               "copies its part",
               err ? err->message : "unknown error");
        part->no_connection = true;
        return NULL;
    }
    part_init_ops(part);
    ok = copy->run(part, &err);
    part_drain(part);
    part_free_ops(part);
    if (ok && copy->run == part_from_file &&
        (nbd_client_get_flags(part->client) & NBD_FLAG_SEND_FLUSH) &&
        !g_atomic_int_get(&copy->failed)) {
        /* Everything written on this connection is acknowledged. */
        ok = nbd_client_flush(part->client, &err);
    }
    if (!ok) {
        copy_fail(copy, err);
    }
    return NULL;
}

/* Append @len bytes to a stream. */
static bool stream_write(Copy *copy, const void *buf, size_t len, GError **errp)
{
    const uint8_t *p = buf;

    while (len) {
        ssize_t n = write(copy->fd, p, len);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            g_set_error(errp, QIO_ERROR,
                        n < 0 && errno == EPIPE ? QIO_ERROR_BROKEN_PIPE
                                                : QIO_ERROR_FAILED,
                        "cannot write to %s: %s", copy->path,
                        n < 0 ? g_strerror(errno) : "short write");
            return false;
        }
        p += n;
        len -= n;
    }
    return true;
}

/* Up to @len bytes of a stream in *got; fewer only at its end. */
static bool stream_read(Copy *copy, uint8_t *buf, size_t len, size_t *got,
                        GError **errp)
{
    *got = 0;
    while (*got < len) {
        ssize_t n = read(copy->fd, buf + *got, len - *got);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            g_set_error(errp, QIO_ERROR, QIO_ERROR_FAILED, "cannot read %s: %s",
                        copy->path, g_strerror(errno));
            return false;
        }
        if (n == 0) {
            break;
        }
        *got += n;
    }
    return true;
}

/* NBD -> stream: the export in order, zero ranges as written zeros. */
static bool stream_to_fd(Copy *copy, NBDClient *c, GError **errp)
{
    g_autofree uint8_t *buf = g_malloc(copy->block);
    bool use_status = nbd_client_has_structured_replies(c);
    uint64_t off = 0;

    while (off < copy->total) {
        uint64_t span = MIN(copy->total - off, COPY_STATUS_SPAN);
        g_autoptr(GError) err = NULL;
        g_autoptr(GArray) ext = NULL;
        NBDClientExtent all = { .length = span };

        if (use_status) {
            ext = nbd_client_block_status(c, span, off, &err);
            if (!ext) {
                if (!g_error_matches(err, QIO_ERROR, QIO_ERROR_NOT_SUPPORTED)) {
                    g_propagate_error(errp, g_steal_pointer(&err));
                    return false;
                }
                use_status = false;
            }
        }
        for (guint i = 0; i < (ext ? ext->len : 1) && off < copy->total; i++) {
            const NBDClientExtent *e =
                ext ? &g_array_index(ext, NBDClientExtent, i) : &all;
            uint64_t len = MIN(e->length, copy->total - off);

            while (len) {
                uint32_t n = MIN(len, copy->block);
                const uint8_t *data = copy->zeros;

                if (!(e->flags & NBD_STATE_ZERO)) {
                    if (!nbd_client_pread(c, buf, n, off, errp)) {
                        return false;
                    }
                    data = buf;
                }
                if (!stream_write(copy, data, n, errp)) {
                    return false;
                }
                copy_progress(copy, n);
                off += n;
                len -= n;
            }
        }
    }
    return true;
}

/*
 * Stream -> NBD from offset 0 until the stream ends; the rest of the
 * export keeps what it held.  Its size is known only at its end: more
 * than the export holds is an error.
 */
static bool stream_from_fd(Copy *copy, NBDClient *c, GError **errp)
{
    g_autofree uint8_t *buf = g_malloc(copy->block);
    uint64_t export_size = nbd_client_get_size(c);
    uint16_t flags = nbd_client_get_flags(c);
    uint64_t off = 0;

    for (;;) {
        size_t n;
        bool ok;

        if (!stream_read(copy, buf, copy->block, &n, errp)) {
            return false;
        }
        if (n == 0) {
            break;
        }
        if (n > export_size - off) {
            g_set_error(errp, QIO_ERROR, QIO_ERROR_TOO_LARGE,
                        "%s holds more than the NBD export's "
                        "%" G_GUINT64_FORMAT " bytes",
                        copy->path, export_size);
            return false;
        }
        if ((flags & NBD_FLAG_SEND_WRITE_ZEROES) && is_zero(buf, n)) {
            ok = nbd_client_zero(c, n, off, 0, errp);
        } else {
            ok = nbd_client_pwrite(c, buf, n, off, 0, errp);
        }
        if (!ok) {
            return false;
        }
        off += n;
    }
    g_debug("%s: %" G_GUINT64_FORMAT " bytes written to the NBD export",
            copy->path, off);
    return !(flags & NBD_FLAG_SEND_FLUSH) || nbd_client_flush(c, errp);
}

static bool copy_run(Copy *copy, NBDClient *client, GError **errp)
{
    unsigned n = MAX(copy->opts->connections, 1);
    g_autofree CopyPart *parts = NULL;
    g_autofree uint8_t *zeros = NULL;
    uint32_t bmin, bpref, bmax;
    uint64_t step;

    if (n > NBD_COPY_MAX_CONNECTIONS) {
        g_set_error(errp, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT,
                    "%u connections requested; at most %d are allowed", n,
                    NBD_COPY_MAX_CONNECTIONS);
        return false;
    }
    copy->requests =
        copy->opts->requests ? copy->opts->requests : NBD_COPY_DEFAULT_REQUESTS;
    if (copy->requests > NBD_CLIENT_MAX_REQUESTS) {
        g_set_error(errp, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT,
                    "%u requests in flight requested; at most %d are "
                    "allowed",
                    copy->requests, NBD_CLIENT_MAX_REQUESTS);
        return false;
    }
    /* The request size: whole minimum blocks, within the server's max. */
    nbd_client_get_block_sizes(client, &bmin, &bpref, &bmax);
    copy->block = copy->opts->request_size ? copy->opts->request_size
                                           : NBD_COPY_DEFAULT_REQUEST_SIZE;
    copy->block = MIN(copy->block, nbd_client_get_max_request(client));
    copy->block = MAX(copy->block - copy->block % bmin, bmin);
    zeros = g_malloc0(copy->block);
    copy->zeros = zeros;
    if (copy->stream) {
        bool ok;

        g_debug("%s cannot be read or written at an offset: streaming, one "
                "request of %u bytes at a time",
                copy->path, copy->block);
        g_mutex_init(&copy->lock);
        ok = copy->stream(copy, client, errp);
        g_mutex_clear(&copy->lock);
        return ok;
    }
    if (n > 1 && !copy->opts->connect) {
        g_set_error(errp, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT,
                    "several connections need a way to open them");
        return false;
    }
    /*
     * A server that does not offer multi-conn may serve one client at a
     * time (qemu-nbd without -e) or keep caches per connection, so more
     * connections could hang or see stale data: use one.
     */
    if (!(nbd_client_get_flags(client) & NBD_FLAG_CAN_MULTI_CONN)) {
        n = 1;
    }
    /* Parts on request boundaries; tiny copies use one connection. */
    step = (copy->total / n / copy->block + 1) * copy->block;
    n = MAX(1, MIN(n, (copy->total + step - 1) / step));
    g_debug("%s: %" G_GUINT64_FORMAT " bytes over %u connection(s), up to %u "
            "requests of %u bytes in flight on each",
            copy->path, copy->total, n, copy->requests, copy->block);
    parts = g_new0(CopyPart, n);
    g_mutex_init(&copy->lock);
    for (unsigned i = 0; i < n; i++) {
        parts[i].copy = copy;
        parts[i].start = MIN(i * step, copy->total);
        parts[i].end =
            i + 1 == n ? copy->total : MIN((i + 1) * step, copy->total);
        parts[i].client = i == 0 ? client : NULL;
    }
    for (unsigned i = 1; i < n; i++) {
        parts[i].thread = g_thread_new("nbd-copy", part_thread, &parts[i]);
    }
    part_thread(&parts[0]);
    for (unsigned i = 1; i < n; i++) {
        g_thread_join(parts[i].thread);
    }
    for (unsigned i = 1; i < n && !g_atomic_int_get(&copy->failed); i++) {
        if (parts[i].no_connection) {
            parts[i].client = client;
            part_thread(&parts[i]);
        }
    }
    for (unsigned i = 0; i < n; i++) {
        if (parts[i].own_client) {
            nbd_client_free(parts[i].client);
        }
    }
    g_mutex_clear(&copy->lock);
    if (copy->error) {
        g_propagate_error(errp, copy->error);
        return false;
    }
    return true;
}

bool nbd_copy_to_file(NBDClient *client, int fd, const char *path,
                      const NBDCopyOptions *opts, GError **errp)
{
    Copy copy = {
        .opts = opts,
        .fd = fd,
        .path = path,
        .run = part_to_file,
        .total = nbd_client_get_size(client),
    };
    struct stat st;

    if (fstat(fd, &st) < 0) {
        g_set_error(errp, QIO_ERROR, QIO_ERROR_FAILED, "cannot stat %s: %s",
                    path, g_strerror(errno));
        return false;
    }
    copy.sparse = S_ISREG(st.st_mode);
    if (!(S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)) ||
        (fcntl(fd, F_GETFL) & O_APPEND)) {
        /* A pipe, or a file that takes writes only at its end. */
        copy.stream = stream_to_fd;
        copy.sparse = false;
    }
    if (copy.sparse &&
        (ftruncate(fd, 0) < 0 || ftruncate(fd, copy.total) < 0)) {
        g_set_error(errp, QIO_ERROR, QIO_ERROR_FAILED,
                    "cannot set the size of %s to %" G_GUINT64_FORMAT ": %s",
                    path, copy.total, g_strerror(errno));
        return false;
    }
    return copy_run(&copy, client, errp);
}

bool nbd_copy_from_file(int fd, const char *path, NBDClient *client,
                        const NBDCopyOptions *opts, GError **errp)
{
    Copy copy = {
        .opts = opts,
        .fd = fd,
        .path = path,
        .run = part_from_file,
    };
    uint64_t export_size = nbd_client_get_size(client);
    struct stat st;
    off_t end;

    if (fstat(fd, &st) < 0) {
        g_set_error(errp, QIO_ERROR, QIO_ERROR_FAILED, "cannot stat %s: %s",
                    path, g_strerror(errno));
        return false;
    }
    if (nbd_client_get_flags(client) & NBD_FLAG_READ_ONLY) {
        g_set_error(errp, QIO_ERROR, QIO_ERROR_PERMISSION_DENIED,
                    "the NBD export is read-only; cannot copy %s to it", path);
        return false;
    }
    if (!(S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))) {
        /* A pipe: its size is known at its end. */
        copy.stream = stream_from_fd;
        return copy_run(&copy, client, errp);
    }
    end = S_ISREG(st.st_mode) ? st.st_size : lseek(fd, 0, SEEK_END);
    if (end < 0) {
        g_set_error(errp, QIO_ERROR, QIO_ERROR_FAILED,
                    "cannot find the size of %s: %s", path, g_strerror(errno));
        return false;
    }
    copy.total = end;
    if (copy.total > export_size) {
        g_set_error(errp, QIO_ERROR, QIO_ERROR_TOO_LARGE,
                    "%s is %" G_GUINT64_FORMAT " bytes, larger than the "
                    "NBD export (%" G_GUINT64_FORMAT " bytes)",
                    path, copy.total, export_size);
        return false;
    }
    return copy_run(&copy, client, errp);
}

bool nbd_copy_to_null(NBDClient *client, const NBDCopyOptions *opts,
                      GError **errp)
{
    Copy copy = {
        .opts = opts,
        .fd = -1,
        .path = COPY_NULL_NAME,
        .run = part_to_file,
        .sparse = true,
        .total = nbd_client_get_size(client),
    };

    return copy_run(&copy, client, errp);
}

bool nbd_copy_local(NBDClient *client, const char *local, bool to_local,
                    const NBDCopyOptions *opts, GError **errp)
{
    bool ok;
    int fd;

    if (to_local && !strcmp(local, COPY_NULL_NAME)) {
        return nbd_copy_to_null(client, opts, errp);
    }
    if (!strcmp(local, COPY_STDIO_NAME)) {
        return to_local ? nbd_copy_to_file(client, STDOUT_FILENO,
                                           "standard output", opts, errp)
                        : nbd_copy_from_file(STDIN_FILENO, "standard input",
                                             client, opts, errp);
    }
    fd = to_local ? open(local, O_WRONLY | O_CREAT | O_CLOEXEC, 0644)
                  : open(local, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        qio_error_setg_errno(errp, errno, "cannot open %s", local);
        return false;
    }
    ok = to_local ? nbd_copy_to_file(client, fd, local, opts, errp)
                  : nbd_copy_from_file(fd, local, client, opts, errp);
    if (close(fd) < 0 && ok) {
        g_set_error(errp, QIO_ERROR, QIO_ERROR_FAILED, "cannot close %s: %s",
                    local, g_strerror(errno));
        ok = false;
    }
    return ok;
}
