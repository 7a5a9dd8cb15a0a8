/*
 * nn_quant_neon.c - the int8 and bf16 GEMM kernels for AArch64 (see
 * nn_quant_kern.h for the tile contract, nn_quant.h for the formats).
 *
 * Every kernel gives the scalar reference's bits: the int8 ones compute
 * acc[i][c] = sum_k a[i][k] * w[c][k] exactly in int32 (u8 codes times s8
 * weights), the bf16 ones add each exact product into one float32 per
 * output in the scalar order (per k pair, the odd k, then the even one)
 * with one rounding per addition.
 *
 * The packed weights need no other layout: one 16-byte load at group g of
 * a block holds 4 outputs x 4 k (int8) or 4 outputs x one k pair (bf16),
 * and one 16-byte load of an activation row holds 4 groups, which the
 * by-element forms of the instructions broadcast lane by lane. A kernel
 * works a block (16 outputs, or half of one) at a time on 2 to 4 rows,
 * what keeps its accumulators and operands in the 32 vector registers
 * without spills (checked in GCC 12's output).
 *
 * int8:
 * - NEON (base ARMv8.0, every AArch64 core): codes and weights widened to
 *   int16, SMLAL / SMLAL2 multiply-add 4 products into 4 int32 lanes that
 *   each follow one k of the group; the 4 lanes of an output are added
 *   once per tile (ADDP). 4 multiply-adds per instruction.
 * - dotprod (ARMv8.2 FEAT_DotProd): SDOT multiplies signed bytes only, and
 *   codes are u8. So the codes are shifted to a - 128 (an XOR of the top
 *   bit gives that signed byte) and 128 * sum_k w[c][k] is added back,
 *   the column sums coming from SDOT against ones in the same pass over
 *   the weights; all of it modular int32, so exact. 16 multiply-adds per
 *   SDOT (and one SDOT per 4 outputs per group for the sums, once per
 *   call for all its rows).
 * - i8mm (ARMv8.6 FEAT_I8MM): USMMLA multiplies a 2 x 8 u8 matrix (two
 *   rows' codes) by an 8 x 2 s8 one (two outputs' weights) into a 2 x 2
 *   int32 block: 32 multiply-adds per instruction, no offset. ZIP1/ZIP2
 *   of two groups' weight vectors make the 8 x 2 operands.
 * These are instruction counts, not measurements: no ARM hardware was at
 * hand, and qemu's timings say nothing about a real core.
 *
 * bf16:
 * - NEON: as the x86 AVX2 kernel, each bf16 widened to float32 by a mask
 *   (the high half, odd k) or a shift (the low half, even k), then FMLA
 *   by element; a product of two bf16 is exact in float32, so the FMA
 *   rounds once, as the scalar addition does.
 * - bf16 (ARMv8.6 FEAT_BF16): BFMLALT and BFMLALB do the widening and the
 *   fused multiply-add of the odd and the even k in one instruction each
 *   (IEEE rounding under FPCR, as FMLA). BFDOT would do both in one, but
 *   it rounds its pair sum in a way of its own (and flushes denormals),
 *   so it would not give the scalar bits: not used.
 *
 * The extension kernels are compiled with target attributes (the arch
 * level GCC's arm_neon.h declares their intrinsics under) and returned
 * only where cpu_has() finds the feature.
 */
#include "model/nn_quant_neon.h"

#if defined(__aarch64__) && defined(__GNUC__)
#include <arm_neon.h>
#include <string.h>

#include "base/cpu.h"

/* Rows per inner tile: 4 rows x 16 outputs are 16 accumulators. */
#define NN_NEON_ROWS 4
/* GCC 12's arm_neon.h declares these intrinsics under these arch levels,
 * and a function can inline them only with the same (or more). */
#define NN_DOTPROD __attribute__((target("arch=armv8.2-a+dotprod")))
#define NN_I8MM __attribute__((target("arch=armv8.2-a+i8mm")))
#define NN_BF16 __attribute__((target("arch=armv8.2-a+bf16")))
#define NN_INLINE __attribute__((always_inline)) static inline
/* The loops over rows and vectors below carry "GCC unroll" pragmas, as the
 * x86 kernels do: once unrolled (the row count a constant of each inlined
 * copy) the accumulator arrays live in registers, not on the stack. */

