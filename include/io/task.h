/*
 * QIOTask: run blocking work on a worker thread and report completion on
 * the caller's GMainContext.
 *
 * Connecting a socket, resolving a name or running a TLS handshake can
 * block for seconds; the control plane must not.  A caller creates a task
 * with a completion callback, hands it a worker function, and gets the
 * callback later on its own main context with either a result or an error:
 *
 *     QIOTask *task = qio_task_new(G_OBJECT(sioc), connect_done, data, NULL);
 *     qio_task_run_in_thread(task, connect_worker, addr, addr_free, NULL);
 *
 * Inside connect_done, qio_task_propagate_error() says whether it worked.
 * A task is freed after its callback returns.
 */
#pragma once

#include <gio/gio.h>
#include <stdbool.h>

#include "io/error.h"

G_BEGIN_DECLS

typedef struct QIOTask QIOTask;

/* Completion callback, on the task's main context. */
typedef void (*QIOTaskFunc)(QIOTask *task, gpointer opaque);
/* Worker, on its own thread: sets a result or an error on @task. */
typedef void (*QIOTaskWorker)(QIOTask *task, gpointer opaque);

/*
 * @source: the object the work is about (a channel); referenced by the
 * task and available from qio_task_get_source().  May be NULL.
 */
QIOTask *qio_task_new(GObject *source, QIOTaskFunc func, gpointer opaque,
                      GDestroyNotify destroy);

/*
 * Run @worker on a new thread, then invoke the completion callback on
 * @context (NULL: the thread-default context of the caller), from a
 * source at G_PRIORITY_DEFAULT.  @destroy frees @opaque after the
 * callback.  If no thread can be started the callback still runs later on
 * @context, with a QIO_ERROR_FAILED error.
 */
void qio_task_run_in_thread(QIOTask *task, QIOTaskWorker worker,
                            gpointer opaque, GDestroyNotify destroy,
                            GMainContext *context);

/* Invoke the completion callback now, on this thread, and free the task. */
void qio_task_complete(QIOTask *task);

/* Takes ownership of @err. */
void qio_task_set_error(QIOTask *task, GError *err);
bool qio_task_propagate_error(QIOTask *task, GError **errp);
bool qio_task_had_error(QIOTask *task);

void qio_task_set_result_pointer(QIOTask *task, gpointer result,
                                 GDestroyNotify destroy);
gpointer qio_task_get_result_pointer(QIOTask *task);
/* Hand the result to the caller; the task will no longer free it. */
gpointer qio_task_steal_result_pointer(QIOTask *task);

GObject *qio_task_get_source(QIOTask *task);

/*
 * Cancellation.  A task owns a GCancellable; workers should pass it to
 * anything that accepts one and poll g_cancellable_is_cancelled() between
 * steps.  When the task is cancelled before it completes, the completion
 * callback sees a QIO_ERROR_CANCELLED error whatever the worker set (a
 * result pointer stays available and is still freed once).
 *
 * The task is freed right after its callback returns, so call
 * qio_task_cancel() only while it is certainly alive: from the worker, or
 * from the thread that iterates the completion context before the
 * callback has run.  To cancel from elsewhere, keep a reference to the
 * GCancellable instead and call g_cancellable_cancel() on it.
 */
GCancellable *qio_task_get_cancellable(QIOTask *task);
void qio_task_cancel(QIOTask *task);

G_END_DECLS
