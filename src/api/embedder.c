/*
 * embedder.c - the embedding service declared in embedder.h: input
 * preparation on the callers' threads, two lanes, one batcher thread, the
 * text cache and the metrics.
 *
 * Design.
 *
 * A call is one heap block: the EmbedCall and one EmbedUnit per input.
 * A unit is prepared by embedder_call_add on the caller's thread (tokens,
 * or preprocessed pixels) and linked into its call's pending list for its
 * kind; a call with pending units of a kind sits once in that kind's lane.
 * Everything shared (lanes, counts, each call's `remaining`) is guarded by
 * Embedder.mu; the outputs and statuses of a unit are written by whoever
 * finishes it before it takes the lock to count it done, so the waiter,
 * which reads them after seeing remaining == 0 under the same lock, sees
 * them.
 *
 * The batcher thread is a work.h queue whose items are tickets: a ticket
 * says "look at the lanes", and the batch function takes ONE batch (texts
 * first, else images; one unit per call in turn), runs it, and records
 * which asynchronous calls it completed; the queue then hands the ticket
 * to the loop, whose done callback runs their callbacks. At most one
 * ticket waits in the queue: a unit that joins a lane pushes one unless
 * one is pending, and a batch that leaves units behind pushes the next
 * itself. Why tickets rather than the units as queue items: the queue is
 * FIFO, and a text must overtake the images queued before it; and a
 * queue item is delivered only after its batch function returns, while
 * the lanes let one batch serve parts of many calls.
 *
 * Decoding. embedder_call_add checks an image's header on the caller's
 * thread and puts its unit in the decode queue (a FIFO under decode_mu);
 * the decode threads, at a lower priority than the batcher and nn's pool,
 * decode and preprocess it and put it in the image lane. A unit that fails
 * there may be the last of an asynchronous call already finished: such a
 * call goes to late_completed, which the next ticket delivers.
 * Decoding and image inference take turns (decode_gate): while an image
 * batch runs its model the decode threads wait (finishing the image they
 * hold), and a batch about to start waits (up to EMBED_DECODE_WAIT_MS) for
 * the images already received to be decoded, so it takes them all. Why:
 * both are CPU work on the same cores, so overlapping them gains nothing,
 * and a decode that preempts one of the GEMM's threads stalls the others
 * at its barrier (in f32 the server ran 97-112 ms an image beside decoding
 * against 78-90 alone); in turns,
 * a batch's images decode on all cores at once and its GEMMs run alone.
 *
 * Synchronous callers (embedder_call_wait) wait on a condition variable
 * of their own call, signalled by the batcher under mu as soon as their
 * last unit is done: they never need the loop.
 *
 * Texts first. A text query must not wait for a whole image batch (tens
 * to hundreds of milliseconds on two cores): a text arriving while an
 * image batch runs is embedded between two steps of it (texts_first,
 * the image state's yield hook), in a side batch with its own state, and
 * answered through a ticket of its own; the image batch then goes on.
 * A text waits for at most one step: a layer's attention or its MLP.
 *
 * Batch sizes follow time, not counts alone: after every batch the
 * batcher updates its estimates of seconds per image and per text token
 * (a moving average), and cuts a batch where the estimate passes
 * batch_ms. The first estimates come from a warm-up run at start (which
 * also pages in the mmap'd weights), so the first request is not a slow
 * one.
 *
 * The text cache is an LRU of embeddings keyed by the exact text bytes
 * (hash chains plus a recency list under its own mutex). A hit costs no
 * tokenizer and no inference; hits still count their tokens in usage.
 */
#include "api/embedder.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "base/base64.h"
#include "base/err.h"
#include "base/log.h"
#include "base/util.h"
#include "model/clip.h"
#include "model/tokenizer.h"
#include "server/metrics.h"
#include "server/server.h"
#include "server/work.h"

/* The batcher's queue holds tickets: at most one waiting, one running and
 * those the loop has not delivered yet. */
#define EMBED_TICKET_CAPACITY WORK_QUEUE_MAX_CAPACITY
/* Weight of the newest batch in the time estimates. */
#define EMBED_EWMA_NEW 0.25
/* Images decoded and waiting for the batcher, all calls together, at
 * least (or max_images when larger): each holds its preprocessed pixels
 * (600 KB for a 224 x 224 model), and a 100-byte PNG decodes to that as
 * well as a photo does, so the queue bound alone (inputs) would let small
 * requests hold gigabytes. Beyond it an image fails with ERR_FULL. */
#define EMBED_HELD_IMAGES 256
/* Decode threads: one per CPU, at most this many. */
#define EMBED_MAX_DECODE_THREADS 4
/* Their nice value above the process's: decoding runs when inference
 * leaves a core idle and otherwise takes about a quarter of a core from
 * it (CFS weights 335 vs 1024 at nice 5 vs 0), so a text's inference is
 * barely slowed by images being decoded. */
#define EMBED_DECODE_NICE 5
/* The longest a batch waits for images received but not decoded yet
 * (see "Decoding" above): a photo decodes in a few milliseconds, a huge
 * one in a few hundred, and the images decoded meanwhile go first. */
#define EMBED_DECODE_WAIT_MS 100
/* The text the warm-up embeds (and times per token). */
#define EMBED_WARMUP_TEXT "a photo of a cat"

enum { LANE_TEXT = EMBED_TEXT, LANE_IMAGE = EMBED_IMAGE, N_LANES = 2 };
enum { CALL_OPEN = 0, CALL_SYNC, CALL_ASYNC };

static const char *const lane_label[N_LANES] = { "kind=\"text\"", "kind=\"image\"" };
static const char *const model_aliases[] = EMBED_MODEL_ALIASES;
#define N_ALIASES (sizeof model_aliases / sizeof model_aliases[0])

/* ---- text cache ---- */

typedef struct CacheEntry CacheEntry;
struct CacheEntry {
    CacheEntry *chain;      /* next in its hash bucket */
    CacheEntry *newer, *older; /* the recency list */
    uint64_t hash;
    size_t len;
    int tokens;
    char *key;   /* len bytes, owned */
    float emb[]; /* (dim) */
};

typedef struct {
    pthread_mutex_t mu;
    size_t cap, n, dim;
    size_t mask;         /* buckets - 1 (a power of two) */
    CacheEntry **buckets;
    CacheEntry *newest, *oldest;
} TextCache;

/* FNV-1a: texts are short, and the cache needs no defence against chosen
 * collisions beyond bounded chains (a collision costs a memcmp). */
