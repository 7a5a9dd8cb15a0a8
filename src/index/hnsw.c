/*
 * hnsw.c - the HNSW index's lifecycle: create / free, growth of the chunked
 * node storage, per-node locks, queries about the index, and the
 * persistence hooks (node records in and out, entry point, validation of a
 * restored graph). Insert / update / delete live in hnsw_build.c, searches
 * in hnsw_search.c; the layout is described in hnsw_internal.h.
 *
 * Growth maps fixed-size chunks that never move (rather than one realloc'd
 * array as hnswlib does under its global lock), so searches and inserts keep
 * running while the index grows; the price is one extra pointer load per
 * node access, which stays in L1. Chunks are anonymous mappings (zeroed,
 * resident only where touched) and, past the first, advised as transparent
 * huge pages; see hnsw_internal.h.
 */
#include "index/hnsw.h"

#include <math.h>
#include <sched.h>
#include <sys/mman.h>
#include <stdlib.h>
#include <string.h>

#include "base/bigmem.h"
#include "base/err.h"
#include "index/hnsw_internal.h"
#include "base/log.h"
#include "base/util.h"

#define HNSW_MIN_TABLE 16

/* Under AddressSanitizer chunks come from calloc (see map_chunk). */
#if defined(__SANITIZE_ADDRESS__)
#define HNSW_CHUNK_MALLOC 1
#endif

/* ---- per-node spin locks -------------------------------------------- */

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* A spin lock rather than a pthread mutex keeps the node header at 16 bytes
 * (a mutex is 40); critical sections are a list copy or one neighbour
 * selection. After a short spin the waiter yields, because on a loaded
 * machine the holder may have been preempted. */
void hnsw_node_lock(NodeHead *h)
{
    for (int spins = 0;; spins++) {
        if (!__atomic_load_n(&h->lock, __ATOMIC_RELAXED) &&
            !__atomic_exchange_n(&h->lock, 1, __ATOMIC_ACQUIRE))
            return;
        if (spins < 100)
            cpu_relax();
        else
            sched_yield();
    }
}

void hnsw_node_unlock(NodeHead *h)
{
    __atomic_store_n(&h->lock, 0, __ATOMIC_RELEASE);
}

/* ---- create / free -------------------------------------------------- */

void hnsw_params_default(HnswParams *p)
{
    p->m = HNSW_DEFAULT_M;
    p->ef_construction = HNSW_DEFAULT_EF_CONSTRUCTION;
    p->ef = HNSW_DEFAULT_EF;
    p->seed = 0;
    p->quant = 0;
    p->quant_lo = p->quant_hi = 0;
    p->bare = 0;
}

static ChunkTable *table_new(uint32_t len)
{
    ChunkTable *t = calloc(1, sizeof *t + (size_t)len * sizeof t->chunk[0]);
    if (t) t->len = len;
    return t;
}

