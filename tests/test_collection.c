/*
 * test_collection.c - the collection engine against references computed
 * here: brute-force top-k in double precision, filter counts from the
 * generator's own knowledge of each payload, scroll order from sorted ids,
 * Qdrant's recommend formulas written out. Bad input must return the
 * right code and change nothing (count and search results compared). A
 * vector flagged exact_only is searched exactly where its graph would
 * otherwise be walked, across reopen and update, and its graph is bare
 * (no links) until the flag clears, then built (Qdrant's bulk upload).
 *
 * Data: 2000 clustered 32-d points (small, so sanitizer runs stay fast).
 */
#include <ftw.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "store/collection.h"
#include "base/err.h"
#include "base/util.h"
#include "index/filter.h"
#include "harness.h"
#include "base/log.h"
#include "store/store.h"

#define N_POINTS 2000
#define DIM 32
#define N_CLUSTERS 8

static char g_dir[256];
static Db *g_db;
static float g_vec[N_POINTS][DIM];  /* as upserted (not normalised) */
static float g_unit[N_POINTS][DIM]; /* normalised, as cosine stores them */
static int g_live[N_POINTS];

static uint64_t rng_state = 88172645463325252ULL;
static uint64_t rng_next(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}
static float rng_unit(void) { return (float)((rng_next() >> 11) * (1.0 / 9007199254740992.0)); }
static float rng_gauss(void)
{
    float u = rng_unit() + 1e-7f, v = rng_unit();
    /* A draw next to 1 rounds past it, whose log would make a NaN. */
    if (u > 1.0f) u = 1.0f;
    return sqrtf(-2.0f * logf(u)) * cosf(6.2831853f * v);
}

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}
static void rm_rf(const char *p) { nftw(p, rm_cb, 16, FTW_DEPTH | FTW_PHYS); }

/* The payload of point i, and facts about it the tests use as reference. */
static int cat_of(int i) { return i % 7; }
static int price_of(int i) { return (i * 37) % 1000; }
static const char *color_of(int i)
{
    static const char *c[] = { "red", "green", "blue" };
    return c[i % 3];
}

static JsonValue *parse(Arena *a, const char *text)
{
    JsonValue *v = NULL;
    char err[128];
    if (json_parse(a, text, strlen(text), &v, err, sizeof err) != 0) {
        printf("bad test JSON %s: %s\n", text, err);
        abort();
    }
    return v;
}

static void normalise(const float *in, float *out)
{
    double n = 0;
    for (int d = 0; d < DIM; d++) n += (double)in[d] * in[d];
    n = sqrt(n);
    for (int d = 0; d < DIM; d++) out[d] = (float)(in[d] / n);
}

static double dot_d(const float *a, const float *b)
{
    double s = 0;
    for (int d = 0; d < DIM; d++) s += (double)a[d] * b[d];
    return s;
}

/* upsert_range upserts points [from, to) in batches. */
static int upsert_range(Db *db, const char *coll, int from, int to)
{
    char err[256];
    for (int start = from; start < to; start += 100) {
        int end = MIN(start + 100, to);
        Arena a;
        arena_init(&a, 0);
        CollectionPointIn pts[100];
        CollectionVectorIn vin[100];
        for (int i = start; i < end; i++) {
            char text[256];
            snprintf(text, sizeof text,
                     "{\"cat\":%d,\"price\":%d,\"color\":\"%s\",\"name\":\"p%d\",\"tags\":[\"t%d\",\"u%d\"]}",
                     cat_of(i), price_of(i), color_of(i), i, i % 5, i % 11);
            vin[i - start] = (CollectionVectorIn){ NULL, g_vec[i], DIM, NULL, NULL };
            pts[i - start] = (CollectionPointIn){ point_id_num((uint64_t)i), parse(&a, text),
                                                  &vin[i - start], 1 };
        }
        int e = collection_upsert(db, coll, pts, (size_t)(end - start), err, sizeof err);
        arena_free(&a);
        if (e) {
            printf("upsert failed: %s\n", err);
            return e;
        }
        for (int i = start; i < end; i++) g_live[i] = 1;
    }
    return 0;
}

static void make_data(void)
{
    float centers[N_CLUSTERS][DIM];
    for (int c = 0; c < N_CLUSTERS; c++)
        for (int d = 0; d < DIM; d++) centers[c][d] = rng_gauss();
    for (int i = 0; i < N_POINTS; i++) {
        int c = (int)(rng_next() % N_CLUSTERS);
        for (int d = 0; d < DIM; d++) g_vec[i][d] = centers[c][d] + 0.6f * rng_gauss();
        normalise(g_vec[i], g_unit[i]);
    }
}

static void make_query(float *q)
{
    int base = (int)(rng_next() % N_POINTS);
    for (int d = 0; d < DIM; d++) q[d] = g_vec[base][d] + 0.5f * rng_gauss();
}

/* topk_of: the k best of the points [0, count) live in live[] and
 * accepted by pred (NULL: all) for q (cosine, double precision), unit[]
 * holding their normalised vectors; scores in scores, best first. */
typedef int (*Pred)(int i);
static int topk_of(const float *q, const float (*unit)[DIM], const int *live, int count, int k,
                   Pred pred, int *out, double *scores)
{
    float qn[DIM];
    normalise(q, qn);
    int n = 0;
    for (int i = 0; i < count; i++) {
        if (!live[i] || (pred && !pred(i))) continue;
        double s = dot_d(qn, unit[i]);
        int j = n < k ? n++ : k;
        if (j == k && s <= scores[k - 1]) continue;
        if (j == k) j = k - 1;
        while (j > 0 && scores[j - 1] < s) {
            scores[j] = scores[j - 1];
            out[j] = out[j - 1];
            j--;
        }
        scores[j] = s;
        out[j] = i;
    }
    return n;
}

/* ref_topk: the k best live points of the main data set for q. */
static int ref_topk(const float *q, int k, Pred pred, int *out, double *scores)
{
    return topk_of(q, (const float (*)[DIM])g_unit, g_live, N_POINTS, k, pred, out, scores);
}

/* search_hits runs a search of coll for q and gives the hits' ids and,
 * when scores is not NULL, their scores. */
static int search_hits(Db *db, const char *coll, const float *q, size_t limit, int exact, int ef,
                       const JsonValue *filter, uint64_t *ids, float *scores, size_t *n)
{
    Arena a;
    arena_init(&a, 0);
    CollectionSearch s = { 0 };
    s.vector = q;
    s.dim = DIM;
    s.limit = limit;
    s.exact = exact;
    s.ef = ef;
    s.filter = filter;
    CollectionResult r;
    char err[256];
    int e = collection_search(db, coll, &s, &a, &r, err, sizeof err);
    if (!e) {
        *n = r.n;
        for (size_t i = 0; i < r.n; i++) {
            ids[i] = r.points[i].id.num;
            if (scores) scores[i] = r.points[i].score;
        }
    }
    arena_free(&a);
    return e;
}

/* search_ids: search_hits at ef 128. */
static int search_ids(Db *db, const char *coll, const float *q, size_t limit, int exact,
                      const JsonValue *filter, uint64_t *ids, float *scores, size_t *n)
{
    return search_hits(db, coll, q, limit, exact, 128, filter, ids, scores, n);
}

static uint64_t count_of(Db *db, const char *coll, const JsonValue *f)
{
    uint64_t n = 0;
    char err[256];
    if (collection_count(db, coll, f, &n, err, sizeof err)) return UINT64_MAX;
    return n;
}

static int pred_cat3(int i) { return cat_of(i) == 3; }
static int pred_selective(int i) { return cat_of(i) == 3 && price_of(i) < 100; }
static int pred_not_red(int i) { return strcmp(color_of(i), "red") != 0; }

TEST(test_create_list_delete)
{
    CollectionConfig cfg = { .n_vectors = 1, .unnamed = 1 };
    cfg.vectors[0].size = DIM;
    cfg.vectors[0].distance = COLLECTION_COSINE;
    char err[256];
    ASSERT_OK(collection_create(g_db, "tmp", &cfg, err, sizeof err));
    ASSERT_EQ_INT(collection_create(g_db, "tmp", &cfg, err, sizeof err), ERR_EXISTS);
    ASSERT_EQ_INT(collection_create(g_db, "a/b", &cfg, err, sizeof err), ERR_INVAL);
    ASSERT_EQ_INT(collection_create(g_db, "", &cfg, err, sizeof err), ERR_INVAL);
    CollectionConfig bad = cfg;
    bad.vectors[0].size = 0;
    ASSERT_EQ_INT(collection_create(g_db, "bad", &bad, err, sizeof err), ERR_INVAL);
    bad = cfg;
    bad.m = 1;
    ASSERT_EQ_INT(collection_create(g_db, "bad", &bad, err, sizeof err), ERR_INVAL);
    CollectionInfo info;
    ASSERT_OK(collection_info(g_db, "tmp", &info));
    ASSERT_EQ_INT(info.config.m, COLLECTION_DEFAULT_M);
    ASSERT_EQ_INT(info.config.ef_construct, COLLECTION_DEFAULT_EF_CONSTRUCT);
    ASSERT_EQ_INT(info.points_count, 0);
    ASSERT_TRUE(info.created_at > 1600000000);
    Arena a;
    arena_init(&a, 0);
    char **names;
    size_t n;
    ASSERT_OK(collection_list(g_db, &a, &names, &n));
    int found = 0;
    for (size_t i = 0; i < n; i++) found += !strcmp(names[i], "tmp");
    for (size_t i = 1; i < n; i++) ASSERT_TRUE(strcmp(names[i - 1], names[i]) < 0);
    arena_free(&a);
    ASSERT_EQ_INT(found, 1);
    ASSERT_OK(collection_delete(g_db, "tmp"));
    ASSERT_EQ_INT(collection_info(g_db, "tmp", &info), ERR_NOTFOUND);
    ASSERT_EQ_INT(collection_delete(g_db, "tmp"), ERR_NOTFOUND);
}

TEST(test_get_roundtrip)
{
    Arena a;
    arena_init(&a, 0);
    PointId ids[3] = { point_id_num(5), point_id_num(999999), point_id_num(17) };
    CollectionSelector all = { COLLECTION_SEL_ALL, NULL, 0 };
    CollectionResult r;
    ASSERT_OK(collection_get(g_db, "main", ids, 3, &all, &all, &a, &r));
    ASSERT_EQ_INT(r.n, 2); /* the missing id is skipped */
    ASSERT_EQ_U64(r.points[0].id.num, 5);
    ASSERT_EQ_U64(r.points[1].id.num, 17);
    const JsonValue *p = parse(&a, r.points[1].payload);
    int64_t x;
    ASSERT_OK(json_as_int64(json_get(p, "cat"), &x));
    ASSERT_EQ_INT(x, cat_of(17));
    ASSERT_STR_EQ(json_as_str(json_get(p, "name")), "p17");
    ASSERT_TRUE(r.points[1].vectors && r.points[1].vectors[0]);
    for (int d = 0; d < DIM; d++) ASSERT_NEAR(r.points[1].vectors[0][d], g_unit[17][d], 1e-6);
    /* Selectors: include one key, no vectors. */
    const char *keys[] = { "color" };
    CollectionSelector inc = { COLLECTION_SEL_INCLUDE, keys, 1 };
    CollectionSelector none = { COLLECTION_SEL_NONE, NULL, 0 };
    ASSERT_OK(collection_get(g_db, "main", ids, 1, &inc, &none, &a, &r));
    ASSERT_EQ_INT(r.n, 1);
    ASSERT_STR_EQ(r.points[0].payload, "{\"color\":\"blue\"}");
    ASSERT_TRUE(r.points[0].vectors == NULL);
    CollectionSelector exc = { COLLECTION_SEL_EXCLUDE, keys, 1 };
    ASSERT_OK(collection_get(g_db, "main", ids, 1, &exc, &none, &a, &r));
    ASSERT_TRUE(strstr(r.points[0].payload, "color") == NULL);
    ASSERT_TRUE(strstr(r.points[0].payload, "\"cat\":5") != NULL);
    arena_free(&a);
}

