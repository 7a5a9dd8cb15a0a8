/*
 * test_json.c - the JSON reader and writer (src/base/json.c).
 *
 * References used: hand-written expected texts and UTF-8 bytes, the C
 * library's strtod/strtof (numbers read back must be bit-identical to the
 * value written or to what strtod gives for the same text), and values
 * built directly in C (random DOMs, random floats) rather than by the code
 * under test.
 */
#include "base/json.h"

#include <errno.h>
#include <float.h>
#include <stdint.h>

#include "base/err.h"
#include "harness.h"
#include "base/util.h"

/* A small deterministic PRNG (splitmix64) so failures reproduce. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int parse_str(Arena *a, const char *text, JsonValue **v, char *err, size_t errlen)
{
    return json_parse(a, text, strlen(text), v, err, errlen);
}

/* err_offset extracts N from "... at byte N", or -1. */
static long err_offset(const char *err)
{
    const char *p = strstr(err, "at byte ");
    return p ? strtol(p + 8, NULL, 10) : -1;
}

TEST(test_parse_basic)
{
    Arena a;
    arena_init(&a, 0);
    JsonValue *v;
    char err[128];
    const char *text = " {\"b\": true, \"a\": [1, -2, 3.5, \"x\", null, false], "
                       "\"o\": {\"k\": {\"deep\": \"yes\"}}, \"e\": [], \"f\": {}} ";
    ASSERT_OK(parse_str(&a, text, &v, err, sizeof err));
    ASSERT_EQ_INT(v->type, JSON_OBJECT);
    ASSERT_EQ_INT(v->len, 5);
    /* Members keep their order. */
    ASSERT_STR_EQ(v->u.members[0].key, "b");
    ASSERT_STR_EQ(v->u.members[1].key, "a");
    ASSERT_STR_EQ(v->u.members[4].key, "f");
    int b = 0;
    ASSERT_OK(json_as_bool(json_get(v, "b"), &b));
    ASSERT_EQ_INT(b, 1);
    const JsonValue *arr = json_get(v, "a");
    ASSERT_TRUE(arr && arr->type == JSON_ARRAY);
    ASSERT_EQ_INT(arr->len, 6);
    int64_t i;
    ASSERT_OK(json_as_int64(&arr->u.items[0], &i));
    ASSERT_EQ_INT(i, 1);
    ASSERT_OK(json_as_int64(&arr->u.items[1], &i));
    ASSERT_EQ_INT(i, -2);
    double d;
    ASSERT_OK(json_as_double(&arr->u.items[2], &d));
    ASSERT_TRUE(d == 3.5);
    ASSERT_EQ_INT(arr->u.items[2].num_kind, JSON_NUM_DOUBLE);
    ASSERT_STR_EQ(json_as_str(&arr->u.items[3]), "x");
    ASSERT_EQ_INT(arr->u.items[4].type, JSON_NULL);
    ASSERT_OK(json_as_bool(&arr->u.items[5], &b));
    ASSERT_EQ_INT(b, 0);
    ASSERT_STR_EQ(json_as_str(json_get_path(v, "o.k.deep")), "yes");
    ASSERT_TRUE(json_get_path(v, "o.k.missing") == NULL);
    ASSERT_TRUE(json_get_path(v, "b.x") == NULL); /* through a non-object */
    ASSERT_TRUE(json_get_path(v, "o.") == NULL);
    ASSERT_EQ_INT(json_get(v, "e")->len, 0);
    ASSERT_EQ_INT(json_get(v, "f")->type, JSON_OBJECT);
    ASSERT_TRUE(json_get(v, "zz") == NULL);
    ASSERT_TRUE(json_get(arr, "a") == NULL); /* not an object */
    arena_free(&a);
}

TEST(test_accessor_types)
{
    Arena a;
    arena_init(&a, 0);
    JsonValue *v;
    char err[128];
    ASSERT_OK(parse_str(&a, "[1.5, -1, 18446744073709551615, \"s\", null, 1e2]", &v, err, sizeof err));
    int64_t i;
    uint64_t u;
    int b;
    double d;
    ASSERT_EQ_INT(json_as_int64(&v->u.items[0], &i), ERR_INVAL);   /* fraction */
    ASSERT_EQ_INT(json_as_uint64(&v->u.items[1], &u), ERR_INVAL);  /* negative */
    ASSERT_EQ_INT(json_as_int64(&v->u.items[2], &i), ERR_INVAL);   /* > INT64_MAX */
    ASSERT_EQ_INT(json_as_double(&v->u.items[3], &d), ERR_INVAL);  /* string */
    ASSERT_EQ_INT(json_as_bool(&v->u.items[4], &b), ERR_INVAL);    /* null */
    ASSERT_EQ_INT(json_as_int64(&v->u.items[5], &i), ERR_INVAL);   /* exponent form */
    ASSERT_OK(json_as_double(&v->u.items[5], &d));
    ASSERT_TRUE(d == 100.0);
    ASSERT_TRUE(json_as_str(&v->u.items[4]) == NULL);
    ASSERT_EQ_INT(json_as_int64(NULL, &i), ERR_INVAL);
    ASSERT_EQ_INT(json_as_uint64(NULL, &u), ERR_INVAL);
    ASSERT_TRUE(json_as_str(NULL) == NULL);
    arena_free(&a);
}

TEST(test_integers_exact)
{
    Arena a;
    arena_init(&a, 0);
    JsonValue *v;
    char err[128];
    const char *text = "[18446744073709551615, 9223372036854775807, 9223372036854775808, "
                       "-9223372036854775808, 18446744073709551616, -9223372036854775809, -0, 0]";
    ASSERT_OK(parse_str(&a, text, &v, err, sizeof err));
    const JsonValue *it = v->u.items;
    uint64_t u;
    int64_t i;
    ASSERT_EQ_INT(it[0].num_kind, JSON_NUM_UINT);
    ASSERT_OK(json_as_uint64(&it[0], &u));
    ASSERT_EQ_U64(u, UINT64_MAX);
    ASSERT_EQ_INT(it[1].num_kind, JSON_NUM_INT);
    ASSERT_OK(json_as_int64(&it[1], &i));
    ASSERT_TRUE(i == INT64_MAX);
    ASSERT_OK(json_as_uint64(&it[1], &u));
    ASSERT_EQ_U64(u, (uint64_t)INT64_MAX);
    ASSERT_EQ_INT(it[2].num_kind, JSON_NUM_UINT);
    ASSERT_OK(json_as_uint64(&it[2], &u));
    ASSERT_EQ_U64(u, (uint64_t)INT64_MAX + 1);
    ASSERT_OK(json_as_int64(&it[3], &i));
    ASSERT_TRUE(i == INT64_MIN);
    /* Beyond 64 bits: only a double, still readable. */
    ASSERT_EQ_INT(it[4].num_kind, JSON_NUM_DOUBLE);
    ASSERT_TRUE(it[4].u.num == 18446744073709551616.0);
    ASSERT_EQ_INT(it[5].num_kind, JSON_NUM_DOUBLE);
    ASSERT_TRUE(it[5].u.num == -9223372036854775809.0);
    ASSERT_OK(json_as_int64(&it[6], &i));
    ASSERT_EQ_INT(i, 0);

    /* The writer gives the same digits back. */
    Buf b;
    buf_init(&b);
    JsonWriter w;
    jw_init(&w, &b);
    jw_value(&w, v);
    ASSERT_STR_EQ(b.data, "[18446744073709551615,9223372036854775807,9223372036854775808,"
                          "-9223372036854775808,1.8446744073709552e+19,-9.223372036854776e+18,0,0]");
    buf_free(&b);
    jw_init(&w, &b);
    jw_array_begin(&w);
    jw_uint(&w, UINT64_MAX);
    jw_int(&w, INT64_MIN);
    jw_int(&w, -1);
    jw_array_end(&w);
    ASSERT_STR_EQ(b.data, "[18446744073709551615,-9223372036854775808,-1]");
    buf_free(&b);
    arena_free(&a);
}

/* nested builds "[[[...1...]]]" with depth brackets. */
static char *nested(int depth, char open, char close)
{
    char *s = xmalloc((size_t)depth * 6 + 8);
    size_t n = 0;
    for (int i = 0; i < depth; i++) {
        if (open == '{') {
            memcpy(s + n, "{\"k\":", 5);
            n += 5;
        } else {
            s[n++] = open;
        }
    }
    s[n++] = '1';
    for (int i = 0; i < depth; i++) s[n++] = close;
    s[n] = '\0';
    return s;
}

TEST(test_depth_limit)
{
    Arena a;
    arena_init(&a, 0);
    JsonValue *v;
    char err[128];
    char *ok = nested(JSON_MAX_DEPTH, '[', ']');
    char *bad = nested(JSON_MAX_DEPTH + 1, '[', ']');
    char *okobj = nested(JSON_MAX_DEPTH, '{', '}');
    char *badobj = nested(JSON_MAX_DEPTH + 1, '{', '}');
    int r1 = parse_str(&a, ok, &v, err, sizeof err);
    int r2 = parse_str(&a, bad, &v, err, sizeof err);
    char err2[128];
    int r3 = parse_str(&a, okobj, &v, err2, sizeof err2);
    /* The writer reproduces the deepest accepted document exactly. */
    Buf b;
    buf_init(&b);
    JsonWriter w;
    jw_init(&w, &b);
    if (r3 == 0) jw_value(&w, v);
    int same = r3 == 0 && strcmp(b.data, okobj) == 0;
    int r4 = parse_str(&a, badobj, &v, err2, sizeof err2);
    buf_free(&b);
    free(ok);
    free(bad);
    free(okobj);
    free(badobj);
    arena_free(&a);
    ASSERT_OK(r1);
    ASSERT_EQ_INT(r2, ERR_INVAL);
    ASSERT_TRUE(strstr(err, "deep") != NULL);
    /* The 65th '[' is at byte 64; yajl reports the offset after it. */
    ASSERT_EQ_INT(err_offset(err), JSON_MAX_DEPTH + 1);
    ASSERT_OK(r3);
    ASSERT_TRUE(same);
    ASSERT_EQ_INT(r4, ERR_INVAL);
}

