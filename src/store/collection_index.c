/*
 * collection_index.c - payload indexes in the engine: their definitions
 * in LMDB, building them, keeping them in step with writes, filtering
 * through them, and order_by.
 *
 * Persistence. Only the definitions are stored (STORE_DB_PAYLOAD_INDEX,
 * key cid + field name; see docs/storage.md); the contents are rebuilt
 * from the points when a directory is opened, in one pass that parses
 * each payload once for all of a collection's indexes. Persisting the
 * contents was rejected: every write would also write an index entry per
 * value (more LMDB pages, larger commits) to save an open-time cost that
 * measures about a second per million points (docs/storage.md).
 *
 * Upkeep. The write path calls coll_index_update once per changed point,
 * after its commit, with the collection lock held exclusively: the
 * indexes, like the node table and the graphs, follow LMDB and never run
 * ahead of it. A reader holds the lock shared for its whole operation,
 * so it sees one state of the indexes throughout; its LMDB transaction
 * may be one write ahead of them (that write's memory step waits for the
 * reader), and coll_filter_node judges a record the node table does not
 * know yet by its payload.
 *
 * Filtering. A request's compiled filter is bound to the indexes
 * (filter_bind) under the read lock. Then:
 *   - counts, exact scans and id lists iterate the index's candidate
 *     nodes (filter_candidates) when they are few, or the node table when
 *     the filter reads no payload, instead of every stored point;
 *   - the search planner (collection_search.c) estimates the filter's
 *     cardinality from the indexes (filter_estimate) as Qdrant does, and
 *     falls back to sampling only when the estimate straddles the
 *     threshold;
 *   - every per-point check (the HNSW accept callback included) answers
 *     bound conditions from the index and parses the payload only for
 *     the others.
 */
#include "store/collection.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "base/util.h"
#include "index/filter.h"
#include "index/payload_index.h"
#include "index/stem.h"
#include "index/text_tables.h"
#include "store/collection_internal.h"
#include "store/store.h"

/* Definition record: tag, type, tokenizer, lowercase, min / max token
 * length (u32 LE), params length (u32 LE), params. Tag 2 (a text index
 * with token processing) adds after the params: flags (bit 0:
 * ascii_folding), the stemmer (0: none, else stem.h's language + 1), the
 * stopword languages (u64 LE, bit i: text_tables.h's language i), the
 * custom stopword count (u32 LE) and each word as a u32 LE length and its
 * bytes. Indexes without those options keep writing tag 1, the format
 * earlier versions read. */
#define INDEX_REC_TAG 0x01
#define INDEX_REC_TAG_TEXT 0x02
#define INDEX_REC_HEAD 16

/* A decoded definition; free with def_clear. */
typedef struct {
    PayloadIndexType type;
    PayloadTextParams text;
    char **custom; /* text.stop_custom, owned */
    char *params;
} IndexDef;

static void def_clear(IndexDef *d)
{
    for (uint32_t i = 0; i < d->text.n_stop_custom; i++) free(d->custom[i]);
    free(d->custom);
    free(d->params);
    memset(d, 0, sizeof *d);
}

/* ---- definitions ---- */

static size_t def_key(uint8_t *key, uint32_t cid, const char *field)
{
    size_t n = strlen(field);
    store_put_be32(key, cid);
    memcpy(key + 4, field, n);
    return 4 + n;
}

static int has_processing(const PayloadTextParams *t)
{
    return t->ascii_folding || t->stem_lang || t->stop_langs || t->n_stop_custom;
}

static void def_encode(const CollectionIndexParams *p, Buf *out)
{
    uint8_t head[INDEX_REC_HEAD];
    const char *params = p->params ? p->params : "";
    int ext = p->type == PAYLOAD_INDEX_TEXT && has_processing(&p->text);
    head[0] = ext ? INDEX_REC_TAG_TEXT : INDEX_REC_TAG;
    head[1] = (uint8_t)p->type;
    head[2] = (uint8_t)p->text.tokenizer;
    head[3] = (uint8_t)(p->text.lowercase != 0);
    store_put_le32(head + 4, p->text.min_token_len);
    store_put_le32(head + 8, p->text.max_token_len);
    store_put_le32(head + 12, (uint32_t)strlen(params));
    buf_append(out, head, sizeof head);
    buf_append(out, params, strlen(params));
    if (!ext) return;
    uint8_t x[14];
    x[0] = (uint8_t)(p->text.ascii_folding != 0);
    x[1] = (uint8_t)p->text.stem_lang;
    store_put_le32(x + 2, (uint32_t)p->text.stop_langs);
    store_put_le32(x + 6, (uint32_t)(p->text.stop_langs >> 32));
    store_put_le32(x + 10, p->text.n_stop_custom);
    buf_append(out, x, sizeof x);
    for (uint32_t i = 0; i < p->text.n_stop_custom; i++) {
        uint8_t n[4];
        size_t len = strlen(p->text.stop_custom[i]);
        store_put_le32(n, (uint32_t)len);
        buf_append(out, n, sizeof n);
        buf_append(out, p->text.stop_custom[i], len);
    }
}

