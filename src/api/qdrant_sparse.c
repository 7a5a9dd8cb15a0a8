/*
 * qdrant_sparse.c - Qdrant's JSON shapes of sparse vectors (see
 * qdrant_sparse.h): input with Qdrant's validation, the sparse_vectors
 * configuration section, output, and MMR with sparse similarity.
 *
 * Qdrant's types (lib/sparse/src/common/sparse_vector.rs,
 * lib/collection/src/operations/types.rs): SparseVector {indices: [u32],
 * values: [f32]}, validated by validate_sparse_vector_impl (same length,
 * unique indices; an empty vector is valid); SparseVectorParams {index?:
 * SparseIndexParams {full_scan_threshold?, on_disk?, datatype?},
 * modifier?: "none" | "idf"}, reported back with what was given only
 * (skip_serializing_if none).
 */
#include "api/qdrant_sparse.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "base/util.h"
#include "index/sparse.h"

/* ---- vectors ---- */

int qdrant_is_sparse(const JsonValue *v)
{
    return v && v->type == JSON_OBJECT && (json_get(v, "indices") || json_get(v, "values"));
}

int qdrant_sparse_vector(ApiJob *j, const JsonValue *v, const char *path,
                         const CollectionSparseVector **out)
{
    if (!v || v->type != JSON_OBJECT)
        return api_fail(j, QERR_FORMAT, "invalid type, expected struct SparseVector at `%s`", path);
    const JsonValue *ind = json_get(v, "indices");
    const JsonValue *val = json_get(v, "values");
    if (!ind) return api_fail(j, QERR_FORMAT, "missing field `indices` at `%s`", path);
    if (!val) return api_fail(j, QERR_FORMAT, "missing field `values` at `%s`", path);
    if (ind->type != JSON_ARRAY)
        return api_fail(j, QERR_FORMAT, "invalid type, expected a sequence at `%s.indices`", path);
    Arena *a = api_arena(j);
    uint32_t *idx = arena_alloc(a, (ind->len ? ind->len : 1) * sizeof *idx);
    for (uint32_t i = 0; i < ind->len; i++) {
        uint64_t u;
        JsonValue x = json_item(ind, i); /* the body may be parsed packed */
        if (x.type != JSON_NUMBER || json_as_uint64(&x, &u) || u > UINT32_MAX)
            return api_fail(j, QERR_FORMAT, "invalid value at `%s.indices[%u]`, expected u32", path, i);
        idx[i] = (uint32_t)u;
    }
    char what[160];
    snprintf(what, sizeof what, "%s.values", path);
    float *f;
    size_t n;
    if (api_floats(j, val, what, &f, &n)) return -1;
    /* Qdrant's validator, in its order of fields. */
    if (n != ind->len)
        return api_fail(j, QERR_VALIDATION,
                        "%s.values: Validation error: must be the same length as indices [{}]", path);
    if (n > COLLECTION_MAX_SPARSE_LEN)
        return api_fail(j, QERR_BAD_INPUT, "a sparse vector has at most %u entries, `%s` has %zu",
                        COLLECTION_MAX_SPARSE_LEN, path, n);
    /* Uniqueness on a sorted copy (the caller keeps the given order). */
    uint32_t *si = arena_alloc(a, (n ? n : 1) * sizeof *si);
    float *sf = arena_alloc(a, (n ? n : 1) * sizeof *sf);
    if (n) {
        memcpy(si, idx, n * sizeof *si);
        memcpy(sf, f, n * sizeof *sf);
    }
    if (sparse_sort(si, sf, n))
        return api_fail(j, QERR_VALIDATION, "%s.indices: Validation error: must be unique [{}]", path);
    CollectionSparseVector *sv = arena_alloc(a, sizeof *sv);
    *sv = (CollectionSparseVector){ idx, f, n };
    *out = sv;
    return 0;
}

/* ---- configuration ---- */

