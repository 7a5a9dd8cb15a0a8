/*
 * test_store_reopen.c - what is written comes back after a reopen.
 *
 *   - search results (ids, bit-identical scores, order) and the graphs
 *     themselves (a digest of every node's links and vector) are the same
 *     after close + open, also after deletes and updates;
 *   - a map that starts tiny grows (MDB_MAP_FULL is handled) and keeps
 *     everything;
 *   - an unknown format version or magic is refused with ERR_FORMAT;
 *   - lost or damaged graph records are rebuilt from the stored vectors
 *     on open, so searches still find every point;
 *   - a config record in the first (JSON) encoding, as directories written
 *     before the engine's own record hold it, opens unchanged; the engine
 *     record's bytes are the ones docs/storage.md describes;
 *   - collection_update persists options, and a new m / ef_construct
 *     rebuilds the graphs exactly as a collection created with them;
 *   - a vector's exact_only flag is persisted in its own record layout
 *     (tag 0x06, docs/storage.md), only while some vector has it; older
 *     layouts read as flag 0 and a mismatched tag is refused;
 *   - one process at a time opens a directory (vitrine.lock's flock).
 */
#include <ftw.h>
#include <signal.h>
#include <sys/wait.h>
#include <stdlib.h>
#include <unistd.h>

#include "store/collection.h"
#include "base/err.h"
#include "harness.h"
#include "base/log.h"
#include "store/store.h"

#define N_POINTS 2000
#define DIM 32
#define N_QUERIES 30

static float g_vec[N_POINTS][DIM];
static float g_text[N_POINTS][8];

static uint64_t rng_state = 0x2545F4914F6CDD1DULL;
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

static JsonValue *parse(Arena *a, const char *text)
{
    JsonValue *v = NULL;
    if (json_parse(a, text, strlen(text), &v, NULL, 0) != 0) abort();
    return v;
}

static void make_data(void)
{
    float centers[6][DIM];
    for (int c = 0; c < 6; c++)
        for (int d = 0; d < DIM; d++) centers[c][d] = 2 * rng_sym();
    for (int i = 0; i < N_POINTS; i++) {
        int c = (int)(rng_next() % 6);
        for (int d = 0; d < DIM; d++) g_vec[i][d] = centers[c][d] + rng_sym();
        for (int d = 0; d < 8; d++) g_text[i][d] = rng_sym();
    }
}

static int create_named_with(Db *db, const char *name, int m, int ef)
{
    CollectionConfig cfg = { .n_vectors = 2, .m = m, .ef_construct = ef };
    snprintf(cfg.vectors[0].name, sizeof cfg.vectors[0].name, "image");
    cfg.vectors[0].size = DIM;
    cfg.vectors[0].distance = COLLECTION_COSINE;
    snprintf(cfg.vectors[1].name, sizeof cfg.vectors[1].name, "text");
    cfg.vectors[1].size = 8;
    cfg.vectors[1].distance = COLLECTION_EUCLID;
    char err[256];
    return collection_create(db, name, &cfg, err, sizeof err);
}

static int create_named(Db *db, const char *name) { return create_named_with(db, name, 8, 64); }

/* upsert points [from, to); every third point lacks a text vector. gen
 * shifts the vectors so an update really moves the point. */
static int upsert_range(Db *db, const char *name, int from, int to, float gen)
{
    char err[256];
    for (int s = from; s < to; s += 50) {
        int e = MIN(s + 50, to);
        Arena a;
        arena_init(&a, 0);
        CollectionPointIn p[50];
        CollectionVectorIn v[50][2];
        float img[50][DIM];
        for (int i = s; i < e; i++) {
            char text[96];
            snprintf(text, sizeof text, "{\"i\":%d,\"even\":%s}", i, i % 2 ? "false" : "true");
            for (int d = 0; d < DIM; d++) img[i - s][d] = g_vec[i][d] + gen * (float)((d * 7 + i) % 5);
            v[i - s][0] = (CollectionVectorIn){ "image", img[i - s], DIM, NULL, NULL };
            v[i - s][1] = (CollectionVectorIn){ "text", g_text[i], 8, NULL, NULL };
            p[i - s] = (CollectionPointIn){ point_id_num((uint64_t)i), parse(&a, text), v[i - s],
                                            i % 3 ? 2 : 1 };
        }
        int r = collection_upsert(db, name, p, (size_t)(e - s), err, sizeof err);
        arena_free(&a);
        if (r) {
            printf("  upsert: %s\n", err);
            return r;
        }
    }
    return 0;
}

