/*
 * cmd_embed.c - `vitrine embed` (embed texts and image files, print JSON
 * lines) and `vitrine bench embed` (time the towers against OpenBLAS's
 * own sgemm rate on this machine).
 *
 * embed keeps the argument order: every --text and --image becomes one
 * input; images are decoded and preprocessed in parallel, then encoded in
 * batches of CLIP_DEFAULT_BATCH (one GEMM per layer for the batch), texts
 * are tokenized and encoded in one ragged batch; then one JSON object per
 * input is printed in the original order. An input that fails (unreadable
 * image, invalid UTF-8) prints a line with "error" and makes the exit
 * status 1, but the other inputs are still embedded.
 *
 * bench embed prints exactly seven lines on stdout (image batch=1, image
 * batch=8, text, sgemm, achieved, then the fidelity of images and texts:
 * mean and worst cosine of built-in inputs' embeddings to those of the f32
 * model) and context (BLAS build, precision and kernel, model, RSS) on
 * stderr. Each figure is the best of several timed runs after a warm-up,
 * which is how the PyTorch comparison (tools/bench_torch.py) measures too;
 * stderr adds the image and photo figures' means over the same runs, which
 * a server's sustained rate (tools/bench_v1.py) is compared with.
 */
#include "base/cli.h"
#include "cmd/cmd.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/clip.h"
#include "base/cpu.h"
#include "base/err.h"
#include "base/json.h"
#include "model/nn.h"
#include "model/nn_quant.h"
#include "base/vec.h"
#include "model/tokenizer.h"
#include "base/util.h"

#define EMBED_DEFAULT_WEIGHTS "weights/clip-vit-base-patch32"
/* Largest image file embed reads (the decoder has its own pixel limit). */
#define EMBED_MAX_FILE_BYTES ((size_t)64 * 1024 * 1024)
#define BENCH_MIN_RUNS 3
#define BENCH_DEFAULT_SECONDS 2.0
#define BENCH_BATCH 8
/* The sgemm reference shape: an MLP layer of ViT-B/32 at batch ~20. */
#define BENCH_GEMM_M 1024
#define BENCH_GEMM_K 768
#define BENCH_GEMM_N 3072

typedef struct {
    int is_image;
    const char *arg; /* the text or the path, from argv */
    int rc;
    char err[256];
    float *emb; /* (dim), into a results array */
} EmbedInput;

static const char *embed_default_weights(void)
{
    return env_or("VITRINE_WEIGHTS", EMBED_DEFAULT_WEIGHTS);
}

static void embed_usage(FILE *f)
{
    fprintf(f,
            "usage: vitrine embed --weights DIR [--text T]... [--image PATH]... [--raw]\n"
            "                     [--threads N] [--precision f32|bf16|int8]\n"
            "  Prints one JSON object per input, in argument order:\n"
            "  {\"kind\":\"text\"|\"image\",\"input\":\"...\",\"embedding\":[...]}\n"
            "  --weights DIR  Hugging Face CLIP folder (default $VITRINE_WEIGHTS or %s)\n"
            "  --raw          print the projections without L2 normalisation\n"
            "  --threads N    OpenBLAS threads (default: one per core)\n"
            "  --precision P  linear layers in f32 (the reference), bf16 or int8\n"
            "                 (default $VITRINE_PRECISION or f32; see docs/cli.md)\n",
            EMBED_DEFAULT_WEIGHTS);
}

/* embed_precision parses a --precision value (or $VITRINE_PRECISION when
 * v is NULL) into *p; prints the error and returns -1 when it is not one. */
static int embed_precision(const char *cmd, const char *v, NnPrecision *p)
{
    const char *src = v ? "--precision" : NN_ENV_PRECISION;
    if (!v) v = getenv(NN_ENV_PRECISION);
    if (!v || !*v) {
        *p = NN_PREC_F32;
        return 0;
    }
    if (nn_precision_parse(v, p) != 0) {
        fprintf(stderr, "%s: %s '%s' is not a precision (f32, bf16 or int8)\n", cmd, src, v);
        return -1;
    }
    return 0;
}

