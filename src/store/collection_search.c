/*
 * collection_search.c - nearest-neighbour queries: the planner (HNSW with
 * the filter as an accept callback, or an exact scan when the filter is
 * selective), a bounded top-k, the recommendation scorers, search and
 * recommend.
 */
#include "store/collection.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/util.h"
#include "base/vec.h"
#include "index/filter.h"
#include "store/collection_internal.h"
#include "store/store.h"

static float goodness(const Collection *c, int v, float score)
{
    return coll_is_distance(c, v) ? -score : score;
}

/* ---- search ---- */

/* The ids a recommendation excludes from its results. */
typedef struct {
    const PointId *ids;
    size_t n;
} Exclude;

static int excluded(const Exclude *ex, const PointId *id)
{
    for (size_t i = 0; ex && i < ex->n; i++)
        if (point_id_equal(&ex->ids[i], id)) return 1;
    return 0;
}

/* The state of the HNSW accept callback. */
typedef struct {
    Collection *c;
    StoreTxn *txn;
    const Filter *f;
    const Exclude *ex;
    Scratch s;
} AcceptCtx;

static int accept_node(uint32_t node, void *vctx)
{
    AcceptCtx *a = vctx;
    Collection *c = a->c;
    if (node >= c->node_cap || !c->node_live[node]) return 0;
    const PointId *id = &c->node_ids[node];
    if (excluded(a->ex, id)) return 0;
    if (filter_matches_all(a->f)) return 1;
    return coll_filter_node(c, a->txn, a->f, &a->s, node, NULL);
}

/* A bounded heap of the k best hits (worst on top), by goodness. */
typedef struct {
    HnswHit *h;
    float *g; /* goodness of h[i] */
    size_t n, k;
} TopK;

static int topk_worse(const TopK *t, size_t a, size_t b)
{
    if (t->g[a] != t->g[b]) return t->g[a] < t->g[b];
    return t->h[a].node > t->h[b].node; /* ties: lower node is better */
}

static void topk_swap(TopK *t, size_t a, size_t b)
{
    HnswHit h = t->h[a];
    float g = t->g[a];
    t->h[a] = t->h[b];
    t->g[a] = t->g[b];
    t->h[b] = h;
    t->g[b] = g;
}

static void topk_push(TopK *t, uint32_t node, float score, float good)
{
    size_t i;
    if (t->n < t->k) {
        i = t->n++;
    } else {
        if (good < t->g[0] || (good == t->g[0] && node > t->h[0].node)) return;
        i = 0;
        t->h[0] = (HnswHit){ node, score };
        t->g[0] = good;
        /* sift down */
        for (;;) {
            size_t l = 2 * i + 1, r = l + 1, w = i;
            if (l < t->n && topk_worse(t, l, w)) w = l;
            if (r < t->n && topk_worse(t, r, w)) w = r;
            if (w == i) break;
            topk_swap(t, i, w);
            i = w;
        }
        return;
    }
    t->h[i] = (HnswHit){ node, score };
    t->g[i] = good;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!topk_worse(t, i, p)) break;
        topk_swap(t, i, p);
        i = p;
    }
}

/* topk_sorted pops the heap into best-first order in h[0..n). */
static void topk_sort(TopK *t)
{
    size_t n = t->n;
    while (t->n > 1) {
        topk_swap(t, 0, t->n - 1);
        t->n--;
        size_t i = 0;
        for (;;) {
            size_t l = 2 * i + 1, r = l + 1, w = i;
            if (l < t->n && topk_worse(t, l, w)) w = l;
            if (r < t->n && topk_worse(t, r, w)) w = r;
            if (w == i) break;
            topk_swap(t, i, w);
            i = w;
        }
    }
    t->n = n;
}

/* Scorer strategies beyond the recommendation ones (CollectionRecoStrategy). */
enum { SCORER_DISCOVER = 8, SCORER_CONTEXT = 9 };

/* A query scorer: plain (one vector), a recommendation objective, or a
 * discovery / context objective (pos[i] and neg[i] a pair, n_pos ==
 * n_neg; q the discovery target). */
typedef struct {
    int strategy; /* -1: plain similarity to q */
    const float *q;
    const float *const *pos;
    size_t n_pos;
    const float *const *neg;
    size_t n_neg;
} Scorer;

/* Qdrant's common::math fast_sigmoid and scaled_fast_sigmoid, in f32. */
static float fast_sigmoid(float x) { return x / (1.0f + fabsf(x)); }
static float sigmoid_scaled(float x) { return 0.5f * (fast_sigmoid(x) + 1.0f); }

/* total_cmp is Rust's f32::total_cmp as -1, 0 or 1 (the sign a discovery
 * pair adds to the rank): IEEE total order, so -0 < +0 and NaN ranks too. */
static int total_cmp(float a, float b)
{
    int32_t ia, ib;
    memcpy(&ia, &a, sizeof ia);
    memcpy(&ib, &b, sizeof ib);
    ia ^= (int32_t)((uint32_t)(ia >> 31) >> 1);
    ib ^= (int32_t)((uint32_t)(ib >> 31) >> 1);
    return (ia > ib) - (ia < ib);
}

/* raw_similarity is Qdrant's raw score of two vectors, larger is closer:
 * the dot product, or minus the squared L2 / the L1 distance. The
 * recommendation objectives work on it, not on the reported distance. */
static float raw_similarity(Collection *c, int v, const float *a, const float *b)
{
    float x = hnsw_score_between(c->idx[v].index, a, b);
    switch (c->config.vectors[v].distance) {
    case COLLECTION_EUCLID: return -(x * x);
    case COLLECTION_MANHATTAN: return -x;
    default: return x;
    }
}