/* A fingerprint of many searches: ids and exact score bits, in order. */
typedef struct {
    uint64_t ids[N_QUERIES * 3][10];
    uint32_t bits[N_QUERIES * 3][10];
    size_t n[N_QUERIES * 3];
    uint64_t digest_image, digest_text;
} Snapshot;

static int take(Db *db, const char *name, Snapshot *s)
{
    uint64_t st = 777;
    Arena a;
    arena_init(&a, 0);
    const JsonValue *even = parse(&a, "{\"must\":[{\"key\":\"even\",\"match\":{\"value\":true}}]}");
    int err = 0;
    for (int q = 0; q < N_QUERIES * 3 && !err; q++) {
        float vec[DIM];
        for (int d = 0; d < DIM; d++) {
            st = st * 6364136223846793005ULL + 1442695040888963407ULL;
            vec[d] = (float)((st >> 33) % 2001) / 1000.0f - 1.0f;
        }
        CollectionSearch r = { 0 };
        int kind = q % 3;
        r.using = kind == 2 ? "text" : "image";
        r.vector = vec;
        r.dim = kind == 2 ? 8 : DIM;
        r.limit = 10;
        r.ef = kind == 0 ? 16 : 64;
        r.filter = kind == 1 ? even : NULL;
        CollectionResult res;
        char msg[256];
        err = collection_search(db, name, &r, &a, &res, msg, sizeof msg);
        if (err) break;
        s->n[q] = res.n;
        for (size_t i = 0; i < res.n; i++) {
            s->ids[q][i] = res.points[i].id.num;
            memcpy(&s->bits[q][i], &res.points[i].score, 4);
        }
    }
    arena_free(&a);
    if (!err) err = collection_graph_digest(db, name, "image", &s->digest_image);
    if (!err) err = collection_graph_digest(db, name, "text", &s->digest_text);
    return err;
}

static int same(const Snapshot *a, const Snapshot *b)
{
    if (a->digest_image != b->digest_image || a->digest_text != b->digest_text) {
        printf("  graph digests differ\n");
        return 0;
    }
    for (int q = 0; q < N_QUERIES * 3; q++) {
        if (a->n[q] != b->n[q]) return 0;
        for (size_t i = 0; i < a->n[q]; i++)
            if (a->ids[q][i] != b->ids[q][i] || a->bits[q][i] != b->bits[q][i]) {
                printf("  query %d rank %zu: %llu/%08x vs %llu/%08x\n", q, i,
                       (unsigned long long)a->ids[q][i], a->bits[q][i],
                       (unsigned long long)b->ids[q][i], b->bits[q][i]);
                return 0;
            }
    }
    return 1;
}

static Snapshot s1, s2;

TEST(test_reopen_identical)
{
    char dir[256];
    make_tmpdir(dir, sizeof dir, "reopen");
    Db *db;
    ASSERT_OK(collection_db_open(dir, NULL, &db));
    ASSERT_OK(create_named(db, "c"));
    ASSERT_OK(upsert_range(db, "c", 0, N_POINTS, 0));
    ASSERT_OK(take(db, "c", &s1));
    collection_db_close(db);
    ASSERT_OK(collection_db_open(dir, NULL, &db));
    ASSERT_OK(take(db, "c", &s2));
    ASSERT_TRUE(same(&s1, &s2));

    /* Deletes (graph repair) and updates (re-linking), then again. */
    PointId del[300];
    for (int i = 0; i < 300; i++) del[i] = point_id_num((uint64_t)(i * 5));
    size_t nd;
    ASSERT_OK(collection_delete_points(db, "c", del, 300, &nd));
    ASSERT_EQ_INT(nd, 300);
    ASSERT_OK(upsert_range(db, "c", 1000, 1400, 0.5f));
    ASSERT_OK(upsert_range(db, "c", 0, 100, 0)); /* revive deleted slots */
    ASSERT_OK(take(db, "c", &s1));
    CollectionInfo info;
    ASSERT_OK(collection_info(db, "c", &info));
    collection_db_close(db);
    ASSERT_OK(collection_db_open(dir, NULL, &db));
    ASSERT_OK(take(db, "c", &s2));
    ASSERT_TRUE(same(&s1, &s2));
    CollectionInfo info2;
    ASSERT_OK(collection_info(db, "c", &info2));
    ASSERT_EQ_U64(info2.points_count, info.points_count);
    ASSERT_EQ_U64(info2.vectors_count, info.vectors_count);
    ASSERT_EQ_U64(info2.points_count, N_POINTS - 300 + 20 + 80); /* 0..95 and 1000..1395 revived */
    ASSERT_EQ_INT(info2.created_at, info.created_at);
    collection_db_close(db);
    rm_rf(dir);
}

