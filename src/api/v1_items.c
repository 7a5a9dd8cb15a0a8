/*
 * v1_items.c - search by photo and by words over collections, with the
 * embedding done here:
 *
 *   PUT  /v1/collections/{c}/items              add or replace items
 *   POST /v1/collections/{c}/search             text, image, item id, or a
 *                                               weighted mix of them
 *   GET  /v1/collections/{c}/items/{id}         payload and vector names
 *   GET  /v1/collections/{c}/items/{id}/thumbnail   the JPEG thumbnail
 *
 * An item is a point of a collection with the named vectors "image" and
 * "text" (the model's dimension, Cosine): the image embedding under
 * "image", the text embedding under "text", the payload, and a JPEG
 * thumbnail kept as the point's blob. A collection that does not exist is
 * created with those two vectors by the first PUT of items. The other
 * routes work on any collection whose vectors have the model's dimension.
 *
 * An ingest moves like a Qdrant write (qdrant_internal.h): on a threadpool
 * thread the body (JSON or multipart/form-data) is parsed, every image
 * and text embedded in one call of the embedding service (the image cache
 * first), the moderation rules applied and the thumbnails made; then the
 * writer thread creates the collection when it is missing and writes the
 * good items in one write, with the cache entries of the images that
 * needed inference. Items fail alone: a bad image, an empty text or a
 * rejecting moderation rule fails its item with a message, and the others
 * are stored. A request in which no item could be stored answers 400, with
 * the same per-item list.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/v1_routes.h"
#include "base/err.h"
#include "base/sha256.h"
#include "base/util.h"
#include "base/vec.h"
#include "model/image.h"
#include "server/multipart.h"

/* The vector names of an item collection. */
#define V1_VECTOR_IMAGE "image"
#define V1_VECTOR_TEXT "text"
/* The payload key moderation flags are stored under. */
#define V1_MODERATION_KEY "_moderation"
/* Entries of a weighted query. */
#define V1_MAX_QUERY_PARTS 64

/* ---- small helpers ---- */

