/*
 * collection_write.c - changing points: groups of writes (upsert, delete,
 * payload and vector updates), each group one LMDB transaction.
 *
 * Write path (one writer at a time, Db.write), per group:
 *   1. prepare: resolve each write's collection, validate every operation
 *      and prepare its values (payload text, normalised vectors, compiled
 *      filters) without touching the store. A write that fails here gets
 *      its status and takes no further part.
 *   2. one LMDB write transaction:
 *      a. saves the graph records the previous groups dirtied and deletes
 *         their pending markers (the deferred half of the last commit);
 *      b. applies each write in a sub-transaction (LMDB nested
 *         transaction): points, vectors and a pending marker per touched
 *         node; reads inside see the writes before. A write that fails
 *         (a missing point, a bad payload path, a storage error of its
 *         own) is aborted alone, with its node allocations rolled back;
 *      c. stores the next operation id;
 *      and commits: one fsync for the whole group.
 *   3. durable hooks; then the node table and the graphs change in memory,
 *      write by write in order (they never run ahead of LMDB), marking the
 *      graph records they change dirty and the nodes pending; then visible
 *      hooks.
 *   The dirty records are saved by step 2a of the next group, or by
 *   collection_db_flush when the writer goes idle. At any commit the saved
 *   graph is therefore the in-memory graph as of the previous group (a
 *   consistent whole), and the pending markers name exactly the nodes the
 *   groups since then touched: what an open after a crash replays (see
 *   collection_open.c).
 *
 * Why sub-transactions rather than validating everything first: the
 * operations of a write see each other (an upsert then a set_payload of the
 * same point, a delete by filter after an upsert), so whether a later
 * operation fails depends on the earlier ones' effects. Checking that
 * without writing would mean simulating the store; a nested transaction is
 * LMDB's own rollback for exactly this, and costs a page-list copy per
 * write, small next to the fsync it shares.
 *
 * Node ids: allocated inside the transaction from the free list as of the
 * group's start (never from nodes freed by the same group) and then from
 * node_high; Collection.g_free_taken / g_high hold the group's position,
 * restored when a write aborts and applied to the free list after the
 * commit.
 */
#include "store/collection.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "base/util.h"
#include "base/vec.h"
#include "index/filter.h"
#include "index/payload.h"
#include "store/collection_internal.h"
#include "store/store.h"

/* The meta record holding the next operation id (u64). */
#define COLL_META_NEXT_OP "next_op"

/* ---- a group, prepared ---- */

/* One point of an upsert or update_vectors, validated and prepared. */
typedef struct {
    PointId id;
    uint32_t mask;                            /* vectors given */
    const float *vec[COLLECTION_MAX_VECTORS]; /* prepared (normalised) */
    const char *payload;                      /* upsert: the JSON text */
    size_t payload_len;
    /* [config.n_sparse] prepared (sorted) where the mask has the slot
     * (collection_sparse.c); NULL when the point gives no sparse vector. */
    CollectionSparseVector *sparse;
    /* [config.n_vectors] how many vectors vec[v] holds where v is a
     * multivector (collection_multivec.c); NULL when none is given. */
    uint32_t *multi_n;
    const void *blob; /* upsert: the caller's blob (read inside the transaction only) */
    size_t blob_len;
} PrepPoint;

typedef struct {
    CollectionOpKind kind;
    PrepPoint *points; /* upsert, update_vectors */
    size_t n_points;
    const PointId *ids; /* NULL: by filter */
    size_t n_ids;
    Filter *filter;           /* compiled; NULL matches every point */
    const JsonValue *payload; /* set / overwrite */
    const char *key;          /* set */
    const JsonValue *keys;    /* delete payload */
    uint32_t vmask;           /* delete vectors */
    CollectionUpdateMode update_mode; /* upsert */
    Filter *update_filter;    /* upsert, update vectors: compiled; NULL: none */
} PrepOp;

/* What a committed write does to memory, per point, in order. */
enum { EFF_INSERT, EFF_REPLACE, EFF_DELETE, EFF_VECTORS, EFF_PAYLOAD };

typedef struct {
    uint32_t node;
    int kind;
    uint32_t clear;     /* EFF_VECTORS: vectors removed */
    const PrepPoint *p; /* INSERT, REPLACE, VECTORS: the vectors set (p->mask) */
    PointId id;
    const char *payload; /* EFF_PAYLOAD: the new payload text (group arena) */
    size_t payload_len;
} Effect;

typedef struct {
    CollectionWrite *w;
    Collection *c; /* NULL: the collection does not exist */
    PrepOp *ops;
    size_t n_ops;
    int prep_status; /* the preparation's verdict (0: go ahead) */
    size_t eff_begin, eff_end;
} GroupWrite;

typedef struct {
    Db *db;
    Arena arena;
    GroupWrite *gw;
    size_t n;
    Effect *eff;
    size_t n_eff, cap_eff;
    /* Scratch for payload edits inside the transaction. */
    Scratch s;
    Buf buf;
    /* Dense vectors of the operation being applied, by vector index
     * (put_vectors, vectors_flush). */
    CollVecPut *vput[COLLECTION_MAX_VECTORS];
    size_t n_vput[COLLECTION_MAX_VECTORS], cap_vput[COLLECTION_MAX_VECTORS];
    /* How the write being applied changes its collection's payload bytes
     * (kept when its sub-transaction commits). */
    int64_t payload_delta;
} Group;

static void effect_add(Group *g, int kind, uint32_t node, const PointId *id, const PrepPoint *p,
                       uint32_t clear)
{
    if (g->n_eff == g->cap_eff) {
        g->cap_eff = g->cap_eff ? g->cap_eff * 2 : 256;
        g->eff = xrealloc(g->eff, g->cap_eff * sizeof *g->eff);
    }
    g->eff[g->n_eff++] = (Effect){ node, kind, clear, p, *id, NULL, 0 };
}

/* prepare_vector validates one input vector and copies it (normalised for
 * cosine) into arena. */
