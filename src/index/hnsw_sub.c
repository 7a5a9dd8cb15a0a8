/*
 * hnsw_sub.c - subgraphs: links among a subset of an index's nodes (the
 * payload blocks of Qdrant's payload_m), built and walked with the index's
 * own vectors, SEARCH-LAYER and neighbour heuristic.
 *
 * Design notes:
 * - A subgraph has one level. Its walks start near the query instead of
 *   at a fixed top: the main graph's upper levels bring the query to a
 *   node at level 1 (a few dozen distances), and the members within two
 *   links of that node at level 0 are the seeds (hnsw_sub_seeds), with the
 *   first member added as a fallback. The main graph's hierarchy thus
 *   stands in for the subgraph's own, which saves its upper lists and
 *   keeps a member's cost to its one list.
 * - Members are found by an open-addressing hash of node ids (a
 *   multiplicative hash; linear probing; at most half full), so a
 *   subgraph costs memory in proportion to its members, not to the index.
 * - Additions hold the subgraph exclusively for one member at a time: the
 *   callers add from one thread per subgraph, and searches of the same
 *   subgraph wait for at most one insertion.
 */
#include "index/hnsw.h"

#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "index/hnsw_internal.h"
#include "base/util.h"

/* The most seeds a walk starts from: enough for a 1% subgraph (about ten
 * members within two links of a node at M 16), few enough to be scored at
 * the cost of one step of the walk. */
#define SUB_MAX_SEEDS 32
#define SUB_SAMPLE_SEEDS 16

/* sub_hash: the top bits of a multiplicative hash (the low bits of
 * node x C depend on node's low bits alone, and members of a value
 * assigned by a stride would share them). */
static inline uint32_t sub_hash(const HnswSub *s, uint32_t node)
{
    return (uint32_t)(node * 0x9E3779B1u) >> s->hshift;
}

static inline uint32_t *slot_list(const HnswSub *s, uint32_t slot)
{
    return s->links + (size_t)slot * (1 + (size_t)s->m0);
}

uint32_t *hnsw_sub_list(const HnswSub *s, uint32_t node)
{
    if (!s->hcap) return NULL;
    uint32_t mask = s->hcap - 1;
    for (uint32_t i = sub_hash(s, node);; i = (i + 1) & mask) {
        uint32_t v = s->hash[i];
        if (!v) return NULL;
        if (s->nodes[v - 1] == node) return slot_list(s, v - 1);
    }
}

HnswSub *hnsw_sub_new(int m)
{
    if (m < HNSW_MIN_M || m > HNSW_MAX_M) return NULL;
    HnswSub *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    /* Writer-preferring: additions must not starve under a stream of
     * searches (glibc's default prefers readers). */
    rwlock_init_writer_pref(&s->rw);
    s->m = m;
    s->m0 = 2 * m;
    s->entry = HNSW_NO_NODE;
    return s;
}

void hnsw_sub_free(HnswSub *s)
{
    if (!s) return;
    pthread_rwlock_destroy(&s->rw);
    free(s->nodes);
    free(s->links);
    free(s->hash);
    free(s->bits);
    free(s);
}

void hnsw_sub_trim(HnswSub *s)
{
    pthread_rwlock_wrlock(&s->rw);
    if (s->n && s->n < s->cap) {
        uint32_t *nodes = realloc(s->nodes, (size_t)s->n * sizeof *nodes);
        if (nodes) s->nodes = nodes;
        uint32_t *links = realloc(s->links, (size_t)s->n * (1 + (size_t)s->m0) * sizeof *links);
        if (links) s->links = links;
        /* Either array shrunk holds n slots, and so does one that could
         * not: cap is n unless both kept their room. */
        if (nodes || links) s->cap = s->n;
    }
    pthread_rwlock_unlock(&s->rw);
}

int hnsw_sub_m(const HnswSub *s)
{
    return s->m;
}

size_t hnsw_sub_count(HnswSub *s)
{
    pthread_rwlock_rdlock(&s->rw);
    size_t n = s->n;
    pthread_rwlock_unlock(&s->rw);
    return n;
}

size_t hnsw_sub_bytes(HnswSub *s)
{
    pthread_rwlock_rdlock(&s->rw);
    size_t b = sizeof *s + (size_t)s->cap * (sizeof(uint32_t) * (2 + (size_t)s->m0)) +
               (size_t)s->hcap * sizeof(uint32_t) + (size_t)s->n_words * sizeof(uint64_t);
    pthread_rwlock_unlock(&s->rw);
    return b;
}

