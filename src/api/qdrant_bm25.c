/*
 * qdrant_bm25.c - Qdrant's local BM25 model on the wire (see
 * qdrant_bm25.h): the model name, the options read with Qdrant's error
 * wording, and the sparse vector handed to the routes.
 *
 * Qdrant deserializes the options map into Bm25Config with serde
 * (InferenceInput::parse_bm25_config) and answers a failure with
 * StorageError::bad_input(format!("Invalid BM25 config: {err:#?}")):
 * serde_json's Debug of its error, Error("<message>", line: 0, column:
 * 0). k, b, avg_len and tokenizer are read from serde_json Values
 * ("expected f64", "expected string or map" for an enum); the other
 * fields are flattened (TextPreprocessingConfig), read through serde's
 * Content, where null is None and the untagged enums (stopwords,
 * stemmer) say only that no variant matched. Qdrant visits the map in
 * hash order, so which of two bad fields it names is arbitrary; here the
 * first in Bm25Config's order.
 */
#include "api/qdrant_bm25.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/util.h"
#include "index/bm25.h"
#include "index/stem.h"
#include "index/textproc.h"

/* Qdrant's default language (bm25.rs, DEFAULT_LANGUAGE). */
#define BM25_DEFAULT_LANGUAGE "english"
/* Longest serde message we build (values in it are cut to fit). */
#define BM25_MAX_MESSAGE 512

/* ---- the model ---- */

/* ascii_ieq: a equals b[0..) ignoring ASCII case (Rust's to_lowercase
 * maps no other character onto the letters of the model names). */
static int ascii_ieq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = *a >= 'A' && *a <= 'Z' ? (char)(*a + 32) : *a;
        if (x != *b) return 0;
    }
    return !*a && !*b;
}

int qdrant_bm25_model(const JsonValue *v)
{
    const char *m = json_as_str(json_get(v, "model"));
    /* LocalModelName::from_str: the lowercased name. */
    return m && (ascii_ieq(m, "qdrant/bm25") || ascii_ieq(m, "bm25"));
}

/* ---- serde's wording ---- */

/* debug_str appends s[0..n) as Rust's Debug formats a str, without the
 * quotes: \" \\ \n \r \t \0 escaped, other control characters as
 * \u{hex}. */
static void debug_str(Buf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char e[16];
        switch (c) {
        case '"': buf_append(b, "\\\"", 2); break;
        case '\\': buf_append(b, "\\\\", 2); break;
        case '\n': buf_append(b, "\\n", 2); break;
        case '\r': buf_append(b, "\\r", 2); break;
        case '\t': buf_append(b, "\\t", 2); break;
        case '\0': buf_append(b, "\\0", 2); break;
        default:
            if (c < 0x20 || c == 0x7f) {
                int w = snprintf(e, sizeof e, "\\u{%x}", c);
                buf_append(b, e, (size_t)w);
            } else {
                buf_append(b, (const char *)&c, 1);
            }
        }
    }
}

/* rust_float writes d as serde's Unexpected::Float shows it: Rust's
 * Display of f64 (the shortest digits that read back as d, positional,
 * never an exponent) with ".0" added when it has no point. */
static void rust_float(double d, char *out, size_t n)
{
    if (!isfinite(d)) {
        snprintf(out, n, "%s", isnan(d) ? "NaN" : d < 0 ? "-inf" : "inf");
        return;
    }
    char e[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(e, sizeof e, "%.*e", prec - 1, d);
        if (strtod(e, NULL) == d) break;
    }
    /* e: [-]D[.DDD]e[+-]XX */
    const char *p = e;
    int neg = *p == '-';
    if (neg) p++;
    char digits[24];
    size_t nd = 0;
    for (; *p && *p != 'e'; p++)
        if (*p != '.' && nd + 1 < sizeof digits) digits[nd++] = *p;
    int exp = *p == 'e' ? atoi(p + 1) : 0;
    while (nd > 1 && digits[nd - 1] == '0') nd--;
    Buf b;
    buf_init(&b);
    if (neg) buf_append(&b, "-", 1);
    if (exp < 0) {
        buf_append(&b, "0.", 2);
        for (int i = -1; i > exp; i--) buf_append(&b, "0", 1);
        buf_append(&b, digits, nd);
    } else {
        size_t whole = (size_t)exp + 1;
        for (size_t i = 0; i < whole; i++) buf_append(&b, i < nd ? &digits[i] : "0", 1);
        if (nd > whole) {
            buf_append(&b, ".", 1);
            buf_append(&b, digits + whole, nd - whole);
        } else {
            buf_append(&b, ".0", 2);
        }
    }
    snprintf(out, n, "%.*s", (int)b.len, b.data);
    buf_free(&b);
}

