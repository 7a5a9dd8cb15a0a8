/*
 * json.c - the JSON reader (yajl glue building a compact DOM) and writer.
 *
 * This is the only module that includes yajl headers.
 *
 * Reader design. yajl is driven with its callback (SAX) interface over the
 * whole body in one call. The DOM is built bottom-up: while a container is
 * open its children are pushed onto a temporary stack owned by the parse
 * (one stack of JsonValue for arrays, one of JsonMember for objects); when
 * the container closes, its children are copied into one exactly-sized
 * block of the caller's Arena and popped. So the arena holds only final,
 * contiguous nodes (24 bytes per array item, 40 per member) and nothing is
 * ever reallocated inside it. The alternative, yajl_tree, was rejected: it
 * mallocs every node separately, parses numbers as long long (losing ids
 * above INT64_MAX) and has no arena.
 *
 * Numbers arrive through yajl's number callback as raw text, so integers
 * keep their exact int64/uint64 value; a double is computed for every
 * number (an exact fast path for short decimals, strtod otherwise).
 *
 * yajl checks UTF-8 only structurally (it accepts overlong forms,
 * surrogates and code points above U+10FFFF), so every decoded string and
 * key is validated again here; this also rejects lone low surrogates
 * written as \u escapes, which yajl decodes into surrogate bytes.
 *
 * Writer design. JsonWriter appends to a Buf and tracks, per nesting level,
 * whether a comma is due, so callers never place separators. Floats are
 * written with the shortest %g precision that reads back to the same bits.
 */
#include "base/json.h"

#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl_parse.h>

#include "base/err.h"

/* Numbers longer than this are copied to the heap before strtod; shorter
 * ones use a stack buffer (real inputs are 1-25 characters). */
#define JSON_NUM_STACK_LEN 64

/* Initial capacity (elements) of the temporary child stacks. */
#define JSON_STACK_INIT 64

/* ---- UTF-8 validation ---- */

/*
 * utf8_valid_prefix returns the length of the longest valid UTF-8 prefix of
 * s[0..len) per RFC 3629: no overlong forms, no surrogates, nothing above
 * U+10FFFF. ASCII runs are skipped eight bytes at a time.
 */
static size_t utf8_valid_prefix(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        if (i + 8 <= len) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (!(w & 0x8080808080808080ull)) {
                i += 8;
                continue;
            }
        }
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
        } else if (c >= 0xC2 && c <= 0xDF) {
            if (i + 1 >= len || (s[i + 1] & 0xC0) != 0x80) return i;
            i += 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            if (i + 2 >= len) return i;
            unsigned char c1 = s[i + 1];
            /* E0 needs A0..BF (no overlong), ED needs 80..9F (no surrogates). */
            unsigned char lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
            if (c1 < lo || c1 > hi || (s[i + 2] & 0xC0) != 0x80) return i;
            i += 3;
        } else if (c >= 0xF0 && c <= 0xF4) {
            if (i + 3 >= len) return i;
            unsigned char c1 = s[i + 1];
            /* F0 needs 90..BF (no overlong), F4 needs 80..8F (<= U+10FFFF). */
            unsigned char lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
            if (c1 < lo || c1 > hi || (s[i + 2] & 0xC0) != 0x80 || (s[i + 3] & 0xC0) != 0x80)
                return i;
            i += 4;
        } else {
            return i;
        }
    }
    return len;
}

/* ---- reader ---- */

typedef struct {
    uint8_t is_object;
    size_t start;          /* index of the first child in its stack */
    const char *key;       /* pending member key (objects), in the arena */
    uint32_t key_len;
} JsonFrame;

typedef struct {
    Arena *arena;
    yajl_handle h;
    JsonFrame frames[JSON_MAX_DEPTH];
    int depth;
    JsonValue *vals; /* children of open arrays */
    size_t nvals, capvals;
    JsonMember *mems; /* members of open objects */
    size_t nmems, capmems;
    JsonValue root;
    int have_root;
    int completing; /* inside yajl_complete_parse, whose byte count restarts */
    size_t text_len;
    /* Set by a callback that cancels the parse; otherwise yajl's message. */
    char msg[96];
    size_t msg_offset;
} JsonParse;

