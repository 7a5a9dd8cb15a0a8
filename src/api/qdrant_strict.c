/*
 * qdrant_strict.c - enforcing a collection's strict_mode_config, as Qdrant
 * does (lib/collection/src/operations/verification/).
 *
 * A collection's strict mode is the "strict_mode_config" object kept in
 * its options (set on create or PATCH); nothing is enforced unless its
 * "enabled" is true. Each collection route's request is then checked
 * before it runs, from its JSON body and query string, so the routes stay
 * unaware of strict mode; a violation is Qdrant's 400 with Qdrant's
 * wording ("Bad request: Limit exceeded 4 > 3 for "limit". Help: ..."),
 * which clients match on. Checked:
 *   - reads: max_query_limit (limit; groups: limit x group_size; the
 *     matrix: sample x limit; query: every prefetch), max_timeout (the
 *     ?timeout= parameter), unindexed_filtering_retrieve (every payload
 *     key a filter conditions must have an index able to answer the
 *     condition), filter_max_conditions, condition_max_size,
 *     search_allow_exact (params.exact; count's exact, true by default;
 *     facet's exact), search_max_hnsw_ef, search_max_oversampling,
 *     search_max_batchsize (search and query batches);
 *   - writes: upsert_max_batchsize (upserts and vector updates, also
 *     inside points/batch), unindexed_filtering_update (the filter of a
 *     delete, payload or vector change by filter), max_points_count,
 *     max_collection_vector_size_bytes and
 *     max_collection_payload_size_bytes (the collection as it is before
 *     the write: at or over the limit refuses further upserts; the
 *     payload limit payload sets too),
 *     sparse_config max_length and multivector_config max_vectors per
 *     vector, max_payload_index_count (creating an index).
 *   - read_rate_limit / write_rate_limit: per collection token buckets
 *     of that many tokens a minute, starting full (Qdrant's RateLimiter);
 *     a read costs 1 plus its filter's conditions per search (a retrieve:
 *     its ids), a write the points it touches (at least 1; by filter: the
 *     points the filter matches now). Over budget is Qdrant's 429 with
 *     Retry-After.
 * The payload size is the bytes of the payloads stored here, where
 * Qdrant's is of its own storage blocks (see check_payload_size).
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/qdrant_internal.h"
#include "base/util.h"

/* One limit: set (has) and its value. */
typedef struct {
    int has;
    double v;
} Limit;

typedef struct {
    Limit max_query_limit, max_timeout, search_max_hnsw_ef, search_max_oversampling,
        upsert_max_batchsize, search_max_batchsize, max_collection_vector_size_bytes,
        max_collection_payload_size_bytes, max_points_count, filter_max_conditions, condition_max_size, max_payload_index_count;
    int unindexed_retrieve; /* -1 unset, else the bool */
    int unindexed_update;
    int allow_exact;
    Limit read_rate_limit, write_rate_limit;
    const JsonValue *sparse_config;      /* {name: {"max_length": n}} */
    const JsonValue *multivector_config; /* {name: {"max_vectors": n}} */
    const CollectionInfo *info;
} Strict;

static Limit get_limit(const JsonValue *o, const char *key)
{
    Limit l = { 0, 0 };
    const JsonValue *v = json_get(o, key);
    if (v && v->type == JSON_NUMBER) {
        l.has = 1;
        l.v = v->u.num;
    }
    return l;
}

static int get_flag(const JsonValue *o, const char *key)
{
    const JsonValue *v = json_get(o, key);
    return v && v->type == JSON_BOOL ? v->u.boolean : -1;
}

/* number_str prints a count as Qdrant's Display does (usize, or f64 for
 * oversampling: "2" prints as "2", 1.5 as "1.5"). */
static const char *number_str(char *buf, size_t n, double x)
{
    snprintf(buf, n, "%.15g", x);
    return buf;
}

/* check_limit: Qdrant's check_limit_opt. */
static int check_limit(ApiJob *j, double value, Limit limit, const char *name)
{
    if (!limit.has || !(value > limit.v)) return 0;
    char a[32], b[32];
    number_str(a, sizeof a, value);
    number_str(b, sizeof b, limit.v);
    return api_fail(j, QERR_BAD_REQUEST,
                    "Limit exceeded %s > %s for \"%s\". Help: Reduce the \"%s\" parameter to or below %s.",
                    a, b, name, name, b);
}

static int check_exact(ApiJob *j, const Strict *s, int exact)
{
    if (s->allow_exact != 0 || !exact) return 0;
    return api_fail(j, QERR_BAD_REQUEST, "Exact search disabled!. Help: Set exact=false.");
}

/* ---- which indexes answer which conditions ---- */

enum {
    CAP_INT_MATCH = 1 << 0,
    CAP_INT_RANGE = 1 << 1,
    CAP_KEYWORD = 1 << 2,
    CAP_KEYWORD_PREFIX = 1 << 3,
    CAP_FLOAT_RANGE = 1 << 4,
    CAP_TEXT = 1 << 5,
    CAP_TEXT_PHRASE = 1 << 6,
    CAP_BOOL = 1 << 7,
    CAP_UUID = 1 << 8,
    CAP_DATETIME = 1 << 9,
    CAP_GEO = 1 << 10,
    CAP_ALL = (1 << 11) - 1,
};

/* The schema a capability asks for, as Qdrant names it in the message. */
static const char *cap_schema(int cap)
{
    switch (cap) {
    case CAP_INT_MATCH:
    case CAP_INT_RANGE: return "integer";
    case CAP_KEYWORD: return "keyword";
    case CAP_KEYWORD_PREFIX: return "keyword (with prefix: true)";
    case CAP_FLOAT_RANGE: return "float";
    case CAP_TEXT: return "text";
    case CAP_TEXT_PHRASE: return "text (with phrase_matching: true)";
    case CAP_BOOL: return "bool";
    case CAP_UUID: return "uuid";
    case CAP_DATETIME: return "datetime";
    default: return "geo";
    }
}

/* index_caps: what the index on key can answer (0: no index). */
static int index_caps(ApiJob *j, const Strict *s, const char *key)
{
    for (size_t i = 0; i < s->info->n_indexes; i++) {
        const CollectionIndexInfo *ix = &s->info->indexes[i];
        if (strcmp(ix->field, key)) continue;
        JsonValue *params = NULL;
        char err[64];
        if (ix->params[0] &&
            json_parse(api_arena(j), ix->params, strlen(ix->params), &params, err, sizeof err))
            params = NULL;
        switch (ix->type) {
        case PAYLOAD_INDEX_KEYWORD: return CAP_KEYWORD;
        case PAYLOAD_INDEX_INTEGER: {
            int lookup = get_flag(params, "lookup"), range = get_flag(params, "range");
            return (lookup != 0 ? CAP_INT_MATCH : 0) | (range != 0 ? CAP_INT_RANGE : 0);
        }
        case PAYLOAD_INDEX_FLOAT: return CAP_FLOAT_RANGE;
        case PAYLOAD_INDEX_BOOL: return CAP_BOOL;
        case PAYLOAD_INDEX_DATETIME: return CAP_DATETIME;
        case PAYLOAD_INDEX_UUID: return CAP_UUID;
        case PAYLOAD_INDEX_TEXT: return CAP_TEXT | (get_flag(params, "phrase_matching") == 1 ? CAP_TEXT_PHRASE : 0);
        case PAYLOAD_INDEX_GEO: return CAP_GEO;
        default: return 0;
        }
    }
    return 0;
}

