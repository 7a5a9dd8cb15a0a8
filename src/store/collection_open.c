/*
 * collection_open.c - opening a data directory and keeping its graphs
 * persistent: load, replay, graph persistence, close, and the locks every
 * operation takes. See collection.h for the contract and docs/storage.md
 * for the on-disk layout.
 *
 * Graph persistence. A write group commits points, vectors and a
 * "pending" marker per touched node (collection_write.c); only then does
 * the graph change in memory (coll_apply_vector), which marks every node
 * whose record changed "dirty". The next group's transaction (or
 * collection_db_flush) writes the dirty records and deletes the pending
 * markers (coll_graph_save_txn). A crash in between leaves markers: the
 * next open loads the last saved graph (a consistent whole, since every
 * save writes one settled in-memory state atomically) and replays the
 * marked nodes from the committed vectors.
 *   Which graph nodes change: an insert or update rewrites the node's own
 *   links and those of the nodes it links to; a delete repairs the nodes it
 *   linked to. So the "dirty" set is the node plus its links before and
 *   after the operation (test_store_reopen checks the saved graph equals
 *   the in-memory one node for node).
 *   A vector searched exactly only (exact_only) keeps its graph bare
 *   (hnsw_set_bare): an insert stores the node at level 0 without links,
 *   so only the node itself is dirty; a replay inserts bare too, and the
 *   graph is linked when collection_update clears the flag.
 *
 * Node ids: dense uint32, allocated from a free list (lowest first after
 * open) so a deleted point's slot is reused and the graphs stay compact.
 * A deleted node's vector row and graph record stay in LMDB until reuse,
 * because the graph keeps routing through deleted slots (hnsw.h).
 */
#include "store/collection.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "base/log.h"
#include "base/util.h"
#include "store/collection_internal.h"
#include "store/store.h"

static HnswMetric metric_of(CollectionDistance d)
{
    switch (d) {
    case COLLECTION_DOT: return HNSW_METRIC_DOT;
    case COLLECTION_EUCLID: return HNSW_METRIC_EUCLID;
    case COLLECTION_MANHATTAN: return HNSW_METRIC_MANHATTAN;
    default: return HNSW_METRIC_COSINE;
    }
}

/* index_create makes an empty graph for vector v of cfg. */
static int index_create(const CollectionConfig *cfg, int v, HnswIndex **out)
{
    HnswParams p;
    coll_index_params(cfg, v, &p); /* quantization too (collection_quant.c) */
    return hnsw_create((int)cfg->vectors[v].size, metric_of(cfg->vectors[v].distance), &p, out);
}

/* scratch_fit sizes the writer's links and blob scratch for c's graphs. */
static void scratch_fit(Collection *c)
{
    size_t lc = 1, bc = 1;
    for (int i = 0; i < c->config.n_vectors; i++) {
        lc = MAX(lc, (size_t)hnsw_links_max(c->idx[i].index, HNSW_MAX_LEVEL));
        bc = MAX(bc, hnsw_node_blob_max(c->idx[i].index));
    }
    if (lc != c->links_cap) {
        free(c->links);
        c->links = xmalloc(lc * sizeof *c->links);
        c->links_cap = lc;
    }
    if (bc != c->blob_cap) {
        free(c->blob);
        c->blob = xmalloc(bc);
        c->blob_cap = bc;
    }
}

/* ---- collection objects ---- */

void coll_free(Collection *c)
{
    if (!c) return;
    coll_optimize_stop(c); /* what it owed stays in the marker */
    coll_blocks_free(c);
    free(c->opt.changed);
    for (int i = 0; i < COLLECTION_MAX_VECTORS; i++) {
        hnsw_free(c->idx[i].index);
        free(c->idx[i].dirty);
        free(c->idx[i].dirty_flag);
    }
    coll_sparse_free(c);
    coll_multi_free(c);
    pthread_rwlock_destroy(&c->lock);
    free(c->node_ids);
    free(c->node_live);
    free(c->free_nodes);
    free(c->pending);
    free(c->links);
    free(c->blob);
    free(c->vec);
    free(c->blocks.p);
    coll_index_free(c);
    free(c->name);
    free(c);
}

int coll_new(const char *name, uint32_t cid, const CollectionConfig *cfg, int64_t created,
             Collection **out)
{
    Collection *c = xcalloc(1, sizeof *c);
    coll_blocks_init(c);
    c->name = xstrdup(name);
    c->cid = cid;
    c->config = *cfg;
    c->created_at = created;
    rwlock_init_writer_pref(&c->lock);
    for (int i = 0; i < cfg->n_vectors; i++) {
        int err = index_create(cfg, i, &c->idx[i].index);
        if (err) {
            log_error("collection %s: cannot create the index of vector %d: %s", name, i,
                      err_str(err));
            coll_free(c);
            return err;
        }
    }
    int err = coll_sparse_create(c);
    if (err) {
        coll_free(c);
        return err;
    }
    scratch_fit(c);
    size_t maxdim = 1;
    for (int i = 0; i < cfg->n_vectors; i++) maxdim = MAX(maxdim, (size_t)cfg->vectors[i].size);
    c->vec = xmalloc(maxdim * sizeof *c->vec);
    *out = c;
    return 0;
}

/* coll_node_table_reserve grows the node table to hold nodes < need. Called by
 * the writer with the collection lock held exclusively (or at open). */
void coll_node_table_reserve(Collection *c, uint32_t need)
{
    if (need <= c->node_cap) return;
    uint32_t n = c->node_cap ? c->node_cap : 1024;
    while (n < need) n = n > UINT32_MAX / 2 ? UINT32_MAX : n * 2;
    c->node_ids = xrealloc(c->node_ids, (size_t)n * sizeof *c->node_ids);
    c->node_live = xrealloc(c->node_live, n);
    memset(c->node_ids + c->node_cap, 0, (size_t)(n - c->node_cap) * sizeof *c->node_ids);
    memset(c->node_live + c->node_cap, 0, n - c->node_cap);
    c->node_cap = n;
}

