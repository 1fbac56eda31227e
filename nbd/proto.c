/*
 * NBD wire encoding shared by the server and the client.
 *
 * Encoders and decoders of the fixed-size headers, errno mapping and the
 * name tables used in traces and error messages.  Decoders only check the
 * magic; the caller owns every bound on lengths, since only it knows which
 * phase of the protocol it is in.
 *
 * Copyright (c) qio contributors
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <errno.h>

#include "nbd/nbd-proto.h"

void nbd_encode_greeting(uint8_t buf[NBD_SERVER_GREETING_SIZE], uint16_t flags)
{
    nbd_put_be64(buf, NBD_INIT_MAGIC);
    nbd_put_be64(buf + 8, NBD_OPTS_MAGIC);
    nbd_put_be16(buf + 16, flags);
}

bool nbd_decode_greeting(const uint8_t buf[NBD_SERVER_GREETING_SIZE],
                         uint16_t *flags)
{
    if (nbd_get_be64(buf) != NBD_INIT_MAGIC ||
        nbd_get_be64(buf + 8) != NBD_OPTS_MAGIC) {
        return false;
    }
    *flags = nbd_get_be16(buf + 16);
    return true;
}

void nbd_encode_option(uint8_t buf[NBD_OPTION_HEADER_SIZE],
                       const NBDOption *opt)
{
    nbd_put_be64(buf, NBD_OPTS_MAGIC);
    nbd_put_be32(buf + 8, opt->option);
    nbd_put_be32(buf + 12, opt->length);
}

bool nbd_decode_option(const uint8_t buf[NBD_OPTION_HEADER_SIZE],
                       NBDOption *opt)
{
    if (nbd_get_be64(buf) != NBD_OPTS_MAGIC) {
        return false;
    }
    opt->option = nbd_get_be32(buf + 8);
    opt->length = nbd_get_be32(buf + 12);
    return true;
}

void nbd_encode_option_reply(uint8_t buf[NBD_OPTION_REPLY_SIZE],
                             const NBDOptionReply *rep)
{
    nbd_put_be64(buf, NBD_REP_MAGIC);
    nbd_put_be32(buf + 8, rep->option);
    nbd_put_be32(buf + 12, rep->type);
    nbd_put_be32(buf + 16, rep->length);
}

bool nbd_decode_option_reply(const uint8_t buf[NBD_OPTION_REPLY_SIZE],
                             NBDOptionReply *rep)
{
    if (nbd_get_be64(buf) != NBD_REP_MAGIC) {
        return false;
    }
    rep->option = nbd_get_be32(buf + 8);
    rep->type = nbd_get_be32(buf + 12);
    rep->length = nbd_get_be32(buf + 16);
    return true;
}

void nbd_encode_request(uint8_t buf[NBD_REQUEST_SIZE], const NBDRequest *req)
{
    nbd_put_be32(buf, NBD_REQUEST_MAGIC);
    nbd_put_be16(buf + 4, req->flags);
    nbd_put_be16(buf + 6, req->type);
    nbd_put_be64(buf + 8, req->cookie);
    nbd_put_be64(buf + 16, req->offset);
    nbd_put_be32(buf + 24, (uint32_t)req->length);
}

bool nbd_decode_request(const uint8_t buf[NBD_REQUEST_SIZE], NBDRequest *req)
{
    if (nbd_get_be32(buf) != NBD_REQUEST_MAGIC) {
        return false;
    }
    req->flags = nbd_get_be16(buf + 4);
    req->type = nbd_get_be16(buf + 6);
    req->cookie = nbd_get_be64(buf + 8);
    req->offset = nbd_get_be64(buf + 16);
    req->length = nbd_get_be32(buf + 24);
    return true;
}

void nbd_encode_extended_request(uint8_t buf[NBD_EXTENDED_REQUEST_SIZE],
                                 const NBDRequest *req)
{
    nbd_put_be32(buf, NBD_EXTENDED_REQUEST_MAGIC);
    nbd_put_be16(buf + 4, req->flags);
    nbd_put_be16(buf + 6, req->type);
    nbd_put_be64(buf + 8, req->cookie);
    nbd_put_be64(buf + 16, req->offset);
    nbd_put_be64(buf + 24, req->length);
}

bool nbd_decode_extended_request(const uint8_t buf[NBD_EXTENDED_REQUEST_SIZE],
                                 NBDRequest *req)
{
    if (nbd_get_be32(buf) != NBD_EXTENDED_REQUEST_MAGIC) {
        return false;
    }
    req->flags = nbd_get_be16(buf + 4);
    req->type = nbd_get_be16(buf + 6);
    req->cookie = nbd_get_be64(buf + 8);
    req->offset = nbd_get_be64(buf + 16);
    req->length = nbd_get_be64(buf + 24);
    return true;
}

void nbd_encode_simple_reply(uint8_t buf[NBD_SIMPLE_REPLY_SIZE],
                             const NBDSimpleReply *rep)
{
    nbd_put_be32(buf, NBD_SIMPLE_REPLY_MAGIC);
    nbd_put_be32(buf + 4, rep->error);
    nbd_put_be64(buf + 8, rep->cookie);
}

bool nbd_decode_simple_reply(const uint8_t buf[NBD_SIMPLE_REPLY_SIZE],
                             NBDSimpleReply *rep)
{
    if (nbd_get_be32(buf) != NBD_SIMPLE_REPLY_MAGIC) {
        return false;
    }
    rep->error = nbd_get_be32(buf + 4);
    rep->cookie = nbd_get_be64(buf + 8);
    return true;
}

void nbd_encode_structured_reply(uint8_t buf[NBD_STRUCTURED_REPLY_SIZE],
                                 const NBDStructuredReply *rep)
{
    nbd_put_be32(buf, NBD_STRUCTURED_REPLY_MAGIC);
    nbd_put_be16(buf + 4, rep->flags);
    nbd_put_be16(buf + 6, rep->type);
    nbd_put_be64(buf + 8, rep->cookie);
    nbd_put_be32(buf + 16, rep->length);
}

bool nbd_decode_structured_reply(const uint8_t buf[NBD_STRUCTURED_REPLY_SIZE],
                                 NBDStructuredReply *rep)
{
    if (nbd_get_be32(buf) != NBD_STRUCTURED_REPLY_MAGIC) {
        return false;
    }
    rep->flags = nbd_get_be16(buf + 4);
    rep->type = nbd_get_be16(buf + 6);
    rep->cookie = nbd_get_be64(buf + 8);
    rep->length = nbd_get_be32(buf + 16);
    return true;
}

void nbd_encode_extended_reply(uint8_t buf[NBD_EXTENDED_REPLY_SIZE],
                               const NBDExtendedReply *rep)
{
    nbd_put_be32(buf, NBD_EXTENDED_REPLY_MAGIC);
    nbd_put_be16(buf + 4, rep->flags);
    nbd_put_be16(buf + 6, rep->type);
    nbd_put_be64(buf + 8, rep->cookie);
    nbd_put_be64(buf + 16, rep->offset);
    nbd_put_be64(buf + 24, rep->length);
}

bool nbd_decode_extended_reply(const uint8_t buf[NBD_EXTENDED_REPLY_SIZE],
                               NBDExtendedReply *rep)
{
    if (nbd_get_be32(buf) != NBD_EXTENDED_REPLY_MAGIC) {
        return false;
    }
    rep->flags = nbd_get_be16(buf + 4);
    rep->type = nbd_get_be16(buf + 6);
    rep->cookie = nbd_get_be64(buf + 8);
    rep->offset = nbd_get_be64(buf + 16);
    rep->length = nbd_get_be64(buf + 24);
    return true;
}

uint32_t nbd_errno_to_wire(int err)
{
    switch (err) {
    case 0:
        return NBD_SUCCESS;
    case EPERM:
    case EROFS:
        return NBD_EPERM;
    case EIO:
        return NBD_EIO;
    case ENOMEM:
        return NBD_ENOMEM;
    case ENOSPC:
    case EFBIG:
#ifdef EDQUOT
    case EDQUOT:
#endif
        return NBD_ENOSPC;
    case EOVERFLOW:
        return NBD_EOVERFLOW;
    case ENOTSUP:
#if EOPNOTSUPP != ENOTSUP
    case EOPNOTSUPP:
#endif
        return NBD_ENOTSUP;
    case ESHUTDOWN:
        return NBD_ESHUTDOWN;
    default:
        return NBD_EINVAL;
    }
}

int nbd_wire_to_errno(uint32_t err)
{
    switch (err) {
    case NBD_SUCCESS:
        return 0;
    case NBD_EPERM:
        return EPERM;
    case NBD_EIO:
        return EIO;
    case NBD_ENOMEM:
        return ENOMEM;
    case NBD_ENOSPC:
        return ENOSPC;
    case NBD_EOVERFLOW:
        return EOVERFLOW;
    case NBD_ENOTSUP:
        return ENOTSUP;
    case NBD_ESHUTDOWN:
        return ESHUTDOWN;
    default:
        /* The spec says unknown errors are to be treated as EINVAL. */
        return EINVAL;
    }
}

