/*
 * quant.c - scalar int8 quantization (see quant.h): calibration, encoding,
 * and the byte kernels with run-time dispatch.
 *
 * Design: the scalar kernels are the reference. The AVX2 dot product
 * multiplies unsigned by signed bytes with vpmaddubsw (pairs summed into
 * 16 bits: 2 * 127 * 127 = 32258 never saturates) and widens with
 * vpmaddwd; the AVX-512 VNNI one does both in one vpdpbusd per 64 bytes.
 * The L1 kernel is vpsadbw (sum of absolute byte differences). Tails are
 * masked loads (AVX-512) or scalar code (AVX2). Compiled with per-function
 * target attributes, so the binary stays baseline x86-64; the choice is
 * made once under pthread_once. On AArch64 the kernels of quant_neon.c
 * take their place (NEON always, UDOT where the CPU has dotprod).
 */
#include "index/quant.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/cpu.h"
#include "base/err.h"
#include "index/quant_neon.h"

#if defined(__x86_64__) || defined(__i386__)
#define QUANT_HAVE_X86 1
#include <immintrin.h>
#else
#define QUANT_HAVE_X86 0
#endif

/* ---- kernels ---- */

int32_t quant_dot_scalar(const uint8_t *a, const uint8_t *b, size_t n)
{
    int32_t s = 0;
    for (size_t i = 0; i < n; i++) s += (int32_t)a[i] * (int32_t)b[i];
    return s;
}

int32_t quant_l1_scalar(const uint8_t *a, const uint8_t *b, size_t n)
{
    int32_t s = 0;
    for (size_t i = 0; i < n; i++) s += a[i] > b[i] ? a[i] - b[i] : b[i] - a[i];
    return s;
}

#if QUANT_HAVE_X86
#define QUANT_AVX2 __attribute__((target("avx2")))
#define QUANT_VNNI __attribute__((target("avx512f,avx512bw,avx512vnni")))

QUANT_AVX2 static int32_t hsum_epi32_avx2(__m256i v)
{
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

/* Two accumulators over 64 bytes per step: vpmaddubsw + vpmaddwd is a
 * dependent pair, so a second chain keeps both ports busy. */
QUANT_AVX2 static int32_t quant_dot_avx2(const uint8_t *a, const uint8_t *b, size_t n)
{
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i acc0 = _mm256_setzero_si256(), acc1 = _mm256_setzero_si256();
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        __m256i a0 = _mm256_loadu_si256((const __m256i *)(a + i));
        __m256i b0 = _mm256_loadu_si256((const __m256i *)(b + i));
        __m256i a1 = _mm256_loadu_si256((const __m256i *)(a + i + 32));
        __m256i b1 = _mm256_loadu_si256((const __m256i *)(b + i + 32));
        acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(_mm256_maddubs_epi16(a0, b0), ones));
        acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(_mm256_maddubs_epi16(a1, b1), ones));
    }
    for (; i + 32 <= n; i += 32) {
        __m256i a0 = _mm256_loadu_si256((const __m256i *)(a + i));
        __m256i b0 = _mm256_loadu_si256((const __m256i *)(b + i));
        acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(_mm256_maddubs_epi16(a0, b0), ones));
    }
    int32_t s = hsum_epi32_avx2(_mm256_add_epi32(acc0, acc1));
    for (; i < n; i++) s += (int32_t)a[i] * (int32_t)b[i];
    return s;
}

QUANT_AVX2 static int32_t quant_l1_avx2(const uint8_t *a, const uint8_t *b, size_t n)
{
    __m256i acc = _mm256_setzero_si256();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256i x = _mm256_loadu_si256((const __m256i *)(a + i));
        __m256i y = _mm256_loadu_si256((const __m256i *)(b + i));
        acc = _mm256_add_epi64(acc, _mm256_sad_epu8(x, y));
    }
    __m128i s = _mm_add_epi64(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
    s = _mm_add_epi64(s, _mm_unpackhi_epi64(s, s));
    int32_t r = (int32_t)_mm_cvtsi128_si64(s);
    for (; i < n; i++) r += a[i] > b[i] ? a[i] - b[i] : b[i] - a[i];
    return r;
}