/* mark_dirty remembers that node's graph record must be saved. */
static void mark_dirty(Collection *c, int v, uint32_t node)
{
    CollIndex *ix = &c->idx[v];
    if (node == HNSW_NO_NODE) return;
    if (node >= ix->dirty_flag_cap) {
        size_t n = ix->dirty_flag_cap ? ix->dirty_flag_cap : 1024;
        while (n <= node) n *= 2;
        ix->dirty_flag = xrealloc(ix->dirty_flag, n);
        memset(ix->dirty_flag + ix->dirty_flag_cap, 0, n - ix->dirty_flag_cap);
        ix->dirty_flag_cap = n;
    }
    if (ix->dirty_flag[node]) return;
    ix->dirty_flag[node] = 1;
    coll_grow_u32(&ix->dirty, &ix->dirty_cap, ix->n_dirty + 1);
    ix->dirty[ix->n_dirty++] = node;
}

/* mark_links marks node and every node it links to (on all levels). */
static void mark_links(Collection *c, int v, uint32_t node)
{
    int level, deleted;
    mark_dirty(c, v, node);
    if (hnsw_node_get(c->idx[v].index, node, &level, &deleted, c->links, c->links_cap,
                      c->counts) != 0)
        return;
    size_t total = 0;
    for (int l = 0; l <= level; l++) total += (size_t)c->counts[l];
    for (size_t i = 0; i < total; i++) mark_dirty(c, v, c->links[i]);
}

/*
 * coll_apply_vector brings graph v of node in line with the committed state:
 * vec is the node's vector, or NULL when the point has no such vector
 * (deleted point, or upserted without it). force re-links even an
 * unchanged vector (a replay, whose saved links may predate the vector).
 */
void coll_apply_vector(Collection *c, int v, uint32_t node, const float *vec, int force)
{
    HnswIndex *h = c->idx[v].index;
    int err = 0;
    if (vec) {
        if (hnsw_contains(h, node)) {
            size_t dim = c->config.vectors[v].size;
            int same = !force && hnsw_get_vector(h, node, c->vec) == 0 &&
                       !memcmp(c->vec, vec, dim * sizeof *vec);
            if (same) return; /* a payload-only re-upsert leaves the graph alone */
            mark_links(c, v, node);
            err = hnsw_update(h, node, vec);
        } else {
            mark_links(c, v, node); /* a deleted slot being revived */
            err = hnsw_insert(h, node, vec);
        }
    } else if (hnsw_contains(h, node)) {
        mark_links(c, v, node);
        err = hnsw_delete(h, node);
    } else {
        return;
    }
    if (err) {
        /* The point is committed; the graph could not follow (only an
         * allocation failure can get here after validation). The pending
         * marker stays, so the next open retries. */
        log_error("collection %s: graph %d: node %u: %s", c->name, v, node, err_str(err));
        return;
    }
    mark_links(c, v, node);
}

/*
 * Parallel inserts. A write group's new points go into the graph on
 * every core (hnsw_insert of distinct new nodes is thread-safe): workers
 * take the next node from a shared counter, and each keeps the nodes its
 * inserts changed (hnsw_insert_new reports them) for mark_dirty, which
 * runs on the writer after the join.
 */
typedef struct {
    HnswIndex *h;
    const uint32_t *nodes;
    const float *const *vecs;
    size_t n;
    size_t next; /* atomic: the next item to insert */
} InsertJob;

typedef struct {
    InsertJob *job;
    uint32_t *touched; /* [n_touched] the nodes the inserts changed */
    size_t n_touched, cap_touched;
    uint32_t *redo; /* nodes hnsw_insert_new refused or failed: the caller retries them */
    size_t n_redo, cap_redo;
    int err;
} InsertWorker;

static void *insert_worker(void *arg)
{
    InsertWorker *w = arg;
    InsertJob *j = w->job;
    size_t cap = (size_t)hnsw_links_max(j->h, HNSW_MAX_LEVEL);
    uint32_t *t = xmalloc(cap * sizeof *t);
    for (;;) {
        size_t i = __atomic_fetch_add(&j->next, 1, __ATOMIC_RELAXED);
        if (i >= j->n) break;
        size_t nt = 0;
        int err = hnsw_insert_new(j->h, j->nodes[i], j->vecs[i], t, cap, &nt);
        if (nt) {
            coll_grow_u32(&w->touched, &w->cap_touched, w->n_touched + nt);
            memcpy(w->touched + w->n_touched, t, nt * sizeof *t);
            w->n_touched += nt;
        }
        if (err) {
            /* A revived node (ERR_EXISTS) or a failure: the writer
             * applies it alone, as any other change. */
            coll_grow_u32(&w->redo, &w->cap_redo, w->n_redo + 1);
            w->redo[w->n_redo++] = (uint32_t)i;
            if (err != ERR_EXISTS) w->err = err;
        }
    }
    free(t);
    return NULL;
}

size_t coll_build_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > COLL_BUILD_THREADS_MAX ? COLL_BUILD_THREADS_MAX : (size_t)n;
}

/* run_workers runs fn on nt threads, the calling writer one of them, the
 * i-th with args + i * stride (stride 0: all share args), and returns
 * when all are done. A thread that cannot be started leaves its share to
 * the others (the workers take their items from a shared counter). */
static void run_workers(size_t nt, void *(*fn)(void *), void *args, size_t stride)
{
    pthread_t th[COLL_BUILD_THREADS_MAX];
    size_t started = 1;
    for (; started < nt && started < COLL_BUILD_THREADS_MAX; started++)
        if (pthread_create(&th[started], NULL, fn, (char *)args + started * stride)) break;
    fn(args);
    for (size_t i = 1; i < started; i++) pthread_join(th[i], NULL);
}

void coll_apply_inserts(Collection *c, int v, const uint32_t *nodes, const float *const *vecs,
                        size_t n)
{
    size_t nt = coll_build_threads();
    HnswParams hp;
    hnsw_params_get(c->idx[v].index, &hp);
    /* Bare inserts (exact_only) only copy vectors: threads would cost more
     * than they share. */
    if (n < COLL_PARALLEL_INSERT_MIN || nt < 2 || hp.bare) {
        for (size_t i = 0; i < n; i++) coll_apply_vector(c, v, nodes[i], vecs[i], 0);
        return;
    }
    HnswIndex *h = c->idx[v].index;
    uint32_t top = 0;
    for (size_t i = 0; i < n; i++) top = MAX(top, nodes[i]);
    hnsw_reserve(h, top + 1); /* growth outside the workers' way */
    InsertJob job = { h, nodes, vecs, n, 0 };
    InsertWorker w[COLL_BUILD_THREADS_MAX];
    memset(w, 0, sizeof w);
    for (size_t i = 0; i < nt; i++) w[i].job = &job;
    run_workers(nt, insert_worker, w, sizeof *w);
    for (size_t i = 0; i < n; i++) mark_dirty(c, v, nodes[i]);
    for (size_t i = 0; i < nt; i++) {
        for (size_t k = 0; k < w[i].n_touched; k++) mark_dirty(c, v, w[i].touched[k]);
        if (w[i].err)
            log_warn("collection %s: graph %d: a parallel insert failed (%s); retrying alone",
                     c->name, v, err_str(w[i].err));
        for (size_t k = 0; k < w[i].n_redo; k++) {
            size_t x = w[i].redo[k];
            coll_apply_vector(c, v, nodes[x], vecs[x], 0);
        }
        free(w[i].touched);
        free(w[i].redo);
    }
}

