/*
 * quant.h - scalar int8 quantization of float32 vectors, as Qdrant's
 * lib/quantization (encoded_vectors_u8.rs, quantile.rs) defines it.
 *
 * A value v becomes the code round(clamp((v - offset) / alpha, 0, 127))
 * with offset = lo and alpha = (hi - lo) / 127, where [lo, hi] is the
 * quantile interval of the data (quant_calibrate). Codes stay in 0..127 so
 * that a product of two codes fits the signed-times-unsigned byte
 * instructions (AVX2 vpmaddubsw, AVX-512 VNNI vpdpbusd) without saturation.
 *
 * An encoded vector is QuantParams.code_bytes long: dim codes, padding to
 * 4 bytes, then one float correction ("vector offset" in Qdrant):
 *   dot / cosine: alpha * offset * sum(codes) + dim * offset^2
 *   euclid:       alpha^2 * sum(codes^2)
 *   manhattan:    0
 * so that with x ~ offset + alpha * cx (per component)
 *   x . y      ~ alpha^2 * (cx . cy) + corr_x + corr_y - dim * offset^2
 *   |x - y|^2  ~ corr_x + corr_y - 2 alpha^2 (cx . cy)
 *   |x - y|_1  ~ alpha * sum |cx - cy|
 * A query is encoded exactly like a stored vector, so one distance
 * function scores query-to-vector and vector-to-vector alike.
 *
 * Kernels: a portable scalar reference, AVX2 and AVX-512 VNNI versions
 * (x86) or NEON and NEON dotprod versions (AArch64, quant_neon.c)
 * compiled with per-function target attributes and chosen once at run
 * time (VITRINE_VEC=scalar forces the scalar ones, as for vec.h).
 */
#ifndef VITRINE_QUANT_H
#define VITRINE_QUANT_H

#include <stddef.h>
#include <stdint.h>

/* Qdrant's SAMPLE_SIZE: vectors drawn to find the quantile interval. */
#define QUANT_SAMPLE_SIZE 5000
/* Below this many vectors Qdrant takes the plain min / max (quantile.rs). */
#define QUANT_QUANTILE_MIN_VECTORS 127
/* Qdrant's quantile range: 0.5 <= quantile <= 1; default 0.99. */
#define QUANT_MIN_QUANTILE 0.5f
#define QUANT_DEFAULT_QUANTILE 0.99f
#define QUANT_MAX_QUANTILE 1.0f
/* The largest code. */
#define QUANT_CODE_MAX 127

typedef enum {
    QUANT_DOT = 0, /* dot product and cosine (vectors pre-normalised) */
    QUANT_L2 = 1,  /* squared euclidean distance */
    QUANT_L1 = 2,  /* manhattan distance */
} QuantKind;

/* The byte kernels: sum a[i] * b[i] and sum |a[i] - b[i]| over n codes
 * in 0..127. */
typedef int32_t (*QuantDotFn)(const uint8_t *a, const uint8_t *b, size_t n);
typedef int32_t (*QuantL1Fn)(const uint8_t *a, const uint8_t *b, size_t n);

typedef struct {
    int dim;
    QuantKind kind;
    float lo, hi;        /* the calibrated interval */
    float alpha, offset; /* value ~ offset + alpha * code */
    float shift;         /* dim * offset^2 for dot, else 0 */
    size_t corr_off;     /* byte offset of the correction in an encoded vector */
    size_t code_bytes;   /* bytes of one encoded vector */
    QuantDotFn dot;
    QuantL1Fn l1;
} QuantParams;

/* quant_params_init fills qp for dim-dimensional vectors of kind with the
 * interval [lo, hi] (hi <= lo: every code is 0). */
void quant_params_init(QuantParams *qp, int dim, QuantKind kind, float lo, float hi);

/*
 * quant_calibrate finds Qdrant's quantile interval of n vectors of dim
 * floats (the caller draws at most QUANT_SAMPLE_SIZE of them): with fewer
 * than QUANT_QUANTILE_MIN_VECTORS vectors or quantile >= 1 the min and
 * max; else the values at ranks cut + 1 and len - cut - 1 of the sorted
 * values, cut = max(1, min((len - 1) / 2, n * (1 - quantile) / 2)).
 * 0, or ERR_NOMEM / ERR_INVAL (n == 0).
 */
int quant_calibrate(const float *vecs, size_t n, int dim, float quantile, float *lo, float *hi);

/* quant_encode writes vec's encoded form (qp->code_bytes bytes) to out. */
void quant_encode(const QuantParams *qp, const float *vec, uint8_t *out);
/* quant_decode writes the approximate floats an encoded vector stands for. */
void quant_decode(const QuantParams *qp, const uint8_t *code, float *out);

/* quant_distance: the internal distance (smaller is closer) of two encoded
 * vectors: minus the approximate dot product, the approximate squared L2
 * or the approximate L1 distance. */
static inline float quant_distance(const QuantParams *qp, const uint8_t *a, const uint8_t *b)
{
    float ca, cb;
    __builtin_memcpy(&ca, a + qp->corr_off, sizeof ca);
    __builtin_memcpy(&cb, b + qp->corr_off, sizeof cb);
    if (qp->kind == QUANT_L1) return qp->alpha * (float)qp->l1(a, b, (size_t)qp->dim);
    float d = (float)qp->dot(a, b, (size_t)qp->dim) * qp->alpha * qp->alpha;
    if (qp->kind == QUANT_L2) return ca + cb - 2.0f * d;
    return -(d + ca + cb - qp->shift);
}

/* The kernels in use, and every kernel this CPU can run (for tests):
 * quant_kernel(i) for i = 0.. until it returns 0; names "scalar", then
 * "avx2", "avx512vnni" on x86 or "neon", "neon-dotprod" on AArch64. */
QuantDotFn quant_dot_fn(void);
QuantL1Fn quant_l1_fn(void);
int quant_kernel(int i, const char **name, QuantDotFn *dot, QuantL1Fn *l1);
const char *quant_backend(void);

int32_t quant_dot_scalar(const uint8_t *a, const uint8_t *b, size_t n);
int32_t quant_l1_scalar(const uint8_t *a, const uint8_t *b, size_t n);

#endif
