/*
 * metrics.c - the Prometheus registry declared in metrics.h.
 *
 * One mutex guards everything: updates come from the loop thread and from
 * worker threads, are a few per request, and take a hash lookup, so a
 * lock-free design (per-thread shards summed at render time) would buy
 * nothing measurable. Series live in a fixed open hash table keyed by
 * "name\x01labels"; each also sits on its family's list so rendering groups
 * a family's series under one HELP/TYPE header, in creation order.
 */
#include "server/metrics.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"

const double metrics_latency_buckets[METRICS_N_BUCKETS] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
    0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};

#define METRICS_HASH_SIZE 8192 /* power of two, > 2 * METRICS_MAX_SERIES */

typedef struct Family Family;
typedef struct Series Series;

struct Family {
    char *name;
    char *help;
    MetricsType type;
    Series *first, *last;
    Family *next;
};

struct Series {
    char *key; /* "name\x01labels" */
    const char *labels; /* points into key */
    Family *family;
    double value; /* counter or gauge */
    double sum;   /* histogram */
    uint64_t count;
    uint64_t buckets[METRICS_N_BUCKETS]; /* non-cumulative counts */
    Series *next_in_family;
    Series *hash_next;
};

static pthread_mutex_t metrics_lock = PTHREAD_MUTEX_INITIALIZER;
static Series *metrics_table[METRICS_HASH_SIZE];
static Family *metrics_families, *metrics_families_last;
static size_t metrics_n_series;
static int metrics_overflow_logged;

static uint64_t hash_key(const char *name, const char *labels)
{
    uint64_t h = 1469598103934665603ull;
    for (const char *c = name; *c; c++) h = (h ^ (unsigned char)*c) * 1099511628211ull;
    h = (h ^ 1u) * 1099511628211ull;
    for (const char *c = labels; *c; c++) h = (h ^ (unsigned char)*c) * 1099511628211ull;
    return h;
}

/* family_get finds or creates a family; called with the lock held. */
static Family *family_get(const char *name, MetricsType type)
{
    for (Family *f = metrics_families; f; f = f->next)
        if (!strcmp(f->name, name)) return f;
    Family *f = xcalloc(1, sizeof *f);
    f->name = xstrdup(name);
    f->type = type;
    if (metrics_families_last)
        metrics_families_last->next = f;
    else
        metrics_families = f;
    metrics_families_last = f;
    return f;
}

/* series_get finds or creates a series; NULL when the registry is full or
 * the name or labels are too long. Called with the lock held. */
static Series *series_get(const char *name, const char *labels, MetricsType type, int create)
{
    if (!labels) labels = "";
    size_t nlen = strlen(name), llen = strlen(labels);
    uint64_t h = hash_key(name, labels) & (METRICS_HASH_SIZE - 1);
    for (Series *s = metrics_table[h]; s; s = s->hash_next)
        if (!strncmp(s->key, name, nlen) && s->key[nlen] == '\x01' && !strcmp(s->labels, labels))
            return s;
    if (!create) return NULL;
    if (nlen > METRICS_MAX_NAME || llen > METRICS_MAX_LABELS || metrics_n_series >= METRICS_MAX_SERIES) {
        if (!metrics_overflow_logged) {
            log_warn("metrics: dropping series %s{%s}: registry full or name too long", name, labels);
            metrics_overflow_logged = 1;
        }
        return NULL;
    }
    Series *s = xcalloc(1, sizeof *s);
    s->key = xmalloc(nlen + llen + 2);
    memcpy(s->key, name, nlen);
    s->key[nlen] = '\x01';
    memcpy(s->key + nlen + 1, labels, llen + 1);
    s->labels = s->key + nlen + 1;
    s->family = family_get(name, type);
    if (s->family->last)
        s->family->last->next_in_family = s;
    else
        s->family->first = s;
    s->family->last = s;
    s->hash_next = metrics_table[h];
    metrics_table[h] = s;
    metrics_n_series++;
    return s;
}

void metrics_describe(const char *name, MetricsType type, const char *help)
{
    pthread_mutex_lock(&metrics_lock);
    Family *f = family_get(name, type);
    f->type = type;
    free(f->help);
    f->help = help ? xstrdup(help) : NULL;
    pthread_mutex_unlock(&metrics_lock);
}

void metrics_counter_add(const char *name, const char *labels, double delta)
{
    pthread_mutex_lock(&metrics_lock);
    Series *s = series_get(name, labels, METRICS_COUNTER, 1);
    if (s) s->value += delta;
    pthread_mutex_unlock(&metrics_lock);
}

void metrics_gauge_set(const char *name, const char *labels, double value)
{
    pthread_mutex_lock(&metrics_lock);
    Series *s = series_get(name, labels, METRICS_GAUGE, 1);
    if (s) s->value = value;
    pthread_mutex_unlock(&metrics_lock);
}

void metrics_gauge_add(const char *name, const char *labels, double delta)
{
    pthread_mutex_lock(&metrics_lock);
    Series *s = series_get(name, labels, METRICS_GAUGE, 1);
    if (s) s->value += delta;
    pthread_mutex_unlock(&metrics_lock);
}

