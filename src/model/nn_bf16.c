/*
 * nn_bf16.c - the bf16 GEMM kernels (see nn_quant_kern.h for the tile
 * contract and nn_quant.h for the format).
 *
 * A product of two bfloat16 values is exact in float32 (8-bit by 8-bit
 * significands), so each kernel's only rounding is the float32 addition
 * into the output's one accumulator, in the same order: per pair of k,
 * the odd product, then the even one (the order vdpbf16ps defines). The
 * kernels therefore agree with the scalar reference in nn_quant.c up to
 * vdpbf16ps's flushing of denormals.
 *
 * - AVX512_BF16: vdpbf16ps on 16 outputs x one k pair per instruction,
 *   a 6 x 64 tile of 24 accumulators.
 * - AVX-512F and AVX2 (CPUs without BF16 instructions): each bf16 is
 *   widened to float32 by a shift (its low half) or a mask (its high half)
 *   and two FMAs do the pair; half vdpbf16ps's rate, but still half the
 *   weight bytes of float32, which is what bounds a text query.
 */
#include "model/nn_quant_kern.h"

#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define NN_BF16_X86 1
#endif

#ifdef NN_BF16_X86

static inline int32_t nn_bf16_pair(const uint32_t *a, int g)
{
    int32_t v;
    memcpy(&v, a + g, 4);
    return v;
}

/* ---- AVX512_BF16 ---- */

__attribute__((target("avx512f,avx512bw,avx512bf16"), always_inline)) static inline void
nn_bf16_tile_512(const uint32_t *a, size_t lda, const uint32_t *w, size_t wblock, int kg, int mb,
                 float *acc)
{
    __m512 c[NN_Q_TILE_M][NN_Q_PANEL];
#pragma GCC unroll 6
    for (int i = 0; i < mb; i++)
#pragma GCC unroll 4
        for (int j = 0; j < NN_Q_PANEL; j++) c[i][j] = _mm512_setzero_ps();
    for (int g = 0; g < kg; g++) {
        __m512i wv[NN_Q_PANEL];
#pragma GCC unroll 4
        for (int j = 0; j < NN_Q_PANEL; j++)
            wv[j] = _mm512_load_si512((const void *)(w + j * wblock + (size_t)g * NN_Q_BLOCK));
#pragma GCC unroll 6
        for (int i = 0; i < mb; i++) {
            __m512i av = _mm512_set1_epi32(nn_bf16_pair(a + (size_t)i * lda, g));
#pragma GCC unroll 4
            for (int j = 0; j < NN_Q_PANEL; j++)
                c[i][j] = _mm512_dpbf16_ps(c[i][j], (__m512bh)av, (__m512bh)wv[j]);
        }
    }
#pragma GCC unroll 6
    for (int i = 0; i < mb; i++)
#pragma GCC unroll 4
        for (int j = 0; j < NN_Q_PANEL; j++)
            _mm512_storeu_ps(acc + i * NN_Q_TILE_N + j * NN_Q_BLOCK, c[i][j]);
}

__attribute__((target("avx512f,avx512bw,avx512bf16"))) static void
nn_bf16_avx512bf16(const uint32_t *a, size_t lda, int mb, const uint32_t *w, size_t wblock, int kg,
                   float *acc)
{
    switch (mb) {
    case 6: nn_bf16_tile_512(a, lda, w, wblock, kg, 6, acc); break;
    case 5: nn_bf16_tile_512(a, lda, w, wblock, kg, 5, acc); break;
    case 4: nn_bf16_tile_512(a, lda, w, wblock, kg, 4, acc); break;
    case 3: nn_bf16_tile_512(a, lda, w, wblock, kg, 3, acc); break;
    case 2: nn_bf16_tile_512(a, lda, w, wblock, kg, 2, acc); break;
    default: nn_bf16_tile_512(a, lda, w, wblock, kg, 1, acc); break;
    }
}

/* ---- AVX-512F, bf16 widened ---- */

/* Rows [0, mb) (mb <= 4) by the panel's four blocks. */
__attribute__((target("avx512f,fma"), always_inline)) static inline void
nn_bf16_tile_f512(const uint32_t *a, size_t lda, const uint32_t *w, size_t wblock, int kg, int mb,
                  float *acc)
{
    __m512 c[4][NN_Q_PANEL];
    const __m512i hi_mask = _mm512_set1_epi32((int)0xFFFF0000u);
#pragma GCC unroll 4
    for (int i = 0; i < mb; i++)
#pragma GCC unroll 4
        for (int j = 0; j < NN_Q_PANEL; j++) c[i][j] = _mm512_setzero_ps();
    for (int g = 0; g < kg; g++) {
        __m512 wo[NN_Q_PANEL], we[NN_Q_PANEL];
#pragma GCC unroll 4
        for (int j = 0; j < NN_Q_PANEL; j++) {
            __m512i v = _mm512_load_si512((const void *)(w + j * wblock + (size_t)g * NN_Q_BLOCK));
            wo[j] = _mm512_castsi512_ps(_mm512_and_si512(v, hi_mask));
            we[j] = _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
        }
#pragma GCC unroll 4
        for (int i = 0; i < mb; i++) {
            uint32_t p = (uint32_t)nn_bf16_pair(a + (size_t)i * lda, g);
            __m512 ao = _mm512_castsi512_ps(_mm512_set1_epi32((int)(p & 0xFFFF0000u)));
            __m512 ae = _mm512_castsi512_ps(_mm512_set1_epi32((int)(p << 16)));
#pragma GCC unroll 4
            for (int j = 0; j < NN_Q_PANEL; j++) {
                /* The products are exact, so the FMA rounds as vdpbf16ps's add does. */
                c[i][j] = _mm512_fmadd_ps(ao, wo[j], c[i][j]);
                c[i][j] = _mm512_fmadd_ps(ae, we[j], c[i][j]);
            }
        }
    }
#pragma GCC unroll 4
    for (int i = 0; i < mb; i++)
#pragma GCC unroll 4
        for (int j = 0; j < NN_Q_PANEL; j++)
            _mm512_storeu_ps(acc + i * NN_Q_TILE_N + j * NN_Q_BLOCK, c[i][j]);
}

