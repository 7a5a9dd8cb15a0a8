/*
 * qdrant.c - the Qdrant API module: start and stop, the job machinery that
 * carries a request from the loop to a threadpool thread or the writer
 * thread and back, Qdrant's error envelope, and the readers of request
 * fields that every route shares. The routes live in qdrant_service.c,
 * qdrant_collections.c, qdrant_points.c and qdrant_search.c (design notes
 * in qdrant_internal.h).
 */
#include "api/qdrant.h"

#include <math.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <strings.h>

#include "api/qdrant_internal.h"
#include "base/err.h"
#include "base/log.h"
#include "base/util.h"
#include "server/metrics.h"

/* ---- errors ---- */

int api_fail(ApiJob *j, QErr kind, const char *fmt, ...)
{
    if (j->qerr != QERR_NONE) return -1;
    j->qerr = kind;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(j->msg, sizeof j->msg, fmt, ap);
    va_end(ap);
    return -1;
}

int api_fail_engine(ApiJob *j, int err, const char *msg)
{
    const char *m = msg && *msg ? msg : err_str(err);
    switch (err) {
    case ERR_NOTFOUND: return api_fail(j, QERR_NOT_FOUND, "%s", m);
    case ERR_EXISTS: return api_fail(j, QERR_EXISTS, "%s", m);
    case ERR_INVAL: return api_fail(j, QERR_BAD_INPUT, "%s", m);
    case ERR_TOOLARGE: return api_fail(j, QERR_BAD_REQUEST, "%s", m);
    case ERR_UNSUPPORTED: return api_fail(j, QERR_UNSUPPORTED, "%s", m);
    case ERR_BUSY: return api_fail(j, QERR_UNAVAILABLE, "%s", m);
    /* The store reports a full disk (ENOSPC, EDQUOT, a short write) and a
     * map that cannot grow as ERR_FULL; a queue that is full never reaches
     * this function. The engine's own text is only "storage error: full". */
    case ERR_FULL:
        return api_fail(j, QERR_NO_SPACE,
                        "No space left on device: the data directory's disk is full and nothing of this "
                        "request was stored; reads keep working, writes resume once space is freed");
    default: return api_fail(j, QERR_SERVICE, "%s", m);
    }
}

int api_fail_collection(ApiJob *j, int err, const char *msg)
{
    if (err == ERR_NOTFOUND && (!msg || !*msg))
        return api_fail(j, QERR_NOT_FOUND, "Collection `%s` doesn't exist!", j->collection);
    return api_fail_engine(j, err, msg);
}

/* error_status gives the HTTP status and Qdrant's message prefix of kind. */
static int error_status(QErr kind, const char **prefix)
{
    *prefix = "";
    switch (kind) {
    case QERR_BAD_INPUT: *prefix = "Wrong input: "; return 400;
    case QERR_NOT_FOUND: *prefix = "Not found: "; return 404;
    case QERR_EXISTS: *prefix = "Wrong input: "; return 409;
    case QERR_BAD_REQUEST: *prefix = "Bad request: "; return 400;
    case QERR_FORMAT: *prefix = "Format error in JSON body: "; return 400;
    case QERR_VALIDATION:
    case QERR_VALIDATION_PATH:
    case QERR_VALIDATION_QUERY: return 422;
    case QERR_QUERY: *prefix = "Deserialize error in query parameters: "; return 400;
    case QERR_PATH: *prefix = "Deserialize error in path parameters: "; return 400;
    case QERR_PAYLOAD: *prefix = "Payload error: "; return 400;
    case QERR_UNAVAILABLE: *prefix = "Service unavailable: "; return 503;
    case QERR_NO_SPACE: return 507;
    case QERR_UNSUPPORTED: *prefix = "Not supported by vitrine: "; return 501;
    case QERR_FORBIDDEN: *prefix = "Forbidden: "; return 403;
    case QERR_CHECKSUM: *prefix = "Checksum mismatch: "; return 400;
    case QERR_RATE_LIMITED: *prefix = "Rate limiting exceeded: "; return 429;
    case QERR_INFERENCE: return 400;
    case QERR_SERVICE:
    default: *prefix = "Service internal error: "; return 500;
    }
}

