/*
 * payload.c - Qdrant's set_payload and delete_payload on a JSON DOM (see
 * payload.h for the exact rules).
 *
 * Design. The input payload is deep-copied into the caller's arena and the
 * copy is edited in place: a member is replaced by overwriting its value,
 * removed by shifting the later members down, and appended by moving the
 * member array to a new arena block one longer (the old block stays in
 * the arena until it is freed; payloads are small and edits few, so this
 * beats a separate growable structure). The JSON paths are parsed with
 * filter_path_parse, so a key means the same in a filter and an update.
 * The rules transcribe Qdrant's json_path/mod.rs (value_set,
 * value_set_map, value_remove) and common/utils.rs (merge_map).
 */
#include "index/payload.h"

#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "index/filter.h"


/* copy_into deep-copies src into *dst (whose storage the caller owns). A
 * packed array (json_parse_packed) is copied as nodes: the copy is what
 * gets edited, in place through u.items, and payloads are small enough
 * that the 24 bytes a number cost nothing that matters. */
static void copy_into(Arena *a, JsonValue *dst, const JsonValue *src)
{
    *dst = *src;
    switch (src->type) {
    case JSON_STRING: dst->u.str = arena_strndup(a, src->u.str, src->len); break;
    case JSON_ARRAY:
        dst->flags &= (uint8_t)~JSON_FLAG_PACKED;
        dst->n.u = 0;
        dst->u.items = src->len ? arena_alloc(a, src->len * sizeof(JsonValue)) : NULL;
        for (uint32_t i = 0; i < src->len; i++) {
            JsonValue item = json_item(src, i);
            copy_into(a, &dst->u.items[i], &item);
        }
        break;
    case JSON_OBJECT:
        dst->u.members = src->len ? arena_alloc(a, src->len * sizeof(JsonMember)) : NULL;
        for (uint32_t i = 0; i < src->len; i++) {
            const JsonMember *m = &src->u.members[i];
            dst->u.members[i].key = arena_strndup(a, m->key, m->key_len);
            dst->u.members[i].key_len = m->key_len;
            copy_into(a, &dst->u.members[i].value, &m->value);
        }
        break;
    default: break;
    }
}

JsonValue *payload_copy(Arena *arena, const JsonValue *v)
{
    JsonValue *out = arena_alloc(arena, sizeof *out);
    copy_into(arena, out, v);
    return out;
}

static void make_empty(JsonValue *v, int type)
{
    memset(v, 0, sizeof *v);
    v->type = (uint8_t)type;
}

static JsonMember *find_member(JsonValue *obj, const char *key, uint32_t len)
{
    for (uint32_t i = 0; i < obj->len; i++) {
        JsonMember *m = &obj->u.members[i];
        if (m->key_len == len && memcmp(m->key, key, len) == 0) return m;
    }
    return NULL;
}

/* remove_members drops every member named key (a DOM read from JSON may
 * hold duplicates; a JSON map has one). Returns how many were removed. */
static uint32_t remove_members(JsonValue *obj, const char *key, uint32_t len)
{
    uint32_t w = 0, removed = 0;
    for (uint32_t r = 0; r < obj->len; r++) {
        JsonMember *m = &obj->u.members[r];
        if (m->key_len == len && memcmp(m->key, key, len) == 0) {
            removed++;
            continue;
        }
        obj->u.members[w++] = *m;
    }
    obj->len = w;
    return removed;
}

/* append_member adds key: value (already in the arena) at the end. */
static JsonMember *append_member(Arena *a, JsonValue *obj, const char *key, uint32_t len)
{
    JsonMember *m = arena_alloc(a, (obj->len + 1) * sizeof(JsonMember));
    if (obj->len) memcpy(m, obj->u.members, obj->len * sizeof(JsonMember));
    obj->u.members = m;
    JsonMember *nm = &m[obj->len++];
    nm->key = arena_strndup(a, key, len);
    nm->key_len = len;
    make_empty(&nm->value, JSON_NULL);
    return nm;
}

/* merge_map: Qdrant's merge of src's members into object dest. */
static void merge_map(Arena *a, JsonValue *dest, const JsonValue *src)
{
    for (uint32_t i = 0; i < src->len; i++) {
        const JsonMember *s = &src->u.members[i];
        if (s->value.type == JSON_NULL) {
            remove_members(dest, s->key, s->key_len);
            continue;
        }
        JsonMember *m = find_member(dest, s->key, s->key_len);
        if (!m) m = append_member(a, dest, s->key, s->key_len);
        copy_into(a, &m->value, &s->value);
    }
}

static void value_set(Arena *a, const FilterPathItem *it, uint32_t n, JsonValue *dest, const JsonValue *src);

