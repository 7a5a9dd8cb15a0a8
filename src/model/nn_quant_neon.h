/*
 * nn_quant_neon.h - the AArch64 reduced-precision GEMM kernels of
 * nn_quant_neon.c, for nn_quant.c's kernel list. Private to src/model.
 * Each *_get returns NULL where the CPU lacks the kernel's features, and
 * on other architectures (where the file compiles to nothing but these).
 */
#ifndef VITRINE_NN_QUANT_NEON_H
#define VITRINE_NN_QUANT_NEON_H

#include "model/nn_quant_kern.h"

/* int8: base NEON (SMLAL), ARMv8.2 dotprod (SDOT), ARMv8.6 i8mm (USMMLA). */
NnI8Kernel nn_i8_kernel_neon(void);
NnI8Kernel nn_i8_kernel_neon_dotprod(void);
NnI8Kernel nn_i8_kernel_neon_i8mm(void);
/* bf16: base NEON (widened, FMLA), ARMv8.6 bf16 (BFMLALT / BFMLALB). */
NnBf16Kernel nn_bf16_kernel_neon(void);
NnBf16Kernel nn_bf16_kernel_neon_bf16(void);

#endif
