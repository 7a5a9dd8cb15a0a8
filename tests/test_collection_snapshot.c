/*
 * test_collection_snapshot.c - collection_snapshot and collection_recover.
 *
 *   - a snapshot recovered into a new name and into the same (changed)
 *     collection gives back the state of the moment it was taken: every
 *     point, payload, dense and sparse vector, the same search results bit
 *     for bit (sparse ones with IDF, so the index statistics too), and
 *     the same graph (collection_graph_digest), also after a reopen; the
 *     file's size and SHA-256 are what stat and sha256sum say;
 *   - snapshots taken while a writer thread upserts hold whole batches only
 *     (every batch one write), a prefix of what the writer did;
 *   - foreign, empty, truncated (at many points), damaged and wrong-version
 *     files and a missing file are refused with ERR_FORMAT / ERR_NOTFOUND
 *     and the collection is left as it was;
 *   - a file whose checksum is right but whose records do not load (a
 *     vector of the wrong length) fails after being staged, and still
 *     leaves the collection as it was;
 *   - a process killed at a random moment of a recover leaves, after the
 *     next open, the collection either wholly old or wholly recovered;
 *   - recover through an alias replaces the aliased collection;
 *   - after every one of these, no record of a dead or staged collection
 *     id is left in the store.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/err.h"
#include "base/log.h"
#include "base/sha256.h"
#include "base/util.h"
#include "base/vec.h"
#include "harness.h"
#include "store/collection.h"
#include "store/store.h"

/* The snapshot header's length (docs/storage.md). */
#define SNAP_HEADER 24
#define N_POINTS 1500
#define DIM_A 16
#define DIM_B 8
#define BATCH 20

static float g_a[N_POINTS * 2][DIM_A];
static float g_b[N_POINTS * 2][DIM_B];

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

static void fill_vectors(void)
{
    uint64_t x = 0x243f6a8885a308d3ULL;
    for (size_t i = 0; i < N_POINTS * 2; i++) {
        for (int d = 0; d < DIM_A; d++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            g_a[i][d] = (float)((double)(x >> 11) / (double)(1ULL << 53) - 0.5);
        }
        for (int d = 0; d < DIM_B; d++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            g_b[i][d] = (float)((double)(x >> 11) / (double)(1ULL << 53) - 0.5);
        }
    }
}

/* Two named dense vectors and a sparse one (with IDF, whose statistics
 * come from every stored sparse vector), so both graphs, the vector mask
 * and the inverted index travel. */
static int create(Db *db, const char *name)
{
    CollectionConfig cfg = { .n_vectors = 2, .n_sparse = 1, .m = 8, .ef_construct = 40 };
    snprintf(cfg.sparse[0].name, sizeof cfg.sparse[0].name, "s");
    cfg.sparse[0].modifier = COLLECTION_MODIFIER_IDF;
    snprintf(cfg.vectors[0].name, sizeof cfg.vectors[0].name, "a");
    cfg.vectors[0].size = DIM_A;
    cfg.vectors[0].distance = COLLECTION_COSINE;
    snprintf(cfg.vectors[1].name, sizeof cfg.vectors[1].name, "b");
    cfg.vectors[1].size = DIM_B;
    cfg.vectors[1].distance = COLLECTION_EUCLID;
    snprintf(cfg.options, sizeof cfg.options, "{\"opaque\":true}");
    char err[256];
    return collection_create(db, name, &cfg, err, sizeof err);
}

/* The sparse vector of point id (every other point has one). */
static uint32_t g_si[N_POINTS * 2][3];
static float g_sv[N_POINTS * 2][3];
static CollectionSparseVector g_sparse[N_POINTS * 2];

static void fill_sparse(void)
{
    for (int id = 0; id < N_POINTS * 2; id++) {
        g_si[id][0] = (uint32_t)(id % 50);
        g_si[id][1] = (uint32_t)(100 + id % 13);
        g_si[id][2] = (uint32_t)(1000 + id % 7);
        for (int k = 0; k < 3; k++) g_sv[id][k] = g_a[id][k] + 0.75f;
        g_sparse[id] = (CollectionSparseVector){ g_si[id], g_sv[id], 3 };
    }
}

/* upsert writes points [from, from + n) in one write; every third point
 * has no "b" vector, every other one a sparse "s", and each payload names
 * the batch. */
