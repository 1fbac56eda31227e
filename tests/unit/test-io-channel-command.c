/*
 * Unit tests for QIOChannelCommand: a 64 MiB round trip through cat, exit
 * statuses and signals turned into errors that quote stderr, a stderr
 * flood that must not deadlock, writes to a dead child, spawn failures,
 * one-way commands, bounded close of children that ignore EOF (and even
 * SIGTERM), reaping, shutdown, watches and the child's environment.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "io/channel-command.h"
#include "io-channel-helpers.h"

#define PAYLOAD   (64 * 1024 * 1024)
#define CHUNK_MAX (200 * 1024)

/* A hang is a failure: SIGALRM's default action ends the program. */
static int arm_alarm(void **state)
{
    alarm(30);
    return 0;
}

static int disarm_alarm(void **state)
{
    alarm(0);
    return 0;
}

static QIOChannelCommand *spawn(int flags, const char *arg0,
                                ...) G_GNUC_NULL_TERMINATED;

static QIOChannelCommand *spawn(int flags, const char *arg0, ...)
{
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    g_autoptr(GError) err = NULL;
    QIOChannelCommand *cmd;
    const char *arg;
    va_list ap;

    g_ptr_array_add(argv, (gpointer)arg0);
    va_start(ap, arg0);
    while ((arg = va_arg(ap, const char *))) {
        g_ptr_array_add(argv, (gpointer)arg);
    }
    va_end(ap);
    g_ptr_array_add(argv, NULL);
    cmd = qio_channel_command_new_spawn((const char *const *)argv->pdata, flags,
                                        &err);
    if (!cmd) {
        fail_msg("spawn %s: %s", arg0, err->message);
    }
    return cmd;
}

static bool reaped(pid_t pid)
{
    return waitpid(pid, NULL, WNOHANG) == -1 && errno == ECHILD;
}

/* Wait for the child to exit without reaping it. */
static void wait_exited(pid_t pid)
{
    siginfo_t info;

    while (waitid(P_PID, pid, &info, WEXITED | WNOWAIT) < 0) {
        assert_int_equal(errno, EINTR);
    }
}

static bool sigpipe_pending(void)
{
    sigset_t pending;

    sigemptyset(&pending);
    assert_int_equal(sigpending(&pending), 0);
    return sigismember(&pending, SIGPIPE) == 1;
}

/* Read to EOF into a string, waiting when the channel is non-blocking. */
static char *read_to_eof(QIOChannel *ioc)
{
    GString *out = g_string_new(NULL);
    char buf[4096];

    for (;;) {
        g_autoptr(GError) err = NULL;
        gssize n = qio_channel_read(ioc, buf, sizeof(buf), &err);

        if (n == QIO_CHANNEL_ERR_BLOCK) {
            qio_channel_wait(ioc, G_IO_IN);
            continue;
        }
        if (n < 0) {
            fail_msg("read: %s", err->message);
        }
        if (n == 0) {
            return g_string_free(out, FALSE);
        }
        g_string_append_len(out, buf, n);
    }
}

typedef struct {
    QIOChannel *ioc;
    size_t len;
    GChecksum *sum;
    GError *err;
} CatWriter;

/* Write the payload in uneven pieces, then let cat see EOF. */
static gpointer cat_writer(gpointer opaque)
{
    CatWriter *w = opaque;
    g_autoptr(GRand) rand = g_rand_new_with_seed(3);
    g_autofree guint8 *buf = g_malloc(CHUNK_MAX);
    size_t done = 0;
    guint32 seed = 11;

    while (done < w->len) {
        size_t want = g_rand_int_range(rand, 1, CHUNK_MAX + 1);
        size_t n = MIN(want, w->len - done);
        size_t split = g_rand_int_range(rand, 0, n + 1);
        struct iovec iov[2] = {
            { .iov_base = buf, .iov_len = split },
            { .iov_base = buf + split, .iov_len = n - split },
        };

        qio_test_fill(buf, n, seed++);
        g_checksum_update(w->sum, buf, n);
        if (qio_channel_writev_all(w->ioc, iov, 2, &w->err) < 0) {
            return NULL;
        }
        done += n;
    }
    qio_channel_shutdown(w->ioc, QIO_CHANNEL_SHUTDOWN_WRITE, &w->err);
    return NULL;
}

