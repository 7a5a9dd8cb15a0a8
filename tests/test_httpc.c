/*
 * test_httpc.c - the commands' HTTP client (src/cmd/httpc.c).
 *
 *   - the response parser on hand-written responses (the expected status,
 *     body and keep-alive written out here): Content-Length, chunked (with
 *     extensions and trailers), bodies that run to the close, 204 and
 *     interim 100 responses, HTTP/1.0, pipelined bytes after a response;
 *     each fed whole and one byte at a time;
 *   - its refusals: not HTTP, bad or conflicting Content-Length, bad chunk
 *     sizes, a connection that ends early, headers over the limit;
 *   - URLs: host, port, base path, IPv6, https refused;
 *   - over a real socket (a forked server answering canned bytes): keep-
 *     alive reuse, a request resent once when the server closed the idle
 *     connection, a timeout when the server never answers, and a clear
 *     error when nothing listens.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>

#include "base/err.h"
#include "cmd/httpc.h"
#include "harness.h"

/* parse_all feeds text whole (step 0) or step bytes at a time, eof after
 * the last byte when eof_at_end; returns the parser's last result. */
static int parse_all(const char *text, size_t len, size_t step, int eof_at_end, HttpcResponse *r, size_t *used,
                     char *err, size_t errlen)
{
    HttpcParser p;
    httpc_parser_init(&p, 0);
    httpc_response_init(r);
    if (!step) step = len ? len : 1;
    int rc = ERR_BUSY;
    for (size_t have = step < len ? step : len;; have = have + step < len ? have + step : len) {
        rc = httpc_parse(&p, text, have, eof_at_end && have == len, r, used, err, errlen);
        if (rc != ERR_BUSY || have == len) break;
    }
    return rc;
}

typedef struct {
    const char *name;
    const char *wire;
    int eof; /* the peer closes after the bytes */
    int status;
    const char *body;
    int keep_alive;
    size_t used; /* bytes of wire that are the response (0: all) */
} Case;

