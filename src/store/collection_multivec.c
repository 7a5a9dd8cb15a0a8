/*
 * collection_multivec.c - multivectors in the collection engine (Qdrant's
 * multivector_config, comparator max_sim): their records, which nodes
 * have them, and MaxSim search and recommendation over them. The other
 * phases call in through the coll_multi_* hooks of collection_internal.h.
 *
 * A multivector is a dense vector of the collection's configuration
 * (CollectionVectorParams.multivector) whose value is a list of 1..n
 * vectors of its size. It shares the dense vectors' names, vector index
 * and point mask bit, but no HNSW graph is built for it: its graph stays
 * empty and the graph code skips it. Searches score every point having it
 * exactly, as MaxSim: for each vector of the query the best similarity
 * over the point's vectors, summed (index/multivec.h). The reason is
 * cost against use: Qdrant's graph over multivectors compares whole
 * multivectors at every hop, and multivectors are mostly used to rerank
 * a prefetch's few candidates (ColBERT), where an exact scan is what runs
 * anyway.
 *
 * Storage. Multivector v of a node is the STORE_DB_VECTORS record keyed
 * cid + u16 v + u32 node (where a single vector of v would be): its n
 * vectors one after the other, n * size floats as the dense rows store
 * them, n >= 1 read from the length. Values are stored prepared (cosine:
 * each vector normalised; rounded to the datatype), so a read returns
 * what Qdrant returns. As sparse records (and unlike dense rows, which
 * the graph keeps routing through), a record exists exactly when the live
 * point owning the node has the vector: it is written in the transaction
 * of the point's upsert or vector update and deleted in the one that
 * deletes the point, upserts it without the vector or deletes the vector.
 * Nothing else is kept on disk, so a crash cannot leave anything half
 * saved: no pending markers, no replay.
 *
 * Memory: per multivector, a byte per node saying whether it has one
 * (CollMulti), built from the records at open and changed after each
 * commit under the node-table lock. It gives collection_info its count;
 * searches walk the records themselves, in node order, in their read
 * transaction.
 *
 * Scores, as Qdrant's (lib/collection/src/shards/local_shard/search.rs):
 * a search's raw MaxSim sum is reported as is for cosine and dot, as
 * sqrt(|sum|) for euclid (whose similarity is minus the squared distance)
 * and |sum| for manhattan; recommendation objectives are reported raw.
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
#include "index/multivec.h"
#include "store/collection_internal.h"
#include "store/store.h"

/* Qdrant's wordings (OperationError::WrongMulti / WrongSparse through
 * CollectionError, lib/collection/src/operations/types.rs). */
#define MULTI_CONVERSION_ERROR "Conversion between multi and regular vectors failed"
#define SPARSE_CONVERSION_ERROR "Conversion between sparse and regular vectors failed"

/* ---- configuration ---- */

int coll_multi_index(const Collection *c, const char *name)
{
    if (!name) name = "";
    if (!*name) return c->config.unnamed && coll_is_multi(c, 0) ? 0 : -1;
    for (int v = 0; v < c->config.n_vectors; v++)
        if (!strcmp(c->config.vectors[v].name, name)) return coll_is_multi(c, v) ? v : -1;
    return -1;
}

int coll_multi_validate(const CollectionConfig *cfg, char *err, size_t errlen)
{
    for (int v = 0; v < cfg->n_vectors; v++) {
        const CollectionVectorParams *p = &cfg->vectors[v];
        if ((unsigned)p->multivector > COLLECTION_MAX_SIM)
            return err_set(err, errlen, ERR_INVAL, "vector %s: unknown multivector comparator",
                           p->name);
        if ((unsigned)p->datatype > COLLECTION_FLOAT16)
            return err_set(err, errlen, ERR_INVAL, "vector %s: unknown datatype", p->name);
        /* A single vector lives in a float graph: rounding its values
         * would also have to round every query the graph sees. */
        if (p->datatype != COLLECTION_FLOAT32 && p->multivector == COLLECTION_SINGLE)
            return err_set(err, errlen, ERR_INVAL,
                           "vector %s: a datatype other than float32 needs a multivector",
                           p->name);
    }
    return 0;
}

