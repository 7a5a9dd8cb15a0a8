/*
 * qdrant_points.c - Qdrant's point routes that write (upsert, delete,
 * payload set / overwrite / delete / clear) and that read points by id
 * (retrieve, get one), plus the Record / ScoredPoint writer the search
 * routes share.
 *
 * A write is parsed and validated on a threadpool thread into the
 * engine's C structs (in the request arena), then applied by the writer
 * thread, which owns every LMDB write transaction.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/qdrant_bm25.h"
#include "api/qdrant_convert.h"
#include "api/qdrant_internal.h"
#include "api/qdrant_multivec.h"
#include "api/qdrant_sparse.h"
#include "base/err.h"
#include "base/util.h"
#include "index/filter.h"

/* ---- output ---- */

int api_selector(ApiJob *j, const JsonValue *v, int dflt, CollectionSelector *out)
{
    char err[256];
    if (qdrant_selector_from_json(v, dflt, api_arena(j), out, err, sizeof err))
        return api_fail(j, QERR_FORMAT, "%s", err);
    return 0;
}

int api_payload_selector(ApiJob *j, const JsonValue *v, int dflt, CollectionSelector *out)
{
    if (api_selector(j, v, dflt, out)) return -1;
    /* Payload keys are JSON paths: refuse one that does not parse here,
     * where the client can be told. */
    for (size_t i = 0; i < out->n_keys; i++) {
        FilterPath p;
        if (filter_path_parse(api_arena(j), out->keys[i], strlen(out->keys[i]), &p))
            return api_fail(j, QERR_FORMAT, "invalid payload key path \"%s\"", out->keys[i]);
    }
    return 0;
}

/* ---- the upsert body ---- */

/* unnamed_bm25 fails for a BM25 Document given as a point's unnamed
 * vector, as Qdrant does: an upsert embeds it first (its errors come
 * first), then finds its sparse vector has no name; an update of vectors
 * (convert_point_vectors) refuses any unnamed inference object. */
static int unnamed_bm25(ApiJob *j, const JsonValue *v, const char *what, int update)
{
    if (update)
        return api_fail(j, QERR_INFERENCE, "Direct %s processing not supported for PointVectors. Use named vectors.",
                        json_get(v, "text") ? "Document" : json_get(v, "image") ? "Image" : "Object");
    const CollectionSparseVector *sv;
    if (qdrant_bm25_embed(j, v, what, &sv)) return -1;
    return api_fail(j, QERR_BAD_REQUEST, "Sparse vector from document inference should be named");
}

/* One vector of a point as it came in: named or not (update: for an
 * update of vectors rather than an upsert). */
static int parse_vector_struct(ApiJob *j, const JsonValue *v, const char *what, int update,
                               CollectionVectorIn **out, size_t *n)
{
    Arena *a = api_arena(j);
    if (v->type == JSON_ARRAY) {
        CollectionVectorIn *in = arena_calloc(a, sizeof *in);
        float *f = NULL;
        char path[96];
        snprintf(path, sizeof path, "%s.vector", what);
        if (qdrant_is_multi(v) ? qdrant_multivec_vector(j, v, path, &in->multi)
                               : api_floats(j, v, what, &f, &in->dim))
            return -1;
        in->name = "";
        in->data = f;
        *out = in;
        *n = 1;
        return 0;
    }
    if (v->type != JSON_OBJECT)
        return api_fail(j, QERR_FORMAT,
                        "data did not match any variant of untagged enum VectorStruct at `%s`", what);
    if (api_inference_object(v)) {
        /* A Document or Image for the unnamed vector. */
        if (qdrant_bm25_model(v)) return unnamed_bm25(j, v, what, update);
        CollectionVectorIn *in = arena_calloc(a, sizeof *in);
        float *f;
        in->name = "";
        if (api_inference(j, v, what, &f, &in->dim, NULL)) return -1;
        in->data = f;
        *out = in;
        *n = 1;
        return 0;
    }
    CollectionVectorIn *in = arena_calloc(a, (v->len ? v->len : 1) * sizeof *in);
    for (uint32_t i = 0; i < v->len; i++) {
        const JsonMember *m = &v->u.members[i];
        if (qdrant_is_sparse(&m->value)) {
            /* Qdrant's validation path names the map entry "?". */
            char path[96];
            snprintf(path, sizeof path, "%s.vector.?", what);
            in[i].name = m->key;
            if (qdrant_sparse_vector(j, &m->value, path, &in[i].sparse)) return -1;
            continue;
        }
        if (qdrant_is_multi(&m->value)) {
            char path[96];
            snprintf(path, sizeof path, "%s.vector.?", what);
            in[i].name = m->key;
            if (qdrant_multivec_vector(j, &m->value, path, &in[i].multi)) return -1;
            continue;
        }
        float *f;
        if (api_inference_object(&m->value)) {
            char w[160];
            snprintf(w, sizeof w, "%s.vector.%s", what, m->key);
            if (api_inference(j, &m->value, w, &f, &in[i].dim, &in[i].sparse)) return -1;
        } else if (api_floats(j, &m->value, what, &f, &in[i].dim)) {
            return -1;
        }
        in[i].name = m->key;
        in[i].data = f;
    }
    *out = in;
    *n = v->len;
    return 0;
}

