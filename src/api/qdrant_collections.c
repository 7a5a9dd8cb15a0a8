/*
 * qdrant_collections.c - Qdrant's collection routes: list, create, info,
 * update, delete, exists.
 *
 * Qdrant reports a whole configuration (optimizers, WAL, quantization,
 * sharding) of which vitrine's single-segment engine acts on the vectors
 * and the HNSW parameters; the rest is reported with Qdrant's defaults so
 * that clients that read it find what they expect.
 */
#include <stdio.h>
#include <string.h>

#include "api/qdrant_internal.h"
#include "base/err.h"
#include "base/util.h"

/* Qdrant's defaults for the parts of the configuration vitrine reports
 * but does not act on (lib/collection/src/optimizers_builder.rs,
 * lib/segment/src/types.rs, config/config.yaml). */
#define QDRANT_FULL_SCAN_THRESHOLD_KB 10000
#define QDRANT_WAL_CAPACITY_MB 32

/* ---- the collection name ---- */

/* Qdrant's validate_collection_name (lib/common/common/src/validation.rs):
 * 1..255 characters, none of < > : " / \ | ? * NUL or U+001F. */
static int check_name(ApiJob *j, const char *name)
{
    size_t n = strlen(name);
    if (n < 1 || n > COLLECTION_MAX_NAME)
        return api_fail(j, QERR_VALIDATION, "collection_name: value must be from 1 to %d characters",
                        COLLECTION_MAX_NAME);
    static const char bad[] = "<>:\"/\\|?*\x1f";
    for (const char *p = bad; *p; p++)
        if (strchr(name, *p))
            return api_fail(j, QERR_VALIDATION, "collection_name: collection name cannot contain \"%c\" char",
                            *p);
    return 0;
}

/* ---- the create body ---- */

static int parse_distance(ApiJob *j, const JsonValue *v, const char *field,
                          CollectionDistance *out)
{
    const char *s = v ? json_as_str(v) : NULL;
    if (!v) return api_fail(j, QERR_FORMAT, "missing field `distance` at `%s`", field);
    if (s && !strcmp(s, "Cosine")) *out = COLLECTION_COSINE;
    else if (s && !strcmp(s, "Dot")) *out = COLLECTION_DOT;
    else if (s && !strcmp(s, "Euclid")) *out = COLLECTION_EUCLID;
    else if (s && !strcmp(s, "Manhattan")) *out = COLLECTION_MANHATTAN;
    else
        return api_fail(j, QERR_FORMAT,
                        "unknown variant `%s`, expected one of `Cosine`, `Euclid`, `Dot`, `Manhattan` at `%s`",
                        s ? s : "?", field);
    return 0;
}

static int parse_vector_params(ApiJob *j, const JsonValue *v, const char *name,
                               CollectionVectorParams *out)
{
    char field[COLLECTION_MAX_VECTOR_NAME + 16];
    snprintf(field, sizeof field, "vectors%s%s", *name ? "." : "", name);
    if (v->type != JSON_OBJECT)
        return api_fail(j, QERR_FORMAT, "invalid type, expected struct VectorParams at `%s`", field);
    const JsonValue *size = json_get(v, "size");
    uint64_t n;
    if (!size) return api_fail(j, QERR_FORMAT, "missing field `size` at `%s`", field);
    if (size->type != JSON_NUMBER || json_as_uint64(size, &n))
        return api_fail(j, QERR_FORMAT, "invalid value for `%s.size`, expected a positive integer",
                        field);
    if (n < 1 || n > 65536)
        return api_fail(j, QERR_VALIDATION, "%s.size: value %llu invalid, must be from 1 to 65536",
                        field, (unsigned long long)n);
    if (n > COLLECTION_MAX_DIM)
        return api_fail(j, QERR_BAD_INPUT, "vector size %llu is above vitrine's limit of %d",
                        (unsigned long long)n, COLLECTION_MAX_DIM);
    if (parse_distance(j, json_get(v, "distance"), field, &out->distance)) return -1;
    const JsonValue *mv = json_get(v, "multivector_config");
    if (mv && mv->type != JSON_NULL)
        return api_fail(j, QERR_UNSUPPORTED, "multivectors (%s.multivector_config)", field);
    const char *dt = json_as_str(json_get(v, "datatype"));
    if (dt && strcmp(dt, "float32"))
        return api_fail(j, QERR_UNSUPPORTED, "vector datatype %s (%s.datatype): vectors are float32",
                        dt, field);
    out->size = (uint32_t)n;
    snprintf(out->name, sizeof out->name, "%s", name);
    return 0;
}

