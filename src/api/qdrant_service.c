/*
 * qdrant_service.c - Qdrant's service routes: GET / (the version clients
 * check) and GET /telemetry. The probes (/healthz, /livez, /readyz) and
 * /metrics are the server's own built-in routes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/qdrant_internal.h"
#include "api/ui.h"
#include "base/util.h"
#include "server/metrics.h"

/* The source commit, 40 hex digits as Qdrant reports its own; the Makefile
 * passes git's, and a build outside a git checkout has none. */
#ifndef VITRINE_COMMIT
#define VITRINE_COMMIT "0000000000000000000000000000000000000000"
#endif

/* GET / answers VersionInfo without the envelope, as Qdrant does, with
 * Qdrant's title: the official clients compare "version" with their own
 * and warn on a mismatch, and Qdrant's own API tests check every field.
 * A browser (Accept: text/html) is sent to the web page instead; API
 * clients do not ask for HTML and get the JSON as before. */
static void root(ApiJob *j)
{
    if (ui_redirect_browser(j->req)) {
        j->answered = 1;
        return;
    }
    Buf b;
    buf_init(&b);
    JsonWriter w;
    jw_init(&w, &b);
    jw_object_begin(&w);
    jw_key(&w, "title");
    jw_string(&w, "qdrant - vector search engine");
    jw_key(&w, "version");
    jw_string(&w, QDRANT_API_VERSION);
    jw_key(&w, "commit");
    jw_string(&w, VITRINE_COMMIT);
    jw_object_end(&w);
    http_respond_buf(j->req, 200, "application/json", &b);
    j->answered = 1;
}

/* process_rss_bytes reads the resident set size (Linux /proc). */
static uint64_t process_rss_bytes(void)
{
    char *text;
    size_t len;
    uint64_t rss = 0;
    if (file_read_all("/proc/self/statm", 4096, &text, &len) == 0) {
        unsigned long long pages_total, pages_res;
        if (sscanf(text, "%llu %llu", &pages_total, &pages_res) == 2)
            rss = (uint64_t)pages_res * (uint64_t)sysconf(_SC_PAGESIZE);
        free(text);
    }
    return rss;
}

/* The request statistics grouped by endpoint, as Qdrant's WebApiTelemetry:
 * {"PUT /collections/{collection_name}/points": {"200": {count, ...}}}. */
typedef struct {
    MetricsRequestStats *s;
    size_t n, cap;
} StatsList;

static void take_stats(void *ctx, const MetricsRequestStats *s)
{
    StatsList *l = ctx;
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->s = xrealloc(l->s, l->cap * sizeof *l->s);
    }
    l->s[l->n++] = *s;
}

static void write_responses(JsonWriter *w)
{
    StatsList l = { 0 };
    metrics_requests_foreach(take_stats, &l);
    jw_object_begin(w);
    for (size_t i = 0; i < l.n; i++) {
        int first = 1;
        for (size_t k = 0; k < i && first; k++) first = strcmp(l.s[k].endpoint, l.s[i].endpoint) != 0;
        if (!first) continue;
        jw_key(w, l.s[i].endpoint);
        jw_object_begin(w);
        for (size_t k = i; k < l.n; k++) {
            const MetricsRequestStats *s = &l.s[k];
            if (strcmp(s->endpoint, l.s[i].endpoint)) continue;
            char status[16];
            snprintf(status, sizeof status, "%d", s->status);
            jw_key(w, status);
            jw_object_begin(w);
            jw_key(w, "count");
            jw_uint(w, s->count);
            jw_key(w, "avg_duration_micros");
            jw_double(w, s->total_seconds / (double)s->count * 1e6);
            jw_key(w, "min_duration_micros");
            jw_double(w, s->min_seconds * 1e6);
            jw_key(w, "max_duration_micros");
            jw_double(w, s->max_seconds * 1e6);
            jw_key(w, "total_duration_micros");
            jw_uint(w, (uint64_t)(s->total_seconds * 1e6));
            jw_key(w, "last_responded");
            char ts[40];
            time_t t = (time_t)s->last_unix;
            struct tm tm;
            gmtime_r(&t, &tm);
            strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
            jw_string(w, ts);
            jw_object_end(w);
        }
        jw_object_end(w);
    }
    jw_object_end(w);
    free(l.s);
}

