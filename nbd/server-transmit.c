/*
 * NBD server: the transmission phase.
 *
 * The client's thread (the reader) reads requests and hands them to a few
 * worker threads of the client's own, so many requests are in flight and
 * replies come back in completion order.  After NBD_OPT_EXTENDED_HEADERS
 * every request and reply of the connection uses the 32-byte extended
 * headers, with 64-bit effect lengths; payloads stay bounded by the
 * maximum block size.  The export is reached only through its
 * NBDExportOps.
 *
 * Copyright (c) qio contributors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <errno.h>
#include <string.h>
#include <sys/uio.h>

#include "io/channel-socket.h"
#include "io/channel-tls.h"
#include "server-internal.h"

/* Most extents one BLOCK_STATUS reply carries. */
#define NBD_MAX_EXTENTS 1024

/*
 * The client's thread reads requests (and WRITE payloads) and queues them
 * for the client's workers, which do the file I/O and send the replies;
 * replies leave in completion order, each one whole under send_lock.
 *
 * Memory is bounded per client and in total (see "Payload memory"
 * below): before it reads a request's payload or queues it, the reader
 * reserves the payload's buffer, and waits while the client or the
 * server has no room.  A client that does not take its replies thus
 * stops being read from, and TCP back-pressures it.
 */

/* Worker threads per client. */
#define NBD_SERVER_WORKERS 4
/* Requests in flight per client. */
#define NBD_SERVER_INFLIGHT_REQUESTS 256

typedef struct NBDServerReq {
    NBDRequest req;
    NBDBuf buf;    /* WRITE payload, or none */
    size_t charge; /* bytes counted against the in-flight budget */
} NBDServerReq;

/* Marks the connection dead; the reader notices at its next read. */
static void nbd_conn_fail(NBDServerConn *client)
{
    if (!g_atomic_int_exchange(&client->failed, 1)) {
        qio_channel_shutdown(client->master, QIO_CHANNEL_SHUTDOWN_BOTH, NULL);
    }
}

/*
 * One reply, all of its pieces in one go so replies never interleave;
 * replies held back in @batch (the reader's, or NULL) go first, in the
 * same call.
 */
static bool nbd_send_iov(NBDServerConn *client, NBDReplyBatch *batch,
                         struct iovec *iov, size_t niov)
{
    struct iovec all[4];
    size_t n = 0;
    bool ok;

    g_assert(niov < G_N_ELEMENTS(all));
    if (g_atomic_int_get(&client->failed)) {
        return false;
    }
    if (batch && batch->len) {
        all[n++] = (struct iovec){ batch->buf, batch->len };
    }
    memcpy(all + n, iov, niov * sizeof(*iov));
    n += niov;
    g_mutex_lock(&client->send_lock);
    ok = qio_channel_writev_all(client->ioc, all, n, NULL) == 0;
    g_mutex_unlock(&client->send_lock);
    if (batch) {
        batch->len = 0;
        batch->count = 0;
    }
    if (!ok) {
        nbd_conn_fail(client);
    }
    return ok;
}

/*
 * On the reader, a short reply is held back while more requests wait:
 * one send (and one wakeup of the client) for several replies, which is
 * most of what a stream of writes costs besides the copies.  Sent by
 * nbd_batch_flush() before the reader would wait for input, or when
 * full, or with the next reply the reader sends.
 */
static bool nbd_batch_add(NBDReplyBatch *batch, struct iovec *iov, size_t niov)
{
    size_t total = 0;

    if (!batch || !batch->enabled) {
        return false;
    }
    for (size_t i = 0; i < niov; i++) {
        total += iov[i].iov_len;
    }
    if (total > NBD_BATCH_REPLY_MAX || batch->count + 1 >= NBD_BATCH_REPLIES) {
        return false; /* goes out now, with what is held */
    }
    for (size_t i = 0; i < niov; i++) {
        memcpy(batch->buf + batch->len, iov[i].iov_base, iov[i].iov_len);
        batch->len += iov[i].iov_len;
    }
    batch->count++;
    return true;
}

/*
 * Bytes the reader can have without waiting: the socket's queue, plus
 * what TLS holds (read ahead, or decrypted).  Ciphertext counts as data,
 * a little more than it will be: good enough to tell a stream of
 * requests from a pause.
 */
static size_t nbd_input_ready(NBDServerConn *client)
{
    return qio_channel_input_pending(client->ioc);
}

/*
 * Sends held-back replies unless the next @need bytes the reader wants
 * are already there (0: send them now).  Called before every read that
 * could wait: a request header, or a write's payload, which may take
 * long to arrive behind a slow link.
 */
