/*
 * payload_index.c - payload indexes (see payload_index.h for the design).
 *
 * Three parts: the ordered set of (key, node) entries (base + delta with
 * tombstones), the term dictionary (strings and tokens to dense ids, with
 * the number of nodes holding each), and the forward records (one
 * allocation per node: shapes, then the values of the index's type).
 * payload_index_set extracts a node's new record from its payload, diffs
 * its keys against the old record's and applies only the difference to
 * the set and the term counts.
 */
#include "index/payload_index.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/util.h"
#include "index/pointid.h"
#include "index/stem.h"
#include "index/textproc.h"

/* The delta of the ordered set holds at least this many entries before a
 * merge, and up to 2 * sqrt(base) (insert memmove vs merge cost). */
#define PI_DELTA_MIN 256
/* Longest key path accepted, in bytes. */
#define PI_FIELD_MAX 1024

/* ---- key encodings: memcmp / integer order is value order ---- */

static uint64_t enc_double(double d)
{
    if (d == 0) d = 0.0; /* -0.0 and 0.0 compare equal: one key */
    uint64_t b;
    memcpy(&b, &d, sizeof b);
    return (b >> 63) ? ~b : b | (1ULL << 63);
}

static double dec_double(uint64_t k)
{
    uint64_t b = (k >> 63) ? k & ~(1ULL << 63) : ~k;
    double d;
    memcpy(&d, &b, sizeof d);
    return d;
}

static uint64_t enc_time(int64_t t) { return (uint64_t)t ^ (1ULL << 63); }
static int64_t dec_time(uint64_t k) { return (int64_t)(k ^ (1ULL << 63)); }

/* ---- the ordered set ---- */

enum {
    ENTRY_DEAD = 1u, /* a tombstone in the base */
    ENTRY_INT = 2u,  /* numeric indexes: the value is an integer (JSON_NUM_INT) */
};

typedef struct {
    uint64_t key;
    uint32_t node;
    uint32_t flags;
} Entry;

typedef struct {
    Entry *base; /* sorted by (key, node); tombstones flagged */
    size_t n_base, cap_base, n_dead;
    Entry *delta; /* sorted by (key, node), no tombstones */
    size_t n_delta, cap_delta;
    int bulk; /* inserts append to base unsorted */
} OrdSet;

static int entry_before(const Entry *e, uint64_t key, uint32_t node)
{
    return e->key < key || (e->key == key && e->node < node);
}

/* lower_bound: first entry >= (key, node). */
static size_t lower_bound(const Entry *a, size_t n, uint64_t key, uint32_t node)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t m = lo + (hi - lo) / 2;
        if (entry_before(&a[m], key, node)) lo = m + 1;
        else hi = m;
    }
    return lo;
}

/* upper_key: first entry whose key is > key. */
static size_t upper_key(const Entry *a, size_t n, uint64_t key)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t m = lo + (hi - lo) / 2;
        if (a[m].key <= key) lo = m + 1;
        else hi = m;
    }
    return lo;
}

static int cmp_entry(const void *pa, const void *pb)
{
    const Entry *a = pa, *b = pb;
    if (a->key != b->key) return a->key < b->key ? -1 : 1;
    return a->node < b->node ? -1 : a->node > b->node;
}

static size_t delta_max(const OrdSet *s)
{
    size_t m = 2 * (size_t)sqrt((double)s->n_base);
    return m < PI_DELTA_MIN ? PI_DELTA_MIN : m;
}

/* set_merge folds the delta into the base and drops the tombstones. */
static void set_merge(OrdSet *s)
{
    size_t n = s->n_base - s->n_dead + s->n_delta;
    Entry *out = xmalloc((n ? n : 1) * sizeof *out);
    size_t i = 0, j = 0, k = 0;
    while (i < s->n_base || j < s->n_delta) {
        if (i < s->n_base && (s->base[i].flags & ENTRY_DEAD)) {
            i++;
            continue;
        }
        if (j == s->n_delta || (i < s->n_base && cmp_entry(&s->base[i], &s->delta[j]) < 0))
            out[k++] = s->base[i++];
        else
            out[k++] = s->delta[j++];
    }
    free(s->base);
    s->base = out;
    s->n_base = k;
    s->cap_base = n ? n : 1;
    s->n_dead = 0;
    s->n_delta = 0;
}

static void set_insert(OrdSet *s, uint64_t key, uint32_t node, uint32_t flags)
{
    Entry e = { key, node, flags & ~ENTRY_DEAD };
    if (s->bulk) {
        if (s->n_base == s->cap_base) {
            s->cap_base = s->cap_base ? s->cap_base * 2 : 1024;
            s->base = xrealloc(s->base, s->cap_base * sizeof *s->base);
        }
        s->base[s->n_base++] = e;
        return;
    }
    if (s->n_delta >= delta_max(s)) set_merge(s);
    if (s->n_delta == s->cap_delta) {
        s->cap_delta = s->cap_delta ? s->cap_delta * 2 : PI_DELTA_MIN;
        s->delta = xrealloc(s->delta, s->cap_delta * sizeof *s->delta);
    }
    size_t p = lower_bound(s->delta, s->n_delta, key, node);
    memmove(&s->delta[p + 1], &s->delta[p], (s->n_delta - p) * sizeof *s->delta);
    s->delta[p] = e;
    s->n_delta++;
}

