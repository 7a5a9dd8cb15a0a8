/*
 * test_store_format.c - the format 2 layout of dense vectors (blocks of K
 * nodes per LMDB value, docs/storage.md) and the way from format 1.
 *
 *   - 512-d vectors take at most 1.25x their float32 bytes in the
 *     database that holds them (format 1 took 2x: a 4 KiB overflow page
 *     per 2 KiB vector), and none is left in the per-node database;
 *   - every stored vector reads back bit for bit (512-d ones from overflow
 *     pages, 4-d ones from small blocks in leaf pages), after upserts in
 *     batches, single upserts, updates, deletes and a reopen;
 *   - a format 1 directory (written here by the test's own encoder of the
 *     old layout) is migrated in place at open: same vectors, same graphs,
 *     same search results, format record 2, no old record left;
 *   - a migration interrupted after any number of its transactions (as a
 *     crash there would) refuses to open half-migrated and is finished
 *     by the next open, with the same result;
 *   - formats other than 1 and 2 are refused (ERR_FORMAT);
 *   - a graph loaded on several threads (9000 nodes) equals the saved one.
 */
#include <ftw.h>
#include <stdlib.h>
#include <unistd.h>

#include "store/collection.h"
#include "base/err.h"
#include "harness.h"
#include "base/log.h"
#include "base/vec.h"
#include "store/store.h"

#define N_POINTS 800
/* Points [DEL_FROM, DEL_TO) are deleted by build(). */
#define DEL_FROM 400
#define DEL_TO 450
#define DIM 512
#define TAG_DIM 4
#define N_QUERIES 20

static float g_img[N_POINTS][DIM];
static float g_tag[N_POINTS][TAG_DIM];

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;
static uint64_t rng_next(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}
static float rng_sym(void) { return (float)((rng_next() >> 11) * (2.0 / 9007199254740992.0)) - 1.0f; }

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}
static void rm_rf(const char *p) { nftw(p, rm_cb, 16, FTW_DEPTH | FTW_PHYS); }

static void make_tmpdir(char *buf, size_t n, const char *tag)
{
    snprintf(buf, n, "%s/vitrine_test_%s_XXXXXX", env_or("TMPDIR", "/tmp"), tag);
    if (!mkdtemp(buf)) {
        perror("mkdtemp");
        exit(1);
    }
}

static void make_data(void)
{
    for (int i = 0; i < N_POINTS; i++) {
        for (int d = 0; d < DIM; d++) g_img[i][d] = rng_sym();
        for (int d = 0; d < TAG_DIM; d++) g_tag[i][d] = rng_sym();
    }
}

/* Cosine vectors are stored normalised, as vec_normalize makes them. */
static void normalised(const float *in, float *out, int dim)
{
    memcpy(out, in, (size_t)dim * sizeof *out);
    vec_normalize(out, (size_t)dim);
}

static int create(Db *db, const char *name)
{
    CollectionConfig cfg = { .n_vectors = 2, .m = 8, .ef_construct = 32 };
    snprintf(cfg.vectors[0].name, sizeof cfg.vectors[0].name, "image");
    cfg.vectors[0].size = DIM;
    cfg.vectors[0].distance = COLLECTION_COSINE;
    snprintf(cfg.vectors[1].name, sizeof cfg.vectors[1].name, "tag");
    cfg.vectors[1].size = TAG_DIM;
    cfg.vectors[1].distance = COLLECTION_EUCLID;
    char err[256];
    return collection_create(db, name, &cfg, err, sizeof err);
}

/* upsert points [from, to) in batches of batch; every third point lacks
 * its tag vector; gen shifts the image vectors (an update). */
static int upsert(Db *db, const char *name, int from, int to, int batch, float gen)
{
    char err[256];
    for (int s = from; s < to; s += batch) {
        int e = MIN(s + batch, to);
        CollectionPointIn *p = calloc((size_t)(e - s), sizeof *p);
        CollectionVectorIn(*v)[2] = calloc((size_t)(e - s), sizeof *v);
        for (int i = s; i < e; i++) {
            if (gen != 0)
                for (int d = 0; d < DIM; d++) g_img[i][d] += gen;
            v[i - s][0] = (CollectionVectorIn){ "image", g_img[i], DIM, NULL, NULL };
            v[i - s][1] = (CollectionVectorIn){ "tag", g_tag[i], TAG_DIM, NULL, NULL };
            p[i - s] = (CollectionPointIn){ point_id_num((uint64_t)i), NULL, v[i - s],
                                            i % 3 ? 2 : 1 };
        }
        int r = collection_upsert(db, name, p, (size_t)(e - s), err, sizeof err);
        free(p);
        free(v);
        if (r) {
            printf("  upsert: %s\n", err);
            return r;
        }
    }
    return 0;
}

