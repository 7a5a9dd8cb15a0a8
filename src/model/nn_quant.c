/*
 * nn_quant.c - reduced-precision linear layers (see nn_quant.h): weight
 * conversion and packing, the run-time conversion of activations, the
 * scalar reference kernels, the choice of kernel, and the tiled, threaded
 * driver that nn_linear_multi hands a layer with NnLinearOut.qw to.
 *
 * A call converts its input rows once (bf16 pairs, or u8 codes with a
 * scale and zero point per row) into a per-thread scratch buffer that
 * grows to the largest layer on first use and is then reused, so a
 * forward pass does not allocate after the first. The outputs are split
 * over the pool by panels of NN_Q_TILE_N columns; for each, every tile
 * of up to NN_Q_TILE_M rows runs the kernel over the whole reduction
 * (the panel's weights stay in L2 meanwhile), then the epilogue scales,
 * adds the bias and the residual and applies the activation while the
 * tile is in cache.
 */
#include "model/nn_quant.h"

#include <assert.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/util.h"
#include "model/nn.h"
#include "model/nn_quant_kern.h"
#include "model/nn_quant_neon.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#define NN_Q_ALIGN 64
/* Conversion of activations below this many floats runs on the caller
 * alone (waking the pool costs more). */
#define NN_Q_PREP_PARALLEL_MIN 16384
/* A call with fewer multiply-adds than this (int8; bf16 counts 4 each, its
 * kernels being about 4 times slower) runs on the caller alone: 1 M int8
 * multiply-adds take about 5 us on one core, the order of what handing
 * work to a spinning worker and collecting it costs. A text query's GEMMs
 * (7 rows: 1.8 M for each of q, k, v and out_proj, 7.3 M for fc1 and
 * fc2) are above it: they stream 38 MB of weights per query, more than
 * one core's share of L3 bandwidth gives in 2 ms, so they split over the
 * pool by panels. The pooled row's projection (0.26 M) is below. This
 * used to be 8 M, when a worker that had not been scheduled stalled every
 * region (see the thread pool in nn.c): two threads were then slower. */
#define NN_Q_SERIAL_MACS ((size_t)1 << 20)
/* Floats per step of the vectorisable loops (one 512-bit register). */
#define NN_Q_LANES 16

/* See the comment over NN_CLONES in nn.c: not under ASan and TSan. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
#define NN_Q_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define NN_Q_CLONES
#endif

int nn_precision_parse(const char *s, NnPrecision *out)
{
    if (!s) return ERR_INVAL;
    if (!strcmp(s, "f32") || !strcmp(s, "fp32") || !strcmp(s, "float32")) {
        *out = NN_PREC_F32;
    } else if (!strcmp(s, "bf16") || !strcmp(s, "bfloat16")) {
        *out = NN_PREC_BF16;
    } else if (!strcmp(s, "int8") || !strcmp(s, "i8")) {
        *out = NN_PREC_INT8;
    } else {
        return ERR_INVAL;
    }
    return 0;
}

const char *nn_precision_name(NnPrecision p)
{
    return p == NN_PREC_BF16 ? "bf16" : p == NN_PREC_INT8 ? "int8" : "f32";
}

/* ---- bf16 ---- */

uint16_t nn_bf16_from_f32(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    /* A NaN stays a (quiet) NaN; rounding could carry it into infinity. */
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)((u >> 16) | 0x40);
    u += 0x7FFFu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