/* parse_params checks one SparseVectorParams at field; *has_modifier
 * tells whether a modifier was given (null is not given). */
static int parse_params(ApiJob *j, const JsonValue *p, const char *field, int *has_modifier,
                        CollectionModifier *modifier)
{
    *has_modifier = 0;
    *modifier = COLLECTION_MODIFIER_NONE;
    if (!p || p->type == JSON_NULL) return 0;
    if (p->type != JSON_OBJECT)
        return api_fail(j, QERR_FORMAT, "invalid type, expected struct SparseVectorParams at `%s`",
                        field);
    const JsonValue *m = json_get(p, "modifier");
    if (m && m->type != JSON_NULL) {
        const char *s = json_as_str(m);
        if (s && !strcmp(s, "none")) *modifier = COLLECTION_MODIFIER_NONE;
        else if (s && !strcmp(s, "idf")) *modifier = COLLECTION_MODIFIER_IDF;
        else
            return api_fail(j, QERR_FORMAT, "unknown variant `%s`, expected `none` or `idf` at `%s.modifier`",
                            s ? s : "?", field);
        *has_modifier = 1;
    }
    const JsonValue *ix = json_get(p, "index");
    if (!ix || ix->type == JSON_NULL) return 0;
    if (ix->type != JSON_OBJECT)
        return api_fail(j, QERR_FORMAT, "invalid type, expected struct SparseIndexParams at `%s.index`",
                        field);
    const JsonValue *x = json_get(ix, "full_scan_threshold");
    uint64_t u;
    if (x && x->type != JSON_NULL && (x->type != JSON_NUMBER || json_as_uint64(x, &u)))
        return api_fail(j, QERR_FORMAT, "invalid type, expected usize at `%s.index.full_scan_threshold`",
                        field);
    x = json_get(ix, "on_disk");
    if (x && x->type != JSON_NULL && x->type != JSON_BOOL)
        return api_fail(j, QERR_FORMAT, "invalid type, expected a boolean at `%s.index.on_disk`", field);
    x = json_get(ix, "datatype");
    if (x && x->type != JSON_NULL) {
        /* Every datatype is accepted: it tunes the memory of Qdrant's
         * index; vitrine's keeps float32 and scores exactly. */
        const char *s = json_as_str(x);
        if (!s || (strcmp(s, "float32") && strcmp(s, "float16") && strcmp(s, "uint8")))
            return api_fail(j, QERR_FORMAT,
                            "unknown variant `%s`, expected one of `float32`, `uint8`, `float16` at `%s.index.datatype`",
                            s ? s : "?", field);
    }
    return 0;
}

int qdrant_sparse_parse_config(ApiJob *j, const JsonValue *sparse, CollectionConfig *cfg)
{
    cfg->n_sparse = 0;
    if (!sparse || sparse->type == JSON_NULL) return 0;
    if (sparse->type != JSON_OBJECT)
        return api_fail(j, QERR_FORMAT, "invalid type, expected a map at `sparse_vectors`");
    if (sparse->len > COLLECTION_MAX_SPARSE)
        return api_fail(j, QERR_BAD_INPUT, "at most %d sparse vectors per collection",
                        COLLECTION_MAX_SPARSE);
    for (uint32_t i = 0; i < sparse->len; i++) {
        const JsonMember *m = &sparse->u.members[i];
        if (m->key_len > COLLECTION_MAX_VECTOR_NAME || strlen(m->key) != m->key_len)
            return api_fail(j, QERR_BAD_INPUT, "a vector name must have at most %d bytes",
                            COLLECTION_MAX_VECTOR_NAME);
        char field[COLLECTION_MAX_VECTOR_NAME + 32];
        snprintf(field, sizeof field, "sparse_vectors.%s", m->key);
        int given;
        CollectionSparseParams *p = &cfg->sparse[i];
        if (parse_params(j, &m->value, field, &given, &p->modifier)) return -1;
        snprintf(p->name, sizeof p->name, "%s", m->key);
    }
    cfg->n_sparse = (int)sparse->len;
    return 0;
}

