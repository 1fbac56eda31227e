/*
 * The QMP command table: name -> marshaller, options, enabled state.
 * A sorted GTree so that query-commands and help list names in order.
 */
#include "qapi/qmp-registry.h"

#include <string.h>

struct QmpCommand {
    char *name;
    QmpCommandFunc fn;
    QmpCommandOptions options;
    const char *const *features;
    bool enabled;
    char *disable_reason;
};

struct QmpCommandList {
    GTree *by_name; /* char * -> QmpCommand *, the key owned by the value */
};

static void command_free(gpointer p)
{
    QmpCommand *cmd = p;

    g_free(cmd->name);
    g_free(cmd->disable_reason);
    g_free(cmd);
}

static int compare_names(gconstpointer a, gconstpointer b, gpointer unused)
{
    return strcmp(a, b);
}

QmpCommandList *qmp_command_list_new(void)
{
    QmpCommandList *cmds = g_new0(QmpCommandList, 1);

    cmds->by_name = g_tree_new_full(compare_names, NULL, NULL, command_free);
    return cmds;
}

void qmp_command_list_free(QmpCommandList *cmds)
{
    if (cmds) {
        g_tree_destroy(cmds->by_name);
        g_free(cmds);
    }
}

void qmp_register_command(QmpCommandList *cmds, const char *name,
                          QmpCommandFunc fn, QmpCommandOptions options,
                          const char *const *features)
{
    QmpCommand *cmd;

    g_return_if_fail(cmds && name && fn);
    g_return_if_fail(!g_tree_lookup(cmds->by_name, name));
    cmd = g_new0(QmpCommand, 1);
    cmd->name = g_strdup(name);
    cmd->fn = fn;
    cmd->options = options;
    cmd->features = features;
    cmd->enabled = true;
    g_tree_insert(cmds->by_name, cmd->name, cmd);
}

void qmp_unregister_command(QmpCommandList *cmds, const char *name)
{
    g_tree_remove(cmds->by_name, name);
}

const QmpCommand *qmp_find_command(const QmpCommandList *cmds, const char *name)
{
    return g_tree_lookup(cmds->by_name, name);
}

void qmp_disable_command(QmpCommandList *cmds, const char *name,
                         const char *reason)
{
    QmpCommand *cmd = g_tree_lookup(cmds->by_name, name);

    if (cmd) {
        cmd->enabled = false;
        g_free(cmd->disable_reason);
        cmd->disable_reason = g_strdup(reason);
    }
}

void qmp_enable_command(QmpCommandList *cmds, const char *name)
{
    QmpCommand *cmd = g_tree_lookup(cmds->by_name, name);

    if (cmd) {
        cmd->enabled = true;
        g_clear_pointer(&cmd->disable_reason, g_free);
    }
}

const char *qmp_command_name(const QmpCommand *cmd)
{
    return cmd->name;
}

bool qmp_command_is_enabled(const QmpCommand *cmd)
{
    return cmd->enabled;
}

const char *qmp_command_disable_reason(const QmpCommand *cmd)
{
    return cmd->disable_reason;
}

QmpCommandOptions qmp_command_options(const QmpCommand *cmd)
{
    return cmd->options;
}

bool qmp_command_has_feature(const QmpCommand *cmd, const char *feature)
{
    for (const char *const *f = cmd->features; f && *f; f++) {
        if (strcmp(*f, feature) == 0) {
            return true;
        }
    }
    return false;
}

bool qmp_command_run(const QmpCommand *cmd, JsonObject *args, JsonNode **ret,
                     GError **errp)
{
    GError *err = NULL;

    *ret = NULL;
    cmd->fn(args, ret, &err);
    if (err) {
        g_propagate_error(errp, err);
        if (*ret) {
            json_node_unref(*ret);
            *ret = NULL;
        }
        return false;
    }
    g_assert(*ret);
    return true;
}

typedef struct IterData {
    QmpCommandIter fn;
    void *opaque;
} IterData;

static gboolean iter_one(gpointer key, gpointer value, gpointer data)
{
    IterData *d = data;

    d->fn(value, d->opaque);
    return FALSE;
}

void qmp_for_each_command(const QmpCommandList *cmds, QmpCommandIter fn,
                          void *opaque)
{
    IterData d = { fn, opaque };

    g_tree_foreach(cmds->by_name, iter_one, &d);
}
