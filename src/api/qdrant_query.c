/*
 * qdrant_query.c - Qdrant's universal query API: POST .../points/query
 * and /query/batch.
 *
 * A request is a tree of nodes (the root and its prefetches). Evaluation
 * follows Qdrant's planner (lib/shard/src/query/planned_query.rs):
 *   - a node without prefetches is a "leaf": its query runs over the whole
 *     collection under the filters of its ancestors and its own (nearest,
 *     recommend, discover, context, order_by, no query = id order, mmr = nearest over
 *     candidates_limit then MMR);
 *   - a node with prefetches evaluates them, then either fuses their
 *     ranked lists (rrf, dbsf) or rescores the union of their points with
 *     its own query (only those points are candidates);
 *   - every point id the request refers to (query by id, recommend,
 *     discover and context examples) is excluded from the results;
 *   - the root fetches limit + offset, drops the offset, and reads the
 *     payload and vectors of what is left.
 * Scores: searches give the distance's score; fusion gives its own; points
 * that come from an order or a scroll get 1.0 (and order_by an
 * order_value), as Qdrant gives them.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "api/qdrant_multivec.h"
#include "api/qdrant_query.h"
#include "api/qdrant_sparse.h"
#include "base/err.h"
#include "base/util.h"
#include "base/vec.h"

/* RRF's rank constant: Qdrant's DEFAULT_RRF_K
 * (lib/segment/src/common/reciprocal_rank_fusion.rs); score = 1 / (rank + k)
 * with rank counted from 0. */
#define QDRANT_RRF_K 2
/* Prefetch nesting Qdrant accepts (MAX_PREFETCH_DEPTH). */
#define QDRANT_MAX_PREFETCH_DEPTH 64
/* MMR's default lambda = 1 - diversity (DEFAULT_MMR_LAMBDA). */
#define QDRANT_MMR_DEFAULT_LAMBDA 0.5f
/* Largest MMR candidate pool (Qdrant validates candidates_limit <= 16384). */
#define QDRANT_MMR_MAX_CANDIDATES 16384

/* ---- filters the query composes ---- */

static JsonValue *dom_object1(Arena *a, const char *key, const JsonValue *value)
{
    JsonValue *obj = arena_calloc(a, sizeof *obj);
    obj->type = JSON_OBJECT;
    obj->len = 1;
    obj->u.members = arena_calloc(a, sizeof *obj->u.members);
    obj->u.members[0].key = key;
    obj->u.members[0].key_len = (uint32_t)strlen(key);
    obj->u.members[0].value = *value;
    return obj;
}

static JsonValue *dom_array(Arena *a, size_t n)
{
    JsonValue *arr = arena_calloc(a, sizeof *arr);
    arr->type = JSON_ARRAY;
    arr->len = (uint32_t)n;
    arr->u.items = arena_calloc(a, (n ? n : 1) * sizeof *arr->u.items);
    return arr;
}

/* filter_and gives the conjunction of two filters (either may be NULL):
 * {"must": [x, y]}, nested filters being conditions in Qdrant's language. */
const JsonValue *qdrant_filter_and(Arena *a, const JsonValue *x, const JsonValue *y)
{
    if (!x) return y;
    if (!y) return x;
    JsonValue *arr = dom_array(a, 2);
    arr->u.items[0] = *x;
    arr->u.items[1] = *y;
    return dom_object1(a, "must", arr);
}

/* filter_ids gives {"must"|"must_not": [{"has_id": [ids]}]}. */
const JsonValue *qdrant_filter_ids(Arena *a, const char *clause, const PointId *ids, size_t n)
{
    JsonValue *arr = dom_array(a, n);
    for (size_t i = 0; i < n; i++) {
        JsonValue *it = &arr->u.items[i];
        if (ids[i].kind == POINT_ID_NUM) {
            it->type = JSON_NUMBER;
            it->num_kind = ids[i].num > INT64_MAX ? JSON_NUM_UINT : JSON_NUM_INT;
            it->n.u = ids[i].num;
            it->u.num = (double)ids[i].num;
        } else {
            char buf[POINT_ID_TEXT_MAX];
            point_id_format(&ids[i], buf);
            it->type = JSON_STRING;
            it->len = POINT_ID_UUID_TEXT_LEN;
            it->u.str = arena_strndup(a, buf, POINT_ID_UUID_TEXT_LEN);
        }
    }
    JsonValue *cond = dom_object1(a, "has_id", arr);
    JsonValue *list = dom_array(a, 1);
    list->u.items[0] = *cond;
    return dom_object1(a, clause, list);
}

/* ---- parsing ---- */

void qdrant_query_add_ref(ApiJob *j, QueryReq *q, const PointId *id)
{
    if (q->n_refs == q->cap_refs) {
        size_t cap = q->cap_refs ? q->cap_refs * 2 : 16;
        PointId *n = arena_alloc(api_arena(j), cap * sizeof *n);
        if (q->n_refs) memcpy(n, q->refs, q->n_refs * sizeof *n);
        q->refs = n;
        q->cap_refs = cap;
    }
    q->refs[q->n_refs++] = *id;
}

/* parse_nearest reads a VectorInput: a dense, multi or sparse vector or a
 * point id. */
static int parse_nearest(ApiJob *j, QueryReq *q, const JsonValue *v, QNode *n)
{
    if (v->type == JSON_ARRAY) {
        if (qdrant_is_multi(v)) {
            char path[128];
            snprintf(path, sizeof path, "%squery", j->vpath);
            return qdrant_multivec_vector(j, v, path, &n->multi);
        }
        return api_floats(j, v, "query", &n->vector, &n->dim);
    }
    if (v->type == JSON_NUMBER || v->type == JSON_STRING) {
        if (api_point_id(j, v, "query", &n->id)) return -1;
        n->by_id = 1;
        qdrant_query_add_ref(j, q, &n->id);
        return 0;
    }
    if (v->type == JSON_OBJECT) {
        if (qdrant_is_sparse(v)) return qdrant_sparse_vector(j, v, "query", &n->sparse);
        if (api_inference_object(v)) return api_inference(j, v, "query", &n->vector, &n->dim, &n->sparse);
    }
    return api_fail(j, QERR_FORMAT, "Expected some form of vector, id, or a type of query");
}

