/*
 * Unit tests for the programs' log writer: the line format (the program
 * name once, the level word, control characters and line breaks made
 * harmless), and the writer itself with standard error on a pipe:
 * warnings always, info and debug only when verbose, nothing on
 * standard output.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <glib.h>

#include "util/log.h"

static void check_format(GLogLevelFlags level, const char *msg,
                         const char *want)
{
    g_autofree char *got = qutil_log_format("prog", level, msg);

    assert_string_equal(got, want);
}

static void test_format(void **state)
{
    check_format(G_LOG_LEVEL_WARNING, "disk full",
                 "prog: warning: disk full\n");
    check_format(G_LOG_LEVEL_CRITICAL, "x", "prog: critical: x\n");
    check_format(G_LOG_LEVEL_ERROR, "x", "prog: error: x\n");
    check_format(G_LOG_LEVEL_MESSAGE, "hello", "prog: hello\n");
    check_format(G_LOG_LEVEL_INFO, "hello", "prog: hello\n");
    check_format(G_LOG_LEVEL_DEBUG, "step 1", "prog: debug: step 1\n");
    /* A trailing newline is not doubled. */
    check_format(G_LOG_LEVEL_MESSAGE, "end\n", "prog: end\n");
    check_format(G_LOG_LEVEL_MESSAGE, NULL, "prog: \n");
}

/* A hostile export name cannot forge a line or reach the terminal. */
static void test_format_hostile(void **state)
{
    check_format(G_LOG_LEVEL_INFO, "export 'a\nprog: warning: forged'",
                 "prog: export 'a\n  prog: warning: forged'\n");
    check_format(G_LOG_LEVEL_INFO, "name \x1b[2J\r\x7f\tend",
                 "prog: name ?[2J??\tend\n");
}

/*
 * Run @fn with standard error and standard output on pipes; return what
 * each received.
 */
static void capture(void (*fn)(void), char **err_text, char **out_text)
{
    int err_pipe[2], out_pipe[2];
    int saved_err = dup(STDERR_FILENO);
    int saved_out = dup(STDOUT_FILENO);
    char buf[4096];
    ssize_t n;

    assert_int_equal(pipe(err_pipe), 0);
    assert_int_equal(pipe(out_pipe), 0);
    fflush(stdout);
    dup2(err_pipe[1], STDERR_FILENO);
    dup2(out_pipe[1], STDOUT_FILENO);
    close(err_pipe[1]);
    close(out_pipe[1]);
    fn();
    fflush(stdout);
    dup2(saved_err, STDERR_FILENO);
    dup2(saved_out, STDOUT_FILENO);
    close(saved_err);
    close(saved_out);
    n = read(err_pipe[0], buf, sizeof(buf) - 1);
    *err_text = g_strndup(buf, MAX(n, 0));
    n = read(out_pipe[0], buf, sizeof(buf) - 1);
    *out_text = g_strndup(buf, MAX(n, 0));
    close(err_pipe[0]);
    close(out_pipe[0]);
}

static void log_some(void)
{
    g_warning("w %d", 1);
    g_message("m");
    g_info("i");
    g_debug("d");
}

static void test_writer(void **state)
{
    g_autofree char *err1 = NULL, *out1 = NULL, *err2 = NULL, *out2 = NULL;

    g_unsetenv("G_MESSAGES_DEBUG");
    qutil_log_init("test-prog");
    qutil_log_init("test-prog"); /* twice is harmless */
    qutil_log_set_verbose(false);
    capture(log_some, &err1, &out1);
    assert_string_equal(err1, "test-prog: warning: w 1\ntest-prog: m\n");
    assert_string_equal(out1, "");

    qutil_log_set_verbose(true);
    capture(log_some, &err2, &out2);
    qutil_log_set_verbose(false);
    assert_string_equal(err2, "test-prog: warning: w 1\ntest-prog: m\n"
                              "test-prog: i\ntest-prog: debug: d\n");
    assert_string_equal(out2, "");
}

/* G_MESSAGES_DEBUG still works as GLib documents it. */
static void test_messages_debug(void **state)
{
    g_autofree char *err = NULL, *out = NULL;

    qutil_log_init("test-prog");
    g_setenv("G_MESSAGES_DEBUG", "other all", TRUE);
    capture(log_some, &err, &out);
    g_unsetenv("G_MESSAGES_DEBUG");
    assert_non_null(strstr(err, "test-prog: debug: d\n"));
    assert_string_equal(out, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_format_hostile),
        cmocka_unit_test(test_writer),
        cmocka_unit_test(test_messages_debug),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
