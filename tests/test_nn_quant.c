/*
 * test_nn_quant.c - the bf16 and int8 linear layers (nn_quant.h).
 *
 * Three references:
 * - every kernel this CPU has against the scalar reference kernel, on
 *   shapes that reach every tile height, partial panels, odd reductions
 *   (k padding) and one-row inputs: int8 sums are exact integers, so the
 *   outputs must be identical bit for bit; bf16 kernels add the same exact
 *   products in the same order, so they too must agree bit for bit on
 *   inputs without denormals, but for AMX, whose tile instruction orders
 *   a tile's additions itself: it must agree to float32 rounding
 *   (AMX_BF16_REL of the output's magnitude);
 * - the quantized layer against the float32 layer computed in double: the
 *   error must stay within what the format allows (bf16: a relative 2^-8
 *   per product, int8: half a step of each operand's scale), which a wrong
 *   scale, zero point, packing index or bias would exceed by far;
 * - the same layer on 1 and on 3 threads: identical bits.
 */
#include "harness.h"

#include <math.h>
#include <stdint.h>

#include "base/err.h"
#include "model/nn.h"
#include "base/util.h"
#include "model/nn_quant.h"

/* AMX bf16 against the scalar kernel: a different order of float32
 * additions over up to 3072 terms. */
#define AMX_BF16_REL 1e-5

static uint32_t rng_state = 4242;

static float rnd(void)
{
    rng_state = rng_state * 1664525u + 1013904223u;
    return (float)(rng_state >> 8) / (float)(1u << 24) * 2.0f - 1.0f;
}

static float *rnd_alloc(size_t n, float scale, float shift)
{
    float *p = malloc((n ? n : 1) * sizeof *p);
    for (size_t i = 0; i < n; i++) p[i] = rnd() * scale + shift;
    return p;
}

TEST(test_precision_names)
{
    NnPrecision p;
    ASSERT_OK(nn_precision_parse("f32", &p));
    ASSERT_EQ_INT(p, NN_PREC_F32);
    ASSERT_OK(nn_precision_parse("bf16", &p));
    ASSERT_EQ_INT(p, NN_PREC_BF16);
    ASSERT_OK(nn_precision_parse("int8", &p));
    ASSERT_EQ_INT(p, NN_PREC_INT8);
    ASSERT_EQ_INT(nn_precision_parse("fp16", &p), ERR_INVAL);
    ASSERT_EQ_INT(nn_precision_parse("", &p), ERR_INVAL);
    ASSERT_STR_EQ(nn_precision_name(NN_PREC_INT8), "int8");
    ASSERT_STR_EQ(nn_quant_kernel_name(NN_PREC_INT8, 0), "scalar");
    ASSERT_STR_EQ(nn_quant_kernel_name(NN_PREC_BF16, 0), "scalar");
}

TEST(test_bf16_rounding)
{
    /* 1 + 2^-8 is halfway between bf16 1 and 1 + 2^-7: ties go to the even, 1. */
    ASSERT_EQ_INT(nn_bf16_from_f32(1.0f), 0x3F80);
    ASSERT_EQ_INT(nn_bf16_from_f32(1.0f + 0x1p-8f), 0x3F80);
    ASSERT_EQ_INT(nn_bf16_from_f32(1.0f + 0x1p-7f + 0x1p-8f), 0x3F82);
    ASSERT_EQ_INT(nn_bf16_from_f32(1.0f + 0x1p-8f + 0x1p-12f), 0x3F81);
    ASSERT_EQ_INT(nn_bf16_from_f32(-2.0f), 0xC000);
    ASSERT_TRUE(isnan(nn_bf16_to_f32(nn_bf16_from_f32(NAN))));
    ASSERT_TRUE(isinf(nn_bf16_to_f32(nn_bf16_from_f32(INFINITY))));
    ASSERT_NEAR(nn_bf16_to_f32(nn_bf16_from_f32(3.14159265f)), 3.140625, 0);
}

/* A layer y = act(x @ w^T + b) (+ y) to run and compare. */
typedef struct {
    int rows, in, out, ldx, ldy, use_bias, accumulate;
    NnAct act;
    float *x, *w, *b, *y0;
} Layer;

