/*
 * test_fetch.c - the client side of HTTP: http.c's streaming response
 * parser against hand-written responses (fed whole and byte by byte: the
 * same status, headers and body bytes), and fetch.c's GET against a
 * server thread in this process that answers canned bytes: bodies by
 * Content-Length, chunked and to the close, hashed as sha256() hashes
 * them; redirects (absolute, relative, a loop, to https); the size limit;
 * the read timeout; a refused connection; URLs it must refuse.
 */
#include "server/fetch.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/err.h"
#include "base/sha256.h"
#include "base/util.h"
#include "harness.h"
#include "server/http.h"

/* ---- the response parser ---- */

typedef struct {
    int status, heads;
    char location[128];
    Buf body;
} Seen;

static int seen_head(void *ctx, int status, const HttpPair *h, size_t n)
{
    Seen *s = ctx;
    s->status = status;
    s->heads++;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(h[i].name, "Location")) snprintf(s->location, sizeof s->location, "%s", h[i].value);
    return 0;
}

static int seen_body(void *ctx, const char *d, size_t n)
{
    buf_append(&((Seen *)ctx)->body, d, n);
    return 0;
}

/* parse feeds text in pieces of step bytes, then the end of the
 * connection when it is still incomplete. */
static HttpResponseResult parse(const char *text, size_t step, Seen *s)
{
    memset(s, 0, sizeof *s);
    buf_init(&s->body);
    HttpResponseSink sink = { .on_head = seen_head, .on_body = seen_body, .ctx = s };
    HttpResponseParser *p = http_response_parser_new(&sink, 0);
    size_t len = strlen(text);
    HttpResponseResult r = HTTP_RESPONSE_MORE;
    for (size_t off = 0; off < len && r == HTTP_RESPONSE_MORE; off += step)
        r = http_response_feed(p, text + off, MIN(step, len - off));
    if (r == HTTP_RESPONSE_MORE) r = http_response_finish(p);
    http_response_parser_free(p);
    return r;
}