int hnsw_create(int dim, HnswMetric metric, const HnswParams *p, HnswIndex **out)
{
    HnswParams d;
    if (!p) {
        hnsw_params_default(&d);
        p = &d;
    }
    *out = NULL;
    if (dim < 1 || dim > HNSW_MAX_DIM) return ERR_INVAL;
    if (metric != HNSW_METRIC_COSINE && metric != HNSW_METRIC_DOT && metric != HNSW_METRIC_EUCLID &&
        metric != HNSW_METRIC_MANHATTAN)
        return ERR_INVAL;
    if (p->m < HNSW_MIN_M || p->m > HNSW_MAX_M) return ERR_INVAL;
    if (p->ef_construction < HNSW_MIN_EF_CONSTRUCTION ||
        p->ef_construction > HNSW_MAX_EF_CONSTRUCTION)
        return ERR_INVAL;
    if (p->ef < HNSW_MIN_EF || p->ef > HNSW_MAX_EF) return ERR_INVAL;

    HnswIndex *idx = calloc(1, sizeof *idx);
    if (!idx) return ERR_NOMEM;
    idx->dim = dim;
    idx->metric = metric;
    idx->m = p->m;
    idx->m0 = 2 * p->m;
    idx->ef_construction = p->ef_construction;
    idx->ef = p->ef;
    idx->seed = p->seed;
    idx->bare = p->bare != 0;
    idx->ml = 1.0 / log((double)p->m);
    idx->negate = metric == HNSW_METRIC_COSINE || metric == HNSW_METRIC_DOT;
    idx->kernel = idx->negate ? vec_dot_fn()
                  : metric == HNSW_METRIC_EUCLID ? vec_l2sq_fn() : vec_l1_fn();
    idx->vec_bytes = ((size_t)dim * sizeof(float) + 7) & ~(size_t)7;
    if (p->quant) {
        static const QuantKind kinds[] = { QUANT_DOT, QUANT_DOT, QUANT_L2, QUANT_L1 };
        if (!isfinite(p->quant_lo) || !isfinite(p->quant_hi)) {
            free(idx);
            return ERR_INVAL;
        }
        idx->quant = 1;
        quant_params_init(&idx->qp, dim, kinds[metric], p->quant_lo, p->quant_hi);
        idx->vec_bytes = (idx->qp.code_bytes + 7) & ~(size_t)7;
    }
    size_t raw = idx->vec_bytes + sizeof(NodeHead) + (1 + (size_t)idx->m0) * sizeof(uint32_t);
    idx->block_bytes = (raw + HNSW_BLOCK_ALIGN - 1) & ~(size_t)(HNSW_BLOCK_ALIGN - 1);
    int shift = 0;
    while (((size_t)1 << shift) * idx->block_bytes < HNSW_CHUNK_MIN_BYTES) shift++;
    idx->chunk_shift = shift;
    idx->chunk_bytes = ((size_t)1 << shift) * idx->block_bytes;
    idx->chunk_mask = (1u << shift) - 1;
    idx->entry = HNSW_ENTRY_NONE;

    idx->table = table_new(HNSW_MIN_TABLE);
    if (!idx->table) {
        free(idx);
        return ERR_NOMEM;
    }
    idx->table_bytes = sizeof(ChunkTable) + HNSW_MIN_TABLE * sizeof(void *);
    pthread_mutex_init(&idx->grow_lock, NULL);
    pthread_mutex_init(&idx->pool_lock, NULL);
    /* Writers first: a stream of searches must not starve a delete. */
    rwlock_init_writer_pref(&idx->rw);
    *out = idx;
    return 0;
}

static void unmap_chunk(unsigned char *c, size_t bytes)
{
#ifdef HNSW_CHUNK_MALLOC
    (void)bytes;
    free(c);
#else
    munmap(c, bytes);
#endif
}

/* free_nodes releases every upper-level array and chunk (not the table).
 * Only slots below `high` can hold anything; the rest are never touched. */
static void free_nodes(HnswIndex *idx)
{
    ChunkTable *t = idx->table;
    for (uint32_t id = 0; id < idx->high; id++) {
        unsigned char *b = hnsw_block_or_null(idx, id);
        if (b) free(hnsw_head(idx, b)->upper);
    }
    for (uint32_t ci = 0; ci < t->len; ci++) {
        if (!t->chunk[ci]) continue;
        unmap_chunk(t->chunk[ci], idx->chunk_bytes);
        t->chunk[ci] = NULL;
    }
}

void hnsw_free(HnswIndex *idx)
{
    if (!idx) return;
    free_nodes(idx);
    for (ChunkTable *t = idx->table; t;) {
        ChunkTable *r = t->retired;
        free(t);
        t = r;
    }
    for (SearchCtx *c = idx->pool; c;) {
        SearchCtx *n = c->next;
        free(c->visited);
        free(c->cand);
        free(c->res);
        free(c->sel);
        free(c->ids);
        free(c->qcode);
        free(c);
        c = n;
    }
    pthread_mutex_destroy(&idx->grow_lock);
    pthread_mutex_destroy(&idx->pool_lock);
    pthread_rwlock_destroy(&idx->rw);
    free(idx);
}