/* ---- graph persistence ---- */

int coll_graph_dirty(const Collection *c)
{
    if (c->n_pending) return 1;
    for (int v = 0; v < c->config.n_vectors; v++)
        if (c->idx[v].n_dirty || c->idx[v].wipe) return 1;
    return 0;
}

int coll_graph_save_txn(StoreTxn *txn, Collection *c)
{
    uint8_t key[STORE_KEY_MAX];
    int err;
    for (int v = 0; v < c->config.n_vectors; v++) {
        CollIndex *ix = &c->idx[v];
        if (ix->wipe) {
            size_t pl = store_key_index(key, c->cid, (uint16_t)v);
            if ((err = store_del_prefix(txn, STORE_DB_GRAPH, key, pl, NULL))) return err;
        } else if (!ix->n_dirty) {
            continue;
        }
        for (size_t i = 0; i < ix->n_dirty; i++) {
            size_t len;
            err = hnsw_node_encode(ix->index, ix->dirty[i], c->blob, c->blob_cap, &len);
            if (err == ERR_NOTFOUND) continue; /* never inserted: nothing to save */
            if (err) return err;
            size_t kl = store_key_node(key, c->cid, (uint16_t)v, ix->dirty[i]);
            if ((err = store_put(txn, STORE_DB_GRAPH, key, kl, c->blob, len))) return err;
        }
        uint32_t entry;
        int max_level;
        size_t kl = store_key_index(key, c->cid, (uint16_t)v);
        if (hnsw_entry_get(ix->index, &entry, &max_level) == 0) {
            uint8_t rec[COLLECTION_ENTRY_LEN];
            store_put_le32(rec, entry);
            store_put_le32(rec + 4, (uint32_t)max_level);
            err = store_put(txn, STORE_DB_GRAPH, key, kl, rec, sizeof rec);
        } else {
            err = store_del(txn, STORE_DB_GRAPH, key, kl);
            if (err == ERR_NOTFOUND) err = 0;
        }
        if (err) return err;
    }
    for (size_t i = 0; i < c->n_pending; i++) {
        size_t kl = store_key_pending(key, c->cid, c->pending[i]);
        err = store_del(txn, STORE_DB_PENDING, key, kl);
        if (err && err != ERR_NOTFOUND) return err;
    }
    return 0;
}

void coll_graph_saved(Collection *c)
{
    for (int v = 0; v < c->config.n_vectors; v++) {
        CollIndex *ix = &c->idx[v];
        for (size_t i = 0; i < ix->n_dirty; i++) ix->dirty_flag[ix->dirty[i]] = 0;
        ix->n_dirty = 0;
        ix->wipe = 0;
    }
    c->n_pending = 0;
}

static int graph_save_fn(StoreTxn *txn, void *vctx)
{
    return coll_graph_save_txn(txn, vctx);
}

/*
 * coll_graph_save writes the dirty graph records and clears the pending
 * markers. On failure everything stays dirty and is retried by the next
 * write; the markers guarantee a replay on open if none succeeds.
 */
int coll_graph_save(Db *db, Collection *c)
{
    int err = store_write(db->store, graph_save_fn, c);
    if (err) {
        log_error("collection %s: saving the graph failed (%s); it will be retried", c->name,
                  err_str(err));
        return err;
    }
    coll_graph_saved(c);
    return 0;
}

static int flush_fn(StoreTxn *txn, void *vctx)
{
    Db *db = vctx;
    int err = 0;
    for (size_t i = 0; i < db->n_colls && !err; i++)
        if (coll_graph_dirty(db->colls[i])) err = coll_graph_save_txn(txn, db->colls[i]);
    return err;
}

int collection_db_flush(Db *db)
{
    pthread_mutex_lock(&db->write);
    int dirty = 0, err = 0;
    for (size_t i = 0; i < db->n_colls; i++) dirty |= coll_graph_dirty(db->colls[i]);
    if (dirty) err = store_write(db->store, flush_fn, db);
    if (err)
        log_error("store: saving the graphs failed (%s); the next write retries", err_str(err));
    else
        for (size_t i = 0; i < db->n_colls; i++) coll_graph_saved(db->colls[i]);
    pthread_mutex_unlock(&db->write);
    return err;
}

int collection_db_idle(Db *db)
{
    double now = now_seconds();
    if (now - db->last_idle_save < COLLECTION_IDLE_SAVE_INTERVAL) return 0;
    db->last_idle_save = now;
    return collection_db_flush(db);
}

void coll_add_pending(Collection *c, uint32_t node)
{
    coll_grow_u32(&c->pending, &c->pending_cap, c->n_pending + 1);
    c->pending[c->n_pending++] = node;
}

/* A rebuild: each worker takes the next node from a shared counter and
 * inserts it into h with its vector from old. Alone, it inserts them in
 * node order, which repeats a build. A cancel stops every worker at its
 * next node. */
typedef struct {
    HnswIndex *old, *h;
    uint32_t high;
    size_t dim;
    const int *cancel; /* atomic, or NULL */
    uint32_t *done;    /* atomic, or NULL: nodes inserted */
    uint32_t next; /* atomic */
    int err;       /* atomic: the first failure, or 0 */
} RebuildJob;

