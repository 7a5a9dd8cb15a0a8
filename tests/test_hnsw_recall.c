/*
 * test_hnsw_recall.c - HNSW search quality against an exact reference.
 *
 * The reference is a double-precision brute-force scan written here (not
 * the index's own hnsw_brute_force, which is itself checked against it).
 * Data: CLIP-like clustered unit vectors (a shared mean direction, Zipf-
 * sized clusters, decaying noise spectrum; as tools/gen_vectors.py) and
 * uniform vectors on the sphere, 4000 x 48-d, so a build takes well under
 * a second and the file runs in seconds even under ASan.
 *
 * Thresholds (recall@10 averaged over the queries), each well below what
 * the index measures (printed when a test runs) and well above what a
 * broken graph gives:
 *   clustered cosine ef=64 >= 0.98 (measured 0.999); uniform cosine
 *   ef=128 >= 0.97 (0.995); euclid (unnormalised) ef=64 >= 0.97 (0.996);
 *   dot ef=64 >= 0.95 (0.999); filter accepting 50% ef=64 >= 0.97 (1.0),
 *   accepting 2% ef=64 >= 0.95 (1.0); two-thread build >= 0.98 and within
 *   0.02 of the one-thread build (0.999 both).
 */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "harness.h"
#include "index/hnsw.h"
#include "base/util.h"
#include "base/vec.h"

#define N 4000
#define NQ 100
#define DIM 48
#define K 10

static void unit(float *v, int d)
{
    ASSERT_OK(vec_normalize(v, (size_t)d)); /* returns from the void helper on failure */
}

/* gen fills x[n][dim]: clustered (CLIP-like) or uniform on the sphere. */
static void gen(float *x, int n, int dim, int clustered, uint64_t seed)
{
    test_rng = seed;
    enum { NC = 40 };
    static float mean[DIM], centres[NC][DIM];
    for (int j = 0; j < dim; j++) mean[j] = test_gauss();
    unit(mean, dim);
    for (int c = 0; c < NC; c++) {
        for (int j = 0; j < dim; j++) centres[c][j] = test_gauss();
        unit(centres[c], dim);
    }
    for (int i = 0; i < n; i++) {
        float *v = x + (size_t)i * dim;
        for (int j = 0; j < dim; j++) v[j] = test_gauss();
        if (clustered) {
            for (int j = 0; j < dim; j++) v[j] /= sqrtf((float)j + 1); /* decaying spectrum */
            unit(v, dim);
            /* Zipf-like cluster sizes: small indexes are drawn more often. */
            int c = (int)(NC * pow(test_urand(), 2.0)) % NC;
            for (int j = 0; j < dim; j++) v[j] = 0.7f * mean[j] + 0.5f * centres[c][j] + 0.6f * v[j];
        }
        unit(v, dim);
    }
}

/* Reference top-k by a double-precision scan over the nodes in `live`
 * accepted by filter; larger `better` is closer. */
typedef int (*Accept)(uint32_t node, void *ctx);

static int ref_topk(HnswMetric metric, const float *x, const unsigned char *live, int n, int dim,
                    const float *q, int k, Accept filter, void *fctx, uint32_t *out)
{
    double best[64];
    int m = 0;
    for (int i = 0; i < n; i++) {
        if (live && !live[i]) continue;
        if (filter && !filter((uint32_t)i, fctx)) continue;
        const float *v = x + (size_t)i * dim;
        double s = 0;
        for (int j = 0; j < dim; j++) {
            if (metric == HNSW_METRIC_EUCLID) {
                double d = (double)v[j] - q[j];
                s -= d * d;
            } else if (metric == HNSW_METRIC_MANHATTAN) {
                s -= fabs((double)v[j] - q[j]);
            } else {
                s += (double)v[j] * q[j];
            }
        }
        if (m == k && s <= best[m - 1]) continue;
        int p = m < k ? m++ : k - 1;
        while (p > 0 && best[p - 1] < s) {
            best[p] = best[p - 1];
            out[p] = out[p - 1];
            p--;
        }
        best[p] = s;
        out[p] = (uint32_t)i;
    }
    return m;
}

