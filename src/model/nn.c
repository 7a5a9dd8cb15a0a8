/*
 * nn.c - transformer kernels on OpenBLAS (see nn.h for the design).
 *
 * Three kinds of kernel live here:
 *
 * - GEMMs with many rows (a batch of images: 400 rows) go to OpenBLAS's
 *   sgemm, which packs both operands and runs near the machine's peak
 *   (on Intel CPUs; on AMD's the skinny kernel below is faster even
 *   there, see NN_SKINNY_MAX_ROWS).
 *
 * - GEMMs with few rows (one image's 50 tokens, a query's 7) use the
 *   "skinny" kernel below. OpenBLAS packs (copies and transposes) the
 *   whole weight matrix on every call; with few rows that copy costs as
 *   much as the arithmetic (a batch-1 profile showed a third of the time
 *   in sgemm_incopy, and a 7-row text GEMM ran at 15% of peak). The
 *   skinny kernel uses the weight in place: each output is a dot product
 *   of a row of x and a row of w, both contiguous along k, computed for a
 *   6 x 4 tile at once in 24 AVX-512 accumulators so every load feeds
 *   several FMAs; the horizontal sums at the end of a tile are the price of
 *   not packing. Long dot products (fc2: k = 3072) run in k chunks, so
 *   an x tile stays in L1. It needs AVX-512F (chosen at run time);
 *   elsewhere OpenBLAS does everything.
 *
 * - Element-wise kernels (exp for softmax and quick_gelu, layernorm sums)
 *   process NN_LANES floats at a time in loops of fixed trip count, which
 *   GCC vectorises even at -O2; target_clones compiles each for AVX-512,
 *   AVX2 and baseline x86-64 and picks one at load time, so the portable
 *   build (no -march=native) still runs 16-wide. The exp is Cephes'
 *   single-precision polynomial (relative error about 1e-7), close enough
 *   to libm that the fixtures' 1e-4 bound holds with two orders of margin.
 *
 * Everything that is not an OpenBLAS call runs on nn's own small thread
 * pool (nn_parallel), so layernorm, activations and attention use all the
 * cores too; the pool hands out chunks dynamically, so a core shared with
 * another process slows the work less than a static split would.
 */
#include "model/nn.h"

#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define NN_HAVE_X86 1
#endif

#include <cblas.h>

#include "base/util.h"
#include "model/nn_quant.h"
#include "model/nn_neon.h"

/* Floats processed per step by the vectorisable kernels (one AVX-512
 * register; two AVX2 registers). */
#define NN_LANES 16

/* Up to this many rows nn_linear uses the skinny kernel (no weight
 * packing); above it OpenBLAS's packed GEMM is faster on Intel CPUs. On
 * AMD's (Zen 4 runs a 512-bit FMA as two 256-bit halves, and OpenBLAS
 * picks its Intel-tuned Cooperlake kernel there) the skinny kernel is
 * faster at every size: measured on a 2-core EPYC, a batch of 8 images
 * (400 rows) ran 3-5% faster and with less spread than through OpenBLAS,
 * so there it has no row limit. */
#ifndef NN_SKINNY_MAX_ROWS
#define NN_SKINNY_MAX_ROWS 128
#endif
/* The skinny kernel passes every x row over each panel of w, so a GEMM
 * with more rows than this runs as several, one per block of rows: the
 * block of x then stays in L3 (512 rows of fc2's 3072 floats: 6 MB). At
 * 1600 rows of fc2 the unblocked kernel fell to 179 GFLOP/s, against 205
 * at 400. */
#define NN_SKINNY_ROW_BLOCK 512
/* The skinny kernel's tile: x rows by w rows (24 accumulators), and the
 * w blocks processed together so they stay in L2 while every x tile
 * passes over them. */
#define NN_TILE_M 6
#define NN_TILE_N 4
#define NN_PANEL_BLOCKS 8
/* The most w rows one tile prefetches (see nn_skinny_task). */
#define NN_PF_MAX_ROWS 4
/* Slices per thread when a large GEMM is split over the pool, each one
 * single-threaded OpenBLAS call: more slices balance better when a core is
 * shared, fewer keep OpenBLAS's blocks large. */
#ifndef NN_BLAS_SLICES_PER_THREAD
#define NN_BLAS_SLICES_PER_THREAD 2
#endif

/* Element-wise work below this many floats is not worth waking the pool. */
#define NN_PARALLEL_MIN_FLOATS 16384
/* Attention with fewer multiply-adds than this runs on the caller alone: a
 * 7-token text's (8 heads of 64: 50 K) takes a few microseconds, less
 * than handing it to the pool; an image's 50 tokens (3.8 M) still use
 * every thread. */
#define NN_ATTENTION_SERIAL_MACS ((size_t)1 << 18)

#define MIN_I(a, b) ((a) < (b) ? (a) : (b))

/* Not in the ASan and TSan builds, which check correctness, where the
 * baseline kernels are enough: target_clones makes an ifunc resolver that
 * the dynamic loader runs before the sanitizer runtime is set up, and
 * TSan's instrumentation of it crashes every program at start. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
#define NN_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define NN_CLONES
#endif

/* ---- thread pool ----
 *
 * nthreads - 1 workers sleep on a condition variable and are woken per
 * parallel region; the caller works too. Work is handed out in chunks from
 * an atomic counter rather than split statically, so a thread slowed by
 * another process on its core (the normal case on a shared VPS) takes
 * fewer chunks instead of making everyone wait. One region runs at a time
 * (busy); a caller that finds it taken runs its work on its own thread
 * rather than wait, so concurrent callers stay correct.
 *
 * A worker joins a region (state: the region's generation, a closed flag
 * and the count of workers in it) before it reads the region's fields,
 * and the caller, once it has run out of chunks, closes the region and
 * waits only for the workers that joined. A worker that was not scheduled
 * in time (its core busy with another process) then costs the region
 * nothing: it finds the region closed and waits for the next. Before,
 * every worker had to acknowledge every region, so a caller that had done
 * all the work itself still waited for a descheduled worker to run: a
 * 7-row int8 GEMM took 116 us on two threads of a loaded 2-core VM
 * against 25 us on one.
 */
#define NN_MAX_THREADS 64
/* Chunks per thread and region: enough to rebalance, few enough that the
 * atomic counter costs nothing. GEMM regions use fewer, longer chunks: the
 * skinny kernel prefetches the next panel of its chunk while computing
 * one, so the first panel of every chunk waits on memory; with 8 chunks
 * per thread a 512-wide text GEMM had one panel per chunk and prefetched
 * nothing (a query took 6.5 ms instead of 5.4 with 2 chunks per thread). */
#define NN_CHUNKS_PER_THREAD 8
#define NN_GEMM_CHUNKS_PER_THREAD 2
/* How long a worker polls for the next region (and the caller for the
 * end of one) before sleeping: about 20-50 us of pause instructions,
 * longer than the serial gaps of a forward pass, short enough not to
 * steal a shared core from other processes for long. */
#define NN_SPIN_ITERS 2000
/* A spinning thread yields its core once per this many polls (see
 * nn_worker). Measured with a busy process pinned to one of two cores, a
 * text query's median: one thread 5.1-5.7 ms; two threads 6.2 ms without
 * yielding, 5.7-6.0 ms yielding every 8 or 32 polls. */
#define NN_SPIN_YIELD_EVERY 32
/* nn_pool.state: the low bits count the workers in the current region,
 * then one bit says it is closed, the rest is its generation. */