/* The reduction is padded to NN_Q_KPAD k (nn_quant_kern.h), so every
 * row holds whole 16-byte loads: 4 int8 groups, 4 bf16 pairs, and an even
 * group count for USMMLA's 8 k. */
_Static_assert(NN_Q_KPAD % 16 == 0, "the NEON kernels load 16 k at a time");

/* ---- int8, base NEON ---- */

/* Rows per base-NEON tile: each output keeps 4 lanes (one per k of the
 * group), so 2 rows x 8 outputs are the 16 accumulators. */
#define NN_I8_NEON_ROWS 2
#define NN_I8_NEON_COLS 8

/* Rows [0, mb) (mb <= 2) by the 8 outputs at wh (half a block): c[i][q]
 * holds output q's 4 partial sums, one per k of the group. */
NN_INLINE void nn_i8_neon_tile(const uint8_t *a, size_t lda, int mb, const int8_t *wh, int kg,
                               int32_t *acc)
{
    int32x4_t c[NN_I8_NEON_ROWS][NN_I8_NEON_COLS];
    #pragma GCC unroll 8
    for (int i = 0; i < mb; i++)
        #pragma GCC unroll 8
        for (int q = 0; q < NN_I8_NEON_COLS; q++) c[i][q] = vdupq_n_s32(0);
    for (int g = 0; g < kg; g++) {
        int16x8_t av[NN_I8_NEON_ROWS];
        #pragma GCC unroll 8
        for (int i = 0; i < mb; i++) {
            uint32_t v;
            memcpy(&v, a + (size_t)i * lda + (size_t)g * 4, 4);
            /* The 4 codes twice: 0..255 widened to int16. */
            av[i] = vreinterpretq_s16_u16(vmovl_u8(vreinterpret_u8_u32(vdup_n_u32(v))));
        }
        const int8_t *wg = wh + (size_t)g * NN_Q_BLOCK * 4;
        #pragma GCC unroll 8
        for (int h = 0; h < 2; h++) {
            /* 4 outputs x 4 k, widened: outputs 0-1 in lo, 2-3 in hi. */
            int8x16_t w = vld1q_s8(wg + h * 16);
            int16x8_t lo = vmovl_s8(vget_low_s8(w)), hi = vmovl_high_s8(w);
            #pragma GCC unroll 8
            for (int i = 0; i < mb; i++) {
                int32x4_t *ci = c[i] + h * 4;
                ci[0] = vmlal_s16(ci[0], vget_low_s16(lo), vget_low_s16(av[i]));
                ci[1] = vmlal_high_s16(ci[1], lo, av[i]);
                ci[2] = vmlal_s16(ci[2], vget_low_s16(hi), vget_low_s16(av[i]));
                ci[3] = vmlal_high_s16(ci[3], hi, av[i]);
            }
        }
    }
    #pragma GCC unroll 8
    for (int i = 0; i < mb; i++)
        #pragma GCC unroll 8
        for (int h = 0; h < 2; h++) {
            const int32x4_t *ci = c[i] + h * 4;
            int32x4_t s = vpaddq_s32(vpaddq_s32(ci[0], ci[1]), vpaddq_s32(ci[2], ci[3]));
            vst1q_s32(acc + i * NN_Q_TILE_N + h * 4, s);
        }
}

static void nn_i8_neon(const uint8_t *a, size_t lda, int mb, const int8_t *w, size_t wblock,
                       int kg, int32_t *acc)
{
    for (int b = 0; b < NN_Q_PANEL; b++)
        for (int half = 0; half < NN_Q_BLOCK / NN_I8_NEON_COLS; half++)
            for (int i0 = 0; i0 < mb; i0 += NN_I8_NEON_ROWS) {
                const uint8_t *ai = a + (size_t)i0 * lda;
                const int8_t *wh = w + b * wblock + half * NN_I8_NEON_COLS * 4;
                int32_t *ci = acc + i0 * NN_Q_TILE_N + b * NN_Q_BLOCK + half * NN_I8_NEON_COLS;
                if (mb - i0 >= 2)
                    nn_i8_neon_tile(ai, lda, 2, wh, kg, ci);
                else
                    nn_i8_neon_tile(ai, lda, 1, wh, kg, ci);
            }
}

/* ---- int8, dotprod ---- */