/* One batch of image inputs being read and preprocessed in parallel. */
typedef struct {
    const ClipModel *m;
    EmbedInput **in; /* (n) the batch's inputs */
    float *px;       /* (n, plane) their pixels */
    size_t plane;
} EmbedPrepJob;

/* embed_prep_task reads and preprocesses images [begin, end) of a batch;
 * each input records its own result, so threads share nothing. */
static void embed_prep_task(void *ctx, int begin, int end, int thread)
{
    (void)thread;
    const EmbedPrepJob *j = ctx;
    for (int b = begin; b < end; b++) {
        EmbedInput *e = j->in[b];
        char *bytes = NULL;
        size_t len = 0;
        int rc = file_read_all(e->arg, EMBED_MAX_FILE_BYTES, &bytes, &len);
        if (rc != 0) {
            e->rc = rc;
            snprintf(e->err, sizeof e->err, "%s: %s", e->arg,
                     rc == ERR_NOTFOUND ? "no such file" : err_str(rc));
            continue;
        }
        e->rc = clip_preprocess_image(j->m, bytes, len, j->px + (size_t)b * j->plane, e->err,
                                      sizeof e->err);
        free(bytes);
    }
}

/*
 * embed_images preprocesses and encodes the image inputs in batches of
 * CLIP_DEFAULT_BATCH. The images of a batch are decoded in parallel, one
 * per thread at a time: decoding a 6-megapixel JPEG takes longer than
 * embedding it, and would otherwise leave all but one core idle.
 */
static void embed_images(const ClipModel *m, ClipState *st, EmbedInput *in, int n, int normalize)
{
    int S = clip_image_size(m), E = clip_embed_dim(m);
    size_t plane = (size_t)3 * S * S;
    float *px = xmalloc((size_t)CLIP_DEFAULT_BATCH * plane * sizeof *px);
    float *out = xmalloc((size_t)CLIP_DEFAULT_BATCH * E * sizeof *out);
    EmbedInput *batch[CLIP_DEFAULT_BATCH];
    int i = 0;
    while (i < n) {
        int nb = 0;
        for (; i < n && nb < CLIP_DEFAULT_BATCH; i++)
            if (in[i].is_image) batch[nb++] = &in[i];
        if (nb == 0) break;
        EmbedPrepJob job = { m, batch, px, plane };
        nn_parallel(embed_prep_task, &job, nb, 0);
        /* Close the gaps left by images that failed, so the pixels of
         * those that decoded are contiguous for one clip_encode_images. */
        int ok = 0;
        for (int b = 0; b < nb; b++) {
            if (batch[b]->rc != 0) continue;
            if (ok != b)
                memmove(px + (size_t)ok * plane, px + (size_t)b * plane, plane * sizeof *px);
            batch[ok++] = batch[b];
        }
        if (ok == 0) continue;
        clip_encode_images(m, st, px, ok, out, normalize);
        for (int b = 0; b < ok; b++)
            memcpy(batch[b]->emb, out + (size_t)b * E, (size_t)E * sizeof *out);
    }
    free(px);
    free(out);
}

