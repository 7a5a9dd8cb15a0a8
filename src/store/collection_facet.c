/*
 * collection_facet.c - counting the values of a payload key (Qdrant's
 * facet): how many points matching a filter hold each value.
 *
 * Qdrant facets only on a key with a "map" index (keyword, integer, uuid,
 * bool) and counts from that index; so does this file: the values of a
 * node come from the payload index's forward record, never from parsing
 * payloads, and a key without such an index is refused with Qdrant's
 * message. A point counts once per distinct value it holds (an array
 * ["a", "a"] counts "a" once). Counts are always exact: Qdrant's
 * approximate mode only differs from its exact one when sampling a large
 * segment, and an exact count is what both approximate.
 */
#include <stdlib.h>
#include <string.h>

#include "store/collection_internal.h"
#include "base/err.h"
#include "base/util.h"

typedef struct {
    Collection *c;
    const PayloadIndex *ix;
    PayloadIndexType type;
    uint64_t *term_count; /* keyword, uuid, bool: per term id */
    int64_t *ints;        /* integer: one entry per (node, distinct value) */
    size_t n_ints, cap_ints;
} FacetCtx;

static int facet_node(void *ctx, uint32_t node)
{
    FacetCtx *fc = ctx;
    if (node >= fc->c->node_cap || !fc->c->node_live[node]) return 0;
    PayloadValues pv;
    payload_index_values(fc->ix, node, &pv);
    for (uint32_t k = 0; k < pv.n_vals; k++) {
        /* A value repeated within one point counts once: the lists are
         * short (a point's own values), so a look back is cheapest. */
        int dup = 0;
        if (fc->type == PAYLOAD_INDEX_INTEGER) {
            if (!pv.nums[k].is_int) continue;
            for (uint32_t m = 0; m < k && !dup; m++)
                dup = pv.nums[m].is_int && pv.nums[m].i == pv.nums[k].i;
            if (dup) continue;
            if (fc->n_ints == fc->cap_ints) {
                fc->cap_ints = fc->cap_ints ? fc->cap_ints * 2 : 256;
                fc->ints = xrealloc(fc->ints, fc->cap_ints * sizeof *fc->ints);
            }
            fc->ints[fc->n_ints++] = pv.nums[k].i;
        } else {
            for (uint32_t m = 0; m < k && !dup; m++) dup = pv.terms[m] == pv.terms[k];
            if (!dup) fc->term_count[pv.terms[k]]++;
        }
    }
    return 0;
}

static int facet_rec(void *ctx, const ScanRec *r) { return facet_node(ctx, r->node); }

static int cmp_i64(const void *pa, const void *pb)
{
    int64_t a = *(const int64_t *)pa, b = *(const int64_t *)pb;
    return (a > b) - (a < b);
}

/* Qdrant's order: count descending, then value ascending. */
static int cmp_hit(const void *pa, const void *pb)
{
    const CollectionFacetHit *a = pa, *b = pb;
    if (a->count != b->count) return a->count > b->count ? -1 : 1;
    switch (a->kind) {
    case COLLECTION_FACET_INT: return (a->i > b->i) - (a->i < b->i);
    case COLLECTION_FACET_BOOL: return (a->b > b->b) - (a->b < b->b);
    default: return strcmp(a->str, b->str);
    }
}

/* cmp_str orders hits by their strings, to merge UUID spellings. */
static int cmp_str(const void *pa, const void *pb)
{
    const CollectionFacetHit *a = pa, *b = pb;
    return strcmp(a->str, b->str);
}

/* The key's map index, or NULL. */
static const PayloadIndex *facet_index(const Collection *c, const char *key)
{
    const PayloadIndex *ix = NULL;
    Arena pa;
    arena_init(&pa, 1024);
    FilterPath path;
    if (*key && filter_path_parse(&pa, key, strlen(key), &path) == 0) {
        for (size_t i = 0; i < c->n_pindex && !ix; i++) {
            PayloadIndexType t = payload_index_type(c->pindex[i]);
            if ((t == PAYLOAD_INDEX_KEYWORD || t == PAYLOAD_INDEX_INTEGER ||
                 t == PAYLOAD_INDEX_UUID || t == PAYLOAD_INDEX_BOOL) &&
                filter_path_equal(payload_index_path(c->pindex[i]), &path))
                ix = c->pindex[i];
        }
    }
    arena_free(&pa);
    return ix;
}

/* collect_hits turns the counts into hits in the arena (all of them,
 * unsorted); UUID terms are written canonically and their spellings
 * merged. */
