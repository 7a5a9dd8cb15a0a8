/*
 * collection.c - the engine behind the HTTP API: collections of points in
 * LMDB (store.h), one HNSW graph per named vector (hnsw.h), Qdrant
 * filters (filter.h). See collection.h for the contract and
 * docs/storage.md for the on-disk layout.
 *
 * Write path (one writer at a time, Db.write):
 *   1. validate the whole batch and prepare every value (payload text,
 *      normalised vectors) before touching the store;
 *   2. one LMDB write transaction writes points, vectors and a "pending"
 *      marker per touched node, and commits (fsync): the acknowledgement;
 *   3. the node table and the graphs change in memory (they never run
 *      ahead of LMDB);
 *   4. a second transaction saves the graph records of every node the
 *      step-3 changes touched and deletes the pending markers. A crash
 *      between 2 and 4 leaves markers: the next open loads the last saved
 *      graph (a consistent whole, since 4 is atomic) and replays the marked
 *      nodes from the committed vectors.
 *   Which graph nodes change: an insert or update rewrites the node's own
 *   links and those of the nodes it links to; a delete repairs the nodes it
 *   linked to. So the "dirty" set is the node plus its links before and
 *   after the operation (test_store_reopen checks the saved graph equals
 *   the in-memory one node for node).
 *
 * Read path: any thread; the Db list lock and the collection's node-table
 * lock are held shared for the whole operation, which runs in one short
 * LMDB read transaction. Points, payloads and vectors returned are read
 * from that transaction, so an answer is one consistent view even while
 * the writer runs; a graph hit whose point vanished meanwhile is skipped.
 *
 * Node ids: dense uint32, allocated from a free list (lowest first after
 * open) so a deleted point's slot is reused and the graphs stay compact.
 * A deleted node's vector row and graph record stay in LMDB until reuse,
 * because the graph keeps routing through deleted slots (hnsw.h).
 */
#include "store/collection.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/err.h"
#include "index/filter.h"
#include "base/log.h"
#include "index/payload.h"
#include "store/store.h"
#include "base/util.h"
#include "base/vec.h"

/* Seed of every graph's level draws, so a rebuild repeats a build. */
#define COLLECTION_HNSW_SEED 0x76697472696e65ULL
/* Scratch arenas used while scanning are released past this many bytes. */
#define COLLECTION_SCRATCH_MAX (1 << 20)
/* Default page / result size (Qdrant's). */
#define COLLECTION_DEFAULT_LIMIT 10
/* Points record header: u32 node + u32 vector mask. */
#define COLLECTION_REC_HEADER 8
/* Graph entry record: u32 entry node + u32 max level. */
#define COLLECTION_ENTRY_LEN 8

typedef struct {
    HnswIndex *index;
    /* Nodes whose graph records changed in memory and are not yet saved
     * (writer only). */
    uint32_t *dirty;
    size_t n_dirty, dirty_cap;
    uint8_t *dirty_flag;
    size_t dirty_flag_cap;
    /* The graph is being rebuilt: the next save first deletes every
     * saved record of it, so stale records of nodes left out are gone. */
    int wipe;
} CollIndex;

typedef struct Collection {
    char *name;
    uint32_t cid;
    CollectionConfig config;
    int64_t created_at;
    CollIndex idx[COLLECTION_MAX_VECTORS];
    /* Node table: readers shared, the writer exclusive while it edits. */
    pthread_rwlock_t lock;
    PointId *node_ids; /* [node_cap] the point owning each node */
    uint8_t *node_live; /* [node_cap] 1 when a point owns it */
    uint32_t node_cap;
    uint32_t node_high; /* 1 + the highest node ever used */
    uint64_t points_count;
    /* Writer-only state. */
    uint32_t *free_nodes; /* top of the stack (end) is handed out first */
    size_t n_free, free_cap;
    uint32_t *pending; /* nodes whose pending markers the next save deletes */
    size_t n_pending, pending_cap;
    uint32_t *links; /* scratch for hnsw_node_get */
    size_t links_cap;
    int counts[HNSW_MAX_LEVEL + 1];
    uint8_t *blob; /* scratch for hnsw_node_encode */
    size_t blob_cap;
    float *vec; /* scratch: one vector of the largest dimension */
} Collection;

struct Db {
    Store *store;
    uint64_t full_scan_threshold;
    pthread_rwlock_t lock;  /* the collection list: shared by operations */
    pthread_mutex_t write;  /* one writer at a time */
    Collection **colls;
    size_t n_colls, cap_colls;
};

/* ---- small helpers ---- */

static HnswMetric metric_of(CollectionDistance d)
{
    switch (d) {
    case COLLECTION_DOT: return HNSW_METRIC_DOT;
    case COLLECTION_EUCLID: return HNSW_METRIC_EUCLID;
    default: return HNSW_METRIC_COSINE;
    }
}

/* goodness turns a score into "larger is better" for every metric. */
static float goodness(const Collection *c, int v, float score)
{
    return c->config.vectors[v].distance == COLLECTION_EUCLID ? -score : score;
}

static void grow_u32(uint32_t **a, size_t *cap, size_t need)
{
    if (need <= *cap) return;
    size_t n = *cap ? *cap * 2 : 64;
    while (n < need) n *= 2;
    *a = xrealloc(*a, n * sizeof **a);
    *cap = n;
}

const char *collection_distance_name(CollectionDistance d)
{
    switch (d) {
    case COLLECTION_DOT: return "Dot";
    case COLLECTION_EUCLID: return "Euclid";
    default: return "Cosine";
    }
}

/* ---- configuration ---- */

static int parse_distance(const JsonValue *v, CollectionDistance *out)
{
    const char *s = json_as_str(v);
    if (!s) return ERR_INVAL;
    if (!strcmp(s, "Cosine")) *out = COLLECTION_COSINE;
    else if (!strcmp(s, "Dot")) *out = COLLECTION_DOT;
    else if (!strcmp(s, "Euclid")) *out = COLLECTION_EUCLID;
    else return ERR_INVAL;
    return 0;
}

static int parse_vector_params(const JsonValue *v, const char *name, CollectionVectorParams *out,
                               char *err, size_t errlen)
{
    uint64_t size;
    if (!v || v->type != JSON_OBJECT)
        return err_set(err, errlen, ERR_INVAL, "vectors%s%s: expected an object with size and distance",
                       *name ? "." : "", name);
    if (json_as_uint64(json_get(v, "size"), &size) || size < 1 || size > COLLECTION_MAX_DIM)
        return err_set(err, errlen, ERR_INVAL, "vectors%s%s.size: expected an integer in 1..%d",
                       *name ? "." : "", name, COLLECTION_MAX_DIM);
    if (parse_distance(json_get(v, "distance"), &out->distance))
        return err_set(err, errlen, ERR_INVAL,
                       "vectors%s%s.distance: expected \"Cosine\", \"Dot\" or \"Euclid\"",
                       *name ? "." : "", name);
    out->size = (uint32_t)size;
    snprintf(out->name, sizeof out->name, "%s", name);
    return 0;
}

int collection_config_from_json(const JsonValue *body, CollectionConfig *out, char *err,
                                size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!body || body->type != JSON_OBJECT)
        return err_set(err, errlen, ERR_INVAL, "expected a JSON object");
    const JsonValue *vectors = json_get(body, "vectors");
    if (!vectors || vectors->type != JSON_OBJECT)
        return err_set(err, errlen, ERR_INVAL, "vectors: expected an object");
    if (json_get(vectors, "size")) {
        out->unnamed = 1;
        out->n_vectors = 1;
        int e = parse_vector_params(vectors, "", &out->vectors[0], err, errlen);
        if (e) return e;
    } else {
        if (vectors->len == 0)
            return err_set(err, errlen, ERR_INVAL, "vectors: at least one vector is needed");
        if (vectors->len > COLLECTION_MAX_VECTORS)
            return err_set(err, errlen, ERR_INVAL, "vectors: at most %d named vectors",
                           COLLECTION_MAX_VECTORS);
        for (uint32_t i = 0; i < vectors->len; i++) {
            const JsonMember *m = &vectors->u.members[i];
            if (m->key_len == 0 || m->key_len > COLLECTION_MAX_VECTOR_NAME ||
                strlen(m->key) != m->key_len)
                return err_set(err, errlen, ERR_INVAL,
                               "vectors: a vector name must have 1..%d bytes",
                               COLLECTION_MAX_VECTOR_NAME);
            for (uint32_t j = 0; j < i; j++)
                if (!strcmp(vectors->u.members[j].key, m->key))
                    return err_set(err, errlen, ERR_INVAL, "vectors: %s given twice", m->key);
            int e = parse_vector_params(&m->value, m->key, &out->vectors[i], err, errlen);
            if (e) return e;
        }
        out->n_vectors = (int)vectors->len;
    }
    const JsonValue *h = json_get(body, "hnsw_config");
    if (h && h->type != JSON_NULL) {
        int64_t x;
        if (h->type != JSON_OBJECT)
            return err_set(err, errlen, ERR_INVAL, "hnsw_config: expected an object");
        const JsonValue *m = json_get(h, "m");
        if (m) {
            if (json_as_int64(m, &x) || x < COLLECTION_MIN_M || x > COLLECTION_MAX_M)
                return err_set(err, errlen, ERR_INVAL, "hnsw_config.m: expected an integer in %d..%d",
                               COLLECTION_MIN_M, COLLECTION_MAX_M);
            out->m = (int)x;
        }
        const JsonValue *ef = json_get(h, "ef_construct");
        if (ef) {
            if (json_as_int64(ef, &x) || x < COLLECTION_MIN_EF_CONSTRUCT ||
                x > COLLECTION_MAX_EF_CONSTRUCT)
                return err_set(err, errlen, ERR_INVAL,
                               "hnsw_config.ef_construct: expected an integer in %d..%d",
                               COLLECTION_MIN_EF_CONSTRUCT, COLLECTION_MAX_EF_CONSTRUCT);
            out->ef_construct = (int)x;
        }
    }
    return 0;
}

