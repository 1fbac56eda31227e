/*
 * qio-vm's command-line parser.  One table lists the options qio-vm
 * implements; everything else QEMU has is refused by name, so that a
 * command line written for QEMU fails loudly instead of half-working.
 *
 * What is subtle: QEMU's syntax is "-opt value" only ("-opt=value" is an
 * invalid option there too); "--opt" is the same as "-opt"; the first
 * keyval element of several options is an implied key (-m 512 is
 * size=512, -machine none is type=none, -name g is guest=g); repeated
 * -machine and -m options merge, later values winning, as QEMU's option
 * groups do.
 */
#include "vm/options.h"

#include <string.h>

#include "util/checked.h"
#include "util/cutils.h"
#include "util/keyval.h"

#define MiB (1024ull * 1024)

typedef struct OptParse {
    VMOptions *opts;
    GPtrArray *serial_specs; /* -serial arguments, turned into chardevs last */
    GPtrArray *devices;      /* chardev ids from -device isa-serial */
    unsigned compat_monitors;
} OptParse;

typedef bool (*OptHandler)(OptParse *p, const char *opt, const char *arg,
                           GError **errp);

typedef struct OptDesc {
    const char *name;
    bool has_arg;
    OptHandler handler;
} OptDesc;

static void monitor_opt_free(gpointer data)
{
    VMMonitorOpt *mon = data;

    g_free(mon->chardev);
    g_free(mon);
}

void vm_options_free(VMOptions *opts)
{
    if (!opts) {
        return;
    }
    g_free(opts->name);
    g_free(opts->process_name);
    g_free(opts->machine);
    g_free(opts->memory_backend);
    g_ptr_array_unref(opts->objects);
    g_ptr_array_unref(opts->chardevs);
    g_ptr_array_unref(opts->monitors);
    g_ptr_array_unref(opts->serials);
    g_free(opts->pidfile);
    g_free(opts);
}

uint64_t vm_options_ram_size(const VMOptions *opts)
{
    if (opts->has_ram_size) {
        return opts->ram_size;
    }
    return g_str_equal(opts->machine, "none") ? 0 : VM_DEFAULT_RAM_SIZE;
}

static void set_bad_size(GError **errp, const char *str)
{
    g_autofree char *shown = qutil_str_abbrev(str, 64);

    g_set_error(errp, VM_ERROR, VM_ERROR_INVALID_VALUE,
                "Parameter 'size' expects a non-negative number below 2^64 "
                "with an optional suffix B, K, M, G, T, P or E (default M), "
                "not '%s'",
                shown);
}

bool vm_options_parse_ram_size(const char *str, uint64_t *bytes, GError **errp)
{
    size_t len = strlen(str);
    uint64_t value;

    if (len && g_ascii_isalpha(str[len - 1])) {
        if (!qutil_parse_size(str, &value, NULL)) {
            set_bad_size(errp, str);
            return false;
        }
        *bytes = value;
        return true;
    }
    /* No suffix: whole MiB only, as QEMU refuses "-m 0.5". */
    if (!len || !g_ascii_isdigit(str[0]) || strchr(str, '.') ||
        !qutil_strtou64(str, &value, NULL) ||
        !qutil_mul_u64(value, MiB, &value)) {
        set_bad_size(errp, str);
        return false;
    }
    *bytes = value;
    return true;
}

/* Parse @arg as keyval; errors name the option. */
static GPtrArray *parse_keyval(const char *opt, const char *arg,
                               const char *implied, bool *help, GError **errp)
{
    g_autoptr(GError) local = NULL;
    GPtrArray *pairs = qutil_keyval_parse(arg, implied, help, &local);

    if (!pairs) {
        g_set_error(errp, VM_ERROR, VM_ERROR_INVALID_VALUE, "%s %s: %s", opt,
                    arg, local->message);
    }
    return pairs;
}

static bool bad_param(GError **errp, const char *opt, const char *arg,
                      const char *key)
{
    g_set_error(errp, VM_ERROR, VM_ERROR_NOT_SUPPORTED,
                "%s %s: parameter '%s' not supported", opt, arg, key);
    return false;
}

