/*
 * test_embedder.c - the embedding service (src/api/embedder.h) without
 * HTTP: embeddings against the fixture's expected outputs (transformers'
 * numbers) from several threads at once, per-input failures and the
 * fail-fast skip, the queue bound, the text cache's hits and LRU eviction,
 * the asynchronous form delivered on a loop, and images as JSON carries
 * them (base64 against RFC 4648's test vectors, data: URLs, refused URLs).
 */
#include "api/embedder.h"

#include <pthread.h>
#include <string.h>

#include "base/err.h"
#include "base/json.h"
#include "base/util.h"
#include "harness.h"
#include "server/metrics.h"

/* After util.h: uv.h pulls in sys/param.h, whose MIN/MAX would clash. */
#include <uv.h>

#define MODEL "tiny-p32"

/* The fixture's expected outputs. */
static Arena fx_arena;
static JsonValue *fx_root;

static int fixture_load(void)
{
    if (fx_root) return 0;
    char *text = NULL;
    size_t len = 0;
    if (file_read_all(fixture_path("expected/" MODEL "/outputs.json"), (size_t)1 << 26, &text, &len))
        return -1;
    arena_init(&fx_arena, ARENA_DEFAULT_CHUNK);
    char err[256];
    int rc = json_parse(&fx_arena, text, len, &fx_root, err, sizeof err);
    free(text);
    return rc;
}

/* expected_text / expected_image copy the fixture's (unnormalised)
 * embedding into out; 0 when found. */
static int expected_text(const char *text, float *out, int dim)
{
    const JsonValue *texts = json_get(fx_root, "texts");
    for (uint32_t i = 0; i < texts->len; i++) {
        const JsonValue *t = &texts->u.items[i];
        if (!strcmp(json_as_str(json_get(t, "text")), text))
            return json_get_floats(json_get(t, "text_embeds"), out, (size_t)dim);
    }
    return -1;
}

static int expected_image(const char *name, float *out, int dim)
{
    const JsonValue *img = json_get(json_get(fx_root, "images"), name);
    return img ? json_get_floats(json_get(img, "image_embeds"), out, (size_t)dim) : -1;
}

static double cosine(const float *a, const float *b, int n)
{
    double ab = 0, aa = 0, bb = 0;
    for (int i = 0; i < n; i++) {
        ab += (double)a[i] * b[i];
        aa += (double)a[i] * a[i];
        bb += (double)b[i] * b[i];
    }
    return ab / sqrt(aa * bb);
}

static char *read_image(const char *name, size_t *len)
{
    char rel[256];
    snprintf(rel, sizeof rel, "images/%s", name);
    char *data = NULL;
    if (file_read_all(fixture_path(rel), (size_t)1 << 26, &data, len)) return NULL;
    return data;
}

/* A running embedder on a loop that nobody runs until the end: synchronous
 * callers are woken by the batcher itself, without the loop. */
typedef struct {
    uv_loop_t loop;
    Embedder *e;
} Env;

static int env_open(Env *env, const EmbedderOptions *opt, int weights)
{
    uv_loop_init(&env->loop);
    char err[512];
    int rc = embedder_start(&env->loop, fixture_path("models/" MODEL), weights, opt, &env->e, err,
                            sizeof err);
    if (rc) printf("  embedder_start: %s\n", err);
    return rc;
}

/* env_close stops the embedder, lets the loop close its handle, frees it;
 * returns uv_loop_close's result (0 when nothing was left open). */
static int env_close(Env *env)
{
    embedder_stop(env->e);
    uv_run(&env->loop, UV_RUN_DEFAULT);
    embedder_free(env->e);
    return uv_loop_close(&env->loop);
}

/* ---- embeddings from many threads ---- */

static const char *const T_TEXTS[] = { "a photo of a cat", "a red summer dress", "naïve café crème brûlée",
                                       "size 42 shoes, 100% cotton, $19.99" };
static const char *const T_IMAGES[] = { "astronaut.png", "chelsea.png", "horse.png", "block.png",
                                        "coffee_lossy.webp", "tiny_7x5.png" };

/* The images' bytes, read before the threads start (fixture_path's
 * buffer is static, so reading them from the workers would race). */
static char *t_bytes[ARRAY_LEN(T_IMAGES)];
static size_t t_len[ARRAY_LEN(T_IMAGES)];