/* value_set_map descends into (or creates) member key of object obj. */
static void value_set_map(Arena *a, const FilterPathItem *key, const FilterPathItem *rest, uint32_t n,
                          JsonValue *obj, const JsonValue *src)
{
    JsonMember *m = find_member(obj, key->key, key->len);
    if (!m) m = append_member(a, obj, key->key, key->len);
    value_set(a, rest, n, &m->value, src);
}

static void value_set(Arena *a, const FilterPathItem *it, uint32_t n, JsonValue *dest, const JsonValue *src)
{
    if (n == 0) {
        if (dest->type != JSON_OBJECT) make_empty(dest, JSON_OBJECT);
        merge_map(a, dest, src);
        return;
    }
    switch (it->kind) {
    case FILTER_PATH_KEY:
        if (dest->type != JSON_OBJECT) make_empty(dest, JSON_OBJECT);
        value_set_map(a, it, it + 1, n - 1, dest, src);
        return;
    case FILTER_PATH_INDEX:
        if (dest->type != JSON_ARRAY)
            make_empty(dest, JSON_ARRAY);
        else if (it->index < dest->len)
            value_set(a, it + 1, n - 1, &dest->u.items[it->index], src);
        return;
    default:
        if (dest->type == JSON_ARRAY) {
            for (uint32_t i = 0; i < dest->len; i++) value_set(a, it + 1, n - 1, &dest->u.items[i], src);
        } else {
            make_empty(dest, JSON_ARRAY);
        }
        return;
    }
}

/* depth counts nested containers the way the JSON reader limits them.
 * (Not MAX(d, depth(...)): the macro would evaluate the call twice, which
 * is exponential in the depth.) */
static int depth(const JsonValue *v)
{
    int d = 0;
    if (v->type != JSON_ARRAY && v->type != JSON_OBJECT) return 0;
    for (uint32_t i = 0; i < v->len; i++) {
        int c = depth(v->type == JSON_ARRAY ? &v->u.items[i] : &v->u.members[i].value);
        if (c > d) d = c;
    }
    return d + 1;
}

/* start_copy validates payload and copies it (NULL: {}). */
static int start_copy(Arena *a, const JsonValue *payload, JsonValue **out, char *err, size_t errlen)
{
    if (payload && payload->type != JSON_OBJECT && payload->type != JSON_NULL) {
        err_set(err, errlen, 0, "payload must be a JSON object");
        return ERR_INVAL;
    }
    JsonValue *copy = arena_alloc(a, sizeof *copy);
    if (payload && payload->type == JSON_OBJECT)
        copy_into(a, copy, payload);
    else
        make_empty(copy, JSON_OBJECT);
    *out = copy;
    return 0;
}

int payload_set(Arena *arena, const JsonValue *payload, const JsonValue *set_obj, const char *key,
                JsonValue **out, char *err, size_t errlen)
{
    if (err && errlen) err[0] = '\0';
    if (!set_obj || set_obj->type != JSON_OBJECT) {
        err_set(err, errlen, 0, "payload to set must be a JSON object");
        return ERR_INVAL;
    }
    FilterPath path = { NULL, 0 };
    if (key && *key && filter_path_parse(arena, key, strlen(key), &path) != 0) {
        err_set(err, errlen, 0, "key: invalid key path \"%.64s\"", key);
        return ERR_INVAL;
    }
    JsonValue *copy;
    int rc = start_copy(arena, payload, &copy, err, errlen);
    if (rc) return rc;
    value_set(arena, path.items, path.n, copy, set_obj);
    if (depth(copy) > JSON_MAX_DEPTH) {
        err_set(err, errlen, 0, "the resulting payload would nest deeper than %d levels", JSON_MAX_DEPTH);
        return ERR_INVAL;
    }
    *out = copy;
    return 0;
}

/* value_remove: Qdrant's removal of the path it[0..n) below v (n >= 1). */
static void value_remove(const FilterPathItem *it, uint32_t n, JsonValue *v)
{
    if (n > 1) {
        if (it->kind == FILTER_PATH_KEY && v->type == JSON_OBJECT) {
            JsonMember *m = find_member(v, it->key, it->len);
            if (m) value_remove(it + 1, n - 1, &m->value);
        } else if (it->kind == FILTER_PATH_INDEX && v->type == JSON_ARRAY) {
            if (it->index < v->len) value_remove(it + 1, n - 1, &v->u.items[it->index]);
        } else if (it->kind == FILTER_PATH_WILDCARD && v->type == JSON_ARRAY) {
            for (uint32_t i = 0; i < v->len; i++) value_remove(it + 1, n - 1, &v->u.items[i]);
        }
        return;
    }
    if (it->kind == FILTER_PATH_KEY && v->type == JSON_OBJECT)
        remove_members(v, it->key, it->len);
    else if (it->kind == FILTER_PATH_WILDCARD && v->type == JSON_ARRAY)
        v->len = 0; /* Qdrant takes the elements and leaves [] */
    /* A final [N] removes nothing: deleting by index is not idempotent. */
}