static int upsert(Db *db, const char *name, int from, int n, int batch)
{
    Arena a;
    arena_init(&a, 0);
    CollectionPointIn *p = xcalloc((size_t)n, sizeof *p);
    CollectionVectorIn *v = xcalloc((size_t)n * 3, sizeof *v);
    for (int i = 0; i < n; i++) {
        int id = from + i;
        char text[96];
        snprintf(text, sizeof text, "{\"i\":%d,\"batch\":%d,\"tag\":\"t%d\"}", id, batch, id % 7);
        JsonValue *pl;
        if (json_parse(&a, text, strlen(text), &pl, NULL, 0)) abort();
        CollectionVectorIn *pv = &v[3 * i];
        size_t k = 0;
        pv[k++] = (CollectionVectorIn){ "a", g_a[id], DIM_A, NULL, NULL };
        if (id % 3) pv[k++] = (CollectionVectorIn){ "b", g_b[id], DIM_B, NULL, NULL };
        if (id % 2 == 0) pv[k++] = (CollectionVectorIn){ "s", NULL, 0, &g_sparse[id], NULL };
        p[i] = (CollectionPointIn){ point_id_num((uint64_t)id), pl, pv, k };
    }
    char err[256];
    int e = collection_upsert(db, name, p, (size_t)n, err, sizeof err);
    if (e) printf("  upsert: %s\n", err);
    free(p);
    free(v);
    arena_free(&a);
    return e;
}

/* A collection's observable state, reduced to numbers. */
typedef struct {
    uint64_t count;
    uint64_t points;  /* FNV-1a of ids, payloads and vectors, in id order */
    uint64_t results; /* FNV-1a of ids and score bits of fixed searches */
    uint64_t digest_a, digest_b;
} State;

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    for (size_t i = 0; i < n; i++) h = (h ^ ((const uint8_t *)p)[i]) * 0x100000001b3ULL;
    return h;
}

static int state_of(Db *db, const char *name, State *s)
{
    memset(s, 0, sizeof *s);
    char err[256];
    int e = collection_count(db, name, NULL, &s->count, err, sizeof err);
    if (e) return e;
    Arena a;
    arena_init(&a, 0);
    CollectionScroll sc = { 0 };
    sc.limit = COLLECTION_MAX_LIMIT;
    sc.with_payload.mode = COLLECTION_SEL_ALL;
    sc.with_vectors.mode = COLLECTION_SEL_ALL;
    CollectionResult r;
    s->points = 0xcbf29ce484222325ULL;
    if ((e = collection_scroll(db, name, &sc, &a, &r, err, sizeof err))) goto done;
    for (size_t i = 0; i < r.n; i++) {
        const CollectionPoint *p = &r.points[i];
        s->points = fnv(s->points, &p->id.num, sizeof p->id.num);
        s->points = fnv(s->points, p->payload, p->payload_len);
        if (p->vectors && p->vectors[0]) s->points = fnv(s->points, p->vectors[0], DIM_A * 4);
        if (p->vectors && p->vectors[1]) s->points = fnv(s->points, p->vectors[1], DIM_B * 4);
        const CollectionSparseVector *sv = p->sparse ? p->sparse[0] : NULL;
        if (sv) {
            s->points = fnv(s->points, sv->indices, sv->n * 4);
            s->points = fnv(s->points, sv->values, sv->n * 4);
        }
    }
    s->results = 0xcbf29ce484222325ULL;
    for (int q = 0; q < 24 && !e; q++) {
        CollectionSearch cs = { 0 };
        cs.using = q % 3 == 2 ? "s" : q % 3 ? "b" : "a";
        cs.vector = q % 3 == 1 ? g_b[q * 71 % N_POINTS] : g_a[q * 71 % N_POINTS];
        cs.dim = q % 3 == 1 ? DIM_B : DIM_A;
        if (q % 3 == 2) cs.sparse = &g_sparse[q * 71 % N_POINTS]; /* IDF-weighted */
        cs.limit = 10;
        cs.ef = 16; /* the graph, not an exact scan, answers */
        if ((e = collection_search(db, name, &cs, &a, &r, err, sizeof err))) break;
        for (size_t i = 0; i < r.n; i++) {
            s->results = fnv(s->results, &r.points[i].id.num, 8);
            s->results = fnv(s->results, &r.points[i].score, 4);
        }
    }
    if (!e) e = collection_graph_digest(db, name, "a", &s->digest_a);
    if (!e) e = collection_graph_digest(db, name, "b", &s->digest_b);
done:
    arena_free(&a);
    return e;
}

#define ASSERT_SAME_STATE(x, y)                                                   \
    do {                                                                          \
        ASSERT_EQ_U64((x).count, (y).count);                                      \
        ASSERT_EQ_U64((x).points, (y).points);                                    \
        ASSERT_EQ_U64((x).results, (y).results);                                  \
        ASSERT_EQ_U64((x).digest_a, (y).digest_a);                                \
        ASSERT_EQ_U64((x).digest_b, (y).digest_b);                                \
    } while (0)

