/*
 * httpc.c - the commands' blocking HTTP/1.1 client (see httpc.h).
 */
#include "cmd/httpc.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <fcntl.h>

#include "base/err.h"

enum {
    ST_HEADERS = 0, /* waiting for the status line and headers */
    ST_BODY_LEN,    /* Content-Length bytes left */
    ST_CHUNK_SIZE,  /* a chunk-size line */
    ST_CHUNK_DATA,  /* chunk bytes left */
    ST_CHUNK_CRLF,  /* the CRLF after a chunk's data */
    ST_TRAILERS,    /* trailer lines after the last chunk, up to an empty one */
    ST_BODY_EOF,    /* the body runs to the end of the connection */
    ST_DONE,
};

/* The largest chunk-size line (hex size and extensions) accepted. */
#define HTTPC_MAX_CHUNK_LINE 4096
/* Read size per recv. */
#define HTTPC_READ_BYTES (64 * 1024)

void httpc_response_init(HttpcResponse *r)
{
    memset(r, 0, sizeof *r);
    buf_init(&r->body);
}

void httpc_response_free(HttpcResponse *r)
{
    buf_free(&r->body);
    memset(r, 0, sizeof *r);
}

void httpc_parser_init(HttpcParser *p, int head_request)
{
    memset(p, 0, sizeof *p);
    p->head = head_request;
}

/* find_line returns the length of the line starting at s (up to but not
 * including its LF, a CR before it trimmed via *line_len), or -1 when no
 * LF is in s[0..n). */
static long find_line(const char *s, size_t n, size_t *line_len)
{
    const char *lf = memchr(s, '\n', n);
    if (!lf) return -1;
    size_t l = (size_t)(lf - s);
    *line_len = l > 0 && s[l - 1] == '\r' ? l - 1 : l;
    return (long)(l + 1);
}

/* header_is compares a header name case-insensitively. */
static int header_is(const char *line, size_t name_len, const char *name)
{
    return strlen(name) == name_len && strncasecmp(line, name, name_len) == 0;
}

/* copy_trimmed copies value[0..n) without surrounding blanks into out. */
static void copy_trimmed(char *out, size_t cap, const char *v, size_t n)
{
    while (n && (*v == ' ' || *v == '\t')) v++, n--;
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t')) n--;
    if (n >= cap) n = cap - 1;
    memcpy(out, v, n);
    out[n] = '\0';
}

/* token_in reports whether a comma-separated header value contains tok
 * (case-insensitive); last reports whether it is the last token. */
static int token_in(const char *v, const char *tok, int *last)
{
    int found = 0;
    size_t tl = strlen(tok);
    const char *p = v;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',') p++;
        const char *e = p;
        while (*e && *e != ',') e++;
        const char *te = e;
        while (te > p && (te[-1] == ' ' || te[-1] == '\t')) te--;
        if (te > p) {
            int is = (size_t)(te - p) == tl && strncasecmp(p, tok, tl) == 0;
            found |= is;
            if (last) *last = is;
        }
        p = e;
    }
    return found;
}

/* parse_head parses the status line and headers in data[0..n) (the
 * terminating empty line excluded). */
