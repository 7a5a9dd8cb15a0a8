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

const ApiRoute qdrant_service_routes[] = {
    { "GET", "/", API_LOOP, NULL, root },
    { "GET", "/telemetry", API_READ, NULL, telemetry },
    { NULL, NULL, 0, NULL, NULL },
};