/*
 * leaked_cids closes nothing: dir must not be open. It opens the store
 * raw and counts the cids that have records in the collection databases
 * but no collection record, and the "drop:" markers left in meta.
 */
static int leaked_cids(const char *dir)
{
    Store *s;
    if (store_open(dir, NULL, &s)) return -1;
    StoreTxn *t;
    if (store_read_begin(s, &t)) return -1;
    uint32_t live[64];
    size_t n_live = 0;
    StoreCursor *c;
    Slice k, v;
    store_cursor_open(t, STORE_DB_COLLECTIONS, &c);
    for (int e = store_cursor_seek(c, NULL, 0, &k, &v); e == 0; e = store_cursor_next(c, &k, &v))
        if (v.len >= 4 && store_get_le32((const uint8_t *)v.ptr) && n_live < 64)
            live[n_live++] = store_get_le32((const uint8_t *)v.ptr);
    store_cursor_close(c);
    int leaked = 0;
    for (int d = STORE_DB_FIRST_COLLECTION_DB; d < STORE_DB_COUNT; d++) {
        store_cursor_open(t, (StoreDb)d, &c);
        for (int e = store_cursor_seek(c, NULL, 0, &k, &v); e == 0;
             e = store_cursor_next(c, &k, &v)) {
            uint32_t cid = store_get_be32((const uint8_t *)k.ptr);
            int ok = 0;
            for (size_t i = 0; i < n_live; i++) ok |= live[i] == cid;
            if (!ok) {
                leaked++;
                break;
            }
        }
        store_cursor_close(c);
    }
    store_cursor_open(t, STORE_DB_META, &c);
    if (store_cursor_seek(c, "drop:", 5, &k, &v) == 0 && k.len >= 5 && !memcmp(k.ptr, "drop:", 5))
        leaked++;
    store_cursor_close(c);
    store_read_end(t);
    store_close(s);
    return leaked;
}

static uint64_t file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (uint64_t)sb.st_size : 0;
}

static int read_file(const char *path, uint8_t **out, size_t *len)
{
    char *p;
    int e = file_read_all(path, (size_t)1 << 30, &p, len);
    *out = (uint8_t *)p;
    return e;
}

static int write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(p, 1, n, f);
    return fclose(f) == 0 && w == n ? 0 : -1;
}

/* A populated collection "src": batches, then deletes and payload edits,
 * so deleted nodes (still routed through by the graph) are in it. */
static int populate(Db *db, const char *name)
{
    int e = create(db, name);
    for (int i = 0; !e && i < N_POINTS; i += 100) e = upsert(db, name, i, 100, i / 100);
    PointId del[60];
    for (int i = 0; i < 60; i++) del[i] = point_id_num((uint64_t)(i * 23));
    if (!e) e = collection_delete_points(db, name, del, 60, NULL);
    return e;
}

