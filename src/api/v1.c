/*
 * v1.c - the /v1 module: its settings (--embed-* flags), start and stop
 * of the embedding service, and the registration of the routes of the
 * v1_*.c files. Design notes in v1.h.
 */
#include "api/v1.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/v1_internal.h"
#include "base/cli.h"
#include "base/err.h"
#include "base/log.h"
#include "base/util.h"

/* ---- settings ---- */

/* The settings v1_options_take read; the module starts with them. Written
 * once by serve before the server runs, read by the module's start. */
static EmbedderOptions v1_opts;
static int v1_opts_set;

typedef enum { OPT_SIZE, OPT_I64, OPT_INT, OPT_UINT } OptType;

typedef struct {
    const char *flag, *env, *help;
    OptType type;
    size_t offset;
    int64_t min, max, dflt;
} OptSpec;

#define OPT(flag, env, field, type, lo, hi, dflt, help) \
    { flag, env, help, type, offsetof(EmbedderOptions, field), (int64_t)(lo), (int64_t)(hi), (int64_t)(dflt) }

static const OptSpec opt_specs[] = {
    OPT("--embed-max-image-bytes", "VITRINE_EMBED_MAX_IMAGE_BYTES", max_image_bytes, OPT_SIZE,
        EMBED_MIN_IMAGE_BYTES, EMBED_MAX_IMAGE_BYTES, EMBED_DEFAULT_IMAGE_BYTES,
        "largest image, in bytes once base64-decoded"),
    OPT("--embed-max-pixels", "VITRINE_EMBED_MAX_PIXELS", max_pixels, OPT_I64, EMBED_MIN_PIXELS,
        EMBED_MAX_PIXELS, EMBED_DEFAULT_PIXELS, "largest image, in declared width x height"),
    OPT("--embed-max-texts", "VITRINE_EMBED_MAX_TEXTS", max_texts, OPT_SIZE, EMBED_MIN_TEXTS,
        EMBED_MAX_TEXTS, EMBED_DEFAULT_TEXTS, "texts in one request"),
    OPT("--embed-max-images", "VITRINE_EMBED_MAX_IMAGES", max_images, OPT_SIZE, EMBED_MIN_IMAGES,
        EMBED_MAX_IMAGES, EMBED_DEFAULT_IMAGES, "images in one request"),
    OPT("--embed-queue", "VITRINE_EMBED_QUEUE", queue, OPT_SIZE, EMBED_MIN_QUEUE, EMBED_MAX_QUEUE,
        EMBED_DEFAULT_QUEUE, "inputs waiting for inference; beyond, 503 + Retry-After"),
    OPT("--embed-batch", "VITRINE_EMBED_BATCH", batch, OPT_INT, EMBED_MIN_BATCH, EMBED_MAX_BATCH,
        EMBED_DEFAULT_BATCH, "inputs in one inference batch"),
    OPT("--embed-batch-ms", "VITRINE_EMBED_BATCH_MS", batch_ms, OPT_UINT, EMBED_MIN_BATCH_MS,
        EMBED_MAX_BATCH_MS, EMBED_DEFAULT_BATCH_MS,
        "cut a batch where its estimated time passes this (text latency)"),
    OPT("--embed-batch-wait-ms", "VITRINE_EMBED_BATCH_WAIT_MS", batch_wait_ms, OPT_UINT,
        EMBED_MIN_BATCH_WAIT_MS, EMBED_MAX_BATCH_WAIT_MS, EMBED_DEFAULT_BATCH_WAIT_MS,
        "extra wait of a partial image batch for more images"),
    OPT("--embed-text-cache", "VITRINE_EMBED_TEXT_CACHE", text_cache, OPT_SIZE,
        EMBED_MIN_TEXT_CACHE, EMBED_MAX_TEXT_CACHE, EMBED_DEFAULT_TEXT_CACHE,
        "text embeddings kept in memory (0: off)"),
};

static int opt_set(const OptSpec *s, const char *value, const char *source)
{
    long v;
    if (parse_int(value, (long)s->min, (long)s->max, &v)) {
        fprintf(stderr, "vitrine serve: %s must be an integer in %lld..%lld, not '%s'\n", source,
                (long long)s->min, (long long)s->max, value);
        return ERR_INVAL;
    }
    char *field = (char *)&v1_opts + s->offset;
    switch (s->type) {
    case OPT_SIZE: *(size_t *)field = (size_t)v; break;
    case OPT_I64: *(int64_t *)field = (int64_t)v; break;
    case OPT_INT: *(int *)field = (int)v; break;
    case OPT_UINT: *(unsigned *)field = (unsigned)v; break;
    }
    return 0;
}

