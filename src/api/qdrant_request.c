/*
 * qdrant_request.c - readers of request fields with Qdrant's error
 * wording: a field of the wrong JSON type is a format error (400, what
 * serde says when a body does not deserialize into the schema), a value
 * out of its range is a validation error (422, what the validator crate
 * says), as Qdrant answers them.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "api/qdrant_internal.h"
#include "base/err.h"
#include "index/filter.h"

/* type_desc describes a JSON value the way serde's "invalid type" errors
 * do: `string "x"`, `integer 5`, `floating point 1.5`, `boolean true`... */
static void type_desc(const JsonValue *v, char *out, size_t n)
{
    switch (v->type) {
    case JSON_NULL: snprintf(out, n, "null"); break;
    case JSON_BOOL: snprintf(out, n, "boolean `%s`", v->u.boolean ? "true" : "false"); break;
    case JSON_NUMBER:
        if (v->num_kind == JSON_NUM_INT)
            snprintf(out, n, "integer `%lld`", (long long)v->n.i);
        else if (v->num_kind == JSON_NUM_UINT)
            snprintf(out, n, "integer `%llu`", (unsigned long long)v->n.u);
        else
            snprintf(out, n, "floating point `%g`", v->u.num);
        break;
    case JSON_STRING: snprintf(out, n, "string \"%.64s\"", v->u.str); break;
    case JSON_ARRAY: snprintf(out, n, "sequence"); break;
    default: snprintf(out, n, "map"); break;
    }
}

/* wrong_type fails with serde's wording for a field of the wrong type. */
static int wrong_type(ApiJob *j, const char *key, const JsonValue *v, const char *expected)
{
    char d[128];
    type_desc(v, d, sizeof d);
    return api_fail(j, QERR_FORMAT, "invalid type: %s, expected %s at `%s`", d, expected, key);
}

int api_body_object(ApiJob *j, int allow_empty)
{
    if (!j->body) {
        if (allow_empty) return 0;
        return api_fail(j, QERR_FORMAT, "EOF while parsing a value at line 1 column 0");
    }
    if (j->body->type != JSON_OBJECT) {
        char d[128];
        type_desc(j->body, d, sizeof d);
        return api_fail(j, QERR_FORMAT, "invalid type: %s, expected a map", d);
    }
    return 0;
}

int api_get_bool(ApiJob *j, const JsonValue *obj, const char *key, int *out)
{
    const JsonValue *v = json_get(obj, key);
    if (!v || v->type == JSON_NULL) return 0;
    if (v->type != JSON_BOOL) return wrong_type(j, key, v, "a boolean");
    *out = v->u.boolean;
    return 0;
}

int api_get_u64(ApiJob *j, const JsonValue *obj, const char *key, uint64_t min, uint64_t max,
                uint64_t *out)
{
    const JsonValue *v = json_get(obj, key);
    if (!v || v->type == JSON_NULL) return 0;
    uint64_t u;
    if (v->type != JSON_NUMBER || json_as_uint64(v, &u)) return wrong_type(j, key, v, "usize");
    if (u < min || u > max) {
        if (max == UINT64_MAX)
            return api_fail(j, QERR_VALIDATION, "%s%s: value %llu invalid, must be %llu or larger",
                            j->vpath, key, (unsigned long long)u, (unsigned long long)min);
        return api_fail(j, QERR_VALIDATION, "%s%s: value %llu invalid, must be from %llu to %llu",
                        j->vpath, key, (unsigned long long)u, (unsigned long long)min,
                        (unsigned long long)max);
    }
    *out = u;
    return 0;
}

int api_get_size(ApiJob *j, const JsonValue *obj, const char *key, size_t min, size_t *out)
{
    uint64_t u = *out;
    if (api_get_u64(j, obj, key, min, UINT64_MAX, &u)) return -1;
    *out = (size_t)u;
    return 0;
}

int api_get_float(ApiJob *j, const JsonValue *obj, const char *key, float *out)
{
    const JsonValue *v = json_get(obj, key);
    if (!v || v->type == JSON_NULL) return 0;
    if (v->type != JSON_NUMBER) return wrong_type(j, key, v, "f32");
    *out = (float)v->u.num;
    return 0;
}

int api_get_str(ApiJob *j, const JsonValue *obj, const char *key, const char **out)
{
    const JsonValue *v = json_get(obj, key);
    if (!v || v->type == JSON_NULL) return 0;
    if (v->type != JSON_STRING) return wrong_type(j, key, v, "a string");
    *out = v->u.str;
    return 0;
}

int api_get_object(ApiJob *j, const JsonValue *obj, const char *key, const JsonValue **out)
{
    const JsonValue *v = json_get(obj, key);
    *out = NULL;
    if (!v || v->type == JSON_NULL) return 0;
    if (v->type != JSON_OBJECT) return wrong_type(j, key, v, "a map");
    *out = v;
    return 0;
}

int api_get_array(ApiJob *j, const JsonValue *obj, const char *key, const JsonValue **out)
{
    const JsonValue *v = json_get(obj, key);
    *out = NULL;
    if (!v || v->type == JSON_NULL) return 0;
    if (v->type != JSON_ARRAY) return wrong_type(j, key, v, "a sequence");
    *out = v;
    return 0;
}

int api_point_id(ApiJob *j, const JsonValue *v, const char *what, PointId *out)
{
    char err[160];
    (void)what;
    if (point_id_from_json(v, out, err, sizeof err) == 0) return 0;
    /* Qdrant's ExtendedPointId deserializer (lib/segment/src/types.rs). */
    Buf b;
    buf_init(&b);
    JsonWriter w;
    jw_init(&w, &b);
    jw_value(&w, v);
    api_fail(j, QERR_FORMAT,
             "value %.80s is not a valid point ID, valid values are either an unsigned integer or a UUID",
             b.data);
    buf_free(&b);
    return -1;
}

