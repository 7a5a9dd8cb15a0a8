/*
 * image.c - image decoding (stb_image, libwebp), Pillow-exact bicubic
 * resize and CLIP preprocessing. See image.h for the contract.
 *
 * Design.
 *
 * Decoding sniffs the format from the first bytes, reads the declared size
 * from the header (stbi_info_from_memory, WebPGetFeatures) and enforces
 * IMAGE_MAX_PIXELS before a pixel buffer exists. stb_image tolerates
 * truncation in some formats (its readers return zeros past the end of the
 * buffer, so a cut JPEG, GIF or BMP "decodes" with a grey or black tail).
 * Pillow refuses such files ("image file is truncated"), and a silently
 * half-grey product photo would be indexed with a wrong embedding, so this
 * module walks the JPEG marker structure up to its end-of-image marker and
 * the GIF blocks to the end of the first image, and checks that a BMP holds
 * the pixel bytes its header promises, before decoding. The same JPEG walk
 * refuses Huffman tables with more than 256 codes, which overflow arrays
 * inside stb_image 2.27 (Debian's; fixed upstream in 2.28).
 *
 * Thumbnails are the same bicubic resize followed by stb_image_write's
 * JPEG encoder (its implementation is in image_stbw.c), which writes
 * through a callback into a Buf.
 *
 * WebP goes to libwebp's simple decoder; an animation's first frame is
 * rewrapped as a still WebP (see decode_webp_anim) because the demux
 * library is not linked.
 *
 * The resize follows Pillow's src/libImaging/Resample.c (precompute_coeffs,
 * normalize_coeffs_8bpc, ImagingResampleHorizontal/Vertical_8bpc): the same
 * double-precision filter weights, the same rounding to 22-bit fixed point,
 * the same 8-bit clamp between passes. It computes any rectangular window
 * of the full output: every output sample depends only on its own
 * coefficients, so a window is bit-identical to the same region of a full
 * resize. image_preprocess asks only for the center crop, which skips the
 * columns or rows that the crop throws away (a third of a 3:2 photo).
 *
 * The vertical pass accumulates one output row at a time over the taps
 * (row += sample * weight for each tap) rather than tap-innermost as
 * Pillow does; integer addition is exact, so the order does not change the
 * result, and the row-wise form vectorises.
 */
#include "model/image.h"

#include <limits.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

/* These must match the configuration in image_stb.c (declarations only here). */
#define STBI_NO_STDIO
#define STBI_NO_LINEAR
#define STBI_NO_HDR
#include <stb/stb_image.h>
#define STBI_WRITE_NO_STDIO
#include <stb/stb_image_write.h>
#include <webp/decode.h>

#include "base/arena.h"
#include "base/bigmem.h"
#include "base/cpu.h"
#include "base/err.h"
#include "base/json.h"
#include "base/util.h"

/* Pillow's PRECISION_BITS for 8-bit images: 32 bits minus 8 for the sample
 * and 2 for the overshoot of a filter with negative lobes. */
#define IMAGE_PRECISION_BITS 22
/* Keys' cubic convolution parameter, as Pillow's bicubic_filter uses. */
#define IMAGE_BICUBIC_A (-0.5)
#define IMAGE_BICUBIC_SUPPORT 2.0
/* The resized long side of a preprocessed image must stay a sane int: an
 * extreme aspect ratio (1 x 100000) would otherwise overflow positions. */
#define IMAGE_MAX_RESIZED_SIDE (1 << 28)

typedef enum {
    IMAGE_FMT_UNKNOWN = 0,
    IMAGE_FMT_JPEG,
    IMAGE_FMT_PNG,
    IMAGE_FMT_GIF,
    IMAGE_FMT_BMP,
    IMAGE_FMT_WEBP,
} ImageFormat;

static const char *format_name(ImageFormat f)
{
    switch (f) {
    case IMAGE_FMT_JPEG: return "JPEG";
    case IMAGE_FMT_PNG: return "PNG";
    case IMAGE_FMT_GIF: return "GIF";
    case IMAGE_FMT_BMP: return "BMP";
    case IMAGE_FMT_WEBP: return "WebP";
    default: return "unknown";
    }
}


/* format_sniff identifies the container from its magic bytes. The decoders
 * would do this too, but naming the format lets an error say which one. */
static ImageFormat format_sniff(const uint8_t *p, size_t len)
{
    if (len >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF) return IMAGE_FMT_JPEG;
    if (len >= 8 && !memcmp(p, "\x89PNG\r\n\x1a\n", 8)) return IMAGE_FMT_PNG;
    if (len >= 6 && (!memcmp(p, "GIF87a", 6) || !memcmp(p, "GIF89a", 6))) return IMAGE_FMT_GIF;
    if (len >= 2 && p[0] == 'B' && p[1] == 'M') return IMAGE_FMT_BMP;
    if (len >= 12 && !memcmp(p, "RIFF", 4) && !memcmp(p + 8, "WEBP", 4)) return IMAGE_FMT_WEBP;
    return IMAGE_FMT_UNKNOWN;
}

static uint32_t rd_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t rd_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

/*
 * jpeg_dht_ok checks a DHT segment the way stb_image 2.27 reads it, and
 * refuses a table whose 16 code counts sum to more than 256 symbols. stb
 * does not check that sum before building the table (fixed upstream in
 * 2.28), so such a file writes past the fixed-size arrays inside its
 * decoder struct: found by this module's fuzzing under UBSan. Like stb,
 * it keeps reading tables while the segment length is not used up, and
 * counts bytes past the end of the buffer as zero (stb's EOF value).
 */
static int jpeg_dht_ok(const uint8_t *p, size_t len, size_t i, size_t seg)
{
    long remaining = (long)seg - 2;
    size_t j = i + 2;
    while (remaining > 0) {
        j++; /* table class and id; stb rejects bad values itself */
        long n = 0;
        for (int c = 0; c < 16; c++, j++) n += j < len ? p[j] : 0;
        if (n > 256) return 0;
        j += (size_t)n;
        remaining -= 17 + n;
    }
    return 1;
}

/*
 * jpeg_check_complete walks the marker segments of a JPEG (skipping each
 * segment by its length, so an EXIF thumbnail's own markers are never
 * seen) and the entropy-coded data after each SOS (where 0xFF is followed
 * by 0x00 stuffing or a restart marker), and succeeds only when it reaches
 * the EOI marker inside the buffer. Bytes after EOI are allowed, as
 * libjpeg allows them. It also validates every Huffman table on the way
 * (jpeg_dht_ok). It follows segments exactly as stb_image does (by their
 * length; stray bytes and 0xFF fill skipped before a marker), so the
 * tables it checks are the tables stb will build. Returns 0, ERR_FORMAT
 * (truncated) or ERR_INVAL (a malformed Huffman table).
 */