/* embed_texts tokenizes every text input and encodes them in one call. */
static void embed_texts(const ClipModel *m, ClipState *st, EmbedInput *in, int n, int normalize)
{
    int dim = clip_embed_dim(m);
    int32_t *ids = xcalloc((size_t)n * TOKENIZER_MAX_TOKENS, sizeof *ids);
    int *lens = xcalloc((size_t)n, sizeof *lens);
    float *out = xmalloc((size_t)n * dim * sizeof *out);
    EmbedInput **ok = xmalloc((size_t)n * sizeof *ok);
    int nt = 0;
    for (int i = 0; i < n; i++) {
        if (in[i].is_image) continue;
        int rc = tokenizer_encode(clip_tokenizer(m), in[i].arg, strlen(in[i].arg),
                                  ids + (size_t)nt * TOKENIZER_MAX_TOKENS, TOKENIZER_MAX_TOKENS,
                                  &lens[nt]);
        in[i].rc = rc;
        if (rc != 0) {
            snprintf(in[i].err, sizeof in[i].err, "%s",
                     rc == ERR_INVAL ? "text is not valid UTF-8" : err_str(rc));
            continue;
        }
        ok[nt++] = &in[i];
    }
    int rc = clip_encode_tokens(m, st, ids, lens, nt, out, normalize);
    for (int t = 0; t < nt; t++) {
        if (rc == 0) {
            memcpy(ok[t]->emb, out + (size_t)t * dim, (size_t)dim * sizeof *out);
        } else {
            ok[t]->rc = rc;
            snprintf(ok[t]->err, sizeof ok[t]->err, "encoding failed: %s", err_str(rc));
        }
    }
    free(ids);
    free(lens);
    free(out);
    free(ok);
}

int cmd_embed(int argc, char **argv)
{
    const char *weights = embed_default_weights();
    const char *v = NULL;
    const char *prec_arg = NULL;
    int normalize = 1, n = 0;
    long threads = 0;
    NnPrecision prec = NN_PREC_F32;
    EmbedInput *in = xcalloc((size_t)argc, sizeof *in);
    for (int i = 1; i < argc; i++) {
        int r;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            embed_usage(stdout);
            free(in);
            return 0;
        } else if (!strcmp(argv[i], "--raw")) {
            normalize = 0;
        } else if ((r = cli_take_value(argc, argv, &i, "--weights", &v)) != 0) {
            if (r < 0) goto usage;
            weights = v;
        } else if ((r = cli_take_value(argc, argv, &i, "--threads", &v)) != 0) {
            if (r < 0 || parse_int(v, 1, 1024, &threads) != 0) goto usage;
        } else if ((r = cli_take_value(argc, argv, &i, "--precision", &v)) != 0) {
            if (r < 0) goto usage;
            prec_arg = v;
        } else if ((r = cli_take_value(argc, argv, &i, "--text", &v)) != 0) {
            if (r < 0) goto usage;
            in[n++] = (EmbedInput){ .is_image = 0, .arg = v };
        } else if ((r = cli_take_value(argc, argv, &i, "--image", &v)) != 0) {
            if (r < 0) goto usage;
            in[n++] = (EmbedInput){ .is_image = 1, .arg = v };
        } else {
            fprintf(stderr, "vitrine embed: unknown argument '%s'\n", argv[i]);
            goto usage;
        }
    }
    if (n == 0) {
        fprintf(stderr, "vitrine embed: give at least one --text or --image\n");
        goto usage;
    }
    if (embed_precision("vitrine embed", prec_arg, &prec) != 0) goto usage;
    nn_set_threads((int)threads);

    char err[1024];
    ClipModel *m = NULL;
    if (clip_load_precision(weights, prec, &m, err, sizeof err) != 0) {
        fprintf(stderr, "vitrine embed: cannot load weights: %s\n", err);
        free(in);
        return 1;
    }
    ClipState *st = clip_state_new(m, CLIP_DEFAULT_BATCH);
    if (!st) {
        fprintf(stderr, "vitrine embed: out of memory\n");
        clip_free(m);
        free(in);
        return 1;
    }
    int dim = clip_embed_dim(m);
    float *emb = xcalloc((size_t)n * dim, sizeof *emb);
    for (int i = 0; i < n; i++) in[i].emb = emb + (size_t)i * dim;
    embed_images(m, st, in, n, normalize);
    embed_texts(m, st, in, n, normalize);

    int status = 0;
    Buf buf;
    buf_init(&buf);
    for (int i = 0; i < n; i++) {
        JsonWriter w;
        buf.len = 0;
        jw_init(&w, &buf);
        jw_object_begin(&w);
        jw_key(&w, "kind");
        jw_string(&w, in[i].is_image ? "image" : "text");
        jw_key(&w, "input");
        jw_string(&w, in[i].arg);
        if (in[i].rc == 0) {
            jw_key(&w, "embedding");
            jw_floats(&w, in[i].emb, (size_t)dim);
        } else {
            jw_key(&w, "error");
            jw_string(&w, in[i].err);
            status = 1;
        }
        jw_object_end(&w);
        buf_append(&buf, "\n", 1);
        fwrite(buf.data, 1, buf.len, stdout);
    }
    fflush(stdout);
    buf_free(&buf);
    free(emb);
    clip_state_free(st);
    clip_free(m);
    free(in);
    return status;