float nn_bf16_to_f32(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* ---- weights ---- */

static void *nn_q_alloc(size_t bytes)
{
    void *p = NULL;
    if (posix_memalign(&p, NN_Q_ALIGN, bytes ? bytes : 1) != 0) return NULL;
    return p;
}

int nn_qweight_init(NnQWeight *q, const float *w, int out, int in, NnPrecision p)
{
    memset(q, 0, sizeof *q);
    if ((p != NN_PREC_BF16 && p != NN_PREC_INT8) || out < 1 || in < 1) return ERR_INVAL;
    q->prec = p;
    q->out = out;
    q->in = in;
    q->kp = (in + NN_Q_KPAD - 1) / NN_Q_KPAD * NN_Q_KPAD;
    /* Whole panels, so that every kernel call has NN_Q_PANEL blocks. */
    q->nblocks = (out + NN_Q_TILE_N - 1) / NN_Q_TILE_N * NN_Q_PANEL;
    size_t cols = (size_t)q->nblocks * NN_Q_BLOCK;
    if (p == NN_PREC_BF16) {
        /* (block, k / 2, 16, 2): element (c, k) at block c / 16, pair k / 2, lane c % 16, half k % 2. */
        uint16_t *d = nn_q_alloc(cols * (size_t)q->kp * sizeof *d);
        if (!d) return ERR_NOMEM;
        memset(d, 0, cols * (size_t)q->kp * sizeof *d);
        size_t kg = (size_t)q->kp / 2;
        for (int c = 0; c < out; c++) {
            uint16_t *blk = d + (size_t)(c / NN_Q_BLOCK) * kg * NN_Q_BLOCK * 2 + (c % NN_Q_BLOCK) * 2;
            const float *wr = w + (size_t)c * in;
            for (int k = 0; k < in; k++)
                blk[(size_t)(k / 2) * NN_Q_BLOCK * 2 + (k & 1)] = nn_bf16_from_f32(wr[k]);
        }
        q->data = d;
        return 0;
    }
    /* int8: (block, k / 4, 16, 4). */
    int8_t *d = nn_q_alloc(cols * (size_t)q->kp);
    q->scale = nn_q_alloc(cols * sizeof *q->scale);
    q->wsum = nn_q_alloc(cols * sizeof *q->wsum);
    if (!d || !q->scale || !q->wsum) {
        free(d);
        nn_qweight_free(q);
        return ERR_NOMEM;
    }
    memset(d, 0, cols * (size_t)q->kp);
    memset(q->scale, 0, cols * sizeof *q->scale);
    memset(q->wsum, 0, cols * sizeof *q->wsum);
    size_t kg = (size_t)q->kp / 4;
    for (int c = 0; c < out; c++) {
        const float *wr = w + (size_t)c * in;
        float mx = 0.0f;
        for (int k = 0; k < in; k++) {
            float v = fabsf(wr[k]);
            mx = v > mx ? v : mx;
        }
        /* sw = max|w| / 127; an all-zero channel keeps codes 0 and scale 0. */
        float sw = mx / 127.0f, inv = mx > 0 ? 127.0f / mx : 0.0f;
        int8_t *blk = d + (size_t)(c / NN_Q_BLOCK) * kg * NN_Q_BLOCK * 4 + (c % NN_Q_BLOCK) * 4;
        int32_t sum = 0;
        for (int k = 0; k < in; k++) {
            float v = rintf(wr[k] * inv);
            v = v > 127.0f ? 127.0f : v < -127.0f ? -127.0f : v;
            int8_t qk = (int8_t)(v == v ? v : 0.0f);
            blk[(size_t)(k / 4) * NN_Q_BLOCK * 4 + (k & 3)] = qk;
            sum += qk;
        }
        q->scale[c] = sw;
        q->wsum[c] = sum;
    }
    q->data = d;
    return 0;
}

void nn_qweight_free(NnQWeight *q)
{
    if (!q) return;
    free(q->data);
    free(q->scale);
    free(q->wsum);
    memset(q, 0, sizeof *q);
}

size_t nn_qweight_bytes(const NnQWeight *q)
{
    if (!q->data) return 0;
    size_t cols = (size_t)q->nblocks * NN_Q_BLOCK;
    if (q->prec == NN_PREC_BF16) return cols * (size_t)q->kp * 2;
    return cols * (size_t)q->kp + cols * (sizeof *q->scale + sizeof *q->wsum);
}

/* ---- scalar reference kernels ---- */

static void nn_i8_scalar(const uint8_t *a, size_t lda, int mb, const int8_t *w, size_t wblock,
                         int kg, int32_t *acc)
{
    for (int i = 0; i < mb; i++)
        for (int c = 0; c < NN_Q_TILE_N; c++) {
            const int8_t *wc = w + (size_t)(c / NN_Q_BLOCK) * wblock + (c % NN_Q_BLOCK) * 4;
            const uint8_t *ai = a + (size_t)i * lda;
            int32_t s = 0;
            for (int g = 0; g < kg; g++)
                for (int t = 0; t < 4; t++)
                    s += (int32_t)ai[g * 4 + t] * (int32_t)wc[(size_t)g * NN_Q_BLOCK * 4 + t];
            acc[i * NN_Q_TILE_N + c] = s;
        }
}

static void nn_bf16_scalar(const uint32_t *a, size_t lda, int mb, const uint32_t *w,
                           size_t wblock, int kg, float *acc)
{
    for (int i = 0; i < mb; i++)
        for (int c = 0; c < NN_Q_TILE_N; c++) {
            const uint32_t *wc = w + (size_t)(c / NN_Q_BLOCK) * wblock + c % NN_Q_BLOCK;
            const uint32_t *ai = a + (size_t)i * lda;
            float s = 0.0f;
            for (int g = 0; g < kg; g++) {
                uint32_t x = ai[g], y = wc[(size_t)g * NN_Q_BLOCK];
                /* The odd k first, then the even one (vdpbf16ps's order); each
                 * product is exact, so each line rounds once, as the kernels do. */
                s += nn_bf16_to_f32((uint16_t)(x >> 16)) * nn_bf16_to_f32((uint16_t)(y >> 16));
                s += nn_bf16_to_f32((uint16_t)x) * nn_bf16_to_f32((uint16_t)y);
            }
            acc[i * NN_Q_TILE_N + c] = s;
        }
}

/* ---- kernel choice ---- */

#define NN_Q_MAX_KERNELS 5

typedef struct {
    const char *name;
    NnI8Kernel i8;
    NnBf16Kernel bf16;
    int tile_m; /* rows per kernel call */
} NnQKernel;

/* The kernels of each precision, scalar first, then slowest to fastest;
 * the *_get of an unavailable one returns NULL. */
static NnQKernel nn_q_list(NnPrecision p, int i)
{
    NnQKernel k = { NULL, NULL, NULL, NN_Q_TILE_M };
    const int M = NN_Q_TILE_M;
#if defined(__aarch64__)
    /* AArch64 (nn_quant_neon.c): the same indices, the NEON kernels; none
     * at NN_Q_AMX. */
    if (p == NN_PREC_INT8) {
        switch (i) {
        case 0: k = (NnQKernel){ "scalar", nn_i8_scalar, NULL, M }; break;
        case 1: k = (NnQKernel){ "neon", nn_i8_kernel_neon(), NULL, M }; break;
        case 2: k = (NnQKernel){ "neon-dotprod", nn_i8_kernel_neon_dotprod(), NULL, M }; break;
        case 3: k = (NnQKernel){ "neon-i8mm", nn_i8_kernel_neon_i8mm(), NULL, M }; break;
        default: break;
        }
        if (!k.i8) k.name = NULL;
    } else if (p == NN_PREC_BF16) {
        switch (i) {
        case 0: k = (NnQKernel){ "scalar", NULL, nn_bf16_scalar, M }; break;
        case 1: k = (NnQKernel){ "neon", NULL, nn_bf16_kernel_neon(), M }; break;
        case 2: k = (NnQKernel){ "neon-bf16", NULL, nn_bf16_kernel_neon_bf16(), M }; break;
        default: break;
        }
        if (!k.bf16) k.name = NULL;
    }
#else
    const int A = NN_AMX_TILE_M;
    if (p == NN_PREC_INT8) {
        switch (i) {
        case 0: k = (NnQKernel){ "scalar", nn_i8_scalar, NULL, M }; break;
        case 1: k = (NnQKernel){ "avx2", nn_i8_kernel_avx2(), NULL, M }; break;
        case 2: k = (NnQKernel){ "avx-vnni", nn_i8_kernel_avxvnni(), NULL, M }; break;
        case 3: k = (NnQKernel){ "avx512-vnni", nn_i8_kernel_avx512vnni(), NULL, M }; break;
        case 4: k = (NnQKernel){ "amx", nn_i8_kernel_amx(), NULL, A }; break;
        default: break;
        }
        if (!k.i8) k.name = NULL;
    } else if (p == NN_PREC_BF16) {
        switch (i) {
        case 0: k = (NnQKernel){ "scalar", NULL, nn_bf16_scalar, M }; break;
        case 1: k = (NnQKernel){ "avx2", NULL, nn_bf16_kernel_avx2(), M }; break;
        case 2: k = (NnQKernel){ "avx512f", NULL, nn_bf16_kernel_avx512f(), M }; break;
        case 3: k = (NnQKernel){ "avx512-bf16", NULL, nn_bf16_kernel_avx512bf16(), M }; break;
        case 4: k = (NnQKernel){ "amx", NULL, nn_bf16_kernel_amx(), A }; break;
        default: break;
        }
        if (!k.bf16) k.name = NULL;
    }
#endif
    return k;
}

/* nn_q_small_m returns how many rows k takes as one tile when a whole
 * call has no more (see NN_Q_SMALL_M), or 0: only the AVX-512 VNNI kernel
 * has the short-tile form. */
static int nn_q_small_m(const NnQKernel *k)
{
    return k->i8 && k->i8 == nn_i8_kernel_avx512vnni() ? NN_Q_SMALL_M : 0;
}

/* The kernel index forced per precision (nn_quant_set_kernel), or -1:
 * the automatic choice (nn_q_kernel). */
static int nn_q_chosen[3] = { -1, -1, -1 };
/* The AMX kernels' index in nn_q_list. */
#define NN_Q_AMX 4
/* Below this many rows the automatic choice skips AMX: a call computes
 * whole 32-row tiles, so a 7-token text or a pooled row wastes most of
 * them (measured, 7 x 512 x 2048 int8: 0.094 ms on AMX, 0.050 ms on
 * AVX-512 VNNI; 50 rows: AMX 1.8x faster). */
#define NN_AMX_MIN_ROWS 16

const char *nn_quant_kernel_name(NnPrecision p, int i)
{
    if (i < 0 || i >= NN_Q_MAX_KERNELS) return NULL;
    return nn_q_list(p, i).name;
}

/* nn_q_best returns the fastest available kernel below index `below`. */
static int nn_q_best(NnPrecision p, int below)
{
    for (int i = below - 1; i > 0; i--)
        if (nn_q_list(p, i).name) return i;
    return 0;
}

int nn_quant_set_kernel(NnPrecision p, int i)
{
    if (p != NN_PREC_BF16 && p != NN_PREC_INT8) return ERR_INVAL;
    if (i >= 0 && !nn_quant_kernel_name(p, i)) return ERR_INVAL;
    __atomic_store_n(&nn_q_chosen[p], i < 0 ? -1 : i, __ATOMIC_RELAXED);
    return 0;
}

/* nn_q_kernel returns the kernel for a call of `rows` rows: the forced
 * one, else the fastest, AMX only from NN_AMX_MIN_ROWS rows. */
static NnQKernel nn_q_kernel(NnPrecision p, int rows)
{
    int i = __atomic_load_n(&nn_q_chosen[p], __ATOMIC_RELAXED);
    if (i < 0) i = nn_q_best(p, rows >= NN_AMX_MIN_ROWS ? NN_Q_MAX_KERNELS : NN_Q_AMX);
    return nn_q_list(p, i);
}

const char *nn_quant_kernel(NnPrecision p)
{
    if (p != NN_PREC_BF16 && p != NN_PREC_INT8) return "sgemm";
    NnQKernel many = nn_q_kernel(p, NN_AMX_MIN_ROWS), few = nn_q_kernel(p, 1);
    if (many.name == few.name) return many.name;
    static _Thread_local char both[3][64]; /* one per precision: two may be printed at once */
    snprintf(both[p], sizeof both[p], "%s, %s below %d rows", many.name, few.name,
             NN_AMX_MIN_ROWS);
    return both[p];
}

/* ---- activations ---- */

/* The converted input of one call: bf16 pairs (rows, kp / 2), or u8 codes
 * (rows, kp) with a scale and zero point per row. */
typedef struct {
    const float *x;
    int ldx, in, kp;
    NnPrecision prec;
    uint8_t *a;   /* int8 codes, row stride kp bytes; bf16 pairs, row stride kp * 2 bytes */
    float *xs;    /* (rows) int8 row scales */
    int32_t *zp;  /* (rows) int8 zero points */
    int avx512;   /* quantize rows with nn_q_row_i8_avx512 */
} NnQAct;

/* nn_q_row_i8 quantizes x[0..in) to u8 codes a[0..kp) (padding 0; its
 * weights are 0), with *xs and *zp (see nn_quant.h). */
/* nn_q_code is one u8 code: clamp(round(x / s) + zp, 0, 255) with inv =
 * 1 / s and zh = zp + 0.5 (the rounding folded in); a NaN becomes 0. */
static inline uint8_t nn_q_code(float x, float inv, float zh)
{
    float v = x * inv + zh;
    v = v >= 0.0f ? v : 0.0f;
    v = v <= 255.0f ? v : 255.0f;
    return (uint8_t)(int32_t)v;
}

#if defined(__x86_64__) && defined(__GNUC__)
/*
 * nn_q_row_i8_avx512 is nn_q_row_i8 in AVX-512 intrinsics (GCC does not
 * vectorise the float to u8 narrowing well: the plain loop took 8% of an
 * int8 image). The operations are the scalar ones, in the same order
 * (multiply, then add, no FMA; max with 0 turns a NaN into 0 as the
 * comparison does), so the codes are identical.
 */
__attribute__((target("avx512f,avx512bw,avx512vl"))) static void
nn_q_row_i8_avx512(const float *x, int in, int kp, uint8_t *a, float *xs, int32_t *zp)
{
    __m512 vmn = _mm512_setzero_ps(), vmx = _mm512_setzero_ps();
    int k = 0;
    for (; k + 16 <= in; k += 16) {
        __m512 v = _mm512_loadu_ps(x + k);
        vmn = _mm512_min_ps(v, vmn);
        vmx = _mm512_max_ps(v, vmx);
    }
    if (k < in) {
        __mmask16 m = (__mmask16)((1u << (in - k)) - 1);
        __m512 v = _mm512_maskz_loadu_ps(m, x + k);
        vmn = _mm512_min_ps(v, vmn);
        vmx = _mm512_max_ps(v, vmx);
    }
    float mn = _mm512_reduce_min_ps(vmn), mx = _mm512_reduce_max_ps(vmx);
    float s = (mx - mn) / 255.0f;
    if (!(s > 0.0f) || !isfinite(s)) s = 1.0f;
    float inv = 1.0f / s;
    float z = floorf(-mn * inv + 0.5f);
    z = z < 0.0f ? 0.0f : z > 255.0f ? 255.0f : z;
    float zh = z + 0.5f;
    const __m512 vinv = _mm512_set1_ps(inv), vzh = _mm512_set1_ps(zh);
    const __m512 zero = _mm512_setzero_ps(), top = _mm512_set1_ps(255.0f);
    for (k = 0; k < in; k += 16) {
        int n = in - k < 16 ? in - k : 16;
        __mmask16 m = (__mmask16)((1u << n) - 1);
        __m512 v = _mm512_add_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + k), vinv), vzh);
        v = _mm512_min_ps(_mm512_max_ps(v, zero), top);
        _mm_mask_storeu_epi8(a + k, m, _mm512_cvtepi32_epi8(_mm512_cvttps_epi32(v)));
    }
    for (k = in; k < kp; k++) a[k] = 0;
    *xs = s;
    *zp = (int32_t)z;
}
#endif

