/*
 * qdrant_convert.c - Qdrant's JSON shapes of the engine's structs (see
 * qdrant_convert.h).
 */
#include "api/qdrant_convert.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "index/pointid.h"

const char *qdrant_distance_name(CollectionDistance d)
{
    switch (d) {
    case COLLECTION_DOT: return "Dot";
    case COLLECTION_EUCLID: return "Euclid";
    case COLLECTION_MANHATTAN: return "Manhattan";
    default: return "Cosine";
    }
}

/* write_sparse writes a sparse vector: {"indices": [...], "values": [...]}. */
static void write_sparse(JsonWriter *w, const CollectionSparseVector *v)
{
    jw_object_begin(w);
    jw_key(w, "indices");
    jw_array_begin(w);
    for (size_t i = 0; i < v->n; i++) jw_uint(w, v->indices[i]);
    jw_array_end(w);
    jw_key(w, "values");
    jw_floats(w, v->values, v->n);
    jw_object_end(w);
}

/* write_multi writes a multivector: [[...], ...]. */
static void write_multi(JsonWriter *w, const CollectionMultiVector *m)
{
    jw_array_begin(w);
    for (size_t i = 0; i < m->n; i++) jw_floats(w, m->data + i * m->dim, m->dim);
    jw_array_end(w);
}

static void write_vectors(JsonWriter *w, const CollectionResult *r, const CollectionPoint *p)
{
    /* A point with only the unnamed dense vector gets a plain array (a
     * multivector a list of them); with sparse vectors too, a map where
     * the dense one is "" (Qdrant's VectorStructInternal from
     * NamedVectors). */
    int n_sparse = 0;
    for (int s = 0; p->sparse && s < r->config.n_sparse; s++) n_sparse += p->sparse[s] != NULL;
    if (r->config.unnamed && !n_sparse && p->vectors[0]) {
        jw_floats(w, p->vectors[0], r->config.vectors[0].size);
        return;
    }
    if (r->config.unnamed && !n_sparse && p->multi && p->multi[0]) {
        write_multi(w, p->multi[0]);
        return;
    }
    /* Otherwise a map, {} when the point has none of the vectors asked
     * for (Qdrant's empty NamedVectors). */
    jw_object_begin(w);
    for (int v = 0; v < r->config.n_vectors; v++) {
        if (p->multi && p->multi[v]) {
            jw_key(w, r->config.vectors[v].name);
            write_multi(w, p->multi[v]);
        }
        if (!p->vectors[v]) continue;
        jw_key(w, r->config.vectors[v].name);
        jw_floats(w, p->vectors[v], r->config.vectors[v].size);
    }
    for (int s = 0; n_sparse && s < r->config.n_sparse; s++) {
        if (!p->sparse[s]) continue;
        jw_key(w, r->config.sparse[s].name);
        write_sparse(w, p->sparse[s]);
    }
    jw_object_end(w);
}

void qdrant_write_point(JsonWriter *w, const CollectionResult *r, size_t i, int with_score)
{
    const CollectionPoint *p = &r->points[i];
    jw_object_begin(w);
    jw_key(w, "id");
    point_id_write(w, &p->id);
    if (with_score) {
        jw_key(w, "version");
        jw_uint(w, 0);
        jw_key(w, "score");
        jw_float(w, p->score);
    }
    /* Qdrant omits what was not asked for (skip_serializing_if). */
    if (p->payload) {
        jw_key(w, "payload");
        jw_raw(w, p->payload, p->payload_len);
    }
    if (p->vectors) {
        jw_key(w, "vector");
        write_vectors(w, r, p);
    }
    if (r->order_values) {
        jw_key(w, "order_value");
        double ov = r->order_values[i];
        if (ov == (double)(int64_t)ov && fabs(ov) < 9.007199254740992e15) jw_int(w, (int64_t)ov);
        else jw_double(w, ov);
    }
    jw_object_end(w);
}

void qdrant_write_points(JsonWriter *w, const CollectionResult *r, int with_score)
{
    jw_array_begin(w);
    for (size_t i = 0; i < r->n; i++) qdrant_write_point(w, r, i, with_score);
    jw_array_end(w);
}

int qdrant_selector_from_json(const JsonValue *v, int dflt, Arena *arena,
                              CollectionSelector *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->mode = dflt;
    if (!v || v->type == JSON_NULL) return 0;
    if (v->type == JSON_BOOL) {
        out->mode = v->u.boolean ? COLLECTION_SEL_ALL : COLLECTION_SEL_NONE;
        return 0;
    }
    const JsonValue *list = v;
    out->mode = COLLECTION_SEL_INCLUDE;
    if (v->type == JSON_OBJECT) {
        if ((list = json_get(v, "include"))) out->mode = COLLECTION_SEL_INCLUDE;
        else if ((list = json_get(v, "exclude"))) out->mode = COLLECTION_SEL_EXCLUDE;
    }
    if (!list || list->type != JSON_ARRAY)
        return err_set(err, errlen, ERR_INVAL,
                       "expected true, false, a list of names, or {\"include\"|\"exclude\": [...]}");
    const char **keys = arena_alloc(arena, (list->len + 1) * sizeof *keys);
    for (uint32_t i = 0; i < list->len; i++) {
        JsonValue item = json_item(list, i); /* a list of numbers comes packed */
        keys[i] = json_as_str(&item);
        if (!keys[i]) return err_set(err, errlen, ERR_INVAL, "expected a list of strings");
    }
    out->keys = keys;
    out->n_keys = list->len;
    return 0;
}