usage:
    embed_usage(stderr);
    free(in);
    return 2;
}

/* ---- bench embed ---- */

/* bench_rss_mb returns the resident set size in MB (Linux /proc), or -1. */
static double bench_rss_mb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    double mb = -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6)) mb = atof(line + 6) / 1024.0;
    fclose(f);
    return mb;
}

typedef struct {
    const ClipModel *m;
    ClipState *st;
    const float *pixels;
    float *out;
    int batch;
    const float *a, *w;
    float *c;
    const char *photo; /* --image: the encoded file's bytes */
    size_t photo_len;
    float *photo_px;   /* BENCH_BATCH planes of (3, S, S) */
    size_t plane;      /* floats in one */
} BenchCtx;

/* bench_photo_prep_task decodes and preprocesses the --image file into
 * planes [begin, end) of photo_px, as the server does for every photo
 * before the model sees it (the file was checked once before the runs). */
static void bench_photo_prep_task(void *ctx, int begin, int end, int thread)
{
    (void)thread;
    BenchCtx *b = ctx;
    char err[256];
    for (int i = begin; i < end; i++)
        (void)clip_preprocess_image(b->m, b->photo, b->photo_len, b->photo_px + (size_t)i * b->plane,
                                    err, sizeof err);
}

static void bench_photo_prep(BenchCtx *b)
{
    bench_photo_prep_task(b, 0, 1, 0);
}

/* bench_photo embeds the --image file from its bytes: decode, preprocess,
 * then the image tower at batch 1 (the engine's whole cost for one photo). */
static void bench_photo(BenchCtx *b)
{
    bench_photo_prep(b);
    clip_encode_images(b->m, b->st, b->photo_px, 1, b->out, 1);
}

/* bench_photos embeds BENCH_BATCH copies of the --image file as one batch
 * from their bytes: decoded on all threads at once, then the tower (what
 * the server does with concurrent uploads). */
static void bench_photos(BenchCtx *b)
{
    nn_parallel(bench_photo_prep_task, b, BENCH_BATCH, 0);
    clip_encode_images(b->m, b->st, b->photo_px, BENCH_BATCH, b->out, 1);
}

static void bench_images(BenchCtx *b)
{
    clip_encode_images(b->m, b->st, b->pixels, b->batch, b->out, 1);
}

static void bench_text(BenchCtx *b)
{
    static const char query[] = "a photo of a cat";
    clip_embed_text(b->m, b->st, query, sizeof query - 1, b->out, 1);
}

/* The texts the fidelity lines compare (with the BENCH_BATCH images). */
static const char *const bench_texts[] = {
    "a photo of a cat",
    "a red leather handbag with a gold buckle",
    "white sneakers",
    "a wooden dining table for six people, oak finish",
    "blue denim jacket",
    "stainless steel kitchen knife set",
    "a vintage poster of the Eiffel tower at night",
    "kids' rain boots with frog eyes",
};
#define BENCH_TEXTS ((int)(sizeof bench_texts / sizeof bench_texts[0]))

/* bench_inputs embeds the fidelity inputs: the BENCH_BATCH images of px,
 * then the BENCH_TEXTS texts, normalised, into out (rows of dim). */
static void bench_inputs(const ClipModel *m, ClipState *st, const float *px, float *out)
{
    int dim = clip_embed_dim(m);
    clip_encode_images(m, st, px, BENCH_BATCH, out, 1);
    for (int i = 0; i < BENCH_TEXTS; i++)
        clip_embed_text(m, st, bench_texts[i], strlen(bench_texts[i]),
                        out + (size_t)(BENCH_BATCH + i) * dim, 1);
}