static int jpeg_check_complete(const uint8_t *p, size_t len)
{
    size_t i = 2; /* after SOI */
    for (;;) {
        /* libjpeg skips stray bytes before a marker with a warning; so do we. */
        while (i < len && p[i] != 0xFF) i++;
        while (i < len && p[i] == 0xFF) i++; /* fill bytes */
        if (i >= len) return ERR_FORMAT;
        uint8_t m = p[i++];
        if (m == 0xD9) return 0; /* EOI */
        if (m == 0x01 || m == 0xD8 || (m >= 0xD0 && m <= 0xD7)) continue; /* no length */
        if (i + 2 > len) return ERR_FORMAT;
        size_t seg = (size_t)p[i] << 8 | p[i + 1];
        if (seg < 2 || i + seg > len) return ERR_FORMAT;
        if (m == 0xC4 && !jpeg_dht_ok(p, len, i, seg)) return ERR_INVAL;
        i += seg;
        if (m != 0xDA) continue;
        /* Entropy-coded data runs to the next marker that is neither
         * stuffing (FF 00) nor a restart (FF D0..D7). */
        for (;;) {
            while (i < len && p[i] != 0xFF) i++;
            if (i + 1 >= len) return ERR_FORMAT;
            uint8_t n = p[i + 1];
            if (n == 0x00 || (n >= 0xD0 && n <= 0xD7)) {
                i += 2;
            } else if (n == 0xFF) {
                i += 1;
            } else {
                break; /* a real marker at i; the outer loop reads it */
            }
        }
    }
}

/*
 * bmp_check_complete checks that an uncompressed (BI_RGB or BI_BITFIELDS)
 * BMP holds the pixel rows its header declares. Compressed variants are
 * left to stb_image, which rejects the ones it cannot read.
 */
static int bmp_check_complete(const uint8_t *p, size_t len)
{
    if (len < 26) return ERR_FORMAT;
    uint32_t off = rd_le32(p + 10), hsz = rd_le32(p + 14);
    int64_t w, h;
    uint32_t bpp, comp = 0;
    if (hsz == 12) {
        w = rd_le16(p + 18);
        h = rd_le16(p + 20);
        bpp = rd_le16(p + 24);
    } else {
        if (len < 34) return ERR_FORMAT;
        w = (int32_t)rd_le32(p + 18);
        h = (int32_t)rd_le32(p + 22);
        bpp = rd_le16(p + 28);
        comp = rd_le32(p + 30);
    }
    /* stb_image refuses RLE (1, 2) itself, and 4 and 5 (JPEG, PNG inside)
     * too, but it reads the field as a signed int: a value of 2^31 or more
     * passes its check and is decoded as uncompressed rows that are not
     * there (a 134-byte file declaring 3 x 6.4M pixels took seconds of
     * zero-filling; tests/corpus/image). Anything but 0 and 3 is refused
     * here. */
    if (comp == 1 || comp == 2) return 0;
    if (comp != 0 && comp != 3) return ERR_FORMAT;
    if (w < 0) w = -w;
    if (h < 0) h = -h;
    uint64_t stride = ((uint64_t)w * bpp + 31) / 32 * 4;
    uint64_t need = (uint64_t)off + stride * (uint64_t)h;
    return need <= len ? 0 : ERR_FORMAT;
}

/*
 * gif_check_complete walks the GIF block structure (extensions and their
 * sub-blocks, colour tables) up to the end of the first image's data
 * sub-blocks. stb_image decodes a cut GIF without complaint, filling the
 * missing rows from its zeroed canvas; Pillow refuses it.
 */
static int gif_check_complete(const uint8_t *p, size_t len)
{
    if (len < 13) return ERR_FORMAT;
    size_t i = 13;
    if (p[10] & 0x80) i += (size_t)3 << ((p[10] & 7) + 1); /* global colour table */
    for (;;) {
        if (i >= len) return ERR_FORMAT;
        uint8_t b = p[i++];
        if (b == 0x21) {
            i++; /* extension label */
        } else if (b == 0x2C) {
            if (i + 9 > len) return ERR_FORMAT;
            uint8_t flags = p[i + 8];
            i += 9;
            if (flags & 0x80) i += (size_t)3 << ((flags & 7) + 1); /* local colour table */
            i++; /* LZW minimum code size */
        } else {
            return ERR_FORMAT; /* trailer before any image, or garbage */
        }
        /* Sub-blocks: a length byte then that many bytes, ending with 0. */
        for (;;) {
            if (i >= len) return ERR_FORMAT;
            uint8_t n = p[i++];
            if (n == 0) break;
            i += n;
        }
        if (b == 0x2C) return 0;
    }
}

static uint32_t rd_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/*
 * header_dims reads the declared width and height from the header of a
 * format stb decodes, without stb: stbi_info itself refuses images above
 * 2^30 bytes with a vague "unknown image type", and this module must say
 * "too large" for them. Returns 0 when the size was found.
 */
static int header_dims(const uint8_t *p, size_t len, ImageFormat f, int64_t *w, int64_t *h)
{
    switch (f) {
    case IMAGE_FMT_PNG: /* signature, IHDR length and type, then width, height */
        if (len < 24 || memcmp(p + 12, "IHDR", 4)) return ERR_FORMAT;
        *w = rd_be32(p + 16);
        *h = rd_be32(p + 20);
        return 0;
    case IMAGE_FMT_GIF: /* the logical screen, which stb allocates */
        if (len < 10) return ERR_FORMAT;
        *w = rd_le16(p + 6);
        *h = rd_le16(p + 8);
        return 0;
    case IMAGE_FMT_BMP:
        if (len < 26) return ERR_FORMAT;
        if (rd_le32(p + 14) == 12) {
            *w = rd_le16(p + 18);
            *h = rd_le16(p + 20);
        } else {
            *w = llabs((int64_t)(int32_t)rd_le32(p + 18));
            *h = llabs((int64_t)(int32_t)rd_le32(p + 22));
        }
        return 0;
    case IMAGE_FMT_JPEG: {
        /* Marker segments up to the first SOFn (C0..CF but DHT C4, JPG C8,
         * DAC CC), whose body is precision, height, width. */
        size_t i = 2;
        for (;;) {
            while (i < len && p[i] != 0xFF) i++;
            while (i < len && p[i] == 0xFF) i++;
            if (i >= len) return ERR_FORMAT;
            uint8_t m = p[i++];
            if (m == 0xD9 || m == 0xDA) return ERR_FORMAT;
            if (m == 0x01 || m == 0xD8 || (m >= 0xD0 && m <= 0xD7)) continue;
            if (i + 2 > len) return ERR_FORMAT;
            size_t seg = (size_t)p[i] << 8 | p[i + 1];
            if (seg < 2) return ERR_FORMAT;
            if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC) {
                if (seg < 7 || i + 7 > len) return ERR_FORMAT;
                *h = (int64_t)p[i + 3] << 8 | p[i + 4];
                *w = (int64_t)p[i + 5] << 8 | p[i + 6];
                return 0;
            }
            i += seg;
        }
    }
    default: return ERR_FORMAT;
    }
}

