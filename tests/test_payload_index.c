/*
 * test_payload_index.c - payload indexes against references computed
 * here.
 *
 *   - The index structure alone: random inserts, updates and deletes on
 *     a float, a keyword and a datetime index (enough to force delta
 *     merges and tombstone compactions), checked against a brute-force
 *     model of every node's values: range node sets, ascending and
 *     descending order walks, term counts, points counts.
 *   - The tokenizer on hand-tokenized strings.
 *   - Equivalence: one random data set (mixed types, arrays, nulls,
 *     nested objects) in two collections, one with indexes on every field
 *     and one without; random filters (must / should / must_not /
 *     min_should trees of match, range, values_count, is_empty, is_null,
 *     has_id, nested) give the same count, scroll pages and exact search
 *     on both, and the same as filter_match over each stored payload
 *     (brute force); HNSW-planned searches return only matching points
 *     with their exact scores. Repeated after random payload writes and
 *     deletes, and after closing and reopening (indexes rebuilt at open).
 *   - order_by against a sort of every (value, id) pair.
 *   - Text match with a text index against a hand-written token check.
 *   - Persistence of definitions, the payload schema, delete and replace.
 */
#include <ctype.h>
#include <ftw.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "base/log.h"
#include "base/util.h"
#include "harness.h"
#include "index/filter.h"
#include "index/payload_index.h"
#include "index/stem.h"
#include "index/textproc.h"
#include "store/collection.h"

#define N_POINTS 1500
#define DIM 8
#define N_FILTERS 100

static uint64_t rng_state = 0x2545F4914F6CDD1DULL;
static uint64_t rng_next(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}
static int rnd(int n) { return (int)(rng_next() % (uint64_t)n); }
static double rng_unit(void) { return (double)(rng_next() >> 11) * (1.0 / 9007199254740992.0); }

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}
static void rm_rf(const char *p) { nftw(p, rm_cb, 16, FTW_DEPTH | FTW_PHYS); }

static int cmp_id(const void *a, const void *b) { return point_id_cmp(a, b); }

static JsonValue *parse(Arena *a, const char *text)
{
    JsonValue *v = NULL;
    char err[128];
    if (json_parse(a, text, strlen(text), &v, err, sizeof err) != 0) {
        printf("bad test JSON %s: %s\n", text, err);
        abort();
    }
    return v;
}

/* ---- 1. the structure alone ---- */

#define S_NODES 1500
#define S_OPS 12000

/* The model: each node's float values (at most 3) or none. */
static double s_vals[S_NODES][3];
static int s_n[S_NODES];

typedef struct {
    double v;
    uint32_t node;
} VN;

static int cmp_vn(const void *pa, const void *pb)
{
    const VN *a = pa, *b = pb;
    if (a->v != b->v) return a->v < b->v ? -1 : 1;
    return a->node < b->node ? -1 : a->node > b->node;
}

typedef struct {
    VN *got;
    size_t n, cap;
} Walk;

static int walk_take(void *ctx, double value, uint32_t node)
{
    Walk *w = ctx;
    if (w->n == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 1024;
        w->got = realloc(w->got, w->cap * sizeof *w->got);
    }
    w->got[w->n++] = (VN){ value, node };
    return 0;
}

TEST(test_index_structure_random)
{
    PayloadIndex *ix;
    ASSERT_OK(payload_index_new("p", PAYLOAD_INDEX_FLOAT, NULL, &ix));
    Arena a;
    arena_init(&a, 0);
    int failed = 0;
    for (int op = 0; op < S_OPS && !failed; op++) {
        uint32_t node = (uint32_t)rnd(S_NODES);
        char text[160];
        int k = rnd(4);
        if (rnd(10) == 0) k = -1; /* delete */
        if (k < 0) {
            payload_index_set(ix, node, NULL);
            s_n[node] = 0;
        } else {
            /* Values on a coarse grid so that ties (equal values on
             * several nodes and within one node) are common. */
            double v[3];
            for (int i = 0; i < k; i++) v[i] = (rnd(200) - 100) / 4.0;
            if (k == 0) snprintf(text, sizeof text, "{\"p\":null}");
            else if (k == 1) snprintf(text, sizeof text, "{\"p\":%.2f}", v[0]);
            else if (k == 2) snprintf(text, sizeof text, "{\"p\":[%.2f,%.2f]}", v[0], v[1]);
            else snprintf(text, sizeof text, "{\"p\":[%.2f,\"x\",%.2f,%.2f]}", v[0], v[1], v[2]);
            payload_index_set(ix, node, parse(&a, text));
            s_n[node] = k;
            for (int i = 0; i < k; i++) s_vals[node][i] = v[i];
        }
        if (op % 997 != 0 && op != S_OPS - 1) continue;
        /* Model: distinct (value, node) pairs; -0.0 is 0.0. */
        VN *all = malloc(S_NODES * 3 * sizeof *all);
        size_t n = 0;
        uint64_t points = 0;
        for (uint32_t nd = 0; nd < S_NODES; nd++) {
            points += s_n[nd] > 0;
            for (int i = 0; i < s_n[nd]; i++) {
                int dup = 0;
                for (int j = 0; j < i; j++) dup |= s_vals[nd][j] == s_vals[nd][i];
                if (!dup) all[n++] = (VN){ s_vals[nd][i] == 0 ? 0.0 : s_vals[nd][i], nd };
            }
        }
        qsort(all, n, sizeof *all, cmp_vn);
        if (payload_index_points(ix) != points) {
            failed = 1;
            free(all);
            HARNESS_FAIL("points %llu, model %llu at op %d", (unsigned long long)payload_index_points(ix),
                         (unsigned long long)points, op);
        }
        /* Full walks, both directions. */
        for (int desc = 0; desc < 2 && !failed; desc++) {
            Walk w = { 0 };
            payload_index_order(ix, desc, NULL, walk_take, &w);
            if (w.n != n) failed = 1;
            for (size_t i = 0; i < n && !failed; i++) {
                const VN *m = &all[desc ? n - 1 - i : i];
                if (w.got[i].v != m->v || w.got[i].node != m->node) failed = 1;
            }
            free(w.got);
            if (failed) {
                free(all);
                HARNESS_FAIL("order walk (desc %d) differs from the model at op %d", desc, op);
            }
        }
        /* Random ranges: the node set and the count bound. */
        for (int q = 0; q < 20 && !failed; q++) {
            PayloadRange r = { 0 };
            r.has_lo = rnd(4) != 0;
            r.has_hi = rnd(4) != 0;
            r.lo_incl = rnd(2);
            r.hi_incl = rnd(2);
            r.lo = (rnd(200) - 100) / 4.0;
            r.hi = r.lo + rnd(80) / 4.0;
            PayloadNodeList got = { 0 };
            payload_index_range_nodes(ix, &r, &got);
            payload_node_list_sort_unique(&got);
            uint8_t want[S_NODES] = { 0 };
            size_t n_want = 0;
            for (size_t i = 0; i < n; i++) {
                double x = all[i].v;
                int in = (!r.has_lo || (r.lo_incl ? x >= r.lo : x > r.lo)) &&
                         (!r.has_hi || (r.hi_incl ? x <= r.hi : x < r.hi));
                if (in && !want[all[i].node]) {
                    want[all[i].node] = 1;
                    n_want++;
                }
            }
            if (got.n != n_want) failed = 1;
            for (size_t i = 0; i < got.n && !failed; i++) failed = !want[got.nodes[i]];
            if (payload_index_range_count(ix, &r) < n_want) failed = 1;
            payload_node_list_free(&got);
            if (failed) {
                free(all);
                HARNESS_FAIL("range [%g,%g] (%d%d%d%d) wrong at op %d", r.lo, r.hi, r.has_lo, r.lo_incl,
                             r.has_hi, r.hi_incl, op);
            }
        }
        free(all);
        arena_free(&a);
        arena_init(&a, 0);
    }
    arena_free(&a);
    payload_index_free(ix);
}