/* msg_dup formats a message into the request arena. */
static char *msg_dup(ApiJob *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static char *msg_dup(ApiJob *j, const char *fmt, ...)
{
    char buf[QDRANT_MAX_ERROR];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return arena_strndup(api_arena(j), buf, strlen(buf));
}

/* is_json_type: a Content-Type of JSON (or none), as Qdrant's routes take. */
static int is_json_type(const char *ct)
{
    if (!ct) return 1;
    size_t n = strcspn(ct, ";");
    while (n && (ct[n - 1] == ' ' || ct[n - 1] == '\t')) n--;
    return (n >= 5 && (!strncasecmp(ct + n - 5, "/json", 5) || !strncasecmp(ct + n - 5, "+json", 5)));
}

/* path_id reads the {id} path parameter. */
static int path_id(ApiJob *j, PointId *id)
{
    const char *text = http_param(j->req, "id");
    if (!text || point_id_from_str(text, strlen(text), id))
        return api_fail(j, QERR_BAD_INPUT, "Can not recognize \"%s\" as point id", text ? text : "");
    return 0;
}

/* ---- PUT items ---- */

typedef struct {
    PointId id;
    const void *image; /* encoded bytes, or NULL */
    size_t image_len;
    const char *text; /* or NULL */
    size_t text_len;
    const JsonValue *payload;
    int img, txt; /* indexes into the embedding list, or -1 */
    const char *error; /* NULL: stored (or to be) */
    const void *thumb;
    size_t thumb_len;
} Item;

typedef struct {
    Item *items;
    size_t n, n_ok;
    int create; /* the collection is missing: create it on the writer */
    CollectionOp op;
    CollectionRecord *records;
    size_t n_records;
    int dim;
} ItemsJob;

/* item_error fails one item (the first reason wins). */
static void item_error(ApiJob *j, Item *it, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void item_error(ApiJob *j, Item *it, const char *fmt, ...)
{
    if (it->error) return;
    char buf[QDRANT_MAX_ERROR];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    it->error = arena_strndup(api_arena(j), buf, strlen(buf));
}

/*
 * items_body reads the request body: JSON, or multipart/form-data whose
 * "items" part is the JSON and whose other parts are files an item's
 * "image" names. Returns the items array, or NULL after api_fail.
 */
static const JsonValue *items_body(ApiJob *j, MultipartPart **parts, size_t *n_parts)
{
    HttpRequest *req = j->req;
    Arena *a = api_arena(j);
    const char *ct = http_header(req, "Content-Type");
    char boundary[MULTIPART_MAX_BOUNDARY + 1];
    char err[256];
    *parts = NULL;
    *n_parts = 0;
    int mp = ct && !strncasecmp(ct, "multipart/form-data", strlen("multipart/form-data"));
    if (mp && multipart_boundary(ct, boundary, sizeof boundary)) {
        api_fail(j, QERR_BAD_REQUEST,
                 "multipart/form-data needs a boundary parameter of 1 to %d characters",
                 MULTIPART_MAX_BOUNDARY);
        return NULL;
    }
    const char *text = req->body.data;
    size_t len = req->body.len;
    if (mp) {
        if (multipart_parse(a, req->body.data, req->body.len, boundary, parts, n_parts, err, sizeof err)) {
            api_fail(j, QERR_BAD_REQUEST, "malformed multipart body: %s", err);
            return NULL;
        }
        const MultipartPart *p = multipart_find(*parts, *n_parts, "items");
        if (!p) {
            api_fail(j, QERR_BAD_REQUEST,
                     "the multipart body has no part named \"items\" (the items as JSON)");
            return NULL;
        }
        text = (const char *)p->data;
        len = p->len;
    } else if (!is_json_type(ct)) {
        api_fail(j, QERR_PAYLOAD, "Content type error: send application/json or multipart/form-data");
        return NULL;
    }
    if (len == 0) {
        api_fail(j, QERR_FORMAT, "missing field `items`");
        return NULL;
    }
    JsonValue *v;
    if (json_parse(a, text, len, &v, err, sizeof err)) {
        api_fail(j, QERR_FORMAT, "%s", err);
        return NULL;
    }
    if (v->type != JSON_OBJECT) {
        api_fail(j, QERR_FORMAT, "invalid type, expected an object with `items`");
        return NULL;
    }
    const JsonValue *items = json_get(v, "items");
    if (!items) {
        api_fail(j, QERR_FORMAT, "missing field `items`");
        return NULL;
    }
    if (items->type != JSON_ARRAY) {
        api_fail(j, QERR_FORMAT, "invalid type, expected a sequence at `items`");
        return NULL;
    }
    if (items->len == 0) {
        api_fail(j, QERR_BAD_REQUEST, "no items given");
        return NULL;
    }
    return items;
}

/* item_image resolves an item's "image": the bytes of a file part named so
 * (by its field name or its filename), else a base64 string or data: URL.
 * A string that is neither fails the item, not the request. */
static void item_image(ApiJob *j, Embedder *e, Item *it, const JsonValue *v,
                       const MultipartPart *parts, size_t n_parts)
{
    for (size_t k = 0; k < n_parts; k++) {
        if (!strcmp(parts[k].name, "items")) continue;
        if (!strcmp(parts[k].name, v->u.str) ||
            (parts[k].filename && !strcmp(parts[k].filename, v->u.str))) {
            it->image = parts[k].data;
            it->image_len = parts[k].len;
            if (!it->image_len) item_error(j, it, "image: the part \"%s\" is empty", v->u.str);
            return;
        }
    }
    char err[EMBED_MAX_MESSAGE];
    const void *bytes;
    size_t n;
    if (embedder_image_from_string(e, api_arena(j), v->u.str, v->len, &bytes, &n, err, sizeof err)) {
        if (n_parts > 1)
            item_error(j, it, "image: no file part is named \"%.64s\", and as base64: %s", v->u.str, err);
        else
            item_error(j, it, "image: %s", err);
        return;
    }
    it->image = bytes;
    it->image_len = n;
}

/* items_parse reads each item; shape errors fail the request (naming the
 * item), bad data fails the item. */
static int items_parse(ApiJob *j, Embedder *e, ItemsJob *st, const JsonValue *arr,
                       const MultipartPart *parts, size_t n_parts)
{
    Arena *a = api_arena(j);
    st->n = arr->len;
    st->items = arena_calloc(a, st->n * sizeof *st->items);
    size_t n_images = 0, n_texts = 0;
    for (size_t i = 0; i < st->n; i++) {
        const JsonValue *o = api_item(j, arr, i);
        Item *it = &st->items[i];
        it->img = it->txt = -1;
        char what[48];
        snprintf(what, sizeof what, "items[%zu]", i);
        if (o->type != JSON_OBJECT)
            return api_fail(j, QERR_FORMAT, "invalid type, expected an item object at `%s`", what);
        const JsonValue *id = json_get(o, "id");
        if (!id) return api_fail(j, QERR_FORMAT, "missing field `id` at `%s`", what);
        if (api_point_id(j, id, what, &it->id)) return -1;
        const JsonValue *payload = json_get(o, "payload");
        if (payload && payload->type != JSON_NULL && payload->type != JSON_OBJECT)
            return api_fail(j, QERR_FORMAT, "invalid type, expected a map at `%s.payload`", what);
        it->payload = payload && payload->type == JSON_OBJECT ? payload : NULL;
        const JsonValue *image = json_get(o, "image"), *text = json_get(o, "text");
        if (image && image->type == JSON_NULL) image = NULL;
        if (text && text->type == JSON_NULL) text = NULL;
        if (image && image->type != JSON_STRING)
            return api_fail(j, QERR_FORMAT,
                            "invalid type at `%s.image`: an image is a base64 string, a data: URL "
                            "or the name of a file part",
                            what);
        if (text && text->type != JSON_STRING)
            return api_fail(j, QERR_FORMAT, "invalid type, expected a string at `%s.text`", what);
        if (!image && !text) {
            item_error(j, it, "an item needs an \"image\", a \"text\" or both");
            continue;
        }
        if (text) {
            it->text = text->u.str;
            it->text_len = text->len;
            n_texts++;
        }
        if (image) {
            item_image(j, e, it, image, parts, n_parts);
            n_images++;
        }
    }
    char msg[EMBED_MAX_MESSAGE];
    int rc = embedder_check_counts(e, n_texts, n_images, msg, sizeof msg);
    if (rc) return api_fail(j, QERR_BAD_REQUEST, "%s", msg);
    (void)a;
    return 0;
}

/* items_check_collection: a missing collection is created on the writer;
 * an existing one must have the vectors the items need, of the model's
 * dimension. */
static int items_check_collection(ApiJob *j, ItemsJob *st)
{
    CollectionInfo info;
    int rc = collection_info(j->api->db, j->collection, &info);
    if (rc == ERR_NOTFOUND) {
        st->create = 1;
        return 0;
    }
    if (rc) return api_fail_collection(j, rc, NULL);
    int need_image = 0, need_text = 0;
    for (size_t i = 0; i < st->n; i++) {
        need_image |= st->items[i].image != NULL;
        need_text |= st->items[i].text != NULL;
    }
    const char *names[2] = { V1_VECTOR_IMAGE, V1_VECTOR_TEXT };
    int need[2] = { need_image, need_text };
    for (int k = 0; k < 2; k++) {
        if (!need[k]) continue;
        int found = 0;
        for (int v = 0; v < info.config.n_vectors; v++)
            if (!strcmp(info.config.vectors[v].name, names[k]) &&
                info.config.vectors[v].size == (uint32_t)st->dim)
                found = 1;
        if (!found)
            return api_fail(j, QERR_BAD_INPUT,
                            "collection `%s` has no vector \"%s\" of size %d: items need the named "
                            "vectors \"image\" and \"text\" of the model's dimension (a missing "
                            "collection is created so)",
                            j->collection, names[k], st->dim);
    }
    return 0;
}

/* with_moderation returns payload with V1_MODERATION_KEY set to the flag
 * rules that fired (as JSON in the arena). */
static const JsonValue *with_moderation(ApiJob *j, const JsonValue *payload, const V1Moderation *m)
{
    Buf b;
    buf_init(&b);
    JsonWriter w;
    jw_init(&w, &b);
    jw_object_begin(&w);
    for (uint32_t k = 0; payload && k < payload->len; k++) {
        const JsonMember *mb = &payload->u.members[k];
        if (!strcmp(mb->key, V1_MODERATION_KEY)) continue;
        jw_key_len(&w, mb->key, mb->key_len);
        jw_value(&w, &mb->value);
    }
    jw_key(&w, V1_MODERATION_KEY);
    jw_array_begin(&w);
    for (size_t k = 0; k < m->n; k++) {
        if (!m->rules[k].fired || m->rules[k].reject) continue;
        jw_object_begin(&w);
        jw_key(&w, "rule");
        jw_string(&w, m->rules[k].name);
        jw_key(&w, "score");
        jw_float(&w, m->rules[k].score);
        jw_key(&w, "threshold");
        jw_float(&w, m->rules[k].threshold);
        jw_object_end(&w);
    }
    jw_array_end(&w);
    jw_object_end(&w);
    JsonValue *v = NULL;
    if (json_parse(api_arena(j), b.data, b.len, &v, NULL, 0)) v = NULL;
    buf_free(&b);
    return v;
}

/* item_thumbnail makes the item's JPEG thumbnail (off the loop: decoding
 * is the costly part). */
static void item_thumbnail(ApiJob *j, Item *it)
{
    Image img;
    char err[256];
    int rc = image_decode(it->image, it->image_len, &img, err, sizeof err);
    if (rc) {
        item_error(j, it, "image: %s", err);
        return;
    }
    Buf jpg;
    buf_init(&jpg);
    rc = image_thumbnail_jpeg(&img, IMAGE_THUMB_DEFAULT_SIDE, IMAGE_THUMB_DEFAULT_QUALITY, &jpg);
    image_free(&img);
    if (rc) {
        buf_free(&jpg);
        item_error(j, it, "image: no thumbnail could be made (%s)", err_str(rc));
        return;
    }
    char *copy = arena_alloc(api_arena(j), jpg.len);
    memcpy(copy, jpg.data, jpg.len);
    it->thumb = copy;
    it->thumb_len = jpg.len;
    buf_free(&jpg);
}

static void items_respond(ApiJob *j);

static void items_prepare(ApiJob *j)
{
    Embedder *e = v1_job_embedder(j);
    if (!e) return;
    Arena *a = api_arena(j);
    ItemsJob *st = arena_calloc(a, sizeof *st);
    j->state = st;
    st->dim = embedder_dim(e);
    MultipartPart *parts;
    size_t n_parts;
    const JsonValue *arr = items_body(j, &parts, &n_parts);
    if (!arr || items_parse(j, e, st, arr, parts, n_parts) || items_check_collection(j, st)) return;

    /* Embed every image and text at once. */
    V1EmbedItem *emb = arena_calloc(a, 2 * st->n * sizeof *emb);
    size_t m = 0;
    for (size_t i = 0; i < st->n; i++) {
        Item *it = &st->items[i];
        if (it->error) continue;
        if (it->image) {
            it->img = (int)m;
            emb[m].in = (EmbedInput){ EMBED_IMAGE, it->image, it->image_len };
            emb[m++].vec = arena_alloc(a, (size_t)st->dim * sizeof(float));
        }
        if (it->text) {
            it->txt = (int)m;
            emb[m].in = (EmbedInput){ EMBED_TEXT, it->text, it->text_len };
            emb[m++].vec = arena_alloc(a, (size_t)st->dim * sizeof(float));
        }
    }
    v1_embed(j->api->db, e, emb, m, 0);
    for (size_t k = 0; k < m; k++) {
        int code = emb[k].st.code;
        /* Refusals of the whole call (no weights, queue full, stopping)
         * fail the request: retrying it whole is the client's move. */
        if (code == ERR_UNSUPPORTED || code == ERR_FULL || code == ERR_BUSY)
            return (void)api_fail_embed(j, code, "items", emb[k].st.message);
    }
    for (size_t i = 0; i < st->n; i++) {
        Item *it = &st->items[i];
        if (it->img >= 0 && emb[it->img].st.code) item_error(j, it, "image: %s", emb[it->img].st.message);
        if (it->txt >= 0 && emb[it->txt].st.code) item_error(j, it, "text: %s", emb[it->txt].st.message);
    }

    /* Moderation, then thumbnails, of the items still good. */
    for (size_t i = 0; i < st->n; i++) {
        Item *it = &st->items[i];
        if (it->error || it->img < 0) continue;
        V1Moderation mod;
        char msg[256];
        int rc = v1_moderate_vector(j->api->db, e, emb[it->img].vec, &mod, msg, sizeof msg);
        if (rc) return (void)api_fail_embed(j, rc, "moderation rules", msg);
        int flags = 0;
        for (size_t k = 0; k < mod.n && !it->error; k++) {
            const V1RuleScore *r = &mod.rules[k];
            if (!r->fired) continue;
            if (r->reject)
                item_error(j, it, "rejected by the moderation rule \"%s\" (score %.4f >= threshold %.4f)",
                           r->name, r->score, r->threshold);
            else
                flags++;
        }
        if (!it->error && flags) it->payload = with_moderation(j, it->payload, &mod);
        if (!it->error) item_thumbnail(j, it);
    }

    /* The write: the good items, and the cache entries of their images. */
    CollectionPointIn *pts = arena_calloc(a, st->n * sizeof *pts);
    CollectionBlob *blobs = arena_calloc(a, st->n * sizeof *blobs);
    size_t np = 0;
    for (size_t i = 0; i < st->n; i++) {
        Item *it = &st->items[i];
        if (it->error) {
            if (it->img >= 0) emb[it->img].store = 0;
            continue;
        }
        CollectionVectorIn *vin = arena_calloc(a, 2 * sizeof *vin);
        size_t nv = 0;
        if (it->img >= 0)
            vin[nv++] = (CollectionVectorIn){ .name = V1_VECTOR_IMAGE, .data = emb[it->img].vec,
                                              .dim = (size_t)st->dim };
        if (it->txt >= 0)
            vin[nv++] = (CollectionVectorIn){ .name = V1_VECTOR_TEXT, .data = emb[it->txt].vec,
                                              .dim = (size_t)st->dim };
        blobs[np] = (CollectionBlob){ it->thumb, it->thumb_len };
        pts[np++] = (CollectionPointIn){ .id = it->id, .payload = it->payload, .vectors = vin,
                                         .n_vectors = nv };
    }
    st->n_ok = np;
    st->op = (CollectionOp){ .kind = COLLECTION_OP_UPSERT, .points = pts, .n_points = np, .blobs = blobs };
    st->n_records = v1_embed_records(e, emb, m, a, &st->records);
    j->respond = items_respond;
}

/* items_run (writer thread): create the collection when missing, then
 * write the good items. */
static void items_run(ApiJob *j)
{
    ItemsJob *st = j->state;
    if (!st->n_ok) return;
    char err[512] = "";
    if (st->create) {
        CollectionConfig cfg;
        memset(&cfg, 0, sizeof cfg);
        cfg.n_vectors = 2;
        snprintf(cfg.vectors[0].name, sizeof cfg.vectors[0].name, V1_VECTOR_IMAGE);
        snprintf(cfg.vectors[1].name, sizeof cfg.vectors[1].name, V1_VECTOR_TEXT);
        cfg.vectors[0].size = cfg.vectors[1].size = (uint32_t)st->dim;
        cfg.vectors[0].distance = cfg.vectors[1].distance = COLLECTION_COSINE;
        int rc = collection_create(j->api->db, j->collection, &cfg, err, sizeof err);
        /* Created meanwhile by another request: the write checks it. */
        if (rc && rc != ERR_EXISTS) return (void)api_fail_engine(j, rc, err);
    }
    CollectionWrite w = { .collection = j->collection, .ops = &st->op, .n_ops = 1,
                          .records = st->records, .n_records = st->n_records };
    CollectionWrite *wp = &w;
    int rc = collection_write_group(j->api->db, &wp, 1, NULL);
    if (w.status) return (void)api_fail_collection(j, w.status, w.err);
    if (rc) api_fail_engine(j, rc, NULL);
}

static void write_item_list(JsonWriter *w, const ItemsJob *st)
{
    jw_object_begin(w);
    jw_key(w, "items");
    jw_array_begin(w);
    for (size_t i = 0; i < st->n; i++) {
        const Item *it = &st->items[i];
        jw_object_begin(w);
        jw_key(w, "id");
        point_id_write(w, &it->id);
        jw_key(w, "status");
        jw_string(w, it->error ? "error" : "ok");
        if (it->error) {
            jw_key(w, "error");
            jw_string(w, it->error);
        }
        jw_object_end(w);
    }
    jw_array_end(w);
    jw_object_end(w);
}

/* items_respond (loop): the per-item list in Qdrant's envelope; when no
 * item was stored, a 400 whose status names the first item's error (what
 * a Qdrant client shows) and whose result still lists every item. */
static void items_respond(ApiJob *j)
{
    ItemsJob *st = j->state;
    if (st->n_ok) {
        write_item_list(http_result_begin(j->req), st);
        http_result_end(j->req, 200);
        return;
    }
    size_t first = 0;
    while (first + 1 < st->n && !st->items[first].error) first++;
    char idbuf[POINT_ID_TEXT_MAX];
    Buf b;
    buf_init(&b);
    JsonWriter w;
    jw_init(&w, &b);
    jw_object_begin(&w);
    jw_key(&w, "result");
    write_item_list(&w, st);
    jw_key(&w, "status");
    jw_object_begin(&w);
    jw_key(&w, "error");
    char *m = msg_dup(j, "Bad request: no item was stored: items[%zu] (id %s): %s", first,
                      point_id_format(&st->items[first].id, idbuf),
                      st->items[first].error ? st->items[first].error : "failed");
    jw_string(&w, m);
    jw_object_end(&w);
    jw_key(&w, "time");
    jw_double(&w, http_request_seconds(j->req));
    jw_object_end(&w);
    http_respond_buf(j->req, 400, "application/json", &b);
    buf_free(&b);
}

/* ---- GET item ---- */

static void get_item(ApiJob *j)
{
    PointId id;
    if (path_id(j, &id)) return;
    CollectionSelector all = { COLLECTION_SEL_ALL, NULL, 0 };
    CollectionResult r;
    int rc = collection_get(j->api->db, j->collection, &id, 1, &all, &all, api_arena(j), &r);
    if (rc) return (void)api_fail_collection(j, rc, NULL);
    char idbuf[POINT_ID_TEXT_MAX];
    if (r.n == 0)
        return (void)api_fail(j, QERR_NOT_FOUND, "Item %s does not exist in collection `%s`",
                              point_id_format(&id, idbuf), j->collection);
    const void *thumb;
    size_t thumb_len;
    int has_thumb = collection_blob_get(j->api->db, j->collection, &id, api_arena(j), &thumb,
                                        &thumb_len) == 0;
    const CollectionPoint *p = &r.points[0];
    JsonWriter *w = api_result(j);
    jw_object_begin(w);
    jw_key(w, "id");
    point_id_write(w, &p->id);
    jw_key(w, "payload");
    if (p->payload) jw_raw(w, p->payload, p->payload_len);
    else jw_raw(w, "{}", 2);
    jw_key(w, "vectors");
    jw_array_begin(w);
    for (int v = 0; v < r.config.n_vectors; v++)
        if (p->vectors && p->vectors[v]) jw_string(w, r.config.vectors[v].name);
    jw_array_end(w);
    jw_key(w, "thumbnail");
    jw_bool(w, has_thumb);
    jw_object_end(w);
}

/* ---- GET thumbnail ---- */

typedef struct {
    const void *data;
    size_t len;
    char etag[40];
    int not_modified;
} Thumb;

/* etag_matches: If-None-Match lists etag (weak comparison, RFC 9110
 * 13.1.2: W/ prefixes are ignored) or is "*". */
static int etag_matches(const char *header, const char *etag)
{
    if (!header) return 0;
    size_t elen = strlen(etag);
    const char *p = header;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',') p++;
        if (*p == '*') return 1;
        if (!strncmp(p, "W/", 2)) p += 2;
        const char *start = p;
        while (*p && *p != ',') p++;
        const char *end = p;
        while (end > start && (end[-1] == ' ' || end[-1] == '\t')) end--;
        if ((size_t)(end - start) == elen && !strncmp(start, etag, elen)) return 1;
    }
    return 0;
}