static int check_pixels(int64_t w, int64_t h, const char *fmt, char *err, size_t errlen)
{
    if (w <= 0 || h <= 0)
        return err_set(err, errlen, ERR_FORMAT, "%s image declares an empty size (%lldx%lld)",
                       fmt, (long long)w, (long long)h);
    /* Divided, not multiplied: a PNG header declares up to 2^32 - 1 per
     * side, and w * h would overflow int64 (undefined, and in practice a
     * negative product that passes the check). */
    if (w > IMAGE_MAX_PIXELS / h)
        return err_set(err, errlen, ERR_TOOLARGE,
                       "%s image is %lldx%lld, more than the limit of %ld pixels", fmt,
                       (long long)w, (long long)h, (long)IMAGE_MAX_PIXELS);
    return 0;
}

/* decode_stb decodes JPEG, PNG, GIF (first frame) and BMP. Asking stb for
 * 3 channels does every conversion CLIP needs: 16-bit samples become their
 * high byte (stbi__convert_16_to_8 shifts right by 8), grey is replicated,
 * palettes are expanded, 1-bit grey is scaled to 0/255, alpha is dropped. */
static int decode_stb(const uint8_t *p, size_t len, ImageFormat f, Image *out, char *err,
                      size_t errlen)
{
    const char *name = format_name(f);
    int64_t hw = 0, hh = 0;
    int rc;
    if (header_dims(p, len, f, &hw, &hh) == 0 && (rc = check_pixels(hw, hh, name, err, errlen)))
        return rc;
    /* Structural checks come before stb parses anything: stbi_info already
     * builds the Huffman tables that precede the frame header. */
    if (f == IMAGE_FMT_JPEG && (rc = jpeg_check_complete(p, len)))
        return err_set(err, errlen, ERR_FORMAT,
                       rc == ERR_INVAL
                           ? "corrupt JPEG: a Huffman table declares more than 256 codes"
                           : "truncated JPEG: the data ends before the end-of-image marker");
    if (f == IMAGE_FMT_GIF && gif_check_complete(p, len))
        return err_set(err, errlen, ERR_FORMAT,
                       "truncated GIF: the data ends inside the first image");
    if (f == IMAGE_FMT_BMP && bmp_check_complete(p, len))
        return err_set(err, errlen, ERR_FORMAT,
                       "truncated BMP: fewer pixel bytes than the header declares "
                       "(or an unsupported compression)");
    int w = 0, h = 0, comp = 0;
    /* len <= IMAGE_MAX_BYTES, which fits stb's int length. */
    if (!stbi_info_from_memory(p, (int)len, &w, &h, &comp))
        return err_set(err, errlen, ERR_FORMAT, "corrupt or truncated %s header (%s)", name,
                       stbi_failure_reason());
    /* stb's own reading of the header is the one its decoder uses. */
    rc = check_pixels(w, h, name, err, errlen);
    if (rc) return rc;
    int w2 = 0, h2 = 0;
    uint8_t *rgb = stbi_load_from_memory(p, (int)len, &w2, &h2, &comp, 3);
    if (!rgb) {
        const char *why = stbi_failure_reason();
        if (why && !strcmp(why, "outofmem"))
            return err_set(err, errlen, ERR_NOMEM, "out of memory decoding a %dx%d %s", w, h,
                           name);
        return err_set(err, errlen, ERR_FORMAT, "corrupt or truncated %s (%s)", name,
                       why ? why : "unknown reason");
    }
    if (w2 != w || h2 != h) {
        /* The header and the decoder disagree: never trust either size. */
        bigmem_free(rgb);
        return err_set(err, errlen, ERR_FORMAT, "corrupt %s: header says %dx%d, data %dx%d",
                       name, w, h, w2, h2);
    }
    out->width = w;
    out->height = h;
    out->rgb = rgb; /* stb allocates with bigmem (see image_stb.c) */
    return 0;
}

static const char *webp_status_str(VP8StatusCode st)
{
    switch (st) {
    case VP8_STATUS_OUT_OF_MEMORY: return "out of memory";
    case VP8_STATUS_INVALID_PARAM: return "invalid parameter";
    case VP8_STATUS_BITSTREAM_ERROR: return "bitstream error";
    case VP8_STATUS_UNSUPPORTED_FEATURE: return "unsupported feature";
    case VP8_STATUS_SUSPENDED: return "suspended";
    case VP8_STATUS_USER_ABORT: return "aborted";
    case VP8_STATUS_NOT_ENOUGH_DATA: return "truncated";
    default: return "error";
    }
}

/* webp_decode_rgb decodes one still WebP bitstream of w x h into dst (rows
 * of stride bytes) with libwebp's default options (fancy upsampling), which
 * is what Pillow does. MODE_RGB drops alpha without compositing, like
 * PIL's convert("RGB") on the RGBA it gets. */
static VP8StatusCode webp_decode_rgb(const uint8_t *p, size_t len, uint8_t *dst, size_t stride,
                                     int h)
{
    WebPDecoderConfig cfg;
    if (!WebPInitDecoderConfig(&cfg)) return VP8_STATUS_INVALID_PARAM;
    cfg.output.colorspace = MODE_RGB;
    cfg.output.is_external_memory = 1;
    cfg.output.u.RGBA.rgba = dst;
    cfg.output.u.RGBA.stride = (int)stride;
    cfg.output.u.RGBA.size = stride * (size_t)h;
    VP8StatusCode st = WebPDecode(p, len, &cfg);
    WebPFreeDecBuffer(&cfg.output); /* releases nothing of ours: memory is external */
    return st;
}

static int webp_fail(VP8StatusCode st, char *err, size_t errlen)
{
    if (st == VP8_STATUS_OUT_OF_MEMORY)
        return err_set(err, errlen, ERR_NOMEM, "out of memory decoding a WebP");
    return err_set(err, errlen, ERR_FORMAT, "corrupt or truncated WebP (%s)",
                   webp_status_str(st));
}

static uint32_t rd_le24(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16;
}

/* A RIFF chunk: its four-character code and payload inside the buffer. */
typedef struct {
    const uint8_t *fourcc;
    const uint8_t *data;
    size_t size;
} WebpChunk;

/* webp_next_chunk reads the chunk at *pos in p[0..end) and advances *pos
 * past it and its pad byte. Returns 0, or ERR_FORMAT when it does not fit. */
static int webp_next_chunk(const uint8_t *p, size_t end, size_t *pos, WebpChunk *c)
{
    if (*pos + 8 > end) return ERR_FORMAT;
    size_t size = rd_le32(p + *pos + 4);
    if (size > end - *pos - 8) return ERR_FORMAT;
    c->fourcc = p + *pos;
    c->data = p + *pos + 8;
    c->size = size;
    *pos += 8 + size + (size & 1);
    return 0;
}

