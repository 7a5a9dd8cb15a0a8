/*
 * collection_write.c - changing points: upsert, delete (by ids or
 * filter), payload updates.
 *
 * Write path (one writer at a time, Db.write):
 *   1. validate the whole batch and prepare every value (payload text,
 *      normalised vectors) before touching the store;
 *   2. one LMDB write transaction writes points, vectors and a "pending"
 *      marker per touched node, and commits (fsync): the acknowledgement;
 *   3. the node table and the graphs change in memory (they never run
 *      ahead of LMDB);
 *   4. a second transaction saves the graph records of every node the
 *      step-3 changes touched and deletes the pending markers
 *      (coll_graph_save; see collection_open.c for the crash argument).
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

/* ---- upsert ---- */

typedef struct {
    PointId id;
    uint32_t mask;
    const float *vec[COLLECTION_MAX_VECTORS]; /* prepared (normalised) */
    size_t payload_off, payload_len;          /* in UpsertCtx.payloads */
} UpsertItem;

typedef struct {
    Collection *c;
    UpsertItem *items;
    size_t n;
    Buf payloads;
    /* Results of the last transaction attempt. */
    uint32_t *nodes;
    uint8_t *is_new;
    size_t free_taken;
    uint32_t high;
} UpsertCtx;

/* alloc_node hands out a node inside a write attempt without changing the
 * collection: the attempt's counters are committed to it only after the
 * transaction commits. */
static uint32_t alloc_node(Collection *c, size_t *free_taken, uint32_t *high)
{
    if (*free_taken < c->n_free) return c->free_nodes[c->n_free - 1 - (*free_taken)++];
    return (*high)++;
}