/* bench_cosines prints the mean and the worst cosine of rows [first, first
 * + n) of a against b (unit rows of dim). */
static void bench_cosines(const char *what, const float *a, const float *b, int first, int n,
                          int dim)
{
    double sum = 0, worst = 2;
    for (int i = first; i < first + n; i++) {
        double d = 0;
        for (int k = 0; k < dim; k++) d += (double)a[(size_t)i * dim + k] * b[(size_t)i * dim + k];
        sum += d;
        if (d < worst) worst = d;
    }
    printf("fidelity %s: mean cosine %.6f, worst %.6f (%d inputs)\n", what, sum / n, worst, n);
}

static void bench_sgemm(BenchCtx *b)
{
    nn_sgemm_reference(b->a, BENCH_GEMM_M, BENCH_GEMM_K, b->w, BENCH_GEMM_N, b->c);
}

/* bench_best runs fn once to warm up, then for at least min_runs runs and
 * `seconds`, and returns the best time of one run in seconds; the mean
 * over the runs goes to *mean unless it is NULL (a server's sustained
 * rate compares with the mean: the best run is what the machine gives
 * when nothing else needs it). */
static double bench_best(void (*fn)(BenchCtx *), BenchCtx *b, int min_runs, double seconds,
                         double *mean)
{
    fn(b);
    double best = 1e30, sum = 0, start = now_seconds();
    int r = 0;
    for (; r < min_runs || now_seconds() - start < seconds; r++) {
        double t0 = now_seconds();
        fn(b);
        double t = now_seconds() - t0;
        sum += t;
        if (t < best) best = t;
    }
    if (mean) *mean = sum / r;
    return best;
}

