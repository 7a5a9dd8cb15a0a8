/*
 * hnsw_search.c - searching the HNSW graph: the greedy descent through the
 * upper levels and SEARCH-LAYER (Algorithms 2 and 5 of Malkov & Yashunin,
 * arXiv:1603.09320), the exact brute-force twin, and the pool of per-search
 * scratch contexts.
 *
 * Design notes:
 * - Visited marks are epoch tags (uint16 per node, hnswlib's visited-list
 *   pool): a search bumps its context's epoch instead of clearing the array,
 *   which is cleared only once every 65535 searches. Contexts are pooled per
 *   index so concurrent searches each get their own without allocating.
 * - The expansion loop first collects a candidate's unvisited neighbours,
 *   then scores them while prefetching the vectors a few neighbours ahead:
 *   a 512-d vector is 32 cache lines and the graph walk is a chain of
 *   dependent random reads, so hiding memory latency matters more than the
 *   arithmetic (which the AVX2 kernel does in a few dozen cycles).
 * - Filtered search walks through every node but only collects accepted
 *   ones (hnswlib's and Qdrant's approach); deleted nodes route but are
 *   never returned. A search given an allow list of a small share walks
 *   the allowed nodes alone, two hops at a time (collect_allowed).
 */
#include "index/hnsw.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "index/hnsw_internal.h"
#include "base/util.h"

/*
 * How many neighbours ahead the vector prefetch runs, and how many bytes of
 * each vector it asks for. Measured on 100k x 512-d (tools/bench_ann.sh):
 * asking for whole 2 KiB vectors stalls on the line-fill buffers and is
 * slower than no prefetch at all; the first KiB two neighbours ahead, with
 * the hardware prefetcher streaming the rest, gave the best QPS (+20%
 * over whole vectors one ahead).
 */
#define HNSW_PREFETCH_AHEAD 2
#define HNSW_PREFETCH_BYTES 1024

/* ---- heaps ---------------------------------------------------------- */

static inline void minheap_push(HeapItem *h, size_t *n, HeapItem x)
{
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (h[p].d <= x.d) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = x;
}

static inline HeapItem minheap_pop(HeapItem *h, size_t *n)
{
    HeapItem top = h[0], x = h[--*n];
    size_t i = 0, len = *n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= len) break;
        if (c + 1 < len && h[c + 1].d < h[c].d) c++;
        if (x.d <= h[c].d) break;
        h[i] = h[c];
        i = c;
    }
    if (len) h[i] = x;
    return top;
}

static inline void maxheap_push(HeapItem *h, size_t *n, HeapItem x)
{
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (h[p].d >= x.d) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = x;
}

static inline void maxheap_pop(HeapItem *h, size_t *n)
{
    HeapItem x = h[--*n];
    size_t i = 0, len = *n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= len) break;
        if (c + 1 < len && h[c + 1].d > h[c].d) c++;
        if (x.d >= h[c].d) break;
        h[i] = h[c];
        i = c;
    }
    if (len) h[i] = x;
}

static int heap_item_cmp(const void *a, const void *b)
{
    const HeapItem *x = a, *y = b;
    if (x->d < y->d) return -1;
    if (x->d > y->d) return 1;
    return (x->id > y->id) - (x->id < y->id);
}

void hnsw_heap_sort_ascending(HeapItem *a, size_t n)
{
    qsort(a, n, sizeof *a, heap_item_cmp);
}

/* ---- search contexts ------------------------------------------------ */

/* hnsw_items_reserve makes room for n items in *a (capacity *cap), keeping them. */
int hnsw_items_reserve(SearchCtx *ctx, HeapItem **a, size_t *cap, size_t n)
{
    if (n <= *cap) return 0;
    size_t nc = *cap ? *cap : 64;
    while (nc < n) nc *= 2;
    HeapItem *p = realloc(*a, nc * sizeof *p);
    if (!p) return ERR_NOMEM;
    ctx->bytes += (nc - *cap) * sizeof *p;
    *a = p;
    *cap = nc;
    return 0;
}