#define NN_POOL_JOINED ((uint64_t)0xFF)
#define NN_POOL_CLOSED ((uint64_t)0x100)
#define NN_POOL_GEN_SHIFT 9

static struct {
    pthread_mutex_t mu;
    pthread_cond_t wake, done;
    pthread_mutex_t busy;
    int nthreads;   /* total including the caller; 0 = not decided yet */
    int started;    /* workers created */
    uint64_t state; /* generation, closed, joined (atomic; a new generation written under mu) */
    int parts;      /* threads taking part in the current region */
    NnTaskFn fn;
    void *ctx;
    int units;
    int chunk;
    int next; /* next unit to hand out (atomic) */
    uint64_t start_gen[NN_MAX_THREADS]; /* generation when worker i was created */
} nn_pool = { .mu = PTHREAD_MUTEX_INITIALIZER,
              .wake = PTHREAD_COND_INITIALIZER,
              .done = PTHREAD_COND_INITIALIZER,
              .busy = PTHREAD_MUTEX_INITIALIZER,
              .state = NN_POOL_CLOSED };

/* nn_run_chunks takes chunks of the current region until none is left. */
static void nn_run_chunks(NnTaskFn fn, void *ctx, int units, int chunk, int thread)
{
    for (;;) {
        int b = __atomic_fetch_add(&nn_pool.next, chunk, __ATOMIC_RELAXED);
        if (b >= units) break;
        fn(ctx, b, b + chunk < units ? b + chunk : units, thread);
    }
}

static void nn_pause(void)
{
#ifdef NN_HAVE_X86
    _mm_pause();
#endif
}

/* nn_pool_gen returns the generation of the region in state s. */
static uint64_t nn_pool_gen(uint64_t s)
{
    return s >> NN_POOL_GEN_SHIFT;
}

/* nn_pool_join enters the worker into region gen if it is still open:
 * 1, or 0 when it has closed or a later one has begun. */
static int nn_pool_join(uint64_t gen)
{
    uint64_t s = __atomic_load_n(&nn_pool.state, __ATOMIC_ACQUIRE);
    while (nn_pool_gen(s) == gen && !(s & NN_POOL_CLOSED))
        if (__atomic_compare_exchange_n(&nn_pool.state, &s, s + 1, 1, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE))
            return 1;
    return 0;
}

static void *nn_worker(void *arg)
{
    int id = (int)(intptr_t)arg;
    pthread_mutex_lock(&nn_pool.mu);
    /* The region that created this worker may already have been
     * published: start from the generation before it. */
    uint64_t seen = nn_pool.start_gen[id];
    pthread_mutex_unlock(&nn_pool.mu);
    for (;;) {
        /* Spin briefly first: the next region of a forward pass usually
         * follows within microseconds, and a futex wake costs more. */
        uint64_t gen = seen;
        for (int i = 0; i < NN_SPIN_ITERS && gen == seen; i++) {
            gen = nn_pool_gen(__atomic_load_n(&nn_pool.state, __ATOMIC_ACQUIRE));
            if (gen != seen) break;
            /* Now and then give the core away: where the scheduler has
             * put this worker on the caller's core (the other one busy
             * with another process), pausing alone would keep the caller,
             * who has the work, off it. */
            if (i % NN_SPIN_YIELD_EVERY == NN_SPIN_YIELD_EVERY - 1)
                sched_yield();
            else
                nn_pause();
        }
        if (gen == seen) {
            pthread_mutex_lock(&nn_pool.mu);
            while ((gen = nn_pool_gen(__atomic_load_n(&nn_pool.state, __ATOMIC_ACQUIRE))) == seen)
                pthread_cond_wait(&nn_pool.wake, &nn_pool.mu);
            pthread_mutex_unlock(&nn_pool.mu);
        }
        seen = gen;
        /* Joined, the worker holds the region open: its fields stay put
         * until it leaves. */
        if (!nn_pool_join(gen)) continue;
        if (id < nn_pool.parts)
            nn_run_chunks(nn_pool.fn, nn_pool.ctx, nn_pool.units, nn_pool.chunk, id);
        uint64_t left = __atomic_sub_fetch(&nn_pool.state, 1, __ATOMIC_ACQ_REL);
        if ((left & NN_POOL_JOINED) == 0 && (left & NN_POOL_CLOSED)) {
            pthread_mutex_lock(&nn_pool.mu);
            pthread_cond_signal(&nn_pool.done);
            pthread_mutex_unlock(&nn_pool.mu);
        }
    }
    return NULL;
}

/*
 * nn_pool_threads returns the pool size, deciding it on first use: the
 * number of threads OpenBLAS would use (OPENBLAS_NUM_THREADS, else one per
 * core, capped by the CPUs a cgroup quota allows: cpu_count). From then
 * on OpenBLAS itself runs single-threaded and nn splits large GEMMs
 * over the pool instead: OpenBLAS's idle workers spin (with sched_yield)
 * for about 0.1 s after each call, and on a two-core machine
 * they then steal the core from the pool's own work that follows (a
 * 7-row GEMM measured twice as slow on two threads as on one).
 */
static int nn_pool_threads(void)
{
    int n = __atomic_load_n(&nn_pool.nthreads, __ATOMIC_ACQUIRE);
    if (n <= 0) {
        pthread_mutex_lock(&nn_pool.mu);
        n = nn_pool.nthreads;
        if (n <= 0) {
            n = openblas_get_num_threads();
            /* OpenBLAS counts cores; a CPU quota (docker --cpus) is not
             * one, unless OPENBLAS_NUM_THREADS says what to use. */
            const char *env = getenv("OPENBLAS_NUM_THREADS");
            if (!(env && *env)) {
                int cpus = cpu_count();
                if (cpus < n) n = cpus;
            }
            if (n < 1) n = 1;
            if (n > NN_MAX_THREADS) n = NN_MAX_THREADS;
            openblas_set_num_threads(1);
            __atomic_store_n(&nn_pool.nthreads, n, __ATOMIC_RELEASE);
        }
        pthread_mutex_unlock(&nn_pool.mu);
    }
    return n;
}

/* nn_parallel_chunks is nn_parallel with chunks_per_thread chunks per
 * thread (see NN_CHUNKS_PER_THREAD). */
