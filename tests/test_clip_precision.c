/*
 * test_clip_precision.c - the fidelity contract of the bf16 and int8
 * models (clip_load_precision) against the float32 model, which
 * test_clip_parity ties to the PyTorch reference.
 *
 * On both fixture models, for every fixture image (from the expected
 * pixels) and every fixture text (from the expected token ids):
 * - cosine of each embedding to the f32 one: bf16 >= 0.9995, int8 >= 0.998;
 * - zero-shot top-1 (the fixture texts as labels) identical to f32's, or
 *   a label f32 scored within ZS_TIE of its top-1 (a near-tie, counted
 *   and printed);
 * - image-to-image ranking identical to f32's wherever f32's two scores
 *   differ by more than 0.01;
 * - the embeddings of the scalar reference kernels and of this CPU's
 *   kernels identical to the bit, and on 1 and 2 threads too.
 * With VITRINE_TEST_FULLSIZE naming a full-size model folder (random
 * weights from tools/gen_weights.py; see docs/operations.md), the same
 * contract runs on it with the fixture inputs (a benchmark-sized run,
 * not part of make test).
 */
#include "model/clip.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/err.h"
#include "base/json.h"
#include "base/util.h"
#include "harness.h"
#include "model/nn.h"
#include "model/nn_quant.h"

#define MIN_COS_BF16 0.9995
#define MIN_COS_INT8 0.998
/* Image pairs whose f32 scores differ by more than this keep their order. */
#define RANK_MARGIN 0.01
/* Zero-shot: a different top-1 label counts as a flip unless f32 scored it
 * within this of its own top-1 (a near-tie of random weights: the fixture
 * models have a label 0.00008 from the top, below bf16's resolution). */
#define ZS_TIE 0.005
#define FULLSIZE_ENV "VITRINE_TEST_FULLSIZE"

/* The fixture inputs: every image's pixels and every text's ids. */
typedef struct {
    Arena arena;
    int nimg, ntxt, side;
    const char **names; /* (nimg) */
    float *pixels;  /* (nimg, 3, side, side) */
    int32_t *ids;   /* (ntxt, TOKENIZER_MAX_TOKENS) */
    int *lens;      /* (ntxt) */
} Inputs;

/* One model's normalised embeddings of the inputs. */
typedef struct {
    int dim;
    float *img; /* (nimg, dim) */
    float *txt; /* (ntxt, dim) */
} Embeds;

static int inputs_load(Inputs *in, const char *fixture_model)
{
    memset(in, 0, sizeof *in);
    char rel[256], err[256];
    snprintf(rel, sizeof rel, "expected/%s/outputs.json", fixture_model);
    char *text = NULL;
    size_t len = 0;
    if (file_read_all(fixture_path(rel), (size_t)1 << 26, &text, &len) != 0) return -1;
    arena_init(&in->arena, ARENA_DEFAULT_CHUNK);
    JsonValue *root = NULL;
    int rc = json_parse(&in->arena, text, len, &root, err, sizeof err);
    free(text);
    if (rc != 0) return -1;
    const JsonValue *images = json_get(root, "images"), *texts = json_get(root, "texts");
    if (!images || images->type != JSON_OBJECT || !texts || texts->type != JSON_ARRAY) return -1;
    in->side = 224;
    size_t plane = (size_t)3 * in->side * in->side;
    in->nimg = (int)images->len;
    in->ntxt = (int)texts->len;
    in->names = calloc((size_t)in->nimg, sizeof *in->names);
    in->pixels = malloc((size_t)in->nimg * plane * sizeof *in->pixels);
    in->ids = calloc((size_t)in->ntxt * TOKENIZER_MAX_TOKENS, sizeof *in->ids);
    in->lens = calloc((size_t)in->ntxt, sizeof *in->lens);
    for (int i = 0; i < in->nimg; i++) {
        in->names[i] = images->u.members[i].key;
        snprintf(rel, sizeof rel, "expected/pixels/%s.f32", in->names[i]);
        char *data = NULL;
        if (file_read_all(fixture_path(rel), (size_t)1 << 24, &data, &len) != 0 ||
            len != plane * sizeof(float)) {
            free(data);
            return -1;
        }
        memcpy(in->pixels + (size_t)i * plane, data, len);
        free(data);
    }
    for (int t = 0; t < in->ntxt; t++) {
        const JsonValue *a = json_get(&texts->u.items[t], "input_ids");
        if (!a || a->type != JSON_ARRAY || a->len < 1 || a->len > TOKENIZER_MAX_TOKENS) return -1;
        for (uint32_t j = 0; j < a->len; j++) {
            int64_t v;
            if (json_as_int64(&a->u.items[j], &v)) return -1;
            in->ids[(size_t)t * TOKENIZER_MAX_TOKENS + j] = (int32_t)v;
        }
        in->lens[t] = (int)a->len;
    }
    return 0;
}