static uint64_t cache_hash(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

static void cache_init(TextCache *c, size_t cap, size_t dim)
{
    memset(c, 0, sizeof *c);
    pthread_mutex_init(&c->mu, NULL);
    c->cap = cap;
    c->dim = dim;
    if (cap == 0) return;
    size_t nb = 16;
    while (nb < cap * 2) nb *= 2;
    c->buckets = xcalloc(nb, sizeof *c->buckets);
    c->mask = nb - 1;
}

static void cache_free(TextCache *c)
{
    for (CacheEntry *e = c->newest, *next; e; e = next) {
        next = e->older;
        free(e->key);
        free(e);
    }
    free(c->buckets);
    pthread_mutex_destroy(&c->mu);
}

/* cache_unlink_recency takes e out of the recency list (mu held). */
static void cache_unlink_recency(TextCache *c, CacheEntry *e)
{
    if (e->newer) e->newer->older = e->older; else c->newest = e->older;
    if (e->older) e->older->newer = e->newer; else c->oldest = e->newer;
    e->newer = e->older = NULL;
}

static void cache_push_newest(TextCache *c, CacheEntry *e)
{
    e->older = c->newest;
    e->newer = NULL;
    if (c->newest) c->newest->newer = e; else c->oldest = e;
    c->newest = e;
}

static CacheEntry **cache_slot(TextCache *c, uint64_t h, const char *key, size_t len)
{
    CacheEntry **p = &c->buckets[h & c->mask];
    while (*p && !((*p)->hash == h && (*p)->len == len && !memcmp((*p)->key, key, len)))
        p = &(*p)->chain;
    return p;
}

/* cache_get copies the embedding of key into out and its token count into
 * *tokens; 1 on a hit. */
static int cache_get(TextCache *c, const char *key, size_t len, float *out, int *tokens)
{
    if (c->cap == 0) return 0;
    uint64_t h = cache_hash(key, len);
    pthread_mutex_lock(&c->mu);
    CacheEntry *e = *cache_slot(c, h, key, len);
    if (e) {
        memcpy(out, e->emb, c->dim * sizeof *out);
        *tokens = e->tokens;
        cache_unlink_recency(c, e);
        cache_push_newest(c, e);
    }
    pthread_mutex_unlock(&c->mu);
    return e != NULL;
}

/* cache_put stores an embedding, evicting the least recently used entry
 * when full; a key already present is refreshed. */
static void cache_put(TextCache *c, const char *key, size_t len, int tokens, const float *emb)
{
    if (c->cap == 0) return;
    uint64_t h = cache_hash(key, len);
    CacheEntry *fresh = xmalloc(sizeof *fresh + c->dim * sizeof(float));
    fresh->key = xmalloc(len ? len : 1);
    memcpy(fresh->key, key, len);
    fresh->len = len;
    fresh->hash = h;
    fresh->tokens = tokens;
    fresh->chain = NULL;
    memcpy(fresh->emb, emb, c->dim * sizeof(float));
    CacheEntry *evicted = NULL;
    pthread_mutex_lock(&c->mu);
    CacheEntry **slot = cache_slot(c, h, key, len);
    if (*slot) {
        /* Two callers missed on the same text at once: keep the first. */
        cache_unlink_recency(c, *slot);
        cache_push_newest(c, *slot);
        evicted = fresh;
    } else {
        *slot = fresh;
        cache_push_newest(c, fresh);
        if (++c->n > c->cap) {
            evicted = c->oldest;
            cache_unlink_recency(c, evicted);
            CacheEntry **p = cache_slot(c, evicted->hash, evicted->key, evicted->len);
            *p = evicted->chain;
            c->n--;
        }
    }
    size_t n = c->n;
    pthread_mutex_unlock(&c->mu);
    if (evicted) {
        free(evicted->key);
        free(evicted);
    }
    metrics_gauge_set("vitrine_embed_cache_entries", "cache=\"text\"", (double)n);
}

/* ---- the service's state ---- */

typedef struct EmbedUnit EmbedUnit;
struct EmbedUnit {
    EmbedUnit *next;   /* the call's pending list of its kind, or the decode queue */
    EmbedCall *call;   /* an image waiting in the decode queue: its call */
    const void *image; /* ... and its encoded bytes (the caller's) */
    size_t image_len;
    const char *text;  /* a text: the caller's bytes (the cache key) */
    size_t text_len;
    float *pixels;     /* an image: (3, S, S), owned until it is embedded */
    uint64_t queued_ns;
    int skipped;       /* finished unembedded because another input failed */
    int n_ids;
    int32_t ids[TOKENIZER_MAX_TOKENS];
};

struct EmbedCall {
    Embedder *e;
    size_t n;
    size_t remaining; /* inputs not done yet (mu) */
    float *out;       /* (n, dim), the caller's */
    EmbedStatus *st;  /* (n), the caller's */
    unsigned flags;
    int failed;       /* an input failed (mu) */
    int mode;         /* CALL_OPEN until wait or finish (mu) */
    pthread_cond_t cond; /* CALL_SYNC: remaining reached 0 */
    EmbedDoneFn done;
    void *arg;
    EmbedCall *lane_next[N_LANES];
    int in_lane[N_LANES];
    EmbedUnit *pend_head[N_LANES], *pend_tail[N_LANES];
    EmbedCall *done_next; /* a list of completed asynchronous calls */
    EmbedUnit units[];    /* (n) */
};

typedef struct {
    WorkItem item;        /* first: the queue's link */
    EmbedCall *completed; /* asynchronous calls this ticket's batch completed */
} EmbedTicket;

/* One batch's inputs and buffers. */
typedef struct {
    ClipState *state;
    EmbedUnit **units;  /* (opt.batch) */
    EmbedCall **calls;  /* the call of each unit */
    float *pixels;      /* (opt.batch, plane); NULL in the side batch */
    int32_t *ids;       /* (opt.batch, TOKENIZER_MAX_TOKENS) */
    int *lens;
    float *out;         /* (opt.batch, dim) */
} EmbedBatch;

struct Embedder {
    EmbedderOptions opt;
    ClipModel *model; /* NULL without weights */
    int dim, image_tokens, max_tokens;
    size_t plane;     /* floats of one preprocessed image */
    char id[256];
    int64_t created;
    char unavailable[SERVER_MAX_PATH + 384];
    WorkQueue *queue;

    pthread_mutex_t mu;
    pthread_cond_t cond; /* the batcher waits here for images to fill a batch */
    EmbedCall *lane_head[N_LANES], *lane_tail[N_LANES];
    size_t pending[N_LANES]; /* units in each lane */
    size_t reserved;         /* inputs admitted and not done */
    atomic_size_t held;      /* images holding pixels (EMBED_HELD_IMAGES) */
    size_t held_limit;
    int ticket_pending;      /* a ticket waits in the queue */
    int stopping;
    /* Asynchronous calls that a decode thread completed (an image that
     * failed to decode was their last input): the next ticket delivers
     * them. */
    EmbedCall *late_completed;

    /* The decode threads (see "Decoding" above): a FIFO of image units
     * under decode_mu. */
    pthread_mutex_t decode_mu;
    pthread_cond_t decode_cond;
    EmbedUnit *decode_head, *decode_tail;
    int decode_stop;
    /* decode_gate: 1 while an image batch runs its model (decode threads
     * wait; set and cleared under decode_mu); undecoded: images in the
     * decode queue or being decoded (the batcher waits for them). */
    int decode_gate;
    atomic_size_t undecoded;
    int n_decoders;
    pthread_t decoders[EMBED_MAX_DECODE_THREADS];

    /* The batcher thread's own: the batch of the running ticket, and the
     * side batch texts run in while it is an image batch between two
     * layers (see "Texts first" above). */
    int warmup;
    double sec_per_image, sec_per_token;
    uint64_t side_ns;    /* time the side batches took in this image batch */
    EmbedBatch main, side;

    TextCache cache;
};

/* ---- options ---- */

void embedder_options_default(EmbedderOptions *o)
{
    o->max_image_bytes = EMBED_DEFAULT_IMAGE_BYTES;
    o->max_pixels = EMBED_DEFAULT_PIXELS;
    o->max_texts = EMBED_DEFAULT_TEXTS;
    o->max_images = EMBED_DEFAULT_IMAGES;
    o->queue = EMBED_DEFAULT_QUEUE;
    o->batch = EMBED_DEFAULT_BATCH;
    o->batch_ms = EMBED_DEFAULT_BATCH_MS;
    o->batch_wait_ms = EMBED_DEFAULT_BATCH_WAIT_MS;
    o->text_cache = EMBED_DEFAULT_TEXT_CACHE;
    o->precision = NN_PREC_F32;
}

static int options_check(const EmbedderOptions *o, char *err, size_t errlen)
{
#define RANGE(v, lo, hi, what)                                                           \
    if ((long long)(v) < (long long)(lo) || (long long)(v) > (long long)(hi))             \
        return err_set(err, errlen, ERR_INVAL, "%s must be %lld..%lld", what, (long long)(lo), \
                       (long long)(hi));
    RANGE(o->max_image_bytes, EMBED_MIN_IMAGE_BYTES, EMBED_MAX_IMAGE_BYTES, "image bytes");
    RANGE(o->max_pixels, EMBED_MIN_PIXELS, EMBED_MAX_PIXELS, "image pixels");
    RANGE(o->max_texts, EMBED_MIN_TEXTS, EMBED_MAX_TEXTS, "texts per request");
    RANGE(o->max_images, EMBED_MIN_IMAGES, EMBED_MAX_IMAGES, "images per request");
    RANGE(o->queue, EMBED_MIN_QUEUE, EMBED_MAX_QUEUE, "queue");
    RANGE(o->batch, EMBED_MIN_BATCH, EMBED_MAX_BATCH, "batch");
    RANGE(o->batch_ms, EMBED_MIN_BATCH_MS, EMBED_MAX_BATCH_MS, "batch time");
    RANGE(o->batch_wait_ms, EMBED_MIN_BATCH_WAIT_MS, EMBED_MAX_BATCH_WAIT_MS, "batch wait");
    RANGE(o->text_cache, EMBED_MIN_TEXT_CACHE, EMBED_MAX_TEXT_CACHE, "text cache");
#undef RANGE
    return 0;
}

/* ---- accessors ---- */

int embedder_ready(const Embedder *e) { return e && e->model != NULL; }
const char *embedder_unavailable(const Embedder *e)
{
    if (!e) return "the embedding service is not running";
    return e->model ? NULL : e->unavailable;
}
int embedder_dim(const Embedder *e) { return e && e->model ? e->dim : 0; }
float embedder_logit_scale(const Embedder *e)
{
    return e && e->model ? clip_logit_scale(e->model) : 0.0f;
}
int embedder_image_tokens(const Embedder *e) { return e ? e->image_tokens : 0; }
const EmbedderOptions *embedder_options(const Embedder *e) { return &e->opt; }
int64_t embedder_model_created(const Embedder *e) { return e->created; }

const char *embedder_model_name(const Embedder *e, size_t i)
{
    if (!e || !e->model) return NULL;
    if (i == 0) return e->id;
    return i - 1 < N_ALIASES ? model_aliases[i - 1] : NULL;
}

int embedder_model_known(const Embedder *e, const char *name)
{
    if (!name) return 0;
    for (size_t i = 0;; i++) {
        const char *m = embedder_model_name(e, i);
        if (!m) return 0;
        if (!strcmp(m, name)) return 1;
    }
}

/* ---- metrics ---- */

static void metrics_init(void)
{
    metrics_describe("vitrine_embeddings_total", METRICS_COUNTER,
                     "Inputs embedded by inference (cache hits not counted), by kind.");
    metrics_describe("vitrine_embed_batches_total", METRICS_COUNTER,
                     "Inference batches run, by kind; inputs / batches is the mean batch size.");
    metrics_describe("vitrine_embed_batch_inputs_total", METRICS_COUNTER,
                     "Inputs in the inference batches, by kind.");
    metrics_describe("vitrine_embed_text_batches_in_image_batches_total", METRICS_COUNTER,
                     "Text batches run inside an image batch, between two of its steps (texts first).");
    metrics_describe("vitrine_embed_batch_size", METRICS_GAUGE,
                     "Inputs in the last inference batch, by kind.");
    metrics_describe("vitrine_embed_inference_seconds", METRICS_HISTOGRAM,
                     "Time of one inference batch, by kind.");
    metrics_describe("vitrine_embed_queue_seconds", METRICS_HISTOGRAM,
                     "Time an input waited in its lane before its batch ran, by kind.");
    metrics_describe("vitrine_embed_queue_depth", METRICS_GAUGE,
                     "Inputs waiting in each lane for the batcher, by kind.");
    metrics_describe("vitrine_embed_cache_hits_total", METRICS_COUNTER,
                     "Embedding cache hits (no inference ran), by cache.");
    metrics_describe("vitrine_embed_cache_misses_total", METRICS_COUNTER,
                     "Embedding cache misses, by cache.");
    metrics_describe("vitrine_embed_cache_entries", METRICS_GAUGE,
                     "Entries in an embedding cache, by cache.");
    metrics_describe("vitrine_embed_rejected_total", METRICS_COUNTER,
                     "Embedding calls refused because the queue was full.");
    for (int k = 0; k < N_LANES; k++) {
        metrics_counter_add("vitrine_embeddings_total", lane_label[k], 0);
        metrics_gauge_set("vitrine_embed_queue_depth", lane_label[k], 0);
    }
    metrics_counter_add("vitrine_embed_text_batches_in_image_batches_total", NULL, 0);
    metrics_counter_add("vitrine_embed_cache_hits_total", "cache=\"text\"", 0);
    metrics_counter_add("vitrine_embed_cache_misses_total", "cache=\"text\"", 0);
    metrics_counter_add("vitrine_embed_rejected_total", NULL, 0);
}

static void metrics_lanes(size_t text, size_t image)
{
    metrics_gauge_set("vitrine_embed_queue_depth", lane_label[LANE_TEXT], (double)text);
    metrics_gauge_set("vitrine_embed_queue_depth", lane_label[LANE_IMAGE], (double)image);
}

static void push_ticket_locked(Embedder *e);
static void decoders_stop(Embedder *e);
static int decoders_start(Embedder *e, int n);

/* ---- completing units and calls (mu held) ---- */

/* call_status is the code of the lowest-index failure other than a skip. */
static int call_status(const EmbedCall *c)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->st[i].code && !c->units[i].skipped) return c->st[i].code;
    return 0;
}