typedef struct {
    Embedder *e;
    int seed;
    int failures;
    double worst;
} Worker;

static void *worker_run(void *arg)
{
    Worker *w = arg;
    int dim = embedder_dim(w->e);
    enum { N = 7 };
    EmbedInput in[N];
    const char *names[N];
    for (int i = 0; i < N; i++) {
        int k = (w->seed + i) % 10;
        if (k < 4) {
            names[i] = T_TEXTS[k];
            in[i] = (EmbedInput){ EMBED_TEXT, T_TEXTS[k], strlen(T_TEXTS[k]) };
        } else {
            names[i] = T_IMAGES[k - 4];
            in[i] = (EmbedInput){ EMBED_IMAGE, t_bytes[k - 4], t_len[k - 4] };
        }
    }
    float *out = xmalloc((size_t)N * dim * sizeof *out), *ref = xmalloc((size_t)dim * sizeof *ref);
    EmbedStatus st[N];
    w->worst = 1;
    if (embedder_embed(w->e, in, N, out, st, 0) != 0) w->failures++;
    for (int i = 0; i < N; i++) {
        if (st[i].code) {
            printf("  input %d (%s): %s\n", i, names[i], st[i].message);
            w->failures++;
            continue;
        }
        int rc = in[i].kind == EMBED_TEXT ? expected_text(names[i], ref, dim)
                                          : expected_image(names[i], ref, dim);
        if (rc) w->failures++;
        double c = cosine(out + (size_t)i * dim, ref, dim);
        if (c < 0.99999)
            printf("  worker %d input %d (%s): cosine %.7f%s\n", w->seed, i, names[i], c,
                   st[i].cached ? " (from the cache)" : "");
        if (c < w->worst) w->worst = c;
        if (st[i].tokens <= 0) w->failures++;
    }
    free(out);
    free(ref);
    return NULL;
}

TEST(threads_match_the_fixture)
{
    ASSERT_OK(fixture_load());
    Env env;
    EmbedderOptions opt;
    embedder_options_default(&opt);
    opt.batch = 4;
    ASSERT_OK(env_open(&env, &opt, 1));
    ASSERT_EQ_INT(embedder_dim(env.e), 64);
    ASSERT_EQ_INT(embedder_image_tokens(env.e), 50);
    for (size_t k = 0; k < ARRAY_LEN(T_IMAGES); k++) {
        t_bytes[k] = read_image(T_IMAGES[k], &t_len[k]);
        ASSERT_TRUE(t_bytes[k] != NULL);
    }
    enum { T = 6 };
    pthread_t th[T];
    Worker w[T];
    for (int t = 0; t < T; t++) {
        w[t] = (Worker){ env.e, t * 3, 0, 1 };
        pthread_create(&th[t], NULL, worker_run, &w[t]);
    }
    double worst = 1;
    int failures = 0;
    for (int t = 0; t < T; t++) {
        pthread_join(th[t], NULL);
        failures += w[t].failures;
        if (w[t].worst < worst) worst = w[t].worst;
    }
    for (size_t k = 0; k < ARRAY_LEN(T_IMAGES); k++) free(t_bytes[k]);
    ASSERT_EQ_INT(failures, 0);
    /* PNG, WebP and text only: the fixture README's bar. */
    ASSERT_GE(worst, 0.99999);
    ASSERT_GE(metrics_get("vitrine_embed_batches_total", "kind=\"image\""), 1);
    ASSERT_EQ_INT(env_close(&env), 0);
}

/* ---- failures ---- */

