/*
 * textproc.h - what Qdrant's full-text index does to each token between
 * splitting a text and indexing it (its TokensProcessor): ASCII folding,
 * lowercasing, and the stopword set. Stemming is stem.h's.
 *
 * Nothing here allocates but text_stopset_new; everything is safe to call
 * from any thread (a stopword set is read-only once made).
 */
#ifndef VITRINE_TEXTPROC_H
#define VITRINE_TEXTPROC_H

#include <stddef.h>
#include <stdint.h>

#include "index/text_tables.h"

/* text_language_parse: the stopword language named s (Qdrant's name,
 * "english", or its alias, "en"), or -1. */
int text_language_parse(const char *s);
/* text_language_name: Qdrant's name of stopword language lang. */
const char *text_language_name(int lang);
/* text_language_list: "`arabic`, `ar`, ..." (for errors). */
const char *text_language_list(void);

/* Folding makes a string at most this many times longer, plus one. */
#define TEXT_FOLD_GROWTH 2

/* text_fold writes s[0..len) with Qdrant's ASCII folding into out (room
 * for TEXT_FOLD_GROWTH * len bytes) and returns its length. Characters
 * without a mapping are copied. */
size_t text_fold(const char *s, size_t len, char *out);

/* text_lower writes s[0..len) lowercased into out (room for len bytes;
 * it never grows) and returns its length: the capitals of
 * ASCII, Latin-1, Latin Extended-A, Greek and Cyrillic. */
size_t text_lower(const char *s, size_t len, char *out);

/* UTF-8 helpers (the UTF-8 is valid: the JSON reader checked it). The
 * decoder and the counter are inline: tokenizing calls them per
 * character. */
static inline uint32_t text_utf8_next(const char *s, size_t len, size_t *i)
{
    const uint8_t *p = (const uint8_t *)s + *i;
    size_t left = len - *i;
    uint32_t c = p[0];
    size_t n = 1;
    if (c >= 0xf0 && left >= 4) {
        c = (c & 0x07) << 18 | (uint32_t)(p[1] & 0x3f) << 12 | (uint32_t)(p[2] & 0x3f) << 6 | (p[3] & 0x3f);
        n = 4;
    } else if (c >= 0xe0 && left >= 3) {
        c = (c & 0x0f) << 12 | (uint32_t)(p[1] & 0x3f) << 6 | (p[2] & 0x3f);
        n = 3;
    } else if (c >= 0xc0 && left >= 2) {
        c = (c & 0x1f) << 6 | (p[1] & 0x3f);
        n = 2;
    }
    *i += n;
    return c;
}

static inline size_t text_utf8_chars(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) n += ((uint8_t)s[i] & 0xc0) != 0x80;
    return n;
}

size_t text_utf8_put(char *out, uint32_t c);

/* Splitting (Qdrant's word and whitespace tokenizers). text_is_word_char
 * approximates Rust's char::is_alphanumeric: every character is a word
 * character but ASCII punctuation and the Unicode punctuation, symbol
 * and space blocks (Latin-1 punctuation, U+2000-2BFF, U+3000-303F,
 * U+FE30-FE4F, fullwidth ASCII punctuation, emoji). text_is_space is
 * Unicode White_Space (Rust's split_whitespace). */
int text_is_word_char(uint32_t c);
int text_is_space(uint32_t c);

/* A set of stopwords: the lists of the languages in langs (bit i:
 * TEXT_STOPWORDS[i]) and custom words, each lowercased when lowercase
 * (as Qdrant's StopwordsFilter stores them). */
typedef struct TextStopSet TextStopSet;
TextStopSet *text_stopset_new(uint64_t langs, const char *const *custom, size_t n_custom, int lowercase);
void text_stopset_free(TextStopSet *s);
/* text_stopset_has: 1 when w[0..len) is in the set (exact bytes). */
int text_stopset_has(const TextStopSet *s, const char *w, size_t len);

#endif
