/*
 * Drive qio's NBD client against a real server for the interop scripts:
 * connect (optionally with TLS), select an export, read all of it, write
 * a pattern at the start, read it back, flush and ask for block status.
 * Prints one summary line on success; any failure prints the client's
 * error on stderr and exits 1, so a script can match the message.
 *
 *   nbd-client-check --object tls-creds-x509,id=tls0,endpoint=client,dir=D
 *                    --tls-creds tls0 127.0.0.1:10809
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "crypto/tls-creds.h"
#include "io/socket-address.h"
#include "nbd/client.h"
#include "nbd/nbd-proto.h"
#include "qom/object.h"
#include "qom/object-cli.h"

#define CHUNK       (1024 * 1024)
#define PATTERN_LEN (64 * 1024)

static char **opt_objects;
static char *opt_tls_creds;
static char *opt_tls_hostname;
static char *opt_export = "";
static gboolean opt_list;

static const GOptionEntry entries[] = {
    { "object", 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt_objects,
      "create an object (repeatable)", "SPEC" },
    { "tls-creds", 0, 0, G_OPTION_ARG_STRING, &opt_tls_creds,
      "id of the TLS credentials object", "ID" },
    { "tls-hostname", 0, 0, G_OPTION_ARG_STRING, &opt_tls_hostname,
      "name the server certificate must carry", "NAME" },
    { "export", 0, 0, G_OPTION_ARG_STRING, &opt_export,
      "export name (default \"\")", "NAME" },
    { "list", 0, 0, G_OPTION_ARG_NONE, &opt_list, "list the exports first",
      NULL },
    { NULL },
};

static int die(const GError *err)
{
    fprintf(stderr, "nbd-client-check: %s\n", err->message);
    return 1;
}

static bool check_export(NBDClient *c, GError **errp)
{
    uint64_t size = nbd_client_get_size(c), off;
    g_autofree uint8_t *buf = g_malloc(CHUNK);
    g_autofree uint8_t *pat = g_malloc(PATTERN_LEN);
    g_autoptr(GArray) ext = NULL;
    uint32_t i, plen;

    for (off = 0; off < size; off += CHUNK) {
        if (!nbd_client_pread(c, buf, MIN(CHUNK, size - off), off, errp)) {
            return false;
        }
    }
    plen = MIN(PATTERN_LEN, size);
    if (!(nbd_client_get_flags(c) & NBD_FLAG_READ_ONLY) && plen) {
        for (i = 0; i < plen; i++) {
            pat[i] = (uint8_t)(i * 7 + 1);
        }
        if (!nbd_client_pwrite(c, pat, plen, 0, 0, errp) ||
            !nbd_client_pread(c, buf, plen, 0, errp)) {
            return false;
        }
        if (memcmp(buf, pat, plen) != 0) {
            g_set_error(errp, QIO_ERROR, QIO_ERROR_FAILED,
                        "read back differs from what was written");
            return false;
        }
        if (!nbd_client_flush(c, errp)) {
            return false;
        }
    }
    if (nbd_client_has_structured_replies(c) && size) {
        ext = nbd_client_block_status(c, MIN(size, CHUNK), 0, errp);
        if (!ext) {
            return false;
        }
    }
    printf("size=%" G_GUINT64_FORMAT " tls=%s structured=%s extents=%u\n", size,
           nbd_client_is_tls(c) ? "yes" : "no",
           nbd_client_has_structured_replies(c) ? "yes" : "no",
           ext ? ext->len : 0);
    return true;
}

int main(int argc, char **argv)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GOptionContext) ctx = g_option_context_new("ADDRESS");
    g_autoptr(QIOSocketAddress) addr = NULL;
    g_autoptr(NBDClient) c = NULL;
    QCryptoTLSCreds *creds = NULL;

    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
        return die(err);
    }
    if (argc != 2) {
        fprintf(stderr, "nbd-client-check: one ADDRESS is required\n");
        return 1;
    }
    qcrypto_tls_creds_register_types();
    for (char **o = opt_objects; o && *o; o++) {
        if (!qom_object_add_from_cli(*o, &err)) {
            return die(err);
        }
    }
    if (opt_tls_creds) {
        creds =
            qom_object_find_typed(opt_tls_creds, QCRYPTO_TYPE_TLS_CREDS, &err);
        if (!creds) {
            return die(err);
        }
    }
    addr = qio_socket_address_parse(argv[1], &err);
    if (!addr) {
        return die(err);
    }
    c = nbd_client_connect(addr, creds, opt_tls_hostname, &err);
    if (!c) {
        return die(err);
    }
    if (opt_list) {
        g_auto(GStrv) names = nbd_client_list(c, &err);

        if (!names) {
            return die(err);
        }
        for (char **n = names; *n; n++) {
            printf("export: %s\n", *n);
        }
    }
    if (opt_list) {
        uint64_t size;
        uint16_t eflags;

        if (!nbd_client_info(c, opt_export, &size, &eflags, &err)) {
            return die(err);
        }
        printf("info: size=%" G_GUINT64_FORMAT " flags=0x%x\n", size, eflags);
    }
    if (!nbd_client_go(c, opt_export, &err) || !check_export(c, &err)) {
        return die(err);
    }
    return 0;
}
