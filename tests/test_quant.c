/*
 * test_quant.c - scalar int8 quantization (index/quant.h) and the HNSW
 * index built and searched on int8 codes.
 *
 * References: the scalar byte kernels (every SIMD kernel this CPU runs
 * must give the same integers), Qdrant's quantile rule worked out by hand
 * on a known sequence, double-precision dot / L2 / L1 of the decoded
 * vectors (the quantized distance is exactly those up to float rounding),
 * and a double-precision brute-force scan of the float32 originals for
 * recall. Thresholds (measured values in the printed lines): quantized
 * recall@10 at ef=64 without rescoring >= 0.85 (measured ~0.95), with
 * float32 rescoring of 3x oversampled candidates >= 0.97 (~0.998).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/cpu.h"
#include "base/err.h"
#include "base/util.h"
#include "base/vec.h"
#include "harness.h"
#include "index/hnsw.h"
#include "index/quant.h"

static uint64_t rng_state = 42;

static uint64_t rnd(void)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return rng_state >> 11;
}

static double urand(void)
{
    return ((double)rnd() + 0.5) * 0x1p-53;
}

static float gauss(void)
{
    return (float)(sqrt(-2 * log(urand())) * cos(6.283185307179586 * urand()));
}

/* Every length from 0 to KERNEL_EVERY_LEN (each tail of every step width,
 * 16 to 64 bytes), then longer ones up past the NEON L1 kernel's flush of
 * its 16-bit lanes (every 1024 bytes). */
#define KERNEL_EVERY_LEN 130
#define KERNEL_BUF 4200

TEST(kernels_match_scalar)
{
    static const size_t longer[] = { 255, 256, 257, 300, 512, 768, 1023, 1024, 1025, 2065, 4096 };
    static uint8_t a[KERNEL_BUF], b[KERNEL_BUF];
    int n_kernels = 0, n_checked = 0;
    const char *name;
    QuantDotFn dot;
    QuantL1Fn l1;
    for (int k = 0; quant_kernel(k, &name, &dot, &l1); k++) {
        n_kernels++;
        for (int rep = 0; rep < 20; rep++) {
            for (size_t i = 0; i < sizeof a; i++) {
                /* Extremes often: 0 and 127 are where saturation would show. */
                a[i] = rep == 0 ? QUANT_CODE_MAX : (uint8_t)(rnd() % (QUANT_CODE_MAX + 1));
                b[i] = rep == 0   ? QUANT_CODE_MAX
                       : rep == 1 ? 0
                                  : (uint8_t)(rnd() % (QUANT_CODE_MAX + 1));
            }
            for (size_t li = 0; li <= KERNEL_EVERY_LEN + ARRAY_LEN(longer); li++) {
                size_t n = li <= KERNEL_EVERY_LEN ? li : longer[li - KERNEL_EVERY_LEN - 1];
                /* Unaligned starts as well. */
                const uint8_t *pa = a + rep % 7, *pb = b + rep % 5;
                int32_t want = quant_dot_scalar(pa, pb, n), got = dot(pa, pb, n);
                if (want != got) HARNESS_FAIL("%s dot n=%zu: %d != %d", name, n, got, want);
                want = quant_l1_scalar(pa, pb, n);
                got = l1(pa, pb, n);
                if (want != got) HARNESS_FAIL("%s l1 n=%zu: %d != %d", name, n, got, want);
                n_checked++;
            }
        }
        printf("  kernel %s matches scalar\n", name);
    }
    ASSERT_GE(n_kernels, 1);
    printf("  %d comparisons; in use: %s\n", n_checked, quant_backend());
#if defined(__aarch64__)
    /* NEON is base ISA: the scalar kernels run only when forced. */
    const char *force = getenv("VITRINE_VEC");
    if (!force || strcmp(force, "scalar")) {
        ASSERT_GE(n_kernels, 2);
        ASSERT_STR_EQ(quant_backend(), cpu_has(CPU_DOTPROD) ? "neon-dotprod" : "neon");
    }
#endif
}

