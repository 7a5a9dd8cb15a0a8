/*
 * test_safetensors.c - the safetensors loader and clip_load's validation.
 *
 * The reference for a good file is the fixture model written by the
 * Python safetensors library (its tensor list and offsets are compared
 * with what the header says, read independently here). Corrupted files are
 * made from it in a temporary directory: truncated, impossible header
 * length, broken JSON, a wrong shape, a missing tensor, a wrong dtype,
 * offsets past the end, overlapping tensors. Each must be refused with a
 * message naming the problem (and the tensor), never crash (run under
 * ASan/UBSan) and never load.
 */
#include "model/safetensors.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/clip.h"
#include "base/err.h"
#include "harness.h"
#include "base/util.h"

static char tmpdir[256];

static const char *MODEL_FILES[] = { "config.json", "vocab.json", "merges.txt",
                                     "preprocessor_config.json" };

static int write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(data, 1, len, f);
    return fclose(f) == 0 && w == len ? 0 : -1;
}

static char *read_fixture_file(const char *rel, size_t *len)
{
    char *data = NULL;
    if (file_read_all(fixture_path(rel), (size_t)1 << 27, &data, len) != 0) return NULL;
    return data;
}

/* make_model_dir creates tmpdir/name with the tiny-p32 model's side files
 * and the given model.safetensors bytes; returns the directory. */
static const char *make_model_dir(const char *name, const void *st, size_t st_len)
{
    static char dir[512];
    char path[700];
    snprintf(dir, sizeof dir, "%s/%s", tmpdir, name);
    mkdir(dir, 0700);
    for (size_t i = 0; i < ARRAY_LEN(MODEL_FILES); i++) {
        char rel[128];
        size_t len;
        snprintf(rel, sizeof rel, "models/tiny-p32/%s", MODEL_FILES[i]);
        char *data = read_fixture_file(rel, &len);
        if (!data) return NULL;
        snprintf(path, sizeof path, "%s/%s", dir, MODEL_FILES[i]);
        int rc = write_file(path, data, len);
        free(data);
        if (rc) return NULL;
    }
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if (write_file(path, st, st_len)) return NULL;
    return dir;
}

static char *good;     /* the fixture's model.safetensors */
static size_t good_len;
static uint64_t good_hlen;

/* header_with replaces the first occurrence of from with to in the JSON
 * header and returns a new file (header length updated, data unchanged). */
static char *header_with(const char *from, const char *to, size_t *len)
{
    char *hdr = xstrndup(good + 8, (size_t)good_hlen);
    char *at = strstr(hdr, from);
    if (!at) {
        free(hdr);
        return NULL;
    }
    size_t nh = good_hlen - strlen(from) + strlen(to);
    char *out = xmalloc(8 + nh + (good_len - 8 - good_hlen));
    for (int i = 0; i < 8; i++) out[i] = (char)((uint64_t)nh >> (8 * i));
    size_t pre = (size_t)(at - hdr);
    memcpy(out + 8, hdr, pre);
    memcpy(out + 8 + pre, to, strlen(to));
    memcpy(out + 8 + pre + strlen(to), at + strlen(from), good_hlen - pre - strlen(from));
    memcpy(out + 8 + nh, good + 8 + good_hlen, good_len - 8 - good_hlen);
    free(hdr);
    *len = 8 + nh + (good_len - 8 - good_hlen);
    return out;
}

/* expect_rejected loads a model folder holding st and checks that
 * clip_load fails with rc and a message containing each of the needles. */
static int expect_rejected(const char *name, const void *st, size_t len, int rc_want,
                           const char *needle1, const char *needle2)
{
    const char *dir = make_model_dir(name, st, len);
    if (!dir) {
        printf("  cannot create %s\n", name);
        return 0;
    }
    ClipModel *m = (ClipModel *)1;
    char err[1024] = "";
    int rc = clip_load(dir, &m, err, sizeof err);
    printf("  %-16s rc %d: %s\n", name, rc, err);
    int ok = rc == rc_want && m == NULL && strstr(err, "model.safetensors") &&
             (!needle1 || strstr(err, needle1)) && (!needle2 || strstr(err, needle2));
    if (rc == 0) clip_free(m);
    return ok;
}