typedef struct {
    HnswMetric metric;
    const float *x;
    const unsigned char *live;
    int n, dim;
} RefSet;

/* accept_bits: the reference's reading of an allow list. */
static int accept_bits(uint32_t node, void *ctx)
{
    const HnswAllow *a = ctx;
    return node < a->n_bits && (a->words[node / 64] >> (node % 64) & 1);
}

/* recall: mean over queries of |approx top-k ∩ exact top-k| / |exact|;
 * with allow, of hnsw_search_allowed against the exact top-k of the
 * allowed nodes. */
static double recall_of(HnswIndex *idx, const RefSet *r, const float *qs, int nq, int ef,
                        Accept filter, void *fctx, const HnswAllow *allow, int *bad_hits)
{
    if (allow) {
        filter = accept_bits;
        fctx = (void *)allow;
    }
    long found = 0, total = 0;
    *bad_hits = 0;
    for (int i = 0; i < nq; i++) {
        const float *q = qs + (size_t)i * r->dim;
        uint32_t ref[K];
        HnswHit hits[K];
        int nr = ref_topk(r->metric, r->x, r->live, r->n, r->dim, q, K, filter, fctx, ref);
        int nh = 0;
        if (allow ? hnsw_search_allowed(idx, q, K, ef, allow, hits, &nh)
                  : hnsw_search(idx, q, K, ef, filter, fctx, hits, &nh))
            return -1;
        for (int j = 0; j < nh; j++) {
            uint32_t id = hits[j].node;
            if ((r->live && !r->live[id]) || (filter && !filter(id, fctx))) (*bad_hits)++;
            for (int t = 0; t < nr; t++)
                if (ref[t] == id) {
                    found++;
                    break;
                }
        }
        total += nr;
    }
    return total ? (double)found / total : 1.0;
}

static double recall(HnswIndex *idx, const RefSet *r, const float *qs, int nq, int ef,
                     Accept filter, void *fctx, int *bad_hits)
{
    return recall_of(idx, r, qs, nq, ef, filter, fctx, NULL, bad_hits);
}

static float *base_c, *query_c, *base_u, *query_u;

static HnswIndex *build(HnswMetric metric, const float *x, int n, int m, int efc, uint64_t seed)
{
    HnswParams p;
    hnsw_params_default(&p);
    p.m = m;
    p.ef_construction = efc;
    p.seed = seed;
    HnswIndex *idx = NULL;
    if (hnsw_create(DIM, metric, &p, &idx)) return NULL;
    for (int i = 0; i < n; i++)
        if (hnsw_insert(idx, (uint32_t)i, x + (size_t)i * DIM)) {
            hnsw_free(idx);
            return NULL;
        }
    return idx;
}

TEST(clustered_cosine_recall)
{
    HnswIndex *idx = build(HNSW_METRIC_COSINE, base_c, N, 16, 100, 1);
    ASSERT_TRUE(idx != NULL);
    ASSERT_EQ_INT(hnsw_count(idx), N);
    RefSet r = { HNSW_METRIC_COSINE, base_c, NULL, N, DIM };
    int bad;
    double r10 = recall(idx, &r, query_c, NQ, 10, NULL, NULL, &bad);
    double r64 = recall(idx, &r, query_c, NQ, 64, NULL, NULL, &bad);
    printf("  clustered recall@10: ef=10 %.4f, ef=64 %.4f\n", r10, r64);
    hnsw_free(idx);
    ASSERT_GE(r64, 0.98);
    ASSERT_GE(r64, r10);
    ASSERT_EQ_INT(bad, 0);
}