/* add_discover_refs excludes a discovery's example points from results. */
static void add_discover_refs(ApiJob *j, QueryReq *q, const CollectionDiscover *d)
{
    if (d->target && d->target->by_id) qdrant_query_add_ref(j, q, &d->target->id);
    for (size_t i = 0; i < d->n_pairs; i++) {
        if (d->positive[i].by_id) qdrant_query_add_ref(j, q, &d->positive[i].id);
        if (d->negative[i].by_id) qdrant_query_add_ref(j, q, &d->negative[i].id);
    }
}

static int parse_order_by(ApiJob *j, const JsonValue *v, QNode *n)
{
    n->kind = QN_ORDER_BY;
    CollectionOrderBy o;
    if (qdrant_parse_order_by(j, v, &o)) return -1;
    n->order_key = o.key;
    n->desc = o.desc;
    n->has_start = o.has_start;
    n->start = o.start;
    return 0;
}

/* parse_query reads QueryInterface into n (kind and its operands). */
static int parse_query(ApiJob *j, QueryReq *q, const JsonValue *v, QNode *n)
{
    if (!v || v->type == JSON_NULL) {
        n->kind = QN_NONE;
        return 0;
    }
    if (v->type != JSON_OBJECT || json_get(v, "indices")) {
        n->kind = QN_NEAREST;
        return parse_nearest(j, q, v, n);
    }
    const JsonValue *x;
    if ((x = json_get(v, "nearest"))) {
        n->kind = QN_NEAREST;
        if (parse_nearest(j, q, x, n)) return -1;
        const JsonValue *mmr;
        if (api_get_object(j, v, "mmr", &mmr)) return -1;
        if (mmr) {
            n->kind = QN_MMR;
            n->lambda = QDRANT_MMR_DEFAULT_LAMBDA;
            const JsonValue *d = json_get(mmr, "diversity");
            if (d && d->type != JSON_NULL) {
                if (d->type != JSON_NUMBER)
                    return api_fail(j, QERR_FORMAT, "invalid type, expected f32 at `mmr.diversity`");
                if (d->u.num < 0 || d->u.num > 1)
                    return api_fail(j, QERR_VALIDATION,
                                    "%squery.mmr.diversity: value %g invalid, must be from 0.0 to 1.0",
                                    j->vpath, d->u.num);
                n->lambda = 1.0f - (float)d->u.num;
            }
            uint64_t cl = 0;
            if (api_get_u64(j, mmr, "candidates_limit", 0, QDRANT_MMR_MAX_CANDIDATES, &cl)) return -1;
            n->candidates_limit = (size_t)cl;
        }
        return 0;
    }
    if ((x = json_get(v, "recommend"))) {
        if (x->type != JSON_OBJECT)
            return api_fail(j, QERR_FORMAT, "invalid type, expected struct RecommendInput");
        n->kind = QN_RECOMMEND;
        if (api_parse_recommend_input(j, x, &n->reco)) return -1;
        for (size_t i = 0; i < n->reco.n_positive; i++) qdrant_query_add_ref(j, q, &n->reco.positive[i]);
        for (size_t i = 0; i < n->reco.n_negative; i++) qdrant_query_add_ref(j, q, &n->reco.negative[i]);
        return 0;
    }
    if ((x = json_get(v, "fusion"))) {
        const char *f = json_as_str(x);
        n->kind = QN_FUSION;
        n->rrf_k = QDRANT_RRF_K;
        if (f && !strcmp(f, "rrf")) return 0;
        if (f && !strcmp(f, "dbsf")) {
            n->dbsf = 1;
            return 0;
        }
        return api_fail(j, QERR_FORMAT, "unknown variant `%s`, expected `rrf` or `dbsf`", f ? f : "?");
    }
    if ((x = json_get(v, "rrf"))) {
        n->kind = QN_FUSION;
        n->rrf_k = QDRANT_RRF_K;
        if (x->type != JSON_OBJECT)
            return api_fail(j, QERR_FORMAT, "invalid type, expected struct Rrf at `rrf`");
        uint64_t k = QDRANT_RRF_K;
        if (api_get_u64(j, x, "k", 1, UINT64_MAX, &k)) return -1;
        n->rrf_k = (size_t)k;
        const JsonValue *w = json_get(x, "weights");
        if (w && w->type != JSON_NULL && api_floats(j, w, "rrf.weights", &n->weights, &n->n_weights))
            return -1;
        return 0;
    }
    if ((x = json_get(v, "order_by"))) return parse_order_by(j, x, n);
    if ((x = json_get(v, "discover"))) {
        if (x->type != JSON_OBJECT)
            return api_fail(j, QERR_FORMAT, "invalid type, expected struct DiscoverInput");
        const JsonValue *t = json_get(x, "target");
        if (!t || t->type == JSON_NULL) return api_fail(j, QERR_FORMAT, "missing field `target`");
        n->kind = QN_DISCOVER;
        if (api_parse_discover_input(j, t, json_get(x, "context"), &n->disc)) return -1;
        add_discover_refs(j, q, &n->disc);
        return 0;
    }
    if ((x = json_get(v, "context"))) {
        /* A context query without pairs scores every point 0, as Qdrant's. */
        n->kind = QN_DISCOVER;
        if (api_parse_discover_input(j, NULL, x, &n->disc)) return -1;
        add_discover_refs(j, q, &n->disc);
        return 0;
    }
    if (json_get(v, "formula")) {
        n->kind = QN_FORMULA;
        return qdrant_formula_parse(j, v, &n->formula);
    }
    if ((x = json_get(v, "sample"))) {
        if (x->type != JSON_STRING || strcmp(x->u.str, "random"))
            return api_fail(j, QERR_FORMAT, "unknown variant, expected `random` at `sample`");
        n->kind = QN_SAMPLE;
        return 0;
    }
    if ((x = json_get(v, "relevance_feedback"))) {
        n->kind = QN_FEEDBACK;
        return qdrant_feedback_parse(j, q, x, &n->feedback);
    }
    if (api_inference_object(v)) {
        n->kind = QN_NEAREST;
        return parse_nearest(j, q, v, n);
    }
    return api_fail(j, QERR_FORMAT, "Expected some form of vector, id, or a type of query");
}

