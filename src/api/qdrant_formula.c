/*
 * qdrant_formula.c - Qdrant's formula queries: {"formula": E, "defaults":
 * {...}} rescores the points its prefetches found with an expression of
 * their scores, payload values and conditions
 * (lib/segment/src/index/query_optimization/rescore_formula/).
 *
 * An expression is a number; a string naming a variable ("$score" or
 * "$score[i]", the score in prefetch i, else a payload key path whose
 * value must be a number); a condition (any filter condition: 1 when the
 * point matches, else 0); or an object: sum / mult (arrays), neg, abs,
 * sqrt, exp, log10, ln, div {left, right, by_zero_default}, pow {base,
 * exponent}, geo_distance {origin, to} (haversine meters to the geo
 * point at payload key `to`), datetime (a constant, in seconds since the
 * epoch), datetime_key (a payload datetime), and lin_decay / exp_decay /
 * gauss_decay {x, target (0), scale (1), midpoint (0.5)}. Evaluation is
 * in double precision, as Qdrant's, with its short cuts (a zero factor
 * ends a product, a zero dividend a division) and its errors: a missing
 * payload value without a default, a non-number, or a non-finite result
 * fail the request with Qdrant's 400 message. A payload key reaching one
 * value uses it; nulls are skipped; several values are not a number.
 * Scores are the results as f32, best first (ties by id), cut by
 * score_threshold and the limit.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/qdrant_query.h"
#include "base/err.h"
#include "base/util.h"
#include "index/filter.h"
#include "index/geo.h"

/* Deepest expression nesting accepted: the evaluator recurses. */
#define QDRANT_FORMULA_MAX_DEPTH 64
/* Qdrant's decay defaults. */
#define DECAY_DEFAULT_MIDPOINT 0.5
#define DECAY_DEFAULT_SCALE 1.0

typedef enum {
    FX_CONST, FX_SCORE, FX_PAYLOAD, FX_COND, FX_GEO, FX_DATETIME, FX_DATETIME_KEY,
    FX_SUM, FX_MULT, FX_NEG, FX_ABS, FX_SQRT, FX_EXP, FX_LOG10, FX_LN, FX_DIV, FX_POW,
    FX_LIN_DECAY, FX_EXP_DECAY, FX_GAUSS_DECAY,
} FxKind;

typedef struct Fx Fx;
struct Fx {
    FxKind kind;
    double c;            /* CONST, DATETIME (seconds); DIV: by_zero_default; decays: lambda */
    int has_default;     /* DIV: by_zero_default given */
    size_t index;        /* SCORE: the prefetch; COND: the condition */
    const char *name;    /* PAYLOAD, GEO, DATETIME_KEY: the key as written (defaults' key) */
    FilterPath path;     /* PAYLOAD, GEO, DATETIME_KEY */
    GeoPoint origin;     /* GEO */
    Fx **args;           /* SUM, MULT: n; unary: 1; DIV, POW: 2; decays: x, target (or NULL) */
    size_t n;
};

struct QFormula {
    Fx *root;
    const JsonValue *defaults; /* object, or NULL */
    const JsonValue **conds;   /* the conditions, as filters */
    size_t n_conds, cap_conds;
};

/* ---- parsing ---- */

static Fx *fx_new(ApiJob *j, FxKind kind, size_t n_args)
{
    Fx *f = arena_calloc(api_arena(j), sizeof *f);
    f->kind = kind;
    f->n = n_args;
    if (n_args) f->args = arena_calloc(api_arena(j), n_args * sizeof *f->args);
    return f;
}

static int parse_expr(ApiJob *j, QFormula *q, const JsonValue *v, int depth, Fx **out);

static int parse_path(ApiJob *j, const char *s, size_t len, Fx *f)
{
    f->name = arena_strndup(api_arena(j), s, len);
    if (filter_path_parse(api_arena(j), s, len, &f->path))
        return api_fail(j, QERR_BAD_INPUT, "Invalid payload variable: %s", f->name);
    return 0;
}

