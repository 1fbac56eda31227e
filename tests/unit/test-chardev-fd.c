/*
 * Unit tests for the descriptor chardevs: file (truncate, append, an
 * input file), pipe (PATH.in/PATH.out and PATH alone), pty (connect and
 * hang-up noticed, data both ways) and stdio on a pty standing in for the
 * terminal (raw mode, signal=on/off, and the terminal restored on remove,
 * on exit() and on a fatal signal).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "chardev-test-frontend.h"
#include "chardev/char-file.h"
#include "chardev/char-pipe.h"
#include "chardev/char-pty.h"
#include "chardev/char-stdio.h"

typedef TestFe Fe;

static char *tmpdir;

static int setup(void **state)
{
    tmpdir = g_dir_make_tmp("test-chardev-fd-XXXXXX", NULL);
    assert_non_null(tmpdir);
    return 0;
}

static int teardown(void **state)
{
    g_autoptr(GDir) d = g_dir_open(tmpdir, 0, NULL);
    const char *name;

    qio_chardev_remove_all();
    while (d && (name = g_dir_read_name(d))) {
        g_autofree char *p = g_build_filename(tmpdir, name, NULL);

        g_unlink(p);
    }
    g_rmdir(tmpdir);
    g_clear_pointer(&tmpdir, g_free);
    return 0;
}

static char *slurp(const char *path)
{
    char *data = NULL;

    assert_true(g_file_get_contents(path, &data, NULL, NULL));
    return data;
}

static void test_file(void **state)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *out = g_build_filename(tmpdir, "out", NULL);
    g_autofree char *in = g_build_filename(tmpdir, "in", NULL);
    g_autofree char *data = NULL;
    QIOChardev *chr;
    Fe *fe;

    assert_true(g_file_set_contents(out, "old", -1, NULL));
    chr = qio_chardev_file_new("f0", out, NULL, false, &err);
    assert_non_null(chr);
    data = qio_chardev_get_filename(chr);
    assert_string_equal(data, "file");
    g_clear_pointer(&data, g_free);
    fe = test_fe_new(chr);
    WAIT_UNTIL(fe->events[QIO_CHARDEV_EVENT_OPENED] == 1);
    assert_int_equal(qio_chardev_write(chr, "new", 3, &err), 3);
    data = slurp(out);
    assert_string_equal(data, "new");
    g_clear_pointer(&data, g_free);
    test_fe_free(chr, fe);
    assert_true(qio_chardev_remove("f0", &err));

    /* append=on keeps what was there; in= feeds the frontend once. */
    assert_true(g_file_set_contents(in, "typed", -1, NULL));
    chr = qio_chardev_file_new("f1", out, in, true, &err);
    assert_non_null(chr);
    fe = test_fe_new(chr);
    WAIT_UNTIL(fe->in->len == 5);
    assert_string_equal(fe->in->str, "typed");
    assert_int_equal(qio_chardev_write(chr, "+more", 5, &err), 5);
    data = slurp(out);
    assert_string_equal(data, "new+more");
    test_fe_free(chr, fe);

    assert_null(
        qio_chardev_file_new("f2", "/nonexistent/dir/x", NULL, false, &err));
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_NOT_FOUND));
    assert_null(qio_chardev_find("f2"));
}

static void test_pipe(void **state)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *base = g_build_filename(tmpdir, "p", NULL);
    g_autofree char *pin = g_strdup_printf("%s.in", base);
    g_autofree char *pout = g_strdup_printf("%s.out", base);
    QIOChardev *chr;
    Fe *fe;
    char buf[8] = { 0 };
    int win, rout;

    assert_int_equal(mkfifo(pin, 0600), 0);
    assert_int_equal(mkfifo(pout, 0600), 0);
    chr = qio_chardev_pipe_new("p0", base, &err);
    assert_non_null(chr);
    fe = test_fe_new(chr);
    win = open(pin, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    rout = open(pout, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    assert_true(win >= 0 && rout >= 0);
    assert_int_equal(write(win, "in", 2), 2);
    WAIT_UNTIL(fe->in->len == 2);
    assert_string_equal(fe->in->str, "in");
    assert_int_equal(qio_chardev_write(chr, "out", 3, &err), 3);
    WAIT_UNTIL(read(rout, buf, sizeof(buf)) == 3);
    assert_string_equal(buf, "out");
    /* The writer going away is not the end of a FIFO opened read-write. */
    close(win);
    close(rout);
    test_fe_free(chr, fe);
    assert_true(qio_chardev_remove("p0", &err));

    /* Without .in/.out, PATH itself carries both ways. */
    g_unlink(pin);
    g_unlink(pout);
    assert_int_equal(mkfifo(base, 0600), 0);
    chr = qio_chardev_pipe_new("p1", base, &err);
    assert_non_null(chr);
    g_unlink(base);
    assert_null(qio_chardev_pipe_new("p2", base, &err));
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_NOT_FOUND));
}

