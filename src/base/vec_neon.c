/*
 * vec_neon.c - float32 vector kernels in AArch64 Advanced SIMD (NEON).
 *
 * Design: NEON is part of the base AArch64 ISA, so these need no target
 * attribute and no run-time check; vec.c uses them whenever the binary is
 * built for AArch64 (VITRINE_VEC=scalar still forces the reference).
 * Like the AVX2 kernels they keep four independent accumulators: an FMLA
 * has a latency of 4 cycles on Cortex-A76/Neoverse N1 class cores and two
 * issue per cycle, so one accumulator would leave the pipes idle. Here a
 * register holds 4 floats, so a step is 16 floats; 512-d CLIP vectors are
 * 32 steps with no tail. Horizontal sums use FADDP (vaddvq_f32) once per
 * call. Loads are unaligned (vld1q_f32 has no alignment requirement).
 */
#include "base/vec_neon.h"

#if VEC_HAVE_NEON
#include <arm_neon.h>
#include <math.h>

float vec_dot_neon(const float *a, const float *b, size_t n)
{
    float32x4_t s0 = vdupq_n_f32(0), s1 = vdupq_n_f32(0);
    float32x4_t s2 = vdupq_n_f32(0), s3 = vdupq_n_f32(0);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = vfmaq_f32(s0, vld1q_f32(a + i), vld1q_f32(b + i));
        s1 = vfmaq_f32(s1, vld1q_f32(a + i + 4), vld1q_f32(b + i + 4));
        s2 = vfmaq_f32(s2, vld1q_f32(a + i + 8), vld1q_f32(b + i + 8));
        s3 = vfmaq_f32(s3, vld1q_f32(a + i + 12), vld1q_f32(b + i + 12));
    }
    for (; i + 4 <= n; i += 4) s0 = vfmaq_f32(s0, vld1q_f32(a + i), vld1q_f32(b + i));
    float s = vaddvq_f32(vaddq_f32(vaddq_f32(s0, s1), vaddq_f32(s2, s3)));
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

float vec_l2sq_neon(const float *a, const float *b, size_t n)
{
    float32x4_t s0 = vdupq_n_f32(0), s1 = vdupq_n_f32(0);
    float32x4_t s2 = vdupq_n_f32(0), s3 = vdupq_n_f32(0);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        float32x4_t d0 = vsubq_f32(vld1q_f32(a + i), vld1q_f32(b + i));
        float32x4_t d1 = vsubq_f32(vld1q_f32(a + i + 4), vld1q_f32(b + i + 4));
        float32x4_t d2 = vsubq_f32(vld1q_f32(a + i + 8), vld1q_f32(b + i + 8));
        float32x4_t d3 = vsubq_f32(vld1q_f32(a + i + 12), vld1q_f32(b + i + 12));
        s0 = vfmaq_f32(s0, d0, d0);
        s1 = vfmaq_f32(s1, d1, d1);
        s2 = vfmaq_f32(s2, d2, d2);
        s3 = vfmaq_f32(s3, d3, d3);
    }
    for (; i + 4 <= n; i += 4) {
        float32x4_t d = vsubq_f32(vld1q_f32(a + i), vld1q_f32(b + i));
        s0 = vfmaq_f32(s0, d, d);
    }
    float s = vaddvq_f32(vaddq_f32(vaddq_f32(s0, s1), vaddq_f32(s2, s3)));
    for (; i < n; i++) {
        float d = a[i] - b[i];
        s += d * d;
    }
    return s;
}

/* |a - b| is one instruction (FABD). */
float vec_l1_neon(const float *a, const float *b, size_t n)
{
    float32x4_t s0 = vdupq_n_f32(0), s1 = vdupq_n_f32(0);
    float32x4_t s2 = vdupq_n_f32(0), s3 = vdupq_n_f32(0);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        s0 = vaddq_f32(s0, vabdq_f32(vld1q_f32(a + i), vld1q_f32(b + i)));
        s1 = vaddq_f32(s1, vabdq_f32(vld1q_f32(a + i + 4), vld1q_f32(b + i + 4)));
        s2 = vaddq_f32(s2, vabdq_f32(vld1q_f32(a + i + 8), vld1q_f32(b + i + 8)));
        s3 = vaddq_f32(s3, vabdq_f32(vld1q_f32(a + i + 12), vld1q_f32(b + i + 12)));
    }
    for (; i + 4 <= n; i += 4) s0 = vaddq_f32(s0, vabdq_f32(vld1q_f32(a + i), vld1q_f32(b + i)));
    float s = vaddvq_f32(vaddq_f32(vaddq_f32(s0, s1), vaddq_f32(s2, s3)));
    for (; i < n; i++) s += fabsf(a[i] - b[i]);
    return s;
}
#else
/* ISO C wants a translation unit to declare something. */
typedef int vec_neon_unused;
#endif
