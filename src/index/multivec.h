/*
 * multivec.h - the kernels of multivectors (Qdrant's multivector_config
 * with comparator max_sim): late-interaction scoring and the element types
 * a stored vector may be rounded to (no I/O, no state).
 *
 * A multivector is a point's list of n vectors of one dimension (ColBERT's
 * token embeddings, a product's several photos), stored as n * dim floats
 * one vector after the other. Two of them are compared by MaxSim (Qdrant's
 * score_max_similarity, lib/segment/src/vector_storage/query_scorer/
 * mod.rs): for each vector of the query the best similarity over the
 * document's vectors, summed over the query's vectors. It is not
 * symmetric.
 *
 * The similarity of two vectors is Qdrant's raw metric, larger is closer:
 * the dot product (cosine runs on vectors normalised beforehand), minus
 * the squared L2 distance (Euclid), minus the L1 distance (Manhattan), or,
 * for byte vectors under cosine (which cannot be stored normalised), the
 * cosine computed in full. The score a client sees is derived from the
 * sum afterwards (multivec_postprocess), as Qdrant's postprocess does.
 */
#ifndef VITRINE_MULTIVEC_H
#define VITRINE_MULTIVEC_H

#include <stddef.h>

typedef enum {
    MULTIVEC_DOT = 0,    /* a . b (also cosine of normalised vectors) */
    MULTIVEC_COSINE,     /* a . b / (|a| |b|), 0 when either is zero */
    MULTIVEC_EUCLID,     /* -|a - b|^2 */
    MULTIVEC_MANHATTAN,  /* -sum |a - b| */
} MultivecMetric;

/* What a stored value is rounded to (Qdrant's datatype). */
typedef enum {
    MULTIVEC_FLOAT32 = 0,
    MULTIVEC_UINT8 = 1,   /* Rust's `x as u8`: truncated toward 0, saturated to 0..255, NaN 0 */
    MULTIVEC_FLOAT16 = 2, /* IEEE half precision, nearest, ties to even */
} MultivecType;

/* multivec_similarity: the raw metric of two dim-long vectors. */
float multivec_similarity(MultivecMetric m, const float *a, const float *b, size_t dim);

/* multivec_max_sim: sum over the nq vectors of q of the best similarity
 * to any of the nd vectors of d (both n * dim floats). nq or nd 0: 0. */
float multivec_max_sim(MultivecMetric m, const float *q, size_t nq, const float *d, size_t nd,
                       size_t dim);

/* multivec_postprocess turns a raw score (a MaxSim sum) into the one a
 * client sees: sqrt(|s|) for Euclid, |s| for Manhattan, s otherwise. */
float multivec_postprocess(MultivecMetric m, float s);

/* multivec_round rounds n values in place to what type t keeps. */
void multivec_round(MultivecType t, float *v, size_t n);

#endif