TEST(test_index_terms_and_shapes)
{
    PayloadIndex *ix;
    ASSERT_OK(payload_index_new("city", PAYLOAD_INDEX_KEYWORD, NULL, &ix));
    Arena a;
    arena_init(&a, 0);
    payload_index_set(ix, 0, parse(&a, "{\"city\":\"Berlin\"}"));
    payload_index_set(ix, 1, parse(&a, "{\"city\":[\"Berlin\",\"London\",null,5]}"));
    payload_index_set(ix, 2, parse(&a, "{\"city\":null}"));
    payload_index_set(ix, 3, parse(&a, "{\"other\":1}"));
    payload_index_set(ix, 4, parse(&a, "{\"city\":[]}"));
    uint32_t berlin = payload_index_term(ix, "Berlin", 6), london = payload_index_term(ix, "London", 6);
    ASSERT_TRUE(berlin != PAYLOAD_NO_TERM && london != PAYLOAD_NO_TERM);
    ASSERT_EQ_U64(payload_index_term(ix, "Paris", 5), PAYLOAD_NO_TERM);
    ASSERT_EQ_U64(payload_index_term_count(ix, berlin), 2);
    ASSERT_EQ_U64(payload_index_term_count(ix, london), 1);
    ASSERT_EQ_U64(payload_index_points(ix), 2);
    PayloadValues pv;
    payload_index_values(ix, 1, &pv);
    ASSERT_EQ_INT(pv.n_shapes, 1);
    ASSERT_EQ_INT(pv.shapes[0] & PAYLOAD_SHAPE_COUNT_MASK, 4);
    ASSERT_TRUE(pv.shapes[0] & PAYLOAD_SHAPE_HAS_NULL);
    ASSERT_EQ_INT(pv.n_vals, 2);
    ASSERT_EQ_INT(pv.n_other, 1); /* the 5; null is not "other" */
    payload_index_values(ix, 2, &pv);
    ASSERT_EQ_INT(pv.n_shapes, 1);
    ASSERT_TRUE(pv.shapes[0] & PAYLOAD_SHAPE_NULL);
    payload_index_values(ix, 3, &pv);
    ASSERT_EQ_INT(pv.n_shapes, 0);
    payload_index_values(ix, 4, &pv);
    ASSERT_EQ_INT(pv.shapes[0], 0);
    /* Rewrite node 1: Berlin goes, Paris comes; counts follow. */
    payload_index_set(ix, 1, parse(&a, "{\"city\":[\"Paris\",\"London\"]}"));
    ASSERT_EQ_U64(payload_index_term_count(ix, berlin), 1);
    ASSERT_EQ_U64(payload_index_term_count(ix, payload_index_term(ix, "Paris", 5)), 1);
    PayloadNodeList l = { 0 };
    payload_index_term_nodes(ix, london, &l);
    ASSERT_EQ_INT(l.n, 1);
    ASSERT_EQ_INT(l.nodes[0], 1);
    payload_node_list_free(&l);
    payload_index_set(ix, 0, NULL);
    ASSERT_EQ_U64(payload_index_term_count(ix, berlin), 0);
    ASSERT_EQ_U64(payload_index_points(ix), 1);
    payload_index_free(ix);

    /* Qdrant's test_boolean_index: 7 points have a bool. */
    ASSERT_OK(payload_index_new("b", PAYLOAD_INDEX_BOOL, NULL, &ix));
    const char *docs[] = { "{\"b\":false}", "{\"b\":false}", "{\"b\":false}", "{\"b\":false}",
                           "{\"b\":[true,false]}", "{\"b\":true}", "{\"b\":true}", "{\"b\":\"true\"}" };
    for (uint32_t i = 0; i < 8; i++) payload_index_set(ix, i, parse(&a, docs[i]));
    ASSERT_EQ_U64(payload_index_points(ix), 7);
    ASSERT_EQ_U64(payload_index_term_count(ix, 1), 3);
    ASSERT_EQ_U64(payload_index_term_count(ix, 0), 5);
    payload_index_free(ix);

    /* Integer counts integers only; float every number. */
    PayloadIndex *ii, *fi;
    ASSERT_OK(payload_index_new("n", PAYLOAD_INDEX_INTEGER, NULL, &ii));
    ASSERT_OK(payload_index_new("n", PAYLOAD_INDEX_FLOAT, NULL, &fi));
    const char *nums[] = { "{\"n\":1}", "{\"n\":1.5}", "{\"n\":[2.5,3]}", "{\"n\":\"4\"}" };
    for (uint32_t i = 0; i < 4; i++) {
        payload_index_set(ii, i, parse(&a, nums[i]));
        payload_index_set(fi, i, parse(&a, nums[i]));
    }
    ASSERT_EQ_U64(payload_index_points(ii), 2);
    ASSERT_EQ_U64(payload_index_points(fi), 3);
    payload_index_free(ii);
    payload_index_free(fi);

    /* uuid: exact strings, points only for UUIDs. */
    ASSERT_OK(payload_index_new("u", PAYLOAD_INDEX_UUID, NULL, &ix));
    payload_index_set(ix, 0, parse(&a, "{\"u\":\"550e8400-e29b-41d4-a716-446655440000\"}"));
    payload_index_set(ix, 1, parse(&a, "{\"u\":\"not a uuid\"}"));
    ASSERT_EQ_U64(payload_index_points(ix), 1);
    ASSERT_TRUE(payload_index_term(ix, "not a uuid", 10) != PAYLOAD_NO_TERM);
    payload_index_free(ix);

    /* Bad paths are refused. */
    ASSERT_TRUE(payload_index_new("a..b", PAYLOAD_INDEX_KEYWORD, NULL, &ix) != 0);
    ASSERT_TRUE(payload_index_new("", PAYLOAD_INDEX_KEYWORD, NULL, &ix) != 0);
    arena_free(&a);
}

/* no_payload stands for a payload that must not be read. */
static const JsonValue *no_payload(void *ctx, uint32_t *mask)
{
    int *reads = ctx;
    *mask = 0;
    (*reads)++;
    return NULL;
}

/* Geo conditions bind to a geo index only, and are then answered from the
 * stored points without reading a payload; the answers are the ones
 * Qdrant's check_point gives for those points (hand-checked). */
TEST(test_geo_binding)
{
    PayloadIndex *ix[2];
    ASSERT_OK(payload_index_new("g", PAYLOAD_INDEX_GEO, NULL, &ix[0]));
    ASSERT_OK(payload_index_new("city", PAYLOAD_INDEX_KEYWORD, NULL, &ix[1]));
    Arena a;
    arena_init(&a, 0);
    static const char *const docs[] = {
        "{\"g\":{\"lon\":0.5,\"lat\":0.5}}",                            /* 0: in the box */
        "{\"g\":[{\"lon\":50,\"lat\":50},{\"lon\":5,\"lat\":5}]}",        /* 1: 5,5 is the center */
        "{\"g\":{\"lon\":1,\"lat\":0.5}}",                              /* 2: on the box edge */
        "{\"g\":{\"lon\":200,\"lat\":0}}",                              /* 3: out of range */
        "{\"g\":\"here\",\"city\":\"Berlin\"}",                             /* 4 */
    };
    for (uint32_t i = 0; i < ARRAY_LEN(docs); i++) {
        payload_index_set(ix[0], i, parse(&a, docs[i]));
        payload_index_set(ix[1], i, parse(&a, docs[i]));
    }
    ASSERT_EQ_U64(payload_index_points(ix[0]), 3);
    static const struct {
        const char *filter;
        int needs_payload;
        unsigned want; /* bit per node */
    } cases[] = {
        { "{\"must\":{\"key\":\"g\",\"geo_bounding_box\":{\"top_left\":{\"lon\":0,\"lat\":1},"
          "\"bottom_right\":{\"lon\":1,\"lat\":0}}}}", 0, 1u << 0 },
        { "{\"must\":{\"key\":\"g\",\"geo_radius\":{\"center\":{\"lon\":5,\"lat\":5},\"radius\":1}}}", 0, 1u << 1 },
        /* Below the diagonal y = x: node 2 is inside; node 0 lies on the
         * diagonal, a polygon's edge, so it is not. */
        { "{\"must_not\":{\"key\":\"g\",\"geo_polygon\":{\"exterior\":{\"points\":[{\"lon\":-1,\"lat\":-1},"
          "{\"lon\":2,\"lat\":-1},{\"lon\":2,\"lat\":2},{\"lon\":-1,\"lat\":-1}]}}}}", 0, 0x1f & ~(1u << 2) },
        /* A box across the antimeridian: the index holds no lon 200. */
        { "{\"must\":{\"key\":\"g\",\"geo_bounding_box\":{\"top_left\":{\"lon\":170,\"lat\":10},"
          "\"bottom_right\":{\"lon\":-170,\"lat\":-10}}}}", 0, 0 },
        /* Not a geo index, or a match beside: the payload answers. */
        { "{\"must\":{\"key\":\"city\",\"geo_radius\":{\"center\":{\"lon\":5,\"lat\":5},\"radius\":1}}}", 1, 0 },
        { "{\"must\":{\"key\":\"g\",\"match\":{\"value\":\"here\"},"
          "\"geo_radius\":{\"center\":{\"lon\":5,\"lat\":5},\"radius\":1}}}", 1, 0 },
    };
    for (size_t k = 0; k < ARRAY_LEN(cases); k++) {
        Filter *f;
        char err[256];
        ASSERT_OK(filter_compile(parse(&a, cases[k].filter), &f, err, sizeof err));
        filter_bind(f, ix, 2, 1);
        ASSERT_EQ_INT(filter_needs_payload(f), cases[k].needs_payload);
        if (!cases[k].needs_payload) {
            unsigned got = 0;
            int reads = 0;
            PointId id = point_id_num(0);
            for (uint32_t i = 0; i < ARRAY_LEN(docs); i++)
                if (filter_match_node(f, &id, i, no_payload, &reads)) got |= 1u << i;
            ASSERT_EQ_INT(reads, 0);
            ASSERT_EQ_INT(got, cases[k].want);
        }
        filter_free(f);
    }
    payload_index_free(ix[0]);
    payload_index_free(ix[1]);
    arena_free(&a);
}

/* ---- 2. tokenizer ---- */

typedef struct {
    char buf[512];
    size_t len;
} Toks;

static int tok_join(void *ctx, const char *t, size_t len)
{
    Toks *x = ctx;
    if (x->len) x->buf[x->len++] = '|';
    memcpy(x->buf + x->len, t, len);
    x->len += len;
    x->buf[x->len] = '\0';
    return 0;
}

static const char *tokens_of(const PayloadIndex *ix, const char *s, Toks *t)
{
    t->len = 0;
    t->buf[0] = '\0';
    payload_index_tokenize(ix, s, strlen(s), tok_join, t);
    return t->buf;
}

TEST(test_tokenizer)
{
    PayloadIndex *ix;
    Toks t;
    ASSERT_OK(payload_index_new("d", PAYLOAD_INDEX_TEXT, NULL, &ix));
    ASSERT_STR_EQ(tokens_of(ix, "Hello, World! it's 42-nd", &t), "hello|world|it|s|42|nd");
    /* Non-ASCII letters are word characters, capitals lowercased;
     * typographic punctuation splits. */
    ASSERT_STR_EQ(tokens_of(ix, "Ünïcode Straße—ÉCOLE «Москва»", &t), "ünïcode|straße|école|москва");
    ASSERT_STR_EQ(tokens_of(ix, "", &t), "");
    payload_index_free(ix);
    PayloadTextParams p = { .tokenizer = PAYLOAD_TOKENIZER_WORD, .lowercase = 0, .min_token_len = 2, .max_token_len = 5 };
    ASSERT_OK(payload_index_new("d", PAYLOAD_INDEX_TEXT, &p, &ix));
    /* min 2 drops "a", max 5 drops "abcdef"; no lowercasing. */
    ASSERT_STR_EQ(tokens_of(ix, "a Bc abcdef xyz", &t), "Bc|xyz");
    payload_index_free(ix);
    PayloadTextParams w = { .tokenizer = PAYLOAD_TOKENIZER_WHITESPACE, .lowercase = 1 };
    ASSERT_OK(payload_index_new("d", PAYLOAD_INDEX_TEXT, &w, &ix));
    ASSERT_STR_EQ(tokens_of(ix, "  New-York, USA\tok ", &t), "new-york,|usa|ok");
    payload_index_free(ix);
}

static const char *query_tokens_of(const PayloadIndex *ix, const char *s, Toks *t)
{
    t->len = 0;
    t->buf[0] = '\0';
    payload_index_tokenize_query(ix, s, strlen(s), tok_join, t);
    return t->buf;
}

