/*
 * qdrant_sparse.h - Qdrant's JSON shapes of sparse vectors, used by the
 * collection, point, search and query routes: {"indices", "values"} with
 * Qdrant's validation messages, the sparse_vectors section of a
 * collection's configuration (create, PATCH, report), and MMR over
 * sparse candidates.
 */
#ifndef VITRINE_API_QDRANT_SPARSE_H
#define VITRINE_API_QDRANT_SPARSE_H

#include "api/qdrant_internal.h"
#include "api/qdrant_query.h"

/* qdrant_is_sparse: v has the shape of a sparse vector (an object with
 * "indices" or "values"), as opposed to a dense array or an inference
 * object. */
int qdrant_is_sparse(const JsonValue *v);

/*
 * qdrant_sparse_vector reads {"indices": [u32...], "values": [f32...]}
 * into the request arena. A wrong type is a format error (400); lengths
 * that differ or a repeated index are Qdrant's validation errors (422)
 * at path, e.g. "points[0].vector.?" gives
 *   points[0].vector.?.values: Validation error: must be the same length as indices [{}]
 * The vector is left in the order given (the engine sorts it).
 */
int qdrant_sparse_vector(ApiJob *j, const JsonValue *v, const char *path,
                         const CollectionSparseVector **out);

/*
 * Configuration. qdrant_sparse_parse_config reads a create body's
 * "sparse_vectors" (may be NULL) into cfg->sparse. qdrant_sparse_check_patch
 * validates a PATCH body's "sparse_vectors" against the collection's
 * configuration and lists the modifiers it sets (*mods in the arena).
 * qdrant_sparse_options writes the "sparse_vectors" member of the options
 * object: old's (may be NULL) with body's given parameters merged in, as
 * Qdrant merges them (update_sparse_vectors_from_other).
 * qdrant_sparse_write_config writes params.sparse_vectors of a
 * collection's info (nothing when it has none).
 */
int qdrant_sparse_parse_config(ApiJob *j, const JsonValue *sparse, CollectionConfig *cfg);
int qdrant_sparse_check_patch(ApiJob *j, const JsonValue *body, const CollectionConfig *cfg,
                              CollectionSparseParams **mods, size_t *n_mods);
void qdrant_sparse_options(JsonWriter *w, const JsonValue *old, const JsonValue *body);
void qdrant_sparse_write_config(JsonWriter *w, const CollectionConfig *c, const JsonValue *opts);

/*
 * qdrant_sparse_mmr selects up to limit of the candidates (which carry
 * sparse vector s) by maximal marginal relevance, as mmr_select does for
 * dense ones, with Qdrant's sparse similarity: the dot product over shared
 * indices, 0 without any (lib/shard/src/query/mmr/mod.rs). query is the
 * node's query vector (sorted here).
 */
int qdrant_sparse_mmr(ApiJob *j, const QNode *n, int s, const CollectionSparseVector *query,
                      const CollectionResult *cand, size_t limit, Hits *out);

#endif
