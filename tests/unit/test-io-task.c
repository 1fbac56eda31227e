/*
 * Unit tests for QIOTask: the completion callback runs on the caller's
 * main context and not on the worker thread, results and errors reach it,
 * cancellation overrides whatever the worker produced, every destroy
 * notify runs exactly once, and many tasks can be in flight together.
 * Every main loop here is bounded by a timeout so a lost completion fails
 * the test instead of hanging it.
 */
#include "io/task.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#define LOOP_TIMEOUT_MS 10000

static gboolean flag_set(gpointer opaque)
{
    *(bool *)opaque = true;
    return G_SOURCE_REMOVE;
}

/* Iterate @ctx until *@done or the timeout; return *@done. */
static bool run_until(GMainContext *ctx, const bool *done, guint ms)
{
    bool timed_out = false;
    GSource *timer = g_timeout_source_new(ms);

    g_source_set_callback(timer, flag_set, &timed_out, NULL);
    g_source_attach(timer, ctx);
    while (!*done && !timed_out) {
        g_main_context_iteration(ctx, TRUE);
    }
    g_source_destroy(timer);
    g_source_unref(timer);
    return *done;
}

/* Shared state of one task as seen by its worker and its callback. */
typedef struct {
    GThread *worker_thread;
    GThread *callback_thread;
    GMainContext *callback_context;
    bool done;
    int callbacks;

    /* What the worker does. */
    bool set_result;
    bool set_error;
    bool wait_for_release;
    bool saw_cancelled;

    /* What the callback does and saw. */
    bool steal;
    gpointer stolen;
    char *result_copy;
    GError *err;
    bool had_error;
    GObject *source;

    /* Worker and completion synchronisation. */
    GMutex lock;
    GCond cond;
    bool released;

    int opaque_destroyed;
    int worker_destroyed;
} TaskState;

static int results_freed;

static void result_free(gpointer p)
{
    g_atomic_int_inc(&results_freed);
    g_free(p);
}

static void state_init(TaskState *st)
{
    memset(st, 0, sizeof(*st));
    g_mutex_init(&st->lock);
    g_cond_init(&st->cond);
}

static void state_clear(TaskState *st)
{
    g_mutex_clear(&st->lock);
    g_cond_clear(&st->cond);
    g_clear_error(&st->err);
    g_free(st->result_copy);
    g_free(st->stolen);
}

static void opaque_destroy(gpointer opaque)
{
    ((TaskState *)opaque)->opaque_destroyed++;
}

static void worker_destroy(gpointer opaque)
{
    g_atomic_int_inc(&((TaskState *)opaque)->worker_destroyed);
}

static void release_worker(TaskState *st)
{
    g_mutex_lock(&st->lock);
    st->released = true;
    g_cond_signal(&st->cond);
    g_mutex_unlock(&st->lock);
}

static void worker(QIOTask *task, gpointer opaque)
{
    TaskState *st = opaque;

    st->worker_thread = g_thread_self();
    if (st->wait_for_release) {
        gint64 deadline = g_get_monotonic_time() + 10 * G_TIME_SPAN_SECOND;

        g_mutex_lock(&st->lock);
        while (!st->released &&
               g_cond_wait_until(&st->cond, &st->lock, deadline)) {
            /* wait */
        }
        g_mutex_unlock(&st->lock);
    }
    st->saw_cancelled =
        g_cancellable_is_cancelled(qio_task_get_cancellable(task));
    if (st->set_result) {
        qio_task_set_result_pointer(task, g_strdup("forty-two"), result_free);
    }
    if (st->set_error) {
        qio_task_set_error(task,
                           g_error_new(QIO_ERROR, QIO_ERROR_CONNECTION_REFUSED,
                                       "connect to %s refused", "127.0.0.1:1"));
    }
}

