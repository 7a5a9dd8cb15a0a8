/*
 * qdrant_service.c - Qdrant's service routes: GET / (the version clients
 * check) and GET /telemetry. The probes (/healthz, /livez, /readyz) and
 * /metrics are the server's own built-in routes.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api/qdrant_internal.h"
#include "base/util.h"

/* The source commit, 40 hex digits as Qdrant reports its own; the Makefile
 * passes git's, and a build outside a git checkout has none. */
#ifndef VITRINE_COMMIT
#define VITRINE_COMMIT "0000000000000000000000000000000000000000"
#endif

/* GET / answers VersionInfo without the envelope, as Qdrant does, with
 * Qdrant's title: the official clients compare "version" with their own
 * and warn on a mismatch, and Qdrant's own API tests check every field. */
static void root(ApiJob *j)
{
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

/* GET /telemetry: the parts of Qdrant's TelemetryData that mean something
 * here (identity, uptime, collections count). */
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
    jw_key(w, "collections");
    jw_object_begin(w);
    jw_key(w, "number_of_collections");
    jw_uint(w, n);
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

/* Qdrant routes of features a single-node shop server does not have:
 * each answers 501 naming the feature, never 404 or a wrong body. */
static void unserved(ApiJob *j)
{
    const char *p = j->route->pattern;
    const char *what = strstr(p, "/discover") ? "discovery search (points/discover)"
                       : strstr(p, "/facet") ? "facet counts (facet)"
                       : strstr(p, "/matrix") ? "distance matrices (search/matrix)"
                       : strstr(p, "/shards") ? "shards and shard keys"
                       : strstr(p, "/cluster") ? "cluster operations"
                       : strstr(p, "/optimizations") ? "optimization reports"
                       : !strncmp(p, "/snapshots", 10) ? "full storage snapshots (use collection snapshots)"
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
    { "POST", "/collections/{collection_name}/points/discover", API_LOOP, NULL, unserved },
    { "POST", "/collections/{collection_name}/points/discover/batch", API_LOOP, NULL, unserved },
    { "POST", "/collections/{collection_name}/facet", API_LOOP, NULL, unserved },
    { "POST", "/collections/{collection_name}/points/search/matrix/pairs", API_LOOP, NULL, unserved },
    { "POST", "/collections/{collection_name}/points/search/matrix/offsets", API_LOOP, NULL, unserved },
    { "GET", "/collections/{collection_name}/shards", API_LOOP, NULL, unserved },
    { "PUT", "/collections/{collection_name}/shards", API_LOOP, NULL, unserved },
    { "POST", "/collections/{collection_name}/shards/delete", API_LOOP, NULL, unserved },
    { "GET", "/collections/{collection_name}/shards/{shard_id}/snapshot", API_LOOP, NULL, unserved },
    { "GET", "/collections/{collection_name}/shards/{shard_id}/snapshots", API_LOOP, NULL, unserved },
    { "POST", "/collections/{collection_name}/shards/{shard_id}/snapshots", API_LOOP, NULL, unserved },
    { "POST", "/collections/{collection_name}/shards/{shard_id}/snapshots/upload", API_LOOP, NULL, unserved },
    { "PUT", "/collections/{collection_name}/shards/{shard_id}/snapshots/recover", API_LOOP, NULL, unserved },
    { "GET", "/collections/{collection_name}/shards/{shard_id}/snapshots/{snapshot_name}", API_LOOP, NULL, unserved },
    { "DELETE", "/collections/{collection_name}/shards/{shard_id}/snapshots/{snapshot_name}", API_LOOP, NULL, unserved },
    { "POST", "/collections/{collection_name}/cluster", API_LOOP, NULL, unserved },
    { "GET", "/cluster/telemetry", API_LOOP, NULL, unserved },
    { "POST", "/cluster/recover", API_LOOP, NULL, unserved },
    { "DELETE", "/cluster/peer/{peer_id}", API_LOOP, NULL, unserved },
    { "GET", "/collections/{collection_name}/optimizations", API_LOOP, NULL, unserved },
    { "GET", "/snapshots", API_LOOP, NULL, unserved },
    { "POST", "/snapshots", API_LOOP, NULL, unserved },
    { "GET", "/snapshots/{snapshot_name}", API_LOOP, NULL, unserved },
    { "DELETE", "/snapshots/{snapshot_name}", API_LOOP, NULL, unserved },
    { NULL, NULL, 0, NULL, NULL },
};