static int def_decode(Slice v, IndexDef *d)
{
    memset(d, 0, sizeof *d);
    const uint8_t *p = (const uint8_t *)v.ptr;
    if (v.len < INDEX_REC_HEAD || (p[0] != INDEX_REC_TAG && p[0] != INDEX_REC_TAG_TEXT) ||
        p[1] >= PAYLOAD_INDEX_TYPE_COUNT)
        return ERR_FORMAT;
    uint32_t plen = store_get_le32(p + 12);
    if (plen > v.len - INDEX_REC_HEAD || plen >= COLLECTION_MAX_INDEX_PARAMS) return ERR_FORMAT;
    if (p[0] == INDEX_REC_TAG && plen != v.len - INDEX_REC_HEAD) return ERR_FORMAT;
    d->type = (PayloadIndexType)p[1];
    d->text = payload_text_params_default();
    d->text.tokenizer = p[2];
    d->text.lowercase = p[3];
    d->text.min_token_len = store_get_le32(p + 4);
    d->text.max_token_len = store_get_le32(p + 8);
    if (p[0] == INDEX_REC_TAG_TEXT) {
        const uint8_t *x = p + INDEX_REC_HEAD + plen, *end = p + v.len;
        if (end - x < 14 || x[1] > STEM_LANG_COUNT) return ERR_FORMAT;
        d->text.ascii_folding = x[0] & 1;
        d->text.stem_lang = x[1];
        d->text.stop_langs = store_get_le32(x + 2) | (uint64_t)store_get_le32(x + 6) << 32;
        uint32_t n = store_get_le32(x + 10);
        if (d->text.stop_langs >> TEXT_LANG_COUNT || n > PAYLOAD_MAX_STOPWORDS) return ERR_FORMAT;
        x += 14;
        d->custom = n ? xcalloc(n, sizeof *d->custom) : NULL;
        for (uint32_t i = 0; i < n; i++) {
            uint32_t len = end - x >= 4 ? store_get_le32(x) : UINT32_MAX;
            if (len > (size_t)(end - x) - 4 || len > PAYLOAD_MAX_STOPWORD_BYTES) {
                d->text.n_stop_custom = i;
                def_clear(d);
                return ERR_FORMAT;
            }
            d->custom[i] = xstrndup((const char *)x + 4, len);
            x += 4 + len;
        }
        d->text.n_stop_custom = n;
        d->text.stop_custom = (const char *const *)d->custom;
        if (x != end) {
            def_clear(d);
            return ERR_FORMAT;
        }
    }
    d->params = xstrndup(v.ptr + INDEX_REC_HEAD, plen);
    return 0;
}

static int find_index(const Collection *c, const char *field)
{
    for (size_t i = 0; i < c->n_pindex; i++)
        if (!strcmp(payload_index_field(c->pindex[i]), field)) return (int)i;
    return -1;
}

/* add_index adds ix (with its params text, owned) to c, keeping the
 * indexes sorted by field name (the order LMDB gives them back in). */
static void add_index(Collection *c, PayloadIndex *ix, char *params)
{
    c->pindex = xrealloc(c->pindex, (c->n_pindex + 1) * sizeof *c->pindex);
    c->pindex_params = xrealloc(c->pindex_params, (c->n_pindex + 1) * sizeof *c->pindex_params);
    size_t at = c->n_pindex;
    while (at > 0 && strcmp(payload_index_field(c->pindex[at - 1]), payload_index_field(ix)) > 0) {
        c->pindex[at] = c->pindex[at - 1];
        c->pindex_params[at] = c->pindex_params[at - 1];
        at--;
    }
    c->pindex[at] = ix;
    c->pindex_params[at] = params;
    c->n_pindex++;
}