TEST(test_exact_search_matches_reference)
{
    for (int t = 0; t < 20; t++) {
        float q[DIM];
        make_query(q);
        int ref[10];
        double rs[10];
        int nr = ref_topk(q, 10, NULL, ref, rs);
        uint64_t ids[10];
        float sc[10];
        size_t n;
        ASSERT_OK(search_ids(g_db, "main", q, 10, 1, NULL, ids, sc, &n));
        ASSERT_EQ_INT(n, nr);
        for (size_t i = 0; i < n; i++) {
            ASSERT_NEAR(sc[i], rs[i], 1e-5);
            /* Ids agree except where two scores tie within float error. */
            if (ids[i] != (uint64_t)ref[i]) {
                float qn[DIM];
                normalise(q, qn);
                ASSERT_NEAR(dot_d(qn, g_unit[ids[i]]), rs[i], 1e-5);
            }
        }
    }
}

TEST(test_hnsw_recall)
{
    int hit = 0, total = 0;
    for (int t = 0; t < 50; t++) {
        float q[DIM];
        make_query(q);
        int ref[10];
        double rs[10];
        int nr = ref_topk(q, 10, NULL, ref, rs);
        uint64_t ids[10];
        size_t n;
        ASSERT_OK(search_ids(g_db, "main", q, 10, 0, NULL, ids, NULL, &n));
        for (int i = 0; i < nr; i++)
            for (size_t j = 0; j < n; j++) hit += ids[j] == (uint64_t)ref[i];
        total += nr;
    }
    printf("  recall@10 = %.4f\n", (double)hit / total);
    ASSERT_GE((double)hit / total, 0.95);
}

/* check_filtered compares a filtered search with the reference. */
static void check_filtered(Db *db, const char *filter_json, Pred pred, double min_recall,
                           int *failed)
{
    Arena a;
    arena_init(&a, 0);
    const JsonValue *f = parse(&a, filter_json);
    int hit = 0, total = 0;
    *failed = 0;
    for (int t = 0; t < 20; t++) {
        float q[DIM];
        make_query(q);
        int ref[10];
        double rs[10];
        int nr = ref_topk(q, 10, pred, ref, rs);
        uint64_t ids[10];
        size_t n;
        if (search_ids(db, "main", q, 10, 0, f, ids, NULL, &n)) {
            *failed = 1;
            break;
        }
        for (size_t j = 0; j < n; j++)
            if (!pred((int)ids[j])) *failed = 1; /* a result the filter rejects */
        for (int i = 0; i < nr; i++)
            for (size_t j = 0; j < n; j++) hit += ids[j] == (uint64_t)ref[i];
        total += nr;
    }
    double recall = total ? (double)hit / total : 1;
    printf("  %s: recall@10 = %.4f\n", filter_json, recall);
    if (recall < min_recall) *failed = 1;
    arena_free(&a);
}

TEST(test_filtered_search)
{
    int failed;
    /* Below the scan threshold (2000 points < 5000): exact answers. */
    check_filtered(g_db, "{\"must\":[{\"key\":\"cat\",\"match\":{\"value\":3}},"
                         "{\"key\":\"price\",\"range\":{\"lt\":100}}]}",
                   pred_selective, 1.0, &failed);
    ASSERT_EQ_INT(failed, 0);
    check_filtered(g_db, "{\"must_not\":[{\"key\":\"color\",\"match\":{\"value\":\"red\"}}]}",
                   pred_not_red, 1.0, &failed);
    ASSERT_EQ_INT(failed, 0);
}

TEST(test_filtered_search_hnsw_path)
{
    /* The same data through a Db whose scan threshold is tiny, so broad
     * filters take the HNSW-with-callback path and selective ones still
     * scan: both must stay correct. */
    collection_db_close(g_db);
    DbOptions o = { .full_scan_threshold = 50 };
    g_db = NULL;
    ASSERT_OK(collection_db_open(g_dir, &o, &g_db));
    int failed;
    check_filtered(g_db, "{\"must_not\":[{\"key\":\"color\",\"match\":{\"value\":\"red\"}}]}",
                   pred_not_red, 0.9, &failed);
    ASSERT_EQ_INT(failed, 0);
    check_filtered(g_db, "{\"must\":[{\"key\":\"cat\",\"match\":{\"value\":3}}]}", pred_cat3, 0.9,
                   &failed);
    ASSERT_EQ_INT(failed, 0);
    check_filtered(g_db, "{\"must\":[{\"key\":\"cat\",\"match\":{\"value\":3}},"
                         "{\"key\":\"price\",\"range\":{\"lt\":100}}]}",
                   pred_selective, 1.0, &failed);
    ASSERT_EQ_INT(failed, 0);
    collection_db_close(g_db);
    g_db = NULL;
    ASSERT_OK(collection_db_open(g_dir, NULL, &g_db));
}

TEST(test_filtered_search_sparse_path)
{
    /* A Db that walks any graph it may (no small-collection scan) with a
     * tiny scan threshold, and an index on cat: cat = 3 (1 point in 7)
     * is a share the walk over the matches alone takes, named by the
     * index; must_not red (2 in 3) walks the whole graph. Both against
     * the reference, and the counters show which plan ran. */
    collection_db_close(g_db);
    DbOptions o = { .full_scan_threshold = 50, .full_scan_bytes = 1 };
    g_db = NULL;
    ASSERT_OK(collection_db_open(g_dir, &o, &g_db));
    char err[256];
    CollectionIndexParams ip = { PAYLOAD_INDEX_INTEGER, { 0 }, "" };
    ASSERT_OK(collection_index_create(g_db, "main", "cat", &ip, NULL, err, sizeof err));
    CollectionPlans p0, p1, p2;
    collection_db_plans(g_db, &p0);
    int failed;
    check_filtered(g_db, "{\"must\":[{\"key\":\"cat\",\"match\":{\"value\":3}}]}", pred_cat3, 0.9,
                   &failed);
    ASSERT_EQ_INT(failed, 0);
    collection_db_plans(g_db, &p1);
    ASSERT_EQ_U64(p1.sparse - p0.sparse, 20);
    check_filtered(g_db, "{\"must_not\":[{\"key\":\"color\",\"match\":{\"value\":\"red\"}}]}",
                   pred_not_red, 0.9, &failed);
    ASSERT_EQ_INT(failed, 0);
    collection_db_plans(g_db, &p2);
    ASSERT_EQ_U64(p2.walk - p1.walk, 20);
    ASSERT_EQ_U64(p2.sparse, p1.sparse);
    ASSERT_OK(collection_index_delete(g_db, "main", "cat", NULL));
    /* Without the index nothing names the matches: the same share
     * walks the whole graph with the filter, as correct. */
    check_filtered(g_db, "{\"must\":[{\"key\":\"cat\",\"match\":{\"value\":3}}]}", pred_cat3, 0.9,
                   &failed);
    ASSERT_EQ_INT(failed, 0);
    collection_db_plans(g_db, &p1);
    ASSERT_EQ_U64(p1.sparse, p2.sparse);
    ASSERT_EQ_U64(p1.walk - p2.walk, 20);
    collection_db_close(g_db);
    g_db = NULL;
    ASSERT_OK(collection_db_open(g_dir, NULL, &g_db));
}

static int pred_u3(int i) { return i % 11 == 3; }

TEST(test_filtered_search_payload_block)
{
    /* A keyword index on tags: u0..u10 each name 1 point in 11, a share
     * the planner would scan or walk alone; with the threshold at 50
     * each gets a payload block, built in the background. A search
     * filtered to u3 walks it (the counter says so), against the
     * reference; a point written after the block was built is found at
     * once; dropping the index drops the blocks. */
    collection_db_close(g_db);
    DbOptions o = { .full_scan_threshold = 50, .full_scan_bytes = 1 };
    g_db = NULL;
    ASSERT_OK(collection_db_open(g_dir, &o, &g_db));
    char err[256];
    CollectionIndexParams ip = { PAYLOAD_INDEX_KEYWORD, { 0 }, "" };
    ASSERT_OK(collection_index_create(g_db, "main", "tags", &ip, NULL, err, sizeof err));
    size_t want = 0;
    for (int i = 0; i < N_POINTS; i++) want += g_live[i];
    CollectionInfo info;
    for (int t = 0; t < 3000; t++) {
        ASSERT_OK(collection_info(g_db, "main", &info));
        if (info.payload_blocks == 11 && info.payload_block_points == want) break;
        usleep(10000);
    }
    printf("  %zu blocks, %zu points, %zu bytes\n", info.payload_blocks, info.payload_block_points,
           info.payload_block_bytes);
    ASSERT_EQ_U64(info.payload_blocks, 11);
    ASSERT_EQ_U64(info.payload_block_points, want);
    const char *u3 = "{\"must\":[{\"key\":\"tags\",\"match\":{\"value\":\"u3\"}}]}";
    CollectionPlans p0, p1;
    collection_db_plans(g_db, &p0);
    int failed;
    check_filtered(g_db, u3, pred_u3, 0.95, &failed);
    ASSERT_EQ_INT(failed, 0);
    collection_db_plans(g_db, &p1);
    ASSERT_EQ_U64(p1.block - p0.block, 20);

    /* Written after the pass: not a member yet, found by the scan of
     * the non-members beside the walk. */
    Arena a;
    arena_init(&a, 0);
    float v[DIM];
    for (int d = 0; d < DIM; d++) v[d] = g_vec[14][d] + 0.01f * (float)(d % 3);
    CollectionVectorIn vin = { NULL, v, DIM, NULL, NULL };
    CollectionPointIn pt = { point_id_num(700000), parse(&a, "{\"tags\":[\"u3\"]}"), &vin, 1 };
    ASSERT_OK(collection_upsert(g_db, "main", &pt, 1, err, sizeof err));
    uint64_t ids[10];
    float sc[10];
    size_t n;
    ASSERT_OK(search_ids(g_db, "main", v, 10, 0, parse(&a, u3), ids, sc, &n));
    ASSERT_TRUE(n > 0);
    ASSERT_EQ_U64(ids[0], 700000);
    collection_db_plans(g_db, &p0);
    ASSERT_EQ_U64(p0.block - p1.block, 1);
    /* Once a member, its vector moves far away (next to a point of
     * another cluster): found by the new one at once (scanned while its
     * block links follow the old one), and after the relink. */
    for (int t = 0; t < 3000; t++) {
        ASSERT_OK(collection_info(g_db, "main", &info));
        if (info.payload_block_points == want + 1) break;
        usleep(10000);
    }
    ASSERT_EQ_U64(info.payload_block_points, want + 1);
    for (int d = 0; d < DIM; d++) v[d] = -g_vec[14][d] + 0.01f * (float)(d % 5);
    ASSERT_OK(collection_upsert(g_db, "main", &pt, 1, err, sizeof err));
    for (int round = 0; round < 2; round++) {
        ASSERT_OK(search_ids(g_db, "main", v, 10, 0, parse(&a, u3), ids, sc, &n));
        ASSERT_TRUE(n > 0);
        ASSERT_EQ_U64(ids[0], 700000);
        ASSERT_TRUE(sc[0] > 0.999f);
        usleep(1500000); /* the blocks thread's next pass relinks it */
    }
    collection_db_plans(g_db, &p0);
    PointId gone = point_id_num(700000);
    size_t nd;
    ASSERT_OK(collection_delete_points(g_db, "main", &gone, 1, &nd));
    arena_free(&a);

    /* An integer index: cat's 7 values (1 point in 7 each) get blocks
     * too, and cat = 3 walks its own. */
    ASSERT_OK(collection_info(g_db, "main", &info));
    size_t tags_points = info.payload_block_points; /* 700000 stays a member */
    CollectionIndexParams ipi = { PAYLOAD_INDEX_INTEGER, { 0 }, "" };
    ASSERT_OK(collection_index_create(g_db, "main", "cat", &ipi, NULL, err, sizeof err));
    for (int t = 0; t < 3000; t++) {
        ASSERT_OK(collection_info(g_db, "main", &info));
        if (info.payload_blocks == 18 && info.payload_block_points == tags_points + want) break;
        usleep(10000);
    }
    ASSERT_EQ_U64(info.payload_blocks, 18);
    ASSERT_EQ_U64(info.payload_block_points, tags_points + want);
    collection_db_plans(g_db, &p0);
    check_filtered(g_db, "{\"must\":[{\"key\":\"cat\",\"match\":{\"value\":3}}]}", pred_cat3, 0.95,
                   &failed);
    ASSERT_EQ_INT(failed, 0);
    collection_db_plans(g_db, &p1);
    ASSERT_EQ_U64(p1.block - p0.block, 20);
    ASSERT_OK(collection_index_delete(g_db, "main", "cat", NULL));
    collection_db_plans(g_db, &p0);

    ASSERT_OK(collection_index_delete(g_db, "main", "tags", NULL));
    ASSERT_OK(collection_info(g_db, "main", &info));
    ASSERT_EQ_U64(info.payload_blocks, 0);
    check_filtered(g_db, u3, pred_u3, 0.9, &failed);
    ASSERT_EQ_INT(failed, 0);
    collection_db_plans(g_db, &p1);
    ASSERT_EQ_U64(p1.block, p0.block);
    collection_db_close(g_db);
    g_db = NULL;
    ASSERT_OK(collection_db_open(g_dir, NULL, &g_db));
}

