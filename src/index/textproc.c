/*
 * textproc.c - ASCII folding, lowercasing and stopword sets of full-text
 * indexes (see textproc.h); the data comes from text_tables.c.
 *
 * Qdrant (lib/segment/src/index/field_index/full_text_index/tokenizers/
 * tokens_processor.rs) processes each token of a split text in this
 * order: fold to ASCII when ascii_folding, lowercase when lowercase, drop
 * it when it is a stopword, stem it, drop it outside the length limits.
 * payload_index.c runs that pipeline with these pieces.
 *
 * Lowercasing differs from Qdrant's Rust str::to_lowercase (all of
 * Unicode, with final sigma) outside the ranges text_lower covers; it is
 * the lowercasing vitrine's text indexes always used, kept so that an
 * existing index tokenizes as before.
 */
#include "index/textproc.h"

#include <stdlib.h>
#include <string.h>

#include "base/util.h"

/* Qdrant's Language serde aliases, in TEXT_STOPWORDS order. */
static const char *const LANG_ALIAS[TEXT_LANG_COUNT] = {
    "ar", "az", "eu", "bn", "ca", "zh", "da", "nl", "en", "fi", "fr", "de", "el", "he", "hi-en",
    "hu", "id", "it", "jp", "kk", "ne", "no", "pt", "ro", "ru", "sl", "es", "sv", "tg", "tr",
};

int text_language_parse(const char *s)
{
    if (!s) return -1;
    for (int i = 0; i < TEXT_LANG_COUNT; i++)
        if (!strcmp(s, TEXT_STOPWORDS[i].name) || !strcmp(s, LANG_ALIAS[i])) return i;
    return -1;
}

const char *text_language_name(int lang)
{
    return lang >= 0 && lang < TEXT_LANG_COUNT ? TEXT_STOPWORDS[lang].name : "";
}

const char *text_language_list(void)
{
    return "`arabic`, `ar`, `azerbaijani`, `az`, `basque`, `eu`, `bengali`, `bn`, `catalan`, `ca`, "
           "`chinese`, `zh`, `danish`, `da`, `dutch`, `nl`, `english`, `en`, `finnish`, `fi`, "
           "`french`, `fr`, `german`, `de`, `greek`, `el`, `hebrew`, `he`, `hinglish`, `hi-en`, "
           "`hungarian`, `hu`, `indonesian`, `id`, `italian`, `it`, `japanese`, `jp`, `kazakh`, `kk`, "
           "`nepali`, `ne`, `norwegian`, `no`, `portuguese`, `pt`, `romanian`, `ro`, `russian`, `ru`, "
           "`slovene`, `sl`, `spanish`, `es`, `swedish`, `sv`, `tajik`, `tg`, `turkish`, `tr`";
}

/* ---- UTF-8 ---- */

size_t text_utf8_put(char *out, uint32_t c)
{
    if (c < 0x80) {
        out[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        out[0] = (char)(0xc0 | c >> 6);
        out[1] = (char)(0x80 | (c & 0x3f));
        return 2;
    }
    if (c < 0x10000) {
        out[0] = (char)(0xe0 | c >> 12);
        out[1] = (char)(0x80 | (c >> 6 & 0x3f));
        out[2] = (char)(0x80 | (c & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | c >> 18);
    out[1] = (char)(0x80 | (c >> 12 & 0x3f));
    out[2] = (char)(0x80 | (c >> 6 & 0x3f));
    out[3] = (char)(0x80 | (c & 0x3f));
    return 4;
}

/* ---- splitting ---- */

int text_is_word_char(uint32_t c)
{
    if (c < 0x80) return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (c < 0xc0) /* Latin-1 punctuation and symbols, but its letters and digits */
        return c == 0xaa || c == 0xb2 || c == 0xb3 || c == 0xb5 || c == 0xb9 || c == 0xba ||
               (c >= 0xbc && c <= 0xbe);
    if (c == 0xd7 || c == 0xf7) return 0; /* x and division signs */
    if (c >= 0x2000 && c <= 0x2bff) return 0; /* punctuation, arrows, maths, symbols */
    if (c >= 0x3000 && c <= 0x303f) return 0; /* CJK punctuation and ideographic space */
    if (c >= 0xfe30 && c <= 0xfe4f) return 0; /* CJK compatibility forms */
    if ((c >= 0xff00 && c <= 0xff0f) || (c >= 0xff1a && c <= 0xff20) ||
        (c >= 0xff3b && c <= 0xff40) || (c >= 0xff5b && c <= 0xff65))
        return 0; /* fullwidth ASCII punctuation */
    if (c >= 0x1f000 && c <= 0x1faff) return 0; /* emoji and pictographs */
    if (c == 0x1680 || c == 0x0085 || c == 0x00a0) return 0;
    return 1;
}

int text_is_space(uint32_t c)
{
    return (c >= 0x09 && c <= 0x0d) || c == 0x20 || c == 0x85 || c == 0xa0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f ||
           c == 0x205f || c == 0x3000;
}

/* ---- folding and lowercasing ---- */

static const char *fold_char(uint32_t c)
{
    size_t lo = 0, hi = TEXT_FOLD_COUNT;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (TEXT_FOLD[mid].cp < c) lo = mid + 1;
        else hi = mid;
    }
    return lo < TEXT_FOLD_COUNT && TEXT_FOLD[lo].cp == c ? TEXT_FOLD[lo].s : NULL;
}

size_t text_fold(const char *s, size_t len, char *out)
{
    size_t o = 0, i = 0;
    while (i < len) {
        size_t at = i;
        uint32_t c = text_utf8_next(s, len, &i);
        const char *r = c < 0x80 ? NULL : fold_char(c);
        if (r) {
            size_t n = strlen(r);
            memcpy(out + o, r, n);
            o += n;
        } else {
            memcpy(out + o, s + at, i - at);
            o += i - at;
        }
    }
    return o;
}

/* to_lower lowercases the capitals of ASCII, Latin-1, Latin Extended-A,
 * Greek and Cyrillic (each to a character of the same UTF-8 length);
 * other characters are returned unchanged. */
static uint32_t to_lower(uint32_t c)
{
    if (c < 0x80) return c >= 'A' && c <= 'Z' ? c + 32 : c;
    if (c >= 0xc0 && c <= 0xde && c != 0xd7) return c + 32;
    if (c >= 0x100 && c <= 0x17f) {
        if (c == 0x130) return 0x69; /* dotted I: 'i' (one byte shorter: padded below) */
        if (c == 0x178) return 0xff;
        if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17e)) return c & 1 ? c + 1 : c;
        if (c == 0x138 || c == 0x149 || c == 0x17f) return c;
        return c & 1 ? c : c + 1;
    }
    if (c >= 0x391 && c <= 0x3a9 && c != 0x3a2) return c + 32;
    if (c >= 0x410 && c <= 0x42f) return c + 32;
    if (c >= 0x400 && c <= 0x40f) return c + 80;
    return c;
}

