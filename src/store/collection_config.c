/*
 * collection_config.c - a collection's definition: validating a
 * configuration, the config record persisted in STORE_DB_COLLECTIONS, and
 * the catalogue operations (create, delete, info, list). See collection.h
 * for the contract and docs/storage.md for the record layout.
 */
#include "store/collection.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/err.h"
#include "base/log.h"
#include "base/util.h"
#include "index/quant.h"
#include "store/collection_internal.h"
#include "store/store.h"

/* ---- configuration ---- */

int coll_config_validate(CollectionConfig *c, char *err, size_t errlen)
{
    if (c->n_vectors < 0 || c->n_vectors > COLLECTION_MAX_VECTORS)
        return err_set(err, errlen, ERR_INVAL, "a collection has at most %d dense vectors",
                       COLLECTION_MAX_VECTORS);
    if (c->unnamed && (c->n_vectors != 1 || c->vectors[0].name[0]))
        return err_set(err, errlen, ERR_INVAL, "an unnamed vector must be the only one");
    for (int i = 0; i < c->n_vectors; i++) {
        const CollectionVectorParams *p = &c->vectors[i];
        if (p->size < 1 || p->size > COLLECTION_MAX_DIM)
            return err_set(err, errlen, ERR_INVAL, "vector size must be in 1..%d",
                           COLLECTION_MAX_DIM);
        if ((unsigned)p->distance > COLLECTION_MANHATTAN)
            return err_set(err, errlen, ERR_INVAL, "unknown distance");
        if (!memchr(p->name, '\0', sizeof p->name))
            return err_set(err, errlen, ERR_INVAL, "a vector name must have at most %d bytes",
                           COLLECTION_MAX_VECTOR_NAME);
        if (!c->unnamed && !p->name[0])
            return err_set(err, errlen, ERR_INVAL, "named vectors need names");
        for (int j = 0; j < i; j++)
            if (!strcmp(c->vectors[j].name, p->name))
                return err_set(err, errlen, ERR_INVAL, "vector %s given twice", p->name);
        CollectionQuantization *q = &c->vectors[i].quant;
        if ((unsigned)q->type > COLLECTION_QUANT_INT8)
            return err_set(err, errlen, ERR_INVAL, "unknown quantization");
        if (q->type == COLLECTION_QUANT_INT8 && q->quantile == 0) q->quantile = QUANT_DEFAULT_QUANTILE;
        if (q->type == COLLECTION_QUANT_INT8 &&
            !(q->quantile >= QUANT_MIN_QUANTILE && q->quantile <= QUANT_MAX_QUANTILE))
            return err_set(err, errlen, ERR_INVAL, "quantile: value %g invalid, must be from 0.5 to 1.0",
                           (double)q->quantile);
        if (q->type == COLLECTION_QUANT_INT8 && p->multivector != COLLECTION_SINGLE)
            return err_set(err, errlen, ERR_INVAL,
                           "quantization of a multivector is not supported by vitrine");
        if ((unsigned)p->exact_only > 1)
            return err_set(err, errlen, ERR_INVAL, "exact_only must be 0 or 1");
    }
    int e = coll_sparse_validate(c, err, errlen);
    if (!e) e = coll_multi_validate(c, err, errlen);
    if (e) return e;
    if (!c->m) c->m = COLLECTION_DEFAULT_M;
    if (!c->ef_construct) c->ef_construct = COLLECTION_DEFAULT_EF_CONSTRUCT;
    if (c->m < COLLECTION_MIN_M || c->m > COLLECTION_MAX_M)
        return err_set(err, errlen, ERR_INVAL, "hnsw m must be in %d..%d", COLLECTION_MIN_M,
                       COLLECTION_MAX_M);
    if (c->ef_construct < COLLECTION_MIN_EF_CONSTRUCT ||
        c->ef_construct > COLLECTION_MAX_EF_CONSTRUCT)
        return err_set(err, errlen, ERR_INVAL, "hnsw ef_construct must be in %d..%d",
                       COLLECTION_MIN_EF_CONSTRUCT, COLLECTION_MAX_EF_CONSTRUCT);
    if (!memchr(c->options, '\0', sizeof c->options))
        return err_set(err, errlen, ERR_INVAL, "options must have at most %d bytes",
                       COLLECTION_MAX_OPTIONS - 1);
    return 0;
}

int coll_name_valid(const char *name)
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