TEST(uniform_cosine_recall)
{
    HnswIndex *idx = build(HNSW_METRIC_COSINE, base_u, N, 16, 100, 1);
    ASSERT_TRUE(idx != NULL);
    RefSet r = { HNSW_METRIC_COSINE, base_u, NULL, N, DIM };
    int bad;
    double r128 = recall(idx, &r, query_u, NQ, 128, NULL, NULL, &bad);
    printf("  uniform recall@10: ef=128 %.4f\n", r128);
    hnsw_free(idx);
    ASSERT_GE(r128, 0.97);
}

TEST(euclid_and_dot_recall_and_scores)
{
    /* Unnormalised vectors: scale each clustered vector by 0.5..2. */
    float *x = xmalloc((size_t)N * DIM * sizeof(float));
    test_rng = 99;
    for (int i = 0; i < N; i++) {
        float s = (float)(0.5 + 1.5 * test_urand());
        for (int j = 0; j < DIM; j++) x[(size_t)i * DIM + j] = base_c[(size_t)i * DIM + j] * s;
    }
    HnswIndex *eu = build(HNSW_METRIC_EUCLID, x, N, 16, 100, 1);
    HnswIndex *dt = build(HNSW_METRIC_DOT, x, N, 16, 100, 1);
    HnswIndex *mh = build(HNSW_METRIC_MANHATTAN, x, N, 16, 100, 1);
    ASSERT_TRUE(eu && dt && mh);
    RefSet re = { HNSW_METRIC_EUCLID, x, NULL, N, DIM }, rd = { HNSW_METRIC_DOT, x, NULL, N, DIM };
    RefSet rm = { HNSW_METRIC_MANHATTAN, x, NULL, N, DIM };
    int bad;
    double r_eu = recall(eu, &re, query_c, NQ, 64, NULL, NULL, &bad);
    double r_dt = recall(dt, &rd, query_c, NQ, 64, NULL, NULL, &bad);
    double r_mh = recall(mh, &rm, query_c, NQ, 64, NULL, NULL, &bad);
    printf("  recall@10 ef=64: euclid %.4f, dot %.4f, manhattan %.4f\n", r_eu, r_dt, r_mh);
    /* Scores are Qdrant's: the L2 distance for euclid, the dot product for dot. */
    HnswHit h[K];
    int n;
    const float *q = query_c;
    ASSERT_OK(hnsw_search(eu, q, K, 64, NULL, NULL, h, &n));
    ASSERT_EQ_INT(n, K);
    double l2 = 0, dot = 0;
    for (int j = 0; j < DIM; j++) {
        double d = (double)x[(size_t)h[0].node * DIM + j] - q[j];
        l2 += d * d;
    }
    ASSERT_NEAR(h[0].score, sqrt(l2), 1e-4);
    ASSERT_TRUE(h[0].score <= h[K - 1].score);
    ASSERT_OK(hnsw_search(dt, q, K, 64, NULL, NULL, h, &n));
    for (int j = 0; j < DIM; j++) dot += (double)x[(size_t)h[0].node * DIM + j] * q[j];
    ASSERT_NEAR(h[0].score, dot, 1e-4);
    ASSERT_TRUE(h[0].score >= h[K - 1].score);
    /* Manhattan: the L1 distance, ascending. */
    ASSERT_OK(hnsw_search(mh, q, K, 64, NULL, NULL, h, &n));
    double l1 = 0;
    for (int j = 0; j < DIM; j++) l1 += fabs((double)x[(size_t)h[0].node * DIM + j] - q[j]);
    ASSERT_NEAR(h[0].score, l1, 1e-3);
    ASSERT_TRUE(h[0].score <= h[K - 1].score);
    hnsw_free(eu);
    hnsw_free(dt);
    hnsw_free(mh);
    free(x);
    ASSERT_GE(r_eu, 0.97);
    ASSERT_GE(r_dt, 0.95);
    ASSERT_GE(r_mh, 0.95);
}