/* score_vec scores a stored vector; returns (score, goodness). */
static float score_vec(Collection *c, int v, const Scorer *sc, const float *vec, float *good)
{
    HnswIndex *h = c->idx[v].index;
    int euclid = coll_is_distance(c, v);
    if (sc->strategy < 0) {
        float s = hnsw_score_between(h, sc->q, vec);
        *good = euclid ? -s : s;
        return s;
    }
    float s;
    if (sc->strategy == SCORER_DISCOVER) {
        /* discover_query.rs: the pairs' rank, then the target's
         * similarity squashed into (0, 1) as the fraction. */
        int rank = 0;
        for (size_t i = 0; i < sc->n_pos; i++)
            rank += total_cmp(raw_similarity(c, v, sc->pos[i], vec),
                              raw_similarity(c, v, sc->neg[i], vec));
        s = (float)rank + sigmoid_scaled(raw_similarity(c, v, sc->q, vec));
    } else if (sc->strategy == SCORER_CONTEXT) {
        /* context_query.rs: a pair loses nothing once the point is
         * closer to its positive than its negative by a margin. */
        s = 0;
        for (size_t i = 0; i < sc->n_pos; i++) {
            float d = raw_similarity(c, v, sc->pos[i], vec) - raw_similarity(c, v, sc->neg[i], vec) -
                      FLT_EPSILON;
            s += fast_sigmoid(d < 0.0f ? d : 0.0f);
        }
    } else if (sc->strategy == COLLECTION_RECO_BEST_SCORE) {
        float bp = -INFINITY, bn = -INFINITY;
        for (size_t i = 0; i < sc->n_pos; i++) {
            float x = raw_similarity(c, v, sc->pos[i], vec);
            if (x > bp) bp = x;
        }
        for (size_t i = 0; i < sc->n_neg; i++) {
            float x = raw_similarity(c, v, sc->neg[i], vec);
            if (x > bn) bn = x;
        }
        s = bp > bn ? sigmoid_scaled(bp) : -sigmoid_scaled(bn);
    } else {
        float sp = 0, sn = 0;
        for (size_t i = 0; i < sc->n_pos; i++) sp += raw_similarity(c, v, sc->pos[i], vec);
        for (size_t i = 0; i < sc->n_neg; i++) sn += raw_similarity(c, v, sc->neg[i], vec);
        s = sp - sn;
    }
    *good = s;
    return s;
}

/* Candidate collection for exact scoring. */
typedef struct {
    Collection *c;
    int v;
    const Scorer *sc;
    const Exclude *ex;
    TopK *top;
    float *vec;
    StoreTxn *txn;
    int quant; /* the graph holds int8 codes: score the stored originals */
    /* collect: gather the nodes in list instead of scoring them (a scan
     * of a quantized graph ranks them on codes first). */
    int collect;
    uint32_t *list;
    size_t n_list, cap_list;
} ExactCtx;

/* exact_consider scores node exactly: with the graph's float32 vector, or
 * for a quantized graph with the original in the store (coll_vector_get,
 * the memory-mapped copy: nothing needs to be resident). */
static void exact_consider(ExactCtx *x, uint32_t node)
{
    if (!hnsw_contains(x->c->idx[x->v].index, node)) return;
    const float *vec = x->vec;
    if (x->quant) {
        if (coll_vector_get(x->c, x->txn, x->v, node, x->vec, &vec) != 0) return;
    } else if (hnsw_get_vector(x->c->idx[x->v].index, node, x->vec) != 0) {
        return;
    }
    float good, s = score_vec(x->c, x->v, x->sc, vec, &good);
    topk_push(x->top, node, s, good);
}

/* exact_take_one scores node, or collects it. */
static void exact_take_one(ExactCtx *x, uint32_t node)
{
    if (!x->collect) {
        exact_consider(x, node);
        return;
    }
    coll_grow_u32(&x->list, &x->cap_list, x->n_list + 1);
    x->list[x->n_list++] = node;
}

static int exact_take_node(void *vctx, uint32_t node)
{
    ExactCtx *x = vctx;
    if (!excluded(x->ex, &x->c->node_ids[node])) exact_take_one(x, node);
    return 0;
}

static int exact_take(void *vctx, const ScanRec *r)
{
    ExactCtx *x = vctx;
    if (!(r->mask >> x->v & 1) || excluded(x->ex, &r->id)) return 0;
    /* The node table may lag the transaction by one write; trust only
     * nodes it agrees on. */
    if (r->node >= x->c->node_cap || !x->c->node_live[r->node] ||
        !point_id_equal(&x->c->node_ids[r->node], &r->id))
        return 0;
    exact_take_one(x, r->node);
    return 0;
}

/* Search plans: the graph walk collecting accepted nodes, the exact scan
 * of the matches, of every point, and the walk over the matches alone
 * (hnsw_search_allowed). */
enum { PLAN_HNSW, PLAN_SCAN, PLAN_ALL, PLAN_SPARSE, PLAN_BLOCK };

/* The allow list of a walk over the matches, filled from the indexes. */
typedef struct {
    Collection *c;
    const Exclude *ex;
    uint64_t *words;
    size_t count;
} AllowCtx;

static int allow_take_node(void *vctx, uint32_t node)
{
    AllowCtx *a = vctx;
    if (!excluded(a->ex, &a->c->node_ids[node])) {
        a->words[node >> 6] |= (uint64_t)1 << (node & 63);
        a->count++;
    }
    return 0;
}

/* estimate_matches samples live nodes to estimate how many points f
 * matches (a fixed-seed sample, so a query plans the same way each time). */