TEST(test_recover_new_and_same_name)
{
    char dir[256], file[320];
    make_tmpdir(dir, sizeof dir, "csnap");
    snprintf(file, sizeof file, "%s/src.snapshot", dir);
    Db *db;
    ASSERT_OK(collection_db_open(dir, NULL, &db));
    ASSERT_OK(populate(db, "src"));
    State before, got;
    ASSERT_OK(state_of(db, "src", &before));
    ASSERT_EQ_U64(before.count, N_POINTS - 60);
    char err[256] = "";
    CollectionSnapshotInfo info;
    ASSERT_OK(collection_snapshot(db, "src", file, &info, err, sizeof err));
    ASSERT_EQ_U64(info.size, file_size(file));
    ASSERT_EQ_U64(info.points, N_POINTS - 60);
    ASSERT_TRUE(access(file, F_OK) == 0);
    char tmp[340];
    snprintf(tmp, sizeof tmp, "%s.tmp", file);
    ASSERT_TRUE(access(tmp, F_OK) != 0);
    /* The digest is what sha256sum computes, when it is installed. */
    char cmd[400], line[128] = "";
    snprintf(cmd, sizeof cmd, "sha256sum '%s' 2>/dev/null", file);
    FILE *ps = popen(cmd, "r");
    if (ps && fgets(line, sizeof line, ps) && strlen(line) > SHA256_HEX_LEN) {
        char hex[SHA256_HEX_LEN + 1];
        sha256_hex(info.sha256, hex);
        line[SHA256_HEX_LEN] = '\0';
        ASSERT_STR_EQ(hex, line);
    }
    if (ps) pclose(ps);

    /* Into a new name. */
    CollectionSnapshotInfo rinfo;
    ASSERT_OK(collection_recover(db, "copy", file, &rinfo, err, sizeof err));
    ASSERT_EQ_U64(rinfo.points, N_POINTS - 60);
    ASSERT_TRUE(memcmp(rinfo.sha256, info.sha256, 32) == 0);
    ASSERT_OK(state_of(db, "copy", &got));
    ASSERT_SAME_STATE(before, got);
    CollectionInfo ci;
    ASSERT_OK(collection_info(db, "copy", &ci));
    ASSERT_STR_EQ(ci.config.options, "{\"opaque\":true}");
    ASSERT_STR_EQ(ci.config.vectors[1].name, "b");
    ASSERT_EQ_INT(ci.config.m, 8);

    /* Change the source, then recover it in place. */
    ASSERT_OK(upsert(db, "src", N_POINTS, 50, 99));
    PointId del[10];
    for (int i = 0; i < 10; i++) del[i] = point_id_num((uint64_t)(i * 5 + 1));
    ASSERT_OK(collection_delete_points(db, "src", del, 10, NULL));
    ASSERT_OK(state_of(db, "src", &got));
    ASSERT_TRUE(got.count != before.count);
    ASSERT_OK(collection_recover(db, "src", file, NULL, err, sizeof err));
    ASSERT_OK(state_of(db, "src", &got));
    ASSERT_SAME_STATE(before, got);
    /* Writes go on against the recovered collection. */
    ASSERT_OK(upsert(db, "src", N_POINTS, 10, 100));
    ASSERT_OK(upsert(db, "copy", N_POINTS, 10, 100));
    State s1, c1;
    ASSERT_OK(state_of(db, "src", &s1));
    ASSERT_OK(state_of(db, "copy", &c1));
    ASSERT_EQ_U64(s1.count, before.count + 10);
    ASSERT_EQ_U64(s1.points, c1.points);

    /* All of it persisted. */
    collection_db_close(db);
    ASSERT_OK(collection_db_open(dir, NULL, &db));
    State s2, c2;
    ASSERT_OK(state_of(db, "src", &s2));
    ASSERT_OK(state_of(db, "copy", &c2));
    ASSERT_SAME_STATE(s1, s2);
    ASSERT_SAME_STATE(c1, c2);
    collection_db_close(db);
    ASSERT_EQ_INT(leaked_cids(dir), 0);
    rm_rf(dir);
}

TEST(test_unknown_collection_and_bad_name)
{
    char dir[256], file[320];
    make_tmpdir(dir, sizeof dir, "csnapx");
    snprintf(file, sizeof file, "%s/x.snapshot", dir);
    Db *db;
    ASSERT_OK(collection_db_open(dir, NULL, &db));
    char err[256] = "";
    ASSERT_EQ_INT(collection_snapshot(db, "nope", file, NULL, err, sizeof err), ERR_NOTFOUND);
    ASSERT_STR_EQ(err, "Collection `nope` doesn't exist!");
    ASSERT_TRUE(access(file, F_OK) != 0);
    ASSERT_OK(create(db, "c"));
    ASSERT_OK(upsert(db, "c", 0, 10, 0));
    ASSERT_OK(collection_snapshot(db, "c", file, NULL, err, sizeof err));
    ASSERT_EQ_INT(collection_recover(db, "a/b", file, NULL, err, sizeof err), ERR_INVAL);
    ASSERT_EQ_INT(collection_recover(db, "c", "/nonexistent/x.snapshot", NULL, err, sizeof err),
                  ERR_NOTFOUND);
    collection_db_close(db);
    ASSERT_EQ_INT(leaked_cids(dir), 0);
    rm_rf(dir);
}

TEST(test_empty_collection)
{
    char dir[256], file[320];
    make_tmpdir(dir, sizeof dir, "csnapempty");
    snprintf(file, sizeof file, "%s/e.snapshot", dir);
    Db *db;
    ASSERT_OK(collection_db_open(dir, NULL, &db));
    ASSERT_OK(create(db, "e"));
    char err[256];
    CollectionSnapshotInfo info;
    ASSERT_OK(collection_snapshot(db, "e", file, &info, err, sizeof err));
    ASSERT_EQ_U64(info.points, 0);
    ASSERT_OK(upsert(db, "e", 0, 5, 0));
    ASSERT_OK(collection_recover(db, "e", file, NULL, err, sizeof err));
    ASSERT_OK(collection_recover(db, "e2", file, NULL, err, sizeof err));
    uint64_t n = 1;
    ASSERT_OK(collection_count(db, "e", NULL, &n, err, sizeof err));
    ASSERT_EQ_U64(n, 0);
    CollectionInfo ci;
    ASSERT_OK(collection_info(db, "e2", &ci));
    ASSERT_EQ_U64(ci.points_count, 0);
    ASSERT_EQ_INT(ci.config.n_sparse, 1);
    ASSERT_OK(upsert(db, "e2", 0, 5, 0)); /* and it takes writes */
    ASSERT_OK(collection_count(db, "e2", NULL, &n, err, sizeof err));
    ASSERT_EQ_U64(n, 5);
    collection_db_close(db);
    ASSERT_EQ_INT(leaked_cids(dir), 0);
    rm_rf(dir);
}

