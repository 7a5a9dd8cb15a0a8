/*
 * filter.h - payload filters in Qdrant's filter language.
 *
 * A request's JSON filter is compiled once into an owned Filter (all of
 * its nodes and strings in one arena, freed by filter_free), then
 * evaluated against many points with filter_match, which allocates
 * nothing and may be called from several threads at once.
 *
 * Supported, with Qdrant's semantics (see filter.c for the references):
 *   clauses     must, should, must_not (a condition or an array of them),
 *               min_should {"conditions": [...], "min_count": N},
 *               nested boolean filters as conditions
 *   field       {"key": K, "match": {"value": v}}   string, integer, bool
 *               {"key": K, "match": {"any": [...]}}  strings or integers
 *               {"key": K, "match": {"except": [...]}}
 *               {"key": K, "match": {"text"|"phrase": s}} substring
 *               {"key": K, "match": {"text_any": s}} any word is a substring
 *               {"key": K, "range": {gt, gte, lt, lte}} numbers, or RFC 3339
 *                                     datetime strings (a datetime range)
 *               {"key": K, "values_count": {gt, gte, lt, lte}}
 *               {"key": K, "is_empty": bool}, {"key": K, "is_null": bool}
 *               {"key": K, "geo_bounding_box": {"top_left": {lon, lat},
 *                                               "bottom_right": {lon, lat}}}
 *               {"key": K, "geo_radius": {"center": {lon, lat},
 *                                         "radius": meters}}
 *               {"key": K, "geo_polygon": {"exterior": {"points": [...]},
 *                                          "interiors": [{"points"}, ...]}}
 *                                     on {"lon", "lat"} payload objects,
 *                                     with geo.h's (Qdrant's) geometry
 *   other       {"is_empty": {"key": K}}, {"is_null": {"key": K}},
 *               {"has_id": [ids]}, {"nested": {"key": K, "filter": {...}}},
 *               {"has_vector": "name"} (the point has that vector: see
 *                                     filter_bind_vectors)
 * Keys are Qdrant JSON paths: `a.b`, `a[]`, `a[0]`, `a."key with.dots"`.
 */
#ifndef VITRINE_FILTER_H
#define VITRINE_FILTER_H

#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/json.h"
#include "index/pointid.h"

/* Deepest nesting of boolean filters and nested conditions accepted. The
 * JSON reader already bounds depth; this bounds hand-built DOMs too. */
#define FILTER_MAX_DEPTH JSON_MAX_DEPTH
/* Most items (keys, indexes, []) in one key path. */
#define FILTER_MAX_PATH_ITEMS 32

/* ---- key paths (shared with payload.c) ---- */

enum {
    FILTER_PATH_KEY = 0,      /* .name  */
    FILTER_PATH_INDEX = 1,    /* [3]    */
    FILTER_PATH_WILDCARD = 2, /* []     */
};

typedef struct {
    uint8_t kind;    /* FILTER_PATH_* */
    uint32_t len;    /* key bytes */
    const char *key; /* FILTER_PATH_KEY: the key, NUL-terminated */
    uint64_t index;  /* FILTER_PATH_INDEX */
} FilterPathItem;

typedef struct {
    FilterPathItem *items; /* items[0] is always a key */
    uint32_t n;
} FilterPath;

/*
 * filter_path_parse parses a Qdrant JSON path (grammar of Qdrant's
 * json_path/parse.rs): a key, then any of `.key`, `."quoted key"`, `[N]`,
 * `[]`. A bare key is made of letters, digits, `_` and `-` (bytes >= 0x80
 * are accepted as letters). Items and keys are allocated in arena.
 * ERR_INVAL for an empty or malformed path or more than
 * FILTER_MAX_PATH_ITEMS items.
 */
int filter_path_parse(Arena *arena, const char *s, size_t len, FilterPath *out);

/*
 * filter_path_walk calls fn for every value path p reaches in payload
 * (Qdrant's JsonPath value_get: `.key` into objects, `[N]` into one array
 * element, `[]` into each; no implicit flattening on the way). fn
 * returning nonzero stops the walk, which then returns 1. A NULL payload
 * reaches nothing.
 */
typedef int (*FilterVisitFn)(void *ctx, const JsonValue *v);
int filter_path_walk(const FilterPath *p, const JsonValue *payload, FilterVisitFn fn, void *ctx);
/* filter_path_equal: the same path item for item. */
int filter_path_equal(const FilterPath *a, const FilterPath *b);

/*
 * filter_datetime_parse reads the datetime formats Qdrant accepts for
 * datetime payloads and ranges: YYYY-MM-DD, optionally followed by `T` or
 * a space and HH:MM[:SS[.fraction]], and an optional zone Z, +HH:MM or
 * +HHMM (none: UTC). *out_us: microseconds since the epoch. ERR_INVAL
 * otherwise.
 */
int filter_datetime_parse(const char *s, size_t len, int64_t *out_us);

/* ---- filters ---- */

typedef struct Filter Filter;
typedef struct PayloadIndex PayloadIndex; /* payload_index.h */

/*
 * filter_compile validates json and compiles it into *out (owned by the
 * caller, release with filter_free). JSON null compiles to a filter that
 * matches every point. An invalid filter gives ERR_INVAL with a message
 * naming the problem and where it is, e.g.
 *   filter.must[1].range: expected an object
 * and a valid but unsupported one ERR_UNSUPPORTED. Geo
 * input Qdrant's deserializer refuses gives ERR_INVAL with Qdrant's own
 * message and the place, e.g.
 *   Wrong format of GeoPoint payload: expected `lat` = 91 within [-90;90]
 *   and `lon` = 10 within [-180;180] at `filter.must[0].geo_radius.center`
 *   Validation failed: polygon invalid, the size must be at least 4, got 3
 *   at `filter.must[0].geo_polygon.exterior`
 */
