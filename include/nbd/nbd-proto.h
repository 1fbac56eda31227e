/*
 * NBD protocol wire definitions shared by the qio NBD server and client.
 *
 * Everything a peer sends is big-endian on the wire.  Rather than casting
 * packed structs over network buffers (alignment and byte order traps),
 * this header gives plain host-order structs plus encode/decode helpers
 * that work on fixed-size byte arrays; the helpers never allocate, so a
 * length read from the network can be checked against the bounds below
 * before anything is allocated for it.
 *
 * Copyright (c) qio contributors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#ifndef QIO_NBD_PROTO_H
#define QIO_NBD_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- Magics -------------------------------------------------------------- */

#define NBD_INIT_MAGIC             UINT64_C(0x4e42444d41474943) /* NBDMAGIC */
#define NBD_OPTS_MAGIC             UINT64_C(0x49484156454f5054) /* IHAVEOPT */
#define NBD_CLIENT_MAGIC           UINT64_C(0x00420281861253)   /* oldstyle */
#define NBD_REP_MAGIC              UINT64_C(0x0003e889045565a9)
#define NBD_REQUEST_MAGIC          UINT32_C(0x25609513)
#define NBD_EXTENDED_REQUEST_MAGIC UINT32_C(0x21e41c71)
#define NBD_SIMPLE_REPLY_MAGIC     UINT32_C(0x67446698)
#define NBD_STRUCTURED_REPLY_MAGIC UINT32_C(0x668e33ef)
#define NBD_EXTENDED_REPLY_MAGIC   UINT32_C(0x6e8a278c)

/* ---- Handshake flags (server, 16 bit) and client flags (32 bit) ---------- */

#define NBD_FLAG_FIXED_NEWSTYLE (1u << 0)
#define NBD_FLAG_NO_ZEROES      (1u << 1)

#define NBD_FLAG_C_FIXED_NEWSTYLE (1u << 0)
#define NBD_FLAG_C_NO_ZEROES      (1u << 1)

/* ---- Transmission flags (16 bit) ----------------------------------------- */

#define NBD_FLAG_HAS_FLAGS          (1u << 0)
#define NBD_FLAG_READ_ONLY          (1u << 1)
#define NBD_FLAG_SEND_FLUSH         (1u << 2)
#define NBD_FLAG_SEND_FUA           (1u << 3)
#define NBD_FLAG_ROTATIONAL         (1u << 4)
#define NBD_FLAG_SEND_TRIM          (1u << 5)
#define NBD_FLAG_SEND_WRITE_ZEROES  (1u << 6)
#define NBD_FLAG_SEND_DF            (1u << 7)
#define NBD_FLAG_CAN_MULTI_CONN     (1u << 8)
#define NBD_FLAG_SEND_RESIZE        (1u << 9)
#define NBD_FLAG_SEND_CACHE         (1u << 10)
#define NBD_FLAG_SEND_FAST_ZERO     (1u << 11)
#define NBD_FLAG_BLOCK_STAT_PAYLOAD (1u << 12)

/* ---- Options ------------------------------------------------------------- */

#define NBD_OPT_EXPORT_NAME       1
#define NBD_OPT_ABORT             2
#define NBD_OPT_LIST              3
#define NBD_OPT_PEEK_EXPORT       4
#define NBD_OPT_STARTTLS          5
#define NBD_OPT_INFO              6
#define NBD_OPT_GO                7
#define NBD_OPT_STRUCTURED_REPLY  8
#define NBD_OPT_LIST_META_CONTEXT 9
#define NBD_OPT_SET_META_CONTEXT  10
#define NBD_OPT_EXTENDED_HEADERS  11

/* ---- Option reply types -------------------------------------------------- */

