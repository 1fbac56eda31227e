/*
 * The copy engine behind "qio-nbd-client copy" (see include/nbd/copy.h).
 * The range to copy is cut into one contiguous part per connection; each
 * part runs in its own thread with its own NBDClient, so nothing below is
 * shared between threads except the local file descriptor (pread/pwrite
 * are positional), the progress counter and the first error, both under
 * one mutex.  A failure in one part makes the others stop at their next
 * block.
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

/* Bytes per read or write request and per all-zero check. */
#define COPY_BLOCK (2u * 1024 * 1024)

typedef struct Copy Copy;

typedef struct {
    Copy *copy;
    NBDClient *client;     /* owned unless it is the caller's */
    bool own_client;
    uint64_t start, end;
    GThread *thread;
} CopyPart;

struct Copy {
    const NBDCopyOptions *opts;
    int fd;
    const char *path;
    bool sparse;           /* local file is regular: holes need no write */
    uint64_t total;
    GMutex lock;
    uint64_t done;
    GError *error;         /* the first failure */
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

static bool local_pwrite(Copy *copy, const void *buf, size_t len,
                         uint64_t off, GError **errp)
{
    const uint8_t *p = buf;

    while (len) {
        ssize_t n = pwrite(copy->fd, p, len, off);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            g_set_error(errp, QIO_ERROR, QIO_ERROR_FAILED,
                        "cannot write %s at offset %" G_GUINT64_FORMAT
                        ": %s", copy->path, off,
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
                        "cannot read %s at offset %" G_GUINT64_FORMAT
                        ": %s", copy->path, off, g_strerror(errno));
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

/* Zeros in the local file: nothing for a sparse file, else real zeros. */
static bool local_zero(Copy *copy, const uint8_t *zeros, uint64_t off,
                       uint64_t len, GError **errp)
{
    while (len && !copy->sparse) {
        size_t n = MIN(len, COPY_BLOCK);

        if (!local_pwrite(copy, zeros, n, off, errp)) {
            return false;
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
    g_autofree uint8_t *buf = g_malloc(COPY_BLOCK);
    g_autofree uint8_t *zeros = copy->sparse ? NULL : g_malloc0(COPY_BLOCK);
    bool use_status = nbd_client_has_structured_replies(c);
    uint64_t off = part->start;

    while (off < part->end) {
        uint64_t want = MIN(part->end - off, NBD_CLIENT_MAX_REQUEST);
        uint64_t len = want;
        uint32_t flags = 0;

        if (g_atomic_int_get(&copy->failed)) {
            return true;
        }
        if (use_status) {
            g_autoptr(GError) err = NULL;
            g_autoptr(GArray) ext = nbd_client_block_status(c, want, off,
                                                            &err);

            if (ext) {
                NBDClientExtent *e = &g_array_index(ext, NBDClientExtent, 0);

                len = MIN(MAX(e->length, 1), want);
                flags = e->flags;
            } else if (g_error_matches(err, QIO_ERROR,
                                       QIO_ERROR_NOT_SUPPORTED)) {
                use_status = false;
            } else {
                g_propagate_error(errp, g_steal_pointer(&err));
                return false;
            }
        }
        if (flags & NBD_STATE_ZERO) {
            if (!local_zero(copy, zeros, off, len, errp)) {
                return false;
            }
            copy_progress(copy, len);
            off += len;
            continue;
        }
        for (uint64_t end = off + len; off < end;) {
            uint32_t n = MIN(end - off, COPY_BLOCK);

            if (g_atomic_int_get(&copy->failed)) {
                return true;
            }
            if (!nbd_client_pread(c, buf, n, off, errp)) {
                return false;
            }
            if (copy->sparse && is_zero(buf, n)) {
                /* Already a hole after the truncate: keep it one. */
            } else if (!local_pwrite(copy, buf, n, off, errp)) {
                return false;
            }
            copy_progress(copy, n);
            off += n;
        }
    }
    return true;
}

/* Zero [off, off+len) of the export: WRITE_ZEROES when offered. */
static bool nbd_zero_range(Copy *copy, NBDClient *c, const uint8_t *zeros,
                           uint64_t off, uint64_t len, GError **errp)
{
    bool can_zero = nbd_client_get_flags(c) & NBD_FLAG_SEND_WRITE_ZEROES;

    while (len) {
        uint32_t n = MIN(len, can_zero ? NBD_CLIENT_MAX_REQUEST
                                       : COPY_BLOCK);

        if (g_atomic_int_get(&copy->failed)) {
            return true;
        }
        if (can_zero ? !nbd_client_zero(c, n, off, 0, errp)
                     : !nbd_client_pwrite(c, zeros, n, off, 0, errp)) {
            return false;
        }
        copy_progress(copy, n);
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
    g_autofree uint8_t *buf = g_malloc(COPY_BLOCK);
    g_autofree uint8_t *zeros = g_malloc0(COPY_BLOCK);
    uint64_t off = part->start;

    while (off < part->end) {
        uint64_t ds, de;

        next_data(copy, off, part->end, &ds, &de);
        if (ds > off && !nbd_zero_range(copy, c, zeros, off, ds - off,
                                        errp)) {
            return false;
        }
        for (off = ds; off < de;) {
            uint32_t n = MIN(de - off, COPY_BLOCK);

            if (g_atomic_int_get(&copy->failed)) {
                return true;
            }
            if (!local_pread(copy, buf, n, off, errp)) {
                return false;
            }
            if (is_zero(buf, n)) {
                if (!nbd_zero_range(copy, c, zeros, off, n, errp)) {
                    return false;
                }
            } else {
                if (!nbd_client_pwrite(c, buf, n, off, 0, errp)) {
                    return false;
                }
                copy_progress(copy, n);
            }
            off += n;
        }
    }
    if ((nbd_client_get_flags(c) & NBD_FLAG_SEND_FLUSH) &&
        !g_atomic_int_get(&copy->failed)) {
        return nbd_client_flush(c, errp);
    }
    return true;
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
    ok = part->client && copy->run(part, &err);
    if (!ok) {
        g_mutex_lock(&copy->lock);
        if (!copy->error) {
            copy->error = g_steal_pointer(&err);
        }
        g_mutex_unlock(&copy->lock);
        g_atomic_int_set(&copy->failed, 1);
    }
    return NULL;
}

static bool copy_run(Copy *copy, NBDClient *client, GError **errp)
{
    unsigned n = MAX(copy->opts->connections, 1);
    g_autofree CopyPart *parts = NULL;
    uint64_t step;

    if (n > NBD_COPY_MAX_CONNECTIONS) {
        g_set_error(errp, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT,
                    "%u connections requested; at most %d are allowed", n,
                    NBD_COPY_MAX_CONNECTIONS);
        return false;
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
    /* Parts on COPY_BLOCK boundaries; tiny copies use one connection. */
    step = (copy->total / n / COPY_BLOCK + 1) * COPY_BLOCK;
    n = MAX(1, MIN(n, (copy->total + step - 1) / step));
    parts = g_new0(CopyPart, n);
    g_mutex_init(&copy->lock);
    for (unsigned i = 0; i < n; i++) {
        parts[i].copy = copy;
        parts[i].start = MIN(i * step, copy->total);
        parts[i].end = i + 1 == n ? copy->total
                                  : MIN((i + 1) * step, copy->total);
        parts[i].client = i == 0 ? client : NULL;
    }
    for (unsigned i = 1; i < n; i++) {
        parts[i].thread = g_thread_new("nbd-copy", part_thread, &parts[i]);
    }
    part_thread(&parts[0]);
    for (unsigned i = 1; i < n; i++) {
        g_thread_join(parts[i].thread);
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
        .opts = opts, .fd = fd, .path = path, .run = part_to_file,
        .total = nbd_client_get_size(client),
    };
    struct stat st;

    if (fstat(fd, &st) < 0) {
        g_set_error(errp, QIO_ERROR, QIO_ERROR_FAILED, "cannot stat %s: %s",
                    path, g_strerror(errno));
        return false;
    }
    copy.sparse = S_ISREG(st.st_mode);
    if (copy.sparse &&
        (ftruncate(fd, 0) < 0 || ftruncate(fd, copy.total) < 0)) {
        g_set_error(errp, QIO_ERROR, QIO_ERROR_FAILED,
                    "cannot set the size of %s to %" G_GUINT64_FORMAT
                    ": %s", path, copy.total, g_strerror(errno));
        return false;
    }
    return copy_run(&copy, client, errp);
}

bool nbd_copy_from_file(int fd, const char *path, NBDClient *client,
                        const NBDCopyOptions *opts, GError **errp)
{
    Copy copy = {
        .opts = opts, .fd = fd, .path = path, .run = part_from_file,
    };
    uint64_t export_size = nbd_client_get_size(client);
    struct stat st;
    off_t end;

    if (fstat(fd, &st) < 0) {
        g_set_error(errp, QIO_ERROR, QIO_ERROR_FAILED, "cannot stat %s: %s",
                    path, g_strerror(errno));
        return false;
    }
    end = S_ISREG(st.st_mode) ? st.st_size : lseek(fd, 0, SEEK_END);
    if (end < 0) {
        g_set_error(errp, QIO_ERROR, QIO_ERROR_FAILED,
                    "cannot find the size of %s: %s", path,
                    g_strerror(errno));
        return false;
    }
    copy.total = end;
    if (nbd_client_get_flags(client) & NBD_FLAG_READ_ONLY) {
        g_set_error(errp, QIO_ERROR, QIO_ERROR_PERMISSION_DENIED,
                    "the NBD export is read-only; cannot copy %s to it",
                    path);
        return false;
    }
    if (copy.total > export_size) {
        g_set_error(errp, QIO_ERROR, QIO_ERROR_TOO_LARGE,
                    "%s is %" G_GUINT64_FORMAT " bytes, larger than the "
                    "NBD export (%" G_GUINT64_FORMAT " bytes)", path,
                    copy.total, export_size);
        return false;
    }
    return copy_run(&copy, client, errp);
}
