/*
 * The HMP monitor: QEMU's human monitor for qio-vm.  A connection gets the
 * banner and the prompt; each line goes through the HMP parser against
 * the table below and its handler, which calls the machine's (and qom's,
 * chardev's) operations and prints into a buffer; the buffer goes out
 * with CR LF line ends, then the prompt.  human-monitor-command runs the
 * same table without a terminal (vm_hmp_execute()).
 */
#include "vm/hmp.h"

#include <string.h>

#include "chardev/char.h"
#include "monitor/qmp.h"
#include "qio-config.h"
#include "qom/object-cli.h"
#include "qom/object.h"
#include "vm/readline.h"
#include "vm/term.h"

typedef void (*HmpHandler)(VMMachine *m, VMHmpParsed *p, GString *out);

struct VMHmp {
    VMMachine *machine;
    VMTerm *term;
    VMReadline *rl;
};

static VMHmpChardevAdd chardev_add_fn;

void vm_hmp_set_chardev_add(VMHmpChardevAdd fn)
{
    chardev_add_fn = fn;
}

static void print_error(GString *out, GError *err)
{
    g_string_append_printf(out, "Error: %s\n", err->message);
}

/* ---- info ------------------------------------------------------------- */

static void info_version(VMMachine *m, VMHmpParsed *p, GString *out)
{
    const char *package;
    int major, minor, micro;

    /* What query-version reports, printed as QEMU's HMP prints it. */
    monitor_qmp_version(&major, &minor, &micro, &package);
    g_string_append_printf(out, "%d.%d.%d%s\n", major, minor, micro, package);
}

static void info_status(VMMachine *m, VMHmpParsed *p, GString *out)
{
    g_autofree char *text =
        vm_run_state_describe(vm_run_state_get(vm_machine_get_run_state(m)));

    g_string_append_printf(out, "%s\n", text);
}

static void info_name(VMMachine *m, VMHmpParsed *p, GString *out)
{
    if (vm_machine_get_name(m)) {
        g_string_append_printf(out, "%s\n", vm_machine_get_name(m));
    }
}

static void info_chardev(VMMachine *m, VMHmpParsed *p, GString *out)
{
    g_autoptr(GPtrArray) list = qio_chardev_list();

    for (guint i = 0; i < list->len; i++) {
        QIOChardev *chr = g_ptr_array_index(list, i);
        g_autofree char *filename = qio_chardev_get_filename(chr);

        g_string_append_printf(out, "%s: filename=%s\n",
                               qio_chardev_get_label(chr), filename);
    }
}

static void tree_machine(VMMachine *m, GString *out, const char *indent)
{
    g_string_append_printf(out, "%s/machine (%s-machine)\n", indent,
                           vm_machine_get_type(m));
    g_string_append_printf(out, "%s  /unattached (container)\n", indent);
    for (unsigned i = 0; i < vm_machine_get_serial_count(m); i++) {
        g_string_append_printf(out, "%s    /serial[%u] (isa-serial)\n", indent,
                               i);
    }
}

static void tree_objects(GString *out, const char *indent)
{
    g_auto(GStrv) ids = qom_object_list_ids();

    g_string_append_printf(out, "%s/objects (container)\n", indent);
    for (char **id = ids; *id; id++) {
        GObject *obj = qom_object_find(*id);
        const char *type = obj ? qom_type_get_name(G_OBJECT_TYPE(obj)) : NULL;

        g_string_append_printf(out, "%s  /%s (%s)\n", indent, *id,
                               type ? type : "object");
    }
}

static void tree_chardevs(GString *out, const char *indent)
{
    g_autoptr(GPtrArray) list = qio_chardev_list();

    g_string_append_printf(out, "%s/chardevs (container)\n", indent);
    for (guint i = 0; i < list->len; i++) {
        QIOChardev *chr = g_ptr_array_index(list, i);

        g_string_append_printf(out, "%s  /%s (chardev-%s)\n", indent,
                               qio_chardev_get_id(chr),
                               qio_chardev_get_backend_name(chr));
    }
}