/* parse_hnsw reads HnswConfigDiff's m and ef_construct (the rest is
 * accepted: it tunes Qdrant's segments, which vitrine does not have). */
static int parse_hnsw(ApiJob *j, const JsonValue *body, int *m, int *ef)
{
    const JsonValue *h;
    if (api_get_object(j, body, "hnsw_config", &h) || !h) return api_failed(j) ? -1 : 0;
    uint64_t v = 0;
    const JsonValue *x = json_get(h, "m");
    if (x && x->type != JSON_NULL) {
        if (x->type != JSON_NUMBER || json_as_uint64(x, &v))
            return api_fail(j, QERR_FORMAT, "invalid type, expected usize at `hnsw_config.m`");
        /* m = 0 disables Qdrant's graph; vitrine always keeps one. */
        if (v > COLLECTION_MAX_M)
            return api_fail(j, QERR_BAD_INPUT, "hnsw_config.m: %llu is above vitrine's limit of %d",
                            (unsigned long long)v, COLLECTION_MAX_M);
        *m = v < COLLECTION_MIN_M ? COLLECTION_MIN_M : (int)v;
    }
    x = json_get(h, "ef_construct");
    if (x && x->type != JSON_NULL) {
        if (x->type != JSON_NUMBER || json_as_uint64(x, &v))
            return api_fail(j, QERR_FORMAT, "invalid type, expected usize at `hnsw_config.ef_construct`");
        if (v < 4)
            return api_fail(j, QERR_VALIDATION,
                            "hnsw_config.ef_construct: value %llu invalid, must be 4 or larger",
                            (unsigned long long)v);
        if (v > COLLECTION_MAX_EF_CONSTRUCT)
            return api_fail(j, QERR_BAD_INPUT,
                            "hnsw_config.ef_construct: %llu is above vitrine's limit of %d",
                            (unsigned long long)v, COLLECTION_MAX_EF_CONSTRUCT);
        *ef = v < COLLECTION_MIN_EF_CONSTRUCT ? COLLECTION_MIN_EF_CONSTRUCT : (int)v;
    }
    return 0;
}

