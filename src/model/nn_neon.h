/*
 * nn_neon.h - AArch64 NEON versions of nn.c's hand-written kernels, for
 * nn.c's dispatch and the tests. Declared on AArch64 only: elsewhere
 * nn_neon.c compiles to nothing.
 */
#ifndef VITRINE_NN_NEON_H
#define VITRINE_NN_NEON_H

#if defined(__aarch64__)
#define NN_HAVE_NEON 1
/*
 * nn_weighted_sum_neon: out row i (width floats) = sum over j < n(i) of
 * p[i][j] * v row j, where n(i) = i + 1 when causal, else cols (the
 * attention's probabilities times V; nn.c's nn_weighted_sum contract).
 */
void nn_weighted_sum_neon(const float *p, int ldp, int rows, int cols, int causal, const float *v,
                          int ldv, int width, float *out, int ldo);
#else
#define NN_HAVE_NEON 0
#endif

#endif
