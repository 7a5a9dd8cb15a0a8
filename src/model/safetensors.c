/*
 * safetensors.c - mmap + validation of .safetensors files (see the header
 * for the format and the design).
 *
 * The header is parsed with json.h into an Arena that lives as long as the
 * SafeTensors, so tensor names point into it without copies. Tensors are
 * kept sorted by name for bsearch lookups, and a second pass over them
 * sorted by offset proves that no two overlap.
 */
#include "model/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/arena.h"
#include "base/err.h"
#include "base/json.h"

struct SafeTensors {
    char *path;
    void *map;        /* the whole file, PROT_READ */
    size_t map_len;
    Arena arena;      /* the parsed header; names point into it */
    SafeTensor *tensors; /* sorted by name */
    size_t n;
};

static const struct {
    const char *name;
    size_t size;
} st_dtypes[ST_DTYPE_COUNT] = {
    [ST_DTYPE_F32] = { "F32", 4 },  [ST_DTYPE_F16] = { "F16", 2 }, [ST_DTYPE_BF16] = { "BF16", 2 },
    [ST_DTYPE_F64] = { "F64", 8 },  [ST_DTYPE_I64] = { "I64", 8 }, [ST_DTYPE_I32] = { "I32", 4 },
    [ST_DTYPE_I16] = { "I16", 2 },  [ST_DTYPE_I8] = { "I8", 1 },   [ST_DTYPE_U8] = { "U8", 1 },
    [ST_DTYPE_BOOL] = { "BOOL", 1 },
};

const char *safetensors_dtype_name(SafeTensorDtype dt)
{
    return (unsigned)dt < ST_DTYPE_COUNT ? st_dtypes[dt].name : "?";
}

size_t safetensors_dtype_size(SafeTensorDtype dt)
{
    return (unsigned)dt < ST_DTYPE_COUNT ? st_dtypes[dt].size : 0;
}

float safetensors_f16_to_f32(uint16_t h)
{
    /* IEEE binary16: 1 sign, 5 exponent (bias 15), 10 mantissa bits. */
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t man = h & 0x3ff;
    uint32_t bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else {
            /* Subnormal: normalise the mantissa into an f32 exponent. */
            int e = -1;
            do {
                e++;
                man <<= 1;
            } while (!(man & 0x400));
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ff) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

float safetensors_bf16_to_f32(uint16_t h)
{
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <immintrin.h>
/* st_f16_f16c converts the first n rounded down to 8 F16 values with
 * vcvtph2ps and returns how many it converted. */
__attribute__((target("avx,f16c"))) static size_t st_f16_f16c(const unsigned char *src, size_t n,
                                                              float *dst)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + 2 * i))));
    return i;
}

/* st_have_f16c: AVX usable (the builtin also checks the OS saves the
 * registers) and F16C, asked of cpuid (leaf 1, ECX bit 29) because clang
 * 14's __builtin_cpu_supports does not know "f16c" (the fuzz targets
 * build this file with clang). */
static int st_have_f16c(void)
{
    unsigned a, b, c, d;
    return __builtin_cpu_supports("avx") && __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29));
}
#endif

#if defined(__aarch64__)
#include <arm_neon.h>
/* st_f16_neon converts the first n rounded down to 8 F16 values with
 * FCVTL (base ARMv8 Advanced SIMD: no run-time check) and returns how many
 * it converted. The bytes are loaded as integers: the mapping may put a
 * tensor at any byte offset. */
static size_t st_f16_neon(const unsigned char *src, size_t n, float *dst)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        float16x8_t h = vreinterpretq_f16_u8(vld1q_u8(src + 2 * i));
        vst1q_f32(dst + i, vcvt_f32_f16(vget_low_f16(h)));
        vst1q_f32(dst + i + 4, vcvt_high_f32_f16(h));
    }
    return i;
}
#endif

void safetensors_to_f32(const SafeTensor *t, size_t first, size_t n, float *dst)
{
    const unsigned char *src = (const unsigned char *)t->data + first * st_dtypes[t->dtype].size;
    uint16_t h;
    size_t i = 0;
    switch (t->dtype) {
    case ST_DTYPE_F16:
#if defined(__x86_64__) && defined(__GNUC__)
        if (st_have_f16c())
            i = st_f16_f16c(src, n, dst);
#elif defined(__aarch64__)
        i = st_f16_neon(src, n, dst);
#endif
        for (; i < n; i++) {
            memcpy(&h, src + 2 * i, 2);
            dst[i] = safetensors_f16_to_f32(h);
        }
        break;
    case ST_DTYPE_BF16:
        for (; i < n; i++) {
            memcpy(&h, src + 2 * i, 2);
            dst[i] = safetensors_bf16_to_f32(h);
        }
        break;
    default: /* F32, maybe misaligned */
        memcpy(dst, src, n * sizeof *dst);
        break;
    }
}