/* resolve_lookup replaces the ids of n's query by the vectors of the
 * lookup collection (lookup_from). */
static int resolve_lookup(ApiJob *j, const ApiLookup *lk, QNode *n)
{
    switch (n->kind) {
    case QN_NEAREST:
    case QN_MMR: {
        if (!n->by_id) return 0;
        ApiLookupVector v;
        if (api_lookup_vector(j, lk, n->using, &n->id, &v)) return -1;
        n->by_id = 0;
        n->vector = (float *)v.dense;
        n->dim = v.dim;
        n->sparse = v.sparse;
        n->multi = v.multi;
        return 0;
    }
    case QN_RECOMMEND: return api_lookup_recommend(j, lk, &n->reco);
    case QN_DISCOVER:
        n->disc.search.using = n->using;
        return api_lookup_discover(j, lk, &n->disc);
    default: return 0;
    }
}

static int parse_node(ApiJob *j, QueryReq *q, const JsonValue *obj, QNode *n, int depth,
                      const char *path)
{
    if (obj->type != JSON_OBJECT)
        return api_fail(j, QERR_FORMAT, "invalid type, expected struct Prefetch");
    if (depth > QDRANT_MAX_PREFETCH_DEPTH)
        return api_fail(j, QERR_BAD_INPUT, "prefetches depth %d exceeds max depth %d", depth,
                        QDRANT_MAX_PREFETCH_DEPTH);
    /* Validation messages name the field's path: internal.prefetch[0].limit. */
    size_t vlen = strlen(j->vpath);
    snprintf(j->vpath + vlen, sizeof j->vpath - vlen, "%s", path);
    n->limit = QDRANT_DEFAULT_LIMIT;
    if (api_get_size(j, obj, "limit", 1, &n->limit)) return -1;
    const JsonValue *f;
    if (api_get_object(j, obj, "filter", &f) || api_check_filter(j, f)) return -1;
    n->filter = f;
    if (api_get_str(j, obj, "using", &n->using)) return -1;
    const JsonValue *p;
    if (api_get_object(j, obj, "params", &p)) return -1;
    if (p) {
        uint64_t ef = 0;
        if (api_get_u64(j, p, "hnsw_ef", 0, UINT64_MAX, &ef)) return -1;
        n->ef = ef > 1000000 ? 1000000 : (int)ef;
        if (api_get_bool(j, p, "exact", &n->exact)) return -1;
        if (api_parse_quant_params(j, p, &n->quant_ignore, &n->quant_no_rescore,
                                   &n->quant_oversampling))
            return -1;
    }
    const JsonValue *t = json_get(obj, "score_threshold");
    if (t && t->type != JSON_NULL) {
        if (api_get_float(j, obj, "score_threshold", &n->threshold)) return -1;
        n->has_threshold = 1;
    }
    ApiLookup lk;
    if (api_lookup_parse(j, obj, &lk)) return -1;
    size_t refs_before = q->n_refs;
    if (parse_query(j, q, json_get(obj, "query"), n)) return -1;
    if (n->kind == QN_RECOMMEND) n->reco.search.using = n->using;
    if (lk.set && resolve_lookup(j, &lk, n)) return -1;
    /* Ids looked up in another collection are no points of this one. */
    if (lk.set) q->n_refs = refs_before;

    const JsonValue *pf = json_get(obj, "prefetch");
    if (pf && pf->type != JSON_NULL) {
        size_t np = pf->type == JSON_ARRAY ? pf->len : 1;
        n->prefetch = arena_calloc(api_arena(j), (np ? np : 1) * sizeof *n->prefetch);
        n->n_prefetch = np;
        for (size_t i = 0; i < np; i++) {
            const JsonValue *one = pf->type == JSON_ARRAY ? api_item(j, pf, i) : pf;
            char sub[32];
            snprintf(sub, sizeof sub, "prefetch[%zu].", i);
            if (parse_node(j, q, one, &n->prefetch[i], depth + 1, sub)) return -1;
        }
    }
    j->vpath[vlen] = '\0';
    /* Qdrant's CollectionQueryRequest::validation, in its order. */
    if (n->n_prefetch && n->kind == QN_NONE)
        return api_fail(j, QERR_BAD_REQUEST,
                        "A query is needed to merge the prefetches. Can't have prefetches without defining a query.");
    if (n->has_threshold && n->kind == QN_NONE)
        return api_fail(j, QERR_BAD_REQUEST,
                        "A query is needed to use the score_threshold. Can't have score_threshold without defining a query.");
    if (n->has_threshold && n->kind == QN_ORDER_BY)
        return api_fail(j, QERR_BAD_REQUEST, "Can't use score_threshold with an order_by query.");
    if (n->kind == QN_FUSION && n->using)
        return api_fail(j, QERR_BAD_REQUEST, "Fusion queries cannot be combined with the 'using' field.");
    if (n->kind == QN_FUSION && !n->n_prefetch)
        return api_fail(j, QERR_BAD_INPUT, "Validation failed: cannot apply Fusion without prefetches");
    if (n->weights && n->n_weights != n->n_prefetch)
        return api_fail(j, QERR_BAD_INPUT,
                        "Validation failed: Number of weights in RRF should match number of pre-fetches: got %zu, expected %zu",
                        n->n_weights, n->n_prefetch);
    if (n->kind == QN_MMR && !n->candidates_limit) n->candidates_limit = n->limit;
    return 0;
}