TEST(brute_force_is_exact)
{
    HnswIndex *idx = build(HNSW_METRIC_COSINE, base_c, 1000, 8, 40, 1);
    ASSERT_TRUE(idx != NULL);
    for (int i = 0; i < 20; i++) {
        const float *q = query_c + (size_t)i * DIM;
        uint32_t ref[K];
        HnswHit h[K];
        int nh;
        int nr = ref_topk(HNSW_METRIC_COSINE, base_c, NULL, 1000, DIM, q, K, NULL, NULL, ref);
        ASSERT_OK(hnsw_brute_force(idx, q, K, NULL, NULL, h, &nh));
        ASSERT_EQ_INT(nh, nr);
        for (int j = 0; j < nh; j++) {
            ASSERT_EQ_INT(h[j].node, ref[j]);
            double s = 0;
            for (int d = 0; d < DIM; d++) s += (double)base_c[(size_t)ref[j] * DIM + d] * q[d];
            ASSERT_NEAR(h[j].score, s, 1e-5);
        }
    }
    /* k larger than the index returns everything, sorted. */
    HnswHit *all = xmalloc(2000 * sizeof *all);
    int n;
    ASSERT_OK(hnsw_brute_force(idx, query_c, 2000, NULL, NULL, all, &n));
    ASSERT_EQ_INT(n, 1000);
    for (int j = 1; j < n; j++) ASSERT_TRUE(all[j - 1].score >= all[j].score);
    free(all);
    hnsw_free(idx);
}

static int accept_mod(uint32_t node, void *ctx)
{
    return node % *(uint32_t *)ctx == 0;
}

TEST(filtered_search_recall)
{
    HnswIndex *idx = build(HNSW_METRIC_COSINE, base_c, N, 16, 100, 1);
    ASSERT_TRUE(idx != NULL);
    RefSet r = { HNSW_METRIC_COSINE, base_c, NULL, N, DIM };
    uint32_t broad = 2, selective = 50;
    int bad1, bad2;
    double rb = recall(idx, &r, query_c, NQ, 64, accept_mod, &broad, &bad1);
    double rs = recall(idx, &r, query_c, NQ, 64, accept_mod, &selective, &bad2);
    printf("  filtered recall@10 ef=64: 50%% accepted %.4f, 2%% accepted %.4f\n", rb, rs);
    /* The brute-force twin with the selective filter is exact. */
    uint32_t ref[K];
    HnswHit h[K];
    int nh;
    int nr = ref_topk(HNSW_METRIC_COSINE, base_c, NULL, N, DIM, query_c, K, accept_mod, &selective, ref);
    ASSERT_OK(hnsw_brute_force(idx, query_c, K, accept_mod, &selective, h, &nh));
    ASSERT_EQ_INT(nh, nr);
    for (int j = 0; j < nh; j++) ASSERT_EQ_INT(h[j].node, ref[j]);
    hnsw_free(idx);
    ASSERT_EQ_INT(bad1, 0);
    ASSERT_EQ_INT(bad2, 0);
    ASSERT_GE(rb, 0.97);
    ASSERT_GE(rs, 0.95);
}

/* allow_share makes an allow list of about per_mille / 1000 of n nodes,
 * spread by a hash of the id (as a payload value would spread them). */
static HnswAllow allow_share(uint64_t *words, int n, unsigned per_mille)
{
    memset(words, 0, (size_t)(n + 63) / 64 * sizeof *words);
    size_t count = 0;
    for (int i = 0; i < n; i++)
        if (hash_fmix32((uint32_t)i) % 1000 < per_mille) {
            words[i / 64] |= (uint64_t)1 << (i % 64);
            count++;
        }
    return (HnswAllow){ words, (uint32_t)n, count };
}

/*
 * hnsw_search_allowed against the exact top 10 of the allowed nodes: the
 * walk over the allowed nodes alone (shares below HNSW_SPARSE_SHARE,
 * whose entry point is rarely allowed, so it must route through
 * rejected nodes first) and the whole walk testing the list (50%). Every
 * hit is allowed and live; deleted nodes, allowed or not, are never
 * returned; an empty list returns nothing; a NULL one is refused.
 */