/* unexpected describes v as serde's Unexpected does, for "invalid type"
 * messages: `string "x"`, `integer `5``, `floating point `1.5``,
 * `boolean `true``, `sequence`, `map`, and null as serde_json's Value
 * shows it, `unit value`. */
static void unexpected(const JsonValue *v, char *out, size_t n)
{
    switch (v->type) {
    case JSON_NULL: snprintf(out, n, "unit value"); break;
    case JSON_BOOL: snprintf(out, n, "boolean `%s`", v->u.boolean ? "true" : "false"); break;
    case JSON_NUMBER:
        if (v->num_kind == JSON_NUM_INT) {
            snprintf(out, n, "integer `%lld`", (long long)v->n.i);
        } else if (v->num_kind == JSON_NUM_UINT) {
            snprintf(out, n, "integer `%llu`", (unsigned long long)v->n.u);
        } else {
            char f[400];
            rust_float(v->u.num, f, sizeof f);
            Buf b;
            buf_init(&b);
            buf_append_str(&b, "floating point `");
            buf_append_str(&b, f);
            buf_append_str(&b, "`");
            snprintf(out, n, "%.*s", (int)b.len, b.data);
            buf_free(&b);
        }
        break;
    case JSON_STRING: {
        Buf b;
        buf_init(&b);
        buf_append(&b, "string \"", 8);
        debug_str(&b, v->u.str, v->len > 200 ? 200 : v->len);
        buf_append(&b, "\"", 1);
        snprintf(out, n, "%.*s", (int)b.len, b.data);
        buf_free(&b);
        break;
    }
    case JSON_ARRAY: snprintf(out, n, "sequence"); break;
    default: snprintf(out, n, "map"); break;
    }
}

