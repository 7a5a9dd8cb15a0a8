/*
 * test_snapshot.c - snapshots of a running store, and restoring them.
 *
 *   - snapshot, restore into a new directory, open: the same points and
 *     bit-identical search results as the source;
 *   - a snapshot taken while a writer thread is upserting opens cleanly
 *     and holds a consistent prefix of the writer's acknowledged batches
 *     (whole batches only: every batch is one transaction);
 *   - restore refuses a directory that already holds data.
 */
#include <ftw.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "store/collection.h"
#include "base/err.h"
#include "harness.h"
#include "base/log.h"
#include "store/store.h"

#define N_POINTS 1500
#define DIM 24
#define BATCH 25

static float g_vec[N_POINTS][DIM];

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

static int create(Db *db)
{
    CollectionConfig cfg = { .n_vectors = 1, .unnamed = 1, .m = 8, .ef_construct = 64 };
    cfg.vectors[0].size = DIM;
    cfg.vectors[0].distance = COLLECTION_DOT;
    char err[256];
    return collection_create(db, "s", &cfg, err, sizeof err);
}

static int upsert_batch(Db *db, int from)
{
    Arena a;
    arena_init(&a, 0);
    CollectionPointIn p[BATCH];
    CollectionVectorIn v[BATCH];
    for (int i = from; i < from + BATCH; i++) {
        char text[64];
        snprintf(text, sizeof text, "{\"i\":%d}", i);
        JsonValue *pl;
        if (json_parse(&a, text, strlen(text), &pl, NULL, 0)) abort();
        v[i - from] = (CollectionVectorIn){ NULL, g_vec[i], DIM, NULL, NULL };
        p[i - from] = (CollectionPointIn){ point_id_num((uint64_t)i), pl, &v[i - from], 1 };
    }
    char err[256];
    int e = collection_upsert(db, "s", p, BATCH, err, sizeof err);
    arena_free(&a);
    return e;
}

/* results runs fixed queries and writes ids and score bits to out. */
static int results(Db *db, uint64_t *out, size_t cap)
{
    Arena a;
    arena_init(&a, 0);
    size_t k = 0;
    int err = 0;
    for (int q = 0; q < 20 && !err; q++) {
        CollectionSearch s = { 0 };
        s.vector = g_vec[q * 37 % N_POINTS];
        s.dim = DIM;
        s.limit = 10;
        CollectionResult r;
        char msg[128];
        err = collection_search(db, "s", &s, &a, &r, msg, sizeof msg);
        for (size_t i = 0; !err && i < r.n && k + 2 <= cap; i++) {
            uint32_t bits;
            memcpy(&bits, &r.points[i].score, 4);
            out[k++] = r.points[i].id.num;
            out[k++] = bits;
        }
    }
    arena_free(&a);
    return err;
}

TEST(test_snapshot_restore_same_results)
{
    char src[256], dst[256], file[300];
    make_tmpdir(src, sizeof src, "snapsrc");
    make_tmpdir(dst, sizeof dst, "snapdst");
    snprintf(file, sizeof file, "%s/snap.mdb", src);
    Db *db;
    ASSERT_OK(collection_db_open(src, NULL, &db));
    ASSERT_OK(create(db));
    for (int i = 0; i < N_POINTS; i += BATCH) ASSERT_OK(upsert_batch(db, i));
    PointId del[50];
    for (int i = 0; i < 50; i++) del[i] = point_id_num((uint64_t)(i * 3));
    ASSERT_OK(collection_delete_points(db, "s", del, 50, NULL));
    static uint64_t before[400], after[400];
    ASSERT_OK(results(db, before, 400));
    ASSERT_OK(collection_db_snapshot(db, file));
    /* The source keeps working after the snapshot. */
    ASSERT_OK(collection_delete_points(db, "s", del, 50, NULL));
    collection_db_close(db);

    char restored[300];
    snprintf(restored, sizeof restored, "%s/data", dst);
    ASSERT_OK(store_restore(file, restored));
    log_set_level(LOG_ERROR + 1); /* the refusal is logged; expected here */
    ASSERT_EQ_INT(store_restore(file, restored), ERR_EXISTS);
    log_set_level(LOG_WARN);
    ASSERT_OK(collection_db_open(restored, NULL, &db));
    uint64_t n;
    char err[128];
    ASSERT_OK(collection_count(db, "s", NULL, &n, err, sizeof err));
    ASSERT_EQ_U64(n, N_POINTS - 50);
    ASSERT_OK(results(db, after, 400));
    ASSERT_TRUE(memcmp(before, after, sizeof before) == 0);
    uint64_t d1, d2;
    ASSERT_OK(collection_graph_digest(db, "s", NULL, &d1));
    collection_db_close(db);
    ASSERT_OK(collection_db_open(src, NULL, &db));
    ASSERT_OK(collection_graph_digest(db, "s", NULL, &d2));
    ASSERT_EQ_U64(d1, d2);
    collection_db_close(db);
    rm_rf(src);
    rm_rf(dst);
}

/* A writer thread upserting batches while snapshots are taken. */
static Db *w_db;
static int w_acked; /* batches acknowledged (atomic) */
static int w_stop;  /* set by the test to end the writer (atomic) */
static int w_done;  /* set by the writer when it returns (atomic) */
static int w_error; /* upsert_batch's error, if one ended the writer */

