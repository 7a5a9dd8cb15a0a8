/*
 * test_vec.c - the vector kernels against a double-precision reference.
 *
 * Every length from 0 to 70 and a few large odd ones (so every SIMD block
 * size and every tail length is hit), with pointers offset by one float so
 * nothing is aligned. The tolerance is relative to sum |a_i b_i| (the
 * condition of the sum), 1e-5: float32 rounding over n terms stays far
 * below it, a dropped or doubled element does not.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "base/err.h"
#include "harness.h"
#include "base/util.h"
#include "base/vec.h"
#include "base/vec_neon.h"
#include "base/cpu.h"

#define MAXN 1100

static uint64_t rng = 42;

static float frand(void)
{
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(rng >> 11) * 0x1p-53 * 2.0 - 1.0);
}

static const size_t lens[] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17, 23, 24, 31, 32, 33, 39,
                               40, 47, 63, 64, 65, 70, 127, 255, 257, 511, 512, 513, 1000, 1099 };

static float buf_a[MAXN + 1], buf_b[MAXN + 1];

TEST(dot_matches_double_reference)
{
    for (size_t li = 0; li < ARRAY_LEN(lens); li++) {
        size_t n = lens[li];
        float *a = buf_a + 1, *b = buf_b + 1; /* deliberately misaligned */
        double ref = 0, cond = 0;
        for (size_t i = 0; i < n; i++) {
            a[i] = frand() * 3;
            b[i] = frand() * 3;
            ref += (double)a[i] * b[i];
            cond += fabs((double)a[i] * b[i]);
        }
        double tol = 1e-5 * cond + 1e-30;
        ASSERT_NEAR(vec_dot(a, b, n), ref, tol);
        ASSERT_NEAR(vec_dot_scalar(a, b, n), ref, tol);
        ASSERT_NEAR(vec_dot_fn()(a, b, n), ref, tol);
    }
}

TEST(l2sq_matches_double_reference)
{
    for (size_t li = 0; li < ARRAY_LEN(lens); li++) {
        size_t n = lens[li];
        float *a = buf_a + 1, *b = buf_b + 1;
        double ref = 0;
        for (size_t i = 0; i < n; i++) {
            a[i] = frand() * 5;
            b[i] = frand() * 5;
            double d = (double)a[i] - b[i];
            ref += d * d;
        }
        double tol = 1e-5 * ref + 1e-30;
        ASSERT_NEAR(vec_l2sq(a, b, n), ref, tol);
        ASSERT_NEAR(vec_l2sq_scalar(a, b, n), ref, tol);
        ASSERT_NEAR(vec_l2sq_fn()(a, b, n), ref, tol);
    }
}

TEST(l1_matches_double_reference)
{
    for (size_t li = 0; li < ARRAY_LEN(lens); li++) {
        size_t n = lens[li];
        float *a = buf_a + 1, *b = buf_b + 1;
        double ref = 0;
        for (size_t i = 0; i < n; i++) {
            a[i] = frand() * 5;
            b[i] = frand() * 5;
            ref += fabs((double)a[i] - b[i]);
        }
        double tol = 1e-5 * ref + 1e-30;
        ASSERT_NEAR(vec_l1(a, b, n), ref, tol);
        ASSERT_NEAR(vec_l1_scalar(a, b, n), ref, tol);
        ASSERT_NEAR(vec_l1_fn()(a, b, n), ref, tol);
    }
}

TEST(norm_and_normalize)
{
    for (size_t li = 1; li < ARRAY_LEN(lens); li++) {
        size_t n = lens[li];
        float *a = buf_a + 1;
        double ss = 0;
        for (size_t i = 0; i < n; i++) {
            a[i] = frand() * 100;
            ss += (double)a[i] * a[i];
        }
        ASSERT_NEAR(vec_norm(a, n), sqrt(ss), 1e-5 * sqrt(ss));
        float first = a[0];
        ASSERT_OK(vec_normalize(a, n));
        ASSERT_NEAR(a[0], first / sqrt(ss), 1e-6);
        double s2 = 0;
        for (size_t i = 0; i < n; i++) s2 += (double)a[i] * a[i];
        ASSERT_NEAR(s2, 1.0, 1e-5);
    }
}

