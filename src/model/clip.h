/*
 * clip.h - CLIP (OpenAI's ViT image tower and text tower) in C on OpenBLAS.
 *
 * Design (llama2.c's three structs). ClipModel holds the configuration
 * (from config.json), the weights (pointers into the mmap'd
 * model.safetensors; F16/BF16 tensors are converted to F32 once, at load,
 * but for the token embedding, whose rows are converted as texts use them)
 * and the tokenizer and preprocessing settings. It is read-only after
 * clip_load, so any number of threads may share it. ClipState holds every
 * activation buffer for up to max_batch inputs, allocated once; a forward
 * pass never allocates. One ClipState per thread.
 *
 * Batching: the tokens of all images of a batch are stacked into one
 * matrix, so every linear layer is one GEMM with batch * tokens rows;
 * attention runs per image and head. Texts are stacked the same way,
 * ragged: a text contributes only its tokens up to the end token, since
 * under the causal mask later positions cannot change the pooled output.
 * More inputs than max_batch are processed in chunks of max_batch.
 *
 * The math is transformers' CLIPModel (see tests/fixtures/clip/README.md):
 * pre-LN blocks, quick_gelu, causal text attention, CLS pooling after
 * post_layernorm for images, end-token pooling after final_layer_norm for
 * texts, projections without bias. Embeddings are raw projections unless
 * normalize is set (then L2-normalised).
 */
#ifndef VITRINE_CLIP_H
#define VITRINE_CLIP_H

#include <stddef.h>
#include <stdint.h>

#include "model/nn_quant.h"
#include "model/tokenizer.h"

/* Bounds on what clip_load accepts from config.json (B/32 is 768 wide, 12
 * layers; L/14 1024 wide, 24 layers; a bigger config is not a CLIP we serve). */
#define CLIP_MAX_WIDTH 4096
#define CLIP_MAX_LAYERS 64
#define CLIP_MAX_HEADS 64
#define CLIP_MAX_IMAGE_SIZE 1024
#define CLIP_MAX_POSITIONS 1024
/* The largest batch a ClipState can be made for. */
#define CLIP_MIN_BATCH 1
#define CLIP_DEFAULT_BATCH 8
#define CLIP_MAX_BATCH 256
/* config.json is a few kilobytes. */
#define CLIP_MAX_CONFIG_BYTES (1024 * 1024)

typedef struct ClipModel ClipModel;
typedef struct ClipState ClipState;

/* The dimensions read from config.json. */
typedef struct {
    int width, layers, heads, mlp; /* hidden_size, num_hidden_layers, ... */
    float eps;                     /* layer_norm_eps */
    int gelu_exact;                /* hidden_act "gelu" (1) or "quick_gelu" (0) */
} ClipTowerConfig;

typedef struct {
    ClipTowerConfig vision, text;
    int image_size, patch_size, channels; /* vision: 224, 32, 3 for B/32 */
    int positions, vocab;                 /* text: 77, 49408 */
    int proj_dim;                         /* projection_dim: 512 for B/32 */
} ClipConfig;

/*
 * clip_load reads a Hugging Face CLIP folder (config.json, model.safetensors,
 * vocab.json, merges.txt, preprocessor_config.json) and validates it: every
 * tensor the towers use must be present with the shape config.json implies
 * and a float dtype. On failure *out is NULL and err names the file and the
 * tensor; the result is ERR_NOTFOUND, ERR_IO, ERR_FORMAT, ERR_UNSUPPORTED or
 * ERR_NOMEM.
 */
int clip_load(const char *dir, ClipModel **out, char *err, size_t errlen);
/*
 * clip_load_precision is clip_load with the linear layers in precision
 * prec: NN_PREC_F32 (clip_load: the reference), NN_PREC_BF16 or
 * NN_PREC_INT8 (weights converted at load, their float32 pages released;
 * under int8 the two projections are bf16). Layer
 * norms, softmax, attention and residuals stay float32 in every precision.
 * The fidelity each precision keeps is tested in tests/test_clip_precision.c
 * and documented in docs/operations.md.
 */
int clip_load_precision(const char *dir, NnPrecision prec, ClipModel **out, char *err,
                        size_t errlen);
