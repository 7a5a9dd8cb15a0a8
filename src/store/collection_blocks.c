/*
 * collection_blocks.c - payload blocks: for each value of a keyword or
 * integer payload index that names a small share of the points, a subgraph
 * (hnsw.h's HnswSub) linking those points among themselves, built in the
 * background, so that a search filtered to that value walks them instead
 * of scanning them (Qdrant's payload_m "payload blocks").
 *
 * Which values: a keyword term or an integer (within +-2^53) held by at
 * least the full-scan threshold of points (fewer are scanned exactly
 * anyway) and by less than
 * HNSW_SPARSE_SHARE of them (a larger share walks the main graph well),
 * per dense vector whose graph is linked and float32 (an int8 graph
 * scans a 1% filter's codes at 0.5-3x its unfiltered rate already, and on
 * a 1 GB box the blocks' memory, about 150 bytes a member, is better left
 * to it).
 *
 * The blocks are derived data, kept in memory only: a thread per
 * collection builds them after an open and brings them up to date after
 * writes and index changes (at most once a COLLECTION_BLOCKS_PAUSE_MS),
 * adding the value's points that are not members yet, COLL_BLOCKS_BATCH at
 * a time under the node-table lock held shared (a graph swap or an index
 * change waits for at most one batch). Members are never removed: a point
 * that left the value is kept out by the search's allow list and still
 * routes. A search uses a block once it has been complete once, and scans
 * the allowed points that are not members (written since the last pass)
 * exactly beside the walk, so a write is found at once; with more of
 * those than a tenth of the matches it scans instead.
 *
 * Locks, in order: Collection.lock, CollPBlocks.rw (the list; held shared
 * by a search for its walk, exclusively to add or drop a block), the
 * graph's and then the subgraph's own.
 */
#include "store/collection.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/err.h"
#include "base/log.h"
#include "base/util.h"
#include "index/payload_index.h"
#include "store/collection_internal.h"

/* Points added to blocks per hold of the node-table lock, and points
 * checked for membership (a pass after writes looks at every block's
 * points: about 20 ns each) before a hold ends at the next block. */
#define COLL_BLOCKS_BATCH 256
#define COLL_BLOCKS_CHECKS 65536
/* Threads filling blocks in a pass, at most (cpu_count() of them). */
#define COLL_BLOCKS_MAX_THREADS 4
/* Nodes whose vector changed relinked per hold of the block list (held
 * exclusively: block searches wait for one such batch, tens of ms). */
#define COLL_BLOCKS_RELINK 64

/* block_graph_ok: may vector v of c have blocks? (see above) */
static int block_graph_ok(const Collection *c, int v)
{
    return !coll_graph_quantized(c, v) && !coll_is_multi(c, v) && !c->opt.active;
}

/* value_range: the range of integer value key, as the index takes it. */
static PayloadRange value_range(int64_t key)
{
    return (PayloadRange){ 1, 1, 1, 1, (double)key, (double)key, 0, 0 };
}

/* value_count: the points holding value key of ix (an integer index's
 * count is exact but for values removed since its last compaction). */
static uint64_t value_count(const PayloadIndex *ix, int64_t key)
{
    if (payload_index_type(ix) == PAYLOAD_INDEX_KEYWORD)
        return payload_index_term_count(ix, (uint32_t)key);
    PayloadRange r = value_range(key);
    return payload_index_range_count(ix, &r);
}

void coll_value_nodes(const PayloadIndex *ix, int64_t key, PayloadNodeList *out)
{
    if (payload_index_type(ix) == PAYLOAD_INDEX_KEYWORD) {
        payload_index_term_nodes(ix, (uint32_t)key, out);
        return;
    }
    PayloadRange r = value_range(key);
    payload_index_range_nodes(ix, &r, out);
    payload_node_list_sort_unique(out);
}

/* term_wanted: does value key of ix deserve a block of vector v? A
 * vector without a graph (Qdrant's m 0: the multitenancy recipe, m 0 and
 * payload_m 16 with a tenant index) has nothing else to walk, so every
 * value past the threshold gets one, as in Qdrant. */
static int term_wanted(const Db *db, const Collection *c, int v, const PayloadIndex *ix,
                       int64_t key)
{
    uint64_t n = value_count(ix, key);
    if (n < db->full_scan_threshold) return 0;
    return c->config.vectors[v].exact_only ||
           (double)n < HNSW_SPARSE_SHARE * (double)c->points_count;
}