static void cat_round_trip(bool blocking, size_t len)
{
    g_autoptr(QIOChannelCommand) cmd = spawn(O_RDWR, "cat", NULL);
    QIOChannel *ioc = QIO_CHANNEL(cmd);
    g_autoptr(GChecksum) rsum = g_checksum_new(G_CHECKSUM_SHA256);
    g_autoptr(GRand) rand = g_rand_new_with_seed(4);
    g_autofree guint8 *buf = g_malloc(CHUNK_MAX);
    g_autoptr(GError) err = NULL;
    CatWriter w = { .ioc = ioc,
                    .len = len,
                    .sum = g_checksum_new(G_CHECKSUM_SHA256) };
    GThread *thread;
    size_t got = 0;
    pid_t pid = qio_channel_command_get_pid(cmd);

    assert_true(pid > 0);
    assert_true(qio_channel_has_feature(ioc, QIO_CHANNEL_FEATURE_SHUTDOWN));
    if (!blocking) {
        assert_int_equal(qio_channel_set_blocking(ioc, false, NULL), 0);
    }
    thread = g_thread_new("cat-writer", cat_writer, &w);
    for (;;) {
        size_t n = g_rand_int_range(rand, 1, CHUNK_MAX + 1);
        gssize r = qio_channel_read(ioc, buf, n, &err);

        if (r == QIO_CHANNEL_ERR_BLOCK) {
            qio_channel_wait(ioc, G_IO_IN);
            continue;
        }
        if (r <= 0) {
            break;
        }
        g_checksum_update(rsum, buf, r);
        got += r;
    }
    if (err) {
        /* Make cat die so that the writer cannot stay stuck. */
        qio_channel_shutdown(ioc, QIO_CHANNEL_SHUTDOWN_READ, NULL);
    }
    g_thread_join(thread);
    if (w.err) {
        fail_msg("writer: %s", w.err->message);
    }
    if (err) {
        fail_msg("reader: %s", err->message);
    }
    assert_int_equal(got, len);
    assert_string_equal(g_checksum_get_string(w.sum),
                        g_checksum_get_string(rsum));
    g_checksum_free(w.sum);

    assert_int_equal(qio_channel_close(ioc, &err), 0);
    assert_null(err);
    assert_true(reaped(pid));
}

static void test_command_cat_blocking(void **state)
{
    cat_round_trip(true, PAYLOAD);
}

static void test_command_cat_nonblocking(void **state)
{
    cat_round_trip(false, PAYLOAD);
}

static void test_command_exit_status(void **state)
{
    g_autoptr(QIOChannelCommand) cmd =
        spawn(O_RDONLY, "sh", "-c", "echo oops >&2; exit 3", NULL);
    g_autoptr(GError) err = NULL;
    g_autofree char *out = read_to_eof(QIO_CHANNEL(cmd));
    pid_t pid = qio_channel_command_get_pid(cmd);

    assert_string_equal(out, "");
    assert_int_equal(qio_channel_close(QIO_CHANNEL(cmd), &err), -1);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_COMMAND_FAILED));
    /* The wording is the point: command, status and stderr tail. */
    assert_string_equal(err->message,
                        "command 'sh -c echo oops >&2; exit 3' exited with "
                        "status 3: oops");
    assert_true(reaped(pid));
    /* Closing again is harmless and does not repeat the error. */
    assert_int_equal(qio_channel_close(QIO_CHANNEL(cmd), NULL), 0);
}

static void test_command_killed_by_signal(void **state)
{
    g_autoptr(QIOChannelCommand) cmd =
        spawn(O_RDONLY, "sh", "-c", "kill -9 $$", NULL);
    g_autoptr(GError) err = NULL;
    g_autofree char *expect =
        g_strdup_printf("was killed by signal 9 (%s)", g_strsignal(SIGKILL));
    g_autofree char *out = read_to_eof(QIO_CHANNEL(cmd));

    assert_int_equal(qio_channel_close(QIO_CHANNEL(cmd), &err), -1);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_COMMAND_FAILED));
    assert_non_null(strstr(err->message, "command 'sh -c kill -9 $$'"));
    assert_non_null(strstr(err->message, expect));
}