TEST(allowed_search_recall)
{
    HnswIndex *idx = build(HNSW_METRIC_COSINE, base_c, N, 16, 100, 1);
    ASSERT_TRUE(idx != NULL);
    uint64_t words[(N + 63) / 64];
    unsigned char live[N];
    memset(live, 1, sizeof live);
    RefSet r = { HNSW_METRIC_COSINE, base_c, live, N, DIM };
    const unsigned shares[] = { 30, 50, 100, 200, 500 };
    double rec[5];
    for (int i = 0; i < 5; i++) {
        HnswAllow a = allow_share(words, N, shares[i]);
        int bad;
        rec[i] = recall_of(idx, &r, query_c, NQ, 64, NULL, NULL, &a, &bad);
        printf("  allowed %u/1000 (%zu nodes): recall@10 ef=64 %.4f\n", shares[i], a.count, rec[i]);
        ASSERT_EQ_INT(bad, 0);
    }
    ASSERT_GE(rec[0], 0.85);
    for (int i = 1; i < 5; i++) ASSERT_GE(rec[i], 0.93);

    /* Deleted nodes are skipped, allowed or not. */
    for (int i = 0; i < N; i += 7) {
        ASSERT_OK(hnsw_delete(idx, (uint32_t)i));
        live[i] = 0;
    }
    HnswAllow a = allow_share(words, N, 100);
    int bad;
    double rd = recall_of(idx, &r, query_c, NQ, 64, NULL, NULL, &a, &bad);
    printf("  allowed 100/1000 after deleting 1 in 7: recall@10 ef=64 %.4f\n", rd);
    ASSERT_EQ_INT(bad, 0);
    ASSERT_GE(rd, 0.93);

    HnswHit hits[K];
    int nh = -1;
    HnswAllow none = allow_share(words, N, 0);
    ASSERT_OK(hnsw_search_allowed(idx, query_c, K, 64, &none, hits, &nh));
    ASSERT_EQ_INT(nh, 0);
    ASSERT_EQ_INT(hnsw_search_allowed(idx, query_c, K, 64, NULL, hits, &nh), ERR_INVAL);
    hnsw_free(idx);
}

typedef struct {
    HnswIndex *idx;
    const float *x;
    int from, step, n;
    int rc;
} InsJob;

static void *ins_thread(void *arg)
{
    InsJob *j = arg;
    for (int i = j->from; i < j->n && !j->rc; i += j->step)
        j->rc = hnsw_insert(j->idx, (uint32_t)i, j->x + (size_t)i * DIM);
    return NULL;
}

/* graph_valid validates the graph through the persistence hook, which
 * checks every link, count and level and the entry point. */
static int graph_valid(HnswIndex *idx)
{
    uint32_t e;
    int ml;
    if (hnsw_entry_get(idx, &e, &ml)) return 0;
    return hnsw_restore(idx, e, ml) == 0;
}

TEST(concurrent_insert_two_threads)
{
    HnswIndex *one = build(HNSW_METRIC_COSINE, base_c, N, 16, 100, 7);
    ASSERT_TRUE(one != NULL);
    HnswParams p;
    hnsw_params_default(&p);
    p.ef_construction = 100;
    p.seed = 7;
    HnswIndex *two;
    ASSERT_OK(hnsw_create(DIM, HNSW_METRIC_COSINE, &p, &two));
    /* No hnsw_reserve: the threads also race through growth. */
    InsJob a = { two, base_c, 0, 2, N, 0 }, b = { two, base_c, 1, 2, N, 0 };
    pthread_t t;
    pthread_create(&t, NULL, ins_thread, &b);
    ins_thread(&a);
    pthread_join(t, NULL);
    ASSERT_OK(a.rc);
    ASSERT_OK(b.rc);
    ASSERT_EQ_INT(hnsw_count(two), N);
    RefSet r = { HNSW_METRIC_COSINE, base_c, NULL, N, DIM };
    int bad;
    double r1 = recall(one, &r, query_c, NQ, 64, NULL, NULL, &bad);
    double r2 = recall(two, &r, query_c, NQ, 64, NULL, NULL, &bad);
    printf("  recall@10 ef=64: one thread %.4f, two threads %.4f\n", r1, r2);
    int valid = graph_valid(two);
    hnsw_free(one);
    hnsw_free(two);
    ASSERT_TRUE(valid);
    ASSERT_GE(r2, 0.98);
    ASSERT_GE(r2, r1 - 0.02);
}