TEST(calibration_follows_qdrant)
{
    /* 200 vectors of 2 values: 0..399 in a shuffled order. */
    enum { NV = 200, D = 2 };
    float v[NV * D];
    for (int i = 0; i < NV * D; i++) v[i] = (float)i;
    for (int i = NV * D - 1; i > 0; i--) {
        int j = (int)(rnd() % (uint64_t)(i + 1));
        float t = v[i];
        v[i] = v[j];
        v[j] = t;
    }
    float lo, hi;
    /* cut = 200 * (1 - 0.9) / 2 = 10: ranks 11 and 400 - 10 - 1 = 389. */
    ASSERT_OK(quant_calibrate(v, NV, D, 0.9f, &lo, &hi));
    ASSERT_NEAR(lo, 11, 0);
    ASSERT_NEAR(hi, 389, 0);
    /* quantile 1: min and max. */
    ASSERT_OK(quant_calibrate(v, NV, D, 1.0f, &lo, &hi));
    ASSERT_NEAR(lo, 0, 0);
    ASSERT_NEAR(hi, 399, 0);
    /* Fewer than 127 vectors: min and max of those. */
    float w[100 * D];
    for (int i = 0; i < 100 * D; i++) w[i] = (float)(i % 37) - 5.0f;
    ASSERT_OK(quant_calibrate(w, 100, D, 0.99f, &lo, &hi));
    ASSERT_NEAR(lo, -5, 0);
    ASSERT_NEAR(hi, 31, 0);
    /* The codes: round(clamp((v - lo) / alpha, 0, 127)). */
    QuantParams qp;
    quant_params_init(&qp, 4, QUANT_DOT, 0.0f, 127.0f);
    uint8_t code[16];
    float x[4] = { -3.0f, 10.4f, 10.5f, 500.0f };
    quant_encode(&qp, x, code);
    ASSERT_EQ_INT(code[0], 0);
    ASSERT_EQ_INT(code[1], 10);
    ASSERT_EQ_INT(code[2], 11);
    ASSERT_EQ_INT(code[3], 127);
}

/* The quantized distance equals the exact distance of the decoded vectors. */
TEST(distance_is_decoded_distance)
{
    enum { D = 77 };
    static const QuantKind kinds[] = { QUANT_DOT, QUANT_L2, QUANT_L1 };
    for (size_t k = 0; k < 3; k++) {
        QuantParams qp;
        quant_params_init(&qp, D, kinds[k], -0.3f, 0.45f);
        uint8_t ca[128], cb[128];
        float a[D], b[D], da[D], db[D];
        for (int rep = 0; rep < 50; rep++) {
            for (int i = 0; i < D; i++) a[i] = 0.2f * gauss(), b[i] = 0.2f * gauss();
            quant_encode(&qp, a, ca);
            quant_encode(&qp, b, cb);
            quant_decode(&qp, ca, da);
            quant_decode(&qp, cb, db);
            double ref = 0;
            for (int i = 0; i < D; i++) {
                double x = da[i], y = db[i];
                if (kinds[k] == QUANT_DOT) ref -= x * y;
                else if (kinds[k] == QUANT_L2) ref += (x - y) * (x - y);
                else ref += fabs(x - y);
            }
            double got = quant_distance(&qp, ca, cb);
            if (fabs(got - ref) > 1e-4 * (1 + fabs(ref)))
                HARNESS_FAIL("kind %zu: quantized %.7g, decoded exact %.7g", k, got, ref);
            /* And each decoded value is within half a step of the original
             * where it was inside the interval. */
            for (int i = 0; i < D; i++)
                if (a[i] > -0.3f && a[i] < 0.45f && fabsf(da[i] - a[i]) > qp.alpha * 0.5001f)
                    HARNESS_FAIL("value %g decoded as %g (alpha %g)", a[i], da[i], qp.alpha);
        }
    }
}

/* ---- quantized HNSW recall against a float32 brute-force reference ---- */

#define N 4000
#define NQ 100
#define DIM 64
#define K 10

static void unit(float *v)
{
    vec_normalize(v, DIM);
}

/* CLIP-like clustered unit vectors (as tools/gen_vectors.py). */
static void gen(float *x, int n, uint64_t seed)
{
    enum { NC = 40 };
    static float mean[DIM], centres[NC][DIM];
    rng_state = 7;
    for (int j = 0; j < DIM; j++) mean[j] = gauss();
    unit(mean);
    for (int c = 0; c < NC; c++) {
        for (int j = 0; j < DIM; j++) centres[c][j] = gauss();
        unit(centres[c]);
    }
    rng_state = seed;
    for (int i = 0; i < n; i++) {
        float *v = x + (size_t)i * DIM;
        for (int j = 0; j < DIM; j++) v[j] = gauss() / sqrtf((float)j + 1);
        unit(v);
        int c = (int)(NC * pow(urand(), 2.0)) % NC;
        for (int j = 0; j < DIM; j++) v[j] = 0.7f * mean[j] + 0.5f * centres[c][j] + 0.6f * v[j];
        unit(v);
    }
}

