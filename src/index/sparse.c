/*
 * sparse.c - the inverted index of sparse vectors (see sparse.h for the
 * design). Rows and posting lists are plain arrays; the only structure is
 * the hash table from dimension to posting list.
 */
#include "index/sparse.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/util.h"

/* The hash table of posting lists starts with this many slots and keeps
 * its load at or below 1/2 (linear probing degrades quickly above). */
#define SPARSE_TABLE_MIN 64
/* A query whose posting lists hold at least 1/SPARSE_DENSE_RATIO of the
 * node range is scored term at a time into an accumulator over the whole
 * range (sequential reads, no heap; 4.1 bytes a node for the query's
 * life); a more selective one by merging its lists (memory: one cursor a
 * term). */
#define SPARSE_DENSE_RATIO 16

typedef struct {
    uint32_t node;
    float value;
} Posting;

/* One node's vector: one allocation holding the n indices, then the n
 * values (both 4 bytes wide, so the values stay aligned); NULL when the
 * vector is empty. */
typedef struct {
    uint32_t n;
    uint32_t present;
    uint32_t *idx;
} Row;

static inline float *row_values(const Row *r) { return (float *)(r->idx + r->n); }

/* One dimension's posting list, sorted by node. A slot whose list became
 * empty keeps its dimension (slots are never freed, so probing stays
 * simple); its array is released. */
typedef struct {
    uint32_t dim;
    uint32_t used; /* the slot holds a dimension */
    uint32_t n, cap;
    Posting *p;
} PList;

struct SparseIndex {
    Row *rows; /* [row_cap] */
    uint32_t row_cap;
    uint32_t node_high; /* 1 + the highest node with a row */
    size_t size;        /* nodes with a row */
    size_t indexed;     /* nodes with a non-empty row */
    size_t entries;     /* entries over all rows (= postings) */
    PList *table;       /* [table_cap], a power of two */
    size_t table_cap, table_used;
};

int sparse_create(SparseIndex **out)
{
    SparseIndex *s = xcalloc(1, sizeof *s);
    s->table_cap = SPARSE_TABLE_MIN;
    s->table = xcalloc(s->table_cap, sizeof *s->table);
    *out = s;
    return 0;
}

void sparse_free(SparseIndex *s)
{
    if (!s) return;
    for (uint32_t i = 0; i < s->row_cap; i++) free(s->rows[i].idx);
    for (size_t i = 0; i < s->table_cap; i++) free(s->table[i].p);
    free(s->rows);
    free(s->table);
    free(s);
}

/* ---- vectors ---- */

typedef struct {
    uint32_t dim;
    float value;
} Pair;

static int cmp_pair(const void *a, const void *b)
{
    uint32_t x = ((const Pair *)a)->dim, y = ((const Pair *)b)->dim;
    return x < y ? -1 : x > y;
}

int sparse_sort(uint32_t *indices, float *values, size_t n)
{
    size_t i = 1;
    while (i < n && indices[i - 1] < indices[i]) i++;
    if (i >= n) return 0;
    Pair *p = xmalloc(n * sizeof *p);
    for (size_t k = 0; k < n; k++) p[k] = (Pair){ indices[k], values[k] };
    qsort(p, n, sizeof *p, cmp_pair);
    int err = 0;
    for (size_t k = 0; k < n; k++) {
        if (k && p[k].dim == p[k - 1].dim) err = ERR_INVAL;
        indices[k] = p[k].dim;
        values[k] = p[k].value;
    }
    free(p);
    return err;
}

float sparse_dot(const uint32_t *ai, const float *av, size_t an, const uint32_t *bi,
                 const float *bv, size_t bn, int *overlap)
{
    float score = 0.0f;
    int any = 0;
    size_t i = 0, j = 0;
    while (i < an && j < bn) {
        if (ai[i] < bi[j]) {
            i++;
        } else if (ai[i] > bi[j]) {
            j++;
        } else {
            any = 1;
            score += av[i] * bv[j];
            i++;
            j++;
        }
    }
    if (overlap) *overlap = any;
    return score;
}

static int strictly_increasing(const uint32_t *indices, size_t n)
{
    for (size_t i = 1; i < n; i++)
        if (indices[i - 1] >= indices[i]) return 0;
    return 1;
}

