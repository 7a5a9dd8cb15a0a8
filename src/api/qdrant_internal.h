/*
 * qdrant_internal.h - what the files of the Qdrant API module share: the
 * module state, the request job, Qdrant's error kinds and the helpers that
 * read request fields.
 *
 * Design. Every Qdrant route is one ApiRoute: a method, a path pattern and
 * the function that does the work. The loop thread only routes; a request
 * becomes an ApiJob that lives in the request's arena and moves:
 *
 *   read routes   loop -> threadpool (parse the body, run, write the
 *                 result JSON) -> loop (send)
 *   write routes  loop -> threadpool (parse, validate, build the engine's
 *                 C structs) -> loop -> the writer thread (one thread owns
 *                 every LMDB write; it takes all queued writes at once)
 *                 -> loop (send)
 *   loop routes   answered on the loop directly (tiny, no I/O)
 *
 * Bodies are parsed off the loop because a 40 MB upsert takes a good part
 * of a second to parse, and the loop must keep serving other clients
 * meanwhile. The result is written straight into the request's response
 * buffer by whichever thread ran the job (only one thread touches a request
 * at a time: the job hand-offs are the synchronisation), and the loop adds
 * the envelope's "status" and "time" and sends it.
 *
 * Errors follow Qdrant's wording and codes (see QErr): a job records the
 * first error with api_fail and stops; the loop sends it as
 * {"status":{"error":"..."},"time":...}.
 */
#ifndef VITRINE_API_QDRANT_INTERNAL_H
#define VITRINE_API_QDRANT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "api/qdrant_convert.h"
#include "base/arena.h"
#include "base/json.h"
#include "index/pointid.h"
#include "server/http.h"
#include "server/router.h"
#include "server/server.h"
#include "server/work.h"
#include "store/collection.h"

/* The version clients compare against (the js client warns on a major or
 * minor mismatch), and what GET / reports. */
#define QDRANT_API_VERSION "1.17.1"
/* Longest error message sent to a client. */
#define QDRANT_MAX_ERROR 1024
/* Queued writes the writer thread holds at most; beyond, 503 + Retry-After. */
#define QDRANT_WRITER_QUEUE 4096
/* Writes the writer thread takes in one group (one LMDB commit). */
#define QDRANT_WRITER_BATCH 256
/* Requests in one search/recommend/query batch. */
#define QDRANT_MAX_BATCH_REQUESTS 1000
/* Default result count, as Qdrant's. */
#define QDRANT_DEFAULT_LIMIT 10

/* Qdrant's error kinds; each has a status code and a message prefix
 * (lib/storage/src/content_manager/errors.rs, src/actix/mod.rs). */
typedef enum {
    QERR_NONE = 0,
    QERR_BAD_INPUT,   /* 400 "Wrong input: ..." */
    QERR_NOT_FOUND,   /* 404 "Not found: ..." */
    QERR_EXISTS,      /* 409 "Wrong input: ..." */
    QERR_BAD_REQUEST, /* 400 "Bad request: ..." */
    QERR_FORMAT,      /* 400 "Format error in JSON body: ..." (does not parse into the schema) */
    QERR_VALIDATION,  /* 422 "Validation error in JSON body: [...]" */
    QERR_VALIDATION_PATH, /* 422 "Validation error in path parameters: [...]" */
    QERR_VALIDATION_QUERY, /* 422 "Validation error in query parameters: [...]" */
    QERR_QUERY,       /* 400 "Deserialize error in query parameters: ..." */
    QERR_PATH,        /* 400 "Deserialize error in path parameters: ..." */
    QERR_PAYLOAD,     /* 400 "Payload error: ..." (a body that is not JSON at all) */
    QERR_UNAVAILABLE, /* 503 with Retry-After: a queue is full or we are stopping */
    QERR_NO_SPACE,    /* 507: the disk is full */
    QERR_SERVICE,     /* 500 "Service internal error: ..." */
    QERR_UNSUPPORTED, /* 501: a Qdrant feature vitrine does not serve, named */
    QERR_FORBIDDEN,   /* 403 "Forbidden: ..." */
    QERR_CHECKSUM,    /* 400 "Checksum mismatch: ..." */
    QERR_RATE_LIMITED, /* 429 "Rate limiting exceeded: ..." (Retry-After: ApiJob.retry_after) */
    QERR_INFERENCE,   /* 400, the message as is (Qdrant's StorageError::InferenceError) */
} QErr;