/* block_m: the links per member of vector v's blocks (Qdrant's
 * payload_m, by default the graph's m; 0: no blocks), within HNSW's
 * bounds. */
static int block_m(const Db *db, const Collection *c, int v)
{
    HnswParams hp;
    hnsw_params_get(c->idx[v].index, &hp);
    int m = db->block_m ? db->block_m(&c->config, v) : hp.m;
    if (m <= 0) return 0;
    return m < HNSW_MIN_M ? HNSW_MIN_M : m > HNSW_MAX_M ? HNSW_MAX_M : m;
}

/* index_wanted: is ix one of c's indexes, of a type and with params
 * that take blocks? */
static int index_wanted(const Db *db, const Collection *c, const PayloadIndex *ix)
{
    for (size_t i = 0; i < c->n_pindex; i++)
        if (c->pindex[i] == ix)
            return (payload_index_type(ix) == PAYLOAD_INDEX_KEYWORD ||
                    payload_index_type(ix) == PAYLOAD_INDEX_INTEGER) &&
                   (!db->block_index || db->block_index(c->pindex_params[i]));
    return 0;
}

/* drop_at removes block i (CollPBlocks.rw held exclusively). */
static void drop_at(CollPBlocks *b, size_t i)
{
    hnsw_sub_free(b->b[i].sub);
    b->b[i] = b->b[--b->n];
}

static CollPBlock *find(CollPBlocks *b, int v, const PayloadIndex *ix, int64_t key)
{
    for (size_t i = 0; i < b->n; i++)
        if (b->b[i].v == v && b->b[i].ix == ix && b->b[i].key == key) return &b->b[i];
    return NULL;
}

/* want_value adds an empty block of vector v for value key of ix unless
 * it has one or the value does not deserve one. */
typedef struct {
    const Db *db;
    Collection *c;
    int v, m;
    const PayloadIndex *ix;
    double last; /* integer walk: the value being counted */
    uint64_t run;
} WantCtx;

static void want_value(WantCtx *w, int64_t key)
{
    CollPBlocks *b = &w->c->pblocks;
    if (!term_wanted(w->db, w->c, w->v, w->ix, key) || find(b, w->v, w->ix, key)) return;
    HnswSub *s = hnsw_sub_new(w->m);
    if (!s) return;
    if (b->n == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 8;
        b->b = xrealloc(b->b, b->cap * sizeof *b->b);
    }
    b->b[b->n++] = (CollPBlock){ w->v, w->ix, key, s, 0 };
}

/* An integer index's values come in order, a point once per value: a run
 * of one value long enough is a candidate (term_wanted counts it again). */
static int want_run(void *vctx, double value, uint32_t node)
{
    (void)node;
    WantCtx *w = vctx;
    if (w->run && value == w->last) {
        w->run++;
        return 0;
    }
    if (w->run >= w->db->full_scan_threshold && fabs(w->last) < 0x1p53)
        want_value(w, (int64_t)w->last);
    w->last = value;
    w->run = 1;
    return 0;
}

/*
 * sync_list makes the block list what c's indexes and graphs want: drops
 * blocks no longer wanted and adds empty ones for the new values. Caller
 * holds Collection.lock shared.
 */
static void sync_list(Db *db, Collection *c)
{
    CollPBlocks *b = &c->pblocks;
    pthread_rwlock_wrlock(&b->rw);
    for (size_t i = b->n; i-- > 0;) {
        CollPBlock *k = &b->b[i];
        if (k->v >= c->config.n_vectors || !block_graph_ok(c, k->v) ||
            !index_wanted(db, c, k->ix) || !term_wanted(db, c, k->v, k->ix, k->key) ||
            hnsw_sub_m(k->sub) != block_m(db, c, k->v))
            drop_at(b, i);
    }
    for (int v = 0; v < c->config.n_vectors; v++) {
        int m = block_m(db, c, v);
        if (!block_graph_ok(c, v) || m < HNSW_MIN_M) continue;
        for (size_t i = 0; i < c->n_pindex; i++) {
            WantCtx w = { db, c, v, m, c->pindex[i], 0, 0 };
            if (!index_wanted(db, c, w.ix)) continue;
            if (payload_index_type(w.ix) == PAYLOAD_INDEX_KEYWORD) {
                uint32_t total = payload_index_term_total(w.ix);
                for (uint32_t t = 0; t < total; t++) want_value(&w, t);
            } else {
                payload_index_order(w.ix, 0, NULL, want_run, &w);
                want_run(&w, NAN, 0); /* the last run */
            }
        }
    }
    pthread_rwlock_unlock(&b->rw);
}

