/*
 * qdrant_inference.c - Qdrant's inference objects, served here: wherever
 * Qdrant's API takes a vector (upsert points and batch, update vectors,
 * search's vector, query and prefetch `query` / `nearest`, recommend
 * examples), a Document {"text": "...", "model": M} or an Image {"image":
 * "<base64>", "model": M} is embedded by this server's CLIP model.
 * Qdrant itself embeds these only in its paid cloud; self-hosted, it
 * refuses them (500 "InferenceService URL not configured"). M is any name
 * the model answers to (GET /v1/models). A Document of Qdrant's local
 * BM25 model ("qdrant/bm25"), which self-hosted Qdrant serves, becomes a
 * sparse vector (qdrant_bm25.c) without the CLIP model.
 *
 * Reads (search, query, recommend) embed on their threadpool thread as
 * they parse. Writes run their prepare on a threadpool thread too, but
 * only collect the objects there: every object of the request is embedded
 * in one call when prepare is done (api_inference_wait), so a 100-point
 * upsert of photos is batched by the embedder rather than run one photo
 * at a time, and the images stored get their entries in the image cache
 * committed with the write. Nothing here runs on the loop or on the
 * writer thread.
 */
#include <stdio.h>
#include <string.h>

#include "api/qdrant_bm25.h"
#include "api/v1.h"
#include "api/v1_routes.h"
#include "base/err.h"
#include "base/util.h"

/* Objects of a write waiting for api_inference_wait. */
typedef struct {
    V1EmbedItem *items;
    const char **what;
    size_t n, cap;
} Pending;

Embedder *v1_job_embedder(ApiJob *j)
{
    Embedder *e = v1_embedder();
    if (!e) {
        api_fail(j, QERR_UNAVAILABLE, "the embedding service is not running");
        return NULL;
    }
    if (!embedder_ready(e)) {
        api_fail(j, QERR_UNAVAILABLE, "%s", embedder_unavailable(e));
        return NULL;
    }
    return e;
}

int api_fail_embed(ApiJob *j, int code, const char *what, const char *msg)
{
    switch (code) {
    case ERR_UNSUPPORTED:
    case ERR_FULL:
    case ERR_BUSY: return api_fail(j, QERR_UNAVAILABLE, "%s", msg);
    default: return api_fail(j, QERR_BAD_REQUEST, "%s: %s", what, msg);
    }
}

int v1_image_bytes(ApiJob *j, Embedder *e, const JsonValue *v, const char *what,
                   const void **bytes, size_t *len)
{
    if (!v || v->type != JSON_STRING)
        return api_fail(j, QERR_BAD_REQUEST, "%s: an image is a base64 string or a data: URL", what);
    char err[EMBED_MAX_MESSAGE];
    int rc = embedder_image_from_string(e, api_arena(j), v->u.str, v->len, bytes, len, err,
                                        sizeof err);
    if (rc) return api_fail(j, QERR_BAD_REQUEST, "%s: %s", what, err);
    return 0;
}

int api_inference_object(const JsonValue *v)
{
    if (!v || v->type != JSON_OBJECT) return 0;
    const JsonValue *m = json_get(v, "model");
    if (!m || m->type != JSON_STRING) return 0;
    return json_get(v, "text") || json_get(v, "image") || json_get(v, "object");
}

/* model_list writes the names the model answers to, for a message. */
static void model_list(const Embedder *e, char *out, size_t len)
{
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; embedder_model_name(e, i) && o + 1 < len; i++) {
        int w = snprintf(out + o, len - o, "%s\"%s\"", i ? ", " : "", embedder_model_name(e, i));
        if (w < 0) break;
        o += (size_t)w;
    }
}