static void layer_init(Layer *l, int rows, int in, int out, int pad, int use_bias,
                       int accumulate, NnAct act, float xshift)
{
    *l = (Layer){ rows, in, out, in + pad, out + pad, use_bias, accumulate, act, NULL, NULL, NULL,
                  NULL };
    l->x = rnd_alloc((size_t)rows * l->ldx, 1.0f, xshift);
    l->w = rnd_alloc((size_t)out * in, 0.2f, 0.0f);
    l->b = use_bias ? rnd_alloc((size_t)out, 0.5f, 0.0f) : NULL;
    l->y0 = rnd_alloc((size_t)rows * l->ldy, 1.0f, 0.0f);
}

static void layer_free(Layer *l)
{
    free(l->x);
    free(l->w);
    free(l->b);
    free(l->y0);
}

/* layer_run returns a fresh y computed with weight q. */
static float *layer_run(const Layer *l, const NnQWeight *q)
{
    float *y = malloc((size_t)l->rows * l->ldy * sizeof *y);
    memcpy(y, l->y0, (size_t)l->rows * l->ldy * sizeof *y);
    NnLinearOut o = { l->w, l->b, l->out, y, l->accumulate, l->act, l->ldy, q };
    nn_linear_multi(l->x, l->ldx, l->rows, l->in, &o, 1);
    return y;
}

static double ref_act(double v, NnAct act)
{
    if (act == NN_ACT_QUICK_GELU) return v / (1.0 + exp(-1.702 * v));
    if (act == NN_ACT_GELU) return 0.5 * v * (1.0 + erf(v / sqrt(2.0)));
    return v;
}

/*
 * layer_error compares y with the float32 layer in double: the worst of
 * |y - ref| / bound, where the bound for each output is what the format
 * allows: bf16 rounds each operand by a relative 2^-9, so a product by
 * about 2^-8 of |x w| (plus float32 summation); int8 rounds x by half its
 * row step and w by half its channel step. Quick_gelu's slope is below
 * 1.2, so the bound carries through the activation.
 */
static double layer_error(const Layer *l, const float *y, NnPrecision p)
{
    double worst = 0;
    for (int c = 0; c < l->out; c++) {
        const float *wr = l->w + (size_t)c * l->in;
        double wmax = 0, wabs = 0;
        for (int k = 0; k < l->in; k++) {
            wmax = fmax(wmax, fabs(wr[k]));
            wabs += fabs(wr[k]);
        }
        for (int r = 0; r < l->rows; r++) {
            const float *xr = l->x + (size_t)r * l->ldx;
            double dot = l->b ? l->b[c] : 0, xw = 0, xmin = 0, xmax = 0, xabs = 0;
            for (int k = 0; k < l->in; k++) {
                dot += (double)xr[k] * wr[k];
                xw += fabs((double)xr[k] * wr[k]);
                xmin = fmin(xmin, xr[k]);
                xmax = fmax(xmax, xr[k]);
                xabs += fabs(xr[k]);
            }
            double bound;
            if (p == NN_PREC_BF16) {
                bound = 0x1p-7 * xw + 1e-6;
            } else {
                double xstep = (xmax - xmin) / 255.0, wstep = wmax / 127.0;
                bound = 0.5 * xstep * wabs + 0.5 * wstep * xabs + 0.25 * xstep * wstep * l->in +
                        1e-5 * xw + 1e-6;
            }
            double want = ref_act(dot, l->act);
            size_t at = (size_t)r * l->ldy + c;
            if (l->accumulate) {
                want = l->y0[at] + ref_act(dot, l->act);
                if (l->act != NN_ACT_NONE) want = ref_act(l->y0[at] + dot, l->act);
            }
            double e = fabs(y[at] - want) / (1.2 * bound);
            if (e > worst) worst = e;
        }
    }
    return worst;
}

/* The shapes: every tile height (1..6 rows and several tiles; 7 and 8
 * rows, the short tiles of a text query), partial panels (out not a
 * multiple of 64), k not a multiple of 4, and the full-size widths. */
static const int SHAPES[][3] = { { 1, 768, 768 },  { 2, 5, 3 },     { 3, 37, 17 },  { 4, 64, 64 },
                                 { 5, 100, 130 },  { 6, 768, 200 }, { 7, 512, 2048 },
                                 { 13, 33, 65 },   { 50, 768, 64 }, { 50, 3072, 96 },
                                 { 8, 2048, 100 }, { 7, 45, 70 },   { 9, 64, 64 } };