/* parse_fail records why a callback cancels the parse and returns 0 so
 * yajl stops. The offset is where yajl's lexer stands (after the token). */
static int parse_fail(JsonParse *p, const char *msg)
{
    snprintf(p->msg, sizeof p->msg, "%s", msg);
    p->msg_offset = p->completing ? p->text_len : yajl_get_bytes_consumed(p->h);
    return 0;
}

/* parse_emit hands a finished value to the open container or makes it the
 * root. Returns 1 to continue, 0 to cancel (yajl's convention). */
static int parse_emit(JsonParse *p, const JsonValue *v)
{
    if (p->depth == 0) {
        p->root = *v;
        p->have_root = 1;
        return 1;
    }
    JsonFrame *f = &p->frames[p->depth - 1];
    if (f->is_object) {
        if (p->nmems == p->capmems) {
            p->capmems = p->capmems ? p->capmems * 2 : JSON_STACK_INIT;
            p->mems = xrealloc(p->mems, p->capmems * sizeof *p->mems);
        }
        JsonMember *m = &p->mems[p->nmems++];
        m->key = f->key;
        m->key_len = f->key_len;
        m->value = *v;
    } else {
        if (p->nvals == p->capvals) {
            p->capvals = p->capvals ? p->capvals * 2 : JSON_STACK_INIT;
            p->vals = xrealloc(p->vals, p->capvals * sizeof *p->vals);
        }
        p->vals[p->nvals++] = *v;
    }
    return 1;
}

static int on_null(void *ctx)
{
    JsonValue v = { .type = JSON_NULL };
    return parse_emit(ctx, &v);
}

static int on_boolean(void *ctx, int b)
{
    JsonValue v = { .type = JSON_BOOL };
    v.u.boolean = b ? 1 : 0;
    return parse_emit(ctx, &v);
}

/* Exact powers of ten for the fast decimal path: every one up to 1e22 is
 * representable in a double. */
static const double json_pow10[] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/*
 * number_fast tries Clinger's fast path: when the significant digits fit
 * in 2^53 and the decimal exponent is within +-22, m * 10^e (or m / 10^-e)
 * is one correctly rounded IEEE operation on exact operands, so the result
 * equals strtod's. Returns 0 when the text needs the slow path. The text is
 * already validated JSON number syntax (yajl's lexer).
 */
static int number_fast(const char *s, size_t len, double *out)
{
    size_t i = 0;
    int neg = 0;
    if (i < len && s[i] == '-') neg = 1, i++;
    uint64_t m = 0;
    int ndig = 0, exp10 = 0;
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
        if (m == 0 && s[i] == '0') continue;
        if (++ndig > 15) return 0;
        m = m * 10 + (uint64_t)(s[i] - '0');
    }
    if (i < len && s[i] == '.') {
        for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
            exp10--;
            if (m == 0 && s[i] == '0') continue;
            if (++ndig > 15) return 0;
            m = m * 10 + (uint64_t)(s[i] - '0');
        }
    }
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        int eneg = 0, e = 0;
        if (i < len && (s[i] == '+' || s[i] == '-')) eneg = s[i++] == '-';
        for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
            if (e > 1000) return 0;
            e = e * 10 + (s[i] - '0');
        }
        exp10 += eneg ? -e : e;
    }
    if (i != len) return 0;
    double d = (double)m; /* exact: m < 10^15 < 2^53 */
    if (m != 0) {
        if (exp10 < -22 || exp10 > 22) return 0;
        d = exp10 < 0 ? d / json_pow10[-exp10] : d * json_pow10[exp10];
    }
    *out = neg ? -d : d;
    return 1;
}