void collection_config_write(JsonWriter *w, const CollectionConfig *c)
{
    jw_object_begin(w);
    jw_key(w, "vectors");
    if (!c->unnamed) jw_object_begin(w);
    for (int i = 0; i < c->n_vectors; i++) {
        if (!c->unnamed) jw_key(w, c->vectors[i].name);
        jw_object_begin(w);
        jw_key(w, "size");
        jw_uint(w, c->vectors[i].size);
        jw_key(w, "distance");
        jw_string(w, collection_distance_name(c->vectors[i].distance));
        jw_object_end(w);
    }
    if (!c->unnamed) jw_object_end(w);
    jw_key(w, "hnsw_config");
    jw_object_begin(w);
    jw_key(w, "m");
    jw_int(w, c->m);
    jw_key(w, "ef_construct");
    jw_int(w, c->ef_construct);
    jw_object_end(w);
    jw_object_end(w);
}

static int config_validate(CollectionConfig *c, char *err, size_t errlen)
{
    if (c->n_vectors < 1 || c->n_vectors > COLLECTION_MAX_VECTORS)
        return err_set(err, errlen, ERR_INVAL, "a collection needs 1..%d vectors",
                       COLLECTION_MAX_VECTORS);
    if (c->unnamed && (c->n_vectors != 1 || c->vectors[0].name[0]))
        return err_set(err, errlen, ERR_INVAL, "an unnamed vector must be the only one");
    for (int i = 0; i < c->n_vectors; i++) {
        const CollectionVectorParams *p = &c->vectors[i];
        if (p->size < 1 || p->size > COLLECTION_MAX_DIM)
            return err_set(err, errlen, ERR_INVAL, "vector size must be in 1..%d",
                           COLLECTION_MAX_DIM);
        if ((unsigned)p->distance > COLLECTION_EUCLID)
            return err_set(err, errlen, ERR_INVAL, "unknown distance");
        if (!c->unnamed && !p->name[0])
            return err_set(err, errlen, ERR_INVAL, "named vectors need names");
        for (int j = 0; j < i; j++)
            if (!strcmp(c->vectors[j].name, p->name))
                return err_set(err, errlen, ERR_INVAL, "vector %s given twice", p->name);
    }
    if (!c->m) c->m = COLLECTION_DEFAULT_M;
    if (!c->ef_construct) c->ef_construct = COLLECTION_DEFAULT_EF_CONSTRUCT;
    if (c->m < COLLECTION_MIN_M || c->m > COLLECTION_MAX_M)
        return err_set(err, errlen, ERR_INVAL, "hnsw m must be in %d..%d", COLLECTION_MIN_M,
                       COLLECTION_MAX_M);
    if (c->ef_construct < COLLECTION_MIN_EF_CONSTRUCT ||
        c->ef_construct > COLLECTION_MAX_EF_CONSTRUCT)
        return err_set(err, errlen, ERR_INVAL, "hnsw ef_construct must be in %d..%d",
                       COLLECTION_MIN_EF_CONSTRUCT, COLLECTION_MAX_EF_CONSTRUCT);
    return 0;
}

static int name_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > COLLECTION_MAX_NAME) return 0;
    if (!strcmp(name, ".") || !strcmp(name, "..")) return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)name[i];
        if (ch < 0x20 || ch == 0x7f || strchr("/\\<>:\"|?*", ch)) return 0;
    }
    return 1;
}

/* vector_index resolves a vector name (NULL or "" for the unnamed one). */
static int vector_index(const Collection *c, const char *name, char *err, size_t errlen)
{
    if (!name || !*name) {
        if (c->config.unnamed) return 0;
        return err_set(err, errlen, ERR_INVAL,
                       "collection %s has named vectors; say which vector to use", c->name);
    }
    for (int i = 0; i < c->config.n_vectors; i++)
        if (!strcmp(c->config.vectors[i].name, name)) return i;
    if (c->config.unnamed)
        return err_set(err, errlen, ERR_INVAL, "collection %s has one unnamed vector, not \"%s\"",
                       c->name, name);
    return err_set(err, errlen, ERR_INVAL, "collection %s has no vector named \"%s\"", c->name,
                   name);
}

/* ---- collection objects ---- */

static void coll_free(Collection *c)
{
    if (!c) return;
    for (int i = 0; i < COLLECTION_MAX_VECTORS; i++) {
        hnsw_free(c->idx[i].index);
        free(c->idx[i].dirty);
        free(c->idx[i].dirty_flag);
    }
    pthread_rwlock_destroy(&c->lock);
    free(c->node_ids);
    free(c->node_live);
    free(c->free_nodes);
    free(c->pending);
    free(c->links);
    free(c->blob);
    free(c->vec);
    free(c->name);
    free(c);
}

static int coll_new(const char *name, uint32_t cid, const CollectionConfig *cfg, int64_t created,
                    Collection **out)
{
    Collection *c = xcalloc(1, sizeof *c);
    c->name = xstrdup(name);
    c->cid = cid;
    c->config = *cfg;
    c->created_at = created;
    rwlock_init_writer_pref(&c->lock);
    for (int i = 0; i < cfg->n_vectors; i++) {
        HnswParams p;
        hnsw_params_default(&p);
        p.m = cfg->m;
        p.ef_construction = cfg->ef_construct;
        p.seed = COLLECTION_HNSW_SEED;
        int err = hnsw_create((int)cfg->vectors[i].size, metric_of(cfg->vectors[i].distance), &p,
                              &c->idx[i].index);
        if (err) {
            log_error("collection %s: cannot create the index of vector %d: %s", name, i,
                      err_str(err));
            coll_free(c);
            return err;
        }
        size_t lm = (size_t)hnsw_links_max(c->idx[i].index, HNSW_MAX_LEVEL);
        if (lm > c->links_cap) c->links_cap = lm;
        size_t bm = hnsw_node_blob_max(c->idx[i].index);
        if (bm > c->blob_cap) c->blob_cap = bm;
    }
    c->links = xmalloc(c->links_cap * sizeof *c->links);
    c->blob = xmalloc(c->blob_cap);
    size_t maxdim = 1;
    for (int i = 0; i < cfg->n_vectors; i++) maxdim = MAX(maxdim, (size_t)cfg->vectors[i].size);
    c->vec = xmalloc(maxdim * sizeof *c->vec);
    *out = c;
    return 0;
}

/* node_table_reserve grows the node table to hold nodes < need. Called by
 * the writer with the collection lock held exclusively (or at open). */
static void node_table_reserve(Collection *c, uint32_t need)
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
    grow_u32(&ix->dirty, &ix->dirty_cap, ix->n_dirty + 1);
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
 * apply_vector brings graph v of node in line with the committed state:
 * vec is the node's vector, or NULL when the point has no such vector
 * (deleted point, or upserted without it). force re-links even an
 * unchanged vector (a replay, whose saved links may predate the vector).
 */
static void apply_vector(Collection *c, int v, uint32_t node, const float *vec, int force)
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

/* ---- graph persistence ---- */

typedef struct {
    Collection *c;
} GraphSaveCtx;

