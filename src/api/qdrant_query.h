/*
 * qdrant_query.h - the query tree of Qdrant's universal query API, shared
 * by the query routes (qdrant_query.c) and the groups routes
 * (qdrant_groups.c), which run a query repeatedly to fill groups.
 */
#ifndef VITRINE_API_QDRANT_QUERY_H
#define VITRINE_API_QDRANT_QUERY_H

#include "api/qdrant_internal.h"

typedef enum {
    QN_NONE = 0,  /* no query: points in id order */
    QN_NEAREST,   /* a vector, or a point id's vector */
    QN_RECOMMEND, /* positive / negative examples */
    QN_MMR,       /* nearest with maximal marginal relevance */
    QN_FUSION,    /* rrf or dbsf over the prefetches */
    QN_ORDER_BY,  /* by a payload key */
    QN_SAMPLE,    /* random points (sample: random) */
    QN_DISCOVER,  /* discover (target and context) or context (pairs only) */
    QN_FORMULA,   /* a formula over the prefetches' scores and the payload */
    QN_FEEDBACK,  /* relevance feedback: a target and scored examples */
} QKind;

typedef struct QNode QNode;
typedef struct QFormula QFormula; /* qdrant_formula.c */
typedef struct QFeedback QFeedback; /* qdrant_feedback.c */
struct QNode {
    QKind kind;
    const char *using;
    /* nearest and mmr */
    float *vector;
    size_t dim;
    const CollectionSparseVector *sparse; /* a sparse query instead of vector */
    const CollectionMultiVector *multi;   /* a multivector query instead of vector */
    int by_id;
    PointId id;
    float lambda;
    size_t candidates_limit;
    /* recommend */
    CollectionRecommend reco;
    /* discover and context (disc.target NULL) */
    CollectionDiscover disc;
    /* fusion */
    int dbsf;
    size_t rrf_k;
    float *weights; /* rrf: one per prefetch, or NULL (all 1) */
    size_t n_weights;
    /* formula */
    QFormula *formula;
    /* relevance feedback */
    QFeedback *feedback;
    /* order_by */
    const char *order_key;
    int desc;
    int has_start;
    double start;
    /* every node */
    const JsonValue *filter;
    int ef, exact;
    int quant_ignore, quant_no_rescore; /* params.quantization */
    double quant_oversampling;
    int has_threshold;
    float threshold;
    size_t limit;
    QNode *prefetch;
    size_t n_prefetch;
};

/* One result of a node: an id and its score (order_by: its key too). */
typedef struct {
    PointId id;
    float score;
    double order_value;
} Hit;

typedef struct {
    Hit *h;
    size_t n;
} Hits;

typedef struct {
    QNode root;
    size_t offset;
    CollectionSelector with_payload, with_vector;
    /* Point ids the request refers to: never results. */
    PointId *refs;
    size_t n_refs, cap_refs;
} QueryReq;

/* qdrant_query_parse reads a QueryRequest (or a groups request's query
 * part) into q; prefix names the flattened struct in validation messages
 * ("internal."). */
int qdrant_query_parse(ApiJob *j, const JsonValue *obj, QueryReq *q, const char *prefix);
/* qdrant_query_node_for_search / _for_recommend build the root node of a
 * search or recommend request (for their groups forms). */
int qdrant_query_root_search(ApiJob *j, const JsonValue *obj, QueryReq *q);
int qdrant_query_root_recommend(ApiJob *j, const JsonValue *obj, QueryReq *q);
/* qdrant_query_eval evaluates the tree for `limit` results under an extra
 * filter (may be NULL), excluding the referenced ids. */
int qdrant_query_eval(ApiJob *j, const QueryReq *q, const JsonValue *extra, size_t limit, Hits *out);
/* qdrant_query_fetch reads hits [from, n) with the payload and vectors
 * asked for, keeping their order and scores. */
int qdrant_query_fetch(ApiJob *j, const Hits *hits, size_t from, const CollectionSelector *wp,
                       const CollectionSelector *wv, int with_order, CollectionResult *res);
/* qdrant_filter_and / qdrant_filter_ids compose filters in the DOM. */
const JsonValue *qdrant_filter_and(Arena *a, const JsonValue *x, const JsonValue *y);
const JsonValue *qdrant_filter_ids(Arena *a, const char *clause, const PointId *ids, size_t n);

/* qdrant_query_add_ref notes a point id the request refers to (an
 * example): never a result. */
void qdrant_query_add_ref(ApiJob *j, QueryReq *q, const PointId *id);

/* qdrant_feedback_parse reads a RelevanceFeedbackInput (Qdrant's
 * validations; example ids become refs). */
int qdrant_feedback_parse(ApiJob *j, QueryReq *q, const JsonValue *v, QFeedback **out);
/* qdrant_feedback_vector turns node n's feedback into the one vector w a
 * nearest search by which ranks as Qdrant's naive feedback scores, and
 * the factor (scale) its scores need to equal Qdrant's. */
int qdrant_feedback_vector(ApiJob *j, const QNode *n, float **w, size_t *dim, float *scale);

/* Maximal marginal relevance (lib/shard/src/query/mmr/mod.rs), for
 * candidates idx[0..m) of cand: the first pick is the most relevant, then
 * repeatedly the candidate maximising lambda * relevance - (1 - lambda) *
 * its max similarity to those picked. Picks keep their search score. The
 * similarities come from the caller (dense, sparse, MaxSim). */
typedef struct {
    void *ctx;
    float (*relevance)(void *ctx, size_t i);                /* to the query */
    float (*similarity)(void *ctx, size_t i, size_t picked); /* candidate to a pick */
} QMmrSim;
void qdrant_mmr_pick(ApiJob *j, const CollectionResult *cand, const size_t *idx, size_t m,
                     float lambda, size_t limit, const QMmrSim *sim, Hits *out);

/* qdrant_formula_parse reads a FormulaQuery ({"formula", "defaults"}). */
int qdrant_formula_parse(ApiJob *j, const JsonValue *query, QFormula **out);
/* The cut applied to rescored points. */
typedef struct {
    size_t limit;
    int has_threshold;
    float threshold;
} QFormulaCut;
/* qdrant_formula_rescore scores the points of the prefetch lists with the
 * formula into out, best first, cut by threshold and limit. */
int qdrant_formula_rescore(ApiJob *j, const QFormula *q, const Hits *lists, size_t n_lists,
                           const QFormulaCut *cut, Hits *out);

#endif