/* match_caps: the capabilities any of which answers a match value or
 * list (Qdrant's infer_index_from_match_value / _any_variants). */
static int value_caps(const JsonValue *v)
{
    if (!v) return 0;
    if (v->type == JSON_BOOL) return CAP_BOOL;
    if (v->type == JSON_NUMBER) return CAP_INT_MATCH;
    if (v->type == JSON_STRING) {
        PointId id;
        int uuid = point_id_from_str(v->u.str, v->len, &id) == 0 && id.kind == POINT_ID_UUID;
        return CAP_KEYWORD | (uuid ? CAP_UUID : 0);
    }
    return 0;
}

static int list_caps(ApiJob *j, const JsonValue *arr)
{
    if (!arr || arr->type != JSON_ARRAY || arr->len == 0) return 0;
    const JsonValue *first = api_item(j, arr, 0);
    if (first->type == JSON_NUMBER) return CAP_INT_MATCH;
    int all_uuid = 1;
    for (uint32_t i = 0; i < arr->len; i++) {
        const JsonValue *x = api_item(j, arr, i);
        all_uuid &= (value_caps(x) & CAP_UUID) != 0;
    }
    return CAP_KEYWORD | (all_uuid ? CAP_UUID : 0);
}

/* condition_caps: what a field condition needs (0: nothing). */
static int condition_caps(ApiJob *j, const JsonValue *c)
{
    int caps = 0;
    const JsonValue *m = json_get(c, "match");
    if (m && m->type == JSON_OBJECT) {
        if (json_get(m, "value")) caps |= value_caps(json_get(m, "value"));
        else if (json_get(m, "text") || json_get(m, "text_any")) caps |= CAP_TEXT;
        else if (json_get(m, "phrase")) caps |= CAP_TEXT_PHRASE;
        else if (json_get(m, "prefix")) caps |= CAP_KEYWORD_PREFIX;
        else if (json_get(m, "any")) caps |= list_caps(j, json_get(m, "any"));
        else if (json_get(m, "except")) caps |= list_caps(j, json_get(m, "except"));
    }
    const JsonValue *r = json_get(c, "range");
    if (r && r->type == JSON_OBJECT) {
        /* A datetime range has string bounds; a numeric one numbers. */
        int is_time = 0;
        static const char *const bounds[] = { "lt", "gt", "lte", "gte" };
        for (size_t i = 0; i < 4; i++) {
            const JsonValue *b = json_get(r, bounds[i]);
            is_time |= b && b->type == JSON_STRING;
        }
        caps |= is_time ? CAP_DATETIME : CAP_FLOAT_RANGE | CAP_INT_RANGE;
    }
    if (json_get(c, "geo_bounding_box") || json_get(c, "geo_radius") || json_get(c, "geo_polygon"))
        caps |= CAP_GEO;
    if (json_get(c, "values_count") || json_get(c, "is_empty") || json_get(c, "is_null")) caps |= CAP_ALL;
    return caps;
}

typedef struct {
    const Strict *s;
    int check_index;          /* unindexed filtering is refused */
    size_t conditions;        /* Qdrant's total_conditions_count */
    size_t max_size;          /* Qdrant's max_condition_input_size */
    const char *unindexed;    /* the first key without a suitable index */
    int unindexed_caps;
} FilterWalk;

static void walk_filter(ApiJob *j, FilterWalk *w, const JsonValue *f, const char *prefix);

/* join_key: prefix.key (prefix NULL: key), then suffix, in the request arena. */
static const char *join_key(ApiJob *j, const char *prefix, const char *key, const char *suffix)
{
    size_t n = (prefix ? strlen(prefix) + 1 : 0) + strlen(key) + strlen(suffix) + 1;
    char *out = arena_alloc(api_arena(j), n);
    snprintf(out, n, "%s%s%s%s", prefix ? prefix : "", prefix ? "." : "", key, suffix);
    return out;
}

static void walk_conditions(ApiJob *j, FilterWalk *w, const JsonValue *list, const char *prefix)
{
    if (!list) return;
    size_t n = list->type == JSON_ARRAY ? list->len : 1;
    for (size_t i = 0; i < n; i++) {
        const JsonValue *c = list->type == JSON_ARRAY ? api_item(j, list, i) : list;
        if (c->type != JSON_OBJECT) continue;
        const JsonValue *nested = json_get(c, "nested");
        if (nested && nested->type == JSON_OBJECT) {
            /* Keys inside a nested condition are paths under key[]. */
            const char *key = json_as_str(json_get(nested, "key"));
            const char *sub = join_key(j, prefix, key ? key : "", "[]");
            walk_filter(j, w, json_get(nested, "filter"), sub);
            continue;
        }
        if (json_get(c, "must") || json_get(c, "should") || json_get(c, "must_not") ||
            json_get(c, "min_should")) {
            walk_filter(j, w, c, prefix);
            continue;
        }
        w->conditions++;
        const JsonValue *ids = json_get(c, "has_id");
        if (ids) {
            if (ids->type == JSON_ARRAY && ids->len > w->max_size) w->max_size = ids->len;
            continue;
        }
        const char *key = NULL;
        int caps = 0;
        const JsonValue *ie = json_get(c, "is_empty"), *in = json_get(c, "is_null");
        if (json_get(c, "key")) {
            key = json_as_str(json_get(c, "key"));
            caps = condition_caps(j, c);
            const JsonValue *m = json_get(c, "match");
            const JsonValue *list_v = m ? json_get(m, "any") : NULL;
            if (!list_v && m) list_v = json_get(m, "except");
            if (list_v && list_v->type == JSON_ARRAY && list_v->len > w->max_size) w->max_size = list_v->len;
        } else if (ie && ie->type == JSON_OBJECT) {
            key = json_as_str(json_get(ie, "key"));
            caps = CAP_ALL;
        } else if (in && in->type == JSON_OBJECT) {
            key = json_as_str(json_get(in, "key"));
            caps = CAP_ALL;
        }
        if (!key || !caps || !w->check_index || w->unindexed) continue;
        const char *full = join_key(j, prefix, key, "");
        if (!(index_caps(j, w->s, full) & caps)) {
            w->unindexed = full;
            w->unindexed_caps = caps;
        }
    }
}

static void walk_filter(ApiJob *j, FilterWalk *w, const JsonValue *f, const char *prefix)
{
    if (!f || f->type != JSON_OBJECT) return;
    walk_conditions(j, w, json_get(f, "must"), prefix);
    walk_conditions(j, w, json_get(f, "should"), prefix);
    walk_conditions(j, w, json_get(f, "must_not"), prefix);
    const JsonValue *ms = json_get(f, "min_should");
    if (ms && ms->type == JSON_OBJECT) walk_conditions(j, w, json_get(ms, "conditions"), prefix);
}

