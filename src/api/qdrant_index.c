/*
 * qdrant_index.c - Qdrant's payload index routes (PUT
 * /collections/{name}/index, DELETE /collections/{name}/index/{field}),
 * the params object Qdrant reports back in payload_schema, and the
 * order_by reader that scroll and query share.
 *
 * Qdrant's PayloadFieldSchema is a type name ("keyword") or a params
 * object ({"type": "integer", "range": true, ...}). vitrine acts on the
 * type and, for text, on the tokenizer (word, whitespace or prefix),
 * lowercase, the token length limits, ascii_folding, stopwords (a
 * language name or alias, or {"languages", "custom"}) and stemmer
 * ({"type": "snowball", "language"}), which become PayloadTextParams
 * (payload_index.c runs Qdrant's token pipeline with them); the other
 * params (on_disk, is_tenant, is_principal, lookup, range, enable_hnsw)
 * tune Qdrant's storage and are accepted and reported. The multilingual
 * tokenizer (charabia's dictionaries) answers 501 naming it rather than
 * indexing differently; phrase matching is served (see filter.c). The
 * params object is kept as Qdrant serializes it (its struct's field
 * order; lookup, range and is_principal written even when null, the rest
 * only when given; a stopwords or stemmer language alias as its name,
 * stopword languages and custom words as the sorted sets Qdrant keeps)
 * and stored by the engine as opaque text. Bad values answer 400 with
 * serde's message for the value ("unknown variant ..."), where Qdrant's
 * untagged PayloadFieldSchema would only say that nothing matched.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/qdrant_internal.h"
#include "base/err.h"
#include "base/util.h"
#include "index/filter.h"
#include "index/stem.h"
#include "index/textproc.h"

/* A params field: its name and how Qdrant serializes it. */
enum {
    PF_BOOL = 0,      /* Option<bool>, omitted when None */
    PF_BOOL_NULL = 1, /* Option<bool> written as null when None */
    PF_UINT = 2,      /* Option<usize>, omitted when None */
    PF_STOPWORDS = 3, /* text's Option<StopwordsInterface> */
    PF_STEMMER = 4,   /* text's Option<StemmingAlgorithm> */
};

typedef struct {
    const char *name;
    int kind;
} ParamField;

/* The fields of each type's params struct, in Qdrant's order
 * (lib/segment/src/data_types/index.rs). "tokenizer" of text is handled
 * apart; NULL ends a list. */
static const ParamField KEYWORD_FIELDS[] = { { "is_tenant", PF_BOOL }, { "on_disk", PF_BOOL },
                                             { "enable_hnsw", PF_BOOL }, { NULL, 0 } };
static const ParamField INTEGER_FIELDS[] = { { "lookup", PF_BOOL_NULL },      { "range", PF_BOOL_NULL },
                                             { "is_principal", PF_BOOL_NULL }, { "on_disk", PF_BOOL },
                                             { "enable_hnsw", PF_BOOL },       { NULL, 0 } };
static const ParamField FLOAT_FIELDS[] = { { "is_principal", PF_BOOL_NULL }, { "on_disk", PF_BOOL },
                                           { "enable_hnsw", PF_BOOL }, { NULL, 0 } };
static const ParamField GEO_FIELDS[] = { { "on_disk", PF_BOOL }, { "enable_hnsw", PF_BOOL }, { NULL, 0 } };
static const ParamField TEXT_FIELDS[] = { { "min_token_len", PF_UINT },  { "max_token_len", PF_UINT },
                                          { "lowercase", PF_BOOL },      { "ascii_folding", PF_BOOL },
                                          { "phrase_matching", PF_BOOL }, { "stopwords", PF_STOPWORDS },
                                          { "on_disk", PF_BOOL },        { "stemmer", PF_STEMMER },
                                          { "enable_hnsw", PF_BOOL },    { NULL, 0 } };

static const ParamField *fields_of(PayloadIndexType t)
{
    switch (t) {
    case PAYLOAD_INDEX_KEYWORD:
    case PAYLOAD_INDEX_UUID: return KEYWORD_FIELDS;
    case PAYLOAD_INDEX_INTEGER: return INTEGER_FIELDS;
    case PAYLOAD_INDEX_FLOAT:
    case PAYLOAD_INDEX_DATETIME: return FLOAT_FIELDS;
    case PAYLOAD_INDEX_TEXT: return TEXT_FIELDS;
    default: return GEO_FIELDS; /* geo, bool */
    }
}

