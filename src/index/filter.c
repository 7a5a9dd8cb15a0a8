/*
 * filter.c - compile and evaluate Qdrant payload filters (see filter.h).
 *
 * Design. filter_compile walks the JSON DOM once, validates every field
 * and builds a small tree in an arena the Filter owns: boolean nodes
 * (must / should / must_not / min_should) whose conditions are field
 * conditions with pre-parsed key paths, pre-sorted value lists and
 * pre-parsed datetimes. filter_match then evaluates that tree against a
 * payload DOM without allocating: key paths are followed by a recursive
 * walk that calls a visitor for each value the path reaches and stops at
 * the first value that decides the answer. The alternative, evaluating
 * the JSON filter directly per point, was rejected: it re-validates and
 * re-parses numbers, datetimes and paths for every point of a scan.
 *
 * Semantics follow Qdrant (lib/segment/src/payload_storage/query_checker.rs,
 * condition_checker.rs, common/utils.rs and json_path/ in qdrant/qdrant,
 * and the "Filtering" page of the Qdrant documentation):
 * - A key path yields zero or more values: `.key` descends into an
 *   object, `[N]` into one array element, `[]` into every element;
 *   anything else yields nothing (no implicit flattening of arrays in the
 *   middle of a path).
 * - A field condition is true when any value passes; a value that is an
 *   array passes when any of its elements passes (one level). When the
 *   path yields no value at all the condition is false, except is_empty /
 *   is_null / values_count, which then see "no values".
 * - match value/any compare strings exactly, integers only with integer
 *   payload values (3.0 is not 3) and bools with bools. except is true
 *   for a value of another type and false for null.
 * - is_empty {"key"} is true when every value is null or [] (so also for a
 *   missing key); is_null {"key"} when some value is null ([null] is not).
 * - should with an empty list is false (qdrant/qdrant#554, "wontfix");
 *   must [] and must_not [] are true; min_should needs min_count of its
 *   conditions (an empty list with min_count > 0 is false, qdrant#9369).
 * - values_count on a missing key counts 0 values (the documented
 *   behaviour; some Qdrant versions return false, qdrant#9065).
 * - geo conditions see a value as a point when it is an object whose
 *   "lon" and "lat" are numbers (payload points are not range-checked:
 *   GeoPoint::new_unchecked); the geometry is geo.c's. Several conditions
 *   in one field condition pass when any passes (check_match ORs them).
 */
#include "index/filter.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/util.h"
#include "index/geo.h"

/* Longest location prefix ("filter.must[1].range") kept for messages. */
#define FILTER_WHERE_MAX 160

/* Microseconds per unit, for datetimes. */
#define US_PER_SEC 1000000LL

enum {
    COND_FILTER = 0,
    COND_FIELD,
    COND_IS_EMPTY,
    COND_IS_NULL,
    COND_HAS_ID,
    COND_NESTED,
};

enum {
    MATCH_VALUE_STR = 0,
    MATCH_VALUE_INT,
    MATCH_VALUE_BOOL,
    MATCH_ANY_STR,
    MATCH_ANY_INT,
    MATCH_EXCEPT_STR,
    MATCH_EXCEPT_INT,
    MATCH_TEXT,     /* also "phrase": substring without a full-text index */
    MATCH_TEXT_ANY, /* any whitespace-separated word is a substring */
};

/* Bound slots of a range or a values_count, in this order. */
enum { BOUND_GT = 0, BOUND_GTE, BOUND_LT, BOUND_LTE, BOUND_COUNT };
static const char *const bound_names[BOUND_COUNT] = { "gt", "gte", "lt", "lte" };

typedef struct {
    uint8_t kind; /* MATCH_* */
    int boolean;
    int64_t integer;
    Slice str;       /* value / text */
    Slice *strs;     /* any / except strings, sorted; text_any words */
    int64_t *ints;   /* any / except integers, sorted */
    uint32_t n;      /* entries in strs or ints */
} Match;

typedef struct {
    uint8_t present[BOUND_COUNT];
    uint8_t datetime; /* 1: bounds are datetimes in microseconds */
    double num[BOUND_COUNT];
    int64_t us[BOUND_COUNT];
} Range;

typedef struct {
    uint8_t present[BOUND_COUNT];
    uint64_t v[BOUND_COUNT];
} Count;

typedef struct {
    FilterPath path;
    uint8_t has_match, has_range, has_count;
    int8_t is_empty; /* -1 absent, else the bool asked for */
    int8_t is_null;  /* -1 absent, else the bool asked for */
    Match match;
    Range range;
    Count count;
    /* Geo conditions (geo.h), NULL when absent; in the filter's arena. */
    const GeoBox *geo_box;
    const GeoRadius *geo_radius;
    const GeoPolygon *geo_polygon;
} FieldCond;

typedef struct FilterNode FilterNode;

typedef struct {
    uint8_t kind; /* COND_* */
    union {
        FilterNode *filter;
        FieldCond *field;
        FilterPath path; /* is_empty, is_null */
        struct {
            PointId *ids; /* sorted by point_id_cmp, no duplicates */
            size_t n;
        } has_id;
        struct {
            FilterPath path; /* ends with [] */
            FilterNode *filter;
        } nested;
    } u;
} Cond;

typedef struct {
    Cond *conds;
    uint32_t n;
    uint8_t present; /* given and not null: an empty should is false */
} Clause;

struct FilterNode {
    Clause must, should, must_not, min_should;
    uint64_t min_count;
};

struct Filter {
    Arena arena;      /* owns every node, list and string below */
    FilterNode *root; /* NULL: JSON null, matches everything */
};

/* ---- key paths ---- */

static int path_raw_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-' || c >= 0x80;
}

/* path_key reads a bare or quoted key at s[*pos]; 0 or ERR_INVAL. */
static int path_key(const char *s, size_t len, size_t *pos, size_t *start, size_t *klen)
{
    size_t p = *pos;
    if (p < len && s[p] == '"') {
        size_t q = p + 1;
        while (q < len && s[q] != '"' && s[q] != '\\') q++;
        if (q >= len || s[q] != '"') return ERR_INVAL;
        *start = p + 1;
        *klen = q - (p + 1);
        *pos = q + 1;
        return 0;
    }
    size_t q = p;
    while (q < len && path_raw_char((unsigned char)s[q])) q++;
    if (q == p) return ERR_INVAL;
    *start = p;
    *klen = q - p;
    *pos = q;
    return 0;
}

