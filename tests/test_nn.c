/*
 * test_nn.c - the transformer kernels against a double-precision reference.
 *
 * The CLIP parity tests run the kernels only at the fixture models' small
 * widths (64 to 192); the shapes that only full-size models reach (k
 * chunking above 1024, padded row strides, hundreds of rows on the
 * OpenBLAS path, several outputs in one region, the fused activations,
 * single-query attention) are checked here, each output against the same
 * expression computed naively in double. The tolerance is relative to the
 * sum of |x * w| of each dot product: float rounding stays far below it,
 * while a wrong index or a dropped chunk is off by the size of a term.
 */
#include "harness.h"

#include <math.h>
#include <stdint.h>

#include "model/nn.h"

static uint32_t rng_state = 12345;

static float rnd(void)
{
    rng_state = rng_state * 1664525u + 1013904223u;
    return (float)(rng_state >> 8) / (float)(1u << 24) * 2.0f - 1.0f;
}

static float *rnd_alloc(size_t n)
{
    float *p = malloc((n ? n : 1) * sizeof *p);
    for (size_t i = 0; i < n; i++) p[i] = rnd();
    return p;
}

static double ref_act(double v, NnAct act)
{
    if (act == NN_ACT_QUICK_GELU) return v / (1.0 + exp(-1.702 * v));
    if (act == NN_ACT_GELU) return 0.5 * v * (1.0 + erf(v / sqrt(2.0)));
    return v;
}

/*
 * check_linear runs nn_linear_multi for nout outputs of one input x (rows,
 * in) with row stride ldx, and compares every output element with the
 * double reference act(x @ w^T + b) (+ the old y with accumulate). Returns
 * the worst error relative to the tolerance (<= 1 passes).
 */
static double check_linear(int rows, int in, int ldx, const int *outs, int nout, int use_bias,
                           int accumulate, NnAct act, int pad_y)
{
    float *x = rnd_alloc((size_t)rows * ldx);
    NnLinearOut o[NN_LINEAR_MAX_OUTS];
    float *y0[NN_LINEAR_MAX_OUTS];
    for (int i = 0; i < nout; i++) {
        int ldy = outs[i] + (pad_y ? 16 : 0);
        o[i] = (NnLinearOut){ rnd_alloc((size_t)outs[i] * in), use_bias ? rnd_alloc(outs[i]) : NULL,
                              outs[i], rnd_alloc((size_t)rows * ldy), accumulate, act,
                              pad_y ? ldy : 0, NULL };
        y0[i] = malloc((size_t)rows * ldy * sizeof(float));
        memcpy(y0[i], o[i].y, (size_t)rows * ldy * sizeof(float));
    }
    nn_linear_multi(x, ldx, rows, in, o, nout);
    double worst = 0;
    for (int i = 0; i < nout; i++) {
        int ldy = o[i].ldy ? o[i].ldy : o[i].out;
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < o[i].out; c++) {
                double acc = o[i].b ? o[i].b[c] : 0.0, mag = fabs(acc);
                for (int k = 0; k < in; k++) {
                    double t = (double)x[(size_t)r * ldx + k] * o[i].w[(size_t)c * in + k];
                    acc += t;
                    mag += fabs(t);
                }
                double want = ref_act((accumulate ? y0[i][(size_t)r * ldy + c] : 0.0) + acc, act);
                double got = o[i].y[(size_t)r * ldy + c];
                double tol = 1e-5 * (mag + fabs(want)) + 1e-6;
                double e = fabs(got - want) / tol;
                if (!(e <= worst)) worst = e; /* NaN counts as worst */
            }
        /* Padding columns of y are never written. */
        for (int r = 0; r < rows && ldy > o[i].out; r++)
            for (int c = o[i].out; c < ldy; c++)
                if (o[i].y[(size_t)r * ldy + c] != y0[i][(size_t)r * ldy + c]) worst = INFINITY;
        free((void *)o[i].w);
        free((void *)o[i].b);
        free(o[i].y);
        free(y0[i]);
    }
    free(x);
    return worst;
}

/* Row counts on both sides of the skinny/OpenBLAS switch (128 rows), with
 * partial tiles (not a multiple of 6), and k with and without chunks
 * (above 1024), with a tail that is not a multiple of 16. */