static MultivecMetric metric_of(const CollectionVectorParams *p)
{
    switch (p->distance) {
    case COLLECTION_EUCLID: return MULTIVEC_EUCLID;
    case COLLECTION_MANHATTAN: return MULTIVEC_MANHATTAN;
    case COLLECTION_COSINE:
        /* Bytes cannot hold a normalised vector: Qdrant keeps them as
         * given and computes the cosine in full. */
        return p->datatype == COLLECTION_UINT8 ? MULTIVEC_COSINE : MULTIVEC_DOT;
    default: return MULTIVEC_DOT;
    }
}

static int is_distance(const CollectionVectorParams *p)
{
    return p->distance == COLLECTION_EUCLID || p->distance == COLLECTION_MANHATTAN;
}

void collection_multivec_prepare(const CollectionVectorParams *p, float *v, size_t n)
{
    /* Cosine normalises in float first, then rounds (Qdrant's
     * MultiMetricQueryScorer and multi-dense storage: preprocess, then
     * from_float_multivector). A zero vector stays zero. */
    if (metric_of(p) == MULTIVEC_DOT && p->distance == COLLECTION_COSINE)
        for (size_t i = 0; i < n; i++) vec_normalize(v + i * p->size, p->size);
    multivec_round((MultivecType)p->datatype, v, n * p->size);
}

float collection_multivec_score(const CollectionVectorParams *p, const CollectionMultiVector *q,
                                const CollectionMultiVector *d)
{
    if (q->dim != p->size || d->dim != p->size) return NAN;
    return multivec_max_sim(metric_of(p), q->data, q->n, d->data, d->n, p->size);
}

/* ---- node sets ---- */

static void set_has(CollMulti *m, uint32_t node, int has)
{
    if (node >= m->cap) {
        if (!has) return;
        uint32_t cap = m->cap ? m->cap : 1024;
        while (cap <= node) cap = cap > UINT32_MAX / 2 ? UINT32_MAX : cap * 2;
        m->has = xrealloc(m->has, cap);
        memset(m->has + m->cap, 0, cap - m->cap);
        m->cap = cap;
    }
    if (m->has[node] == (uint8_t)has) return;
    m->has[node] = (uint8_t)has;
    if (has) m->count++;
    else m->count--;
}

void coll_multi_apply(Collection *c, uint32_t node, uint32_t touch, uint32_t mask)
{
    for (int v = 0; v < c->config.n_vectors; v++)
        if ((touch >> v & 1) && coll_is_multi(c, v)) set_has(&c->multi[v], node, mask >> v & 1);
}

void coll_multi_free(Collection *c)
{
    for (int v = 0; v < COLLECTION_MAX_VECTORS; v++) {
        free(c->multi[v].has);
        c->multi[v] = (CollMulti){ NULL, 0, 0 };
    }
}

void coll_multi_stats(Collection *c, uint64_t *vectors, size_t *memory_bytes)
{
    for (int v = 0; v < c->config.n_vectors; v++) {
        if (!coll_is_multi(c, v)) continue;
        *vectors += c->multi[v].count;
        *memory_bytes += c->multi[v].cap;
    }
}

/* record_count: how many vectors a record of len bytes holds for p, or
 * 0 when the length is not a whole, non-zero number of vectors. */
static size_t record_count(const CollectionVectorParams *p, size_t len)
{
    size_t row = (size_t)p->size * sizeof(float);
    return len && len % row == 0 ? len / row : 0;
}

int coll_multi_load(Collection *c, StoreTxn *txn)
{
    int err = 0;
    for (int v = 0; v < c->config.n_vectors && !err; v++) {
        if (!coll_is_multi(c, v)) continue;
        uint8_t key[STORE_KEY_MAX];
        size_t plen = store_key_index(key, c->cid, (uint16_t)v);
        StoreCursor *cur;
        if ((err = store_cursor_open(txn, STORE_DB_VECTORS, &cur))) break;
        Slice k, val;
        size_t stale = 0;
        int e;
        for (e = store_cursor_seek(cur, key, plen, &k, &val); e == 0;
             e = store_cursor_next(cur, &k, &val)) {
            if (k.len != 10 || memcmp(k.ptr, key, plen) != 0) break;
            uint32_t node = store_get_be32((const uint8_t *)k.ptr + 6);
            if (node >= c->node_cap || !c->node_live[node]) {
                stale++; /* not written by this engine: deleted with its point */
                continue;
            }
            if (!record_count(&c->config.vectors[v], val.len)) {
                log_error("collection %s: multivector %s of node %u has %zu bytes, not a "
                          "multiple of %zu", c->name, c->config.vectors[v].name, node, val.len,
                          (size_t)c->config.vectors[v].size * sizeof(float));
                err = ERR_FORMAT;
                break;
            }
            set_has(&c->multi[v], node, 1);
        }
        if (!err && e != 0 && e != ERR_NOTFOUND) err = e;
        if (stale)
            log_warn("collection %s: %zu multivectors %s of deleted points ignored", c->name,
                     stale, c->config.vectors[v].name);
        store_cursor_close(cur);
    }
    return err;
}