static void inputs_free(Inputs *in)
{
    free(in->names);
    free(in->pixels);
    free(in->ids);
    free(in->lens);
    arena_free(&in->arena);
}

static void embeds_free(Embeds *e)
{
    free(e->img);
    free(e->txt);
}

/* embed_all loads dir in precision p and embeds every input (images in
 * batches of 4, texts in one ragged batch, as the server does). */
static int embed_all(const char *dir, NnPrecision p, const Inputs *in, Embeds *e)
{
    ClipModel *m = NULL;
    char err[512];
    memset(e, 0, sizeof *e);
    if (clip_load_precision(dir, p, &m, err, sizeof err) != 0) {
        printf("  clip_load_precision(%s, %s): %s\n", dir, nn_precision_name(p), err);
        return -1;
    }
    ClipState *s = clip_state_new(m, 4);
    e->dim = clip_embed_dim(m);
    e->img = malloc((size_t)in->nimg * e->dim * sizeof *e->img);
    e->txt = malloc((size_t)in->ntxt * e->dim * sizeof *e->txt);
    int rc = clip_image_size(m) == in->side ? 0 : -1;
    if (rc == 0) rc = clip_encode_images(m, s, in->pixels, in->nimg, e->img, 1);
    if (rc == 0) rc = clip_encode_tokens(m, s, in->ids, in->lens, in->ntxt, e->txt, 1);
    clip_state_free(s);
    clip_free(m);
    return rc;
}

static double dot(const float *a, const float *b, int n)
{
    double d = 0;
    for (int i = 0; i < n; i++) d += (double)a[i] * b[i];
    return d;
}

static int argmax_label(const Embeds *e, int img, int ntxt)
{
    int best = 0;
    double bs = -2;
    for (int t = 0; t < ntxt; t++) {
        double s = dot(e->img + (size_t)img * e->dim, e->txt + (size_t)t * e->dim, e->dim);
        if (s > bs) {
            bs = s;
            best = t;
        }
    }
    return best;
}

/* check_contract compares got (precision p) with ref (f32); returns the
 * number of violations, printing each and the summary. */
static int check_contract(const char *what, NnPrecision p, const Inputs *in, const Embeds *ref,
                          const Embeds *got)
{
    double min_cos = p == NN_PREC_BF16 ? MIN_COS_BF16 : MIN_COS_INT8;
    int bad = 0, dim = ref->dim;
    double worst_img = 2, worst_txt = 2, sum = 0;
    for (int i = 0; i < in->nimg; i++) {
        double c = dot(ref->img + (size_t)i * dim, got->img + (size_t)i * dim, dim);
        sum += c;
        worst_img = fmin(worst_img, c);
        if (c < min_cos) {
            printf("  %s %s image %s: cosine %.6f < %.4f\n", what, nn_precision_name(p),
                   in->names[i], c, min_cos);
            bad++;
        }
    }
    for (int t = 0; t < in->ntxt; t++) {
        double c = dot(ref->txt + (size_t)t * dim, got->txt + (size_t)t * dim, dim);
        sum += c;
        worst_txt = fmin(worst_txt, c);
        if (c < min_cos) {
            printf("  %s %s text %d: cosine %.6f < %.4f\n", what, nn_precision_name(p), t, c,
                   min_cos);
            bad++;
        }
    }
    int flips = 0, ties = 0;
    for (int i = 0; i < in->nimg; i++) {
        int a = argmax_label(ref, i, in->ntxt), b = argmax_label(got, i, in->ntxt);
        if (a != b) {
            const float *ri = ref->img + (size_t)i * dim;
            double sa = dot(ri, ref->txt + (size_t)a * dim, dim);
            double sb = dot(ri, ref->txt + (size_t)b * dim, dim);
            printf("  %s %s image %s: zero-shot top-1 text %d, f32 says %d (f32 margin %.6f)\n",
                   what, nn_precision_name(p), in->names[i], b, a, sa - sb);
            if (sa - sb > ZS_TIE)
                flips++;
            else
                ties++;
        }
    }
    int pairs = 0, swapped = 0;
    for (int i = 0; i < in->nimg; i++)
        for (int j = 0; j < in->nimg; j++)
            for (int k = j + 1; k < in->nimg; k++) {
                if (j == i || k == i) continue;
                const float *qi = ref->img + (size_t)i * dim, *gi = got->img + (size_t)i * dim;
                double rj = dot(qi, ref->img + (size_t)j * dim, dim);
                double rk = dot(qi, ref->img + (size_t)k * dim, dim);
                if (fabs(rj - rk) <= RANK_MARGIN) continue;
                pairs++;
                double gj = dot(gi, got->img + (size_t)j * dim, dim);
                double gk = dot(gi, got->img + (size_t)k * dim, dim);
                if ((rj > rk) != (gj > gk)) {
                    printf("  %s %s: for image %s, %s (f32 %.4f) and %s (f32 %.4f) swap\n", what,
                           nn_precision_name(p), in->names[i], in->names[j], rj, in->names[k],
                           rk);
                    swapped++;
                }
            }
    printf("  %s %s: cosine mean %.6f, worst image %.6f, worst text %.6f; zero-shot top-1 "
           "identical for %d of %d images (%d near-ties, %d flips); ranking swaps %d of %d "
           "pairs\n",
           what, nn_precision_name(p), sum / (in->nimg + in->ntxt), worst_img, worst_txt,
           in->nimg - ties - flips, in->nimg, ties, flips, swapped, pairs);
    return bad + flips + swapped;
}

