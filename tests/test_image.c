/*
 * test_image.c - image decoding and CLIP preprocessing against the
 * reference pipeline (transformers' CLIPImageProcessor on Pillow).
 *
 * The reference is the fixture set in tests/fixtures/clip: every image
 * in images/ was preprocessed by the reference into expected/pixels/<name>.f32
 * (float32 LE, CHW 3x224x224), and manifest.json records the resized size
 * before the crop. Tolerances are the README's: PNG and WebP within one
 * 8-bit level (0.02), JPEG within the spread of correct decoders.
 *
 * Formats with no fixture (BMP, GIF, animated WebP) are checked by
 * writing a fixture's decoded pixels into that format here and decoding
 * them back: the pixels are known independently of the decoder under test. Robustness: truncated
 * files, random garbage and bit-flipped fixtures must return an error or a
 * well-formed image, never crash (run this under ASan and UBSan).
 */
#include "model/image.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/arena.h"
#include "base/bigmem.h"
#include "base/err.h"
#include "harness.h"
#include "base/json.h"
#include "base/util.h"

#define SIDE 224
#define PLANE (SIDE * SIDE)
#define PNG_MAX_DIFF 0.02
#define JPEG_MAX_DIFF 0.08
#define JPEG_MEAN_DIFF 0.004

static const float CLIP_MEAN[3] = { 0.48145466f, 0.4578275f, 0.40821073f };
static const float CLIP_STD[3] = { 0.26862954f, 0.26130258f, 0.27577711f };

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

static char *read_fixture(const char *rel, size_t *len)
{
    char *data = NULL;
    if (file_read_all(fixture_path(rel), (size_t)1 << 28, &data, len)) return NULL;
    return data;
}

/* A deterministic PRNG (xorshift64*) so failures reproduce. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint32_t rng_next(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 0x2545F4914F6CDD1Dull) >> 32);
}

TEST(test_fixture_parity)
{
    size_t mlen = 0;
    char *mtext = read_fixture("expected/pixels/manifest.json", &mlen);
    ASSERT_TRUE(mtext != NULL);
    Arena arena;
    arena_init(&arena, ARENA_DEFAULT_CHUNK);
    JsonValue *root = NULL;
    char jerr[160];
    int rc = json_parse(&arena, mtext, mlen, &root, jerr, sizeof jerr);
    free(mtext);
    if (rc) {
        arena_free(&arena);
        HARNESS_FAIL("manifest.json: %s", jerr);
    }
    const JsonValue *sizes = json_get(root, "resized_wh");
    if (!sizes || sizes->type != JSON_OBJECT || sizes->len < 20) {
        arena_free(&arena);
        HARNESS_FAIL("manifest.json has no resized_wh object with the 24 images");
    }

    ImagePreprocess pp;
    image_preprocess_default(&pp);
    float *got = xmalloc(3 * PLANE * sizeof *got);
    int failures = 0;
    for (uint32_t m = 0; m < sizes->len; m++) {
        const char *name = sizes->u.members[m].key;
        const JsonValue *wh = &sizes->u.members[m].value;
        int64_t ew = 0, eh = 0;
        if (wh->type != JSON_ARRAY || wh->len != 2 || json_as_int64(&wh->u.items[0], &ew) ||
            json_as_int64(&wh->u.items[1], &eh)) {
            printf("  %s: bad manifest entry\n", name);
            failures++;
            continue;
        }
        char rel[512];
        snprintf(rel, sizeof rel, "images/%s", name);
        Image img;
        char err[256];
        rc = image_load_file(fixture_path(rel), &img, err, sizeof err);
        if (rc) {
            printf("  %s: decode failed: %s\n", name, err);
            failures++;
            continue;
        }
        int rw = 0, rh = 0;
        rc = image_preprocess(&img, &pp, got, &rw, &rh);
        int iw = img.width, ih = img.height;
        image_free(&img);
        if (rc) {
            printf("  %s: preprocess failed: %d\n", name, rc);
            failures++;
            continue;
        }
        snprintf(rel, sizeof rel, "expected/pixels/%s.f32", name);
        size_t elen = 0;
        char *exp = read_fixture(rel, &elen);
        if (!exp || elen != 3 * PLANE * sizeof(float)) {
            printf("  %s: expected tensor missing or of the wrong size\n", name);
            free(exp);
            failures++;
            continue;
        }
        double max_diff = 0, sum_diff = 0;
        size_t worst = 0;
        for (size_t i = 0; i < 3 * PLANE; i++) {
            float e;
            memcpy(&e, exp + i * sizeof e, sizeof e); /* the fixtures are little-endian, as x86 */
            double d = fabs((double)got[i] - (double)e);
            sum_diff += d;
            if (d > max_diff) {
                max_diff = d;
                worst = i;
            }
        }
        double mean_diff = sum_diff / (3 * PLANE);
        int jpeg = ends_with(name, ".jpg") || ends_with(name, ".jpeg");
        int ok = jpeg ? max_diff <= JPEG_MAX_DIFF && mean_diff <= JPEG_MEAN_DIFF
                      : max_diff <= PNG_MAX_DIFF;
        ok = ok && rw == ew && rh == eh;
        float ev;
        memcpy(&ev, exp + worst * sizeof ev, sizeof ev);
        printf("  %-30s %4dx%-4d -> %4dx%-4d max|diff| %.6f mean|diff| %.7f "
               "(worst c%zu y%zu x%zu: %.5f vs %.5f)%s\n",
               name, iw, ih, rw, rh, max_diff, mean_diff, worst / PLANE, worst % PLANE / SIDE,
               worst % SIDE, got[worst], ev, ok ? "" : "  FAIL");
        if (rw != ew || rh != eh)
            printf("  %s: resized %dx%d, expected %lldx%lld\n", name, rw, rh, (long long)ew,
                   (long long)eh);
        if (!ok) failures++;
        free(exp);
    }
    free(got);
    arena_free(&arena);
    ASSERT_EQ_INT(failures, 0);
}