/* new_text makes a text index of p (the stopword language by name). */
static PayloadIndex *new_text(PayloadTextParams p, const char *stop_lang)
{
    PayloadIndex *ix = NULL;
    if (stop_lang) {
        int l = text_language_parse(stop_lang);
        if (l < 0) abort(); /* a typo in this test */
        p.stop_langs |= 1ull << l;
    }
    if (payload_index_new("d", PAYLOAD_INDEX_TEXT, &p, &ix)) abort();
    return ix;
}

/* Qdrant's token processing (stopwords, stemming, ASCII folding), with
 * the expected tokens of Qdrant's own unit tests (v1.17.1:
 * full_text_index/tokenizers/mod.rs, ascii_folding.rs, stop_words/mod.rs)
 * and Snowball's published English and German examples. */
TEST(test_token_processing)
{
    Toks t;
    PayloadTextParams word = payload_text_params_default();
    const char *fox = "The quick brown fox jumps over the lazy dog";

    /* test_tokenizer_with_english_stopwords_string */
    PayloadIndex *ix = new_text(word, "english");
    ASSERT_STR_EQ(tokens_of(ix, fox, &t), "quick|brown|fox|jumps|lazy|dog");
    /* A query loses its stopwords too (word tokenizer). */
    ASSERT_STR_EQ(query_tokens_of(ix, "the Fox and THE dog", &t), "fox|dog");
    payload_index_free(ix);
    /* An alias names the same list. */
    ix = new_text(word, "en");
    ASSERT_STR_EQ(tokens_of(ix, "mustn't we", &t), "");
    payload_index_free(ix);

    /* test_tokenizer_with_languages_english_spanish_custom_aaa: "I'd" is
     * split into "i" and "d", both English stopwords. */
    PayloadTextParams p = word;
    const char *const custom_id[] = { "I'd" };
    p.stop_custom = custom_id;
    p.n_stop_custom = 1;
    p.stop_langs = 1ull << text_language_parse("spanish");
    ix = new_text(p, "english");
    ASSERT_STR_EQ(tokens_of(ix, "The quick brown fox jumps over the lazy dog I'd y de", &t),
                  "quick|brown|fox|jumps|lazy|dog");
    payload_index_free(ix);

    /* test_tokenizer_with_case_sensitive_stopwords: lowercase false keeps
     * custom words as given. */
    p = word;
    p.lowercase = 0;
    const char *const custom_case[] = { "the", "The", "LAZY" };
    p.stop_custom = custom_case;
    p.n_stop_custom = 3;
    ix = new_text(p, NULL);
    ASSERT_STR_EQ(tokens_of(ix, fox, &t), "quick|brown|fox|jumps|over|lazy|dog");
    payload_index_free(ix);
    /* With lowercase, custom words are lowercased too ("LAZY" drops "lazy"). */
    p.lowercase = 1;
    ix = new_text(p, NULL);
    ASSERT_STR_EQ(tokens_of(ix, fox, &t), "quick|brown|fox|jumps|over|dog");
    payload_index_free(ix);

    /* test_tokenizer_can_handle_apostrophes_parametrized */
    ix = new_text(word, "english");
    ASSERT_STR_EQ(tokens_of(ix, "you'll be in town", &t), "town");
    payload_index_free(ix);
    p = word;
    p.tokenizer = PAYLOAD_TOKENIZER_WHITESPACE;
    ix = new_text(p, "english");
    ASSERT_STR_EQ(tokens_of(ix, "you'll be in town", &t), "town");
    payload_index_free(ix);
    p.tokenizer = PAYLOAD_TOKENIZER_PREFIX;
    ix = new_text(p, "english");
    ASSERT_STR_EQ(tokens_of(ix, "you'll be in town", &t), "t|to|tow|town");
    /* A prefix query keeps a stopword: "the" may be "theory" being typed. */
    ASSERT_STR_EQ(query_tokens_of(ix, "The", &t), "the");
    payload_index_free(ix);

    /* test_all_languages_stopwords: one word of each of a few languages. */
    static const char *const lang_word[][2] = {
        { "german", "und" }, { "french", "et" }, { "russian", "и" }, { "hungarian", "és" },
        { "japanese", "ます" }, { "turkish", "ve" }, { "swedish", "och" }, { "hinglish", "aur" },
    };
    for (size_t i = 0; i < ARRAY_LEN(lang_word); i++) {
        ix = new_text(word, lang_word[i][0]);
        ASSERT_STR_EQ(tokens_of(ix, lang_word[i][1], &t), "");
        ASSERT_STR_EQ(tokens_of(ix, "qdrant", &t), "qdrant");
        payload_index_free(ix);
    }

    /* test_ascii_folding_word_tokenizer_on_off and ascii_folding.rs */
    p = word;
    ix = new_text(p, NULL);
    ASSERT_STR_EQ(tokens_of(ix, "ação café jalapeño Über", &t), "ação|café|jalapeño|über");
    payload_index_free(ix);
    p.ascii_folding = 1;
    ix = new_text(p, NULL);
    ASSERT_STR_EQ(tokens_of(ix, "ação café jalapeño Über", &t), "acao|cafe|jalapeno|uber");
    ASSERT_STR_EQ(tokens_of(ix, "Æsop and Œuvre straße Łódź", &t), "aesop|and|oeuvre|strasse|lodz");
    ASSERT_STR_EQ(query_tokens_of(ix, "CAFÉ", &t), "cafe");
    payload_index_free(ix);
    /* Folding then the length limits: "ß" counts as two characters. */
    p.max_token_len = 5;
    ix = new_text(p, NULL);
    ASSERT_STR_EQ(tokens_of(ix, "straße weiß", &t), "weiss");
    payload_index_free(ix);
    /* test_ascii_folding_prefix_tokenizer */
    p = word;
    p.tokenizer = PAYLOAD_TOKENIZER_PREFIX;
    p.min_token_len = 1;
    p.max_token_len = 4;
    p.ascii_folding = 1;
    ix = new_text(p, NULL);
    ASSERT_STR_EQ(tokens_of(ix, "ação", &t), "a|ac|aca|acao");
    payload_index_free(ix);

    /* test_stemming_snowball */
    p = word;
    p.stem_lang = stem_language_parse("english") + 1;
    ix = new_text(p, NULL);
    ASSERT_STR_EQ(tokens_of(ix, "interestingly proceeding living", &t), "interest|proceed|live");
    /* Snowball's English examples (snowballstem.org, english/voc.txt -> output.txt). */
    ASSERT_STR_EQ(tokens_of(ix, "consign consigned consigning consignment", &t), "consign|consign|consign|consign");
    ASSERT_STR_EQ(tokens_of(ix, "knack knackeries knaves generously", &t), "knack|knackeri|knave|generous");
    ASSERT_STR_EQ(query_tokens_of(ix, "Living", &t), "live");
    payload_index_free(ix);
    p.tokenizer = PAYLOAD_TOKENIZER_WHITESPACE;
    ix = new_text(p, NULL);
    ASSERT_STR_EQ(tokens_of(ix, "interestingly proceeding living", &t), "interest|proceed|live");
    payload_index_free(ix);
    p.tokenizer = PAYLOAD_TOKENIZER_PREFIX;
    p.min_token_len = 3;
    p.max_token_len = 4;
    ix = new_text(p, NULL);
    ASSERT_STR_EQ(tokens_of(ix, "interestingly proceeding living", &t), "int|inte|pro|proc|liv|live");
    payload_index_free(ix);
    /* Snowball's German examples (german/voc.txt -> output.txt). */
    p = word;
    p.stem_lang = stem_language_parse("de") + 1;
    ix = new_text(p, NULL);
    ASSERT_STR_EQ(tokens_of(ix, "aufeinanderfolgenden kategorie häuser", &t), "aufeinanderfolg|kategori|haus");
    payload_index_free(ix);

    /* Stopwords are dropped before stemming: "having" is an English
     * stopword, "has" too; "runs" stems to "run". */
    p = word;
    p.stem_lang = stem_language_parse("english") + 1;
    ix = new_text(p, "english");
    ASSERT_STR_EQ(tokens_of(ix, "Having runs has", &t), "run");
    payload_index_free(ix);
}

/* ---- 3. equivalence through the engine ---- */

static char g_dir[256];
static Db *g_db;
static float g_vec[N_POINTS * 2][DIM];

static const char *const CITIES[] = { "Berlin", "London", "Moscow", "Paris", "Tokyo", "Rome", "Oslo" };
static const char *const WORDS[] = { "red", "green", "Blue", "shoe", "shirt", "cotton", "wool", "XL" };

static void rand_city(Buf *b)
{
    /* Skewed: Berlin rare (about 1%), Oslo never stored. */
    int r = rnd(100);
    const char *c = r == 0 ? CITIES[0] : r < 30 ? CITIES[1] : r < 50 ? CITIES[2] : r < 70 ? CITIES[3]
                  : r < 85 ? CITIES[4] : CITIES[5];
    buf_printf(b, "\"%s\"", c);
}

static void rand_keywordish(Buf *b)
{
    int r = rnd(20);
    if (r < 11) rand_city(b);
    else if (r < 14) {
        int k = rnd(4);
        buf_append_str(b, "[");
        for (int i = 0; i < k; i++) {
            if (i) buf_append_str(b, ",");
            int x = rnd(8);
            if (x == 0) buf_append_str(b, "null");
            else if (x == 1) buf_append_str(b, "7");
            else rand_city(b);
        }
        buf_append_str(b, "]");
    } else if (r == 14) buf_append_str(b, "null");
    else if (r == 15) buf_append_str(b, "12");
    else if (r == 16) buf_append_str(b, "[[\"Paris\"]]");
    else if (r == 17) buf_append_str(b, "{\"x\":\"Paris\"}");
    else if (r == 18) buf_append_str(b, "[]");
    else buf_append_str(b, "\"\"");
}