typedef struct Api Api;
typedef struct ApiJob ApiJob;

/* A route's work. It reads j->body and the path, calls the engine, and
 * either writes the result (api_result) or records an error (api_fail). */
typedef void (*ApiFn)(ApiJob *j);

typedef enum {
    API_LOOP = 0, /* run on the loop thread (no I/O, no body) */
    API_READ,     /* run on the threadpool */
    API_WRITE,    /* prepare on the threadpool, run on the writer thread */
    /* prepare on the threadpool, then run on the loop, which may start
     * work elsewhere and answer later: it sets j->answered and calls
     * api_finish when done. run is called even when prepare failed (or
     * never ran), so it can release what prepare made. */
    API_ASYNC,
    /* A flag or'ed into API_READ, API_WRITE or API_ASYNC: the body is not
     * parsed as JSON and its content type is not checked; the route reads
     * req->body itself (multipart uploads). */
    API_RAW_BODY = 0x100,
} ApiKind;
#define API_KIND(k) ((k) & 0xff)

typedef struct {
    const char *method;
    const char *pattern;
    ApiKind kind;
    ApiFn prepare; /* API_WRITE: parse and validate off the loop (may be NULL) */
    ApiFn run;     /* API_WRITE: NULL when prepare built a point write (see ApiJob) */
} ApiRoute;

struct ApiSnapshots;

struct Api {
    Server *srv;
    Db *db;
    WorkQueue *writer;
    struct ApiSnapshots *snapshots; /* qdrant_snapshots.c's worker */
    struct ApiRates *rates;         /* qdrant_strict.c's rate limiters */
    char snapshots_dir[SERVER_MAX_PATH + 16];
    int64_t started_unix; /* wall-clock start, for /telemetry */
};

struct ApiJob {
    WorkItem item; /* the writer queue's link: first member */
    HttpRequest *req;
    Api *api;
    const ApiRoute *route;
    const JsonValue *body; /* the parsed body; NULL when there was none */
    const char *collection; /* the {collection_name} path parameter, or NULL */
    int wait;               /* ?wait=true */
    QErr qerr;
    char msg[QDRANT_MAX_ERROR];
    JsonWriter *w;          /* the result writer once api_result began */
    int http_status;        /* 0: 200 */
    int answered;           /* the route sent its own response (GET /) */
    void *state;            /* the route's own data between prepare and run */
    /* Point writes: the engine write that prepare built (grouped set), or
     * points/batch's writes, one per operation (n_batch of them). */
    int grouped;
    CollectionWrite write;
    CollectionWrite *batch;
    size_t n_batch;
    size_t group_index; /* the writer's bookkeeping */
    /* Where in the body the fields being read sit, for Qdrant's validation
     * messages: "search_request." or "searches[2].search_request.". */
    char vpath[96];
    /* Set by a route that answers with something other than the JSON
     * envelope (an image, a 304, a body of its own): called on the loop
     * instead of sending the result when no error was recorded. */
    void (*respond)(ApiJob *j);
    /* Inference objects of a write waiting to be embedded (see
     * qdrant_inference.c); NULL when none. */
    void *inference;
    /* QERR_RATE_LIMITED: seconds for the Retry-After header (0: none). */
    unsigned retry_after;
    /* The collection's info as this job first read it (api_job_info), or
     * NULL: strict mode and the search routes share one copy. */
    CollectionInfo *info;
};

/* ---- errors ---- */

/* api_fail records the job's error (the first one wins) and returns -1,
 * so a route can `return (void)api_fail(...)`. The message is the part
 * after Qdrant's prefix. */