/* The windowed resize inside image_preprocess must equal a full resize
 * followed by the crop, on an image where both axes change and the crop
 * drops columns (chelsea.png: 451x300 -> 336x224, left = 56). */
TEST(test_window_equals_full_resize)
{
    Image img, big;
    char err[256];
    ASSERT_OK(image_load_file(fixture_path("images/chelsea.png"), &img, err, sizeof err));
    ImagePreprocess pp = IMAGE_PREPROCESS_CLIP_DEFAULT;
    float *got = xmalloc(3 * PLANE * sizeof *got);
    int rw, rh;
    int rc = image_preprocess(&img, &pp, got, &rw, &rh);
    int rc2 = image_resize_bicubic(&img, rw, rh, &big);
    image_free(&img);
    if (rc || rc2) {
        free(got);
        HARNESS_FAIL("preprocess %d, resize %d", rc, rc2);
    }
    int top = (rh - SIDE) / 2, left = (rw - SIDE) / 2, bad = 0;
    for (int y = 0; y < SIDE && !bad; y++)
        for (int x = 0; x < SIDE && !bad; x++)
            for (int c = 0; c < 3; c++) {
                uint8_t v = big.rgb[((size_t)(y + top) * rw + x + left) * 3 + c];
                float want = ((float)(v * (1.0 / 255.0)) - CLIP_MEAN[c]) / CLIP_STD[c];
                if (fabsf(want - got[(size_t)c * PLANE + (size_t)y * SIDE + x]) > 1e-6f) {
                    printf("  mismatch at c%d y%d x%d\n", c, y, x);
                    bad = 1;
                    break;
                }
            }
    image_free(&big);
    free(got);
    ASSERT_EQ_INT(bad, 0);
}

/* A resize to the same size is the identity (Pillow copies the image). */
TEST(test_resize_identity_and_constant)
{
    Image img = { 5, 3, NULL }, out;
    img.rgb = bigmem_alloc(5 * 3 * 3);
    ASSERT_TRUE(img.rgb != NULL);
    for (int i = 0; i < 5 * 3 * 3; i++) img.rgb[i] = (uint8_t)(i * 17);
    ASSERT_OK(image_resize_bicubic(&img, 5, 3, &out));
    int same = !memcmp(out.rgb, img.rgb, 5 * 3 * 3);
    image_free(&out);
    ASSERT_TRUE(same);
    /* A constant image stays constant at any scale: the weights sum to one. */
    memset(img.rgb, 173, 5 * 3 * 3);
    ASSERT_OK(image_resize_bicubic(&img, 37, 2, &out));
    int constant = 1;
    for (int i = 0; i < 37 * 2 * 3; i++) constant &= out.rgb[i] == 173;
    image_free(&out);
    image_free(&img);
    ASSERT_TRUE(constant);
    ASSERT_EQ_INT(image_resize_bicubic(&out, 4, 4, &img), ERR_INVAL);
}

/* The AVX2 horizontal pass against Pillow's loop (image_set_simd(0)), byte
 * for byte: downscales of every tap count's remainder mod 8 (the copied
 * tail), a photo-sized strip, upscales, one pixel, and preprocess's crop
 * window. Random pixels, so a wrong weight or channel shows. */
TEST(test_resize_simd_equals_scalar)
{
    const struct { int w, h, ow, oh; } cases[] = {
        { 4000, 24, 224, 16 }, { 641, 427, 336, 224 }, { 640, 427, 224, 150 },
        { 97, 13, 11, 13 },    { 7, 5, 300, 200 },     { 1, 1, 9, 4 },
        { 33, 1, 4, 1 },       { 1000, 3, 3, 2 },      { 250, 9, 17, 9 },
    };
    uint64_t seed = 12345;
    for (size_t k = 0; k < ARRAY_LEN(cases); k++) {
        Image img = { cases[k].w, cases[k].h, NULL }, a, b;
        size_t n = (size_t)img.width * img.height * 3;
        img.rgb = bigmem_alloc(n);
        ASSERT_TRUE(img.rgb != NULL);
        for (size_t i = 0; i < n; i++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            img.rgb[i] = (uint8_t)(seed >> 56);
        }
        image_set_simd(0);
        ASSERT_OK(image_resize_bicubic(&img, cases[k].ow, cases[k].oh, &a));
        image_set_simd(1);
        ASSERT_OK(image_resize_bicubic(&img, cases[k].ow, cases[k].oh, &b));
        int same = !memcmp(a.rgb, b.rgb, (size_t)a.width * a.height * 3);
        if (!same) printf("  %dx%d -> %dx%d differs\n", img.width, img.height, a.width, a.height);
        image_free(&a);
        image_free(&b);

        /* preprocess resizes a window (the centre crop) of the same resize. */
        ImagePreprocess pp;
        image_preprocess_default(&pp);
        size_t plane = (size_t)pp.size * pp.size * 3;
        float *pa = malloc(plane * sizeof *pa), *pb = malloc(plane * sizeof *pb);
        ASSERT_TRUE(pa && pb);
        image_set_simd(0);
        ASSERT_OK(image_preprocess(&img, &pp, pa, NULL, NULL));
        image_set_simd(1);
        ASSERT_OK(image_preprocess(&img, &pp, pb, NULL, NULL));
        int same_pp = !memcmp(pa, pb, plane * sizeof *pa);
        free(pa);
        free(pb);
        image_free(&img);
        ASSERT_TRUE(same);
        ASSERT_TRUE(same_pp);
    }
}

