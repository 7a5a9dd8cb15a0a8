/*
 * qdrant_feedback.c - Qdrant's relevance feedback query:
 * {"relevance_feedback": {"target": T, "feedback": [{"example": E, "score":
 * s}, ...], "strategy": {"naive": {"a", "b", "c"}}}}
 * (lib/segment/src/vector_storage/query/feedback_query.rs).
 *
 * Qdrant scores a point x as
 *     a * sim(T, x) + sum over ordered pairs (p, n) of examples with
 *     confidence s_p - s_n > 0 of  confidence^b * c * (sim(p, x) - sim(n, x)).
 * On Dot and Cosine the similarity is a dot product with the stored vector
 * (Cosine's inputs normalised first), so the score is w . x for one
 * vector w = a T + sum confidence^b c (p - n): the query is a nearest
 * search by w. A Cosine search normalises its query, so its scores are
 * multiplied back by |w|. Euclid and Manhattan are not linear in x and
 * are refused (400). Example points of this collection are never
 * results, as in Qdrant.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "api/qdrant_multivec.h"
#include "api/qdrant_query.h"
#include "base/err.h"
#include "base/util.h"
#include "base/vec.h"

typedef struct {
    CollectionExample ex;
    float score;
} FbItem;

struct QFeedback {
    CollectionExample target;
    FbItem *items;
    size_t n;
    float a, b, c;
};

/* parse_example reads a VectorInput: a dense vector or a point id. */
static int parse_example(ApiJob *j, QueryReq *q, const JsonValue *v, const char *what, CollectionExample *e)
{
    memset(e, 0, sizeof *e);
    if (!v) return api_fail(j, QERR_FORMAT, "missing field `%s`", what);
    if (v->type == JSON_NUMBER || v->type == JSON_STRING) {
        if (api_point_id(j, v, what, &e->id)) return -1;
        e->by_id = 1;
        qdrant_query_add_ref(j, q, &e->id);
        return 0;
    }
    if (v->type == JSON_ARRAY && !qdrant_is_multi(v)) {
        float *f;
        if (api_floats(j, v, what, &f, &e->dim)) return -1;
        e->vector = f;
        return 0;
    }
    return api_fail(j, QERR_BAD_REQUEST,
                    "relevance feedback takes dense vectors or point ids (sparse vectors, multivectors "
                    "and inference objects are not supported by vitrine)");
}

int qdrant_feedback_parse(ApiJob *j, QueryReq *q, const JsonValue *v, QFeedback **out)
{
    if (v->type != JSON_OBJECT) return api_fail(j, QERR_FORMAT, "invalid type, expected struct RelevanceFeedbackInput");
    QFeedback *f = arena_calloc(api_arena(j), sizeof *f);
    const JsonValue *fb = json_get(v, "feedback"), *st = json_get(v, "strategy");
    if (!json_get(v, "target")) return api_fail(j, QERR_FORMAT, "missing field `target`");
    if (!fb) return api_fail(j, QERR_FORMAT, "missing field `feedback`");
    if (!st) return api_fail(j, QERR_FORMAT, "missing field `strategy`");
    if (fb->type != JSON_ARRAY) return api_fail(j, QERR_FORMAT, "invalid type, expected a sequence at `feedback`");
    const JsonValue *naive = st->type == JSON_OBJECT ? json_get(st, "naive") : NULL;
    if (!naive || naive->type != JSON_OBJECT)
        return api_fail(j, QERR_FORMAT, "data did not match any variant of untagged enum FeedbackStrategy");
    static const char *const coef[] = { "a", "b", "c" };
    float *dst[] = { &f->a, &f->b, &f->c };
    for (size_t i = 0; i < 3; i++) {
        const JsonValue *x = json_get(naive, coef[i]);
        if (!x) return api_fail(j, QERR_FORMAT, "missing field `%s`", coef[i]);
        if (api_get_float(j, naive, coef[i], dst[i])) return -1;
    }
    /* Qdrant's validators, before any point is read. */
    if (f->b < 0) {
        double b = json_get(naive, "b")->u.num;
        char num[32];
        if (b == (double)(long long)b) snprintf(num, sizeof num, "%.1f", b);
        else snprintf(num, sizeof num, "%g", b);
        return api_fail(j, QERR_VALIDATION,
                        "%squery.relevance_feedback.strategy.naive.b: value %s invalid, must be 0.0 or larger",
                        j->vpath, num);
    }
    if (fb->len == 0)
        return api_fail(j, QERR_VALIDATION, "%squery.relevance_feedback.feedback: feedback elements must be non-empty",
                        j->vpath);
    if (parse_example(j, q, json_get(v, "target"), "target", &f->target)) return -1;
    f->n = fb->len;
    f->items = arena_calloc(api_arena(j), f->n * sizeof *f->items);
    for (size_t i = 0; i < f->n; i++) {
        const JsonValue *it = api_item(j, fb, i);
        if (it->type != JSON_OBJECT) return api_fail(j, QERR_FORMAT, "invalid type, expected struct FeedbackItem");
        if (!json_get(it, "score")) return api_fail(j, QERR_FORMAT, "missing field `score`");
        if (api_get_float(j, it, "score", &f->items[i].score) ||
            parse_example(j, q, json_get(it, "example"), "example", &f->items[i].ex))
            return -1;
    }
    *out = f;
    return 0;
}