static void set_remove(OrdSet *s, uint64_t key, uint32_t node)
{
    size_t p = lower_bound(s->delta, s->n_delta, key, node);
    if (p < s->n_delta && s->delta[p].key == key && s->delta[p].node == node) {
        memmove(&s->delta[p], &s->delta[p + 1], (s->n_delta - p - 1) * sizeof *s->delta);
        s->n_delta--;
        return;
    }
    for (p = lower_bound(s->base, s->n_base, key, node);
         p < s->n_base && s->base[p].key == key && s->base[p].node == node; p++) {
        if (s->base[p].flags & ENTRY_DEAD) continue;
        s->base[p].flags |= ENTRY_DEAD;
        s->n_dead++;
        break;
    }
    if (s->n_dead > PI_DELTA_MIN && s->n_dead * 4 > s->n_base) set_merge(s);
}

static void set_bulk_end(OrdSet *s)
{
    if (!s->bulk) return;
    s->bulk = 0;
    if (s->n_base > 1) qsort(s->base, s->n_base, sizeof *s->base, cmp_entry);
}

static void set_free(OrdSet *s)
{
    free(s->base);
    free(s->delta);
    memset(s, 0, sizeof *s);
}

/* set_count counts entries with lo <= key <= hi, tombstones included. */
static uint64_t set_count(const OrdSet *s, uint64_t lo, uint64_t hi)
{
    if (lo > hi) return 0;
    size_t a = lower_bound(s->base, s->n_base, lo, 0), b = upper_key(s->base, s->n_base, hi);
    size_t c = lower_bound(s->delta, s->n_delta, lo, 0), d = upper_key(s->delta, s->n_delta, hi);
    return (uint64_t)(b - a) + (d - c);
}

typedef int (*EntryFn)(void *ctx, const Entry *e);

/* set_walk calls fn for the live entries with lo <= key <= hi, in
 * (key, node) order or its reverse; fn returning nonzero stops. */
static void set_walk(const OrdSet *s, uint64_t lo, uint64_t hi, int desc, EntryFn fn, void *ctx)
{
    if (lo > hi) return;
    size_t i0 = lower_bound(s->base, s->n_base, lo, 0), i1 = upper_key(s->base, s->n_base, hi);
    size_t j0 = lower_bound(s->delta, s->n_delta, lo, 0), j1 = upper_key(s->delta, s->n_delta, hi);
    if (!desc) {
        size_t i = i0, j = j0;
        for (;;) {
            while (i < i1 && (s->base[i].flags & ENTRY_DEAD)) i++;
            const Entry *e;
            if (i < i1 && (j == j1 || cmp_entry(&s->base[i], &s->delta[j]) < 0)) e = &s->base[i++];
            else if (j < j1) e = &s->delta[j++];
            else break;
            if (fn(ctx, e)) return;
        }
    } else {
        size_t i = i1, j = j1;
        for (;;) {
            while (i > i0 && (s->base[i - 1].flags & ENTRY_DEAD)) i--;
            const Entry *e;
            if (i > i0 && (j == j0 || cmp_entry(&s->base[i - 1], &s->delta[j - 1]) > 0)) e = &s->base[--i];
            else if (j > j0) e = &s->delta[--j];
            else break;
            if (fn(ctx, e)) return;
        }
    }
}

/* ---- the term dictionary ---- */

typedef struct {
    uint32_t off, len;
} TermRef;

typedef struct {
    char *pool;
    size_t pool_len, pool_cap;
    TermRef *refs;
    uint64_t *count; /* nodes holding the term */
    uint32_t n, cap;
    uint32_t *slots; /* open addressing: term id + 1, 0 empty */
    uint32_t n_slots;
} Dict;

static uint64_t hash_bytes(const char *s, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++) h = (h ^ (uint8_t)s[i]) * 0x100000001b3ULL;
    return h;
}

static uint32_t dict_find(const Dict *d, const char *s, size_t len)
{
    if (!d->n_slots) return PAYLOAD_NO_TERM;
    uint32_t mask = d->n_slots - 1;
    for (uint32_t i = (uint32_t)hash_bytes(s, len) & mask;; i = (i + 1) & mask) {
        uint32_t v = d->slots[i];
        if (!v) return PAYLOAD_NO_TERM;
        const TermRef *r = &d->refs[v - 1];
        if (r->len == len && memcmp(d->pool + r->off, s, len) == 0) return v - 1;
    }
}

static void dict_rehash(Dict *d, uint32_t n_slots)
{
    free(d->slots);
    d->slots = xcalloc(n_slots, sizeof *d->slots);
    d->n_slots = n_slots;
    uint32_t mask = n_slots - 1;
    for (uint32_t t = 0; t < d->n; t++) {
        const TermRef *r = &d->refs[t];
        uint32_t i = (uint32_t)hash_bytes(d->pool + r->off, r->len) & mask;
        while (d->slots[i]) i = (i + 1) & mask;
        d->slots[i] = t + 1;
    }
}