TEST(test_kernels_match_scalar)
{
    int checked = 0;
    for (int pi = 0; pi < 2; pi++) {
        NnPrecision p = pi ? NN_PREC_INT8 : NN_PREC_BF16;
        for (size_t s = 0; s < ARRAY_LEN(SHAPES); s++) {
            Layer l;
            layer_init(&l, SHAPES[s][0], SHAPES[s][1], SHAPES[s][2], s % 2 ? 16 : 0, s % 3 != 0,
                       s % 4 == 1, s % 5 == 2 ? NN_ACT_QUICK_GELU : NN_ACT_NONE, 0.0f);
            NnQWeight q;
            ASSERT_OK(nn_qweight_init(&q, l.w, l.out, l.in, p));
            ASSERT_OK(nn_quant_set_kernel(p, 0));
            float *ref = layer_run(&l, &q);
            for (int k = 1; k <= 5; k++) {
                if (!nn_quant_kernel_name(p, k)) {
                    ASSERT_EQ_INT(nn_quant_set_kernel(p, k), ERR_INVAL);
                    continue;
                }
                ASSERT_OK(nn_quant_set_kernel(p, k));
                float *y = layer_run(&l, &q);
                size_t bytes = (size_t)l.rows * l.ldy * sizeof *y;
                if (p == NN_PREC_BF16 && !strcmp(nn_quant_kernel_name(p, k), "amx")) {
                    double big = 0, diff = 0;
                    for (size_t i = 0; i < bytes / sizeof *y; i++) {
                        big = fmax(big, fabs(ref[i]));
                        diff = fmax(diff, fabs((double)y[i] - ref[i]));
                    }
                    if (diff > AMX_BF16_REL * big) {
                        printf("  bf16 amx shape %dx%dx%d: max diff %.3g of max %.3g\n", l.rows,
                               l.in, l.out, diff, big);
                        harness_current_failed = 1;
                    }
                } else if (memcmp(y, ref, bytes) != 0) {
                    for (size_t i = 0; i < bytes / sizeof *y; i++)
                        if (y[i] != ref[i]) {
                            printf("  %s %s shape %dx%dx%d: element %zu got %.9g want %.9g\n",
                                   nn_precision_name(p), nn_quant_kernel_name(p, k), l.rows, l.in,
                                   l.out, i, y[i], ref[i]);
                            break;
                        }
                    harness_current_failed = 1;
                }
                checked++;
                free(y);
            }
            ASSERT_OK(nn_quant_set_kernel(p, -1));
            free(ref);
            nn_qweight_free(&q);
            layer_free(&l);
        }
    }
    printf("  %d kernel runs compared; int8 kernel %s, bf16 kernel %s\n", checked,
           nn_quant_kernel(NN_PREC_INT8), nn_quant_kernel(NN_PREC_BF16));
}

TEST(test_layer_against_f32)
{
    for (int pi = 0; pi < 2; pi++) {
        NnPrecision p = pi ? NN_PREC_INT8 : NN_PREC_BF16;
        double worst = 0;
        for (size_t s = 0; s < ARRAY_LEN(SHAPES); s++) {
            Layer l;
            /* Shifted inputs (as after quick_gelu) test the zero point. */
            layer_init(&l, SHAPES[s][0], SHAPES[s][1], SHAPES[s][2], s % 2 ? 16 : 0, s % 3 != 0,
                       s % 4 == 1, s % 5 == 2 ? NN_ACT_QUICK_GELU : NN_ACT_NONE,
                       s % 2 ? 0.8f : 0.0f);
            NnQWeight q;
            ASSERT_OK(nn_qweight_init(&q, l.w, l.out, l.in, p));
            float *y = layer_run(&l, &q);
            double e = layer_error(&l, y, p);
            if (e > 1) printf("  %s shape %dx%dx%d: error %.3f of the bound\n",
                              nn_precision_name(p), l.rows, l.in, l.out, e);
            worst = fmax(worst, e);
            free(y);
            nn_qweight_free(&q);
            layer_free(&l);
        }
        printf("  %s: worst error %.3f of the format's bound\n", nn_precision_name(p), worst);
        ASSERT_LE(worst, 1.0);
    }
}

