/*
 * collection_sparse.c - sparse vectors in the collection engine: their
 * records, the in-memory inverted indexes (index/sparse.h), and searches
 * and recommendations on them. The other phases call in through the
 * coll_sparse_* hooks of collection_internal.h.
 *
 * Storage. Sparse vector s of a node is the STORE_DB_VECTORS record keyed
 * cid + u16 COLL_SPARSE_SLOT(s) + u32 node: n u32 indices (strictly
 * increasing) then n f32 values, little-endian; an empty vector is an
 * empty record. It is written in the transaction of the point's upsert
 * (or vector update) and deleted in the transaction that deletes the
 * point, upserts it without that vector or deletes that vector, so a
 * record exists exactly when the live point owning the node has the
 * vector. (Dense rows outlive their points
 * because the graph routes through deleted nodes; nothing routes through
 * an inverted index.) The inverted indexes are memory only: built from
 * these records at open and changed after each commit under the
 * node-table lock, so they never run ahead of LMDB and there is nothing a
 * crash could leave half saved: no pending markers, no replay.
 *
 * Search follows Qdrant's sparse index (lib/segment/src/index/
 * sparse_index/sparse_vector_index.rs): the query is sorted by index,
 * weighted by IDF when the vector's modifier is idf, and scored exactly;
 * only points sharing an index with the query are results and an empty
 * query has none. Recommendations (lib/collection/src/recommendations.rs,
 * sparse_custom_query_scorer.rs): average_vector averages the examples
 * over the union of their indices and searches with that; best_score and
 * sum_scores score every point having the vector, a pair of vectors
 * without a shared index having similarity 0.
 */
#include "store/collection.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "base/util.h"
#include "base/vec.h"
#include "index/filter.h"
#include "index/sparse.h"
#include "store/collection_internal.h"
#include "store/store.h"

/* Qdrant's wording for a dense vector given where a sparse one is
 * expected, or the reverse (OperationError::WrongSparse). */
#define SPARSE_CONVERSION_ERROR "Conversion between sparse and regular vectors failed"

/* ---- configuration ---- */

int coll_sparse_index(const Collection *c, const char *name)
{
    if (!name || !*name) return -1;
    for (int s = 0; s < c->config.n_sparse; s++)
        if (!strcmp(c->config.sparse[s].name, name)) return s;
    return -1;
}

int coll_sparse_validate(const CollectionConfig *cfg, char *err, size_t errlen)
{
    if (cfg->n_sparse < 0 || cfg->n_sparse > COLLECTION_MAX_SPARSE)
        return err_set(err, errlen, ERR_INVAL, "a collection has at most %d sparse vectors",
                       COLLECTION_MAX_SPARSE);
    /* Qdrant's checks and wording (CreateCollectionOperation::new). An
     * empty sparse name beside the unnamed dense vector is a duplicate
     * name in Qdrant 1.17 and an empty name since 1.19: the message says
     * both, so clients of either find their words. */
    for (int i = 0; i < cfg->n_sparse; i++) {
        if (cfg->sparse[i].name[0]) continue;
        if (cfg->unnamed)
            return err_set(err, errlen, ERR_INVAL,
                           "Dense and sparse vector names must be unique - duplicate found with '' "
                           "(Sparse vector name cannot be empty)");
        return err_set(err, errlen, ERR_INVAL, "Sparse vector name cannot be empty");
    }
    for (int i = 0; i < cfg->n_sparse; i++) {
        const CollectionSparseParams *p = &cfg->sparse[i];
        if (!memchr(p->name, '\0', sizeof p->name))
            return err_set(err, errlen, ERR_INVAL, "a vector name must have at most %d bytes",
                           COLLECTION_MAX_VECTOR_NAME);
        /* The unnamed dense vector is named "". */
        for (int v = 0; v < cfg->n_vectors; v++)
            if (!strcmp(cfg->vectors[v].name, p->name))
                return err_set(err, errlen, ERR_INVAL,
                               "Dense and sparse vector names must be unique - duplicate found with '%s'",
                               p->name);
        for (int j = 0; j < i; j++)
            if (!strcmp(cfg->sparse[j].name, p->name))
                return err_set(err, errlen, ERR_INVAL, "vector %s given twice", p->name);
        if ((unsigned)p->modifier > COLLECTION_MODIFIER_IDF)
            return err_set(err, errlen, ERR_INVAL, "unknown sparse vector modifier");
    }
    return 0;
}

