/*
 * multipart.h - multipart/form-data request bodies (RFC 7578 over the
 * multipart syntax of RFC 2046 section 5.1), as browsers, curl -F and
 * HTTP libraries send file uploads.
 *
 * Design. The body is already whole in memory (the HTTP layer bounds it),
 * so parsing is one pass that finds the delimiters and returns each part
 * as a view into the body: no part's bytes are copied, only the names
 * from its headers (into the caller's arena). The parser is strict where
 * being lenient would mis-split data (the delimiter is CRLF "--" boundary,
 * a missing close delimiter is a truncated body) and lenient where clients
 * differ harmlessly (a preamble and an epilogue are ignored, transport
 * padding after a delimiter is skipped, header names are case-insensitive,
 * parameter values may be quoted or bare tokens).
 *
 * Errors are ERR_INVAL with one sentence in the caller's buffer naming
 * what is wrong (and the part's index), since they go straight back to
 * the client as a 400; ERR_TOOLARGE for more than MULTIPART_MAX_PARTS
 * parts. Reentrant: no state outside the caller's arena.
 */
#ifndef VITRINE_MULTIPART_H
#define VITRINE_MULTIPART_H

#include <stddef.h>

#include "base/arena.h"

/* RFC 2046: a boundary is 1 to 70 characters. */
#define MULTIPART_MAX_BOUNDARY 70
/* Parts in one body; each costs a small struct, but a body of empty parts
 * must not cost more than its bytes say. */
#define MULTIPART_MAX_PARTS 4096
/* Bytes of one part's header section. */
#define MULTIPART_MAX_HEADER_BYTES 8192

typedef struct {
    const char *name;         /* the form field (Content-Disposition name), arena */
    const char *filename;     /* its filename parameter, or NULL; arena */
    const char *content_type; /* the part's Content-Type, or NULL; arena */
    const char *data;         /* the part's bytes: a view into the body */
    size_t len;
} MultipartPart;

/*
 * multipart_boundary reads the boundary parameter of a Content-Type header
 * value. Returns 1 when content_type is multipart/form-data (case-
 * insensitive) and *boundary (arena) holds a valid boundary; 0 when the
 * type is not multipart/form-data (or content_type is NULL); ERR_INVAL
 * with a sentence when it is multipart/form-data without a usable boundary.
 */
int multipart_boundary(const char *content_type, Arena *arena, const char **boundary, char *err,
                       size_t errlen);

/*
 * multipart_parse splits body[0..len) at the delimiters of boundary into
 * parts (an array in arena, in body order). Every part must carry a
 * Content-Disposition of type form-data with a name. Returns 0, ERR_INVAL
 * (no opening delimiter, a part's headers not ended by an empty line, a
 * malformed header line, no close delimiter, a part without a name) or
 * ERR_TOOLARGE (more than MULTIPART_MAX_PARTS parts, a header section over
 * MULTIPART_MAX_HEADER_BYTES), with a sentence in err.
 */
int multipart_parse(const char *body, size_t len, const char *boundary, Arena *arena,
                    MultipartPart **parts, size_t *n, char *err, size_t errlen);

/* multipart_find returns the first part named name, or NULL. */
const MultipartPart *multipart_find(const MultipartPart *parts, size_t n, const char *name);

#endif