int qdrant_query_parse(ApiJob *j, const JsonValue *obj, QueryReq *q, const char *prefix)
{
    memset(q, 0, sizeof *q);
    if (obj->type != JSON_OBJECT)
        return api_fail(j, QERR_FORMAT, "invalid type, expected struct QueryRequest");
    if (parse_node(j, q, obj, &q->root, 0, prefix)) return -1;
    if (api_get_size(j, obj, "offset", 0, &q->offset)) return -1;
    if (api_payload_selector(j, json_get(obj, "with_payload"), COLLECTION_SEL_NONE, &q->with_payload))
        return -1;
    const JsonValue *wv = json_get(obj, "with_vector");
    if (!wv) wv = json_get(obj, "with_vectors");
    if (api_selector(j, wv, COLLECTION_SEL_NONE, &q->with_vector)) return -1;
    const JsonValue *sk = json_get(obj, "shard_key");
    if (sk && sk->type != JSON_NULL) return api_fail(j, QERR_UNSUPPORTED, "shard keys");
    return 0;
}

/* ---- evaluation ---- */

static int hits_from_result(ApiJob *j, const CollectionResult *r, Hits *out)
{
    out->n = r->n;
    out->h = arena_alloc(api_arena(j), (r->n ? r->n : 1) * sizeof *out->h);
    for (size_t i = 0; i < r->n; i++) {
        out->h[i].id = r->points[i].id;
        out->h[i].score = r->points[i].score;
        out->h[i].order_value = r->order_values ? r->order_values[i] : 0;
    }
    return 0;
}

/* point_vector reads point id's vector `using` (for a query by id): a
 * dense one into vec and dim, a sparse one into *sparse, a multivector
 * into *multi (either may be NULL when only a dense vector will do). */
static int point_vector(ApiJob *j, const PointId *id, const char *using, float **vec, size_t *dim,
                        const CollectionSparseVector **sparse, const CollectionMultiVector **multi)
{
    const char *names[1] = { using ? using : "" };
    CollectionSelector none = { COLLECTION_SEL_NONE, NULL, 0 };
    CollectionSelector one = { COLLECTION_SEL_INCLUDE, names, 1 };
    CollectionResult r;
    int rc = collection_get(j->api->db, j->collection, id, 1, &none, &one, api_arena(j), &r);
    if (rc) return api_fail_collection(j, rc, NULL);
    const float *src = NULL;
    int v = 0;
    for (; r.n && v < r.config.n_vectors; v++)
        if (r.points[0].vectors && r.points[0].vectors[v]) {
            src = r.points[0].vectors[v];
            break;
        }
    for (int s = 0; !src && sparse && r.n && r.points[0].sparse && s < r.config.n_sparse; s++)
        if (r.points[0].sparse[s]) {
            *sparse = r.points[0].sparse[s];
            return 0;
        }
    for (int m = 0; !src && multi && r.n && r.points[0].multi && m < r.config.n_vectors; m++)
        if (r.points[0].multi[m]) {
            *multi = r.points[0].multi[m];
            return 0;
        }
    char buf[POINT_ID_TEXT_MAX];
    if (!src) return api_fail(j, QERR_NOT_FOUND, "No point with id %s found", point_id_format(id, buf));
    *dim = r.config.vectors[v].size;
    *vec = (float *)src;
    return 0;
}

/* search_node runs a nearest or recommend query under filter. */
static int search_node(ApiJob *j, const QNode *n, const JsonValue *filter, size_t limit,
                       int with_using_vectors, CollectionResult *out)
{
    char err[512] = "";
    const char *names[1] = { n->using ? n->using : "" };
    CollectionSelector none = { COLLECTION_SEL_NONE, NULL, 0 };
    CollectionSelector vecs = { COLLECTION_SEL_INCLUDE, names, 1 };
    int rc;
    if (n->kind == QN_RECOMMEND) {
        CollectionRecommend r = n->reco;
        r.search.using = n->using;
        r.search.limit = limit;
        r.search.offset = 0;
        r.search.ef = n->ef;
        r.search.exact = n->exact;
        r.search.quant_ignore = n->quant_ignore;
        r.search.quant_no_rescore = n->quant_no_rescore;
        r.search.quant_oversampling = n->quant_oversampling;
        r.search.filter = filter;
        r.search.has_score_threshold = n->has_threshold;
        r.search.score_threshold = n->threshold;
        r.search.with_payload = none;
        r.search.with_vectors = with_using_vectors ? vecs : none;
        rc = collection_recommend(j->api->db, j->collection, &r, api_arena(j), out, err, sizeof err);
    } else if (n->kind == QN_DISCOVER) {
        CollectionDiscover d = n->disc;
        memset(&d.search, 0, sizeof d.search);
        d.search.using = n->using;
        d.search.limit = limit;
        d.search.ef = n->ef;
        d.search.exact = n->exact;
        d.search.quant_ignore = n->quant_ignore;
        d.search.quant_no_rescore = n->quant_no_rescore;
        d.search.quant_oversampling = n->quant_oversampling;
        d.search.filter = filter;
        d.search.has_score_threshold = n->has_threshold;
        d.search.score_threshold = n->threshold;
        d.search.with_payload = none;
        d.search.with_vectors = with_using_vectors ? vecs : none;
        rc = collection_discover(j->api->db, j->collection, &d, api_arena(j), out, err, sizeof err);
    } else {
        CollectionSearch s;
        memset(&s, 0, sizeof s);
        s.using = n->using;
        s.limit = limit;
        s.ef = n->ef;
        s.exact = n->exact;
        s.quant_ignore = n->quant_ignore;
        s.quant_no_rescore = n->quant_no_rescore;
        s.quant_oversampling = n->quant_oversampling;
        s.filter = filter;
        s.has_score_threshold = n->has_threshold;
        s.score_threshold = n->threshold;
        s.with_payload = none;
        s.with_vectors = with_using_vectors ? vecs : none;
        float *vec = n->vector;
        size_t dim = n->dim;
        s.sparse = n->sparse;
        s.multi = n->multi;
        if (n->by_id && point_vector(j, &n->id, n->using, &vec, &dim, &s.sparse, &s.multi))
            return -1;
        s.vector = vec;
        s.dim = dim;
        rc = collection_search(j->api->db, j->collection, &s, api_arena(j), out, err, sizeof err);
    }
    if (rc) return api_fail_collection(j, rc, err);
    return 0;
}