static int on_number(void *ctx, const char *s, size_t len)
{
    JsonParse *p = ctx;
    JsonValue v = { .type = JSON_NUMBER, .num_kind = JSON_NUM_DOUBLE };
    int is_int = memchr(s, '.', len) == NULL && memchr(s, 'e', len) == NULL &&
                 memchr(s, 'E', len) == NULL;
    if (is_int) {
        /* Accumulate the magnitude with overflow detection; the lexer
         * guarantees an optional '-' followed by digits. */
        size_t i = s[0] == '-' ? 1 : 0;
        uint64_t mag = 0;
        int overflow = 0;
        for (; i < len; i++) {
            unsigned d = (unsigned)(s[i] - '0');
            if (mag > (UINT64_MAX - d) / 10) {
                overflow = 1;
                break;
            }
            mag = mag * 10 + d;
        }
        if (!overflow) {
            if (s[0] == '-') {
                if (mag <= (uint64_t)INT64_MAX + 1) {
                    v.num_kind = JSON_NUM_INT;
                    v.n.i = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
                    v.u.num = (double)v.n.i;
                    return parse_emit(p, &v);
                }
            } else {
                v.num_kind = mag <= (uint64_t)INT64_MAX ? JSON_NUM_INT : JSON_NUM_UINT;
                v.n.u = mag;
                v.u.num = (double)mag;
                return parse_emit(p, &v);
            }
        }
        /* Out of 64-bit range: falls through to a double. */
    }
    double d;
    if (!number_fast(s, len, &d)) {
        char stackbuf[JSON_NUM_STACK_LEN];
        char *tmp = len < sizeof stackbuf ? stackbuf : xmalloc(len + 1);
        memcpy(tmp, s, len);
        tmp[len] = '\0';
        d = strtod(tmp, NULL);
        if (tmp != stackbuf) free(tmp);
        /* A number beyond the double range would become infinity, which
         * JSON cannot carry back out; reject it rather than store it. */
        if (isinf(d)) return parse_fail(p, "number out of range");
    }
    v.u.num = d;
    return parse_emit(p, &v);
}

static int on_string(void *ctx, const unsigned char *s, size_t len)
{
    JsonParse *p = ctx;
    if (len > UINT32_MAX) return parse_fail(p, "string too long");
    if (utf8_valid_prefix(s, len) != len) return parse_fail(p, "invalid UTF-8 in string");
    JsonValue v = { .type = JSON_STRING, .len = (uint32_t)len };
    v.u.str = arena_strndup(p->arena, (const char *)s, len);
    return parse_emit(p, &v);
}

static int on_start(JsonParse *p, int is_object)
{
    if (p->depth >= JSON_MAX_DEPTH) return parse_fail(p, "nesting too deep");
    JsonFrame *f = &p->frames[p->depth++];
    f->is_object = (uint8_t)is_object;
    f->start = is_object ? p->nmems : p->nvals;
    f->key = NULL;
    f->key_len = 0;
    return 1;
}

static int on_start_map(void *ctx) { return on_start(ctx, 1); }
static int on_start_array(void *ctx) { return on_start(ctx, 0); }

static int on_map_key(void *ctx, const unsigned char *s, size_t len)
{
    JsonParse *p = ctx;
    if (len > UINT32_MAX) return parse_fail(p, "key too long");
    if (utf8_valid_prefix(s, len) != len) return parse_fail(p, "invalid UTF-8 in key");
    JsonFrame *f = &p->frames[p->depth - 1];
    f->key = arena_strndup(p->arena, (const char *)s, len);
    f->key_len = (uint32_t)len;
    return 1;
}

/* on_end copies the closing container's children from the temporary stack
 * into one arena block, pops them and emits the container to its parent. */
static int on_end(JsonParse *p)
{
    JsonFrame *f = &p->frames[p->depth - 1];
    JsonValue v = { 0 };
    size_t n;
    if (f->is_object) {
        n = p->nmems - f->start;
        if (n > UINT32_MAX) return parse_fail(p, "object too large");
        v.type = JSON_OBJECT;
        v.u.members = NULL;
        if (n) {
            v.u.members = arena_alloc(p->arena, n * sizeof(JsonMember));
            memcpy(v.u.members, p->mems + f->start, n * sizeof(JsonMember));
        }
        p->nmems = f->start;
    } else {
        n = p->nvals - f->start;
        if (n > UINT32_MAX) return parse_fail(p, "array too large");
        v.type = JSON_ARRAY;
        v.u.items = NULL;
        if (n) {
            v.u.items = arena_alloc(p->arena, n * sizeof(JsonValue));
            memcpy(v.u.items, p->vals + f->start, n * sizeof(JsonValue));
        }
        p->nvals = f->start;
    }
    v.len = (uint32_t)n;
    p->depth--;
    return parse_emit(p, &v);
}

