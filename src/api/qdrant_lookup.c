/*
 * qdrant_lookup.c - Qdrant's lookup_from: the point ids of a recommend,
 * discover or query request name points of another collection, whose
 * vectors are the examples (lib/collection/src/common/fetch_vectors.rs).
 *
 * The ids are resolved here, before the engine sees the request: each
 * becomes the raw vector (dense, sparse or multivector) that the lookup
 * collection holds under the lookup vector name (`lookup_from.vector`, or
 * the request's `using`), so the engine runs an ordinary search by raw
 * examples. Such ids are not excluded from the results: they name points
 * of another collection. Errors are Qdrant's, checked in its order:
 * "Collection X not found" (404), "No point with id N found" (404), "Not
 * existing vector name error: X" (400).
 */
#include <stdio.h>
#include <string.h>

#include "api/qdrant_internal.h"
#include "base/err.h"

/* check_collection: the lookup collection exists. */
static int check_collection(ApiJob *j, const ApiLookup *lk)
{
    CollectionInfo *ci = arena_alloc(api_arena(j), sizeof *ci);
    int rc = collection_info(j->api->db, lk->collection, ci);
    if (rc == ERR_NOTFOUND) return api_fail(j, QERR_NOT_FOUND, "Collection %s not found", lk->collection);
    if (rc) return api_fail_collection(j, rc, NULL);
    return 0;
}

int api_lookup_parse(ApiJob *j, const JsonValue *obj, ApiLookup *out)
{
    memset(out, 0, sizeof *out);
    const JsonValue *lk = json_get(obj, "lookup_from");
    if (!lk || lk->type == JSON_NULL) return 0;
    if (lk->type != JSON_OBJECT)
        return api_fail(j, QERR_FORMAT, "invalid type, expected struct LookupLocation at `lookup_from`");
    const JsonValue *c = json_get(lk, "collection");
    if (!c || c->type == JSON_NULL) return api_fail(j, QERR_FORMAT, "missing field `collection` at `lookup_from`");
    if (c->type != JSON_STRING)
        return api_fail(j, QERR_FORMAT, "invalid type, expected a string at `lookup_from.collection`");
    out->collection = c->u.str;
    const JsonValue *v = json_get(lk, "vector");
    if (v && v->type != JSON_NULL) {
        if (v->type != JSON_STRING)
            return api_fail(j, QERR_FORMAT, "invalid type, expected a string at `lookup_from.vector`");
        out->vector = v->u.str;
    }
    const JsonValue *sk = json_get(lk, "shard_key");
    if (sk && sk->type != JSON_NULL) return api_fail(j, QERR_UNSUPPORTED, "shard keys");
    out->set = 1;
    /* Qdrant resolves the location even when no example needs it. */
    return check_collection(j, out);
}

/* check_vector: the lookup collection has the vector. */
static int check_vector(ApiJob *j, const ApiLookup *lk, const char *using)
{
    if (lk->checked) return 0;
    CollectionInfo *ci = arena_alloc(api_arena(j), sizeof *ci);
    int rc = collection_info(j->api->db, lk->collection, ci);
    if (rc == ERR_NOTFOUND) return api_fail(j, QERR_NOT_FOUND, "Collection %s not found", lk->collection);
    if (rc) return api_fail_collection(j, rc, NULL);
    const char *name = lk->vector ? lk->vector : using ? using : "";
    int found = !*name && ci->config.unnamed;
    for (int v = 0; *name && !found && v < ci->config.n_vectors; v++) found = !strcmp(ci->config.vectors[v].name, name);
    for (int s = 0; !found && s < ci->config.n_sparse; s++) found = !strcmp(ci->config.sparse[s].name, name);
    if (!found) return api_fail(j, QERR_BAD_INPUT, "Not existing vector name error: %s", name);
    ((ApiLookup *)lk)->checked = 1;
    return 0;
}