/* Rows per SDOT tile: with 4, GCC 12 hoists the 4 steps' weight loads and
 * spills accumulators inside the loop; 3 rows (12 accumulators) do not. */
#define NN_SDOT_ROWS 3

/* One SDOT step: lane t of each row's 16 codes (group g + t) times the
 * block's 4 weight vectors of group g + t. */
#define NN_SDOT_STEP(t)                                                                \
    do {                                                                               \
        const int8_t *wt = wb + (size_t)(g + (t)) * NN_Q_BLOCK * 4;                    \
        int8x16_t w0 = vld1q_s8(wt), w1 = vld1q_s8(wt + 16), w2 = vld1q_s8(wt + 32), \
                  w3 = vld1q_s8(wt + 48);                                              \
        _Pragma("GCC unroll 8")                                                        \
        for (int i = 0; i < mb; i++) {                                                 \
            c[i][0] = vdotq_laneq_s32(c[i][0], w0, av[i], (t));                        \
            c[i][1] = vdotq_laneq_s32(c[i][1], w1, av[i], (t));                        \
            c[i][2] = vdotq_laneq_s32(c[i][2], w2, av[i], (t));                        \
            c[i][3] = vdotq_laneq_s32(c[i][3], w3, av[i], (t));                        \
        }                                                                              \
    } while (0)

/* Rows [0, mb) (mb <= 3) by the block at wb; ws[j]: 128 * the column sums. */
NN_DOTPROD NN_INLINE void nn_i8_sdot_tile(const uint8_t *a, size_t lda, int mb, const int8_t *wb,
                                          int kg, const int32x4_t *ws, int32_t *acc)
{
    const uint8x16_t top = vdupq_n_u8(0x80);
    int32x4_t c[NN_SDOT_ROWS][4];
    #pragma GCC unroll 8
    for (int i = 0; i < mb; i++)
        #pragma GCC unroll 8
        for (int j = 0; j < 4; j++) c[i][j] = ws[j];
    for (int g = 0; g < kg; g += 4) {
        /* a - 128 as a signed byte: the top bit flipped. */
        int8x16_t av[NN_SDOT_ROWS];
        #pragma GCC unroll 8
        for (int i = 0; i < mb; i++) {
            uint8x16_t u = vld1q_u8(a + (size_t)i * lda + (size_t)g * 4);
            av[i] = vreinterpretq_s8_u8(veorq_u8(u, top));
        }
        NN_SDOT_STEP(0);
        NN_SDOT_STEP(1);
        NN_SDOT_STEP(2);
        NN_SDOT_STEP(3);
    }
    #pragma GCC unroll 8
    for (int i = 0; i < mb; i++)
        #pragma GCC unroll 8
        for (int j = 0; j < 4; j++) vst1q_s32(acc + i * NN_Q_TILE_N + j * 4, c[i][j]);
}

NN_DOTPROD static void nn_i8_dotprod(const uint8_t *a, size_t lda, int mb, const int8_t *w,
                                     size_t wblock, int kg, int32_t *acc)
{
    const int8x16_t ones = vdupq_n_s8(1);
    for (int b = 0; b < NN_Q_PANEL; b++) {
        const int8_t *wb = w + b * wblock;
        /* 128 * sum_k w[c][k] per output, which a * w = (a - 128) * w +
         * 128 * w adds back. */
        int32x4_t ws[4] = { vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0) };
        for (int g = 0; g < kg; g++)
            #pragma GCC unroll 8
            for (int j = 0; j < 4; j++)
                ws[j] = vdotq_s32(ws[j], vld1q_s8(wb + (size_t)g * NN_Q_BLOCK * 4 + j * 16), ones);
        #pragma GCC unroll 8
        for (int j = 0; j < 4; j++) ws[j] = vshlq_n_s32(ws[j], 7);
        for (int i0 = 0; i0 < mb; i0 += NN_SDOT_ROWS) {
            const uint8_t *ai = a + (size_t)i0 * lda;
            int32_t *ci = acc + i0 * NN_Q_TILE_N + b * NN_Q_BLOCK;
            switch (mb - i0 < NN_SDOT_ROWS ? mb - i0 : NN_SDOT_ROWS) {
            case 3: nn_i8_sdot_tile(ai, lda, 3, wb, kg, ws, ci); break;
            case 2: nn_i8_sdot_tile(ai, lda, 2, wb, kg, ws, ci); break;
            default: nn_i8_sdot_tile(ai, lda, 1, wb, kg, ws, ci); break;
            }
        }
    }
}