static void rand_number(Buf *b)
{
    int r = rnd(20);
    if (r < 9) buf_printf(b, "%d", rnd(41) - 20);
    else if (r < 12) buf_printf(b, "%d.5", rnd(41) - 20);
    else if (r < 15) {
        int k = rnd(4);
        buf_append_str(b, "[");
        for (int i = 0; i < k; i++) {
            if (i) buf_append_str(b, ",");
            if (rnd(3)) buf_printf(b, "%d", rnd(41) - 20);
            else if (rnd(2)) buf_printf(b, "%d.25", rnd(41) - 20);
            else buf_append_str(b, "null");
        }
        buf_append_str(b, "]");
    } else if (r == 15) buf_append_str(b, "\"5\"");
    else if (r == 16) buf_append_str(b, "null");
    else if (r == 17) buf_append_str(b, "-0.0");
    else if (r == 18) buf_append_str(b, "9223372036854775808"); /* beyond int64 */
    else buf_append_str(b, "true");
}

static void rand_time(Buf *b)
{
    int r = rnd(10);
    int d = 1 + rnd(28), h = rnd(24);
    if (r < 5) buf_printf(b, "\"2024-03-%02dT%02d:00:00Z\"", d, h);
    else if (r < 7) buf_printf(b, "\"2024-03-%02d\"", d);
    else if (r == 7) buf_printf(b, "\"2024-03-%02dT%02d:30:00+02:00\"", d, h);
    else if (r == 8) buf_printf(b, "[\"2024-03-%02d\",\"yesterday\"]", d);
    else buf_append_str(b, "\"not a date\"");
}

static void rand_payload(Buf *b, int i)
{
    buf_append_str(b, "{");
    int first = 1;
#define KEY(k)                                  \
    do {                                        \
        if (!first) buf_append_str(b, ",");     \
        first = 0;                              \
        buf_append_str(b, "\"" k "\":");        \
    } while (0)
    if (rnd(10)) {
        KEY("city");
        rand_keywordish(b);
    }
    if (rnd(10) < 8) {
        KEY("n");
        rand_number(b);
    }
    if (rnd(10) < 7) {
        KEY("f");
        if (rnd(3)) buf_printf(b, "%.1f", rnd(100) / 10.0);
        else rand_number(b);
    }
    if (rnd(10) < 7) {
        KEY("b");
        int r = rnd(6);
        buf_append_str(b, r == 0 ? "true" : r == 1 ? "false" : r == 2 ? "[true,false]" : r == 3 ? "null"
                                  : r == 4 ? "\"true\"" : "[false]");
    }
    if (rnd(10) < 7) {
        KEY("t");
        rand_time(b);
    }
    if (rnd(10) < 5) {
        KEY("u");
        int r = rnd(4);
        if (r == 0) buf_printf(b, "\"550e8400-e29b-41d4-a716-4466554400%02d\"", rnd(20));
        else if (r == 1) buf_printf(b, "\"550E8400-E29B-41D4-A716-4466554400%02d\"", rnd(20));
        else if (r == 2) buf_append_str(b, "\"nope\"");
        else buf_append_str(b, "null");
    }
    if (rnd(10) < 6) {
        KEY("a");
        int r = rnd(5);
        if (r < 3) {
            buf_append_str(b, "{\"b\":");
            rand_keywordish(b);
            buf_append_str(b, "}");
        } else if (r == 3) {
            buf_append_str(b, "[{\"b\":\"Paris\"}]");
        } else {
            buf_append_str(b, "\"flat\"");
        }
    }
    if (rnd(10) < 6) {
        /* Geo points on a grid (so some fall on box and polygon edges),
         * arrays of them, and values that are not points. */
        KEY("g");
        int r = rnd(8);
        if (r < 4)
            buf_printf(b, "{\"lon\":%d.5,\"lat\":%d}", rnd(41) - 20, rnd(41) - 20);
        else if (r < 6)
            buf_printf(b, "[{\"lat\":%d,\"lon\":%d},{\"lon\":%d,\"lat\":%d.25}]", rnd(41) - 20,
                       rnd(41) - 20, rnd(41) - 20, rnd(41) - 20);
        else if (r == 6)
            buf_printf(b, "{\"lon\":%d}", rnd(41) - 20);
        else
            buf_append_str(b, rnd(2) ? "null" : "\"here\"");
    }
    if (rnd(10) < 6) {
        KEY("arr");
        int k = rnd(4);
        buf_append_str(b, "[");
        for (int j = 0; j < k; j++) {
            if (j) buf_append_str(b, ",");
            buf_printf(b, "{\"x\":%d,\"y\":\"%s\"}", rnd(10), CITIES[rnd(7)]);
        }
        buf_append_str(b, "]");
    }
    if (rnd(2)) {
        KEY("z");
        buf_printf(b, "%d", rnd(10));
    }
    if (rnd(10) < 6) {
        KEY("d");
        buf_append_str(b, "\"");
        int k = 1 + rnd(5);
        for (int j = 0; j < k; j++) buf_printf(b, "%s%s", j ? (rnd(3) ? " " : ", ") : "", WORDS[rnd(8)]);
        buf_append_str(b, "\"");
    }
    KEY("i");
    buf_printf(b, "%d", i);
#undef KEY
    buf_append_str(b, "}");
}

/* ---- random filters ---- */

static void rand_bounds(Buf *b, int datetime)
{
    static const char *const names[] = { "gt", "gte", "lt", "lte" };
    buf_append_str(b, "{");
    int n = 0;
    for (int k = 0; k < 4; k++) {
        if (rnd(3)) continue;
        if (n++) buf_append_str(b, ",");
        if (datetime) buf_printf(b, "\"%s\":\"2024-03-%02dT%02d:00:00Z\"", names[k], 1 + rnd(28), rnd(24));
        else if (rnd(3)) buf_printf(b, "\"%s\":%d", names[k], rnd(41) - 20);
        else buf_printf(b, "\"%s\":%d.5", names[k], rnd(41) - 20);
    }
    if (!n) buf_printf(b, "\"gte\":%d", rnd(21) - 10);
    buf_append_str(b, "}");
}

static const char *const STR_KEYS[] = { "city", "a.b", "u", "n", "z" };
static const char *const NUM_KEYS[] = { "n", "f", "arr[].x", "z", "city" };
static const char *const ALL_KEYS[] = { "city", "n", "f", "b", "t", "u", "a.b", "arr[].x", "z", "a", "nope" };

static void rand_strs(Buf *b)
{
    int k = rnd(4);
    buf_append_str(b, "[");
    for (int i = 0; i < k; i++) {
        if (i) buf_append_str(b, ",");
        buf_printf(b, "\"%s\"", rnd(6) ? CITIES[rnd(7)] : "550e8400-e29b-41d4-a716-446655440003");
    }
    buf_append_str(b, "]");
}

static void rand_ints(Buf *b)
{
    int k = 1 + rnd(4);
    buf_append_str(b, "[");
    for (int i = 0; i < k; i++) buf_printf(b, "%s%d", i ? "," : "", rnd(41) - 20);
    buf_append_str(b, "]");
}

static void rand_filter(Buf *b, int depth);

/* rand_geo writes a geo condition on g (a geo index), city (a keyword
 * index: the payload must answer) or a (a geo index of non-points). */
static void rand_geo(Buf *b)
{
    int r = rnd(8);
    buf_printf(b, "{\"key\":\"%s\",", r == 0 ? "city" : r == 1 ? "a" : "g");
    int lon = rnd(41) - 20, lat = rnd(41) - 20, w = 1 + rnd(20), h = 1 + rnd(20);
    switch (rnd(3)) {
    case 0: /* a box, sometimes across the antimeridian (then it holds nothing here) */
        buf_printf(b, "\"geo_bounding_box\":{\"top_left\":{\"lon\":%d,\"lat\":%d},"
                      "\"bottom_right\":{\"lon\":%d,\"lat\":%d}}}",
                   rnd(8) ? lon : 179, lat + h, lon + w, lat);
        break;
    case 1:
        buf_printf(b, "\"geo_radius\":{\"center\":{\"lon\":%d,\"lat\":%d},\"radius\":%d}}", lon, lat,
                   20000 + rnd(1000000));
        break;
    default: /* a triangle, with a square hole sometimes */
        buf_printf(b, "\"geo_polygon\":{\"exterior\":{\"points\":[{\"lon\":%d,\"lat\":%d},"
                      "{\"lon\":%d,\"lat\":%d},{\"lon\":%d,\"lat\":%d},{\"lon\":%d,\"lat\":%d}]}",
                   lon, lat, lon + 2 * w, lat, lon, lat + 2 * h, lon, lat);
        if (rnd(2))
            buf_printf(b, ",\"interiors\":[{\"points\":[{\"lon\":%d,\"lat\":%d},{\"lon\":%d,\"lat\":%d},"
                          "{\"lon\":%d,\"lat\":%d},{\"lon\":%d,\"lat\":%d},{\"lon\":%d,\"lat\":%d}]}]",
                       lon + 1, lat + 1, lon + 3, lat + 1, lon + 3, lat + 3, lon + 1, lat + 3, lon + 1, lat + 1);
        buf_append_str(b, "}}");
    }
}

