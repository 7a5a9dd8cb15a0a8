/*
 * qdrant_groups.c - Qdrant's grouped searches: POST .../points/search/groups,
 * /recommend/groups and /query/groups.
 *
 * As Qdrant does (lib/collection/src/grouping/group_by.rs), the query runs
 * for groups * group_size points, and again with a larger limit while too
 * few of the best groups are full (a bounded number of times). Points are
 * taken in result order; each value of the group_by key (a string or an
 * integer; every element of an array) puts the point into that group
 * while the group has room. Groups are ranked by their best hit, hits
 * within a group by result order, and the first `limit` groups returned.
 * with_lookup reads, for each group, the point whose id is the group's
 * value from another collection.
 */
#include <stdio.h>
#include <string.h>

#include "api/qdrant_query.h"
#include "base/err.h"
#include "base/util.h"

/* Rounds of the group-filling query (Qdrant's MAX_GET_GROUPS_REQUESTS plus
 * its filling rounds), each with twice the previous limit. */
#define QDRANT_GROUP_ROUNDS 7
/* Points a grouped query reads at most in one round. */
#define QDRANT_GROUP_MAX_POINTS 100000

/* One group value: a string or an integer. */
typedef struct {
    int is_str;
    const char *s;
    size_t len;
    int64_t i;
    uint64_t u;
    int is_uint;
} GroupKey;

typedef struct {
    GroupKey key;
    size_t *hits; /* indexes into the round's hits */
    size_t n;
    size_t best;  /* index of its best hit: the group's rank */
} Group;

typedef struct {
    const char *group_by;
    size_t group_size, limit;
    const char *lookup_collection;
    CollectionSelector lookup_payload, lookup_vector;
} GroupReq;

static int key_equal(const GroupKey *a, const GroupKey *b)
{
    if (a->is_str != b->is_str) return 0;
    if (a->is_str) return a->len == b->len && !memcmp(a->s, b->s, a->len);
    return a->is_uint == b->is_uint && (a->is_uint ? a->u == b->u : a->i == b->i);
}

/* value_key turns a payload value into a group key: strings and integers
 * only (floats, booleans, objects and null form no group). */
static int value_key(const JsonValue *v, GroupKey *k)
{
    memset(k, 0, sizeof *k);
    if (v->type == JSON_STRING) {
        k->is_str = 1;
        k->s = v->u.str;
        k->len = v->len;
        return 1;
    }
    if (v->type == JSON_NUMBER && v->num_kind == JSON_NUM_INT) {
        k->i = v->n.i;
        return 1;
    }
    if (v->type == JSON_NUMBER && v->num_kind == JSON_NUM_UINT) {
        k->is_uint = 1;
        k->u = v->n.u;
        return 1;
    }
    return 0;
}

/* collect_keys gathers the group keys at a dotted path ("a.b"; arrays on
 * the way are walked element by element). Payloads come from json_parse,
 * which never packs, so u.items is safe here. */
static void collect_keys(const JsonValue *v, const char *path, GroupKey *out, size_t *n, size_t cap)
{
    while (v && *path) {
        if (v->type == JSON_ARRAY) {
            for (uint32_t i = 0; i < v->len; i++) collect_keys(&v->u.items[i], path, out, n, cap);
            return;
        }
        const char *dot = strchr(path, '.');
        size_t len = dot ? (size_t)(dot - path) : strlen(path);
        /* "a[]" names the array at a. */
        size_t klen = len >= 2 && path[len - 2] == '[' && path[len - 1] == ']' ? len - 2 : len;
        const JsonValue *next = NULL;
        for (uint32_t i = 0; v->type == JSON_OBJECT && i < v->len; i++)
            if (v->u.members[i].key_len == klen && !memcmp(v->u.members[i].key, path, klen))
                next = &v->u.members[i].value;
        v = next;
        path = dot ? dot + 1 : path + len;
    }
    if (!v) return;
    if (v->type == JSON_ARRAY) {
        for (uint32_t i = 0; i < v->len; i++)
            if (*n < cap && value_key(&v->u.items[i], &out[*n])) (*n)++;
    } else if (*n < cap && value_key(v, &out[*n])) {
        (*n)++;
    }
}

/* group_round assigns the hits to groups; returns how many of the best
 * `limit` groups are full. */
