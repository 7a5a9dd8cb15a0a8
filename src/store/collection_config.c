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
#include "store/collection_internal.h"
#include "store/store.h"

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

int coll_config_validate(CollectionConfig *c, char *err, size_t errlen)
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

/* coll_vector_index resolves a vector name (NULL or "" for the unnamed one). */
int coll_vector_index(const Collection *c, const char *name, char *err, size_t errlen)
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

int coll_config_record_parse(const char *name, Slice val, uint32_t *cid, CollectionConfig *cfg,
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
    if (!e) e = coll_config_validate(cfg, err, sizeof err);
    if (!e && json_as_int64(json_get(root, "created_at"), created)) *created = 0;
    arena_free(&a);
    if (e) {
        log_error("collection %s: stored configuration is invalid: %s", name, err);
        return ERR_FORMAT;
    }
    return 0;
}

void coll_config_record_build(const CollectionConfig *cfg, int64_t created, Buf *out)
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
    coll_config_record_build(x->cfg, x->created, &rec);
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
    int e = coll_config_validate(&cfg, err, errlen);
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
    Collection *c = coll_db_find(db, name);
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
    int err = coll_read_begin(db, name, &c, NULL, 0);
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