int coll_sparse_update(CollectionConfig *cfg, const CollectionUpdate *u, char *err, size_t errlen)
{
    for (size_t i = 0; i < u->n_sparse; i++) {
        const CollectionSparseParams *p = &u->sparse[i];
        int s = 0;
        while (s < cfg->n_sparse && strcmp(cfg->sparse[s].name, p->name)) s++;
        if (s == cfg->n_sparse)
            return err_set(err, errlen, ERR_INVAL,
                           "Sparse vector `%s` is not specified in collection config", p->name);
        if ((unsigned)p->modifier > COLLECTION_MODIFIER_IDF)
            return err_set(err, errlen, ERR_INVAL, "unknown sparse vector modifier");
        cfg->sparse[s].modifier = p->modifier;
    }
    return 0;
}

int coll_sparse_create(Collection *c)
{
    for (int s = 0; s < c->config.n_sparse; s++) {
        int err = sparse_create(&c->sparse[s]);
        if (err) return err;
    }
    return 0;
}

void coll_sparse_free(Collection *c)
{
    for (int s = 0; s < COLLECTION_MAX_SPARSE; s++) {
        sparse_free(c->sparse[s]);
        c->sparse[s] = NULL;
    }
}

void coll_sparse_stats(Collection *c, uint64_t *vectors, size_t *memory_bytes)
{
    for (int s = 0; s < c->config.n_sparse; s++) {
        *vectors += sparse_size(c->sparse[s]);
        *memory_bytes += sparse_memory_bytes(c->sparse[s]);
    }
}

/* ---- records ---- */

/* record_decode reads a record into arena arrays; ERR_FORMAT unless its
 * indices are strictly increasing and its values finite. */
static int record_decode(Slice v, Arena *arena, CollectionSparseVector *out)
{
    if (v.len % 8) return ERR_FORMAT;
    size_t n = v.len / 8;
    uint32_t *idx = arena_alloc(arena, (n ? n : 1) * sizeof *idx);
    float *val = arena_alloc(arena, (n ? n : 1) * sizeof *val);
    const uint8_t *p = (const uint8_t *)v.ptr;
    for (size_t i = 0; i < n; i++) {
        idx[i] = store_get_le32(p + 4 * i);
        uint32_t bits = store_get_le32(p + 4 * (n + i));
        memcpy(&val[i], &bits, sizeof bits);
        if ((i && idx[i - 1] >= idx[i]) || !isfinite(val[i])) return ERR_FORMAT;
    }
    *out = (CollectionSparseVector){ idx, val, n };
    return 0;
}

static void record_encode(const CollectionSparseVector *sv, uint8_t *out)
{
    for (size_t i = 0; i < sv->n; i++) {
        uint32_t bits;
        memcpy(&bits, &sv->values[i], sizeof bits);
        store_put_le32(out + 4 * i, sv->indices[i]);
        store_put_le32(out + 4 * (sv->n + i), bits);
    }
}

int coll_sparse_put(StoreTxn *txn, Collection *c, uint32_t node, uint32_t touch, uint32_t mask,
                    const CollectionSparseVector *sv)
{
    uint8_t key[STORE_KEY_MAX];
    for (int s = 0; s < c->config.n_sparse; s++) {
        if (!(touch >> COLL_SPARSE_SLOT(s) & 1)) continue;
        size_t kl = store_key_node(key, c->cid, (uint16_t)COLL_SPARSE_SLOT(s), node);
        int err;
        if (mask >> COLL_SPARSE_SLOT(s) & 1) {
            size_t len = sv[s].n * 8;
            uint8_t *rec = xmalloc(len ? len : 1);
            record_encode(&sv[s], rec);
            err = store_put(txn, STORE_DB_VECTORS, key, kl, rec, len);
            free(rec);
        } else {
            err = store_del(txn, STORE_DB_VECTORS, key, kl);
            if (err == ERR_NOTFOUND) err = 0;
        }
        if (err) return err;
    }
    return 0;
}

