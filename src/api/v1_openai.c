/*
 * v1_openai.c - OpenAI's wire format over the embedding service:
 * POST /v1/embeddings (with Jina's multimodal input form) and
 * GET /v1/models, so OpenAI's SDKs work with baseURL set to the server's
 * /v1.
 *
 * Request: {"model": M, "input": "text" | ["t1", ...] | [{"text": "..."} |
 * {"image": "<base64 or data:image/...;base64,...>"}, ...],
 * "encoding_format": "float" | "base64", "dimensions": D, "user": U}.
 * Response: {"object": "list", "data": [{"object": "embedding", "index": i,
 * "embedding": [...] | "<base64 of little-endian float32>"}], "model": M,
 * "usage": {"prompt_tokens": n, "total_tokens": n}}. usage counts a
 * text's CLIP tokens (start and end included, at most 77) and, for an
 * image, the vision tower's tokens (patches + class token: 50 for
 * ViT-B/32), so it measures the work each input costs. Errors are
 * OpenAI's {"error": {"message", "type", "param", "code"}}; a bad input
 * is a 400 whose message begins "input[i]: ".
 *
 * A request moves (nothing blocks a thread while inference runs):
 *
 *   loop        route; without weights, 503 at once
 *   threadpool  parse and validate, base64-decode the images, reserve the
 *               queue, add the texts (cache, tokenizer) and the images
 *               (their headers checked; the embedder's decode threads
 *               decode them, each queued as soon as it is ready, so
 *               decoding overlaps inference)
 *   batcher     embeds them (embedder.c), then the loop is called back
 *   loop        a small answer is written here; a big one (many floats
 *               to print) on the threadpool
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/v1_internal.h"
#include "base/err.h"
#include "base/json.h"
#include "base/log.h"
#include "base/util.h"
#include "server/work.h"

/* Answers with up to this many floats are written on the loop (well under
 * a millisecond); bigger ones on the threadpool. */
#define V1_LOOP_FORMAT_FLOATS 8192
#define V1_MAX_ERROR 512

/* ---- OpenAI's errors ---- */

/* v1_respond_error sends {"error": {"message", "type", "param", "code"}};
 * param and code may be NULL (JSON null). */
static void v1_respond_error(HttpRequest *req, int status, const char *type, const char *param,
                             const char *code, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static void v1_respond_error(HttpRequest *req, int status, const char *type, const char *param,
                             const char *code, const char *fmt, ...)
{
    char msg[V1_MAX_ERROR];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    Buf b;
    buf_init(&b);
    JsonWriter w;
    jw_init(&w, &b);
    jw_object_begin(&w);
    jw_key(&w, "error");
    jw_object_begin(&w);
    jw_key(&w, "message");
    jw_string(&w, msg);
    jw_key(&w, "type");
    jw_string(&w, type);
    jw_key(&w, "param");
    if (param) jw_string(&w, param); else jw_null(&w);
    jw_key(&w, "code");
    if (code) jw_string(&w, code); else jw_null(&w);
    jw_object_end(&w);
    jw_object_end(&w);
    if (status == 503) http_set_header(req, "Retry-After", "1");
    http_respond_buf(req, status, "application/json", &b);
    buf_free(&b);
}

static void v1_respond_unavailable(HttpRequest *req, const Embedder *emb)
{
    Buf b;
    buf_init(&b);
    JsonWriter w;
    jw_init(&w, &b);
    jw_object_begin(&w);
    jw_key(&w, "error");
    jw_object_begin(&w);
    jw_key(&w, "message");
    jw_string(&w, embedder_unavailable(emb));
    jw_key(&w, "type");
    jw_string(&w, "server_error");
    jw_key(&w, "param");
    jw_null(&w);
    jw_key(&w, "code");
    jw_string(&w, "model_not_loaded");
    jw_object_end(&w);
    jw_object_end(&w);
    /* No Retry-After: retrying does not install weights. */
    http_respond_buf(req, 503, "application/json", &b);
    buf_free(&b);
}

/* ---- base64 of float32 ---- */

static const char b64_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* b64_floats appends the base64 of v[0..n) as little-endian float32 bytes
 * (what the OpenAI SDKs decode), whatever this machine's byte order. */
static void b64_floats(Buf *out, const float *v, size_t n)
{
    size_t bytes = n * 4;
    buf_reserve(out, (bytes + 2) / 3 * 4 + 1);
    uint8_t tri[3];
    int k = 0;
    char *o = out->data + out->len;
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &v[i], 4);
        for (int s = 0; s < 32; s += 8) {
            tri[k++] = (uint8_t)(u >> s);
            if (k == 3) {
                *o++ = b64_chars[tri[0] >> 2];
                *o++ = b64_chars[(tri[0] & 3) << 4 | tri[1] >> 4];
                *o++ = b64_chars[(tri[1] & 15) << 2 | tri[2] >> 6];
                *o++ = b64_chars[tri[2] & 63];
                k = 0;
            }
        }
    }
    if (k == 1) {
        *o++ = b64_chars[tri[0] >> 2];
        *o++ = b64_chars[(tri[0] & 3) << 4];
        *o++ = '=';
        *o++ = '=';
    } else if (k == 2) {
        *o++ = b64_chars[tri[0] >> 2];
        *o++ = b64_chars[(tri[0] & 3) << 4 | tri[1] >> 4];
        *o++ = b64_chars[(tri[1] & 15) << 2];
        *o++ = '=';
    }
    out->len = (size_t)(o - out->data);
    out->data[out->len] = '\0';
}