/* check_vectors reads every point back with its vectors and compares them
 * bit for bit with the reference; deleted ids [del_from, del_to) must be
 * gone. Returns the number of mismatches. */
static int check_vectors(Db *db, const char *name, int del_from, int del_to)
{
    PointId *ids = malloc(N_POINTS * sizeof *ids);
    for (int i = 0; i < N_POINTS; i++) ids[i] = point_id_num((uint64_t)i);
    CollectionSelector none = { COLLECTION_SEL_NONE, NULL, 0 };
    CollectionSelector all = { COLLECTION_SEL_ALL, NULL, 0 };
    Arena a;
    arena_init(&a, 0);
    CollectionResult r;
    int bad = 0;
    if (collection_get(db, name, ids, N_POINTS, &none, &all, &a, &r)) bad = 1000000;
    size_t want = N_POINTS - (size_t)(del_to - del_from);
    if (!bad && r.n != want) {
        printf("  %zu points back, expected %zu\n", r.n, want);
        bad++;
    }
    float ref[DIM];
    for (size_t j = 0; !bad && j < r.n; j++) {
        int i = (int)r.points[j].id.num;
        if (i >= del_from && i < del_to) bad++;
        normalised(g_img[i], ref, DIM);
        const float *img = r.points[j].vectors ? r.points[j].vectors[0] : NULL;
        const float *tag = r.points[j].vectors ? r.points[j].vectors[1] : NULL;
        if (!img || memcmp(img, ref, sizeof ref)) bad++;
        if (i % 3 ? !tag || memcmp(tag, g_tag[i], sizeof g_tag[i]) : tag != NULL) bad++;
        if (bad == 1) printf("  point %d: its vectors differ from what was written\n", i);
    }
    arena_free(&a);
    free(ids);
    return bad;
}

/* A fingerprint: both graph digests and the ids of a few searches. */
typedef struct {
    uint64_t digest[2];
    uint64_t ids[N_QUERIES][10];
} Print;

static int take(Db *db, const char *name, Print *p)
{
    memset(p, 0, sizeof *p);
    if (collection_graph_digest(db, name, "image", &p->digest[0]) ||
        collection_graph_digest(db, name, "tag", &p->digest[1]))
        return -1;
    for (int q = 0; q < N_QUERIES; q++) {
        CollectionSearch req = { 0 };
        req.vector = g_img[q * 37 % N_POINTS];
        req.dim = DIM;
        req.using = "image";
        req.limit = 10;
        Arena a;
        arena_init(&a, 0);
        CollectionResult r;
        char err[256];
        int e = collection_search(db, name, &req, &a, &r, err, sizeof err);
        for (size_t j = 0; !e && j < r.n && j < 10; j++) p->ids[q][j] = r.points[j].id.num + 1;
        arena_free(&a);
        if (e) return e;
    }
    return 0;
}

/* ---- the test's own format 1 encoder ---- */

typedef struct {
    size_t n, cap;
    uint8_t (*key)[10];
    uint8_t **val;
    size_t *len;
} Recs;

static void recs_add(Recs *r, const void *key, const void *val, size_t len)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 256;
        r->key = realloc(r->key, r->cap * sizeof *r->key);
        r->val = realloc(r->val, r->cap * sizeof *r->val);
        r->len = realloc(r->len, r->cap * sizeof *r->len);
    }
    memcpy(r->key[r->n], key, 10);
    r->val[r->n] = malloc(len ? len : 1);
    memcpy(r->val[r->n], val, len);
    r->len[r->n++] = len;
}

static void recs_free(Recs *r)
{
    for (size_t i = 0; i < r->n; i++) free(r->val[i]);
    free(r->key);
    free(r->val);
    free(r->len);
    memset(r, 0, sizeof *r);
}

typedef struct {
    int dims[2];
    size_t records; /* format 1 records written */
    int bad;        /* a block not as docs/storage.md describes it */
} Down;

/* downgrade_fn rewrites every block of STORE_DB_DENSE as the format 1
 * records (cid + u16 vector + u32 node -> float32[dim]) and sets format 1,
 * reading the blocks by their documented layout. */