int cmd_bench_embed(int argc, char **argv)
{
    const char *weights = embed_default_weights();
    const char *v = NULL, *prec_arg = NULL, *photo_path = NULL;
    long threads = 0;
    long runs = BENCH_MIN_RUNS;
    NnPrecision prec = NN_PREC_F32;
    for (int i = 1; i < argc; i++) {
        int r;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: vitrine bench embed --weights DIR [--threads N] [--runs N]\n"
                   "                           [--precision f32|bf16|int8] [--image FILE]\n");
            return 0;
        } else if ((r = cli_take_value(argc, argv, &i, "--image", &v)) != 0) {
            if (r < 0) return 2;
            photo_path = v;
        } else if ((r = cli_take_value(argc, argv, &i, "--precision", &v)) != 0) {
            if (r < 0) return 2;
            prec_arg = v;
        } else if ((r = cli_take_value(argc, argv, &i, "--weights", &v)) != 0) {
            if (r < 0) return 2;
            weights = v;
        } else if ((r = cli_take_value(argc, argv, &i, "--threads", &v)) != 0) {
            if (r < 0 || parse_int(v, 1, 1024, &threads) != 0) return 2;
        } else if ((r = cli_take_value(argc, argv, &i, "--runs", &v)) != 0) {
            if (r < 0 || parse_int(v, 1, 1000, &runs) != 0) return 2;
        } else {
            fprintf(stderr, "vitrine bench embed: unknown argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (embed_precision("vitrine bench embed", prec_arg, &prec) != 0) return 2;
    char *photo = NULL;
    size_t photo_len = 0;
    if (photo_path) {
        int rc = file_read_all(photo_path, EMBED_MAX_FILE_BYTES, &photo, &photo_len);
        if (rc != 0) {
            fprintf(stderr, "vitrine bench embed: cannot read %s: %s\n", photo_path,
                    rc == ERR_NOTFOUND ? "no such file" : err_str(rc));
            return 1;
        }
    }
    nn_set_threads((int)threads);
    char err[1024];
    /* The f32 reference embeddings of the fidelity inputs first, from a
     * model freed before the measured one loads (its pages then do not
     * count in the RSS below). */
    ClipModel *m = NULL;
    if (clip_load(weights, &m, err, sizeof err) != 0) {
        fprintf(stderr, "vitrine bench embed: cannot load weights: %s\n", err);
        return 1;
    }
    int S = clip_image_size(m), dim = clip_embed_dim(m);
    size_t plane = (size_t)3 * S * S;
    float *photo_px = NULL;
    if (photo) {
        /* A file that is not an image stops here, before the runs (the
         * measured model preprocesses it the same way). */
        photo_px = xmalloc(BENCH_BATCH * plane * sizeof *photo_px);
        if (clip_preprocess_image(m, photo, photo_len, photo_px, err, sizeof err) != 0) {
            fprintf(stderr, "vitrine bench embed: %s: %s\n", photo_path, err);
            free(photo);
            free(photo_px);
            clip_free(m);
            return 1;
        }
    }
    float *px = xmalloc(BENCH_BATCH * plane * sizeof *px);
    float *ref = xmalloc((size_t)(BENCH_BATCH + BENCH_TEXTS) * dim * sizeof *ref);
    float *got = xmalloc((size_t)(BENCH_BATCH + BENCH_TEXTS) * dim * sizeof *got);
    /* Deterministic images: pseudo-random pixels in the normalised range,
     * blended with a smooth gradient (half the images) so that not all
     * are pure noise. */
    uint32_t seed = 12345;
    for (size_t i = 0; i < BENCH_BATCH * plane; i++) {
        seed = seed * 1664525u + 1013904223u;
        float noise = (float)(seed >> 8) / (float)(1u << 24) * 4.0f - 2.0f;
        size_t img = i / plane, pos = i % plane, ch = pos / ((size_t)S * S);
        size_t y = pos % ((size_t)S * S) / (size_t)S, x = pos % (size_t)S;
        float smooth = sinf((float)(x * (img + 1)) * 0.05f + (float)ch) *
                       cosf((float)y * 0.03f * (float)(ch + 1));
        px[i] = img % 2 ? noise : 0.25f * noise + 1.5f * smooth;
    }
    ClipState *st = clip_state_new(m, BENCH_BATCH);
    if (!st) {
        fprintf(stderr, "vitrine bench embed: out of memory\n");
        return 1;
    }
    bench_inputs(m, st, px, ref);
    clip_state_free(st);
    clip_free(m);
    m = NULL;
    if (clip_load_precision(weights, prec, &m, err, sizeof err) != 0) {
        fprintf(stderr, "vitrine bench embed: cannot load weights: %s\n", err);
        return 1;
    }
    double rss_loaded = bench_rss_mb();
    const ClipConfig *c = clip_config(m);
    fprintf(stderr,
            "bench embed: %s; vision %d wide x %d layers (patch %d), text %d x %d; "
            "precision %s (kernel %s)\n",
            nn_blas_info(), c->vision.width, c->vision.layers, c->patch_size, c->text.width,
            c->text.layers, nn_precision_name(prec), nn_quant_kernel(prec));
    /* The kernels chosen for this CPU (docs/arm64.md: checking a board). */
    fprintf(stderr, "bench embed: kernels: %s; vec %s; cpu %s\n", nn_kernels(), vec_backend(),
            cpu_describe());
    st = clip_state_new(m, BENCH_BATCH);
    if (!st) {
        fprintf(stderr, "vitrine bench embed: out of memory\n");
        return 1;
    }
    float *out = xmalloc((size_t)BENCH_BATCH * dim * sizeof *out);
    BenchCtx b = { .m = m, .st = st, .pixels = px, .out = out, .photo = photo,
                   .photo_len = photo_len, .photo_px = photo_px, .plane = plane };
    b.batch = 1;
    double m1, m8, mphoto = 0, mphoto8 = 0;
    double t1 = bench_best(bench_images, &b, (int)runs, BENCH_DEFAULT_SECONDS, &m1);
    b.batch = BENCH_BATCH;
    double t8 = bench_best(bench_images, &b, (int)runs, BENCH_DEFAULT_SECONDS, &m8);
    double tt = bench_best(bench_text, &b, (int)runs * 10, BENCH_DEFAULT_SECONDS / 2, NULL);
    double tprep = 0, tphoto = 0, tphoto8 = 0;
    if (photo) {
        tprep = bench_best(bench_photo_prep, &b, (int)runs, BENCH_DEFAULT_SECONDS / 2, NULL);
        tphoto = bench_best(bench_photo, &b, (int)runs, BENCH_DEFAULT_SECONDS, &mphoto);
        tphoto8 = bench_best(bench_photos, &b, (int)runs, BENCH_DEFAULT_SECONDS, &mphoto8);
    }
    double rss = bench_rss_mb();

    float *ga = xmalloc((size_t)BENCH_GEMM_M * BENCH_GEMM_K * sizeof *ga);
    float *gw = xmalloc((size_t)BENCH_GEMM_N * BENCH_GEMM_K * sizeof *gw);
    float *gc = xmalloc((size_t)BENCH_GEMM_M * BENCH_GEMM_N * sizeof *gc);
    for (size_t i = 0; i < (size_t)BENCH_GEMM_M * BENCH_GEMM_K; i++) ga[i] = (float)(i % 7) * 0.1f;
    for (size_t i = 0; i < (size_t)BENCH_GEMM_N * BENCH_GEMM_K; i++) gw[i] = (float)(i % 5) * 0.1f;
    b.a = ga;
    b.w = gw;
    b.c = gc;
    double tg = bench_best(bench_sgemm, &b, (int)runs, BENCH_DEFAULT_SECONDS / 2, NULL);
    double gemm_flops = 2.0 * BENCH_GEMM_M * BENCH_GEMM_K * BENCH_GEMM_N;

    printf("image batch=1: %.1f ms/image\n", t1 * 1e3);
    printf("image batch=8: %.1f ms/image\n", t8 * 1e3 / BENCH_BATCH);
    printf("text: %.1f ms/text\n", tt * 1e3);
    if (photo) {
        printf("photo batch=1: %.1f ms/photo (decode and preprocess %.1f ms of it)\n",
               tphoto * 1e3, tprep * 1e3);
        printf("photo batch=8: %.1f ms/photo\n", tphoto8 * 1e3 / BENCH_BATCH);
    }
    printf("sgemm: %.1f GFLOP/s\n", gemm_flops / tg / 1e9);
    printf("achieved: %.1f GFLOP/s\n", clip_flops_image(m) * BENCH_BATCH / t8 / 1e9);
    bench_inputs(m, st, px, got);
    bench_cosines("image", ref, got, 0, BENCH_BATCH, dim);
    bench_cosines("text", ref, got, BENCH_BATCH, BENCH_TEXTS, dim);
    fflush(stdout);
    fprintf(stderr,
            "bench embed: image tower %.2f GFLOP/image; batch=1 achieves %.1f GFLOP/s; "
            "RSS with the model loaded %.0f MB, after the runs %.0f MB\n",
            clip_flops_image(m) / 1e9, clip_flops_image(m) / t1 / 1e9, rss_loaded, rss);
    /* The sustained figures, for comparing a server's average rate. */
    fprintf(stderr, "bench embed: mean of the timed runs: image batch=1 %.1f ms/image, batch=8 %.1f ms/image",
            m1 * 1e3, m8 * 1e3 / BENCH_BATCH);
    if (photo)
        fprintf(stderr, "; photo batch=1 %.1f ms/photo, batch=8 %.1f ms/photo", mphoto * 1e3,
                mphoto8 * 1e3 / BENCH_BATCH);
    fprintf(stderr, "\n");
    free(ga);
    free(gw);
    free(gc);
    free(px);
    free(out);
    free(photo);
    free(photo_px);
    free(ref);
    free(got);
    clip_state_free(st);
    clip_free(m);
    return 0;
}