/* Each invalid input with the offset of the first offending byte; the
 * reported offset may be that byte or just past the token containing it. */
static const struct {
    const char *text;
    size_t len; /* 0: strlen */
    long bad;   /* offending byte */
    long slack; /* how far past it the report may lie */
} invalid_cases[] = {
    { "[1,2,", 0, 5, 0 },                 /* truncated: at the end */
    { "{\"a\":", 0, 5, 0 },               /* truncated */
    { "\"abc", 0, 4, 0 },                 /* unterminated string */
    /* An unterminated string after the value: yajl alone accepted these
     * (found by tests/fuzz_filter.c); the error is at the value's end. */
    { "{\"a\":1}\"x", 0, 7, 0 },
    { "[1]\"", 0, 3, 0 },
    { "1 \"", 0, 1, 0 },
    { "true\"", 0, 4, 0 },
    { "[1,2,]", 0, 5, 1 },                /* trailing comma in array */
    { "{\"a\":1,}", 0, 7, 1 },            /* trailing comma in object */
    { "[\"\\q\"]", 0, 3, 1 },             /* bad escape */
    { "[\"\\u12G4\"]", 0, 3, 5 },         /* bad \u escape */
    { "[1] x", 0, 4, 1 },                 /* trailing garbage */
    { "{} {}", 0, 3, 1 },                 /* two documents */
    { "01", 0, 1, 1 },                    /* leading zero */
    { "[tru]", 0, 1, 3 },                 /* bad literal */
    { "[\"a\xff\"]", 0, 3, 1 },           /* invalid UTF-8 byte */
    { "[\"\xc0\x80\"]", 0, 2, 4 },        /* overlong NUL */
    { "[\"\xed\xa0\x80\"]", 0, 2, 5 },    /* UTF-8 encoded surrogate */
    { "[\"\xf4\x90\x80\x80\"]", 0, 2, 6 },/* above U+10FFFF */
    { "[\"\xe2\x82\"]", 0, 2, 4 },        /* truncated sequence */
    { "[\"\\udc00\"]", 0, 2, 8 },         /* lone low surrogate */
    { "{\"\xc0\xaf\":1}", 0, 1, 5 },      /* invalid UTF-8 in a key */
    { "[\"a\tb\"]", 0, 3, 1 },            /* raw control character */
    { "[1e400]", 0, 1, 6 },               /* beyond double range */
    { "", 0, 0, 0 },                      /* empty */
    { "   ", 0, 3, 0 },                   /* only blanks */
    { "[1]\0", 4, 3, 1 },                 /* NUL after the document */
    { "[/*c*/1]", 0, 1, 1 },              /* comments are not JSON */
    { "{1:2}", 0, 1, 1 },                 /* non-string key */
    { "[NaN]", 0, 1, 1 },
};

TEST(test_invalid_inputs)
{
    for (size_t k = 0; k < ARRAY_LEN(invalid_cases); k++) {
        Arena a;
        arena_init(&a, 0);
        JsonValue *v = (JsonValue *)1;
        char err[160];
        size_t len = invalid_cases[k].len ? invalid_cases[k].len : strlen(invalid_cases[k].text);
        int rc = json_parse(&a, invalid_cases[k].text, len, &v, err, sizeof err);
        arena_free(&a);
        if (rc != ERR_INVAL) HARNESS_FAIL("case %zu (%s): rc %d, expected ERR_INVAL", k, invalid_cases[k].text, rc);
        if (v != NULL) HARNESS_FAIL("case %zu: *out not NULL on error", k);
        long off = err_offset(err);
        if (off < invalid_cases[k].bad || off > invalid_cases[k].bad + invalid_cases[k].slack)
            HARNESS_FAIL("case %zu (%s): offset %ld not in [%ld, %ld]: %s", k, invalid_cases[k].text, off,
                         invalid_cases[k].bad, invalid_cases[k].bad + invalid_cases[k].slack, err);
    }
    /* A NULL error buffer is allowed. */
    Arena a;
    arena_init(&a, 0);
    JsonValue *v;
    ASSERT_EQ_INT(json_parse(&a, "[", 1, &v, NULL, 0), ERR_INVAL);
    arena_free(&a);
}

