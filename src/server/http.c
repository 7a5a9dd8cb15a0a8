/*
 * http.c - llhttp glue, request accessors and the response writer
 * declared in http.h. This is the only file that includes llhttp.h.
 *
 * llhttp calls its data callbacks with fragments: a URL, a header name or
 * value, or a body may be split across reads at any byte. The URL and the
 * current header name and value are accumulated in scratch Bufs owned by
 * the parser and copied into the request's arena when llhttp says the
 * element is complete (on_*_complete), so the arena only ever holds whole
 * strings. The body goes into the request's own Buf because it can be large
 * and grows; it is reserved from Content-Length up to a bound.
 *
 * on_message_complete returns HPE_PAUSED: llhttp stops right after the
 * message's last byte and tells where (llhttp_get_error_pos), which is how
 * the caller learns how much it consumed and keeps the pipelined rest.
 * The alternative, parsing ahead into a queue of requests, would let a
 * client make the server hold many parsed requests per connection; paused
 * bytes in the socket buffer cost nothing.
 */
#include "server/http.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "llhttp.h"

#include "base/err.h"
#include "base/log.h"

/* Bytes charged per header line on top of name and value (": " and CRLF),
 * so a flood of empty headers also hits the header limit. */
#define HTTP_HEADER_LINE_OVERHEAD 4

struct HttpParser {
    llhttp_t ll;
    HttpLimits limits;
    HttpRequest *req;  /* being built; NULL between requests */
    HttpRequest *done; /* complete, waiting to be handed over by feed */
    Buf url, field, value;
    HttpPair hdrs[HTTP_MAX_HEADERS];
    size_t n_hdrs;
    size_t header_bytes;
    uint64_t start_ns;
    uint64_t headers_ns; /* when the header section was complete; 0 before */
    int headers_done;
    int want_continue;
    int dead;
    int err_status;
    const char *err_msg;
};

/* ---- request ---- */

HttpRequest *http_request_new(void)
{
    HttpRequest *req = xcalloc(1, sizeof *req);
    arena_init(&req->arena, 8 * 1024);
    buf_init(&req->body);
    buf_init(&req->resp_headers);
    buf_init(&req->resp_head);
    buf_init(&req->resp_body);
    req->method_name = "";
    req->target = req->path = req->query_string = "";
    req->http_major = 1;
    req->http_minor = 1;
    req->start_ns = now_ns();
    req->refs = 1; /* the owner's */
    return req;
}

void http_request_hold(HttpRequest *req)
{
    req->refs++;
}

void http_request_release(HttpRequest *req)
{
    if (!req) return;
    if (req->refs <= 0) {
        /* More releases than holds: the caller's bug. Leaking this one
         * request beats freeing memory someone may still use. */
        log_error("http: request released more often than held (%d)", req->refs);
        return;
    }
    if (--req->refs > 0) return;
    if (req->budget) budget_release(req->budget, req->body_charged);
    arena_free(&req->arena);
    buf_free(&req->body);
    buf_free(&req->resp_headers);
    buf_free(&req->resp_head);
    buf_free(&req->resp_body);
    free(req);
}

void http_request_free(HttpRequest *req)
{
    http_request_release(req);
}

static const char *pair_find(const HttpPair *pairs, size_t n, const char *name, int nocase)
{
    for (size_t i = 0; i < n; i++)
        if (nocase ? !strcasecmp(pairs[i].name, name) : !strcmp(pairs[i].name, name))
            return pairs[i].value;
    return NULL;
}

const char *http_header(const HttpRequest *req, const char *name)
{
    return pair_find(req->headers, req->n_headers, name, 1);
}

const char *http_query_get(const HttpRequest *req, const char *name)
{
    return pair_find(req->query, req->n_query, name, 0);
}

const char *http_param(const HttpRequest *req, const char *name)
{
    return pair_find(req->params, req->n_params, name, 0);
}

