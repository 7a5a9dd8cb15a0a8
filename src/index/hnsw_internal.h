/*
 * hnsw_internal.h - the HNSW index's private layout, shared by hnsw.c
 * (lifecycle, growth, persistence), hnsw_build.c (insert, update, delete
 * repair), hnsw_search.c (search layers, k-NN, brute force) and
 * hnsw_sub.c (subgraphs over some of the nodes). Not for other modules:
 * they use hnsw.h.
 *
 * Memory layout (hnswlib's, with the vector first):
 *
 *   level-0 block of a node, block_bytes long, in fixed-size chunks:
 *     float    vec[dim]          padded to 8 bytes; in a quantized index
 *                                (idx->quant) instead uint8 codes[dim],
 *                                padding to 4, f32 correction (quant.h),
 *                                padded to 8: 520 bytes for 512-d
 *     NodeHead head              16 bytes: lock, level, flags, upper pointer
 *     uint32_t list0[1 + M0]     count, then up to M0 links
 *     padding to HNSW_BLOCK_ALIGN
 *   upper levels of a node with level L > 0, one malloc'd array:
 *     uint32_t upper[L * (1 + M)] level l at (l - 1) * (1 + M): count, links
 *
 * For 512-d vectors and M = 16 a block is 2048 + 16 + 132 -> 2208 bytes,
 * 1.078x the raw vector (quantized: 520 + 16 + 132 -> 672 bytes); about 1
 * node in M has upper levels.
 *
 * Chunks never move once allocated, so a search can run while an insert
 * grows the index: growth allocates new chunks and, when the chunk table is
 * full, publishes a bigger copy of the table; old tables are kept until
 * hnsw_free (they are tiny) because a reader may still hold one.
 *
 * Concurrency protocol: a link (and a list's count) is written with a
 * release store and read with an acquire load. A node's vector, level and
 * upper pointer are written before the node is first linked or flagged
 * present, so whoever reads its id through a link sees them complete. On
 * x86 these atomics compile to plain moves. A reader may see a list that a
 * writer is rewriting half old, half new: every id in it is a valid node,
 * so that costs at most a little recall for that one search (as in
 * hnswlib). Per-node spin locks serialise writers of one node's lists;
 * writers never hold two node locks at once, so there is no lock order to
 * get wrong. The index-wide rwlock is taken shared by searches and inserts
 * and exclusively by delete / update / restore.
 */
#ifndef VITRINE_HNSW_INTERNAL_H
#define VITRINE_HNSW_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "index/hnsw.h"
#include "base/vec.h"
#include "index/quant.h"

/* Block alignment: 32 bytes keeps every AVX2 load of a vector inside one
 * cache line. */
#define HNSW_BLOCK_ALIGN 32
/*
 * Chunks of level-0 blocks are at least HNSW_CHUNK_MIN_BYTES (a power-of-two
 * node count), mapped with mmap so untouched pages cost no memory. Chunks
 * from HNSW_HUGE_FROM_CHUNK on are 2 MiB aligned and advised as
 * transparent huge pages: a search touches blocks at random all over the
 * index, and with 4 KiB pages nearly every block costs a TLB miss (huge
 * pages measured +15% QPS at 100k x 512-d). The first chunk stays on small
 * pages so a tiny collection does not pin 2 MiB pages.
 */
#define HNSW_CHUNK_MIN_BYTES ((size_t)16 << 20)
#define HNSW_HUGE_PAGE ((size_t)2 << 20)
#define HNSW_SMALL_PAGE ((size_t)4 << 10)
#define HNSW_HUGE_FROM_CHUNK 1
/* Entry "none": node HNSW_NO_NODE at level 0, packed as in HnswIndex.entry. */
#define HNSW_ENTRY_NONE ((uint64_t)HNSW_NO_NODE)

enum {
    NODE_CLAIMED = 1, /* the slot is taken (an insert is writing it, or done) */
    NODE_PRESENT = 2, /* vector, level and lists are initialised */
    NODE_DELETED = 4, /* not returned by searches; still routes */
};

typedef struct {
    uint32_t lock;   /* spin lock over this node's lists (all levels) */
    uint8_t level;   /* top level, fixed for the node's life */
    uint8_t flags;   /* NODE_* bits, atomic */
    uint16_t pad;
    uint32_t *upper; /* levels 1..level, or NULL */
} NodeHead;

/* The chunk table: len chunk pointers, published as a whole. */
typedef struct ChunkTable {
    uint32_t len;
    struct ChunkTable *retired; /* the table this one replaced */
    unsigned char *chunk[];     /* 64-byte aligned bases, or NULL */
} ChunkTable;

typedef struct {
    float d;
    uint32_t id;
} HeapItem;