static void nn_parallel_chunks(NnTaskFn fn, void *ctx, int units, int max_threads,
                               int chunks_per_thread)
{
    int n = nn_pool_threads();
    if (max_threads > 0 && n > max_threads) n = max_threads;
    if (n > units) n = units;
    if (n <= 1 || pthread_mutex_trylock(&nn_pool.busy) != 0) {
        if (units > 0) fn(ctx, 0, units, 0);
        return;
    }
    pthread_mutex_lock(&nn_pool.mu);
    while (nn_pool.started < n - 1) {
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        nn_pool.start_gen[nn_pool.started + 1] =
            nn_pool_gen(__atomic_load_n(&nn_pool.state, __ATOMIC_RELAXED));
        int rc = pthread_create(&t, &attr, nn_worker, (void *)(intptr_t)(nn_pool.started + 1));
        pthread_attr_destroy(&attr);
        if (rc != 0) break;
        nn_pool.started++;
    }
    if (n > nn_pool.started + 1) n = nn_pool.started + 1;
    /* The previous region is closed and empty: no worker reads these. */
    nn_pool.fn = fn;
    nn_pool.ctx = ctx;
    nn_pool.units = units;
    nn_pool.chunk = units / (n * chunks_per_thread);
    if (nn_pool.chunk < 1) nn_pool.chunk = 1;
    __atomic_store_n(&nn_pool.next, 0, __ATOMIC_RELAXED);
    nn_pool.parts = n;
    /* Publishing the generation under the mutex means a worker that
     * checked it and is about to sleep cannot miss the broadcast. */
    uint64_t gen = nn_pool_gen(__atomic_load_n(&nn_pool.state, __ATOMIC_RELAXED)) + 1;
    __atomic_store_n(&nn_pool.state, gen << NN_POOL_GEN_SHIFT, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&nn_pool.wake);
    int chunk = nn_pool.chunk;
    pthread_mutex_unlock(&nn_pool.mu);
    nn_run_chunks(fn, ctx, units, chunk, 0);
    /* No chunk is left: close the region, then wait for the workers in it
     * (each finishing the chunk it took). */
    uint64_t s = __atomic_fetch_or(&nn_pool.state, NN_POOL_CLOSED, __ATOMIC_ACQ_REL);
    for (int i = 0; i < NN_SPIN_ITERS && (s & NN_POOL_JOINED); i++) {
        /* Yielding now and then, as the workers do: a worker on this core
         * cannot finish its chunk while the caller pauses. */
        if (i % NN_SPIN_YIELD_EVERY == NN_SPIN_YIELD_EVERY - 1)
            sched_yield();
        else
            nn_pause();
        s = __atomic_load_n(&nn_pool.state, __ATOMIC_ACQUIRE);
    }
    if (s & NN_POOL_JOINED) {
        pthread_mutex_lock(&nn_pool.mu);
        while (__atomic_load_n(&nn_pool.state, __ATOMIC_ACQUIRE) & NN_POOL_JOINED)
            pthread_cond_wait(&nn_pool.done, &nn_pool.mu);
        pthread_mutex_unlock(&nn_pool.mu);
    }
    pthread_mutex_unlock(&nn_pool.busy);
}

void nn_parallel(NnTaskFn fn, void *ctx, int units, int max_threads)
{
    nn_parallel_chunks(fn, ctx, units, max_threads, NN_CHUNKS_PER_THREAD);
}

void nn_parallel_gemm(NnTaskFn fn, void *ctx, int units, int max_threads)
{
    nn_parallel_chunks(fn, ctx, units, max_threads, NN_GEMM_CHUNKS_PER_THREAD);
}

void nn_set_threads(int n)
{
    if (n <= 0) return;
    if (n > NN_MAX_THREADS) n = NN_MAX_THREADS;
    nn_pool_threads(); /* decide the default first, so it cannot override n */
    openblas_set_num_threads(1);
    __atomic_store_n(&nn_pool.nthreads, n, __ATOMIC_RELEASE);
}

int nn_get_threads(void)
{
    return nn_pool_threads();
}

const char *nn_blas_info(void)
{
    static char buf[256];
    snprintf(buf, sizeof buf, "%s, core %s, %d threads", openblas_get_config(),
             openblas_get_corename(), nn_pool_threads());
    return buf;
}

/* ---- vectorisable exp, activations, softmax, layernorm ---- */

/*
 * nn_exp_block computes y[i] = exp(x[i]) for NN_LANES values (Cephes expf:
 * exp(x) = 2^n * exp(r), n = round(x / ln 2), |r| <= ln2 / 2, degree-6
 * polynomial for exp(r)). Inputs are clamped to the float range, so huge
 * arguments give FLT_MAX-ish values and very negative ones give ~1e-38,
 * never Inf or NaN for finite inputs.
 */
static inline void nn_exp_block(const float *restrict x, float *restrict y)
{
#if NN_HAVE_NEON
    /* AArch64: the same in NEON (nn_neon.h); GCC does not vectorise this. */
    nn_exp16_neon(x, y);
    return;
#endif
    for (int i = 0; i < NN_LANES; i++) {
        float v = x[i];
        v = v > 88.3762626647949f ? 88.3762626647949f : v;
        v = v < -87.3365478515625f ? -87.3365478515625f : v;
        /* Round to nearest via the 1.5 * 2^23 trick (exact, no floor call). */
        float t = v * 1.44269504088896341f + 12582912.0f;
        float n = t - 12582912.0f;
        float r = v - n * 0.693359375f;
        r = r - n * -2.12194440e-4f;
        float p = 1.9875691500e-4f;
        p = p * r + 1.3981999507e-3f;
        p = p * r + 8.3334519073e-3f;
        p = p * r + 4.1665795894e-2f;
        p = p * r + 1.6666665459e-1f;
        p = p * r + 5.0000001201e-1f;
        p = p * r * r + r + 1.0f;
        int32_t e = ((int32_t)n + 127) << 23;
        union {
            int32_t i;
            float f;
        } u = { .i = e };
        y[i] = p * u.f;
    }
}

NN_CLONES static void nn_quick_gelu_serial(float *x, size_t n)
{
    float z[NN_LANES], e[NN_LANES];
    size_t i = 0;
    for (; i + NN_LANES <= n; i += NN_LANES) {
        /* torch: x * torch.sigmoid(1.702 * x) = x / (1 + exp(-1.702 x)) */
        for (int j = 0; j < NN_LANES; j++) z[j] = -1.702f * x[i + j];
        nn_exp_block(z, e);
        for (int j = 0; j < NN_LANES; j++) x[i + j] = x[i + j] / (1.0f + e[j]);
    }
    for (; i < n; i++) x[i] = x[i] / (1.0f + expf(-1.702f * x[i]));
}

static void nn_gelu_serial(float *x, size_t n)
{
    /* torch.nn.functional.gelu (approximate='none'); used by non-OpenAI CLIPs. */
    for (size_t i = 0; i < n; i++) x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
}

/* nn_softmax_row: s[0..n) = softmax(scale * s[0..n)), in place. */
NN_CLONES static void nn_softmax_row(float *s, int n, float scale)
{
    float mx = -INFINITY;
    for (int j = 0; j < n; j++) mx = s[j] > mx ? s[j] : mx;
    float sum = 0.0f;
    int j = 0;
    float z[NN_LANES];
    /* exp(scale * (s - max)): the max of scale * s is scale * max for scale > 0. */
    for (; j + NN_LANES <= n; j += NN_LANES) {
        for (int l = 0; l < NN_LANES; l++) z[l] = (s[j + l] - mx) * scale;
        nn_exp_block(z, s + j);
    }
    for (; j < n; j++) s[j] = expf((s[j] - mx) * scale);
    for (j = 0; j < n; j++) sum += s[j];
    float inv = 1.0f / sum;
    for (j = 0; j < n; j++) s[j] *= inv;
}

static void nn_softmax_rows_scaled(float *s, int rows, int cols, int ld, int causal, float scale)
{
    for (int r = 0; r < rows; r++) {
        float *row = s + (size_t)r * ld;
        int n = causal && r + 1 < cols ? r + 1 : cols;
        nn_softmax_row(row, n, scale);
        /* Masked positions (-inf before softmax) get exactly zero weight. */
        for (int j = n; j < cols; j++) row[j] = 0.0f;
    }
}

void nn_softmax_rows(float *s, int rows, int cols, int ld, int causal)
{
    nn_softmax_rows_scaled(s, rows, cols, ld, causal, 1.0f);
}