QUANT_VNNI static int32_t quant_dot_vnni(const uint8_t *a, const uint8_t *b, size_t n)
{
    __m512i acc0 = _mm512_setzero_si512(), acc1 = _mm512_setzero_si512();
    size_t i = 0;
    for (; i + 128 <= n; i += 128) {
        acc0 = _mm512_dpbusd_epi32(acc0, _mm512_loadu_si512(a + i), _mm512_loadu_si512(b + i));
        acc1 = _mm512_dpbusd_epi32(acc1, _mm512_loadu_si512(a + i + 64),
                                   _mm512_loadu_si512(b + i + 64));
    }
    for (; i + 64 <= n; i += 64)
        acc0 = _mm512_dpbusd_epi32(acc0, _mm512_loadu_si512(a + i), _mm512_loadu_si512(b + i));
    if (i < n) {
        __mmask64 m = (__mmask64)(~0ULL >> (64 - (n - i)));
        acc1 = _mm512_dpbusd_epi32(acc1, _mm512_maskz_loadu_epi8(m, a + i),
                                   _mm512_maskz_loadu_epi8(m, b + i));
    }
    return _mm512_reduce_add_epi32(_mm512_add_epi32(acc0, acc1));
}

QUANT_VNNI static int32_t quant_l1_avx512(const uint8_t *a, const uint8_t *b, size_t n)
{
    __m512i acc = _mm512_setzero_si512();
    size_t i = 0;
    for (; i + 64 <= n; i += 64)
        acc = _mm512_add_epi64(acc, _mm512_sad_epu8(_mm512_loadu_si512(a + i),
                                                    _mm512_loadu_si512(b + i)));
    if (i < n) {
        __mmask64 m = (__mmask64)(~0ULL >> (64 - (n - i)));
        acc = _mm512_add_epi64(acc, _mm512_sad_epu8(_mm512_maskz_loadu_epi8(m, a + i),
                                                    _mm512_maskz_loadu_epi8(m, b + i)));
    }
    return (int32_t)_mm512_reduce_add_epi64(acc);
}

static int have_avx2(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2");
}

static int have_vnni(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vnni");
}
#endif

/* ---- dispatch ---- */

static pthread_once_t quant_once = PTHREAD_ONCE_INIT;
static QuantDotFn quant_dot_impl = quant_dot_scalar;
static QuantL1Fn quant_l1_impl = quant_l1_scalar;
static const char *quant_backend_name = "scalar";

static void quant_init(void)
{
    const char *force = getenv("VITRINE_VEC");
    if (force && !strcmp(force, "scalar")) return;
    const char *name;
    /* The last kernel the CPU runs is the widest. */
    for (int i = 0; quant_kernel(i, &name, &quant_dot_impl, &quant_l1_impl); i++)
        quant_backend_name = name;
}

int quant_kernel(int i, const char **name, QuantDotFn *dot, QuantL1Fn *l1)
{
    QuantDotFn d = NULL;
    QuantL1Fn l = NULL;
    const char *nm = NULL;
    if (i == 0) {
        d = quant_dot_scalar, l = quant_l1_scalar, nm = "scalar";
    }
#if QUANT_HAVE_X86
    else if (i == 1 && have_avx2()) {
        d = quant_dot_avx2, l = quant_l1_avx2, nm = "avx2";
    } else if (i == 2 && have_avx2() && have_vnni()) {
        d = quant_dot_vnni, l = quant_l1_avx512, nm = "avx512vnni";
    }
#endif
#if QUANT_HAVE_NEON
    /* AArch64 (quant_neon.c): NEON is base ISA, UDOT needs ARMv8.2 dotprod. */
    else if (i == 1) {
        d = quant_dot_neon, l = quant_l1_neon, nm = "neon";
    } else if (i == 2 && cpu_has(CPU_DOTPROD)) {
        d = quant_dot_dotprod, l = quant_l1_dotprod, nm = "neon-dotprod";
    }
#endif
    if (!d) return 0;
    *name = nm;
    *dot = d;
    *l1 = l;
    return 1;
}