static bool nbd_batch_flush(NBDServerConn *client, NBDReplyBatch *batch,
                            size_t need)
{
    struct iovec none[1] = { { NULL, 0 } };

    if (!batch->len || (need && nbd_input_ready(client) >= need)) {
        return true;
    }
    return nbd_send_iov(client, batch, none, 0);
}

static bool nbd_send_reply(NBDServerConn *client, NBDReplyBatch *batch,
                           struct iovec *iov, size_t niov)
{
    return nbd_batch_add(batch, iov, niov) ||
           nbd_send_iov(client, batch, iov, niov);
}

static bool nbd_send_simple(NBDServerConn *client, NBDReplyBatch *batch,
                            uint64_t cookie, uint32_t err, const void *data,
                            size_t len)
{
    NBDSimpleReply rep = { .error = err, .cookie = cookie };
    uint8_t hdr[NBD_SIMPLE_REPLY_SIZE];
    struct iovec iov[2] = {
        { hdr, sizeof(hdr) },
        { (void *)data, len },
    };

    nbd_encode_simple_reply(hdr, &rep);
    return nbd_send_reply(client, batch, iov, len ? 2 : 1);
}

/*
 * One reply chunk to @req: a structured one, or with extended headers
 * an extended one, which also echoes the request's offset.
 */
static bool nbd_send_chunk(NBDServerConn *client, NBDReplyBatch *batch,
                           const NBDRequest *req, uint16_t flags, uint16_t type,
                           const void *pre, size_t prelen, const void *data,
                           size_t len)
{
    uint8_t hdr[NBD_EXTENDED_REPLY_SIZE];
    struct iovec iov[3] = {
        { hdr, 0 },
        { (void *)pre, prelen },
        { (void *)data, len },
    };

    if (client->extended) {
        NBDExtendedReply rep = {
            .flags = flags,
            .type = type,
            .cookie = req->cookie,
            .offset = req->offset,
            .length = prelen + len,
        };

        nbd_encode_extended_reply(hdr, &rep);
        iov[0].iov_len = NBD_EXTENDED_REPLY_SIZE;
    } else {
        NBDStructuredReply rep = {
            .flags = flags,
            .type = type,
            .cookie = req->cookie,
            .length = prelen + len,
        };

        nbd_encode_structured_reply(hdr, &rep);
        iov[0].iov_len = NBD_STRUCTURED_REPLY_SIZE;
    }
    return nbd_send_reply(client, batch, iov, len ? 3 : prelen ? 2 : 1);
}

static void nbd_log_error(NBDServerConn *client, const NBDRequest *req,
                          uint32_t err, const char *msg)
{
    g_info("NBD client %s: %s at %" G_GUINT64_FORMAT "+%" G_GUINT64_FORMAT
           ": %s: %s",
           qio_channel_get_name(client->master), nbd_cmd_name(req->type),
           req->offset, req->length, nbd_err_name(err), msg);
}

/* A reply without data: success, or an error with a message. */
static bool nbd_send_status(NBDServerConn *client, NBDReplyBatch *batch,
                            const NBDRequest *req, uint32_t err,
                            const char *msg)
{
    uint8_t pre[6];
    size_t mlen;

    if (err) {
        nbd_log_error(client, req, err, msg);
    }
    if (!client->structured) {
        return nbd_send_simple(client, batch, req->cookie, err, NULL, 0);
    }
    if (!err) {
        return nbd_send_chunk(client, batch, req, NBD_REPLY_FLAG_DONE,
                              NBD_REPLY_TYPE_NONE, NULL, 0, NULL, 0);
    }
    mlen = MIN(strlen(msg), NBD_MAX_STRING_LENGTH);
    nbd_put_be32(pre, err);
    nbd_put_be16(pre + 4, mlen);
    return nbd_send_chunk(client, batch, req, NBD_REPLY_FLAG_DONE,
                          NBD_REPLY_TYPE_ERROR, pre, 6, msg, mlen);
}

/* Errno-style result (0 or -errno) as a reply. */
static bool nbd_send_result(NBDServerConn *client, NBDReplyBatch *batch,
                            const NBDRequest *req, int ret)
{
    return nbd_send_status(client, batch, req,
                           ret ? nbd_errno_to_wire(-ret) : 0,
                           ret ? g_strerror(-ret) : NULL);
}

static bool nbd_range_ok(NBDExport *exp, const NBDRequest *req)
{
    return req->offset <= exp->size && req->length <= exp->size - req->offset;
}

/* ---- Payload memory ------------------------------------------------------ */

