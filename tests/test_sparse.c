/*
 * test_sparse.c - sparse vectors against references computed here: the
 * inverted index (index/sparse.h) and the collection engine's sparse
 * vectors (store/collection.h) are compared with a brute-force scan of
 * the test's own copy of every vector, dot products summed in double over
 * shared indices. A result list is right when it has min(k, candidates)
 * hits, every hit is a candidate (shares an index with the query, passes
 * the filter) with its reference score, and the scores rank-wise equal the
 * reference's best scores (ties may come in any order). IDF weights are
 * computed directly from the model's counts with Qdrant's formula.
 *
 * Data: random vectors over a skewed set of dimensions (a few common, many
 * rare, some near 2^32), empty vectors and exact zeros included.
 */
#include <ftw.h>
#include <stdlib.h>
#include <unistd.h>

#include "base/err.h"
#include "base/log.h"
#include "harness.h"
#include "index/sparse.h"
#include "store/collection.h"

#define MAX_LEN 24
#define N_DIMS 300
#define N_NODES 3000
#define N_POINTS 600

static uint64_t rng_state = 0x2545F4914F6CDD1DULL;
static uint64_t rng_next(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}
static double rng_unit(void) { return (double)(rng_next() >> 11) * (1.0 / 9007199254740992.0); }

/* A sparse vector as the test keeps it: in the order generated (not sorted). */
typedef struct {
    int present;
    int n;
    uint32_t idx[MAX_LEN];
    float val[MAX_LEN];
} Vec;

/* rand_dim draws from a skewed distribution: low dimensions are common
 * (df large, IDF small), high ones rare; a few sit near UINT32_MAX. */
static uint32_t rand_dim(void)
{
    if (rng_next() % 50 == 0) return UINT32_MAX - (uint32_t)(rng_next() % 8);
    double u = rng_unit();
    return (uint32_t)(u * u * u * N_DIMS);
}

static void rand_vec(Vec *v, int min_len)
{
    v->present = 1;
    v->n = min_len + (int)(rng_next() % (uint64_t)(MAX_LEN + 1 - min_len));
    for (int i = 0; i < v->n; i++) {
        uint32_t d;
        int dup;
        do {
            d = rand_dim();
            dup = 0;
            for (int k = 0; k < i; k++) dup |= v->idx[k] == d;
        } while (dup);
        v->idx[i] = d;
        v->val[i] = rng_next() % 20 == 0 ? 0.0f : (float)(rng_unit() * 3.0 - 1.0);
    }
}

/* sorted copies of v into idx / val (insertion sort: the reference's own). */
static void sorted(const Vec *v, uint32_t *idx, float *val)
{
    for (int i = 0; i < v->n; i++) {
        int j = i;
        while (j > 0 && idx[j - 1] > v->idx[i]) {
            idx[j] = idx[j - 1];
            val[j] = val[j - 1];
            j--;
        }
        idx[j] = v->idx[i];
        val[j] = v->val[i];
    }
}

/* ref_dot: the dot product in double; *overlap when an index is shared. */
static double ref_dot(const Vec *a, const Vec *b, int *overlap)
{
    double s = 0;
    *overlap = 0;
    for (int i = 0; i < a->n; i++)
        for (int k = 0; k < b->n; k++)
            if (a->idx[i] == b->idx[k]) {
                s += (double)a->val[i] * b->val[k];
                *overlap = 1;
            }
    return s;
}

/* A reference hit list. */
typedef struct {
    int id;
    double score;
} Ref;

static int cmp_ref(const void *pa, const void *pb)
{
    const Ref *a = pa, *b = pb;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    return a->id - b->id;
}

static double score_tol(double s) { return 1e-4 * (1.0 + fabs(s)); }

/* check_ranked is the acceptance rule of the file comment: got (ids and
 * scores, n_got), a page of k from rank off, against every candidate's
 * reference score. Returns 1 when it holds, else prints why and returns 0. */
static int check_page(const int *got, const float *gs, size_t n_got, Ref *all, size_t n_all,
                      size_t off, size_t k)
{
    qsort(all, n_all, sizeof *all, cmp_ref);
    if (off > n_all) off = n_all;
    Ref *ref = all + off;
    size_t n_ref = n_all - off;
    size_t want = n_ref < k ? n_ref : k;
    if (n_got != want) {
        printf("  got %zu hits, reference %zu (of %zu candidates)\n", n_got, want, n_ref);
        return 0;
    }
    for (size_t i = 0; i < n_got; i++) {
        if (fabs(gs[i] - ref[i].score) > score_tol(ref[i].score)) {
            printf("  rank %zu: score %.9g, reference %.9g\n", i, gs[i], ref[i].score);
            return 0;
        }
        /* Ties across the page boundary may swap: look in every candidate. */
        size_t r = 0;
        while (r < n_all && all[r].id != got[i]) r++;
        if (r == n_all) {
            printf("  rank %zu: %d is not a candidate\n", i, got[i]);
            return 0;
        }
        if (fabs(gs[i] - all[r].score) > score_tol(all[r].score)) {
            printf("  rank %zu: %d scored %.9g, reference %.9g\n", i, got[i], gs[i], all[r].score);
            return 0;
        }
        for (size_t p = 0; p < i; p++)
            if (got[p] == got[i]) {
                printf("  %d returned twice\n", got[i]);
                return 0;
            }
    }
    return 1;
}

static int check_ranked(const int *got, const float *gs, size_t n_got, Ref *ref, size_t n_ref,
                        size_t k)
{
    return check_page(got, gs, n_got, ref, n_ref, 0, k);
}

/* ---- the index alone ---- */

static Vec g_nodes[N_NODES];
static SparseIndex *g_ix;
/* Model node i is index node i * g_stride: a stride spreads the nodes
 * over a range too wide for the dense accumulator, so searches take the
 * merge path (sparse.c chooses by postings against the node range). */