void coll_sparse_apply(Collection *c, uint32_t node, uint32_t touch, uint32_t mask,
                       const CollectionSparseVector *sv)
{
    for (int s = 0; s < c->config.n_sparse; s++) {
        if (!(touch >> COLL_SPARSE_SLOT(s) & 1)) continue;
        if (!(mask >> COLL_SPARSE_SLOT(s) & 1)) {
            sparse_remove(c->sparse[s], node);
            continue;
        }
        /* Prepared vectors are sorted and unique: only a broken invariant
         * gets here. The record is committed; the next open indexes it. */
        int err = sparse_set(c->sparse[s], node, sv[s].indices, sv[s].values, sv[s].n);
        if (err)
            log_error("collection %s: sparse vector %s of node %u: %s", c->name,
                      c->config.sparse[s].name, node, err_str(err));
    }
}

int coll_sparse_load(Collection *c, StoreTxn *txn)
{
    int err = 0;
    for (int s = 0; s < c->config.n_sparse && !err; s++) {
        uint8_t key[STORE_KEY_MAX];
        size_t plen = store_key_index(key, c->cid, (uint16_t)COLL_SPARSE_SLOT(s));
        StoreCursor *cur;
        if ((err = store_cursor_open(txn, STORE_DB_VECTORS, &cur))) break;
        Arena a;
        arena_init(&a, 0);
        Slice k, v;
        size_t stale = 0;
        int e;
        for (e = store_cursor_seek(cur, key, plen, &k, &v); e == 0; e = store_cursor_next(cur, &k, &v)) {
            if (k.len != 10 || memcmp(k.ptr, key, plen) != 0) break;
            uint32_t node = store_get_be32((const uint8_t *)k.ptr + 6);
            if (node >= c->node_cap || !c->node_live[node]) {
                stale++; /* not written by this engine: deleted with its point */
                continue;
            }
            CollectionSparseVector sv;
            if (record_decode(v, &a, &sv) || sparse_set(c->sparse[s], node, sv.indices, sv.values, sv.n)) {
                log_error("collection %s: sparse vector %s of node %u is malformed", c->name,
                          c->config.sparse[s].name, node);
                err = ERR_FORMAT;
                break;
            }
            if (a.total > COLLECTION_SCRATCH_MAX) {
                arena_free(&a);
                arena_init(&a, 0);
            }
        }
        if (!err && e != 0 && e != ERR_NOTFOUND) err = e;
        if (stale)
            log_warn("collection %s: %zu sparse vectors %s of deleted points ignored", c->name,
                     stale, c->config.sparse[s].name);
        arena_free(&a);
        store_cursor_close(cur);
    }
    return err;
}

int coll_sparse_output(Collection *c, uint32_t want, StoreTxn *txn, uint32_t node, Arena *arena,
                       CollectionPoint *p)
{
    if (!(want & COLL_SPARSE_MASK(c->config.n_sparse))) return 0;
    const CollectionSparseVector **out =
        arena_calloc(arena, (size_t)c->config.n_sparse * sizeof *out);
    for (int s = 0; s < c->config.n_sparse; s++) {
        if (!(want >> COLL_SPARSE_SLOT(s) & 1)) continue;
        uint8_t key[STORE_KEY_MAX];
        size_t kl = store_key_node(key, c->cid, (uint16_t)COLL_SPARSE_SLOT(s), node);
        Slice v;
        int err = store_get(txn, STORE_DB_VECTORS, key, kl, &v);
        if (err == ERR_NOTFOUND) continue;
        if (err) return err;
        CollectionSparseVector *sv = arena_alloc(arena, sizeof *sv);
        if ((err = record_decode(v, arena, sv))) return err;
        out[s] = sv;
    }
    p->sparse = out;
    return 0;
}

/* ---- input ---- */

/* copy_sorted validates a sparse vector (values finite, indices unique)
 * and copies it into arena sorted by index. */