/*
 * fill_batch adds up to COLL_BLOCKS_BATCH missing points to the blocks
 * *cursor, *cursor + stride, ... (the share of one filling thread), and
 * marks a block ready once it lacks none, moving *cursor past it. Returns
 * whether this share has more to do. Caller holds Collection.lock shared
 * (a block dropped meanwhile by coll_blocks_forget may move one past the
 * cursor: the drop's wake brings another pass).
 */
static int fill_batch(Collection *c, size_t *cursor, size_t stride)
{
    CollPBlocks *b = &c->pblocks;
    size_t budget = COLL_BLOCKS_BATCH, checked = 0;
    int more = 0;
    pthread_rwlock_rdlock(&b->rw);
    for (size_t i = *cursor; i < b->n && !more; i += stride) {
        CollPBlock *k = &b->b[i];
        HnswIndex *h = c->idx[k->v].index;
        PayloadNodeList l = { 0 };
        coll_value_nodes(k->ix, k->key, &l);
        size_t j = 0;
        for (; j < l.n && budget; j++) {
            uint32_t node = l.nodes[j];
            if (node >= c->node_high || !c->node_live[node] || hnsw_sub_contains(k->sub, node) ||
                !hnsw_contains(h, node))
                continue;
            int e = hnsw_sub_add(h, k->sub, node);
            if (e) {
                /* Out of memory: this pass ends here (the next one, after
                 * a write, tries again); the block stays as it is. */
                log_error("collection %s: payload block: %s", c->name, err_str(e));
                payload_node_list_free(&l);
                pthread_rwlock_unlock(&b->rw);
                return 0;
            }
            budget--;
        }
        /* Anything left to add in this block? */
        for (; j < l.n && !more; j++) {
            uint32_t node = l.nodes[j];
            more = node < c->node_high && c->node_live[node] && !hnsw_sub_contains(k->sub, node) &&
                   hnsw_contains(h, node);
        }
        checked += l.n;
        payload_node_list_free(&l);
        if (!more) {
            /* A block is built once and then grows by the few points
             * written into its value: the doubling's room goes back. */
            if (!__atomic_load_n(&k->ready, __ATOMIC_ACQUIRE)) hnsw_sub_trim(k->sub);
            __atomic_store_n(&k->ready, 1, __ATOMIC_RELEASE);
            *cursor = i + stride;
        }
        if (!budget || checked > COLL_BLOCKS_CHECKS) more = 1;
    }
    pthread_rwlock_unlock(&b->rw);
    return more;
}

void coll_blocks_grow(Collection *c)
{
    CollPBlocks *b = &c->pblocks;
    size_t need = ((size_t)c->node_high + 63) / 64;
    if (!c->n_pindex || need <= b->stale_words) return;
    size_t nw = need + need / 4 + 16;
    b->stale = xrealloc(b->stale, nw * sizeof *b->stale);
    memset(b->stale + b->stale_words, 0, (nw - b->stale_words) * sizeof *b->stale);
    b->stale_words = nw;
}

/*
 * relink_stale relinks, in every block holding it, each node marked
 * stale, and clears its mark, from word *cursor of the bitmap on, until
 * about COLL_BLOCKS_RELINK nodes are done; returns whether words are
 * left. The list is held exclusively meanwhile, so no search sees a node
 * unmarked before its links follow its vector (searches wait for one
 * such batch at most); a mark the writer sets again meanwhile (a newer
 * vector) stays for the next pass. Caller holds Collection.lock shared.
 */
