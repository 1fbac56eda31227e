/*
 * Chardevs from the schema's ChardevBackend (qapi/char.json): what
 * chardev-add passes, and what -chardev's key=value options become.
 *
 * -chardev keeps QEMU's flat option names; they are rearranged into
 * ChardevBackend's nested shape (host=, port=, path=, fd= become addr)
 * and read by the generated keyval visitor, so the command line and QMP
 * share one parser and one set of checks:
 *
 *   socket,id=s0,host=127.0.0.1,port=9000,server=on,wait=off,tls-creds=tls0
 *   socket,id=u0,path=/run/vm.sock,server=on,wait=off
 *   socket,id=c0,host=localhost,port=9000,reconnect=5
 *   stdio,id=con0,mux=on,signal=off
 *   file,id=f0,path=/var/log/ser0,append=on       (input-path=IN too)
 *   pipe,id=p0,path=/run/ser0                     (ser0.in and ser0.out)
 *   pty,id=pt0    null,id=n0    ringbuf,id=r0,size=64K   (memory: ringbuf)
 *   any of them with logfile=PATH[,logappend=on]
 *
 * QEMU 7.2's short boolean forms ("server", "nowait", "nodelay") are
 * accepted with its warning ("short-form boolean option 'server'
 * deprecated" / "Please use server=on instead").  mux=on registers the
 * backend as "ID-base" and a mux as "ID" (include/chardev/char-mux.h).
 *
 *     QIOChardev *chr = qio_chardev_new_from_opts(
 *         "socket,id=mon0,path=/run/mon.sock,server=on,wait=off", errp);
 *
 * The QMP commands of qapi/char.json (chardev-add, chardev-remove,
 * query-chardev, query-chardev-backends, ringbuf-write, ringbuf-read) are
 * implemented in chardev/char-qmp.c, and their marshallers are compiled
 * into this layer: a program registers them with qmp_init_marshal_char()
 * (qapi/qapi-commands-char.h).
 */
#pragma once

#include "chardev/char.h"
#include "qapi/qapi-types-char.h"

G_BEGIN_DECLS

/*
 * A chardev registered as @id made as @backend says (not consumed).
 * Defaults as QEMU's: server=off, wait=on for a server, telnet=off,
 * nodelay=off, signal=on, ringbuf size 65536.
 */
QIOChardev *qio_chardev_new_from_backend(const char *id,
                                         ChardevBackend *backend,
                                         GError **errp);

/*
 * Parse -chardev's @opts into a ChardevBackend without creating anything;
 * *@id and *@mux are set from id= and mux=.  Free with
 * qapi_free_ChardevBackend().
 */
ChardevBackend *qio_chardev_parse_opts(const char *opts, char **id, bool *mux,
                                       GError **errp);

/* -chardev @opts: parse and create (mux=on included); borrowed result. */
QIOChardev *qio_chardev_new_from_opts(const char *opts, GError **errp);

G_END_DECLS
