/*
 * qio-vm's command line, in QEMU's syntax: "-opt value" (or "--opt
 * value"; "-opt=value" is refused as QEMU refuses it), keyval arguments
 * with QEMU's implied first keys, and QEMU's legacy chardev shorthand for
 * -serial, -monitor and -qmp:
 *
 *     qio-vm -name guest1 -m 256 -machine none -nodefaults -display none \
 *            -object
 * memory-backend-file,id=mem0,size=256M,mem-path=/dev/shm,share=on \
 *            -machine memory-backend=mem0 \
 *            -chardev socket,id=s0,host=127.0.0.1,port=9000,server=on,wait=off
 * \
 *            -device isa-serial,chardev=s0 \
 *            -qmp unix:/run/vm.sock,server=on,wait=off -monitor stdio -S
 *
 * vm_options_parse() only reads the command line: it checks each option's
 * syntax and the values it can check alone, turns the legacy shorthand
 * into -chardev keyval strings (with QEMU's ids: compat_monitorN for
 * -monitor/-qmp, serialN for -serial), and lists what to create, in the
 * order qio-vm creates it.  Objects and chardevs are created later by
 * their own layers, which check the rest.
 *
 * Errors are VM_ERROR and their message starts with the option as given,
 * so a program prints "qio-vm: <message>" and exits 1:
 *
 *     qio-vm: -cpu: not supported                (VM_ERROR_NOT_SUPPORTED)
 *     qio-vm: -m=1G: invalid option              (VM_ERROR_INVALID_OPTION)
 *     qio-vm: -m: requires an argument           (VM_ERROR_MISSING_ARGUMENT)
 *     qio-vm: -m 1x: Parameter 'size' ...        (VM_ERROR_INVALID_VALUE)
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "vm/error.h"

G_BEGIN_DECLS

/* RAM of a pc machine when -m is not given (QEMU's default), in bytes. */
#define VM_DEFAULT_RAM_SIZE (128ull * 1024 * 1024)

typedef enum {
    VM_MONITOR_MODE_READLINE, /* HMP */
    VM_MONITOR_MODE_CONTROL,  /* QMP */
} VMMonitorMode;

/* One monitor: -mon, or one made by -monitor, -qmp or -serial mon:... */
typedef struct VMMonitorOpt {
    char *chardev; /* id of the chardev it runs on */
    VMMonitorMode mode;
    bool pretty; /* QMP only: pretty=on, or -qmp-pretty */
} VMMonitorOpt;

typedef enum {
    VM_OPTIONS_RUN,     /* start the machine */
    VM_OPTIONS_HELP,    /* -h, -help: print vm_options_usage() and exit 0 */
    VM_OPTIONS_VERSION, /* -version: print the version and exit 0 */
    VM_OPTIONS_MACHINE_HELP, /* -machine help: list machines and exit 0 */
    VM_OPTIONS_DEVICE_HELP,  /* -device help: list devices and exit 0 */
    VM_OPTIONS_OBJECT_HELP,  /* -object ...help: see objects[0] */
} VMOptionsAction;

typedef struct VMOptions {
    VMOptionsAction action;
    char *name;           /* -name guest=NAME, or NULL */
    char *process_name;   /* -name process=NAME, or NULL */
    char *machine;        /* "pc" (the default) or "none" */
    bool has_ram_size;    /* -m given (and not 0) */
    uint64_t ram_size;    /* bytes, see vm_options_ram_size() */
    char *memory_backend; /* -machine memory-backend=ID, or NULL */
    GPtrArray *objects;   /* char *: -object arguments, in order */
    GPtrArray *chardevs;  /* char *: -chardev keyval strings, in order */
    GPtrArray *monitors;  /* VMMonitorOpt *, in order */
    GPtrArray *serials;   /* char *: chardev id of serial0, serial1, ... */
    bool start_paused;    /* -S */
    bool daemonize;       /* -daemonize */
    bool nodefaults;      /* -nodefaults */
    char *pidfile;        /* -pidfile FILE, or NULL */
} VMOptions;

/* At most this many serial ports, as QEMU's pc machine has. */
#define VM_MAX_SERIAL_PORTS 4

/*
 * Parse @argv (argv[0] is the program and is skipped).  Returns NULL with
 * @errp set (VM_ERROR) on the first bad option.
 */
VMOptions *vm_options_parse(int argc, char **argv, GError **errp);

void vm_options_free(VMOptions *opts);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VMOptions, vm_options_free)

/*
 * The guest RAM size in bytes: -m when given, else 128 MiB for pc and 0
 * for none.
 */
uint64_t vm_options_ram_size(const VMOptions *opts);

/*
 * Parse an -m size (also used by "-m size=..."): a number with an
 * optional suffix B, K, M, G, T, P or E (powers of 1024, any case); a
 * number without a suffix is in MiB, as in QEMU.  "512", "1G", "1.5G",
 * "256M" are fine; "-1", "1x", "0.5" (a fraction of a MiB without a
 * suffix) and sizes of 2^64 bytes or more are VM_ERROR_INVALID_VALUE.
 */
bool vm_options_parse_ram_size(const char *str, uint64_t *bytes, GError **errp);

/*
 * Turn QEMU's legacy chardev shorthand into a -chardev keyval string with
 * id @id:
 *
 *   null, stdio, pty            -> null,id=ID  ...
 *   file:PATH, pipe:PATH        -> file,id=ID,path=PATH
 *   tcp:HOST:PORT[,OPTS]        -> socket,id=ID,host=HOST,port=PORT[,OPTS]
 *   telnet:HOST:PORT[,OPTS]     -> the same with telnet=on
 *   unix:PATH[,OPTS]            -> socket,id=ID,path=PATH[,OPTS]
 *
 * HOST may be empty (all addresses) or a bracketed IPv6 address.  Commas
 * in a PATH of file: and pipe: are escaped (",,").  "mon:..." and
 * "chardev:ID" are handled by the options that allow them, not here.
 * Anything else is VM_ERROR_NOT_SUPPORTED.  Free with g_free().
 */
char *vm_options_legacy_chardev(const char *spec, const char *id,
                                GError **errp);

/* The text -help prints. */
const char *vm_options_usage(void);

G_END_DECLS
