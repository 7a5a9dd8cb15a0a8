/*
 * qdrant_multivec.c - Qdrant's JSON shapes of multivectors (see
 * qdrant_multivec.h): input with Qdrant's validation, the
 * multivector_config and datatype of a vector's configuration, and MMR
 * with MaxSim.
 *
 * Qdrant's types (lib/api/src/rest/schema.rs, lib/segment/src/types.rs):
 * MultiDenseVector = [[f32]] in VectorStruct, Vector and VectorInput
 * (untagged enums where a plain vector comes first, so [] is a plain
 * vector); MultiVectorConfig {comparator: "max_sim"}; Datatype "float32" |
 * "uint8" | "float16".
 */
#include "api/qdrant_multivec.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "base/util.h"

/* ---- vectors ---- */

int qdrant_is_multi(const JsonValue *v)
{
    if (!v || v->type != JSON_ARRAY || v->len == 0) return 0;
    return json_item(v, 0).type == JSON_ARRAY;
}

int qdrant_multivec_vector(ApiJob *j, const JsonValue *v, const char *path,
                           const CollectionMultiVector **out)
{
    if (!v || v->type != JSON_ARRAY)
        return api_fail(j, QERR_FORMAT, "invalid type, expected a sequence at `%s`", path);
    size_t n = v->len, dim = 0, total = 0;
    /* Every item must parse first (serde), then Qdrant's validator runs. */
    for (size_t i = 0; i < n; i++) {
        JsonValue x = json_item(v, i);
        if (x.type != JSON_ARRAY)
            return api_fail(j, QERR_FORMAT,
                            "data did not match any variant of untagged enum VectorStruct at `%s`",
                            path);
        total += x.len;
    }
    for (size_t i = 0; i < n; i++)
        if (json_item(v, i).len == 0)
            return api_fail(j, QERR_VALIDATION, "%s.data: all vectors must be non-empty", path);
    if (total >= COLLECTION_MAX_MULTIVEC_FLOATS)
        return api_fail(j, QERR_VALIDATION,
                        "%s.data: Total size of all vectors (%zu) must be less than %u", path, total,
                        COLLECTION_MAX_MULTIVEC_FLOATS);
    dim = n ? json_item(v, 0).len : 0;
    for (size_t i = 0; i < n; i++) {
        size_t d = json_item(v, i).len;
        if (d != dim)
            return api_fail(j, QERR_VALIDATION,
                            "%s.data: all vectors must have the same dimension, found vector with "
                            "dimension %zu",
                            path, d);
    }
    Arena *a = api_arena(j);
    float *data = arena_alloc(a, (total ? total : 1) * sizeof *data);
    for (size_t i = 0; i < n; i++) {
        JsonValue x = json_item(v, i);
        float *f;
        size_t got;
        char what[160];
        snprintf(what, sizeof what, "%s[%zu]", path, i);
        if (api_floats(j, &x, what, &f, &got)) return -1;
        memcpy(data + i * dim, f, dim * sizeof *f);
    }
    CollectionMultiVector *mv = arena_alloc(a, sizeof *mv);
    *mv = (CollectionMultiVector){ data, n, dim };
    *out = mv;
    return 0;
}

/* ---- configuration ---- */