/* ---- POST /v1/embeddings ---- */

typedef struct EmbReq EmbReq;

struct EmbReq {
    HttpRequest *req;
    V1 *v1;
    Embedder *emb;
    const char *model;
    int base64;
    size_t n;
    EmbedInput *in;
    float *out;        /* (n, dim) */
    EmbedStatus *st;   /* (n) */
    EmbedCall *call;
    Buf body;          /* the answer, when written off the loop */
    /* The first error found, answered on the loop. */
    int status;
    const char *type, *param, *code;
    char msg[V1_MAX_ERROR];
};

static int req_fail(EmbReq *r, int status, const char *param, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int req_fail(EmbReq *r, int status, const char *param, const char *code, const char *fmt, ...)
{
    if (r->status) return -1;
    r->status = status;
    r->type = status >= 500 ? "server_error" : "invalid_request_error";
    r->param = param;
    r->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->msg, sizeof r->msg, fmt, ap);
    va_end(ap);
    return -1;
}

static void req_send_error(EmbReq *r)
{
    v1_respond_error(r->req, r->status, r->type, r->param, r->code, "%s", r->msg);
}

/* parse_input reads one element of "input" (index i, or the whole input
 * when it is a string). Images are base64-decoded into the arena. */
static int parse_input(EmbReq *r, const JsonValue *v, size_t i, EmbedInput *out)
{
    Arena *a = &r->req->arena;
    if (v->type == JSON_STRING) {
        *out = (EmbedInput){ EMBED_TEXT, v->u.str, v->len };
        return 0;
    }
    if (v->type == JSON_NUMBER || v->type == JSON_ARRAY)
        return req_fail(r, 400, "input", "invalid_input",
                        "input[%zu]: token ids are not accepted (CLIP has its own tokenizer): "
                        "send the text",
                        i);
    if (v->type != JSON_OBJECT)
        return req_fail(r, 400, "input", "invalid_input",
                        "input[%zu]: expected a string, {\"text\": \"...\"} or {\"image\": \"...\"}",
                        i);
    const JsonValue *text = json_get(v, "text"), *image = json_get(v, "image");
    if ((text != NULL) == (image != NULL) || v->len != 1)
        return req_fail(r, 400, "input", "invalid_input",
                        "input[%zu]: an object must hold exactly one of \"text\" or \"image\"", i);
    if (text) {
        if (text->type != JSON_STRING)
            return req_fail(r, 400, "input", "invalid_input", "input[%zu]: \"text\" must be a string",
                            i);
        *out = (EmbedInput){ EMBED_TEXT, text->u.str, text->len };
        return 0;
    }
    if (image->type != JSON_STRING)
        return req_fail(r, 400, "input", "invalid_image",
                        "input[%zu]: \"image\" must be a string (base64 or a data: URL)", i);
    const void *bytes;
    size_t len;
    char err[EMBED_MAX_MESSAGE];
    if (embedder_image_from_string(r->emb, a, image->u.str, image->len, &bytes, &len, err,
                                   sizeof err))
        return req_fail(r, 400, "input", "invalid_image", "input[%zu]: %s", i, err);
    *out = (EmbedInput){ EMBED_IMAGE, bytes, len };
    return 0;
}