TEST(test_open_fixture)
{
    SafeTensors *st = NULL;
    char err[512];
    ASSERT_OK(safetensors_open(fixture_path("models/tiny-p16/model.safetensors"), &st, err,
                               sizeof err));
    /* The fixture's tensor list, written by the Python library: 16 tensors
     * per layer (3 vision + 3 text), 14 others, 2 position_ids buffers. */
    ASSERT_EQ_INT(safetensors_count(st), 16 * 6 + 14 + 2);
    const SafeTensor *t = safetensors_find(st, "text_model.embeddings.token_embedding.weight");
    ASSERT_TRUE(t != NULL);
    ASSERT_EQ_INT(t->dtype, ST_DTYPE_F16);
    ASSERT_EQ_INT(t->ndim, 2);
    ASSERT_EQ_INT(t->shape[0], 49408);
    ASSERT_EQ_INT(t->shape[1], 96);
    ASSERT_EQ_U64(t->nbytes, 49408u * 96 * 2);
    t = safetensors_find(st, "vision_model.embeddings.position_ids");
    ASSERT_TRUE(t != NULL);
    ASSERT_EQ_INT(t->dtype, ST_DTYPE_I64);
    /* position_ids holds 0..196: check the stored values independently. */
    int64_t last;
    memcpy(&last, (const char *)t->data + 196 * 8, 8);
    ASSERT_EQ_INT(last, 196);
    t = safetensors_find(st, "logit_scale");
    ASSERT_TRUE(t != NULL);
    ASSERT_EQ_INT(t->ndim, 0);
    ASSERT_EQ_INT(t->numel, 1);
    ASSERT_TRUE(safetensors_find(st, "no.such.tensor") == NULL);
    safetensors_close(st);
}

TEST(test_half_conversions)
{
    /* Known IEEE binary16 / bfloat16 encodings. */
    ASSERT_TRUE(safetensors_f16_to_f32(0x3c00) == 1.0f);
    ASSERT_TRUE(safetensors_f16_to_f32(0xc000) == -2.0f);
    ASSERT_TRUE(safetensors_f16_to_f32(0x3555) == 0.333251953125f);
    ASSERT_TRUE(safetensors_f16_to_f32(0x7bff) == 65504.0f);
    ASSERT_TRUE(safetensors_f16_to_f32(0x0001) == 5.9604644775390625e-8f); /* subnormal */
    ASSERT_TRUE(safetensors_f16_to_f32(0x03ff) == 6.097555160522461e-5f);  /* largest subnormal */
    ASSERT_TRUE(safetensors_f16_to_f32(0x8000) == 0.0f);
    ASSERT_TRUE(isinf(safetensors_f16_to_f32(0x7c00)));
    ASSERT_TRUE(isnan(safetensors_f16_to_f32(0x7e00)));
    ASSERT_TRUE(safetensors_bf16_to_f32(0x3f80) == 1.0f);
    ASSERT_TRUE(safetensors_bf16_to_f32(0xc0a0) == -5.0f);
}

/* The bulk conversion (F16C when the CPU has it, at any alignment) gives
 * exactly the scalar conversion for all 65536 half values, at every
 * offset into the tensor. */
TEST(test_bulk_conversion)
{
    enum { N = 65536 + 3 };
    unsigned char *raw = malloc(2 * N + 1);
    float *got = malloc(N * sizeof *got);
    for (int misalign = 0; misalign <= 1; misalign++) {
        unsigned char *src = raw + misalign;
        for (int i = 0; i < N; i++) {
            uint16_t h = (uint16_t)i;
            memcpy(src + 2 * i, &h, 2);
        }
        for (int dt = 0; dt < 2; dt++) {
            SafeTensor t = { .name = "t", .dtype = dt ? ST_DTYPE_BF16 : ST_DTYPE_F16, .ndim = 1,
                             .shape = { N }, .numel = N, .data = src, .nbytes = 2 * N };
            for (size_t first = 0; first < 3; first++) {
                safetensors_to_f32(&t, first, N - first, got);
                for (size_t i = 0; i + first < N; i++) {
                    uint16_t h = (uint16_t)(i + first);
                    float want = dt ? safetensors_bf16_to_f32(h) : safetensors_f16_to_f32(h);
                    uint32_t gb, wb;
                    memcpy(&gb, &got[i], 4);
                    memcpy(&wb, &want, 4);
                    /* NaNs may come back quieted; every other value bit for bit. */
                    if (isnan(want) ? !isnan(got[i]) : gb != wb)
                        HARNESS_FAIL("%s 0x%04x: got 0x%08x, want 0x%08x", dt ? "BF16" : "F16",
                                     (unsigned)h, (unsigned)gb, (unsigned)wb);
                }
            }
        }
    }
    free(raw);
    free(got);
}