/* The points of an upsert, from the `points` list or the `batch` columns. */
typedef struct {
    CollectionPointIn *points;
    size_t n;
} UpsertState;

static int parse_points_list(ApiJob *j, const JsonValue *list, UpsertState *st)
{
    if (list->type != JSON_ARRAY)
        return api_fail(j, QERR_FORMAT, "invalid type, expected a sequence at `points`");
    st->n = list->len;
    st->points = arena_calloc(api_arena(j), (st->n ? st->n : 1) * sizeof *st->points);
    for (size_t i = 0; i < st->n; i++) {
        const JsonValue *p = api_item(j, list, i);
        CollectionPointIn *out = &st->points[i];
        char what[64];
        snprintf(what, sizeof what, "points[%zu]", i);
        if (p->type != JSON_OBJECT)
            return api_fail(j, QERR_FORMAT, "invalid type, expected struct PointStruct at `%s`", what);
        const JsonValue *id = json_get(p, "id");
        if (!id) return api_fail(j, QERR_FORMAT, "missing field `id` at `%s`", what);
        if (api_point_id(j, id, what, &out->id)) return -1;
        const JsonValue *vec = json_get(p, "vector");
        if (!vec) return api_fail(j, QERR_FORMAT, "missing field `vector` at `%s`", what);
        CollectionVectorIn *vin = NULL;
        if (parse_vector_struct(j, vec, what, 0, &vin, &out->n_vectors)) return -1;
        out->vectors = vin;
        const JsonValue *payload = json_get(p, "payload");
        if (payload && payload->type != JSON_NULL && payload->type != JSON_OBJECT)
            return api_fail(j, QERR_FORMAT, "invalid type, expected a map at `%s.payload`", what);
        out->payload = payload;
    }
    return 0;
}