/* ---- posting lists ---- */

static size_t dim_hash(uint32_t dim)
{
    /* The finaliser of MurmurHash3: word-hash dimensions are already
     * spread, small consecutive ones (1, 2, 3) must be spread too. */
    return hash_fmix32(dim);
}

static PList *plist_find(const SparseIndex *s, uint32_t dim)
{
    size_t mask = s->table_cap - 1;
    for (size_t i = dim_hash(dim) & mask;; i = (i + 1) & mask) {
        PList *l = &s->table[i];
        if (!l->used) return NULL;
        if (l->dim == dim) return l;
    }
}

static void table_grow(SparseIndex *s)
{
    size_t cap = s->table_cap * 2, mask = cap - 1;
    PList *t = xcalloc(cap, sizeof *t);
    for (size_t i = 0; i < s->table_cap; i++) {
        if (!s->table[i].used) continue;
        size_t k = dim_hash(s->table[i].dim) & mask;
        while (t[k].used) k = (k + 1) & mask;
        t[k] = s->table[i];
    }
    free(s->table);
    s->table = t;
    s->table_cap = cap;
}

static PList *plist_get(SparseIndex *s, uint32_t dim)
{
    PList *l = plist_find(s, dim);
    if (l) return l;
    if ((s->table_used + 1) * 2 > s->table_cap) table_grow(s);
    size_t mask = s->table_cap - 1;
    size_t i = dim_hash(dim) & mask;
    while (s->table[i].used) i = (i + 1) & mask;
    l = &s->table[i];
    l->used = 1;
    l->dim = dim;
    s->table_used++;
    return l;
}

/* plist_lower is the position of the first posting with node >= node. */
static uint32_t plist_lower(const PList *l, uint32_t node)
{
    uint32_t lo = 0, hi = l->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (l->p[mid].node < node) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

static void plist_put(SparseIndex *s, uint32_t dim, uint32_t node, float value)
{
    PList *l = plist_get(s, dim);
    uint32_t at = plist_lower(l, node);
    if (at < l->n && l->p[at].node == node) {
        l->p[at].value = value;
        return;
    }
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 4;
        l->p = xrealloc(l->p, (size_t)l->cap * sizeof *l->p);
    }
    /* New nodes usually come last (fresh node ids grow), so this moves
     * nothing; a reused low node moves the tail once. */
    memmove(l->p + at + 1, l->p + at, (size_t)(l->n - at) * sizeof *l->p);
    l->p[at] = (Posting){ node, value };
    l->n++;
}

static void plist_drop(SparseIndex *s, uint32_t dim, uint32_t node)
{
    PList *l = plist_find(s, dim);
    if (!l) return;
    uint32_t at = plist_lower(l, node);
    if (at == l->n || l->p[at].node != node) return;
    memmove(l->p + at, l->p + at + 1, (size_t)(l->n - at - 1) * sizeof *l->p);
    l->n--;
    if (l->n == 0) {
        free(l->p);
        l->p = NULL;
        l->cap = 0;
    }
}

/* ---- rows ---- */

static void rows_reserve(SparseIndex *s, uint32_t need)
{
    if (need <= s->row_cap) return;
    uint32_t cap = s->row_cap ? s->row_cap : 1024;
    while (cap < need) cap = cap > UINT32_MAX / 2 ? UINT32_MAX : cap * 2;
    s->rows = xrealloc(s->rows, (size_t)cap * sizeof *s->rows);
    memset(s->rows + s->row_cap, 0, (size_t)(cap - s->row_cap) * sizeof *s->rows);
    s->row_cap = cap;
}

