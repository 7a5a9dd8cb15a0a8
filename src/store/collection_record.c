/*
 * collection_record.c - what the engine keeps for the layers above it
 * besides points: a blob per point (STORE_DB_BLOBS, an item's thumbnail,
 * written and deleted with the point by collection_write.c) and database
 * records (STORE_DB_RECORDS: the image embedding cache, settings such as
 * moderation rules).
 *
 * Why in the engine rather than beside it: LMDB allows one environment
 * per data directory and process, and one writer; a thumbnail written in
 * another transaction than its point could outlive a crash without it (or
 * the other way round), and a cache entry written outside the writer
 * would race the group commit. So blobs commit with their point and
 * records either with a write (CollectionWrite.records) or in a write
 * transaction of their own under the Db's write lock.
 */
#include "store/collection.h"

#include <pthread.h>
#include <string.h>

#include "base/err.h"
#include "store/collection_internal.h"
#include "store/store.h"

int coll_records_check(const CollectionRecord *r, size_t n, char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        if (!r[i].key || r[i].klen == 0 || r[i].klen > COLLECTION_MAX_RECORD_KEY)
            return err_set(err, errlen, ERR_INVAL, "record %zu: a key of 1 to %d bytes", i,
                           COLLECTION_MAX_RECORD_KEY);
        if (r[i].vlen > COLLECTION_MAX_RECORD || (r[i].vlen && !r[i].val))
            return err_set(err, errlen, ERR_TOOLARGE, "record %zu: a value of at most %d bytes", i,
                           COLLECTION_MAX_RECORD);
    }
    return 0;
}

int coll_records_put(StoreTxn *txn, const CollectionRecord *r, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int err;
        if (r[i].val) {
            err = store_put(txn, STORE_DB_RECORDS, r[i].key, r[i].klen, r[i].val, r[i].vlen);
        } else {
            err = store_del(txn, STORE_DB_RECORDS, r[i].key, r[i].klen);
            if (err == ERR_NOTFOUND) err = 0;
        }
        if (err) return err;
    }
    return 0;
}

typedef struct {
    const CollectionRecord *r;
    size_t n;
} RecordsCtx;

static int records_fn(StoreTxn *txn, void *vctx)
{
    RecordsCtx *x = vctx;
    return coll_records_put(txn, x->r, x->n);
}

int collection_record_put(Db *db, const CollectionRecord *records, size_t n)
{
    int err = coll_records_check(records, n, NULL, 0);
    if (err || n == 0) return err;
    RecordsCtx x = { records, n };
    pthread_mutex_lock(&db->write);
    err = store_write(db->store, records_fn, &x);
    pthread_mutex_unlock(&db->write);
    return err;
}

/* copy_out copies a value read in a transaction into arena, with a NUL
 * after it. */
static void *copy_out(Arena *arena, Slice v)
{
    char *p = arena_alloc(arena, v.len + 1);
    if (v.len) memcpy(p, v.ptr, v.len);
    p[v.len] = '\0';
    return p;
}

int collection_record_get(Db *db, const void *key, size_t klen, Arena *arena, void **val,
                          size_t *vlen)
{
    if (!key || klen == 0 || klen > COLLECTION_MAX_RECORD_KEY) return ERR_INVAL;
    StoreTxn *txn;
    int err = store_read_begin(db->store, &txn);
    if (err) return err;
    Slice v;
    err = store_get(txn, STORE_DB_RECORDS, key, klen, &v);
    if (!err) {
        *val = copy_out(arena, v);
        *vlen = v.len;
    }
    store_read_end(txn);
    return err;
}

int collection_blob_get(Db *db, const char *name, const PointId *id, Arena *arena,
                        const void **data, size_t *len)
{
    Collection *c;
    int err = coll_read_begin(db, name, &c, NULL, 0);
    if (err) return err;
    uint8_t key[STORE_KEY_MAX], idkey[POINT_ID_KEY_MAX];
    size_t kl = store_key_point(key, c->cid, idkey, point_id_key(id, idkey));
    StoreTxn *txn;
    if ((err = store_read_begin(db->store, &txn))) {
        coll_read_end(db, c);
        return err;
    }
    Slice v;
    err = store_get(txn, STORE_DB_BLOBS, key, kl, &v);
    if (!err) {
        *data = copy_out(arena, v);
        *len = v.len;
    }
    store_read_end(txn);
    coll_read_end(db, c);
    return err;
}