static int graph_save_fn(StoreTxn *txn, void *vctx)
{
    GraphSaveCtx *g = vctx;
    Collection *c = g->c;
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

/*
 * graph_save writes the dirty graph records and clears the pending
 * markers. On failure everything stays dirty and is retried by the next
 * write; the markers guarantee a replay on open if none succeeds.
 */
static int graph_save(Db *db, Collection *c)
{
    GraphSaveCtx g = { c };
    int err = store_write(db->store, graph_save_fn, &g);
    if (err) {
        log_error("collection %s: saving the graph failed (%s); it will be retried", c->name,
                  err_str(err));
        return err;
    }
    for (int v = 0; v < c->config.n_vectors; v++) {
        CollIndex *ix = &c->idx[v];
        for (size_t i = 0; i < ix->n_dirty; i++) ix->dirty_flag[ix->dirty[i]] = 0;
        ix->n_dirty = 0;
        ix->wipe = 0;
    }
    c->n_pending = 0;
    return 0;
}

static void add_pending(Collection *c, uint32_t node)
{
    grow_u32(&c->pending, &c->pending_cap, c->n_pending + 1);
    c->pending[c->n_pending++] = node;
}

/* ---- opening ---- */

static int config_record_parse(const char *name, Slice val, uint32_t *cid, CollectionConfig *cfg,
                               int64_t *created)
{
    char err[256];
    if (val.len < 4) return ERR_FORMAT;
    *cid = store_get_le32((const uint8_t *)val.ptr);
    Arena a;
    arena_init(&a, 0);
    JsonValue *root;
    int e = json_parse(&a, val.ptr + 4, val.len - 4, &root, err, sizeof err);
    if (!e) e = collection_config_from_json(root, cfg, err, sizeof err);
    if (!e) e = config_validate(cfg, err, sizeof err);
    if (!e && json_as_int64(json_get(root, "created_at"), created)) *created = 0;
    arena_free(&a);
    if (e) {
        log_error("collection %s: stored configuration is invalid: %s", name, err);
        return ERR_FORMAT;
    }
    return 0;
}

static void config_record_build(const CollectionConfig *cfg, int64_t created, Buf *out)
{
    JsonWriter w;
    Buf tmp;
    buf_init(&tmp);
    jw_init(&w, &tmp);
    collection_config_write(&w, cfg);
    /* Append created_at inside the object written above. */
    tmp.len--; /* drop the closing brace */
    buf_printf(&tmp, ",\"created_at\":%lld}", (long long)created);
    buf_append(out, tmp.data, tmp.len);
    buf_free(&tmp);
}

/* load_vectors_and_graph reads graph v back: vectors and graph records in
 * node order, merged. Nodes with a vector but no graph record are added
 * to *replay (the insert was committed but its graph never saved). */
static int load_graph(Collection *c, StoreTxn *txn, int v, uint32_t **replay, size_t *n_replay,
                      size_t *replay_cap, int *broken)
{
    HnswIndex *h = c->idx[v].index;
    size_t dim = c->config.vectors[v].size;
    uint8_t key[STORE_KEY_MAX], gkey[STORE_KEY_MAX];
    size_t plen = store_key_index(key, c->cid, (uint16_t)v);
    StoreCursor *vc = NULL, *gc = NULL;
    Slice k, val, gk, gv;
    float *vec = xmalloc(dim * sizeof *vec);
    int err = store_cursor_open(txn, STORE_DB_VECTORS, &vc);
    if (!err) err = store_cursor_open(txn, STORE_DB_GRAPH, &gc);
    if (err) goto done;
    /* The graph cursor starts at node 0, past the entry record. */
    size_t gl = store_key_node(gkey, c->cid, (uint16_t)v, 0);
    int gerr = store_cursor_seek(gc, gkey, gl, &gk, &gv);
    int verr = store_cursor_seek(vc, key, plen, &k, &val);
    for (; verr == 0; verr = store_cursor_next(vc, &k, &val)) {
        if (k.len != 10 || memcmp(k.ptr, key, plen) != 0) break;
        uint32_t node = store_get_be32((const uint8_t *)k.ptr + 6);
        if (val.len != dim * sizeof(float)) {
            log_error("collection %s: vector %d of node %u has %zu bytes, expected %zu", c->name,
                      v, node, val.len, dim * sizeof(float));
            err = ERR_FORMAT;
            goto done;
        }
        if (node >= c->node_high) c->node_high = node + 1;
        /* LMDB values are only 2-byte aligned: copy before using floats. */
        memcpy(vec, val.ptr, val.len);
        uint32_t gnode = HNSW_NO_NODE;
        while (gerr == 0 && gk.len == 10 && !memcmp(gk.ptr, key, plen) &&
               (gnode = store_get_be32((const uint8_t *)gk.ptr + 6)) < node) {
            *broken = 1; /* a graph record without a vector */
            gerr = store_cursor_next(gc, &gk, &gv);
            gnode = HNSW_NO_NODE;
        }
        if (gerr == 0 && gk.len == 10 && !memcmp(gk.ptr, key, plen) && gnode == node) {
            if (hnsw_node_decode(h, node, vec, gv.ptr, gv.len) != 0) *broken = 1;
            gerr = store_cursor_next(gc, &gk, &gv);
        } else if (node < c->node_cap && c->node_live[node]) {
            grow_u32(replay, replay_cap, *n_replay + 1);
            (*replay)[(*n_replay)++] = node;
        }
    }
    if (gerr == 0 && gk.len == 10 && !memcmp(gk.ptr, key, plen)) *broken = 1;
    if (verr && verr != ERR_NOTFOUND) err = verr;
    if (gerr && gerr != ERR_NOTFOUND) err = gerr;
    if (err) goto done;
    if (!*broken) {
        uint32_t entry = HNSW_NO_NODE, max_level = 0;
        if (store_get(txn, STORE_DB_GRAPH, key, plen, &val) == 0 &&
            val.len == COLLECTION_ENTRY_LEN) {
            entry = store_get_le32((const uint8_t *)val.ptr);
            max_level = store_get_le32((const uint8_t *)val.ptr + 4);
        }
        if (hnsw_restore(h, entry, (int)max_level) != 0) *broken = 1;
    }
done:
    store_cursor_close(vc);
    store_cursor_close(gc);
    free(vec);
    return err;
}

/* load_collection builds one collection's memory state from LMDB. The
 * nodes that need a graph replay are returned in *replay. */
static int load_collection(Db *db, StoreTxn *txn, const char *name, Slice rec, Collection **out,
                           uint32_t **replay, size_t *n_replay, int *rebuild)
{
    uint32_t cid;
    CollectionConfig cfg;
    int64_t created;
    int err = config_record_parse(name, rec, &cid, &cfg, &created);
    if (err) return err;
    Collection *c;
    if ((err = coll_new(name, cid, &cfg, created, &c))) return err;
    (void)db;
    uint8_t key[STORE_KEY_MAX];
    size_t plen = store_key_cid(key, cid);
    StoreCursor *cur = NULL;
    Slice k, v;
    size_t replay_cap = 0;
    *n_replay = 0;
    *replay = NULL;
    *rebuild = 0;

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
        node_table_reserve(c, node + 1);
        c->node_ids[node] = id;
        c->node_live[node] = 1;
        if (node >= c->node_high) c->node_high = node + 1;
        c->points_count++;
    }
    store_cursor_close(cur);
    cur = NULL;
    if (e != ERR_NOTFOUND && e != 0) {
        err = e;
        goto fail;
    }
    node_table_reserve(c, c->node_high + 1);

    /* Graphs. */
    for (int i = 0; i < cfg.n_vectors; i++) {
        hnsw_reserve(c->idx[i].index, c->node_high ? c->node_high : 1);
        int broken = 0;
        if ((err = load_graph(c, txn, i, replay, n_replay, &replay_cap, &broken))) goto fail;
        if (broken) {
            log_warn("collection %s: the saved graph of vector %d is inconsistent; "
                     "rebuilding it from the stored vectors", name, i);
            hnsw_clear(c->idx[i].index);
            c->idx[i].wipe = 1;
            *rebuild |= 1 << i;
        }
    }
    node_table_reserve(c, c->node_high + 1);

    /* Pending markers: nodes whose graph changes were not saved. */
    uint8_t pkey[STORE_KEY_MAX];
    size_t pl = store_key_cid(pkey, cid);
    if ((err = store_cursor_open(txn, STORE_DB_PENDING, &cur))) goto fail;
    for (e = store_cursor_seek(cur, pkey, pl, &k, &v); e == 0; e = store_cursor_next(cur, &k, &v)) {
        if (k.len != 8 || memcmp(k.ptr, pkey, pl) != 0) break;
        uint32_t node = store_get_be32((const uint8_t *)k.ptr + 4);
        grow_u32(replay, &replay_cap, *n_replay + 1);
        (*replay)[(*n_replay)++] = node;
        add_pending(c, node);
    }
    store_cursor_close(cur);
    cur = NULL;

    /* Free nodes, highest pushed first so the lowest is handed out first. */
    for (uint32_t n = c->node_high; n-- > 0;) {
        if (c->node_live[n]) continue;
        grow_u32(&c->free_nodes, &c->free_cap, c->n_free + 1);
        c->free_nodes[c->n_free++] = n;
    }
    *out = c;
    return 0;
fail:
    store_cursor_close(cur);
    free(*replay);
    *replay = NULL;
    coll_free(c);
    return err;
}

/* point_mask_get reads a live node's vector mask from its points record. */
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
    uint8_t key[STORE_KEY_MAX];
    Slice v;
    size_t maxdim = 0;
    for (int i = 0; i < c->config.n_vectors; i++)
        if (c->config.vectors[i].size > maxdim) maxdim = c->config.vectors[i].size;
    float *vec = xmalloc(maxdim * sizeof *vec);
    size_t total = 0;
    for (int i = 0; i < c->config.n_vectors; i++) {
        size_t dim = c->config.vectors[i].size;
        int all = rebuild >> i & 1;
        size_t n = all ? c->node_high : n_replay;
        for (size_t j = 0; j < n; j++) {
            uint32_t node = all ? (uint32_t)j : replay[j];
            uint32_t mask = 0;
            int live = node < c->node_cap && c->node_live[node] &&
                       node_record(c, txn, node, &mask) == 0 && (mask >> i & 1);
            if (all && !live) continue;
            const float *p = NULL;
            if (live) {
                size_t kl = store_key_node(key, c->cid, (uint16_t)i, node);
                if (store_get(txn, STORE_DB_VECTORS, key, kl, &v) != 0 ||
                    v.len != dim * sizeof(float)) {
                    log_error("collection %s: node %u lacks its vector %d", c->name, node, i);
                    continue;
                }
                memcpy(vec, v.ptr, v.len);
                p = vec;
            }
            apply_vector(c, i, node, p, !all);
            total++;
        }
    }
    free(vec);
    store_read_end(txn);
    if (total || c->n_pending)
        log_info("collection %s: replayed %zu graph changes left unsaved", c->name, total);
    return graph_save(db, c);
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
    typedef struct {
        Collection *c;
        uint32_t *replay;
        size_t n_replay;
        int rebuild;
    } Loaded;
    Loaded *loaded = NULL;
    size_t n_loaded = 0;
    Slice k, v;
    int e;
    for (e = store_cursor_seek(cur, NULL, 0, &k, &v); e == 0; e = store_cursor_next(cur, &k, &v)) {
        char *name = xstrndup(k.ptr, k.len);
        Loaded l = { 0 };
        err = load_collection(db, txn, name, v, &l.c, &l.replay, &l.n_replay, &l.rebuild);
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
    double t0 = now_seconds();
    if ((err = db_load_all(db))) {
        collection_db_close(db);
        return err;
    }
    uint64_t points = 0;
    for (size_t i = 0; i < db->n_colls; i++) points += db->colls[i]->points_count;
    log_info("store: %s: %zu collections, %llu points loaded in %.3f s", dir, db->n_colls,
             (unsigned long long)points, now_seconds() - t0);
    *out = db;
    return 0;
}