/* ---- records ---- */

int coll_multi_put(StoreTxn *txn, Collection *c, uint32_t node, uint32_t touch, uint32_t mask,
                   const float *const *vec, const uint32_t *n)
{
    uint8_t key[STORE_KEY_MAX];
    for (int v = 0; v < c->config.n_vectors; v++) {
        if (!(touch >> v & 1) || !coll_is_multi(c, v)) continue;
        size_t kl = store_key_node(key, c->cid, (uint16_t)v, node);
        int err;
        if (mask >> v & 1) {
            err = store_put(txn, STORE_DB_VECTORS, key, kl, vec[v],
                            (size_t)n[v] * c->config.vectors[v].size * sizeof(float));
        } else {
            err = store_del(txn, STORE_DB_VECTORS, key, kl);
            if (err == ERR_NOTFOUND) err = 0;
        }
        if (err) return err;
    }
    return 0;
}

/* read_record reads multivector v of node into arena (ERR_NOTFOUND when
 * the node has none). */
static int read_record(Collection *c, StoreTxn *txn, int v, uint32_t node, Arena *arena,
                       CollectionMultiVector *out)
{
    uint8_t key[STORE_KEY_MAX];
    size_t kl = store_key_node(key, c->cid, (uint16_t)v, node);
    Slice s;
    int err = store_get(txn, STORE_DB_VECTORS, key, kl, &s);
    if (err) return err;
    size_t n = record_count(&c->config.vectors[v], s.len);
    if (!n) return ERR_FORMAT;
    /* LMDB values are only 2-byte aligned: copy before using floats. */
    float *f = arena_alloc(arena, s.len);
    memcpy(f, s.ptr, s.len);
    *out = (CollectionMultiVector){ f, n, c->config.vectors[v].size };
    return 0;
}

int coll_multi_output(Collection *c, uint32_t want, StoreTxn *txn, uint32_t node, Arena *arena,
                      CollectionPoint *p)
{
    uint32_t mw = want & coll_multi_mask(c);
    for (int v = 0; mw && v < c->config.n_vectors; v++) {
        if (!(mw >> v & 1)) continue;
        CollectionMultiVector *mv = arena_alloc(arena, sizeof *mv);
        int err = read_record(c, txn, v, node, arena, mv);
        if (err == ERR_NOTFOUND) continue;
        if (err) return err;
        if (!p->multi) p->multi = arena_calloc(arena, (size_t)c->config.n_vectors * sizeof *p->multi);
        p->multi[v] = mv;
    }
    return 0;
}

/* ---- input ---- */

/* resolve finds the multivector `name` names for an input, a query or
 * examples (is_sparse: some of them sparse, which a multivector cannot
 * take; a plain vector it takes as a list of one). A name that is not a
 * multivector gets here only with a multivector input: Qdrant's
 * conversion error, or its unknown name. */
static int resolve(const Collection *c, const char *name, int is_sparse, int *v, char *err,
                   size_t errlen)
{
    *v = coll_multi_index(c, name);
    if (*v >= 0) {
        if (is_sparse) return err_set(err, errlen, ERR_INVAL, SPARSE_CONVERSION_ERROR);
        return 0;
    }
    if (coll_sparse_index(c, name) >= 0)
        return err_set(err, errlen, ERR_INVAL, MULTI_CONVERSION_ERROR);
    int e = coll_vector_index(c, name, err, errlen);
    if (e < 0) return e;
    return err_set(err, errlen, ERR_INVAL, MULTI_CONVERSION_ERROR);
}

/* prepare_copy checks n vectors of dim floats against multivector p and
 * copies them prepared into arena. */