static int on_end_map(void *ctx) { return on_end(ctx); }
static int on_end_array(void *ctx) { return on_end(ctx); }

static const yajl_callbacks json_callbacks = {
    .yajl_null = on_null,
    .yajl_boolean = on_boolean,
    .yajl_integer = NULL,
    .yajl_double = NULL,
    .yajl_number = on_number,
    .yajl_string = on_string,
    .yajl_start_map = on_start_map,
    .yajl_map_key = on_map_key,
    .yajl_end_map = on_end_map,
    .yajl_start_array = on_start_array,
    .yajl_end_array = on_end_array,
};

/* set_error writes "msg at byte N" into err, trimming yajl's newline. */
static void set_error(char *err, size_t errlen, const char *msg, size_t offset)
{
    if (!err || !errlen) return;
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' ' || msg[n - 1] == '.')) n--;
    snprintf(err, errlen, "%.*s at byte %zu", (int)n, msg, offset);
}

int json_parse(Arena *arena, const char *text, size_t len, JsonValue **out,
               char *err, size_t errlen)
{
    *out = NULL;
    if (err && errlen) err[0] = '\0';
    JsonParse *p = xcalloc(1, sizeof *p);
    p->arena = arena;
    p->text_len = len;
    p->h = yajl_alloc(&json_callbacks, NULL, p);
    if (!p->h) {
        free(p);
        return ERR_NOMEM;
    }
    /* Defaults already reject comments, trailing garbage, several top-level
     * values and invalid UTF-8 (structurally); say so explicitly because the
     * reader's contract depends on them. */
    yajl_config(p->h, yajl_allow_comments, 0);
    yajl_config(p->h, yajl_dont_validate_strings, 0);
    yajl_config(p->h, yajl_allow_trailing_garbage, 0);
    yajl_config(p->h, yajl_allow_multiple_values, 0);
    yajl_config(p->h, yajl_allow_partial_values, 0);

    int rc = 0;
    yajl_status st = yajl_parse(p->h, (const unsigned char *)text, len);
    int in_complete = 0;
    if (st == yajl_status_ok) {
        in_complete = p->completing = 1;
        st = yajl_complete_parse(p->h);
    }
    if (st != yajl_status_ok) {
        rc = ERR_INVAL;
        if (st == yajl_status_client_canceled && p->msg[0]) {
            set_error(err, errlen, p->msg, p->msg_offset);
        } else {
            unsigned char *m = yajl_get_error(p->h, 0, (const unsigned char *)text, len);
            /* yajl_complete_parse restarts its byte count at zero, so an
             * error found there (truncation) lies at the end of the text. */
            size_t off = in_complete ? len : yajl_get_bytes_consumed(p->h);
            set_error(err, errlen, m ? (const char *)m : "invalid JSON", off);
            if (m) yajl_free_error(p->h, m);
        }
    } else if (!p->have_root) {
        rc = ERR_INVAL;
        set_error(err, errlen, "empty input", len);
    } else {
        JsonValue *v = arena_alloc(arena, sizeof *v);
        *v = p->root;
        *out = v;
    }
    yajl_free(p->h);
    free(p->vals);
    free(p->mems);
    free(p);
    return rc;
}

/* ---- DOM access ---- */

static const JsonValue *get_len(const JsonValue *obj, const char *key, size_t klen)
{
    if (!obj || obj->type != JSON_OBJECT) return NULL;
    for (uint32_t i = 0; i < obj->len; i++) {
        const JsonMember *m = &obj->u.members[i];
        if (m->key_len == klen && memcmp(m->key, key, klen) == 0) return &m->value;
    }
    return NULL;
}

const JsonValue *json_get(const JsonValue *obj, const char *key)
{
    return get_len(obj, key, strlen(key));
}

const JsonValue *json_get_path(const JsonValue *obj, const char *path)
{
    const JsonValue *v = obj;
    const char *s = path;
    for (;;) {
        const char *dot = strchr(s, '.');
        size_t n = dot ? (size_t)(dot - s) : strlen(s);
        v = get_len(v, s, n);
        if (!v || !dot) return v;
        s = dot + 1;
    }
}