void collection_db_close(Db *db)
{
    if (!db) return;
    for (size_t i = 0; i < db->n_colls; i++) {
        Collection *c = db->colls[i];
        int dirty = c->n_pending != 0;
        for (int v = 0; v < c->config.n_vectors; v++) dirty |= c->idx[v].n_dirty != 0;
        if (dirty) graph_save(db, c);
        coll_free(c);
    }
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

static Collection *db_find(Db *db, const char *name)
{
    if (!name) return NULL;
    for (size_t i = 0; i < db->n_colls; i++)
        if (!strcmp(db->colls[i]->name, name)) return db->colls[i];
    return NULL;
}

/* read_begin takes the shared locks of a read operation on name. */
static int read_begin(Db *db, const char *name, Collection **out, char *err, size_t errlen)
{
    pthread_rwlock_rdlock(&db->lock);
    Collection *c = db_find(db, name);
    if (!c) {
        pthread_rwlock_unlock(&db->lock);
        return err_set(err, errlen, ERR_NOTFOUND, "Collection `%s` doesn't exist!",
                       name ? name : "");
    }
    pthread_rwlock_rdlock(&c->lock);
    *out = c;
    return 0;
}

static void read_end(Db *db, Collection *c)
{
    pthread_rwlock_unlock(&c->lock);
    pthread_rwlock_unlock(&db->lock);
}

/* write_begin serialises writers and finds the collection; the list lock
 * is held shared so the collection cannot vanish. */
static int write_begin(Db *db, const char *name, Collection **out, char *err, size_t errlen)
{
    pthread_mutex_lock(&db->write);
    pthread_rwlock_rdlock(&db->lock);
    Collection *c = db_find(db, name);
    if (!c) {
        pthread_rwlock_unlock(&db->lock);
        pthread_mutex_unlock(&db->write);
        return err_set(err, errlen, ERR_NOTFOUND, "Collection `%s` doesn't exist!",
                       name ? name : "");
    }
    *out = c;
    return 0;
}

static void write_end(Db *db)
{
    pthread_rwlock_unlock(&db->lock);
    pthread_mutex_unlock(&db->write);
}

int collection_graph_digest(Db *db, const char *name, const char *using, uint64_t *out)
{
    Collection *c;
    int err = read_begin(db, name, &c, NULL, 0);
    if (err) return err;
    int v = vector_index(c, using, NULL, 0);
    if (v < 0) {
        read_end(db, c);
        return v;
    }
    HnswIndex *h = c->idx[v].index;
    size_t dim = c->config.vectors[v].size, cap = hnsw_node_blob_max(h);
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
    read_end(db, c);
    *out = hash;
    return 0;
}

/* ---- collections ---- */

typedef struct {
    const char *name;
    const CollectionConfig *cfg;
    int64_t created;
    uint32_t cid;
} CreateCtx;

static int create_fn(StoreTxn *txn, void *vctx)
{
    CreateCtx *x = vctx;
    Slice v;
    int err = store_get(txn, STORE_DB_COLLECTIONS, x->name, strlen(x->name), &v);
    if (err == 0) return ERR_EXISTS;
    if (err != ERR_NOTFOUND) return err;
    uint32_t cid = 1;
    if (store_get(txn, STORE_DB_META, "next_cid", 8, &v) == 0 && v.len == 4)
        cid = store_get_le32((const uint8_t *)v.ptr);
    uint8_t next[4], head[4];
    store_put_le32(next, cid + 1);
    store_put_le32(head, cid);
    if ((err = store_put(txn, STORE_DB_META, "next_cid", 8, next, 4))) return err;
    Buf rec;
    buf_init(&rec);
    config_record_build(x->cfg, x->created, &rec);
    err = store_put2(txn, STORE_DB_COLLECTIONS, x->name, strlen(x->name), head, 4, rec.data,
                     rec.len);
    buf_free(&rec);
    x->cid = cid;
    return err;
}

int collection_create(Db *db, const char *name, const CollectionConfig *config, char *err,
                      size_t errlen)
{
    if (!name_valid(name))
        return err_set(err, errlen, ERR_INVAL,
                       "collection name must have 1..%d bytes and none of / \\ < > : \" | ? *",
                       COLLECTION_MAX_NAME);
    CollectionConfig cfg = *config;
    int e = config_validate(&cfg, err, errlen);
    if (e) return e;
    pthread_mutex_lock(&db->write);
    CreateCtx x = { name, &cfg, (int64_t)time(NULL), 0 };
    e = store_write(db->store, create_fn, &x);
    if (e == ERR_EXISTS) err_set(err, errlen, e, "Collection `%s` already exists!", name);
    Collection *c = NULL;
    if (!e) e = coll_new(name, x.cid, &cfg, x.created, &c);
    if (!e) {
        pthread_rwlock_wrlock(&db->lock);
        if (db->n_colls == db->cap_colls) {
            db->cap_colls = db->cap_colls ? db->cap_colls * 2 : 8;
            db->colls = xrealloc(db->colls, db->cap_colls * sizeof *db->colls);
        }
        db->colls[db->n_colls++] = c;
        pthread_rwlock_unlock(&db->lock);
    }
    pthread_mutex_unlock(&db->write);
    return e;
}

typedef struct {
    const char *name;
    uint32_t cid;
} DropCtx;

static int drop_fn(StoreTxn *txn, void *vctx)
{
    DropCtx *x = vctx;
    uint8_t p[STORE_KEY_MAX];
    size_t pl = store_key_cid(p, x->cid);
    int err = store_del(txn, STORE_DB_COLLECTIONS, x->name, strlen(x->name));
    if (!err) err = store_del_prefix(txn, STORE_DB_POINTS, p, pl, NULL);
    if (!err) err = store_del_prefix(txn, STORE_DB_VECTORS, p, pl, NULL);
    if (!err) err = store_del_prefix(txn, STORE_DB_GRAPH, p, pl, NULL);
    if (!err) err = store_del_prefix(txn, STORE_DB_PENDING, p, pl, NULL);
    return err;
}

int collection_delete(Db *db, const char *name)
{
    pthread_mutex_lock(&db->write);
    pthread_rwlock_rdlock(&db->lock);
    Collection *c = db_find(db, name);
    pthread_rwlock_unlock(&db->lock);
    if (!c) {
        pthread_mutex_unlock(&db->write);
        return ERR_NOTFOUND;
    }
    DropCtx x = { name, c->cid };
    int err = store_write(db->store, drop_fn, &x);
    if (!err) {
        /* Exclusive: every reader of c has finished when this returns. */
        pthread_rwlock_wrlock(&db->lock);
        for (size_t i = 0; i < db->n_colls; i++)
            if (db->colls[i] == c) {
                db->colls[i] = db->colls[--db->n_colls];
                break;
            }
        pthread_rwlock_unlock(&db->lock);
        coll_free(c);
    }
    pthread_mutex_unlock(&db->write);
    return err;
}

int collection_info(Db *db, const char *name, CollectionInfo *out)
{
    Collection *c;
    int err = read_begin(db, name, &c, NULL, 0);
    if (err) return err;
    memset(out, 0, sizeof *out);
    out->config = c->config;
    out->points_count = c->points_count;
    out->created_at = c->created_at;
    for (int i = 0; i < c->config.n_vectors; i++) {
        out->vectors_count += hnsw_count(c->idx[i].index);
        out->memory_bytes += hnsw_memory_bytes(c->idx[i].index);
    }
    out->memory_bytes += (size_t)c->node_cap * (sizeof(PointId) + 1);
    read_end(db, c);
    return 0;
}

static int cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int collection_list(Db *db, Arena *arena, char ***names, size_t *n)
{
    pthread_rwlock_rdlock(&db->lock);
    char **out = arena_alloc(arena, (db->n_colls + 1) * sizeof *out);
    for (size_t i = 0; i < db->n_colls; i++)
        out[i] = arena_strndup(arena, db->colls[i]->name, strlen(db->colls[i]->name));
    *n = db->n_colls;
    pthread_rwlock_unlock(&db->lock);
    qsort(out, *n, sizeof *out, cmp_cstr);
    *names = out;
    return 0;
}

/* ---- scanning points ---- */

/* One point as the scan sees it; payload points into the transaction. */
typedef struct {
    PointId id;
    uint32_t node;
    uint32_t mask;
    const char *payload;
    size_t payload_len;
} ScanRec;

typedef int (*ScanFn)(void *ctx, const ScanRec *r); /* nonzero stops the scan */

/* Scratch arena for parsing payloads one at a time. */
typedef struct {
    Arena arena;
} Scratch;

static void scratch_init(Scratch *s) { arena_init(&s->arena, 16 * 1024); }
static void scratch_free(Scratch *s) { arena_free(&s->arena); }
static void scratch_trim(Scratch *s)
{
    if (s->arena.total > COLLECTION_SCRATCH_MAX) {
        arena_free(&s->arena);
        arena_init(&s->arena, 16 * 1024);
    }
}

/* payload_parse parses stored payload text; "{}" gives NULL (empty). */
static const JsonValue *payload_parse(Scratch *s, const char *text, size_t len)
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

/* point_lookup reads one point's record. */
static int point_lookup(Collection *c, StoreTxn *txn, const PointId *id, ScanRec *r)
{
    uint8_t idkey[POINT_ID_KEY_MAX], key[STORE_KEY_MAX];
    size_t il = point_id_key(id, idkey);
    size_t kl = store_key_point(key, c->cid, idkey, il);
    Slice v;
    int err = store_get(txn, STORE_DB_POINTS, key, kl, &v);
    if (err) return err;
    return rec_decode(c->cid, (Slice){ (const char *)key, kl }, v, r);
}

static int filter_accepts(const Filter *f, Scratch *s, const ScanRec *r)
{
    if (filter_matches_all(f)) return 1;
    return filter_match(f, &r->id, payload_parse(s, r->payload, r->payload_len));
}

/*
 * scan_points calls fn for every point matching f in id order, from start
 * (NULL: the first). A has_id filter is answered by direct lookups.
 */
static int scan_points(Collection *c, StoreTxn *txn, const Filter *f, const PointId *start,
                       ScanFn fn, void *ctx)
{
    Scratch s;
    scratch_init(&s);
    int err = 0;
    const PointId *cand;
    size_t n_cand;
    if (filter_id_candidates(f, &cand, &n_cand)) {
        for (size_t i = 0; i < n_cand; i++) {
            if (start && point_id_cmp(&cand[i], start) < 0) continue;
            ScanRec r;
            int e = point_lookup(c, txn, &cand[i], &r);
            if (e == ERR_NOTFOUND) continue;
            if (e) {
                err = e;
                break;
            }
            if (filter_accepts(f, &s, &r) && fn(ctx, &r)) break;
        }
        scratch_free(&s);
        return err;
    }
    uint8_t key[STORE_KEY_MAX], idkey[POINT_ID_KEY_MAX];
    size_t plen = store_key_cid(key, c->cid), kl = plen;
    if (start) kl = store_key_point(key, c->cid, idkey, point_id_key(start, idkey));
    StoreCursor *cur;
    if ((err = store_cursor_open(txn, STORE_DB_POINTS, &cur))) {
        scratch_free(&s);
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
        if (filter_accepts(f, &s, &r) && fn(ctx, &r)) break;
    }
    if (!err && e != 0 && e != ERR_NOTFOUND) err = e;
    store_cursor_close(cur);
    scratch_free(&s);
    return err;
}

/* compile_filter compiles a JSON filter (NULL: none). */
static int compile_filter(const JsonValue *json, Filter **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!json) return 0;
    return filter_compile(json, out, err, errlen);
}