QuantDotFn quant_dot_fn(void)
{
    pthread_once(&quant_once, quant_init);
    return quant_dot_impl;
}

QuantL1Fn quant_l1_fn(void)
{
    pthread_once(&quant_once, quant_init);
    return quant_l1_impl;
}

const char *quant_backend(void)
{
    pthread_once(&quant_once, quant_init);
    return quant_backend_name;
}

/* ---- parameters, calibration, encoding ---- */

void quant_params_init(QuantParams *qp, int dim, QuantKind kind, float lo, float hi)
{
    memset(qp, 0, sizeof *qp);
    qp->dim = dim;
    qp->kind = kind;
    qp->lo = lo;
    qp->hi = hi;
    qp->alpha = hi > lo ? (hi - lo) / (float)QUANT_CODE_MAX : 0.0f;
    qp->offset = lo;
    qp->shift = kind == QUANT_DOT ? (float)dim * lo * lo : 0.0f;
    qp->corr_off = ((size_t)dim + 3) & ~(size_t)3;
    qp->code_bytes = qp->corr_off + sizeof(float);
    qp->dot = quant_dot_fn();
    qp->l1 = quant_l1_fn();
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

int quant_calibrate(const float *vecs, size_t n, int dim, float quantile, float *lo, float *hi)
{
    if (!n || dim < 1) return ERR_INVAL;
    size_t len = n * (size_t)dim;
    float mn = vecs[0], mx = vecs[0];
    for (size_t i = 1; i < len; i++) {
        if (vecs[i] < mn) mn = vecs[i];
        if (vecs[i] > mx) mx = vecs[i];
    }
    *lo = mn;
    *hi = mx;
    if (n < QUANT_QUANTILE_MIN_VECTORS || quantile >= 1.0f || len < 4) return 0;
    /* Qdrant's cut counts vectors, not values (quantile.rs): with 5000
     * vectors and 0.99 it trims 25 values at each end. */
    size_t cut = (size_t)((float)n * (1.0f - quantile) / 2.0f);
    if (cut > (len - 1) / 2) cut = (len - 1) / 2;
    if (cut < 1) cut = 1;
    if (len - cut - 1 < cut + 2) return 0; /* fewer than two values left */
    float *s = malloc(len * sizeof *s);
    if (!s) return ERR_NOMEM;
    memcpy(s, vecs, len * sizeof *s);
    qsort(s, len, sizeof *s, cmp_float);
    *lo = s[cut + 1];
    *hi = s[len - cut - 1];
    free(s);
    return 0;
}

static uint8_t encode_value(const QuantParams *qp, float v)
{
    if (!(qp->alpha > 0)) return 0;
    float i = (v - qp->offset) / qp->alpha;
    if (!(i > 0)) return 0;
    if (i > (float)QUANT_CODE_MAX) i = (float)QUANT_CODE_MAX;
    return (uint8_t)roundf(i);
}

void quant_encode(const QuantParams *qp, const float *vec, uint8_t *out)
{
    float sum = 0, sqsum = 0;
    for (int i = 0; i < qp->dim; i++) {
        uint8_t c = encode_value(qp, vec[i]);
        out[i] = c;
        sum += (float)c;
        sqsum += (float)c * (float)c;
    }
    for (size_t i = (size_t)qp->dim; i < qp->corr_off; i++) out[i] = 0;
    float corr = 0;
    if (qp->kind == QUANT_DOT) corr = sum * qp->alpha * qp->offset + qp->shift;
    else if (qp->kind == QUANT_L2) corr = sqsum * qp->alpha * qp->alpha;
    memcpy(out + qp->corr_off, &corr, sizeof corr);
}

void quant_decode(const QuantParams *qp, const uint8_t *code, float *out)
{
    for (int i = 0; i < qp->dim; i++) out[i] = qp->offset + qp->alpha * (float)code[i];
}