void metrics_histogram_observe(const char *name, const char *labels, double value)
{
    pthread_mutex_lock(&metrics_lock);
    Series *s = series_get(name, labels, METRICS_HISTOGRAM, 1);
    if (s) {
        int b = 0;
        while (b < METRICS_N_BUCKETS && value > metrics_latency_buckets[b]) b++;
        if (b < METRICS_N_BUCKETS) s->buckets[b]++;
        s->sum += value;
        s->count++;
    }
    pthread_mutex_unlock(&metrics_lock);
}

double metrics_get(const char *name, const char *labels)
{
    pthread_mutex_lock(&metrics_lock);
    Series *s = series_get(name, labels, METRICS_COUNTER, 0);
    double v = !s ? 0 : s->family->type == METRICS_HISTOGRAM ? (double)s->count : s->value;
    pthread_mutex_unlock(&metrics_lock);
    return v;
}

/* Per route and status: what Qdrant's telemetry reports of each endpoint. */
static MetricsRequestStats metrics_requests[METRICS_MAX_REQUEST_STATS];
static size_t metrics_n_requests;

static void request_stats_add(const char *method, const char *route, int status, double seconds)
{
    char key[sizeof metrics_requests[0].endpoint];
    snprintf(key, sizeof key, "%s %s", method, route);
    MetricsRequestStats *s = NULL;
    for (size_t i = 0; i < metrics_n_requests && !s; i++)
        if (metrics_requests[i].status == status && !strcmp(metrics_requests[i].endpoint, key))
            s = &metrics_requests[i];
    if (!s) {
        if (metrics_n_requests == METRICS_MAX_REQUEST_STATS) return;
        s = &metrics_requests[metrics_n_requests++];
        memset(s, 0, sizeof *s);
        snprintf(s->endpoint, sizeof s->endpoint, "%s", key);
        s->status = status;
        s->min_seconds = seconds;
    }
    s->count++;
    s->total_seconds += seconds;
    if (seconds < s->min_seconds) s->min_seconds = seconds;
    if (seconds > s->max_seconds) s->max_seconds = seconds;
    s->last_unix = (double)time(NULL);
}

/* Qdrant's request counter. Its per-collection series (a collection label
 * last) live in the same family: a render shows either those or the
 * others (render). */
#define REST_RESPONSES "rest_responses_total"
#define COLLECTION_LABEL ",collection=\""

/* label_safe: a collection name goes into a label as is only when it needs
 * no escaping (Qdrant's names are letters, digits, '-', '_', '.'); others
 * are not counted per collection rather than written half-escaped. */
static int label_safe(const char *s)
{
    for (; *s; s++)
        if (*s == '"' || *s == '\\' || *s == '\n') return 0;
    return 1;
}

void metrics_observe_request(const char *method, const char *route, const char *collection, int status,
                             double seconds)
{
    char labels[METRICS_MAX_LABELS];
    if (!route) route = "unmatched";
    snprintf(labels, sizeof labels, "method=\"%s\",route=\"%s\",status=\"%d\"", method, route, status);
    metrics_counter_add("vitrine_http_requests_total", labels, 1);
    /* The same count under the name and labels of Qdrant's exporter,
     * which dashboards and Qdrant's own tests read. */
    snprintf(labels, sizeof labels, "method=\"%s\",endpoint=\"%s\",status=\"%d\"", method, route,
             status);
    metrics_counter_add(REST_RESPONSES, labels, 1);
    /* 404s are left out: a client naming random collections must not
     * fill the series table. The per-collection series also stop at half
     * the table, so they never crowd out the server's own metrics. */
    if (collection && *collection && status != 404 && label_safe(collection) &&
        strlen(labels) + strlen(collection) + 16 < sizeof labels) {
        size_t n = strlen(labels);
        snprintf(labels + n, sizeof labels - n, COLLECTION_LABEL "%s\"", collection);
        pthread_mutex_lock(&metrics_lock);
        Series *s = series_get(REST_RESPONSES, labels, METRICS_COUNTER,
                               metrics_n_series < METRICS_MAX_SERIES / 2);
        if (s) s->value += 1;
        pthread_mutex_unlock(&metrics_lock);
    }
    snprintf(labels, sizeof labels, "route=\"%s\"", route);
    metrics_histogram_observe("vitrine_http_request_duration_seconds", labels, seconds);
    if (strcmp(route, "unmatched")) {
        pthread_mutex_lock(&metrics_lock);
        request_stats_add(method, route, status, seconds);
        pthread_mutex_unlock(&metrics_lock);
    }
}

void metrics_requests_foreach(MetricsRequestFn fn, void *ctx)
{
    pthread_mutex_lock(&metrics_lock);
    size_t n = metrics_n_requests;
    MetricsRequestStats *copy = malloc((n ? n : 1) * sizeof *copy);
    if (copy) memcpy(copy, metrics_requests, n * sizeof *copy);
    pthread_mutex_unlock(&metrics_lock);
    for (size_t i = 0; copy && i < n; i++) fn(ctx, &copy[i]);
    free(copy);
}