static void collect_hits(FacetCtx *fc, Arena *arena, CollectionFacetHit **out, size_t *n_out)
{
    size_t n = 0;
    CollectionFacetHit *h;
    if (fc->type == PAYLOAD_INDEX_INTEGER) {
        if (fc->n_ints > 1) qsort(fc->ints, fc->n_ints, sizeof *fc->ints, cmp_i64);
        h = arena_alloc(arena, (fc->n_ints ? fc->n_ints : 1) * sizeof *h);
        for (size_t i = 0; i < fc->n_ints;) {
            size_t k = i;
            while (k < fc->n_ints && fc->ints[k] == fc->ints[i]) k++;
            h[n++] = (CollectionFacetHit){ .kind = COLLECTION_FACET_INT, .i = fc->ints[i],
                                           .count = k - i };
            i = k;
        }
    } else {
        uint32_t total = payload_index_term_total(fc->ix);
        h = arena_alloc(arena, (total ? total : 1) * sizeof *h);
        for (uint32_t t = 0; t < total; t++) {
            if (!fc->term_count[t]) continue;
            CollectionFacetHit x = { .count = fc->term_count[t] };
            if (fc->type == PAYLOAD_INDEX_BOOL) {
                x.kind = COLLECTION_FACET_BOOL;
                x.b = (int)t;
            } else {
                size_t len;
                const char *s = payload_index_term_string(fc->ix, t, &len);
                x.kind = COLLECTION_FACET_STRING;
                PointId id;
                if (fc->type == PAYLOAD_INDEX_UUID) {
                    /* Qdrant facets UUIDs as 128-bit numbers and writes
                     * them canonically; a string that is no UUID was
                     * never a value of the index. */
                    if (!s || point_id_from_str(s, len, &id) || id.kind != POINT_ID_UUID) continue;
                    char buf[POINT_ID_TEXT_MAX];
                    x.str = arena_strndup(arena, point_id_format(&id, buf), POINT_ID_UUID_TEXT_LEN);
                } else {
                    if (!s) continue;
                    x.str = arena_strndup(arena, s, len);
                }
            }
            h[n++] = x;
        }
        if (fc->type == PAYLOAD_INDEX_UUID && n > 1) {
            qsort(h, n, sizeof *h, cmp_str);
            size_t m = 0;
            for (size_t i = 0; i < n; i++) {
                if (m && strcmp(h[m - 1].str, h[i].str) == 0) h[m - 1].count += h[i].count;
                else h[m++] = h[i];
            }
            n = m;
        }
    }
    *out = h;
    *n_out = n;
}

int collection_facet(Db *db, const char *name, const CollectionFacet *req, Arena *arena,
                     CollectionFacetHit **hits, size_t *n_hits, char *err, size_t errlen)
{
    *hits = NULL;
    *n_hits = 0;
    size_t limit = req->limit ? req->limit : COLLECTION_DEFAULT_FACET_LIMIT;
    Filter *f;
    Collection *c;
    int e = coll_query_begin(db, name, req->filter, &c, &f, err, errlen);
    if (e) return e;
    const char *key = req->key ? req->key : "";
    FacetCtx fc = { .c = c, .ix = facet_index(c, key) };
    if (!fc.ix) {
        e = err_set(err, errlen, ERR_INVAL,
                    "No appropriate index for faceting: `%s`. Please create one to facet on this "
                    "field. Check https://qdrant.tech/documentation/concepts/indexing/#payload-index "
                    "to see which payload schemas support Match conditions",
                    key);
    } else {
        fc.type = payload_index_type(fc.ix);
        if (fc.type != PAYLOAD_INDEX_INTEGER) {
            uint32_t total = payload_index_term_total(fc.ix);
            fc.term_count = xcalloc(total ? total : 1, sizeof *fc.term_count);
        }
        if (filter_matches_all(f)) {
            for (uint32_t node = 0; node < c->node_high; node++) facet_node(&fc, node);
        } else {
            StoreTxn *txn;
            if (!(e = store_read_begin(db->store, &txn))) {
                uint64_t max = filter_needs_payload(f) ? c->points_count / 2 : c->points_count;
                int done = coll_filter_nodes(c, txn, f, max, facet_node, &fc);
                if (done < 0) e = done;
                else if (!done) e = coll_scan_points(c, txn, f, NULL, facet_rec, &fc);
                store_read_end(txn);
            }
        }
        if (!e) {
            CollectionFacetHit *h;
            size_t n;
            collect_hits(&fc, arena, &h, &n);
            if (n > 1) qsort(h, n, sizeof *h, cmp_hit);
            *hits = h;
            *n_hits = n < limit ? n : limit;
        }
        free(fc.term_count);
        free(fc.ints);
    }
    coll_read_end(db, c);
    filter_free(f);
    return e;
}