static double dot_d(const float *a, const float *b)
{
    double s = 0;
    for (int j = 0; j < DIM; j++) s += (double)a[j] * b[j];
    return s;
}

/* exact_topk: the k best by double dot product over all of x. */
static void exact_topk(const float *x, const float *q, uint32_t *out)
{
    double best[K];
    int m = 0;
    for (int i = 0; i < N; i++) {
        double s = dot_d(x + (size_t)i * DIM, q);
        if (m == K && s <= best[K - 1]) continue;
        int p = m < K ? m++ : K - 1;
        while (p > 0 && best[p - 1] < s) {
            best[p] = best[p - 1];
            out[p] = out[p - 1];
            p--;
        }
        best[p] = s;
        out[p] = (uint32_t)i;
    }
}

static int cmp_hit_desc(const void *a, const void *b)
{
    const HnswHit *x = a, *y = b;
    return (x->score < y->score) - (x->score > y->score);
}

/* quant_params: the defaults with ef_construction, seed and int8 codes
 * of [lo, hi]. */
static HnswParams quant_params(int ef_construction, uint64_t seed, float lo, float hi)
{
    HnswParams p;
    hnsw_params_default(&p);
    p.ef_construction = ef_construction;
    p.seed = seed;
    p.quant = 1;
    p.quant_lo = lo;
    p.quant_hi = hi;
    return p;
}

/*
 * A quantized graph rebuilt from its own decoded codes (as a PATCH of m
 * rebuilds one on every core, without reading the float32 originals from
 * the store) holds the same codes, and with the same seed and order is
 * the same graph as one built from the originals: every decoded vector is
 * bit-identical, and searches return the same nodes with the same scores.
 * Components outside the interval (clamped to codes 0 and 255) included.
 */
TEST(codes_survive_a_rebuild_from_decoded_vectors)
{
    enum { NR = 1500 };
    float *x = malloc((size_t)NR * DIM * sizeof *x);
    ASSERT_TRUE(x != NULL);
    gen(x, NR, 7);
    float lo, hi;
    ASSERT_OK(quant_calibrate(x, NR, DIM, 0.95f, &lo, &hi));
    HnswParams p = quant_params(64, 3, lo, hi);
    HnswIndex *a = NULL, *b = NULL;
    ASSERT_OK(hnsw_create(DIM, HNSW_METRIC_COSINE, &p, &a));
    ASSERT_OK(hnsw_create(DIM, HNSW_METRIC_COSINE, &p, &b));
    float va[DIM], vb[DIM];
    for (int i = 0; i < NR; i++) ASSERT_OK(hnsw_insert(a, (uint32_t)i, x + (size_t)i * DIM));
    for (int i = 0; i < NR; i++) {
        ASSERT_OK(hnsw_get_vector(a, (uint32_t)i, va));
        ASSERT_OK(hnsw_insert(b, (uint32_t)i, va));
    }
    int clamped = 0;
    for (int i = 0; i < NR; i++) {
        ASSERT_OK(hnsw_get_vector(a, (uint32_t)i, va));
        ASSERT_OK(hnsw_get_vector(b, (uint32_t)i, vb));
        ASSERT_TRUE(memcmp(va, vb, sizeof va) == 0);
        for (int d = 0; d < DIM; d++) clamped += va[d] == lo || va[d] == hi;
    }
    ASSERT_TRUE(clamped > 0); /* the 0.95 quantile leaves values outside */
    for (int t = 0; t < 50; t++) {
        HnswHit ha[10], hb[10];
        int na, nb;
        const float *q = x + (size_t)(t * 29) * DIM;
        ASSERT_OK(hnsw_search(a, q, 10, 32, NULL, NULL, ha, &na));
        ASSERT_OK(hnsw_search(b, q, 10, 32, NULL, NULL, hb, &nb));
        ASSERT_EQ_INT(na, nb);
        for (int j = 0; j < na; j++) {
            ASSERT_EQ_INT(ha[j].node, hb[j].node);
            ASSERT_TRUE(ha[j].score == hb[j].score);
        }
    }
    hnsw_free(a);
    hnsw_free(b);
    free(x);
}

