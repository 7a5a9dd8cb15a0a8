/*
 * v1_routes.h - what vitrine's own routes that run as jobs of the Qdrant
 * module (v1_items.c, v1_classify.c, qdrant_inference.c) share: failing a
 * job for an embedding error, reading an image given as JSON, and the
 * moderation rules that item ingest applies.
 *
 * Why these routes live on the Qdrant module's jobs rather than in the /v1
 * module (v1.c): they read and write collections, so they need the
 * module's database, its threadpool jobs and its writer thread, and their
 * answers use Qdrant's envelope ({"result", "status", "time"}) and error
 * shape, as the rest of the collection API does. The embedding service
 * itself still belongs to the /v1 module (v1_embedder()).
 */
#ifndef VITRINE_API_V1_ROUTES_H
#define VITRINE_API_V1_ROUTES_H

#include <stddef.h>

#include "api/embedder.h"
#include "api/qdrant_internal.h"
#include "api/v1_embed.h"

/* v1_job_embedder returns the running embedder with weights, or NULL after
 * api_fail: 503 saying how to install weights (or that the embedding
 * service is not running). */
Embedder *v1_job_embedder(ApiJob *j);

/* api_fail_embed fails j for an embedding error code with its message,
 * prefixed by what ("image", "items[2].text"): 503 for no weights, a full
 * queue or shutdown (ERR_UNSUPPORTED, ERR_FULL, ERR_BUSY), else 400. */
int api_fail_embed(ApiJob *j, int code, const char *what, const char *msg);

/* v1_image_bytes decodes an image string of a JSON body (base64 or a data:
 * URL; an http(s) URL is refused) into the request arena, or fails j with
 * a 400 naming what. */
int v1_image_bytes(ApiJob *j, Embedder *e, const JsonValue *v, const char *what,
                   const void **bytes, size_t *len);

/* ---- moderation (v1_classify.c) ---- */

/* The moderation rules' scores for one image. A rule's score is the
 * image's best cosine similarity to one of its prompts; it fires when the
 * score reaches its threshold. */
#define V1_MAX_RULES 64
#define V1_MAX_RULE_NAME 64
#define V1_MAX_RULE_PROMPTS 32

typedef struct {
    char name[V1_MAX_RULE_NAME + 1];
    int reject; /* the action: 1 reject, 0 flag */
    int fired;
    float score, threshold;
} V1RuleScore;

typedef struct {
    size_t n, n_fired;
    V1RuleScore rules[V1_MAX_RULES]; /* highest score first */
} V1Moderation;

/*
 * v1_moderate_vector evaluates the moderation rules of db against a unit
 * image embedding (threadpool thread: the rules' prompts are embedded
 * once, the first time). Returns 0 (out filled; no rules: nothing fires),
 * or an embedding error with msg.
 */
int v1_moderate_vector(Db *db, Embedder *e, const float *image, V1Moderation *out, char *msg,
                       size_t msglen);

#endif