int v1_options_precision(const char *flag_value)
{
    if (!v1_opts_set) {
        embedder_options_default(&v1_opts);
        v1_opts_set = 1;
    }
    const char *v = flag_value ? flag_value : getenv(NN_ENV_PRECISION);
    if (!v || !*v) return 0;
    if (nn_precision_parse(v, &v1_opts.precision) != 0) {
        fprintf(stderr, "vitrine: %s '%s' is not a precision (f32, bf16 or int8)\n",
                flag_value ? "--precision" : NN_ENV_PRECISION, v);
        return ERR_INVAL;
    }
    return 0;
}

int v1_options_take(int *argc, char **argv)
{
    embedder_options_default(&v1_opts);
    v1_opts_set = 1;
    for (size_t k = 0; k < ARRAY_LEN(opt_specs); k++) {
        const char *v = getenv(opt_specs[k].env);
        if (v && *v && opt_set(&opt_specs[k], v, opt_specs[k].env)) return ERR_INVAL;
    }
    if (v1_options_precision(NULL)) return ERR_INVAL;
    int out = 1;
    for (int i = 1; i < *argc; i++) {
        int taken = 0, start = i;
        const char *pv;
        int pr = cli_take_value(*argc, argv, &i, "--precision", &pv);
        if (pr < 0) return ERR_INVAL;
        if (pr == 1) {
            if (v1_options_precision(pv)) return ERR_INVAL;
            continue;
        }
        for (size_t k = 0; k < ARRAY_LEN(opt_specs) && !taken; k++) {
            const char *v;
            int r = cli_take_value(*argc, argv, &i, opt_specs[k].flag, &v);
            if (r < 0) return ERR_INVAL;
            if (r == 1) {
                if (opt_set(&opt_specs[k], v, opt_specs[k].flag)) return ERR_INVAL;
                taken = 1;
            }
        }
        if (!taken)
            argv[out++] = argv[start];
    }
    argv[out] = NULL;
    *argc = out;
    return 0;
}

void v1_options_usage(FILE *f)
{
    fprintf(f, "\nEmbedding service (/v1/embeddings, Qdrant's Document and Image objects):\n");
    for (size_t k = 0; k < ARRAY_LEN(opt_specs); k++) {
        char flag[64];
        snprintf(flag, sizeof flag, "%s N", opt_specs[k].flag);
        fprintf(f, "  %-27s %s\n  %-27s (%s, default %lld)\n", flag, opt_specs[k].help, "",
                opt_specs[k].env, (long long)opt_specs[k].dflt);
    }
    fprintf(f, "  %-27s %s\n  %-27s %s\n  %-27s (%s, default f32)\n", "--precision P",
            "the model's linear layers: f32 (the reference), bf16 or int8", "",
            "(faster and smaller; fidelity in docs/operations.md)", "", NN_ENV_PRECISION);
}

/* ---- the module ---- */

/* The running module's embedder, for the other API modules (v1.h). */
static Embedder *v1_current;

Embedder *v1_embedder(void) { return v1_current; }

static int module_start(Server *srv, Router *router, void **state)
{
    const ServerConfig *cfg = server_config(srv);
    if (!v1_opts_set) {
        embedder_options_default(&v1_opts);
        v1_opts_set = 1;
        /* A server started without v1_options_take (tests) still honours
         * VITRINE_PRECISION. */
        if (v1_options_precision(NULL)) return ERR_INVAL;
    }
    V1 *v = xcalloc(1, sizeof *v);
    v->srv = srv;
    char err[1024];
    int rc = embedder_start(server_loop(srv), cfg->weights_dir, cfg->have_weights, &v1_opts,
                            &v->emb, err, sizeof err);
    if (rc) {
        log_error("cannot start the embedding service: %s", err);
        free(v);
        return rc;
    }
    for (const V1Route *r = v1_openai_routes; r->method; r++) {
        rc = router_add(router, r->method, r->pattern, r->fn, v);
        if (rc) {
            log_error("cannot add route %s %s: %s", r->method, r->pattern, err_str(rc));
            /* The server does not start without this module, and a
             * module that failed to start is never stopped or destroyed:
             * nothing was dispatched, so everything goes now. */
            embedder_stop(v->emb);
            embedder_free(v->emb);
            free(v);
            return rc;
        }
    }
    v1_current = v->emb;
    *state = v;
    return 0;
}

static void module_stop(void *state)
{
    V1 *v = state;
    if (v) embedder_stop(v->emb);
}

static void module_destroy(void *state)
{
    V1 *v = state;
    if (!v) return;
    if (v1_current == v->emb) v1_current = NULL;
    embedder_free(v->emb);
    free(v);
}

const ServerModule api_v1_module = { "v1", module_start, module_stop, module_destroy };