TEST(quantized_recall_with_and_without_rescoring)
{
    float *x = malloc((size_t)N * DIM * sizeof *x), *qs = malloc((size_t)NQ * DIM * sizeof *qs);
    ASSERT_TRUE(x && qs);
    gen(x, N, 1);
    gen(qs, NQ, 99);
    float lo, hi;
    ASSERT_OK(quant_calibrate(x, QUANT_SAMPLE_SIZE < N ? QUANT_SAMPLE_SIZE : N, DIM, 0.99f, &lo,
                              &hi));
    HnswParams p = quant_params(100, 1, lo, hi);
    HnswIndex *idx = NULL, *flat = NULL;
    ASSERT_OK(hnsw_create(DIM, HNSW_METRIC_COSINE, &p, &idx));
    p.quant = 0;
    ASSERT_OK(hnsw_create(DIM, HNSW_METRIC_COSINE, &p, &flat));
    for (int i = 0; i < N; i++) {
        ASSERT_OK(hnsw_insert(idx, (uint32_t)i, x + (size_t)i * DIM));
        ASSERT_OK(hnsw_insert(flat, (uint32_t)i, x + (size_t)i * DIM));
    }
    /* Codes take about a quarter of the float32 blocks' memory. */
    printf("  memory: quantized %zu bytes, float32 %zu bytes\n", hnsw_memory_bytes(idx),
           hnsw_memory_bytes(flat));
    ASSERT_LE((double)hnsw_memory_bytes(idx), 0.6 * (double)hnsw_memory_bytes(flat));
    long plain = 0, rescored = 0, total = 0;
    double max_err = 0;
    for (int qi = 0; qi < NQ; qi++) {
        const float *q = qs + (size_t)qi * DIM;
        uint32_t ref[K];
        exact_topk(x, q, ref);
        HnswHit hits[3 * K];
        int n = 0;
        ASSERT_OK(hnsw_search(idx, q, 3 * K, 64, NULL, NULL, hits, &n));
        for (int i = 0; i < n; i++) {
            double exact = dot_d(x + (size_t)hits[i].node * DIM, q);
            if (fabs(exact - hits[i].score) > max_err) max_err = fabs(exact - hits[i].score);
        }
        for (int i = 0; i < K && i < n; i++)
            for (int t = 0; t < K; t++) plain += hits[i].node == ref[t];
        /* Rescoring: exact float32 scores of the oversampled candidates. */
        for (int i = 0; i < n; i++)
            hits[i].score = vec_dot(x + (size_t)hits[i].node * DIM, q, DIM);
        qsort(hits, (size_t)n, sizeof *hits, cmp_hit_desc);
        for (int i = 0; i < K && i < n; i++)
            for (int t = 0; t < K; t++) rescored += hits[i].node == ref[t];
        total += K;
    }
    double r_plain = (double)plain / total, r_res = (double)rescored / total;
    printf("  recall@10 ef=64: quantized %.4f, rescored x3 %.4f; max score error %.4f\n", r_plain,
           r_res, max_err);
    ASSERT_GE(r_plain, 0.85);
    ASSERT_GE(r_res, 0.97);
    /* Approximate scores are close to the exact ones: query and vector
     * are both rounded to steps of (hi - lo) / 127, and the 1% of values
     * outside the quantile interval clamped (measured 0.058 at 64-d). */
    ASSERT_LE(max_err, 0.1);
    /* Brute force on codes finds the same best neighbour as most of the time. */
    HnswHit bf[K];
    int nb = 0;
    ASSERT_OK(hnsw_brute_force(idx, qs, K, NULL, NULL, bf, &nb));
    ASSERT_EQ_INT(nb, K);
    /* hnsw_params_get reports the interval, so a rebuild can reuse it. */
    HnswParams got;
    hnsw_params_get(idx, &got);
    ASSERT_EQ_INT(got.quant, 1);
    ASSERT_NEAR(got.quant_lo, lo, 0);
    ASSERT_NEAR(got.quant_hi, hi, 0);
    /* get_vector gives the decoded approximation. */
    float back[DIM];
    ASSERT_OK(hnsw_get_vector(idx, 5, back));
    for (int j = 0; j < DIM; j++) {
        float v = x[5 * DIM + j];
        if (v > lo && v < hi) ASSERT_NEAR(back[j], v, (hi - lo) / 127.0 * 0.5001);
    }
    hnsw_free(idx);
    hnsw_free(flat);
    free(x);
    free(qs);
}

int main(void)
{
    RUN(kernels_match_scalar);
    RUN(calibration_follows_qdrant);
    RUN(distance_is_decoded_distance);
    RUN(codes_survive_a_rebuild_from_decoded_vectors);
    RUN(quantized_recall_with_and_without_rescoring);
    return harness_report(__FILE__);
}
