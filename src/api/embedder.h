/*
 * embedder.h - the embedding service behind the HTTP API: CLIP inference
 * for texts and images, batched on one thread, with limits, a text cache
 * and metrics. The wire formats (OpenAI's /v1/embeddings, Qdrant's
 * Document and Image objects) call it; it speaks C, never JSON.
 *
 * Threads. Inference runs on ONE batcher thread (a work.h queue) that owns
 * the ClipState and uses nn's pool for the cores. Images are decoded and
 * preprocessed by the embedder's decode threads (one per CPU, at most
 * four), which run at a lower priority (nice 5): decoding fills the cores
 * inference leaves idle instead of preempting it, and the threadpool that
 * parses requests stays free for quick work such as a text query. A text
 * is tokenized and looked up in the cache by embedder_call_add on the
 * caller's thread. A prepared input joins its lane at once, so decoding
 * the next image overlaps the inference of the previous one.
 *
 * Lanes. Texts and images wait in two lanes; the batcher always serves the
 * text lane first, and cuts every batch where its estimated time (measured
 * seconds per image and per text token, updated after each batch) passes
 * EmbedderOptions.batch_ms. A text that arrives while an image batch runs
 * does not wait for it: it is embedded between two steps of the batch (a
 * layer's attention, a layer's MLP; in a side batch with its own state)
 * and answered at once, so it waits for one step of one batch (a few
 * milliseconds per image in the batch for full-size ViT-B/32 on two
 * cores), however many images are queued. Within a lane, calls
 * are served round-robin, one input each, so a one-text query is not
 * queued behind a 2000-text request, nor one photo behind a catalogue.
 * Images wait up to batch_wait_ms for a batch to fill when fewer than the
 * batch size are queued; texts never wait.
 *
 * Two ways to call it:
 *
 *   synchronous: embedder_embed(e, in, n, out, st, flags) from a thread
 *     that may block (a threadpool job, the writer thread; never the loop):
 *     prepares the texts on the calling thread, hands the images to the
 *     decode threads and waits on a condition variable until every input
 *     is embedded.
 *
 *   asynchronous, for the loop: embedder_call_new reserves queue room,
 *     embedder_call_add (any thread, typically threadpool jobs) prepares
 *     and queues each input, embedder_call_finish (loop thread) asks for a
 *     callback on the loop once every input is done. Nothing blocks.
 *
 * Results are L2-normalised embeddings of embedder_dim floats, written in
 * input order into the caller's out array; per input an EmbedStatus says
 * whether it worked and why not. The inputs' bytes, out and the statuses
 * must stay valid until the call is complete.
 *
 * Without weights (the serve config's have_weights is 0) an Embedder still
 * exists: every call fails with ERR_UNSUPPORTED and embedder_unavailable
 * says how to install weights.
 */
#ifndef VITRINE_API_EMBEDDER_H
#define VITRINE_API_EMBEDDER_H

#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "model/image.h"
#include "model/nn_quant.h"

struct uv_loop_s; /* from uv.h (see server/work.h) */

/* ---- limits and tuning: MIN / DEFAULT / MAX, each a serve flag (v1.h) ---- */

/* Encoded bytes of one image (after base64 decoding). */
#define EMBED_MIN_IMAGE_BYTES ((size_t)1024)
#define EMBED_DEFAULT_IMAGE_BYTES ((size_t)16 << 20)
#define EMBED_MAX_IMAGE_BYTES IMAGE_MAX_BYTES
/* Pixels one image may declare (width x height, read from its header
 * before decoding): a decode costs 3 bytes per pixel. */
#define EMBED_MIN_PIXELS ((int64_t)64 * 64)
#define EMBED_DEFAULT_PIXELS ((int64_t)IMAGE_MAX_PIXELS)
#define EMBED_MAX_PIXELS ((int64_t)IMAGE_MAX_PIXELS)
/* Texts in one request (OpenAI's own limit is 2048 inputs). */
#define EMBED_MIN_TEXTS 1
#define EMBED_DEFAULT_TEXTS 2048
#define EMBED_MAX_TEXTS 65536
/* Images in one request: each holds 600 KB of preprocessed pixels while
 * it waits for the batcher. */