void safetensors_release(const SafeTensor *t)
{
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0) return;
    uintptr_t a = (uintptr_t)t->data, b = a + t->nbytes;
    uintptr_t lo = (a + (uintptr_t)page - 1) & ~((uintptr_t)page - 1);
    uintptr_t hi = b & ~((uintptr_t)page - 1);
    /* Advice only: if the kernel declines, the pages just stay resident. */
    if (hi > lo) (void)madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

static int st_cmp_name(const void *a, const void *b)
{
    return strcmp(((const SafeTensor *)a)->name, ((const SafeTensor *)b)->name);
}

static int st_cmp_ptr(const void *a, const void *b)
{
    const SafeTensor *x = *(const SafeTensor *const *)a, *y = *(const SafeTensor *const *)b;
    const char *px = x->data, *py = y->data;
    return px < py ? -1 : px > py;
}

/* st_parse_tensor validates one header entry and fills t. */
static int st_parse_tensor(const char *path, const char *name, const JsonValue *v,
                           const char *data, uint64_t data_len, SafeTensor *t, char *err,
                           size_t errlen)
{
    if (!v || v->type != JSON_OBJECT) {
        snprintf(err, errlen, "%s: header entry for tensor %s is not an object", path, name);
        return ERR_FORMAT;
    }
    const char *dt = json_as_str(json_get(v, "dtype"));
    const JsonValue *shape = json_get(v, "shape");
    const JsonValue *offs = json_get(v, "data_offsets");
    if (!dt || !shape || shape->type != JSON_ARRAY || !offs || offs->type != JSON_ARRAY) {
        snprintf(err, errlen, "%s: tensor %s lacks dtype, shape or data_offsets", path, name);
        return ERR_FORMAT;
    }
    int dtype = -1;
    for (int i = 0; i < ST_DTYPE_COUNT; i++)
        if (!strcmp(dt, st_dtypes[i].name)) dtype = i;
    if (dtype < 0) {
        snprintf(err, errlen, "%s: tensor %s has unknown dtype %s", path, name, dt);
        return ERR_FORMAT;
    }
    if (shape->len > SAFETENSORS_MAX_DIMS) {
        snprintf(err, errlen, "%s: tensor %s has %u dimensions (at most %d)", path, name,
                 (unsigned)shape->len, SAFETENSORS_MAX_DIMS);
        return ERR_FORMAT;
    }
    memset(t, 0, sizeof *t);
    t->name = name;
    t->dtype = (SafeTensorDtype)dtype;
    t->ndim = (int)shape->len;
    /* numel is bounded by data_len (checked below), so the product is
     * checked for overflow against that bound as it grows. */
    uint64_t numel = 1;
    int overflow = 0;
    for (int i = 0; i < t->ndim; i++) {
        uint64_t d;
        JsonValue dim = json_item(shape, (size_t)i);
        if (json_as_uint64(&dim, &d) != 0 || d > (uint64_t)INT64_MAX) {
            snprintf(err, errlen, "%s: tensor %s has a shape that is not a list of sizes", path,
                     name);
            return ERR_FORMAT;
        }
        t->shape[i] = (int64_t)d;
        if (d && numel > UINT64_MAX / d) overflow = 1;
        numel *= d;
    }
    uint64_t begin, end;
    JsonValue off0 = json_item(offs, 0), off1 = json_item(offs, 1);
    if (offs->len != 2 || json_as_uint64(&off0, &begin) != 0 ||
        json_as_uint64(&off1, &end) != 0 || begin > end) {
        snprintf(err, errlen, "%s: tensor %s has bad data_offsets", path, name);
        return ERR_FORMAT;
    }
    if (end > data_len) {
        snprintf(err, errlen,
                 "%s: tensor %s data_offsets [%llu, %llu] lie outside the data section "
                 "(%llu bytes; file truncated?)",
                 path, name, (unsigned long long)begin, (unsigned long long)end,
                 (unsigned long long)data_len);
        return ERR_FORMAT;
    }
    size_t esz = st_dtypes[dtype].size;
    if (overflow || numel > UINT64_MAX / esz || numel * esz != end - begin) {
        snprintf(err, errlen,
                 "%s: tensor %s: shape needs %llu bytes of %s but data_offsets span %llu", path,
                 name, overflow ? 0ULL : (unsigned long long)(numel * esz), dt,
                 (unsigned long long)(end - begin));
        return ERR_FORMAT;
    }
    t->numel = (int64_t)numel;
    t->data = data + begin;
    t->nbytes = (size_t)(end - begin);
    return 0;
}