TEST(test_recover_through_alias)
{
    char dir[256], file[320];
    make_tmpdir(dir, sizeof dir, "csnapal");
    snprintf(file, sizeof file, "%s/s.snapshot", dir);
    Db *db;
    ASSERT_OK(collection_db_open(dir, NULL, &db));
    ASSERT_OK(create(db, "real"));
    ASSERT_OK(upsert(db, "real", 0, 40, 0));
    CollectionAliasAction act = { .kind = COLLECTION_ALIAS_CREATE, .collection_name = "real",
                                  .alias_name = "nick" };
    char err[256];
    ASSERT_OK(collection_alias_apply(db, &act, 1, err, sizeof err));
    State want, got;
    ASSERT_OK(state_of(db, "real", &want));
    ASSERT_OK(collection_snapshot(db, "nick", file, NULL, err, sizeof err));
    ASSERT_OK(upsert(db, "real", 40, 40, 1));
    ASSERT_OK(collection_recover(db, "nick", file, NULL, err, sizeof err));
    ASSERT_OK(state_of(db, "real", &got));
    ASSERT_SAME_STATE(want, got);
    ASSERT_OK(state_of(db, "nick", &got));
    ASSERT_SAME_STATE(want, got);
    Arena a;
    arena_init(&a, 0);
    char **names;
    size_t n;
    ASSERT_OK(collection_list(db, &a, &names, &n));
    ASSERT_EQ_INT(n, 1); /* no collection named "nick" appeared */
    arena_free(&a);
    collection_db_close(db);
    ASSERT_EQ_INT(leaked_cids(dir), 0);
    rm_rf(dir);
}

/* ---- snapshots while a writer runs ---- */

static Db *w_db;
static volatile int w_acked;
static volatile int w_stop;

static void *writer_main(void *arg)
{
    (void)arg;
    for (int b = 0; b * BATCH < N_POINTS && !__atomic_load_n(&w_stop, __ATOMIC_RELAXED); b++) {
        if (upsert(w_db, "live", b * BATCH, BATCH, b)) break;
        __atomic_store_n(&w_acked, b + 1, __ATOMIC_SEQ_CST);
    }
    return NULL;
}

TEST(test_snapshot_while_writing)
{
    char dir[256], file[320];
    make_tmpdir(dir, sizeof dir, "csnaplive");
    ASSERT_OK(collection_db_open(dir, NULL, &w_db));
    ASSERT_OK(create(w_db, "live"));
    w_acked = 0;
    w_stop = 0;
    pthread_t th;
    pthread_create(&th, NULL, writer_main, NULL);
    for (int s = 0; s < 4; s++) {
        while (__atomic_load_n(&w_acked, __ATOMIC_SEQ_CST) < (s + 1) * 8) usleep(500);
        int acked_before = __atomic_load_n(&w_acked, __ATOMIC_SEQ_CST);
        snprintf(file, sizeof file, "%s/live%d.snapshot", dir, s);
        char err[256];
        ASSERT_OK(collection_snapshot(w_db, "live", file, NULL, err, sizeof err));
        int acked_after = __atomic_load_n(&w_acked, __ATOMIC_SEQ_CST);
        char copy[32];
        snprintf(copy, sizeof copy, "copy%d", s);
        ASSERT_OK(collection_recover(w_db, copy, file, NULL, err, sizeof err));
        uint64_t n;
        ASSERT_OK(collection_count(w_db, copy, NULL, &n, err, sizeof err));
        /* Whole batches: the first k the writer did, for one k. */
        ASSERT_EQ_INT(n % BATCH, 0);
        ASSERT_GE((double)n, (double)acked_before * BATCH);
        ASSERT_LE((double)n, (double)(acked_after + 1) * BATCH);
        Arena a;
        arena_init(&a, 0);
        CollectionScroll sc = { 0 };
        sc.limit = COLLECTION_MAX_LIMIT;
        sc.with_vectors.mode = COLLECTION_SEL_ALL;
        CollectionResult r;
        ASSERT_OK(collection_scroll(w_db, copy, &sc, &a, &r, err, sizeof err));
        ASSERT_EQ_U64(r.n, n);
        for (size_t i = 0; i < r.n; i++) {
            uint64_t id = r.points[i].id.num;
            ASSERT_EQ_U64(id, i); /* ids 0..n-1: no gap, nothing from a later batch */
            float want[DIM_A];
            memcpy(want, g_a[id], sizeof want);
            vec_normalize(want, DIM_A);
            ASSERT_TRUE(r.points[i].vectors && r.points[i].vectors[0]);
            ASSERT_TRUE(memcmp(r.points[i].vectors[0], want, sizeof want) == 0);
            ASSERT_EQ_INT(r.points[i].vectors[1] != NULL, id % 3 != 0);
            const CollectionSparseVector *sv = r.points[i].sparse ? r.points[i].sparse[0] : NULL;
            ASSERT_EQ_INT(sv != NULL, id % 2 == 0);
            if (sv) {
                ASSERT_EQ_INT(sv->n, 3);
                /* Already in index order as written (x%50 < 100.. < 1000..). */
                ASSERT_TRUE(memcmp(sv->indices, g_si[id], 12) == 0);
                ASSERT_TRUE(memcmp(sv->values, g_sv[id], 12) == 0);
            }
        }
        /* A search over the copy finds its own points. */
        CollectionSearch cs = { 0 };
        cs.using = "a";
        cs.vector = g_a[n - 1];
        cs.dim = DIM_A;
        cs.limit = 1;
        cs.ef = 64;
        ASSERT_OK(collection_search(w_db, copy, &cs, &a, &r, err, sizeof err));
        ASSERT_EQ_U64(r.n, 1);
        ASSERT_EQ_U64(r.points[0].id.num, n - 1);
        arena_free(&a);
    }
    __atomic_store_n(&w_stop, 1, __ATOMIC_SEQ_CST);
    pthread_join(th, NULL);
    collection_db_close(w_db);
    ASSERT_EQ_INT(leaked_cids(dir), 0);
    rm_rf(dir);
}