static int copy_sorted(const char *what, const char *name, const CollectionSparseVector *in,
                       Arena *arena, CollectionSparseVector *out, char *err, size_t errlen)
{
    if (in->n > COLLECTION_MAX_SPARSE_LEN)
        return err_set(err, errlen, ERR_INVAL, "%s: sparse vector \"%s\" has %zu entries, at most %u",
                       what, name, in->n, COLLECTION_MAX_SPARSE_LEN);
    if (in->n && (!in->indices || !in->values))
        return err_set(err, errlen, ERR_INVAL, "%s: sparse vector \"%s\" lacks its indices or values",
                       what, name);
    if (!vec_is_finite(in->values, in->n))
        return err_set(err, errlen, ERR_INVAL, "%s: vector \"%s\" contains NaN or Inf", what, name);
    uint32_t *idx = arena_alloc(arena, (in->n ? in->n : 1) * sizeof *idx);
    float *val = arena_alloc(arena, (in->n ? in->n : 1) * sizeof *val);
    if (in->n) {
        memcpy(idx, in->indices, in->n * sizeof *idx);
        memcpy(val, in->values, in->n * sizeof *val);
    }
    if (sparse_sort(idx, val, in->n))
        return err_set(err, errlen, ERR_INVAL, "%s: sparse vector \"%s\": indices must be unique",
                       what, name);
    *out = (CollectionSparseVector){ idx, val, in->n };
    return 0;
}

/* kind_mismatch explains why name cannot take the kind of vector given:
 * a dense vector of that name is the conversion error, an unknown name
 * the usual one. */
static int kind_mismatch(const Collection *c, const char *name, char *err, size_t errlen)
{
    int v = coll_vector_index(c, name, err, errlen);
    if (v < 0) return v;
    return err_set(err, errlen, ERR_INVAL, SPARSE_CONVERSION_ERROR);
}

int coll_sparse_prepare(Collection *c, const char *what, const CollectionVectorIn *in,
                        Arena *arena, int *s, CollectionSparseVector *out, char *err,
                        size_t errlen)
{
    *s = coll_sparse_index(c, in->name);
    if (*s < 0) return kind_mismatch(c, in->name, err, errlen);
    return copy_sorted(what, c->config.sparse[*s].name, in->sparse, arena, out, err, errlen);
}

/* ---- search ---- */

/* The state of the accept callback: live, not excluded, filter passed. */
typedef struct {
    Collection *c;
    StoreTxn *txn;
    const Filter *f;
    const PointId *ex;
    size_t n_ex;
    Scratch s;
} Accept;

static int accept_node(uint32_t node, void *vctx)
{
    Accept *a = vctx;
    Collection *c = a->c;
    if (node >= c->node_cap || !c->node_live[node]) return 0;
    const PointId *id = &c->node_ids[node];
    for (size_t i = 0; i < a->n_ex; i++)
        if (point_id_equal(&a->ex[i], id)) return 0;
    if (filter_matches_all(a->f)) return 1;
    return coll_filter_node(c, a->txn, a->f, &a->s, node, NULL);
}

/* resolve finds the sparse vector `using` names, given that the query is
 * sparse (is_sparse) or dense. */
static int resolve(const Collection *c, const char *using, int is_sparse, int *s, char *err,
                   size_t errlen)
{
    *s = coll_sparse_index(c, using);
    if (*s >= 0 && !is_sparse) return err_set(err, errlen, ERR_INVAL, SPARSE_CONVERSION_ERROR);
    if (*s < 0) return kind_mismatch(c, using, err, errlen);
    return 0;
}

/* fill_results turns hits (best first) into points: the offset skipped,
 * the score threshold applied (scores are similarities: kept when >= t). */
static int fill_results(Collection *c, const Output *o, StoreTxn *txn, const SparseHit *hits,
                        size_t n_hits, const CollectionSearch *req, size_t limit, Arena *arena,
                        CollectionResult *out)
{
    coll_result_init(c, out, arena, limit);
    Scratch s;
    coll_scratch_init(&s);
    size_t skipped = 0;
    int err = 0;
    for (size_t i = 0; i < n_hits && out->n < limit && !err; i++) {
        if (req->has_score_threshold && hits[i].score < req->score_threshold) break;
        uint32_t node = hits[i].node;
        if (node >= c->node_cap || !c->node_live[node]) continue;
        ScanRec r;
        int e = coll_point_lookup(c, txn, &c->node_ids[node], &r);
        if (e == ERR_NOTFOUND || (!e && r.node != node)) continue; /* deleted meanwhile */
        if (e) {
            err = e;
            break;
        }
        if (skipped < req->offset) {
            skipped++;
            continue;
        }
        err = coll_output_point(c, o, txn, &s, &r, hits[i].score, arena, &out->points[out->n++]);
    }
    coll_scratch_free(&s);
    return err;
}