/* bmp_write encodes img as a 24-bit bottom-up BMP (rows padded to 4 bytes). */
static uint8_t *bmp_write(const Image *img, size_t *len)
{
    size_t stride = ((size_t)img->width * 3 + 3) & ~(size_t)3;
    size_t n = 54 + stride * (size_t)img->height;
    uint8_t *b = xcalloc(1, n);
    uint32_t hdr[] = { (uint32_t)n, 0, 54, 40, (uint32_t)img->width, (uint32_t)img->height };
    b[0] = 'B';
    b[1] = 'M';
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 4; j++) b[2 + 4 * i + j] = (uint8_t)(hdr[i] >> (8 * j));
    b[26] = 1;  /* planes */
    b[28] = 24; /* bits per pixel */
    for (int y = 0; y < img->height; y++) {
        uint8_t *row = b + 54 + stride * (size_t)(img->height - 1 - y);
        const uint8_t *src = img->rgb + (size_t)y * img->width * 3;
        for (int x = 0; x < img->width; x++) {
            row[3 * x + 0] = src[3 * x + 2];
            row[3 * x + 1] = src[3 * x + 1];
            row[3 * x + 2] = src[3 * x + 0];
        }
    }
    *len = n;
    return b;
}

TEST(test_bmp_roundtrip)
{
    Image png, bmp;
    char err[256];
    ASSERT_OK(image_load_file(fixture_path("images/tall_90x600.png"), &png, err, sizeof err));
    size_t len;
    uint8_t *b = bmp_write(&png, &len); /* width 90: rows need padding */
    int rc = image_decode(b, len, &bmp, err, sizeof err);
    int same = rc == 0 && bmp.width == png.width && bmp.height == png.height &&
               !memcmp(bmp.rgb, png.rgb, (size_t)png.width * png.height * 3);
    image_free(&bmp);
    /* The same file cut short must be refused, not padded with black. */
    int rc_cut = image_decode(b, len - 100, &bmp, err, sizeof err);
    free(b);
    image_free(&png);
    ASSERT_OK(rc);
    ASSERT_TRUE(same);
    ASSERT_EQ_INT(rc_cut, ERR_FORMAT);
}

/* A GIF writer with "uncompressed" LZW: every pixel is a literal code and a
 * clear code comes before the dictionary would grow the code width, which
 * any conforming decoder must accept. frames: 2 (the second frame a flat
 * colour, to prove only the first is used). */
typedef struct {
    Buf *out;
    uint8_t block[255];
    int nblock;
    uint32_t bits;
    int nbits;
} GifBits;

static void gif_flush_block(GifBits *g)
{
    if (!g->nblock) return;
    uint8_t n = (uint8_t)g->nblock;
    buf_append(g->out, &n, 1);
    buf_append(g->out, g->block, (size_t)g->nblock);
    g->nblock = 0;
}

static void gif_put_code(GifBits *g, uint32_t code, int width)
{
    g->bits |= code << g->nbits;
    g->nbits += width;
    while (g->nbits >= 8) {
        g->block[g->nblock++] = (uint8_t)g->bits;
        g->bits >>= 8;
        g->nbits -= 8;
        if (g->nblock == 255) gif_flush_block(g);
    }
}

static void gif_frame(Buf *out, int w, int h, const uint8_t *idx)
{
    uint8_t desc[10] = { 0x2C, 0, 0, 0, 0, (uint8_t)w, (uint8_t)(w >> 8), (uint8_t)h,
                         (uint8_t)(h >> 8), 0 };
    buf_append(out, desc, sizeof desc);
    uint8_t min_code = 8;
    buf_append(out, &min_code, 1);
    GifBits g = { out, { 0 }, 0, 0, 0 };
    const uint32_t clear = 256, eoi = 257;
    int since_clear = 0;
    gif_put_code(&g, clear, 9);
    for (size_t i = 0; i < (size_t)w * h; i++) {
        /* The decoder adds a dictionary entry per code after the first; at
         * 511 entries it would widen codes, so clear well before. */
        if (since_clear == 250) {
            gif_put_code(&g, clear, 9);
            since_clear = 0;
        }
        gif_put_code(&g, idx[i], 9);
        since_clear++;
    }
    gif_put_code(&g, eoi, 9);
    if (g.nbits) gif_put_code(&g, 0, 8 - g.nbits);
    gif_flush_block(&g);
    uint8_t term = 0;
    buf_append(out, &term, 1);
}