static int prepare_vector(Collection *c, const char *what, const CollectionVectorIn *in,
                          Arena *arena, int *vidx, const float **out, char *err, size_t errlen)
{
    int v = coll_vector_index(c, in->name, err, errlen);
    if (v < 0) return v;
    const CollectionVectorParams *p = &c->config.vectors[v];
    if (!in->data || in->dim != p->size)
        return err_set(err, errlen, ERR_INVAL, "Vector dimension error: expected dim: %u, got %zu",
                       p->size, in->dim);
    if (!vec_is_finite(in->data, in->dim))
        return err_set(err, errlen, ERR_INVAL, "%s: vector \"%s\" contains NaN or Inf", what,
                       p->name);
    float *f = arena_alloc(arena, in->dim * sizeof *f);
    memcpy(f, in->data, in->dim * sizeof *f);
    /* Qdrant normalises cosine vectors at upsert; a zero vector stays
     * zero (vec_normalize leaves it untouched). */
    if (p->distance == COLLECTION_COSINE) vec_normalize(f, in->dim);
    *vidx = v;
    *out = f;
    return 0;
}

/* prepare_sparse validates one sparse input vector into pp->sparse. */
static int prepare_sparse(Group *g, Collection *c, const char *what, const CollectionVectorIn *in,
                          PrepPoint *pp, char *err, size_t errlen)
{
    CollectionSparseVector sv;
    int s;
    int e = coll_sparse_prepare(c, what, in, &g->arena, &s, &sv, err, errlen);
    if (e) return e;
    if (pp->mask >> COLL_SPARSE_SLOT(s) & 1)
        return err_set(err, errlen, ERR_INVAL, "%s: vector \"%s\" given twice", what,
                       c->config.sparse[s].name);
    if (!pp->sparse) pp->sparse = arena_calloc(&g->arena, (size_t)c->config.n_sparse * sizeof sv);
    pp->sparse[s] = sv;
    pp->mask |= 1u << COLL_SPARSE_SLOT(s);
    return 0;
}

/* prepare_points validates the points of an upsert (with_payload) or an
 * update_vectors (vectors only, at least one each). */
static int prepare_points(Group *g, Collection *c, const CollectionOp *op, int upsert,
                          PrepOp *out, char *err, size_t errlen)
{
    if (op->n_points > COLLECTION_MAX_BATCH)
        return err_set(err, errlen, ERR_TOOLARGE, "at most %d points per batch",
                       COLLECTION_MAX_BATCH);
    if (op->n_points && !op->points) return err_set(err, errlen, ERR_INVAL, "points missing");
    out->points = arena_calloc(&g->arena, (op->n_points ? op->n_points : 1) * sizeof *out->points);
    out->n_points = op->n_points;
    for (size_t i = 0; i < op->n_points; i++) {
        const CollectionPointIn *p = &op->points[i];
        PrepPoint *pp = &out->points[i];
        char what[64 + POINT_ID_TEXT_MAX];
        char idbuf[POINT_ID_TEXT_MAX];
        if (p->id.kind != POINT_ID_NUM && p->id.kind != POINT_ID_UUID)
            return err_set(err, errlen, ERR_INVAL, "point %zu: invalid id", i);
        snprintf(what, sizeof what, "point %s", point_id_format(&p->id, idbuf));
        pp->id = p->id;
        if (upsert && p->payload && p->payload->type != JSON_OBJECT &&
            p->payload->type != JSON_NULL)
            return err_set(err, errlen, ERR_INVAL, "%s: payload must be a JSON object", what);
        if (!upsert && p->n_vectors == 0)
            return err_set(err, errlen, ERR_INVAL, "%s: no vector to update", what);
        for (size_t j = 0; j < p->n_vectors; j++) {
            if (p->vectors[j].sparse) {
                int e = prepare_sparse(g, c, what, &p->vectors[j], pp, err, errlen);
                if (e) return e;
                continue;
            }
            int v = 0;
            const float *f = NULL;
            int e;
            if (p->vectors[j].multi || coll_multi_index(c, p->vectors[j].name) >= 0) {
                uint32_t n = 0;
                e = coll_multi_prepare(c, what, &p->vectors[j], &g->arena, &v, &f, &n, err,
                                       errlen);
                if (!e && !pp->multi_n)
                    pp->multi_n = arena_calloc(&g->arena, (size_t)c->config.n_vectors * sizeof n);
                if (!e) pp->multi_n[v] = n;
            } else {
                e = prepare_vector(c, what, &p->vectors[j], &g->arena, &v, &f, err, errlen);
            }
            if (e) return e;
            if (pp->mask >> v & 1)
                return err_set(err, errlen, ERR_INVAL, "%s: vector \"%s\" given twice", what,
                               c->config.vectors[v].name);
            pp->mask |= 1u << v;
            pp->vec[v] = f;
        }
        if (!upsert) continue;
        const CollectionBlob *blob = op->blobs && op->blobs[i].data ? &op->blobs[i] : NULL;
        if (blob && blob->len > COLLECTION_MAX_BLOB)
            return err_set(err, errlen, ERR_TOOLARGE, "%s: blob of %zu bytes (at most %d)", what,
                           blob->len, COLLECTION_MAX_BLOB);
        pp->blob = blob ? blob->data : NULL;
        pp->blob_len = blob ? blob->len : 0;
        if (p->payload && p->payload->type == JSON_OBJECT) {
            g->buf.len = 0;
            JsonWriter w;
            jw_init(&w, &g->buf);
            jw_value(&w, p->payload);
            pp->payload = arena_strndup(&g->arena, g->buf.data, g->buf.len);
            pp->payload_len = g->buf.len;
        } else {
            pp->payload = "{}";
            pp->payload_len = 2;
        }
    }
    return 0;
}