/* unit_done_locked counts one input of c done; when it was the last, a
 * waiter is woken or an asynchronous call is put on *completed (the
 * ticket's list) for the loop. */
static void unit_done_locked(Embedder *e, EmbedCall *c, EmbedCall **completed)
{
    e->reserved--;
    if (--c->remaining > 0) return;
    if (c->mode == CALL_SYNC) {
        pthread_cond_signal(&c->cond);
    } else if (c->mode == CALL_ASYNC) {
        if (completed) {
            c->done_next = *completed;
            *completed = c;
        } else {
            /* A decode thread finished the last input of a call the loop
             * is waiting for: a ticket takes it to the loop. */
            c->done_next = e->late_completed;
            e->late_completed = c;
            push_ticket_locked(e);
        }
    }
}

/* deliver runs the callbacks of completed asynchronous calls (loop). */
static void deliver(EmbedCall *list)
{
    while (list) {
        EmbedCall *c = list;
        list = c->done_next;
        EmbedDoneFn done = c->done;
        void *arg = c->arg;
        int status = call_status(c);
        free(c);
        done(arg, status);
    }
}

static void status_set(EmbedStatus *st, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void status_set(EmbedStatus *st, int code, const char *fmt, ...)
{
    st->code = code;
    st->tokens = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st->message, sizeof st->message, fmt, ap);
    va_end(ap);
}

/* finish_early ends input i before it reaches a lane (a cache hit or a
 * failure found while preparing it). */
static void finish_early(EmbedCall *c, size_t i)
{
    Embedder *e = c->e;
    pthread_mutex_lock(&e->mu);
    if (c->st[i].code) c->failed = 1;
    unit_done_locked(e, c, NULL);
    pthread_mutex_unlock(&e->mu);
}

/* pixels_free releases an image unit's pixels and its place among the
 * held images. */
static void pixels_free(Embedder *e, EmbedUnit *u)
{
    if (!u->pixels) return;
    free(u->pixels);
    u->pixels = NULL;
    atomic_fetch_sub(&e->held, 1);
}

/* ---- tickets ---- */

/* push_ticket_locked makes sure the batcher will look at the lanes. */
static void push_ticket_locked(Embedder *e)
{
    if (e->ticket_pending || !e->queue) return;
    EmbedTicket *t = xcalloc(1, sizeof *t);
    int rc = work_queue_push(e->queue, &t->item);
    if (rc) {
        /* Full only when the loop has not delivered tens of thousands of
         * batches; the next input to arrive tries again. */
        log_error("embedder: cannot queue a batch ticket: %s", err_str(rc));
        free(t);
        return;
    }
    e->ticket_pending = 1;
}

