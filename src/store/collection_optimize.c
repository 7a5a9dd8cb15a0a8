/*
 * collection_optimize.c - rebuilding a collection's graphs for new HNSW
 * parameters (a PATCH of m or ef_construct, or exact_only turned off),
 * and doing it in the background for a large collection, as Qdrant's
 * optimizer does.
 *
 * Why in the background. Building the graph of a million points takes
 * minutes on two cores; Qdrant answers the PATCH at once and reports the
 * collection yellow while its optimizer works, and clients are written
 * for that (the Python client's default timeout is 5 seconds). Below
 * COLLECTION_REBUILD_ASYNC_MIN points the build is short and the request
 * does it itself, so a small collection is green again when the PATCH
 * returns.
 *
 * How. coll_optimize_begin commits the new configuration together with a
 * marker (COLL_REBUILD_MARK in STORE_DB_PENDING: which graphs are owed a
 * rebuild) and starts a thread. In memory the collection keeps serving
 * from the graphs it has, with their exact_only flags (a bare graph stays
 * searched exactly). The thread:
 *   1. builds the new graphs from the live ones' vectors (or the stored
 *      float32 ones for a new int8 interval), on every core for a first
 *      build from bare nodes, while writers go on: each write notes the
 *      nodes it changed (coll_optimize_note);
 *   2. brings those nodes into the new graphs from the live ones, first
 *      without the write lock (a long build may have seen many writes),
 *      then, under it, the few left, so writers wait only for those;
 *   3. commits every record of the new graphs with the markers gone and
 *      swaps them in (coll_graphs_install, as a small collection's PATCH
 *      does), then the quantization the setting asks for.
 * A crash or a close before 3 leaves the marker: the next open loads those
 * graphs bare (searched exactly: their saved links follow the old
 * parameters) and starts the rebuild again (coll_optimize_resume). A new
 * PATCH meanwhile cancels the thread and starts one for both changes.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/err.h"
#include "base/log.h"
#include "base/util.h"
#include "store/collection_internal.h"
#include "store/store.h"

/* Catch-up passes run without the write lock while more than this many
 * nodes were written meanwhile (at most COLL_CATCHUP_PASSES of them);
 * the rest is brought in under the lock. */
#define COLL_CATCHUP_UNLOCKED 256
#define COLL_CATCHUP_PASSES 4
/* The thread waits for the write lock in slices of this many milliseconds,
 * checking for a cancel in between (the canceller may hold the lock). */
#define COLL_OPTIMIZE_LOCK_SLICE_MS 20

/* ---- building and installing new graphs ---- */

int coll_graphs_build(Db *db, Collection *c, const CollRebuild *r, HnswIndex **graphs)
{
    StoreTxn *rtxn = NULL;
    int e = 0;
    for (int v = 0; !e && v < r->cfg->n_vectors; v++) {
        if (!(r->rebuild >> v & 1)) continue;
        /* A quantized graph whose interval stays is rebuilt from its own
         * codes, as a float32 one from its vectors: a decoded code encodes
         * to itself again (test_quant), so the new graph is the one the
         * store's float32 originals would give, and the workers need no
         * LMDB transaction of their own. A new interval needs the
         * originals (coll_graph_relink, one thread). */
        if (!coll_graph_quantized(c, v) || coll_graph_same_codes(c, r->cfg, v)) {
            /* The first build of a graph that was bare (Qdrant's PATCH of m
             * from 0, which usually changes the engine's m too) is a bulk
             * load: on every core, as a write's new points go in. Any
             * other rebuild repeats a build node for node. */
            e = coll_graph_rebuild(c, r, v, &graphs[v]);
            continue;
        }
        if (!rtxn && (e = store_read_begin(db->store, &rtxn))) break;
        e = coll_graph_relink(c, rtxn, r, v, &graphs[v]);
    }
    if (rtxn) store_read_end(rtxn);
    if (e)
        for (int v = 0; v < COLLECTION_MAX_VECTORS; v++) {
            hnsw_free(graphs[v]);
            graphs[v] = NULL;
        }
    return e;
}

typedef struct {
    Collection *c;
    const CollectionConfig *cfg;
    HnswIndex **graphs; /* new graphs to save whole (NULL entries: kept), or NULL */
    uint32_t mark;      /* with graphs NULL: the rebuild marker's mask to store */
} InstallCtx;

