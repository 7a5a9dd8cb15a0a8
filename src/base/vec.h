/*
 * vec.h - float32 vector kernels: dot product, squared L2 distance, L1
 * (Manhattan) distance, norm, normalisation.
 *
 * Design: every kernel has a portable scalar version and an AVX2 + FMA
 * version. The AVX2 versions are compiled with a per-function target
 * attribute, so the default build stays portable (no -march flags) and one
 * binary runs everywhere; the version used is chosen once at run time with
 * __builtin_cpu_supports. Hot loops (the HNSW search) fetch the chosen
 * function pointer once with vec_dot_fn() / vec_l2sq_fn() instead of paying
 * the dispatch check per call.
 *
 * Lengths are arbitrary (the tail after the last full SIMD block is handled
 * in scalar code); pointers need no particular alignment.
 */
#ifndef VITRINE_VEC_H
#define VITRINE_VEC_H

#include <stddef.h>

/* A distance kernel: a . b, |a - b|^2 or sum |a - b|, over n floats. */
typedef float (*VecKernel)(const float *a, const float *b, size_t n);

/* The dispatched kernels (AVX2 + FMA where the CPU has them). */
float vec_dot(const float *a, const float *b, size_t n);
float vec_l2sq(const float *a, const float *b, size_t n);
float vec_l1(const float *a, const float *b, size_t n);
float vec_norm(const float *a, size_t n);

/*
 * vec_normalize scales a to unit L2 norm in place. Returns ERR_INVAL, and
 * leaves a untouched, when the norm is zero or not finite (a NaN or Inf in
 * the input), so a caller can reject such a vector instead of storing NaNs.
 */
int vec_normalize(float *a, size_t n);

/* vec_is_finite returns 1 when no element is NaN or +-Inf. */
int vec_is_finite(const float *a, size_t n);

/* The chosen kernels as function pointers, for hot loops. */
VecKernel vec_dot_fn(void);
VecKernel vec_l2sq_fn(void);
VecKernel vec_l1_fn(void);

/* The portable versions, always available (tests compare both). */
float vec_dot_scalar(const float *a, const float *b, size_t n);
float vec_l2sq_scalar(const float *a, const float *b, size_t n);
float vec_l1_scalar(const float *a, const float *b, size_t n);

/* vec_backend names the kernels in use: "avx2+fma", "neon" (AArch64) or
 * "scalar". */
const char *vec_backend(void);

#endif
