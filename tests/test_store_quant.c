/*
 * test_store_quant.c - quantized collections (scalar int8, Qdrant's
 * quantization_config) through the engine: calibration once enough points
 * exist, search on codes with float32 rescoring from the store, the
 * per-search knobs (rescore, oversampling, ignore), the setting and its
 * interval surviving a reopen, PATCH turning it off and on again
 * (re-quantizing the populated graph), and recalibration when a collection
 * has grown tenfold since its interval was drawn.
 *
 * References: a double-precision brute-force scan of the unit vectors
 * (recall, exact scores); the graph is reached with small data by opening
 * the Db with a tiny full_scan_bytes. Data: 1500 clustered 32-d points.
 */
#include <ftw.h>
#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#include "base/err.h"
#include "base/util.h"
#include "harness.h"
#include "store/collection.h"

#define N_POINTS 1500
#define DIM 32
#define N_CLUSTERS 8
#define NQ 30
#define K 10

static char g_dir[256];
static Db *g_db;
static float g_vec[N_POINTS][DIM];
static float g_unit[N_POINTS][DIM];
static float g_q[NQ][DIM];

static uint64_t rng_state = 0x243F6A8885A308D3ULL;
static uint64_t rng_next(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}
static double rng_unit(void) { return ((double)(rng_next() >> 11) + 0.5) * 0x1p-53; }
static float rng_gauss(void)
{
    return (float)(sqrt(-2 * log(rng_unit())) * cos(6.283185307179586 * rng_unit()));
}

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
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
    for (int qi = 0; qi < NQ; qi++) {
        int b = (int)(rng_next() % N_POINTS);
        float raw[DIM];
        for (int d = 0; d < DIM; d++) raw[d] = g_vec[b][d] + 0.5f * rng_gauss();
        normalise(raw, g_q[qi]);
    }
}

static int create(const char *name, int quant)
{
    CollectionConfig cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.n_vectors = 1;
    cfg.unnamed = 1;
    cfg.vectors[0].size = DIM;
    cfg.vectors[0].distance = COLLECTION_COSINE;
    if (quant) cfg.vectors[0].quant.type = COLLECTION_QUANT_INT8;
    char err[256];
    return collection_create(g_db, name, &cfg, err, sizeof err);
}

static int upsert(const char *name, int from, int to)
{
    char err[256];
    for (int s = from; s < to; s += 250) {
        int e = MIN(s + 250, to);
        CollectionPointIn pts[250];
        CollectionVectorIn vin[250];
        Arena a;
        arena_init(&a, 0);
        for (int i = s; i < e; i++) {
            char text[32];
            snprintf(text, sizeof text, "{\"cat\":%d}", i % 10);
            JsonValue *pl = NULL;
            json_parse(&a, text, strlen(text), &pl, NULL, 0);
            vin[i - s] = (CollectionVectorIn){ NULL, g_vec[i], DIM, NULL, NULL };
            pts[i - s] = (CollectionPointIn){ point_id_num((uint64_t)i), pl, &vin[i - s], 1 };
        }
        int rc = collection_upsert(g_db, name, pts, (size_t)(e - s), err, sizeof err);
        arena_free(&a);
        if (rc) {
            printf("  upsert: %s\n", err);
            return rc;
        }
    }
    return 0;
}

/* ref_top: the K best points for q by double dot product (only cat ==
 * g_cat when g_cat >= 0). */
static int g_cat = -1;
static void ref_top(const float *q, int *out)
{
    double best[K];
    int m = 0;
    for (int i = 0; i < N_POINTS; i++) {
        if (g_cat >= 0 && i % 10 != g_cat) continue;
        double s = dot_d(g_unit[i], q);
        if (m == K && s <= best[K - 1]) continue;
        int p = m < K ? m++ : K - 1;
        while (p > 0 && best[p - 1] < s) {
            best[p] = best[p - 1];
            out[p] = out[p - 1];
            p--;
        }
        best[p] = s;
        out[p] = i;
    }
}

typedef struct {
    int ids[NQ][K];
    float scores[NQ][K];
    int n[NQ];
    double recall;
    double max_exact_err; /* largest |score - exact| */
} Run;