SearchCtx *hnsw_ctx_get(HnswIndex *idx)
{
    pthread_mutex_lock(&idx->pool_lock);
    SearchCtx *ctx = idx->pool;
    if (ctx) idx->pool = ctx->next;
    pthread_mutex_unlock(&idx->pool_lock);
    if (!ctx) {
        ctx = calloc(1, sizeof *ctx);
        if (!ctx) return NULL;
        ctx->bytes = sizeof *ctx;
        size_t nsel = 3 * ((size_t)idx->m0 + 1);
        ctx->ids = malloc(nsel * sizeof *ctx->ids);
        if (!ctx->ids) {
            free(ctx);
            return NULL;
        }
        ctx->bytes += nsel * sizeof *ctx->ids;
        ctx->cap_ids = nsel;
    }
    /* The visited array covers every node id present when this search
     * began (nodes added later are skipped by the search); it grows by a
     * quarter at a time so a build does not reallocate per insert. */
    uint32_t high = __atomic_load_n(&idx->high, __ATOMIC_ACQUIRE);
    if (high > ctx->vis_cap) {
        uint32_t need = high + high / 4 + 1024;
        uint16_t *v = realloc(ctx->visited, (size_t)need * sizeof *v);
        if (!v) {
            hnsw_ctx_put(idx, ctx);
            return NULL;
        }
        memset(v + ctx->vis_cap, 0, (size_t)(need - ctx->vis_cap) * sizeof *v);
        ctx->bytes += (size_t)(need - ctx->vis_cap) * sizeof *v;
        ctx->visited = v;
        ctx->vis_cap = need;
    }
    if (++ctx->epoch == 0) {
        memset(ctx->visited, 0, (size_t)ctx->vis_cap * sizeof *ctx->visited);
        ctx->epoch = 1;
    }
    return ctx;
}

void hnsw_ctx_put(HnswIndex *idx, SearchCtx *ctx)
{
    pthread_mutex_lock(&idx->pool_lock);
    ctx->next = idx->pool;
    idx->pool = ctx;
    pthread_mutex_unlock(&idx->pool_lock);
}

/* ---- the layers ----------------------------------------------------- */

static inline void prefetch_vector(const HnswIndex *idx, const unsigned char *b)
{
    size_t n = MIN(idx->vec_bytes, (size_t)HNSW_PREFETCH_BYTES);
    for (size_t off = 0; off < n; off += 64) __builtin_prefetch(b + off, 0, 3);
}

/* accept: may node appear in the results of this query? */
static inline int accept(const HnswIndex *idx, const LayerQuery *lq, uint32_t id,
                         unsigned char *block)
{
    if (id == lq->self) return 0;
    if (lq->plain) return 1;
    /* Deleted, or (a subgraph's member) never in this graph. */
    if ((hnsw_flags(hnsw_head(idx, block)) & (NODE_PRESENT | NODE_DELETED)) != NODE_PRESENT)
        return 0;
    if (lq->allow && !hnsw_allowed(lq->allow, id)) return 0;
    return !lq->filter || lq->filter(id, lq->fctx);
}

void hnsw_greedy_closest(const HnswIndex *idx, const float *q, int level, uint32_t *cur,
                         float *cur_d)
{
    int changed = 1;
    while (changed) {
        changed = 0;
        uint32_t *list = hnsw_list(idx, hnsw_block(idx, *cur), level);
        uint32_t n = __atomic_load_n(&list[0], __ATOMIC_ACQUIRE);
        for (uint32_t j = 0; j < n; j++) {
            uint32_t id = __atomic_load_n(&list[1 + j], __ATOMIC_ACQUIRE);
            float d = hnsw_dist(idx, q, (const float *)hnsw_block(idx, id));
            if (d < *cur_d) {
                *cur_d = d;
                *cur = id;
                changed = 1;
            }
        }
    }
}

/* collect_unvisited puts the unvisited neighbours of node at level in
 * ctx->ids, marking them, and returns how many. */