/* ---- refusals ---- */

/* refused expects collection_recover of file into "src" to fail with
 * want and the collection to keep state s. */
static int refused(Db *db, const char *file, int want, const State *s, const char *why)
{
    char err[256] = "";
    int e = collection_recover(db, "src", file, NULL, err, sizeof err);
    State now;
    if (e != want) {
        printf("  %s: recover returned %d (%s), expected %d\n", why, e, err, want);
        return -1;
    }
    if (!err[0]) {
        printf("  %s: no message\n", why);
        return -1;
    }
    if (state_of(db, "src", &now) || now.count != s->count || now.points != s->points ||
        now.digest_a != s->digest_a) {
        printf("  %s: the collection changed\n", why);
        return -1;
    }
    return 0;
}

/* A record walker over a snapshot file, written from docs/storage.md. */
static size_t rec_len_at(const uint8_t *p, size_t left)
{
    switch (p[0]) {
    case 0x01: return left < 3 ? 0 : 3 + (size_t)(p[1] | p[2] << 8);
    case 0x02: return left < 5 ? 0 : 5 + (size_t)store_get_le32(p + 1);
    case 0x03: return left < 2 ? 0 : 2 + (size_t)p[1];
    case 0x04:
        return left < 7 ? 0 : 7 + (size_t)(p[1] | p[2] << 8) + (size_t)store_get_le32(p + 3);
    case 0xFF: return 1 + 8 + 32;
    default: return 0;
    }
}