/* run_index searches sparse vector s with the (sorted, weighted) query q
 * and fills out. */
static int run_index(Collection *c, int s, StoreTxn *txn, const Filter *f, const PointId *ex,
                     size_t n_ex, const CollectionSparseVector *q, const CollectionSearch *req,
                     size_t limit, const Output *o, Arena *arena, CollectionResult *out)
{
    size_t k = req->offset + limit;
    SparseHit *hits = arena_alloc(arena, k * sizeof *hits);
    size_t n_hits = 0;
    Accept a = { c, txn, f, ex, n_ex, { { 0 } } };
    coll_scratch_init(&a.s);
    int err = sparse_search(c->sparse[s], q->indices, q->values, q->n, k, accept_node, &a, hits,
                            &n_hits);
    coll_scratch_free(&a.s);
    if (err) return err;
    return fill_results(c, o, txn, hits, n_hits, req, limit, arena, out);
}

int coll_sparse_search(Db *db, Collection *c, const Filter *f, const CollectionSearch *req,
                       size_t limit, Arena *arena, CollectionResult *out, char *err,
                       size_t errlen)
{
    int s;
    int e = resolve(c, req->using, req->sparse != NULL, &s, err, errlen);
    if (e) return e;
    Output o;
    if ((e = coll_output_resolve(c, &req->with_payload, &req->with_vectors, &o, err, errlen)))
        return e;
    CollectionSparseVector q;
    if ((e = copy_sorted("query", c->config.sparse[s].name, req->sparse, arena, &q, err, errlen)))
        return e;
    if (c->config.sparse[s].modifier == COLLECTION_MODIFIER_IDF)
        sparse_idf(c->sparse[s], q.indices, (float *)q.values, q.n);
    StoreTxn *txn;
    if ((e = store_read_begin(db->store, &txn))) return e;
    e = run_index(c, s, txn, f, NULL, 0, &q, req, limit, &o, arena, out);
    store_read_end(txn);
    return e;
}

/* ---- recommend ---- */

/* example_by_id reads point id's sparse vector s into arena. */
static int example_by_id(Collection *c, StoreTxn *txn, int s, const PointId *id, Arena *arena,
                         CollectionSparseVector *out, char *err, size_t errlen)
{
    ScanRec r;
    char idbuf[POINT_ID_TEXT_MAX];
    int e = coll_point_lookup(c, txn, id, &r);
    if (e == ERR_NOTFOUND || (!e && !(r.mask >> COLL_SPARSE_SLOT(s) & 1)))
        return err_set(err, errlen, ERR_NOTFOUND, "No point with id %s found",
                       point_id_format(id, idbuf));
    if (e) return e;
    uint8_t key[STORE_KEY_MAX];
    size_t kl = store_key_node(key, c->cid, (uint16_t)COLL_SPARSE_SLOT(s), r.node);
    Slice v;
    if ((e = store_get(txn, STORE_DB_VECTORS, key, kl, &v))) return e;
    return record_decode(v, arena, out);
}

/* A growing sparse vector in arena-free memory, for averaging. */
typedef struct {
    uint32_t *idx;
    float *val;
    size_t n;
} Acc;

/* acc_combine sets acc to the union of x and acc with values op(x, acc)
 * (a missing side counts 0): Qdrant's combine_aggregate, whose order of
 * operands the float sums keep. */
static void acc_combine(Acc *acc, const CollectionSparseVector *x, int op_pos_neg)
{
    size_t cap = acc->n + x->n;
    uint32_t *idx = xmalloc((cap ? cap : 1) * sizeof *idx);
    float *val = xmalloc((cap ? cap : 1) * sizeof *val);
    size_t i = 0, j = 0, m = 0;
    while (i < x->n || j < acc->n) {
        float a = 0, b = 0;
        uint32_t d;
        if (j == acc->n || (i < x->n && x->indices[i] < acc->idx[j])) {
            d = x->indices[i];
            a = x->values[i++];
        } else if (i == x->n || acc->idx[j] < x->indices[i]) {
            d = acc->idx[j];
            b = acc->val[j++];
        } else {
            d = x->indices[i];
            a = x->values[i++];
            b = acc->val[j++];
        }
        idx[m] = d;
        /* op_pos_neg: x is the positive average, acc the negative one:
         * pos + pos - neg; otherwise a running sum x + acc. */
        val[m++] = op_pos_neg ? a + a - b : a + b;
    }
    free(acc->idx);
    free(acc->val);
    *acc = (Acc){ idx, val, m };
}

