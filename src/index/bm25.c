/*
 * bm25.c - Qdrant's local BM25 model (see bm25.h): the token pipeline of
 * textproc.c and stem.c run as Qdrant's Tokenizer::tokenize_query runs
 * it, murmur3 token ids, and the term-frequency weights.
 *
 * Unlike payload_index.c's tokenizer, tokens are not cut at a byte limit:
 * a token's id is the hash of all of it, as Qdrant's.
 */
#include "index/bm25.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "index/stem.h"

Bm25Params bm25_params_default(void)
{
    return (Bm25Params){ .k = BM25_DEFAULT_K,
                         .b = BM25_DEFAULT_B,
                         .avg_len = BM25_DEFAULT_AVG_LEN,
                         .tokenizer = BM25_TOKENIZER_WORD,
                         .lowercase = 1,
                         .stem_lang = -1,
                         .max_token_len = SIZE_MAX };
}

/* ---- murmur3 ---- */

static uint32_t rotl32(uint32_t x, int r) { return x << r | x >> (32 - r); }

uint32_t bm25_murmur3_32(const void *key, size_t len, uint32_t seed)
{
    /* Austin Appleby's MurmurHash3_x86_32 (public domain), as the murmur3
     * crate's murmur3_32_of_slice computes it: little-endian blocks. */
    const uint8_t *d = key;
    const uint32_t c1 = 0xcc9e2d51u, c2 = 0x1b873593u;
    uint32_t h = seed;
    size_t nblocks = len / 4;
    for (size_t i = 0; i < nblocks; i++) {
        const uint8_t *p = d + 4 * i;
        uint32_t k = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        k *= c1;
        k = rotl32(k, 15);
        k *= c2;
        h ^= k;
        h = rotl32(h, 13);
        h = h * 5 + 0xe6546b64u;
    }
    const uint8_t *tail = d + 4 * nblocks;
    uint32_t k1 = 0;
    switch (len & 3) {
    case 3: k1 ^= (uint32_t)tail[2] << 16; /* fall through */
    case 2: k1 ^= (uint32_t)tail[1] << 8;  /* fall through */
    case 1:
        k1 ^= tail[0];
        k1 *= c1;
        k1 = rotl32(k1, 15);
        k1 *= c2;
        h ^= k1;
        break;
    default: break;
    }
    return hash_fmix32(h ^ (uint32_t)len);
}

uint32_t bm25_token_id(const char *tok, size_t len)
{
    /* (hash as i32).unsigned_abs(): negative values are negated in u32
     * arithmetic, so i32::MIN stays 2^31. */
    uint32_t h = bm25_murmur3_32(tok, len, 0);
    return h < 0x80000000u ? h : 0u - h;
}

/* ---- tokens ---- */

/* One embedding call: the params, scratch for a token's forms, the
 * stemmer it borrowed, and the ids of the tokens kept, in text order. */
typedef struct {
    const Bm25Params *p;
    char *folded, *lowered; /* room for TEXT_FOLD_GROWTH * (word bytes) + 8 */
    Stemmer *stem;
    uint32_t *ids;
    size_t n, cap;
} Embed;

static void push_id(Embed *e, uint32_t id)
{
    if (e->n == e->cap) {
        e->cap = e->cap ? 2 * e->cap : 64;
        e->ids = xrealloc(e->ids, e->cap * sizeof *e->ids);
    }
    e->ids[e->n++] = id;
}

/* utf8_prefix: the byte length of the first n characters of w. */
static size_t utf8_prefix(const char *w, size_t len, size_t n)
{
    size_t i = 0;
    while (n && i < len) {
        text_utf8_next(w, len, &i);
        n--;
    }
    return i;
}

/* process_word runs Qdrant's pipeline on one split word w[0..len): its
 * TokensProcessor::process_token (word and whitespace tokenizers), or
 * PrefixTokenizer::tokenize_query's steps (prefix). */