static void info_qom_tree(VMMachine *m, VMHmpParsed *p, GString *out)
{
    const char *path = vm_hmp_arg_str(p, "path");

    if (!path || g_str_equal(path, "/machine")) {
        tree_machine(m, out, "");
    } else if (g_str_equal(path, "/objects")) {
        tree_objects(out, "");
    } else if (g_str_equal(path, "/chardevs")) {
        tree_chardevs(out, "");
    } else if (g_str_equal(path, "/")) {
        g_string_append(out, "/ (container)\n");
        tree_machine(m, out, "  ");
        tree_objects(out, "  ");
        tree_chardevs(out, "  ");
    } else {
        g_string_append_printf(out, "Path '%s' could not be resolved.\n", path);
    }
}

/* ---- commands --------------------------------------------------------- */

static void list_help(const VMHmpCommand *cmds, size_t n, const char *prefix,
                      GString *out)
{
    for (size_t i = 0; i < n; i++) {
        g_string_append_printf(out, "%s%s %s -- %s\n", prefix, cmds[i].name,
                               cmds[i].params, cmds[i].help);
    }
}

static const VMHmpCommand info_cmds[];
static const size_t n_info_cmds;
static const VMHmpCommand hmp_cmds[];
static const size_t n_hmp_cmds;

static void cmd_help(VMMachine *m, VMHmpParsed *p, GString *out)
{
    const char *name = vm_hmp_arg_str(p, "name");
    g_auto(GStrv) words = NULL;
    const VMHmpCommand *cmd;

    if (!name) {
        list_help(hmp_cmds, n_hmp_cmds, "", out);
        return;
    }
    words = g_strsplit_set(name, " \t", 3);
    cmd = vm_hmp_find(hmp_cmds, n_hmp_cmds, words[0]);
    if (!cmd) {
        g_string_append_printf(out, "unknown command: '%s'\n", words[0]);
        return;
    }
    if (cmd->sub && words[1] && *words[1]) {
        const VMHmpCommand *sub = vm_hmp_find(cmd->sub, cmd->n_sub, words[1]);

        if (!sub) {
            g_string_append_printf(out, "unknown command: '%s %s'\n", words[0],
                                   words[1]);
            return;
        }
        list_help(sub, 1, "info ", out);
    } else if (cmd->sub) {
        list_help(cmd->sub, cmd->n_sub, "info ", out);
    } else {
        list_help(cmd, 1, "", out);
    }
}

static void cmd_info(VMMachine *m, VMHmpParsed *p, GString *out)
{
    /* "info" alone: the list, as QEMU prints it. */
    list_help(info_cmds, n_info_cmds, "info ", out);
}

static void cmd_stop(VMMachine *m, VMHmpParsed *p, GString *out)
{
    g_autoptr(GError) err = NULL;

    if (!vm_machine_stop(m, &err)) {
        print_error(out, err);
    }
}

static void cmd_cont(VMMachine *m, VMHmpParsed *p, GString *out)
{
    g_autoptr(GError) err = NULL;

    if (!vm_machine_cont(m, &err)) {
        print_error(out, err);
    }
}

static void cmd_quit(VMMachine *m, VMHmpParsed *p, GString *out)
{
    vm_machine_shutdown(m, VM_SHUTDOWN_HOST_QMP_QUIT);
}

static void cmd_object_add(VMMachine *m, VMHmpParsed *p, GString *out)
{
    g_autoptr(GError) err = NULL;

    if (!qom_object_add_from_cli(vm_hmp_arg_str(p, "object"), &err)) {
        print_error(out, err);
    }
}

static void cmd_object_del(VMMachine *m, VMHmpParsed *p, GString *out)
{
    g_autoptr(GError) err = NULL;

    if (!qom_object_del(vm_hmp_arg_str(p, "id"), &err)) {
        print_error(out, err);
    }
}