static void *rebuild_worker(void *arg)
{
    RebuildJob *j = arg;
    float *vec = xmalloc(j->dim * sizeof *vec);
    for (;;) {
        uint32_t node = __atomic_fetch_add(&j->next, 1, __ATOMIC_RELAXED);
        if (node >= j->high || __atomic_load_n(&j->err, __ATOMIC_RELAXED)) break;
        int err = j->cancel && __atomic_load_n(j->cancel, __ATOMIC_RELAXED) ? ERR_BUSY : 0;
        if (!err && !hnsw_contains(j->old, node)) continue;
        if (!err) err = hnsw_get_vector(j->old, node, vec);
        /* A node the writer deleted meanwhile: the catch-up settles it. */
        if (err == ERR_NOTFOUND) continue;
        if (!err) err = hnsw_insert(j->h, node, vec);
        if (!err && j->done) __atomic_fetch_add(j->done, 1, __ATOMIC_RELAXED);
        int none = 0;
        if (err) __atomic_compare_exchange_n(&j->err, &none, err, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
    }
    free(vec);
    return NULL;
}

int coll_graph_rebuild(Collection *c, const CollRebuild *r, int v, HnswIndex **out)
{
    HnswIndex *old = c->idx[v].index, *h;
    int err = index_create(r->cfg, v, &h);
    if (err) return err;
    hnsw_reserve(h, r->high ? r->high : 1);
    size_t nt = (r->parallel >> v & 1) && r->high >= COLL_PARALLEL_INSERT_MIN
                    ? coll_build_threads() : 1;
    RebuildJob job = { old, h, r->high, r->cfg->vectors[v].size, r->cancel, r->done, 0, 0 };
    run_workers(nt, rebuild_worker, &job, 0);
    err = job.err;
    if (err) {
        if (err != ERR_BUSY)
            log_error("collection %s: rebuilding graph %d failed: %s", c->name, v, err_str(err));
        hnsw_free(h);
        return err;
    }
    *out = h;
    return 0;
}

int coll_graph_put_all(StoreTxn *txn, Collection *c, int v, HnswIndex *h)
{
    uint8_t key[STORE_KEY_MAX];
    size_t pl = store_key_index(key, c->cid, (uint16_t)v);
    int err = store_del_prefix(txn, STORE_DB_GRAPH, key, pl, NULL);
    size_t cap = hnsw_node_blob_max(h);
    uint8_t *blob = xmalloc(cap);
    for (uint32_t node = 0; node < c->node_high && !err; node++) {
        size_t len;
        err = hnsw_node_encode(h, node, blob, cap, &len);
        if (err == ERR_NOTFOUND) {
            err = 0; /* never inserted: nothing to save */
            continue;
        }
        size_t kl = store_key_node(key, c->cid, (uint16_t)v, node);
        if (!err) err = store_put(txn, STORE_DB_GRAPH, key, kl, blob, len);
    }
    free(blob);
    uint32_t entry;
    int max_level;
    if (!err && hnsw_entry_get(h, &entry, &max_level) == 0) {
        uint8_t rec[COLLECTION_ENTRY_LEN];
        store_put_le32(rec, entry);
        store_put_le32(rec + 4, (uint32_t)max_level);
        err = store_put(txn, STORE_DB_GRAPH, key, pl, rec, sizeof rec);
    }
    return err;
}

void coll_graph_replace(Collection *c, HnswIndex *const *h)
{
    HnswIndex *old[COLLECTION_MAX_VECTORS] = { 0 };
    pthread_rwlock_wrlock(&c->lock);
    for (int v = 0; v < c->config.n_vectors; v++) {
        CollIndex *ix = &c->idx[v];
        if (!h[v]) continue; /* kept */
        old[v] = ix->index;
        ix->index = h[v];
        coll_blocks_drop_graph(c, v); /* they link nodes of the old one */
        for (size_t i = 0; i < ix->n_dirty; i++) ix->dirty_flag[ix->dirty[i]] = 0;
        ix->n_dirty = 0;
        ix->wipe = 0;
    }
    pthread_rwlock_unlock(&c->lock);
    for (int v = 0; v < c->config.n_vectors; v++) hnsw_free(old[v]);
    c->n_pending = 0;
    scratch_fit(c);
}

/* One collection as loaded, before its replay. */
typedef struct {
    Collection *c;
    uint32_t *replay; /* nodes whose graph must be brought in line (may repeat) */
    size_t n_replay, replay_cap;
    int rebuild; /* bit v: graph v is rebuilt from every stored vector */
} Loaded;

static void loaded_add_replay(Loaded *l, uint32_t node)
{
    coll_grow_u32(&l->replay, &l->replay_cap, l->n_replay + 1);
    l->replay[l->n_replay++] = node;
}

/*
 * Loading a graph: vector blocks and graph records are walked in node
 * order, merged, and each node is set in the index (hnsw_node_load). A
 * large graph is cut into ranges of blocks, one per core, each walked by
 * its own thread in its own read transaction (the index takes distinct
 * nodes concurrently while nobody else uses it); hnsw_restore then checks
 * the whole. Measured: most of an open of 1M points (docs/storage.md).
 */
#define COLL_LOAD_PARALLEL_MIN 8192 /* nodes; below, one thread */

typedef struct {
    Collection *c;
    Store *store;
    StoreTxn *txn; /* NULL: the part opens its own */
    int v;
    uint32_t b0, b1; /* blocks [b0, b1); b1 UINT32_MAX: to the end */
    int err, broken;
    uint32_t high; /* 1 + the highest node with a vector */
    uint32_t *replay; /* live nodes with a vector but no graph record */
    size_t n_replay, cap_replay;
} LoadPart;

static void *load_part(void *arg)
{
    LoadPart *lp = arg;
    Collection *c = lp->c;
    int v = lp->v;
    HnswIndex *h = c->idx[v].index;
    uint32_t dim = c->config.vectors[v].size, k = coll_block_slots(dim);
    uint64_t end_node = lp->b1 == UINT32_MAX ? UINT64_MAX : (uint64_t)lp->b1 * k;
    uint8_t key[STORE_KEY_MAX], vkey[STORE_KEY_MAX], gkey[STORE_KEY_MAX];
    size_t plen = store_key_index(key, c->cid, (uint16_t)v);
    StoreTxn *txn = lp->txn;
    StoreCursor *vc = NULL, *gc = NULL;
    Slice kk, val, gk, gv;
    float *vec = xmalloc(dim * sizeof *vec);
    int err = txn ? 0 : store_read_begin(lp->store, &txn);
    if (!err) err = store_cursor_open(txn, STORE_DB_DENSE, &vc);
    if (!err) err = store_cursor_open(txn, STORE_DB_GRAPH, &gc);
    if (err) goto done;
    /* The graph cursor starts at the range's first node (past the entry
     * record for the first range). */
    size_t gl = store_key_node(gkey, c->cid, (uint16_t)v, lp->b0 * k);
    size_t vl = store_key_node(vkey, c->cid, (uint16_t)v, lp->b0);
    int gerr = store_cursor_seek(gc, gkey, gl, &gk, &gv);
    int verr = store_cursor_seek(vc, vkey, vl, &kk, &val);
#define IN_GRAPH() (gerr == 0 && gk.len == 10 && !memcmp(gk.ptr, key, plen) && \
                    store_get_be32((const uint8_t *)gk.ptr + 6) < end_node)
    for (; verr == 0; verr = store_cursor_next(vc, &kk, &val)) {
        if (kk.len != 10 || memcmp(kk.ptr, key, plen) != 0) break;
        uint32_t block = store_get_be32((const uint8_t *)kk.ptr + 6);
        if (block >= lp->b1) break;
        CollBlock b;
        if (coll_block_parse(dim, val, &b) || (uint64_t)(block + 1) * b.slots > HNSW_MAX_NODES) {
            log_error("collection %s: the vector block %u of vector %d is malformed", c->name,
                      block, v);
            err = ERR_FORMAT;
            goto done;
        }
        for (uint32_t slot = 0; slot < b.n_slots; slot++) {
            if (!(b.present >> slot & 1)) continue;
            uint32_t node = block * b.slots + slot;
            if (node >= lp->high) lp->high = node + 1;
            const float *p = coll_block_vector(&b, dim, slot, vec);
            uint32_t gnode = HNSW_NO_NODE;
            while (IN_GRAPH() && (gnode = store_get_be32((const uint8_t *)gk.ptr + 6)) < node) {
                lp->broken = 1; /* a graph record without a vector */
                gerr = store_cursor_next(gc, &gk, &gv);
                gnode = HNSW_NO_NODE;
            }
            if (IN_GRAPH() && gnode == node) {
                if (hnsw_node_load(h, node, p, gv.ptr, gv.len) != 0) lp->broken = 1;
                gerr = store_cursor_next(gc, &gk, &gv);
            } else if (node < c->node_cap && c->node_live[node]) {
                coll_grow_u32(&lp->replay, &lp->cap_replay, lp->n_replay + 1);
                lp->replay[lp->n_replay++] = node;
            }
        }
    }
    if (IN_GRAPH()) lp->broken = 1; /* graph records past the last vector */
#undef IN_GRAPH
    if (verr && verr != ERR_NOTFOUND) err = verr;
    if (gerr && gerr != ERR_NOTFOUND) err = gerr;
done:
    store_cursor_close(vc);
    store_cursor_close(gc);
    if (txn && !lp->txn) store_read_end(txn);
    free(vec);
    lp->err = err;
    return NULL;
}