/* ---- the batcher ---- */

/* image_cap is the most images whose estimated inference fits in
 * batch_ms (at least 1, at most the batch size). Bigger batches embed
 * images faster (one GEMM per layer for all of them); a text that arrives
 * meanwhile runs between two steps of the batch either way, so the cap
 * bounds how long images wait behind images. */
static int image_cap(const Embedder *e)
{
    int cap = e->opt.batch;
    if (e->sec_per_image > 0) {
        double k = e->opt.batch_ms / 1000.0 / e->sec_per_image;
        if (k < cap) cap = k < 1 ? 1 : (int)k;
    }
    return cap;
}

/* pick_lane_locked chooses what the next batch embeds: texts when any
 * wait; else images, after waiting up to batch_wait_ms for a full batch
 * (cut short by a text, which then goes first). -1: nothing to do. */
static struct timespec deadline_in(unsigned ms)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    t.tv_nsec += (long)ms * 1000000L;
    t.tv_sec += t.tv_nsec / 1000000000L;
    t.tv_nsec %= 1000000000L;
    return t;
}

static int after(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec != b->tv_sec ? a->tv_sec > b->tv_sec : a->tv_nsec > b->tv_nsec;
}

static int pick_lane_locked(Embedder *e)
{
    if (e->pending[LANE_TEXT]) return LANE_TEXT;
    if (!e->pending[LANE_IMAGE]) return -1;
    size_t cap = (size_t)image_cap(e);
    if (e->pending[LANE_IMAGE] < cap && !e->stopping) {
        /* Waits for a full batch up to batch_wait_ms, and for the images
         * being decoded (see "Decoding" above) up to EMBED_DECODE_WAIT_MS. */
        struct timespec fill = deadline_in(e->opt.batch_wait_ms);
        struct timespec decode = deadline_in(EMBED_DECODE_WAIT_MS);
        while (e->pending[LANE_IMAGE] < cap && !e->pending[LANE_TEXT] && !e->stopping) {
            /* The later deadline while images are being decoded: a
             * timeout then means both have passed. */
            const struct timespec *until = &fill;
            if (atomic_load(&e->undecoded) > 0 && after(&decode, &fill)) until = &decode;
            if (pthread_cond_timedwait(&e->cond, &e->mu, until) == ETIMEDOUT) break;
        }
        if (e->pending[LANE_TEXT]) return LANE_TEXT;
    }
    return e->pending[LANE_IMAGE] ? LANE_IMAGE : -1;
}

/* decode_gate_set opens (0) or closes (1) the decode threads' gate. */
static void decode_gate_set(Embedder *e, int closed)
{
    pthread_mutex_lock(&e->decode_mu);
    e->decode_gate = closed;
    if (!closed) pthread_cond_broadcast(&e->decode_cond);
    pthread_mutex_unlock(&e->decode_mu);
}

/* take_batch_locked moves up to one batch of units out of a lane, one
 * unit per call in turn. Units of a failed fail-fast call are finished as
 * skipped instead. A text batch also stops where its tokens would pass
 * the time budget. */
static size_t take_batch_locked(Embedder *e, EmbedBatch *bt, int lane, EmbedCall **completed)
{
    size_t cap = lane == LANE_IMAGE ? (size_t)image_cap(e) : (size_t)e->opt.batch;
    double token_budget = 0;
    if (lane == LANE_TEXT && e->sec_per_token > 0)
        token_budget = e->opt.batch_ms / 1000.0 / e->sec_per_token;
    size_t nb = 0;
    int tokens = 0;
    while (nb < cap && e->lane_head[lane]) {
        EmbedCall *c = e->lane_head[lane];
        EmbedUnit *u = c->pend_head[lane];
        int skip = (c->flags & EMBED_FAIL_FAST) && c->failed;
        if (!skip && lane == LANE_TEXT && nb > 0 && token_budget > 0 &&
            tokens + u->n_ids > token_budget)
            break;
        /* Pop the unit, and move the call to the lane's tail (or out). */
        c->pend_head[lane] = u->next;
        if (!u->next) c->pend_tail[lane] = NULL;
        u->next = NULL;
        e->pending[lane]--;
        e->lane_head[lane] = c->lane_next[lane];
        if (!e->lane_head[lane]) e->lane_tail[lane] = NULL;
        c->lane_next[lane] = NULL;
        if (c->pend_head[lane]) {
            if (e->lane_tail[lane]) e->lane_tail[lane]->lane_next[lane] = c;
            else e->lane_head[lane] = c;
            e->lane_tail[lane] = c;
        } else {
            c->in_lane[lane] = 0;
        }
        size_t i = (size_t)(u - c->units);
        if (skip) {
            pixels_free(e, u);
            u->skipped = 1;
            status_set(&c->st[i], ERR_BUSY, "not embedded: another input of this request failed");
            unit_done_locked(e, c, completed);
            continue;
        }
        tokens += u->n_ids;
        bt->units[nb] = u;
        bt->calls[nb] = c;
        nb++;
    }
    return nb;
}

static void estimate_update(double *est, double sample)
{
    *est = *est > 0 ? (1 - EMBED_EWMA_NEW) * *est + EMBED_EWMA_NEW * sample : sample;
}

/* infer runs one batch (no lock held) and writes every unit's output and
 * status. */
static void infer(Embedder *e, EmbedBatch *bt, int lane, size_t nb)
{
    uint64_t t0 = now_ns();
    int rc, tokens = 0;
    if (lane == LANE_IMAGE) {
        for (size_t b = 0; b < nb; b++) {
            memcpy(bt->pixels + b * e->plane, bt->units[b]->pixels, e->plane * sizeof(float));
            pixels_free(e, bt->units[b]);
        }
        e->side_ns = 0;
        decode_gate_set(e, 1);
        rc = clip_encode_images(e->model, bt->state, bt->pixels, (int)nb, bt->out, 1);
        decode_gate_set(e, 0);
    } else {
        for (size_t b = 0; b < nb; b++) {
            memcpy(bt->ids + b * TOKENIZER_MAX_TOKENS, bt->units[b]->ids,
                   (size_t)bt->units[b]->n_ids * sizeof(int32_t));
            bt->lens[b] = bt->units[b]->n_ids;
            tokens += bt->units[b]->n_ids;
        }
        rc = clip_encode_tokens(e->model, bt->state, bt->ids, bt->lens, (int)nb, bt->out, 1);
    }
    uint64_t t1 = now_ns();
    /* An image batch's own time, without the texts it let run. */
    if (lane == LANE_IMAGE) t1 -= MIN(e->side_ns, t1 - t0);
    double secs = (double)(t1 - t0) / 1e9;
    if (rc == 0) {
        if (lane == LANE_IMAGE)
            estimate_update(&e->sec_per_image, secs / (double)nb);
        else
            estimate_update(&e->sec_per_token, secs / (double)tokens);
    }
    for (size_t b = 0; b < nb; b++) {
        EmbedUnit *u = bt->units[b];
        EmbedCall *c = bt->calls[b];
        size_t i = (size_t)(u - c->units);
        EmbedStatus *st = &c->st[i];
        metrics_histogram_observe("vitrine_embed_queue_seconds", lane_label[lane],
                                  (double)(t0 - u->queued_ns) / 1e9);
        if (rc) {
            /* The inputs were validated when they were added, so this is
             * a bug, not the client's fault: log it once per batch. */
            if (b == 0) log_error("embedder: inference failed: %s", err_str(rc));
            status_set(st, rc, "inference failed (%s)", err_str(rc));
            continue;
        }
        const float *v = bt->out + b * (size_t)e->dim;
        memcpy(c->out + i * (size_t)e->dim, v, (size_t)e->dim * sizeof *v);
        st->code = 0;
        st->tokens = lane == LANE_IMAGE ? e->image_tokens : u->n_ids;
        if (lane == LANE_TEXT) cache_put(&e->cache, u->text, u->text_len, u->n_ids, v);
    }
    metrics_counter_add("vitrine_embed_batches_total", lane_label[lane], 1);
    metrics_counter_add("vitrine_embed_batch_inputs_total", lane_label[lane], (double)nb);
    metrics_gauge_set("vitrine_embed_batch_size", lane_label[lane], (double)nb);
    if (rc == 0) metrics_counter_add("vitrine_embeddings_total", lane_label[lane], (double)nb);
    metrics_histogram_observe("vitrine_embed_inference_seconds", lane_label[lane], secs);
}