static void rand_cond(Buf *b, int depth)
{
    int r = rnd(depth < 2 ? 17 : 15);
    if (r == 14) {
        rand_geo(b);
        return;
    }
    switch (r) {
    case 0:
    case 1:
        buf_printf(b, "{\"key\":\"%s\",\"match\":{\"value\":", STR_KEYS[rnd(5)]);
        if (rnd(5)) buf_printf(b, "\"%s\"", CITIES[rnd(7)]);
        else buf_append_str(b, "\"550e8400-e29b-41d4-a716-446655440007\"");
        buf_append_str(b, "}}");
        break;
    case 2:
        buf_printf(b, "{\"key\":\"%s\",\"match\":{\"%s\":", STR_KEYS[rnd(5)], rnd(2) ? "any" : "except");
        rand_strs(b);
        buf_append_str(b, "}}");
        break;
    case 3:
        buf_printf(b, "{\"key\":\"%s\",\"match\":{\"value\":%d}}", NUM_KEYS[rnd(5)], rnd(41) - 20);
        break;
    case 4:
        buf_printf(b, "{\"key\":\"%s\",\"match\":{\"%s\":", NUM_KEYS[rnd(5)], rnd(2) ? "any" : "except");
        rand_ints(b);
        buf_append_str(b, "}}");
        break;
    case 5:
    case 6:
        buf_printf(b, "{\"key\":\"%s\",\"range\":", NUM_KEYS[rnd(5)]);
        rand_bounds(b, 0);
        buf_append_str(b, "}");
        break;
    case 7:
        buf_printf(b, "{\"key\":\"%s\",\"range\":", rnd(4) ? "t" : "city");
        rand_bounds(b, 1);
        buf_append_str(b, "}");
        break;
    case 8:
        buf_printf(b, "{\"key\":\"%s\",\"match\":{\"value\":%s}}", rnd(4) ? "b" : "n", rnd(2) ? "true" : "false");
        break;
    case 9:
        buf_printf(b, "{\"key\":\"%s\",\"values_count\":{\"%s\":%d}}", ALL_KEYS[rnd(11)],
                   rnd(2) ? "gte" : "lt", rnd(4));
        break;
    case 10:
        buf_printf(b, "{\"key\":\"%s\",\"%s\":%s}", ALL_KEYS[rnd(11)], rnd(2) ? "is_empty" : "is_null",
                   rnd(2) ? "true" : "false");
        break;
    case 11:
        buf_printf(b, "{\"%s\":{\"key\":\"%s\"}}", rnd(2) ? "is_empty" : "is_null", ALL_KEYS[rnd(11)]);
        break;
    case 12: {
        int k = 1 + rnd(30);
        buf_append_str(b, "{\"has_id\":[");
        for (int i = 0; i < k; i++) buf_printf(b, "%s%d", i ? "," : "", rnd(N_POINTS + 100));
        buf_append_str(b, "]}");
        break;
    }
    case 13:
        buf_printf(b, "{\"nested\":{\"key\":\"arr\",\"filter\":{\"must\":[{\"key\":\"x\",\"range\":{\"gte\":%d}},"
                      "{\"key\":\"y\",\"match\":{\"value\":\"%s\"}}]}}}",
                   rnd(10), CITIES[rnd(7)]);
        break;
    default: rand_filter(b, depth + 1); break;
    }
}

static void rand_clause(Buf *b, int depth)
{
    int k = rnd(4);
    if (k == 0 && rnd(2)) {
        rand_cond(b, depth);
        return;
    }
    buf_append_str(b, "[");
    for (int i = 0; i < k; i++) {
        if (i) buf_append_str(b, ",");
        rand_cond(b, depth);
    }
    buf_append_str(b, "]");
}

static void rand_filter(Buf *b, int depth)
{
    static const char *const clauses[] = { "must", "should", "must_not" };
    buf_append_str(b, "{");
    int n = 0;
    for (int c = 0; c < 3; c++) {
        if (rnd(c == 0 ? 4 : 3) == 0 || (c == 0 && n == 0 && rnd(3))) {
            if (n++) buf_append_str(b, ",");
            buf_printf(b, "\"%s\":", clauses[c]);
            rand_clause(b, depth);
        }
    }
    if (rnd(8) == 0) {
        if (n++) buf_append_str(b, ",");
        buf_append_str(b, "\"min_should\":{\"conditions\":[");
        int k = 1 + rnd(3);
        for (int i = 0; i < k; i++) {
            if (i) buf_append_str(b, ",");
            rand_cond(b, depth + 1);
        }
        buf_printf(b, "],\"min_count\":%d}", rnd(3));
    }
    buf_append_str(b, "}");
}

/* ---- the two collections ---- */

static void make_collection(const char *name)
{
    CollectionConfig cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.n_vectors = 1;
    cfg.unnamed = 1;
    cfg.vectors[0].size = DIM;
    cfg.vectors[0].distance = COLLECTION_COSINE;
    char err[256];
    if (collection_create(g_db, name, &cfg, err, sizeof err)) {
        printf("create %s: %s\n", name, err);
        abort();
    }
}

static void index_all(const char *name)
{
    static const struct {
        const char *field;
        PayloadIndexType type;
    } defs[] = {
        { "city", PAYLOAD_INDEX_KEYWORD }, { "n", PAYLOAD_INDEX_INTEGER },  { "f", PAYLOAD_INDEX_FLOAT },
        { "b", PAYLOAD_INDEX_BOOL },       { "t", PAYLOAD_INDEX_DATETIME }, { "u", PAYLOAD_INDEX_UUID },
        { "a.b", PAYLOAD_INDEX_KEYWORD },  { "arr[].x", PAYLOAD_INDEX_INTEGER },
        { "d", PAYLOAD_INDEX_TEXT },       { "a", PAYLOAD_INDEX_GEO },
        { "g", PAYLOAD_INDEX_GEO },
    };
    for (size_t i = 0; i < ARRAY_LEN(defs); i++) {
        CollectionIndexParams p = { defs[i].type, { .tokenizer = PAYLOAD_TOKENIZER_WORD, .lowercase = 1 }, "" };
        char err[256];
        if (collection_index_create(g_db, name, defs[i].field, &p, NULL, err, sizeof err)) {
            printf("index %s: %s\n", defs[i].field, err);
            abort();
        }
    }
}

/* upsert_both writes points [from, to) with fresh random payloads to
 * both collections. */
static void upsert_both(int from, int to)
{
    for (int start = from; start < to; start += 250) {
        int end = MIN(start + 250, to);
        Arena a;
        arena_init(&a, 0);
        CollectionPointIn pts[250];
        CollectionVectorIn vin[250];
        for (int i = start; i < end; i++) {
            Buf b;
            buf_init(&b);
            rand_payload(&b, i);
            vin[i - start] = (CollectionVectorIn){ .data = g_vec[i], .dim = DIM };
            pts[i - start] = (CollectionPointIn){ point_id_num((uint64_t)i), parse(&a, b.data), &vin[i - start], 1 };
            buf_free(&b);
        }
        char err[256];
        if (collection_upsert(g_db, "plain", pts, (size_t)(end - start), err, sizeof err) ||
            collection_upsert(g_db, "indexed", pts, (size_t)(end - start), err, sizeof err)) {
            printf("upsert: %s\n", err);
            abort();
        }
        arena_free(&a);
    }
}

/* The reference: every stored point and its payload, read back from the
 * unindexed collection. */
typedef struct {
    PointId id;
    JsonValue *payload;
    const float *vec;
} RefPoint;

static RefPoint *g_ref;
static size_t g_n_ref;
static Arena g_ref_arena;

static void load_reference(void)
{
    arena_free(&g_ref_arena);
    arena_init(&g_ref_arena, 0);
    free(g_ref);
    g_ref = malloc(N_POINTS * 2 * sizeof *g_ref);
    g_n_ref = 0;
    CollectionScroll s;
    memset(&s, 0, sizeof s);
    s.limit = 1000;
    s.with_payload.mode = COLLECTION_SEL_ALL;
    s.with_vectors.mode = COLLECTION_SEL_ALL;
    PointId next;
    for (;;) {
        CollectionResult r;
        char err[256];
        if (collection_scroll(g_db, "plain", &s, &g_ref_arena, &r, err, sizeof err)) abort();
        for (size_t i = 0; i < r.n; i++) {
            RefPoint *p = &g_ref[g_n_ref++];
            p->id = r.points[i].id;
            p->payload = parse(&g_ref_arena, r.points[i].payload);
            p->vec = r.points[i].vectors[0];
        }
        if (!r.has_next) break;
        next = r.next_offset;
        s.offset = &next;
    }
}

/* brute_ids: the reference points matching filter text fj, in id order. */
static size_t brute_ids(const char *fj, PointId *out)
{
    Arena a;
    arena_init(&a, 0);
    Filter *f;
    char err[256];
    if (filter_compile(parse(&a, fj), &f, err, sizeof err)) {
        printf("filter %s: %s\n", fj, err);
        abort();
    }
    size_t n = 0;
    for (size_t i = 0; i < g_n_ref; i++)
        if (filter_match(f, &g_ref[i].id, g_ref[i].payload)) out[n++] = g_ref[i].id;
    filter_free(f);
    arena_free(&a);
    return n;
}

static int scroll_all(const char *coll, const JsonValue *filter, PointId *out, size_t *n)
{
    CollectionScroll s;
    memset(&s, 0, sizeof s);
    s.limit = 97;
    s.filter = filter;
    PointId next;
    *n = 0;
    for (;;) {
        Arena a;
        arena_init(&a, 0);
        CollectionResult r;
        char err[256];
        int e = collection_scroll(g_db, coll, &s, &a, &r, err, sizeof err);
        if (e) {
            printf("scroll %s: %s\n", coll, err);
            arena_free(&a);
            return e;
        }
        for (size_t i = 0; i < r.n; i++) out[(*n)++] = r.points[i].id;
        int more = r.has_next;
        if (more) next = r.next_offset;
        arena_free(&a);
        if (!more) break;
        s.offset = &next;
    }
    return 0;
}

/* compare_filters runs random filters on both collections. Returns the
 * number of mismatches (printing the first few). */
