/*
 * fetch.c - the blocking HTTP/1.1 GET of fetch.h: URL parsing, name
 * resolution, connect and read with poll timeouts, redirects, and the body
 * streamed to a file descriptor through http.c's response parser.
 *
 * One request per connection (Connection: close): a download is one big
 * answer, so keeping connections alive would buy nothing and cost a pool.
 * Every address the name resolves to is tried in order (localhost may be
 * ::1 first while the server listens on 127.0.0.1 only), each within the
 * connect timeout.
 */
#include "server/fetch.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/cli.h"
#include "base/err.h"
#include "base/util.h"
#include "server/http.h"

/* A URL split into what a request needs. */
typedef struct {
    char host[256];   /* without the brackets of an IPv6 literal */
    char port[8];     /* decimal, "80" when absent */
    char authority[300]; /* the Host header: host[:port] as written */
    char target[FETCH_MAX_URL]; /* path and query, "/" when empty */
} FetchUrl;

/* parse_url splits an http:// URL. The messages follow the url crate's
 * words where it has them (Qdrant parses locations with it). */
static int parse_url(const char *url, FetchUrl *u, char *err, size_t errlen)
{
    memset(u, 0, sizeof *u);
    if (strlen(url) >= FETCH_MAX_URL) {
        snprintf(err, errlen, "the URL is longer than %d bytes", FETCH_MAX_URL - 1);
        return ERR_INVAL;
    }
    size_t sl = strcspn(url, ":/?#");
    if (url[sl] != ':' || sl == 0) {
        snprintf(err, errlen, "relative URL without a base");
        return ERR_INVAL;
    }
    if (sl == 5 && !strncasecmp(url, "https", 5)) {
        snprintf(err, errlen,
                 "URL %s with scheme https is not supported: vitrine is built without TLS; "
                 "serve the snapshot over http:// or upload it (POST .../snapshots/upload)",
                 url);
        return ERR_UNSUPPORTED;
    }
    if (!(sl == 4 && !strncasecmp(url, "http", 4))) {
        snprintf(err, errlen, "URL %s with scheme %.*s is not supported", url, (int)sl, url);
        return ERR_UNSUPPORTED;
    }
    const char *p = url + sl + 1;
    /* The url crate reads "http:x" and "http:/x" as "http://x" too. */
    while (*p == '/' || *p == '\\') p++;
    size_t al = strcspn(p, "/?#\\");
    const char *auth = p, *rest = p + al;
    if (memchr(auth, '@', al)) {
        snprintf(err, errlen, "credentials in the URL are not supported");
        return ERR_INVAL;
    }
    const char *host = auth, *port = NULL;
    size_t hl;
    if (al && auth[0] == '[') {
        const char *close = memchr(auth, ']', al);
        if (!close) {
            snprintf(err, errlen, "invalid IPv6 address");
            return ERR_INVAL;
        }
        host = auth + 1;
        hl = (size_t)(close - host);
        if (close + 1 < auth + al) {
            if (close[1] != ':') {
                snprintf(err, errlen, "invalid IPv6 address");
                return ERR_INVAL;
            }
            port = close + 2;
        }
    } else {
        const char *colon = memchr(auth, ':', al);
        hl = colon ? (size_t)(colon - auth) : al;
        if (colon) port = colon + 1;
    }
    if (hl == 0) {
        snprintf(err, errlen, "empty host");
        return ERR_INVAL;
    }
    if (hl >= sizeof u->host || al >= sizeof u->authority) {
        snprintf(err, errlen, "the host name is too long");
        return ERR_INVAL;
    }
    memcpy(u->host, host, hl);
    memcpy(u->authority, auth, al);
    size_t pl = port ? (size_t)(auth + al - port) : 0;
    unsigned long pn = 80;
    if (pl) {
        pn = 0;
        for (size_t i = 0; i < pl; i++) {
            if (port[i] < '0' || port[i] > '9' || pn > 65535) {
                pn = 65536;
                break;
            }
            pn = pn * 10 + (unsigned long)(port[i] - '0');
        }
        if (pn > 65535) {
            snprintf(err, errlen, "invalid port number");
            return ERR_INVAL;
        }
    }
    snprintf(u->port, sizeof u->port, "%lu", pn);
    /* The target: path and query, without the fragment (never sent). */
    size_t tl = strcspn(rest, "#");
    if (tl == 0 || rest[0] != '/') {
        u->target[0] = '/';
        memcpy(u->target + 1, rest, tl);
    } else {
        memcpy(u->target, rest, tl);
    }
    for (char *c = u->target; *c; c++)
        if (*c == '\\') *c = '/'; /* as the url crate normalises special schemes */
    /* Spaces and control bytes cannot go on a request line. */
    for (const unsigned char *c = (const unsigned char *)u->target; *c; c++)
        if (*c <= ' ' || *c == 0x7f) {
            snprintf(err, errlen, "the URL holds a space or a control character");
            return ERR_INVAL;
        }
    return 0;
}