static int prepare_copy(const CollectionVectorParams *p, const char *what, const float *src,
                        size_t n, size_t dim, Arena *arena, float **out, char *err, size_t errlen)
{
    if (dim != p->size)
        return err_set(err, errlen, ERR_INVAL, "Vector dimension error: expected dim: %u, got %zu",
                       p->size, dim);
    if (n == 0)
        return err_set(err, errlen, ERR_INVAL, "%s: multivector \"%s\" has no vectors", what,
                       p->name);
    if (n > (COLLECTION_MAX_MULTIVEC_FLOATS - 1) / dim) /* n * dim would reach the limit */
        return err_set(err, errlen, ERR_INVAL,
                       "%s: multivector \"%s\": total size of all vectors (%zu) must be less than %u",
                       what, p->name, n * dim, COLLECTION_MAX_MULTIVEC_FLOATS);
    if (!src || !vec_is_finite(src, n * dim))
        return err_set(err, errlen, ERR_INVAL, "%s: vector \"%s\" contains NaN or Inf", what,
                       p->name);
    float *f = arena_alloc(arena, n * dim * sizeof *f);
    memcpy(f, src, n * dim * sizeof *f);
    collection_multivec_prepare(p, f, n);
    if (!vec_is_finite(f, n * dim))
        return err_set(err, errlen, ERR_INVAL, "%s: vector \"%s\" has a value beyond float16's range",
                       what, p->name);
    *out = f;
    return 0;
}

int coll_multi_prepare(Collection *c, const char *what, const CollectionVectorIn *in,
                       Arena *arena, int *v, const float **out, uint32_t *n, char *err,
                       size_t errlen)
{
    int e = resolve(c, in->name, 0, v, err, errlen);
    if (e) return e;
    const CollectionVectorParams *p = &c->config.vectors[*v];
    const float *src = in->multi ? in->multi->data : in->data;
    size_t count = in->multi ? in->multi->n : 1;
    size_t dim = in->multi ? in->multi->dim : in->dim;
    float *f;
    if ((e = prepare_copy(p, what, src, count, dim, arena, &f, err, errlen))) return e;
    *out = f;
    *n = (uint32_t)count;
    return 0;
}

/* ---- scoring ---- */

/* A scorer: the plain MaxSim of a query, or a recommendation objective
 * over examples (each a query). All prepared. */
typedef struct {
    MultivecMetric metric;
    size_t dim;
    int strategy; /* -1: plain */
    CollectionMultiVector q;
    const CollectionMultiVector *pos, *neg;
    size_t n_pos, n_neg;
} Scorer;

static float sigmoid_scaled(float x) { return 0.5f * (x / (1.0f + fabsf(x)) + 1.0f); }

static float sim(const Scorer *sc, const CollectionMultiVector *q, const float *d, size_t nd)
{
    return multivec_max_sim(sc->metric, q->data, q->n, d, nd, sc->dim);
}

/* score is the raw score of a point's multivector d (nd vectors): larger
 * is better (Qdrant's raw scores and objectives, recommendations.rs). */
static float score(const Scorer *sc, const float *d, size_t nd)
{
    if (sc->strategy < 0) return sim(sc, &sc->q, d, nd);
    if (sc->strategy == COLLECTION_RECO_BEST_SCORE) {
        float bp = -INFINITY, bn = -INFINITY;
        for (size_t i = 0; i < sc->n_pos; i++) {
            float x = sim(sc, &sc->pos[i], d, nd);
            if (x > bp) bp = x;
        }
        for (size_t i = 0; i < sc->n_neg; i++) {
            float x = sim(sc, &sc->neg[i], d, nd);
            if (x > bn) bn = x;
        }
        return bp > bn ? sigmoid_scaled(bp) : -sigmoid_scaled(bn);
    }
    float sp = 0, sn = 0;
    for (size_t i = 0; i < sc->n_pos; i++) sp += sim(sc, &sc->pos[i], d, nd);
    for (size_t i = 0; i < sc->n_neg; i++) sn += sim(sc, &sc->neg[i], d, nd);
    return sp - sn;
}

typedef struct {
    uint32_t node;
    float raw;
} Hit;

