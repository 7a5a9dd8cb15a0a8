/*
 * qdrant_search.c - Qdrant's read routes over many points: search,
 * recommend, discover, query (with prefetch, fusion, MMR, order_by), scroll, count,
 * and their batch and groups forms.
 *
 * The query API is evaluated as a tree: a node's prefetches run first
 * (recursively), then the node's own query either fuses their result
 * lists (rrf, dbsf) or rescores the union of their candidates (nearest,
 * recommend, order_by); a node without prefetches runs its query over the
 * whole collection. A node's filter applies to it and to everything below
 * it. Intermediate results carry ids and scores only; the root's points
 * are read once at the end with the payload and vectors asked for.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/qdrant_bm25.h"
#include "api/qdrant_internal.h"
#include "api/qdrant_multivec.h"
#include "api/qdrant_sparse.h"
#include "base/err.h"
#include "base/util.h"
#include "base/vec.h"

/* RRF's rank constant (Qdrant's DEFAULT_RRF_K, lib/segment/src/common/score_fusion.rs). */
#define QDRANT_RRF_K 60
/* Nesting of prefetches. */
#define QDRANT_MAX_PREFETCH_DEPTH 8
/* MMR candidates when candidates_limit is not given: the limit (Qdrant). */

/* ---- common request parts ---- */

static int parse_params(ApiJob *j, const JsonValue *obj, ApiCommon *c)
{
    const JsonValue *p;
    if (api_get_object(j, obj, "params", &p)) return -1;
    if (!p) return 0;
    uint64_t ef = 0;
    if (api_get_u64(j, p, "hnsw_ef", 0, UINT64_MAX, &ef)) return -1;
    c->ef = ef > 1000000 ? 1000000 : (int)ef;
    if (api_get_bool(j, p, "exact", &c->exact)) return -1;
    return api_parse_quant_params(j, p, &c->quant_ignore, &c->quant_no_rescore,
                                  &c->quant_oversampling);
}

/* api_parse_quant_params reads params.quantization (Qdrant's
 * QuantizationSearchParams: ignore, rescore, oversampling >= 1). */
int api_parse_quant_params(ApiJob *j, const JsonValue *params, int *ignore, int *no_rescore,
                           double *oversampling)
{
    const JsonValue *q;
    if (api_get_object(j, params, "quantization", &q)) return -1;
    if (!q) return 0;
    int rescore = 1;
    if (api_get_bool(j, q, "ignore", ignore)) return -1;
    const JsonValue *r = json_get(q, "rescore");
    if (r && r->type != JSON_NULL && api_get_bool(j, q, "rescore", &rescore)) return -1;
    *no_rescore = !rescore;
    const JsonValue *o = json_get(q, "oversampling");
    if (o && o->type != JSON_NULL) {
        if (o->type != JSON_NUMBER)
            return api_fail(j, QERR_FORMAT, "invalid type, expected f64 at `params.quantization.oversampling`");
        if (!(o->u.num >= 1.0))
            return api_fail(j, QERR_VALIDATION,
                            "oversampling: value %g invalid, must be 1.0 or larger", o->u.num);
        /* Candidates are bounded by HNSW_MAX_EF anyway. */
        *oversampling = o->u.num > 1000 ? 1000 : o->u.num;
    }
    return 0;
}

/* api_parse_common reads filter, params, limit, offset, score_threshold,
 * with_payload, with_vector (and `using` when the route has it). A
 * missing limit takes dflt_limit; required_limit makes it an error. */