static uint32_t g_stride = 1;

static void ix_put(uint32_t node, const Vec *v)
{
    uint32_t idx[MAX_LEN];
    float val[MAX_LEN];
    sorted(v, idx, val);
    if (sparse_set(g_ix, node * g_stride, idx, val, (size_t)v->n) != 0) {
        printf("sparse_set failed\n");
        abort();
    }
    g_nodes[node] = *v;
}

static int even_only(uint32_t node, void *ctx)
{
    (void)ctx;
    return (node / g_stride) % 2 == 0;
}

/* index_matches_brute compares one search with the model's brute force;
 * weights (may be NULL) multiply the query's values first. */
static int index_matches_brute(const Vec *q, const double *weights, size_t k, int evens)
{
    uint32_t qi[MAX_LEN];
    float qv[MAX_LEN];
    sorted(q, qi, qv);
    Vec wq = *q;
    for (int i = 0; weights && i < q->n; i++) {
        /* weights follow q's generated order; qv is sorted: reweigh both. */
        wq.val[i] = (float)(q->val[i] * weights[i]);
    }
    sorted(&wq, qi, qv);
    SparseHit *hits = malloc((k ? k : 1) * sizeof *hits);
    size_t n_hits = 0;
    int e = sparse_search(g_ix, qi, qv, (size_t)q->n, k, evens ? even_only : NULL, NULL, hits, &n_hits);
    Ref *ref = malloc(N_NODES * sizeof *ref);
    size_t n_ref = 0;
    for (uint32_t node = 0; node < N_NODES; node++) {
        if (!g_nodes[node].present || (evens && node % 2)) continue;
        int ov;
        double s = ref_dot(&wq, &g_nodes[node], &ov);
        if (ov) ref[n_ref++] = (Ref){ (int)node, s };
    }
    int got[N_NODES];
    float gs[N_NODES];
    int strided = 1;
    for (size_t i = 0; i < n_hits; i++) {
        strided &= hits[i].node % g_stride == 0;
        got[i] = (int)(hits[i].node / g_stride);
        gs[i] = hits[i].score;
    }
    int ok = e == 0 && strided && check_ranked(got, gs, n_hits, ref, n_ref, k);
    free(hits);
    free(ref);
    return ok;
}

TEST(test_sort_and_dot)
{
    Vec v;
    rand_vec(&v, 5);
    uint32_t idx[MAX_LEN], ridx[MAX_LEN];
    float val[MAX_LEN], rval[MAX_LEN];
    memcpy(idx, v.idx, sizeof idx);
    memcpy(val, v.val, sizeof val);
    ASSERT_OK(sparse_sort(idx, val, (size_t)v.n));
    sorted(&v, ridx, rval);
    for (int i = 0; i < v.n; i++) {
        ASSERT_EQ_U64(idx[i], ridx[i]);
        ASSERT_TRUE(val[i] == rval[i]);
    }
    /* A repeated index is refused. */
    uint32_t dup[3] = { 7, 3, 7 };
    float dv[3] = { 1, 2, 3 };
    ASSERT_EQ_INT(sparse_sort(dup, dv, 3), ERR_INVAL);
    /* The dot product over shared indices; overlap even with zero weights. */
    uint32_t a[3] = { 1, 5, 9 }, b[3] = { 5, 9, 12 };
    float av[3] = { 2, 3, 4 }, bv[3] = { 0.5f, 0.25f, 8 };
    int ov = 0;
    ASSERT_NEAR(sparse_dot(a, av, 3, b, bv, 3, &ov), 3 * 0.5 + 4 * 0.25, 1e-6);
    ASSERT_TRUE(ov);
    float zv[3] = { 0, 0, 0 };
    ASSERT_NEAR(sparse_dot(a, zv, 3, b, bv, 3, &ov), 0, 0);
    ASSERT_TRUE(ov);
    uint32_t c[2] = { 2, 4 };
    sparse_dot(a, av, 3, c, av, 2, &ov);
    ASSERT_TRUE(!ov);
}

TEST(test_index_topk_matches_brute_force)
{
    for (uint32_t node = 0; node < N_NODES; node++) {
        Vec v;
        rand_vec(&v, 0);
        ix_put(node, &v);
    }
    ASSERT_EQ_U64(sparse_size(g_ix), N_NODES);
    for (int t = 0; t < 40; t++) {
        Vec q;
        rand_vec(&q, 1);
        size_t k = t % 4 == 0 ? 1 : t % 4 == 1 ? 10 : t % 4 == 2 ? 100 : 5000;
        if (!index_matches_brute(&q, NULL, k, t % 5 == 0)) HARNESS_FAIL("query %d (k=%zu)", t, k);
    }
    /* A query sharing nothing finds nothing; an empty one too. */
    Vec none = { 1, 1, { 123456789u }, { 1.0f } };
    ASSERT_TRUE(index_matches_brute(&none, NULL, 10, 0));
    SparseHit h[4];
    size_t n = 99;
    ASSERT_OK(sparse_search(g_ix, none.idx, none.val, 1, 4, NULL, NULL, h, &n));
    ASSERT_EQ_INT(n, 0);
    ASSERT_OK(sparse_search(g_ix, NULL, NULL, 0, 4, NULL, NULL, h, &n));
    ASSERT_EQ_INT(n, 0);
    /* An unsorted query is refused. */
    uint32_t bad[2] = { 5, 3 };
    float bv[2] = { 1, 1 };
    ASSERT_EQ_INT(sparse_search(g_ix, bad, bv, 2, 4, NULL, NULL, h, &n), ERR_INVAL);
}