static const Case good[] = {
    { "content-length", "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"a\": true}",
      0, 200, "{\"a\": true}", 1, 0 },
    { "chunked", "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n5;ext=1\r\npedia\r\n"
                 "E\r\n in\r\n\r\nchunks.\r\n0\r\nX-Trailer: 1\r\n\r\n",
      0, 201, "Wikipedia in\r\n\r\nchunks.", 1, 0 },
    { "chunked upper hex", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\nA\r\n0123456789\r\n0\r\n\r\n",
      0, 200, "0123456789", 1, 0 },
    { "until close", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it", 1, 200, "all of it", 0, 0 },
    { "204", "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", 0, 204, "", 1, 0 },
    { "100 then 200", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 0, 200, "ok", 1, 0 },
    { "http/1.0", "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhi", 0, 200, "hi", 0, 0 },
    { "1.0 keep-alive", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nhi", 0, 200, "hi", 1, 0 },
    { "close", "HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 3\r\n\r\nnope", 0, 404, "nop", 0,
      sizeof "HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 3\r\n\r\nnop" - 1 },
    { "pipelined", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\naHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb", 0,
      200, "a", 1, sizeof "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na" - 1 },
    { "bare LF", "HTTP/1.1 200 OK\nContent-Length: 3\n\nabc", 0, 200, "abc", 1, 0 },
    { "empty length", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0, 200, "", 1, 0 },
    { "retry-after", "HTTP/1.1 503 Service Unavailable\r\nRetry-After:  3 \r\nContent-Length: 0\r\n\r\n", 0, 503, "",
      1, 0 },
};

TEST(test_parse_good)
{
    for (size_t k = 0; k < sizeof good / sizeof good[0]; k++) {
        const Case *c = &good[k];
        size_t len = strlen(c->wire);
        size_t want_used = c->used ? c->used : len;
        for (size_t step = 0; step <= 1; step++) {
            HttpcResponse r;
            size_t used = 0;
            char err[256] = "";
            int rc = parse_all(c->wire, len, step, c->eof, &r, &used, err, sizeof err);
            if (rc != 0) printf("  case %s (step %zu): %s\n", c->name, step, err);
            ASSERT_EQ_INT(rc, 0);
            ASSERT_EQ_INT(r.status, c->status);
            ASSERT_EQ_INT(r.body.len, strlen(c->body));
            ASSERT_TRUE(memcmp(r.body.data, c->body, r.body.len) == 0);
            ASSERT_EQ_INT(r.body.data[r.body.len], '\0');
            ASSERT_EQ_INT(r.keep_alive, c->keep_alive);
            /* Byte by byte, the parser stops exactly at the response's end. */
            if (step == 0) ASSERT_EQ_INT(used, want_used);
            httpc_response_free(&r);
        }
    }
    /* The headers the client reads. */
    HttpcResponse r;
    size_t used;
    char err[256];
    const char *w = "HTTP/1.1 503 Busy\r\ncontent-type:  application/json \r\nRETRY-AFTER: 7\r\nContent-Length: 0\r\n\r\n";
    ASSERT_OK(parse_all(w, strlen(w), 0, 0, &r, &used, err, sizeof err));
    ASSERT_STR_EQ(r.content_type, "application/json");
    ASSERT_STR_EQ(r.retry_after, "7");
    httpc_response_free(&r);
}

TEST(test_parse_incomplete)
{
    /* Everything but the last byte: the parser wants more, not an error. */
    for (size_t k = 0; k < sizeof good / sizeof good[0]; k++) {
        if (good[k].eof) continue;
        const char *wire = good[k].wire;
        size_t len = good[k].used ? good[k].used : strlen(wire);
        HttpcParser p;
        httpc_parser_init(&p, 0);
        HttpcResponse r;
        httpc_response_init(&r);
        size_t used;
        char err[256];
        ASSERT_EQ_INT(httpc_parse(&p, wire, len - 1, 0, &r, &used, err, sizeof err), ERR_BUSY);
        httpc_response_free(&r);
        /* And the connection closing there is an error saying so. */
        httpc_parser_init(&p, 0);
        httpc_response_init(&r);
        ASSERT_EQ_INT(httpc_parse(&p, wire, len - 1, 1, &r, &used, err, sizeof err), ERR_FORMAT);
        ASSERT_TRUE(strstr(err, "closed") != NULL || strstr(err, "malformed") != NULL);
        httpc_response_free(&r);
    }
}

TEST(test_parse_errors)
{
    static const struct {
        const char *wire;
        int rc;
        const char *msg;
    } bad[] = {
        { "SSH-2.0-OpenSSH\r\n\r\n", ERR_FORMAT, "not an HTTP/1.x response" },
        { "HTTP/2 200\r\n\r\n", ERR_FORMAT, "not an HTTP/1.x response" },
        { "HTTP/1.1 2x0 OK\r\n\r\n", ERR_FORMAT, "" },
        { "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", ERR_FORMAT, "bad Content-Length" },
        { "HTTP/1.1 200 OK\r\nContent-Length: 12abc\r\n\r\n", ERR_FORMAT, "bad Content-Length" },
        { "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", ERR_FORMAT, "bad Content-Length" },
        { "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999\r\n\r\n", ERR_TOOLARGE, "limit" },
        { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", ERR_FORMAT, "chunked" },
        { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n", ERR_FORMAT, "chunked" },
        { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFF\r\n", ERR_TOOLARGE, "limit" },
        { "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", ERR_FORMAT, "Transfer-Encoding" },
        { "HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", ERR_FORMAT, "malformed header" },
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        HttpcResponse r;
        size_t used;
        char err[256] = "";
        int rc = parse_all(bad[k].wire, strlen(bad[k].wire), 0, 0, &r, &used, err, sizeof err);
        if (rc != bad[k].rc) printf("  case %zu: rc %d, err %s\n", k, rc, err);
        ASSERT_EQ_INT(rc, bad[k].rc);
        ASSERT_TRUE(strstr(err, bad[k].msg) != NULL);
        httpc_response_free(&r);
    }
    /* Headers that never end, past the limit. */
    size_t n = HTTPC_MAX_HEADER_BYTES + 100;
    char *big = malloc(n + 1);
    memcpy(big, "HTTP/1.1 200 OK\r\nX: ", 20);
    memset(big + 20, 'a', n - 20);
    big[n] = '\0';
    HttpcResponse r;
    size_t used;
    char err[256];
    ASSERT_EQ_INT(parse_all(big, n, 0, 0, &r, &used, err, sizeof err), ERR_TOOLARGE);
    httpc_response_free(&r);
    free(big);
}

TEST(test_url)
{
    HttpcUrl u;
    char err[256];
    ASSERT_OK(httpc_url_parse("http://example.com:6334/base/", &u, err, sizeof err));
    ASSERT_STR_EQ(u.host, "example.com");
    ASSERT_STR_EQ(u.port, "6334");
    ASSERT_STR_EQ(u.base, "/base");
    ASSERT_OK(httpc_url_parse("http://10.0.0.1", &u, err, sizeof err));
    ASSERT_STR_EQ(u.host, "10.0.0.1");
    ASSERT_STR_EQ(u.port, "80");
    ASSERT_STR_EQ(u.base, "");
    ASSERT_OK(httpc_url_parse("http://[::1]:6333", &u, err, sizeof err));
    ASSERT_STR_EQ(u.host, "::1");
    ASSERT_STR_EQ(u.port, "6333");
    ASSERT_EQ_INT(httpc_url_parse("https://x:443", &u, err, sizeof err), ERR_INVAL);
    ASSERT_TRUE(strstr(err, "https") != NULL);
    ASSERT_EQ_INT(httpc_url_parse("http://x:99999", &u, err, sizeof err), ERR_INVAL);
    ASSERT_EQ_INT(httpc_url_parse("http://:80", &u, err, sizeof err), ERR_INVAL);
    ASSERT_EQ_INT(httpc_url_parse("x:80", &u, err, sizeof err), ERR_INVAL);
}

/* ---- over a socket ---- */

/* A forked server: for each connection accepted, reads one request head
 * per script step and writes the step's bytes; a NULL step closes the
 * connection and takes the next one. */
static int listen_any(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { 0 };
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) || listen(fd, 8)) return -1;
    socklen_t l = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &l);
    *port = ntohs(a.sin_port);
    return fd;
}

/* read_request reads until the end of a request head plus its body
 * (Content-Length), counting requests in *n. */
static int read_request(int c)
{
    char buf[8192];
    size_t have = 0;
    for (;;) {
        ssize_t n = read(c, buf + have, sizeof buf - 1 - have);
        if (n <= 0) return -1;
        have += (size_t)n;
        buf[have] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (!end) continue;
        const char *cl = strstr(buf, "Content-Length: ");
        size_t body = cl ? (size_t)atol(cl + 16) : 0;
        if (have >= (size_t)(end + 4 - buf) + body) return 0;
    }
}

static pid_t serve_script(int lfd, const char *const *steps)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid != 0) return pid;
    size_t k = 0;
    while (steps[k] || steps[k + 1]) {
        int c = accept(lfd, NULL, NULL);
        if (c < 0) _exit(1);
        for (; steps[k]; k++) {
            if (read_request(c)) break;
            if (!strcmp(steps[k], "HANG")) {
                pause();
                _exit(0);
            }
            if (write(c, steps[k], strlen(steps[k])) < 0) _exit(1);
        }
        close(c);
        k++; /* past the NULL that closed it */
    }
    _exit(0);
}

