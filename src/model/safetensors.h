/*
 * safetensors.h - a read-only, validating loader for .safetensors files.
 *
 * Design. The format is an 8-byte little-endian header length N, N bytes
 * of JSON ({"name": {"dtype", "shape", "data_offsets": [begin, end]}, ...,
 * "__metadata__": {...}}), then the data section; offsets are relative to
 * the start of the data section. The whole file is mmap'd read-only, so a
 * tensor's bytes are used in place and pages that are never read (most of
 * a 49408-row token embedding) never become resident.
 *
 * Everything is validated at open, before a caller sees a tensor: the file
 * is long enough for its header, the header is JSON of the expected shape,
 * each dtype is known, each shape is a list of non-negative integers whose
 * byte size equals its offsets' span, offsets lie inside the data section
 * and tensors do not overlap. A bad file gives one message naming the path
 * (and the tensor when one is at fault), never a crash later.
 *
 * A SafeTensors is immutable after open: any number of threads may read it.
 */
#ifndef VITRINE_SAFETENSORS_H
#define VITRINE_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

/* The header is JSON of about 100 bytes per tensor; real CLIP files have a
 * header of a few tens of kilobytes. The spec caps it at 100 MB. */
#define SAFETENSORS_MAX_HEADER ((uint64_t)100 * 1000 * 1000)
/* More dimensions than any tensor in a transformer has. */
#define SAFETENSORS_MAX_DIMS 8

typedef enum {
    ST_DTYPE_F32 = 0,
    ST_DTYPE_F16,
    ST_DTYPE_BF16,
    ST_DTYPE_F64,
    ST_DTYPE_I64,
    ST_DTYPE_I32,
    ST_DTYPE_I16,
    ST_DTYPE_I8,
    ST_DTYPE_U8,
    ST_DTYPE_BOOL,
    ST_DTYPE_COUNT
} SafeTensorDtype;

typedef struct {
    const char *name;  /* NUL-terminated, owned by the SafeTensors */
    SafeTensorDtype dtype;
    int ndim;                             /* 0 for a scalar */
    int64_t shape[SAFETENSORS_MAX_DIMS];
    int64_t numel;                        /* product of shape (1 for a scalar) */
    const void *data;                     /* into the mapping; nbytes long */
    size_t nbytes;
} SafeTensor;

typedef struct SafeTensors SafeTensors;

/*
 * safetensors_open maps and validates path. On success *out owns the
 * mapping (release with safetensors_close). On failure *out is NULL, err
 * holds one line naming the path and the problem, and the result is
 * ERR_NOTFOUND, ERR_IO, ERR_FORMAT (any malformation) or ERR_NOMEM.
 */
int safetensors_open(const char *path, SafeTensors **out, char *err, size_t errlen);
void safetensors_close(SafeTensors *st);

/* safetensors_find returns the tensor called name, or NULL. */
const SafeTensor *safetensors_find(const SafeTensors *st, const char *name);
size_t safetensors_count(const SafeTensors *st);
const SafeTensor *safetensors_at(const SafeTensors *st, size_t i);
/* The path given to safetensors_open (for messages). */
const char *safetensors_path(const SafeTensors *st);

/* safetensors_dtype_name returns the format's spelling ("F32", "BF16", ...). */
const char *safetensors_dtype_name(SafeTensorDtype dt);
/* safetensors_dtype_size returns the bytes per element. */
size_t safetensors_dtype_size(SafeTensorDtype dt);

/*
 * safetensors_to_f32 writes elements [first, first + n) of t (F32, F16 or
 * BF16, any alignment) to dst as F32; both conversions are exact. F16 uses
 * the CPU's conversion instructions (F16C) when it has them.
 */
void safetensors_to_f32(const SafeTensor *t, size_t first, size_t n, float *dst);

/*
 * safetensors_release tells the kernel that t's bytes will not be read
 * again soon (a tensor converted to F32 at load): the whole pages inside
 * them leave the process's resident memory now instead of staying until
 * the mapping is closed. Reading them later is still correct (they fault
 * back in from the file). Pages shared with a neighbouring tensor stay.
 */
void safetensors_release(const SafeTensor *t);

/* Scalar conversions used when a tensor is not F32 (exact for both). */
float safetensors_f16_to_f32(uint16_t h);
float safetensors_bf16_to_f32(uint16_t h);

#endif
