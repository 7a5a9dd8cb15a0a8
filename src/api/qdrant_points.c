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
#include <string.h>

#include "api/qdrant_convert.h"
#include "api/qdrant_internal.h"
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

/* One vector of a point as it came in: named or not. */
static int parse_vector_struct(ApiJob *j, const JsonValue *v, const char *what,
                               CollectionVectorIn **out, size_t *n)
{
    Arena *a = api_arena(j);
    if (v->type == JSON_ARRAY) {
        CollectionVectorIn *in = arena_calloc(a, sizeof *in);
        float *f;
        if (api_floats(j, v, what, &f, &in->dim)) return -1;
        in->name = "";
        in->data = f;
        *out = in;
        *n = 1;
        return 0;
    }
    if (v->type != JSON_OBJECT)
        return api_fail(j, QERR_FORMAT,
                        "data did not match any variant of untagged enum VectorStruct at `%s`", what);
    CollectionVectorIn *in = arena_calloc(a, (v->len ? v->len : 1) * sizeof *in);
    for (uint32_t i = 0; i < v->len; i++) {
        const JsonMember *m = &v->u.members[i];
        if (m->value.type == JSON_OBJECT) {
            if (json_get(&m->value, "indices"))
                return api_fail(j, QERR_UNSUPPORTED, "sparse vectors (\"%s\" of %s)", m->key, what);
            return api_fail(j, QERR_UNSUPPORTED,
                            "inference objects (\"%s\" of %s): send the vector, or use /v1/embeddings",
                            m->key, what);
        }
        float *f;
        if (api_floats(j, &m->value, what, &f, &in[i].dim)) return -1;
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
        if (parse_vector_struct(j, vec, what, &vin, &out->n_vectors)) return -1;
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
            if (item.type == JSON_OBJECT)
                return api_fail(j, QERR_UNSUPPORTED, "sparse or inference vectors in batch.vectors");
            if (api_floats(j, &item, what, &f, &in->dim)) return -1;
            in->name = name;
            in->data = f;
        }
    }
    return 0;
}

static void upsert_prepare(ApiJob *j)
{
    if (api_body_object(j, 0)) return;
    UpsertState *st = arena_calloc(api_arena(j), sizeof *st);
    const JsonValue *points = json_get(j->body, "points");
    const JsonValue *batch = json_get(j->body, "batch");
    const JsonValue *uf = json_get(j->body, "update_filter");
    if (uf && uf->type != JSON_NULL)
        return (void)api_fail(j, QERR_UNSUPPORTED, "conditional updates (update_filter)");
    if (points && batch)
        return (void)api_fail(j, QERR_FORMAT, "expected either `points` or `batch`, not both");
    if (points) {
        if (parse_points_list(j, points, st)) return;
    } else if (batch) {
        if (parse_batch(j, batch, st)) return;
    } else {
        return (void)api_fail(j, QERR_FORMAT,
                              "data did not match any variant of untagged enum PointInsertOperations");
    }
    if (st->n == 0) return (void)api_fail(j, QERR_BAD_REQUEST, "Empty update request");
    j->state = st;
}

/* The operation id: increases with every acknowledged write. */
static uint64_t next_operation_id(void)
{
    static _Atomic uint64_t seq;
    return seq++;
}

static void upsert_run(ApiJob *j)
{
    UpsertState *st = j->state;
    char err[512] = "";
    int rc = collection_upsert(j->api->db, j->collection, st->points, st->n, err, sizeof err);
    if (rc) return (void)api_fail_collection(j, rc, err);
    api_result_update(j, next_operation_id());
}

/* ---- point selectors: ids or a filter ---- */

typedef struct {
    PointId *ids; /* NULL: by filter */
    size_t n;
    const JsonValue *filter;
} Selector;

/* parse_selector reads Qdrant's PointsSelector from obj: "points": [ids]
 * or "filter": {...}; exactly one. */
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

static void delete_prepare(ApiJob *j)
{
    if (api_body_object(j, 0)) return;
    Selector *s = arena_calloc(api_arena(j), sizeof *s);
    if (parse_selector(j, j->body, s)) return;
    if (s->ids && s->n == 0) return (void)api_fail(j, QERR_BAD_REQUEST, "Empty update request");
    j->state = s;
}

static void delete_run(ApiJob *j)
{
    Selector *s = j->state;
    char err[512] = "";
    int rc;
    if (s->ids)
        rc = collection_delete_points(j->api->db, j->collection, s->ids, s->n, NULL);
    else
        rc = collection_delete_by_filter(j->api->db, j->collection, s->filter, NULL, err, sizeof err);
    if (rc) return (void)api_fail_collection(j, rc, err);
    api_result_update(j, next_operation_id());
}

/* ---- payload ---- */

typedef enum { PAYLOAD_SET, PAYLOAD_OVERWRITE, PAYLOAD_DELETE, PAYLOAD_CLEAR } PayloadOp;

typedef struct {
    PayloadOp op;
    Selector sel;
    const JsonValue *arg; /* payload, or keys */
    const char *key;
} PayloadState;