TEST(test_socket)
{
    int port;
    int lfd = listen_any(&port);
    ASSERT_TRUE(lfd >= 0);
    /* Two answers on one connection (keep-alive, the second chunked),
     * then the server closes it while idle; the third request is resent
     * on a new connection and gets its answer there. */
    static const char *const steps[] = {
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nsecond\r\n0\r\n\r\n",
        NULL,
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nthird",
        "HANG",
        NULL,
        NULL,
    };
    pid_t pid = serve_script(lfd, steps);
    ASSERT_TRUE(pid > 0);
    char url[64], err[512];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    HttpClient c;
    ASSERT_OK(httpc_init(&c, url, 2000, err, sizeof err));
    ASSERT_OK(httpc_add_header(&c, "api-key", "secret"));
    ASSERT_EQ_INT(httpc_add_header(&c, "x", "a\r\nInjected: 1"), ERR_INVAL);
    HttpcResponse r;
    ASSERT_OK(httpc_request(&c, "GET", "/a", NULL, NULL, 0, &r, err, sizeof err));
    ASSERT_STR_EQ(r.body.data, "first");
    int fd1 = c.fd;
    ASSERT_TRUE(fd1 >= 0);
    httpc_response_free(&r);
    ASSERT_OK(httpc_request(&c, "POST", "/b", "application/json", "{}", 2, &r, err, sizeof err));
    ASSERT_STR_EQ(r.body.data, "second");
    ASSERT_EQ_INT(c.fd, fd1); /* the same connection */
    httpc_response_free(&r);
    usleep(100000); /* the server has closed it by now */
    ASSERT_OK(httpc_request(&c, "POST", "/c", "application/json", "{}", 2, &r, err, sizeof err));
    ASSERT_STR_EQ(r.body.data, "third");
    httpc_response_free(&r);
    /* The server reads the request and never answers: a timeout. */
    int rc = httpc_request(&c, "GET", "/d", NULL, NULL, 0, &r, err, sizeof err);
    ASSERT_EQ_INT(rc, ERR_IO);
    ASSERT_TRUE(strstr(err, "no answer for 2 s") != NULL);
    httpc_free(&c);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    close(lfd);

    /* Nothing listening: a clear error naming the address. */
    ASSERT_OK(httpc_init(&c, url, 2000, err, sizeof err));
    rc = httpc_request(&c, "GET", "/", NULL, NULL, 0, &r, err, sizeof err);
    ASSERT_EQ_INT(rc, ERR_IO);
    ASSERT_TRUE(strstr(err, "cannot connect to http://127.0.0.1:") != NULL);
    httpc_free(&c);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    RUN(test_parse_good);
    RUN(test_parse_incomplete);
    RUN(test_parse_errors);
    RUN(test_url);
    RUN(test_socket);
    return harness_report(__FILE__);
}
