/*
 * http.h - HTTP/1.1 request parsing (llhttp glue), the request a handler
 * sees, and the response writer (the only module that sees llhttp.h).
 *
 * Design. One HttpParser lives per connection. The server feeds it the bytes
 * it reads; llhttp calls back with fragments (a header name or a body may
 * arrive in many pieces, split anywhere), which the parser accumulates into
 * an HttpRequest. When a message is complete the parser pauses and hands the
 * whole request over, so pipelined requests behind it stay unparsed in the
 * connection's buffer and are served strictly one after the other, in order.
 * Limits are checked while bytes arrive, never after: header bytes (431),
 * body bytes (413), malformed input (400). After an error the parser is dead
 * and the connection is closed once the error response is out.
 *
 * Every request owns one Arena (URL, headers, params, and whatever the
 * handler allocates) and one body buffer; both are freed once, by
 * http_request_free, after the response has been written or dropped.
 *
 * Responding. A handler answers exactly once, either before it returns or
 * LATER on the loop thread (after a threadpool job or a worker queue
 * completes), with one of the http_respond* functions. Those build the
 * response bytes in the request and call the owner's on_response hook (the
 * server's connection). When the client went away meanwhile, the owner marks
 * the request orphaned instead of freeing it, and the response call frees it:
 * memory a pending job references is never freed under it.
 *
 * Lifetime. A request is counted: its owner holds one reference (dropped
 * by http_request_free once the response is written, or by the answer to
 * an orphan), the server holds one while the handler runs, and code that
 * keeps the request past the handler to answer LATER (a job's done
 * callback) holds one with http_request_hold until it is done with it,
 * answer included, then calls http_request_release. The memory goes with
 * the last reference. So a second answer, a handler bug that release
 * builds log and ignore, always finds the request alive to be recognised
 * as one: it is never a read of freed memory, even when the first answer
 * was already written and its owner let go.
 */
#ifndef VITRINE_HTTP_H
#define VITRINE_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/budget.h"
#include "base/json.h"
#include "base/util.h"

/* Request header section: request line plus all header lines. */
#define HTTP_MIN_HEADER_BYTES 1024
#define HTTP_DEFAULT_HEADER_BYTES (16 * 1024)
#define HTTP_MAX_HEADER_BYTES (1024 * 1024)
/* Number of header lines in one request. */
#define HTTP_MAX_HEADERS 100
/* Request body (after de-chunking). 32 MiB holds ~10k 512-d vectors as JSON. */
#define HTTP_MIN_BODY_BYTES 1024
#define HTTP_DEFAULT_BODY_BYTES (32u * 1024 * 1024)
#define HTTP_MAX_BODY_BYTES (1024u * 1024 * 1024)
/* Bodies up to this size are reserved up front from Content-Length; bigger
 * ones grow as bytes actually arrive, so a lying header costs no memory
 * (only budget, below, until the connection's deadline ends it). */
#define HTTP_BODY_PREALLOC_BYTES (1024 * 1024)
/*
 * The request memory budget (HttpLimits.budget). Every request's body and
 * arena (where its JSON is parsed) are charged to one process-wide
 * MemBudget. A body with a Content-Length is charged in full when its
 * headers arrive, together with HTTP_BUDGET_PARSE_FACTOR times its length
 * reserved for its parsed JSON and what the handler builds from it in the
 * request's arena (arena_prepay); a chunked body is charged as it grows
 * and its arena as it fills. A body bigger than HTTP_BUDGET_SMALL_BYTES
 * that does not fit within HTTP_BUDGET_ADMIT_PERCENT of the budget is
 * refused with 503 and Retry-After (at headers time, or at the chunk that
 * would overflow) and the connection is closed; a smaller one
 * is always admitted (and reserves nothing ahead), so probes, searches and
 * single-point writes keep working while uploads wait: their bodies are
 * bounded by the connection limit (1,024 x 64 KiB = 64 MiB at worst, a few
 * MiB in practice) and their DOMs by the budget's hard limit.
 * A JSON parse stops with 503 when its DOM pushes the budget past the
 * whole limit (json.h): the DOM is 0.3x its text for float32 vectors,
 * 1.7x for 16-d ones, 5x for payload-heavy points and up to 15x for
 * hostile input such as [[],[],...] (measured, json_parse_packed). The
 * last fifth of the budget is kept for those overshoots and the small
 * requests, so searches are not refused while uploads fill the rest.
 */
#define HTTP_BUDGET_SMALL_BYTES (64 * 1024)
#define HTTP_BUDGET_PARSE_FACTOR 2
#define HTTP_BUDGET_ADMIT_PERCENT 80

typedef enum {
    HTTP_METHOD_OTHER = 0,
    HTTP_METHOD_GET,
    HTTP_METHOD_HEAD,
    HTTP_METHOD_POST,
    HTTP_METHOD_PUT,
    HTTP_METHOD_DELETE,
    HTTP_METHOD_PATCH,
    HTTP_METHOD_OPTIONS,
} HttpMethod;