TEST(test_map_grows)
{
    char dir[256];
    make_tmpdir(dir, sizeof dir, "grow");
    Db *db;
    DbOptions o = { .map_size = STORE_MIN_MAP_SIZE };
    ASSERT_OK(collection_db_open(dir, &o, &db));
    ASSERT_OK(create_named(db, "g"));
    ASSERT_OK(upsert_range(db, "g", 0, 1000, 0));
    unsigned grows = collection_db_map_grows(db);
    printf("  map grew %u times from %zu bytes\n", grows, (size_t)STORE_MIN_MAP_SIZE);
    ASSERT_TRUE(grows >= 3);
    uint64_t n;
    char err[128];
    ASSERT_OK(collection_count(db, "g", NULL, &n, err, sizeof err));
    ASSERT_EQ_U64(n, 1000);
    ASSERT_OK(take(db, "g", &s1));
    collection_db_close(db);
    /* Reopen with the tiny size again: LMDB keeps the grown size. */
    ASSERT_OK(collection_db_open(dir, &o, &db));
    ASSERT_OK(collection_count(db, "g", NULL, &n, err, sizeof err));
    ASSERT_EQ_U64(n, 1000);
    ASSERT_OK(take(db, "g", &s2));
    ASSERT_TRUE(same(&s1, &s2));
    ASSERT_OK(upsert_range(db, "g", 1000, 1200, 0));
    collection_db_close(db);
    rm_rf(dir);
}

/* put_meta overwrites the format record through the store API. */
typedef struct {
    const char *magic;
    uint32_t version;
} MetaCtx;

static int put_meta_fn(StoreTxn *txn, void *vctx)
{
    MetaCtx *m = vctx;
    uint8_t rec[12];
    memcpy(rec, m->magic, 8);
    store_put_le32(rec + 8, m->version);
    return store_put(txn, STORE_DB_META, "format", 6, rec, sizeof rec);
}

TEST(test_meta_record_refuses_unknown)
{
    char dir[256];
    make_tmpdir(dir, sizeof dir, "meta");
    Db *db;
    ASSERT_OK(collection_db_open(dir, NULL, &db));
    ASSERT_OK(create_named(db, "m"));
    collection_db_close(db);
    Store *s;
    ASSERT_OK(store_open(dir, NULL, &s));
    MetaCtx m = { STORE_MAGIC, STORE_FORMAT_VERSION + 1 };
    ASSERT_OK(store_write(s, put_meta_fn, &m));
    store_close(s);
    log_set_level(LOG_ERROR + 1); /* the refusal is logged; keep the output clean */
    ASSERT_EQ_INT(collection_db_open(dir, NULL, &db), ERR_FORMAT);
    ASSERT_EQ_INT(store_open(dir, NULL, &s), ERR_FORMAT);
    log_set_level(LOG_WARN);
    rm_rf(dir);

    /* A wrong magic, in a fresh directory. */
    make_tmpdir(dir, sizeof dir, "meta2");
    ASSERT_OK(store_open(dir, NULL, &s));
    MetaCtx bad = { "NOTOURS\0", STORE_FORMAT_VERSION };
    ASSERT_OK(store_write(s, put_meta_fn, &bad));
    store_close(s);
    log_set_level(LOG_ERROR + 1);
    ASSERT_EQ_INT(collection_db_open(dir, NULL, &db), ERR_FORMAT);
    log_set_level(LOG_WARN);
    rm_rf(dir);

    /* Not an LMDB file at all. */
    make_tmpdir(dir, sizeof dir, "meta3");
    char path[300];
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    FILE *f = fopen(path, "w");
    ASSERT_TRUE(f != NULL);
    for (int i = 0; i < 5000; i++) fputs("garbage!", f);
    fclose(f);
    log_set_level(LOG_ERROR + 1);
    ASSERT_EQ_INT(collection_db_open(dir, NULL, &db), ERR_FORMAT);
    log_set_level(LOG_WARN);
    rm_rf(dir);
}

/* drop_graph deletes the saved graph records of collection cid. */
typedef struct {
    uint32_t cid;
    int only_some;
} DropCtx;

static int drop_graph_fn(StoreTxn *txn, void *vctx)
{
    DropCtx *d = vctx;
    uint8_t key[STORE_KEY_MAX];
    if (!d->only_some) {
        size_t kl = store_key_cid(key, d->cid);
        return store_del_prefix(txn, STORE_DB_GRAPH, key, kl, NULL);
    }
    /* Delete a few node records of graph 0: the survivors link to them. */
    for (uint32_t node = 10; node < 20; node++) {
        size_t kl = store_key_node(key, d->cid, 0, node);
        int e = store_del(txn, STORE_DB_GRAPH, key, kl);
        if (e) return e;
    }
    return 0;
}