static int install_fn(StoreTxn *txn, void *vctx)
{
    InstallCtx *x = vctx;
    Collection *c = x->c;
    int err = coll_config_put(txn, c, x->cfg);
    uint8_t key[STORE_KEY_MAX];
    if (!err && x->mark) {
        uint8_t val[4];
        store_put_le32(val, x->mark);
        size_t kl = store_key_pending(key, c->cid, COLL_REBUILD_MARK);
        err = store_put(txn, STORE_DB_PENDING, key, kl, val, sizeof val);
    }
    if (err || !x->graphs) return err;
    /* The graphs kept have their unsaved changes saved first, so that the
     * pending markers can all go below. */
    err = coll_graph_save_txn(txn, c);
    for (int v = 0; v < c->config.n_vectors && !err; v++)
        if (x->graphs[v]) err = coll_graph_put_all(txn, c, v, x->graphs[v]);
    /* Every saved record now matches memory: nothing is left to replay,
     * and no rebuild is owed. */
    size_t pl = store_key_cid(key, c->cid);
    if (!err) err = store_del_prefix(txn, STORE_DB_PENDING, key, pl, NULL);
    return err;
}

/* set_flags makes c's live configuration cfg, but for the graphs in keep,
 * which keep their exact_only flag and quantization (what they hold: a
 * search must not read int8 codes as float32, nor a rebuild copy them as
 * originals); then each graph stores its later inserts bare, or linked,
 * as its live flag says (only where that changes: hnsw_set_bare waits
 * for the graph's searches). */
static void set_flags(Collection *c, const CollectionConfig *cfg, uint32_t keep)
{
    CollectionConfig live = *cfg;
    for (int v = 0; v < live.n_vectors; v++)
        if (keep >> v & 1) {
            live.vectors[v].exact_only = c->config.vectors[v].exact_only;
            live.vectors[v].quant = c->config.vectors[v].quant;
        }
    pthread_rwlock_wrlock(&c->lock);
    c->config = live;
    pthread_rwlock_unlock(&c->lock);
    for (int v = 0; v < live.n_vectors; v++) {
        HnswParams hp;
        hnsw_params_get(c->idx[v].index, &hp);
        if (hp.bare != (live.vectors[v].exact_only != 0))
            hnsw_set_bare(c->idx[v].index, live.vectors[v].exact_only);
    }
}

int coll_graphs_install(Db *db, Collection *c, const CollectionConfig *cfg, uint32_t rebuild,
                        HnswIndex **graphs)
{
    InstallCtx x = { c, cfg, rebuild ? graphs : NULL, 0 };
    int e = store_write(db->store, install_fn, &x);
    if (e) {
        for (int v = 0; v < COLLECTION_MAX_VECTORS; v++) hnsw_free(graphs[v]);
        return e;
    }
    if (rebuild) {
        coll_graph_saved(c);
        coll_graph_replace(c, graphs);
    }
    set_flags(c, cfg, 0);
    /* No rebuild is owed now; the quantization the setting asks for
     * (held back while one was) is done next, in its own transaction (on
     * failure the graphs stay as they are and the next write retries). */
    coll_optimize_owe(c, 0);
    coll_quant_sync(db, c);
    coll_blocks_wake(db, c); /* blocks follow the new graphs' flags */
    return 0;
}

/* ---- the background rebuild ---- */

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/*
 * catch_up brings nodes[0..n) of every graph being rebuilt in line with
 * the live graph: inserted or updated with its vector there (the stored
 * float32 original for a quantized live graph, which may have another
 * interval than the new one), deleted where the live graph has no such
 * node. Run without the write lock it may read a node mid-change; that
 * node was noted again and is settled by a later pass.
 */
static int catch_up(Db *db, Collection *c, HnswIndex **graphs, const uint32_t *nodes, size_t n)
{
    const CollectionConfig *cfg = &c->opt.target;
    size_t maxdim = 1;
    for (int v = 0; v < cfg->n_vectors; v++) maxdim = MAX(maxdim, (size_t)cfg->vectors[v].size);
    float *buf = xmalloc(maxdim * sizeof *buf);
    StoreTxn *txn = NULL;
    int err = 0;
    for (int v = 0; v < cfg->n_vectors && !err; v++) {
        if (!graphs[v]) continue;
        HnswIndex *old = c->idx[v].index, *h = graphs[v];
        int quant = coll_graph_quantized(c, v);
        if (quant && !txn && (err = store_read_begin(db->store, &txn))) break;
        for (size_t i = 0; i < n && !err; i++) {
            uint32_t node = nodes[i];
            if (!hnsw_contains(old, node)) {
                if (hnsw_contains(h, node)) err = hnsw_delete(h, node);
                continue;
            }
            const float *vec = buf;
            err = quant ? coll_vector_get(c, txn, v, node, buf, &vec) : hnsw_get_vector(old, node, buf);
            if (err == ERR_NOTFOUND) {
                err = 0; /* deleted meanwhile: noted again */
                continue;
            }
            if (!err) err = hnsw_contains(h, node) ? hnsw_update(h, node, vec) : hnsw_insert(h, node, vec);
        }
    }
    if (txn) store_read_end(txn);
    free(buf);
    return err;
}

