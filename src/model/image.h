/*
 * image.h - decode an image file into 8-bit RGB, resize it exactly as
 * Pillow's BICUBIC filter does, and turn it into CLIP's input tensor.
 *
 * Design. Decoding is stb_image (JPEG, PNG, GIF, BMP) and libwebp (WebP);
 * both are visible only in this module. Every decoded image becomes one
 * layout, 8-bit interleaved RGB, because that is what transformers'
 * CLIPImageProcessor sees after PIL's convert("RGB"): 16-bit samples keep
 * their high byte, grey is replicated, palettes are expanded, and an alpha
 * channel is dropped (not composited over a background).
 *
 * The pixel count is checked from the header before any pixel buffer is
 * allocated, so a 100-byte file that declares 60000x60000 costs nothing.
 * Decoders report errors through a caller buffer with a sentence naming the
 * problem (unsupported format, truncated, too large); they never log,
 * because a bad upload is the client's business, not the operator's.
 *
 * The resize reproduces Pillow's ImagingResample bit for bit (see the
 * fixture README): separable, horizontal pass first, 8-bit between passes,
 * 22-bit fixed-point weights. image_preprocess computes only the output
 * rows and columns that survive the center crop, which gives the same
 * numbers as resizing fully and cropping, for less work.
 *
 * Everything here is reentrant: no global state, safe from any thread.
 */
#ifndef VITRINE_IMAGE_H
#define VITRINE_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "base/util.h"

/* Decoded pixels allowed in one image (width * height); more is ERR_TOOLARGE.
 * 40 megapixels hold a full-size photo from any current camera while
 * bounding one decode at 120 MB of RGB. */
#define IMAGE_MAX_PIXELS (40L * 1000 * 1000)
/* Encoded bytes allowed in one image file or upload. */
#define IMAGE_MAX_BYTES ((size_t)32 * 1024 * 1024)
/* Side lengths accepted for a resize target and a preprocessing size. */
#define IMAGE_MAX_SIDE 65535
/* Model input sizes accepted from preprocessor_config.json (B/32 uses 224,
 * L/14-336 uses 336). */
#define IMAGE_MIN_INPUT_SIZE 16
#define IMAGE_DEFAULT_INPUT_SIZE 224
#define IMAGE_MAX_INPUT_SIZE 1024
/* preprocessor_config.json is a few hundred bytes; refuse anything absurd. */
#define IMAGE_MAX_CONFIG_BYTES (1024 * 1024)

/* An 8-bit RGB image. rgb (height, width, 3) is owned by the struct; free it
 * with image_free. It comes from base/bigmem.h's bigmem_alloc (a photo's
 * pixels on huge pages), never from malloc. */
typedef struct {
    int width, height;
    uint8_t *rgb; /* (height, width, 3), row-major, no padding */
} Image;

/*
 * image_decode decodes an encoded image (JPEG baseline or progressive, PNG
 * 1..16-bit incl. palette, grey and alpha, GIF first frame, BMP, WebP lossy
 * or lossless, still or the first frame of an animation) into *out as
 * 8-bit RGB. Returns 0, ERR_FORMAT (unknown format, corrupt or truncated
 * data), ERR_TOOLARGE (more than IMAGE_MAX_BYTES or IMAGE_MAX_PIXELS) or
 * ERR_NOMEM; on failure *out is zeroed and err holds a sentence saying why.
 */
int image_decode(const void *bytes, size_t len, Image *out, char *err, size_t errlen);

/* What an image's header declares, read without decoding any pixels. */
typedef struct {
    const char *format; /* "JPEG", "PNG", "GIF", "BMP", "WebP" (static) */
    int64_t width, height;
} ImageInfo;

/*
 * image_info sniffs the format of an encoded image and reads the size its
 * header declares, without decoding: a server checks its own pixel limit
 * (lower than IMAGE_MAX_PIXELS on a small box) before any decode buffer
 * exists. Returns 0, or ERR_FORMAT (not a format image_decode reads, or a
 * header too short to hold the size) with a sentence in err. A file that
 * passes may still fail image_decode (corrupt or truncated data).
 */
int image_info(const void *bytes, size_t len, ImageInfo *out, char *err, size_t errlen);