/*
 * texts_first is the image batches' yield hook (clip_state_set_yield): it
 * runs between two steps (attention, MLP) of an image batch on the
 * batcher thread, and
 * embeds the texts waiting at that moment in the side batch, with the side
 * state, before the image batch goes on. Their calls are answered at once
 * through a ticket of their own (work_queue_post), so a text query waits
 * for one step of an image batch instead of the whole batch.
 */
static void texts_first(void *arg)
{
    Embedder *e = arg;
    for (;;) {
        EmbedCall *completed = NULL;
        size_t nb = 0;
        pthread_mutex_lock(&e->mu);
        if (e->pending[LANE_TEXT] && !e->stopping)
            nb = take_batch_locked(e, &e->side, LANE_TEXT, &completed);
        pthread_mutex_unlock(&e->mu);
        if (!nb && !completed) return;
        uint64_t t0 = now_ns();
        if (nb) {
            infer(e, &e->side, LANE_TEXT, nb);
            metrics_counter_add("vitrine_embed_text_batches_in_image_batches_total", NULL, 1);
        }
        pthread_mutex_lock(&e->mu);
        for (size_t b = 0; b < nb; b++) unit_done_locked(e, e->side.calls[b], &completed);
        pthread_mutex_unlock(&e->mu);
        if (completed) {
            EmbedTicket *t = xcalloc(1, sizeof *t);
            t->completed = completed;
            work_queue_post(e->queue, &t->item);
        }
        e->side_ns += now_ns() - t0;
        if (!nb) return;
    }
}

/* batch_init allocates a batch's buffers (pixels only for the main one,
 * which runs images); nonzero when out of memory. */
static int batch_init(Embedder *e, EmbedBatch *bt, int images)
{
    size_t B = (size_t)e->opt.batch;
    bt->state = clip_state_new(e->model, e->opt.batch);
    if (!bt->state) return ERR_NOMEM;
    bt->units = xcalloc(B, sizeof *bt->units);
    bt->calls = xcalloc(B, sizeof *bt->calls);
    bt->pixels = images ? xmalloc(B * e->plane * sizeof(float)) : NULL;
    bt->ids = xcalloc(B * TOKENIZER_MAX_TOKENS, sizeof(int32_t));
    bt->lens = xcalloc(B, sizeof(int));
    bt->out = xmalloc(B * (size_t)e->dim * sizeof(float));
    return 0;
}

static void batch_free(EmbedBatch *bt)
{
    clip_state_free(bt->state);
    free(bt->units);
    free(bt->calls);
    free(bt->pixels);
    free(bt->ids);
    free(bt->lens);
    free(bt->out);
    memset(bt, 0, sizeof *bt);
}

/* warmup embeds a blank image and a short text twice each and keeps the
 * second timings as the first estimates: the first run pages the mmap'd
 * weights in, which a client's first request should not pay. */
static void warmup(Embedder *e)
{
    EmbedBatch *bt = &e->main;
    memset(bt->pixels, 0, e->plane * sizeof(float));
    int n = 0;
    if (tokenizer_encode(clip_tokenizer(e->model), EMBED_WARMUP_TEXT, sizeof EMBED_WARMUP_TEXT - 1,
                         bt->ids, e->max_tokens, &n))
        return;
    double t_img = 0, t_txt = 0;
    for (int r = 0; r < 2; r++) {
        uint64_t t0 = now_ns();
        clip_encode_images(e->model, bt->state, bt->pixels, 1, bt->out, 1);
        uint64_t t1 = now_ns();
        clip_encode_tokens(e->model, bt->state, bt->ids, &n, 1, bt->out, 1);
        uint64_t t2 = now_ns();
        t_img = (double)(t1 - t0) / 1e9;
        t_txt = (double)(t2 - t1) / 1e9;
    }
    e->sec_per_image = t_img;
    e->sec_per_token = t_txt / n;
    log_info("embedder: warm: %.1f ms per image, %.1f ms for a %d-token text; "
             "image batches of up to %d within %u ms",
             t_img * 1e3, t_txt * 1e3, n, image_cap(e), e->opt.batch_ms);
}

/* batcher_run is the queue's batch function: one ticket, one batch. */
static void batcher_run(void *ctx, WorkItem **items, size_t n_items)
{
    Embedder *e = ctx;
    EmbedTicket *t = (EmbedTicket *)items[0];
    (void)n_items; /* max_batch is 1 */
    if (e->warmup) {
        e->warmup = 0;
        warmup(e);
    }
    pthread_mutex_lock(&e->mu);
    e->ticket_pending = 0;
    t->completed = e->late_completed;
    e->late_completed = NULL;
    int lane = pick_lane_locked(e);
    size_t nb = lane >= 0 ? take_batch_locked(e, &e->main, lane, &t->completed) : 0;
    size_t depth_text = e->pending[LANE_TEXT], depth_image = e->pending[LANE_IMAGE];
    pthread_mutex_unlock(&e->mu);
    if (lane >= 0) metrics_lanes(depth_text, depth_image);
    if (nb) infer(e, &e->main, lane, nb);
    pthread_mutex_lock(&e->mu);
    for (size_t b = 0; b < nb; b++) unit_done_locked(e, e->main.calls[b], &t->completed);
    if ((e->pending[LANE_TEXT] || e->pending[LANE_IMAGE]) && !e->stopping) push_ticket_locked(e);
    pthread_mutex_unlock(&e->mu);
}

/* batcher_done runs on the loop with each ticket after its batch, and
 * with each ticket texts_first posted. */
static void batcher_done(void *ctx, WorkItem *item)
{
    (void)ctx;
    EmbedTicket *t = (EmbedTicket *)item;
    EmbedCall *list = t->completed;
    free(t);
    deliver(list);
}

/* ---- start and stop ---- */

/* model_id is the weights folder's name without trailing slashes. */
static void model_id(const char *dir, char *out, size_t outlen)
{
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/') len--;
    size_t start = len;
    while (start > 0 && dir[start - 1] != '/') start--;
    size_t n = len - start;
    if (n == 0 || (n == 1 && dir[start] == '.') || (n == 2 && !strncmp(dir + start, "..", 2))) {
        snprintf(out, outlen, "clip");
        return;
    }
    snprintf(out, outlen, "%.*s", (int)n, dir + start);
}

static Embedder *embedder_alloc(const EmbedderOptions *opt)
{
    Embedder *e = xcalloc(1, sizeof *e);
    e->opt = *opt;
    atomic_init(&e->held, 0);
    atomic_init(&e->undecoded, 0);
    e->held_limit = MAX((size_t)EMBED_HELD_IMAGES, opt->max_images);
    pthread_mutex_init(&e->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&e->cond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&e->decode_mu, NULL);
    pthread_cond_init(&e->decode_cond, NULL);
    return e;
}