TEST(test_index_updates_and_removals)
{
    /* Replace a third (new dimensions, some emptied), remove a fifth,
     * re-add some removed ones: the index must follow the model. */
    for (uint32_t node = 0; node < N_NODES; node += 3) {
        Vec v;
        rand_vec(&v, node % 2 ? 0 : 1);
        ix_put(node, &v);
    }
    for (uint32_t node = 1; node < N_NODES; node += 5) {
        sparse_remove(g_ix, node);
        g_nodes[node].present = 0;
    }
    for (uint32_t node = 1; node < N_NODES; node += 25) {
        Vec v;
        rand_vec(&v, 1);
        ix_put(node, &v);
    }
    size_t live = 0, nonempty = 0;
    for (int i = 0; i < N_NODES; i++) {
        live += g_nodes[i].present;
        nonempty += g_nodes[i].present && g_nodes[i].n > 0;
    }
    ASSERT_EQ_U64(sparse_size(g_ix), live);
    ASSERT_EQ_U64(sparse_indexed(g_ix), nonempty);
    for (int t = 0; t < 30; t++) {
        Vec q;
        rand_vec(&q, 1);
        if (!index_matches_brute(&q, NULL, t % 2 ? 10 : 300, t % 3 == 0)) HARNESS_FAIL("query %d", t);
    }
    /* Rows read back as the model, sorted. */
    for (uint32_t node = 0; node < N_NODES; node += 7) {
        const uint32_t *ri;
        const float *rv;
        size_t rn;
        int e = sparse_row(g_ix, node, &ri, &rv, &rn);
        if (!g_nodes[node].present) {
            ASSERT_EQ_INT(e, ERR_NOTFOUND);
            continue;
        }
        ASSERT_OK(e);
        uint32_t idx[MAX_LEN];
        float val[MAX_LEN];
        sorted(&g_nodes[node], idx, val);
        ASSERT_EQ_INT(rn, g_nodes[node].n);
        for (size_t i = 0; i < rn; i++) {
            ASSERT_EQ_U64(ri[i], idx[i]);
            ASSERT_TRUE(rv[i] == val[i]);
        }
    }
}

TEST(test_index_merge_path)
{
    /* The same model, nodes 1000 apart: 3M node ids, so no query's
     * postings come near 1/16 of the range. */
    SparseIndex *dense = g_ix;
    ASSERT_OK(sparse_create(&g_ix));
    g_stride = 1000;
    for (uint32_t node = 0; node < N_NODES; node++)
        if (g_nodes[node].present) ix_put(node, &g_nodes[node]);
    uint32_t last = N_NODES - 1;
    while (!g_nodes[last].present) last--;
    ASSERT_EQ_U64(sparse_node_high(g_ix), (uint64_t)last * 1000 + 1);
    int ok = 1;
    for (int t = 0; t < 30 && ok; t++) {
        Vec q;
        rand_vec(&q, 1);
        ok = index_matches_brute(&q, NULL, t % 2 ? 10 : 1000, t % 3 == 0);
    }
    sparse_free(g_ix);
    g_ix = dense;
    g_stride = 1;
    ASSERT_TRUE(ok);
}

/* ref_idf is Qdrant's formula in double over the model's counts. */
static double ref_idf(uint32_t dim, int *n_out)
{
    int n = 0, df = 0;
    for (int i = 0; i < N_NODES; i++) {
        if (!g_nodes[i].present || g_nodes[i].n == 0) continue;
        n++;
        for (int k = 0; k < g_nodes[i].n; k++) df += g_nodes[i].idx[k] == dim;
    }
    *n_out = n;
    return log((n - df + 0.5) / (df + 0.5) + 1.0);
}

TEST(test_index_idf)
{
    for (int t = 0; t < 20; t++) {
        Vec q;
        rand_vec(&q, 1);
        uint32_t qi[MAX_LEN];
        float qv[MAX_LEN];
        sorted(&q, qi, qv);
        float w[MAX_LEN];
        memcpy(w, qv, sizeof w);
        sparse_idf(g_ix, qi, w, (size_t)q.n);
        double weights[MAX_LEN];
        for (int i = 0; i < q.n; i++) {
            int n;
            double idf = ref_idf(qi[i], &n);
            ASSERT_NEAR(w[i], qv[i] * idf, 1e-5 * (1 + fabs(qv[i] * idf)));
            /* df straight from the model too. */
            size_t df = 0;
            for (int k = 0; k < N_NODES; k++)
                for (int m = 0; g_nodes[k].present && m < g_nodes[k].n; m++) df += g_nodes[k].idx[m] == qi[i];
            ASSERT_EQ_U64(sparse_df(g_ix, qi[i]), df);
        }
        /* Searching with IDF weights equals the brute force with them. */
        for (int i = 0; i < q.n; i++) {
            int n;
            weights[i] = ref_idf(q.idx[i], &n);
        }
        if (!index_matches_brute(&q, weights, 10, 0)) HARNESS_FAIL("idf query %d", t);
    }
    /* A dimension nobody has: df 0, N from the model. */
    int n;
    double idf = ref_idf(999999u, &n);
    uint32_t d = 999999u;
    float w = 2.0f;
    sparse_idf(g_ix, &d, &w, 1);
    ASSERT_NEAR(w, 2.0 * idf, 1e-5 * (1 + 2.0 * idf));
}

/* ---- the collection engine ---- */

static char g_dir[256];
static Db *g_db;

/* What the test knows of each point of collection "c". */
typedef struct {
    int live;
    Vec text, kw; /* present: the point has that sparse vector */
    float img[4];
} Pt;
static Pt g_pts[N_POINTS];

static int cat_of(int id) { return id % 5; }

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
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

/* upsert_pts upserts ids [from, to) from the model (vectors as generated,
 * unsorted). */