/* GET /telemetry: the parts of Qdrant's TelemetryData that mean something
 * here (identity, uptime, collections, request statistics). */
static void telemetry(ApiJob *j)
{
    Arena *a = api_arena(j);
    char **names;
    size_t n = 0;
    if (collection_list(j->api->db, a, &names, &n)) n = 0;
    JsonWriter *w = api_result(j);
    jw_object_begin(w);
    jw_key(w, "id");
    jw_string(w, "vitrine");
    jw_key(w, "app");
    jw_object_begin(w);
    jw_key(w, "name");
    jw_string(w, "qdrant");
    jw_key(w, "version");
    jw_string(w, QDRANT_API_VERSION);
    /* The runtime features Qdrant's clients and tests look up; none of
     * them is on here. */
    jw_key(w, "features");
    jw_object_begin(w);
    static const char *const features[] = { "debug", "service_debug_feature", "recovery_mode",
                                            "gpu", "rocksdb", "staging" };
    for (size_t i = 0; i < sizeof features / sizeof *features; i++) {
        jw_key(w, features[i]);
        jw_bool(w, 0);
    }
    jw_object_end(w);
    jw_key(w, "startup");
    /* Startup time as RFC 3339, which the schema's date-time asks for. */
    char ts[64];
    time_t t = (time_t)j->api->started_unix;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    jw_string(w, ts);
    jw_object_end(w);
    /* details_level (Qdrant's): 0 the summary; 1 and more the memory,
     * hardware and each collection (shard and segment details of levels 3
     * and 4 have no counterpart here and are left out). */
    const char *dl = http_query_get(j->req, "details_level");
    long level = 0;
    if (dl && parse_int(dl, 0, 1000, &level))
        return (void)api_fail(j, QERR_QUERY, "invalid digit found in string");
    jw_key(w, "collections");
    jw_object_begin(w);
    jw_key(w, "number_of_collections");
    jw_uint(w, n);
    if (level >= 1) {
        jw_key(w, "collections");
        jw_array_begin(w);
        for (size_t i = 0; i < n; i++) qdrant_write_collection_telemetry(j, w, names[i], (int)level);
        jw_array_end(w);
        jw_key(w, "snapshots");
        jw_array_begin(w);
        jw_array_end(w);
    }
    jw_object_end(w);
    if (level >= 1) {
        jw_key(w, "memory");
        jw_object_begin(w);
        static const char *const mem[] = { "active_bytes", "allocated_bytes", "metadata_bytes",
                                           "resident_bytes", "retained_bytes" };
        uint64_t rss = process_rss_bytes();
        for (size_t i = 0; i < sizeof mem / sizeof *mem; i++) {
            jw_key(w, mem[i]);
            jw_uint(w, i == 2 ? 0 : rss);
        }
        jw_object_end(w);
        jw_key(w, "hardware");
        jw_object_begin(w);
        jw_key(w, "collection_data");
        jw_object_begin(w);
        jw_object_end(w);
        jw_object_end(w);
    }
    jw_key(w, "cluster");
    jw_object_begin(w);
    jw_key(w, "enabled");
    jw_bool(w, 0);
    jw_object_end(w);
    jw_key(w, "requests");
    jw_object_begin(w);
    jw_key(w, "rest");
    jw_object_begin(w);
    jw_key(w, "responses");
    write_responses(w);
    jw_object_end(w);
    jw_key(w, "grpc");
    jw_object_begin(w);
    jw_key(w, "responses");
    jw_object_begin(w);
    jw_object_end(w);
    jw_object_end(w);
    jw_object_end(w);
    jw_object_end(w);
}

/* GET /cluster: vitrine is one node, which Qdrant reports as a disabled
 * cluster. */
static void cluster(ApiJob *j)
{
    JsonWriter *w = api_result(j);
    jw_object_begin(w);
    jw_key(w, "status");
    jw_string(w, "disabled");
    jw_object_end(w);
}