/* coll_vector_index resolves a vector name (NULL or "" for the unnamed
 * one). The error is worded as Qdrant words it, which clients match on:
 * the unnamed vector asked of a collection of named ones is the name "". */
int coll_vector_index(const Collection *c, const char *name, char *err, size_t errlen)
{
    if (!name) name = "";
    if (!*name && c->config.unnamed) return 0;
    /* A sparse vector taken for a dense one: Qdrant's wording. */
    if (coll_sparse_index(c, name) >= 0)
        return err_set(err, errlen, ERR_INVAL, "Conversion between sparse and regular vectors failed");
    for (int i = 0; *name && i < c->config.n_vectors; i++)
        if (!strcmp(c->config.vectors[i].name, name)) return i;
    return err_set(err, errlen, ERR_INVAL, "Not existing vector name error: %s", name);
}

/*
 * The config record (STORE_DB_COLLECTIONS, after the u32 cid). Two
 * encodings exist; docs/storage.md has both:
 *
 *   engine record (written since): u8 COLL_RECORD_V1, i64 created_at,
 *     u32 m, u32 ef_construct, u8 unnamed, u8 n_vectors, then per vector
 *     u32 size, u8 distance, u8 name length, the name; then u32 options
 *     length and the options text. Integers little-endian. A collection
 *     with sparse vectors has the tag COLL_RECORD_V2 and, after the dense
 *     vectors, u8 n_sparse and per sparse vector u8 modifier, u8 name
 *     length, the name (one without keeps writing V1, so older binaries
 *     still open it). A collection with a multivector or a datatype other
 *     than float32 has the tag COLL_RECORD_V3: the V2 layout (its sparse
 *     part always present, n_sparse possibly 0) and then, per dense
 *     vector, u8 multivector and u8 datatype (CollectionMultivector,
 *     CollectionDatatype); older binaries refuse it, as they must. A
 *     collection with a quantized vector has the tag COLL_RECORD_V4: the
 *     V3 layout and then, per dense vector, its CollectionQuantization.
 *     One with a vector searched exactly only (exact_only) has the tag
 *     COLL_RECORD_V5: the V4 layout (every section present) and then, per
 *     dense vector, u8 exact_only; every other collection keeps its
 *     older tag, byte for byte.
 *   JSON record (the first format, read only): Qdrant's config shape plus
 *     "created_at", e.g. {"vectors":{"size":4,"distance":"Dot"},
 *     "hnsw_config":{"m":16,"ef_construct":100},"created_at":1732300000}.
 *
 * A JSON record always starts with '{', which no engine record does, so
 * the first byte tells them apart. The engine record is the engine's own:
 * Qdrant's JSON shapes live in src/api and may change without touching a
 * stored byte.
 */
/* A little reader over a record that fails once it would run past the end. */
typedef struct {
    const uint8_t *p, *end;
    int bad;
} RecReader;

static const uint8_t *rec_take(RecReader *r, size_t n)
{
    if (r->bad || (size_t)(r->end - r->p) < n) {
        r->bad = 1;
        return NULL;
    }
    const uint8_t *at = r->p;
    r->p += n;
    return at;
}

static uint32_t rec_u32(RecReader *r)
{
    const uint8_t *p = rec_take(r, 4);
    return p ? store_get_le32(p) : 0;
}

static uint8_t rec_u8(RecReader *r)
{
    const uint8_t *p = rec_take(r, 1);
    return p ? *p : 0;
}