TEST(test_linear_shapes)
{
    static const int rows[] = { 1, 7, 50, 130, 300 };
    static const int ins[] = { 40, 64, 768, 1041, 3072 };
    static const int outs[] = { 30, 96 };
    double worst = 0;
    for (size_t r = 0; r < sizeof rows / sizeof *rows; r++)
        for (size_t k = 0; k < sizeof ins / sizeof *ins; k++)
            for (size_t o = 0; o < sizeof outs / sizeof *outs; o++) {
                double e = check_linear(rows[r], ins[k], ins[k], &outs[o], 1, 1, 0, NN_ACT_NONE, 0);
                if (!(e <= 1.0))
                    HARNESS_FAIL("rows %d in %d out %d: error %.3g x tolerance", rows[r], ins[k],
                                 outs[o], e);
                if (e > worst) worst = e;
            }
    printf("  linear: worst error %.3f of the tolerance over %zu shapes\n", worst,
           sizeof rows / sizeof *rows * (sizeof ins / sizeof *ins) * (sizeof outs / sizeof *outs));
}

/* Accumulate (the residual), no bias, padded strides for x and y; the
 * activation over an accumulated sum; a layer with no inputs. */
TEST(test_linear_accumulate_strided)
{
    static const int out[] = { 68 };
    for (int rows = 6; rows <= 258; rows += 126) {
        int in = 3072, ldx = nn_padded_ld(in);
        ASSERT_EQ_INT(ldx, 3088);
        double e = check_linear(rows, in, ldx, out, 1, 0, 1, NN_ACT_NONE, 1);
        if (!(e <= 1.0)) HARNESS_FAIL("rows %d: error %.3g x tolerance", rows, e);
    }
    ASSERT_EQ_INT(nn_padded_ld(768), 768);
    ASSERT_EQ_INT(nn_padded_ld(2048), 2064);
    /* The activation applies to the accumulated sum. */
    double e = check_linear(13, 770, 770, out, 1, 1, 1, NN_ACT_QUICK_GELU, 0);
    if (!(e <= 1.0)) HARNESS_FAIL("accumulate + quick_gelu: error %.3g x tolerance", e);
    /* No inputs at all: y = act(b (+ y)). */
    for (int acc = 0; acc <= 1; acc++) {
        e = check_linear(5, 0, 0, out, 1, 1, acc, NN_ACT_GELU, 1);
        if (!(e <= 1.0)) HARNESS_FAIL("in = 0, accumulate %d: error %.3g x tolerance", acc, e);
    }
}

/* Three outputs of different widths in one region, and the fused
 * activations; with 9, 159 and 309 rows, and 1100 (three row blocks of
 * the skinny kernel where it takes that many rows: AMD CPUs). The other
 * GEMM path runs in test_without_avx512. */
TEST(test_linear_multi_and_activations)
{
    static const int outs[] = { 64, 36, 100 };
    static const NnAct acts[] = { NN_ACT_NONE, NN_ACT_QUICK_GELU, NN_ACT_GELU };
    for (int a = 0; a < 3; a++)
        for (int rows = 9; rows <= 1100; rows = rows < 309 ? rows + 150 : 1100) {
            double e = check_linear(rows, 200, 200, outs, 3, 1, 0, acts[a], a == 1);
            if (!(e <= 1.0)) HARNESS_FAIL("act %d rows %d: error %.3g x tolerance", a, rows, e);
            if (rows == 1100) break;
        }
}

/* ref_attention: out row i of one sequence, one head, in double. */
static void ref_attention_row(const float *q, const float *k, const float *v, int ld, int t,
                              int hd, int keys, double *out)
{
    double s[256], mx = -1e300, sum = 0;
    for (int j = 0; j < keys; j++) {
        double d = 0;
        for (int c = 0; c < hd; c++) d += (double)q[c] * k[(size_t)j * ld + c];
        s[j] = d / sqrt((double)hd);
        if (s[j] > mx) mx = s[j];
    }
    for (int j = 0; j < keys; j++) sum += (s[j] = exp(s[j] - mx));
    for (int c = 0; c < hd; c++) {
        double acc = 0;
        for (int j = 0; j < keys; j++) acc += s[j] / sum * v[(size_t)j * ld + c];
        out[c] = acc;
    }
    (void)t;
}

/* check_attention runs full attention (causal or not) and the pooled
 * single query for three ragged sequences of `heads` heads of hd, and
 * returns the largest |difference| from the reference. */