static size_t collect_unvisited(const HnswIndex *idx, SearchCtx *ctx, uint32_t node, int level)
{
    uint16_t *vis = ctx->visited;
    const uint16_t tag = ctx->epoch;
    uint32_t *list = hnsw_list(idx, hnsw_block(idx, node), level);
    uint32_t cnt = __atomic_load_n(&list[0], __ATOMIC_ACQUIRE);
    size_t nn = 0;
    for (uint32_t j = 0; j < cnt; j++) {
        uint32_t id = __atomic_load_n(&list[1 + j], __ATOMIC_ACQUIRE);
        if (id >= ctx->vis_cap || vis[id] == tag) continue;
        vis[id] = tag;
        ctx->ids[nn++] = id;
    }
    return nn;
}

/* collect_sub is collect_unvisited over node's list in the subgraph sub
 * (none when node is not a member: a seed may be a main-graph node). */
static size_t collect_sub(const HnswSub *sub, SearchCtx *ctx, uint32_t node)
{
    const uint32_t *list = hnsw_sub_list(sub, node);
    if (!list) return 0;
    uint16_t *vis = ctx->visited;
    const uint16_t tag = ctx->epoch;
    size_t nn = 0;
    for (uint32_t j = 0; j < list[0]; j++) {
        uint32_t id = list[1 + j];
        if (id >= ctx->vis_cap || vis[id] == tag) continue;
        vis[id] = tag;
        ctx->ids[nn++] = id;
    }
    return nn;
}

/*
 * collect_allowed is the step of the walk over allowed nodes alone
 * (LayerQuery.sparse, level 0): the allowed unvisited neighbours of node,
 * then, while fewer than 2 x M0, the allowed unvisited neighbours of its
 * rejected ones (each rejected node lends its list once: it is marked
 * visited when read), in ctx->ids; returns how many. With routing (no
 * allowed node found yet) the rejected neighbours are also left in
 * ctx->ids after the first 2 x M0 + 1 slots, *n_route of them, to be
 * scored and queued: a walk whose entry point lies among rejected nodes
 * then still moves towards the query instead of stopping.
 */
static size_t collect_allowed(const HnswIndex *idx, SearchCtx *ctx, const HnswAllow *allow,
                              uint32_t node, int routing, size_t *n_route)
{
    uint16_t *vis = ctx->visited;
    const uint16_t tag = ctx->epoch;
    const uint32_t vcap = ctx->vis_cap;
    const size_t cap = 2 * (size_t)idx->m0;
    uint32_t *ids = ctx->ids, *rej = ctx->ids + cap + 1;
    uint32_t *list = hnsw_list(idx, hnsw_block(idx, node), 0);
    uint32_t cnt = __atomic_load_n(&list[0], __ATOMIC_ACQUIRE);
    size_t nn = 0, nr = 0;
    for (uint32_t j = 0; j < cnt; j++) {
        uint32_t id = __atomic_load_n(&list[1 + j], __ATOMIC_ACQUIRE);
        if (id >= vcap || vis[id] == tag) continue;
        if (hnsw_allowed(allow, id)) {
            vis[id] = tag;
            ids[nn++] = id;
        } else {
            rej[nr++] = id;
        }
    }
    /* The rejected neighbours' lists are fetched together first: each is
     * a cache miss of its own, and the loads overlap when in flight at
     * once. */
    for (size_t i = 0; i < nr; i++)
        __builtin_prefetch(hnsw_list(idx, hnsw_block(idx, rej[i]), 0), 0, 3);
    for (size_t r = 0; r < nr && nn < cap; r++) {
        vis[rej[r]] = tag;
        uint32_t *l2 = hnsw_list(idx, hnsw_block(idx, rej[r]), 0);
        uint32_t c2 = __atomic_load_n(&l2[0], __ATOMIC_ACQUIRE);
        for (uint32_t j = 0; j < c2 && nn < cap; j++) {
            uint32_t id = __atomic_load_n(&l2[1 + j], __ATOMIC_ACQUIRE);
            if (id >= vcap || vis[id] == tag || !hnsw_allowed(allow, id)) continue;
            vis[id] = tag;
            ids[nn++] = id;
        }
    }
    *n_route = routing ? nr : 0;
    for (size_t i = 0; i < *n_route; i++) vis[rej[i]] = tag;
    return nn;
}