/* parse_body reads and checks the request into r (threadpool). */
static int parse_body(EmbReq *r)
{
    HttpRequest *req = r->req;
    JsonValue *body;
    char err[256];
    if (req->body.len == 0)
        return req_fail(r, 400, NULL, "invalid_json",
                        "the request needs a JSON body: {\"model\": ..., \"input\": ...}");
    int rc = json_parse(&req->arena, req->body.data, req->body.len, &body, err, sizeof err);
    if (rc == ERR_FULL) /* the server's request memory budget ran out: retry later */
        return req_fail(r, 503, NULL, "server_busy", "%s", err);
    if (rc)
        return req_fail(r, 400, NULL, "invalid_json",
                        "We could not parse the JSON body of your request: %s", err);
    if (body->type != JSON_OBJECT)
        return req_fail(r, 400, NULL, "invalid_json", "the JSON body must be an object");
    const JsonValue *model = json_get(body, "model");
    if (!model)
        return req_fail(r, 400, "model", "missing_required_parameter",
                        "you must provide a model parameter");
    if (model->type != JSON_STRING)
        return req_fail(r, 400, "model", "invalid_type", "model must be a string");
    r->model = model->u.str;
    if (!embedder_model_known(r->emb, r->model))
        return req_fail(r, 404, "model", "model_not_found",
                        "The model `%s` does not exist (this server has `%s`; see GET /v1/models)",
                        r->model, embedder_model_name(r->emb, 0));
    const JsonValue *fmt = json_get(body, "encoding_format");
    if (fmt && fmt->type != JSON_NULL) {
        const char *f = json_as_str(fmt);
        if (f && !strcmp(f, "base64"))
            r->base64 = 1;
        else if (!f || strcmp(f, "float"))
            return req_fail(r, 400, "encoding_format", "invalid_value",
                            "encoding_format must be \"float\" or \"base64\"");
    }
    const JsonValue *dims = json_get(body, "dimensions");
    if (dims && dims->type != JSON_NULL) {
        int64_t d;
        if (json_as_int64(dims, &d) || d != embedder_dim(r->emb))
            return req_fail(r, 400, "dimensions", "invalid_value",
                            "this model's embeddings have exactly %d dimensions",
                            embedder_dim(r->emb));
    }
    const JsonValue *input = json_get(body, "input");
    if (!input)
        return req_fail(r, 400, "input", "missing_required_parameter",
                        "you must provide an input parameter");
    if (input->type == JSON_STRING) {
        r->n = 1;
    } else if (input->type == JSON_ARRAY) {
        r->n = input->len;
        if (r->n == 0) return req_fail(r, 400, "input", "invalid_input", "input must not be empty");
    } else {
        return req_fail(r, 400, "input", "invalid_input",
                        "input must be a string or an array of strings, {\"text\"} or "
                        "{\"image\"} objects");
    }
    Arena *a = &req->arena;
    r->in = arena_alloc(a, r->n * sizeof *r->in);
    size_t n_images = 0;
    for (size_t i = 0; i < r->n; i++) {
        const JsonValue *v = input->type == JSON_STRING ? input : &input->u.items[i];
        /* Count first, so a request with a million images is refused
         * before decoding one. */
        const JsonValue *img = v->type == JSON_OBJECT ? json_get(v, "image") : NULL;
        n_images += img != NULL;
    }
    if (embedder_check_counts(r->emb, r->n - n_images, n_images, err, sizeof err))
        return req_fail(r, 400, "input", "too_many_inputs", "%s", err);
    for (size_t i = 0; i < r->n; i++) {
        const JsonValue *v = input->type == JSON_STRING ? input : &input->u.items[i];
        if (parse_input(r, v, i, &r->in[i])) return -1;
    }
    return 0;
}

