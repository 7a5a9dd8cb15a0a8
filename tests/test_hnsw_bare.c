/*
 * test_hnsw_bare.c - a bare index (hnsw_set_bare: Qdrant's hnsw m = 0)
 * stores its nodes without linking them, and they are what an exact scan
 * needs: checked against an exact double-precision scan of the live
 * vectors written here, not the index's own brute force.
 *
 * Data: 3000 x 48-d clustered unit vectors. What is asserted:
 *   - inserts, updates, deletes and revivals of a bare index leave every
 *     node at level 0 with no links, the entry point a node at level 0;
 *     hnsw_brute_force and hnsw_brute_force_nodes equal the reference
 *     (int8: the reference over the vectors encoded and decoded here
 *     with quant.h, which is what the code scores compute);
 *   - its node records round-trip through hnsw_node_encode /
 *     hnsw_node_load and hnsw_restore accepts them;
 *   - a linked index built from its vectors reaches recall@10 >= 0.95 at
 *     ef 64;
 *   - hnsw_set_bare on a linked index keeps its links and stores only the
 *     later inserts bare; off again, inserts link.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/util.h"
#include "base/vec.h"
#include "harness.h"
#include "index/hnsw.h"
#include "index/quant.h"

#define N 3000
#define NQ 100
#define DIM 48
#define K 10
#define EF 64

/* gen fills x[n][DIM] with clustered unit vectors. */
static void gen(float *x, int n, uint64_t seed)
{
    enum { NC = 30 };
    static float centres[NC][DIM];
    test_rng = seed;
    for (int c = 0; c < NC; c++) {
        for (int j = 0; j < DIM; j++) centres[c][j] = test_gauss();
        vec_normalize(centres[c], DIM);
    }
    for (int i = 0; i < n; i++) {
        float *v = x + (size_t)i * DIM;
        int c = (int)(test_urand() * NC) % NC;
        for (int j = 0; j < DIM; j++) v[j] = centres[c][j] + 0.4f * test_gauss();
        vec_normalize(v, DIM);
    }
}

static float base[N * DIM], fresh[N * DIM], queries[NQ * DIM];
static float cur[N * DIM]; /* each node's current vector */
static unsigned char live[N];

/* ref_topk: exact top-k ids by dot product over the live nodes, scores in
 * sc. */
static int ref_topk(const float *q, uint32_t *out, double *sc)
{
    int m = 0;
    for (int i = 0; i < N; i++) {
        if (!live[i]) continue;
        double s = 0;
        for (int j = 0; j < DIM; j++) s += (double)cur[(size_t)i * DIM + j] * q[j];
        if (m == K && s <= sc[m - 1]) continue;
        int p = m < K ? m++ : K - 1;
        while (p > 0 && sc[p - 1] < s) {
            sc[p] = sc[p - 1];
            out[p] = out[p - 1];
            p--;
        }
        sc[p] = s;
        out[p] = (uint32_t)i;
    }
    return m;
}

/* same_hits: the hits are the reference top k: same count, scores within
 * tol, ids equal except between scores tied within tol. */
static int same_hits(const HnswHit *h, int nh, const uint32_t *ref, const double *rs, int nr,
                     double tol)
{
    if (nh != nr) return 0;
    for (int i = 0; i < nh; i++) {
        if (fabs(h[i].score - rs[i]) > tol) return 0;
        if (h[i].node != ref[i]) {
            if (i + 1 < nr && fabs(rs[i] - rs[i + 1]) <= tol) continue;
            if (i > 0 && fabs(rs[i] - rs[i - 1]) <= tol) continue;
            return 0;
        }
    }
    return 1;
}

/* unbare_nodes: how many present nodes have a level above 0 or a link. */
static int unbare_nodes(HnswIndex *idx, int *present)
{
    int cap = hnsw_links_max(idx, HNSW_MAX_LEVEL), bad = 0;
    uint32_t *links = xmalloc((size_t)cap * sizeof *links);
    int counts[HNSW_MAX_LEVEL + 1], level, deleted;
    *present = 0;
    for (uint32_t n = 0; n < N; n++) {
        if (hnsw_node_get(idx, n, &level, &deleted, links, (size_t)cap, counts)) continue;
        (*present)++;
        int total = 0;
        for (int l = 0; l <= level; l++) total += counts[l];
        bad += level > 0 || total > 0;
    }
    free(links);
    return bad;
}

static float g_lo, g_hi; /* the int8 interval: min and max of the data */