/* query_begin starts a filtered read: it compiles the filter, then takes the
 * read locks of the collection. On failure nothing is held or owned; on
 * success the caller frees *f and calls read_end. */
static int query_begin(Db *db, const char *name, const JsonValue *filter, Collection **c,
                       Filter **f, char *err, size_t errlen)
{
    int e = compile_filter(filter, f, err, errlen);
    if (e) return e;
    if ((e = read_begin(db, name, c, err, errlen))) {
        filter_free(*f);
        *f = NULL;
    }
    return e;
}

/* ---- output ---- */

/* Which payload keys and vectors to return, resolved against a collection. */
typedef struct {
    const CollectionSelector *payload;
    uint32_t vector_mask; /* vector indexes selected */
} Output;

static int output_resolve(Collection *c, const CollectionSelector *wp,
                          const CollectionSelector *wv, Output *o, char *err, size_t errlen)
{
    static const CollectionSelector none = { COLLECTION_SEL_NONE, NULL, 0 };
    o->payload = wp ? wp : &none;
    o->vector_mask = 0;
    if (!wv || wv->mode == COLLECTION_SEL_NONE) return 0;
    if (wv->mode == COLLECTION_SEL_ALL) {
        o->vector_mask = (1u << c->config.n_vectors) - 1;
        return 0;
    }
    if (wv->mode != COLLECTION_SEL_INCLUDE)
        return err_set(err, errlen, ERR_INVAL, "with_vector: expected true, false or names");
    for (size_t i = 0; i < wv->n_keys; i++) {
        int v = vector_index(c, wv->keys[i], err, errlen);
        if (v < 0) return v;
        o->vector_mask |= 1u << v;
    }
    return 0;
}

static int key_listed(const CollectionSelector *s, const char *key)
{
    for (size_t i = 0; i < s->n_keys; i++)
        if (!strcmp(s->keys[i], key)) return 1;
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
    const JsonValue *doc = payload_parse(s, r->payload, r->payload_len);
    Buf b;
    buf_init(&b);
    JsonWriter w;
    jw_init(&w, &b);
    jw_object_begin(&w);
    for (uint32_t i = 0; doc && doc->type == JSON_OBJECT && i < doc->len; i++) {
        const JsonMember *m = &doc->u.members[i];
        int listed = key_listed(sel, m->key);
        if (listed != (sel->mode == COLLECTION_SEL_INCLUDE)) continue;
        jw_key_len(&w, m->key, m->key_len);
        jw_value(&w, &m->value);
    }
    jw_object_end(&w);
    p->payload = arena_strndup(arena, b.data, b.len);
    p->payload_len = b.len;
    buf_free(&b);
}

static int output_vectors(Collection *c, const Output *o, StoreTxn *txn, const ScanRec *r,
                          Arena *arena, CollectionPoint *p)
{
    uint32_t want = o->vector_mask & r->mask;
    if (!o->vector_mask) return 0;
    p->vectors = arena_calloc(arena, (size_t)c->config.n_vectors * sizeof *p->vectors);
    for (int v = 0; v < c->config.n_vectors; v++) {
        if (!(want >> v & 1)) continue;
        uint8_t key[STORE_KEY_MAX];
        size_t kl = store_key_node(key, c->cid, (uint16_t)v, r->node);
        Slice s;
        int err = store_get(txn, STORE_DB_VECTORS, key, kl, &s);
        if (err == ERR_NOTFOUND) continue;
        if (err) return err;
        if (s.len != c->config.vectors[v].size * sizeof(float)) return ERR_FORMAT;
        float *f = arena_alloc(arena, s.len);
        memcpy(f, s.ptr, s.len);
        p->vectors[v] = f;
    }
    return 0;
}

static int output_point(Collection *c, const Output *o, StoreTxn *txn, Scratch *s,
                        const ScanRec *r, float score, Arena *arena, CollectionPoint *p)
{
    memset(p, 0, sizeof *p);
    p->id = r->id;
    p->score = score;
    output_payload(o, s, r, arena, p);
    return output_vectors(c, o, txn, r, arena, p);
}

static void result_init(Collection *c, CollectionResult *out, Arena *arena, size_t cap)
{
    memset(out, 0, sizeof *out);
    out->config = c->config;
    out->points = arena_calloc(arena, (cap ? cap : 1) * sizeof *out->points);
}

void collection_write_point(JsonWriter *w, const CollectionResult *r, size_t i, int with_score)
{
    const CollectionPoint *p = &r->points[i];
    jw_object_begin(w);
    jw_key(w, "id");
    point_id_write(w, &p->id);
    jw_key(w, "version");
    jw_int(w, 0);
    if (with_score) {
        jw_key(w, "score");
        jw_float(w, p->score);
    }
    jw_key(w, "payload");
    if (p->payload) jw_raw(w, p->payload, p->payload_len);
    else jw_null(w);
    jw_key(w, "vector");
    if (!p->vectors) {
        jw_null(w);
    } else if (r->config.unnamed) {
        if (p->vectors[0]) jw_floats(w, p->vectors[0], r->config.vectors[0].size);
        else jw_null(w);
    } else {
        jw_object_begin(w);
        for (int v = 0; v < r->config.n_vectors; v++) {
            if (!p->vectors[v]) continue;
            jw_key(w, r->config.vectors[v].name);
            jw_floats(w, p->vectors[v], r->config.vectors[v].size);
        }
        jw_object_end(w);
    }
    jw_object_end(w);
}

int collection_selector_from_json(const JsonValue *v, int dflt, Arena *arena,
                                  CollectionSelector *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->mode = dflt;
    if (!v || v->type == JSON_NULL) return 0;
    if (v->type == JSON_BOOL) {
        out->mode = v->u.boolean ? COLLECTION_SEL_ALL : COLLECTION_SEL_NONE;
        return 0;
    }
    const JsonValue *list = v;
    out->mode = COLLECTION_SEL_INCLUDE;
    if (v->type == JSON_OBJECT) {
        if ((list = json_get(v, "include"))) out->mode = COLLECTION_SEL_INCLUDE;
        else if ((list = json_get(v, "exclude"))) out->mode = COLLECTION_SEL_EXCLUDE;
    }
    if (!list || list->type != JSON_ARRAY)
        return err_set(err, errlen, ERR_INVAL,
                       "expected true, false, a list of names, or {\"include\"|\"exclude\": [...]}");
    const char **keys = arena_alloc(arena, (list->len + 1) * sizeof *keys);
    for (uint32_t i = 0; i < list->len; i++) {
        keys[i] = json_as_str(&list->u.items[i]);
        if (!keys[i]) return err_set(err, errlen, ERR_INVAL, "expected a list of strings");
    }
    out->keys = keys;
    out->n_keys = list->len;
    return 0;
}

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
    int v = vector_index(c, in->name, err, errlen);
    if (v < 0) return v;
    const CollectionVectorParams *p = &c->config.vectors[v];
    if (!in->data || in->dim != p->size)
        return err_set(err, errlen, ERR_INVAL,
                       "%s: wrong vector dimension for \"%s\": expected %u, got %zu", what,
                       p->name, p->size, in->dim);
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
        int e = read_begin(db, name, &c, err, errlen);
        if (!e) read_end(db, c);
        return e;
    }
    Collection *c;
    int e = write_begin(db, name, &c, err, errlen);
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
        node_table_reserve(c, x.high + 1);
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
                apply_vector(c, v, x.nodes[i], x.items[i].vec[v], 0);
            add_pending(c, x.nodes[i]);
        }
        /* 4. Save the graph changes; a failure here is not the client's:
         * the points are committed and the markers make it recoverable. */
        graph_save(db, c);
    }
    write_end(db);
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
            grow_u32(&c->free_nodes, &c->free_cap, c->n_free + 1);
            c->free_nodes[c->n_free++] = node;
        }
        pthread_rwlock_unlock(&c->lock);
        for (size_t i = 0; i < n; i++) {
            if (x.nodes[i] == HNSW_NO_NODE) continue;
            for (int v = 0; v < c->config.n_vectors; v++) apply_vector(c, v, x.nodes[i], NULL, 0);
            add_pending(c, x.nodes[i]);
        }
        graph_save(db, c);
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
    int err = write_begin(db, name, &c, NULL, 0);
    if (err) return err;
    err = delete_locked(db, c, ids, n, n_deleted);
    write_end(db);
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
    err = scan_points(c, txn, f, NULL, collect_id, out);
    store_read_end(txn);
    return err;
}

