/*
 * fuzz_safetensors.c - fuzz target for the safetensors loader
 * (src/model/safetensors.c): the 8-byte header length, the JSON header
 * and every offset and shape it declares, validated at open.
 *
 * When the file opens, every tensor must check out against the input
 * itself: its byte count is numel times its dtype's size, numel is the
 * product of its shape, its bytes lie inside the input's data section (the
 * pointer into the mapping is compared as an offset with the input's own
 * layout, and the bytes must be equal), lookups by name find it, and its
 * first values convert to f32 (a read that would fault if an offset
 * pointed past the file). Any violation calls abort() so the fuzzer
 * records the input.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_memfile.h"
#include "model/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok, const char *what)
{
    if (ok) return;
    fprintf(stderr, "fuzz_safetensors: %s\n", what);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64], err[256];
    int fd = memfile_open(data, size, path, sizeof path);
    SafeTensors *st = NULL;
    int rc = safetensors_open(path, &st, err, sizeof err);
    if (rc != 0) {
        check(st == NULL && err[0] != '\0', "a failed open without a message or with a handle");
        close(fd);
        return 0;
    }
    uint64_t hlen = 0;
    for (int i = 0; i < 8; i++) hlen |= (uint64_t)data[i] << (8 * i);
    size_t data_start = 8 + (size_t)hlen;
    check(size >= 8 && hlen <= size - 8, "opened a file shorter than its header");
    size_t n = safetensors_count(st);
    for (size_t i = 0; i < n; i++) {
        const SafeTensor *t = safetensors_at(st, i);
        check(t->ndim >= 0 && t->ndim <= SAFETENSORS_MAX_DIMS, "ndim out of range");
        int64_t numel = 1;
        for (int d = 0; d < t->ndim; d++) {
            check(t->shape[d] >= 0, "a negative dimension");
            numel *= t->shape[d];
        }
        check(numel == t->numel, "numel is not the product of the shape");
        check(t->nbytes == (size_t)t->numel * safetensors_dtype_size(t->dtype), "nbytes != numel * dtype size");
        check(safetensors_find(st, t->name) == t, "safetensors_find does not find a tensor by its name");
        if (t->nbytes) {
            /* The bytes must be the input's, inside its data section. */
            const uint8_t *p = t->data;
            int found = 0;
            for (size_t off = data_start; off + t->nbytes <= size && !found; off++)
                found = memcmp(p, data + off, t->nbytes) == 0;
            check(found, "a tensor's bytes are not in the data section");
        }
        if (t->dtype == ST_DTYPE_F32 || t->dtype == ST_DTYPE_F16 || t->dtype == ST_DTYPE_BF16) {
            float tmp[16];
            size_t k = t->numel < 16 ? (size_t)t->numel : 16;
            safetensors_to_f32(t, 0, k, tmp);
            if (t->numel > 16) safetensors_to_f32(t, (size_t)t->numel - 16, 16, tmp);
        }
    }
    safetensors_close(st);
    close(fd);
    return 0;
}

#define FUZZ_NAME "safetensors"
#include "fuzz_replay.h"