TEST(test_strings)
{
    Arena a;
    arena_init(&a, 0);
    JsonValue *v;
    char err[128];
    const char *text = "[\"a\\u0000b\", \"\\u00e9\\u20ac\", \"\\ud83d\\ude00\", "
                       "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\", \"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\", \"\"]";
    ASSERT_OK(parse_str(&a, text, &v, err, sizeof err));
    const JsonValue *it = v->u.items;
    ASSERT_EQ_INT(it[0].len, 3);
    ASSERT_TRUE(memcmp(it[0].u.str, "a\0b", 4) == 0);
    ASSERT_EQ_INT(it[1].len, 5);
    ASSERT_STR_EQ(it[1].u.str, "\xc3\xa9\xe2\x82\xac");
    ASSERT_STR_EQ(it[2].u.str, "\xf0\x9f\x98\x80");
    ASSERT_STR_EQ(it[3].u.str, "\"\\/\b\f\n\r\t");
    ASSERT_STR_EQ(it[4].u.str, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
    ASSERT_EQ_INT(it[5].len, 0);
    ASSERT_STR_EQ(it[5].u.str, "");

    /* Keys may hold escapes and NUL too; json_get matches whole keys. */
    ASSERT_OK(parse_str(&a, "{\"k\\u0000x\": 1, \"k\": 2}", &v, err, sizeof err));
    int64_t i;
    ASSERT_OK(json_as_int64(json_get(v, "k"), &i));
    ASSERT_EQ_INT(i, 2);
    ASSERT_EQ_INT(v->u.members[0].key_len, 3);
    arena_free(&a);
}

TEST(test_duplicates_kept)
{
    Arena a;
    arena_init(&a, 0);
    JsonValue *v;
    char err[128];
    ASSERT_OK(parse_str(&a, "{\"a\":1,\"b\":2,\"a\":3}", &v, err, sizeof err));
    ASSERT_EQ_INT(v->len, 3);
    int64_t i;
    ASSERT_OK(json_as_int64(json_get(v, "a"), &i));
    ASSERT_EQ_INT(i, 1);
    ASSERT_OK(json_as_int64(&v->u.members[2].value, &i));
    ASSERT_EQ_INT(i, 3);
    arena_free(&a);
}

TEST(test_writer_escaping)
{
    Buf b;
    buf_init(&b);
    static const char raw[] = "a\"b\\c\n\t\r\b\f\x01\x1f\x7f/\xc3\xa9";
    json_escape_into(&b, raw, sizeof raw - 1);
    ASSERT_STR_EQ(b.data, "\"a\\\"b\\\\c\\n\\t\\r\\b\\f\\u0001\\u001f\x7f/\xc3\xa9\"");
    buf_free(&b);
    json_escape_into(&b, "x\0y", 3);
    ASSERT_STR_EQ(b.data, "\"x\\u0000y\"");
    buf_free(&b);
    /* Invalid UTF-8 is replaced so the output stays valid JSON. */
    json_escape_into(&b, "a\xff" "b\xc0\x80" "c\xe2\x82", 8);
    ASSERT_STR_EQ(b.data, "\"a\\ufffdb\\ufffd\\ufffdc\\ufffd\\ufffd\"");
    buf_free(&b);
    json_escape_into(&b, "\xf0\x9f\x98\x80\"\xe2\x82\xac\n", 9);
    ASSERT_STR_EQ(b.data, "\"\xf0\x9f\x98\x80\\\"\xe2\x82\xac\\n\"");
    buf_free(&b);
}

TEST(test_writer_structure)
{
    Buf b;
    buf_init(&b);
    JsonWriter w;
    jw_init(&w, &b);
    jw_object_begin(&w);
    jw_key(&w, "id");
    jw_uint(&w, 42);
    jw_key(&w, "v");
    float f[3] = { 0.5f, -1.25f, 3.0f };
    jw_floats(&w, f, 3);
    jw_key(&w, "e");
    jw_array_begin(&w);
    jw_array_end(&w);
    jw_key(&w, "o");
    jw_object_begin(&w);
    jw_object_end(&w);
    jw_key(&w, "nested");
    jw_array_begin(&w);
    jw_array_begin(&w);
    jw_null(&w);
    jw_bool(&w, 1);
    jw_array_end(&w);
    jw_object_begin(&w);
    jw_key_len(&w, "k\"ey", 4);
    jw_string_len(&w, "s\0t", 3);
    jw_object_end(&w);
    jw_raw(&w, "{\"r\":[1]}", 9);
    jw_bool(&w, 0);
    jw_array_end(&w);
    jw_key(&w, "nan");
    jw_double(&w, NAN);
    jw_key(&w, "inf");
    jw_float(&w, -INFINITY);
    jw_key(&w, "d");
    jw_double(&w, 0.1);
    jw_key(&w, "nz");
    jw_double(&w, -0.0);
    jw_object_end(&w);
    ASSERT_STR_EQ(b.data, "{\"id\":42,\"v\":[0.5,-1.25,3],\"e\":[],\"o\":{},"
                          "\"nested\":[[null,true],{\"k\\\"ey\":\"s\\u0000t\"},{\"r\":[1]},false],"
                          "\"nan\":null,\"inf\":null,\"d\":0.1,\"nz\":-0.0}");
    ASSERT_EQ_INT(w.depth, 0);
    /* And what it wrote is valid JSON. */
    Arena a;
    arena_init(&a, 0);
    JsonValue *v;
    char err[128];
    ASSERT_OK(json_parse(&a, b.data, b.len, &v, err, sizeof err));
    ASSERT_TRUE(signbit(json_get(v, "nz")->u.num));
    arena_free(&a);
    buf_free(&b);
}

/* write_float returns jw_float's text for one float in a static buffer. */
static const char *write_float(float f)
{
    static char out[64];
    Buf b;
    buf_init(&b);
    JsonWriter w;
    jw_init(&w, &b);
    jw_float(&w, f);
    snprintf(out, sizeof out, "%s", b.data);
    buf_free(&b);
    return out;
}

static const char *write_double(double d)
{
    static char out[64];
    Buf b;
    buf_init(&b);
    JsonWriter w;
    jw_init(&w, &b);
    jw_double(&w, d);
    snprintf(out, sizeof out, "%s", b.data);
    buf_free(&b);
    return out;
}

TEST(test_float_known)
{
    /* Expected texts are the shortest round-trip forms (as Python's
     * numpy.float32 repr and JavaScript's Math.fround print them, modulo
     * the exponent style of %g). */
    ASSERT_STR_EQ(write_float(0.1f), "0.1");
    ASSERT_STR_EQ(write_float(1.0f / 3.0f), "0.33333334");
    ASSERT_STR_EQ(write_float(FLT_MAX), "3.4028235e+38");
    ASSERT_STR_EQ(write_float(16777216.0f), "16777216");
    ASSERT_STR_EQ(write_float(1.0e-45f), "1e-45"); /* subnormal */
    ASSERT_STR_EQ(write_float(FLT_MIN), "1.1754944e-38");
    ASSERT_STR_EQ(write_float(0.2f), "0.2");
    ASSERT_STR_EQ(write_float(100.0f), "100");
    ASSERT_STR_EQ(write_float(1.5e10f), "1.5e+10");
    ASSERT_STR_EQ(write_float(-0.0f), "-0.0");
    ASSERT_STR_EQ(write_float(NAN), "null");
    ASSERT_STR_EQ(write_double(0.1), "0.1");
    ASSERT_STR_EQ(write_double(0.1 + 0.2), "0.30000000000000004");
    ASSERT_STR_EQ(write_double(1.0 / 3.0), "0.3333333333333333");
    ASSERT_STR_EQ(write_double(DBL_MAX), "1.7976931348623157e+308");
    ASSERT_STR_EQ(write_double(5e-324), "5e-324");
    ASSERT_STR_EQ(write_double(1e21), "1e+21");
    ASSERT_STR_EQ(write_double(INFINITY), "null");
}

/* A random finite float from random bits (every exponent, denormals too). */
static float random_float(void)
{
    for (;;) {
        uint32_t bits = (uint32_t)rng_next();
        float f;
        memcpy(&f, &bits, 4);
        if (isfinite(f)) return f;
    }
}

/* sig_digits counts the significant digits of a decimal text ("0.0120" and
 * "1200" both have 2, as trailing zeros of %g output carry no precision). */
static int sig_digits(const char *s)
{
    char d[64];
    int n = 0;
    for (const char *p = s; *p && *p != 'e' && n < 63; p++)
        if (*p >= '0' && *p <= '9') d[n++] = *p;
    int lo = 0;
    while (lo < n && d[lo] == '0') lo++;
    while (n > lo && d[n - 1] == '0') n--;
    return n - lo;
}

TEST(test_float_roundtrip_random)
{
    enum { N = 50000 };
    int bad = 0, too_long = 0;
    for (int k = 0; k < N; k++) {
        float f = random_float();
        const char *s = write_float(f);
        float back = strtof(s, NULL);
        if (memcmp(&back, &f, 4) != 0 && bad++ < 5)
            printf("  float %.9g written as %s reads back %.9g\n", (double)f, s, (double)back);
        /* Shortest: one significant digit fewer must not round-trip. The
         * reference here is snprintf/strtof, not json.c. */
        if (f != 0 && sig_digits(s) > 1) {
            char shorter[64];
            snprintf(shorter, sizeof shorter, "%.*e", sig_digits(s) - 2, (double)f);
            if (strtof(shorter, NULL) == f && too_long++ < 5)
                printf("  float %s has fewer digits than %s\n", shorter, s);
        }
    }
    ASSERT_EQ_INT(bad, 0);
    ASSERT_EQ_INT(too_long, 0);

    for (int k = 0; k < N; k++) {
        uint64_t bits = rng_next();
        double d;
        memcpy(&d, &bits, 8);
        if (!isfinite(d)) continue;
        const char *s = write_double(d);
        double back = strtod(s, NULL);
        if (memcmp(&back, &d, 8) != 0 && bad++ < 5)
            printf("  double %.17g written as %s reads back %.17g\n", d, s, back);
    }
    ASSERT_EQ_INT(bad, 0);
}

TEST(test_floats_through_parser)
{
    enum { N = 512 };
    float in[N], out[N];
    for (int k = 0; k < N; k++) in[k] = random_float();
    in[0] = FLT_MAX;
    in[1] = -FLT_MAX;
    in[2] = 1.0e-45f;
    in[4] = 1.1e-40f;
    in[3] = -0.0f;
    Buf b;
    buf_init(&b);
    JsonWriter w;
    jw_init(&w, &b);
    jw_floats(&w, in, N);
    Arena a;
    arena_init(&a, 0);
    JsonValue *v;
    char err[128];
    ASSERT_OK(json_parse(&a, b.data, b.len, &v, err, sizeof err));
    ASSERT_OK(json_get_floats(v, out, N));
    ASSERT_TRUE(memcmp(in, out, sizeof in) == 0);
    ASSERT_EQ_INT(json_get_floats(v, out, N - 1), ERR_INVAL); /* wrong length */
    buf_free(&b);

    /* Not finite as a float, though finite as a double. */
    ASSERT_OK(json_parse(&a, "[1e39]", 6, &v, err, sizeof err));
    ASSERT_EQ_INT(json_get_floats(v, out, 1), ERR_INVAL);
    ASSERT_OK(json_parse(&a, "[-3.5e38]", 9, &v, err, sizeof err));
    ASSERT_EQ_INT(json_get_floats(v, out, 1), ERR_INVAL);
    /* Just above FLT_MAX but below the rounding midpoint: FLT_MAX. */
    ASSERT_OK(json_parse(&a, "[3.4028235e38, 1, 2]", 20, &v, err, sizeof err));
    ASSERT_OK(json_get_floats(v, out, 3));
    ASSERT_TRUE(out[0] == FLT_MAX);
    ASSERT_TRUE(out[2] == 2.0f);
    ASSERT_OK(json_parse(&a, "[1, \"2\"]", 8, &v, err, sizeof err));
    ASSERT_EQ_INT(json_get_floats(v, out, 2), ERR_INVAL);
    ASSERT_OK(json_parse(&a, "{\"a\":1}", 7, &v, err, sizeof err));
    ASSERT_EQ_INT(json_get_floats(v, out, 1), ERR_INVAL);
    ASSERT_EQ_INT(json_get_floats(NULL, out, 0), ERR_INVAL);
    arena_free(&a);
}

/* The reader's doubles must equal strtod's for the same text. */
TEST(test_numbers_match_strtod)
{
    Arena a;
    arena_init(&a, 0);
    int bad = 0;
    for (int k = 0; k < 20000; k++) {
        char text[80];
        uint64_t r = rng_next();
        int ndig = 1 + (int)(r % 19);
        int point = (int)((r >> 8) % (uint64_t)(ndig + 1));
        int exp = (int)((r >> 16) % 81) - 40;
        size_t n = 0;
        if ((r >> 24) & 1) text[n++] = '-';
        uint64_t digits = rng_next();
        for (int d = 0; d < ndig; d++) {
            if (d == point && d > 0) text[n++] = '.';
            int c = (int)(digits % 10);
            digits /= 10;
            if (d == 0 && ndig > 1 && point != 1 && c == 0) c = 1; /* no leading zero */
            text[n++] = (char)('0' + c);
        }
        if ((r >> 25) & 1) n += (size_t)snprintf(text + n, sizeof text - n, "e%d", exp);
        text[n] = '\0';
        JsonValue *v;
        char err[128];
        if (json_parse(&a, text, n, &v, err, sizeof err) != 0) continue; /* e.g. "01" */
        double want = strtod(text, NULL);
        if (memcmp(&v->u.num, &want, 8) != 0 && v->num_kind == JSON_NUM_DOUBLE && bad++ < 5)
            printf("  %s: parsed %.17g, strtod %.17g\n", text, v->u.num, want);
        if (v->num_kind != JSON_NUM_DOUBLE && v->u.num != want && bad++ < 5)
            printf("  %s: parsed integer as %.17g, strtod %.17g\n", text, v->u.num, want);
        arena_free(&a);
    }
    arena_free(&a);
    ASSERT_EQ_INT(bad, 0);
}

TEST(test_equal)
{
    Arena a;
    arena_init(&a, 0);
    JsonValue *x, *y;
    char err[128];
#define EQ(s1, s2, expect)                                            \
    do {                                                              \
        ASSERT_OK(parse_str(&a, s1, &x, err, sizeof err));            \
        ASSERT_OK(parse_str(&a, s2, &y, err, sizeof err));            \
        if (json_equal(x, y) != (expect))                             \
            HARNESS_FAIL("json_equal(%s, %s) != %d", s1, s2, expect); \
        if (json_equal(y, x) != (expect))                             \
            HARNESS_FAIL("json_equal(%s, %s) != %d", s2, s1, expect); \
    } while (0)
    EQ("1", "1.0", 1);
    EQ("1", "1e0", 1);
    EQ("100", "1e2", 1);
    EQ("1", "1.5", 0);
    EQ("-0", "0.0", 1);
    EQ("18446744073709551615", "1.8446744073709552e19", 0); /* that double is 2^64 */
    EQ("9007199254740993", "9007199254740992.0", 0);         /* exact, not via double */
    EQ("9223372036854775807", "9223372036854775808", 0);
    EQ("-1", "18446744073709551615", 0);
    EQ("\"a\\u0000b\"", "\"a\\u0000c\"", 0);
    EQ("\"ab\"", "\"ab\"", 1);
    EQ("{\"a\":1,\"b\":[true,null]}", "{\"a\":1.0,\"b\":[true,null]}", 1);
    EQ("{\"a\":1,\"b\":2}", "{\"b\":2,\"a\":1}", 0);
    EQ("[1,2]", "[1,2,3]", 0);
    EQ("[]", "{}", 0);
    EQ("true", "false", 0);
    EQ("null", "null", 1);
    EQ("{\"a\":{}}", "{\"b\":{}}", 0);
#undef EQ
    arena_free(&a);
}

/* ---- random DOMs: serialise -> parse -> json_equal ---- */

static void random_string(Arena *a, const char **s, uint32_t *len)
{
    static const char *pieces[] = { "a", "Z", "0", " ", "\"", "\\", "/", "\n", "\t", "\x01",
                                    "\x7f", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "key", "." };
    size_t n = rng_next() % 8, used = 0;
    char *buf = arena_alloc(a, n * 4 + 2);
    for (size_t i = 0; i < n; i++) {
        uint64_t r = rng_next();
        if (r % 13 == 0) {
            buf[used++] = '\0'; /* NUL inside the string */
            continue;
        }
        const char *p = pieces[r % ARRAY_LEN(pieces)];
        size_t pl = strlen(p);
        memcpy(buf + used, p, pl);
        used += pl;
    }
    buf[used] = '\0';
    *s = buf;
    *len = (uint32_t)used;
}

static void random_value(Arena *a, JsonValue *v, int depth)
{
    memset(v, 0, sizeof *v);
    uint64_t r = rng_next();
    int kind = (int)(r % (depth < 6 ? 9 : 6));
    switch (kind) {
    case 0: v->type = JSON_NULL; break;
    case 1:
        v->type = JSON_BOOL;
        v->u.boolean = (int)((r >> 8) & 1);
        break;
    case 2: {
        v->type = JSON_NUMBER;
        uint64_t bits = rng_next();
        int sub = (int)((r >> 8) % 4);
        if (sub == 0) {
            v->num_kind = JSON_NUM_INT;
            v->n.i = (int64_t)bits >> (bits & 63);
            v->u.num = (double)v->n.i;
        } else if (sub == 1) {
            v->num_kind = JSON_NUM_UINT;
            v->n.u = bits | (1ull << 63);
            v->u.num = (double)v->n.u;
        } else {
            double d;
            do {
                bits = rng_next();
                memcpy(&d, &bits, 8);
            } while (!isfinite(d));
            if (sub == 3) d = (double)(float)random_float(); /* short decimals too */
            v->num_kind = JSON_NUM_DOUBLE;
            v->u.num = d;
        }
        break;
    }
    case 3:
    case 4:
    case 5:
        v->type = JSON_STRING;
        random_string(a, &v->u.str, &v->len);
        break;
    case 6:
    case 7: {
        v->type = JSON_ARRAY;
        v->len = (uint32_t)(rng_next() % 5);
        v->u.items = arena_alloc(a, (v->len + 1) * sizeof(JsonValue));
        for (uint32_t i = 0; i < v->len; i++) random_value(a, &v->u.items[i], depth + 1);
        break;
    }
    default: {
        v->type = JSON_OBJECT;
        v->len = (uint32_t)(rng_next() % 5);
        v->u.members = arena_alloc(a, (v->len + 1) * sizeof(JsonMember));
        for (uint32_t i = 0; i < v->len; i++) {
            random_string(a, &v->u.members[i].key, &v->u.members[i].key_len);
            random_value(a, &v->u.members[i].value, depth + 1);
        }
        break;
    }
    }
}

TEST(test_random_dom_roundtrip)
{
    int bad = 0;
    for (int k = 0; k < 2000; k++) {
        Arena a;
        arena_init(&a, 0);
        JsonValue dom;
        random_value(&a, &dom, 0);
        Buf b1, b2;
        buf_init(&b1);
        buf_init(&b2);
        JsonWriter w;
        jw_init(&w, &b1);
        jw_value(&w, &dom);
        JsonValue *back;
        char err[160];
        int rc = json_parse(&a, b1.data, b1.len, &back, err, sizeof err);
        if (rc != 0) {
            if (bad++ < 3) printf("  parse failed (%s) for %s\n", err, b1.data);
        } else {
            if (!json_equal(&dom, back) && bad++ < 3) printf("  not equal after round trip: %s\n", b1.data);
            /* Writing the parsed DOM again gives the same bytes. */
            jw_init(&w, &b2);
            jw_value(&w, back);
            if ((b1.len != b2.len || memcmp(b1.data, b2.data, b1.len) != 0) && bad++ < 3)
                printf("  second write differs:\n  %s\n  %s\n", b1.data, b2.data);
        }
        buf_free(&b1);
        buf_free(&b2);
        arena_free(&a);
    }
    ASSERT_EQ_INT(bad, 0);
}

/* ---- numbers against strtod / strtof, in both parse modes ---- */

/* Fewer random numbers under the sanitizers, which are several times
 * slower; the release build runs every case. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_UNDEFINED__)
#define NUM_SCALE 4
#else
#define NUM_SCALE 1
#endif

/* A batch of number texts, checked together as one JSON array. */
typedef struct {
    char **texts;
    size_t n, cap;
} NumBatch;

static void batch_add(NumBatch *b, const char *t)
{
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 1024;
        b->texts = xrealloc(b->texts, b->cap * sizeof *b->texts);
    }
    b->texts[b->n++] = xstrdup(t);
}

