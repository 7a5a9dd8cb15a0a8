/*
 * test_hnsw_delete.c - deletes, re-inserts and updates keep the HNSW graph
 * searchable, checked against an exact double-precision scan of the live
 * vectors (written here, not the index's own brute force).
 *
 * Data: 3000 x 48-d CLIP-like clustered unit vectors (as in
 * test_hnsw_recall.c). Thresholds, recall@10 at ef=64 (measured values in
 * the messages the tests print):
 *   after deleting 30%: >= 0.97 and >= a fresh build of the survivors - 0.02
 *   after re-inserting them with new vectors: >= 0.97
 *   after 5 rounds of 20% churn: >= 0.97 and >= the start - 0.02
 *   after updating 30% of the vectors: >= 0.97, and every score matches
 *   the node's current vector.
 * A deleted node is never returned, and the nodes it linked to no longer
 * link back to it.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "harness.h"
#include "index/hnsw.h"
#include "base/util.h"
#include "base/vec.h"

#define N 3000
#define NQ 100
#define POOL (N + NQ + 4 * N) /* base, queries, replacement vectors */
#define DIM 48
#define K 10
#define EF 64

/* gen fills x[n][DIM] with CLIP-like clustered unit vectors. */
static void gen(float *x, int n, uint64_t seed)
{
    enum { NC = 40 };
    static float mean[DIM], centres[NC][DIM];
    test_rng = seed;
    for (int j = 0; j < DIM; j++) mean[j] = test_gauss();
    vec_normalize(mean, DIM);
    for (int c = 0; c < NC; c++) {
        for (int j = 0; j < DIM; j++) centres[c][j] = test_gauss();
        vec_normalize(centres[c], DIM);
    }
    for (int i = 0; i < n; i++) {
        float *v = x + (size_t)i * DIM;
        for (int j = 0; j < DIM; j++) v[j] = test_gauss() / sqrtf((float)j + 1);
        vec_normalize(v, DIM);
        int c = (int)(NC * pow(test_urand(), 2.0)) % NC;
        for (int j = 0; j < DIM; j++) v[j] = 0.7f * mean[j] + 0.5f * centres[c][j] + 0.6f * v[j];
        vec_normalize(v, DIM);
    }
}

static float *pool, *queries;
static float cur[N * DIM];       /* each node's current vector */
static unsigned char live[N];
static int next_fresh;           /* next unused replacement vector in pool */

static const float *fresh_vector(void)
{
    const float *v = pool + (size_t)(N + NQ + next_fresh) * DIM;
    next_fresh = (next_fresh + 1) % (4 * N);
    return v;
}