static void test_command_stderr_flood(void **state)
{
    /* About 220 KB of stderr, several times any pipe's capacity. */
    g_autoptr(QIOChannelCommand) cmd =
        spawn(O_RDONLY, "sh", "-c",
              "i=0; while [ $i -lt 20000 ]; do echo \"line $i\" >&2; "
              "i=$((i+1)); done; echo finished; exit 1",
              NULL);
    g_autoptr(GError) err = NULL;
    g_autofree char *out = read_to_eof(QIO_CHANNEL(cmd));
    const char *tail;

    assert_string_equal(out, "finished\n");
    assert_int_equal(qio_channel_close(QIO_CHANNEL(cmd), &err), -1);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_COMMAND_FAILED));
    tail = strstr(err->message, "exited with status 1: ");
    assert_non_null(tail);
    tail += strlen("exited with status 1: ");
    /* Only the tail, starting at a whole line, ending with the last. */
    assert_true(strlen(tail) <= QIO_CHANNEL_COMMAND_STDERR_TAIL);
    assert_true(strlen(tail) > QIO_CHANNEL_COMMAND_STDERR_TAIL / 2);
    assert_true(g_str_has_prefix(tail, "line "));
    assert_true(g_str_has_suffix(tail, "line 19998\nline 19999"));
    assert_null(strstr(tail, "line 19000\n"));
    assert_null(strstr(err->message, "line 0\n"));
}

static void test_command_write_after_exit(void **state)
{
    g_autoptr(QIOChannelCommand) cmd = spawn(O_WRONLY, "true", NULL);
    g_autoptr(GError) err = NULL;
    g_autofree char *big = g_malloc0(256 * 1024);
    struct sigaction sa;

    assert_int_equal(sigaction(SIGPIPE, NULL, &sa), 0);
    assert_true(sa.sa_handler == SIG_DFL);

    wait_exited(qio_channel_command_get_pid(cmd));
    assert_int_equal(
        qio_channel_write_all(QIO_CHANNEL(cmd), big, 256 * 1024, &err), -1);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_BROKEN_PIPE));
    assert_non_null(strstr(err->message, "command 'true'"));
    assert_false(sigpipe_pending());
    /* It exited 0 on its own, so close succeeds. */
    assert_int_equal(qio_channel_close(QIO_CHANNEL(cmd), NULL), 0);
}

static void test_command_not_found(void **state)
{
    const char *argv[] = { "qio-no-such-command", "--flag", NULL };
    const char *argv_path[] = { "/nonexistent/qio/tool", NULL };
    g_autoptr(GError) err = NULL;

    assert_null(qio_channel_command_new_spawn(argv, O_RDWR, &err));
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_NOT_FOUND));
    assert_true(g_str_has_prefix(err->message,
                                 "cannot run command "
                                 "'qio-no-such-command --flag': "));
    g_clear_error(&err);
    assert_null(qio_channel_command_new_spawn(argv_path, O_RDONLY, &err));
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_NOT_FOUND));
    assert_non_null(strstr(err->message, "/nonexistent/qio/tool"));
    g_clear_error(&err);
    assert_null(qio_channel_command_new_spawn(argv, O_RDWR | O_ACCMODE, &err));
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT));
}

static void test_command_read_only(void **state)
{
    g_autoptr(QIOChannelCommand) cmd = spawn(O_RDONLY, "printf", "hello", NULL);
    g_autoptr(GError) err = NULL;
    g_autofree char *out = read_to_eof(QIO_CHANNEL(cmd));

    assert_string_equal(out, "hello");
    assert_int_equal(qio_channel_write(QIO_CHANNEL(cmd), "x", 1, &err), -1);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_NOT_SUPPORTED));
    assert_int_equal(qio_channel_close(QIO_CHANNEL(cmd), NULL), 0);
}

static void test_command_write_only(void **state)
{
    /* The child checks what it got; its stdout goes to /dev/null. */
    const char *check = "test \"$(cat)\" = ping && echo ignored";
    g_autoptr(QIOChannelCommand) good =
        spawn(O_WRONLY, "sh", "-c", check, NULL);
    g_autoptr(QIOChannelCommand) bad = spawn(O_WRONLY, "sh", "-c", check, NULL);
    g_autoptr(GError) err = NULL;
    char c;

    assert_int_equal(qio_channel_read(QIO_CHANNEL(good), &c, 1, &err), -1);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_NOT_SUPPORTED));
    g_clear_error(&err);
    assert_int_equal(qio_channel_write_all(QIO_CHANNEL(good), "ping", 4, NULL),
                     0);
    assert_int_equal(qio_channel_close(QIO_CHANNEL(good), NULL), 0);
    assert_int_equal(qio_channel_write_all(QIO_CHANNEL(bad), "pong", 4, NULL),
                     0);
    assert_int_equal(qio_channel_close(QIO_CHANNEL(bad), &err), -1);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_COMMAND_FAILED));
    assert_non_null(strstr(err->message, "exited with status 1"));
}

