/*
 * log.c - the line logger declared in log.h.
 *
 * Each line is formatted into a stack buffer (timestamp, level, message,
 * newline) and written with a single write(2), so concurrent threads never
 * interleave within a line and no lock is needed. Messages longer than the
 * buffer are truncated rather than split. The level is read from
 * VITRINE_LOG on first use unless log_set_level was called before.
 */
#include "base/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* Read by every thread that logs and set by the first of them (or by
 * log_set_level): an atomic, since the first may be any thread, and a
 * plain int read while another thread sets it is a data race (TSan saw one
 * between the embedder's batcher thread and main). */
static atomic_int log_level = -1;

static int log_level_from_env(void)
{
    const char *s = getenv("VITRINE_LOG");
    if (!s) return LOG_INFO;
    if (!strcasecmp(s, "debug")) return LOG_DEBUG;
    if (!strcasecmp(s, "warn")) return LOG_WARN;
    if (!strcasecmp(s, "error")) return LOG_ERROR;
    return LOG_INFO;
}

void log_set_level(int level) { atomic_store_explicit(&log_level, level, memory_order_relaxed); }

int log_get_level(void)
{
    int level = atomic_load_explicit(&log_level, memory_order_relaxed);
    if (level >= 0) return level;
    int unset = -1;
    level = log_level_from_env();
    /* A level set meanwhile (log_set_level, another first caller) wins. */
    if (!atomic_compare_exchange_strong_explicit(&log_level, &unset, level, memory_order_relaxed,
                                                 memory_order_relaxed))
        level = unset;
    return level;
}

void log_msg(int level, const char *fmt, ...)
{
    static const char *names[] = { "debug", "info", "warn", "error" };
    if (level < log_get_level()) return;
    char buf[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, names[level & 3]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(buf + n, sizeof buf - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m < 0) m = 0;
    size_t len = (size_t)n + ((size_t)m < sizeof buf - (size_t)n - 1 ? (size_t)m : sizeof buf - (size_t)n - 2);
    buf[len++] = '\n';
    /* One write per line keeps lines from different threads whole. */
    ssize_t w = write(STDERR_FILENO, buf, len);
    (void)w;
}