static int parse_head(HttpcParser *p, const char *data, size_t n, HttpcResponse *r, char *err, size_t errlen)
{
    size_t ll;
    long adv = find_line(data, n + 1, &ll); /* data[n] is the LF of the status line or the blank */
    if (adv < 0) ll = n;
    int major, minor, status;
    char sp;
    if (ll < 12 || sscanf(data, "HTTP/%1d.%1d %3d%c", &major, &minor, &status, &sp) != 4 || major != 1 ||
        (sp != ' ' && sp != '\r' && sp != '\n') || status < 100 || status > 999) {
        snprintf(err, errlen, "not an HTTP/1.x response: \"%.*s\"", (int)(ll > 80 ? 80 : ll), data);
        return ERR_FORMAT;
    }
    /* sscanf's %3d would accept " 20" or "+20": the three digits must be there. */
    for (int i = 9; i < 12; i++)
        if (data[i] < '0' || data[i] > '9') {
            snprintf(err, errlen, "bad status code in \"%.*s\"", (int)(ll > 80 ? 80 : ll), data);
            return ERR_FORMAT;
        }
    r->status = status;
    r->keep_alive = minor >= 1;
    r->content_type[0] = r->retry_after[0] = '\0';
    p->chunked = p->has_length = 0;
    unsigned long long length = 0;
    size_t off = adv < 0 ? n : (size_t)adv;
    while (off < n) {
        const char *line = data + off;
        long a = find_line(line, n - off, &ll);
        if (a < 0) ll = n - off, a = (long)(n - off);
        off += (size_t)a;
        if (ll == 0) continue;
        const char *colon = memchr(line, ':', ll);
        if (!colon || colon == line) {
            snprintf(err, errlen, "malformed header line \"%.*s\"", (int)(ll > 80 ? 80 : ll), line);
            return ERR_FORMAT;
        }
        size_t name_len = (size_t)(colon - line);
        const char *v = colon + 1;
        size_t vl = ll - name_len - 1;
        char value[512];
        copy_trimmed(value, sizeof value, v, vl);
        if (header_is(line, name_len, "content-length")) {
            char *end;
            errno = 0;
            unsigned long long x = value[0] >= '0' && value[0] <= '9' ? strtoull(value, &end, 10) : 0;
            /* Two different lengths are a smuggling sign: refuse, as RFC 9112 asks. */
            if (value[0] < '0' || value[0] > '9' || errno || *end || (p->has_length && x != length)) {
                snprintf(err, errlen, "bad Content-Length \"%s\"", value);
                return ERR_FORMAT;
            }
            length = x;
            p->has_length = 1;
        } else if (header_is(line, name_len, "transfer-encoding")) {
            int last = 0;
            if (token_in(value, "chunked", &last)) {
                if (!last) {
                    snprintf(err, errlen, "unsupported Transfer-Encoding \"%s\"", value);
                    return ERR_FORMAT;
                }
                p->chunked = 1;
            } else if (value[0] && strcasecmp(value, "identity") != 0) {
                snprintf(err, errlen, "unsupported Transfer-Encoding \"%s\"", value);
                return ERR_FORMAT;
            }
        } else if (header_is(line, name_len, "connection")) {
            if (token_in(value, "close", NULL)) r->keep_alive = 0;
            else if (token_in(value, "keep-alive", NULL)) r->keep_alive = 1;
        } else if (header_is(line, name_len, "content-type")) {
            copy_trimmed(r->content_type, sizeof r->content_type, v, vl);
        } else if (header_is(line, name_len, "retry-after")) {
            copy_trimmed(r->retry_after, sizeof r->retry_after, v, vl);
        }
    }
    if (length > HTTPC_MAX_BODY_BYTES) {
        snprintf(err, errlen, "response body of %llu bytes is over the %zu byte limit", length,
                 HTTPC_MAX_BODY_BYTES);
        return ERR_TOOLARGE;
    }
    p->remaining = (size_t)length;
    /* RFC 9112 6.3: HEAD, 1xx, 204 and 304 have no body; chunked wins
     * over a Content-Length; with neither the body runs to the close. */
    if (p->head || status < 200 || status == 204 || status == 304) p->state = ST_DONE;
    else if (p->chunked) p->state = ST_CHUNK_SIZE;
    else if (p->has_length) p->state = p->remaining ? ST_BODY_LEN : ST_DONE;
    else {
        p->state = ST_BODY_EOF;
        r->keep_alive = 0;
    }
    return 0;
}

/* body_append adds n decoded body bytes, refusing past the limit. */
static int body_append(HttpcResponse *r, const char *d, size_t n, char *err, size_t errlen)
{
    if (r->body.len + n > HTTPC_MAX_BODY_BYTES) {
        snprintf(err, errlen, "response body over the %zu byte limit", HTTPC_MAX_BODY_BYTES);
        return ERR_TOOLARGE;
    }
    buf_append(&r->body, d, n);
    return 0;
}

