/*
 * Rate limiting for repeated log lines.
 *
 * A warning that a peer can trigger at will ("cannot accept: Too many open
 * files" while an attacker holds every descriptor, "TLS handshake failed"
 * for every connection of a scan) must not fill the disk.  A QUtilRateLimit
 * lets @burst lines through per @interval and counts the rest; the next
 * line that gets through says how many were held back:
 *
 *     static QUtilRateLimit accept_rl;
 *
 *     qutil_ratelimit_init(&accept_rl, 3, 60 * 1000);
 *     ...
 *     qutil_ratelimit_log(&accept_rl, G_LOG_LEVEL_WARNING,
 *                         "%s: %s", name, err->message);
 *
 * prints, during a flood, three lines a minute, the first of each minute
 * ending in " (N similar messages suppressed)".  A count still held when
 * the flood stops is printed with the next line, whenever that comes.
 *
 * Thread-safe: one limiter may be shared by every thread that reports the
 * same kind of event.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

G_BEGIN_DECLS

/* The time source, in microseconds; tests inject a fake one. */
typedef gint64 (*QUtilRateLimitClock)(gpointer opaque);

typedef struct QUtilRateLimit {
    /*< private >*/
    GMutex lock;
    guint burst;
    gint64 interval_us;
    gint64 window_start;
    guint in_window;
    guint suppressed;
    bool started;
    QUtilRateLimitClock clock;
    gpointer clock_opaque;
} QUtilRateLimit;

/*
 * Let at most @burst lines (at least 1) through in every @interval_ms
 * milliseconds, counted from the first line of a window.
 */
void qutil_ratelimit_init(QUtilRateLimit *rl, guint burst, guint interval_ms);
void qutil_ratelimit_destroy(QUtilRateLimit *rl);

/* Use @clock instead of g_get_monotonic_time() (for tests). */
void qutil_ratelimit_set_clock(QUtilRateLimit *rl, QUtilRateLimitClock clock,
                               gpointer opaque);

/*
 * One occurrence of the event.  True if it should be printed now; then
 * *@suppressed (when not NULL) is the number of occurrences held back
 * since the last one printed, and the count starts again from zero.
 * False: the occurrence was counted and should not be printed.
 */
bool qutil_ratelimit_check(QUtilRateLimit *rl, guint *suppressed);

/*
 * qutil_ratelimit_check(), then g_log() the message in @domain at @level
 * if allowed, with " (N similar messages suppressed)" appended when N > 0.
 * Returns whether the line was printed.
 */
bool qutil_ratelimit_log_full(QUtilRateLimit *rl, const char *domain,
                              GLogLevelFlags level, const char *fmt, ...)
    G_GNUC_PRINTF(4, 5);

/* As above, in the caller's G_LOG_DOMAIN. */
#define qutil_ratelimit_log(rl, level, ...)                                    \
    qutil_ratelimit_log_full((rl), G_LOG_DOMAIN, (level), __VA_ARGS__)

G_END_DECLS