NN_CLONES static void nn_layernorm_serial(const float *x, int rows, int dim, const float *g,
                                          const float *b, float eps, float *y)
{
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * dim;
        float *yr = y + (size_t)r * dim;
        /* Lane-wise partial sums keep the rounding error of a 768-term sum
         * near that of pairwise summation, and vectorise. */
        float acc[NN_LANES] = { 0 };
        int j = 0;
        for (; j + NN_LANES <= dim; j += NN_LANES)
            for (int l = 0; l < NN_LANES; l++) acc[l] += xr[j + l];
        float sum = 0.0f;
        for (int l = 0; l < NN_LANES; l++) sum += acc[l];
        for (; j < dim; j++) sum += xr[j];
        float mean = sum / (float)dim;
        float acc2[NN_LANES] = { 0 };
        j = 0;
        for (; j + NN_LANES <= dim; j += NN_LANES)
            for (int l = 0; l < NN_LANES; l++) {
                float d = xr[j + l] - mean;
                acc2[l] += d * d;
            }
        float var = 0.0f;
        for (int l = 0; l < NN_LANES; l++) var += acc2[l];
        for (; j < dim; j++) var += (xr[j] - mean) * (xr[j] - mean);
        var /= (float)dim;
        float rstd = 1.0f / sqrtf(var + eps);
        /* torch: (x - mean) / sqrt(var + eps) * weight + bias. Lane blocks
         * read before they write, so that the loop vectorises: y may be x
         * (pre_layrnorm runs in place), and a plain loop over j would need
         * an alias check that GCC's -O2 cost model declines, leaving 3,584
         * scalar steps (4 us) in every 7-token text layer norm. */
        for (j = 0; j + NN_LANES <= dim; j += NN_LANES) {
            float t[NN_LANES];
            for (int l = 0; l < NN_LANES; l++)
                t[l] = (xr[j + l] - mean) * rstd * g[j + l] + b[j + l];
            for (int l = 0; l < NN_LANES; l++) yr[j + l] = t[l];
        }
        for (; j < dim; j++) yr[j] = (xr[j] - mean) * rstd * g[j] + b[j];
    }
}

typedef struct {
    const float *x;
    int dim;
    const float *g, *b;
    float eps;
    float *y;
} NnLayerNormJob;

static void nn_layernorm_task(void *ctx, int begin, int end, int thread)
{
    (void)thread;
    const NnLayerNormJob *j = ctx;
    nn_layernorm_serial(j->x + (size_t)begin * j->dim, end - begin, j->dim, j->g, j->b, j->eps,
                        j->y + (size_t)begin * j->dim);
}

void nn_layernorm(const float *x, int rows, int dim, const float *g, const float *b, float eps,
                  float *y)
{
    if ((size_t)rows * dim < NN_PARALLEL_MIN_FLOATS) {
        nn_layernorm_serial(x, rows, dim, g, b, eps, y);
        return;
    }
    NnLayerNormJob job = { x, dim, g, b, eps, y };
    nn_parallel(nn_layernorm_task, &job, rows, 0);
}

/* ---- skinny GEMM (see the file comment) ---- */

typedef struct {
    const float *x; /* (rows, k), row stride ldx */
    const float *w; /* (out, k), row stride ldw */
    const float *b; /* (out) or NULL */
    float *y;       /* (rows, out), row stride ldy */
    int rows, k, out;
    int ldx, ldw, ldy;
    int accumulate;
    NnAct act;
    int cols; /* columns per slice (large GEMMs) */
} NnGemmJob;

void nn_activate(float *x, size_t n, NnAct act)
{
    if (act == NN_ACT_GELU)
        nn_gelu_serial(x, n);
    else if (act == NN_ACT_QUICK_GELU)
        nn_quick_gelu_serial(x, n);
}

/* nn_act_cols applies j->act to columns [c0, c1) of every row of j->y,
 * just written by the GEMM and still in cache. */
static void nn_act_cols(const NnGemmJob *j, int c0, int c1)
{
    if (j->act == NN_ACT_NONE || c1 <= c0) return;
    for (int r = 0; r < j->rows; r++) {
        float *yr = j->y + (size_t)r * j->ldy + c0;
        if (j->act == NN_ACT_GELU)
            nn_gelu_serial(yr, (size_t)(c1 - c0));
        else
            nn_quick_gelu_serial(yr, (size_t)(c1 - c0));
    }
}

#ifdef NN_HAVE_X86
/* nn_have_avx512 says whether the skinny kernel may run: the CPU has
 * AVX-512F and NN_ENV_NO_AVX512 is not set (tests use it to check the
 * OpenBLAS-only path on any machine). */
static int nn_have_avx512(void)
{
    static int have = -1; /* decided once; racing first calls agree */
    int h = __atomic_load_n(&have, __ATOMIC_RELAXED);
    if (h < 0) {
        __builtin_cpu_init();
        const char *off = getenv(NN_ENV_NO_AVX512);
        h = __builtin_cpu_supports("avx512f") && !(off && *off) ? 1 : 0;
        __atomic_store_n(&have, h, __ATOMIC_RELAXED);
    }
    return h;
}

/* nn_skinny_max_rows: the most rows the skinny kernel takes on this CPU
 * (0: none, no AVX-512). See NN_SKINNY_MAX_ROWS. */
static int nn_skinny_max_rows(void)
{
    if (!nn_have_avx512()) return 0;
    return __builtin_cpu_is("amd") ? INT_MAX : NN_SKINNY_MAX_ROWS;
}

/*
 * nn_tile_avx512 computes sums[i * 4 + j] = dot(x row i, w row j) for
 * i < mb (a compile-time constant after inlining) and the four w rows,
 * prefetching the lines at pf + p * ldpf + k (p < pf_n: w rows of what
 * comes next; k < pf_len) as it goes. The prefetch goes to L2 (T1), where the tiles
 * read w from anyway: a request to L1 holds one of its few miss buffers
 * until the line arrives, and with them all taken the stream from memory
 * stalled (T0 ran a text query in 7.9 ms, T1 in 6.5).
 */