static uint64_t estimate_matches(Collection *c, StoreTxn *txn, const Filter *f)
{
    if (!c->node_high || !c->points_count) return 0;
    Scratch s;
    coll_scratch_init(&s);
    uint64_t state = 0x9e3779b97f4a7c15ULL;
    size_t sampled = 0, matched = 0;
    for (size_t tries = 0; tries < COLLECTION_FILTER_SAMPLE * 8 && sampled < COLLECTION_FILTER_SAMPLE;
         tries++) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        uint32_t node = (uint32_t)(state % c->node_high);
        if (!c->node_live[node]) continue;
        sampled++;
        matched += (size_t)coll_filter_node(c, txn, f, &s, node, NULL);
    }
    coll_scratch_free(&s);
    if (!sampled) return 0;
    return c->points_count * matched / sampled;
}

/*
 * A query, as run_query and fill_results see it: which graph, the
 * scorer, what is excluded, and the request's limit, offset, ef, exact
 * flag and score threshold (req; search.vector is not used here: the
 * scorer holds the prepared query vectors).
 */
typedef struct {
    Db *db;
    Collection *c;
    int v; /* vector index */
    StoreTxn *txn;
    const Scorer *sc;
    const Filter *f;   /* NULL: every point */
    const Exclude *ex; /* NULL: none */
    const CollectionSearch *req;
    size_t limit;      /* req->limit resolved (0 -> the default) */
    const Output *o;   /* what each result carries */
    Arena *arena;      /* results */
} Query;

/*
 * rank_collected ranks the nodes x collected on the graph's blocks (int8
 * codes, or a float32 graph's exact vectors) and keeps the best k (x
 * limit x oversampling when rescoring, every one with quantization
 * ignore), rescoring them with their float32 originals or taking the
 * block scores as they are.
 */
static int rank_collected(const Query *q, ExactCtx *x, size_t k, int rescore)
{
    x->collect = 0;
    if (!x->n_list) return 0;
    size_t kk = k ? k : 1;
    if (rescore && q->req->quant_oversampling > 1)
        kk = (size_t)ceil((double)kk * q->req->quant_oversampling);
    if (rescore && q->req->quant_ignore) kk = x->n_list;
    kk = MIN(kk, x->n_list);
    HnswHit *buf = xmalloc(kk * sizeof *buf);
    int got = 0;
    int err = hnsw_brute_force_nodes(x->c->idx[x->v].index, x->sc->q, (int)kk, x->list, x->n_list,
                                     buf, &got);
    for (int i = 0; i < got && !err; i++) {
        if (rescore) exact_consider(x, buf[i].node);
        else topk_push(x->top, buf[i].node, buf[i].score, goodness(x->c, x->v, buf[i].score));
    }
    free(buf);
    return err;
}

/*
 * plan_filtered plans a graph search whose filter passes about m of the
 * collection's points: an exact scan below the full-scan threshold, then
 * as hnsw_plan weighs it at the request's ef (at 1M points a 1% filter
 * scans its 10,000 matches instead of walking ~100x the unfiltered
 * visits; at ef 100 a 5% filter walks its 50,000 alone). With the
 * threshold given (tests, small collections) the cost model is off: past
 * the threshold a share from HNSW_SPARSE_MIN_SHARE to HNSW_SPARSE_SHARE
 * walks the matches alone, any other the whole graph.
 */
static int plan_filtered(const Query *q, const HnswIndex *h, uint64_t m)
{
    size_t live = (size_t)q->c->points_count;
    if (m < q->db->full_scan_threshold) return PLAN_SCAN;
    if (q->db->scan_fixed) {
        double share = live ? (double)m / (double)live : 1;
        return share >= HNSW_SPARSE_MIN_SHARE && share < HNSW_SPARSE_SHARE ? PLAN_SPARSE
                                                                            : PLAN_HNSW;
    }
    switch (hnsw_plan(h, (size_t)m, live, q->req->ef)) {
    case HNSW_PLAN_SCAN: return PLAN_SCAN;
    case HNSW_PLAN_SPARSE: return PLAN_SPARSE;
    default: return PLAN_HNSW;
    }
}

void collection_db_plans(Db *db, CollectionPlans *out)
{
    out->walk = __atomic_load_n(&db->plans[PLAN_HNSW], __ATOMIC_RELAXED);
    out->scan = __atomic_load_n(&db->plans[PLAN_SCAN], __ATOMIC_RELAXED);
    out->all = __atomic_load_n(&db->plans[PLAN_ALL], __ATOMIC_RELAXED);
    out->sparse = __atomic_load_n(&db->plans[PLAN_SPARSE], __ATOMIC_RELAXED);
    out->block = __atomic_load_n(&db->plans[PLAN_BLOCK], __ATOMIC_RELAXED);
}

/*
 * walk_block answers a filtered query (a plain one: no objective) whose
 * filter requires a keyword value with a payload block: the block's walk
 * over the matches, plus an exact scan of the matches that are not
 * members yet (written since the blocks thread's last pass). Returns 1
 * when it answered into x's top-k, 0 when the caller should plan as
 * without it (no block, the indexes cannot name the matches, fewer match
 * than the full-scan threshold, or more than a tenth of them are not
 * members), or an error.
 */