int embedder_start(struct uv_loop_s *loop, const char *weights_dir, int have_weights,
                   const EmbedderOptions *opt, Embedder **out, char *err, size_t errlen)
{
    *out = NULL;
    EmbedderOptions defaults;
    if (!opt) {
        embedder_options_default(&defaults);
        opt = &defaults;
    }
    int rc = options_check(opt, err, errlen);
    if (rc) return rc;
    metrics_init();
    Embedder *e = embedder_alloc(opt);
    char why[SERVER_MAX_PATH + 64];
    snprintf(why, sizeof why, "no weights at %s", weights_dir ? weights_dir : "(none given)");
    if (have_weights && weights_dir) {
        /* A folder without the model's files (an interrupted download left
         * only its .partial directory) is no model, as a missing folder
         * is: the server runs as a vector database. Files that exist but
         * do not load stop the start-up below. */
        static const char *const needed[] = { "config.json", "model.safetensors" };
        for (size_t k = 0; k < ARRAY_LEN(needed) && have_weights; k++) {
            char path[SERVER_MAX_PATH + 32];
            struct stat sb;
            snprintf(path, sizeof path, "%s/%s", weights_dir, needed[k]);
            if (stat(path, &sb) != 0) {
                snprintf(why, sizeof why, "%.*s has no %s", SERVER_MAX_PATH, weights_dir, needed[k]);
                log_warn("embedder: %s: serving without a CLIP model", why);
                have_weights = 0;
            }
        }
    }
    if (!have_weights) {
        snprintf(e->unavailable, sizeof e->unavailable,
                 "no CLIP model is loaded (%s): install the weights with `make weights`, "
                 "or restart the server with --weights DIR naming a Hugging Face CLIP folder",
                 why);
        cache_init(&e->cache, 0, 0);
        *out = e;
        return 0;
    }
    rc = clip_load_precision(weights_dir, opt->precision, &e->model, err, errlen);
    if (rc) goto fail;
    if (opt->precision != NN_PREC_F32)
        log_info("embedder: model in %s (kernel %s)", nn_precision_name(opt->precision),
                 nn_quant_kernel(opt->precision));
    const ClipConfig *cfg = clip_config(e->model);
    e->dim = clip_embed_dim(e->model);
    int side = clip_image_size(e->model) / cfg->patch_size;
    e->image_tokens = side * side + 1;
    e->max_tokens = MIN(cfg->positions, TOKENIZER_MAX_TOKENS);
    e->plane = (size_t)cfg->channels * clip_image_size(e->model) * clip_image_size(e->model);
    model_id(weights_dir, e->id, sizeof e->id);
    char path[SERVER_MAX_PATH + 32];
    snprintf(path, sizeof path, "%s/model.safetensors", weights_dir);
    struct stat sb;
    if (stat(path, &sb) == 0) e->created = (int64_t)sb.st_mtime;
    if (batch_init(e, &e->main, 1) || batch_init(e, &e->side, 0)) {
        rc = err_set(err, errlen, ERR_NOMEM, "out of memory for the inference state");
        goto fail;
    }
    clip_state_set_yield(e->main.state, texts_first, e);
    cache_init(&e->cache, opt->text_cache, (size_t)e->dim);
    e->warmup = 1;
    WorkQueueConfig qc = {
        .name = "embed",
        .capacity = EMBED_TICKET_CAPACITY,
        .max_batch = 1,
        .batch_wait_us = 0,
        .run = batcher_run,
        .done = batcher_done,
        .ctx = e,
    };
    rc = work_queue_start(loop, &qc, &e->queue);
    if (rc) {
        err_set(err, errlen, rc, "cannot start the batcher thread");
        goto fail;
    }
    rc = decoders_start(e, MAX(1, MIN(cpu_count(), EMBED_MAX_DECODE_THREADS)));
    if (rc) {
        err_set(err, errlen, rc, "cannot start the decode threads");
        work_queue_stop(e->queue);
        e->queue = NULL;
        goto fail;
    }
    /* The first ticket runs the warm-up while the server starts listening. */
    pthread_mutex_lock(&e->mu);
    push_ticket_locked(e);
    pthread_mutex_unlock(&e->mu);
    log_info("embedder: model %s (%d dimensions), batches of up to %d, text cache %zu",
             e->id, e->dim, opt->batch, opt->text_cache);
    *out = e;
    return 0;
fail:
    embedder_free(e);
    return rc;
}

void embedder_stop(Embedder *e)
{
    if (!e || e->stopping) return;
    EmbedCall *completed = NULL;
    pthread_mutex_lock(&e->mu);
    e->stopping = 1;
    for (int lane = 0; lane < N_LANES; lane++) {
        while (e->lane_head[lane]) {
            EmbedCall *c = e->lane_head[lane];
            e->lane_head[lane] = c->lane_next[lane];
            c->lane_next[lane] = NULL;
            c->in_lane[lane] = 0;
            while (c->pend_head[lane]) {
                EmbedUnit *u = c->pend_head[lane];
                c->pend_head[lane] = u->next;
                u->next = NULL;
                pixels_free(e, u);
                status_set(&c->st[u - c->units], ERR_BUSY, "the server is shutting down");
                unit_done_locked(e, c, &completed);
            }
            c->pend_tail[lane] = NULL;
        }
        e->lane_tail[lane] = NULL;
        e->pending[lane] = 0;
    }
    pthread_cond_broadcast(&e->cond);
    pthread_mutex_unlock(&e->mu);
    /* The images still waiting to be decoded fail (stopping); a call one
     * of them completes goes to late_completed, delivered here with the
     * others, as the batcher may not run another ticket. */
    decoders_stop(e);
    pthread_mutex_lock(&e->mu);
    for (EmbedCall *c = e->late_completed, *next; c; c = next) {
        next = c->done_next;
        c->done_next = completed;
        completed = c;
    }
    e->late_completed = NULL;
    pthread_mutex_unlock(&e->mu);
    deliver(completed);
    /* The batch in progress finishes; its ticket is delivered here. */
    if (e->queue) work_queue_stop(e->queue);
    e->queue = NULL;
}

void embedder_free(Embedder *e)
{
    if (!e) return;
    if (e->n_decoders) decoders_stop(e);
    batch_free(&e->main);
    batch_free(&e->side);
    clip_free(e->model);
    cache_free(&e->cache);
    pthread_mutex_destroy(&e->mu);
    pthread_cond_destroy(&e->cond);
    pthread_mutex_destroy(&e->decode_mu);
    pthread_cond_destroy(&e->decode_cond);
    free(e);
}

/* ---- calls ---- */

int embedder_check_counts(const Embedder *e, size_t n_texts, size_t n_images, char *err,
                          size_t errlen)
{
    if (n_texts > e->opt.max_texts)
        return err_set(err, errlen, ERR_TOOLARGE,
                       "%zu texts in one request, more than the limit of %zu (--embed-max-texts)",
                       n_texts, e->opt.max_texts);
    if (n_images > e->opt.max_images)
        return err_set(err, errlen, ERR_TOOLARGE,
                       "%zu images in one request, more than the limit of %zu (--embed-max-images)",
                       n_images, e->opt.max_images);
    return 0;
}

static void status_fill(EmbedStatus *st, size_t n, int code, const char *msg)
{
    for (size_t i = 0; i < n; i++) {
        st[i].code = code;
        st[i].tokens = 0;
        st[i].cached = 0;
        snprintf(st[i].message, sizeof st[i].message, "%.*s", (int)sizeof st[i].message - 1, msg);
    }
}