static const char *const method_names[] = {
    [HTTP_METHOD_OTHER] = "", [HTTP_METHOD_GET] = "GET", [HTTP_METHOD_HEAD] = "HEAD",
    [HTTP_METHOD_POST] = "POST", [HTTP_METHOD_PUT] = "PUT", [HTTP_METHOD_DELETE] = "DELETE",
    [HTTP_METHOD_PATCH] = "PATCH", [HTTP_METHOD_OPTIONS] = "OPTIONS",
};

HttpMethod http_method_from_str(const char *s)
{
    for (size_t i = 1; i < ARRAY_LEN(method_names); i++)
        if (!strcmp(s, method_names[i])) return (HttpMethod)i;
    return HTTP_METHOD_OTHER;
}

const char *http_method_str(HttpMethod m)
{
    return (size_t)m < ARRAY_LEN(method_names) ? method_names[m] : "";
}

static int hex_val(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

char *http_url_decode(Arena *a, const char *s, size_t len, int plus_space)
{
    char *out = arena_alloc(a, len + 1);
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < len &&
            (hi = hex_val(s[i + 1])) >= 0 && (lo = hex_val(s[i + 2])) >= 0) {
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else if (plus_space && s[i] == '+') {
            out[o++] = ' ';
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return out;
}

/* parse_query splits "a=1&b=x%20y" into decoded pairs in the arena. */
static void parse_query(HttpRequest *req, const char *q)
{
    size_t n = 0;
    if (!*q) return;
    for (const char *c = q; *c; c++) n += *c == '&';
    n++;
    req->query = arena_alloc(&req->arena, n * sizeof(HttpPair));
    req->n_query = 0;
    const char *s = q;
    while (*s) {
        const char *amp = strchr(s, '&');
        size_t len = amp ? (size_t)(amp - s) : strlen(s);
        if (len > 0) {
            const char *eq = memchr(s, '=', len);
            size_t klen = eq ? (size_t)(eq - s) : len;
            HttpPair *p = &req->query[req->n_query++];
            p->name = http_url_decode(&req->arena, s, klen, 1);
            p->value = eq ? http_url_decode(&req->arena, eq + 1, len - klen - 1, 1)
                          : http_url_decode(&req->arena, "", 0, 0);
        }
        if (!amp) break;
        s = amp + 1;
    }
}

/* ---- llhttp callbacks ---- */

static int parser_fail(HttpParser *p, int status, const char *msg)
{
    p->err_status = status;
    p->err_msg = msg;
    llhttp_set_error_reason(&p->ll, msg);
    return HPE_USER;
}

static int charge_header_bytes(HttpParser *p, size_t n)
{
    p->header_bytes += n;
    if (p->header_bytes > p->limits.max_header_bytes)
        return parser_fail(p, 431, "request header section too large");
    return 0;
}

static int on_message_begin(llhttp_t *ll)
{
    HttpParser *p = ll->data;
    p->req = http_request_new();
    if (p->limits.budget) {
        p->req->budget = p->limits.budget;
        arena_set_budget(&p->req->arena, p->limits.budget);
    }
    p->start_ns = p->req->start_ns;
    p->headers_ns = 0;
    p->header_bytes = 0;
    p->n_hdrs = 0;
    p->headers_done = 0;
    p->want_continue = 0;
    p->url.len = p->field.len = p->value.len = 0;
    return 0;
}

/* body_charge charges n more bytes of req's body to the budget, and
 * parse bytes reserved for its JSON (prepaid to the request's arena). A
 * body that ends up bigger than HTTP_BUDGET_SMALL_BYTES must fit (ERR_FULL
 * when not, nothing charged); a smaller one is always admitted and
 * reserves nothing: its arena is charged as it fills (http.h). */
static int body_charge(HttpParser *p, HttpRequest *req, size_t n, size_t parse)
{
    MemBudget *b = p->limits.budget;
    if (b) {
        if (req->body_charged + n > HTTP_BUDGET_SMALL_BYTES) {
            if (budget_try_charge(b, n + parse)) return ERR_FULL;
            arena_prepay(&req->arena, parse);
        } else {
            budget_charge(b, n);
        }
    }
    req->body_charged += n;
    return 0;
}

static int on_url(llhttp_t *ll, const char *at, size_t len)
{
    HttpParser *p = ll->data;
    if (charge_header_bytes(p, len)) return HPE_USER;
    buf_append(&p->url, at, len);
    return 0;
}

static int on_header_field(llhttp_t *ll, const char *at, size_t len)
{
    HttpParser *p = ll->data;
    if (charge_header_bytes(p, len)) return HPE_USER;
    buf_append(&p->field, at, len);
    return 0;
}

static int on_header_value(llhttp_t *ll, const char *at, size_t len)
{
    HttpParser *p = ll->data;
    if (charge_header_bytes(p, len)) return HPE_USER;
    buf_append(&p->value, at, len);
    return 0;
}

static int on_header_value_complete(llhttp_t *ll)
{
    HttpParser *p = ll->data;
    if (charge_header_bytes(p, HTTP_HEADER_LINE_OVERHEAD)) return HPE_USER;
    if (p->n_hdrs >= HTTP_MAX_HEADERS) return parser_fail(p, 431, "too many request headers");
    Arena *a = &p->req->arena;
    p->hdrs[p->n_hdrs].name = arena_strndup(a, p->field.data ? p->field.data : "", p->field.len);
    /* llhttp leaves trailing whitespace of a value in place (OWS); drop it. */
    size_t vlen = p->value.len;
    while (vlen > 0 && (p->value.data[vlen - 1] == ' ' || p->value.data[vlen - 1] == '\t')) vlen--;
    p->hdrs[p->n_hdrs].value = arena_strndup(a, p->value.data ? p->value.data : "", vlen);
    p->n_hdrs++;
    p->field.len = p->value.len = 0;
    return 0;
}

static int on_headers_complete(llhttp_t *ll)
{
    HttpParser *p = ll->data;
    HttpRequest *req = p->req;
    Arena *a = &req->arena;

    req->headers = arena_alloc(a, (p->n_hdrs ? p->n_hdrs : 1) * sizeof(HttpPair));
    memcpy(req->headers, p->hdrs, p->n_hdrs * sizeof(HttpPair));
    req->n_headers = p->n_hdrs;
    req->method_name = llhttp_method_name((llhttp_method_t)llhttp_get_method(ll));
    req->method = http_method_from_str(req->method_name);
    req->http_major = llhttp_get_http_major(ll);
    req->http_minor = llhttp_get_http_minor(ll);

    char *target = arena_strndup(a, p->url.data ? p->url.data : "", p->url.len);
    req->target = target;
    char *qm = strchr(target, '?');
    if (qm) {
        req->path = arena_strndup(a, target, (size_t)(qm - target));
        req->query_string = qm + 1;
    } else {
        req->path = target;
        req->query_string = "";
    }
    /* A fragment is never sent by a conforming client; ignore one anyway. */
    char *hash = strchr(req->query_string, '#');
    if (hash) req->query_string = arena_strndup(a, req->query_string, (size_t)(hash - req->query_string));
    parse_query(req, req->query_string);

    p->headers_done = 1;
    p->headers_ns = now_ns();
    if ((ll->flags & F_CONTENT_LENGTH) && ll->content_length > p->limits.max_body_bytes)
        return parser_fail(p, 413, "request body too large");
    if ((ll->flags & F_CONTENT_LENGTH) && ll->content_length > 0) {
        /* Admission: the whole announced body (and its NUL) is charged
         * now, so a request that could not finish within the budget is
         * refused before it costs anything. */
        size_t parse = (size_t)ll->content_length * HTTP_BUDGET_PARSE_FACTOR;
        if (body_charge(p, req, (size_t)ll->content_length + 1, parse))
            return parser_fail(p, 503, "request memory budget exhausted, retry later");
        size_t pre = (size_t)MIN(ll->content_length, (uint64_t)HTTP_BODY_PREALLOC_BYTES);
        req->body.data = xrealloc(req->body.data, pre + 1);
        req->body.cap = pre + 1;
    }
    const char *expect = http_header(req, "Expect");
    if (expect && !strcasecmp(expect, "100-continue") && req->http_major == 1 && req->http_minor >= 1 &&
        ((ll->flags & F_CHUNKED) || ((ll->flags & F_CONTENT_LENGTH) && ll->content_length > 0)))
        p->want_continue = 1;
    return 0;
}

static int on_body(llhttp_t *ll, const char *at, size_t len)
{
    HttpParser *p = ll->data;
    HttpRequest *req = p->req;
    p->want_continue = 0;
    if (req->body.len + len > p->limits.max_body_bytes) return parser_fail(p, 413, "request body too large");
    Buf *b = &req->body;
    size_t need = b->len + len + 1;
    if (need > b->cap) {
        /* Grow by doubling, but never past an announced length: a body
         * with Content-Length ends at exactly its charged size. */
        size_t cap = b->cap ? b->cap : 256;
        while (cap < need) cap *= 2;
        if (ll->flags & F_CONTENT_LENGTH) cap = MAX(need, MIN(cap, req->body_charged));
        if (cap > req->body_charged && body_charge(p, req, cap - req->body_charged, 0))
            return parser_fail(p, 503, "request memory budget exhausted, retry later");
        b->data = xrealloc(b->data, cap);
        b->cap = cap;
    }
    memcpy(b->data + b->len, at, len);
    b->len += len;
    b->data[b->len] = '\0';
    return 0;
}

static int on_message_complete(llhttp_t *ll)
{
    HttpParser *p = ll->data;
    HttpRequest *req = p->req;
    if (!req->body.data) buf_append(&req->body, "", 0); /* body.data is always a string */
    req->keep_alive = llhttp_should_keep_alive(ll) && !ll->upgrade;
    p->done = req;
    p->req = NULL;
    p->want_continue = 0;
    p->start_ns = 0;
    /* Stop right after this message so the rest waits for its turn. */
    return HPE_PAUSED;
}

static const llhttp_settings_t http_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_header_value_complete = on_header_value_complete,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* ---- parser ---- */

HttpParser *http_parser_new(const HttpLimits *limits)
{
    HttpParser *p = xcalloc(1, sizeof *p);
    p->limits = *limits;
    buf_init(&p->url);
    buf_init(&p->field);
    buf_init(&p->value);
    llhttp_init(&p->ll, HTTP_REQUEST, &http_settings);
    p->ll.data = p;
    return p;
}

void http_parser_free(HttpParser *p)
{
    if (!p) return;
    http_request_free(p->req);
    http_request_free(p->done);
    buf_free(&p->url);
    buf_free(&p->field);
    buf_free(&p->value);
    free(p);
}

int http_parser_started(const HttpParser *p) { return p->req != NULL; }

uint64_t http_parser_started_ns(const HttpParser *p) { return p->req ? p->start_ns : 0; }

void http_parser_body_progress(const HttpParser *p, uint64_t *headers_done_ns, size_t *body_bytes)
{
    *headers_done_ns = p->req ? p->headers_ns : 0;
    *body_bytes = p->req ? p->req->body.len : 0;
}

int http_parser_take_continue(HttpParser *p)
{
    int w = p->want_continue;
    p->want_continue = 0;
    return w;
}

HttpFeedResult http_parser_feed(HttpParser *p, const char *data, size_t len, size_t *consumed,
                                HttpRequest **req_out, int *status, const char **msg)
{
    *consumed = 0;
    *req_out = NULL;
    if (p->dead) {
        *status = p->err_status;
        *msg = p->err_msg;
        return HTTP_FEED_ERROR;
    }
    if (len == 0) return HTTP_FEED_MORE;
    llhttp_errno_t e = llhttp_execute(&p->ll, data, len);
    if (e == HPE_OK) {
        *consumed = len;
        return HTTP_FEED_MORE;
    }
    if (e == HPE_PAUSED && p->done) {
        *consumed = (size_t)(llhttp_get_error_pos(&p->ll) - data);
        llhttp_resume(&p->ll);
        *req_out = p->done;
        p->done = NULL;
        return HTTP_FEED_REQUEST;
    }
    /* Anything else is fatal for this connection: a syntax error, one of
     * our limits (HPE_USER), or an upgrade we do not speak. */
    p->dead = 1;
    if (!p->err_status) {
        p->err_status = 400;
        p->err_msg = e == HPE_PAUSED_UPGRADE ? "protocol upgrade not supported" : "malformed request";
        log_debug("http: parse error %s: %s", llhttp_errno_name(e), llhttp_get_error_reason(&p->ll));
    }
    const char *pos = llhttp_get_error_pos(&p->ll);
    *consumed = pos && pos >= data && pos <= data + len ? (size_t)(pos - data) : len;
    *status = p->err_status;
    *msg = p->err_msg;
    return HTTP_FEED_ERROR;
}

/* ---- responses ---- */

int http_status_for_err(int err)
{
    switch (err) {
    case ERR_OK: return 200;
    case ERR_INVAL: return 400;
    case ERR_FORMAT: return 400;     /* a client-sent blob (image, JSON) is malformed */
    case ERR_NOTFOUND: return 404;
    case ERR_EXISTS: return 409;
    case ERR_TOOLARGE: return 413;
    case ERR_FULL: return 503;       /* a bounded queue is full: retry later */
    case ERR_BUSY: return 503;       /* shutting down or locked: retry later */
    case ERR_UNSUPPORTED: return 501;/* e.g. embedding without weights */
    case ERR_NOMEM: return 500;
    case ERR_IO: return 500;
    case ERR_STORE: return 500;
    default: return 500;
    }
}

const char *http_status_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    default: return status < 300 ? "OK" : status < 500 ? "Bad Request" : "Internal Server Error";
    }
}