void coll_index_free(Collection *c)
{
    for (size_t i = 0; i < c->n_pindex; i++) {
        payload_index_free(c->pindex[i]);
        free(c->pindex_params[i]);
    }
    free(c->pindex);
    free(c->pindex_params);
    c->pindex = NULL;
    c->pindex_params = NULL;
    c->n_pindex = 0;
}

/* ---- building ---- */

/* build_from_points fills the indexes ix[0..n) from every point of c in
 * txn, parsing each payload once. */
static int build_from_points(Collection *c, StoreTxn *txn, PayloadIndex *const *ix, size_t n)
{
    if (!n) return 0;
    for (size_t i = 0; i < n; i++) payload_index_bulk_begin(ix[i]);
    uint8_t key[STORE_KEY_MAX];
    size_t plen = store_key_cid(key, c->cid);
    StoreCursor *cur;
    int err = store_cursor_open(txn, STORE_DB_POINTS, &cur);
    if (err) return err;
    Scratch s;
    coll_scratch_init(&s);
    Slice k, v;
    int e;
    for (e = store_cursor_seek(cur, key, plen, &k, &v); e == 0; e = store_cursor_next(cur, &k, &v)) {
        if (k.len < plen || memcmp(k.ptr, key, plen) != 0) break;
        if (v.len < COLLECTION_REC_HEADER) {
            err = ERR_FORMAT;
            break;
        }
        uint32_t node = store_get_le32((const uint8_t *)v.ptr);
        const JsonValue *doc = coll_payload_parse(&s, v.ptr + COLLECTION_REC_HEADER,
                                                  v.len - COLLECTION_REC_HEADER);
        if (!doc) continue; /* an empty payload indexes nothing */
        for (size_t i = 0; i < n; i++) payload_index_set(ix[i], node, doc);
    }
    if (!err && e != 0 && e != ERR_NOTFOUND) err = e;
    store_cursor_close(cur);
    coll_scratch_free(&s);
    for (size_t i = 0; i < n; i++) payload_index_bulk_end(ix[i]);
    return err;
}

int coll_index_load(StoreTxn *txn, Collection *c)
{
    uint8_t key[STORE_KEY_MAX];
    size_t plen = store_key_cid(key, c->cid);
    StoreCursor *cur;
    int err = store_cursor_open(txn, STORE_DB_PAYLOAD_INDEX, &cur);
    if (err) return err;
    Slice k, v;
    int e;
    for (e = store_cursor_seek(cur, key, plen, &k, &v); e == 0; e = store_cursor_next(cur, &k, &v)) {
        if (k.len < plen || memcmp(k.ptr, key, plen) != 0) break;
        char *field = xstrndup(k.ptr + plen, k.len - plen);
        IndexDef d;
        PayloadIndex *ix = NULL;
        err = def_decode(v, &d);
        if (!err) err = payload_index_new(field, d.type, &d.text, &ix) ? ERR_FORMAT : 0;
        if (err) {
            log_error("collection %s: malformed payload index record for \"%s\"", c->name, field);
            free(field);
            def_clear(&d);
            break;
        }
        free(field);
        add_index(c, ix, d.params);
        d.params = NULL; /* now the collection's */
        def_clear(&d);
    }
    store_cursor_close(cur);
    if (!err && e != 0 && e != ERR_NOTFOUND) err = e;
    if (!err && c->n_pindex) {
        double t0 = now_seconds();
        err = build_from_points(c, txn, c->pindex, c->n_pindex);
        log_info("collection %s: %zu payload indexes built in %.3f s", c->name, c->n_pindex,
                 now_seconds() - t0);
    }
    return err;
}

/* ---- upkeep ---- */

void coll_index_update(Collection *c, uint32_t node, const char *payload, size_t len)
{
    if (!c->n_pindex) return;
    Arena a;
    arena_init(&a, 4096);
    JsonValue *doc = NULL;
    if (payload && len > 2 && json_parse(&a, payload, len, &doc, NULL, 0) != 0) doc = NULL;
    for (size_t i = 0; i < c->n_pindex; i++) payload_index_set(c->pindex[i], node, doc);
    arena_free(&a);
}

/* ---- create, delete, schema ---- */