int api_parse_common(ApiJob *j, const JsonValue *obj, ApiCommon *c, int required_limit,
                     int dflt_payload)
{
    memset(c, 0, sizeof *c);
    c->limit = QDRANT_DEFAULT_LIMIT;
    const JsonValue *f;
    if (api_get_object(j, obj, "filter", &f) || api_check_filter(j, f)) return -1;
    c->filter = f;
    if (parse_params(j, obj, c)) return -1;
    /* "top" is the old name of limit, still accepted by Qdrant. */
    const char *limit_key = json_get(obj, "limit") ? "limit" : json_get(obj, "top") ? "top" : "limit";
    const JsonValue *lim = json_get(obj, limit_key);
    if (required_limit && (!lim || lim->type == JSON_NULL))
        return api_fail(j, QERR_FORMAT, "missing field `limit`");
    if (api_get_size(j, obj, limit_key, 1, &c->limit)) return -1;
    if (api_get_size(j, obj, "offset", 0, &c->offset)) return -1;
    const JsonValue *t = json_get(obj, "score_threshold");
    if (t && t->type != JSON_NULL) {
        if (api_get_float(j, obj, "score_threshold", &c->threshold)) return -1;
        c->has_threshold = 1;
    }
    if (api_payload_selector(j, json_get(obj, "with_payload"), dflt_payload, &c->with_payload)) return -1;
    const JsonValue *wv = json_get(obj, "with_vector");
    if (!wv) wv = json_get(obj, "with_vectors");
    if (api_selector(j, wv, COLLECTION_SEL_NONE, &c->with_vector)) return -1;
    const char *using = NULL;
    if (api_get_str(j, obj, "using", &using)) return -1;
    c->using = using;
    return api_lookup_parse(j, obj, &c->lookup);
}

void api_common_to_search(const ApiCommon *c, CollectionSearch *s)
{
    memset(s, 0, sizeof *s);
    s->using = c->using;
    s->limit = c->limit;
    s->offset = c->offset;
    s->ef = c->ef;
    s->exact = c->exact;
    s->quant_ignore = c->quant_ignore;
    s->quant_no_rescore = c->quant_no_rescore;
    s->quant_oversampling = c->quant_oversampling;
    s->filter = c->filter;
    s->has_score_threshold = c->has_threshold;
    s->score_threshold = c->threshold;
    s->with_payload = c->with_payload;
    s->with_vectors = c->with_vector;
}

/* NamedVectorStruct: [floats], {"name": N, "vector": [floats]}, or
 * NamedSparseVector {"name": N, "vector": {"indices", "values"}} (into
 * *sparse). */
static int parse_named_vector(ApiJob *j, const JsonValue *v, const char **using, float **vec,
                              size_t *dim, const CollectionSparseVector **sparse)
{
    if (!v) return api_fail(j, QERR_FORMAT, "missing field `vector`");
    if (v->type == JSON_ARRAY) return api_floats(j, v, "vector", vec, dim);
    if (api_inference_object(v)) return api_inference(j, v, "vector", vec, dim, sparse);
    if (v->type == JSON_OBJECT) {
        const char *name = json_as_str(json_get(v, "name"));
        const JsonValue *inner = json_get(v, "vector");
        if (!name || !inner)
            return api_fail(j, QERR_FORMAT,
                            "data did not match any variant of untagged enum NamedVectorStruct");
        if (api_inference_object(inner)) {
            *using = name;
            return api_inference(j, inner, "vector", vec, dim, sparse);
        }
        *using = name;
        if (inner->type == JSON_OBJECT) return qdrant_sparse_vector(j, inner, "vector.vector", sparse);
        return api_floats(j, inner, "vector", vec, dim);
    }
    return api_fail(j, QERR_FORMAT, "data did not match any variant of untagged enum NamedVectorStruct");
}

/* ---- search ---- */

typedef struct {
    CollectionSearch s;
} SearchReq;

static int parse_search(ApiJob *j, const JsonValue *obj, SearchReq *r)
{
    if (obj->type != JSON_OBJECT)
        return api_fail(j, QERR_FORMAT, "invalid type, expected struct SearchRequest");
    snprintf(j->vpath + strlen(j->vpath), sizeof j->vpath - strlen(j->vpath), "search_request.");
    ApiCommon c;
    if (api_parse_common(j, obj, &c, 1, COLLECTION_SEL_NONE)) return -1;
    api_common_to_search(&c, &r->s);
    float *vec = NULL;
    size_t dim = 0;
    const char *using = c.using;
    if (parse_named_vector(j, json_get(obj, "vector"), &using, &vec, &dim, &r->s.sparse)) return -1;
    r->s.using = using;
    r->s.vector = vec;
    r->s.dim = dim;
    return 0;
}