int safetensors_open(const char *path, SafeTensors **out, char *err, size_t errlen)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "%s: %s", path, strerror(e));
        return e == ENOENT ? ERR_NOTFOUND : ERR_IO;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        close(fd);
        return ERR_IO;
    }
    uint64_t size = (uint64_t)sb.st_size;
    if (size < 8) {
        snprintf(err, errlen, "%s: file is %llu bytes, too short for the 8-byte header length",
                 path, (unsigned long long)size);
        close(fd);
        return ERR_FORMAT;
    }
    void *map = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
    int map_errno = errno;
    close(fd); /* the mapping keeps the file alive */
    if (map == MAP_FAILED) {
        snprintf(err, errlen, "%s: mmap: %s", path, strerror(map_errno));
        return ERR_IO;
    }
    const unsigned char *p = map;
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | p[i]; /* little-endian */
    if (hlen < 2 || hlen > SAFETENSORS_MAX_HEADER || hlen > size - 8) {
        snprintf(err, errlen,
                 "%s: header length %llu is impossible for a file of %llu bytes "
                 "(corrupt or truncated)",
                 path, (unsigned long long)hlen, (unsigned long long)size);
        munmap(map, (size_t)size);
        return ERR_FORMAT;
    }

    SafeTensors *st = calloc(1, sizeof *st);
    if (!st) {
        munmap(map, (size_t)size);
        snprintf(err, errlen, "%s: out of memory", path);
        return ERR_NOMEM;
    }
    st->map = map;
    st->map_len = (size_t)size;
    st->path = strdup(path);
    arena_init(&st->arena, ARENA_DEFAULT_CHUNK);
    int rc = ERR_FORMAT;
    char jerr[160];
    JsonValue *root = NULL;
    if (!st->path) {
        rc = ERR_NOMEM;
        snprintf(err, errlen, "%s: out of memory", path);
        goto fail;
    }
    /* The format allows trailing spaces as padding after the JSON; the
     * JSON reader accepts trailing whitespace. */
    if (json_parse(&st->arena, (const char *)p + 8, (size_t)hlen, &root, jerr, sizeof jerr) != 0) {
        snprintf(err, errlen, "%s: header is not valid JSON: %s", path, jerr);
        goto fail;
    }
    if (root->type != JSON_OBJECT) {
        snprintf(err, errlen, "%s: header is not a JSON object", path);
        goto fail;
    }
    st->tensors = calloc(root->len ? root->len : 1, sizeof *st->tensors);
    if (!st->tensors) {
        rc = ERR_NOMEM;
        snprintf(err, errlen, "%s: out of memory", path);
        goto fail;
    }
    const char *data = (const char *)p + 8 + hlen;
    uint64_t data_len = size - 8 - hlen;
    for (uint32_t i = 0; i < root->len; i++) {
        const JsonMember *m = &root->u.members[i];
        if (!strcmp(m->key, "__metadata__")) continue;
        if (strlen(m->key) != m->key_len || m->key_len == 0) {
            snprintf(err, errlen, "%s: header has a tensor with an empty or NUL-containing name",
                     path);
            goto fail;
        }
        rc = st_parse_tensor(path, m->key, &m->value, data, data_len, &st->tensors[st->n], err,
                             errlen);
        if (rc != 0) goto fail;
        rc = ERR_FORMAT;
        st->n++;
    }
    qsort(st->tensors, st->n, sizeof *st->tensors, st_cmp_name);
    for (size_t i = 1; i < st->n; i++) {
        if (!strcmp(st->tensors[i - 1].name, st->tensors[i].name)) {
            snprintf(err, errlen, "%s: tensor %s appears twice in the header", path,
                     st->tensors[i].name);
            goto fail;
        }
    }
    /* Overlap check: sort pointers by data address, each must start at or
     * after the previous one's end (empty tensors overlap nothing). */
    if (st->n > 1) {
        const SafeTensor **byoff = malloc(st->n * sizeof *byoff);
        if (!byoff) {
            rc = ERR_NOMEM;
            snprintf(err, errlen, "%s: out of memory", path);
            goto fail;
        }
        for (size_t i = 0; i < st->n; i++) byoff[i] = &st->tensors[i];
        qsort(byoff, st->n, sizeof *byoff, st_cmp_ptr);
        const char *prev_end = data;
        const char *prev_name = NULL;
        for (size_t i = 0; i < st->n; i++) {
            const char *b = byoff[i]->data;
            if (byoff[i]->nbytes == 0) continue;
            if (b < prev_end) {
                snprintf(err, errlen, "%s: tensor %s overlaps tensor %s", path, byoff[i]->name,
                         prev_name ? prev_name : "?");
                free(byoff);
                goto fail;
            }
            prev_end = b + byoff[i]->nbytes;
            prev_name = byoff[i]->name;
        }
        free(byoff);
    }
    *out = st;
    return 0;

fail:
    safetensors_close(st);
    return rc;
}

void safetensors_close(SafeTensors *st)
{
    if (!st) return;
    if (st->map) munmap(st->map, st->map_len);
    arena_free(&st->arena);
    free(st->tensors);
    free(st->path);
    free(st);
}

const SafeTensor *safetensors_find(const SafeTensors *st, const char *name)
{
    SafeTensor key;
    key.name = name;
    return bsearch(&key, st->tensors, st->n, sizeof *st->tensors, st_cmp_name);
}

size_t safetensors_count(const SafeTensors *st)
{
    return st->n;
}

const SafeTensor *safetensors_at(const SafeTensors *st, size_t i)
{
    return i < st->n ? &st->tensors[i] : NULL;
}

const char *safetensors_path(const SafeTensors *st)
{
    return st->path;
}