/* unindexed_fail: Qdrant's message for a key without a suitable index;
 * what names the thing to change ("filter", "formula expression"). */
static int unindexed_fail(ApiJob *j, const FilterWalk *w, const char *what)
{
    const char *names[16];
    size_t n = 0;
    for (int cap = 1; cap <= CAP_GEO; cap <<= 1) {
        if (!(w->unindexed_caps & cap)) continue;
        const char *name = cap_schema(cap);
        size_t k = 0;
        while (k < n && strcmp(names[k], name) < 0) k++;
        if (k < n && !strcmp(names[k], name)) continue;
        memmove(names + k + 1, names + k, (n - k) * sizeof *names);
        names[k] = name;
        n++;
    }
    Buf b;
    buf_init(&b);
    for (size_t i = 0; i < n; i++) buf_printf(&b, "%s%s", i ? ", " : "", names[i]);
    api_fail(j, QERR_BAD_REQUEST,
             "Index required but not found for \"%s\" of one of the following types: [%s]. "
             "Help: Create an index for this key or use a different %s.",
             w->unindexed, b.data ? b.data : "", what);
    buf_free(&b);
    return -1;
}

/* check_filter: Qdrant's check_request_filter for one filter; update
 * selects unindexed_filtering_update over _retrieve. */
static int check_filter(ApiJob *j, const Strict *s, const JsonValue *f, int update)
{
    if (!f || f->type != JSON_OBJECT) return 0;
    FilterWalk w = { .s = s, .check_index = (update ? s->unindexed_update : s->unindexed_retrieve) == 0 };
    walk_filter(j, &w, f, NULL);
    if (w.unindexed) return unindexed_fail(j, &w, "filter");
    if (s->filter_max_conditions.has && (double)w.conditions > s->filter_max_conditions.v)
        return api_fail(j, QERR_BAD_REQUEST,
                        "Filter condition limit reached (%zu > %.0f). Help: Reduce the amount of "
                        "conditions of your filter.",
                        w.conditions, s->filter_max_conditions.v);
    if (s->condition_max_size.has && (double)w.max_size > s->condition_max_size.v)
        return api_fail(j, QERR_BAD_REQUEST,
                        "Condition size limit reached (%zu > %.0f). Help: Reduce the size of your "
                        "condition.",
                        w.max_size, s->condition_max_size.v);
    return 0;
}

/* check_params: a request's SearchParams (exact, hnsw_ef, quantization). */
static int check_params(ApiJob *j, const Strict *s, const JsonValue *p)
{
    if (!p || p->type != JSON_OBJECT) return 0;
    const JsonValue *q = json_get(p, "quantization");
    const JsonValue *os = q && q->type == JSON_OBJECT ? json_get(q, "oversampling") : NULL;
    if (os && os->type == JSON_NUMBER &&
        check_limit(j, os->u.num, s->search_max_oversampling, "oversampling"))
        return -1;
    const JsonValue *ef = json_get(p, "hnsw_ef");
    if (ef && ef->type == JSON_NUMBER && check_limit(j, ef->u.num, s->search_max_hnsw_ef, "hnsw_ef"))
        return -1;
    const JsonValue *ex = json_get(p, "exact");
    return check_exact(j, s, ex && ex->type == JSON_BOOL && ex->u.boolean);
}

static double number_or(const JsonValue *o, const char *key, double dflt)
{
    const JsonValue *v = json_get(o, key);
    return v && v->type == JSON_NUMBER ? v->u.num : dflt;
}

/* walk_expr finds the first payload key a formula expression reads that
 * has no index able to answer it (Qdrant's update_from_expression):
 * number variables need an integer or float index, geo_distance's `to` a
 * geo one, datetime_key a datetime one; conditions as in filters. */
static void walk_expr(ApiJob *j, FilterWalk *w, const JsonValue *e)
{
    if (!e || w->unindexed) return;
    if (e->type == JSON_STRING) {
        if (e->u.str[0] == '$') return;
        if (!(index_caps(j, w->s, e->u.str) & (CAP_INT_MATCH | CAP_INT_RANGE | CAP_FLOAT_RANGE))) {
            w->unindexed = e->u.str;
            w->unindexed_caps = CAP_INT_MATCH | CAP_INT_RANGE | CAP_FLOAT_RANGE;
        }
        return;
    }
    if (e->type == JSON_ARRAY) {
        for (uint32_t i = 0; i < e->len && !w->unindexed; i++) walk_expr(j, w, api_item(j, e, i));
        return;
    }
    if (e->type != JSON_OBJECT) return;
    const JsonValue *x;
    if ((x = json_get(e, "geo_distance"))) {
        const char *to = json_as_str(json_get(x, "to"));
        if (to && !(index_caps(j, w->s, to) & CAP_GEO)) {
            w->unindexed = to;
            w->unindexed_caps = CAP_GEO;
        }
        return;
    }
    if ((x = json_get(e, "datetime_key"))) {
        if (x->type == JSON_STRING && !(index_caps(j, w->s, x->u.str) & CAP_DATETIME)) {
            w->unindexed = x->u.str;
            w->unindexed_caps = CAP_DATETIME;
        }
        return;
    }
    if (json_get(e, "datetime")) return;
    if (json_get(e, "key") || json_get(e, "is_empty") || json_get(e, "is_null") || json_get(e, "has_id") ||
        json_get(e, "nested") || json_get(e, "must") || json_get(e, "should") || json_get(e, "must_not")) {
        /* A condition: checked as a one-condition filter. */
        JsonValue list = { .type = JSON_ARRAY, .len = 1, .u.items = (JsonValue *)e };
        walk_conditions(j, w, &list, NULL);
        return;
    }
    static const char *const subs[] = { "sum", "mult", "neg", "abs", "sqrt", "exp", "log10", "ln" };
    for (size_t i = 0; i < sizeof subs / sizeof *subs; i++)
        if ((x = json_get(e, subs[i]))) walk_expr(j, w, x);
    if ((x = json_get(e, "div"))) {
        walk_expr(j, w, json_get(x, "left"));
        walk_expr(j, w, json_get(x, "right"));
    }
    if ((x = json_get(e, "pow"))) {
        walk_expr(j, w, json_get(x, "base"));
        walk_expr(j, w, json_get(x, "exponent"));
    }
    static const char *const decays[] = { "lin_decay", "exp_decay", "gauss_decay" };
    for (size_t i = 0; i < 3; i++)
        if ((x = json_get(e, decays[i]))) {
            walk_expr(j, w, json_get(x, "x"));
            walk_expr(j, w, json_get(x, "target"));
        }
}

/* ---- full scans (Qdrant's Query::check_fullscan) ---- */