int collection_delete_by_filter(Db *db, const char *name, const JsonValue *filter,
                                size_t *n_deleted, char *err, size_t errlen)
{
    if (n_deleted) *n_deleted = 0;
    Filter *f;
    int e = compile_filter(filter, &f, err, errlen);
    if (e) return e;
    Collection *c;
    if ((e = write_begin(db, name, &c, err, errlen))) {
        filter_free(f);
        return e;
    }
    /* The scan and the delete see the same state: the write lock keeps
     * other writers out in between. */
    IdList l = { 0 };
    e = matching_ids(db, c, f, &l);
    if (!e) e = delete_locked(db, c, l.ids, l.n, n_deleted);
    write_end(db);
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
    scratch_init(&s);
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
        const JsonValue *old = payload_parse(&s, v.ptr + sizeof head, v.len - sizeof head);
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
    scratch_free(&s);
    return err;
}

static int payload_op(Db *db, const char *name, int op, const JsonValue *arg, const char *key,
                      const PointId *ids, size_t n, const JsonValue *filter, char *err,
                      size_t errlen)
{
    if ((op == PAYLOAD_SET || op == PAYLOAD_OVERWRITE) && (!arg || arg->type != JSON_OBJECT))
        return err_set(err, errlen, ERR_INVAL, "payload must be a JSON object");
    if (op == PAYLOAD_DELETE && (!arg || arg->type != JSON_ARRAY))
        return err_set(err, errlen, ERR_INVAL, "keys must be an array of strings");
    if (n > COLLECTION_MAX_BATCH) return ERR_TOOLARGE;
    Filter *f = NULL;
    int e = 0;
    if (!ids && (e = compile_filter(filter, &f, err, errlen))) return e;
    Collection *c;
    if ((e = write_begin(db, name, &c, err, errlen))) {
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
        PayloadCtx x = { c, op, arg, key, ids, n, err, errlen };
        e = store_write(db->store, payload_fn, &x);
    }
    write_end(db);
    free(l.ids);
    filter_free(f);
    return e;
}

int collection_set_payload(Db *db, const char *name, const JsonValue *payload, const char *key,
                           const PointId *ids, size_t n, const JsonValue *filter, char *err,
                           size_t errlen)
{
    return payload_op(db, name, PAYLOAD_SET, payload, key, ids, n, filter, err, errlen);
}

int collection_overwrite_payload(Db *db, const char *name, const JsonValue *payload,
                                 const PointId *ids, size_t n, const JsonValue *filter,
                                 char *err, size_t errlen)
{
    return payload_op(db, name, PAYLOAD_OVERWRITE, payload, NULL, ids, n, filter, err, errlen);
}

int collection_delete_payload(Db *db, const char *name, const JsonValue *keys,
                              const PointId *ids, size_t n, const JsonValue *filter, char *err,
                              size_t errlen)
{
    return payload_op(db, name, PAYLOAD_DELETE, keys, NULL, ids, n, filter, err, errlen);
}

int collection_clear_payload(Db *db, const char *name, const PointId *ids, size_t n,
                             const JsonValue *filter, char *err, size_t errlen)
{
    return payload_op(db, name, PAYLOAD_CLEAR, NULL, NULL, ids, n, filter, err, errlen);
}

/* ---- get, scroll, count ---- */

int collection_get(Db *db, const char *name, const PointId *ids, size_t n,
                   const CollectionSelector *with_payload, const CollectionSelector *with_vectors,
                   Arena *arena, CollectionResult *out)
{
    Collection *c;
    int err = read_begin(db, name, &c, NULL, 0);
    if (err) return err;
    Output o;
    if ((err = output_resolve(c, with_payload, with_vectors, &o, NULL, 0))) {
        read_end(db, c);
        return err;
    }
    result_init(c, out, arena, n);
    StoreTxn *txn;
    if ((err = store_read_begin(db->store, &txn))) {
        read_end(db, c);
        return err;
    }
    Scratch s;
    scratch_init(&s);
    for (size_t i = 0; i < n && !err; i++) {
        ScanRec r;
        int e = point_lookup(c, txn, &ids[i], &r);
        if (e == ERR_NOTFOUND) continue;
        if (e) err = e;
        else err = output_point(c, &o, txn, &s, &r, 0, arena, &out->points[out->n++]);
    }
    scratch_free(&s);
    store_read_end(txn);
    read_end(db, c);
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
    x->err = output_point(x->c, x->o, x->txn, &x->s, r, 0, x->arena, &x->out->points[x->out->n++]);
    return x->err != 0;
}

int collection_scroll(Db *db, const char *name, const CollectionScroll *req, Arena *arena,
                      CollectionResult *out, char *err, size_t errlen)
{
    size_t limit = req->limit ? req->limit : COLLECTION_DEFAULT_LIMIT;
    if (limit > COLLECTION_MAX_LIMIT)
        return err_set(err, errlen, ERR_INVAL, "limit must be at most %d", COLLECTION_MAX_LIMIT);
    Filter *f;
    Collection *c;
    int e = query_begin(db, name, req->filter, &c, &f, err, errlen);
    if (e) return e;
    Output o;
    e = output_resolve(c, &req->with_payload, &req->with_vectors, &o, err, errlen);
    StoreTxn *txn = NULL;
    if (!e) e = store_read_begin(db->store, &txn);
    if (!e) {
        result_init(c, out, arena, limit);
        ScrollCtx x = { c, &o, txn, { { 0 } }, arena, out, limit, 0 };
        scratch_init(&x.s);
        e = scan_points(c, txn, f, req->offset, scroll_take, &x);
        if (!e) e = x.err;
        scratch_free(&x.s);
        store_read_end(txn);
    }
    read_end(db, c);
    filter_free(f);
    return e;
}

static int count_one(void *ctx, const ScanRec *r)
{
    (void)r;
    (*(uint64_t *)ctx)++;
    return 0;
}

int collection_count(Db *db, const char *name, const JsonValue *filter, uint64_t *count,
                     char *err, size_t errlen)
{
    Filter *f;
    Collection *c;
    int e = query_begin(db, name, filter, &c, &f, err, errlen);
    if (e) return e;
    *count = 0;
    if (filter_matches_all(f)) {
        *count = c->points_count;
    } else {
        StoreTxn *txn;
        if (!(e = store_read_begin(db->store, &txn))) {
            e = scan_points(c, txn, f, NULL, count_one, count);
            store_read_end(txn);
        }
    }
    read_end(db, c);
    filter_free(f);
    return e;
}

/* ---- search ---- */

/* The ids a recommendation excludes from its results. */
typedef struct {
    const PointId *ids;
    size_t n;
} Exclude;

static int excluded(const Exclude *ex, const PointId *id)
{
    for (size_t i = 0; ex && i < ex->n; i++)
        if (point_id_equal(&ex->ids[i], id)) return 1;
    return 0;
}

/* The state of the HNSW accept callback. */
typedef struct {
    Collection *c;
    StoreTxn *txn;
    const Filter *f;
    const Exclude *ex;
    Scratch s;
} AcceptCtx;

static int accept_node(uint32_t node, void *vctx)
{
    AcceptCtx *a = vctx;
    Collection *c = a->c;
    if (node >= c->node_cap || !c->node_live[node]) return 0;
    const PointId *id = &c->node_ids[node];
    if (excluded(a->ex, id)) return 0;
    if (filter_matches_all(a->f)) return 1;
    ScanRec r;
    if (point_lookup(c, a->txn, id, &r) != 0 || r.node != node) return 0;
    return filter_accepts(a->f, &a->s, &r);
}

/* A bounded heap of the k best hits (worst on top), by goodness. */
typedef struct {
    HnswHit *h;
    float *g; /* goodness of h[i] */
    size_t n, k;
} TopK;

static int topk_worse(const TopK *t, size_t a, size_t b)
{
    if (t->g[a] != t->g[b]) return t->g[a] < t->g[b];
    return t->h[a].node > t->h[b].node; /* ties: lower node is better */
}

static void topk_swap(TopK *t, size_t a, size_t b)
{
    HnswHit h = t->h[a];
    float g = t->g[a];
    t->h[a] = t->h[b];
    t->g[a] = t->g[b];
    t->h[b] = h;
    t->g[b] = g;
}

static void topk_push(TopK *t, uint32_t node, float score, float good)
{
    size_t i;
    if (t->n < t->k) {
        i = t->n++;
    } else {
        if (good < t->g[0] || (good == t->g[0] && node > t->h[0].node)) return;
        i = 0;
        t->h[0] = (HnswHit){ node, score };
        t->g[0] = good;
        /* sift down */
        for (;;) {
            size_t l = 2 * i + 1, r = l + 1, w = i;
            if (l < t->n && topk_worse(t, l, w)) w = l;
            if (r < t->n && topk_worse(t, r, w)) w = r;
            if (w == i) break;
            topk_swap(t, i, w);
            i = w;
        }
        return;
    }
    t->h[i] = (HnswHit){ node, score };
    t->g[i] = good;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!topk_worse(t, i, p)) break;
        topk_swap(t, i, p);
        i = p;
    }
}