int httpc_parse(HttpcParser *p, const char *data, size_t len, int eof, HttpcResponse *r, size_t *consumed,
                char *err, size_t errlen)
{
    int rc;
    size_t ll;
    for (;;) {
        const char *at = data + p->pos;
        size_t avail = len - p->pos;
        switch (p->state) {
        case ST_HEADERS: {
            /* The head ends at the first empty line (CRLF CRLF, or bare LFs). */
            size_t end = 0, off = 0;
            int found = 0;
            while (off < avail) {
                long a = find_line(at + off, avail - off, &ll);
                if (a < 0) break;
                if (ll == 0 && off > 0) {
                    end = off;
                    off += (size_t)a;
                    found = 1;
                    break;
                }
                off += (size_t)a;
            }
            if (!found) {
                if (avail > HTTPC_MAX_HEADER_BYTES) {
                    snprintf(err, errlen, "response headers over %d bytes", HTTPC_MAX_HEADER_BYTES);
                    return ERR_TOOLARGE;
                }
                if (eof) goto early_eof;
                return ERR_BUSY;
            }
            if (end > HTTPC_MAX_HEADER_BYTES) {
                snprintf(err, errlen, "response headers over %d bytes", HTTPC_MAX_HEADER_BYTES);
                return ERR_TOOLARGE;
            }
            rc = parse_head(p, at, end, r, err, errlen);
            if (rc) return rc;
            p->pos += off;
            if (r->status < 200) { /* interim (100 Continue): the real one follows */
                p->state = ST_HEADERS;
                r->status = 0;
            }
            break;
        }
        case ST_BODY_LEN: {
            size_t n = avail < p->remaining ? avail : p->remaining;
            if ((rc = body_append(r, at, n, err, errlen))) return rc;
            p->pos += n;
            p->remaining -= n;
            if (p->remaining == 0) p->state = ST_DONE;
            else if (eof) goto early_eof;
            else return ERR_BUSY;
            break;
        }
        case ST_CHUNK_SIZE: {
            long a = find_line(at, avail, &ll);
            if (a < 0) {
                if (avail > HTTPC_MAX_CHUNK_LINE) goto bad_chunk;
                if (eof) goto early_eof;
                return ERR_BUSY;
            }
            size_t size = 0, i = 0;
            for (; i < ll; i++) {
                char ch = at[i];
                int d = ch >= '0' && ch <= '9' ? ch - '0'
                      : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                      : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
                if (d < 0) break;
                if (size > (HTTPC_MAX_BODY_BYTES >> 4)) {
                    snprintf(err, errlen, "chunk over the %zu byte limit", HTTPC_MAX_BODY_BYTES);
                    return ERR_TOOLARGE;
                }
                size = size * 16 + (size_t)d;
            }
            /* At least one hex digit, then only blanks or ;extensions. */
            if (i == 0 || (i < ll && at[i] != ';' && at[i] != ' ' && at[i] != '\t')) goto bad_chunk;
            p->pos += (size_t)a;
            p->remaining = size;
            p->state = size ? ST_CHUNK_DATA : ST_TRAILERS;
            break;
        }
        case ST_CHUNK_DATA: {
            size_t n = avail < p->remaining ? avail : p->remaining;
            if ((rc = body_append(r, at, n, err, errlen))) return rc;
            p->pos += n;
            p->remaining -= n;
            if (p->remaining == 0) p->state = ST_CHUNK_CRLF;
            else if (eof) goto early_eof;
            else return ERR_BUSY;
            break;
        }
        case ST_CHUNK_CRLF: {
            long a = find_line(at, avail, &ll);
            if (a < 0) {
                if (avail >= 2) goto bad_chunk;
                if (eof) goto early_eof;
                return ERR_BUSY;
            }
            if (ll != 0) goto bad_chunk;
            p->pos += (size_t)a;
            p->state = ST_CHUNK_SIZE;
            break;
        }
        case ST_TRAILERS: {
            long a = find_line(at, avail, &ll);
            if (a < 0) {
                if (avail > HTTPC_MAX_HEADER_BYTES) goto bad_chunk;
                if (eof) goto early_eof;
                return ERR_BUSY;
            }
            p->pos += (size_t)a;
            if (ll == 0) p->state = ST_DONE; /* trailer fields themselves are ignored */
            break;
        }
        case ST_BODY_EOF:
            if ((rc = body_append(r, at, avail, err, errlen))) return rc;
            p->pos += avail;
            if (!eof) return ERR_BUSY;
            p->state = ST_DONE;
            break;
        case ST_DONE:
            /* Keep the body usable as a C string (JSON parsers, messages). */
            buf_reserve(&r->body, 1);
            r->body.data[r->body.len] = '\0';
            *consumed = p->pos;
            return 0;
        default:
            snprintf(err, errlen, "response parser in a bad state");
            return ERR_FORMAT;
        }
    }

early_eof:
    snprintf(err, errlen, "the connection closed in the middle of the response");
    return ERR_FORMAT;
bad_chunk:
    snprintf(err, errlen, "malformed chunked encoding");
    return ERR_FORMAT;
}

/* ---- URLs and connections ---- */