/* How long the test waits for the writer to reach a batch before it fails
 * instead of hanging (generous for sanitizer builds on a busy machine). */
#define WRITER_WAIT_NS (60ull * 1000 * 1000 * 1000)

static void *writer_main(void *arg)
{
    (void)arg;
    for (int i = 0; i < N_POINTS && !__atomic_load_n(&w_stop, __ATOMIC_SEQ_CST); i += BATCH) {
        int e = upsert_batch(w_db, i);
        if (e) {
            w_error = e; /* published by the store of w_done below */
            break;
        }
        __atomic_store_n(&w_acked, i / BATCH + 1, __ATOMIC_SEQ_CST);
    }
    __atomic_store_n(&w_done, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

/* wait_acked waits until the writer has acknowledged at least n batches;
 * 0, or -1 when the writer ended first or the deadline passed. */
static int wait_acked(int n)
{
    uint64_t deadline = now_ns() + WRITER_WAIT_NS;
    while (__atomic_load_n(&w_acked, __ATOMIC_SEQ_CST) < n) {
        if (__atomic_load_n(&w_done, __ATOMIC_SEQ_CST) || now_ns() > deadline) return -1;
        usleep(1000);
    }
    return 0;
}

/* snapshot_rounds takes four snapshots as the writer goes and checks each
 * restored copy; it returns early on a failed assert, and its caller stops
 * the writer either way. */
static void snapshot_rounds(const char *src, int *snaps)
{
    char file[300];
    for (int s = 0; s < 4; s++) {
        if (wait_acked((s + 1) * 10))
            HARNESS_FAIL("the writer did not reach batch %d (acknowledged %d, %s, error %d)",
                         (s + 1) * 10, __atomic_load_n(&w_acked, __ATOMIC_SEQ_CST),
                         __atomic_load_n(&w_done, __ATOMIC_SEQ_CST) ? "it ended" : "timed out",
                         __atomic_load_n(&w_done, __ATOMIC_SEQ_CST) ? w_error : 0);
        int acked_before = __atomic_load_n(&w_acked, __ATOMIC_SEQ_CST);
        snprintf(file, sizeof file, "%s/snap%d.mdb", src, s);
        ASSERT_OK(collection_db_snapshot(w_db, file));
        int acked_after = __atomic_load_n(&w_acked, __ATOMIC_SEQ_CST);
        char dir[320];
        snprintf(dir, sizeof dir, "%s/restored%d", src, s);
        ASSERT_OK(store_restore(file, dir));
        /* Opening a copy is a different environment, so it is allowed
         * while the source is open. */
        Db *copy;
        ASSERT_OK(collection_db_open(dir, NULL, &copy));
        uint64_t n;
        char err[128];
        int rc = collection_count(copy, "s", NULL, &n, err, sizeof err);
        /* Every point in it is complete and findable. */
        Arena a;
        arena_init(&a, 0);
        CollectionScroll sc = { 0 };
        sc.limit = 10000;
        sc.with_payload.mode = COLLECTION_SEL_ALL;
        sc.with_vectors.mode = COLLECTION_SEL_ALL;
        CollectionResult r = { 0 };
        int rc2 = rc ? rc : collection_scroll(copy, "s", &sc, &a, &r, err, sizeof err);
        size_t bad = 0;
        for (size_t i = 0; !rc2 && i < r.n; i++)
            if (!r.points[i].vectors || !r.points[i].vectors[0] ||
                memcmp(r.points[i].vectors[0], g_vec[r.points[i].id.num], DIM * 4) != 0)
                bad++;
        arena_free(&a);
        collection_db_close(copy);
        ASSERT_OK(rc);
        ASSERT_OK(rc2);
        /* Whole batches, at least those acknowledged before it began. */
        ASSERT_EQ_INT(n % BATCH, 0);
        ASSERT_GE((double)n, (double)acked_before * BATCH);
        ASSERT_LE((double)n, (double)(acked_after + 1) * BATCH);
        ASSERT_EQ_U64(r.n, n);
        ASSERT_EQ_U64(bad, 0);
        (*snaps)++;
    }
}

TEST(test_snapshot_while_writing)
{
    char src[256];
    make_tmpdir(src, sizeof src, "snaplive");
    ASSERT_OK(collection_db_open(src, NULL, &w_db));
    ASSERT_OK(create(w_db));
    w_acked = w_stop = w_done = w_error = 0;
    pthread_t th;
    ASSERT_OK(pthread_create(&th, NULL, writer_main, NULL));
    int snaps = 0;
    snapshot_rounds(src, &snaps);
    /* Also after a failed assert: stop and join the writer before the
     * store closes under it. */
    __atomic_store_n(&w_stop, 1, __ATOMIC_SEQ_CST);
    pthread_join(th, NULL);
    collection_db_close(w_db);
    rm_rf(src);
    ASSERT_EQ_INT(snaps, 4);
}

int main(void)
{
    log_set_level(LOG_WARN);
    uint64_t st = 99;
    for (int i = 0; i < N_POINTS; i++)
        for (int d = 0; d < DIM; d++) {
            st = st * 6364136223846793005ULL + 1442695040888963407ULL;
            g_vec[i][d] = (float)((st >> 33) % 2001) / 1000.0f - 1.0f;
        }
    RUN(test_snapshot_restore_same_results);
    RUN(test_snapshot_while_writing);
    return harness_report(__FILE__);
}