static double check_attention(int heads, int hd)
{
    enum { NSEQ = 3 };
    static const int lens[NSEQ] = { 50, 7, 1 };
    int D = heads * hd, off[NSEQ], rows = 0;
    for (int i = 0; i < NSEQ; i++) {
        off[i] = rows;
        rows += lens[i];
    }
    float *q = rnd_alloc((size_t)rows * D), *k = rnd_alloc((size_t)rows * D);
    float *v = rnd_alloc((size_t)rows * D), *out = rnd_alloc((size_t)rows * D);
    int slots = nn_get_threads();
    size_t slot = NN_ATTENTION_SCRATCH(50, hd);
    float *scratch = malloc((size_t)slots * slot * sizeof(float));
    double ref[128], worst = 0; /* hd <= 128 */
    for (int causal = 0; causal <= 1; causal++) {
        nn_attention_batch(q, k, v, D, off, lens, NSEQ, heads, hd, causal, scratch, slot, slots,
                           out);
        for (int s = 0; s < NSEQ; s++)
            for (int r = 0; r < lens[s]; r++)
                for (int h = 0; h < heads; h++) {
                    size_t row = (size_t)(off[s] + r) * D + (size_t)h * hd;
                    size_t base = (size_t)off[s] * D + (size_t)h * hd;
                    ref_attention_row(q + row, k + base, v + base, D, lens[s], hd,
                                      causal ? r + 1 : lens[s], ref);
                    for (int c = 0; c < hd; c++) {
                        double e = fabs(out[row + c] - ref[c]);
                        if (!(e <= worst)) worst = e;
                    }
                }
    }
    /* Pooled: one query per sequence against all its keys, gathered into
     * rows 0..NSEQ-1: the last row of each sequence, as the text tower
     * pools, must give exactly what causal attention gave that row (still
     * in out), and row 0, as the vision tower pools, the reference. */
    float *qp = malloc((size_t)NSEQ * D * sizeof(float));
    float *op = malloc((size_t)NSEQ * D * sizeof(float));
    for (int s = 0; s < NSEQ; s++)
        memcpy(qp + (size_t)s * D, q + (size_t)(off[s] + lens[s] - 1) * D,
               (size_t)D * sizeof(float));
    nn_attention_pooled(qp, k, v, D, off, lens, NSEQ, heads, hd, scratch, slot, slots, op);
    for (int s = 0; s < NSEQ; s++)
        for (int c = 0; c < D; c++) {
            double e = fabs(op[(size_t)s * D + c] - out[(size_t)(off[s] + lens[s] - 1) * D + c]);
            if (!(e <= worst)) worst = e;
        }
    for (int s = 0; s < NSEQ; s++)
        memcpy(qp + (size_t)s * D, q + (size_t)off[s] * D, (size_t)D * sizeof(float));
    nn_attention_pooled(qp, k, v, D, off, lens, NSEQ, heads, hd, scratch, slot, slots, op);
    for (int s = 0; s < NSEQ; s++)
        for (int h = 0; h < heads; h++) {
            size_t base = (size_t)off[s] * D + (size_t)h * hd;
            ref_attention_row(qp + (size_t)s * D + (size_t)h * hd, k + base, v + base, D, lens[s],
                              hd, lens[s], ref);
            for (int c = 0; c < hd; c++) {
                double e = fabs(op[(size_t)s * D + (size_t)h * hd + c] - ref[c]);
                if (!(e <= worst)) worst = e;
            }
        }
    free(q);
    free(k);
    free(v);
    free(out);
    free(qp);
    free(op);
    free(scratch);
    return worst;
}

/* Head sizes 64 (ViT-B: whole 64-column blocks), 48 and 80 (16-column
 * passes), 40 and 104 (partial vectors: masked loads, scalar tails). */
TEST(test_attention_full_and_pooled)
{
    static const int hds[] = { 64, 48, 80, 40, 104 };
    for (size_t i = 0; i < sizeof hds / sizeof *hds; i++) {
        double worst = check_attention(3, hds[i]);
        printf("  attention head_dim %d (full, causal, pooled): max |diff| %.3g\n", hds[i], worst);
        ASSERT_LE(worst, 1e-5);
    }
}

static char *self_path;

#if defined(__x86_64__)
/* The same checks with the skinny kernel off (NN_ENV_NO_AVX512): every
 * GEMM through OpenBLAS, as CPUs without AVX-512 run, and the attention
 * kernels' generic versions. */
TEST(test_without_avx512)
{
    ASSERT_EQ_INT(harness_rerun(self_path, NN_ENV_NO_AVX512, NULL), 0);
}
#endif

int main(int argc, char **argv)
{
    (void)argc;
    self_path = argv[0];
    RUN(test_linear_shapes);
    RUN(test_linear_accumulate_strided);
    RUN(test_linear_multi_and_activations);
    RUN(test_attention_full_and_pooled);
#if defined(__x86_64__)
    /* Elsewhere the variable changes nothing: no second run. */
    if (!getenv(NN_ENV_NO_AVX512)) {
        printf("-- again without the AVX-512 kernels (%s=1):\n", NN_ENV_NO_AVX512);
        RUN(test_without_avx512);
    }
#endif
    return harness_report(__FILE__);
}