static void payload_prepare(ApiJob *j, PayloadOp op)
{
    if (api_body_object(j, 0)) return;
    PayloadState *st = arena_calloc(api_arena(j), sizeof *st);
    st->op = op;
    if (parse_selector(j, j->body, &st->sel)) return;
    if (op == PAYLOAD_SET || op == PAYLOAD_OVERWRITE) {
        st->arg = json_get(j->body, "payload");
        if (!st->arg) return (void)api_fail(j, QERR_FORMAT, "missing field `payload`");
        if (st->arg->type != JSON_OBJECT)
            return (void)api_fail(j, QERR_FORMAT, "invalid type, expected a map at `payload`");
        if (api_get_str(j, j->body, "key", &st->key)) return;
        if (op == PAYLOAD_OVERWRITE) st->key = NULL;
    } else if (op == PAYLOAD_DELETE) {
        st->arg = json_get(j->body, "keys");
        if (!st->arg) return (void)api_fail(j, QERR_FORMAT, "missing field `keys`");
        if (st->arg->type != JSON_ARRAY)
            return (void)api_fail(j, QERR_FORMAT, "invalid type, expected a sequence at `keys`");
        for (uint32_t i = 0; i < st->arg->len; i++)
            if (api_item(j, st->arg, i)->type != JSON_STRING)
                return (void)api_fail(j, QERR_FORMAT, "invalid type, expected a string at `keys`");
    }
    j->state = st;
}

static void set_payload_prepare(ApiJob *j) { payload_prepare(j, PAYLOAD_SET); }
static void overwrite_payload_prepare(ApiJob *j) { payload_prepare(j, PAYLOAD_OVERWRITE); }
static void delete_payload_prepare(ApiJob *j) { payload_prepare(j, PAYLOAD_DELETE); }
static void clear_payload_prepare(ApiJob *j) { payload_prepare(j, PAYLOAD_CLEAR); }

static void payload_run(ApiJob *j)
{
    PayloadState *st = j->state;
    Db *db = j->api->db;
    const char *name = j->collection;
    char err[512] = "";
    int rc;
    CollectionPayloadUpdate u = {
        .ids = st->sel.ids, .n_ids = st->sel.n, .filter = st->sel.filter,
        .payload = st->arg, .key = st->key, .keys = st->arg,
    };
    switch (st->op) {
    case PAYLOAD_SET: rc = collection_set_payload(db, name, &u, err, sizeof err); break;
    case PAYLOAD_OVERWRITE: rc = collection_overwrite_payload(db, name, &u, err, sizeof err); break;
    case PAYLOAD_DELETE: rc = collection_delete_payload(db, name, &u, err, sizeof err); break;
    default: rc = collection_clear_payload(db, name, &u, err, sizeof err); break;
    }
    if (rc) return (void)api_fail_collection(j, rc, err);
    api_result_update(j, next_operation_id());
}

/* ---- reading points by id ---- */

static void retrieve(ApiJob *j)
{
    if (api_body_object(j, 0)) return;
    PointId *ids;
    size_t n;
    if (api_point_ids(j, json_get(j->body, "ids"), "ids", &ids, &n)) return;
    /* Duplicates collapse to their first place, as Qdrant's do. */
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = 0;
        while (k < m && !point_id_equal(&ids[k], &ids[i])) k++;
        if (k == m) ids[m++] = ids[i];
    }
    n = m;
    /* Without with_payload Qdrant returns none (its code's default, not
     * its documentation's). */
    CollectionSelector wp, wv;
    if (api_payload_selector(j, json_get(j->body, "with_payload"), COLLECTION_SEL_NONE, &wp)) return;
    const JsonValue *wvj = json_get(j->body, "with_vector");
    if (!wvj) wvj = json_get(j->body, "with_vectors");
    if (api_selector(j, wvj, COLLECTION_SEL_NONE, &wv)) return;
    CollectionResult r;
    int rc = collection_get(j->api->db, j->collection, ids, n, &wp, &wv, api_arena(j), &r);
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
    { "PUT", "/collections/{collection_name}/points", API_WRITE, upsert_prepare, upsert_run },
    { "POST", "/collections/{collection_name}/points", API_READ, NULL, retrieve },
    { "GET", "/collections/{collection_name}/points/{id}", API_READ, NULL, get_point },
    { "POST", "/collections/{collection_name}/points/delete", API_WRITE, delete_prepare, delete_run },
    { "POST", "/collections/{collection_name}/points/payload", API_WRITE, set_payload_prepare,
      payload_run },
    { "PUT", "/collections/{collection_name}/points/payload", API_WRITE, overwrite_payload_prepare,
      payload_run },
    { "POST", "/collections/{collection_name}/points/payload/delete", API_WRITE,
      delete_payload_prepare, payload_run },
    { "POST", "/collections/{collection_name}/points/payload/clear", API_WRITE,
      clear_payload_prepare, payload_run },
    { NULL, NULL, 0, NULL, NULL },
};