static void put_chunk(uint8_t **o, const char *fourcc, const uint8_t *data, size_t size)
{
    memcpy(*o, fourcc, 4);
    for (int i = 0; i < 4; i++) (*o)[4 + i] = (uint8_t)(size >> (8 * i));
    memcpy(*o + 8, data, size);
    *o += 8 + size + (size & 1); /* the pad byte stays zero (calloc) */
}

/*
 * decode_webp_anim returns the first frame of an animated WebP, as Pillow
 * does through WebPAnimDecoder: the first frame is always a key frame,
 * decoded onto a canvas of zeros (transparent black) at its offset, with
 * no blending. libwebp's simple decoder refuses animations and its demux
 * library is not linked, so the frame's chunks (ALPH, then VP8 or VP8L) are
 * rewrapped here as a still WebP and decoded as one.
 */
static int decode_webp_anim(const uint8_t *p, size_t len, int cw, int ch, Image *out,
                            char *err, size_t errlen)
{
    size_t end = 12 + (size_t)rd_le32(p + 4) - 4; /* RIFF size counts "WEBP" */
    if (end > len || end < 12) end = len;
    size_t pos = 12;
    WebpChunk c = { 0 }, alph = { 0 }, img = { 0 };
    const uint8_t *anmf = NULL;
    while (!anmf) {
        if (webp_next_chunk(p, end, &pos, &c))
            return err_set(err, errlen, ERR_FORMAT, "corrupt or truncated animated WebP");
        if (!memcmp(c.fourcc, "ANMF", 4)) anmf = c.data;
    }
    if (c.size < 16) return err_set(err, errlen, ERR_FORMAT, "corrupt animated WebP frame");
    const int64_t fx = 2 * (int64_t)rd_le24(anmf), fy = 2 * (int64_t)rd_le24(anmf + 3);
    const int64_t fw = 1 + (int64_t)rd_le24(anmf + 6), fh = 1 + (int64_t)rd_le24(anmf + 9);
    if (fx + fw > cw || fy + fh > ch)
        return err_set(err, errlen, ERR_FORMAT, "corrupt animated WebP: frame outside canvas");
    const size_t frame_end = (size_t)(anmf - p) + c.size;
    size_t fpos = (size_t)(anmf - p) + 16;
    while (!img.fourcc) {
        if (webp_next_chunk(p, frame_end, &fpos, &c))
            return err_set(err, errlen, ERR_FORMAT, "corrupt animated WebP frame");
        if (!memcmp(c.fourcc, "ALPH", 4) && !alph.fourcc) alph = c;
        if (!memcmp(c.fourcc, "VP8 ", 4) || !memcmp(c.fourcc, "VP8L", 4)) img = c;
    }

    /* The still file: RIFF header, VP8X + ALPH when the frame has an alpha
     * plane (VP8 carries none of its own), then the bitstream chunk. */
    size_t total = 12 + 8 + img.size + (img.size & 1);
    if (alph.fourcc) total += 18 + 8 + alph.size + (alph.size & 1);
    uint8_t *still = calloc(1, total), *o = still;
    uint8_t *frame = bigmem_alloc((size_t)(fw * fh * 3));
    /* The canvas starts black (zero) where the frame does not cover it. */
    uint8_t *canvas = bigmem_zalloc((size_t)cw * (size_t)ch * 3);
    if (!still || !frame || !canvas) {
        free(still);
        bigmem_free(frame);
        bigmem_free(canvas);
        return err_set(err, errlen, ERR_NOMEM, "out of memory decoding a WebP");
    }
    memcpy(o, "RIFF", 4);
    for (int i = 0; i < 4; i++) o[4 + i] = (uint8_t)((total - 8) >> (8 * i));
    memcpy(o + 8, "WEBP", 4);
    o += 12;
    if (alph.fourcc) {
        uint8_t vp8x[10] = { 0x10 /* alpha */, 0, 0, 0 };
        for (int i = 0; i < 3; i++) {
            vp8x[4 + i] = (uint8_t)((fw - 1) >> (8 * i));
            vp8x[7 + i] = (uint8_t)((fh - 1) >> (8 * i));
        }
        put_chunk(&o, "VP8X", vp8x, sizeof vp8x);
        put_chunk(&o, "ALPH", alph.data, alph.size);
    }
    put_chunk(&o, img.fourcc[3] == 'L' ? "VP8L" : "VP8 ", img.data, img.size);

    int rc = 0;
    WebPBitstreamFeatures feat;
    VP8StatusCode st = WebPGetFeatures(still, total, &feat);
    if (st != VP8_STATUS_OK) {
        rc = webp_fail(st, err, errlen);
    } else if (feat.width != fw || feat.height != fh) {
        rc = err_set(err, errlen, ERR_FORMAT,
                     "corrupt animated WebP: frame header and bitstream sizes differ");
    } else if ((st = webp_decode_rgb(still, total, frame, (size_t)fw * 3, (int)fh))) {
        rc = webp_fail(st, err, errlen);
    } else {
        for (int64_t y = 0; y < fh; y++)
            memcpy(canvas + ((size_t)(fy + y) * (size_t)cw + (size_t)fx) * 3,
                   frame + (size_t)(y * fw * 3), (size_t)fw * 3);
        out->width = cw;
        out->height = ch;
        out->rgb = canvas;
        canvas = NULL;
    }
    bigmem_free(canvas);
    bigmem_free(frame);
    free(still);
    return rc;
}

/* decode_webp decodes a WebP, lossy or lossless, still or the first frame
 * of an animation. */
static int decode_webp(const uint8_t *p, size_t len, Image *out, char *err, size_t errlen)
{
    WebPBitstreamFeatures feat;
    VP8StatusCode st = WebPGetFeatures(p, len, &feat);
    if (st != VP8_STATUS_OK)
        return err_set(err, errlen, ERR_FORMAT, "corrupt or truncated WebP header (%s)",
                       webp_status_str(st));
    int rc = check_pixels(feat.width, feat.height, "WebP", err, errlen);
    if (rc) return rc;
    if (feat.has_animation)
        return decode_webp_anim(p, len, feat.width, feat.height, out, err, errlen);
    size_t stride = (size_t)feat.width * 3;
    uint8_t *rgb = bigmem_alloc(stride * (size_t)feat.height);
    if (!rgb)
        return err_set(err, errlen, ERR_NOMEM, "out of memory decoding a %dx%d WebP",
                       feat.width, feat.height);
    st = webp_decode_rgb(p, len, rgb, stride, feat.height);
    if (st != VP8_STATUS_OK) {
        bigmem_free(rgb);
        return webp_fail(st, err, errlen);
    }
    out->width = feat.width;
    out->height = feat.height;
    out->rgb = rgb;
    return 0;
}