int api_lookup_vector(ApiJob *j, const ApiLookup *lk, const char *using, const PointId *id,
                      ApiLookupVector *out)
{
    memset(out, 0, sizeof *out);
    const char *names[1] = { lk->vector ? lk->vector : using ? using : "" };
    CollectionSelector none = { COLLECTION_SEL_NONE, NULL, 0 };
    CollectionSelector one = { COLLECTION_SEL_INCLUDE, names, 1 };
    CollectionResult r;
    /* Qdrant reads the points first: a missing one is 404 even when the
     * vector name is wrong too. */
    int rc = collection_get(j->api->db, lk->collection, id, 1, &none, &none, api_arena(j), &r);
    if (rc == ERR_NOTFOUND) return api_fail(j, QERR_NOT_FOUND, "Collection %s not found", lk->collection);
    if (rc) return api_fail_collection(j, rc, NULL);
    char buf[POINT_ID_TEXT_MAX];
    if (!r.n) return api_fail(j, QERR_NOT_FOUND, "No point with id %s found", point_id_format(id, buf));
    if (check_vector(j, lk, using)) return -1;
    rc = collection_get(j->api->db, lk->collection, id, 1, &none, &one, api_arena(j), &r);
    if (rc == ERR_NOTFOUND) return api_fail(j, QERR_NOT_FOUND, "Collection %s not found", lk->collection);
    if (rc) return api_fail_collection(j, rc, NULL);
    const CollectionPoint *p = r.n ? &r.points[0] : NULL;
    for (int v = 0; p && p->vectors && v < r.config.n_vectors; v++)
        if (p->vectors[v]) {
            out->dense = p->vectors[v];
            out->dim = r.config.vectors[v].size;
            return 0;
        }
    for (int s = 0; p && p->sparse && s < r.config.n_sparse; s++)
        if (p->sparse[s]) {
            out->sparse = p->sparse[s];
            return 0;
        }
    for (int m = 0; p && p->multi && m < r.config.n_vectors; m++)
        if (p->multi[m]) {
            out->multi = p->multi[m];
            return 0;
        }
    return api_fail(j, QERR_NOT_FOUND, "No point with id %s found", point_id_format(id, buf));
}

/* resolve_ids appends the vectors of ids to one side's raw examples. */
static int resolve_ids(ApiJob *j, const ApiLookup *lk, const char *using, const PointId *ids,
                       size_t n, const float *const **dense, size_t *n_dense,
                       const CollectionSparseVector **sparse, size_t *n_sparse,
                       const CollectionMultiVector **multi, size_t *n_multi, size_t *dim)
{
    if (!n) return 0;
    Arena *a = api_arena(j);
    const float **d = arena_alloc(a, (*n_dense + n) * sizeof *d);
    CollectionSparseVector *s = arena_alloc(a, (*n_sparse + n) * sizeof *s);
    CollectionMultiVector *m = arena_alloc(a, (*n_multi + n) * sizeof *m);
    if (*n_dense) memcpy(d, *dense, *n_dense * sizeof *d);
    if (*n_sparse) memcpy(s, *sparse, *n_sparse * sizeof *s);
    if (*n_multi) memcpy(m, *multi, *n_multi * sizeof *m);
    size_t nd = *n_dense, ns = *n_sparse, nm = *n_multi;
    for (size_t i = 0; i < n; i++) {
        ApiLookupVector v;
        if (api_lookup_vector(j, lk, using, &ids[i], &v)) return -1;
        if (v.dense) {
            d[nd++] = v.dense;
            *dim = v.dim;
        } else if (v.sparse) {
            s[ns++] = *v.sparse;
        } else {
            m[nm++] = *v.multi;
        }
    }
    *dense = d;
    *n_dense = nd;
    *sparse = s;
    *n_sparse = ns;
    *multi = m;
    *n_multi = nm;
    return 0;
}

int api_lookup_recommend(ApiJob *j, const ApiLookup *lk, CollectionRecommend *r)
{
    if (!lk->set) return 0;
    const char *using = r->search.using;
    if (check_collection(j, lk)) return -1;
    size_t dim = r->search.dim;
    if (resolve_ids(j, lk, using, r->positive, r->n_positive, &r->positive_vectors,
                    &r->n_positive_vectors, &r->positive_sparse, &r->n_positive_sparse,
                    &r->positive_multi, &r->n_positive_multi, &dim) ||
        resolve_ids(j, lk, using, r->negative, r->n_negative, &r->negative_vectors,
                    &r->n_negative_vectors, &r->negative_sparse, &r->n_negative_sparse,
                    &r->negative_multi, &r->n_negative_multi, &dim))
        return -1;
    r->positive = r->negative = NULL;
    r->n_positive = r->n_negative = 0;
    r->search.dim = dim;
    return 0;
}

/* resolve_example turns one discovery example given by id into a vector. */
static int resolve_example(ApiJob *j, const ApiLookup *lk, const char *using, CollectionExample *e)
{
    if (!e->by_id) return 0;
    ApiLookupVector v;
    if (api_lookup_vector(j, lk, using, &e->id, &v)) return -1;
    if (!v.dense)
        return api_fail(j, QERR_BAD_REQUEST, "discovery examples must be dense vectors");
    e->by_id = 0;
    e->vector = v.dense;
    e->dim = v.dim;
    return 0;
}

int api_lookup_discover(ApiJob *j, const ApiLookup *lk, CollectionDiscover *d)
{
    if (!lk->set) return 0;
    const char *using = d->search.using;
    if (check_collection(j, lk)) return -1;
    if (d->target && resolve_example(j, lk, using, (CollectionExample *)d->target)) return -1;
    for (size_t i = 0; i < d->n_pairs; i++)
        if (resolve_example(j, lk, using, (CollectionExample *)&d->positive[i]) ||
            resolve_example(j, lk, using, (CollectionExample *)&d->negative[i]))
            return -1;
    return 0;
}