static void completed(QIOTask *task, gpointer opaque)
{
    TaskState *st = opaque;

    st->callbacks++;
    st->callback_thread = g_thread_self();
    st->callback_context = g_main_context_get_thread_default();
    st->source = qio_task_get_source(task);
    st->had_error = qio_task_had_error(task);
    if (st->steal) {
        st->stolen = qio_task_steal_result_pointer(task);
        assert_null(qio_task_get_result_pointer(task));
    } else {
        st->result_copy = g_strdup(qio_task_get_result_pointer(task));
    }
    qio_task_propagate_error(task, &st->err);
    /* Once taken, the error is gone. */
    assert_false(qio_task_had_error(task));
    assert_false(qio_task_propagate_error(task, NULL));
    st->done = true;
}

/*
 * Completion arrives on the thread-default context of the thread that
 * started the task, and only when that context is iterated.
 */
static void test_completes_on_caller_context(void **state)
{
    g_autoptr(GMainContext) ctx = g_main_context_new();
    TaskState st;
    QIOTask *task;

    state_init(&st);
    st.set_result = true;
    g_main_context_push_thread_default(ctx);
    task = qio_task_new(NULL, completed, &st, opaque_destroy);
    qio_task_run_in_thread(task, worker, &st, worker_destroy, NULL);

    /* The global default context must not run it. */
    for (int i = 0; i < 20; i++) {
        g_main_context_iteration(NULL, FALSE);
        g_usleep(1000);
    }
    assert_int_equal(st.callbacks, 0);

    assert_true(run_until(ctx, &st.done, LOOP_TIMEOUT_MS));
    g_main_context_pop_thread_default(ctx);

    assert_int_equal(st.callbacks, 1);
    assert_non_null(st.worker_thread);
    assert_ptr_not_equal(st.worker_thread, g_thread_self());
    assert_ptr_equal(st.callback_thread, g_thread_self());
    assert_ptr_equal(st.callback_context, ctx);
    assert_string_equal(st.result_copy, "forty-two");
    assert_null(st.err);
    assert_int_equal(st.opaque_destroyed, 1);
    assert_int_equal(g_atomic_int_get(&st.worker_destroyed), 1);
    state_clear(&st);
}

/* An explicit context wins over the thread default. */
static void test_completes_on_given_context(void **state)
{
    g_autoptr(GMainContext) ctx = g_main_context_new();
    TaskState st;
    QIOTask *task;

    state_init(&st);
    task = qio_task_new(NULL, completed, &st, NULL);
    qio_task_run_in_thread(task, worker, &st, NULL, ctx);
    assert_true(run_until(ctx, &st.done, LOOP_TIMEOUT_MS));
    assert_ptr_equal(st.callback_thread, g_thread_self());
    assert_int_equal(st.callbacks, 1);
    state_clear(&st);
}

static void test_result_freed_once(void **state)
{
    g_autoptr(GMainContext) ctx = g_main_context_new();
    int before = g_atomic_int_get(&results_freed);
    TaskState st;
    QIOTask *task;

    state_init(&st);
    st.set_result = true;
    task = qio_task_new(NULL, completed, &st, NULL);
    qio_task_run_in_thread(task, worker, &st, NULL, ctx);
    assert_true(run_until(ctx, &st.done, LOOP_TIMEOUT_MS));
    assert_string_equal(st.result_copy, "forty-two");
    assert_int_equal(g_atomic_int_get(&results_freed), before + 1);
    state_clear(&st);
}

static void test_result_replaced(void **state)
{
    int before = g_atomic_int_get(&results_freed);
    TaskState st;
    QIOTask *task;

    state_init(&st);
    task = qio_task_new(NULL, completed, &st, NULL);
    qio_task_set_result_pointer(task, g_strdup("first"), result_free);
    qio_task_set_result_pointer(task, g_strdup("second"), result_free);
    assert_int_equal(g_atomic_int_get(&results_freed), before + 1);
    qio_task_complete(task);
    assert_string_equal(st.result_copy, "second");
    assert_int_equal(g_atomic_int_get(&results_freed), before + 2);
    state_clear(&st);
}