/* prepare_op validates one operation against collection c. */
static int prepare_op(Group *g, Collection *c, const CollectionOp *op, PrepOp *out, char *err,
                      size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->kind = op->kind;
    switch (op->kind) {
    case COLLECTION_OP_UPSERT:
    case COLLECTION_OP_UPDATE_VECTORS: {
        int e = prepare_points(g, c, op, op->kind == COLLECTION_OP_UPSERT, out, err, errlen);
        out->update_mode = op->update_mode;
        if (!e && op->update_filter && op->update_filter->type != JSON_NULL) {
            e = coll_compile_filter(op->update_filter, &out->update_filter, err, errlen);
            /* Read inside the transaction, as the filters below. */
            if (!e && c) coll_filter_bind(c, out->update_filter, 0);
        }
        return e;
    }
    case COLLECTION_OP_SET_PAYLOAD:
    case COLLECTION_OP_OVERWRITE_PAYLOAD:
        if (!op->payload || op->payload->type != JSON_OBJECT)
            return err_set(err, errlen, ERR_INVAL, "payload must be a JSON object");
        out->payload = op->payload;
        out->key = op->kind == COLLECTION_OP_SET_PAYLOAD ? op->key : NULL;
        break;
    case COLLECTION_OP_DELETE_PAYLOAD:
        if (!op->keys || op->keys->type != JSON_ARRAY)
            return err_set(err, errlen, ERR_INVAL, "keys must be an array of strings");
        out->keys = op->keys;
        break;
    case COLLECTION_OP_DELETE_VECTORS:
        if (!op->n_vector_names || !op->vector_names)
            return err_set(err, errlen, ERR_INVAL, "no vector names given");
        for (size_t i = 0; i < op->n_vector_names; i++) {
            int s = coll_sparse_index(c, op->vector_names[i]);
            if (s >= 0) {
                out->vmask |= 1u << COLL_SPARSE_SLOT(s);
                continue;
            }
            int v = coll_vector_index(c, op->vector_names[i], err, errlen);
            if (v < 0) return v;
            out->vmask |= 1u << v;
        }
        break;
    case COLLECTION_OP_DELETE:
    case COLLECTION_OP_CLEAR_PAYLOAD: break;
    default: return err_set(err, errlen, ERR_INVAL, "unknown operation %d", (int)op->kind);
    }
    /* Every kind but the point lists selects points by ids or filter. */
    if (op->ids) {
        if (op->n_ids > COLLECTION_MAX_BATCH)
            return err_set(err, errlen, ERR_TOOLARGE, "at most %d ids per operation",
                           COLLECTION_MAX_BATCH);
        out->ids = op->ids;
        out->n_ids = op->n_ids;
        return 0;
    }
    int e = coll_compile_filter(op->filter, &out->filter, err, errlen);
    /* The filter runs inside the transaction, which sees the group's
     * earlier writes while the payload indexes do not yet: it reads
     * payloads (keeping a text index's token semantics). */
    if (!e && c) coll_filter_bind(c, out->filter, 0);
    return e;
}

/* ---- a group, applied inside the transaction ---- */

/* alloc_node hands out a node inside the group's transaction without
 * changing the collection's lists: the group's position is applied to
 * them only after the commit (group_apply_nodes). */
static uint32_t alloc_node(Collection *c)
{
    if (c->g_free_taken < c->n_free) return c->free_nodes[c->n_free - 1 - c->g_free_taken++];
    return c->g_high++;
}

static int put_pending(StoreTxn *txn, Collection *c, uint32_t node)
{
    uint8_t key[STORE_KEY_MAX];
    size_t pk = store_key_pending(key, c->cid, node);
    return store_put(txn, STORE_DB_PENDING, key, pk, "", 0);
}

/* put_vectors queues node's dense vectors for vectors_flush, which
 * stores every vector of an operation block by block. */
static void put_vectors(Group *g, Collection *c, uint32_t node, const PrepPoint *p)
{
    for (int v = 0; v < c->config.n_vectors; v++) {
        if (!(p->mask >> v & 1) || coll_is_multi(c, v)) continue; /* coll_multi_put's */
        if (g->n_vput[v] == g->cap_vput[v]) {
            g->cap_vput[v] = g->cap_vput[v] ? g->cap_vput[v] * 2 : 64;
            g->vput[v] = xrealloc(g->vput[v], g->cap_vput[v] * sizeof *g->vput[v]);
        }
        g->vput[v][g->n_vput[v]++] = (CollVecPut){ .node = node, .vec = p->vec[v] };
    }
}

/* vectors_flush writes the vectors put_vectors queued (nothing in the
 * operation reads them back before: vectors are read by node, outside
 * the write path). */
static int vectors_flush(Group *g, Collection *c, StoreTxn *txn, int err)
{
    /* A failed operation's queue is dropped: its sub-transaction aborts. */
    for (int v = 0; v < c->config.n_vectors; v++) {
        if (!err) err = coll_vectors_put(txn, c, v, g->vput[v], g->n_vput[v]);
        g->n_vput[v] = 0;
    }
    return err;
}

/* put_blob stores a point's blob, or deletes the one it had (key: the
 * point's key). */
static int put_blob(StoreTxn *txn, const uint8_t *key, size_t kl, const void *blob, size_t len)
{
    if (blob) return store_put(txn, STORE_DB_BLOBS, key, kl, blob, len);
    int err = store_del(txn, STORE_DB_BLOBS, key, kl);
    return err == ERR_NOTFOUND ? 0 : err;
}

/* update_filter_rejects: does the existing point record old fail op's
 * update filter (so the operation leaves that point alone)? */
static int update_filter_rejects(Group *g, Collection *c, const PrepOp *op, const PointId *id,
                                 Slice old)
{
    if (!op->update_filter) return 0;
    ScanRec r = { .id = *id,
                  .node = store_get_le32((const uint8_t *)old.ptr),
                  .mask = store_get_le32((const uint8_t *)old.ptr + 4),
                  .payload = old.ptr + COLLECTION_REC_HEADER,
                  .payload_len = old.len - COLLECTION_REC_HEADER };
    return !coll_filter_accepts(c, op->update_filter, &g->s, &r);
}