void hnsw_clear(HnswIndex *idx)
{
    pthread_rwlock_wrlock(&idx->rw);
    pthread_mutex_lock(&idx->grow_lock);
    free_nodes(idx);
    pthread_mutex_unlock(&idx->grow_lock);
    idx->entry = HNSW_ENTRY_NONE;
    idx->live = idx->deleted = 0;
    idx->high = 0;
    idx->upper_bytes = 0;
    pthread_rwlock_unlock(&idx->rw);
}

/* ---- growth --------------------------------------------------------- */

/*
 * map_chunk maps one zeroed chunk: anonymous memory costs nothing until a
 * page is touched. With huge, the mapping is 2 MiB aligned (map more, trim
 * the ends) and the whole 2 MiB extents inside it advised as huge pages.
 */
static unsigned char *map_chunk(size_t bytes, int huge)
{
#ifdef HNSW_CHUNK_MALLOC
    /* Under AddressSanitizer chunks come from calloc, so out-of-bounds
     * block accesses are caught (ASan does not watch mmap'd memory). */
    (void)huge;
    return calloc(1, bytes);
#else
    size_t extra = huge ? HNSW_HUGE_PAGE : 0;
    unsigned char *p =
        mmap(NULL, bytes + extra, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
    if (!huge) return p;
    size_t lead = (HNSW_HUGE_PAGE - ((uintptr_t)p & (HNSW_HUGE_PAGE - 1))) & (HNSW_HUGE_PAGE - 1);
    size_t len = (bytes + HNSW_SMALL_PAGE - 1) & ~(HNSW_SMALL_PAGE - 1);
    if (lead) munmap(p, lead);
    if (extra - lead) munmap(p + lead + len, extra - lead);
    p += lead;
    /* Advice only: where THP is off this changes nothing
     * (VITRINE_HUGE_PAGES=off asks for 4 KB pages: base/bigmem.h). */
    bigmem_advise(p, bytes & ~(HNSW_HUGE_PAGE - 1));
    return p;
#endif
}

/* alloc_chunk makes chunk ci (caller holds grow_lock, table covers ci). */
static int alloc_chunk(HnswIndex *idx, uint32_t ci)
{
    unsigned char *base = map_chunk(idx->chunk_bytes, ci >= HNSW_HUGE_FROM_CHUNK);
    if (!base) return ERR_NOMEM;
    __atomic_store_n(&idx->table->chunk[ci], base, __ATOMIC_RELEASE);
    return 0;
}

int hnsw_ensure_node(HnswIndex *idx, uint32_t node)
{
    if (node >= HNSW_MAX_NODES) return ERR_INVAL;
    if (hnsw_block_or_null(idx, node)) return 0;
    uint32_t ci = node >> idx->chunk_shift;
    int rc = 0;
    pthread_mutex_lock(&idx->grow_lock);
    ChunkTable *t = idx->table;
    if (ci >= t->len) {
        /* Publish a bigger copy; readers holding the old one keep using it
         * (its chunks are the same), so it is retired, not freed. */
        uint32_t len = t->len;
        while (len <= ci) len *= 2;
        ChunkTable *nt = table_new(len);
        if (!nt) {
            rc = ERR_NOMEM;
            goto out;
        }
        memcpy(nt->chunk, t->chunk, (size_t)t->len * sizeof t->chunk[0]);
        nt->retired = t;
        __atomic_add_fetch(&idx->table_bytes, sizeof *nt + (size_t)len * sizeof(void *),
                           __ATOMIC_RELAXED);
        __atomic_store_n(&idx->table, nt, __ATOMIC_RELEASE);
        t = nt;
    }
    if (!t->chunk[ci]) rc = alloc_chunk(idx, ci);
out:
    pthread_mutex_unlock(&idx->grow_lock);
    if (rc) log_error("hnsw: cannot grow the index to node %u", node);
    return rc;
}

int hnsw_reserve(HnswIndex *idx, uint32_t capacity)
{
    if (capacity > HNSW_MAX_NODES) return ERR_INVAL;
    for (uint64_t n = 0; n < capacity; n += (uint64_t)idx->chunk_mask + 1) {
        int rc = hnsw_ensure_node(idx, (uint32_t)n);
        if (rc) return rc;
    }
    return 0;
}

/* ---- queries about the index ---------------------------------------- */

size_t hnsw_count(const HnswIndex *idx)
{
    return __atomic_load_n(&idx->live, __ATOMIC_RELAXED);
}

/*
 * hnsw_memory_bytes counts what the index keeps resident: for each chunk,
 * the blocks up to the highest node id rounded up to the page size (the
 * rest of a chunk is mapped but never touched, so it costs nothing), plus
 * upper levels, chunk tables and pooled search contexts.
 */
size_t hnsw_memory_bytes(const HnswIndex *idx)
{
    HnswIndex *m = (HnswIndex *)idx; /* the pool lock is not part of the value */
    size_t pool = 0;
    pthread_mutex_lock(&m->pool_lock);
    for (SearchCtx *c = m->pool; c; c = c->next) pool += c->bytes;
    pthread_mutex_unlock(&m->pool_lock);
    ChunkTable *t = __atomic_load_n(&idx->table, __ATOMIC_ACQUIRE);
    uint64_t high = __atomic_load_n(&idx->high, __ATOMIC_RELAXED);
    size_t chunks = 0;
    for (uint32_t ci = 0; ci < t->len; ci++) {
        if (!__atomic_load_n(&t->chunk[ci], __ATOMIC_ACQUIRE)) continue;
        uint64_t first = (uint64_t)ci << idx->chunk_shift;
        uint64_t used = high > first ? MIN(high - first, (uint64_t)idx->chunk_mask + 1) : 0;
        size_t bytes = (size_t)used * idx->block_bytes;
        size_t page = ci >= HNSW_HUGE_FROM_CHUNK ? HNSW_HUGE_PAGE : HNSW_SMALL_PAGE;
        chunks += MIN((bytes + page - 1) & ~(page - 1), idx->chunk_bytes);
    }
    return sizeof *idx + chunks + __atomic_load_n(&idx->table_bytes, __ATOMIC_RELAXED) +
           __atomic_load_n(&idx->upper_bytes, __ATOMIC_RELAXED) + pool;
}

int hnsw_dim(const HnswIndex *idx)
{
    return idx->dim;
}

HnswMetric hnsw_metric(const HnswIndex *idx)
{
    return idx->metric;
}

void hnsw_params_get(const HnswIndex *idx, HnswParams *out)
{
    out->m = idx->m;
    out->ef_construction = idx->ef_construction;
    out->ef = idx->ef;
    out->seed = idx->seed;
    out->quant = idx->quant;
    out->quant_lo = idx->quant ? idx->qp.lo : 0;
    out->quant_hi = idx->quant ? idx->qp.hi : 0;
    out->bare = __atomic_load_n(&idx->bare, __ATOMIC_RELAXED);
}

void hnsw_set_bare(HnswIndex *idx, int bare)
{
    pthread_rwlock_wrlock(&idx->rw);
    __atomic_store_n(&idx->bare, bare != 0, __ATOMIC_RELAXED);
    pthread_rwlock_unlock(&idx->rw);
}

int hnsw_contains(const HnswIndex *idx, uint32_t node)
{
    unsigned char *b = hnsw_block_or_null(idx, node);
    if (!b) return 0;
    int f = hnsw_flags(hnsw_head(idx, b));
    return (f & NODE_PRESENT) && !(f & NODE_DELETED);
}

int hnsw_get_vector(const HnswIndex *idx, uint32_t node, float *out)
{
    unsigned char *b = hnsw_block_or_null(idx, node);
    if (!b || !(hnsw_flags(hnsw_head(idx, b)) & NODE_PRESENT)) return ERR_NOTFOUND;
    pthread_rwlock_rdlock(&((HnswIndex *)idx)->rw);
    if (idx->quant) quant_decode(&idx->qp, b, out);
    else memcpy(out, b, (size_t)idx->dim * sizeof(float));
    pthread_rwlock_unlock(&((HnswIndex *)idx)->rw);
    return 0;
}

float hnsw_score_between(const HnswIndex *idx, const float *a, const float *b)
{
    float r = idx->kernel(a, b, (size_t)idx->dim);
    return idx->metric == HNSW_METRIC_EUCLID ? sqrtf(r) : r;
}

/* ---- persistence hooks ---------------------------------------------- */

int hnsw_links_max(const HnswIndex *idx, int level)
{
    return idx->m0 + level * idx->m;
}

int hnsw_node_get(HnswIndex *idx, uint32_t node, int *level, int *deleted, uint32_t *links,
                  size_t links_cap, int *counts)
{
    unsigned char *b = hnsw_block_or_null(idx, node);
    if (!b) return ERR_NOTFOUND;
    NodeHead *h = hnsw_head(idx, b);
    int f = hnsw_flags(h);
    if (!(f & NODE_PRESENT)) return ERR_NOTFOUND;
    int lv = h->level;
    if (links_cap < (size_t)hnsw_links_max(idx, lv)) return ERR_TOOLARGE;
    pthread_rwlock_rdlock(&idx->rw);
    hnsw_node_lock(h);
    size_t pos = 0;
    for (int l = 0; l <= lv; l++) {
        uint32_t *list = hnsw_list(idx, b, l);
        counts[l] = (int)list[0];
        memcpy(links + pos, list + 1, list[0] * sizeof(uint32_t));
        pos += list[0];
    }
    hnsw_node_unlock(h);
    pthread_rwlock_unlock(&idx->rw);
    *level = lv;
    *deleted = (f & NODE_DELETED) != 0;
    return 0;
}

/* node_set is hnsw_node_set; with exclusive 0 (hnsw_node_load) it takes
 * no lock and counts atomically, for loaders setting distinct nodes of a
 * graph nothing else uses yet. */
static int node_set(HnswIndex *idx, uint32_t node, const float *vec, int level, int deleted,
                    const uint32_t *links, const int *counts, int exclusive)
{
    if (level < 0 || level > HNSW_MAX_LEVEL || !vec || !vec_is_finite(vec, (size_t)idx->dim))
        return ERR_INVAL;
    for (int l = 0; l <= level; l++)
        if (counts[l] < 0 || counts[l] > hnsw_max_links(idx, l)) return ERR_INVAL;
    int rc = hnsw_ensure_node(idx, node);
    if (rc) return rc;
    uint32_t *upper = NULL;
    size_t ub = (size_t)level * (1 + (size_t)idx->m) * sizeof(uint32_t);
    if (level > 0 && !(upper = calloc(1, ub))) return ERR_NOMEM;

    if (exclusive) pthread_rwlock_wrlock(&idx->rw);
    unsigned char *b = hnsw_block(idx, node);
    NodeHead *h = hnsw_head(idx, b);
    int f = h->flags;
    if (f & NODE_PRESENT) {
        if (f & NODE_DELETED)
            __atomic_sub_fetch(&idx->deleted, 1, __ATOMIC_RELAXED);
        else
            __atomic_sub_fetch(&idx->live, 1, __ATOMIC_RELAXED);
        if (h->upper)
            __atomic_sub_fetch(&idx->upper_bytes,
                               (size_t)h->level * (1 + (size_t)idx->m) * sizeof(uint32_t),
                               __ATOMIC_RELAXED);
        free(h->upper);
    }
    hnsw_vec_put(idx, b, vec);
    h->level = (uint8_t)level;
    h->upper = upper;
    if (level > 0) __atomic_add_fetch(&idx->upper_bytes, ub, __ATOMIC_RELAXED);
    size_t pos = 0;
    for (int l = 0; l <= level; l++) {
        uint32_t *list = hnsw_list(idx, b, l);
        list[0] = (uint32_t)counts[l];
        memcpy(list + 1, links + pos, (size_t)counts[l] * sizeof(uint32_t));
        pos += (size_t)counts[l];
    }
    __atomic_store_n(&h->flags, (uint8_t)(NODE_CLAIMED | NODE_PRESENT | (deleted ? NODE_DELETED : 0)),
                     __ATOMIC_RELEASE);
    __atomic_add_fetch(deleted ? &idx->deleted : &idx->live, 1, __ATOMIC_RELAXED);
    uint32_t hi = __atomic_load_n(&idx->high, __ATOMIC_RELAXED);
    while (hi < node + 1 && !__atomic_compare_exchange_n(&idx->high, &hi, node + 1, 0,
                                                         __ATOMIC_RELEASE, __ATOMIC_RELAXED))
        ;
    if (exclusive) pthread_rwlock_unlock(&idx->rw);
    return 0;
}

int hnsw_node_set(HnswIndex *idx, uint32_t node, const float *vec, int level, int deleted,
                  const uint32_t *links, const int *counts)
{
    return node_set(idx, node, vec, level, deleted, links, counts, 1);
}

int hnsw_entry_get(HnswIndex *idx, uint32_t *entry, int *max_level)
{
    uint64_t e = __atomic_load_n(&idx->entry, __ATOMIC_ACQUIRE);
    if (e == HNSW_ENTRY_NONE) return ERR_NOTFOUND;
    *entry = (uint32_t)e;
    *max_level = (int)(e >> 32);
    return 0;
}

/* graph_valid checks what hnsw_restore promises (caller holds rw). */
static int graph_valid(HnswIndex *idx, uint32_t entry, int max_level)
{
    /* The level of every node (0xff: absent) in one small table first, so
     * the links are checked against it rather than by visiting each
     * target's block: a random cache miss per link made this most of the
     * time an open of a million points took. */
    uint8_t *lv = malloc(idx->high ? idx->high : 1);
    if (!lv) return 0;
    for (uint32_t id = 0; id < idx->high; id++) {
        unsigned char *b = hnsw_block_or_null(idx, id);
        NodeHead *h = b ? hnsw_head(idx, b) : NULL;
        lv[id] = h && (h->flags & NODE_PRESENT) ? h->level : 0xff;
    }
    int ok = 1;
    size_t present = 0;
    for (uint32_t id = 0; id < idx->high && ok; id++) {
        if (lv[id] == 0xff) continue;
        unsigned char *b = hnsw_block(idx, id);
        NodeHead *h = hnsw_head(idx, b);
        present++;
        if (h->level > max_level) ok = 0;
        for (int l = 0; ok && l <= h->level; l++) {
            uint32_t *list = hnsw_list(idx, b, l);
            if (list[0] > (uint32_t)hnsw_max_links(idx, l)) ok = 0;
            for (uint32_t j = 0; ok && j < list[0]; j++) {
                uint32_t t = list[1 + j];
                if (t >= idx->high || t == id || lv[t] == 0xff || lv[t] < l) ok = 0;
            }
        }
    }
    free(lv);
    if (!ok) return 0;
    if (entry == HNSW_NO_NODE) return present == 0;
    unsigned char *eb = hnsw_block_or_null(idx, entry);
    if (!eb) return 0;
    NodeHead *eh = hnsw_head(idx, eb);
    return (eh->flags & NODE_PRESENT) && eh->level == max_level;
}

int hnsw_restore(HnswIndex *idx, uint32_t entry, int max_level)
{
    if (max_level < 0 || max_level > HNSW_MAX_LEVEL) return ERR_FORMAT;
    pthread_rwlock_wrlock(&idx->rw);
    int ok = graph_valid(idx, entry, max_level);
    if (ok)
        __atomic_store_n(&idx->entry,
                         entry == HNSW_NO_NODE ? HNSW_ENTRY_NONE
                                               : ((uint64_t)max_level << 32) | entry,
                         __ATOMIC_RELEASE);
    pthread_rwlock_unlock(&idx->rw);
    if (ok) return 0;
    log_error("hnsw: restored graph is inconsistent (entry %u, level %d); cleared", entry,
              max_level);
    hnsw_clear(idx);
    return ERR_FORMAT;
}

size_t hnsw_node_blob_max(const HnswIndex *idx)
{
    return 4 + (HNSW_MAX_LEVEL + 1) * 4 + (size_t)hnsw_links_max(idx, HNSW_MAX_LEVEL) * 4;
}

static void put_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int hnsw_node_encode(HnswIndex *idx, uint32_t node, void *buf, size_t cap, size_t *len)
{
    uint32_t links[HNSW_MAX_M * 2 + HNSW_MAX_LEVEL * HNSW_MAX_M];
    int counts[HNSW_MAX_LEVEL + 1], level, deleted;
    int rc = hnsw_node_get(idx, node, &level, &deleted, links, ARRAY_LEN(links), counts);
    if (rc) return rc;
    size_t need = 4;
    for (int l = 0; l <= level; l++) need += 4 + (size_t)counts[l] * 4;
    if (need > cap) return ERR_TOOLARGE;
    unsigned char *p = buf;
    p[0] = (unsigned char)level;
    p[1] = (unsigned char)deleted;
    p[2] = p[3] = 0;
    p += 4;
    size_t pos = 0;
    for (int l = 0; l <= level; l++) {
        put_u32(p, (uint32_t)counts[l]);
        p += 4;
        for (int j = 0; j < counts[l]; j++, p += 4) put_u32(p, links[pos++]);
    }
    *len = need;
    return 0;
}

/* node_decode is hnsw_node_decode (exclusive) or hnsw_node_load. */
static int node_decode(HnswIndex *idx, uint32_t node, const float *vec, const void *buf,
                       size_t len, int exclusive)
{
    const unsigned char *p = buf, *end = p + len;
    if (len < 4 || p[0] > HNSW_MAX_LEVEL || p[1] > 1 || p[2] || p[3]) return ERR_FORMAT;
    int level = p[0], deleted = p[1];
    uint32_t links[HNSW_MAX_M * 2 + HNSW_MAX_LEVEL * HNSW_MAX_M];
    int counts[HNSW_MAX_LEVEL + 1];
    size_t pos = 0;
    p += 4;
    for (int l = 0; l <= level; l++) {
        if (end - p < 4) return ERR_FORMAT;
        uint32_t c = get_u32(p);
        p += 4;
        if (c > (uint32_t)hnsw_max_links(idx, l) || (size_t)(end - p) < (size_t)c * 4)
            return ERR_FORMAT;
        counts[l] = (int)c;
        for (uint32_t j = 0; j < c; j++, p += 4) links[pos++] = get_u32(p);
    }
    if (p != end) return ERR_FORMAT;
    int rc = node_set(idx, node, vec, level, deleted, links, counts, exclusive);
    return rc == ERR_INVAL ? ERR_FORMAT : rc;
}

int hnsw_node_decode(HnswIndex *idx, uint32_t node, const float *vec, const void *buf, size_t len)
{
    return node_decode(idx, node, vec, buf, len, 1);
}

int hnsw_node_load(HnswIndex *idx, uint32_t node, const float *vec, const void *buf, size_t len)
{
    return node_decode(idx, node, vec, buf, len, 0);
}