#define NBD_REP_ERR_BIT             (UINT32_C(1) << 31)
#define NBD_REP_ACK                 UINT32_C(1)
#define NBD_REP_SERVER              UINT32_C(2)
#define NBD_REP_INFO                UINT32_C(3)
#define NBD_REP_META_CONTEXT        UINT32_C(4)
#define NBD_REP_ERR_UNSUP           (NBD_REP_ERR_BIT | 1)
#define NBD_REP_ERR_POLICY          (NBD_REP_ERR_BIT | 2)
#define NBD_REP_ERR_INVALID         (NBD_REP_ERR_BIT | 3)
#define NBD_REP_ERR_PLATFORM        (NBD_REP_ERR_BIT | 4)
#define NBD_REP_ERR_TLS_REQD        (NBD_REP_ERR_BIT | 5)
#define NBD_REP_ERR_UNKNOWN         (NBD_REP_ERR_BIT | 6)
#define NBD_REP_ERR_SHUTDOWN        (NBD_REP_ERR_BIT | 7)
#define NBD_REP_ERR_BLOCK_SIZE_REQD (NBD_REP_ERR_BIT | 8)
#define NBD_REP_ERR_TOO_BIG         (NBD_REP_ERR_BIT | 9)
#define NBD_REP_ERR_EXT_HEADER_REQD (NBD_REP_ERR_BIT | 10)

#define NBD_REP_IS_ERR(t) (((t)&NBD_REP_ERR_BIT) != 0)

/* ---- NBD_OPT_INFO / NBD_OPT_GO information types (16 bit) --------------- */

#define NBD_INFO_EXPORT      0
#define NBD_INFO_NAME        1
#define NBD_INFO_DESCRIPTION 2
#define NBD_INFO_BLOCK_SIZE  3

/* ---- Commands and command flags ------------------------------------------ */

#define NBD_CMD_READ         0
#define NBD_CMD_WRITE        1
#define NBD_CMD_DISC         2
#define NBD_CMD_FLUSH        3
#define NBD_CMD_TRIM         4
#define NBD_CMD_CACHE        5
#define NBD_CMD_WRITE_ZEROES 6
#define NBD_CMD_BLOCK_STATUS 7
#define NBD_CMD_RESIZE       8

#define NBD_CMD_FLAG_FUA         (1u << 0)
#define NBD_CMD_FLAG_NO_HOLE     (1u << 1)
#define NBD_CMD_FLAG_DF          (1u << 2)
#define NBD_CMD_FLAG_REQ_ONE     (1u << 3)
#define NBD_CMD_FLAG_FAST_ZERO   (1u << 4)
#define NBD_CMD_FLAG_PAYLOAD_LEN (1u << 5)

/* ---- Structured reply chunk flags and types ------------------------------ */

#define NBD_REPLY_FLAG_DONE (1u << 0)

#define NBD_REPLY_TYPE_NONE             0
#define NBD_REPLY_TYPE_OFFSET_DATA      1
#define NBD_REPLY_TYPE_OFFSET_HOLE      2
#define NBD_REPLY_TYPE_BLOCK_STATUS     5
#define NBD_REPLY_TYPE_BLOCK_STATUS_EXT 6
#define NBD_REPLY_ERR_BIT               (1u << 15)
#define NBD_REPLY_TYPE_ERROR            (NBD_REPLY_ERR_BIT | 1)
#define NBD_REPLY_TYPE_ERROR_OFFSET     (NBD_REPLY_ERR_BIT | 2)

#define NBD_REPLY_TYPE_IS_ERR(t) (((t)&NBD_REPLY_ERR_BIT) != 0)

/* ---- Error values on the wire (not the host's errno numbers) ------------- */

#define NBD_SUCCESS   0
#define NBD_EPERM     1
#define NBD_EIO       5
#define NBD_ENOMEM    12
#define NBD_EINVAL    22
#define NBD_ENOSPC    28
#define NBD_EOVERFLOW 75
#define NBD_ENOTSUP   95
#define NBD_ESHUTDOWN 108

/* ---- Metadata contexts --------------------------------------------------- */

#define NBD_META_BASE_ALLOCATION "base:allocation"
#define NBD_STATE_HOLE           (1u << 0)
#define NBD_STATE_ZERO           (1u << 1)

/* ---- Bounds -------------------------------------------------------------- */

/*
 * Largest option payload the server reads.  Anything longer is refused
 * before a buffer is allocated (CVE-2017-15119) and the connection dropped,
 * since skipping the payload would mean reading attacker-chosen amounts.
 */
