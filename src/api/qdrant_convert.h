/*
 * qdrant_convert.h - Qdrant's JSON shapes of the engine's C structs: the
 * create-collection body, the config as Qdrant reports it, the
 * with_payload / with_vector selectors, and a point as Qdrant returns it.
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
 * "Euclid"). */
const char *qdrant_distance_name(CollectionDistance d);

/*
 * qdrant_config_from_json reads Qdrant's create-collection body:
 * "vectors": {"size": N, "distance": "Cosine"} or {"name": {...}, ...},
 * and optional "hnsw_config": {"m": M, "ef_construct": E}. Missing hnsw
 * values are 0 (defaults); options are left "". ERR_INVAL with a message.
 */
int qdrant_config_from_json(const JsonValue *body, CollectionConfig *out, char *err,
                            size_t errlen);

/* qdrant_config_write writes {"vectors": ..., "hnsw_config": ...} with
 * Qdrant's names. */
void qdrant_config_write(JsonWriter *w, const CollectionConfig *c);

/*
 * qdrant_selector_from_json reads Qdrant's with_payload (true, false,
 * ["a", "b"], {"include": [...]}, {"exclude": [...]}) or with_vector(s)
 * (true, false, ["name", ...]); NULL gives dflt (a COLLECTION_SEL_* mode).
 * Strings point into v; the key array is allocated in arena.
 */
int qdrant_selector_from_json(const JsonValue *v, int dflt, Arena *arena, CollectionSelector *out,
                              char *err, size_t errlen);

/*
 * qdrant_write_point writes point i of r in Qdrant's shape:
 * {"id": ..., "version": 0, ["score": ...,] "payload": {...} | null,
 *  "vector": [...] | {"name": [...]} | null}.
 */
void qdrant_write_point(JsonWriter *w, const CollectionResult *r, size_t i, int with_score);

#endif