/* run searches every query with the given knobs. */
static int run(const char *name, int ef, int no_rescore, double oversampling, int ignore, int exact,
               Run *r)
{
    long hit = 0;
    r->max_exact_err = 0;
    for (int qi = 0; qi < NQ; qi++) {
        CollectionSearch s;
        memset(&s, 0, sizeof s);
        s.vector = g_q[qi];
        s.dim = DIM;
        s.limit = K;
        s.ef = ef;
        s.exact = exact;
        s.quant_no_rescore = no_rescore;
        s.quant_oversampling = oversampling;
        s.quant_ignore = ignore;
        Arena a;
        arena_init(&a, 0);
        char ftext[64];
        snprintf(ftext, sizeof ftext, "{\"must\":[{\"key\":\"cat\",\"match\":{\"value\":%d}}]}", g_cat);
        if (g_cat >= 0 && json_parse(&a, ftext, strlen(ftext), (JsonValue **)&s.filter, NULL, 0)) abort();
        CollectionResult out;
        char err[256];
        int rc = collection_search(g_db, name, &s, &a, &out, err, sizeof err);
        if (rc) {
            printf("  search: %s\n", err);
            arena_free(&a);
            return rc;
        }
        int ref[K];
        ref_top(g_q[qi], ref);
        r->n[qi] = (int)out.n;
        for (size_t i = 0; i < out.n; i++) {
            int id = (int)out.points[i].id.num;
            r->ids[qi][i] = id;
            r->scores[qi][i] = out.points[i].score;
            double e = fabs(out.points[i].score - dot_d(g_unit[id], g_q[qi]));
            if (e > r->max_exact_err) r->max_exact_err = e;
            for (int t = 0; t < K; t++) hit += ref[t] == id;
        }
        arena_free(&a);
    }
    r->recall = (double)hit / (NQ * K);
    return 0;
}

static void open_db(void)
{
    DbOptions o = { .full_scan_bytes = 1 }; /* always the graph */
    g_db = NULL;
    if (collection_db_open(g_dir, &o, &g_db)) abort();
}

static CollectionQuantization quant_of(const char *name)
{
    CollectionInfo ci;
    CollectionQuantization none = { 0 };
    if (collection_info(g_db, name, &ci)) return none;
    return ci.config.vectors[0].quant;
}

TEST(calibrates_once_enough_points)
{
    ASSERT_OK(create("q", 1));
    ASSERT_OK(upsert("q", 0, COLLECTION_QUANT_MIN_POINTS - 1));
    CollectionQuantization q = quant_of("q");
    ASSERT_EQ_INT(q.type, COLLECTION_QUANT_INT8);
    ASSERT_NEAR(q.quantile, 0.99, 1e-6);
    ASSERT_EQ_INT(q.calibrated, 0);
    ASSERT_OK(upsert("q", COLLECTION_QUANT_MIN_POINTS - 1, N_POINTS));
    q = quant_of("q");
    ASSERT_EQ_INT(q.calibrated, 1);
    /* Unit vectors' components: a small interval around 0. */
    ASSERT_TRUE(q.lo < 0 && q.hi > 0 && q.lo > -1 && q.hi < 1);
    /* The same data unquantized takes clearly more memory. */
    ASSERT_OK(create("f", 0));
    ASSERT_OK(upsert("f", 0, N_POINTS));
    CollectionInfo qi, fi;
    ASSERT_OK(collection_info(g_db, "q", &qi));
    ASSERT_OK(collection_info(g_db, "f", &fi));
    printf("  memory: int8 %zu bytes, float32 %zu bytes\n", qi.memory_bytes, fi.memory_bytes);
    ASSERT_LE((double)qi.memory_bytes, 0.8 * (double)fi.memory_bytes);
}

static Run g_before;

TEST(search_rescores_with_float32)
{
    Run r, plain, over;
    ASSERT_OK(run("q", 128, 0, 0, 0, 0, &r));
    ASSERT_OK(run("q", 128, 1, 0, 0, 0, &plain));
    ASSERT_OK(run("q", 128, 0, 3.0, 0, 0, &over));
    printf("  recall@10: rescored %.3f (max score error %.2g), not rescored %.3f (%.2g), "
           "oversampling 3 %.3f\n",
           r.recall, r.max_exact_err, plain.recall, plain.max_exact_err, over.recall);
    /* Rescored scores are the exact float32 ones; without rescoring they
     * are the int8 approximations. */
    ASSERT_LE(r.max_exact_err, 1e-5);
    ASSERT_LE(over.max_exact_err, 1e-5);
    ASSERT_GE(plain.max_exact_err, 1e-4);
    ASSERT_LE(plain.max_exact_err, 0.1);
    /* At 32-d an int8 step is a large share of the gap between
     * neighbours, so ranking on codes alone costs recall (0.94 measured)
     * and candidates beyond the limit win it back (1.0 with 3x). */
    ASSERT_GE(r.recall, 0.9);
    ASSERT_GE(over.recall, 0.98);
    ASSERT_GE(plain.recall, 0.85);
    /* ignore and exact: exact scores too. */
    Run ig, ex;
    ASSERT_OK(run("q", 128, 1, 0, 1, 0, &ig));
    ASSERT_OK(run("q", 128, 1, 0, 0, 1, &ex));
    ASSERT_LE(ig.max_exact_err, 1e-5);
    ASSERT_LE(ex.max_exact_err, 1e-5);
    ASSERT_NEAR(ex.recall, 1.0, 1e-9);
    /* A selective filter (10%): the matches are ranked on codes and the
     * best rescored from the store; exact scores, recall of a scan. */
    g_cat = 3;
    Run fr, fp;
    ASSERT_OK(run("q", 128, 0, 2.0, 0, 0, &fr));
    ASSERT_OK(run("q", 128, 1, 0, 0, 0, &fp));
    g_cat = -1;
    printf("  filtered recall@10: rescored x2 %.3f, not rescored %.3f (max error %.2g)\n", fr.recall,
           fp.recall, fp.max_exact_err);
    ASSERT_LE(fr.max_exact_err, 1e-5);
    ASSERT_GE(fr.recall, 0.97);
    ASSERT_GE(fp.max_exact_err, 1e-4);
    ASSERT_GE(fp.recall, 0.8);
    g_before = r;
}