/* parse_variable: "$score", "$score[N]", or a payload key path. */
static int parse_variable(ApiJob *j, const JsonValue *v, Fx **out)
{
    const char *s = v->u.str;
    if (s[0] == '$') {
        if (strncmp(s, "$score", 6)) return api_fail(j, QERR_BAD_INPUT, "Invalid reserved word: %s", s);
        Fx *f = fx_new(j, FX_SCORE, 0);
        const char *r = s + 6;
        if (*r) {
            /* "$score[N]": N decimal digits, nothing after the bracket. */
            size_t k = 0, nd = 0;
            if (*r++ != '[') return api_fail(j, QERR_BAD_INPUT, "Invalid reserved variable: %s", s);
            for (; *r >= '0' && *r <= '9' && nd < 9; r++, nd++) k = k * 10 + (size_t)(*r - '0');
            if (!nd || r[0] != ']' || r[1]) return api_fail(j, QERR_BAD_INPUT, "Invalid reserved variable: %s", s);
            f->index = k;
        }
        *out = f;
        return 0;
    }
    Fx *f = fx_new(j, FX_PAYLOAD, 0);
    if (parse_path(j, s, v->len, f)) return -1;
    *out = f;
    return 0;
}

static int parse_decay(ApiJob *j, QFormula *q, const JsonValue *p, FxKind kind, int depth, Fx **out)
{
    if (p->type != JSON_OBJECT) return api_fail(j, QERR_FORMAT, "invalid type, expected struct DecayParamsExpression");
    const JsonValue *x = json_get(p, "x");
    if (!x) return api_fail(j, QERR_FORMAT, "missing field `x`");
    Fx *f = fx_new(j, kind, 2);
    if (parse_expr(j, q, x, depth + 1, &f->args[0])) return -1;
    const JsonValue *t = json_get(p, "target");
    if (t && t->type != JSON_NULL && parse_expr(j, q, t, depth + 1, &f->args[1])) return -1;
    float mid = DECAY_DEFAULT_MIDPOINT, scale = DECAY_DEFAULT_SCALE;
    if (api_get_float(j, p, "midpoint", &mid) || api_get_float(j, p, "scale", &scale)) return -1;
    /* Qdrant computes lambda from the f32 parameters in f64. */
    double m = mid, s = scale;
    if (kind == FX_LIN_DECAY) {
        if (!(m >= 0.0 && m <= 1.0))
            return api_fail(j, QERR_BAD_INPUT, "Linear decay midpoint should be in the range [0.0, 1.0], got %g.", m);
    } else if (!(m > 0.0 && m < 1.0)) {
        return api_fail(j, QERR_BAD_INPUT, "Decay midpoint should be in the range (0.0, 1.0), got %g.", m);
    }
    if (!(s > 0.0)) return api_fail(j, QERR_BAD_INPUT, "Decay scale should be non-zero positive, got %g.", s);
    f->c = kind == FX_LIN_DECAY ? (1.0 - m) / s : kind == FX_EXP_DECAY ? log(m) / s : log(m) / (s * s);
    *out = f;
    return 0;
}

/* A condition object: anything a filter's must list takes. */
static int is_condition(const JsonValue *v)
{
    static const char *const keys[] = { "key", "is_empty", "is_null", "has_id", "has_vector", "nested",
                                        "must", "should", "must_not", "min_should" };
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        if (json_get(v, keys[i])) return 1;
    return 0;
}

static int parse_unary(ApiJob *j, QFormula *q, const JsonValue *v, FxKind kind, int depth, Fx **out)
{
    Fx *f = fx_new(j, kind, 1);
    if (parse_expr(j, q, v, depth + 1, &f->args[0])) return -1;
    *out = f;
    return 0;
}

static int parse_list(ApiJob *j, QFormula *q, const JsonValue *v, FxKind kind, int depth, Fx **out)
{
    if (v->type != JSON_ARRAY) return api_fail(j, QERR_FORMAT, "invalid type, expected a sequence");
    Fx *f = fx_new(j, kind, v->len);
    for (uint32_t i = 0; i < v->len; i++)
        if (parse_expr(j, q, api_item(j, v, i), depth + 1, &f->args[i])) return -1;
    *out = f;
    return 0;
}