static void thumbnail_respond(ApiJob *j)
{
    Thumb *t = j->state;
    http_set_header(j->req, "ETag", t->etag);
    /* Revalidate every time: the item may be replaced, and a 304 costs a
     * few bytes. */
    http_set_header(j->req, "Cache-Control", "no-cache");
    if (t->not_modified) http_respond(j->req, 304, NULL, NULL, 0);
    else http_respond(j->req, 200, "image/jpeg", t->data, t->len);
}

static void get_thumbnail(ApiJob *j)
{
    PointId id;
    if (path_id(j, &id)) return;
    Thumb *t = arena_calloc(api_arena(j), sizeof *t);
    int rc = collection_blob_get(j->api->db, j->collection, &id, api_arena(j), &t->data, &t->len);
    if (rc == ERR_NOTFOUND) {
        CollectionInfo info;
        int e = collection_info(j->api->db, j->collection, &info);
        if (e) return (void)api_fail_collection(j, e, NULL);
        char idbuf[POINT_ID_TEXT_MAX];
        return (void)api_fail(j, QERR_NOT_FOUND, "Item %s of collection `%s` has no thumbnail",
                              point_id_format(&id, idbuf), j->collection);
    }
    if (rc) return (void)api_fail_collection(j, rc, NULL);
    /* A strong validator from the bytes themselves: the same thumbnail
     * always gets the same tag, a replaced one a new tag. */
    uint8_t d[SHA256_DIGEST_LEN];
    char hex[SHA256_HEX_LEN + 1];
    sha256(t->data, t->len, d);
    sha256_hex(d, hex);
    snprintf(t->etag, sizeof t->etag, "\"%.32s\"", hex);
    t->not_modified = etag_matches(http_header(j->req, "If-None-Match"), t->etag);
    j->state = t;
    j->respond = thumbnail_respond;
}