/* Collectors: set gauges from their owners' state just before a render. */
static struct {
    MetricsCollectFn fn;
    void *ctx;
} metrics_collectors[METRICS_MAX_COLLECTORS];
static size_t metrics_n_collectors;

void metrics_add_collector(MetricsCollectFn fn, void *ctx)
{
    pthread_mutex_lock(&metrics_lock);
    if (metrics_n_collectors < METRICS_MAX_COLLECTORS) {
        metrics_collectors[metrics_n_collectors].fn = fn;
        metrics_collectors[metrics_n_collectors++].ctx = ctx;
    }
    pthread_mutex_unlock(&metrics_lock);
}

void metrics_remove_collector(MetricsCollectFn fn, void *ctx)
{
    pthread_mutex_lock(&metrics_lock);
    for (size_t i = 0; i < metrics_n_collectors; i++)
        if (metrics_collectors[i].fn == fn && metrics_collectors[i].ctx == ctx) {
            metrics_collectors[i] = metrics_collectors[--metrics_n_collectors];
            break;
        }
    pthread_mutex_unlock(&metrics_lock);
}

static void run_collectors(void)
{
    pthread_mutex_lock(&metrics_lock);
    size_t n = metrics_n_collectors;
    MetricsCollectFn fns[METRICS_MAX_COLLECTORS];
    void *ctxs[METRICS_MAX_COLLECTORS];
    for (size_t i = 0; i < n; i++) {
        fns[i] = metrics_collectors[i].fn;
        ctxs[i] = metrics_collectors[i].ctx;
    }
    pthread_mutex_unlock(&metrics_lock);
    /* Outside the lock: collectors set gauges, which take it. */
    for (size_t i = 0; i < n; i++) fns[i](ctxs[i]);
}

static const char *type_name(MetricsType t)
{
    return t == METRICS_COUNTER ? "counter" : t == METRICS_GAUGE ? "gauge" : "histogram";
}

/* render_le writes `{labels,le="x"}` for a bucket line. */
static void render_le(Buf *out, const char *labels, const char *le)
{
    buf_printf(out, "{%s%sle=\"%s\"}", labels, *labels ? "," : "", le);
}

/* render writes every family; of Qdrant's request counts, only the
 * per-collection series when per_collection, only the others otherwise. */
static void render(Buf *out, int per_collection)
{
    run_collectors();
    pthread_mutex_lock(&metrics_lock);
    for (Family *f = metrics_families; f; f = f->next) {
        if (!f->first) continue;
        const char *name = f->name;
        int rest = !strcmp(name, REST_RESPONSES);
        if (f->help) buf_printf(out, "# HELP %s %s\n", name, f->help);
        buf_printf(out, "# TYPE %s %s\n", name, type_name(f->type));
        for (Series *s = f->first; s; s = s->next_in_family) {
            if (rest && (strstr(s->labels, COLLECTION_LABEL) != NULL) != per_collection) continue;
            if (f->type != METRICS_HISTOGRAM) {
                buf_printf(out, "%s%s%s%s %.17g\n", name, *s->labels ? "{" : "", s->labels,
                           *s->labels ? "}" : "", s->value);
                continue;
            }
            uint64_t cum = 0;
            for (int b = 0; b < METRICS_N_BUCKETS; b++) {
                char le[32];
                snprintf(le, sizeof le, "%g", metrics_latency_buckets[b]);
                cum += s->buckets[b];
                buf_printf(out, "%s_bucket", name);
                render_le(out, s->labels, le);
                buf_printf(out, " %llu\n", (unsigned long long)cum);
            }
            buf_printf(out, "%s_bucket", name);
            render_le(out, s->labels, "+Inf");
            buf_printf(out, " %llu\n", (unsigned long long)s->count);
            buf_printf(out, "%s_sum%s%s%s %.17g\n", name, *s->labels ? "{" : "", s->labels,
                       *s->labels ? "}" : "", s->sum);
            buf_printf(out, "%s_count%s%s%s %llu\n", name, *s->labels ? "{" : "", s->labels,
                       *s->labels ? "}" : "", (unsigned long long)s->count);
        }
    }
    pthread_mutex_unlock(&metrics_lock);
}

void metrics_render(Buf *out) { render(out, 0); }

void metrics_render_per_collection(Buf *out) { render(out, 1); }

void metrics_reset(void)
{
    pthread_mutex_lock(&metrics_lock);
    metrics_n_requests = 0;
    metrics_n_collectors = 0;
    for (size_t h = 0; h < METRICS_HASH_SIZE; h++) {
        Series *s = metrics_table[h];
        while (s) {
            Series *next = s->hash_next;
            free(s->key);
            free(s);
            s = next;
        }
        metrics_table[h] = NULL;
    }
    Family *f = metrics_families;
    while (f) {
        Family *next = f->next;
        free(f->name);
        free(f->help);
        free(f);
        f = next;
    }
    metrics_families = metrics_families_last = NULL;
    metrics_n_series = 0;
    metrics_overflow_logged = 0;
    pthread_mutex_unlock(&metrics_lock);
}