static HnswIndex *make_index(int bare, int quant)
{
    HnswParams p;
    hnsw_params_default(&p);
    p.ef_construction = 100;
    p.seed = 7;
    p.bare = bare;
    if (quant) {
        p.quant = 1;
        p.quant_lo = g_lo;
        p.quant_hi = g_hi;
    }
    HnswIndex *idx = NULL;
    if (hnsw_create(DIM, HNSW_METRIC_COSINE, &p, &idx)) return NULL;
    return idx;
}

/* churn inserts every node, then updates a third of them, deletes a fifth
 * and revives (re-inserts with a new vector) half of those deleted. */
static int churn(HnswIndex *idx)
{
    memcpy(cur, base, sizeof cur);
    memset(live, 1, sizeof live);
    for (int i = 0; i < N; i++)
        if (hnsw_insert(idx, (uint32_t)i, cur + (size_t)i * DIM)) return -1;
    test_rng = 11;
    for (int i = 0; i < N; i++) {
        double u = test_urand();
        float *v = cur + (size_t)i * DIM;
        if (u < 0.33) {
            memcpy(v, fresh + (size_t)i * DIM, DIM * sizeof *v);
            if (hnsw_update(idx, (uint32_t)i, v)) return -1;
        } else if (u < 0.53) {
            if (hnsw_delete(idx, (uint32_t)i)) return -1;
            live[i] = 0;
            if (u < 0.43) {
                memcpy(v, fresh + (size_t)i * DIM, DIM * sizeof *v);
                if (hnsw_insert(idx, (uint32_t)i, v)) return -1;
                live[i] = 1;
            }
        }
    }
    return 0;
}

static int live_count(void)
{
    int n = 0;
    for (int i = 0; i < N; i++) n += live[i];
    return n;
}

/* recall_of: recall@10 of hnsw_search at EF against the reference. */
static double recall_of(HnswIndex *idx)
{
    long found = 0, total = 0;
    for (int i = 0; i < NQ; i++) {
        const float *q = queries + (size_t)i * DIM;
        uint32_t ref[K];
        double rs[K];
        HnswHit h[K];
        int nr = ref_topk(q, ref, rs), nh;
        if (hnsw_search(idx, q, K, EF, NULL, NULL, h, &nh)) return -1;
        for (int j = 0; j < nh; j++)
            for (int t = 0; t < nr; t++) found += ref[t] == h[j].node;
        total += nr;
    }
    return total ? (double)found / total : 1.0;
}

/* scan_mismatches: how many queries hnsw_brute_force answers otherwise
 * than the reference (scores within tol). With qp (int8), the reference
 * query is the query's code decoded, as the index scores it. */
static int scan_mismatches(HnswIndex *idx, const QuantParams *qp, double tol)
{
    int wrong = 0;
    uint8_t *code = qp ? xmalloc(qp->code_bytes) : NULL;
    for (int i = 0; i < NQ; i++) {
        const float *q = queries + (size_t)i * DIM;
        float dq[DIM];
        if (qp) {
            quant_encode(qp, q, code);
            quant_decode(qp, code, dq);
        }
        uint32_t ref[K];
        double rs[K];
        HnswHit h[K];
        int nh, nr = ref_topk(qp ? dq : q, ref, rs);
        if (hnsw_brute_force(idx, q, K, NULL, NULL, h, &nh)) wrong++;
        else wrong += !same_hits(h, nh, ref, rs, nr, tol);
    }
    free(code);
    return wrong;
}