NN_Q_CLONES static void nn_q_row_i8(const float *x, int in, int kp, uint8_t *a, float *xs,
                                    int32_t *zp)
{
    /* Lane-wise minimum and maximum in fixed-width blocks, which GCC
     * vectorises at -O2 (a plain loop of unknown length it does not). */
    float mnl[NN_Q_LANES] = { 0 }, mxl[NN_Q_LANES] = { 0 };
    int k = 0;
    for (; k + NN_Q_LANES <= in; k += NN_Q_LANES)
        for (int l = 0; l < NN_Q_LANES; l++) {
            float v = x[k + l];
            mnl[l] = v < mnl[l] ? v : mnl[l];
            mxl[l] = v > mxl[l] ? v : mxl[l];
        }
    float mn = 0.0f, mx = 0.0f;
    for (int l = 0; l < NN_Q_LANES; l++) {
        mn = mnl[l] < mn ? mnl[l] : mn;
        mx = mxl[l] > mx ? mxl[l] : mx;
    }
    for (; k < in; k++) {
        mn = x[k] < mn ? x[k] : mn;
        mx = x[k] > mx ? x[k] : mx;
    }
    float s = (mx - mn) / 255.0f;
    if (!(s > 0.0f) || !isfinite(s)) s = 1.0f;
    float inv = 1.0f / s;
    float z = floorf(-mn * inv + 0.5f);
    z = z < 0.0f ? 0.0f : z > 255.0f ? 255.0f : z;
    float zh = z + 0.5f;
    k = 0;
    for (; k + NN_Q_LANES <= in; k += NN_Q_LANES)
        for (int l = 0; l < NN_Q_LANES; l++) a[k + l] = nn_q_code(x[k + l], inv, zh);
    for (; k < in; k++) a[k] = nn_q_code(x[k], inv, zh);
    for (; k < kp; k++) a[k] = 0;
    *xs = s;
    *zp = (int32_t)z;
}

