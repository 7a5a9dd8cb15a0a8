/*
 * hnsw_build.c - changing the HNSW graph: INSERT (Algorithm 1 of Malkov &
 * Yashunin, arXiv:1603.09320) with SELECT-NEIGHBORS-HEURISTIC (Algorithm
 * 4), delete with neighbour repair, and update (re-link).
 *
 * Design notes:
 * - A node's level is floor(-ln(U) * mL), mL = 1 / ln(M), with U drawn
 *   from a hash of (seed, node id) rather than a shared generator: the
 *   level does not depend on which thread inserts first, so a graph built
 *   single-threaded with one seed is reproducible, and threads share no
 *   random state.
 * - Neighbour selection is the heuristic (Algorithm 4), as hnswlib does it:
 *   walk the candidates nearest first and keep one only if it is closer to
 *   the new node than to every neighbour already kept; with fewer than M
 *   candidates all are kept. The same rule shrinks a full neighbour list
 *   when a back-link is added, and rebuilds a list after a delete.
 * - Writers take one node lock at a time (never two), so concurrent
 *   inserts cannot deadlock; the entry point is raised with a
 *   compare-and-swap after the node is fully linked.
 * - Delete keeps the node's block (it still routes searches: its lists
 *   stay valid) and repairs each node it links to: that node drops the link
 *   and refills its list from the deleted node's neighbours. HNSW lists are
 *   nearly symmetric, so this catches almost every link into the node; the
 *   few that remain point at a still-valid routing node, and lists drop
 *   deleted entries whenever they are next rebuilt. A full scan for
 *   in-links (O(N M) per delete) was rejected as too slow for churn.
 * - A bare index (hnsw_set_bare) skips all of the above: an insert only
 *   stores the vector at level 0, so a bulk load of a vector that is
 *   scanned exactly costs a copy per node instead of an ef_construction
 *   search; the graph is built afterwards by inserting the nodes into a
 *   new, linked index (all at once, which also gives a better graph than
 *   linking into a graph with holes).
 */
#include "index/hnsw.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "index/hnsw_internal.h"
#include "base/util.h"

static int random_level(const HnswIndex *idx, uint32_t node)
{
    /* splitmix64 of (seed, node) gives U in (0, 1). */
    uint64_t z = idx->seed + 0x9E3779B97F4A7C15ull * ((uint64_t)node + 1);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    double u = ((double)(z >> 11) + 0.5) * 0x1p-53;
    double l = floor(-log(u) * idx->ml);
    return l > HNSW_MAX_LEVEL ? HNSW_MAX_LEVEL : (int)l;
}

static inline const float *node_vec(const HnswIndex *idx, uint32_t id)
{
    return (const float *)hnsw_block(idx, id);
}

static inline int node_deleted(const HnswIndex *idx, uint32_t id)
{
    return (hnsw_flags(hnsw_head(idx, hnsw_block(idx, id))) & NODE_DELETED) != 0;
}

size_t hnsw_select_heuristic(const HnswIndex *idx, HeapItem *c, size_t n, size_t m)
{
    if (n < m) return n;
    size_t kept = 0;
    for (size_t i = 0; i < n && kept < m; i++) {
        const float *v = node_vec(idx, c[i].id);
        int good = 1;
        for (size_t j = 0; j < kept; j++) {
            if (hnsw_dist(idx, v, node_vec(idx, c[j].id)) < c[i].d) {
                good = 0;
                break;
            }
        }
        if (good) c[kept++] = c[i];
    }
    return kept;
}

/* write_list publishes a new list: links first, then the count. */
static void write_list(uint32_t *list, const HeapItem *items, size_t n)
{
    for (size_t i = 0; i < n; i++) __atomic_store_n(&list[1 + i], items[i].id, __ATOMIC_RELEASE);
    __atomic_store_n(&list[0], (uint32_t)n, __ATOMIC_RELEASE);
}

/*
 * add_link adds node to the list of x at level l (the back-link of
 * Algorithm 1); a full list is shrunk with the heuristic, dropping deleted
 * entries on the way. Uses ctx->cand as scratch.
 */