/* Per-search scratch, pooled so nothing is allocated or cleared per query. */
typedef struct SearchCtx {
    struct SearchCtx *next;
    uint16_t *visited; /* visited[node] == epoch: seen in this search */
    uint32_t vis_cap;
    uint16_t epoch;
    HeapItem *cand; /* min-heap of candidates to expand */
    size_t n_cand, cap_cand;
    HeapItem *res; /* max-heap of the ef best results */
    size_t n_res, cap_res;
    HeapItem *sel;   /* scratch: the candidates of one neighbour selection */
    size_t cap_sel;
    uint32_t *ids;   /* scratch: one step's neighbours (2 x M0 + 1), then
                      * the rejected neighbours of a sparse walk (M0) */
    size_t cap_ids;  /* entries in ids (a subgraph's lists may be longer) */
    uint8_t *qcode;  /* quantized index: the encoded query (vec_bytes) */
    int bytes_q;     /* qcode is counted in bytes */
    size_t bytes;    /* what this context allocated */
} SearchCtx;

struct HnswIndex {
    int dim;
    HnswMetric metric;
    int m, m0, ef_construction, ef;
    uint64_t seed;
    double ml;            /* 1 / ln(M) */
    VecKernel kernel;     /* dot, squared L2 or L1 */
    int negate;           /* distance = -kernel (dot metrics) */
    size_t vec_bytes;     /* dim * 4 rounded up to 8; quantized: qp.code_bytes rounded up to 8 */
    int quant;            /* 1: blocks hold int8 codes (qp), not float32 vectors */
    QuantParams qp;
    int bare;             /* 1: inserts store nodes without linking (hnsw_set_bare);
                           * read under rw, changed under it exclusively */
    size_t block_bytes;   /* one level-0 block */
    int chunk_shift;      /* nodes per chunk = 1 << chunk_shift */
    uint32_t chunk_mask;

    ChunkTable *table;    /* atomic pointer */
    size_t chunk_bytes;   /* bytes of one chunk */
    pthread_mutex_t grow_lock;

    uint64_t entry;       /* atomic: (uint64_t)level << 32 | node */
    pthread_rwlock_t rw;

    size_t live;          /* atomic: live nodes */
    size_t deleted;       /* atomic: deleted nodes still in the graph */
    uint32_t high;        /* atomic: 1 + the highest node id ever present */
    size_t table_bytes;   /* atomic: bytes of chunk tables */
    size_t upper_bytes;   /* atomic: bytes of upper-level arrays */

    pthread_mutex_t pool_lock;
    SearchCtx *pool;
    size_t pool_bytes;    /* under pool_lock */
};

/* Query description for search_layer. */
typedef struct {
    const float *q;
    uint32_t self;     /* excluded from results (HNSW_NO_NODE: none) */
    HnswFilter filter; /* NULL: accept all */
    void *fctx;
    int plain;         /* 1: no filter, no self, nothing deleted: accept all */
    const HnswAllow *allow; /* NULL: every node allowed */
    int sparse;        /* 1: walk the allowed nodes alone (level 0 only) */
    const HnswSub *sub; /* non-NULL: walk this subgraph's links (level 0) */
    const HeapItem *seeds; /* more entry points besides ep, scored */
    size_t n_seeds;
} LayerQuery;

/*
 * A subgraph (hnsw_sub.c): links among some of an index's nodes. Members
 * live in slots; a node's slot is found through an open-addressing hash
 * (hash[i] is slot + 1, 0 empty, at most half full). Its lists hold node
 * ids, as the index's own do, so a walk reads them the same way. Readers
 * hold rw shared, hnsw_sub_add holds it exclusively: the lists need no
 * atomics.
 */
struct HnswSub {
    pthread_rwlock_t rw;
    int m, m0;          /* links chosen per member, list capacity (2m) */
    uint32_t n, cap;    /* members, slots allocated */
    uint32_t *nodes;    /* slot -> node */
    uint32_t *links;    /* slot x (1 + m0): count, then node ids */
    uint32_t *hash;     /* hcap entries (a power of two) */
    uint32_t hcap, hshift; /* hshift: 32 - log2(hcap) */
    uint32_t entry;     /* the first member, HNSW_NO_NODE while empty */
    uint64_t *bits;     /* members as a bitmap (hnsw_sub_missing) */
    uint32_t n_words;
};

/* hnsw_sub_list: node's list in s (count, links), or NULL when node is
 * not a member. */
uint32_t *hnsw_sub_list(const HnswSub *s, uint32_t node);

static inline unsigned char *hnsw_block(const HnswIndex *idx, uint32_t n)
{
    ChunkTable *t = __atomic_load_n(&idx->table, __ATOMIC_ACQUIRE);
    unsigned char *c = __atomic_load_n(&t->chunk[n >> idx->chunk_shift], __ATOMIC_ACQUIRE);
    return c + (size_t)(n & idx->chunk_mask) * idx->block_bytes;
}

