/*
 * test_multivec.c - multivectors against references computed here: the
 * MaxSim kernels (index/multivec.h) and the collection engine's
 * multivectors (store/collection.h) are compared with a brute-force scan
 * of the test's own copy of every multivector, MaxSim computed in double
 * from the vectors as given (cosine as dot / (|a| |b|), euclid with the
 * squared distance, manhattan with the L1 distance) and reported as
 * Qdrant reports it (sqrt(|sum|) for euclid, |sum| for manhattan). A
 * result list is right when it has min(k, candidates) hits, every hit is
 * a candidate (has the vector, passes the filter, is no example) with its
 * reference score, and the scores rank-wise equal the reference's best
 * (ties may come in any order).
 *
 * Data: one collection with a plain vector, a sparse one and four
 * multivectors (cosine, dot, euclid, manhattan) that points have or lack
 * at random, 1..6 vectors each; a second one for the byte and half
 * datatypes, whose rounding is checked against values worked out by hand
 * and, where the compiler has _Float16, against its conversions.
 */
#include <ftw.h>
#include <stdlib.h>
#include <unistd.h>

#include "base/err.h"
#include "base/log.h"
#include "harness.h"
#include "index/multivec.h"
#include "store/collection.h"

#define N_POINTS 400
#define RAND_N 6  /* vectors of one random multivector, at most */
#define MAX_N 48  /* vectors a Multi holds (averaged queries concatenate examples) */
#define N_MV 4    /* the multivectors of collection "c" */
#define MAX_DIM 6

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;
static uint64_t rng_next(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}
static double rng_unit(void) { return (double)(rng_next() >> 11) * (1.0 / 9007199254740992.0); }

/* The multivectors of "c": name, distance, dimension. */
static const struct {
    const char *name;
    CollectionDistance dist;
    int dim;
} MV[N_MV] = {
    { "cos", COLLECTION_COSINE, 5 },
    { "dot", COLLECTION_DOT, 3 },
    { "euc", COLLECTION_EUCLID, 4 },
    { "man", COLLECTION_MANHATTAN, 6 },
};

/* A multivector as the test keeps it: as given (not normalised). */
typedef struct {
    int present;
    int n;
    float v[MAX_N][MAX_DIM];
} Multi;

typedef struct {
    int live;
    float img[4];
    Multi mv[N_MV];
} Pt;

static Pt g_pts[N_POINTS];
static Db *g_db;
static char g_dir[256];

static int cat_of(int id) { return id % 5; }

static void rand_multi(Multi *m, int dim, int min_n)
{
    m->present = 1;
    m->n = min_n + (int)(rng_next() % (uint64_t)(RAND_N + 1 - min_n));
    for (int i = 0; i < m->n; i++)
        for (int d = 0; d < dim; d++) m->v[i][d] = (float)(rng_unit() * 4.0 - 2.0);
}

static void make_point(int id)
{
    Pt *p = &g_pts[id];
    memset(p, 0, sizeof *p);
    for (int d = 0; d < 4; d++) p->img[d] = (float)rng_unit();
    for (int k = 0; k < N_MV; k++)
        if (rng_next() % 5) rand_multi(&p->mv[k], MV[k].dim, 1);
}

/* ---- the reference ---- */

static double ref_sim(CollectionDistance dist, const float *a, const float *b, int dim)
{
    double dot = 0, na = 0, nb = 0, l2 = 0, l1 = 0;
    for (int d = 0; d < dim; d++) {
        dot += (double)a[d] * b[d];
        na += (double)a[d] * a[d];
        nb += (double)b[d] * b[d];
        l2 += ((double)a[d] - b[d]) * ((double)a[d] - b[d]);
        l1 += fabs((double)a[d] - b[d]);
    }
    switch (dist) {
    case COLLECTION_COSINE: return na == 0 || nb == 0 ? 0 : dot / sqrt(na * nb);
    case COLLECTION_EUCLID: return -l2;
    case COLLECTION_MANHATTAN: return -l1;
    default: return dot;
    }
}

/* ref_maxsim: sum over q's vectors of the best similarity to d's. */
static double ref_maxsim(CollectionDistance dist, const Multi *q, const Multi *d, int dim)
{
    double sum = 0;
    for (int i = 0; i < q->n; i++) {
        double best = -INFINITY;
        for (int j = 0; j < d->n; j++) {
            double s = ref_sim(dist, q->v[i], d->v[j], dim);
            if (s > best) best = s;
        }
        sum += best;
    }
    return sum;
}

static double ref_report(CollectionDistance dist, double raw)
{
    if (dist == COLLECTION_EUCLID) return sqrt(fabs(raw));
    if (dist == COLLECTION_MANHATTAN) return fabs(raw);
    return raw;
}

typedef struct {
    int id;
    double score; /* as reported */
    double rank;  /* larger is better */
} Ref;

static int cmp_ref(const void *pa, const void *pb)
{
    const Ref *a = pa, *b = pb;
    if (a->rank != b->rank) return a->rank > b->rank ? -1 : 1;
    return a->id - b->id;
}

static double score_tol(double s) { return 2e-4 * (1.0 + fabs(s)); }

/* check_page: the acceptance rule of the file comment for a page of k
 * from rank off. Returns 1 when it holds, else prints why and returns 0. */
static int check_page(const CollectionResult *r, Ref *all, size_t n_all, size_t off, size_t k)
{
    qsort(all, n_all, sizeof *all, cmp_ref);
    if (off > n_all) off = n_all;
    Ref *ref = all + off;
    size_t n_ref = n_all - off;
    size_t want = n_ref < k ? n_ref : k;
    if (r->n != want) {
        printf("  got %zu hits, reference %zu (of %zu candidates)\n", r->n, want, n_ref);
        return 0;
    }
    for (size_t i = 0; i < r->n; i++) {
        int got = (int)r->points[i].id.num;
        float gs = r->points[i].score;
        if (fabs(gs - ref[i].score) > score_tol(ref[i].score)) {
            printf("  rank %zu: score %.9g, reference %.9g\n", i, gs, ref[i].score);
            return 0;
        }
        size_t x = 0;
        while (x < n_all && all[x].id != got) x++;
        if (x == n_all) {
            printf("  rank %zu: %d is not a candidate\n", i, got);
            return 0;
        }
        if (fabs(gs - all[x].score) > score_tol(all[x].score)) {
            printf("  rank %zu: %d scored %.9g, reference %.9g\n", i, got, gs, all[x].score);
            return 0;
        }
        for (size_t p = 0; p < i; p++)
            if ((int)r->points[p].id.num == got) {
                printf("  %d returned twice\n", got);
                return 0;
            }
    }
    return 1;
}

/* ---- engine helpers ---- */

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

/* in_multi makes the engine's view of m (flattened into arena). */
static const CollectionMultiVector *in_multi(Arena *a, const Multi *m, int dim)
{
    float *f = arena_alloc(a, (size_t)(m->n ? m->n : 1) * (size_t)dim * sizeof *f);
    for (int i = 0; i < m->n; i++) memcpy(f + i * dim, m->v[i], (size_t)dim * sizeof *f);
    CollectionMultiVector *mv = arena_alloc(a, sizeof *mv);
    *mv = (CollectionMultiVector){ f, (size_t)m->n, (size_t)dim };
    return mv;
}