static int parse_batch(ApiJob *j, const JsonValue *b, UpsertState *st)
{
    if (b->type != JSON_OBJECT)
        return api_fail(j, QERR_FORMAT, "invalid type, expected struct Batch at `batch`");
    const JsonValue *ids = json_get(b, "ids");
    PointId *pids;
    size_t n;
    if (api_point_ids(j, ids, "batch.ids", &pids, &n)) return -1;
    const JsonValue *vectors = json_get(b, "vectors");
    const JsonValue *payloads = json_get(b, "payloads");
    if (!vectors) return api_fail(j, QERR_FORMAT, "missing field `vectors` at `batch`");
    if (payloads && payloads->type != JSON_NULL && payloads->type != JSON_ARRAY)
        return api_fail(j, QERR_FORMAT, "invalid type, expected a sequence at `batch.payloads`");
    Arena *a = api_arena(j);
    st->n = n;
    st->points = arena_calloc(a, (n ? n : 1) * sizeof *st->points);
    /* vectors: [[...], ...] for the unnamed vector, or {name: [[...]]}. */
    size_t n_names = vectors->type == JSON_OBJECT ? vectors->len : 1;
    if (vectors->type != JSON_OBJECT && vectors->type != JSON_ARRAY)
        return api_fail(j, QERR_FORMAT, "invalid type, expected BatchVectorStruct at `batch.vectors`");
    /* Qdrant's Batch validator (lib/api/src/rest/validate.rs). */
    for (size_t k = 0; k < n_names; k++) {
        const JsonValue *col = vectors->type == JSON_OBJECT ? &vectors->u.members[k].value : vectors;
        if (col->type != JSON_ARRAY)
            return api_fail(j, QERR_FORMAT, "invalid type, expected a sequence at `batch.vectors`");
        if (col->len != n)
            return api_fail(j, QERR_VALIDATION,
                            "batch.batch: number of ids and vectors must be equal (%zu != %u)", n,
                            col->len);
    }
    if (payloads && payloads->type == JSON_ARRAY && payloads->len != n)
        return api_fail(j, QERR_VALIDATION,
                        "batch.batch: number of ids and payloads must be equal (%zu != %u)", n,
                        payloads->len);
    for (size_t i = 0; i < n; i++) {
        st->points[i].id = pids[i];
        st->points[i].vectors = arena_calloc(a, n_names * sizeof(CollectionVectorIn));
        st->points[i].n_vectors = n_names;
        if (payloads && payloads->type == JSON_ARRAY) {
            const JsonValue *pl = api_item(j, payloads, i);
            if (pl->type != JSON_NULL && pl->type != JSON_OBJECT)
                return api_fail(j, QERR_FORMAT, "invalid type, expected a map at `batch.payloads[%zu]`", i);
            st->points[i].payload = pl;
        }
    }
    for (size_t k = 0; k < n_names; k++) {
        const JsonValue *col = vectors->type == JSON_OBJECT ? &vectors->u.members[k].value : vectors;
        const char *name = vectors->type == JSON_OBJECT ? vectors->u.members[k].key : "";
        for (size_t i = 0; i < n; i++) {
            CollectionVectorIn *in = (CollectionVectorIn *)&st->points[i].vectors[k];
            char what[96];
            snprintf(what, sizeof what, "batch.vectors[%zu]", i);
            float *f;
            JsonValue item = json_item(col, i);
            if (qdrant_is_sparse(&item)) {
                char path[96 + COLLECTION_MAX_VECTOR_NAME];
                snprintf(path, sizeof path, "batch.vectors.%s[%zu]", name, i);
                in->name = name;
                if (qdrant_sparse_vector(j, &item, path, &in->sparse)) return -1;
                continue;
            }
            if (qdrant_is_multi(&item)) {
                in->name = name;
                if (qdrant_multivec_vector(j, &item, *name ? "batch.vectors.?" : "batch.vectors",
                                           &in->multi))
                    return -1;
                continue;
            }
            if (api_inference_object(&item)) {
                /* Qdrant's convert_batch: no inference for the unnamed
                 * column (vitrine's CLIP model serves it; BM25 is sparse). */
                if (!*name && qdrant_bm25_model(&item))
                    return api_fail(j, QERR_INFERENCE,
                                    "Direct %s processing is not supported in top-level batch vectors. Use named vectors.",
                                    json_get(&item, "text") ? "Document" : json_get(&item, "image") ? "Image" : "Object");
                if (api_inference(j, &item, what, &f, &in->dim, &in->sparse)) return -1;
            } else if (api_floats(j, &item, what, &f, &in->dim)) {
                return -1;
            }
            in->name = name;
            in->data = f;
        }
    }
    return 0;
}

/* parse_upsert reads PointInsertOperations ({"points": [...]} or
 * {"batch": {...}}) from obj into an upsert op. */
static int parse_upsert(ApiJob *j, const JsonValue *obj, CollectionOp *op)
{
    if (obj->type != JSON_OBJECT)
        return api_fail(j, QERR_FORMAT, "invalid type, expected PointInsertOperations");
    UpsertState st = { 0 };
    const JsonValue *points = json_get(obj, "points");
    const JsonValue *batch = json_get(obj, "batch");
    const JsonValue *uf;
    if (api_get_object(j, obj, "update_filter", &uf) || api_check_filter_at(j, uf, "update_filter"))
        return -1;
    const char *mode = NULL;
    CollectionUpdateMode update_mode = COLLECTION_UPSERT_ANY;
    if (api_get_str(j, obj, "update_mode", &mode)) return -1;
    if (!mode || !strcmp(mode, "upsert")) update_mode = COLLECTION_UPSERT_ANY;
    else if (!strcmp(mode, "insert_only")) update_mode = COLLECTION_UPSERT_INSERT_ONLY;
    else if (!strcmp(mode, "update_only")) update_mode = COLLECTION_UPSERT_UPDATE_ONLY;
    else
        return api_fail(j, QERR_FORMAT,
                        "unknown variant `%s`, expected one of `upsert`, `insert_only`, `update_only`",
                        mode);
    if (points && batch)
        return api_fail(j, QERR_FORMAT, "expected either `points` or `batch`, not both");
    if (points) {
        if (parse_points_list(j, points, &st)) return -1;
    } else if (batch) {
        if (parse_batch(j, batch, &st)) return -1;
    } else {
        return api_fail(j, QERR_FORMAT,
                        "data did not match any variant of untagged enum PointInsertOperations");
    }
    if (st.n == 0) return api_fail(j, QERR_BAD_REQUEST, "Empty update request");
    memset(op, 0, sizeof *op);
    op->kind = COLLECTION_OP_UPSERT;
    op->points = st.points;
    op->n_points = st.n;
    op->update_mode = update_mode;
    op->update_filter = uf;
    return 0;
}

