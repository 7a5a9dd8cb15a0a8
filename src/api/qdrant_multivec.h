/*
 * qdrant_multivec.h - Qdrant's JSON shapes of multivectors, used by the
 * collection, point and query routes: [[f32, ...], ...] with Qdrant's
 * validation messages, a vector's multivector_config and datatype
 * (create, report), and MMR over multivector candidates.
 */
#ifndef VITRINE_API_QDRANT_MULTIVEC_H
#define VITRINE_API_QDRANT_MULTIVEC_H

#include "api/qdrant_internal.h"
#include "api/qdrant_query.h"

/* qdrant_is_multi: v has the shape of a multivector, an array whose first
 * item is an array. An empty [] is a plain vector, as serde's untagged
 * enums take it (Qdrant then reports "expected dim: 4, got 0"). */
int qdrant_is_multi(const JsonValue *v);

/*
 * qdrant_multivec_vector reads [[f32...], ...] into the request arena. A
 * wrong type is a format error (400); Qdrant's validator
 * (validate_multi_vector, lib/common/common/src/validation.rs) gives 422
 * at path + ".data", e.g. "points[0].vector.?" gives
 *   points[0].vector.?.data: all vectors must be non-empty
 * and then the total size and "all vectors must have the same dimension,
 * found vector with dimension 3", in that order.
 */
int qdrant_multivec_vector(ApiJob *j, const JsonValue *v, const char *path,
                           const CollectionMultiVector **out);

/*
 * Configuration. qdrant_multivec_parse_params reads a VectorParams'
 * "multivector_config" ({"comparator": "max_sim"}) and "datatype"
 * ("float32", "uint8", "float16") at field into out; a datatype other
 * than float32 on a single vector is refused (501: vitrine's graphs are
 * float). qdrant_multivec_write_params writes "multivector_config" of a
 * reported VectorParams (nothing for a single vector).
 */
int qdrant_multivec_parse_params(ApiJob *j, const JsonValue *v, const char *field,
                                 CollectionVectorParams *out);
void qdrant_multivec_write_params(JsonWriter *w, const CollectionVectorParams *p);

/*
 * qdrant_multivec_mmr selects up to limit of the candidates (which carry
 * multivector v, of params p) by maximal marginal relevance as the dense
 * MMR does, with Qdrant's multivector similarity
 * (lib/shard/src/query/mmr/mod.rs): relevance is MaxSim of the query
 * against a candidate, and the similarity of candidate a to a selected b
 * is MaxSim with a as the query (raw scores, larger closer). query is the
 * node's (not yet prepared).
 */
int qdrant_multivec_mmr(ApiJob *j, const QNode *n, int v, const CollectionVectorParams *p,
                        const CollectionMultiVector *query, const CollectionResult *cand,
                        size_t limit, Hits *out);

#endif