/*
 * test_release_keeps_neighbours builds a file with an F16 tensor spanning
 * several pages, an F32 tensor sharing its last page (used in place, as
 * clip does) and an F32 tensor at an odd offset, converts and releases
 * the F16 one, and checks that the neighbour still reads its values, the
 * released tensor converts again to the same floats, and the misaligned
 * F32 copies exactly.
 */
TEST(test_release_keeps_neighbours)
{
    enum { NA = 5000, NB = 1500, NC = 7 };
    /* Data: a (F16, 10000 bytes), b (F32, 6000 bytes), 1 byte, c (F32). */
    size_t data_len = 2 * NA + 4 * NB + 1 + 4 * NC;
    char hdr[512];
    int hl = snprintf(hdr, sizeof hdr,
                      "{\"a\":{\"dtype\":\"F16\",\"shape\":[%d],\"data_offsets\":[0,%d]},"
                      "\"b\":{\"dtype\":\"F32\",\"shape\":[%d],\"data_offsets\":[%d,%d]},"
                      "\"pad\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[%d,%d]},"
                      "\"c\":{\"dtype\":\"F32\",\"shape\":[%d],\"data_offsets\":[%d,%d]}}",
                      NA, 2 * NA, NB, 2 * NA, 2 * NA + 4 * NB, 2 * NA + 4 * NB,
                      2 * NA + 4 * NB + 1, NC, 2 * NA + 4 * NB + 1, (int)data_len);
    while (hl % 8) hdr[hl++] = ' ';
    size_t len = 8 + (size_t)hl + data_len;
    unsigned char *file = calloc(1, len);
    for (int i = 0; i < 8; i++) file[i] = (unsigned char)((uint64_t)hl >> (8 * i));
    memcpy(file + 8, hdr, (size_t)hl);
    unsigned char *data = file + 8 + hl;
    for (int i = 0; i < NA; i++) {
        uint16_t h = (uint16_t)(0x3c00 + i % 1000); /* 1.0 and up */
        memcpy(data + 2 * i, &h, 2);
    }
    for (int i = 0; i < NB; i++) {
        float f = (float)i * 0.5f;
        memcpy(data + 2 * NA + 4 * i, &f, 4);
    }
    for (int i = 0; i < NC; i++) {
        float f = -(float)i;
        memcpy(data + 2 * NA + 4 * NB + 1 + 4 * i, &f, 4);
    }
    char path[512];
    snprintf(path, sizeof path, "%s/release.safetensors", tmpdir);
    ASSERT_OK(write_file(path, file, len));
    free(file);
    SafeTensors *st = NULL;
    char err[512];
    ASSERT_OK(safetensors_open(path, &st, err, sizeof err));
    const SafeTensor *a = safetensors_find(st, "a"), *b = safetensors_find(st, "b");
    const SafeTensor *c = safetensors_find(st, "c");
    ASSERT_TRUE(a && b && c);
    float *fa = malloc(NA * sizeof *fa), *fa2 = malloc(NA * sizeof *fa2);
    safetensors_to_f32(a, 0, NA, fa);
    safetensors_release(a);
    const float *fb = b->data; /* F32 in place, 4-byte aligned */
    int bad = 0;
    for (int i = 0; i < NB; i++) bad += fb[i] != (float)i * 0.5f;
    safetensors_to_f32(a, 0, NA, fa2);
    for (int i = 0; i < NA; i++) {
        bad += fa[i] != fa2[i];
        bad += fa[i] != safetensors_f16_to_f32((uint16_t)(0x3c00 + i % 1000));
    }
    float fc[NC];
    safetensors_to_f32(c, 0, NC, fc);
    for (int i = 0; i < NC; i++) bad += fc[i] != -(float)i;
    free(fa);
    free(fa2);
    safetensors_close(st);
    ASSERT_EQ_INT(bad, 0);
}