typedef struct {
    HnswIndex *idx;
    int stop; /* atomic */
    long searches, errors, bad;
} SearchJob;

static void *search_thread(void *arg)
{
    SearchJob *j = arg;
    HnswHit h[K];
    for (int i = 0; !__atomic_load_n(&j->stop, __ATOMIC_ACQUIRE); i = (i + 1) % NQ) {
        int n;
        if (hnsw_search(j->idx, query_c + (size_t)i * DIM, K, 32, NULL, NULL, h, &n)) j->errors++;
        for (int t = 1; t < n; t++) j->bad += h[t - 1].score < h[t].score; /* best first */
        j->searches++;
    }
    return NULL;
}

TEST(search_while_inserting)
{
    HnswParams p;
    hnsw_params_default(&p);
    p.ef_construction = 60;
    HnswIndex *idx;
    ASSERT_OK(hnsw_create(DIM, HNSW_METRIC_COSINE, &p, &idx));
    for (int i = 0; i < 500; i++) ASSERT_OK(hnsw_insert(idx, (uint32_t)i, base_c + (size_t)i * DIM));
    SearchJob sj = { idx, 0, 0, 0, 0 };
    pthread_t t;
    pthread_create(&t, NULL, search_thread, &sj);
    int rc = 0;
    for (int i = 500; i < N && !rc; i++) rc = hnsw_insert(idx, (uint32_t)i, base_c + (size_t)i * DIM);
    __atomic_store_n(&sj.stop, 1, __ATOMIC_RELEASE);
    pthread_join(t, NULL);
    RefSet r = { HNSW_METRIC_COSINE, base_c, NULL, N, DIM };
    int bad;
    double r64 = recall(idx, &r, query_c, NQ, 64, NULL, NULL, &bad);
    printf("  %ld searches ran during the inserts; recall@10 ef=64 after: %.4f\n", sj.searches, r64);
    hnsw_free(idx);
    ASSERT_OK(rc);
    ASSERT_EQ_INT(sj.errors, 0);
    ASSERT_EQ_INT(sj.bad, 0);
    ASSERT_TRUE(sj.searches > 0);
    ASSERT_GE(r64, 0.98);
}

static int same_results(HnswIndex *a, HnswIndex *b, const float *qs, int nq)
{
    for (int i = 0; i < nq; i++) {
        HnswHit ha[K], hb[K];
        int na, nb;
        if (hnsw_search(a, qs + (size_t)i * DIM, K, 32, NULL, NULL, ha, &na)) return 0;
        if (hnsw_search(b, qs + (size_t)i * DIM, K, 32, NULL, NULL, hb, &nb)) return 0;
        if (na != nb) return 0;
        for (int j = 0; j < na; j++)
            if (ha[j].node != hb[j].node || ha[j].score != hb[j].score) return 0;
    }
    return 1;
}