typedef struct {
    const char *field;
    CollectionIndexParams p;
} IndexReq;

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* parse_stopwords reads Qdrant's StopwordsInterface x (a language name,
 * or {"languages": [...], "custom": [...]}) into r and writes it as Qdrant
 * serializes it: the language's own name for an alias, languages in
 * their enum order and custom words sorted bytewise (both BTreeSets,
 * repeats dropped), a member omitted when absent or null. */
static int parse_stopwords(ApiJob *j, const JsonValue *x, IndexReq *r, JsonWriter *w)
{
    if (x->type == JSON_STRING) {
        int l = text_language_parse(x->u.str);
        if (l < 0)
            return api_fail(j, QERR_FORMAT, "unknown variant `%.64s`, expected one of %s at `stopwords`",
                            x->u.str, text_language_list());
        r->p.text.stop_langs = 1ull << l;
        jw_string(w, text_language_name(l));
        return 0;
    }
    if (x->type != JSON_OBJECT)
        return api_fail(j, QERR_FORMAT, "data did not match any variant of untagged enum StopwordsInterface "
                                        "at `stopwords`: expected a language name or an object with "
                                        "languages and/or custom");
    const JsonValue *langs = NULL, *custom = NULL;
    if (api_get_array(j, x, "languages", &langs) || api_get_array(j, x, "custom", &custom)) return -1;
    jw_object_begin(w);
    if (langs) {
        for (uint32_t i = 0; i < langs->len; i++) {
            JsonValue v = json_item(langs, i);
            int l = v.type == JSON_STRING ? text_language_parse(v.u.str) : -1;
            if (l < 0)
                return api_fail(j, QERR_FORMAT, "unknown variant `%.64s`, expected one of %s at `stopwords.languages`",
                                v.type == JSON_STRING ? v.u.str : "(not a string)", text_language_list());
            r->p.text.stop_langs |= 1ull << l;
        }
        jw_key(w, "languages");
        jw_array_begin(w);
        for (int l = 0; l < TEXT_LANG_COUNT; l++)
            if (r->p.text.stop_langs >> l & 1) jw_string(w, text_language_name(l));
        jw_array_end(w);
    }
    if (custom) {
        if (custom->len > PAYLOAD_MAX_STOPWORDS)
            return api_fail(j, QERR_BAD_REQUEST, "stopwords.custom: more than %d words", PAYLOAD_MAX_STOPWORDS);
        const char **words = arena_alloc(api_arena(j), (custom->len + 1) * sizeof *words);
        for (uint32_t i = 0; i < custom->len; i++) {
            JsonValue v = json_item(custom, i);
            if (v.type != JSON_STRING)
                return api_fail(j, QERR_FORMAT, "invalid type, expected a string at `stopwords.custom[%u]`", i);
            if (v.len > PAYLOAD_MAX_STOPWORD_BYTES || strlen(v.u.str) != v.len)
                return api_fail(j, QERR_BAD_REQUEST,
                                "stopwords.custom[%u]: a stopword has at most %d bytes and no NUL", i,
                                PAYLOAD_MAX_STOPWORD_BYTES);
            words[i] = v.u.str;
        }
        qsort(words, custom->len, sizeof *words, cmp_str);
        uint32_t n = 0;
        for (uint32_t i = 0; i < custom->len; i++)
            if (!n || strcmp(words[n - 1], words[i])) words[n++] = words[i];
        r->p.text.stop_custom = words;
        r->p.text.n_stop_custom = n;
        jw_key(w, "custom");
        jw_array_begin(w);
        for (uint32_t i = 0; i < n; i++) jw_string(w, words[i]);
        jw_array_end(w);
    }
    jw_object_end(w);
    return 0;
}

/* parse_stemmer reads Qdrant's StemmingAlgorithm x ({"type": "snowball",
 * "language": ...}) into r and writes it with the language's own name. */