static int self_found(Db *db, const char *name, int from, int to)
{
    int found = 0;
    Arena a;
    arena_init(&a, 0);
    for (int i = from; i < to; i++) {
        CollectionSearch r = { 0 };
        r.using = "image";
        r.vector = g_vec[i];
        r.dim = DIM;
        r.limit = 3;
        r.ef = 64;
        CollectionResult res;
        char msg[128];
        if (collection_search(db, name, &r, &a, &res, msg, sizeof msg)) break;
        for (size_t j = 0; j < res.n; j++) found += res.points[j].id.num == (uint64_t)i;
    }
    arena_free(&a);
    return found;
}

TEST(test_lost_graph_is_rebuilt)
{
    for (int mode = 0; mode < 2; mode++) {
        char dir[256];
        make_tmpdir(dir, sizeof dir, "rebuild");
        Db *db;
        ASSERT_OK(collection_db_open(dir, NULL, &db));
        ASSERT_OK(create_named(db, "r"));
        ASSERT_OK(upsert_range(db, "r", 0, 600, 0));
        collection_db_close(db);
        Store *s;
        ASSERT_OK(store_open(dir, NULL, &s));
        DropCtx d = { 1, mode }; /* the first collection gets id 1 */
        ASSERT_OK(store_write(s, drop_graph_fn, &d));
        store_close(s);
        log_set_level(LOG_ERROR + 1); /* the damage is logged; expected here */
        ASSERT_OK(collection_db_open(dir, NULL, &db));
        log_set_level(LOG_WARN);
        int found = self_found(db, "r", 0, 600);
        printf("  mode %d: %d of 600 points find themselves\n", mode, found);
        ASSERT_GE(found, 594);
        /* The repaired graph was saved: the next open loads it as is. */
        ASSERT_OK(take(db, "r", &s1));
        collection_db_close(db);
        ASSERT_OK(collection_db_open(dir, NULL, &db));
        ASSERT_OK(take(db, "r", &s2));
        ASSERT_TRUE(same(&s1, &s2));
        collection_db_close(db);
        rm_rf(dir);
    }
}

/* A config record put back by hand through the store API. */
typedef struct {
    const char *name;
    uint32_t cid;
    const char *body; /* the record after the cid */
    size_t len;
} RecCtx;

static int put_rec_fn(StoreTxn *txn, void *vctx)
{
    RecCtx *r = vctx;
    uint8_t head[4];
    store_put_le32(head, r->cid);
    return store_put2(txn, STORE_DB_COLLECTIONS, r->name, strlen(r->name), head, 4, r->body,
                      r->len);
}

static int get_rec(const char *dir, const char *name, uint8_t *out, size_t cap, size_t *len)
{
    Store *s;
    StoreTxn *txn;
    Slice v;
    int err = store_open(dir, NULL, &s);
    if (err) return err;
    if (!(err = store_read_begin(s, &txn))) {
        err = store_get(txn, STORE_DB_COLLECTIONS, name, strlen(name), &v);
        if (!err && v.len > cap) err = ERR_TOOLARGE;
        if (!err) memcpy(out, v.ptr, v.len);
        if (!err) *len = v.len;
        store_read_end(txn);
    }
    store_close(s);
    return err;
}