/*
 * Each READ and WRITE holds a payload buffer from the moment the reader
 * reserves it until the reply has gone out; a client that does not read
 * its replies holds them for as long as it likes.  So buffers are
 * reserved before they exist, against three figures:
 *
 * - NBD_SERVER_CLIENT_RESERVED (2 MiB) per client, always available: a
 *   client is never starved by others, and the usual request sizes
 *   (qemu's 64 KiB to 2 MiB, nbdcopy's 256 KiB) can flow.
 * - The rest is drawn on one budget the server shares,
 *   NBD_SERVER_MEMORY_LIMIT (256 MiB) by default: four clients at full
 *   speed, or sixteen stalled ones holding half of what they held when
 *   each could keep a 32 MiB read (16 x 33 MiB = 532 MB).
 * - NBD_SERVER_CLIENT_MEMORY_LIMIT (64 MiB) per client: what one client
 *   needs for full speed (nbdcopy keeps 64 x 256 KiB in flight), so that
 *   one client cannot take the whole budget.
 *
 * A request is charged the size of the buffer it will get: at least
 * NBD_BUF_MIN, so that 256 tiny requests cannot hold 256 buffers for
 * nothing.  One request larger than the budget left is admitted when
 * nothing else draws on it, so a small budget cannot wedge a client.
 *
 * Fresh memory for every request costs a page fault per page, more than
 * the data copy, so freed buffers go to one pool the server shares,
 * NBD_SERVER_POOL_BYTES (16 MiB) at most, and the pool is emptied when
 * the last client leaves: an idle client keeps nothing.  Buffers are
 * 4 KiB aligned (what O_DIRECT needs).
 */
#define NBD_BUF_MIN (256u * 1024)

/* The capacity of the buffer for a payload of @len bytes. */
static size_t nbd_buf_size(size_t len)
{
    return MAX(len, NBD_BUF_MIN);
}

/* What a client holding @held bytes draws on the server's budget. */
static size_t nbd_drawn(size_t held)
{
    return held > NBD_SERVER_CLIENT_RESERVED ? held - NBD_SERVER_CLIENT_RESERVED
                                             : 0;
}

void nbd_mem_init(NBDServer *server)
{
    g_mutex_init(&server->mem_lock);
    g_cond_init(&server->mem_cond);
    server->mem_limit = NBD_SERVER_MEMORY_LIMIT;
    server->mem_client_limit = NBD_SERVER_CLIENT_MEMORY_LIMIT;
    server->pool = g_array_new(FALSE, FALSE, sizeof(NBDBuf));
}

void nbd_mem_set_limits(NBDServer *server, size_t total, size_t per_client)
{
    g_mutex_lock(&server->mem_lock);
    server->mem_limit = total ? total : NBD_SERVER_MEMORY_LIMIT;
    server->mem_client_limit =
        per_client ? per_client : NBD_SERVER_CLIENT_MEMORY_LIMIT;
    g_cond_broadcast(&server->mem_cond);
    g_mutex_unlock(&server->mem_lock);
}

/* Wakes every reader waiting for room: the server is shutting down. */
void nbd_mem_stop(NBDServer *server)
{
    g_mutex_lock(&server->mem_lock);
    server->mem_stopping = true;
    g_cond_broadcast(&server->mem_cond);
    g_mutex_unlock(&server->mem_lock);
}

/* Frees the pool's buffers. */
void nbd_mem_trim(NBDServer *server)
{
    g_autoptr(GArray) pool = NULL;

    g_mutex_lock(&server->mem_lock);
    pool = g_steal_pointer(&server->pool);
    server->pool = g_array_new(FALSE, FALSE, sizeof(NBDBuf));
    server->pool_bytes = 0;
    g_mutex_unlock(&server->mem_lock);
    for (guint i = 0; i < pool->len; i++) {
        NBDBuf *b = &g_array_index(pool, NBDBuf, i);

        g_atomic_pointer_add(&server->buf_bytes, -(gssize)b->cap);
        free(b->p);
    }
}

void nbd_mem_clear(NBDServer *server)
{
    nbd_mem_trim(server);
    g_clear_pointer(&server->pool, g_array_unref);
    g_mutex_clear(&server->mem_lock);
    g_cond_clear(&server->mem_cond);
}

/* A buffer for @len bytes (reserved by the caller); false: no memory. */
static bool nbd_buf_get(NBDServer *server, size_t len, NBDBuf *out)
{
    size_t cap = nbd_buf_size(len);
    void *p = NULL;

    g_mutex_lock(&server->mem_lock);
    for (guint i = 0; i < server->pool->len; i++) {
        NBDBuf *b = &g_array_index(server->pool, NBDBuf, i);

        /* No larger one: the buffer must fit what was reserved. */
        if (b->cap >= len && b->cap <= cap) {
            *out = *b;
            server->pool_bytes -= b->cap;
            g_array_remove_index_fast(server->pool, i);
            g_mutex_unlock(&server->mem_lock);
            return true;
        }
    }
    g_mutex_unlock(&server->mem_lock);
    out->cap = cap;
    if (posix_memalign(&p, NBD_DIRECT_ALIGN, out->cap)) {
        out->p = NULL;
        return false;
    }
    out->p = p;
    g_atomic_pointer_add(&server->buf_bytes, (gssize)out->cap);
    return true;
}

