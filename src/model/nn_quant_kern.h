/*
 * nn_quant_kern.h - the contract between nn_quant.c (packing, activation
 * quantization, tiling, epilogue) and the reduced-precision GEMM kernels
 * in nn_int8.c and nn_bf16.c. Private to src/model.
 *
 * A kernel computes one tile: mb (1..NN_Q_TILE_M; up to NN_Q_SMALL_M for
 * a kernel that declares short tiles, NN_AMX_TILE_M for AMX) activation rows against
 * one panel of NN_Q_PANEL column blocks (NN_Q_TILE_N outputs), over the
 * whole (padded) reduction, into acc (mb, NN_Q_TILE_N) with row stride
 * NN_Q_TILE_N. Every output's sum runs in k order in one accumulator, so
 * any split of the work gives the same bits.
 */
#ifndef VITRINE_NN_QUANT_KERN_H
#define VITRINE_NN_QUANT_KERN_H

#include <stddef.h>
#include <stdint.h>

#include "model/nn_quant.h"

/* Activation rows per tile, and column blocks per panel: 6 x 4 blocks is
 * 24 512-bit accumulators, leaving registers for 4 weight vectors and a
 * broadcast. */
#define NN_Q_TILE_M 6
#define NN_Q_PANEL 4
#define NN_Q_TILE_N (NN_Q_PANEL * NN_Q_BLOCK)
/* The most rows a kernel that declares short tiles (NnQKernel.small_m in
 * nn_quant.c: AVX-512 VNNI) takes in one call when a whole call has no
 * more: a text query's 7 tokens as one tile instead of 4 + 3 rows, so
 * each weight is read once. */
#define NN_Q_SMALL_M 8
/* The AMX kernels' tile height: two 16-row A tiles. nn_quant.c keeps the
 * activation scratch padded to a multiple of it. */
#define NN_AMX_TILE_M 32
/* The reduction is padded to this many k (one AMX A tile of int8 codes;
 * two of bf16 pairs' 32 values), in zeros that add nothing. */
#define NN_Q_KPAD 64

/*
 * int8: a holds u8 codes, row i at a + i * lda (bytes), kg * 4 of them;
 * w is the panel's first block, block j at w + j * wblock bytes, laid out
 * (kg, NN_Q_BLOCK, 4). acc[i][c] = sum_k a[i][k] * w[c][k] (int32).
 */
typedef void (*NnI8Kernel)(const uint8_t *a, size_t lda, int mb, const int8_t *w, size_t wblock,
                           int kg, int32_t *acc);
/*
 * bf16: a holds bf16 pairs (k even in the low half), row i at a + i * lda
 * (pairs), kg of them; w block j at w + j * wblock pairs, laid out (kg,
 * NN_Q_BLOCK) pairs. acc[i][c] = sum over pairs of odd-k product, then
 * even-k product, added in k order into one float32 (vdpbf16ps's order).
 */
typedef void (*NnBf16Kernel)(const uint32_t *a, size_t lda, int mb, const uint32_t *w,
                             size_t wblock, int kg, float *acc);

/* The kernels beyond the scalar references (nn_quant.c); each returns
 * NULL from its *_get function when the CPU lacks its features. */
NnI8Kernel nn_i8_kernel_avx512vnni(void);
NnI8Kernel nn_i8_kernel_avxvnni(void);
NnI8Kernel nn_i8_kernel_avx2(void);
NnBf16Kernel nn_bf16_kernel_avx512bf16(void);
NnBf16Kernel nn_bf16_kernel_avx512f(void);
NnBf16Kernel nn_bf16_kernel_avx2(void);
/* nn_amx.c: rows in tiles of NN_AMX_TILE_M (any mb up to it). */
NnI8Kernel nn_i8_kernel_amx(void);
NnBf16Kernel nn_bf16_kernel_amx(void);

#endif