const char *nbd_opt_name(uint32_t opt)
{
    switch (opt) {
    case NBD_OPT_EXPORT_NAME:
        return "export_name";
    case NBD_OPT_ABORT:
        return "abort";
    case NBD_OPT_LIST:
        return "list";
    case NBD_OPT_PEEK_EXPORT:
        return "peek_export";
    case NBD_OPT_STARTTLS:
        return "starttls";
    case NBD_OPT_INFO:
        return "info";
    case NBD_OPT_GO:
        return "go";
    case NBD_OPT_STRUCTURED_REPLY:
        return "structured_reply";
    case NBD_OPT_LIST_META_CONTEXT:
        return "list_meta_context";
    case NBD_OPT_SET_META_CONTEXT:
        return "set_meta_context";
    case NBD_OPT_EXTENDED_HEADERS:
        return "extended_headers";
    default:
        return "unknown";
    }
}

const char *nbd_rep_name(uint32_t type)
{
    switch (type) {
    case NBD_REP_ACK:
        return "ack";
    case NBD_REP_SERVER:
        return "server";
    case NBD_REP_INFO:
        return "info";
    case NBD_REP_META_CONTEXT:
        return "meta_context";
    case NBD_REP_ERR_UNSUP:
        return "err_unsup";
    case NBD_REP_ERR_POLICY:
        return "err_policy";
    case NBD_REP_ERR_INVALID:
        return "err_invalid";
    case NBD_REP_ERR_PLATFORM:
        return "err_platform";
    case NBD_REP_ERR_TLS_REQD:
        return "err_tls_reqd";
    case NBD_REP_ERR_UNKNOWN:
        return "err_unknown";
    case NBD_REP_ERR_SHUTDOWN:
        return "err_shutdown";
    case NBD_REP_ERR_BLOCK_SIZE_REQD:
        return "err_block_size_reqd";
    case NBD_REP_ERR_TOO_BIG:
        return "err_too_big";
    case NBD_REP_ERR_EXT_HEADER_REQD:
        return "err_ext_header_reqd";
    default:
        return "unknown";
    }
}