static void batch_free(NumBatch *b)
{
    for (size_t i = 0; i < b->n; i++) free(b->texts[i]);
    free(b->texts);
    memset(b, 0, sizeof *b);
}

/* ref_integer: the exact value of an integer text by strtoull/strtoll, the
 * reference for JSON_NUM_INT / JSON_NUM_UINT. Returns the kind it must
 * get, or JSON_NUM_DOUBLE when the text is no 64-bit integer. */
static int ref_integer(const char *t, int64_t *i, uint64_t *u)
{
    if (strpbrk(t, ".eE")) return JSON_NUM_DOUBLE;
    errno = 0;
    if (t[0] == '-') {
        long long x = strtoll(t, NULL, 10);
        if (errno) return JSON_NUM_DOUBLE;
        *i = x;
        return JSON_NUM_INT;
    }
    unsigned long long x = strtoull(t, NULL, 10);
    if (errno) return JSON_NUM_DOUBLE;
    *u = x;
    if (x <= (unsigned long long)INT64_MAX) {
        *i = (int64_t)x;
        return JSON_NUM_INT;
    }
    return JSON_NUM_UINT;
}

/*
 * check_batch parses "[t0,t1,...]" with json_parse and json_parse_packed
 * and compares every item with the references: the double bit for bit
 * with strtod, the float bit for bit with strtof (json_get_floats), and
 * integers exactly with strtoll/strtoull. Returns the number of
 * mismatches (the first few are printed).
 */