/* ---- point selectors: ids or a filter ---- */

typedef struct {
    PointId *ids; /* NULL: by filter */
    size_t n;
    const JsonValue *filter;
} Selector;

/* parse_selector reads Qdrant's PointsSelector from obj: "points": [ids]
 * or "filter": {...}. */
static int parse_selector(ApiJob *j, const JsonValue *obj, Selector *s)
{
    memset(s, 0, sizeof *s);
    const JsonValue *points = json_get(obj, "points");
    const JsonValue *filter = json_get(obj, "filter");
    if (points && points->type == JSON_NULL) points = NULL;
    if (filter && filter->type == JSON_NULL) filter = NULL;
    /* Given both, Qdrant uses the ids and ignores the filter. */
    if (points) return api_point_ids(j, points, "points", &s->ids, &s->n);
    if (filter) {
        if (filter->type != JSON_OBJECT)
            return api_fail(j, QERR_FORMAT, "invalid type, expected struct Filter at `filter`");
        s->filter = filter;
        return api_check_filter(j, filter);
    }
    return api_fail(j, QERR_FORMAT, "Either list of point ids or filter must be provided");
}

/* parse_points_selector fills op's ids or filter from a PointsSelector. */
static int parse_points_selector(ApiJob *j, const JsonValue *obj, CollectionOp *op)
{
    Selector s;
    if (parse_selector(j, obj, &s)) return -1;
    op->ids = s.ids;
    op->n_ids = s.n;
    op->filter = s.filter;
    return 0;
}

static int parse_delete(ApiJob *j, const JsonValue *obj, CollectionOp *op)
{
    memset(op, 0, sizeof *op);
    op->kind = COLLECTION_OP_DELETE;
    if (obj->type != JSON_OBJECT) return api_fail(j, QERR_FORMAT, "invalid type, expected PointsSelector");
    if (parse_points_selector(j, obj, op)) return -1;
    if (op->ids && op->n_ids == 0) return api_fail(j, QERR_BAD_REQUEST, "Empty update request");
    return 0;
}

static int parse_payload_op(ApiJob *j, const JsonValue *obj, CollectionOpKind kind, CollectionOp *op)
{
    memset(op, 0, sizeof *op);
    op->kind = kind;
    if (obj->type != JSON_OBJECT) return api_fail(j, QERR_FORMAT, "invalid type, expected a map");
    if (parse_points_selector(j, obj, op)) return -1;
    if (kind == COLLECTION_OP_SET_PAYLOAD || kind == COLLECTION_OP_OVERWRITE_PAYLOAD) {
        op->payload = json_get(obj, "payload");
        if (!op->payload) return api_fail(j, QERR_FORMAT, "missing field `payload`");
        if (op->payload->type != JSON_OBJECT)
            return api_fail(j, QERR_FORMAT, "invalid type, expected a map at `payload`");
        if (kind == COLLECTION_OP_SET_PAYLOAD && api_get_str(j, obj, "key", &op->key)) return -1;
    } else if (kind == COLLECTION_OP_DELETE_PAYLOAD) {
        op->keys = json_get(obj, "keys");
        if (!op->keys) return api_fail(j, QERR_FORMAT, "missing field `keys`");
        if (op->keys->type != JSON_ARRAY)
            return api_fail(j, QERR_FORMAT, "invalid type, expected a sequence at `keys`");
        for (uint32_t i = 0; i < op->keys->len; i++)
            if (api_item(j, op->keys, i)->type != JSON_STRING)
                return api_fail(j, QERR_FORMAT, "invalid type, expected a string at `keys`");
    }
    return 0;
}