int image_decode(const void *bytes, size_t len, Image *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (err && errlen) err[0] = '\0';
    if (!bytes || len == 0) return err_set(err, errlen, ERR_FORMAT, "empty image data");
    if (len > IMAGE_MAX_BYTES)
        return err_set(err, errlen, ERR_TOOLARGE, "image data is %zu bytes, more than %zu",
                       len, IMAGE_MAX_BYTES);
    const uint8_t *p = bytes;
    ImageFormat f = format_sniff(p, len);
    switch (f) {
    case IMAGE_FMT_WEBP: return decode_webp(p, len, out, err, errlen);
    case IMAGE_FMT_UNKNOWN:
        return err_set(err, errlen, ERR_FORMAT,
                       "unsupported image format (expected JPEG, PNG, GIF, BMP or WebP)");
    default: return decode_stb(p, len, f, out, err, errlen);
    }
}

int image_info(const void *bytes, size_t len, ImageInfo *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (err && errlen) err[0] = '\0';
    if (!bytes || len == 0) return err_set(err, errlen, ERR_FORMAT, "empty image data");
    const uint8_t *p = bytes;
    ImageFormat f = format_sniff(p, len);
    if (f == IMAGE_FMT_UNKNOWN)
        return err_set(err, errlen, ERR_FORMAT,
                       "unsupported image format (expected JPEG, PNG, GIF, BMP or WebP)");
    out->format = format_name(f);
    if (f == IMAGE_FMT_WEBP) {
        WebPBitstreamFeatures feat;
        VP8StatusCode st = WebPGetFeatures(p, len, &feat);
        if (st != VP8_STATUS_OK)
            return err_set(err, errlen, ERR_FORMAT, "corrupt or truncated WebP header (%s)",
                           webp_status_str(st));
        out->width = feat.width;
        out->height = feat.height;
        return 0;
    }
    if (header_dims(p, len, f, &out->width, &out->height))
        return err_set(err, errlen, ERR_FORMAT, "corrupt or truncated %s header", out->format);
    return 0;
}

int image_load_file(const char *path, Image *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    char *data = NULL;
    size_t len = 0;
    int rc = file_read_all(path, IMAGE_MAX_BYTES, &data, &len);
    if (rc == ERR_NOTFOUND) return err_set(err, errlen, rc, "%s: no such file", path);
    if (rc == ERR_TOOLARGE)
        return err_set(err, errlen, rc, "%s: file larger than %zu bytes", path, IMAGE_MAX_BYTES);
    if (rc) return err_set(err, errlen, rc, "%s: cannot read (%s)", path, err_str(rc));
    char why[256];
    rc = image_decode(data, len, out, why, sizeof why);
    free(data);
    if (rc) return err_set(err, errlen, rc, "%s: %s", path, why);
    return 0;
}

void image_free(Image *img)
{
    if (!img) return;
    bigmem_free(img->rgb);
    memset(img, 0, sizeof *img);
}

/* ---- Pillow-exact bicubic resampling ---- */

/* Resampling coefficients for one axis, for output samples
 * [first, first + count) of a full in_size -> out_size resize. */
typedef struct {
    /* Taps reserved per output sample: the filter's size, rounded up to
     * whole chunks of HPASS_CHUNK for the AVX2 horizontal pass (the
     * weights beyond a sample's taps are zero). */
    int ksize;
    int *bounds; /* (count, 2): first input sample, number of taps used */
    int32_t *k;  /* (count, ksize): weights in 22-bit fixed point */
} ResampleAxis;

/* Pixels the AVX2 horizontal pass reads per step: 8 pixels are 24 bytes,
 * three vectors of eight 32-bit lanes in which byte b always holds
 * channel b % 3. */
#define HPASS_CHUNK 8

/* Whether the resampler may use its AVX2 pass: -1 not decided yet. */
static atomic_int hpass_simd = -1;

void image_set_simd(int on)
{
    atomic_store(&hpass_simd, on && cpu_has(CPU_AVX2));
}

static int hpass_simd_on(void)
{
    int v = atomic_load(&hpass_simd);
    if (v < 0) {
        v = cpu_has(CPU_AVX2);
        atomic_store(&hpass_simd, v);
    }
    return v;
}

/* Pillow's bicubic_filter, written as it is so the doubles round alike. */
static double bicubic_filter(double x)
{
    const double a = IMAGE_BICUBIC_A;
    if (x < 0.0) x = -x;
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
    return 0.0;
}

static void axis_free(ResampleAxis *ax)
{
    free(ax->bounds);
    free(ax->k);
    memset(ax, 0, sizeof *ax);
}

/*
 * axis_build is Pillow's precompute_coeffs followed by normalize_coeffs_8bpc
 * (box = the whole input), restricted to a window of output samples.
 * Returns 0 or ERR_NOMEM.
 */
