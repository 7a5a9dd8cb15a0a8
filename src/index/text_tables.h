/*
 * text_tables.h - the data of Qdrant's full-text index options: its
 * stopword lists, one per language, and its ASCII folding map. The
 * tables are generated into text_tables.c by tools/gen_text_tables.py
 * from Qdrant v1.17.1's source (see there for where each comes from);
 * textproc.c is what uses them.
 */
#ifndef VITRINE_TEXT_TABLES_H
#define VITRINE_TEXT_TABLES_H

#include <stddef.h>
#include <stdint.h>

/* Qdrant's stopword languages (its `Language` enum, in its order, which
 * is also alphabetical): TEXT_STOPWORDS[i] is language i. The numbers are
 * persisted (a bit mask in payload index records): never reorder. */
#define TEXT_LANG_COUNT 30

typedef struct {
    const char *name;         /* Qdrant's name: "english" */
    const char *const *words; /* as Qdrant lists them (lowercase) */
    size_t n;
} TextStopList;

extern const TextStopList TEXT_STOPWORDS[TEXT_LANG_COUNT];

/* One folded code point: cp becomes the ASCII string s (1 to 4 bytes). */
typedef struct {
    uint32_t cp;
    const char *s;
} TextFold;

/* Sorted by cp. */
extern const TextFold TEXT_FOLD[];
extern const size_t TEXT_FOLD_COUNT;

#endif