static int parse_create(ApiJob *j, CollectionConfig *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    if (api_body_object(j, 1)) return -1;
    const JsonValue *body = j->body;
    const JsonValue *vectors = json_get(body, "vectors");
    const JsonValue *sparse = json_get(body, "sparse_vectors");
    if (sparse && sparse->type == JSON_OBJECT && sparse->len > 0)
        return api_fail(j, QERR_UNSUPPORTED, "sparse vectors (sparse_vectors) are not served yet");
    if (!vectors || vectors->type == JSON_NULL)
        return api_fail(j, QERR_BAD_INPUT,
                        "a collection needs dense vectors (\"vectors\"): vitrine has no sparse-only collections");
    if (vectors->type != JSON_OBJECT)
        return api_fail(j, QERR_FORMAT, "invalid type, expected VectorsConfig at `vectors`");
    if (json_get(vectors, "size") || json_get(vectors, "distance")) {
        cfg->unnamed = 1;
        cfg->n_vectors = 1;
        if (parse_vector_params(j, vectors, "", &cfg->vectors[0])) return -1;
    } else {
        if (vectors->len > COLLECTION_MAX_VECTORS)
            return api_fail(j, QERR_BAD_INPUT, "at most %d named vectors per collection",
                            COLLECTION_MAX_VECTORS);
        if (vectors->len == 0)
            return api_fail(j, QERR_BAD_INPUT,
                            "a collection needs at least one dense vector in \"vectors\"");
        for (uint32_t i = 0; i < vectors->len; i++) {
            const JsonMember *m = &vectors->u.members[i];
            if (m->key_len == 0 || m->key_len > COLLECTION_MAX_VECTOR_NAME ||
                strlen(m->key) != m->key_len)
                return api_fail(j, QERR_BAD_INPUT, "a vector name must have 1..%d bytes",
                                COLLECTION_MAX_VECTOR_NAME);
            if (parse_vector_params(j, &m->value, m->key, &cfg->vectors[i])) return -1;
        }
        cfg->n_vectors = (int)vectors->len;
    }
    if (parse_hnsw(j, body, &cfg->m, &cfg->ef_construct)) return -1;
    const JsonValue *q = json_get(body, "quantization_config");
    if (q && q->type != JSON_NULL)
        return api_fail(j, QERR_UNSUPPORTED, "quantization (quantization_config) is not served yet");
    const JsonValue *init = json_get(body, "init_from");
    if (init && init->type != JSON_NULL)
        return api_fail(j, QERR_UNSUPPORTED, "init_from");
    return 0;
}

/* ---- routes ---- */

static void list_collections(ApiJob *j)
{
    char **names;
    size_t n;
    int rc = collection_list(j->api->db, api_arena(j), &names, &n);
    if (rc) return (void)api_fail_engine(j, rc, NULL);
    JsonWriter *w = api_result(j);
    jw_object_begin(w);
    jw_key(w, "collections");
    jw_array_begin(w);
    for (size_t i = 0; i < n; i++) {
        jw_object_begin(w);
        jw_key(w, "name");
        jw_string(w, names[i]);
        jw_object_end(w);
    }
    jw_array_end(w);
    jw_object_end(w);
}

static void create_prepare(ApiJob *j)
{
    if (check_name(j, j->collection)) return;
    CollectionConfig *cfg = arena_calloc(api_arena(j), sizeof *cfg);
    if (parse_create(j, cfg)) return;
    j->state = cfg;
}

static void create_run(ApiJob *j)
{
    char err[256] = "";
    int rc = collection_create(j->api->db, j->collection, j->state, err, sizeof err);
    if (rc == ERR_EXISTS)
        return (void)api_fail(j, QERR_EXISTS, "Collection `%s` already exists!", j->collection);
    if (rc) return (void)api_fail_engine(j, rc, err);
    api_result_true(j);
}

static void delete_run(ApiJob *j)
{
    int rc = collection_delete(j->api->db, j->collection);
    if (rc && rc != ERR_NOTFOUND) return (void)api_fail_engine(j, rc, NULL);
    /* Qdrant answers false for a collection that did not exist. */
    jw_bool(api_result(j), rc == 0);
}

static void exists(ApiJob *j)
{
    CollectionInfo info;
    int rc = collection_info(j->api->db, j->collection, &info);
    if (rc && rc != ERR_NOTFOUND) return (void)api_fail_engine(j, rc, NULL);
    JsonWriter *w = api_result(j);
    jw_object_begin(w);
    jw_key(w, "exists");
    jw_bool(w, rc == 0);
    jw_object_end(w);
}

static void write_vector_params(JsonWriter *w, const CollectionVectorParams *p)
{
    jw_object_begin(w);
    jw_key(w, "size");
    jw_uint(w, p->size);
    jw_key(w, "distance");
    jw_string(w, qdrant_distance_name(p->distance));
    jw_object_end(w);
}