/* ---- int8, i8mm ---- */

/* Rows [0, 2) (the second a copy of the first when mb is 1) by the block
 * at wb: c[j] holds, for outputs 2j and 2j + 1, the 2 x 2 block
 * (row 0: out 2j, 2j + 1; row 1: out 2j, 2j + 1). */
NN_I8MM NN_INLINE void nn_i8_mmla_tile(const uint8_t *a0, const uint8_t *a1, const int8_t *wb,
                                       int kg, int32_t *acc0, int32_t *acc1)
{
    int32x4_t c[8];
    #pragma GCC unroll 8
    for (int j = 0; j < 8; j++) c[j] = vdupq_n_s32(0);
    for (int g = 0; g < kg; g += 2) {
        /* 8 k of both rows: the 2 x 8 u8 operand. */
        uint8x16_t av = vcombine_u8(vld1_u8(a0 + (size_t)g * 4), vld1_u8(a1 + (size_t)g * 4));
        const int8_t *w0 = wb + (size_t)g * NN_Q_BLOCK * 4, *w1 = w0 + NN_Q_BLOCK * 4;
        #pragma GCC unroll 8
        for (int v = 0; v < 4; v++) {
            /* Groups g and g + 1 of outputs 4v..4v+3, zipped by 32 bits
             * into 8 k of 2 outputs each: the 8 x 2 s8 operands. */
            int32x4_t x = vreinterpretq_s32_s8(vld1q_s8(w0 + v * 16));
            int32x4_t y = vreinterpretq_s32_s8(vld1q_s8(w1 + v * 16));
            c[2 * v] = vusmmlaq_s32(c[2 * v], av, vreinterpretq_s8_s32(vzip1q_s32(x, y)));
            c[2 * v + 1] = vusmmlaq_s32(c[2 * v + 1], av, vreinterpretq_s8_s32(vzip2q_s32(x, y)));
        }
    }
    /* Row 0 is the low half of each c, row 1 the high half. */
    #pragma GCC unroll 8
    for (int v = 0; v < 4; v++) {
        int64x2_t p = vreinterpretq_s64_s32(c[2 * v]), q = vreinterpretq_s64_s32(c[2 * v + 1]);
        vst1q_s32(acc0 + v * 4, vreinterpretq_s32_s64(vzip1q_s64(p, q)));
        if (acc1) vst1q_s32(acc1 + v * 4, vreinterpretq_s32_s64(vzip2q_s64(p, q)));
    }
}

NN_I8MM static void nn_i8_i8mm(const uint8_t *a, size_t lda, int mb, const int8_t *w,
                               size_t wblock, int kg, int32_t *acc)
{
    for (int b = 0; b < NN_Q_PANEL; b++) {
        const int8_t *wb = w + b * wblock;
        for (int i = 0; i < mb; i += 2) {
            const uint8_t *a0 = a + (size_t)i * lda;
            int32_t *c0 = acc + i * NN_Q_TILE_N + b * NN_Q_BLOCK;
            if (i + 1 < mb)
                nn_i8_mmla_tile(a0, a0 + lda, wb, kg, c0, c0 + NN_Q_TILE_N);
            else
                nn_i8_mmla_tile(a0, a0, wb, kg, c0, NULL);
        }
    }
}

/* ---- bf16, base NEON ---- */

/* Rows per bf16 tile: 3 rows x 4 vectors of accumulators, 8 widened
 * weight vectors and 6 widened activation vectors. */
#define NN_BF16_ROWS 3

