/*
 * fuzz_http.c - fuzz target for the HTTP request path (src/server/http.c:
 * the llhttp glue and its limits, the request memory budget; router.c:
 * path splitting, percent-decoding, %00, matching).
 *
 * The input's first byte picks how the rest, a byte stream as a client
 * would send it, is cut into reads (1 to 64 bytes at a time). The stream
 * goes through two parsers, one fed everything at once and one fed the
 * pieces the way the server feeds a connection (bytes a parser does not
 * consume wait in a buffer), and both must see the same requests (method,
 * target, headers, body bytes, keep-alive) and end the same way (the same
 * error status or none): llhttp's callbacks fire at arbitrary fragment
 * boundaries and the glue must accumulate them exactly. Every request is
 * routed against a small Qdrant-like table; its path parameters must equal
 * a reference percent-decoder's output for the raw segment, and a segment
 * with %00 must match nothing. http_url_decode on the whole target is
 * checked against the same reference (including embedded NULs). The
 * parsers run with small limits and a small request memory budget (so
 * 431, 413 and 503 paths run), and the budget must be back to zero once
 * every request and parser is freed.
 * Any violation calls abort() so the fuzzer records the input.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/budget.h"
#include "base/util.h"
#include "server/http.h"
#include "server/router.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_HTTP_MAX_REQUESTS 64

static void check(int ok, const char *what)
{
    if (ok) return;
    fprintf(stderr, "fuzz_http: %s\n", what);
    abort();
}

/* What one parser saw: a digest of each request and how it ended. */
typedef struct {
    uint64_t digest[FUZZ_HTTP_MAX_REQUESTS];
    int n;
    int err_status;
} Seen;

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++) h = (h ^ c[i]) * 1099511628211ull;
    return h;
}

static uint64_t fnv_str(uint64_t h, const char *s)
{
    return fnv(h, s, strlen(s) + 1);
}

static void h_none(HttpRequest *req, void *ctx)
{
    (void)req;
    (void)ctx;
}

static Router *router;

static void fuzz_init(void)
{
    router = router_new();
    static const char *const routes[][2] = {
        { "GET", "/collections" },
        { "GET", "/collections/{collection_name}" },
        { "PUT", "/collections/{collection_name}" },
        { "PUT", "/collections/{collection_name}/points" },
        { "GET", "/collections/{collection_name}/points/{id}" },
        { "POST", "/collections/{collection_name}/points/search" },
        { "POST", "/v1/embeddings" },
        { "GET", "/healthz" },
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (router_add(router, routes[i][0], routes[i][1], h_none, NULL)) abort();
}
#define FUZZ_HAS_INIT 1

static int hexv(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* ref_decode is the reference percent-decoder: %XX with two hex digits
 * becomes that byte, anything else stays; returns the decoded length. */
static size_t ref_decode(const char *s, size_t len, char *out, int plus_space)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '%' && i + 2 < len && hexv(s[i + 1]) >= 0 && hexv(s[i + 2]) >= 0) {
            out[o++] = (char)(hexv(s[i + 1]) * 16 + hexv(s[i + 2]));
            i += 2;
        } else {
            out[o++] = plus_space && s[i] == '+' ? ' ' : s[i];
        }
    }
    return o;
}

/* check_routing routes req and checks its parameters against the raw
 * path's segments. */
static void check_routing(HttpRequest *req)
{
    size_t tlen = strlen(req->target);
    char *ref = xmalloc(tlen + 1);
    size_t rlen = ref_decode(req->target, tlen, ref, 1);
    char *dec = http_url_decode(&req->arena, req->target, tlen, 1);
    check(memcmp(dec, ref, rlen) == 0 && dec[rlen] == '\0', "http_url_decode differs from the reference");
    free(ref);

    RouteMatch m;
    char allow[128];
    int rc = router_match(router, req, &m, allow, sizeof allow);
    if (rc != 0) return;
    check(req->route != NULL, "matched without a route");
    /* Walk the raw path's segments beside the pattern's. */
    const char *path = req->path;
    const char *pat = req->route;
    check(path[0] == '/' && pat[0] == '/', "path or pattern without a leading slash");
    path++;
    pat++;
    while (*pat) {
        const char *pe = strchr(pat, '/');
        size_t plen = pe ? (size_t)(pe - pat) : strlen(pat);
        const char *se = strchr(path, '/');
        size_t slen = se ? (size_t)(se - path) : strlen(path);
        check(!memmem(path, slen, "%00", 3), "a segment with %00 was matched");
        if (pat[0] == '{') {
            char name[64];
            snprintf(name, sizeof name, "%.*s", (int)(plen - 2), pat + 1);
            const char *v = http_param(req, name);
            check(v != NULL, "a parameter of the matched pattern is missing");
            char *want = xmalloc(slen + 1);
            size_t wlen = ref_decode(path, slen, want, 0);
            check(strlen(v) == wlen && memcmp(v, want, wlen) == 0, "a path parameter differs from the reference");
            free(want);
        } else {
            check(slen == plen && memcmp(path, pat, plen) == 0, "a literal segment differs");
        }
        pat += plen + (pe ? 1 : 0);
        path += slen + (se ? 1 : 0);
    }
}