typedef struct {
    uint8_t key[4 + COLLECTION_MAX_INDEX_FIELD];
    size_t klen;
    const Buf *rec; /* NULL: delete */
    int keep;       /* the definition stays as it is: only an operation id */
    uint64_t op;    /* the operation id taken */
    Collection *c;  /* whose applied operations count it */
} DefWrite;

/* def_write_fn writes or deletes a definition, taking an operation id
 * (Qdrant's index changes are WAL operations and consume one). */
static int def_write_fn(StoreTxn *txn, void *ctx)
{
    DefWrite *d = ctx;
    int err = coll_take_operation_id(txn, &d->op);
    if (!err) err = coll_ops_put(txn, d->c->cid, d->c->op_num + 1);
    if (err || d->keep) return err;
    if (!d->rec) {
        err = store_del(txn, STORE_DB_PAYLOAD_INDEX, d->key, d->klen);
        return err == ERR_NOTFOUND ? 0 : err;
    }
    return store_put(txn, STORE_DB_PAYLOAD_INDEX, d->key, d->klen, d->rec->data, d->rec->len);
}

static int same_definition(const Collection *c, int i, const CollectionIndexParams *p)
{
    const PayloadIndex *ix = c->pindex[i];
    if (payload_index_type(ix) != p->type) return 0;
    if (strcmp(c->pindex_params[i], p->params ? p->params : "")) return 0;
    if (p->type != PAYLOAD_INDEX_TEXT) return 1;
    const PayloadTextParams *t = payload_index_text_params(ix);
    if (t->n_stop_custom != p->text.n_stop_custom) return 0;
    for (uint32_t k = 0; k < t->n_stop_custom; k++)
        if (strcmp(t->stop_custom[k], p->text.stop_custom[k])) return 0;
    return t->tokenizer == p->text.tokenizer && !t->lowercase == !p->text.lowercase &&
           t->min_token_len == p->text.min_token_len && t->max_token_len == p->text.max_token_len &&
           !t->ascii_folding == !p->text.ascii_folding && t->stem_lang == p->text.stem_lang &&
           t->stop_langs == p->text.stop_langs;
}