int embedder_call_new(Embedder *e, size_t n, float *out, EmbedStatus *st, unsigned flags,
                      EmbedCall **out_call)
{
    *out_call = NULL;
    if (n == 0) return ERR_INVAL;
    if (!e->model) {
        status_fill(st, n, ERR_UNSUPPORTED, e->unavailable);
        return ERR_UNSUPPORTED;
    }
    pthread_mutex_lock(&e->mu);
    int rc = 0;
    if (e->stopping)
        rc = ERR_BUSY;
    else if (n > e->opt.queue - e->reserved)
        rc = ERR_FULL;
    else
        e->reserved += n;
    size_t reserved = e->reserved;
    pthread_mutex_unlock(&e->mu);
    if (rc == ERR_BUSY) {
        status_fill(st, n, rc, "the server is shutting down");
        return rc;
    }
    if (rc == ERR_FULL) {
        char msg[EMBED_MAX_MESSAGE];
        if (n > e->opt.queue)
            snprintf(msg, sizeof msg, "%zu inputs are more than the queue holds (%zu, --embed-queue)",
                     n, e->opt.queue);
        else
            snprintf(msg, sizeof msg, "the embedding queue is full (%zu of %zu inputs), retry later",
                     reserved, e->opt.queue);
        status_fill(st, n, rc, msg);
        metrics_counter_add("vitrine_embed_rejected_total", NULL, 1);
        return rc;
    }
    EmbedCall *c = calloc(1, sizeof *c + n * sizeof(EmbedUnit));
    if (!c) {
        pthread_mutex_lock(&e->mu);
        e->reserved -= n;
        pthread_mutex_unlock(&e->mu);
        status_fill(st, n, ERR_NOMEM, "out of memory");
        return ERR_NOMEM;
    }
    c->e = e;
    c->n = n;
    c->remaining = n;
    c->out = out;
    c->st = st;
    c->flags = flags;
    memset(st, 0, n * sizeof *st);
    *out_call = c;
    return 0;
}

/* enqueue puts a prepared unit into its lane, or fails it when stopping. */
static void enqueue(EmbedCall *c, size_t i, int lane)
{
    Embedder *e = c->e;
    EmbedUnit *u = &c->units[i];
    u->queued_ns = now_ns();
    pthread_mutex_lock(&e->mu);
    if (e->stopping) {
        pixels_free(e, u);
        status_set(&c->st[i], ERR_BUSY, "the server is shutting down");
        c->failed = 1;
        unit_done_locked(e, c, NULL);
        pthread_mutex_unlock(&e->mu);
        return;
    }
    if (c->pend_tail[lane]) c->pend_tail[lane]->next = u;
    else c->pend_head[lane] = u;
    c->pend_tail[lane] = u;
    if (!c->in_lane[lane]) {
        c->in_lane[lane] = 1;
        if (e->lane_tail[lane]) e->lane_tail[lane]->lane_next[lane] = c;
        else e->lane_head[lane] = c;
        e->lane_tail[lane] = c;
    }
    e->pending[lane]++;
    size_t depth_text = e->pending[LANE_TEXT], depth_image = e->pending[LANE_IMAGE];
    push_ticket_locked(e);
    pthread_cond_signal(&e->cond);
    pthread_mutex_unlock(&e->mu);
    metrics_lanes(depth_text, depth_image);
}

static void add_text(EmbedCall *c, size_t i, const char *text, size_t len)
{
    Embedder *e = c->e;
    EmbedStatus *st = &c->st[i];
    EmbedUnit *u = &c->units[i];
    if (len > EMBED_MAX_TEXT_BYTES) {
        status_set(st, ERR_TOOLARGE, "text is %zu bytes, more than the limit of %zu", len,
                   EMBED_MAX_TEXT_BYTES);
        finish_early(c, i);
        return;
    }
    if (len == 0) {
        status_set(st, ERR_INVAL, "text is empty");
        finish_early(c, i);
        return;
    }
    if (cache_get(&e->cache, text, len, c->out + i * (size_t)e->dim, &st->tokens)) {
        st->cached = 1;
        metrics_counter_add("vitrine_embed_cache_hits_total", "cache=\"text\"", 1);
        finish_early(c, i);
        return;
    }
    if (e->cache.cap) metrics_counter_add("vitrine_embed_cache_misses_total", "cache=\"text\"", 1);
    int rc = tokenizer_encode(clip_tokenizer(e->model), text, len, u->ids, e->max_tokens, &u->n_ids);
    if (rc) {
        status_set(st, rc, "%s",
                   rc == ERR_INVAL ? "text is not valid UTF-8" : "text cannot be tokenized");
        finish_early(c, i);
        return;
    }
    if (u->n_ids <= 2) {
        /* Only the start and end tokens: whitespace, nothing to embed. */
        status_set(st, ERR_INVAL, "text is empty (whitespace only)");
        finish_early(c, i);
        return;
    }
    u->text = text;
    u->text_len = len;
    enqueue(c, i, LANE_TEXT);
}

/* add_image checks an image against the limits (its header only) on the
 * caller's thread and hands it to the decode threads. */
static void add_image(EmbedCall *c, size_t i, const void *bytes, size_t len)
{
    Embedder *e = c->e;
    EmbedStatus *st = &c->st[i];
    EmbedUnit *u = &c->units[i];
    if (len > e->opt.max_image_bytes) {
        status_set(st, ERR_TOOLARGE,
                   "image is %zu bytes, more than the limit of %zu (--embed-max-image-bytes)", len,
                   e->opt.max_image_bytes);
        finish_early(c, i);
        return;
    }
    ImageInfo info;
    char why[EMBED_MAX_MESSAGE];
    int rc = image_info(bytes, len, &info, why, sizeof why);
    if (rc) {
        status_set(st, rc, "%s", why);
        finish_early(c, i);
        return;
    }
    /* Compared by division: a header may declare 2^32 x 2^32. */
    if (info.width > 0 && info.height > 0 && info.width > e->opt.max_pixels / info.height) {
        status_set(st, ERR_TOOLARGE,
                   "%s image is %lldx%lld, more than the limit of %lld pixels (--embed-max-pixels)",
                   info.format, (long long)info.width, (long long)info.height,
                   (long long)e->opt.max_pixels);
        finish_early(c, i);
        return;
    }
    /* The place among the held images is taken now, so the decode queue
     * is bounded by the same limit as the decoded images. */
    if (atomic_fetch_add(&e->held, 1) >= e->held_limit) {
        atomic_fetch_sub(&e->held, 1);
        status_set(st, ERR_FULL, "%zu images are waiting for inference already, retry later",
                   e->held_limit);
        finish_early(c, i);
        return;
    }
    u->call = c;
    u->image = bytes;
    u->image_len = len;
    u->next = NULL;
    atomic_fetch_add(&e->undecoded, 1);
    pthread_mutex_lock(&e->decode_mu);
    if (e->decode_tail) e->decode_tail->next = u;
    else e->decode_head = u;
    e->decode_tail = u;
    pthread_cond_signal(&e->decode_cond);
    pthread_mutex_unlock(&e->decode_mu);
}

/* decode_unit decodes and preprocesses one image unit and queues it for
 * the batcher, or fails it (a decode thread). */
static void decode_unit(Embedder *e, EmbedUnit *u)
{
    EmbedCall *c = u->call;
    size_t i = (size_t)(u - c->units);
    EmbedStatus *st = &c->st[i];
    char why[EMBED_MAX_MESSAGE];
    pthread_mutex_lock(&e->mu);
    int skip = (c->flags & EMBED_FAIL_FAST) && c->failed;
    int stopping = e->stopping;
    pthread_mutex_unlock(&e->mu);
    if (skip || stopping) {
        atomic_fetch_sub(&e->held, 1);
        u->skipped = skip;
        if (skip)
            status_set(st, ERR_BUSY, "not embedded: another input of this request failed");
        else
            status_set(st, ERR_BUSY, "the server is shutting down");
        finish_early(c, i);
        return;
    }
    u->pixels = malloc(e->plane * sizeof(float));
    if (!u->pixels) {
        atomic_fetch_sub(&e->held, 1);
        status_set(st, ERR_NOMEM, "out of memory for the image's pixels");
        finish_early(c, i);
        return;
    }
    int rc = clip_preprocess_image(e->model, u->image, u->image_len, u->pixels, why, sizeof why);
    if (rc) {
        pixels_free(e, u);
        status_set(st, rc, "%s", why);
        finish_early(c, i);
        return;
    }
    enqueue(c, i, LANE_IMAGE);
}

/* decoder_main is a decode thread: it lowers its own priority (Linux
 * threads have a nice value each), then decodes images in arrival order
 * until the embedder stops, failing the ones still queued then. */