static void test_steal_result(void **state)
{
    g_autoptr(GMainContext) ctx = g_main_context_new();
    int before = g_atomic_int_get(&results_freed);
    TaskState st;
    QIOTask *task;

    state_init(&st);
    st.set_result = true;
    st.steal = true;
    task = qio_task_new(NULL, completed, &st, NULL);
    qio_task_run_in_thread(task, worker, &st, NULL, ctx);
    assert_true(run_until(ctx, &st.done, LOOP_TIMEOUT_MS));
    assert_string_equal(st.stolen, "forty-two");
    /* Ours now: the task did not free it. */
    assert_int_equal(g_atomic_int_get(&results_freed), before);
    state_clear(&st);
}

static void test_error(void **state)
{
    g_autoptr(GMainContext) ctx = g_main_context_new();
    TaskState st;
    QIOTask *task;

    state_init(&st);
    st.set_error = true;
    task = qio_task_new(NULL, completed, &st, NULL);
    qio_task_run_in_thread(task, worker, &st, NULL, ctx);
    assert_true(run_until(ctx, &st.done, LOOP_TIMEOUT_MS));
    assert_true(st.had_error);
    assert_true(
        g_error_matches(st.err, QIO_ERROR, QIO_ERROR_CONNECTION_REFUSED));
    assert_string_equal(st.err->message, "connect to 127.0.0.1:1 refused");
    state_clear(&st);
}

/* The first error wins; later ones are freed (LSan checks that). */
static void test_first_error_wins(void **state)
{
    TaskState st;
    QIOTask *task;

    state_init(&st);
    task = qio_task_new(NULL, completed, &st, NULL);
    qio_task_set_error(task, NULL);
    assert_false(qio_task_had_error(task));
    qio_task_set_error(
        task, g_error_new_literal(QIO_ERROR, QIO_ERROR_TIMED_OUT, "a"));
    qio_task_set_error(task,
                       g_error_new_literal(QIO_ERROR, QIO_ERROR_PROTOCOL, "b"));
    qio_task_complete(task);
    assert_true(g_error_matches(st.err, QIO_ERROR, QIO_ERROR_TIMED_OUT));
    state_clear(&st);
}

/*
 * Cancelled while the worker runs: the worker notices, still sets a
 * result, and the callback sees QIO_ERROR_CANCELLED; the result is freed
 * exactly once.
 */
static void test_cancel_while_running(void **state)
{
    g_autoptr(GMainContext) ctx = g_main_context_new();
    int before = g_atomic_int_get(&results_freed);
    TaskState st;
    QIOTask *task;

    state_init(&st);
    st.wait_for_release = true;
    st.set_result = true;
    task = qio_task_new(NULL, completed, &st, opaque_destroy);
    qio_task_run_in_thread(task, worker, &st, worker_destroy, ctx);
    qio_task_cancel(task);
    release_worker(&st);
    assert_true(run_until(ctx, &st.done, LOOP_TIMEOUT_MS));
    assert_true(st.saw_cancelled);
    assert_true(st.had_error);
    assert_true(g_error_matches(st.err, QIO_ERROR, QIO_ERROR_CANCELLED));
    assert_int_equal(g_atomic_int_get(&results_freed), before + 1);
    assert_int_equal(st.opaque_destroyed, 1);
    assert_int_equal(g_atomic_int_get(&st.worker_destroyed), 1);
    state_clear(&st);
}

/* A worker error is replaced by the cancellation too. */
static void test_cancel_overrides_error(void **state)
{
    g_autoptr(GMainContext) ctx = g_main_context_new();
    TaskState st;
    QIOTask *task;

    state_init(&st);
    st.wait_for_release = true;
    st.set_error = true;
    task = qio_task_new(NULL, completed, &st, NULL);
    qio_task_run_in_thread(task, worker, &st, NULL, ctx);
    qio_task_cancel(task);
    release_worker(&st);
    assert_true(run_until(ctx, &st.done, LOOP_TIMEOUT_MS));
    assert_true(g_error_matches(st.err, QIO_ERROR, QIO_ERROR_CANCELLED));
    state_clear(&st);
}