/* load_graph reads graph v of l->c back (load_part, on every core when it
 * is large and parallel is set: only while the directory is being opened,
 * as a thread beginning a read transaction while this one holds one could
 * otherwise wait behind a map growth that waits for this one). Nodes with a vector but no graph record are added to the
 * replay list (the insert was committed but its graph never saved). */
static int load_graph(Loaded *l, Store *store, StoreTxn *txn, int v, int parallel, int *broken)
{
    Collection *c = l->c;
    HnswIndex *h = c->idx[v].index;
    uint32_t k = coll_block_slots(c->config.vectors[v].size);
    size_t nt = parallel && c->node_high >= COLL_LOAD_PARALLEL_MIN ? coll_build_threads() : 1;
    uint32_t blocks = (c->node_high + k - 1) / k;
    if (blocks < nt) nt = 1;
    LoadPart part[COLL_BUILD_THREADS_MAX];
    pthread_t th[COLL_BUILD_THREADS_MAX];
    memset(part, 0, sizeof part);
    for (size_t i = 0; i < nt; i++) {
        part[i] = (LoadPart){ .c = c, .store = store, .v = v,
                              .b0 = (uint32_t)((uint64_t)blocks * i / nt),
                              .b1 = i + 1 == nt ? UINT32_MAX
                                                : (uint32_t)((uint64_t)blocks * (i + 1) / nt) };
    }
    part[0].txn = txn; /* this thread's transaction, for its own part */
    size_t started = 1;
    for (; started < nt; started++)
        if (pthread_create(&th[started], NULL, load_part, &part[started])) break;
    /* A part whose thread did not start is walked here. */
    load_part(&part[0]);
    for (size_t i = 1; i < nt; i++) {
        if (i < started) pthread_join(th[i], NULL);
        else {
            part[i].txn = txn;
            load_part(&part[i]);
        }
    }
    int err = 0;
    for (size_t i = 0; i < nt; i++) {
        if (!err) err = part[i].err;
        *broken |= part[i].broken;
        if (part[i].high > c->node_high) c->node_high = part[i].high;
        for (size_t j = 0; j < part[i].n_replay; j++) loaded_add_replay(l, part[i].replay[j]);
        free(part[i].replay);
    }
    if (err) return err;
    if (!*broken) {
        uint8_t key[STORE_KEY_MAX];
        size_t plen = store_key_index(key, c->cid, (uint16_t)v);
        Slice val;
        uint32_t entry = HNSW_NO_NODE, max_level = 0;
        if (store_get(txn, STORE_DB_GRAPH, key, plen, &val) == 0 &&
            val.len == COLLECTION_ENTRY_LEN) {
            entry = store_get_le32((const uint8_t *)val.ptr);
            max_level = store_get_le32((const uint8_t *)val.ptr + 4);
        }
        if (hnsw_restore(h, entry, (int)max_level) != 0) *broken = 1;
    }
    return 0;
}

/* load_collection builds one collection's memory state from LMDB, with
 * the nodes that need a graph replay, into *out (zeroed first). */