/* update_vectors: {"points": [{"id", "vector": [..] | {name: [..]}}]}. */
static int parse_update_vectors(ApiJob *j, const JsonValue *obj, CollectionOp *op)
{
    memset(op, 0, sizeof *op);
    op->kind = COLLECTION_OP_UPDATE_VECTORS;
    if (obj->type != JSON_OBJECT) return api_fail(j, QERR_FORMAT, "invalid type, expected UpdateVectors");
    const JsonValue *uf;
    if (api_get_object(j, obj, "update_filter", &uf) || api_check_filter_at(j, uf, "update_filter"))
        return -1;
    op->update_filter = uf;
    const JsonValue *points;
    if (api_get_array(j, obj, "points", &points)) return -1;
    if (!points) return api_fail(j, QERR_FORMAT, "missing field `points`");
    if (points->len == 0) return api_fail(j, QERR_VALIDATION, "points: must specify points to update");
    UpsertState st = { 0 };
    st.n = points->len;
    st.points = arena_calloc(api_arena(j), st.n * sizeof *st.points);
    for (size_t i = 0; i < st.n; i++) {
        const JsonValue *p = api_item(j, points, i);
        char what[64];
        snprintf(what, sizeof what, "points[%zu]", i);
        if (p->type != JSON_OBJECT)
            return api_fail(j, QERR_FORMAT, "invalid type, expected struct PointVectors at `%s`", what);
        const JsonValue *id = json_get(p, "id");
        if (!id) return api_fail(j, QERR_FORMAT, "missing field `id` at `%s`", what);
        if (api_point_id(j, id, what, &st.points[i].id)) return -1;
        const JsonValue *vec = json_get(p, "vector");
        if (!vec) return api_fail(j, QERR_FORMAT, "missing field `vector` at `%s`", what);
        CollectionVectorIn *vin = NULL;
        if (parse_vector_struct(j, vec, what, 1, &vin, &st.points[i].n_vectors)) return -1;
        if (st.points[i].n_vectors == 0)
            return api_fail(j, QERR_VALIDATION, "%s.vector: must specify vectors to update for point", what);
        st.points[i].vectors = vin;
    }
    op->points = st.points;
    op->n_points = st.n;
    return 0;
}

/* delete_vectors: {"points" | "filter", "vector": [names]}. */
static int parse_delete_vectors(ApiJob *j, const JsonValue *obj, CollectionOp *op)
{
    memset(op, 0, sizeof *op);
    op->kind = COLLECTION_OP_DELETE_VECTORS;
    if (obj->type != JSON_OBJECT) return api_fail(j, QERR_FORMAT, "invalid type, expected DeleteVectors");
    if (parse_points_selector(j, obj, op)) return -1;
    const JsonValue *names = json_get(obj, "vector");
    if (!names) names = json_get(obj, "vectors");
    if (!names) return api_fail(j, QERR_FORMAT, "missing field `vector`");
    if (names->type != JSON_ARRAY)
        return api_fail(j, QERR_FORMAT, "invalid type, expected a sequence at `vector`");
    if (names->len == 0) return api_fail(j, QERR_VALIDATION, "vector: must specify vector names to delete");
    const char **v = arena_alloc(api_arena(j), names->len * sizeof *v);
    for (uint32_t i = 0; i < names->len; i++) {
        v[i] = json_as_str(api_item(j, names, i));
        if (!v[i]) return api_fail(j, QERR_FORMAT, "invalid type, expected a string at `vector`");
    }
    op->vector_names = v;
    op->n_vector_names = names->len;
    return 0;
}

/* The single-operation write routes: parse off the loop, then the writer
 * group-commits the op (api_point_write). */
#define POINT_WRITE_ROUTE(fn, parse)                        \
    static void fn(ApiJob *j)                               \
    {                                                       \
        if (api_body_object(j, 0)) return;                  \
        CollectionOp op;                                    \
        if (parse) return;                                  \
        api_point_write(j, &op);                            \
    }

POINT_WRITE_ROUTE(upsert_prepare, parse_upsert(j, j->body, &op))
POINT_WRITE_ROUTE(delete_prepare, parse_delete(j, j->body, &op))
POINT_WRITE_ROUTE(set_payload_prepare, parse_payload_op(j, j->body, COLLECTION_OP_SET_PAYLOAD, &op))
POINT_WRITE_ROUTE(overwrite_payload_prepare,
                  parse_payload_op(j, j->body, COLLECTION_OP_OVERWRITE_PAYLOAD, &op))