static int axis_build(int in_size, int out_size, int first, int count, int chunked,
                      ResampleAxis *ax)
{
    memset(ax, 0, sizeof *ax);
    double scale = (double)in_size / out_size; /* Pillow: (in1 - in0) / outSize */
    double filterscale = scale < 1.0 ? 1.0 : scale;
    double support = IMAGE_BICUBIC_SUPPORT * filterscale;
    int taps = (int)ceil(support) * 2 + 1;
    int ksize = chunked ? (taps + HPASS_CHUNK - 1) / HPASS_CHUNK * HPASS_CHUNK : taps;
    ax->ksize = ksize;
    ax->bounds = malloc((size_t)count * 2 * sizeof *ax->bounds);
    ax->k = calloc((size_t)count * (size_t)ksize, sizeof *ax->k);
    double *w = malloc((size_t)ksize * sizeof *w);
    if (!ax->bounds || !ax->k || !w) {
        free(w);
        axis_free(ax);
        return ERR_NOMEM;
    }
    double ss = 1.0 / filterscale;
    for (int i = 0; i < count; i++) {
        int xx = first + i;
        double center = (xx + 0.5) * scale;
        /* (int) truncates toward zero, as in Pillow; then clamp. */
        int xmin = (int)(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        int xmax = (int)(center + support + 0.5);
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        double ww = 0.0;
        for (int x = 0; x < xmax; x++) {
            w[x] = bicubic_filter((x + xmin - center + 0.5) * ss);
            ww += w[x];
        }
        int32_t *k = ax->k + (size_t)i * ksize;
        for (int x = 0; x < xmax; x++) {
            double v = ww != 0.0 ? w[x] / ww : w[x];
            /* Round half away from zero into fixed point (normalize_coeffs_8bpc). */
            k[x] = v < 0 ? (int32_t)(-0.5 + v * (1 << IMAGE_PRECISION_BITS))
                         : (int32_t)(0.5 + v * (1 << IMAGE_PRECISION_BITS));
        }
        ax->bounds[2 * i] = xmin;
        ax->bounds[2 * i + 1] = xmax;
    }
    free(w);
    return 0;
}

/* clip8 turns an accumulator into a sample: shift out the fixed point
 * (arithmetic shift, as Pillow's lookup index) and clamp to 0..255. */
static inline uint8_t clip8(int32_t ss)
{
    int32_t v = ss >> IMAGE_PRECISION_BITS;
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* hpass_row is the horizontal pass over one row: cw output pixels from
 * src, Pillow's loop as it is. */
static void hpass_row(const uint8_t *src, const ResampleAxis *ax, int cw, uint8_t *o)
{
    const int32_t rounding = 1 << (IMAGE_PRECISION_BITS - 1);
    for (int i = 0; i < cw; i++) {
        const int xmin = ax->bounds[2 * i], n = ax->bounds[2 * i + 1];
        const int32_t *k = ax->k + (size_t)i * ax->ksize;
        const uint8_t *s = src + (size_t)xmin * 3;
        int32_t s0 = rounding, s1 = rounding, s2 = rounding;
        for (int x = 0; x < n; x++) {
            s0 += s[3 * x + 0] * k[x];
            s1 += s[3 * x + 1] * k[x];
            s2 += s[3 * x + 2] * k[x];
        }
        o[3 * i + 0] = clip8(s0);
        o[3 * i + 1] = clip8(s1);
        o[3 * i + 2] = clip8(s2);
    }
}

#if defined(__x86_64__)
/*
 * hpass_row_avx2 is hpass_row eight pixels a step: the 24 bytes widened
 * to 32 bits in three vectors and multiplied by the eight weights spread
 * to match (byte b of the chunk is pixel b / 3: three fixed permutations
 * of one load; a table of the spread weights was 3x the weights' memory,
 * hundreds of MB for a 40-megapixel strip shrunk to a thumbnail). The sums are
 * the same integers in another order, and integer addition does not
 * round, so every output byte equals Pillow's (test_image compares the
 * two passes on random images). Downscaling a photo is most of the
 * resampler's time (4000 x 3000 to 224: 55 taps for each of 224 x 3000
 * samples per channel), and its interleaved RGB defeats the compiler's
 * vectoriser.
 */
__attribute__((target("avx2"))) static void hpass_row_avx2(const uint8_t *src,
                                                          const ResampleAxis *ax, int cw,
                                                          uint8_t *o)
{
    const int32_t rounding = 1 << (IMAGE_PRECISION_BITS - 1);
    /* Lane j of vector r holds byte 8 r + j of the chunk: pixel (8 r + j) / 3. */
    const __m256i spread0 = _mm256_setr_epi32(0, 0, 0, 1, 1, 1, 2, 2);
    const __m256i spread1 = _mm256_setr_epi32(2, 3, 3, 3, 4, 4, 4, 5);
    const __m256i spread2 = _mm256_setr_epi32(5, 5, 6, 6, 6, 7, 7, 7);
    for (int i = 0; i < cw; i++) {
        const int xmin = ax->bounds[2 * i], n = ax->bounds[2 * i + 1];
        const int32_t *kk = ax->k + (size_t)i * ax->ksize;
        const uint8_t *s = src + (size_t)xmin * 3;
        __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0;
        int x = 0;
        /* The k row holds whole chunks (axis_build), so a load of eight
         * weights never leaves it; those past n are zero. */
#define HPASS_STEP(p, w)                                                                     \
    do {                                                                                     \
        const __m256i w8 = _mm256_loadu_si256((const __m256i *)(w));                         \
        a0 = _mm256_add_epi32(                                                               \
            a0, _mm256_mullo_epi32(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(p))), \
                                   _mm256_permutevar8x32_epi32(w8, spread0)));               \
        a1 = _mm256_add_epi32(                                                               \
            a1, _mm256_mullo_epi32(                                                          \
                    _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)((p) + 8))),       \
                    _mm256_permutevar8x32_epi32(w8, spread1)));                              \
        a2 = _mm256_add_epi32(                                                               \
            a2, _mm256_mullo_epi32(                                                          \
                    _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)((p) + 16))),      \
                    _mm256_permutevar8x32_epi32(w8, spread2)));                              \
    } while (0)
        for (; x + HPASS_CHUNK <= n; x += HPASS_CHUNK, s += 3 * HPASS_CHUNK, kk += HPASS_CHUNK)
            HPASS_STEP(s, kk);
        if (x < n) {
            /* The last pixels are copied out: reading a whole chunk in
             * place could run past the end of the image. Their weights
             * beyond n are zero. */
            uint8_t tail[3 * HPASS_CHUNK] = { 0 };
            memcpy(tail, s, (size_t)(n - x) * 3);
            HPASS_STEP(tail, kk);
        }
#undef HPASS_STEP
        int32_t v[3 * HPASS_CHUNK];
        _mm256_storeu_si256((__m256i *)v, a0);
        _mm256_storeu_si256((__m256i *)(v + 8), a1);
        _mm256_storeu_si256((__m256i *)(v + 16), a2);
        int32_t s0 = rounding, s1 = rounding, s2 = rounding;
        for (int b = 0; b < 3 * HPASS_CHUNK; b += 3) {
            s0 += v[b];
            s1 += v[b + 1];
            s2 += v[b + 2];
        }
        o[3 * i + 0] = clip8(s0);
        o[3 * i + 1] = clip8(s1);
        o[3 * i + 2] = clip8(s2);
    }
}
#endif

/*
 * resample_window writes the window [x0, x0 + cw) x [y0, y0 + ch) of the
 * full in -> out_w x out_h bicubic resize into dst (ch, cw, 3). Returns 0
 * or ERR_NOMEM.
 */