/* take_changed moves the nodes noted so far out of c (sorted, each once).
 * Writer only. */
static uint32_t *take_changed(Collection *c, size_t *n)
{
    uint32_t *a = c->opt.changed;
    size_t k = c->opt.n_changed;
    c->opt.changed = NULL;
    c->opt.n_changed = c->opt.changed_cap = 0;
    if (k > 1) {
        qsort(a, k, sizeof *a, cmp_u32);
        size_t m = 1;
        for (size_t i = 1; i < k; i++)
            if (a[i] != a[m - 1]) a[m++] = a[i];
        k = m;
    }
    *n = k;
    return a;
}

static int cancelled(const Collection *c)
{
    return __atomic_load_n(&c->opt.cancel, __ATOMIC_ACQUIRE);
}

/* lock_writer takes db->write unless a cancel comes first (the canceller
 * may be holding it while it joins this thread). 1: locked. */
static int lock_writer(Db *db, Collection *c)
{
    for (;;) {
        if (cancelled(c)) return 0;
        struct timespec t;
        clock_gettime(CLOCK_REALTIME, &t);
        t.tv_nsec += COLL_OPTIMIZE_LOCK_SLICE_MS * 1000000L;
        if (t.tv_nsec >= 1000000000L) {
            t.tv_sec++;
            t.tv_nsec -= 1000000000L;
        }
        if (pthread_mutex_timedlock(&db->write, &t) == 0) {
            if (!cancelled(c)) return 1;
            pthread_mutex_unlock(&db->write);
            return 0;
        }
    }
}

typedef struct {
    Db *db;
    Collection *c;
} OptimizeArg;

/* fail records why the rebuild failed; it stays owed (the marker too). */
static void fail(Collection *c, int err, const char *what)
{
    /* Writers stop noting nodes: a retry builds from the live graphs. */
    __atomic_store_n(&c->opt.noting, 0, __ATOMIC_RELEASE);
    pthread_rwlock_wrlock(&c->lock);
    snprintf(c->opt.error, sizeof c->opt.error, "%s: %s", what, err_str(err));
    pthread_rwlock_unlock(&c->lock);
    log_error("collection %s: the background graph rebuild failed (%s: %s); a PATCH or a "
              "restart retries it", c->name, what, err_str(err));
}

static void *optimize_main(void *varg)
{
    OptimizeArg a = *(OptimizeArg *)varg;
    free(varg);
    Db *db = a.db;
    Collection *c = a.c;
    double t0 = now_seconds();
    pthread_rwlock_rdlock(&c->lock);
    uint32_t high = c->node_high;
    uint64_t live = c->points_count;
    pthread_rwlock_unlock(&c->lock);
    /* Progress: the live nodes of each graph rebuilt (about what the
     * build inserts; those deleted meanwhile are skipped). */
    uint32_t total = (uint32_t)MIN(live * (uint64_t)__builtin_popcount(c->opt.mask), UINT32_MAX);
    __atomic_store_n(&c->opt.total, total, __ATOMIC_RELAXED);
    CollRebuild r = { &c->opt.target, c->opt.mask, c->opt.unbare, high, &c->opt.cancel,
                      &c->opt.done };
    HnswIndex *graphs[COLLECTION_MAX_VECTORS] = { 0 };
    int err = coll_graphs_build(db, c, &r, graphs);
    double built = now_seconds() - t0;
    size_t caught = 0;
    /* A test holds the rest back to write meanwhile (1 becomes 2: built). */
    while (!err && db->optimize_hold && __atomic_load_n(db->optimize_hold, __ATOMIC_ACQUIRE) &&
           !cancelled(c)) {
        int one = 1;
        __atomic_compare_exchange_n(db->optimize_hold, &one, 2, 0, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE);
        nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
    }
    /* Catch up without the lock while writers keep adding much. */
    for (int pass = 0; !err && pass < COLL_CATCHUP_PASSES; pass++) {
        if (!lock_writer(db, c)) {
            err = ERR_BUSY;
            break;
        }
        size_t n = c->opt.n_changed;
        uint32_t *nodes = n > COLL_CATCHUP_UNLOCKED ? take_changed(c, &n) : NULL;
        pthread_mutex_unlock(&db->write);
        if (!nodes) break;
        err = catch_up(db, c, graphs, nodes, n);
        caught += n;
        free(nodes);
    }
    if (!err && !lock_writer(db, c)) err = ERR_BUSY;
    if (err == ERR_BUSY) {
        /* Cancelled (by a close, a drop or a new PATCH): still owed. */
        for (int v = 0; v < COLLECTION_MAX_VECTORS; v++) hnsw_free(graphs[v]);
        return NULL;
    }
    if (err) {
        for (int v = 0; v < COLLECTION_MAX_VECTORS; v++) hnsw_free(graphs[v]);
        fail(c, err, "building the graphs");
        return NULL;
    }
    /* The write lock is held from here: the last writes come in, and the
     * graphs go in. */
    size_t n;
    uint32_t *nodes = take_changed(c, &n);
    err = catch_up(db, c, graphs, nodes, n);
    free(nodes);
    caught += n;
    uint32_t mask = c->opt.mask;
    if (!err) {
        err = coll_graphs_install(db, c, &c->opt.target, mask, graphs);
    } else {
        for (int v = 0; v < COLLECTION_MAX_VECTORS; v++) hnsw_free(graphs[v]);
    }
    if (err) {
        fail(c, err, "installing the graphs");
    } else {
        pthread_rwlock_wrlock(&c->lock);
        c->opt.error[0] = '\0';
        pthread_rwlock_unlock(&c->lock);
        log_info("collection %s: %d graph%s rebuilt in the background in %.1f s (build %.1f s; "
                 "%zu nodes written meanwhile brought in)",
                 c->name, __builtin_popcount(mask), __builtin_popcount(mask) == 1 ? "" : "s",
                 now_seconds() - t0, built, caught);
    }
    pthread_mutex_unlock(&db->write);
    return NULL;
}