static int parse_stemmer(ApiJob *j, const JsonValue *x, IndexReq *r, JsonWriter *w)
{
    if (x->type != JSON_OBJECT)
        return api_fail(j, QERR_FORMAT, "data did not match any variant of untagged enum StemmingAlgorithm "
                                        "at `stemmer`: expected {\"type\": \"snowball\", \"language\": ...}");
    const char *type = NULL, *lang = NULL;
    if (api_get_str(j, x, "type", &type) || api_get_str(j, x, "language", &lang)) return -1;
    if (!type) return api_fail(j, QERR_FORMAT, "missing field `type` at `stemmer`");
    if (strcmp(type, "snowball"))
        return api_fail(j, QERR_FORMAT, "unknown variant `%.64s`, expected `snowball` at `stemmer.type`", type);
    if (!lang) return api_fail(j, QERR_FORMAT, "missing field `language` at `stemmer`");
    int l = stem_language_parse(lang);
    if (l < 0)
        return api_fail(j, QERR_FORMAT, "unknown variant `%.64s`, expected one of %s at `stemmer.language`", lang,
                        stem_language_list());
    r->p.text.stem_lang = l + 1;
    jw_object_begin(w);
    jw_key(w, "type");
    jw_string(w, "snowball");
    jw_key(w, "language");
    jw_string(w, stem_language_name(l));
    jw_object_end(w);
    return 0;
}

static int bad_schema(ApiJob *j)
{
    return api_fail(j, QERR_FORMAT, "data did not match any variant of untagged enum PayloadFieldSchema");
}

/* parse_params reads a params object into r and writes its canonical
 * form into out. */
static int parse_params(ApiJob *j, const JsonValue *o, IndexReq *r, Buf *out)
{
    int t = payload_index_type_parse(json_as_str(json_get(o, "type")));
    if (t < 0) return bad_schema(j);
    r->p.type = (PayloadIndexType)t;
    JsonWriter w;
    jw_init(&w, out);
    jw_object_begin(&w);
    jw_key(&w, "type");
    jw_string(&w, payload_index_type_name(r->p.type));
    if (t == PAYLOAD_INDEX_TEXT) {
        const char *tok = NULL;
        if (api_get_str(j, o, "tokenizer", &tok)) return -1;
        if (!tok || !strcmp(tok, "word")) r->p.text.tokenizer = PAYLOAD_TOKENIZER_WORD;
        else if (!strcmp(tok, "whitespace")) r->p.text.tokenizer = PAYLOAD_TOKENIZER_WHITESPACE;
        else if (!strcmp(tok, "prefix")) r->p.text.tokenizer = PAYLOAD_TOKENIZER_PREFIX;
        else if (!strcmp(tok, "multilingual"))
            return api_fail(j, QERR_UNSUPPORTED,
                            "the multilingual tokenizer of text indexes (word, whitespace and prefix are served)");
        else
            return api_fail(j, QERR_FORMAT,
                            "unknown variant `%s`, expected one of `prefix`, `whitespace`, `word`, `multilingual`", tok);
        jw_key(&w, "tokenizer");
        jw_string(&w, tok ? tok : "word");
    }
    for (const ParamField *f = fields_of(r->p.type); f->name; f++) {
        const JsonValue *x = json_get(o, f->name);
        int present = x && x->type != JSON_NULL;
        if (f->kind == PF_STOPWORDS || f->kind == PF_STEMMER) {
            if (!present) continue;
            jw_key(&w, f->name);
            if ((f->kind == PF_STOPWORDS ? parse_stopwords : parse_stemmer)(j, x, r, &w)) return -1;
            continue;
        }
        if (f->kind == PF_UINT) {
            uint64_t n = 0;
            if (api_get_u64(j, o, f->name, 0, UINT32_MAX, &n)) return -1;
            if (!present) continue;
            if (!strcmp(f->name, "min_token_len")) r->p.text.min_token_len = (uint32_t)n;
            else r->p.text.max_token_len = (uint32_t)n;
            jw_key(&w, f->name);
            jw_uint(&w, n);
            continue;
        }
        int b = 0;
        if (api_get_bool(j, o, f->name, &b)) return -1;
        if (!strcmp(f->name, "lowercase") && present) r->p.text.lowercase = b;
        if (!strcmp(f->name, "ascii_folding")) r->p.text.ascii_folding = b;
        /* phrase_matching needs nothing of the index: a phrase is
         * checked on the re-tokenized payload of the points having its
         * tokens (filter.c), with or without it. */
        if (!present && f->kind == PF_BOOL) continue;
        jw_key(&w, f->name);
        if (present) jw_bool(&w, b);
        else jw_null(&w);
    }
    jw_object_end(&w);
    if (t == PAYLOAD_INDEX_INTEGER) {
        int lookup = 1, range = 1;
        const JsonValue *l = json_get(o, "lookup"), *rg = json_get(o, "range");
        if (l && l->type == JSON_BOOL) lookup = l->u.boolean;
        if (rg && rg->type == JSON_BOOL) range = rg->u.boolean;
        if (!lookup && !range)
            return api_fail(j, QERR_VALIDATION,
                            "field_schema.lookup: Validation error: the 'lookup' and 'range' capabilities "
                            "can't be both disabled [{}]");
    }
    return 0;
}

