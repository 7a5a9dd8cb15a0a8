/*
 * nn_int8.c - the int8 GEMM kernels (see nn_quant_kern.h for the tile
 * contract and nn_quant.h for the quantization).
 *
 * All three compute acc[i][c] = sum_k a[i][k] * w[c][k] exactly in int32
 * (u8 codes times s8 weights), so they agree bit for bit with the scalar
 * reference in nn_quant.c:
 *
 * - AVX-512 VNNI: per k group of 4, one 512-bit load holds 16 outputs' 4
 *   weights, one 32-bit broadcast holds an activation row's 4 codes, and
 *   vpdpbusd adds the 4 products into each output's int32. A 6 x 64 tile
 *   keeps 24 accumulators in registers.
 * - AVX-VNNI: the same on 256-bit registers (Alder Lake and later cores
 *   without AVX-512), 3 rows x 32 outputs at a time.
 * - AVX2: no u8 x s8 instruction that cannot saturate (vpmaddubsw adds two
 *   products into an int16, and 2 x 255 x 127 overflows it), so the
 *   weights are widened to int16 and vpmaddwd adds pairs into int32; the
 *   pair sums of an output are combined once per tile.
 *
 * Each kernel is compiled for its own target with __attribute__((target)),
 * so the file builds on any x86-64 compiler flags and is called only
 * where the CPU has the features.
 */
#include "model/nn_quant_kern.h"

#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <immintrin.h>
#define NN_I8_X86 1
#endif

#ifdef NN_I8_X86

/* Bytes ahead of the current k group that the short-tile kernel asks
 * the weights for (64 cache lines per stream, about 0.2 us of its work:
 * the latency of L3, or of memory where the VM's share of L3 is smaller
 * than the text tower). Measured on one core, 7 x 512 x 2048 cycling over
 * 38 MB of weights, four alternations: no prefetch 130-149 us a call,
 * 4096 bytes ahead 116-131 us (1024 bytes measured between the two). */
#define NN_I8_PREFETCH 4096

/* nn_i8_bcast reads the 4 codes of row a at k group g as one int32. */
static inline int32_t nn_i8_bcast(const uint8_t *a, int g)
{
    int32_t v;
    memcpy(&v, a + (size_t)g * 4, 4);
    return v;
}

/* ---- AVX-512 VNNI ---- */

__attribute__((target("avx512f,avx512bw,avx512vnni"), always_inline)) static inline void
nn_i8_tile_512(const uint8_t *a, size_t lda, const int8_t *w, size_t wblock, int kg, int mb,
               int32_t *acc)
{
    __m512i c[NN_Q_TILE_M][NN_Q_PANEL];
#pragma GCC unroll 6
    for (int i = 0; i < mb; i++)
#pragma GCC unroll 4
        for (int j = 0; j < NN_Q_PANEL; j++) c[i][j] = _mm512_setzero_si512();
    for (int g = 0; g < kg; g++) {
        __m512i wv[NN_Q_PANEL];
#pragma GCC unroll 4
        for (int j = 0; j < NN_Q_PANEL; j++)
            wv[j] = _mm512_load_si512((const void *)(w + j * wblock + (size_t)g * 64));
#pragma GCC unroll 6
        for (int i = 0; i < mb; i++) {
            __m512i av = _mm512_set1_epi32(nn_i8_bcast(a + (size_t)i * lda, g));
#pragma GCC unroll 4
            for (int j = 0; j < NN_Q_PANEL; j++) c[i][j] = _mm512_dpbusd_epi32(c[i][j], av, wv[j]);
        }
    }
#pragma GCC unroll 6
    for (int i = 0; i < mb; i++)
#pragma GCC unroll 4
        for (int j = 0; j < NN_Q_PANEL; j++)
            _mm512_storeu_si512((void *)(acc + i * NN_Q_TILE_N + j * NN_Q_BLOCK), c[i][j]);
}