/* parse_run parses, reserves the queue and adds the inputs (threadpool). */
static void parse_run(void *arg)
{
    EmbReq *r = arg;
    if (parse_body(r)) return;
    Arena *a = &r->req->arena;
    size_t dim = (size_t)embedder_dim(r->emb);
    r->out = arena_alloc(a, r->n * dim * sizeof(float));
    r->st = arena_alloc(a, r->n * sizeof *r->st);
    int rc = embedder_call_new(r->emb, r->n, r->out, r->st, EMBED_FAIL_FAST, &r->call);
    if (rc) {
        if (rc == ERR_FULL || rc == ERR_BUSY)
            req_fail(r, 503, NULL, rc == ERR_FULL ? "overloaded" : "shutting_down", "%s",
                     r->st[0].message);
        else
            req_fail(r, 500, NULL, NULL, "%s", r->st[0].message);
        return;
    }
    for (size_t i = 0; i < r->n; i++) embedder_call_add(r->call, i, &r->in[i]);
}

static void embedded_cb(void *arg, int status);

static void parse_done(void *arg, int status)
{
    EmbReq *r = arg;
    if (status && !r->status && !r->call)
        req_fail(r, 503, NULL, "shutting_down", "the server is shutting down");
    if (r->status) {
        /* A call reserved before the failure cannot exist: parse_run
         * fails before embedder_call_new or not at all. */
        req_send_error(r);
        return;
    }
    embedder_call_finish(r->call, embedded_cb, r);
}

/* format writes the success answer into r->body. */
static void format(EmbReq *r)
{
    size_t dim = (size_t)embedder_dim(r->emb);
    long long tokens = 0;
    for (size_t i = 0; i < r->n; i++) tokens += r->st[i].tokens;
    Buf *b = &r->body, b64;
    buf_init(&b64);
    buf_reserve(b, r->n * (r->base64 ? dim * 4 / 3 + 64 : dim * 12 + 64) + 256);
    JsonWriter w;
    jw_init(&w, b);
    jw_object_begin(&w);
    jw_key(&w, "object");
    jw_string(&w, "list");
    jw_key(&w, "data");
    jw_array_begin(&w);
    for (size_t i = 0; i < r->n; i++) {
        jw_object_begin(&w);
        jw_key(&w, "object");
        jw_string(&w, "embedding");
        jw_key(&w, "index");
        jw_uint(&w, i);
        jw_key(&w, "embedding");
        if (r->base64) {
            b64.len = 0;
            b64_floats(&b64, r->out + i * dim, dim);
            jw_string_len(&w, b64.data, b64.len);
        } else {
            jw_floats(&w, r->out + i * dim, dim);
        }
        jw_object_end(&w);
    }
    jw_array_end(&w);
    jw_key(&w, "model");
    jw_string(&w, r->model);
    jw_key(&w, "usage");
    jw_object_begin(&w);
    jw_key(&w, "prompt_tokens");
    jw_int(&w, tokens);
    jw_key(&w, "total_tokens");
    jw_int(&w, tokens);
    jw_object_end(&w);
    jw_object_end(&w);
    buf_free(&b64);
}

static void format_run(void *arg) { format(arg); }

static void format_done(void *arg, int status)
{
    EmbReq *r = arg;
    if (status) format(r); /* cancelled before it ran */
    http_respond_buf(r->req, 200, "application/json", &r->body);
    buf_free(&r->body);
}