/* ---- POST search ---- */

/* One part of the query: a text, an image, or an item's stored vector. */
typedef struct {
    float weight;
    int kind; /* 0 text, 1 image, 2 id */
    const void *data;
    size_t len;
    PointId id;
    float *vec;
} QueryPart;

/* parse_part reads {"text" | "image" | "id": ..., "weight": w} (or the
 * request's own top-level field when top is set). */
static int parse_part(ApiJob *j, Embedder *e, const JsonValue *o, const char *what, int top,
                      QueryPart *p)
{
    const JsonValue *text = json_get(o, "text"), *image = json_get(o, "image"), *id = json_get(o, "id");
    int count = (text != NULL) + (image != NULL) + (id != NULL);
    if (count != 1)
        return api_fail(j, QERR_BAD_REQUEST, "%s: give exactly one of \"text\", \"image\" and \"id\"%s",
                        what, top ? ", or \"query\": [...]" : "");
    p->weight = 1.0f;
    if (!top) {
        const JsonValue *wv = json_get(o, "weight");
        if (wv && wv->type != JSON_NULL) {
            double d;
            if (json_as_double(wv, &d) || !isfinite(d))
                return api_fail(j, QERR_FORMAT, "invalid type, expected a number at `%s.weight`", what);
            p->weight = (float)d;
        }
    }
    if (text) {
        if (text->type != JSON_STRING)
            return api_fail(j, QERR_FORMAT, "invalid type, expected a string at `%s.text`", what);
        p->kind = 0;
        p->data = text->u.str;
        p->len = text->len;
        return 0;
    }
    if (image) {
        char w[64];
        snprintf(w, sizeof w, "%s%simage", what, top ? "" : ".");
        p->kind = 1;
        return v1_image_bytes(j, e, image, top ? "image" : w, &p->data, &p->len);
    }
    p->kind = 2;
    return api_point_id(j, id, what, &p->id);
}

