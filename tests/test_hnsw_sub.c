/*
 * test_hnsw_sub.c - subgraphs (hnsw_sub_*: the payload blocks of a
 * collection) against an exact double-precision scan written here.
 *
 * Data: 20,000 x 32-d clustered unit vectors in an index at M 16; a
 * subset of 1 point in 25 (800, by a hash of the id: a payload value
 * unrelated to where a point lies) linked into a subgraph. What is
 * asserted:
 *   - a walk of the subgraph over the subset reaches recall@10 >= 0.95
 *     at ef 64 against the exact top 10 of the subset (the main graph's
 *     walk over the same subset alone, hnsw_search_allowed, is printed
 *     beside it), and every result is in the subset;
 *   - with an allow list of half the subset, results stay inside it and
 *     recall stays >= 0.9;
 *   - a deleted member is never returned;
 *   - a member whose vector changed, added again, is found by its new
 *     vector first;
 *   - hnsw_sub_missing lists the allowed non-members and the members
 *     marked stale, exactly, and counts past its cap as cap + 1;
 *   - walked over an index that lacks some members (another graph of
 *     the same nodes), it returns none of them;
 *   - searches running while another thread adds members see only
 *     members and end (ThreadSanitizer runs this test).
 */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/util.h"
#include "base/vec.h"
#include "harness.h"
#include "index/hnsw.h"

#define N 20000
#define NQ 200
#define DIM 32
#define K 10
#define EF 64
#define SHARE 25

static float base[N * DIM], queries[NQ * DIM];

static void gen(float *x, int n, uint64_t seed)
{
    enum { NC = 40 };
    static float centres[NC][DIM];
    test_rng = seed;
    for (int c = 0; c < NC; c++) {
        for (int j = 0; j < DIM; j++) centres[c][j] = test_gauss();
        vec_normalize(centres[c], DIM);
    }
    for (int i = 0; i < n; i++) {
        float *v = x + (size_t)i * DIM;
        int c = (int)(test_urand() * NC) % NC;
        for (int j = 0; j < DIM; j++) v[j] = centres[c][j] + 0.35f * test_gauss();
        vec_normalize(v, DIM);
    }
}

static int in_subset(uint32_t i) { return hash_fmix32(i) % SHARE == 0; }

/* ref_topk: the exact top-k ids of the nodes accepted by ok(i, ctx). */
static int ref_topk(const float *q, int (*ok)(uint32_t, void *), void *ctx, uint32_t *out)
{
    double best[K];
    int n = 0;
    for (uint32_t i = 0; i < N; i++) {
        if (!ok(i, ctx)) continue;
        double s = 0;
        for (int j = 0; j < DIM; j++) s += (double)q[j] * base[(size_t)i * DIM + j];
        if (n == K && s <= best[K - 1]) continue;
        int p = n < K ? n++ : K - 1;
        while (p > 0 && best[p - 1] < s) {
            best[p] = best[p - 1];
            out[p] = out[p - 1];
            p--;
        }
        best[p] = s;
        out[p] = i;
    }
    return n;
}

static int ok_allow(uint32_t i, void *ctx)
{
    const HnswAllow *a = ctx;
    return hnsw_allowed(a, i);
}

static void set_bit(uint64_t *w, uint32_t i) { w[i >> 6] |= (uint64_t)1 << (i & 63); }

/* recall_of: recall@10 of hnsw_search_sub (sub != NULL) or
 * hnsw_search_allowed over allow; *outside counts results not allowed. */
static double recall_of(HnswIndex *idx, HnswSub *sub, const HnswAllow *allow, int *outside)
{
    int hit = 0, total = 0;
    *outside = 0;
    for (int qi = 0; qi < NQ; qi++) {
        const float *q = queries + (size_t)qi * DIM;
        uint32_t ref[K];
        int nr = ref_topk(q, ok_allow, (void *)allow, ref);
        HnswHit hits[K];
        int n = 0;
        int rc = sub ? hnsw_search_sub(idx, sub, q, K, EF, allow, hits, &n)
                     : hnsw_search_allowed(idx, q, K, EF, allow, hits, &n);
        if (rc) return -1;
        for (int j = 0; j < n; j++) {
            if (!hnsw_allowed(allow, hits[j].node)) (*outside)++;
            for (int t = 0; t < nr; t++) hit += hits[j].node == ref[t];
        }
        total += nr;
    }
    return total ? (double)hit / total : 1;
}

static HnswIndex *g_idx;
static HnswSub *g_sub;
static uint64_t g_words[(N + 63) / 64];
static HnswAllow g_allow;

