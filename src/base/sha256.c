/*
 * sha256.c - SHA-256 (FIPS 180-4): the portable compression function of
 * the standard and one on the x86 SHA extensions (see sha256.h).
 */
#include "base/sha256.h"

#include <string.h>

#include "base/err.h"
#include "base/util.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>
#define SHA256_HAVE_NI 1
#endif

/* FIPS 180-4, 4.2.2: the first 32 bits of the fractional parts of the
 * cube roots of the first 64 primes. */
static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
    0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
    0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
    0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
    0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
    0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
    0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
    0xc67178f2,
};

static inline uint32_t ror32(uint32_t x, int n) { return x >> n | x << (32 - n); }

/* blocks_portable is FIPS 180-4, 6.2.2, for n 64-byte blocks. */
static void blocks_portable(uint32_t h[8], const uint8_t *p, size_t n)
{
    uint32_t w[64];
    for (; n--; p += SHA256_BLOCK_LEN) {
        for (int t = 0; t < 16; t++)
            w[t] = (uint32_t)p[4 * t] << 24 | (uint32_t)p[4 * t + 1] << 16 |
                   (uint32_t)p[4 * t + 2] << 8 | p[4 * t + 3];
        for (int t = 16; t < 64; t++) {
            uint32_t s0 = ror32(w[t - 15], 7) ^ ror32(w[t - 15], 18) ^ w[t - 15] >> 3;
            uint32_t s1 = ror32(w[t - 2], 17) ^ ror32(w[t - 2], 19) ^ w[t - 2] >> 10;
            w[t] = w[t - 16] + s0 + w[t - 7] + s1;
        }
        uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
        for (int t = 0; t < 64; t++) {
            uint32_t S1 = ror32(e, 6) ^ ror32(e, 11) ^ ror32(e, 25);
            uint32_t ch = (e & f) ^ (~e & g);
            uint32_t t1 = hh + S1 + ch + K[t] + w[t];
            uint32_t S0 = ror32(a, 2) ^ ror32(a, 13) ^ ror32(a, 22);
            uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
            uint32_t t2 = S0 + maj;
            hh = g;
            g = f;
            f = e;
            e = d + t1;
            d = c;
            c = b;
            b = a;
            a = t1 + t2;
        }
        h[0] += a;
        h[1] += b;
        h[2] += c;
        h[3] += d;
        h[4] += e;
        h[5] += f;
        h[6] += g;
        h[7] += hh;
    }
}

#ifdef SHA256_HAVE_NI
/*
 * blocks_ni: the same on the SHA extensions. The state lives in two
 * registers as ABEF and CDGH (the layout sha256rnds2 wants); each group
 * of four rounds adds K to four message words, runs two double rounds,
 * and advances the message schedule with sha256msg1 / sha256msg2 (Intel's
 * "New Instructions Supporting the Secure Hash Algorithm on Intel
 * Architecture Processors", 2013). QROUND(g, m0..m3) is group g, with m0
 * its message words and m1..m3 the next ones in schedule order.
 */
#define QROUND(g, m0, m1, m2, m3)                                                  \
    do {                                                                           \
        msg = _mm_add_epi32(m0, _mm_loadu_si128((const __m128i *)&K[4 * (g)]));    \
        s1 = _mm_sha256rnds2_epu32(s1, s0, msg);                                   \
        if ((g) >= 3 && (g) <= 14) {                                               \
            tmp = _mm_alignr_epi8(m0, m3, 4);                                      \
            m1 = _mm_add_epi32(m1, tmp);                                           \
            m1 = _mm_sha256msg2_epu32(m1, m0);                                     \
        }                                                                          \
        msg = _mm_shuffle_epi32(msg, 0x0E);                                        \
        s0 = _mm_sha256rnds2_epu32(s0, s1, msg);                                   \
        if ((g) >= 1 && (g) <= 12) m3 = _mm_sha256msg1_epu32(m3, m0);              \
    } while (0)

__attribute__((target("sha,sse4.1,ssse3"))) static void blocks_ni(uint32_t h[8], const uint8_t *p,
                                                                  size_t n)
{
    const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
    __m128i tmp = _mm_loadu_si128((const __m128i *)&h[0]);
    __m128i s1 = _mm_loadu_si128((const __m128i *)&h[4]);
    tmp = _mm_shuffle_epi32(tmp, 0xB1);      /* CDAB */
    s1 = _mm_shuffle_epi32(s1, 0x1B);        /* EFGH */
    __m128i s0 = _mm_alignr_epi8(tmp, s1, 8); /* ABEF */
    s1 = _mm_blend_epi16(s1, tmp, 0xF0);     /* CDGH */
    for (; n--; p += SHA256_BLOCK_LEN) {
        __m128i abef = s0, cdgh = s1, msg;
        __m128i m0 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 0)), bswap);
        __m128i m1 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16)), bswap);
        __m128i m2 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 32)), bswap);
        __m128i m3 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 48)), bswap);
        QROUND(0, m0, m1, m2, m3);
        QROUND(1, m1, m2, m3, m0);
        QROUND(2, m2, m3, m0, m1);
        QROUND(3, m3, m0, m1, m2);
        QROUND(4, m0, m1, m2, m3);
        QROUND(5, m1, m2, m3, m0);
        QROUND(6, m2, m3, m0, m1);
        QROUND(7, m3, m0, m1, m2);
        QROUND(8, m0, m1, m2, m3);
        QROUND(9, m1, m2, m3, m0);
        QROUND(10, m2, m3, m0, m1);
        QROUND(11, m3, m0, m1, m2);
        QROUND(12, m0, m1, m2, m3);
        QROUND(13, m1, m2, m3, m0);
        QROUND(14, m2, m3, m0, m1);
        QROUND(15, m3, m0, m1, m2);
        s0 = _mm_add_epi32(s0, abef);
        s1 = _mm_add_epi32(s1, cdgh);
    }
    tmp = _mm_shuffle_epi32(s0, 0x1B);  /* FEBA */
    s1 = _mm_shuffle_epi32(s1, 0xB1);   /* DCHG */
    s0 = _mm_blend_epi16(tmp, s1, 0xF0); /* DCBA */
    s1 = _mm_alignr_epi8(s1, tmp, 8);   /* HGFE */
    _mm_storeu_si128((__m128i *)&h[0], s0);
    _mm_storeu_si128((__m128i *)&h[4], s1);
}
#undef QROUND

