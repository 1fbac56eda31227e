/*
 * The table of QMP commands a monitor dispatches through.
 *
 * The generator writes one marshaller per command,
 *
 *     void qmp_marshal_query_status(JsonObject *args, JsonNode **ret,
 *                                   GError **errp);
 *
 * which checks and converts @args (NULL means no arguments), calls the
 * implementation qmp_query_status() and converts its result; and, per
 * schema module, qmp_init_marshal_MODULE(QmpCommandList *) registering the
 * module's commands (qmp_init_marshal() registers all).  A monitor keeps
 * one list and dispatches by name:
 *
 *     QmpCommandList *cmds = qmp_command_list_new();
 *     qmp_init_marshal(cmds);
 *     const QmpCommand *cmd = qmp_find_command(cmds, "query-status");
 *     if (!cmd || !qmp_command_is_enabled(cmd)) -> CommandNotFound
 *     JsonNode *ret = NULL;
 *     if (qmp_command_run(cmd, args, &ret, &err)) -> {"return": ret}
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>
#include <stdbool.h>

G_BEGIN_DECLS

/*
 * A marshaller.  On success *ret is the value of "return" ({} for a
 * command that returns nothing); on failure @errp is set and *ret NULL.
 */
typedef void (*QmpCommandFunc)(JsonObject *args, JsonNode **ret, GError **errp);

typedef enum QmpCommandOptions {
    QMP_CMD_NO_OPTIONS = 0,
    QMP_CMD_ALLOW_OOB = 1 << 0,       /* 'allow-oob': true in the schema */
    QMP_CMD_ALLOW_PRECONFIG = 1 << 1, /* 'allow-preconfig': true */
} QmpCommandOptions;

typedef struct QmpCommand QmpCommand;
typedef struct QmpCommandList QmpCommandList;

QmpCommandList *qmp_command_list_new(void);
void qmp_command_list_free(QmpCommandList *cmds);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QmpCommandList, qmp_command_list_free)

/*
 * Add @name; registering a name twice is a programmer's mistake.
 * @features is the schema's feature list as a NULL-terminated array of
 * static strings ("deprecated"), or NULL.
 */
void qmp_register_command(QmpCommandList *cmds, const char *name,
                          QmpCommandFunc fn, QmpCommandOptions options,
                          const char *const *features);

/* Remove @name (a monitor that implements no such command); no-op if absent. */
void qmp_unregister_command(QmpCommandList *cmds, const char *name);

/* The command called @name, or NULL.  Disabled commands are found too. */
const QmpCommand *qmp_find_command(const QmpCommandList *cmds,
                                   const char *name);

/*
 * Disable or re-enable @name; a monitor answers a disabled command as
 * QEMU does, with CommandNotFound.  Unknown names are ignored.
 */
void qmp_disable_command(QmpCommandList *cmds, const char *name,
                         const char *reason);
void qmp_enable_command(QmpCommandList *cmds, const char *name);

const char *qmp_command_name(const QmpCommand *cmd);
bool qmp_command_is_enabled(const QmpCommand *cmd);
/* The reason given to qmp_disable_command(), or NULL. */
const char *qmp_command_disable_reason(const QmpCommand *cmd);
QmpCommandOptions qmp_command_options(const QmpCommand *cmd);
bool qmp_command_has_feature(const QmpCommand *cmd, const char *feature);

/*
 * Run the marshaller: true with *ret set, or false with @errp set.
 * @args may be NULL (no "arguments" in the request).
 */
bool qmp_command_run(const QmpCommand *cmd, JsonObject *args, JsonNode **ret,
                     GError **errp);

/* Call @fn for every command, in name order. */
typedef void (*QmpCommandIter)(const QmpCommand *cmd, void *opaque);
void qmp_for_each_command(const QmpCommandList *cmds, QmpCommandIter fn,
                          void *opaque);

G_END_DECLS