/* upsert_pts upserts ids [from, to) from the model. A multivector of one
 * vector goes in as a plain vector every other time (the legacy form). */
static int upsert_pts(int from, int to, char *err, size_t errlen)
{
    Arena a;
    arena_init(&a, 0);
    CollectionPointIn *pts = arena_calloc(&a, (size_t)(to - from) * sizeof *pts);
    for (int id = from; id < to; id++) {
        Pt *p = &g_pts[id];
        CollectionVectorIn *vin = arena_calloc(&a, (1 + N_MV) * sizeof *vin);
        size_t nv = 0;
        vin[nv++] = (CollectionVectorIn){ .name = "img", .data = p->img, .dim = 4 };
        for (int k = 0; k < N_MV; k++) {
            if (!p->mv[k].present) continue;
            if (p->mv[k].n == 1 && id % 2)
                vin[nv++] = (CollectionVectorIn){ .name = MV[k].name, .data = p->mv[k].v[0],
                                                  .dim = (size_t)MV[k].dim };
            else
                vin[nv++] = (CollectionVectorIn){ .name = MV[k].name,
                                                  .multi = in_multi(&a, &p->mv[k], MV[k].dim) };
        }
        char text[64];
        snprintf(text, sizeof text, "{\"cat\":%d}", cat_of(id));
        pts[id - from] = (CollectionPointIn){ point_id_num((uint64_t)id), parse(&a, text), vin, nv };
    }
    int e = collection_upsert(g_db, "c", pts, (size_t)(to - from), err, errlen);
    arena_free(&a);
    if (!e)
        for (int id = from; id < to; id++) g_pts[id].live = 1;
    return e;
}

static int create_main(void)
{
    CollectionConfig cfg = { .n_vectors = 1 + N_MV, .n_sparse = 1 };
    snprintf(cfg.vectors[0].name, sizeof cfg.vectors[0].name, "img");
    cfg.vectors[0].size = 4;
    cfg.vectors[0].distance = COLLECTION_DOT;
    for (int k = 0; k < N_MV; k++) {
        CollectionVectorParams *p = &cfg.vectors[1 + k];
        snprintf(p->name, sizeof p->name, "%s", MV[k].name);
        p->size = (uint32_t)MV[k].dim;
        p->distance = MV[k].dist;
        p->multivector = COLLECTION_MAX_SIM;
    }
    snprintf(cfg.sparse[0].name, sizeof cfg.sparse[0].name, "kw");
    char err[256];
    int e = collection_create(g_db, "c", &cfg, err, sizeof err);
    if (e) printf("create: %s\n", err);
    return e;
}

/* The arguments of search_check. */
typedef struct {
    int k; /* multivector */
    const Multi *q;
    int plain; /* send q's first vector as a plain vector */
    size_t limit, offset;
    int cat; /* -1: no filter */
    int has_threshold;
    float threshold;
} Check;

/* search_check runs collection_search and compares it with the model. */
static int search_check(const Check *ck)
{
    int dim = MV[ck->k].dim;
    CollectionDistance dist = MV[ck->k].dist;
    Arena a;
    arena_init(&a, 0);
    CollectionSearch s = { 0 };
    s.using = MV[ck->k].name;
    if (ck->plain) {
        s.vector = ck->q->v[0];
        s.dim = (size_t)dim;
    } else {
        s.multi = in_multi(&a, ck->q, dim);
    }
    s.limit = ck->limit;
    s.offset = ck->offset;
    s.has_score_threshold = ck->has_threshold;
    s.score_threshold = ck->threshold;
    char ftext[96];
    snprintf(ftext, sizeof ftext, "{\"must\":[{\"key\":\"cat\",\"match\":{\"value\":%d}}]}", ck->cat);
    if (ck->cat >= 0) s.filter = parse(&a, ftext);
    CollectionResult r;
    char err[256] = "";
    int e = collection_search(g_db, "c", &s, &a, &r, err, sizeof err);
    if (e) {
        printf("  search failed: %s\n", err);
        arena_free(&a);
        return 0;
    }
    Multi q = *ck->q;
    if (ck->plain) q.n = 1;
    int distance = dist == COLLECTION_EUCLID || dist == COLLECTION_MANHATTAN;
    Ref *ref = malloc(N_POINTS * sizeof *ref);
    size_t n_ref = 0;
    for (int id = 0; id < N_POINTS; id++) {
        const Multi *m = &g_pts[id].mv[ck->k];
        if (!g_pts[id].live || !m->present || (ck->cat >= 0 && cat_of(id) != ck->cat)) continue;
        double raw = ref_maxsim(dist, &q, m, dim);
        double rep = ref_report(dist, raw);
        if (ck->has_threshold && (distance ? rep > ck->threshold : rep < ck->threshold)) continue;
        ref[n_ref++] = (Ref){ id, rep, raw };
    }
    int ok = check_page(&r, ref, n_ref, ck->offset, ck->limit ? ck->limit : 10);
    free(ref);
    arena_free(&a);
    return ok;
}

/* ---- the kernels ---- */

TEST(test_kernels_match_reference)
{
    static const CollectionDistance dists[4] = { COLLECTION_DOT, COLLECTION_COSINE,
                                                 COLLECTION_EUCLID, COLLECTION_MANHATTAN };
    static const MultivecMetric metrics[4] = { MULTIVEC_DOT, MULTIVEC_COSINE, MULTIVEC_EUCLID,
                                               MULTIVEC_MANHATTAN };
    for (int t = 0; t < 200; t++) {
        int dim = 1 + (int)(rng_next() % MAX_DIM);
        Multi q, d;
        rand_multi(&q, dim, 1);
        rand_multi(&d, dim, 1);
        if (t % 17 == 0) memset(d.v[0], 0, sizeof d.v[0]); /* a zero vector (cosine: 0) */
        float qf[RAND_N * MAX_DIM], df[RAND_N * MAX_DIM];
        for (int i = 0; i < q.n; i++) memcpy(qf + i * dim, q.v[i], (size_t)dim * sizeof(float));
        for (int i = 0; i < d.n; i++) memcpy(df + i * dim, d.v[i], (size_t)dim * sizeof(float));
        for (int m = 0; m < 4; m++) {
            double want = ref_maxsim(dists[m], &q, &d, dim);
            float got = multivec_max_sim(metrics[m], qf, (size_t)q.n, df, (size_t)d.n, (size_t)dim);
            ASSERT_NEAR(got, want, score_tol(want));
            ASSERT_NEAR(multivec_postprocess(metrics[m], got), ref_report(dists[m], want),
                        score_tol(want));
        }
    }
    /* Qdrant's own example (test_multi_vector.py, test_multi_with_euclidean):
     * euclid scores 0 for the identical multivector and sqrt(5 + 0 + 14). */
    float q3[9] = { 1, 2, 3, 3, 3, 3, 4, 5, 6 }, p2[6] = { 3, 3, 3, 4, 2, 1 };
    ASSERT_TRUE(multivec_postprocess(MULTIVEC_EUCLID, multivec_max_sim(MULTIVEC_EUCLID, q3, 3, q3, 3, 3)) == 0);
    ASSERT_TRUE(multivec_postprocess(MULTIVEC_EUCLID, multivec_max_sim(MULTIVEC_EUCLID, q3, 3, p2, 2, 3)) ==
                sqrtf(19.0f));
    /* MaxSim is not symmetric: 2 vectors against 1 sum two maxima. */
    float one[3] = { 1, 0, 0 }, two[6] = { 1, 0, 0, 0, 1, 0 };
    ASSERT_NEAR(multivec_max_sim(MULTIVEC_DOT, two, 2, one, 1, 3), 1.0, 0);
    ASSERT_NEAR(multivec_max_sim(MULTIVEC_DOT, one, 1, two, 2, 3), 1.0, 0);
    ASSERT_NEAR(multivec_max_sim(MULTIVEC_DOT, two, 2, two, 2, 3), 2.0, 0);
}