static float rec_f32(RecReader *r)
{
    uint32_t u = rec_u32(r);
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* config_record_parse_engine reads an engine record (V1 to V5, by its
 * tag): each section is read only under the tags that have it, and the
 * record must end exactly after the options, so a record is never read
 * with another tag's layout. */
static int config_record_parse_engine(const uint8_t *p, size_t len, CollectionConfig *cfg,
                                      int64_t *created)
{
    RecReader r = { p + 1, p + len, 0 }; /* past the tag */
    const uint8_t *c8 = rec_take(&r, 8);
    *created = c8 ? (int64_t)store_get_le64(c8) : 0;
    cfg->m = (int)rec_u32(&r);
    cfg->ef_construct = (int)rec_u32(&r);
    cfg->unnamed = rec_u8(&r);
    cfg->n_vectors = rec_u8(&r);
    if (cfg->n_vectors > COLLECTION_MAX_VECTORS) return ERR_FORMAT;
    for (int i = 0; i < cfg->n_vectors && !r.bad; i++) {
        CollectionVectorParams *v = &cfg->vectors[i];
        v->size = rec_u32(&r);
        v->distance = (CollectionDistance)rec_u8(&r);
        uint8_t nl = rec_u8(&r);
        const uint8_t *name = rec_take(&r, nl);
        if (!name || nl > COLLECTION_MAX_VECTOR_NAME) return ERR_FORMAT;
        memcpy(v->name, name, nl);
        v->name[nl] = '\0';
    }
    int v5 = p[0] == COLL_RECORD_V5;
    int v4 = p[0] == COLL_RECORD_V4 || v5;
    if (p[0] == COLL_RECORD_V2 || p[0] == COLL_RECORD_V3 || v4) {
        cfg->n_sparse = rec_u8(&r);
        if (cfg->n_sparse > COLLECTION_MAX_SPARSE) return ERR_FORMAT;
        for (int i = 0; i < cfg->n_sparse && !r.bad; i++) {
            CollectionSparseParams *sp = &cfg->sparse[i];
            sp->modifier = (CollectionModifier)rec_u8(&r);
            uint8_t nl = rec_u8(&r);
            const uint8_t *name = rec_take(&r, nl);
            if (!name || nl > COLLECTION_MAX_VECTOR_NAME) return ERR_FORMAT;
            memcpy(sp->name, name, nl);
            sp->name[nl] = '\0';
        }
    }
    for (int i = 0; (p[0] == COLL_RECORD_V3 || v4) && i < cfg->n_vectors; i++) {
        cfg->vectors[i].multivector = (CollectionMultivector)rec_u8(&r);
        cfg->vectors[i].datatype = (CollectionDatatype)rec_u8(&r);
    }
    for (int i = 0; v4 && i < cfg->n_vectors; i++) {
        CollectionQuantization *q = &cfg->vectors[i].quant;
        q->type = (CollectionQuantType)rec_u8(&r);
        q->quantile = rec_f32(&r);
        q->always_ram = rec_u8(&r);
        q->calibrated = rec_u8(&r);
        q->lo = rec_f32(&r);
        q->hi = rec_f32(&r);
    }
    /* Validated with the rest (coll_config_validate refuses a value
     * other than 0 or 1). */
    for (int i = 0; v5 && i < cfg->n_vectors; i++) cfg->vectors[i].exact_only = rec_u8(&r);
    uint32_t ol = rec_u32(&r);
    const uint8_t *opt = rec_take(&r, ol);
    /* The options are text without a NUL (the writer stores strlen
     * bytes): one there means the record was read with the wrong layout. */
    if (!opt || ol >= COLLECTION_MAX_OPTIONS || r.p != r.end || memchr(opt, '\0', ol))
        return ERR_FORMAT;
    memcpy(cfg->options, opt, ol);
    cfg->options[ol] = '\0';
    return 0;
}

static int legacy_distance(const JsonValue *v, CollectionDistance *out)
{
    const char *s = json_as_str(v);
    if (!s) return ERR_FORMAT;
    if (!strcmp(s, "Cosine")) *out = COLLECTION_COSINE;
    else if (!strcmp(s, "Dot")) *out = COLLECTION_DOT;
    else if (!strcmp(s, "Euclid")) *out = COLLECTION_EUCLID;
    else return ERR_FORMAT;
    return 0;
}

static int legacy_vector(const JsonValue *v, const char *name, CollectionVectorParams *out)
{
    uint64_t size;
    if (!v || v->type != JSON_OBJECT || json_as_uint64(json_get(v, "size"), &size) ||
        size > UINT32_MAX || legacy_distance(json_get(v, "distance"), &out->distance) ||
        strlen(name) > COLLECTION_MAX_VECTOR_NAME)
        return ERR_FORMAT;
    out->size = (uint32_t)size;
    snprintf(out->name, sizeof out->name, "%s", name);
    return 0;
}

/* config_record_parse_json reads the first, JSON encoding of the record
 * (the layout the writer of that time produced, nothing more). */
static int config_record_parse_json(const uint8_t *p, size_t len, CollectionConfig *cfg,
                                    int64_t *created)
{
    Arena a;
    arena_init(&a, 0);
    JsonValue *root;
    int e = json_parse(&a, (const char *)p, len, &root, NULL, 0) ? ERR_FORMAT : 0;
    const JsonValue *vectors = e ? NULL : json_get(root, "vectors");
    if (!e && (!vectors || vectors->type != JSON_OBJECT)) e = ERR_FORMAT;
    if (!e && json_get(vectors, "size")) {
        cfg->unnamed = 1;
        cfg->n_vectors = 1;
        e = legacy_vector(vectors, "", &cfg->vectors[0]);
    } else if (!e) {
        if (vectors->len > COLLECTION_MAX_VECTORS) e = ERR_FORMAT;
        for (uint32_t i = 0; !e && i < vectors->len; i++)
            e = legacy_vector(&vectors->u.members[i].value, vectors->u.members[i].key,
                              &cfg->vectors[i]);
        cfg->n_vectors = (int)vectors->len;
    }
    const JsonValue *h = e ? NULL : json_get(root, "hnsw_config");
    int64_t x;
    if (h && !json_as_int64(json_get(h, "m"), &x) && x >= 0 && x <= INT32_MAX) cfg->m = (int)x;
    if (h && !json_as_int64(json_get(h, "ef_construct"), &x) && x >= 0 && x <= INT32_MAX)
        cfg->ef_construct = (int)x;
    if (!e && json_as_int64(json_get(root, "created_at"), created)) *created = 0;
    arena_free(&a);
    return e;
}

int coll_config_record_parse(const char *name, Slice val, uint32_t *cid, CollectionConfig *cfg,
                             int64_t *created)
{
    char err[256] = "malformed record";
    memset(cfg, 0, sizeof *cfg);
    *created = 0;
    if (val.len < 5) {
        log_error("collection %s: stored configuration is truncated", name);
        return ERR_FORMAT;
    }
    const uint8_t *p = (const uint8_t *)val.ptr;
    *cid = store_get_le32(p);
    int e;
    if (p[4] == COLL_RECORD_V1 || p[4] == COLL_RECORD_V2 || p[4] == COLL_RECORD_V3 ||
        p[4] == COLL_RECORD_V4 || p[4] == COLL_RECORD_V5)
        e = config_record_parse_engine(p + 4, val.len - 4, cfg, created);
    else if (p[4] == '{') e = config_record_parse_json(p + 4, val.len - 4, cfg, created);
    else e = ERR_FORMAT;
    if (!e) e = coll_config_validate(cfg, err, sizeof err);
    if (e) {
        log_error("collection %s: stored configuration is invalid: %s", name, err);
        return ERR_FORMAT;
    }
    return 0;
}

void coll_config_record_build(const CollectionConfig *cfg, int64_t created, Buf *out)
{
    uint8_t b[8];
    /* The oldest layout that holds the configuration, so that a
     * collection not using a newer field keeps its bytes (and older
     * binaries keep opening it). */
    int v3 = 0, v4 = 0, v5 = 0;
    for (int i = 0; i < cfg->n_vectors; i++) {
        v3 |= cfg->vectors[i].multivector != COLLECTION_SINGLE ||
              cfg->vectors[i].datatype != COLLECTION_FLOAT32;
        v4 |= cfg->vectors[i].quant.type != COLLECTION_QUANT_NONE;
        v5 |= cfg->vectors[i].exact_only != 0;
    }
    v4 |= v5;
    v3 |= v4;
    b[0] = v5   ? COLL_RECORD_V5
           : v4 ? COLL_RECORD_V4
           : v3 ? COLL_RECORD_V3
           : cfg->n_sparse ? COLL_RECORD_V2 : COLL_RECORD_V1;
    buf_append(out, b, 1);
    store_put_le64(b, (uint64_t)created);
    buf_append(out, b, 8);
    store_put_le32(b, (uint32_t)cfg->m);
    buf_append(out, b, 4);
    store_put_le32(b, (uint32_t)cfg->ef_construct);
    buf_append(out, b, 4);
    b[0] = (uint8_t)cfg->unnamed;
    b[1] = (uint8_t)cfg->n_vectors;
    buf_append(out, b, 2);
    for (int i = 0; i < cfg->n_vectors; i++) {
        const CollectionVectorParams *v = &cfg->vectors[i];
        size_t nl = strlen(v->name);
        store_put_le32(b, v->size);
        b[4] = (uint8_t)v->distance;
        b[5] = (uint8_t)nl;
        buf_append(out, b, 6);
        buf_append(out, v->name, nl);
    }
    if (cfg->n_sparse || v3) {
        b[0] = (uint8_t)cfg->n_sparse;
        buf_append(out, b, 1);
        for (int i = 0; i < cfg->n_sparse; i++) {
            size_t nl = strlen(cfg->sparse[i].name);
            b[0] = (uint8_t)cfg->sparse[i].modifier;
            b[1] = (uint8_t)nl;
            buf_append(out, b, 2);
            buf_append(out, cfg->sparse[i].name, nl);
        }
    }
    for (int i = 0; v3 && i < cfg->n_vectors; i++) {
        b[0] = (uint8_t)cfg->vectors[i].multivector;
        b[1] = (uint8_t)cfg->vectors[i].datatype;
        buf_append(out, b, 2);
    }
    for (int i = 0; v4 && i < cfg->n_vectors; i++) {
        const CollectionQuantization *q = &cfg->vectors[i].quant;
        uint32_t u;
        b[0] = (uint8_t)q->type;
        buf_append(out, b, 1);
        memcpy(&u, &q->quantile, 4);
        store_put_le32(b, u);
        b[4] = (uint8_t)q->always_ram;
        b[5] = (uint8_t)q->calibrated;
        buf_append(out, b, 6);
        memcpy(&u, &q->lo, 4);
        store_put_le32(b, u);
        memcpy(&u, &q->hi, 4);
        store_put_le32(b + 4, u);
        buf_append(out, b, 8);
    }
    for (int i = 0; v5 && i < cfg->n_vectors; i++) {
        b[0] = (uint8_t)cfg->vectors[i].exact_only;
        buf_append(out, b, 1);
    }
    size_t ol = strlen(cfg->options);
    store_put_le32(b, (uint32_t)ol);
    buf_append(out, b, 4);
    buf_append(out, cfg->options, ol);
}

/* config_record_put writes collection name's config record. */
static int config_record_put(StoreTxn *txn, const char *name, uint32_t cid,
                             const CollectionConfig *cfg, int64_t created)
{
    uint8_t head[4];
    store_put_le32(head, cid);
    Buf rec;
    buf_init(&rec);
    coll_config_record_build(cfg, created, &rec);
    int err = store_put2(txn, STORE_DB_COLLECTIONS, name, strlen(name), head, 4, rec.data, rec.len);
    buf_free(&rec);
    return err;
}

int coll_config_put(StoreTxn *txn, Collection *c, const CollectionConfig *cfg)
{
    return config_record_put(txn, c->name, c->cid, cfg, c->created_at);
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
    uint8_t next[4];
    store_put_le32(next, cid + 1);
    if ((err = store_put(txn, STORE_DB_META, "next_cid", 8, next, 4))) return err;
    x->cid = cid;
    return config_record_put(txn, x->name, cid, x->cfg, x->created);
}

int collection_create(Db *db, const char *name, const CollectionConfig *config, char *err,
                      size_t errlen)
{
    if (!coll_name_valid(name))
        return err_set(err, errlen, ERR_INVAL,
                       "collection name must have 1..%d bytes and none of / \\ < > : \" | ? *",
                       COLLECTION_MAX_NAME);
    CollectionConfig cfg = *config;
    int e = coll_config_validate(&cfg, err, errlen);
    if (e) return e;
    pthread_mutex_lock(&db->write);
    if (coll_alias_target(db, name)) {
        /* Qdrant's words and code (400) for a name taken by an alias. */
        pthread_mutex_unlock(&db->write);
        return err_set(err, errlen, ERR_INVAL,
                       "Can't create collection with name %s. Alias with the same name already "
                       "exists",
                       name);
    }
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
    Db *db;
    const char *name;
    uint32_t cid;
} DropCtx;

static int drop_fn(StoreTxn *txn, void *vctx)
{
    DropCtx *x = vctx;
    uint8_t p[STORE_KEY_MAX];
    size_t pl = store_key_cid(p, x->cid);
    int err = store_del(txn, STORE_DB_COLLECTIONS, x->name, strlen(x->name));
    /* Its aliases go with it (Qdrant's rule). */
    for (size_t i = 0; i < x->db->n_aliases && !err; i++)
        if (!strcmp(x->db->aliases[i].collection, x->name))
            err = coll_alias_record_del(txn, x->db->aliases[i].alias);
    /* Every collection database holds only cid-prefixed records (store.h). */
    for (int d = STORE_DB_FIRST_COLLECTION_DB; d < STORE_DB_COUNT && !err; d++)
        err = store_del_prefix(txn, (StoreDb)d, p, pl, NULL);
    if (!err) err = coll_ops_del(txn, x->cid);
    return err;
}

int collection_delete(Db *db, const char *name)
{
    pthread_mutex_lock(&db->write);
    /* The collection's own name only, as Qdrant's delete: an alias names a
     * collection for reading and writing points, not for dropping it. */
    Collection *c = coll_db_find_collection(db, name);
    if (!c) {
        pthread_mutex_unlock(&db->write);
        return ERR_NOTFOUND;
    }
    DropCtx x = { db, c->name, c->cid };
    int err = store_write(db->store, drop_fn, &x);
    if (!err) {
        /* Exclusive: every reader of c has finished when this returns. */
        pthread_rwlock_wrlock(&db->lock);
        for (size_t i = 0; i < db->n_colls; i++)
            if (db->colls[i] == c) {
                db->colls[i] = db->colls[--db->n_colls];
                break;
            }
        coll_alias_drop_collection(db, c->name);
        pthread_rwlock_unlock(&db->lock);
        coll_free(c);
    }
    pthread_mutex_unlock(&db->write);
    return err;
}

/* same_graphs: do a and b build the same graphs (m, ef_construct, and
 * each vector's exact_only flag and quantization)? */
static int same_graphs(const CollectionConfig *a, const CollectionConfig *b)
{
    if (a->m != b->m || a->ef_construct != b->ef_construct || a->n_vectors != b->n_vectors) return 0;
    for (int v = 0; v < a->n_vectors; v++) {
        const CollectionVectorParams *x = &a->vectors[v], *y = &b->vectors[v];
        if (x->exact_only != y->exact_only || x->quant.type != y->quant.type ||
            x->quant.quantile != y->quant.quantile || x->quant.always_ram != y->quant.always_ram)
            return 0;
    }
    return 1;
}

int collection_update(Db *db, const char *name, const CollectionUpdate *u, char *err,
                      size_t errlen)
{
    if (u->options && strlen(u->options) >= COLLECTION_MAX_OPTIONS)
        return err_set(err, errlen, ERR_INVAL, "options must have at most %d bytes",
                       COLLECTION_MAX_OPTIONS - 1);
    Collection *c;
    int e = coll_write_begin(db, name, &c, err, errlen);
    if (e) return e;
    /* Writers are serialised here, so the check and the change are one
     * step for every other update. */
    if (u->if_options && strcmp(c->config.options, u->if_options)) {
        coll_write_end(db);
        return err_set(err, errlen, ERR_BUSY, "the collection's settings changed meanwhile");
    }
    /* While a background rebuild is owed, the update starts from the
     * configuration it builds towards. */
    CollectionConfig cfg = c->opt.active ? c->opt.target : c->config;
    if (u->options) snprintf(cfg.options, sizeof cfg.options, "%s", u->options);
    if (u->m) cfg.m = u->m;
    if (u->ef_construct) cfg.ef_construct = u->ef_construct;
    if (u->n_sparse) e = coll_sparse_update(&cfg, u, err, errlen);
    for (int v = 0; u->set_quant && v < cfg.n_vectors; v++) {
        /* A new setting is calibrated afresh (coll_quant_sync, below). */
        CollectionQuantization *q = &cfg.vectors[v].quant;
        CollectionQuantization n = u->quant[v];
        if (n.type == COLLECTION_QUANT_INT8 && n.quantile == 0) n.quantile = QUANT_DEFAULT_QUANTILE;
        if (n.type != q->type || n.quantile != q->quantile) *q = n;
        q->always_ram = n.always_ram;
    }
    for (int v = 0; u->set_exact_only && v < cfg.n_vectors; v++)
        cfg.vectors[v].exact_only = u->exact_only[v];
    if (!e) e = coll_config_validate(&cfg, err, errlen);
    if (e) {
        coll_write_end(db);
        return e;
    }
    /* An update that leaves the graphs' parameters as the running rebuild
     * builds them (options, sparse modifiers) is stored and lets it go on;
     * any other stops it and rebuilds its graphs too. */
    if (c->opt.active && __atomic_load_n(&c->opt.noting, __ATOMIC_ACQUIRE) &&
        same_graphs(&cfg, &c->opt.target)) {
        e = coll_optimize_retarget(db, c, &cfg);
        if (e) err_set(err, errlen, e, "storage error: %s", err_str(e));
        coll_write_end(db);
        return e;
    }
    coll_optimize_stop(c);
    /* Which graphs are rebuilt: every one for a new m or ef_construct
     * (a vector searched exactly only gets a bare one: coll_index_params),
     * and the graph of a vector no longer searched exactly only, whose
     * nodes were stored bare while the flag was on (a graph an earlier
     * build kept linked under the flag is rebuilt too: nothing tells the
     * two apart without walking every node). A vector becoming
     * exact_only keeps its graph; only later inserts are bare. The live
     * configuration says how the graphs are now. */
    int all = cfg.m != c->config.m || cfg.ef_construct != c->config.ef_construct;
    uint32_t rebuild = c->opt.active ? c->opt.mask : 0;
    uint32_t unbare = c->opt.active ? c->opt.unbare : 0;
    for (int v = 0; v < cfg.n_vectors; v++) {
        if (c->config.vectors[v].exact_only && !cfg.vectors[v].exact_only) unbare |= 1u << v;
        if (all || (unbare >> v & 1)) rebuild |= 1u << v;
    }
    if (rebuild && c->node_high >= db->rebuild_async_min) {
        /* Stored now; the graphs follow in the background. */
        e = coll_optimize_begin(db, c, &cfg, rebuild, unbare);
        if (e) err_set(err, errlen, e, "storage error: %s", err_str(e));
        coll_optimize_resume(db, c); /* one owed from before, on a failure */
        coll_write_end(db);
        return e;
    }
    /* A small collection's new graphs are built here, beside the live
     * ones, which readers keep using until the commit; only then are they
     * swapped in. Writers wait meanwhile (db->write is held). */
    double t0 = now_seconds();
    HnswIndex *graphs[COLLECTION_MAX_VECTORS] = { 0 };
    CollRebuild r = { &cfg, rebuild, unbare, c->node_high, NULL, NULL };
    e = coll_graphs_build(db, c, &r, graphs);
    if (!e && rebuild)
        log_info("collection %s: %d graph%s rebuilt in %.1f s", c->name, __builtin_popcount(rebuild),
                 __builtin_popcount(rebuild) == 1 ? "" : "s", now_seconds() - t0);
    if (!e) {
        /* A rebuild that was owed is done with this one. */
        e = coll_graphs_install(db, c, &cfg, rebuild, graphs);
        if (e) err_set(err, errlen, e, "storage error: %s", err_str(e));
    }
    /* A rebuild this update stopped and did not take over goes on. */
    coll_optimize_resume(db, c);
    coll_write_end(db);
    return e;
}

int collection_info(Db *db, const char *name, CollectionInfo *out)
{
    Collection *c;
    int err = coll_read_begin(db, name, &c, NULL, 0);
    if (err) return err;
    memset(out, 0, sizeof *out);
    /* The stored configuration: during a background rebuild the live one
     * still has the flags of the graphs being replaced. */
    out->config = c->opt.active ? c->opt.target : c->config;
    out->optimizing = c->opt.active && !c->opt.error[0];
    snprintf(out->optimizer_error, sizeof out->optimizer_error, "%s", c->opt.error);
    if (out->optimizing) {
        out->optimize_started_ms = c->opt.started_ms;
        out->optimize_total = __atomic_load_n(&c->opt.total, __ATOMIC_RELAXED);
        out->optimize_done = MIN(__atomic_load_n(&c->opt.done, __ATOMIC_RELAXED),
                                 out->optimize_total);
    }
    out->points_count = c->points_count;
    out->op_num = c->op_num;
    out->payload_bytes = c->payload_bytes > 0 ? (uint64_t)c->payload_bytes : 0;
    out->created_at = c->created_at;
    out->id = c->cid;
    for (int i = 0; i < c->config.n_vectors; i++) {
        out->vector_counts[i] = hnsw_count(c->idx[i].index);
        out->vectors_count += out->vector_counts[i];
        out->memory_bytes += hnsw_memory_bytes(c->idx[i].index);
    }
    out->memory_bytes += (size_t)c->node_cap * (sizeof(PointId) + 1);
    coll_sparse_stats(c, &out->vectors_count, &out->memory_bytes);
    coll_index_info(c, out);
    coll_multi_stats(c, &out->vectors_count, &out->memory_bytes);
    coll_blocks_stats(c, &out->payload_blocks, &out->payload_block_points,
                      &out->payload_block_bytes);
    out->memory_bytes += out->payload_block_bytes;
    coll_read_end(db, c);
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
