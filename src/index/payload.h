/*
 * payload.h - partial payload updates with Qdrant's semantics.
 *
 * Qdrant's set_payload merges an object into a point's payload, at the top
 * level or under a nested `key` path; delete_payload removes a list of key
 * paths. Both are pure functions here: they build a new payload DOM in the
 * caller's arena and leave the input untouched, so the store can write the
 * result in its transaction and drop it (with the arena) afterwards.
 * The result shares nothing with the inputs: it is a deep copy in arena.
 */
#ifndef VITRINE_PAYLOAD_H
#define VITRINE_PAYLOAD_H

#include <stddef.h>

#include "base/arena.h"
#include "base/json.h"

/*
 * payload_set merges set_obj into payload (NULL: empty) and writes the new
 * payload to *out. Semantics of Qdrant's JsonPath::value_set and merge_map:
 * - each member of set_obj replaces the member of the same name (keeping
 *   its position) or is appended; a member whose value is null removes the
 *   key instead;
 * - key (NULL or "" for none) is a JSON path: `.k` descends into k,
 *   creating an object where k is missing or is not an object; `[N]`
 *   descends into element N of an existing array (nothing happens when
 *   the element does not exist; a non-array becomes []); `[]` applies to
 *   every element of an array (a non-array becomes []); the object
 *   reached (replaced by {} if it is not one) receives the merge.
 * ERR_INVAL with a message in err for a payload or set_obj that is not an
 * object, an invalid key path, or a result nested deeper than
 * JSON_MAX_DEPTH (the reader could not load it back).
 */
int payload_set(Arena *arena, const JsonValue *payload, const JsonValue *set_obj,
                const char *key, JsonValue **out, char *err, size_t errlen);

/*
 * payload_delete_keys removes each JSON path in keys (an array of
 * strings) from payload (NULL: empty) and writes the result to *out.
 * Qdrant's JsonPath::value_remove: `a.b` removes b from object a, `a[].b`
 * removes b from every element of array a, a path ending in `[]` empties
 * the array, and a path ending in `[N]` removes nothing (Qdrant does not
 * delete by index). Missing paths are ignored. ERR_INVAL with a message
 * for keys that are not an array of valid path strings.
 */
int payload_delete_keys(Arena *arena, const JsonValue *payload, const JsonValue *keys,
                        JsonValue **out, char *err, size_t errlen);

/*
 * payload_select writes the part of payload (an object; anything else
 * gives {}) that Qdrant's with_payload selector keeps, as Qdrant's
 * JsonPath::value_filter: with include, a node stays when some path and
 * the node's path agree on every item both have (`a.b` keeps
 * {"a": {"b": ..}} and drops a.c; array elements are at `[]`, so `a[].b`
 * reaches into arrays and `a.b` empties them); with exclude, a node goes
 * when some path is a prefix of its path. ERR_INVAL for a path that does
 * not parse. The parsed paths go to scratch.
 */
int payload_select(JsonWriter *w, const JsonValue *payload, const char *const *paths, size_t n,
                   int include, Arena *scratch, char *err, size_t errlen);

/* payload_copy deep-copies v into arena (used by both; also handy for a
 * store that wants a payload to outlive the request's arena). */
JsonValue *payload_copy(Arena *arena, const JsonValue *v);

#endif