static int check_batch(const NumBatch *nb, const char *what)
{
    Buf text;
    buf_init(&text);
    buf_append(&text, "[", 1);
    for (size_t i = 0; i < nb->n; i++) {
        if (i) buf_append(&text, ",", 1);
        buf_append_str(&text, nb->texts[i]);
    }
    buf_append(&text, "]", 1);
    float *want_f = xmalloc((nb->n + 1) * sizeof(float));
    float *got_f = xmalloc((nb->n + 1) * sizeof(float));
    int all_finite = 1;
    for (size_t i = 0; i < nb->n; i++) {
        want_f[i] = strtof(nb->texts[i], NULL);
        if (!isfinite(want_f[i])) all_finite = 0;
    }
    int bad = 0;
    for (int mode = 0; mode < 2; mode++) {
        Arena a;
        arena_init(&a, 0);
        JsonValue *v;
        char err[160];
        int rc = mode ? json_parse_packed(&a, text.data, text.len, &v, err, sizeof err)
                      : json_parse(&a, text.data, text.len, &v, err, sizeof err);
        if (rc != 0) {
            printf("  %s: %s does not parse: %s\n", what, mode ? "packed" : "unpacked", err);
            bad++;
            arena_free(&a);
            continue;
        }
        for (size_t i = 0; i < nb->n; i++) {
            const char *t = nb->texts[i];
            JsonValue x = json_item(v, i);
            double want_d = strtod(t, NULL);
            int64_t ri = 0;
            uint64_t ru = 0;
            int kind = ref_integer(t, &ri, &ru);
            int ok = x.type == JSON_NUMBER && x.num_kind == kind && x.len == 0 &&
                     memcmp(&x.u.num, &want_d, sizeof want_d) == 0;
            if (ok && kind == JSON_NUM_INT) ok = x.n.i == ri;
            if (ok && kind == JSON_NUM_UINT) ok = x.n.u == ru;
            if (!ok && bad++ < 5)
                printf("  %s (%s) %s: got kind %d %.17g, strtod %.17g (kind %d)\n", what,
                       mode ? "packed" : "unpacked", t, x.num_kind, x.u.num, want_d, kind);
        }
        if (all_finite) {
            rc = json_get_floats(v, got_f, nb->n);
            for (size_t i = 0; i < nb->n; i++) {
                if ((rc != 0 || memcmp(&got_f[i], &want_f[i], sizeof(float)) != 0) && bad++ < 5)
                    printf("  %s (%s) %s: json_get_floats rc %d %.9g, strtof %.9g\n", what,
                           mode ? "packed" : "unpacked", nb->texts[i], rc, (double)got_f[i],
                           (double)want_f[i]);
            }
        } else {
            /* Some value is no finite float: the whole array is refused,
             * and each number alone gives strtof's float or is refused. */
            if (json_get_floats(v, got_f, nb->n) != ERR_INVAL && bad++ < 5)
                printf("  %s: json_get_floats accepted a value beyond the float range\n", what);
            for (size_t i = 0; i < nb->n; i++) {
                char one[1024];
                snprintf(one, sizeof one, "[%s]", nb->texts[i]);
                JsonValue *w;
                float f = 0;
                rc = mode ? json_parse_packed(&a, one, strlen(one), &w, err, sizeof err)
                          : json_parse(&a, one, strlen(one), &w, err, sizeof err);
                if (rc == 0) rc = json_get_floats(w, &f, 1);
                int ok = isfinite(want_f[i]) ? rc == 0 && memcmp(&f, &want_f[i], sizeof f) == 0
                                             : rc == ERR_INVAL;
                if (!ok && bad++ < 5)
                    printf("  %s (%s) %s: float rc %d %.9g, strtof %.9g\n", what,
                           mode ? "packed" : "unpacked", nb->texts[i], rc, (double)f,
                           (double)want_f[i]);
            }
        }
        arena_free(&a);
    }
    free(want_f);
    free(got_f);
    buf_free(&text);
    return bad;
}

/* shortest_double writes the shortest %g text that reads back to d, as
 * JavaScript's Number.prototype.toString chooses the digits. Starting at
 * 15 digits loses nothing: %g drops trailing zeros, and a value with a
 * shorter exact-enough text prints as that text at 15 digits. */
static void shortest_double(char *out, size_t cap, double d)
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(out, cap, "%.*g", prec, d);
        if (strtod(out, NULL) == d) return;
    }
}

static void shortest_float(char *out, size_t cap, float f)
{
    for (int prec = 6; prec <= 9; prec++) {
        snprintf(out, cap, "%.*g", prec, (double)f);
        if (strtof(out, NULL) == f) return;
    }
}

/* random_digits writes a random decimal: 1-25 significant digits, a point
 * anywhere, an optional exponent, leading zeros after the point. */
static void random_digits(char *out, size_t cap)
{
    uint64_t r = rng_next();
    size_t n = 0;
    if (r & 1) out[n++] = '-';
    int ndig = 1 + (int)((r >> 1) % 25);
    int lead = (r >> 6) % 4 == 0 ? (int)((r >> 8) % 12) : 0; /* 0.000ddd */
    if (lead) {
        out[n++] = '0';
        out[n++] = '.';
        for (int k = 1; k < lead; k++) out[n++] = '0';
    }
    int point = lead ? -1 : (int)((r >> 12) % (uint64_t)(ndig + 1));
    for (int d = 0; d < ndig; d++) {
        if (d == point && d > 0) out[n++] = '.';
        int c = (int)(rng_next() % 10);
        if (d == 0 && !lead && c == 0) c = 1 + (int)(rng_next() % 9); /* no leading zero */
        out[n++] = (char)('0' + c);
    }
    if ((r >> 20) & 1) {
        int e = (int)((r >> 21) % 700) - 370;
        n += (size_t)snprintf(out + n, cap - n, "%s%d", (r >> 40) & 1 ? "e" : "E", e);
    }
    out[n] = '\0';
}

/* exact_decimal writes the decimal expansion of x with prec digits after
 * the first, as "D.DDDDe+X" without trailing zeros: exact when prec is
 * large enough (glibc prints every digit exactly). A midpoint between two
 * floats, or two doubles, is exact in an x87 long double. */
static void exact_decimal(char *out, size_t cap, long double x, int prec)
{
    char tmp[1200];
    snprintf(tmp, sizeof tmp, "%.*Le", prec, x);
    char *e = strchr(tmp, 'e');
    char *end = e;
    while (end > tmp && end[-1] == '0') end--;
    if (end[-1] == '.') end--; /* "5.e-01" is not JSON */
    snprintf(out, cap, "%.*s%s", (int)(end - tmp), tmp, e);
}

/* tie_variant writes the exact text of a midpoint (variant 0), a value a
 * hair above it (1) or below it (2): close enough that the double is
 * still the midpoint, so only the float tells them apart. */
static void tie_variant(char *out, size_t cap, const char *exact, int variant, int neg)
{
    const char *e = strchr(exact, 'e');
    int mlen = (int)(e - exact);
    const char *sign = neg ? "-" : "";
    if (variant == 0) {
        snprintf(out, cap, "%s%s", sign, exact);
    } else if (variant == 1) {
        snprintf(out, cap, "%s%.*s%s000000000000000000000001%s", sign, mlen, exact,
                 memchr(exact, '.', (size_t)mlen) ? "" : ".", e);
    } else {
        /* The last digit is not 0 (trailing zeros were removed). */
        char m[1000];
        snprintf(m, sizeof m, "%.*s", mlen, exact);
        m[mlen - 1] = (char)(m[mlen - 1] - 1);
        snprintf(out, cap, "%s%s%s999999999999999999999999%s", sign, m,
                 memchr(exact, '.', (size_t)mlen) ? "" : ".", e);
    }
}

/* A uniform double in [-1, 1). */
static double rng_unit(void)
{
    return (double)(rng_next() >> 11) / 9007199254740992.0 * 2.0 - 1.0;
}

/* run_batches feeds count texts from gen through check_batch, 20000 at a
 * time, and returns the mismatches. */
static int run_batches(const char *what, int count, void (*gen)(char *, size_t, int))
{
    NumBatch b = { 0 };
    int bad = 0;
    char t[1200];
    for (int k = 0; k < count; k++) {
        gen(t, sizeof t, k);
        /* Numbers beyond the double range are refused (test_number_errors);
         * here every text must parse. */
        if (isinf(strtod(t, NULL))) continue;
        batch_add(&b, t);
        if (b.n == 20000) {
            bad += check_batch(&b, what);
            batch_free(&b);
        }
    }
    if (b.n) bad += check_batch(&b, what);
    batch_free(&b);
    return bad;
}

/* What the JavaScript client sends for float32 values: the shortest text
 * of the widened double (16-17 digits), mostly in [-1, 1) as embeddings
 * are, sometimes at any float exponent. */
static void gen_js(char *t, size_t cap, int k)
{
    float f = k % 4 ? (float)rng_unit() : random_float();
    shortest_double(t, cap, (double)f);
}

/* The shortest text of a float32 (6-9 digits): numpy's repr, our writer. */
static void gen_short(char *t, size_t cap, int k)
{
    shortest_float(t, cap, k % 4 ? (float)rng_unit() : random_float());
}

/* Random doubles from random bits, 17 digits or shortest, any exponent,
 * subnormals included. */
static void gen_double(char *t, size_t cap, int k)
{
    double d;
    do {
        uint64_t bits = rng_next();
        memcpy(&d, &bits, sizeof d);
    } while (!isfinite(d));
    if (k % 2)
        snprintf(t, cap, "%.17g", d);
    else
        shortest_double(t, cap, d);
}

static void gen_digits(char *t, size_t cap, int k)
{
    (void)k;
    random_digits(t, cap);
}

/* A text on, just above or just below the midpoint of two adjacent floats
 * (normal, subnormal, and FLT_MAX with 2^128), where rounding to double
 * first lands exactly on the midpoint: strtof's answer needs the text. An
 * integer now and then puts the halfway fixes next to integer items. */
