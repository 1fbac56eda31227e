/*
 * QIOConnService internals that tests reach into: the function that
 * creates handler threads, so that a test can make it fail as a pids
 * cgroup or ulimit -u would (root ignores RLIMIT_NPROC).
 */
#pragma once

#include "io/conn-service.h"

G_BEGIN_DECLS

/* As g_thread_try_new(). */
typedef GThread *(*QIOConnThreadNewFunc)(const char *name, GThreadFunc func,
                                         gpointer data, GError **errp);

/* Replace the thread factory; NULL restores g_thread_try_new(). */
void qio_conn_service_set_thread_new_func(QIOConnService *service,
                                          QIOConnThreadNewFunc func);

G_END_DECLS
