/*
 * collection_quant.c - quantized graphs (Qdrant's scalar int8
 * quantization): calibrating the interval from the stored float32
 * vectors, converting a graph between float32 and int8 blocks, and
 * keeping every graph in line with its configured quantization.
 *
 * Design notes:
 * - A quantized graph keeps only int8 codes (index/quant.h); the float32
 *   originals stay in the store, memory-mapped, read through
 *   coll_vector_get when a search rescores or scans exactly. So the
 *   resident memory of a quantized collection is codes + links + payload
 *   indexes.
 * - The interval is calibrated once the graph holds
 *   COLLECTION_QUANT_MIN_POINTS points (before, the graph keeps float32
 *   vectors: it is small, and small graphs are searched exactly), and again
 *   each time the graph has grown COLLECTION_QUANT_REGROW-fold since, up to
 *   COLLECTION_QUANT_MAX_STAGE calibrations (the stage is persisted), from at
 *   most QUANT_SAMPLE_SIZE stored vectors picked at a fixed stride over
 *   the nodes (Qdrant draws them at random; a stride keeps the result
 *   repeatable). It is persisted in the config record, so a reopen encodes
 *   the same codes; a PATCH that changes the quantization recalibrates on
 *   everything stored then.
 * - Converting keeps the links: node records are copied one by one with
 *   the new representation (hnsw_node_set), which takes seconds where a
 *   rebuild would take minutes, and is what Qdrant does too (its graph is
 *   built on the originals, quantization is a separate storage).
 * - Codes are never persisted: loading a graph encodes the stored float32
 *   vectors with the persisted interval.
 */
#include "store/collection.h"

#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "base/util.h"
#include "index/quant.h"
#include "store/collection_internal.h"
#include "store/store.h"

void coll_index_params(const CollectionConfig *cfg, int v, HnswParams *p)
{
    hnsw_params_default(p);
    p->m = cfg->m;
    p->ef_construction = cfg->ef_construct;
    p->seed = COLLECTION_HNSW_SEED;
    /* A vector searched exactly only keeps its nodes bare: no graph is
     * built until the flag clears (collection_update rebuilds it then). */
    p->bare = cfg->vectors[v].exact_only;
    const CollectionQuantization *q = &cfg->vectors[v].quant;
    if (q->type == COLLECTION_QUANT_INT8 && q->calibrated) {
        p->quant = 1;
        p->quant_lo = q->lo;
        p->quant_hi = q->hi;
    }
}

/* quant_stage is the calibration stage a graph of n points earns: 0 below
 * COLLECTION_QUANT_MIN_POINTS, then one more for each REGROW-fold. */
static int quant_stage(size_t n)
{
    int k = 0;
    for (size_t t = COLLECTION_QUANT_MIN_POINTS; n >= t && k < COLLECTION_QUANT_MAX_STAGE;
         t *= COLLECTION_QUANT_REGROW)
        k++;
    return k;
}

/* calibrate computes graph v's interval from a stride sample of its
 * stored vectors. */
static int calibrate(Collection *c, StoreTxn *txn, int v, float quantile, float *lo, float *hi)
{
    HnswIndex *h = c->idx[v].index;
    size_t dim = c->config.vectors[v].size, live = hnsw_count(h);
    size_t stride = live > QUANT_SAMPLE_SIZE ? (live + QUANT_SAMPLE_SIZE - 1) / QUANT_SAMPLE_SIZE : 1;
    size_t cap = MIN(live, (size_t)QUANT_SAMPLE_SIZE);
    if (!cap) return ERR_NOTFOUND;
    float *sample = xmalloc(cap * dim * sizeof *sample), *buf = xmalloc(dim * sizeof *buf);
    size_t n = 0, seen = 0;
    int err = 0;
    for (uint32_t node = 0; node < c->node_high && n < cap && !err; node++) {
        if (!hnsw_contains(h, node) || seen++ % stride) continue;
        const float *vec;
        err = coll_vector_get(c, txn, v, node, buf, &vec);
        if (err == ERR_NOTFOUND) {
            err = 0;
            continue;
        }
        if (!err) memcpy(sample + n++ * dim, vec, dim * sizeof *vec);
    }
    if (!err) err = n ? quant_calibrate(sample, n, (int)dim, quantile, lo, hi) : ERR_NOTFOUND;
    free(sample);
    free(buf);
    return err;
}

/* convert makes graph v anew with r->cfg's representation, from the
 * nodes below r->high: every node copied with its links (relink = 0, the
 * writer's scratch used), or inserted afresh (relink = 1, for new HNSW
 * parameters; no writer state touched, so a background rebuild may run
 * it), with the float32 vectors from the store. */