TEST(test_sub_recall)
{
    gen(base, N, 11);
    gen(queries, NQ, 12);
    HnswParams p;
    hnsw_params_default(&p);
    p.ef_construction = 100;
    ASSERT_OK(hnsw_create(DIM, HNSW_METRIC_COSINE, &p, &g_idx));
    for (uint32_t i = 0; i < N; i++) ASSERT_OK(hnsw_insert(g_idx, i, base + (size_t)i * DIM));
    g_sub = hnsw_sub_new(16);
    ASSERT_TRUE(g_sub != NULL);
    size_t members = 0;
    for (uint32_t i = 0; i < N; i++)
        if (in_subset(i)) {
            ASSERT_OK(hnsw_sub_add(g_idx, g_sub, i));
            set_bit(g_words, i);
            members++;
        }
    ASSERT_EQ_U64(hnsw_sub_count(g_sub), members);
    g_allow = (HnswAllow){ g_words, N, members };
    int outside;
    double r_sub = recall_of(g_idx, g_sub, &g_allow, &outside);
    ASSERT_EQ_INT(outside, 0);
    int outside2;
    double r_sparse = recall_of(g_idx, NULL, &g_allow, &outside2);
    printf("  %zu members (%zu bytes): recall@10 at ef %d: subgraph %.4f, walk over the "
           "subset in the main graph %.4f\n",
           members, hnsw_sub_bytes(g_sub), EF, r_sub, r_sparse);
    ASSERT_TRUE(r_sub >= 0.95);

    /* Half the subset allowed: the walk routes through the rest. */
    static uint64_t half[(N + 63) / 64];
    size_t nh = 0;
    for (uint32_t i = 0; i < N; i++)
        if (in_subset(i) && (i / SHARE) % 2) {
            set_bit(half, i);
            nh++;
        }
    HnswAllow ah = { half, N, nh };
    double r_half = recall_of(g_idx, g_sub, &ah, &outside);
    printf("  half the subset allowed (%zu): recall@10 %.4f\n", nh, r_half);
    ASSERT_EQ_INT(outside, 0);
    ASSERT_TRUE(r_half >= 0.9);
}

TEST(test_sub_missing)
{
    /* Every member allowed: nothing missing. */
    uint32_t out[64];
    ASSERT_EQ_U64(hnsw_sub_missing(g_idx, g_sub, &g_allow, NULL, 0, out, 64), 0);
    /* Five non-members allowed, two members stale. */
    static uint64_t w[(N + 63) / 64], stale[(N + 63) / 64];
    memcpy(w, g_words, sizeof w);
    uint32_t extra[5], marked[2];
    int ne = 0, nm = 0;
    for (uint32_t i = 1; i < N && (ne < 5 || nm < 2); i++) {
        if (!in_subset(i) && ne < 5) {
            extra[ne++] = i;
            set_bit(w, i);
        } else if (in_subset(i) && nm < 2 && i > 5000) {
            marked[nm++] = i;
            set_bit(stale, i);
        }
    }
    HnswAllow a = { w, N, g_allow.count + 5 };
    size_t n = hnsw_sub_missing(g_idx, g_sub, &a, stale, ARRAY_LEN(stale), out, 64);
    ASSERT_EQ_U64(n, 7);
    for (int i = 0; i < 5; i++) {
        int found = 0;
        for (size_t j = 0; j < n; j++) found |= out[j] == extra[i];
        ASSERT_TRUE(found);
    }
    for (int i = 0; i < 2; i++) {
        int found = 0;
        for (size_t j = 0; j < n; j++) found |= out[j] == marked[i];
        ASSERT_TRUE(found);
    }
    for (size_t j = 1; j < n; j++) ASSERT_TRUE(out[j] > out[j - 1]);
    /* Past the cap: cap + 1. */
    ASSERT_EQ_U64(hnsw_sub_missing(g_idx, g_sub, &a, stale, ARRAY_LEN(stale), out, 3), 4);
}