static void send_error(ApiJob *j)
{
    const char *prefix;
    int status = error_status(j->qerr, &prefix);
    if (j->qerr == QERR_UNAVAILABLE) http_set_header(j->req, "Retry-After", "1");
    if (j->qerr == QERR_RATE_LIMITED && j->retry_after) {
        char secs[16];
        snprintf(secs, sizeof secs, "%u", j->retry_after);
        http_set_header(j->req, "Retry-After", secs);
    }
    if (j->qerr == QERR_VALIDATION || j->qerr == QERR_VALIDATION_PATH ||
        j->qerr == QERR_VALIDATION_QUERY)
        http_respond_error(j->req, status, "Validation error in %s: [%s]",
                           j->qerr == QERR_VALIDATION        ? "JSON body"
                           : j->qerr == QERR_VALIDATION_PATH ? "path parameters"
                                                              : "query parameters",
                           j->msg);
    else
        http_respond_error(j->req, status, "%s%s", prefix, j->msg);
}

/* ---- results ---- */

JsonWriter *api_result(ApiJob *j)
{
    if (!j->w) j->w = http_result_begin(j->req);
    return j->w;
}

void api_result_true(ApiJob *j) { jw_bool(api_result(j), 1); }

void api_result_update(ApiJob *j, uint64_t operation_id)
{
    JsonWriter *w = api_result(j);
    jw_object_begin(w);
    jw_key(w, "operation_id");
    jw_uint(w, operation_id);
    jw_key(w, "status");
    jw_string(w, j->wait ? "completed" : "acknowledged");
    jw_object_end(w);
}

/* finish sends the job's answer; loop thread. */
static void finish(ApiJob *j)
{
    if (j->answered) return;
    if (api_failed(j)) {
        send_error(j);
    } else if (j->respond) {
        j->respond(j);
    } else if (!j->w) {
        /* A route that wrote nothing has nothing to say: a bug, not the
         * client's fault, but never a hang. */
        log_error("route %s %s wrote no result", j->route->method, j->route->pattern);
        http_respond_error(j->req, 500, "Service internal error: no result");
    } else {
        http_result_end(j->req, j->http_status ? j->http_status : 200);
    }
}

void api_finish(ApiJob *j)
{
    j->answered = 0;
    finish(j);
}

/* ---- the request body and the common query parameters ---- */

/* json_content_type: absent, or application/json, or any type/x+json
 * (actix's rule: Qdrant accepts a body without a content type). */
static int json_content_type(const char *ct)
{
    if (!ct) return 1;
    size_t n = strcspn(ct, ";");
    while (n && (ct[n - 1] == ' ' || ct[n - 1] == '\t')) n--;
    if (n >= 5 && !strncasecmp(ct + n - 5, "/json", 5)) return 1;
    if (n >= 5 && !strncasecmp(ct + n - 5, "+json", 5)) return 1;
    return 0;
}

static void parse_params(ApiJob *j);

static void parse_request(ApiJob *j)
{
    HttpRequest *req = j->req;
    if (j->route->kind & API_RAW_BODY) {
        parse_params(j);
        return;
    }
    if (req->body.len > 0 && !json_content_type(http_header(req, "Content-Type"))) {
        j->qerr = QERR_PAYLOAD;
        snprintf(j->msg, sizeof j->msg, "Content type error");
        return;
    }
    if (req->body.len > 0) {
        JsonValue *v;
        char err[256];
        /* Packed: a body's number arrays (vectors, ids) take 4-8 bytes a
         * number instead of a DOM node each; every array walk in this
         * module goes through json_item. */
        int rc = json_parse_packed(&req->arena, req->body.data, req->body.len, &v, err, sizeof err);
        if (rc == ERR_FULL) {
            /* The server's request memory budget ran out while this body
             * was parsed (json.h): retry later, as for a full queue. */
            api_fail(j, QERR_UNAVAILABLE, "%s", err);
            return;
        }
        if (rc) {
            api_fail(j, QERR_FORMAT, "%s", err);
            return;
        }
        j->body = v;
    }
    parse_params(j);
}