TEST(failures_and_fail_fast)
{
    Env env;
    ASSERT_OK(env_open(&env, NULL, 1));
    int dim = embedder_dim(env.e);
    size_t len = 0;
    char *png = read_image("block.png", &len);
    ASSERT_TRUE(png != NULL);
    static const char junk[] = "this is not an image";
    static const char bad_utf8[] = "bad \xff utf-8";
    EmbedInput in[6] = {
        { EMBED_TEXT, "a photo of a cat", 16 },
        { EMBED_IMAGE, junk, sizeof junk - 1 },
        { EMBED_IMAGE, png, len },
        { EMBED_TEXT, bad_utf8, sizeof bad_utf8 - 1 },
        { EMBED_TEXT, "", 0 },
        { EMBED_IMAGE, png, 40 }, /* cut inside the PNG's data */
    };
    float out[6 * 64];
    EmbedStatus st[6];
    /* Every input on its own: the failures are per input. */
    ASSERT_EQ_INT(embedder_embed(env.e, in, 6, out, st, 0), ERR_FORMAT);
    ASSERT_EQ_INT(st[0].code, 0);
    ASSERT_EQ_INT(st[1].code, ERR_FORMAT);
    ASSERT_TRUE(strstr(st[1].message, "unsupported image format") != NULL);
    ASSERT_EQ_INT(st[2].code, 0);
    ASSERT_EQ_INT(st[3].code, ERR_INVAL);
    ASSERT_TRUE(strstr(st[3].message, "UTF-8") != NULL);
    ASSERT_EQ_INT(st[4].code, ERR_INVAL);
    ASSERT_TRUE(strstr(st[4].message, "empty") != NULL);
    ASSERT_EQ_INT(st[5].code, ERR_FORMAT);
    ASSERT_EQ_INT(st[0].tokens, 7);
    ASSERT_EQ_INT(st[2].tokens, 50);
    float ref[64];
    ASSERT_OK(fixture_load());
    ASSERT_OK(expected_image("block.png", ref, dim));
    ASSERT_GE(cosine(out + 2 * dim, ref, dim), 0.99999);
    /* Fail fast: what comes after the first failure is skipped (ERR_BUSY),
     * and the status is the real failure's. */
    ASSERT_EQ_INT(embedder_embed(env.e, in, 3, out, st, EMBED_FAIL_FAST), ERR_FORMAT);
    ASSERT_EQ_INT(st[0].code, 0);
    ASSERT_EQ_INT(st[1].code, ERR_FORMAT);
    ASSERT_EQ_INT(st[2].code, ERR_BUSY);
    /* Too many inputs for the options: refused whole, every status says so. */
    EmbedderOptions small;
    embedder_options_default(&small);
    EmbedInput many[70];
    for (int i = 0; i < 70; i++) many[i] = (EmbedInput){ EMBED_IMAGE, png, len };
    float *big = xmalloc(70 * 64 * sizeof *big);
    EmbedStatus stm[70];
    ASSERT_EQ_INT(embedder_embed(env.e, many, 70, big, stm, 0), ERR_TOOLARGE);
    ASSERT_EQ_INT(stm[69].code, ERR_TOOLARGE);
    ASSERT_TRUE(strstr(stm[0].message, "--embed-max-images") != NULL);
    free(big);
    free(png);
    ASSERT_EQ_INT(env_close(&env), 0);
}

TEST(pixel_limit_is_read_from_the_header)
{
    EmbedderOptions opt;
    embedder_options_default(&opt);
    opt.max_pixels = 100 * 100;
    Env env;
    ASSERT_OK(env_open(&env, &opt, 1));
    size_t png_len = 0, tiny_len = 0;
    char *png = read_image("astronaut.png", &png_len); /* 512 x 512 */
    char *tiny = read_image("tiny_7x5.png", &tiny_len);
    ASSERT_TRUE(png && tiny);
    EmbedInput in[2] = { { EMBED_IMAGE, png, png_len }, { EMBED_IMAGE, tiny, tiny_len } };
    float out[2 * 64];
    EmbedStatus st[2];
    ASSERT_EQ_INT(embedder_embed(env.e, in, 2, out, st, 0), ERR_TOOLARGE);
    ASSERT_EQ_INT(st[0].code, ERR_TOOLARGE);
    ASSERT_TRUE(strstr(st[0].message, "512x512") != NULL);
    ASSERT_EQ_INT(st[1].code, 0);
    free(png);
    free(tiny);
    ASSERT_EQ_INT(env_close(&env), 0);
}

/* ---- the queue bound ---- */

