/*
 * Copy a whole NBD export to a local file or a local file to an NBD
 * export, keeping holes: reading from NBD, base:allocation block status
 * finds the holes and zero ranges, which are left unwritten in a regular
 * file (it is truncated to size first); writing to NBD, SEEK_DATA and
 * SEEK_HOLE find the file's holes, which become NBD_CMD_WRITE_ZEROES
 * without NO_HOLE so that the server may punch them too.  Data blocks
 * that read back as all zeros are treated like holes in both directions.
 *
 *   qio-nbd-client copy nbd://127.0.0.1/disk0 disk.raw --connections 4
 *
 * With several connections the range is cut into that many contiguous
 * parts, each copied by its own thread over its own NBDClient.  On each
 * connection up to @requests reads or writes are in flight at once (the
 * asynchronous calls of nbd/client.h); their replies are finished on the
 * connection's reader thread (a read's data is written to the file
 * there).  Each connection flushes its own writes once they are all
 * acknowledged.  An export that does not announce
 * NBD_FLAG_CAN_MULTI_CONN is copied over one connection whatever was
 * asked: such a server may serve one client at a time.
 *
 * The local side may also be a stream (a pipe, a socket, a terminal:
 * what nbdcopy calls "-"): it is then copied in order, one request at
 * a time on the first connection, as nbdcopy does.  And the export can
 * be read and thrown away (nbdcopy's "null:"), to measure a server.
 *
 *   qio-nbd-client copy nbd://127.0.0.1/disk0 - | file -
 *   xz -dc disk.raw.xz | qio-nbd-client copy - nbd://127.0.0.1/disk0
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "nbd/client.h"

G_BEGIN_DECLS

/* Largest number of connections nbd_copy_*() will open. */
#define NBD_COPY_MAX_CONNECTIONS 16
/*
 * Requests in flight per connection unless told otherwise: with 256 KiB
 * requests, 16 copied a 1 GiB export over loopback as fast as 64 and
 * with less CPU (fewer buffers in flight, fewer cache misses).
 */
#define NBD_COPY_DEFAULT_REQUESTS 16
/* Bytes per read/write request unless told otherwise. */
#define NBD_COPY_DEFAULT_REQUEST_SIZE (256u * 1024)

/*
 * Open one more connection to the same export, already through
 * nbd_client_go().  Called from a worker thread.
 */
typedef NBDClient *(*NBDCopyConnectFunc)(gpointer opaque, GError **errp);

/*
 * Called after each block with the bytes done so far, serialised by the
 * copy engine (never concurrently), from whichever thread finished the
 * block (a connection's reader thread, often): keep it quick.
 */
typedef void (*NBDCopyProgressFunc)(uint64_t done, uint64_t total,
                                    gpointer opaque);

typedef struct {
    unsigned connections;       /* 1 .. NBD_COPY_MAX_CONNECTIONS */
    unsigned requests;          /* in flight per connection, 1 ..
                                   NBD_CLIENT_MAX_REQUESTS; 0: default */
    uint32_t request_size;      /* bytes per request; 0: default.
                                   Capped at the server's maximum. */
    NBDCopyConnectFunc connect; /* needed when connections > 1 */
    gpointer connect_opaque;
    NBDCopyProgressFunc progress; /* or NULL */
    gpointer progress_opaque;
} NBDCopyOptions;

/*
 * Copy the export behind @client (in the transmission phase) to @fd,
 * open for writing.  A regular file is truncated to the export size and
 * keeps holes; a block device gets explicit zeros; anything else (a
 * pipe, a socket, a character device), and a file open with O_APPEND,
 * gets the whole export written in order, zeros included.  @path names
 * the file in errors.
 */
bool nbd_copy_to_file(NBDClient *client, int fd, const char *path,
                      const NBDCopyOptions *opts, GError **errp);

/*
 * Copy all of @fd (a regular file or block device, open for reading) to
 * the export behind @client, starting at offset 0; the export must be
 * writable and at least as large.  Ends with NBD_CMD_FLUSH on every
 * connection when the export offers it.
 *
 * Anything else (a pipe, a socket) is read in order until it ends and
 * written from offset 0; the rest of the export keeps what it held.
 * The stream's size is known only at its end: when it holds more than
 * the export, the copy fails (QIO_ERROR_TOO_LARGE) with the export
 * written up to that point.  No progress is reported for a stream.
 */
bool nbd_copy_from_file(int fd, const char *path, NBDClient *client,
                        const NBDCopyOptions *opts, GError **errp);

/*
 * Read the whole export and throw the data away (holes and zero ranges
 * are not read), as fast as the options allow.
 */
bool nbd_copy_to_null(NBDClient *client, const NBDCopyOptions *opts,
                      GError **errp);

/*
 * Copy between the export behind @client and the local side @local,
 * named as nbdcopy names it: "-" is standard output when @to_local,
 * standard input otherwise; "null:" as the destination throws the data
 * away (nbd_copy_to_null()); anything else is a file path, created when
 * it is the destination (a file really named "-" is "./-").  Standard
 * input and output are left open.
 *
 *   nbd_copy_local(client, "-", true, &opts, &err);        (to stdout)
 *   nbd_copy_local(client, "disk.raw", false, &opts, &err);
 */
bool nbd_copy_local(NBDClient *client, const char *local, bool to_local,
                    const NBDCopyOptions *opts, GError **errp);

G_END_DECLS