TEST(test_gif_first_frame)
{
    Image png, gif;
    char err[256];
    /* A palette PNG: at most 256 colours, so it fits one GIF palette. */
    ASSERT_OK(image_load_file(fixture_path("images/green_palette.png"), &png, err, sizeof err));
    uint8_t pal[256 * 3] = { 0 };
    int ncolors = 0;
    size_t npx = (size_t)png.width * png.height;
    uint8_t *idx = xmalloc(npx), *flat = xcalloc(1, npx);
    for (size_t i = 0; i < npx; i++) {
        const uint8_t *px = png.rgb + 3 * i;
        int k = 0;
        while (k < ncolors && memcmp(pal + 3 * k, px, 3)) k++;
        if (k == ncolors) {
            if (ncolors == 256) break;
            memcpy(pal + 3 * ncolors++, px, 3);
        }
        idx[i] = (uint8_t)k;
    }
    if (ncolors < 2) ncolors = 2;
    Buf b;
    buf_init(&b);
    uint8_t lsd[13] = { 'G', 'I', 'F', '8', '9', 'a', (uint8_t)png.width,
                        (uint8_t)(png.width >> 8), (uint8_t)png.height,
                        (uint8_t)(png.height >> 8), 0xF7 /* global table, 256 entries */,
                        0, 0 };
    buf_append(&b, lsd, sizeof lsd);
    buf_append(&b, pal, sizeof pal);
    gif_frame(&b, png.width, png.height, idx);
    gif_frame(&b, png.width, png.height, flat);
    buf_append(&b, ";", 1);
    int rc = image_decode(b.data, b.len, &gif, err, sizeof err);
    if (rc) printf("  gif: %s\n", err);
    int same = rc == 0 && gif.width == png.width && gif.height == png.height &&
               !memcmp(gif.rgb, png.rgb, npx * 3);
    image_free(&gif);
    /* Cut inside the first frame: refused, not padded with the canvas. */
    int rc_cut = image_decode(b.data, b.len / 3, &gif, err, sizeof err);
    ASSERT_EQ_INT(rc_cut, ERR_FORMAT);
    buf_free(&b);
    free(idx);
    free(flat);
    image_free(&png);
    ASSERT_OK(rc);
    ASSERT_TRUE(same);
}

static void put_le(Buf *b, uint32_t v, int bytes)
{
    for (int i = 0; i < bytes; i++) {
        uint8_t c = (uint8_t)(v >> (8 * i));
        buf_append(b, &c, 1);
    }
}

/* An animated WebP decodes to its first frame placed on a canvas of
 * zeros, as Pillow's WebPAnimDecoder gives it. Built from the lossy
 * fixture's VP8 chunk: canvas 20 wider and 10 taller, frame at (10, 4),
 * then a second frame that must be ignored (a second copy at (0, 0)). */
TEST(test_webp_animation_first_frame)
{
    size_t len = 0;
    char *data = read_fixture("images/coffee_lossy.webp", &len);
    ASSERT_TRUE(data != NULL && len > 20 && !memcmp(data + 12, "VP8 ", 4));
    Image still, anim;
    char err[256];
    int rc = image_decode(data, len, &still, err, sizeof err);
    if (rc) free(data);
    ASSERT_OK(rc);
    const uint8_t *u = (const uint8_t *)data;
    uint32_t vp8_size = (uint32_t)u[16] | (uint32_t)u[17] << 8 | (uint32_t)u[18] << 16 |
                        (uint32_t)u[19] << 24;
    size_t vp8_chunk = 8 + vp8_size + (vp8_size & 1);
    int cw = still.width + 20, ch = still.height + 10;
    Buf b;
    buf_init(&b);
    buf_append(&b, "RIFF\0\0\0\0WEBPVP8X", 16);
    put_le(&b, 10, 4);
    put_le(&b, 0x02, 4); /* animation flag, reserved */
    put_le(&b, (uint32_t)cw - 1, 3);
    put_le(&b, (uint32_t)ch - 1, 3);
    buf_append(&b, "ANIM", 4);
    put_le(&b, 6, 4);
    put_le(&b, 0xFF00FF00u, 4); /* background colour: WebPAnimDecoder ignores it */
    put_le(&b, 0, 2);
    for (int f = 0; f < 2; f++) {
        buf_append(&b, "ANMF", 4);
        put_le(&b, (uint32_t)(16 + vp8_chunk), 4);
        put_le(&b, f == 0 ? 5 : 0, 3); /* x / 2 */
        put_le(&b, f == 0 ? 2 : 0, 3); /* y / 2 */
        put_le(&b, (uint32_t)still.width - 1, 3);
        put_le(&b, (uint32_t)still.height - 1, 3);
        put_le(&b, 100, 3); /* duration */
        put_le(&b, 0, 1);
        buf_append(&b, data + 12, vp8_chunk);
    }
    free(data);
    for (int i = 0; i < 4; i++) b.data[4 + i] = (char)((b.len - 8) >> (8 * i));
    rc = image_decode(b.data, b.len, &anim, err, sizeof err);
    if (rc) printf("  %s\n", err);
    int bad = rc != 0 || anim.width != cw || anim.height != ch;
    for (int y = 0; y < ch && !bad; y++)
        for (int x = 0; x < cw && !bad; x++) {
            int in = x >= 10 && x < 10 + still.width && y >= 4 && y < 4 + still.height;
            const uint8_t *g = anim.rgb + ((size_t)y * cw + x) * 3;
            for (int c = 0; c < 3; c++) {
                uint8_t want = in ? still.rgb[((size_t)(y - 4) * still.width + x - 10) * 3 + c] : 0;
                if (g[c] != want) {
                    printf("  pixel (%d, %d) channel %d: %d, want %d\n", x, y, c, g[c], want);
                    bad = 1;
                }
            }
        }
    image_free(&anim);
    /* Cut inside the first frame: refused. */
    int rc_cut = image_decode(b.data, 60 + vp8_chunk / 2, &anim, err, sizeof err);
    buf_free(&b);
    image_free(&still);
    ASSERT_EQ_INT(bad, 0);
    ASSERT_EQ_INT(rc_cut, ERR_FORMAT);
}

