/*
 * Rate limiting for repeated log lines: a fixed window of @burst lines per
 * interval, and a count of what was held back, reported with the next line
 * that gets through.
 */
#include "util/ratelimit.h"

#include <stdarg.h>
#include <string.h>

static gint64 default_clock(gpointer opaque)
{
    return g_get_monotonic_time();
}

void qutil_ratelimit_init(QUtilRateLimit *rl, guint burst, guint interval_ms)
{
    memset(rl, 0, sizeof(*rl));
    g_mutex_init(&rl->lock);
    rl->burst = MAX(burst, 1);
    rl->interval_us = (gint64)interval_ms * G_TIME_SPAN_MILLISECOND;
    rl->clock = default_clock;
}

void qutil_ratelimit_destroy(QUtilRateLimit *rl)
{
    g_mutex_clear(&rl->lock);
}

void qutil_ratelimit_set_clock(QUtilRateLimit *rl, QUtilRateLimitClock clock,
                               gpointer opaque)
{
    g_mutex_lock(&rl->lock);
    rl->clock = clock ? clock : default_clock;
    rl->clock_opaque = opaque;
    g_mutex_unlock(&rl->lock);
}

bool qutil_ratelimit_check(QUtilRateLimit *rl, guint *suppressed)
{
    bool allow;
    gint64 now;

    g_mutex_lock(&rl->lock);
    now = rl->clock(rl->clock_opaque);
    if (!rl->started || now - rl->window_start >= rl->interval_us ||
        now < rl->window_start) {
        rl->started = true;
        rl->window_start = now;
        rl->in_window = 0;
    }
    allow = rl->in_window < rl->burst;
    if (allow) {
        rl->in_window++;
        if (suppressed) {
            *suppressed = rl->suppressed;
        }
        rl->suppressed = 0;
    } else if (rl->suppressed < G_MAXUINT) {
        rl->suppressed++;
    }
    g_mutex_unlock(&rl->lock);
    return allow;
}

bool qutil_ratelimit_log_full(QUtilRateLimit *rl, const char *domain,
                              GLogLevelFlags level, const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    guint suppressed = 0;
    va_list ap;

    if (!qutil_ratelimit_check(rl, &suppressed)) {
        return false;
    }
    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    if (suppressed) {
        g_log(domain, level, "%s (%u similar message%s suppressed)", msg,
              suppressed, suppressed == 1 ? "" : "s");
    } else {
        g_log(domain, level, "%s", msg);
    }
    return true;
}