/* Into the pool if there is room; with mem_lock held.  True if kept. */
static bool nbd_buf_keep_locked(NBDServer *server, NBDBuf *b)
{
    if (!b->p || server->pool_bytes + b->cap > NBD_SERVER_POOL_BYTES) {
        return false;
    }
    g_array_append_val(server->pool, *b);
    server->pool_bytes += b->cap;
    b->p = NULL;
    return true;
}

static void nbd_buf_free(NBDServer *server, NBDBuf *b)
{
    if (b->p) {
        g_atomic_pointer_add(&server->buf_bytes, -(gssize)b->cap);
        free(b->p);
        b->p = NULL;
    }
}

static void nbd_buf_put(NBDServer *server, NBDBuf *b)
{
    if (!b->p) {
        return;
    }
    g_mutex_lock(&server->mem_lock);
    nbd_buf_keep_locked(server, b);
    g_mutex_unlock(&server->mem_lock);
    nbd_buf_free(server, b);
}

/*
 * Waits for room for a request whose payload needs a buffer of @bytes;
 * false if the connection is ending instead.  Replies held back in
 * @batch go out before waiting: room may take long to come when other
 * clients hold the budget.
 */
static bool nbd_reserve(NBDServerConn *client, NBDReplyBatch *batch,
                        size_t bytes)
{
    NBDServer *server = client->server;
    size_t draw;

    g_mutex_lock(&server->mem_lock);
    for (;;) {
        size_t held = client->inflight_bytes;

        draw = nbd_drawn(held + bytes) - nbd_drawn(held);
        if (server->mem_stopping || g_atomic_int_get(&client->failed)) {
            g_mutex_unlock(&server->mem_lock);
            return false;
        }
        if (client->inflight < NBD_SERVER_INFLIGHT_REQUESTS &&
            (!held || held + bytes <= server->mem_client_limit) &&
            (!draw || !server->mem_drawn ||
             server->mem_drawn + draw <= server->mem_limit)) {
            break;
        }
        if (batch->len) {
            g_mutex_unlock(&server->mem_lock);
            if (!nbd_batch_flush(client, batch, 0)) {
                return false;
            }
            g_mutex_lock(&server->mem_lock);
            continue;
        }
        server->mem_waiters++;
        g_cond_wait(&server->mem_cond, &server->mem_lock);
        server->mem_waiters--;
    }
    client->inflight++;
    client->inflight_bytes += bytes;
    server->mem_drawn += draw;
    g_mutex_unlock(&server->mem_lock);
    return true;
}

/*
 * With @nowait, a read that would wait for the disk is not done and not
 * answered: *@would_block is set and the request goes to a worker.
 */