/* engine_error maps an engine error of a query to Qdrant's wording: a
 * wrong dimension is "Wrong input: Vector dimension error: ...". */
static int engine_error(ApiJob *j, int rc, const char *err)
{
    return api_fail_collection(j, rc, err);
}

const CollectionInfo *api_job_info(ApiJob *j)
{
    if (j->info) return j->info;
    CollectionInfo *info = arena_alloc(api_arena(j), sizeof *info);
    if (collection_info(j->api->db, j->collection, info)) return NULL;
    j->info = info;
    return info;
}

static int run_search(ApiJob *j, const SearchReq *r, CollectionResult *out)
{
    char err[512] = "";
    int rc = collection_search(j->api->db, j->collection, &r->s, api_arena(j), out, err, sizeof err);
    if (rc) return engine_error(j, rc, err);
    return 0;
}

static void search(ApiJob *j)
{
    if (api_body_object(j, 0)) return;
    SearchReq r;
    CollectionResult out;
    if (parse_search(j, j->body, &r) || run_search(j, &r, &out)) return;
    qdrant_write_points(api_result(j), &out, 1);
}

/* parse_batch_list returns the "searches" array of a batch body. */
static const JsonValue *batch_list(ApiJob *j, const char *key)
{
    if (api_body_object(j, 0)) return NULL;
    const JsonValue *arr;
    if (api_get_array(j, j->body, key, &arr)) return NULL;
    if (!arr) {
        api_fail(j, QERR_FORMAT, "missing field `%s`", key);
        return NULL;
    }
    if (arr->len > QDRANT_MAX_BATCH_REQUESTS) {
        api_fail(j, QERR_BAD_REQUEST, "at most %d requests per batch", QDRANT_MAX_BATCH_REQUESTS);
        return NULL;
    }
    return arr;
}

static void search_batch(ApiJob *j)
{
    const JsonValue *arr = batch_list(j, "searches");
    if (!arr) return;
    CollectionResult *res = arena_calloc(api_arena(j), (arr->len + 1) * sizeof *res);
    for (uint32_t i = 0; i < arr->len; i++) {
        SearchReq r;
        snprintf(j->vpath, sizeof j->vpath, "searches[%u].", i);
        if (parse_search(j, api_item(j, arr, i), &r) || run_search(j, &r, &res[i])) return;
    }
    JsonWriter *w = api_result(j);
    jw_array_begin(w);
    for (uint32_t i = 0; i < arr->len; i++) qdrant_write_points(w, &res[i], 1);
    jw_array_end(w);
}

/* ---- recommend ---- */

static int parse_strategy(ApiJob *j, const JsonValue *obj, CollectionRecoStrategy *out)
{
    const char *s = NULL;
    if (api_get_str(j, obj, "strategy", &s)) return -1;
    *out = COLLECTION_RECO_AVERAGE_VECTOR;
    if (!s || !strcmp(s, "average_vector")) return 0;
    if (!strcmp(s, "best_score")) *out = COLLECTION_RECO_BEST_SCORE;
    else if (!strcmp(s, "sum_scores")) *out = COLLECTION_RECO_SUM_SCORES;
    else
        return api_fail(j, QERR_FORMAT,
                        "unknown variant `%s`, expected one of `average_vector`, `best_score`, `sum_scores`",
                        s);
    return 0;
}

/* parse_examples splits an array of RecommendExample (point ids, dense,
 * sparse or multi vectors) into ids and vectors; *dim gets the dense
 * vectors' length. */