__attribute__((target("avx512f"), always_inline)) static inline void
nn_tile_avx512(const float *x, int ldx, const float *w0, const float *w1, const float *w2,
               const float *w3, const float *pf, int pf_n, int ldpf, int pf_len, int k_len,
               int mb, float *sums)
{
    __m512 acc[NN_TILE_M][NN_TILE_N];
    const float *wr[NN_TILE_N] = { w0, w1, w2, w3 };
#pragma GCC unroll 6
    for (int i = 0; i < mb; i++)
#pragma GCC unroll 4
        for (int j = 0; j < NN_TILE_N; j++) acc[i][j] = _mm512_setzero_ps();
    int k = 0;
    for (; k + 16 <= k_len; k += 16) {
        __m512 wv[NN_TILE_N];
        if (k < pf_len)
            for (int p = 0; p < pf_n; p++)
                _mm_prefetch((const char *)(pf + (size_t)p * ldpf + k), _MM_HINT_T1);
#pragma GCC unroll 4
        for (int j = 0; j < NN_TILE_N; j++) wv[j] = _mm512_loadu_ps(wr[j] + k);
#pragma GCC unroll 6
        for (int i = 0; i < mb; i++) {
            __m512 xv = _mm512_loadu_ps(x + (size_t)i * ldx + k);
#pragma GCC unroll 4
            for (int j = 0; j < NN_TILE_N; j++) acc[i][j] = _mm512_fmadd_ps(xv, wv[j], acc[i][j]);
        }
    }
    if (k < k_len) {
        __mmask16 m = (__mmask16)((1u << (k_len - k)) - 1);
        __m512 wv[NN_TILE_N];
#pragma GCC unroll 4
        for (int j = 0; j < NN_TILE_N; j++) wv[j] = _mm512_maskz_loadu_ps(m, wr[j] + k);
#pragma GCC unroll 6
        for (int i = 0; i < mb; i++) {
            __m512 xv = _mm512_maskz_loadu_ps(m, x + (size_t)i * ldx + k);
#pragma GCC unroll 4
            for (int j = 0; j < NN_TILE_N; j++) acc[i][j] = _mm512_fmadd_ps(xv, wv[j], acc[i][j]);
        }
    }
    /* Horizontal sums, four at a time: fold each 512-bit accumulator to
     * 256 bits, then two rounds of hadd leave the four sums of one x row
     * in the two 128-bit lanes, which one add combines. About 5 uops per
     * output instead of 8 for _mm512_reduce_add_ps. */
#pragma GCC unroll 6
    for (int i = 0; i < mb; i++) {
        __m256 h[NN_TILE_N];
#pragma GCC unroll 4
        for (int j = 0; j < NN_TILE_N; j++)
            h[j] = _mm256_add_ps(
                _mm512_castps512_ps256(acc[i][j]),
                _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(acc[i][j]), 1)));
        __m256 h01 = _mm256_hadd_ps(h[0], h[1]), h23 = _mm256_hadd_ps(h[2], h[3]);
        __m256 hh = _mm256_hadd_ps(h01, h23);
        __m128 r = _mm_add_ps(_mm256_castps256_ps128(hh), _mm256_extractf128_ps(hh, 1));
        _mm_storeu_ps(sums + i * NN_TILE_N, r);
    }
}

/* nn_skinny_tile computes y rows m0 .. m0 + mb (mb <= NN_TILE_M) by the columns of
 * w block nbk over k in [k0, k0 + kl), prefetching pf_len floats of pf_n
 * w rows from pf on meanwhile. The first k chunk (k0 == 0) stores (adding the bias,
 * and y itself with accumulate); later chunks add to y. */
__attribute__((target("avx512f"))) static void nn_skinny_tile(const NnGemmJob *j, int nbk, int m0,
                                                              int mb, const float *pf, int pf_n,
                                                              int pf_len, int k0, int kl)
{
    int n0 = nbk * NN_TILE_N, nb = MIN_I(NN_TILE_N, j->out - n0);
    /* A partial block repeats its last w row; the extra sums are dropped. */
    const float *w[NN_TILE_N];
    for (int t = 0; t < NN_TILE_N; t++)
        w[t] = j->w + (size_t)(n0 + MIN_I(t, nb - 1)) * j->ldw + k0;
    const float *x = j->x + (size_t)m0 * j->ldx + k0;
    float s[NN_TILE_M * NN_TILE_N];
    /* One call per tile height, so that each inlined copy has a constant mb. */
#define NN_TILE_CALL(mb_) \
    nn_tile_avx512(x, j->ldx, w[0], w[1], w[2], w[3], pf, pf_n, j->ldw, pf_len, kl, mb_, s)
    switch (mb) {
    case 6: NN_TILE_CALL(6); break;
    case 5: NN_TILE_CALL(5); break;
    case 4: NN_TILE_CALL(4); break;
    case 3: NN_TILE_CALL(3); break;
    case 2: NN_TILE_CALL(2); break;
    default: NN_TILE_CALL(1); break;
    }
#undef NN_TILE_CALL
    int first = k0 == 0;
    int add_y = j->accumulate || !first;
    const float *bias = first ? j->b : NULL;
    if (nb == NN_TILE_N) {
        __m128 bv = bias ? _mm_loadu_ps(bias + n0) : _mm_setzero_ps();
        for (int i = 0; i < mb; i++) {
            float *yr = j->y + (size_t)(m0 + i) * j->ldy + n0;
            /* torch: y = x @ w.T + b (+ residual) */
            __m128 v = _mm_add_ps(_mm_loadu_ps(s + i * NN_TILE_N), bv);
            if (add_y) v = _mm_add_ps(_mm_loadu_ps(yr), v);
            _mm_storeu_ps(yr, v);
        }
        return;
    }
    for (int i = 0; i < mb; i++) {
        float *yr = j->y + (size_t)(m0 + i) * j->ldy + n0;
        for (int c = 0; c < nb; c++) {
            float v = s[i * NN_TILE_N + c] + (bias ? bias[n0 + c] : 0.0f);
            yr[c] = add_y ? yr[c] + v : v;
        }
    }
}

/* nn_skinny_kc returns the k chunk for reduction length k: all of it up to
 * NN_SKINNY_KC_MAX, else equal chunks of about NN_SKINNY_KC (multiples of
 * 16), so that an x tile (NN_TILE_M rows of a chunk) and a w block stay in
 * L1 while the tile is computed. Unchunked, fc2's x tile (6 x 3072 floats,
 * 72 KB) streamed from L2 and ran 10% slower than the 768-wide layers. */
#define NN_SKINNY_KC 768
#define NN_SKINNY_KC_MAX 1024
static int nn_skinny_kc(int k)
{
    if (k <= NN_SKINNY_KC_MAX) return k;
    int chunks = (k + NN_SKINNY_KC - 1) / NN_SKINNY_KC;
    int kc = (k + chunks - 1) / chunks;
    return (kc + 15) / 16 * 16;
}

/*
 * nn_skinny_task computes w blocks [begin, end) in panels of
 * NN_PANEL_BLOCKS: the panel's w rows stay in L2 while every x tile passes
 * over them, one k chunk at a time. What comes next (the panel's next k
 * chunk, or the next panel) is prefetched by the tiles of this one, so the
 * stream from memory overlaps the arithmetic.
 */
static void nn_skinny_task(void *ctx, int begin, int end, int thread)
{
    (void)thread;
    const NnGemmJob *j = ctx;
    int K = j->k, kc = nn_skinny_kc(K);
    /* The rows in as few tiles as NN_TILE_M allows, of equal height: 50
     * rows as 5 x 6 + 4 x 5 rather than 8 x 6 + 2, whose last tile would
     * spend 6 loads on 8 FMAs. */
    int row_tiles = (j->rows + NN_TILE_M - 1) / NN_TILE_M;
    int row_base = j->rows / row_tiles, row_extra = j->rows % row_tiles;
    for (int p0 = begin; p0 < end; p0 += NN_PANEL_BLOCKS) {
        int p1 = MIN_I(p0 + NN_PANEL_BLOCKS, end);
        /* At least one chunk, even an empty one (k = 0: y = b (+ y)). */
        int k0 = 0;
        do {
            int kl = MIN_I(kc, K - k0);
            int next_first, next_rows, next_k;
            if (k0 + kl < K) {
                next_first = p0 * NN_TILE_N;
                next_rows = MIN_I(p1 * NN_TILE_N, j->out) - next_first;
                next_k = k0 + kl;
            } else {
                next_first = p1 * NN_TILE_N;
                next_rows =
                    MIN_I(MIN_I(p1 + NN_PANEL_BLOCKS, end) * NN_TILE_N, j->out) - next_first;
                next_k = 0;
            }
            /* The tiles share the prefetch of the next next_rows w rows,
             * per rows each: more than one when the x tiles are few (a
             * 7-token text has 2 per block, a pooled row 1), so that the
             * whole next panel is requested while this one computes. */
            int next_kl = MIN_I(kc, K - next_k);
            int tiles = row_tiles * (p1 - p0);
            int per = MIN_I(NN_PF_MAX_ROWS, (next_rows + tiles - 1) / tiles);
            int r = 0;
            for (int rt = 0, m0 = 0; rt < row_tiles; rt++) {
                int mb = row_base + (rt < row_extra);
                for (int nbk = p0; nbk < p1; nbk++, r++) {
                    int first = r * per, pf_n = MIN_I(per, next_rows - first);
                    if (pf_n < 0) pf_n = 0;
                    const float *pf =
                        pf_n ? j->w + (size_t)(next_first + first) * j->ldw + next_k : NULL;
                    nn_skinny_tile(j, nbk, m0, mb, pf, pf_n, next_kl, k0, kl);
                }
                m0 += mb;
            }
            k0 += kl;
        } while (k0 < K);
        nn_act_cols(j, p0 * NN_TILE_N, MIN_I(p1 * NN_TILE_N, j->out));
    }
}
#endif