TEST(test_rounding)
{
    /* uint8: Rust's `as u8` (test_multi_vector_uint8.py's 256.19 -> 255). */
    float u[8] = { 256.19f, 1.81f, 2.75f, 3.11f, -1.5f, 0.99f, 255.0f, NAN };
    const float uw[8] = { 255, 1, 2, 3, 0, 0, 255, 0 };
    multivec_round(MULTIVEC_UINT8, u, 8);
    for (int i = 0; i < 8; i++) ASSERT_TRUE(u[i] == uw[i]);
    /* float16, worked out by hand: 11 significant bits, ties to even;
     * 65504 is the largest, 65520 the first value rounding past it;
     * subnormals are multiples of 2^-24. */
    float h[12] = { 1.0f / 3, 2049, 2051, 65504, 65519, 65520, -65520, 1e-8f, 3e-8f, 6e-8f,
                    0.1f, -2.5f };
    const float hw[12] = { 0.333251953125f, 2048, 2052, 65504, 65504, INFINITY, -INFINITY, 0,
                           5.9604644775390625e-8f, 5.9604644775390625e-8f, 0.0999755859375f, -2.5f };
    multivec_round(MULTIVEC_FLOAT16, h, 12);
    for (int i = 0; i < 12; i++)
        if (!(h[i] == hw[i])) HARNESS_FAIL("half of value %d: %.12g, want %.12g", i, h[i], hw[i]);
#ifdef __FLT16_MAX__
    /* And against the compiler's own conversion over many magnitudes. */
    for (int t = 0; t < 20000; t++) {
        float x = (float)((rng_unit() * 2 - 1) * ldexp(1.0, (int)(rng_next() % 44) - 28));
        float got = x;
        multivec_round(MULTIVEC_FLOAT16, &got, 1);
        float want = (float)(_Float16)x;
        if (!(got == want)) HARNESS_FAIL("half of %.9g: %.9g, _Float16 gives %.9g", x, got, want);
    }
#endif
}

/* ---- the engine ---- */

TEST(test_config)
{
    char err[256] = "";
    CollectionInfo ci;
    ASSERT_OK(collection_info(g_db, "c", &ci));
    ASSERT_EQ_INT(ci.config.n_vectors, 1 + N_MV);
    ASSERT_EQ_INT(ci.config.vectors[0].multivector, COLLECTION_SINGLE);
    for (int k = 0; k < N_MV; k++) ASSERT_EQ_INT(ci.config.vectors[1 + k].multivector, COLLECTION_MAX_SIM);
    /* A datatype is for multivectors only; unknown values are refused. */
    CollectionConfig cfg = { .n_vectors = 1, .unnamed = 1 };
    cfg.vectors[0].size = 2;
    cfg.vectors[0].datatype = COLLECTION_UINT8;
    ASSERT_EQ_INT(collection_create(g_db, "bad", &cfg, err, sizeof err), ERR_INVAL);
    cfg.vectors[0].datatype = COLLECTION_FLOAT32;
    cfg.vectors[0].multivector = (CollectionMultivector)7;
    ASSERT_EQ_INT(collection_create(g_db, "bad", &cfg, err, sizeof err), ERR_INVAL);
    cfg.vectors[0].multivector = COLLECTION_MAX_SIM;
    cfg.vectors[0].datatype = (CollectionDatatype)9;
    ASSERT_EQ_INT(collection_create(g_db, "bad", &cfg, err, sizeof err), ERR_INVAL);
    /* An unnamed multivector: created, searched (nothing yet), deleted. */
    cfg.vectors[0].datatype = COLLECTION_FLOAT16;
    ASSERT_OK(collection_create(g_db, "un", &cfg, err, sizeof err));
    Arena a;
    arena_init(&a, 0);
    float q[2] = { 1, 2 };
    CollectionSearch s = { 0 };
    s.vector = q;
    s.dim = 2;
    CollectionResult r;
    ASSERT_OK(collection_search(g_db, "un", &s, &a, &r, err, sizeof err));
    ASSERT_EQ_INT(r.n, 0);
    arena_free(&a);
    ASSERT_OK(collection_delete(g_db, "un"));
}

/* same_multi: got holds m as the engine stores it for distance dist
 * (cosine: each vector normalised). */
static int same_multi(const CollectionMultiVector *got, const Multi *m, int dim,
                      CollectionDistance dist)
{
    if (!got || got->n != (size_t)m->n || got->dim != (size_t)dim) return 0;
    for (int i = 0; i < m->n; i++) {
        double norm = 0;
        for (int d = 0; d < dim; d++) norm += (double)m->v[i][d] * m->v[i][d];
        norm = sqrt(norm);
        for (int d = 0; d < dim; d++) {
            double want = dist == COLLECTION_COSINE ? m->v[i][d] / norm : m->v[i][d];
            double g = got->data[i * dim + d];
            if (dist == COLLECTION_COSINE ? fabs(g - want) > 1e-6 : g != want) return 0;
        }
    }
    return 1;
}