static int load_collection(Store *store, StoreTxn *txn, const char *name, Slice rec, int parallel,
                           Loaded *out)
{
    memset(out, 0, sizeof *out);
    uint32_t cid;
    CollectionConfig cfg;
    int64_t created;
    int err = coll_config_record_parse(name, rec, &cid, &cfg, &created);
    if (err) return err;
    Collection *c;
    if ((err = coll_new(name, cid, &cfg, created, &c))) return err;
    out->c = c;
    c->op_num = coll_ops_load(txn, cid);
    uint8_t key[STORE_KEY_MAX];
    size_t plen = store_key_cid(key, cid);
    StoreCursor *cur = NULL;
    Slice k, v;

    /* Points: the node table. */
    if ((err = store_cursor_open(txn, STORE_DB_POINTS, &cur))) goto fail;
    int e;
    for (e = store_cursor_seek(cur, key, plen, &k, &v); e == 0; e = store_cursor_next(cur, &k, &v)) {
        if (k.len < plen || memcmp(k.ptr, key, plen) != 0) break;
        PointId id;
        if (v.len < COLLECTION_REC_HEADER ||
            point_id_from_key((const uint8_t *)k.ptr + plen, k.len - plen, &id) != 0) {
            log_error("collection %s: malformed point record", name);
            err = ERR_FORMAT;
            goto fail;
        }
        uint32_t node = store_get_le32((const uint8_t *)v.ptr);
        if (node >= HNSW_MAX_NODES) {
            err = ERR_FORMAT;
            goto fail;
        }
        coll_node_table_reserve(c, node + 1);
        c->node_ids[node] = id;
        c->node_live[node] = 1;
        if (node >= c->node_high) c->node_high = node + 1;
        c->points_count++;
        c->payload_bytes += (int64_t)(v.len - COLLECTION_REC_HEADER);
    }
    store_cursor_close(cur);
    cur = NULL;
    if (e != ERR_NOTFOUND && e != 0) {
        err = e;
        goto fail;
    }
    coll_node_table_reserve(c, c->node_high + 1);

    /* Sparse vectors: their inverted indexes are memory only, rebuilt
     * from the committed records (no replay needed). */
    if ((err = coll_sparse_load(c, txn))) goto fail;
    /* Multivectors likewise: no graph, their node sets from their records. */
    if ((err = coll_multi_load(c, txn))) goto fail;

    /* Payload indexes: their definitions, and contents built from the points. */
    if ((err = coll_index_load(txn, c))) goto fail;

    /* Graphs (a multivector has none: its graph stays empty). */
    for (int i = 0; i < cfg.n_vectors; i++) {
        if (coll_is_multi(c, i)) continue;
        hnsw_reserve(c->idx[i].index, c->node_high ? c->node_high : 1);
        int broken = 0;
        if ((err = load_graph(out, store, txn, i, parallel, &broken))) goto fail;
        if (broken) {
            log_warn("collection %s: the saved graph of vector %d is inconsistent; "
                     "rebuilding it from the stored vectors", name, i);
            hnsw_clear(c->idx[i].index);
            c->idx[i].wipe = 1;
            out->rebuild |= 1 << i;
        }
    }
    coll_node_table_reserve(c, c->node_high + 1);

    /* Pending markers: nodes whose graph changes were not saved. */
    uint32_t owed = 0;
    uint8_t pkey[STORE_KEY_MAX];
    size_t pl = store_key_cid(pkey, cid);
    if ((err = store_cursor_open(txn, STORE_DB_PENDING, &cur))) goto fail;
    for (e = store_cursor_seek(cur, pkey, pl, &k, &v); e == 0; e = store_cursor_next(cur, &k, &v)) {
        if (k.len != 8 || memcmp(k.ptr, pkey, pl) != 0) break;
        uint32_t node = store_get_be32((const uint8_t *)k.ptr + 4);
        if (node == COLL_REBUILD_MARK) {
            if (v.len == 4) owed = store_get_le32((const uint8_t *)v.ptr);
            continue;
        }
        loaded_add_replay(out, node);
        coll_add_pending(c, node);
    }
    store_cursor_close(cur);
    cur = NULL;
    /* Graphs a background rebuild owed (collection_optimize.c): their
     * saved links follow the old parameters, so they are loaded bare,
     * searched exactly, until the rebuild that starts after the open. */
    owed &= (1u << cfg.n_vectors) - 1;
    if (owed) {
        c->opt.active = 1;
        c->opt.target = cfg;
        c->opt.mask = c->opt.unbare = owed;
        for (int i = 0; i < cfg.n_vectors; i++) {
            if (!(owed >> i & 1) || coll_is_multi(c, i)) continue;
            c->config.vectors[i].exact_only = 1;
            hnsw_clear(c->idx[i].index);
            hnsw_set_bare(c->idx[i].index, 1);
            c->idx[i].wipe = 1;
            out->rebuild |= 1 << i;
        }
        log_info("collection %s: a graph rebuild was owed; it starts again", name);
    }

    /* Free nodes, highest pushed first so the lowest is handed out first. */
    for (uint32_t n = c->node_high; n-- > 0;) {
        if (c->node_live[n]) continue;
        coll_grow_u32(&c->free_nodes, &c->free_cap, c->n_free + 1);
        c->free_nodes[c->n_free++] = n;
    }
    return 0;
fail:
    store_cursor_close(cur);
    free(out->replay);
    coll_free(c);
    memset(out, 0, sizeof *out);
    return err;
}

/* node_record reads a live node's vector mask from its points record. */
static int node_record(Collection *c, StoreTxn *txn, uint32_t node, uint32_t *mask)
{
    uint8_t idkey[POINT_ID_KEY_MAX], key[STORE_KEY_MAX];
    Slice v;
    size_t il = point_id_key(&c->node_ids[node], idkey);
    size_t kl = store_key_point(key, c->cid, idkey, il);
    int err = store_get(txn, STORE_DB_POINTS, key, kl, &v);
    if (err) return err;
    if (v.len < COLLECTION_REC_HEADER || store_get_le32((const uint8_t *)v.ptr) != node)
        return ERR_NOTFOUND;
    *mask = store_get_le32((const uint8_t *)v.ptr + 4);
    return 0;
}

/*
 * replay_graphs brings the graphs in line with the committed points for
 * the nodes in replay (pending markers, unsaved inserts) and, for graphs
 * being rebuilt (rebuild bit set), for every node. Then saves.
 */