int qdrant_vector_m(Arena *a, const CollectionConfig *cfg, const char *using, int64_t *m,
                    int64_t *payload_m)
{
    if (!using) using = "";
    for (int i = 0; i < cfg->n_sparse; i++)
        if (!strcmp(cfg->sparse[i].name, using)) return 0;
    JsonValue *opts = NULL;
    char err[64];
    if (cfg->options[0] && json_parse(a, cfg->options, strlen(cfg->options), &opts, err, sizeof err))
        opts = NULL;
    /* The collection's m as configured: the options keep what the client
     * gave (0 included); the engine's own m otherwise. */
    const JsonValue *top = opts ? json_get(opts, "hnsw_config") : NULL;
    const JsonValue *x = top ? json_get(top, "m") : NULL;
    int64_t top_m = x && x->type == JSON_NUMBER ? (int64_t)x->u.num : cfg->m;
    x = top ? json_get(top, "payload_m") : NULL;
    int64_t top_pm = x && x->type == JSON_NUMBER ? (int64_t)x->u.num : -1;
    const JsonValue *vecs = opts ? json_get(opts, "vectors") : NULL;
    const JsonValue *vp = vecs && vecs->type == JSON_OBJECT ? json_get(vecs, using) : NULL;
    const JsonValue *vh = vp && vp->type == JSON_OBJECT ? json_get(vp, "hnsw_config") : NULL;
    x = vh && vh->type == JSON_OBJECT ? json_get(vh, "m") : NULL;
    *m = x && x->type == JSON_NUMBER ? (int64_t)x->u.num : top_m;
    x = vh && vh->type == JSON_OBJECT ? json_get(vh, "payload_m") : NULL;
    *payload_m = x && x->type == JSON_NUMBER ? (int64_t)x->u.num : top_pm >= 0 ? top_pm : *m;
    return 1;
}

/* is_tenant_index: key has a payload index made with is_tenant: true. */
static int is_tenant_index(ApiJob *j, const Strict *s, const char *key)
{
    for (size_t i = 0; i < s->info->n_indexes; i++) {
        const CollectionIndexInfo *ix = &s->info->indexes[i];
        if (strcmp(ix->field, key) || !ix->params[0]) continue;
        JsonValue *params = NULL;
        char err[64];
        if (json_parse(api_arena(j), ix->params, strlen(ix->params), &params, err, sizeof err)) return 0;
        return get_flag(params, "is_tenant") == 1;
    }
    return 0;
}

/* targeted_key: the payload key a condition reads (Qdrant's
 * Condition::targeted_key): a field's key, is_empty's or is_null's key,
 * a nested condition's "key[]", a sub-filter's first such key. */
static const char *targeted_key(ApiJob *j, const JsonValue *c);

/* filter_find_key: the first key a condition of f's own lists (Qdrant's
 * iter_conditions: must, must_not, should, min_should) targets; with
 * tenants, the first one with a tenant index. */
static const char *filter_find_key(ApiJob *j, const JsonValue *f, const Strict *tenants)
{
    static const char *const lists[] = { "must", "must_not", "should" };
    if (!f || f->type != JSON_OBJECT) return NULL;
    for (size_t l = 0; l < 4; l++) {
        const JsonValue *list = l < 3 ? json_get(f, lists[l]) : NULL;
        if (l == 3) {
            const JsonValue *ms = json_get(f, "min_should");
            list = ms && ms->type == JSON_OBJECT ? json_get(ms, "conditions") : NULL;
        }
        if (!list) continue;
        size_t n = list->type == JSON_ARRAY ? list->len : 1;
        for (size_t i = 0; i < n; i++) {
            const char *key = targeted_key(j, list->type == JSON_ARRAY ? api_item(j, list, i) : list);
            if (key && (!tenants || is_tenant_index(j, tenants, key))) return key;
        }
    }
    return NULL;
}

static const char *targeted_key(ApiJob *j, const JsonValue *c)
{
    if (!c || c->type != JSON_OBJECT) return NULL;
    const JsonValue *x;
    if (json_get(c, "key")) return json_as_str(json_get(c, "key"));
    if ((x = json_get(c, "is_empty")) || (x = json_get(c, "is_null")))
        return x->type == JSON_OBJECT ? json_as_str(json_get(x, "key")) : NULL;
    if ((x = json_get(c, "nested")) && x->type == JSON_OBJECT) {
        const char *key = json_as_str(json_get(x, "key"));
        return key ? join_key(j, NULL, key, "[]") : NULL;
    }
    if (json_get(c, "must") || json_get(c, "should") || json_get(c, "must_not") || json_get(c, "min_should"))
        return filter_find_key(j, c, NULL);
    return NULL;
}

/* check_fullscan: with search_allow_exact false, a query scoring points
 * against vectors (nearest, recommend, discover, context, an id or a raw
 * vector; not fusion, order_by, formula or sample) on a dense vector
 * whose graph is off (hnsw m = 0) would read every point: refused unless
 * its filter targets a tenant index and payload_m builds per-tenant
 * graphs. Sparse vectors always have their index. */
static int check_fullscan(ApiJob *j, const Strict *s, const JsonValue *o)
{
    const JsonValue *q = json_get(o, "query");
    if (s->allow_exact != 0 || !q || q->type == JSON_NULL) return 0;
    if (q->type == JSON_OBJECT && (json_get(q, "fusion") || json_get(q, "rrf") || json_get(q, "order_by") ||
                                   json_get(q, "formula") || json_get(q, "sample")))
        return 0;
    const char *using = json_as_str(json_get(o, "using"));
    if (!using) using = "";
    int64_t m, payload_m;
    if (!qdrant_vector_m(api_arena(j), &s->info->config, using, &m, &payload_m) || m > 0) return 0;
    /* The default vector goes unnamed in the message. */
    size_t n = strlen(using) + 8;
    char *label = arena_alloc(api_arena(j), n);
    label[0] = '\0';
    if (using[0]) snprintf(label, n, " on '%s'", using);
    if (!filter_find_key(j, json_get(o, "filter"), s))
        return api_fail(j, QERR_BAD_REQUEST,
                        "Request is forbidden%s because global vector indexing is disabled "
                        "(hnsw_config.m = 0). Help: Use tenant-specific filter, enable global vector "
                        "indexing or enable strict mode `search_allow_exact` option",
                        label);
    if (payload_m == 0)
        return api_fail(j, QERR_BAD_REQUEST,
                        "Request is forbidden%s because vector indexing is disabled (hnsw_config.m = 0 "
                        "and hnsw_config.payload_m = 0). Help: Enable vector indexing, use a prefetch "
                        "query with indexed vectors or enable strict mode `search_allow_exact` option",
                        label);
    return 0;
}

/* The kinds of request object check_search sees. */
enum {
    SEARCH_PLAIN = 0,    /* search, recommend, discover */
    SEARCH_QUERY = 1,    /* a query: its full scan is checked unless it rescores prefetches */
    SEARCH_PREFETCH = 2, /* a query's prefetch: its full scan is always checked */
};

/* check_search: a search, recommend, discover or query request object
 * (group: limit x group_size). Query's prefetches are checked too. */