TEST(test_missing_file)
{
    SafeTensors *st = (SafeTensors *)1;
    char err[512];
    ASSERT_EQ_INT(safetensors_open("/nonexistent/model.safetensors", &st, err, sizeof err),
                  ERR_NOTFOUND);
    ASSERT_TRUE(st == NULL);
    ClipModel *m = (ClipModel *)1;
    ASSERT_EQ_INT(clip_load("/nonexistent-dir", &m, err, sizeof err), ERR_NOTFOUND);
    ASSERT_TRUE(m == NULL && strstr(err, "config.json"));
}

TEST(test_good_copy_loads)
{
    const char *dir = make_model_dir("good", good, good_len);
    ASSERT_TRUE(dir != NULL);
    ClipModel *m = NULL;
    char err[512];
    ASSERT_OK(clip_load(dir, &m, err, sizeof err));
    ASSERT_EQ_INT(clip_embed_dim(m), 64);
    ASSERT_EQ_INT(clip_image_size(m), 224);
    clip_free(m);
}

TEST(test_truncated)
{
    ASSERT_TRUE(expect_rejected("short", good, 5, ERR_FORMAT, "too short", NULL));
    /* Cut in the header: the header length now exceeds the file. */
    ASSERT_TRUE(expect_rejected("cut_header", good, 8 + (size_t)good_hlen / 2, ERR_FORMAT,
                                "header length", NULL));
    /* Cut in the data: the last tensor's offsets lie past the end. */
    ASSERT_TRUE(expect_rejected("cut_data", good, good_len - 1000, ERR_FORMAT, "outside", NULL));
}

TEST(test_bad_header_length)
{
    char *bad = xmalloc(good_len);
    memcpy(bad, good, good_len);
    uint64_t huge = (uint64_t)1 << 40;
    for (int i = 0; i < 8; i++) bad[i] = (char)(huge >> (8 * i));
    int ok = expect_rejected("huge_hlen", bad, good_len, ERR_FORMAT, "header length", NULL);
    /* Shorter than the JSON: the header ends mid-object. */
    uint64_t small = good_hlen - 10;
    for (int i = 0; i < 8; i++) bad[i] = (char)(small >> (8 * i));
    ok = ok && expect_rejected("short_hlen", bad, good_len, ERR_FORMAT, "JSON", NULL);
    free(bad);
    ASSERT_TRUE(ok);
}

TEST(test_bad_json)
{
    char *bad = xmalloc(good_len);
    memcpy(bad, good, good_len);
    bad[8] = '['; /* the header must be an object */
    int ok = expect_rejected("bad_json", bad, good_len, ERR_FORMAT, "JSON", NULL);
    memcpy(bad, good, good_len);
    bad[8 + 20] = '\x01'; /* a control byte inside the JSON */
    ok = ok && expect_rejected("bad_json2", bad, good_len, ERR_FORMAT, "JSON", NULL);
    free(bad);
    ASSERT_TRUE(ok);
}

TEST(test_wrong_shape)
{
    size_t len;
    /* Swap the fc1 weight's shape of layer 0: same byte count, wrong shape. */
    char *bad = header_with("\"vision_model.encoder.layers.0.mlp.fc1.weight\":{\"dtype\":\"F32\","
                            "\"shape\":[512,128]",
                            "\"vision_model.encoder.layers.0.mlp.fc1.weight\":{\"dtype\":\"F32\","
                            "\"shape\":[128,512]",
                            &len);
    ASSERT_TRUE(bad != NULL);
    int ok = expect_rejected("wrong_shape", bad, len, ERR_FORMAT,
                             "vision_model.encoder.layers.0.mlp.fc1.weight", "[128, 512]");
    free(bad);
    /* A shape whose byte count disagrees with data_offsets. */
    bad = header_with("\"shape\":[512,128]", "\"shape\":[512,129]", &len);
    ASSERT_TRUE(bad != NULL);
    ok = ok && expect_rejected("size_mismatch", bad, len, ERR_FORMAT, "fc1.weight", "span");
    free(bad);
    ASSERT_TRUE(ok);
}