int hnsw_search_layer(const HnswIndex *idx, SearchCtx *ctx, const LayerQuery *lq, uint32_t ep,
                      float ep_d, int ef, int level)
{
    const float *q = lq->q;
    size_t uef = (size_t)ef;
    const uint32_t *ids = ctx->ids, *rej = ctx->ids + 2 * (size_t)idx->m0 + 1;

    if (hnsw_items_reserve(ctx, &ctx->res, &ctx->cap_res, uef + 1) ||
        hnsw_items_reserve(ctx, &ctx->cand, &ctx->cap_cand, uef + 1))
        return ERR_NOMEM;
    ctx->n_cand = ctx->n_res = 0;

    unsigned char *epb = hnsw_block(idx, ep);
    if (ep < ctx->vis_cap) ctx->visited[ep] = ctx->epoch;
    minheap_push(ctx->cand, &ctx->n_cand, (HeapItem){ ep_d, ep });
    if (accept(idx, lq, ep, epb)) maxheap_push(ctx->res, &ctx->n_res, (HeapItem){ ep_d, ep });
    if (hnsw_items_reserve(ctx, &ctx->cand, &ctx->cap_cand, lq->n_seeds + 1)) return ERR_NOMEM;
    for (size_t i = 0; i < lq->n_seeds; i++) {
        HeapItem s = lq->seeds[i];
        if (s.id >= ctx->vis_cap || ctx->visited[s.id] == ctx->epoch) continue;
        ctx->visited[s.id] = ctx->epoch;
        minheap_push(ctx->cand, &ctx->n_cand, s);
        if (accept(idx, lq, s.id, hnsw_block(idx, s.id))) {
            maxheap_push(ctx->res, &ctx->n_res, s);
            if (ctx->n_res > uef) maxheap_pop(ctx->res, &ctx->n_res);
        }
    }
    float bound = ctx->n_res ? ctx->res[0].d : INFINITY;

    while (ctx->n_cand) {
        HeapItem c = minheap_pop(ctx->cand, &ctx->n_cand);
        if (c.d > bound && ctx->n_res >= uef) break;

        /* Collect the step's neighbours first, marking them. */
        size_t route = 0;
        size_t nn = lq->sub      ? collect_sub(lq->sub, ctx, c.id)
                    : lq->sparse ? collect_allowed(idx, ctx, lq->allow, c.id, !ctx->n_res, &route)
                                 : collect_unvisited(idx, ctx, c.id, level);
        if (!nn && !route) continue;
        if (hnsw_items_reserve(ctx, &ctx->cand, &ctx->cap_cand, ctx->n_cand + nn + route))
            return ERR_NOMEM;

        /* Score them, prefetching ahead. */
        for (size_t i = 0; i < nn && i < HNSW_PREFETCH_AHEAD; i++)
            prefetch_vector(idx, hnsw_block(idx, ids[i]));
        for (size_t i = 0; i < nn; i++) {
            if (i + HNSW_PREFETCH_AHEAD < nn)
                prefetch_vector(idx, hnsw_block(idx, ids[i + HNSW_PREFETCH_AHEAD]));
            unsigned char *b = hnsw_block(idx, ids[i]);
            float d = hnsw_dist(idx, q, (const float *)b);
            if (ctx->n_res < uef || d < bound) {
                minheap_push(ctx->cand, &ctx->n_cand, (HeapItem){ d, ids[i] });
                if (accept(idx, lq, ids[i], b)) {
                    maxheap_push(ctx->res, &ctx->n_res, (HeapItem){ d, ids[i] });
                    if (ctx->n_res > uef) maxheap_pop(ctx->res, &ctx->n_res);
                    bound = ctx->res[0].d;
                }
            }
        }
        /* Routers: rejected nodes, queued but never results. */
        for (size_t i = 0; i < route; i++) {
            float d = hnsw_dist(idx, q, (const float *)hnsw_block(idx, rej[i]));
            minheap_push(ctx->cand, &ctx->n_cand, (HeapItem){ d, rej[i] });
        }
    }
    return 0;
}