static int add_link(HnswIndex *idx, SearchCtx *ctx, uint32_t x, uint32_t node, int l)
{
    unsigned char *xb = hnsw_block(idx, x);
    NodeHead *xh = hnsw_head(idx, xb);
    size_t max = (size_t)hnsw_max_links(idx, l);
    if (hnsw_items_reserve(ctx, &ctx->cand, &ctx->cap_cand, max + 1)) return ERR_NOMEM;
    hnsw_node_lock(xh);
    uint32_t *list = hnsw_list(idx, xb, l);
    uint32_t cnt = list[0];
    for (uint32_t j = 0; j < cnt; j++) {
        if (list[1 + j] == node) {
            hnsw_node_unlock(xh);
            return 0;
        }
    }
    if (cnt < max) {
        __atomic_store_n(&list[1 + cnt], node, __ATOMIC_RELEASE);
        __atomic_store_n(&list[0], cnt + 1, __ATOMIC_RELEASE);
    } else {
        const float *xv = (const float *)xb;
        HeapItem *c = ctx->cand;
        size_t n = 0;
        for (uint32_t j = 0; j < cnt; j++) {
            uint32_t id = list[1 + j];
            if (node_deleted(idx, id)) continue;
            c[n++] = (HeapItem){ hnsw_dist(idx, xv, node_vec(idx, id)), id };
        }
        c[n++] = (HeapItem){ hnsw_dist(idx, xv, node_vec(idx, node)), node };
        hnsw_heap_sort_ascending(c, n);
        n = hnsw_select_heuristic(idx, c, n, max);
        write_list(list, c, n);
    }
    hnsw_node_unlock(xh);
    return 0;
}

/*
 * link_node connects node (vector q, top level `level`, already present in
 * its slot) into the graph: Algorithm 1 from the current entry point. Used
 * by insert and, with the node already linked, by update (its own lists are
 * overwritten level by level, after each level's search has used them).
 */
/* Where link_node reports the nodes it added node to (NULL: nowhere). */
typedef struct {
    uint32_t *ids;
    size_t cap, n;
} Touched;

static int link_node(HnswIndex *idx, SearchCtx *ctx, uint32_t node, int level, const float *q,
                     Touched *t)
{
    uint64_t e = __atomic_load_n(&idx->entry, __ATOMIC_ACQUIRE);
    uint64_t want = ((uint64_t)level << 32) | node;
    while (e == HNSW_ENTRY_NONE) {
        if (__atomic_compare_exchange_n(&idx->entry, &e, want, 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE))
            return 0; /* the first node: nothing to link to */
    }
    uint32_t ep = (uint32_t)e;
    int top = (int)(e >> 32);
    float ep_d = hnsw_dist(idx, q, node_vec(idx, ep));
    for (int l = top; l > level; l--) hnsw_greedy_closest(idx, q, l, &ep, &ep_d);

    size_t ef = (size_t)idx->ef_construction;
    if (hnsw_items_reserve(ctx, &ctx->sel, &ctx->cap_sel, ef + 1)) return ERR_NOMEM;
    LayerQuery lq = { q, node, NULL, NULL, 0, NULL, 0, NULL, NULL, 0 };
    lq.plain = __atomic_load_n(&idx->deleted, __ATOMIC_RELAXED) == 0;
    unsigned char *b = hnsw_block(idx, node);
    NodeHead *h = hnsw_head(idx, b);
    for (int l = MIN(top, level); l >= 0; l--) {
        int rc = hnsw_search_layer(idx, ctx, &lq, ep, ep_d, (int)ef, l);
        if (rc == 0 && ctx->n_res == 0 && !lq.plain) {
            /* Only deleted nodes around (say, everything was deleted and
             * this node revived): link to them rather than to nothing, or
             * the node would be unreachable. They still route. */
            LayerQuery all = lq;
            all.plain = 1;
            rc = hnsw_search_layer(idx, ctx, &all, ep, ep_d, (int)ef, l);
        }
        if (rc) return rc;
        size_t n = ctx->n_res;
        memcpy(ctx->sel, ctx->res, n * sizeof *ctx->sel);
        hnsw_heap_sort_ascending(ctx->sel, n);
        if (n) {
            ep = ctx->sel[0].id;
            ep_d = ctx->sel[0].d;
        }
        n = hnsw_select_heuristic(idx, ctx->sel, n, (size_t)idx->m);
        hnsw_node_lock(h);
        write_list(hnsw_list(idx, b, l), ctx->sel, n);
        hnsw_node_unlock(h);
        for (size_t i = 0; i < n; i++) {
            rc = add_link(idx, ctx, ctx->sel[i].id, node, l);
            if (rc) return rc;
            if (t && t->n < t->cap) t->ids[t->n++] = ctx->sel[i].id;
        }
    }
    if (level > top) {
        e = __atomic_load_n(&idx->entry, __ATOMIC_ACQUIRE);
        while ((int)(e >> 32) < level &&
               !__atomic_compare_exchange_n(&idx->entry, &e, want, 0, __ATOMIC_ACQ_REL,
                                            __ATOMIC_ACQUIRE))
            ;
    }
    return 0;
}

static int update_node(HnswIndex *idx, uint32_t node, const float *vec, int revive_only);

/* bare_entry makes node, a bare node at level 0, the entry point of a
 * graph that has none: a saved graph with nodes but no entry point would
 * not restore (hnsw_restore). */