/*
 * nn_i8_pair_512 is the short-tile form (mb up to NN_Q_SMALL_M): rows
 * [0, mb) by the two blocks at w, 16 accumulators, so that up to 8 rows
 * take each weight from memory once. A panel runs as two such passes over
 * k; the activations (8 rows of at most a few KB) stay in L1 between them.
 * A text query's 7 rows as 4 + 3-row tiles of nn_i8_tile_512 would read
 * every weight twice and do half the multiply-adds per load.
 */
__attribute__((target("avx512f,avx512bw,avx512vnni"), always_inline)) static inline void
nn_i8_pair_512(const uint8_t *a, size_t lda, const int8_t *w, size_t wblock, int kg, int mb,
               int32_t *acc)
{
    __m512i c[NN_Q_SMALL_M][2];
#pragma GCC unroll 8
    for (int i = 0; i < mb; i++) c[i][0] = c[i][1] = _mm512_setzero_si512();
    const int8_t *w1 = w + wblock;
    for (int g = 0; g < kg; g++) {
        /* The weights stream from L3 (a text tower is too big for L2):
         * asking for them NN_I8_PREFETCH bytes ahead keeps more lines in
         * flight than the hardware prefetcher does on two streams. Past
         * the end of its block, each stream asks for what this thread reads
         * next: the same offset two blocks on, which is the panel's other
         * pair of blocks, or after the second pair the next panel's first
         * (a thread's chunk is consecutive panels). Asking for the rest of
         * the block the other stream is reading, as before, left the first
         * 4 KB of every pass cold: 7 rows cycling over 38 MB on one core
         * went from 13.4 to 17.9 GB/s, on two from 28-32 to 31-38. */
        size_t ahead = (size_t)g * 64 + NN_I8_PREFETCH;
        if (ahead >= wblock) ahead += wblock;
        _mm_prefetch((const char *)(w + ahead), _MM_HINT_T0);
        _mm_prefetch((const char *)(w1 + ahead), _MM_HINT_T0);
        __m512i w0v = _mm512_load_si512((const void *)(w + (size_t)g * 64));
        __m512i w1v = _mm512_load_si512((const void *)(w1 + (size_t)g * 64));
#pragma GCC unroll 8
        for (int i = 0; i < mb; i++) {
            __m512i av = _mm512_set1_epi32(nn_i8_bcast(a + (size_t)i * lda, g));
            c[i][0] = _mm512_dpbusd_epi32(c[i][0], av, w0v);
            c[i][1] = _mm512_dpbusd_epi32(c[i][1], av, w1v);
        }
    }
#pragma GCC unroll 8
    for (int i = 0; i < mb; i++) {
        _mm512_storeu_si512((void *)(acc + i * NN_Q_TILE_N), c[i][0]);
        _mm512_storeu_si512((void *)(acc + i * NN_Q_TILE_N + NN_Q_BLOCK), c[i][1]);
    }
}

/* nn_i8_pairs_512 runs a panel as two block-pair passes (mb a constant). */
#define NN_I8_PAIRS(mb)                                                                          \
    for (int b = 0; b < NN_Q_PANEL; b += 2)                                                      \
        nn_i8_pair_512(a, lda, w + b * wblock, wblock, kg, mb, acc + b * NN_Q_BLOCK)

__attribute__((target("avx512f,avx512bw,avx512vnni"))) static void
nn_i8_avx512vnni(const uint8_t *a, size_t lda, int mb, const int8_t *w, size_t wblock, int kg,
                 int32_t *acc)
{
    /* One inlined copy per tile height, so that mb is a constant. */
    switch (mb) {
    case 8: NN_I8_PAIRS(8); break;
    case 7: NN_I8_PAIRS(7); break;
    case 6: nn_i8_tile_512(a, lda, w, wblock, kg, 6, acc); break;
    case 5: nn_i8_tile_512(a, lda, w, wblock, kg, 5, acc); break;
    case 4: nn_i8_tile_512(a, lda, w, wblock, kg, 4, acc); break;
    case 3: nn_i8_tile_512(a, lda, w, wblock, kg, 3, acc); break;
    case 2: nn_i8_tile_512(a, lda, w, wblock, kg, 2, acc); break;
    default: nn_i8_tile_512(a, lda, w, wblock, kg, 1, acc); break;
    }
}