NN_Q_CLONES static void nn_q_row_bf16(const float *x, int in, int kp, uint16_t *a)
{
    for (int k = 0; k < in; k++) {
        uint32_t u;
        memcpy(&u, &x[k], 4);
        uint32_t r = u + 0x7FFFu + ((u >> 16) & 1u);
        /* NaN stays NaN (see nn_bf16_from_f32), without a branch. */
        a[k] = (uint16_t)((u & 0x7FFFFFFFu) > 0x7F800000u ? (u >> 16) | 0x40 : r >> 16);
    }
    for (int k = in; k < kp; k++) a[k] = 0;
}

static void nn_q_prep_task(void *ctx, int begin, int end, int thread)
{
    (void)thread;
    const NnQAct *q = ctx;
    for (int r = begin; r < end; r++) {
        const float *x = q->x + (size_t)r * q->ldx;
#if defined(__x86_64__) && defined(__GNUC__)
        if (q->prec == NN_PREC_INT8 && q->avx512)
            nn_q_row_i8_avx512(x, q->in, q->kp, q->a + (size_t)r * q->kp, &q->xs[r], &q->zp[r]);
        else
#endif
        if (q->prec == NN_PREC_INT8)
            nn_q_row_i8(x, q->in, q->kp, q->a + (size_t)r * q->kp, &q->xs[r], &q->zp[r]);
        else
            nn_q_row_bf16(x, q->in, q->kp, (uint16_t *)(void *)(q->a + (size_t)r * q->kp * 2));
    }
}