TEST(quantization_survives_reopen)
{
    CollectionQuantization before = quant_of("q");
    collection_db_close(g_db);
    open_db();
    CollectionQuantization after = quant_of("q");
    ASSERT_EQ_INT(after.type, COLLECTION_QUANT_INT8);
    ASSERT_EQ_INT(after.calibrated, 1);
    ASSERT_NEAR(after.lo, before.lo, 0);
    ASSERT_NEAR(after.hi, before.hi, 0);
    /* The same codes and links: the same answers. */
    Run r;
    ASSERT_OK(run("q", 128, 0, 0, 0, 0, &r));
    for (int qi = 0; qi < NQ; qi++) {
        ASSERT_EQ_INT(r.n[qi], g_before.n[qi]);
        for (int i = 0; i < r.n[qi]; i++) {
            ASSERT_EQ_INT(r.ids[qi][i], g_before.ids[qi][i]);
            ASSERT_NEAR(r.scores[qi][i], g_before.scores[qi][i], 0);
        }
    }
}

TEST(patch_disables_and_requantizes)
{
    char err[256];
    CollectionUpdate u;
    memset(&u, 0, sizeof u);
    u.set_quant = 1; /* quant[0] zero: none */
    ASSERT_OK(collection_update(g_db, "q", &u, err, sizeof err));
    CollectionQuantization q = quant_of("q");
    ASSERT_EQ_INT(q.type, COLLECTION_QUANT_NONE);
    ASSERT_EQ_INT(q.calibrated, 0);
    /* A float32 graph again: even unrescored scores are exact. */
    Run r;
    ASSERT_OK(run("q", 128, 1, 0, 0, 0, &r));
    ASSERT_LE(r.max_exact_err, 1e-5);
    ASSERT_GE(r.recall, 0.95);
    /* On again with another quantile: calibrated at once on what is stored. */
    u.quant[0].type = COLLECTION_QUANT_INT8;
    u.quant[0].quantile = 0.9f;
    ASSERT_OK(collection_update(g_db, "q", &u, err, sizeof err));
    q = quant_of("q");
    ASSERT_EQ_INT(q.calibrated, 1);
    ASSERT_NEAR(q.quantile, 0.9, 1e-6);
    ASSERT_OK(run("q", 128, 1, 0, 0, 0, &r));
    ASSERT_GE(r.max_exact_err, 1e-4);
    ASSERT_OK(run("q", 128, 0, 2.0, 0, 0, &r));
    ASSERT_LE(r.max_exact_err, 1e-5);
    ASSERT_GE(r.recall, 0.97);
    /* A new m rebuilds the quantized graph from the stored originals. */
    u.m = 8;
    ASSERT_OK(collection_update(g_db, "q", &u, err, sizeof err));
    ASSERT_OK(run("q", 128, 0, 2.0, 0, 0, &r));
    ASSERT_LE(r.max_exact_err, 1e-5);
    ASSERT_GE(r.recall, 0.95);
    /* Out-of-range quantile: refused, nothing changed. */
    u.m = 0;
    u.quant[0].quantile = 0.2f;
    ASSERT_EQ_INT(collection_update(g_db, "q", &u, err, sizeof err), ERR_INVAL);
    ASSERT_NEAR(quant_of("q").quantile, 0.9, 1e-6);
}

/* drift_vec: point i of a collection whose first COLLECTION_QUANT_MIN_POINTS
 * points all lean on +axis 0 and whose later ones lean on -axis 1, as a
 * catalogue loaded one category at a time. */
