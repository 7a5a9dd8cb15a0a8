/*
 * qdrant_collections.c - Qdrant's collection routes: list, create, info,
 * update, delete, exists.
 *
 * Qdrant reports a whole configuration (optimizers, WAL, quantization,
 * sharding) of which vitrine's single-segment engine acts on the vectors
 * and the HNSW parameters; the rest is reported with Qdrant's defaults so
 * that clients that read it find what they expect.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/qdrant_internal.h"
#include "api/qdrant_multivec.h"
#include "api/qdrant_sparse.h"
#include "base/err.h"
#include "base/log.h"
#include "base/sha256.h"
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
        return api_fail(j, QERR_VALIDATION_PATH,
                        "collection_name: value \"%.300s\" invalid, must be from 1 to %d characters",
                        name, COLLECTION_MAX_NAME);
    static const char bad[] = "<>:\"/\\|?*\x1f";
    for (const char *p = bad; *p; p++)
        if (strchr(name, *p))
            return api_fail(j, QERR_VALIDATION_PATH,
                            "collection_name: collection name cannot contain \"%c\" char", *p);
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
    if (size->type != JSON_NUMBER || json_as_uint64(size, &n) || n == 0)
        return api_fail(j, QERR_FORMAT,
                        "invalid value: %s, expected a nonzero u64 at `%s.size`",
                        size->type == JSON_NUMBER && size->num_kind == JSON_NUM_INT && size->n.i == 0
                            ? "integer `0`" : "not a nonzero integer",
                        field);
    if (n < 1 || n > 65536)
        return api_fail(j, QERR_VALIDATION, "%s.size: value %llu invalid, must be from 1 to 65536",
                        field, (unsigned long long)n);
    if (n > COLLECTION_MAX_DIM)
        return api_fail(j, QERR_BAD_INPUT, "vector size %llu is above vitrine's limit of %d",
                        (unsigned long long)n, COLLECTION_MAX_DIM);
    if (parse_distance(j, json_get(v, "distance"), field, &out->distance)) return -1;
    if (qdrant_multivec_parse_params(j, v, field, out)) return -1;
    out->size = (uint32_t)n;
    snprintf(out->name, sizeof out->name, "%s", name);
    return 0;
}

/* parse_hnsw reads HnswConfigDiff's m and ef_construct (the rest is
 * accepted: it tunes Qdrant's segments, which vitrine does not have).
 * An m given as 0 leaves *m as it is and sets *zero (may be NULL). */
