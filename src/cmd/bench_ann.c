/*
 * cmd_bench_ann.c - `vitrine bench ann`: build an HNSW index from an fvecs
 * file and measure recall@10 and single-thread queries per second against
 * exact ground truth, in the classic ANN-benchmark file formats.
 *
 *   vitrine bench ann --base B.fvecs --query Q.fvecs --gt G.ivecs [--m 16]
 *       [--ef-construction 200] [--ef 10,20,40,64,100] [--threads T]
 *       [--metric cosine|dot|euclid] [--seed S]
 *       [--quantization int8 [--oversampling X] [--no-rescore]]
 *       [--filter-selectivity P[,P...]]
 *
 * Output (a contract, see DESIGN.md; tools/bench_ann.sh parses it):
 *   build: N vectors/s
 *   ef=40 recall@10=0.9922 qps=3382        one line per ef
 *   memory: 2208 bytes/vector (...)        the index's resident bytes / vectors
 *
 * --quantization int8 builds the index on int8 codes (index/quant.h, the
 * interval calibrated from the base as a collection does) and, unless
 * --no-rescore, rescores limit x oversampling candidates with the float32
 * originals, as a quantized collection does with those in its store; the
 * memory line then counts codes and graph (the originals stay on disk in
 * a server).
 *
 * --filter-selectivity P (0 < P <= 1) keeps a fixed pseudo-random share P
 * of the points (as an indexed payload field would name them) and plans
 * each query as the collection does (hnsw_plan): an exact scan of the
 * matching points when they are few (on codes, rescored, when quantized),
 * a walk over the matches alone (an allow list made per query, as the
 * collection makes it from its payload index) when they are a small share
 * of many, else the graph walk with the filter. --filter-plan scan|graph|
 * callback|subgraph forces one: the scan, hnsw_search_allowed (the walk
 * over the matches below HNSW_SPARSE_SHARE, else the whole walk testing
 * the allow list), hnsw_search with a filter callback, or the walk of a
 * subgraph of the matches (the payload block a collection builds for a
 * keyword value; auto takes it where a collection has one: float32, at
 * least COLLECTION_FULL_SCAN_THRESHOLD matches, a share below
 * HNSW_SPARSE_SHARE; its build time goes to stderr); a list runs each in turn
 * on the same build, matches and truth. Recall is against the
 * exact top 10 among the matching points, computed here by brute force.
 * With several P (one build for all), the unfiltered lines come first,
 * then per P a line `filter-selectivity: P (N matches, PLAN)` and its ef
 * lines.
 *
 * The build uses T threads inserting concurrently (default 1); queries run
 * one at a time on the calling thread, as a server answering one request
 * would. fvecs / ivecs: per row an int32 dimension, then that many float32
 * (int32) values. tools/gen_vectors.py writes such files with exact ground
 * truth and tools/bench_hnswlib.py runs hnswlib on the same files.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cli.h"
#include "base/cpu.h"
#include "cmd/cmd.h"
#include "base/err.h"
#include "index/hnsw.h"
#include "index/quant.h"
#include "store/collection.h"
#include "base/util.h"
#include "base/vec.h"

#define BENCH_ANN_K 10
#define BENCH_ANN_MAX_FILE ((size_t)16 << 30)
#define BENCH_ANN_MAX_EFS 32
#define BENCH_ANN_MAX_THREADS 256

/* A matrix read from an fvecs / ivecs file; data owned here. */
typedef struct {
    int n, dim;
    void *data; /* n * dim float32 or int32 */
} Rows;