int json_as_bool(const JsonValue *v, int *out)
{
    if (!v || v->type != JSON_BOOL) return ERR_INVAL;
    *out = v->u.boolean;
    return 0;
}

int json_as_double(const JsonValue *v, double *out)
{
    if (!v || v->type != JSON_NUMBER) return ERR_INVAL;
    *out = v->u.num;
    return 0;
}

int json_as_int64(const JsonValue *v, int64_t *out)
{
    if (!v || v->type != JSON_NUMBER || v->num_kind != JSON_NUM_INT) return ERR_INVAL;
    *out = v->n.i;
    return 0;
}

int json_as_uint64(const JsonValue *v, uint64_t *out)
{
    if (!v || v->type != JSON_NUMBER) return ERR_INVAL;
    if (v->num_kind == JSON_NUM_UINT || (v->num_kind == JSON_NUM_INT && v->n.i >= 0)) {
        *out = v->n.u;
        return 0;
    }
    return ERR_INVAL;
}

const char *json_as_str(const JsonValue *v)
{
    return v && v->type == JSON_STRING ? v->u.str : NULL;
}

int json_get_floats(const JsonValue *v, float *out, size_t n)
{
    if (!v || v->type != JSON_ARRAY || v->len != n) return ERR_INVAL;
    for (size_t i = 0; i < n; i++) {
        const JsonValue *x = &v->u.items[i];
        if (x->type != JSON_NUMBER) return ERR_INVAL;
        /* Doubles at or beyond the midpoint between FLT_MAX and 2^128 round
         * to infinity as floats; check before converting, because an
         * out-of-range conversion is undefined behaviour in C. */
        if (!(fabs(x->u.num) < 0x1.ffffffp127)) return ERR_INVAL;
        out[i] = (float)x->u.num;
    }
    return 0;
}

/* num_equal compares two numbers by value, exactly when either is an
 * integer (a double equals an integer only when it is that integer). */
static int num_equal(const JsonValue *a, const JsonValue *b)
{
    if (a->num_kind != JSON_NUM_DOUBLE && b->num_kind != JSON_NUM_DOUBLE) {
        if (a->num_kind != b->num_kind) return 0; /* INT < 2^63 <= UINT */
        return a->n.u == b->n.u;
    }
    if (a->num_kind == JSON_NUM_DOUBLE && b->num_kind == JSON_NUM_DOUBLE)
        return a->u.num == b->u.num;
    if (a->num_kind != JSON_NUM_DOUBLE) {
        const JsonValue *t = a;
        a = b;
        b = t;
    }
    /* a is a double, b an integer. */
    double d = a->u.num;
    if (d != floor(d)) return 0;
    if (b->num_kind == JSON_NUM_INT) {
        if (!(d >= -0x1p63 && d < 0x1p63)) return 0;
        return (int64_t)d == b->n.i;
    }
    if (!(d >= 0 && d < 0x1p64)) return 0;
    return (uint64_t)d == b->n.u;
}

int json_equal(const JsonValue *a, const JsonValue *b)
{
    if (!a || !b) return a == b;
    if (a->type != b->type) return 0;
    switch (a->type) {
    case JSON_NULL: return 1;
    case JSON_BOOL: return !a->u.boolean == !b->u.boolean;
    case JSON_NUMBER: return num_equal(a, b);
    case JSON_STRING:
        return a->len == b->len && memcmp(a->u.str, b->u.str, a->len) == 0;
    case JSON_ARRAY:
        if (a->len != b->len) return 0;
        for (uint32_t i = 0; i < a->len; i++)
            if (!json_equal(&a->u.items[i], &b->u.items[i])) return 0;
        return 1;
    case JSON_OBJECT:
        if (a->len != b->len) return 0;
        for (uint32_t i = 0; i < a->len; i++) {
            const JsonMember *x = &a->u.members[i], *y = &b->u.members[i];
            if (x->key_len != y->key_len || memcmp(x->key, y->key, x->key_len) != 0) return 0;
            if (!json_equal(&x->value, &y->value)) return 0;
        }
        return 1;
    }
    return 0;
}