static int walk_block(const Query *q, ExactCtx *x, size_t k)
{
    Collection *c = q->c;
    HnswSub *sub = coll_blocks_find(c, q->v, q->f);
    if (!sub) return 0;
    AllowCtx al = { c, q->ex, xcalloc((c->node_high + 63) / 64 + 1, sizeof *al.words), 0 };
    /* A vector without a graph keeps blocks of any share (a tenant's). */
    uint64_t max_cand = c->config.vectors[q->v].exact_only
                            ? c->points_count + 1
                            : (uint64_t)(HNSW_SPARSE_SHARE * (double)c->points_count) + 1;
    /* A filter that is the value alone (a shop's category): its matches
     * are the index's list of the term, with no condition to evaluate
     * per point (that took most of a search's time at 2.5% of 200k). */
    const PayloadIndex *tix;
    int64_t key;
    int rc;
    if (filter_single_term(q->f, &tix, &key)) {
        PayloadNodeList l = { 0 };
        coll_value_nodes(tix, key, &l);
        for (size_t i = 0; i < l.n; i++)
            if (l.nodes[i] < c->node_high && c->node_live[l.nodes[i]])
                allow_take_node(&al, l.nodes[i]);
        payload_node_list_free(&l);
        rc = 1;
    } else {
        rc = coll_filter_indexed(c, q->txn, q->f, max_cand, allow_take_node, &al);
    }
    int answered = 0;
    /* Fewer matches than the full-scan threshold (the value and a
     * narrower condition): a walk that cannot fill ef stops only when it
     * has seen the whole block, and the exact scan the caller runs
     * instead is cheaper. */
    if (rc > 0 && al.count >= q->db->full_scan_threshold) {
        HnswIndex *h = c->idx[q->v].index;
        const HnswAllow all = { al.words, c->node_high, al.count };
        size_t cap = al.count / 10 + 1;
        uint32_t *miss = xmalloc(cap * sizeof *miss);
        size_t n_miss = hnsw_sub_missing(h, sub, &all, c->pblocks.stale, c->pblocks.stale_words,
                                         miss, cap);
        if (n_miss <= cap) {
            /* The missing ones are scored exactly and left out of the
             * walk's results (a stale member would come twice), though
             * they still route it. */
            for (size_t i = 0; i < n_miss; i++)
                al.words[miss[i] >> 6] &= ~((uint64_t)1 << (miss[i] & 63));
            const HnswAllow allow = { al.words, c->node_high, al.count - n_miss };
            size_t kk = MIN(k ? k : 1, (size_t)HNSW_MAX_EF);
            HnswHit *buf = xmalloc(kk * sizeof *buf);
            int got = 0;
            rc = hnsw_search_sub(h, sub, x->sc->q, (int)kk, q->req->ef, &allow, buf, &got);
            for (int i = 0; i < got && rc == 0; i++)
                topk_push(x->top, buf[i].node, buf[i].score, goodness(c, q->v, buf[i].score));
            got = 0;
            if (rc == 0 && n_miss)
                rc = hnsw_brute_force_nodes(h, x->sc->q, (int)kk, miss, n_miss, buf, &got);
            for (int i = 0; i < got && rc == 0; i++)
                topk_push(x->top, buf[i].node, buf[i].score, goodness(c, q->v, buf[i].score));
            free(buf);
            answered = rc == 0;
        }
        free(miss);
    }
    free(al.words);
    coll_blocks_release(c);
    return rc < 0 ? rc : answered;
}

/*
 * run_query finds the best offset + limit nodes of graph q->v for the
 * scorer: exactly (scan or all nodes) or through HNSW. Exactly whenever
 * the request asks (exact) or the vector has no graph to search
 * (exact_only): every dense search, recommendation and discovery comes
 * through here, so the flag holds for all of them. Hits go to the
 * arena, best first. A recommendation objective (strategy >= 0) makes
 * HNSW only propose candidates (a search per positive example) that are
 * rescored.
 */