static void bare_entry(HnswIndex *idx, uint32_t node)
{
    uint64_t e = HNSW_ENTRY_NONE;
    __atomic_compare_exchange_n(&idx->entry, &e, (uint64_t)node, 0, __ATOMIC_ACQ_REL,
                                __ATOMIC_ACQUIRE);
}

static void raise_high(HnswIndex *idx, uint32_t node)
{
    uint32_t h = __atomic_load_n(&idx->high, __ATOMIC_RELAXED);
    while (h < node + 1 &&
           !__atomic_compare_exchange_n(&idx->high, &h, node + 1, 0, __ATOMIC_RELEASE,
                                        __ATOMIC_RELAXED))
        ;
}

/* insert_node is hnsw_insert; with t, only of a node never inserted
 * (ERR_EXISTS otherwise), reporting the nodes it linked to in t. */
static int insert_node(HnswIndex *idx, uint32_t node, const float *vec, Touched *t)
{
    if (!idx || !vec || node >= HNSW_MAX_NODES) return ERR_INVAL;
    if (!vec_is_finite(vec, (size_t)idx->dim)) return ERR_INVAL;
    int rc = hnsw_ensure_node(idx, node);
    if (rc) return rc;

    pthread_rwlock_rdlock(&idx->rw);
    unsigned char *b = hnsw_block(idx, node);
    NodeHead *h = hnsw_head(idx, b);
    uint8_t f = 0;
    if (!__atomic_compare_exchange_n(&h->flags, &f, (uint8_t)NODE_CLAIMED, 0, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE)) {
        pthread_rwlock_unlock(&idx->rw);
        if (!t && (f & NODE_PRESENT) && (f & NODE_DELETED)) return update_node(idx, node, vec, 1);
        return ERR_EXISTS;
    }
    int bare = idx->bare; /* stable: hnsw_set_bare waits for the shared lock */
    int level = bare ? 0 : random_level(idx, node);
    size_t ub = (size_t)level * (1 + (size_t)idx->m) * sizeof(uint32_t);
    uint32_t *upper = NULL;
    SearchCtx *ctx = NULL;
    if ((level > 0 && !(upper = calloc(1, ub))) || (!bare && !(ctx = hnsw_ctx_get(idx)))) {
        free(upper);
        __atomic_store_n(&h->flags, 0, __ATOMIC_RELEASE);
        pthread_rwlock_unlock(&idx->rw);
        return ERR_NOMEM;
    }
    hnsw_vec_put(idx, b, vec);
    h->level = (uint8_t)level;
    h->upper = upper;
    hnsw_list(idx, b, 0)[0] = 0;
    __atomic_add_fetch(&idx->upper_bytes, ub, __ATOMIC_RELAXED);
    __atomic_store_n(&h->flags, (uint8_t)(NODE_CLAIMED | NODE_PRESENT), __ATOMIC_RELEASE);
    __atomic_add_fetch(&idx->live, 1, __ATOMIC_RELAXED);
    raise_high(idx, node);

    if (bare) {
        bare_entry(idx, node);
    } else {
        rc = link_node(idx, ctx, node, level, (const float *)b, t);
        hnsw_ctx_put(idx, ctx);
    }
    pthread_rwlock_unlock(&idx->rw);
    return rc;
}

int hnsw_insert(HnswIndex *idx, uint32_t node, const float *vec)
{
    return insert_node(idx, node, vec, NULL);
}

int hnsw_insert_new(HnswIndex *idx, uint32_t node, const float *vec, uint32_t *touched,
                    size_t cap, size_t *n_touched)
{
    if (cap < (size_t)hnsw_links_max(idx, HNSW_MAX_LEVEL)) return ERR_INVAL;
    Touched t = { touched, cap, 0 };
    int rc = insert_node(idx, node, vec, &t);
    *n_touched = t.n;
    return rc;
}

/*
 * repair_neighbor: x (at level l) loses its link to dead, if it has one,
 * and refills its list from dead's neighbours nb[0..nnb) with the
 * heuristic. Caller holds the index exclusively.
 */
static int repair_neighbor(HnswIndex *idx, SearchCtx *ctx, uint32_t x, int l, uint32_t dead,
                           const uint32_t *nb, size_t nnb)
{
    unsigned char *xb = hnsw_block(idx, x);
    uint32_t *list = hnsw_list(idx, xb, l);
    uint32_t cnt = list[0];
    int found = 0;
    for (uint32_t j = 0; j < cnt && !found; j++) found = list[1 + j] == dead;
    if (!found) return 0;
    if (hnsw_items_reserve(ctx, &ctx->cand, &ctx->cap_cand, cnt + nnb)) return ERR_NOMEM;
    const float *xv = (const float *)xb;
    HeapItem *c = ctx->cand;
    size_t n = 0;
    for (uint32_t j = 0; j < cnt; j++) {
        uint32_t id = list[1 + j];
        if (id == dead || node_deleted(idx, id)) continue;
        c[n++] = (HeapItem){ hnsw_dist(idx, xv, node_vec(idx, id)), id };
    }
    size_t own = n;
    for (size_t j = 0; j < nnb; j++) {
        uint32_t id = nb[j];
        if (id == x || id == dead || node_deleted(idx, id)) continue;
        int dup = 0;
        for (size_t i = 0; i < own && !dup; i++) dup = c[i].id == id;
        if (dup) continue;
        c[n++] = (HeapItem){ hnsw_dist(idx, xv, node_vec(idx, id)), id };
    }
    hnsw_heap_sort_ascending(c, n);
    n = hnsw_select_heuristic(idx, c, n, (size_t)hnsw_max_links(idx, l));
    write_list(list, c, n);
    return 0;
}