#define NBD_MAX_OPTION_LENGTH (64 * 1024)
/* Largest export name / description / context name, as the spec suggests. */
#define NBD_MAX_STRING_LENGTH 4096
/* Largest READ/WRITE payload; announced as maximum block size. */
#define NBD_MAX_PAYLOAD          (32 * 1024 * 1024)
#define NBD_MIN_BLOCK_SIZE       1
#define NBD_PREFERRED_BLOCK_SIZE 4096

/* ---- Fixed wire sizes ---------------------------------------------------- */

#define NBD_OLDSTYLE_NEGOTIATE_SIZE 152
#define NBD_SERVER_GREETING_SIZE    18 /* NBDMAGIC, IHAVEOPT, flags16 */
#define NBD_OPTION_HEADER_SIZE      16 /* IHAVEOPT, option32, length32 */
#define NBD_OPTION_REPLY_SIZE       20 /* magic64, option32, type32, len32 */
#define NBD_EXPORT_NAME_REPLY_SIZE  10 /* size64, flags16 (+124 zeroes) */
#define NBD_REQUEST_SIZE            28
#define NBD_EXTENDED_REQUEST_SIZE   32
#define NBD_SIMPLE_REPLY_SIZE       16
#define NBD_STRUCTURED_REPLY_SIZE   20
#define NBD_EXTENDED_REPLY_SIZE     32

/* ---- Host-order header structs ------------------------------------------- */

typedef struct NBDOption {
    uint32_t option;
    uint32_t length;
} NBDOption;

typedef struct NBDOptionReply {
    uint32_t option;
    uint32_t type;
    uint32_t length;
} NBDOptionReply;

/*
 * A request in either header style.  @length is 32 bits on the wire in
 * compact requests and 64 bits in extended ones (NBD_OPT_EXTENDED_HEADERS),
 * where it is the payload length when @flags has NBD_CMD_FLAG_PAYLOAD_LEN
 * and the effect length otherwise.
 */
typedef struct NBDRequest {
    uint16_t flags;
    uint16_t type;
    uint64_t cookie;
    uint64_t offset;
    uint64_t length;
} NBDRequest;

typedef struct NBDSimpleReply {
    uint32_t error;
    uint64_t cookie;
} NBDSimpleReply;

typedef struct NBDStructuredReply {
    uint16_t flags;
    uint16_t type;
    uint64_t cookie;
    uint32_t length;
} NBDStructuredReply;

/* The reply chunk header of extended headers: @offset echoes the request. */
typedef struct NBDExtendedReply {
    uint16_t flags;
    uint16_t type;
    uint64_t cookie;
    uint64_t offset;
    uint64_t length;
} NBDExtendedReply;

/* ---- Byte-order helpers -------------------------------------------------- */

static inline void nbd_put_be16(uint8_t *p, uint16_t v)
{
    p[0] = v >> 8;
    p[1] = v;
}

static inline void nbd_put_be32(uint8_t *p, uint32_t v)
{
    nbd_put_be16(p, v >> 16);
    nbd_put_be16(p + 2, v);
}

static inline void nbd_put_be64(uint8_t *p, uint64_t v)
{
    nbd_put_be32(p, v >> 32);
    nbd_put_be32(p + 4, v);
}

static inline uint16_t nbd_get_be16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t nbd_get_be32(const uint8_t *p)
{
    return ((uint32_t)nbd_get_be16(p) << 16) | nbd_get_be16(p + 2);
}

static inline uint64_t nbd_get_be64(const uint8_t *p)
{
    return ((uint64_t)nbd_get_be32(p) << 32) | nbd_get_be32(p + 4);
}

/* ---- Encode / decode ------------------------------------------------------
 */

/* Server greeting: NBDMAGIC, IHAVEOPT, 16-bit handshake flags. */
void nbd_encode_greeting(uint8_t buf[NBD_SERVER_GREETING_SIZE], uint16_t flags);
/* Returns false if either magic is wrong. */
bool nbd_decode_greeting(const uint8_t buf[NBD_SERVER_GREETING_SIZE],
                         uint16_t *flags);

void nbd_encode_option(uint8_t buf[NBD_OPTION_HEADER_SIZE],
                       const NBDOption *opt);
/* Returns false if the IHAVEOPT magic is wrong. */
bool nbd_decode_option(const uint8_t buf[NBD_OPTION_HEADER_SIZE],
                       NBDOption *opt);