TEST(test_quantized_rows_and_zero_weights)
{
    /* An all-zero input row, a constant row and an all-zero weight channel
     * must give exactly the bias (nothing divides by a zero scale). */
    int rows = 3, in = 40, out = 20;
    float *x = calloc((size_t)rows * in, sizeof *x), *w = rnd_alloc((size_t)out * in, 0.3f, 0);
    float *b = rnd_alloc((size_t)out, 1.0f, 0), *y = malloc((size_t)rows * out * sizeof *y);
    for (int k = 0; k < in; k++) x[in + k] = 0.5f, x[2 * in + k] = rnd();
    for (int k = 0; k < in; k++) w[5 * in + k] = 0.0f;
    for (int pi = 0; pi < 2; pi++) {
        NnQWeight q;
        ASSERT_OK(nn_qweight_init(&q, w, out, in, pi ? NN_PREC_INT8 : NN_PREC_BF16));
        NnLinearOut o = { w, b, out, y, 0, NN_ACT_NONE, 0, &q };
        nn_linear_multi(x, 0, rows, in, &o, 1);
        for (int c = 0; c < out; c++) ASSERT_NEAR(y[c], b[c], 0);
        for (int r = 0; r < rows; r++) ASSERT_NEAR(y[r * out + 5], b[5], 0);
        /* The constant row: x . w = 0.5 sum w, to the format's precision. */
        double want = b[0];
        for (int k = 0; k < in; k++) want += 0.5 * w[k];
        ASSERT_NEAR(y[out], want, 0.02);
        nn_qweight_free(&q);
    }
    ASSERT_EQ_INT(nn_qweight_init(&(NnQWeight){ 0 }, w, out, in, NN_PREC_F32), ERR_INVAL);
    free(x);
    free(w);
    free(b);
    free(y);
}

TEST(test_thread_count_does_not_matter)
{
    /* An image's 50 rows (AMX where present), and a text query's 7 (the
     * short tiles, split over the pool by panels). */
    for (int pi = 0; pi < 4; pi++) {
        NnPrecision p = pi % 2 ? NN_PREC_INT8 : NN_PREC_BF16;
        Layer l;
        if (pi < 2)
            layer_init(&l, 50, 768, 1000, 0, 1, 0, NN_ACT_QUICK_GELU, 0.0f);
        else
            layer_init(&l, 7, 512, 2048, 0, 1, 1, NN_ACT_NONE, 0.0f);
        NnQWeight q;
        ASSERT_OK(nn_qweight_init(&q, l.w, l.out, l.in, p));
        nn_set_threads(1);
        float *y1 = layer_run(&l, &q);
        nn_set_threads(3);
        float *y3 = layer_run(&l, &q);
        ASSERT_TRUE(memcmp(y1, y3, (size_t)l.rows * l.ldy * sizeof *y1) == 0);
        free(y1);
        free(y3);
        nn_qweight_free(&q);
        layer_free(&l);
    }
}

TEST(test_multi_outputs_share_input)
{
    /* q, k, v as one call must equal three separate calls. */
    int rows = 9, in = 96, out = 80;
    float *x = rnd_alloc((size_t)rows * in, 1, 0);
    for (int pi = 0; pi < 2; pi++) {
        NnPrecision p = pi ? NN_PREC_INT8 : NN_PREC_BF16;
        NnQWeight q[3];
        float *w[3], *ya[3], *yb[3];
        NnLinearOut o[3];
        for (int i = 0; i < 3; i++) {
            w[i] = rnd_alloc((size_t)out * in, 0.2f, 0);
            ASSERT_OK(nn_qweight_init(&q[i], w[i], out, in, p));
            ya[i] = calloc((size_t)rows * out, sizeof(float));
            yb[i] = calloc((size_t)rows * out, sizeof(float));
            o[i] = (NnLinearOut){ w[i], NULL, out, ya[i], 0, NN_ACT_NONE, 0, &q[i] };
        }
        nn_linear_multi(x, 0, rows, in, o, 3);
        for (int i = 0; i < 3; i++) {
            NnLinearOut one = o[i];
            one.y = yb[i];
            nn_linear_multi(x, 0, rows, in, &one, 1);
            ASSERT_TRUE(memcmp(ya[i], yb[i], (size_t)rows * out * sizeof(float)) == 0);
            nn_qweight_free(&q[i]);
            free(w[i]);
            free(ya[i]);
            free(yb[i]);
        }
    }
    free(x);
}

int main(void)
{
    RUN(test_precision_names);
    RUN(test_bf16_rounding);
    RUN(test_kernels_match_scalar);
    RUN(test_layer_against_f32);
    RUN(test_quantized_rows_and_zero_weights);
    RUN(test_thread_count_does_not_matter);
    RUN(test_multi_outputs_share_input);
    return harness_report(__FILE__);
}