void qdrant_mmr_pick(ApiJob *j, const CollectionResult *cand, const size_t *idx, size_t m,
                     float lambda, size_t limit, const QMmrSim *sim, Hits *out)
{
    Arena *a = api_arena(j);
    out->h = arena_alloc(a, (m ? m : 1) * sizeof *out->h);
    out->n = 0;
    if (m < 2) {
        for (size_t i = 0; i < m && i < limit; i++) {
            out->h[out->n].id = cand->points[idx[i]].id;
            out->h[out->n++].score = cand->points[idx[i]].score;
        }
        return;
    }
    float *rel = arena_alloc(a, m * sizeof *rel);
    float *maxsim = arena_alloc(a, m * sizeof *maxsim);
    uint8_t *taken = arena_calloc(a, m);
    for (size_t i = 0; i < m; i++) {
        rel[i] = sim->relevance(sim->ctx, i);
        maxsim[i] = -INFINITY;
    }
    size_t first = 0;
    for (size_t i = 1; i < m; i++)
        if (rel[i] > rel[first]) first = i;
    size_t last = first;
    taken[first] = 1;
    out->h[out->n].id = cand->points[idx[first]].id;
    out->h[out->n++].score = cand->points[idx[first]].score;
    while (out->n < limit && out->n < m) {
        size_t best = m;
        float best_score = -INFINITY;
        for (size_t i = 0; i < m; i++) {
            if (taken[i]) continue;
            /* Incrementally keep each candidate's max similarity to the
             * selected set: only the last selection can raise it. */
            float s = sim->similarity(sim->ctx, i, last);
            if (s > maxsim[i]) maxsim[i] = s;
            float score = lambda * rel[i] - (1.0f - lambda) * maxsim[i];
            if (best == m || score > best_score) {
                best = i;
                best_score = score;
            }
        }
        if (best == m) break;
        taken[best] = 1;
        last = best;
        out->h[out->n].id = cand->points[idx[best]].id;
        out->h[out->n++].score = cand->points[idx[best]].score;
    }
}

/* Dense candidates for the picker: the raw metric as Qdrant's MMR uses it. */
typedef struct {
    CollectionDistance dist;
    size_t dim;
    const float *q;
    const float **vecs;
} DenseMmr;

static float dense_sim(CollectionDistance d, const float *a, const float *b, size_t dim)
{
    return d == COLLECTION_EUCLID ? -vec_l2sq(a, b, dim) : vec_dot(a, b, dim);
}

static float dense_relevance(void *ctx, size_t i)
{
    const DenseMmr *d = ctx;
    return dense_sim(d->dist, d->q, d->vecs[i], d->dim);
}

static float dense_similarity(void *ctx, size_t i, size_t k)
{
    const DenseMmr *d = ctx;
    return dense_sim(d->dist, d->vecs[i], d->vecs[k], d->dim);
}

/* mmr selects up to limit of the candidates (which carry their vectors)
 * by maximal marginal relevance (qdrant_mmr_pick); sparse vectors and
 * multivectors have similarities of their own (qdrant_sparse_mmr,
 * qdrant_multivec_mmr). */
static int mmr_select(ApiJob *j, const QNode *n, const CollectionResult *cand, size_t limit,
                      Hits *out)
{
    CollectionInfo info;
    int rc = collection_info(j->api->db, j->collection, &info);
    if (rc) return api_fail_collection(j, rc, NULL);
    int v = 0;
    const char *using = n->using ? n->using : "";
    for (int s = 0; s < info.config.n_sparse; s++) {
        if (strcmp(info.config.sparse[s].name, using)) continue;
        const CollectionSparseVector *sq = n->sparse;
        float *unused = NULL;
        size_t udim = 0;
        if (n->by_id && point_vector(j, &n->id, n->using, &unused, &udim, &sq, NULL)) return -1;
        if (!sq) return api_fail(j, QERR_BAD_INPUT, "Conversion between sparse and regular vectors failed");
        return qdrant_sparse_mmr(j, n, s, sq, cand, limit, out);
    }
    while (v < info.config.n_vectors && strcmp(info.config.vectors[v].name, using)) v++;
    if (v == info.config.n_vectors)
        return api_fail(j, QERR_BAD_INPUT, "Not existing vector name error: %s", using);
    if (info.config.vectors[v].multivector != COLLECTION_SINGLE) {
        CollectionMultiVector one = { n->vector, 1, n->dim };
        const CollectionMultiVector *mq = n->multi ? n->multi : &one;
        float *unused = NULL;
        size_t udim = 0;
        if (n->by_id && point_vector(j, &n->id, n->using, &unused, &udim, NULL, &mq)) return -1;
        return qdrant_multivec_mmr(j, n, v, &info.config.vectors[v], mq, cand, limit, out);
    }
    Arena *a = api_arena(j);
    DenseMmr d = { info.config.vectors[v].distance, info.config.vectors[v].size, NULL, NULL };
    size_t m = 0;
    d.vecs = arena_alloc(a, (cand->n + 1) * sizeof *d.vecs);
    size_t *idx = arena_alloc(a, (cand->n + 1) * sizeof *idx);
    for (size_t i = 0; i < cand->n; i++) {
        const float *x = cand->points[i].vectors ? cand->points[i].vectors[v] : NULL;
        if (!x) continue; /* points without this vector are dropped, as Qdrant does */
        d.vecs[m] = x;
        idx[m++] = i;
    }
    if (m >= 2) {
        float *query = n->vector;
        size_t qdim = n->dim;
        if (n->by_id && point_vector(j, &n->id, n->using, &query, &qdim, NULL, NULL)) return -1;
        if (qdim != d.dim)
            return api_fail(j, QERR_BAD_INPUT, "Vector dimension error: expected dim: %zu, got %zu",
                            d.dim, qdim);
        float *q = arena_alloc(a, d.dim * sizeof *q);
        memcpy(q, query, d.dim * sizeof *q);
        if (d.dist == COLLECTION_COSINE) vec_normalize(q, d.dim);
        d.q = q;
    }
    QMmrSim sim = { &d, dense_relevance, dense_similarity };
    qdrant_mmr_pick(j, cand, idx, m, n->lambda, limit, &sim, out);
    return 0;
}