/* average sums the n vectors over the union of their indices and divides
 * by n (Qdrant's avg_vectors). */
static void average(const CollectionSparseVector *v, size_t n, Acc *out)
{
    *out = (Acc){ NULL, NULL, 0 };
    for (size_t i = 0; i < n; i++) acc_combine(out, &v[i], 0);
    for (size_t i = 0; i < out->n; i++) out->val[i] /= (float)n;
}

static float sigmoid_scaled(float x) { return 0.5f * (x / (1.0f + fabsf(x)) + 1.0f); }

/* A candidate of a best_score / sum_scores scan. */
typedef struct {
    uint32_t node;
    float score;
} Scored;

static int cmp_scored(const void *pa, const void *pb)
{
    const Scored *a = pa, *b = pb;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    return a->node < b->node ? -1 : a->node > b->node;
}

/* score_all scores every node having sparse vector s by the strategy and
 * keeps the best k that accept takes, best first. */
static void score_all(Collection *c, int s, CollectionRecoStrategy strategy,
                      const CollectionSparseVector *pos, size_t n_pos,
                      const CollectionSparseVector *neg, size_t n_neg, size_t k, Accept *a,
                      SparseHit *hits, size_t *n_hits)
{
    SparseIndex *ix = c->sparse[s];
    uint32_t high = sparse_node_high(ix);
    Scored *all = xmalloc((high ? high : 1) * sizeof *all);
    size_t n = 0;
    for (uint32_t node = 0; node < high; node++) {
        const uint32_t *ri;
        const float *rv;
        size_t rn;
        if (sparse_row(ix, node, &ri, &rv, &rn)) continue;
        float score;
        if (strategy == COLLECTION_RECO_BEST_SCORE) {
            float bp = -INFINITY, bn = -INFINITY;
            for (size_t i = 0; i < n_pos; i++) {
                float x = sparse_dot(ri, rv, rn, pos[i].indices, pos[i].values, pos[i].n, NULL);
                if (x > bp) bp = x;
            }
            for (size_t i = 0; i < n_neg; i++) {
                float x = sparse_dot(ri, rv, rn, neg[i].indices, neg[i].values, neg[i].n, NULL);
                if (x > bn) bn = x;
            }
            score = bp > bn ? sigmoid_scaled(bp) : -sigmoid_scaled(bn);
        } else {
            float sp = 0, sn = 0;
            for (size_t i = 0; i < n_pos; i++)
                sp += sparse_dot(ri, rv, rn, pos[i].indices, pos[i].values, pos[i].n, NULL);
            for (size_t i = 0; i < n_neg; i++)
                sn += sparse_dot(ri, rv, rn, neg[i].indices, neg[i].values, neg[i].n, NULL);
            score = sp - sn;
        }
        if (!isnan(score)) all[n++] = (Scored){ node, score };
    }
    /* Scoring is cheap, the filter may not be: sort first, then ask the
     * filter only until k are accepted. */
    qsort(all, n, sizeof *all, cmp_scored);
    *n_hits = 0;
    for (size_t i = 0; i < n && *n_hits < k; i++)
        if (accept_node(all[i].node, a)) hits[(*n_hits)++] = (SparseHit){ all[i].node, all[i].score };
    free(all);
}

/* gather_examples collects one side's examples (ids, then raw vectors),
 * sorted, into an arena array. */
static int gather_examples(Collection *c, StoreTxn *txn, int s, const PointId *ids, size_t n_ids,
                           const CollectionSparseVector *raw, size_t n_raw, Arena *arena,
                           CollectionSparseVector **out, char *err, size_t errlen)
{
    CollectionSparseVector *v = arena_alloc(arena, (n_ids + n_raw + 1) * sizeof *v);
    int e = 0;
    for (size_t i = 0; i < n_ids && !e; i++)
        e = example_by_id(c, txn, s, &ids[i], arena, &v[i], err, errlen);
    for (size_t i = 0; i < n_raw && !e; i++)
        e = copy_sorted("example", c->config.sparse[s].name, &raw[i], arena, &v[n_ids + i], err,
                        errlen);
    *out = v;
    return e;
}