TEST(test_count_with_filter)
{
    Arena a;
    arena_init(&a, 0);
    struct {
        const char *json;
        Pred pred;
    } cases[] = {
        { "{\"must\":[{\"key\":\"cat\",\"match\":{\"value\":3}}]}", pred_cat3 },
        { "{\"must\":[{\"key\":\"cat\",\"match\":{\"value\":3}},{\"key\":\"price\",\"range\":{\"lt\":100}}]}",
          pred_selective },
        { "{\"must_not\":[{\"key\":\"color\",\"match\":{\"value\":\"red\"}}]}", pred_not_red },
    };
    for (size_t c = 0; c < ARRAY_LEN(cases); c++) {
        uint64_t want = 0;
        for (int i = 0; i < N_POINTS; i++) want += g_live[i] && cases[c].pred(i);
        ASSERT_EQ_U64(count_of(g_db, "main", parse(&a, cases[c].json)), want);
    }
    uint64_t live = 0;
    for (int i = 0; i < N_POINTS; i++) live += g_live[i];
    ASSERT_EQ_U64(count_of(g_db, "main", NULL), live);
    ASSERT_EQ_U64(count_of(g_db, "main", parse(&a, "{\"must\":[{\"has_id\":[1,2,3,99999]}]}")), 3);
    arena_free(&a);
}

TEST(test_bad_input_changes_nothing)
{
    char err[256];
    Arena a;
    arena_init(&a, 0);
    float q[DIM];
    make_query(q);
    uint64_t before_ids[10], after_ids[10];
    float before_sc[10], after_sc[10];
    size_t nb, na;
    ASSERT_OK(search_ids(g_db, "main", q, 10, 0, NULL, before_ids, before_sc, &nb));
    uint64_t before = count_of(g_db, "main", NULL);

    /* A good point first in every batch: the bad one must sink the batch. */
    float good[DIM], wrong[DIM - 1], nan_v[DIM], inf_v[DIM];
    for (int d = 0; d < DIM; d++) good[d] = nan_v[d] = inf_v[d] = 0.5f;
    for (int d = 0; d < DIM - 1; d++) wrong[d] = 1;
    nan_v[7] = NAN;
    inf_v[3] = INFINITY;
    CollectionVectorIn vg = { NULL, good, DIM, NULL, NULL }, vw = { NULL, wrong, DIM - 1, NULL, NULL },
                       vn = { NULL, nan_v, DIM, NULL, NULL }, vi = { NULL, inf_v, DIM, NULL, NULL },
                       vname = { "nope", good, DIM, NULL, NULL };
    CollectionPointIn batch[2] = { { point_id_num(500000), NULL, &vg, 1 },
                                   { point_id_num(500001), NULL, &vw, 1 } };
    ASSERT_EQ_INT(collection_upsert(g_db, "main", batch, 2, err, sizeof err), ERR_INVAL);
    ASSERT_TRUE(strstr(err, "dimension") != NULL);
    batch[1].vectors = &vn;
    ASSERT_EQ_INT(collection_upsert(g_db, "main", batch, 2, err, sizeof err), ERR_INVAL);
    ASSERT_TRUE(strstr(err, "NaN") != NULL);
    batch[1].vectors = &vi;
    ASSERT_EQ_INT(collection_upsert(g_db, "main", batch, 2, err, sizeof err), ERR_INVAL);
    batch[1].vectors = &vname;
    ASSERT_EQ_INT(collection_upsert(g_db, "main", batch, 2, err, sizeof err), ERR_INVAL);
    batch[1].vectors = &vg;
    batch[1].payload = parse(&a, "[1,2]");
    ASSERT_EQ_INT(collection_upsert(g_db, "main", batch, 2, err, sizeof err), ERR_INVAL);
    batch[1].payload = NULL;
    ASSERT_EQ_INT(collection_upsert(g_db, "nosuch", batch, 2, err, sizeof err), ERR_NOTFOUND);

    /* Reads with bad input. */
    CollectionSearch s = { 0 };
    CollectionResult r;
    s.vector = q;
    s.dim = DIM;
    s.filter = parse(&a, "{\"must\":[{\"key\":\"cat\",\"range\":\"oops\"}]}");
    ASSERT_EQ_INT(collection_search(g_db, "main", &s, &a, &r, err, sizeof err), ERR_INVAL);
    uint64_t n;
    ASSERT_EQ_INT(collection_count(g_db, "main", s.filter, &n, err, sizeof err), ERR_INVAL);
    size_t nd;
    ASSERT_EQ_INT(collection_delete_by_filter(g_db, "main", s.filter, &nd, err, sizeof err), ERR_INVAL);
    s.filter = NULL;
    s.dim = DIM - 1;
    ASSERT_EQ_INT(collection_search(g_db, "main", &s, &a, &r, err, sizeof err), ERR_INVAL);
    s.dim = DIM;
    s.vector = nan_v;
    ASSERT_EQ_INT(collection_search(g_db, "main", &s, &a, &r, err, sizeof err), ERR_INVAL);
    s.vector = q;
    ASSERT_EQ_INT(collection_search(g_db, "nosuch", &s, &a, &r, err, sizeof err), ERR_NOTFOUND);
    s.using = "image";
    ASSERT_EQ_INT(collection_search(g_db, "main", &s, &a, &r, err, sizeof err), ERR_INVAL);
    /* Payload update naming a missing point: nothing changes. */
    PointId pid[2] = { point_id_num(1), point_id_num(777777) };
    CollectionPayloadUpdate pu = { .ids = pid, .n_ids = 2, .payload = parse(&a, "{\"cat\":100}") };
    ASSERT_EQ_INT(collection_set_payload(g_db, "main", &pu, err, sizeof err), ERR_NOTFOUND);
    ASSERT_EQ_U64(count_of(g_db, "main", parse(&a, "{\"must\":[{\"key\":\"cat\",\"match\":{\"value\":100}}]}")), 0);

    ASSERT_EQ_U64(count_of(g_db, "main", NULL), before);
    ASSERT_OK(search_ids(g_db, "main", q, 10, 0, NULL, after_ids, after_sc, &na));
    ASSERT_EQ_INT(na, nb);
    for (size_t i = 0; i < na; i++) {
        ASSERT_EQ_U64(after_ids[i], before_ids[i]);
        ASSERT_TRUE(after_sc[i] == before_sc[i]);
    }
    arena_free(&a);
}

TEST(test_scroll_covers_all_in_order)
{
    Arena a;
    arena_init(&a, 0);
    const char *filters[] = { NULL, "{\"must\":[{\"key\":\"cat\",\"match\":{\"value\":3}}]}" };
    Pred preds[] = { NULL, pred_cat3 };
    for (int fi = 0; fi < 2; fi++) {
        const JsonValue *f = filters[fi] ? parse(&a, filters[fi]) : NULL;
        int seen[N_POINTS] = { 0 };
        PointId offset;
        int have_offset = 0, pages = 0;
        int64_t last = -1;
        for (;;) {
            CollectionScroll s = { 0 };
            s.offset = have_offset ? &offset : NULL;
            s.limit = 37;
            s.filter = f;
            s.with_payload.mode = COLLECTION_SEL_NONE;
            CollectionResult r;
            char err[128];
            ASSERT_OK(collection_scroll(g_db, "main", &s, &a, &r, err, sizeof err));
            pages++;
            for (size_t i = 0; i < r.n; i++) {
                int64_t id = (int64_t)r.points[i].id.num;
                ASSERT_TRUE(id > last);
                last = id;
                ASSERT_TRUE(id < N_POINTS);
                seen[id]++;
            }
            if (!r.has_next) break;
            ASSERT_EQ_INT(r.n, 37);
            offset = r.next_offset;
            have_offset = 1;
        }
        for (int i = 0; i < N_POINTS; i++) {
            int want = g_live[i] && (!preds[fi] || preds[fi](i));
            if (seen[i] != want) HARNESS_FAIL("point %d seen %d times, want %d", i, seen[i], want);
        }
        ASSERT_TRUE(pages > 1);
    }
    arena_free(&a);
}

TEST(test_uuid_ids_order)
{
    char err[256];
    CollectionConfig cfg = { .n_vectors = 1, .unnamed = 1 };
    cfg.vectors[0].size = 4;
    cfg.vectors[0].distance = COLLECTION_DOT;
    ASSERT_OK(collection_create(g_db, "mixed", &cfg, err, sizeof err));
    const char *uuids[] = { "ffffffff-0000-0000-0000-000000000000",
                            "00000000-0000-0000-0000-000000000001", "7a000000-1111-2222-3333-444455556666" };
    float v[4] = { 1, 2, 3, 4 };
    CollectionVectorIn vin = { NULL, v, 4, NULL, NULL };
    CollectionPointIn p[6];
    for (int i = 0; i < 3; i++) {
        ASSERT_OK(point_id_from_str(uuids[i], strlen(uuids[i]), &p[i].id));
        p[i].payload = NULL;
        p[i].vectors = &vin;
        p[i].n_vectors = 1;
    }
    uint64_t nums[] = { 1000, 3, UINT64_MAX };
    for (int i = 0; i < 3; i++) p[3 + i] = (CollectionPointIn){ point_id_num(nums[i]), NULL, &vin, 1 };
    ASSERT_OK(collection_upsert(g_db, "mixed", p, 6, err, sizeof err));
    Arena a;
    arena_init(&a, 0);
    CollectionScroll s = { 0 };
    s.limit = 100;
    CollectionResult r;
    ASSERT_OK(collection_scroll(g_db, "mixed", &s, &a, &r, err, sizeof err));
    ASSERT_EQ_INT(r.n, 6);
    for (size_t i = 1; i < r.n; i++) ASSERT_TRUE(point_id_cmp(&r.points[i - 1].id, &r.points[i].id) < 0);
    ASSERT_EQ_U64(r.points[0].id.num, 3);
    ASSERT_EQ_INT(r.points[3].id.kind, POINT_ID_UUID);
    ASSERT_EQ_INT(r.has_next, 0);
    /* Dot product is not normalised. */
    CollectionSelector all = { COLLECTION_SEL_ALL, NULL, 0 };
    ASSERT_OK(collection_get(g_db, "mixed", &p[4].id, 1, &all, &all, &a, &r));
    ASSERT_TRUE(r.points[0].vectors[0][3] == 4.0f);
    arena_free(&a);
    ASSERT_OK(collection_delete(g_db, "mixed"));
}