static int downgrade_fn(StoreTxn *txn, void *ctx)
{
    Down *d = ctx;
    d->records = 0;
    Recs blocks = { 0 };
    StoreCursor *cur;
    Slice k, v;
    int e = store_cursor_open(txn, STORE_DB_DENSE, &cur);
    if (e) return e;
    for (e = store_cursor_seek(cur, NULL, 0, &k, &v); e == 0; e = store_cursor_next(cur, &k, &v)) {
        if (k.len != 10) d->bad = 1;
        else recs_add(&blocks, k.ptr, v.ptr, v.len);
    }
    store_cursor_close(cur);
    for (size_t i = 0; i < blocks.n && !d->bad; i++) {
        const uint8_t *key = blocks.key[i], *val = blocks.val[i];
        int vi = key[4] << 8 | key[5];
        uint32_t block = store_get_be32(key + 6);
        size_t dim = (size_t)d->dims[vi], vb = dim * 4;
        uint32_t k_slots = val[2] | (uint32_t)val[3] << 8;
        uint32_t want_k = dim == DIM ? 63 : 64; /* docs/storage.md's arithmetic */
        if (val[0] != 0x01 || k_slots != want_k || (blocks.len[i] - 16) % vb) {
            d->bad = 1;
            break;
        }
        uint64_t present = store_get_le64(val + 8);
        size_t n = (blocks.len[i] - 16) / vb;
        for (size_t s = 0; s < n; s++) {
            if (!(present >> s & 1)) continue;
            uint8_t nk[10];
            memcpy(nk, key, 6);
            store_put_be32(nk + 6, block * k_slots + (uint32_t)s);
            if ((e = store_put(txn, STORE_DB_VECTORS, nk, 10, val + 16 + s * vb, vb))) break;
            d->records++;
        }
        if (!e) e = store_del(txn, STORE_DB_DENSE, key, 10);
        if (e) break;
    }
    recs_free(&blocks);
    if (e || d->bad) return e ? e : ERR_FORMAT;
    return store_format_put(txn, 1);
}

static int downgrade(const char *dir, size_t *records)
{
    Store *s;
    int e = store_open(dir, NULL, &s);
    if (e) return e;
    Down d = { .dims = { DIM, TAG_DIM } };
    e = store_write(s, downgrade_fn, &d);
    store_close(s);
    if (d.bad) printf("  a block does not follow the documented layout\n");
    *records = d.records;
    return e;
}

/* layout reads the format version and the entries of the two vector
 * databases. */
static int layout(const char *dir, uint32_t *format, uint64_t *per_node, uint64_t *blocks)
{
    Store *s;
    int e = store_open(dir, NULL, &s);
    if (e) return e;
    StoreTxn *txn;
    if (!(e = store_read_begin(s, &txn))) {
        e = store_format_get(txn, format);
        store_read_end(txn);
    }
    StoreDbStats a, b;
    if (!e) e = store_db_stats(s, STORE_DB_VECTORS, &a);
    if (!e) e = store_db_stats(s, STORE_DB_DENSE, &b);
    if (!e) {
        *per_node = a.entries;
        *blocks = b.entries;
    }
    store_close(s);
    return e;
}

/* build writes the collection every test starts from: batches, single
 * upserts (a growing last block), an update and deletes. */
static int build(Db *db)
{
    if (create(db, "f")) return -1;
    if (upsert(db, "f", 0, 500, 250, 0)) return -1; /* in parallel (>= 64 new points) */
    if (upsert(db, "f", 500, 540, 1, 0)) return -1; /* one at a time */
    if (upsert(db, "f", 540, N_POINTS, 100, 0)) return -1;
    if (upsert(db, "f", 100, 300, 200, 0.25f)) return -1; /* moves points: rewrites blocks */
    PointId del[DEL_TO - DEL_FROM];
    for (int i = DEL_FROM; i < DEL_TO; i++) del[i - DEL_FROM] = point_id_num((uint64_t)i);
    return collection_delete_points(db, "f", del, DEL_TO - DEL_FROM, NULL);
}

TEST(test_blocks_size_and_read_back)
{
    char dir[256];
    make_tmpdir(dir, sizeof dir, "fmt");
    Db *db;
    ASSERT_OK(collection_db_open(dir, NULL, &db));
    ASSERT_OK(build(db));
    ASSERT_EQ_INT(check_vectors(db, "f", DEL_FROM, DEL_TO), 0);
    collection_db_close(db);

    Store *s;
    ASSERT_OK(store_open(dir, NULL, &s));
    StoreDbStats dense, old;
    ASSERT_OK(store_db_stats(s, STORE_DB_DENSE, &dense));
    ASSERT_OK(store_db_stats(s, STORE_DB_VECTORS, &old));
    store_close(s);
    /* Every point keeps its vectors (deleted ones too, until reused). */
    uint64_t n_tag = 0;
    for (int i = 0; i < N_POINTS; i++) n_tag += i % 3 != 0;
    double floats = (double)N_POINTS * DIM * 4 + (double)n_tag * TAG_DIM * 4;
    double ratio = (double)dense.bytes / floats;
    printf("  dense vectors: %llu bytes in %llu records for %.0f float32 bytes: %.3fx\n",
           (unsigned long long)dense.bytes, (unsigned long long)dense.entries, floats, ratio);
    ASSERT_LE(ratio, 1.25);
    ASSERT_TRUE(ratio >= 1.0); /* the floats are all there */
    ASSERT_EQ_INT((int)old.entries, 0);

    ASSERT_OK(collection_db_open(dir, NULL, &db));
    ASSERT_EQ_INT(check_vectors(db, "f", DEL_FROM, DEL_TO), 0);
    collection_db_close(db);
    rm_rf(dir);
}