/* topk_sorted pops the heap into best-first order in h[0..n). */
static void topk_sort(TopK *t)
{
    size_t n = t->n;
    while (t->n > 1) {
        topk_swap(t, 0, t->n - 1);
        t->n--;
        size_t i = 0;
        for (;;) {
            size_t l = 2 * i + 1, r = l + 1, w = i;
            if (l < t->n && topk_worse(t, l, w)) w = l;
            if (r < t->n && topk_worse(t, r, w)) w = r;
            if (w == i) break;
            topk_swap(t, i, w);
            i = w;
        }
    }
    t->n = n;
}

/* A query scorer: plain (one vector) or a recommendation objective. */
typedef struct {
    int strategy; /* -1: plain similarity to q */
    const float *q;
    const float *const *pos;
    size_t n_pos;
    const float *const *neg;
    size_t n_neg;
} Scorer;

static float sigmoid_scaled(float x) { return 0.5f * (x / (1.0f + fabsf(x)) + 1.0f); }

/* score_vec scores a stored vector; returns (score, goodness). */
static float score_vec(Collection *c, int v, const Scorer *sc, const float *vec, float *good)
{
    HnswIndex *h = c->idx[v].index;
    int euclid = c->config.vectors[v].distance == COLLECTION_EUCLID;
    if (sc->strategy < 0) {
        float s = hnsw_score_between(h, sc->q, vec);
        *good = euclid ? -s : s;
        return s;
    }
    float s;
    if (sc->strategy == COLLECTION_RECO_BEST_SCORE) {
        float bp = -INFINITY, bn = -INFINITY;
        for (size_t i = 0; i < sc->n_pos; i++) {
            float x = hnsw_score_between(h, sc->pos[i], vec);
            if (euclid) x = -x;
            if (x > bp) bp = x;
        }
        for (size_t i = 0; i < sc->n_neg; i++) {
            float x = hnsw_score_between(h, sc->neg[i], vec);
            if (euclid) x = -x;
            if (x > bn) bn = x;
        }
        s = bp > bn ? sigmoid_scaled(bp) : -sigmoid_scaled(bn);
    } else {
        float sp = 0, sn = 0;
        for (size_t i = 0; i < sc->n_pos; i++) {
            float x = hnsw_score_between(h, sc->pos[i], vec);
            sp += euclid ? -x : x;
        }
        for (size_t i = 0; i < sc->n_neg; i++) {
            float x = hnsw_score_between(h, sc->neg[i], vec);
            sn += euclid ? -x : x;
        }
        s = sp - sn;
    }
    *good = s;
    return s;
}

/* Candidate collection for exact scoring. */
typedef struct {
    Collection *c;
    int v;
    const Scorer *sc;
    const Exclude *ex;
    TopK *top;
    float *vec;
} ExactCtx;

static void exact_consider(ExactCtx *x, uint32_t node)
{
    if (!hnsw_contains(x->c->idx[x->v].index, node)) return;
    if (hnsw_get_vector(x->c->idx[x->v].index, node, x->vec) != 0) return;
    float good, s = score_vec(x->c, x->v, x->sc, x->vec, &good);
    topk_push(x->top, node, s, good);
}

static int exact_take(void *vctx, const ScanRec *r)
{
    ExactCtx *x = vctx;
    if (!(r->mask >> x->v & 1) || excluded(x->ex, &r->id)) return 0;
    /* The node table may lag the transaction by one write; trust only
     * nodes it agrees on. */
    if (r->node >= x->c->node_cap || !x->c->node_live[r->node] ||
        !point_id_equal(&x->c->node_ids[r->node], &r->id))
        return 0;
    exact_consider(x, r->node);
    return 0;
}

/* Search plans. */
enum { PLAN_HNSW, PLAN_SCAN, PLAN_ALL };

/* estimate_matches samples live nodes to estimate how many points f
 * matches (a fixed-seed sample, so a query plans the same way each time). */
static uint64_t estimate_matches(Collection *c, StoreTxn *txn, const Filter *f)
{
    if (!c->node_high || !c->points_count) return 0;
    Scratch s;
    scratch_init(&s);
    uint64_t state = 0x9e3779b97f4a7c15ULL;
    size_t sampled = 0, matched = 0;
    for (size_t tries = 0; tries < COLLECTION_FILTER_SAMPLE * 8 && sampled < COLLECTION_FILTER_SAMPLE;
         tries++) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        uint32_t node = (uint32_t)(state % c->node_high);
        if (!c->node_live[node]) continue;
        ScanRec r;
        if (point_lookup(c, txn, &c->node_ids[node], &r) != 0) continue;
        sampled++;
        matched += (size_t)filter_accepts(f, &s, &r);
    }
    scratch_free(&s);
    if (!sampled) return 0;
    return c->points_count * matched / sampled;
}

/*
 * run_query finds the best k nodes of graph v for the scorer: exactly
 * (scan or all nodes) or through HNSW. Hits go to arena, best first.
 * rescore_hnsw: the scorer is a recommendation objective; HNSW then only
 * proposes candidates (a search per positive example) that are rescored.
 */
static int run_query(Db *db, Collection *c, int v, StoreTxn *txn, const Scorer *sc, size_t k, int ef,
                     int exact, const Filter *f, const Exclude *ex, Arena *arena, HnswHit **hits,
                     size_t *n_hits)
{
    HnswIndex *h = c->idx[v].index;
    int all = filter_matches_all(f);
    int plan;
    if (exact || k > HNSW_MAX_EF) plan = all ? PLAN_ALL : PLAN_SCAN;
    else if (sc->strategy >= 0 && sc->n_pos == 0) plan = all ? PLAN_ALL : PLAN_SCAN;
    else if (all) plan = PLAN_HNSW;
    else if (c->points_count <= db->full_scan_threshold) plan = PLAN_SCAN;
    else plan = estimate_matches(c, txn, f) < db->full_scan_threshold ? PLAN_SCAN : PLAN_HNSW;

    size_t dim = c->config.vectors[v].size;
    TopK top = { arena_alloc(arena, (k ? k : 1) * sizeof(HnswHit)),
                 arena_alloc(arena, (k ? k : 1) * sizeof(float)), 0, k };
    float *vec = xmalloc(dim * sizeof *vec);
    ExactCtx x = { c, v, sc, ex, &top, vec };
    int err = 0;
    if (plan == PLAN_SCAN) {
        err = scan_points(c, txn, f, NULL, exact_take, &x);
    } else if (plan == PLAN_ALL) {
        for (uint32_t node = 0; node < c->node_high; node++)
            if (c->node_live[node] && !excluded(ex, &c->node_ids[node])) exact_consider(&x, node);
    } else {
        AcceptCtx a = { c, txn, f, ex, { { 0 } } };
        scratch_init(&a.s);
        int need_cb = !all || (ex && ex->n);
        size_t kk = k + (ex ? ex->n : 0);
        /* A recommendation objective rescores candidates, so each positive
         * example proposes at least ef of them. */
        if (sc->strategy >= 0 && kk < (size_t)(ef > 0 ? ef : HNSW_DEFAULT_EF))
            kk = (size_t)(ef > 0 ? ef : HNSW_DEFAULT_EF);
        if (kk > HNSW_MAX_EF) kk = HNSW_MAX_EF;
        HnswHit *buf = xmalloc(kk * sizeof *buf);
        const float *const *queries = sc->strategy < 0 ? &sc->q : sc->pos;
        size_t n_queries = sc->strategy < 0 ? 1 : sc->n_pos;
        for (size_t qi = 0; qi < n_queries && !err; qi++) {
            int got = 0;
            err = hnsw_search(h, queries[qi], (int)kk, ef, need_cb ? accept_node : NULL, &a, buf,
                              &got);
            for (int i = 0; i < got && !err; i++) {
                if (sc->strategy < 0) {
                    if (c->node_live[buf[i].node] && !excluded(ex, &c->node_ids[buf[i].node]))
                        topk_push(&top, buf[i].node, buf[i].score, goodness(c, v, buf[i].score));
                } else {
                    /* Rescore a candidate once: skip nodes already kept. */
                    int seen = 0;
                    for (size_t j = 0; j < top.n && !seen; j++) seen = top.h[j].node == buf[i].node;
                    if (!seen && c->node_live[buf[i].node]) exact_consider(&x, buf[i].node);
                }
            }
        }
        free(buf);
        scratch_free(&a.s);
    }
    free(vec);
    if (err) return err;
    topk_sort(&top);
    *hits = top.h;
    *n_hits = top.n;
    return 0;
}

/* fill_results turns hits into points (skipping offset), applying the
 * score threshold. */
