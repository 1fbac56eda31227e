/*
 * The file chardev: -chardev file,id=ID,path=PATH[,append=on][,input-path=IN].
 * What the frontend writes goes to PATH (created 0666 & ~umask, truncated
 * unless append=on); with IN, the file's bytes are the frontend's input,
 * once, up to its end.  Opened at creation: the frontend hears OPENED.
 *
 *     QIOChardev *chr = qio_chardev_file_new("log0", "/var/log/ser0",
 *                                            NULL, true, errp);
 */
#pragma once

#include "chardev/char.h"

G_BEGIN_DECLS

GType qio_chardev_file_get_type(void);
#define QIO_TYPE_CHARDEV_FILE (qio_chardev_file_get_type())

/*
 * A file chardev registered as @id (NULL: anonymous, owned by the
 * caller); @in may be NULL.  Errors name the file (QIO_ERROR codes mapped
 * from errno).
 */
QIOChardev *qio_chardev_file_new(const char *id, const char *path,
                                 const char *in, bool append, GError **errp);

G_END_DECLS