/* check_get reads every point back and compares it with the model. */
static int check_get(void)
{
    PointId ids[N_POINTS];
    for (int i = 0; i < N_POINTS; i++) ids[i] = point_id_num((uint64_t)i);
    CollectionSelector none = { COLLECTION_SEL_NONE, NULL, 0 }, all = { COLLECTION_SEL_ALL, NULL, 0 };
    Arena a;
    arena_init(&a, 0);
    CollectionResult r;
    int ok = collection_get(g_db, "c", ids, N_POINTS, &none, &all, &a, &r) == 0;
    size_t live = 0;
    for (int id = 0; id < N_POINTS; id++) live += g_pts[id].live;
    if (ok && r.n != live) {
        printf("  %zu points read, %zu live\n", r.n, live);
        ok = 0;
    }
    for (size_t i = 0; ok && i < r.n; i++) {
        const Pt *p = &g_pts[r.points[i].id.num];
        const CollectionPoint *cp = &r.points[i];
        if (!cp->vectors || !cp->vectors[0] || memcmp(cp->vectors[0], p->img, sizeof p->img)) {
            printf("  point %d: img differs\n", (int)cp->id.num);
            ok = 0;
        }
        for (int k = 0; ok && k < N_MV; k++) {
            const CollectionMultiVector *got = cp->multi ? cp->multi[1 + k] : NULL;
            /* A multivector is never in `vectors`. */
            if (cp->vectors[1 + k] || (got != NULL) != p->mv[k].present ||
                (got && !same_multi(got, &p->mv[k], MV[k].dim, MV[k].dist))) {
                printf("  point %d: multivector %s differs\n", (int)cp->id.num, MV[k].name);
                ok = 0;
            }
        }
    }
    arena_free(&a);
    return ok;
}

TEST(test_roundtrip)
{
    ASSERT_TRUE(check_get());
    /* with_vector: ["euc"] selects that one only. */
    PointId ids[3] = { point_id_num(0), point_id_num(1), point_id_num(2) };
    const char *names[1] = { "euc" };
    CollectionSelector none = { COLLECTION_SEL_NONE, NULL, 0 };
    CollectionSelector one = { COLLECTION_SEL_INCLUDE, names, 1 };
    Arena a;
    arena_init(&a, 0);
    CollectionResult r;
    ASSERT_OK(collection_get(g_db, "c", ids, 3, &none, &one, &a, &r));
    ASSERT_EQ_INT(r.n, 3);
    for (size_t i = 0; i < r.n; i++) {
        const Pt *p = &g_pts[r.points[i].id.num];
        ASSERT_TRUE(r.points[i].vectors && !r.points[i].vectors[0]);
        const CollectionMultiVector *const *m = r.points[i].multi;
        ASSERT_EQ_INT(m != NULL && m[3] != NULL, p->mv[2].present);
        if (m) ASSERT_TRUE(!m[1] && !m[2] && !m[4]);
    }
    arena_free(&a);
}

TEST(test_search_matches_brute_force)
{
    for (int t = 0; t < 80; t++) {
        int k = t % N_MV;
        Multi q;
        rand_multi(&q, MV[k].dim, 1);
        if (q.n > 4) q.n = 4;
        Check ck = { k, &q, t % 7 == 3, t % 3 ? 10 : 50, (size_t)(t % 4 == 1 ? 5 : 0),
                     t % 2 ? (int)(t % 5) : -1, 0, 0 };
        if (t % 5 == 4) {
            /* A threshold near the middle of this query's scores. */
            ck.has_threshold = 1;
            const Multi *other = g_pts[t].mv[k].present ? &g_pts[t].mv[k] : &q;
            double raw = ref_maxsim(MV[k].dist, &q, other, MV[k].dim);
            /* Off any point's own score, so no tie sits on the boundary. */
            ck.threshold = (float)(ref_report(MV[k].dist, raw) + 0.01357);
        }
        if (!search_check(&ck)) HARNESS_FAIL("query %d on %s", t, MV[k].name);
    }
    /* The query by a point's own multivector finds it first (cosine, dot
     * on normalised copies: itself is the best match; euclid: 0). */
    int id = 0;
    while (!g_pts[id].mv[2].present) id++;
    Check ck = { 2, &g_pts[id].mv[2], 0, 3, 0, -1, 0, 0 };
    ASSERT_TRUE(search_check(&ck));
}

TEST(test_invalid_input)
{
    char err[256] = "";
    Arena a;
    arena_init(&a, 0);
    Multi m;
    rand_multi(&m, 5, 2);
    const CollectionMultiVector *mv5 = in_multi(&a, &m, 5);
    const CollectionMultiVector *mv4 = in_multi(&a, &m, 4);
    PointId id7 = point_id_num(7);
    CollectionVectorIn vin = { .name = "cos", .multi = mv4 };
    CollectionPointIn p = { id7, NULL, &vin, 1 };
    /* A vector of the wrong size, Qdrant's words. */
    ASSERT_EQ_INT(collection_upsert(g_db, "c", &p, 1, err, sizeof err), ERR_INVAL);
    ASSERT_STR_EQ(err, "Vector dimension error: expected dim: 5, got 4");
    float f3[3] = { 1, 2, 3 };
    vin = (CollectionVectorIn){ .name = "cos", .data = f3, .dim = 3 };
    ASSERT_EQ_INT(collection_upsert(g_db, "c", &p, 1, err, sizeof err), ERR_INVAL);
    ASSERT_STR_EQ(err, "Vector dimension error: expected dim: 5, got 3");
    /* No vectors at all; NaN. */
    CollectionMultiVector empty = { f3, 0, 5 };
    vin = (CollectionVectorIn){ .name = "cos", .multi = &empty };
    ASSERT_EQ_INT(collection_upsert(g_db, "c", &p, 1, err, sizeof err), ERR_INVAL);
    float bad[10];
    memcpy(bad, mv5->data, sizeof bad);
    bad[7] = NAN;
    CollectionMultiVector nan = { bad, 2, 5 };
    vin = (CollectionVectorIn){ .name = "cos", .multi = &nan };
    ASSERT_EQ_INT(collection_upsert(g_db, "c", &p, 1, err, sizeof err), ERR_INVAL);
    /* A multivector for a plain vector or a sparse one. */
    vin = (CollectionVectorIn){ .name = "img", .multi = mv4 };
    ASSERT_EQ_INT(collection_upsert(g_db, "c", &p, 1, err, sizeof err), ERR_INVAL);
    ASSERT_STR_EQ(err, "Conversion between multi and regular vectors failed");
    vin = (CollectionVectorIn){ .name = "kw", .multi = mv4 };
    ASSERT_EQ_INT(collection_upsert(g_db, "c", &p, 1, err, sizeof err), ERR_INVAL);
    ASSERT_STR_EQ(err, "Conversion between multi and regular vectors failed");
    vin = (CollectionVectorIn){ .name = "nope", .multi = mv4 };
    ASSERT_EQ_INT(collection_upsert(g_db, "c", &p, 1, err, sizeof err), ERR_INVAL);
    ASSERT_STR_EQ(err, "Not existing vector name error: nope");
    /* A sparse vector for a multivector. */
    uint32_t i1 = 1;
    float v1 = 1;
    CollectionSparseVector sv = { &i1, &v1, 1 };
    vin = (CollectionVectorIn){ .name = "cos", .sparse = &sv };
    ASSERT_EQ_INT(collection_upsert(g_db, "c", &p, 1, err, sizeof err), ERR_INVAL);
    ASSERT_STR_EQ(err, "Conversion between sparse and regular vectors failed");
    /* Queries: a multivector on a plain vector, a sparse one on a
     * multivector, a wrong size. */
    CollectionSearch s = { 0 };
    CollectionResult r;
    s.using = "img";
    s.multi = mv4;
    ASSERT_EQ_INT(collection_search(g_db, "c", &s, &a, &r, err, sizeof err), ERR_INVAL);
    ASSERT_STR_EQ(err, "Conversion between multi and regular vectors failed");
    s.using = "cos";
    s.multi = NULL;
    s.sparse = &sv;
    ASSERT_EQ_INT(collection_search(g_db, "c", &s, &a, &r, err, sizeof err), ERR_INVAL);
    ASSERT_STR_EQ(err, "Conversion between sparse and regular vectors failed");
    s.sparse = NULL;
    s.multi = mv4;
    ASSERT_EQ_INT(collection_search(g_db, "c", &s, &a, &r, err, sizeof err), ERR_INVAL);
    ASSERT_STR_EQ(err, "Vector dimension error: expected dim: 5, got 4");
    /* Point 7 is as it was. */
    arena_free(&a);
    ASSERT_TRUE(check_get());
}