static bool opt_name(OptParse *p, const char *opt, const char *arg,
                     GError **errp)
{
    g_autoptr(GPtrArray) pairs = parse_keyval(opt, arg, "guest", NULL, errp);

    if (!pairs) {
        return false;
    }
    for (guint i = 0; i < pairs->len; i++) {
        QUtilKeyvalPair *kv = g_ptr_array_index(pairs, i);

        if (g_str_equal(kv->key, "guest")) {
            g_free(p->opts->name);
            p->opts->name = g_strdup(kv->value);
        } else if (g_str_equal(kv->key, "process")) {
            g_free(p->opts->process_name);
            p->opts->process_name = g_strdup(kv->value);
        } else if (g_str_equal(kv->key, "debug-threads")) {
            bool b;

            if (!qutil_parse_bool(kv->value, &b, NULL)) {
                g_set_error(errp, VM_ERROR, VM_ERROR_INVALID_VALUE,
                            "%s %s: Parameter 'debug-threads' expects 'on' "
                            "or 'off'",
                            opt, arg);
                return false;
            }
        } else {
            return bad_param(errp, opt, arg, kv->key);
        }
    }
    return true;
}

static bool opt_m(OptParse *p, const char *opt, const char *arg, GError **errp)
{
    g_autoptr(GPtrArray) pairs = parse_keyval(opt, arg, "size", NULL, errp);

    if (!pairs) {
        return false;
    }
    if (!pairs->len) {
        g_set_error(errp, VM_ERROR, VM_ERROR_MISSING_ARGUMENT,
                    "%s %s: Parameter 'size' is missing", opt, arg);
        return false;
    }
    for (guint i = 0; i < pairs->len; i++) {
        QUtilKeyvalPair *kv = g_ptr_array_index(pairs, i);
        g_autoptr(GError) local = NULL;
        uint64_t size;

        if (!g_str_equal(kv->key, "size")) {
            return bad_param(errp, opt, arg, kv->key);
        }
        if (!vm_options_parse_ram_size(kv->value, &size, &local)) {
            g_set_error(errp, VM_ERROR, local->code, "%s %s: %s", opt, arg,
                        local->message);
            return false;
        }
        /* -m 0 asks for the machine's default, as in QEMU. */
        p->opts->has_ram_size = size != 0;
        p->opts->ram_size = size;
    }
    return true;
}

static bool opt_machine(OptParse *p, const char *opt, const char *arg,
                        GError **errp)
{
    bool help = false;
    g_autoptr(GPtrArray) pairs = parse_keyval(opt, arg, "type", &help, errp);

    if (!pairs) {
        return false;
    }
    if (help) {
        p->opts->action = VM_OPTIONS_MACHINE_HELP;
        return true;
    }
    for (guint i = 0; i < pairs->len; i++) {
        QUtilKeyvalPair *kv = g_ptr_array_index(pairs, i);

        if (g_str_equal(kv->key, "type")) {
            if (g_str_equal(kv->value, "help") || g_str_equal(kv->value, "?")) {
                p->opts->action = VM_OPTIONS_MACHINE_HELP;
                return true;
            }
            if (!g_str_equal(kv->value, "pc") &&
                !g_str_equal(kv->value, "none")) {
                g_set_error(errp, VM_ERROR, VM_ERROR_NOT_SUPPORTED,
                            "%s %s: machine type '%s' not supported; use "
                            "'-machine help' to list the machines",
                            opt, arg, kv->value);
                return false;
            }
            g_free(p->opts->machine);
            p->opts->machine = g_strdup(kv->value);
        } else if (g_str_equal(kv->key, "memory-backend")) {
            g_free(p->opts->memory_backend);
            p->opts->memory_backend = g_strdup(kv->value);
        } else {
            return bad_param(errp, opt, arg, kv->key);
        }
    }
    return true;
}

