/*
 * qdrant_convert.c - Qdrant's JSON shapes of the engine's structs (see
 * qdrant_convert.h).
 */
#include "api/qdrant_convert.h"

#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "index/pointid.h"

const char *qdrant_distance_name(CollectionDistance d)
{
    switch (d) {
    case COLLECTION_DOT: return "Dot";
    case COLLECTION_EUCLID: return "Euclid";
    default: return "Cosine";
    }
}

static int parse_distance(const JsonValue *v, CollectionDistance *out)
{
    const char *s = json_as_str(v);
    if (!s) return ERR_INVAL;
    if (!strcmp(s, "Cosine")) *out = COLLECTION_COSINE;
    else if (!strcmp(s, "Dot")) *out = COLLECTION_DOT;
    else if (!strcmp(s, "Euclid")) *out = COLLECTION_EUCLID;
    else return ERR_INVAL;
    return 0;
}

static int parse_vector_params(const JsonValue *v, const char *name, CollectionVectorParams *out,
                               char *err, size_t errlen)
{
    uint64_t size;
    if (!v || v->type != JSON_OBJECT)
        return err_set(err, errlen, ERR_INVAL, "vectors%s%s: expected an object with size and distance",
                       *name ? "." : "", name);
    if (json_as_uint64(json_get(v, "size"), &size) || size < 1 || size > COLLECTION_MAX_DIM)
        return err_set(err, errlen, ERR_INVAL, "vectors%s%s.size: expected an integer in 1..%d",
                       *name ? "." : "", name, COLLECTION_MAX_DIM);
    if (parse_distance(json_get(v, "distance"), &out->distance))
        return err_set(err, errlen, ERR_INVAL,
                       "vectors%s%s.distance: expected \"Cosine\", \"Dot\" or \"Euclid\"",
                       *name ? "." : "", name);
    out->size = (uint32_t)size;
    snprintf(out->name, sizeof out->name, "%s", name);
    return 0;
}

int qdrant_config_from_json(const JsonValue *body, CollectionConfig *out, char *err,
                            size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!body || body->type != JSON_OBJECT)
        return err_set(err, errlen, ERR_INVAL, "expected a JSON object");
    const JsonValue *vectors = json_get(body, "vectors");
    if (!vectors || vectors->type != JSON_OBJECT)
        return err_set(err, errlen, ERR_INVAL, "vectors: expected an object");
    if (json_get(vectors, "size")) {
        out->unnamed = 1;
        out->n_vectors = 1;
        int e = parse_vector_params(vectors, "", &out->vectors[0], err, errlen);
        if (e) return e;
    } else {
        if (vectors->len == 0)
            return err_set(err, errlen, ERR_INVAL, "vectors: at least one vector is needed");
        if (vectors->len > COLLECTION_MAX_VECTORS)
            return err_set(err, errlen, ERR_INVAL, "vectors: at most %d named vectors",
                           COLLECTION_MAX_VECTORS);
        for (uint32_t i = 0; i < vectors->len; i++) {
            const JsonMember *m = &vectors->u.members[i];
            if (m->key_len == 0 || m->key_len > COLLECTION_MAX_VECTOR_NAME ||
                strlen(m->key) != m->key_len)
                return err_set(err, errlen, ERR_INVAL,
                               "vectors: a vector name must have 1..%d bytes",
                               COLLECTION_MAX_VECTOR_NAME);
            for (uint32_t j = 0; j < i; j++)
                if (!strcmp(vectors->u.members[j].key, m->key))
                    return err_set(err, errlen, ERR_INVAL, "vectors: %s given twice", m->key);
            int e = parse_vector_params(&m->value, m->key, &out->vectors[i], err, errlen);
            if (e) return e;
        }
        out->n_vectors = (int)vectors->len;
    }
    const JsonValue *h = json_get(body, "hnsw_config");
    if (h && h->type != JSON_NULL) {
        int64_t x;
        if (h->type != JSON_OBJECT)
            return err_set(err, errlen, ERR_INVAL, "hnsw_config: expected an object");
        const JsonValue *m = json_get(h, "m");
        if (m) {
            if (json_as_int64(m, &x) || x < COLLECTION_MIN_M || x > COLLECTION_MAX_M)
                return err_set(err, errlen, ERR_INVAL, "hnsw_config.m: expected an integer in %d..%d",
                               COLLECTION_MIN_M, COLLECTION_MAX_M);
            out->m = (int)x;
        }
        const JsonValue *ef = json_get(h, "ef_construct");
        if (ef) {
            if (json_as_int64(ef, &x) || x < COLLECTION_MIN_EF_CONSTRUCT ||
                x > COLLECTION_MAX_EF_CONSTRUCT)
                return err_set(err, errlen, ERR_INVAL,
                               "hnsw_config.ef_construct: expected an integer in %d..%d",
                               COLLECTION_MIN_EF_CONSTRUCT, COLLECTION_MAX_EF_CONSTRUCT);
            out->ef_construct = (int)x;
        }
    }
    return 0;
}

void qdrant_config_write(JsonWriter *w, const CollectionConfig *c)
{
    jw_object_begin(w);
    jw_key(w, "vectors");
    if (!c->unnamed) jw_object_begin(w);
    for (int i = 0; i < c->n_vectors; i++) {
        if (!c->unnamed) jw_key(w, c->vectors[i].name);
        jw_object_begin(w);
        jw_key(w, "size");
        jw_uint(w, c->vectors[i].size);
        jw_key(w, "distance");
        jw_string(w, qdrant_distance_name(c->vectors[i].distance));
        jw_object_end(w);
    }
    if (!c->unnamed) jw_object_end(w);
    jw_key(w, "hnsw_config");
    jw_object_begin(w);
    jw_key(w, "m");
    jw_int(w, c->m);
    jw_key(w, "ef_construct");
    jw_int(w, c->ef_construct);
    jw_object_end(w);
    jw_object_end(w);
}

void qdrant_write_point(JsonWriter *w, const CollectionResult *r, size_t i, int with_score)
{
    const CollectionPoint *p = &r->points[i];
    jw_object_begin(w);
    jw_key(w, "id");
    point_id_write(w, &p->id);
    jw_key(w, "version");
    jw_int(w, 0);
    if (with_score) {
        jw_key(w, "score");
        jw_float(w, p->score);
    }
    jw_key(w, "payload");
    if (p->payload) jw_raw(w, p->payload, p->payload_len);
    else jw_null(w);
    jw_key(w, "vector");
    if (!p->vectors) {
        jw_null(w);
    } else if (r->config.unnamed) {
        if (p->vectors[0]) jw_floats(w, p->vectors[0], r->config.vectors[0].size);
        else jw_null(w);
    } else {
        jw_object_begin(w);
        for (int v = 0; v < r->config.n_vectors; v++) {
            if (!p->vectors[v]) continue;
            jw_key(w, r->config.vectors[v].name);
            jw_floats(w, p->vectors[v], r->config.vectors[v].size);
        }
        jw_object_end(w);
    }
    jw_object_end(w);
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
        keys[i] = json_as_str(&list->u.items[i]);
        if (!keys[i]) return err_set(err, errlen, ERR_INVAL, "expected a list of strings");
    }
    out->keys = keys;
    out->n_keys = list->len;
    return 0;
}