static bool nbd_do_read(NBDServerConn *client, NBDReplyBatch *batch,
                        const NBDRequest *req, bool nowait, bool *would_block)
{
    NBDExport *exp = client->exp;
    NBDBuf nb;
    uint8_t *buf;
    uint8_t pre[12];
    size_t done;
    bool ok;
    int err;

    if (client->structured && !(req->flags & NBD_CMD_FLAG_DF) && req->length &&
        exp->ops->is_hole(exp, req->offset, req->length)) {
        nbd_put_be64(pre, req->offset);
        nbd_put_be32(pre + 8, req->length);
        return nbd_send_chunk(client, batch, req, NBD_REPLY_FLAG_DONE,
                              NBD_REPLY_TYPE_OFFSET_HOLE, pre, 12, NULL, 0);
    }
    if (!nbd_buf_get(client->server, req->length, &nb)) {
        return nbd_send_status(client, batch, req, NBD_ENOMEM, "out of memory");
    }
    buf = nb.p;
    done = exp->ops->read(exp, buf, req->length, req->offset, nowait, &err);
    if (err == EAGAIN && nowait) {
        nbd_buf_put(client->server, &nb);
        *would_block = true;
        return true;
    }
    if (err &&
        (!client->structured || !done || (req->flags & NBD_CMD_FLAG_DF))) {
        nbd_buf_put(client->server, &nb);
        return nbd_send_status(client, batch, req, nbd_errno_to_wire(err),
                               g_strerror(err));
    }
    if (err) {
        /* Hand over what was read, then say where it failed. */
        const char *msg = g_strerror(err);
        size_t mlen = MIN(strlen(msg), NBD_MAX_STRING_LENGTH);
        g_autofree uint8_t *tail = g_malloc(mlen + 8);
        uint8_t epre[6];

        nbd_log_error(client, req, nbd_errno_to_wire(err), msg);
        nbd_put_be64(pre, req->offset);
        ok = nbd_send_chunk(client, batch, req, 0, NBD_REPLY_TYPE_OFFSET_DATA,
                            pre, 8, buf, done);
        nbd_buf_put(client->server, &nb);
        /* Error, message length, message, then the failing offset. */
        nbd_put_be32(epre, nbd_errno_to_wire(err));
        nbd_put_be16(epre + 4, mlen);
        memcpy(tail, msg, mlen);
        nbd_put_be64(tail + mlen, req->offset + done);
        return ok && nbd_send_chunk(client, batch, req, NBD_REPLY_FLAG_DONE,
                                    NBD_REPLY_TYPE_ERROR_OFFSET, epre, 6, tail,
                                    mlen + 8);
    }
    if (!client->structured) {
        ok = nbd_send_simple(client, batch, req->cookie, 0, buf, req->length);
    } else if (!req->length) {
        ok = nbd_send_status(client, batch, req, 0, NULL);
    } else {
        nbd_put_be64(pre, req->offset);
        ok = nbd_send_chunk(client, batch, req, NBD_REPLY_FLAG_DONE,
                            NBD_REPLY_TYPE_OFFSET_DATA, pre, 8, buf,
                            req->length);
    }
    nbd_buf_put(client->server, &nb);
    return ok;
}

/* @nowait and @would_block as for nbd_do_read(). */
static bool nbd_do_write(NBDServerConn *client, NBDReplyBatch *batch,
                         const NBDRequest *req, const uint8_t *buf, bool nowait,
                         bool *would_block)
{
    NBDExport *exp = client->exp;
    int ret;

    if (exp->readonly) {
        return nbd_send_status(client, batch, req, NBD_EPERM,
                               "export is read-only");
    }
    if (!nbd_range_ok(exp, req)) {
        return nbd_send_status(client, batch, req, NBD_ENOSPC,
                               "write past the end of the export");
    }
    ret =
        exp->ops->write(exp, buf, req->length, req->offset, req->flags, nowait);
    if (ret == -EAGAIN && nowait) {
        *would_block = true;
        return true;
    }
    return nbd_send_result(client, batch, req, ret);
}

static bool nbd_do_write_zeroes(NBDServerConn *client, NBDReplyBatch *batch,
                                const NBDRequest *req)
{
    NBDExport *exp = client->exp;
    int ret;

    if (exp->readonly) {
        return nbd_send_status(client, batch, req, NBD_EPERM,
                               "export is read-only");
    }
    if (!nbd_range_ok(exp, req)) {
        return nbd_send_status(client, batch, req, NBD_ENOSPC,
                               "write past the end of the export");
    }
    ret = exp->ops->write_zeroes(exp, req->offset, req->length, req->flags);
    if (ret == -ENOTSUP) {
        return nbd_send_status(client, batch, req, NBD_ENOTSUP,
                               "fast zeroing is not possible here");
    }
    return nbd_send_result(client, batch, req, ret);
}

static bool nbd_do_trim(NBDServerConn *client, NBDReplyBatch *batch,
                        const NBDRequest *req)
{
    NBDExport *exp = client->exp;

    if (exp->readonly) {
        return nbd_send_status(client, batch, req, NBD_EPERM,
                               "export is read-only");
    }
    if (!nbd_range_ok(exp, req)) {
        return nbd_send_status(client, batch, req, NBD_EINVAL,
                               "trim past the end of the export");
    }
    return nbd_send_result(
        client, batch, req,
        exp->ops->trim(exp, req->offset, req->length, req->flags));
}

static bool nbd_do_flush(NBDServerConn *client, NBDReplyBatch *batch,
                         const NBDRequest *req)
{
    NBDExport *exp = client->exp;

    return nbd_send_result(client, batch, req, exp->ops->flush(exp));
}

static bool nbd_do_cache(NBDServerConn *client, NBDReplyBatch *batch,
                         const NBDRequest *req)
{
    NBDExport *exp = client->exp;

    if (!nbd_range_ok(exp, req)) {
        return nbd_send_status(client, batch, req, NBD_EINVAL,
                               "cache past the end of the export");
    }
    return nbd_send_result(client, batch, req,
                           exp->ops->cache(exp, req->offset, req->length));
}