static void parse_params(ApiJob *j)
{
    HttpRequest *req = j->req;
    /* wait, ordering and timeout are accepted on every route that writes
     * (Qdrant's query parameters); reads ignore them. */
    if (api_query_bool(j, "wait", 0, &j->wait)) return;
    const char *ordering = http_query_get(req, "ordering");
    if (ordering && strcmp(ordering, "weak") && strcmp(ordering, "medium") &&
        strcmp(ordering, "strong")) {
        api_fail(j, QERR_QUERY,
                 "unknown variant `%s`, expected one of `weak`, `medium`, `strong`", ordering);
        return;
    }
    const char *timeout = http_query_get(req, "timeout");
    uint64_t t;
    if (timeout && parse_u64(timeout, &t)) {
        api_fail(j, QERR_QUERY, "invalid digit found in string");
        return;
    }
    /* Qdrant's WaitTimeout: #[validate(range(min = 1))]. */
    if (timeout && t == 0) api_fail(j, QERR_VALIDATION_QUERY, "timeout: value 0 invalid, must be 1 or larger");
}

int api_query_bool(ApiJob *j, const char *name, int dflt, int *out)
{
    const char *v = http_query_get(j->req, name);
    *out = dflt;
    if (!v) return 0;
    if (!strcmp(v, "true") || !strcmp(v, "")) {
        *out = 1;
        return 0;
    }
    if (!strcmp(v, "false")) {
        *out = 0;
        return 0;
    }
    return api_fail(j, QERR_QUERY, "provided string was not `true` or `false`");
}

/* ---- job flow ---- */

/* Read routes: parse and run on a threadpool thread, send on the loop. */
static void read_run_cb(void *arg)
{
    ApiJob *j = arg;
    parse_request(j);
    if (!api_failed(j)) qdrant_strict_check(j);
    if (!api_failed(j)) j->route->run(j);
}

static void job_done_cb(void *arg, int status)
{
    ApiJob *j = arg;
    if (status && !api_failed(j)) api_fail(j, QERR_UNAVAILABLE, "the server is shutting down");
    finish(j);
}

/* Write routes: parse and prepare on a threadpool thread, then queue for
 * the writer thread. */
static void write_prepare_cb(void *arg)
{
    ApiJob *j = arg;
    parse_request(j);
    if (!api_failed(j)) qdrant_strict_check(j);
    if (!api_failed(j) && j->route->prepare) j->route->prepare(j);
    api_inference_wait(j);
}

static void write_prepared_cb(void *arg, int status)
{
    ApiJob *j = arg;
    if (status && !api_failed(j)) api_fail(j, QERR_UNAVAILABLE, "the server is shutting down");
    if (api_failed(j)) {
        finish(j);
        return;
    }
    int rc = work_queue_push(j->api->writer, &j->item);
    if (rc) {
        api_fail(j, QERR_UNAVAILABLE,
                 rc == ERR_FULL ? "too many writes queued, retry later" : "the server is shutting down");
        finish(j);
    }
}

/* Async routes: prepare on a threadpool thread, then run on the loop. */
static void async_prepare_cb(void *arg)
{
    ApiJob *j = arg;
    parse_request(j);
    if (!api_failed(j) && j->route->prepare) j->route->prepare(j);
}

static void async_prepared_cb(void *arg, int status)
{
    ApiJob *j = arg;
    if (status && !api_failed(j)) api_fail(j, QERR_UNAVAILABLE, "the server is shutting down");
    j->route->run(j);
    finish(j);
}