TEST(save_restore_identical_results)
{
    HnswIndex *a = build(HNSW_METRIC_COSINE, base_c, 2000, 16, 100, 3);
    ASSERT_TRUE(a != NULL);
    ASSERT_OK(hnsw_delete(a, 17)); /* a deleted node must survive too */
    HnswParams p;
    hnsw_params_get(a, &p);
    HnswIndex *b, *c;
    ASSERT_OK(hnsw_create(DIM, HNSW_METRIC_COSINE, &p, &b));
    ASSERT_OK(hnsw_create(DIM, HNSW_METRIC_COSINE, &p, &c));
    int cap = hnsw_links_max(a, HNSW_MAX_LEVEL);
    uint32_t *links = xmalloc((size_t)cap * sizeof *links);
    size_t bmax = hnsw_node_blob_max(a), blen;
    unsigned char *blob = xmalloc(bmax);
    int counts[HNSW_MAX_LEVEL + 1], level, deleted;
    /* Load in reverse order: links name nodes that are not set yet. */
    for (int i = 1999; i >= 0; i--) {
        const float *v = base_c + (size_t)i * DIM;
        ASSERT_OK(hnsw_node_get(a, (uint32_t)i, &level, &deleted, links, (size_t)cap, counts));
        ASSERT_EQ_INT(deleted, i == 17);
        ASSERT_OK(hnsw_node_set(b, (uint32_t)i, v, level, deleted, links, counts));
        ASSERT_OK(hnsw_node_encode(a, (uint32_t)i, blob, bmax, &blen));
        ASSERT_OK(hnsw_node_decode(c, (uint32_t)i, v, blob, blen));
    }
    uint32_t e;
    int ml;
    ASSERT_OK(hnsw_entry_get(a, &e, &ml));
    ASSERT_OK(hnsw_restore(b, e, ml));
    ASSERT_OK(hnsw_restore(c, e, ml));
    ASSERT_EQ_INT(hnsw_count(b), 1999);
    ASSERT_TRUE(!hnsw_contains(b, 17));
    ASSERT_TRUE(same_results(a, b, query_c, NQ));
    ASSERT_TRUE(same_results(a, c, query_c, NQ));

    /* A restored index keeps working: insert into it and into the original. */
    ASSERT_OK(hnsw_insert(a, 2000, base_c + 2000 * DIM));
    ASSERT_OK(hnsw_insert(b, 2000, base_c + 2000 * DIM));
    ASSERT_TRUE(same_results(a, b, query_c, 20));

    /* Corruption is refused: a truncated blob, and a dangling link. */
    ASSERT_OK(hnsw_node_encode(a, 5, blob, bmax, &blen));
    ASSERT_EQ_INT(hnsw_node_decode(c, 5, base_c + 5 * DIM, blob, blen - 2), ERR_FORMAT);
    ASSERT_OK(hnsw_node_get(a, 5, &level, &deleted, links, (size_t)cap, counts));
    ASSERT_TRUE(counts[0] > 0);
    links[0] = 3000; /* never set */
    ASSERT_OK(hnsw_node_set(c, 5, base_c + 5 * DIM, level, deleted, links, counts));
    ASSERT_EQ_INT(hnsw_restore(c, e, ml), ERR_FORMAT);
    ASSERT_EQ_INT(hnsw_count(c), 0); /* cleared, not half-loaded */
    free(links);
    free(blob);
    hnsw_free(a);
    hnsw_free(b);
    hnsw_free(c);
}

TEST(same_seed_same_graph)
{
    HnswIndex *a = build(HNSW_METRIC_COSINE, base_u, 1500, 12, 60, 11);
    HnswIndex *b = build(HNSW_METRIC_COSINE, base_u, 1500, 12, 60, 11);
    ASSERT_TRUE(a && b);
    int same = same_results(a, b, query_u, NQ);
    uint32_t ea, eb;
    int la, lb;
    ASSERT_OK(hnsw_entry_get(a, &ea, &la));
    ASSERT_OK(hnsw_entry_get(b, &eb, &lb));
    hnsw_free(a);
    hnsw_free(b);
    ASSERT_TRUE(same);
    ASSERT_EQ_INT(ea, eb);
    ASSERT_EQ_INT(la, lb);
}