/* A 1x1 image decodes and preprocesses to a constant tensor whose value is
 * the reference formula applied to that pixel. */
TEST(test_one_pixel)
{
    uint8_t px[3] = { 200, 30, 117 };
    Image one = { 1, 1, px }, dec;
    size_t len;
    uint8_t *b = bmp_write(&one, &len);
    char err[256];
    int rc = image_decode(b, len, &dec, err, sizeof err);
    free(b);
    ASSERT_OK(rc);
    ASSERT_EQ_INT(dec.width, 1);
    ASSERT_EQ_INT(dec.height, 1);
    ASSERT_TRUE(!memcmp(dec.rgb, px, 3));
    float *out = xmalloc(3 * PLANE * sizeof *out);
    int rw = 0, rh = 0;
    ImagePreprocess pp = IMAGE_PREPROCESS_CLIP_DEFAULT;
    rc = image_preprocess(&dec, &pp, out, &rw, &rh);
    image_free(&dec);
    int bad = 0;
    for (int c = 0; c < 3; c++) {
        double want = (px[c] / 255.0 - CLIP_MEAN[c]) / CLIP_STD[c];
        for (int i = 0; i < PLANE; i++) bad += fabs(out[c * PLANE + i] - want) > 1e-5;
    }
    free(out);
    ASSERT_OK(rc);
    ASSERT_EQ_INT(rw, SIDE);
    ASSERT_EQ_INT(rh, SIDE);
    ASSERT_EQ_INT(bad, 0);
}

/* Headers that declare more pixels than IMAGE_MAX_PIXELS are refused from
 * the header alone (a 30 GB allocation would abort under ASan). */
TEST(test_huge_declared_size)
{
    Image img;
    char err[256];
    /* PNG: signature + IHDR 100000 x 100000, RGB (stb does not check CRCs;
     * IDAT follows so stb's info parser is satisfied). */
    static const uint8_t png[] = {
        0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R',
        0, 0x01, 0x86, 0xA0, 0, 0x01, 0x86, 0xA0, 8, 2, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 'I', 'D', 'A', 'T', 0, 0, 0, 0,
    };
    int rc = image_decode(png, sizeof png, &img, err, sizeof err);
    printf("  png: %s\n", err);
    ASSERT_EQ_INT(rc, ERR_TOOLARGE);
    ASSERT_TRUE(strstr(err, "pixels") != NULL);
    /* GIF: logical screen 65535 x 65535. */
    static const uint8_t gif[] = { 'G', 'I', 'F', '8', '9', 'a', 0xFF, 0xFF, 0xFF, 0xFF,
                                   0, 0, 0, 0x2C, 0, 0, 0, 0, 1, 0, 1, 0, 0, 2, 2, 0x4C,
                                   0x01, 0, ';' };
    rc = image_decode(gif, sizeof gif, &img, err, sizeof err);
    printf("  gif: %s\n", err);
    ASSERT_EQ_INT(rc, ERR_TOOLARGE);
    /* JPEG: SOI, SOF0 65000 x 65000, 3 components. */
    static const uint8_t jpg[] = { 0xFF, 0xD8, 0xFF, 0xC0, 0, 17, 8, 0xFD, 0xE8, 0xFD, 0xE8,
                                   3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1, 0xFF, 0xD9 };
    rc = image_decode(jpg, sizeof jpg, &img, err, sizeof err);
    printf("  jpeg: %s\n", err);
    ASSERT_EQ_INT(rc, ERR_TOOLARGE);
    /* WebP lossless (VP8L): 16384 x 16384. */
    uint8_t webp[30] = { 'R', 'I', 'F', 'F', 22, 0, 0, 0, 'W', 'E', 'B', 'P',
                         'V', 'P', '8', 'L', 10, 0, 0, 0, 0x2F };
    uint32_t bits = (16384 - 1) | (uint32_t)(16384 - 1) << 14; /* then alpha 0, version 0 */
    for (int i = 0; i < 4; i++) webp[21 + i] = (uint8_t)(bits >> (8 * i));
    rc = image_decode(webp, sizeof webp, &img, err, sizeof err);
    printf("  webp: %s\n", err);
    ASSERT_EQ_INT(rc, ERR_TOOLARGE);
    /* BMP: 60000 x 60000, 24-bit. */
    uint8_t bmp[54] = { 'B', 'M' };
    bmp[10] = 54;
    bmp[14] = 40;
    bmp[18] = 0x60, bmp[19] = 0xEA;
    bmp[22] = 0x60, bmp[23] = 0xEA;
    bmp[26] = 1;
    bmp[28] = 24;
    rc = image_decode(bmp, sizeof bmp, &img, err, sizeof err);
    printf("  bmp: %s\n", err);
    ASSERT_EQ_INT(rc, ERR_TOOLARGE);
    ASSERT_EQ_INT(image_decode(png, IMAGE_MAX_BYTES + 1, &img, err, sizeof err), ERR_TOOLARGE);
}

