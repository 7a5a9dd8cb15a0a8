/*
 * collection_read.c - reading points: scans in id order (optionally
 * filtered), output selection (payload keys, vectors), get, scroll and
 * count.
 *
 * Read path: any thread; the Db list lock and the collection's node-table
 * lock are held shared for the whole operation, which runs in one short
 * LMDB read transaction. Points, payloads and vectors returned are read
 * from that transaction, so an answer is one consistent view even while
 * the writer runs; a graph hit whose point vanished meanwhile is skipped.
 */
#include "store/collection.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/util.h"
#include "index/filter.h"
#include "index/payload.h"
#include "store/collection_internal.h"
#include "store/store.h"

/* ---- scanning points ---- */

static void scratch_trim(Scratch *s)
{
    if (s->arena.total > COLLECTION_SCRATCH_MAX) {
        arena_free(&s->arena);
        arena_init(&s->arena, 16 * 1024);
    }
}

/* coll_payload_parse parses stored payload text; "{}" gives NULL (empty). */
const JsonValue *coll_payload_parse(Scratch *s, const char *text, size_t len)
{
    if (len <= 2) return NULL;
    JsonValue *v;
    scratch_trim(s);
    if (json_parse(&s->arena, text, len, &v, NULL, 0) != 0) return NULL;
    return v;
}

static int rec_decode(uint32_t cid, Slice k, Slice v, ScanRec *r)
{
    (void)cid;
    if (k.len < 4 || v.len < COLLECTION_REC_HEADER) return ERR_FORMAT;
    if (point_id_from_key((const uint8_t *)k.ptr + 4, k.len - 4, &r->id)) return ERR_FORMAT;
    r->node = store_get_le32((const uint8_t *)v.ptr);
    r->mask = store_get_le32((const uint8_t *)v.ptr + 4);
    r->payload = v.ptr + COLLECTION_REC_HEADER;
    r->payload_len = v.len - COLLECTION_REC_HEADER;
    return 0;
}

/* coll_point_lookup reads one point's record. */
int coll_point_lookup(Collection *c, StoreTxn *txn, const PointId *id, ScanRec *r)
{
    uint8_t idkey[POINT_ID_KEY_MAX], key[STORE_KEY_MAX];
    size_t il = point_id_key(id, idkey);
    size_t kl = store_key_point(key, c->cid, idkey, il);
    Slice v;
    int err = store_get(txn, STORE_DB_POINTS, key, kl, &v);
    if (err) return err;
    return rec_decode(c->cid, (Slice){ (const char *)key, kl }, v, r);
}

int coll_filter_accepts(Collection *c, const Filter *f, Scratch *s, const ScanRec *r)
{
    if (filter_matches_all(f)) return 1;
    return coll_filter_node(c, NULL, f, s, r->node, r);
}

static int cmp_id(const void *a, const void *b) { return point_id_cmp(a, b); }

/* index_candidate_ids lists, in id order, the ids of the nodes a payload
 * index names as f's only possible matches, when they are few (at most a
 * sixteenth of the points: then looking them up beats walking them all). */
static int index_candidate_ids(Collection *c, const Filter *f, PointId **ids, size_t *n)
{
    uint32_t *nodes;
    size_t n_nodes;
    if (!filter_candidates(f, c->points_count, c->points_count / 16, &nodes, &n_nodes)) return 0;
    PointId *out = xmalloc((n_nodes ? n_nodes : 1) * sizeof *out);
    size_t k = 0;
    for (size_t i = 0; i < n_nodes; i++)
        if (nodes[i] < c->node_cap && c->node_live[nodes[i]]) out[k++] = c->node_ids[nodes[i]];
    free(nodes);
    qsort(out, k, sizeof *out, cmp_id);
    *ids = out;
    *n = k;
    return 1;
}

/*
 * coll_scan_points calls fn for every point matching f in id order, from start
 * (NULL: the first). A has_id filter, or a payload index naming few
 * candidates, is answered by direct lookups.
 */