TEST(test_legacy_json_config_record)
{
    char dir[256];
    make_tmpdir(dir, sizeof dir, "legacy");
    Db *db;
    ASSERT_OK(collection_db_open(dir, NULL, &db));
    ASSERT_OK(create_named(db, "L")); /* cid 1 */
    char err[256];
    CollectionConfig u = { .n_vectors = 1, .unnamed = 1, .m = 16, .ef_construct = 100 };
    u.vectors[0].size = DIM;
    u.vectors[0].distance = COLLECTION_DOT;
    ASSERT_OK(collection_create(db, "U", &u, err, sizeof err)); /* cid 2 */
    ASSERT_OK(upsert_range(db, "L", 0, 300, 0));
    ASSERT_OK(take(db, "L", &s1));
    collection_db_close(db);

    /* The records exactly as the JSON-era writer produced them. */
    static const char named[] =
        "{\"vectors\":{\"image\":{\"size\":32,\"distance\":\"Cosine\"},"
        "\"text\":{\"size\":8,\"distance\":\"Euclid\"}},"
        "\"hnsw_config\":{\"m\":8,\"ef_construct\":64},\"created_at\":1732300000}";
    static const char unnamed[] = "{\"vectors\":{\"size\":32,\"distance\":\"Dot\"},"
                                  "\"hnsw_config\":{\"m\":16,\"ef_construct\":100},"
                                  "\"created_at\":5}";
    Store *s;
    ASSERT_OK(store_open(dir, NULL, &s));
    RecCtx r1 = { "L", 1, named, sizeof named - 1 }, r2 = { "U", 2, unnamed, sizeof unnamed - 1 };
    ASSERT_OK(store_write(s, put_rec_fn, &r1));
    ASSERT_OK(store_write(s, put_rec_fn, &r2));
    store_close(s);

    ASSERT_OK(collection_db_open(dir, NULL, &db));
    CollectionInfo info;
    ASSERT_OK(collection_info(db, "L", &info));
    ASSERT_EQ_INT(info.config.n_vectors, 2);
    ASSERT_EQ_INT(info.config.unnamed, 0);
    ASSERT_STR_EQ(info.config.vectors[0].name, "image");
    ASSERT_EQ_INT(info.config.vectors[0].size, 32);
    ASSERT_EQ_INT(info.config.vectors[0].distance, COLLECTION_COSINE);
    ASSERT_STR_EQ(info.config.vectors[1].name, "text");
    ASSERT_EQ_INT(info.config.vectors[1].size, 8);
    ASSERT_EQ_INT(info.config.vectors[1].distance, COLLECTION_EUCLID);
    ASSERT_EQ_INT(info.config.m, 8);
    ASSERT_EQ_INT(info.config.ef_construct, 64);
    ASSERT_STR_EQ(info.config.options, "");
    ASSERT_EQ_INT(info.created_at, 1732300000);
    ASSERT_EQ_U64(info.points_count, 300);
    ASSERT_OK(take(db, "L", &s2));
    ASSERT_TRUE(same(&s1, &s2));
    ASSERT_OK(collection_info(db, "U", &info));
    ASSERT_EQ_INT(info.config.unnamed, 1);
    ASSERT_EQ_INT(info.config.vectors[0].size, 32);
    ASSERT_EQ_INT(info.config.vectors[0].distance, COLLECTION_DOT);
    ASSERT_EQ_INT(info.config.m, 16);
    ASSERT_EQ_INT(info.config.ef_construct, 100);
    ASSERT_EQ_INT(info.created_at, 5);

    /* An update rewrites the record in the engine's encoding; its bytes
     * are docs/storage.md's layout, field by field. */
    CollectionUpdate up = { .options = "{\"wal\":1}" };
    ASSERT_OK(collection_update(db, "U", &up, err, sizeof err));
    collection_db_close(db);
    uint8_t rec[512];
    size_t len = 0;
    ASSERT_OK(get_rec(dir, "U", rec, sizeof rec, &len));
    static const uint8_t want[] = {
        2, 0, 0, 0,                   /* cid */
        1,                            /* engine record, layout 1 */
        5, 0, 0, 0, 0, 0, 0, 0,       /* created_at */
        16, 0, 0, 0, 100, 0, 0, 0,    /* m, ef_construct */
        1, 1,                         /* unnamed, n_vectors */
        32, 0, 0, 0, COLLECTION_DOT, 0, /* size, distance, name length */
        9, 0, 0, 0,                   /* options length, then the text */
        '{', '"', 'w', 'a', 'l', '"', ':', '1', '}',
    };
    ASSERT_EQ_INT(len, sizeof want);
    ASSERT_TRUE(memcmp(rec, want, sizeof want) == 0);
    ASSERT_OK(collection_db_open(dir, NULL, &db));
    ASSERT_OK(collection_info(db, "U", &info));
    ASSERT_STR_EQ(info.config.options, "{\"wal\":1}");
    ASSERT_EQ_INT(info.created_at, 5);
    ASSERT_EQ_INT(info.config.m, 16);
    collection_db_close(db);
    rm_rf(dir);
}