static void process_word(Embed *e, const char *w, size_t len)
{
    const Bm25Params *p = e->p;
    int prefix = p->tokenizer == BM25_TOKENIZER_PREFIX;
    if (!len) return;
    if (p->ascii_folding) {
        len = text_fold(w, len, e->folded);
        w = e->folded;
    }
    if (p->lowercase) {
        len = text_lower(w, len, e->lowered);
        w = e->lowered;
    }
    /* A typed prefix may be a stopword: Qdrant's prefix query keeps it. */
    if (!prefix && p->stops && text_stopset_has(p->stops, w, len)) return;
    if (p->stem_lang >= 0) {
        if (!e->stem) e->stem = stem_acquire(p->stem_lang);
        stem_word(e->stem, w, len, &w, &len);
    }
    size_t chars = text_utf8_chars(w, len);
    if (p->min_token_len && chars < p->min_token_len) return;
    if (prefix) {
        if (chars > p->max_token_len) len = utf8_prefix(w, len, p->max_token_len);
    } else if (chars > p->max_token_len) {
        return;
    }
    push_id(e, bm25_token_id(w, len));
}

/* tokenize splits text as the params' tokenizer does and processes each
 * word. */
static void tokenize(Embed *e, const char *s, size_t len)
{
    int ws = e->p->tokenizer == BM25_TOKENIZER_WHITESPACE;
    size_t start = 0, i = 0;
    int in = 0;
    while (i < len) {
        size_t at = i;
        uint32_t c = text_utf8_next(s, len, &i);
        int in_word = ws ? !text_is_space(c) : text_is_word_char(c);
        if (!in_word) {
            if (in) process_word(e, s + start, at - start);
            in = 0;
        } else if (!in) {
            in = 1;
            start = at;
        }
    }
    if (in) process_word(e, s + start, len - start);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* doc_vector: one entry per distinct id, sorted, weighted by BM25's term
 * frequency (Bm25::term_frequency). */
static void doc_vector(const Bm25Params *p, uint32_t *ids, size_t n, Arena *a, Bm25Vector *out)
{
    qsort(ids, n, sizeof *ids, cmp_u32);
    size_t distinct = 0;
    for (size_t i = 0; i < n; i++) distinct += !i || ids[i] != ids[i - 1];
    out->indices = arena_alloc(a, distinct * sizeof *out->indices);
    out->values = arena_alloc(a, distinct * sizeof *out->values);
    double doc_len = (double)n, k = p->k, b = p->b;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && ids[j] == ids[i]) j++;
        double count = (double)(j - i);
        double tf = count * (k + 1.0);
        /* Rust's k.mul_add(x, count): one rounding, as fma. */
        tf /= fma(k, 1.0 - b + b * doc_len / p->avg_len, count);
        out->indices[o] = ids[i];
        out->values[o++] = (float)tf;
        i = j;
    }
    out->n = distinct;
}

/* query_vector: each distinct id once, weight 1, in order of first
 * appearance (Bm25::search_embed's unique()). A hash set of ids seen. */
static void query_vector(const uint32_t *ids, size_t n, Arena *a, Bm25Vector *out)
{
    size_t cap = 16;
    while (cap < 2 * n) cap *= 2;
    uint32_t *slot = xmalloc(cap * sizeof *slot);
    uint8_t *used = xcalloc(cap, 1);
    out->indices = arena_alloc(a, n * sizeof *out->indices);
    out->values = arena_alloc(a, n * sizeof *out->values);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        size_t h = (ids[i] * 2654435761u) & (cap - 1);
        while (used[h] && slot[h] != ids[i]) h = (h + 1) & (cap - 1);
        if (used[h]) continue;
        used[h] = 1;
        slot[h] = ids[i];
        out->indices[o] = ids[i];
        out->values[o++] = 1.0f;
    }
    out->n = o;
    free(slot);
    free(used);
}

int bm25_embed(const Bm25Params *p, const char *text, size_t len, int query, Arena *a,
               Bm25Vector *out)
{
    memset(out, 0, sizeof *out);
    Embed e = { .p = p };
    /* A word is at most the whole text; folding grows it at most
     * TEXT_FOLD_GROWTH times, lowercasing never. */
    size_t room = TEXT_FOLD_GROWTH * len + 8;
    e.folded = xmalloc(room);
    e.lowered = xmalloc(room);
    tokenize(&e, text, len);
    stem_release(e.stem);
    free(e.folded);
    free(e.lowered);
    if (e.n) {
        if (query) query_vector(e.ids, e.n, a, out);
        else doc_vector(p, e.ids, e.n, a, out);
    }
    free(e.ids);
    return 0;
}