int coll_scan_points(Collection *c, StoreTxn *txn, const Filter *f, const PointId *start,
                     ScanFn fn, void *ctx)
{
    Scratch s;
    coll_scratch_init(&s);
    int err = 0;
    const PointId *cand;
    size_t n_cand;
    PointId *owned = NULL;
    if (filter_id_candidates(f, &cand, &n_cand) ||
        (index_candidate_ids(c, f, &owned, &n_cand) && (cand = owned, 1))) {
        for (size_t i = 0; i < n_cand; i++) {
            if (start && point_id_cmp(&cand[i], start) < 0) continue;
            ScanRec r;
            int e = coll_point_lookup(c, txn, &cand[i], &r);
            if (e == ERR_NOTFOUND) continue;
            if (e) {
                err = e;
                break;
            }
            if (coll_filter_accepts(c, f, &s, &r) && fn(ctx, &r)) break;
        }
        free(owned);
        coll_scratch_free(&s);
        return err;
    }
    uint8_t key[STORE_KEY_MAX], idkey[POINT_ID_KEY_MAX];
    size_t plen = store_key_cid(key, c->cid), kl = plen;
    if (start) kl = store_key_point(key, c->cid, idkey, point_id_key(start, idkey));
    StoreCursor *cur;
    if ((err = store_cursor_open(txn, STORE_DB_POINTS, &cur))) {
        coll_scratch_free(&s);
        return err;
    }
    Slice k, v;
    int e;
    for (e = store_cursor_seek(cur, key, kl, &k, &v); e == 0; e = store_cursor_next(cur, &k, &v)) {
        if (k.len < plen || memcmp(k.ptr, key, plen) != 0) break;
        ScanRec r;
        if (rec_decode(c->cid, k, v, &r)) {
            err = ERR_FORMAT;
            break;
        }
        if (coll_filter_accepts(c, f, &s, &r) && fn(ctx, &r)) break;
    }
    if (!err && e != 0 && e != ERR_NOTFOUND) err = e;
    store_cursor_close(cur);
    coll_scratch_free(&s);
    return err;
}

/* coll_compile_filter compiles a JSON filter (NULL: none). */
int coll_compile_filter(const JsonValue *json, Filter **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!json) return 0;
    return filter_compile(json, out, err, errlen);
}

/* coll_query_begin starts a filtered read: it compiles the filter, then takes the
 * read locks of the collection. On failure nothing is held or owned; on
 * success the caller frees *f and calls coll_read_end. */
int coll_query_begin(Db *db, const char *name, const JsonValue *filter, Collection **c,
                     Filter **f, char *err, size_t errlen)
{
    int e = coll_compile_filter(filter, f, err, errlen);
    if (e) return e;
    if ((e = coll_read_begin(db, name, c, err, errlen))) {
        filter_free(*f);
        *f = NULL;
        return e;
    }
    coll_filter_bind(*c, *f, 1);
    return 0;
}

/* ---- output ---- */

int coll_output_resolve(Collection *c, const CollectionSelector *wp,
                        const CollectionSelector *wv, Output *o, char *err, size_t errlen)
{
    static const CollectionSelector none = { COLLECTION_SEL_NONE, NULL, 0 };
    o->payload = wp ? wp : &none;
    o->vector_mask = 0;
    if (!wv || wv->mode == COLLECTION_SEL_NONE) return 0;
    if (wv->mode == COLLECTION_SEL_ALL) {
        o->vector_mask = ((1u << c->config.n_vectors) - 1) | COLL_SPARSE_MASK(c->config.n_sparse);
        return 0;
    }
    if (wv->mode != COLLECTION_SEL_INCLUDE)
        return err_set(err, errlen, ERR_INVAL, "with_vector: expected true, false or names");
    for (size_t i = 0; i < wv->n_keys; i++) {
        int s = coll_sparse_index(c, wv->keys[i]);
        if (s >= 0) {
            o->vector_mask |= 1u << COLL_SPARSE_SLOT(s);
            continue;
        }
        int v = coll_vector_index(c, wv->keys[i], err, errlen);
        if (v < 0) return v;
        o->vector_mask |= 1u << v;
    }
    return 0;
}