int filter_path_parse(Arena *arena, const char *s, size_t len, FilterPath *out)
{
    FilterPathItem items[FILTER_MAX_PATH_ITEMS];
    size_t starts[FILTER_MAX_PATH_ITEMS];
    uint32_t n = 0;
    size_t pos = 0, start, klen;
    if (path_key(s, len, &pos, &start, &klen) != 0) return ERR_INVAL;
    items[n] = (FilterPathItem){ .kind = FILTER_PATH_KEY, .len = (uint32_t)klen };
    starts[n++] = start;
    while (pos < len) {
        if (n == FILTER_MAX_PATH_ITEMS) return ERR_INVAL;
        if (s[pos] == '.') {
            pos++;
            if (path_key(s, len, &pos, &start, &klen) != 0) return ERR_INVAL;
            items[n] = (FilterPathItem){ .kind = FILTER_PATH_KEY, .len = (uint32_t)klen };
            starts[n++] = start;
        } else if (s[pos] == '[') {
            pos++;
            if (pos < len && s[pos] == ']') {
                pos++;
                items[n++] = (FilterPathItem){ .kind = FILTER_PATH_WILDCARD };
                continue;
            }
            uint64_t v = 0;
            size_t digits = 0;
            while (pos < len && s[pos] >= '0' && s[pos] <= '9') {
                uint64_t d = (uint64_t)(s[pos] - '0');
                if (v > (UINT64_MAX - d) / 10) return ERR_INVAL;
                v = v * 10 + d;
                pos++;
                digits++;
            }
            if (!digits || pos >= len || s[pos] != ']') return ERR_INVAL;
            pos++;
            items[n++] = (FilterPathItem){ .kind = FILTER_PATH_INDEX, .index = v };
        } else {
            return ERR_INVAL;
        }
    }
    out->items = arena_alloc(arena, n * sizeof(FilterPathItem));
    for (uint32_t i = 0; i < n; i++) {
        out->items[i] = items[i];
        if (items[i].kind == FILTER_PATH_KEY)
            out->items[i].key = arena_strndup(arena, s + starts[i], items[i].len);
    }
    out->n = n;
    return 0;
}

/* ---- datetimes ---- */

/* days_from_civil counts days from 1970-01-01 to y-m-d in the proleptic
 * Gregorian calendar (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
    static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return 29;
    return days[m - 1];
}

/* digits_at reads exactly n decimal digits at s[*pos]. */
static int digits_at(const char *s, size_t len, size_t *pos, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (*pos >= len || s[*pos] < '0' || s[*pos] > '9') return ERR_INVAL;
        v = v * 10 + (s[(*pos)++] - '0');
    }
    *out = v;
    return 0;
}

/*
 * datetime_parse reads the formats Qdrant accepts for datetime payloads
 * and ranges (RFC 3339 plus the forms its client lists as accepted by the
 * core): YYYY-MM-DD, optionally followed by `T` or a space and HH:MM,
 * optional :SS and .fraction, and an optional zone Z, +HH:MM or +HHMM.
 * Without a zone the time is UTC. Result: microseconds since the epoch.
 */
static int datetime_parse(const char *s, size_t len, int64_t *out)
{
    size_t pos = 0;
    int y, mo, d, h = 0, mi = 0, sec = 0;
    int64_t frac_us = 0, offset_min = 0;
    if (digits_at(s, len, &pos, 4, &y) || pos >= len || s[pos++] != '-' ||
        digits_at(s, len, &pos, 2, &mo) || pos >= len || s[pos++] != '-' ||
        digits_at(s, len, &pos, 2, &d))
        return ERR_INVAL;
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo)) return ERR_INVAL;
    if (pos < len) {
        char t = s[pos++];
        if (t != 'T' && t != 't' && t != ' ') return ERR_INVAL;
        if (digits_at(s, len, &pos, 2, &h) || pos >= len || s[pos++] != ':' ||
            digits_at(s, len, &pos, 2, &mi))
            return ERR_INVAL;
        if (pos < len && s[pos] == ':') {
            pos++;
            if (digits_at(s, len, &pos, 2, &sec)) return ERR_INVAL;
            if (pos < len && s[pos] == '.') {
                pos++;
                int nd = 0;
                int64_t scale = 100000;
                while (pos < len && s[pos] >= '0' && s[pos] <= '9') {
                    /* Digits past microseconds are dropped (truncation). */
                    if (scale > 0) frac_us += (s[pos] - '0') * scale;
                    scale /= 10;
                    pos++;
                    nd++;
                }
                if (!nd) return ERR_INVAL;
            }
        }
        /* 60 is a leap second, which RFC 3339 allows. */
        if (h > 23 || mi > 59 || sec > 60) return ERR_INVAL;
        if (pos < len) {
            char z = s[pos++];
            if (z == 'Z' || z == 'z') {
                offset_min = 0;
            } else if (z == '+' || z == '-') {
                int oh, om;
                if (digits_at(s, len, &pos, 2, &oh)) return ERR_INVAL;
                if (pos < len && s[pos] == ':') pos++;
                if (digits_at(s, len, &pos, 2, &om)) return ERR_INVAL;
                if (oh > 23 || om > 59) return ERR_INVAL;
                offset_min = (z == '+' ? 1 : -1) * (oh * 60 + om);
            } else {
                return ERR_INVAL;
            }
        }
    }
    if (pos != len) return ERR_INVAL;
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offset_min * 60;
    *out = secs * US_PER_SEC + frac_us;
    return 0;
}

/* ---- compiler ---- */

typedef struct {
    Arena *arena;
    char *err;
    size_t errlen;
    char where[FILTER_WHERE_MAX];
    size_t where_len;
    int depth;
    int in_nested; /* > 0 inside a nested condition's filter */
} Compiler;

/* where_push appends a location part ("must", "[3]") and returns the
 * length to restore with where_pop. Parts that no longer fit are dropped;
 * the message then shows a shorter, still correct prefix. */