/* item_vector reads the stored vector `using` of item id into p->vec. */
static int item_vector(ApiJob *j, const char *using, QueryPart *p, int dim)
{
    const char *names[1] = { using };
    CollectionSelector none = { COLLECTION_SEL_NONE, NULL, 0 };
    CollectionSelector vs = { COLLECTION_SEL_INCLUDE, names, 1 };
    CollectionResult r;
    int rc = collection_get(j->api->db, j->collection, &p->id, 1, &none, &vs, api_arena(j), &r);
    char idbuf[POINT_ID_TEXT_MAX];
    if (rc == ERR_NOTFOUND || rc == ERR_INVAL) {
        /* An unknown vector name is the request's fault; a missing
         * collection gets Qdrant's text. */
        CollectionInfo info;
        if (collection_info(j->api->db, j->collection, &info)) return api_fail_collection(j, rc, NULL);
        return api_fail(j, QERR_BAD_INPUT, "collection `%s` has no vector \"%s\"", j->collection, using);
    }
    if (rc) return api_fail_collection(j, rc, NULL);
    if (r.n == 0)
        return api_fail(j, QERR_NOT_FOUND, "Item %s does not exist in collection `%s`",
                        point_id_format(&p->id, idbuf), j->collection);
    int v = 0;
    while (v < r.config.n_vectors && strcmp(r.config.vectors[v].name, using)) v++;
    if (v == r.config.n_vectors || !r.points[0].vectors || !r.points[0].vectors[v])
        return api_fail(j, QERR_BAD_INPUT, "item %s has no \"%s\" vector", point_id_format(&p->id, idbuf),
                        using);
    if ((int)r.config.vectors[v].size != dim)
        return api_fail(j, QERR_BAD_INPUT, "vector \"%s\" of collection `%s` has size %u, not the model's %d",
                        using, j->collection, r.config.vectors[v].size, dim);
    p->vec = arena_alloc(api_arena(j), (size_t)dim * sizeof(float));
    memcpy(p->vec, r.points[0].vectors[v], (size_t)dim * sizeof(float));
    /* Stored Cosine vectors are unit already; another metric's are made
     * unit so that every part weighs as its weight says. */
    vec_normalize(p->vec, (size_t)dim);
    return 0;
}