int hnsw_sub_contains(HnswSub *s, uint32_t node)
{
    pthread_rwlock_rdlock(&s->rw);
    int in = hnsw_sub_list(s, node) != NULL;
    pthread_rwlock_unlock(&s->rw);
    return in;
}

size_t hnsw_sub_missing(HnswIndex *idx, HnswSub *s, const HnswAllow *allow,
                        const uint64_t *stale, size_t n_stale, uint32_t *out, size_t cap)
{
    size_t n = 0, words = ((size_t)allow->n_bits + 63) / 64;
    pthread_rwlock_rdlock(&s->rw);
    for (size_t w = 0; w < words && n <= cap; w++) {
        if (!allow->words[w]) continue;
        uint64_t st = w < n_stale ? __atomic_load_n(&stale[w], __ATOMIC_RELAXED) : 0;
        uint64_t x = allow->words[w] & (~(w < s->n_words ? s->bits[w] : 0) | st);
        for (; x && n <= cap; x &= x - 1) {
            uint32_t node = (uint32_t)(w * 64 + (size_t)__builtin_ctzll(x));
            if (node >= allow->n_bits) break;
            if (!hnsw_contains(idx, node)) continue;
            if (n < cap) out[n] = node;
            n++;
        }
    }
    pthread_rwlock_unlock(&s->rw);
    return n;
}

/* rehash makes the hash hcap slots and puts every member in it. */
static int rehash(HnswSub *s, uint32_t hcap)
{
    uint32_t *h = calloc(hcap, sizeof *h);
    if (!h) return ERR_NOMEM;
    free(s->hash);
    s->hash = h;
    s->hcap = hcap;
    s->hshift = (uint32_t)__builtin_clz(hcap) + 1; /* 32 - log2(hcap) */
    for (uint32_t slot = 0; slot < s->n; slot++) {
        uint32_t i = sub_hash(s, s->nodes[slot]);
        while (h[i]) i = (i + 1) & (hcap - 1);
        h[i] = slot + 1;
    }
    return 0;
}

/* new_member gives node a slot with an empty list. Caller holds s->rw
 * exclusively. */
static int new_member(HnswSub *s, uint32_t node, uint32_t **list)
{
    if (s->n == s->cap) {
        uint32_t nc = s->cap ? s->cap * 2 : 64;
        uint32_t *nodes = realloc(s->nodes, (size_t)nc * sizeof *nodes);
        if (!nodes) return ERR_NOMEM;
        s->nodes = nodes;
        uint32_t *links = realloc(s->links, (size_t)nc * (1 + (size_t)s->m0) * sizeof *links);
        if (!links) return ERR_NOMEM;
        s->links = links;
        s->cap = nc;
    }
    if (node / 64 >= s->n_words) {
        uint32_t nw = node / 64 + 1;
        nw += nw / 4;
        uint64_t *bits = realloc(s->bits, (size_t)nw * sizeof *bits);
        if (!bits) return ERR_NOMEM;
        memset(bits + s->n_words, 0, (size_t)(nw - s->n_words) * sizeof *bits);
        s->bits = bits;
        s->n_words = nw;
    }
    if ((size_t)(s->n + 1) * 2 > s->hcap) {
        int rc = rehash(s, s->hcap ? s->hcap * 2 : 128);
        if (rc) return rc;
    }
    uint32_t slot = s->n++;
    s->nodes[slot] = node;
    uint32_t i = sub_hash(s, node);
    while (s->hash[i]) i = (i + 1) & (s->hcap - 1);
    s->hash[i] = slot + 1;
    s->bits[node / 64] |= (uint64_t)1 << (node % 64);
    *list = slot_list(s, slot);
    (*list)[0] = 0;
    return 0;
}

/* add_seed puts member id (at distance d) among the n seeds in out, once. */
static void add_seed(HeapItem *out, size_t *n, uint32_t id, float d)
{
    for (size_t i = 0; i < *n; i++)
        if (out[i].id == id) return;
    out[(*n)++] = (HeapItem){ d, id };
}