static void cmd_chardev_add(VMMachine *m, VMHmpParsed *p, GString *out)
{
    g_autoptr(GError) err = NULL;

    if (!chardev_add_fn) {
        g_set_error(&err, VM_ERROR, VM_ERROR_NOT_SUPPORTED,
                    "chardev-add is not available in this program");
    } else {
        chardev_add_fn(vm_hmp_arg_str(p, "args"), &err);
    }
    if (err) {
        print_error(out, err);
    }
}

static void cmd_chardev_remove(VMMachine *m, VMHmpParsed *p, GString *out)
{
    g_autoptr(GError) err = NULL;

    if (!qio_chardev_remove(vm_hmp_arg_str(p, "id"), &err)) {
        print_error(out, err);
    }
}

static void cmd_pmemsave(VMMachine *m, VMHmpParsed *p, GString *out)
{
    g_autoptr(GError) err = NULL;

    if (!vm_machine_pmemsave(m, vm_hmp_arg_int(p, "val"),
                             vm_hmp_arg_int(p, "size"),
                             vm_hmp_arg_str(p, "filename"), &err)) {
        print_error(out, err);
    }
}

static void cmd_memsave(VMMachine *m, VMHmpParsed *p, GString *out)
{
    g_autoptr(GError) err = NULL;

    if (!vm_machine_memsave(m, vm_hmp_arg_int(p, "val"),
                            vm_hmp_arg_int(p, "size"),
                            vm_hmp_arg_str(p, "filename"), false, 0, &err)) {
        print_error(out, err);
    }
}

static const VMHmpCommand info_cmds[] = {
    { "chardev", "", "", "list the character devices and their filenames",
      .handler = info_chardev },
    { "name", "", "", "print the machine's name (-name)",
      .handler = info_name },
    { "qom-tree", "path:s?", "[path]",
      "print the object tree under path (default /machine)",
      .handler = info_qom_tree },
    { "status", "", "", "print whether the machine runs (running|paused)",
      .handler = info_status },
    { "version", "", "", "print qio-vm's version", .handler = info_version },
};
static const size_t n_info_cmds = G_N_ELEMENTS(info_cmds);

static const VMHmpCommand hmp_cmds[] = {
    { "chardev-add", "args:s", "args", "create a chardev (-chardev syntax)",
      .handler = cmd_chardev_add },
    { "chardev-remove", "id:s", "id", "remove a chardev",
      .handler = cmd_chardev_remove },
    { "cont|c", "", "", "start or resume the machine", .handler = cmd_cont },
    { "help|?", "name:S?", "[cmd]", "list commands, or explain one",
      .handler = cmd_help },
    { "info", "item:s?", "[subcommand]",
      "show information about the machine (info alone lists what)", info_cmds,
      G_N_ELEMENTS(info_cmds), .handler = cmd_info },
    { "memsave", "val:l,size:i,filename:s", "addr size file",
      "save guest virtual memory (needs a CPU: qio-vm has none)",
      .handler = cmd_memsave },
    { "object_add", "object:S", "[qom-type=]type,id=str[,prop=value][,...]",
      "create an object (-object syntax)", .handler = cmd_object_add },
    { "object_del", "id:s", "id", "delete an object",
      .handler = cmd_object_del },
    { "pmemsave", "val:l,size:i,filename:s", "addr size file",
      "save size bytes of guest RAM from addr into file",
      .handler = cmd_pmemsave },
    { "quit|q", "", "", "shut the machine down and exit", .handler = cmd_quit },
    { "stop|s", "", "", "pause the machine", .handler = cmd_stop },
};
static const size_t n_hmp_cmds = G_N_ELEMENTS(hmp_cmds);

const VMHmpCommand *vm_hmp_commands(size_t *n)
{
    *n = n_hmp_cmds;
    return hmp_cmds;
}