/* nn_q_have_avx512bw says whether rows may be quantized with AVX-512
 * (decided once; any kernel choice uses the same codes). */
static int nn_q_have_avx512bw(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    static int have = -1;
    int h = __atomic_load_n(&have, __ATOMIC_RELAXED);
    if (h < 0) {
        __builtin_cpu_init();
        h = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
            __builtin_cpu_supports("avx512vl");
        __atomic_store_n(&have, h, __ATOMIC_RELAXED);
    }
    /* Forced to the scalar kernel (tests), quantize with the scalar code
     * too, so that the tests compare the two quantizers as well. */
    return h && __atomic_load_n(&nn_q_chosen[NN_PREC_INT8], __ATOMIC_RELAXED) != 0;
#else
    return 0;
#endif
}

/* Per-thread scratch for converted activations (see the file comment). */
static _Thread_local struct {
    void *p;
    size_t cap;
} nn_q_scratch;

/* A thread's scratch is freed when the thread exits (the key's
 * destructor), so a server's batcher thread leaves nothing behind. */
static pthread_key_t nn_q_scratch_key;
static pthread_once_t nn_q_scratch_once = PTHREAD_ONCE_INIT;

static void nn_q_scratch_free(void *p)
{
    free(p);
    nn_q_scratch.p = NULL;
    nn_q_scratch.cap = 0;
}