static int replay_graphs(Db *db, Collection *c, const uint32_t *replay, size_t n_replay,
                         int rebuild)
{
    StoreTxn *txn;
    int err = store_read_begin(db->store, &txn);
    if (err) return err;
    size_t maxdim = 0;
    for (int i = 0; i < c->config.n_vectors; i++)
        if (c->config.vectors[i].size > maxdim) maxdim = c->config.vectors[i].size;
    float *vec = xmalloc(maxdim * sizeof *vec);
    size_t total = 0;
    for (int i = 0; i < c->config.n_vectors; i++) {
        if (coll_is_multi(c, i)) continue; /* no graph to replay */
        int all = rebuild >> i & 1;
        size_t n = all ? c->node_high : n_replay;
        for (size_t j = 0; j < n; j++) {
            uint32_t node = all ? (uint32_t)j : replay[j];
            uint32_t mask = 0;
            int live = node < c->node_cap && c->node_live[node] &&
                       node_record(c, txn, node, &mask) == 0 && (mask >> i & 1);
            if (all && !live) continue;
            const float *p = NULL;
            if (live && coll_vector_get(c, txn, i, node, vec, &p) != 0) {
                log_error("collection %s: node %u lacks its vector %d", c->name, node, i);
                continue;
            }
            coll_apply_vector(c, i, node, p, !all);
            total++;
        }
    }
    free(vec);
    store_read_end(txn);
    if (total || c->n_pending)
        log_info("collection %s: replayed %zu graph changes left unsaved", c->name, total);
    return coll_graph_save(db, c);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* sort_unique sorts a node list and drops repeats; returns the new length. */
static size_t sort_unique(uint32_t *a, size_t n)
{
    if (n < 2) return n;
    qsort(a, n, sizeof *a, cmp_u32);
    size_t m = 1;
    for (size_t i = 1; i < n; i++)
        if (a[i] != a[m - 1]) a[m++] = a[i];
    return m;
}

static int db_load_all(Db *db)
{
    StoreTxn *txn;
    int err = store_read_begin(db->store, &txn);
    if (err) return err;
    StoreCursor *cur;
    if ((err = store_cursor_open(txn, STORE_DB_COLLECTIONS, &cur))) {
        store_read_end(txn);
        return err;
    }
    Loaded *loaded = NULL;
    size_t n_loaded = 0;
    Slice k, v;
    int e;
    for (e = store_cursor_seek(cur, NULL, 0, &k, &v); e == 0; e = store_cursor_next(cur, &k, &v)) {
        char *name = xstrndup(k.ptr, k.len);
        if (coll_alias_record_is(v)) {
            char *target = xstrndup(v.ptr + 5, v.len - 5);
            coll_alias_add(db, name, target);
            free(target);
            free(name);
            continue;
        }
        Loaded l;
        err = load_collection(db->store, txn, name, v, 1, &l);
        free(name);
        if (err) break;
        loaded = xrealloc(loaded, (n_loaded + 1) * sizeof *loaded);
        loaded[n_loaded++] = l;
    }
    if (!err && e != ERR_NOTFOUND) err = e;
    store_cursor_close(cur);
    store_read_end(txn);
    for (size_t i = 0; i < n_loaded; i++) {
        Loaded *l = &loaded[i];
        l->n_replay = sort_unique(l->replay, l->n_replay);
        if (!err && (l->n_replay || l->rebuild || l->c->n_pending))
            err = replay_graphs(db, l->c, l->replay, l->n_replay, l->rebuild);
        free(l->replay);
        if (err) {
            coll_free(l->c);
            continue;
        }
        if (db->n_colls == db->cap_colls) {
            db->cap_colls = db->cap_colls ? db->cap_colls * 2 : 8;
            db->colls = xrealloc(db->colls, db->cap_colls * sizeof *db->colls);
        }
        db->colls[db->n_colls++] = l->c;
    }
    free(loaded);
    return err;
}

int coll_load(Db *db, const char *name, Slice rec, Collection **out)
{
    StoreTxn *txn;
    int err = store_read_begin(db->store, &txn);
    if (err) return err;
    Loaded l;
    err = load_collection(db->store, txn, name, rec, 0, &l);
    store_read_end(txn);
    if (err) return err;
    l.n_replay = sort_unique(l.replay, l.n_replay);
    if (l.n_replay || l.rebuild || l.c->n_pending)
        err = replay_graphs(db, l.c, l.replay, l.n_replay, l.rebuild);
    free(l.replay);
    if (err) {
        coll_free(l.c);
        return err;
    }
    *out = l.c;
    return 0;
}

int collection_db_open(const char *dir, const DbOptions *opt, Db **out)
{
    StoreOptions so = { .map_size = opt ? opt->map_size : 0 };
    Db *db = xcalloc(1, sizeof *db);
    int err = store_open(dir, &so, &db->store);
    if (err) {
        free(db);
        return err;
    }
    rwlock_init_writer_pref(&db->lock);
    pthread_mutex_init(&db->write, NULL);
    db->full_scan_threshold = opt && opt->full_scan_threshold ? opt->full_scan_threshold
                                                               : COLLECTION_FULL_SCAN_THRESHOLD;
    db->scan_fixed = opt && opt->full_scan_threshold;
    db->full_scan_bytes = opt && opt->full_scan_bytes ? opt->full_scan_bytes
                                                      : COLLECTION_FULL_SCAN_BYTES;
    db->rebuild_async_min = opt && opt->rebuild_async_min ? opt->rebuild_async_min
                                                          : COLLECTION_REBUILD_ASYNC_MIN;
    db->optimize_hold = opt ? opt->optimize_hold : NULL;
    db->block_m = opt ? opt->block_m : NULL;
    db->block_index = opt ? opt->block_index : NULL;
    double t0 = now_seconds();
    /* Then the data of collections a recover replaced (or left half
     * staged when the process died) goes. */
    /* A directory of an older format is migrated in place first. */
    CollMigrate mig = { .chunk = opt ? opt->migrate_chunk : 0,
                        .stop_after = opt ? opt->migrate_stop_after : 0 };
    if ((err = coll_migrate(db, dir, &mig)) || (err = db_load_all(db)) ||
        (err = coll_snapshot_cleanup(db))) {
        collection_db_close(db);
        return err;
    }
    /* A quantization a crash left uncalibrated (collection_quant.c). */
    for (size_t i = 0; i < db->n_colls; i++) coll_quant_sync(db, db->colls[i]);
    /* Rebuilds the markers owe start once the open is done with the
     * collections (collection_optimize.c). */
    for (size_t i = 0; i < db->n_colls; i++) coll_optimize_resume(db, db->colls[i]);
    /* Payload blocks are kept in memory only: built again in the
     * background (collection_blocks.c). */
    for (size_t i = 0; i < db->n_colls; i++) coll_blocks_wake(db, db->colls[i]);
    uint64_t points = 0;
    for (size_t i = 0; i < db->n_colls; i++) points += db->colls[i]->points_count;
    log_info("store: %s: %zu collections, %llu points loaded in %.3f s", dir, db->n_colls,
             (unsigned long long)points, now_seconds() - t0);
    /* Where the file's pages go (docs/storage.md: dense vectors take about
     * 1.03x their floats; graph and payloads apart). */
    StoreDbStats dense, graph, pts;
    if (!store_db_stats(db->store, STORE_DB_DENSE, &dense) &&
        !store_db_stats(db->store, STORE_DB_GRAPH, &graph) &&
        !store_db_stats(db->store, STORE_DB_POINTS, &pts))
        log_info("store: %s: pages in use: dense vectors %.1f MB, graph %.1f MB, points and "
                 "payloads %.1f MB", dir, (double)dense.bytes / 1e6, (double)graph.bytes / 1e6,
                 (double)pts.bytes / 1e6);
    *out = db;
    return 0;
}

void collection_db_close(Db *db)
{
    if (!db) return;
    /* Background rebuilds stop first (the next open resumes them): one
     * about to swap its graphs in waits for the write lock. */
    for (size_t i = 0; i < db->n_colls; i++) {
        coll_optimize_stop(db->colls[i]);
        coll_blocks_stop(db->colls[i]);
    }
    collection_db_flush(db);
    for (size_t i = 0; i < db->n_colls; i++) coll_free(db->colls[i]);
    coll_alias_free_all(db);
    free(db->colls);
    store_close(db->store);
    pthread_rwlock_destroy(&db->lock);
    pthread_mutex_destroy(&db->write);
    free(db);
}

int collection_db_snapshot(Db *db, const char *path)
{
    return store_snapshot(db->store, path);
}

unsigned collection_db_map_grows(Db *db)
{
    StoreStats st;
    store_stats(db->store, &st);
    return st.grows;
}

/* ---- finding collections ---- */

Collection *coll_db_find_collection(Db *db, const char *name)
{
    if (!name) return NULL;
    for (size_t i = 0; i < db->n_colls; i++)
        if (!strcmp(db->colls[i]->name, name)) return db->colls[i];
    return NULL;
}

Collection *coll_db_find(Db *db, const char *name)
{
    /* An alias first, as Qdrant resolves names (the two never collide). */
    const char *target = name ? coll_alias_target(db, name) : NULL;
    return coll_db_find_collection(db, target ? target : name);
}

/* coll_read_begin takes the shared locks of a read operation on name. */
int coll_read_begin(Db *db, const char *name, Collection **out, char *err, size_t errlen)
{
    pthread_rwlock_rdlock(&db->lock);
    Collection *c = coll_db_find(db, name);
    if (!c) {
        pthread_rwlock_unlock(&db->lock);
        return err_set(err, errlen, ERR_NOTFOUND, "Collection `%s` doesn't exist!",
                       name ? name : "");
    }
    pthread_rwlock_rdlock(&c->lock);
    *out = c;
    return 0;
}

void coll_read_end(Db *db, Collection *c)
{
    pthread_rwlock_unlock(&c->lock);
    pthread_rwlock_unlock(&db->lock);
}

/* coll_write_begin serialises writers and finds the collection; the list lock
 * is held shared so the collection cannot vanish. */
int coll_write_begin(Db *db, const char *name, Collection **out, char *err, size_t errlen)
{
    pthread_mutex_lock(&db->write);
    pthread_rwlock_rdlock(&db->lock);
    Collection *c = coll_db_find(db, name);
    if (!c) {
        pthread_rwlock_unlock(&db->lock);
        pthread_mutex_unlock(&db->write);
        return err_set(err, errlen, ERR_NOTFOUND, "Collection `%s` doesn't exist!",
                       name ? name : "");
    }
    *out = c;
    return 0;
}

void coll_write_end(Db *db)
{
    pthread_rwlock_unlock(&db->lock);
    pthread_mutex_unlock(&db->write);
}

/* graph_read_begin: the collection, read-locked (coll_read_end releases
 * it), and the graph of its vector `using`, for the test hooks below. */
static int graph_read_begin(Db *db, const char *name, const char *using, Collection **c,
                            HnswIndex **h)
{
    int err = coll_read_begin(db, name, c, NULL, 0);
    if (err) return err;
    int v = coll_vector_index(*c, using, NULL, 0);
    if (v < 0) {
        coll_read_end(db, *c);
        return v;
    }
    *h = (*c)->idx[v].index;
    return 0;
}

int collection_graph_digest(Db *db, const char *name, const char *using, uint64_t *out)
{
    Collection *c;
    HnswIndex *h;
    int err = graph_read_begin(db, name, using, &c, &h);
    if (err) return err;
    size_t dim = (size_t)hnsw_dim(h), cap = hnsw_node_blob_max(h);
    uint8_t *blob = xmalloc(cap);
    float *vec = xmalloc(dim * sizeof *vec);
    uint64_t hash = 0xcbf29ce484222325ULL; /* FNV-1a */
#define DIGEST(p, n)                                                                  \
    for (size_t b_ = 0; b_ < (n); b_++) hash = (hash ^ ((const uint8_t *)(p))[b_]) * 0x100000001b3ULL
    for (uint32_t node = 0; node < c->node_high; node++) {
        size_t len;
        if (hnsw_node_encode(h, node, blob, cap, &len) != 0) continue;
        DIGEST(&node, sizeof node);
        DIGEST(blob, len);
        if (hnsw_get_vector(h, node, vec) == 0) DIGEST(vec, dim * sizeof *vec);
    }
    uint32_t entry = HNSW_NO_NODE;
    int max_level = -1;
    hnsw_entry_get(h, &entry, &max_level);
    DIGEST(&entry, sizeof entry);
    DIGEST(&max_level, sizeof max_level);
#undef DIGEST
    free(blob);
    free(vec);
    coll_read_end(db, c);
    *out = hash;
    return 0;
}

int collection_graph_links(Db *db, const char *name, const char *using, CollectionGraphLinks *out)
{
    Collection *c;
    HnswIndex *h;
    int err = graph_read_begin(db, name, using, &c, &h);
    if (err) return err;
    size_t cap = (size_t)hnsw_links_max(h, HNSW_MAX_LEVEL);
    uint32_t *links = xmalloc(cap * sizeof *links);
    int counts[HNSW_MAX_LEVEL + 1], level, deleted;
    memset(out, 0, sizeof *out);
    out->max_level = -1;
    for (uint32_t node = 0; node < c->node_high; node++) {
        if (hnsw_node_get(h, node, &level, &deleted, links, cap, counts) != 0) continue;
        uint64_t n = 0;
        for (int l = 0; l <= level; l++) n += (uint64_t)counts[l];
        out->nodes++;
        out->linked += n > 0;
        out->links += n;
    }
    uint32_t entry;
    if (hnsw_entry_get(h, &entry, &level) == 0) out->max_level = level;
    free(links);
    coll_read_end(db, c);
    return 0;
}