/* A name/value pair; both NUL-terminated and owned by the request's arena. */
typedef struct {
    const char *name;
    const char *value;
} HttpPair;

typedef struct HttpRequest HttpRequest;

struct HttpRequest {
    /* ---- filled by the parser; read-only for handlers ---- */
    Arena arena;             /* per-request memory; handlers may allocate here */
    HttpMethod method;
    const char *method_name; /* "GET", "PROPFIND", ... */
    const char *target;      /* request target as sent: "/a/b?x=1" */
    const char *path;        /* target up to '?', still percent-encoded */
    const char *query_string;/* after '?', "" when none */
    HttpPair *headers;       /* in arrival order; names as sent */
    size_t n_headers;
    HttpPair *query;         /* query parameters, percent-decoded, in order */
    size_t n_query;
    HttpPair *params;        /* path parameters set by the router, decoded */
    size_t n_params;
    Buf body;                /* de-chunked body, NUL-terminated; len 0 when none */
    int http_major, http_minor;
    int keep_alive;          /* the client allows another request after this one */
    uint64_t start_ns;       /* when the first byte of the request was parsed */
    MemBudget *budget;       /* the body is charged here (the arena too), or NULL */
    size_t body_charged;     /* bytes of the body charged to budget */
    const char *route;       /* matched route pattern ("/collections/{name}"), or NULL */

    /* ---- the response, built by http_respond*; private ---- */
    int status;              /* 0 until responded */
    Buf resp_headers;        /* extra header lines added by http_set_header */
    Buf resp_head;           /* status line and headers, ready to write */
    Buf resp_body;           /* body bytes */

    /* ---- the owner (the server's connection); private ---- */
    void (*on_response)(HttpRequest *req); /* called once by http_respond* */
    void *owner;
    int orphaned;            /* owner gone: http_respond* drops its reference */
    int refs;                /* references (see Lifetime above); loop thread only */
};

/* ---- request accessors ---- */

/* http_header returns the first header named name (case-insensitive), or NULL. */
const char *http_header(const HttpRequest *req, const char *name);
/* http_query_get returns the first query parameter named name, or NULL. */
const char *http_query_get(const HttpRequest *req, const char *name);
/* http_param returns the path parameter named name ("{name}"), or NULL. */
const char *http_param(const HttpRequest *req, const char *name);
/* http_method_from_str maps "GET" etc. to HttpMethod (HTTP_METHOD_OTHER if unknown). */
HttpMethod http_method_from_str(const char *s);
const char *http_method_str(HttpMethod m);
/* http_url_decode decodes %XX (and '+' as space when plus_space) from
 * s[0..len) into a NUL-terminated arena string; invalid escapes stay literal. */
char *http_url_decode(Arena *a, const char *s, size_t len, int plus_space);

/* http_request_new allocates an empty request holding one reference, its
 * owner's (the parser does this; tests and handlers that fabricate requests
 * may too; answering a request without an owner drops that reference).
 * http_request_free drops the owner's reference; the arena, body and
 * response buffers and the struct go with the last one. NULL is ignored. */
HttpRequest *http_request_new(void);
void http_request_free(HttpRequest *req);
/* http_request_hold takes one more reference, http_request_release drops
 * one (see Lifetime above). Loop thread only. */
void http_request_hold(HttpRequest *req);
void http_request_release(HttpRequest *req);

/* ---- responses (loop thread only; exactly one per request) ---- */

/* http_status_for_err is THE mapping from an ERR_* code to an HTTP status. */
int http_status_for_err(int err);
/* http_status_reason returns "Not Found" for 404 and so on. */
const char *http_status_reason(int status);

/* http_set_header adds a response header line (before responding). */
void http_set_header(HttpRequest *req, const char *name, const char *value);

/* http_respond sends body[0..len) (copied) with the given content type. */
void http_respond(HttpRequest *req, int status, const char *content_type,
                  const void *body, size_t len);
/* http_respond_buf sends body and takes its memory (body is left empty). */
void http_respond_buf(HttpRequest *req, int status, const char *content_type, Buf *body);
/* http_respond_text sends text/plain. */
void http_respond_text(HttpRequest *req, int status, const char *text);
/* http_respond_error sends Qdrant's error shape
 * {"status":{"error":"<message>"},"time":<seconds>} with the given status. */
