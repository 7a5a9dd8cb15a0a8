/*
 * quant_neon.h - the AArch64 versions of quant.h's byte kernels, for
 * quant.c's dispatch (and through quant_kernel, the tests). Declared on
 * AArch64 only: elsewhere quant_neon.c compiles to nothing.
 */
#ifndef VITRINE_QUANT_NEON_H
#define VITRINE_QUANT_NEON_H

#include <stddef.h>
#include <stdint.h>

#if defined(__aarch64__) && defined(__GNUC__)
#define QUANT_HAVE_NEON 1
/* Base ARMv8.0 Advanced SIMD: every AArch64 core. */
int32_t quant_dot_neon(const uint8_t *a, const uint8_t *b, size_t n);
int32_t quant_l1_neon(const uint8_t *a, const uint8_t *b, size_t n);
/* ARMv8.2 FEAT_DotProd (UDOT): only where cpu_has(CPU_DOTPROD). */
int32_t quant_dot_dotprod(const uint8_t *a, const uint8_t *b, size_t n);
int32_t quant_l1_dotprod(const uint8_t *a, const uint8_t *b, size_t n);
#else
#define QUANT_HAVE_NEON 0
#endif

#endif