static int apply_upsert(Group *g, Collection *c, const PrepOp *op, StoreTxn *txn,
                        CollectionWrite *w)
{
    uint8_t key[STORE_KEY_MAX], idkey[POINT_ID_KEY_MAX], head[COLLECTION_REC_HEADER];
    for (size_t i = 0; i < op->n_points; i++) {
        const PrepPoint *p = &op->points[i];
        size_t kl = store_key_point(key, c->cid, idkey, point_id_key(&p->id, idkey));
        Slice old;
        int err = store_get(txn, STORE_DB_POINTS, key, kl, &old);
        uint32_t node;
        int kind;
        if (err == 0 && old.len >= COLLECTION_REC_HEADER) {
            if (op->update_mode == COLLECTION_UPSERT_INSERT_ONLY ||
                update_filter_rejects(g, c, op, &p->id, old))
                continue;
            node = store_get_le32((const uint8_t *)old.ptr);
            kind = EFF_REPLACE;
        } else if (err == 0) {
            return ERR_FORMAT;
        } else if (err == ERR_NOTFOUND) {
            if (op->update_mode == COLLECTION_UPSERT_UPDATE_ONLY) continue;
            node = alloc_node(c);
            if (node >= HNSW_MAX_NODES)
                return err_set(w->err, sizeof w->err, ERR_FULL,
                               "collection %s holds the most points it can", c->name);
            kind = EFF_INSERT;
        } else {
            return err;
        }
        store_put_le32(head, node);
        store_put_le32(head + 4, p->mask);
        if (kind == EFF_REPLACE) g->payload_delta -= (int64_t)(old.len - COLLECTION_REC_HEADER);
        g->payload_delta += (int64_t)p->payload_len;
        err = store_put2(txn, STORE_DB_POINTS, key, kl, head, sizeof head, p->payload,
                         p->payload_len);
        if (!err) put_vectors(g, c, node, p);
        if (!err && c->config.n_sparse)
            err = coll_sparse_put(txn, c, node, COLL_SPARSE_ALL(c), p->mask, p->sparse);
        if (!err && coll_multi_mask(c))
            err = coll_multi_put(txn, c, node, coll_multi_mask(c), p->mask, p->vec, p->multi_n);
        if (!err) err = put_pending(txn, c, node);
        if (!err && (p->blob || kind == EFF_REPLACE)) err = put_blob(txn, key, kl, p->blob, p->blob_len);
        if (err) return err;
        effect_add(g, kind, node, &p->id, p, 0);
        w->n_affected++;
    }
    return 0;
}

/* Collecting ids from a scan. */
typedef struct {
    PointId *ids;
    size_t n, cap;
} IdList;

static int collect_id(void *ctx, const ScanRec *r)
{
    IdList *l = ctx;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 256;
        l->ids = xrealloc(l->ids, l->cap * sizeof *l->ids);
    }
    l->ids[l->n++] = r->id;
    return 0;
}

/* select_ids resolves an operation's points: its ids, or the ids its
 * filter matches in txn (which sees the write's earlier operations). The
 * list is owned by *l when it was scanned. */
static int select_ids(Collection *c, const PrepOp *op, StoreTxn *txn, IdList *l,
                      const PointId **ids, size_t *n)
{
    if (op->ids) {
        *ids = op->ids;
        *n = op->n_ids;
        return 0;
    }
    int err = coll_scan_points(c, txn, op->filter, NULL, collect_id, l);
    *ids = l->ids;
    *n = l->n;
    return err;
}

static int apply_delete(Group *g, Collection *c, const PrepOp *op, StoreTxn *txn,
                        CollectionWrite *w)
{
    IdList l = { 0 };
    const PointId *ids;
    size_t n;
    uint8_t key[STORE_KEY_MAX], idkey[POINT_ID_KEY_MAX];
    int err = select_ids(c, op, txn, &l, &ids, &n);
    for (size_t i = 0; i < n && !err; i++) {
        size_t kl = store_key_point(key, c->cid, idkey, point_id_key(&ids[i], idkey));
        Slice v;
        err = store_get(txn, STORE_DB_POINTS, key, kl, &v);
        if (err == ERR_NOTFOUND) {
            err = 0; /* deleting a missing point is no error (Qdrant's too) */
            continue;
        }
        if (err) break;
        if (v.len < COLLECTION_REC_HEADER) {
            err = ERR_FORMAT;
            break;
        }
        uint32_t node = store_get_le32((const uint8_t *)v.ptr);
        g->payload_delta -= (int64_t)(v.len - COLLECTION_REC_HEADER);
        err = store_del(txn, STORE_DB_POINTS, key, kl);
        if (!err && c->config.n_sparse)
            err = coll_sparse_put(txn, c, node, COLL_SPARSE_ALL(c), 0, NULL);
        if (!err && coll_multi_mask(c))
            err = coll_multi_put(txn, c, node, coll_multi_mask(c), 0, NULL, NULL);
        if (!err) err = put_blob(txn, key, kl, NULL, 0);
        if (!err) err = put_pending(txn, c, node);
        if (!err) {
            effect_add(g, EFF_DELETE, node, &ids[i], NULL, 0);
            w->n_affected++;
        }
    }
    free(l.ids);
    return err;
}

static int point_missing(CollectionWrite *w, const PointId *id)
{
    char idbuf[POINT_ID_TEXT_MAX];
    return err_set(w->err, sizeof w->err, ERR_NOTFOUND, "No point with id %s found",
                   point_id_format(id, idbuf));
}

/* apply_payload runs a set / overwrite / delete / clear payload operation. */
static int apply_payload(Group *g, Collection *c, const PrepOp *op, StoreTxn *txn,
                         CollectionWrite *w)
{
    IdList l = { 0 };
    const PointId *ids;
    size_t n;
    uint8_t key[STORE_KEY_MAX], idkey[POINT_ID_KEY_MAX];
    int err = select_ids(c, op, txn, &l, &ids, &n);
    for (size_t i = 0; i < n && !err; i++) {
        size_t kl = store_key_point(key, c->cid, idkey, point_id_key(&ids[i], idkey));
        Slice v;
        err = store_get(txn, STORE_DB_POINTS, key, kl, &v);
        if (err == ERR_NOTFOUND) err = point_missing(w, &ids[i]);
        if (err) break;
        if (v.len < COLLECTION_REC_HEADER) {
            err = ERR_FORMAT;
            break;
        }
        uint8_t head[COLLECTION_REC_HEADER];
        memcpy(head, v.ptr, sizeof head);
        const JsonValue *old =
            coll_payload_parse(&g->s, v.ptr + sizeof head, v.len - sizeof head);
        JsonValue *nv = NULL;
        switch (op->kind) {
        case COLLECTION_OP_SET_PAYLOAD:
            err = payload_set(&g->s.arena, old, op->payload, op->key, &nv, w->err,
                              sizeof w->err);
            break;
        case COLLECTION_OP_OVERWRITE_PAYLOAD: nv = (JsonValue *)op->payload; break;
        case COLLECTION_OP_DELETE_PAYLOAD:
            err = payload_delete_keys(&g->s.arena, old, op->keys, &nv, w->err, sizeof w->err);
            break;
        default: break; /* clear */
        }
        if (err) break;
        g->buf.len = 0;
        if (nv && nv->type == JSON_OBJECT) {
            JsonWriter jw;
            jw_init(&jw, &g->buf);
            jw_value(&jw, nv);
        } else {
            buf_append_str(&g->buf, "{}");
        }
        g->payload_delta += (int64_t)g->buf.len - (int64_t)(v.len - sizeof head);
        err = store_put2(txn, STORE_DB_POINTS, key, kl, head, sizeof head, g->buf.data,
                         g->buf.len);
        if (!err) w->n_affected++;
        if (!err && c->n_pindex) {
            /* The payload indexes learn the new payload after the commit. */
            effect_add(g, EFF_PAYLOAD, store_get_le32(head), &ids[i], NULL, 0);
            g->eff[g->n_eff - 1].payload = arena_strndup(&g->arena, g->buf.data, g->buf.len);
            g->eff[g->n_eff - 1].payload_len = g->buf.len;
        }
    }
    free(l.ids);
    return err;
}