static int cmp_hit(const void *pa, const void *pb)
{
    const Hit *a = pa, *b = pb;
    if (a->raw != b->raw) return a->raw > b->raw ? -1 : 1;
    return a->node < b->node ? -1 : a->node > b->node;
}

/* One exact pass over the points having multivector v. */
typedef struct {
    Collection *c;
    int v;
    StoreTxn *txn;
    const Scorer *sc;
    const PointId *ex; /* never results */
    size_t n_ex;
    float *buf; /* one record, aligned */
    size_t buf_cap;
    Hit *hits;
    size_t n_hits, cap_hits;
    int err;
} Scan;

static int excluded(const Scan *s, const PointId *id)
{
    for (size_t i = 0; i < s->n_ex; i++)
        if (point_id_equal(&s->ex[i], id)) return 1;
    return 0;
}

/* consider scores node's record rec. */
static void consider(Scan *s, uint32_t node, Slice rec)
{
    size_t n = record_count(&s->c->config.vectors[s->v], rec.len);
    if (!n) {
        s->err = ERR_FORMAT;
        return;
    }
    if (rec.len > s->buf_cap) {
        free(s->buf);
        s->buf = xmalloc(rec.len);
        s->buf_cap = rec.len;
    }
    memcpy(s->buf, rec.ptr, rec.len);
    float raw = score(s->sc, s->buf, n);
    if (isnan(raw)) return;
    if (s->n_hits == s->cap_hits) {
        s->cap_hits = s->cap_hits ? s->cap_hits * 2 : 256;
        s->hits = xrealloc(s->hits, s->cap_hits * sizeof *s->hits);
    }
    s->hits[s->n_hits++] = (Hit){ node, raw };
}

/* take_point is the filtered pass's callback: a matching point with the
 * vector, on a node the node table agrees on (it may lag the transaction
 * by one write). */
static int take_point(void *ctx, const ScanRec *r)
{
    Scan *s = ctx;
    Collection *c = s->c;
    if (!(r->mask >> s->v & 1) || excluded(s, &r->id)) return 0;
    if (r->node >= c->node_cap || !c->node_live[r->node] ||
        !point_id_equal(&c->node_ids[r->node], &r->id))
        return 0;
    uint8_t key[STORE_KEY_MAX];
    size_t kl = store_key_node(key, c->cid, (uint16_t)s->v, r->node);
    Slice rec;
    int e = store_get(s->txn, STORE_DB_VECTORS, key, kl, &rec);
    if (e == ERR_NOTFOUND) return 0;
    if (e) {
        s->err = e;
        return 1;
    }
    consider(s, r->node, rec);
    return s->err != 0;
}

/* scan_all scores every point having the vector: through the points the
 * filter matches (which also answers has_id filters by lookups), or
 * without a filter straight along the vector's records, in node order. */
static int scan_all(Scan *s, const Filter *f)
{
    Collection *c = s->c;
    if (!filter_matches_all(f)) {
        int e = coll_scan_points(c, s->txn, f, NULL, take_point, s);
        return e ? e : s->err;
    }
    uint8_t key[STORE_KEY_MAX];
    size_t plen = store_key_index(key, c->cid, (uint16_t)s->v);
    StoreCursor *cur;
    int err = store_cursor_open(s->txn, STORE_DB_VECTORS, &cur);
    if (err) return err;
    Slice k, rec;
    int e;
    for (e = store_cursor_seek(cur, key, plen, &k, &rec); e == 0 && !s->err;
         e = store_cursor_next(cur, &k, &rec)) {
        if (k.len != 10 || memcmp(k.ptr, key, plen) != 0) break;
        uint32_t node = store_get_be32((const uint8_t *)k.ptr + 6);
        if (node >= c->node_cap || !c->node_live[node] || excluded(s, &c->node_ids[node]))
            continue;
        consider(s, node, rec);
    }
    if (e != 0 && e != ERR_NOTFOUND) err = e;
    store_cursor_close(cur);
    return err ? err : s->err;
}

/* fill turns the sorted hits into points: the offset skipped, the score
 * reported as Qdrant reports it and the threshold applied to that. */