/* ---- writer ---- */

void json_escape_into(Buf *buf, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = (const unsigned char *)s;
    buf_reserve(buf, len + 2);
    buf_append(buf, "\"", 1);
    size_t i = 0;
    while (i < len) {
        /* Copy the longest run that needs no escaping in one append. */
        size_t j = i;
        while (j < len && u[j] >= 0x20 && u[j] < 0x80 && u[j] != '"' && u[j] != '\\') j++;
        if (j > i) buf_append(buf, s + i, j - i);
        i = j;
        if (i >= len) break;
        unsigned char c = u[i];
        if (c >= 0x80) {
            /* Valid UTF-8 is kept as is; an invalid byte becomes U+FFFD so
             * the output is always valid JSON whatever the caller passed. */
            size_t v = utf8_valid_prefix(u + i, len - i);
            if (v) {
                /* Copy the valid run up to the next byte that needs care. */
                size_t k = i;
                while (k < i + v && u[k] >= 0x20 && u[k] != '"' && u[k] != '\\') k++;
                buf_append(buf, s + i, k - i);
                i = k;
            } else {
                buf_append(buf, "\\ufffd", 6);
                i++;
            }
            continue;
        }
        char esc[6];
        switch (c) {
        case '"': buf_append(buf, "\\\"", 2); break;
        case '\\': buf_append(buf, "\\\\", 2); break;
        case '\n': buf_append(buf, "\\n", 2); break;
        case '\r': buf_append(buf, "\\r", 2); break;
        case '\t': buf_append(buf, "\\t", 2); break;
        case '\b': buf_append(buf, "\\b", 2); break;
        case '\f': buf_append(buf, "\\f", 2); break;
        default:
            esc[0] = '\\', esc[1] = 'u', esc[2] = '0', esc[3] = '0';
            esc[4] = hex[c >> 4], esc[5] = hex[c & 15];
            buf_append(buf, esc, 6);
            break;
        }
        i++;
    }
    buf_append(buf, "\"", 1);
}

void jw_init(JsonWriter *w, Buf *buf)
{
    w->buf = buf;
    w->depth = 0;
    memset(w->first, 1, sizeof w->first);
    w->after_key = 0;
}

/* level_of maps a depth to its slot in first[]. Deeper nesting than the
 * reader accepts is a caller bug; it is clamped so the writer never writes
 * out of bounds (commas at clamped levels may then be wrong). */
static int level_of(int depth)
{
    if (depth < 0) return 0;
    return depth > JSON_MAX_DEPTH ? JSON_MAX_DEPTH : depth;
}

/* jw_sep writes the comma due before a value or a key, if any. */
static void jw_sep(JsonWriter *w)
{
    if (w->after_key) {
        w->after_key = 0;
        return;
    }
    int l = level_of(w->depth);
    if (w->depth > 0 && !w->first[l]) buf_append(w->buf, ",", 1);
    w->first[l] = 0;
}

static void jw_open(JsonWriter *w, char c)
{
    jw_sep(w);
    buf_append(w->buf, &c, 1);
    w->depth++;
    w->first[level_of(w->depth)] = 1;
}

static void jw_close(JsonWriter *w, char c)
{
    buf_append(w->buf, &c, 1);
    if (w->depth > 0) w->depth--;
    w->after_key = 0;
}

void jw_object_begin(JsonWriter *w) { jw_open(w, '{'); }
void jw_object_end(JsonWriter *w) { jw_close(w, '}'); }
void jw_array_begin(JsonWriter *w) { jw_open(w, '['); }
void jw_array_end(JsonWriter *w) { jw_close(w, ']'); }

void jw_key_len(JsonWriter *w, const char *key, size_t len)
{
    jw_sep(w);
    json_escape_into(w->buf, key, len);
    buf_append(w->buf, ":", 1);
    w->after_key = 1;
}

void jw_key(JsonWriter *w, const char *key) { jw_key_len(w, key, strlen(key)); }

void jw_string_len(JsonWriter *w, const char *s, size_t len)
{
    jw_sep(w);
    json_escape_into(w->buf, s, len);
}

