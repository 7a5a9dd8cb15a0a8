/*
 * qdrant_facet.c - Qdrant's facet counts: POST /collections/{c}/facet.
 *
 * Request {"key": K, "limit": n >= 1 (10), "filter": F, "exact": bool,
 * "shard_key": ...}; response {"hits": [{"value": v, "count": n}]}, values
 * being strings (keywords, UUIDs), integers or booleans, by count
 * descending then value ascending. The counting is the engine's
 * (collection_facet: from the key's keyword, integer, uuid or bool index,
 * refused with Qdrant's message without one). Counts are exact whether
 * or not `exact` is set: approximate counts are a cost Qdrant pays to
 * sample large segments, not a different answer.
 */
#include <string.h>

#include "api/qdrant_internal.h"

static void facet(ApiJob *j)
{
    if (api_body_object(j, 0)) return;
    const char *key = NULL;
    if (api_get_str(j, j->body, "key", &key)) return;
    if (!key) return (void)api_fail(j, QERR_FORMAT, "missing field `key`");
    CollectionFacet req;
    memset(&req, 0, sizeof req);
    req.key = key;
    req.limit = COLLECTION_DEFAULT_FACET_LIMIT;
    int exact = 0;
    const JsonValue *f;
    if (api_get_size(j, j->body, "limit", 1, &req.limit) || api_get_bool(j, j->body, "exact", &exact) ||
        api_get_object(j, j->body, "filter", &f) || api_check_filter(j, f))
        return;
    req.filter = f;
    CollectionFacetHit *hits;
    size_t n;
    char err[512] = "";
    int rc = collection_facet(j->api->db, j->collection, &req, api_arena(j), &hits, &n, err, sizeof err);
    if (rc) return (void)api_fail_collection(j, rc, err);
    JsonWriter *w = api_result(j);
    jw_object_begin(w);
    jw_key(w, "hits");
    jw_array_begin(w);
    for (size_t i = 0; i < n; i++) {
        jw_object_begin(w);
        jw_key(w, "value");
        switch (hits[i].kind) {
        case COLLECTION_FACET_INT: jw_int(w, hits[i].i); break;
        case COLLECTION_FACET_BOOL: jw_bool(w, hits[i].b); break;
        default: jw_string(w, hits[i].str); break;
        }
        jw_key(w, "count");
        jw_uint(w, hits[i].count);
        jw_object_end(w);
    }
    jw_array_end(w);
    jw_object_end(w);
}

const ApiRoute qdrant_facet_routes[] = {
    { "POST", "/collections/{collection_name}/facet", API_READ, NULL, facet },
    { NULL, NULL, 0, NULL, NULL },
};