/* output_payload copies the selected part of a stored payload into arena. */
static void output_payload(const Output *o, Scratch *s, const ScanRec *r, Arena *arena,
                           CollectionPoint *p)
{
    const CollectionSelector *sel = o->payload;
    if (sel->mode == COLLECTION_SEL_NONE) return;
    if (sel->mode == COLLECTION_SEL_ALL) {
        p->payload = arena_strndup(arena, r->payload, r->payload_len);
        p->payload_len = r->payload_len;
        return;
    }
    const JsonValue *doc = coll_payload_parse(s, r->payload, r->payload_len);
    Buf b;
    buf_init(&b);
    JsonWriter w;
    jw_init(&w, &b);
    /* The paths were checked when the selector was made (an unparsable
     * one selects nothing here). */
    if (payload_select(&w, doc, sel->keys, sel->n_keys, sel->mode == COLLECTION_SEL_INCLUDE,
                       &s->arena, NULL, 0)) {
        b.len = 0;
        buf_append_str(&b, "{}");
    }
    p->payload = arena_strndup(arena, b.data, b.len);
    p->payload_len = b.len;
    buf_free(&b);
}

static int output_vectors(Collection *c, const Output *o, StoreTxn *txn, const ScanRec *r,
                          Arena *arena, CollectionPoint *p)
{
    uint32_t want = o->vector_mask & r->mask;
    if (!o->vector_mask) return 0;
    /* Never NULL once selected, even without dense vectors. */
    p->vectors = arena_calloc(arena, (size_t)MAX(c->config.n_vectors, 1) * sizeof *p->vectors);
    for (int v = 0; v < c->config.n_vectors; v++) {
        if (!(want >> v & 1) || coll_is_multi(c, v)) continue; /* multivectors: below */
        size_t bytes = c->config.vectors[v].size * sizeof(float);
        float *f = arena_alloc(arena, bytes);
        const float *vec;
        int err = coll_vector_get(c, txn, v, r->node, f, &vec);
        if (err == ERR_NOTFOUND) continue;
        if (err) return err;
        if (vec != f) memcpy(f, vec, bytes);
        p->vectors[v] = f;
    }
    int err = coll_multi_output(c, want, txn, r->node, arena, p);
    return err ? err : coll_sparse_output(c, want, txn, r->node, arena, p);
}

int coll_output_point(Collection *c, const Output *o, StoreTxn *txn, Scratch *s,
                      const ScanRec *r, float score, Arena *arena, CollectionPoint *p)
{
    memset(p, 0, sizeof *p);
    p->id = r->id;
    p->score = score;
    output_payload(o, s, r, arena, p);
    return output_vectors(c, o, txn, r, arena, p);
}

void coll_result_init(Collection *c, CollectionResult *out, Arena *arena, size_t cap)
{
    memset(out, 0, sizeof *out);
    out->config = c->config;
    out->points = arena_calloc(arena, (cap ? cap : 1) * sizeof *out->points);
}

/* ---- get, scroll, count ---- */