TEST(test_recommend)
{
    char err[256];
    Arena a;
    arena_init(&a, 0);
    PointId pos[2] = { point_id_num(10), point_id_num(20) }, neg[1] = { point_id_num(30) };
    /* average_vector == a search for avg(pos) + avg(pos) - avg(neg). */
    float q[DIM];
    for (int d = 0; d < DIM; d++) {
        float ap = (g_unit[10][d] + g_unit[20][d]) / 2;
        q[d] = ap + ap - g_unit[30][d];
    }
    CollectionRecommend rq = { 0 };
    rq.positive = pos;
    rq.n_positive = 2;
    rq.negative = neg;
    rq.n_negative = 1;
    rq.strategy = COLLECTION_RECO_AVERAGE_VECTOR;
    rq.search.limit = 10;
    rq.search.exact = 1;
    CollectionResult r;
    ASSERT_OK(collection_recommend(g_db, "main", &rq, &a, &r, err, sizeof err));
    ASSERT_EQ_INT(r.n, 10);
    int ref[13];
    double rs[13];
    int nr = ref_topk(q, 13, NULL, ref, rs);
    int j = 0;
    for (int i = 0; i < nr && j < 10; i++) {
        if (ref[i] == 10 || ref[i] == 20 || ref[i] == 30) continue;
        ASSERT_NEAR(r.points[j].score, rs[i], 1e-4);
        j++;
    }
    for (size_t i = 0; i < r.n; i++) {
        uint64_t id = r.points[i].id.num;
        ASSERT_TRUE(id != 10 && id != 20 && id != 30);
    }
    /* best_score, exact: reference formula over every point. */
    rq.strategy = COLLECTION_RECO_BEST_SCORE;
    ASSERT_OK(collection_recommend(g_db, "main", &rq, &a, &r, err, sizeof err));
    ASSERT_EQ_INT(r.n, 10);
    double best_ref = -10;
    int best_id = -1;
    for (int i = 0; i < N_POINTS; i++) {
        if (!g_live[i] || i == 10 || i == 20 || i == 30) continue;
        double bp = fmax(dot_d(g_unit[i], g_unit[10]), dot_d(g_unit[i], g_unit[20]));
        double bn = dot_d(g_unit[i], g_unit[30]);
        double s = bp > bn ? 0.5 * (bp / (1 + fabs(bp)) + 1) : -0.5 * (bn / (1 + fabs(bn)) + 1);
        if (s > best_ref) {
            best_ref = s;
            best_id = i;
        }
    }
    ASSERT_NEAR(r.points[0].score, best_ref, 1e-5);
    (void)best_id;
    for (size_t i = 1; i < r.n; i++) ASSERT_TRUE(r.points[i - 1].score >= r.points[i].score);
    /* sum_scores, approximate through HNSW: still excludes the inputs. */
    rq.strategy = COLLECTION_RECO_SUM_SCORES;
    rq.search.exact = 0;
    ASSERT_OK(collection_recommend(g_db, "main", &rq, &a, &r, err, sizeof err));
    ASSERT_EQ_INT(r.n, 10);
    for (size_t i = 0; i < r.n; i++) {
        uint64_t id = r.points[i].id.num;
        ASSERT_TRUE(id != 10 && id != 20 && id != 30);
        double s = dot_d(g_unit[id], g_unit[10]) + dot_d(g_unit[id], g_unit[20]) -
                   dot_d(g_unit[id], g_unit[30]);
        ASSERT_NEAR(r.points[i].score, s, 1e-4);
    }
    /* Negative-only best_score works; average_vector needs a positive. */
    rq.n_positive = 0;
    rq.strategy = COLLECTION_RECO_BEST_SCORE;
    ASSERT_OK(collection_recommend(g_db, "main", &rq, &a, &r, err, sizeof err));
    ASSERT_TRUE(r.n == 10 && r.points[0].score < 0);
    rq.strategy = COLLECTION_RECO_AVERAGE_VECTOR;
    ASSERT_EQ_INT(collection_recommend(g_db, "main", &rq, &a, &r, err, sizeof err), ERR_INVAL);
    /* An unknown example point. */
    PointId missing = point_id_num(888888);
    rq.positive = &missing;
    rq.n_positive = 1;
    ASSERT_EQ_INT(collection_recommend(g_db, "main", &rq, &a, &r, err, sizeof err), ERR_NOTFOUND);
    /* Raw vectors as examples. */
    const float *raw[1] = { g_vec[40] };
    rq.n_positive = 0;
    rq.n_negative = 0;
    rq.positive_vectors = raw;
    rq.n_positive_vectors = 1;
    rq.search.exact = 1;
    rq.search.dim = DIM - 1;
    ASSERT_EQ_INT(collection_recommend(g_db, "main", &rq, &a, &r, err, sizeof err), ERR_INVAL);
    rq.search.dim = DIM;
    ASSERT_OK(collection_recommend(g_db, "main", &rq, &a, &r, err, sizeof err));
    ASSERT_EQ_U64(r.points[0].id.num, 40); /* not an input id, so not excluded */
    ASSERT_NEAR(r.points[0].score, 1.0, 1e-5);
    arena_free(&a);
}

TEST(test_payload_updates)
{
    char err[256];
    Arena a;
    arena_init(&a, 0);
    PointId ids[2] = { point_id_num(100), point_id_num(101) };
    CollectionSelector all = { COLLECTION_SEL_ALL, NULL, 0 }, none = { 0, NULL, 0 };
    CollectionResult r;
    CollectionPayloadUpdate u = { .ids = ids, .n_ids = 2,
                                  .payload = parse(&a, "{\"cat\":42,\"new\":true}") };
    ASSERT_OK(collection_set_payload(g_db, "main", &u, err, sizeof err));
    ASSERT_OK(collection_get(g_db, "main", ids, 2, &all, &none, &a, &r));
    const JsonValue *p = parse(&a, r.points[0].payload);
    int64_t x;
    ASSERT_OK(json_as_int64(json_get(p, "cat"), &x));
    ASSERT_EQ_INT(x, 42);
    ASSERT_STR_EQ(json_as_str(json_get(p, "name")), "p100"); /* merged, not replaced */
    /* By filter. */
    u = (CollectionPayloadUpdate){
        .filter = parse(&a, "{\"must\":[{\"key\":\"cat\",\"match\":{\"value\":42}}]}"),
        .keys = parse(&a, "[\"new\",\"tags\"]") };
    ASSERT_OK(collection_delete_payload(g_db, "main", &u, err, sizeof err));
    ASSERT_OK(collection_get(g_db, "main", ids, 1, &all, &none, &a, &r));
    ASSERT_TRUE(strstr(r.points[0].payload, "new") == NULL);
    ASSERT_TRUE(strstr(r.points[0].payload, "tags") == NULL);
    u = (CollectionPayloadUpdate){ .ids = ids, .n_ids = 1, .payload = parse(&a, "{\"only\":1}") };
    ASSERT_OK(collection_overwrite_payload(g_db, "main", &u, err, sizeof err));
    ASSERT_OK(collection_get(g_db, "main", ids, 1, &all, &none, &a, &r));
    ASSERT_STR_EQ(r.points[0].payload, "{\"only\":1}");
    u = (CollectionPayloadUpdate){ .ids = ids, .n_ids = 2 };
    ASSERT_OK(collection_clear_payload(g_db, "main", &u, err, sizeof err));
    ASSERT_OK(collection_get(g_db, "main", ids, 2, &all, &none, &a, &r));
    ASSERT_STR_EQ(r.points[0].payload, "{}");
    ASSERT_STR_EQ(r.points[1].payload, "{}");
    /* Restore them, so later tests see the generator's payloads. */
    ASSERT_OK(upsert_range(g_db, "main", 100, 102));
    arena_free(&a);
}

TEST(test_delete_by_ids_and_filter)
{
    char err[256];
    Arena a;
    arena_init(&a, 0);
    PointId ids[3] = { point_id_num(1), point_id_num(2), point_id_num(654321) };
    size_t nd;
    ASSERT_OK(collection_delete_points(g_db, "main", ids, 3, &nd));
    ASSERT_EQ_INT(nd, 2);
    g_live[1] = g_live[2] = 0;
    /* A deleted point is not found by a search for its own vector. */
    uint64_t out[10];
    size_t n;
    ASSERT_OK(search_ids(g_db, "main", g_vec[1], 10, 0, NULL, out, NULL, &n));
    for (size_t i = 0; i < n; i++) ASSERT_TRUE(out[i] != 1);
    const JsonValue *f = parse(&a, "{\"must\":[{\"key\":\"cat\",\"match\":{\"value\":5}},"
                                  "{\"key\":\"color\",\"match\":{\"value\":\"green\"}}]}");
    uint64_t want = 0;
    for (int i = 0; i < N_POINTS; i++) want += g_live[i] && cat_of(i) == 5 && i % 3 == 1;
    ASSERT_TRUE(want > 0);
    ASSERT_OK(collection_delete_by_filter(g_db, "main", f, &nd, err, sizeof err));
    ASSERT_EQ_U64(nd, want);
    for (int i = 0; i < N_POINTS; i++)
        if (cat_of(i) == 5 && i % 3 == 1) g_live[i] = 0;
    ASSERT_EQ_U64(count_of(g_db, "main", f), 0);
    uint64_t live = 0;
    for (int i = 0; i < N_POINTS; i++) live += g_live[i];
    ASSERT_EQ_U64(count_of(g_db, "main", NULL), live);
    /* Exact search agrees with the reference after deletes. */
    float q[DIM];
    make_query(q);
    int ref[10];
    double rs[10];
    ref_topk(q, 10, NULL, ref, rs);
    ASSERT_OK(search_ids(g_db, "main", q, 10, 1, NULL, out, NULL, &n));
    ASSERT_EQ_U64(out[0], ref[0]);
    /* Re-insert: nodes are reused, the points come back. */
    ASSERT_OK(upsert_range(g_db, "main", 0, 200));
    live = 0;
    for (int i = 0; i < N_POINTS; i++) live += g_live[i];
    ASSERT_EQ_U64(count_of(g_db, "main", NULL), live);
    ASSERT_OK(search_ids(g_db, "main", g_vec[1], 10, 0, NULL, out, NULL, &n));
    ASSERT_EQ_U64(out[0], 1);
    arena_free(&a);
}