NnPrecision clip_precision(const ClipModel *m);
/* clip_config_load reads and checks config.json alone (clip_load's first
 * step; the fuzz target tests/fuzz_model_config.c drives it): 0, or
 * ERR_NOTFOUND, ERR_IO, ERR_TOOLARGE, ERR_FORMAT, ERR_UNSUPPORTED with err
 * naming the path and the key. */
int clip_config_load(const char *path, ClipConfig *c, char *err, size_t errlen);
void clip_free(ClipModel *m);

const ClipConfig *clip_config(const ClipModel *m);
int clip_embed_dim(const ClipModel *m);  /* projection_dim */
int clip_image_size(const ClipModel *m); /* the square input side (224) */
/* exp(logit_scale): the factor CLIP multiplies cosine similarities by. */
float clip_logit_scale(const ClipModel *m);
const ClipTokenizer *clip_tokenizer(const ClipModel *m);

/*
 * clip_flops_image returns the floating-point operations (2 per
 * multiply-add) of one image through the vision tower and projection, as
 * computed (the last layer runs only for the pooled token: 8.24 GFLOP for
 * ViT-B/32 against 8.82 for every token); clip_flops_text the same for a
 * text of n_tokens tokens.
 */
double clip_flops_image(const ClipModel *m);
double clip_flops_text(const ClipModel *m, int n_tokens);

/* clip_state_new allocates scratch for batches of up to max_batch inputs
 * (clamped to CLIP_MIN_BATCH..CLIP_MAX_BATCH); NULL when out of memory. */
ClipState *clip_state_new(const ClipModel *m, int max_batch);
void clip_state_free(ClipState *s);

/*
 * clip_state_set_yield makes every image batch encoded with s call fn(arg)
 * between two encoder layers and between each layer's attention and MLP
 * (22 times per batch for B/32's 12 layers), on the calling thread; fn = NULL turns it off. Texts never yield (a text
 * batch is short). A server uses it to run a waiting text
 * query in the middle of an image batch instead of after it: fn may run
 * the model with ANOTHER ClipState (s holds the batch's activations, and
 * nn's threads are idle between layers), never with s.
 */
typedef void (*ClipYieldFn)(void *arg);
void clip_state_set_yield(ClipState *s, ClipYieldFn fn, void *arg);

/*
 * clip_encode_images embeds n images given as preprocessed pixels
 * (n, 3, S, S) with S = clip_image_size, into out (n, clip_embed_dim).
 * Returns 0 or ERR_INVAL (n < 0).
 */
int clip_encode_images(const ClipModel *m, ClipState *s, const float *pixels, int n, float *out,
                       int normalize);

/*
 * clip_encode_tokens embeds n tokenized texts into out (n, clip_embed_dim).
 * ids holds n rows of TOKENIZER_MAX_TOKENS int32 (fixed stride; padding is
 * ignored); lens[i] is how many ids row i holds (1..TOKENIZER_MAX_TOKENS
 * and at most the model's positions). Each text is pooled at the first
 * position of its largest id (the end token, as transformers does) and
 * computed only that far. Returns 0 or ERR_INVAL (a bad length, an id
 * outside the vocabulary).
 */
int clip_encode_tokens(const ClipModel *m, ClipState *s, const int32_t *ids, const int *lens,
                       int n, float *out, int normalize);

/*
 * clip_embed_text tokenizes utf8[0..len) with the model's tokenizer and
 * embeds it. Returns 0, ERR_INVAL (invalid UTF-8) or ERR_TOOLARGE.
 */
int clip_embed_text(const ClipModel *m, ClipState *s, const char *utf8, size_t len, float *out,
                    int normalize);

/*
 * clip_embed_image decodes an encoded image (JPEG, PNG, GIF, BMP, WebP),
 * preprocesses it as CLIPImageProcessor does and embeds it. Returns 0 or
 * the decoder's error (ERR_FORMAT, ERR_TOOLARGE, ERR_NOMEM) with a
 * sentence in err.
 */
int clip_embed_image(const ClipModel *m, ClipState *s, const void *bytes, size_t len, float *out,
                     int normalize, char *err, size_t errlen);

/*
 * clip_preprocess_image decodes and preprocesses one encoded image into
 * pixels (3, S, S) (caller-owned), for callers that batch several images
 * into one clip_encode_images call.
 */
int clip_preprocess_image(const ClipModel *m, const void *bytes, size_t len, float *pixels,
                          char *err, size_t errlen);

#endif
