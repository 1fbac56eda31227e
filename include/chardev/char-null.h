/*
 * The null chardev: -chardev null,id=ID.  Writes are taken whole and
 * dropped, nothing is ever read, and no peer ever connects (the frontend
 * never sees OPENED).  For a serial port or monitor nobody uses.
 *
 *     QIOChardev *chr = qio_chardev_null_new("ser0", errp);
 */
#pragma once

#include "chardev/char.h"

G_BEGIN_DECLS

#define QIO_TYPE_CHARDEV_NULL (qio_chardev_null_get_type())
G_DECLARE_FINAL_TYPE(QIOChardevNull, qio_chardev_null, QIO, CHARDEV_NULL,
                     QIOChardev)

/*
 * A null chardev registered as @id (NULL: anonymous).  The registry holds
 * it; the returned pointer is borrowed when @id is set, owned otherwise.
 */
QIOChardev *qio_chardev_null_new(const char *id, GError **errp);

G_END_DECLS