static void embedded_cb(void *arg, int status)
{
    EmbReq *r = arg;
    r->call = NULL; /* freed by the embedder */
    if (status) {
        size_t i = 0;
        while (i < r->n && r->st[i].code != status) i++;
        const EmbedStatus *st = &r->st[i < r->n ? i : 0];
        switch (status) {
        case ERR_FULL:
        case ERR_BUSY:
            req_fail(r, 503, NULL, status == ERR_FULL ? "overloaded" : "shutting_down", "%s",
                     st->message);
            break;
        case ERR_INVAL:
        case ERR_FORMAT:
        case ERR_TOOLARGE:
            req_fail(r, 400, "input",
                     r->in[i].kind == EMBED_IMAGE
                         ? (status == ERR_TOOLARGE ? "image_too_large" : "invalid_image")
                         : "invalid_text",
                     "input[%zu]: %s", i, st->message);
            break;
        default:
            req_fail(r, 500, NULL, NULL, "input[%zu]: %s", i, st->message);
            break;
        }
        req_send_error(r);
        return;
    }
    buf_init(&r->body);
    if (r->n * (size_t)embedder_dim(r->emb) <= V1_LOOP_FORMAT_FLOATS ||
        work_submit(server_loop(r->v1->srv), format_run, format_done, r)) {
        format(r);
        http_respond_buf(r->req, 200, "application/json", &r->body);
        buf_free(&r->body);
    }
}

static void handle_embeddings(HttpRequest *req, void *ctx)
{
    V1 *v = ctx;
    if (!embedder_ready(v->emb)) {
        v1_respond_unavailable(req, v->emb);
        return;
    }
    EmbReq *r = arena_calloc(&req->arena, sizeof *r);
    r->req = req;
    r->v1 = v;
    r->emb = v->emb;
    if (work_submit(server_loop(v->srv), parse_run, parse_done, r))
        v1_respond_error(req, 503, "server_error", NULL, "overloaded",
                         "too many requests in flight, retry later");
}

/* ---- GET /v1/models ---- */

static void write_model(JsonWriter *w, const Embedder *emb, const char *id)
{
    jw_object_begin(w);
    jw_key(w, "id");
    jw_string(w, id);
    jw_key(w, "object");
    jw_string(w, "model");
    jw_key(w, "created");
    jw_int(w, embedder_model_created(emb));
    jw_key(w, "owned_by");
    jw_string(w, "vitrine");
    jw_object_end(w);
}

static void handle_models(HttpRequest *req, void *ctx)
{
    V1 *v = ctx;
    if (!embedder_ready(v->emb)) {
        v1_respond_unavailable(req, v->emb);
        return;
    }
    Buf b;
    buf_init(&b);
    JsonWriter w;
    jw_init(&w, &b);
    jw_object_begin(&w);
    jw_key(&w, "object");
    jw_string(&w, "list");
    jw_key(&w, "data");
    jw_array_begin(&w);
    for (size_t i = 0; embedder_model_name(v->emb, i); i++)
        write_model(&w, v->emb, embedder_model_name(v->emb, i));
    jw_array_end(&w);
    jw_object_end(&w);
    http_respond_buf(req, 200, "application/json", &b);
    buf_free(&b);
}

/* GET /v1/models/{model}, and /v1/models/{owner}/{name} for the ids with
 * a slash ("openai/clip-vit-base-patch32"). */
static void handle_model(HttpRequest *req, void *ctx)
{
    V1 *v = ctx;
    if (!embedder_ready(v->emb)) {
        v1_respond_unavailable(req, v->emb);
        return;
    }
    const char *owner = http_param(req, "owner"), *name = http_param(req, "model");
    char id[512];
    if (owner)
        snprintf(id, sizeof id, "%s/%s", owner, name);
    else
        snprintf(id, sizeof id, "%s", name);
    if (!embedder_model_known(v->emb, id)) {
        v1_respond_error(req, 404, "invalid_request_error", "model", "model_not_found",
                         "The model `%s` does not exist", id);
        return;
    }
    Buf b;
    buf_init(&b);
    JsonWriter w;
    jw_init(&w, &b);
    write_model(&w, v->emb, id);
    http_respond_buf(req, 200, "application/json", &b);
    buf_free(&b);
}

const V1Route v1_openai_routes[] = {
    { "POST", "/v1/embeddings", handle_embeddings },
    { "GET", "/v1/models", handle_models },
    { "GET", "/v1/models/{model}", handle_model },
    { "GET", "/v1/models/{owner}/{model}", handle_model },
    { NULL, NULL, NULL },
};