/* ref_topk: exact top-k ids by dot product over the live nodes. */
static int ref_topk(const float *q, uint32_t *out)
{
    double best[K];
    int m = 0;
    for (int i = 0; i < N; i++) {
        if (!live[i]) continue;
        double s = 0;
        for (int j = 0; j < DIM; j++) s += (double)cur[(size_t)i * DIM + j] * q[j];
        if (m == K && s <= best[m - 1]) continue;
        int p = m < K ? m++ : K - 1;
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

/* check_recall: recall@10 at EF over the queries; counts hits that are
 * not live (*dead) and hits whose score is not the dot product with the
 * node's current vector (*wrong_score). */
static double check_recall(HnswIndex *idx, int *dead, int *wrong_score)
{
    long found = 0, total = 0;
    *dead = *wrong_score = 0;
    for (int i = 0; i < NQ; i++) {
        const float *q = queries + (size_t)i * DIM;
        uint32_t ref[K];
        HnswHit h[K];
        int nr = ref_topk(q, ref), nh;
        if (hnsw_search(idx, q, K, EF, NULL, NULL, h, &nh)) return -1;
        for (int j = 0; j < nh; j++) {
            uint32_t id = h[j].node;
            if (id >= N || !live[id]) {
                (*dead)++;
                continue;
            }
            double s = 0;
            for (int d = 0; d < DIM; d++) s += (double)cur[(size_t)id * DIM + d] * q[d];
            if (fabs(s - h[j].score) > 1e-5) (*wrong_score)++;
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

static HnswIndex *build_live(void)
{
    HnswParams p;
    hnsw_params_default(&p);
    p.ef_construction = 100;
    p.seed = 5;
    HnswIndex *idx;
    if (hnsw_create(DIM, HNSW_METRIC_COSINE, &p, &idx)) return NULL;
    for (int i = 0; i < N; i++)
        if (live[i] && hnsw_insert(idx, (uint32_t)i, cur + (size_t)i * DIM)) return NULL;
    return idx;
}

static void reset_data(void)
{
    memcpy(cur, pool, sizeof cur);
    memset(live, 1, sizeof live);
    next_fresh = 0;
}

/* no_links_to_deleted: the live nodes a deleted node links to (level 0)
 * do not link back to it. Returns how many do. */
static int links_back_to_deleted(HnswIndex *idx)
{
    int cap = hnsw_links_max(idx, HNSW_MAX_LEVEL), bad = 0;
    uint32_t *a = xmalloc((size_t)cap * sizeof *a), *b = xmalloc((size_t)cap * sizeof *b);
    int ca[HNSW_MAX_LEVEL + 1], cb[HNSW_MAX_LEVEL + 1], la, lb, da, db;
    for (uint32_t d = 0; d < N; d++) {
        if (live[d] || hnsw_node_get(idx, d, &la, &da, a, (size_t)cap, ca)) continue;
        for (int j = 0; j < ca[0]; j++) {
            uint32_t x = a[j];
            if (!live[x] || hnsw_node_get(idx, x, &lb, &db, b, (size_t)cap, cb)) continue;
            for (int t = 0; t < cb[0]; t++) bad += b[t] == d;
        }
    }
    free(a);
    free(b);
    return bad;
}

TEST(delete_30_percent_keeps_recall)
{
    reset_data();
    HnswIndex *idx = build_live();
    ASSERT_TRUE(idx != NULL);
    int dead, wrong;
    double before = check_recall(idx, &dead, &wrong);
    test_rng = 1;
    int deleted = 0;
    for (int i = 0; i < N; i++) {
        if (test_urand() < 0.3) {
            ASSERT_OK(hnsw_delete(idx, (uint32_t)i));
            live[i] = 0;
            deleted++;
        }
    }
    ASSERT_EQ_INT(hnsw_count(idx), N - deleted);
    double after = check_recall(idx, &dead, &wrong);
    int back = links_back_to_deleted(idx);
    HnswIndex *fresh = build_live();
    ASSERT_TRUE(fresh != NULL);
    int d2, w2;
    double fresh_r = check_recall(fresh, &d2, &w2);
    printf("  recall@10: before %.4f, after deleting %d: %.4f, fresh build of the rest %.4f\n",
           before, deleted, after, fresh_r);
    hnsw_free(fresh);
    hnsw_free(idx);
    ASSERT_EQ_INT(dead, 0);
    ASSERT_EQ_INT(wrong, 0);
    ASSERT_EQ_INT(back, 0);
    ASSERT_GE(after, 0.97);
    ASSERT_GE(after, fresh_r - 0.02);
}

TEST(reinsert_after_delete)
{
    reset_data();
    HnswIndex *idx = build_live();
    ASSERT_TRUE(idx != NULL);
    test_rng = 2;
    for (int i = 0; i < N; i++) {
        if (test_urand() < 0.3) {
            ASSERT_OK(hnsw_delete(idx, (uint32_t)i));
            live[i] = 0;
        }
    }
    /* Re-insert the deleted ids with new vectors (the collection reuses
     * freed ids): hnsw_insert revives them. */
    for (int i = 0; i < N; i++) {
        if (live[i]) continue;
        memcpy(cur + (size_t)i * DIM, fresh_vector(), DIM * sizeof(float));
        ASSERT_OK(hnsw_insert(idx, (uint32_t)i, cur + (size_t)i * DIM));
        live[i] = 1;
    }
    ASSERT_EQ_INT(hnsw_count(idx), N);
    ASSERT_EQ_INT(hnsw_insert(idx, 0, cur), ERR_EXISTS);
    int dead, wrong;
    double r = check_recall(idx, &dead, &wrong);
    printf("  recall@10 after re-inserting 30%% with new vectors: %.4f\n", r);
    hnsw_free(idx);
    ASSERT_EQ_INT(dead, 0);
    ASSERT_EQ_INT(wrong, 0);
    ASSERT_GE(r, 0.97);
}

TEST(churn_does_not_decay_recall)
{
    reset_data();
    HnswIndex *idx = build_live();
    ASSERT_TRUE(idx != NULL);
    int dead, wrong;
    double start = check_recall(idx, &dead, &wrong), r = start;
    test_rng = 3;
    for (int round = 0; round < 5; round++) {
        uint32_t gone[N];
        int ng = 0;
        for (int i = 0; i < N; i++)
            if (test_urand() < 0.2) {
                ASSERT_OK(hnsw_delete(idx, (uint32_t)i));
                live[i] = 0;
                gone[ng++] = (uint32_t)i;
            }
        for (int j = 0; j < ng; j++) {
            memcpy(cur + (size_t)gone[j] * DIM, fresh_vector(), DIM * sizeof(float));
            ASSERT_OK(hnsw_insert(idx, gone[j], cur + (size_t)gone[j] * DIM));
            live[gone[j]] = 1;
        }
        r = check_recall(idx, &dead, &wrong);
        ASSERT_EQ_INT(dead, 0);
        ASSERT_EQ_INT(wrong, 0);
    }
    printf("  recall@10: start %.4f, after 5 rounds of 20%% churn %.4f\n", start, r);
    uint32_t e;
    int ml;
    ASSERT_OK(hnsw_entry_get(idx, &e, &ml));
    ASSERT_OK(hnsw_restore(idx, e, ml)); /* validates every link */
    hnsw_free(idx);
    ASSERT_GE(r, 0.97);
    ASSERT_GE(r, start - 0.02);
}

TEST(update_relinks)
{
    reset_data();
    HnswIndex *idx = build_live();
    ASSERT_TRUE(idx != NULL);
    test_rng = 4;
    uint32_t moved = HNSW_NO_NODE;
    float old[DIM];
    for (int i = 0; i < N; i++) {
        if (test_urand() < 0.3) {
            if (moved == HNSW_NO_NODE) {
                moved = (uint32_t)i;
                memcpy(old, cur + (size_t)i * DIM, sizeof old);
            }
            memcpy(cur + (size_t)i * DIM, fresh_vector(), DIM * sizeof(float));
            ASSERT_OK(hnsw_update(idx, (uint32_t)i, cur + (size_t)i * DIM));
        }
    }
    ASSERT_EQ_INT(hnsw_count(idx), N);
    int dead, wrong;
    double r = check_recall(idx, &dead, &wrong);
    /* A query at the moved node's new vector finds it first, with score 1. */
    HnswHit h[K];
    int n;
    ASSERT_OK(hnsw_search(idx, cur + (size_t)moved * DIM, K, EF, NULL, NULL, h, &n));
    ASSERT_EQ_INT(h[0].node, moved);
    ASSERT_NEAR(h[0].score, 1.0, 1e-5);
    /* At its old place it is no longer found with its old score. */
    ASSERT_OK(hnsw_search(idx, old, K, EF, NULL, NULL, h, &n));
    for (int j = 0; j < n; j++) ASSERT_TRUE(!(h[j].node == moved && h[j].score > 0.9999f));
    printf("  recall@10 after updating 30%% of the vectors: %.4f\n", r);
    float bad[DIM];
    memcpy(bad, old, sizeof bad);
    bad[0] = NAN;
    ASSERT_EQ_INT(hnsw_update(idx, moved, bad), ERR_INVAL);
    float back[DIM];
    ASSERT_OK(hnsw_get_vector(idx, moved, back));
    ASSERT_TRUE(!memcmp(back, cur + (size_t)moved * DIM, sizeof back)); /* unchanged */
    hnsw_free(idx);
    ASSERT_EQ_INT(dead, 0);
    ASSERT_EQ_INT(wrong, 0);
    ASSERT_GE(r, 0.97);
}

TEST(delete_entry_point_and_everything)
{
    reset_data();
    HnswIndex *idx = build_live();
    ASSERT_TRUE(idx != NULL);
    uint32_t e;
    int ml;
    ASSERT_OK(hnsw_entry_get(idx, &e, &ml));
    ASSERT_OK(hnsw_delete(idx, e));
    live[e] = 0;
    ASSERT_TRUE(!hnsw_contains(idx, e));
    int dead, wrong;
    double r = check_recall(idx, &dead, &wrong);
    printf("  recall@10 with the entry point deleted: %.4f\n", r);
    ASSERT_EQ_INT(dead, 0);
    ASSERT_GE(r, 0.97);

    ASSERT_EQ_INT(hnsw_delete(idx, e), ERR_NOTFOUND);        /* twice */
    ASSERT_EQ_INT(hnsw_delete(idx, N + 5), ERR_NOTFOUND);    /* never inserted */
    ASSERT_EQ_INT(hnsw_delete(idx, 50000000), ERR_NOTFOUND); /* beyond the storage */
    ASSERT_EQ_INT(hnsw_update(idx, N + 5, cur), ERR_NOTFOUND);
    for (uint32_t i = 0; i < N; i++)
        if (live[i]) ASSERT_OK(hnsw_delete(idx, i));
    ASSERT_EQ_INT(hnsw_count(idx), 0);
    HnswHit h[K];
    int n = -1;
    ASSERT_OK(hnsw_search(idx, queries, K, EF, NULL, NULL, h, &n));
    ASSERT_EQ_INT(n, 0);
    ASSERT_OK(hnsw_brute_force(idx, queries, K, NULL, NULL, h, &n));
    ASSERT_EQ_INT(n, 0);
    /* Bring one back: it is the only result. */
    ASSERT_OK(hnsw_update(idx, 7, queries));
    ASSERT_OK(hnsw_search(idx, queries, K, EF, NULL, NULL, h, &n));
    ASSERT_EQ_INT(n, 1);
    ASSERT_EQ_INT(h[0].node, 7);
    hnsw_free(idx);
}

int main(void)
{
    pool = xmalloc((size_t)POOL * DIM * sizeof(float));
    gen(pool, POOL, 2024);
    queries = pool + (size_t)N * DIM;
    RUN(delete_30_percent_keeps_recall);
    RUN(reinsert_after_delete);
    RUN(churn_does_not_decay_recall);
    RUN(update_relinks);
    RUN(delete_entry_point_and_everything);
    free(pool);
    return harness_report(__FILE__);
}