void http_respond_error(HttpRequest *req, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* http_respond_err sends the error shape with http_status_for_err(err);
 * ERR_FULL and ERR_BUSY also carry Retry-After. */
void http_respond_err(HttpRequest *req, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Success in Qdrant's shape {"result":...,"status":"ok","time":<seconds>}:
 * http_result_begin starts the body and returns a writer positioned where
 * the result value goes; write exactly one value, then http_result_end
 * finishes and sends it. http_respond_result_raw does both for a result
 * that is already JSON text ("true", "{...}").
 */
JsonWriter *http_result_begin(HttpRequest *req);
void http_result_end(HttpRequest *req, int status);
void http_respond_result_raw(HttpRequest *req, const char *json);

/* http_build_head writes req->resp_head (status line, Content-Length, the
 * headers set so far, and Connection: close when keep_alive is 0, or
 * Connection: keep-alive for an HTTP/1.0 client that keeps it). The owner
 * calls it from on_response, once it knows whether the connection stays. */
void http_build_head(HttpRequest *req, int keep_alive);

/* http_request_seconds is the time since the request started (the "time" field). */
double http_request_seconds(const HttpRequest *req);

/* ---- the parser ---- */

typedef struct {
    size_t max_header_bytes; /* 431 beyond */
    size_t max_body_bytes;   /* 413 beyond */
    MemBudget *budget;       /* request memory (503 beyond, see above), or NULL */
} HttpLimits;

typedef struct HttpParser HttpParser;

typedef enum {
    HTTP_FEED_MORE = 0,  /* all bytes consumed; the request is not complete */
    HTTP_FEED_REQUEST,   /* a request is complete and was handed over */
    HTTP_FEED_ERROR,     /* protocol error or limit: respond and close */
} HttpFeedResult;

HttpParser *http_parser_new(const HttpLimits *limits);
void http_parser_free(HttpParser *p);

/*
 * http_parser_feed parses data[0..len) and sets *consumed. On
 * HTTP_FEED_REQUEST, *req_out is a complete request the caller now owns and
 * the bytes after it are left unconsumed (feed them again, after serving it,
 * to get the next pipelined request). On HTTP_FEED_ERROR, *status and *msg
 * say what to answer (400, 413, 431); the parser accepts nothing more.
 */
HttpFeedResult http_parser_feed(HttpParser *p, const char *data, size_t len, size_t *consumed,
                                HttpRequest **req_out, int *status, const char **msg);

/* http_parser_started is 1 while a request has begun but is not complete. */
int http_parser_started(const HttpParser *p);
/* http_parser_take_continue returns 1 once when the request being received
 * asked for Expect: 100-continue and no body byte has arrived yet: the
 * caller then writes HTTP_CONTINUE_LINE. */
int http_parser_take_continue(HttpParser *p);
/* http_parser_started_ns is when the request in progress began (0 if none). */
uint64_t http_parser_started_ns(const HttpParser *p);
/* http_parser_body_progress tells, for the request in progress, when its
 * header section was complete (0 while it is not) and how many body bytes
 * arrived since: what the server's header and body deadlines are checked
 * against. */
void http_parser_body_progress(const HttpParser *p, uint64_t *headers_done_ns, size_t *body_bytes);

#define HTTP_CONTINUE_LINE "HTTP/1.1 100 Continue\r\n\r\n"

/*
 * http_format_simple writes a complete error response (Qdrant JSON error
 * body, Connection: close) into out, for errors that have no HttpRequest
 * (a parse error, a connection over the limit, a timeout).
 */
void http_format_simple(Buf *out, int status, const char *msg, const char *extra_headers);


/* ---- the response parser (the client side: fetch.c) ----
 *
 * The same llhttp glue reads an HTTP/1.1 response for code that makes a
 * request (a snapshot recover downloading its location). It is streaming:
 * the status line and headers are handed over once complete, then the
 * body (de-chunked) in fragments as they arrive, so a large body goes
 * straight to a file without being held in memory. A 1xx interim answer
 * is skipped. A body delimited by the end of the connection ends with
 * http_response_finish.
 */

/* Response header section (status line and header lines). */
#define HTTP_RESPONSE_MAX_HEADER_BYTES (64 * 1024)

typedef struct {
    /* The status line and headers are complete: headers are valid during
     * the call only. Nonzero stops the parse (http_response_feed returns
     * HTTP_RESPONSE_STOPPED). */
    int (*on_head)(void *ctx, int status, const HttpPair *headers, size_t n_headers);
    /* A fragment of the body; nonzero stops the parse likewise. */
    int (*on_body)(void *ctx, const char *data, size_t len);
    void *ctx;
} HttpResponseSink;

typedef struct HttpResponseParser HttpResponseParser;

typedef enum {
    HTTP_RESPONSE_MORE = 0,  /* all bytes consumed; the response is not complete */
    HTTP_RESPONSE_DONE,      /* the response is complete */
    HTTP_RESPONSE_STOPPED,   /* a sink callback asked to stop */
    HTTP_RESPONSE_ERROR,     /* malformed, or over HTTP_RESPONSE_MAX_HEADER_BYTES */
} HttpResponseResult;

/* head_request: the response answers a HEAD (it has no body). */
HttpResponseParser *http_response_parser_new(const HttpResponseSink *sink, int head_request);
void http_response_parser_free(HttpResponseParser *p);
/* http_response_feed parses data[0..len). */
HttpResponseResult http_response_feed(HttpResponseParser *p, const char *data, size_t len);
/* http_response_finish tells the parser the connection ended: DONE when
 * that completes the response (a body that runs to the close), ERROR
 * when the response was cut short. */
HttpResponseResult http_response_finish(HttpResponseParser *p);
/* http_response_error says what was wrong after HTTP_RESPONSE_ERROR. */
const char *http_response_error(const HttpResponseParser *p);

#endif