/* GET /collections/{name}/cluster: one local shard holding every point. */
static void collection_cluster(ApiJob *j)
{
    CollectionInfo ci;
    int rc = collection_info(j->api->db, j->collection, &ci);
    if (rc) return (void)api_fail_collection(j, rc, NULL);
    JsonWriter *w = api_result(j);
    jw_object_begin(w);
    jw_key(w, "peer_id");
    jw_uint(w, 0);
    jw_key(w, "shard_count");
    jw_uint(w, 1);
    jw_key(w, "local_shards");
    jw_array_begin(w);
    jw_object_begin(w);
    jw_key(w, "shard_id");
    jw_uint(w, 0);
    jw_key(w, "points_count");
    jw_uint(w, ci.points_count);
    jw_key(w, "state");
    jw_string(w, "Active");
    jw_object_end(w);
    jw_array_end(w);
    jw_key(w, "remote_shards");
    jw_array_begin(w);
    jw_array_end(w);
    jw_key(w, "shard_transfers");
    jw_array_begin(w);
    jw_array_end(w);
    jw_object_end(w);
}

/* GET /issues: Qdrant's performance hints; vitrine reports none. */
static void issues(ApiJob *j)
{
    JsonWriter *w = api_result(j);
    jw_object_begin(w);
    jw_key(w, "issues");
    jw_array_begin(w);
    jw_array_end(w);
    jw_object_end(w);
}

static void issues_clear(ApiJob *j) { api_result_true(j); }

/*
 * GET /collections/{c}/optimizations (Qdrant 1.17's optimization report).
 * A vitrine collection is one segment whose graph is built as points are
 * written: nothing is ever queued, and the segment is idle, except while
 * a PATCH's new HNSW parameters are applied in the background (the
 * engine's rebuild, Qdrant's "config mismatch" optimizer): that one is
 * running, with its progress as Qdrant's tree (the graph's nodes
 * inserted, under "main_graph", Qdrant's name for the build).
 * ?with= takes Qdrant's comma-separated names (spaces around them
 * allowed); completed_limit is read and checked as Qdrant does, and there
 * are no completed optimizations to limit.
 */
static void write_running(JsonWriter *w, const CollectionInfo *ci, const char *name,
                          const char *segment_uuid)
{
    char uuid[QDRANT_UUID_LEN + 1], ts[40];
    /* One name per rebuild: the segment's, salted with its start. */
    qdrant_segment_uuid(name, ci->id ^ (uint32_t)ci->optimize_started_ms ^ 0x80000000u, uuid);
    time_t t = (time_t)(ci->optimize_started_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t n = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + n, sizeof ts - n, ".%03dZ", (int)(ci->optimize_started_ms % 1000));
    jw_object_begin(w);
    jw_key(w, "uuid");
    jw_string(w, uuid);
    jw_key(w, "optimizer");
    jw_string(w, "config mismatch");
    jw_key(w, "status");
    jw_string(w, "optimizing");
    jw_key(w, "segments");
    jw_array_begin(w);
    jw_object_begin(w);
    jw_key(w, "uuid");
    jw_string(w, segment_uuid);
    jw_key(w, "points_count");
    jw_uint(w, ci->points_count);
    jw_object_end(w);
    jw_array_end(w);
    jw_key(w, "progress");
    jw_object_begin(w);
    jw_key(w, "name");
    jw_string(w, "Segment Optimizing");
    jw_key(w, "started_at");
    jw_string(w, ts);
    jw_key(w, "children");
    jw_array_begin(w);
    jw_object_begin(w);
    jw_key(w, "name");
    jw_string(w, "main_graph");
    jw_key(w, "started_at");
    jw_string(w, ts);
    jw_key(w, "done");
    jw_uint(w, ci->optimize_done);
    jw_key(w, "total");
    jw_uint(w, ci->optimize_total);
    jw_object_end(w);
    jw_array_end(w);
    jw_object_end(w);
    jw_object_end(w);
}