/* ---- AVX-VNNI (256-bit) ---- */

/* Rows [0, mb) (mb <= 3) by the two blocks at w (32 outputs, 4 ymm each row). */
__attribute__((target("avx2,avxvnni"), always_inline)) static inline void
nn_i8_tile_vnni256(const uint8_t *a, size_t lda, const int8_t *w, size_t wblock, int kg, int mb,
                   int32_t *acc)
{
    __m256i c[3][4];
#pragma GCC unroll 3
    for (int i = 0; i < mb; i++)
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++) c[i][j] = _mm256_setzero_si256();
    for (int g = 0; g < kg; g++) {
        __m256i wv[4];
#pragma GCC unroll 2
        for (int b = 0; b < 2; b++) {
            const int8_t *wb = w + b * wblock + (size_t)g * 64;
            wv[2 * b] = _mm256_load_si256((const __m256i *)wb);
            wv[2 * b + 1] = _mm256_load_si256((const __m256i *)(wb + 32));
        }
#pragma GCC unroll 3
        for (int i = 0; i < mb; i++) {
            __m256i av = _mm256_set1_epi32(nn_i8_bcast(a + (size_t)i * lda, g));
#pragma GCC unroll 4
            for (int j = 0; j < 4; j++) c[i][j] = _mm256_dpbusd_avx_epi32(c[i][j], av, wv[j]);
        }
    }
#pragma GCC unroll 3
    for (int i = 0; i < mb; i++)
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++)
            _mm256_storeu_si256((__m256i *)(acc + i * NN_Q_TILE_N + j * 8), c[i][j]);
}

__attribute__((target("avx2,avxvnni"))) static void nn_i8_avxvnni(const uint8_t *a, size_t lda,
                                                                 int mb, const int8_t *w,
                                                                 size_t wblock, int kg,
                                                                 int32_t *acc)
{
    for (int i0 = 0; i0 < mb; i0 += 3) {
        int h = mb - i0 < 3 ? mb - i0 : 3;
        for (int b = 0; b < NN_Q_PANEL; b += 2) {
            const uint8_t *ai = a + (size_t)i0 * lda;
            const int8_t *wb = w + b * wblock;
            int32_t *ci = acc + i0 * NN_Q_TILE_N + b * NN_Q_BLOCK;
            if (h == 3)
                nn_i8_tile_vnni256(ai, lda, wb, wblock, kg, 3, ci);
            else if (h == 2)
                nn_i8_tile_vnni256(ai, lda, wb, wblock, kg, 2, ci);
            else
                nn_i8_tile_vnni256(ai, lda, wb, wblock, kg, 1, ci);
        }
    }
}

/* ---- AVX2 ---- */

/*
 * Rows [0, mb) (mb <= 3) by one block (16 outputs). A k group of the block
 * is 64 bytes: outputs 0-3, 4-7, 8-11, 12-15 in 16-byte quarters, each
 * widened to 16 int16; the row's 4 codes widened and repeated to match;
 * vpmaddwd then gives per output two int32 pair sums, kept apart until the
 * end (each at most 2 x 255 x 127 per group: no overflow below 8 million k).
 */
__attribute__((target("avx2"), always_inline)) static inline void
nn_i8_tile_avx2(const uint8_t *a, size_t lda, const int8_t *w, int kg, int mb, int32_t *acc)
{
    __m256i c[3][4];
#pragma GCC unroll 3
    for (int i = 0; i < mb; i++)
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++) c[i][j] = _mm256_setzero_si256();
    for (int g = 0; g < kg; g++) {
        __m256i wv[4];
        const int8_t *wg = w + (size_t)g * 64;
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++)
            wv[j] = _mm256_cvtepi8_epi16(_mm_load_si128((const __m128i *)(wg + 16 * j)));