TEST(test_named_vectors_and_euclid)
{
    char err[256];
    CollectionConfig cfg = { .n_vectors = 2 };
    snprintf(cfg.vectors[0].name, sizeof cfg.vectors[0].name, "image");
    cfg.vectors[0].size = DIM;
    cfg.vectors[0].distance = COLLECTION_COSINE;
    snprintf(cfg.vectors[1].name, sizeof cfg.vectors[1].name, "text");
    cfg.vectors[1].size = 8;
    cfg.vectors[1].distance = COLLECTION_EUCLID;
    ASSERT_OK(collection_create(g_db, "named", &cfg, err, sizeof err));
    float text[100][8];
    CollectionPointIn p[100];
    CollectionVectorIn vin[100][2];
    for (int i = 0; i < 100; i++) {
        for (int d = 0; d < 8; d++) text[i][d] = (float)((i * 7 + d * 3) % 17);
        vin[i][0] = (CollectionVectorIn){ "image", g_vec[i], DIM, NULL, NULL };
        vin[i][1] = (CollectionVectorIn){ "text", text[i], 8, NULL, NULL };
        /* Odd points have no text vector. */
        p[i] = (CollectionPointIn){ point_id_num((uint64_t)i), NULL, vin[i], i % 2 ? 1 : 2 };
    }
    ASSERT_OK(collection_upsert(g_db, "named", p, 100, err, sizeof err));
    CollectionInfo info;
    ASSERT_OK(collection_info(g_db, "named", &info));
    ASSERT_EQ_U64(info.points_count, 100);
    ASSERT_EQ_U64(info.vectors_count, 150);
    Arena a;
    arena_init(&a, 0);
    CollectionSearch s = { 0 };
    s.using = "text";
    s.vector = text[10];
    s.dim = 8;
    s.limit = 100;
    CollectionResult r;
    ASSERT_OK(collection_search(g_db, "named", &s, &a, &r, err, sizeof err));
    ASSERT_TRUE(r.n <= 50);
    ASSERT_EQ_U64(r.points[0].id.num, 10);
    ASSERT_NEAR(r.points[0].score, 0, 1e-6);
    for (size_t i = 0; i < r.n; i++) ASSERT_EQ_INT(r.points[i].id.num % 2, 0);
    for (size_t i = 1; i < r.n; i++) ASSERT_TRUE(r.points[i - 1].score <= r.points[i].score);
    /* Reference distance for the second hit. */
    uint64_t id1 = r.points[1].id.num;
    double d2 = 0;
    for (int d = 0; d < 8; d++) d2 += (double)(text[id1][d] - text[10][d]) * (text[id1][d] - text[10][d]);
    ASSERT_NEAR(r.points[1].score, sqrt(d2), 1e-4);
    /* Euclid threshold keeps distances <= t. */
    s.has_score_threshold = 1;
    s.score_threshold = 12.0f;
    ASSERT_OK(collection_search(g_db, "named", &s, &a, &r, err, sizeof err));
    for (size_t i = 0; i < r.n; i++) ASSERT_LE(r.points[i].score, 12.0);
    /* Unnamed query against a named collection is an error. */
    s.using = NULL;
    ASSERT_EQ_INT(collection_search(g_db, "named", &s, &a, &r, err, sizeof err), ERR_INVAL);
    /* with_vectors by name. */
    const char *names[] = { "text" };
    CollectionSelector wv = { COLLECTION_SEL_INCLUDE, names, 1 }, none = { 0, NULL, 0 };
    PointId id2 = point_id_num(2);
    ASSERT_OK(collection_get(g_db, "named", &id2, 1, &none, &wv, &a, &r));
    ASSERT_TRUE(r.points[0].vectors[0] == NULL && r.points[0].vectors[1] != NULL);
    for (int d = 0; d < 8; d++) ASSERT_TRUE(r.points[0].vectors[1][d] == text[2][d]);
    arena_free(&a);
    ASSERT_OK(collection_delete(g_db, "named"));
}

/* One writer and two readers at once: no errors, the readers searched
 * while the writer wrote, and the final state is the writer's. */
#define N_READERS 2
/* How long the writer waits for the readers to make progress before the
 * test fails instead of hanging (generous for sanitizer builds). */
#define READER_WAIT_NS (60ull * 1000 * 1000 * 1000)
static Db *t_db;
static int t_stop;                 /* atomic */
static int t_errors;               /* atomic */
static uint64_t t_searches[N_READERS]; /* per reader, atomic */

static void *reader_main(void *arg)
{
    int me = (int)(intptr_t)arg;
    float q[DIM];
    uint64_t state = 12345 + (uint64_t)me;
    while (!__atomic_load_n(&t_stop, __ATOMIC_SEQ_CST)) {
        for (int d = 0; d < DIM; d++) {
            state = state * 6364136223846793005ULL + 1442695040888963407ULL;
            q[d] = (float)((state >> 33) % 1000) / 500.0f - 1.0f;
        }
        uint64_t ids[10];
        size_t n;
        if (search_ids(t_db, "main", q, 10, 0, NULL, ids, NULL, &n)) __atomic_fetch_add(&t_errors, 1, __ATOMIC_SEQ_CST);
        Arena a;
        arena_init(&a, 0);
        const JsonValue *f = parse(&a, "{\"must\":[{\"key\":\"cat\",\"match\":{\"value\":1}}]}");
        if (search_ids(t_db, "main", q, 5, 0, f, ids, NULL, &n)) __atomic_fetch_add(&t_errors, 1, __ATOMIC_SEQ_CST);
        for (size_t i = 0; i < n; i++)
            if (ids[i] < N_POINTS && cat_of((int)ids[i]) != 1) __atomic_fetch_add(&t_errors, 1, __ATOMIC_SEQ_CST);
        arena_free(&a);
        __atomic_fetch_add(&t_searches[me], 2, __ATOMIC_SEQ_CST);
    }
    return NULL;
}

/* readers_progress waits until every reader has finished a search pair
 * after the counts in since; 0, or -1 at the deadline. */
static int readers_progress(const uint64_t *since)
{
    uint64_t deadline = now_ns() + READER_WAIT_NS;
    for (int i = 0; i < N_READERS; i++)
        while (__atomic_load_n(&t_searches[i], __ATOMIC_SEQ_CST) <= since[i]) {
            if (now_ns() > deadline) return -1;
            usleep(1000);
        }
    return 0;
}

/* The writer's part: delete and re-insert a range, twice, each round
 * while the readers search (each must finish a search during or after the
 * round's writes before the next begins). Returns early on a failed
 * assert; the caller stops the readers either way. */
static void concurrent_writes(void)
{
    uint64_t seen[N_READERS] = { 0 };
    if (readers_progress(seen)) HARNESS_FAIL("the readers did not start searching");
    PointId ids[100];
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < N_READERS; i++) seen[i] = __atomic_load_n(&t_searches[i], __ATOMIC_SEQ_CST);
        for (int i = 0; i < 100; i++) ids[i] = point_id_num((uint64_t)(300 + i));
        size_t nd;
        ASSERT_OK(collection_delete_points(g_db, "main", ids, 100, &nd));
        ASSERT_OK(upsert_range(g_db, "main", 300, 400));
        if (readers_progress(seen)) HARNESS_FAIL("the readers stopped searching in round %d", round);
    }
}

TEST(test_concurrent_readers_and_writer)
{
    t_db = g_db;
    __atomic_store_n(&t_stop, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&t_errors, 0, __ATOMIC_SEQ_CST);
    pthread_t th[N_READERS];
    int started = 0;
    for (int i = 0; i < N_READERS; i++) {
        __atomic_store_n(&t_searches[i], 0, __ATOMIC_SEQ_CST);
        if (pthread_create(&th[i], NULL, reader_main, (void *)(intptr_t)i) == 0) started++;
    }
    if (started == N_READERS) concurrent_writes();
    /* Also after a failed assert: the readers must stop before the
     * collection they search is closed. */
    __atomic_store_n(&t_stop, 1, __ATOMIC_SEQ_CST);
    for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
    ASSERT_EQ_INT(started, N_READERS);
    uint64_t searches = 0;
    for (int i = 0; i < N_READERS; i++) searches += t_searches[i];
    printf("  %llu searches by %d readers while the writer ran\n", (unsigned long long)searches,
           N_READERS);
    /* Each reader searched at the start and in both rounds. */
    for (int i = 0; i < N_READERS; i++) ASSERT_GE((double)t_searches[i], 3 * 2);
    ASSERT_EQ_INT(t_errors, 0);
    uint64_t live = 0;
    for (int i = 0; i < N_POINTS; i++) live += g_live[i];
    ASSERT_EQ_U64(count_of(g_db, "main", NULL), live);
}

/* matches_ref: the hits are the brute-force top 10 of q over every
 * point (ids equal except where two scores tie within float error). */
static int matches_ref(const float *q, const uint64_t *ids, const float *sc, size_t n)
{
    int ref[10];
    double rs[10];
    int nr = ref_topk(q, 10, NULL, ref, rs);
    if ((int)n != nr) return 0;
    float qn[DIM];
    normalise(q, qn);
    for (size_t i = 0; i < n; i++) {
        if (fabs(sc[i] - rs[i]) > 1e-5) return 0;
        if (ids[i] != (uint64_t)ref[i] && fabs(dot_d(qn, g_unit[ids[i]]) - rs[i]) > 1e-5) return 0;
    }
    return 1;
}

/* check_queries runs N_EXACT_QUERIES fixed queries on coll with a small
 * ef; *exact counts those equal to the brute-force top 10. */
#define N_EXACT_QUERIES 40
static int check_queries(Db *db, const char *coll, int *exact)
{
    uint64_t saved = rng_state;
    rng_state = 0x9E3779B97F4A7C15ULL;
    *exact = 0;
    int e = 0;
    for (int t = 0; t < N_EXACT_QUERIES && !e; t++) {
        float q[DIM], sc[10];
        uint64_t got[10];
        size_t n = 0;
        make_query(q);
        e = search_hits(db, coll, q, 10, 0, 10, NULL, got, sc, &n);
        if (!e) *exact += matches_ref(q, got, sc, n);
    }
    rng_state = saved;
    return e;
}

/* A vector flagged exact_only (Qdrant's hnsw m = 0) is scored exactly by
 * search and recommend even where the planner would walk its graph (the
 * full-scan size lowered to 1 byte, a sparse graph, a small ef), and the
 * flag survives close/reopen and changes with collection_update: off, the
 * graph is built (the nodes were bare) and walked; on again, that graph
 * is kept as it is. Runs
 * last: its upserts mark every point live for ref_topk. */