TEST(test_migrate_format1)
{
    char dir[256];
    make_tmpdir(dir, sizeof dir, "fmt1");
    Db *db;
    Print before, after;
    ASSERT_OK(collection_db_open(dir, NULL, &db));
    ASSERT_OK(build(db));
    ASSERT_OK(take(db, "f", &before));
    collection_db_close(db);
    size_t records = 0;
    ASSERT_OK(downgrade(dir, &records));
    uint32_t format;
    uint64_t per_node, blocks;
    ASSERT_OK(layout(dir, &format, &per_node, &blocks));
    ASSERT_EQ_INT((int)format, 1);
    ASSERT_EQ_INT((int)per_node, (int)records);
    ASSERT_EQ_INT((int)blocks, 0);

    DbOptions o = { .migrate_chunk = 100 };
    ASSERT_OK(collection_db_open(dir, &o, &db));
    ASSERT_OK(take(db, "f", &after));
    ASSERT_TRUE(!memcmp(&before, &after, sizeof before));
    ASSERT_EQ_INT(check_vectors(db, "f", DEL_FROM, DEL_TO), 0);
    /* Writes go on in the new layout. */
    ASSERT_OK(upsert(db, "f", DEL_FROM, DEL_TO, 50, 0));
    ASSERT_EQ_INT(check_vectors(db, "f", 0, 0), 0);
    collection_db_close(db);
    ASSERT_OK(layout(dir, &format, &per_node, &blocks));
    ASSERT_EQ_INT((int)format, 2);
    ASSERT_EQ_INT((int)per_node, 0);
    ASSERT_TRUE(blocks > 0);
    rm_rf(dir);
}

TEST(test_migration_interrupted)
{
    char dir[256];
    make_tmpdir(dir, sizeof dir, "fmtc");
    Db *db;
    Print before, after;
    ASSERT_OK(collection_db_open(dir, NULL, &db));
    ASSERT_OK(build(db));
    ASSERT_OK(take(db, "f", &before));
    collection_db_close(db);
    size_t records = 0;
    ASSERT_OK(downgrade(dir, &records));

    /* Chunks of 64 vectors: 800 image vectors take 13 transactions, then
     * the tag vectors. Stop after 1, then 5 more, then inside the second
     * vector: each time the open fails (never half-opens) and leaves a
     * directory of format 1 with both layouts holding a part. */
    const size_t stops[] = { 1, 6, 14 };
    for (size_t i = 0; i < sizeof stops / sizeof *stops; i++) {
        DbOptions o = { .migrate_chunk = 64, .migrate_stop_after = stops[i] };
        log_set_level(LOG_ERROR + 1); /* the stop is logged as a failure */
        ASSERT_EQ_INT(collection_db_open(dir, &o, &db), ERR_BUSY);
        log_set_level(LOG_WARN);
        uint32_t format;
        uint64_t per_node, blocks;
        ASSERT_OK(layout(dir, &format, &per_node, &blocks));
        ASSERT_EQ_INT((int)format, 1);
        ASSERT_TRUE(per_node > 0 && per_node < records);
        ASSERT_TRUE(blocks > 0);
    }
    DbOptions o = { .migrate_chunk = 64 };
    ASSERT_OK(collection_db_open(dir, &o, &db));
    ASSERT_OK(take(db, "f", &after));
    ASSERT_TRUE(!memcmp(&before, &after, sizeof before));
    ASSERT_EQ_INT(check_vectors(db, "f", DEL_FROM, DEL_TO), 0);
    collection_db_close(db);
    uint32_t format;
    uint64_t per_node, blocks;
    ASSERT_OK(layout(dir, &format, &per_node, &blocks));
    ASSERT_EQ_INT((int)format, 2);
    ASSERT_EQ_INT((int)per_node, 0);
    rm_rf(dir);
}