static int fill_results(Collection *c, int v, StoreTxn *txn, const HnswHit *hits, size_t n_hits,
                        const CollectionSearch *req, size_t limit, int custom, const Output *o,
                        Arena *arena, CollectionResult *out)
{
    result_init(c, out, arena, limit);
    Scratch s;
    scratch_init(&s);
    size_t skipped = 0;
    int err = 0;
    for (size_t i = 0; i < n_hits && out->n < limit && !err; i++) {
        float score = hits[i].score;
        if (req->has_score_threshold) {
            int euclid = !custom && c->config.vectors[v].distance == COLLECTION_EUCLID;
            if (euclid ? score > req->score_threshold : score < req->score_threshold) break;
        }
        uint32_t node = hits[i].node;
        if (node >= c->node_cap || !c->node_live[node]) continue;
        ScanRec r;
        int e = point_lookup(c, txn, &c->node_ids[node], &r);
        if (e == ERR_NOTFOUND || (!e && r.node != node)) continue; /* deleted meanwhile */
        if (e) {
            err = e;
            break;
        }
        if (skipped < req->offset) {
            skipped++;
            continue;
        }
        err = output_point(c, o, txn, &s, &r, score, arena, &out->points[out->n++]);
    }
    scratch_free(&s);
    return err;
}

/* search_common validates the shared parameters of search and recommend. */
static int search_params(const CollectionSearch *req, size_t *limit, char *err, size_t errlen)
{
    *limit = req->limit ? req->limit : COLLECTION_DEFAULT_LIMIT;
    if (*limit > COLLECTION_MAX_LIMIT || req->offset > COLLECTION_MAX_LIMIT)
        return err_set(err, errlen, ERR_INVAL, "limit and offset must be at most %d",
                       COLLECTION_MAX_LIMIT);
    if (req->ef < 0 || req->ef > HNSW_MAX_EF)
        return err_set(err, errlen, ERR_INVAL, "hnsw_ef must be in 0..%d", HNSW_MAX_EF);
    return 0;
}

int collection_search(Db *db, const char *name, const CollectionSearch *req, Arena *arena,
                      CollectionResult *out, char *err, size_t errlen)
{
    size_t limit;
    int e = search_params(req, &limit, err, errlen);
    if (e) return e;
    Filter *f;
    Collection *c;
    e = query_begin(db, name, req->filter, &c, &f, err, errlen);
    if (e) return e;
    Output o;
    StoreTxn *txn = NULL;
    int v = vector_index(c, req->using, err, errlen);
    if (v < 0) e = v;
    if (!e) e = output_resolve(c, &req->with_payload, &req->with_vectors, &o, err, errlen);
    float *q = NULL;
    if (!e) {
        const CollectionVectorParams *p = &c->config.vectors[v];
        if (!req->vector || req->dim != p->size)
            e = err_set(err, errlen, ERR_INVAL, "wrong query vector dimension: expected %u, got %zu",
                        p->size, req->dim);
        else if (!vec_is_finite(req->vector, req->dim))
            e = err_set(err, errlen, ERR_INVAL, "query vector contains NaN or Inf");
    }
    if (!e) {
        q = arena_alloc(arena, req->dim * sizeof *q);
        memcpy(q, req->vector, req->dim * sizeof *q);
        if (c->config.vectors[v].distance == COLLECTION_COSINE) vec_normalize(q, req->dim);
        e = store_read_begin(db->store, &txn);
    }
    if (!e) {
        Scorer sc = { .strategy = -1, .q = q };
        HnswHit *hits;
        size_t n_hits;
        e = run_query(db, c, v, txn, &sc, req->offset + limit, req->ef, req->exact, f, NULL, arena,
                      &hits, &n_hits);
        if (!e) e = fill_results(c, v, txn, hits, n_hits, req, limit, 0, &o, arena, out);
    }
    if (txn) store_read_end(txn);
    read_end(db, c);
    filter_free(f);
    return e;
}

/* example_vector reads point id's vector v into arena. */
static int example_vector(Collection *c, StoreTxn *txn, int v, const PointId *id, Arena *arena,
                          const float **out, char *err, size_t errlen)
{
    ScanRec r;
    char idbuf[POINT_ID_TEXT_MAX];
    int e = point_lookup(c, txn, id, &r);
    if (e == ERR_NOTFOUND || (!e && !(r.mask >> v & 1)))
        return err_set(err, errlen, ERR_NOTFOUND, "No point with id %s found",
                       point_id_format(id, idbuf));
    if (e) return e;
    uint8_t key[STORE_KEY_MAX];
    size_t kl = store_key_node(key, c->cid, (uint16_t)v, r.node);
    Slice s;
    if ((e = store_get(txn, STORE_DB_VECTORS, key, kl, &s))) return e;
    if (s.len != c->config.vectors[v].size * sizeof(float)) return ERR_FORMAT;
    float *f = arena_alloc(arena, s.len);
    memcpy(f, s.ptr, s.len);
    *out = f;
    return 0;
}

int collection_recommend(Db *db, const char *name, const CollectionRecommend *req,
                         Arena *arena, CollectionResult *out, char *err, size_t errlen)
{
    const CollectionSearch *sr = &req->search;
    size_t limit;
    int e = search_params(sr, &limit, err, errlen);
    if (e) return e;
    size_t n_pos = req->n_positive + req->n_positive_vectors;
    size_t n_neg = req->n_negative + req->n_negative_vectors;
    if ((unsigned)req->strategy > COLLECTION_RECO_SUM_SCORES)
        return err_set(err, errlen, ERR_INVAL, "unknown recommend strategy");
    if (req->strategy == COLLECTION_RECO_AVERAGE_VECTOR && n_pos == 0)
        return err_set(err, errlen, ERR_INVAL,
                       "Positive vectors should not be empty with `average` strategy");
    if (n_pos + n_neg == 0)
        return err_set(err, errlen, ERR_INVAL, "at least one positive or negative example is needed");
    if (n_pos + n_neg > COLLECTION_MAX_BATCH) return ERR_TOOLARGE;
    Filter *f;
    Collection *c;
    e = query_begin(db, name, sr->filter, &c, &f, err, errlen);
    if (e) return e;
    Output o;
    StoreTxn *txn = NULL;
    int v = vector_index(c, sr->using, err, errlen);
    if (v < 0) e = v;
    if (!e) e = output_resolve(c, &sr->with_payload, &sr->with_vectors, &o, err, errlen);
    if (!e) e = store_read_begin(db->store, &txn);
    size_t dim = 0;
    const float **pos = NULL, **neg = NULL;
    if (!e && req->n_positive_vectors + req->n_negative_vectors &&
        sr->dim != c->config.vectors[v].size)
        e = err_set(err, errlen, ERR_INVAL, "wrong example vector dimension: expected %u, got %zu",
                    c->config.vectors[v].size, sr->dim);
    if (!e) {
        dim = c->config.vectors[v].size;
        int cosine = c->config.vectors[v].distance == COLLECTION_COSINE;
        pos = arena_alloc(arena, (n_pos + 1) * sizeof *pos);
        neg = arena_alloc(arena, (n_neg + 1) * sizeof *neg);
        for (size_t i = 0; i < req->n_positive && !e; i++)
            e = example_vector(c, txn, v, &req->positive[i], arena, &pos[i], err, errlen);
        for (size_t i = 0; i < req->n_negative && !e; i++)
            e = example_vector(c, txn, v, &req->negative[i], arena, &neg[i], err, errlen);
        for (size_t i = 0; i < req->n_positive_vectors + req->n_negative_vectors && !e; i++) {
            int is_pos = i < req->n_positive_vectors;
            const float *src = is_pos ? req->positive_vectors[i]
                                      : req->negative_vectors[i - req->n_positive_vectors];
            if (!src || !vec_is_finite(src, dim)) {
                e = err_set(err, errlen, ERR_INVAL, "example vector contains NaN or Inf");
                break;
            }
            float *cp = arena_alloc(arena, dim * sizeof *cp);
            memcpy(cp, src, dim * sizeof *cp);
            if (cosine) vec_normalize(cp, dim);
            if (is_pos) pos[req->n_positive + i] = cp;
            else neg[req->n_negative + i - req->n_positive_vectors] = cp;
        }
    }
    if (!e) {
        /* Example points never come back as results. */
        PointId *exids = arena_alloc(arena, (req->n_positive + req->n_negative + 1) * sizeof *exids);
        size_t n_ex = 0;
        for (size_t i = 0; i < req->n_positive; i++) exids[n_ex++] = req->positive[i];
        for (size_t i = 0; i < req->n_negative; i++) exids[n_ex++] = req->negative[i];
        Exclude ex = { exids, n_ex };
        Scorer sc = { .strategy = (int)req->strategy, .pos = pos, .n_pos = n_pos, .neg = neg,
                      .n_neg = n_neg };
        int custom = req->strategy != COLLECTION_RECO_AVERAGE_VECTOR;
        if (!custom) {
            /* Qdrant: avg(pos) + (avg(pos) - avg(neg)); just avg(pos) without negatives. */
            float *q = arena_calloc(arena, dim * sizeof *q);
            for (size_t i = 0; i < n_pos; i++)
                for (size_t d = 0; d < dim; d++) q[d] += pos[i][d];
            for (size_t d = 0; d < dim; d++) q[d] /= (float)n_pos;
            if (n_neg) {
                float *an = arena_calloc(arena, dim * sizeof *an);
                for (size_t i = 0; i < n_neg; i++)
                    for (size_t d = 0; d < dim; d++) an[d] += neg[i][d];
                for (size_t d = 0; d < dim; d++) q[d] = q[d] + q[d] - an[d] / (float)n_neg;
            }
            if (c->config.vectors[v].distance == COLLECTION_COSINE) vec_normalize(q, dim);
            sc.strategy = -1;
            sc.q = q;
        }
        HnswHit *hits;
        size_t n_hits;
        e = run_query(db, c, v, txn, &sc, sr->offset + limit, sr->ef, sr->exact, f, &ex, arena, &hits,
                      &n_hits);
        if (!e) e = fill_results(c, v, txn, hits, n_hits, sr, limit, custom, &o, arena, out);
    }
    if (txn) store_read_end(txn);
    read_end(db, c);
    filter_free(f);
    return e;
}