/* read_vecs parses an fvecs / ivecs file (both are 4-byte values). */
static int read_vecs(const char *path, Rows *out)
{
    char *buf;
    size_t len;
    int rc = file_read_all(path, BENCH_ANN_MAX_FILE, &buf, &len);
    if (rc) {
        fprintf(stderr, "vitrine: cannot read %s: %s\n", path, err_str(rc));
        return rc;
    }
    int32_t dim = 0;
    if (len >= 4) memcpy(&dim, buf, 4);
    size_t row = 4 + (size_t)(dim > 0 ? dim : 0) * 4;
    if (dim <= 0 || dim > HNSW_MAX_DIM || len % row != 0 || len / row > 0x7fffffff) {
        fprintf(stderr, "vitrine: %s is not an fvecs/ivecs file\n", path);
        free(buf);
        return ERR_FORMAT;
    }
    size_t n = len / row;
    char *data = xmalloc(n * (size_t)dim * 4 + 1);
    for (size_t i = 0; i < n; i++) {
        int32_t d;
        memcpy(&d, buf + i * row, 4);
        if (d != dim) {
            fprintf(stderr, "vitrine: %s: row %zu has dimension %d, not %d\n", path, i, d,
                    dim);
            free(buf);
            free(data);
            return ERR_FORMAT;
        }
        memcpy(data + i * (size_t)dim * 4, buf + i * row + 4, (size_t)dim * 4);
    }
    free(buf);
    out->n = (int)n;
    out->dim = dim;
    out->data = data;
    return 0;
}

typedef struct {
    HnswIndex *idx;
    const float *base;
    int n, dim;
    int next; /* atomic: the next row to insert */
    int err;  /* atomic: first failure */
} BuildJob;

static void *build_thread(void *arg)
{
    BuildJob *job = arg;
    for (;;) {
        int i = __atomic_fetch_add(&job->next, 1, __ATOMIC_RELAXED);
        if (i >= job->n) break;
        int rc = hnsw_insert(job->idx, (uint32_t)i, job->base + (size_t)i * job->dim);
        if (rc) {
            __atomic_store_n(&job->err, rc, __ATOMIC_RELAXED);
            break;
        }
    }
    return NULL;
}

static int parse_efs(const char *s, int *efs, int *n)
{
    *n = 0;
    while (*s) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v < HNSW_MIN_EF || v > HNSW_MAX_EF || *n >= BENCH_ANN_MAX_EFS)
            return ERR_INVAL;
        efs[(*n)++] = (int)v;
        s = end;
        if (*s == ',') s++;
        else if (*s) return ERR_INVAL;
    }
    return *n ? 0 : ERR_INVAL;
}

/* parse_shares reads a list of filter shares in (0, 1]. */
static int parse_shares(const char *s, double *out, int *n)
{
    *n = 0;
    while (*s) {
        char *end;
        double v = strtod(s, &end);
        if (end == s || !(v > 0 && v <= 1) || *n >= BENCH_ANN_MAX_EFS) return ERR_INVAL;
        out[(*n)++] = v;
        s = end;
        if (*s == ',') s++;
        else if (*s) return ERR_INVAL;
    }
    return *n ? 0 : ERR_INVAL;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: vitrine bench ann --base B.fvecs --query Q.fvecs --gt G.ivecs [--m 16]\n"
            "         [--ef-construction 200] [--ef 10,20,40,64,100] [--threads T]\n"
            "         [--metric cosine|dot|euclid] [--seed S]\n"
            "         [--quantization int8 [--oversampling X] [--no-rescore]]\n"
            "         [--filter-selectivity P[,P...] [--filter-plan PLAN[,PLAN...]]]\n"
            "  PLAN: auto (as a collection plans), scan, graph (the allow list), callback,\n"
            "        subgraph (a payload block over the matches)\n");
}

typedef struct {
    const char *base, *query, *gt, *efs, *metric, *quant;
    HnswParams p;
    long threads;
    double oversampling; /* quantized: candidates = 10 x this, rescored */
    int no_rescore;
    const char *selectivity; /* a list of shares, or NULL: no filter */
    int plans[BENCH_ANN_MAX_EFS]; /* --filter-plan, parsed (BenchPlan) */
    int n_plans;
} BenchArgs;

/* The filter: a fixed share of the nodes, by a hash of the id. */
#define BENCH_ANN_FILTER_SCALE 1000000u

typedef struct {
    uint32_t cut; /* accepted: hash(node) % SCALE < cut */
} BenchFilter;

static int bench_accept(uint32_t node, void *ctx)
{
    const BenchFilter *f = ctx;
    return hash_fmix32(node) % BENCH_ANN_FILTER_SCALE < f->cut;
}