/*
 * nn_blas_task: slices [begin, end) (of j->cols columns) of a large GEMM, one
 * single-threaded OpenBLAS call (each packs its own slice of w; x is
 * packed again per slice, which costs about 1% at 128 columns).
 */
static void nn_blas_task(void *ctx, int begin, int end, int thread)
{
    (void)thread;
    const NnGemmJob *j = ctx;
    int c0 = begin * j->cols, c1 = MIN_I(end * j->cols, j->out);
    /* Bias first, then the GEMM with beta = 1: y = b (+ y) + x @ w^T. */
    if (j->b) {
        for (int r = 0; r < j->rows; r++) {
            float *yr = j->y + (size_t)r * j->ldy;
            if (j->accumulate)
                for (int c = c0; c < c1; c++) yr[c] += j->b[c];
            else
                memcpy(yr + c0, j->b + c0, (size_t)(c1 - c0) * sizeof *yr);
        }
    }
    float beta = (j->b || j->accumulate) ? 1.0f : 0.0f;
    /* With k = 0 the strides of x and w are never used, but cblas refuses
     * ones below 1 and would then compute nothing (not even beta * y). */
    int ldx = j->ldx > 0 ? j->ldx : 1, ldw = j->ldw > 0 ? j->ldw : 1;
    /* torch: y = x @ w.T (+ b) */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, j->rows, c1 - c0, j->k, 1.0f, j->x, ldx,
                j->w + (size_t)c0 * j->ldw, ldw, beta, j->y + c0, j->ldy);
    nn_act_cols(j, c0, c1);
}

/* Several GEMMs of one region: units [first[i], first[i + 1]) are job i's
 * units (skinny blocks or BLAS slices), run by fn. */
typedef struct {
    NnGemmJob jobs[NN_LINEAR_MAX_OUTS];
    int first[NN_LINEAR_MAX_OUTS + 1];
    int n;
    NnTaskFn fn;
} NnMultiJob;

/* nn_multi_task splits [begin, end) at the jobs' boundaries. */
static void nn_multi_task(void *ctx, int begin, int end, int thread)
{
    const NnMultiJob *mj = ctx;
    for (int i = 0; i < mj->n && begin < end; i++) {
        int lo = mj->first[i], hi = mj->first[i + 1];
        if (begin >= hi) continue;
        int e = MIN_I(end, hi);
        mj->fn((void *)&mj->jobs[i], begin - lo, e - lo, thread);
        begin = e;
    }
}

int nn_padded_ld(int n)
{
    return n % 1024 == 0 ? n + 16 : n;
}

void nn_linear_multi(const float *x, int ldx, int rows, int in, const NnLinearOut *outs, int n)
{
    if (rows <= 0 || n <= 0) return;
    if (n > NN_LINEAR_MAX_OUTS) {
        /* A caller bug; compute it correctly in two calls rather than fail. */
        nn_linear_multi(x, ldx, rows, in, outs, NN_LINEAR_MAX_OUTS);
        nn_linear_multi(x, ldx, rows, in, outs + NN_LINEAR_MAX_OUTS, n - NN_LINEAR_MAX_OUTS);
        return;
    }
    if (ldx <= 0) ldx = in;
    /* bf16 and int8 weights go to nn_quant.c, together when all outputs
     * share a precision (the input is then converted once), else one by one. */
    int nq = 0;
    for (int i = 0; i < n; i++) nq += outs[i].qw != NULL;
    if (nq > 0) {
        int same = nq == n;
        for (int i = 1; same && i < n; i++) same = outs[i].qw->prec == outs[0].qw->prec;
        if (same) {
            nn_quant_linear_multi(x, ldx, rows, in, outs, n);
        } else {
            for (int i = 0; i < n; i++) nn_linear_multi(x, ldx, rows, in, &outs[i], 1);
        }
        return;
    }
    NnMultiJob mj = { .n = n, .fn = nn_blas_task };
#ifdef NN_HAVE_X86
    if (rows <= nn_skinny_max_rows()) {
        if (rows > NN_SKINNY_ROW_BLOCK) {
            /* Equal row blocks, one region each (see NN_SKINNY_ROW_BLOCK). */
            int blocks = (rows + NN_SKINNY_ROW_BLOCK - 1) / NN_SKINNY_ROW_BLOCK;
            int per = (rows + blocks - 1) / blocks;
            for (int r0 = 0; r0 < rows; r0 += per) {
                NnLinearOut part[NN_LINEAR_MAX_OUTS];
                for (int i = 0; i < n; i++) {
                    part[i] = outs[i];
                    part[i].y += (size_t)r0 * (outs[i].ldy > 0 ? outs[i].ldy : outs[i].out);
                }
                nn_linear_multi(x + (size_t)r0 * ldx, ldx, MIN_I(per, rows - r0), in, part, n);
            }
            return;
        }
        mj.fn = nn_skinny_task;
    }
#endif
    int slices = nn_pool_threads() * NN_BLAS_SLICES_PER_THREAD;
    for (int i = 0; i < n; i++) {
        const NnLinearOut *o = &outs[i];
        NnGemmJob *j = &mj.jobs[i];
        *j = (NnGemmJob){ x, o->w, o->b, o->y, rows, in, o->out, ldx, in,
                          o->ldy > 0 ? o->ldy : o->out, o->accumulate, o->act, 0 };
        int units;
        if (mj.fn == nn_blas_task) {
            /* Equal slices, a few per thread, rounded to 16 columns. */
            int cols = (o->out + slices - 1) / slices;
            j->cols = (cols + 15) / 16 * 16;
            units = (o->out + j->cols - 1) / j->cols;
        } else {
            units = (o->out + NN_TILE_N - 1) / NN_TILE_N;
        }
        mj.first[i + 1] = mj.first[i] + units;
    }
    if (n == 1)
        nn_parallel_gemm(mj.fn, &mj.jobs[0], mj.first[1], 0);
    else
        nn_parallel_gemm(nn_multi_task, &mj, mj.first[n], 0);
}

void nn_linear(const float *x, int rows, int in, const float *w, const float *b, int out,
               float *y, int accumulate)
{
    NnLinearOut o = { w, b, out, y, accumulate, NN_ACT_NONE, 0, NULL };
    nn_linear_multi(x, 0, rows, in, &o, 1);
}

void nn_sgemm_reference(const float *x, int rows, int in, const float *w, int out, float *y)
{
    /* OpenBLAS's own threading, for the benchmark's reference rate. */
    openblas_set_num_threads(nn_pool_threads());
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, out, in, 1.0f, x, in, w, in, 0.0f,
                y, out);
    openblas_set_num_threads(1);
}