static void test_command_close_escalates(void **state)
{
    g_autoptr(QIOChannelCommand) cmd = spawn(O_RDWR, "sleep", "60", NULL);
    g_autoptr(GError) err = NULL;
    g_autofree char *expect =
        g_strdup_printf("killed by signal 15 (%s)", g_strsignal(SIGTERM));
    pid_t pid = qio_channel_command_get_pid(cmd);
    gint64 start;
    gint64 elapsed;

    qio_channel_command_set_exit_timeout(cmd, 200);
    start = g_get_monotonic_time();
    assert_int_equal(qio_channel_close(QIO_CHANNEL(cmd), &err), -1);
    elapsed = g_get_monotonic_time() - start;
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_TIMED_OUT));
    assert_non_null(strstr(err->message, "command 'sleep 60' did not exit "
                                         "within 200 ms"));
    assert_non_null(strstr(err->message, expect));
    assert_true(elapsed >= 200 * 1000);
    assert_true(elapsed < 3 * G_USEC_PER_SEC);
    assert_true(reaped(pid));
}

/* Gone, or a zombie waiting for whoever inherited it. */
static bool process_dead(pid_t pid)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/stat", (int)pid);
    g_autofree char *stat = NULL;
    const char *paren;

    if (kill(pid, 0) < 0 && errno == ESRCH) {
        return true;
    }
    if (!g_file_get_contents(path, &stat, NULL, NULL)) {
        return true;
    }
    paren = strrchr(stat, ')');
    return paren && (paren[2] == 'Z' || paren[2] == 'X');
}

static void test_command_close_sigkill_group(void **state)
{
    /* The shell and its background child both ignore SIGTERM. */
    g_autoptr(QIOChannelCommand) cmd = spawn(
        O_RDONLY, "sh", "-c", "trap '' TERM; sleep 60 & echo $!; wait", NULL);
    g_autoptr(GError) err = NULL;
    char line[32] = { 0 };
    gint64 deadline;
    pid_t grandchild;
    size_t len = 0;

    /* Read the background child's pid, one line. */
    while (len < sizeof(line) - 1 && !strchr(line, '\n')) {
        gssize n = qio_channel_read(QIO_CHANNEL(cmd), line + len, 1, NULL);

        assert_true(n == 1);
        len++;
    }
    grandchild = atoi(line);
    assert_true(grandchild > 0);
    assert_int_equal(getpgid(grandchild), qio_channel_command_get_pid(cmd));

    qio_channel_command_set_exit_timeout(cmd, 100);
    assert_int_equal(qio_channel_close(QIO_CHANNEL(cmd), &err), -1);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_TIMED_OUT));
    assert_non_null(strstr(err->message, "killed by signal 9"));

    /* SIGKILL went to the whole process group. */
    deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
    while (!process_dead(grandchild) && g_get_monotonic_time() < deadline) {
        g_usleep(10000);
    }
    assert_true(process_dead(grandchild));
}

static void test_command_no_zombie_on_unref(void **state)
{
    QIOChannelCommand *cmd = spawn(O_RDWR, "cat", NULL);
    pid_t pid = qio_channel_command_get_pid(cmd);

    assert_false(reaped(pid));
    g_object_unref(cmd);
    assert_true(reaped(pid));
}

static void test_command_shutdown(void **state)
{
    g_autoptr(QIOChannelCommand) cmd = spawn(O_RDWR, "cat", NULL);
    QIOChannel *ioc = QIO_CHANNEL(cmd);
    g_autoptr(GError) err = NULL;
    char buf[8];

    assert_int_equal(qio_channel_write_all(ioc, "abc", 3, NULL), 0);
    assert_int_equal(qio_channel_read_all(ioc, buf, 3, NULL), 0);
    assert_memory_equal(buf, "abc", 3);
    assert_int_equal(
        qio_channel_shutdown(ioc, QIO_CHANNEL_SHUTDOWN_WRITE, NULL), 0);
    assert_int_equal(qio_channel_write(ioc, "x", 1, &err), -1);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_BROKEN_PIPE));
    /* cat saw EOF, so its output ends too. */
    assert_int_equal(qio_channel_read(ioc, buf, sizeof(buf), NULL), 0);
    assert_int_equal(qio_channel_shutdown(ioc, QIO_CHANNEL_SHUTDOWN_BOTH, NULL),
                     0);
    assert_int_equal(qio_channel_read(ioc, buf, sizeof(buf), NULL), 0);
    assert_int_equal(qio_channel_close(ioc, NULL), 0);
}