int hnsw_sub_seeds(const HnswIndex *idx, const HnswSub *s, SearchCtx *ctx, const float *q,
                   uint32_t cur, float cur_d, size_t *n)
{
    *n = 0;
    /* The walk collects a member's list into ctx->ids. */
    if (ctx->cap_ids < (size_t)s->m0 + 1) {
        uint32_t *ids = realloc(ctx->ids, ((size_t)s->m0 + 1) * sizeof *ids);
        if (!ids) return ERR_NOMEM;
        ctx->bytes += ((size_t)s->m0 + 1 - ctx->cap_ids) * sizeof *ids;
        ctx->ids = ids;
        ctx->cap_ids = (size_t)s->m0 + 1;
    }
    if (hnsw_items_reserve(ctx, &ctx->sel, &ctx->cap_sel, SUB_MAX_SEEDS + 1)) return ERR_NOMEM;
    if (s->entry == HNSW_NO_NODE) return 0;
    HeapItem *out = ctx->sel;
    size_t got = 0;
    if (cur != HNSW_NO_NODE && !idx->bare) {
        if (hnsw_sub_list(s, cur)) add_seed(out, &got, cur, cur_d);
        const uint32_t *l1 = hnsw_list(idx, hnsw_block(idx, cur), 0);
        uint32_t c1 = __atomic_load_n(&l1[0], __ATOMIC_ACQUIRE);
        /* The neighbours' lists are each a cache miss: fetched together
         * first, their loads overlap (as collect_allowed does). */
        for (uint32_t j = 0; j < c1; j++) {
            uint32_t a = __atomic_load_n(&l1[1 + j], __ATOMIC_ACQUIRE);
            __builtin_prefetch(hnsw_list(idx, hnsw_block(idx, a), 0), 0, 3);
        }
        for (uint32_t j = 0; j < c1 && got < SUB_MAX_SEEDS; j++) {
            uint32_t a = __atomic_load_n(&l1[1 + j], __ATOMIC_ACQUIRE);
            if (hnsw_sub_list(s, a))
                add_seed(out, &got, a, hnsw_dist(idx, q, (const float *)hnsw_block(idx, a)));
            const uint32_t *l2 = hnsw_list(idx, hnsw_block(idx, a), 0);
            uint32_t c2 = __atomic_load_n(&l2[0], __ATOMIC_ACQUIRE);
            for (uint32_t i = 0; i < c2 && got < SUB_MAX_SEEDS; i++) {
                uint32_t b = __atomic_load_n(&l2[1 + i], __ATOMIC_ACQUIRE);
                if (hnsw_sub_list(s, b))
                    add_seed(out, &got, b, hnsw_dist(idx, q, (const float *)hnsw_block(idx, b)));
            }
        }
    }
    add_seed(out, &got, s->entry, hnsw_dist(idx, q, (const float *)hnsw_block(idx, s->entry)));
    /* A bare main graph (m 0) has no links to find members near the
     * query by: members spread over the slots stand in (measured on a
     * linked graph, they add no recall to the seeds above). */
    for (uint32_t k = 1; idx->bare && k < SUB_SAMPLE_SEEDS && got < SUB_MAX_SEEDS; k++) {
        uint32_t node = s->nodes[(uint64_t)s->n * k / SUB_SAMPLE_SEEDS];
        add_seed(out, &got, node, hnsw_dist(idx, q, (const float *)hnsw_block(idx, node)));
    }
    hnsw_heap_sort_ascending(out, got);
    *n = got;
    return 0;
}

/*
 * add_back_link adds node to member x's list; a full list is shrunk with
 * the heuristic, dropping deleted entries on the way (add_link of
 * hnsw_build.c, on the subgraph's lists). Uses ctx->cand as scratch.
 */
static int add_back_link(const HnswIndex *idx, HnswSub *s, SearchCtx *ctx, uint32_t x,
                         uint32_t node)
{
    uint32_t *list = hnsw_sub_list(s, x);
    if (!list) return 0;
    size_t max = (size_t)s->m0;
    for (uint32_t j = 0; j < list[0]; j++)
        if (list[1 + j] == node) return 0;
    if (list[0] < max) {
        list[1 + list[0]++] = node;
        return 0;
    }
    if (hnsw_items_reserve(ctx, &ctx->cand, &ctx->cap_cand, max + 1)) return ERR_NOMEM;
    const float *xv = (const float *)hnsw_block(idx, x);
    HeapItem *c = ctx->cand;
    size_t n = 0;
    for (uint32_t j = 0; j < list[0]; j++) {
        uint32_t id = list[1 + j];
        if (hnsw_flags(hnsw_head(idx, hnsw_block(idx, id))) & NODE_DELETED) continue;
        c[n++] = (HeapItem){ hnsw_dist(idx, xv, (const float *)hnsw_block(idx, id)), id };
    }
    c[n++] = (HeapItem){ hnsw_dist(idx, xv, (const float *)hnsw_block(idx, node)), node };
    hnsw_heap_sort_ascending(c, n);
    n = hnsw_select_heuristic(idx, c, n, max);
    for (size_t i = 0; i < n; i++) list[1 + i] = c[i].id;
    list[0] = (uint32_t)n;
    return 0;
}