static int compare_filters(int n_filters, int *n_nonempty)
{
    int bad = 0;
    PointId *want = malloc(N_POINTS * 2 * sizeof *want);
    PointId *got_a = malloc(N_POINTS * 2 * sizeof *got_a);
    PointId *got_b = malloc(N_POINTS * 2 * sizeof *got_b);
    for (int q = 0; q < n_filters; q++) {
        Buf fb;
        buf_init(&fb);
        rand_filter(&fb, 0);
        Arena a;
        arena_init(&a, 0);
        const JsonValue *fj = parse(&a, fb.data);
        size_t nw = brute_ids(fb.data, want);
        *n_nonempty += nw > 0;
        char err[256];
        uint64_t ca = 0, cb = 0;
        int ea = collection_count(g_db, "plain", fj, &ca, err, sizeof err);
        int eb = collection_count(g_db, "indexed", fj, &cb, err, sizeof err);
        size_t na = 0, nb = 0;
        if (!ea) ea = scroll_all("plain", fj, got_a, &na);
        if (!eb) eb = scroll_all("indexed", fj, got_b, &nb);
        int same = !ea && !eb && ca == nw && cb == nw && na == nw && nb == nw;
        for (size_t i = 0; same && i < nw; i++)
            same = point_id_equal(&got_a[i], &want[i]) && point_id_equal(&got_b[i], &want[i]);
        /* Exact search: identical ids and scores on both. */
        if (same) {
            float qv[DIM];
            for (int d = 0; d < DIM; d++) qv[d] = (float)(rng_unit() * 2 - 1);
            CollectionSearch s;
            memset(&s, 0, sizeof s);
            s.vector = qv;
            s.dim = DIM;
            s.limit = 10;
            s.exact = 1;
            s.filter = fj;
            CollectionResult ra, rb;
            ea = collection_search(g_db, "plain", &s, &a, &ra, err, sizeof err);
            eb = collection_search(g_db, "indexed", &s, &a, &rb, err, sizeof err);
            same = !ea && !eb && ra.n == rb.n && ra.n == MIN(nw, 10);
            for (size_t i = 0; same && i < ra.n; i++)
                same = point_id_equal(&ra.points[i].id, &rb.points[i].id) && ra.points[i].score == rb.points[i].score;
            /* Planned search (HNSW or scan): every hit matches, scores exact. */
            s.exact = 0;
            s.ef = 64;
            if (same) {
                eb = collection_search(g_db, "indexed", &s, &a, &rb, err, sizeof err);
                same = !eb && rb.n <= MIN(nw, 10);
                for (size_t i = 0; same && i < rb.n; i++) {
                    same = bsearch(&rb.points[i].id, want, nw, sizeof *want,
                                   cmp_id) != NULL;
                    if (i && same) same = rb.points[i].score <= rb.points[i - 1].score;
                }
                /* Most of the exact top 10 are found. */
                size_t found = 0;
                for (size_t i = 0; same && i < ra.n; i++)
                    for (size_t j = 0; j < rb.n; j++) found += point_id_equal(&ra.points[i].id, &rb.points[j].id);
                if (same && ra.n >= 5 && found * 10 < ra.n * 6) same = 0;
            }
        }
        if (!same) {
            if (bad < 5)
                printf("  mismatch on filter %s: brute %zu, count %llu/%llu, scroll %zu/%zu (err %d/%d %s)\n",
                       fb.data, nw, (unsigned long long)ca, (unsigned long long)cb, na, nb, ea, eb, err);
            bad++;
        }
        arena_free(&a);
        buf_free(&fb);
    }
    free(want);
    free(got_a);
    free(got_b);
    return bad;
}

static void open_db(void)
{
    DbOptions o = { 0 };
    o.full_scan_threshold = 150; /* so both plans run on 1500 points */
    if (collection_db_open(g_dir, &o, &g_db)) abort();
}

TEST(test_equivalence_random)
{
    make_collection("plain");
    make_collection("indexed");
    for (int i = 0; i < N_POINTS * 2; i++)
        for (int d = 0; d < DIM; d++) g_vec[i][d] = (float)(rng_unit() * 2 - 1);
    /* Half the points before the indexes exist (built from storage), half
     * after (kept up by the write path). */
    upsert_both(0, N_POINTS / 2);
    index_all("indexed");
    upsert_both(N_POINTS / 2, N_POINTS);
    load_reference();
    int nonempty = 0;
    int bad = compare_filters(N_FILTERS, &nonempty);
    ASSERT_EQ_INT(bad, 0);
    /* The generator must make filters that select something. */
    ASSERT_GE(nonempty, N_FILTERS / 3);
}

static void payload_write(const char *op, const char *body)
{
    Arena a;
    arena_init(&a, 0);
    const JsonValue *v = parse(&a, body);
    CollectionPayloadUpdate u;
    memset(&u, 0, sizeof u);
    u.filter = json_get(v, "filter");
    u.payload = json_get(v, "payload");
    u.keys = json_get(v, "keys");
    const JsonValue *ids = json_get(v, "points");
    PointId pid[64];
    if (ids) {
        for (uint32_t i = 0; i < ids->len; i++) pid[i] = point_id_num(ids->u.items[i].n.u);
        u.ids = pid;
        u.n_ids = ids->len;
    }
    const char *colls[2] = { "plain", "indexed" };
    for (int c = 0; c < 2; c++) {
        char err[256];
        int e = !strcmp(op, "set") ? collection_set_payload(g_db, colls[c], &u, err, sizeof err)
              : !strcmp(op, "overwrite") ? collection_overwrite_payload(g_db, colls[c], &u, err, sizeof err)
              : !strcmp(op, "delete") ? collection_delete_payload(g_db, colls[c], &u, err, sizeof err)
              : collection_clear_payload(g_db, colls[c], &u, err, sizeof err);
        if (e) {
            printf("%s %s: %s\n", op, body, err);
            abort();
        }
    }
    arena_free(&a);
}

TEST(test_equivalence_after_writes)
{
    /* Payload writes by ids and by filters, deletes, re-upserts. */
    for (int round = 0; round < 40; round++) {
        Buf b;
        buf_init(&b);
        int by_filter = rnd(3) == 0;
        const char *op = (const char *[]){ "set", "overwrite", "delete", "clear" }[rnd(4)];
        if (!by_filter) {
            buf_append_str(&b, "{\"points\":[");
            int k = 1 + rnd(20);
            for (int i = 0; i < k; i++) buf_printf(&b, "%s%d", i ? "," : "", rnd(N_POINTS / 2) * 2);
            buf_append_str(&b, "],");
        } else {
            /* A selective filter (z is one of 10 values on half the
             * points), so the data keeps its variety. */
            buf_printf(&b, "{\"filter\":{\"must\":[{\"key\":\"z\",\"match\":{\"value\":%d}},", rnd(10));
            rand_cond(&b, 1);
            buf_append_str(&b, "]},");
            if (!strcmp(op, "overwrite") || !strcmp(op, "clear")) op = "set";
        }
        if (!strcmp(op, "delete")) {
            buf_append_str(&b, "\"keys\":[\"city\",\"a.b\",\"arr[0]\",\"t\"]}");
        } else {
            Buf p;
            buf_init(&p);
            rand_payload(&p, 0);
            buf_printf(&b, "\"payload\":%s}", p.data);
            buf_free(&p);
        }
        payload_write(op, b.data);
        buf_free(&b);
    }
    /* Deletes by ids and by filter, then new points and re-upserts. */
    PointId del[50];
    for (int i = 0; i < 50; i++) del[i] = point_id_num((uint64_t)rnd(N_POINTS));
    ASSERT_OK(collection_delete_points(g_db, "plain", del, 50, NULL));
    ASSERT_OK(collection_delete_points(g_db, "indexed", del, 50, NULL));
    Arena a;
    arena_init(&a, 0);
    const JsonValue *df = parse(&a, "{\"must\":[{\"key\":\"city\",\"match\":{\"value\":\"Tokyo\"}},"
                                    "{\"key\":\"n\",\"range\":{\"gte\":5}}]}");
    char err[256];
    size_t da = 0, db = 0;
    ASSERT_OK(collection_delete_by_filter(g_db, "plain", df, &da, err, sizeof err));
    ASSERT_OK(collection_delete_by_filter(g_db, "indexed", df, &db, err, sizeof err));
    ASSERT_EQ_U64(da, db);
    ASSERT_TRUE(da > 0);
    arena_free(&a);
    upsert_both(N_POINTS - 300, N_POINTS + 200);
    load_reference();
    int nonempty = 0;
    ASSERT_EQ_INT(compare_filters(N_FILTERS, &nonempty), 0);
}

TEST(test_equivalence_after_reopen)
{
    CollectionInfo before;
    ASSERT_OK(collection_info(g_db, "indexed", &before));
    collection_db_close(g_db);
    open_db();
    CollectionInfo after;
    ASSERT_OK(collection_info(g_db, "indexed", &after));
    ASSERT_EQ_INT(after.n_indexes, before.n_indexes);
    ASSERT_EQ_INT(after.n_indexes, 11);
    for (size_t i = 0; i < after.n_indexes; i++) {
        ASSERT_STR_EQ(after.indexes[i].field, before.indexes[i].field);
        ASSERT_EQ_INT(after.indexes[i].type, before.indexes[i].type);
        ASSERT_EQ_U64(after.indexes[i].points, before.indexes[i].points);
    }
    /* The schema's point counts against the reference. */
    load_reference();
    for (size_t i = 0; i < after.n_indexes; i++) {
        if (strcmp(after.indexes[i].field, "city")) continue;
        uint64_t want = 0;
        for (size_t k = 0; k < g_n_ref; k++) {
            const JsonValue *v = json_get(g_ref[k].payload, "city");
            int has = v && v->type == JSON_STRING;
            for (uint32_t j = 0; v && v->type == JSON_ARRAY && j < v->len; j++)
                has |= v->u.items[j].type == JSON_STRING;
            want += has;
        }
        ASSERT_EQ_U64(after.indexes[i].points, want);
    }
    int nonempty = 0;
    ASSERT_EQ_INT(compare_filters(N_FILTERS / 2, &nonempty), 0);
}

/* ---- 4. order_by ---- */

typedef struct {
    double v;
    PointId id;
} OV;

static int cmp_ov(const void *pa, const void *pb)
{
    const OV *a = pa, *b = pb;
    if (a->v != b->v) return a->v < b->v ? -1 : 1;
    return point_id_cmp(&a->id, &b->id);
}

typedef struct {
    int type;
    double vals[64];
    int n;
} ValCollect;

static void val_add(ValCollect *c, double x)
{
    if (x == 0) x = 0.0;
    for (int i = 0; i < c->n; i++)
        if (c->vals[i] == x) return;
    if (c->n < 64) c->vals[c->n++] = x;
}

static void val_elem(ValCollect *c, const JsonValue *e)
{
    int64_t us;
    if (c->type == PAYLOAD_INDEX_DATETIME) {
        if (e->type == JSON_STRING && filter_datetime_parse(e->u.str, e->len, &us) == 0) val_add(c, (double)us);
    } else if (e->type == JSON_NUMBER && (c->type == PAYLOAD_INDEX_FLOAT || e->num_kind == JSON_NUM_INT)) {
        val_add(c, e->u.num);
    }
}

static int val_visit(void *ctx, const JsonValue *v)
{
    if (v->type == JSON_ARRAY)
        for (uint32_t i = 0; i < v->len; i++) val_elem(ctx, &v->u.items[i]);
    else
        val_elem(ctx, v);
    return 0;
}

