/*
 * fuzz_model_config.c - fuzz target for the model folder's JSON loaders:
 * config.json (clip_config_load, src/model/clip.c) and
 * preprocessor_config.json (image_preprocess_config_load,
 * src/model/image.c). The first byte picks which; the rest is the file.
 *
 * A config.json that loads must describe a model the towers can run:
 * positive widths, head counts that divide them, image_size a multiple of
 * patch_size, 3 channels, the bounds of clip.h. A preprocessor config
 * that loads must have a size within IMAGE_MIN/MAX_INPUT_SIZE and finite
 * means and positive finite stds. A refused one has a message. Any
 * violation calls abort() so the fuzzer records the input.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_memfile.h"
#include "model/clip.h"
#include "model/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok, const char *what)
{
    if (ok) return;
    fprintf(stderr, "fuzz_model_config: %s\n", what);
    abort();
}

static void check_tower(const ClipTowerConfig *t)
{
    check(t->width > 0 && t->width <= CLIP_MAX_WIDTH, "tower width out of range");
    check(t->layers > 0 && t->heads > 0 && t->mlp > 0, "tower sizes not positive");
    check(t->width % t->heads == 0, "heads do not divide the width");
    check(isfinite(t->eps) && t->eps > 0, "layer_norm_eps not positive");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    char path[64], err[512];
    int fd = memfile_open(data + 1, size - 1, path, sizeof path);
    err[0] = '\0';
    if (data[0] & 1) {
        ImagePreprocess pp;
        if (image_preprocess_config_load(path, &pp, err, sizeof err) == 0) {
            check(pp.size >= IMAGE_MIN_INPUT_SIZE && pp.size <= IMAGE_MAX_INPUT_SIZE, "size out of range");
            for (int c = 0; c < 3; c++)
                check(isfinite(pp.mean[c]) && isfinite(pp.std[c]) && pp.std[c] > 0, "mean or std unusable");
        } else {
            check(err[0] != '\0', "refused without a message");
        }
    } else {
        ClipConfig c;
        if (clip_config_load(path, &c, err, sizeof err) == 0) {
            check_tower(&c.vision);
            check_tower(&c.text);
            check(c.patch_size > 0 && c.image_size > 0 && c.image_size % c.patch_size == 0,
                  "image_size not a multiple of patch_size");
            check(c.channels == 3, "channels != 3");
            check(c.positions >= 2 && c.vocab >= 2 && c.proj_dim >= 1, "text sizes out of range");
        } else {
            check(err[0] != '\0', "refused without a message");
        }
    }
    close(fd);
    return 0;
}

#define FUZZ_NAME "model_config"
#include "fuzz_replay.h"