int api_fail(ApiJob *j, QErr kind, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* api_fail_engine maps an engine error code plus its message to Qdrant's
 * kind: ERR_NOTFOUND -> 404, ERR_EXISTS -> 409, ERR_INVAL -> 400 Wrong
 * input, ERR_FULL -> 507 when the store is full, etc. */
int api_fail_engine(ApiJob *j, int err, const char *msg);
/* api_fail_collection reports the engine's error for a named collection,
 * with Qdrant's text for the missing one. */
int api_fail_collection(ApiJob *j, int err, const char *msg);
/* api_failed is 1 once an error was recorded. */
static inline int api_failed(const ApiJob *j) { return j->qerr != QERR_NONE; }

/* ---- results ---- */

/* api_finish sends the answer of a job whose route set j->answered to
 * answer later (API_ASYNC); loop thread. */
void api_finish(ApiJob *j);

/* api_result starts {"result": and returns the writer for the one result
 * value; the envelope is finished on the loop. */
JsonWriter *api_result(ApiJob *j);
/* api_result_true answers `true` (collection operations). */
void api_result_true(ApiJob *j);
/* api_result_update answers {"operation_id": id, "status": "completed"
 * | "acknowledged"}. */
void api_result_update(ApiJob *j, uint64_t operation_id);
/* api_write_points_op makes j a point write of one operation on
 * j->collection (the op is copied); the writer thread group-commits it
 * with the other queued writes. */
void api_point_write(ApiJob *j, const CollectionOp *op);

/* ---- reading the body ---- */

/* Typed member readers: 0 when absent (out unchanged) or valid, -1 after
 * api_fail with Qdrant's wording when present but of the wrong type or
 * out of range. `what` names the field in messages ("limit"). */
int api_get_bool(ApiJob *j, const JsonValue *obj, const char *key, int *out);
int api_get_u64(ApiJob *j, const JsonValue *obj, const char *key, uint64_t min, uint64_t max,
                uint64_t *out);
int api_get_size(ApiJob *j, const JsonValue *obj, const char *key, size_t min, size_t *out);
int api_get_float(ApiJob *j, const JsonValue *obj, const char *key, float *out);
int api_get_str(ApiJob *j, const JsonValue *obj, const char *key, const char **out);
/* api_get_object: the member when it is an object (or absent: NULL); -1
 * after api_fail for another type (null counts as absent). */
int api_get_object(ApiJob *j, const JsonValue *obj, const char *key, const JsonValue **out);
int api_get_array(ApiJob *j, const JsonValue *obj, const char *key, const JsonValue **out);
/* api_body_object: the body must be a JSON object (an absent body is {}
 * when allow_empty). */
int api_body_object(ApiJob *j, int allow_empty);
/* api_point_id reads an id (u64 or UUID string). */
int api_point_id(ApiJob *j, const JsonValue *v, const char *what, PointId *out);
/* api_point_ids reads an array of ids into the request arena. */
int api_point_ids(ApiJob *j, const JsonValue *arr, const char *what, PointId **out, size_t *n);
/* api_floats reads an array of numbers as floats (exact rounding) into the
 * arena; NaN/Inf or a non-number is a format error. */
int api_floats(ApiJob *j, const JsonValue *arr, const char *what, float **out, size_t *n);
/* api_check_filter applies Qdrant's validators to a filter: a field
 * condition needs one of match, range, geo_*, values_count, is_empty,
 * is_null (422 naming its path). The engine checks the rest. */
int api_check_filter(ApiJob *j, const JsonValue *filter);
/* The same for a filter under another key (name: "update_filter"). */
int api_check_filter_at(ApiJob *j, const JsonValue *filter, const char *name);
/* api_query_bool reads ?name=true|false (absent: dflt). */
int api_query_bool(ApiJob *j, const char *name, int dflt, int *out);
/* api_item returns item i of a request-body array as a pointer that
 * stays valid for the request: bodies are parsed packed, so an array of
 * numbers has no item nodes and must be read through this (or json_item),
 * never through u.items. */
const JsonValue *api_item(ApiJob *j, const JsonValue *arr, size_t i);
/* api_arena is the request's arena (everything a job allocates lives there). */
static inline Arena *api_arena(ApiJob *j) { return &j->req->arena; }

/* ---- route tables of the files of this module ---- */

extern const ApiRoute qdrant_service_routes[];
extern const ApiRoute qdrant_collection_routes[];
extern const ApiRoute qdrant_point_routes[];
extern const ApiRoute qdrant_search_routes[];
extern const ApiRoute qdrant_query_routes[];
extern const ApiRoute qdrant_group_routes[];
/* qdrant_strict_check enforces the collection's strict_mode_config on a
 * parsed request before its route runs (qdrant_strict.c): 0, or -1 after
 * api_fail with Qdrant's message. */
int qdrant_strict_check(ApiJob *j);
/* The rate limiters' state: made at module start, freed at destroy. */
/* qdrant_vector_m: the hnsw m and payload_m that the collection's config
 * gives the dense vector `using` (NULL or "": the default vector), as
 * Qdrant resolves them: the vector's hnsw_config, then the collection's
 * (m as the client configured it, 0 included; payload_m defaulting to
 * m). 1, or 0 when `using` names a sparse vector (always indexed). */
int qdrant_vector_m(Arena *a, const CollectionConfig *cfg, const char *using, int64_t *m,
                    int64_t *payload_m);
/* qdrant_exact_only_sync makes the exact_only flags of collection name's
 * dense vectors (CollectionVectorParams) what the hnsw m its options hold
 * says (qdrant_vector_m: m = 0, no graph), updating the collection where
 * they differ: a directory or snapshot written before the engine kept the
 * flag (the API then read m = 0 from the options at every search) gets it
 * at start and after a recover. 0, or the engine's ERR_* (ERR_NOTFOUND). */
int qdrant_exact_only_sync(Db *db, const char *name);
void qdrant_strict_start(Api *api);
void qdrant_strict_free(Api *api);
/* qdrant_strict_reset forgets collection id's rate limiters (a PATCH of
 * its strict_mode_config starts them full again). */
void qdrant_strict_reset(Api *api, uint32_t id);
extern const ApiRoute qdrant_facet_routes[];
extern const ApiRoute qdrant_matrix_routes[];
extern const ApiRoute qdrant_index_routes[];
extern const ApiRoute qdrant_snapshot_routes[];

/* qdrant_parse_order_by reads Qdrant's OrderByInterface: "key" or {"key",
 * "direction": "asc"|"desc", "start_from": number | datetime string (as
 * microseconds)} (qdrant_index.c). Limit, filter and selectors are the
 * caller's. */
int qdrant_parse_order_by(ApiJob *j, const JsonValue *v, CollectionOrderBy *out);

/* The snapshot worker of qdrant_snapshots.c, started and stopped with the
 * module: start after the database opened, stop with the writer. */
int qdrant_snapshots_start(Api *api);
void qdrant_snapshots_stop(Api *api);
void qdrant_snapshots_free(Api *api);

/* vitrine's own routes that run on this module's jobs (src/api/v1_*.c):
 * items and search over collections, classification, moderation. */
extern const ApiRoute v1_item_routes[];
extern const ApiRoute v1_classify_routes[];

/* ---- Qdrant's inference objects (qdrant_inference.c) ---- */

/* api_inference_object: 1 when v is one of Qdrant's inference objects,
 * Document {"text", "model"}, Image {"image", "model"} or InferenceObject
 * {"object", "model"}: an object with a string "model" and one of those
 * keys (a map of named vectors never has a string value). */
int api_inference_object(const JsonValue *v);
/*
 * api_inference turns the inference object v into a vector, embedded by
 * this server's CLIP model: *vec (in the request arena) and *dim. In a
 * read job it embeds now; in a write job's prepare it only reserves the
 * vector, and every object of the request is embedded at once, as one
 * batch, when prepare has returned (api_inference_wait), before the job
 * goes to the writer thread. `what` names the place in the body for
 * messages ("points[3].vector.image"). -1 after api_fail: 503 without
 * weights (saying how to install them), 404 for a model not served, 400
 * for an InferenceObject ({"object": ...}), a bad image or text.
 * A Document of Qdrant's BM25 model ("qdrant/bm25", qdrant_bm25.h) needs
 * no weights: it becomes the sparse vector *sparse (*vec NULL, *dim 0),
 * or, where the place takes no sparse vector (sparse NULL), Qdrant's 400
 * "Sparse vector from document inference should be named".
 */
int api_inference(ApiJob *j, const JsonValue *v, const char *what, float **vec, size_t *dim,
                  const CollectionSparseVector **sparse);
/* api_inference_wait embeds the objects a write's prepare reserved (no-op
 * when none) and records the first failure with api_fail. Called by the
 * job machinery after every prepare, even a failed one (the embedder must
 * be done with the request's memory before it goes). */
void api_inference_wait(ApiJob *j);

/* lookup_from: example ids name points of another collection
 * (qdrant_lookup.c). */
typedef struct {
    const char *collection;
    const char *vector; /* NULL: the request's `using` */
    int set;            /* lookup_from was given */
    int checked;        /* the collection and vector were found */
} ApiLookup;

/* One looked-up vector: exactly one of dense (dim floats), sparse, multi. */
typedef struct {
    const float *dense;
    size_t dim;
    const CollectionSparseVector *sparse;
    const CollectionMultiVector *multi;
} ApiLookupVector;

/* api_lookup_parse reads obj's lookup_from (absent: out->set 0). */
int api_lookup_parse(ApiJob *j, const JsonValue *obj, ApiLookup *out);
/* api_lookup_vector reads point id's vector from the lookup collection
 * (the vector named by lk, or using). */
int api_lookup_vector(ApiJob *j, const ApiLookup *lk, const char *using, const PointId *id,
                      ApiLookupVector *out);
/* api_lookup_recommend / _discover replace the example ids of r / d by
 * their vectors from the lookup collection (nothing when !lk->set);
 * r->search.using / d->search.using must be set. */
int api_lookup_recommend(ApiJob *j, const ApiLookup *lk, CollectionRecommend *r);
int api_lookup_discover(ApiJob *j, const ApiLookup *lk, CollectionDiscover *d);

/* The search parameters shared by search, recommend and query. */
typedef struct {
    const char *using;
    const JsonValue *filter;
    int ef, exact;
    int quant_ignore, quant_no_rescore; /* params.quantization */
    double quant_oversampling;
    size_t limit, offset;
    int has_threshold;
    float threshold;
    CollectionSelector with_payload, with_vector;
    ApiLookup lookup; /* lookup_from */
} ApiCommon;

/* api_parse_quant_params reads params.quantization (ignore, rescore,
 * oversampling) of a params object; -1 after answering an error. */
int api_parse_quant_params(ApiJob *j, const JsonValue *params, int *ignore, int *no_rescore,
                           double *oversampling);
/* api_parse_common reads filter, params, limit (or "top"), offset,
 * score_threshold, with_payload, with_vector and using. A missing limit
 * is an error when required_limit, else QDRANT_DEFAULT_LIMIT. */
int api_parse_common(ApiJob *j, const JsonValue *obj, ApiCommon *c, int required_limit,
                     int dflt_payload);
void api_common_to_search(const ApiCommon *c, CollectionSearch *s);
/* api_job_info: the info of the job's collection, read once per job (the
 * request arena owns it; its counts are those of that moment), or NULL
 * when the collection does not exist. */
const CollectionInfo *api_job_info(ApiJob *j);
/* api_parse_recommend_input reads positive, negative and strategy. */
int api_parse_recommend_input(ApiJob *j, const JsonValue *obj, CollectionRecommend *r);
/* api_parse_discover_input reads a discovery's target (NULL or JSON null:
 * none, a context search) and context (a pair object, an array of pairs,
 * or null) into d's examples; each example is a point id or a dense
 * vector (sparse and multivector examples are 400, not served). */
int api_parse_discover_input(ApiJob *j, const JsonValue *target, const JsonValue *context,
                             CollectionDiscover *d);

/* qdrant_write_collection_telemetry writes a collection's telemetry at a
 * details level: 1 aggregated {vectors, optimizers_status, params}, 2 and
 * more {id, init_time_ms, config} (qdrant_collections.c). */
void qdrant_write_collection_telemetry(ApiJob *j, JsonWriter *w, const char *name, int level);
/* qdrant_segment_uuid names a collection's one segment (optimization
 * reports, telemetry) with a UUID that is stable for the collection: from
 * a SHA-256 of its name and database id. */
#define QDRANT_UUID_LEN 36
void qdrant_segment_uuid(const char *name, uint32_t id, char out[QDRANT_UUID_LEN + 1]);

/* The value of an engine selector for with_vector (api_selector) or
 * with_payload (api_payload_selector: keys are checked JSON paths). */
int api_payload_selector(ApiJob *j, const JsonValue *v, int dflt, CollectionSelector *out);
int api_selector(ApiJob *j, const JsonValue *v, int dflt, CollectionSelector *out);


#endif