int qdrant_sparse_check_patch(ApiJob *j, const JsonValue *body, const CollectionConfig *cfg,
                              CollectionSparseParams **mods, size_t *n_mods)
{
    *mods = NULL;
    *n_mods = 0;
    const JsonValue *sv = body ? json_get(body, "sparse_vectors") : NULL;
    if (!sv || sv->type == JSON_NULL) return 0;
    if (sv->type != JSON_OBJECT)
        return api_fail(j, QERR_FORMAT, "invalid type, expected a map at `sparse_vectors`");
    CollectionSparseParams *out = arena_calloc(api_arena(j), (sv->len + 1) * sizeof *out);
    for (uint32_t i = 0; i < sv->len; i++) {
        const JsonMember *m = &sv->u.members[i];
        int s = 0;
        while (s < cfg->n_sparse && strcmp(cfg->sparse[s].name, m->key)) s++;
        /* Qdrant's wording (CollectionParams::get_sparse_vector_params_mut). */
        if (s == cfg->n_sparse)
            return api_fail(j, QERR_BAD_INPUT, "Sparse vector `%s` is not specified in collection config",
                            m->key);
        char field[COLLECTION_MAX_VECTOR_NAME + 32];
        snprintf(field, sizeof field, "sparse_vectors.%s", m->key);
        int given;
        CollectionModifier mod;
        if (parse_params(j, &m->value, field, &given, &mod)) return -1;
        if (!given) continue;
        snprintf(out[*n_mods].name, sizeof out[*n_mods].name, "%s", m->key);
        out[(*n_mods)++].modifier = mod;
    }
    *mods = out;
    return 0;
}

/* member returns obj[key] when obj is an object and the member is not null. */
static const JsonValue *member(const JsonValue *obj, const char *key)
{
    const JsonValue *v = obj && obj->type == JSON_OBJECT ? json_get(obj, key) : NULL;
    return v && v->type != JSON_NULL ? v : NULL;
}

/* write_params writes one vector's stored parameters: prev with given's
 * non-null ones over it (the index field by field). */
static void write_params(JsonWriter *w, const JsonValue *prev, const JsonValue *given)
{
    static const char *const index_keys[] = { "full_scan_threshold", "on_disk", "datatype" };
    jw_object_begin(w);
    const JsonValue *pi = member(prev, "index"), *gi = member(given, "index");
    if (pi || gi) {
        jw_key(w, "index");
        jw_object_begin(w);
        for (size_t k = 0; k < sizeof index_keys / sizeof *index_keys; k++) {
            const JsonValue *x = member(gi, index_keys[k]);
            if (!x) x = member(pi, index_keys[k]);
            if (!x) continue;
            jw_key(w, index_keys[k]);
            jw_value(w, x);
        }
        jw_object_end(w);
    }
    const JsonValue *mod = member(given, "modifier");
    if (!mod) mod = member(prev, "modifier");
    if (mod) {
        jw_key(w, "modifier");
        jw_value(w, mod);
    }
    jw_object_end(w);
}

void qdrant_sparse_options(JsonWriter *w, const JsonValue *old, const JsonValue *body)
{
    const JsonValue *prev = member(old, "sparse_vectors");
    const JsonValue *given = member(body, "sparse_vectors");
    if (prev && prev->type != JSON_OBJECT) prev = NULL;
    if (given && given->type != JSON_OBJECT) given = NULL;
    if (!prev && !given) return;
    jw_key(w, "sparse_vectors");
    jw_object_begin(w);
    for (uint32_t i = 0; prev && i < prev->len; i++) {
        const JsonMember *m = &prev->u.members[i];
        jw_key_len(w, m->key, m->key_len);
        write_params(w, &m->value, given ? json_get(given, m->key) : NULL);
    }
    for (uint32_t i = 0; given && i < given->len; i++) {
        const JsonMember *m = &given->u.members[i];
        if (prev && json_get(prev, m->key)) continue;
        jw_key_len(w, m->key, m->key_len);
        write_params(w, NULL, &m->value);
    }
    jw_object_end(w);
}