static void gen_float_tie(char *t, size_t cap, int k)
{
    if (k % 7 == 6) {
        snprintf(t, cap, "%d", (int)(rng_next() % 2000001) - 1000000);
        return;
    }
    float f = fabsf(random_float());
    if (k % 50 == 0) f = FLT_MAX;
    if (k % 50 == 1) f = (float)(rng_next() % 64) * 0x1p-149f; /* subnormal */
    float g = nextafterf(f, INFINITY);
    long double m = isfinite(g) ? ((long double)f + (long double)g) / 2
                                : ((long double)FLT_MAX + 0x1p128L) / 2;
    char exact[400];
    exact_decimal(exact, sizeof exact, m, 160);
    tie_variant(t, cap, exact, k % 3, (int)(rng_next() & 1));
}

/* Texts around the midpoint of two adjacent doubles: exact, a hair above
 * and below (strtod's territory, over 19 digits), and the midpoint cut to
 * 19 significant digits and that plus one unit, the closest calls the
 * Eisel-Lemire path must get right or hand over. */
static void gen_double_tie(char *t, size_t cap, int k)
{
    double d;
    do {
        uint64_t bits = rng_next() & ~(1ull << 63);
        memcpy(&d, &bits, sizeof d);
    } while (!isfinite(d) || !isfinite(nextafter(d, INFINITY)));
    long double m = ((long double)d + (long double)nextafter(d, INFINITY)) / 2;
    char exact[1200];
    exact_decimal(exact, sizeof exact, m, 780);
    int variant = k % 5, neg = (int)(rng_next() & 1);
    if (variant < 3) {
        tie_variant(t, cap, exact, variant, neg);
        return;
    }
    /* The first 19 digits as an integer N: the text is N e (X - 18). */
    uint64_t n = 0;
    int nd = 0;
    for (const char *p = exact; *p != 'e' && nd < 19; p++)
        if (*p >= '0' && *p <= '9') n = n * 10 + (uint64_t)(*p - '0'), nd++;
    while (nd < 19) n *= 10, nd++;
    long x = strtol(strchr(exact, 'e') + 1, NULL, 10);
    if (variant == 4) n++;
    snprintf(t, cap, "%s%" PRIu64 "e%ld", neg ? "-" : "", n, x - 18);
}

static const char *const integer_cases[] = {
    "0", "-0", "1", "-1", "16777217", "-16777217", "33554435", "9007199254740991",
    "9007199254740992", "9007199254740993", "-9007199254740993", "9223372036854775807",
    "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
    "18446744073709551615", "18446744073709551616", "-18446744073709551616",
    "99999999999999999999999", "123456789012345678901234567890",
};

/* Integers of every size, boundaries first: exact 64-bit values or, past
 * them, doubles. */
static void gen_integer(char *t, size_t cap, int k)
{
    if ((size_t)k < ARRAY_LEN(integer_cases)) {
        snprintf(t, cap, "%s", integer_cases[k]);
        return;
    }
    /* Every length up to 20 digits, and 21 now and then. */
    uint64_t v = rng_next() >> (rng_next() % 64);
    snprintf(t, cap, "%s%" PRIu64 "%s", rng_next() & 1 ? "-" : "", v, k % 10 == 0 && v ? "7" : "");
}

TEST(test_numbers_js_floats)
{
    ASSERT_EQ_INT(run_batches("js", 300000 / NUM_SCALE, gen_js), 0);
}

TEST(test_numbers_short_floats)
{
    ASSERT_EQ_INT(run_batches("short", 300000 / NUM_SCALE, gen_short), 0);
}

TEST(test_numbers_random_doubles)
{
    ASSERT_EQ_INT(run_batches("double", 200000 / NUM_SCALE, gen_double), 0);
}

TEST(test_numbers_random_digits)
{
    ASSERT_EQ_INT(run_batches("digits", 250000 / NUM_SCALE, gen_digits), 0);
}

TEST(test_numbers_float_ties)
{
    /* Also a few fixed ones: 2^24 + 1 (an integer, and as a decimal) and
     * the largest float's midpoint with 2^128 written short. */
    static const char *const fixed[] = { "16777217", "16777217.0", "16777219.0",
                                         "3.4028235677973366e38", "3.4028235677973362e38",
                                         "7.00649232162408535461864791644958065640130970938257885878534141944895541342930300743319094181060791015625e-46" };
    NumBatch b = { 0 };
    for (size_t i = 0; i < ARRAY_LEN(fixed); i++) batch_add(&b, fixed[i]);
    int bad = check_batch(&b, "fixed ties");
    batch_free(&b);
    ASSERT_EQ_INT(bad, 0);
    ASSERT_EQ_INT(run_batches("float tie", 90000 / NUM_SCALE, gen_float_tie), 0);
}

TEST(test_numbers_double_ties)
{
    ASSERT_EQ_INT(run_batches("double tie", 20000 / NUM_SCALE, gen_double_tie), 0);
}

TEST(test_numbers_integers)
{
    ASSERT_EQ_INT(run_batches("integer", 100000 / NUM_SCALE, gen_integer), 0);
}

/* Bad numbers give the messages (and offsets) they always gave, packed or
 * not; the references were printed by the reader before packed arrays. */
static const struct {
    const char *text;
    const char *err;
} number_errors[] = {
    { "[1e400]", "number out of range at byte 6" },
    { "[-1e400]", "number out of range at byte 7" },
    { "[1, 2, 1e309]", "number out of range at byte 12" },
    { "01", "parse error: trailing garbage at byte 2" },
    { "[1.]", "lexical error: malformed number, a digit is required after the decimal point at byte 3" },
    { "[.5]", "lexical error: invalid char in json text at byte 2" },
    { "[1e]", "lexical error: malformed number, a digit is required after the exponent at byte 3" },
    { "[-]", "lexical error: malformed number, a digit is required after the minus sign at byte 2" },
    { "[1.e5]", "lexical error: malformed number, a digit is required after the decimal point at byte 3" },
    { "[--1]", "lexical error: malformed number, a digit is required after the minus sign at byte 2" },
    { "[+1]", "lexical error: invalid char in json text at byte 2" },
    { "[0x10]", "lexical error: invalid char in json text at byte 3" },
    { "[1e+]", "lexical error: malformed number, a digit is required after the exponent at byte 4" },
    { "[Infinity]", "lexical error: invalid char in json text at byte 2" },
    { "[NaN]", "lexical error: invalid char in json text at byte 2" },
    { "[1,2,3", "parse error: premature EOF at byte 6" },
    { "[1 2]", "parse error: after array element, I expect ',' or ']' at byte 4" },
    { "[1,,2]", "parse error: unallowed token at this point in JSON text at byte 4" },
    { "-", "lexical error: malformed number, a digit is required after the minus sign at byte 1" },
    { "1e99999999999999999999", "number out of range at byte 22" },
    { "[123456789012345678901234567890e400]", "number out of range at byte 35" },
    { "{\"a\":[1,2,1e999]}", "number out of range at byte 15" },
    { "[1,2,\"x\",1e500]", "number out of range at byte 14" },
    { "[[1,2],[3,1e400]]", "number out of range at byte 15" },
};

TEST(test_number_errors)
{
    for (size_t k = 0; k < ARRAY_LEN(number_errors); k++) {
        for (int mode = 0; mode < 2; mode++) {
            Arena a;
            arena_init(&a, 0);
            JsonValue *v;
            char err[160];
            const char *t = number_errors[k].text;
            int rc = mode ? json_parse_packed(&a, t, strlen(t), &v, err, sizeof err)
                          : json_parse(&a, t, strlen(t), &v, err, sizeof err);
            arena_free(&a);
            if (rc != ERR_INVAL || strcmp(err, number_errors[k].err) != 0)
                HARNESS_FAIL("%s (%s): rc %d \"%s\", expected \"%s\"", t, mode ? "packed" : "unpacked",
                             rc, err, number_errors[k].err);
        }
    }
    /* Underflow is not an error: the value is zero, as strtod gives. */
    Arena a;
    arena_init(&a, 0);
    JsonValue *v;
    char err[160];
    ASSERT_OK(json_parse_packed(&a, "[0.5e-99999999999, -1e-400]", 27, &v, err, sizeof err));
    JsonValue x = json_item(v, 1);
    ASSERT_TRUE(x.u.num == 0 && signbit(x.u.num));
    arena_free(&a);
}

/* write_text returns jw_value's output for v (free it). */
static char *write_text(const JsonValue *v)
{
    Buf b;
    buf_init(&b);
    JsonWriter w;
    jw_init(&w, &b);
    jw_value(&w, v);
    return buf_detach(&b, NULL);
}