int api_inference(ApiJob *j, const JsonValue *v, const char *what, float **vec, size_t *dim,
                  const CollectionSparseVector **sparse)
{
    if (qdrant_bm25_model(v)) {
        /* Qdrant's local model: computed here, weights or not. */
        if (!sparse)
            return api_fail(j, QERR_BAD_REQUEST, "Sparse vector from document inference should be named");
        *vec = NULL;
        *dim = 0;
        return qdrant_bm25_embed(j, v, what, sparse);
    }
    Embedder *e = v1_job_embedder(j);
    if (!e) return -1;
    if (json_get(v, "object"))
        return api_fail(j, QERR_BAD_REQUEST,
                        "%s: InferenceObject ({\"object\": ...}) is not served: send a Document "
                        "{\"text\", \"model\"} or an Image {\"image\", \"model\"}",
                        what);
    const char *model = json_as_str(json_get(v, "model"));
    if (!embedder_model_known(e, model)) {
        char names[512];
        model_list(e, names, sizeof names);
        return api_fail(j, QERR_NOT_FOUND, "%s: model \"%s\" is not served here; the model is %s",
                        what, model, names);
    }
    const JsonValue *text = json_get(v, "text"), *image = json_get(v, "image");
    if (text && image)
        return api_fail(j, QERR_BAD_REQUEST, "%s: give \"text\" or \"image\", not both", what);
    V1EmbedItem it;
    memset(&it, 0, sizeof it);
    if (text) {
        if (text->type != JSON_STRING)
            return api_fail(j, QERR_BAD_REQUEST, "%s: \"text\" must be a string", what);
        it.in = (EmbedInput){ EMBED_TEXT, text->u.str, text->len };
    } else {
        const void *bytes;
        size_t n;
        if (v1_image_bytes(j, e, image, what, &bytes, &n)) return -1;
        it.in = (EmbedInput){ EMBED_IMAGE, bytes, n };
    }
    *dim = (size_t)embedder_dim(e);
    *vec = it.vec = arena_alloc(api_arena(j), *dim * sizeof(float));
    if (API_KIND(j->route->kind) == API_WRITE) {
        Pending *p = j->inference;
        if (!p) p = j->inference = arena_calloc(api_arena(j), sizeof *p);
        if (p->n == p->cap) {
            size_t cap = p->cap ? 2 * p->cap : 16;
            V1EmbedItem *items = arena_alloc(api_arena(j), cap * sizeof *items);
            const char **w = arena_alloc(api_arena(j), cap * sizeof *w);
            if (p->n) {
                memcpy(items, p->items, p->n * sizeof *items);
                memcpy(w, p->what, p->n * sizeof *w);
            }
            p->items = items;
            p->what = w;
            p->cap = cap;
        }
        p->items[p->n] = it;
        p->what[p->n++] = arena_strndup(api_arena(j), what, strlen(what));
        return 0;
    }
    if (v1_embed(j->api->db, e, &it, 1, 0)) return api_fail_embed(j, it.st.code, what, it.st.message);
    return 0;
}

void api_inference_wait(ApiJob *j)
{
    Pending *p = j->inference;
    if (!p) return;
    j->inference = NULL;
    /* A request that failed while parsing is answered with that error;
     * nothing was handed to the embedder yet. */
    if (api_failed(j) || !p->n) return;
    Embedder *e = v1_job_embedder(j);
    if (!e) return;
    if (v1_embed(j->api->db, e, p->items, p->n, EMBED_FAIL_FAST)) {
        for (size_t i = 0; i < p->n; i++)
            if (p->items[i].st.code && p->items[i].st.code != ERR_BUSY)
                return (void)api_fail_embed(j, p->items[i].st.code, p->what[i], p->items[i].st.message);
        api_fail_embed(j, p->items[0].st.code, p->what[0], p->items[0].st.message);
        return;
    }
    /* The images embedded for this write enter the cache with it. */
    if (j->grouped && !j->write.n_records) {
        CollectionRecord *r;
        size_t n = v1_embed_records(e, p->items, p->n, api_arena(j), &r);
        j->write.records = r;
        j->write.n_records = n;
    }
}