TEST(queue_bound)
{
    EmbedderOptions opt;
    embedder_options_default(&opt);
    opt.queue = 4;
    Env env;
    ASSERT_OK(env_open(&env, &opt, 1));
    float out[8 * 64];
    EmbedStatus st[8];
    EmbedCall *a = NULL, *b = NULL;
    /* Larger than the queue: refused whole. */
    ASSERT_EQ_INT(embedder_call_new(env.e, 5, out, st, 0, &a), ERR_FULL);
    ASSERT_TRUE(a == NULL);
    ASSERT_EQ_INT(st[4].code, ERR_FULL);
    /* 3 reserved: 2 more do not fit until they are done. */
    ASSERT_OK(embedder_call_new(env.e, 3, out, st, 0, &a));
    ASSERT_EQ_INT(embedder_call_new(env.e, 2, out + 3 * 64, st + 3, 0, &b), ERR_FULL);
    ASSERT_TRUE(strstr(st[3].message, "retry later") != NULL);
    for (size_t i = 0; i < 3; i++)
        embedder_call_add(a, i, &(EmbedInput){ EMBED_TEXT, "a photo of a dog", 16 });
    ASSERT_OK(embedder_call_wait(a));
    ASSERT_OK(embedder_call_new(env.e, 4, out, st, 0, &b));
    for (size_t i = 0; i < 4; i++) embedder_call_fail(b, i, ERR_INVAL, "caller says no");
    ASSERT_EQ_INT(embedder_call_wait(b), ERR_INVAL);
    ASSERT_STR_EQ(st[3].message, "caller says no");
    ASSERT_EQ_INT(env_close(&env), 0);
}

/* ---- the text cache ---- */

static int embed_one(Embedder *e, const char *text, int *cached)
{
    float out[64];
    EmbedStatus st;
    EmbedInput in = { EMBED_TEXT, text, strlen(text) };
    int rc = embedder_embed(e, &in, 1, out, &st, 0);
    *cached = st.cached;
    return rc;
}

TEST(text_cache_lru)
{
    EmbedderOptions opt;
    embedder_options_default(&opt);
    opt.text_cache = 2;
    Env env;
    ASSERT_OK(env_open(&env, &opt, 1));
    int c;
    double hits0 = metrics_get("vitrine_embed_cache_hits_total", "cache=\"text\"");
    ASSERT_OK(embed_one(env.e, "a", &c));
    ASSERT_EQ_INT(c, 0);
    ASSERT_OK(embed_one(env.e, "b", &c));
    ASSERT_EQ_INT(c, 0);
    ASSERT_OK(embed_one(env.e, "a", &c)); /* hit; "b" is now the oldest */
    ASSERT_EQ_INT(c, 1);
    ASSERT_OK(embed_one(env.e, "c", &c)); /* evicts "b" */
    ASSERT_EQ_INT(c, 0);
    ASSERT_OK(embed_one(env.e, "a", &c));
    ASSERT_EQ_INT(c, 1);
    ASSERT_OK(embed_one(env.e, "b", &c)); /* was evicted */
    ASSERT_EQ_INT(c, 0);
    ASSERT_EQ_INT(metrics_get("vitrine_embed_cache_hits_total", "cache=\"text\"") - hits0, 2);
    /* A hit gives the same vector and token count as the miss did. */
    float v1[64], v2[64];
    EmbedStatus s1, s2;
    EmbedInput in = { EMBED_TEXT, "a photo of a cat", 16 };
    ASSERT_OK(embedder_embed(env.e, &in, 1, v1, &s1, 0));
    ASSERT_OK(embedder_embed(env.e, &in, 1, v2, &s2, 0));
    ASSERT_EQ_INT(s1.cached, 0);
    ASSERT_EQ_INT(s2.cached, 1);
    ASSERT_EQ_INT(s2.tokens, s1.tokens);
    ASSERT_TRUE(memcmp(v1, v2, sizeof v1) == 0);
    ASSERT_EQ_INT(env_close(&env), 0);
}

/* ---- the asynchronous form ---- */

typedef struct {
    int calls, status;
} DoneCount;

static void done_cb(void *arg, int status)
{
    DoneCount *d = arg;
    d->calls++;
    d->status = status;
}