TEST(test_update_options_and_hnsw)
{
    char dir[256];
    make_tmpdir(dir, sizeof dir, "update");
    Db *db;
    char err[256];
    ASSERT_OK(collection_db_open(dir, NULL, &db));
    ASSERT_OK(create_named(db, "p"));
    ASSERT_OK(upsert_range(db, "p", 0, 600, 0));
    /* The reference: the same points in a collection created with m 12
     * and ef_construct 40 (same node order, same level draws). */
    ASSERT_OK(create_named_with(db, "ref", 12, 40));
    ASSERT_OK(upsert_range(db, "ref", 0, 600, 0));
    uint64_t d_before, d_after, d_ref, t_after, t_ref;
    ASSERT_OK(collection_graph_digest(db, "p", "image", &d_before));
    ASSERT_OK(collection_graph_digest(db, "ref", "image", &d_ref));
    ASSERT_OK(collection_graph_digest(db, "ref", "text", &t_ref));
    ASSERT_TRUE(d_before != d_ref);

    /* Options alone: persisted, the graphs untouched. */
    const char *opts = "{\"optimizers_config\":{\"indexing_threshold\":0},\"on_disk_payload\":true}";
    CollectionUpdate up = { .options = opts };
    ASSERT_OK(collection_update(db, "p", &up, err, sizeof err));
    CollectionInfo info;
    ASSERT_OK(collection_info(db, "p", &info));
    ASSERT_STR_EQ(info.config.options, opts);
    ASSERT_EQ_INT(info.config.m, 8);
    ASSERT_OK(collection_graph_digest(db, "p", "image", &d_after));
    ASSERT_EQ_U64(d_after, d_before);

    /* Bad updates change nothing. */
    CollectionUpdate bad = { .m = 1 };
    ASSERT_EQ_INT(collection_update(db, "p", &bad, err, sizeof err), ERR_INVAL);
    bad = (CollectionUpdate){ .ef_construct = COLLECTION_MAX_EF_CONSTRUCT + 1 };
    ASSERT_EQ_INT(collection_update(db, "p", &bad, err, sizeof err), ERR_INVAL);
    static char big[COLLECTION_MAX_OPTIONS + 1];
    memset(big, 'x', COLLECTION_MAX_OPTIONS);
    bad = (CollectionUpdate){ .options = big };
    ASSERT_EQ_INT(collection_update(db, "p", &bad, err, sizeof err), ERR_INVAL);
    ASSERT_EQ_INT(collection_update(db, "nosuch", &up, err, sizeof err), ERR_NOTFOUND);
    ASSERT_OK(collection_info(db, "p", &info));
    ASSERT_STR_EQ(info.config.options, opts);
    ASSERT_EQ_INT(info.config.m, 8);
    ASSERT_EQ_INT(info.config.ef_construct, 64);

    /* New HNSW parameters: the graphs are rebuilt as if created so. */
    up = (CollectionUpdate){ .m = 12, .ef_construct = 40 };
    ASSERT_OK(collection_update(db, "p", &up, err, sizeof err));
    ASSERT_OK(collection_info(db, "p", &info));
    ASSERT_EQ_INT(info.config.m, 12);
    ASSERT_EQ_INT(info.config.ef_construct, 40);
    ASSERT_STR_EQ(info.config.options, opts); /* kept */
    ASSERT_OK(collection_graph_digest(db, "p", "image", &d_after));
    ASSERT_OK(collection_graph_digest(db, "p", "text", &t_after));
    ASSERT_EQ_U64(d_after, d_ref);
    ASSERT_EQ_U64(t_after, t_ref);
    ASSERT_GE(self_found(db, "p", 0, 600), 594);
    /* Later inserts use them too, and everything survives a reopen. */
    ASSERT_OK(upsert_range(db, "p", 600, 700, 0));
    ASSERT_OK(upsert_range(db, "ref", 600, 700, 0));
    ASSERT_OK(take(db, "p", &s1));
    ASSERT_OK(take(db, "ref", &s2));
    ASSERT_TRUE(same(&s1, &s2));
    collection_db_close(db);
    ASSERT_OK(collection_db_open(dir, NULL, &db));
    ASSERT_OK(take(db, "p", &s2));
    ASSERT_TRUE(same(&s1, &s2));
    ASSERT_OK(collection_info(db, "p", &info));
    ASSERT_EQ_INT(info.config.m, 12);
    ASSERT_STR_EQ(info.config.options, opts);
    collection_db_close(db);
    rm_rf(dir);
}

/* The exact_only flag of a vector (Qdrant's hnsw m = 0) in the config
 * record: layout 5 (tag 0x06) exactly as docs/storage.md has it, written
 * only while some vector has the flag, so every other collection keeps
 * its bytes; a layout 4 record (tag 0x05) reads as flag 0; a record under
 * a tag that does not match its layout, or a flag other than 0 or 1, is
 * refused, never misread. */