static void test_command_closed(void **state)
{
    g_autoptr(QIOChannelCommand) cmd = spawn(O_RDWR, "cat", NULL);
    QIOChannel *ioc = QIO_CHANNEL(cmd);
    g_autoptr(GError) err = NULL;
    char c;

    assert_int_equal(qio_channel_close(ioc, NULL), 0);
    assert_int_equal(qio_channel_close(ioc, NULL), 0);
    assert_int_equal(qio_channel_read(ioc, &c, 1, &err), -1);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_CLOSED));
    g_clear_error(&err);
    assert_int_equal(qio_channel_write(ioc, "x", 1, &err), -1);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_CLOSED));
    g_clear_error(&err);
    assert_int_equal(
        qio_channel_shutdown(ioc, QIO_CHANNEL_SHUTDOWN_WRITE, &err), -1);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_CLOSED));
    g_clear_error(&err);
    assert_int_equal(qio_channel_set_blocking(ioc, false, &err), -1);
    assert_true(g_error_matches(err, QIO_ERROR, QIO_ERROR_CLOSED));
}

typedef struct {
    GIOCondition got;
    bool timed_out;
} WatchResult;

static gboolean watch_cb(QIOChannel *ioc, GIOCondition cond, gpointer opaque)
{
    ((WatchResult *)opaque)->got |= cond;
    return G_SOURCE_REMOVE;
}

static gboolean watch_timeout(gpointer opaque)
{
    ((WatchResult *)opaque)->timed_out = true;
    return G_SOURCE_REMOVE;
}

/* As in the file tests: until it fires (5 s at most), or briefly. */
static GIOCondition run_watch(QIOChannel *ioc, GIOCondition cond, bool expect)
{
    g_autoptr(GMainContext) ctx = g_main_context_new();
    WatchResult res = { 0 };
    GSource *timer = g_timeout_source_new(expect ? 5000 : 50);

    g_source_set_callback(timer, watch_timeout, &res, NULL);
    g_source_attach(timer, ctx);
    qio_channel_add_watch_full(ioc, cond, watch_cb, &res, NULL, ctx);
    while (!res.got && !res.timed_out) {
        g_main_context_iteration(ctx, TRUE);
    }
    assert_true(res.timed_out == !expect);
    g_source_destroy(timer);
    g_source_unref(timer);
    return res.got;
}

static void test_command_watch(void **state)
{
    g_autoptr(QIOChannelCommand) cmd = spawn(O_RDWR, "cat", NULL);
    QIOChannel *ioc = QIO_CHANNEL(cmd);
    char buf[8];

    assert_int_equal(qio_channel_set_blocking(ioc, false, NULL), 0);
    assert_int_equal(qio_channel_read(ioc, buf, sizeof(buf), NULL),
                     QIO_CHANNEL_ERR_BLOCK);
    assert_int_equal(run_watch(ioc, G_IO_IN, false), 0);
    assert_int_equal(run_watch(ioc, G_IO_OUT, true), G_IO_OUT);
    assert_int_equal(qio_channel_write(ioc, "hi", 2, NULL), 2);
    assert_true(run_watch(ioc, G_IO_IN, true) & G_IO_IN);
    assert_int_equal(qio_channel_read_all(ioc, buf, 2, NULL), 0);
    assert_memory_equal(buf, "hi", 2);
    assert_int_equal(
        qio_channel_shutdown(ioc, QIO_CHANNEL_SHUTDOWN_WRITE, NULL), 0);
    assert_true(run_watch(ioc, G_IO_IN, true) & (G_IO_IN | G_IO_HUP));
    assert_int_equal(qio_channel_read(ioc, buf, sizeof(buf), NULL), 0);
    assert_int_equal(qio_channel_close(ioc, NULL), 0);
}