static size_t where_push(Compiler *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static size_t where_push(Compiler *c, const char *fmt, ...)
{
    size_t old = c->where_len;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(c->where + old, sizeof c->where - old, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof c->where - old)
        c->where[old] = '\0';
    else
        c->where_len = old + (size_t)n;
    return old;
}

static void where_pop(Compiler *c, size_t old)
{
    c->where_len = old;
    c->where[old] = '\0';
}

/* fail writes "<where>: <message>" and returns code. */
static int fail(Compiler *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(Compiler *c, int code, const char *fmt, ...)
{
    if (c->err && c->errlen) {
        int n = snprintf(c->err, c->errlen, "%s: ", c->where);
        if (n >= 0 && (size_t)n < c->errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    return code;
}

static const char *type_name(const JsonValue *v)
{
    switch (v->type) {
    case JSON_NULL: return "null";
    case JSON_BOOL: return "a bool";
    case JSON_NUMBER: return v->num_kind == JSON_NUM_DOUBLE ? "a number with a fraction" : "an integer";
    case JSON_STRING: return "a string";
    case JSON_ARRAY: return "an array";
    case JSON_OBJECT: return "an object";
    }
    return "an unknown value";
}

static int expect_type(Compiler *c, const JsonValue *v, int type, const char *what)
{
    if (v->type == type) return 0;
    return fail(c, ERR_INVAL, "expected %s, got %s", what, type_name(v));
}

/* member_in reports whether key is one of names[0..n). */
static int member_in(const JsonMember *m, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(names[i]) == m->key_len && memcmp(m->key, names[i], m->key_len) == 0) return 1;
    return 0;
}

/* check_members rejects unknown and duplicate members of obj. */
static int check_members(Compiler *c, const JsonValue *obj, const char *const *names, size_t n,
                         const char *expected)
{
    for (uint32_t i = 0; i < obj->len; i++) {
        const JsonMember *m = &obj->u.members[i];
        if (!member_in(m, names, n)) {
            /* serde's wording for deny_unknown_fields (what Qdrant answers),
             * the place after it. */
            if (c->err && c->errlen)
                snprintf(c->err, c->errlen, "unknown field `%.*s`, expected %s at `%s`",
                         (int)MIN(m->key_len, 64), m->key, expected, c->where);
            return ERR_INVAL;
        }
        for (uint32_t j = 0; j < i; j++) {
            const JsonMember *o = &obj->u.members[j];
            if (o->key_len == m->key_len && memcmp(o->key, m->key, m->key_len) == 0)
                return fail(c, ERR_INVAL, "duplicate field \"%s\"", m->key);
        }
    }
    return 0;
}

/* get_present returns obj's member named key unless it is absent or null
 * (Qdrant's optional fields accept null as "not given"). */
static const JsonValue *get_present(const JsonValue *obj, const char *key)
{
    const JsonValue *v = json_get(obj, key);
    return v && v->type != JSON_NULL ? v : NULL;
}

static int compile_node(Compiler *c, const JsonValue *v, FilterNode **out);

static int compile_path(Compiler *c, const JsonValue *v, FilterPath *out)
{
    int rc = expect_type(c, v, JSON_STRING, "a key path string");
    if (rc) return rc;
    if (filter_path_parse(c->arena, v->u.str, v->len, out) != 0)
        return fail(c, ERR_INVAL,
                    "invalid key path \"%.*s\" (expected keys of letters, digits, _ and -, "
                    "joined by '.', with optional [] or [N]; quote other keys: a.\"b c\")",
                    (int)MIN(v->len, 64), v->u.str);
    return 0;
}

/* As Qdrant's serde types: an integer that fits i64. */
static int json_i64(const JsonValue *v, int64_t *out)
{
    if (v->type != JSON_NUMBER || v->num_kind != JSON_NUM_INT) return 0;
    *out = v->n.i;
    return 1;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int cmp_slice(const void *a, const void *b)
{
    const Slice *x = a, *y = b;
    size_t n = MIN(x->len, y->len);
    int r = memcmp(x->ptr, y->ptr, n);
    if (r) return r;
    return (x->len > y->len) - (x->len < y->len);
}

static int cmp_point_id(const void *a, const void *b)
{
    return point_id_cmp(a, b);
}

/* Qdrant splits text_any at Unicode whitespace; ASCII covers real input. */
static int is_space(char ch)
{
    return ch == ' ' || (ch >= '\t' && ch <= '\r');
}

static Slice arena_slice(Arena *a, const char *s, size_t len)
{
    return (Slice){ arena_strndup(a, s, len), len };
}

/* compile_list reads match any / except: all strings or all integers. */
static int compile_list(Compiler *c, const JsonValue *v, Match *m, int is_any)
{
    int rc = expect_type(c, v, JSON_ARRAY, "an array of strings or of integers");
    if (rc) return rc;
    /* An empty list reads as a list of strings, as in Qdrant (the first
     * variant of its untagged AnyVariants). */
    JsonValue first = json_item(v, 0);
    int strings = v->len == 0 || first.type == JSON_STRING;
    m->kind = strings ? (is_any ? MATCH_ANY_STR : MATCH_EXCEPT_STR)
                      : (is_any ? MATCH_ANY_INT : MATCH_EXCEPT_INT);
    m->n = v->len;
    if (strings)
        m->strs = arena_alloc(c->arena, v->len * sizeof(Slice));
    else
        m->ints = arena_alloc(c->arena, v->len * sizeof(int64_t));
    for (uint32_t i = 0; i < v->len; i++) {
        JsonValue item = json_item(v, i);
        const JsonValue *x = &item;
        if (strings) {
            if (x->type != JSON_STRING) {
                size_t o = where_push(c, "[%u]", i);
                rc = fail(c, ERR_INVAL, "expected a string like the first item, got %s", type_name(x));
                where_pop(c, o);
                return rc;
            }
            m->strs[i] = arena_slice(c->arena, x->u.str, x->len);
        } else if (!json_i64(x, &m->ints[i])) {
            size_t o = where_push(c, "[%u]", i);
            rc = fail(c, ERR_INVAL, "expected a string or a 64-bit integer, got %s", type_name(x));
            where_pop(c, o);
            return rc;
        }
    }
    if (strings)
        qsort(m->strs, m->n, sizeof(Slice), cmp_slice);
    else
        qsort(m->ints, m->n, sizeof(int64_t), cmp_i64);
    return 0;
}

static int compile_match(Compiler *c, const JsonValue *v, Match *m)
{
    static const char *const names[] = { "value", "any", "except", "text", "phrase", "text_any" };
    int rc = expect_type(c, v, JSON_OBJECT, "an object");
    if (!rc) rc = check_members(c, v, names, ARRAY_LEN(names), "value, any, except, text, phrase or text_any");
    if (rc) return rc;
    const JsonValue *which = NULL;
    const char *name = NULL;
    for (size_t i = 0; i < ARRAY_LEN(names); i++) {
        const JsonValue *x = get_present(v, names[i]);
        if (!x) continue;
        if (which)
            return fail(c, ERR_INVAL, "expected one of value, any, except, text, phrase or "
                                      "text_any, got both %s and %s", name, names[i]);
        which = x;
        name = names[i];
    }
    if (!which) return fail(c, ERR_INVAL, "expected one of value, any, except, text, phrase or text_any");
    size_t o = where_push(c, ".%s", name);
    rc = 0;
    if (strcmp(name, "value") == 0) {
        if (which->type == JSON_STRING) {
            m->kind = MATCH_VALUE_STR;
            m->str = arena_slice(c->arena, which->u.str, which->len);
        } else if (which->type == JSON_BOOL) {
            m->kind = MATCH_VALUE_BOOL;
            m->boolean = which->u.boolean;
        } else if (json_i64(which, &m->integer)) {
            m->kind = MATCH_VALUE_INT;
        } else {
            rc = fail(c, ERR_INVAL,
                      "expected a string, a 64-bit integer or a bool, got %s (use range for "
                      "other numbers, is_null for null)", type_name(which));
        }
    } else if (strcmp(name, "any") == 0 || strcmp(name, "except") == 0) {
        rc = compile_list(c, which, m, name[0] == 'a');
    } else {
        rc = expect_type(c, which, JSON_STRING, "a string");
        if (!rc && strcmp(name, "text_any") == 0) {
            m->kind = MATCH_TEXT_ANY;
            /* Words split at ASCII whitespace; at most len/2+1 of them. */
            m->strs = arena_alloc(c->arena, (which->len / 2 + 1) * sizeof(Slice));
            m->n = 0;
            const char *s = which->u.str, *end = s + which->len;
            while (s < end) {
                while (s < end && is_space(*s)) s++;
                const char *w = s;
                while (s < end && !is_space(*s)) s++;
                if (s > w) m->strs[m->n++] = arena_slice(c->arena, w, (size_t)(s - w));
            }
        } else if (!rc) {
            m->kind = MATCH_TEXT;
            m->str = arena_slice(c->arena, which->u.str, which->len);
        }
    }
    where_pop(c, o);
    return rc;
}

static int compile_range(Compiler *c, const JsonValue *v, Range *r)
{
    int rc = expect_type(c, v, JSON_OBJECT, "an object");
    if (!rc) rc = check_members(c, v, bound_names, BOUND_COUNT, "gt, gte, lt or lte");
    if (rc) return rc;
    int numbers = 0, strings = 0;
    for (int b = 0; b < BOUND_COUNT; b++) {
        const JsonValue *x = get_present(v, bound_names[b]);
        if (!x) continue;
        size_t o = where_push(c, ".%s", bound_names[b]);
        if (x->type == JSON_NUMBER) {
            numbers++;
            r->num[b] = x->u.num;
        } else if (x->type == JSON_STRING) {
            strings++;
            if (datetime_parse(x->u.str, x->len, &r->us[b]) != 0)
                rc = fail(c, ERR_INVAL,
                          "\"%.*s\" is not an RFC 3339 datetime (e.g. 2023-02-08T10:49:00Z)",
                          (int)MIN(x->len, 64), x->u.str);
        } else {
            rc = fail(c, ERR_INVAL, "expected a number or an RFC 3339 datetime string, got %s",
                      type_name(x));
        }
        where_pop(c, o);
        if (rc) return rc;
        r->present[b] = 1;
    }
    if (numbers && strings)
        return fail(c, ERR_INVAL, "mixes numbers and datetime strings; use one kind for all bounds");
    r->datetime = strings > 0;
    return 0;
}

static int compile_count(Compiler *c, const JsonValue *v, Count *n)
{
    int rc = expect_type(c, v, JSON_OBJECT, "an object");
    if (!rc) rc = check_members(c, v, bound_names, BOUND_COUNT, "gt, gte, lt or lte");
    if (rc) return rc;
    for (int b = 0; b < BOUND_COUNT; b++) {
        const JsonValue *x = get_present(v, bound_names[b]);
        if (!x) continue;
        if (json_as_uint64(x, &n->v[b]) != 0) {
            size_t o = where_push(c, ".%s", bound_names[b]);
            rc = fail(c, ERR_INVAL, "expected a non-negative integer, got %s", type_name(x));
            where_pop(c, o);
            return rc;
        }
        n->present[b] = 1;
    }
    return 0;
}

/* ---- geo conditions (the geometry is geo.c's) ---- */

/* fail_at writes "<message> at `<where>`": the wording of Qdrant's own
 * messages, where serde would name a line and column instead. */
static int fail_at(Compiler *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail_at(Compiler *c, int code, const char *fmt, ...)
{
    if (c->err && c->errlen) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(c->err, c->errlen, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < c->errlen) snprintf(c->err + n, c->errlen - (size_t)n, " at `%s`", c->where);
    }
    return code;
}

/* member_required returns obj's member named key, or fails with serde's
 * "missing field" (null counts as missing: the fields are not optional). */
static int member_required(Compiler *c, const JsonValue *obj, const char *key, const JsonValue **out)
{
    *out = get_present(obj, key);
    if (!*out) return fail_at(c, ERR_INVAL, "missing field `%s`", key);
    return 0;
}

/* compile_geo_number reads member key of obj as a double (serde's f64
 * takes any JSON number). */
static int compile_geo_number(Compiler *c, const JsonValue *obj, const char *key, double *out)
{
    const JsonValue *x;
    int rc = member_required(c, obj, key, &x);
    if (rc) return rc;
    size_t o = where_push(c, ".%s", key);
    rc = expect_type(c, x, JSON_NUMBER, "a number");
    where_pop(c, o);
    if (!rc) *out = x->u.num;
    return rc;
}

/* compile_geo_point reads {"lon": x, "lat": y} (other members ignored, as
 * serde does) within Qdrant's ranges. */
static int compile_geo_point(Compiler *c, const JsonValue *v, GeoPoint *out)
{
    int rc = expect_type(c, v, JSON_OBJECT, "an object {\"lon\": ..., \"lat\": ...}");
    if (!rc) rc = compile_geo_number(c, v, "lon", &out->lon);
    if (!rc) rc = compile_geo_number(c, v, "lat", &out->lat);
    if (rc) return rc;
    if (!geo_point_valid(out->lon, out->lat)) {
        /* GeoPointValidationError, numbers as Rust prints an f64. */
        char lat[64], lon[64];
        geo_format_degrees(lat, sizeof lat, out->lat);
        geo_format_degrees(lon, sizeof lon, out->lon);
        return fail_at(c, ERR_INVAL,
                       "Wrong format of GeoPoint payload: expected `lat` = %s within [-90;90] and "
                       "`lon` = %s within [-180;180]", lat, lon);
    }
    return 0;
}

/* compile_geo_member reads obj.key as a point, located for messages. */
static int compile_geo_member(Compiler *c, const JsonValue *obj, const char *key, GeoPoint *out)
{
    const JsonValue *x;
    int rc = member_required(c, obj, key, &x);
    if (rc) return rc;
    size_t o = where_push(c, ".%s", key);
    rc = compile_geo_point(c, x, out);
    where_pop(c, o);
    return rc;
}

/* compile_geo_points reads a GeoLineString {"points": [...]} into an
 * arena array with room for the closing point geo_ring_init may add. */
static int compile_geo_points(Compiler *c, const JsonValue *v, GeoPoint **pts, uint32_t *n)
{
    const JsonValue *arr;
    int rc = expect_type(c, v, JSON_OBJECT, "an object {\"points\": [...]}");
    if (!rc) rc = member_required(c, v, "points", &arr);
    if (rc) return rc;
    size_t o = where_push(c, ".points");
    rc = expect_type(c, arr, JSON_ARRAY, "an array of {\"lon\", \"lat\"} points");
    if (!rc) {
        *pts = arena_alloc(c->arena, ((size_t)arr->len + 1) * sizeof(GeoPoint));
        *n = arr->len;
    }
    for (uint32_t i = 0; !rc && i < arr->len; i++) {
        size_t oi = where_push(c, "[%u]", i);
        JsonValue item = json_item(arr, i);
        rc = compile_geo_point(c, &item, &(*pts)[i]);
        where_pop(c, oi);
    }
    where_pop(c, o);
    return rc;
}

static int compile_geo_ring(Compiler *c, GeoPoint *pts, uint32_t n, GeoRing *ring)
{
    char msg[160];
    if (geo_ring_init(pts, n, ring, msg, sizeof msg) != 0) return fail_at(c, ERR_INVAL, "%s", msg);
    return 0;
}

/* compile_geo_polygon reads {"exterior": {"points"}, "interiors": [...]}:
 * every point first, then each ring's size and closure (the order of
 * Qdrant's deserializer and GeoPolygon::try_from). */
static int compile_geo_polygon(Compiler *c, const JsonValue *v, GeoPolygon *out)
{
    const JsonValue *ext, *ints = NULL;
    int rc = expect_type(c, v, JSON_OBJECT, "an object {\"exterior\": ..., \"interiors\": [...]}");
    if (!rc) rc = member_required(c, v, "exterior", &ext);
    if (rc) return rc;
    GeoPoint *ext_pts = NULL, **int_pts = NULL;
    uint32_t ext_n = 0, *int_n = NULL, n_int = 0;
    size_t o = where_push(c, ".exterior");
    rc = compile_geo_points(c, ext, &ext_pts, &ext_n);
    where_pop(c, o);
    if (rc) return rc;
    if ((ints = get_present(v, "interiors"))) {
        o = where_push(c, ".interiors");
        rc = expect_type(c, ints, JSON_ARRAY, "an array of {\"points\": [...]} rings");
        if (!rc) {
            n_int = ints->len;
            int_pts = arena_calloc(c->arena, (n_int ? n_int : 1) * sizeof *int_pts);
            int_n = arena_calloc(c->arena, (n_int ? n_int : 1) * sizeof *int_n);
        }
        for (uint32_t i = 0; !rc && i < n_int; i++) {
            size_t oi = where_push(c, "[%u]", i);
            JsonValue item = json_item(ints, i);
            rc = compile_geo_points(c, &item, &int_pts[i], &int_n[i]);
            where_pop(c, oi);
        }
        where_pop(c, o);
        if (rc) return rc;
    }
    o = where_push(c, ".exterior");
    rc = compile_geo_ring(c, ext_pts, ext_n, &out->exterior);
    where_pop(c, o);
    if (rc) return rc;
    GeoRing *holes = arena_calloc(c->arena, (n_int ? n_int : 1) * sizeof *holes);
    for (uint32_t i = 0; i < n_int; i++) {
        o = where_push(c, ".interiors[%u]", i);
        rc = compile_geo_ring(c, int_pts[i], int_n[i], &holes[i]);
        where_pop(c, o);
        if (rc) return rc;
    }
    out->interiors = holes;
    out->n_interiors = n_int;
    return 0;
}

/* compile_geo reads the geo conditions of a field condition into f. */
static int compile_geo(Compiler *c, const JsonValue *v, FieldCond *f)
{
    const JsonValue *x;
    int rc = 0;
    size_t o;
    if ((x = get_present(v, "geo_bounding_box"))) {
        GeoBox *b = arena_calloc(c->arena, sizeof *b);
        o = where_push(c, ".geo_bounding_box");
        rc = expect_type(c, x, JSON_OBJECT, "an object {\"top_left\": ..., \"bottom_right\": ...}");
        if (!rc) rc = compile_geo_member(c, x, "top_left", &b->top_left);
        if (!rc) rc = compile_geo_member(c, x, "bottom_right", &b->bottom_right);
        where_pop(c, o);
        if (rc) return rc;
        f->geo_box = b;
    }
    if ((x = get_present(v, "geo_radius"))) {
        GeoRadius *r = arena_calloc(c->arena, sizeof *r);
        o = where_push(c, ".geo_radius");
        rc = expect_type(c, x, JSON_OBJECT, "an object {\"center\": ..., \"radius\": meters}");
        if (!rc) rc = compile_geo_member(c, x, "center", &r->center);
        if (!rc) rc = compile_geo_number(c, x, "radius", &r->radius);
        where_pop(c, o);
        if (rc) return rc;
        f->geo_radius = r;
    }
    if ((x = get_present(v, "geo_polygon"))) {
        GeoPolygon *p = arena_calloc(c->arena, sizeof *p);
        o = where_push(c, ".geo_polygon");
        rc = compile_geo_polygon(c, x, p);
        where_pop(c, o);
        if (rc) return rc;
        f->geo_polygon = p;
    }
    return 0;
}

static int compile_field(Compiler *c, const JsonValue *v, Cond *out)
{
    static const char *const names[] = { "key", "match", "range", "values_count", "is_empty",
                                         "is_null", "geo_bounding_box", "geo_radius", "geo_polygon" };
    int rc = check_members(c, v, names, ARRAY_LEN(names),
                           "key, match, range, values_count, is_empty or is_null");
    if (rc) return rc;
    FieldCond *f = arena_calloc(c->arena, sizeof *f);
    f->is_empty = f->is_null = -1;
    size_t o = where_push(c, ".key");
    rc = compile_path(c, json_get(v, "key"), &f->path);
    where_pop(c, o);
    if (rc) return rc;
    if ((rc = compile_geo(c, v, f))) return rc;
    const JsonValue *x;
    if ((x = get_present(v, "match"))) {
        o = where_push(c, ".match");
        rc = compile_match(c, x, &f->match);
        where_pop(c, o);
        if (rc) return rc;
        f->has_match = 1;
    }
    if ((x = get_present(v, "range"))) {
        o = where_push(c, ".range");
        rc = compile_range(c, x, &f->range);
        where_pop(c, o);
        if (rc) return rc;
        f->has_range = 1;
    }
    if ((x = get_present(v, "values_count"))) {
        o = where_push(c, ".values_count");
        rc = compile_count(c, x, &f->count);
        where_pop(c, o);
        if (rc) return rc;
        f->has_count = 1;
    }
    const char *flags[2] = { "is_empty", "is_null" };
    int8_t *dest[2] = { &f->is_empty, &f->is_null };
    for (int i = 0; i < 2; i++) {
        if (!(x = get_present(v, flags[i]))) continue;
        o = where_push(c, ".%s", flags[i]);
        rc = expect_type(c, x, JSON_BOOL, "a bool");
        where_pop(c, o);
        if (rc) return rc;
        *dest[i] = (int8_t)(x->u.boolean != 0);
    }
    if (!f->has_match && !f->has_range && !f->has_count && f->is_empty < 0 && f->is_null < 0 &&
        !f->geo_box && !f->geo_radius && !f->geo_polygon)
        return fail(c, ERR_INVAL, "field condition on \"%s\" has no condition (expected match, "
                                  "range, geo_bounding_box, geo_radius, geo_polygon, values_count, "
                                  "is_empty or is_null)", json_get(v, "key")->u.str);
    out->kind = COND_FIELD;
    out->u.field = f;
    return 0;
}

/* compile_key_object reads {"key": "..."} (is_empty, is_null). */
static int compile_key_object(Compiler *c, const JsonValue *v, FilterPath *out)
{
    static const char *const names[] = { "key" };
    int rc = expect_type(c, v, JSON_OBJECT, "an object {\"key\": ...}");
    if (!rc) rc = check_members(c, v, names, 1, "key");
    if (rc) return rc;
    const JsonValue *k = json_get(v, "key");
    if (!k) return fail(c, ERR_INVAL, "missing field \"key\"");
    size_t o = where_push(c, ".key");
    rc = compile_path(c, k, out);
    where_pop(c, o);
    return rc;
}

static int compile_has_id(Compiler *c, const JsonValue *v, Cond *out)
{
    if (c->in_nested)
        return fail(c, ERR_INVAL, "has_id is not supported inside a nested filter (as in Qdrant); "
                                  "put it in an adjacent must");
    int rc = expect_type(c, v, JSON_ARRAY, "an array of point ids");
    if (rc) return rc;
    PointId *ids = arena_alloc(c->arena, v->len * sizeof(PointId));
    for (uint32_t i = 0; i < v->len; i++) {
        char msg[192];
        JsonValue item = json_item(v, i);
        if (point_id_from_json(&item, &ids[i], msg, sizeof msg) != 0) {
            size_t o = where_push(c, "[%u]", i);
            rc = fail(c, ERR_INVAL, "%s", msg);
            where_pop(c, o);
            return rc;
        }
    }
    qsort(ids, v->len, sizeof(PointId), cmp_point_id);
    size_t n = 0;
    for (uint32_t i = 0; i < v->len; i++)
        if (n == 0 || !point_id_equal(&ids[n - 1], &ids[i])) ids[n++] = ids[i];
    out->kind = COND_HAS_ID;
    out->u.has_id.ids = ids;
    out->u.has_id.n = n;
    return 0;
}

static int compile_nested(Compiler *c, const JsonValue *v, Cond *out)
{
    static const char *const names[] = { "key", "filter" };
    int rc = expect_type(c, v, JSON_OBJECT, "an object {\"key\": ..., \"filter\": {...}}");
    if (!rc) rc = check_members(c, v, names, 2, "key or filter");
    if (rc) return rc;
    const JsonValue *k = json_get(v, "key"), *f = json_get(v, "filter");
    if (!k) return fail(c, ERR_INVAL, "missing field \"key\"");
    if (!f) return fail(c, ERR_INVAL, "missing field \"filter\"");
    FilterPath p;
    size_t o = where_push(c, ".key");
    rc = compile_path(c, k, &p);
    where_pop(c, o);
    if (rc) return rc;
    /* "The key should point to an array of objects and can be used with
     * or without the bracket notation" (Qdrant docs): append [] unless
     * it is already there, as Qdrant's JsonPath::array_key does. */
    if (p.items[p.n - 1].kind != FILTER_PATH_WILDCARD) {
        FilterPathItem *items = arena_alloc(c->arena, (p.n + 1) * sizeof *items);
        memcpy(items, p.items, p.n * sizeof *items);
        items[p.n] = (FilterPathItem){ .kind = FILTER_PATH_WILDCARD };
        p.items = items;
        p.n++;
    }
    out->kind = COND_NESTED;
    out->u.nested.path = p;
    o = where_push(c, ".filter");
    c->in_nested++;
    rc = compile_node(c, f, &out->u.nested.filter);
    c->in_nested--;
    where_pop(c, o);
    return rc;
}

/* A condition with exactly one member named name (is_empty, has_id, ...). */
static int single_member(Compiler *c, const JsonValue *v, const char *name)
{
    const char *const names[] = { name };
    return check_members(c, v, names, 1, name);
}

static int compile_cond(Compiler *c, const JsonValue *v, Cond *out)
{
    int rc = expect_type(c, v, JSON_OBJECT, "a condition object");
    if (rc) return rc;
    const JsonValue *x;
    /* A "key" makes a field condition, where is_empty / is_null are bools;
     * without it they are the {"key": ...} condition objects. */
    if (json_get(v, "key")) return compile_field(c, v, out);
    static const char *const tags[] = { "is_empty", "is_null", "has_id", "nested", "has_vector" };
    for (size_t i = 0; i < ARRAY_LEN(tags); i++) {
        if (!(x = json_get(v, tags[i]))) continue;
        if ((rc = single_member(c, v, tags[i]))) return rc;
        size_t o = where_push(c, ".%s", tags[i]);
        switch (i) {
        case 0:
        case 1:
            out->kind = i == 0 ? COND_IS_EMPTY : COND_IS_NULL;
            rc = compile_key_object(c, x, &out->u.path);
            break;
        case 2: rc = compile_has_id(c, x, out); break;
        case 3: rc = compile_nested(c, x, out); break;
        default: rc = fail(c, ERR_UNSUPPORTED, "has_vector conditions are not supported by this server");
        }
        where_pop(c, o);
        return rc;
    }
    static const char *const clauses[] = { "must", "should", "must_not", "min_should" };
    for (uint32_t i = 0; i < v->len; i++) {
        if (!member_in(&v->u.members[i], clauses, ARRAY_LEN(clauses)))
            return fail(c, ERR_INVAL,
                        "unknown condition field \"%.*s\" (expected a field condition with \"key\", "
                        "is_empty, is_null, has_id, nested, or a filter with must, should, "
                        "must_not, min_should)",
                        (int)MIN(v->u.members[i].key_len, 64), v->u.members[i].key);
    }
    out->kind = COND_FILTER;
    return compile_node(c, v, &out->u.filter);
}

/* compile_clause reads a condition or an array of conditions. */
static int compile_clause(Compiler *c, const JsonValue *v, Clause *out)
{
    int rc = 0;
    out->present = 1;
    if (v->type == JSON_OBJECT) {
        out->conds = arena_calloc(c->arena, sizeof(Cond));
        out->n = 1;
        return compile_cond(c, v, out->conds);
    }
    if (v->type != JSON_ARRAY)
        return fail(c, ERR_INVAL, "expected a condition or an array of conditions, got %s", type_name(v));
    out->conds = arena_calloc(c->arena, v->len * sizeof(Cond));
    out->n = v->len;
    for (uint32_t i = 0; i < v->len && !rc; i++) {
        size_t o = where_push(c, "[%u]", i);
        JsonValue item = json_item(v, i);
        rc = compile_cond(c, &item, &out->conds[i]);
        where_pop(c, o);
    }
    return rc;
}

static int compile_min_should(Compiler *c, const JsonValue *v, FilterNode *node)
{
    static const char *const names[] = { "conditions", "min_count" };
    int rc = expect_type(c, v, JSON_OBJECT, "an object {\"conditions\": [...], \"min_count\": N}");
    if (!rc) rc = check_members(c, v, names, 2, "conditions or min_count");
    if (rc) return rc;
    const JsonValue *conds = json_get(v, "conditions"), *count = json_get(v, "min_count");
    if (!conds) return fail(c, ERR_INVAL, "missing field \"conditions\"");
    if (!count) return fail(c, ERR_INVAL, "missing field \"min_count\"");
    size_t o = where_push(c, ".min_count");
    if (json_as_uint64(count, &node->min_count) != 0)
        rc = fail(c, ERR_INVAL, "expected a non-negative integer, got %s", type_name(count));
    where_pop(c, o);
    if (rc) return rc;
    o = where_push(c, ".conditions");
    rc = expect_type(c, conds, JSON_ARRAY, "an array of conditions");
    if (!rc) rc = compile_clause(c, conds, &node->min_should);
    where_pop(c, o);
    return rc;
}

static int compile_node(Compiler *c, const JsonValue *v, FilterNode **out)
{
    static const char *const names[] = { "must", "should", "must_not", "min_should" };
    int rc = expect_type(c, v, JSON_OBJECT, "a filter object");
    if (!rc) rc = check_members(c, v, names, ARRAY_LEN(names), "one of `should`, `min_should`, `must`, `must_not`");
    if (rc) return rc;
    if (c->depth >= FILTER_MAX_DEPTH)
        return fail(c, ERR_INVAL, "filters nest deeper than %d levels", FILTER_MAX_DEPTH);
    c->depth++;
    FilterNode *node = arena_calloc(c->arena, sizeof *node);
    Clause *clauses[] = { &node->must, &node->should, &node->must_not };
    for (size_t i = 0; i < 3 && !rc; i++) {
        const JsonValue *x = get_present(v, names[i]);
        if (!x) continue;
        size_t o = where_push(c, ".%s", names[i]);
        rc = compile_clause(c, x, clauses[i]);
        where_pop(c, o);
    }
    const JsonValue *ms = get_present(v, "min_should");
    if (!rc && ms) {
        size_t o = where_push(c, ".min_should");
        rc = compile_min_should(c, ms, node);
        where_pop(c, o);
    }
    c->depth--;
    *out = node;
    return rc;
}

int filter_compile(const JsonValue *json, Filter **out, char *err, size_t errlen)
{
    Filter *f = xcalloc(1, sizeof *f);
    arena_init(&f->arena, 4096);
    *out = NULL;
    if (err && errlen) err[0] = '\0';
    if (!json || json->type == JSON_NULL) {
        *out = f;
        return 0;
    }
    Compiler c = { .arena = &f->arena, .err = err, .errlen = errlen };
    where_push(&c, "filter");
    int rc = compile_node(&c, json, &f->root);
    if (rc) {
        filter_free(f);
        return rc;
    }
    *out = f;
    return 0;
}

void filter_free(Filter *f)
{
    if (!f) return;
    arena_free(&f->arena);
    free(f);
}

/* ---- evaluation ---- */

/* A visitor gets each value a path reaches; returning 1 stops the walk
 * (the answer is known) and makes walk return 1. */
typedef int (*VisitFn)(void *ctx, const JsonValue *v);

static const JsonValue *member_get(const JsonValue *obj, const char *key, uint32_t len)
{
    for (uint32_t i = 0; i < obj->len; i++) {
        const JsonMember *m = &obj->u.members[i];
        if (m->key_len == len && memcmp(m->key, key, len) == 0) return &m->value;
    }
    return NULL;
}

/* walk follows items[0..n) from v (Qdrant's JsonPath value_get). */
static int walk(const FilterPathItem *it, uint32_t n, const JsonValue *v, VisitFn fn, void *ctx)
{
    if (n == 0) return fn(ctx, v);
    switch (it->kind) {
    case FILTER_PATH_KEY:
        if (v->type == JSON_OBJECT) {
            const JsonValue *m = member_get(v, it->key, it->len);
            if (m) return walk(it + 1, n - 1, m, fn, ctx);
        }
        return 0;
    case FILTER_PATH_INDEX:
        if (v->type == JSON_ARRAY && it->index < v->len) {
            JsonValue item = json_item(v, it->index);
            return walk(it + 1, n - 1, &item, fn, ctx);
        }
        return 0;
    default:
        if (v->type == JSON_ARRAY)
            for (uint32_t i = 0; i < v->len; i++) {
                JsonValue item = json_item(v, i);
                if (walk(it + 1, n - 1, &item, fn, ctx)) return 1;
            }
        return 0;
    }
}

static int walk_payload(const FilterPath *p, const JsonValue *payload, VisitFn fn, void *ctx)
{
    if (!payload) return 0;
    return walk(p->items, p->n, payload, fn, ctx);
}

static int find_slice(const Slice *list, uint32_t n, const char *s, size_t len)
{
    Slice key = { s, len };
    return n && bsearch(&key, list, n, sizeof(Slice), cmp_slice) != NULL;
}

static int find_i64(const int64_t *list, uint32_t n, int64_t x)
{
    return n && bsearch(&x, list, n, sizeof(int64_t), cmp_i64) != NULL;
}

static int contains(const JsonValue *v, Slice needle)
{
    return memmem(v->u.str, v->len, needle.ptr, needle.len) != NULL;
}

/* match_value is Qdrant's Match::check_match for one (non-array) value. */
static int match_value(const Match *m, const JsonValue *v)
{
    int64_t i;
    switch (m->kind) {
    case MATCH_VALUE_STR:
        return v->type == JSON_STRING && v->len == m->str.len && memcmp(v->u.str, m->str.ptr, v->len) == 0;
    case MATCH_VALUE_INT: return json_i64(v, &i) && i == m->integer;
    case MATCH_VALUE_BOOL: return v->type == JSON_BOOL && !v->u.boolean == !m->boolean;
    case MATCH_TEXT: return v->type == JSON_STRING && contains(v, m->str);
    case MATCH_TEXT_ANY:
        if (v->type != JSON_STRING) return 0;
        for (uint32_t k = 0; k < m->n; k++)
            if (contains(v, m->strs[k])) return 1;
        return 0;
    case MATCH_ANY_STR: return v->type == JSON_STRING && find_slice(m->strs, m->n, v->u.str, v->len);
    case MATCH_ANY_INT: return json_i64(v, &i) && find_i64(m->ints, m->n, i);
    case MATCH_EXCEPT_STR:
        if (v->type == JSON_STRING) return !find_slice(m->strs, m->n, v->u.str, v->len);
        return v->type != JSON_NULL;
    case MATCH_EXCEPT_INT:
        if (json_i64(v, &i)) return !find_i64(m->ints, m->n, i);
        return v->type != JSON_NULL;
    }
    return 0;
}

static int range_value(const Range *r, const JsonValue *v)
{
    if (!r->datetime) {
        if (v->type != JSON_NUMBER) return 0;
        double x = v->u.num;
        return (!r->present[BOUND_GT] || x > r->num[BOUND_GT]) &&
               (!r->present[BOUND_GTE] || x >= r->num[BOUND_GTE]) &&
               (!r->present[BOUND_LT] || x < r->num[BOUND_LT]) &&
               (!r->present[BOUND_LTE] || x <= r->num[BOUND_LTE]);
    }
    int64_t t;
    if (v->type != JSON_STRING || datetime_parse(v->u.str, v->len, &t) != 0) return 0;
    return (!r->present[BOUND_GT] || t > r->us[BOUND_GT]) &&
           (!r->present[BOUND_GTE] || t >= r->us[BOUND_GTE]) &&
           (!r->present[BOUND_LT] || t < r->us[BOUND_LT]) &&
           (!r->present[BOUND_LTE] || t <= r->us[BOUND_LTE]);
}

static int count_ok(const Count *c, uint64_t n)
{
    return (!c->present[BOUND_GT] || n > c->v[BOUND_GT]) && (!c->present[BOUND_GTE] || n >= c->v[BOUND_GTE]) &&
           (!c->present[BOUND_LT] || n < c->v[BOUND_LT]) && (!c->present[BOUND_LTE] || n <= c->v[BOUND_LTE]);
}

/* Qdrant's ValuesCount::check_count_from: null 0, array its length, else 1. */
static uint64_t values_in(const JsonValue *v)
{
    return v->type == JSON_NULL ? 0 : v->type == JSON_ARRAY ? v->len : 1;
}

static int value_is_empty(const JsonValue *v)
{
    return v->type == JSON_NULL || (v->type == JSON_ARRAY && v->len == 0);
}

static int value_has_null(const JsonValue *v)
{
    if (v->type == JSON_NULL) return 1;
    if (v->type == JSON_ARRAY)
        for (uint32_t i = 0; i < v->len; i++)
            if (json_item(v, i).type == JSON_NULL) return 1;
    return 0;
}

/* geo_point_of reads a payload value as Qdrant's geo checkers do: an
 * object whose "lon" and "lat" are numbers, ranges not checked. */
static int geo_point_of(const JsonValue *v, GeoPoint *p)
{
    if (v->type != JSON_OBJECT) return 0;
    const JsonValue *lon = member_get(v, "lon", 3), *lat = member_get(v, "lat", 3);
    if (!lon || !lat || lon->type != JSON_NUMBER || lat->type != JSON_NUMBER) return 0;
    p->lon = lon->u.num;
    p->lat = lat->u.num;
    return 1;
}

/* geo_match is the geo part of a field condition for one point: any of
 * its geo conditions holds (FieldCondition::check_match ORs them). */
static int geo_match(const FieldCond *f, GeoPoint p)
{
    return (f->geo_radius && geo_radius_contains(f->geo_radius, p)) ||
           (f->geo_box && geo_box_contains(f->geo_box, p)) ||
           (f->geo_polygon && geo_polygon_contains(f->geo_polygon, p));
}

/* field_one is a field condition's test of one non-array value. */
static int field_one(const FieldCond *f, const JsonValue *v)
{
    GeoPoint p;
    return (f->has_match && match_value(&f->match, v)) || (f->has_range && range_value(&f->range, v)) ||
           ((f->geo_box || f->geo_radius || f->geo_polygon) && geo_point_of(v, &p) && geo_match(f, p));
}

/* field_value is Qdrant's FieldCondition::check for one value the key
 * path reached: values_count, is_empty and is_null look at the value as
 * a whole; match and range at each element of an array. */
static int field_value(const FieldCond *f, const JsonValue *v)
{
    if (f->has_count) return count_ok(&f->count, values_in(v));
    if (f->is_empty >= 0) return value_is_empty(v) == f->is_empty;
    if (f->is_null >= 0) return value_has_null(v) == f->is_null;
    if (v->type == JSON_ARRAY) {
        for (uint32_t i = 0; i < v->len; i++) {
            JsonValue item = json_item(v, i);
            if (field_one(f, &item)) return 1;
        }
        return 0;
    }
    return field_one(f, v);
}

/* field_missing answers a field condition whose key yields no value. */
static int field_missing(const FieldCond *f)
{
    if (f->has_count) return count_ok(&f->count, 0);
    if (f->is_empty >= 0) return f->is_empty;
    if (f->is_null >= 0) return !f->is_null;
    return 0;
}

typedef struct {
    const FieldCond *f;
    int seen;
} FieldVisit;

static int field_visit(void *ctx, const JsonValue *v)
{
    FieldVisit *x = ctx;
    x->seen = 1;
    return field_value(x->f, v);
}

static int nonempty_visit(void *ctx, const JsonValue *v)
{
    (void)ctx;
    return !value_is_empty(v);
}

static int null_visit(void *ctx, const JsonValue *v)
{
    (void)ctx;
    return v->type == JSON_NULL;
}

static int node_match(const FilterNode *n, const PointId *id, const JsonValue *payload);

static int nested_visit(void *ctx, const JsonValue *v)
{
    const FilterNode *n = ctx;
    return v->type == JSON_OBJECT && node_match(n, NULL, v);
}

static int cond_match(const Cond *c, const PointId *id, const JsonValue *payload)
{
    switch (c->kind) {
    case COND_FILTER: return node_match(c->u.filter, id, payload);
    case COND_FIELD: {
        FieldVisit x = { c->u.field, 0 };
        if (walk_payload(&c->u.field->path, payload, field_visit, &x)) return 1;
        return x.seen ? 0 : field_missing(c->u.field);
    }
    case COND_IS_EMPTY: return !walk_payload(&c->u.path, payload, nonempty_visit, NULL);
    case COND_IS_NULL: return walk_payload(&c->u.path, payload, null_visit, NULL);
    case COND_HAS_ID:
        return id && c->u.has_id.n &&
               bsearch(id, c->u.has_id.ids, c->u.has_id.n, sizeof(PointId),
                       cmp_point_id) != NULL;
    case COND_NESTED:
        return walk_payload(&c->u.nested.path, payload, nested_visit, c->u.nested.filter);
    }
    return 0;
}

/* node_match is Qdrant's check_filter; clauses are checked cheapest-first
 * in effect only by order, the result does not depend on it. */
static int node_match(const FilterNode *n, const PointId *id, const JsonValue *payload)
{
    for (uint32_t i = 0; i < n->must.n; i++)
        if (!cond_match(&n->must.conds[i], id, payload)) return 0;
    for (uint32_t i = 0; i < n->must_not.n; i++)
        if (cond_match(&n->must_not.conds[i], id, payload)) return 0;
    if (n->should.present) {
        uint32_t i = 0;
        while (i < n->should.n && !cond_match(&n->should.conds[i], id, payload)) i++;
        if (i == n->should.n) return 0;
    }
    if (n->min_should.present) {
        uint64_t hits = 0;
        for (uint32_t i = 0; i < n->min_should.n && hits < n->min_count; i++)
            hits += (uint64_t)cond_match(&n->min_should.conds[i], id, payload);
        if (hits < n->min_count) return 0;
    }
    return 1;
}

int filter_match(const Filter *f, const PointId *id, const JsonValue *payload)
{
    if (!f || !f->root) return 1;
    /* A payload is an object; anything else is treated as empty. */
    if (payload && payload->type != JSON_OBJECT) payload = NULL;
    return node_match(f->root, id, payload);
}

int filter_matches_all(const Filter *f)
{
    if (!f || !f->root) return 1;
    const FilterNode *n = f->root;
    return n->must.n == 0 && n->must_not.n == 0 && !n->should.present && !n->min_should.present;
}

int filter_id_candidates(const Filter *f, const PointId **ids, size_t *n)
{
    if (!f || !f->root) return 0;
    const Clause *must = &f->root->must;
    for (uint32_t i = 0; i < must->n; i++) {
        if (must->conds[i].kind == COND_HAS_ID) {
            *ids = must->conds[i].u.has_id.ids;
            *n = must->conds[i].u.has_id.n;
            return 1;
        }
    }
    return 0;
}