int sparse_set(SparseIndex *s, uint32_t node, const uint32_t *indices, const float *values,
               size_t n)
{
    if (node >= SPARSE_MAX_NODES || n > SPARSE_MAX_LEN || (n && (!indices || !values)) ||
        !strictly_increasing(indices, n))
        return ERR_INVAL;
    rows_reserve(s, node + 1);
    Row *r = &s->rows[node];
    /* Merge the old row with the new one: dimensions only in the old are
     * dropped, the others put (updated in place or inserted). */
    size_t i = 0, j = 0;
    while (i < r->n || j < n) {
        if (j == n || (i < r->n && r->idx[i] < indices[j])) {
            plist_drop(s, r->idx[i], node);
            i++;
        } else {
            if (i < r->n && r->idx[i] == indices[j]) i++;
            plist_put(s, indices[j], node, values[j]);
            j++;
        }
    }
    if (r->present) {
        s->entries -= r->n;
        if (r->n) s->indexed--;
    } else {
        s->size++;
        r->present = 1;
    }
    if (n) {
        r->idx = xrealloc(r->idx, 2 * n * sizeof *r->idx);
        r->n = (uint32_t)n;
        memcpy(r->idx, indices, n * sizeof *indices);
        memcpy(row_values(r), values, n * sizeof *values);
        s->indexed++;
    } else {
        free(r->idx);
        r->idx = NULL;
        r->n = 0;
    }
    s->entries += n;
    if (node >= s->node_high) s->node_high = node + 1;
    return 0;
}

void sparse_remove(SparseIndex *s, uint32_t node)
{
    if (node >= s->row_cap || !s->rows[node].present) return;
    Row *r = &s->rows[node];
    for (uint32_t i = 0; i < r->n; i++) plist_drop(s, r->idx[i], node);
    s->entries -= r->n;
    if (r->n) s->indexed--;
    s->size--;
    free(r->idx);
    *r = (Row){ 0 };
    while (s->node_high > 0 && !s->rows[s->node_high - 1].present) s->node_high--;
}

int sparse_row(const SparseIndex *s, uint32_t node, const uint32_t **indices,
               const float **values, size_t *n)
{
    if (node >= s->row_cap || !s->rows[node].present) return ERR_NOTFOUND;
    const Row *r = &s->rows[node];
    *indices = r->idx;
    *values = r->n ? row_values(r) : NULL;
    *n = r->n;
    return 0;
}

size_t sparse_size(const SparseIndex *s) { return s->size; }
size_t sparse_indexed(const SparseIndex *s) { return s->indexed; }
uint32_t sparse_node_high(const SparseIndex *s) { return s->node_high; }

size_t sparse_df(const SparseIndex *s, uint32_t dim)
{
    const PList *l = plist_find(s, dim);
    return l ? l->n : 0;
}

void sparse_idf(const SparseIndex *s, const uint32_t *indices, float *values, size_t n)
{
    /* Qdrant's fancy_idf, in f32 as there. */
    float big_n = (float)s->indexed;
    for (size_t i = 0; i < n; i++) {
        float df = (float)sparse_df(s, indices[i]);
        values[i] *= logf((big_n - df + 0.5f) / (df + 0.5f) + 1.0f);
    }
}

size_t sparse_memory_bytes(const SparseIndex *s)
{
    size_t b = sizeof *s + (size_t)s->row_cap * sizeof(Row) + s->table_cap * sizeof(PList);
    b += s->entries * (sizeof(uint32_t) + sizeof(float));
    for (size_t i = 0; i < s->table_cap; i++) b += (size_t)s->table[i].cap * sizeof(Posting);
    return b;
}

/* ---- search ---- */

/* A cursor over one query term's posting list. */
typedef struct {
    const Posting *p;
    uint32_t n, i;
    uint32_t term; /* position in the query */
} Cursor;

static int cursor_before(const Cursor *a, const Cursor *b)
{
    uint32_t x = a->p[a->i].node, y = b->p[b->i].node;
    return x != y ? x < y : a->term < b->term;
}

static void cursor_sift_down(Cursor *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && cursor_before(&h[l], &h[m])) m = l;
        if (r < n && cursor_before(&h[r], &h[m])) m = r;
        if (m == i) return;
        Cursor t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

/* hit_worse: a ranks below b (lower score; on a tie, the higher node). */
static int hit_worse(const SparseHit *a, const SparseHit *b)
{
    if (a->score != b->score) return a->score < b->score;
    return a->node > b->node;
}

static void hits_sift_down(SparseHit *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && hit_worse(&h[l], &h[m])) m = l;
        if (r < n && hit_worse(&h[r], &h[m])) m = r;
        if (m == i) return;
        SparseHit t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

static void hits_sift_up(SparseHit *h, size_t i)
{
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!hit_worse(&h[i], &h[p])) return;
        SparseHit t = h[i];
        h[i] = h[p];
        h[p] = t;
        i = p;
    }
}