TEST(test_order_by)
{
    static const struct {
        const char *key;
        int type;
    } keys[] = { { "n", PAYLOAD_INDEX_INTEGER }, { "f", PAYLOAD_INDEX_FLOAT },
                 { "t", PAYLOAD_INDEX_DATETIME }, { "arr[].x", PAYLOAD_INDEX_INTEGER } };
    static const char *const filters[] = {
        NULL,
        "{\"must\":[{\"key\":\"city\",\"match\":{\"value\":\"Berlin\"}}]}",
        "{\"must\":[{\"key\":\"city\",\"match\":{\"any\":[\"London\",\"Rome\"]}}],"
        "\"must_not\":[{\"key\":\"z\",\"match\":{\"value\":3}}]}",
        "{\"must_not\":[{\"key\":\"b\",\"match\":{\"value\":true}}]}",
        "{\"must\":[{\"has_id\":[0,3,6,9,12,15,18,21,24,27,30,33,36,39,42,45,48,51,54,57,60,63,66,69,"
        "72,75,78,81,84,87,90,93,96,99,1650,1699,2199]}]}",
    };
    OV *all = malloc(N_POINTS * 2 * 64 * sizeof *all);
    PointId *match = malloc(N_POINTS * 2 * sizeof *match);
    for (size_t k = 0; k < ARRAY_LEN(keys); k++) {
        for (size_t fi = 0; fi < ARRAY_LEN(filters); fi++) {
            size_t nm = filters[fi] ? brute_ids(filters[fi], match) : 0;
            for (int desc = 0; desc < 2; desc++) {
                for (int with_start = 0; with_start < 2; with_start++) {
                    double start = keys[k].type == PAYLOAD_INDEX_DATETIME ? 1710288000000000.0 /* 2024-03-13 */
                                                                          : (double)(rnd(21) - 10);
                    size_t n = 0;
                    for (size_t i = 0; i < g_n_ref; i++) {
                        if (filters[fi] &&
                            !bsearch(&g_ref[i].id, match, nm, sizeof *match,
                                     cmp_id))
                            continue;
                        ValCollect vc = { keys[k].type, { 0 }, 0 };
                        Arena pa;
                        arena_init(&pa, 0);
                        FilterPath p;
                        filter_path_parse(&pa, keys[k].key, strlen(keys[k].key), &p);
                        filter_path_walk(&p, g_ref[i].payload, val_visit, &vc);
                        arena_free(&pa);
                        for (int j = 0; j < vc.n; j++) {
                            if (with_start && (desc ? vc.vals[j] > start : vc.vals[j] < start)) continue;
                            all[n++] = (OV){ vc.vals[j], g_ref[i].id };
                        }
                    }
                    qsort(all, n, sizeof *all, cmp_ov);
                    size_t limit = 1 + (size_t)rnd(300);
                    Arena a;
                    arena_init(&a, 0);
                    CollectionOrderBy ob;
                    memset(&ob, 0, sizeof ob);
                    ob.key = keys[k].key;
                    ob.desc = desc;
                    ob.has_start = with_start;
                    ob.start = start;
                    ob.limit = limit;
                    ob.filter = filters[fi] ? parse(&a, filters[fi]) : NULL;
                    ob.with_payload.mode = COLLECTION_SEL_NONE;
                    CollectionResult r;
                    char err[256];
                    int e = collection_order_by(g_db, "indexed", &ob, &a, &r, err, sizeof err);
                    if (e) {
                        arena_free(&a);
                        HARNESS_FAIL("order_by %s: %s", keys[k].key, err);
                    }
                    size_t want = MIN(n, limit);
                    int ok = r.n == want && r.order_values;
                    for (size_t i = 0; ok && i < want; i++) {
                        const OV *m = &all[desc ? n - 1 - i : i];
                        ok = point_id_equal(&r.points[i].id, &m->id) && r.order_values[i] == m->v;
                    }
                    arena_free(&a);
                    if (!ok)
                        HARNESS_FAIL("order_by %s desc=%d start=%d filter %zu: got %zu of %zu", keys[k].key, desc,
                                     with_start, fi, r.n, want);
                }
            }
        }
    }
    free(all);
    free(match);
    /* Without a range index: Qdrant's error. */
    Arena a;
    arena_init(&a, 0);
    CollectionOrderBy ob;
    memset(&ob, 0, sizeof ob);
    ob.key = "city";
    CollectionResult r;
    char err[512];
    ASSERT_EQ_INT(collection_order_by(g_db, "indexed", &ob, &a, &r, err, sizeof err), ERR_INVAL);
    ASSERT_TRUE(strstr(err, "No range index for `order_by` key: `city`. Please create one to use `order_by`.") != NULL);
    ob.key = "n";
    ASSERT_EQ_INT(collection_order_by(g_db, "plain", &ob, &a, &r, err, sizeof err), ERR_INVAL);
    arena_free(&a);
}

/* ---- 5. text match ---- */

/* ref_tokens: the ASCII words of s, lowercased (the test's words are
 * ASCII, so this is the word tokenizer on them). */
static int ref_has_all(const char *s, size_t len, const char *q, int any)
{
    char words[32][32], qw[32][32];
    int nw = 0, nq = 0;
    for (int pass = 0; pass < 2; pass++) {
        const char *p = pass ? q : s;
        size_t pl = pass ? strlen(q) : len;
        char (*out)[32] = pass ? qw : words;
        int *n = pass ? &nq : &nw;
        size_t i = 0;
        while (i < pl) {
            while (i < pl && !isalnum((unsigned char)p[i])) i++;
            size_t k = 0;
            while (i < pl && isalnum((unsigned char)p[i])) {
                if (k < 31) out[*n][k++] = (char)tolower((unsigned char)p[i]);
                i++;
            }
            if (k && *n < 32) out[(*n)++][k] = '\0';
        }
    }
    if (!nq) return 0;
    int hits = 0;
    for (int a = 0; a < nq; a++) {
        int found = 0;
        for (int b = 0; b < nw && !found; b++) found = !strcmp(qw[a], words[b]);
        hits += found;
    }
    return any ? hits > 0 : hits == nq;
}

TEST(test_text_match)
{
    static const char *const queries[] = { "red", "Blue shoe", "cotton,  XL", "wool red green", "nothing", "",
                                           "RED" };
    for (size_t q = 0; q < ARRAY_LEN(queries); q++) {
        for (int any = 0; any < 2; any++) {
            char fj[256];
            snprintf(fj, sizeof fj, "{\"must\":[{\"key\":\"d\",\"match\":{\"%s\":\"%s\"}}]}",
                     any ? "text_any" : "text", queries[q]);
            uint64_t want = 0;
            for (size_t i = 0; i < g_n_ref; i++) {
                const JsonValue *d = json_get(g_ref[i].payload, "d");
                want += d && d->type == JSON_STRING && ref_has_all(d->u.str, d->len, queries[q], any);
            }
            Arena a;
            arena_init(&a, 0);
            uint64_t got = 0;
            char err[256];
            ASSERT_OK(collection_count(g_db, "indexed", parse(&a, fj), &got, err, sizeof err));
            arena_free(&a);
            if (got != want) HARNESS_FAIL("%s: count %llu, reference %llu", fj, (unsigned long long)got,
                                          (unsigned long long)want);
        }
    }
    /* Without the index, text is a substring: "re" matches "red", "green". */
    Arena a;
    arena_init(&a, 0);
    uint64_t plain = 0, indexed = 0;
    char err[256];
    const JsonValue *f = parse(&a, "{\"must\":[{\"key\":\"d\",\"match\":{\"text\":\"re\"}}]}");
    ASSERT_OK(collection_count(g_db, "plain", f, &plain, err, sizeof err));
    ASSERT_OK(collection_count(g_db, "indexed", f, &indexed, err, sizeof err));
    ASSERT_TRUE(plain > 0);
    ASSERT_EQ_U64(indexed, 0);
    arena_free(&a);
}

/* ---- 6. writes grouped in one transaction ---- */

static uint64_t count_of(const char *coll, const char *fj)
{
    Arena a;
    arena_init(&a, 0);
    uint64_t n = UINT64_MAX;
    char err[256];
    if (collection_count(g_db, coll, parse(&a, fj), &n, err, sizeof err)) printf("count: %s\n", err);
    arena_free(&a);
    return n;
}

TEST(test_group_write)
{
    /* One write: upsert two points, then delete by a filter on the
     * indexed field (it must see the upsert, which the index does not hold
     * until the commit), then set a payload by filter; a second write in
     * the same group changes a point the first one touched. */
    Arena a;
    arena_init(&a, 0);
    float v[DIM] = { 1, 0, 0, 0, 0, 0, 0, 0 };
    CollectionVectorIn vin = { .data = v, .dim = DIM };
    CollectionPointIn pts[2] = {
        { point_id_num(900001), parse(&a, "{\"city\":\"Zurich\",\"n\":1}"), &vin, 1 },
        { point_id_num(900002), parse(&a, "{\"city\":\"Zurich\",\"n\":2}"), &vin, 1 },
    };
    CollectionOp ops1[3] = {
        { .kind = COLLECTION_OP_UPSERT, .points = pts, .n_points = 2 },
        { .kind = COLLECTION_OP_DELETE,
          .filter = parse(&a, "{\"must\":[{\"key\":\"city\",\"match\":{\"value\":\"Zurich\"}},"
                              "{\"key\":\"n\",\"match\":{\"value\":1}}]}") },
        { .kind = COLLECTION_OP_SET_PAYLOAD,
          .filter = parse(&a, "{\"must\":[{\"key\":\"city\",\"match\":{\"value\":\"Zurich\"}}]}"),
          .payload = parse(&a, "{\"n\":123456,\"tag\":\"seen\"}") },
    };
    PointId id2 = point_id_num(900002);
    CollectionOp ops2[1] = {
        { .kind = COLLECTION_OP_OVERWRITE_PAYLOAD, .ids = &id2, .n_ids = 1,
          .payload = parse(&a, "{\"city\":\"Geneva\",\"n\":7}") },
    };
    CollectionWrite w1 = { .collection = "indexed", .ops = ops1, .n_ops = 3 };
    CollectionWrite w2 = { .collection = "indexed", .ops = ops2, .n_ops = 1 };
    CollectionWrite *ws[2] = { &w1, &w2 };
    ASSERT_OK(collection_write_group(g_db, ws, 2, NULL));
    ASSERT_OK(w1.status);
    ASSERT_OK(w2.status);
    ASSERT_TRUE(w2.operation_id > w1.operation_id);
    arena_free(&a);
    /* 900001 was deleted inside the write; 900002 ended as Geneva, 7. */
    ASSERT_EQ_U64(count_of("indexed", "{\"must\":[{\"key\":\"city\",\"match\":{\"value\":\"Zurich\"}}]}"), 0);
    ASSERT_EQ_U64(count_of("indexed", "{\"must\":[{\"key\":\"city\",\"match\":{\"value\":\"Geneva\"}}]}"), 1);
    ASSERT_EQ_U64(count_of("indexed", "{\"must\":[{\"has_id\":[900001,900002]}]}"), 1);
    ASSERT_EQ_U64(count_of("indexed", "{\"must\":[{\"key\":\"n\",\"range\":{\"gte\":7,\"lte\":7}},"
                                      "{\"has_id\":[900002]}]}"), 1);
    ASSERT_EQ_U64(count_of("indexed", "{\"must\":[{\"key\":\"n\",\"match\":{\"value\":123456}}]}"), 0);
    /* The same reads without the index (the payload path) agree. */
    PointId both[2] = { point_id_num(900001), point_id_num(900002) };
    ASSERT_OK(collection_delete_points(g_db, "indexed", both, 2, NULL));
    ASSERT_EQ_U64(count_of("indexed", "{\"must\":[{\"key\":\"city\",\"match\":{\"value\":\"Geneva\"}}]}"), 0);
}