/* ---- order_by (by a payload key) ---- */

/* order_node orders the points under filter by the key's range index
 * (collection_order_by: a point once per distinct value, ties by id). */
static int order_node(ApiJob *j, const QNode *n, const JsonValue *filter, size_t limit, Hits *out)
{
    CollectionOrderBy o;
    memset(&o, 0, sizeof o);
    o.key = n->order_key;
    o.desc = n->desc;
    o.has_start = n->has_start;
    o.start = n->start;
    o.limit = limit;
    o.filter = filter;
    CollectionResult r;
    char err[512] = "";
    int rc = collection_order_by(j->api->db, j->collection, &o, api_arena(j), &r, err, sizeof err);
    if (rc) return api_fail_collection(j, rc, err);
    hits_from_result(j, &r, out);
    for (size_t i = 0; i < out->n; i++) out->h[i].score = 1.0f;
    return 0;
}

/* scroll_node gives the first `limit` points in id order (no query). */
static int scroll_node(ApiJob *j, const JsonValue *filter, size_t limit, Hits *out)
{
    CollectionScroll s;
    memset(&s, 0, sizeof s);
    s.limit = limit;
    s.filter = filter;
    CollectionResult r;
    char err[512] = "";
    int rc = collection_scroll(j->api->db, j->collection, &s, api_arena(j), &r, err, sizeof err);
    if (rc) return api_fail_collection(j, rc, err);
    hits_from_result(j, &r, out);
    for (size_t i = 0; i < out->n; i++) out->h[i].score = 1.0f;
    return 0;
}

/* sample_node picks limit points at random among those filter passes
 * (Qdrant's ScrollOrder::Random, its score that of a scroll): all of them
 * are listed, then a partial Fisher-Yates shuffle takes the first limit,
 * with a generator seeded per request from the kernel. */
static int sample_node(ApiJob *j, const JsonValue *filter, size_t limit, Hits *out)
{
    if (scroll_node(j, filter, SIZE_MAX, out)) return -1;
    uint64_t x = 0;
    if (getrandom(&x, sizeof x, 0) != (ssize_t)sizeof x) x = (uint64_t)(uintptr_t)out ^ (uint64_t)time(NULL);
    x |= 1;
    size_t take = limit < out->n ? limit : out->n;
    for (size_t i = 0; i < take; i++) {
        /* xorshift64*: plenty for picking sample points. */
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        uint64_t r = x * 0x2545F4914F6CDD1DULL;
        size_t k = i + (size_t)(r % (out->n - i));
        Hit t = out->h[i];
        out->h[i] = out->h[k];
        out->h[k] = t;
    }
    out->n = take;
    return 0;
}

/* ---- fusion ---- */

typedef struct {
    PointId id;
    float score;
    size_t first; /* order of first appearance, for a stable sort */
} Fused;

static int cmp_fused(const void *pa, const void *pb)
{
    const Fused *a = pa, *b = pb;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    return a->first < b->first ? -1 : a->first > b->first;
}

/* fuse merges the prefetch lists: RRF sums 1 / ((rank + 1) / w + k - 1)
 * (w: the list's weight, 1 by default; rank from 0) over the lists a
 * point is in; DBSF normalises each list's scores by mean +- 3 sample
 * standard deviations (a one-point list gives 0.5, a flat one 0.5) and
 * sums them (lib/segment/src/common/score_fusion.rs). */
static void fuse(ApiJob *j, const QNode *n, const Hits *lists, size_t n_lists, Hits *out)
{
    size_t total = 0;
    for (size_t i = 0; i < n_lists; i++) total += lists[i].n;
    Fused *f = arena_alloc(api_arena(j), (total ? total : 1) * sizeof *f);
    size_t nf = 0;
    for (size_t l = 0; l < n_lists; l++) {
        const Hits *h = &lists[l];
        double mean = 0, m2 = 0, lo = 0, hi = 0;
        if (n->dbsf && h->n >= 2) {
            /* Welford's mean and sample variance, in float as Qdrant. */
            float fm = 0, agg = 0;
            for (size_t i = 0; i < h->n; i++) {
                float old = h->h[i].score - fm;
                fm += old / (float)(i + 1);
                agg += old * (h->h[i].score - fm);
            }
            float sd = sqrtf(agg / (float)(h->n - 1));
            mean = fm;
            m2 = sd;
            lo = mean - 3.0 * m2;
            hi = mean + 3.0 * m2;
        }
        for (size_t i = 0; i < h->n; i++) {
            float s;
            if (!n->dbsf) {
                /* Qdrant's position_score: a weight stretches the ranks;
                 * a weight of 0 or less contributes nothing. */
                float w = n->weights ? n->weights[l] : 1.0f;
                s = w <= 0 ? 0 : 1.0f / ((float)(i + 1) / w + (float)n->rrf_k - 1.0f);
            }
            else if (h->n < 2 || hi == lo) s = 0.5f;
            else s = (float)((h->h[i].score - (float)lo) / (float)(hi - lo));
            size_t k = 0;
            while (k < nf && !point_id_equal(&f[k].id, &h->h[i].id)) k++;
            if (k == nf) {
                f[nf].id = h->h[i].id;
                f[nf].score = 0;
                f[nf].first = nf;
                nf++;
            }
            f[k].score += s;
        }
    }
    qsort(f, nf, sizeof *f, cmp_fused);
    out->h = arena_alloc(api_arena(j), (nf ? nf : 1) * sizeof *out->h);
    out->n = 0;
    for (size_t i = 0; i < nf && out->n < n->limit; i++) {
        if (n->has_threshold && f[i].score < n->threshold) continue;
        out->h[out->n].id = f[i].id;
        out->h[out->n].order_value = 0;
        out->h[out->n++].score = f[i].score;
    }
}