/* bad_config fails with Qdrant's wording for serde's message fmt. */
static int bad_config(ApiJob *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad_config(ApiJob *j, const char *fmt, ...)
{
    char msg[BM25_MAX_MESSAGE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    Buf b;
    buf_init(&b);
    debug_str(&b, msg, strlen(msg));
    api_fail(j, QERR_BAD_INPUT, "Invalid BM25 config: Error(\"%.*s\", line: 0, column: 0)", (int)b.len,
             b.data);
    buf_free(&b);
    return -1;
}

static int invalid_type(ApiJob *j, const JsonValue *v, const char *expected)
{
    char d[BM25_MAX_MESSAGE / 2];
    unexpected(v, d, sizeof d);
    return bad_config(j, "invalid type: %s, expected %s", d, expected);
}

/* ---- the options ---- */

/* present: the member key of o, NULL when absent or (for an Option of the
 * flattened part) null. */
static const JsonValue *present(const JsonValue *o, const char *key)
{
    const JsonValue *x = o ? json_get(o, key) : NULL;
    return x && x->type != JSON_NULL ? x : NULL;
}

/* get_f64 reads a NotNan<f64> (k, b, avg_len): any JSON number. */
static int get_f64(ApiJob *j, const JsonValue *o, const char *key, double *out)
{
    const JsonValue *x = o ? json_get(o, key) : NULL;
    if (!x) return 0;
    if (x->type != JSON_NUMBER) return invalid_type(j, x, "f64");
    *out = x->u.num;
    return 0;
}

static int get_tokenizer(ApiJob *j, const JsonValue *o, int *out)
{
    const JsonValue *x = o ? json_get(o, "tokenizer") : NULL;
    if (!x) return 0;
    const char *s = NULL;
    if (x->type == JSON_STRING) {
        s = x->u.str;
    } else if (x->type == JSON_OBJECT) {
        /* serde_json's enum from a map: {"variant": null}. */
        if (x->len != 1) return bad_config(j, "invalid value: map, expected map with a single key");
        if (x->u.members[0].value.type != JSON_NULL)
            return invalid_type(j, &x->u.members[0].value, "unit variant");
        s = x->u.members[0].key;
    } else {
        return invalid_type(j, x, "string or map");
    }
    if (!strcmp(s, "word")) *out = BM25_TOKENIZER_WORD;
    else if (!strcmp(s, "whitespace")) *out = BM25_TOKENIZER_WHITESPACE;
    else if (!strcmp(s, "prefix")) *out = BM25_TOKENIZER_PREFIX;
    else if (!strcmp(s, "multilingual"))
        return api_fail(j, QERR_UNSUPPORTED,
                        "the multilingual tokenizer of qdrant/bm25 (word, whitespace and prefix are served)");
    else
        return bad_config(j, "unknown variant `%.200s`, expected one of `prefix`, `whitespace`, `word`, `multilingual`",
                          s);
    return 0;
}

static int get_bool(ApiJob *j, const JsonValue *o, const char *key, int *out)
{
    const JsonValue *x = present(o, key);
    if (!x) return 0;
    if (x->type != JSON_BOOL) return invalid_type(j, x, "a boolean");
    *out = x->u.boolean;
    return 0;
}

/* get_usize reads an Option<usize>; *given tells whether it was. */
static int get_usize(ApiJob *j, const JsonValue *o, const char *key, size_t *out, int *given)
{
    const JsonValue *x = present(o, key);
    *given = 0;
    if (!x) return 0;
    if (x->type == JSON_NUMBER && x->num_kind == JSON_NUM_INT && x->n.i < 0)
        return bad_config(j, "invalid value: integer `%lld`, expected usize", (long long)x->n.i);
    if (x->type != JSON_NUMBER || x->num_kind == JSON_NUM_DOUBLE) return invalid_type(j, x, "usize");
    uint64_t u = x->num_kind == JSON_NUM_INT ? (uint64_t)x->n.i : x->n.u;
    *out = u > SIZE_MAX ? SIZE_MAX : (size_t)u;
    *given = 1;
    return 0;
}

/* The stopwords the options name. */
typedef struct {
    uint64_t langs;       /* bit i: text_tables.h's language i */
    const char **custom;  /* in the request arena */
    size_t n_custom;
} Stopwords;

/* parse_languages reads a Set's "languages" (null or a list of language
 * names): 0, or -1 when it does not parse. */
static int parse_languages(const JsonValue *x, uint64_t *langs)
{
    if (!x || x->type == JSON_NULL) return 0;
    if (x->type != JSON_ARRAY) return -1;
    for (uint32_t i = 0; i < x->len; i++) {
        JsonValue it = json_item(x, i);
        int l = text_language_parse(json_as_str(&it));
        if (l < 0) return -1;
        *langs |= 1ull << l;
    }
    return 0;
}

static int parse_custom(ApiJob *j, const JsonValue *x, Stopwords *s)
{
    if (!x || x->type == JSON_NULL) return 0;
    if (x->type != JSON_ARRAY) return -1;
    s->custom = arena_alloc(api_arena(j), (x->len ? x->len : 1) * sizeof *s->custom);
    for (uint32_t i = 0; i < x->len; i++) {
        JsonValue it = json_item(x, i);
        if (it.type != JSON_STRING) return -1;
        s->custom[s->n_custom++] = it.u.str;
    }
    return 0;
}

/* parse_stopwords reads StopwordsInterface (untagged): a language, or a
 * StopwordsSet from a map {"languages", "custom"} or a sequence
 * [languages, custom]. */
static int parse_stopwords(ApiJob *j, const JsonValue *x, Stopwords *s)
{
    int bad = 0;
    if (x->type == JSON_STRING) {
        int l = text_language_parse(x->u.str);
        if (l >= 0) s->langs |= 1ull << l;
        else bad = 1;
    } else if (x->type == JSON_OBJECT) {
        bad = parse_languages(json_get(x, "languages"), &s->langs) ||
              parse_custom(j, json_get(x, "custom"), s);
    } else if (x->type == JSON_ARRAY && x->len <= 2) {
        JsonValue l = json_item(x, 0), c = json_item(x, 1);
        bad = parse_languages(x->len > 0 ? &l : NULL, &s->langs) ||
              parse_custom(j, x->len > 1 ? &c : NULL, s);
    } else {
        bad = 1;
    }
    if (bad) return bad_config(j, "data did not match any variant of untagged enum StopwordsInterface");
    return 0;
}

/* parse_stemmer reads StemmingAlgorithm (untagged): SnowballParams from a
 * map {"type": "snowball", "language"} or a sequence [type, language]. */
static int parse_stemmer(ApiJob *j, const JsonValue *x, int *lang)
{
    JsonValue t = { 0 }, l = { 0 };
    if (x->type == JSON_OBJECT) {
        const JsonValue *a = json_get(x, "type"), *b = json_get(x, "language");
        if (a) t = *a;
        if (b) l = *b;
    } else if (x->type == JSON_ARRAY && x->len == 2) {
        t = json_item(x, 0);
        l = json_item(x, 1);
    }
    const char *type = json_as_str(&t);
    int lg = stem_language_parse(json_as_str(&l));
    if (!type || strcmp(type, "snowball") || lg < 0)
        return bad_config(j, "data did not match any variant of untagged enum StemmingAlgorithm");
    *lang = lg;
    return 0;
}

/* Stopword sets of one language, made once and kept for the process
 * (the default options' English set would otherwise be rebuilt for
 * every document): [lowercase][language]. */
static pthread_mutex_t sets_lock = PTHREAD_MUTEX_INITIALIZER;
static TextStopSet *lang_sets[2][TEXT_LANG_COUNT];

static const TextStopSet *language_set(int lang, int lowercase)
{
    pthread_mutex_lock(&sets_lock);
    TextStopSet **slot = &lang_sets[!!lowercase][lang];
    if (!*slot) *slot = text_stopset_new(1ull << lang, NULL, 0, lowercase);
    const TextStopSet *s = *slot;
    pthread_mutex_unlock(&sets_lock);
    return s;
}

/* parse_options reads Bm25Config from the options object o (NULL: the
 * defaults) into p; *own is a stopword set made for this call (free it),
 * NULL when p->stops is shared or absent. */
static int parse_options(ApiJob *j, const JsonValue *o, Bm25Params *p, TextStopSet **own)
{
    *p = bm25_params_default();
    *own = NULL;
    if (get_f64(j, o, "k", &p->k) || get_f64(j, o, "b", &p->b) || get_f64(j, o, "avg_len", &p->avg_len) ||
        get_tokenizer(j, o, &p->tokenizer))
        return -1;
    const char *language = BM25_DEFAULT_LANGUAGE;
    const JsonValue *x = present(o, "language");
    if (x) {
        if (x->type != JSON_STRING) return invalid_type(j, x, "a string");
        language = x->u.str;
    }
    if (get_bool(j, o, "lowercase", &p->lowercase) || get_bool(j, o, "ascii_folding", &p->ascii_folding))
        return -1;
    Stopwords sw = { 0 };
    const JsonValue *stop = present(o, "stopwords");
    if (stop && parse_stopwords(j, stop, &sw)) return -1;
    const JsonValue *stem = present(o, "stemmer");
    if (stem) {
        if (parse_stemmer(j, stem, &p->stem_lang)) return -1;
    } else {
        /* Stemmer::try_default_from_language: none for an unknown name. */
        p->stem_lang = stem_language_parse(language);
    }
    int given;
    size_t n;
    if (get_usize(j, o, "min_token_len", &n, &given)) return -1;
    if (given) p->min_token_len = n;
    if (get_usize(j, o, "max_token_len", &n, &given)) return -1;
    if (given) p->max_token_len = n;
    if (!stop) {
        /* The language's stopwords, when it names one. */
        int l = text_language_parse(language);
        if (l >= 0) p->stops = language_set(l, p->lowercase);
    } else if (sw.n_custom) {
        *own = text_stopset_new(sw.langs, sw.custom, sw.n_custom, p->lowercase);
        p->stops = *own;
    } else if (sw.langs && !(sw.langs & (sw.langs - 1))) {
        p->stops = language_set(__builtin_ctzll(sw.langs), p->lowercase);
    } else if (sw.langs) {
        *own = text_stopset_new(sw.langs, NULL, 0, p->lowercase);
        p->stops = *own;
    }
    return 0;
}

/* ---- embedding ---- */

int qdrant_bm25_embed(ApiJob *j, const JsonValue *v, const char *what,
                      const CollectionSparseVector **out)
{
    const char *model = json_as_str(json_get(v, "model"));
    const JsonValue *text = json_get(v, "text");
    /* local_model.rs: only a Document's text is BM25's input. */
    if (!text) return api_fail(j, QERR_BAD_INPUT, "Only text input is supported for %s.", model);
    if (text->type != JSON_STRING)
        return api_fail(j, QERR_BAD_REQUEST, "%s: \"text\" must be a string", what);
    const JsonValue *o = json_get(v, "options");
    if (o && o->type == JSON_NULL) o = NULL;
    if (o && o->type != JSON_OBJECT)
        return api_fail(j, QERR_FORMAT, "data did not match any variant of untagged enum DocumentOptions at `%s.options`",
                        what);
    Bm25Params p;
    TextStopSet *own;
    if (parse_options(j, o, &p, &own)) return -1;
    Bm25Vector bv;
    int query = API_KIND(j->route->kind) != API_WRITE;
    bm25_embed(&p, text->u.str, text->len, query, api_arena(j), &bv);
    text_stopset_free(own);
    if (bv.n > COLLECTION_MAX_SPARSE_LEN)
        return api_fail(j, QERR_BAD_INPUT, "a sparse vector has at most %u entries, `%s` has %zu",
                        COLLECTION_MAX_SPARSE_LEN, what, bv.n);
    CollectionSparseVector *sv = arena_alloc(api_arena(j), sizeof *sv);
    *sv = (CollectionSparseVector){ bv.indices, bv.values, bv.n };
    *out = sv;
    return 0;
}