int fetch_url_check(const char *url, char *err, size_t errlen)
{
    FetchUrl u;
    return parse_url(url, &u, err, errlen);
}

/* connect_one connects a non-blocking socket to ai within timeout_ms. */
static int connect_one(const struct addrinfo *ai, int timeout_ms, int *out, int *sys_err)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0) {
        *sys_err = errno;
        return ERR_IO;
    }
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        if (errno != EINPROGRESS) {
            *sys_err = errno;
            close(fd);
            return ERR_IO;
        }
        struct pollfd pfd = { .fd = fd, .events = POLLOUT };
        int n;
        do n = poll(&pfd, 1, timeout_ms);
        while (n < 0 && errno == EINTR);
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        if (n == 0) soerr = ETIMEDOUT;
        else if (n < 0) soerr = errno;
        else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0) soerr = errno;
        if (soerr) {
            *sys_err = soerr;
            close(fd);
            return ERR_IO;
        }
    }
    *out = fd;
    return 0;
}

/* connect_url resolves the host and connects to the first address that
 * answers. */
static int connect_url(const FetchUrl *u, int timeout_ms, int *out, char *err, size_t errlen)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG };
    struct addrinfo *res = NULL;
    int g = getaddrinfo(u->host, u->port, &hints, &res);
    if (g != 0) {
        snprintf(err, errlen, "cannot resolve %s: %s", u->host, gai_strerror(g));
        return ERR_IO;
    }
    int sys_err = 0, rc = ERR_IO;
    for (const struct addrinfo *ai = res; ai && rc; ai = ai->ai_next)
        rc = connect_one(ai, timeout_ms, out, &sys_err);
    freeaddrinfo(res);
    if (rc)
        snprintf(err, errlen, "cannot connect to %s: %s", u->authority,
                 sys_err == ETIMEDOUT ? "timed out" : strerror(sys_err));
    return rc;
}

/* wait_fd waits until fd is ready for events, at most timeout_ms. */
static int wait_fd(int fd, short events, int timeout_ms)
{
    struct pollfd pfd = { .fd = fd, .events = events };
    int n;
    do n = poll(&pfd, 1, timeout_ms);
    while (n < 0 && errno == EINTR);
    if (n == 0) errno = ETIMEDOUT;
    return n > 0 ? 0 : -1;
}