static int parse_expr(ApiJob *j, QFormula *q, const JsonValue *v, int depth, Fx **out)
{
    if (depth > QDRANT_FORMULA_MAX_DEPTH)
        return api_fail(j, QERR_BAD_INPUT, "formula: expressions nest deeper than %d", QDRANT_FORMULA_MAX_DEPTH);
    if (v->type == JSON_NUMBER) {
        Fx *f = fx_new(j, FX_CONST, 0);
        f->c = (double)(float)v->u.num; /* Expression constants are f32 */
        *out = f;
        return 0;
    }
    if (v->type == JSON_STRING) return parse_variable(j, v, out);
    if (v->type != JSON_OBJECT) return api_fail(j, QERR_FORMAT, "data did not match any variant of untagged enum Expression");
    const JsonValue *x;
    if ((x = json_get(v, "sum"))) return parse_list(j, q, x, FX_SUM, depth, out);
    if ((x = json_get(v, "mult"))) return parse_list(j, q, x, FX_MULT, depth, out);
    if ((x = json_get(v, "neg"))) return parse_unary(j, q, x, FX_NEG, depth, out);
    if ((x = json_get(v, "abs"))) return parse_unary(j, q, x, FX_ABS, depth, out);
    if ((x = json_get(v, "sqrt"))) return parse_unary(j, q, x, FX_SQRT, depth, out);
    if ((x = json_get(v, "exp"))) return parse_unary(j, q, x, FX_EXP, depth, out);
    if ((x = json_get(v, "log10"))) return parse_unary(j, q, x, FX_LOG10, depth, out);
    if ((x = json_get(v, "ln"))) return parse_unary(j, q, x, FX_LN, depth, out);
    if ((x = json_get(v, "lin_decay"))) return parse_decay(j, q, x, FX_LIN_DECAY, depth, out);
    if ((x = json_get(v, "exp_decay"))) return parse_decay(j, q, x, FX_EXP_DECAY, depth, out);
    if ((x = json_get(v, "gauss_decay"))) return parse_decay(j, q, x, FX_GAUSS_DECAY, depth, out);
    if ((x = json_get(v, "div"))) {
        const JsonValue *l = x->type == JSON_OBJECT ? json_get(x, "left") : NULL;
        const JsonValue *r = x->type == JSON_OBJECT ? json_get(x, "right") : NULL;
        if (!l || !r) return api_fail(j, QERR_FORMAT, "missing field `%s`", l ? "right" : "left");
        Fx *f = fx_new(j, FX_DIV, 2);
        if (parse_expr(j, q, l, depth + 1, &f->args[0]) || parse_expr(j, q, r, depth + 1, &f->args[1])) return -1;
        const JsonValue *d = json_get(x, "by_zero_default");
        if (d && d->type != JSON_NULL) {
            float dv;
            if (api_get_float(j, x, "by_zero_default", &dv)) return -1;
            f->has_default = 1;
            f->c = dv;
        }
        *out = f;
        return 0;
    }
    if ((x = json_get(v, "pow"))) {
        const JsonValue *b = x->type == JSON_OBJECT ? json_get(x, "base") : NULL;
        const JsonValue *e = x->type == JSON_OBJECT ? json_get(x, "exponent") : NULL;
        if (!b || !e) return api_fail(j, QERR_FORMAT, "missing field `%s`", b ? "exponent" : "base");
        Fx *f = fx_new(j, FX_POW, 2);
        if (parse_expr(j, q, b, depth + 1, &f->args[0]) || parse_expr(j, q, e, depth + 1, &f->args[1])) return -1;
        *out = f;
        return 0;
    }
    if ((x = json_get(v, "geo_distance"))) {
        const JsonValue *o = x->type == JSON_OBJECT ? json_get(x, "origin") : NULL;
        const char *to = x->type == JSON_OBJECT ? json_as_str(json_get(x, "to")) : NULL;
        double lon, lat;
        if (!o || !to || json_as_double(json_get(o, "lon"), &lon) || json_as_double(json_get(o, "lat"), &lat))
            return api_fail(j, QERR_FORMAT, "invalid type, expected struct GeoDistanceParams");
        if (!geo_point_valid(lon, lat))
            return api_fail(j, QERR_FORMAT, "Wrong format of GeoPoint payload: expected `lat` = %g within [-90;90] and `lon` = %g within [-180;180]", lat, lon);
        Fx *f = fx_new(j, FX_GEO, 0);
        f->origin = (GeoPoint){ lon, lat };
        if (parse_path(j, to, strlen(to), f)) return -1;
        *out = f;
        return 0;
    }
    if ((x = json_get(v, "datetime"))) {
        int64_t us;
        if (x->type != JSON_STRING || filter_datetime_parse(x->u.str, x->len, &us))
            return api_fail(j, QERR_FORMAT, "invalid datetime at `datetime`");
        Fx *f = fx_new(j, FX_DATETIME, 0);
        f->c = (double)us / 1e6;
        *out = f;
        return 0;
    }
    if ((x = json_get(v, "datetime_key"))) {
        if (x->type != JSON_STRING) return api_fail(j, QERR_FORMAT, "invalid type, expected a string at `datetime_key`");
        Fx *f = fx_new(j, FX_DATETIME_KEY, 0);
        if (parse_path(j, x->u.str, x->len, f)) return -1;
        *out = f;
        return 0;
    }
    if (is_condition(v)) {
        if (q->n_conds == q->cap_conds) {
            size_t cap = q->cap_conds ? q->cap_conds * 2 : 4;
            const JsonValue **c = arena_alloc(api_arena(j), cap * sizeof *c);
            if (q->n_conds) memcpy(c, q->conds, q->n_conds * sizeof *c);
            q->conds = c;
            q->cap_conds = cap;
        }
        /* A condition is checked as a filter of one must clause. */
        JsonMember *m = arena_calloc(api_arena(j), sizeof *m);
        JsonValue *list = arena_calloc(api_arena(j), sizeof *list);
        JsonValue *filter = arena_calloc(api_arena(j), sizeof *filter);
        list->type = JSON_ARRAY;
        list->len = 1;
        list->u.items = (JsonValue *)v;
        m->key = "must";
        m->key_len = 4;
        m->value = *list;
        filter->type = JSON_OBJECT;
        filter->len = 1;
        filter->u.members = m;
        if (api_check_filter(j, filter)) return -1;
        Fx *f = fx_new(j, FX_COND, 0);
        f->index = q->n_conds;
        q->conds[q->n_conds++] = filter;
        *out = f;
        return 0;
    }
    return api_fail(j, QERR_FORMAT, "data did not match any variant of untagged enum Expression");
}