static void optimizations(ApiJob *j)
{
    int queued = 0, completed = 0, idle = 0;
    const char *with = http_query_get(j->req, "with");
    for (const char *p = with ? with : ""; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *f = p;
        size_t flen = len;
        while (flen && (*f == ' ' || *f == '\t')) f++, flen--;
        while (flen && (f[flen - 1] == ' ' || f[flen - 1] == '\t')) flen--;
        if (flen == 6 && !memcmp(f, "queued", 6)) queued = 1;
        else if (flen == 9 && !memcmp(f, "completed", 9)) completed = 1;
        else if (flen == 13 && !memcmp(f, "idle_segments", 13)) idle = 1;
        else if (flen)
            return (void)api_fail(j, QERR_BAD_INPUT, "Unknown field in 'with' parameter: %.*s", (int)len, p);
        p += len;
        if (*p == ',') p++;
    }
    const char *cl = http_query_get(j->req, "completed_limit");
    uint64_t limit;
    if (cl && parse_u64(cl, &limit)) return (void)api_fail(j, QERR_QUERY, "invalid digit found in string");
    CollectionInfo ci;
    int rc = collection_info(j->api->db, j->collection, &ci);
    if (rc) return (void)api_fail_collection(j, rc, NULL);
    char uuid[QDRANT_UUID_LEN + 1];
    qdrant_segment_uuid(j->collection, ci.id, uuid);
    JsonWriter *w = api_result(j);
    jw_object_begin(w);
    jw_key(w, "summary");
    jw_object_begin(w);
    static const char *const zero[] = { "queued_optimizations", "queued_segments", "queued_points" };
    for (size_t i = 0; i < ARRAY_LEN(zero); i++) {
        jw_key(w, zero[i]);
        jw_uint(w, 0);
    }
    jw_key(w, "idle_segments");
    jw_uint(w, ci.optimizing ? 0 : 1);
    jw_object_end(w);
    jw_key(w, "running");
    jw_array_begin(w);
    if (ci.optimizing) write_running(w, &ci, j->collection, uuid);
    jw_array_end(w);
    if (queued) {
        jw_key(w, "queued");
        jw_array_begin(w);
        jw_array_end(w);
    }
    if (completed) {
        jw_key(w, "completed");
        jw_array_begin(w);
        jw_array_end(w);
    }
    if (idle) {
        jw_key(w, "idle_segments");
        jw_array_begin(w);
        if (!ci.optimizing) {
            jw_object_begin(w);
            jw_key(w, "uuid");
            jw_string(w, uuid);
            jw_key(w, "points_count");
            jw_uint(w, ci.points_count);
            jw_object_end(w);
        }
        jw_array_end(w);
    }
    jw_object_end(w);
}

/* Qdrant routes of features a single-node shop server does not have:
 * each answers 501 naming the feature, never 404 or a wrong body. */
static void unserved(ApiJob *j)
{
    const char *p = j->route->pattern;
    const char *what = strstr(p, "/shards") ? "shards and shard keys"
                       : strstr(p, "/cluster") ? "cluster operations"
                       : "this route";
    api_fail(j, QERR_UNSUPPORTED, "%s", what);
}

const ApiRoute qdrant_service_routes[] = {
    { "GET", "/", API_LOOP, NULL, root },
    { "GET", "/telemetry", API_READ, NULL, telemetry },
    { "GET", "/cluster", API_LOOP, NULL, cluster },
    { "GET", "/collections/{collection_name}/cluster", API_READ, NULL, collection_cluster },
    { "GET", "/issues", API_LOOP, NULL, issues },
    { "DELETE", "/issues", API_LOOP, NULL, issues_clear },
    { "GET", "/collections/{collection_name}/shards", API_LOOP, NULL, unserved },
    { "PUT", "/collections/{collection_name}/shards", API_LOOP, NULL, unserved },
    { "POST", "/collections/{collection_name}/shards/delete", API_LOOP, NULL, unserved },
    { "GET", "/collections/{collection_name}/shards/{shard_id}/snapshot", API_LOOP, NULL, unserved },
    { "POST", "/collections/{collection_name}/cluster", API_LOOP, NULL, unserved },
    { "GET", "/cluster/telemetry", API_LOOP, NULL, unserved },
    { "POST", "/cluster/recover", API_LOOP, NULL, unserved },
    { "DELETE", "/cluster/peer/{peer_id}", API_LOOP, NULL, unserved },
    { "GET", "/collections/{collection_name}/optimizations", API_READ, NULL, optimizations },
    { NULL, NULL, 0, NULL, NULL },
};