static bool opt_object(OptParse *p, const char *opt, const char *arg,
                       GError **errp)
{
    g_ptr_array_add(p->opts->objects, g_strdup(arg));
    /* Help requests are answered by qom, which knows the types. */
    if (arg[0] != '{' &&
        (g_str_equal(arg, "help") || g_str_equal(arg, "?") ||
         g_str_has_suffix(arg, ",help") || g_str_has_suffix(arg, ",?"))) {
        g_ptr_array_set_size(p->opts->objects, 0);
        g_ptr_array_add(p->opts->objects, g_strdup(arg));
        p->opts->action = VM_OPTIONS_OBJECT_HELP;
    }
    return true;
}

static bool opt_chardev(OptParse *p, const char *opt, const char *arg,
                        GError **errp)
{
    g_ptr_array_add(p->opts->chardevs, g_strdup(arg));
    return true;
}

static void add_monitor(OptParse *p, const char *chardev, VMMonitorMode mode,
                        bool pretty)
{
    VMMonitorOpt *mon = g_new0(VMMonitorOpt, 1);

    mon->chardev = g_strdup(chardev);
    mon->mode = mode;
    mon->pretty = pretty;
    g_ptr_array_add(p->opts->monitors, mon);
}

static bool opt_mon(OptParse *p, const char *opt, const char *arg,
                    GError **errp)
{
    g_autoptr(GPtrArray) pairs = parse_keyval(opt, arg, "chardev", NULL, errp);
    const char *chardev = NULL;
    VMMonitorMode mode = VM_MONITOR_MODE_READLINE;
    bool pretty = false;

    if (!pairs) {
        return false;
    }
    for (guint i = 0; i < pairs->len; i++) {
        QUtilKeyvalPair *kv = g_ptr_array_index(pairs, i);

        if (g_str_equal(kv->key, "chardev")) {
            chardev = kv->value;
        } else if (g_str_equal(kv->key, "mode")) {
            if (g_str_equal(kv->value, "readline")) {
                mode = VM_MONITOR_MODE_READLINE;
            } else if (g_str_equal(kv->value, "control")) {
                mode = VM_MONITOR_MODE_CONTROL;
            } else {
                g_set_error(errp, VM_ERROR, VM_ERROR_INVALID_VALUE,
                            "%s %s: Parameter 'mode' does not accept value "
                            "'%s'",
                            opt, arg, kv->value);
                return false;
            }
        } else if (g_str_equal(kv->key, "pretty")) {
            if (!qutil_parse_bool(kv->value, &pretty, NULL)) {
                g_set_error(errp, VM_ERROR, VM_ERROR_INVALID_VALUE,
                            "%s %s: Parameter 'pretty' expects 'on' or 'off'",
                            opt, arg);
                return false;
            }
        } else if (!g_str_equal(kv->key, "id")) {
            return bad_param(errp, opt, arg, kv->key);
        }
    }
    if (!chardev || !*chardev) {
        g_set_error(errp, VM_ERROR, VM_ERROR_MISSING_ARGUMENT,
                    "%s %s: Parameter 'chardev' is missing", opt, arg);
        return false;
    }
    if (pretty && mode != VM_MONITOR_MODE_CONTROL) {
        g_set_error(errp, VM_ERROR, VM_ERROR_INVALID_VALUE,
                    "%s %s: 'pretty' is only valid with mode=control", opt,
                    arg);
        return false;
    }
    add_monitor(p, chardev, mode, pretty);
    return true;
}

/* Append ",,"-escaped @s to @out, for a keyval value. */
static void append_escaped(GString *out, const char *s)
{
    for (; *s; s++) {
        if (*s == ',') {
            g_string_append_c(out, ',');
        }
        g_string_append_c(out, *s);
    }
}