static int convert(Collection *c, StoreTxn *txn, const CollRebuild *r, int v, int relink,
                   HnswIndex **out)
{
    HnswIndex *old = c->idx[v].index, *h;
    HnswParams p;
    coll_index_params(r->cfg, v, &p);
    size_t dim = r->cfg->vectors[v].size;
    int err = hnsw_create((int)dim, hnsw_metric(old), &p, &h);
    if (err) return err;
    hnsw_reserve(h, r->high ? r->high : 1);
    float *buf = xmalloc(dim * sizeof *buf), *approx = xmalloc(dim * sizeof *approx);
    for (uint32_t node = 0; node < r->high && !err; node++) {
        int level = 0, deleted = 0;
        if (r->cancel && __atomic_load_n(r->cancel, __ATOMIC_RELAXED)) {
            err = ERR_BUSY;
            break;
        }
        if (relink) {
            if (!hnsw_contains(old, node)) continue;
        } else {
            err = hnsw_node_get(old, node, &level, &deleted, c->links, c->links_cap, c->counts);
            if (err == ERR_NOTFOUND) {
                err = 0;
                continue;
            }
            if (err) break;
        }
        const float *vec;
        err = coll_vector_get(c, txn, v, node, buf, &vec);
        /* A node written after txn began: the catch-up brings it in. */
        if (err == ERR_NOTFOUND && relink) {
            err = 0;
            continue;
        }
        if (err == ERR_NOTFOUND && !relink && deleted) {
            /* A deleted node without its vector only routes: what the old
             * graph holds of it is good enough for that. */
            err = hnsw_get_vector(old, node, approx);
            vec = approx;
        }
        if (err) break;
        err = relink ? hnsw_insert(h, node, vec)
                     : hnsw_node_set(h, node, vec, level, deleted, c->links, c->counts);
        if (!err && r->done) __atomic_fetch_add(r->done, 1, __ATOMIC_RELAXED);
    }
    uint32_t entry;
    int max_level;
    if (!err && !relink) {
        if (hnsw_entry_get(old, &entry, &max_level) != 0) {
            entry = HNSW_NO_NODE;
            max_level = 0;
        }
        err = hnsw_restore(h, entry, max_level);
    }
    free(buf);
    free(approx);
    if (err) {
        if (err != ERR_BUSY)
            log_error("collection %s: converting graph %d failed: %s", c->name, v, err_str(err));
        hnsw_free(h);
        return err;
    }
    *out = h;
    return 0;
}

int coll_graph_same_codes(const Collection *c, const CollectionConfig *cfg, int v)
{
    HnswParams cur, want;
    hnsw_params_get(c->idx[v].index, &cur);
    coll_index_params(cfg, v, &want);
    return cur.quant && want.quant && cur.quant_lo == want.quant_lo && cur.quant_hi == want.quant_hi;
}

int coll_graph_relink(Collection *c, StoreTxn *txn, const CollRebuild *r, int v,
                      HnswIndex **out)
{
    return convert(c, txn, r, v, 1, out);
}

typedef struct {
    Collection *c;
    const CollectionConfig *cfg;
} PutCtx;

static int put_fn(StoreTxn *txn, void *vctx)
{
    PutCtx *x = vctx;
    return coll_config_put(txn, x->c, x->cfg);
}

int coll_quant_sync(Db *db, Collection *c)
{
    if (c->opt.active) return 0; /* the rebuild's graphs are converted when they are in */
    CollectionConfig cfg = c->config;
    CollRebuild r = { .cfg = &cfg, .high = c->node_high };
    HnswIndex *graphs[COLLECTION_MAX_VECTORS] = { 0 };
    int any = 0, err = 0;
    StoreTxn *txn = NULL;
    for (int v = 0; v < cfg.n_vectors && !err; v++) {
        if (coll_is_multi(c, v)) continue;
        CollectionQuantization *q = &cfg.vectors[v].quant;
        HnswIndex *h = c->idx[v].index;
        int want = q->type == COLLECTION_QUANT_INT8 &&
                   (q->calibrated || hnsw_count(h) >= COLLECTION_QUANT_MIN_POINTS);
        int stage = quant_stage(hnsw_count(h));
        int recalibrate = want && (!q->calibrated || stage > q->calibrated);
        HnswParams cur;
        hnsw_params_get(h, &cur);
        if (!want) {
            q->calibrated = 0;
            q->lo = q->hi = 0;
            if (!cur.quant) continue;
        } else if (!recalibrate && cur.quant && cur.quant_lo == q->lo && cur.quant_hi == q->hi) {
            continue;
        }
        if (!txn && (err = store_read_begin(db->store, &txn))) break;
        if (recalibrate) {
            if ((err = calibrate(c, txn, v, q->quantile, &q->lo, &q->hi))) break;
            q->calibrated = stage > 0 ? stage : 1;
            log_info("collection %s: vector %d: int8 quantization calibrated on %zu points: [%g, %g]",
                     c->name, v, hnsw_count(h), (double)q->lo, (double)q->hi);
        }
        err = convert(c, txn, &r, v, 0, &graphs[v]);
        any = 1;
    }
    if (txn) store_read_end(txn);
    if (!err && any) {
        PutCtx x = { c, &cfg };
        err = store_write(db->store, put_fn, &x);
    }
    if (err || !any) {
        for (int v = 0; v < COLLECTION_MAX_VECTORS; v++) hnsw_free(graphs[v]);
        if (err) log_error("collection %s: quantization not applied: %s", c->name, err_str(err));
        return err;
    }
    /* Same links, new blocks: the dirty markers (graph records not saved
     * yet) stay valid and are saved from the new graph. */
    HnswIndex *old[COLLECTION_MAX_VECTORS] = { 0 };
    pthread_rwlock_wrlock(&c->lock);
    for (int v = 0; v < cfg.n_vectors; v++) {
        if (!graphs[v]) continue;
        old[v] = c->idx[v].index;
        c->idx[v].index = graphs[v];
        coll_blocks_drop_graph(c, v);
    }
    c->config = cfg;
    pthread_rwlock_unlock(&c->lock);
    for (int v = 0; v < COLLECTION_MAX_VECTORS; v++) hnsw_free(old[v]);
    return 0;
}
