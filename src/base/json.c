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
 * Packed arrays (json_parse_packed). While an array holds only numbers,
 * its items go to a third temporary stack, of doubles (plus a bit per
 * integer and the rare float fixes below); only the innermost open array
 * can be in that state, because a container opening inside it ends it.
 * The first item that cannot be packed (a string, a container, an integer
 * beyond 2^53) spills the numbers so far onto the node stack and the array
 * continues as nodes. When a packed array closes, its numbers are written
 * once to the arena as floats if every value is exactly a float, else as
 * doubles. The alternative of packing every array after the fact was
 * rejected: the nodes would cost their 24 bytes a number at the peak.
 *
 * Numbers arrive through yajl's number callback as raw text (yajl's own
 * double callback uses strtod, slow and without exact integers), so
 * integers keep their exact int64/uint64 value. Other numbers are read in
 * one pass into a 19-digit significand and an exponent and converted by
 * Clinger's fast path when both are small (an exact operation), else by
 * Eisel-Lemire, which gives strtod's double or declines (about 0.3% of
 * the JavaScript client's 17-digit texts; longer significands,
 * subnormals), and then strtod decides. The float of a number is
 * (float)double, exact unless the double lies exactly halfway between two
 * floats: rounding twice could then differ from strtof, so such numbers
 * keep strtof's float.
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
#include "base/json_pow10.h"

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

/* ---- numbers ---- */

/* Significant decimal digits that fit a uint64_t (10^19 - 1 < 2^64). */
#define JSON_MAN_DIGITS 19

/* Powers of ten a double holds exactly (5^22 < 2^53). */
static const double json_pow10_exact[] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/* mul_64x64 sets *hi:*lo to the 128-bit product a * b. */
static inline void mul_64x64(uint64_t a, uint64_t b, uint64_t *hi, uint64_t *lo)
{
#ifdef __SIZEOF_INT128__
    unsigned __int128 r = (unsigned __int128)a * b;
    *hi = (uint64_t)(r >> 64);
    *lo = (uint64_t)r;
#else
    uint64_t al = a & 0xFFFFFFFFu, ah = a >> 32, bl = b & 0xFFFFFFFFu, bh = b >> 32;
    uint64_t ll = al * bl, lh = al * bh, hl = ah * bl, hh = ah * bh;
    uint64_t mid = (ll >> 32) + (lh & 0xFFFFFFFFu) + (hl & 0xFFFFFFFFu);
    *lo = (mid << 32) | (ll & 0xFFFFFFFFu);
    *hi = hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
#endif
}

/*
 * eisel_lemire converts man * 10^exp10 (man != 0) to the nearest double,
 * or returns 0 when it cannot be sure, and the caller falls back to
 * strtod. This is the Eisel-Lemire algorithm as described by Nigel Tao
 * (https://nigeltao.github.io/blog/2020/eisel-lemire.html; Go's strconv
 * and Wuffs implement the same): multiply the normalised mantissa by a
 * 128-bit truncation of 10^exp10 (json_pow10.h). The truncation error is
 * below one unit of the low word, so unless the bits that decide the
 * rounding sit right at a carry (checked with the wider product) or
 * exactly halfway, the top 54 bits of the product are exact and give the
 * correctly rounded double. Subnormal and overflowing results are left to
 * strtod.
 */