static int upsert_fn(StoreTxn *txn, void *vctx)
{
    UpsertCtx *x = vctx;
    Collection *c = x->c;
    x->free_taken = 0;
    x->high = c->node_high;
    uint8_t key[STORE_KEY_MAX], idkey[POINT_ID_KEY_MAX], head[COLLECTION_REC_HEADER];
    int err;
    for (size_t i = 0; i < x->n; i++) {
        UpsertItem *it = &x->items[i];
        size_t kl = store_key_point(key, c->cid, idkey, point_id_key(&it->id, idkey));
        Slice old;
        err = store_get(txn, STORE_DB_POINTS, key, kl, &old);
        uint32_t node;
        if (err == 0 && old.len >= COLLECTION_REC_HEADER) {
            node = store_get_le32((const uint8_t *)old.ptr);
            x->is_new[i] = 0;
        } else if (err == 0) {
            return ERR_FORMAT;
        } else if (err == ERR_NOTFOUND) {
            node = alloc_node(c, &x->free_taken, &x->high);
            if (node >= HNSW_MAX_NODES) return ERR_FULL;
            x->is_new[i] = 1;
        } else {
            return err;
        }
        x->nodes[i] = node;
        store_put_le32(head, node);
        store_put_le32(head + 4, it->mask);
        err = store_put2(txn, STORE_DB_POINTS, key, kl, head, sizeof head,
                         x->payloads.data + it->payload_off, it->payload_len);
        if (err) return err;
        for (int v = 0; v < c->config.n_vectors; v++) {
            if (!it->vec[v]) continue;
            size_t nk = store_key_node(key, c->cid, (uint16_t)v, node);
            err = store_put(txn, STORE_DB_VECTORS, key, nk, it->vec[v],
                            c->config.vectors[v].size * sizeof(float));
            if (err) return err;
        }
        size_t pk = store_key_pending(key, c->cid, node);
        if ((err = store_put(txn, STORE_DB_PENDING, key, pk, "", 0))) return err;
    }
    return 0;
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

int collection_upsert(Db *db, const char *name, const CollectionPointIn *points, size_t n,
                      char *err, size_t errlen)
{
    if (n > COLLECTION_MAX_BATCH)
        return err_set(err, errlen, ERR_TOOLARGE, "at most %d points per batch",
                       COLLECTION_MAX_BATCH);
    if (n == 0) {
        Collection *c;
        int e = coll_read_begin(db, name, &c, err, errlen);
        if (!e) coll_read_end(db, c);
        return e;
    }
    Collection *c;
    int e = coll_write_begin(db, name, &c, err, errlen);
    if (e) return e;
    Arena arena;
    arena_init(&arena, 0);
    UpsertCtx x = { .c = c, .n = n };
    buf_init(&x.payloads);
    x.items = arena_calloc(&arena, n * sizeof *x.items);
    x.nodes = arena_alloc(&arena, n * sizeof *x.nodes);
    x.is_new = arena_alloc(&arena, n);

    /* 1. Validate and prepare everything; nothing is written on error. */
    JsonWriter w;
    for (size_t i = 0; i < n && !e; i++) {
        const CollectionPointIn *p = &points[i];
        UpsertItem *it = &x.items[i];
        char what[64 + POINT_ID_TEXT_MAX];
        char idbuf[POINT_ID_TEXT_MAX];
        snprintf(what, sizeof what, "point %s", point_id_format(&p->id, idbuf));
        it->id = p->id;
        if (p->id.kind != POINT_ID_NUM && p->id.kind != POINT_ID_UUID) {
            e = err_set(err, errlen, ERR_INVAL, "point %zu: invalid id", i);
            break;
        }
        if (p->payload && p->payload->type != JSON_OBJECT && p->payload->type != JSON_NULL) {
            e = err_set(err, errlen, ERR_INVAL, "%s: payload must be a JSON object", what);
            break;
        }
        for (size_t j = 0; j < p->n_vectors && !e; j++) {
            int v = 0;
            const float *f = NULL;
            e = prepare_vector(c, what, &p->vectors[j], &arena, &v, &f, err, errlen);
            if (e) break;
            if (it->mask >> v & 1) {
                e = err_set(err, errlen, ERR_INVAL, "%s: vector \"%s\" given twice", what,
                            c->config.vectors[v].name);
                break;
            }
            it->mask |= 1u << v;
            it->vec[v] = f;
        }
        if (e) break;
        it->payload_off = x.payloads.len;
        if (p->payload && p->payload->type == JSON_OBJECT) {
            jw_init(&w, &x.payloads);
            jw_value(&w, p->payload);
        } else {
            buf_append_str(&x.payloads, "{}");
        }
        it->payload_len = x.payloads.len - it->payload_off;
    }

    /* 2. One durable transaction. */
    if (!e) {
        e = store_write(db->store, upsert_fn, &x);
        if (e) err_set(err, errlen, e, "storage error: %s", err_str(e));
    }

    /* 3. Memory follows the commit. */
    if (!e) {
        pthread_rwlock_wrlock(&c->lock);
        coll_node_table_reserve(c, x.high + 1);
        for (size_t i = 0; i < n; i++) {
            uint32_t node = x.nodes[i];
            c->node_ids[node] = x.items[i].id;
            if (x.is_new[i]) {
                c->node_live[node] = 1;
                c->points_count++;
            }
        }
        c->n_free -= x.free_taken;
        c->node_high = x.high;
        pthread_rwlock_unlock(&c->lock);
        for (size_t i = 0; i < n; i++) {
            for (int v = 0; v < c->config.n_vectors; v++)
                coll_apply_vector(c, v, x.nodes[i], x.items[i].vec[v], 0);
            coll_add_pending(c, x.nodes[i]);
        }
        /* 4. Save the graph changes; a failure here is not the client's:
         * the points are committed and the markers make it recoverable. */
        coll_graph_save(db, c);
    }
    coll_write_end(db);
    buf_free(&x.payloads);
    arena_free(&arena);
    return e;
}

/* ---- delete ---- */

typedef struct {
    Collection *c;
    const PointId *ids;
    size_t n;
    uint32_t *nodes; /* per id; HNSW_NO_NODE when missing */
    size_t n_found;
} DeleteCtx;

static int delete_fn(StoreTxn *txn, void *vctx)
{
    DeleteCtx *x = vctx;
    Collection *c = x->c;
    uint8_t key[STORE_KEY_MAX], idkey[POINT_ID_KEY_MAX];
    x->n_found = 0;
    for (size_t i = 0; i < x->n; i++) {
        x->nodes[i] = HNSW_NO_NODE;
        size_t kl = store_key_point(key, c->cid, idkey, point_id_key(&x->ids[i], idkey));
        Slice v;
        int err = store_get(txn, STORE_DB_POINTS, key, kl, &v);
        if (err == ERR_NOTFOUND) continue;
        if (err) return err;
        if (v.len < COLLECTION_REC_HEADER) return ERR_FORMAT;
        uint32_t node = store_get_le32((const uint8_t *)v.ptr);
        if ((err = store_del(txn, STORE_DB_POINTS, key, kl))) return err;
        size_t pk = store_key_pending(key, c->cid, node);
        if ((err = store_put(txn, STORE_DB_PENDING, key, pk, "", 0))) return err;
        x->nodes[i] = node;
        x->n_found++;
    }
    return 0;
}

/* delete_locked deletes ids; the caller holds the write lock. */
static int delete_locked(Db *db, Collection *c, const PointId *ids, size_t n, size_t *n_deleted)
{
    DeleteCtx x = { c, ids, n, xmalloc((n ? n : 1) * sizeof(uint32_t)), 0 };
    int err = store_write(db->store, delete_fn, &x);
    if (!err) {
        pthread_rwlock_wrlock(&c->lock);
        for (size_t i = 0; i < n; i++) {
            uint32_t node = x.nodes[i];
            if (node == HNSW_NO_NODE || !c->node_live[node]) continue;
            c->node_live[node] = 0;
            c->points_count--;
            coll_grow_u32(&c->free_nodes, &c->free_cap, c->n_free + 1);
            c->free_nodes[c->n_free++] = node;
        }
        pthread_rwlock_unlock(&c->lock);
        for (size_t i = 0; i < n; i++) {
            if (x.nodes[i] == HNSW_NO_NODE) continue;
            for (int v = 0; v < c->config.n_vectors; v++) coll_apply_vector(c, v, x.nodes[i], NULL, 0);
            coll_add_pending(c, x.nodes[i]);
        }
        coll_graph_save(db, c);
        if (n_deleted) *n_deleted = x.n_found;
    }
    free(x.nodes);
    return err;
}

int collection_delete_points(Db *db, const char *name, const PointId *ids, size_t n,
                             size_t *n_deleted)
{
    if (n_deleted) *n_deleted = 0;
    if (n > COLLECTION_MAX_BATCH) return ERR_TOOLARGE;
    Collection *c;
    int err = coll_write_begin(db, name, &c, NULL, 0);
    if (err) return err;
    err = delete_locked(db, c, ids, n, n_deleted);
    coll_write_end(db);
    return err;
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

/* matching_ids lists the ids matching f, in a read transaction. */
static int matching_ids(Db *db, Collection *c, const Filter *f, IdList *out)
{
    StoreTxn *txn;
    int err = store_read_begin(db->store, &txn);
    if (err) return err;
    err = coll_scan_points(c, txn, f, NULL, collect_id, out);
    store_read_end(txn);
    return err;
}

int collection_delete_by_filter(Db *db, const char *name, const JsonValue *filter,
                                size_t *n_deleted, char *err, size_t errlen)
{
    if (n_deleted) *n_deleted = 0;
    Filter *f;
    int e = coll_compile_filter(filter, &f, err, errlen);
    if (e) return e;
    Collection *c;
    if ((e = coll_write_begin(db, name, &c, err, errlen))) {
        filter_free(f);
        return e;
    }
    /* The scan and the delete see the same state: the write lock keeps
     * other writers out in between. */
    IdList l = { 0 };
    e = matching_ids(db, c, f, &l);
    if (!e) e = delete_locked(db, c, l.ids, l.n, n_deleted);
    coll_write_end(db);
    free(l.ids);
    filter_free(f);
    return e;
}

/* ---- payload updates ---- */

enum { PAYLOAD_SET, PAYLOAD_OVERWRITE, PAYLOAD_DELETE, PAYLOAD_CLEAR };

typedef struct {
    Collection *c;
    int op;
    const JsonValue *arg; /* the payload to set / overwrite, or the keys */
    const char *key;      /* set: nested key path */
    const PointId *ids;
    size_t n;
    char *err;
    size_t errlen;
} PayloadCtx;

static int payload_fn(StoreTxn *txn, void *vctx)
{
    PayloadCtx *x = vctx;
    Collection *c = x->c;
    uint8_t key[STORE_KEY_MAX], idkey[POINT_ID_KEY_MAX];
    Scratch s;
    coll_scratch_init(&s);
    Buf out;
    buf_init(&out);
    int err = 0;
    for (size_t i = 0; i < x->n && !err; i++) {
        size_t kl = store_key_point(key, c->cid, idkey, point_id_key(&x->ids[i], idkey));
        Slice v;
        err = store_get(txn, STORE_DB_POINTS, key, kl, &v);
        if (err == ERR_NOTFOUND) {
            char idbuf[POINT_ID_TEXT_MAX];
            err_set(x->err, x->errlen, err, "No point with id %s found",
                    point_id_format(&x->ids[i], idbuf));
        }
        if (err) break;
        if (v.len < COLLECTION_REC_HEADER) {
            err = ERR_FORMAT;
            break;
        }
        uint8_t head[COLLECTION_REC_HEADER];
        memcpy(head, v.ptr, sizeof head);
        const JsonValue *old = coll_payload_parse(&s, v.ptr + sizeof head, v.len - sizeof head);
        JsonValue *nv = NULL;
        out.len = 0;
        switch (x->op) {
        case PAYLOAD_SET:
            err = payload_set(&s.arena, old, x->arg, x->key, &nv, x->err, x->errlen);
            break;
        case PAYLOAD_OVERWRITE: nv = (JsonValue *)x->arg; break;
        case PAYLOAD_DELETE:
            err = payload_delete_keys(&s.arena, old, x->arg, &nv, x->err, x->errlen);
            break;
        default: break;
        }
        if (err) break;
        if (nv && nv->type == JSON_OBJECT) {
            JsonWriter w;
            jw_init(&w, &out);
            jw_value(&w, nv);
        } else {
            buf_append_str(&out, "{}");
        }
        err = store_put2(txn, STORE_DB_POINTS, key, kl, head, sizeof head, out.data, out.len);
    }
    buf_free(&out);
    coll_scratch_free(&s);
    return err;
}

/* payload_op runs one payload update: the arguments are checked, the
 * points resolved (ids, or the filter's matches) and every change written
 * in one transaction, or nothing. */
static int payload_op(Db *db, const char *name, int op, const CollectionPayloadUpdate *u,
                      char *err, size_t errlen)
{
    const JsonValue *arg = op == PAYLOAD_DELETE ? u->keys : u->payload;
    const PointId *ids = u->ids;
    size_t n = u->n_ids;
    if ((op == PAYLOAD_SET || op == PAYLOAD_OVERWRITE) && (!arg || arg->type != JSON_OBJECT))
        return err_set(err, errlen, ERR_INVAL, "payload must be a JSON object");
    if (op == PAYLOAD_DELETE && (!arg || arg->type != JSON_ARRAY))
        return err_set(err, errlen, ERR_INVAL, "keys must be an array of strings");
    if (n > COLLECTION_MAX_BATCH) return ERR_TOOLARGE;
    Filter *f = NULL;
    int e = 0;
    if (!ids && (e = coll_compile_filter(u->filter, &f, err, errlen))) return e;
    Collection *c;
    if ((e = coll_write_begin(db, name, &c, err, errlen))) {
        filter_free(f);
        return e;
    }
    IdList l = { 0 };
    if (!ids) {
        e = matching_ids(db, c, f, &l);
        ids = l.ids;
        n = l.n;
    }
    if (!e) {
        PayloadCtx x = { c, op, arg, op == PAYLOAD_SET ? u->key : NULL, ids, n, err, errlen };
        e = store_write(db->store, payload_fn, &x);
    }
    coll_write_end(db);
    free(l.ids);
    filter_free(f);
    return e;
}

int collection_set_payload(Db *db, const char *name, const CollectionPayloadUpdate *u, char *err,
                           size_t errlen)
{
    return payload_op(db, name, PAYLOAD_SET, u, err, errlen);
}

int collection_overwrite_payload(Db *db, const char *name, const CollectionPayloadUpdate *u,
                                 char *err, size_t errlen)
{
    return payload_op(db, name, PAYLOAD_OVERWRITE, u, err, errlen);
}

int collection_delete_payload(Db *db, const char *name, const CollectionPayloadUpdate *u,
                              char *err, size_t errlen)
{
    return payload_op(db, name, PAYLOAD_DELETE, u, err, errlen);
}

int collection_clear_payload(Db *db, const char *name, const CollectionPayloadUpdate *u,
                             char *err, size_t errlen)
{
    return payload_op(db, name, PAYLOAD_CLEAR, u, err, errlen);
}