static int fill(Scan *s, const CollectionSearch *req, size_t limit, const Output *o, Arena *arena,
                CollectionResult *out)
{
    Collection *c = s->c;
    const CollectionVectorParams *p = &c->config.vectors[s->v];
    int plain = s->sc->strategy < 0;
    int smaller_better = plain && is_distance(p);
    coll_result_init(c, out, arena, limit);
    Scratch sc;
    coll_scratch_init(&sc);
    size_t skipped = 0;
    int err = 0;
    for (size_t i = 0; i < s->n_hits && out->n < limit && !err; i++) {
        float sco = plain ? multivec_postprocess(s->sc->metric, s->hits[i].raw) : s->hits[i].raw;
        if (req->has_score_threshold &&
            (smaller_better ? sco > req->score_threshold : sco < req->score_threshold))
            break;
        uint32_t node = s->hits[i].node;
        ScanRec r;
        int e = coll_point_lookup(c, s->txn, &c->node_ids[node], &r);
        if (e == ERR_NOTFOUND || (!e && r.node != node)) continue; /* deleted meanwhile */
        if (e) {
            err = e;
            break;
        }
        if (skipped < req->offset) {
            skipped++;
            continue;
        }
        err = coll_output_point(c, o, s->txn, &sc, &r, sco, arena, &out->points[out->n++]);
    }
    coll_scratch_free(&sc);
    return err;
}

/* run scores every candidate, sorts and fills the results. */
static int run(Collection *c, int v, const Filter *f, const Scorer *sc, const PointId *ex,
               size_t n_ex, StoreTxn *txn, const CollectionSearch *req, size_t limit,
               const Output *o, Arena *arena, CollectionResult *out)
{
    Scan s = { .c = c, .v = v, .txn = txn, .sc = sc, .ex = ex, .n_ex = n_ex };
    int e = scan_all(&s, f);
    if (!e) {
        if (s.n_hits) qsort(s.hits, s.n_hits, sizeof *s.hits, cmp_hit);
        e = fill(&s, req, limit, o, arena, out);
    }
    free(s.buf);
    free(s.hits);
    return e;
}

/* ---- search ---- */

int coll_multi_search(Db *db, Collection *c, const Filter *f, const CollectionSearch *req,
                      size_t limit, Arena *arena, CollectionResult *out, char *err,
                      size_t errlen)
{
    int v;
    int e = resolve(c, req->using, req->sparse != NULL, &v, err, errlen);
    if (e) return e;
    const CollectionVectorParams *p = &c->config.vectors[v];
    Output o;
    if ((e = coll_output_resolve(c, &req->with_payload, &req->with_vectors, &o, err, errlen)))
        return e;
    const float *src = req->multi ? req->multi->data : req->vector;
    size_t n = req->multi ? req->multi->n : 1;
    size_t dim = req->multi ? req->multi->dim : req->dim;
    float *q;
    if ((e = prepare_copy(p, "query", src, n, dim, arena, &q, err, errlen))) return e;
    Scorer sc = { metric_of(p), p->size, -1, { q, n, p->size }, NULL, NULL, 0, 0 };
    StoreTxn *txn;
    if ((e = store_read_begin(db->store, &txn))) return e;
    e = run(c, v, f, &sc, NULL, 0, txn, req, limit, &o, arena, out);
    store_read_end(txn);
    return e;
}

/* ---- recommend ---- */

/* An example before averaging: a plain vector (raw, given as such) or a
 * multivector (a point's, or given as one). */
typedef struct {
    CollectionMultiVector mv;
    int plain;
} Example;

/* gather collects one side's examples: the points' multivectors, then the
 * raw plain vectors (dim floats each), then the raw multivectors. Raw
 * examples are checked here; all are left unprepared. */