TEST(test_packed_layout)
{
    Arena a;
    arena_init(&a, 0);
    JsonValue *v, *u;
    char err[160];
    /* Integers within 2^53 pack and come back exact; one beyond keeps the
     * whole array as nodes. Either way the text writes back unchanged. */
    static const char *const same[] = {
        "[1,2,9007199254740993]", "[1,2,9007199254740992]", "[-9007199254740992,0,-0.0,3]",
        "[1,2,18446744073709551615]", "[0.5,1,-2,1e+300,5e-324]", "[[1,2],[3],[],[\"a\",1]]",
        "{\"v\":[0.10000000149011612,-0.5],\"n\":[1,2]}", "[1,true]", "[null,1]",
    };
    static const int packed_root[] = { 0, 1, 1, 0, 1, 0, 0, 0, 0 };
    for (size_t k = 0; k < ARRAY_LEN(same); k++) {
        ASSERT_OK(json_parse_packed(&a, same[k], strlen(same[k]), &v, err, sizeof err));
        char *out = write_text(v);
        int same_text = strcmp(out, same[k]) == 0;
        if (!same_text) printf("  %s wrote back as %s\n", same[k], out);
        free(out);
        ASSERT_TRUE(same_text);
        ASSERT_EQ_INT((v->flags & JSON_FLAG_PACKED) != 0, packed_root[k]);
        ASSERT_OK(json_parse(&a, same[k], strlen(same[k]), &u, err, sizeof err));
        ASSERT_TRUE(json_equal(u, v) && json_equal(v, u));
    }
    /* Exact integers and kinds through json_item. */
    ASSERT_OK(json_parse_packed(&a, "[-9007199254740992, 7, 7.0, -0]", 31, &v, err, sizeof err));
    ASSERT_TRUE(v->flags & JSON_FLAG_PACKED);
    ASSERT_TRUE(v->u.items == NULL);
    int64_t i;
    JsonValue x = json_item(v, 0);
    ASSERT_OK(json_as_int64(&x, &i));
    ASSERT_TRUE(i == -9007199254740992ll);
    x = json_item(v, 1);
    ASSERT_OK(json_as_int64(&x, &i));
    ASSERT_EQ_INT(i, 7);
    x = json_item(v, 2);
    ASSERT_EQ_INT(json_as_int64(&x, &i), ERR_INVAL); /* 7.0 is no integer, as before */
    ASSERT_EQ_INT(x.num_kind, JSON_NUM_DOUBLE);
    x = json_item(v, 3);
    ASSERT_EQ_INT(x.num_kind, JSON_NUM_INT);
    ASSERT_TRUE(signbit(x.u.num));
    /* Out of range, or not an array: null. */
    ASSERT_EQ_INT(json_item(v, 4).type, JSON_NULL);
    ASSERT_EQ_INT(json_item(NULL, 0).type, JSON_NULL);
    ASSERT_EQ_INT(json_item(&x, 0).type, JSON_NULL);
    /* Unpacking gives nodes equal to json_parse's. */
    ASSERT_OK(json_parse(&a, "[-9007199254740992, 7, 7.0, -0]", 31, &u, err, sizeof err));
    json_array_unpack(&a, v);
    ASSERT_TRUE(!(v->flags & JSON_FLAG_PACKED) && v->u.items != NULL);
    for (uint32_t k = 0; k < 4; k++) {
        ASSERT_EQ_INT(v->u.items[k].num_kind, u->u.items[k].num_kind);
        ASSERT_TRUE(memcmp(&v->u.items[k].u.num, &u->u.items[k].u.num, sizeof(double)) == 0);
        ASSERT_TRUE(v->u.items[k].n.u == u->u.items[k].n.u);
    }
    /* Nested: the inner arrays pack, the outer holds nodes. */
    ASSERT_OK(json_parse_packed(&a, "[[1,2],[0.5]]", 13, &v, err, sizeof err));
    ASSERT_TRUE(!(v->flags & JSON_FLAG_PACKED) && v->u.items != NULL);
    ASSERT_TRUE(v->u.items[0].flags & JSON_FLAG_PACKED);
    ASSERT_TRUE(v->u.items[1].flags & JSON_FLAG_PACKED);
    /* json_parse never packs. */
    ASSERT_OK(json_parse(&a, "[0.5,1]", 7, &v, err, sizeof err));
    ASSERT_TRUE(!(v->flags & JSON_FLAG_PACKED) && v->u.items != NULL);
    arena_free(&a);

    /* Memory: 4 bytes a number when every value is a float (the JS
     * client's texts), 8 otherwise, plus a header; the unpacked DOM
     * takes 24 a number. */
    enum { N = 512 };
    for (int form = 0; form < 2; form++) {
        Buf b;
        buf_init(&b);
        buf_append(&b, "[", 1);
        float want[N];
        for (int k = 0; k < N; k++) {
            char t[64];
            want[k] = (float)rng_unit();
            if (form == 0)
                shortest_double(t, sizeof t, (double)want[k]);
            else
                shortest_float(t, sizeof t, want[k]);
            if (k) buf_append(&b, ",", 1);
            buf_append_str(&b, t);
        }
        buf_append(&b, "]", 1);
        Arena m;
        arena_init(&m, 0);
        ASSERT_OK(json_parse_packed(&m, b.data, b.len, &v, err, sizeof err));
        size_t packed_bytes = m.total;
        float got[N];
        ASSERT_OK(json_get_floats(v, got, N));
        ASSERT_TRUE(memcmp(got, want, sizeof got) == 0);
        arena_free(&m);
        arena_init(&m, 0);
        ASSERT_OK(json_parse(&m, b.data, b.len, &v, err, sizeof err));
        size_t node_bytes = m.total;
        arena_free(&m);
        buf_free(&b);
        printf("  %s form: %zu numbers in %zu bytes packed, %zu as nodes\n",
               form ? "short" : "js", (size_t)N, packed_bytes, node_bytes);
        ASSERT_LE(packed_bytes, (form ? 8 : 4) * N + 128);
        ASSERT_LE(24 * N, node_bytes);
    }
}

/* random_numeric_array fills v with an array of numbers like payloads and
 * vectors hold: floats, doubles, small integers, a mix, and now and then
 * an integer too large to pack. */
static void random_numeric_array(Arena *a, JsonValue *v)
{
    memset(v, 0, sizeof *v);
    v->type = JSON_ARRAY;
    v->len = 1 + (uint32_t)(rng_next() % 40);
    v->u.items = arena_alloc(a, v->len * sizeof(JsonValue));
    int mode = (int)(rng_next() % 5);
    for (uint32_t i = 0; i < v->len; i++) {
        JsonValue *x = &v->u.items[i];
        memset(x, 0, sizeof *x);
        x->type = JSON_NUMBER;
        int m = mode == 3 ? (int)(rng_next() % 3) : mode;
        if (mode == 4 && rng_next() % 8 == 0) m = 4;
        if (m == 0) {
            x->num_kind = JSON_NUM_DOUBLE;
            x->u.num = (double)(float)rng_unit();
        } else if (m == 1) {
            double d;
            do {
                uint64_t bits = rng_next();
                memcpy(&d, &bits, sizeof d);
            } while (!isfinite(d));
            x->num_kind = JSON_NUM_DOUBLE;
            x->u.num = d;
        } else if (m == 2) {
            static const int64_t edge[] = { 0, 1, -1, 9007199254740992ll, -9007199254740992ll };
            x->num_kind = JSON_NUM_INT;
            x->n.i = rng_next() % 4 ? (int64_t)(rng_next() % 2000001) - 1000000 : edge[rng_next() % 5];
            x->u.num = (double)x->n.i;
        } else {
            /* Beyond 2^53: the array must stay nodes. */
            uint64_t r = rng_next();
            if (r & 1) {
                x->num_kind = JSON_NUM_UINT;
                x->n.u = r | (1ull << 63);
                x->u.num = (double)x->n.u;
            } else {
                x->num_kind = JSON_NUM_INT;
                x->n.i = (int64_t)(9007199254740993ull + (r >> 12));
                x->u.num = (double)x->n.i;
            }
        }
    }
}

static void random_payload(Arena *a, JsonValue *v, int depth)
{
    if (depth < 4 && rng_next() % 3 == 0) {
        random_numeric_array(a, v);
        return;
    }
    if (depth < 4 && rng_next() % 2 == 0) {
        memset(v, 0, sizeof *v);
        int obj = (int)(rng_next() & 1);
        v->type = obj ? JSON_OBJECT : JSON_ARRAY;
        v->len = (uint32_t)(rng_next() % 5);
        if (obj) {
            v->u.members = arena_alloc(a, (v->len + 1) * sizeof(JsonMember));
            for (uint32_t i = 0; i < v->len; i++) {
                random_string(a, &v->u.members[i].key, &v->u.members[i].key_len);
                random_payload(a, &v->u.members[i].value, depth + 1);
            }
        } else {
            v->u.items = arena_alloc(a, (v->len + 1) * sizeof(JsonValue));
            for (uint32_t i = 0; i < v->len; i++) random_payload(a, &v->u.items[i], depth + 1);
        }
        return;
    }
    random_value(a, v, 6); /* a scalar */
}

/* should_pack says whether json_parse_packed must pack array v (from
 * json_parse: a double the writer prints without exponent, such as
 * 13217819627268254, reads back as an integer): non-empty, numbers only,
 * no integer beyond 2^53. */
static int should_pack(const JsonValue *v)
{
    if (v->len == 0) return 0;
    for (uint32_t i = 0; i < v->len; i++) {
        const JsonValue *x = &v->u.items[i];
        if (x->type != JSON_NUMBER || x->num_kind == JSON_NUM_UINT) return 0;
        if (x->num_kind == JSON_NUM_INT && (x->n.i > (1ll << 53) || x->n.i < -(1ll << 53))) return 0;
    }
    return 1;
}

/* check_packing walks the unpacked and the packed parse of one text
 * together and counts arrays whose packing is not what should_pack says. */