static bool nbd_do_block_status(NBDServerConn *client, NBDReplyBatch *batch,
                                const NBDRequest *req)
{
    NBDExport *exp = client->exp;
    g_autofree uint8_t *ext = NULL;
    uint64_t off = req->offset, end;
    uint32_t n = 0;
    uint8_t pre[8];
    /* Extended headers: 64-bit lengths and flags (BLOCK_STATUS_EXT). */
    size_t dsize = client->extended ? 16 : 8;

    if (!client->structured || !client->meta_base_allocation) {
        return nbd_send_status(client, batch, req, NBD_EINVAL,
                               "no meta context was selected; use "
                               "NBD_OPT_SET_META_CONTEXT base:allocation");
    }
    if (!req->length || !nbd_range_ok(exp, req)) {
        return nbd_send_status(client, batch, req, NBD_EINVAL,
                               "block status range outside the export");
    }
    /* No overflow: the range is inside the export. */
    end = req->offset + req->length;
    ext = g_malloc(dsize * NBD_MAX_EXTENTS);
    while (off < end && n < NBD_MAX_EXTENTS) {
        uint64_t len;
        uint32_t flags;
        int ret = exp->ops->block_status(exp, off, end - off, &len, &flags);

        if (ret < 0) {
            if (!n) {
                return nbd_send_result(client, batch, req, ret);
            }
            break; /* answer for what is known */
        }
        if (client->extended) {
            nbd_put_be64(ext + dsize * n, len);
            nbd_put_be64(ext + dsize * n + 8, flags);
        } else {
            /* A compact request is under 4 GiB, so is each extent. */
            nbd_put_be32(ext + dsize * n, len);
            nbd_put_be32(ext + dsize * n + 4, flags);
        }
        n++;
        off += len;
        if (req->flags & NBD_CMD_FLAG_REQ_ONE) {
            break;
        }
    }
    nbd_put_be32(pre, NBD_META_ID_BASE_ALLOCATION);
    if (client->extended) {
        /* The descriptor count is optional; giving it costs nothing. */
        nbd_put_be32(pre + 4, n);
        return nbd_send_chunk(client, batch, req, NBD_REPLY_FLAG_DONE,
                              NBD_REPLY_TYPE_BLOCK_STATUS_EXT, pre, 8, ext,
                              dsize * n);
    }
    return nbd_send_chunk(client, batch, req, NBD_REPLY_FLAG_DONE,
                          NBD_REPLY_TYPE_BLOCK_STATUS, pre, 4, ext, dsize * n);
}

/* Flags each command accepts. */
static uint16_t nbd_cmd_allowed_flags(NBDServerConn *client, uint16_t type)
{
    switch (type) {
    case NBD_CMD_READ:
        return client->structured ? NBD_CMD_FLAG_DF : 0;
    case NBD_CMD_WRITE:
    case NBD_CMD_TRIM:
        return NBD_CMD_FLAG_FUA;
    case NBD_CMD_WRITE_ZEROES:
        return NBD_CMD_FLAG_FUA | NBD_CMD_FLAG_NO_HOLE | NBD_CMD_FLAG_FAST_ZERO;
    case NBD_CMD_BLOCK_STATUS:
        return NBD_CMD_FLAG_REQ_ONE;
    default:
        return 0;
    }
}

/*
 * Runs @r and answers it; false if the connection must end.  With
 * @nowait (see NBDExportOps.inline_mode) *@would_block may come back set
 * instead.  @batch: the reader's, or NULL on a worker.
 */
static bool nbd_handle(NBDServerConn *client, NBDReplyBatch *batch,
                       NBDServerReq *r, bool nowait, bool *would_block)
{
    const NBDRequest *req = &r->req;
    bool ok;

    switch (req->type) {
    case NBD_CMD_READ:
        ok = nbd_do_read(client, batch, req, nowait, would_block);
        break;
    case NBD_CMD_WRITE:
        ok = nbd_do_write(client, batch, req, r->buf.p, nowait, would_block);
        break;
    case NBD_CMD_FLUSH:
        ok = nbd_do_flush(client, batch, req);
        break;
    case NBD_CMD_TRIM:
        ok = nbd_do_trim(client, batch, req);
        break;
    case NBD_CMD_CACHE:
        ok = nbd_do_cache(client, batch, req);
        break;
    case NBD_CMD_WRITE_ZEROES:
        ok = nbd_do_write_zeroes(client, batch, req);
        break;
    case NBD_CMD_BLOCK_STATUS:
        ok = nbd_do_block_status(client, batch, req);
        break;
    default:
        g_assert_not_reached();
    }
    return ok;
}