TEST(normalize_rejects_zero_and_nonfinite)
{
    float z[5] = { 0, 0, 0, 0, 0 };
    ASSERT_EQ_INT(vec_normalize(z, 5), ERR_INVAL);
    ASSERT_EQ_INT(z[0], 0);
    float bad[3] = { 1, NAN, 2 };
    ASSERT_EQ_INT(vec_normalize(bad, 3), ERR_INVAL);
    ASSERT_EQ_INT(bad[0], 1); /* untouched */
    float inf[3] = { 1, INFINITY, 2 };
    ASSERT_EQ_INT(vec_normalize(inf, 3), ERR_INVAL);
    ASSERT_TRUE(!vec_is_finite(bad, 3));
    ASSERT_TRUE(!vec_is_finite(inf, 3));
    float ok[3] = { 1, -2, 3e30f };
    ASSERT_TRUE(vec_is_finite(ok, 3));
    /* Large components whose float sum of squares would overflow. */
    ASSERT_OK(vec_normalize(ok, 3));
    ASSERT_NEAR(ok[2], 1.0, 1e-6);
}

TEST(backend_is_named)
{
    const char *b = vec_backend();
    ASSERT_TRUE(!strcmp(b, "avx2+fma") || !strcmp(b, "neon") || !strcmp(b, "scalar"));
    printf("  kernels: %s (cpu %s)\n", b, cpu_describe());
    const char *force = getenv("VITRINE_VEC");
    if (force && !strcmp(force, "scalar")) {
        ASSERT_STR_EQ(b, "scalar");
        return;
    }
    /* The architecture's SIMD kernels are the ones in use where the CPU
     * has them: NEON always on AArch64, AVX2 + FMA where the x86 CPU says so. */
#if VEC_HAVE_NEON
    ASSERT_STR_EQ(b, "neon");
#else
    ASSERT_STR_EQ(b, cpu_has(CPU_AVX2) ? "avx2+fma" : "scalar");
#endif
}

#if VEC_HAVE_NEON
/* The NEON kernels called directly, against the scalar reference kernels
 * on every length (so every tail) and on values with cancellation. */
TEST(neon_kernels_match_scalar)
{
    for (size_t li = 0; li < ARRAY_LEN(lens); li++) {
        size_t n = lens[li];
        float *a = buf_a + 1, *b = buf_b + 1;
        double cond = 0, l2 = 0, l1 = 0;
        for (size_t i = 0; i < n; i++) {
            a[i] = frand() * 4;
            b[i] = frand() * 4;
            cond += fabs((double)a[i] * b[i]);
            l2 += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
            l1 += fabs((double)a[i] - b[i]);
        }
        ASSERT_NEAR(vec_dot_neon(a, b, n), vec_dot_scalar(a, b, n), 1e-5 * cond + 1e-30);
        ASSERT_NEAR(vec_l2sq_neon(a, b, n), vec_l2sq_scalar(a, b, n), 1e-5 * l2 + 1e-30);
        ASSERT_NEAR(vec_l1_neon(a, b, n), vec_l1_scalar(a, b, n), 1e-5 * l1 + 1e-30);
    }
}
#endif

int main(void)
{
    RUN(dot_matches_double_reference);
    RUN(l2sq_matches_double_reference);
    RUN(l1_matches_double_reference);
    RUN(norm_and_normalize);
    RUN(normalize_rejects_zero_and_nonfinite);
    RUN(backend_is_named);
#if VEC_HAVE_NEON
    RUN(neon_kernels_match_scalar);
#endif
    return harness_report(__FILE__);
}