/* write_one runs one operation as a one-write group; its status. */
static int write_one(const CollectionOp *op, char *err, size_t errlen)
{
    CollectionWrite w = { .collection = "c", .ops = op, .n_ops = 1 };
    CollectionWrite *wp = &w;
    int e = collection_write_group(g_db, &wp, 1, NULL);
    if (!e) e = w.status;
    snprintf(err, errlen, "%s", w.err);
    return e;
}

/* check_count: collection_info's vectors against the model's. */
static int check_count(void)
{
    CollectionInfo ci;
    if (collection_info(g_db, "c", &ci)) return 0;
    uint64_t want = 0, pts = 0;
    for (int id = 0; id < N_POINTS; id++) {
        if (!g_pts[id].live) continue;
        pts++;
        want++; /* img */
        for (int k = 0; k < N_MV; k++) want += (uint64_t)g_pts[id].mv[k].present;
    }
    if (ci.points_count != pts || ci.vectors_count != want) {
        printf("  info: %llu points, %llu vectors; model %llu, %llu\n",
               (unsigned long long)ci.points_count, (unsigned long long)ci.vectors_count,
               (unsigned long long)pts, (unsigned long long)want);
        return 0;
    }
    return 1;
}

static int all_queries_match(int rounds)
{
    for (int t = 0; t < rounds; t++) {
        int k = t % N_MV;
        Multi q;
        rand_multi(&q, MV[k].dim, 1);
        Check ck = { k, &q, 0, 15, 0, t % 3 ? -1 : (int)(t % 5), 0, 0 };
        if (!search_check(&ck)) {
            printf("  query %d on %s\n", t, MV[k].name);
            return 0;
        }
    }
    return 1;
}

TEST(test_updates_and_deletes)
{
    char err[256] = "";
    ASSERT_TRUE(check_count());
    /* Delete 40 points. */
    PointId del[40];
    for (int i = 0; i < 40; i++) {
        del[i] = point_id_num((uint64_t)(i * 9));
        g_pts[i * 9].live = 0;
    }
    size_t n_del = 0;
    ASSERT_OK(collection_delete_points(g_db, "c", del, 40, &n_del));
    ASSERT_EQ_INT(n_del, 40);
    ASSERT_TRUE(check_count());
    ASSERT_TRUE(all_queries_match(12));
    /* Re-upsert 60 with new vectors, some without any multivector: the
     * upsert replaces the whole point. */
    for (int id = 100; id < 160; id++) {
        make_point(id);
        if (id % 4 == 0)
            for (int k = 0; k < N_MV; k++) g_pts[id].mv[k].present = 0;
    }
    int e = upsert_pts(100, 160, err, sizeof err);
    if (e) HARNESS_FAIL("upsert: %s", err);
    /* Revive deleted ids: their nodes come back from the free list,
     * without the multivectors their old points had. */
    for (int i = 0; i < 10; i++) {
        make_point(i * 9);
        g_pts[i * 9].mv[0].present = 0;
    }
    for (int i = 0; i < 10; i++)
        if ((e = upsert_pts(i * 9, i * 9 + 1, err, sizeof err))) HARNESS_FAIL("revive: %s", err);
    ASSERT_TRUE(check_count());
    ASSERT_TRUE(check_get());
    ASSERT_TRUE(all_queries_match(20));
}

TEST(test_update_and_delete_vectors)
{
    char err[256] = "";
    /* update_vectors: a new "dot" for 10 points (some had none); the
     * others and "img" stay. */
    int ids[10], n = 0;
    for (int id = 200; n < 10; id++)
        if (g_pts[id].live) ids[n++] = id;
    Arena a;
    arena_init(&a, 0);
    CollectionPointIn pts[10];
    for (int i = 0; i < 10; i++) {
        Pt *p = &g_pts[ids[i]];
        rand_multi(&p->mv[1], MV[1].dim, 1);
        CollectionVectorIn *vin = arena_alloc(&a, sizeof *vin);
        *vin = (CollectionVectorIn){ .name = "dot", .multi = in_multi(&a, &p->mv[1], MV[1].dim) };
        pts[i] = (CollectionPointIn){ point_id_num((uint64_t)ids[i]), NULL, vin, 1 };
    }
    CollectionOp up = { .kind = COLLECTION_OP_UPDATE_VECTORS, .points = pts, .n_points = 10 };
    int e = write_one(&up, err, sizeof err);
    if (e) HARNESS_FAIL("update_vectors: %s", err);
    /* delete_vectors: "cos" and "man" of 5 points, "dot" of 5 others
     * (by filter: cat 3 among ids 300..), one of which has none. */
    PointId dcm[5];
    for (int i = 0; i < 5; i++) {
        dcm[i] = point_id_num((uint64_t)ids[i]);
        g_pts[ids[i]].mv[0].present = 0;
        g_pts[ids[i]].mv[3].present = 0;
    }
    const char *cm[2] = { "cos", "man" }, *dname[1] = { "dot" };
    CollectionOp d1 = { .kind = COLLECTION_OP_DELETE_VECTORS, .ids = dcm, .n_ids = 5,
                        .vector_names = cm, .n_vector_names = 2 };
    if ((e = write_one(&d1, err, sizeof err))) HARNESS_FAIL("delete_vectors: %s", err);
    const char *ftext = "{\"must\":[{\"key\":\"cat\",\"match\":{\"value\":3}},"
                        "{\"has_id\":[300,301,302,303,304,305,306,307,308,309,310,311,312,313]}]}";
    CollectionOp d2 = { .kind = COLLECTION_OP_DELETE_VECTORS, .filter = parse(&a, ftext),
                        .vector_names = dname, .n_vector_names = 1 };
    if ((e = write_one(&d2, err, sizeof err))) HARNESS_FAIL("delete_vectors by filter: %s", err);
    for (int id = 300; id <= 313; id++)
        if (cat_of(id) == 3) g_pts[id].mv[1].present = 0;
    arena_free(&a);
    ASSERT_TRUE(check_get());
    ASSERT_TRUE(check_count());
    ASSERT_TRUE(all_queries_match(16));
}