TEST(test_exact_only_record)
{
    char dir[256];
    make_tmpdir(dir, sizeof dir, "exactonly");
    Db *db;
    char err[256];
    ASSERT_OK(collection_db_open(dir, NULL, &db));
    CollectionConfig e = { .n_vectors = 1, .unnamed = 1, .m = 16, .ef_construct = 100 };
    e.vectors[0].size = 4;
    e.vectors[0].distance = COLLECTION_DOT;
    CollectionConfig p = e;
    e.vectors[0].exact_only = 1;
    ASSERT_OK(collection_create(db, "E", &e, err, sizeof err)); /* cid 1 */
    ASSERT_OK(collection_create(db, "P", &p, err, sizeof err)); /* cid 2 */
    CollectionConfig q = p;
    q.vectors[0].quant = (CollectionQuantization){ .type = COLLECTION_QUANT_INT8, .quantile = 0.99f };
    ASSERT_OK(collection_create(db, "Q", &q, err, sizeof err)); /* cid 3 */
    CollectionConfig bad = e;
    bad.vectors[0].exact_only = 2;
    ASSERT_EQ_INT(collection_create(db, "B", &bad, err, sizeof err), ERR_INVAL);
    CollectionInfo info;
    ASSERT_OK(collection_info(db, "E", &info));
    int64_t created = info.created_at;
    ASSERT_EQ_INT(info.config.vectors[0].exact_only, 1);
    collection_db_close(db);

    uint8_t rec[512], plain[512], quant[512];
    size_t len = 0, plain_len = 0, quant_len = 0;
    ASSERT_OK(get_rec(dir, "E", rec, sizeof rec, &len));
    uint8_t c8[8];
    store_put_le64(c8, (uint64_t)created);
    uint8_t want[] = {
        1, 0, 0, 0,                     /* cid */
        6,                              /* engine record, layout 5 */
        0, 0, 0, 0, 0, 0, 0, 0,         /* created_at (below) */
        16, 0, 0, 0, 100, 0, 0, 0,      /* m, ef_construct */
        1, 1,                           /* unnamed, n_vectors */
        4, 0, 0, 0, COLLECTION_DOT, 0,  /* size, distance, name length */
        0,                              /* n_sparse */
        0, 0,                           /* multivector, datatype */
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* quantization: none */
        1,                              /* exact_only */
        0, 0, 0, 0,                     /* options length */
    };
    memcpy(want + 5, c8, 8);
    ASSERT_EQ_INT(len, sizeof want);
    ASSERT_TRUE(memcmp(rec, want, sizeof want) == 0);
    /* Without the flag: layout 1, as before. */
    ASSERT_OK(get_rec(dir, "P", plain, sizeof plain, &plain_len));
    ASSERT_EQ_INT(plain_len, 33);
    ASSERT_EQ_INT(plain[4], 1);
    ASSERT_OK(get_rec(dir, "Q", quant, sizeof quant, &quant_len));
    ASSERT_EQ_INT(quant[4], 5);

    /* The flag survives the reopen; a layout 4 record reads as 0. */
    ASSERT_OK(collection_db_open(dir, NULL, &db));
    ASSERT_OK(collection_info(db, "E", &info));
    ASSERT_EQ_INT(info.config.vectors[0].exact_only, 1);
    ASSERT_OK(collection_info(db, "Q", &info));
    ASSERT_EQ_INT(info.config.vectors[0].exact_only, 0);
    ASSERT_EQ_INT(info.config.vectors[0].quant.type, COLLECTION_QUANT_INT8);
    ASSERT_TRUE(info.config.vectors[0].quant.quantile == 0.99f);
    /* Turning it off writes layout 1 again, byte for byte P's but for the
     * cid and the creation time. */
    CollectionUpdate up = { .set_exact_only = 1 };
    up.exact_only[0] = 2;
    ASSERT_EQ_INT(collection_update(db, "E", &up, err, sizeof err), ERR_INVAL);
    up.exact_only[0] = 0;
    ASSERT_OK(collection_update(db, "E", &up, err, sizeof err));
    collection_db_close(db);
    uint8_t off[512];
    size_t off_len = 0;
    ASSERT_OK(get_rec(dir, "E", off, sizeof off, &off_len));
    ASSERT_EQ_INT(off_len, plain_len);
    ASSERT_TRUE(memcmp(off + 13, plain + 13, plain_len - 13) == 0);
    ASSERT_EQ_INT(off[4], 1);

    /* Records whose tag does not match their layout, or with a flag
     * other than 0 or 1, are refused: the layout 5 record under tag 0x05,
     * the layout 4 record under tag 0x06, a flag of 2. */
    Store *st;
    uint8_t body[512];
    log_set_level(LOG_ERROR + 1);
    for (int k = 0; k < 3; k++) {
        const uint8_t *src = k == 1 ? quant : want;
        size_t n = k == 1 ? quant_len : sizeof want;
        memcpy(body, src, n);
        body[4] = k == 0 ? 5 : 6;
        if (k == 2) body[n - 5] = 2;
        ASSERT_OK(store_open(dir, NULL, &st));
        RecCtx r = { k == 1 ? "Q" : "E", k == 1 ? 3 : 1, (const char *)body + 4, n - 4 };
        ASSERT_OK(store_write(st, put_rec_fn, &r));
        store_close(st);
        ASSERT_EQ_INT(collection_db_open(dir, NULL, &db), ERR_FORMAT);
        /* Put the good record back. */
        ASSERT_OK(store_open(dir, NULL, &st));
        RecCtx good = { r.name, r.cid, (const char *)src + 4, n - 4 };
        ASSERT_OK(store_write(st, put_rec_fn, &good));
        store_close(st);
    }
    log_set_level(LOG_WARN);
    ASSERT_OK(collection_db_open(dir, NULL, &db));
    ASSERT_OK(collection_info(db, "E", &info));
    ASSERT_EQ_INT(info.config.vectors[0].exact_only, 1);
    ASSERT_OK(collection_info(db, "Q", &info));
    ASSERT_EQ_INT(info.config.vectors[0].quant.type, COLLECTION_QUANT_INT8);
    collection_db_close(db);
    rm_rf(dir);
}