TEST(bare_inserts_updates_deletes_store_no_links)
{
    HnswIndex *idx = make_index(1, 0);
    ASSERT_TRUE(idx != NULL);
    HnswParams p;
    hnsw_params_get(idx, &p);
    ASSERT_EQ_INT(p.bare, 1);
    ASSERT_OK(churn(idx));
    ASSERT_EQ_INT(hnsw_count(idx), live_count());
    int present;
    ASSERT_EQ_INT(unbare_nodes(idx, &present), 0);
    ASSERT_EQ_INT(present, N);
    uint32_t entry;
    int max_level;
    ASSERT_OK(hnsw_entry_get(idx, &entry, &max_level));
    ASSERT_EQ_INT(max_level, 0);
    /* hnsw_insert_new of a new node reports no node changed. */
    uint32_t *touched = xmalloc((size_t)hnsw_links_max(idx, HNSW_MAX_LEVEL) * sizeof *touched);
    size_t nt = 99;
    ASSERT_EQ_INT(hnsw_insert_new(idx, N, base, touched,
                                  (size_t)hnsw_links_max(idx, HNSW_MAX_LEVEL), &nt), 0);
    free(touched);
    ASSERT_EQ_INT(nt, 0);
    ASSERT_OK(hnsw_delete(idx, N));

    /* Exact scans: every query, all nodes and a node list. */
    uint32_t list[N / 2];
    size_t nl = 0;
    for (uint32_t i = 0; i < N; i += 2) list[nl++] = i;
    int wrong = 0, wrong_nodes = 0;
    for (int i = 0; i < NQ; i++) {
        const float *q = queries + (size_t)i * DIM;
        uint32_t ref[K];
        double rs[K];
        HnswHit h[K];
        int nh;
        int nr = ref_topk(q, ref, rs);
        ASSERT_OK(hnsw_brute_force(idx, q, K, NULL, NULL, h, &nh));
        wrong += !same_hits(h, nh, ref, rs, nr, 1e-5);
        /* The even nodes only: the reference with the odd ones hidden. */
        unsigned char keep[N];
        memcpy(keep, live, sizeof keep);
        for (int j = 1; j < N; j += 2) live[j] = 0;
        nr = ref_topk(q, ref, rs);
        memcpy(live, keep, sizeof keep);
        ASSERT_OK(hnsw_brute_force_nodes(idx, q, K, list, nl, h, &nh));
        wrong_nodes += !same_hits(h, nh, ref, rs, nr, 1e-5);
    }
    ASSERT_EQ_INT(wrong, 0);
    ASSERT_EQ_INT(wrong_nodes, 0);

    /* The records round-trip: loaded into a new index and restored. */
    HnswIndex *copy = make_index(1, 0);
    ASSERT_TRUE(copy != NULL);
    size_t cap = hnsw_node_blob_max(idx), len;
    unsigned char *blob = xmalloc(cap);
    float v[DIM];
    int loaded = 0;
    for (uint32_t n = 0; n <= N; n++) {
        if (hnsw_node_encode(idx, n, blob, cap, &len)) continue;
        ASSERT_EQ_INT(len, 8); /* level, deleted, padding, one zero count */
        ASSERT_OK(hnsw_get_vector(idx, n, v));
        ASSERT_OK(hnsw_node_load(copy, n, v, blob, len));
        loaded++;
    }
    free(blob);
    ASSERT_EQ_INT(loaded, N + 1);
    ASSERT_OK(hnsw_restore(copy, entry, max_level));
    ASSERT_EQ_INT(hnsw_count(copy), live_count());
    ASSERT_EQ_INT(unbare_nodes(copy, &present), 0);
    hnsw_free(copy);

    /* A linked index built from the bare one's vectors is searchable. */
    HnswIndex *linked = make_index(0, 0);
    ASSERT_TRUE(linked != NULL);
    for (uint32_t n = 0; n < N; n++) {
        if (!hnsw_contains(idx, n)) continue;
        ASSERT_OK(hnsw_get_vector(idx, n, v));
        ASSERT_OK(hnsw_insert(linked, n, v));
    }
    double r = recall_of(linked);
    int linked_nodes = unbare_nodes(linked, &present);
    printf("  rebuilt from the bare index: recall@10 %.4f at ef %d; %d of %d nodes linked\n", r,
           EF, linked_nodes, present);
    ASSERT_GE(r, 0.95);
    ASSERT_EQ_INT(present, live_count());
    ASSERT_EQ_INT(linked_nodes, present);
    hnsw_free(linked);
    hnsw_free(idx);
}

/* An int8 index scores a query's code against the stored codes, which
 * is the dot product of the decoded query and the decoded vector: the
 * reference is that, with the codes made here (quant_encode / decode of
 * each node's current vector, so updates must have stored new codes). */
TEST(bare_quantized_scan_matches_codes)
{
    HnswIndex *idx = make_index(1, 1);
    ASSERT_TRUE(idx != NULL);
    ASSERT_OK(churn(idx));
    int present;
    ASSERT_EQ_INT(unbare_nodes(idx, &present), 0);
    ASSERT_EQ_INT(present, N);
    QuantParams qp;
    quant_params_init(&qp, DIM, QUANT_DOT, g_lo, g_hi);
    uint8_t *code = xmalloc(qp.code_bytes);
    static float exact[N * DIM];
    memcpy(exact, cur, sizeof exact);
    float stored[DIM];
    int differ = 0;
    for (int i = 0; i < N; i++) {
        if (!live[i]) continue;
        quant_encode(&qp, exact + (size_t)i * DIM, code);
        quant_decode(&qp, code, cur + (size_t)i * DIM);
        ASSERT_OK(hnsw_get_vector(idx, (uint32_t)i, stored));
        differ += memcmp(stored, cur + (size_t)i * DIM, sizeof stored) != 0;
    }
    ASSERT_EQ_INT(differ, 0);
    free(code);
    int wrong = scan_mismatches(idx, &qp, 1e-4);
    memcpy(cur, exact, sizeof exact);
    ASSERT_EQ_INT(wrong, 0);
    hnsw_free(idx);
}

