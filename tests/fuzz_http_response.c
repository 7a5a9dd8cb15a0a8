/*
 * fuzz_http_response.c - fuzz target for the client side of HTTP
 * (src/server/http.c's response parser, which fetch.c feeds what a
 * snapshot location's server sends).
 *
 * The input's first byte picks how the rest, a byte stream as a server
 * would send it, is cut into reads (1 to 64 bytes at a time). The stream
 * goes through two parsers, one fed everything at once and one fed the
 * pieces, each followed by the end of the connection; both must report
 * the same final status, the same headers, the same body bytes and end
 * the same way (llhttp's callbacks fire at arbitrary fragment boundaries
 * and the glue must accumulate them exactly). The body sink stops the
 * parse once 1 MiB has arrived, as fetch.c's size limit does, so both
 * parsers stop at the same byte. Any violation calls abort() so the
 * fuzzer records the input.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "server/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The body bytes after which the sink stops the parse. */
#define FUZZ_RESPONSE_MAX_BODY (1024 * 1024)

static void check(int ok, const char *what)
{
    if (ok) return;
    fprintf(stderr, "fuzz_http_response: %s\n", what);
    abort();
}

typedef struct {
    int status, heads;
    uint64_t head_digest;
    Buf body;
    HttpResponseResult result;
} Seen;

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++) h = (h ^ c[i]) * 1099511628211ull;
    return h;
}

static int on_head(void *ctx, int status, const HttpPair *h, size_t n)
{
    Seen *s = ctx;
    s->status = status;
    s->heads++;
    uint64_t d = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        d = fnv(d, h[i].name, strlen(h[i].name) + 1);
        d = fnv(d, h[i].value, strlen(h[i].value) + 1);
    }
    s->head_digest = d;
    return 0;
}

static int on_body(void *ctx, const char *p, size_t n)
{
    Seen *s = ctx;
    check(s->heads == 1, "body bytes before the headers");
    size_t room = FUZZ_RESPONSE_MAX_BODY - s->body.len;
    buf_append(&s->body, p, MIN(n, room));
    return n >= room;
}

static void run(const uint8_t *data, size_t size, size_t step, Seen *s)
{
    memset(s, 0, sizeof *s);
    buf_init(&s->body);
    HttpResponseSink sink = { .on_head = on_head, .on_body = on_body, .ctx = s };
    HttpResponseParser *p = http_response_parser_new(&sink, 0);
    HttpResponseResult r = HTTP_RESPONSE_MORE;
    size_t chunk = step ? step : size;
    for (size_t off = 0; off < size && r == HTTP_RESPONSE_MORE; off += chunk)
        r = http_response_feed(p, (const char *)data + off, MIN(chunk, size - off));
    if (r == HTTP_RESPONSE_MORE) r = http_response_finish(p);
    check(r != HTTP_RESPONSE_MORE, "the end of the connection left the response open");
    check(r != HTTP_RESPONSE_ERROR || *http_response_error(p), "an error without a message");
    check(http_response_feed(p, "x", 1) == r, "a finished parser changed its mind");
    s->result = r;
    http_response_parser_free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    size_t step = (size_t)(data[0] % 64) + 1;
    Seen whole, pieces;
    run(data + 1, size - 1, 0, &whole);
    run(data + 1, size - 1, step, &pieces);
    check(whole.heads <= 1, "more than one final answer");
    check(whole.status == pieces.status && whole.heads == pieces.heads, "a different status in pieces");
    check(whole.head_digest == pieces.head_digest, "different headers in pieces");
    check(whole.body.len == pieces.body.len &&
              (!whole.body.len || !memcmp(whole.body.data, pieces.body.data, whole.body.len)),
          "a different body in pieces");
    /* A header section over the limit is refused by totals, so whether
     * llhttp saw a syntax error first may differ with the cuts (as in
     * fuzz_http.c); every other ending is the same. */
    check(whole.result == pieces.result ||
              (whole.result == HTTP_RESPONSE_ERROR && pieces.result == HTTP_RESPONSE_ERROR),
          "a different ending in pieces");
    buf_free(&whole.body);
    buf_free(&pieces.body);
    return 0;
}

#define FUZZ_NAME "http_response"
#include "fuzz_replay.h"