static int resample_window(const Image *in, int out_w, int out_h, int x0, int y0, int cw,
                           int ch, uint8_t *dst)
{
    const int need_h = out_w != in->width, need_v = out_h != in->height;
    const int rounding = 1 << (IMAGE_PRECISION_BITS - 1);
    ResampleAxis ax = { 0 }, ay = { 0 };
    uint8_t *mid_buf = NULL;
    int32_t *acc = NULL;
    int rc = ERR_NOMEM;

    const int simd = hpass_simd_on();
    if (need_h && axis_build(in->width, out_w, x0, cw, simd, &ax)) goto done;
    if (need_v && axis_build(in->height, out_h, y0, ch, 0, &ay)) goto done;

    /* Source rows the vertical pass reads: only those get a horizontal pass
     * (Pillow does the same with ybox_first / ybox_last). */
    int r0 = y0, r1 = y0 + ch;
    if (need_v) {
        r0 = INT_MAX;
        r1 = 0;
        for (int i = 0; i < ch; i++) {
            r0 = MIN(r0, ay.bounds[2 * i]);
            r1 = MAX(r1, ay.bounds[2 * i] + ay.bounds[2 * i + 1]);
        }
        if (r1 <= r0) r0 = r1 = 0; /* cannot happen for in->height >= 1 */
    }

    /* mid: the image between the passes, rows [r0, r1) x columns of the
     * window, 8-bit. Without a horizontal pass it is the input itself. */
    const uint8_t *mid;
    size_t mid_stride;
    int mid_row0;
    if (need_h) {
        mid_buf = bigmem_alloc((size_t)(r1 - r0) * (size_t)cw * 3);
        if (!mid_buf) goto done;
        const size_t in_stride = (size_t)in->width * 3;
        for (int y = r0; y < r1; y++) {
            const uint8_t *src = in->rgb + (size_t)y * in_stride;
            uint8_t *o = mid_buf + (size_t)(y - r0) * cw * 3;
#if defined(__x86_64__)
            if (simd) {
                hpass_row_avx2(src, &ax, cw, o);
                continue;
            }
#endif
            hpass_row(src, &ax, cw, o);
        }
        mid = mid_buf;
        mid_stride = (size_t)cw * 3;
        mid_row0 = r0;
    } else {
        mid = in->rgb + (size_t)x0 * 3;
        mid_stride = (size_t)in->width * 3;
        mid_row0 = 0;
    }

    const size_t row_len = (size_t)cw * 3;
    if (need_v) {
        acc = malloc(row_len * sizeof *acc);
        if (!acc) goto done;
        for (int i = 0; i < ch; i++) {
            const int ymin = ay.bounds[2 * i], n = ay.bounds[2 * i + 1];
            const int32_t *k = ay.k + (size_t)i * ay.ksize;
            for (size_t j = 0; j < row_len; j++) acc[j] = rounding;
            for (int y = 0; y < n; y++) {
                const uint8_t *row = mid + (size_t)(ymin + y - mid_row0) * mid_stride;
                const int32_t kv = k[y];
                for (size_t j = 0; j < row_len; j++) acc[j] += row[j] * kv;
            }
            uint8_t *o = dst + (size_t)i * row_len;
            for (size_t j = 0; j < row_len; j++) o[j] = clip8(acc[j]);
        }
    } else {
        for (int i = 0; i < ch; i++)
            memcpy(dst + (size_t)i * row_len,
                   mid + (size_t)(y0 + i - mid_row0) * mid_stride, row_len);
    }
    rc = 0;
done:
    free(acc);
    bigmem_free(mid_buf);
    axis_free(&ay);
    axis_free(&ax);
    return rc;
}

int image_resize_bicubic(const Image *in, int out_w, int out_h, Image *out)
{
    memset(out, 0, sizeof *out);
    if (!in || !in->rgb || in->width <= 0 || in->height <= 0) return ERR_INVAL;
    if (out_w <= 0 || out_h <= 0 || out_w > IMAGE_MAX_SIDE || out_h > IMAGE_MAX_SIDE)
        return ERR_INVAL;
    if ((int64_t)out_w * out_h > IMAGE_MAX_PIXELS) return ERR_TOOLARGE;
    uint8_t *rgb = bigmem_alloc((size_t)out_w * (size_t)out_h * 3);
    if (!rgb) return ERR_NOMEM;
    int rc = resample_window(in, out_w, out_h, 0, 0, out_w, out_h, rgb);
    if (rc) {
        bigmem_free(rgb);
        return rc;
    }
    out->width = out_w;
    out->height = out_h;
    out->rgb = rgb;
    return 0;
}

/* ---- CLIP preprocessing ---- */

void image_preprocess_default(ImagePreprocess *pp)
{
    *pp = IMAGE_PREPROCESS_CLIP_DEFAULT;
}

int image_preprocess(const Image *in, const ImagePreprocess *pp, float *out_chw,
                     int *resized_w, int *resized_h)
{
    if (!in || !in->rgb || in->width <= 0 || in->height <= 0 || !pp || !out_chw)
        return ERR_INVAL;
    const int size = pp->size;
    if (size < IMAGE_MIN_INPUT_SIZE || size > IMAGE_MAX_INPUT_SIZE) return ERR_INVAL;
    for (int c = 0; c < 3; c++)
        if (!(pp->std[c] > 0.0f) || !isfinite(pp->mean[c])) return ERR_INVAL;

    /* transformers' get_resize_output_image_size(default_to_square=False):
     * new_short = size, new_long = int(size * long / short), where the
     * division is Python's true division of two integers (one correctly
     * rounded double, as here) truncated toward zero. */
    const int w = in->width, h = in->height;
    const int64_t short_side = MIN(w, h), long_side = MAX(w, h);
    const double long_d = (double)((int64_t)size * long_side) / (double)short_side;
    if (long_d > IMAGE_MAX_RESIZED_SIDE) return ERR_INVAL;
    const int new_long = (int)long_d;
    const int rw = w <= h ? size : new_long;
    const int rh = w <= h ? new_long : size;
    if (resized_w) *resized_w = rw;
    if (resized_h) *resized_h = rh;

    /* center_crop: floor division, as Python's // on non-negative ints. */
    const int top = (rh - size) / 2, left = (rw - size) / 2;
    uint8_t *crop = malloc((size_t)size * size * 3);
    if (!crop) return ERR_NOMEM;
    int rc = resample_window(in, rw, rh, left, top, size, size, crop);
    if (rc) {
        free(crop);
        return rc;
    }

    /* rescale then normalize, as float32 the way numpy computes it:
     * (float32(v * (1/255)) - mean) / std. A table per channel turns the
     * 8-bit sample into its final value. */
    float lut[3][256];
    for (int c = 0; c < 3; c++)
        for (int v = 0; v < 256; v++) {
            float x = (float)(v * (1.0 / 255.0));
            lut[c][v] = (x - pp->mean[c]) / pp->std[c];
        }
    const size_t plane = (size_t)size * size;
    for (size_t i = 0; i < plane; i++) {
        out_chw[i] = lut[0][crop[3 * i + 0]];
        out_chw[plane + i] = lut[1][crop[3 * i + 1]];
        out_chw[2 * plane + i] = lut[2][crop[3 * i + 2]];
    }
    free(crop);
    return 0;
}

/* config_side reads a size that is either a number or an object holding
 * key (or height == width). Returns the side, 0 when absent, -1 when the
 * shape is one this module cannot honour. */
static int64_t config_side(const JsonValue *v, const char *key)
{
    int64_t n = 0;
    if (!v) return 0;
    if (v->type == JSON_NUMBER) return json_as_int64(v, &n) == 0 ? n : -1;
    if (v->type != JSON_OBJECT) return -1;
    const JsonValue *e = json_get(v, key);
    if (e) return json_as_int64(e, &n) == 0 ? n : -1;
    int64_t hh = 0, ww = 0;
    if (json_as_int64(json_get(v, "height"), &hh) || json_as_int64(json_get(v, "width"), &ww))
        return -1;
    return hh == ww ? hh : -1;
}

/* config_flag reads an optional boolean; absent means the transformers
 * default, which is true for every step CLIP uses. */