/* ---- the tree ---- */

static int eval_node(ApiJob *j, const QNode *n, const JsonValue *inherited, size_t limit, Hits *out);

/* candidates_filter restricts filter to the points of the lists. */
static const JsonValue *candidates_filter(ApiJob *j, const Hits *lists, size_t n_lists,
                                          const JsonValue *filter, size_t *n_ids)
{
    size_t total = 0;
    for (size_t i = 0; i < n_lists; i++) total += lists[i].n;
    PointId *ids = arena_alloc(api_arena(j), (total ? total : 1) * sizeof *ids);
    size_t m = 0;
    for (size_t i = 0; i < n_lists; i++)
        for (size_t k = 0; k < lists[i].n; k++) ids[m++] = lists[i].h[k].id;
    *n_ids = m;
    return qdrant_filter_and(api_arena(j), filter, qdrant_filter_ids(api_arena(j), "must", ids, m));
}

static int eval_node(ApiJob *j, const QNode *n, const JsonValue *inherited, size_t limit, Hits *out)
{
    Arena *a = api_arena(j);
    const JsonValue *filter = qdrant_filter_and(a, inherited, n->filter);
    memset(out, 0, sizeof *out);
    if (n->n_prefetch) {
        Hits *lists = arena_calloc(a, n->n_prefetch * sizeof *lists);
        for (size_t i = 0; i < n->n_prefetch; i++)
            if (eval_node(j, &n->prefetch[i], filter, n->prefetch[i].limit, &lists[i])) return -1;
        if (n->kind == QN_FUSION) {
            QNode lim = *n;
            lim.limit = limit;
            fuse(j, &lim, lists, n->n_prefetch, out);
            return 0;
        }
        if (n->kind == QN_FORMULA) {
            QFormulaCut cut = { limit, n->has_threshold, n->threshold };
            return qdrant_formula_rescore(j, n->formula, lists, n->n_prefetch, &cut, out);
        }
        size_t n_ids;
        /* The node's filter already shaped its prefetches; candidates
         * come from them only. */
        const JsonValue *cand = candidates_filter(j, lists, n->n_prefetch, NULL, &n_ids);
        if (n_ids == 0) return 0;
        filter = cand;
    }
    CollectionResult r;
    switch (n->kind) {
    case QN_NONE: return scroll_node(j, filter, limit, out);
    case QN_ORDER_BY: return order_node(j, n, filter, limit, out);
    case QN_SAMPLE: return sample_node(j, filter, limit, out);
    case QN_MMR: {
        QNode near = *n;
        near.kind = QN_NEAREST;
        if (search_node(j, &near, filter, n->candidates_limit, 1, &r)) return -1;
        return mmr_select(j, n, &r, limit, out);
    }
    case QN_NEAREST:
    case QN_RECOMMEND:
    case QN_DISCOVER:
        if (search_node(j, n, filter, limit, 0, &r)) return -1;
        return hits_from_result(j, &r, out);
    case QN_FEEDBACK: {
        /* A nearest search by the feedback's one vector; the threshold
         * applies to the scores scaled back to Qdrant's. */
        QNode near = *n;
        float scale;
        near.kind = QN_NEAREST;
        near.by_id = 0;
        near.sparse = NULL;
        near.multi = NULL;
        near.has_threshold = 0;
        if (qdrant_feedback_vector(j, n, &near.vector, &near.dim, &scale) ||
            search_node(j, &near, filter, limit, 0, &r))
            return -1;
        size_t k = 0;
        for (size_t i = 0; i < r.n; i++) {
            r.points[i].score *= scale;
            if (n->has_threshold && r.points[i].score < n->threshold) continue;
            r.points[k++] = r.points[i];
        }
        r.n = k;
        return hits_from_result(j, &r, out);
    }
    case QN_FORMULA:
        return api_fail(j, QERR_BAD_INPUT, "Validation failed: cannot apply Formula without prefetches");
    default:
        return api_fail(j, QERR_BAD_INPUT, "Validation failed: cannot apply Fusion without prefetches");
    }
}

int qdrant_query_eval(ApiJob *j, const QueryReq *q, const JsonValue *extra, size_t limit, Hits *out)
{
    Arena *a = api_arena(j);
    const JsonValue *f = q->n_refs ? qdrant_filter_ids(a, "must_not", q->refs, q->n_refs) : NULL;
    return eval_node(j, &q->root, qdrant_filter_and(a, f, extra), limit, out);
}

int qdrant_query_fetch(ApiJob *j, const Hits *hits, size_t from, const CollectionSelector *wp,
                       const CollectionSelector *wv, int with_order, CollectionResult *res)
{
    Arena *a = api_arena(j);
    size_t start = from < hits->n ? from : hits->n;
    size_t n = hits->n - start;
    PointId *ids = arena_alloc(a, (n ? n : 1) * sizeof *ids);
    for (size_t i = 0; i < n; i++) ids[i] = hits->h[start + i].id;
    CollectionResult got;
    int rc = collection_get(j->api->db, j->collection, ids, n, wp, wv, a, &got);
    if (rc) return api_fail_collection(j, rc, NULL);
    /* collection_get skips points deleted meanwhile (and repeats none):
     * keep the rest in result order with their scores. */
    *res = got;
    res->points = arena_calloc(a, (n ? n : 1) * sizeof *res->points);
    res->n = 0;
    res->order_values = with_order ? arena_alloc(a, (n ? n : 1) * sizeof(double)) : NULL;
    for (size_t i = 0; i < n; i++) {
        size_t g = 0;
        while (g < got.n && !point_id_equal(&got.points[g].id, &ids[i])) g++;
        if (g == got.n) continue;
        res->points[res->n] = got.points[g];
        res->points[res->n].score = hits->h[start + i].score;
        if (with_order) res->order_values[res->n] = hits->h[start + i].order_value;
        res->n++;
    }
    return 0;
}