static void test_command_stderr_sanitized(void **state)
{
    g_autoptr(QIOChannelCommand) cmd =
        spawn(O_RDONLY, "sh", "-c", "printf 'a\\033[31mb\\r\\nc\\t \\n\\n' >&2",
              NULL);
    g_autofree char *out = read_to_eof(QIO_CHANNEL(cmd));
    g_autofree char *text = NULL;

    assert_int_equal(qio_channel_close(QIO_CHANNEL(cmd), NULL), 0);
    text = qio_channel_command_get_stderr(cmd);
    assert_string_equal(text, "a?[31mb?\nc");
}

static void test_command_child_environment(void **state)
{
    g_autoptr(QIOChannelCommand) cmd = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree char *out = NULL;
    g_autofree char *fds = NULL;
    g_auto(GStrv) lines = NULL;
    g_auto(GStrv) fd_list = NULL;
    struct sigaction ign = { .sa_handler = SIG_IGN };
    struct sigaction old;
    sigset_t usr1, oldmask;
    int leak;

    if (!g_file_test("/proc/self/status", G_FILE_TEST_EXISTS)) {
        skip();
    }
    /* A descriptor without O_CLOEXEC, a blocked and an ignored signal. */
    leak = dup2(STDIN_FILENO, 200);
    assert_int_equal(leak, 200);
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    assert_int_equal(pthread_sigmask(SIG_BLOCK, &usr1, &oldmask), 0);
    assert_int_equal(sigaction(SIGPIPE, &ign, &old), 0);

    cmd = spawn(O_RDONLY, "grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status",
                NULL);
    out = read_to_eof(QIO_CHANNEL(cmd));
    assert_int_equal(qio_channel_close(QIO_CHANNEL(cmd), NULL), 0);
    g_clear_object(&cmd);
    cmd = spawn(O_RDONLY, "ls", "/proc/self/fd", NULL);
    fds = read_to_eof(QIO_CHANNEL(cmd));
    assert_int_equal(qio_channel_close(QIO_CHANNEL(cmd), NULL), 0);

    assert_int_equal(sigaction(SIGPIPE, &old, NULL), 0);
    assert_int_equal(pthread_sigmask(SIG_SETMASK, &oldmask, NULL), 0);
    close(leak);

    lines = g_strsplit(out, "\n", -1);
    assert_true(g_strv_length(lines) >= 2);
    assert_string_equal(lines[0], "SigBlk:\t0000000000000000");
    /* SIGPIPE (13) is bit 12 of the mask: not ignored in the child. */
    assert_true((g_ascii_strtoull(lines[1] + strlen("SigIgn:\t"), NULL, 16) &
                 (1ULL << (SIGPIPE - 1))) == 0);
    fd_list = g_strsplit(fds, "\n", -1);
    assert_true(g_strv_contains((const char *const *)fd_list, "0"));
    assert_true(g_strv_contains((const char *const *)fd_list, "1"));
    assert_true(g_strv_contains((const char *const *)fd_list, "2"));
    assert_false(g_strv_contains((const char *const *)fd_list, "200"));
}

static void test_command_own_process_group(void **state)
{
    g_autoptr(QIOChannelCommand) cmd = spawn(O_RDWR, "cat", NULL);
    pid_t pid = qio_channel_command_get_pid(cmd);

    assert_int_equal(getpgid(pid), pid);
    assert_int_equal(qio_channel_close(QIO_CHANNEL(cmd), NULL), 0);
}

#define TEST(fn) cmocka_unit_test_setup_teardown(fn, arm_alarm, disarm_alarm)

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_command_cat_blocking),
        TEST(test_command_cat_nonblocking),
        TEST(test_command_exit_status),
        TEST(test_command_killed_by_signal),
        TEST(test_command_stderr_flood),
        TEST(test_command_write_after_exit),
        TEST(test_command_not_found),
        TEST(test_command_read_only),
        TEST(test_command_write_only),
        TEST(test_command_close_escalates),
        TEST(test_command_close_sigkill_group),
        TEST(test_command_no_zombie_on_unref),
        TEST(test_command_shutdown),
        TEST(test_command_closed),
        TEST(test_command_watch),
        TEST(test_command_stderr_sanitized),
        TEST(test_command_child_environment),
        TEST(test_command_own_process_group),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