__attribute__((target("avx512f,fma"))) static void nn_bf16_f512(const uint32_t *a, size_t lda,
                                                                int mb, const uint32_t *w,
                                                                size_t wblock, int kg, float *acc)
{
    for (int i0 = 0; i0 < mb; i0 += 4) {
        int h = mb - i0 < 4 ? mb - i0 : 4;
        const uint32_t *ai = a + (size_t)i0 * lda;
        float *ci = acc + i0 * NN_Q_TILE_N;
        switch (h) {
        case 4: nn_bf16_tile_f512(ai, lda, w, wblock, kg, 4, ci); break;
        case 3: nn_bf16_tile_f512(ai, lda, w, wblock, kg, 3, ci); break;
        case 2: nn_bf16_tile_f512(ai, lda, w, wblock, kg, 2, ci); break;
        default: nn_bf16_tile_f512(ai, lda, w, wblock, kg, 1, ci); break;
        }
    }
}

/* ---- AVX2, bf16 widened ---- */

/* Rows [0, mb) (mb <= 3) by one block (16 outputs, two ymm per row). */
__attribute__((target("avx2,fma"), always_inline)) static inline void
nn_bf16_tile_avx2(const uint32_t *a, size_t lda, const uint32_t *w, int kg, int mb, float *acc)
{
    __m256 c[3][2];
    const __m256i hi_mask = _mm256_set1_epi32((int)0xFFFF0000u);
#pragma GCC unroll 3
    for (int i = 0; i < mb; i++) c[i][0] = c[i][1] = _mm256_setzero_ps();
    for (int g = 0; g < kg; g++) {
        __m256 wo[2], we[2];
#pragma GCC unroll 2
        for (int j = 0; j < 2; j++) {
            __m256i v = _mm256_load_si256((const __m256i *)(w + (size_t)g * NN_Q_BLOCK + 8 * j));
            wo[j] = _mm256_castsi256_ps(_mm256_and_si256(v, hi_mask));
            we[j] = _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
        }
#pragma GCC unroll 3
        for (int i = 0; i < mb; i++) {
            uint32_t p = (uint32_t)nn_bf16_pair(a + (size_t)i * lda, g);
            __m256 ao = _mm256_castsi256_ps(_mm256_set1_epi32((int)(p & 0xFFFF0000u)));
            __m256 ae = _mm256_castsi256_ps(_mm256_set1_epi32((int)(p << 16)));
#pragma GCC unroll 2
            for (int j = 0; j < 2; j++) {
                c[i][j] = _mm256_fmadd_ps(ao, wo[j], c[i][j]);
                c[i][j] = _mm256_fmadd_ps(ae, we[j], c[i][j]);
            }
        }
    }
#pragma GCC unroll 3
    for (int i = 0; i < mb; i++) {
        _mm256_storeu_ps(acc + i * NN_Q_TILE_N, c[i][0]);
        _mm256_storeu_ps(acc + i * NN_Q_TILE_N + 8, c[i][1]);
    }
}

__attribute__((target("avx2,fma"))) static void nn_bf16_avx2(const uint32_t *a, size_t lda, int mb,
                                                             const uint32_t *w, size_t wblock,
                                                             int kg, float *acc)
{
    for (int i0 = 0; i0 < mb; i0 += 3) {
        int h = mb - i0 < 3 ? mb - i0 : 3;
        for (int b = 0; b < NN_Q_PANEL; b++) {
            const uint32_t *ai = a + (size_t)i0 * lda;
            const uint32_t *wb = w + b * wblock;
            float *ci = acc + i0 * NN_Q_TILE_N + b * NN_Q_BLOCK;
            if (h == 3)
                nn_bf16_tile_avx2(ai, lda, wb, kg, 3, ci);
            else if (h == 2)
                nn_bf16_tile_avx2(ai, lda, wb, kg, 2, ci);
            else
                nn_bf16_tile_avx2(ai, lda, wb, kg, 1, ci);
        }
    }
}

NnBf16Kernel nn_bf16_kernel_avx512bf16(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                   __builtin_cpu_supports("avx512bf16")
               ? nn_bf16_avx512bf16
               : NULL;
}

NnBf16Kernel nn_bf16_kernel_avx512f(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma") ? nn_bf16_f512
                                                                              : NULL;
}

NnBf16Kernel nn_bf16_kernel_avx2(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? nn_bf16_avx2 : NULL;
}

#else

NnBf16Kernel nn_bf16_kernel_avx512bf16(void)
{
    return NULL;
}

NnBf16Kernel nn_bf16_kernel_avx512f(void)
{
    return NULL;
}

NnBf16Kernel nn_bf16_kernel_avx2(void)
{
    return NULL;
}

#endif