TEST(test_missing_tensor)
{
    size_t len;
    char *bad = header_with("\"text_projection.weight\"", "\"text_projectioX.weight\"", &len);
    ASSERT_TRUE(bad != NULL);
    int ok = expect_rejected("missing", bad, len, ERR_FORMAT, "missing tensor",
                             "text_projection.weight");
    free(bad);
    ASSERT_TRUE(ok);
}

TEST(test_wrong_dtype)
{
    size_t len;
    /* I32 has the size of F32, so only the dtype check can catch it. */
    char *bad = header_with("\"visual_projection.weight\":{\"dtype\":\"F32\"",
                            "\"visual_projection.weight\":{\"dtype\":\"I32\"", &len);
    ASSERT_TRUE(bad != NULL);
    int ok = expect_rejected("wrong_dtype", bad, len, ERR_FORMAT, "visual_projection.weight",
                             "I32");
    free(bad);
    bad = header_with("\"visual_projection.weight\":{\"dtype\":\"F32\"",
                      "\"visual_projection.weight\":{\"dtype\":\"Q4\"", &len);
    ASSERT_TRUE(bad != NULL);
    ok = ok && expect_rejected("unknown_dtype", bad, len, ERR_FORMAT, "unknown dtype", "Q4");
    free(bad);
    ASSERT_TRUE(ok);
}

TEST(test_overlap_and_offsets)
{
    /* In the fixture, logit_scale is [0, 4) and the text position
     * embedding follows at [4, 19716); moving the latter back 4 bytes
     * keeps its size but overlaps the former. */
    size_t len;
    char *bad = header_with("\"data_offsets\":[4,19716]", "\"data_offsets\":[0,19712]", &len);
    ASSERT_TRUE(bad != NULL);
    int ok = expect_rejected("overlap", bad, len, ERR_FORMAT, "overlaps",
                             "text_model.embeddings.position_embedding.weight");
    free(bad);
    bad = header_with("\"data_offsets\":[0,4]", "\"data_offsets\":[4,0]", &len);
    ASSERT_TRUE(bad != NULL);
    ok = ok && expect_rejected("backwards", bad, len, ERR_FORMAT, "logit_scale", "data_offsets");
    free(bad);
    ASSERT_TRUE(ok);
}

TEST(test_wrong_config)
{
    /* A config that does not match the weights: the first tensor whose
     * shape follows from the changed width is named. */
    const char *dir = make_model_dir("wrong_config", good, good_len);
    ASSERT_TRUE(dir != NULL);
    char path[700];
    snprintf(path, sizeof path, "%s/config.json", dir);
    char *cfg = NULL;
    size_t len = 0;
    ASSERT_OK(file_read_all(path, 1 << 20, &cfg, &len));
    char *w = strstr(cfg, "\"hidden_size\": 128");
    ASSERT_TRUE(w != NULL);
    memcpy(w, "\"hidden_size\": 256", 18);
    ASSERT_OK(write_file(path, cfg, len));
    free(cfg);
    ClipModel *m = (ClipModel *)1;
    char err[512];
    ASSERT_EQ_INT(clip_load(dir, &m, err, sizeof err), ERR_FORMAT);
    printf("  wrong_config: %s\n", err);
    ASSERT_TRUE(m == NULL);
    ASSERT_TRUE(strstr(err, "vision_model.embeddings.patch_embedding.weight") != NULL);
}

static void remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char path[1024];
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (lstat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
            remove_tree(path);
        else
            unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/vitrine_test_safetensors.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    good = read_fixture_file("models/tiny-p32/model.safetensors", &good_len);
    if (!good || good_len < 8) {
        printf("cannot read the tiny-p32 fixture\n");
        return 1;
    }
    good_hlen = 0;
    for (int i = 7; i >= 0; i--) good_hlen = (good_hlen << 8) | (unsigned char)good[i];
    RUN(test_open_fixture);
    RUN(test_half_conversions);
    RUN(test_bulk_conversion);
    RUN(test_release_keeps_neighbours);
    RUN(test_missing_file);
    RUN(test_good_copy_loads);
    RUN(test_truncated);
    RUN(test_bad_header_length);
    RUN(test_bad_json);
    RUN(test_wrong_shape);
    RUN(test_missing_tensor);
    RUN(test_wrong_dtype);
    RUN(test_overlap_and_offsets);
    RUN(test_wrong_config);
    free(good);
    remove_tree(tmpdir);
    return harness_report(__FILE__);
}