static int check_search(ApiJob *j, const Strict *s, const JsonValue *o, int group, int kind)
{
    if (!o || o->type != JSON_OBJECT) return 0;
    const JsonValue *pf = json_get(o, "prefetch");
    size_t n_pf = pf ? (pf->type == JSON_ARRAY ? pf->len : 1) : 0;
    /* Qdrant checks the full scans of a query's prefetches, not of a
     * query group's (CollectionQueryGroupsRequest::check_custom). */
    int pf_kind = kind != SEARCH_PLAIN && !group ? SEARCH_PREFETCH : SEARCH_PLAIN;
    for (size_t i = 0; i < n_pf; i++)
        if (check_search(j, s, pf->type == JSON_ARRAY ? api_item(j, pf, i) : pf, 0, pf_kind)) return -1;
    if ((kind == SEARCH_PREFETCH || (kind == SEARCH_QUERY && n_pf == 0)) && check_fullscan(j, s, o)) return -1;
    const char *group_by = group ? json_as_str(json_get(o, "group_by")) : NULL;
    if (group_by && s->unindexed_retrieve == 0) {
        /* Qdrant's check_grouping_field: an index that answers match. */
        static const char *const kinds[] = { "Keyword", "Integer", "Float", "Bool", "Datetime", "Uuid", "Text", "Geo" };
        const CollectionIndexInfo *ix = NULL;
        for (size_t i = 0; i < s->info->n_indexes && !ix; i++)
            if (!strcmp(s->info->indexes[i].field, group_by)) ix = &s->info->indexes[i];
        if (!ix)
            return api_fail(j, QERR_BAD_REQUEST,
                            "Index required but not found for \"%s\". Help: Create an index supporting "
                            "`match` for this key.",
                            group_by);
        int caps = index_caps(j, s, group_by);
        if (!(caps & (CAP_KEYWORD | CAP_INT_MATCH | CAP_UUID | CAP_BOOL)))
            return api_fail(j, QERR_BAD_REQUEST,
                            "Index of type \"%s\" found for \"%s\". Help: Create an index supporting "
                            "`match` for this key.",
                            (unsigned)ix->type < sizeof kinds / sizeof *kinds ? kinds[ix->type] : "Unknown",
                            group_by);
    }
    double limit = json_get(o, "limit") ? number_or(o, "limit", QDRANT_DEFAULT_LIMIT)
                                        : number_or(o, "top", QDRANT_DEFAULT_LIMIT);
    if (group) limit = number_or(o, "limit", 0) * number_or(o, "group_size", 1);
    if (check_limit(j, limit, s->max_query_limit, "limit")) return -1;
    if (check_filter(j, s, json_get(o, "filter"), 0)) return -1;
    const JsonValue *q = json_get(o, "query");
    if (s->unindexed_retrieve == 0 && q && q->type == JSON_OBJECT && json_get(q, "formula")) {
        FilterWalk w = { .s = s, .check_index = 1 };
        walk_expr(j, &w, json_get(q, "formula"));
        if (w.unindexed) return unindexed_fail(j, &w, "formula expression");
    }
    return check_params(j, s, json_get(o, "params"));
}

/* ---- writes ---- */

/* check_sparse_multi: the per-vector sparse and multivector limits of
 * one point's vector struct (named vectors only, as in Qdrant). */
static int check_vector_struct(ApiJob *j, const Strict *s, const JsonValue *v)
{
    if (!v || v->type != JSON_OBJECT) return 0;
    /* {name: {max_length}} (Qdrant flattens its config map into the
     * object; a "config" member holding the map is read too). */
    const JsonValue *sc = s->sparse_config, *mc = s->multivector_config;
    if (sc && json_get(sc, "config")) sc = json_get(sc, "config");
    if (mc && json_get(mc, "config")) mc = json_get(mc, "config");
    for (uint32_t i = 0; i < v->len; i++) {
        const JsonMember *m = &v->u.members[i];
        if (m->value.type == JSON_OBJECT && json_get(&m->value, "indices")) {
            Limit l = get_limit(sc ? json_get(sc, m->key) : NULL, "max_length");
            const JsonValue *ix = json_get(&m->value, "indices"), *vals = json_get(&m->value, "values");
            size_t n = ix && ix->type == JSON_ARRAY ? ix->len : 0;
            size_t nv = vals && vals->type == JSON_ARRAY ? vals->len : 0;
            if (l.has && ((double)n > l.v || (double)nv > l.v))
                return api_fail(j, QERR_BAD_REQUEST,
                                "Sparse vector '%s' has a limit of %.0f indices, but %zu were provided!",
                                m->key, l.v, n);
        } else if (m->value.type == JSON_ARRAY && m->value.len &&
                   api_item(j, &m->value, 0)->type == JSON_ARRAY) {
            Limit l = get_limit(mc ? json_get(mc, m->key) : NULL, "max_vectors");
            if (l.has && (double)m->value.len > l.v)
                return api_fail(j, QERR_BAD_REQUEST,
                                "Multivector '%s' has a limit of %.0f vectors, but %u were provided!",
                                m->key, l.v, m->value.len);
        }
    }
    return 0;
}

/* size_fail: Qdrant's "Max {what} storage size limit of {MB}MB reached!",
 * the limit in MB printed as an f32 in its shortest form. */
static int size_fail(ApiJob *j, const char *what, double limit_bytes)
{
    Buf b;
    buf_init(&b);
    JsonWriter w;
    jw_init(&w, &b);
    jw_float(&w, (float)(limit_bytes / (1024.0 * 1024.0)));
    api_fail(j, QERR_BAD_REQUEST, "Max %s storage size limit of %sMB reached!", what, b.data);
    buf_free(&b);
    return -1;
}

/* check_payload_size: at or over max_collection_payload_size_bytes, Qdrant
 * refuses inserts, vector updates and payload sets. Its figure is of its
 * own storage (128-byte blocks, superseded values until a flush); here it
 * is the bytes of the payloads the collection holds (the JSON text
 * stored), which the writer keeps exact. */
static int check_payload_size(ApiJob *j, const Strict *s)
{
    if (s->max_collection_payload_size_bytes.has &&
        (double)s->info->payload_bytes >= s->max_collection_payload_size_bytes.v)
        return size_fail(j, "payload", s->max_collection_payload_size_bytes.v);
    return 0;
}

/* check_collection_size: Qdrant refuses inserts once the collection is at
 * or over a size limit (check_collection_size_limit). */
static int check_collection_size(ApiJob *j, const Strict *s)
{
    const CollectionInfo *ci = s->info;
    if (s->max_collection_vector_size_bytes.has) {
        double bytes = 0;
        for (int v = 0; v < ci->config.n_vectors; v++)
            bytes += (double)ci->vector_counts[v] * ci->config.vectors[v].size * sizeof(float);
        if (bytes >= s->max_collection_vector_size_bytes.v)
            return size_fail(j, "vector", s->max_collection_vector_size_bytes.v);
    }
    if (check_payload_size(j, s)) return -1;
    if (s->max_points_count.has && (double)ci->points_count >= s->max_points_count.v)
        return api_fail(j, QERR_BAD_REQUEST, "Max points count limit of %.0f reached!",
                        s->max_points_count.v);
    return 0;
}