/* The largest size a PNG header can declare, 4294967295 x 4294967295, in a
 * complete 33-byte file (signature, IHDR with a correct CRC, nothing
 * else): the product of the sides overflows 64-bit arithmetic, which once
 * aborted a UBSan build and, in a release build, let the header pass the
 * limit and be refused by stb as "corrupt". It must be "too large". */
TEST(test_png_max_declared_size)
{
    static const uint8_t png[33] = {
        0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R',
        0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 8, 2, 0, 0, 0, 0x5D, 0x94, 0xB9, 0x69,
    };
    Image img = { 0 };
    char err[256] = "";
    int rc = image_decode(png, sizeof png, &img, err, sizeof err);
    printf("  png 4294967295 x 4294967295: %s\n", err);
    ASSERT_EQ_INT(rc, ERR_TOOLARGE);
    ASSERT_TRUE(strstr(err, "4294967295x4294967295") != NULL);
    ASSERT_TRUE(strstr(err, "more than the limit") != NULL);
    ASSERT_TRUE(img.rgb == NULL);
    /* One side at the maximum, the other 1 (no overflow, still over the
     * limit): refused the same way, whichever side it is. The CRC no longer
     * matches; nothing reads it before the size check. */
    uint8_t one[33];
    memcpy(one, png, sizeof one);
    memset(one + 20, 0, 3);
    one[23] = 1; /* 4294967295 x 1 */
    ASSERT_EQ_INT(image_decode(one, sizeof one, &img, err, sizeof err), ERR_TOOLARGE);
    memcpy(one + 16, one + 20, 4);
    memset(one + 20, 0xFF, 4); /* 1 x 4294967295 */
    ASSERT_EQ_INT(image_decode(one, sizeof one, &img, err, sizeof err), ERR_TOOLARGE);
}

TEST(test_unsupported_and_empty)
{
    Image img;
    char err[256];
    static const uint8_t tiff[] = { 'I', 'I', 42, 0, 8, 0, 0, 0, 0, 0, 0, 0 };
    ASSERT_EQ_INT(image_decode(tiff, sizeof tiff, &img, err, sizeof err), ERR_FORMAT);
    ASSERT_TRUE(strstr(err, "unsupported image format") != NULL);
    ASSERT_TRUE(img.rgb == NULL);
    ASSERT_EQ_INT(image_decode(tiff, 0, &img, err, sizeof err), ERR_FORMAT);
    ASSERT_EQ_INT(image_load_file("tests/no-such-image.png", &img, err, sizeof err),
                  ERR_NOTFOUND);
    ASSERT_TRUE(strstr(err, "no-such-image.png") != NULL);
}

/* Every fixture cut short at several points must be refused. */
TEST(test_truncated_fixtures)
{
    static const char *const names[] = {
        "astronaut_progressive.jpg", "rocket.jpg", "coffee_gray.jpg", "chelsea.png",
        "coffee_gray16.png", "green_palette.png", "coffee_lossy.webp", "logo_lossless_alpha.webp",
    };
    static const double cuts[] = { 0.02, 0.5, 0.9, 0.99 };
    int accepted = 0;
    for (size_t n = 0; n < ARRAY_LEN(names); n++) {
        char rel[256];
        snprintf(rel, sizeof rel, "images/%s", names[n]);
        size_t len = 0;
        char *data = read_fixture(rel, &len);
        ASSERT_TRUE(data != NULL);
        for (size_t c = 0; c < ARRAY_LEN(cuts); c++) {
            size_t cut = (size_t)(len * cuts[c]);
            Image img;
            char err[256];
            int rc = image_decode(data, cut, &img, err, sizeof err);
            if (rc == 0) {
                printf("  %s cut to %zu of %zu bytes was accepted\n", names[n], cut, len);
                accepted++;
                image_free(&img);
            } else if (c == 1) {
                printf("  %s cut at half: %s\n", names[n], err);
            }
        }
        free(data);
    }
    ASSERT_EQ_INT(accepted, 0);
}

