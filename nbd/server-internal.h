/*
 * NBD server internals shared by its parts: the export backends
 * (export-file.c) behind NBDExportOps, option negotiation
 * (server-negotiate.c), the transmission phase (server-transmit.c), and
 * the server object with its exports and its clients' lifecycle
 * (server.c).
 * Not installed: nothing outside nbd/ includes it.
 *
 * Copyright (c) qio contributors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#ifndef QIO_NBD_SERVER_INTERNAL_H
#define QIO_NBD_SERVER_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "io/channel.h"
#include "nbd/nbd-proto.h"
#include "nbd/server.h"

/* ---- Export backends ----------------------------------------------------- */

typedef struct NBDExport NBDExport;

/* How the reader may run a request itself (see NBDExportOps.inline_mode). */
typedef enum NBDInlineMode {
    NBD_INLINE_NO = 0, /* hand it to a worker */
    NBD_INLINE_NOWAIT, /* try it with @nowait; a worker if it would wait */
    NBD_INLINE_YES,    /* run it: it never waits (memory-backed storage) */
} NBDInlineMode;

/*
 * What a backend does.  Transmission checks ranges, flags and read-only
 * exports before calling, so a backend only does the I/O.  Results are 0
 * or -errno unless said otherwise; -EAGAIN from a call made with @nowait
 * means "would wait for the disk": nothing was answered, and the request
 * is run again without @nowait on a worker.
 */
typedef struct NBDExportOps {
    /*
     * Whether the reader may run a @type request with @flags itself; a
     * thread handoff costs more CPU than the copy of a 256 KiB request.
     */
    NBDInlineMode (*inline_mode)(NBDExport *exp, uint16_t type, uint16_t flags);
    /*
     * Read [@off, @off+@len) into @buf, which is NBD_DIRECT_ALIGN
     * aligned: the bytes read before an error (*@err = errno, EAGAIN
     * with @nowait when it would wait), or @len.
     */
    size_t (*read)(NBDExport *exp, uint8_t *buf, size_t len, uint64_t off,
                   bool nowait, int *err);
    /* Whether [@off, @off+@len) is known to be a hole (reads as zeros). */
    bool (*is_hole)(NBDExport *exp, uint64_t off, uint64_t len);
    /* Write, honouring NBD_CMD_FLAG_FUA in @flags. */
    int (*write)(NBDExport *exp, const uint8_t *buf, size_t len, uint64_t off,
                 uint16_t flags, bool nowait);
    /*
     * Zero, honouring FUA, NO_HOLE and FAST_ZERO in @flags; -ENOTSUP when
     * FAST_ZERO cannot be honoured.
     */
    int (*write_zeroes)(NBDExport *exp, uint64_t off, uint64_t len,
                        uint16_t flags);
    /* Advisory: may punch a hole, or do nothing. */
    int (*trim)(NBDExport *exp, uint64_t off, uint64_t len, uint16_t flags);
    int (*flush)(NBDExport *exp);
    /* Advisory: a hint to fetch the range. */
    int (*cache)(NBDExport *exp, uint64_t off, uint64_t len);
    /*
     * The extent that starts at @off, at most @len long: its length in
     * *@ext_len (at least 1) and NBD_STATE_* flags in *@flags.
     */
    int (*block_status)(NBDExport *exp, uint64_t off, uint64_t len,
                        uint64_t *ext_len, uint32_t *flags);
    /* Release the backend and @exp itself. */
    void (*close)(NBDExport *exp);
} NBDExportOps;

/*
 * The part every backend shares; a backend's own struct starts with it.
 * Set at open, constant afterwards.
 */
struct NBDExport {
    const NBDExportOps *ops;
    char *name;
    char *description;
    uint64_t size;
    bool readonly;
    bool multi_conn; /* announce NBD_FLAG_CAN_MULTI_CONN */
};

/* Alignment O_DIRECT needs for offsets, lengths and buffers. */
#define NBD_DIRECT_ALIGN 4096

/* A file or block device (export-file.c). */
NBDExport *nbd_file_export_open(const char *name, const char *path,
                                const NBDExportOptions *opts, GError **errp);

/* For backends: fill the shared part; free it with nbd_export_clear(). */
void nbd_export_init(NBDExport *exp, const NBDExportOps *ops, const char *name,
                     const char *description);
void nbd_export_clear(NBDExport *exp);