/* ---- public searches ------------------------------------------------ */

/* to_score converts an internal distance into Qdrant's score. */
static float to_score(const HnswIndex *idx, float d)
{
    if (idx->metric == HNSW_METRIC_EUCLID) return sqrtf(d > 0 ? d : 0);
    if (idx->metric == HNSW_METRIC_MANHATTAN) return d;
    return -d;
}

static int check_query(const HnswIndex *idx, const float *q, int k, HnswHit *out, int *n_out)
{
    if (!idx || !q || !out || !n_out || k < 1) return ERR_INVAL;
    *n_out = 0;
    if (!vec_is_finite(q, (size_t)idx->dim)) return ERR_INVAL;
    return 0;
}

/* search runs hnsw_search (allow NULL), hnsw_search_allowed or, with
 * sub, hnsw_search_sub. */
static int search(HnswIndex *idx, const float *q, int k, int ef, HnswFilter filter, void *fctx,
                  const HnswAllow *allow, HnswSub *sub, HnswHit *out, int *n_out)
{
    int rc = check_query(idx, q, k, out, n_out);
    if (rc) return rc;
    if (ef <= 0) ef = idx->ef;
    if (ef < k) ef = k;
    if (ef > HNSW_MAX_EF) return ERR_INVAL;

    pthread_rwlock_rdlock(&idx->rw);
    uint64_t e = __atomic_load_n(&idx->entry, __ATOMIC_ACQUIRE);
    if (e == HNSW_ENTRY_NONE) {
        pthread_rwlock_unlock(&idx->rw);
        return 0;
    }
    SearchCtx *ctx = hnsw_ctx_get(idx);
    if (!ctx) {
        pthread_rwlock_unlock(&idx->rw);
        return ERR_NOMEM;
    }
    if (idx->quant) {
        /* The query is encoded like a stored vector, so the walk compares
         * codes with codes (quant.h). */
        if (!ctx->qcode && !(ctx->qcode = malloc(idx->vec_bytes))) {
            hnsw_ctx_put(idx, ctx);
            pthread_rwlock_unlock(&idx->rw);
            return ERR_NOMEM;
        }
        if (!ctx->bytes_q) ctx->bytes += idx->vec_bytes, ctx->bytes_q = 1;
        quant_encode(&idx->qp, q, ctx->qcode);
        q = (const float *)ctx->qcode;
    }
    uint32_t cur = (uint32_t)e;
    int top = (int)(e >> 32);
    float cur_d = hnsw_dist(idx, q, (const float *)hnsw_block(idx, cur));
    for (int l = top; l > 0; l--) hnsw_greedy_closest(idx, q, l, &cur, &cur_d);

    LayerQuery lq = { q, HNSW_NO_NODE, filter, fctx, 0, allow, 0, NULL, NULL, 0 };
    lq.plain = !filter && !allow && __atomic_load_n(&idx->deleted, __ATOMIC_RELAXED) == 0;
    size_t live = __atomic_load_n(&idx->live, __ATOMIC_RELAXED);
    lq.sparse = !sub && allow && (double)allow->count < HNSW_SPARSE_SHARE * (double)live;
    if (sub) {
        /* The walk starts from members near the query (hnsw_sub_seeds):
         * the first one is the entry point, the others seeds. */
        pthread_rwlock_rdlock(&sub->rw);
        lq.plain = 0; /* only members that are live and allowed */
        lq.sub = sub;
        size_t n = 0;
        rc = hnsw_sub_seeds(idx, sub, ctx, q, cur, cur_d, &n);
        if (rc == 0 && n) {
            lq.seeds = ctx->sel + 1;
            lq.n_seeds = n - 1;
            rc = hnsw_search_layer(idx, ctx, &lq, ctx->sel[0].id, ctx->sel[0].d, ef, 0);
        } else {
            ctx->n_res = 0;
        }
        pthread_rwlock_unlock(&sub->rw);
    } else {
        rc = hnsw_search_layer(idx, ctx, &lq, cur, cur_d, ef, 0);
    }
    if (rc == 0) {
        /* Drain the max-heap from the back: the sort gives best first. */
        hnsw_heap_sort_ascending(ctx->res, ctx->n_res);
        int n = (int)MIN((size_t)k, ctx->n_res);
        for (int i = 0; i < n; i++) {
            out[i].node = ctx->res[i].id;
            out[i].score = to_score(idx, ctx->res[i].d);
        }
        *n_out = n;
    }
    hnsw_ctx_put(idx, ctx);
    pthread_rwlock_unlock(&idx->rw);
    return rc;
}

