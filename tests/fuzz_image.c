/*
 * fuzz_image.c - fuzz target for image decoding and preprocessing
 * (src/model/image.c over stb_image and libwebp, which historically break
 * on hostile files).
 *
 * image_info reads the header; image_decode decodes. A decoded image has
 * positive sides within IMAGE_MAX_PIXELS and, when image_info also passed,
 * the size image_info declared (the server trusts image_info's size for
 * its pixel limit before decoding). Small decoded images are then
 * preprocessed for a 32-pixel model input (every value must be finite and
 * within the normalised range of bytes), resized, and thumbnailed (the JPEG
 * must decode again to the thumbnail's size). Any violation calls abort()
 * so the fuzzer records the input.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Decodes larger than this skip the (slow) preprocessing steps. */
#define FUZZ_IMAGE_MAX_WORK_PIXELS (512 * 512)

static void check(int ok, const char *what)
{
    if (ok) return;
    fprintf(stderr, "fuzz_image: %s\n", what);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    ImageInfo info;
    int info_rc = image_info(data, size, &info, err, sizeof err);
    Image img;
    int rc = image_decode(data, size, &img, err, sizeof err);
    if (rc != 0) {
        check(img.rgb == NULL && img.width == 0, "a failed decode left an image");
        check(err[0] != '\0', "a failed decode without a message");
        return 0;
    }
    check(img.width > 0 && img.height > 0 && img.rgb != NULL, "decoded an empty image");
    check((int64_t)img.width * img.height <= IMAGE_MAX_PIXELS, "decoded more than IMAGE_MAX_PIXELS");
    if (info_rc == 0)
        check(info.width == img.width && info.height == img.height, "image_info's size differs from the decode");
    if ((int64_t)img.width * img.height <= FUZZ_IMAGE_MAX_WORK_PIXELS) {
        ImagePreprocess pp;
        image_preprocess_default(&pp);
        pp.size = 32;
        float *chw = malloc(3 * 32 * 32 * sizeof *chw);
        int rw = 0, rh = 0;
        check(image_preprocess(&img, &pp, chw, &rw, &rh) == 0, "preprocessing a decoded image failed");
        check(rw >= 32 && rh >= 32 && (rw == 32 || rh == 32), "resized sides are not the short side 32");
        for (int c = 0; c < 3; c++) {
            float lo = (0 - pp.mean[c]) / pp.std[c] - 1e-3f, hi = (1 - pp.mean[c]) / pp.std[c] + 1e-3f;
            for (int i = 0; i < 32 * 32; i++) {
                float v = chw[c * 32 * 32 + i];
                check(isfinite(v) && v >= lo && v <= hi, "a preprocessed value out of range");
            }
        }
        free(chw);
        Image small;
        check(image_resize_bicubic(&img, 7, 5, &small) == 0 && small.width == 7 && small.height == 5,
              "resize failed");
        image_free(&small);
        Buf jpg;
        buf_init(&jpg);
        check(image_thumbnail_jpeg(&img, 16, 80, &jpg) == 0, "thumbnail failed");
        Image back;
        check(image_decode(jpg.data, jpg.len, &back, err, sizeof err) == 0, "the thumbnail does not decode");
        int side = img.width > img.height ? img.width : img.height;
        int want_long = side < 16 ? side : 16;
        check((back.width > back.height ? back.width : back.height) == want_long, "thumbnail's long side");
        image_free(&back);
        buf_free(&jpg);
    }
    image_free(&img);
    return 0;
}

#define FUZZ_NAME "image"
#include "fuzz_replay.h"