static int eisel_lemire(uint64_t man, int64_t exp10, int neg, double *out)
{
    if (exp10 < JSON_POW10_MIN || exp10 > JSON_POW10_MAX) return 0;
    const uint64_t *pow = json_pow10[exp10 - JSON_POW10_MIN];
    int clz = __builtin_clzll(man);
    man <<= clz;
    /* floor(exp10 * log2(10)) as 217706 / 2^16 ~ log2(10), exact over the
     * table's range; the bias keeps the shift on a non-negative value. */
    int64_t log2_pow = ((217706 * exp10 + ((int64_t)2048 << 16)) >> 16) - 2048;
    uint64_t exp2 = (uint64_t)(log2_pow + 64 + 1023 - clz);
    uint64_t hi, lo;
    mul_64x64(man, pow[0], &hi, &lo);
    if ((hi & 0x1FF) == 0x1FF && lo + man < man) {
        /* The low bits are all ones and the truncated part of 10^exp10
         * could carry into them: add the product with the low word. */
        uint64_t hi2, lo2;
        mul_64x64(man, pow[1], &hi2, &lo2);
        uint64_t mlo = lo + hi2, mhi = hi + (mlo < lo);
        if ((mhi & 0x1FF) == 0x1FF && mlo + 1 == 0 && lo2 + man < man) return 0;
        hi = mhi;
        lo = mlo;
    }
    uint64_t msb = hi >> 63;
    uint64_t mant = hi >> (msb + 9); /* 54 bits: the double's 53 and a rounding bit */
    exp2 -= 1 ^ msb;
    /* Exactly halfway (nothing below the rounding bit): ties-to-even needs
     * the exact value, which the truncated power does not give. */
    if (lo == 0 && (hi & 0x1FF) == 0 && (mant & 3) == 1) return 0;
    mant += mant & 1;
    mant >>= 1;
    if (mant >> 53) {
        mant >>= 1;
        exp2++;
    }
    if (exp2 - 1 >= 0x7FF - 1) return 0; /* subnormal, infinite: strtod decides */
    uint64_t bits = exp2 << 52 | (mant & ((1ull << 52) - 1)) | (uint64_t)neg << 63;
    memcpy(out, &bits, sizeof bits);
    return 1;
}

/*
 * float_tie reports whether d lies exactly halfway between two adjacent
 * floats. Only then can (float)d differ from the float nearest the text d
 * came from: the text may lie just above or below that halfway point and
 * the first rounding (to double) lost which.
 */
static int float_tie(double d)
{
    double a = fabs(d);
    if (a >= 0x1p-126) {
        if (a >= 0x1p128) return 0;
        /* A normal float keeps 24 of the double's 53 bits: halfway when
         * the 29 dropped bits are 1000...0. */
        uint64_t bits;
        memcpy(&bits, &a, sizeof bits);
        return (bits & 0x1FFFFFFF) == 0x10000000;
    }
    /* Subnormal floats are multiples of 2^-149; the scaling is exact. */
    double x = a * 0x1p149;
    return x - floor(x) == 0.5;
}

/*
 * number_strtod converts text with the C library (the exact reference),
 * giving the double and, when f is not NULL, the float.
 */
static double number_strtod(const char *s, size_t len, float *f)
{
    char stackbuf[JSON_NUM_STACK_LEN];
    char *tmp = len < sizeof stackbuf ? stackbuf : xmalloc(len + 1);
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    double d = strtod(tmp, NULL);
    if (f) *f = strtof(tmp, NULL);
    if (tmp != stackbuf) free(tmp);
    return d;
}

/*
 * number_parse fills v (type, num_kind, u.num, n, flags) from the text of
 * one JSON number, which yajl's lexer has already checked against the
 * grammar. Integers that fit 64 bits keep their exact value; any other
 * number gets the double strtod would give: by Clinger's path or
 * Eisel-Lemire when the significand has at most 19 digits (all numbers
 * real clients send), else by strtod itself. Returns -1 when the number
 * is beyond the double range.
 */