#define EMBED_MIN_IMAGES 1
#define EMBED_DEFAULT_IMAGES 64
#define EMBED_MAX_IMAGES 4096
/* Inputs admitted and not yet embedded, all calls together; a call that
 * does not fit is refused whole (ERR_FULL: 503 with Retry-After). */
#define EMBED_MIN_QUEUE 1
#define EMBED_DEFAULT_QUEUE 4096
#define EMBED_MAX_QUEUE 65536
/* Inputs in one inference batch (one GEMM per layer for all of them). */
#define EMBED_MIN_BATCH 1
#define EMBED_DEFAULT_BATCH 8
#define EMBED_MAX_BATCH 64
/* An image batch is cut where its estimated time passes this (at least
 * one input per batch), which bounds how long an image waits behind
 * others; texts do not wait for image batches (texts first). 500 ms
 * lets full-size ViT-B/32 batch 5-8 images on two cores: measured on a
 * 2-vCPU Xeon, 13% more images/s in f32 and 50% more in int8 with 8
 * clients than with 50 ms (batches of one), text p99 unchanged. */
#define EMBED_MIN_BATCH_MS 1
#define EMBED_DEFAULT_BATCH_MS 500
#define EMBED_MAX_BATCH_MS 60000
/* How long a partial image batch waits for more images. By default it
 * does not: images already received still being decoded are waited for
 * (EMBED_DECODE_WAIT_MS), which is what gathers concurrent uploads into
 * one batch, and a further wait only delays a lone photo. Measured with
 * tools/bench_v1.py (rocket.jpg, full-size random weights, 2-vCPU Xeon),
 * 2 ms against 0 alternated twice: one client 31.1 / 34.2 -> 28.3 / 31.7
 * ms an image in int8 and 94.2 / 101.4 -> 92.9 / 94.7 in f32; eight
 * clients within the runs' spread (int8 51.2 / 45.3 against 47.0 / 51.9
 * images/s, f32 13.6 / 13.5 against 13.8 / 13.2). */
#define EMBED_MIN_BATCH_WAIT_MS 0
#define EMBED_DEFAULT_BATCH_WAIT_MS 0
#define EMBED_MAX_BATCH_WAIT_MS 1000
/* Text embeddings kept in the LRU cache (2 KB each for ViT-B/32); 0 turns
 * it off. */
#define EMBED_MIN_TEXT_CACHE 0
#define EMBED_DEFAULT_TEXT_CACHE 4096
#define EMBED_MAX_TEXT_CACHE (1 << 20)
/* Bytes of one text. CLIP reads 77 tokens (a few hundred characters) and
 * truncates the rest; the bound only caps the tokenizer's work. */
#define EMBED_MAX_TEXT_BYTES ((size_t)64 * 1024)
/* One input's error message. */
#define EMBED_MAX_MESSAGE 320

typedef struct {
    size_t max_image_bytes;
    int64_t max_pixels;
    size_t max_texts;  /* per call */
    size_t max_images; /* per call */
    size_t queue;
    int batch;
    unsigned batch_ms;
    unsigned batch_wait_ms;
    size_t text_cache;
    NnPrecision precision; /* of the model's linear layers (clip_load_precision); f32 */
} EmbedderOptions;

/* embedder_options_default fills every field with its EMBED_DEFAULT_. */
void embedder_options_default(EmbedderOptions *o);

/* ---- the service ---- */

typedef struct Embedder Embedder;

/*
 * embedder_start loads the CLIP folder weights_dir when have_weights (else
 * it runs without a model, and embedder_unavailable names weights_dir in
 * its advice), allocates the inference state and starts the batcher thread on
 * loop, which first warms the model up (pages the weights in, measures the
 * time per image and per token). Start-up only: blocks for the load.
 * Returns 0, or clip_load's error with err naming the file, or ERR_INVAL
 * for options outside their MIN..MAX.
 */
