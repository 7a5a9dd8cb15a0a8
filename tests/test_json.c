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
    RUN(test_big_array_speed);
    return harness_report(__FILE__);
}