static void nn_q_scratch_key_make(void)
{
    (void)pthread_key_create(&nn_q_scratch_key, nn_q_scratch_free);
}

static void *nn_q_scratch_get(size_t bytes)
{
    if (bytes > nn_q_scratch.cap) {
        pthread_once(&nn_q_scratch_once, nn_q_scratch_key_make);
        free(nn_q_scratch.p);
        nn_q_scratch.p = xmalloc(bytes);
        nn_q_scratch.cap = bytes;
        (void)pthread_setspecific(nn_q_scratch_key, nn_q_scratch.p);
    }
    return nn_q_scratch.p;
}

/* ---- the driver ---- */

typedef struct {
    const NnQAct *act;
    int rows;
    const NnLinearOut *outs;
    int n;
    int first[NN_LINEAR_MAX_OUTS + 1]; /* panels of out i: [first[i], first[i + 1]) */
    NnQKernel kern;
    int small_m; /* nn_q_small_m(&kern) */
} NnQJob;

/* What the epilogue of one panel adds to the kernel's sums. The panel's
 * padded columns have scale 0, sum 0 and their bias is read only up to
 * out (bias is NULL for a partial panel's padding: see nn_q_panel). */
typedef struct {
    const float *scale;  /* (NN_Q_TILE_N) int8 weight scales, NULL for bf16 */
    const int32_t *wsum; /* (NN_Q_TILE_N) int8 weight sums */
    const float *b;      /* (NN_Q_TILE_N) bias, or NULL */
    int accumulate;
} NnQEpilogue;