/* hnsw_block_or_null is hnsw_block for an id that may lie outside the
 * allocated chunks. */
static inline unsigned char *hnsw_block_or_null(const HnswIndex *idx, uint32_t n)
{
    ChunkTable *t = __atomic_load_n(&idx->table, __ATOMIC_ACQUIRE);
    uint32_t ci = n >> idx->chunk_shift;
    if (ci >= t->len) return NULL;
    unsigned char *c = __atomic_load_n(&t->chunk[ci], __ATOMIC_ACQUIRE);
    return c ? c + (size_t)(n & idx->chunk_mask) * idx->block_bytes : NULL;
}

static inline NodeHead *hnsw_head(const HnswIndex *idx, unsigned char *block)
{
    return (NodeHead *)(block + idx->vec_bytes);
}

/* hnsw_list: a node's list at level: list[0] is the count, links follow. */
static inline uint32_t *hnsw_list(const HnswIndex *idx, unsigned char *block, int level)
{
    if (level == 0) return (uint32_t *)(block + idx->vec_bytes + sizeof(NodeHead));
    return hnsw_head(idx, block)->upper + (size_t)(level - 1) * (1 + idx->m);
}

static inline int hnsw_flags(const NodeHead *h)
{
    return __atomic_load_n(&h->flags, __ATOMIC_ACQUIRE);
}

/* hnsw_dist: the internal distance, smaller is closer. a and b are what
 * a block starts with (or an encoded query): float32 vectors, or in a
 * quantized index int8 codes read through the same pointer type, which
 * keeps the graph code one path for both representations. */
static inline float hnsw_dist(const HnswIndex *idx, const float *a, const float *b)
{
    if (idx->quant) return quant_distance(&idx->qp, (const uint8_t *)a, (const uint8_t *)b);
    float r = idx->kernel(a, b, (size_t)idx->dim);
    return idx->negate ? -r : r;
}

/* hnsw_vec_put stores vec in block: a copy, or its int8 code. */
static inline void hnsw_vec_put(const HnswIndex *idx, unsigned char *block, const float *vec)
{
    if (idx->quant) quant_encode(&idx->qp, vec, block);
    else __builtin_memcpy(block, vec, (size_t)idx->dim * sizeof(float));
}

static inline int hnsw_max_links(const HnswIndex *idx, int level)
{
    return level == 0 ? idx->m0 : idx->m;
}

void hnsw_node_lock(NodeHead *h);
void hnsw_node_unlock(NodeHead *h);

/* Growth: make node's chunk exist. 0 or ERR_NOMEM / ERR_INVAL. */
int hnsw_ensure_node(HnswIndex *idx, uint32_t node);

/* Search contexts (hnsw_search.c). */
SearchCtx *hnsw_ctx_get(HnswIndex *idx);
void hnsw_ctx_put(HnswIndex *idx, SearchCtx *ctx);
/* hnsw_items_reserve grows one of ctx's item arrays to hold n, keeping
 * its contents. 0 or ERR_NOMEM. */
int hnsw_items_reserve(SearchCtx *ctx, HeapItem **a, size_t *cap, size_t n);

/*
 * hnsw_greedy_closest: the ef = 1 descent of Algorithm 5 through one upper
 * level: moves *cur / *cur_d to the closest node reachable greedily.
 */
void hnsw_greedy_closest(const HnswIndex *idx, const float *q, int level, uint32_t *cur,
                         float *cur_d);

/*
 * hnsw_search_layer is Algorithm 2 (SEARCH-LAYER) from one entry point:
 * leaves the (at most ef) nearest accepted nodes found in ctx->res, a
 * max-heap of ctx->n_res items. ERR_NOMEM if a heap cannot grow.
 */
int hnsw_search_layer(const HnswIndex *idx, SearchCtx *ctx, const LayerQuery *lq, uint32_t ep,
                      float ep_d, int ef, int level);

/*
 * hnsw_select_heuristic is Algorithm 4 on c[0..n), sorted nearest first
 * by .d (the distance to the base node): the kept items are moved to the
 * front; returns how many (at most m).
 */
size_t hnsw_select_heuristic(const HnswIndex *idx, HeapItem *c, size_t n, size_t m);

/*
 * hnsw_sub_seeds leaves in ctx->sel the members of s to start a walk of s
 * from for query q (encoded, as the index compares): those within two
 * links of (cur, cur_d), the end of the main graph's descent to level 1,
 * after a greedy descent at level 0, and s's entry; scored, the nearest
 * first; *n of them. Caller holds idx->rw and s->rw shared.
 */
int hnsw_sub_seeds(const HnswIndex *idx, const HnswSub *s, SearchCtx *ctx, const float *q,
                   uint32_t cur, float cur_d, size_t *n);

/* Heap helpers on HeapItem arrays. */
void hnsw_heap_sort_ascending(HeapItem *a, size_t n);

#endif