static int parse_examples(ApiJob *j, const JsonValue *arr, const char *what, const PointId **ids,
                          size_t *n_ids, const float *const **vecs, size_t *n_vecs, size_t *dim,
                          const CollectionSparseVector **sparse, size_t *n_sparse,
                          const CollectionMultiVector **multi, size_t *n_multi)
{
    *ids = NULL;
    *vecs = NULL;
    *sparse = NULL;
    *multi = NULL;
    *n_ids = *n_vecs = *n_sparse = *n_multi = 0;
    if (!arr || arr->type == JSON_NULL) return 0;
    if (arr->type != JSON_ARRAY)
        return api_fail(j, QERR_FORMAT, "invalid type, expected a sequence at `%s`", what);
    Arena *a = api_arena(j);
    PointId *pi = arena_alloc(a, (arr->len + 1) * sizeof *pi);
    const float **pv = arena_alloc(a, (arr->len + 1) * sizeof *pv);
    CollectionSparseVector *ps = arena_alloc(a, (arr->len + 1) * sizeof *ps);
    CollectionMultiVector *pm = arena_alloc(a, (arr->len + 1) * sizeof *pm);
    for (uint32_t i = 0; i < arr->len; i++) {
        JsonValue item = json_item(arr, i); /* ids of numbers come packed */
        const JsonValue *x = &item;
        if (qdrant_is_multi(x)) {
            const CollectionMultiVector *mv;
            char path[sizeof j->vpath + 64];
            snprintf(path, sizeof path, "%s%s[%u]", j->vpath, what, i);
            if (qdrant_multivec_vector(j, x, path, &mv)) return -1;
            pm[(*n_multi)++] = *mv;
        } else if (api_inference_object(x) && qdrant_bm25_model(x)) {
            /* A BM25 Document is a sparse example. */
            const CollectionSparseVector *sv;
            float *f;
            size_t d;
            if (api_inference(j, x, what, &f, &d, &sv)) return -1;
            ps[(*n_sparse)++] = *sv;
        } else if (x->type == JSON_ARRAY || api_inference_object(x)) {
            float *f;
            size_t d;
            if (x->type == JSON_ARRAY ? api_floats(j, x, what, &f, &d)
                                      : api_inference(j, x, what, &f, &d, NULL))
                return -1;
            if (*dim && d != *dim)
                return api_fail(j, QERR_BAD_INPUT, "Vector dimension error: expected dim: %zu, got %zu",
                                *dim, d);
            *dim = d;
            pv[(*n_vecs)++] = f;
        } else if (x->type == JSON_OBJECT) {
            const CollectionSparseVector *sv;
            if (qdrant_sparse_vector(j, x, what, &sv)) return -1;
            ps[(*n_sparse)++] = *sv;
        } else {
            if (api_point_id(j, x, what, &pi[*n_ids])) return -1;
            (*n_ids)++;
        }
    }
    *ids = pi;
    *vecs = pv;
    *sparse = ps;
    *multi = pm;
    return 0;
}

int api_parse_recommend_input(ApiJob *j, const JsonValue *obj, CollectionRecommend *r)
{
    size_t dim = 0;
    if (parse_examples(j, json_get(obj, "positive"), "positive", &r->positive, &r->n_positive,
                       &r->positive_vectors, &r->n_positive_vectors, &dim, &r->positive_sparse,
                       &r->n_positive_sparse, &r->positive_multi, &r->n_positive_multi))
        return -1;
    if (parse_examples(j, json_get(obj, "negative"), "negative", &r->negative, &r->n_negative,
                       &r->negative_vectors, &r->n_negative_vectors, &dim, &r->negative_sparse,
                       &r->n_negative_sparse, &r->negative_multi, &r->n_negative_multi))
        return -1;
    if (parse_strategy(j, obj, &r->strategy)) return -1;
    r->search.dim = dim;
    return 0;
}