TEST(test_response_bodies)
{
    static const struct {
        const char *text;
        int status;
        const char *body;
        HttpResponseResult result;
    } cases[] = {
        { "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 200, "hello", HTTP_RESPONSE_DONE },
        { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhel\r\n2;x=y\r\nlo\r\n0\r\n\r\n",
          200, "hello", HTTP_RESPONSE_DONE },
        { "HTTP/1.0 200 OK\r\n\r\nhello", 200, "hello", HTTP_RESPONSE_DONE }, /* to the close */
        { "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nno", 404, "no",
          HTTP_RESPONSE_DONE },
        { "HTTP/1.1 302 Found\r\nLocation: /x\r\nContent-Length: 0\r\n\r\n", 302, "", HTTP_RESPONSE_DONE },
        { "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nhello", 200, "hello", HTTP_RESPONSE_ERROR }, /* cut */
        { "SMTP ready\r\n", 0, "", HTTP_RESPONSE_ERROR },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (size_t step = 1; step <= 1000; step += 999) {
            Seen s;
            ASSERT_EQ_INT(parse(cases[i].text, step, &s), cases[i].result);
            ASSERT_EQ_INT(s.status, cases[i].status);
            ASSERT_EQ_INT(s.heads, cases[i].status ? 1 : 0); /* the 100 is never seen */
            ASSERT_EQ_U64(s.body.len, strlen(cases[i].body));
            ASSERT_TRUE(!memcmp(s.body.data ? s.body.data : "", cases[i].body, s.body.len));
            if (cases[i].status == 302) ASSERT_STR_EQ(s.location, "/x");
            buf_free(&s.body);
        }
    }
}

TEST(test_response_header_limit)
{
    Buf t;
    buf_init(&t);
    buf_printf(&t, "HTTP/1.1 200 OK\r\n");
    while (t.len < HTTP_RESPONSE_MAX_HEADER_BYTES + 100) buf_printf(&t, "X-Pad: %0100d\r\n", 0);
    buf_printf(&t, "Content-Length: 0\r\n\r\n");
    Seen s;
    ASSERT_EQ_INT(parse(t.data, 4096, &s), HTTP_RESPONSE_ERROR);
    ASSERT_EQ_INT(s.heads, 0);
    buf_free(&s.body);
    buf_free(&t);
}

/* ---- fetch_url against a server thread ---- */

/* The server answers each connection with the next of its canned
 * responses ("%PORT%" replaced by its port), then closes it. */
typedef struct {
    int fd, port;
    const char *const *answers;
    size_t n;
    int stall_ms; /* before answering the last one */
    char last_request[2048];
} Canned;

static void *canned_run(void *arg)
{
    Canned *c = arg;
    for (size_t i = 0; i < c->n; i++) {
        int cfd = accept(c->fd, NULL, NULL);
        if (cfd < 0) break;
        char req[2048];
        size_t got = 0;
        while (got < sizeof req - 1) { /* up to the end of the request's headers */
            ssize_t r = recv(cfd, req + got, sizeof req - 1 - got, 0);
            if (r <= 0) break;
            got += (size_t)r;
            req[got] = '\0';
            if (strstr(req, "\r\n\r\n")) break;
        }
        req[got] = '\0';
        memcpy(c->last_request, req, got + 1);
        if (i + 1 == c->n && c->stall_ms) usleep((useconds_t)c->stall_ms * 1000);
        Buf out;
        buf_init(&out);
        const char *a = c->answers[i], *m;
        while ((m = strstr(a, "%PORT%"))) {
            buf_append(&out, a, (size_t)(m - a));
            buf_printf(&out, "%d", c->port);
            a = m + 6;
        }
        buf_append(&out, a, strlen(a));
        if (send(cfd, out.data, out.len, MSG_NOSIGNAL) < 0) {
            /* the client gave up: nothing to do */
        }
        buf_free(&out);
        close(cfd);
    }
    return NULL;
}

static void canned_start(Canned *c, pthread_t *t)
{
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t sl = sizeof sa;
    if (bind(c->fd, (struct sockaddr *)&sa, sizeof sa) || listen(c->fd, 8) ||
        getsockname(c->fd, (struct sockaddr *)&sa, &sl))
        abort();
    c->port = ntohs(sa.sin_port);
    pthread_create(t, NULL, canned_run, c);
}

static void canned_stop(Canned *c, pthread_t t)
{
    shutdown(c->fd, SHUT_RDWR);
    pthread_join(t, NULL);
    close(c->fd);
}

/* get runs fetch_url on the canned server's url path into a temp file,
 * and returns the bytes written in *body. */
static int get(Canned *c, const char *path, uint64_t max, int read_ms, FetchResult *res, Buf *body)
{
    char url[256], tmpl[] = "/tmp/test_fetch_XXXXXX";
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", c->port, path);
    int fd = mkstemp(tmpl);
    unlink(tmpl);
    FetchRequest req = { .url = url, .fd = fd, .max_bytes = max, .read_timeout_ms = read_ms, .api_key = "k1" };
    int rc = fetch_url(&req, res);
    buf_init(body);
    char b[4096];
    ssize_t n;
    lseek(fd, 0, SEEK_SET);
    while ((n = read(fd, b, sizeof b)) > 0) buf_append(body, b, (size_t)n);
    close(fd);
    return rc;
}

TEST(test_fetch_bodies_and_hash)
{
    static const char *const answers[] = {
        "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello world",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
        "HTTP/1.0 200 OK\r\n\r\nhello world",
    };
    Canned c = { .answers = answers, .n = 3 };
    pthread_t t;
    canned_start(&c, &t);
    uint8_t want[SHA256_DIGEST_LEN];
    sha256("hello world", 11, want);
    for (int i = 0; i < 3; i++) {
        FetchResult *res = xmalloc(sizeof *res);
        Buf body;
        ASSERT_OK(get(&c, "/snap?x=1#frag", 1000, 0, res, &body));
        ASSERT_EQ_INT(res->status, 200);
        ASSERT_EQ_U64(res->bytes, 11);
        ASSERT_EQ_U64(body.len, 11);
        ASSERT_TRUE(!memcmp(body.data, "hello world", 11));
        ASSERT_TRUE(!memcmp(res->sha256, want, sizeof want));
        buf_free(&body);
        free(res);
    }
    /* The request line and headers: the target without the fragment, the
     * Host as written, the key, and one request per connection. */
    ASSERT_TRUE(!strncmp(c.last_request, "GET /snap?x=1 HTTP/1.1\r\n", 24));
    char host[64];
    snprintf(host, sizeof host, "\r\nHost: 127.0.0.1:%d\r\n", c.port);
    ASSERT_TRUE(strstr(c.last_request, host) != NULL);
    ASSERT_TRUE(strstr(c.last_request, "\r\napi-key: k1\r\n") != NULL);
    ASSERT_TRUE(strstr(c.last_request, "\r\nConnection: close\r\n") != NULL);
    canned_stop(&c, t);
}

TEST(test_fetch_redirects)
{
    static const char *const answers[] = {
        /* absolute, then relative to the folder, then a 200 */
        "HTTP/1.1 301 Moved\r\nLocation: http://127.0.0.1:%PORT%/a/b\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 307 Temporary\r\nLocation: c\r\nContent-Length: 3\r\n\r\nxyz",
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        /* a non-2xx answer's body is not written */
        "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found",
        /* to https: refused */
        "HTTP/1.1 302 Found\r\nLocation: https://127.0.0.1:%PORT%/x\r\nContent-Length: 0\r\n\r\n",
    };
    Canned c = { .answers = answers, .n = 5 };
    pthread_t t;
    canned_start(&c, &t);
    FetchResult *res = xmalloc(sizeof *res);
    Buf body;
    ASSERT_OK(get(&c, "/start", 1000, 0, res, &body));
    ASSERT_EQ_INT(res->status, 200);
    ASSERT_EQ_U64(body.len, 2);
    char want[128];
    snprintf(want, sizeof want, "http://127.0.0.1:%d/a/c", c.port);
    ASSERT_STR_EQ(res->url, want);
    ASSERT_TRUE(!strncmp(c.last_request, "GET /a/c HTTP/1.1", 17));
    buf_free(&body);
    ASSERT_OK(get(&c, "/missing", 1000, 0, res, &body));
    ASSERT_EQ_INT(res->status, 404);
    ASSERT_EQ_U64(res->bytes, 0);
    ASSERT_EQ_U64(body.len, 0);
    buf_free(&body);
    ASSERT_EQ_INT(get(&c, "/tls", 1000, 0, res, &body), ERR_UNSUPPORTED);
    ASSERT_TRUE(strstr(res->err, "without TLS") != NULL);
    buf_free(&body);
    free(res);
    canned_stop(&c, t);
}

TEST(test_fetch_redirect_loop)
{
    const char *answers[FETCH_MAX_REDIRECTS + 1];
    for (int i = 0; i <= FETCH_MAX_REDIRECTS; i++)
        answers[i] = "HTTP/1.1 302 Found\r\nLocation: /loop\r\nContent-Length: 0\r\n\r\n";
    Canned c = { .answers = answers, .n = FETCH_MAX_REDIRECTS + 1 };
    pthread_t t;
    canned_start(&c, &t);
    FetchResult *res = xmalloc(sizeof *res);
    Buf body;
    ASSERT_EQ_INT(get(&c, "/loop", 1000, 0, res, &body), ERR_IO);
    ASSERT_TRUE(strstr(res->err, "error following redirect") != NULL);
    buf_free(&body);
    free(res);
    canned_stop(&c, t);
}

TEST(test_fetch_limits_and_timeouts)
{
    static const char *const answers[] = {
        "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello world", /* announced too large */
        "HTTP/1.0 200 OK\r\n\r\nhello world",                      /* grows too large */
        "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello",       /* cut short */
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",           /* too late */
    };
    Canned c = { .answers = answers, .n = 4, .stall_ms = 600 };
    pthread_t t;
    canned_start(&c, &t);
    FetchResult *res = xmalloc(sizeof *res);
    Buf body;
    ASSERT_EQ_INT(get(&c, "/", 10, 0, res, &body), ERR_TOOLARGE);
    ASSERT_EQ_U64(body.len, 0);
    buf_free(&body);
    ASSERT_EQ_INT(get(&c, "/", 10, 0, res, &body), ERR_TOOLARGE);
    ASSERT_LE(body.len, 10);
    buf_free(&body);
    ASSERT_EQ_INT(get(&c, "/", 1000, 0, res, &body), ERR_IO);
    ASSERT_TRUE(strstr(res->err, "closed before the response was complete") != NULL);
    buf_free(&body);
    ASSERT_EQ_INT(get(&c, "/", 1000, 100, res, &body), ERR_IO);
    ASSERT_TRUE(strstr(res->err, "no data received") != NULL);
    buf_free(&body);
    canned_stop(&c, t);
    /* Nobody listens there now. */
    ASSERT_EQ_INT(get(&c, "/", 1000, 0, res, &body), ERR_IO);
    ASSERT_TRUE(strstr(res->err, "error sending request for url") != NULL);
    buf_free(&body);
    free(res);
}

TEST(test_url_check)
{
    char err[FETCH_MAX_URL + 1024];
    ASSERT_OK(fetch_url_check("http://example.com", err, sizeof err));
    ASSERT_OK(fetch_url_check("HTTP://[::1]:8080/a?b#c", err, sizeof err));
    ASSERT_EQ_INT(fetch_url_check("https://example.com/x", err, sizeof err), ERR_UNSUPPORTED);
    ASSERT_EQ_INT(fetch_url_check("ftp://example.com/x", err, sizeof err), ERR_UNSUPPORTED);
    ASSERT_STR_EQ(err, "URL ftp://example.com/x with scheme ftp is not supported");
    ASSERT_EQ_INT(fetch_url_check("http://:80/x", err, sizeof err), ERR_INVAL);
    ASSERT_STR_EQ(err, "empty host");
    ASSERT_EQ_INT(fetch_url_check("http://h:65536/x", err, sizeof err), ERR_INVAL);
    ASSERT_STR_EQ(err, "invalid port number");
    ASSERT_EQ_INT(fetch_url_check("http://u:p@h/x", err, sizeof err), ERR_INVAL);
    ASSERT_EQ_INT(fetch_url_check("http://[::1/x", err, sizeof err), ERR_INVAL);
    ASSERT_EQ_INT(fetch_url_check("http://h/a b", err, sizeof err), ERR_INVAL);
    ASSERT_EQ_INT(fetch_url_check("relative/x", err, sizeof err), ERR_INVAL);
}

int main(void)
{
    RUN(test_response_bodies);
    RUN(test_response_header_limit);
    RUN(test_fetch_bodies_and_hash);
    RUN(test_fetch_redirects);
    RUN(test_fetch_redirect_loop);
    RUN(test_fetch_limits_and_timeouts);
    RUN(test_url_check);
    return harness_report(__FILE__);
}