TEST(set_bare_on_a_linked_index)
{
    HnswIndex *idx = make_index(0, 0);
    ASSERT_TRUE(idx != NULL);
    memcpy(cur, base, sizeof cur);
    memset(live, 0, sizeof live);
    for (int i = 0; i < N / 2; i++) {
        ASSERT_OK(hnsw_insert(idx, (uint32_t)i, cur + (size_t)i * DIM));
        live[i] = 1;
    }
    int present;
    int linked = unbare_nodes(idx, &present);
    ASSERT_EQ_INT(linked, N / 2); /* every node of a built graph has links */
    uint32_t entry;
    int max_level;
    ASSERT_OK(hnsw_entry_get(idx, &entry, &max_level));
    ASSERT_TRUE(max_level > 0);

    /* Bare from now on: later inserts only; the graph there is stays. */
    hnsw_set_bare(idx, 1);
    for (int i = N / 2; i < N; i++) {
        ASSERT_OK(hnsw_insert(idx, (uint32_t)i, cur + (size_t)i * DIM));
        live[i] = 1;
    }
    ASSERT_EQ_INT(unbare_nodes(idx, &present), linked);
    ASSERT_EQ_INT(present, N);
    uint32_t e2;
    int l2;
    ASSERT_OK(hnsw_entry_get(idx, &e2, &l2));
    ASSERT_EQ_INT(e2, entry);
    ASSERT_EQ_INT(l2, max_level);
    /* An update of a linked node (the entry point) stores it bare: no
     * links, its level kept; a delete repairs nothing, so the deleted
     * node keeps its links and the graph stays a valid one. */
    ASSERT_OK(hnsw_update(idx, entry, fresh));
    memcpy(cur + (size_t)entry * DIM, fresh, DIM * sizeof *cur);
    ASSERT_OK(hnsw_delete(idx, 1));
    live[1] = 0;
    int lv, del, counts[HNSW_MAX_LEVEL + 1];
    size_t cap = (size_t)hnsw_links_max(idx, HNSW_MAX_LEVEL);
    uint32_t *links = xmalloc(cap * sizeof *links);
    ASSERT_OK(hnsw_node_get(idx, entry, &lv, &del, links, cap, counts));
    ASSERT_EQ_INT(lv, max_level);
    for (int l = 0; l <= lv; l++) ASSERT_EQ_INT(counts[l], 0);
    ASSERT_OK(hnsw_node_get(idx, 1, &lv, &del, links, cap, counts));
    ASSERT_EQ_INT(del, 1);
    ASSERT_TRUE(counts[0] > 0 || entry == 1);
    ASSERT_OK(hnsw_entry_get(idx, &e2, &l2));
    ASSERT_EQ_INT(e2, entry);
    ASSERT_EQ_INT(l2, max_level);
    ASSERT_EQ_INT(scan_mismatches(idx, NULL, 1e-5), 0);

    /* Linked again: a new insert gets links. */
    hnsw_set_bare(idx, 0);
    ASSERT_OK(hnsw_delete(idx, 2));
    ASSERT_OK(hnsw_insert(idx, 2, fresh + DIM));
    ASSERT_OK(hnsw_node_get(idx, 2, &lv, &del, links, cap, counts));
    free(links);
    ASSERT_TRUE(counts[0] > 0);
    hnsw_free(idx);
}

int main(void)
{
    gen(base, N, 1);
    gen(fresh, N, 2);
    gen(queries, NQ, 3);
    g_lo = g_hi = base[0];
    for (int i = 0; i < N * DIM; i++) {
        g_lo = fminf(g_lo, fminf(base[i], fresh[i]));
        g_hi = fmaxf(g_hi, fmaxf(base[i], fresh[i]));
    }
    RUN(bare_inserts_updates_deletes_store_no_links);
    RUN(bare_quantized_scan_matches_codes);
    RUN(set_bare_on_a_linked_index);
    return harness_report(__FILE__);
}