static void test_pty(void **state)
{
    g_autoptr(GError) err = NULL;
    QIOChardev *chr = qio_chardev_pty_new("pt0", &err);
    g_autofree char *fn = NULL;
    g_autofree char *want = NULL;
    const char *path;
    char buf[8] = { 0 };
    Fe *fe;
    int slave;

    assert_non_null(chr);
    path = qio_chardev_pty_get_path(chr);
    assert_true(g_str_has_prefix(path, "/dev/pts/"));
    fn = qio_chardev_get_filename(chr);
    want = g_strdup_printf("pty:%s", path);
    assert_string_equal(fn, want);
    fe = test_fe_new(chr);
    /* Nobody on the other side: not open, writes dropped. */
    g_usleep(100 * 1000);
    assert_int_equal(fe->events[QIO_CHARDEV_EVENT_OPENED], 0);
    assert_int_equal(qio_chardev_write(chr, "lost", 4, &err), 4);

    slave = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    assert_true(slave >= 0);
    WAIT_UNTIL(fe->events[QIO_CHARDEV_EVENT_OPENED] == 1);
    assert_int_equal(write(slave, "hi", 2), 2);
    WAIT_UNTIL(fe->in->len == 2);
    assert_string_equal(fe->in->str, "hi");
    assert_int_equal(qio_chardev_write(chr, "yo\n", 3, &err), 3);
    /* Raw mode: "\n" stays "\n", and nothing lost was queued. */
    WAIT_UNTIL(read(slave, buf, sizeof(buf)) == 3);
    assert_memory_equal(buf, "yo\n", 3);
    close(slave);
    WAIT_UNTIL(fe->events[QIO_CHARDEV_EVENT_CLOSED] == 1);
    /* And again: the pty notices the next reader. */
    slave = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    WAIT_UNTIL(fe->events[QIO_CHARDEV_EVENT_OPENED] == 2);
    close(slave);
    WAIT_UNTIL(fe->events[QIO_CHARDEV_EVENT_CLOSED] == 2);
    test_fe_free(chr, fe);
}

/* A pty pair standing in for a terminal: *@master and *@slave. */
static void fake_terminal(int *master, int *slave)
{
    char name[64];

    *master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    assert_true(*master >= 0);
    assert_int_equal(grantpt(*master), 0);
    assert_int_equal(unlockpt(*master), 0);
    assert_int_equal(ptsname_r(*master, name, sizeof(name)), 0);
    *slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    assert_true(*slave >= 0);
}

static tcflag_t lflag(int fd)
{
    struct termios t;

    assert_int_equal(tcgetattr(fd, &t), 0);
    return t.c_lflag;
}

static void test_stdio(void **state)
{
    g_autoptr(GError) err = NULL;
    QIOChardev *chr;
    tcflag_t before;
    int master, slave;
    char buf[8] = { 0 };
    Fe *fe;

    fake_terminal(&master, &slave);
    before = lflag(slave);
    assert_true(before & ICANON);
    assert_true(before & ECHO);

    chr = qio_chardev_stdio_new_fds("s0", slave, slave, true, &err);
    assert_non_null(chr);
    assert_int_equal(lflag(slave) & (ICANON | ECHO), 0);
    assert_true(lflag(slave) & ISIG);
    /* Only one at a time. */
    assert_null(qio_chardev_stdio_new_fds("s1", slave, slave, true, &err));
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_EXISTS));
    g_clear_error(&err);

    fe = test_fe_new(chr);
    WAIT_UNTIL(fe->events[QIO_CHARDEV_EVENT_OPENED] == 1);
    /* Raw: a byte typed arrives without waiting for Enter. */
    assert_int_equal(write(master, "k", 1), 1);
    WAIT_UNTIL(fe->in->len == 1);
    assert_int_equal(qio_chardev_write(chr, "ok", 2, &err), 2);
    WAIT_UNTIL(read(master, buf, sizeof(buf)) == 2);
    assert_string_equal(buf, "ok");
    test_fe_free(chr, fe);
    assert_true(qio_chardev_remove("s0", &err));
    assert_int_equal(lflag(slave), before);

    /* signal=off: Ctrl-C is a byte, not SIGINT. */
    chr = qio_chardev_stdio_new_fds("s0", slave, slave, false, &err);
    assert_non_null(chr);
    assert_int_equal(lflag(slave) & ISIG, 0);
    assert_true(qio_chardev_remove("s0", &err));
    assert_int_equal(lflag(slave), before);
    close(slave);
    close(master);
}

/* In a child: take the terminal, then leave by @how. */
static void stdio_exit_child(int slave, int how)
{
    QIOChardev *chr;

    /* As in a program that leaves the signal alone (not the harness). */
    if (how) {
        signal(how, SIG_DFL);
    }
    chr = qio_chardev_stdio_new_fds("s0", slave, slave, true, NULL);
    if (!chr) {
        _exit(3);
    }
    if (lflag(slave) & ICANON) {
        _exit(4);
    }
    if (how == 0) {
        exit(0);
    }
    raise(how);
    _exit(5);
}

static void test_stdio_exit_paths(void **state)
{
    const int hows[] = { 0, SIGTERM, SIGSEGV, SIGINT };

    for (size_t i = 0; i < G_N_ELEMENTS(hows); i++) {
        int master, slave, status;
        tcflag_t before;
        pid_t pid;

        fake_terminal(&master, &slave);
        before = lflag(slave);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            stdio_exit_child(slave, hows[i]);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (hows[i] == 0) {
            assert_true(WIFEXITED(status));
            assert_int_equal(WEXITSTATUS(status), 0);
        } else {
            /* The signal still ends the process, by that signal. */
            assert_true(WIFSIGNALED(status));
            assert_int_equal(WTERMSIG(status), hows[i]);
        }
        assert_int_equal(lflag(slave), before);
        close(slave);
        close(master);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipe, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stdio, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stdio_exit_paths, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