static int run_query(const Query *q, HnswHit **hits, size_t *n_hits)
{
    Collection *c = q->c;
    const Scorer *sc = q->sc;
    const Filter *f = q->f;
    const Exclude *ex = q->ex;
    int v = q->v, ef = q->req->ef;
    size_t k = q->req->offset + q->limit;
    /* Below this many matches a filtered search scores them exactly
     * (Qdrant's full_scan_threshold); past it hnsw_plan weighs the scan
     * against the walks (plan_filtered). */
    uint64_t threshold = q->db->full_scan_threshold;
    HnswIndex *h = c->idx[v].index;
    int all = filter_matches_all(f);
    int plan;
    uint64_t est_m = UINT64_MAX; /* the planner's estimate of the matches */
    size_t dim = c->config.vectors[v].size;
    /* Like Qdrant, a graph whose vectors are small enough is searched
     * exactly: that is cheap, and small collections (many near-duplicate
     * vectors among few points) are where HNSW's recall is worst. */
    int small = (uint64_t)c->points_count * dim * sizeof(float) < q->db->full_scan_bytes;
    /* A vector without a graph to search (Qdrant's hnsw m = 0) is scored
     * exactly, as if every request asked for it (params.exact). */
    int no_graph = c->config.vectors[v].exact_only;
    if (q->req->exact || no_graph || k > HNSW_MAX_EF || small) plan = all ? PLAN_ALL : PLAN_SCAN;
    else if (sc->strategy >= 0 && sc->n_pos == 0) plan = all ? PLAN_ALL : PLAN_SCAN;
    /* Discovery and context objectives are not monotone in any one
     * example's similarity, so no single graph search proposes their
     * candidates: they score every point (Qdrant walks the graph with the
     * objective itself; the exact scan is its ground truth). */
    else if (sc->strategy >= SCORER_DISCOVER) plan = all ? PLAN_ALL : PLAN_SCAN;
    else if (all) plan = PLAN_HNSW;
    else if (c->points_count <= threshold) plan = PLAN_SCAN;
    else {
        /* Qdrant's planner: the cardinality estimate from the payload
         * indexes when it is exact or clearly small; a sample when it is
         * a range (a share past HNSW_SPARSE_SHARE walks the graph at any
         * point in it, so its lower end does). */
        FilterCardinality est;
        filter_estimate(f, c->points_count, &est);
        uint64_t m = est.min;
        if (est.max < threshold) m = est.max;
        else if (est.min != est.max && (double)est.min < HNSW_SPARSE_SHARE * c->points_count)
            m = estimate_matches(c, q->txn, f);
        plan = plan_filtered(q, h, m);
        est_m = m;
    }

    TopK top = { arena_alloc(q->arena, (k ? k : 1) * sizeof(HnswHit)),
                 arena_alloc(q->arena, (k ? k : 1) * sizeof(float)), 0, k };
    float *vec = xmalloc(dim * sizeof *vec);
    int quant = coll_graph_quantized(c, v);
    ExactCtx x = { c, v, sc, ex, &top, vec, q->txn, quant, 0, NULL, 0, 0 };
    /* A quantized graph proposes limit x oversampling candidates ranked on
     * int8 codes; rescoring (Qdrant's default) ranks them by their float32
     * originals. ignore ranks all ef candidates so. */
    int rescore = quant && (!q->req->quant_no_rescore || q->req->quant_ignore);
    /* Exact plans of a quantized graph rank on the codes unless the
     * request asks for exact scores (params.exact): hnsw m = 0 does not
     * turn quantization off in Qdrant either. */
    int codes = quant && !q->req->exact && sc->strategy < 0;
    /* A plain query on a float32 graph collects the nodes too and scores
     * them in one pass over the graph's blocks (hnsw_brute_force_nodes:
     * one lock, vectors prefetched ahead, no copy), the scores exact. */
    int plain = !quant && sc->strategy < 0;
    int err = 0;
    /* A filter to a keyword value with a payload block walks the block
     * instead of scanning the matches or walking the graph for them (at
     * 1M, a 1% value: the walk of 10,000 points instead of scanning their
     * 20 MB of vectors). Blocks are only kept for values that name a
     * share below HNSW_SPARSE_SHARE, past the full-scan threshold; a
     * vector without a graph (m 0) keeps them for every value past it,
     * and they are all it walks (Qdrant's multitenancy recipe). */
    if ((plan == PLAN_SCAN || plan == PLAN_SPARSE || plan == PLAN_HNSW) && plain &&
        !q->req->exact && !small && !all && c->points_count > threshold && est_m >= threshold &&
        k <= HNSW_MAX_EF) {
        int r = walk_block(q, &x, k);
        if (r < 0) err = r;
        else if (r > 0) plan = PLAN_BLOCK;
    }
    if (err || plan == PLAN_BLOCK) {
        /* answered (or failed) by the block */
    } else if (plan == PLAN_SCAN) {
        /* Index candidates or the node table when they spare the walk
         * over every stored point. */
        uint64_t max_cand = MAX(threshold, c->points_count / 2);
        /* A quantized graph's matches are ranked on their codes (a quarter
         * of the bytes, in memory) and only the limit x oversampling best
         * are read from the store and rescored, as Qdrant scans quantized
         * vectors; params.exact scores every match in float32. */
        x.collect = codes || plain;
        int done = coll_filter_nodes(c, q->txn, f, max_cand, exact_take_node, &x);
        if (done < 0) err = done;
        else if (!done) err = coll_scan_points(c, q->txn, f, NULL, exact_take, &x);
        if (!err && x.collect) err = rank_collected(q, &x, k, rescore);
        free(x.list);
    } else if (plan == PLAN_ALL) {
        /* A quantized vector without a graph (exact_only) is scanned on
         * its codes and rescored, as Qdrant searches a segment without
         * HNSW; a small collection or params.exact reads float32. */
        x.collect = (codes && no_graph) || plain;
        for (uint32_t node = 0; node < c->node_high; node++)
            if (c->node_live[node] && !excluded(ex, &c->node_ids[node])) exact_take_one(&x, node);
        if (x.collect) err = rank_collected(q, &x, k, rescore);
        free(x.list);
    } else {
        /* The walk over the matches alone needs them named by the
         * indexes, as a bitmap (excluded points left out); when the
         * indexes cannot, it is the walk with the filter. */
        AllowCtx al = { c, ex, NULL, 0 };
        if (plan == PLAN_SPARSE) {
            al.words = xcalloc((c->node_high + 63) / 64 + 1, sizeof *al.words);
            uint64_t max_cand = (uint64_t)(HNSW_SPARSE_SHARE * (double)c->points_count) + 1;
            int done = coll_filter_indexed(c, q->txn, f, max_cand, allow_take_node, &al);
            if (done <= 0) {
                free(al.words);
                al.words = NULL;
                plan = PLAN_HNSW;
            }
            if (done < 0) {
                free(vec);
                return done;
            }
        }
        const HnswAllow allow = { al.words, c->node_high, al.count };
        AcceptCtx a = { c, q->txn, f, ex, { { 0 } } };
        coll_scratch_init(&a.s);
        int need_cb = !all || (ex && ex->n);
        size_t kk = k + (ex ? ex->n : 0);
        if (rescore && q->req->quant_oversampling > 1)
            kk = (size_t)ceil((double)kk * q->req->quant_oversampling);
        if (rescore && q->req->quant_ignore && kk < (size_t)(ef > 0 ? ef : HNSW_DEFAULT_EF))
            kk = (size_t)(ef > 0 ? ef : HNSW_DEFAULT_EF);
        /* A recommendation objective rescores candidates, so each positive
         * example proposes at least ef of them. */
        if (sc->strategy >= 0 && kk < (size_t)(ef > 0 ? ef : HNSW_DEFAULT_EF))
            kk = (size_t)(ef > 0 ? ef : HNSW_DEFAULT_EF);
        if (kk > HNSW_MAX_EF) kk = HNSW_MAX_EF;
        HnswHit *buf = xmalloc(kk * sizeof *buf);
        const float *const *queries = sc->strategy < 0 ? &sc->q : sc->pos;
        size_t n_queries = sc->strategy < 0 ? 1 : sc->n_pos;
        for (size_t qi = 0; qi < n_queries && !err; qi++) {
            int got = 0;
            err = allow.words ? hnsw_search_allowed(h, queries[qi], (int)kk, ef, &allow, buf, &got)
                              : hnsw_search(h, queries[qi], (int)kk, ef, need_cb ? accept_node : NULL,
                                            &a, buf, &got);
            for (int i = 0; i < got && !err; i++) {
                if (sc->strategy < 0) {
                    if (!c->node_live[buf[i].node] || excluded(ex, &c->node_ids[buf[i].node]))
                        continue;
                    if (rescore) exact_consider(&x, buf[i].node);
                    else topk_push(&top, buf[i].node, buf[i].score, goodness(c, v, buf[i].score));
                } else {
                    /* Rescore a candidate once: skip nodes already kept. */
                    int seen = 0;
                    for (size_t j = 0; j < top.n && !seen; j++) seen = top.h[j].node == buf[i].node;
                    if (!seen && c->node_live[buf[i].node]) exact_consider(&x, buf[i].node);
                }
            }
        }
        free(buf);
        free(al.words);
        coll_scratch_free(&a.s);
    }
    free(vec);
    __atomic_fetch_add(&q->db->plans[plan], 1, __ATOMIC_RELAXED);
    if (err) return err;
    topk_sort(&top);
    *hits = top.h;
    *n_hits = top.n;
    return 0;
}