const char *nbd_cmd_name(uint16_t cmd)
{
    switch (cmd) {
    case NBD_CMD_READ:
        return "read";
    case NBD_CMD_WRITE:
        return "write";
    case NBD_CMD_DISC:
        return "disc";
    case NBD_CMD_FLUSH:
        return "flush";
    case NBD_CMD_TRIM:
        return "trim";
    case NBD_CMD_CACHE:
        return "cache";
    case NBD_CMD_WRITE_ZEROES:
        return "write_zeroes";
    case NBD_CMD_BLOCK_STATUS:
        return "block_status";
    case NBD_CMD_RESIZE:
        return "resize";
    default:
        return "unknown";
    }
}

const char *nbd_info_name(uint16_t info)
{
    switch (info) {
    case NBD_INFO_EXPORT:
        return "export";
    case NBD_INFO_NAME:
        return "name";
    case NBD_INFO_DESCRIPTION:
        return "description";
    case NBD_INFO_BLOCK_SIZE:
        return "block_size";
    default:
        return "unknown";
    }
}

const char *nbd_reply_type_name(uint16_t type)
{
    switch (type) {
    case NBD_REPLY_TYPE_NONE:
        return "none";
    case NBD_REPLY_TYPE_OFFSET_DATA:
        return "offset_data";
    case NBD_REPLY_TYPE_OFFSET_HOLE:
        return "offset_hole";
    case NBD_REPLY_TYPE_BLOCK_STATUS:
        return "block_status";
    case NBD_REPLY_TYPE_BLOCK_STATUS_EXT:
        return "block_status_ext";
    case NBD_REPLY_TYPE_ERROR:
        return "error";
    case NBD_REPLY_TYPE_ERROR_OFFSET:
        return "error_offset";
    default:
        return "unknown";
    }
}

const char *nbd_err_name(uint32_t err)
{
    switch (err) {
    case NBD_SUCCESS:
        return "success";
    case NBD_EPERM:
        return "EPERM";
    case NBD_EIO:
        return "EIO";
    case NBD_ENOMEM:
        return "ENOMEM";
    case NBD_EINVAL:
        return "EINVAL";
    case NBD_ENOSPC:
        return "ENOSPC";
    case NBD_EOVERFLOW:
        return "EOVERFLOW";
    case NBD_ENOTSUP:
        return "ENOTSUP";
    case NBD_ESHUTDOWN:
        return "ESHUTDOWN";
    default:
        return "unknown";
    }
}

static const struct {
    uint16_t bit;
    const char *qemu;
    const char *spelled;
} nbd_flag_names[] = {
    { NBD_FLAG_READ_ONLY, "readonly", "read-only" },
    { NBD_FLAG_SEND_FLUSH, "flush", "flush" },
    { NBD_FLAG_SEND_FUA, "fua", "fua" },
    { NBD_FLAG_ROTATIONAL, "rotational", "rotational" },
    { NBD_FLAG_SEND_TRIM, "trim", "trim" },
    { NBD_FLAG_SEND_WRITE_ZEROES, "zeroes", "write-zeroes" },
    { NBD_FLAG_SEND_DF, "df", "df" },
    { NBD_FLAG_CAN_MULTI_CONN, "multi", "multi-conn" },
    { NBD_FLAG_SEND_RESIZE, "resize", "resize" },
    { NBD_FLAG_SEND_CACHE, "cache", "cache" },
    { NBD_FLAG_SEND_FAST_ZERO, "fast-zero", "fast-zero" },
    { NBD_FLAG_BLOCK_STAT_PAYLOAD, "block-status-payload",
      "block-status-payload" },
};

const char *nbd_flag_name(uint16_t bit, NBDFlagSpelling spelling)
{
    for (size_t i = 0; i < sizeof(nbd_flag_names) / sizeof(nbd_flag_names[0]);
         i++) {
        if (nbd_flag_names[i].bit == bit) {
            return spelling == NBD_FLAG_SPELLING_QEMU
                       ? nbd_flag_names[i].qemu
                       : nbd_flag_names[i].spelled;
        }
    }
    return NULL;
}
