/*
 * fuzz_multipart.c - fuzz target for multipart/form-data bodies
 * (src/server/multipart.c).
 *
 * The input's first line is a Content-Type header value, the rest the
 * body. multipart_boundary reads the boundary from the header; when it
 * finds one it must be 1..70 characters, what follows "boundary=" in the
 * header (quotes removed). The body is parsed with that boundary and with
 * a fixed one ("XyZ", so bodies parse even when the header is junk).
 * Every part must lie inside the body, and its bytes must be followed in
 * the body by CRLF "--" and the boundary (the delimiter that ended it);
 * names are NUL-terminated strings; multipart_find finds the first part
 * of a name. Any violation calls abort() so the fuzzer records the input.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "server/multipart.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok, const char *what)
{
    if (ok) return;
    fprintf(stderr, "fuzz_multipart: %s\n", what);
    abort();
}

static void parse_with(const uint8_t *body, size_t len, const char *boundary)
{
    Arena a;
    arena_init(&a, 0);
    MultipartPart *parts = NULL;
    size_t n = 0;
    char err[256];
    int rc = multipart_parse(&a, body, len, boundary, &parts, &n, err, sizeof err);
    if (rc == 0) {
        check(n <= MULTIPART_MAX_PARTS, "more parts than the limit");
        size_t blen = strlen(boundary);
        for (size_t i = 0; i < n; i++) {
            const MultipartPart *p = &parts[i];
            check(p->data >= body && p->len <= len && p->data + p->len <= body + len, "part outside the body");
            const uint8_t *end = p->data + p->len;
            size_t left = (size_t)(body + len - end);
            check(left >= 4 + blen && !memcmp(end, "\r\n--", 4) && !memcmp(end + 4, boundary, blen),
                  "a part is not followed by its delimiter");
            if (p->name) (void)strlen(p->name);
            if (p->filename) (void)strlen(p->filename);
            if (p->content_type) (void)strlen(p->content_type);
            if (p->name) {
                const MultipartPart *f = multipart_find(parts, n, p->name);
                check(f && f <= p && !strcmp(f->name, p->name), "multipart_find missed a part");
            }
        }
    } else {
        check(err[0] != '\0', "failure without a message");
    }
    arena_free(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t hlen = nl ? (size_t)(nl - data) : size;
    char *ct = malloc(hlen + 1);
    memcpy(ct, data, hlen);
    ct[hlen] = '\0';
    const uint8_t *body = nl ? nl + 1 : data + size;
    size_t blen = nl ? size - hlen - 1 : 0;
    char boundary[MULTIPART_MAX_BOUNDARY + 2];
    if (multipart_boundary(ct, boundary, sizeof boundary) == 0) {
        size_t n = strlen(boundary);
        check(n >= 1 && n <= MULTIPART_MAX_BOUNDARY, "boundary length out of range");
        /* A quoted boundary may hold quoted-pairs (RFC 7230 3.2.6: "\\x"
         * stands for x), so it comes from the header with its backslashes
         * resolved. */
        char *unesc = malloc(hlen + 1);
        size_t u = 0;
        for (size_t i = 0; ct[i]; i++) {
            if (ct[i] == '\\' && ct[i + 1]) i++;
            unesc[u++] = ct[i];
        }
        unesc[u] = '\0';
        check(strstr(ct, boundary) != NULL || strstr(unesc, boundary) != NULL,
              "boundary not taken from the header");
        free(unesc);
        parse_with(body, blen, boundary);
    }
    parse_with(body, blen, "XyZ");
    free(ct);
    return 0;
}

#define FUZZ_NAME "multipart"
#include "fuzz_replay.h"