/* set_mask rewrites a point record's vector mask, keeping its payload
 * (copied first: the old value lives in the page the put rewrites). */
static int set_mask(Group *g, StoreTxn *txn, const uint8_t *key, size_t kl, Slice old,
                    uint32_t mask)
{
    uint8_t head[COLLECTION_REC_HEADER];
    memcpy(head, old.ptr, sizeof head);
    store_put_le32(head + 4, mask);
    g->buf.len = 0;
    buf_append(&g->buf, old.ptr + sizeof head, old.len - sizeof head);
    return store_put2(txn, STORE_DB_POINTS, key, kl, head, sizeof head, g->buf.data, g->buf.len);
}

static int apply_update_vectors(Group *g, Collection *c, const PrepOp *op, StoreTxn *txn,
                                CollectionWrite *w)
{
    uint8_t key[STORE_KEY_MAX], idkey[POINT_ID_KEY_MAX];
    for (size_t i = 0; i < op->n_points; i++) {
        const PrepPoint *p = &op->points[i];
        size_t kl = store_key_point(key, c->cid, idkey, point_id_key(&p->id, idkey));
        Slice old;
        int err = store_get(txn, STORE_DB_POINTS, key, kl, &old);
        if (err == ERR_NOTFOUND) return point_missing(w, &p->id);
        if (err) return err;
        if (old.len < COLLECTION_REC_HEADER) return ERR_FORMAT;
        if (update_filter_rejects(g, c, op, &p->id, old)) continue;
        uint32_t node = store_get_le32((const uint8_t *)old.ptr);
        uint32_t mask = store_get_le32((const uint8_t *)old.ptr + 4) | p->mask;
        err = set_mask(g, txn, key, kl, old, mask);
        if (!err) put_vectors(g, c, node, p);
        if (!err && c->config.n_sparse)
            err = coll_sparse_put(txn, c, node, p->mask & COLL_SPARSE_ALL(c), p->mask, p->sparse);
        if (!err && (p->mask & coll_multi_mask(c)))
            err = coll_multi_put(txn, c, node, p->mask & coll_multi_mask(c), p->mask, p->vec,
                                 p->multi_n);
        if (!err) err = put_pending(txn, c, node);
        if (err) return err;
        effect_add(g, EFF_VECTORS, node, &p->id, p, 0);
        w->n_affected++;
    }
    return 0;
}

static int apply_delete_vectors(Group *g, Collection *c, const PrepOp *op, StoreTxn *txn,
                                CollectionWrite *w)
{
    IdList l = { 0 };
    const PointId *ids;
    size_t n;
    uint8_t key[STORE_KEY_MAX], idkey[POINT_ID_KEY_MAX];
    int err = select_ids(c, op, txn, &l, &ids, &n);
    for (size_t i = 0; i < n && !err; i++) {
        size_t kl = store_key_point(key, c->cid, idkey, point_id_key(&ids[i], idkey));
        Slice old;
        err = store_get(txn, STORE_DB_POINTS, key, kl, &old);
        if (err == ERR_NOTFOUND) err = point_missing(w, &ids[i]);
        if (err) break;
        if (old.len < COLLECTION_REC_HEADER) {
            err = ERR_FORMAT;
            break;
        }
        uint32_t node = store_get_le32((const uint8_t *)old.ptr);
        uint32_t mask = store_get_le32((const uint8_t *)old.ptr + 4);
        /* The vector rows stay, as for a deleted point: the graph keeps
         * routing through the node until it is reused (hnsw.h). Sparse
         * records and multivectors go (collection_sparse.c,
         * collection_multivec.c). */
        err = set_mask(g, txn, key, kl, old, mask & ~op->vmask);
        if (!err && (op->vmask & COLL_SPARSE_ALL(c)))
            err = coll_sparse_put(txn, c, node, op->vmask & COLL_SPARSE_ALL(c), 0, NULL);
        if (!err && (op->vmask & coll_multi_mask(c)))
            err = coll_multi_put(txn, c, node, op->vmask & coll_multi_mask(c), 0, NULL, NULL);
        if (!err) err = put_pending(txn, c, node);
        if (!err) {
            effect_add(g, EFF_VECTORS, node, &ids[i], NULL, mask & op->vmask);
            w->n_affected++;
        }
    }
    free(l.ids);
    return err;
}

static int apply_op(Group *g, Collection *c, const PrepOp *op, StoreTxn *txn, CollectionWrite *w)
{
    int err;
    switch (op->kind) {
    case COLLECTION_OP_UPSERT:
        err = apply_upsert(g, c, op, txn, w);
        return vectors_flush(g, c, txn, err);
    case COLLECTION_OP_DELETE: return apply_delete(g, c, op, txn, w);
    case COLLECTION_OP_UPDATE_VECTORS:
        err = apply_update_vectors(g, c, op, txn, w);
        return vectors_flush(g, c, txn, err);
    case COLLECTION_OP_DELETE_VECTORS: return apply_delete_vectors(g, c, op, txn, w);
    default: return apply_payload(g, c, op, txn, w);
    }
}