int httpc_url_parse(const char *url, HttpcUrl *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (strncasecmp(url, "http://", 7) != 0) {
        snprintf(err, errlen, "URL \"%s\" is not http://HOST[:PORT] (https is not supported: use a local "
                 "proxy for TLS)", url);
        return ERR_INVAL;
    }
    const char *h = url + 7;
    const char *slash = strchr(h, '/');
    size_t hl = slash ? (size_t)(slash - h) : strlen(h);
    const char *port = NULL;
    size_t host_len = hl;
    if (hl && h[0] == '[') { /* [v6]:port */
        const char *rb = memchr(h, ']', hl);
        if (!rb) goto bad;
        host_len = (size_t)(rb - h - 1);
        if (host_len >= sizeof out->host) goto bad;
        memcpy(out->host, h + 1, host_len);
        if ((size_t)(rb + 1 - h) < hl) {
            if (rb[1] != ':') goto bad;
            port = rb + 2;
        }
    } else {
        const char *colon = memchr(h, ':', hl);
        if (colon) {
            host_len = (size_t)(colon - h);
            port = colon + 1;
        }
        if (host_len == 0 || host_len >= sizeof out->host) goto bad;
        memcpy(out->host, h, host_len);
    }
    if (port) {
        size_t pl = (size_t)(h + hl - port);
        if (pl == 0 || pl >= sizeof out->port) goto bad;
        for (size_t i = 0; i < pl; i++)
            if (port[i] < '0' || port[i] > '9') goto bad;
        memcpy(out->port, port, pl);
        if (atoi(out->port) < 1 || atoi(out->port) > 65535) goto bad;
    } else {
        snprintf(out->port, sizeof out->port, "80");
    }
    if (slash) {
        size_t bl = strlen(slash);
        while (bl && slash[bl - 1] == '/') bl--;
        if (bl >= sizeof out->base) goto bad;
        memcpy(out->base, slash, bl);
    }
    return 0;
bad:
    snprintf(err, errlen, "cannot read the URL \"%s\" (want http://HOST[:PORT][/PATH])", url);
    return ERR_INVAL;
}

int httpc_init(HttpClient *c, const char *url, int timeout_ms, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    c->fd = -1;
    c->timeout_ms = timeout_ms > 0 ? timeout_ms : HTTPC_DEFAULT_TIMEOUT_MS;
    buf_init(&c->in);
    return httpc_url_parse(url, &c->url, err, errlen);
}

int httpc_add_header(HttpClient *c, const char *name, const char *value)
{
    if (c->n_headers >= HTTPC_MAX_EXTRA_HEADERS) return ERR_FULL;
    /* A CR or LF in a value would split the request: refuse it. */
    if (strpbrk(name, "\r\n:") || strpbrk(value, "\r\n")) return ERR_INVAL;
    Buf b;
    buf_init(&b);
    buf_printf(&b, "%s: %s", name, value);
    c->headers[c->n_headers++] = buf_detach(&b, NULL);
    return 0;
}

static void conn_close(HttpClient *c)
{
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    c->in.len = 0;
}

void httpc_free(HttpClient *c)
{
    conn_close(c);
    for (int i = 0; i < c->n_headers; i++) free(c->headers[i]);
    buf_free(&c->in);
    memset(c, 0, sizeof *c);
    c->fd = -1;
}

/* wait_fd polls fd for events within the client's timeout: 0, or ERR_IO
 * with a message on a timeout. */
static int wait_fd(HttpClient *c, int fd, short events, const char *what, char *err, size_t errlen)
{
    struct pollfd pfd = { fd, events, 0 };
    for (;;) {
        int n = poll(&pfd, 1, c->timeout_ms);
        if (n > 0) return 0;
        if (n < 0 && errno == EINTR) continue;
        if (n == 0)
            snprintf(err, errlen, "http://%s:%s: no answer for %d s while %s", c->url.host, c->url.port,
                     c->timeout_ms / 1000, what);
        else
            snprintf(err, errlen, "poll: %s", strerror(errno));
        return ERR_IO;
    }
}

/* conn_open connects to the URL's host (every address it resolves to, in
 * order) with a non-blocking connect bounded by the timeout. */
static int conn_open(HttpClient *c, char *err, size_t errlen)
{
    struct addrinfo hints = { 0 }, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int g = getaddrinfo(c->url.host, c->url.port, &hints, &res);
    if (g) {
        snprintf(err, errlen, "cannot resolve %s: %s", c->url.host, gai_strerror(g));
        return ERR_IO;
    }
    int last_errno = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            last_errno = errno;
            continue;
        }
        int fl = fcntl(fd, F_GETFL);
        fcntl(fd, F_SETFL, fl | O_NONBLOCK);
        int rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
        if (rc != 0 && errno == EINPROGRESS) {
            char e2[128];
            if (wait_fd(c, fd, POLLOUT, "connecting", e2, sizeof e2) == 0) {
                int so = 0;
                socklen_t sl = sizeof so;
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &sl);
                rc = so ? -1 : 0;
                errno = so;
            } else {
                errno = ETIMEDOUT;
            }
        }
        if (rc == 0) {
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            c->fd = fd;
            freeaddrinfo(res);
            return 0;
        }
        last_errno = errno;
        close(fd);
    }
    freeaddrinfo(res);
    snprintf(err, errlen, "cannot connect to http://%s:%s: %s (is the server running?)", c->url.host,
             c->url.port, strerror(last_errno ? last_errno : ECONNREFUSED));
    return ERR_IO;
}

