/*
 * test_store_blobs.c - what the engine keeps besides points
 * (src/store/collection_record.c): a blob per point and database records.
 *
 * The reference is the sequence of writes made here: a blob reads back
 * byte for byte as the last upsert gave it; an upsert without one, a
 * delete (by id or by filter) or the collection's deletion removes it, and
 * update_vectors keeps it; records stored with a write exist exactly when
 * the write succeeded; everything survives a close and reopen.
 */
#include <ftw.h>
#include <stdlib.h>
#include <unistd.h>

#include "base/err.h"
#include "base/log.h"
#include "harness.h"
#include "store/collection.h"

static char g_dir[256];

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static void make_collection(Db *db, const char *name)
{
    CollectionConfig cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.n_vectors = 1;
    snprintf(cfg.vectors[0].name, sizeof cfg.vectors[0].name, "image");
    cfg.vectors[0].size = 2;
    cfg.vectors[0].distance = COLLECTION_COSINE;
    char err[256];
    if (collection_create(db, name, &cfg, err, sizeof err)) abort();
}

/* upsert writes point id with one vector and blob (NULL: none). */
static int upsert(Db *db, const char *name, uint64_t id, const char *blob)
{
    static const float v[2] = { 1, 2 };
    CollectionVectorIn vin = { .name = "image", .data = v, .dim = 2 };
    CollectionPointIn p = { .id = point_id_num(id), .vectors = &vin, .n_vectors = 1 };
    CollectionBlob b = { blob, blob ? strlen(blob) : 0 };
    CollectionOp op = { .kind = COLLECTION_OP_UPSERT, .points = &p, .n_points = 1, .blobs = &b };
    CollectionWrite w = { .collection = name, .ops = &op, .n_ops = 1 };
    CollectionWrite *wp = &w;
    int rc = collection_write_group(db, &wp, 1, NULL);
    return rc ? rc : w.status;
}

/* blob_is: point id's blob reads back as want (NULL: ERR_NOTFOUND). */
static int blob_is(Db *db, const char *name, uint64_t id, const char *want)
{
    Arena a;
    arena_init(&a, 0);
    PointId pid = point_id_num(id);
    const void *d = NULL;
    size_t n = 0;
    int rc = collection_blob_get(db, name, &pid, &a, &d, &n);
    int ok = want ? rc == 0 && n == strlen(want) && !memcmp(d, want, n) : rc == ERR_NOTFOUND;
    if (!ok) printf("  point %llu: rc %d, %zu bytes, want %s\n", (unsigned long long)id, rc, n, want ? want : "none");
    arena_free(&a);
    return ok;
}

static int record_is(Db *db, const char *key, const char *want)
{
    Arena a;
    arena_init(&a, 0);
    void *v = NULL;
    size_t n = 0;
    int rc = collection_record_get(db, key, strlen(key), &a, &v, &n);
    int ok = want ? rc == 0 && n == strlen(want) && !memcmp(v, want, n) && ((char *)v)[n] == 0
                  : rc == ERR_NOTFOUND;
    if (!ok) printf("  record %s: rc %d, want %s\n", key, rc, want ? want : "none");
    arena_free(&a);
    return ok;
}

TEST(test_blobs_follow_points)
{
    Db *db;
    ASSERT_OK(collection_db_open(g_dir, NULL, &db));
    make_collection(db, "c");
    ASSERT_OK(upsert(db, "c", 1, "one"));
    ASSERT_OK(upsert(db, "c", 2, "two"));
    ASSERT_OK(upsert(db, "c", 3, NULL));
    ASSERT_TRUE(blob_is(db, "c", 1, "one"));
    ASSERT_TRUE(blob_is(db, "c", 2, "two"));
    ASSERT_TRUE(blob_is(db, "c", 3, NULL));
    ASSERT_TRUE(blob_is(db, "c", 4, NULL));
    /* Replaced with another blob, then without one. */
    ASSERT_OK(upsert(db, "c", 1, "uno!"));
    ASSERT_TRUE(blob_is(db, "c", 1, "uno!"));
    ASSERT_OK(upsert(db, "c", 1, NULL));
    ASSERT_TRUE(blob_is(db, "c", 1, NULL));
    ASSERT_OK(upsert(db, "c", 1, "one"));
    /* update_vectors leaves it. */
    static const float v2[2] = { 3, 1 };
    CollectionVectorIn vin = { .name = "image", .data = v2, .dim = 2 };
    CollectionPointIn p = { .id = point_id_num(2), .vectors = &vin, .n_vectors = 1 };
    CollectionOp op = { .kind = COLLECTION_OP_UPDATE_VECTORS, .points = &p, .n_points = 1 };
    CollectionWrite w = { .collection = "c", .ops = &op, .n_ops = 1 };
    CollectionWrite *wp = &w;
    ASSERT_OK(collection_write_group(db, &wp, 1, NULL));
    ASSERT_OK(w.status);
    ASSERT_TRUE(blob_is(db, "c", 2, "two"));
    /* Deleted by id, and by filter. */
    PointId two = point_id_num(2);
    ASSERT_OK(collection_delete_points(db, "c", &two, 1, NULL));
    ASSERT_TRUE(blob_is(db, "c", 2, NULL));
    ASSERT_OK(upsert(db, "c", 5, "five"));
    Arena a;
    arena_init(&a, 0);
    JsonValue *f;
    const char *ft = "{\"must\": [{\"has_id\": [5]}]}";
    ASSERT_OK(json_parse(&a, ft, strlen(ft), &f, NULL, 0));
    ASSERT_OK(collection_delete_by_filter(db, "c", f, NULL, NULL, 0));
    ASSERT_TRUE(blob_is(db, "c", 5, NULL));
    ASSERT_TRUE(blob_is(db, "c", 1, "one"));
    /* Too large a blob is refused and nothing changes. */
    char *big = malloc(COLLECTION_MAX_BLOB + 2);
    memset(big, 'x', COLLECTION_MAX_BLOB + 1);
    big[COLLECTION_MAX_BLOB + 1] = 0;
    ASSERT_EQ_INT(upsert(db, "c", 1, big), ERR_TOOLARGE);
    free(big);
    ASSERT_TRUE(blob_is(db, "c", 1, "one"));
    /* Survives a reopen. */
    collection_db_close(db);
    ASSERT_OK(collection_db_open(g_dir, NULL, &db));
    ASSERT_TRUE(blob_is(db, "c", 1, "one"));
    /* A dropped collection takes its blobs; a new one of the same name
     * starts without. */
    ASSERT_OK(collection_delete(db, "c"));
    make_collection(db, "c");
    ASSERT_OK(upsert(db, "c", 1, NULL));
    ASSERT_TRUE(blob_is(db, "c", 1, NULL));
    ASSERT_TRUE(blob_is(db, "nope", 1, NULL));
    arena_free(&a);
    collection_db_close(db);
}