int qdrant_formula_parse(ApiJob *j, const JsonValue *query, QFormula **out)
{
    QFormula *q = arena_calloc(api_arena(j), sizeof *q);
    const JsonValue *d = json_get(query, "defaults");
    if (d && d->type != JSON_NULL && d->type != JSON_OBJECT)
        return api_fail(j, QERR_FORMAT, "invalid type, expected a map at `defaults`");
    q->defaults = d && d->type == JSON_OBJECT ? d : NULL;
    if (parse_expr(j, q, json_get(query, "formula"), 0, &q->root)) return -1;
    *out = q;
    return 0;
}

/* ---- evaluation ---- */

typedef struct {
    ApiJob *j;
    const QFormula *q;
    const JsonValue *payload; /* the point's, or NULL */
    const float *scores;      /* [n_lists]: the point's score per prefetch, NaN when absent */
    size_t n_lists;
    const uint8_t *cond;      /* [n_conds]: 1 when the point matches */
} FxPoint;

typedef struct {
    const JsonValue *vals[2];
    size_t n;
} Reached;

/* reach collects the values a path reaches, an array's elements one by
 * one and nulls skipped (two are enough to know there are several). */
static int reach_one(void *ctx, const JsonValue *v)
{
    Reached *r = ctx;
    if (v->type == JSON_NULL) return 0;
    if (r->n < 2) r->vals[r->n] = v;
    r->n++;
    return 0;
}

