/*
 * The programs' log writer (see include/util/log.h): GLib's structured
 * log fields turned into one sanitized line on standard error.
 */
#include "util/log.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

static char *log_prog;
static gint log_verbose;

static const char *level_word(GLogLevelFlags level)
{
    if (level & G_LOG_LEVEL_ERROR) {
        return "error: ";
    }
    if (level & G_LOG_LEVEL_CRITICAL) {
        return "critical: ";
    }
    if (level & G_LOG_LEVEL_WARNING) {
        return "warning: ";
    }
    if (level & G_LOG_LEVEL_DEBUG) {
        return "debug: ";
    }
    return "";
}

char *qutil_log_format(const char *prog, GLogLevelFlags level,
                       const char *message)
{
    GString *line = g_string_new(NULL);

    g_string_append_printf(line, "%s: %s", prog, level_word(level));
    for (const char *p = message ? message : ""; *p; p++) {
        unsigned char ch = *p;

        if (ch == '\n') {
            /* Continued lines are indented: they never start a new one. */
            if (p[1]) {
                g_string_append(line, "\n  ");
            }
        } else if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
            g_string_append_c(line, '?');
        } else {
            g_string_append_c(line, ch);
        }
    }
    g_string_append_c(line, '\n');
    return g_string_free(line, false);
}

/* G_MESSAGES_DEBUG, as GLib reads it: "all" or a list of domains. */
static bool debug_domain_enabled(const char *domain)
{
    const char *env = g_getenv("G_MESSAGES_DEBUG");
    g_auto(GStrv) names = NULL;

    if (!env || !*env) {
        return false;
    }
    names = g_strsplit_set(env, " ,:", -1);
    for (char **n = names; *n; n++) {
        if (!strcmp(*n, "all") || (domain && !strcmp(*n, domain))) {
            return true;
        }
    }
    return false;
}

static void write_all(int fd, const char *buf, size_t len)
{
    while (len) {
        ssize_t n = write(fd, buf, len);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return; /* nowhere left to say it */
        }
        buf += n;
        len -= n;
    }
}

static GLogWriterOutput log_writer(GLogLevelFlags level,
                                   const GLogField *fields, gsize n_fields,
                                   gpointer opaque)
{
    g_autofree char *message = NULL;
    g_autofree char *line = NULL;
    const char *domain = NULL;

    for (gsize i = 0; i < n_fields; i++) {
        if (!strcmp(fields[i].key, "MESSAGE") && !message) {
            message = fields[i].length < 0
                          ? g_strdup(fields[i].value)
                          : g_strndup(fields[i].value, fields[i].length);
        } else if (!strcmp(fields[i].key, "GLIB_DOMAIN") &&
                   fields[i].length < 0) {
            domain = fields[i].value;
        }
    }
    if ((level & (G_LOG_LEVEL_INFO | G_LOG_LEVEL_DEBUG)) &&
        !g_atomic_int_get(&log_verbose) && !debug_domain_enabled(domain)) {
        return G_LOG_WRITER_HANDLED;
    }
    line =
        qutil_log_format(log_prog ? log_prog : g_get_prgname(), level, message);
    write_all(STDERR_FILENO, line, strlen(line));
    return G_LOG_WRITER_HANDLED;
}

void qutil_log_init(const char *prog)
{
    static gsize installed;

    /* Set once and never freed: writers on other threads may read it. */
    if (!log_prog || strcmp(log_prog, prog) != 0) {
        log_prog = g_strdup(prog);
    }
    if (!g_get_prgname()) {
        g_set_prgname(prog);
    }
    if (g_once_init_enter(&installed)) {
        g_log_set_writer_func(log_writer, NULL, NULL);
        g_once_init_leave(&installed, 1);
    }
}

void qutil_log_set_verbose(bool verbose)
{
    g_atomic_int_set(&log_verbose, verbose);
}