/* send_all writes data[0..n) with the timeout; ERR_IO on failure. */
static int send_all(HttpClient *c, const char *data, size_t n, char *err, size_t errlen)
{
    while (n) {
        ssize_t w = send(c->fd, data, n, MSG_NOSIGNAL);
        if (w > 0) {
            data += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (wait_fd(c, c->fd, POLLOUT, "sending", err, errlen)) return ERR_IO;
            continue;
        }
        snprintf(err, errlen, "http://%s:%s: send: %s", c->url.host, c->url.port, strerror(errno));
        return ERR_IO;
    }
    return 0;
}

/* attempt sends one request on the (possibly reused) connection and reads
 * its response. *stale is set when the connection died before any
 * byte of the response arrived (worth one retry on a new connection). */
static int attempt(HttpClient *c, const Buf *head, const void *body, size_t body_len, HttpcResponse *r,
                   int *stale, char *err, size_t errlen)
{
    *stale = 0;
    int reused = c->fd >= 0;
    if (!reused && conn_open(c, err, errlen)) return ERR_IO;
    c->in.len = 0;
    if (send_all(c, head->data, head->len, err, errlen) ||
        (body_len && send_all(c, body, body_len, err, errlen))) {
        *stale = reused;
        conn_close(c);
        return ERR_IO;
    }
    HttpcParser p;
    httpc_parser_init(&p, 0);
    for (;;) {
        buf_reserve(&c->in, HTTPC_READ_BYTES);
        ssize_t n = recv(c->fd, c->in.data + c->in.len, HTTPC_READ_BYTES, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (wait_fd(c, c->fd, POLLIN, "waiting for the response", err, errlen)) {
                conn_close(c);
                return ERR_IO;
            }
            continue;
        }
        if (n < 0) {
            *stale = reused && c->in.len == 0;
            snprintf(err, errlen, "http://%s:%s: recv: %s", c->url.host, c->url.port, strerror(errno));
            conn_close(c);
            return ERR_IO;
        }
        if (n == 0 && c->in.len == 0) {
            *stale = reused;
            snprintf(err, errlen, "http://%s:%s closed the connection without answering", c->url.host,
                     c->url.port);
            conn_close(c);
            return ERR_IO;
        }
        c->in.len += (size_t)n;
        size_t used;
        int rc = httpc_parse(&p, c->in.data, c->in.len, n == 0, r, &used, err, errlen);
        if (rc == ERR_BUSY) continue;
        if (rc) {
            conn_close(c);
            return rc;
        }
        /* Bytes after the response would be an unasked-for answer: do not
         * reuse such a connection. */
        if (!r->keep_alive || used != c->in.len || n == 0) conn_close(c);
        c->in.len = 0;
        return 0;
    }
}

int httpc_request(HttpClient *c, const char *method, const char *path, const char *content_type,
                  const void *body, size_t body_len, HttpcResponse *r, char *err, size_t errlen)
{
    Buf head;
    buf_init(&head);
    buf_printf(&head, "%s %s%s HTTP/1.1\r\nHost: %s%s%s:%s\r\nUser-Agent: vitrine-cli\r\n"
               "Accept: application/json\r\n",
               method, c->url.base, path, strchr(c->url.host, ':') ? "[" : "", c->url.host,
               strchr(c->url.host, ':') ? "]" : "", c->url.port);
    for (int i = 0; i < c->n_headers; i++) buf_printf(&head, "%s\r\n", c->headers[i]);
    if (content_type) buf_printf(&head, "Content-Type: %s\r\n", content_type);
    if (content_type || strcmp(method, "GET") != 0) buf_printf(&head, "Content-Length: %zu\r\n", body_len);
    buf_append_str(&head, "\r\n");
    int stale = 0;
    httpc_response_init(r);
    int rc = attempt(c, &head, body, body_len, r, &stale, err, errlen);
    if (rc && stale) {
        httpc_response_free(r);
        httpc_response_init(r);
        rc = attempt(c, &head, body, body_len, r, &stale, err, errlen);
    }
    if (rc) httpc_response_free(r);
    buf_free(&head);
    return rc;
}