TEST(test_group_with_a_failure)
{
    /* One group: an upsert with multivectors, one that fails (a wrong
     * size), a delete of a point with multivectors. The failed write
     * leaves no trace; the others commit together. */
    char err[256] = "";
    Arena a;
    arena_init(&a, 0);
    int up_id = 380, bad_id = 381, del_id = 0;
    while (!(g_pts[del_id].live && g_pts[del_id].mv[2].present)) del_id++;
    Pt saved_bad = g_pts[bad_id];
    make_point(up_id);
    g_pts[up_id].mv[2].present = 1;
    rand_multi(&g_pts[up_id].mv[2], MV[2].dim, 3);
    CollectionVectorIn vin[2] = {
        { .name = "img", .data = g_pts[up_id].img, .dim = 4 },
        { .name = "euc", .multi = in_multi(&a, &g_pts[up_id].mv[2], MV[2].dim) },
    };
    CollectionPointIn p_up = { point_id_num((uint64_t)up_id), NULL, vin, 2 };
    Multi wrong;
    rand_multi(&wrong, 3, 2);
    CollectionVectorIn vbad = { .name = "euc", .multi = in_multi(&a, &wrong, 3) };
    CollectionPointIn p_bad = { point_id_num((uint64_t)bad_id), NULL, &vbad, 1 };
    PointId did = point_id_num((uint64_t)del_id);
    CollectionOp o1 = { .kind = COLLECTION_OP_UPSERT, .points = &p_up, .n_points = 1 };
    CollectionOp o2 = { .kind = COLLECTION_OP_UPSERT, .points = &p_bad, .n_points = 1 };
    CollectionOp o3 = { .kind = COLLECTION_OP_DELETE, .ids = &did, .n_ids = 1 };
    CollectionWrite w1 = { .collection = "c", .ops = &o1, .n_ops = 1 };
    CollectionWrite w2 = { .collection = "c", .ops = &o2, .n_ops = 1 };
    CollectionWrite w3 = { .collection = "c", .ops = &o3, .n_ops = 1 };
    CollectionWrite *ws[3] = { &w1, &w2, &w3 };
    ASSERT_OK(collection_write_group(g_db, ws, 3, NULL));
    ASSERT_EQ_INT(w1.status, 0);
    ASSERT_EQ_INT(w2.status, ERR_INVAL);
    ASSERT_EQ_INT(w3.status, 0);
    (void)err;
    g_pts[up_id].mv[0].present = g_pts[up_id].mv[1].present = g_pts[up_id].mv[3].present = 0;
    g_pts[up_id].live = 1;
    g_pts[bad_id] = saved_bad;
    g_pts[del_id].live = 0;
    arena_free(&a);
    ASSERT_TRUE(check_get());
    ASSERT_TRUE(check_count());
    ASSERT_TRUE(all_queries_match(8));
}

/* ---- recommend ---- */

/* An example as the reference sees it: a point's multivector, a raw plain
 * vector, or a raw multivector. */
typedef struct {
    int id; /* >= 0: point id */
    int plain;
    Multi m;
} Ex;

/* ref_recommend ranks every candidate by Qdrant's formulas in double. */
static size_t ref_recommend(int k, CollectionRecoStrategy st, const Ex *pos, int n_pos,
                            const Ex *neg, int n_neg, Ref *ref)
{
    int dim = MV[k].dim;
    CollectionDistance dist = MV[k].dist;
    Multi q = { 1, 0, { { 0 } } };
    if (st == COLLECTION_RECO_AVERAGE_VECTOR) {
        /* Plain examples average, multivectors concatenate; with
         * negatives pos + pos - neg, or pos then -neg. */
        for (int side = 0; side < 2; side++) {
            const Ex *ex = side ? neg : pos;
            int ne = side ? n_neg : n_pos;
            if (!ne) continue;
            if (ex[0].plain) {
                double avg[MAX_DIM] = { 0 };
                for (int e = 0; e < ne; e++)
                    for (int d = 0; d < dim; d++) avg[d] += ex[e].m.v[0][d];
                for (int d = 0; d < dim; d++) avg[d] /= ne;
                if (!side) {
                    q.n = 1;
                    for (int d = 0; d < dim; d++) q.v[0][d] = (float)avg[d];
                } else {
                    for (int d = 0; d < dim; d++) q.v[0][d] = (float)(2.0 * q.v[0][d] - avg[d]);
                }
            } else {
                for (int e = 0; e < ne; e++)
                    for (int i = 0; i < ex[e].m.n; i++) {
                        for (int d = 0; d < dim; d++)
                            q.v[q.n][d] = side ? -ex[e].m.v[i][d] : ex[e].m.v[i][d];
                        q.n++;
                    }
            }
        }
    }
    size_t n = 0;
    for (int id = 0; id < N_POINTS; id++) {
        int excluded = 0;
        for (int e = 0; e < n_pos; e++) excluded |= pos[e].id == id;
        for (int e = 0; e < n_neg; e++) excluded |= neg[e].id == id;
        const Multi *m = &g_pts[id].mv[k];
        if (!g_pts[id].live || !m->present || excluded) continue;
        if (st == COLLECTION_RECO_AVERAGE_VECTOR) {
            double raw = ref_maxsim(dist, &q, m, dim);
            ref[n++] = (Ref){ id, ref_report(dist, raw), raw };
            continue;
        }
        double bp = -INFINITY, bn = -INFINITY, sp = 0, sn = 0;
        for (int e = 0; e < n_pos; e++) {
            double x = ref_maxsim(dist, &pos[e].m, m, dim);
            bp = x > bp ? x : bp;
            sp += x;
        }
        for (int e = 0; e < n_neg; e++) {
            double x = ref_maxsim(dist, &neg[e].m, m, dim);
            bn = x > bn ? x : bn;
            sn += x;
        }
        double s;
        if (st == COLLECTION_RECO_BEST_SCORE) {
            double x = bp > bn ? bp : bn;
            double sig = 0.5 * (x / (1 + fabs(x)) + 1);
            s = bp > bn ? sig : -sig;
        } else {
            s = sp - sn;
        }
        ref[n++] = (Ref){ id, s, s };
    }
    return n;
}

/* run_recommend sends the examples (ids, raw plain or raw multi, as the
 * Ex say) and compares with ref_recommend. */