TEST(test_refuses_bad_files)
{
    char dir[256], file[320], bad[330];
    make_tmpdir(dir, sizeof dir, "csnapbad");
    snprintf(file, sizeof file, "%s/good.snapshot", dir);
    snprintf(bad, sizeof bad, "%s/bad.snapshot", dir);
    Db *db;
    ASSERT_OK(collection_db_open(dir, NULL, &db));
    ASSERT_OK(populate(db, "src"));
    char err[256];
    ASSERT_OK(collection_snapshot(db, "src", file, NULL, err, sizeof err));
    ASSERT_OK(upsert(db, "src", N_POINTS, 30, 50)); /* the state to keep differs from the file */
    State s;
    ASSERT_OK(state_of(db, "src", &s));
    uint8_t *good;
    size_t n;
    ASSERT_OK(read_file(file, &good, &n));
    log_set_level(LOG_ERROR + 1); /* the refusals are logged; expected here */

    ASSERT_OK(write_file(bad, "", 0));
    ASSERT_OK(refused(db, bad, ERR_FORMAT, &s, "empty"));
    ASSERT_OK(write_file(bad, "hello, this is not a snapshot at all", 36));
    ASSERT_OK(refused(db, bad, ERR_FORMAT, &s, "text"));
    /* A whole-database snapshot (an LMDB file) is not a collection one. */
    char mdb[340];
    snprintf(mdb, sizeof mdb, "%s/whole.mdb", dir);
    ASSERT_OK(collection_db_snapshot(db, mdb));
    ASSERT_OK(refused(db, mdb, ERR_FORMAT, &s, "lmdb file"));
    ASSERT_OK(refused(db, dir, ERR_FORMAT, &s, "a directory"));
    /* Another format version. */
    uint8_t *copy = xmalloc(n);
    memcpy(copy, good, n);
    copy[8] = 2;
    ASSERT_OK(write_file(bad, copy, n));
    ASSERT_OK(refused(db, bad, ERR_FORMAT, &s, "version 2"));
    collection_recover(db, "src", bad, NULL, err, sizeof err);
    ASSERT_TRUE(strstr(err, "format 2") != NULL);
    /* Truncated anywhere: within the header, the records, the digest. */
    size_t cuts[] = { 0, 7, 23, 24, 30, n / 7, n / 3, n / 2, 2 * n / 3, n - 40, n - 33, n - 1 };
    for (size_t i = 0; i < ARRAY_LEN(cuts); i++) {
        ASSERT_OK(write_file(bad, good, cuts[i]));
        char why[64];
        snprintf(why, sizeof why, "cut at %zu of %zu", cuts[i], n);
        ASSERT_OK(refused(db, bad, ERR_FORMAT, &s, why));
    }
    /* One byte changed in a record's value, in a length, or appended. */
    memcpy(copy, good, n);
    copy[n / 2] ^= 0x40;
    ASSERT_OK(write_file(bad, copy, n));
    ASSERT_OK(refused(db, bad, ERR_FORMAT, &s, "flipped byte"));
    memcpy(copy, good, n);
    size_t at = SNAP_HEADER;
    while (at < n && copy[at] != 0x04) at += rec_len_at(copy + at, n - at);
    ASSERT_TRUE(at < n);
    copy[at + 3] ^= 0x01; /* the first record's value length */
    ASSERT_OK(write_file(bad, copy, n));
    ASSERT_OK(refused(db, bad, ERR_FORMAT, &s, "flipped length"));
    memcpy(copy, good, n);
    copy = xrealloc(copy, n + 1);
    copy[n] = 0;
    ASSERT_OK(write_file(bad, copy, n + 1));
    ASSERT_OK(refused(db, bad, ERR_FORMAT, &s, "trailing byte"));
    log_set_level(LOG_WARN);
    free(copy);
    free(good);
    collection_db_close(db);
    ASSERT_EQ_INT(leaked_cids(dir), 0);
    rm_rf(dir);
}

TEST(test_records_that_do_not_load)
{
    /* A file that is well-formed and checksummed, but one vector has the
     * wrong length: it fails after staging, when the collection loads. */
    char dir[256], file[320], bad[330];
    make_tmpdir(dir, sizeof dir, "csnapload");
    snprintf(file, sizeof file, "%s/good.snapshot", dir);
    snprintf(bad, sizeof bad, "%s/bad.snapshot", dir);
    Db *db;
    ASSERT_OK(collection_db_open(dir, NULL, &db));
    ASSERT_OK(populate(db, "src"));
    char err[256];
    ASSERT_OK(collection_snapshot(db, "src", file, NULL, err, sizeof err));
    ASSERT_OK(upsert(db, "src", N_POINTS, 30, 50));
    State s;
    ASSERT_OK(state_of(db, "src", &s));
    uint8_t *good;
    size_t n;
    ASSERT_OK(read_file(file, &good, &n));
    /* Rewrite: the last "vectors" record loses 4 bytes of its value. */
    Buf out;
    buf_init(&out);
    size_t at = SNAP_HEADER, last_vec = 0, end = 0;
    int in_vectors = 0;
    while (at < n && good[at] != 0xFF) {
        size_t l = rec_len_at(good + at, n - at);
        ASSERT_TRUE(l > 0);
        if (good[at] == 0x03) in_vectors = good[at + 1] == 7 && !memcmp(good + at + 2, "vectors", 7);
        if (good[at] == 0x04 && in_vectors) last_vec = at;
        at += l;
    }
    end = at;
    ASSERT_TRUE(last_vec > 0 && end < n);
    buf_append(&out, good, last_vec);
    size_t kl = (size_t)(good[last_vec + 1] | good[last_vec + 2] << 8);
    uint32_t vl = store_get_le32(good + last_vec + 3);
    uint8_t head[7];
    memcpy(head, good + last_vec, 7);
    store_put_le32(head + 3, vl - 4);
    buf_append(&out, head, 7);
    buf_append(&out, good + last_vec + 7, kl + vl - 4);
    size_t next = last_vec + 7 + kl + vl;
    buf_append(&out, good + next, end - next + 9); /* the rest and the end tag + count */
    uint8_t d[32];
    sha256(out.data, out.len, d);
    buf_append(&out, d, 32);
    ASSERT_OK(write_file(bad, out.data, out.len));
    buf_free(&out);
    free(good);
    log_set_level(LOG_ERROR + 1);
    ASSERT_OK(refused(db, bad, ERR_FORMAT, &s, "short vector"));
    /* And into a new name: nothing is created. */
    ASSERT_TRUE(collection_recover(db, "fresh", bad, NULL, err, sizeof err) != 0);
    log_set_level(LOG_WARN);
    CollectionInfo ci;
    ASSERT_EQ_INT(collection_info(db, "fresh", &ci), ERR_NOTFOUND);
    collection_db_close(db);
    ASSERT_EQ_INT(leaked_cids(dir), 0);
    rm_rf(dir);
}