int api_point_ids(ApiJob *j, const JsonValue *arr, const char *what, PointId **out, size_t *n)
{
    if (!arr || arr->type != JSON_ARRAY) {
        if (!arr) return api_fail(j, QERR_FORMAT, "missing field `%s`", what);
        return wrong_type(j, what, arr, "a sequence");
    }
    PointId *ids = arena_alloc(api_arena(j), (arr->len ? arr->len : 1) * sizeof *ids);
    for (uint32_t i = 0; i < arr->len; i++) {
        JsonValue item = json_item(arr, i); /* ids of numbers come packed */
        if (api_point_id(j, &item, what, &ids[i])) return -1;
    }
    *out = ids;
    *n = arr->len;
    return 0;
}

int api_floats(ApiJob *j, const JsonValue *arr, const char *what, float **out, size_t *n)
{
    if (!arr || arr->type != JSON_ARRAY) {
        if (!arr) return api_fail(j, QERR_FORMAT, "missing field `%s`", what);
        return wrong_type(j, what, arr, "a sequence of numbers");
    }
    float *f = arena_alloc(api_arena(j), (arr->len ? arr->len : 1) * sizeof *f);
    if (json_get_floats(arr, f, arr->len)) {
        for (uint32_t i = 0; i < arr->len; i++) {
            JsonValue x = json_item(arr, i);
            if (x.type != JSON_NUMBER) return wrong_type(j, what, &x, "f32");
        }
        return api_fail(j, QERR_FORMAT, "a number in `%s` is out of the range of f32", what);
    }
    *out = f;
    *n = arr->len;
    return 0;
}

/* ---- filter validation ---- */

/* Condition keys that make a field condition ({"key": ..., ...}) whole. */
static const char *const field_conditions[] = {
    "match", "range", "geo_bounding_box", "geo_radius", "geo_polygon", "values_count",
    "is_empty", "is_null",
};

static int check_condition(ApiJob *j, const JsonValue *c, char *path, size_t cap);

static int check_clause(ApiJob *j, const JsonValue *f, const char *name, char *path, size_t cap)
{
    const JsonValue *v = json_get(f, name);
    if (!v || v->type == JSON_NULL) return 0;
    size_t len = strlen(path);
    if (v->type == JSON_OBJECT) {
        snprintf(path + len, cap - len, "%s%s", len ? "." : "", name);
        int rc = check_condition(j, v, path, cap);
        path[len] = '\0';
        return rc;
    }
    for (uint32_t i = 0; v->type == JSON_ARRAY && i < v->len; i++) {
        JsonValue item = json_item(v, i);
        snprintf(path + len, cap - len, "%s%s[%u]", len ? "." : "", name, i);
        int rc = check_condition(j, &item, path, cap);
        path[len] = '\0';
        if (rc) return rc;
    }
    return 0;
}

static int check_filter(ApiJob *j, const JsonValue *f, char *path, size_t cap)
{
    if (!f || f->type != JSON_OBJECT) return 0;
    if (check_clause(j, f, "must", path, cap) || check_clause(j, f, "should", path, cap) ||
        check_clause(j, f, "must_not", path, cap))
        return -1;
    const JsonValue *ms = json_get(f, "min_should");
    if (ms && ms->type == JSON_OBJECT) {
        size_t len = strlen(path);
        snprintf(path + len, cap - len, "%smin_should", len ? "." : "");
        int rc = check_clause(j, ms, "conditions", path, cap);
        path[len] = '\0';
        if (rc) return rc;
    }
    return 0;
}

static int check_condition(ApiJob *j, const JsonValue *c, char *path, size_t cap)
{
    if (c->type != JSON_OBJECT) return 0;
    if (json_get(c, "key")) {
        for (size_t i = 0; i < sizeof field_conditions / sizeof *field_conditions; i++) {
            const JsonValue *x = json_get(c, field_conditions[i]);
            if (x && x->type != JSON_NULL) return 0;
        }
        return api_fail(j, QERR_VALIDATION, "%s%s: At least one field condition must be specified",
                        j->vpath, path);
    }
    const JsonValue *nested = json_get(c, "nested");
    if (nested && nested->type == JSON_OBJECT) {
        size_t len = strlen(path);
        snprintf(path + len, cap - len, ".nested.filter");
        int rc = check_filter(j, json_get(nested, "filter"), path, cap);
        path[len] = '\0';
        return rc;
    }
    return check_filter(j, c, path, cap);
}

int api_check_filter(ApiJob *j, const JsonValue *filter)
{
    return api_check_filter_at(j, filter, "filter");
}

int api_check_filter_at(ApiJob *j, const JsonValue *filter, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s", name);
    if (!filter || check_filter(j, filter, path, sizeof path)) return filter ? -1 : 0;
    /* The rest of the filter's shape is what serde would refuse while
     * reading the body: compile it once here to say so as Qdrant does. */
    Filter *f;
    char err[256];
    int rc = filter_compile(filter, &f, err, sizeof err);
    if (rc == ERR_UNSUPPORTED) return api_fail(j, QERR_UNSUPPORTED, "%s", err);
    if (rc) return api_fail(j, QERR_FORMAT, "%s", err);
    filter_free(f);
    return 0;
}

const JsonValue *api_item(ApiJob *j, const JsonValue *arr, size_t i)
{
    if (!(arr->flags & JSON_FLAG_PACKED)) return &arr->u.items[i];
    JsonValue *v = arena_alloc(api_arena(j), sizeof *v);
    *v = json_item(arr, i);
    return v;
}