int hnsw_search(HnswIndex *idx, const float *q, int k, int ef, HnswFilter filter, void *fctx,
                HnswHit *out, int *n_out)
{
    return search(idx, q, k, ef, filter, fctx, NULL, NULL, out, n_out);
}

int hnsw_search_allowed(HnswIndex *idx, const float *q, int k, int ef, const HnswAllow *allow,
                        HnswHit *out, int *n_out)
{
    if (!allow || (allow->n_bits && !allow->words)) return ERR_INVAL;
    /* Nothing allowed: nothing to find (the sparse walk would route
     * through the whole graph looking for a first allowed node). */
    if (!allow->count) return check_query(idx, q, k, out, n_out);
    return search(idx, q, k, ef, NULL, NULL, allow, NULL, out, n_out);
}

int hnsw_search_sub(HnswIndex *idx, HnswSub *s, const float *q, int k, int ef,
                    const HnswAllow *allow, HnswHit *out, int *n_out)
{
    if (!s || (allow && allow->n_bits && !allow->words)) return ERR_INVAL;
    if (allow && !allow->count) return check_query(idx, q, k, out, n_out);
    return search(idx, q, k, ef, NULL, NULL, allow, s, out, n_out);
}

/* Max-heap on HnswHit.score, for brute force into the caller's array. */
/* hit_worse: a ranks after b (a larger distance, or the same one and a
 * larger node: ties keep the smaller node, as the collection's top-k
 * does, so that exact answers do not depend on the scan order). */
static int hit_worse(HnswHit a, HnswHit b)
{
    return a.score > b.score || (a.score == b.score && a.node > b.node);
}

/* A max-heap on hit_worse: the hit to drop first on top. */
static void hitheap_push(HnswHit *h, size_t *n, HnswHit x)
{
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!hit_worse(x, h[p])) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = x;
}

static void hitheap_replace_top(HnswHit *h, size_t len, HnswHit x)
{
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= len) break;
        if (c + 1 < len && hit_worse(h[c + 1], h[c])) c++;
        if (!hit_worse(h[c], x)) break;
        h[i] = h[c];
        i = c;
    }
    h[i] = x;
}

static int hit_cmp(const void *a, const void *b)
{
    const HnswHit *x = a, *y = b;
    if (x->score < y->score) return -1;
    if (x->score > y->score) return 1;
    return (x->node > y->node) - (x->node < y->node);
}

int hnsw_brute_force(HnswIndex *idx, const float *q, int k, HnswFilter filter, void *fctx,
                     HnswHit *out, int *n_out)
{
    int rc = check_query(idx, q, k, out, n_out);
    if (rc) return rc;
    uint8_t *qcode = NULL;
    if (idx->quant) {
        if (!(qcode = malloc(idx->vec_bytes))) return ERR_NOMEM;
        quant_encode(&idx->qp, q, qcode);
        q = (const float *)qcode;
    }
    pthread_rwlock_rdlock(&idx->rw);
    /* The caller's out array is the max-heap of the k best (the internal
     * distance kept in .score until the end), so nothing is allocated. */
    size_t n = 0, uk = (size_t)k;
    uint32_t high = __atomic_load_n(&idx->high, __ATOMIC_ACQUIRE);
    for (uint32_t id = 0; id < high; id++) {
        unsigned char *b = hnsw_block_or_null(idx, id);
        if (!b) {
            id |= idx->chunk_mask; /* skip the missing chunk */
            continue;
        }
        int f = hnsw_flags(hnsw_head(idx, b));
        if (!(f & NODE_PRESENT) || (f & NODE_DELETED)) continue;
        if (filter && !filter(id, fctx)) continue;
        float d = hnsw_dist(idx, q, (const float *)b);
        if (n < uk) {
            hitheap_push(out, &n, (HnswHit){ id, d });
        } else if (hit_worse(out[0], (HnswHit){ id, d })) {
            hitheap_replace_top(out, n, (HnswHit){ id, d });
        }
    }
    qsort(out, n, sizeof *out, hit_cmp);
    for (size_t i = 0; i < n; i++) out[i].score = to_score(idx, out[i].score);
    *n_out = (int)n;
    pthread_rwlock_unlock(&idx->rw);
    free(qcode);
    return 0;
}