static uint32_t dict_add(Dict *d, const char *s, size_t len)
{
    uint32_t t = dict_find(d, s, len);
    if (t != PAYLOAD_NO_TERM) return t;
    if ((d->n + 1) * 2 > d->n_slots) dict_rehash(d, d->n_slots ? d->n_slots * 2 : 64);
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 64;
        d->refs = xrealloc(d->refs, d->cap * sizeof *d->refs);
        d->count = xrealloc(d->count, d->cap * sizeof *d->count);
    }
    if (d->pool_len + len + 1 > d->pool_cap) {
        size_t c = d->pool_cap ? d->pool_cap * 2 : 4096;
        while (c < d->pool_len + len + 1) c *= 2;
        d->pool = xrealloc(d->pool, c);
        d->pool_cap = c;
    }
    memcpy(d->pool + d->pool_len, s, len);
    d->pool[d->pool_len + len] = '\0';
    t = d->n++;
    d->refs[t] = (TermRef){ (uint32_t)d->pool_len, (uint32_t)len };
    d->count[t] = 0;
    d->pool_len += len + 1;
    uint32_t mask = d->n_slots - 1;
    uint32_t i = (uint32_t)hash_bytes(s, len) & mask;
    while (d->slots[i]) i = (i + 1) & mask;
    d->slots[i] = t + 1;
    return t;
}

static void dict_free(Dict *d)
{
    free(d->pool);
    free(d->refs);
    free(d->count);
    free(d->slots);
    memset(d, 0, sizeof *d);
}

/* ---- forward records ---- */

typedef struct {
    uint32_t n_shapes, n_vals, n_other, n_words; /* n_words: text's u32 words */
    uint32_t indexed;                            /* counts toward points */
    uint32_t bytes;                              /* the allocation's size */
    /* then shapes[n_shapes], then the values at an 8-byte boundary */
} NodeRec;

static size_t rec_vals_offset(uint32_t n_shapes)
{
    size_t o = sizeof(NodeRec) + (size_t)n_shapes * sizeof(uint32_t);
    return (o + 7) & ~(size_t)7;
}

/* A key of one node in the set, with its entry flags. */
typedef struct {
    uint64_t key;
    uint32_t flags;
} KeyFlag;

struct PayloadIndex {
    char *field;
    FilterPath path;
    Arena path_arena; /* the path's items */
    PayloadIndexType type;
    PayloadTextParams text;
    char **stop_custom;   /* text.stop_custom's copies */
    TextStopSet *stops;   /* text: the stopwords, or NULL */
    OrdSet set;
    Dict dict;            /* keyword, uuid, text */
    uint64_t bool_count[2];
    NodeRec **fwd; /* [fwd_cap] */
    uint32_t fwd_cap;
    uint64_t points;
    size_t rec_bytes;
    /* Writer scratch for payload_index_set. */
    uint32_t *sh;
    size_t n_sh, cap_sh;
    Buf vals;
    uint32_t n_vals, n_other, n_words, indexed;
    KeyFlag *newk, *oldk;
    size_t n_newk, cap_newk, n_oldk, cap_oldk;
    uint32_t *tmp; /* token ids of one string */
    size_t n_tmp, cap_tmp;
};

static const char *const type_names[PAYLOAD_INDEX_TYPE_COUNT] = {
    "keyword", "integer", "float", "bool", "datetime", "uuid", "text", "geo",
};

const char *payload_index_type_name(PayloadIndexType t)
{
    return (unsigned)t < PAYLOAD_INDEX_TYPE_COUNT ? type_names[t] : "?";
}

int payload_index_type_parse(const char *s)
{
    for (int i = 0; s && i < PAYLOAD_INDEX_TYPE_COUNT; i++)
        if (!strcmp(s, type_names[i])) return i;
    return -1;
}

PayloadTextParams payload_text_params_default(void)
{
    return (PayloadTextParams){ .tokenizer = PAYLOAD_TOKENIZER_WORD, .lowercase = 1 };
}

int payload_index_new(const char *field, PayloadIndexType type, const PayloadTextParams *text,
                      PayloadIndex **out)
{
    *out = NULL;
    if ((unsigned)type >= PAYLOAD_INDEX_TYPE_COUNT || !field) return ERR_INVAL;
    size_t len = strlen(field);
    if (len == 0 || len > PI_FIELD_MAX) return ERR_INVAL;
    PayloadIndex *ix = xcalloc(1, sizeof *ix);
    arena_init(&ix->path_arena, 1024);
    if (filter_path_parse(&ix->path_arena, field, len, &ix->path) != 0) {
        arena_free(&ix->path_arena);
        free(ix);
        return ERR_INVAL;
    }
    ix->field = xstrdup(field);
    ix->type = type;
    ix->text = payload_text_params_default();
    if (text && type == PAYLOAD_INDEX_TEXT) {
        ix->text = *text;
        uint32_t n = text->n_stop_custom;
        ix->stop_custom = n ? xcalloc(n, sizeof *ix->stop_custom) : NULL;
        for (uint32_t i = 0; i < n; i++) ix->stop_custom[i] = xstrdup(text->stop_custom[i]);
        ix->text.stop_custom = (const char *const *)ix->stop_custom;
        if (text->stop_langs || n)
            ix->stops = text_stopset_new(text->stop_langs, ix->text.stop_custom, n, text->lowercase);
    }
    buf_init(&ix->vals);
    *out = ix;
    return 0;
}