int collection_index_create(Db *db, const char *name, const char *field,
                            const CollectionIndexParams *p, uint64_t *operation_id, char *err,
                            size_t errlen)
{
    if (operation_id) *operation_id = 0;
    if (!field || !*field || strlen(field) > COLLECTION_MAX_INDEX_FIELD)
        return err_set(err, errlen, ERR_INVAL, "a payload index field name has 1 to %d bytes",
                       COLLECTION_MAX_INDEX_FIELD);
    if ((unsigned)p->type >= PAYLOAD_INDEX_TYPE_COUNT)
        return err_set(err, errlen, ERR_INVAL, "unknown payload index type");
    if (p->params && strlen(p->params) >= COLLECTION_MAX_INDEX_PARAMS)
        return err_set(err, errlen, ERR_INVAL, "payload index params are longer than %d bytes",
                       COLLECTION_MAX_INDEX_PARAMS - 1);
    if (p->type == PAYLOAD_INDEX_TEXT && p->text.tokenizer != PAYLOAD_TOKENIZER_WORD &&
        p->text.tokenizer != PAYLOAD_TOKENIZER_WHITESPACE && p->text.tokenizer != PAYLOAD_TOKENIZER_PREFIX)
        return err_set(err, errlen, ERR_INVAL, "unknown tokenizer");
    if (p->type == PAYLOAD_INDEX_TEXT) {
        if (p->text.stem_lang < 0 || p->text.stem_lang > STEM_LANG_COUNT)
            return err_set(err, errlen, ERR_INVAL, "unknown stemmer language");
        if (p->text.stop_langs >> TEXT_LANG_COUNT)
            return err_set(err, errlen, ERR_INVAL, "unknown stopwords language");
        if (p->text.n_stop_custom > PAYLOAD_MAX_STOPWORDS)
            return err_set(err, errlen, ERR_INVAL, "more than %d custom stopwords", PAYLOAD_MAX_STOPWORDS);
        for (uint32_t k = 0; k < p->text.n_stop_custom; k++)
            if (strlen(p->text.stop_custom[k]) > PAYLOAD_MAX_STOPWORD_BYTES)
                return err_set(err, errlen, ERR_INVAL, "a custom stopword is longer than %d bytes",
                               PAYLOAD_MAX_STOPWORD_BYTES);
    }
    PayloadIndex *ix;
    if (payload_index_new(field, p->type, &p->text, &ix) != 0)
        return err_set(err, errlen, ERR_INVAL, "invalid payload key path \"%s\"", field);
    Collection *c;
    int e = coll_write_begin(db, name, &c, err, errlen);
    if (e) {
        payload_index_free(ix);
        return e;
    }
    int at = find_index(c, field);
    if (at >= 0 && same_definition(c, at, p)) {
        DefWrite keep = { .keep = 1, .c = c };
        e = store_write(db->store, def_write_fn, &keep);
        if (!e) coll_ops_applied(c, 1, 0);
        if (!e && operation_id) *operation_id = keep.op;
        if (e) err_set(err, errlen, e, "storage error: %s", err_str(e));
        coll_write_end(db);
        payload_index_free(ix);
        return e;
    }
    if (at < 0 && c->n_pindex >= COLLECTION_MAX_INDEXES) {
        coll_write_end(db);
        payload_index_free(ix);
        return err_set(err, errlen, ERR_INVAL, "at most %d payload indexes per collection",
                       COLLECTION_MAX_INDEXES);
    }
    /* 1. The definition, durable. */
    Buf rec;
    buf_init(&rec);
    def_encode(p, &rec);
    DefWrite d = { .rec = &rec, .c = c };
    d.klen = def_key(d.key, c->cid, field);
    e = store_write(db->store, def_write_fn, &d);
    buf_free(&rec);
    if (!e) coll_ops_applied(c, 1, 0);
    if (!e && operation_id) *operation_id = d.op;
    /* 2. The contents, from the committed points (the write lock keeps
     * other writers out, so none is missed). */
    StoreTxn *txn = NULL;
    if (!e) e = store_read_begin(db->store, &txn);
    if (!e) {
        e = build_from_points(c, txn, &ix, 1);
        store_read_end(txn);
    }
    if (e) {
        err_set(err, errlen, e, "storage error: %s", err_str(e));
        coll_write_end(db);
        payload_index_free(ix);
        return e;
    }
    /* 3. In use. */
    PayloadIndex *old = NULL;
    char *old_params = NULL;
    pthread_rwlock_wrlock(&c->lock);
    if (at >= 0) {
        old = c->pindex[at];
        old_params = c->pindex_params[at];
        c->pindex[at] = ix;
        c->pindex_params[at] = xstrdup(p->params ? p->params : "");
    } else {
        add_index(c, ix, xstrdup(p->params ? p->params : ""));
    }
    pthread_rwlock_unlock(&c->lock);
    if (old) coll_blocks_forget(c, old);
    coll_blocks_wake(db, c);
    coll_write_end(db);
    payload_index_free(old);
    free(old_params);
    return 0;
}

int collection_index_delete(Db *db, const char *name, const char *field, uint64_t *operation_id)
{
    if (operation_id) *operation_id = 0;
    Collection *c;
    int e = coll_write_begin(db, name, &c, NULL, 0);
    if (e) return e;
    DefWrite d = { .rec = NULL, .c = c };
    /* A field no index can have (too long) deletes nothing. */
    d.keep = !field || !*field || strlen(field) > COLLECTION_MAX_INDEX_FIELD;
    if (!d.keep) d.klen = def_key(d.key, c->cid, field);
    e = store_write(db->store, def_write_fn, &d);
    if (!e) coll_ops_applied(c, 1, 0);
    if (!e && operation_id) *operation_id = d.op;
    int at = e || d.keep ? -1 : find_index(c, field);
    PayloadIndex *old = NULL;
    char *old_params = NULL;
    if (at >= 0) {
        pthread_rwlock_wrlock(&c->lock);
        old = c->pindex[at];
        old_params = c->pindex_params[at];
        for (size_t i = (size_t)at; i + 1 < c->n_pindex; i++) {
            c->pindex[i] = c->pindex[i + 1];
            c->pindex_params[i] = c->pindex_params[i + 1];
        }
        c->n_pindex--;
        pthread_rwlock_unlock(&c->lock);
        coll_blocks_forget(c, old);
        coll_blocks_wake(db, c); /* a pass the drop reordered finishes */
    }
    coll_write_end(db);
    payload_index_free(old);
    free(old_params);
    return e;
}