static int group_fn(StoreTxn *txn, void *vctx)
{
    Group *g = vctx;
    Db *db = g->db;
    /* A retry (after the map grew) starts over. */
    g->n_eff = 0;
    for (size_t i = 0; i < g->n; i++) {
        GroupWrite *gw = &g->gw[i];
        gw->w->status = gw->prep_status;
        gw->w->operation_id = 0;
        gw->w->n_affected = 0;
        gw->eff_begin = gw->eff_end = 0;
        if (gw->c) {
            gw->c->g_free_taken = 0;
            gw->c->g_high = gw->c->node_high;
            gw->c->g_ops = 0;
            gw->c->g_payload_bytes = 0;
        }
    }
    /* 2a. What earlier groups left unsaved. */
    int err = 0;
    for (size_t i = 0; i < db->n_colls && !err; i++)
        if (coll_graph_dirty(db->colls[i])) err = coll_graph_save_txn(txn, db->colls[i]);
    if (err) return err;

    uint64_t op_id = 0;
    Slice v;
    if (store_get(txn, STORE_DB_META, COLL_META_NEXT_OP, strlen(COLL_META_NEXT_OP), &v) == 0 &&
        v.len == 8)
        op_id = store_get_le64((const uint8_t *)v.ptr);
    int any = 0;
    /* 2b. Each write alone in a sub-transaction. */
    for (size_t i = 0; i < g->n; i++) {
        GroupWrite *gw = &g->gw[i];
        CollectionWrite *w = gw->w;
        if (gw->prep_status) continue;
        Collection *c = gw->c;
        size_t taken = c->g_free_taken, eff = g->n_eff;
        uint32_t high = c->g_high;
        StoreTxn *sub;
        if ((err = store_sub_begin(txn, &sub))) return err;
        w->err[0] = '\0';
        g->payload_delta = 0;
        int e = 0;
        for (size_t j = 0; j < w->n_ops && !e; j++) e = apply_op(g, c, &gw->ops[j], sub, w);
        if (!e) e = coll_records_put(sub, w->records, w->n_records);
        if (e) store_sub_abort(sub);
        else e = store_sub_commit(sub);
        if (store_txn_retrying(txn)) return ERR_FULL; /* store_write grows and retries */
        if (e) {
            c->g_free_taken = taken;
            c->g_high = high;
            g->n_eff = eff;
            w->status = e;
            w->n_affected = 0;
            if (!w->err[0]) err_set(w->err, sizeof w->err, e, "storage error: %s", err_str(e));
            continue;
        }
        gw->eff_begin = eff;
        gw->eff_end = g->n_eff;
        w->operation_id = op_id++;
        /* Each operation is one of Qdrant's (points/batch sends one
         * write per operation). */
        c->g_ops += w->n_ops;
        c->g_payload_bytes += g->payload_delta;
        any = 1;
    }
    /* 2c. */
    if (!any) return 0;
    /* Each collection's applied operations, once per group. */
    for (size_t i = 0; i < g->n; i++) {
        Collection *c = g->gw[i].c;
        int first = c && c->g_ops;
        for (size_t k = 0; k < i && first; k++) first = g->gw[k].c != c;
        if (first && (err = coll_ops_put(txn, c->cid, c->op_num + c->g_ops))) return err;
    }
    uint8_t rec[8];
    store_put_le64(rec, op_id);
    return store_put(txn, STORE_DB_META, COLL_META_NEXT_OP, strlen(COLL_META_NEXT_OP), rec,
                     sizeof rec);
}

/* coll_take_operation_id takes the next operation id inside txn (for
 * writes outside groups: payload index changes). */
int coll_take_operation_id(StoreTxn *txn, uint64_t *out)
{
    uint64_t op_id = 0;
    Slice v;
    if (store_get(txn, STORE_DB_META, COLL_META_NEXT_OP, strlen(COLL_META_NEXT_OP), &v) == 0 &&
        v.len == 8)
        op_id = store_get_le64((const uint8_t *)v.ptr);
    *out = op_id;
    uint8_t rec[8];
    store_put_le64(rec, op_id + 1);
    return store_put(txn, STORE_DB_META, COLL_META_NEXT_OP, strlen(COLL_META_NEXT_OP), rec,
                     sizeof rec);
}

/* ---- applied operations (Qdrant's op_num) ---- */

size_t coll_ops_key(uint8_t out[COLL_META_OPS_LEN + 4], uint32_t cid)
{
    memcpy(out, COLL_META_OPS, COLL_META_OPS_LEN);
    store_put_be32(out + COLL_META_OPS_LEN, cid);
    return COLL_META_OPS_LEN + 4;
}

int coll_ops_put(StoreTxn *txn, uint32_t cid, uint64_t total)
{
    uint8_t key[COLL_META_OPS_LEN + 4], rec[8];
    size_t klen = coll_ops_key(key, cid);
    store_put_le64(rec, total);
    return store_put(txn, STORE_DB_META, key, klen, rec, sizeof rec);
}

int coll_ops_del(StoreTxn *txn, uint32_t cid)
{
    uint8_t key[COLL_META_OPS_LEN + 4];
    int e = store_del(txn, STORE_DB_META, key, coll_ops_key(key, cid));
    return e == ERR_NOTFOUND ? 0 : e;
}

uint64_t coll_ops_load(StoreTxn *txn, uint32_t cid)
{
    uint8_t key[COLL_META_OPS_LEN + 4];
    Slice v;
    if (store_get(txn, STORE_DB_META, key, coll_ops_key(key, cid), &v) == 0 && v.len == 8)
        return store_get_le64((const uint8_t *)v.ptr);
    return 0;
}

void coll_ops_applied(Collection *c, uint64_t n, int64_t payload_bytes)
{
    if (!n && !payload_bytes) return;
    pthread_rwlock_wrlock(&c->lock);
    c->op_num += n;
    c->payload_bytes += payload_bytes;
    pthread_rwlock_unlock(&c->lock);
}

/* ---- a group, applied to memory after the commit ---- */

/* group_apply_nodes settles the group's node allocations of c: the free
 * nodes it took leave the free list, node_high moves on. */
static void group_apply_nodes(Collection *c)
{
    if (!c->g_free_taken && c->g_high == c->node_high) return;
    pthread_rwlock_wrlock(&c->lock);
    coll_node_table_reserve(c, c->g_high + 1);
    c->n_free -= c->g_free_taken;
    c->node_high = c->g_high;
    pthread_rwlock_unlock(&c->lock);
    c->g_free_taken = 0;
}