int collection_get(Db *db, const char *name, const PointId *ids, size_t n,
                   const CollectionSelector *with_payload, const CollectionSelector *with_vectors,
                   Arena *arena, CollectionResult *out)
{
    Collection *c;
    int err = coll_read_begin(db, name, &c, NULL, 0);
    if (err) return err;
    Output o;
    if ((err = coll_output_resolve(c, with_payload, with_vectors, &o, NULL, 0))) {
        coll_read_end(db, c);
        return err;
    }
    coll_result_init(c, out, arena, n);
    StoreTxn *txn;
    if ((err = store_read_begin(db->store, &txn))) {
        coll_read_end(db, c);
        return err;
    }
    Scratch s;
    coll_scratch_init(&s);
    for (size_t i = 0; i < n && !err; i++) {
        ScanRec r;
        int e = coll_point_lookup(c, txn, &ids[i], &r);
        if (e == ERR_NOTFOUND) continue;
        if (e) err = e;
        else err = coll_output_point(c, &o, txn, &s, &r, 0, arena, &out->points[out->n++]);
    }
    coll_scratch_free(&s);
    store_read_end(txn);
    coll_read_end(db, c);
    return err;
}

typedef struct {
    Collection *c;
    const Output *o;
    StoreTxn *txn;
    Scratch s;
    Arena *arena;
    CollectionResult *out;
    size_t limit;
    int err;
} ScrollCtx;

static int scroll_take(void *vctx, const ScanRec *r)
{
    ScrollCtx *x = vctx;
    if (x->out->n == x->limit) {
        x->out->has_next = 1;
        x->out->next_offset = r->id;
        return 1;
    }
    x->err = coll_output_point(x->c, x->o, x->txn, &x->s, r, 0, x->arena, &x->out->points[x->out->n++]);
    return x->err != 0;
}

int collection_scroll(Db *db, const char *name, const CollectionScroll *req, Arena *arena,
                      CollectionResult *out, char *err, size_t errlen)
{
    size_t limit = req->limit ? req->limit : COLLECTION_DEFAULT_LIMIT;
    Filter *f;
    Collection *c;
    int e = coll_query_begin(db, name, req->filter, &c, &f, err, errlen);
    if (e) return e;
    /* Any limit is valid (Qdrant's u64): a large one is bounded by the
     * points there are, which the read lock holds still. */
    if (limit > COLLECTION_MAX_LIMIT && limit > c->points_count)
        limit = c->points_count ? (size_t)c->points_count : 1;
    Output o;
    e = coll_output_resolve(c, &req->with_payload, &req->with_vectors, &o, err, errlen);
    StoreTxn *txn = NULL;
    if (!e) e = store_read_begin(db->store, &txn);
    if (!e) {
        coll_result_init(c, out, arena, limit);
        ScrollCtx x = { c, &o, txn, { { 0 } }, arena, out, limit, 0 };
        coll_scratch_init(&x.s);
        e = coll_scan_points(c, txn, f, req->offset, scroll_take, &x);
        if (!e) e = x.err;
        coll_scratch_free(&x.s);
        store_read_end(txn);
    }
    coll_read_end(db, c);
    filter_free(f);
    return e;
}

static int count_one(void *ctx, const ScanRec *r)
{
    (void)r;
    (*(uint64_t *)ctx)++;
    return 0;
}

static int count_node(void *ctx, uint32_t node)
{
    (void)node;
    (*(uint64_t *)ctx)++;
    return 0;
}

int collection_count(Db *db, const char *name, const JsonValue *filter, uint64_t *count,
                     char *err, size_t errlen)
{
    Filter *f;
    Collection *c;
    int e = coll_query_begin(db, name, filter, &c, &f, err, errlen);
    if (e) return e;
    *count = 0;
    if (filter_matches_all(f)) {
        *count = c->points_count;
    } else {
        StoreTxn *txn;
        if (!(e = store_read_begin(db->store, &txn))) {
            /* Index candidates pay off while they are fewer than the
             * points a scan would parse; without payload reads, always. */
            uint64_t max = filter_needs_payload(f) ? c->points_count / 2 : c->points_count;
            int done = coll_filter_nodes(c, txn, f, max, count_node, count);
            if (done < 0) e = done;
            else if (!done) e = coll_scan_points(c, txn, f, NULL, count_one, count);
            store_read_end(txn);
        }
    }
    coll_read_end(db, c);
    filter_free(f);
    return e;
}