/* nn_q_epilogue turns one tile row of sums (int32 for int8, float32 bits
 * for bf16) into v = x @ w^T + b, in fixed-width loops that vectorise:
 * int8: y = xs * sw * (sum a q - zp * sum q). */
NN_Q_CLONES static void nn_q_epilogue(const NnQEpilogue *e, const int32_t *acc, float xs,
                                      int32_t zp, float *restrict v)
{
    if (e->scale) {
        for (int c = 0; c < NN_Q_TILE_N; c++)
            v[c] = (float)(acc[c] - zp * e->wsum[c]) * (xs * e->scale[c]);
    } else {
        memcpy(v, acc, NN_Q_TILE_N * sizeof *v);
    }
    if (e->b)
        for (int c = 0; c < NN_Q_TILE_N; c++) v[c] += e->b[c];
}

/* nn_q_store writes a full tile row: y = v, or y += v (the residual). */
NN_Q_CLONES static void nn_q_store(const NnQEpilogue *e, const float *restrict v, float *restrict y)
{
    if (e->accumulate)
        for (int c = 0; c < NN_Q_TILE_N; c++) y[c] += v[c];
    else
        for (int c = 0; c < NN_Q_TILE_N; c++) y[c] = v[c];
}

/* nn_q_panel computes panel p (NN_Q_TILE_N columns) of output o. */
static void nn_q_panel(const NnQJob *j, const NnLinearOut *o, int p)
{
    const NnQWeight *w = o->qw;
    const NnQAct *a = j->act;
    int ldy = o->ldy > 0 ? o->ldy : o->out;
    int c0 = p * NN_Q_TILE_N, nc = o->out - c0 < NN_Q_TILE_N ? o->out - c0 : NN_Q_TILE_N;
    int rows = j->rows, tm = j->kern.tile_m;
    /* Rows in tiles of equal height (50 as 5 x 6 + 4 x 5, not 8 x 6 + 2);
     * AMX's in whole tiles but the last (its padding rows are computed
     * anyway). */
    int tiles = (rows + tm - 1) / tm;
    int base = rows / tiles, extra = rows % tiles;
    if (tm == NN_AMX_TILE_M) base = tm, extra = 0;
    if (rows <= j->small_m) tiles = 1, base = rows, extra = 0;
    _Alignas(64) union {
        int32_t i[NN_AMX_TILE_M * NN_Q_TILE_N];
        float f[NN_AMX_TILE_M * NN_Q_TILE_N];
    } acc;
    /* The bias of a partial panel, padded with zeros (b has out entries). */
    const float *bias = o->b ? o->b + c0 : NULL;
    float bpad[NN_Q_TILE_N];
    if (bias && nc < NN_Q_TILE_N) {
        memset(bpad, 0, sizeof bpad);
        memcpy(bpad, bias, (size_t)nc * sizeof *bpad);
        bias = bpad;
    }
    for (int t = 0, m0 = 0; t < tiles; t++) {
        int mb = MIN(base + (t < extra), rows - m0);
        if (w->prec == NN_PREC_INT8) {
            size_t wblock = (size_t)w->kp * NN_Q_BLOCK;
            const int8_t *wp = (const int8_t *)w->data + (size_t)p * NN_Q_PANEL * wblock;
            j->kern.i8(a->a + (size_t)m0 * a->kp, (size_t)a->kp, mb, wp, wblock, w->kp / 4, acc.i);
        } else {
            size_t wblock = (size_t)w->kp / 2 * NN_Q_BLOCK;
            const uint32_t *wp = (const uint32_t *)w->data + (size_t)p * NN_Q_PANEL * wblock;
            j->kern.bf16((const uint32_t *)(const void *)(a->a + (size_t)m0 * a->kp * 2),
                         (size_t)a->kp / 2, mb, wp, wblock, w->kp / 2, acc.f);
        }
        NnQEpilogue e = { w->prec == NN_PREC_INT8 ? w->scale + c0 : NULL,
                          w->prec == NN_PREC_INT8 ? w->wsum + c0 : NULL, bias, o->accumulate };
        for (int i = 0; i < mb; i++) {
            float *yr = o->y + (size_t)(m0 + i) * ldy + c0;
            _Alignas(64) float v[NN_Q_TILE_N];
            nn_q_epilogue(&e, acc.i + i * NN_Q_TILE_N, a->xs ? a->xs[m0 + i] : 0.0f,
                          a->zp ? a->zp[m0 + i] : 0, v);
            if (nc == NN_Q_TILE_N)
                nn_q_store(&e, v, yr);
            else if (o->accumulate)
                for (int c = 0; c < nc; c++) yr[c] += v[c];
            else
                memcpy(yr, v, (size_t)nc * sizeof *yr);
            nn_activate(yr, (size_t)nc, o->act);
        }
        m0 += mb;
    }
}

