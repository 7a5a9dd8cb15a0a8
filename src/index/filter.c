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
#include "index/payload_index.h"

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
    COND_HAS_VECTOR,
};

enum {
    MATCH_VALUE_STR = 0,
    MATCH_VALUE_INT,
    MATCH_VALUE_BOOL,
    MATCH_ANY_STR,
    MATCH_ANY_INT,
    MATCH_EXCEPT_STR,
    MATCH_EXCEPT_INT,
    MATCH_TEXT,     /* substring; all tokens with a text index */
    MATCH_TEXT_ANY, /* any whitespace-separated word is a substring; any token with a text index */
    MATCH_PHRASE,   /* substring; with a text index, the query's tokens in a row */
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

/* How a bound condition reads its index (filter_bind). */
enum {
    BIND_SHAPE = 1,  /* values_count, is_empty, is_null: the shapes */
    BIND_VALUES = 2, /* match / range: the values of the index's type */
    /* match phrase on a text index: candidates are the points having every
     * token, the answer comes from the payload re-tokenized (the index
     * keeps no positions) */
    BIND_PHRASE = 3,
};

typedef struct {
    const PayloadIndex *ix;
    uint8_t kind;      /* BIND_* */
    uint8_t type;      /* the index's PayloadIndexType */
    uint8_t unknown;   /* text: a query token no document has */
    uint32_t term;     /* match value string: its term, or PAYLOAD_NO_TERM */
    uint32_t *terms;   /* any / except strings: the known terms, sorted */
    uint32_t n_terms;
    Slice *toks;       /* text: the query's distinct tokens */
    uint32_t n_toks;
    uint32_t *tok_ids; /* text: the known tokens' ids, sorted */
    uint32_t n_tok_ids;
    uint32_t *seq;     /* phrase: the query's token ids in order, repeats kept */
    uint32_t n_seq;
    PayloadRange range; /* range bounds as the index takes them */
} Bind;

typedef struct {
    uint8_t kind; /* COND_* */
    Bind *bind;   /* field, is_empty, is_null: the index answering it, or NULL */
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
        struct {
            const char *name; /* the vector's name ("" for the unnamed one) */
            int bit;          /* its bit in the point's vector mask; -1: none */
        } has_vector;
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
    uint8_t bound;    /* filter_bind ran with use_index: bound conditions read indexes */
    uint8_t needs_payload; /* (bound) some condition reads the payload */
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
int filter_datetime_parse(const char *s, size_t len, int64_t *out)
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
            m->kind = strcmp(name, "phrase") == 0 ? MATCH_PHRASE : MATCH_TEXT;
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
            if (filter_datetime_parse(x->u.str, x->len, &r->us[b]) != 0)
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

/* compile_has_vector: {"has_vector": "name"}. The name is resolved to a
 * bit of the point's vector mask when the engine binds the filter
 * (filter_bind_vectors); until then, and for a name the collection does
 * not have, the condition matches no point (Qdrant's condition_converter
 * answers false for an unknown vector). */
static int compile_has_vector(Compiler *c, const JsonValue *v, Cond *out)
{
    if (c->in_nested)
        return fail(c, ERR_INVAL, "has_vector is not supported inside a nested filter; "
                                  "put it in an adjacent must");
    int rc = expect_type(c, v, JSON_STRING, "a vector name");
    if (rc) return rc;
    out->kind = COND_HAS_VECTOR;
    out->u.has_vector.name = arena_strndup(c->arena, v->u.str, v->len);
    out->u.has_vector.bit = -1;
    return 0;
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
        default: rc = compile_has_vector(c, x, out);
        }
        where_pop(c, o);
        return rc;
    }
    static const char *const clauses[] = { "must", "should", "must_not", "min_should" };
    for (uint32_t i = 0; i < v->len; i++) {
        if (!member_in(&v->u.members[i], clauses, ARRAY_LEN(clauses)))
            return fail(c, ERR_INVAL,
                        "unknown condition field \"%.*s\" (expected a field condition with \"key\", "
                        "is_empty, is_null, has_id, nested, has_vector, or a filter with must, should, "
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
typedef FilterVisitFn VisitFn;

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

int filter_path_walk(const FilterPath *p, const JsonValue *payload, FilterVisitFn fn, void *ctx)
{
    return walk_payload(p, payload, fn, ctx);
}

int filter_path_equal(const FilterPath *a, const FilterPath *b)
{
    if (a->n != b->n) return 0;
    for (uint32_t i = 0; i < a->n; i++) {
        const FilterPathItem *x = &a->items[i], *y = &b->items[i];
        if (x->kind != y->kind) return 0;
        if (x->kind == FILTER_PATH_KEY && (x->len != y->len || memcmp(x->key, y->key, x->len) != 0))
            return 0;
        if (x->kind == FILTER_PATH_INDEX && x->index != y->index) return 0;
    }
    return 1;
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

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static int find_u32(const uint32_t *list, uint32_t n, uint32_t x)
{
    return n && bsearch(&x, list, n, sizeof(uint32_t), cmp_u32) != NULL;
}

static int contains(const JsonValue *v, Slice needle)
{
    return memmem(v->u.str, v->len, needle.ptr, needle.len) != NULL;
}

/* Token matching of a string against a bound text query (payload path). */
typedef struct {
    const Bind *b;
    uint64_t seen;    /* bit k: query token k occurs (when n_toks <= 64) */
    uint32_t want;    /* the query token looked for (n_toks > 64) */
    int found;
} TokMatch;

static int tok_seen(void *ctx, const char *tok, size_t len)
{
    TokMatch *t = ctx;
    const Bind *b = t->b;
    if (b->n_toks > 64) {
        const Slice *q = &b->toks[t->want];
        if (q->len == len && memcmp(q->ptr, tok, len) == 0) t->found = 1;
        return t->found;
    }
    for (uint32_t k = 0; k < b->n_toks; k++)
        if (b->toks[k].len == len && memcmp(b->toks[k].ptr, tok, len) == 0) t->seen |= 1ULL << k;
    return 0;
}

/* text_tokens answers match text (all 1) or text_any (all 0) for a
 * string value by tokenizing it as the bound text index does. */
static int text_tokens(const Bind *b, const JsonValue *v, int all)
{
    if (v->type != JSON_STRING || b->n_toks == 0) return 0;
    TokMatch t = { b, 0, 0, 0 };
    if (b->n_toks <= 64) {
        payload_index_tokenize(b->ix, v->u.str, v->len, tok_seen, &t);
        uint64_t full = b->n_toks == 64 ? UINT64_MAX : (1ULL << b->n_toks) - 1;
        return all ? t.seen == full : t.seen != 0;
    }
    /* Many query tokens: one pass over the value per token. */
    for (uint32_t k = 0; k < b->n_toks; k++) {
        t.want = k;
        t.found = 0;
        payload_index_tokenize(b->ix, v->u.str, v->len, tok_seen, &t);
        if (t.found && !all) return 1;
        if (!t.found && all) return 0;
    }
    return all;
}

/* PhraseScan matches the query's token ids against a value's tokens as
 * they stream: last[] holds the value's last n_seq token ids (a ring). */
typedef struct {
    const Bind *b;
    uint32_t *last;
    uint32_t n, pos;
    int found;
} PhraseScan;

static int phrase_tok(void *ctx, const char *tok, size_t len)
{
    PhraseScan *p = ctx;
    const Bind *b = p->b;
    p->last[p->pos % b->n_seq] = payload_index_term(b->ix, tok, len);
    p->pos++;
    if (p->pos < b->n_seq) return 0;
    for (uint32_t k = 0; k < b->n_seq; k++)
        if (p->last[(p->pos - b->n_seq + k) % b->n_seq] != b->seq[k]) return 0;
    p->found = 1;
    return 1;
}

/* phrase_tokens: the value, tokenized as the bound text index does, holds
 * the query's tokens in a row (Qdrant's phrase match); an empty phrase or
 * one with a token no document has matches nothing. */
static int phrase_tokens(const Bind *b, const JsonValue *v)
{
    if (v->type != JSON_STRING || b->n_seq == 0 || b->unknown) return 0;
    uint32_t small[64];
    PhraseScan p = { b, b->n_seq <= 64 ? small : xmalloc(b->n_seq * sizeof *p.last), 0, 0, 0 };
    payload_index_tokenize(b->ix, v->u.str, v->len, phrase_tok, &p);
    if (p.last != small) free(p.last);
    return p.found;
}

/* match_value is Qdrant's Match::check_match for one (non-array) value;
 * b is the condition's text index binding, if any. */
static int match_value(const Match *m, const Bind *b, const JsonValue *v)
{
    int64_t i;
    int text = b && b->type == PAYLOAD_INDEX_TEXT;
    switch (m->kind) {
    case MATCH_VALUE_STR:
        return v->type == JSON_STRING && v->len == m->str.len && memcmp(v->u.str, m->str.ptr, v->len) == 0;
    case MATCH_VALUE_INT: return json_i64(v, &i) && i == m->integer;
    case MATCH_VALUE_BOOL: return v->type == JSON_BOOL && !v->u.boolean == !m->boolean;
    case MATCH_TEXT:
        if (text) return text_tokens(b, v, 1);
        return v->type == JSON_STRING && contains(v, m->str);
    case MATCH_PHRASE:
        if (text) return phrase_tokens(b, v);
        return v->type == JSON_STRING && contains(v, m->str);
    case MATCH_TEXT_ANY:
        if (text) return text_tokens(b, v, 0);
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

static int range_num(const Range *r, double x)
{
    return (!r->present[BOUND_GT] || x > r->num[BOUND_GT]) &&
           (!r->present[BOUND_GTE] || x >= r->num[BOUND_GTE]) &&
           (!r->present[BOUND_LT] || x < r->num[BOUND_LT]) &&
           (!r->present[BOUND_LTE] || x <= r->num[BOUND_LTE]);
}

static int range_time(const Range *r, int64_t t)
{
    return (!r->present[BOUND_GT] || t > r->us[BOUND_GT]) &&
           (!r->present[BOUND_GTE] || t >= r->us[BOUND_GTE]) &&
           (!r->present[BOUND_LT] || t < r->us[BOUND_LT]) &&
           (!r->present[BOUND_LTE] || t <= r->us[BOUND_LTE]);
}

static int range_value(const Range *r, const JsonValue *v)
{
    if (!r->datetime) return v->type == JSON_NUMBER && range_num(r, v->u.num);
    int64_t t;
    if (v->type != JSON_STRING || filter_datetime_parse(v->u.str, v->len, &t) != 0) return 0;
    return range_time(r, t);
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
static int field_one(const FieldCond *f, const Bind *b, const JsonValue *v)
{
    GeoPoint p;
    return (f->has_match && match_value(&f->match, b, v)) || (f->has_range && range_value(&f->range, v)) ||
           ((f->geo_box || f->geo_radius || f->geo_polygon) && geo_point_of(v, &p) && geo_match(f, p));
}

/* field_value is Qdrant's FieldCondition::check for one value the key
 * path reached: values_count, is_empty and is_null look at the value as
 * a whole; match and range at each element of an array. */
static int field_value(const FieldCond *f, const Bind *b, const JsonValue *v)
{
    if (f->has_count) return count_ok(&f->count, values_in(v));
    if (f->is_empty >= 0) return value_is_empty(v) == f->is_empty;
    if (f->is_null >= 0) return value_has_null(v) == f->is_null;
    if (v->type == JSON_ARRAY) {
        for (uint32_t i = 0; i < v->len; i++) {
            JsonValue item = json_item(v, i);
            if (field_one(f, b, &item)) return 1;
        }
        return 0;
    }
    return field_one(f, b, v);
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
    const Bind *b;
    int seen;
} FieldVisit;

static int field_visit(void *ctx, const JsonValue *v)
{
    FieldVisit *x = ctx;
    x->seen = 1;
    return field_value(x->f, x->b, v);
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

/* ---- evaluation from an index ---- */

static uint32_t shape_count(uint32_t s) { return s & PAYLOAD_SHAPE_COUNT_MASK; }

/* shape_field answers values_count / is_empty / is_null of a field
 * condition from the shapes of the reached values (field_value's first
 * three cases, field_missing when there are none). */
static int shape_field(const FieldCond *f, const PayloadValues *pv)
{
    if (!pv->n_shapes) return field_missing(f);
    for (uint32_t i = 0; i < pv->n_shapes; i++) {
        uint32_t s = pv->shapes[i];
        int ok;
        if (f->has_count) ok = count_ok(&f->count, shape_count(s));
        else if (f->is_empty >= 0) ok = (shape_count(s) == 0) == f->is_empty;
        else ok = ((s & (PAYLOAD_SHAPE_NULL | PAYLOAD_SHAPE_HAS_NULL)) != 0) == f->is_null;
        if (ok) return 1;
    }
    return 0;
}

static int match_term(const Match *m, const Bind *b, uint32_t t)
{
    switch (m->kind) {
    case MATCH_VALUE_STR: return t == b->term;
    case MATCH_ANY_STR: return find_u32(b->terms, b->n_terms, t);
    case MATCH_EXCEPT_STR: return !find_u32(b->terms, b->n_terms, t);
    case MATCH_VALUE_BOOL: return t == (m->boolean ? 1u : 0u);
    }
    return 0;
}

static int match_num(const Match *m, const PayloadNum *n)
{
    switch (m->kind) {
    case MATCH_VALUE_INT: return n->is_int && n->i == m->integer;
    case MATCH_ANY_INT: return n->is_int && find_i64(m->ints, m->n, n->i);
    case MATCH_EXCEPT_INT: return !n->is_int || !find_i64(m->ints, m->n, n->i);
    }
    return 0;
}

/* subset: every id of q (sorted) is in d (sorted); intersects: some is. */
static int ids_subset(const uint32_t *q, uint32_t nq, const uint32_t *d, uint32_t nd)
{
    uint32_t j = 0;
    for (uint32_t i = 0; i < nq; i++) {
        while (j < nd && d[j] < q[i]) j++;
        if (j == nd || d[j] != q[i]) return 0;
    }
    return 1;
}

static int ids_intersect(const uint32_t *q, uint32_t nq, const uint32_t *d, uint32_t nd)
{
    uint32_t i = 0, j = 0;
    while (i < nq && j < nd) {
        if (q[i] == d[j]) return 1;
        if (q[i] < d[j]) i++;
        else j++;
    }
    return 0;
}

/* values_field answers match / range from the values of the index's type:
 * true when some element passes, as field_value over the payload. */
static int values_field(const FieldCond *f, const Bind *b, const PayloadValues *pv)
{
    if (!pv->n_shapes) return 0;
    const Match *m = &f->match;
    /* An element of another type (not null) passes an except. */
    if (f->has_match && (m->kind == MATCH_EXCEPT_STR || m->kind == MATCH_EXCEPT_INT) && pv->n_other)
        return 1;
    switch (b->type) {
    case PAYLOAD_INDEX_KEYWORD:
    case PAYLOAD_INDEX_UUID:
    case PAYLOAD_INDEX_BOOL:
        for (uint32_t i = 0; i < pv->n_vals; i++)
            if (match_term(m, b, pv->terms[i])) return 1;
        return 0;
    case PAYLOAD_INDEX_INTEGER:
    case PAYLOAD_INDEX_FLOAT:
        for (uint32_t i = 0; i < pv->n_vals; i++)
            if ((f->has_match && match_num(m, &pv->nums[i])) ||
                (f->has_range && range_num(&f->range, pv->nums[i].d)))
                return 1;
        return 0;
    case PAYLOAD_INDEX_DATETIME:
        for (uint32_t i = 0; i < pv->n_vals; i++)
            if (range_time(&f->range, pv->times[i])) return 1;
        return 0;
    case PAYLOAD_INDEX_GEO:
        /* Points out of Qdrant's ranges are not in the index (nor in
         * Qdrant's geo index), so they never match here. */
        for (uint32_t i = 0; i < pv->n_vals; i++)
            if (geo_match(f, (GeoPoint){ pv->geos[i].lon, pv->geos[i].lat })) return 1;
        return 0;
    case PAYLOAD_INDEX_TEXT: {
        int all = m->kind == MATCH_TEXT;
        if (b->n_tok_ids == 0 || (all && b->unknown)) return 0;
        const uint32_t *w = pv->tokens;
        for (uint32_t s = 0; s < pv->n_vals; s++) {
            uint32_t n = *w++;
            if (all ? ids_subset(b->tok_ids, b->n_tok_ids, w, n) : ids_intersect(b->tok_ids, b->n_tok_ids, w, n))
                return 1;
            w += n;
        }
        return 0;
    }
    default: return 0;
    }
}

/* The point being evaluated: its id, its node in the indexes (when they
 * may be used) and its payload, read on first need. */
typedef struct {
    const PointId *id;
    uint32_t node;
    int indexed;
    const JsonValue *payload;
    int have;
    FilterPayloadFn fn;
    void *ctx;
    uint32_t mask;  /* the point's vectors (has_vector), with the payload */
    int have_mask;  /* 0: unknown, has_vector fails */
} Eval;

static const JsonValue *eval_payload(Eval *e)
{
    if (!e->have) {
        e->payload = e->fn ? e->fn(e->ctx, &e->mask) : NULL;
        e->have_mask = e->fn != NULL;
        if (e->payload && e->payload->type != JSON_OBJECT) e->payload = NULL;
        e->have = 1;
    }
    return e->payload;
}

static int node_match(const FilterNode *n, Eval *e);

static int nested_visit(void *ctx, const JsonValue *v)
{
    const FilterNode *n = ctx;
    if (v->type != JSON_OBJECT) return 0;
    Eval sub = { NULL, 0, 0, v, 1, NULL, NULL, 0, 0 };
    return node_match(n, &sub);
}

static int cond_match(const Cond *c, Eval *e)
{
    const Bind *b = c->bind;
    PayloadValues pv;
    if (b && e->indexed && b->kind != BIND_PHRASE) payload_index_values(b->ix, e->node, &pv);
    else memset(&pv, 0, sizeof pv);
    switch (c->kind) {
    case COND_FILTER: return node_match(c->u.filter, e);
    case COND_FIELD: {
        if (b && e->indexed && b->kind != BIND_PHRASE)
            return b->kind == BIND_SHAPE ? shape_field(c->u.field, &pv) : values_field(c->u.field, b, &pv);
        FieldVisit x = { c->u.field, b, 0 };
        if (walk_payload(&c->u.field->path, eval_payload(e), field_visit, &x)) return 1;
        return x.seen ? 0 : field_missing(c->u.field);
    }
    case COND_IS_EMPTY:
        if (b && e->indexed) {
            for (uint32_t i = 0; i < pv.n_shapes; i++)
                if (shape_count(pv.shapes[i])) return 0;
            return 1;
        }
        return !walk_payload(&c->u.path, eval_payload(e), nonempty_visit, NULL);
    case COND_IS_NULL:
        if (b && e->indexed) {
            for (uint32_t i = 0; i < pv.n_shapes; i++)
                if (pv.shapes[i] & PAYLOAD_SHAPE_NULL) return 1;
            return 0;
        }
        return walk_payload(&c->u.path, eval_payload(e), null_visit, NULL);
    case COND_HAS_ID:
        return e->id && c->u.has_id.n &&
               bsearch(e->id, c->u.has_id.ids, c->u.has_id.n, sizeof(PointId),
                       cmp_point_id) != NULL;
    case COND_NESTED:
        return walk_payload(&c->u.nested.path, eval_payload(e), nested_visit, c->u.nested.filter);
    case COND_HAS_VECTOR:
        if (c->u.has_vector.bit < 0) return 0;
        eval_payload(e);
        return e->have_mask && (e->mask >> c->u.has_vector.bit & 1);
    }
    return 0;
}

/* node_match is Qdrant's check_filter; clauses are checked cheapest-first
 * in effect only by order, the result does not depend on it. */
static int node_match(const FilterNode *n, Eval *e)
{
    for (uint32_t i = 0; i < n->must.n; i++)
        if (!cond_match(&n->must.conds[i], e)) return 0;
    for (uint32_t i = 0; i < n->must_not.n; i++)
        if (cond_match(&n->must_not.conds[i], e)) return 0;
    if (n->should.present) {
        uint32_t i = 0;
        while (i < n->should.n && !cond_match(&n->should.conds[i], e)) i++;
        if (i == n->should.n) return 0;
    }
    if (n->min_should.present) {
        uint64_t hits = 0;
        for (uint32_t i = 0; i < n->min_should.n && hits < n->min_count; i++)
            hits += (uint64_t)cond_match(&n->min_should.conds[i], e);
        if (hits < n->min_count) return 0;
    }
    return 1;
}

int filter_match(const Filter *f, const PointId *id, const JsonValue *payload)
{
    if (!f || !f->root) return 1;
    /* A payload is an object; anything else is treated as empty. */
    if (payload && payload->type != JSON_OBJECT) payload = NULL;
    Eval e = { id, 0, 0, payload, 1, NULL, NULL, 0, 0 };
    return node_match(f->root, &e);
}

int filter_match_vectors(const Filter *f, const PointId *id, const JsonValue *payload,
                         uint32_t vector_mask)
{
    if (!f || !f->root) return 1;
    if (payload && payload->type != JSON_OBJECT) payload = NULL;
    Eval e = { id, 0, 0, payload, 1, NULL, NULL, vector_mask, 1 };
    return node_match(f->root, &e);
}

int filter_match_node(const Filter *f, const PointId *id, uint32_t node, FilterPayloadFn payload,
                      void *ctx)
{
    if (!f || !f->root) return 1;
    Eval e = { id, node, f->bound, NULL, 0, payload, ctx, 0, 0 };
    return node_match(f->root, &e);
}

int filter_matches_all(const Filter *f)
{
    if (!f || !f->root) return 1;
    const FilterNode *n = f->root;
    return n->must.n == 0 && n->must_not.n == 0 && !n->should.present && !n->min_should.present;
}

/* value_key: the key filter_must_terms reports for condition c (a
 * keyword term id, or an integer value exact as a double), or 0 when c
 * is no single-value match on a keyword or integer index. */
static int value_key(const Cond *c, int64_t *key)
{
    if (c->kind != COND_FIELD || !c->bind || c->bind->kind != BIND_VALUES) return 0;
    const FieldCond *fc = c->u.field;
    if (!fc->has_match) return 0;
    if (fc->match.kind == MATCH_VALUE_STR && c->bind->type == PAYLOAD_INDEX_KEYWORD &&
        c->bind->term != PAYLOAD_NO_TERM) {
        *key = c->bind->term;
        return 1;
    }
    /* The integer index lists a value's points by its double: exact up
     * to 2^53. */
    if (fc->match.kind == MATCH_VALUE_INT && c->bind->type == PAYLOAD_INDEX_INTEGER &&
        fc->match.integer > -((int64_t)1 << 53) && fc->match.integer < ((int64_t)1 << 53)) {
        *key = fc->match.integer;
        return 1;
    }
    return 0;
}

/* must_terms calls fn for the values n's must (and the must of filters
 * nested in it) requires; nonzero from fn stops. */
static int must_terms(const FilterNode *n, FilterTermFn fn, void *ctx)
{
    for (uint32_t i = 0; i < n->must.n; i++) {
        const Cond *c = &n->must.conds[i];
        int64_t key;
        if (c->kind == COND_FILTER) {
            if (must_terms(c->u.filter, fn, ctx)) return 1;
        } else if (value_key(c, &key) && fn(ctx, c->bind->ix, key)) {
            return 1;
        }
    }
    return 0;
}

void filter_must_terms(const Filter *f, FilterTermFn fn, void *ctx)
{
    if (f && f->root && f->bound) must_terms(f->root, fn, ctx);
}

int filter_single_term(const Filter *f, const PayloadIndex **ix, int64_t *key)
{
    if (!f || !f->root || !f->bound) return 0;
    const FilterNode *n = f->root;
    if (n->must.n != 1 || n->must_not.n || n->should.present || n->min_should.present) return 0;
    const Cond *c = &n->must.conds[0];
    if (!value_key(c, key)) return 0;
    const FieldCond *fc = c->u.field;
    if (fc->has_range || fc->has_count || fc->is_empty >= 0 || fc->is_null >= 0 || fc->geo_box ||
        fc->geo_radius || fc->geo_polygon)
        return 0;
    *ix = c->bind->ix;
    return 1;
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

/* ---- binding to payload indexes ---- */

typedef struct {
    Arena *arena;
    PayloadIndex *const *ix;
    size_t n_ix;
    int needs_payload;
} Binder;

static const PayloadIndex *find_index(const Binder *bd, const FilterPath *p)
{
    for (size_t i = 0; i < bd->n_ix; i++)
        if (filter_path_equal(payload_index_path(bd->ix[i]), p)) return bd->ix[i];
    return NULL;
}

/* match_ok: can an index of type t answer match m exactly? */
static int match_ok(const Match *m, int t)
{
    switch (m->kind) {
    case MATCH_VALUE_STR:
    case MATCH_ANY_STR:
    case MATCH_EXCEPT_STR: return t == PAYLOAD_INDEX_KEYWORD || t == PAYLOAD_INDEX_UUID;
    case MATCH_VALUE_INT:
    case MATCH_ANY_INT:
    case MATCH_EXCEPT_INT: return t == PAYLOAD_INDEX_INTEGER || t == PAYLOAD_INDEX_FLOAT;
    case MATCH_VALUE_BOOL: return t == PAYLOAD_INDEX_BOOL;
    case MATCH_TEXT:
    case MATCH_TEXT_ANY: return t == PAYLOAD_INDEX_TEXT;
    default: return 0;
    }
}

static int range_ok(const Range *r, int t)
{
    if (r->datetime) return t == PAYLOAD_INDEX_DATETIME;
    return t == PAYLOAD_INDEX_INTEGER || t == PAYLOAD_INDEX_FLOAT;
}

/* to_payload_range gives the tightest lower and upper bound of r. */
static void to_payload_range(const Range *r, PayloadRange *out)
{
    memset(out, 0, sizeof *out);
    if (r->datetime) {
        if (r->present[BOUND_GT] || r->present[BOUND_GTE]) {
            out->has_lo = 1;
            int gt = r->present[BOUND_GT] && (!r->present[BOUND_GTE] || r->us[BOUND_GT] >= r->us[BOUND_GTE]);
            out->lo_t = gt ? r->us[BOUND_GT] : r->us[BOUND_GTE];
            out->lo_incl = !gt;
        }
        if (r->present[BOUND_LT] || r->present[BOUND_LTE]) {
            out->has_hi = 1;
            int lt = r->present[BOUND_LT] && (!r->present[BOUND_LTE] || r->us[BOUND_LT] <= r->us[BOUND_LTE]);
            out->hi_t = lt ? r->us[BOUND_LT] : r->us[BOUND_LTE];
            out->hi_incl = !lt;
        }
        return;
    }
    if (r->present[BOUND_GT] || r->present[BOUND_GTE]) {
        out->has_lo = 1;
        int gt = r->present[BOUND_GT] && (!r->present[BOUND_GTE] || r->num[BOUND_GT] >= r->num[BOUND_GTE]);
        out->lo = gt ? r->num[BOUND_GT] : r->num[BOUND_GTE];
        out->lo_incl = !gt;
    }
    if (r->present[BOUND_LT] || r->present[BOUND_LTE]) {
        out->has_hi = 1;
        int lt = r->present[BOUND_LT] && (!r->present[BOUND_LTE] || r->num[BOUND_LT] <= r->num[BOUND_LTE]);
        out->hi = lt ? r->num[BOUND_LT] : r->num[BOUND_LTE];
        out->hi_incl = !lt;
    }
}

/* Collecting a text query's distinct tokens. */
typedef struct {
    Arena *arena;
    Slice *toks;
    uint32_t n, cap;
} TokList;

static int tok_collect(void *ctx, const char *tok, size_t len)
{
    TokList *l = ctx;
    for (uint32_t k = 0; k < l->n; k++)
        if (l->toks[k].len == len && memcmp(l->toks[k].ptr, tok, len) == 0) return 0;
    if (l->n == l->cap) {
        uint32_t cap = l->cap ? l->cap * 2 : 8;
        Slice *n = arena_alloc(l->arena, cap * sizeof *n);
        if (l->n) memcpy(n, l->toks, l->n * sizeof *n);
        l->toks = n;
        l->cap = cap;
    }
    l->toks[l->n++] = arena_slice(l->arena, tok, len);
    return 0;
}

typedef struct {
    Arena *arena;
    const PayloadIndex *ix;
    uint32_t *ids;
    uint32_t n, cap;
    int unknown;
} SeqList;

static int seq_collect(void *ctx, const char *tok, size_t len)
{
    SeqList *l = ctx;
    uint32_t t = payload_index_term(l->ix, tok, len);
    if (t == PAYLOAD_NO_TERM) l->unknown = 1;
    if (l->n == l->cap) {
        uint32_t cap = l->cap ? l->cap * 2 : 8;
        uint32_t *n = arena_alloc(l->arena, cap * sizeof *n);
        if (l->n) memcpy(n, l->ids, l->n * sizeof *n);
        l->ids = n;
        l->cap = cap;
    }
    l->ids[l->n++] = t;
    return 0;
}

/* bind_phrase resolves a phrase's tokens: in order for the check, and
 * distinct and sorted (tok_ids) for the candidates, as match text. */
static void bind_phrase(Binder *bd, const FieldCond *f, Bind *b)
{
    SeqList l = { bd->arena, b->ix, NULL, 0, 0, 0 };
    payload_index_tokenize_query(b->ix, f->match.str.ptr, f->match.str.len, seq_collect, &l);
    b->seq = l.ids;
    b->n_seq = l.n;
    b->unknown = (uint8_t)l.unknown;
    b->tok_ids = arena_alloc(bd->arena, (l.n ? l.n : 1) * sizeof *b->tok_ids);
    for (uint32_t k = 0; k < l.n; k++)
        if (l.ids[k] != PAYLOAD_NO_TERM) b->tok_ids[b->n_tok_ids++] = l.ids[k];
    qsort(b->tok_ids, b->n_tok_ids, sizeof *b->tok_ids, cmp_u32);
    uint32_t m = 0;
    for (uint32_t k = 0; k < b->n_tok_ids; k++)
        if (!m || b->tok_ids[m - 1] != b->tok_ids[k]) b->tok_ids[m++] = b->tok_ids[k];
    b->n_tok_ids = m;
}

/* bind_values resolves a match / range condition's operands against ix. */
static void bind_values(Binder *bd, const FieldCond *f, Bind *b)
{
    const Match *m = &f->match;
    const PayloadIndex *ix = b->ix;
    b->term = PAYLOAD_NO_TERM;
    if (f->has_range) to_payload_range(&f->range, &b->range);
    if (!f->has_match) return;
    switch (m->kind) {
    case MATCH_VALUE_STR: b->term = payload_index_term(ix, m->str.ptr, m->str.len); break;
    case MATCH_ANY_STR:
    case MATCH_EXCEPT_STR:
        b->terms = arena_alloc(bd->arena, (m->n ? m->n : 1) * sizeof *b->terms);
        for (uint32_t i = 0; i < m->n; i++) {
            uint32_t t = payload_index_term(ix, m->strs[i].ptr, m->strs[i].len);
            if (t != PAYLOAD_NO_TERM) b->terms[b->n_terms++] = t;
        }
        qsort(b->terms, b->n_terms, sizeof *b->terms, cmp_u32);
        break;
    case MATCH_TEXT:
    case MATCH_TEXT_ANY: {
        TokList l = { bd->arena, NULL, 0, 0 };
        payload_index_tokenize_query(ix, m->str.ptr, m->str.len, tok_collect, &l);
        if (m->kind == MATCH_TEXT_ANY)
            for (uint32_t k = 0; k < m->n; k++)
                payload_index_tokenize_query(ix, m->strs[k].ptr, m->strs[k].len, tok_collect, &l);
        b->toks = l.toks;
        b->n_toks = l.n;
        b->tok_ids = arena_alloc(bd->arena, (l.n ? l.n : 1) * sizeof *b->tok_ids);
        for (uint32_t k = 0; k < l.n; k++) {
            uint32_t t = payload_index_term(ix, l.toks[k].ptr, l.toks[k].len);
            if (t == PAYLOAD_NO_TERM) b->unknown = 1;
            else b->tok_ids[b->n_tok_ids++] = t;
        }
        qsort(b->tok_ids, b->n_tok_ids, sizeof *b->tok_ids, cmp_u32);
        break;
    }
    default: break;
    }
}

static void bind_node(Binder *bd, FilterNode *n);

static void bind_cond(Binder *bd, Cond *c)
{
    c->bind = NULL;
    const PayloadIndex *ix = NULL;
    switch (c->kind) {
    case COND_FILTER: bind_node(bd, c->u.filter); return;
    case COND_HAS_ID: return;
    case COND_NESTED:
    case COND_HAS_VECTOR: bd->needs_payload = 1; return; /* the point's record */
    case COND_IS_EMPTY:
    case COND_IS_NULL:
        if (!(ix = find_index(bd, &c->u.path))) {
            bd->needs_payload = 1;
            return;
        }
        c->bind = arena_calloc(bd->arena, sizeof *c->bind);
        c->bind->ix = ix;
        c->bind->kind = BIND_SHAPE;
        c->bind->type = (uint8_t)payload_index_type(ix);
        return;
    case COND_FIELD: break;
    default: return;
    }
    const FieldCond *f = c->u.field;
    if (!(ix = find_index(bd, &f->path))) {
        bd->needs_payload = 1;
        return;
    }
    int t = payload_index_type(ix);
    Bind *b = arena_calloc(bd->arena, sizeof *b);
    b->ix = ix;
    b->type = (uint8_t)t;
    if (f->has_count || f->is_empty >= 0 || f->is_null >= 0) {
        b->kind = BIND_SHAPE;
    } else if (f->geo_box || f->geo_radius || f->geo_polygon) {
        /* Geo conditions read a geo index's points (values_field); with a
         * match or a range beside them, or on another index type, the
         * payload answers. */
        if (t != PAYLOAD_INDEX_GEO || f->has_match || f->has_range) {
            bd->needs_payload = 1;
            return;
        }
        b->kind = BIND_VALUES;
    } else if (t == PAYLOAD_INDEX_TEXT && f->has_match && f->match.kind == MATCH_PHRASE && !f->has_range) {
        b->kind = BIND_PHRASE;
        bind_phrase(bd, f, b);
        bd->needs_payload = 1;
    } else if ((!f->has_match || match_ok(&f->match, t)) && (!f->has_range || range_ok(&f->range, t))) {
        b->kind = BIND_VALUES;
        bind_values(bd, f, b);
    } else if (t == PAYLOAD_INDEX_TEXT && f->has_match &&
               (f->match.kind == MATCH_TEXT || f->match.kind == MATCH_TEXT_ANY)) {
        /* Unreachable today (text conditions have no range), kept so a
         * text index's semantics never depend on the planner. */
        b->kind = BIND_VALUES;
        bind_values(bd, f, b);
    } else {
        bd->needs_payload = 1;
        return;
    }
    c->bind = b;
}

static void bind_clause(Binder *bd, Clause *cl)
{
    for (uint32_t i = 0; i < cl->n; i++) bind_cond(bd, &cl->conds[i]);
}

static void bind_node(Binder *bd, FilterNode *n)
{
    bind_clause(bd, &n->must);
    bind_clause(bd, &n->should);
    bind_clause(bd, &n->must_not);
    bind_clause(bd, &n->min_should);
}

static void bind_vectors_node(FilterNode *n, FilterVectorFn resolve, void *ctx);

static void bind_vectors_clause(Clause *cl, FilterVectorFn resolve, void *ctx)
{
    for (uint32_t i = 0; i < cl->n; i++) {
        Cond *c = &cl->conds[i];
        if (c->kind == COND_FILTER) bind_vectors_node(c->u.filter, resolve, ctx);
        else if (c->kind == COND_HAS_VECTOR) c->u.has_vector.bit = resolve(ctx, c->u.has_vector.name);
    }
}

static void bind_vectors_node(FilterNode *n, FilterVectorFn resolve, void *ctx)
{
    bind_vectors_clause(&n->must, resolve, ctx);
    bind_vectors_clause(&n->should, resolve, ctx);
    bind_vectors_clause(&n->must_not, resolve, ctx);
    bind_vectors_clause(&n->min_should, resolve, ctx);
}

void filter_bind_vectors(Filter *f, FilterVectorFn resolve, void *ctx)
{
    if (f && f->root) bind_vectors_node(f->root, resolve, ctx);
}

void filter_bind(Filter *f, PayloadIndex *const *indexes, size_t n, int use_index)
{
    if (!f) return;
    Binder bd = { &f->arena, indexes, n, 0 };
    if (f->root) bind_node(&bd, f->root);
    f->bound = use_index != 0;
    f->needs_payload = (uint8_t)(bd.needs_payload || !use_index);
}

int filter_needs_payload(const Filter *f)
{
    if (!f || !f->root) return 0;
    if (f->bound) return f->needs_payload;
    return !filter_matches_all(f);
}

/* ---- cardinality ---- */

typedef struct {
    double min, exp, max;
} Card;

static Card card_unknown(double total) { return (Card){ 0, total / 2, total }; }

static double clampd(double x, double total) { return x < 0 ? 0 : x > total ? total : x; }

/* values_card: the size of a bound match / range condition's node set
 * (exact for terms, an upper bound for ranges); -1 when the index cannot
 * list it (except, a match and a range together). *sizes: an upper bound
 * of the candidate list it would give. */
static double values_size(const FieldCond *f, const Bind *b, int *exact)
{
    const Match *m = &f->match;
    const PayloadIndex *ix = b->ix;
    *exact = 0;
    if (f->has_match && f->has_range) return -1;
    if (f->has_range) {
        PayloadRange r = b->range;
        return (double)payload_index_range_count(ix, &r);
    }
    if (!f->has_match) return -1;
    double sum = 0;
    switch (m->kind) {
    case MATCH_VALUE_STR:
        *exact = 1;
        return b->term == PAYLOAD_NO_TERM ? 0 : (double)payload_index_term_count(ix, b->term);
    case MATCH_ANY_STR:
        for (uint32_t i = 0; i < b->n_terms; i++) sum += (double)payload_index_term_count(ix, b->terms[i]);
        *exact = b->n_terms <= 1;
        return sum;
    case MATCH_VALUE_BOOL:
        *exact = 1;
        return (double)payload_index_term_count(ix, m->boolean ? 1 : 0);
    case MATCH_VALUE_INT:
    case MATCH_ANY_INT: {
        uint32_t n = m->kind == MATCH_VALUE_INT ? 1 : m->n;
        for (uint32_t i = 0; i < n; i++) {
            double x = (double)(m->kind == MATCH_VALUE_INT ? m->integer : m->ints[i]);
            PayloadRange r = { 1, 1, 1, 1, x, x, 0, 0 };
            sum += (double)payload_index_range_count(ix, &r);
        }
        return sum;
    }
    case MATCH_PHRASE: /* every token present: an upper bound of the phrase's points */
    case MATCH_TEXT: {
        if (b->unknown || b->n_tok_ids == 0) {
            *exact = 1;
            return 0;
        }
        double best = -1;
        for (uint32_t i = 0; i < b->n_tok_ids; i++) {
            double c = (double)payload_index_term_count(ix, b->tok_ids[i]);
            if (best < 0 || c < best) best = c;
        }
        return best;
    }
    case MATCH_TEXT_ANY:
        for (uint32_t i = 0; i < b->n_tok_ids; i++) sum += (double)payload_index_term_count(ix, b->tok_ids[i]);
        return sum;
    default: return -1;
    }
}

static Card node_card(const FilterNode *n, double total);

static Card cond_card(const Cond *c, double total)
{
    switch (c->kind) {
    case COND_FILTER: return node_card(c->u.filter, total);
    case COND_HAS_ID: {
        double k = clampd((double)c->u.has_id.n, total);
        return (Card){ 0, k, k };
    }
    case COND_FIELD:
        if (c->bind && (c->bind->kind == BIND_VALUES || c->bind->kind == BIND_PHRASE)) {
            int exact;
            double s = values_size(c->u.field, c->bind, &exact);
            if (s >= 0) {
                s = clampd(s, total);
                return (Card){ exact ? s : 0, s, s };
            }
            const Match *m = &c->u.field->match;
            if (c->u.field->has_match && !c->u.field->has_range &&
                (m->kind == MATCH_EXCEPT_STR || m->kind == MATCH_EXCEPT_INT))
                return (Card){ 0, total, total };
        }
        return card_unknown(total);
    default: return card_unknown(total);
    }
}

/* Qdrant's combine_must_estimations and combine_should_estimations. */
static Card card_must(const Card *cs, size_t n, double total)
{
    if (!n) return (Card){ total, total, total };
    double smin = 0, pexp = 1, mmax = total;
    for (size_t i = 0; i < n; i++) {
        smin += cs[i].min;
        pexp *= total > 0 ? cs[i].exp / total : 0;
        if (cs[i].max < mmax) mmax = cs[i].max;
    }
    Card r = { clampd(smin - total * (double)(n - 1), total), total * pexp, mmax };
    if (r.exp > r.max) r.exp = r.max;
    if (r.exp < r.min) r.exp = r.min;
    return r;
}

static Card card_should(const Card *cs, size_t n, double total)
{
    if (!n) return (Card){ 0, 0, 0 };
    double mmin = 0, pmiss = 1, smax = 0;
    for (size_t i = 0; i < n; i++) {
        if (cs[i].min > mmin) mmin = cs[i].min;
        pmiss *= total > 0 ? 1 - cs[i].exp / total : 1;
        smax += cs[i].max;
    }
    Card r = { mmin, total * (1 - pmiss), clampd(smax, total) };
    if (r.exp > r.max) r.exp = r.max;
    if (r.exp < r.min) r.exp = r.min;
    return r;
}

static Card node_card(const FilterNode *n, double total)
{
    size_t cap = n->must.n + n->must_not.n + 2;
    Card stack[32];
    Card *cs = cap <= 32 ? stack : xmalloc(cap * sizeof *cs);
    size_t k = 0;
    for (uint32_t i = 0; i < n->must.n; i++) cs[k++] = cond_card(&n->must.conds[i], total);
    for (uint32_t i = 0; i < n->must_not.n; i++) {
        Card c = cond_card(&n->must_not.conds[i], total);
        cs[k++] = (Card){ total - c.max, total - c.exp, total - c.min };
    }
    const Clause *subs[2] = { &n->should, &n->min_should };
    for (int s = 0; s < 2; s++) {
        const Clause *cl = subs[s];
        if (!cl->present) continue;
        if (s == 1 && n->min_count == 0) continue;
        Card one[32];
        Card *sc = cl->n <= 32 ? one : xmalloc(cl->n * sizeof *sc);
        for (uint32_t i = 0; i < cl->n; i++) sc[i] = cond_card(&cl->conds[i], total);
        Card u = card_should(sc, cl->n, total);
        if (s == 1 && n->min_count > 1) u.min = 0;
        cs[k++] = u;
        if (sc != one) free(sc);
    }
    Card r = card_must(cs, k, total);
    if (cs != stack) free(cs);
    return r;
}

static uint64_t card_u64(double x) { return x <= 0 ? 0 : (uint64_t)(x + 0.5); }

void filter_estimate(const Filter *f, uint64_t total, FilterCardinality *out)
{
    if (!f || !f->root) {
        *out = (FilterCardinality){ total, total, total };
        return;
    }
    Card c = node_card(f->root, (double)total);
    out->min = card_u64(c.min);
    out->exp = card_u64(c.exp);
    out->max = card_u64(c.max);
    if (out->max > total) out->max = total;
    if (out->exp > out->max) out->exp = out->max;
    if (out->min > out->exp) out->min = out->exp;
}

/* ---- candidates ---- */

/* cond_list_size: the size bound of the candidate list a condition can
 * give, or -1 when it cannot give one. */
static double node_list_size(const FilterNode *n, const Cond **best);

static double cond_list_size(const Cond *c)
{
    if (c->kind == COND_FILTER) {
        const Cond *unused;
        return node_list_size(c->u.filter, &unused);
    }
    if (c->kind != COND_FIELD || !c->bind || (c->bind->kind != BIND_VALUES && c->bind->kind != BIND_PHRASE))
        return -1;
    const Match *m = &c->u.field->match;
    if (c->u.field->has_match && (m->kind == MATCH_EXCEPT_STR || m->kind == MATCH_EXCEPT_INT)) return -1;
    int exact;
    return values_size(c->u.field, c->bind, &exact);
}

/* node_list_size picks the smallest list source of a node: a must
 * condition (*best), or the union of a should / min_should whose
 * conditions all give lists (*best NULL; the union's size). */
static double node_list_size(const FilterNode *n, const Cond **best)
{
    double size = -1;
    *best = NULL;
    for (uint32_t i = 0; i < n->must.n; i++) {
        double s = cond_list_size(&n->must.conds[i]);
        if (s >= 0 && (size < 0 || s < size)) {
            size = s;
            *best = &n->must.conds[i];
        }
    }
    if (*best) return size;
    const Clause *subs[2] = { &n->should, &n->min_should };
    for (int k = 0; k < 2; k++) {
        const Clause *cl = subs[k];
        if (!cl->present || (k == 1 && n->min_count == 0)) continue;
        double sum = 0;
        uint32_t i;
        for (i = 0; i < cl->n; i++) {
            double s = cond_list_size(&cl->conds[i]);
            if (s < 0) break;
            sum += s;
        }
        if (i == cl->n && (size < 0 || sum < size)) size = sum;
    }
    return size;
}

static void node_list(const FilterNode *n, PayloadNodeList *out);

static void cond_list(const Cond *c, PayloadNodeList *out)
{
    if (c->kind == COND_FILTER) {
        node_list(c->u.filter, out);
        return;
    }
    const FieldCond *f = c->u.field;
    const Bind *b = c->bind;
    const Match *m = &f->match;
    if (f->has_range) {
        PayloadRange r = b->range;
        payload_index_range_nodes(b->ix, &r, out);
        return;
    }
    switch (m->kind) {
    case MATCH_VALUE_STR: payload_index_term_nodes(b->ix, b->term, out); break;
    case MATCH_ANY_STR:
        for (uint32_t i = 0; i < b->n_terms; i++) payload_index_term_nodes(b->ix, b->terms[i], out);
        break;
    case MATCH_VALUE_BOOL: payload_index_term_nodes(b->ix, m->boolean ? 1 : 0, out); break;
    case MATCH_VALUE_INT:
    case MATCH_ANY_INT: {
        uint32_t n = m->kind == MATCH_VALUE_INT ? 1 : m->n;
        for (uint32_t i = 0; i < n; i++) {
            double x = (double)(m->kind == MATCH_VALUE_INT ? m->integer : m->ints[i]);
            PayloadRange r = { 1, 1, 1, 1, x, x, 0, 0 };
            payload_index_range_nodes(b->ix, &r, out);
        }
        break;
    }
    case MATCH_PHRASE:
    case MATCH_TEXT: {
        if (b->unknown || !b->n_tok_ids) break;
        uint32_t rare = b->tok_ids[0];
        for (uint32_t i = 1; i < b->n_tok_ids; i++)
            if (payload_index_term_count(b->ix, b->tok_ids[i]) < payload_index_term_count(b->ix, rare))
                rare = b->tok_ids[i];
        payload_index_term_nodes(b->ix, rare, out);
        break;
    }
    case MATCH_TEXT_ANY:
        for (uint32_t i = 0; i < b->n_tok_ids; i++) payload_index_term_nodes(b->ix, b->tok_ids[i], out);
        break;
    default: break;
    }
}

static void node_list(const FilterNode *n, PayloadNodeList *out)
{
    const Cond *best;
    double size = node_list_size(n, &best);
    if (size < 0) return;
    if (best) {
        cond_list(best, out);
        return;
    }
    /* The cheapest union of should / min_should. */
    const Clause *subs[2] = { &n->should, &n->min_should };
    const Clause *pick = NULL;
    double pick_size = -1;
    for (int k = 0; k < 2; k++) {
        const Clause *cl = subs[k];
        if (!cl->present || (k == 1 && n->min_count == 0)) continue;
        double sum = 0;
        uint32_t i;
        for (i = 0; i < cl->n; i++) {
            double s = cond_list_size(&cl->conds[i]);
            if (s < 0) break;
            sum += s;
        }
        if (i == cl->n && (pick_size < 0 || sum < pick_size)) {
            pick = cl;
            pick_size = sum;
        }
    }
    for (uint32_t i = 0; pick && i < pick->n; i++) cond_list(&pick->conds[i], out);
}

int filter_candidates(const Filter *f, uint64_t total, uint64_t max_size, uint32_t **nodes,
                      size_t *n)
{
    (void)total;
    *nodes = NULL;
    *n = 0;
    if (!f || !f->root || !f->bound) return 0;
    const Cond *best;
    double size = node_list_size(f->root, &best);
    if (size < 0 || size > (double)max_size) return 0;
    PayloadNodeList l = { 0 };
    node_list(f->root, &l);
    payload_node_list_sort_unique(&l);
    *nodes = l.nodes;
    *n = l.n;
    return 1;
}