/* child_open_status forks a child that tries store_open(dir) and exits
 * with 0 (opened), 1 (ERR_BUSY) or 2 (another error); returns that. */
static int child_open_status(const char *dir)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        log_set_level(LOG_ERROR + 1);
        Store *cs;
        int rc = store_open(dir, NULL, &cs);
        if (rc == 0) store_close(cs);
        _exit(rc == 0 ? 0 : rc == ERR_BUSY ? 1 : 2);
    }
    int st;
    if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st)) return -1;
    return WEXITSTATUS(st);
}

/* One process at a time holds a data directory: another process's open
 * (and a second open in this process) is ERR_BUSY while it is open; the
 * lock goes with store_close, and with the death of a process killed
 * while holding it. */
TEST(test_lock_one_process)
{
    char dir[256];
    make_tmpdir(dir, sizeof dir, "lock");
    Store *s, *other;
    ASSERT_OK(store_open(dir, NULL, &s));
    ASSERT_EQ_INT(child_open_status(dir), 1);
    log_set_level(LOG_ERROR + 1);
    ASSERT_EQ_INT(store_open(dir, NULL, &other), ERR_BUSY);
    log_set_level(LOG_WARN);
    /* The lock file names the holder. */
    char path[300], text[32] = "";
    snprintf(path, sizeof path, "%s/vitrine.lock", dir);
    FILE *f = fopen(path, "r");
    ASSERT_TRUE(f != NULL);
    ASSERT_TRUE(fgets(text, sizeof text, f) != NULL);
    fclose(f);
    ASSERT_EQ_INT(atol(text), (long)getpid());
    store_close(s);
    ASSERT_EQ_INT(child_open_status(dir), 0);

    /* A holder killed with SIGKILL releases it. */
    int ready[2];
    ASSERT_OK(pipe(ready));
    fflush(stdout);
    pid_t pid = fork();
    ASSERT_TRUE(pid >= 0);
    if (pid == 0) {
        Store *cs;
        if (store_open(dir, NULL, &cs)) _exit(2);
        if (write(ready[1], "x", 1) != 1) _exit(3);
        pause();
        _exit(0);
    }
    char c;
    ASSERT_EQ_INT(read(ready[0], &c, 1), 1);
    log_set_level(LOG_ERROR + 1);
    ASSERT_EQ_INT(store_open(dir, NULL, &other), ERR_BUSY);
    log_set_level(LOG_WARN);
    kill(pid, SIGKILL);
    int st;
    waitpid(pid, &st, 0);
    close(ready[0]);
    close(ready[1]);
    ASSERT_OK(store_open(dir, NULL, &s));
    store_close(s);
    rm_rf(dir);
}

int main(void)
{
    log_set_level(LOG_WARN);
    make_data();
    RUN(test_reopen_identical);
    RUN(test_map_grows);
    RUN(test_meta_record_refuses_unknown);
    RUN(test_lost_graph_is_rebuilt);
    RUN(test_legacy_json_config_record);
    RUN(test_update_options_and_hnsw);
    RUN(test_exact_only_record);
    RUN(test_lock_one_process);
    return harness_report(__FILE__);
}