#pragma GCC unroll 3
        for (int i = 0; i < mb; i++) {
            __m256i av =
                _mm256_cvtepu8_epi16(_mm_set1_epi32(nn_i8_bcast(a + (size_t)i * lda, g)));
#pragma GCC unroll 4
            for (int j = 0; j < 4; j++)
                c[i][j] = _mm256_add_epi32(c[i][j], _mm256_madd_epi16(av, wv[j]));
        }
    }
    /* c[i][j] lanes: (o, k01), (o, k23) for outputs o = 4j .. 4j + 3. hadd
     * works within 128-bit halves, so after it the 64-bit elements hold
     * outputs (0,1) (8,9)... in the order the permute below undoes. */
#pragma GCC unroll 3
    for (int i = 0; i < mb; i++) {
        __m256i h01 = _mm256_hadd_epi32(c[i][0], c[i][1]); /* o0 o1 o4 o5 | o2 o3 o6 o7 */
        __m256i h23 = _mm256_hadd_epi32(c[i][2], c[i][3]); /* o8 o9 o12 o13 | o10 o11 o14 o15 */
        h01 = _mm256_permute4x64_epi64(h01, 0xD8);          /* o0..o7 */
        h23 = _mm256_permute4x64_epi64(h23, 0xD8);          /* o8..o15 */
        _mm256_storeu_si256((__m256i *)(acc + i * NN_Q_TILE_N), h01);
        _mm256_storeu_si256((__m256i *)(acc + i * NN_Q_TILE_N + 8), h23);
    }
}

__attribute__((target("avx2"))) static void nn_i8_avx2(const uint8_t *a, size_t lda, int mb,
                                                       const int8_t *w, size_t wblock, int kg,
                                                       int32_t *acc)
{
    for (int i0 = 0; i0 < mb; i0 += 3) {
        int h = mb - i0 < 3 ? mb - i0 : 3;
        for (int b = 0; b < NN_Q_PANEL; b++) {
            const uint8_t *ai = a + (size_t)i0 * lda;
            const int8_t *wb = w + b * wblock;
            int32_t *ci = acc + i0 * NN_Q_TILE_N + b * NN_Q_BLOCK;
            if (h == 3)
                nn_i8_tile_avx2(ai, lda, wb, kg, 3, ci);
            else if (h == 2)
                nn_i8_tile_avx2(ai, lda, wb, kg, 2, ci);
            else
                nn_i8_tile_avx2(ai, lda, wb, kg, 1, ci);
        }
    }
}

NnI8Kernel nn_i8_kernel_avx512vnni(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                   __builtin_cpu_supports("avx512vnni")
               ? nn_i8_avx512vnni
               : NULL;
}

/* AVX-VNNI is CPUID leaf 7 subleaf 1, EAX bit 4 (asked directly: clang
 * 14's __builtin_cpu_supports does not know "avxvnni"). */
static int nn_i8_have_avxvnni(void)
{
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (!__get_cpuid_count(7, 1, &a, &b, &c, &d)) return 0;
    return (a >> 4) & 1;
}

NnI8Kernel nn_i8_kernel_avxvnni(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && nn_i8_have_avxvnni() ? nn_i8_avxvnni : NULL;
}

NnI8Kernel nn_i8_kernel_avx2(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") ? nn_i8_avx2 : NULL;
}

#else

NnI8Kernel nn_i8_kernel_avx512vnni(void)
{
    return NULL;
}

NnI8Kernel nn_i8_kernel_avxvnni(void)
{
    return NULL;
}

NnI8Kernel nn_i8_kernel_avx2(void)
{
    return NULL;
}

#endif