void coll_index_info(Collection *c, CollectionInfo *out)
{
    out->n_indexes = 0;
    for (size_t i = 0; i < c->n_pindex && i < COLLECTION_MAX_INDEXES; i++) {
        const PayloadIndex *ix = c->pindex[i];
        CollectionIndexInfo *ii = &out->indexes[out->n_indexes++];
        snprintf(ii->field, sizeof ii->field, "%s", payload_index_field(ix));
        ii->type = payload_index_type(ix);
        ii->text = *payload_index_text_params(ix);
        ii->text.stop_custom = NULL; /* the index's: not to outlive the lock */
        ii->text.n_stop_custom = 0;
        snprintf(ii->params, sizeof ii->params, "%s", c->pindex_params[i]);
        ii->points = payload_index_points(ix);
        out->memory_bytes += payload_index_memory(ix);
    }
}

/* ---- filtering ---- */

/* vector_bit: the bit of vector name in a point record's mask (dense
 * vectors by index, sparse ones at COLL_SPARSE_SLOT), or -1. */
static int vector_bit(void *ctx, const char *name)
{
    Collection *c = ctx;
    int s = coll_sparse_index(c, name);
    if (s >= 0) return COLL_SPARSE_SLOT(s);
    char err[8];
    int v = coll_vector_index(c, name, err, sizeof err);
    return v >= 0 ? v : -1;
}

void coll_filter_bind(Collection *c, Filter *f, int use_index)
{
    if (!f) return;
    filter_bind(f, c->pindex, c->n_pindex, use_index);
    filter_bind_vectors(f, vector_bit, c);
}

typedef struct {
    Collection *c;
    StoreTxn *txn;
    Scratch *s;
    uint32_t node;
    const ScanRec *r;
    int gone;
} LazyPayload;

static const JsonValue *lazy_payload(void *ctx, uint32_t *mask)
{
    LazyPayload *l = ctx;
    *mask = 0;
    if (l->r) {
        *mask = l->r->mask;
        return coll_payload_parse(l->s, l->r->payload, l->r->payload_len);
    }
    ScanRec rec;
    if (!l->txn || coll_point_lookup(l->c, l->txn, &l->c->node_ids[l->node], &rec) != 0 ||
        rec.node != l->node) {
        l->gone = 1;
        return NULL;
    }
    *mask = rec.mask;
    return coll_payload_parse(l->s, rec.payload, rec.payload_len);
}

int coll_filter_node(Collection *c, StoreTxn *txn, const Filter *f, Scratch *s, uint32_t node,
                     const ScanRec *r)
{
    if (filter_matches_all(f)) return 1;
    int agree = node < c->node_cap && c->node_live[node] &&
                (!r || point_id_equal(&c->node_ids[node], &r->id));
    if (!agree) {
        if (!r) return 0;
        return filter_match_vectors(f, &r->id, coll_payload_parse(s, r->payload, r->payload_len),
                                    r->mask);
    }
    LazyPayload l = { c, txn, s, node, r, 0 };
    int ok = filter_match_node(f, &c->node_ids[node], node, lazy_payload, &l);
    return ok && !l.gone;
}

/* filter_nodes is coll_filter_nodes; with index_only it declines (0)
 * unless the indexes name the candidates. */
static int filter_nodes(Collection *c, StoreTxn *txn, const Filter *f, uint64_t max_cand,
                        int index_only, NodeFn fn, void *ctx)
{
    const PointId *ids;
    size_t n_ids;
    if (filter_matches_all(f) || filter_id_candidates(f, &ids, &n_ids)) return 0;
    uint32_t *cand = NULL;
    size_t n = 0;
    int have = filter_candidates(f, c->points_count, max_cand, &cand, &n);
    if (!have && (index_only || filter_needs_payload(f))) return 0;
    Scratch s;
    coll_scratch_init(&s);
    size_t total = have ? n : c->node_high;
    for (size_t i = 0; i < total; i++) {
        uint32_t node = have ? cand[i] : (uint32_t)i;
        if (node >= c->node_cap || !c->node_live[node]) continue;
        if (coll_filter_node(c, txn, f, &s, node, NULL) && fn(ctx, node)) break;
    }
    coll_scratch_free(&s);
    free(cand);
    return 1;
}

int coll_filter_nodes(Collection *c, StoreTxn *txn, const Filter *f, uint64_t max_cand, NodeFn fn,
                      void *ctx)
{
    return filter_nodes(c, txn, f, max_cand, 0, fn, ctx);
}