static int reach(void *ctx, const JsonValue *v)
{
    if (v->type == JSON_ARRAY) {
        /* Payloads are parsed unpacked here, so items are nodes. */
        for (uint32_t i = 0; i < v->len; i++) reach_one(ctx, &v->u.items[i]);
        return 0;
    }
    return reach_one(ctx, v);
}

/* value_of: the variable's one value (payload, else defaults), or an
 * error with Qdrant's wording. */
static int value_of(const FxPoint *p, const Fx *f, const char *type, const JsonValue **out)
{
    Reached r = { { NULL, NULL }, 0 };
    if (p->payload) filter_path_walk(&f->path, p->payload, reach, &r);
    if (r.n == 1) {
        *out = r.vals[0];
        return 0;
    }
    if (r.n > 1)
        return api_fail(p->j, QERR_BAD_INPUT,
                        "Expected %s value for %s in the payload and/or in the formula defaults. Error: "
                        "Value is not a %s",
                        type, f->name, !strcmp(type, "datetime") ? "string" : type);
    const JsonValue *d = p->q->defaults ? json_get(p->q->defaults, f->name) : NULL;
    if (!d)
        return api_fail(p->j, QERR_BAD_INPUT,
                        "Expected %s value for %s in the payload and/or in the formula defaults. Error: "
                        "No value found in a payload nor defaults",
                        type, f->name);
    *out = d;
    return 0;
}

/* finite_or_fail keeps a finite result, else fails with Qdrant's
 * message, the expression written as Qdrant writes it. */
static int finite_or_fail(const FxPoint *p, double v, FxKind kind, double a, double b, double *out)
{
    if (isfinite(v)) {
        *out = v;
        return 0;
    }
    char e[160];
    switch (kind) {
    case FX_SQRT: snprintf(e, sizeof e, "\u221a%g = %g", a, v); break;
    case FX_POW: snprintf(e, sizeof e, "%g^%g = %g", a, b, v); break;
    case FX_DIV: snprintf(e, sizeof e, "%g/%g = %g", a, b, v); break;
    default:
        snprintf(e, sizeof e, "%s(%g) = %g", kind == FX_EXP ? "exp" : kind == FX_LOG10 ? "log10" : "ln", a, v);
        break;
    }
    return api_fail(p->j, QERR_BAD_INPUT, "The expression %s produced a non-finite number", e);
}

