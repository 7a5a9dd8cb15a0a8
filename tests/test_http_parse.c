/*
 * test_http_parse.c - the llhttp glue (http.c) against hand-written
 * requests whose fields we know: fed whole, byte by byte and split at
 * random points (all must give the same request), pipelined, chunked,
 * Expect: 100-continue, over the header and body limits, malformed; and
 * the response helpers' bytes (Qdrant's error and success shapes).
 */
#include "server/http.h"

#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "harness.h"
#include "base/json.h"

static const HttpLimits limits = { .max_header_bytes = 4096, .max_body_bytes = 1000 };

/* feed_split feeds text in pieces cut at the given offsets (sorted) and
 * returns the one request it produces, or NULL on error (*status set). */
static HttpRequest *feed_split(const char *text, size_t len, const size_t *cuts, size_t n_cuts, int *status)
{
    HttpParser *p = http_parser_new(&limits);
    HttpRequest *got = NULL;
    size_t start = 0;
    *status = 0;
    for (size_t k = 0; k <= n_cuts && !got && !*status; k++) {
        size_t end = k < n_cuts ? cuts[k] : len;
        size_t off = start;
        while (off < end) {
            size_t used;
            HttpRequest *req;
            const char *msg;
            HttpFeedResult r = http_parser_feed(p, text + off, end - off, &used, &req, status, &msg);
            off += used;
            if (r == HTTP_FEED_REQUEST) {
                got = req;
                break;
            }
            if (r == HTTP_FEED_ERROR) break;
            if (r == HTTP_FEED_MORE && used == 0) break;
        }
        start = end;
    }
    if (!got && !*status) *status = -1; /* incomplete */
    http_parser_free(p);
    return got;
}

static HttpRequest *feed_whole(const char *text, int *status)
{
    return feed_split(text, strlen(text), NULL, 0, status);
}

static const char post_req[] =
    "POST /collections/my%20col/points?wait=true&name=a+b&empty= HTTP/1.1\r\n"
    "Host: localhost:6333\r\n"
    "Content-Type: application/json\r\n"
    "X-Multi: one\r\n"
    "X-Multi: two\r\n"
    "X-Spaces:    padded value   \r\n"
    "Content-Length: 27\r\n"
    "\r\n"
    "{\"points\":[{\"id\":1}],\"x\":1}";

/* check_post asserts every field of post_req; returns 1 when all hold. */
static int check_post(HttpRequest *r)
{
    int ok = r && r->method == HTTP_METHOD_POST && !strcmp(r->method_name, "POST") &&
             !strcmp(r->path, "/collections/my%20col/points") &&
             !strcmp(r->query_string, "wait=true&name=a+b&empty=") && r->n_query == 3 &&
             !strcmp(http_query_get(r, "wait"), "true") && !strcmp(http_query_get(r, "name"), "a b") &&
             !strcmp(http_query_get(r, "empty"), "") && r->n_headers == 6 &&
             !strcmp(http_header(r, "content-type"), "application/json") &&
             !strcmp(http_header(r, "x-multi"), "one") && !strcmp(http_header(r, "X-SPACES"), "padded value") &&
             r->body.len == 27 && !memcmp(r->body.data, "{\"points\":[{\"id\":1}],\"x\":1}", 27) &&
             r->keep_alive == 1 && r->http_major == 1 && r->http_minor == 1;
    return ok;
}

TEST(test_whole_request)
{
    int status;
    HttpRequest *r = feed_whole(post_req, &status);
    ASSERT_TRUE(r != NULL);
    ASSERT_STR_EQ(r->method_name, "POST");
    ASSERT_STR_EQ(r->path, "/collections/my%20col/points");
    ASSERT_STR_EQ(http_query_get(r, "name"), "a b");
    ASSERT_STR_EQ(http_header(r, "HOST"), "localhost:6333");
    ASSERT_STR_EQ(http_header(r, "X-Spaces"), "padded value");
    ASSERT_TRUE(http_header(r, "missing") == NULL);
    ASSERT_EQ_INT(r->body.len, 27);
    ASSERT_TRUE(check_post(r));
    http_request_free(r);
}