int coll_filter_indexed(Collection *c, StoreTxn *txn, const Filter *f, uint64_t max_cand,
                        NodeFn fn, void *ctx)
{
    return filter_nodes(c, txn, f, max_cand, 1, fn, ctx);
}

/* ---- order_by ---- */

typedef struct {
    double value;
    uint32_t node;
    PointId id;
} OrderHit;

typedef struct {
    Collection *c;
    StoreTxn *txn;
    const Filter *f;
    Scratch s;
    int desc;
    size_t limit;
    OrderHit *hits; /* accepted, in order */
    size_t n_hits;
    OrderHit *run; /* entries of the current value, not yet judged */
    size_t n_run, cap_run;
    double run_value;
} OrderCtx;

static int cmp_hit_asc(const void *pa, const void *pb)
{
    const OrderHit *a = pa, *b = pb;
    if (a->value != b->value) return a->value < b->value ? -1 : 1;
    return point_id_cmp(&a->id, &b->id);
}

static int cmp_hit_desc(const void *pa, const void *pb) { return cmp_hit_asc(pb, pa); }

/* flush_run judges the entries of one value in id order; 1 when the
 * limit is reached. */
static int flush_run(OrderCtx *o)
{
    if (o->n_run > 1)
        qsort(o->run, o->n_run, sizeof *o->run, o->desc ? cmp_hit_desc : cmp_hit_asc);
    for (size_t i = 0; i < o->n_run && o->n_hits < o->limit; i++)
        if (coll_filter_node(o->c, o->txn, o->f, &o->s, o->run[i].node, NULL))
            o->hits[o->n_hits++] = o->run[i];
    o->n_run = 0;
    return o->n_hits >= o->limit;
}

static int order_take(void *ctx, double value, uint32_t node)
{
    OrderCtx *o = ctx;
    Collection *c = o->c;
    if (node >= c->node_cap || !c->node_live[node]) return 0;
    if (o->n_run && value != o->run_value && flush_run(o)) return 1;
    if (o->n_run == o->cap_run) {
        o->cap_run = o->cap_run ? o->cap_run * 2 : 64;
        o->run = xrealloc(o->run, o->cap_run * sizeof *o->run);
    }
    o->run_value = value;
    o->run[o->n_run++] = (OrderHit){ value, node, c->node_ids[node] };
    return 0;
}

/* order_from_candidates orders the few nodes the filter's index names:
 * their values come from the order index's records, not from a walk of
 * the whole index. */
static void order_from_candidates(OrderCtx *o, const PayloadIndex *ix, const PayloadRange *r,
                                  const uint32_t *cand, size_t n_cand)
{
    PayloadIndexType t = payload_index_type(ix);
    OrderHit *all = NULL;
    size_t n = 0, cap = 0;
    for (size_t i = 0; i < n_cand; i++) {
        uint32_t node = cand[i];
        if (node >= o->c->node_cap || !o->c->node_live[node]) continue;
        PayloadValues pv;
        payload_index_values(ix, node, &pv);
        if (!pv.n_vals || !coll_filter_node(o->c, o->txn, o->f, &o->s, node, NULL)) continue;
        size_t first = n;
        for (uint32_t k = 0; k < pv.n_vals; k++) {
            double v;
            if (t == PAYLOAD_INDEX_DATETIME) {
                v = (double)pv.times[k];
                if (r->has_lo && pv.times[k] < r->lo_t) continue;
                if (r->has_hi && pv.times[k] > r->hi_t) continue;
            } else {
                if (t == PAYLOAD_INDEX_INTEGER && !pv.nums[k].is_int) continue;
                v = pv.nums[k].d;
                if (r->has_lo && v < r->lo) continue;
                if (r->has_hi && v > r->hi) continue;
            }
            int dup = 0;
            for (size_t m = first; m < n && !dup; m++) dup = all[m].value == v;
            if (dup) continue;
            if (n == cap) {
                cap = cap ? cap * 2 : 256;
                all = xrealloc(all, cap * sizeof *all);
            }
            all[n++] = (OrderHit){ v == 0 ? 0.0 : v, node, o->c->node_ids[node] };
        }
    }
    if (n > 1) qsort(all, n, sizeof *all, o->desc ? cmp_hit_desc : cmp_hit_asc);
    for (size_t i = 0; i < n && o->n_hits < o->limit; i++) o->hits[o->n_hits++] = all[i];
    free(all);
}