TEST(bad_input_is_refused)
{
    HnswIndex *idx;
    HnswParams p;
    hnsw_params_default(&p);
    ASSERT_EQ_INT(hnsw_create(0, HNSW_METRIC_COSINE, &p, &idx), ERR_INVAL);
    ASSERT_EQ_INT(hnsw_create(HNSW_MAX_DIM + 1, HNSW_METRIC_COSINE, &p, &idx), ERR_INVAL);
    p.m = HNSW_MAX_M + 1;
    ASSERT_EQ_INT(hnsw_create(DIM, HNSW_METRIC_COSINE, &p, &idx), ERR_INVAL);
    p.m = HNSW_MIN_M - 1;
    ASSERT_EQ_INT(hnsw_create(DIM, HNSW_METRIC_COSINE, &p, &idx), ERR_INVAL);
    ASSERT_OK(hnsw_create(DIM, HNSW_METRIC_COSINE, NULL, &idx));
    HnswHit h[K];
    int n = -1;
    ASSERT_OK(hnsw_search(idx, query_c, K, 0, NULL, NULL, h, &n)); /* empty index */
    ASSERT_EQ_INT(n, 0);
    float v[DIM];
    memcpy(v, base_c, sizeof v);
    v[3] = NAN;
    ASSERT_EQ_INT(hnsw_insert(idx, 0, v), ERR_INVAL);
    v[3] = INFINITY;
    ASSERT_EQ_INT(hnsw_insert(idx, 0, v), ERR_INVAL);
    ASSERT_EQ_INT(hnsw_count(idx), 0);
    ASSERT_EQ_INT(hnsw_insert(idx, HNSW_MAX_NODES, base_c), ERR_INVAL);
    ASSERT_OK(hnsw_insert(idx, 0, base_c));
    ASSERT_EQ_INT(hnsw_insert(idx, 0, base_c), ERR_EXISTS);
    ASSERT_OK(hnsw_insert(idx, 100000, base_c + DIM)); /* sparse ids are fine */
    ASSERT_EQ_INT(hnsw_count(idx), 2);
    ASSERT_EQ_INT(hnsw_search(idx, v, K, 0, NULL, NULL, h, &n), ERR_INVAL);
    ASSERT_EQ_INT(hnsw_search(idx, base_c, 0, 0, NULL, NULL, h, &n), ERR_INVAL);
    ASSERT_EQ_INT(hnsw_search(idx, base_c, 1, HNSW_MAX_EF + 1, NULL, NULL, h, &n), ERR_INVAL);
    ASSERT_OK(hnsw_search(idx, base_c, K, 0, NULL, NULL, h, &n));
    ASSERT_EQ_INT(n, 2);
    ASSERT_EQ_INT(h[0].node, 0);
    ASSERT_NEAR(h[0].score, 1.0, 1e-5);
    ASSERT_EQ_INT(h[1].node, 100000);
    float back[DIM];
    ASSERT_OK(hnsw_get_vector(idx, 100000, back));
    ASSERT_TRUE(!memcmp(back, base_c + DIM, sizeof back));
    ASSERT_EQ_INT(hnsw_get_vector(idx, 5, back), ERR_NOTFOUND);
    ASSERT_TRUE(hnsw_memory_bytes(idx) > 2 * DIM * sizeof(float));
    hnsw_free(idx);
}

int main(void)
{
    base_c = xmalloc((size_t)(N + NQ) * DIM * sizeof(float));
    base_u = xmalloc((size_t)(N + NQ) * DIM * sizeof(float));
    gen(base_c, N + NQ, DIM, 1, 12345);
    gen(base_u, N + NQ, DIM, 0, 6789);
    query_c = base_c + (size_t)N * DIM;
    query_u = base_u + (size_t)N * DIM;
    RUN(clustered_cosine_recall);
    RUN(uniform_cosine_recall);
    RUN(euclid_and_dot_recall_and_scores);
    RUN(brute_force_is_exact);
    RUN(filtered_search_recall);
    RUN(allowed_search_recall);
    RUN(concurrent_insert_two_threads);
    RUN(search_while_inserting);
    RUN(save_restore_identical_results);
    RUN(same_seed_same_graph);
    RUN(bad_input_is_refused);
    free(base_c);
    free(base_u);
    return harness_report(__FILE__);
}
