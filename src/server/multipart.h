/*
 * multipart.h - multipart/form-data request bodies (RFC 7578 on RFC 2046's
 * multipart syntax), as browsers, curl -F and HTTP clients' FormData send
 * file uploads.
 *
 * Design. The body is already in memory (the HTTP parser bounds it by the
 * server's maximum body size, so an upload is bounded the same way), so
 * parsing only finds the parts: each MultipartPart points into the body,
 * nothing is copied but the few header values, which go to the caller's
 * arena. A part ends where "CRLF--boundary" begins (RFC 2046 5.1.1), so
 * binary data may hold CRLFs, dashes and anything short of that exact
 * delimiter; the boundary is searched with memmem, linear in the body.
 * A preamble before the first delimiter and an epilogue after the closing
 * one are ignored, as the RFC asks.
 */
#ifndef VITRINE_MULTIPART_H
#define VITRINE_MULTIPART_H

#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"

/* RFC 2046: a boundary is 1..70 characters. */
#define MULTIPART_MAX_BOUNDARY 70
/* Parts per body, and header bytes per part. */
#define MULTIPART_MAX_PARTS 4096
#define MULTIPART_MAX_HEADER_BYTES (8 * 1024)

typedef struct {
    const char *name;         /* the form field (Content-Disposition name=) */
    const char *filename;     /* filename=, or NULL when the part is not a file */
    const char *content_type; /* the part's Content-Type, or NULL */
    const uint8_t *data;      /* the part's bytes, inside the body */
    size_t len;
} MultipartPart;

/*
 * multipart_boundary reads the boundary of a Content-Type header value
 * ("multipart/form-data; boundary=XyZ", the parameter quoted or not) into
 * out (at least MULTIPART_MAX_BOUNDARY + 1 bytes). ERR_INVAL when the type
 * is not multipart/form-data or the boundary is missing or not valid.
 */
int multipart_boundary(const char *content_type, char *out, size_t cap);

/*
 * multipart_parse splits body into its parts, in order, into an array
 * allocated in arena. ERR_FORMAT with a message in err for a malformed
 * body (no opening delimiter, no closing one, part headers not ended or
 * too long, a part that is not form-data or has no name), ERR_TOOLARGE
 * beyond MULTIPART_MAX_PARTS parts.
 */
int multipart_parse(Arena *arena, const void *body, size_t len, const char *boundary,
                    MultipartPart **parts, size_t *n, char *err, size_t errlen);

/* multipart_find returns the first part named name, or NULL. */
const MultipartPart *multipart_find(const MultipartPart *parts, size_t n, const char *name);

#endif