static int gather(Collection *c, StoreTxn *txn, int v, const PointId *ids, size_t n_ids,
                  const float *const *plain, size_t n_plain, size_t dim,
                  const CollectionMultiVector *multi, size_t n_multi, Arena *arena,
                  Example **out, size_t *n_out, char *err, size_t errlen)
{
    const CollectionVectorParams *p = &c->config.vectors[v];
    size_t n = n_ids + n_plain + n_multi;
    Example *ex = arena_calloc(arena, (n ? n : 1) * sizeof *ex);
    size_t k = 0;
    for (size_t i = 0; i < n_ids; i++, k++) {
        ScanRec r;
        char idbuf[POINT_ID_TEXT_MAX];
        int e = coll_point_lookup(c, txn, &ids[i], &r);
        if (e == ERR_NOTFOUND || (!e && !(r.mask >> v & 1)))
            return err_set(err, errlen, ERR_NOTFOUND, "No point with id %s found",
                           point_id_format(&ids[i], idbuf));
        if (!e) e = read_record(c, txn, v, r.node, arena, &ex[k].mv);
        if (e == ERR_NOTFOUND)
            return err_set(err, errlen, ERR_NOTFOUND, "No point with id %s found",
                           point_id_format(&ids[i], idbuf));
        if (e) return e;
    }
    for (size_t i = 0; i < n_plain; i++, k++) {
        if (dim != p->size)
            return err_set(err, errlen, ERR_INVAL,
                           "Vector dimension error: expected dim: %u, got %zu", p->size, dim);
        if (!plain[i] || !vec_is_finite(plain[i], dim))
            return err_set(err, errlen, ERR_INVAL, "example vector contains NaN or Inf");
        ex[k].mv = (CollectionMultiVector){ plain[i], 1, dim };
        ex[k].plain = 1;
    }
    for (size_t i = 0; i < n_multi; i++, k++) {
        const CollectionMultiVector *m = &multi[i];
        if (m->dim != p->size)
            return err_set(err, errlen, ERR_INVAL,
                           "Vector dimension error: expected dim: %u, got %zu", p->size, m->dim);
        if (m->n == 0 || !m->data || !vec_is_finite(m->data, m->n * m->dim))
            return err_set(err, errlen, ERR_INVAL,
                           "example multivector is empty or contains NaN or Inf");
        ex[k].mv = *m;
    }
    *out = ex;
    *n_out = k;
    return 0;
}

/* A growing list of vectors (the average's query). */
typedef struct {
    float *f;
    size_t n; /* vectors */
} Flat;

static void flat_append(Flat *a, const float *src, size_t n, size_t dim, float sign)
{
    a->f = xrealloc(a->f, MAX((a->n + n) * dim, (size_t)1) * sizeof *a->f);
    for (size_t i = 0; i < n * dim; i++) a->f[a->n * dim + i] = sign * src[i];
    a->n += n;
}

/*
 * average is Qdrant's avg_vectors for one side: plain examples are
 * averaged element-wise into one plain vector, multivectors concatenated
 * (Qdrant extends the flattened vectors); the two kinds do not mix.
 * *plain says which kind came out.
 */
static int average(const Example *ex, size_t n, size_t dim, Flat *out, int *plain, char *err,
                   size_t errlen)
{
    size_t n_plain = 0;
    *out = (Flat){ NULL, 0 };
    for (size_t i = 0; i < n; i++) n_plain += ex[i].plain;
    if (n_plain && n_plain != n)
        return err_set(err, errlen, ERR_INVAL, "Can't average vectors with different types");
    *plain = n_plain > 0;
    if (*plain) {
        out->f = xcalloc(dim, sizeof *out->f);
        out->n = 1;
        for (size_t i = 0; i < n; i++)
            for (size_t d = 0; d < dim; d++) out->f[d] += ex[i].mv.data[d];
        for (size_t d = 0; d < dim; d++) out->f[d] /= (float)n;
        return 0;
    }
    for (size_t i = 0; i < n; i++) flat_append(out, ex[i].mv.data, ex[i].mv.n, dim, 1.0f);
    return 0;
}

/* prepare_examples prepares each example (copied into arena) as a query. */
static void prepare_examples(const CollectionVectorParams *p, const Example *ex, size_t n,
                             Arena *arena, CollectionMultiVector *out)
{
    for (size_t i = 0; i < n; i++) {
        size_t len = ex[i].mv.n * p->size;
        float *f = arena_alloc(arena, len * sizeof *f);
        memcpy(f, ex[i].mv.data, len * sizeof *f);
        collection_multivec_prepare(p, f, ex[i].mv.n);
        out[i] = (CollectionMultiVector){ f, ex[i].mv.n, p->size };
    }
}

/* average_query builds average_vector's query (Qdrant's
 * avg_vector_for_recommendation): avg(pos), or with negatives
 * pos + pos - neg for plain vectors and pos followed by -neg for
 * multivectors; prepared, in arena. */