double http_request_seconds(const HttpRequest *req)
{
    return (double)(now_ns() - req->start_ns) / 1e9;
}

void http_set_header(HttpRequest *req, const char *name, const char *value)
{
    /* A CR or LF in a value would let it forge headers; replace them. */
    buf_append_str(&req->resp_headers, name);
    buf_append(&req->resp_headers, ": ", 2);
    for (const char *c = value; *c; c++) {
        char ch = (*c == '\r' || *c == '\n') ? ' ' : *c;
        buf_append(&req->resp_headers, &ch, 1);
    }
    buf_append(&req->resp_headers, "\r\n", 2);
}

void http_build_head(HttpRequest *req, int keep_alive)
{
    Buf *h = &req->resp_head;
    h->len = 0;
    buf_printf(h, "HTTP/1.1 %d %s\r\n", req->status, http_status_reason(req->status));
    /* A 304 answers a conditional GET without a body, and its
     * Content-Length would have to be the full response's (RFC 9110
     * 8.6); a 204 has none either. */
    if (req->status != 304 && req->status != 204)
        buf_printf(h, "Content-Length: %zu\r\n", req->resp_body.len);
    if (req->resp_headers.len) buf_append(h, req->resp_headers.data, req->resp_headers.len);
    if (!keep_alive)
        buf_append_str(h, "Connection: close\r\n");
    else if (req->http_major == 1 && req->http_minor == 0)
        buf_append_str(h, "Connection: keep-alive\r\n");
    buf_append(h, "\r\n", 2);
}