/* Cancelled after the worker finished but before the callback ran. */
static void test_cancel_before_callback(void **state)
{
    g_autoptr(GMainContext) ctx = g_main_context_new();
    TaskState st;
    QIOTask *task;

    state_init(&st);
    st.set_result = true;
    task = qio_task_new(NULL, completed, &st, NULL);
    qio_task_run_in_thread(task, worker, &st, NULL, ctx);
    /* Give the worker ample time to finish and queue the completion. */
    g_usleep(50 * 1000);
    qio_task_cancel(task);
    assert_true(run_until(ctx, &st.done, LOOP_TIMEOUT_MS));
    assert_true(g_error_matches(st.err, QIO_ERROR, QIO_ERROR_CANCELLED));
    assert_string_equal(st.result_copy, "forty-two");
    state_clear(&st);
}

static void test_complete_synchronously(void **state)
{
    g_autoptr(GObject) src = g_object_new(G_TYPE_OBJECT, NULL);
    int before = g_atomic_int_get(&results_freed);
    TaskState st;
    QIOTask *task;

    state_init(&st);
    task = qio_task_new(src, completed, &st, opaque_destroy);
    assert_ptr_equal(qio_task_get_source(task), src);
    assert_non_null(qio_task_get_cancellable(task));
    qio_task_set_result_pointer(task, g_strdup("now"), result_free);
    qio_task_complete(task);
    /* Everything happened inside qio_task_complete. */
    assert_int_equal(st.callbacks, 1);
    assert_ptr_equal(st.callback_thread, g_thread_self());
    assert_ptr_equal(st.source, src);
    assert_string_equal(st.result_copy, "now");
    assert_null(st.err);
    assert_int_equal(st.opaque_destroyed, 1);
    assert_int_equal(g_atomic_int_get(&results_freed), before + 1);
    state_clear(&st);
}

static void test_complete_synchronously_cancelled(void **state)
{
    TaskState st;
    QIOTask *task;

    state_init(&st);
    task = qio_task_new(NULL, completed, &st, NULL);
    qio_task_cancel(task);
    assert_true(g_cancellable_is_cancelled(qio_task_get_cancellable(task)));
    qio_task_complete(task);
    assert_true(g_error_matches(st.err, QIO_ERROR, QIO_ERROR_CANCELLED));
    state_clear(&st);
}

/* No callback at all is allowed: the task still cleans up. */
static void test_no_callback(void **state)
{
    g_autoptr(GMainContext) ctx = g_main_context_new();
    int before = g_atomic_int_get(&results_freed);
    TaskState st;
    QIOTask *task;
    bool never = false;

    state_init(&st);
    st.set_result = true;
    task = qio_task_new(NULL, NULL, NULL, NULL);
    qio_task_run_in_thread(task, worker, &st, worker_destroy, ctx);
    /* Nothing observable but the frees; wait for them. */
    for (int i = 0; i < 1000 && g_atomic_int_get(&st.worker_destroyed) == 0;
         i++) {
        run_until(ctx, &never, 10);
    }
    assert_int_equal(g_atomic_int_get(&st.worker_destroyed), 1);
    assert_int_equal(g_atomic_int_get(&results_freed), before + 1);
    state_clear(&st);
}

static void test_source_referenced(void **state)
{
    g_autoptr(GMainContext) ctx = g_main_context_new();
    GObject *src = g_object_new(G_TYPE_OBJECT, NULL);
    gpointer weak = src;
    TaskState st;
    QIOTask *task;

    state_init(&st);
    g_object_add_weak_pointer(src, &weak);
    task = qio_task_new(src, completed, &st, NULL);
    g_object_unref(src);
    assert_non_null(weak);
    qio_task_run_in_thread(task, worker, &st, NULL, ctx);
    assert_true(run_until(ctx, &st.done, LOOP_TIMEOUT_MS));
    assert_ptr_equal(st.source, src);
    /* The task is gone, and with it the last reference. */
    assert_null(weak);
    state_clear(&st);
}

static gboolean busy(gpointer opaque)
{
    (*(int *)opaque)++;
    /*
     * Sleep with the context unlocked (as during any dispatch) so that the
     * worker can attach its completion; what is tested is the priority,
     * not how fair the context lock is.
     */
    g_usleep(200);
    return G_SOURCE_CONTINUE;
}