static int average_query(const CollectionVectorParams *p, const Example *pos, size_t n_pos,
                         const Example *neg, size_t n_neg, Arena *arena, CollectionMultiVector *q,
                         char *err, size_t errlen)
{
    size_t dim = p->size;
    Flat ap, an = { NULL, 0 };
    int pp, np = 0;
    int e = average(pos, n_pos, dim, &ap, &pp, err, errlen);
    if (!e && n_neg) e = average(neg, n_neg, dim, &an, &np, err, errlen);
    if (!e && n_neg && pp != np)
        e = err_set(err, errlen, ERR_INVAL,
                    "Positive and negative vectors should be of the same type, either all dense "
                    "or all sparse or all multi");
    if (!e && n_neg) {
        if (pp) {
            for (size_t d = 0; d < dim; d++) ap.f[d] = ap.f[d] + ap.f[d] - an.f[d];
        } else {
            flat_append(&ap, an.f, an.n, dim, -1.0f);
        }
    }
    if (!e && ap.n * dim >= COLLECTION_MAX_MULTIVEC_FLOATS)
        e = err_set(err, errlen, ERR_INVAL, "the examples make a query of %zu values, at most %u",
                    ap.n * dim, COLLECTION_MAX_MULTIVEC_FLOATS - 1);
    if (!e) {
        float *f = arena_alloc(arena, (ap.n ? ap.n : 1) * dim * sizeof *f);
        memcpy(f, ap.f, ap.n * dim * sizeof *f);
        collection_multivec_prepare(p, f, ap.n);
        *q = (CollectionMultiVector){ f, ap.n, dim };
    }
    free(ap.f);
    free(an.f);
    return e;
}

int coll_multi_recommend(Db *db, Collection *c, const Filter *f, const CollectionRecommend *req,
                         size_t limit, Arena *arena, CollectionResult *out, char *err,
                         size_t errlen)
{
    const CollectionSearch *sr = &req->search;
    int has_sparse = req->n_positive_sparse + req->n_negative_sparse > 0;
    int v;
    int e = resolve(c, sr->using, has_sparse, &v, err, errlen);
    if (e) return e;
    const CollectionVectorParams *p = &c->config.vectors[v];
    Output o;
    if ((e = coll_output_resolve(c, &sr->with_payload, &sr->with_vectors, &o, err, errlen)))
        return e;
    StoreTxn *txn;
    if ((e = store_read_begin(db->store, &txn))) return e;
    Example *pos = NULL, *neg = NULL;
    size_t n_pos = 0, n_neg = 0;
    e = gather(c, txn, v, req->positive, req->n_positive, req->positive_vectors,
               req->n_positive_vectors, sr->dim, req->positive_multi, req->n_positive_multi, arena,
               &pos, &n_pos, err, errlen);
    if (!e)
        e = gather(c, txn, v, req->negative, req->n_negative, req->negative_vectors,
                   req->n_negative_vectors, sr->dim, req->negative_multi, req->n_negative_multi,
                   arena, &neg, &n_neg, err, errlen);
    Scorer sc = { metric_of(p), p->size, -1, { NULL, 0, p->size }, NULL, NULL, 0, 0 };
    if (!e && req->strategy == COLLECTION_RECO_AVERAGE_VECTOR) {
        e = average_query(p, pos, n_pos, neg, n_neg, arena, &sc.q, err, errlen);
    } else if (!e) {
        CollectionMultiVector *pq = arena_alloc(arena, (n_pos + 1) * sizeof *pq);
        CollectionMultiVector *nq = arena_alloc(arena, (n_neg + 1) * sizeof *nq);
        prepare_examples(p, pos, n_pos, arena, pq);
        prepare_examples(p, neg, n_neg, arena, nq);
        sc.strategy = (int)req->strategy;
        sc.pos = pq;
        sc.n_pos = n_pos;
        sc.neg = nq;
        sc.n_neg = n_neg;
    }
    if (!e) {
        /* Example points never come back as results. */
        PointId *ex = arena_alloc(arena, (req->n_positive + req->n_negative + 1) * sizeof *ex);
        size_t n_ex = 0;
        for (size_t i = 0; i < req->n_positive; i++) ex[n_ex++] = req->positive[i];
        for (size_t i = 0; i < req->n_negative; i++) ex[n_ex++] = req->negative[i];
        e = run(c, v, f, &sc, ex, n_ex, txn, sr, limit, &o, arena, out);
    }
    store_read_end(txn);
    return e;
}