size_t text_lower(const char *s, size_t len, char *out)
{
    size_t o = 0, i = 0;
    while (i < len) {
        uint8_t b = (uint8_t)s[i];
        if (b < 0x80) { /* ASCII, most text: no decoding */
            out[o++] = (char)(b >= 'A' && b <= 'Z' ? b + 32 : b);
            i++;
            continue;
        }
        uint32_t c = to_lower(text_utf8_next(s, len, &i));
        o += text_utf8_put(out + o, c);
    }
    return o;
}

/* ---- stopword sets ---- */

/* An open-addressing hash set of strings, at most half full. */
struct TextStopSet {
    size_t cap;       /* a power of two */
    char **slot;      /* NUL-terminated words, NULL for empty */
    uint32_t *len;
};

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
    return h;
}

static void set_add(TextStopSet *set, const char *w, size_t n, int lowercase)
{
    char *word = xmalloc(n + 1);
    if (lowercase) n = text_lower(w, n, word);
    else memcpy(word, w, n);
    word[n] = 0;
    for (size_t i = hash_bytes(word, n) & (set->cap - 1);; i = (i + 1) & (set->cap - 1)) {
        if (!set->slot[i]) {
            set->slot[i] = word;
            set->len[i] = (uint32_t)n;
            return;
        }
        if (set->len[i] == n && !memcmp(set->slot[i], word, n)) {
            free(word);
            return;
        }
    }
}

TextStopSet *text_stopset_new(uint64_t langs, const char *const *custom, size_t n_custom, int lowercase)
{
    size_t total = n_custom;
    for (int l = 0; l < TEXT_LANG_COUNT; l++)
        if (langs >> l & 1) total += TEXT_STOPWORDS[l].n;
    TextStopSet *set = xcalloc(1, sizeof *set);
    set->cap = 16;
    while (set->cap < 2 * total) set->cap *= 2;
    set->slot = xcalloc(set->cap, sizeof *set->slot);
    set->len = xcalloc(set->cap, sizeof *set->len);
    for (int l = 0; l < TEXT_LANG_COUNT; l++)
        if (langs >> l & 1)
            for (size_t k = 0; k < TEXT_STOPWORDS[l].n; k++)
                set_add(set, TEXT_STOPWORDS[l].words[k], strlen(TEXT_STOPWORDS[l].words[k]), lowercase);
    for (size_t k = 0; k < n_custom; k++) set_add(set, custom[k], strlen(custom[k]), lowercase);
    return set;
}

void text_stopset_free(TextStopSet *set)
{
    if (!set) return;
    for (size_t i = 0; i < set->cap; i++) free(set->slot[i]);
    free(set->slot);
    free(set->len);
    free(set);
}

int text_stopset_has(const TextStopSet *set, const char *w, size_t n)
{
    if (!set) return 0;
    for (size_t i = hash_bytes(w, n) & (set->cap - 1); set->slot[i]; i = (i + 1) & (set->cap - 1))
        if (set->len[i] == n && !memcmp(set->slot[i], w, n)) return 1;
    return 0;
}