/* One step: pair t of each row's 4 pairs (group g + t), odd k then even k. */
#define NN_BF16_FMA_STEP(t)                                                           \
    do {                                                                              \
        const uint32_t *wt = wb + (size_t)(g + (t)) * NN_Q_BLOCK;                     \
        float32x4_t wo[4], we[4];                                                     \
        _Pragma("GCC unroll 8")                                                       \
        for (int j = 0; j < 4; j++) {                                                 \
            uint32x4_t v = vld1q_u32(wt + j * 4);                                     \
            wo[j] = vreinterpretq_f32_u32(vandq_u32(v, hi_mask));                     \
            we[j] = vreinterpretq_f32_u32(vshlq_n_u32(v, 16));                        \
        }                                                                             \
        _Pragma("GCC unroll 8")                                                       \
        for (int i = 0; i < mb; i++)                                                  \
            _Pragma("GCC unroll 8")                                                   \
            for (int j = 0; j < 4; j++) {                                             \
                c[i][j] = vfmaq_laneq_f32(c[i][j], wo[j], ao[i], (t));                \
                c[i][j] = vfmaq_laneq_f32(c[i][j], we[j], ae[i], (t));                \
            }                                                                         \
    } while (0)

NN_INLINE void nn_bf16_fma_tile(const uint32_t *a, size_t lda, int mb, const uint32_t *wb, int kg,
                                float *acc)
{
    const uint32x4_t hi_mask = vdupq_n_u32(0xFFFF0000u);
    float32x4_t c[NN_BF16_ROWS][4];
    #pragma GCC unroll 8
    for (int i = 0; i < mb; i++)
        #pragma GCC unroll 8
        for (int j = 0; j < 4; j++) c[i][j] = vdupq_n_f32(0.0f);
    for (int g = 0; g < kg; g += 4) {
        float32x4_t ao[NN_BF16_ROWS], ae[NN_BF16_ROWS];
        #pragma GCC unroll 8
        for (int i = 0; i < mb; i++) {
            uint32x4_t p = vld1q_u32(a + (size_t)i * lda + g);
            ao[i] = vreinterpretq_f32_u32(vandq_u32(p, hi_mask));
            ae[i] = vreinterpretq_f32_u32(vshlq_n_u32(p, 16));
        }
        NN_BF16_FMA_STEP(0);
        NN_BF16_FMA_STEP(1);
        NN_BF16_FMA_STEP(2);
        NN_BF16_FMA_STEP(3);
    }
    #pragma GCC unroll 8
    for (int i = 0; i < mb; i++)
        #pragma GCC unroll 8
        for (int j = 0; j < 4; j++) vst1q_f32(acc + i * NN_Q_TILE_N + j * 4, c[i][j]);
}

static void nn_bf16_neon(const uint32_t *a, size_t lda, int mb, const uint32_t *w, size_t wblock,
                         int kg, float *acc)
{
    for (int b = 0; b < NN_Q_PANEL; b++)
        for (int i0 = 0; i0 < mb; i0 += NN_BF16_ROWS) {
            const uint32_t *ai = a + (size_t)i0 * lda, *wb = w + b * wblock;
            float *ci = acc + i0 * NN_Q_TILE_N + b * NN_Q_BLOCK;
            switch (mb - i0 < NN_BF16_ROWS ? mb - i0 : NN_BF16_ROWS) {
            case 3: nn_bf16_fma_tile(ai, lda, 3, wb, kg, ci); break;
            case 2: nn_bf16_fma_tile(ai, lda, 2, wb, kg, ci); break;
            default: nn_bf16_fma_tile(ai, lda, 1, wb, kg, ci); break;
            }
        }
}

/* ---- bf16, FEAT_BF16 ---- */

/* One step: pair t of each row (bf16 lanes 2t, even k, and 2t + 1, odd k)
 * times the 4 weight vectors (4 outputs x one pair each): BFMLALT takes
 * the odd k of each output, then BFMLALB the even. */
#define NN_BFMLAL_STEP(t)                                                                    \
    do {                                                                                     \
        const uint32_t *wt = wb + (size_t)(g + (t)) * NN_Q_BLOCK;                            \
        bfloat16x8_t w0 = vreinterpretq_bf16_u32(vld1q_u32(wt));                             \
        bfloat16x8_t w1 = vreinterpretq_bf16_u32(vld1q_u32(wt + 4));                         \
        bfloat16x8_t w2 = vreinterpretq_bf16_u32(vld1q_u32(wt + 8));                         \
        bfloat16x8_t w3 = vreinterpretq_bf16_u32(vld1q_u32(wt + 12));                        \
        _Pragma("GCC unroll 8")                                                              \
        for (int i = 0; i < mb; i++) {                                                       \
            c[i][0] = vbfmlalbq_laneq_f32(vbfmlaltq_laneq_f32(c[i][0], w0, av[i], 2 * (t) + 1), \
                                          w0, av[i], 2 * (t));                               \
            c[i][1] = vbfmlalbq_laneq_f32(vbfmlaltq_laneq_f32(c[i][1], w1, av[i], 2 * (t) + 1), \
                                          w1, av[i], 2 * (t));                               \
            c[i][2] = vbfmlalbq_laneq_f32(vbfmlaltq_laneq_f32(c[i][2], w2, av[i], 2 * (t) + 1), \
                                          w2, av[i], 2 * (t));                               \
            c[i][3] = vbfmlalbq_laneq_f32(vbfmlaltq_laneq_f32(c[i][3], w3, av[i], 2 * (t) + 1), \
                                          w3, av[i], 2 * (t));                               \
        }                                                                                    \
    } while (0)