/* A Huffman table whose 16 counts sum to more than 256 codes overflows
 * stb_image 2.27's fixed arrays (fixed upstream in 2.28); the module must
 * refuse it before stb sees it. Made from a fixture by raising the counts
 * of its first DHT table. */
TEST(test_jpeg_oversized_huffman_table)
{
    size_t len = 0;
    char *data = read_fixture("images/rocket.jpg", &len);
    ASSERT_TRUE(data != NULL);
    uint8_t *p = (uint8_t *)data;
    size_t i = 2, dht = 0;
    while (i + 4 < len && p[i] == 0xFF && p[i + 1] != 0xDA) {
        if (p[i + 1] == 0xC4) {
            dht = i;
            break;
        }
        i += 2 + ((size_t)p[i + 2] << 8 | p[i + 3]);
    }
    if (!dht) {
        free(data);
        HARNESS_FAIL("no DHT segment before the first scan in rocket.jpg");
    }
    for (int c = 0; c < 16; c++) p[dht + 5 + c] = 0x40; /* 16 * 64 = 1024 codes */
    Image img;
    char err[256];
    int rc = image_decode(p, len, &img, err, sizeof err);
    free(data);
    printf("  %s\n", err);
    ASSERT_EQ_INT(rc, ERR_FORMAT);
    ASSERT_TRUE(strstr(err, "Huffman") != NULL);
}

/* Random bytes, with and without a valid magic, and bit-flipped fixtures:
 * an error or a well-formed image, never a crash. */
TEST(test_garbage_never_crashes)
{
    static const char *const magics[] = { "", "\xFF\xD8\xFF", "\x89PNG\r\n\x1a\n", "GIF89a",
                                          "BM", "RIFF\x20\0\0\0WEBPVP8 " };
    int errors = 0, total = 0;
    uint8_t buf[2048];
    for (size_t m = 0; m < ARRAY_LEN(magics); m++) {
        size_t ml = m == 5 ? 16 : strlen(magics[m]);
        for (int trial = 0; trial < 60; trial++) {
            size_t len = ml + rng_next() % (sizeof buf - ml);
            memcpy(buf, magics[m], ml);
            for (size_t i = ml; i < len; i++) buf[i] = (uint8_t)rng_next();
            Image img;
            char err[256];
            int rc = image_decode(buf, len, &img, err, sizeof err);
            total++;
            if (rc) {
                errors++;
                ASSERT_TRUE(img.rgb == NULL);
                ASSERT_TRUE(err[0] != '\0');
            } else {
                ASSERT_TRUE(img.width > 0 && img.height > 0 && img.rgb);
                image_free(&img);
            }
        }
    }
    printf("  random: %d of %d refused\n", errors, total);
    ASSERT_GE(errors, total * 9 / 10);

    /* Bit flips in small real files reach deep into each decoder. */
    static const char *const names[] = { "tiny_7x5.png", "checker_bilevel.png", "block.png",
                                         "green_palette.png", "panorama_1200x100.jpg",
                                         "coffee_lossy.webp" };
    int decoded = 0;
    total = 0;
    for (size_t n = 0; n < ARRAY_LEN(names); n++) {
        char rel[256];
        snprintf(rel, sizeof rel, "images/%s", names[n]);
        size_t len = 0;
        char *orig = read_fixture(rel, &len);
        ASSERT_TRUE(orig != NULL);
        uint8_t *mut = xmalloc(len);
        for (int trial = 0; trial < 40; trial++) {
            memcpy(mut, orig, len);
            int flips = 1 + (int)(rng_next() % 4);
            for (int f = 0; f < flips; f++)
                mut[rng_next() % len] ^= (uint8_t)(1u << (rng_next() % 8));
            Image img;
            char err[256];
            int rc = image_decode(mut, len, &img, err, sizeof err);
            total++;
            if (rc == 0) {
                decoded++;
                ASSERT_TRUE(img.width > 0 && img.height > 0 && img.rgb);
                image_free(&img);
            }
        }
        free(mut);
        free(orig);
    }
    printf("  bit flips: %d of %d still decode\n", decoded, total);
}