const char *nn_kernels(void)
{
    static char buf[128];
    const char *gemm = "openblas", *attention = "generic";
    char skinny[64] = "";
#ifdef NN_HAVE_X86
    int rows = nn_skinny_max_rows();
    if (rows == INT_MAX)
        gemm = "avx512-skinny";
    else if (rows > 0)
        snprintf(skinny, sizeof skinny, "avx512-skinny up to %d rows, then ", rows);
    if (nn_have_avx512()) attention = "avx512";
#elif NN_HAVE_NEON
    attention = "neon";
#endif
    snprintf(buf, sizeof buf, "gemm %s%s; attention %s", skinny, gemm, attention);
    return buf;
}

/* ---- attention ---- */

/*
 * nn_weighted_sum: out row i (width) = sum over j < n(i) of p[i][j] * v
 * row j, where n(i) = i + 1 when causal, else cols. The axpy form keeps
 * v rows contiguous in the inner loop, so it vectorises without
 * horizontal sums.
 */
NN_CLONES static void nn_weighted_sum_generic(const float *p, int ldp, int rows, int cols,
                                              int causal, const float *v, int ldv, int width,
                                              float *out, int ldo)
{
    for (int i = 0; i < rows; i++) {
        float *o = out + (size_t)i * ldo;
        const float *pr = p + (size_t)i * ldp;
        int n = causal && i + 1 < cols ? i + 1 : cols;
        int d = 0;
        /* NN_LANES output columns at a time, accumulated in a local block. */
        for (; d + NN_LANES <= width; d += NN_LANES) {
            float acc[NN_LANES] = { 0 };
            for (int j = 0; j < n; j++) {
                const float *vr = v + (size_t)j * ldv + d;
                for (int l = 0; l < NN_LANES; l++) acc[l] += pr[j] * vr[l];
            }
            for (int l = 0; l < NN_LANES; l++) o[d + l] = acc[l];
        }
        for (; d < width; d++) {
            float acc = 0.0f;
            for (int j = 0; j < n; j++) acc += pr[j] * v[(size_t)j * ldv + d];
            o[d] = acc;
        }
    }
}

#ifdef NN_HAVE_X86
/* nn_ws_rows accumulates, for mr (1 or 2) rows of p and the 64 columns of
 * v at d0, sum over j < n of p[i][j] * v[j][d0..d0 + 64) into out rows:
 * 4 * mr independent accumulators, so the FMAs do not wait for each other
 * and each v load feeds mr of them. Row 1 (when mr == 2) runs to n1 >= n. */
__attribute__((target("avx512f"), always_inline)) static inline void
nn_ws_rows64(const float *p0, const float *p1, int n, int n1, const float *v, int ldv,
             float *o0, float *o1, int mr)
{
    __m512 a[2][4];
    for (int r = 0; r < 2; r++)
        for (int c = 0; c < 4; c++) a[r][c] = _mm512_setzero_ps();
    int j = 0;
    for (; j < n; j++) {
        const float *vr = v + (size_t)j * ldv;
        __m512 v0 = _mm512_loadu_ps(vr), v1 = _mm512_loadu_ps(vr + 16);
        __m512 v2 = _mm512_loadu_ps(vr + 32), v3 = _mm512_loadu_ps(vr + 48);
        __m512 b0 = _mm512_set1_ps(p0[j]);
        a[0][0] = _mm512_fmadd_ps(b0, v0, a[0][0]);
        a[0][1] = _mm512_fmadd_ps(b0, v1, a[0][1]);
        a[0][2] = _mm512_fmadd_ps(b0, v2, a[0][2]);
        a[0][3] = _mm512_fmadd_ps(b0, v3, a[0][3]);
        if (mr == 2) {
            __m512 b1 = _mm512_set1_ps(p1[j]);
            a[1][0] = _mm512_fmadd_ps(b1, v0, a[1][0]);
            a[1][1] = _mm512_fmadd_ps(b1, v1, a[1][1]);
            a[1][2] = _mm512_fmadd_ps(b1, v2, a[1][2]);
            a[1][3] = _mm512_fmadd_ps(b1, v3, a[1][3]);
        }
    }
    if (mr == 2)
        for (; j < n1; j++) {
            const float *vr = v + (size_t)j * ldv;
            __m512 b1 = _mm512_set1_ps(p1[j]);
            for (int c = 0; c < 4; c++)
                a[1][c] = _mm512_fmadd_ps(b1, _mm512_loadu_ps(vr + 16 * c), a[1][c]);
        }
    for (int c = 0; c < 4; c++) _mm512_storeu_ps(o0 + 16 * c, a[0][c]);
    if (mr == 2)
        for (int c = 0; c < 4; c++) _mm512_storeu_ps(o1 + 16 * c, a[1][c]);
}

/* nn_weighted_sum_avx512 is nn_weighted_sum with register blocking: two
 * rows by 64 columns per pass (the generic version, one 16-wide
 * accumulator chain, is bound by the FMA latency at a quarter of the
 * machine's rate), then 16-column masked passes for what is left. */
__attribute__((target("avx512f"))) static void
nn_weighted_sum_avx512(const float *p, int ldp, int rows, int cols, int causal, const float *v,
                       int ldv, int width, float *out, int ldo)
{
    int i = 0;
    for (; i < rows; i += 2) {
        int mr = i + 1 < rows ? 2 : 1;
        const float *p0 = p + (size_t)i * ldp, *p1 = p0 + (mr == 2 ? ldp : 0);
        float *o0 = out + (size_t)i * ldo, *o1 = o0 + (mr == 2 ? ldo : 0);
        int n0 = causal && i + 1 < cols ? i + 1 : cols;
        int n1 = causal && i + 2 < cols ? i + 2 : cols;
        int d = 0;
        for (; d + 64 <= width; d += 64) {
            if (mr == 2)
                nn_ws_rows64(p0, p1, n0, n1, v + d, ldv, o0 + d, o1 + d, 2);
            else
                nn_ws_rows64(p0, p0, n0, n0, v + d, ldv, o0 + d, o0 + d, 1);
        }
        for (; d < width; d += 16) {
            __mmask16 m =
                d + 16 <= width ? (__mmask16)0xffff : (__mmask16)((1u << (width - d)) - 1);
            for (int r = 0; r < mr; r++) {
                const float *pr = r ? p1 : p0;
                int n = r ? n1 : n0;
                /* Two chains (even and odd j) halve the latency wait. */
                __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
                int j = 0;
                for (; j + 1 < n; j += 2) {
                    a0 = _mm512_fmadd_ps(_mm512_set1_ps(pr[j]),
                                         _mm512_maskz_loadu_ps(m, v + (size_t)j * ldv + d), a0);
                    a1 = _mm512_fmadd_ps(_mm512_set1_ps(pr[j + 1]),
                                         _mm512_maskz_loadu_ps(m, v + (size_t)(j + 1) * ldv + d),
                                         a1);
                }
                if (j < n)
                    a0 = _mm512_fmadd_ps(_mm512_set1_ps(pr[j]),
                                         _mm512_maskz_loadu_ps(m, v + (size_t)j * ldv + d), a0);
                _mm512_mask_storeu_ps((r ? o1 : o0) + d, m, _mm512_add_ps(a0, a1));
            }
        }
    }
}
#endif