static int send_all(int fd, const char *p, size_t len, int timeout_ms)
{
    while (len) {
        ssize_t w = send(fd, p, len, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (wait_fd(fd, POLLOUT, timeout_ms)) return -1;
            continue;
        }
        if (w < 0) return -1;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* One attempt's state, shared with the parser's sink. */
typedef struct {
    const FetchRequest *req;
    FetchResult *res;
    Sha256 hash;
    int status;
    char location[FETCH_MAX_URL]; /* a redirect's Location, "" when none */
    int rc;                       /* an error the sink stopped for */
} Attempt;

static int is_redirect(int status)
{
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

static int sink_head(void *ctx, int status, const HttpPair *h, size_t n)
{
    Attempt *a = ctx;
    a->status = status;
    if (is_redirect(status)) {
        for (size_t i = 0; i < n; i++)
            if (!strcasecmp(h[i].name, "Location")) {
                snprintf(a->location, sizeof a->location, "%s", h[i].value);
                break;
            }
        /* Without a Location, the 3xx is the final answer (as reqwest). */
        return a->location[0] ? 1 : 0;
    }
    if (status < 200 || status > 299) return 1; /* its body is not wanted */
    for (size_t i = 0; i < n; i++) {
        unsigned long long cl;
        char *end;
        if (strcasecmp(h[i].name, "Content-Length")) continue;
        errno = 0;
        cl = strtoull(h[i].value, &end, 10);
        if (!errno && end != h[i].value && cl > a->req->max_bytes) {
            snprintf(a->res->err, sizeof a->res->err,
                     "the answer has %llu bytes, more than the %llu a download may have", cl,
                     (unsigned long long)a->req->max_bytes);
            a->rc = ERR_TOOLARGE;
            return 1;
        }
    }
    return 0;
}

static int sink_body(void *ctx, const char *data, size_t len)
{
    Attempt *a = ctx;
    FetchResult *res = a->res;
    if (a->status < 200 || a->status > 299) return 0;
    if (res->bytes + len > a->req->max_bytes) {
        snprintf(res->err, sizeof res->err, "the answer has more than the %llu bytes a download may have",
                 (unsigned long long)a->req->max_bytes);
        a->rc = ERR_TOOLARGE;
        return 1;
    }
    sha256_update(&a->hash, data, len);
    res->bytes += len;
    while (len) {
        ssize_t w = write(a->req->fd, data, len);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) {
            a->rc = errno == ENOSPC ? ERR_FULL : ERR_IO;
            snprintf(res->err, sizeof res->err, "cannot write the download: %s", strerror(errno));
            return 1;
        }
        data += w;
        len -= (size_t)w;
    }
    return 0;
}

/* attempt makes one request to res->url and reads its answer. */
static int attempt(const FetchRequest *req, FetchResult *res, const char *api_key, Attempt *a)
{
    FetchUrl u;
    int rc = parse_url(res->url, &u, res->err, sizeof res->err);
    if (rc) return rc;
    int ct = req->connect_timeout_ms > 0 ? req->connect_timeout_ms : FETCH_CONNECT_TIMEOUT_MS;
    int rt = req->read_timeout_ms > 0 ? req->read_timeout_ms : FETCH_READ_TIMEOUT_MS;
    char why[512];
    int fd = -1;
    rc = connect_url(&u, ct, &fd, why, sizeof why);
    if (rc) {
        snprintf(res->err, sizeof res->err, "error sending request for url (%s): %s", res->url, why);
        return rc;
    }
    Buf head;
    buf_init(&head);
    buf_printf(&head,
               "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: vitrine/%s\r\nAccept: */*\r\n"
               "Connection: close\r\n",
               u.target, u.authority, VITRINE_VERSION);
    if (api_key) buf_printf(&head, "api-key: %s\r\n", api_key);
    buf_append(&head, "\r\n", 2);
    int sent = send_all(fd, head.data, head.len, rt);
    buf_free(&head);
    if (sent) {
        snprintf(res->err, sizeof res->err, "error sending request for url (%s): %s", res->url,
                 strerror(errno));
        close(fd);
        return ERR_IO;
    }
    memset(a, 0, sizeof *a);
    a->req = req;
    a->res = res;
    sha256_init(&a->hash);
    HttpResponseSink sink = { .on_head = sink_head, .on_body = sink_body, .ctx = a };
    HttpResponseParser *p = http_response_parser_new(&sink, 0);
    char *buf = xmalloc(FETCH_READ_BYTES);
    HttpResponseResult r = HTTP_RESPONSE_MORE;
    rc = 0;
    while (r == HTTP_RESPONSE_MORE) {
        ssize_t n = recv(fd, buf, FETCH_READ_BYTES, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (wait_fd(fd, POLLIN, rt) == 0) continue;
            if (errno == ETIMEDOUT)
                snprintf(res->err, sizeof res->err,
                         "error reading a response from url (%s): no data received within %d s",
                         res->url, rt / 1000);
            else
                snprintf(res->err, sizeof res->err, "error reading a response from url (%s): %s",
                         res->url, strerror(errno));
            rc = ERR_IO;
            break;
        }
        if (n < 0) {
            snprintf(res->err, sizeof res->err, "error reading a response from url (%s): %s", res->url,
                     strerror(errno));
            rc = ERR_IO;
            break;
        }
        r = n == 0 ? http_response_finish(p) : http_response_feed(p, buf, (size_t)n);
    }
    if (!rc && r == HTTP_RESPONSE_STOPPED && a->rc) rc = a->rc;
    if (!rc && r == HTTP_RESPONSE_ERROR) {
        /* A response cut short at the end of the connection is an I/O
         * failure; anything else is not HTTP. */
        int cut = a->status && !strcmp(http_response_error(p),
                                       "the connection closed before the response was complete");
        snprintf(res->err, sizeof res->err, "error reading a response from url (%s): %s", res->url,
                 http_response_error(p));
        rc = cut ? ERR_IO : ERR_FORMAT;
    }
    free(buf);
    http_response_parser_free(p);
    close(fd);
    res->status = a->status;
    if (!rc && a->status >= 200 && a->status <= 299) sha256_final(&a->hash, res->sha256);
    return rc;
}

/* resolve_location makes the absolute URL a redirect's Location names,
 * relative to base (RFC 3986 section 5.2, the common forms: absolute,
 * scheme-relative, absolute path, relative path). */
static int resolve_location(const char *base, const char *loc, char *out, size_t cap)
{
    size_t sl = strcspn(loc, ":/?#");
    int n;
    if (loc[sl] == ':' && sl > 0) {
        n = snprintf(out, cap, "%s", loc);
    } else {
        const char *after = strstr(base, "//");
        after = after ? after + 2 : base;
        size_t origin = (size_t)(after - base) + strcspn(after, "/?#");
        if (loc[0] == '/' && loc[1] == '/') {
            n = snprintf(out, cap, "%.*s%s", (int)(after - base - 2), base, loc);
        } else if (loc[0] == '/') {
            n = snprintf(out, cap, "%.*s%s", (int)origin, base, loc);
        } else {
            /* Relative to the base path's folder. */
            size_t pl = strcspn(base + origin, "?#");
            size_t dir = origin;
            for (size_t i = origin; i < origin + pl; i++)
                if (base[i] == '/') dir = i + 1;
            if (dir == origin) n = snprintf(out, cap, "%.*s/%s", (int)origin, base, loc);
            else n = snprintf(out, cap, "%.*s%s", (int)dir, base, loc);
        }
    }
    return n < 0 || (size_t)n >= cap ? ERR_INVAL : 0;
}

/* same_origin is 1 when both URLs name the same host and port. */
static int same_origin(const char *a, const char *b)
{
    FetchUrl ua, ub;
    char e[8];
    if (parse_url(a, &ua, e, sizeof e) || parse_url(b, &ub, e, sizeof e)) return 0;
    return !strcasecmp(ua.host, ub.host) && !strcmp(ua.port, ub.port);
}

int fetch_url(const FetchRequest *req, FetchResult *res)
{
    memset(res, 0, sizeof *res);
    snprintf(res->url, sizeof res->url, "%s", req->url);
    const char *api_key = req->api_key;
    for (int hops = 0;; hops++) {
        Attempt a;
        int rc = attempt(req, res, api_key, &a);
        if (rc) return rc;
        if (!(is_redirect(a.status) && a.location[0])) return 0;
        if (hops == FETCH_MAX_REDIRECTS) {
            snprintf(res->err, sizeof res->err,
                     "error following redirect for url (%s): more than %d redirects", res->url,
                     FETCH_MAX_REDIRECTS);
            return ERR_IO;
        }
        char next[FETCH_MAX_URL];
        if (resolve_location(res->url, a.location, next, sizeof next)) {
            snprintf(res->err, sizeof res->err, "error following redirect for url (%s): the location is too long",
                     res->url);
            return ERR_INVAL;
        }
        /* The key was given for the URL the client named: a redirect to
         * another host must not carry it there. */
        if (api_key && !same_origin(res->url, next)) api_key = NULL;
        snprintf(res->url, sizeof res->url, "%s", next);
        res->status = 0;
    }
}
