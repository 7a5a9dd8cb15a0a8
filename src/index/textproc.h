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

/* utf8 helpers (the UTF-8 is valid: the JSON reader checked it). */
uint32_t text_utf8_next(const char *s, size_t len, size_t *i);
size_t text_utf8_put(char *out, uint32_t c);
size_t text_utf8_chars(const char *s, size_t len);

/* A set of stopwords: the lists of the languages in langs (bit i:
 * TEXT_STOPWORDS[i]) and custom words, each lowercased when lowercase
 * (as Qdrant's StopwordsFilter stores them). */
typedef struct TextStopSet TextStopSet;
TextStopSet *text_stopset_new(uint64_t langs, const char *const *custom, size_t n_custom, int lowercase);
void text_stopset_free(TextStopSet *s);
/* text_stopset_has: 1 when w[0..len) is in the set (exact bytes). */
int text_stopset_has(const TextStopSet *s, const char *w, size_t len);

#endif