/* finish records the status and hands the request to its owner. Reading
 * req->status is safe on a second answer too: whoever answers holds a
 * reference (the server's during the handler, http_request_hold's LATER),
 * so the request outlives the first answer's write. */
static void finish(HttpRequest *req, int status)
{
    if (req->status) {
        /* A second response is a handler bug; in release builds ignore it. */
        log_error("http: %s %s answered twice (%d, then %d)", req->method_name, req->path,
                  req->status, status);
        return;
    }
    req->status = status;
    if (req->orphaned || !req->on_response) {
        /* Nobody will write it: drop the reference the owner left behind. */
        http_request_release(req);
        return;
    }
    req->on_response(req);
}

static void set_content_type(HttpRequest *req, const char *content_type)
{
    if (content_type) http_set_header(req, "Content-Type", content_type);
}

void http_respond(HttpRequest *req, int status, const char *content_type, const void *body, size_t len)
{
    if (req->status) {
        finish(req, status); /* logs the double answer */
        return;
    }
    set_content_type(req, content_type);
    req->resp_body.len = 0;
    buf_append(&req->resp_body, body, len);
    finish(req, status);
}

void http_respond_buf(HttpRequest *req, int status, const char *content_type, Buf *body)
{
    if (req->status) {
        buf_free(body);
        finish(req, status); /* logs the double answer */
        return;
    }
    set_content_type(req, content_type);
    buf_free(&req->resp_body);
    req->resp_body = *body;
    buf_init(body);
    finish(req, status);
}

