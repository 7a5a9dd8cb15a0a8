/*
 * stem.h - Snowball stemming (the only module that sees libstemmer, the
 * Snowball project's C library: the same algorithms as the rust-stemmers
 * crate Qdrant uses).
 *
 * A libstemmer instance keeps its scratch in itself, so it is not
 * thread-safe: stem_acquire lends the calling thread an instance of a
 * language from a pool (making one when none is free) and stem_release
 * gives it back. Searches tokenize queries and payloads on the threadpool,
 * so each tokenizing call borrows its own instance for its duration.
 */
#ifndef VITRINE_STEM_H
#define VITRINE_STEM_H

#include <stddef.h>

/* Qdrant's SnowballLanguage enum, in its order. The numbers are persisted
 * in payload index records: never reorder. */
#define STEM_LANG_COUNT 19

/* stem_language_parse: the language named s (Qdrant's name, "english", or
 * its alias, "en"), or -1. */
int stem_language_parse(const char *s);
/* stem_language_name: Qdrant's name of lang ("english"). */
const char *stem_language_name(int lang);
/* stem_language_list: the names, "`arabic`, `armenian`, ..." (for errors). */
const char *stem_language_list(void);

typedef struct Stemmer Stemmer;

/* stem_acquire lends an instance for lang (NULL when out of memory); give
 * it back with stem_release. */
Stemmer *stem_acquire(int lang);
void stem_release(Stemmer *s);

/* stem_word stems the UTF-8 word w[0..len) into *out (*out_len bytes),
 * which stays valid until the next call on s. On failure (out of memory)
 * *out is w itself. */
void stem_word(Stemmer *s, const char *w, size_t len, const char **out, size_t *out_len);

#endif