static void record(Seen *s, HttpRequest *req)
{
    uint64_t h = 1469598103934665603ull;
    h = fnv_str(h, req->method_name);
    h = fnv_str(h, req->target);
    h = fnv_str(h, req->path);
    h = fnv_str(h, req->query_string);
    for (size_t i = 0; i < req->n_headers; i++) {
        h = fnv_str(h, req->headers[i].name);
        h = fnv_str(h, req->headers[i].value);
    }
    for (size_t i = 0; i < req->n_query; i++) {
        h = fnv_str(h, req->query[i].name);
        h = fnv_str(h, req->query[i].value);
    }
    h = fnv(h, req->body.data, req->body.len);
    h = fnv(h, &req->body.len, sizeof req->body.len);
    h = fnv(h, &req->keep_alive, sizeof req->keep_alive);
    check(req->body.data != NULL && req->body.data[req->body.len] == '\0', "body not NUL-terminated");
    check(req->body.len <= 4096, "body over the limit was accepted");
    if (s->n < FUZZ_HTTP_MAX_REQUESTS) s->digest[s->n] = h;
    s->n++;
}

/* run feeds stream[0..len) in pieces of step bytes (0: all at once). */
static void run(const uint8_t *stream, size_t len, size_t step, Seen *seen, int route)
{
    MemBudget budget;
    budget_init(&budget, 6 * 1024, 16 * 1024);
    HttpLimits limits = { .max_header_bytes = 1024, .max_body_bytes = 4096, .budget = &budget };
    HttpParser *p = http_parser_new(&limits);
    Buf pending;
    buf_init(&pending);
    size_t fed = 0;
    memset(seen, 0, sizeof *seen);
    while (fed < len && !seen->err_status) {
        size_t n = step ? MIN(step, len - fed) : len - fed;
        buf_append(&pending, stream + fed, n);
        fed += n;
        size_t off = 0;
        while (off < pending.len) {
            size_t used;
            HttpRequest *req;
            int status;
            const char *msg;
            HttpFeedResult r = http_parser_feed(p, pending.data + off, pending.len - off, &used, &req, &status, &msg);
            check(used <= pending.len - off, "consumed more than given");
            off += used;
            if (r == HTTP_FEED_REQUEST) {
                record(seen, req);
                if (route) check_routing(req);
                http_request_free(req);
                if (seen->n > 1000) break;
                continue;
            }
            if (r == HTTP_FEED_ERROR) {
                check(status == 400 || status == 413 || status == 431 || status == 503, "unexpected error status");
                check(msg && *msg, "error without a message");
                seen->err_status = status;
            } else {
                check(off == pending.len, "MORE without consuming everything");
            }
            break;
        }
        memmove(pending.data, pending.data + off, pending.len - off);
        pending.len -= off;
        if (seen->n > 1000) break;
    }
    http_parser_free(p);
    buf_free(&pending);
    check(budget_used(&budget) == 0, "request memory still charged after every request was freed");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    size_t step = (size_t)(data[0] % 64) + 1;
    Seen whole, pieces;
    run(data + 1, size - 1, 0, &whole, 1);
    run(data + 1, size - 1, step, &pieces, 0);
    check(whole.n == pieces.n, "a different number of requests when fed in pieces");
    for (int i = 0; i < whole.n && i < FUZZ_HTTP_MAX_REQUESTS; i++)
        check(whole.digest[i] == pieces.digest[i], "a request differs when fed in pieces");
    /* Limits and the budget are charged by totals, not by fragments, so
     * a 413, 431 or 503 comes at the same request. One difference is
     * llhttp's: it hands over a URL or header span when the span ends or
     * the read does, so a request that is both too long and malformed is
     * 431 when the long part arrived in pieces and 400 when llhttp saw the
     * syntax error first (tests/corpus/http holds such an input). */
    int a = whole.err_status, b = pieces.err_status;
    check(a == b || (a && b && (a == 400 || b == 400)), "a different ending when fed in pieces");
    return 0;
}

#define FUZZ_NAME "http"
#include "fuzz_replay.h"