/* A request is answered: release its buffer and its reservation. */
static void nbd_finish(NBDServerConn *client, NBDServerReq *r)
{
    NBDServer *server = client->server;
    size_t held;

    g_mutex_lock(&server->mem_lock);
    nbd_buf_keep_locked(server, &r->buf);
    held = client->inflight_bytes;
    server->mem_drawn -= nbd_drawn(held) - nbd_drawn(held - r->charge);
    client->inflight--;
    client->inflight_bytes -= r->charge;
    if (server->mem_waiters) {
        /* GLib's broadcast is a system call even with nobody waiting. */
        g_cond_broadcast(&server->mem_cond);
    }
    g_mutex_unlock(&server->mem_lock);
    nbd_buf_free(server, &r->buf);
    g_free(r);
}

/* Runs on a worker: one request, start to reply. */
static void nbd_worker(gpointer data, gpointer opaque)
{
    NBDServerReq *r = data;
    NBDServerConn *client = opaque;
    bool would_block = false;

    if (!nbd_handle(client, NULL, r, false, &would_block)) {
        nbd_conn_fail(client);
    }
    nbd_finish(client, r);
}

/*
 * Checks the reader makes before queueing: true if the request was
 * answered here (or, with *@fatal, must end the connection).
 */
/*
 * With extended headers NBD_CMD_FLAG_PAYLOAD_LEN says whether a payload
 * follows the header: a WRITE must have it (it is taken off @req here),
 * no other command takes one.  Payload lengths over the maximum block
 * size end the connection; a shorter unexpected payload is read and
 * thrown away, and the command fails.  True if answered, as below.
 */
static bool nbd_check_payload_flag(NBDServerConn *client, NBDRequest *req,
                                   bool *fatal)
{
    bool payload = req->flags & NBD_CMD_FLAG_PAYLOAD_LEN;

    if (!client->extended) {
        return false; /* the flag is refused like any unknown one */
    }
    if (payload && req->length > NBD_SERVER_MAX_REQUEST) {
        g_info("NBD client %s: %s with a payload of %" G_GUINT64_FORMAT
               " bytes over the limit of %u; disconnecting",
               qio_channel_get_name(client->master), nbd_cmd_name(req->type),
               req->length, NBD_SERVER_MAX_REQUEST);
        *fatal = true;
        return true;
    }
    if (req->type == NBD_CMD_WRITE) {
        if (!payload) {
            /* No flag, no payload: the stream stays in step. */
            *fatal = !nbd_send_status(client, NULL, req, NBD_EINVAL,
                                      "a write needs NBD_CMD_FLAG_PAYLOAD_LEN "
                                      "with extended headers");
            return true;
        }
        req->flags &= ~NBD_CMD_FLAG_PAYLOAD_LEN;
        return false;
    }
    if (payload) {
        if (!nbd_drain(client, req->length, NULL)) {
            *fatal = true;
            return true;
        }
        *fatal = !nbd_send_status(client, NULL, req, NBD_EINVAL,
                                  "this command takes no payload");
        return true;
    }
    return false;
}

static bool nbd_check_request(NBDServerConn *client, NBDRequest *req,
                              bool *fatal)
{
    *fatal = false;
    if (req->type != NBD_CMD_DISC &&
        nbd_check_payload_flag(client, req, fatal)) {
        return true;
    }
    if (req->flags & ~nbd_cmd_allowed_flags(client, req->type)) {
        if (req->type == NBD_CMD_WRITE) {
            /* Keep in step: the payload follows regardless. */
            if (req->length > NBD_SERVER_MAX_REQUEST ||
                !nbd_drain(client, req->length, NULL)) {
                *fatal = true;
                return true;
            }
        }
        *fatal = !nbd_send_status(client, NULL, req, NBD_EINVAL,
                                  "unsupported command flags");
        return true;
    }
    switch (req->type) {
    case NBD_CMD_READ:
        if (req->length > NBD_SERVER_MAX_REQUEST) {
            *fatal = !nbd_send_status(client, NULL, req, NBD_EINVAL,
                                      "read larger than the maximum block "
                                      "size");
            return true;
        }
        if (!nbd_range_ok(client->exp, req)) {
            *fatal = !nbd_send_status(client, NULL, req, NBD_EINVAL,
                                      "read past the end of the export");
            return true;
        }
        return false;
    case NBD_CMD_WRITE:
        if (req->length > NBD_SERVER_MAX_REQUEST) {
            /* The payload cannot be skipped safely: hang up. */
            g_info("NBD client %s: write of %" G_GUINT64_FORMAT " bytes over "
                   "the limit of %u",
                   qio_channel_get_name(client->master), req->length,
                   NBD_SERVER_MAX_REQUEST);
            *fatal = true;
            return true;
        }
        return false;
    case NBD_CMD_FLUSH:
    case NBD_CMD_TRIM:
    case NBD_CMD_CACHE:
    case NBD_CMD_WRITE_ZEROES:
    case NBD_CMD_BLOCK_STATUS:
        return false;
    default:
        *fatal =
            !nbd_send_status(client, NULL, req, NBD_EINVAL, "unknown command");
        return true;
    }
}