TEST(test_exact_only_vector)
{
    char err[256];
    collection_db_close(g_db);
    g_db = NULL;
    DbOptions o = { .full_scan_bytes = 1 };
    ASSERT_OK(collection_db_open(g_dir, &o, &g_db));
    /* The same points in two collections with the sparsest graph there
     * is, one of them flagged. */
    CollectionConfig cfg = { .n_vectors = 1, .unnamed = 1, .m = COLLECTION_MIN_M,
                             .ef_construct = COLLECTION_MIN_EF_CONSTRUCT };
    cfg.vectors[0].size = DIM;
    cfg.vectors[0].distance = COLLECTION_COSINE;
    ASSERT_OK(collection_create(g_db, "graph", &cfg, err, sizeof err));
    cfg.vectors[0].exact_only = 1;
    ASSERT_OK(collection_create(g_db, "nograph", &cfg, err, sizeof err));
    ASSERT_OK(upsert_range(g_db, "graph", 0, N_POINTS));
    ASSERT_OK(upsert_range(g_db, "nograph", 0, N_POINTS));

    /* The graph alone misses some of the true top 10: these searches do
     * walk it. */
    int exact_graph, exact;
    ASSERT_OK(check_queries(g_db, "graph", &exact_graph));
    printf("  graph: %d of %d queries exact; exact_only: ", exact_graph, N_EXACT_QUERIES);
    ASSERT_TRUE(exact_graph < N_EXACT_QUERIES);
    ASSERT_OK(check_queries(g_db, "nograph", &exact));
    printf("%d\n", exact);
    ASSERT_EQ_INT(exact, N_EXACT_QUERIES);

    /* A recommendation (average_vector, a search for 2 x pos - neg)
     * through the planner too. */
    Arena a;
    arena_init(&a, 0);
    PointId pos = point_id_num(11), neg = point_id_num(12);
    CollectionRecommend rq = { 0 };
    rq.positive = &pos;
    rq.n_positive = 1;
    rq.negative = &neg;
    rq.n_negative = 1;
    rq.strategy = COLLECTION_RECO_AVERAGE_VECTOR;
    rq.search.limit = 10;
    rq.search.ef = 10;
    CollectionResult r;
    ASSERT_OK(collection_recommend(g_db, "nograph", &rq, &a, &r, err, sizeof err));
    float q[DIM];
    for (int d = 0; d < DIM; d++) q[d] = 2 * g_unit[11][d] - g_unit[12][d];
    int ref[12];
    double rs[12];
    int nr = ref_topk(q, 12, NULL, ref, rs);
    size_t j = 0;
    for (int i = 0; i < nr && j < r.n; i++) {
        if (ref[i] == 11 || ref[i] == 12) continue;
        ASSERT_NEAR(r.points[j].score, rs[i], 1e-4);
        j++;
    }
    ASSERT_EQ_INT(j, 10);
    arena_free(&a);

    /* The flag survives close and reopen. */
    collection_db_close(g_db);
    g_db = NULL;
    ASSERT_OK(collection_db_open(g_dir, &o, &g_db));
    CollectionInfo info;
    ASSERT_OK(collection_info(g_db, "nograph", &info));
    ASSERT_EQ_INT(info.config.vectors[0].exact_only, 1);
    ASSERT_OK(collection_info(g_db, "graph", &info));
    ASSERT_EQ_INT(info.config.vectors[0].exact_only, 0);
    ASSERT_OK(check_queries(g_db, "nograph", &exact));
    ASSERT_EQ_INT(exact, N_EXACT_QUERIES);

    /* Off: the graph, bare until now, is built and walked (and misses,
     * as the twin's). */
    CollectionGraphLinks gl;
    ASSERT_OK(collection_graph_links(g_db, "nograph", NULL, &gl));
    ASSERT_EQ_U64(gl.nodes, N_POINTS);
    ASSERT_EQ_U64(gl.linked, 0);
    CollectionUpdate up = { .set_exact_only = 1 };
    ASSERT_OK(collection_update(g_db, "nograph", &up, err, sizeof err));
    ASSERT_OK(collection_info(g_db, "nograph", &info));
    ASSERT_EQ_INT(info.config.vectors[0].exact_only, 0);
    ASSERT_OK(collection_graph_links(g_db, "nograph", NULL, &gl));
    ASSERT_EQ_U64(gl.linked, N_POINTS);
    ASSERT_OK(check_queries(g_db, "nograph", &exact));
    ASSERT_TRUE(exact < N_EXACT_QUERIES);
    uint64_t digest, digest_after;
    ASSERT_OK(collection_graph_digest(g_db, "nograph", NULL, &digest));
    /* An update made for options that have changed since is refused and
     * changes nothing; made for the current ones, it applies. */
    up.exact_only[0] = 1;
    up.if_options = "{\"hnsw_config\":{\"m\":0}}";
    ASSERT_EQ_INT(collection_update(g_db, "nograph", &up, err, sizeof err), ERR_BUSY);
    ASSERT_OK(collection_info(g_db, "nograph", &info));
    ASSERT_EQ_INT(info.config.vectors[0].exact_only, 0);
    /* On again, and so after a reopen. */
    up.if_options = info.config.options;
    ASSERT_OK(collection_update(g_db, "nograph", &up, err, sizeof err));
    ASSERT_OK(check_queries(g_db, "nograph", &exact));
    ASSERT_EQ_INT(exact, N_EXACT_QUERIES);
    ASSERT_OK(collection_graph_digest(g_db, "nograph", NULL, &digest_after));
    ASSERT_EQ_U64(digest_after, digest);
    collection_db_close(g_db);
    g_db = NULL;
    ASSERT_OK(collection_db_open(g_dir, &o, &g_db));
    ASSERT_OK(collection_info(g_db, "nograph", &info));
    ASSERT_EQ_INT(info.config.vectors[0].exact_only, 1);
    ASSERT_OK(check_queries(g_db, "nograph", &exact));
    ASSERT_EQ_INT(exact, N_EXACT_QUERIES);
    ASSERT_OK(collection_graph_digest(g_db, "nograph", NULL, &digest_after));
    ASSERT_EQ_U64(digest_after, digest);
    ASSERT_OK(collection_delete(g_db, "graph"));
    ASSERT_OK(collection_delete(g_db, "nograph"));
}

/* ---- an exact_only vector's graph is bare until the flag clears ---- */

#define B_N 3000    /* points of the first upload */
#define B_MORE 200  /* points added once the flag is on again */
#define B_K 10
static float b_vec[B_N + B_MORE][DIM];  /* each point's current vector, as upserted */
static float b_unit[B_N + B_MORE][DIM]; /* normalised, as cosine stores them */
static int b_live[B_N + B_MORE];

static void b_make(int i, const float (*centres)[DIM])
{
    int c = (int)(rng_next() % N_CLUSTERS);
    for (int d = 0; d < DIM; d++) b_vec[i][d] = centres[c][d] + 0.6f * rng_gauss();
    normalise(b_vec[i], b_unit[i]);
}

/* b_upsert upserts points from, from + step, ... below to with their
 * current vectors, 100 to a write. */
static int b_upsert(Db *db, const char *coll, int from, int to, int step)
{
    char err[256];
    CollectionPointIn pts[100];
    CollectionVectorIn vin[100];
    size_t n = 0;
    for (int i = from; i < to; i += step) {
        vin[n] = (CollectionVectorIn){ NULL, b_vec[i], DIM, NULL, NULL };
        pts[n] = (CollectionPointIn){ point_id_num((uint64_t)i), NULL, &vin[n], 1 };
        b_live[i] = 1;
        if (++n < 100 && i + step < to) continue;
        int e = collection_upsert(db, coll, pts, n, err, sizeof err);
        if (e) {
            printf("upsert failed: %s\n", err);
            return e;
        }
        n = 0;
    }
    return 0;
}

/* b_ref: the brute-force top B_K of q over the live points. */
static int b_ref(const float *q, int *out, double *scores)
{
    return topk_of(q, (const float (*)[DIM])b_unit, b_live, B_N + B_MORE, B_K, NULL, out,
                   scores);
}

/* b_check runs 40 queries (near random points) through the planner
 * (exact: 0, ef 128): *exact counts those equal to the brute-force top
 * B_K (scores within 1e-5, ids equal but for ties), *recall is recall@10. */
static int b_check(Db *db, const char *coll, int *exact, double *recall)
{
    int found = 0, total = 0;
    *exact = 0;
    for (int t = 0; t < 40; t++) {
        float q[DIM], qn[DIM], sc[B_K];
        uint64_t got[B_K];
        size_t n = 0;
        int base;
        do base = (int)(rng_next() % (B_N + B_MORE));
        while (!b_live[base]);
        for (int d = 0; d < DIM; d++) q[d] = b_vec[base][d] + 0.5f * rng_gauss();
        normalise(q, qn);
        int ref[B_K];
        double rs[B_K];
        int nr = b_ref(q, ref, rs);
        int e = search_hits(db, coll, q, B_K, 0, 128, NULL, got, sc, &n);
        if (e) return e;
        int same = (int)n == nr;
        for (size_t i = 0; i < n && same; i++)
            same = fabs(sc[i] - rs[i]) <= 1e-5 &&
                   (got[i] == (uint64_t)ref[i] || fabs(dot_d(qn, b_unit[got[i]]) - rs[i]) <= 1e-5);
        *exact += same;
        for (int i = 0; i < nr; i++)
            for (size_t j = 0; j < n; j++) found += got[j] == (uint64_t)ref[i];
        total += nr;
    }
    *recall = total ? (double)found / total : 1;
    return 0;
}

/* b_links reads the graph's link counts (collection_graph_links). */
static CollectionGraphLinks b_links(Db *db, const char *coll)
{
    CollectionGraphLinks g = { 0 };
    g.max_level = -2;
    if (collection_graph_links(db, coll, NULL, &g)) g.nodes = UINT64_MAX;
    return g;
}

/* b_begin reopens g_db with o, seeds the generator (the data and queries
 * the same in every run: earlier tests' threads draw from it too), draws
 * the cluster centres and every point's vector, and creates coll: m 16,
 * cosine, exact_only or not, int8-quantized with quant. */
static void b_begin(const DbOptions *o, uint64_t seed, const char *coll, int quant, int exact_only,
                    float (*centres)[DIM])
{
    char err[256];
    collection_db_close(g_db);
    g_db = NULL;
    ASSERT_OK(collection_db_open(g_dir, o, &g_db));
    rng_state = seed;
    for (int c = 0; c < N_CLUSTERS; c++)
        for (int d = 0; d < DIM; d++) centres[c][d] = rng_gauss();
    memset(b_live, 0, sizeof b_live);
    for (int i = 0; i < B_N + B_MORE; i++) b_make(i, (const float (*)[DIM])centres);
    CollectionConfig cfg = { .n_vectors = 1, .unnamed = 1, .m = 16, .ef_construct = 100 };
    cfg.vectors[0].size = DIM;
    cfg.vectors[0].distance = COLLECTION_COSINE;
    cfg.vectors[0].exact_only = exact_only;
    if (quant) cfg.vectors[0].quant.type = COLLECTION_QUANT_INT8;
    ASSERT_OK(collection_create(g_db, coll, &cfg, err, sizeof err));
}

/* b_churn gives every tenth point of coll a new vector (i = 0, 10, ...)
 * and deletes another tenth (i = 5, 15, ...); returns how many it deleted. */
static size_t b_churn(const char *coll, float (*centres)[DIM])
{
    for (int i = 0; i < B_N; i += 10) b_make(i, (const float (*)[DIM])centres);
    if (b_upsert(g_db, coll, 0, B_N, 10)) return 0;
    PointId del[B_N / 10];
    size_t n_del = 0, nd = 0;
    for (int i = 5; i < B_N; i += 10) {
        del[n_del++] = point_id_num((uint64_t)i);
        b_live[i] = 0;
    }
    if (collection_delete_points(g_db, coll, del, n_del, &nd) || nd != n_del) return 0;
    return n_del;
}

/*
 * exact_only_bare runs the bulk-upload recipe on a collection named coll
 * (int8-quantized with quant): created exact_only, B_N points upserted,
 * a tenth updated with new vectors, a tenth deleted. Every graph node
 * then has no links, and searches equal brute force; likewise after a
 * reopen. collection_update turning the flag off builds the graph: links
 * on every node, recall@10 of graph searches >= min_recall, and so after
 * a reopen. On again: the graph is kept, and B_MORE new points go in
 * bare; reopened so (flag on, graph linked: a directory of an earlier
 * build), off again: all of them linked.
 */
