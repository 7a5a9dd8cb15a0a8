/*
 * test_neon.c - the AArch64 NEON kernels of src/model against references:
 * the attention's probabilities-times-V product (nn_neon.c) against the
 * same sum in double, and the F16 weight conversion (safetensors.c's
 * FCVTL path) against the scalar bit-level conversion for every one of
 * the 65536 F16 values; the NEON exp block against exp in double. The
 * vector kernels of src/base are in test_vec.
 * On other architectures there is nothing to test: the binary skips. CI
 * runs it under qemu-aarch64 (make CROSS=aarch64-linux-gnu- test-emu).
 */
#include "harness.h"

#include <math.h>
#include <stdint.h>

#include "model/nn_neon.h"
#include "model/safetensors.h"

#if NN_HAVE_NEON
static uint32_t rng_state = 777;

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

#if NN_HAVE_NEON
/* The NEON probabilities-times-V kernel alone, against the same sum in
 * double: every width from 1 to 70 (the 32-column blocks, the 4-column
 * blocks and the scalar tail), odd and even row counts (the two-row
 * pairing), causal and full, with padded strides. */
TEST(test_weighted_sum_neon)
{
    const int ldp = 75, ldv = 83, ldo = 79;
    for (int width = 1; width <= 70; width++)
        for (int rows = 1; rows <= 7; rows += 3)
            for (int causal = 0; causal <= 1; causal++) {
                int cols = rows + 2;
                float *p = rnd_alloc((size_t)rows * ldp), *v = rnd_alloc((size_t)cols * ldv);
                float *out = rnd_alloc((size_t)rows * ldo);
                nn_weighted_sum_neon(p, ldp, rows, cols, causal, v, ldv, width, out, ldo);
                for (int i = 0; i < rows; i++) {
                    int n = causal && i + 1 < cols ? i + 1 : cols;
                    for (int d = 0; d < width; d++) {
                        double ref = 0, cond = 0;
                        for (int j = 0; j < n; j++) {
                            ref += (double)p[i * ldp + j] * v[j * ldv + d];
                            cond += fabs((double)p[i * ldp + j] * v[j * ldv + d]);
                        }
                        ASSERT_NEAR(out[i * ldo + d], ref, 1e-6 * cond + 1e-30);
                    }
                }
                free(p);
                free(v);
                free(out);
            }
}
#endif
/* The NEON exp block against exp in double: relative error within 3e-7
 * over the range softmax and quick_gelu reach (exact multiples, tiny and
 * negative arguments included), and finite, positive values at and past
 * the clamps. */
TEST(test_exp16_neon)
{
    float x[16], y[16];
    double worst = 0;
    for (int k = 0; k < 20000; k++) {
        for (int i = 0; i < 16; i++) x[i] = (float)(-87.0 + 175.0 * ((k * 16 + i) % 20011) / 20011.0);
        if (k == 0)
            for (int i = 0; i < 16; i++) x[i] = (float)(i - 8) * 0.6931472f; /* near n * ln 2 */
        nn_exp16_neon(x, y);
        for (int i = 0; i < 16; i++) {
            double want = exp((double)x[i]);
            if (want > 3.0e38) continue; /* past the clamp */
            double rel = fabs(y[i] - want) / want;
            if (rel > worst) worst = rel;
            if (rel > 3e-7) HARNESS_FAIL("exp(%.9g): %.9g, want %.9g (rel %.3g)", x[i], y[i], want, rel);
        }
    }
    printf("  exp16: worst relative error %.3g\n", worst);
    const float edge[16] = { 88.3762626647949f, 89.0f, 1000.0f, -87.3365478515625f, -88.0f, -1000.0f,
                             0.0f, -0.0f, 1e-30f, -1e-30f, 1.0f, -1.0f, 10.0f, -10.0f, 80.0f, -80.0f };
    nn_exp16_neon(edge, y);
    for (int i = 0; i < 16; i++) ASSERT_TRUE(isfinite(y[i]) && y[i] > 0.0f);
    ASSERT_NEAR(y[6], 1.0, 1e-7);
    ASSERT_NEAR(y[11], exp(-1.0), 3e-7 * exp(-1.0));
}

/* Every F16 bit pattern, converted in one call (so in 8-value NEON blocks)
 * from a buffer at an odd byte offset, against the scalar conversion: the
 * same float bit for bit, except that a NaN need only stay a NaN (FCVTL
 * quiets a signalling one, as x86's F16C does). Then lengths 0 to 17 for
 * the scalar tail. */
TEST(test_f16_neon_matches_scalar)
{
    enum { N = 65536 };
    unsigned char *buf = malloc(2 * N + 1);
    float *out = malloc((N + 1) * sizeof *out);
    ASSERT_TRUE(buf && out);
    for (uint32_t i = 0; i < N; i++) {
        uint16_t h = (uint16_t)i;
        memcpy(buf + 1 + 2 * i, &h, 2);
    }
    SafeTensor t = { .name = "t", .dtype = ST_DTYPE_F16, .ndim = 1, .shape = { N }, .numel = N,
                     .data = buf + 1, .nbytes = 2 * N };
    for (size_t len = 0; len <= 17; len++) {
        out[len] = 12345.0f;
        safetensors_to_f32(&t, 100, len, out);
        for (size_t i = 0; i < len; i++)
            ASSERT_TRUE(out[i] == safetensors_f16_to_f32((uint16_t)(100 + i)));
        ASSERT_TRUE(out[len] == 12345.0f); /* nothing written past n */
    }
    safetensors_to_f32(&t, 0, N, out);
    for (uint32_t i = 0; i < N; i++) {
        float want = safetensors_f16_to_f32((uint16_t)i);
        if (isnan(want)) {
            if (!isnan(out[i])) HARNESS_FAIL("f16 0x%04x: %g, want a NaN", i, out[i]);
            continue;
        }
        if (memcmp(&out[i], &want, sizeof want) != 0)
            HARNESS_FAIL("f16 0x%04x: %.9g, want %.9g", i, out[i], want);
    }
    free(buf);
    free(out);
}
#else
TEST(test_no_neon)
{
    SKIP("no NEON kernels on this architecture (CI runs them under qemu-aarch64)");
}
#endif

int main(void)
{
#if NN_HAVE_NEON
    RUN(test_weighted_sum_neon);
    RUN(test_exp16_neon);
    RUN(test_f16_neon_matches_scalar);
#else
    RUN(test_no_neon);
#endif
    return harness_report(__FILE__);
}