TEST(test_byte_by_byte)
{
    size_t len = strlen(post_req);
    size_t *cuts = malloc(len * sizeof *cuts);
    for (size_t i = 0; i < len - 1; i++) cuts[i] = i + 1;
    int status;
    HttpRequest *r = feed_split(post_req, len, cuts, len - 1, &status);
    free(cuts);
    ASSERT_EQ_INT(status, 0);
    ASSERT_TRUE(check_post(r));
    http_request_free(r);
}

TEST(test_random_splits)
{
    size_t len = strlen(post_req);
    srand(12345);
    for (int iter = 0; iter < 300; iter++) {
        size_t cuts[8];
        size_t n = (size_t)(rand() % 8);
        for (size_t k = 0; k < n; k++) cuts[k] = 1 + (size_t)rand() % (len - 1);
        /* sort the cuts (insertion sort; at most 8) */
        for (size_t a = 1; a < n; a++)
            for (size_t b = a; b > 0 && cuts[b - 1] > cuts[b]; b--) {
                size_t t = cuts[b];
                cuts[b] = cuts[b - 1];
                cuts[b - 1] = t;
            }
        int status;
        HttpRequest *r = feed_split(post_req, len, cuts, n, &status);
        if (!check_post(r)) HARNESS_FAIL("iteration %d with %zu cuts gave a different request", iter, n);
        http_request_free(r);
    }
}