static int parse_hnsw(ApiJob *j, const JsonValue *body, int *m, int *ef, int *zero)
{
    if (zero) *zero = 0;
    const JsonValue *h;
    if (api_get_object(j, body, "hnsw_config", &h) || !h) return api_failed(j) ? -1 : 0;
    uint64_t v = 0;
    const JsonValue *x = json_get(h, "m");
    if (x && x->type != JSON_NULL) {
        if (x->type != JSON_NUMBER || json_as_uint64(x, &v))
            return api_fail(j, QERR_FORMAT, "invalid type, expected usize at `hnsw_config.m`");
        /* m = 0 disables Qdrant's graph; vitrine reports the 0 kept in
         * the options and has the engine search the vectors it applies
         * to exactly, without building their graphs (their nodes are
         * stored bare), at an engine m that is the largest m a vector
         * asks for (exact_only_from_options). */
        if (v > COLLECTION_MAX_M)
            return api_fail(j, QERR_BAD_INPUT, "hnsw_config.m: %llu is above vitrine's limit of %d",
                            (unsigned long long)v, COLLECTION_MAX_M);
        if (v == 0) {
            if (zero) *zero = 1;
        } else {
            *m = v < COLLECTION_MIN_M ? COLLECTION_MIN_M : (int)v;
        }
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

/* ---- options: the settings vitrine stores and reports but does not act on ----
 *
 * CollectionConfig.options holds a JSON object with the Qdrant settings a
 * client gave (each a diff over Qdrant's defaults, as Qdrant takes them):
 * "hnsw_config", "optimizers_config", "wal_config", "quantization_config",
 * "on_disk_payload", "metadata", "strict_mode_config", "shard_number",
 * "replication_factor", "write_consistency_factor", and per vector
 * "vectors": {name: {"on_disk", "hnsw_config", "quantization_config",
 * "datatype"}}. GET /collections/{name} reports the defaults overridden by
 * them; PATCH merges into them. */

/* The object-valued sections and their accepted aliases. */
static const struct {
    const char *key, *alias;
} option_objects[] = {
    { "hnsw_config", NULL },
    { "optimizers_config", "optimizer_config" },
    { "wal_config", NULL },
    { "quantization_config", "quantization" },
    { "strict_mode_config", NULL },
    { "metadata", NULL },
};
static const char *const option_scalars[] = {
    "on_disk_payload", "shard_number", "replication_factor", "write_consistency_factor",
};
static const char *const vector_extras[] = { "on_disk", "hnsw_config", "quantization_config",
                                             "datatype" };

/* json_number_text prints x as serde_json prints an f64 (1.0, 0.25) or,
 * for integer fields, as an integer. */
static void number_text(char *out, size_t n, double x, int is_float)
{
    if (!is_float) snprintf(out, n, "%.0f", x);
    else if (x == (double)(long long)x && fabs(x) < 1e15) snprintf(out, n, "%.1f", x);
    else snprintf(out, n, "%g", x);
}

/* check_range fails with Qdrant's validation message when obj.key is a
 * number outside [min, max] (max < min: no upper bound). */
static int check_range(ApiJob *j, const JsonValue *obj, const char *section, const char *key,
                       double min, double max, int is_float)
{
    const JsonValue *v = json_get(obj, key);
    if (!v || v->type == JSON_NULL) return 0;
    if (v->type != JSON_NUMBER)
        return api_fail(j, QERR_FORMAT, "invalid type, expected a number at `%s.%s`", section, key);
    if (!(v->u.num < min || (max >= min && v->u.num > max))) return 0;
    char vb[32], mb[32], xb[32];
    number_text(vb, sizeof vb, v->u.num, is_float);
    number_text(mb, sizeof mb, min, is_float);
    number_text(xb, sizeof xb, max, is_float);
    if (max >= min)
        return api_fail(j, QERR_VALIDATION, "%s.%s: value %s invalid, must be from %s to %s", section,
                        key, vb, mb, xb);
    return api_fail(j, QERR_VALIDATION, "%s.%s: value %s invalid, must be %s or larger", section, key,
                    vb, mb);
}

/* validate_sections applies Qdrant's validators to the option sections
 * (lib/collection/src/operations/config_diff.rs, lib/collection/src/config.rs). */
static int validate_sections(ApiJob *j, const JsonValue *body)
{
    const JsonValue *o;
    if ((o = json_get(body, "optimizers_config")) || (o = json_get(body, "optimizer_config"))) {
        if (o->type == JSON_OBJECT &&
            (check_range(j, o, "optimizers_config", "deleted_threshold", 0, 1, 1) ||
             check_range(j, o, "optimizers_config", "vacuum_min_vector_number", 100, -1, 0) ||
             check_range(j, o, "optimizers_config", "flush_interval_sec", 0, -1, 0)))
            return -1;
    }
    if ((o = json_get(body, "wal_config")) && o->type == JSON_OBJECT &&
        check_range(j, o, "wal_config", "wal_capacity_mb", 1, -1, 0))
        return -1;
    if ((o = json_get(body, "hnsw_config")) && o->type == JSON_OBJECT &&
        check_range(j, o, "hnsw_config", "full_scan_threshold", 10, -1, 0))
        return -1;
    static const char *const factors[] = { "shard_number", "replication_factor",
                                           "write_consistency_factor" };
    for (size_t i = 0; i < sizeof factors / sizeof *factors; i++) {
        const JsonValue *v = json_get(body, factors[i]);
        if (!v || v->type == JSON_NULL) continue;
        uint64_t u;
        if (v->type != JSON_NUMBER || json_as_uint64(v, &u))
            return api_fail(j, QERR_FORMAT, "invalid type, expected u32 at `%s`", factors[i]);
        if (u < 1)
            return api_fail(j, QERR_VALIDATION, "%s: value 0 invalid, must be 1 or larger", factors[i]);
    }
    const JsonValue *odp = json_get(body, "on_disk_payload");
    if (odp && odp->type != JSON_NULL && odp->type != JSON_BOOL)
        return api_fail(j, QERR_FORMAT, "invalid type, expected a boolean at `on_disk_payload`");
    return 0;
}

/* merge_object writes the members of base overridden (and extended) by
 * those of patch; null members of patch remove the key, or, when
 * null_keeps, leave it as it was (Qdrant's StrictModeConfig diff, whose
 * null is "not given": a rate limit cannot be unset by PATCH). */
static void merge_object(JsonWriter *w, const JsonValue *base, const JsonValue *patch, int null_keeps)
{
    jw_object_begin(w);
    for (uint32_t i = 0; base && base->type == JSON_OBJECT && i < base->len; i++) {
        const JsonMember *m = &base->u.members[i];
        const JsonValue *p = patch ? json_get(patch, m->key) : NULL;
        if (p && !(null_keeps && p->type == JSON_NULL)) continue;
        jw_key_len(w, m->key, m->key_len);
        jw_value(w, &m->value);
    }
    for (uint32_t i = 0; patch && patch->type == JSON_OBJECT && i < patch->len; i++) {
        const JsonMember *m = &patch->u.members[i];
        if (m->value.type == JSON_NULL) continue;
        jw_key_len(w, m->key, m->key_len);
        jw_value(w, &m->value);
    }
    jw_object_end(w);
}

/* is_disabled: the string "Disabled" (Qdrant's QuantizationConfigDiff
 * variant that turns quantization off). */
static int is_disabled(const JsonValue *v)
{
    return v->type == JSON_STRING && !strcmp(v->u.str, "Disabled");
}

/* build_options writes the options object: old (may be NULL) updated by
 * the settings in body. */
static int build_options(ApiJob *j, const JsonValue *old, const JsonValue *body, Buf *out)
{
    JsonWriter w;
    jw_init(&w, out);
    jw_object_begin(&w);
    for (size_t i = 0; i < sizeof option_objects / sizeof *option_objects; i++) {
        const char *key = option_objects[i].key;
        const JsonValue *given = json_get(body, key);
        if (!given && option_objects[i].alias) given = json_get(body, option_objects[i].alias);
        const JsonValue *prev = old ? json_get(old, key) : NULL;
        /* QuantizationConfigDiff's "Disabled" removes the quantization. */
        if (given && is_disabled(given) && !strcmp(key, "quantization_config")) continue;
        if (given && given->type != JSON_NULL && given->type != JSON_OBJECT)
            return api_fail(j, QERR_FORMAT, "invalid type, expected a map at `%s`", key);
        if (!given || given->type == JSON_NULL) {
            if (!prev) continue;
            jw_key(&w, key);
            jw_value(&w, prev);
            continue;
        }
        jw_key(&w, key);
        /* quantization is replaced whole; the diffs are merged, a null
         * field keeping its value (Qdrant's Option fields: unwrap_or /
         * or in config_diff.rs), while a null in metadata removes that
         * key (Payload::merge). */
        if (!strcmp(key, "quantization_config")) jw_value(&w, given);
        else merge_object(&w, prev, given, strcmp(key, "metadata") != 0);
    }
    /* PATCH puts the scalars under "params" (CollectionParamsDiff). */
    const JsonValue *params = json_get(body, "params");
    for (size_t i = 0; i < sizeof option_scalars / sizeof *option_scalars; i++) {
        const char *key = option_scalars[i];
        const JsonValue *given = json_get(body, key);
        if ((!given || given->type == JSON_NULL) && params) given = json_get(params, key);
        if (!given || given->type == JSON_NULL) given = old ? json_get(old, key) : NULL;
        if (!given) continue;
        jw_key(&w, key);
        jw_value(&w, given);
    }
    /* Per-vector extras. */
    const JsonValue *vectors = json_get(body, "vectors");
    const JsonValue *prevv = old ? json_get(old, "vectors") : NULL;
    int single = vectors && vectors->type == JSON_OBJECT &&
                 (json_get(vectors, "size") || json_get(vectors, "distance"));
    jw_key(&w, "vectors");
    jw_object_begin(&w);
    for (uint32_t i = 0; prevv && prevv->type == JSON_OBJECT && i < prevv->len; i++) {
        const JsonMember *m = &prevv->u.members[i];
        const JsonValue *patch = vectors && vectors->type == JSON_OBJECT
                                     ? (single ? (m->key_len == 0 ? vectors : NULL) : json_get(vectors, m->key))
                                     : NULL;
        if (patch) continue;
        jw_key_len(&w, m->key, m->key_len);
        jw_value(&w, &m->value);
    }
    for (uint32_t i = 0; vectors && vectors->type == JSON_OBJECT && i < (single ? 1u : vectors->len); i++) {
        const char *name = single ? "" : vectors->u.members[i].key;
        const JsonValue *vp = single ? vectors : &vectors->u.members[i].value;
        if (vp->type != JSON_OBJECT) continue;
        const JsonValue *prev = prevv ? json_get(prevv, name) : NULL;
        jw_key(&w, name);
        jw_object_begin(&w);
        for (size_t k = 0; k < sizeof vector_extras / sizeof *vector_extras; k++) {
            const JsonValue *x = json_get(vp, vector_extras[k]);
            if (!x || x->type == JSON_NULL) x = prev ? json_get(prev, vector_extras[k]) : NULL;
            if (!x) continue;
            if (is_disabled(x) && !strcmp(vector_extras[k], "quantization_config")) continue;
            jw_key(&w, vector_extras[k]);
            /* A vector's hnsw_config is a diff merged field by field
             * into the one it had (Qdrant's HnswConfigDiff::update). */
            const JsonValue *was = prev ? json_get(prev, vector_extras[k]) : NULL;
            if (!strcmp(vector_extras[k], "hnsw_config") && x->type == JSON_OBJECT && was &&
                was != x && was->type == JSON_OBJECT)
                merge_object(&w, was, x, 1);
            else
                jw_value(&w, x);
        }
        jw_object_end(&w);
    }
    jw_object_end(&w);
    qdrant_sparse_options(&w, old, body);
    jw_object_end(&w);
    if (out->len >= COLLECTION_MAX_OPTIONS)
        return api_fail(j, QERR_BAD_INPUT, "the collection settings take %zu bytes, more than the %d vitrine keeps",
                        out->len, COLLECTION_MAX_OPTIONS - 1);
    return 0;
}

/* parse_other_quant checks Qdrant's product ({"compression": "x4".."x64",
 * "always_ram"}) and binary ({"always_ram", "encoding", "query_encoding"})
 * quantization configs. vitrine has no product or binary codes: such a
 * collection keeps and reports the setting (a client that sets it gets it
 * back) and searches its float32 graph, so results are those of
 * quantization with full rescoring (docs/http-api.md). */
static int parse_other_quant(ApiJob *j, const JsonValue *qc, const char *path)
{
    static const char *const compressions[] = { "x4", "x8", "x16", "x32", "x64" };
    static const char *const encodings[] = { "one_bit", "two_bits", "one_and_half_bits" };
    static const char *const query_encodings[] = { "default", "binary", "scalar4bits", "scalar8bits" };
    const JsonValue *pq = json_get(qc, "product"), *bq = json_get(qc, "binary");
    const JsonValue *o = pq ? pq : bq;
    const char *kind = pq ? "product" : "binary";
    if (o->type != JSON_OBJECT)
        return api_fail(j, QERR_FORMAT, "invalid type, expected %s quantization config at `%s.%s`", kind,
                        path, kind);
    const JsonValue *ram = json_get(o, "always_ram");
    if (ram && ram->type != JSON_NULL && ram->type != JSON_BOOL)
        return api_fail(j, QERR_FORMAT, "invalid type, expected a boolean at `%s.%s.always_ram`", path, kind);
    struct {
        const char *key;
        const char *const *names;
        size_t n;
        int required;
        const char *expected; /* the names as Qdrant's error lists them */
    } enums[] = {
        { "compression", compressions, ARRAY_LEN(compressions), 1, "`x4`, `x8`, `x16`, `x32`, `x64`" },
        { "encoding", encodings, ARRAY_LEN(encodings), 0, "`one_bit`, `two_bits`, `one_and_half_bits`" },
        { "query_encoding", query_encodings, ARRAY_LEN(query_encodings), 0,
          "`default`, `binary`, `scalar4bits`, `scalar8bits`" },
    };
    for (size_t e = pq ? 0 : 1; e < (pq ? 1 : ARRAY_LEN(enums)); e++) {
        const JsonValue *x = json_get(o, enums[e].key);
        if (!x || x->type == JSON_NULL) {
            if (enums[e].required)
                return api_fail(j, QERR_FORMAT, "missing field `%s` at `%s.%s`", enums[e].key, path, kind);
            continue;
        }
        size_t k = 0;
        while (k < enums[e].n && !(x->type == JSON_STRING && !strcmp(x->u.str, enums[e].names[k]))) k++;
        if (k == enums[e].n)
            return api_fail(j, QERR_FORMAT, "unknown variant at `%s.%s.%s`, expected one of %s", path, kind,
                            enums[e].key, enums[e].expected);
    }
    return 0;
}

/*
 * parse_quant reads one quantization_config (Qdrant's QuantizationConfig:
 * {"scalar": {"type": "int8", "quantile", "always_ram"}}; null or absent:
 * none) into q. Product and binary configs are checked and leave q none
 * (parse_other_quant).
 */
static int parse_quant(ApiJob *j, const JsonValue *qc, const char *path, CollectionQuantization *q)
{
    memset(q, 0, sizeof *q);
    if (!qc || qc->type == JSON_NULL || is_disabled(qc)) return 0;
    if (qc->type != JSON_OBJECT)
        return api_fail(j, QERR_FORMAT, "invalid type, expected QuantizationConfig at `%s`", path);
    const JsonValue *sc = json_get(qc, "scalar");
    if (!sc || sc->type != JSON_OBJECT) {
        if (qc->len == 1 && (json_get(qc, "product") || json_get(qc, "binary")))
            return parse_other_quant(j, qc, path);
        return api_fail(j, QERR_FORMAT,
                        "%s: unknown variant, expected one of `scalar`, `product`, `binary`", path);
    }
    const JsonValue *t = json_get(sc, "type");
    if (!t || t->type != JSON_STRING || strcmp(t->u.str, "int8"))
        return api_fail(j, QERR_FORMAT, "unknown variant at `%s.scalar.type`, expected `int8`", path);
    q->type = COLLECTION_QUANT_INT8;
    const JsonValue *x = json_get(sc, "quantile");
    if (x && x->type != JSON_NULL) {
        if (x->type != JSON_NUMBER)
            return api_fail(j, QERR_FORMAT, "invalid type, expected f32 at `%s.scalar.quantile`", path);
        if (!(x->u.num >= 0.5 && x->u.num <= 1.0))
            return api_fail(j, QERR_VALIDATION,
                            "%s.scalar.quantile: value %g invalid, must be from 0.5 to 1.0", path,
                            x->u.num);
        q->quantile = (float)x->u.num;
    }
    x = json_get(sc, "always_ram");
    if (x && x->type != JSON_NULL) {
        if (x->type != JSON_BOOL)
            return api_fail(j, QERR_FORMAT, "invalid type, expected a boolean at `%s.scalar.always_ram`",
                            path);
        q->always_ram = x->u.boolean;
    }
    return 0;
}

/* quant_from_options resolves each dense vector's quantization from an
 * options text: the vector's own quantization_config, else the
 * collection's (Qdrant's rule). */
static int quant_from_options(ApiJob *j, const char *text, const CollectionConfig *cfg,
                              CollectionQuantization *out)
{
    JsonValue *o = NULL;
    char perr[64];
    if (text && *text && json_parse(api_arena(j), text, strlen(text), &o, perr, sizeof perr))
        o = NULL;
    const JsonValue *top = o ? json_get(o, "quantization_config") : NULL;
    const JsonValue *vecs = o ? json_get(o, "vectors") : NULL;
    for (int v = 0; v < cfg->n_vectors; v++) {
        const JsonValue *vp = vecs ? json_get(vecs, cfg->vectors[v].name) : NULL;
        const JsonValue *own = vp ? json_get(vp, "quantization_config") : NULL;
        /* The collection's setting passes over multivectors (scored
         * exactly, no graph); a multivector's own one is refused. */
        if (!own && cfg->vectors[v].multivector != COLLECTION_SINGLE) {
            memset(&out[v], 0, sizeof out[v]);
            continue;
        }
        if (parse_quant(j, own ? own : top, own ? "vectors.quantization_config" : "quantization_config",
                        &out[v]))
            return -1;
    }
    return 0;
}

/* Qdrant's default optimizers_config.indexing_threshold, in KB. */
#define QDRANT_INDEXING_THRESHOLD_KB 10000

/* indexing_threshold_kb: optimizers_config.indexing_threshold of a
 * collection's parsed options (KB; 0 turns indexing off), Qdrant's
 * default when absent or null (opts NULL: no options). */
static int64_t indexing_threshold_kb(const JsonValue *opts)
{
    const JsonValue *oc = opts ? json_get(opts, "optimizers_config") : NULL;
    const JsonValue *t = oc && oc->type == JSON_OBJECT ? json_get(oc, "indexing_threshold") : NULL;
    return t && t->type == JSON_NUMBER && t->u.num >= 0 ? (int64_t)t->u.num
                                                        : QDRANT_INDEXING_THRESHOLD_KB;
}

/*
 * exact_only_from_options resolves each dense vector's exact_only flag
 * from cfg's options: Qdrant's effective hnsw m of the vector
 * (qdrant_vector_m: its own hnsw_config.m, else the collection's, as the
 * client gave it) being 0 means no graph, so the engine scores its
 * searches exactly (CollectionVectorParams.exact_only). Returns the
 * largest effective m, within the engine's range: the engine's m (one for
 * all of a collection's graphs) when the collection's own is 0, so that
 * a vector with its own m gets the graph Qdrant builds it, and the
 * minimum when every vector is searched exactly (no graph is built then;
 * a PATCH of m later builds them at the new m). Qdrant's
 * optimizers_config.indexing_threshold 0 ("disable vector indexing",
 * its older bulk-upload recipe) keeps every dense vector without a graph
 * too, until a PATCH sets a threshold again.
 */
static int exact_only_from_options(Arena *a, const CollectionConfig *cfg, int *out)
{
    int largest = COLLECTION_MIN_M;
    JsonValue *opts = NULL;
    char err[64];
    if (cfg->options[0] && json_parse(a, cfg->options, strlen(cfg->options), &opts, err, sizeof err))
        opts = NULL;
    int64_t threshold = indexing_threshold_kb(opts);
    for (int v = 0; v < cfg->n_vectors; v++) {
        int64_t m, payload_m;
        int dense = qdrant_vector_m(a, cfg, cfg->vectors[v].name, &m, &payload_m);
        out[v] = dense && (m == 0 || threshold == 0);
        if (dense && m > largest) largest = m > COLLECTION_MAX_M ? COLLECTION_MAX_M : (int)m;
    }
    return largest;
}

int qdrant_exact_only_sync(Db *db, const char *name)
{
    CollectionInfo *ci = xmalloc(sizeof *ci);
    int rc = collection_info(db, name, ci);
    CollectionUpdate u = { .set_exact_only = 1 };
    int differ = 0;
    if (!rc) {
        Arena a;
        arena_init(&a, 0);
        exact_only_from_options(&a, &ci->config, u.exact_only);
        arena_free(&a);
        for (int v = 0; v < ci->config.n_vectors; v++)
            differ |= u.exact_only[v] != ci->config.vectors[v].exact_only;
    }
    char err[256] = "";
    if (!rc && differ) {
        /* The flags hold for the options read above: an update that
         * changed them in between (a PATCH on the writer thread while a
         * recover syncs on the snapshot worker) set the flags of its own
         * options, which stand. */
        u.if_options = ci->config.options;
        rc = collection_update(db, name, &u, err, sizeof err);
        if (rc == ERR_BUSY) rc = 0;
        else if (rc)
            log_error("collection %s: cannot keep hnsw m = 0 with its vectors: %s", name, err);
        else
            log_info("collection %s: the vectors' exact search flags now follow their hnsw m", name);
    }
    free(ci);
    return rc;
}

static int parse_create(ApiJob *j, CollectionConfig *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    if (api_body_object(j, 1)) return -1;
    const JsonValue *body = j->body;
    const JsonValue *vectors = json_get(body, "vectors");
    if (qdrant_sparse_parse_config(j, json_get(body, "sparse_vectors"), cfg)) return -1;
    if (vectors && vectors->type == JSON_NULL) vectors = NULL;
    if (vectors && vectors->type != JSON_OBJECT)
        return api_fail(j, QERR_FORMAT, "invalid type, expected VectorsConfig at `vectors`");
    /* Without "vectors" Qdrant makes no dense vector (VectorsConfig's
     * default, an empty map): sparse vectors only, or none. */
    if (!vectors) {
        cfg->n_vectors = 0;
    } else if (json_get(vectors, "size") || json_get(vectors, "distance")) {
        cfg->unnamed = 1;
        cfg->n_vectors = 1;
        if (parse_vector_params(j, vectors, "", &cfg->vectors[0])) return -1;
    } else {
        if (vectors->len > COLLECTION_MAX_VECTORS)
            return api_fail(j, QERR_BAD_INPUT, "at most %d named vectors per collection",
                            COLLECTION_MAX_VECTORS);
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
    /* Qdrant's defaults when the body leaves them out (config.yaml):
     * m 16 (the engine's too) and ef_construct 100 (the engine's own
     * default, 200, serves its CLI and benchmarks). */
    cfg->m = 16;
    cfg->ef_construct = 100;
    int m_zero;
    if (parse_hnsw(j, body, &cfg->m, &cfg->ef_construct, &m_zero)) return -1;
    if (validate_sections(j, body)) return -1;
    const JsonValue *init = json_get(body, "init_from");
    if (init && init->type != JSON_NULL)
        return api_fail(j, QERR_UNSUPPORTED, "init_from");
    Buf opts;
    buf_init(&opts);
    int rc = build_options(j, NULL, body, &opts);
    if (!rc) memcpy(cfg->options, opts.data, opts.len + 1);
    buf_free(&opts);
    if (rc) return rc;
    CollectionQuantization q[COLLECTION_MAX_VECTORS];
    if (quant_from_options(j, cfg->options, cfg, q)) return -1;
    for (int v = 0; v < cfg->n_vectors; v++) cfg->vectors[v].quant = q[v];
    int exact_only[COLLECTION_MAX_VECTORS];
    int largest = exact_only_from_options(api_arena(j), cfg, exact_only);
    for (int v = 0; v < cfg->n_vectors; v++) cfg->vectors[v].exact_only = exact_only[v];
    if (m_zero) cfg->m = largest;
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

/* options_parse reads a collection's options text into the arena (NULL
 * when empty or unreadable: the defaults are reported). */
static const JsonValue *options_parse(ApiJob *j, const char *text)
{
    if (!text || !*text) return NULL;
    JsonValue *v;
    char err[64];
    if (json_parse(api_arena(j), text, strlen(text), &v, err, sizeof err)) return NULL;
    return v;
}

/* PATCH /collections/{name}: Qdrant's UpdateCollection. */
static void update_prepare(ApiJob *j)
{
    if (api_body_object(j, 1)) return;
    if (!j->body) return;
    const JsonValue *body = j->body;
    int m = 0, ef = 0;
    if (parse_hnsw(j, body, &m, &ef, NULL) || validate_sections(j, body)) return;
    const JsonValue *params;
    if (api_get_object(j, body, "params", &params)) return;
    if (params && validate_sections(j, params)) return;
    const JsonValue *vectors;
    if (api_get_object(j, body, "vectors", &vectors)) return;
}

static void update_run(ApiJob *j)
{
    CollectionInfo ci;
    int rc = collection_info(j->api->db, j->collection, &ci);
    if (rc) return (void)api_fail_collection(j, rc, NULL);
    static const JsonValue empty = { .type = JSON_OBJECT };
    const JsonValue *body = j->body ? j->body : &empty;
    /* Vector names must exist ("" is the unnamed vector). */
    const JsonValue *vectors = json_get(body, "vectors");
    for (uint32_t i = 0; vectors && vectors->type == JSON_OBJECT && i < vectors->len; i++) {
        const char *name = vectors->u.members[i].key;
        int found = 0;
        for (int v = 0; v < ci.config.n_vectors; v++) found |= !strcmp(ci.config.vectors[v].name, name);
        if (!found) return (void)api_fail(j, QERR_BAD_INPUT, "Not existing vector name error: %s", name);
    }
    /* The collection's m set to 0 leaves m 0 here, "unchanged": the
     * graphs stay as they are (no rebuild for graphs the engine then
     * searches exactly, whose later inserts are bare, and none down to
     * the minimum m for a vector that has its own). */
    int m = 0, ef = 0;
    if (parse_hnsw(j, body, &m, &ef, NULL)) return;
    CollectionSparseParams *sparse;
    size_t n_sparse;
    if (qdrant_sparse_check_patch(j, body, &ci.config, &sparse, &n_sparse)) return;
    Buf opts;
    buf_init(&opts);
    if (build_options(j, options_parse(j, ci.config.options), body, &opts)) {
        buf_free(&opts);
        return;
    }
    CollectionUpdate u = { .options = opts.data, .m = m, .ef_construct = ef,
                           .sparse = sparse, .n_sparse = n_sparse, .set_quant = 1 };
    if (quant_from_options(j, opts.data, &ci.config, u.quant)) {
        buf_free(&opts);
        return;
    }
    /* The flags follow the new options and m (build_options has
     * refused options longer than the engine keeps); ci is this job's
     * copy, read no more as it was. */
    memcpy(ci.config.options, opts.data, opts.len + 1);
    if (m) ci.config.m = m;
    exact_only_from_options(api_arena(j), &ci.config, u.exact_only);
    u.set_exact_only = 1;
    char err[256] = "";
    rc = collection_update(j->api->db, j->collection, &u, err, sizeof err);
    buf_free(&opts);
    if (rc) return (void)api_fail_collection(j, rc, err);
    /* Qdrant makes new rate limiters whenever the config is patched. */
    if (json_get(body, "strict_mode_config")) qdrant_strict_reset(j->api, ci.id);
    api_result_true(j);
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

/* A reported setting: the option's value when given, else the default. */
typedef struct {
    const char *key;
    int kind; /* 0 uint, 1 double, 2 bool, 3 null */
    double dflt;
} Setting;

static void write_settings(JsonWriter *w, const Setting *set, size_t n, const JsonValue *given)
{
    jw_object_begin(w);
    for (size_t i = 0; i < n; i++) {
        jw_key(w, set[i].key);
        const JsonValue *v = given ? json_get(given, set[i].key) : NULL;
        if (v && v->type != JSON_NULL) jw_value(w, v);
        else if (set[i].kind == 0) jw_uint(w, (uint64_t)set[i].dflt);
        else if (set[i].kind == 1) jw_double(w, set[i].dflt);
        else if (set[i].kind == 2) jw_bool(w, set[i].dflt != 0);
        else jw_null(w);
    }
    jw_object_end(w);
}

static void write_vector_params(JsonWriter *w, const CollectionVectorParams *p, const JsonValue *extra)
{
    jw_object_begin(w);
    jw_key(w, "size");
    jw_uint(w, p->size);
    jw_key(w, "distance");
    jw_string(w, qdrant_distance_name(p->distance));
    for (size_t k = 0; extra && k < sizeof vector_extras / sizeof *vector_extras; k++) {
        const JsonValue *x = json_get(extra, vector_extras[k]);
        if (!x || x->type == JSON_NULL) continue;
        jw_key(w, vector_extras[k]);
        jw_value(w, x);
    }
    qdrant_multivec_write_params(w, p);
    jw_object_end(w);
}

/* write_config writes CollectionConfig as Qdrant reports it: Qdrant's
 * defaults (config/config.yaml, lib/collection/src/optimizers_builder.rs)
 * overridden by the settings given at create or PATCH. */
/* write_params writes CollectionParams: the vectors and the settings
 * Qdrant keeps beside them. */
static void write_params(JsonWriter *w, const CollectionConfig *c, const JsonValue *opts)
{
    const JsonValue *vx = opts ? json_get(opts, "vectors") : NULL;
    jw_object_begin(w);
    jw_key(w, "vectors");
    if (c->unnamed) {
        write_vector_params(w, &c->vectors[0], vx ? json_get(vx, "") : NULL);
    } else {
        jw_object_begin(w);
        for (int i = 0; i < c->n_vectors; i++) {
            jw_key(w, c->vectors[i].name);
            write_vector_params(w, &c->vectors[i], vx ? json_get(vx, c->vectors[i].name) : NULL);
        }
        jw_object_end(w);
    }
    qdrant_sparse_write_config(w, c, opts);
    static const Setting params[] = {
        { "shard_number", 0, 1 }, { "replication_factor", 0, 1 },
        { "write_consistency_factor", 0, 1 }, { "on_disk_payload", 2, 1 },
    };
    for (size_t i = 0; i < sizeof params / sizeof *params; i++) {
        jw_key(w, params[i].key);
        const JsonValue *v = opts ? json_get(opts, params[i].key) : NULL;
        if (v) jw_value(w, v);
        else if (params[i].kind == 2) jw_bool(w, 1);
        else jw_uint(w, (uint64_t)params[i].dflt);
    }
    jw_object_end(w);
}

static void write_config(JsonWriter *w, const CollectionConfig *c, const JsonValue *opts)
{
    jw_object_begin(w);
    jw_key(w, "params");
    write_params(w, c, opts);

    /* m and ef_construct are the engine's own; the rest Qdrant's. */
    const JsonValue *h = opts ? json_get(opts, "hnsw_config") : NULL;
    jw_key(w, "hnsw_config");
    jw_object_begin(w);
    /* m = 0 (Qdrant: no global graph) is reported as configured: the
     * vectors that inherit it are searched exactly (their exact_only)
     * while the engine keeps graphs at the largest m a vector asks for
     * (exact_only_from_options). */
    const JsonValue *hm = h ? json_get(h, "m") : NULL;
    jw_key(w, "m");
    jw_int(w, hm && hm->type == JSON_NUMBER && hm->u.num == 0 ? 0 : c->m);
    jw_key(w, "ef_construct");
    jw_int(w, c->ef_construct);
    static const Setting hnsw[] = {
        { "full_scan_threshold", 0, QDRANT_FULL_SCAN_THRESHOLD_KB },
        { "max_indexing_threads", 0, 0 },
        { "on_disk", 2, 0 },
    };
    for (size_t i = 0; i < sizeof hnsw / sizeof *hnsw; i++) {
        jw_key(w, hnsw[i].key);
        const JsonValue *v = h ? json_get(h, hnsw[i].key) : NULL;
        if (v && v->type != JSON_NULL) jw_value(w, v);
        else if (hnsw[i].kind == 2) jw_bool(w, 0);
        else jw_uint(w, (uint64_t)hnsw[i].dflt);
    }
    const JsonValue *pm = h ? json_get(h, "payload_m") : NULL;
    if (pm && pm->type != JSON_NULL) {
        jw_key(w, "payload_m");
        jw_value(w, pm);
    }
    jw_object_end(w);

    static const Setting optimizer[] = {
        { "deleted_threshold", 1, 0.2 },     { "vacuum_min_vector_number", 0, 1000 },
        { "default_segment_number", 0, 0 },  { "max_segment_size", 3, 0 },
        { "memmap_threshold", 3, 0 },        { "indexing_threshold", 0, 10000 },
        { "flush_interval_sec", 0, 5 },      { "max_optimization_threads", 3, 0 },
    };
    jw_key(w, "optimizer_config");
    write_settings(w, optimizer, sizeof optimizer / sizeof *optimizer,
                   opts ? json_get(opts, "optimizers_config") : NULL);
    static const Setting wal[] = {
        { "wal_capacity_mb", 0, QDRANT_WAL_CAPACITY_MB },
        { "wal_segments_ahead", 0, 0 },
        { "wal_retain_closed", 0, 1 },
    };
    jw_key(w, "wal_config");
    write_settings(w, wal, sizeof wal / sizeof *wal, opts ? json_get(opts, "wal_config") : NULL);
    jw_key(w, "quantization_config");
    const JsonValue *q = opts ? json_get(opts, "quantization_config") : NULL;
    if (q) jw_value(w, q);
    else jw_null(w);
    const JsonValue *sm = opts ? json_get(opts, "strict_mode_config") : NULL;
    if (sm) {
        jw_key(w, "strict_mode_config");
        jw_value(w, sm);
    }
    const JsonValue *md = opts ? json_get(opts, "metadata") : NULL;
    if (md) {
        jw_key(w, "metadata");
        jw_value(w, md);
    }
    jw_object_end(w);
}

/* write_payload_schema writes Qdrant's payload_schema object (PayloadIndexInfo
 * by field): params only when the index was created with a params object
 * (kept as the engine's opaque text). */
static void write_payload_schema(JsonWriter *w, const CollectionInfo *ci)
{
    jw_object_begin(w);
    for (size_t i = 0; i < ci->n_indexes; i++) {
        const CollectionIndexInfo *ii = &ci->indexes[i];
        jw_key(w, ii->field);
        jw_object_begin(w);
        jw_key(w, "data_type");
        jw_string(w, payload_index_type_name(ii->type));
        if (ii->params[0]) {
            jw_key(w, "params");
            jw_raw(w, ii->params, strlen(ii->params));
        }
        jw_key(w, "points");
        jw_uint(w, ii->points);
        jw_object_end(w);
    }
    jw_object_end(w);
}

void qdrant_segment_uuid(const char *name, uint32_t id, char out[QDRANT_UUID_LEN + 1])
{
    Sha256 h;
    uint8_t d[SHA256_DIGEST_LEN];
    char tag[32];
    snprintf(tag, sizeof tag, "vitrine segment %u ", id);
    sha256_init(&h);
    sha256_update(&h, tag, strlen(tag));
    sha256_update(&h, name, strlen(name));
    sha256_final(&h, d);
    d[6] = (uint8_t)((d[6] & 0x0f) | 0x80); /* version 8 (RFC 9562: custom) */
    d[8] = (uint8_t)((d[8] & 0x3f) | 0x80); /* the RFC's variant */
    snprintf(out, QDRANT_UUID_LEN + 1,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", d[0], d[1], d[2],
             d[3], d[4], d[5], d[6], d[7], d[8], d[9], d[10], d[11], d[12], d[13], d[14], d[15]);
}

/* vector_bytes estimates a collection's float32 vector bytes (Qdrant's
 * "ESTIMATION"): each dense vector's live count times its size. */
static uint64_t vector_bytes(const CollectionInfo *ci)
{
    uint64_t b = 0;
    for (int v = 0; v < ci->config.n_vectors; v++) b += ci->vector_counts[v] * ci->config.vectors[v].size * 4u;
    return b;
}

/* write_segment writes Qdrant's SegmentTelemetry of a collection's one
 * segment (telemetry details_level 4). */
static void write_segment(JsonWriter *w, const CollectionInfo *ci, const char *name)
{
    const CollectionConfig *c = &ci->config;
    char uuid[QDRANT_UUID_LEN + 1];
    qdrant_segment_uuid(name, ci->id, uuid);
    jw_object_begin(w);
    jw_key(w, "info");
    jw_object_begin(w);
    jw_key(w, "uuid");
    jw_string(w, uuid);
    jw_key(w, "segment_type");
    jw_string(w, "indexed");
    jw_key(w, "num_vectors");
    jw_uint(w, ci->vectors_count);
    jw_key(w, "num_points");
    jw_uint(w, ci->points_count);
    /* Points are indexed as they are written: none waits hidden. */
    jw_key(w, "num_deferred_points");
    jw_uint(w, 0);
    jw_key(w, "num_indexed_vectors");
    jw_uint(w, ci->vectors_count);
    jw_key(w, "num_deleted_vectors");
    jw_uint(w, 0);
    jw_key(w, "vectors_size_bytes");
    jw_uint(w, vector_bytes(ci));
    jw_key(w, "payloads_size_bytes");
    jw_uint(w, ci->payload_bytes);
    jw_key(w, "ram_usage_bytes");
    jw_uint(w, ci->memory_bytes);
    jw_key(w, "disk_usage_bytes");
    jw_uint(w, vector_bytes(ci));
    jw_key(w, "is_appendable");
    jw_bool(w, 1);
    jw_key(w, "index_schema");
    write_payload_schema(w, ci);
    jw_key(w, "vector_data");
    jw_object_begin(w);
    for (int v = 0; v < c->n_vectors; v++) {
        jw_key(w, c->vectors[v].name);
        jw_object_begin(w);
        jw_key(w, "num_vectors");
        jw_uint(w, ci->vector_counts[v]);
        jw_key(w, "num_indexed_vectors");
        jw_uint(w, ci->vector_counts[v]);
        jw_key(w, "num_deleted_vectors");
        jw_uint(w, 0);
        jw_object_end(w);
    }
    jw_object_end(w);
    jw_object_end(w);
    jw_key(w, "config");
    jw_object_begin(w);
    jw_key(w, "vector_data");
    jw_object_begin(w);
    for (int v = 0; v < c->n_vectors; v++) {
        jw_key(w, c->vectors[v].name);
        jw_object_begin(w);
        jw_key(w, "size");
        jw_uint(w, c->vectors[v].size);
        jw_key(w, "distance");
        jw_string(w, qdrant_distance_name(c->vectors[v].distance));
        jw_key(w, "storage_type");
        jw_string(w, "ChunkedMmap");
        jw_key(w, "index");
        jw_object_begin(w);
        jw_key(w, "type");
        jw_string(w, "hnsw");
        jw_key(w, "options");
        jw_object_begin(w);
        jw_key(w, "m");
        jw_int(w, c->m);
        jw_key(w, "ef_construct");
        jw_int(w, c->ef_construct);
        jw_key(w, "full_scan_threshold");
        jw_uint(w, QDRANT_FULL_SCAN_THRESHOLD_KB);
        jw_object_end(w);
        jw_object_end(w);
        jw_object_end(w);
    }
    jw_object_end(w);
    jw_key(w, "payload_storage_type");
    jw_object_begin(w);
    jw_key(w, "type");
    jw_string(w, "mmap");
    jw_object_end(w);
    jw_object_end(w);
    jw_key(w, "vector_index_searches");
    jw_array_begin(w);
    jw_array_end(w);
    jw_key(w, "payload_field_indices");
    jw_array_begin(w);
    for (size_t i = 0; i < ci->n_indexes; i++) {
        jw_object_begin(w);
        jw_key(w, "field_name");
        jw_string(w, ci->indexes[i].field);
        jw_key(w, "index_type");
        jw_string(w, payload_index_type_name(ci->indexes[i].type));
        jw_key(w, "points_values_count");
        jw_uint(w, ci->indexes[i].points);
        jw_key(w, "points_count");
        jw_uint(w, ci->indexes[i].points);
        jw_object_end(w);
    }
    jw_array_end(w);
    jw_object_end(w);
}

/* status_name: Qdrant's CollectionStatus of ci: yellow while graphs are
 * rebuilt in the background (its optimizer running), red when that
 * rebuild failed, green otherwise. */
static const char *status_name(const CollectionInfo *ci)
{
    return ci->optimizer_error[0] ? "red" : ci->optimizing ? "yellow" : "green";
}

/*
 * write_local_shard writes Qdrant's LocalShardTelemetry of a collection's
 * one shard (telemetry details_level 3 and more). A vitrine collection is
 * one segment, indexed as it is written: nothing is queued, optimized or
 * excluded from indexed-only searches (0 for each vector). Level 4 adds
 * the segment: its counts, config and payload indexes. Qdrant's per-index
 * search timings have no counterpart (an empty list). Payload bytes are
 * those of the payload JSON the points hold (strict mode's payload size).
 */
static void write_local_shard(JsonWriter *w, const CollectionInfo *ci, const char *name, int level)
{
    const CollectionConfig *c = &ci->config;
    jw_object_begin(w);
    jw_key(w, "variant_name");
    jw_string(w, "local");
    jw_key(w, "status");
    jw_string(w, status_name(ci));
    jw_key(w, "total_optimized_points");
    jw_uint(w, 0);
    jw_key(w, "vectors_size_bytes");
    jw_uint(w, vector_bytes(ci));
    jw_key(w, "payloads_size_bytes");
    jw_uint(w, ci->payload_bytes);
    jw_key(w, "num_points");
    jw_uint(w, ci->points_count);
    jw_key(w, "num_vectors");
    jw_uint(w, ci->vectors_count);
    jw_key(w, "num_vectors_by_name");
    jw_object_begin(w);
    for (int v = 0; v < c->n_vectors; v++) {
        jw_key(w, c->vectors[v].name);
        jw_uint(w, ci->vector_counts[v]);
    }
    jw_object_end(w);
    if (level >= 4) {
        jw_key(w, "segments");
        jw_array_begin(w);
        write_segment(w, ci, name);
        jw_array_end(w);
    }
    jw_key(w, "optimizations");
    jw_object_begin(w);
    jw_key(w, "status");
    jw_string(w, "ok");
    jw_key(w, "optimizations");
    jw_object_begin(w);
    jw_key(w, "count");
    jw_uint(w, 0);
    jw_object_end(w);
    if (level >= 4) {
        jw_key(w, "log");
        jw_array_begin(w);
        jw_array_end(w);
    }
    jw_object_end(w);
    jw_key(w, "async_scorer");
    jw_bool(w, 0);
    if (level >= 4) {
        jw_key(w, "indexed_only_excluded_vectors");
        jw_object_begin(w);
        for (int v = 0; v < c->n_vectors; v++) {
            jw_key(w, c->vectors[v].name);
            jw_uint(w, 0);
        }
        jw_object_end(w);
    }
    /* Qdrant's ShardUpdateQueueInfo: writes are applied as they commit
     * (nothing queues), and op_num is the last applied operation's number:
     * the collection's count of them. */
    jw_key(w, "update_queue");
    jw_object_begin(w);
    jw_key(w, "length");
    jw_uint(w, 0);
    jw_key(w, "op_num");
    jw_uint(w, ci->op_num);
    jw_object_end(w);
    jw_object_end(w);
}

/* write_warnings writes Qdrant's CollectionInfo.warnings (only when there
 * are some): the settings it ignores, which vitrine ignores too
 * (CollectionConfig::get_warnings; hnsw_config.inline_storage is a
 * storage layout of Qdrant's). */
static void write_warnings(JsonWriter *w, const CollectionConfig *c, const JsonValue *opts)
{
    const JsonValue *top_h = opts ? json_get(opts, "hnsw_config") : NULL;
    const JsonValue *top_q = opts ? json_get(opts, "quantization_config") : NULL;
    const JsonValue *vecs = opts ? json_get(opts, "vectors") : NULL;
    int n = 0;
    for (int v = 0; v < c->n_vectors; v++) {
        const char *name = c->vectors[v].name;
        const JsonValue *vp = vecs ? json_get(vecs, name) : NULL;
        const JsonValue *vh = vp ? json_get(vp, "hnsw_config") : NULL;
        const JsonValue *inl = vh ? json_get(vh, "inline_storage") : NULL;
        if (!inl || inl->type == JSON_NULL) inl = top_h ? json_get(top_h, "inline_storage") : NULL;
        if (!inl || inl->type != JSON_BOOL || !inl->u.boolean) continue;
        const JsonValue *vq = vp ? json_get(vp, "quantization_config") : NULL;
        int quantized = (vq && vq->type != JSON_NULL) || (top_q && top_q->type != JSON_NULL);
        int multi = c->vectors[v].multivector != COLLECTION_SINGLE;
        if (!multi && quantized) continue;
        if (n++ == 0) {
            jw_key(w, "warnings");
            jw_array_begin(w);
        }
        char msg[COLLECTION_MAX_VECTOR_NAME + 160];
        snprintf(msg, sizeof msg,
                 multi ? "The `hnsw_config.inline_storage` option for vector '%s' is not compatible "
                         "with multivectors. This option will be ignored."
                       : "The `hnsw_config.inline_storage` option for vector '%s' requires quantization "
                         "to be enabled. This option will be ignored.",
                 name);
        jw_object_begin(w);
        jw_key(w, "message");
        jw_string(w, msg);
        jw_object_end(w);
    }
    if (n) jw_array_end(w);
}

/*
 * indexed_vectors: Qdrant's indexed_vectors_count, the vectors of its
 * indexed segments. Qdrant indexes a segment once a vector's storage
 * passes optimizers_config.indexing_threshold (KB; 0 never); below it
 * the segment stays plain, and its searches exact, as vitrine's are below
 * COLLECTION_FULL_SCAN_BYTES. So: every vector once one dense vector's
 * bytes reach the threshold, none before or with indexing off. A
 * collection without dense vectors counts its vectors while indexing is
 * on (sparse indexes are built as points are written).
 */
static uint64_t indexed_vectors(const CollectionInfo *ci, int64_t threshold_kb)
{
    if (threshold_kb == 0) return 0;
    int dense = 0;
    for (int v = 0; v < ci->config.n_vectors; v++) {
        const CollectionVectorParams *p = &ci->config.vectors[v];
        uint64_t elem = p->datatype == COLLECTION_UINT8 ? 1 : p->datatype == COLLECTION_FLOAT16 ? 2 : 4;
        if (ci->vector_counts[v] * p->size * elem >= (uint64_t)threshold_kb * 1024)
            return ci->vectors_count;
        dense = 1;
    }
    return dense ? 0 : ci->vectors_count;
}

static void info(ApiJob *j)
{
    CollectionInfo ci;
    int rc = collection_info(j->api->db, j->collection, &ci);
    if (rc) return (void)api_fail_collection(j, rc, NULL);
    JsonWriter *w = api_result(j);
    jw_object_begin(w);
    jw_key(w, "status");
    jw_string(w, status_name(&ci));
    /* Qdrant's OptimizersStatus: "ok", or {"error": text}. */
    jw_key(w, "optimizer_status");
    if (ci.optimizer_error[0]) {
        jw_object_begin(w);
        jw_key(w, "error");
        jw_string(w, ci.optimizer_error);
        jw_object_end(w);
    } else {
        jw_string(w, "ok");
    }
    const JsonValue *opts = options_parse(j, ci.config.options);
    write_warnings(w, &ci.config, opts);
    jw_key(w, "indexed_vectors_count");
    jw_uint(w, indexed_vectors(&ci, indexing_threshold_kb(opts)));
    jw_key(w, "points_count");
    jw_uint(w, ci.points_count);
    jw_key(w, "segments_count");
    jw_uint(w, 1);
    jw_key(w, "config");
    write_config(w, &ci.config, opts);
    /* Qdrant's PayloadIndexInfo: params only when the index was created
     * with a params object (the API keeps it as the engine's opaque text). */
    jw_key(w, "payload_schema");
    write_payload_schema(w, &ci);
    /* Writes are applied as they are committed: nothing waits. */
    jw_key(w, "update_queue");
    jw_object_begin(w);
    jw_key(w, "length");
    jw_uint(w, 0);
    jw_object_end(w);
    jw_object_end(w);
}

/* ---- aliases ---- */

typedef struct {
    CollectionAliasAction *actions;
    size_t n;
} AliasActions;

/* POST /collections/aliases: {"actions": [{"create_alias": {...}} |
 * {"delete_alias": {...}} | {"rename_alias": {...}}]}, all or none. */
static void aliases_prepare(ApiJob *j)
{
    if (api_body_object(j, 0)) return;
    const JsonValue *actions;
    if (api_get_array(j, j->body, "actions", &actions)) return;
    if (!actions) return (void)api_fail(j, QERR_FORMAT, "missing field `actions`");
    AliasActions *st = arena_calloc(api_arena(j), sizeof *st);
    CollectionAliasAction *a = arena_calloc(api_arena(j), (actions->len + 1) * sizeof *a);
    for (uint32_t i = 0; i < actions->len; i++) {
        const JsonValue *x = api_item(j, actions, i);
        const JsonValue *v;
        if (x->type != JSON_OBJECT || x->len != 1)
            return (void)api_fail(j, QERR_FORMAT,
                                  "data did not match any variant of untagged enum AliasOperations at `actions[%u]`",
                                  i);
        const char *k = x->u.members[0].key;
        v = &x->u.members[0].value;
        if (v->type != JSON_OBJECT)
            return (void)api_fail(j, QERR_FORMAT, "invalid type, expected a map at `actions[%u].%s`", i, k);
        const char *fields[2] = { NULL, NULL };
        const char *need[2];
        if (!strcmp(k, "create_alias")) {
            a[i].kind = COLLECTION_ALIAS_CREATE;
            need[0] = "collection_name";
            need[1] = "alias_name";
        } else if (!strcmp(k, "delete_alias")) {
            a[i].kind = COLLECTION_ALIAS_DELETE;
            need[0] = "alias_name";
            need[1] = NULL;
        } else if (!strcmp(k, "rename_alias")) {
            a[i].kind = COLLECTION_ALIAS_RENAME;
            need[0] = "old_alias_name";
            need[1] = "new_alias_name";
        } else {
            return (void)api_fail(j, QERR_FORMAT,
                                  "unknown variant `%s`, expected one of `create_alias`, `delete_alias`, `rename_alias`",
                                  k);
        }
        for (int f = 0; f < 2 && need[f]; f++) {
            if (api_get_str(j, v, need[f], &fields[f])) return;
            if (!fields[f]) return (void)api_fail(j, QERR_FORMAT, "missing field `%s`", need[f]);
        }
        if (a[i].kind == COLLECTION_ALIAS_CREATE) {
            a[i].collection_name = fields[0];
            a[i].alias_name = fields[1];
        } else if (a[i].kind == COLLECTION_ALIAS_DELETE) {
            a[i].alias_name = fields[0];
        } else {
            a[i].old_alias_name = fields[0];
            a[i].new_alias_name = fields[1];
        }
    }
    st->actions = a;
    st->n = actions->len;
    j->state = st;
}

static void aliases_run(ApiJob *j)
{
    char err[256] = "";
    const AliasActions *st = j->state;
    int rc = collection_alias_apply(j->api->db, st->actions, st->n, err, sizeof err);
    if (rc) return (void)api_fail_engine(j, rc, err);
    api_result_true(j);
}

static void write_aliases(ApiJob *j, const char *collection)
{
    CollectionAlias *al;
    size_t n;
    int rc = collection_alias_list(j->api->db, collection, api_arena(j), &al, &n);
    if (rc) return (void)api_fail_engine(j, rc, NULL);
    JsonWriter *w = api_result(j);
    jw_object_begin(w);
    jw_key(w, "aliases");
    jw_array_begin(w);
    for (size_t i = 0; i < n; i++) {
        jw_object_begin(w);
        jw_key(w, "alias_name");
        jw_string(w, al[i].alias_name);
        jw_key(w, "collection_name");
        jw_string(w, al[i].collection_name);
        jw_object_end(w);
    }
    jw_array_end(w);
    jw_object_end(w);
}

static void list_aliases(ApiJob *j) { write_aliases(j, NULL); }
static void collection_aliases(ApiJob *j) { write_aliases(j, j->collection); }

void qdrant_write_collection_telemetry(ApiJob *j, JsonWriter *w, const char *name, int level)
{
    CollectionInfo ci;
    if (collection_info(j->api->db, name, &ci)) return;
    const JsonValue *opts = options_parse(j, ci.config.options);
    jw_object_begin(w);
    if (level <= 1) {
        /* CollectionsAggregatedTelemetry. */
        jw_key(w, "vectors");
        jw_uint(w, ci.vectors_count);
        jw_key(w, "optimizers_status");
        jw_string(w, "ok");
        jw_key(w, "params");
        write_params(w, &ci.config, opts);
    } else {
        jw_key(w, "id");
        jw_string(w, name);
        jw_key(w, "init_time_ms");
        jw_uint(w, 0);
        jw_key(w, "config");
        write_config(w, &ci.config, opts);
        if (level >= 3) {
            /* One shard, local and active, on peer 0 (GET /cluster). */
            jw_key(w, "shards");
            jw_array_begin(w);
            jw_object_begin(w);
            jw_key(w, "id");
            jw_uint(w, 0);
            jw_key(w, "key");
            jw_null(w);
            jw_key(w, "local");
            write_local_shard(w, &ci, name, level);
            jw_key(w, "remote");
            jw_array_begin(w);
            jw_array_end(w);
            jw_key(w, "replicate_states");
            jw_object_begin(w);
            jw_key(w, "0");
            jw_string(w, "Active");
            jw_object_end(w);
            jw_key(w, "partial_snapshot");
            jw_object_begin(w);
            jw_key(w, "ongoing_create_snapshot_requests");
            jw_uint(w, 0);
            jw_key(w, "is_recovering");
            jw_bool(w, 0);
            jw_key(w, "recovery_timestamp");
            jw_uint(w, 0);
            jw_object_end(w);
            jw_object_end(w);
            jw_array_end(w);
            jw_key(w, "transfers");
            jw_array_begin(w);
            jw_array_end(w);
            jw_key(w, "resharding");
            jw_array_begin(w);
            jw_array_end(w);
        }
    }
    jw_object_end(w);
}

const ApiRoute qdrant_collection_routes[] = {
    { "POST", "/collections/aliases", API_WRITE, aliases_prepare, aliases_run },
    { "GET", "/aliases", API_READ, NULL, list_aliases },
    { "GET", "/collections/{collection_name}/aliases", API_READ, NULL, collection_aliases },
    { "GET", "/collections", API_READ, NULL, list_collections },
    { "GET", "/collections/{collection_name}", API_READ, NULL, info },
    { "PUT", "/collections/{collection_name}", API_WRITE, create_prepare, create_run },
    { "PATCH", "/collections/{collection_name}", API_WRITE, update_prepare, update_run },
    { "DELETE", "/collections/{collection_name}", API_WRITE, NULL, delete_run },
    { "GET", "/collections/{collection_name}/exists", API_READ, NULL, exists },
    { NULL, NULL, 0, NULL, NULL },
};