static int check_packing(const JsonValue *hand, const JsonValue *parsed, int *npacked)
{
    int bad = 0;
    if (hand->type == JSON_ARRAY && parsed->type == JSON_ARRAY) {
        int p = (parsed->flags & JSON_FLAG_PACKED) != 0;
        *npacked += p;
        if (p != should_pack(hand)) bad++;
        for (uint32_t i = 0; i < hand->len && i < parsed->len; i++) {
            JsonValue x = json_item(parsed, i);
            bad += check_packing(&hand->u.items[i], &x, npacked);
        }
    } else if (hand->type == JSON_OBJECT && parsed->type == JSON_OBJECT) {
        for (uint32_t i = 0; i < hand->len && i < parsed->len; i++)
            bad += check_packing(&hand->u.members[i].value, &parsed->u.members[i].value, npacked);
    }
    return bad;
}

/* Payload-like documents built by hand and written by the writer (the
 * reference text, from nodes as the DOM always held them): parsed packed
 * they write back byte for byte, equal the hand-built and the unpacked
 * DOM, and exactly the arrays that can be packed are. */
TEST(test_packed_random_documents)
{
    int bad = 0, npacked = 0;
    for (int k = 0; k < 3000 / NUM_SCALE; k++) {
        Arena a;
        arena_init(&a, 0);
        JsonValue dom;
        random_payload(&a, &dom, 0);
        char *ref = write_text(&dom);
        JsonValue *pv, *uv;
        char err[160];
        size_t len = strlen(ref);
        if (json_parse_packed(&a, ref, len, &pv, err, sizeof err) != 0 ||
            json_parse(&a, ref, len, &uv, err, sizeof err) != 0) {
            if (bad++ < 3) printf("  parse failed (%s) for %s\n", err, ref);
        } else {
            char *back = write_text(pv);
            if (strcmp(back, ref) != 0 && bad++ < 3) printf("  wrote\n  %s\n  as\n  %s\n", ref, back);
            free(back);
            if (!(json_equal(&dom, pv) && json_equal(pv, &dom) && json_equal(pv, uv) &&
                  json_equal(uv, pv)) && bad++ < 3)
                printf("  not equal: %s\n", ref);
            int wrong = check_packing(uv, pv, &npacked);
            if (wrong && bad++ < 3) printf("  %d arrays packed wrongly in %s\n", wrong, ref);
        }
        free(ref);
        arena_free(&a);
    }
    ASSERT_EQ_INT(bad, 0);
    ASSERT_TRUE(npacked > 100); /* the test did exercise packing */
}

/* same_dom compares a json_parse DOM with a json_parse_packed one node by
 * node: kinds, exact values, the float of every array, lengths. */
static int same_dom(const JsonValue *u, const JsonValue *p)
{
    if (u->type != p->type || u->len != p->len) return 0;
    if (u->type == JSON_NUMBER)
        return u->num_kind == p->num_kind && memcmp(&u->u.num, &p->u.num, sizeof(double)) == 0 &&
               (u->num_kind == JSON_NUM_DOUBLE || u->n.u == p->n.u);
    if (u->type == JSON_OBJECT) {
        for (uint32_t i = 0; i < u->len; i++)
            if (!same_dom(&u->u.members[i].value, &p->u.members[i].value)) return 0;
        return 1;
    }
    if (u->type != JSON_ARRAY) return 1;
    float fu[64], fp[64];
    if (u->len <= 64) {
        int ru = json_get_floats(u, fu, u->len), rp = json_get_floats(p, fp, p->len);
        if (ru != rp || (ru == 0 && memcmp(fu, fp, u->len * sizeof(float)) != 0)) return 0;
    }
    for (uint32_t i = 0; i < u->len; i++) {
        JsonValue x = json_item(u, i), y = json_item(p, i);
        if (!same_dom(&x, &y)) return 0;
    }
    return 1;
}

/* mutate applies a few random edits to text: bytes dropped, replaced, or
 * JSON tokens inserted, so the parse meets every kind of array item and
 * error at every point of a packed array. */
static void mutate(Buf *b)
{
    static const char *const tokens[] = { "[", "]", ",", "-", ".", "e", "E+", "0", "7", "1e400",
                                          "9007199254740993", "18446744073709551616", "\"x\"",
                                          "null", "true", "{", "}", ":", "{\"k\":", "0.5", "-0",
                                          "16777217.0", "1e-320", "[1,2]", "[]" };
    int edits = (int)(rng_next() % 4);
    for (int e = 0; e < edits && b->len; e++) {
        size_t at = (size_t)(rng_next() % b->len);
        int kind = (int)(rng_next() % 3);
        if (kind == 0) {
            memmove(b->data + at, b->data + at + 1, b->len - at);
            b->len--;
        } else if (kind == 1) {
            b->data[at] = "[],-.e0123456789\"{}: "[rng_next() % 22];
        } else {
            const char *t = tokens[rng_next() % ARRAY_LEN(tokens)];
            size_t n = strlen(t);
            buf_reserve(b, n);
            memmove(b->data + at + n, b->data + at, b->len - at + 1);
            memcpy(b->data + at, t, n);
            b->len += n;
        }
    }
}

/* The two parse modes agree on everything, valid input or not: the same
 * error text, or DOMs with the same values that write the same text. The
 * inputs are the fuzz corpus' shapes: random payload documents, mutated. */
TEST(test_packed_matches_unpacked)
{
    int bad = 0, errors = 0;
    for (int k = 0; k < 20000 / NUM_SCALE; k++) {
        Arena a;
        arena_init(&a, 0);
        JsonValue dom;
        random_payload(&a, &dom, 0);
        char *text = write_text(&dom);
        Buf b;
        buf_init(&b);
        buf_append_str(&b, text);
        free(text);
        mutate(&b);
        JsonValue *u = NULL, *p = NULL;
        char eu[160], ep[160];
        int ru = json_parse(&a, b.data, b.len, &u, eu, sizeof eu);
        int rp = json_parse_packed(&a, b.data, b.len, &p, ep, sizeof ep);
        int ok = ru == rp;
        if (ok && ru) {
            errors++;
            ok = strcmp(eu, ep) == 0 && p == NULL;
        } else if (ok) {
            char *tu = write_text(u), *tp = write_text(p);
            ok = strcmp(tu, tp) == 0 && json_equal(u, p) && json_equal(p, u) && same_dom(u, p);
            free(tu);
            free(tp);
        }
        if (!ok && bad++ < 3)
            printf("  modes differ (rc %d \"%s\" / %d \"%s\") on %s\n", ru, ru ? eu : "", rp,
                   rp ? ep : "", b.data);
        buf_free(&b);
        arena_free(&a);
    }
    ASSERT_EQ_INT(bad, 0);
    ASSERT_TRUE(errors > 1000); /* mutations did produce invalid input */
}

/* A vector upsert body: a 1 MB array of numbers must parse quickly. */
TEST(test_big_array_speed)
{
    Buf b;
    buf_init(&b);
    JsonWriter w;
    jw_init(&w, &b);
    jw_array_begin(&w);
    size_t n = 0;
    while (b.len < 1000000) {
        jw_float(&w, (float)((double)(rng_next() >> 11) / 9007199254740992.0 * 2.0 - 1.0));
        n++;
    }
    jw_array_end(&w);
    float *want = xmalloc(n * sizeof(float));
    float *got = xmalloc(n * sizeof(float));
    /* The reference values: strtof of each written number. */
    const char *p = b.data + 1;
    for (size_t i = 0; i < n; i++) {
        char *end;
        want[i] = strtof(p, &end);
        p = end + 1;
    }
    Arena a;
    arena_init(&a, 0);
    JsonValue *v;
    char err[128];
    double t0 = now_seconds();
    int rc = json_parse(&a, b.data, b.len, &v, err, sizeof err);
    double t1 = now_seconds();
    int frc = rc == 0 ? json_get_floats(v, got, n) : rc;
    double t2 = now_seconds();
    printf("  parsed %zu numbers (%zu bytes) in %.1f ms (%.0f MB/s), to floats in %.1f ms\n", n,
           b.len, (t1 - t0) * 1e3, (double)b.len / 1e6 / (t1 - t0), (t2 - t1) * 1e3);
    int same = frc == 0 && memcmp(want, got, n * sizeof(float)) == 0;
    free(want);
    free(got);
    arena_free(&a);
    buf_free(&b);
    ASSERT_OK(rc);
    ASSERT_OK(frc);
    ASSERT_TRUE(same);
    /* About 20 ms in a release build; the bound leaves room for sanitizer
     * builds on a loaded two-core machine. */
    ASSERT_LE(t1 - t0, 2.0);
}

int main(void)
{
    RUN(test_parse_basic);
    RUN(test_accessor_types);
    RUN(test_integers_exact);
    RUN(test_depth_limit);
    RUN(test_invalid_inputs);
    RUN(test_strings);
    RUN(test_duplicates_kept);
    RUN(test_writer_escaping);
    RUN(test_writer_structure);
    RUN(test_float_known);
    RUN(test_float_roundtrip_random);
    RUN(test_floats_through_parser);
    RUN(test_numbers_match_strtod);
    RUN(test_equal);
    RUN(test_random_dom_roundtrip);
    RUN(test_numbers_js_floats);
    RUN(test_numbers_short_floats);
    RUN(test_numbers_random_doubles);
    RUN(test_numbers_random_digits);
    RUN(test_numbers_float_ties);
    RUN(test_numbers_double_ties);
    RUN(test_numbers_integers);
    RUN(test_number_errors);
    RUN(test_packed_layout);
    RUN(test_packed_random_documents);
    RUN(test_packed_matches_unpacked);
    RUN(test_big_array_speed);
    return harness_report(__FILE__);
}