/* exclude_filter is the request's filter with the query's items excluded:
 * {"must": [filter], "must_not": [{"has_id": [ids]}]}. */
static const JsonValue *exclude_filter(ApiJob *j, const JsonValue *filter, const QueryPart *parts,
                                       size_t n)
{
    size_t n_ids = 0;
    for (size_t i = 0; i < n; i++) n_ids += parts[i].kind == 2;
    if (!n_ids) return filter;
    Buf b;
    buf_init(&b);
    JsonWriter w;
    jw_init(&w, &b);
    jw_object_begin(&w);
    if (filter) {
        jw_key(&w, "must");
        jw_array_begin(&w);
        jw_value(&w, filter);
        jw_array_end(&w);
    }
    jw_key(&w, "must_not");
    jw_array_begin(&w);
    jw_object_begin(&w);
    jw_key(&w, "has_id");
    jw_array_begin(&w);
    for (size_t i = 0; i < n; i++)
        if (parts[i].kind == 2) point_id_write(&w, &parts[i].id);
    jw_array_end(&w);
    jw_object_end(&w);
    jw_array_end(&w);
    jw_object_end(&w);
    JsonValue *v = NULL;
    char err[256];
    if (json_parse(api_arena(j), b.data, b.len, &v, err, sizeof err)) {
        api_fail(j, QERR_SERVICE, "exclusion filter: %s", err);
        v = NULL;
    }
    buf_free(&b);
    return v;
}