TEST(async_on_the_loop)
{
    ASSERT_OK(fixture_load());
    Env env;
    ASSERT_OK(env_open(&env, NULL, 1));
    size_t len = 0;
    char *png = read_image("chelsea.png", &len);
    float out[3 * 64], ref[64];
    EmbedStatus st[3];
    EmbedCall *c;
    ASSERT_OK(embedder_call_new(env.e, 3, out, st, 0, &c));
    embedder_call_add(c, 2, &(EmbedInput){ EMBED_IMAGE, png, len });
    embedder_call_add(c, 0, &(EmbedInput){ EMBED_TEXT, "a photo of a cat", 16 });
    embedder_call_add(c, 1, &(EmbedInput){ EMBED_TEXT, "a red summer dress", 18 });
    DoneCount d = { 0, 1 };
    embedder_call_finish(c, done_cb, &d);
    /* The callback runs on the loop thread (here: this one), once. */
    for (int spins = 0; d.calls == 0 && spins < 10000; spins++) uv_run(&env.loop, UV_RUN_ONCE);
    ASSERT_EQ_INT(d.calls, 1);
    ASSERT_EQ_INT(d.status, 0);
    ASSERT_OK(expected_image("chelsea.png", ref, 64));
    ASSERT_GE(cosine(out + 128, ref, 64), 0.99999);
    ASSERT_OK(expected_text("a red summer dress", ref, 64));
    ASSERT_GE(cosine(out + 64, ref, 64), 0.99999);
    /* All inputs done before finish (cache hits): the callback runs at once. */
    ASSERT_OK(embedder_call_new(env.e, 1, out, st, 0, &c));
    embedder_call_add(c, 0, &(EmbedInput){ EMBED_TEXT, "a photo of a cat", 16 });
    d.calls = 0;
    embedder_call_finish(c, done_cb, &d);
    ASSERT_EQ_INT(d.calls, 1);
    ASSERT_EQ_INT(st[0].cached, 1);
    free(png);
    ASSERT_EQ_INT(env_close(&env), 0);
}

/* An image whose header passes but whose data is cut short fails on a
 * decode thread, after embedder_call_finish: when it is the call's last
 * input, the callback must still reach the loop, once, with its error. */
TEST(decode_failure_after_finish)
{
    ASSERT_OK(fixture_load());
    Env env;
    ASSERT_OK(env_open(&env, NULL, 1));
    size_t len = 0;
    char *jpg = read_image("rocket.jpg", &len);
    float out[2 * 64];
    EmbedStatus st[2];
    for (int round = 0; round < 20; round++) {
        EmbedCall *c;
        ASSERT_OK(embedder_call_new(env.e, 2, out, st, 0, &c));
        embedder_call_add(c, 0, &(EmbedInput){ EMBED_TEXT, "a photo of a rocket", 19 });
        embedder_call_add(c, 1, &(EmbedInput){ EMBED_IMAGE, jpg, len / 3 });
        DoneCount d = { 0, 0 };
        embedder_call_finish(c, done_cb, &d);
        for (int spins = 0; d.calls == 0 && spins < 10000; spins++) uv_run(&env.loop, UV_RUN_ONCE);
        ASSERT_EQ_INT(d.calls, 1);
        ASSERT_EQ_INT(d.status, ERR_FORMAT);
        ASSERT_EQ_INT(st[0].code, 0);
        ASSERT_EQ_INT(st[1].code, ERR_FORMAT);
    }
    /* Images still queued for decoding when the embedder stops fail with
     * ERR_BUSY and their call is delivered by embedder_stop. */
    enum { N = 40 };
    float *many = malloc(N * 64 * sizeof(float));
    EmbedStatus *mst = malloc(N * sizeof *mst);
    EmbedCall *c;
    ASSERT_OK(embedder_call_new(env.e, N, many, mst, 0, &c));
    for (size_t i = 0; i < N; i++) embedder_call_add(c, i, &(EmbedInput){ EMBED_IMAGE, jpg, len });
    DoneCount d = { 0, 0 };
    embedder_call_finish(c, done_cb, &d);
    ASSERT_EQ_INT(env_close(&env), 0);
    ASSERT_EQ_INT(d.calls, 1);
    ASSERT_TRUE(d.status == 0 || d.status == ERR_BUSY);
    free(many);
    free(mst);
    free(jpg);
}

/* ---- texts first ---- */

/* A text that arrives while an image batch runs is embedded between two of
 * its layers and answered before the batch ends: here, synchronous text
 * calls made while an asynchronous call of 48 images (batches of 8) is in
 * flight return, correct, before that call is delivered, and at least one
 * of them ran inside an image batch (the counter). Which layer a text lands
 * in depends on timing, so the rounds go on until one did (bounded). */