NN_BF16 NN_INLINE void nn_bf16_bfmlal_tile(const uint32_t *a, size_t lda, int mb,
                                           const uint32_t *wb, int kg, float *acc)
{
    float32x4_t c[NN_NEON_ROWS][4];
    #pragma GCC unroll 8
    for (int i = 0; i < mb; i++)
        #pragma GCC unroll 8
        for (int j = 0; j < 4; j++) c[i][j] = vdupq_n_f32(0.0f);
    for (int g = 0; g < kg; g += 4) {
        bfloat16x8_t av[NN_NEON_ROWS];
        #pragma GCC unroll 8
        for (int i = 0; i < mb; i++)
            av[i] = vreinterpretq_bf16_u32(vld1q_u32(a + (size_t)i * lda + g));
        NN_BFMLAL_STEP(0);
        NN_BFMLAL_STEP(1);
        NN_BFMLAL_STEP(2);
        NN_BFMLAL_STEP(3);
    }
    #pragma GCC unroll 8
    for (int i = 0; i < mb; i++)
        #pragma GCC unroll 8
        for (int j = 0; j < 4; j++) vst1q_f32(acc + i * NN_Q_TILE_N + j * 4, c[i][j]);
}

NN_BF16 static void nn_bf16_bf16(const uint32_t *a, size_t lda, int mb, const uint32_t *w,
                                 size_t wblock, int kg, float *acc)
{
    for (int b = 0; b < NN_Q_PANEL; b++)
        for (int i0 = 0; i0 < mb; i0 += NN_NEON_ROWS) {
            const uint32_t *ai = a + (size_t)i0 * lda, *wb = w + b * wblock;
            float *ci = acc + i0 * NN_Q_TILE_N + b * NN_Q_BLOCK;
            switch (mb - i0 < NN_NEON_ROWS ? mb - i0 : NN_NEON_ROWS) {
            case 4: nn_bf16_bfmlal_tile(ai, lda, 4, wb, kg, ci); break;
            case 3: nn_bf16_bfmlal_tile(ai, lda, 3, wb, kg, ci); break;
            case 2: nn_bf16_bfmlal_tile(ai, lda, 2, wb, kg, ci); break;
            default: nn_bf16_bfmlal_tile(ai, lda, 1, wb, kg, ci); break;
            }
        }
}

NnI8Kernel nn_i8_kernel_neon(void)
{
    return nn_i8_neon;
}

NnI8Kernel nn_i8_kernel_neon_dotprod(void)
{
    return cpu_has(CPU_DOTPROD) ? nn_i8_dotprod : NULL;
}

NnI8Kernel nn_i8_kernel_neon_i8mm(void)
{
    return cpu_has(CPU_I8MM) ? nn_i8_i8mm : NULL;
}

NnBf16Kernel nn_bf16_kernel_neon(void)
{
    return nn_bf16_neon;
}

NnBf16Kernel nn_bf16_kernel_neon_bf16(void)
{
    return cpu_has(CPU_BF16) ? nn_bf16_bf16 : NULL;
}

#else

NnI8Kernel nn_i8_kernel_neon(void)
{
    return NULL;
}

NnI8Kernel nn_i8_kernel_neon_dotprod(void)
{
    return NULL;
}

NnI8Kernel nn_i8_kernel_neon_i8mm(void)
{
    return NULL;
}

NnBf16Kernel nn_bf16_kernel_neon(void)
{
    return NULL;
}

NnBf16Kernel nn_bf16_kernel_neon_bf16(void)
{
    return NULL;
}

#endif