int coll_sparse_recommend(Db *db, Collection *c, const Filter *f, const CollectionRecommend *req,
                          size_t limit, Arena *arena, CollectionResult *out, char *err,
                          size_t errlen)
{
    const CollectionSearch *sr = &req->search;
    int raw_dense = req->n_positive_vectors + req->n_negative_vectors > 0;
    int s;
    int e = resolve(c, sr->using, !raw_dense, &s, err, errlen);
    if (e) return e;
    Output o;
    if ((e = coll_output_resolve(c, &sr->with_payload, &sr->with_vectors, &o, err, errlen)))
        return e;
    StoreTxn *txn;
    if ((e = store_read_begin(db->store, &txn))) return e;
    CollectionSparseVector *pos = NULL, *neg = NULL;
    size_t n_pos = req->n_positive + req->n_positive_sparse;
    size_t n_neg = req->n_negative + req->n_negative_sparse;
    e = gather_examples(c, txn, s, req->positive, req->n_positive, req->positive_sparse,
                        req->n_positive_sparse, arena, &pos, err, errlen);
    if (!e)
        e = gather_examples(c, txn, s, req->negative, req->n_negative, req->negative_sparse,
                            req->n_negative_sparse, arena, &neg, err, errlen);
    /* Example points never come back as results. */
    PointId *ex = arena_alloc(arena, (req->n_positive + req->n_negative + 1) * sizeof *ex);
    size_t n_ex = 0;
    for (size_t i = 0; i < req->n_positive; i++) ex[n_ex++] = req->positive[i];
    for (size_t i = 0; i < req->n_negative; i++) ex[n_ex++] = req->negative[i];
    int idf = c->config.sparse[s].modifier == COLLECTION_MODIFIER_IDF;
    if (!e && req->strategy == COLLECTION_RECO_AVERAGE_VECTOR) {
        /* avg(pos), or avg(pos) + avg(pos) - avg(neg), then a plain
         * sparse search (IDF weighs the averaged query). */
        Acc ap, an;
        average(pos, n_pos, &ap);
        if (n_neg) {
            average(neg, n_neg, &an);
            CollectionSparseVector pv = { ap.idx, ap.val, ap.n };
            acc_combine(&an, &pv, 1);
            free(ap.idx);
            free(ap.val);
            ap = an;
        }
        CollectionSparseVector q = { arena_alloc(arena, (ap.n + 1) * sizeof(uint32_t)),
                                     arena_alloc(arena, (ap.n + 1) * sizeof(float)), ap.n };
        if (ap.n) {
            memcpy((uint32_t *)q.indices, ap.idx, ap.n * sizeof(uint32_t));
            memcpy((float *)q.values, ap.val, ap.n * sizeof(float));
        }
        free(ap.idx);
        free(ap.val);
        if (idf) sparse_idf(c->sparse[s], q.indices, (float *)q.values, q.n);
        e = run_index(c, s, txn, f, ex, n_ex, &q, sr, limit, &o, arena, out);
    } else if (!e) {
        if (idf) {
            for (size_t i = 0; i < n_pos; i++)
                sparse_idf(c->sparse[s], pos[i].indices, (float *)pos[i].values, pos[i].n);
            for (size_t i = 0; i < n_neg; i++)
                sparse_idf(c->sparse[s], neg[i].indices, (float *)neg[i].values, neg[i].n);
        }
        size_t k = sr->offset + limit;
        SparseHit *hits = arena_alloc(arena, k * sizeof *hits);
        size_t n_hits = 0;
        Accept a = { c, txn, f, ex, n_ex, { { 0 } } };
        coll_scratch_init(&a.s);
        score_all(c, s, req->strategy, pos, n_pos, neg, n_neg, k, &a, hits, &n_hits);
        coll_scratch_free(&a.s);
        e = fill_results(c, &o, txn, hits, n_hits, sr, limit, arena, out);
    }
    store_read_end(txn);
    return e;
}