static int run_recommend(int k, CollectionRecoStrategy st, const Ex *pos, int n_pos,
                         const Ex *neg, int n_neg, size_t limit)
{
    int dim = MV[k].dim;
    Arena a;
    arena_init(&a, 0);
    CollectionRecommend rq = { 0 };
    PointId *pid = arena_alloc(&a, 8 * sizeof *pid), *nid = arena_alloc(&a, 8 * sizeof *nid);
    const float **pv = arena_alloc(&a, 8 * sizeof *pv), **nv = arena_alloc(&a, 8 * sizeof *nv);
    CollectionMultiVector *pm = arena_alloc(&a, 8 * sizeof *pm), *nm = arena_alloc(&a, 8 * sizeof *nm);
    for (int side = 0; side < 2; side++) {
        const Ex *ex = side ? neg : pos;
        int ne = side ? n_neg : n_pos;
        for (int e = 0; e < ne; e++) {
            if (ex[e].id >= 0) {
                PointId *ids = side ? nid : pid;
                size_t *cnt = side ? &rq.n_negative : &rq.n_positive;
                ids[(*cnt)++] = point_id_num((uint64_t)ex[e].id);
            } else if (ex[e].plain) {
                const float **vs = side ? nv : pv;
                size_t *cnt = side ? &rq.n_negative_vectors : &rq.n_positive_vectors;
                vs[(*cnt)++] = ex[e].m.v[0];
            } else {
                CollectionMultiVector *ms = side ? nm : pm;
                size_t *cnt = side ? &rq.n_negative_multi : &rq.n_positive_multi;
                ms[(*cnt)++] = *in_multi(&a, &ex[e].m, dim);
            }
        }
    }
    rq.positive = pid;
    rq.negative = nid;
    rq.positive_vectors = pv;
    rq.negative_vectors = nv;
    rq.positive_multi = pm;
    rq.negative_multi = nm;
    rq.strategy = st;
    rq.search.using = MV[k].name;
    rq.search.limit = limit;
    rq.search.dim = (size_t)dim;
    CollectionResult r;
    char err[256] = "";
    int e = collection_recommend(g_db, "c", &rq, &a, &r, err, sizeof err);
    int ok = e == 0;
    if (!ok) printf("  recommend: %s\n", err);
    Ref *ref = malloc(N_POINTS * sizeof *ref);
    size_t n_ref = ref_recommend(k, st, pos, n_pos, neg, n_neg, ref);
    if (ok) ok = check_page(&r, ref, n_ref, 0, limit);
    free(ref);
    arena_free(&a);
    return ok;
}

/* example_id makes an Ex of a live point having multivector k, from id on. */
static Ex example_id(int k, int from)
{
    while (!(g_pts[from].live && g_pts[from].mv[k].present)) from++;
    Ex e = { from, 0, g_pts[from].mv[k] };
    return e;
}

TEST(test_recommend)
{
    CollectionRecoStrategy strategies[3] = { COLLECTION_RECO_AVERAGE_VECTOR,
                                             COLLECTION_RECO_BEST_SCORE, COLLECTION_RECO_SUM_SCORES };
    for (int k = 0; k < N_MV; k++) {
        Ex pos[3] = { example_id(k, 210), example_id(k, 240), { -1, 0, { 0 } } };
        rand_multi(&pos[2].m, MV[k].dim, 2); /* a raw multivector */
        Ex neg[2] = { example_id(k, 270), { -1, 0, { 0 } } };
        rand_multi(&neg[1].m, MV[k].dim, 1);
        for (int si = 0; si < 3; si++)
            for (int with_neg = 0; with_neg < 2; with_neg++)
                if (!run_recommend(k, strategies[si], pos, 3, neg, with_neg ? 2 : 0, 12))
                    HARNESS_FAIL("%s: strategy %d, negatives %d", MV[k].name, si, with_neg);
        /* Raw plain examples: averaged as vectors (test_recommendation_
         * multivector.py's [[1, 2]] and [[3, 4]]), or each a list of one. */
        Ex pp[2] = { { -1, 1, { 0 } }, { -1, 1, { 0 } } }, pn[1] = { { -1, 1, { 0 } } };
        rand_multi(&pp[0].m, MV[k].dim, 1);
        rand_multi(&pp[1].m, MV[k].dim, 1);
        rand_multi(&pn[0].m, MV[k].dim, 1);
        pp[0].m.n = pp[1].m.n = pn[0].m.n = 1;
        for (int si = 0; si < 3; si++)
            if (!run_recommend(k, strategies[si], pp, 2, pn, 1, 12))
                HARNESS_FAIL("%s: plain examples, strategy %d", MV[k].name, si);
        /* best_score with negatives only: every score negative. */
        if (!run_recommend(k, COLLECTION_RECO_BEST_SCORE, NULL, 0, neg, 1, 5))
            HARNESS_FAIL("%s: negatives only", MV[k].name);
    }
    /* Averaging a plain example with a multivector is Qdrant's error. */
    Ex mixed[2] = { example_id(1, 0), { -1, 1, { 0 } } };
    rand_multi(&mixed[1].m, MV[1].dim, 1);
    Arena a;
    arena_init(&a, 0);
    CollectionRecommend rq = { 0 };
    PointId pid = point_id_num((uint64_t)mixed[0].id);
    const float *pv[1] = { mixed[1].m.v[0] };
    rq.positive = &pid;
    rq.n_positive = 1;
    rq.positive_vectors = pv;
    rq.n_positive_vectors = 1;
    rq.search.using = "dot";
    rq.search.dim = (size_t)MV[1].dim;
    CollectionResult r;
    char err[256] = "";
    ASSERT_EQ_INT(collection_recommend(g_db, "c", &rq, &a, &r, err, sizeof err), ERR_INVAL);
    ASSERT_STR_EQ(err, "Can't average vectors with different types");
    /* A missing point is Qdrant's 404, as is one without the vector. */
    int lacking = 0;
    while (!g_pts[lacking].live || g_pts[lacking].mv[1].present) lacking++;
    PointId missing[2] = { point_id_num(99999), point_id_num((uint64_t)lacking) };
    rq = (CollectionRecommend){ 0 };
    rq.search.using = "dot";
    rq.positive = missing;
    rq.n_positive = 1;
    ASSERT_EQ_INT(collection_recommend(g_db, "c", &rq, &a, &r, err, sizeof err), ERR_NOTFOUND);
    ASSERT_STR_EQ(err, "No point with id 99999 found");
    rq.positive = missing + 1;
    ASSERT_EQ_INT(collection_recommend(g_db, "c", &rq, &a, &r, err, sizeof err), ERR_NOTFOUND);
    arena_free(&a);
}

TEST(test_reopen)
{
    collection_db_close(g_db);
    g_db = NULL;
    ASSERT_OK(collection_db_open(g_dir, NULL, &g_db));
    CollectionInfo ci;
    ASSERT_OK(collection_info(g_db, "c", &ci));
    for (int k = 0; k < N_MV; k++) {
        ASSERT_EQ_INT(ci.config.vectors[1 + k].multivector, COLLECTION_MAX_SIM);
        ASSERT_EQ_INT(ci.config.vectors[1 + k].distance, MV[k].dist);
    }
    ASSERT_TRUE(check_count());
    ASSERT_TRUE(check_get());
    ASSERT_TRUE(all_queries_match(20));
    /* The plain vector's graph still answers. */
    Arena a;
    arena_init(&a, 0);
    CollectionSearch s = { 0 };
    float q[4] = { 0.5f, 0.1f, 0.9f, 0.3f };
    s.using = "img";
    s.vector = q;
    s.dim = 4;
    s.limit = 3;
    s.exact = 1;
    CollectionResult r;
    char err[256] = "";
    ASSERT_OK(collection_search(g_db, "c", &s, &a, &r, err, sizeof err));
    ASSERT_EQ_INT(r.n, 3);
    double best = -INFINITY;
    for (int id = 0; id < N_POINTS; id++) {
        if (!g_pts[id].live) continue;
        double d = 0;
        for (int x = 0; x < 4; x++) d += (double)q[x] * g_pts[id].img[x];
        if (d > best) best = d;
    }
    ASSERT_NEAR(r.points[0].score, best, 1e-5);
    arena_free(&a);
}