void http_respond_text(HttpRequest *req, int status, const char *text)
{
    http_respond(req, status, "text/plain; charset=utf-8", text, strlen(text));
}

static void respond_error_v(HttpRequest *req, int status, const char *fmt, va_list ap)
{
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    Buf b;
    buf_init(&b);
    JsonWriter w;
    jw_init(&w, &b);
    jw_object_begin(&w);
    jw_key(&w, "status");
    jw_object_begin(&w);
    jw_key(&w, "error");
    jw_string(&w, msg);
    jw_object_end(&w);
    jw_key(&w, "time");
    jw_double(&w, http_request_seconds(req));
    jw_object_end(&w);
    http_respond_buf(req, status, "application/json", &b);
}

void http_respond_error(HttpRequest *req, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    respond_error_v(req, status, fmt, ap);
    va_end(ap);
}

void http_respond_err(HttpRequest *req, int err, const char *fmt, ...)
{
    if (err == ERR_FULL || err == ERR_BUSY) http_set_header(req, "Retry-After", "1");
    va_list ap;
    va_start(ap, fmt);
    respond_error_v(req, http_status_for_err(err), fmt, ap);
    va_end(ap);
}

/* A result written to a request that was already answered goes here and is
 * dropped: the answered body may be on its way to the socket, and growing
 * it could move the memory under the write. Loop thread only. */