static int upsert_pts(int from, int to, char *err, size_t errlen)
{
    Arena a;
    arena_init(&a, 0);
    CollectionPointIn *pts = arena_calloc(&a, (size_t)(to - from) * sizeof *pts);
    for (int id = from; id < to; id++) {
        Pt *p = &g_pts[id];
        CollectionVectorIn *vin = arena_calloc(&a, 3 * sizeof *vin);
        size_t nv = 0;
        vin[nv++] = (CollectionVectorIn){ "img", p->img, 4, NULL, NULL };
        if (p->text.present) {
            CollectionSparseVector *sv = arena_alloc(&a, sizeof *sv);
            *sv = (CollectionSparseVector){ p->text.idx, p->text.val, (size_t)p->text.n };
            vin[nv++] = (CollectionVectorIn){ "text", NULL, 0, sv, NULL };
        }
        if (p->kw.present) {
            CollectionSparseVector *sv = arena_alloc(&a, sizeof *sv);
            *sv = (CollectionSparseVector){ p->kw.idx, p->kw.val, (size_t)p->kw.n };
            vin[nv++] = (CollectionVectorIn){ "kw", NULL, 0, sv, NULL };
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

static void make_point(int id)
{
    Pt *p = &g_pts[id];
    memset(p, 0, sizeof *p);
    for (int d = 0; d < 4; d++) p->img[d] = (float)rng_unit();
    rand_vec(&p->text, id % 17 == 0 ? 0 : 1);
    if (id % 3) rand_vec(&p->kw, 1);
}

/* The search arguments of coll_check. */
typedef struct {
    const char *using;
    const Vec *q;
    size_t limit, offset;
    int cat;      /* -1: no filter */
    int idf;      /* the vector's modifier is idf */
    int has_threshold;
    float threshold;
} Check;

/* coll_check runs collection_search and compares it with the model. */
static int coll_check(const Check *ck)
{
    CollectionSparseVector q = { ck->q->idx, ck->q->val, (size_t)ck->q->n };
    CollectionSearch s = { 0 };
    s.using = ck->using;
    s.sparse = &q;
    s.limit = ck->limit;
    s.offset = ck->offset;
    s.has_score_threshold = ck->has_threshold;
    s.score_threshold = ck->threshold;
    Arena a;
    arena_init(&a, 0);
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
    /* The reference: weights (IDF over the live model), candidates. */
    Vec wq = *ck->q;
    int kw = !strcmp(ck->using, "kw");
    for (int i = 0; ck->idf && i < wq.n; i++) {
        int n = 0, df = 0;
        for (int id = 0; id < N_POINTS; id++) {
            const Vec *v = kw ? &g_pts[id].kw : &g_pts[id].text;
            if (!g_pts[id].live || !v->present || v->n == 0) continue;
            n++;
            for (int k = 0; k < v->n; k++) df += v->idx[k] == wq.idx[i];
        }
        wq.val[i] = (float)(wq.val[i] * log((n - df + 0.5) / (df + 0.5) + 1.0));
    }
    Ref ref[N_POINTS];
    size_t n_ref = 0;
    for (int id = 0; id < N_POINTS; id++) {
        const Vec *v = kw ? &g_pts[id].kw : &g_pts[id].text;
        if (!g_pts[id].live || !v->present || (ck->cat >= 0 && cat_of(id) != ck->cat)) continue;
        int ov;
        double sc = ref_dot(&wq, v, &ov);
        if (ov && (!ck->has_threshold || sc >= ck->threshold)) ref[n_ref++] = (Ref){ id, sc };
    }
    int got[N_POINTS];
    float gs[N_POINTS];
    for (size_t i = 0; i < r.n; i++) {
        got[i] = (int)r.points[i].id.num;
        gs[i] = r.points[i].score;
    }
    int ok = check_page(got, gs, r.n, ref, n_ref, ck->offset, ck->limit);
    arena_free(&a);
    return ok;
}

static int create_main(void)
{
    CollectionConfig cfg = { .n_vectors = 1, .n_sparse = 2 };
    snprintf(cfg.vectors[0].name, sizeof cfg.vectors[0].name, "img");
    cfg.vectors[0].size = 4;
    cfg.vectors[0].distance = COLLECTION_DOT;
    snprintf(cfg.sparse[0].name, sizeof cfg.sparse[0].name, "text");
    snprintf(cfg.sparse[1].name, sizeof cfg.sparse[1].name, "kw");
    cfg.sparse[1].modifier = COLLECTION_MODIFIER_IDF;
    char err[256];
    return collection_create(g_db, "c", &cfg, err, sizeof err);
}

TEST(test_config)
{
    char err[256] = "";
    /* Dense and sparse names share one namespace (Qdrant's message). */
    CollectionConfig cfg = { .n_vectors = 1, .n_sparse = 1 };
    snprintf(cfg.vectors[0].name, sizeof cfg.vectors[0].name, "image");
    cfg.vectors[0].size = 2;
    snprintf(cfg.sparse[0].name, sizeof cfg.sparse[0].name, "image");
    ASSERT_EQ_INT(collection_create(g_db, "dup", &cfg, err, sizeof err), ERR_INVAL);
    ASSERT_STR_EQ(err, "Dense and sparse vector names must be unique - duplicate found with 'image'");
    CollectionConfig un = { .n_vectors = 1, .unnamed = 1, .n_sparse = 1 };
    un.vectors[0].size = 2;
    /* A sparse vector named "" beside the unnamed dense vector: Qdrant
     * 1.17's duplicate message and 1.19's empty-name one, both. */
    ASSERT_EQ_INT(collection_create(g_db, "dup", &un, err, sizeof err), ERR_INVAL);
    ASSERT_STR_EQ(err, "Dense and sparse vector names must be unique - duplicate found with '' "
                       "(Sparse vector name cannot be empty)");
    /* Beside named dense vectors, an empty sparse name alone. */
    cfg.sparse[0].name[0] = '\0';
    ASSERT_EQ_INT(collection_create(g_db, "dup", &cfg, err, sizeof err), ERR_INVAL);
    ASSERT_STR_EQ(err, "Sparse vector name cannot be empty");
    /* Sparse vectors only: created, reported, deleted. */
    CollectionConfig only = { .n_sparse = 1 };
    snprintf(only.sparse[0].name, sizeof only.sparse[0].name, "words");
    only.sparse[0].modifier = COLLECTION_MODIFIER_IDF;
    ASSERT_OK(collection_create(g_db, "only", &only, err, sizeof err));
    CollectionInfo ci;
    ASSERT_OK(collection_info(g_db, "only", &ci));
    ASSERT_EQ_INT(ci.config.n_vectors, 0);
    ASSERT_EQ_INT(ci.config.n_sparse, 1);
    ASSERT_STR_EQ(ci.config.sparse[0].name, "words");
    ASSERT_EQ_INT(ci.config.sparse[0].modifier, COLLECTION_MODIFIER_IDF);
    ASSERT_OK(collection_delete(g_db, "only"));
}

TEST(test_roundtrip_sorted)
{
    PointId ids[N_POINTS];
    for (int i = 0; i < N_POINTS; i++) ids[i] = point_id_num((uint64_t)i);
    CollectionSelector none = { COLLECTION_SEL_NONE, NULL, 0 }, all = { COLLECTION_SEL_ALL, NULL, 0 };
    Arena a;
    arena_init(&a, 0);
    CollectionResult r;
    ASSERT_OK(collection_get(g_db, "c", ids, N_POINTS, &none, &all, &a, &r));
    ASSERT_EQ_INT(r.n, N_POINTS);
    ASSERT_EQ_INT(r.config.n_sparse, 2);
    for (size_t i = 0; i < r.n; i++) {
        const Pt *p = &g_pts[r.points[i].id.num];
        const Vec *want[2] = { &p->text, &p->kw };
        ASSERT_TRUE(r.points[i].vectors && r.points[i].vectors[0]);
        for (int s = 0; s < 2; s++) {
            const CollectionSparseVector *got = r.points[i].sparse ? r.points[i].sparse[s] : NULL;
            if (!want[s]->present) {
                ASSERT_TRUE(got == NULL);
                continue;
            }
            ASSERT_TRUE(got != NULL);
            uint32_t idx[MAX_LEN];
            float val[MAX_LEN];
            sorted(want[s], idx, val);
            ASSERT_EQ_INT(got->n, want[s]->n);
            for (size_t k = 0; k < got->n; k++) {
                ASSERT_EQ_U64(got->indices[k], idx[k]);
                ASSERT_TRUE(got->values[k] == val[k]);
            }
        }
    }
    /* with_vector: ["kw"] selects that one only. */
    const char *names[1] = { "kw" };
    CollectionSelector one = { COLLECTION_SEL_INCLUDE, names, 1 };
    ASSERT_OK(collection_get(g_db, "c", ids, 3, &none, &one, &a, &r));
    ASSERT_TRUE(r.points[1].vectors && !r.points[1].vectors[0]);
    ASSERT_TRUE(r.points[1].sparse && !r.points[1].sparse[0] && r.points[1].sparse[1]);
    arena_free(&a);
}

TEST(test_search_matches_brute_force)
{
    for (int t = 0; t < 30; t++) {
        Vec q;
        rand_vec(&q, 1);
        Check ck = { "text", &q, t % 3 ? 10 : 50, (size_t)(t % 4 == 1 ? 5 : 0), t % 2 ? 2 : -1, 0, 0, 0 };
        if (t % 5 == 4) {
            ck.has_threshold = 1;
            ck.threshold = 0.5f;
        }
        if (!coll_check(&ck)) HARNESS_FAIL("text query %d", t);
    }
}

TEST(test_idf_search)
{
    for (int t = 0; t < 20; t++) {
        Vec q;
        rand_vec(&q, 1);
        Check ck = { "kw", &q, 10, 0, t % 2 ? 4 : -1, 1, 0, 0 };
        if (!coll_check(&ck)) HARNESS_FAIL("kw query %d", t);
    }
    /* An empty query has no results. */
    Vec empty = { 1, 0, { 0 }, { 0 } };
    Check ck = { "kw", &empty, 10, 0, -1, 1, 0, 0 };
    ASSERT_TRUE(coll_check(&ck));
}

TEST(test_updates_and_deletes)
{
    char err[256] = "";
    /* Delete 40 points. */
    PointId del[40];
    for (int i = 0; i < 40; i++) {
        del[i] = point_id_num((uint64_t)(i * 13));
        g_pts[i * 13].live = 0;
    }
    size_t n_del = 0;
    ASSERT_OK(collection_delete_points(g_db, "c", del, 40, &n_del));
    ASSERT_EQ_INT(n_del, 40);
    /* Re-upsert 60 with new vectors; a third of them without "text". */
    for (int id = 100; id < 160; id++) {
        make_point(id);
        if (id % 3 == 0) g_pts[id].text.present = 0;
    }
    int e = upsert_pts(100, 160, err, sizeof err);
    if (e) HARNESS_FAIL("upsert: %s", err);
    /* Revive some deleted ids (their nodes come from the free list). */
    for (int i = 0; i < 10; i++) make_point(i * 13);
    for (int i = 0; i < 10; i++)
        if ((e = upsert_pts(i * 13, i * 13 + 1, err, sizeof err))) HARNESS_FAIL("revive: %s", err);
    for (int t = 0; t < 20; t++) {
        Vec q;
        rand_vec(&q, 1);
        Check ck = { t % 2 ? "text" : "kw", &q, 20, 0, -1, t % 2 == 0, 0, 0 };
        if (!coll_check(&ck)) HARNESS_FAIL("query %d after updates", t);
    }
    CollectionInfo ci;
    ASSERT_OK(collection_info(g_db, "c", &ci));
    uint64_t want = 0, pts = 0;
    for (int id = 0; id < N_POINTS; id++) {
        if (!g_pts[id].live) continue;
        pts++;
        want += 1 + (uint64_t)g_pts[id].text.present + (uint64_t)g_pts[id].kw.present;
    }
    ASSERT_EQ_U64(ci.points_count, pts);
    ASSERT_EQ_U64(ci.vectors_count, want);
}

TEST(test_bad_input_changes_nothing)
{
    char err[256] = "";
    Vec before = g_pts[7].text;
    ASSERT_TRUE(g_pts[7].live && before.present);
    /* A repeated index. */
    Pt saved = g_pts[7];
    g_pts[7].text.n = 3;
    g_pts[7].text.idx[0] = 5;
    g_pts[7].text.idx[1] = 9;
    g_pts[7].text.idx[2] = 5;
    ASSERT_EQ_INT(upsert_pts(7, 8, err, sizeof err), ERR_INVAL);
    ASSERT_TRUE(strstr(err, "unique") != NULL);
    /* NaN. */
    g_pts[7] = saved;
    g_pts[7].text.val[0] = NAN;
    ASSERT_EQ_INT(upsert_pts(7, 8, err, sizeof err), ERR_INVAL);
    g_pts[7] = saved;
    /* A dense vector under a sparse name, a sparse one under a dense name. */
    Arena a;
    arena_init(&a, 0);
    float f[4] = { 1, 2, 3, 4 };
    CollectionVectorIn vin = { "text", f, 4, NULL, NULL };
    CollectionPointIn p = { point_id_num(7), NULL, &vin, 1 };
    ASSERT_EQ_INT(collection_upsert(g_db, "c", &p, 1, err, sizeof err), ERR_INVAL);
    ASSERT_STR_EQ(err, "Conversion between sparse and regular vectors failed");
    uint32_t i1 = 1;
    float v1 = 1;
    CollectionSparseVector sv = { &i1, &v1, 1 };
    vin = (CollectionVectorIn){ "img", NULL, 0, &sv, NULL };
    ASSERT_EQ_INT(collection_upsert(g_db, "c", &p, 1, err, sizeof err), ERR_INVAL);
    ASSERT_STR_EQ(err, "Conversion between sparse and regular vectors failed");
    /* A dense query on a sparse vector. */
    CollectionSearch s = { 0 };
    s.using = "text";
    s.vector = f;
    s.dim = 4;
    CollectionResult r;
    ASSERT_EQ_INT(collection_search(g_db, "c", &s, &a, &r, err, sizeof err), ERR_INVAL);
    ASSERT_STR_EQ(err, "Conversion between sparse and regular vectors failed");
    /* Point 7 still has its vector, as stored before. */
    PointId id = point_id_num(7);
    CollectionSelector none = { COLLECTION_SEL_NONE, NULL, 0 }, all = { COLLECTION_SEL_ALL, NULL, 0 };
    ASSERT_OK(collection_get(g_db, "c", &id, 1, &none, &all, &a, &r));
    ASSERT_EQ_INT(r.n, 1);
    ASSERT_TRUE(r.points[0].sparse && r.points[0].sparse[0]);
    ASSERT_EQ_INT(r.points[0].sparse[0]->n, before.n);
    arena_free(&a);
    Vec q;
    rand_vec(&q, 2);
    Check ck = { "text", &q, 10, 0, -1, 0, 0, 0 };
    ASSERT_TRUE(coll_check(&ck));
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

TEST(test_update_and_delete_vectors)
{
    char err[256] = "";
    /* update_vectors: new "text" for 10 points; "kw" and "img" stay. */
    int ids[10], n = 0;
    for (int id = 400; n < 10; id++)
        if (g_pts[id].live && g_pts[id].kw.present) ids[n++] = id;
    Arena a;
    arena_init(&a, 0);
    CollectionPointIn pts[10];
    for (int i = 0; i < 10; i++) {
        Pt *p = &g_pts[ids[i]];
        rand_vec(&p->text, 1);
        CollectionSparseVector *sv = arena_alloc(&a, sizeof *sv);
        *sv = (CollectionSparseVector){ p->text.idx, p->text.val, (size_t)p->text.n };
        CollectionVectorIn *vin = arena_alloc(&a, sizeof *vin);
        *vin = (CollectionVectorIn){ "text", NULL, 0, sv, NULL };
        pts[i] = (CollectionPointIn){ point_id_num((uint64_t)ids[i]), NULL, vin, 1 };
    }
    CollectionOp up = { .kind = COLLECTION_OP_UPDATE_VECTORS, .points = pts, .n_points = 10 };
    int e = write_one(&up, err, sizeof err);
    if (e) HARNESS_FAIL("update_vectors: %s", err);
    /* delete_vectors: "kw" of 5 of them, and "text" of 5 others. */
    PointId del_kw[5], del_text[5];
    for (int i = 0; i < 5; i++) {
        del_kw[i] = point_id_num((uint64_t)ids[i]);
        g_pts[ids[i]].kw.present = 0;
    }
    int k = 0;
    for (int id = 450; k < 5; id++)
        if (g_pts[id].live && g_pts[id].text.present) {
            del_text[k++] = point_id_num((uint64_t)id);
            g_pts[id].text.present = 0;
        }
    const char *kw_name[1] = { "kw" }, *text_name[1] = { "text" };
    CollectionOp d1 = { .kind = COLLECTION_OP_DELETE_VECTORS, .ids = del_kw, .n_ids = 5,
                        .vector_names = kw_name, .n_vector_names = 1 };
    CollectionOp d2 = { .kind = COLLECTION_OP_DELETE_VECTORS, .ids = del_text, .n_ids = 5,
                        .vector_names = text_name, .n_vector_names = 1 };
    if ((e = write_one(&d1, err, sizeof err)) || (e = write_one(&d2, err, sizeof err)))
        HARNESS_FAIL("delete_vectors: %s", err);
    /* Read back: what the model says, "img" still everywhere. */
    PointId all_ids[N_POINTS];
    for (int i = 0; i < N_POINTS; i++) all_ids[i] = point_id_num((uint64_t)i);
    CollectionSelector none = { COLLECTION_SEL_NONE, NULL, 0 }, all = { COLLECTION_SEL_ALL, NULL, 0 };
    CollectionResult r;
    ASSERT_OK(collection_get(g_db, "c", all_ids, N_POINTS, &none, &all, &a, &r));
    for (size_t i = 0; i < r.n; i++) {
        const Pt *p = &g_pts[r.points[i].id.num];
        ASSERT_TRUE(r.points[i].vectors[0] != NULL);
        const Vec *want[2] = { &p->text, &p->kw };
        for (int s2 = 0; s2 < 2; s2++) {
            const CollectionSparseVector *got = r.points[i].sparse ? r.points[i].sparse[s2] : NULL;
            ASSERT_EQ_INT(got != NULL, want[s2]->present);
            if (!got) continue;
            uint32_t idx[MAX_LEN];
            float val[MAX_LEN];
            sorted(want[s2], idx, val);
            ASSERT_EQ_INT(got->n, want[s2]->n);
            for (size_t m = 0; m < got->n; m++) ASSERT_TRUE(got->indices[m] == idx[m] && got->values[m] == val[m]);
        }
    }
    arena_free(&a);
    /* Searches follow (IDF counts too). */
    for (int t = 0; t < 16; t++) {
        Vec q;
        rand_vec(&q, 1);
        Check ck = { t % 2 ? "text" : "kw", &q, 20, 0, -1, t % 2 == 0, 0, 0 };
        if (!coll_check(&ck)) HARNESS_FAIL("query %d after vector updates", t);
    }
}

/* ref_recommend scores every live point with "text" by Qdrant's
 * formulas in double, examples as in the model. */
static size_t ref_recommend(CollectionRecoStrategy st, const int *pos, int n_pos, const int *neg,
                            int n_neg, Ref *ref)
{
    size_t n = 0;
    if (st == COLLECTION_RECO_AVERAGE_VECTOR) {
        /* avg(pos) + avg(pos) - avg(neg) over the union of indices (up
         * to 5 examples' worth of them: more than a Vec holds). */
        double sum[5 * MAX_LEN];
        uint32_t dims[5 * MAX_LEN];
        int nd = 0;
        for (int side = 0; side < 2; side++) {
            const int *ex = side ? neg : pos;
            int ne = side ? n_neg : n_pos;
            for (int e = 0; e < ne; e++) {
                const Vec *v = &g_pts[ex[e]].text;
                for (int k = 0; k < v->n; k++) {
                    int d = 0;
                    while (d < nd && dims[d] != v->idx[k]) d++;
                    if (d == nd) {
                        dims[nd] = v->idx[k];
                        sum[nd++] = 0;
                    }
                    double w = (double)v->val[k] / ne;
                    sum[d] += side ? -w : 2 * w;
                }
            }
        }
        if (n_neg == 0)
            for (int d = 0; d < nd; d++) sum[d] /= 2;
        for (int id = 0; id < N_POINTS; id++) {
            int excluded = 0;
            for (int e = 0; e < n_pos; e++) excluded |= pos[e] == id;
            for (int e = 0; e < n_neg; e++) excluded |= neg[e] == id;
            const Vec *v = &g_pts[id].text;
            if (!g_pts[id].live || !v->present || excluded) continue;
            double s = 0;
            int ov = 0;
            for (int d = 0; d < nd; d++)
                for (int k = 0; k < v->n; k++)
                    if (dims[d] == v->idx[k]) {
                        s += (double)(float)sum[d] * v->val[k];
                        ov = 1;
                    }
            if (ov) ref[n++] = (Ref){ id, s };
        }
        return n;
    }
    for (int id = 0; id < N_POINTS; id++) {
        int excluded = 0;
        for (int e = 0; e < n_pos; e++) excluded |= pos[e] == id;
        for (int e = 0; e < n_neg; e++) excluded |= neg[e] == id;
        if (!g_pts[id].live || !g_pts[id].text.present || excluded) continue;
        double bp = -INFINITY, bn = -INFINITY, sp = 0, sn = 0;
        int ov;
        for (int e = 0; e < n_pos; e++) {
            double x = ref_dot(&g_pts[pos[e]].text, &g_pts[id].text, &ov);
            bp = x > bp ? x : bp;
            sp += x;
        }
        for (int e = 0; e < n_neg; e++) {
            double x = ref_dot(&g_pts[neg[e]].text, &g_pts[id].text, &ov);
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
        ref[n++] = (Ref){ id, s };
    }
    return n;
}

TEST(test_recommend)
{
    int pos[3], neg[2], np = 0, nn = 0;
    for (int id = 200; np < 3; id++)
        if (g_pts[id].live && g_pts[id].text.present && g_pts[id].text.n) pos[np++] = id;
    for (int id = 300; nn < 2; id++)
        if (g_pts[id].live && g_pts[id].text.present && g_pts[id].text.n) neg[nn++] = id;
    CollectionRecoStrategy strategies[] = { COLLECTION_RECO_AVERAGE_VECTOR,
                                            COLLECTION_RECO_BEST_SCORE, COLLECTION_RECO_SUM_SCORES };
    for (int si = 0; si < 3; si++) {
        for (int with_neg = 0; with_neg < 2; with_neg++) {
            CollectionRecommend rq = { 0 };
            PointId pid[3], nid[2];
            for (int i = 0; i < np; i++) pid[i] = point_id_num((uint64_t)pos[i]);
            for (int i = 0; i < nn; i++) nid[i] = point_id_num((uint64_t)neg[i]);
            rq.positive = pid;
            rq.n_positive = (size_t)np;
            rq.negative = nid;
            rq.n_negative = with_neg ? (size_t)nn : 0;
            rq.strategy = strategies[si];
            rq.search.using = "text";
            rq.search.limit = 15;
            Arena a;
            arena_init(&a, 0);
            CollectionResult r;
            char err[256] = "";
            int e = collection_recommend(g_db, "c", &rq, &a, &r, err, sizeof err);
            if (e) HARNESS_FAIL("recommend %d: %s", si, err);
            Ref ref[N_POINTS];
            size_t n_ref = ref_recommend(rq.strategy, pos, np, neg, with_neg ? nn : 0, ref);
            int got[N_POINTS];
            float gs[N_POINTS];
            for (size_t i = 0; i < r.n; i++) {
                got[i] = (int)r.points[i].id.num;
                gs[i] = r.points[i].score;
            }
            int ok = check_ranked(got, gs, r.n, ref, n_ref, 15);
            arena_free(&a);
            if (!ok) HARNESS_FAIL("strategy %d, negatives %d", si, with_neg);
        }
    }
    /* Raw sparse examples work like ids (the same vectors). */
    CollectionSparseVector raw = { g_pts[pos[0]].text.idx, g_pts[pos[0]].text.val,
                                   (size_t)g_pts[pos[0]].text.n };
    CollectionRecommend rq = { 0 };
    rq.positive_sparse = &raw;
    rq.n_positive_sparse = 1;
    rq.search.using = "text";
    rq.search.limit = 5;
    Arena a;
    arena_init(&a, 0);
    CollectionResult r;
    char err[256] = "";
    ASSERT_OK(collection_recommend(g_db, "c", &rq, &a, &r, err, sizeof err));
    Ref ref[N_POINTS];
    size_t n_ref = 0;
    for (int id = 0; id < N_POINTS; id++) {
        if (!g_pts[id].live || !g_pts[id].text.present) continue;
        int ov;
        double s = ref_dot(&g_pts[pos[0]].text, &g_pts[id].text, &ov);
        if (ov) ref[n_ref++] = (Ref){ id, s };
    }
    int got[8];
    float gs[8];
    for (size_t i = 0; i < r.n; i++) {
        got[i] = (int)r.points[i].id.num;
        gs[i] = r.points[i].score;
    }
    ASSERT_TRUE(check_ranked(got, gs, r.n, ref, n_ref, 5));
    arena_free(&a);
}

TEST(test_reopen_and_modifier)
{
    collection_db_close(g_db);
    g_db = NULL;
    ASSERT_OK(collection_db_open(g_dir, NULL, &g_db));
    for (int t = 0; t < 10; t++) {
        Vec q;
        rand_vec(&q, 1);
        Check ck = { t % 2 ? "text" : "kw", &q, 25, 0, t % 3 ? -1 : 1, t % 2 == 0, 0, 0 };
        if (!coll_check(&ck)) HARNESS_FAIL("query %d after reopen", t);
    }
    /* Switch "text" to IDF: the next query uses it, and so after reopen. */
    CollectionSparseParams mod = { "text", COLLECTION_MODIFIER_IDF };
    CollectionUpdate u = { .sparse = &mod, .n_sparse = 1 };
    char err[256] = "";
    ASSERT_OK(collection_update(g_db, "c", &u, err, sizeof err));
    CollectionSparseParams bad = { "nope", COLLECTION_MODIFIER_IDF };
    CollectionUpdate ub = { .sparse = &bad, .n_sparse = 1 };
    ASSERT_EQ_INT(collection_update(g_db, "c", &ub, err, sizeof err), ERR_INVAL);
    ASSERT_STR_EQ(err, "Sparse vector `nope` is not specified in collection config");
    for (int round = 0; round < 2; round++) {
        for (int t = 0; t < 8; t++) {
            Vec q;
            rand_vec(&q, 1);
            Check ck = { "text", &q, 10, 0, -1, 1, 0, 0 };
            if (!coll_check(&ck)) HARNESS_FAIL("idf text query %d, round %d", t, round);
        }
        collection_db_close(g_db);
        g_db = NULL;
        ASSERT_OK(collection_db_open(g_dir, NULL, &g_db));
    }
    CollectionInfo ci;
    ASSERT_OK(collection_info(g_db, "c", &ci));
    ASSERT_EQ_INT(ci.config.sparse[0].modifier, COLLECTION_MODIFIER_IDF);
}

int main(void)
{
    log_set_level(LOG_WARN);
    if (sparse_create(&g_ix)) return 1;
    RUN(test_sort_and_dot);
    RUN(test_index_topk_matches_brute_force);
    RUN(test_index_updates_and_removals);
    RUN(test_index_idf);
    RUN(test_index_merge_path);
    sparse_free(g_ix);

    const char *tmp = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/vitrine_test_sparse_XXXXXX", tmp && *tmp ? tmp : "/tmp");
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
    RUN(test_roundtrip_sorted);
    RUN(test_search_matches_brute_force);
    RUN(test_idf_search);
    RUN(test_updates_and_deletes);
    RUN(test_bad_input_changes_nothing);
    RUN(test_recommend);
    RUN(test_update_and_delete_vectors);
    RUN(test_reopen_and_modifier);
    collection_db_close(g_db);
    nftw(g_dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    return harness_report("test_sparse");
}