TEST(texts_overtake_an_image_batch)
{
    ASSERT_OK(fixture_load());
    EmbedderOptions opt;
    embedder_options_default(&opt);
    opt.batch = 8;
    opt.batch_ms = 60000; /* whole batches of 8, whatever their time */
    opt.text_cache = 0;   /* every text runs inference */
    Env env;
    ASSERT_OK(env_open(&env, &opt, 1));
    size_t len = 0;
    char *png = read_image("astronaut.png", &len);
    ASSERT_TRUE(png != NULL);
    enum { N = 48 };
    float *imgs = xmalloc(N * 64 * sizeof *imgs), ref[64], img_ref[64], out[64];
    EmbedStatus *ist = xmalloc(N * sizeof *ist), st;
    ASSERT_OK(expected_text("a red summer dress", ref, 64));
    ASSERT_OK(expected_image("astronaut.png", img_ref, 64));
    double before = metrics_get("vitrine_embed_text_batches_in_image_batches_total", NULL);
    int rounds = 0, overtaken = 0;
    for (; rounds < 40 && !overtaken; rounds++) {
        EmbedCall *c;
        ASSERT_OK(embedder_call_new(env.e, N, imgs, ist, 0, &c));
        for (size_t i = 0; i < N; i++) embedder_call_add(c, i, &(EmbedInput){ EMBED_IMAGE, png, len });
        DoneCount d = { 0, 1 };
        embedder_call_finish(c, done_cb, &d);
        /* Texts for as long as the images are in flight (each round's N
         * counted by the batcher as it embeds them), so that some arrive
         * while a batch runs its model: twenty texts sent at once could
         * all be done before the first batch of decoded images started
         * (seen on a loaded CI machine). The loop is not run, so the
         * image call cannot be delivered before they return. */
        double images_before = metrics_get("vitrine_embed_batch_inputs_total", "kind=\"image\"");
        for (int k = 0; k < 20 || (k < 100000 && metrics_get("vitrine_embed_batch_inputs_total",
                                                                 "kind=\"image\"") < images_before + N);
             k++) {
            EmbedInput in = { EMBED_TEXT, "a red summer dress", 18 };
            ASSERT_OK(embedder_embed(env.e, &in, 1, out, &st, 0));
            ASSERT_GE(cosine(out, ref, 64), 0.99999);
        }
        ASSERT_EQ_INT(d.calls, 0);
        for (int spins = 0; d.calls == 0 && spins < 100000; spins++) uv_run(&env.loop, UV_RUN_ONCE);
        ASSERT_EQ_INT(d.calls, 1);
        ASSERT_EQ_INT(d.status, 0);
        /* The images around the texts are right too. */
        for (size_t i = 0; i < N; i++) ASSERT_GE(cosine(imgs + i * 64, img_ref, 64), 0.99999);
        overtaken = metrics_get("vitrine_embed_text_batches_in_image_batches_total", NULL) > before;
    }
    printf("  a text ran inside an image batch after %d round(s)\n", rounds);
    ASSERT_TRUE(overtaken);
    free(imgs);
    free(ist);
    free(png);
    ASSERT_EQ_INT(env_close(&env), 0);
}

TEST(without_weights)
{
    Env env;
    ASSERT_OK(env_open(&env, NULL, 0));
    ASSERT_EQ_INT(embedder_ready(env.e), 0);
    ASSERT_TRUE(strstr(embedder_unavailable(env.e), "make weights") != NULL);
    ASSERT_TRUE(embedder_model_name(env.e, 0) == NULL);
    float out[64];
    EmbedStatus st;
    EmbedInput in = { EMBED_TEXT, "x", 1 };
    ASSERT_EQ_INT(embedder_embed(env.e, &in, 1, out, &st, 0), ERR_UNSUPPORTED);
    ASSERT_TRUE(strstr(st.message, "--weights DIR") != NULL);
    ASSERT_EQ_INT(env_close(&env), 0);
}

TEST(model_names)
{
    Env env;
    ASSERT_OK(env_open(&env, NULL, 1));
    ASSERT_STR_EQ(embedder_model_name(env.e, 0), MODEL);
    ASSERT_TRUE(embedder_model_known(env.e, "openai/clip-vit-base-patch32"));
    ASSERT_TRUE(embedder_model_known(env.e, "Qdrant/clip-ViT-B-32-vision"));
    ASSERT_TRUE(embedder_model_known(env.e, "Qdrant/clip-ViT-B-32-text"));
    ASSERT_TRUE(!embedder_model_known(env.e, "qdrant/clip-vit-b-32-text"));
    ASSERT_TRUE(embedder_model_name(env.e, 4) == NULL);
    ASSERT_EQ_INT(env_close(&env), 0);
}