/* fill_results turns hits into points (skipping the request's offset),
 * applying its score threshold: a plain euclid score is a distance (kept
 * when <= t), every other score a similarity or objective (kept when >= t). */
static int fill_results(const Query *q, const HnswHit *hits, size_t n_hits, CollectionResult *out)
{
    Collection *c = q->c;
    const CollectionSearch *req = q->req;
    int euclid = q->sc->strategy < 0 && coll_is_distance(c, q->v);
    coll_result_init(c, out, q->arena, q->limit);
    Scratch s;
    coll_scratch_init(&s);
    size_t skipped = 0;
    int err = 0;
    for (size_t i = 0; i < n_hits && out->n < q->limit && !err; i++) {
        float score = hits[i].score;
        if (req->has_score_threshold &&
            (euclid ? score > req->score_threshold : score < req->score_threshold))
            break;
        uint32_t node = hits[i].node;
        if (node >= c->node_cap || !c->node_live[node]) continue;
        ScanRec r;
        int e = coll_point_lookup(c, q->txn, &c->node_ids[node], &r);
        if (e == ERR_NOTFOUND || (!e && r.node != node)) continue; /* deleted meanwhile */
        if (e) {
            err = e;
            break;
        }
        if (skipped < req->offset) {
            skipped++;
            continue;
        }
        err = coll_output_point(c, q->o, q->txn, &s, &r, score, q->arena, &out->points[out->n++]);
    }
    coll_scratch_free(&s);
    return err;
}

/* clamp_to_points bounds a large limit and offset by the points there are
 * (the read lock holds that count still): any limit is valid, as in
 * Qdrant, where u64::MAX returns every point, but nothing is sized or
 * summed by more than the collection holds. */
static void clamp_to_points(const Collection *c, size_t *limit, size_t *offset)
{
    size_t n = (size_t)c->points_count;
    if (*offset > n) *offset = n;
    if (*limit > COLLECTION_MAX_LIMIT && *limit > n) *limit = n ? n : 1;
}

/* search_common validates the shared parameters of search and recommend. */
static int search_params(const CollectionSearch *req, size_t *limit, char *err, size_t errlen)
{
    *limit = req->limit ? req->limit : COLLECTION_DEFAULT_LIMIT;
    if (req->ef < 0 || req->ef > HNSW_MAX_EF)
        return err_set(err, errlen, ERR_INVAL, "hnsw_ef must be in 0..%d", HNSW_MAX_EF);
    return 0;
}

int collection_search(Db *db, const char *name, const CollectionSearch *req_in, Arena *arena,
                      CollectionResult *out, char *err, size_t errlen)
{
    size_t limit;
    int e = search_params(req_in, &limit, err, errlen);
    if (e) return e;
    Filter *f;
    Collection *c;
    e = coll_query_begin(db, name, req_in->filter, &c, &f, err, errlen);
    if (e) return e;
    CollectionSearch req_copy = *req_in;
    const CollectionSearch *req = &req_copy;
    clamp_to_points(c, &limit, &req_copy.offset);
    /* Multivectors are scored exactly by MaxSim (collection_multivec.c). */
    if (req->multi || coll_multi_index(c, req->using) >= 0) {
        e = coll_multi_search(db, c, f, req, limit, arena, out, err, errlen);
        coll_read_end(db, c);
        filter_free(f);
        return e;
    }
    /* Sparse vectors have an index of their own (collection_sparse.c). */
    if (req->sparse || coll_sparse_index(c, req->using) >= 0) {
        e = coll_sparse_search(db, c, f, req, limit, arena, out, err, errlen);
        coll_read_end(db, c);
        filter_free(f);
        return e;
    }
    Output o;
    StoreTxn *txn = NULL;
    int v = coll_vector_index(c, req->using, err, errlen);
    if (v < 0) e = v;
    if (!e) e = coll_output_resolve(c, &req->with_payload, &req->with_vectors, &o, err, errlen);
    float *q = NULL;
    if (!e) {
        const CollectionVectorParams *p = &c->config.vectors[v];
        if (!req->vector || req->dim != p->size)
            e = err_set(err, errlen, ERR_INVAL, "Vector dimension error: expected dim: %u, got %zu",
                        p->size, req->dim);
        else if (!vec_is_finite(req->vector, req->dim))
            e = err_set(err, errlen, ERR_INVAL, "query vector contains NaN or Inf");
    }
    if (!e) {
        q = arena_alloc(arena, req->dim * sizeof *q);
        memcpy(q, req->vector, req->dim * sizeof *q);
        if (c->config.vectors[v].distance == COLLECTION_COSINE) vec_normalize(q, req->dim);
        e = store_read_begin(db->store, &txn);
    }
    if (!e) {
        Scorer sc = { .strategy = -1, .q = q };
        Query qr = { db, c, v, txn, &sc, f, NULL, req, limit, &o, arena };
        HnswHit *hits;
        size_t n_hits;
        e = run_query(&qr, &hits, &n_hits);
        if (!e) e = fill_results(&qr, hits, n_hits, out);
    }
    if (txn) store_read_end(txn);
    coll_read_end(db, c);
    filter_free(f);
    return e;
}