void payload_index_free(PayloadIndex *ix)
{
    if (!ix) return;
    for (uint32_t i = 0; i < ix->fwd_cap; i++) free(ix->fwd[i]);
    free(ix->fwd);
    set_free(&ix->set);
    dict_free(&ix->dict);
    arena_free(&ix->path_arena);
    free(ix->field);
    for (uint32_t i = 0; i < ix->text.n_stop_custom; i++) free(ix->stop_custom[i]);
    free(ix->stop_custom);
    text_stopset_free(ix->stops);
    free(ix->sh);
    buf_free(&ix->vals);
    free(ix->newk);
    free(ix->oldk);
    free(ix->tmp);
    free(ix);
}

const char *payload_index_field(const PayloadIndex *ix) { return ix->field; }
const FilterPath *payload_index_path(const PayloadIndex *ix) { return &ix->path; }
PayloadIndexType payload_index_type(const PayloadIndex *ix) { return ix->type; }
const PayloadTextParams *payload_index_text_params(const PayloadIndex *ix) { return &ix->text; }
uint64_t payload_index_points(const PayloadIndex *ix) { return ix->points; }

size_t payload_index_memory(const PayloadIndex *ix)
{
    return sizeof *ix + ix->fwd_cap * sizeof *ix->fwd + ix->rec_bytes +
           (ix->set.cap_base + ix->set.cap_delta) * sizeof(Entry) + ix->dict.pool_cap +
           ix->dict.cap * (sizeof(TermRef) + sizeof(uint64_t)) + ix->dict.n_slots * sizeof(uint32_t);
}

void payload_index_values(const PayloadIndex *ix, uint32_t node, PayloadValues *out)
{
    memset(out, 0, sizeof *out);
    if (node >= ix->fwd_cap || !ix->fwd[node]) return;
    const NodeRec *r = ix->fwd[node];
    const uint8_t *base = (const uint8_t *)r;
    out->n_shapes = r->n_shapes;
    out->shapes = (const uint32_t *)(base + sizeof *r);
    out->n_other = r->n_other;
    out->n_vals = r->n_vals;
    const void *vals = base + rec_vals_offset(r->n_shapes);
    switch (ix->type) {
    case PAYLOAD_INDEX_KEYWORD:
    case PAYLOAD_INDEX_UUID:
    case PAYLOAD_INDEX_BOOL: out->terms = vals; break;
    case PAYLOAD_INDEX_INTEGER:
    case PAYLOAD_INDEX_FLOAT: out->nums = vals; break;
    case PAYLOAD_INDEX_DATETIME: out->times = vals; break;
    case PAYLOAD_INDEX_TEXT: out->tokens = vals; break;
    case PAYLOAD_INDEX_GEO: out->geos = vals; break;
    default: break;
    }
}

/* ---- tokenizer ---- */

/* utf8_prefix: the byte length of the first n characters of tok. */
static size_t utf8_prefix(const char *tok, size_t len, size_t n)
{
    size_t i = 0;
    while (n && i < len) {
        text_utf8_next(tok, len, &i);
        n--;
    }
    return i;
}

/* One tokenizing call: the index's params, the caller's function, and
 * the stemmer it borrowed (stem.h), if any. */
typedef struct {
    const PayloadIndex *ix;
    int query;
    PayloadTokenFn fn;
    void *ctx;
    Stemmer *stem;
} TokCall;

/* emit_word hands one processed word (chars: its length in characters)
 * to fn as the tokenizer makes tokens of it: itself within the length
 * limits, or (prefix, documents) its prefixes of min_token_len (at least
 * 1) to max_token_len characters, the last being the word when it is no
 * longer than that; (prefix, query) itself cut to max_token_len. A word
 * shorter than min_token_len gives nothing; max_token_len drops a longer
 * word but for the prefix tokenizer (Qdrant's TokensProcessor with
 * check_max_len false). */
static int emit_word(const TokCall *t, const char *tok, size_t len, size_t chars)
{
    const PayloadTextParams *p = &t->ix->text;
    if (!len) return 0;
    if (p->min_token_len && chars < p->min_token_len) return 0;
    if (p->tokenizer != PAYLOAD_TOKENIZER_PREFIX) {
        if (p->max_token_len && chars > p->max_token_len) return 0;
        return t->fn(t->ctx, tok, len);
    }
    size_t max = p->max_token_len ? p->max_token_len : SIZE_MAX;
    if (t->query) return t->fn(t->ctx, tok, chars > max ? utf8_prefix(tok, len, max) : len);
    size_t min = p->min_token_len ? p->min_token_len : 1;
    for (size_t n = min; n <= max; n++) {
        if (n >= chars) return t->fn(t->ctx, tok, len);
        int rc = t->fn(t->ctx, tok, utf8_prefix(tok, len, n));
        if (rc) return rc;
    }
    return 0;
}

/* process_word runs Qdrant's token pipeline (textproc.c) on one split
 * word raw[0..len), of which `lost` more characters were cut off at
 * PAYLOAD_TOKEN_MAX bytes: fold, lowercase, drop a stopword (not for a
 * prefix query: a typed prefix may be a stopword), stem, then the length
 * limits (emit_word). The token is cut again at PAYLOAD_TOKEN_MAX bytes
 * after folding and stemming; a word cut before is never a stopword. */