void qdrant_sparse_write_config(JsonWriter *w, const CollectionConfig *c, const JsonValue *opts)
{
    if (!c->n_sparse) return;
    const JsonValue *sx = member(opts, "sparse_vectors");
    jw_key(w, "sparse_vectors");
    jw_object_begin(w);
    for (int s = 0; s < c->n_sparse; s++) {
        const CollectionSparseParams *p = &c->sparse[s];
        const JsonValue *given = member(sx, p->name);
        jw_key(w, p->name);
        jw_object_begin(w);
        const JsonValue *ix = member(given, "index");
        if (ix) {
            jw_key(w, "index");
            jw_value(w, ix);
        }
        /* The engine's modifier is the truth; it is reported when one was
         * given (even "none"), as Qdrant reports what was set. */
        if (member(given, "modifier") || p->modifier != COLLECTION_MODIFIER_NONE) {
            jw_key(w, "modifier");
            jw_string(w, p->modifier == COLLECTION_MODIFIER_IDF ? "idf" : "none");
        }
        jw_object_end(w);
    }
    jw_object_end(w);
}

/* ---- MMR ---- */

typedef struct {
    const uint32_t *qi;
    const float *qv;
    size_t qn;
    const CollectionSparseVector **vecs;
} SparseMmr;

static float sparse_relevance(void *ctx, size_t i)
{
    const SparseMmr *s = ctx;
    return sparse_dot(s->qi, s->qv, s->qn, s->vecs[i]->indices, s->vecs[i]->values, s->vecs[i]->n, NULL);
}

static float sparse_similarity(void *ctx, size_t i, size_t k)
{
    const SparseMmr *s = ctx;
    return sparse_dot(s->vecs[i]->indices, s->vecs[i]->values, s->vecs[i]->n, s->vecs[k]->indices,
                      s->vecs[k]->values, s->vecs[k]->n, NULL);
}

int qdrant_sparse_mmr(ApiJob *j, const QNode *n, int s, const CollectionSparseVector *query,
                      const CollectionResult *cand, size_t limit, Hits *out)
{
    Arena *a = api_arena(j);
    size_t m = 0;
    SparseMmr sm = { NULL, NULL, 0, arena_alloc(a, (cand->n + 1) * sizeof *sm.vecs) };
    size_t *idx = arena_alloc(a, (cand->n + 1) * sizeof *idx);
    for (size_t i = 0; i < cand->n; i++) {
        const CollectionSparseVector *x = cand->points[i].sparse ? cand->points[i].sparse[s] : NULL;
        if (!x) continue; /* points without this vector are dropped, as Qdrant does */
        sm.vecs[m] = x;
        idx[m++] = i;
    }
    /* The relevance is the plain dot product with the query as given
     * (sorted; no IDF), as Qdrant's volatile storage scores it. */
    uint32_t *qi = arena_alloc(a, (query->n + 1) * sizeof *qi);
    float *qv = arena_alloc(a, (query->n + 1) * sizeof *qv);
    if (query->n) {
        memcpy(qi, query->indices, query->n * sizeof *qi);
        memcpy(qv, query->values, query->n * sizeof *qv);
    }
    if (m >= 2 && sparse_sort(qi, qv, query->n))
        return api_fail(j, QERR_VALIDATION, "query.indices: Validation error: must be unique [{}]");
    sm.qi = qi;
    sm.qv = qv;
    sm.qn = query->n;
    QMmrSim sim = { &sm, sparse_relevance, sparse_similarity };
    qdrant_mmr_pick(j, cand, idx, m, n->lambda, limit, &sim, out);
    return 0;
}