/* check_insert: an upsert body ({"points": [...]} or {"batch": {...}}) or
 * a vector update ({"points": [...]}, name "update limit"). */
static int check_insert(ApiJob *j, const Strict *s, const JsonValue *o, const char *what)
{
    if (!o || o->type != JSON_OBJECT) return 0;
    const JsonValue *pts = json_get(o, "points"), *batch = json_get(o, "batch");
    size_t n = 0;
    if (pts && pts->type == JSON_ARRAY) n = pts->len;
    else if (batch && batch->type == JSON_OBJECT) {
        const JsonValue *ids = json_get(batch, "ids");
        n = ids && ids->type == JSON_ARRAY ? ids->len : 0;
    }
    if (check_limit(j, (double)n, s->upsert_max_batchsize, what) || check_collection_size(j, s))
        return -1;
    if (pts && pts->type == JSON_ARRAY) {
        for (uint32_t i = 0; i < pts->len; i++) {
            const JsonValue *p = api_item(j, pts, i);
            if (check_vector_struct(j, s, json_get(p, "vector"))) return -1;
        }
    } else if (batch && batch->type == JSON_OBJECT) {
        /* Named batch vectors: {name: [v0, v1, ...]}, sparse ones objects. */
        const JsonValue *vs = json_get(batch, "vectors");
        for (uint32_t i = 0; vs && vs->type == JSON_OBJECT && i < vs->len; i++) {
            const JsonMember *m = &vs->u.members[i];
            for (uint32_t k = 0; m->value.type == JSON_ARRAY && k < m->value.len; k++) {
                JsonMember one = { .key = m->key, .key_len = m->key_len, .value = *api_item(j, &m->value, k) };
                JsonValue single = { .type = JSON_OBJECT, .len = 1, .u.members = &one };
                if (check_vector_struct(j, s, &single)) return -1;
            }
        }
    }
    return 0;
}

/* check_update_op: one operation of points/batch. */
static int check_update_op(ApiJob *j, const Strict *s, const JsonValue *op)
{
    if (!op || op->type != JSON_OBJECT || op->len != 1) return 0;
    const char *kind = op->u.members[0].key;
    const JsonValue *body = &op->u.members[0].value;
    if (!strcmp(kind, "upsert")) return check_insert(j, s, body, "upsert limit");
    if (!strcmp(kind, "update_vectors")) return check_insert(j, s, body, "update limit");
    if ((!strcmp(kind, "set_payload") || !strcmp(kind, "overwrite_payload")) && check_payload_size(j, s))
        return -1;
    return check_filter(j, s, json_get(body, "filter"), 1);
}

/* ---- rate limits ---- */

/* One collection's bucket (per kind), keyed by the collection's id, so
 * that a collection made again under the same name starts afresh. */
typedef struct {
    uint32_t id;
    int write;
    double capacity; /* tokens a minute, as configured */
    double tokens;
    uint64_t last_ns;
} RateBucket;

struct ApiRates {
    pthread_mutex_t lock;
    RateBucket *b;
    size_t n, cap;
};

void qdrant_strict_start(Api *api)
{
    api->rates = xcalloc(1, sizeof *api->rates);
    pthread_mutex_init(&api->rates->lock, NULL);
}

void qdrant_strict_free(Api *api)
{
    if (!api->rates) return;
    free(api->rates->b);
    pthread_mutex_destroy(&api->rates->lock);
    free(api->rates);
    api->rates = NULL;
}

void qdrant_strict_reset(Api *api, uint32_t id)
{
    struct ApiRates *r = api->rates;
    pthread_mutex_lock(&r->lock);
    size_t k = 0;
    for (size_t i = 0; i < r->n; i++)
        if (r->b[i].id != id) r->b[k++] = r->b[i];
    r->n = k;
    pthread_mutex_unlock(&r->lock);
}

/* filter_cost: Qdrant's filter_rate_cost, the filter's conditions. */
static size_t filter_cost(ApiJob *j, const JsonValue *f)
{
    FilterWalk w = { 0 };
    walk_filter(j, &w, f, NULL);
    return w.conditions;
}

/* is_id: a point id given where a vector could be. */
static int is_id(const JsonValue *v)
{
    return v && (v->type == JSON_NUMBER || v->type == JSON_STRING);
}

/* count_ids: the point ids among examples (a value or an array). */
static size_t count_ids(ApiJob *j, const JsonValue *v)
{
    if (!v) return 0;
    if (v->type != JSON_ARRAY) return is_id(v);
    size_t n = 0;
    for (uint32_t i = 0; i < v->len; i++) n += is_id(api_item(j, v, i));
    return n;
}

/* context_ids: the ids of a discovery context (a pair or a list of pairs). */
static size_t context_ids(ApiJob *j, const JsonValue *c)
{
    if (!c) return 0;
    size_t n = 0, k = c->type == JSON_ARRAY ? c->len : 1;
    for (size_t i = 0; i < k; i++) {
        const JsonValue *p = c->type == JSON_ARRAY ? api_item(j, c, i) : c;
        n += count_ids(j, json_get(p, "positive")) + count_ids(j, json_get(p, "negative"));
    }
    return n;
}

/* example_ids: the points a request reads as examples (Qdrant rate-limits
 * their retrieval: one token each). */
static size_t example_ids(ApiJob *j, const JsonValue *o)
{
    size_t n = count_ids(j, json_get(o, "positive")) + count_ids(j, json_get(o, "negative")) +
               count_ids(j, json_get(o, "target")) + context_ids(j, json_get(o, "context"));
    const JsonValue *q = json_get(o, "query");
    if (is_id(q)) return n + 1;
    if (q && q->type == JSON_OBJECT) {
        const JsonValue *x;
        if ((x = json_get(q, "nearest"))) n += is_id(x);
        if ((x = json_get(q, "recommend")))
            n += count_ids(j, json_get(x, "positive")) + count_ids(j, json_get(x, "negative"));
        if ((x = json_get(q, "discover"))) n += count_ids(j, json_get(x, "target")) + context_ids(j, json_get(x, "context"));
        if ((x = json_get(q, "context"))) n += context_ids(j, x);
    }
    return n;
}

/* search_cost: per search, its query vectors (a multivector's count) and
 * its filter's conditions, plus the example points it reads and, when it
 * reads some, the filter that excludes them; prefetches too. */
static size_t search_cost(ApiJob *j, const JsonValue *o)
{
    if (!o || o->type != JSON_OBJECT) return 1;
    const JsonValue *q = json_get(o, "query");
    size_t vectors = 1;
    if (q && q->type == JSON_ARRAY && q->len && api_item(j, q, 0)->type == JSON_ARRAY) vectors = q->len;
    size_t ids = example_ids(j, o);
    size_t cost = vectors + filter_cost(j, json_get(o, "filter")) + ids + (ids ? 1 : 0);
    const JsonValue *pf = json_get(o, "prefetch");
    size_t n = pf ? (pf->type == JSON_ARRAY ? pf->len : 1) : 0;
    for (size_t i = 0; i < n; i++) cost += search_cost(j, pf->type == JSON_ARRAY ? api_item(j, pf, i) : pf);
    return cost;
}