static void exact_only_bare(const char *coll, int quant, double min_recall)
{
    char err[256];
    DbOptions o = { .full_scan_bytes = 1 }; /* the planner walks any graph it may */
    float centres[N_CLUSTERS][DIM];
    b_begin(&o, 0x5EEDB0A7ULL + (uint64_t)quant, coll, quant, 1, centres);
    CollectionGraphLinks g = b_links(g_db, coll);
    ASSERT_EQ_U64(g.nodes, 0);
    ASSERT_EQ_INT(g.max_level, -1);

    /* Upload, update a tenth (new vectors), delete another tenth. */
    ASSERT_OK(b_upsert(g_db, coll, 0, B_N, 1));
    size_t n_del = b_churn(coll, centres);
    ASSERT_EQ_INT(n_del, B_N / 10);
    CollectionInfo info;
    ASSERT_OK(collection_info(g_db, coll, &info));
    ASSERT_EQ_U64(info.points_count, B_N - n_del);
    if (quant) ASSERT_TRUE(info.config.vectors[0].quant.calibrated > 0);

    g = b_links(g_db, coll);
    printf("  %s: %llu nodes, %llu linked, %llu links, top level %d", coll,
           (unsigned long long)g.nodes, (unsigned long long)g.linked,
           (unsigned long long)g.links, g.max_level);
    ASSERT_EQ_U64(g.nodes, B_N); /* the deleted points' nodes stay, deleted */
    ASSERT_EQ_U64(g.linked, 0);
    ASSERT_EQ_INT(g.max_level, 0);
    int exact;
    double recall;
    ASSERT_OK(b_check(g_db, coll, &exact, &recall));
    printf("; exact searches %d of 40, recall@10 %.4f", exact, recall);
    /* A quantized vector is scanned on its codes and rescored (Qdrant's
     * m = 0 keeps quantization): near, not equal, to brute force. */
    if (quant) ASSERT_GE(recall, min_recall);
    else ASSERT_EQ_INT(exact, 40);

    /* Reopened: the bare nodes load as they are (no rebuild). */
    collection_db_close(g_db);
    g_db = NULL;
    ASSERT_OK(collection_db_open(g_dir, &o, &g_db));
    CollectionGraphLinks r = b_links(g_db, coll);
    ASSERT_EQ_U64(r.nodes, g.nodes);
    ASSERT_EQ_U64(r.linked, 0);
    ASSERT_OK(b_check(g_db, coll, &exact, &recall));
    if (quant) ASSERT_GE(recall, min_recall);
    else ASSERT_EQ_INT(exact, 40);

    /* The flag off: the graph is built, at the collection's m, from the
     * live points' vectors, and walked (the planner's graph plan). */
    CollectionUpdate up = { .set_exact_only = 1 };
    double t0 = now_seconds();
    ASSERT_OK(collection_update(g_db, coll, &up, err, sizeof err));
    double built = now_seconds() - t0;
    g = b_links(g_db, coll);
    ASSERT_OK(b_check(g_db, coll, &exact, &recall));
    printf("\n  flag off: graph built in %.2f s: %llu nodes, %llu linked, top level %d; "
           "recall@10 %.4f, %d of 40 exact\n", built, (unsigned long long)g.nodes,
           (unsigned long long)g.linked, g.max_level, recall, exact);
    ASSERT_EQ_U64(g.nodes, B_N - n_del);
    ASSERT_EQ_U64(g.linked, g.nodes);
    ASSERT_TRUE(g.max_level > 0);
    ASSERT_GE(recall, min_recall);
    ASSERT_OK(collection_info(g_db, coll, &info));
    ASSERT_EQ_INT(info.config.vectors[0].exact_only, 0);
    if (quant) ASSERT_TRUE(info.config.vectors[0].quant.calibrated > 0);
    /* Saved: a reopen loads the built graph. */
    collection_db_close(g_db);
    g_db = NULL;
    ASSERT_OK(collection_db_open(g_dir, &o, &g_db));
    r = b_links(g_db, coll);
    ASSERT_EQ_U64(r.nodes, g.nodes);
    ASSERT_EQ_U64(r.linked, g.linked);
    ASSERT_EQ_U64(r.links, g.links);
    ASSERT_EQ_INT(r.max_level, g.max_level);

    /* On again: the graph stays; new points go in bare. */
    up.exact_only[0] = 1;
    ASSERT_OK(collection_update(g_db, coll, &up, err, sizeof err));
    r = b_links(g_db, coll);
    ASSERT_EQ_U64(r.links, g.links);
    ASSERT_OK(b_upsert(g_db, coll, B_N, B_N + B_MORE, 1));
    r = b_links(g_db, coll);
    ASSERT_EQ_U64(r.nodes, g.nodes + B_MORE);
    ASSERT_EQ_U64(r.linked, g.linked);
    ASSERT_EQ_U64(r.links, g.links);
    ASSERT_OK(b_check(g_db, coll, &exact, &recall));
    if (quant) ASSERT_GE(recall, min_recall);
    else ASSERT_EQ_INT(exact, 40);

    /* Reopened with the flag on and a linked graph, as a directory of an
     * earlier build (which linked every node under the flag) has it: it
     * loads as it is; the flag off rebuilds it, new points linked too. */
    collection_db_close(g_db);
    g_db = NULL;
    ASSERT_OK(collection_db_open(g_dir, &o, &g_db));
    CollectionGraphLinks r2 = b_links(g_db, coll);
    ASSERT_EQ_U64(r2.nodes, r.nodes);
    ASSERT_EQ_U64(r2.links, r.links);
    up.exact_only[0] = 0;
    ASSERT_OK(collection_update(g_db, coll, &up, err, sizeof err));
    r2 = b_links(g_db, coll);
    ASSERT_EQ_U64(r2.nodes, B_N - n_del + B_MORE);
    ASSERT_EQ_U64(r2.linked, r2.nodes);
    ASSERT_OK(b_check(g_db, coll, &exact, &recall));
    printf("  flag off again: %llu nodes, all linked; recall@10 %.4f\n",
           (unsigned long long)r2.nodes, recall);
    ASSERT_GE(recall, min_recall);
    ASSERT_OK(collection_delete(g_db, coll));
}

/* The bulk-upload recipe on a float32 vector. Runs after
 * test_exact_only_vector, whose database options it keeps. */
TEST(test_exact_only_graph_is_bare)
{
    exact_only_bare("bare", 0, 0.95);
}

/* The same on an int8-quantized vector (calibrated during the upload:
 * the bare graph of codes, then a graph built on them). */
TEST(test_exact_only_graph_is_bare_int8)
{
    exact_only_bare("bare8", 1, 0.9);
}

/* ---- a large collection's PATCH rebuilds its graphs in the background ---- */

/* wait_optimized polls collection_info until no rebuild is owed (at most
 * 120 s); 0, or -1 on a timeout or an error. */
static int wait_optimized(Db *db, const char *coll)
{
    for (int i = 0; i < 12000; i++) {
        CollectionInfo info;
        if (collection_info(db, coll, &info)) return -1;
        if (!info.optimizing) return info.optimizer_error[0] ? -1 : 0;
        nanosleep(&(struct timespec){ .tv_nsec = 10000000 }, NULL);
    }
    return -1;
}

/* b_self_found: how many of the live points among from, from + step, ...
 * below to a search for their own current vector finds first: a graph
 * search, or with exact an exact one whose score is 1 within 1e-5 (the
 * cosine of a vector with itself). */
static int b_self_found(const char *coll, int from, int to, int step, int exact, int *asked)
{
    int found = 0;
    *asked = 0;
    for (int i = from; i < to; i += step) {
        if (!b_live[i]) continue;
        uint64_t got[1];
        float sc[1];
        size_t n = 0;
        (*asked)++;
        if (search_hits(g_db, coll, b_vec[i], 1, exact, 128, NULL, got, sc, &n) == 0 && n == 1 &&
            got[0] == (uint64_t)i && (!exact || fabsf(sc[0] - 1.0f) <= 1e-5f))
            found++;
    }
    return found;
}

/* b_wait_built waits (at most 60 s) until a background rebuild held by
 * DbOptions.optimize_hold has built its graphs: the thread turns the 1
 * the test stored into 2. */
static void b_wait_built(int *hold)
{
    for (int i = 0; i < 60000 && __atomic_load_n(hold, __ATOMIC_ACQUIRE) != 2; i++)
        nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
}

/*
 * background_rebuild runs the bulk-upload recipe with the rebuild in the
 * background (DbOptions.rebuild_async_min 1): created exact_only, B_N
 * points upserted, the flag turned off. The call returns with the new
 * setting stored and the collection optimizing; the graph is still bare
 * and searches stay exact. Writes go on meanwhile (a tenth of the points
 * updated, a tenth deleted). A close stops the rebuild: the reopen loads
 * the graph bare and resumes it. A PATCH of m takes the rebuild over
 * (the stored m is the new one). Once that one has built its graph
 * (held before its catch-up), B_MORE points are added and another tenth
 * gets new vectors. Once it is done: every live node linked, the points
 * written after the build found by a search for their own vector (as
 * often as the graph finds any point: >= 97%; without the catch-up, none
 * of the added ones), recall@10 >= min_recall, and the same graph after
 * a reopen.
 */