/* A graph large enough to load on several threads (from 8192 nodes):
 * every node comes back exactly, after batches inserted in parallel and
 * deletes (the saved graph equals the live one node for node). */
TEST(test_parallel_load)
{
    enum { N = 9000, D = 8 };
    char dir[256];
    make_tmpdir(dir, sizeof dir, "fmtp");
    Db *db;
    ASSERT_OK(collection_db_open(dir, NULL, &db));
    CollectionConfig cfg = { .n_vectors = 1, .unnamed = 1, .m = 8, .ef_construct = 16 };
    cfg.vectors[0].size = D;
    cfg.vectors[0].distance = COLLECTION_EUCLID;
    char err[256];
    ASSERT_OK(collection_create(db, "p", &cfg, err, sizeof err));
    static float vec[N][D];
    for (int i = 0; i < N; i++)
        for (int d = 0; d < D; d++) vec[i][d] = rng_sym();
    for (int s = 0; s < N; s += 3000) { /* 3 batches */
        static CollectionPointIn p[3000];
        static CollectionVectorIn v[3000];
        for (int i = 0; i < 3000; i++) {
            v[i] = (CollectionVectorIn){ NULL, vec[s + i], D, NULL, NULL };
            p[i] = (CollectionPointIn){ point_id_num((uint64_t)(s + i)), NULL, &v[i], 1 };
        }
        ASSERT_OK(collection_upsert(db, "p", p, 3000, err, sizeof err));
    }
    PointId del[500];
    for (int i = 0; i < 500; i++) del[i] = point_id_num((uint64_t)(i * 17));
    ASSERT_OK(collection_delete_points(db, "p", del, 500, NULL));
    uint64_t before, after;
    ASSERT_OK(collection_graph_digest(db, "p", NULL, &before));
    collection_db_close(db);
    ASSERT_OK(collection_db_open(dir, NULL, &db));
    ASSERT_OK(collection_graph_digest(db, "p", NULL, &after));
    ASSERT_EQ_U64(before, after);
    CollectionInfo info;
    ASSERT_OK(collection_info(db, "p", &info));
    ASSERT_EQ_U64(info.points_count, N - 500);
    collection_db_close(db);
    rm_rf(dir);
}

static int format_fn(StoreTxn *txn, void *ctx)
{
    return store_format_put(txn, *(uint32_t *)ctx);
}

TEST(test_other_formats_refused)
{
    char dir[256];
    make_tmpdir(dir, sizeof dir, "fmtr");
    Db *db;
    ASSERT_OK(collection_db_open(dir, NULL, &db));
    ASSERT_OK(create(db, "f"));
    collection_db_close(db);
    const uint32_t bad[] = { 0, STORE_FORMAT_VERSION + 1, 1000 };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        Store *s;
        uint32_t prev = 0;
        ASSERT_OK(store_open(dir, NULL, &s));
        StoreTxn *txn;
        ASSERT_OK(store_read_begin(s, &txn));
        ASSERT_OK(store_format_get(txn, &prev));
        store_read_end(txn);
        ASSERT_OK(store_write(s, format_fn, (void *)&bad[i]));
        store_close(s);
        log_set_level(LOG_ERROR + 1);
        ASSERT_EQ_INT(collection_db_open(dir, NULL, &db), ERR_FORMAT);
        ASSERT_EQ_INT(store_open(dir, NULL, &s), ERR_FORMAT);
        log_set_level(LOG_WARN);
        /* Put it back (through a raw LMDB open would be the same). */
        if (i + 1 < sizeof bad / sizeof *bad) {
            rm_rf(dir);
            make_tmpdir(dir, sizeof dir, "fmtr");
            ASSERT_OK(collection_db_open(dir, NULL, &db));
            ASSERT_OK(create(db, "f"));
            collection_db_close(db);
        }
        (void)prev;
    }
    rm_rf(dir);
}

int main(void)
{
    log_set_level(LOG_WARN);
    make_data();
#if !defined(__SANITIZE_THREAD__)
    /* Under TSan (test-threads) only the test whose threads it is there
     * for: the others run the writer alone, and their 512-d builds take
     * a minute there; the plain and ASan runs cover them. */
    RUN(test_blocks_size_and_read_back);
    RUN(test_migrate_format1);
    RUN(test_migration_interrupted);
    RUN(test_other_formats_refused);
#else
    (void)test_blocks_size_and_read_back; /* unused there: -Werror */
    (void)test_migrate_format1;
    (void)test_migration_interrupted;
    (void)test_other_formats_refused;
#endif
    RUN(test_parallel_load);
    return harness_report(__FILE__);
}