/* ---- images as JSON carries them ---- */

static int decode(Embedder *e, Arena *a, const char *s, char *out, size_t *n, char *err)
{
    const void *bytes;
    int rc = embedder_image_from_string(e, a, s, strlen(s), &bytes, n, err, 256);
    if (rc == 0) memcpy(out, bytes, *n);
    return rc;
}

TEST(image_strings)
{
    EmbedderOptions opt;
    embedder_options_default(&opt);
    opt.max_image_bytes = 1024;
    Env env;
    ASSERT_OK(env_open(&env, &opt, 0)); /* decoding needs no model */
    Arena a;
    arena_init(&a, ARENA_DEFAULT_CHUNK);
    char out[2048], err[256];
    size_t n;
    /* RFC 4648, section 10, with and without padding. */
    static const char *const vec[][2] = {
        { "Zg==", "f" }, { "Zm8=", "fo" }, { "Zm9v", "foo" }, { "Zm9vYg==", "foob" },
        { "Zm9vYmE=", "fooba" }, { "Zm9vYmFy", "foobar" }, { "Zm9vYg", "foob" },
        { "Zm9v\r\nYmFy", "foobar" }, { "data:image/png;base64,Zm9vYmFy", "foobar" },
        { "DATA:image/jpeg;name=x.jpg;base64,Zm9v", "foo" },
    };
    for (size_t i = 0; i < ARRAY_LEN(vec); i++) {
        ASSERT_OK(decode(env.e, &a, vec[i][0], out, &n, err));
        ASSERT_EQ_INT(n, strlen(vec[i][1]));
        ASSERT_TRUE(memcmp(out, vec[i][1], n) == 0);
    }
    /* The URL-safe alphabet: 0xfb 0xff. */
    ASSERT_OK(decode(env.e, &a, "-_8=", out, &n, err));
    ASSERT_EQ_INT(n, 2);
    ASSERT_EQ_INT((unsigned char)out[0], 0xfb);
    ASSERT_EQ_INT((unsigned char)out[1], 0xff);
    static const char *const bad[] = { "", "Z", "Zm9v*", "Zg==Zg", "Zg===",
                                       "data:text/plain;base64,Zm9v", "data:image/png,Zm9v",
                                       "data:image/png;base64,", "data:image/png;base64" };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) ASSERT_EQ_INT(decode(env.e, &a, bad[i], out, &n, err), ERR_INVAL);
    static const char *const urls[] = { "http://example.com/a.jpg", "HTTPS://example.com/a.jpg",
                                        "ftp://x/y", "s3://bucket/key.png" };
    for (size_t i = 0; i < ARRAY_LEN(urls); i++) {
        ASSERT_EQ_INT(decode(env.e, &a, urls[i], out, &n, err), ERR_INVAL);
        ASSERT_TRUE(strstr(err, "not fetched") != NULL);
    }
    /* 1026 bytes once decoded: over the limit of 1024. */
    char big[1400];
    memset(big, 'A', 1368);
    big[1368] = '\0';
    ASSERT_EQ_INT(decode(env.e, &a, big, out, &n, err), ERR_TOOLARGE);
    big[1364] = '\0'; /* 1023 bytes */
    ASSERT_OK(decode(env.e, &a, big, out, &n, err));
    ASSERT_EQ_INT(n, 1023);
    arena_free(&a);
    ASSERT_EQ_INT(env_close(&env), 0);
}

int main(void)
{
    RUN(threads_match_the_fixture);
    RUN(failures_and_fail_fast);
    RUN(pixel_limit_is_read_from_the_header);
    RUN(queue_bound);
    RUN(text_cache_lru);
    RUN(async_on_the_loop);
    RUN(decode_failure_after_finish);
    RUN(texts_overtake_an_image_batch);
    RUN(without_weights);
    RUN(model_names);
    RUN(image_strings);
    if (fx_root) arena_free(&fx_arena);
    metrics_reset();
    return harness_report(__FILE__);
}