void api_point_write(ApiJob *j, const CollectionOp *op)
{
    CollectionOp *copy = arena_alloc(api_arena(j), sizeof *copy);
    *copy = *op;
    memset(&j->write, 0, sizeof j->write);
    j->write.collection = j->collection;
    j->write.ops = copy;
    j->write.n_ops = 1;
    j->grouped = 1;
}

/*
 * The writer thread. Every queued write runs here, in arrival order.
 * Consecutive point writes form one group: one LMDB transaction, one
 * fsync (collection_write_group). A wait=false client is answered as soon
 * as the group is durable (work_queue_complete from the durable hook);
 * a wait=true one once the write is also searchable. Collection-level
 * writes (create, delete, aliases, indexes) end the group before them, so
 * everything stays in order.
 */
typedef struct {
    Api *api;
    ApiJob **jobs;
    uint8_t *released;
} WriterGroup;

static ApiJob *job_of_write(CollectionWrite *w)
{
    return (ApiJob *)((char *)w - offsetof(ApiJob, write));
}

static int durable_hook(CollectionWrite *w, void *ctx)
{
    WriterGroup *g = ctx;
    ApiJob *j = job_of_write(w);
    if (j->wait) return 0;
    api_result_update(j, w->operation_id);
    g->released[j->group_index] = 1;
    /* After this the loop may answer and free j: not a byte of it is
     * touched again (the engine does not either: we return 1). */
    work_queue_complete(g->api->writer, &j->item);
    return 1;
}

static void visible_hook(CollectionWrite *w, void *ctx)
{
    (void)ctx;
    ApiJob *j = job_of_write(w);
    api_result_update(j, w->operation_id);
}

static void write_group(Api *api, ApiJob **jobs, size_t n)
{
    if (!n) return;
    CollectionWrite *writes[QDRANT_WRITER_BATCH] = { 0 };
    uint8_t released[QDRANT_WRITER_BATCH] = { 0 };
    for (size_t i = 0; i < n; i++) {
        jobs[i]->group_index = i;
        writes[i] = &jobs[i]->write;
    }
    WriterGroup g = { api, jobs, released };
    CollectionWriteHooks hooks = { durable_hook, visible_hook, &g };
    int rc = collection_write_group(api->db, writes, n, &hooks);
    for (size_t i = 0; i < n; i++) {
        if (released[i]) continue;
        ApiJob *j = jobs[i];
        if (j->write.status) api_fail_collection(j, j->write.status, j->write.err);
        else if (rc && !j->w) api_fail_engine(j, rc, NULL);
    }
}

/* points/batch: its operations one after the other, each its own write,
 * stopping at the first that fails (the ones before it stay applied, as
 * in Qdrant); the answer lists one UpdateResult per operation. */
static void write_batch(Api *api, ApiJob *j)
{
    for (size_t i = 0; i < j->n_batch; i++) {
        CollectionWrite *w = &j->batch[i];
        CollectionWrite *one[1] = { w };
        collection_write_group(api->db, one, 1, NULL);
        if (w->status) {
            api_fail_collection(j, w->status, w->err);
            return;
        }
    }
    JsonWriter *w = api_result(j);
    jw_array_begin(w);
    for (size_t i = 0; i < j->n_batch; i++) {
        jw_object_begin(w);
        jw_key(w, "operation_id");
        jw_uint(w, j->batch[i].operation_id);
        jw_key(w, "status");
        jw_string(w, j->wait ? "completed" : "acknowledged");
        jw_object_end(w);
    }
    jw_array_end(w);
}

static void writer_run(void *ctx, WorkItem **items, size_t n)
{
    Api *api = ctx;
    ApiJob *group[QDRANT_WRITER_BATCH];
    size_t ng = 0;
    for (size_t i = 0; i < n; i++) {
        ApiJob *j = (ApiJob *)items[i];
        if (j->grouped) {
            group[ng++] = j;
            continue;
        }
        write_group(api, group, ng);
        ng = 0;
        if (j->batch) write_batch(api, j);
        else j->route->run(j);
    }
    write_group(api, group, ng);
}

