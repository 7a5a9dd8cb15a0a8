/*
 * quant_neon.c - quant.h's byte kernels (sum a[i] * b[i] and
 * sum |a[i] - b[i]| over u8 codes) in AArch64 Advanced SIMD.
 *
 * Design: every kernel is integer arithmetic that cannot overflow its
 * lanes for any u8 input (not only codes in 0..127), so each returns the
 * scalar reference's int32 exactly; tails shorter than a step run the
 * scalar loop.
 *
 * - NEON (base ARMv8.0, every AArch64 core, no check needed): UMULL /
 *   UMULL2 multiply 16 byte pairs into u16 (255 * 255 fits) and UADALP
 *   adds adjacent u16 pairs into u32 accumulators; L1 takes UABD (byte
 *   absolute differences), UADALP into u16 lanes (at most 2 * 255 per
 *   step, so flushed into u32 every NEON_L1_FLUSH steps) and widens once.
 * - DOTPROD (ARMv8.2 FEAT_DotProd: Cortex-A55/A76 and later, Neoverse):
 *   UDOT adds 4 byte products into each of 4 u32 lanes, 16 multiply-adds
 *   per instruction against 8 (UMULL pair + UADALP pair, four
 *   instructions) for the base kernel: an instruction count, not a
 *   measurement (no ARM hardware was at hand). L1 is UABD then UDOT
 *   against ones, which widens and sums in one instruction. Compiled with
 *   a target attribute (QUANT_DOTPROD) and called only where
 *   cpu_has(CPU_DOTPROD).
 *
 * Two independent accumulators per kernel keep a second chain in flight
 * (UDOT and UADALP latencies are 3-4 cycles on A76-class cores).
 */
#include "index/quant_neon.h"

#if QUANT_HAVE_NEON
#include <arm_neon.h>

/* Base-kernel L1 steps of 16 bytes between flushes of the u16 lanes:
 * each step adds at most 2 * 255, and 64 * 510 = 32640 < 65536. */
#define NEON_L1_FLUSH 64

/* GCC's arm_neon.h declares the UDOT intrinsics under
 * "arch=armv8.2-a+dotprod", and a function may inline them only with the
 * same or more ("+dotprod" alone on armv8-a fails to inline). FEAT_DotProd
 * is an ARMv8.2 feature, so a CPU that reports it runs ARMv8.2 code. */
#define QUANT_DOTPROD __attribute__((target("arch=armv8.2-a+dotprod")))

static int32_t dot_tail(const uint8_t *a, const uint8_t *b, size_t i, size_t n)
{
    int32_t s = 0;
    for (; i < n; i++) s += (int32_t)a[i] * (int32_t)b[i];
    return s;
}

static int32_t l1_tail(const uint8_t *a, const uint8_t *b, size_t i, size_t n)
{
    int32_t s = 0;
    for (; i < n; i++) s += a[i] > b[i] ? a[i] - b[i] : b[i] - a[i];
    return s;
}

int32_t quant_dot_neon(const uint8_t *a, const uint8_t *b, size_t n)
{
    uint32x4_t s0 = vdupq_n_u32(0), s1 = vdupq_n_u32(0);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        uint8x16_t x = vld1q_u8(a + i), y = vld1q_u8(b + i);
        s0 = vpadalq_u16(s0, vmull_u8(vget_low_u8(x), vget_low_u8(y)));
        s1 = vpadalq_u16(s1, vmull_high_u8(x, y));
    }
    return (int32_t)vaddvq_u32(vaddq_u32(s0, s1)) + dot_tail(a, b, i, n);
}

int32_t quant_l1_neon(const uint8_t *a, const uint8_t *b, size_t n)
{
    uint32x4_t s = vdupq_n_u32(0);
    size_t i = 0;
    while (i + 16 <= n) {
        uint16x8_t h0 = vdupq_n_u16(0), h1 = vdupq_n_u16(0);
        for (int step = 0; step < NEON_L1_FLUSH && i + 32 <= n; step += 2, i += 32) {
            h0 = vpadalq_u8(h0, vabdq_u8(vld1q_u8(a + i), vld1q_u8(b + i)));
            h1 = vpadalq_u8(h1, vabdq_u8(vld1q_u8(a + i + 16), vld1q_u8(b + i + 16)));
        }
        if (i + 32 > n && i + 16 <= n) {
            h0 = vpadalq_u8(h0, vabdq_u8(vld1q_u8(a + i), vld1q_u8(b + i)));
            i += 16;
        }
        s = vpadalq_u16(s, h0);
        s = vpadalq_u16(s, h1);
    }
    return (int32_t)vaddvq_u32(s) + l1_tail(a, b, i, n);
}

QUANT_DOTPROD int32_t quant_dot_dotprod(const uint8_t *a, const uint8_t *b, size_t n)
{
    uint32x4_t s0 = vdupq_n_u32(0), s1 = vdupq_n_u32(0);
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = vdotq_u32(s0, vld1q_u8(a + i), vld1q_u8(b + i));
        s1 = vdotq_u32(s1, vld1q_u8(a + i + 16), vld1q_u8(b + i + 16));
    }
    if (i + 16 <= n) {
        s0 = vdotq_u32(s0, vld1q_u8(a + i), vld1q_u8(b + i));
        i += 16;
    }
    return (int32_t)vaddvq_u32(vaddq_u32(s0, s1)) + dot_tail(a, b, i, n);
}

QUANT_DOTPROD int32_t quant_l1_dotprod(const uint8_t *a, const uint8_t *b, size_t n)
{
    const uint8x16_t ones = vdupq_n_u8(1);
    uint32x4_t s0 = vdupq_n_u32(0), s1 = vdupq_n_u32(0);
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = vdotq_u32(s0, vabdq_u8(vld1q_u8(a + i), vld1q_u8(b + i)), ones);
        s1 = vdotq_u32(s1, vabdq_u8(vld1q_u8(a + i + 16), vld1q_u8(b + i + 16)), ones);
    }
    if (i + 16 <= n) {
        s0 = vdotq_u32(s0, vabdq_u8(vld1q_u8(a + i), vld1q_u8(b + i)), ones);
        i += 16;
    }
    return (int32_t)vaddvq_u32(vaddq_u32(s0, s1)) + l1_tail(a, b, i, n);
}

#endif