static int cmp_node(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/*
 * bulk_inserts puts the new points of one write into the graphs on every
 * core (coll_apply_inserts) when there are enough of them: the inserts of
 * nodes no other effect of the write touches (so the order between them
 * and the write's other changes does not matter). Returns which (effect,
 * vector) pairs it did, [n * COLLECTION_MAX_VECTORS], or NULL for none;
 * apply_effects does the rest in order.
 */
static uint8_t *bulk_inserts(Collection *c, const Effect *eff, size_t n)
{
    size_t n_ins = 0;
    for (size_t i = 0; i < n; i++) n_ins += eff[i].kind == EFF_INSERT;
    if (n_ins < COLL_PARALLEL_INSERT_MIN || coll_build_threads() < 2) return NULL;
    /* Nodes touched more than once in the write stay in order. */
    uint32_t *all = xmalloc(n * sizeof *all);
    size_t n_all = 0;
    for (size_t i = 0; i < n; i++)
        if (eff[i].kind != EFF_PAYLOAD) all[n_all++] = eff[i].node;
    qsort(all, n_all, sizeof *all, cmp_node);
    uint8_t *done = xcalloc(n * COLLECTION_MAX_VECTORS, 1);
    uint32_t *nodes = xmalloc(n_ins * sizeof *nodes);
    const float **vecs = xmalloc(n_ins * sizeof *vecs);
    for (int v = 0; v < c->config.n_vectors; v++) {
        if (coll_is_multi(c, v)) continue;
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            const Effect *e = &eff[i];
            if (e->kind != EFF_INSERT || !(e->p->mask >> v & 1)) continue;
            uint32_t *at = bsearch(&e->node, all, n_all, sizeof *all, cmp_node);
            if ((at > all && at[-1] == e->node) || (at + 1 < all + n_all && at[1] == e->node))
                continue;
            nodes[k] = e->node;
            vecs[k++] = e->p->vec[v];
            done[i * COLLECTION_MAX_VECTORS + v] = 1;
        }
        coll_apply_inserts(c, v, nodes, vecs, k);
    }
    free(nodes);
    free(vecs);
    free(all);
    return done;
}

/* apply_effects changes the node table, then the graphs, for one write. */
static void apply_effects(Collection *c, const Effect *eff, size_t n)
{
    if (!n) return;
    pthread_rwlock_wrlock(&c->lock);
    for (size_t i = 0; i < n; i++) {
        const Effect *e = &eff[i];
        switch (e->kind) {
        case EFF_INSERT:
            c->node_ids[e->node] = e->id;
            c->node_live[e->node] = 1;
            c->points_count++;
            break;
        case EFF_REPLACE: c->node_ids[e->node] = e->id; break;
        case EFF_DELETE:
            if (!c->node_live[e->node]) break;
            c->node_live[e->node] = 0;
            c->points_count--;
            coll_grow_u32(&c->free_nodes, &c->free_cap, c->n_free + 1);
            c->free_nodes[c->n_free++] = e->node;
            break;
        default: break;
        }
        /* Sparse vectors change with the node table (collection_sparse.c):
         * a whole point's set, or the vectors given and cleared. */
        if (c->config.n_sparse && e->kind != EFF_PAYLOAD) {
            uint32_t set = e->p ? e->p->mask : 0;
            uint32_t touch = e->kind == EFF_VECTORS ? set | e->clear : COLL_SPARSE_ALL(c);
            coll_sparse_apply(c, e->node, touch & COLL_SPARSE_ALL(c), set,
                              e->p ? e->p->sparse : NULL);
        }
        /* The payload indexes: the point's new payload, or none. */
        if (e->kind != EFF_VECTORS) {
            const char *text = e->kind == EFF_PAYLOAD ? e->payload : e->p ? e->p->payload : NULL;
            size_t len = e->kind == EFF_PAYLOAD ? e->payload_len : e->p ? e->p->payload_len : 0;
            coll_index_update(c, e->node, text, len);
        }
        /* So do the multivectors' node sets (collection_multivec.c). */
        uint32_t mm = coll_multi_mask(c);
        if (mm && e->kind != EFF_PAYLOAD) {
            uint32_t set = e->p ? e->p->mask : 0;
            uint32_t touch = e->kind == EFF_VECTORS ? set | e->clear : mm;
            coll_multi_apply(c, e->node, touch & mm, set);
        }
    }
    coll_blocks_grow(c);
    pthread_rwlock_unlock(&c->lock);
    uint8_t *done = bulk_inserts(c, eff, n);
    for (int v = 0; v < c->config.n_vectors; v++) {
        if (coll_is_multi(c, v)) continue; /* no graph */
        for (size_t i = 0; i < n; i++) {
            const Effect *e = &eff[i];
            if (e->kind == EFF_PAYLOAD) continue; /* no vector changed */
            if (done && done[i * COLLECTION_MAX_VECTORS + v]) continue;
            int given = e->p && (e->p->mask >> v & 1);
            if (e->kind == EFF_VECTORS && !given && !(e->clear >> v & 1))
                continue; /* a vector this operation leaves alone */
            coll_apply_vector(c, v, e->node, given ? e->p->vec[v] : NULL, 0);
        }
    }
    free(done);
    for (size_t i = 0; i < n; i++)
        if (eff[i].kind != EFF_PAYLOAD) {
            coll_add_pending(c, eff[i].node);
            coll_optimize_note(c, eff[i].node); /* a background rebuild brings it in */
            coll_blocks_mark(c, eff[i].node);   /* payload blocks relink it */
        }
}

/* ---- the group ---- */