static Buf http_discard;

/* The writer lives in the request's arena so a LATER response can use it. */
JsonWriter *http_result_begin(HttpRequest *req)
{
    JsonWriter *w = arena_alloc(&req->arena, sizeof *w);
    if (req->status) {
        http_discard.len = 0;
        jw_init(w, &http_discard);
        return w;
    }
    req->resp_body.len = 0;
    buf_append_str(&req->resp_body, "{\"result\":");
    jw_init(w, &req->resp_body);
    return w;
}

void http_result_end(HttpRequest *req, int status)
{
    if (req->status) {
        finish(req, status); /* logs the double answer */
        return;
    }
    buf_printf(&req->resp_body, ",\"status\":\"ok\",\"time\":");
    /* jw_double gives the shortest round-trip text, same as error bodies. */
    JsonWriter w;
    jw_init(&w, &req->resp_body);
    jw_double(&w, http_request_seconds(req));
    buf_append(&req->resp_body, "}", 1);
    set_content_type(req, "application/json");
    finish(req, status);
}

void http_respond_result_raw(HttpRequest *req, const char *json)
{
    JsonWriter *w = http_result_begin(req);
    jw_raw(w, json, strlen(json));
    http_result_end(req, 200);
}

void http_format_simple(Buf *out, int status, const char *msg, const char *extra_headers)
{
    Buf body;
    buf_init(&body);
    buf_append_str(&body, "{\"status\":{\"error\":");
    json_escape_into(&body, msg, strlen(msg));
    buf_append_str(&body, "},\"time\":0.0}");
    buf_printf(out,
               "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
               "%sConnection: close\r\n\r\n",
               status, http_status_reason(status), body.len, extra_headers ? extra_headers : "");
    buf_append(out, body.data, body.len);
    buf_free(&body);
}