int hnsw_brute_force_nodes(HnswIndex *idx, const float *q, int k, const uint32_t *nodes, size_t n,
                           HnswHit *out, int *n_out)
{
    int rc = check_query(idx, q, k, out, n_out);
    if (rc) return rc;
    uint8_t *qcode = NULL;
    if (idx->quant) {
        if (!(qcode = malloc(idx->vec_bytes))) return ERR_NOMEM;
        quant_encode(&idx->qp, q, qcode);
        q = (const float *)qcode;
    }
    pthread_rwlock_rdlock(&idx->rw);
    size_t got = 0, uk = (size_t)k;
    uint32_t high = __atomic_load_n(&idx->high, __ATOMIC_ACQUIRE);
    for (size_t i = 0; i < n; i++) {
        /* The list is known ahead: fetch a few vectors early, as the graph
         * walk does, so the reads overlap. */
        if (i + HNSW_PREFETCH_AHEAD < n && nodes[i + HNSW_PREFETCH_AHEAD] < high) {
            unsigned char *pb = hnsw_block_or_null(idx, nodes[i + HNSW_PREFETCH_AHEAD]);
            if (pb) prefetch_vector(idx, pb);
        }
        uint32_t id = nodes[i];
        unsigned char *b = id < high ? hnsw_block_or_null(idx, id) : NULL;
        if (!b) continue;
        int f = hnsw_flags(hnsw_head(idx, b));
        if (!(f & NODE_PRESENT) || (f & NODE_DELETED)) continue;
        float d = hnsw_dist(idx, q, (const float *)b);
        if (got < uk) {
            hitheap_push(out, &got, (HnswHit){ id, d });
        } else if (hit_worse(out[0], (HnswHit){ id, d })) {
            hitheap_replace_top(out, got, (HnswHit){ id, d });
        }
    }
    qsort(out, got, sizeof *out, hit_cmp);
    for (size_t i = 0; i < got; i++) out[i].score = to_score(idx, out[i].score);
    *n_out = (int)got;
    pthread_rwlock_unlock(&idx->rw);
    free(qcode);
    return 0;
}

size_t hnsw_exact_below(size_t live)
{
    return (size_t)sqrt((double)HNSW_PLAN_VISITS * (double)live);
}

HnswPlan hnsw_plan(const HnswIndex *idx, size_t matches, size_t live, int ef)
{
    double share = live ? (double)matches / (double)live : 1;
    size_t walk = HNSW_SPARSE_BASE_BYTES + (size_t)(ef > 0 ? ef : idx->ef) * HNSW_SPARSE_EF_BYTES;
    /* In the sparse walk's band the scan is its only rival: the whole
     * walk costs it 1 / share visits per accepted node (at 1M and 5%,
     * ef 800: 16 queries/s against the scan's 176). */
    if (share >= HNSW_SPARSE_MIN_SHARE && share < HNSW_SPARSE_SHARE)
        return matches * idx->vec_bytes > walk ? HNSW_PLAN_SPARSE : HNSW_PLAN_SCAN;
    return matches < hnsw_exact_below(live) ? HNSW_PLAN_SCAN : HNSW_PLAN_WALK;
}
