/*
 * nn_quant.h - linear layers in reduced precision: bf16 and int8 weights
 * converted at load, used by nn_linear_multi through NnLinearOut.qw.
 *
 * Design. A weight (out, in) in float32 is converted once into an
 * NnQWeight, packed for the kernels' broadcast form: columns (outputs) in
 * blocks of NN_Q_BLOCK, and within a block the reduction index k in
 * groups, so that one 512-bit load holds 16 outputs x one k group and one
 * 32-bit broadcast of the activations feeds all 16 (vdpbf16ps for bf16:
 * groups of 2 k; vpdpbusd for int8: groups of 4 k). Padding (k to the
 * group, out to the block) is zero, so it adds nothing to any sum.
 *
 * bf16: weights are rounded to bfloat16 (nearest even); the activations
 * of each call are rounded the same way; products are exact in float32
 * and summed in float32. Bias, residual and activation stay float32.
 *
 * int8: each output channel c has its own symmetric scale sw[c] =
 * max|w[c]| / 127 and weights q[c][k] = round(w / sw) in -127..127. Each
 * activation row r is quantized at run time, asymmetrically to use all
 * 8 bits on the mostly positive inputs after quick_gelu: xs[r] =
 * (max - min) / 255 over the row (0 included), zero point zp[r], u8 codes
 * a = round(x / xs) + zp. Then
 *   y[r][c] = xs[r] * sw[c] * (sum_k a[r][k] q[c][k] - zp[r] * sum_k q[c][k]) + b[c]
 * with the sums in int32 (exact), so every int8 kernel gives the same bits.
 *
 * Kernels (chosen at run time by CPU feature; nn_quant_set_kernel forces
 * one for the tests): int8: AMX tiles (from 16 rows), AVX-512 VNNI,
 * AVX-VNNI (256-bit), AVX2
 * (operands widened to int16 and vpmaddwd: vpmaddubsw would saturate on
 * u8 x s8 pairs above 32767, and avoiding that by 7-bit codes would make
 * the results depend on the CPU), scalar; all give the same bits. bf16:
 * AMX tiles (from 16 rows), AVX512_BF16, AVX-512F and AVX2 (bf16 widened
 * to float32, FMA), scalar; all but AMX give the same bits (AMX adds a
 * tile's products in its own order: the last bits may differ). AArch64
 * (nn_quant_neon.c): int8 i8mm, dotprod and NEON, bf16 with FEAT_BF16 and
 * NEON, all giving the scalar bits. Work is split over the
 * thread pool by blocks of output columns only, and every output's sum
 * runs in one fixed order, so results never depend on the thread count.
 */
#ifndef VITRINE_NN_QUANT_H
#define VITRINE_NN_QUANT_H

#include <stddef.h>
#include <stdint.h>

#include "model/nn.h"

/* The precision of a model's (or one weight's) linear layers. */
typedef enum { NN_PREC_F32 = 0, NN_PREC_BF16, NN_PREC_INT8 } NnPrecision;

/* The environment variable the commands read the default --precision from. */
#define NN_ENV_PRECISION "VITRINE_PRECISION"

/* Outputs per packed column block (one 512-bit register of int32/float32). */
#define NN_Q_BLOCK 16

/* nn_precision_parse maps "f32" / "fp32" / "float32", "bf16" / "bfloat16"
 * and "int8" / "i8" to a precision: 0, or ERR_INVAL. */
int nn_precision_parse(const char *s, NnPrecision *out);
/* "f32", "bf16" or "int8". */
const char *nn_precision_name(NnPrecision p);

struct NnQWeight {
    NnPrecision prec; /* NN_PREC_BF16 or NN_PREC_INT8 */
    int out, in;      /* the float32 weight's shape */
    int kp;           /* in, padded to the k group (2 for bf16, 4 for int8; 4 for both) */
    int nblocks;      /* ceil(out / NN_Q_BLOCK) */
    /* bf16: (nblocks, kp / 2, NN_Q_BLOCK, 2) uint16; int8: (nblocks, kp / 4, NN_Q_BLOCK, 4)
     * int8. 64-byte aligned. */
    void *data;
    float *scale;  /* int8: (nblocks * NN_Q_BLOCK) sw[c]; NULL for bf16 */
    int32_t *wsum; /* int8: (nblocks * NN_Q_BLOCK) sum_k q[c][k]; NULL for bf16 */
};

/*
 * nn_qweight_init converts w (out, in), row stride in, into q in precision
 * p (bf16 or int8). Returns 0 or ERR_NOMEM / ERR_INVAL (p is f32 or a
 * dimension is < 1). nn_qweight_free releases what it allocated.
 */
int nn_qweight_init(NnQWeight *q, const float *w, int out, int in, NnPrecision p);
void nn_qweight_free(NnQWeight *q);
/* The bytes q holds (packed weights, scales and sums). */
size_t nn_qweight_bytes(const NnQWeight *q);

/* Kernel selection. Index 0 is the scalar reference; the default is the
 * fastest kernel this CPU has for the call's row count (AMX tiles only
 * from 16 rows). nn_quant_kernel_name returns the name of
 * kernel i for precision p, or NULL when i is past the end or the CPU
 * lacks the features it needs. */
const char *nn_quant_kernel_name(NnPrecision p, int i);
/* nn_quant_set_kernel makes kernel i (as above) the one used for p; -1
 * restores the automatic choice. Returns 0, or ERR_INVAL when the kernel is not
 * available here. Not thread-safe against running layers: for tests. */
int nn_quant_set_kernel(NnPrecision p, int i);
/* The name of the kernel now used for p (or of the two the automatic
 * choice uses: "amx, avx512-vnni below 16 rows"). */
const char *nn_quant_kernel(NnPrecision p);

/*
 * nn_quant_linear_multi is nn_linear_multi (which calls it) for outputs
 * whose qw is set, all of one precision with qw->in == in and qw->out ==
 * out: y = act(x @ w^T + b (+ y)) with w in qw's precision.
 */
void nn_quant_linear_multi(const float *x, int ldx, int rows, int in, const NnLinearOut *outs,
                           int n);

/* nn_bf16_from_f32 returns f rounded to the nearest bfloat16 (ties to even). */
uint16_t nn_bf16_from_f32(float f);
float nn_bf16_to_f32(uint16_t h);

#endif