/* When the writer has nothing queued, the graph records the last groups
 * changed are saved, at most every COLLECTION_IDLE_SAVE_INTERVAL (they
 * would otherwise wait for the next write; a client writing batch after
 * batch would pay two commits a batch). */
static void writer_idle(void *ctx)
{
    Api *api = ctx;
    collection_db_idle(api->db);
}

static void writer_done(void *ctx, WorkItem *item)
{
    (void)ctx;
    finish((ApiJob *)item);
}

/* ---- the module ---- */

/* A registered route: the route and the module state it runs against. */
typedef struct {
    const ApiRoute *route;
    Api *api;
} RouteBinding;

#define API_MAX_ROUTES ROUTER_MAX_ROUTES

typedef struct {
    Api api;
    RouteBinding bindings[API_MAX_ROUTES];
    size_t n_bindings;
} ApiModule;

/* utf8_chars counts the characters of UTF-8 text (the bytes that do not
 * continue a sequence). */
static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++) n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static void dispatch(HttpRequest *req, void *ctx)
{
    RouteBinding *b = ctx;
    ApiJob *j = arena_calloc(&req->arena, sizeof *j);
    j->req = req;
    j->api = b->api;
    j->route = b->route;
    j->collection = http_param(req, "collection_name");
    int rc = 0;
    /* Qdrant's CollectionPath: #[validate(length(min = 1, max = 255))],
     * counted in characters. */
    if (j->collection && utf8_chars(j->collection) > COLLECTION_MAX_NAME) {
        api_fail(j, QERR_VALIDATION_PATH,
                 "collection_name: value \"%.64s...\" invalid, must be from 1 to %d characters",
                 j->collection, COLLECTION_MAX_NAME);
        finish(j);
        return;
    }
    switch (API_KIND(b->route->kind)) {
    case API_LOOP:
        /* Loop routes take no body: parsing one would block the loop. */
        parse_params(j);
        if (!api_failed(j)) b->route->run(j);
        finish(j);
        return;
    case API_READ:
        rc = work_submit(server_loop(b->api->srv), read_run_cb, job_done_cb, j);
        break;
    case API_WRITE:
        rc = work_submit(server_loop(b->api->srv), write_prepare_cb, write_prepared_cb, j);
        break;
    case API_ASYNC:
        rc = work_submit(server_loop(b->api->srv), async_prepare_cb, async_prepared_cb, j);
        break;
    }
    if (rc) {
        api_fail(j, QERR_UNAVAILABLE, "too many requests in flight, retry later");
        finish(j);
    }
}

static int add_routes(ApiModule *m, Router *r, const ApiRoute *routes)
{
    for (const ApiRoute *rt = routes; rt->method; rt++) {
        if (m->n_bindings == API_MAX_ROUTES) return ERR_FULL;
        RouteBinding *b = &m->bindings[m->n_bindings++];
        b->route = rt;
        b->api = &m->api;
        int rc = router_add(r, rt->method, rt->pattern, dispatch, b);
        if (rc) {
            log_error("cannot add route %s %s: %s", rt->method, rt->pattern, err_str(rc));
            return rc;
        }
    }
    return 0;
}

/* The gauges Qdrant's exporter has and tools read: app_info,
 * collections_total, and each collection's points (labelled id=...). */