/* start runs the thread for c->opt; on failure the rebuild stays owed. */
static void start(Db *db, Collection *c)
{
    OptimizeArg *a = xmalloc(sizeof *a);
    a->db = db;
    a->c = c;
    c->opt.cancel = 0;
    /* The thread reads the live graphs from here on: only what is written
     * after now needs bringing in. */
    c->opt.n_changed = 0;
    __atomic_store_n(&c->opt.noting, 1, __ATOMIC_RELEASE);
    __atomic_store_n(&c->opt.done, 0, __ATOMIC_RELAXED);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    pthread_rwlock_wrlock(&c->lock); /* collection_info reads it */
    c->opt.started_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    pthread_rwlock_unlock(&c->lock);
    int e = pthread_create(&c->opt.thread, NULL, optimize_main, a);
    if (e) {
        free(a);
        fail(c, ERR_NOMEM, "starting the rebuild thread");
        return;
    }
    c->opt.running = 1;
    log_info("collection %s: rebuilding %d graph%s in the background", c->name,
             __builtin_popcount(c->opt.mask), __builtin_popcount(c->opt.mask) == 1 ? "" : "s");
}

int coll_optimize_begin(Db *db, Collection *c, const CollectionConfig *cfg, uint32_t rebuild,
                        uint32_t unbare)
{
    InstallCtx x = { c, cfg, NULL, rebuild };
    int e = store_write(db->store, install_fn, &x);
    if (e) return e;
    c->opt.mask = rebuild;
    c->opt.unbare = unbare;
    c->opt.n_changed = 0;
    pthread_rwlock_wrlock(&c->lock); /* collection_info reads these */
    c->opt.active = 1;
    c->opt.target = *cfg;
    c->opt.error[0] = '\0';
    pthread_rwlock_unlock(&c->lock);
    /* The graphs being rebuilt keep their flags until they are swapped. */
    set_flags(c, cfg, rebuild);
    start(db, c);
    return 0;
}

int coll_optimize_retarget(Db *db, Collection *c, const CollectionConfig *cfg)
{
    InstallCtx x = { c, cfg, NULL, 0 }; /* the config record alone */
    int e = store_write(db->store, install_fn, &x);
    if (e) return e;
    /* Only what differs is copied: the thread reads the rest of target
     * while it builds. */
    pthread_rwlock_wrlock(&c->lock);
    memcpy(c->opt.target.options, cfg->options, sizeof cfg->options);
    memcpy(c->config.options, cfg->options, sizeof cfg->options);
    c->opt.target.n_sparse = c->config.n_sparse = cfg->n_sparse;
    memcpy(c->opt.target.sparse, cfg->sparse, sizeof cfg->sparse);
    memcpy(c->config.sparse, cfg->sparse, sizeof cfg->sparse);
    pthread_rwlock_unlock(&c->lock);
    return 0;
}

void coll_optimize_resume(Db *db, Collection *c)
{
    if (c->opt.active && !c->opt.running) start(db, c);
}

void coll_optimize_stop(Collection *c)
{
    if (!c->opt.running) return;
    __atomic_store_n(&c->opt.cancel, 1, __ATOMIC_RELEASE);
    pthread_join(c->opt.thread, NULL);
    c->opt.running = 0;
    c->opt.cancel = 0;
}