int filter_compile(const JsonValue *json, Filter **out, char *err, size_t errlen);

void filter_free(Filter *f);

/*
 * filter_match returns 1 when the point (id, payload) passes the filter,
 * else 0. payload may be NULL (an empty payload). id may be NULL only for
 * filters without has_id (a has_id condition then fails). f NULL matches.
 */
int filter_match(const Filter *f, const PointId *id, const JsonValue *payload);
/* filter_match_vectors is filter_match for a point whose vector mask
 * (bit i: it has the vector filter_bind_vectors resolved to i) is known:
 * has_vector conditions read it (filter_match fails them). */
int filter_match_vectors(const Filter *f, const PointId *id, const JsonValue *payload,
                         uint32_t vector_mask);
/* filter_bind_vectors resolves f's has_vector names to mask bits:
 * resolve returns the bit of a vector name, or -1 for a name the
 * collection does not have (the condition then matches no point). */
typedef int (*FilterVectorFn)(void *ctx, const char *name);
void filter_bind_vectors(Filter *f, FilterVectorFn resolve, void *ctx);

/* ---- payload indexes ---- */

/*
 * filter_bind ties f's conditions to the payload indexes of the fields
 * they test (an index per distinct key path; a condition binds only to an
 * index of its exact path that can answer it, see filter.c). With
 * use_index 0 only the semantics bind (text tokens, below) and every
 * condition still reads payloads: for a writer whose transaction holds
 * changes the indexes do not have yet. Afterwards, with use_index 1:
 *   - filter_match_node answers bound conditions from the indexes at a
 *     node, without the payload, with the same result as the payload
 *     would give (payload indexes change speed, not answers);
 *   - text conditions (match text / text_any) on a field with a text
 *     index mean what they mean in Qdrant with that index: every query
 *     token (any, for text_any) among the value's tokens, rather than a
 *     substring, whether the index or the payload answers them.
 * Binding again replaces the previous binding. The indexes must not
 * change while the bound filter is used.
 */
void filter_bind(Filter *f, PayloadIndex *const *indexes, size_t n, int use_index);

/* filter_needs_payload: evaluating f reads payloads (some condition is
 * not answered by an index). 1 for an unbound filter with conditions on
 * payload fields. */
int filter_needs_payload(const Filter *f);

/*
 * filter_match_node is filter_match for a point whose index entries live
 * at node: bound conditions read the indexes, the others the payload,
 * which payload(ctx, &mask) is called for once, the first time one is
 * needed (it may return NULL: an empty payload); it also sets the point's
 * vector mask, which has_vector conditions read.
 */
typedef const JsonValue *(*FilterPayloadFn)(void *ctx, uint32_t *vector_mask);
int filter_match_node(const Filter *f, const PointId *id, uint32_t node, FilterPayloadFn payload,
                      void *ctx);

/* A cardinality estimate over `total` points: min <= exp <= max. */
typedef struct {
    uint64_t min, exp, max;
} FilterCardinality;

/*
 * filter_estimate estimates how many of total points f matches, as
 * Qdrant's estimate_cardinality: bound conditions count from their index
 * (exact for terms, an upper bound for ranges), others are unknown
 * (0..total, expected total/2); must multiplies selectivities, should
 * unites them, must_not inverts.
 */
void filter_estimate(const Filter *f, uint64_t total, FilterCardinality *out);

/*
 * filter_candidates lists, from the bound indexes, the nodes that can
 * match f when that set is at most max_size nodes (estimated before it is
 * built): the smallest indexable condition of the top-level must (or of
 * a must-nested filter), or the union of a should whose conditions are
 * all indexable. Returns 1 and a sorted, distinct node list (free() it),
 * or 0. The nodes still have to pass filter_match_node.
 */
int filter_candidates(const Filter *f, uint64_t total, uint64_t max_size, uint32_t **nodes,
                      size_t *n);

/* ---- hints for the planner ---- */

/* filter_matches_all returns 1 when f has no conditions at all (NULL,
 * JSON null, {} or only empty must/must_not), so no check is needed. */
int filter_matches_all(const Filter *f);

/*
 * filter_must_terms calls fn(ctx, index, key) for each value a bound
 * filter requires: a `match: {value}` condition in the top-level must (or
 * in a filter nested in it) on a keyword index (key: the term id) or an
 * integer index (key: the integer, within +-2^53), so every point f
 * matches holds that value. fn returning nonzero stops.
 */
typedef int (*FilterTermFn)(void *ctx, const PayloadIndex *ix, int64_t key);
void filter_must_terms(const Filter *f, FilterTermFn fn, void *ctx);

/* filter_single_term returns 1, the index and the key, when the whole of
 * a bound filter is one such condition: the points it matches are
 * exactly those the index lists for the value. 0 otherwise. */
int filter_single_term(const Filter *f, const PayloadIndex **ix, int64_t *key);

/*
 * filter_id_candidates returns 1 and the sorted id set (owned by f) when
 * a top-level `must` holds a has_id condition: only those ids can match,
 * so the caller may look them up instead of scanning. Returns 0 otherwise.
 * The ids still have to pass filter_match.
 */
int filter_id_candidates(const Filter *f, const PointId **ids, size_t *n);

#endif
