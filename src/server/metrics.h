/*
 * metrics.h - process-wide Prometheus metrics (text exposition format 0.0.4).
 *
 * A metric family is a name with a type (counter, gauge, histogram) and a
 * help line; a series is one label set of a family. Any module on any
 * thread updates series by name and label text, and GET /metrics renders
 * them all. Families are created on first use; metrics_describe gives one a
 * help line (optional, call it at start-up). Labels are passed as the text
 * between the braces, already escaped: `route="/healthz",status="200"`, or
 * NULL / "" for none. Names and labels are copied.
 *
 * Example for a later module:
 *     metrics_describe("vitrine_embed_images_total", METRICS_COUNTER, "Images embedded.");
 *     metrics_counter_add("vitrine_embed_images_total", NULL, n);
 *
 * Cost: one mutex and a hash lookup per update (well under a microsecond);
 * hot loops should add their totals once per batch, not per item.
 */
#ifndef VITRINE_METRICS_H
#define VITRINE_METRICS_H

#include <stdint.h>

#include "base/util.h"

typedef enum { METRICS_COUNTER = 0, METRICS_GAUGE, METRICS_HISTOGRAM } MetricsType;

/* Bounds on what the registry holds; updates beyond them are dropped
 * (and logged once), so a label explosion cannot exhaust memory. */
#define METRICS_MAX_SERIES 4096
#define METRICS_MAX_NAME 128
#define METRICS_MAX_LABELS 512

/* Histogram buckets in seconds (upper bounds; +Inf is implicit). */
#define METRICS_N_BUCKETS 14
extern const double metrics_latency_buckets[METRICS_N_BUCKETS];

void metrics_describe(const char *name, MetricsType type, const char *help);
void metrics_counter_add(const char *name, const char *labels, double delta);
void metrics_gauge_set(const char *name, const char *labels, double value);
void metrics_gauge_add(const char *name, const char *labels, double delta);
void metrics_histogram_observe(const char *name, const char *labels, double value);

/* metrics_get returns a counter or gauge value (or a histogram's count); 0 if absent. */
double metrics_get(const char *name, const char *labels);

/*
 * metrics_observe_request records one HTTP request: the counter
 * vitrine_http_requests_total{method,route,status} and the histogram
 * vitrine_http_request_duration_seconds{route}. route is a pattern
 * ("/collections/{name}"), never a raw path, so series stay bounded.
 * collection (NULL when the route names none) also counts the request in
 * Qdrant's per-collection series, which only metrics_render_per_collection
 * shows (one series per collection, endpoint and status: bounded by the
 * collections; 404s are not counted, and these series take at most half
 * of the series table).
 */
void metrics_observe_request(const char *method, const char *route, const char *collection, int status,
                             double seconds);

/*
 * Per endpoint ("PUT /collections/{collection_name}/points") and status,
 * the statistics Qdrant's telemetry reports: count, durations, last time.
 * metrics_requests_foreach calls fn for each, on a copy taken under the
 * lock (fn may take it again).
 */
#define METRICS_MAX_REQUEST_STATS 512
typedef struct {
    char endpoint[160];
    int status;
    uint64_t count;
    double total_seconds, min_seconds, max_seconds;
    double last_unix; /* when the last one was answered */
} MetricsRequestStats;
typedef void (*MetricsRequestFn)(void *ctx, const MetricsRequestStats *s);
void metrics_requests_foreach(MetricsRequestFn fn, void *ctx);

/*
 * Collectors set gauges from the state of their owner (collections and
 * their sizes) just before each render; a module adds one at start and
 * removes it at stop. They run on the rendering thread.
 */
#define METRICS_MAX_COLLECTORS 8
typedef void (*MetricsCollectFn)(void *ctx);
void metrics_add_collector(MetricsCollectFn fn, void *ctx);
void metrics_remove_collector(MetricsCollectFn fn, void *ctx);

/* metrics_render appends every family in the text format to out. */
void metrics_render(Buf *out);
/* metrics_render_per_collection is metrics_render for Qdrant's
 * /metrics?per_collection=true: the rest_responses_total series carry a
 * collection label, and requests that named no collection are left out. */
void metrics_render_per_collection(Buf *out);

/* metrics_reset forgets every family and series (tests; process exit). */
void metrics_reset(void);

#endif
