/*
 * The HMP command line: the command name, then arguments in QEMU's
 * syntax, described per command by QEMU's args_type strings:
 *
 *   ""                          stop, cont, quit: no arguments
 *   "id:s"                      object_del ID: one word, or a "quoted"
 *                               string with \" \\ \n \r \t escapes
 *   "object:S"                  object_add TYPE,id=..: the rest of the line
 *   "name:S?"                   help [cmd]: '?' makes an argument optional
 *   "val:l,size:i,filename:s"   pmemsave ADDR SIZE FILE: 'l' and 'i' are
 *                               integer expressions
 *
 * Expressions are QEMU's: numbers in C syntax (0x hex, leading-0 octal,
 * decimal), + - * / % & | ^, unary + - ~, parentheses; spaces between
 * tokens are skipped, so "pmemsave 0 16 /tmp/x" reads "16 /tmp" as a
 * division and fails as QEMU does (quote the file name).
 *
 *     VMHmpParsed *p = vm_hmp_parse(table, n, "pmemsave 0 0x1000 \"f\"", errp);
 *     vm_hmp_arg_int(p, "size")   -> 4096
 *     vm_hmp_arg_str(p, "filename") -> "f"
 *
 * Errors (VM_ERROR) carry QEMU's messages:
 *   VM_ERROR_NOT_FOUND      unknown command: 'foo'  (and 'info foo')
 *   VM_ERROR_INVALID_VALUE  object_del: string expected,
 *                           stop|s: extraneous characters at the end of line,
 *                           invalid char 't' in expression, division by zero
 * and the parsed command's help topic is returned through @help_topic (for
 * "Try \"help info status\" for more information") whenever the command
 * itself was found.
 *
 * Bounds: the line is at most VM_HMP_LINE_MAX bytes, an expression nests
 * at most VM_HMP_EXPR_DEPTH_MAX parentheses deep.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "vm/error.h"

G_BEGIN_DECLS

#define VM_HMP_LINE_MAX       4096
#define VM_HMP_EXPR_DEPTH_MAX 64

typedef struct VMHmpCommand VMHmpCommand;

struct VMHmpCommand {
    const char *name;      /* "stop|s": the name and its aliases */
    const char *args_type; /* QEMU's argument description, see above */
    const char *params;    /* for help: "addr size file" */
    const char *help;      /* for help: "stop emulation" */
    /* The subcommands of "info"; the command then takes one of them. */
    const VMHmpCommand *sub;
    size_t n_sub;
    void *handler; /* for the caller; not used here */
};

typedef struct VMHmpParsed VMHmpParsed;

/*
 * Parse @line against @table.  Leading and trailing blanks are ignored;
 * a blank line parses to no command (vm_hmp_parsed_command() is NULL).  On an
 * argument error *@help_topic (when @help_topic is not NULL) is set to the
 * words to pass to help; free it with g_free().
 */
VMHmpParsed *vm_hmp_parse(const VMHmpCommand *table, size_t n, const char *line,
                          char **help_topic, GError **errp);

void vm_hmp_parsed_free(VMHmpParsed *p);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VMHmpParsed, vm_hmp_parsed_free)

/* The command (or info subcommand) that was parsed; NULL for a blank line. */
const VMHmpCommand *vm_hmp_parsed_command(VMHmpParsed *p);

/* Whether argument @name was given (optional ones may be absent). */
bool vm_hmp_arg_has(VMHmpParsed *p, const char *name);

/* A string argument (borrowed), or NULL when absent. */
const char *vm_hmp_arg_str(VMHmpParsed *p, const char *name);

/* An integer argument, or 0 when absent. */
int64_t vm_hmp_arg_int(VMHmpParsed *p, const char *name);

/* The command @name (any alias) in @table, or NULL. */
const VMHmpCommand *vm_hmp_find(const VMHmpCommand *table, size_t n,
                                const char *name);

/*
 * Evaluate an expression at *@pos, advancing it past the expression and
 * the blanks after it.
 */
bool vm_hmp_eval_expr(const char **pos, int64_t *value, GError **errp);

G_END_DECLS