POINT_WRITE_ROUTE(delete_payload_prepare,
                  parse_payload_op(j, j->body, COLLECTION_OP_DELETE_PAYLOAD, &op))
POINT_WRITE_ROUTE(clear_payload_prepare, parse_payload_op(j, j->body, COLLECTION_OP_CLEAR_PAYLOAD, &op))
POINT_WRITE_ROUTE(update_vectors_prepare, parse_update_vectors(j, j->body, &op))
POINT_WRITE_ROUTE(delete_vectors_prepare, parse_delete_vectors(j, j->body, &op))

/* POST .../points/batch: {"operations": [{"upsert": {...}} | {"delete":
 * {...}} | {"set_payload": ...} | ...]}, applied in order. */
static void batch_prepare(ApiJob *j)
{
    if (api_body_object(j, 0)) return;
    const JsonValue *ops;
    if (api_get_array(j, j->body, "operations", &ops)) return;
    if (!ops) return (void)api_fail(j, QERR_FORMAT, "missing field `operations`");
    static const struct {
        const char *name;
        int kind; /* -1 upsert, -2 delete, -3 update_vectors, -4 delete_vectors, else a payload op */
    } names[] = {
        { "upsert", -1 }, { "delete", -2 }, { "update_vectors", -3 }, { "delete_vectors", -4 },
        { "set_payload", COLLECTION_OP_SET_PAYLOAD },
        { "overwrite_payload", COLLECTION_OP_OVERWRITE_PAYLOAD },
        { "delete_payload", COLLECTION_OP_DELETE_PAYLOAD },
        { "clear_payload", COLLECTION_OP_CLEAR_PAYLOAD },
    };
    Arena *a = api_arena(j);
    j->batch = arena_calloc(a, (ops->len ? ops->len : 1) * sizeof *j->batch);
    j->n_batch = ops->len;
    for (uint32_t i = 0; i < ops->len; i++) {
        const JsonValue *o = api_item(j, ops, i);
        if (o->type != JSON_OBJECT || o->len != 1)
            return (void)api_fail(j, QERR_FORMAT,
                                  "data did not match any variant of untagged enum UpdateOperation at `operations[%u]`",
                                  i);
        const JsonMember *m = &o->u.members[0];
        size_t k = 0;
        while (k < sizeof names / sizeof *names && strcmp(names[k].name, m->key)) k++;
        if (k == sizeof names / sizeof *names)
            return (void)api_fail(j, QERR_FORMAT, "unknown variant `%s` at `operations[%u]`", m->key, i);
        CollectionOp *op = arena_alloc(a, sizeof *op);
        int rc;
        switch (names[k].kind) {
        case -1: rc = parse_upsert(j, &m->value, op); break;
        case -2: rc = parse_delete(j, &m->value, op); break;
        case -3: rc = parse_update_vectors(j, &m->value, op); break;
        case -4: rc = parse_delete_vectors(j, &m->value, op); break;
        default: rc = parse_payload_op(j, &m->value, (CollectionOpKind)names[k].kind, op); break;
        }
        if (rc) return;
        j->batch[i].collection = j->collection;
        j->batch[i].ops = op;
        j->batch[i].n_ops = 1;
    }
}

/* ---- reading points by id ---- */

/* dedup_ids collapses repeated ids to their first place, as Qdrant's
 * retrieve does, in n log n: sort positions by id, keep the first of each
 * run, then restore the request's order. Returns the new count. */
typedef struct {
    PointId id;
    size_t pos;
} IdPos;

static int cmp_idpos(const void *pa, const void *pb)
{
    const IdPos *a = pa, *b = pb;
    int c = point_id_cmp(&a->id, &b->id);
    if (c) return c;
    return a->pos < b->pos ? -1 : a->pos > b->pos;
}

static int cmp_pos(const void *pa, const void *pb)
{
    const IdPos *a = pa, *b = pb;
    return a->pos < b->pos ? -1 : a->pos > b->pos;
}

static size_t dedup_ids(ApiJob *j, PointId *ids, size_t n)
{
    if (n < 2) return n;
    IdPos *t = arena_alloc(api_arena(j), n * sizeof *t);
    for (size_t i = 0; i < n; i++) t[i] = (IdPos){ ids[i], i };
    qsort(t, n, sizeof *t, cmp_idpos);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || !point_id_equal(&t[i].id, &t[i - 1].id)) t[m++] = t[i];
    qsort(t, m, sizeof *t, cmp_pos);
    for (size_t i = 0; i < m; i++) ids[i] = t[i].id;
    return m;
}