static void collect_metrics(void *ctx)
{
    Api *api = ctx;
    metrics_gauge_set("app_info", "name=\"qdrant\",version=\"" QDRANT_API_VERSION "\"", 1);
    Arena a;
    arena_init(&a, 0);
    char **names;
    size_t n = 0;
    if (collection_list(api->db, &a, &names, &n) == 0) {
        metrics_gauge_set("collections_total", NULL, (double)n);
        for (size_t i = 0; i < n; i++) {
            CollectionInfo ci;
            if (collection_info(api->db, names[i], &ci)) continue;
            char labels[METRICS_MAX_LABELS];
            /* Collection names may hold quotes and backslashes: escape
             * them as the text format asks. */
            size_t o = 0;
            o += (size_t)snprintf(labels, sizeof labels, "id=\"");
            for (const char *p = names[i]; *p && o + 3 < sizeof labels; p++) {
                if (*p == '"' || *p == '\\') labels[o++] = '\\';
                labels[o++] = *p == '\n' ? ' ' : *p;
            }
            snprintf(labels + o, sizeof labels - o, "\"");
            metrics_gauge_set("collection_points", labels, (double)ci.points_count);
            metrics_gauge_set("vitrine_payload_block_points", labels,
                              (double)ci.payload_block_points);
            metrics_gauge_set("vitrine_payload_block_bytes", labels,
                              (double)ci.payload_block_bytes);
        }
    }
    arena_free(&a);
    CollectionPlans p;
    collection_db_plans(api->db, &p);
    metrics_gauge_set("vitrine_search_plans", "plan=\"scan\"", (double)p.scan);
    metrics_gauge_set("vitrine_search_plans", "plan=\"all\"", (double)p.all);
    metrics_gauge_set("vitrine_search_plans", "plan=\"walk\"", (double)p.walk);
    metrics_gauge_set("vitrine_search_plans", "plan=\"sparse\"", (double)p.sparse);
    metrics_gauge_set("vitrine_search_plans", "plan=\"block\"", (double)p.block);
}

/* sync_exact_only gives every collection the exact_only flags its hnsw m
 * says (qdrant_exact_only_sync), before any request runs. A collection it
 * cannot update is logged and served as it is. */
static void sync_exact_only(Db *db)
{
    Arena a;
    arena_init(&a, 0);
    char **names;
    size_t n = 0;
    if (collection_list(db, &a, &names, &n) == 0)
        for (size_t i = 0; i < n; i++) qdrant_exact_only_sync(db, names[i]);
    arena_free(&a);
}

/* block_m is DbOptions.block_m: Qdrant's payload_m of vector v (per
 * vector, else collection-wide, else the vector's m), which the options
 * keep as the client gave them. */
static int block_m(const CollectionConfig *cfg, int v)
{
    Arena a;
    arena_init(&a, 0);
    int64_t m = 0, payload_m = 0;
    if (!qdrant_vector_m(&a, cfg, cfg->vectors[v].name, &m, &payload_m)) payload_m = 0;
    arena_free(&a);
    return payload_m > HNSW_MAX_M ? HNSW_MAX_M : payload_m < 0 ? 0 : (int)payload_m;
}

/* block_index is DbOptions.block_index: false for an index made with
 * enable_hnsw: false (its params object as qdrant_index.c keeps it). */
static int block_index(const char *params)
{
    if (!params || !*params) return 1;
    Arena a;
    arena_init(&a, 0);
    JsonValue *o = NULL;
    char err[64];
    int yes = 1;
    if (json_parse(&a, params, strlen(params), &o, err, sizeof err) == 0 && o) {
        const JsonValue *e = json_get(o, "enable_hnsw");
        yes = !(e && e->type == JSON_BOOL && !e->u.boolean);
    }
    arena_free(&a);
    return yes;
}

