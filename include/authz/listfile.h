/*
 * authz-listfile: the rules of authz-list, kept in a JSON file that an
 * administrator can edit while the server runs.
 *
 *   --object authz-listfile,id=auth0,filename=/etc/qio/authz.json
 *
 *   /etc/qio/authz.json:
 *   {
 *     "policy": "deny",
 *     "rules": [
 *       {"match": "CN=mallory*", "policy": "deny", "format": "glob"},
 *       {"match": "*O=Example*", "policy": "allow", "format": "glob"}
 *     ]
 *   }
 *
 * The file is read when the object is created; a missing, unreadable or
 * malformed file is then an error naming it.  With refresh=on (the
 * default) every check first stat()s the file and re-reads it when its
 * inode, size, modification or change time differ from the version
 * loaded last: there is no watcher thread, nothing to miss, and a check
 * costs one stat().  A file that fails to read or parse on a refresh
 * leaves the previous rules in force and logs a warning, once per version
 * of the file.  Replace the file atomically (write a new one and rename
 * it over the old) so that no check sees half of it.
 */
#pragma once

#include "authz/base.h"

G_BEGIN_DECLS

/*
 *   filename  the JSON rules file (required)
 *   refresh   on | off (default on): re-read the file when it changes
 */
#define QAUTHZ_TYPE_LIST_FILE (qauthz_list_file_get_type())
G_DECLARE_FINAL_TYPE(QAuthZListFile, qauthz_list_file, QAUTHZ, LIST_FILE,
                     QAuthZ)

/*
 * Re-read the file now, whatever refresh= says (for a reload signal or a
 * monitor command).  On failure the previous rules stay in force and the
 * error names the file.
 */
bool qauthz_list_file_reload(QAuthZListFile *authz, GError **errp);

G_END_DECLS