static void retrieve(ApiJob *j)
{
    if (api_body_object(j, 0)) return;
    PointId *ids;
    size_t n;
    if (api_point_ids(j, json_get(j->body, "ids"), "ids", &ids, &n)) return;
    n = dedup_ids(j, ids, n);
    /* Without with_payload Qdrant returns none (its code's default, not
     * its documentation's). */
    CollectionSelector wp, wv;
    if (api_payload_selector(j, json_get(j->body, "with_payload"), COLLECTION_SEL_NONE, &wp)) return;
    const JsonValue *wvj = json_get(j->body, "with_vector");
    if (!wvj) wvj = json_get(j->body, "with_vectors");
    if (api_selector(j, wvj, COLLECTION_SEL_NONE, &wv)) return;
    CollectionResult r;
    int rc = collection_get(j->api->db, j->collection, ids, n, &wp, &wv, api_arena(j), &r);
    if (rc == ERR_INVAL && wv.mode == COLLECTION_SEL_INCLUDE) {
        /* collection_get says only "invalid": name the vector as Qdrant does. */
        CollectionInfo ci;
        if (collection_info(j->api->db, j->collection, &ci) == 0)
            for (size_t k = 0; k < wv.n_keys; k++) {
                int found = 0;
                for (int v = 0; v < ci.config.n_vectors; v++)
                    found |= !strcmp(ci.config.vectors[v].name, wv.keys[k]);
                for (int v = 0; v < ci.config.n_sparse; v++)
                    found |= !strcmp(ci.config.sparse[v].name, wv.keys[k]);
                if (!found)
                    return (void)api_fail(j, QERR_BAD_INPUT, "Not existing vector name error: %s",
                                          wv.keys[k]);
            }
    }
    if (rc) return (void)api_fail_collection(j, rc, NULL);
    qdrant_write_points(api_result(j), &r, 0);
}

static void get_point(ApiJob *j)
{
    const char *text = http_param(j->req, "id");
    PointId id;
    if (point_id_from_str(text, strlen(text), &id))
        return (void)api_fail(j, QERR_BAD_INPUT, "Can not recognize \"%s\" as point id", text);
    CollectionSelector all = { COLLECTION_SEL_ALL, NULL, 0 };
    CollectionResult r;
    int rc = collection_get(j->api->db, j->collection, &id, 1, &all, &all, api_arena(j), &r);
    if (rc) return (void)api_fail_collection(j, rc, NULL);
    if (r.n == 0) {
        char buf[POINT_ID_TEXT_MAX];
        /* Qdrant's wording, grammar included (retrieve_api.rs). */
        return (void)api_fail(j, QERR_NOT_FOUND, "Point with id %s does not exists!",
                              point_id_format(&id, buf));
    }
    qdrant_write_point(api_result(j), &r, 0, 0);
}

const ApiRoute qdrant_point_routes[] = {
    { "PUT", "/collections/{collection_name}/points", API_WRITE, upsert_prepare, NULL },
    { "POST", "/collections/{collection_name}/points", API_READ, NULL, retrieve },
    { "GET", "/collections/{collection_name}/points/{id}", API_READ, NULL, get_point },
    { "POST", "/collections/{collection_name}/points/delete", API_WRITE, delete_prepare, NULL },
    { "POST", "/collections/{collection_name}/points/payload", API_WRITE, set_payload_prepare, NULL },
    { "PUT", "/collections/{collection_name}/points/payload", API_WRITE, overwrite_payload_prepare,
      NULL },
    { "POST", "/collections/{collection_name}/points/payload/delete", API_WRITE,
      delete_payload_prepare, NULL },
    { "POST", "/collections/{collection_name}/points/payload/clear", API_WRITE,
      clear_payload_prepare, NULL },
    { "PUT", "/collections/{collection_name}/points/vectors", API_WRITE, update_vectors_prepare,
      NULL },
    { "POST", "/collections/{collection_name}/points/vectors/delete", API_WRITE,
      delete_vectors_prepare, NULL },
    { "POST", "/collections/{collection_name}/points/batch", API_WRITE, batch_prepare, NULL },
    { NULL, NULL, 0, NULL, NULL },
};