void nbd_encode_option_reply(uint8_t buf[NBD_OPTION_REPLY_SIZE],
                             const NBDOptionReply *rep);
/* Returns false if the option reply magic is wrong. */
bool nbd_decode_option_reply(const uint8_t buf[NBD_OPTION_REPLY_SIZE],
                             NBDOptionReply *rep);

/* Compact request; @req->length must fit in 32 bits. */
void nbd_encode_request(uint8_t buf[NBD_REQUEST_SIZE], const NBDRequest *req);
/* Returns false if the request magic is wrong. */
bool nbd_decode_request(const uint8_t buf[NBD_REQUEST_SIZE], NBDRequest *req);

/* Extended request (32 bytes, 64-bit length). */
void nbd_encode_extended_request(uint8_t buf[NBD_EXTENDED_REQUEST_SIZE],
                                 const NBDRequest *req);
/* Returns false if the extended request magic is wrong. */
bool nbd_decode_extended_request(const uint8_t buf[NBD_EXTENDED_REQUEST_SIZE],
                                 NBDRequest *req);

void nbd_encode_simple_reply(uint8_t buf[NBD_SIMPLE_REPLY_SIZE],
                             const NBDSimpleReply *rep);
/* Returns false if the simple reply magic is wrong. */
bool nbd_decode_simple_reply(const uint8_t buf[NBD_SIMPLE_REPLY_SIZE],
                             NBDSimpleReply *rep);

void nbd_encode_structured_reply(uint8_t buf[NBD_STRUCTURED_REPLY_SIZE],
                                 const NBDStructuredReply *rep);
/* Returns false if the structured reply magic is wrong. */
bool nbd_decode_structured_reply(const uint8_t buf[NBD_STRUCTURED_REPLY_SIZE],
                                 NBDStructuredReply *rep);

void nbd_encode_extended_reply(uint8_t buf[NBD_EXTENDED_REPLY_SIZE],
                               const NBDExtendedReply *rep);
/* Returns false if the extended reply magic is wrong. */
bool nbd_decode_extended_reply(const uint8_t buf[NBD_EXTENDED_REPLY_SIZE],
                               NBDExtendedReply *rep);

/*
 * Map a host errno value to the NBD wire error; unknown values become
 * NBD_EINVAL as the spec asks.  And back, for clients reporting errors.
 */
uint32_t nbd_errno_to_wire(int err);
int nbd_wire_to_errno(uint32_t err);

/*
 * Names for traces and messages ("NBD_OPT_GO" style without the prefix,
 * e.g. "go", "starttls").  Never NULL: unknown values give "unknown".
 */
const char *nbd_opt_name(uint32_t opt);
const char *nbd_rep_name(uint32_t type);
const char *nbd_cmd_name(uint16_t cmd);
const char *nbd_info_name(uint16_t info);
const char *nbd_reply_type_name(uint16_t type);
const char *nbd_err_name(uint32_t err);

/*
 * Transmission flag names, one table for every tool.  Two spellings:
 * NBD_FLAG_SPELLING_QEMU is what qemu-nbd --list prints ("readonly",
 * "zeroes", "multi"), which qio-nbd --list matches; NBD_FLAG_SPELLING_LONG
 * is the spelled-out form qio-nbd-client info prints ("read-only",
 * "write-zeroes", "multi-conn").
 */
typedef enum {
    NBD_FLAG_SPELLING_QEMU,
    NBD_FLAG_SPELLING_LONG,
} NBDFlagSpelling;

/*
 * The name of the single transmission flag @bit (NBD_FLAG_READ_ONLY, ...),
 * or NULL for NBD_FLAG_HAS_FLAGS, an unassigned bit or a value that is not
 * a single bit.  To list a flags word, walk its bits from the lowest:
 *
 *     for (unsigned i = 0; i < 16; i++) {
 *         const char *name = nbd_flag_name(flags & (1u << i),
 *                                          NBD_FLAG_SPELLING_QEMU);
 *         ...
 *     }
 */
const char *nbd_flag_name(uint16_t bit, NBDFlagSpelling spelling);

#endif /* QIO_NBD_PROTO_H */