/* A payload write leaves a point's vectors alone, sparse ones included
 * (the payload effect touches the indexes only), and a sparse search's
 * filter goes through the payload index. */
TEST(test_sparse_with_index)
{
    CollectionConfig cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.n_vectors = 1;
    cfg.vectors[0].size = DIM;
    cfg.vectors[0].distance = COLLECTION_DOT;
    snprintf(cfg.vectors[0].name, sizeof cfg.vectors[0].name, "dense");
    cfg.n_sparse = 1;
    snprintf(cfg.sparse[0].name, sizeof cfg.sparse[0].name, "words");
    char err[256];
    ASSERT_OK(collection_create(g_db, "mixed", &cfg, err, sizeof err));
    CollectionIndexParams kw = { PAYLOAD_INDEX_KEYWORD, { .lowercase = 1 }, "" };
    ASSERT_OK(collection_index_create(g_db, "mixed", "city", &kw, NULL, err, sizeof err));
    Arena a;
    arena_init(&a, 0);
    float v[DIM] = { 1, 0, 0, 0, 0, 0, 0, 0 };
    uint32_t idx[2] = { 3, 7 };
    float val[2] = { 1.0f, 2.0f };
    CollectionSparseVector sv = { idx, val, 2 };
    CollectionPointIn pts[10];
    CollectionVectorIn vin[10][2];
    for (int i = 0; i < 10; i++) {
        vin[i][0] = (CollectionVectorIn){ .name = "dense", .data = v, .dim = DIM };
        vin[i][1] = (CollectionVectorIn){ .name = "words", .sparse = &sv };
        pts[i] = (CollectionPointIn){ point_id_num((uint64_t)i), parse(&a, i < 5 ? "{\"city\":\"Oslo\"}" : "{\"city\":\"Rome\"}"),
                                      vin[i], 2 };
    }
    ASSERT_OK(collection_upsert(g_db, "mixed", pts, 10, err, sizeof err));
    CollectionPayloadUpdate u;
    memset(&u, 0, sizeof u);
    PointId two[2] = { point_id_num(0), point_id_num(9) };
    u.ids = two;
    u.n_ids = 2;
    u.payload = parse(&a, "{\"city\":\"Bern\"}");
    ASSERT_OK(collection_set_payload(g_db, "mixed", &u, err, sizeof err));
    ASSERT_EQ_U64(count_of("mixed", "{\"must\":[{\"key\":\"city\",\"match\":{\"value\":\"Bern\"}}]}"), 2);
    ASSERT_EQ_U64(count_of("mixed", "{\"must\":[{\"key\":\"city\",\"match\":{\"value\":\"Oslo\"}}]}"), 4);
    /* Sparse search restricted to Bern: both points, with their sparse
     * vectors intact (score 1*1 + 2*2 for the query (3:1, 7:2)). */
    uint32_t qi[2] = { 3, 7 };
    float qv[2] = { 1.0f, 2.0f };
    CollectionSparseVector q = { qi, qv, 2 };
    CollectionSearch s;
    memset(&s, 0, sizeof s);
    s.using = "words";
    s.sparse = &q;
    s.limit = 10;
    s.filter = parse(&a, "{\"must\":[{\"key\":\"city\",\"match\":{\"value\":\"Bern\"}}]}");
    CollectionResult r;
    ASSERT_OK(collection_search(g_db, "mixed", &s, &a, &r, err, sizeof err));
    ASSERT_EQ_INT(r.n, 2);
    ASSERT_NEAR(r.points[0].score, 5.0, 1e-6);
    ASSERT_NEAR(r.points[1].score, 5.0, 1e-6);
    /* And the dense vector is still there. */
    CollectionSearch d;
    memset(&d, 0, sizeof d);
    d.using = "dense";
    d.vector = v;
    d.dim = DIM;
    d.limit = 10;
    d.exact = 1;
    d.filter = s.filter;
    ASSERT_OK(collection_search(g_db, "mixed", &d, &a, &r, err, sizeof err));
    ASSERT_EQ_INT(r.n, 2);
    ASSERT_NEAR(r.points[0].score, 1.0, 1e-6);
    arena_free(&a);
    ASSERT_OK(collection_delete(g_db, "mixed"));
}

/* ---- 7. definitions ---- */

TEST(test_definitions)
{
    char err[256];
    CollectionIndexParams p = { PAYLOAD_INDEX_KEYWORD, { .lowercase = 1 }, "{\"type\":\"keyword\",\"is_tenant\":true}" };
    uint64_t op1 = 0, op2 = 0, op3 = 0, op4 = 0;
    ASSERT_EQ_INT(collection_index_create(g_db, "nope", "x", &p, NULL, err, sizeof err), ERR_NOTFOUND);
    ASSERT_EQ_INT(collection_index_create(g_db, "plain", "a..b", &p, NULL, err, sizeof err), ERR_INVAL);
    ASSERT_OK(collection_index_create(g_db, "plain", "z", &p, &op1, err, sizeof err));
    /* Point writes and index changes share one operation counter. */
    ASSERT_TRUE(op1 > 0);
    CollectionInfo ci;
    ASSERT_OK(collection_info(g_db, "plain", &ci));
    ASSERT_EQ_INT(ci.n_indexes, 1);
    ASSERT_STR_EQ(ci.indexes[0].field, "z");
    ASSERT_STR_EQ(ci.indexes[0].params, "{\"type\":\"keyword\",\"is_tenant\":true}");
    ASSERT_EQ_U64(ci.indexes[0].points, 0); /* z holds integers */
    /* Replace it by an integer index: the points count follows. */
    CollectionIndexParams ip = { PAYLOAD_INDEX_INTEGER, { .lowercase = 1 }, "" };
    ASSERT_OK(collection_index_create(g_db, "plain", "z", &ip, &op2, err, sizeof err));
    ASSERT_EQ_U64(op2, op1 + 1);
    ASSERT_OK(collection_info(g_db, "plain", &ci));
    ASSERT_EQ_INT(ci.n_indexes, 1);
    ASSERT_EQ_INT(ci.indexes[0].type, PAYLOAD_INDEX_INTEGER);
    ASSERT_STR_EQ(ci.indexes[0].params, "");
    uint64_t with_z = 0;
    for (size_t i = 0; i < g_n_ref; i++) {
        const JsonValue *z = json_get(g_ref[i].payload, "z");
        with_z += z && z->type == JSON_NUMBER;
    }
    ASSERT_EQ_U64(ci.indexes[0].points, with_z);
    /* order_by works on it now; the definition survives a reopen. */
    collection_db_close(g_db);
    open_db();
    ASSERT_OK(collection_info(g_db, "plain", &ci));
    ASSERT_EQ_INT(ci.n_indexes, 1);
    ASSERT_EQ_U64(ci.indexes[0].points, with_z);
    Arena a;
    arena_init(&a, 0);
    CollectionOrderBy ob;
    memset(&ob, 0, sizeof ob);
    ob.key = "z";
    ob.limit = 3;
    CollectionResult r;
    ASSERT_OK(collection_order_by(g_db, "plain", &ob, &a, &r, err, sizeof err));
    ASSERT_EQ_INT(r.n, 3);
    ASSERT_TRUE(r.order_values[0] == 0);
    arena_free(&a);
    /* Delete: gone, also after a reopen; deleting again is no error. */
    ASSERT_OK(collection_index_delete(g_db, "plain", "z", &op3));
    ASSERT_OK(collection_index_delete(g_db, "plain", "z", &op4));
    ASSERT_EQ_U64(op3, op2 + 1); /* survives the reopen */
    ASSERT_EQ_U64(op4, op3 + 1);
    ASSERT_EQ_INT(collection_index_delete(g_db, "nope", "z", NULL), ERR_NOTFOUND);
    collection_db_close(g_db);
    open_db();
    ASSERT_OK(collection_info(g_db, "plain", &ci));
    ASSERT_EQ_INT(ci.n_indexes, 0);
    /* Dropping a collection drops its definitions: a new collection of
     * the same name starts without indexes. */
    ASSERT_OK(collection_delete(g_db, "indexed"));
    make_collection("indexed");
    ASSERT_OK(collection_info(g_db, "indexed", &ci));
    ASSERT_EQ_INT(ci.n_indexes, 0);
}

int main(void)
{
    log_set_level(LOG_WARN);
    snprintf(g_dir, sizeof g_dir, "/tmp/vitrine-test-pindex-%d", (int)getpid());
    rm_rf(g_dir);
    open_db();
    RUN(test_index_structure_random);
    RUN(test_index_terms_and_shapes);
    RUN(test_geo_binding);
    RUN(test_tokenizer);
    RUN(test_token_processing);
    RUN(test_equivalence_random);
    RUN(test_equivalence_after_writes);
    RUN(test_equivalence_after_reopen);
    RUN(test_order_by);
    RUN(test_text_match);
    RUN(test_group_write);
    RUN(test_sparse_with_index);
    RUN(test_definitions);
    collection_db_close(g_db);
    rm_rf(g_dir);
    arena_free(&g_ref_arena);
    free(g_ref);
    return harness_report(__FILE__);
}