int collection_write_group(Db *db, CollectionWrite *const *writes, size_t n,
                           const CollectionWriteHooks *hooks)
{
    static const CollectionWriteHooks none = { NULL, NULL, NULL };
    if (!hooks) hooks = &none;
    Group g = { .db = db, .n = n };
    arena_init(&g.arena, 0);
    coll_scratch_init(&g.s);
    buf_init(&g.buf);
    g.gw = arena_calloc(&g.arena, (n ? n : 1) * sizeof *g.gw);
    pthread_mutex_lock(&db->write);

    /* 1. Prepare; the write lock keeps the collection list still. */
    int any = 0;
    for (size_t i = 0; i < n; i++) {
        GroupWrite *gw = &g.gw[i];
        CollectionWrite *w = writes[i];
        gw->w = w;
        w->err[0] = '\0';
        w->operation_id = 0;
        w->n_affected = 0;
        gw->c = coll_db_find(db, w->collection);
        gw->ops = arena_calloc(&g.arena, (w->n_ops ? w->n_ops : 1) * sizeof *gw->ops);
        gw->n_ops = w->n_ops;
        int e = 0;
        if (!gw->c)
            e = err_set(w->err, sizeof w->err, ERR_NOTFOUND, "Collection `%s` doesn't exist!",
                        w->collection ? w->collection : "");
        for (size_t j = 0; j < w->n_ops && !e; j++)
            e = prepare_op(&g, gw->c, &w->ops[j], &gw->ops[j], w->err, sizeof w->err);
        if (!e) e = coll_records_check(w->records, w->n_records, w->err, sizeof w->err);
        gw->prep_status = w->status = e;
        any |= !e;
    }

    /* 2. One transaction, one fsync. */
    int err = 0;
    if (any) {
        err = store_write(db->store, group_fn, &g);
        if (err) {
            for (size_t i = 0; i < n; i++) {
                CollectionWrite *w = g.gw[i].w;
                if (g.gw[i].prep_status) continue;
                w->status = err;
                w->operation_id = 0;
                w->n_affected = 0;
                err_set(w->err, sizeof w->err, err, "storage error: %s", err_str(err));
            }
            for (size_t i = 0; i < n; i++)
                if (g.gw[i].c) {
                    g.gw[i].c->g_ops = 0;
                    g.gw[i].c->g_payload_bytes = 0;
                }
        } else {
            /* What earlier groups left unsaved is saved now. */
            for (size_t i = 0; i < db->n_colls; i++) coll_graph_saved(db->colls[i]);
        }
    }

    /* 3. Durable, then visible. */
    uint8_t *kept = arena_calloc(&g.arena, n ? n : 1);
    if (any && !err) {
        for (size_t i = 0; i < n; i++) {
            if (g.gw[i].w->status) continue;
            kept[i] = 1;
            if (hooks->durable && hooks->durable(g.gw[i].w, hooks->ctx)) kept[i] = 0;
        }
        /* From here on only the prepared copies are used: a released
         * write may already be gone. */
        for (size_t i = 0; i < n; i++)
            if (g.gw[i].c) group_apply_nodes(g.gw[i].c);
        /* Before any wait=true client hears back (visible below). */
        for (size_t i = 0; i < n; i++)
            if (g.gw[i].c) {
                coll_ops_applied(g.gw[i].c, g.gw[i].c->g_ops, g.gw[i].c->g_payload_bytes);
                g.gw[i].c->g_ops = 0;
                g.gw[i].c->g_payload_bytes = 0;
            }
        for (size_t i = 0; i < n; i++) {
            GroupWrite *gw = &g.gw[i];
            if (gw->eff_end > gw->eff_begin) {
                apply_effects(gw->c, g.eff + gw->eff_begin, gw->eff_end - gw->eff_begin);
                coll_blocks_wake(db, gw->c); /* payload blocks take the new points */
            }
        }
        for (size_t i = 0; i < n; i++)
            if (kept[i] && hooks->visible) hooks->visible(g.gw[i].w, hooks->ctx);
        /* A quantized graph that just reached its calibration size
         * (collection_quant.c; a no-op otherwise). */
        for (size_t i = 0; i < n; i++)
            if (g.gw[i].c) coll_quant_sync(db, g.gw[i].c);
    }
    pthread_mutex_unlock(&db->write);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < g.gw[i].n_ops; j++) {
            filter_free(g.gw[i].ops[j].filter);
            filter_free(g.gw[i].ops[j].update_filter);
        }
    free(g.eff);
    for (int v = 0; v < COLLECTION_MAX_VECTORS; v++) free(g.vput[v]);
    buf_free(&g.buf);
    coll_scratch_free(&g.s);
    arena_free(&g.arena);
    return err;
}

/* ---- single writes ---- */

/* write_one runs a one-write group of one operation on collection name. */
static int write_one(Db *db, const char *name, const CollectionOp *op, size_t *n_affected,
                     char *err, size_t errlen)
{
    CollectionWrite w = { .collection = name, .ops = op, .n_ops = 1 };
    CollectionWrite *wp = &w;
    collection_write_group(db, &wp, 1, NULL);
    if (n_affected) *n_affected = w.status ? 0 : w.n_affected;
    if (w.status && err && errlen) snprintf(err, errlen, "%s", w.err);
    return w.status;
}

int collection_upsert(Db *db, const char *name, const CollectionPointIn *points, size_t n,
                      char *err, size_t errlen)
{
    CollectionOp op = { .kind = COLLECTION_OP_UPSERT, .points = points, .n_points = n };
    return write_one(db, name, &op, NULL, err, errlen);
}

int collection_delete_points(Db *db, const char *name, const PointId *ids, size_t n,
                             size_t *n_deleted)
{
    /* ids must not be NULL here: NULL would select by (no) filter, all. */
    static const PointId none;
    CollectionOp op = { .kind = COLLECTION_OP_DELETE, .ids = ids ? ids : &none, .n_ids = n };
    return write_one(db, name, &op, n_deleted, NULL, 0);
}

int collection_delete_by_filter(Db *db, const char *name, const JsonValue *filter,
                                size_t *n_deleted, char *err, size_t errlen)
{
    CollectionOp op = { .kind = COLLECTION_OP_DELETE, .filter = filter };
    return write_one(db, name, &op, n_deleted, err, errlen);
}

static int payload_one(Db *db, const char *name, CollectionOpKind kind,
                       const CollectionPayloadUpdate *u, char *err, size_t errlen)
{
    CollectionOp op = { .kind = kind, .ids = u->ids, .n_ids = u->n_ids, .filter = u->filter,
                        .payload = u->payload, .key = u->key, .keys = u->keys };
    return write_one(db, name, &op, NULL, err, errlen);
}

int collection_set_payload(Db *db, const char *name, const CollectionPayloadUpdate *u, char *err,
                           size_t errlen)
{
    return payload_one(db, name, COLLECTION_OP_SET_PAYLOAD, u, err, errlen);
}

int collection_overwrite_payload(Db *db, const char *name, const CollectionPayloadUpdate *u,
                                 char *err, size_t errlen)
{
    return payload_one(db, name, COLLECTION_OP_OVERWRITE_PAYLOAD, u, err, errlen);
}

int collection_delete_payload(Db *db, const char *name, const CollectionPayloadUpdate *u,
                              char *err, size_t errlen)
{
    return payload_one(db, name, COLLECTION_OP_DELETE_PAYLOAD, u, err, errlen);
}

int collection_clear_payload(Db *db, const char *name, const CollectionPayloadUpdate *u,
                             char *err, size_t errlen)
{
    return payload_one(db, name, COLLECTION_OP_CLEAR_PAYLOAD, u, err, errlen);
}
