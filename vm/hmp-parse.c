/*
 * HMP command lines: the command name, then its arguments as its
 * args_type string describes them.  Only reading happens here; running a
 * command is the caller's.  The expression evaluator follows QEMU's
 * grammar (so scripts that compute addresses keep working) with a depth
 * limit, and does its arithmetic on unsigned values so that no input can
 * reach undefined behaviour.
 */
#include "vm/hmp-parse.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct HmpArg {
    char *name;
    char *str;
    int64_t num;
} HmpArg;

struct VMHmpParsed {
    const VMHmpCommand *cmd;
    GPtrArray *args; /* HmpArg *, the given ones only */
};

static void hmp_arg_free(gpointer data)
{
    HmpArg *a = data;

    g_free(a->name);
    g_free(a->str);
    g_free(a);
}

void vm_hmp_parsed_free(VMHmpParsed *p)
{
    if (!p) {
        return;
    }
    g_ptr_array_unref(p->args);
    g_free(p);
}

const VMHmpCommand *vm_hmp_parsed_command(VMHmpParsed *p)
{
    return p->cmd;
}

static HmpArg *find_arg(VMHmpParsed *p, const char *name)
{
    for (guint i = 0; i < p->args->len; i++) {
        HmpArg *a = g_ptr_array_index(p->args, i);

        if (g_str_equal(a->name, name)) {
            return a;
        }
    }
    return NULL;
}

bool vm_hmp_arg_has(VMHmpParsed *p, const char *name)
{
    return find_arg(p, name) != NULL;
}

const char *vm_hmp_arg_str(VMHmpParsed *p, const char *name)
{
    HmpArg *a = find_arg(p, name);

    return a ? a->str : NULL;
}

int64_t vm_hmp_arg_int(VMHmpParsed *p, const char *name)
{
    HmpArg *a = find_arg(p, name);

    return a ? a->num : 0;
}

static bool name_matches(const char *names, const char *name, size_t len)
{
    while (*names) {
        const char *bar = strchr(names, '|');
        size_t n = bar ? (size_t)(bar - names) : strlen(names);

        if (n == len && !strncmp(names, name, len)) {
            return true;
        }
        if (!bar) {
            break;
        }
        names = bar + 1;
    }
    return false;
}

static const VMHmpCommand *find_len(const VMHmpCommand *table, size_t n,
                                    const char *name, size_t len)
{
    for (size_t i = 0; i < n; i++) {
        if (name_matches(table[i].name, name, len)) {
            return &table[i];
        }
    }
    return NULL;
}

const VMHmpCommand *vm_hmp_find(const VMHmpCommand *table, size_t n,
                                const char *name)
{
    return find_len(table, n, name, strlen(name));
}

static const char *skip_blanks(const char *p)
{
    while (*p == ' ' || *p == '\t') {
        p++;
    }
    return p;
}

/* ---- Expressions ------------------------------------------------------ */

typedef struct Expr {
    const char *p;
    unsigned depth;
    GError **errp;
} Expr;

static bool expr_sum(Expr *e, uint64_t *v);