/* HOST:PORT[,OPTS] with HOST possibly empty or "[v6]". */
static bool legacy_inet(GString *out, const char *spec, const char *rest,
                        GError **errp)
{
    const char *colon;
    const char *opts = strchr(rest, ',');
    g_autofree char *hostport =
        opts ? g_strndup(rest, opts - rest) : g_strdup(rest);
    g_autofree char *host = NULL;

    if (hostport[0] == '[') {
        const char *end = strchr(hostport, ']');

        if (!end || end[1] != ':') {
            goto bad;
        }
        host = g_strndup(hostport + 1, end - hostport - 1);
        colon = end + 1;
    } else {
        colon = strrchr(hostport, ':');
        if (!colon) {
            goto bad;
        }
        host = g_strndup(hostport, colon - hostport);
    }
    if (!colon[1] || strchr(host, ',')) {
        goto bad;
    }
    g_string_append(out, ",host=");
    g_string_append(out, host);
    g_string_append(out, ",port=");
    g_string_append(out, colon + 1);
    if (opts) {
        g_string_append(out, opts);
    }
    return true;

bad:
    g_set_error(errp, VM_ERROR, VM_ERROR_INVALID_VALUE,
                "'%s': expected HOST:PORT after the backend name", spec);
    return false;
}

char *vm_options_legacy_chardev(const char *spec, const char *id, GError **errp)
{
    g_autoptr(GString) out = g_string_new(NULL);
    const char *rest;

    if (g_str_equal(spec, "null") || g_str_equal(spec, "stdio") ||
        g_str_equal(spec, "pty")) {
        g_string_printf(out, "%s,id=%s", spec, id);
    } else if ((rest = g_str_has_prefix(spec, "file:") ? spec + 5 : NULL) ||
               (rest = g_str_has_prefix(spec, "pipe:") ? spec + 5 : NULL)) {
        if (!*rest) {
            g_set_error(errp, VM_ERROR, VM_ERROR_INVALID_VALUE,
                        "'%s': a path is needed after '%.4s:'", spec, spec);
            return NULL;
        }
        g_string_printf(out, "%.4s,id=%s,path=", spec, id);
        append_escaped(out, rest);
    } else if (g_str_has_prefix(spec, "tcp:") ||
               g_str_has_prefix(spec, "telnet:")) {
        bool telnet = spec[1] == 'e';

        g_string_printf(out, "socket,id=%s", id);
        if (!legacy_inet(out, spec, strchr(spec, ':') + 1, errp)) {
            return NULL;
        }
        if (telnet) {
            g_string_append(out, ",telnet=on");
        }
    } else if (g_str_has_prefix(spec, "unix:")) {
        const char *path = spec + 5;
        const char *opts = strchr(path, ',');

        if (path == opts || !*path) {
            g_set_error(errp, VM_ERROR, VM_ERROR_INVALID_VALUE,
                        "'%s': a path is needed after 'unix:'", spec);
            return NULL;
        }
        g_string_printf(out, "socket,id=%s,path=", id);
        g_string_append(out, path);
    } else {
        g_autofree char *shown = qutil_str_abbrev(spec, 64);

        g_set_error(errp, VM_ERROR, VM_ERROR_NOT_SUPPORTED,
                    "'%s' is not a supported char driver (use null, stdio, "
                    "pty, file:, pipe:, tcp:, telnet:, unix: or chardev:ID)",
                    shown);
        return NULL;
    }
    return g_string_free(g_steal_pointer(&out), FALSE);
}

/*
 * A legacy chardev argument of -monitor, -qmp or -serial: "chardev:ID"
 * names an existing chardev, "mon:SPEC" muxes a readline monitor onto it
 * (when @mon_ok), anything else becomes a new chardev with id @newid.
 * Returns the id the device or monitor uses.
 */
static char *legacy_to_chardev(OptParse *p, const char *opt, const char *arg,
                               const char *newid, bool mon_ok, GError **errp)
{
    g_autoptr(GError) local = NULL;
    g_autofree char *kv = NULL;
    bool mux = false;

    if (g_str_has_prefix(arg, "chardev:")) {
        if (!arg[8]) {
            g_set_error(errp, VM_ERROR, VM_ERROR_MISSING_ARGUMENT,
                        "%s %s: a chardev id is needed after 'chardev:'", opt,
                        arg);
            return NULL;
        }
        return g_strdup(arg + 8);
    }
    if (mon_ok && g_str_has_prefix(arg, "mon:")) {
        mux = true;
        arg += 4;
    }
    kv = vm_options_legacy_chardev(arg, newid, &local);
    if (!kv) {
        g_set_error(errp, VM_ERROR, local->code, "%s %s: %s", opt, arg,
                    local->message);
        return NULL;
    }
    if (mux) {
        char *muxed = g_strconcat(kv, ",mux=on", NULL);

        g_free(kv);
        kv = muxed;
        add_monitor(p, newid, VM_MONITOR_MODE_READLINE, false);
    }
    g_ptr_array_add(p->opts->chardevs, g_steal_pointer(&kv));
    return g_strdup(newid);
}