/* example_vector reads point id's vector v into arena. */
static int example_vector(Collection *c, StoreTxn *txn, int v, const PointId *id, Arena *arena,
                          const float **out, char *err, size_t errlen)
{
    ScanRec r;
    char idbuf[POINT_ID_TEXT_MAX];
    int e = coll_point_lookup(c, txn, id, &r);
    if (e == ERR_NOTFOUND || (!e && !(r.mask >> v & 1)))
        return err_set(err, errlen, ERR_NOTFOUND, "No point with id %s found",
                       point_id_format(id, idbuf));
    if (e) return e;
    size_t bytes = c->config.vectors[v].size * sizeof(float);
    float *f = arena_alloc(arena, bytes);
    const float *vec;
    if ((e = coll_vector_get(c, txn, v, r.node, f, &vec))) return e;
    if (vec != f) memcpy(f, vec, bytes);
    *out = f;
    return 0;
}

int collection_recommend(Db *db, const char *name, const CollectionRecommend *req_in,
                         Arena *arena, CollectionResult *out, char *err, size_t errlen)
{
    CollectionRecommend req_copy = *req_in; /* its offset is clamped below */
    const CollectionRecommend *req = &req_copy;
    const CollectionSearch *sr = &req->search;
    size_t limit;
    int e = search_params(sr, &limit, err, errlen);
    if (e) return e;
    size_t n_pos = req->n_positive + req->n_positive_vectors + req->n_positive_sparse +
                   req->n_positive_multi;
    size_t n_neg = req->n_negative + req->n_negative_vectors + req->n_negative_sparse +
                   req->n_negative_multi;
    if ((unsigned)req->strategy > COLLECTION_RECO_SUM_SCORES)
        return err_set(err, errlen, ERR_INVAL, "unknown recommend strategy");
    if (req->strategy == COLLECTION_RECO_AVERAGE_VECTOR && n_pos == 0)
        return err_set(err, errlen, ERR_INVAL,
                       "Positive vectors should not be empty with `average` strategy");
    if (n_pos + n_neg == 0)
        return err_set(err, errlen, ERR_INVAL, "at least one positive or negative example is needed");
    if (n_pos + n_neg > COLLECTION_MAX_BATCH) return ERR_TOOLARGE;
    Filter *f;
    Collection *c;
    e = coll_query_begin(db, name, sr->filter, &c, &f, err, errlen);
    if (e) return e;
    clamp_to_points(c, &limit, &req_copy.search.offset);
    if (req->n_positive_multi + req->n_negative_multi || coll_multi_index(c, sr->using) >= 0) {
        e = coll_multi_recommend(db, c, f, req, limit, arena, out, err, errlen);
        coll_read_end(db, c);
        filter_free(f);
        return e;
    }
    if (req->n_positive_sparse + req->n_negative_sparse || coll_sparse_index(c, sr->using) >= 0) {
        e = coll_sparse_recommend(db, c, f, req, limit, arena, out, err, errlen);
        coll_read_end(db, c);
        filter_free(f);
        return e;
    }
    Output o;
    StoreTxn *txn = NULL;
    int v = coll_vector_index(c, sr->using, err, errlen);
    if (v < 0) e = v;
    if (!e) e = coll_output_resolve(c, &sr->with_payload, &sr->with_vectors, &o, err, errlen);
    if (!e) e = store_read_begin(db->store, &txn);
    size_t dim = 0;
    const float **pos = NULL, **neg = NULL;
    if (!e && req->n_positive_vectors + req->n_negative_vectors &&
        sr->dim != c->config.vectors[v].size)
        e = err_set(err, errlen, ERR_INVAL, "Vector dimension error: expected dim: %u, got %zu",
                    c->config.vectors[v].size, sr->dim);
    if (!e) {
        dim = c->config.vectors[v].size;
        int cosine = c->config.vectors[v].distance == COLLECTION_COSINE;
        pos = arena_alloc(arena, (n_pos + 1) * sizeof *pos);
        neg = arena_alloc(arena, (n_neg + 1) * sizeof *neg);
        for (size_t i = 0; i < req->n_positive && !e; i++)
            e = example_vector(c, txn, v, &req->positive[i], arena, &pos[i], err, errlen);
        for (size_t i = 0; i < req->n_negative && !e; i++)
            e = example_vector(c, txn, v, &req->negative[i], arena, &neg[i], err, errlen);
        for (size_t i = 0; i < req->n_positive_vectors + req->n_negative_vectors && !e; i++) {
            int is_pos = i < req->n_positive_vectors;
            const float *src = is_pos ? req->positive_vectors[i]
                                      : req->negative_vectors[i - req->n_positive_vectors];
            if (!src || !vec_is_finite(src, dim)) {
                e = err_set(err, errlen, ERR_INVAL, "example vector contains NaN or Inf");
                break;
            }
            float *cp = arena_alloc(arena, dim * sizeof *cp);
            memcpy(cp, src, dim * sizeof *cp);
            if (cosine) vec_normalize(cp, dim);
            if (is_pos) pos[req->n_positive + i] = cp;
            else neg[req->n_negative + i - req->n_positive_vectors] = cp;
        }
    }
    if (!e) {
        /* Example points never come back as results. */
        PointId *exids = arena_alloc(arena, (req->n_positive + req->n_negative + 1) * sizeof *exids);
        size_t n_ex = 0;
        for (size_t i = 0; i < req->n_positive; i++) exids[n_ex++] = req->positive[i];
        for (size_t i = 0; i < req->n_negative; i++) exids[n_ex++] = req->negative[i];
        Exclude ex = { exids, n_ex };
        Scorer sc = { .strategy = (int)req->strategy, .pos = pos, .n_pos = n_pos, .neg = neg,
                      .n_neg = n_neg };
        if (req->strategy == COLLECTION_RECO_AVERAGE_VECTOR) {
            /* Qdrant: avg(pos) + (avg(pos) - avg(neg)); just avg(pos) without negatives. */
            float *q = arena_calloc(arena, dim * sizeof *q);
            for (size_t i = 0; i < n_pos; i++)
                for (size_t d = 0; d < dim; d++) q[d] += pos[i][d];
            for (size_t d = 0; d < dim; d++) q[d] /= (float)n_pos;
            if (n_neg) {
                float *an = arena_calloc(arena, dim * sizeof *an);
                for (size_t i = 0; i < n_neg; i++)
                    for (size_t d = 0; d < dim; d++) an[d] += neg[i][d];
                for (size_t d = 0; d < dim; d++) q[d] = q[d] + q[d] - an[d] / (float)n_neg;
            }
            if (c->config.vectors[v].distance == COLLECTION_COSINE) vec_normalize(q, dim);
            sc.strategy = -1;
            sc.q = q;
        }
        Query qr = { db, c, v, txn, &sc, f, &ex, sr, limit, &o, arena };
        HnswHit *hits;
        size_t n_hits;
        e = run_query(&qr, &hits, &n_hits);
        if (!e) e = fill_results(&qr, hits, n_hits, out);
    }
    if (txn) store_read_end(txn);
    coll_read_end(db, c);
    filter_free(f);
    return e;
}