static void *decoder_main(void *arg)
{
    Embedder *e = arg;
#ifdef __linux__
    /* Best effort: without it decoding competes with inference as equals.
     * Relative to the nice value the thread started with (the process's),
     * so a server started with nice keeps the same gap. */
    id_t tid = (id_t)syscall(SYS_gettid);
    errno = 0;
    int nice_now = getpriority(PRIO_PROCESS, tid);
    if (errno == 0 && setpriority(PRIO_PROCESS, tid, MIN(19, nice_now + EMBED_DECODE_NICE)) != 0)
        log_debug("embedder: cannot lower the decode thread's priority: %s", strerror(errno));
#endif
    pthread_mutex_lock(&e->decode_mu);
    for (;;) {
        while ((!e->decode_head || e->decode_gate) && !e->decode_stop)
            pthread_cond_wait(&e->decode_cond, &e->decode_mu);
        EmbedUnit *u = e->decode_head;
        if (!u) break; /* stopping and nothing left */
        e->decode_head = u->next;
        if (!e->decode_head) e->decode_tail = NULL;
        u->next = NULL;
        pthread_mutex_unlock(&e->decode_mu);
        decode_unit(e, u);
        /* After the unit joined its lane (or failed): a batcher waiting
         * for the decodes to finish looks again. */
        atomic_fetch_sub(&e->undecoded, 1);
        pthread_mutex_lock(&e->mu);
        pthread_cond_broadcast(&e->cond);
        pthread_mutex_unlock(&e->mu);
        pthread_mutex_lock(&e->decode_mu);
    }
    pthread_mutex_unlock(&e->decode_mu);
    return NULL;
}

/* decoders_start starts n decode threads; 0, or ERR_NOMEM (none left running). */
static int decoders_start(Embedder *e, int n)
{
    for (int k = 0; k < n; k++) {
        if (pthread_create(&e->decoders[k], NULL, decoder_main, e) != 0) {
            decoders_stop(e);
            return ERR_NOMEM;
        }
        e->n_decoders++;
    }
    return 0;
}

/* decoders_stop fails the images still queued (decode_unit sees
 * stopping, or decode_stop without it when start-up failed) and joins
 * the decode threads. */
static void decoders_stop(Embedder *e)
{
    pthread_mutex_lock(&e->decode_mu);
    e->decode_stop = 1;
    pthread_cond_broadcast(&e->decode_cond);
    pthread_mutex_unlock(&e->decode_mu);
    for (int k = 0; k < e->n_decoders; k++) pthread_join(e->decoders[k], NULL);
    e->n_decoders = 0;
}

void embedder_call_add(EmbedCall *c, size_t i, const EmbedInput *in)
{
    Embedder *e = c->e;
    memset(&c->st[i], 0, sizeof c->st[i]);
    pthread_mutex_lock(&e->mu);
    int skip = (c->flags & EMBED_FAIL_FAST) && c->failed;
    pthread_mutex_unlock(&e->mu);
    if (skip) {
        c->units[i].skipped = 1;
        status_set(&c->st[i], ERR_BUSY, "not embedded: another input of this request failed");
        finish_early(c, i);
        return;
    }
    if (in->kind == EMBED_IMAGE)
        add_image(c, i, in->data, in->len);
    else
        add_text(c, i, in->data, in->len);
}

void embedder_call_fail(EmbedCall *c, size_t i, int code, const char *message)
{
    status_set(&c->st[i], code ? code : ERR_INVAL, "%s", message ? message : err_str(code));
    finish_early(c, i);
}

int embedder_call_wait(EmbedCall *c)
{
    Embedder *e = c->e;
    pthread_cond_init(&c->cond, NULL);
    pthread_mutex_lock(&e->mu);
    c->mode = CALL_SYNC;
    while (c->remaining > 0) pthread_cond_wait(&c->cond, &e->mu);
    pthread_mutex_unlock(&e->mu);
    pthread_cond_destroy(&c->cond);
    int status = call_status(c);
    free(c);
    return status;
}

void embedder_call_finish(EmbedCall *c, EmbedDoneFn done, void *arg)
{
    Embedder *e = c->e;
    pthread_mutex_lock(&e->mu);
    int finished = c->remaining == 0;
    if (!finished) {
        c->mode = CALL_ASYNC;
        c->done = done;
        c->arg = arg;
    }
    pthread_mutex_unlock(&e->mu);
    if (finished) {
        int status = call_status(c);
        free(c);
        done(arg, status);
    }
}

int embedder_embed(Embedder *e, const EmbedInput *in, size_t n, float *out, EmbedStatus *st,
                   unsigned flags)
{
    if (n == 0) return 0;
    size_t n_images = 0;
    for (size_t i = 0; i < n; i++) n_images += in[i].kind == EMBED_IMAGE;
    char msg[EMBED_MAX_MESSAGE];
    int rc = e->model ? embedder_check_counts(e, n - n_images, n_images, msg, sizeof msg) : 0;
    if (rc) {
        status_fill(st, n, rc, msg);
        return rc;
    }
    EmbedCall *c;
    rc = embedder_call_new(e, n, out, st, flags, &c);
    if (rc) return rc;
    for (size_t i = 0; i < n; i++) embedder_call_add(c, i, &in[i]);
    return embedder_call_wait(c);
}

/* ---- images in JSON ---- */

/* url_scheme says whether s starts with "scheme://". */
static int url_scheme(const char *s, size_t len)
{
    size_t i = 0;
    while (i < len && i < 32 &&
           ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
            (i > 0 && ((s[i] >= '0' && s[i] <= '9') || s[i] == '+' || s[i] == '-' || s[i] == '.'))))
        i++;
    return i > 0 && i + 3 <= len && !memcmp(s + i, "://", 3);
}

int embedder_image_from_string(const Embedder *e, Arena *arena, const char *s, size_t len,
                               const void **bytes, size_t *n, char *err, size_t errlen)
{
    *bytes = NULL;
    *n = 0;
    if (len == 0) return err_set(err, errlen, ERR_INVAL, "image is an empty string");
    if (url_scheme(s, len))
        return err_set(err, errlen, ERR_INVAL,
                       "image URLs are not fetched (the server makes no outbound requests): "
                       "send the image bytes as base64 or a data:image/...;base64, URL");
    if (len >= 5 && !strncasecmp(s, "data:", 5)) {
        const char *comma = memchr(s, ',', len);
        if (!comma)
            return err_set(err, errlen, ERR_INVAL, "data: URL without a comma before its data");
        size_t head = (size_t)(comma - s);
        if (head < 11 || strncasecmp(s + 5, "image/", 6))
            return err_set(err, errlen, ERR_INVAL,
                           "data: URL of another media type than image/*");
        if (head < 7 + 5 || strncasecmp(comma - 7, ";base64", 7))
            return err_set(err, errlen, ERR_INVAL, "data: URL must be base64 (;base64,)");
        len -= head + 1;
        s = comma + 1;
        if (len == 0) return err_set(err, errlen, ERR_INVAL, "data: URL holds no image data");
    }
    uint8_t *out = arena_alloc(arena, base64_decoded_max(len));
    size_t bad = 0, got = 0;
    if (base64_decode(s, len, out, &got, &bad)) {
        if (bad < len)
            return err_set(err, errlen, ERR_INVAL,
                           "image is not valid base64 (unexpected character at offset %zu)", bad);
        return err_set(err, errlen, ERR_INVAL, "image is not valid base64 (bad length or padding)");
    }
    if (got == 0) return err_set(err, errlen, ERR_INVAL, "image is an empty string");
    if (got > e->opt.max_image_bytes)
        return err_set(err, errlen, ERR_TOOLARGE,
                       "image is %zu bytes, more than the limit of %zu (--embed-max-image-bytes)",
                       got, e->opt.max_image_bytes);
    *bytes = out;
    *n = got;
    return 0;
}