static int number_parse(const char *s, size_t len, JsonValue *v)
{
    *v = (JsonValue){ .type = JSON_NUMBER, .num_kind = JSON_NUM_DOUBLE };
    int neg = s[0] == '-';
    size_t i = (size_t)neg, int_start = i;
    uint64_t mag = 0;
    int overflow = 0;
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (overflow || mag > (UINT64_MAX - d) / 10)
            overflow = 1;
        else
            mag = mag * 10 + d;
    }
    size_t int_digits = i - int_start;
    if (i == len && !overflow) {
        if (!neg) {
            v->num_kind = mag <= (uint64_t)INT64_MAX ? JSON_NUM_INT : JSON_NUM_UINT;
            v->n.u = mag;
            v->u.num = (double)mag;
            return 0;
        }
        if (mag <= (uint64_t)INT64_MAX + 1) {
            v->num_kind = JSON_NUM_INT;
            v->n.i = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
            /* "-0" is the integer 0 but keeps its sign in the double, as
             * strtod and strtof give it. */
            v->u.num = mag ? (double)v->n.i : -0.0;
            return 0;
        }
    }
    /* A double: the first 19 significant digits and a decimal exponent.
     * JSON has no leading zeros, so a non-zero integer part's digits are
     * all significant. */
    double d = 0;
    int exact = !overflow && int_digits <= JSON_MAN_DIGITS;
    if (exact) {
        uint64_t man = mag;
        int ndig = mag ? (int)int_digits : 0;
        int64_t exp10 = 0;
        if (i < len && s[i] == '.') {
            for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
                unsigned dig = (unsigned)(s[i] - '0');
                if (ndig < JSON_MAN_DIGITS) {
                    man = man * 10 + dig;
                    exp10--;
                    if (man) ndig++;
                } else if (dig) {
                    exact = 0; /* a digit beyond 19 matters: strtod */
                }
            }
        }
        if (i < len && (s[i] == 'e' || s[i] == 'E')) {
            i++;
            int eneg = 0;
            if (i < len && (s[i] == '+' || s[i] == '-')) eneg = s[i++] == '-';
            int64_t e = 0;
            for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
                if (e < 100000) e = e * 10 + (s[i] - '0'); /* beyond: 0 or out of range anyway */
            exp10 += eneg ? -e : e;
        }
        if (i != len) exact = 0;
        if (exact && man == 0) {
            d = neg ? -0.0 : 0.0;
        } else if (exact && man <= (1ull << 53) && exp10 >= -22 && exp10 <= 22) {
            /* Clinger's fast path: man and 10^|exp10| are exact doubles, so
             * one IEEE operation rounds once, correctly. It also covers the
             * exact short decimals (12.5) that Eisel-Lemire declines. */
            d = (double)man;
            d = exp10 < 0 ? d / json_pow10_exact[-exp10] : d * json_pow10_exact[exp10];
            if (neg) d = -d;
        } else if (exact) {
            exact = eisel_lemire(man, exp10, neg, &d);
        }
    }
    if (!exact) {
        d = number_strtod(s, len, NULL);
        /* A number beyond the double range would become infinity, which
         * JSON cannot carry back out; reject it rather than store it. */
        if (isinf(d)) return -1;
    }
    v->u.num = d;
    if (float_tie(d)) {
        number_strtod(s, len, &v->n.f);
        v->flags = JSON_FLAG_FLOAT;
    }
    return 0;
}

/* ---- reader ---- */

/* An item whose double sits on a float halfway point, and its float. */
typedef struct {
    uint32_t index;
    float f;
} JsonFloatFix;

/*
 * A packed array's items (JsonValue.n.pack), one arena block: this header,
 * the values, the integer bits, the fixes. An item is an integer when its
 * bit is set (its value is then exact: packed integers are within 2^53),
 * else a JSON_NUM_DOUBLE; its float is (float)value unless it has a fix.
 */
struct JsonPacked {
    const float *f32;          /* every value exactly a float (f64 NULL) */
    const double *f64;         /* otherwise (f32 NULL) */
    const uint64_t *ints;      /* bit i: item i was an integer; NULL when none was */
    const JsonFloatFix *fixes; /* ascending index */
    uint32_t nfixes;
};

/* Packed integers must be exact as doubles. */
#define JSON_PACK_INT_MAX (1ll << 53)

typedef struct {
    uint8_t is_object;
    uint8_t packing;       /* array whose items so far are on the number stack */
    uint8_t all_f32;       /* ... and each of them is exactly a float */
    size_t start;          /* index of the first child in its stack */
    const char *key;       /* pending member key (objects), in the arena */
    uint32_t key_len;
} JsonFrame;