static size_t group_round(ApiJob *j, const GroupReq *g, const Hits *hits, const CollectionResult *pl,
                          Group **groups_out, size_t *n_groups)
{
    Arena *a = api_arena(j);
    size_t cap = 16, ng = 0;
    Group *groups = arena_alloc(a, cap * sizeof *groups);
    for (size_t i = 0; i < hits->n && i < pl->n; i++) {
        JsonValue *doc;
        char err[64];
        if (!pl->points[i].payload ||
            json_parse(a, pl->points[i].payload, pl->points[i].payload_len, &doc, err, sizeof err))
            continue;
        GroupKey keys[32];
        size_t nk = 0;
        collect_keys(doc, g->group_by, keys, &nk, 32);
        for (size_t k = 0; k < nk; k++) {
            int dup = 0;
            for (size_t m = 0; m < k; m++) dup |= key_equal(&keys[m], &keys[k]);
            if (dup) continue;
            size_t gi = 0;
            while (gi < ng && !key_equal(&groups[gi].key, &keys[k])) gi++;
            if (gi == ng) {
                if (ng == cap) {
                    Group *n = arena_alloc(a, 2 * cap * sizeof *n);
                    memcpy(n, groups, ng * sizeof *n);
                    groups = n;
                    cap *= 2;
                }
                groups[ng].key = keys[k];
                /* No group holds more than the hits there are. */
                size_t cap_hits = g->group_size < hits->n ? g->group_size : hits->n;
                groups[ng].hits = arena_alloc(a, (cap_hits ? cap_hits : 1) * sizeof(size_t));
                groups[ng].n = 0;
                groups[ng].best = i;
                ng++;
            }
            if (groups[gi].n < g->group_size) groups[gi].hits[groups[gi].n++] = i;
        }
    }
    /* Hits come in result order, so groups are already ranked by their
     * best hit: the first `limit` groups are the best ones. */
    size_t full = 0;
    for (size_t i = 0; i < ng && i < g->limit; i++) full += groups[i].n == g->group_size;
    *groups_out = groups;
    *n_groups = ng;
    return full;
}

static void write_key(JsonWriter *w, const GroupKey *k)
{
    if (k->is_str) jw_string_len(w, k->s, k->len);
    else if (k->is_uint) jw_uint(w, k->u);
    else jw_int(w, k->i);
}

static int parse_group_fields(ApiJob *j, const JsonValue *obj, GroupReq *g, int defaults)
{
    memset(g, 0, sizeof *g);
    if (api_get_str(j, obj, "group_by", &g->group_by)) return -1;
    if (!g->group_by) return api_fail(j, QERR_FORMAT, "missing field `group_by`");
    g->group_size = 3;
    g->limit = QDRANT_DEFAULT_LIMIT;
    if (!defaults && !json_get(obj, "group_size"))
        return api_fail(j, QERR_FORMAT, "missing field `group_size`");
    if (!defaults && !json_get(obj, "limit")) return api_fail(j, QERR_FORMAT, "missing field `limit`");
    if (api_get_size(j, obj, "group_size", 1, &g->group_size)) return -1;
    if (api_get_size(j, obj, "limit", 1, &g->limit)) return -1;
    /* Qdrant's group_size and limit are u32 (serde refuses more). */
    if (g->group_size > UINT32_MAX || g->limit > UINT32_MAX)
        return api_fail(j, QERR_FORMAT, "invalid value: integer `%zu`, expected u32 at `%s`",
                        g->group_size > UINT32_MAX ? g->group_size : g->limit,
                        g->group_size > UINT32_MAX ? "group_size" : "limit");
    const JsonValue *lk = json_get(obj, "with_lookup");
    if (lk && lk->type != JSON_NULL) {
        g->lookup_payload.mode = COLLECTION_SEL_ALL;
        if (lk->type == JSON_STRING) {
            g->lookup_collection = lk->u.str;
        } else if (lk->type == JSON_OBJECT) {
            if (api_get_str(j, lk, "collection", &g->lookup_collection)) return -1;
            if (!g->lookup_collection)
                return api_fail(j, QERR_FORMAT, "missing field `collection` at `with_lookup`");
            if (api_payload_selector(j, json_get(lk, "with_payload"), COLLECTION_SEL_ALL, &g->lookup_payload))
                return -1;
            const JsonValue *wv = json_get(lk, "with_vectors");
            if (!wv) wv = json_get(lk, "with_vector");
            if (api_selector(j, wv, COLLECTION_SEL_NONE, &g->lookup_vector)) return -1;
        } else {
            return api_fail(j, QERR_FORMAT, "invalid type, expected WithLookupInterface");
        }
    }
    return 0;
}