int collection_order_by(Db *db, const char *name, const CollectionOrderBy *req, Arena *arena,
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
    /* The key's range-capable index (Qdrant: "No range index"). */
    const PayloadIndex *ix = NULL;
    Arena pa;
    arena_init(&pa, 1024);
    FilterPath path;
    const char *key = req->key ? req->key : "";
    if (*key && filter_path_parse(&pa, key, strlen(key), &path) == 0) {
        for (size_t i = 0; i < c->n_pindex && !ix; i++) {
            PayloadIndexType t = payload_index_type(c->pindex[i]);
            if ((t == PAYLOAD_INDEX_INTEGER || t == PAYLOAD_INDEX_FLOAT || t == PAYLOAD_INDEX_DATETIME) &&
                filter_path_equal(payload_index_path(c->pindex[i]), &path))
                ix = c->pindex[i];
        }
    }
    arena_free(&pa);
    if (!ix)
        e = err_set(err, errlen, ERR_INVAL,
                    "No range index for `order_by` key: `%s`. Please create one to use `order_by`. "
                    "Check https://qdrant.tech/documentation/concepts/indexing/#payload-index to see "
                    "which payload schemas support Range conditions",
                    key);
    Output o;
    if (!e) e = coll_output_resolve(c, &req->with_payload, &req->with_vectors, &o, err, errlen);
    StoreTxn *txn = NULL;
    if (!e) e = store_read_begin(db->store, &txn);
    if (!e) {
        PayloadRange r;
        memset(&r, 0, sizeof r);
        if (req->has_start) {
            int t = payload_index_type(ix) == PAYLOAD_INDEX_DATETIME;
            if (req->desc) {
                r.has_hi = r.hi_incl = 1;
                r.hi = req->start;
                r.hi_t = t ? (int64_t)req->start : 0;
            } else {
                r.has_lo = r.lo_incl = 1;
                r.lo = req->start;
                r.lo_t = t ? (int64_t)req->start : 0;
            }
        }
        OrderCtx oc = { .c = c, .txn = txn, .f = f, .desc = req->desc, .limit = limit };
        coll_scratch_init(&oc.s);
        oc.hits = xmalloc(limit * sizeof *oc.hits);
        uint32_t *cand = NULL;
        size_t n_cand = 0;
        const PointId *ids;
        size_t n_ids;
        if (!filter_matches_all(f) && filter_id_candidates(f, &ids, &n_ids) &&
            n_ids <= db->full_scan_threshold) {
            /* A has_id filter (a query's prefetch results): its points. */
            cand = xmalloc((n_ids ? n_ids : 1) * sizeof *cand);
            for (size_t i = 0; i < n_ids; i++) {
                ScanRec rec;
                if (coll_point_lookup(c, txn, &ids[i], &rec) == 0 && rec.node < c->node_cap &&
                    c->node_live[rec.node] && point_id_equal(&c->node_ids[rec.node], &ids[i]))
                    cand[n_cand++] = rec.node;
            }
            order_from_candidates(&oc, ix, &r, cand, n_cand);
        } else if (!filter_matches_all(f) &&
                   filter_candidates(f, c->points_count, db->full_scan_threshold, &cand, &n_cand)) {
            order_from_candidates(&oc, ix, &r, cand, n_cand);
        } else {
            payload_index_order(ix, req->desc, &r, order_take, &oc);
            if (oc.n_hits < limit) flush_run(&oc);
        }
        free(cand);
        free(oc.run);
        coll_result_init(c, out, arena, oc.n_hits);
        out->order_values = arena_alloc(arena, (oc.n_hits ? oc.n_hits : 1) * sizeof(double));
        for (size_t i = 0; i < oc.n_hits && !e; i++) {
            ScanRec rec;
            int le = coll_point_lookup(c, txn, &oc.hits[i].id, &rec);
            if (le == ERR_NOTFOUND || (!le && rec.node != oc.hits[i].node)) continue;
            if (le) {
                e = le;
                break;
            }
            out->order_values[out->n] = oc.hits[i].value;
            e = coll_output_point(c, &o, txn, &oc.s, &rec, 0, arena, &out->points[out->n]);
            out->n++;
        }
        free(oc.hits);
        coll_scratch_free(&oc.s);
        store_read_end(txn);
    }
    coll_read_end(db, c);
    filter_free(f);
    return e;
}