static bool opt_legacy_monitor(OptParse *p, const char *opt, const char *arg,
                               VMMonitorMode mode, bool pretty, GError **errp)
{
    g_autofree char *id = NULL;
    g_autofree char *chardev = NULL;

    if (g_str_equal(arg, "none")) {
        return true;
    }
    id = g_strdup_printf("compat_monitor%u", p->compat_monitors);
    chardev = legacy_to_chardev(p, opt, arg, id, false, errp);
    if (!chardev) {
        return false;
    }
    p->compat_monitors++;
    add_monitor(p, chardev, mode, pretty);
    return true;
}

static bool opt_monitor(OptParse *p, const char *opt, const char *arg,
                        GError **errp)
{
    return opt_legacy_monitor(p, opt, arg, VM_MONITOR_MODE_READLINE, false,
                              errp);
}

static bool opt_qmp(OptParse *p, const char *opt, const char *arg,
                    GError **errp)
{
    return opt_legacy_monitor(p, opt, arg, VM_MONITOR_MODE_CONTROL, false,
                              errp);
}

static bool opt_qmp_pretty(OptParse *p, const char *opt, const char *arg,
                           GError **errp)
{
    return opt_legacy_monitor(p, opt, arg, VM_MONITOR_MODE_CONTROL, true, errp);
}

static bool opt_serial(OptParse *p, const char *opt, const char *arg,
                       GError **errp)
{
    if (!*arg) {
        g_set_error(errp, VM_ERROR, VM_ERROR_INVALID_VALUE,
                    "%s: a char driver is needed", opt);
        return false;
    }
    g_ptr_array_add(p->serial_specs, g_strdup(arg));
    return true;
}

static bool opt_device(OptParse *p, const char *opt, const char *arg,
                       GError **errp)
{
    bool help = false;
    g_autoptr(GPtrArray) pairs = parse_keyval(opt, arg, "driver", &help, errp);
    const char *driver, *chardev = NULL;

    if (!pairs) {
        return false;
    }
    driver = qutil_keyval_lookup(pairs, "driver");
    if (help || (driver && g_str_equal(driver, "help")) ||
        (driver && g_str_equal(driver, "?"))) {
        p->opts->action = VM_OPTIONS_DEVICE_HELP;
        return true;
    }
    if (!driver || !g_str_equal(driver, "isa-serial")) {
        g_set_error(errp, VM_ERROR, VM_ERROR_NOT_SUPPORTED,
                    "%s %s: device '%s' not supported; qio-vm has isa-serial "
                    "only",
                    opt, arg, driver ? driver : "");
        return false;
    }
    for (guint i = 0; i < pairs->len; i++) {
        QUtilKeyvalPair *kv = g_ptr_array_index(pairs, i);

        if (g_str_equal(kv->key, "chardev")) {
            chardev = kv->value;
        } else if (!g_str_equal(kv->key, "driver") &&
                   !g_str_equal(kv->key, "id")) {
            return bad_param(errp, opt, arg, kv->key);
        }
    }
    if (!chardev || !*chardev) {
        g_set_error(errp, VM_ERROR, VM_ERROR_MISSING_ARGUMENT,
                    "%s %s: Parameter 'chardev' is missing", opt, arg);
        return false;
    }
    g_ptr_array_add(p->devices, g_strdup(chardev));
    return true;
}