/* ---- the response parser (http.h) ----
 *
 * A second set of llhttp callbacks in HTTP_RESPONSE mode. Header names and
 * values are accumulated as for requests (fragments), kept in an arena
 * that lives for one message; body fragments go to the sink as llhttp
 * hands them over, never accumulated. Interim 1xx answers are parsed and
 * dropped, so the sink sees the final response only. */

struct HttpResponseParser {
    llhttp_t ll;
    HttpResponseSink sink;
    Arena arena; /* this message's header strings */
    Buf field, value;
    HttpPair hdrs[HTTP_MAX_HEADERS];
    size_t n_hdrs;
    size_t header_bytes;
    int head_request;
    int interim; /* the message being parsed is a 1xx */
    int done;
    int stopped;
    const char *err;
};

static int resp_fail(HttpResponseParser *p, const char *msg)
{
    p->err = msg;
    llhttp_set_error_reason(&p->ll, msg);
    return HPE_USER;
}

static int resp_charge(HttpResponseParser *p, size_t n)
{
    p->header_bytes += n;
    return p->header_bytes > HTTP_RESPONSE_MAX_HEADER_BYTES ? resp_fail(p, "response header section too large")
                                                            : 0;
}

static int resp_on_message_begin(llhttp_t *ll)
{
    HttpResponseParser *p = ll->data;
    arena_free(&p->arena);
    arena_init(&p->arena, 4 * 1024);
    p->n_hdrs = 0;
    p->header_bytes = 0;
    p->interim = 0;
    p->field.len = p->value.len = 0;
    return 0;
}

static int resp_on_header_field(llhttp_t *ll, const char *at, size_t len)
{
    HttpResponseParser *p = ll->data;
    if (resp_charge(p, len)) return HPE_USER;
    buf_append(&p->field, at, len);
    return 0;
}

static int resp_on_header_value(llhttp_t *ll, const char *at, size_t len)
{
    HttpResponseParser *p = ll->data;
    if (resp_charge(p, len)) return HPE_USER;
    buf_append(&p->value, at, len);
    return 0;
}

static int resp_on_header_value_complete(llhttp_t *ll)
{
    HttpResponseParser *p = ll->data;
    if (resp_charge(p, HTTP_HEADER_LINE_OVERHEAD)) return HPE_USER;
    if (p->n_hdrs >= HTTP_MAX_HEADERS) return resp_fail(p, "too many response headers");
    size_t vlen = p->value.len;
    while (vlen > 0 && (p->value.data[vlen - 1] == ' ' || p->value.data[vlen - 1] == '\t')) vlen--;
    p->hdrs[p->n_hdrs].name = arena_strndup(&p->arena, p->field.data ? p->field.data : "", p->field.len);
    p->hdrs[p->n_hdrs].value = arena_strndup(&p->arena, p->value.data ? p->value.data : "", vlen);
    p->n_hdrs++;
    p->field.len = p->value.len = 0;
    return 0;
}

