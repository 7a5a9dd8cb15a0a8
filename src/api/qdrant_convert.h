/*
 * qdrant_convert.h - Qdrant's JSON shapes of the engine's C structs that
 * several routes share: distance names, the with_payload / with_vector
 * selectors, and a point as Qdrant returns it. (The collection
 * configuration's shapes live in qdrant_collections.c, their one user.)
 *
 * The engine (src/store) speaks C structs only; the wire format lives here,
 * above it, so a Qdrant-specific spelling ("Cosine", "hnsw_config",
 * "version": 0) never reaches the storage layer.
 */
#ifndef VITRINE_QDRANT_CONVERT_H
#define VITRINE_QDRANT_CONVERT_H

#include <stddef.h>

#include "base/arena.h"
#include "base/json.h"
#include "store/collection.h"

/* qdrant_distance_name: Qdrant's spelling of a distance ("Cosine", "Dot",
 * "Euclid", "Manhattan"). */
const char *qdrant_distance_name(CollectionDistance d);

/*
 * qdrant_selector_from_json reads Qdrant's with_payload (true, false,
 * ["a", "b"], {"include": [...]}, {"exclude": [...]}) or with_vector(s)
 * (true, false, ["name", ...]); NULL gives dflt (a COLLECTION_SEL_* mode).
 * Strings point into v; the key array is allocated in arena.
 */
int qdrant_selector_from_json(const JsonValue *v, int dflt, Arena *arena, CollectionSelector *out,
                              char *err, size_t errlen);

/*
 * qdrant_write_point writes point i of r as Qdrant's Record
 * {"id", ["payload",] ["vector",] ["order_value"]} or, with a score, as
 * ScoredPoint {"id", "version": 0, "score", ...}: what was not selected is
 * left out, as Qdrant leaves it out. qdrant_write_points writes r's points
 * as a list.
 */
void qdrant_write_point(JsonWriter *w, const CollectionResult *r, size_t i, int with_score);
void qdrant_write_points(JsonWriter *w, const CollectionResult *r, int with_score);

#endif