/*
 * nn_weighted_sum: out row i (width) = sum over j < n(i) of p[i][j] * v
 * row j, where n(i) = i + 1 when causal, else cols.
 */
static void nn_weighted_sum(const float *p, int ldp, int rows, int cols, int causal,
                            const float *v, int ldv, int width, float *out, int ldo)
{
#ifdef NN_HAVE_X86
    if (nn_have_avx512()) {
        nn_weighted_sum_avx512(p, ldp, rows, cols, causal, v, ldv, width, out, ldo);
        return;
    }
#endif
#if NN_HAVE_NEON
    /* AArch64: nn_neon.c (NEON is base ISA, no run-time check). */
    nn_weighted_sum_neon(p, ldp, rows, cols, causal, v, ldv, width, out, ldo);
    return;
#endif
    nn_weighted_sum_generic(p, ldp, rows, cols, causal, v, ldv, width, out, ldo);
}

/*
 * nn_attention_head: one head of one sequence. scratch holds
 * NN_ATTENTION_SCRATCH(t, hd) floats: the scores (t rows), then k
 * transposed (hd rows), rows padded to NN_ATTENTION_PAD(t), so that q k^T
 * is also an axpy-form product (with head_dim = 64 a dot-product kernel
 * would spend more on horizontal sums than on the products).
 */
static void nn_attention_head(const float *q, const float *k, const float *v, int ld, int t,
                              int hd, int causal, float *scratch, float *out, int ldo)
{
    float scale = 1.0f / sqrtf((float)hd);
    /* k^T and the scores have rows of tp >= t floats, zero-padded to whole
     * vectors: the score product then has no scalar tail (t = 50 left 2
     * columns of 50 to a scalar loop that cost as much as the other 48). */
    int tp = NN_ATTENTION_PAD(t);
    float *scores = scratch, *kt = scratch + (size_t)t * tp;
    for (int d = 0; d < hd; d++) {
        float *row = kt + (size_t)d * tp;
        for (int j = 0; j < t; j++) row[j] = k[(size_t)j * ld + d];
        for (int j = t; j < tp; j++) row[j] = 0.0f;
    }
    /* torch: attn = softmax((q * scale) @ k.T [+ causal mask]); out = attn @ v */
    nn_weighted_sum(q, ld, t, hd, 0, kt, tp, tp, scores, tp);
    nn_softmax_rows_scaled(scores, t, t, tp, causal, scale);
    nn_weighted_sum(scores, tp, t, t, causal, v, ld, hd, out, ldo);
}

/* nn_attention_query: one head, one query row q (hd) against the t keys
 * and values of its sequence (no mask), into out (hd). The scores are dot
 * products here: with a single query there is nothing to amortise a
 * transpose of k over. */
NN_CLONES static void nn_attention_query(const float *q, const float *k, const float *v, int ld,
                                         int t, int hd, float *scores, float *out)
{
    float scale = 1.0f / sqrtf((float)hd);
    /* torch: attn = softmax((q * scale) @ k.T); out = attn @ v */
    for (int j = 0; j < t; j++) {
        const float *kj = k + (size_t)j * ld;
        float acc[NN_LANES] = { 0 };
        int d = 0;
        for (; d + NN_LANES <= hd; d += NN_LANES)
            for (int l = 0; l < NN_LANES; l++) acc[l] += q[d + l] * kj[d + l];
        float sum = 0.0f;
        for (int l = 0; l < NN_LANES; l++) sum += acc[l];
        for (; d < hd; d++) sum += q[d] * kj[d];
        scores[j] = sum;
    }
    nn_softmax_row(scores, t, scale);
    nn_weighted_sum(scores, t, 1, t, 0, v, ld, hd, out, hd);
}

void nn_attention(const float *q, const float *k, const float *v, int ld_in, int t, int heads,
                  int head_dim, int causal, float *scratch, float *out, int ld_out)
{
    for (int h = 0; h < heads; h++) {
        size_t off = (size_t)h * head_dim;
        nn_attention_head(q + off, k + off, v + off, ld_in, t, head_dim, causal, scratch,
                          out + off, ld_out);
    }
}

typedef struct {
    const float *q, *k, *v;
    int ld;
    const int *seq_off, *seq_len;
    int heads, head_dim, causal;
    float *scratch;
    size_t slot; /* floats of scratch per thread */
    float *out;
    int pooled; /* q and out hold one row per sequence (nn_attention_pooled) */
} NnAttentionJob;

/* nn_attention_task runs the (sequence, head) pairs [begin, end). */
static void nn_attention_task(void *ctx, int begin, int end, int thread)
{
    const NnAttentionJob *j = ctx;
    float *scores = j->scratch + (size_t)thread * j->slot;
    for (int u = begin; u < end; u++) {
        int s = u / j->heads, h = u % j->heads;
        size_t kv = (size_t)j->seq_off[s] * j->ld + (size_t)h * j->head_dim;
        if (j->pooled) {
            size_t qo = (size_t)s * j->ld + (size_t)h * j->head_dim;
            nn_attention_query(j->q + qo, j->k + kv, j->v + kv, j->ld, j->seq_len[s],
                               j->head_dim, scores, j->out + qo);
        } else {
            nn_attention_head(j->q + kv, j->k + kv, j->v + kv, j->ld, j->seq_len[s],
                              j->head_dim, j->causal, scores, j->out + kv, j->ld);
        }
    }
}

/* nn_attention_threads returns how many threads attention over these
 * sequences may use: one when its multiply-adds (each query row against
 * each key, for scores and for the weighted sum) are fewer than
 * NN_ATTENTION_SERIAL_MACS, else slots. */
static int nn_attention_threads(const int *seq_len, int nseq, int heads, int head_dim,
                                int pooled, int slots)
{
    size_t macs = 0;
    for (int i = 0; i < nseq; i++)
        macs += (size_t)(pooled ? 1 : seq_len[i]) * (size_t)seq_len[i] * 2 * (size_t)heads *
                (size_t)head_dim;
    return macs < NN_ATTENTION_SERIAL_MACS ? 1 : slots;
}

void nn_attention_batch(const float *q, const float *k, const float *v, int ld, const int *seq_off,
                        const int *seq_len, int nseq, int heads, int head_dim, int causal,
                        float *scratch, size_t slot_floats, int slots, float *out)
{
    NnAttentionJob job = { q, k, v, ld, seq_off, seq_len, heads, head_dim, causal, scratch,
                           slot_floats, out, 0 };
    nn_parallel(nn_attention_task, &job, nseq * heads,
                nn_attention_threads(seq_len, nseq, heads, head_dim, 0, slots));
}

void nn_attention_pooled(const float *q, const float *k, const float *v, int ld,
                         const int *seq_off, const int *seq_len, int nseq, int heads,
                         int head_dim, float *scratch, size_t slot_floats, int slots, float *out)
{
    NnAttentionJob job = { q, k, v, ld, seq_off, seq_len, heads, head_dim, 0, scratch,
                           slot_floats, out, 1 };
    nn_parallel(nn_attention_task, &job, nseq * heads,
                nn_attention_threads(seq_len, nseq, heads, head_dim, 1, slots));
}

void nn_l2_normalize(float *x, int n)
{
    double ss = 0.0;
    for (int i = 0; i < n; i++) ss += (double)x[i] * x[i];
    if (ss <= 0.0) return;
    float inv = (float)(1.0 / sqrt(ss));
    for (int i = 0; i < n; i++) x[i] *= inv;
}
