/*
 * test_bm25.c - Qdrant's local BM25 model (index/bm25.h) against
 * references that are not the code under test: MurmurHash3_x86_32's
 * published verification values (SMHasher's test vectors), BM25's term
 * frequency written out in long double, and token ids spelled out by hand
 * from the hash. The whole pipeline against an independent Python
 * implementation (murmur3 and Snowball of its own) is
 * tests/e2e/qdrant_bm25.py.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "index/bm25.h"
#include "index/stem.h"

/* Published MurmurHash3_x86_32 values (key, seed -> hash). */
TEST(test_murmur3_published_vectors)
{
    static const struct {
        const char *key;
        size_t len;
        uint32_t seed, hash;
    } v[] = {
        { "", 0, 0, 0 },
        { "", 0, 1, 0x514E28B7u },
        { "", 0, 0xffffffffu, 0x81F16F39u },
        { "\0\0\0\0", 4, 0, 0x2362F9DEu },
        { "aaaa", 4, 0x9747b28cu, 0x5A97808Au },
        { "aaa", 3, 0x9747b28cu, 0x283E0130u },
        { "aa", 2, 0x9747b28cu, 0x5D211726u },
        { "a", 1, 0x9747b28cu, 0x7FA09EA6u },
        { "abcd", 4, 0x9747b28cu, 0xF0478627u },
        { "abc", 3, 0x9747b28cu, 0xC84A62DDu },
        { "ab", 2, 0x9747b28cu, 0x74875592u },
        { "Hello, world!", 13, 0x9747b28cu, 0x24884CBAu },
        { "The quick brown fox jumps over the lazy dog", 43, 0x9747b28cu, 0x2FA826CDu },
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        ASSERT_EQ_U64(bm25_murmur3_32(v[i].key, v[i].len, v[i].seed), v[i].hash);
}

/* A token's id is its hash read as i32, made non-negative. */
TEST(test_token_id_sign)
{
    /* murmur3("hello", 0) = 0x248BFA47: positive as i32, kept. */
    ASSERT_EQ_U64(bm25_murmur3_32("hello", 5, 0), 0x248BFA47u);
    ASSERT_EQ_U64(bm25_token_id("hello", 5), 0x248BFA47u);
    /* Find tokens with the top bit set: negated in two's complement. */
    int seen = 0;
    char w[16];
    for (int i = 0; i < 200 && seen < 5; i++) {
        int n = snprintf(w, sizeof w, "w%d", i);
        uint32_t h = bm25_murmur3_32(w, (size_t)n, 0);
        uint32_t id = bm25_token_id(w, (size_t)n);
        if (h & 0x80000000u) {
            seen++;
            ASSERT_EQ_U64(id, (uint64_t)(-(int64_t)(int32_t)h));
        } else {
            ASSERT_EQ_U64(id, h);
        }
        ASSERT_TRUE(id <= 0x80000000u);
    }
    ASSERT_TRUE(seen > 0);
}

/* Plain params: no stopwords, no stemming, as split. */
static Bm25Params plain(void)
{
    Bm25Params p = bm25_params_default();
    return p;
}

static int find(const Bm25Vector *v, uint32_t id)
{
    for (size_t i = 0; i < v->n; i++)
        if (v->indices[i] == id) return (int)i;
    return -1;
}

static float tf_ref(double n, double doc_len, double k, double b, double avg)
{
    long double x = (long double)n * ((long double)k + 1) /
                    ((long double)k * (1 - (long double)b + (long double)b * doc_len / avg) + n);
    return (float)x;
}

TEST(test_document_weights)
{
    Arena a;
    arena_init(&a, 4096);
    Bm25Params p = plain();
    Bm25Vector v;
    const char *t = "Red shoe, red SHOE; red bag!";
    ASSERT_OK(bm25_embed(&p, t, strlen(t), 0, &a, &v));
    ASSERT_EQ_INT(v.n, 3);
    for (size_t i = 1; i < v.n; i++) ASSERT_TRUE(v.indices[i - 1] < v.indices[i]);
    int r = find(&v, bm25_token_id("red", 3)), s = find(&v, bm25_token_id("shoe", 4)),
        g = find(&v, bm25_token_id("bag", 3));
    ASSERT_TRUE(r >= 0 && s >= 0 && g >= 0);
    ASSERT_TRUE(v.values[r] == tf_ref(3, 6, 1.2, 0.75, 256));
    ASSERT_TRUE(v.values[s] == tf_ref(2, 6, 1.2, 0.75, 256));
    ASSERT_TRUE(v.values[g] == tf_ref(1, 6, 1.2, 0.75, 256));
    /* Other k, b, avg_len. */
    p.k = 2.5;
    p.b = 0.3;
    p.avg_len = 4;
    ASSERT_OK(bm25_embed(&p, t, strlen(t), 0, &a, &v));
    r = find(&v, bm25_token_id("red", 3));
    ASSERT_TRUE(v.values[r] == tf_ref(3, 6, 2.5, 0.3, 4));
    arena_free(&a);
}

TEST(test_query_order_and_ones)
{
    Arena a;
    arena_init(&a, 4096);
    Bm25Params p = plain();
    Bm25Vector v;
    const char *t = "zebra apple zebra mango apple";
    ASSERT_OK(bm25_embed(&p, t, strlen(t), 1, &a, &v));
    ASSERT_EQ_INT(v.n, 3);
    ASSERT_EQ_U64(v.indices[0], bm25_token_id("zebra", 5));
    ASSERT_EQ_U64(v.indices[1], bm25_token_id("apple", 5));
    ASSERT_EQ_U64(v.indices[2], bm25_token_id("mango", 5));
    for (size_t i = 0; i < v.n; i++) ASSERT_TRUE(v.values[i] == 1.0f);
    arena_free(&a);
}

TEST(test_empty_and_stopwords_only)
{
    Arena a;
    arena_init(&a, 4096);
    Bm25Params p = plain();
    TextStopSet *en = text_stopset_new(1ull << text_language_parse("english"), NULL, 0, 1);
    p.stops = en;
    Bm25Vector v;
    ASSERT_OK(bm25_embed(&p, "", 0, 0, &a, &v));
    ASSERT_EQ_INT(v.n, 0);
    ASSERT_OK(bm25_embed(&p, " ,;! ", 5, 1, &a, &v));
    ASSERT_EQ_INT(v.n, 0);
    ASSERT_OK(bm25_embed(&p, "The a an AND", 12, 0, &a, &v));
    ASSERT_EQ_INT(v.n, 0);
    /* Stopwords do not count in the document's length. */
    ASSERT_OK(bm25_embed(&p, "the fox", 7, 0, &a, &v));
    ASSERT_EQ_INT(v.n, 1);
    ASSERT_TRUE(v.values[0] == tf_ref(1, 1, 1.2, 0.75, 256));
    text_stopset_free(en);
    arena_free(&a);
}

TEST(test_stemming_and_lengths)
{
    Arena a;
    arena_init(&a, 4096);
    Bm25Params p = plain();
    p.stem_lang = stem_language_parse("english");
    Bm25Vector v;
    /* Snowball English: running -> run, universally -> univers. */
    ASSERT_OK(bm25_embed(&p, "running universally", 19, 1, &a, &v));
    ASSERT_EQ_INT(v.n, 2);
    ASSERT_EQ_U64(v.indices[0], bm25_token_id("run", 3));
    ASSERT_EQ_U64(v.indices[1], bm25_token_id("univers", 7));
    /* Lengths are checked after stemming, in characters. */
    p.min_token_len = 4;
    ASSERT_OK(bm25_embed(&p, "running universally", 19, 1, &a, &v));
    ASSERT_EQ_INT(v.n, 1);
    ASSERT_EQ_U64(v.indices[0], bm25_token_id("univers", 7));
    p.min_token_len = 0;
    p.max_token_len = 3;
    ASSERT_OK(bm25_embed(&p, "running universally", 19, 1, &a, &v));
    ASSERT_EQ_INT(v.n, 1);
    ASSERT_EQ_U64(v.indices[0], bm25_token_id("run", 3));
    arena_free(&a);
}

TEST(test_prefix_and_whitespace)
{
    Arena a;
    arena_init(&a, 4096);
    Bm25Params p = plain();
    TextStopSet *en = text_stopset_new(1ull << text_language_parse("english"), NULL, 0, 1);
    p.stops = en;
    Bm25Vector v;
    /* Prefix in query mode: whole words cut to max_token_len, stopwords kept. */
    p.tokenizer = BM25_TOKENIZER_PREFIX;
    p.max_token_len = 3;
    ASSERT_OK(bm25_embed(&p, "Theory the", 10, 0, &a, &v));
    ASSERT_EQ_INT(v.n, 1);
    ASSERT_EQ_U64(v.indices[0], bm25_token_id("the", 3));
    ASSERT_TRUE(v.values[0] == tf_ref(2, 2, 1.2, 0.75, 256));
    /* Whitespace: punctuation stays in the token. */
    p.tokenizer = BM25_TOKENIZER_WHITESPACE;
    p.max_token_len = SIZE_MAX;
    ASSERT_OK(bm25_embed(&p, "red-brown  fox.", 15, 1, &a, &v));
    ASSERT_EQ_INT(v.n, 2);
    ASSERT_EQ_U64(v.indices[0], bm25_token_id("red-brown", 9));
    ASSERT_EQ_U64(v.indices[1], bm25_token_id("fox.", 4));
    text_stopset_free(en);
    arena_free(&a);
}

/* A token is hashed whole, however long (no byte limit as in text indexes). */
TEST(test_long_token)
{
    Arena a;
    arena_init(&a, 4096);
    Bm25Params p = plain();
    char t[1001];
    for (int i = 0; i < 1000; i++) t[i] = (char)('a' + i % 26);
    t[1000] = 0;
    Bm25Vector v;
    ASSERT_OK(bm25_embed(&p, t, 1000, 1, &a, &v));
    ASSERT_EQ_INT(v.n, 1);
    ASSERT_EQ_U64(v.indices[0], bm25_token_id(t, 1000));
    arena_free(&a);
}

int main(void)
{
    RUN(test_murmur3_published_vectors);
    RUN(test_token_id_sign);
    RUN(test_document_weights);
    RUN(test_query_order_and_ones);
    RUN(test_empty_and_stopwords_only);
    RUN(test_stemming_and_lengths);
    RUN(test_prefix_and_whitespace);
    RUN(test_long_token);
    return harness_report(__FILE__);
}