int qdrant_multivec_parse_params(ApiJob *j, const JsonValue *v, const char *field,
                                 CollectionVectorParams *out)
{
    out->multivector = COLLECTION_SINGLE;
    out->datatype = COLLECTION_FLOAT32;
    const JsonValue *mv = json_get(v, "multivector_config");
    if (mv && mv->type != JSON_NULL) {
        if (mv->type != JSON_OBJECT)
            return api_fail(j, QERR_FORMAT,
                            "invalid type, expected struct MultiVectorConfig at `%s.multivector_config`",
                            field);
        const JsonValue *cmp = json_get(mv, "comparator");
        if (!cmp)
            return api_fail(j, QERR_FORMAT, "missing field `comparator` at `%s.multivector_config`",
                            field);
        const char *s = json_as_str(cmp);
        if (!s || strcmp(s, "max_sim"))
            return api_fail(j, QERR_FORMAT,
                            "unknown variant `%s`, expected `max_sim` at `%s.multivector_config.comparator`",
                            s ? s : "?", field);
        out->multivector = COLLECTION_MAX_SIM;
    }
    const JsonValue *dt = json_get(v, "datatype");
    if (dt && dt->type != JSON_NULL) {
        const char *s = json_as_str(dt);
        if (s && !strcmp(s, "float32")) out->datatype = COLLECTION_FLOAT32;
        else if (s && !strcmp(s, "uint8")) out->datatype = COLLECTION_UINT8;
        else if (s && !strcmp(s, "float16")) out->datatype = COLLECTION_FLOAT16;
        else
            return api_fail(j, QERR_FORMAT,
                            "unknown variant `%s`, expected one of `float32`, `uint8`, `float16` at `%s.datatype`",
                            s ? s : "?", field);
        if (out->datatype != COLLECTION_FLOAT32 && out->multivector == COLLECTION_SINGLE)
            return api_fail(j, QERR_UNSUPPORTED,
                            "vector datatype %s (%s.datatype): single vectors are float32 (a multivector may be %s)",
                            s, field, s);
    }
    return 0;
}

void qdrant_multivec_write_params(JsonWriter *w, const CollectionVectorParams *p)
{
    if (p->multivector == COLLECTION_SINGLE) return;
    jw_key(w, "multivector_config");
    jw_object_begin(w);
    jw_key(w, "comparator");
    jw_string(w, "max_sim");
    jw_object_end(w);
}

/* ---- MMR ---- */

typedef struct {
    const CollectionVectorParams *p;
    CollectionMultiVector q;
    const CollectionMultiVector **vecs;
} MultiMmr;

static float multi_relevance(void *ctx, size_t i)
{
    const MultiMmr *mm = ctx;
    return collection_multivec_score(mm->p, &mm->q, mm->vecs[i]);
}

/* MaxSim is not symmetric: Qdrant scores the picked point with the
 * candidate as the query (LazyMatrix::get_similarity(candidate, picked)). */
static float multi_similarity(void *ctx, size_t i, size_t k)
{
    const MultiMmr *mm = ctx;
    return collection_multivec_score(mm->p, mm->vecs[i], mm->vecs[k]);
}

int qdrant_multivec_mmr(ApiJob *j, const QNode *n, int v, const CollectionVectorParams *p,
                        const CollectionMultiVector *query, const CollectionResult *cand,
                        size_t limit, Hits *out)
{
    Arena *a = api_arena(j);
    size_t m = 0;
    MultiMmr mm = { p, { NULL, 0, 0 }, arena_alloc(a, (cand->n + 1) * sizeof *mm.vecs) };
    size_t *idx = arena_alloc(a, (cand->n + 1) * sizeof *idx);
    for (size_t i = 0; i < cand->n; i++) {
        const CollectionMultiVector *x = cand->points[i].multi ? cand->points[i].multi[v] : NULL;
        if (!x) continue; /* points without this vector are dropped, as Qdrant does */
        mm.vecs[m] = x;
        idx[m++] = i;
    }
    if (m >= 2) {
        /* The search that found the candidates has checked the query. */
        if (query->dim != p->size || !query->n)
            return api_fail(j, QERR_BAD_INPUT, "Vector dimension error: expected dim: %u, got %zu",
                            p->size, query->dim);
        float *qf = arena_alloc(a, query->n * query->dim * sizeof *qf);
        memcpy(qf, query->data, query->n * query->dim * sizeof *qf);
        collection_multivec_prepare(p, qf, query->n);
        mm.q = (CollectionMultiVector){ qf, query->n, query->dim };
    }
    QMmrSim sim = { &mm, multi_relevance, multi_similarity };
    qdrant_mmr_pick(j, cand, idx, m, n->lambda, limit, &sim, out);
    return 0;
}
