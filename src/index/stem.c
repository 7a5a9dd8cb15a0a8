/*
 * stem.c - Snowball stemmers from libstemmer, lent out from per-language
 * pools (see stem.h).
 *
 * Design. sb_stemmer instances are cheap to keep (a few hundred bytes)
 * but not to make per word, and one may not be used by two threads at
 * once. A pool per language, under one mutex, holds the idle instances:
 * a tokenizing call borrows one and gives it back, so there are at most
 * as many as calls that ran at the same time. Thread-local instances were
 * rejected: they would be lost (and reported as leaks) when a thread ends.
 * Idle instances stay for the life of the process.
 */
#include "index/stem.h"

#include <libstemmer.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Qdrant's names (lib/segment/src/data_types/index.rs SnowballLanguage),
 * their serde aliases, and libstemmer's algorithm names (the same words). */
static const struct {
    const char *name, *alias;
} LANGS[STEM_LANG_COUNT] = {
    { "arabic", "ar" },     { "armenian", "hy" }, { "danish", "da" },    { "dutch", "nl" },
    { "english", "en" },    { "finnish", "fi" },  { "french", "fr" },    { "german", "de" },
    { "greek", "el" },      { "hungarian", "hu" }, { "italian", "it" },  { "norwegian", "no" },
    { "portuguese", "pt" }, { "romanian", "ro" }, { "russian", "ru" },   { "spanish", "es" },
    { "swedish", "sv" },    { "tamil", "ta" },    { "turkish", "tr" },
};

struct Stemmer {
    struct sb_stemmer *sb;
    int lang;
    Stemmer *next; /* in its pool while idle */
};

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static Stemmer *pool[STEM_LANG_COUNT];

int stem_language_parse(const char *s)
{
    if (!s) return -1;
    for (int i = 0; i < STEM_LANG_COUNT; i++)
        if (!strcmp(s, LANGS[i].name) || !strcmp(s, LANGS[i].alias)) return i;
    return -1;
}

const char *stem_language_name(int lang)
{
    return lang >= 0 && lang < STEM_LANG_COUNT ? LANGS[lang].name : "";
}

const char *stem_language_list(void)
{
    return "`arabic`, `ar`, `armenian`, `hy`, `danish`, `da`, `dutch`, `nl`, `english`, `en`, "
           "`finnish`, `fi`, `french`, `fr`, `german`, `de`, `greek`, `el`, `hungarian`, `hu`, "
           "`italian`, `it`, `norwegian`, `no`, `portuguese`, `pt`, `romanian`, `ro`, `russian`, "
           "`ru`, `spanish`, `es`, `swedish`, `sv`, `tamil`, `ta`, `turkish`, `tr`";
}

Stemmer *stem_acquire(int lang)
{
    if (lang < 0 || lang >= STEM_LANG_COUNT) return NULL;
    pthread_mutex_lock(&pool_lock);
    Stemmer *s = pool[lang];
    if (s) pool[lang] = s->next;
    pthread_mutex_unlock(&pool_lock);
    if (s) return s;
    s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->sb = sb_stemmer_new(LANGS[lang].name, "UTF_8");
    if (!s->sb) {
        free(s);
        return NULL;
    }
    s->lang = lang;
    return s;
}

void stem_release(Stemmer *s)
{
    if (!s) return;
    pthread_mutex_lock(&pool_lock);
    s->next = pool[s->lang];
    pool[s->lang] = s;
    pthread_mutex_unlock(&pool_lock);
}

void stem_word(Stemmer *s, const char *w, size_t len, const char **out, size_t *out_len)
{
    *out = w;
    *out_len = len;
    if (!s || len > (size_t)INT32_MAX) return;
    const sb_symbol *r = sb_stemmer_stem(s->sb, (const sb_symbol *)w, (int)len);
    if (!r) return; /* out of memory: the word unstemmed */
    *out = (const char *)r;
    *out_len = (size_t)sb_stemmer_length(s->sb);
}