static int eval(const FxPoint *p, const Fx *f, double *out)
{
    double a, b;
    const JsonValue *v;
    switch (f->kind) {
    case FX_CONST: *out = f->c; return 0;
    case FX_SCORE: {
        float s = f->index < p->n_lists ? p->scores[f->index] : NAN;
        if (!isnan(s)) {
            *out = s;
            return 0;
        }
        /* Absent from that prefetch: the "$score" default, else 0. */
        char key[40];
        snprintf(key, sizeof key, "$score[%zu]", f->index);
        const JsonValue *d = p->q->defaults ? json_get(p->q->defaults, key) : NULL;
        if (!d && f->index == 0 && p->q->defaults) d = json_get(p->q->defaults, "$score");
        *out = d && d->type == JSON_NUMBER ? d->u.num : 0.0;
        return 0;
    }
    case FX_PAYLOAD:
        if (value_of(p, f, "number", &v)) return -1;
        if (v->type != JSON_NUMBER)
            return api_fail(p->j, QERR_BAD_INPUT,
                            "Expected number value for %s in the payload and/or in the formula defaults. "
                            "Error: Value is not a number",
                            f->name);
        *out = v->u.num;
        return 0;
    case FX_COND: *out = p->cond[f->index] ? 1.0 : 0.0; return 0;
    case FX_GEO: {
        if (value_of(p, f, "geo point", &v)) return -1;
        double lon, lat;
        if (v->type != JSON_OBJECT || json_as_double(json_get(v, "lon"), &lon) ||
            json_as_double(json_get(v, "lat"), &lat))
            return api_fail(p->j, QERR_BAD_INPUT,
                            "Expected geo point value for %s in the payload and/or in the formula "
                            "defaults. Error: not a geo point",
                            f->name);
        *out = geo_haversine_m(f->origin, (GeoPoint){ lon, lat });
        return 0;
    }
    case FX_DATETIME: *out = f->c; return 0;
    case FX_DATETIME_KEY: {
        if (value_of(p, f, "datetime", &v)) return -1;
        int64_t us;
        if (v->type != JSON_STRING || filter_datetime_parse(v->u.str, v->len, &us))
            return api_fail(p->j, QERR_BAD_INPUT,
                            "Expected datetime value for %s in the payload and/or in the formula "
                            "defaults. Error: Value is not a datetime string",
                            f->name);
        *out = (double)us / 1e6;
        return 0;
    }
    case FX_SUM:
        *out = 0.0;
        for (size_t i = 0; i < f->n; i++) {
            if (eval(p, f->args[i], &a)) return -1;
            *out += a;
        }
        return 0;
    case FX_MULT:
        *out = 1.0;
        for (size_t i = 0; i < f->n; i++) {
            if (eval(p, f->args[i], &a)) return -1;
            if (a == 0.0) {
                *out = 0.0;
                return 0;
            }
            *out *= a;
        }
        return 0;
    case FX_NEG: if (eval(p, f->args[0], &a)) return -1; *out = -a; return 0;
    case FX_ABS: if (eval(p, f->args[0], &a)) return -1; *out = fabs(a); return 0;
    case FX_SQRT: if (eval(p, f->args[0], &a)) return -1; return finite_or_fail(p, sqrt(a), FX_SQRT, a, 0, out);
    case FX_EXP: if (eval(p, f->args[0], &a)) return -1; return finite_or_fail(p, exp(a), FX_EXP, a, 0, out);
    case FX_LOG10: if (eval(p, f->args[0], &a)) return -1; return finite_or_fail(p, log10(a), FX_LOG10, a, 0, out);
    case FX_LN: if (eval(p, f->args[0], &a)) return -1; return finite_or_fail(p, log(a), FX_LN, a, 0, out);
    case FX_DIV:
        if (eval(p, f->args[0], &a)) return -1;
        if (a == 0.0) {
            *out = 0.0;
            return 0;
        }
        if (eval(p, f->args[1], &b)) return -1;
        if (b == 0.0 && f->has_default) {
            *out = f->c;
            return 0;
        }
        return finite_or_fail(p, a / b, FX_DIV, a, b, out);
    case FX_POW:
        if (eval(p, f->args[0], &a) || eval(p, f->args[1], &b)) return -1;
        return finite_or_fail(p, pow(a, b), FX_POW, a, b, out);
    case FX_LIN_DECAY:
    case FX_EXP_DECAY:
    case FX_GAUSS_DECAY: {
        if (eval(p, f->args[0], &a)) return -1;
        b = 0.0;
        if (f->args[1] && eval(p, f->args[1], &b)) return -1;
        double d = a - b;
        if (f->kind == FX_LIN_DECAY) *out = fmax(-f->c * fabs(d) + 1.0, 0.0);
        else if (f->kind == FX_EXP_DECAY) *out = exp(f->c * fabs(d));
        else *out = exp(f->c * d * d);
        return 0;
    }
    }
    return api_fail(p->j, QERR_SERVICE, "formula: unknown expression");
}

static int cmp_id(const void *a, const void *b) { return point_id_cmp(a, b); }

static int cmp_hit_id(const void *a, const void *b)
{
    return point_id_cmp(&((const Hit *)a)->id, &((const Hit *)b)->id);
}

static int cmp_hit_score(const void *pa, const void *pb)
{
    const Hit *a = pa, *b = pb;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    return point_id_cmp(&a->id, &b->id);
}