/* ---- The server and its clients ------------------------------------------ */

/* Context id handed out for base:allocation. */
#define NBD_META_ID_BASE_ALLOCATION 1

/*
 * The reader holds back the short replies of the requests it runs itself
 * while further requests are already waiting to be read, and sends them
 * together: at most this many, each at most this long.
 */
#define NBD_BATCH_REPLIES   16
#define NBD_BATCH_REPLY_MAX 64

/*
 * Small replies held back by the reader (see nbd_batch_add()).  Only the
 * reader has one; replies sent by workers pass NULL.
 */
typedef struct NBDReplyBatch {
    bool enabled; /* the transport can tell when input waits */
    size_t len;
    guint count;
    uint8_t buf[NBD_BATCH_REPLIES * NBD_BATCH_REPLY_MAX];
} NBDReplyBatch;

typedef struct NBDBuf {
    uint8_t *p;
    size_t cap;
} NBDBuf;

typedef struct NBDServerConn {
    NBDServer *server;
    QIOChannel *master; /* the channel we were given */
    QIOChannel *ioc;    /* master, or the TLS channel over it */
    bool tls;
    bool no_zeroes;
    /* Negotiated state: reset by nbd_conn_forget_negotiation(). */
    bool structured;
    bool extended; /* NBD_OPT_EXTENDED_HEADERS; implies structured */
    bool meta_base_allocation;
    char *meta_export;
    NBDExport *exp;
    /* The connection service's view (deadlines, refusals), or NULL. */
    QIOConn *conn;
    /* Transmission: replies are sent whole under send_lock. */
    GMutex send_lock;
    gint failed; /* atomic: the channel is being torn down */
    GThreadPool *workers;
    /* Under server->mem_lock (server-transmit.c, "Payload memory"). */
    guint inflight;
    size_t inflight_bytes; /* reserved for this client's payloads */
    int batch_fd;          /* >= 0: a socket master, replies are batched */
} NBDServerConn;

struct _NBDServer {
    GObject parent;
    QCryptoTLSCreds *tls_creds;
    char *tls_authz;
    GPtrArray *exports;
    GMutex lock; /* clients, nclients, nleaving, shut_down, exports */
    GCond cond;  /* nclients or nleaving went down */
    GList *clients;
    guint nclients;
    guint nleaving; /* counted out, still trimming buffers */
    bool shut_down;
    /* Payload memory (server-transmit.c): under mem_lock. */
    GMutex mem_lock;
    GCond mem_cond; /* room was released, or mem_stopping */
    guint mem_waiters;
    bool mem_stopping;
    size_t mem_limit;        /* the budget all clients share */
    size_t mem_client_limit; /* what one client may hold */
    size_t mem_drawn;        /* drawn on the budget by all clients */
    GArray *pool;            /* NBDBuf: idle payload buffers */
    size_t pool_bytes;
    gssize buf_bytes; /* atomic, no lock: payload buffers allocated */
};

/* server.c: exports by position (NULL past the end) and by name. */
NBDExport *nbd_server_export_at(NBDServer *server, guint i);
NBDExport *nbd_server_find_export(NBDServer *server, const char *name);

/* server-negotiate.c: true when the transmission phase is reached. */
bool nbd_negotiate(NBDServerConn *client);

/* server-transmit.c: serves requests until the client leaves. */
void nbd_transmission(NBDServerConn *client);

/* server-transmit.c: the server's payload memory and its pool. */
void nbd_mem_init(NBDServer *server);
void nbd_mem_set_limits(NBDServer *server, size_t total, size_t per_client);
void nbd_mem_stop(NBDServer *server);
void nbd_mem_trim(NBDServer *server);
void nbd_mem_clear(NBDServer *server);

/* ---- Wire helpers ---------------------------------------------------------
 */

static inline bool nbd_read(NBDServerConn *client, void *buf, size_t len,
                            GError **errp)
{
    return qio_channel_read_all(client->ioc, buf, len, errp) == 0;
}

static inline bool nbd_write(NBDServerConn *client, const void *buf, size_t len,
                             GError **errp)
{
    return qio_channel_write_all(client->ioc, buf, len, errp) == 0;
}

/* Read and throw away @len bytes (already checked against a bound). */
bool nbd_drain(NBDServerConn *client, size_t len, GError **errp);

#endif /* QIO_NBD_SERVER_INTERNAL_H */