int embedder_start(struct uv_loop_s *loop, const char *weights_dir, int have_weights,
                   const EmbedderOptions *opt, Embedder **out, char *err, size_t errlen);
/*
 * embedder_stop refuses new calls (ERR_BUSY), fails the inputs still in
 * the lanes with ERR_BUSY (their async callbacks run now), lets the batch
 * in progress finish and joins the batcher. Loop thread, at shutdown.
 */
void embedder_stop(Embedder *e);
/* embedder_free releases everything once the loop has ended. */
void embedder_free(Embedder *e);

/* 1 when weights are loaded. */
int embedder_ready(const Embedder *e);
/* Why there is no model (a sentence saying how to install weights), or
 * NULL when ready. */
const char *embedder_unavailable(const Embedder *e);
/* The embedding dimension (projection_dim: 512 for ViT-B/32); 0 without weights. */
int embedder_dim(const Embedder *e);
/* exp(logit_scale), CLIP's factor on cosine similarities; 0 without weights. */
float embedder_logit_scale(const Embedder *e);
/* The tokens one image counts as in usage figures: the vision tower's
 * patches plus the class token (50 for ViT-B/32). */
int embedder_image_tokens(const Embedder *e);
const EmbedderOptions *embedder_options(const Embedder *e);

/*
 * Model names. The model's id is its weights folder's name
 * ("clip-vit-base-patch32"); EMBED_MODEL_ALIASES are accepted too (the
 * names OpenAI's and Qdrant's clients use for the same model).
 * embedder_model_name(e, i) returns name i (0 is the id), NULL past the
 * last; embedder_model_known says whether name is one of them (exact,
 * case-sensitive, as the model names on Hugging Face).
 */
#define EMBED_MODEL_ALIASES \
    { "openai/clip-vit-base-patch32", "Qdrant/clip-ViT-B-32-vision", "Qdrant/clip-ViT-B-32-text" }
const char *embedder_model_name(const Embedder *e, size_t i);
int embedder_model_known(const Embedder *e, const char *name);
/* The weights folder's modification time (seconds since the epoch), for
 * OpenAI's "created"; 0 when unknown. */
int64_t embedder_model_created(const Embedder *e);

/* ---- inputs and results ---- */

typedef enum { EMBED_TEXT = 0, EMBED_IMAGE = 1 } EmbedKind;

/* One thing to embed: UTF-8 text, or the bytes of an encoded image (JPEG,
 * PNG, GIF, BMP, WebP). */
typedef struct {
    EmbedKind kind;
    const void *data;
    size_t len;
} EmbedInput;

/* The outcome for one input. */
typedef struct {
    /* 0: embedded. ERR_INVAL (bad text: empty, invalid UTF-8, too long),
     * ERR_FORMAT (not an image, corrupt, truncated), ERR_TOOLARGE (image
     * bytes or pixels over the limit, too many inputs), ERR_UNSUPPORTED
     * (no weights), ERR_FULL (queue full, or too many decoded images
     * waiting: retry later), ERR_BUSY (stopping,
     * or skipped because another input of an EMBED_FAIL_FAST call failed). */
    int code;
    /* Usage: a text's CLIP tokens (start and end included, at most 77),
     * an image's embedder_image_tokens. Set for embedded inputs. */
    int tokens;
    /* From the text cache (no inference ran). */
    int cached;
    char message[EMBED_MAX_MESSAGE]; /* when code != 0: one sentence */
} EmbedStatus;

/* Call flags. EMBED_FAIL_FAST: once one input fails, inputs of the same
 * call that have not reached the batcher are skipped (ERR_BUSY), for
 * callers that refuse the whole request anyway. */
#define EMBED_FAIL_FAST 1u