/* unlink_node repairs every live node that node links to, on every level,
 * so they stop pointing at it. Caller holds the index exclusively. */
static int unlink_node(HnswIndex *idx, SearchCtx *ctx, uint32_t node)
{
    unsigned char *b = hnsw_block(idx, node);
    int level = hnsw_head(idx, b)->level;
    uint32_t nb[2 * HNSW_MAX_M];
    for (int l = 0; l <= level; l++) {
        uint32_t *list = hnsw_list(idx, b, l);
        size_t n = list[0];
        memcpy(nb, list + 1, n * sizeof *nb);
        for (size_t j = 0; j < n; j++) {
            if (node_deleted(idx, nb[j])) continue;
            int rc = repair_neighbor(idx, ctx, nb[j], l, node, nb, n);
            if (rc) return rc;
        }
    }
    return 0;
}

int hnsw_delete(HnswIndex *idx, uint32_t node)
{
    unsigned char *b = hnsw_block_or_null(idx, node);
    if (!b) return ERR_NOTFOUND;
    pthread_rwlock_wrlock(&idx->rw);
    NodeHead *h = hnsw_head(idx, b);
    int rc = 0;
    SearchCtx *ctx = NULL;
    if ((h->flags & (NODE_PRESENT | NODE_DELETED)) != NODE_PRESENT) {
        rc = ERR_NOTFOUND;
    } else if (!idx->bare && !(ctx = hnsw_ctx_get(idx))) {
        rc = ERR_NOMEM;
    } else {
        __atomic_or_fetch(&h->flags, (uint8_t)NODE_DELETED, __ATOMIC_RELEASE);
        idx->live--;
        idx->deleted++;
        /* A bare index is not walked: its neighbours need no repair. A
         * failed repair (out of memory) leaves valid, merely longer routes. */
        if (ctx) {
            rc = unlink_node(idx, ctx, node);
            hnsw_ctx_put(idx, ctx);
        }
    }
    pthread_rwlock_unlock(&idx->rw);
    return rc;
}

/* update_node is hnsw_update; with revive_only (an insert that found the
 * id deleted) a node that another thread revived meanwhile is ERR_EXISTS. */
static int update_node(HnswIndex *idx, uint32_t node, const float *vec, int revive_only)
{
    if (!vec_is_finite(vec, (size_t)idx->dim)) return ERR_INVAL;
    unsigned char *b = hnsw_block_or_null(idx, node);
    if (!b) return ERR_NOTFOUND;
    pthread_rwlock_wrlock(&idx->rw);
    NodeHead *h = hnsw_head(idx, b);
    int rc = 0;
    SearchCtx *ctx = NULL;
    if (!(h->flags & NODE_PRESENT)) {
        rc = ERR_NOTFOUND;
    } else if (revive_only && !(h->flags & NODE_DELETED)) {
        rc = ERR_EXISTS;
    } else if (!idx->bare && !(ctx = hnsw_ctx_get(idx))) {
        rc = ERR_NOMEM;
    } else {
        if (h->flags & NODE_DELETED) {
            __atomic_and_fetch(&h->flags, (uint8_t)~NODE_DELETED, __ATOMIC_RELEASE);
            idx->deleted--;
            idx->live++;
        } else if (ctx) {
            rc = unlink_node(idx, ctx, node);
        }
        hnsw_vec_put(idx, b, vec);
        if (!ctx) {
            /* Bare: the node keeps its level (the entry point may be this
             * node, at that level) and drops its own links, which name
             * the neighbours of its old vector. */
            for (int l = 0; l <= h->level; l++) hnsw_list(idx, b, l)[0] = 0;
        } else {
            if (rc == 0) rc = link_node(idx, ctx, node, h->level, (const float *)b, NULL);
            hnsw_ctx_put(idx, ctx);
        }
    }
    pthread_rwlock_unlock(&idx->rw);
    return rc;
}

int hnsw_update(HnswIndex *idx, uint32_t node, const float *vec)
{
    if (!idx || !vec) return ERR_INVAL;
    return update_node(idx, node, vec, 0);
}