TEST(test_config_load)
{
    ImagePreprocess pp;
    char err[256];
    ASSERT_OK(image_preprocess_config_load(
        fixture_path("models/tiny-p32/preprocessor_config.json"), &pp, err, sizeof err));
    ASSERT_EQ_INT(pp.size, 224);
    for (int c = 0; c < 3; c++) {
        ASSERT_NEAR(pp.mean[c], CLIP_MEAN[c], 1e-7);
        ASSERT_NEAR(pp.std[c], CLIP_STD[c], 1e-7);
    }
    ASSERT_EQ_INT(image_preprocess_config_load("tests/no-such-config.json", &pp, err, sizeof err),
                  ERR_NOTFOUND);

    /* Configurations this module must refuse rather than compute wrongly. */
    static const struct {
        const char *json;
        int rc;
        int size;
    } cases[] = {
        { "{\"size\": {\"shortest_edge\": 336}, \"crop_size\": {\"height\": 336, \"width\": 336}}",
          0, 336 },
        { "{\"size\": 224, \"crop_size\": 224}", 0, 224 },
        { "{}", 0, 224 },
        { "{\"resample\": 2}", ERR_UNSUPPORTED, 0 },
        { "{\"size\": {\"height\": 224, \"width\": 224}}", ERR_UNSUPPORTED, 0 },
        { "{\"size\": {\"shortest_edge\": 256}, \"crop_size\": 224}", ERR_UNSUPPORTED, 0 },
        { "{\"do_center_crop\": false}", ERR_UNSUPPORTED, 0 },
        { "{\"image_mean\": [0.5, 0.5]}", ERR_INVAL, 0 },
        { "{\"image_std\": [0.5, 0, 0.5]}", ERR_INVAL, 0 },
        { "[1, 2]", ERR_INVAL, 0 },
        { "{\"size\": ", ERR_INVAL, 0 },
    };
    char path[] = "/tmp/vitrine_test_image_XXXXXX";
    int fd = mkstemp(path);
    ASSERT_TRUE(fd >= 0);
    FILE *f = fdopen(fd, "w");
    ASSERT_TRUE(f != NULL);
    int bad = 0;
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        rewind(f);
        if (ftruncate(fileno(f), 0) != 0) bad++;
        fputs(cases[i].json, f);
        fflush(f);
        int rc = image_preprocess_config_load(path, &pp, err, sizeof err);
        if (rc != cases[i].rc || (rc == 0 && pp.size != cases[i].size)) {
            printf("  %s: rc %d (want %d), size %d: %s\n", cases[i].json, rc, cases[i].rc,
                   pp.size, err);
            bad++;
        }
    }
    fclose(f);
    unlink(path);
    ASSERT_EQ_INT(bad, 0);
}

/*
 * Thumbnails: the JPEG decodes (with this module's own decoder) to the
 * size asked, aspect kept, and its pixels are the bicubic resize's up to
 * JPEG's loss: measured 2.7 levels of mean absolute difference on the
 * astronaut, 4.8 and 6.0 on the detailed thin strips (4:2:0 chroma); a
 * wrong image (transposed, shifted, another image's pixels) is tens of
 * levels off. An image already small enough keeps its size.
 */
TEST(test_thumbnail_jpeg)
{
    static const struct {
        const char *rel;
        int side, w, h;
    } cases[] = {
        { "images/astronaut.png", 256, 256, 256 },
        { "images/panorama_1200x100.jpg", 256, 256, 21 },
        { "images/tall_90x600.png", 128, 19, 128 },
        { "images/tiny_7x5.png", 256, 7, 5 },
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        char err[256];
        Image img, back, ref;
        ASSERT_OK(image_load_file(fixture_path(cases[k].rel), &img, err, sizeof err));
        Buf jpg;
        buf_init(&jpg);
        ASSERT_OK(image_thumbnail_jpeg(&img, cases[k].side, 90, &jpg));
        ASSERT_TRUE(jpg.len > 100 && (uint8_t)jpg.data[0] == 0xFF && (uint8_t)jpg.data[1] == 0xD8);
        ASSERT_OK(image_decode(jpg.data, jpg.len, &back, err, sizeof err));
        ASSERT_EQ_INT(back.width, cases[k].w);
        ASSERT_EQ_INT(back.height, cases[k].h);
        if (img.width == back.width && img.height == back.height) {
            ref = img;
            img.rgb = NULL;
        } else {
            ASSERT_OK(image_resize_bicubic(&img, back.width, back.height, &ref));
        }
        double sum = 0;
        size_t n = (size_t)back.width * back.height * 3;
        for (size_t i = 0; i < n; i++) sum += abs((int)back.rgb[i] - (int)ref.rgb[i]);
        if (sum / n > 8.0) HARNESS_FAIL("%s: mean |diff| %.2f levels", cases[k].rel, sum / n);
        image_free(&img);
        image_free(&back);
        image_free(&ref);
        buf_free(&jpg);
    }
    Image img;
    char err[256];
    ASSERT_OK(image_load_file(fixture_path("images/tiny_7x5.png"), &img, err, sizeof err));
    Buf b;
    buf_init(&b);
    ASSERT_EQ_INT(image_thumbnail_jpeg(&img, 0, 80, &b), ERR_INVAL);
    ASSERT_EQ_INT(image_thumbnail_jpeg(&img, 64, 101, &b), ERR_INVAL);
    Image empty = { 0 };
    ASSERT_EQ_INT(image_thumbnail_jpeg(&empty, 64, 80, &b), ERR_INVAL);
    ASSERT_EQ_INT(b.len, 0);
    buf_free(&b);
    image_free(&img);
}

int main(void)
{
    RUN(test_fixture_parity);
    RUN(test_window_equals_full_resize);
    RUN(test_resize_identity_and_constant);
    RUN(test_resize_simd_equals_scalar);
    RUN(test_bmp_roundtrip);
    RUN(test_gif_first_frame);
    RUN(test_webp_animation_first_frame);
    RUN(test_one_pixel);
    RUN(test_huge_declared_size);
    RUN(test_png_max_declared_size);
    RUN(test_unsupported_and_empty);
    RUN(test_truncated_fixtures);
    RUN(test_jpeg_oversized_huffman_table);
    RUN(test_garbage_never_crashes);
    RUN(test_config_load);
    RUN(test_thumbnail_jpeg);
    return harness_report(__FILE__);
}