/*
 * embedder_check_counts refuses a request with more texts or images than
 * the options allow: ERR_TOOLARGE with a sentence naming the limit and
 * its flag. embedder_embed checks this itself; async callers call it
 * before embedder_call_new.
 */
int embedder_check_counts(const Embedder *e, size_t n_texts, size_t n_images, char *err,
                          size_t errlen);

/*
 * embedder_embed embeds in[0..n) into out (n, embedder_dim), blocking
 * until done; st[0..n) receives each input's outcome. Call it from a
 * thread that may block (threadpool job, writer thread), never from the
 * loop: it waits. The decode threads decode the images, each queued for
 * the batcher as soon as it is ready. Returns 0 when every input
 * was embedded; otherwise the code of the lowest-index failure other than
 * a skip. When nothing could start (no weights, queue full, too many
 * inputs, stopping), every st[i] holds that same code and message.
 */
int embedder_embed(Embedder *e, const EmbedInput *in, size_t n, float *out, EmbedStatus *st,
                   unsigned flags);

/* ---- the asynchronous form ---- */

typedef struct EmbedCall EmbedCall;

/* Runs on the loop thread when every input of a call is done. status is
 * what embedder_embed would return. */
typedef void (*EmbedDoneFn)(void *arg, int status);

/*
 * embedder_call_new starts a call of n inputs whose results go to out
 * (n, embedder_dim) and st[0..n): it reserves n places in the queue, all or
 * nothing. Any thread. Returns 0, ERR_UNSUPPORTED (no weights), ERR_FULL
 * (queue full), ERR_BUSY (stopping), ERR_INVAL (n is 0); on error *out_call
 * is NULL and every st[i] holds the code and message.
 */
int embedder_call_new(Embedder *e, size_t n, float *out, EmbedStatus *st, unsigned flags,
                      EmbedCall **out_call);
/*
 * embedder_call_add prepares input i (an image is checked against the
 * byte and pixel limits from its header here, then decoded and
 * preprocessed by a decode thread; a text is checked, looked up in the
 * cache and tokenized here) and queues it for the batcher, or records its
 * failure in st[i]. Call it exactly once per input, from any thread
 * except the loop (tokenizing a long text takes a while); different
 * inputs of one call may be added from different threads at once. An
 * image's bytes are read after this returns, until the call completes.
 */
void embedder_call_add(EmbedCall *c, size_t i, const EmbedInput *in);
/* embedder_call_fail finishes input i without embedding it (the caller
 * found it invalid after embedder_call_new), instead of embedder_call_add. */
void embedder_call_fail(EmbedCall *c, size_t i, int code, const char *message);
/*
 * embedder_call_wait blocks until every input is done, frees c and returns
 * as embedder_embed does. Once every input was added or failed; not on the
 * loop thread.
 */
int embedder_call_wait(EmbedCall *c);
/*
 * embedder_call_finish asks for done(arg, status) on the loop thread once
 * every input is done, then frees c. Loop thread, once every input was
 * added or failed. When they are all done already, done runs before this
 * returns.
 */
void embedder_call_finish(EmbedCall *c, EmbedDoneFn done, void *arg);

/* ---- images in JSON ---- */

/*
 * embedder_image_from_string turns an image as JSON carries it into bytes:
 * standard or URL-safe base64 (padding optional, whitespace ignored), or
 * a `data:image/<type>;base64,...` URL. A URL (http://, https://, any
 * scheme://) is refused with ERR_INVAL and a sentence saying that the
 * server fetches nothing; bad base64, a data: URL of another media type or
 * not base64, or an empty string is ERR_INVAL; more than max_image_bytes
 * once decoded is ERR_TOOLARGE. The bytes go into arena. err gets one
 * sentence. Thread-safe (the arena is the caller's).
 */
int embedder_image_from_string(const Embedder *e, Arena *arena, const char *s, size_t len,
                               const void **bytes, size_t *n, char *err, size_t errlen);

#endif