static void background_rebuild(const char *coll, int quant, double min_recall)
{
    char err[256];
    static int hold;
    DbOptions o = { .full_scan_bytes = 1, .rebuild_async_min = 1, .optimize_hold = &hold };
    float centres[N_CLUSTERS][DIM];
    b_begin(&o, 0xB6C4A11DULL + (uint64_t)quant, coll, quant, 1, centres);
    ASSERT_OK(b_upsert(g_db, coll, 0, B_N, 1));

    /* The flag off: stored at once, the graph built behind. */
    __atomic_store_n(&hold, 1, __ATOMIC_RELEASE);
    CollectionUpdate up = { .set_exact_only = 1 };
    ASSERT_OK(collection_update(g_db, coll, &up, err, sizeof err));
    CollectionInfo info;
    ASSERT_OK(collection_info(g_db, coll, &info));
    ASSERT_EQ_INT(info.optimizing, 1);
    ASSERT_EQ_INT(info.config.vectors[0].exact_only, 0);
    CollectionGraphLinks g = b_links(g_db, coll);
    ASSERT_EQ_U64(g.linked, 0);
    int exact;
    double recall;
    ASSERT_OK(b_check(g_db, coll, &exact, &recall));
    if (quant) ASSERT_GE(recall, min_recall);
    else ASSERT_EQ_INT(exact, 40); /* the bare graph is still searched exactly */

    /* Writes while it builds: a tenth updated, a tenth deleted. */
    ASSERT_EQ_INT(b_churn(coll, centres), B_N / 10);

    /* Closed while held: the reopen resumes the rebuild from bare graphs. */
    collection_db_close(g_db);
    g_db = NULL;
    ASSERT_OK(collection_db_open(g_dir, &o, &g_db));
    ASSERT_OK(collection_info(g_db, coll, &info));
    ASSERT_EQ_INT(info.optimizing, 1);
    ASSERT_EQ_INT(info.config.vectors[0].exact_only, 0);
    g = b_links(g_db, coll);
    ASSERT_EQ_U64(g.linked, 0);
    ASSERT_OK(b_check(g_db, coll, &exact, &recall));
    if (quant) ASSERT_GE(recall, min_recall);
    else ASSERT_EQ_INT(exact, 40);
    /* A PATCH of m meanwhile takes the rebuild over. */
    CollectionUpdate um = { .m = 12 };
    ASSERT_OK(collection_update(g_db, coll, &um, err, sizeof err));
    ASSERT_OK(collection_info(g_db, coll, &info));
    ASSERT_EQ_INT(info.optimizing, 1);
    ASSERT_EQ_INT(info.config.m, 12);
    ASSERT_EQ_INT(info.config.vectors[0].exact_only, 0);
    /* Written once its build is done: added (into the deleted points'
     * nodes first) and another tenth with new vectors. */
    __atomic_store_n(&hold, 1, __ATOMIC_RELEASE);
    b_wait_built(&hold);
    ASSERT_EQ_INT(__atomic_load_n(&hold, __ATOMIC_ACQUIRE), 2);
    /* A PATCH of the options alone is stored and lets the rebuild go on
     * (a restart would zero its progress). */
    ASSERT_OK(collection_info(g_db, coll, &info));
    ASSERT_TRUE(info.optimize_total > 0 && info.optimize_done == info.optimize_total);
    CollectionUpdate uo = { .options = "{\"note\":\"kept\"}" };
    ASSERT_OK(collection_update(g_db, coll, &uo, err, sizeof err));
    ASSERT_OK(collection_info(g_db, coll, &info));
    ASSERT_EQ_INT(info.optimizing, 1);
    ASSERT_TRUE(info.optimize_done == info.optimize_total);
    ASSERT_STR_EQ(info.config.options, "{\"note\":\"kept\"}");
    ASSERT_OK(b_upsert(g_db, coll, B_N, B_N + B_MORE, 1));
    for (int i = 3; i < B_N; i += 10) b_make(i, centres);
    ASSERT_OK(b_upsert(g_db, coll, 3, B_N, 10));

    double t0 = now_seconds();
    __atomic_store_n(&hold, 0, __ATOMIC_RELEASE);
    ASSERT_OK(wait_optimized(g_db, coll));
    size_t live = 0;
    for (int i = 0; i < B_N + B_MORE; i++) live += (size_t)b_live[i];
    g = b_links(g_db, coll);
    int asked_upd, asked_new;
    int upd = b_self_found(coll, 3, B_N, 10, 0, &asked_upd);
    int added = b_self_found(coll, B_N, B_N + B_MORE, 1, 0, &asked_new);
    ASSERT_OK(b_check(g_db, coll, &exact, &recall));
    printf("  %s: swapped in %.2f s after the hold: %llu nodes, %llu linked, top level %d; "
           "written after the build, found by their own vector: %d of %d updated, %d of %d "
           "added; recall@10 %.4f\n", coll, now_seconds() - t0, (unsigned long long)g.nodes,
           (unsigned long long)g.linked, g.max_level, upd, asked_upd, added, asked_new, recall);
    ASSERT_GE(g.linked, live);
    ASSERT_TRUE(g.max_level > 0);
    ASSERT_GE(upd, 0.97 * asked_upd);
    ASSERT_GE(added, 0.97 * asked_new);
    ASSERT_GE(recall, min_recall);
    ASSERT_OK(collection_info(g_db, coll, &info));
    ASSERT_EQ_INT(info.optimizing, 0);
    ASSERT_EQ_U64(info.points_count, live);
    ASSERT_EQ_INT(info.config.m, 12);
    ASSERT_STR_EQ(info.config.options, "{\"note\":\"kept\"}");
    if (quant) ASSERT_TRUE(info.config.vectors[0].quant.calibrated > 0);

    /* Saved, marker gone: a reopen loads the graph as built. */
    collection_db_close(g_db);
    g_db = NULL;
    ASSERT_OK(collection_db_open(g_dir, &o, &g_db));
    ASSERT_OK(collection_info(g_db, coll, &info));
    ASSERT_EQ_INT(info.optimizing, 0);
    CollectionGraphLinks r = b_links(g_db, coll);
    ASSERT_EQ_U64(r.nodes, g.nodes);
    ASSERT_EQ_U64(r.linked, g.linked);
    ASSERT_EQ_U64(r.links, g.links);
    ASSERT_EQ_INT(added, b_self_found(coll, B_N, B_N + B_MORE, 1, 0, &asked_new));
    ASSERT_OK(collection_delete(g_db, coll));
}

TEST(test_background_rebuild)
{
    background_rebuild("behind", 0, 0.95);
}

TEST(test_background_rebuild_int8)
{
    background_rebuild("behind8", 1, 0.9);
}

/* A collection dropped while its graph is rebuilt in the background (held
 * once built, and again while building): the drop cancels the rebuild and
 * frees everything (ASan), and the name is free again at once. */
TEST(test_background_rebuild_dropped)
{
    char err[256];
    static int hold;
    DbOptions o = { .rebuild_async_min = 1, .optimize_hold = &hold };
    float centres[N_CLUSTERS][DIM];
    for (int round = 0; round < 2; round++) {
        b_begin(&o, 0xD50FULL + (uint64_t)round, "dropped", 0, 0, centres);
        ASSERT_OK(b_upsert(g_db, "dropped", 0, B_N, 1));
        __atomic_store_n(&hold, 1, __ATOMIC_RELEASE);
        CollectionUpdate um = { .m = 8 };
        ASSERT_OK(collection_update(g_db, "dropped", &um, err, sizeof err));
        /* Round 0 drops it once built, round 1 while it may still build. */
        if (round == 0) b_wait_built(&hold);
        CollectionInfo info;
        ASSERT_OK(collection_info(g_db, "dropped", &info));
        ASSERT_EQ_INT(info.optimizing, 1);
        ASSERT_OK(collection_delete(g_db, "dropped"));
        ASSERT_EQ_INT(collection_info(g_db, "dropped", &info), ERR_NOTFOUND);
        __atomic_store_n(&hold, 0, __ATOMIC_RELEASE);
    }
    /* The same name, made again, is a new collection with nothing owed. */
    b_begin(&o, 0xD50FULL, "dropped", 0, 0, centres);
    CollectionInfo info;
    ASSERT_OK(collection_info(g_db, "dropped", &info));
    ASSERT_EQ_INT(info.optimizing, 0);
    ASSERT_EQ_U64(info.points_count, 0);
    ASSERT_OK(collection_delete(g_db, "dropped"));
}

/* A PATCH of m that also turns int8 quantization off, run in the
 * background: while the graph of codes is still the live one, exact
 * searches read the float32 originals (not the codes as if they were
 * float32), and the rebuilt graph holds the originals, not decoded
 * codes: every exact self-search scores 1. */
TEST(test_background_rebuild_unquantize)
{
    char err[256];
    static int hold;
    DbOptions o = { .rebuild_async_min = 1, .optimize_hold = &hold };
    float centres[N_CLUSTERS][DIM];
    b_begin(&o, 0x0B17ULL, "unq", 1, 0, centres);
    ASSERT_OK(b_upsert(g_db, "unq", 0, B_N, 1));
    CollectionInfo info;
    ASSERT_OK(collection_info(g_db, "unq", &info));
    ASSERT_TRUE(info.config.vectors[0].quant.calibrated > 0);
    __atomic_store_n(&hold, 1, __ATOMIC_RELEASE);
    CollectionUpdate u = { .m = 8, .set_quant = 1 };
    u.quant[0].type = COLLECTION_QUANT_NONE;
    ASSERT_OK(collection_update(g_db, "unq", &u, err, sizeof err));
    b_wait_built(&hold);
    ASSERT_OK(collection_info(g_db, "unq", &info));
    ASSERT_EQ_INT(info.optimizing, 1);
    ASSERT_EQ_INT(info.config.vectors[0].quant.type, COLLECTION_QUANT_NONE);
    int asked, during = b_self_found("unq", 0, B_N, 30, 1, &asked);
    __atomic_store_n(&hold, 0, __ATOMIC_RELEASE);
    ASSERT_OK(wait_optimized(g_db, "unq"));
    int asked2, after = b_self_found("unq", 0, B_N, 30, 1, &asked2);
    printf("  exact self-searches scoring 1: %d of %d during the rebuild, %d of %d after\n", during,
           asked, after, asked2);
    ASSERT_EQ_INT(during, asked);
    ASSERT_EQ_INT(after, asked2);
    ASSERT_OK(collection_delete(g_db, "unq"));
}

/* Exact scans keep the smaller id among equal scores at the cut, for
 * every metric: ids 10 and 11 hold one vector, 12 is closer to the
 * query, so the best two are 12 and 10. */
TEST(test_exact_ties_keep_smaller_id)
{
    static const CollectionDistance metrics[] = { COLLECTION_COSINE, COLLECTION_DOT,
                                                  COLLECTION_EUCLID, COLLECTION_MANHATTAN };
    char err[256];
    for (size_t m = 0; m < sizeof metrics / sizeof *metrics; m++) {
        CollectionConfig cfg = { .n_vectors = 1, .unnamed = 1, .m = 16, .ef_construct = 100 };
        cfg.vectors[0].size = DIM;
        cfg.vectors[0].distance = metrics[m];
        ASSERT_OK(collection_create(g_db, "ties", &cfg, err, sizeof err));
        float v[3][DIM] = { { 1 }, { 1 }, { 1, 0.05f } }, q[DIM] = { 1, 0.1f };
        CollectionVectorIn vin[3];
        CollectionPointIn pts[3];
        for (int i = 0; i < 3; i++) {
            vin[i] = (CollectionVectorIn){ NULL, v[i], DIM, NULL, NULL };
            pts[i] = (CollectionPointIn){ point_id_num(10 + (uint64_t)i), NULL, &vin[i], 1 };
        }
        ASSERT_OK(collection_upsert(g_db, "ties", pts, 3, err, sizeof err));
        uint64_t got[2];
        size_t n = 0;
        ASSERT_OK(search_hits(g_db, "ties", q, 2, 1, 128, NULL, got, NULL, &n));
        ASSERT_EQ_INT(n, 2);
        ASSERT_EQ_U64(got[0], 12);
        ASSERT_EQ_U64(got[1], 10);
        ASSERT_OK(collection_delete(g_db, "ties"));
    }
}

int main(void)
{
    log_set_level(LOG_WARN);
    snprintf(g_dir, sizeof g_dir, "%s/vitrine_test_collection_XXXXXX", env_or("TMPDIR", "/tmp"));
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    make_data();
    if (collection_db_open(g_dir, NULL, &g_db)) return 1;
    CollectionConfig cfg = { .n_vectors = 1, .unnamed = 1, .m = 16, .ef_construct = 100 };
    cfg.vectors[0].size = DIM;
    cfg.vectors[0].distance = COLLECTION_COSINE;
    char err[256];
    if (collection_create(g_db, "main", &cfg, err, sizeof err) ||
        upsert_range(g_db, "main", 0, N_POINTS)) {
        printf("setup failed: %s\n", err);
        return 1;
    }
    RUN(test_create_list_delete);
    RUN(test_get_roundtrip);
    RUN(test_exact_search_matches_reference);
    RUN(test_hnsw_recall);
    RUN(test_filtered_search);
    RUN(test_filtered_search_hnsw_path);
    RUN(test_filtered_search_sparse_path);
    RUN(test_filtered_search_payload_block);
    RUN(test_count_with_filter);
    RUN(test_bad_input_changes_nothing);
    RUN(test_scroll_covers_all_in_order);
    RUN(test_uuid_ids_order);
    RUN(test_recommend);
    RUN(test_payload_updates);
    RUN(test_delete_by_ids_and_filter);
    RUN(test_named_vectors_and_euclid);
    RUN(test_concurrent_readers_and_writer);
    RUN(test_exact_only_vector);
    RUN(test_exact_only_graph_is_bare);
    RUN(test_exact_only_graph_is_bare_int8);
    RUN(test_background_rebuild);
    RUN(test_background_rebuild_int8);
    RUN(test_background_rebuild_dropped);
    RUN(test_background_rebuild_unquantize);
    RUN(test_exact_ties_keep_smaller_id);
    collection_db_close(g_db);
    rm_rf(g_dir);
    return harness_report(__FILE__);
}