/*
 * Queue @r for the workers.  When no worker thread can be started and the
 * pool has none (ulimit -u, a pids cgroup), the request would wait for
 * ever, and so would freeing the pool: drop the pool without waiting,
 * refuse the client and return false.
 */
static bool nbd_push_worker(NBDServerConn *client, NBDServerReq *r)
{
    g_autoptr(GError) err = NULL;

    if (g_thread_pool_push(client->workers, r, &err) ||
        g_thread_pool_get_num_threads(client->workers) > 0) {
        return true;
    }
    if (client->conn) {
        qio_conn_report_refusal(
            client->conn, "cannot start a worker thread: %s", err->message);
    } else {
        g_warning("NBD client %s: cannot start a worker thread: %s",
                  qio_channel_get_name(client->master), err->message);
    }
    g_thread_pool_free(g_steal_pointer(&client->workers), TRUE, FALSE);
    nbd_finish(client, r);
    nbd_conn_fail(client);
    return false;
}

void nbd_transmission(NBDServerConn *client)
{
    NBDReplyBatch batch = { 0 };
    bool ok;

    client->batch_fd =
        QIO_IS_CHANNEL_SOCKET(client->master)
            ? qio_channel_socket_get_fd(QIO_CHANNEL_SOCKET(client->master))
            : -1;
    batch.enabled = client->batch_fd >= 0;
    client->workers =
        g_thread_pool_new(nbd_worker, client, NBD_SERVER_WORKERS, FALSE, NULL);
    for (;;) {
        /* One header style for the whole connection, fixed at GO. */
        size_t hlen =
            client->extended ? NBD_EXTENDED_REQUEST_SIZE : NBD_REQUEST_SIZE;
        uint8_t hdr[NBD_EXTENDED_REQUEST_SIZE];
        NBDServerReq *r;
        NBDRequest req;
        NBDInlineMode mode;
        bool fatal;
        size_t charge = 0;

        if (g_atomic_int_get(&client->failed) ||
            !nbd_batch_flush(client, &batch, hlen) ||
            !nbd_read(client, hdr, hlen, NULL)) {
            break;
        }
        if (!(client->extended ? nbd_decode_extended_request(hdr, &req)
                               : nbd_decode_request(hdr, &req))) {
            /* Includes the other header style: the stream is lost. */
            g_info("NBD client %s: bad %s request magic 0x%08x; "
                   "disconnecting",
                   qio_channel_get_name(client->master),
                   client->extended ? "extended" : "compact",
                   nbd_get_be32(hdr));
            break;
        }
        if (client->conn) {
            qio_conn_touch(client->conn); /* restarts the idle limit */
        }
        if (req.type == NBD_CMD_DISC) {
            break;
        }
        if (nbd_check_request(client, &req, &fatal)) {
            if (fatal) {
                break;
            }
            continue;
        }
        if (req.type == NBD_CMD_READ || req.type == NBD_CMD_WRITE) {
            charge = nbd_buf_size(req.length);
        }
        if (!nbd_reserve(client, &batch, charge)) {
            break;
        }
        r = g_new0(NBDServerReq, 1);
        r->req = req;
        r->charge = charge;
        if (req.type == NBD_CMD_WRITE) {
            if (!nbd_batch_flush(client, &batch, req.length) ||
                !nbd_buf_get(client->server, req.length, &r->buf) ||
                !nbd_read(client, r->buf.p, req.length, NULL)) {
                /* Out of memory for a bounded buffer, or the peer left. */
                nbd_finish(client, r);
                break;
            }
        }
        mode = client->exp->ops->inline_mode(client->exp, req.type, req.flags);
        if (mode != NBD_INLINE_NO) {
            bool would_block = false;

            ok = nbd_handle(client, &batch, r, mode == NBD_INLINE_NOWAIT,
                            &would_block);
            if (!ok) {
                nbd_finish(client, r);
                break;
            }
            if (!would_block) {
                nbd_finish(client, r);
                continue;
            }
        }
        if (!nbd_push_worker(client, r)) {
            break;
        }
    }
    /* Replies still owed go out before the connection closes. */
    nbd_batch_flush(client, &batch, 0);
    if (client->workers) {
        g_thread_pool_free(g_steal_pointer(&client->workers), FALSE, TRUE);
    }
}
