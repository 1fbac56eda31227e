/*
 * chardev-bridge: two character devices joined back to back, through the
 * library's frontend API, as a program that exposes a local serial line
 * or console over TLS would do it.
 *
 *   chardev-bridge [--object OBJECT]... --chardev A --chardev B
 *
 * Every byte read from A is written to B and the other way round.  Each
 * direction holds at most 64 KiB: while that is full the side it comes
 * from is not read, so a slow reader on one side slows the writer on the
 * other instead of growing memory.  OPENED and CLOSED events are logged
 * on stderr ("chardev-bridge: net: opened").  SIGINT or SIGTERM ends it.
 *
 * For example, a UNIX socket served as TLS on port 9000 to clients that
 * tls-authz lets in:
 *
 *   chardev-bridge \
 *     --object tls-creds-x509,id=tls0,endpoint=server,dir=/etc/pki/qio \
 *     --object authz-simple,id=auth0,identity=CN=operator \
 *     --chardev socket,id=net,host=0.0.0.0,port=9000,server=on,wait=off,\
 * tls-creds=tls0,tls-authz=auth0 \
 *     --chardev socket,id=line,path=/run/serial0.sock
 */
#include <glib-unix.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>

#include "authz/base.h"
#include "chardev/char-qapi.h"
#include "crypto/init.h"
#include "crypto/tls-creds.h"
#include "qom/object-cli.h"
#include "util/log.h"

#define PENDING_MAX (64 * 1024)

typedef struct Side Side;
struct Side {
    QIOChardev *chr;
    int tag;
    Side *peer;
    GByteArray *pending; /* read from this side, not yet taken by peer */
};

static Side sides[2];

/* Move what this side read into the peer's chardev, as far as it takes. */
static void flush(Side *s)
{
    while (s->pending->len > 0) {
        g_autoptr(GError) err = NULL;
        gssize n = qio_chardev_write(s->peer->chr, s->pending->data,
                                     s->pending->len, &err);

        if (n < 0) {
            g_warning("%s: %s", qio_chardev_get_id(s->peer->chr), err->message);
            g_byte_array_set_size(s->pending, 0);
            break;
        }
        if (n == 0) {
            return; /* the peer's writable() calls us again */
        }
        g_byte_array_remove_range(s->pending, 0, n);
    }
    /* Room again: let this side be read. */
    qio_chardev_accept_input(s->chr);
}

static size_t side_can_read(gpointer opaque)
{
    Side *s = opaque;

    return PENDING_MAX - s->pending->len;
}

static void side_read(gpointer opaque, const uint8_t *buf, size_t len)
{
    Side *s = opaque;

    g_byte_array_append(s->pending, buf, len);
    flush(s);
}

static void side_event(gpointer opaque, QIOChardevEvent ev)
{
    Side *s = opaque;

    if (ev == QIO_CHARDEV_EVENT_OPENED || ev == QIO_CHARDEV_EVENT_CLOSED) {
        g_message("%s: %s", qio_chardev_get_id(s->chr),
                  ev == QIO_CHARDEV_EVENT_OPENED ? "opened" : "closed");
    }
}

/* This side's chardev can take more: flush what the peer read for it. */
static void side_writable(gpointer opaque)
{
    Side *s = opaque;

    flush(s->peer);
}

static const QIOChardevHandlers side_handlers = {
    .can_read = side_can_read,
    .read = side_read,
    .event = side_event,
    .writable = side_writable,
};

static gboolean on_signal(gpointer opaque)
{
    g_main_loop_quit(opaque);
    return G_SOURCE_CONTINUE;
}

int main(int argc, char **argv)
{
    g_auto(GStrv) objects = NULL;
    g_auto(GStrv) chardevs = NULL;
    GOptionEntry entries[] = {
        { "object", 0, 0, G_OPTION_ARG_STRING_ARRAY, &objects,
          "create a user object (tls-creds-x509, authz-simple, ...)",
          "OBJECT" },
        { "chardev", 0, 0, G_OPTION_ARG_STRING_ARRAY, &chardevs,
          "a character device in -chardev syntax (exactly two)", "CHARDEV" },
        { NULL },
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("");
    g_autoptr(GError) err = NULL;
    g_autoptr(GMainLoop) loop = g_main_loop_new(NULL, false);

    qutil_log_init("chardev-bridge");
    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!g_option_context_parse(ctx, &argc, &argv, &err) || !chardevs ||
        g_strv_length(chardevs) != 2) {
        fprintf(stderr, "chardev-bridge: %s\n",
                err ? err->message : "give --chardev twice");
        return 1;
    }
    if (!qcrypto_init(&err)) {
        fprintf(stderr, "chardev-bridge: %s\n", err->message);
        return 1;
    }
    qcrypto_tls_creds_register_types();
    qauthz_register_types();
    for (char **o = objects; o && *o; o++) {
        if (!qom_object_add_from_cli(*o, &err)) {
            fprintf(stderr, "chardev-bridge: --object %s: %s\n", *o,
                    err->message);
            return 1;
        }
    }
    for (int i = 0; i < 2; i++) {
        sides[i].pending = g_byte_array_new();
        sides[i].peer = &sides[1 - i];
        sides[i].chr = qio_chardev_new_from_opts(chardevs[i], &err);
        if (!sides[i].chr) {
            fprintf(stderr, "chardev-bridge: --chardev %s: %s\n", chardevs[i],
                    err->message);
            qio_chardev_remove_all();
            return 1;
        }
    }
    for (int i = 0; i < 2; i++) {
        sides[i].tag =
            qio_chardev_attach(sides[i].chr, &side_handlers, &sides[i], &err);
        if (sides[i].tag < 0) {
            fprintf(stderr, "chardev-bridge: %s\n", err->message);
            qio_chardev_remove_all();
            return 1;
        }
    }
    g_message("ready");
    g_unix_signal_add(SIGINT, on_signal, loop);
    g_unix_signal_add(SIGTERM, on_signal, loop);
    g_main_loop_run(loop);
    for (int i = 0; i < 2; i++) {
        qio_chardev_detach(sides[i].chr, sides[i].tag);
        g_byte_array_unref(sides[i].pending);
    }
    qio_chardev_remove_all();
    return 0;
}