static bool opt_display(OptParse *p, const char *opt, const char *arg,
                        GError **errp)
{
    if (!g_str_equal(arg, "none")) {
        g_set_error(errp, VM_ERROR, VM_ERROR_NOT_SUPPORTED,
                    "%s %s: not supported; qio-vm has no display, use "
                    "'-display none'",
                    opt, arg);
        return false;
    }
    return true;
}

static bool opt_S(OptParse *p, const char *opt, const char *arg, GError **errp)
{
    p->opts->start_paused = true;
    return true;
}

static bool opt_daemonize(OptParse *p, const char *opt, const char *arg,
                          GError **errp)
{
    p->opts->daemonize = true;
    return true;
}

static bool opt_nodefaults(OptParse *p, const char *opt, const char *arg,
                           GError **errp)
{
    p->opts->nodefaults = true;
    return true;
}

static bool opt_pidfile(OptParse *p, const char *opt, const char *arg,
                        GError **errp)
{
    g_free(p->opts->pidfile);
    p->opts->pidfile = g_strdup(arg);
    return true;
}

static bool opt_incoming(OptParse *p, const char *opt, const char *arg,
                         GError **errp)
{
    g_set_error(errp, VM_ERROR, VM_ERROR_NOT_SUPPORTED,
                "%s %s: not supported: qio-vm cannot receive a migration yet",
                opt, arg);
    return false;
}

static bool opt_help(OptParse *p, const char *opt, const char *arg,
                     GError **errp)
{
    p->opts->action = VM_OPTIONS_HELP;
    return true;
}

static bool opt_version(OptParse *p, const char *opt, const char *arg,
                        GError **errp)
{
    p->opts->action = VM_OPTIONS_VERSION;
    return true;
}

static const OptDesc options[] = {
    { "name", true, opt_name },
    { "m", true, opt_m },
    { "machine", true, opt_machine },
    { "M", true, opt_machine },
    { "object", true, opt_object },
    { "chardev", true, opt_chardev },
    { "mon", true, opt_mon },
    { "monitor", true, opt_monitor },
    { "qmp", true, opt_qmp },
    { "qmp-pretty", true, opt_qmp_pretty },
    { "serial", true, opt_serial },
    { "device", true, opt_device },
    { "display", true, opt_display },
    { "S", false, opt_S },
    { "daemonize", false, opt_daemonize },
    { "nodefaults", false, opt_nodefaults },
    { "pidfile", true, opt_pidfile },
    { "incoming", true, opt_incoming },
    { "h", false, opt_help },
    { "help", false, opt_help },
    { "version", false, opt_version },
};

static const OptDesc *find_option(const char *name)
{
    for (size_t i = 0; i < G_N_ELEMENTS(options); i++) {
        if (g_str_equal(options[i].name, name)) {
            return &options[i];
        }
    }
    return NULL;
}

/* The serial ports, in QEMU's order: -serial first, then -device. */
static bool finish_serials(OptParse *p, GError **errp)
{
    VMOptions *opts = p->opts;

    if (!opts->nodefaults && !p->serial_specs->len && !p->devices->len &&
        g_str_equal(opts->machine, "pc")) {
        /* QEMU's default serial port is a console -display none hides. */
        g_ptr_array_add(p->serial_specs, g_strdup("null"));
    }
    for (guint i = 0; i < p->serial_specs->len; i++) {
        const char *spec = g_ptr_array_index(p->serial_specs, i);
        g_autofree char *label = g_strdup_printf("-serial");
        g_autofree char *newid =
            g_strdup_printf("serial%u", opts->serials->len);
        char *id;

        if (g_str_equal(spec, "none")) {
            continue;
        }
        id = legacy_to_chardev(p, label, spec, newid, true, errp);
        if (!id) {
            return false;
        }
        g_ptr_array_add(opts->serials, id);
    }
    for (guint i = 0; i < p->devices->len; i++) {
        g_ptr_array_add(opts->serials,
                        g_strdup(g_ptr_array_index(p->devices, i)));
    }
    if (opts->serials->len > VM_MAX_SERIAL_PORTS) {
        g_set_error(errp, VM_ERROR, VM_ERROR_INVALID_VALUE,
                    "too many serial ports: %u, at most %u", opts->serials->len,
                    VM_MAX_SERIAL_PORTS);
        return false;
    }
    return true;
}