/* A bounded min-heap of the best k hits (the worst on top). */
typedef struct {
    SparseHit *h;
    size_t n, k;
    SparseAcceptFn accept;
    void *ctx;
} Top;

static void top_offer(Top *t, uint32_t node, float score)
{
    if (isnan(score)) return; /* only from overflowing weights; unordered */
    SparseHit hit = { node, score };
    if (t->n == t->k && !hit_worse(&t->h[0], &hit)) return;
    /* Asked only now: most nodes never come this far. */
    if (t->accept && !t->accept(node, t->ctx)) return;
    if (t->n < t->k) {
        t->h[t->n] = hit;
        hits_sift_up(t->h, t->n++);
    } else {
        t->h[0] = hit;
        hits_sift_down(t->h, t->n, 0);
    }
}

/* search_dense scores the m lists term at a time into an accumulator
 * over every node: each node's terms are still added in query order, so
 * its score is the same float sum as search_merge's. */
static void search_dense(const SparseIndex *s, const Cursor *lists, size_t m,
                         const float *values, Top *top)
{
    size_t words = ((size_t)s->node_high + 63) / 64;
    float *acc = xcalloc(s->node_high ? s->node_high : 1, sizeof *acc);
    uint64_t *seen = xcalloc(words ? words : 1, sizeof *seen);
    for (size_t t = 0; t < m; t++) {
        const Cursor *c = &lists[t];
        float w = values[c->term];
        for (uint32_t i = 0; i < c->n; i++) {
            uint32_t node = c->p[i].node;
            acc[node] += w * c->p[i].value;
            seen[node >> 6] |= (uint64_t)1 << (node & 63);
        }
    }
    for (size_t b = 0; b < words; b++)
        for (uint64_t bits = seen[b]; bits; bits &= bits - 1) {
            uint32_t node = (uint32_t)(b * 64 + (size_t)__builtin_ctzll(bits));
            top_offer(top, node, acc[node]);
        }
    free(acc);
    free(seen);
}

/* search_merge merges the m lists in node order with a heap keyed by
 * (node, query position). */
static void search_merge(Cursor *heap, size_t m, const float *values, Top *top)
{
    for (size_t i = m / 2; i-- > 0;) cursor_sift_down(heap, m, i);
    uint32_t cur = 0;
    float score = 0.0f;
    int have = 0;
    while (m > 0) {
        Cursor *c = &heap[0];
        uint32_t node = c->p[c->i].node;
        if (have && node != cur) {
            top_offer(top, cur, score);
            score = 0.0f;
        }
        cur = node;
        have = 1;
        /* Terms of one node pop in query order, i.e. dimension order:
         * the same summation order as sparse_dot. */
        score += values[c->term] * c->p[c->i].value;
        if (++c->i == c->n) heap[0] = heap[--m];
        cursor_sift_down(heap, m, 0);
    }
    if (have) top_offer(top, cur, score);
}

int sparse_search(const SparseIndex *s, const uint32_t *indices, const float *values, size_t n,
                  size_t k, SparseAcceptFn accept, void *ctx, SparseHit *out, size_t *n_out)
{
    *n_out = 0;
    if (!strictly_increasing(indices, n)) return ERR_INVAL;
    if (k == 0 || n == 0) return 0;
    Cursor *lists = xmalloc(n * sizeof *lists);
    size_t m = 0, postings = 0;
    for (size_t t = 0; t < n; t++) {
        const PList *l = plist_find(s, indices[t]);
        if (!l || !l->n) continue;
        lists[m++] = (Cursor){ l->p, l->n, 0, (uint32_t)t };
        postings += l->n;
    }
    Top top = { out, 0, k, accept, ctx };
    if (postings * SPARSE_DENSE_RATIO >= s->node_high) search_dense(s, lists, m, values, &top);
    else search_merge(lists, m, values, &top);
    free(lists);
    /* Pop the heap into best-first order. */
    size_t total = top.n;
    while (top.n > 1) {
        SparseHit t = out[0];
        out[0] = out[top.n - 1];
        out[top.n - 1] = t;
        top.n--;
        hits_sift_down(out, top.n, 0);
    }
    *n_out = total;
    return 0;
}
