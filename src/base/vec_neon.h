/*
 * vec_neon.h - the AArch64 Advanced SIMD (NEON) versions of vec.h's
 * kernels, for vec.c's dispatch and the tests. Declared on AArch64 only:
 * elsewhere vec_neon.c compiles to nothing.
 */
#ifndef VITRINE_VEC_NEON_H
#define VITRINE_VEC_NEON_H

#include <stddef.h>

#if defined(__aarch64__)
#define VEC_HAVE_NEON 1
float vec_dot_neon(const float *a, const float *b, size_t n);
float vec_l2sq_neon(const float *a, const float *b, size_t n);
float vec_l1_neon(const float *a, const float *b, size_t n);
#else
#define VEC_HAVE_NEON 0
#endif

#endif
