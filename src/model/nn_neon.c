/*
 * nn_neon.c - AArch64 NEON versions of nn.c's hand-written kernels.
 *
 * Which kernels exist here, and why only these (docs/arm64.md):
 *
 * - GEMMs go to OpenBLAS on AArch64 at every size. Debian's arm64
 *   OpenBLAS is built with DYNAMIC_ARCH and picks a NEON (or SVE) sgemm
 *   kernel tuned for the core at run time (Cortex-A53/A57/A72/A76,
 *   Neoverse N1/N2/V1, ...). nn.c's skinny kernel exists because on x86
 *   OpenBLAS's packing of the weight cost as much as the arithmetic for a
 *   few rows; whether that holds on a given ARM core can only be measured
 *   on one (`vitrine bench embed` prints the rate), and none was at hand.
 *
 * - The attention's probabilities-times-V product (nn_weighted_sum) is
 *   register-blocked here as nn.c's AVX-512 version is: the generic
 *   version (which GCC vectorises for NEON on its own) runs one chain of
 *   dependent FMLAs per 16 columns and waits on their latency; this one
 *   keeps two rows by 32 columns in 16 accumulators (of NEON's 32
 *   registers, the 8 loaded V vectors taking 8 more), so each loaded V
 *   vector feeds two FMLAs and no FMLA waits on the one before.
 *
 * - The exp block of softmax and quick_gelu is nn_exp16_neon (inline, in
 *   nn_neon.h): GCC 12 vectorises nn.c's scalar block for x86 but not for
 *   AArch64, even at -O3. The other element-wise loops (layernorm, the
 *   scaling around the exp) are left to GCC's -O2 vectorisation; NEON is
 *   part of the base AArch64 ISA, so no target attribute or clone is needed.
 *
 * NEON needs no run-time check; the ARMv8.2+ extensions (dotprod, i8mm,
 * bf16) would, through base/cpu.h, for reduced-precision kernels.
 */
#include "model/nn_neon.h"

#if NN_HAVE_NEON
#include <arm_neon.h>
#include <stddef.h>

/* Columns per register-blocked pass: 8 NEON registers of 4 floats. */
#define NN_NEON_WS_COLS 32

/*
 * nn_ws_rows32 accumulates sum over j < n of p0[j] * v[j][0..32) into o0
 * and, when mr == 2, sum over j < n1 (n1 >= n) of p1[j] * v[j][0..32)
 * into o1.
 */
static inline void nn_ws_rows32(const float *p0, const float *p1, int n, int n1, const float *v,
                                int ldv, float *o0, float *o1, int mr)
{
    float32x4_t a0[8], a1[8];
    for (int c = 0; c < 8; c++) a0[c] = a1[c] = vdupq_n_f32(0.0f);
    int j = 0;
    for (; j < n; j++) {
        const float *vr = v + (size_t)j * ldv;
        float32x4_t vv[8];
        for (int c = 0; c < 8; c++) vv[c] = vld1q_f32(vr + 4 * c);
        for (int c = 0; c < 8; c++) a0[c] = vfmaq_n_f32(a0[c], vv[c], p0[j]);
        if (mr == 2)
            for (int c = 0; c < 8; c++) a1[c] = vfmaq_n_f32(a1[c], vv[c], p1[j]);
    }
    if (mr == 2)
        for (; j < n1; j++) {
            const float *vr = v + (size_t)j * ldv;
            for (int c = 0; c < 8; c++) a1[c] = vfmaq_n_f32(a1[c], vld1q_f32(vr + 4 * c), p1[j]);
        }
    for (int c = 0; c < 8; c++) vst1q_f32(o0 + 4 * c, a0[c]);
    if (mr == 2)
        for (int c = 0; c < 8; c++) vst1q_f32(o1 + 4 * c, a1[c]);
}

/* nn_ws_cols4 is one row's 4 columns at d: two chains (even and odd j)
 * halve the wait on the FMLA latency. */
static inline void nn_ws_cols4(const float *pr, int n, const float *v, int ldv, float *o)
{
    float32x4_t a0 = vdupq_n_f32(0.0f), a1 = vdupq_n_f32(0.0f);
    int j = 0;
    for (; j + 1 < n; j += 2) {
        a0 = vfmaq_n_f32(a0, vld1q_f32(v + (size_t)j * ldv), pr[j]);
        a1 = vfmaq_n_f32(a1, vld1q_f32(v + (size_t)(j + 1) * ldv), pr[j + 1]);
    }
    if (j < n) a0 = vfmaq_n_f32(a0, vld1q_f32(v + (size_t)j * ldv), pr[j]);
    vst1q_f32(o, vaddq_f32(a0, a1));
}

void nn_weighted_sum_neon(const float *p, int ldp, int rows, int cols, int causal, const float *v,
                          int ldv, int width, float *out, int ldo)
{
    for (int i = 0; i < rows; i += 2) {
        int mr = i + 1 < rows ? 2 : 1;
        const float *p0 = p + (size_t)i * ldp, *p1 = p0 + (mr == 2 ? ldp : 0);
        float *o0 = out + (size_t)i * ldo, *o1 = o0 + (mr == 2 ? ldo : 0);
        int n0 = causal && i + 1 < cols ? i + 1 : cols;
        int n1 = causal && i + 2 < cols ? i + 2 : cols;
        int d = 0;
        for (; d + NN_NEON_WS_COLS <= width; d += NN_NEON_WS_COLS)
            nn_ws_rows32(p0, p1, n0, mr == 2 ? n1 : n0, v + d, ldv, o0 + d, o1 + d, mr);
        for (; d + 4 <= width; d += 4) {
            nn_ws_cols4(p0, n0, v + d, ldv, o0 + d);
            if (mr == 2) nn_ws_cols4(p1, n1, v + d, ldv, o1 + d);
        }
        /* A width that is no multiple of 4 (no CLIP head has one). */
        for (; d < width; d++)
            for (int r = 0; r < mr; r++) {
                const float *pr = r ? p1 : p0;
                int n = r ? n1 : n0;
                float acc = 0.0f;
                for (int j = 0; j < n; j++) acc += pr[j] * v[(size_t)j * ldv + d];
                (r ? o1 : o0)[d] = acc;
            }
    }
}
#else
/* ISO C wants a translation unit to declare something. */
typedef int nn_neon_unused;
#endif