static int config_flag(const JsonValue *root, const char *key, int *out)
{
    const JsonValue *v = json_get(root, key);
    *out = 1;
    if (!v) return 0;
    return json_as_bool(v, out);
}

int image_preprocess_config_load(const char *path, ImagePreprocess *out, char *err,
                                 size_t errlen)
{
    image_preprocess_default(out);
    char *text = NULL;
    size_t len = 0;
    int rc = file_read_all(path, IMAGE_MAX_CONFIG_BYTES, &text, &len);
    if (rc == ERR_NOTFOUND) return err_set(err, errlen, rc, "%s: no such file", path);
    if (rc) return err_set(err, errlen, rc, "%s: cannot read (%s)", path, err_str(rc));

    Arena arena;
    arena_init(&arena, ARENA_DEFAULT_CHUNK);
    JsonValue *root = NULL;
    char jerr[160];
    ImagePreprocess pp = IMAGE_PREPROCESS_CLIP_DEFAULT;
    rc = json_parse(&arena, text, len, &root, jerr, sizeof jerr);
    if (rc) {
        rc = err_set(err, errlen, ERR_INVAL, "%s: %s", path, jerr);
        goto done;
    }
    if (root->type != JSON_OBJECT) {
        rc = err_set(err, errlen, ERR_INVAL, "%s: not a JSON object", path);
        goto done;
    }

    /* Steps that would change the numbers and that this module does not do. */
    static const char *const steps[] = { "do_resize", "do_center_crop", "do_rescale" };
    for (size_t i = 0; i < ARRAY_LEN(steps); i++) {
        int on = 1;
        if (config_flag(root, steps[i], &on)) {
            rc = err_set(err, errlen, ERR_INVAL, "%s: %s must be a boolean", path, steps[i]);
            goto done;
        }
        if (!on) {
            rc = err_set(err, errlen, ERR_UNSUPPORTED, "%s: %s=false is not supported", path,
                         steps[i]);
            goto done;
        }
    }
    const JsonValue *resample = json_get(root, "resample");
    int64_t filter = 3;
    if (resample && (json_as_int64(resample, &filter) || filter != 3)) {
        rc = err_set(err, errlen, ERR_UNSUPPORTED,
                     "%s: resample must be 3 (bicubic), the only filter implemented", path);
        goto done;
    }
    const JsonValue *rf = json_get(root, "rescale_factor");
    double factor = 1.0 / 255.0;
    if (rf && (json_as_double(rf, &factor) || fabs(factor - 1.0 / 255.0) > 1e-12)) {
        rc = err_set(err, errlen, ERR_UNSUPPORTED, "%s: rescale_factor must be 1/255", path);
        goto done;
    }

    int64_t side = config_side(json_get(root, "size"), "shortest_edge");
    int64_t crop = config_side(json_get(root, "crop_size"), "shortest_edge");
    const JsonValue *size_v = json_get(root, "size");
    if (size_v && size_v->type == JSON_OBJECT && !json_get(size_v, "shortest_edge")) {
        /* {"height": h, "width": w} means a fixed-size resize without
         * keeping the aspect ratio: a different pipeline. */
        side = -1;
    }
    if (side < 0 || crop < 0) {
        rc = err_set(err, errlen, ERR_UNSUPPORTED,
                     "%s: size must be {\"shortest_edge\": N} and crop_size N or "
                     "{\"height\": N, \"width\": N}",
                     path);
        goto done;
    }
    if (side == 0) side = crop ? crop : IMAGE_DEFAULT_INPUT_SIZE;
    if (crop == 0) crop = side;
    if (side != crop) {
        rc = err_set(err, errlen, ERR_UNSUPPORTED,
                     "%s: size.shortest_edge %lld differs from crop_size %lld", path,
                     (long long)side, (long long)crop);
        goto done;
    }
    if (side < IMAGE_MIN_INPUT_SIZE || side > IMAGE_MAX_INPUT_SIZE) {
        rc = err_set(err, errlen, ERR_INVAL, "%s: size %lld outside %d..%d", path,
                     (long long)side, IMAGE_MIN_INPUT_SIZE, IMAGE_MAX_INPUT_SIZE);
        goto done;
    }
    pp.size = (int)side;

    int normalize = 1;
    if (config_flag(root, "do_normalize", &normalize)) {
        rc = err_set(err, errlen, ERR_INVAL, "%s: do_normalize must be a boolean", path);
        goto done;
    }
    if (!normalize) {
        /* Only the 1/255 rescale: the same as mean 0, std 1. */
        for (int c = 0; c < 3; c++) {
            pp.mean[c] = 0.0f;
            pp.std[c] = 1.0f;
        }
    } else {
        const JsonValue *mean = json_get(root, "image_mean"), *std = json_get(root, "image_std");
        if ((mean && json_get_floats(mean, pp.mean, 3)) ||
            (std && json_get_floats(std, pp.std, 3))) {
            rc = err_set(err, errlen, ERR_INVAL,
                         "%s: image_mean and image_std must be arrays of 3 numbers", path);
            goto done;
        }
        for (int c = 0; c < 3; c++)
            if (!(pp.std[c] > 0.0f)) {
                rc = err_set(err, errlen, ERR_INVAL, "%s: image_std must be positive", path);
                goto done;
            }
    }
    *out = pp;
    rc = 0;
done:
    arena_free(&arena);
    free(text);
    return rc;
}

/* ---- thumbnails ---- */

static void thumb_write_cb(void *ctx, void *data, int size)
{
    buf_append(ctx, data, (size_t)size);
}

int image_thumbnail_jpeg(const Image *in, int max_side, int quality, Buf *out)
{
    if (!in || !in->rgb || in->width < 1 || in->height < 1) return ERR_INVAL;
    if (max_side < 1 || max_side > IMAGE_THUMB_MAX_SIDE || quality < 1 || quality > 100)
        return ERR_INVAL;
    Image small = { 0 };
    const Image *src = in;
    int w = in->width, h = in->height;
    if (w > max_side || h > max_side) {
        /* Scale the long side to max_side, the short one proportionally,
         * rounded to nearest (Pillow's thumbnail() rounds too). */
        if (w >= h) {
            h = (int)(((int64_t)h * max_side + w / 2) / w);
            w = max_side;
        } else {
            w = (int)(((int64_t)w * max_side + h / 2) / h);
            h = max_side;
        }
        if (w < 1) w = 1;
        if (h < 1) h = 1;
        int rc = image_resize_bicubic(in, w, h, &small);
        if (rc) return rc;
        src = &small;
    }
    size_t before = out->len;
    int ok = stbi_write_jpg_to_func(thumb_write_cb, out, src->width, src->height, 3, src->rgb,
                                    quality);
    image_free(&small);
    if (!ok) {
        out->len = before;
        return ERR_NOMEM;
    }
    return 0;
}