static void nn_q_task(void *ctx, int begin, int end, int thread)
{
    (void)thread;
    const NnQJob *j = ctx;
    for (int u = begin; u < end; u++) {
        int i = 0;
        while (u >= j->first[i + 1]) i++;
        nn_q_panel(j, &j->outs[i], u - j->first[i]);
    }
}

void nn_quant_linear_multi(const float *x, int ldx, int rows, int in, const NnLinearOut *outs,
                           int n)
{
    NnPrecision p = outs[0].qw->prec;
    int kp = outs[0].qw->kp;
    /* nn_linear_multi sends only outputs of one precision and shape here. */
    for (int i = 0; i < n; i++)
        assert(outs[i].qw && outs[i].qw->prec == p && outs[i].qw->in == in &&
               outs[i].qw->out == outs[i].out);
    NnQAct act = { x, ldx > 0 ? ldx : in, in, kp, p, NULL, NULL, NULL, nn_q_have_avx512bw() };
    /* Rows padded to whole AMX tiles, the padding zero (see nn_amx.c). */
    int prows = (rows + NN_AMX_TILE_M - 1) / NN_AMX_TILE_M * NN_AMX_TILE_M;
    size_t row_bytes = (size_t)kp * (p == NN_PREC_INT8 ? 1 : 2);
    size_t codes = (size_t)prows * row_bytes;
    size_t codes_al = (codes + 63) / 64 * 64;
    uint8_t *buf = nn_q_scratch_get(codes_al + (size_t)rows * (sizeof(float) + sizeof(int32_t)));
    act.a = buf;
    act.xs = (float *)(void *)(buf + codes_al);
    act.zp = (int32_t *)(void *)(buf + codes_al + (size_t)rows * sizeof(float));
    NnQKernel kern = nn_q_kernel(p, rows);
    /* Only AMX reads the padding rows (whole 32-row tiles); clearing them
     * for a 7-row text GEMM wrote 7 times its codes. */
    if (kern.tile_m == NN_AMX_TILE_M)
        memset(buf + (size_t)rows * row_bytes, 0, (size_t)(prows - rows) * row_bytes);
    if ((size_t)rows * in < NN_Q_PREP_PARALLEL_MIN)
        nn_q_prep_task(&act, 0, rows, 0);
    else
        nn_parallel(nn_q_prep_task, &act, rows, 0);
    NnQJob j = { &act, rows, outs, n, { 0 }, kern, nn_q_small_m(&kern) };
    size_t macs = 0;
    for (int i = 0; i < n; i++) {
        j.first[i + 1] = j.first[i] + outs[i].qw->nblocks / NN_Q_PANEL;
        macs += (size_t)rows * (size_t)in * (size_t)outs[i].out * (p == NN_PREC_INT8 ? 1 : 4);
    }
    /* A call of at most NN_Q_SMALL_M rows (a text query) reads each
     * weight once and is bound by how fast it streams them: its threads
     * take long runs of consecutive panels, which the kernel prefetches
     * from one to the next (nn_int8.c). Taller calls keep the finer
     * chunks that rebalance around a core taken by another process. */
    int max_threads = macs < NN_Q_SERIAL_MACS ? 1 : 0;
    if (rows <= j.small_m)
        nn_parallel_gemm(nn_q_task, &j, j.first[n], max_threads);
    else
        nn_parallel(nn_q_task, &j, j.first[n], max_threads);
}