static int process_word(TokCall *t, const char *raw, size_t len, size_t lost)
{
    const PayloadTextParams *p = &t->ix->text;
    char folded[TEXT_FOLD_GROWTH * PAYLOAD_TOKEN_MAX + 8], lowered[TEXT_FOLD_GROWTH * PAYLOAD_TOKEN_MAX + 8];
    const char *w = raw;
    if (!len) return 0;
    if (p->ascii_folding) {
        len = text_fold(w, len, folded);
        w = folded;
    }
    if (p->lowercase) {
        len = text_lower(w, len, lowered);
        w = lowered;
    }
    int prefix_query = t->query && p->tokenizer == PAYLOAD_TOKENIZER_PREFIX;
    if (t->ix->stops && !prefix_query && !lost && text_stopset_has(t->ix->stops, w, len)) return 0;
    if (p->stem_lang) {
        if (!t->stem) t->stem = stem_acquire(p->stem_lang - 1);
        stem_word(t->stem, w, len, &w, &len);
    }
    if (len > PAYLOAD_TOKEN_MAX) {
        size_t cut = 0, i = 0;
        while (i < len) {
            size_t at = i;
            text_utf8_next(w, len, &i);
            if (i > PAYLOAD_TOKEN_MAX) {
                lost += text_utf8_chars(w + at, len - at);
                break;
            }
            cut = i;
        }
        len = cut;
    }
    return emit_word(t, w, len, text_utf8_chars(w, len) + lost);
}

static void tokenize(const PayloadIndex *ix, int query, const char *s, size_t len, PayloadTokenFn fn,
                     void *ctx)
{
    const PayloadTextParams *p = &ix->text;
    TokCall t = { ix, query, fn, ctx, NULL };
    size_t start = 0, end = 0, lost = 0, i = 0;
    int in = 0;
    /* A word is s[start..end) plus `lost` characters past PAYLOAD_TOKEN_MAX
     * bytes (cut at a character boundary; the length still counts). */
    while (i < len) {
        size_t at = i;
        uint32_t c = text_utf8_next(s, len, &i);
        int in_word = p->tokenizer == PAYLOAD_TOKENIZER_WHITESPACE ? !text_is_space(c) : text_is_word_char(c);
        if (!in_word) {
            if (in && process_word(&t, s + start, end - start, lost)) goto done;
            in = 0;
            continue;
        }
        if (!in) {
            in = 1;
            start = end = at;
            lost = 0;
        }
        if (lost || i - start > PAYLOAD_TOKEN_MAX) lost++;
        else end = i;
    }
    if (in) process_word(&t, s + start, end - start, lost);
done:
    stem_release(t.stem);
}

void payload_index_tokenize(const PayloadIndex *ix, const char *s, size_t len, PayloadTokenFn fn,
                            void *ctx)
{
    tokenize(ix, 0, s, len, fn, ctx);
}

void payload_index_tokenize_query(const PayloadIndex *ix, const char *s, size_t len,
                                  PayloadTokenFn fn, void *ctx)
{
    tokenize(ix, 1, s, len, fn, ctx);
}

/* ---- extraction ---- */

static void sh_push(PayloadIndex *ix, uint32_t v)
{
    if (ix->n_sh == ix->cap_sh) {
        ix->cap_sh = ix->cap_sh ? ix->cap_sh * 2 : 16;
        ix->sh = xrealloc(ix->sh, ix->cap_sh * sizeof *ix->sh);
    }
    ix->sh[ix->n_sh++] = v;
}

static void key_push(KeyFlag **a, size_t *n, size_t *cap, uint64_t key, uint32_t flags)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        *a = xrealloc(*a, *cap * sizeof **a);
    }
    (*a)[(*n)++] = (KeyFlag){ key, flags };
}