typedef struct {
    Arena *arena;
    yajl_handle h;
    int pack; /* json_parse_packed */
    JsonFrame frames[JSON_MAX_DEPTH];
    int depth;
    JsonValue *vals; /* children of open arrays */
    size_t nvals, capvals;
    JsonMember *mems; /* members of open objects */
    size_t nmems, capmems;
    /* The number stack: the items of the innermost open array while it may
     * still be packed. Only one array at a time can be: any other child
     * (an array or object opening inside it) ends its packing first. */
    double *nums;
    uint64_t *ints; /* bit i: nums[i] was an integer; capnums / 64 + 1 words */
    size_t nnums, capnums;
    int any_int;
    JsonFloatFix *fixes;
    size_t nfixes, capfixes;
    JsonValue root;
    int have_root;
    size_t root_end; /* bytes of text up to the end of the root value */
    int completing; /* inside yajl_complete_parse, whose byte count restarts */
    size_t text_len;
    /* Bytes of the stacks above charged to the arena's budget (they are
     * malloc'd, not in the arena, but they are the parse's memory too). */
    size_t stack_charged;
    int over_budget; /* canceled because the arena's budget ran out */
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

/* stack_charge charges the growth of a parse stack from old_bytes to
 * new_bytes to the arena's budget, if it has one. */
static void stack_charge(JsonParse *p, size_t old_bytes, size_t new_bytes)
{
    p->stack_charged += new_bytes - old_bytes;
    if (p->arena->budget) budget_charge(p->arena->budget, new_bytes - old_bytes);
}

/* parse_check_budget cancels the parse once the arena's budget (a
 * server's request memory, budget.h) is exceeded: a hostile body whose
 * DOM is many times its text stops here instead of growing the process.
 * The caller answers ERR_FULL (503, retry later). */
static int parse_check_budget(JsonParse *p)
{
    if (!p->arena->budget || !budget_exceeded(p->arena->budget)) return 1;
    p->over_budget = 1;
    return parse_fail(p, "request memory budget exhausted");
}

/* fix_find returns the fix for item i, or NULL. */
static const JsonFloatFix *fix_find(const JsonFloatFix *fixes, uint32_t n, size_t i)
{
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (fixes[mid].index < i)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && fixes[lo].index == i ? &fixes[lo] : NULL;
}

/* number_node rebuilds the node json_parse makes for a packed number. */
static JsonValue number_node(double d, int is_int, const JsonFloatFix *fix)
{
    JsonValue v = { .type = JSON_NUMBER, .num_kind = JSON_NUM_DOUBLE };
    v.u.num = d;
    if (is_int) {
        v.num_kind = JSON_NUM_INT;
        v.n.i = (int64_t)d;
    } else if (fix) {
        v.flags = JSON_FLAG_FLOAT;
        v.n.f = fix->f;
    }
    return v;
}

static void pack_reset(JsonParse *p)
{
    if (p->any_int) memset(p->ints, 0, (p->nnums / 64 + 1) * sizeof *p->ints);
    p->nnums = 0;
    p->nfixes = 0;
    p->any_int = 0;
}

static void vals_push(JsonParse *p, const JsonValue *v)
{
    if (p->nvals == p->capvals) {
        size_t old = p->capvals * sizeof *p->vals;
        p->capvals = p->capvals ? p->capvals * 2 : JSON_STACK_INIT;
        p->vals = xrealloc(p->vals, p->capvals * sizeof *p->vals);
        stack_charge(p, old, p->capvals * sizeof *p->vals);
    }
    p->vals[p->nvals++] = *v;
}

/* pack_spill ends the packing of the innermost array, because an item that
 * cannot be packed arrived: the numbers so far become ordinary nodes. */
static void pack_spill(JsonParse *p)
{
    JsonFrame *f = &p->frames[p->depth - 1];
    size_t k = 0;
    for (size_t i = 0; i < p->nnums; i++) {
        const JsonFloatFix *fix = k < p->nfixes && p->fixes[k].index == i ? &p->fixes[k++] : NULL;
        JsonValue v = number_node(p->nums[i], (int)(p->ints[i >> 6] >> (i & 63) & 1), fix);
        vals_push(p, &v);
    }
    pack_reset(p);
    f->packing = 0;
}

/* pack_push appends a packable number to the innermost array's stack. */
static int pack_push(JsonParse *p, const JsonValue *v)
{
    if (p->nnums == p->capnums) {
        if (p->nnums >= UINT32_MAX) return parse_fail(p, "array too large");
        size_t oldw = p->capnums ? p->capnums / 64 + 1 : 0;
        size_t old = p->capnums * sizeof *p->nums + oldw * sizeof *p->ints;
        if (!parse_check_budget(p)) return 0;
        p->capnums = p->capnums ? p->capnums * 2 : JSON_STACK_INIT;
        size_t neww = p->capnums / 64 + 1;
        stack_charge(p, old, p->capnums * sizeof *p->nums + neww * sizeof *p->ints);
        p->nums = xrealloc(p->nums, p->capnums * sizeof *p->nums);
        p->ints = xrealloc(p->ints, neww * sizeof *p->ints);
        memset(p->ints + oldw, 0, (neww - oldw) * sizeof *p->ints);
    }
    size_t i = p->nnums++;
    double d = v->u.num;
    p->nums[i] = d;
    if (v->num_kind == JSON_NUM_INT) {
        p->ints[i >> 6] |= 1ull << (i & 63);
        p->any_int = 1;
    } else if (v->flags & JSON_FLAG_FLOAT) {
        if (p->nfixes == p->capfixes) {
            p->capfixes = p->capfixes ? p->capfixes * 2 : 8;
            p->fixes = xrealloc(p->fixes, p->capfixes * sizeof *p->fixes);
        }
        p->fixes[p->nfixes++] = (JsonFloatFix){ (uint32_t)i, v->n.f };
    }
    JsonFrame *f = &p->frames[p->depth - 1];
    /* The float test is guarded so no conversion overflows (undefined in C). */
    if (f->all_f32 && !(fabs(d) <= FLT_MAX && (double)(float)d == d)) f->all_f32 = 0;
    return 1;
}

/* pack_build moves the number stack into one arena block and returns the
 * packed array value. */
static JsonValue pack_build(JsonParse *p, const JsonFrame *f)
{
    size_t n = p->nnums;
    size_t head = (sizeof(JsonPacked) + 15) & ~(size_t)15;
    size_t data = f->all_f32 ? n * sizeof(float) : n * sizeof(double);
    data = (data + 7) & ~(size_t)7;
    size_t words = p->any_int ? (n + 63) / 64 : 0;
    unsigned char *blk = arena_alloc(p->arena, head + data + words * sizeof(uint64_t) +
                                                   p->nfixes * sizeof(JsonFloatFix));
    JsonPacked *pk = (JsonPacked *)blk;
    memset(pk, 0, sizeof *pk);
    if (f->all_f32) {
        float *out = (float *)(blk + head);
        for (size_t i = 0; i < n; i++) out[i] = (float)p->nums[i];
        pk->f32 = out;
    } else {
        memcpy(blk + head, p->nums, n * sizeof(double));
        pk->f64 = (const double *)(blk + head);
    }
    if (words) {
        memcpy(blk + head + data, p->ints, words * sizeof(uint64_t));
        pk->ints = (const uint64_t *)(blk + head + data);
    }
    if (p->nfixes) {
        JsonFloatFix *fx = (JsonFloatFix *)(blk + head + data + words * sizeof(uint64_t));
        memcpy(fx, p->fixes, p->nfixes * sizeof *fx);
        pk->fixes = fx;
        pk->nfixes = (uint32_t)p->nfixes;
    }
    JsonValue v = { .type = JSON_ARRAY, .flags = JSON_FLAG_PACKED, .len = (uint32_t)n };
    v.u.items = NULL;
    v.n.pack = pk;
    return v;
}

/* parse_emit hands a finished value to the open container or makes it the
 * root. Returns 1 to continue, 0 to cancel (yajl's convention). */
static int parse_emit(JsonParse *p, const JsonValue *v)
{
    if (!parse_check_budget(p)) return 0;
    if (p->depth == 0) {
        p->root = *v;
        p->have_root = 1;
        /* Where the root value ends; see the trailing check in parse_text. */
        p->root_end = p->completing ? p->text_len : yajl_get_bytes_consumed(p->h);
        return 1;
    }
    JsonFrame *f = &p->frames[p->depth - 1];
    if (f->is_object) {
        if (p->nmems == p->capmems) {
            size_t old = p->capmems * sizeof *p->mems;
            p->capmems = p->capmems ? p->capmems * 2 : JSON_STACK_INIT;
            p->mems = xrealloc(p->mems, p->capmems * sizeof *p->mems);
            stack_charge(p, old, p->capmems * sizeof *p->mems);
        }
        JsonMember *m = &p->mems[p->nmems++];
        m->key = f->key;
        m->key_len = f->key_len;
        m->value = *v;
    } else {
        if (f->packing) pack_spill(p);
        vals_push(p, v);
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

static int on_number(void *ctx, const char *s, size_t len)
{
    JsonParse *p = ctx;
    JsonValue v;
    if (number_parse(s, len, &v) != 0) return parse_fail(p, "number out of range");
    if (p->depth > 0 && p->frames[p->depth - 1].packing &&
        (v.num_kind == JSON_NUM_DOUBLE ||
         (v.num_kind == JSON_NUM_INT && v.n.i >= -JSON_PACK_INT_MAX && v.n.i <= JSON_PACK_INT_MAX)))
        return pack_push(p, &v);
    return parse_emit(p, &v);
}

static int on_string(void *ctx, const unsigned char *s, size_t len)
{
    JsonParse *p = ctx;
    if (len > UINT32_MAX) return parse_fail(p, "string too long");
    if (utf8_valid_prefix(s, len) != len) return parse_fail(p, "invalid UTF-8 in string");
    if (!parse_check_budget(p)) return 0;
    JsonValue v = { .type = JSON_STRING, .len = (uint32_t)len };
    v.u.str = arena_strndup(p->arena, (const char *)s, len);
    return parse_emit(p, &v);
}

static int on_start(JsonParse *p, int is_object)
{
    if (p->depth >= JSON_MAX_DEPTH) return parse_fail(p, "nesting too deep");
    if (!parse_check_budget(p)) return 0;
    /* A container inside an array that is being packed: that array holds
     * more than numbers, and its number stack is needed for the child. */
    if (p->depth > 0 && p->frames[p->depth - 1].packing) pack_spill(p);
    JsonFrame *f = &p->frames[p->depth++];
    f->is_object = (uint8_t)is_object;
    f->packing = (uint8_t)(!is_object && p->pack);
    f->all_f32 = 1;
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
 * into one arena block (or packs its numbers), pops them and emits the
 * container to its parent. */
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
    } else if (f->packing && p->nnums) {
        n = p->nnums;
        v = pack_build(p, f);
        pack_reset(p);
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

/* trailing_space is 1 when text[from..len) is JSON whitespace only. */
static int trailing_space(const char *text, size_t from, size_t len)
{
    for (size_t i = from; i < len; i++)
        if (text[i] != ' ' && text[i] != '\t' && text[i] != '\n' && text[i] != '\r') return 0;
    return 1;
}

static int parse_text(Arena *arena, const char *text, size_t len, int pack, JsonValue **out,
                      char *err, size_t errlen)
{
    *out = NULL;
    if (err && errlen) err[0] = '\0';
    JsonParse *p = xcalloc(1, sizeof *p);
    p->arena = arena;
    p->pack = pack;
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
        rc = p->over_budget ? ERR_FULL : ERR_INVAL;
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
    } else if (!trailing_space(text, p->root_end, len)) {
        /* yajl lets an unterminated string after the value through
         * ({"a":1}"x parsed as {"a":1}): it waits for the string's end and
         * never calls it garbage. Found by tests/fuzz_filter.c. */
        rc = ERR_INVAL;
        set_error(err, errlen, "parse error: trailing garbage", p->root_end);
    } else {
        JsonValue *v = arena_alloc(arena, sizeof *v);
        *v = p->root;
        *out = v;
    }
    yajl_free(p->h);
    if (p->arena->budget) budget_release(p->arena->budget, p->stack_charged);
    free(p->vals);
    free(p->mems);
    free(p->nums);
    free(p->ints);
    free(p->fixes);
    free(p);
    return rc;
}

int json_parse(Arena *arena, const char *text, size_t len, JsonValue **out,
               char *err, size_t errlen)
{
    return parse_text(arena, text, len, 0, out, err, errlen);
}

int json_parse_packed(Arena *arena, const char *text, size_t len, JsonValue **out,
                      char *err, size_t errlen)
{
    return parse_text(arena, text, len, 1, out, err, errlen);
}

/* ---- DOM access ---- */

static JsonValue packed_item(const JsonPacked *pk, size_t i)
{
    double d = pk->f32 ? (double)pk->f32[i] : pk->f64[i];
    int is_int = pk->ints && (pk->ints[i >> 6] >> (i & 63) & 1);
    const JsonFloatFix *fix = !is_int && pk->nfixes ? fix_find(pk->fixes, pk->nfixes, i) : NULL;
    return number_node(d, is_int, fix);
}

JsonValue json_item(const JsonValue *arr, size_t i)
{
    if (!arr || arr->type != JSON_ARRAY || i >= arr->len) return (JsonValue){ .type = JSON_NULL };
    if (arr->flags & JSON_FLAG_PACKED) return packed_item(arr->n.pack, i);
    return arr->u.items[i];
}

void json_array_unpack(Arena *arena, JsonValue *arr)
{
    if (!arr || arr->type != JSON_ARRAY || !(arr->flags & JSON_FLAG_PACKED)) return;
    const JsonPacked *pk = arr->n.pack;
    JsonValue *items = arena_alloc(arena, arr->len * sizeof *items);
    for (uint32_t i = 0; i < arr->len; i++) items[i] = packed_item(pk, i);
    arr->u.items = items;
    arr->flags &= (uint8_t)~JSON_FLAG_PACKED;
    arr->n.u = 0;
}

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

/* float_of converts one number node to the float nearest its text. */
static int float_of(const JsonValue *x, float *out)
{
    if (x->type != JSON_NUMBER) return ERR_INVAL;
    float f;
    if (x->num_kind == JSON_NUM_INT) {
        /* One rounding, from the exact integer; the zero takes its sign
         * from the double ("-0"). */
        f = x->n.i ? (float)x->n.i : signbit(x->u.num) ? -0.0f : 0.0f;
    } else if (x->num_kind == JSON_NUM_UINT) {
        f = (float)x->n.u;
    } else if (x->flags & JSON_FLAG_FLOAT) {
        f = x->n.f;
    } else {
        /* Doubles at or beyond the midpoint between FLT_MAX and 2^128 round
         * to infinity as floats; check before converting, because an
         * out-of-range conversion is undefined behaviour in C. */
        if (!(fabs(x->u.num) < 0x1.ffffffp127)) return ERR_INVAL;
        f = (float)x->u.num;
    }
    if (!isfinite(f)) return ERR_INVAL;
    *out = f;
    return 0;
}

int json_get_floats(const JsonValue *v, float *out, size_t n)
{
    if (!v || v->type != JSON_ARRAY || v->len != n) return ERR_INVAL;
    if (!(v->flags & JSON_FLAG_PACKED)) {
        for (size_t i = 0; i < n; i++)
            if (float_of(&v->u.items[i], &out[i]) != 0) return ERR_INVAL;
        return 0;
    }
    const JsonPacked *pk = v->n.pack;
    if (pk->f32) {
        /* Every value is exactly this float (and so finite). */
        memcpy(out, pk->f32, n * sizeof(float));
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        double d = pk->f64[i];
        if (fabs(d) < 0x1.ffffffp127)
            out[i] = (float)d;
        else if (fabs(d) == 0x1.ffffffp127)
            out[i] = 0; /* a halfway point: its fix below decides */
        else
            return ERR_INVAL;
    }
    for (uint32_t k = 0; k < pk->nfixes; k++) {
        if (!isfinite(pk->fixes[k].f)) return ERR_INVAL;
        out[pk->fixes[k].index] = pk->fixes[k].f;
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
        for (uint32_t i = 0; i < a->len; i++) {
            JsonValue x = json_item(a, i), y = json_item(b, i);
            if (!json_equal(&x, &y)) return 0;
        }
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
        for (uint32_t i = 0; i < v->len; i++) {
            JsonValue x = json_item(v, i);
            jw_value(w, &x);
        }
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