TEST(test_pipelined)
{
    const char *two = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
                      "DELETE /b?x=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi";
    size_t first_len = strlen("GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
    HttpParser *p = http_parser_new(&limits);
    size_t used;
    HttpRequest *r;
    int status;
    const char *msg;
    ASSERT_EQ_INT(http_parser_feed(p, two, strlen(two), &used, &r, &status, &msg), HTTP_FEED_REQUEST);
    ASSERT_EQ_INT(used, first_len);
    ASSERT_STR_EQ(r->path, "/a");
    ASSERT_EQ_INT(r->body.len, 0);
    ASSERT_STR_EQ(r->body.data, "");
    http_request_free(r);
    ASSERT_EQ_INT(http_parser_feed(p, two + used, strlen(two) - used, &used, &r, &status, &msg),
                  HTTP_FEED_REQUEST);
    ASSERT_EQ_INT(used, strlen(two) - first_len);
    ASSERT_EQ_INT(r->method, HTTP_METHOD_DELETE);
    ASSERT_STR_EQ(r->path, "/b");
    ASSERT_STR_EQ(r->body.data, "hi");
    http_request_free(r);
    http_parser_free(p);
}

TEST(test_chunked_body)
{
    const char *req = "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: t\r\n\r\n";
    int status;
    HttpRequest *r = feed_whole(req, &status);
    ASSERT_TRUE(r != NULL);
    ASSERT_EQ_INT(r->body.len, 11);
    ASSERT_STR_EQ(r->body.data, "hello world");
    http_request_free(r);

    size_t len = strlen(req);
    size_t cuts[200];
    for (size_t i = 0; i < len - 1; i++) cuts[i] = i + 1;
    r = feed_split(req, len, cuts, len - 1, &status);
    ASSERT_TRUE(r != NULL);
    ASSERT_STR_EQ(r->body.data, "hello world");
    http_request_free(r);
}

TEST(test_header_limit_431)
{
    Buf b;
    buf_init(&b);
    buf_append_str(&b, "GET / HTTP/1.1\r\nX-Big: ");
    for (int i = 0; i < 5000; i++) buf_append(&b, "a", 1);
    buf_append_str(&b, "\r\n\r\n");
    int status;
    HttpRequest *r = feed_whole(b.data, &status);
    ASSERT_TRUE(r == NULL);
    ASSERT_EQ_INT(status, 431);

    /* Many small headers add up the same way. */
    b.len = 0;
    buf_append_str(&b, "GET / HTTP/1.1\r\n");
    for (int i = 0; i < 150; i++) buf_printf(&b, "H%d: v\r\n", i);
    buf_append_str(&b, "\r\n");
    r = feed_whole(b.data, &status);
    ASSERT_TRUE(r == NULL);
    ASSERT_EQ_INT(status, 431);

    /* A long URL counts too. */
    b.len = 0;
    buf_append_str(&b, "GET /");
    for (int i = 0; i < 5000; i++) buf_append(&b, "u", 1);
    buf_append_str(&b, " HTTP/1.1\r\n\r\n");
    r = feed_whole(b.data, &status);
    ASSERT_TRUE(r == NULL);
    ASSERT_EQ_INT(status, 431);
    buf_free(&b);
}

TEST(test_body_limit_413)
{
    /* Content-Length over the limit is refused at the headers, before any
     * body byte is sent. */
    HttpParser *p = http_parser_new(&limits);
    const char *h = "POST /x HTTP/1.1\r\nContent-Length: 1001\r\n\r\n";
    size_t used;
    HttpRequest *r;
    int status = 0;
    const char *msg = NULL;
    ASSERT_EQ_INT(http_parser_feed(p, h, strlen(h), &used, &r, &status, &msg), HTTP_FEED_ERROR);
    ASSERT_EQ_INT(status, 413);
    ASSERT_TRUE(msg && strstr(msg, "too large"));
    /* A dead parser keeps saying so. */
    ASSERT_EQ_INT(http_parser_feed(p, "x", 1, &used, &r, &status, &msg), HTTP_FEED_ERROR);
    http_parser_free(p);

    /* Exactly the limit is fine. */
    Buf b;
    buf_init(&b);
    buf_append_str(&b, "POST /x HTTP/1.1\r\nContent-Length: 1000\r\n\r\n");
    for (int i = 0; i < 1000; i++) buf_append(&b, "b", 1);
    r = feed_whole(b.data, &status);
    ASSERT_TRUE(r != NULL);
    ASSERT_EQ_INT(r->body.len, 1000);
    http_request_free(r);

    /* Chunked bodies are counted as they arrive. */
    b.len = 0;
    buf_append_str(&b, "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 3; i++) {
        buf_append_str(&b, "190\r\n"); /* 400 bytes */
        for (int k = 0; k < 400; k++) buf_append(&b, "c", 1);
        buf_append_str(&b, "\r\n");
    }
    buf_append_str(&b, "0\r\n\r\n");
    r = feed_whole(b.data, &status);
    ASSERT_TRUE(r == NULL);
    ASSERT_EQ_INT(status, 413);
    buf_free(&b);
}

TEST(test_expect_continue)
{
    HttpParser *p = http_parser_new(&limits);
    const char *h = "PUT /x HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n";
    size_t used;
    HttpRequest *r;
    int status;
    const char *msg;
    ASSERT_EQ_INT(http_parser_feed(p, h, strlen(h), &used, &r, &status, &msg), HTTP_FEED_MORE);
    ASSERT_EQ_INT(http_parser_started(p), 1);
    ASSERT_EQ_INT(http_parser_take_continue(p), 1);
    ASSERT_EQ_INT(http_parser_take_continue(p), 0); /* once */
    ASSERT_EQ_INT(http_parser_feed(p, "body", 4, &used, &r, &status, &msg), HTTP_FEED_REQUEST);
    ASSERT_STR_EQ(r->body.data, "body");
    ASSERT_EQ_INT(http_parser_started(p), 0);
    http_request_free(r);

    /* When the body came along with the headers, no 100 is owed. */
    const char *whole = "PUT /x HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nab";
    ASSERT_EQ_INT(http_parser_feed(p, whole, strlen(whole) - 1, &used, &r, &status, &msg), HTTP_FEED_MORE);
    ASSERT_EQ_INT(http_parser_take_continue(p), 0);
    ASSERT_EQ_INT(http_parser_feed(p, whole + strlen(whole) - 1, 1, &used, &r, &status, &msg),
                  HTTP_FEED_REQUEST);
    http_request_free(r);
    http_parser_free(p);
}

TEST(test_malformed_400)
{
    static const char *bad[] = {
        "GARBAGE\r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
        "GET / HTTP/9.9\r\n\r\n",
        "GET / HTTP/1.1\r\nBad Header\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\nGET / HTTP/1.1\r\n\r\n",
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        int status;
        HttpRequest *r = feed_whole(bad[i], &status);
        if (i == ARRAY_LEN(bad) - 1) {
            /* An upgrade request itself parses; it must not keep the
             * connection, so what follows is never read as HTTP. */
            ASSERT_TRUE(r != NULL);
            ASSERT_EQ_INT(r->keep_alive, 0);
            http_request_free(r);
            continue;
        }
        if (r) HARNESS_FAIL("bad request %zu parsed", i);
        if (status != 400) HARNESS_FAIL("bad request %zu: status %d, expected 400", i, status);
    }
}

TEST(test_keep_alive_rules)
{
    int status;
    HttpRequest *r = feed_whole("GET / HTTP/1.0\r\n\r\n", &status);
    ASSERT_TRUE(r != NULL);
    ASSERT_EQ_INT(r->keep_alive, 0);
    http_request_free(r);
    r = feed_whole("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", &status);
    ASSERT_EQ_INT(r->keep_alive, 1);
    http_request_free(r);
    r = feed_whole("GET / HTTP/1.1\r\nConnection: close\r\n\r\n", &status);
    ASSERT_EQ_INT(r->keep_alive, 0);
    http_request_free(r);
    r = feed_whole("GET / HTTP/1.1\r\n\r\n", &status);
    ASSERT_EQ_INT(r->keep_alive, 1);
    http_request_free(r);
}

TEST(test_url_decode)
{
    Arena a;
    arena_init(&a, 0);
    ASSERT_STR_EQ(http_url_decode(&a, "a%20b%2Fc", 9, 0), "a b/c");
    ASSERT_STR_EQ(http_url_decode(&a, "a+b", 3, 0), "a+b");
    ASSERT_STR_EQ(http_url_decode(&a, "a+b", 3, 1), "a b");
    ASSERT_STR_EQ(http_url_decode(&a, "bad%zz%4", 8, 0), "bad%zz%4");
    ASSERT_STR_EQ(http_url_decode(&a, "%e2%82%ac", 9, 0), "\xe2\x82\xac");
    arena_free(&a);
}

/* ---- responses ---- */

static HttpRequest *answered;
static void capture(HttpRequest *req) { answered = req; }

static HttpRequest *fake_request(void)
{
    HttpRequest *r = http_request_new();
    r->on_response = capture;
    r->keep_alive = 1;
    answered = NULL;
    return r;
}

TEST(test_status_for_err)
{
    ASSERT_EQ_INT(http_status_for_err(0), 200);
    ASSERT_EQ_INT(http_status_for_err(ERR_INVAL), 400);
    ASSERT_EQ_INT(http_status_for_err(ERR_NOTFOUND), 404);
    ASSERT_EQ_INT(http_status_for_err(ERR_EXISTS), 409);
    ASSERT_EQ_INT(http_status_for_err(ERR_TOOLARGE), 413);
    ASSERT_EQ_INT(http_status_for_err(ERR_FULL), 503);
    ASSERT_EQ_INT(http_status_for_err(ERR_BUSY), 503);
    ASSERT_EQ_INT(http_status_for_err(ERR_STORE), 500);
    ASSERT_EQ_INT(http_status_for_err(ERR_UNSUPPORTED), 501);
    ASSERT_EQ_INT(http_status_for_err(-999), 500);
}

TEST(test_error_shape)
{
    HttpRequest *r = fake_request();
    http_respond_err(r, ERR_FULL, "queue %s is full", "embed");
    ASSERT_TRUE(answered == r);
    ASSERT_EQ_INT(r->status, 503);
    http_build_head(r, 1);
    ASSERT_TRUE(strncmp(r->resp_head.data, "HTTP/1.1 503 Service Unavailable\r\n", 34) == 0);
    ASSERT_TRUE(strstr(r->resp_head.data, "Retry-After: 1\r\n") != NULL);
    ASSERT_TRUE(strstr(r->resp_head.data, "Content-Type: application/json\r\n") != NULL);
    char cl[64];
    snprintf(cl, sizeof cl, "Content-Length: %zu\r\n", r->resp_body.len);
    ASSERT_TRUE(strstr(r->resp_head.data, cl) != NULL);
    ASSERT_TRUE(strstr(r->resp_head.data, "Connection:") == NULL);

    Arena a;
    arena_init(&a, 0);
    JsonValue *v;
    char err[128];
    ASSERT_OK(json_parse(&a, r->resp_body.data, r->resp_body.len, &v, err, sizeof err));
    ASSERT_EQ_INT(v->len, 2);
    ASSERT_STR_EQ(json_as_str(json_get_path(v, "status.error")), "queue embed is full");
    double t;
    ASSERT_OK(json_as_double(json_get(v, "time"), &t));
    ASSERT_TRUE(t >= 0 && t < 10);
    arena_free(&a);
    http_request_free(r);
}

TEST(test_result_shape)
{
    HttpRequest *r = fake_request();
    JsonWriter *w = http_result_begin(r);
    jw_object_begin(w);
    jw_key(w, "ok");
    jw_bool(w, 1);
    jw_object_end(w);
    http_result_end(r, 200);
    ASSERT_TRUE(answered == r);
    Arena a;
    arena_init(&a, 0);
    JsonValue *v;
    char err[128];
    ASSERT_OK(json_parse(&a, r->resp_body.data, r->resp_body.len, &v, err, sizeof err));
    ASSERT_STR_EQ(v->u.members[0].key, "result");
    int b = 0;
    ASSERT_OK(json_as_bool(json_get_path(v, "result.ok"), &b));
    ASSERT_EQ_INT(b, 1);
    ASSERT_STR_EQ(json_as_str(json_get(v, "status")), "ok");
    ASSERT_TRUE(json_get(v, "time") && json_get(v, "time")->type == JSON_NUMBER);
    arena_free(&a);
    http_build_head(r, 0);
    ASSERT_TRUE(strstr(r->resp_head.data, "Connection: close\r\n") != NULL);
    http_request_free(r);

    r = fake_request();
    r->http_minor = 0;
    http_respond_result_raw(r, "true");
    ASSERT_TRUE(strncmp(r->resp_body.data, "{\"result\":true,\"status\":\"ok\",\"time\":", 36) == 0);
    http_build_head(r, 1);
    ASSERT_TRUE(strstr(r->resp_head.data, "Connection: keep-alive\r\n") != NULL);
    http_request_free(r);
}

TEST(test_orphan_freed_by_response)
{
    /* The owner went away: answering frees the request (ASan would flag a
     * leak or a double free here). */
    HttpRequest *r = fake_request();
    r->orphaned = 1;
    http_respond_text(r, 200, "late");
    ASSERT_TRUE(answered == NULL);
}

TEST(test_header_injection_blocked)
{
    HttpRequest *r = fake_request();
    http_set_header(r, "X-Evil", "a\r\nSet-Cookie: x");
    http_respond_text(r, 200, "ok");
    http_build_head(r, 1);
    ASSERT_TRUE(strstr(r->resp_head.data, "\r\nSet-Cookie") == NULL);
    http_request_free(r);
}

TEST(test_format_simple)
{
    Buf b;
    buf_init(&b);
    http_format_simple(&b, 400, "bad \"thing\"", NULL);
    ASSERT_TRUE(strncmp(b.data, "HTTP/1.1 400 Bad Request\r\n", 26) == 0);
    ASSERT_TRUE(strstr(b.data, "Connection: close\r\n") != NULL);
    const char *body = strstr(b.data, "\r\n\r\n") + 4;
    ASSERT_STR_EQ(body, "{\"status\":{\"error\":\"bad \\\"thing\\\"\"},\"time\":0.0}");
    buf_free(&b);
}

int main(void)
{
    RUN(test_whole_request);
    RUN(test_byte_by_byte);
    RUN(test_random_splits);
    RUN(test_pipelined);
    RUN(test_chunked_body);
    RUN(test_header_limit_431);
    RUN(test_body_limit_413);
    RUN(test_expect_continue);
    RUN(test_malformed_400);
    RUN(test_keep_alive_rules);
    RUN(test_url_decode);
    RUN(test_status_for_err);
    RUN(test_error_shape);
    RUN(test_result_shape);
    RUN(test_orphan_freed_by_response);
    RUN(test_header_injection_blocked);
    RUN(test_format_simple);
    return harness_report(__FILE__);
}