TEST(test_records)
{
    Db *db;
    ASSERT_OK(collection_db_open(g_dir, NULL, &db));
    CollectionRecord r[2] = { { "t/a", 3, "alpha", 5 }, { "t/b", 3, "beta", 4 } };
    ASSERT_OK(collection_record_put(db, r, 2));
    ASSERT_TRUE(record_is(db, "t/a", "alpha"));
    ASSERT_TRUE(record_is(db, "t/b", "beta"));
    ASSERT_TRUE(record_is(db, "t/c", NULL));
    /* Replace and delete. */
    CollectionRecord r2[2] = { { "t/a", 3, "A", 1 }, { "t/b", 3, NULL, 0 } };
    ASSERT_OK(collection_record_put(db, r2, 2));
    ASSERT_TRUE(record_is(db, "t/a", "A"));
    ASSERT_TRUE(record_is(db, "t/b", NULL));
    /* Bad keys. */
    CollectionRecord bad = { "", 0, "x", 1 };
    ASSERT_EQ_INT(collection_record_put(db, &bad, 1), ERR_INVAL);
    /* With writes: stored when the write succeeds, not when it fails. */
    make_collection(db, "d");
    static const float v[2] = { 1, 0 };
    CollectionVectorIn vin = { .name = "image", .data = v, .dim = 2 };
    CollectionPointIn p = { .id = point_id_num(9), .vectors = &vin, .n_vectors = 1 };
    CollectionOp op = { .kind = COLLECTION_OP_UPSERT, .points = &p, .n_points = 1 };
    CollectionRecord ok_rec = { "t/ok", 4, "stored", 6 };
    CollectionRecord bad_rec = { "t/bad", 5, "never", 5 };
    CollectionWrite w1 = { .collection = "d", .ops = &op, .n_ops = 1, .records = &ok_rec, .n_records = 1 };
    CollectionWrite w2 = { .collection = "missing", .ops = &op, .n_ops = 1, .records = &bad_rec,
                           .n_records = 1 };
    /* A later operation of the write fails: its records go with it. */
    PointId absent = point_id_num(77);
    CollectionOp ops3[2] = { op, { .kind = COLLECTION_OP_CLEAR_PAYLOAD, .ids = &absent, .n_ids = 1 } };
    CollectionRecord bad_rec3 = { "t/bad3", 6, "never", 5 };
    CollectionWrite w3 = { .collection = "d", .ops = ops3, .n_ops = 2, .records = &bad_rec3,
                           .n_records = 1 };
    CollectionWrite *ws[3] = { &w1, &w2, &w3 };
    ASSERT_OK(collection_write_group(db, ws, 3, NULL));
    ASSERT_OK(w1.status);
    ASSERT_EQ_INT(w2.status, ERR_NOTFOUND);
    ASSERT_EQ_INT(w3.status, ERR_NOTFOUND);
    ASSERT_TRUE(record_is(db, "t/ok", "stored"));
    ASSERT_TRUE(record_is(db, "t/bad", NULL));
    ASSERT_TRUE(record_is(db, "t/bad3", NULL));
    collection_db_close(db);
    ASSERT_OK(collection_db_open(g_dir, NULL, &db));
    ASSERT_TRUE(record_is(db, "t/a", "A"));
    ASSERT_TRUE(record_is(db, "t/ok", "stored"));
    collection_db_close(db);
}

int main(void)
{
    log_set_level(LOG_WARN);
    snprintf(g_dir, sizeof g_dir, "%s/vitrine_blobs_XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(g_dir)) return 1;
    RUN(test_blobs_follow_points);
    RUN(test_records);
    nftw(g_dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    return harness_report(__FILE__);
}