/* matched: the points a write's filter selects, estimated as Qdrant
 * does: exactly when every key it reads is indexed, else half the
 * collection (an unindexed condition's expected cardinality); at least 1. */
static size_t matched(ApiJob *j, const Strict *s, const JsonValue *f)
{
    FilterWalk w = { .s = s, .check_index = 1 };
    walk_filter(j, &w, f, NULL);
    uint64_t n = 0;
    char err[256];
    if (w.unindexed) n = s->info->points_count / 2;
    else if (collection_count(j->api->db, j->collection, f, &n, err, sizeof err)) n = 0;
    return n ? (size_t)n : 1;
}

/* write_cost: the points one write operation touches. */
static size_t write_cost(ApiJob *j, const Strict *s, const JsonValue *body)
{
    if (!body || body->type != JSON_OBJECT) return 1;
    const JsonValue *pts = json_get(body, "points"), *batch = json_get(body, "batch");
    const JsonValue *f = json_get(body, "filter");
    size_t n = 0;
    if (pts && pts->type == JSON_ARRAY) n = pts->len;
    else if (batch && batch->type == JSON_OBJECT) {
        const JsonValue *ids = json_get(batch, "ids");
        n = ids && ids->type == JSON_ARRAY ? ids->len : 0;
    } else if (f && f->type == JSON_OBJECT) {
        n = matched(j, s, f);
    }
    return n ? n : 1;
}

/* rate_consume: Qdrant's RateLimiter::try_consume on the collection's
 * bucket; 0, or -1 after api_fail (429). */
static int rate_consume(ApiJob *j, const Strict *s, int write, size_t cost)
{
    Limit limit = write ? s->write_rate_limit : s->read_rate_limit;
    if (!limit.has || limit.v < 1) return 0;
    const char *kind = write ? "Write" : "Read";
    if ((double)cost > limit.v)
        return api_fail(j, QERR_RATE_LIMITED,
                        "%s rate limit exceeded, request larger than rate limiter capacity, please "
                        "try to split your request",
                        kind);
    struct ApiRates *r = j->api->rates;
    uint64_t now = now_ns();
    double available = 0, retry = 0;
    int ok;
    pthread_mutex_lock(&r->lock);
    RateBucket *b = NULL;
    for (size_t i = 0; i < r->n && !b; i++)
        if (r->b[i].write == write && r->b[i].id == s->info->id)
            b = &r->b[i];
    if (!b) {
        if (r->n == r->cap) {
            r->cap = r->cap ? r->cap * 2 : 8;
            r->b = xrealloc(r->b, r->cap * sizeof *r->b);
        }
        b = &r->b[r->n++];
        memset(b, 0, sizeof *b);
        b->id = s->info->id;
        b->write = write;
    }
    if (b->capacity != limit.v) {
        /* A new or changed limit starts with a full bucket, as Qdrant
         * makes a new limiter when the config changes. */
        b->capacity = limit.v;
        b->tokens = limit.v;
        b->last_ns = now;
    }
    double per_sec = b->capacity / 60.0;
    b->tokens += per_sec * (double)(now - b->last_ns) / 1e9;
    if (b->tokens > b->capacity) b->tokens = b->capacity;
    b->last_ns = now;
    ok = b->tokens >= (double)cost;
    if (ok) b->tokens -= (double)cost;
    else {
        available = b->tokens;
        retry = ((double)cost - b->tokens) / per_sec;
    }
    pthread_mutex_unlock(&r->lock);
    if (ok) return 0;
    unsigned secs = (unsigned)ceil(retry);
    j->retry_after = secs ? secs : 1;
    return api_fail(j, QERR_RATE_LIMITED,
                    "%s rate limit exceeded: Operation requires %zu tokens but only %.1f were "
                    "available. Retry after %us",
                    kind, cost, available, j->retry_after);
}

/* ---- the entry point ---- */

static int load(ApiJob *j, Strict *s)
{
    memset(s, 0, sizeof *s);
    s->info = api_job_info(j);
    if (!s->info) return 0; /* the route reports it */
    const char *opts = s->info->config.options;
    if (!strstr(opts, "strict_mode_config")) return 0;
    JsonValue *o = NULL;
    char err[64];
    if (json_parse(api_arena(j), opts, strlen(opts), &o, err, sizeof err)) return 0;
    const JsonValue *c = json_get(o, "strict_mode_config");
    if (!c || c->type != JSON_OBJECT || get_flag(c, "enabled") != 1) return 0;
    s->max_query_limit = get_limit(c, "max_query_limit");
    s->max_timeout = get_limit(c, "max_timeout");
    s->search_max_hnsw_ef = get_limit(c, "search_max_hnsw_ef");
    s->search_max_oversampling = get_limit(c, "search_max_oversampling");
    s->upsert_max_batchsize = get_limit(c, "upsert_max_batchsize");
    s->search_max_batchsize = get_limit(c, "search_max_batchsize");
    s->max_collection_vector_size_bytes = get_limit(c, "max_collection_vector_size_bytes");
    s->max_collection_payload_size_bytes = get_limit(c, "max_collection_payload_size_bytes");
    s->max_points_count = get_limit(c, "max_points_count");
    s->filter_max_conditions = get_limit(c, "filter_max_conditions");
    s->condition_max_size = get_limit(c, "condition_max_size");
    s->max_payload_index_count = get_limit(c, "max_payload_index_count");
    s->unindexed_retrieve = get_flag(c, "unindexed_filtering_retrieve");
    s->unindexed_update = get_flag(c, "unindexed_filtering_update");
    s->allow_exact = get_flag(c, "search_allow_exact");
    s->read_rate_limit = get_limit(c, "read_rate_limit");
    s->write_rate_limit = get_limit(c, "write_rate_limit");
    s->sparse_config = json_get(c, "sparse_config");
    s->multivector_config = json_get(c, "multivector_config");
    return 1;
}

/* Route suffixes after /collections/{collection_name}. */
static int is(const char *pattern, const char *method, const ApiJob *j, const char *suffix)
{
    return !strcmp(j->route->method, method) && !strcmp(pattern, suffix);
}