static int relink_stale(Collection *c, size_t *cursor)
{
    CollPBlocks *b = &c->pblocks;
    if (!b->n) return 0;
    size_t done = 0, w = *cursor;
    pthread_rwlock_wrlock(&b->rw);
    for (; w < b->stale_words && done < COLL_BLOCKS_RELINK; w++) {
        if (!__atomic_load_n(&b->stale[w], __ATOMIC_RELAXED)) continue;
        uint64_t x = __atomic_exchange_n(&b->stale[w], 0, __ATOMIC_ACQ_REL);
        done += (size_t)__builtin_popcountll(x);
        for (; x; x &= x - 1) {
            uint32_t node = (uint32_t)(w * 64 + (size_t)__builtin_ctzll(x));
            if (node >= c->node_high || !c->node_live[node]) continue;
            for (size_t i = 0; i < b->n; i++) {
                CollPBlock *k = &b->b[i];
                HnswIndex *h = c->idx[k->v].index;
                if (!hnsw_sub_contains(k->sub, node) || !hnsw_contains(h, node)) continue;
                int e = hnsw_sub_add(h, k->sub, node);
                if (e) log_error("collection %s: payload block: %s", c->name, err_str(e));
            }
        }
    }
    pthread_rwlock_unlock(&b->rw);
    *cursor = w;
    return w < b->stale_words;
}

typedef struct {
    Db *db;
    Collection *c;
} BlocksArg;

/* One filling thread's share of a pass: blocks first, first + stride... */
typedef struct {
    Collection *c;
    size_t first, stride;
} FillArg;

static void *fill_share(void *arg)
{
    FillArg *f = arg;
    size_t cursor = f->first;
    int more = 1;
    while (more && !__atomic_load_n(&f->c->pblocks.stop, __ATOMIC_ACQUIRE)) {
        pthread_rwlock_rdlock(&f->c->lock);
        more = fill_batch(f->c, &cursor, f->stride);
        pthread_rwlock_unlock(&f->c->lock);
    }
    return NULL;
}

/*
 * fill_all brings every block up to date on up to
 * COLL_BLOCKS_MAX_THREADS threads (this one and helpers started for the
 * pass), each filling its own blocks: blocks are independent graphs, so
 * building them after a restart takes the cores the graph rebuild would
 * (about 2,500 points/s a core at 512-d).
 */
static void fill_all(Collection *c)
{
    int nt = cpu_count();
    if (nt > COLL_BLOCKS_MAX_THREADS) nt = COLL_BLOCKS_MAX_THREADS;
    if (nt < 1) nt = 1;
    FillArg arg[COLL_BLOCKS_MAX_THREADS];
    pthread_t th[COLL_BLOCKS_MAX_THREADS];
    int started = 1;
    for (int t = 0; t < nt; t++) arg[t] = (FillArg){ c, (size_t)t, (size_t)nt };
    for (; started < nt; started++)
        if (pthread_create(&th[started], NULL, fill_share, &arg[started])) break;
    /* The shares of helpers that could not start are this thread's too. */
    fill_share(&arg[0]);
    for (int t = started; t < nt; t++) fill_share(&arg[t]);
    for (int t = 1; t < started; t++) pthread_join(th[t], NULL);
}

static void *blocks_main(void *arg)
{
    BlocksArg a = *(BlocksArg *)arg;
    free(arg);
    CollPBlocks *b = &a.c->pblocks;
    for (;;) {
        pthread_mutex_lock(&b->mu);
        while (!b->dirty && !b->stop) pthread_cond_wait(&b->cv, &b->mu);
        int stop = b->stop;
        b->dirty = 0;
        pthread_mutex_unlock(&b->mu);
        if (stop) break;
        double t0 = now_seconds();
        pthread_rwlock_rdlock(&a.c->lock);
        sync_list(a.db, a.c);
        pthread_rwlock_unlock(&a.c->lock);
        int more = 1;
        for (size_t w = 0; more && !__atomic_load_n(&b->stop, __ATOMIC_ACQUIRE);) {
            pthread_rwlock_rdlock(&a.c->lock);
            more = relink_stale(a.c, &w);
            pthread_rwlock_unlock(&a.c->lock);
        }
        fill_all(a.c);
        double dt = now_seconds() - t0;
        if (dt > 1) log_info("collection %s: payload blocks brought up to date in %.1f s",
                             a.c->name, dt);
        /* Writes come in groups: the next pass waits a little, so a
         * stream of them costs a pass per pause, not per group. */
        pthread_mutex_lock(&b->mu);
        if (!b->stop) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += (long)COLLECTION_BLOCKS_PAUSE_MS * 1000000L;
            ts.tv_sec += ts.tv_nsec / 1000000000L;
            ts.tv_nsec %= 1000000000L;
            while (!b->stop && pthread_cond_timedwait(&b->cv, &b->mu, &ts) == 0) {
            }
        }
        pthread_mutex_unlock(&b->mu);
    }
    return NULL;
}