static void write_config(JsonWriter *w, const CollectionConfig *c)
{
    jw_object_begin(w);
    jw_key(w, "params");
    jw_object_begin(w);
    jw_key(w, "vectors");
    if (c->unnamed) {
        write_vector_params(w, &c->vectors[0]);
    } else {
        jw_object_begin(w);
        for (int i = 0; i < c->n_vectors; i++) {
            jw_key(w, c->vectors[i].name);
            write_vector_params(w, &c->vectors[i]);
        }
        jw_object_end(w);
    }
    jw_key(w, "shard_number");
    jw_uint(w, 1);
    jw_key(w, "replication_factor");
    jw_uint(w, 1);
    jw_key(w, "write_consistency_factor");
    jw_uint(w, 1);
    jw_key(w, "on_disk_payload");
    jw_bool(w, 1);
    jw_object_end(w);

    jw_key(w, "hnsw_config");
    jw_object_begin(w);
    jw_key(w, "m");
    jw_int(w, c->m);
    jw_key(w, "ef_construct");
    jw_int(w, c->ef_construct);
    jw_key(w, "full_scan_threshold");
    jw_uint(w, QDRANT_FULL_SCAN_THRESHOLD_KB);
    jw_key(w, "max_indexing_threads");
    jw_uint(w, 0);
    jw_key(w, "on_disk");
    jw_bool(w, 0);
    jw_object_end(w);

    jw_key(w, "optimizer_config");
    jw_object_begin(w);
    jw_key(w, "deleted_threshold");
    jw_double(w, 0.2);
    jw_key(w, "vacuum_min_vector_number");
    jw_uint(w, 1000);
    jw_key(w, "default_segment_number");
    jw_uint(w, 0);
    jw_key(w, "max_segment_size");
    jw_null(w);
    jw_key(w, "memmap_threshold");
    jw_null(w);
    jw_key(w, "indexing_threshold");
    jw_uint(w, 10000);
    jw_key(w, "flush_interval_sec");
    jw_uint(w, 5);
    jw_key(w, "max_optimization_threads");
    jw_null(w);
    jw_object_end(w);

    jw_key(w, "wal_config");
    jw_object_begin(w);
    jw_key(w, "wal_capacity_mb");
    jw_uint(w, QDRANT_WAL_CAPACITY_MB);
    jw_key(w, "wal_segments_ahead");
    jw_uint(w, 0);
    jw_object_end(w);

    jw_key(w, "quantization_config");
    jw_null(w);
    jw_object_end(w);
}

static void info(ApiJob *j)
{
    CollectionInfo ci;
    int rc = collection_info(j->api->db, j->collection, &ci);
    if (rc) return (void)api_fail_collection(j, rc, NULL);
    JsonWriter *w = api_result(j);
    jw_object_begin(w);
    jw_key(w, "status");
    jw_string(w, "green");
    jw_key(w, "optimizer_status");
    jw_string(w, "ok");
    /* Every live vector is in the graph the moment its write is visible. */
    jw_key(w, "indexed_vectors_count");
    jw_uint(w, ci.vectors_count);
    jw_key(w, "points_count");
    jw_uint(w, ci.points_count);
    jw_key(w, "segments_count");
    jw_uint(w, 1);
    jw_key(w, "config");
    write_config(w, &ci.config);
    jw_key(w, "payload_schema");
    jw_object_begin(w);
    jw_object_end(w);
    jw_object_end(w);
}

const ApiRoute qdrant_collection_routes[] = {
    { "GET", "/collections", API_READ, NULL, list_collections },
    { "GET", "/collections/{collection_name}", API_READ, NULL, info },
    { "PUT", "/collections/{collection_name}", API_WRITE, create_prepare, create_run },
    { "DELETE", "/collections/{collection_name}", API_WRITE, NULL, delete_run },
    { "GET", "/collections/{collection_name}/exists", API_READ, NULL, exists },
    { NULL, NULL, 0, NULL, NULL },
};