static void search(ApiJob *j)
{
    if (api_body_object(j, 0)) return;
    Embedder *e = v1_job_embedder(j);
    if (!e) return;
    int dim = embedder_dim(e);
    ApiCommon c;
    if (api_parse_common(j, j->body, &c, 0, COLLECTION_SEL_ALL)) return;
    if (!c.using) c.using = V1_VECTOR_IMAGE;
    Arena *a = api_arena(j);
    /* The parts: one top-level field, or the weighted list. */
    const JsonValue *query = json_get(j->body, "query");
    QueryPart *parts;
    size_t n;
    if (query && query->type != JSON_NULL) {
        if (json_get(j->body, "text") || json_get(j->body, "image") || json_get(j->body, "id"))
            return (void)api_fail(j, QERR_BAD_REQUEST,
                                  "give \"query\" or one of \"text\", \"image\" and \"id\", not both");
        if (query->type != JSON_ARRAY)
            return (void)api_fail(j, QERR_FORMAT, "invalid type, expected a sequence at `query`");
        if (query->len == 0 || query->len > V1_MAX_QUERY_PARTS)
            return (void)api_fail(j, QERR_BAD_REQUEST, "query: 1 to %d parts", V1_MAX_QUERY_PARTS);
        n = query->len;
        parts = arena_calloc(a, n * sizeof *parts);
        for (size_t i = 0; i < n; i++) {
            char what[32];
            snprintf(what, sizeof what, "query[%zu]", i);
            const JsonValue *o = api_item(j, query, i);
            if (o->type != JSON_OBJECT)
                return (void)api_fail(j, QERR_FORMAT, "invalid type, expected an object at `%s`", what);
            if (parse_part(j, e, o, what, 0, &parts[i])) return;
        }
    } else {
        n = 1;
        parts = arena_calloc(a, sizeof *parts);
        if (parse_part(j, e, j->body, "the request", 1, &parts[0])) return;
    }
    /* Embed the texts and images together; read the items' vectors. */
    V1EmbedItem *emb = arena_calloc(a, n * sizeof *emb);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        QueryPart *p = &parts[i];
        if (p->kind == 2) {
            if (item_vector(j, c.using, p, dim)) return;
            continue;
        }
        p->vec = arena_alloc(a, (size_t)dim * sizeof(float));
        emb[m].in = (EmbedInput){ p->kind ? EMBED_IMAGE : EMBED_TEXT, p->data, p->len };
        emb[m++].vec = p->vec;
    }
    if (m && v1_embed(j->api->db, e, emb, m, EMBED_FAIL_FAST)) {
        size_t k = 0, idx = 0;
        while (k + 1 < m && (!emb[k].st.code || emb[k].st.code == ERR_BUSY)) k++;
        /* Name the part: the k-th embedded one. */
        for (size_t i = 0, seen = 0; i < n; i++)
            if (parts[i].kind != 2 && seen++ == k) idx = i;
        char what[64];
        if (query && query->type != JSON_NULL)
            snprintf(what, sizeof what, "query[%zu].%s", idx, parts[idx].kind ? "image" : "text");
        else
            snprintf(what, sizeof what, "%s", parts[idx].kind ? "image" : "text");
        return (void)api_fail_embed(j, emb[k].st.code, what, emb[k].st.message);
    }
    /* The query vector: the normalised weighted sum of unit vectors. */
    float *q = arena_calloc(a, (size_t)dim * sizeof *q);
    for (size_t i = 0; i < n; i++)
        for (int d = 0; d < dim; d++) q[d] += parts[i].weight * parts[i].vec[d];
    double norm = 0;
    for (int d = 0; d < dim; d++) norm += (double)q[d] * q[d];
    if (!(norm > 1e-12))
        return (void)api_fail(j, QERR_BAD_REQUEST, "the weighted query adds up to a zero vector");
    for (int d = 0; d < dim; d++) q[d] = (float)(q[d] / sqrt(norm));
    CollectionSearch s;
    api_common_to_search(&c, &s);
    s.vector = q;
    s.dim = (size_t)dim;
    s.filter = exclude_filter(j, c.filter, parts, n);
    if (api_failed(j)) return;
    CollectionResult r;
    char err[512] = "";
    int rc = collection_search(j->api->db, j->collection, &s, a, &r, err, sizeof err);
    if (rc) return (void)api_fail_collection(j, rc, err);
    JsonWriter *w = api_result(j);
    jw_array_begin(w);
    for (size_t i = 0; i < r.n; i++) {
        const CollectionPoint *p = &r.points[i];
        jw_object_begin(w);
        jw_key(w, "id");
        point_id_write(w, &p->id);
        jw_key(w, "score");
        jw_float(w, p->score);
        if (p->payload) {
            jw_key(w, "payload");
            jw_raw(w, p->payload, p->payload_len);
        }
        jw_object_end(w);
    }
    jw_array_end(w);
}

const ApiRoute v1_item_routes[] = {
    { "PUT", "/v1/collections/{collection_name}/items", API_WRITE | API_RAW_BODY, items_prepare,
      items_run },
    { "POST", "/v1/collections/{collection_name}/search", API_READ, NULL, search },
    { "GET", "/v1/collections/{collection_name}/items/{id}", API_READ, NULL, get_item },
    { "GET", "/v1/collections/{collection_name}/items/{id}/thumbnail", API_READ, NULL, get_thumbnail },
    { NULL, NULL, 0, NULL, NULL },
};
