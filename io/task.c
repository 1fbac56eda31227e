/*
 * QIOTask: a worker thread for blocking work, with completion marshalled
 * back to the main context that asked for it.
 */
#include "io/task.h"

struct QIOTask {
    GObject *source;
    QIOTaskFunc func;
    gpointer opaque;
    GDestroyNotify destroy;

    QIOTaskWorker worker;
    gpointer worker_opaque;
    GDestroyNotify worker_destroy;
    GMainContext *context;

    GError *err;
    gpointer result;
    GDestroyNotify result_destroy;
    GCancellable *cancellable;
};

QIOTask *qio_task_new(GObject *source, QIOTaskFunc func, gpointer opaque,
                      GDestroyNotify destroy)
{
    QIOTask *task = g_new0(QIOTask, 1);

    task->source = source ? g_object_ref(source) : NULL;
    task->func = func;
    task->opaque = opaque;
    task->destroy = destroy;
    task->cancellable = g_cancellable_new();
    return task;
}

static void qio_task_free(QIOTask *task)
{
    if (task->destroy) {
        task->destroy(task->opaque);
    }
    if (task->worker_destroy) {
        task->worker_destroy(task->worker_opaque);
    }
    if (task->result_destroy) {
        task->result_destroy(task->result);
    }
    if (task->context) {
        g_main_context_unref(task->context);
    }
    if (task->source) {
        g_object_unref(task->source);
    }
    g_clear_error(&task->err);
    g_object_unref(task->cancellable);
    g_free(task);
}

void qio_task_complete(QIOTask *task)
{
    if (g_cancellable_is_cancelled(task->cancellable) &&
        !g_error_matches(task->err, QIO_ERROR, QIO_ERROR_CANCELLED)) {
        g_clear_error(&task->err);
        g_set_error_literal(&task->err, QIO_ERROR, QIO_ERROR_CANCELLED,
                            "operation was cancelled");
    }
    if (task->func) {
        task->func(task, task->opaque);
    }
    qio_task_free(task);
}

static gboolean qio_task_thread_result(gpointer opaque)
{
    qio_task_complete(opaque);
    return G_SOURCE_REMOVE;
}

/*
 * Queue the completion on the task's context.  It runs at the default
 * priority, not the idle one: a context kept busy by ready default-priority
 * sources (a watch on a channel with buffered data, say) would otherwise
 * starve every completion.  Once attached, the task belongs to that
 * context and may be freed at any moment, so the caller must not touch it.
 */
static void qio_task_queue_completion(QIOTask *task)
{
    GSource *idle = g_idle_source_new();

    g_source_set_name(idle, "qio-task-complete");
    g_source_set_priority(idle, G_PRIORITY_DEFAULT);
    g_source_set_callback(idle, qio_task_thread_result, task, NULL);
    g_source_attach(idle, task->context);
    g_source_unref(idle);
}

static gpointer qio_task_thread_worker(gpointer opaque)
{
    QIOTask *task = opaque;

    task->worker(task, task->worker_opaque);
    qio_task_queue_completion(task);
    return NULL;
}

void qio_task_run_in_thread(QIOTask *task, QIOTaskWorker worker,
                            gpointer opaque, GDestroyNotify destroy,
                            GMainContext *context)
{
    g_autoptr(GError) err = NULL;
    GThread *thread;

    task->worker = worker;
    task->worker_opaque = opaque;
    task->worker_destroy = destroy;
    task->context = context ? g_main_context_ref(context)
                            : g_main_context_ref_thread_default();

    thread = g_thread_try_new("qio-task", qio_task_thread_worker, task, &err);
    if (!thread) {
        qio_task_set_error(task, g_error_new(QIO_ERROR, QIO_ERROR_FAILED,
                                             "cannot start worker thread: %s",
                                             err->message));
        /* Still complete asynchronously, as callers expect. */
        qio_task_queue_completion(task);
        return;
    }
    g_thread_unref(thread);
}

void qio_task_set_error(QIOTask *task, GError *err)
{
    if (!err) {
        return;
    }
    if (task->err) {
        g_error_free(err);
        return;
    }
    task->err = err;
}

bool qio_task_propagate_error(QIOTask *task, GError **errp)
{
    if (task->err) {
        g_propagate_error(errp, task->err);
        task->err = NULL;
        return true;
    }
    return false;
}

bool qio_task_had_error(QIOTask *task)
{
    return task->err != NULL;
}

void qio_task_set_result_pointer(QIOTask *task, gpointer result,
                                 GDestroyNotify destroy)
{
    if (task->result_destroy) {
        task->result_destroy(task->result);
    }
    task->result = result;
    task->result_destroy = destroy;
}

gpointer qio_task_get_result_pointer(QIOTask *task)
{
    return task->result;
}

gpointer qio_task_steal_result_pointer(QIOTask *task)
{
    gpointer result = task->result;

    task->result = NULL;
    task->result_destroy = NULL;
    return result;
}

GObject *qio_task_get_source(QIOTask *task)
{
    return task->source;
}

GCancellable *qio_task_get_cancellable(QIOTask *task)
{
    return task->cancellable;
}

void qio_task_cancel(QIOTask *task)
{
    g_cancellable_cancel(task->cancellable);
}