static int resp_on_headers_complete(llhttp_t *ll)
{
    HttpResponseParser *p = ll->data;
    int status = llhttp_get_status_code(ll);
    /* 101 would switch protocols: a GET never asks for it. */
    if (status == 101) return resp_fail(p, "unexpected protocol switch");
    if (status < 200) {
        p->interim = 1;
        return 0;
    }
    if (p->sink.on_head && p->sink.on_head(p->sink.ctx, status, p->hdrs, p->n_hdrs)) {
        p->stopped = 1;
        return resp_fail(p, "stopped");
    }
    /* 1 tells llhttp that this message has no body (the answer to a HEAD). */
    return p->head_request ? 1 : 0;
}

static int resp_on_body(llhttp_t *ll, const char *at, size_t len)
{
    HttpResponseParser *p = ll->data;
    if (p->interim || !p->sink.on_body) return 0;
    if (p->sink.on_body(p->sink.ctx, at, len)) {
        p->stopped = 1;
        return resp_fail(p, "stopped");
    }
    return 0;
}

static int resp_on_message_complete(llhttp_t *ll)
{
    HttpResponseParser *p = ll->data;
    if (p->interim) return 0; /* the final answer follows */
    p->done = 1;
    return HPE_PAUSED;
}

static const llhttp_settings_t http_response_settings = {
    .on_message_begin = resp_on_message_begin,
    .on_header_field = resp_on_header_field,
    .on_header_value = resp_on_header_value,
    .on_header_value_complete = resp_on_header_value_complete,
    .on_headers_complete = resp_on_headers_complete,
    .on_body = resp_on_body,
    .on_message_complete = resp_on_message_complete,
};

HttpResponseParser *http_response_parser_new(const HttpResponseSink *sink, int head_request)
{
    HttpResponseParser *p = xcalloc(1, sizeof *p);
    p->sink = *sink;
    p->head_request = head_request;
    arena_init(&p->arena, 4 * 1024);
    buf_init(&p->field);
    buf_init(&p->value);
    llhttp_init(&p->ll, HTTP_RESPONSE, &http_response_settings);
    p->ll.data = p;
    return p;
}

void http_response_parser_free(HttpResponseParser *p)
{
    if (!p) return;
    arena_free(&p->arena);
    buf_free(&p->field);
    buf_free(&p->value);
    free(p);
}

/* resp_result turns llhttp's code into the caller's. */
static HttpResponseResult resp_result(HttpResponseParser *p, llhttp_errno_t e)
{
    if (p->done) return HTTP_RESPONSE_DONE;
    if (e == HPE_OK) return HTTP_RESPONSE_MORE;
    if (p->stopped) return HTTP_RESPONSE_STOPPED;
    if (!p->err) p->err = e == HPE_INVALID_EOF_STATE ? "the connection closed before the response was complete"
                                                     : "malformed response";
    log_debug("http: response parse error %s: %s", llhttp_errno_name(e), llhttp_get_error_reason(&p->ll));
    return HTTP_RESPONSE_ERROR;
}

HttpResponseResult http_response_feed(HttpResponseParser *p, const char *data, size_t len)
{
    if (p->done) return HTTP_RESPONSE_DONE;
    if (p->err) return p->stopped ? HTTP_RESPONSE_STOPPED : HTTP_RESPONSE_ERROR;
    if (len == 0) return HTTP_RESPONSE_MORE;
    return resp_result(p, llhttp_execute(&p->ll, data, len));
}

HttpResponseResult http_response_finish(HttpResponseParser *p)
{
    if (p->done) return HTTP_RESPONSE_DONE;
    if (p->err) return p->stopped ? HTTP_RESPONSE_STOPPED : HTTP_RESPONSE_ERROR;
    llhttp_errno_t e = llhttp_finish(&p->ll);
    if (!p->done && e == HPE_OK) {
        /* llhttp_finish accepts an end between messages: here no final
         * answer arrived at all. */
        p->err = "the connection closed before the response was complete";
        return HTTP_RESPONSE_ERROR;
    }
    return resp_result(p, e);
}

const char *http_response_error(const HttpResponseParser *p) { return p->err ? p->err : ""; }
