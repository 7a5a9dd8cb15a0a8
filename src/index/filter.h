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
 *               {"has_id": [ids]}, {"nested": {"key": K, "filter": {...}}}
 * Keys are Qdrant JSON paths: `a.b`, `a[]`, `a[0]`, `a."key with.dots"`.
 * Not supported (ERR_UNSUPPORTED with a message): has_vector.
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

/* ---- filters ---- */

typedef struct Filter Filter;

/*
 * filter_compile validates json and compiles it into *out (owned by the
 * caller, release with filter_free). JSON null compiles to a filter that
 * matches every point. An invalid filter gives ERR_INVAL with a message
 * naming the problem and where it is, e.g.
 *   filter.must[1].range: expected an object
 * and a valid but unsupported one (has_vector) ERR_UNSUPPORTED. Geo
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

/* ---- hints for the planner ---- */

/* filter_matches_all returns 1 when f has no conditions at all (NULL,
 * JSON null, {} or only empty must/must_not), so no check is needed. */
int filter_matches_all(const Filter *f);

/*
 * filter_id_candidates returns 1 and the sorted id set (owned by f) when
 * a top-level `must` holds a has_id condition: only those ids can match,
 * so the caller may look them up instead of scanning. Returns 0 otherwise.
 * The ids still have to pass filter_match.
 */
int filter_id_candidates(const Filter *f, const PointId **ids, size_t *n);

#endif