VMOptions *vm_options_parse(int argc, char **argv, GError **errp)
{
    g_autoptr(VMOptions) opts = g_new0(VMOptions, 1);
    g_autoptr(GPtrArray) serial_specs = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GPtrArray) devices = g_ptr_array_new_with_free_func(g_free);
    OptParse p = {
        .opts = opts,
        .serial_specs = serial_specs,
        .devices = devices,
    };

    opts->machine = g_strdup("pc");
    opts->objects = g_ptr_array_new_with_free_func(g_free);
    opts->chardevs = g_ptr_array_new_with_free_func(g_free);
    opts->monitors = g_ptr_array_new_with_free_func(monitor_opt_free);
    opts->serials = g_ptr_array_new_with_free_func(g_free);

    for (int i = 1; i < argc; i++) {
        const char *given = argv[i];
        const char *name = given;
        const char *arg = NULL;
        const OptDesc *desc;

        if (name[0] != '-' || !name[1]) {
            g_set_error(errp, VM_ERROR, VM_ERROR_NOT_SUPPORTED,
                        "%s: not supported: qio-vm has no disks", given);
            return NULL;
        }
        name++;
        if (name[0] == '-' && name[1]) {
            name++;
        }
        desc = find_option(name);
        if (!desc) {
            /* QEMU has no "-opt=value" form; say so the way it does. */
            g_set_error(errp, VM_ERROR,
                        strchr(name, '=') ? VM_ERROR_INVALID_OPTION
                                          : VM_ERROR_NOT_SUPPORTED,
                        "%s: %s", given,
                        strchr(name, '=') ? "invalid option" : "not supported");
            return NULL;
        }
        if (desc->has_arg) {
            if (i + 1 >= argc) {
                g_set_error(errp, VM_ERROR, VM_ERROR_MISSING_ARGUMENT,
                            "%s: requires an argument", given);
                return NULL;
            }
            arg = argv[++i];
        }
        if (!desc->handler(&p, given, arg, errp)) {
            return NULL;
        }
        if (opts->action != VM_OPTIONS_RUN) {
            return g_steal_pointer(&opts);
        }
    }
    if (!finish_serials(&p, errp)) {
        return NULL;
    }
    return g_steal_pointer(&opts);
}

const char *vm_options_usage(void)
{
    return "usage: qio-vm [options]\n"
           "\n"
           "A QEMU-style process without CPU emulation: guest RAM, serial\n"
           "ports and monitors.  Options use QEMU's syntax.\n"
           "\n"
           "-name [guest=]NAME[,process=NAME][,debug-threads=on|off]\n"
           "-m [size=]SIZE        guest RAM (default unit MiB; 128M for pc)\n"
           "-machine [type=]pc|none[,memory-backend=ID]\n"
           "-object TYPE,id=ID[,PROP=VALUE...]  (-object help lists types)\n"
           "-chardev BACKEND,id=ID[,OPTIONS]\n"
           "-mon chardev=ID[,mode=readline|control][,pretty=on|off]\n"
           "-monitor DEV          HMP monitor on DEV (stdio, unix:PATH,...)\n"
           "-qmp DEV              QMP monitor on DEV\n"
           "-qmp-pretty DEV       QMP monitor with pretty-printed replies\n"
           "-serial DEV           serial port on DEV (chardev:ID, null, none,\n"
           "                      stdio, pty, file:, pipe:, tcp:, telnet:,\n"
           "                      unix:, mon:DEV)\n"
           "-device isa-serial,chardev=ID\n"
           "-display none         accepted: there is no display\n"
           "-S                    start in prelaunch; 'cont' starts\n"
           "-daemonize            run in the background once set up\n"
           "-pidfile FILE         write the process id to FILE\n"
           "-nodefaults           no default serial port\n"
           "-version              print the version\n"
           "-h, -help             print this help\n";
}