static int tmp_token(void *ctx, const char *tok, size_t len)
{
    PayloadIndex *ix = ctx;
    uint32_t t = dict_add(&ix->dict, tok, len);
    if (ix->n_tmp == ix->cap_tmp) {
        ix->cap_tmp = ix->cap_tmp ? ix->cap_tmp * 2 : 32;
        ix->tmp = xrealloc(ix->tmp, ix->cap_tmp * sizeof *ix->tmp);
    }
    ix->tmp[ix->n_tmp++] = t;
    return 0;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* geo_of reads a Qdrant GeoPoint {"lon", "lat"} within range. */
static int geo_of(const JsonValue *e, PayloadGeo *g)
{
    if (e->type != JSON_OBJECT) return 0;
    const JsonValue *lon = json_get(e, "lon"), *lat = json_get(e, "lat");
    if (!lon || !lat || lon->type != JSON_NUMBER || lat->type != JSON_NUMBER) return 0;
    if (lon->u.num < -180 || lon->u.num > 180 || lat->u.num < -90 || lat->u.num > 90) return 0;
    g->lon = lon->u.num;
    g->lat = lat->u.num;
    return 1;
}

/* add_element records one element (a reached value, or an item of a
 * reached array) in the scratch record. */
static void add_element(PayloadIndex *ix, const JsonValue *e)
{
    if (e->type == JSON_NULL) return;
    switch (ix->type) {
    case PAYLOAD_INDEX_KEYWORD:
    case PAYLOAD_INDEX_UUID: {
        if (e->type != JSON_STRING) break;
        uint32_t t = dict_add(&ix->dict, e->u.str, e->len);
        buf_append(&ix->vals, &t, sizeof t);
        key_push(&ix->newk, &ix->n_newk, &ix->cap_newk, t, 0);
        ix->n_vals++;
        if (ix->type == PAYLOAD_INDEX_KEYWORD) {
            ix->indexed = 1;
        } else {
            PointId id;
            if (point_id_from_json(e, &id, NULL, 0) == 0 && id.kind == POINT_ID_UUID) ix->indexed = 1;
        }
        return;
    }
    case PAYLOAD_INDEX_INTEGER:
    case PAYLOAD_INDEX_FLOAT: {
        if (e->type != JSON_NUMBER) break;
        PayloadNum n = { e->u.num, 0, 0 };
        if (e->num_kind == JSON_NUM_INT) {
            n.i = e->n.i;
            n.is_int = 1;
        }
        buf_append(&ix->vals, &n, sizeof n);
        key_push(&ix->newk, &ix->n_newk, &ix->cap_newk, enc_double(n.d), n.is_int ? ENTRY_INT : 0);
        ix->n_vals++;
        if (ix->type == PAYLOAD_INDEX_FLOAT || n.is_int) ix->indexed = 1;
        return;
    }
    case PAYLOAD_INDEX_BOOL: {
        if (e->type != JSON_BOOL) break;
        uint32_t t = e->u.boolean ? 1 : 0;
        buf_append(&ix->vals, &t, sizeof t);
        key_push(&ix->newk, &ix->n_newk, &ix->cap_newk, t, 0);
        ix->n_vals++;
        ix->indexed = 1;
        return;
    }
    case PAYLOAD_INDEX_DATETIME: {
        int64_t us;
        if (e->type != JSON_STRING || filter_datetime_parse(e->u.str, e->len, &us) != 0) break;
        buf_append(&ix->vals, &us, sizeof us);
        key_push(&ix->newk, &ix->n_newk, &ix->cap_newk, enc_time(us), 0);
        ix->n_vals++;
        ix->indexed = 1;
        return;
    }
    case PAYLOAD_INDEX_TEXT: {
        if (e->type != JSON_STRING) break;
        ix->n_tmp = 0;
        payload_index_tokenize(ix, e->u.str, e->len, tmp_token, ix);
        if (ix->n_tmp > 1) qsort(ix->tmp, ix->n_tmp, sizeof *ix->tmp, cmp_u32);
        uint32_t m = 0;
        for (size_t i = 0; i < ix->n_tmp; i++)
            if (m == 0 || ix->tmp[i] != ix->tmp[m - 1]) ix->tmp[m++] = ix->tmp[i];
        buf_append(&ix->vals, &m, sizeof m);
        buf_append(&ix->vals, ix->tmp, m * sizeof *ix->tmp);
        for (uint32_t i = 0; i < m; i++) key_push(&ix->newk, &ix->n_newk, &ix->cap_newk, ix->tmp[i], 0);
        ix->n_words += 1 + m;
        ix->n_vals++;
        ix->indexed = 1;
        return;
    }
    case PAYLOAD_INDEX_GEO: {
        PayloadGeo g;
        if (!geo_of(e, &g)) break;
        buf_append(&ix->vals, &g, sizeof g);
        ix->n_vals++;
        ix->indexed = 1;
        return;
    }
    default: break;
    }
    ix->n_other++;
}

/* shape_of is a reached value's shape (filter.c's values_in, is_empty and
 * value_has_null). */
static uint32_t shape_of(const JsonValue *v)
{
    if (v->type == JSON_NULL) return PAYLOAD_SHAPE_NULL;
    if (v->type != JSON_ARRAY) return 1;
    uint32_t s = v->len > PAYLOAD_SHAPE_COUNT_MASK ? PAYLOAD_SHAPE_COUNT_MASK : v->len;
    for (uint32_t i = 0; i < v->len; i++)
        if (json_item(v, i).type == JSON_NULL) {
            s |= PAYLOAD_SHAPE_HAS_NULL;
            break;
        }
    return s;
}

static int visit_reached(void *ctx, const JsonValue *v)
{
    PayloadIndex *ix = ctx;
    sh_push(ix, shape_of(v));
    if (v->type == JSON_ARRAY)
        for (uint32_t i = 0; i < v->len; i++) {
            JsonValue item = json_item(v, i);
            add_element(ix, &item);
        }
    else
        add_element(ix, v);
    return 0; /* every reached value */
}

static int cmp_keyflag(const void *pa, const void *pb)
{
    const KeyFlag *a = pa, *b = pb;
    return a->key < b->key ? -1 : a->key > b->key;
}

/* keys_unique sorts keys and merges repeats (their flags OR'ed). */
static size_t keys_unique(KeyFlag *a, size_t n)
{
    if (n < 2) return n;
    qsort(a, n, sizeof *a, cmp_keyflag);
    size_t m = 1;
    for (size_t i = 1; i < n; i++) {
        if (a[i].key == a[m - 1].key) a[m - 1].flags |= a[i].flags;
        else a[m++] = a[i];
    }
    return m;
}

/* old_keys lists the keys of node's current record into ix->oldk. */
static void old_keys(PayloadIndex *ix, uint32_t node)
{
    ix->n_oldk = 0;
    PayloadValues pv;
    payload_index_values(ix, node, &pv);
    for (uint32_t i = 0; i < pv.n_vals; i++) {
        switch (ix->type) {
        case PAYLOAD_INDEX_KEYWORD:
        case PAYLOAD_INDEX_UUID:
        case PAYLOAD_INDEX_BOOL: key_push(&ix->oldk, &ix->n_oldk, &ix->cap_oldk, pv.terms[i], 0); break;
        case PAYLOAD_INDEX_INTEGER:
        case PAYLOAD_INDEX_FLOAT:
            key_push(&ix->oldk, &ix->n_oldk, &ix->cap_oldk, enc_double(pv.nums[i].d),
                     pv.nums[i].is_int ? ENTRY_INT : 0);
            break;
        case PAYLOAD_INDEX_DATETIME:
            key_push(&ix->oldk, &ix->n_oldk, &ix->cap_oldk, enc_time(pv.times[i]), 0);
            break;
        default: break;
        }
    }
    if (ix->type == PAYLOAD_INDEX_TEXT) {
        const uint32_t *w = pv.tokens;
        for (uint32_t s = 0; s < pv.n_vals; s++) {
            uint32_t m = *w++;
            for (uint32_t k = 0; k < m; k++) key_push(&ix->oldk, &ix->n_oldk, &ix->cap_oldk, w[k], 0);
            w += m;
        }
    }
    ix->n_oldk = keys_unique(ix->oldk, ix->n_oldk);
}

static int has_terms(PayloadIndexType t)
{
    return t == PAYLOAD_INDEX_KEYWORD || t == PAYLOAD_INDEX_UUID || t == PAYLOAD_INDEX_TEXT;
}

static void count_key(PayloadIndex *ix, uint64_t key, int delta)
{
    if (has_terms(ix->type)) ix->dict.count[key] += (uint64_t)(int64_t)delta;
    else if (ix->type == PAYLOAD_INDEX_BOOL) ix->bool_count[key & 1] += (uint64_t)(int64_t)delta;
}

static void fwd_reserve(PayloadIndex *ix, uint32_t node)
{
    if (node < ix->fwd_cap) return;
    uint32_t cap = ix->fwd_cap ? ix->fwd_cap : 1024;
    while (cap <= node) cap *= 2;
    ix->fwd = xrealloc(ix->fwd, cap * sizeof *ix->fwd);
    memset(ix->fwd + ix->fwd_cap, 0, (cap - ix->fwd_cap) * sizeof *ix->fwd);
    ix->fwd_cap = cap;
}

void payload_index_set(PayloadIndex *ix, uint32_t node, const JsonValue *payload)
{
    NodeRec *old = node < ix->fwd_cap ? ix->fwd[node] : NULL;
    if (old && ix->set.bulk) set_bulk_end(&ix->set);
    /* Extract the new record into the scratch. */
    ix->n_sh = 0;
    ix->vals.len = 0;
    ix->n_vals = ix->n_other = ix->n_words = ix->indexed = 0;
    ix->n_newk = 0;
    if (payload && payload->type == JSON_OBJECT)
        filter_path_walk(&ix->path, payload, visit_reached, ix);
    ix->n_newk = keys_unique(ix->newk, ix->n_newk);
    /* Apply the difference of the keys to the set. */
    if (old) old_keys(ix, node);
    else ix->n_oldk = 0;
    size_t i = 0, j = 0;
    while (i < ix->n_oldk || j < ix->n_newk) {
        if (j == ix->n_newk || (i < ix->n_oldk && ix->oldk[i].key < ix->newk[j].key)) {
            set_remove(&ix->set, ix->oldk[i].key, node);
            count_key(ix, ix->oldk[i].key, -1);
            i++;
        } else if (i == ix->n_oldk || ix->newk[j].key < ix->oldk[i].key) {
            set_insert(&ix->set, ix->newk[j].key, node, ix->newk[j].flags);
            count_key(ix, ix->newk[j].key, 1);
            j++;
        } else {
            if (ix->oldk[i].flags != ix->newk[j].flags) {
                set_remove(&ix->set, ix->oldk[i].key, node);
                set_insert(&ix->set, ix->newk[j].key, node, ix->newk[j].flags);
            }
            i++;
            j++;
        }
    }
    /* Swap the record. */
    if (old) {
        if (old->indexed) ix->points--;
        ix->rec_bytes -= old->bytes;
        free(old);
        ix->fwd[node] = NULL;
    }
    if (ix->n_sh == 0) return; /* the path reaches nothing: no record */
    fwd_reserve(ix, node);
    size_t off = rec_vals_offset((uint32_t)ix->n_sh);
    NodeRec *r = xmalloc(off + ix->vals.len);
    r->n_shapes = (uint32_t)ix->n_sh;
    r->n_vals = ix->n_vals;
    r->n_other = ix->n_other;
    r->n_words = ix->n_words;
    r->indexed = ix->indexed;
    r->bytes = (uint32_t)(off + ix->vals.len);
    memcpy((uint8_t *)r + sizeof *r, ix->sh, ix->n_sh * sizeof *ix->sh);
    if (ix->vals.len) memcpy((uint8_t *)r + off, ix->vals.data, ix->vals.len);
    ix->fwd[node] = r;
    ix->rec_bytes += r->bytes;
    if (r->indexed) ix->points++;
}

void payload_index_bulk_begin(PayloadIndex *ix)
{
    if (ix->set.n_delta) set_merge(&ix->set);
    ix->set.bulk = 1;
}

void payload_index_bulk_end(PayloadIndex *ix) { set_bulk_end(&ix->set); }

/* ---- terms ---- */

uint32_t payload_index_term(const PayloadIndex *ix, const char *s, size_t len)
{
    if (ix->type == PAYLOAD_INDEX_BOOL) return PAYLOAD_NO_TERM;
    return dict_find(&ix->dict, s, len);
}

uint64_t payload_index_term_count(const PayloadIndex *ix, uint32_t term)
{
    if (ix->type == PAYLOAD_INDEX_BOOL) return term < 2 ? ix->bool_count[term] : 0;
    if (!has_terms(ix->type) || term >= ix->dict.n) return 0;
    return ix->dict.count[term];
}

uint32_t payload_index_term_total(const PayloadIndex *ix)
{
    if (ix->type == PAYLOAD_INDEX_BOOL) return 2;
    return has_terms(ix->type) ? ix->dict.n : 0;
}

const char *payload_index_term_string(const PayloadIndex *ix, uint32_t term, size_t *len)
{
    if (!has_terms(ix->type) || term >= ix->dict.n) return NULL;
    const TermRef *r = &ix->dict.refs[term];
    *len = r->len;
    return ix->dict.pool + r->off;
}

static int push_entry_node(void *ctx, const Entry *e)
{
    payload_node_list_push(ctx, e->node);
    return 0;
}

void payload_index_term_nodes(const PayloadIndex *ix, uint32_t term, PayloadNodeList *out)
{
    if (term == PAYLOAD_NO_TERM) return;
    if (ix->set.bulk) return; /* never read while bulk loading */
    set_walk(&ix->set, term, term, 0, push_entry_node, out);
}

/* ---- ranges ---- */

/* range_keys turns r into keys [lo, hi]; 0 when it is empty. */
static int range_keys(const PayloadIndex *ix, const PayloadRange *r, uint64_t *lo, uint64_t *hi)
{
    int t = ix->type == PAYLOAD_INDEX_DATETIME;
    *lo = 0;
    *hi = UINT64_MAX;
    if (r && r->has_lo) {
        *lo = t ? enc_time(r->lo_t) : enc_double(r->lo);
        if (!r->lo_incl) {
            if (*lo == UINT64_MAX) return 0;
            (*lo)++;
        }
    }
    if (r && r->has_hi) {
        *hi = t ? enc_time(r->hi_t) : enc_double(r->hi);
        if (!r->hi_incl) {
            if (*hi == 0) return 0;
            (*hi)--;
        }
    }
    return *lo <= *hi;
}

static int is_ranged(PayloadIndexType t)
{
    return t == PAYLOAD_INDEX_INTEGER || t == PAYLOAD_INDEX_FLOAT || t == PAYLOAD_INDEX_DATETIME;
}

uint64_t payload_index_range_count(const PayloadIndex *ix, const PayloadRange *r)
{
    uint64_t lo, hi;
    if (!is_ranged(ix->type) || !range_keys(ix, r, &lo, &hi)) return 0;
    return set_count(&ix->set, lo, hi);
}

void payload_index_range_nodes(const PayloadIndex *ix, const PayloadRange *r, PayloadNodeList *out)
{
    uint64_t lo, hi;
    if (!is_ranged(ix->type) || ix->set.bulk || !range_keys(ix, r, &lo, &hi)) return;
    set_walk(&ix->set, lo, hi, 0, push_entry_node, out);
}

typedef struct {
    const PayloadIndex *ix;
    PayloadOrderFn fn;
    void *ctx;
} OrderWalk;

static int order_entry(void *vctx, const Entry *e)
{
    OrderWalk *w = vctx;
    if (w->ix->type == PAYLOAD_INDEX_INTEGER && !(e->flags & ENTRY_INT)) return 0;
    double v = w->ix->type == PAYLOAD_INDEX_DATETIME ? (double)dec_time(e->key) : dec_double(e->key);
    return w->fn(w->ctx, v, e->node);
}

void payload_index_order(const PayloadIndex *ix, int desc, const PayloadRange *r, PayloadOrderFn fn,
                         void *ctx)
{
    uint64_t lo, hi;
    if (!is_ranged(ix->type) || ix->set.bulk || !range_keys(ix, r, &lo, &hi)) return;
    OrderWalk w = { ix, fn, ctx };
    set_walk(&ix->set, lo, hi, desc, order_entry, &w);
}

/* ---- node lists ---- */

void payload_node_list_push(PayloadNodeList *l, uint32_t node)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 256;
        l->nodes = xrealloc(l->nodes, l->cap * sizeof *l->nodes);
    }
    l->nodes[l->n++] = node;
}

void payload_node_list_sort_unique(PayloadNodeList *l)
{
    if (l->n < 2) return;
    int sorted = 1;
    for (size_t i = 1; i < l->n && sorted; i++) sorted = l->nodes[i - 1] < l->nodes[i];
    if (sorted) return;
    qsort(l->nodes, l->n, sizeof *l->nodes, cmp_u32);
    size_t m = 1;
    for (size_t i = 1; i < l->n; i++)
        if (l->nodes[i] != l->nodes[m - 1]) l->nodes[m++] = l->nodes[i];
    l->n = m;
}

void payload_node_list_free(PayloadNodeList *l)
{
    free(l->nodes);
    memset(l, 0, sizeof *l);
}