/* run_query evaluates a whole request into a CollectionResult with the
 * root's payload and vectors, in result order. */
static int run_query(ApiJob *j, QueryReq *q, CollectionResult *res)
{
    Hits hits;
    /* limit and offset are any u64 (Qdrant's): the sum saturates, and the
     * engine bounds it by the points there are. */
    /* A random sample ignores the offset (Qdrant: its output is not
     * stable), unless it samples prefetched points. */
    size_t offset = q->root.kind == QN_SAMPLE && !q->root.n_prefetch ? 0 : q->offset;
    size_t want = q->root.limit > SIZE_MAX - offset ? SIZE_MAX : q->root.limit + offset;
    if (qdrant_query_eval(j, q, NULL, want, &hits)) return -1;
    return qdrant_query_fetch(j, &hits, offset, &q->with_payload, &q->with_vector,
                              q->root.kind == QN_ORDER_BY, res);
}

/* root_from_common fills the root of a search or recommend request. */
static void root_from_common(QueryReq *q, const ApiCommon *c)
{
    q->root.using = c->using;
    q->root.filter = c->filter;
    q->root.ef = c->ef;
    q->root.exact = c->exact;
    q->root.quant_ignore = c->quant_ignore;
    q->root.quant_no_rescore = c->quant_no_rescore;
    q->root.quant_oversampling = c->quant_oversampling;
    q->root.has_threshold = c->has_threshold;
    q->root.threshold = c->threshold;
    q->root.limit = c->limit;
    q->offset = c->offset;
    q->with_payload = c->with_payload;
    q->with_vector = c->with_vector;
}

int qdrant_query_root_search(ApiJob *j, const JsonValue *obj, QueryReq *q)
{
    memset(q, 0, sizeof *q);
    ApiCommon c;
    if (api_parse_common(j, obj, &c, 0, COLLECTION_SEL_NONE)) return -1;
    root_from_common(q, &c);
    q->root.kind = QN_NEAREST;
    const JsonValue *v = json_get(obj, "vector");
    if (!v) return api_fail(j, QERR_FORMAT, "missing field `vector`");
    if (api_inference_object(v))
        return api_inference(j, v, "vector", &q->root.vector, &q->root.dim, &q->root.sparse);
    if (v->type == JSON_OBJECT) {
        const char *name = json_as_str(json_get(v, "name"));
        const JsonValue *inner = json_get(v, "vector");
        if (!name || !inner)
            return api_fail(j, QERR_FORMAT,
                            "data did not match any variant of untagged enum NamedVectorStruct");
        if (api_inference_object(inner)) {
            q->root.using = name;
            return api_inference(j, inner, "vector", &q->root.vector, &q->root.dim, &q->root.sparse);
        }
        q->root.using = name;
        if (inner->type == JSON_OBJECT)
            return qdrant_sparse_vector(j, inner, "vector.vector", &q->root.sparse);
        v = inner;
    }
    return api_floats(j, v, "vector", &q->root.vector, &q->root.dim);
}

int qdrant_query_root_recommend(ApiJob *j, const JsonValue *obj, QueryReq *q)
{
    memset(q, 0, sizeof *q);
    ApiCommon c;
    if (api_parse_common(j, obj, &c, 0, COLLECTION_SEL_NONE)) return -1;
    root_from_common(q, &c);
    q->root.kind = QN_RECOMMEND;
    if (api_parse_recommend_input(j, obj, &q->root.reco)) return -1;
    q->root.reco.search.using = q->root.using;
    if (api_lookup_recommend(j, &c.lookup, &q->root.reco)) return -1;
    for (size_t i = 0; i < q->root.reco.n_positive; i++) qdrant_query_add_ref(j, q, &q->root.reco.positive[i]);
    for (size_t i = 0; i < q->root.reco.n_negative; i++) qdrant_query_add_ref(j, q, &q->root.reco.negative[i]);
    return 0;
}

static void write_response(JsonWriter *w, const CollectionResult *r)
{
    jw_object_begin(w);
    jw_key(w, "points");
    qdrant_write_points(w, r, 1);
    jw_object_end(w);
}

static void query(ApiJob *j)
{
    if (api_body_object(j, 1)) return;
    static const JsonValue empty = { .type = JSON_OBJECT };
    QueryReq q;
    CollectionResult r;
    if (qdrant_query_parse(j, j->body ? j->body : &empty, &q, "internal.") || run_query(j, &q, &r)) return;
    write_response(api_result(j), &r);
}

static void query_batch(ApiJob *j)
{
    if (api_body_object(j, 0)) return;
    const JsonValue *arr;
    if (api_get_array(j, j->body, "searches", &arr)) return;
    if (!arr) return (void)api_fail(j, QERR_FORMAT, "missing field `searches`");
    if (arr->len > QDRANT_MAX_BATCH_REQUESTS)
        return (void)api_fail(j, QERR_BAD_REQUEST, "at most %d requests per batch",
                              QDRANT_MAX_BATCH_REQUESTS);
    CollectionResult *res = arena_calloc(api_arena(j), (arr->len + 1) * sizeof *res);
    for (uint32_t i = 0; i < arr->len; i++) {
        QueryReq q;
        snprintf(j->vpath, sizeof j->vpath, "searches[%u].", i);
        if (qdrant_query_parse(j, api_item(j, arr, i), &q, "internal.") || run_query(j, &q, &res[i])) return;
    }
    JsonWriter *w = api_result(j);
    jw_array_begin(w);
    for (uint32_t i = 0; i < arr->len; i++) write_response(w, &res[i]);
    jw_array_end(w);
}

const ApiRoute qdrant_query_routes[] = {
    { "POST", "/collections/{collection_name}/points/query", API_READ, NULL, query },
    { "POST", "/collections/{collection_name}/points/query/batch", API_READ, NULL, query_batch },
    { NULL, NULL, 0, NULL, NULL },
};