static int parse_recommend(ApiJob *j, const JsonValue *obj, CollectionRecommend *r)
{
    memset(r, 0, sizeof *r);
    if (obj->type != JSON_OBJECT)
        return api_fail(j, QERR_FORMAT, "invalid type, expected struct RecommendRequest");
    snprintf(j->vpath + strlen(j->vpath), sizeof j->vpath - strlen(j->vpath), "recommend_request.");
    ApiCommon c;
    if (api_parse_common(j, obj, &c, 1, COLLECTION_SEL_NONE)) return -1;
    api_common_to_search(&c, &r->search);
    if (api_parse_recommend_input(j, obj, r) || api_lookup_recommend(j, &c.lookup, r)) return -1;
    /* The REST recommend routes' own checks (recommendations.rs). */
    size_t pos = r->n_positive + r->n_positive_vectors + r->n_positive_sparse + r->n_positive_multi;
    size_t neg = r->n_negative + r->n_negative_vectors + r->n_negative_sparse + r->n_negative_multi;
    if (r->strategy == COLLECTION_RECO_AVERAGE_VECTOR && pos == 0)
        return api_fail(j, QERR_BAD_REQUEST, "At least one positive vector ID required with this strategy");
    if (pos + neg == 0)
        return api_fail(j, QERR_BAD_REQUEST,
                        "At least one positive or negative vector ID required with this strategy");
    return 0;
}

static int run_recommend(ApiJob *j, const CollectionRecommend *r, CollectionResult *out)
{
    char err[512] = "";
    int rc = collection_recommend(j->api->db, j->collection, r, api_arena(j), out, err, sizeof err);
    if (rc) return engine_error(j, rc, err);
    return 0;
}

static void recommend(ApiJob *j)
{
    if (api_body_object(j, 0)) return;
    CollectionRecommend r;
    CollectionResult out;
    if (parse_recommend(j, j->body, &r) || run_recommend(j, &r, &out)) return;
    qdrant_write_points(api_result(j), &out, 1);
}

static void recommend_batch(ApiJob *j)
{
    const JsonValue *arr = batch_list(j, "searches");
    if (!arr) return;
    CollectionResult *res = arena_calloc(api_arena(j), (arr->len + 1) * sizeof *res);
    for (uint32_t i = 0; i < arr->len; i++) {
        CollectionRecommend r;
        snprintf(j->vpath, sizeof j->vpath, "searches[%u].", i);
        if (parse_recommend(j, api_item(j, arr, i), &r) || run_recommend(j, &r, &res[i])) return;
    }
    JsonWriter *w = api_result(j);
    jw_array_begin(w);
    for (uint32_t i = 0; i < arr->len; i++) qdrant_write_points(w, &res[i], 1);
    jw_array_end(w);
}

/* ---- discover ---- */

/* parse_example reads a RecommendExample / VectorInput of a discovery. */
static int parse_example(ApiJob *j, const JsonValue *v, const char *what, CollectionExample *x)
{
    memset(x, 0, sizeof *x);
    if (!v || v->type == JSON_NULL) return api_fail(j, QERR_FORMAT, "missing field `%s`", what);
    if (qdrant_is_multi(v) || (v->type == JSON_OBJECT && qdrant_is_sparse(v)) ||
        (api_inference_object(v) && qdrant_bm25_model(v)))
        return api_fail(j, QERR_BAD_REQUEST,
                        "%s: sparse and multivector examples of discovery and context search are not supported by vitrine",
                        what);
    if (v->type == JSON_ARRAY) {
        float *f;
        if (api_floats(j, v, what, &f, &x->dim)) return -1;
        x->vector = f;
        return 0;
    }
    if (api_inference_object(v)) {
        float *f;
        if (api_inference(j, v, what, &f, &x->dim, NULL)) return -1;
        x->vector = f;
        return 0;
    }
    if (v->type == JSON_NUMBER || v->type == JSON_STRING) {
        x->by_id = 1;
        return api_point_id(j, v, what, &x->id);
    }
    return api_fail(j, QERR_FORMAT, "Expected some form of vector or id at `%s`", what);
}