/* The plans --filter-plan names; auto is hnsw_plan's choice per ef. */
typedef enum { PLAN_AUTO, PLAN_SCAN, PLAN_GRAPH, PLAN_CALLBACK, PLAN_SUBGRAPH } BenchPlan;
static const char *const plan_names[] = { "auto", "scan", "graph", "callback", "subgraph" };

/* parse_plans reads a list of plan names. */
static int parse_plans(const char *s, int *out, int *n)
{
    *n = 0;
    while (*s) {
        size_t len = strcspn(s, ",");
        int found = -1;
        for (int k = 0; k < (int)ARRAY_LEN(plan_names); k++)
            if (strlen(plan_names[k]) == len && !strncmp(s, plan_names[k], len)) found = k;
        if (found < 0 || *n >= BENCH_ANN_MAX_EFS) return ERR_INVAL;
        out[(*n)++] = found;
        s += len + (s[len] == ',');
    }
    return *n ? 0 : ERR_INVAL;
}

/* parse_args fills a from argv; 0, or the exit status for a usage error. */
static int parse_args(int argc, char **argv, BenchArgs *a)
{
    *a = (BenchArgs){ .efs = "10,20,40,64,100", .metric = "cosine", .threads = 1, .oversampling = 1,
                      .plans = { PLAN_AUTO }, .n_plans = 1 };
    hnsw_params_default(&a->p);
    for (int i = 1; i < argc; i++) {
        const char *v;
        long n;
        uint64_t u;
        int r;
        const char **str = NULL;
        if ((r = cli_take_value(argc, argv, &i, "--base", &v))) str = &a->base;
        else if ((r = cli_take_value(argc, argv, &i, "--query", &v))) str = &a->query;
        else if ((r = cli_take_value(argc, argv, &i, "--gt", &v))) str = &a->gt;
        else if ((r = cli_take_value(argc, argv, &i, "--ef", &v))) str = &a->efs;
        else if ((r = cli_take_value(argc, argv, &i, "--metric", &v))) str = &a->metric;
        else if ((r = cli_take_value(argc, argv, &i, "--quantization", &v))) str = &a->quant;
        if (r < 0) return 2;
        if (str) {
            *str = v;
        } else if (!strcmp(argv[i], "--no-rescore")) {
            a->no_rescore = 1;
        } else if ((r = cli_take_value(argc, argv, &i, "--oversampling", &v))) {
            char *end;
            a->oversampling = r < 0 ? 0 : strtod(v, &end);
            if (r < 0 || *end || !(a->oversampling >= 1 && a->oversampling <= 100)) return 2;
        } else if ((r = cli_take_value(argc, argv, &i, "--filter-plan", &v))) {
            if (r < 0 || parse_plans(v, a->plans, &a->n_plans)) return 2;
        } else if ((r = cli_take_value(argc, argv, &i, "--filter-selectivity", &v))) {
            if (r < 0) return 2;
            a->selectivity = v;
        } else if ((r = cli_take_value(argc, argv, &i, "--m", &v))) {
            if (r < 0 || parse_int(v, HNSW_MIN_M, HNSW_MAX_M, &n)) return 2;
            a->p.m = (int)n;
        } else if ((r = cli_take_value(argc, argv, &i, "--ef-construction", &v))) {
            if (r < 0 || parse_int(v, HNSW_MIN_EF_CONSTRUCTION, HNSW_MAX_EF_CONSTRUCTION, &n))
                return 2;
            a->p.ef_construction = (int)n;
        } else if ((r = cli_take_value(argc, argv, &i, "--threads", &v))) {
            if (r < 0 || parse_int(v, 1, BENCH_ANN_MAX_THREADS, &a->threads)) return 2;
        } else if ((r = cli_take_value(argc, argv, &i, "--seed", &v))) {
            if (r < 0 || parse_u64(v, &u)) return 2;
            a->p.seed = u;
        } else {
            fprintf(stderr, "vitrine bench ann: unknown option '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!a->base || !a->query || !a->gt) return 2;
    if (a->quant && strcmp(a->quant, "int8")) return 2;
    return 0;
}

/* build inserts every base row with `threads` threads; returns seconds,
 * or a negative value after printing the error. */
static double build(HnswIndex *idx, const Rows *base, long threads)
{
    BuildJob job = { idx, base->data, base->n, base->dim, 0, 0 };
    pthread_t tids[BENCH_ANN_MAX_THREADS];
    double t0 = now_seconds();
    for (long t = 1; t < threads; t++) pthread_create(&tids[t], NULL, build_thread, &job);
    build_thread(&job);
    for (long t = 1; t < threads; t++) pthread_join(tids[t], NULL);
    double s = now_seconds() - t0;
    if (job.err) {
        fprintf(stderr, "vitrine bench ann: insert failed: %s\n", err_str(job.err));
        return -1;
    }
    return s;
}

/* What a query run needs besides the index. */
typedef struct {
    HnswIndex *idx;
    const Rows *base, *query, *gt;
    HnswMetric metric;
    int quant, rescore;
    double oversampling;
    const BenchFilter *filter;  /* NULL: none */
    const uint32_t *matches;    /* the accepted nodes, ascending */
    size_t n_matches;
    int exact;                  /* plan: score the matches exactly */
    const int32_t *fgt;         /* filtered ground truth [query->n][10], or NULL */
    uint64_t *allow_words;      /* the graph plan's allow list, rebuilt per query */
    int callback;               /* walk with a filter callback, not an allow list */
    HnswSub *sub;               /* walk this subgraph of the matches (plan subgraph) */
} QueryRun;

/* float_score: the exact score of base row node for q (larger is closer). */
static float float_score(const QueryRun *r, const float *q, uint32_t node)
{
    const float *v = (const float *)r->base->data + (size_t)node * r->base->dim;
    if (r->metric == HNSW_METRIC_EUCLID) return -vec_l2sq(q, v, (size_t)r->base->dim);
    return vec_dot(q, v, (size_t)r->base->dim);
}

/* top_insert keeps the k best (ids, scores) by score, best first. */
static void top_insert(uint32_t *ids, float *sc, int *n, int k, uint32_t id, float s)
{
    if (*n == k && s <= sc[k - 1]) return;
    int p = *n < k ? (*n)++ : k - 1;
    while (p > 0 && sc[p - 1] < s) {
        sc[p] = sc[p - 1];
        ids[p] = ids[p - 1];
        p--;
    }
    sc[p] = s;
    ids[p] = id;
}

/* one_query answers query q: ids of the best 10, best first. */
static int one_query(const QueryRun *r, const float *q, int ef, uint32_t *ids, int *n_ids)
{
    float sc[BENCH_ANN_K];
    *n_ids = 0;
    int k = BENCH_ANN_K;
    if (r->quant && r->rescore) k = (int)(BENCH_ANN_K * r->oversampling + 0.999);
    HnswHit hits[BENCH_ANN_K * 100 + 1];
    int n = 0;
    /* The exact plan scans the matches in the index (codes when
     * quantized, then rescored), as the collection does. */
    int rc;
    if (r->exact) {
        rc = hnsw_brute_force_nodes(r->idx, q, k, r->matches, r->n_matches, hits, &n);
    } else if (r->filter && r->callback) {
        rc = hnsw_search(r->idx, q, k, ef, bench_accept, (void *)r->filter, hits, &n);
    } else if (r->filter) {
        /* The allow list is made per query from the matches, as a
         * collection makes it from its payload index, so its cost counts. */
        size_t words = ((size_t)r->base->n + 63) / 64;
        memset(r->allow_words, 0, words * sizeof *r->allow_words);
        for (size_t i = 0; i < r->n_matches; i++)
            r->allow_words[r->matches[i] >> 6] |= (uint64_t)1 << (r->matches[i] & 63);
        HnswAllow allow = { r->allow_words, (uint32_t)r->base->n, r->n_matches };
        rc = r->sub ? hnsw_search_sub(r->idx, r->sub, q, k, ef, &allow, hits, &n)
                    : hnsw_search_allowed(r->idx, q, k, ef, &allow, hits, &n);
    } else {
        rc = hnsw_search(r->idx, q, k, ef, NULL, NULL, hits, &n);
    }
    if (rc) return rc;
    if (r->quant && r->rescore) {
        for (int j = 0; j < n; j++)
            top_insert(ids, sc, n_ids, BENCH_ANN_K, hits[j].node, float_score(r, q, hits[j].node));
    } else {
        for (int j = 0; j < n && j < BENCH_ANN_K; j++) ids[j] = hits[j].node;
        *n_ids = n < BENCH_ANN_K ? n : BENCH_ANN_K;
    }
    return 0;
}

/* run_queries searches every query at ef, one at a time, and prints the
 * contract line. recall@10: how many of the true 10 nearest came back. */
static int run_queries(const QueryRun *r, int ef)
{
    const Rows *query = r->query, *gt = r->gt;
    uint32_t ids[BENCH_ANN_K];
    long found = 0;
    double t0 = now_seconds();
    for (int qi = 0; qi < query->n; qi++) {
        const float *q = (const float *)query->data + (size_t)qi * query->dim;
        int n = 0;
        int rc = one_query(r, q, ef, ids, &n);
        if (rc) {
            fprintf(stderr, "vitrine bench ann: search failed: %s\n", err_str(rc));
            return rc;
        }
        const int32_t *truth = r->fgt ? r->fgt + (size_t)qi * BENCH_ANN_K
                                      : (const int32_t *)gt->data + (size_t)qi * gt->dim;
        for (int j = 0; j < n; j++)
            for (int t = 0; t < BENCH_ANN_K; t++)
                if ((int32_t)ids[j] == truth[t]) {
                    found++;
                    break;
                }
    }
    double s = now_seconds() - t0;
    /* A filtered run names on stderr the plan that ran (the contract's
     * stdout line stays as it is): the scan, the walk over the matches
     * (sparse), the whole walk testing the allow list (allow), or the
     * whole walk with a filter callback (walk). */
    if (r->filter)
        fprintf(stderr, "bench ann: ef=%d plan %s\n", ef,
                r->exact      ? "scan"
                : r->callback ? "walk"
                : r->sub      ? "subgraph"
                : (double)r->n_matches < HNSW_SPARSE_SHARE * r->base->n ? "sparse"
                                                                        : "allow");
    printf("ef=%d recall@%d=%.4f qps=%.0f\n", ef, BENCH_ANN_K,
           (double)found / ((double)query->n * BENCH_ANN_K), query->n / s);
    fflush(stdout);
    return 0;
}

/* build_sub links the matches into a subgraph with m links each (the
 * payload block a collection builds for a payload value), in node order
 * on this thread, and reports its time and size on stderr. */
static HnswSub *build_sub(HnswIndex *idx, const QueryRun *r, int m)
{
    HnswSub *s = hnsw_sub_new(m);
    if (!s) return NULL;
    double t0 = now_seconds();
    for (size_t i = 0; i < r->n_matches; i++) {
        int rc = hnsw_sub_add(idx, s, r->matches[i]);
        if (rc) {
            fprintf(stderr, "vitrine bench ann: subgraph: %s\n", err_str(rc));
            hnsw_sub_free(s);
            return NULL;
        }
    }
    double secs = now_seconds() - t0;
    hnsw_sub_trim(s); /* as a collection does once a block is built */
    fprintf(stderr, "bench ann: subgraph of %zu matches built in %.2f s (%.0f/s, 1 thread), %zu bytes\n",
            r->n_matches, secs, (double)r->n_matches / (secs > 0 ? secs : 1e-9), hnsw_sub_bytes(s));
    return s;
}

/* filtered_truth computes the exact top 10 among the matches for every
 * query (float32 scores; -1 pads when fewer match). */
static int32_t *filtered_truth(const QueryRun *r)
{
    const Rows *query = r->query;
    int32_t *out = xmalloc((size_t)query->n * BENCH_ANN_K * sizeof *out);
    for (int qi = 0; qi < query->n; qi++) {
        const float *q = (const float *)query->data + (size_t)qi * query->dim;
        uint32_t ids[BENCH_ANN_K];
        float sc[BENCH_ANN_K];
        int n = 0;
        for (size_t i = 0; i < r->n_matches; i++)
            top_insert(ids, sc, &n, BENCH_ANN_K, r->matches[i], float_score(r, q, r->matches[i]));
        for (int j = 0; j < BENCH_ANN_K; j++)
            out[(size_t)qi * BENCH_ANN_K + j] = j < n ? (int32_t)ids[j] : -1;
    }
    return out;
}

int cmd_bench_ann(int argc, char **argv)
{
    BenchArgs a;
    int efs[BENCH_ANN_MAX_EFS], n_efs;
    HnswMetric metric;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage();
            return 0;
        }
    }
    if (parse_args(argc, argv, &a) || parse_efs(a.efs, efs, &n_efs)) {
        usage();
        return 2;
    }
    if (!strcmp(a.metric, "cosine")) {
        metric = HNSW_METRIC_COSINE;
    } else if (!strcmp(a.metric, "dot")) {
        metric = HNSW_METRIC_DOT;
    } else if (!strcmp(a.metric, "euclid")) {
        metric = HNSW_METRIC_EUCLID;
    } else {
        usage();
        return 2;
    }

    Rows base = { 0 }, query = { 0 }, gt = { 0 };
    HnswIndex *idx = NULL;
    uint32_t *matches = NULL;
    uint64_t *allow_words = NULL;
    int32_t *fgt = NULL;
    HnswSub *sub = NULL;
    int status = 1;
    if (read_vecs(a.base, &base) || read_vecs(a.query, &query) || read_vecs(a.gt, &gt)) goto out;
    if (query.dim != base.dim || gt.n != query.n || gt.dim < BENCH_ANN_K) {
        fprintf(stderr, "vitrine bench ann: files disagree (base %dx%d, query %dx%d, gt %dx%d)\n",
                base.n, base.dim, query.n, query.dim, gt.n, gt.dim);
        goto out;
    }
    /* Cosine is a dot product on unit vectors: normalise as the collection
     * does at upsert (generated files are unit already, so this is a no-op
     * for them). */
    if (metric == HNSW_METRIC_COSINE) {
        for (int i = 0; i < base.n; i++)
            vec_normalize((float *)base.data + (size_t)i * base.dim, (size_t)base.dim);
        for (int i = 0; i < query.n; i++)
            vec_normalize((float *)query.data + (size_t)i * query.dim, (size_t)query.dim);
    }
    if (a.quant) {
        /* Calibrate on a stride sample, as a collection does. */
        int ns = base.n < QUANT_SAMPLE_SIZE ? base.n : QUANT_SAMPLE_SIZE;
        int stride = base.n / ns;
        float *sample = xmalloc((size_t)ns * base.dim * sizeof *sample);
        for (int i = 0; i < ns; i++)
            memcpy(sample + (size_t)i * base.dim,
                   (const float *)base.data + (size_t)i * stride * base.dim,
                   (size_t)base.dim * sizeof *sample);
        int qrc = quant_calibrate(sample, (size_t)ns, base.dim, QUANT_DEFAULT_QUANTILE,
                                  &a.p.quant_lo, &a.p.quant_hi);
        free(sample);
        if (qrc) goto out;
        a.p.quant = 1;
    }
    int rc = hnsw_create(base.dim, metric, &a.p, &idx);
    if (rc == 0) rc = hnsw_reserve(idx, (uint32_t)base.n);
    if (rc) {
        fprintf(stderr, "vitrine bench ann: cannot create the index: %s\n", err_str(rc));
        goto out;
    }
    fprintf(stderr, "bench ann: %d x %d base, %d queries, M=%d ef_construction=%d threads=%ld "
                    "kernels=%s\n",
            base.n, base.dim, query.n, a.p.m, a.p.ef_construction, a.threads,
            a.quant ? quant_backend() : vec_backend());
    if (a.quant)
        fprintf(stderr, "bench ann: int8 interval [%g, %g], %s\n", (double)a.p.quant_lo,
                (double)a.p.quant_hi,
                a.no_rescore ? "no rescoring" : "rescoring with float32");
    /* The kernels chosen for this CPU (docs/arm64.md: checking a board). */
    fprintf(stderr, "bench ann: kernels: vec %s; int8 %s; cpu %s\n", vec_backend(),
            quant_backend(), cpu_describe());

    double secs = build(idx, &base, a.threads);
    if (secs < 0) goto out;
    printf("build: %.0f vectors/s\n", base.n / secs);
    fflush(stdout);
    QueryRun qr = { idx, &base, &query, &gt, metric, a.quant != NULL, !a.no_rescore,
                    a.oversampling, NULL, NULL, 0, 0, NULL, NULL, 0, NULL };
    double shares[BENCH_ANN_MAX_EFS];
    int n_shares = 0;
    if (a.selectivity && parse_shares(a.selectivity, shares, &n_shares)) {
        usage();
        status = 2;
        goto out;
    }
    if (n_shares != 1) /* unfiltered first (alone without a filter) */
        for (int e = 0; e < n_efs; e++)
            if (run_queries(&qr, efs[e])) goto out;
    matches = xmalloc((size_t)base.n * sizeof *matches);
    for (int si = 0; si < n_shares; si++) {
        BenchFilter filter = { (uint32_t)(shares[si] * BENCH_ANN_FILTER_SCALE + 0.5) };
        qr.filter = &filter;
        qr.n_matches = 0;
        for (int i = 0; i < base.n; i++)
            if (bench_accept((uint32_t)i, &filter)) matches[qr.n_matches++] = (uint32_t)i;
        qr.matches = matches;
        if (!allow_words) allow_words = xmalloc(((size_t)base.n + 63) / 64 * sizeof *allow_words);
        qr.allow_words = allow_words;
        free(fgt);
        fgt = filtered_truth(&qr);
        qr.fgt = fgt;
        /* Each plan asked for, on the same matches and truth. */
        for (int pi = 0; pi < a.n_plans; pi++) {
            int plan = a.plans[pi];
            fprintf(stderr, "bench ann: filter keeps %zu of %d points (%.1f%%), plan %s\n",
                    qr.n_matches, base.n, 100.0 * (double)qr.n_matches / base.n, plan_names[plan]);
            if (n_shares > 1 || a.n_plans > 1)
                printf("filter-selectivity: %g (%zu matches, plan %s)\n", shares[si],
                       qr.n_matches, plan_names[plan]);
            /* auto walks a payload block where a collection would build
             * one (collection_blocks.c): a float32 graph, a share below
             * HNSW_SPARSE_SHARE naming at least the full-scan threshold
             * of points. */
            int block = plan == PLAN_SUBGRAPH ||
                        (plan == PLAN_AUTO && !a.quant &&
                         qr.n_matches >= COLLECTION_FULL_SCAN_THRESHOLD &&
                         (double)qr.n_matches < HNSW_SPARSE_SHARE * base.n);
            hnsw_sub_free(sub);
            sub = NULL;
            if (block && !(sub = build_sub(idx, &qr, a.p.m))) goto out;
            qr.sub = sub;
            for (int e = 0; e < n_efs; e++) {
                /* auto plans per ef, as the collection does. */
                HnswPlan hp = hnsw_plan(idx, qr.n_matches, (size_t)base.n, efs[e]);
                qr.exact = plan == PLAN_SCAN || (plan == PLAN_AUTO && hp == HNSW_PLAN_SCAN);
                qr.callback = plan == PLAN_CALLBACK || (plan == PLAN_AUTO && hp == HNSW_PLAN_WALK);
                if (block) qr.exact = qr.callback = 0;
                if (run_queries(&qr, efs[e])) goto out;
            }
        }
    }
    size_t raw = (size_t)base.n * base.dim * sizeof(float);
    size_t mem = hnsw_memory_bytes(idx);
    printf("memory: %.0f bytes/vector (%.3fx raw vectors, index %zu bytes, raw %zu bytes)\n",
           (double)mem / base.n, (double)mem / raw, mem, raw);
    status = 0;
out:
    hnsw_sub_free(sub);
    free(allow_words);
    free(matches);
    free(fgt);
    hnsw_free(idx);
    free(base.data);
    free(query.data);
    free(gt.data);
    return status;
}
