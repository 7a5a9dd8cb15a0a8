/*
 * bm25.h - Qdrant's local BM25 model ("qdrant/bm25"): a text becomes a
 * sparse vector on the server, as Qdrant v1.17.1 does it
 * (src/common/inference/bm25.rs). No I/O, no JSON: the Qdrant API layer
 * reads a Document's options into Bm25Params.
 *
 * The algorithm.
 *   - Tokens: Qdrant's text pipeline run in query mode (Tokenizer::
 *     tokenize_query, which Bm25 uses for documents too): split (word:
 *     runs of alphanumerics; whitespace; prefix: words), then per token
 *     fold to ASCII, lowercase, drop a stopword, stem, drop it outside
 *     [min_token_len, max_token_len] characters. The prefix tokenizer in
 *     query mode keeps each word whole (no stopwords), stemmed, dropped
 *     under min_token_len and cut to max_token_len characters.
 *   - The dimension of a token: murmur3_32 (x86, seed 0) of its UTF-8
 *     bytes, read as an i32 and made non-negative (unsigned_abs: 2^31
 *     stays 2^31). Clients compute the same ids (fastembed's Bm25).
 *   - A document (upsert, update vectors): one entry per distinct
 *     dimension, sorted by dimension, with the term-frequency half of BM25
 *     in double, then cast to float:
 *       tf = n (k + 1) / fma(k, 1 - b + b * doc_len / avg_len, n)
 *     n the token's count, doc_len the number of tokens kept. The IDF half
 *     is applied at search time by a sparse vector with modifier "idf".
 *   - A query (search, query, prefetch, recommend examples): weight 1 for
 *     each distinct dimension, in the order the tokens first appear.
 *   - No token (an empty text, or only stopwords): the empty vector.
 *
 * Counting is per dimension: two different tokens with one murmur3 id
 * count together (Qdrant counts per token and keeps one of them,
 * depending on its hash map's order: such a collision is unspecified
 * there).
 *
 * Differences from Qdrant that remain are the text pipeline's, shared
 * with full-text payload indexes (textproc.h): alphanumerics and
 * lowercasing approximate Rust's Unicode tables outside the ranges
 * textproc covers. The multilingual tokenizer is not served.
 */
#ifndef VITRINE_BM25_H
#define VITRINE_BM25_H

#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "index/textproc.h"

/* Qdrant's defaults (lib/api/src/rest/schema.rs, Bm25Config). */
#define BM25_DEFAULT_K 1.2
#define BM25_DEFAULT_B 0.75
#define BM25_DEFAULT_AVG_LEN 256.0

enum {
    BM25_TOKENIZER_WORD = 0,
    BM25_TOKENIZER_WHITESPACE = 1,
    BM25_TOKENIZER_PREFIX = 2,
};

typedef struct {
    double k, b, avg_len;
    int tokenizer;            /* BM25_TOKENIZER_* */
    int lowercase;            /* Qdrant's default: 1 */
    int ascii_folding;        /* Qdrant's default: 0 */
    int stem_lang;            /* -1: no stemming; else a stem.h language */
    const TextStopSet *stops; /* NULL: no stopwords (borrowed) */
    size_t min_token_len;     /* in characters; 0: no minimum */
    size_t max_token_len;     /* in characters; SIZE_MAX: no maximum */
} Bm25Params;

/* bm25_params_default: Qdrant's defaults, but the language's: no
 * stemmer and no stopwords (the caller sets English's, the default). */
Bm25Params bm25_params_default(void);

/* bm25_murmur3_32 is MurmurHash3_x86_32 of key[0..len) with seed. */
uint32_t bm25_murmur3_32(const void *key, size_t len, uint32_t seed);
/* bm25_token_id: the dimension of token tok[0..len). */
uint32_t bm25_token_id(const char *tok, size_t len);

/* A sparse vector in the caller's arena. */
typedef struct {
    uint32_t *indices;
    float *values;
    size_t n;
} Bm25Vector;

/*
 * bm25_embed turns text[0..len) (valid UTF-8) into out: a document's
 * vector when query is 0, a query's otherwise (see above). The arrays are
 * allocated in a (nothing when n is 0). Returns 0.
 */
int bm25_embed(const Bm25Params *p, const char *text, size_t len, int query, Arena *a,
               Bm25Vector *out);

#endif