int api_parse_discover_input(ApiJob *j, const JsonValue *target, const JsonValue *context,
                             CollectionDiscover *d)
{
    Arena *a = api_arena(j);
    d->target = NULL;
    d->positive = d->negative = NULL;
    d->n_pairs = 0;
    if (target && target->type != JSON_NULL) {
        CollectionExample *t = arena_alloc(a, sizeof *t);
        if (parse_example(j, target, "target", t)) return -1;
        d->target = t;
    }
    if (!context || context->type == JSON_NULL) return 0;
    /* Qdrant's MaybeOneOrMany: one pair or a list of them. */
    if (context->type != JSON_ARRAY && context->type != JSON_OBJECT)
        return api_fail(j, QERR_FORMAT, "invalid type, expected a sequence of context pairs at `context`");
    size_t n = context->type == JSON_ARRAY ? context->len : 1;
    CollectionExample *pos = arena_alloc(a, (n + 1) * sizeof *pos);
    CollectionExample *neg = arena_alloc(a, (n + 1) * sizeof *neg);
    for (size_t i = 0; i < n; i++) {
        const JsonValue *pair = context->type == JSON_ARRAY ? api_item(j, context, i) : context;
        if (!pair || pair->type != JSON_OBJECT)
            return api_fail(j, QERR_FORMAT, "invalid type, expected struct ContextPair at `context`");
        if (parse_example(j, json_get(pair, "positive"), "positive", &pos[i]) ||
            parse_example(j, json_get(pair, "negative"), "negative", &neg[i]))
            return -1;
    }
    d->positive = pos;
    d->negative = neg;
    d->n_pairs = n;
    return 0;
}

static int parse_discover(ApiJob *j, const JsonValue *obj, CollectionDiscover *d)
{
    memset(d, 0, sizeof *d);
    if (obj->type != JSON_OBJECT)
        return api_fail(j, QERR_FORMAT, "invalid type, expected struct DiscoverRequest");
    snprintf(j->vpath + strlen(j->vpath), sizeof j->vpath - strlen(j->vpath), "discover_request.");
    ApiCommon c;
    if (api_parse_common(j, obj, &c, 1, COLLECTION_SEL_NONE)) return -1;
    api_common_to_search(&c, &d->search);
    /* DiscoverRequest has no score_threshold (Qdrant searches without one). */
    d->search.has_score_threshold = 0;
    const JsonValue *sk = json_get(obj, "shard_key");
    if (sk && sk->type != JSON_NULL) return api_fail(j, QERR_UNSUPPORTED, "shard keys");
    if (api_parse_discover_input(j, json_get(obj, "target"), json_get(obj, "context"), d) ||
        api_lookup_discover(j, &c.lookup, d))
        return -1;
    /* discovery.rs: a request needs a target, context pairs, or both. */
    if (!d->target && !d->n_pairs)
        return api_fail(j, QERR_BAD_REQUEST, "target and/or context_pairs must be specified");
    return 0;
}

static int run_discover(ApiJob *j, const CollectionDiscover *d, CollectionResult *out)
{
    char err[512] = "";
    int rc = collection_discover(j->api->db, j->collection, d, api_arena(j), out, err, sizeof err);
    if (rc) return engine_error(j, rc, err);
    return 0;
}

static void discover(ApiJob *j)
{
    if (api_body_object(j, 0)) return;
    CollectionDiscover d;
    CollectionResult out;
    if (parse_discover(j, j->body, &d) || run_discover(j, &d, &out)) return;
    qdrant_write_points(api_result(j), &out, 1);
}

static void discover_batch(ApiJob *j)
{
    const JsonValue *arr = batch_list(j, "searches");
    if (!arr) return;
    CollectionDiscover *d = arena_calloc(api_arena(j), (arr->len + 1) * sizeof *d);
    CollectionResult *res = arena_calloc(api_arena(j), (arr->len + 1) * sizeof *res);
    /* Qdrant validates the whole batch before it searches. */
    for (uint32_t i = 0; i < arr->len; i++) {
        snprintf(j->vpath, sizeof j->vpath, "searches[%u].", i);
        if (parse_discover(j, api_item(j, arr, i), &d[i])) return;
    }
    for (uint32_t i = 0; i < arr->len; i++)
        if (run_discover(j, &d[i], &res[i])) return;
    JsonWriter *w = api_result(j);
    jw_array_begin(w);
    for (uint32_t i = 0; i < arr->len; i++) qdrant_write_points(w, &res[i], 1);
    jw_array_end(w);
}

/* ---- scroll and count ---- */