static void check_model(const char *what, const char *dir, const Inputs *in)
{
    Embeds ref, got;
    if (embed_all(dir, NN_PREC_F32, in, &ref) != 0) HARNESS_FAIL("%s: f32 embedding failed", what);
    int bad = 0;
    for (int pi = 0; pi < 2; pi++) {
        NnPrecision p = pi ? NN_PREC_INT8 : NN_PREC_BF16;
        if (embed_all(dir, p, in, &got) != 0) {
            bad++;
            continue;
        }
        bad += check_contract(what, p, in, &ref, &got);
        embeds_free(&got);
    }
    embeds_free(&ref);
    ASSERT_EQ_INT(bad, 0);
}

static Inputs inputs_p32;

TEST(test_fidelity_tiny_p32)
{
    check_model("tiny-p32", fixture_path("models/tiny-p32"), &inputs_p32);
}

TEST(test_fidelity_tiny_p16)
{
    Inputs in;
    if (inputs_load(&in, "tiny-p16") != 0) HARNESS_FAIL("cannot read the tiny-p16 fixture");
    check_model("tiny-p16", fixture_path("models/tiny-p16"), &in);
    inputs_free(&in);
}

TEST(test_kernels_and_threads_agree)
{
    /* The whole model through the scalar kernels, this CPU's kernels, and
     * on 1 and 2 threads: the same bits. */
    const char *dir = fixture_path("models/tiny-p32");
    /* The first 8 images and every text: the scalar kernels are slow
     * under the sanitizers, and 8 images already span 400 rows. */
    Inputs few = inputs_p32;
    few.nimg = 8;
    for (int pi = 0; pi < 2; pi++) {
        NnPrecision p = pi ? NN_PREC_INT8 : NN_PREC_BF16;
        Embeds best, scalar, one;
        nn_set_threads(2);
        ASSERT_OK(embed_all(dir, p, &few, &best));
        ASSERT_OK(nn_quant_set_kernel(p, 0));
        ASSERT_OK(embed_all(dir, p, &few, &scalar));
        ASSERT_OK(nn_quant_set_kernel(p, -1));
        nn_set_threads(1);
        ASSERT_OK(embed_all(dir, p, &few, &one));
        nn_set_threads(2);
        size_t ib = (size_t)few.nimg * best.dim * sizeof(float);
        size_t tb = (size_t)few.ntxt * best.dim * sizeof(float);
        if (p == NN_PREC_BF16 && strstr(nn_quant_kernel(p), "amx")) {
            /* AMX's bf16 sums round in their own order (nn_quant.h). */
            double worst = 1;
            for (int i = 0; i < few.nimg; i++)
                worst = fmin(worst, dot(best.img + (size_t)i * best.dim,
                                        scalar.img + (size_t)i * best.dim, best.dim));
            for (int t = 0; t < few.ntxt; t++)
                worst = fmin(worst, dot(best.txt + (size_t)t * best.dim,
                                        scalar.txt + (size_t)t * best.dim, best.dim));
            printf("  bf16: AMX against the scalar kernel: worst cosine %.9f\n", worst);
            ASSERT_GE(worst, 0.99995);
        } else {
            ASSERT_TRUE(memcmp(best.img, scalar.img, ib) == 0 &&
                        memcmp(best.txt, scalar.txt, tb) == 0);
        }
        ASSERT_TRUE(memcmp(best.img, one.img, ib) == 0 && memcmp(best.txt, one.txt, tb) == 0);
        printf("  %s: kernel %s agrees with scalar, 1 thread = 2 threads\n",
               nn_precision_name(p), nn_quant_kernel(p));
        embeds_free(&best);
        embeds_free(&scalar);
        embeds_free(&one);
    }
}

TEST(test_fidelity_fullsize)
{
    const char *dir = getenv(FULLSIZE_ENV);
    if (!dir || !*dir) {
        SKIP("set " FULLSIZE_ENV " to a full-size model folder (tools/gen_weights.py)");
    }
    check_model("full-size", dir, &inputs_p32);
}

int main(void)
{
    if (inputs_load(&inputs_p32, "tiny-p32") != 0)
        return harness_skip_all(__FILE__, "the CLIP fixtures are missing");
    RUN(test_fidelity_tiny_p32);
    RUN(test_fidelity_tiny_p16);
    RUN(test_kernels_and_threads_agree);
    RUN(test_fidelity_fullsize);
    inputs_free(&inputs_p32);
    return harness_report(__FILE__);
}