/* ---- a crash in the middle of a recover ---- */

#define CRASH_ROUNDS 8

TEST(test_crash_during_recover)
{
    char dir[256], file[320];
    make_tmpdir(dir, sizeof dir, "csnapcrash");
    snprintf(file, sizeof file, "%s/b.snapshot", dir);
    Db *db;
    ASSERT_OK(collection_db_open(dir, NULL, &db));
    ASSERT_OK(populate(db, "src"));
    char err[256];
    /* State B in the file; the collection is changed after it. */
    State b;
    ASSERT_OK(state_of(db, "src", &b));
    ASSERT_OK(collection_snapshot(db, "src", file, NULL, err, sizeof err));
    ASSERT_OK(upsert(db, "src", N_POINTS, 200, 77));
    collection_db_close(db);
    /* How long a child's open and recover take here, to aim the kills. */
    double t0 = now_seconds();
    fflush(stdout);
    pid_t probe = fork();
    ASSERT_TRUE(probe >= 0);
    if (probe == 0) {
        Db *cdb;
        char cerr[256];
        if (collection_db_open(dir, NULL, &cdb)) _exit(2);
        if (collection_recover(cdb, "src", file, NULL, cerr, sizeof cerr)) _exit(3);
        if (upsert(cdb, "src", N_POINTS, 200, 76)) _exit(4); /* changed again */
        collection_db_close(cdb);
        _exit(0);
    }
    int pst;
    waitpid(probe, &pst, 0);
    ASSERT_TRUE(WIFEXITED(pst) && WEXITSTATUS(pst) == 0);
    double took = now_seconds() - t0;
    srand((unsigned)time(NULL));
    int saw_old = 0, saw_new = 0;
    for (int round = 0; round < CRASH_ROUNDS; round++) {
        State old;
        ASSERT_OK(collection_db_open(dir, NULL, &db));
        ASSERT_OK(state_of(db, "src", &old));
        ASSERT_TRUE(old.points != b.points);
        collection_db_close(db);
        fflush(stdout);
        pid_t pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
            Db *cdb;
            log_set_level(LOG_ERROR + 1);
            if (collection_db_open(dir, NULL, &cdb)) _exit(2);
            char cerr[256];
            _exit(collection_recover(cdb, "src", file, NULL, cerr, sizeof cerr) ? 3 : 0);
        }
        /* Kill somewhere from the open to a little after the end. */
        useconds_t wait = (useconds_t)((double)rand() / RAND_MAX * took * 1.2e6);
        usleep(wait);
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        ASSERT_TRUE(!WIFEXITED(status) || WEXITSTATUS(status) == 0);
        ASSERT_OK(collection_db_open(dir, NULL, &db));
        State now;
        ASSERT_OK(state_of(db, "src", &now));
        if (now.points == old.points) {
            ASSERT_SAME_STATE(now, old);
            saw_old++;
        } else {
            ASSERT_SAME_STATE(now, b);
            saw_new++;
            /* Changed again for the next round. */
            ASSERT_OK(upsert(db, "src", N_POINTS, 200, 77 + round));
        }
        collection_db_close(db);
        ASSERT_EQ_INT(leaked_cids(dir), 0);
    }
    printf("  %d kills: %d left the old collection, %d the recovered one\n", CRASH_ROUNDS,
           saw_old, saw_new);
    rm_rf(dir);
}

int main(void)
{
    log_set_level(LOG_WARN);
    fill_vectors();
    fill_sparse();
    RUN(test_recover_new_and_same_name);
    RUN(test_unknown_collection_and_bad_name);
    RUN(test_empty_collection);
    RUN(test_recover_through_alias);
    RUN(test_snapshot_while_writing);
    RUN(test_refuses_bad_files);
    RUN(test_records_that_do_not_load);
    RUN(test_crash_during_recover);
    return harness_report("test_collection_snapshot");
}