int qdrant_formula_rescore(ApiJob *j, const QFormula *q, const Hits *lists, size_t n_lists,
                           const QFormulaCut *cut, Hits *out)
{
    Arena *a = api_arena(j);
    memset(out, 0, sizeof *out);
    /* The candidates: every point of every prefetch, once, by id. */
    size_t total = 0;
    for (size_t i = 0; i < n_lists; i++) total += lists[i].n;
    PointId *ids = arena_alloc(a, (total ? total : 1) * sizeof *ids);
    size_t n = 0;
    for (size_t i = 0; i < n_lists; i++)
        for (size_t k = 0; k < lists[i].n; k++) ids[n++] = lists[i].h[k].id;
    if (n > 1) qsort(ids, n, sizeof *ids, cmp_id);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (!m || !point_id_equal(&ids[m - 1], &ids[i])) ids[m++] = ids[i];
    n = m;
    if (!n) return 0;
    /* Each prefetch's hits by id, to look scores up. */
    Hits *sorted = arena_alloc(a, n_lists * sizeof *sorted);
    for (size_t i = 0; i < n_lists; i++) {
        sorted[i].n = lists[i].n;
        sorted[i].h = arena_alloc(a, (lists[i].n ? lists[i].n : 1) * sizeof(Hit));
        if (lists[i].n) memcpy(sorted[i].h, lists[i].h, lists[i].n * sizeof(Hit));
        if (lists[i].n > 1) qsort(sorted[i].h, lists[i].n, sizeof(Hit), cmp_hit_id);
    }
    /* Which candidates each condition holds for: one filtered scroll over
     * the candidates per condition. */
    uint8_t *cond = arena_calloc(a, (q->n_conds ? q->n_conds : 1) * n);
    const JsonValue *in_cand = qdrant_filter_ids(a, "must", ids, n);
    for (size_t c = 0; c < q->n_conds; c++) {
        CollectionScroll s;
        memset(&s, 0, sizeof s);
        s.limit = n;
        s.filter = qdrant_filter_and(a, q->conds[c], in_cand);
        CollectionResult r;
        char err[512] = "";
        int rc = collection_scroll(j->api->db, j->collection, &s, a, &r, err, sizeof err);
        if (rc) return api_fail_collection(j, rc, err);
        for (size_t k = 0; k < r.n; k++) {
            PointId *hit = bsearch(&r.points[k].id, ids, n, sizeof *ids, cmp_id);
            if (hit) cond[(size_t)(hit - ids) * q->n_conds + c] = 1;
        }
    }
    /* The payloads, to read variables from. */
    CollectionSelector wp = { COLLECTION_SEL_ALL, NULL, 0 }, none = { COLLECTION_SEL_NONE, NULL, 0 };
    CollectionResult got;
    int rc = collection_get(j->api->db, j->collection, ids, n, &wp, &none, a, &got);
    if (rc) return api_fail_collection(j, rc, NULL);
    out->h = arena_alloc(a, n * sizeof *out->h);
    float *scores = arena_alloc(a, (n_lists ? n_lists : 1) * sizeof *scores);
    for (size_t g = 0; g < got.n; g++) {
        const CollectionPoint *pt = &got.points[g];
        PointId *at = bsearch(&pt->id, ids, n, sizeof *ids, cmp_id);
        if (!at) continue;
        for (size_t i = 0; i < n_lists; i++) {
            Hit key = { .id = pt->id };
            Hit *h = bsearch(&key, sorted[i].h, sorted[i].n, sizeof(Hit), cmp_hit_id);
            scores[i] = h ? h->score : NAN;
        }
        JsonValue *payload = NULL;
        char err[128];
        if (pt->payload && json_parse(a, pt->payload, pt->payload_len, &payload, err, sizeof err)) payload = NULL;
        FxPoint p = { j, q, payload, scores, n_lists, cond + (size_t)(at - ids) * q->n_conds };
        double v;
        if (eval(&p, q->root, &v)) return -1;
        float f = (float)v;
        if (!isfinite(f))
            return api_fail(j, QERR_BAD_INPUT, "The expression %g as f32 = %g produced a non-finite number", v, (double)f);
        if (cut->has_threshold && f < cut->threshold) continue;
        out->h[out->n++] = (Hit){ .id = pt->id, .score = f };
    }
    if (out->n > 1) qsort(out->h, out->n, sizeof *out->h, cmp_hit_score);
    if (out->n > cut->limit) out->n = cut->limit;
    return 0;
}