static void run_groups(ApiJob *j, const QueryReq *q, const GroupReq *g)
{
    Arena *a = api_arena(j);
    CollectionSelector all = { COLLECTION_SEL_ALL, NULL, 0 };
    CollectionSelector none = { COLLECTION_SEL_NONE, NULL, 0 };
    Hits hits = { 0 };
    CollectionResult pl = { 0 };
    Group *groups = NULL;
    size_t ng = 0;
    /* Both are at most u32, so the product fits. */
    size_t want = g->limit * g->group_size;
    for (int round = 0; round < QDRANT_GROUP_ROUNDS; round++) {
        if (want > QDRANT_GROUP_MAX_POINTS) want = QDRANT_GROUP_MAX_POINTS;
        if (qdrant_query_eval(j, q, NULL, want, &hits)) return;
        if (qdrant_query_fetch(j, &hits, 0, &all, &none, 0, &pl)) return;
        size_t full = group_round(j, g, &hits, &pl, &groups, &ng);
        /* Done when the best groups are full, when the collection gave
         * fewer points than asked (there are no more), or at the cap. */
        if (full >= g->limit || hits.n < want || want == QDRANT_GROUP_MAX_POINTS) break;
        want *= 2;
    }
    size_t out_groups = ng < g->limit ? ng : g->limit;
    /* The points of the answer, with the payload and vectors asked for. */
    size_t total = 0;
    for (size_t i = 0; i < out_groups; i++) total += groups[i].n;
    Hits sel = { arena_alloc(a, (total ? total : 1) * sizeof(Hit)), 0 };
    for (size_t i = 0; i < out_groups; i++)
        for (size_t k = 0; k < groups[i].n; k++) sel.h[sel.n++] = hits.h[groups[i].hits[k]];
    CollectionResult res;
    if (qdrant_query_fetch(j, &sel, 0, &q->with_payload, &q->with_vector, 0, &res)) return;
    /* Lookups: the point named by each group value in another collection. */
    CollectionResult *lookups = NULL;
    if (g->lookup_collection) {
        lookups = arena_calloc(a, (out_groups + 1) * sizeof *lookups);
        for (size_t i = 0; i < out_groups; i++) {
            PointId id;
            const GroupKey *k = &groups[i].key;
            int ok = k->is_str ? point_id_from_str(k->s, k->len, &id) == 0
                               : (k->is_uint || k->i >= 0) && (id = point_id_num(k->is_uint ? k->u : (uint64_t)k->i), 1);
            if (!ok) continue;
            int rc = collection_get(j->api->db, g->lookup_collection, &id, 1, &g->lookup_payload,
                                    &g->lookup_vector, a, &lookups[i]);
            if (rc == ERR_NOTFOUND)
                return (void)api_fail(j, QERR_NOT_FOUND, "Collection %s not found", g->lookup_collection);
            if (rc) return (void)api_fail_engine(j, rc, NULL);
        }
    }
    JsonWriter *w = api_result(j);
    jw_object_begin(w);
    jw_key(w, "groups");
    jw_array_begin(w);
    size_t r = 0;
    for (size_t i = 0; i < out_groups; i++) {
        jw_object_begin(w);
        jw_key(w, "hits");
        jw_array_begin(w);
        for (size_t k = 0; k < groups[i].n; k++) {
            /* res holds the selected hits in order, minus points deleted
             * between the rounds and the fetch. */
            const PointId *want_id = &hits.h[groups[i].hits[k]].id;
            size_t f = r;
            while (f < res.n && !point_id_equal(&res.points[f].id, want_id)) f++;
            if (f == res.n) continue;
            qdrant_write_point(w, &res, f, 1);
            r = f + 1;
        }
        jw_array_end(w);
        jw_key(w, "id");
        write_key(w, &groups[i].key);
        if (lookups) {
            jw_key(w, "lookup");
            if (lookups[i].n) qdrant_write_point(w, &lookups[i], 0, 0);
            else jw_null(w);
        }
        jw_object_end(w);
    }
    jw_array_end(w);
    jw_object_end(w);
}

static void search_groups(ApiJob *j)
{
    if (api_body_object(j, 0)) return;
    snprintf(j->vpath, sizeof j->vpath, "search_group_request.group_request.");
    GroupReq g;
    if (parse_group_fields(j, j->body, &g, 0)) return;
    j->vpath[0] = '\0';
    QueryReq q;
    if (qdrant_query_root_search(j, j->body, &q)) return;
    run_groups(j, &q, &g);
}

static void recommend_groups(ApiJob *j)
{
    if (api_body_object(j, 0)) return;
    snprintf(j->vpath, sizeof j->vpath, "recommend_group_request.group_request.");
    GroupReq g;
    if (parse_group_fields(j, j->body, &g, 0)) return;
    j->vpath[0] = '\0';
    QueryReq q;
    if (qdrant_query_root_recommend(j, j->body, &q)) return;
    run_groups(j, &q, &g);
}

static void query_groups(ApiJob *j)
{
    if (api_body_object(j, 0)) return;
    snprintf(j->vpath, sizeof j->vpath, "search_group_request.group_request.");
    GroupReq g;
    if (parse_group_fields(j, j->body, &g, 1)) return;
    j->vpath[0] = '\0';
    QueryReq q;
    if (qdrant_query_parse(j, j->body, &q, "search_group_request.")) return;
    run_groups(j, &q, &g);
}

const ApiRoute qdrant_group_routes[] = {
    { "POST", "/collections/{collection_name}/points/search/groups", API_READ, NULL, search_groups },
    { "POST", "/collections/{collection_name}/points/recommend/groups", API_READ, NULL,
      recommend_groups },
    { "POST", "/collections/{collection_name}/points/query/groups", API_READ, NULL, query_groups },
    { NULL, NULL, 0, NULL, NULL },
};