static int module_start(Server *srv, Router *router, void **state)
{
    const ServerConfig *cfg = server_config(srv);
    ApiModule *m = xcalloc(1, sizeof *m);
    m->api.srv = srv;
    m->api.started_unix = (int64_t)time(NULL);
    qdrant_strict_start(&m->api);
    snprintf(m->api.snapshots_dir, sizeof m->api.snapshots_dir, "%s/snapshots", cfg->data_dir);
    DbOptions o = { .block_m = block_m, .block_index = block_index };
    int rc = collection_db_open(cfg->data_dir, &o, &m->api.db);
    if (rc) {
        log_error("cannot open the data directory %s: %s", cfg->data_dir, err_str(rc));
        qdrant_strict_free(&m->api);
        free(m);
        return rc;
    }
    sync_exact_only(m->api.db);
    WorkQueueConfig qc = {
        .name = "writer",
        .capacity = QDRANT_WRITER_QUEUE,
        .max_batch = QDRANT_WRITER_BATCH,
        .batch_wait_us = 0,
        .run = writer_run,
        .done = writer_done,
        .idle = writer_idle,
        .ctx = &m->api,
    };
    if ((rc = work_queue_start(server_loop(srv), &qc, &m->api.writer))) {
        collection_db_close(m->api.db);
        qdrant_strict_free(&m->api);
        free(m);
        return rc;
    }
    if ((rc = qdrant_snapshots_start(&m->api))) {
        work_queue_stop(m->api.writer);
        collection_db_close(m->api.db);
        qdrant_strict_free(&m->api);
        free(m);
        return rc;
    }
    if ((rc = add_routes(m, router, qdrant_service_routes)) ||
        (rc = add_routes(m, router, qdrant_collection_routes)) ||
        (rc = add_routes(m, router, qdrant_point_routes)) ||
        (rc = add_routes(m, router, qdrant_search_routes)) ||
        (rc = add_routes(m, router, qdrant_query_routes)) ||
        (rc = add_routes(m, router, qdrant_group_routes)) ||
        (rc = add_routes(m, router, qdrant_facet_routes)) ||
        (rc = add_routes(m, router, qdrant_matrix_routes)) ||
        (rc = add_routes(m, router, qdrant_index_routes)) ||
        (rc = add_routes(m, router, qdrant_snapshot_routes)) ||
        (rc = add_routes(m, router, v1_item_routes)) ||
        (rc = add_routes(m, router, v1_classify_routes))) {
        /* The server does not start without this module, so the routes
         * already added are never dispatched. */
        qdrant_snapshots_stop(&m->api);
        qdrant_snapshots_free(&m->api);
        work_queue_stop(m->api.writer);
        collection_db_close(m->api.db);
        qdrant_strict_free(&m->api);
        free(m);
        return rc;
    }
    metrics_describe("app_info", METRICS_GAUGE, "information about qdrant server");
    metrics_describe("collections_total", METRICS_GAUGE, "number of collections");
    metrics_describe("collection_points", METRICS_GAUGE, "approximate amount of points per collection");
    metrics_describe("vitrine_payload_block_points", METRICS_GAUGE,
                     "points linked by the payload blocks of a collection (once per block)");
    metrics_describe("vitrine_payload_block_bytes", METRICS_GAUGE,
                     "memory held by the payload blocks of a collection");
    metrics_describe("vitrine_search_plans", METRICS_GAUGE,
                     "dense searches answered per plan since the start: scan (the filter's matches "
                     "exactly), all (every point exactly), walk (the graph), sparse (the graph over "
                     "the matches alone), block (a payload block)");
    metrics_describe("rest_responses_total", METRICS_COUNTER, "total number of responses");
    metrics_add_collector(collect_metrics, &m->api);
    *state = m;
    return 0;
}

static void module_stop(void *state)
{
    ApiModule *m = state;
    metrics_remove_collector(collect_metrics, &m->api);
    if (m->api.writer) work_queue_stop(m->api.writer);
    m->api.writer = NULL;
    qdrant_snapshots_stop(&m->api);
}

static void module_destroy(void *state)
{
    ApiModule *m = state;
    if (!m) return;
    qdrant_snapshots_free(&m->api);
    collection_db_close(m->api.db);
    qdrant_strict_free(&m->api);
    free(m);
}

const ServerModule api_qdrant_module = { "qdrant", module_start, module_stop, module_destroy };