/* example_vector: the example's vector, read from the collection for an
 * id (404 as Qdrant when the point is missing). */
static int example_vector(ApiJob *j, const char *using, const CollectionExample *e, const float **vec,
                          size_t *dim)
{
    if (!e->by_id) {
        *vec = e->vector;
        *dim = e->dim;
        return 0;
    }
    const char *names[1] = { using ? using : "" };
    CollectionSelector none = { COLLECTION_SEL_NONE, NULL, 0 };
    CollectionSelector one = { COLLECTION_SEL_INCLUDE, names, 1 };
    CollectionResult r;
    int rc = collection_get(j->api->db, j->collection, &e->id, 1, &none, &one, api_arena(j), &r);
    if (rc) return api_fail_collection(j, rc, NULL);
    for (int v = 0; r.n && r.points[0].vectors && v < r.config.n_vectors; v++)
        if (r.points[0].vectors[v]) {
            *vec = r.points[0].vectors[v];
            *dim = r.config.vectors[v].size;
            return 0;
        }
    char buf[POINT_ID_TEXT_MAX];
    return api_fail(j, QERR_NOT_FOUND, "No point with id %s found", point_id_format(&e->id, buf));
}

/* add_scaled: acc += k * x, x normalised first under Cosine. */
static void add_scaled(float *acc, const float *x, size_t dim, float k, int cosine)
{
    float norm = 1.0f;
    if (cosine) {
        float s = vec_dot(x, x, dim);
        norm = s > 0 ? 1.0f / sqrtf(s) : 0.0f;
    }
    for (size_t i = 0; i < dim; i++) acc[i] += k * x[i] * norm;
}

int qdrant_feedback_vector(ApiJob *j, const QNode *n, float **w_out, size_t *dim_out, float *scale)
{
    const QFeedback *f = n->feedback;
    CollectionInfo *info = arena_alloc(api_arena(j), sizeof *info);
    int rc = collection_info(j->api->db, j->collection, info);
    if (rc) return api_fail_collection(j, rc, NULL);
    const char *using = n->using ? n->using : "";
    int v = 0;
    while (v < info->config.n_vectors && strcmp(info->config.vectors[v].name, using)) v++;
    if (v == info->config.n_vectors) {
        for (int s = 0; s < info->config.n_sparse; s++)
            if (!strcmp(info->config.sparse[s].name, using))
                return api_fail(j, QERR_BAD_REQUEST, "relevance feedback on sparse vectors is not supported by vitrine");
        return api_fail(j, QERR_BAD_INPUT, "Not existing vector name error: %s", using);
    }
    const CollectionVectorParams *p = &info->config.vectors[v];
    if (p->multivector != COLLECTION_SINGLE)
        return api_fail(j, QERR_BAD_REQUEST, "relevance feedback on multivectors is not supported by vitrine");
    if (p->distance != COLLECTION_COSINE && p->distance != COLLECTION_DOT)
        return api_fail(j, QERR_BAD_REQUEST,
                        "relevance feedback on %s vectors is not supported by vitrine (Cosine and Dot are)",
                        p->distance == COLLECTION_EUCLID ? "Euclid" : "Manhattan");
    size_t dim = p->size;
    int cosine = p->distance == COLLECTION_COSINE;
    float *w = arena_calloc(api_arena(j), dim * sizeof *w);
    const float *x;
    size_t xd;
    if (example_vector(j, using, &f->target, &x, &xd)) return -1;
    if (xd != dim) return api_fail(j, QERR_BAD_INPUT, "Vector dimension error: expected dim: %zu, got %zu", dim, xd);
    add_scaled(w, x, dim, f->a, cosine);
    const float **ex = arena_alloc(api_arena(j), f->n * sizeof *ex);
    for (size_t i = 0; i < f->n; i++) {
        if (example_vector(j, using, &f->items[i].ex, &ex[i], &xd)) return -1;
        if (xd != dim) return api_fail(j, QERR_BAD_INPUT, "Vector dimension error: expected dim: %zu, got %zu", dim, xd);
    }
    /* Every ordered pair whose confidence is positive (Qdrant's
     * extract_context_pairs with margin 0; none with a single example). */
    for (size_t i = 0; f->n >= 2 && i < f->n; i++)
        for (size_t k = 0; k < f->n; k++) {
            if (i == k) continue;
            float conf = f->items[i].score - f->items[k].score;
            if (!(conf > 0.0f)) continue;
            float coef = powf(conf, f->b) * f->c;
            add_scaled(w, ex[i], dim, coef, cosine);
            add_scaled(w, ex[k], dim, -coef, cosine);
        }
    *scale = cosine ? sqrtf(vec_dot(w, w, dim)) : 1.0f;
    *w_out = w;
    *dim_out = dim;
    return 0;
}