void coll_blocks_init(Collection *c)
{
    /* Searches hold the list shared without pause under load; a pass or
     * a dropped index must still get it. */
    rwlock_init_writer_pref(&c->pblocks.rw);
    pthread_mutex_init(&c->pblocks.mu, NULL);
    pthread_cond_init(&c->pblocks.cv, NULL);
}

void coll_blocks_wake(Db *db, Collection *c)
{
    CollPBlocks *b = &c->pblocks;
    pthread_mutex_lock(&b->mu);
    b->dirty = 1;
    if (!b->running && !b->stop && c->n_pindex) {
        BlocksArg *a = xmalloc(sizeof *a);
        *a = (BlocksArg){ db, c };
        if (pthread_create(&b->thread, NULL, blocks_main, a) == 0) {
            b->running = 1;
        } else {
            free(a);
            log_error("collection %s: cannot start the payload blocks thread", c->name);
        }
    }
    pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

void coll_blocks_stop(Collection *c)
{
    CollPBlocks *b = &c->pblocks;
    pthread_mutex_lock(&b->mu);
    __atomic_store_n(&b->stop, 1, __ATOMIC_RELEASE);
    int running = b->running;
    b->running = 0;
    pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
    if (running) pthread_join(b->thread, NULL);
}

void coll_blocks_free(Collection *c)
{
    coll_blocks_stop(c);
    while (c->pblocks.n) drop_at(&c->pblocks, c->pblocks.n - 1);
    free(c->pblocks.b);
    free(c->pblocks.stale);
    pthread_rwlock_destroy(&c->pblocks.rw);
    pthread_mutex_destroy(&c->pblocks.mu);
    pthread_cond_destroy(&c->pblocks.cv);
}

void coll_blocks_drop_graph(Collection *c, int v)
{
    CollPBlocks *b = &c->pblocks;
    pthread_rwlock_wrlock(&b->rw);
    for (size_t i = b->n; i-- > 0;)
        if (b->b[i].v == v) drop_at(b, i);
    pthread_rwlock_unlock(&b->rw);
}

void coll_blocks_forget(Collection *c, const PayloadIndex *ix)
{
    CollPBlocks *b = &c->pblocks;
    pthread_rwlock_wrlock(&b->rw);
    for (size_t i = b->n; i-- > 0;)
        if (b->b[i].ix == ix) drop_at(b, i);
    pthread_rwlock_unlock(&b->rw);
}

/* The block a search may walk: the smallest ready one of a term the
 * filter requires. */
typedef struct {
    CollPBlocks *b;
    int v;
    CollPBlock *best;
    size_t best_n;
} FindCtx;

static int find_term(void *vctx, const PayloadIndex *ix, int64_t key)
{
    FindCtx *x = vctx;
    CollPBlock *k = find(x->b, x->v, ix, key);
    if (!k || !__atomic_load_n(&k->ready, __ATOMIC_ACQUIRE)) return 0;
    size_t n = hnsw_sub_count(k->sub);
    if (!x->best || n < x->best_n) {
        x->best = k;
        x->best_n = n;
    }
    return 0;
}

HnswSub *coll_blocks_find(Collection *c, int v, const Filter *f)
{
    CollPBlocks *b = &c->pblocks;
    pthread_rwlock_rdlock(&b->rw);
    FindCtx x = { b, v, NULL, 0 };
    if (block_graph_ok(c, v)) filter_must_terms(f, find_term, &x);
    if (x.best) return x.best->sub;
    pthread_rwlock_unlock(&b->rw);
    return NULL;
}

void coll_blocks_release(Collection *c)
{
    pthread_rwlock_unlock(&c->pblocks.rw);
}

void coll_blocks_stats(Collection *c, size_t *n_blocks, size_t *members, size_t *bytes)
{
    CollPBlocks *b = &c->pblocks;
    *n_blocks = *members = *bytes = 0;
    pthread_rwlock_rdlock(&b->rw);
    for (size_t i = 0; i < b->n; i++) {
        if (!__atomic_load_n(&b->b[i].ready, __ATOMIC_ACQUIRE)) continue;
        (*n_blocks)++;
        *members += hnsw_sub_count(b->b[i].sub);
        *bytes += hnsw_sub_bytes(b->b[i].sub);
    }
    pthread_rwlock_unlock(&b->rw);
}