int payload_delete_keys(Arena *arena, const JsonValue *payload, const JsonValue *keys, JsonValue **out,
                        char *err, size_t errlen)
{
    if (err && errlen) err[0] = '\0';
    if (!keys || keys->type != JSON_ARRAY) {
        err_set(err, errlen, 0, "keys must be an array of key path strings");
        return ERR_INVAL;
    }
    /* Parse every path first so a bad one changes nothing. */
    FilterPath *paths = arena_alloc(arena, keys->len * sizeof(FilterPath));
    for (uint32_t i = 0; i < keys->len; i++) {
        JsonValue key = json_item(keys, i);
        const JsonValue *k = &key;
        if (k->type != JSON_STRING || filter_path_parse(arena, k->u.str, k->len, &paths[i]) != 0) {
            if (k->type == JSON_STRING)
                err_set(err, errlen, 0, "keys[%u]: invalid key path \"%.*s\"", i, (int)MIN(k->len, 64), k->u.str);
            else
                err_set(err, errlen, 0, "keys[%u]: expected a key path string", i);
            return ERR_INVAL;
        }
    }
    JsonValue *copy;
    int rc = start_copy(arena, payload, &copy, err, errlen);
    if (rc) return rc;
    for (uint32_t i = 0; i < keys->len; i++) value_remove(paths[i].items, paths[i].n, copy);
    *out = copy;
    return 0;
}

/* ---- selection (with_payload include / exclude) ---- */

typedef struct {
    const FilterPath *patterns;
    size_t n;
    int include;
    FilterPathItem path[JSON_MAX_DEPTH + 2]; /* the node being looked at */
    uint32_t depth;
} Select;

static int item_equal(const FilterPathItem *a, const FilterPathItem *b)
{
    if (a->kind != b->kind) return 0;
    if (a->kind == FILTER_PATH_KEY) return a->len == b->len && !memcmp(a->key, b->key, a->len);
    if (a->kind == FILTER_PATH_INDEX) return a->index == b->index;
    return 1;
}

/* keep decides a node by Qdrant's check_include_pattern (some pattern and
 * the path agree on every item both have) or check_exclude_pattern (no
 * pattern is a prefix of the path). */
static int keep(const Select *s)
{
    for (size_t p = 0; p < s->n; p++) {
        const FilterPath *pat = &s->patterns[p];
        uint32_t common = pat->n < s->depth ? pat->n : s->depth;
        int agree = 1;
        for (uint32_t i = 0; i < common && agree; i++) agree = item_equal(&pat->items[i], &s->path[i]);
        if (s->include && agree) return 1;
        if (!s->include && agree && pat->n <= s->depth) return 0;
    }
    return !s->include;
}

/* select_value writes v with its descendants filtered by keep, as
 * Qdrant's run_filter: array elements get the path item `[]`. */
static void select_value(JsonWriter *w, Select *s, const JsonValue *v)
{
    if (s->depth > JSON_MAX_DEPTH) { /* deeper than the reader allows: copy */
        jw_value(w, v);
        return;
    }
    if (v->type == JSON_ARRAY) {
        jw_array_begin(w);
        s->path[s->depth].kind = FILTER_PATH_WILDCARD;
        s->depth++;
        if (keep(s))
            for (uint32_t i = 0; i < v->len; i++) {
                JsonValue item = json_item(v, i);
                select_value(w, s, &item);
            }
        s->depth--;
        jw_array_end(w);
    } else if (v->type == JSON_OBJECT) {
        jw_object_begin(w);
        for (uint32_t i = 0; i < v->len; i++) {
            const JsonMember *m = &v->u.members[i];
            FilterPathItem *it = &s->path[s->depth];
            it->kind = FILTER_PATH_KEY;
            it->key = m->key;
            it->len = m->key_len;
            s->depth++;
            if (keep(s)) {
                jw_key_len(w, m->key, m->key_len);
                select_value(w, s, &m->value);
            }
            s->depth--;
        }
        jw_object_end(w);
    } else {
        jw_value(w, v);
    }
}

int payload_select(JsonWriter *w, const JsonValue *payload, const char *const *paths, size_t n,
                   int include, Arena *scratch, char *err, size_t errlen)
{
    FilterPath *patterns = arena_alloc(scratch, (n ? n : 1) * sizeof *patterns);
    for (size_t i = 0; i < n; i++)
        if (filter_path_parse(scratch, paths[i], strlen(paths[i]), &patterns[i]))
            return err_set(err, errlen, ERR_INVAL, "invalid payload key path \"%s\"", paths[i]);
    Select s = { patterns, n, include, { { 0 } }, 0 };
    if (!payload || payload->type != JSON_OBJECT) {
        jw_object_begin(w);
        jw_object_end(w);
        return 0;
    }
    select_value(w, &s, payload);
    return 0;
}