TEST(test_sub_deleted_and_relinked)
{
    /* The member nearest the first query is deleted: never returned. */
    HnswHit hits[K];
    int n;
    ASSERT_OK(hnsw_search_sub(g_idx, g_sub, queries, K, EF, &g_allow, hits, &n));
    ASSERT_TRUE(n > 0);
    uint32_t gone = hits[0].node;
    ASSERT_OK(hnsw_delete(g_idx, gone));
    for (int qi = 0; qi < NQ; qi++) {
        ASSERT_OK(hnsw_search_sub(g_idx, g_sub, queries + (size_t)qi * DIM, K, EF, &g_allow, hits, &n));
        for (int j = 0; j < n; j++) ASSERT_TRUE(hits[j].node != gone);
    }
    /* A member moved next to a non-member far from it, and relinked, is
     * found first by its new vector. */
    uint32_t moved = 0, far = 0;
    for (uint32_t i = 0; i < N && !moved; i++)
        if (in_subset(i) && i != gone) moved = i;
    float best = 2;
    for (uint32_t i = 0; i < N; i++) {
        float d = vec_dot(base + (size_t)i * DIM, base + (size_t)moved * DIM, DIM);
        if (!in_subset(i) && d < best) {
            best = d;
            far = i;
        }
    }
    float v[DIM];
    memcpy(v, base + (size_t)far * DIM, sizeof v);
    v[0] += 0.01f;
    vec_normalize(v, DIM);
    ASSERT_OK(hnsw_update(g_idx, moved, v));
    ASSERT_OK(hnsw_sub_add(g_idx, g_sub, moved));
    ASSERT_OK(hnsw_search_sub(g_idx, g_sub, v, K, EF, &g_allow, hits, &n));
    ASSERT_TRUE(n > 0);
    ASSERT_EQ_U64(hits[0].node, moved);
    ASSERT_TRUE(hits[0].score > 0.999f);
}

TEST(test_sub_absent_member)
{
    /* The subgraph walked over another index of the same nodes that
     * lacks some members (a rebuilt graph leaves out points without the
     * vector): those are never returned, nor listed as missing. */
    HnswParams p;
    hnsw_params_default(&p);
    p.ef_construction = 40;
    HnswIndex *idx2;
    ASSERT_OK(hnsw_create(DIM, HNSW_METRIC_COSINE, &p, &idx2));
    ASSERT_OK(hnsw_reserve(idx2, N));
    int left = 0;
    for (uint32_t i = 0; i < N; i++) {
        if (in_subset(i) && i % 2) {
            left++;
            continue;
        }
        ASSERT_OK(hnsw_insert(idx2, i, base + (size_t)i * DIM));
    }
    /* A limit past the members present, so that any absent one reached
     * (its block zeroed: score 0) would be among the results. */
    int bad = 0;
    static HnswHit hits[900];
    for (int qi = 0; qi < 20; qi++) {
        int n;
        ASSERT_OK(hnsw_search_sub(idx2, g_sub, queries + (size_t)qi * DIM, 900, 900, &g_allow, hits, &n));
        for (int j = 0; j < n; j++) bad += !hnsw_contains(idx2, hits[j].node);
    }
    uint32_t out[8];
    printf("  %d members absent from the other index: %d returned\n", left, bad);
    ASSERT_EQ_INT(bad, 0);
    ASSERT_EQ_U64(hnsw_sub_missing(idx2, g_sub, &g_allow, NULL, 0, out, 8), 0);
    hnsw_free(idx2);
}

/* Searches on one thread while members are added on another. */
typedef struct {
    HnswIndex *idx;
    HnswSub *sub;
    int bad, done;
} Race;

static void *race_search(void *arg)
{
    Race *r = arg;
    for (int it = 0; it < 400; it++) {
        HnswHit hits[K];
        int n = 0;
        const float *q = queries + (size_t)(it % NQ) * DIM;
        if (hnsw_search_sub(r->idx, r->sub, q, K, 32, NULL, hits, &n)) r->bad++;
        for (int j = 0; j < n; j++)
            if (!hnsw_sub_contains(r->sub, hits[j].node)) r->bad++;
    }
    return NULL;
}

TEST(test_sub_concurrent)
{
    HnswSub *s = hnsw_sub_new(8);
    ASSERT_TRUE(s != NULL);
    Race r = { g_idx, s, 0, 0 };
    pthread_t t;
    ASSERT_OK(pthread_create(&t, NULL, race_search, &r));
    for (uint32_t i = 0; i < N; i += 7)
        if (hnsw_contains(g_idx, i)) ASSERT_OK(hnsw_sub_add(g_idx, s, i));
    pthread_join(t, NULL);
    ASSERT_EQ_INT(r.bad, 0);
    hnsw_sub_free(s);
    hnsw_sub_free(g_sub);
    hnsw_free(g_idx);
}

int main(void)
{
    RUN(test_sub_recall);
    RUN(test_sub_missing);
    RUN(test_sub_deleted_and_relinked);
    RUN(test_sub_absent_member);
    RUN(test_sub_concurrent);
    return harness_report(__FILE__);
}
