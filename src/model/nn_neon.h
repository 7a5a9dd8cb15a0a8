/*
 * nn_neon.h - AArch64 NEON versions of nn.c's hand-written kernels, for
 * nn.c's dispatch and the tests. Declared on AArch64 only: elsewhere
 * nn_neon.c compiles to nothing.
 */
#ifndef VITRINE_NN_NEON_H
#define VITRINE_NN_NEON_H

#if defined(__aarch64__)
#define NN_HAVE_NEON 1
/*
 * nn_weighted_sum_neon: out row i (width floats) = sum over j < n(i) of
 * p[i][j] * v row j, where n(i) = i + 1 when causal, else cols (the
 * attention's probabilities times V; nn.c's nn_weighted_sum contract).
 */
void nn_weighted_sum_neon(const float *p, int ldp, int rows, int cols, int causal, const float *v,
                          int ldv, int width, float *out, int ldo);

#include <arm_neon.h>

/*
 * nn_exp16_neon is nn.c's nn_exp_block (y[i] = exp(x[i]) for 16 floats,
 * Cephes' expf with the same clamps and polynomial) in NEON, four lanes
 * at a time: GCC 12 does not vectorise the scalar block for AArch64 even
 * at -O3 (it does for x86). Inline, since it runs per 16 floats of every
 * softmax and activation. The rounding step uses a fused multiply-add, so
 * a result may differ from the scalar block's in the last bit.
 */
static inline void nn_exp16_neon(const float *restrict x, float *restrict y)
{
    for (int i = 0; i < 16; i += 4) {
        float32x4_t v = vld1q_f32(x + i);
        v = vminq_f32(v, vdupq_n_f32(88.3762626647949f));
        v = vmaxq_f32(v, vdupq_n_f32(-87.3365478515625f));
        /* Round to nearest via the 1.5 * 2^23 trick. */
        float32x4_t t = vfmaq_n_f32(vdupq_n_f32(12582912.0f), v, 1.44269504088896341f);
        float32x4_t n = vsubq_f32(t, vdupq_n_f32(12582912.0f));
        float32x4_t r = vfmsq_n_f32(v, n, 0.693359375f);
        r = vfmsq_n_f32(r, n, -2.12194440e-4f);
        float32x4_t p = vdupq_n_f32(1.9875691500e-4f);
        p = vfmaq_f32(vdupq_n_f32(1.3981999507e-3f), p, r);
        p = vfmaq_f32(vdupq_n_f32(8.3334519073e-3f), p, r);
        p = vfmaq_f32(vdupq_n_f32(4.1665795894e-2f), p, r);
        p = vfmaq_f32(vdupq_n_f32(1.6666665459e-1f), p, r);
        p = vfmaq_f32(vdupq_n_f32(5.0000001201e-1f), p, r);
        /* p * r * r + r + 1 */
        p = vaddq_f32(vfmaq_f32(r, vmulq_f32(p, r), r), vdupq_n_f32(1.0f));
        int32x4_t e = vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127)), 23);
        vst1q_f32(y + i, vmulq_f32(p, vreinterpretq_f32_s32(e)));
    }
}
#else
#define NN_HAVE_NEON 0
#endif

#endif