/*
 * A context kept busy by an always-ready default-priority source must
 * still deliver completions.
 */
static void test_not_starved(void **state)
{
    g_autoptr(GMainContext) ctx = g_main_context_new();
    GSource *spin = g_idle_source_new();
    int spins = 0;
    TaskState st;
    QIOTask *task;

    state_init(&st);
    g_source_set_priority(spin, G_PRIORITY_DEFAULT);
    g_source_set_callback(spin, busy, &spins, NULL);
    g_source_attach(spin, ctx);
    task = qio_task_new(NULL, completed, &st, NULL);
    qio_task_run_in_thread(task, worker, &st, NULL, ctx);
    assert_true(run_until(ctx, &st.done, 5000));
    assert_true(spins > 0);
    g_source_destroy(spin);
    g_source_unref(spin);
    state_clear(&st);
}

#define MANY 200

typedef struct {
    int index;
    int *completed;
    int *wrong;
    int *destroyed;
} ManyJob;

static void many_worker(QIOTask *task, gpointer opaque)
{
    ManyJob *job = opaque;

    qio_task_set_result_pointer(task, GINT_TO_POINTER(job->index + 1), NULL);
    if (job->index % 3 == 0) {
        qio_task_set_error(task, g_error_new(QIO_ERROR, QIO_ERROR_FAILED,
                                             "job %d", job->index));
    }
}

static void many_done(QIOTask *task, gpointer opaque)
{
    ManyJob *job = opaque;
    g_autoptr(GError) err = NULL;
    bool failed = qio_task_propagate_error(task, &err);

    if (GPOINTER_TO_INT(qio_task_get_result_pointer(task)) != job->index + 1 ||
        failed != (job->index % 3 == 0)) {
        (*job->wrong)++;
    }
    (*job->completed)++;
}

static void many_free(gpointer opaque)
{
    ManyJob *job = opaque;

    (*job->destroyed)++;
    g_free(job);
}

static void test_many_parallel(void **state)
{
    g_autoptr(GMainContext) ctx = g_main_context_new();
    int completed_n = 0, wrong = 0, destroyed = 0;
    bool all = false;
    gint64 deadline = g_get_monotonic_time() + 20 * G_TIME_SPAN_SECOND;

    g_main_context_push_thread_default(ctx);
    for (int i = 0; i < MANY; i++) {
        ManyJob *job = g_new0(ManyJob, 1);
        QIOTask *task;

        job->index = i;
        job->completed = &completed_n;
        job->wrong = &wrong;
        job->destroyed = &destroyed;
        task = qio_task_new(NULL, many_done, job, many_free);
        qio_task_run_in_thread(task, many_worker, job, NULL, NULL);
    }
    while (completed_n < MANY && g_get_monotonic_time() < deadline) {
        run_until(ctx, &all, 100);
    }
    g_main_context_pop_thread_default(ctx);
    assert_int_equal(completed_n, MANY);
    assert_int_equal(wrong, 0);
    assert_int_equal(destroyed, MANY);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_completes_on_caller_context),
        cmocka_unit_test(test_completes_on_given_context),
        cmocka_unit_test(test_result_freed_once),
        cmocka_unit_test(test_result_replaced),
        cmocka_unit_test(test_steal_result),
        cmocka_unit_test(test_error),
        cmocka_unit_test(test_first_error_wins),
        cmocka_unit_test(test_cancel_while_running),
        cmocka_unit_test(test_cancel_overrides_error),
        cmocka_unit_test(test_cancel_before_callback),
        cmocka_unit_test(test_complete_synchronously),
        cmocka_unit_test(test_complete_synchronously_cancelled),
        cmocka_unit_test(test_no_callback),
        cmocka_unit_test(test_source_referenced),
        cmocka_unit_test(test_not_starved),
        cmocka_unit_test(test_many_parallel),
    };

    /* A last resort: a hung test kills the program instead of the run. */
    alarm(60);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