static void run_line(VMMachine *m, const char *line, GString *out)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *topic = NULL;
    g_autoptr(VMHmpParsed) p =
        vm_hmp_parse(hmp_cmds, n_hmp_cmds, line, &topic, &err);
    const VMHmpCommand *cmd;

    if (!p) {
        g_string_append_printf(out, "%s\n", err->message);
        if (topic) {
            g_string_append_printf(
                out, "Try \"help %s\" for more information\n", topic);
        }
        return;
    }
    cmd = vm_hmp_parsed_command(p);
    if (cmd) {
        ((HmpHandler)cmd->handler)(m, p, out);
    }
}

static char *to_crlf(const GString *text)
{
    GString *crlf = g_string_sized_new(text->len + 16);

    for (gsize i = 0; i < text->len; i++) {
        if (text->str[i] == '\n' && (i == 0 || text->str[i - 1] != '\r')) {
            g_string_append_c(crlf, '\r');
        }
        g_string_append_c(crlf, text->str[i]);
    }
    return g_string_free(crlf, FALSE);
}

char *vm_hmp_execute(VMMachine *m, const char *line)
{
    g_autoptr(GString) out = g_string_new(NULL);

    run_line(m, line, out);
    return to_crlf(out);
}

/* ---- The monitor on a chardev ----------------------------------------- */

static void hmp_output(void *opaque, const char *buf, size_t len)
{
    VMHmp *hmp = opaque;

    vm_term_write(hmp->term, buf, len);
}

static void hmp_line(void *opaque, const char *line)
{
    VMHmp *hmp = opaque;
    g_autofree char *text = vm_hmp_execute(hmp->machine, line);

    vm_term_write(hmp->term, text, strlen(text));
    vm_readline_show_prompt(hmp->rl);
}

static void hmp_complete(void *opaque, const char *line, GPtrArray *matches)
{
    const char *word = line;

    while (*word == ' ') {
        word++;
    }
    if (strchr(word, ' ')) {
        return; /* only command names are completed */
    }
    for (size_t i = 0; i < n_hmp_cmds; i++) {
        g_auto(GStrv) names = g_strsplit(hmp_cmds[i].name, "|", -1);

        if (g_str_has_prefix(names[0], word)) {
            g_ptr_array_add(matches, g_strdup(names[0]));
        }
    }
}

static void hmp_opened(void *opaque)
{
    VMHmp *hmp = opaque;
    g_autofree char *banner = g_strdup_printf(
        "qio-vm %s monitor - type 'help' for more information\r\n",
        QIO_VERSION);

    vm_term_write(hmp->term, banner, strlen(banner));
    vm_readline_show_prompt(hmp->rl);
}

static void hmp_input(void *opaque, const uint8_t *buf, size_t len)
{
    VMHmp *hmp = opaque;

    vm_readline_feed(hmp->rl, buf, len);
}

static const VMTermOps hmp_ops = {
    .opened = hmp_opened,
    .input = hmp_input,
};

VMHmp *vm_hmp_new(VMMachine *m, const char *chardev, GError **errp)
{
    QIOChardev *chr = qio_chardev_find(chardev);
    VMHmp *hmp;

    if (!chr) {
        g_set_error(errp, VM_ERROR, VM_ERROR_NOT_FOUND,
                    "-mon chardev=%s: chardev \"%s\" not found", chardev,
                    chardev);
        return NULL;
    }
    hmp = g_new0(VMHmp, 1);
    hmp->machine = m;
    hmp->rl = vm_readline_new(VM_HMP_PROMPT, hmp_output, hmp_line, hmp);
    vm_readline_set_completion(hmp->rl, hmp_complete);
    hmp->term = vm_term_new(chr, &hmp_ops, hmp, errp);
    if (!hmp->term) {
        vm_readline_free(hmp->rl);
        g_free(hmp);
        return NULL;
    }
    vm_term_start(hmp->term);
    return hmp;
}

void vm_hmp_free(VMHmp *hmp)
{
    if (!hmp) {
        return;
    }
    vm_term_free(hmp->term);
    vm_readline_free(hmp->rl);
    g_free(hmp);
}