/* discover_example resolves one example of a discovery into a prepared
 * vector of graph v (normalised under cosine, as the stored ones). */
static int discover_example(Collection *c, StoreTxn *txn, int v, const CollectionExample *x,
                            Arena *arena, const float **out, char *err, size_t errlen)
{
    if (x->by_id) return example_vector(c, txn, v, &x->id, arena, out, err, errlen);
    size_t dim = c->config.vectors[v].size;
    if (!x->vector || x->dim != dim)
        return err_set(err, errlen, ERR_INVAL, "Vector dimension error: expected dim: %zu, got %zu",
                       dim, x->dim);
    if (!vec_is_finite(x->vector, dim))
        return err_set(err, errlen, ERR_INVAL, "example vector contains NaN or Inf");
    float *cp = arena_alloc(arena, dim * sizeof *cp);
    memcpy(cp, x->vector, dim * sizeof *cp);
    if (c->config.vectors[v].distance == COLLECTION_COSINE) vec_normalize(cp, dim);
    *out = cp;
    return 0;
}

int collection_discover(Db *db, const char *name, const CollectionDiscover *req_in, Arena *arena,
                        CollectionResult *out, char *err, size_t errlen)
{
    CollectionDiscover req_copy = *req_in; /* its offset is clamped below */
    const CollectionDiscover *req = &req_copy;
    const CollectionSearch *sr = &req->search;
    size_t limit;
    int e = search_params(sr, &limit, err, errlen);
    if (e) return e;
    if (req->n_pairs > COLLECTION_MAX_BATCH) return ERR_TOOLARGE;
    Filter *f;
    Collection *c;
    e = coll_query_begin(db, name, sr->filter, &c, &f, err, errlen);
    if (e) return e;
    clamp_to_points(c, &limit, &req_copy.search.offset);
    Output o;
    StoreTxn *txn = NULL;
    int v = -1;
    if (coll_multi_index(c, sr->using) >= 0 || coll_sparse_index(c, sr->using) >= 0)
        e = err_set(err, errlen, ERR_INVAL,
                    "discovery and context search on sparse vectors or multivectors (vector `%s`) are not supported by vitrine",
                    sr->using ? sr->using : "");
    if (!e) v = coll_vector_index(c, sr->using, err, errlen);
    if (v < 0 && !e) e = v;
    if (!e) e = coll_output_resolve(c, &sr->with_payload, &sr->with_vectors, &o, err, errlen);
    if (!e) e = store_read_begin(db->store, &txn);
    const float *target = NULL;
    const float **pos = NULL, **neg = NULL;
    size_t np = req->n_pairs;
    if (!e && req->target) e = discover_example(c, txn, v, req->target, arena, &target, err, errlen);
    if (!e) {
        pos = arena_alloc(arena, (np + 1) * sizeof *pos);
        neg = arena_alloc(arena, (np + 1) * sizeof *neg);
    }
    for (size_t i = 0; i < np && !e; i++) {
        e = discover_example(c, txn, v, &req->positive[i], arena, &pos[i], err, errlen);
        if (!e) e = discover_example(c, txn, v, &req->negative[i], arena, &neg[i], err, errlen);
    }
    if (!e) {
        /* Example points never come back as results (discovery.rs). */
        PointId *exids = arena_alloc(arena, (2 * np + 2) * sizeof *exids);
        size_t n_ex = 0;
        if (req->target && req->target->by_id) exids[n_ex++] = req->target->id;
        for (size_t i = 0; i < np; i++) {
            if (req->positive[i].by_id) exids[n_ex++] = req->positive[i].id;
            if (req->negative[i].by_id) exids[n_ex++] = req->negative[i].id;
        }
        Exclude ex = { exids, n_ex };
        Scorer sc = { .strategy = req->target ? SCORER_DISCOVER : SCORER_CONTEXT, .q = target,
                      .pos = pos, .n_pos = np, .neg = neg, .n_neg = np };
        Query qr = { db, c, v, txn, &sc, f, &ex, sr, limit, &o, arena };
        HnswHit *hits;
        size_t n_hits;
        e = run_query(&qr, &hits, &n_hits);
        if (!e) e = fill_results(&qr, hits, n_hits, out);
    }
    if (txn) store_read_end(txn);
    coll_read_end(db, c);
    filter_free(f);
    return e;
}