void jw_string(JsonWriter *w, const char *s) { jw_string_len(w, s, strlen(s)); }

void jw_int(JsonWriter *w, int64_t v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%" PRId64, v);
    jw_sep(w);
    buf_append(w->buf, tmp, (size_t)n);
}

void jw_uint(JsonWriter *w, uint64_t v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%" PRIu64, v);
    jw_sep(w);
    buf_append(w->buf, tmp, (size_t)n);
}

/* The shortest-round-trip formatting. %g drops trailing zeros, and a
 * precision of 6 (float) or 15 (double) is below each type's precision for
 * normal numbers, so starting there never misses a shorter representation.
 * Subnormals carry fewer bits, so for them the search starts at 1. */
static int format_float(char *tmp, size_t cap, float v)
{
    int n = 0;
    for (int prec = isnormal(v) ? 6 : 1; prec <= 9; prec++) {
        n = snprintf(tmp, cap, "%.*g", prec, (double)v);
        float back = strtof(tmp, NULL);
        if (back == v) break;
    }
    return n;
}

static int format_double(char *tmp, size_t cap, double v)
{
    int n = 0;
    for (int prec = isnormal(v) ? 15 : 1; prec <= 17; prec++) {
        n = snprintf(tmp, cap, "%.*g", prec, v);
        if (strtod(tmp, NULL) == v) break;
    }
    return n;
}

void jw_double(JsonWriter *w, double v)
{
    if (!isfinite(v)) {
        jw_null(w);
        return;
    }
    char tmp[40];
    /* "-0" would read back as the integer 0; keep the sign of zero. */
    int n = v == 0 && signbit(v) ? snprintf(tmp, sizeof tmp, "-0.0")
                                 : format_double(tmp, sizeof tmp, v);
    jw_sep(w);
    buf_append(w->buf, tmp, (size_t)n);
}

void jw_float(JsonWriter *w, float v)
{
    if (!isfinite(v)) {
        jw_null(w);
        return;
    }
    char tmp[32];
    int n = v == 0 && signbit(v) ? snprintf(tmp, sizeof tmp, "-0.0")
                                 : format_float(tmp, sizeof tmp, v);
    jw_sep(w);
    buf_append(w->buf, tmp, (size_t)n);
}

void jw_floats(JsonWriter *w, const float *v, size_t n)
{
    jw_array_begin(w);
    for (size_t i = 0; i < n; i++) jw_float(w, v[i]);
    jw_array_end(w);
}

void jw_bool(JsonWriter *w, int v)
{
    jw_sep(w);
    if (v)
        buf_append(w->buf, "true", 4);
    else
        buf_append(w->buf, "false", 5);
}

void jw_null(JsonWriter *w)
{
    jw_sep(w);
    buf_append(w->buf, "null", 4);
}

void jw_raw(JsonWriter *w, const char *json, size_t len)
{
    jw_sep(w);
    buf_append(w->buf, json, len);
}

void jw_value(JsonWriter *w, const JsonValue *v)
{
    if (!v) {
        jw_null(w);
        return;
    }
    switch (v->type) {
    case JSON_NULL: jw_null(w); break;
    case JSON_BOOL: jw_bool(w, v->u.boolean); break;
    case JSON_NUMBER:
        if (v->num_kind == JSON_NUM_INT)
            jw_int(w, v->n.i);
        else if (v->num_kind == JSON_NUM_UINT)
            jw_uint(w, v->n.u);
        else
            jw_double(w, v->u.num);
        break;
    case JSON_STRING: jw_string_len(w, v->u.str, v->len); break;
    case JSON_ARRAY:
        jw_array_begin(w);
        for (uint32_t i = 0; i < v->len; i++) jw_value(w, &v->u.items[i]);
        jw_array_end(w);
        break;
    case JSON_OBJECT:
        jw_object_begin(w);
        for (uint32_t i = 0; i < v->len; i++) {
            jw_key_len(w, v->u.members[i].key, v->u.members[i].key_len);
            jw_value(w, &v->u.members[i].value);
        }
        jw_object_end(w);
        break;
    default: jw_null(w); break;
    }
}
