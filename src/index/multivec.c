/*
 * multivec.c - MaxSim and the rounding of stored values (see multivec.h).
 */
#include "index/multivec.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "base/vec.h"

float multivec_similarity(MultivecMetric m, const float *a, const float *b, size_t dim)
{
    switch (m) {
    case MULTIVEC_EUCLID: return -vec_l2sq(a, b, dim);
    case MULTIVEC_MANHATTAN: return -vec_l1(a, b, dim);
    case MULTIVEC_COSINE: {
        /* Qdrant's cosine of byte vectors (metric_uint/simple_cosine.rs):
         * computed whole because they are stored as given. */
        float na = vec_dot(a, a, dim), nb = vec_dot(b, b, dim);
        if (na == 0 || nb == 0) return 0;
        return vec_dot(a, b, dim) / sqrtf(na * nb);
    }
    default: return vec_dot(a, b, dim);
    }
}

float multivec_max_sim(MultivecMetric m, const float *q, size_t nq, const float *d, size_t nd,
                       size_t dim)
{
    float sum = 0;
    if (!nd) return 0;
    for (size_t i = 0; i < nq; i++) {
        float best = -INFINITY;
        for (size_t j = 0; j < nd; j++) {
            float s = multivec_similarity(m, q + i * dim, d + j * dim, dim);
            if (s > best) best = s;
        }
        sum += best;
    }
    return sum;
}

float multivec_postprocess(MultivecMetric m, float s)
{
    switch (m) {
    case MULTIVEC_EUCLID: return sqrtf(fabsf(s));
    case MULTIVEC_MANHATTAN: return fabsf(s);
    default: return s;
    }
}

/* to_uint8 is Rust's `x as u8` for an f32: NaN gives 0, the rest is
 * truncated toward zero and saturated to 0..255. */
static float to_uint8(float x)
{
    if (!(x > 0)) return 0; /* also NaN */
    if (x >= 255) return 255;
    return truncf(x);
}

/* to_half rounds x to the nearest IEEE binary16 value (ties to even), as
 * half::f16::from_f32 does, and widens it back: beyond the largest half
 * (65504, rounding considered) it is +-Inf, below the smallest subnormal
 * it is +-0. */
static float to_half(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    uint32_t sign = u & 0x80000000u;
    uint32_t abs = u & 0x7fffffffu;
    if (abs >= 0x7f800000u) return x; /* Inf, NaN */
    float ax;
    memcpy(&ax, &abs, sizeof ax);
    /* Half has 10 mantissa bits and exponents down to -14 (subnormals
     * spaced 2^-24). Rounding to a multiple of the spacing at x's
     * exponent is done exactly by adding and subtracting a power of two
     * large enough to push the unwanted bits out (in float, ties to even). */
    int e;
    frexpf(ax, &e); /* ax = f * 2^e, f in [0.5, 1) */
    int exp = e - 1; /* ax in [2^exp, 2^(exp+1)) */
    if (exp < -14) exp = -14;
    float spacing = ldexpf(1.0f, exp - 10);
    float r;
    if (ax >= 65520.0f) {
        r = INFINITY; /* rounds past 65504 (and big below would overflow) */
    } else if (ax == 0) {
        r = 0;
    } else {
        /* big's ulp is the spacing, so ax + big rounds ax to a multiple of
         * it; C without -ffast-math does not fold (ax + big) - big. */
        float big = spacing * 8388608.0f; /* 2^23 spacings */
        float t = ax + big;
        r = t - big;
    }
    if (r > 65504.0f) r = INFINITY;
    uint32_t ru;
    memcpy(&ru, &r, sizeof ru);
    ru |= sign;
    memcpy(&r, &ru, sizeof r);
    return r;
}

void multivec_round(MultivecType t, float *v, size_t n)
{
    if (t == MULTIVEC_UINT8)
        for (size_t i = 0; i < n; i++) v[i] = to_uint8(v[i]);
    else if (t == MULTIVEC_FLOAT16)
        for (size_t i = 0; i < n; i++) v[i] = to_half(v[i]);
}