static bool expr_fail(Expr *e, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static bool expr_fail(Expr *e, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    if (e->errp) {
        *e->errp =
            g_error_new_valist(VM_ERROR, VM_ERROR_INVALID_VALUE, fmt, ap);
    }
    va_end(ap);
    return false;
}

static bool expr_number(Expr *e, uint64_t *v)
{
    char *end;

    if (!g_ascii_isdigit(*e->p)) {
        if (!*e->p) {
            return expr_fail(e, "unexpected end of expression");
        }
        return expr_fail(e, "invalid char '%c' in expression", *e->p);
    }
    errno = 0;
    *v = strtoull(e->p, &end, 0);
    if (errno == ERANGE) {
        return expr_fail(e, "number too large");
    }
    e->p = end;
    return true;
}

static bool expr_unary(Expr *e, uint64_t *v)
{
    bool ok;
    char c = *e->p;

    if (++e->depth > VM_HMP_EXPR_DEPTH_MAX) {
        return expr_fail(e, "expression too deeply nested");
    }
    switch (c) {
    case '+':
    case '-':
    case '~':
        e->p = skip_blanks(e->p + 1);
        ok = expr_unary(e, v);
        if (ok && c == '-') {
            *v = -*v;
        } else if (ok && c == '~') {
            *v = ~*v;
        }
        break;
    case '(':
        e->p = skip_blanks(e->p + 1);
        ok = expr_sum(e, v);
        if (ok && *e->p != ')') {
            ok = expr_fail(e, "')' expected");
        }
        if (ok) {
            e->p++;
        }
        break;
    case '$':
        ok = expr_fail(e, "no CPU: registers cannot be read");
        break;
    default:
        ok = expr_number(e, v);
        break;
    }
    e->depth--;
    if (ok) {
        e->p = skip_blanks(e->p);
    }
    return ok;
}

static bool expr_logic(Expr *e, uint64_t *v)
{
    if (!expr_unary(e, v)) {
        return false;
    }
    while (*e->p == '&' || *e->p == '|' || *e->p == '^') {
        char op = *e->p;
        uint64_t r;

        e->p = skip_blanks(e->p + 1);
        if (!expr_unary(e, &r)) {
            return false;
        }
        *v = op == '&' ? (*v & r) : op == '|' ? (*v | r) : (*v ^ r);
    }
    return true;
}

static bool expr_prod(Expr *e, uint64_t *v)
{
    if (!expr_logic(e, v)) {
        return false;
    }
    while (*e->p == '*' || *e->p == '/' || *e->p == '%') {
        char op = *e->p;
        uint64_t r;

        e->p = skip_blanks(e->p + 1);
        if (!expr_logic(e, &r)) {
            return false;
        }
        if (op == '*') {
            *v *= r;
        } else if (r == 0) {
            return expr_fail(e, "division by zero");
        } else if (op == '/') {
            *v /= r;
        } else {
            *v %= r;
        }
    }
    return true;
}

static bool expr_sum(Expr *e, uint64_t *v)
{
    if (!expr_prod(e, v)) {
        return false;
    }
    while (*e->p == '+' || *e->p == '-') {
        char op = *e->p;
        uint64_t r;

        e->p = skip_blanks(e->p + 1);
        if (!expr_prod(e, &r)) {
            return false;
        }
        *v = op == '+' ? *v + r : *v - r;
    }
    return true;
}

bool vm_hmp_eval_expr(const char **pos, int64_t *value, GError **errp)
{
    Expr e = { .p = skip_blanks(*pos), .errp = errp };
    uint64_t v;

    if (!expr_sum(&e, &v)) {
        return false;
    }
    *value = (int64_t)v;
    *pos = e.p;
    return true;
}

/* ---- Strings ---------------------------------------------------------- */

/* A word, or a "quoted string" with escapes; *@pos is past it. */
static char *get_word(const char **pos, GError **errp)
{
    const char *p = *pos;
    g_autoptr(GString) s = g_string_new(NULL);

    if (*p != '"') {
        while (*p && *p != ' ' && *p != '\t') {
            g_string_append_c(s, *p++);
        }
        *pos = p;
        return g_string_free(g_steal_pointer(&s), FALSE);
    }
    for (p++; *p != '"'; p++) {
        if (!*p) {
            g_set_error(errp, VM_ERROR, VM_ERROR_INVALID_VALUE,
                        "unterminated string");
            return NULL;
        }
        if (*p == '\\') {
            p++;
            switch (*p) {
            case '\\':
            case '"':
            case '\'':
                g_string_append_c(s, *p);
                break;
            case 'n':
                g_string_append_c(s, '\n');
                break;
            case 'r':
                g_string_append_c(s, '\r');
                break;
            case 't':
                g_string_append_c(s, '\t');
                break;
            case '\0':
                g_set_error(errp, VM_ERROR, VM_ERROR_INVALID_VALUE,
                            "unterminated string");
                return NULL;
            default:
                g_set_error(errp, VM_ERROR, VM_ERROR_INVALID_VALUE,
                            "unsupported escape code: '\\%c'", *p);
                return NULL;
            }
        } else {
            g_string_append_c(s, *p);
        }
    }
    *pos = p + 1;
    return g_string_free(g_steal_pointer(&s), FALSE);
}

/* ---- Commands --------------------------------------------------------- */

static bool parse_args(VMHmpParsed *parsed, const char *p, GError **errp)
{
    const VMHmpCommand *cmd = parsed->cmd;
    g_auto(GStrv) specs = g_strsplit(cmd->args_type, ",", -1);

    for (char **spec = specs; *spec && **spec; spec++) {
        const char *colon = strchr(*spec, ':');
        g_autofree char *name = NULL;
        char type;
        bool optional;
        HmpArg *arg;

        g_assert(colon && colon[1]);
        name = g_strndup(*spec, colon - *spec);
        type = colon[1];
        optional = colon[2] == '?';
        p = skip_blanks(p);
        if (!*p && optional) {
            continue;
        }
        arg = g_new0(HmpArg, 1);
        arg->name = g_steal_pointer(&name);
        g_ptr_array_add(parsed->args, arg);
        switch (type) {
        case 's':
            if (!*p) {
                g_set_error(errp, VM_ERROR, VM_ERROR_INVALID_VALUE,
                            "%s: string expected", cmd->name);
                return false;
            }
            arg->str = get_word(&p, errp);
            if (!arg->str) {
                return false;
            }
            break;
        case 'S':
            if (!*p) {
                g_set_error(errp, VM_ERROR, VM_ERROR_INVALID_VALUE,
                            "%s: string expected", cmd->name);
                return false;
            }
            arg->str = g_strdup(p);
            p += strlen(p);
            break;
        case 'i':
        case 'l':
            if (!vm_hmp_eval_expr(&p, &arg->num, errp)) {
                return false;
            }
            break;
        default:
            g_assert_not_reached();
        }
    }
    p = skip_blanks(p);
    if (*p) {
        g_set_error(errp, VM_ERROR, VM_ERROR_INVALID_VALUE,
                    "%s: extraneous characters at the end of line", cmd->name);
        return false;
    }
    return true;
}

static size_t word_len(const char *p)
{
    size_t n = 0;

    while (p[n] && p[n] != ' ' && p[n] != '\t') {
        n++;
    }
    return n;
}

VMHmpParsed *vm_hmp_parse(const VMHmpCommand *table, size_t n, const char *line,
                          char **help_topic, GError **errp)
{
    g_autoptr(VMHmpParsed) parsed = NULL;
    g_autofree char *topic = NULL;
    g_autofree char *trimmed = NULL;
    const VMHmpCommand *cmd;
    const char *p;
    size_t len;

    if (help_topic) {
        *help_topic = NULL;
    }
    if (strlen(line) > VM_HMP_LINE_MAX) {
        g_set_error(errp, VM_ERROR, VM_ERROR_INVALID_VALUE,
                    "command line too long (more than %d bytes)",
                    VM_HMP_LINE_MAX);
        return NULL;
    }
    trimmed = g_strchomp(g_strdup(skip_blanks(line)));
    p = trimmed;
    if (!*p) {
        parsed = g_new0(VMHmpParsed, 1);
        parsed->args = g_ptr_array_new_with_free_func(hmp_arg_free);
        return g_steal_pointer(&parsed);
    }
    len = word_len(p);
    cmd = find_len(table, n, p, len);
    if (!cmd) {
        g_set_error(errp, VM_ERROR, VM_ERROR_NOT_FOUND,
                    "unknown command: '%.*s'", (int)len, p);
        return NULL;
    }
    topic = g_strndup(p, len);
    p = skip_blanks(p + len);
    if (cmd->sub && *p) {
        const VMHmpCommand *sub;

        len = word_len(p);
        sub = find_len(cmd->sub, cmd->n_sub, p, len);
        if (!sub) {
            g_set_error(errp, VM_ERROR, VM_ERROR_NOT_FOUND,
                        "unknown command: '%s %.*s'", topic, (int)len, p);
            return NULL;
        }
        g_free(topic);
        topic = g_strdup_printf("%s %.*s", cmd->name, (int)len, p);
        /* "info|i" -> "info status": help names the main spelling. */
        if (strchr(topic, '|')) {
            char *bar = strchr(topic, '|');
            char *space = strchr(topic, ' ');

            memmove(bar, space, strlen(space) + 1);
        }
        cmd = sub;
        p += len;
    }
    parsed = g_new0(VMHmpParsed, 1);
    parsed->cmd = cmd;
    parsed->args = g_ptr_array_new_with_free_func(hmp_arg_free);
    if (!parse_args(parsed, p, errp)) {
        if (help_topic) {
            *help_topic = g_steal_pointer(&topic);
        }
        return NULL;
    }
    return g_steal_pointer(&parsed);
}