static void scroll(ApiJob *j)
{
    if (api_body_object(j, 1)) return;
    const JsonValue *body = j->body;
    CollectionScroll s;
    memset(&s, 0, sizeof s);
    s.limit = QDRANT_DEFAULT_LIMIT;
    PointId offset;
    const JsonValue *off = json_get(body, "offset");
    if (off && off->type != JSON_NULL) {
        if (api_point_id(j, off, "offset", &offset)) return;
        s.offset = &offset;
    }
    snprintf(j->vpath, sizeof j->vpath, "scroll_request.");
    if (api_get_size(j, body, "limit", 1, &s.limit)) return;
    const JsonValue *f;
    if (api_get_object(j, body, "filter", &f) || api_check_filter(j, f)) return;
    s.filter = f;
    if (api_payload_selector(j, json_get(body, "with_payload"), COLLECTION_SEL_ALL, &s.with_payload)) return;
    const JsonValue *wv = json_get(body, "with_vector");
    if (!wv) wv = json_get(body, "with_vectors");
    if (api_selector(j, wv, COLLECTION_SEL_NONE, &s.with_vectors)) return;
    const JsonValue *ob = json_get(body, "order_by");
    CollectionResult r;
    char err[512] = "";
    int rc;
    if (ob && ob->type != JSON_NULL) {
        /* Ordered by a payload key: one page, no next offset (Qdrant). */
        if (s.offset)
            return (void)api_fail(j, QERR_BAD_INPUT,
                                  "Cannot use an `offset` when using `order_by`. The alternative for paging is "
                                  "to use `order_by.start_from` and a filter to exclude the IDs that you've "
                                  "already seen for the `order_by.start_from` value");
        CollectionOrderBy o;
        if (qdrant_parse_order_by(j, ob, &o)) return;
        o.limit = s.limit;
        o.filter = s.filter;
        o.with_payload = s.with_payload;
        o.with_vectors = s.with_vectors;
        rc = collection_order_by(j->api->db, j->collection, &o, api_arena(j), &r, err, sizeof err);
    } else {
        rc = collection_scroll(j->api->db, j->collection, &s, api_arena(j), &r, err, sizeof err);
    }
    if (rc) return (void)engine_error(j, rc, err);
    JsonWriter *w = api_result(j);
    jw_object_begin(w);
    jw_key(w, "points");
    qdrant_write_points(w, &r, 0);
    jw_key(w, "next_page_offset");
    if (r.has_next) point_id_write(w, &r.next_offset);
    else jw_null(w);
    jw_object_end(w);
}

static void count(ApiJob *j)
{
    if (api_body_object(j, 1)) return;
    const JsonValue *f;
    if (api_get_object(j, j->body, "filter", &f) || api_check_filter(j, f)) return;
    int exact = 1;
    if (api_get_bool(j, j->body, "exact", &exact)) return;
    uint64_t n;
    char err[512] = "";
    int rc = collection_count(j->api->db, j->collection, f, &n, err, sizeof err);
    if (rc) return (void)engine_error(j, rc, err);
    JsonWriter *w = api_result(j);
    jw_object_begin(w);
    jw_key(w, "count");
    jw_uint(w, n);
    jw_object_end(w);
}

const ApiRoute qdrant_search_routes[] = {
    { "POST", "/collections/{collection_name}/points/search", API_READ, NULL, search },
    { "POST", "/collections/{collection_name}/points/search/batch", API_READ, NULL, search_batch },
    { "POST", "/collections/{collection_name}/points/recommend", API_READ, NULL, recommend },
    { "POST", "/collections/{collection_name}/points/recommend/batch", API_READ, NULL,
      recommend_batch },
    { "POST", "/collections/{collection_name}/points/discover", API_READ, NULL, discover },
    { "POST", "/collections/{collection_name}/points/discover/batch", API_READ, NULL,
      discover_batch },
    { "POST", "/collections/{collection_name}/points/scroll", API_READ, NULL, scroll },
    { "POST", "/collections/{collection_name}/points/count", API_READ, NULL, count },
    { NULL, NULL, 0, NULL, NULL },
};