/* link_member is hnsw_sub_add under the locks: Algorithm 1 at level 0 of
 * the subgraph, seeded as a search of it is. */
static int link_member(HnswIndex *idx, HnswSub *s, SearchCtx *ctx, uint32_t node)
{
    uint32_t *list = hnsw_sub_list(s, node);
    if (!list) {
        int rc = new_member(s, node, &list);
        if (rc) return rc;
    }
    if (s->entry == HNSW_NO_NODE) {
        s->entry = node;
        return 0;
    }
    const float *q = (const float *)hnsw_block(idx, node);
    uint64_t e = __atomic_load_n(&idx->entry, __ATOMIC_ACQUIRE);
    uint32_t cur = HNSW_NO_NODE;
    float cur_d = 0;
    if (e != HNSW_ENTRY_NONE) {
        cur = (uint32_t)e;
        cur_d = hnsw_dist(idx, q, (const float *)hnsw_block(idx, cur));
        for (int l = (int)(e >> 32); l > 0; l--) hnsw_greedy_closest(idx, q, l, &cur, &cur_d);
    }
    size_t n = 0;
    int rc = hnsw_sub_seeds(idx, s, ctx, q, cur, cur_d, &n);
    if (rc || !n) return rc;
    size_t ef = (size_t)idx->ef_construction;
    LayerQuery lq = { q, node, NULL, NULL, 0, NULL, 0, s, ctx->sel + 1, n - 1 };
    lq.plain = __atomic_load_n(&idx->deleted, __ATOMIC_RELAXED) == 0;
    HeapItem ep = ctx->sel[0];
    rc = hnsw_search_layer(idx, ctx, &lq, ep.id, ep.d, (int)ef, 0);
    if (rc == 0 && ctx->n_res == 0 && !lq.plain) {
        /* Only deleted members around: link to them rather than to
         * nothing (they still route). The seeds are gone from ctx->sel,
         * so the walk starts from the entry point alone. */
        lq.plain = 1;
        lq.n_seeds = 0;
        rc = hnsw_search_layer(idx, ctx, &lq, ep.id, ep.d, (int)ef, 0);
    }
    if (rc) return rc;
    if (hnsw_items_reserve(ctx, &ctx->sel, &ctx->cap_sel, ctx->n_res + 1)) return ERR_NOMEM;
    n = ctx->n_res;
    memcpy(ctx->sel, ctx->res, n * sizeof *ctx->sel);
    hnsw_heap_sort_ascending(ctx->sel, n);
    n = hnsw_select_heuristic(idx, ctx->sel, n, (size_t)s->m);
    for (size_t i = 0; i < n; i++) list[1 + i] = ctx->sel[i].id;
    list[0] = (uint32_t)n;
    for (size_t i = 0; i < n; i++) {
        rc = add_back_link(idx, s, ctx, ctx->sel[i].id, node);
        if (rc) return rc;
    }
    return 0;
}

int hnsw_sub_add(HnswIndex *idx, HnswSub *s, uint32_t node)
{
    if (!idx || !s) return ERR_INVAL;
    pthread_rwlock_rdlock(&idx->rw);
    unsigned char *b = node < HNSW_MAX_NODES ? hnsw_block_or_null(idx, node) : NULL;
    if (!b || !(hnsw_flags(hnsw_head(idx, b)) & NODE_PRESENT)) {
        pthread_rwlock_unlock(&idx->rw);
        return ERR_NOTFOUND;
    }
    SearchCtx *ctx = hnsw_ctx_get(idx);
    if (!ctx) {
        pthread_rwlock_unlock(&idx->rw);
        return ERR_NOMEM;
    }
    pthread_rwlock_wrlock(&s->rw);
    int rc = link_member(idx, s, ctx, node);
    pthread_rwlock_unlock(&s->rw);
    hnsw_ctx_put(idx, ctx);
    pthread_rwlock_unlock(&idx->rw);
    return rc;
}