/* ---- datatypes ---- */

TEST(test_datatypes)
{
    char err[256] = "";
    CollectionConfig cfg = { .n_vectors = 3 };
    const char *names[3] = { "b", "bc", "h" };
    CollectionDistance dists[3] = { COLLECTION_DOT, COLLECTION_COSINE, COLLECTION_COSINE };
    CollectionDatatype types[3] = { COLLECTION_UINT8, COLLECTION_UINT8, COLLECTION_FLOAT16 };
    for (int v = 0; v < 3; v++) {
        snprintf(cfg.vectors[v].name, sizeof cfg.vectors[v].name, "%s", names[v]);
        cfg.vectors[v].size = 4;
        cfg.vectors[v].distance = dists[v];
        cfg.vectors[v].multivector = COLLECTION_MAX_SIM;
        cfg.vectors[v].datatype = types[v];
    }
    ASSERT_OK(collection_create(g_db, "types", &cfg, err, sizeof err));
    /* Qdrant's test_multi_vector_uint8.py values, and a cosine byte pair. */
    float b1[12] = { 1.05f, 1.61f, 1.76f, 1.74f, 2.05f, 2.61f, 2.76f, 2.74f, 256.19f, 3.61f, 3.76f, -3.74f };
    float bc[8] = { 3, 4, 0, 0, 1.9f, 0, 2.2f, 0 };
    float h[4] = { 1.0f / 3, 2049, 0.1f, -2.5f };
    CollectionMultiVector m1 = { b1, 3, 4 }, m2 = { bc, 2, 4 }, m3 = { h, 1, 4 };
    CollectionVectorIn vin[3] = { { .name = "b", .multi = &m1 }, { .name = "bc", .multi = &m2 },
                                  { .name = "h", .multi = &m3 } };
    CollectionPointIn p = { point_id_num(1), NULL, vin, 3 };
    ASSERT_OK(collection_upsert(g_db, "types", &p, 1, err, sizeof err));
    /* Byte cosine vectors are kept as given (rounded), not normalised;
     * half ones normalised, then rounded. */
    PointId id = point_id_num(1);
    CollectionSelector none = { COLLECTION_SEL_NONE, NULL, 0 }, all = { COLLECTION_SEL_ALL, NULL, 0 };
    Arena a;
    arena_init(&a, 0);
    CollectionResult r;
    ASSERT_OK(collection_get(g_db, "types", &id, 1, &none, &all, &a, &r));
    ASSERT_EQ_INT(r.n, 1);
    const CollectionMultiVector *const *m = r.points[0].multi;
    ASSERT_TRUE(m && m[0] && m[1] && m[2]);
    const float wb[12] = { 1, 1, 1, 1, 2, 2, 2, 2, 255, 3, 3, 0 };
    ASSERT_EQ_INT(m[0]->n, 3);
    for (int i = 0; i < 12; i++) ASSERT_TRUE(m[0]->data[i] == wb[i]);
    const float wbc[8] = { 3, 4, 0, 0, 1, 0, 2, 0 };
    for (int i = 0; i < 8; i++) ASSERT_TRUE(m[1]->data[i] == wbc[i]);
    double norm = sqrt(1.0 / 9 + 2049.0 * 2049 + 0.01 + 6.25);
    for (int i = 0; i < 4; i++) {
        float want = (float)(h[i] / norm);
        multivec_round(MULTIVEC_FLOAT16, &want, 1);
        ASSERT_NEAR(m[2]->data[i], want, fabs(want) * 1e-3); /* one half ulp apart at most */
    }
    /* Queries are rounded too: [0.9, 2.5, ...] on bytes is [0, 2, ...]. */
    float q[4] = { 0.9f, 2.5f, 1.2f, 7.7f };
    CollectionSearch s = { 0 };
    s.using = "b";
    s.vector = q;
    s.dim = 4;
    ASSERT_OK(collection_search(g_db, "types", &s, &a, &r, err, sizeof err));
    ASSERT_EQ_INT(r.n, 1);
    /* the best of [0,2,1,7] . [1,1,1,1], [2,2,2,2], [255,3,3,0]: 10, 20, 9 */
    ASSERT_NEAR(r.points[0].score, 20.0, 0);
    /* Byte cosine in full: [3,4,0,0] and [1,0,2,0] against [0,2,1,7]. */
    s.using = "bc";
    ASSERT_OK(collection_search(g_db, "types", &s, &a, &r, err, sizeof err));
    double qn = sqrt(4 + 1 + 49.0);
    double c1 = 8 / (5 * qn), c2 = 2 / (sqrt(5.0) * qn);
    ASSERT_NEAR(r.points[0].score, c1 > c2 ? c1 : c2, 1e-6);
    arena_free(&a);
    /* Reopened, the datatypes are still there. */
    collection_db_close(g_db);
    g_db = NULL;
    ASSERT_OK(collection_db_open(g_dir, NULL, &g_db));
    CollectionInfo ci;
    ASSERT_OK(collection_info(g_db, "types", &ci));
    for (int v = 0; v < 3; v++) {
        ASSERT_EQ_INT(ci.config.vectors[v].datatype, types[v]);
        ASSERT_EQ_INT(ci.config.vectors[v].multivector, COLLECTION_MAX_SIM);
    }
    ASSERT_EQ_U64(ci.vectors_count, 3);
    ASSERT_OK(collection_delete(g_db, "types"));
}

static int rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int main(void)
{
    log_set_level(LOG_WARN);
    RUN(test_kernels_match_reference);
    RUN(test_rounding);

    const char *tmp = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/vitrine_test_multivec_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    char err[256] = "";
    if (collection_db_open(g_dir, NULL, &g_db) || create_main()) return 1;
    for (int id = 0; id < N_POINTS; id++) make_point(id);
    if (upsert_pts(0, N_POINTS / 2, err, sizeof err) ||
        upsert_pts(N_POINTS / 2, N_POINTS, err, sizeof err)) {
        printf("setup failed: %s\n", err);
        return 1;
    }
    RUN(test_config);
    RUN(test_roundtrip);
    RUN(test_search_matches_brute_force);
    RUN(test_invalid_input);
    RUN(test_updates_and_deletes);
    RUN(test_update_and_delete_vectors);
    RUN(test_group_with_a_failure);
    RUN(test_recommend);
    RUN(test_reopen);
    RUN(test_datatypes);
    collection_db_close(g_db);
    nftw(g_dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    return harness_report("test_multivec");
}