static void create_prepare(ApiJob *j)
{
    if (api_body_object(j, 0)) return;
    IndexReq *r = arena_calloc(api_arena(j), sizeof *r);
    r->p.text = payload_text_params_default();
    r->p.params = "";
    const JsonValue *name = json_get(j->body, "field_name");
    if (!name || name->type == JSON_NULL) return (void)api_fail(j, QERR_FORMAT, "missing field `field_name`");
    if (api_get_str(j, j->body, "field_name", &r->field)) return;
    /* The field is a JsonPath (Qdrant parses it when deserializing). */
    Arena tmp;
    arena_init(&tmp, 1024);
    FilterPath path;
    int bad = filter_path_parse(&tmp, r->field, strlen(r->field), &path) != 0;
    arena_free(&tmp);
    if (bad) return (void)api_fail(j, QERR_FORMAT, "Invalid json path `%.256s` at `field_name`", r->field);
    const JsonValue *s = json_get(j->body, "field_schema");
    if (!s || s->type == JSON_NULL) s = json_get(j->body, "field_type");
    if (!s || s->type == JSON_NULL)
        return (void)api_fail(j, QERR_BAD_REQUEST,
                              "Can't auto-detect field type, please specify `field_schema` in the request");
    if (s->type == JSON_STRING) {
        int t = payload_index_type_parse(s->u.str);
        if (t < 0) return (void)bad_schema(j);
        r->p.type = (PayloadIndexType)t;
    } else if (s->type == JSON_OBJECT) {
        Buf b;
        buf_init(&b);
        int rc = parse_params(j, s, r, &b);
        if (!rc) r->p.params = arena_strndup(api_arena(j), b.data, b.len);
        buf_free(&b);
        if (rc) return;
    } else {
        return (void)bad_schema(j);
    }
    j->state = r;
}

static void create_run(ApiJob *j)
{
    IndexReq *r = j->state;
    char err[512] = "";
    uint64_t op = 0;
    int rc = collection_index_create(j->api->db, j->collection, r->field, &r->p, &op, err, sizeof err);
    if (rc) return (void)api_fail_collection(j, rc, err);
    api_result_update(j, op);
}

static void delete_run(ApiJob *j)
{
    const char *field = http_param(j->req, "field_name");
    uint64_t op = 0;
    int rc = collection_index_delete(j->api->db, j->collection, field ? field : "", &op);
    if (rc) return (void)api_fail_collection(j, rc, NULL);
    api_result_update(j, op);
}

/* ---- order_by ---- */

int qdrant_parse_order_by(ApiJob *j, const JsonValue *v, CollectionOrderBy *out)
{
    memset(out, 0, sizeof *out);
    if (v->type == JSON_STRING) {
        out->key = v->u.str;
        return 0;
    }
    if (v->type != JSON_OBJECT)
        return api_fail(j, QERR_FORMAT, "Expected a string, or an object with a key, direction and/or start_from");
    if (api_get_str(j, v, "key", &out->key)) return -1;
    if (!out->key) return api_fail(j, QERR_FORMAT, "missing field `key` at `order_by`");
    const char *dir = NULL;
    if (api_get_str(j, v, "direction", &dir)) return -1;
    if (dir && strcmp(dir, "asc") && strcmp(dir, "desc"))
        return api_fail(j, QERR_FORMAT, "unknown variant `%s`, expected `asc` or `desc`", dir);
    out->desc = dir && !strcmp(dir, "desc");
    const JsonValue *sf = json_get(v, "start_from");
    if (sf && sf->type != JSON_NULL) {
        int64_t us;
        if (sf->type == JSON_NUMBER) {
            out->start = sf->u.num;
        } else if (sf->type == JSON_STRING && filter_datetime_parse(sf->u.str, sf->len, &us) == 0) {
            /* A datetime: the unit of datetime indexes (microseconds). */
            out->start = (double)us;
        } else {
            return api_fail(j, QERR_FORMAT, "data did not match any variant of untagged enum StartFrom");
        }
        out->has_start = 1;
    }
    return 0;
}

const ApiRoute qdrant_index_routes[] = {
    { "PUT", "/collections/{collection_name}/index", API_WRITE, create_prepare, create_run },
    { "DELETE", "/collections/{collection_name}/index/{field_name}", API_WRITE, NULL, delete_run },
    { NULL, NULL, 0, NULL, NULL },
};