/* image_load_file reads path and decodes it; errors as image_decode plus
 * ERR_NOTFOUND and ERR_IO. The message names the path. */
int image_load_file(const char *path, Image *out, char *err, size_t errlen);

/* image_set_simd turns the resampler's AVX2 pass off (0) or back on where
 * the CPU has AVX2 (1); the default is on. For tests, which compare the two
 * passes byte for byte, and benchmarks; call it while no image is being
 * resized. */
void image_set_simd(int on);

/* image_free releases img->rgb and zeroes the struct; safe on a zeroed Image. */
void image_free(Image *img);

/*
 * image_resize_bicubic resizes in to out_w x out_h with Pillow's BICUBIC
 * filter (Image.resize(..., Image.BICUBIC), no reducing_gap), bit for bit.
 * *out receives a new image owned by the caller. Returns 0, ERR_INVAL (empty
 * input, a side out of 1..IMAGE_MAX_SIDE), ERR_TOOLARGE (more than
 * IMAGE_MAX_PIXELS) or ERR_NOMEM.
 */
int image_resize_bicubic(const Image *in, int out_w, int out_h, Image *out);

/* CLIP preprocessing parameters (preprocessor_config.json). */
typedef struct {
    int size;      /* shortest_edge of the resize, also the square crop side */
    float mean[3]; /* image_mean, per RGB channel */
    float std[3];  /* image_std, per RGB channel */
} ImagePreprocess;

/* The values openai/clip-vit-base-patch32 ships (224, OpenAI's mean/std). */
#define IMAGE_PREPROCESS_CLIP_DEFAULT                                \
    ((ImagePreprocess){ IMAGE_DEFAULT_INPUT_SIZE,                    \
                        { 0.48145466f, 0.4578275f, 0.40821073f },    \
                        { 0.26862954f, 0.26130258f, 0.27577711f } })
void image_preprocess_default(ImagePreprocess *pp);

/*
 * image_preprocess does what CLIPImageProcessor does after decoding: resize
 * so the short side is pp->size and the long side int(size * long / short)
 * (Pillow bicubic), center-crop size x size with top = (h - size) / 2 and
 * left = (w - size) / 2 (floor), scale by 1/255 and normalise with mean and
 * std. out_chw (3, size, size) is caller-owned. The resized size before the
 * crop goes to *resized_w / *resized_h when they are not NULL. Returns 0,
 * ERR_INVAL or ERR_NOMEM.
 */
int image_preprocess(const Image *in, const ImagePreprocess *pp, float *out_chw,
                     int *resized_w, int *resized_h);

/*
 * image_preprocess_config_load reads a Hugging Face preprocessor_config.json
 * (size.shortest_edge, crop_size, image_mean, image_std). Steps this module
 * does not implement (another resample filter, no crop, a crop unequal to the
 * resize) give ERR_UNSUPPORTED rather than silently different numbers.
 * Returns 0, ERR_NOTFOUND, ERR_IO, ERR_INVAL, ERR_UNSUPPORTED or
 * ERR_TOOLARGE, with a message naming the path and the key.
 */
int image_preprocess_config_load(const char *path, ImagePreprocess *out, char *err,
                                 size_t errlen);

/* Thumbnails: the long side at most this many pixels (never enlarged),
 * JPEG quality 1..100. 256 px fills a grid cell of a result page on a
 * high-density screen and costs 10-20 KB. */
#define IMAGE_THUMB_DEFAULT_SIDE 256
#define IMAGE_THUMB_MAX_SIDE 2048
#define IMAGE_THUMB_DEFAULT_QUALITY 80

/*
 * image_thumbnail_jpeg encodes a JPEG thumbnail of in (baseline, 4:2:0,
 * stb_image_write) into out (appended): in resized with Pillow's bicubic
 * filter so that its longer side is max_side, keeping the aspect ratio
 * (each side at least 1 pixel), or in unchanged when it is no larger.
 * Returns 0, ERR_INVAL (an empty image, max_side outside
 * 1..IMAGE_THUMB_MAX_SIDE, quality outside 1..100) or ERR_NOMEM.
 */
int image_thumbnail_jpeg(const Image *in, int max_side, int quality, Buf *out);

#endif