static void drift_vec(int i, float *out)
{
    uint64_t save = rng_state;
    rng_state = 0x9E3779B97F4A7C15ULL ^ (uint64_t)(i + 1) * 0x2545F4914F6CDD1DULL;
    float raw[DIM];
    for (int d = 0; d < DIM; d++) raw[d] = 0.05f * rng_gauss();
    if (i < COLLECTION_QUANT_MIN_POINTS) raw[0] += 1;
    else raw[1] -= 1;
    normalise(raw, out);
    rng_state = save;
}

static int upsert_drift(const char *name, int from, int to)
{
    char err[256];
    for (int s = from; s < to; s += 500) {
        int e = MIN(s + 500, to);
        static float vecs[500][DIM];
        CollectionPointIn pts[500];
        CollectionVectorIn vin[500];
        for (int i = s; i < e; i++) {
            drift_vec(i, vecs[i - s]);
            vin[i - s] = (CollectionVectorIn){ NULL, vecs[i - s], DIM, NULL, NULL };
            pts[i - s] = (CollectionPointIn){ point_id_num((uint64_t)i), NULL, &vin[i - s], 1 };
        }
        int rc = collection_upsert(g_db, name, pts, (size_t)(e - s), err, sizeof err);
        if (rc) {
            printf("  upsert: %s\n", err);
            return rc;
        }
    }
    return 0;
}

/* code_score searches point i's own vector on the codes alone (no
 * rescoring) and returns the score it gets for itself (-2 if missing). */
static float code_score(const char *name, int i)
{
    float v[DIM];
    drift_vec(i, v);
    CollectionSearch s;
    memset(&s, 0, sizeof s);
    s.vector = v;
    s.dim = DIM;
    s.limit = K;
    s.ef = 64;
    s.quant_no_rescore = 1;
    Arena a;
    arena_init(&a, 0);
    CollectionResult out;
    char err[256];
    float score = -2;
    if (!collection_search(g_db, name, &s, &a, &out, err, sizeof err))
        for (size_t j = 0; j < out.n; j++)
            if (out.points[j].id.num == (uint64_t)i) score = out.points[j].score;
    arena_free(&a);
    return score;
}

TEST(recalibrates_after_tenfold_growth)
{
    int grown = COLLECTION_QUANT_MIN_POINTS * COLLECTION_QUANT_REGROW;
    ASSERT_OK(create("g", 1));
    ASSERT_OK(upsert_drift("g", 0, COLLECTION_QUANT_MIN_POINTS));
    CollectionQuantization q1 = quant_of("g");
    ASSERT_EQ_INT(q1.calibrated, 1);
    /* Drawn from +axis 0 alone: nothing near -1 is representable. */
    ASSERT_TRUE(q1.lo > -0.5f);
    ASSERT_OK(upsert_drift("g", COLLECTION_QUANT_MIN_POINTS, grown - 1));
    CollectionQuantization q = quant_of("g");
    ASSERT_EQ_INT(q.calibrated, 1);
    ASSERT_NEAR(q.lo, q1.lo, 0);
    /* So a late point's -1 component is clipped and its code scores it
     * far from the 1 it has against itself. */
    float clipped = code_score("g", grown - 2);
    ASSERT_OK(upsert_drift("g", grown - 1, grown));
    q = quant_of("g");
    ASSERT_EQ_INT(q.calibrated, 2);
    ASSERT_TRUE(q.lo < -0.5f);
    float fixed = code_score("g", grown - 2);
    printf("  interval [%g, %g] at %d points, [%g, %g] at %d; a late point's code "
           "scores itself %.3f, then %.3f\n",
           (double)q1.lo, (double)q1.hi, COLLECTION_QUANT_MIN_POINTS, (double)q.lo,
           (double)q.hi, grown, (double)clipped, (double)fixed);
    ASSERT_LE(fabs(fixed - 1.0), 0.05);
    ASSERT_GE(fabs(clipped - 1.0), 0.1);
    /* The stage and interval are persisted. */
    collection_db_close(g_db);
    open_db();
    CollectionQuantization r = quant_of("g");
    ASSERT_EQ_INT(r.calibrated, 2);
    ASSERT_NEAR(r.lo, q.lo, 0);
    ASSERT_NEAR(r.hi, q.hi, 0);
    ASSERT_NEAR(code_score("g", grown - 2), fixed, 0);
}

int main(void)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/vitrine_test_store_quant_%d", (int)getpid());
    nftw(g_dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    make_data();
    open_db();
    RUN(calibrates_once_enough_points);
    RUN(search_rescores_with_float32);
    RUN(quantization_survives_reopen);
    RUN(patch_disables_and_requantizes);
    RUN(recalibrates_after_tenfold_growth);
    collection_db_close(g_db);
    nftw(g_dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    return harness_report(__FILE__);
}