/* cpu_has_sha_ni: CPUID leaf 7 EBX bit 29 (SHA), with the SSSE3 and
 * SSE4.1 the routine also uses (leaf 1 ECX bits 9 and 19). */
static int cpu_has_sha_ni(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    if (!(c & 1u << 9) || !(c & 1u << 19)) return 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    return (b >> 29) & 1;
}
#endif

typedef void (*BlocksFn)(uint32_t h[8], const uint8_t *p, size_t n);

/* The chosen compression function: 0 until the first use decides. Racing
 * first uses store the same value, so a plain static is enough. */
static BlocksFn g_blocks;
static int g_force_portable;

static BlocksFn blocks_fn(void)
{
    if (g_blocks) return g_blocks;
    BlocksFn f = blocks_portable;
#ifdef SHA256_HAVE_NI
    if (!g_force_portable && cpu_has_sha_ni()) f = blocks_ni;
#endif
    g_blocks = f;
    return f;
}

int sha256_accelerated(void) { return blocks_fn() != blocks_portable; }

void sha256_use_portable(int on)
{
    g_force_portable = on;
    g_blocks = NULL;
}

void sha256_init(Sha256 *s)
{
    /* FIPS 180-4, 5.3.3. */
    static const uint32_t h0[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                    0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };
    memcpy(s->h, h0, sizeof h0);
    s->bytes = 0;
    s->used = 0;
}

void sha256_update(Sha256 *s, const void *data, size_t len)
{
    const uint8_t *p = data;
    BlocksFn blocks = blocks_fn();
    s->bytes += len;
    if (s->used) {
        size_t take = MIN(SHA256_BLOCK_LEN - s->used, len);
        memcpy(s->buf + s->used, p, take);
        s->used += take;
        p += take;
        len -= take;
        if (s->used < SHA256_BLOCK_LEN) return;
        blocks(s->h, s->buf, 1);
        s->used = 0;
    }
    /* Whole blocks straight from the caller's buffer. */
    if (len >= SHA256_BLOCK_LEN) {
        size_t n = len / SHA256_BLOCK_LEN;
        blocks(s->h, p, n);
        p += n * SHA256_BLOCK_LEN;
        len -= n * SHA256_BLOCK_LEN;
    }
    memcpy(s->buf, p, len);
    s->used = len;
}

void sha256_final(Sha256 *s, uint8_t out[SHA256_DIGEST_LEN])
{
    /* FIPS 180-4, 5.1.1: a 1 bit, zeros, then the length in bits (64-bit
     * big-endian) ending a block. */
    uint64_t bits = s->bytes * 8;
    BlocksFn blocks = blocks_fn();
    s->buf[s->used++] = 0x80;
    if (s->used > SHA256_BLOCK_LEN - 8) {
        memset(s->buf + s->used, 0, SHA256_BLOCK_LEN - s->used);
        blocks(s->h, s->buf, 1);
        s->used = 0;
    }
    memset(s->buf + s->used, 0, SHA256_BLOCK_LEN - 8 - s->used);
    for (int i = 0; i < 8; i++) s->buf[SHA256_BLOCK_LEN - 1 - i] = (uint8_t)(bits >> (8 * i));
    blocks(s->h, s->buf, 1);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t)(s->h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(s->h[i] >> 8);
        out[4 * i + 3] = (uint8_t)s->h[i];
    }
    s->used = 0;
}

void sha256(const void *data, size_t len, uint8_t out[SHA256_DIGEST_LEN])
{
    Sha256 s;
    sha256_init(&s);
    sha256_update(&s, data, len);
    sha256_final(&s, out);
}

void sha256_hex(const uint8_t d[SHA256_DIGEST_LEN], char out[SHA256_HEX_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < SHA256_DIGEST_LEN; i++) {
        out[2 * i] = digits[d[i] >> 4];
        out[2 * i + 1] = digits[d[i] & 15];
    }
    out[SHA256_HEX_LEN] = '\0';
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int sha256_from_hex(const char *hex, uint8_t out[SHA256_DIGEST_LEN])
{
    if (!hex || strlen(hex) != SHA256_HEX_LEN) return ERR_INVAL;
    for (int i = 0; i < SHA256_DIGEST_LEN; i++) {
        int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return ERR_INVAL;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}