/* check_limits: every limit but the rates, for the route pat. */
static int check_limits(ApiJob *j, const Strict *sp, const char *pat)
{
    Strict s = *sp;
    const char *timeout = http_query_get(j->req, "timeout");
    if (timeout) {
        uint64_t t;
        if (!parse_u64(timeout, &t) && check_limit(j, (double)t, s.max_timeout, "timeout")) return -1;
    }
    const JsonValue *b = j->body;
    int query = is(pat, "POST", j, "/points/query") || is(pat, "POST", j, "/points/query/groups") ||
                is(pat, "POST", j, "/points/query/batch");
    if (is(pat, "POST", j, "/points/search") || is(pat, "POST", j, "/points/recommend") ||
        is(pat, "POST", j, "/points/discover") || is(pat, "POST", j, "/points/query"))
        return check_search(j, &s, b, 0, query);
    if (is(pat, "POST", j, "/points/search/groups") || is(pat, "POST", j, "/points/recommend/groups") ||
        is(pat, "POST", j, "/points/query/groups"))
        return check_search(j, &s, b, 1, query);
    if (is(pat, "POST", j, "/points/search/batch") || is(pat, "POST", j, "/points/recommend/batch") ||
        is(pat, "POST", j, "/points/discover/batch") || is(pat, "POST", j, "/points/query/batch")) {
        const JsonValue *list = json_get(b, "searches");
        if (!list || list->type != JSON_ARRAY) return 0;
        if ((is(pat, "POST", j, "/points/search/batch") || is(pat, "POST", j, "/points/query/batch")) &&
            check_limit(j, list->len, s.search_max_batchsize, "search batch size"))
            return -1;
        for (uint32_t i = 0; i < list->len; i++)
            if (check_search(j, &s, api_item(j, list, i), 0, query)) return -1;
        return 0;
    }
    if (is(pat, "POST", j, "/points/scroll"))
        return check_limit(j, number_or(b, "limit", QDRANT_DEFAULT_LIMIT), s.max_query_limit, "limit") ||
               check_filter(j, &s, json_get(b, "filter"), 0);
    if (is(pat, "POST", j, "/points/count")) {
        const JsonValue *ex = json_get(b, "exact");
        return check_filter(j, &s, json_get(b, "filter"), 0) ||
               check_exact(j, &s, !(ex && ex->type == JSON_BOOL && !ex->u.boolean));
    }
    if (is(pat, "POST", j, "/facet")) {
        const JsonValue *ex = json_get(b, "exact");
        return check_limit(j, number_or(b, "limit", COLLECTION_DEFAULT_FACET_LIMIT), s.max_query_limit, "limit") ||
               check_filter(j, &s, json_get(b, "filter"), 0) ||
               check_exact(j, &s, ex && ex->type == JSON_BOOL && ex->u.boolean);
    }
    if (is(pat, "POST", j, "/points/search/matrix/pairs") || is(pat, "POST", j, "/points/search/matrix/offsets")) {
        const JsonValue *l = json_get(b, "limit"), *sm = json_get(b, "sample");
        double q = (l && l->type == JSON_NUMBER ? l->u.num : 1) * (sm && sm->type == JSON_NUMBER ? sm->u.num : 1);
        if ((l && l->type == JSON_NUMBER) || (sm && sm->type == JSON_NUMBER))
            if (check_limit(j, q, s.max_query_limit, "limit")) return -1;
        return check_filter(j, &s, json_get(b, "filter"), 0);
    }
    if (is(pat, "PUT", j, "/points")) return check_insert(j, &s, b, "upsert limit");
    if (is(pat, "PUT", j, "/points/vectors")) return check_insert(j, &s, b, "update limit");
    if ((is(pat, "POST", j, "/points/payload") || is(pat, "PUT", j, "/points/payload")) &&
        check_payload_size(j, &s))
        return -1;
    if (is(pat, "POST", j, "/points/delete") || is(pat, "POST", j, "/points/payload") ||
        is(pat, "PUT", j, "/points/payload") || is(pat, "POST", j, "/points/payload/delete") ||
        is(pat, "POST", j, "/points/payload/clear") || is(pat, "POST", j, "/points/vectors/delete"))
        return check_filter(j, &s, json_get(b, "filter"), 1);
    if (is(pat, "POST", j, "/points/batch")) {
        const JsonValue *ops = json_get(b, "operations");
        for (uint32_t i = 0; ops && ops->type == JSON_ARRAY && i < ops->len; i++)
            if (check_update_op(j, &s, api_item(j, ops, i))) return -1;
        return 0;
    }
    if (is(pat, "PUT", j, "/index") && s.max_payload_index_count.has) {
        /* Replacing an existing index adds none. */
        const char *field = json_as_str(json_get(b, "field_name"));
        for (size_t i = 0; field && i < s.info->n_indexes; i++)
            if (!strcmp(s.info->indexes[i].field, field)) return 0;
        if ((double)s.info->n_indexes >= s.max_payload_index_count.v)
            return api_fail(j, QERR_BAD_REQUEST,
                            "Collection already has the maximum number of payload indices (%.0f). "
                            "Help: Please delete an existing index before creating a new one.",
                            s.max_payload_index_count.v);
    }
    return 0;
}

/* rate_cost: what the request costs, and whether it is a write (-1: the
 * route is not rate limited). */
static int rate_cost(ApiJob *j, const Strict *s, const char *pat, size_t *cost)
{
    const JsonValue *b = j->body;
    *cost = 1;
    if (!strcmp(j->route->method, "GET")) return !strcmp(pat, "/points/{id}") ? 0 : -1;
    if (!strcmp(pat, "/points")) {
        if (!strcmp(j->route->method, "PUT")) {
            *cost = write_cost(j, s, b);
            return 1;
        }
        const JsonValue *ids = json_get(b, "ids");
        *cost = ids && ids->type == JSON_ARRAY && ids->len ? ids->len : 1;
        return 0;
    }
    if (!strcmp(pat, "/points/batch")) {
        const JsonValue *ops = json_get(b, "operations");
        size_t total = 0;
        for (uint32_t i = 0; ops && ops->type == JSON_ARRAY && i < ops->len; i++) {
            const JsonValue *op = api_item(j, ops, i);
            if (op->type == JSON_OBJECT && op->len == 1) total += write_cost(j, s, &op->u.members[0].value);
        }
        *cost = total ? total : 1;
        return 1;
    }
    if (!strcmp(pat, "/points/vectors") || !strcmp(pat, "/points/delete") || !strncmp(pat, "/points/payload", 15) ||
        !strcmp(pat, "/points/vectors/delete")) {
        *cost = write_cost(j, s, b);
        return 1;
    }
    if (!strcmp(pat, "/index")) return -1;
    const JsonValue *list = json_get(b, "searches");
    if (list && list->type == JSON_ARRAY) {
        size_t total = 0;
        for (uint32_t i = 0; i < list->len; i++) total += search_cost(j, api_item(j, list, i));
        *cost = total ? total : 1;
        return 0;
    }
    *cost = search_cost(j, b);
    return 0;
}

int qdrant_strict_check(ApiJob *j)
{
    static const char prefix[] = "/collections/{collection_name}";
    const char *pat = j->route->pattern;
    if (!j->collection || strncmp(pat, prefix, sizeof prefix - 1)) return 0;
    pat += sizeof prefix - 1;
    /* Only routes that strict mode governs pay for reading the config. */
    if (strncmp(pat, "/points", 7) && strcmp(pat, "/facet") && strcmp(pat, "/index")) return 0;
    Strict s;
    if (!load(j, &s)) return 0;
    if (check_limits(j, &s, pat)) return -1;
    size_t cost;
    int write = rate_cost(j, &s, pat, &cost);
    return write < 0 ? 0 : rate_consume(j, &s, write, cost);
}
