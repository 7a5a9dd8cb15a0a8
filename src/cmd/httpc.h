/*
 * httpc.h - a small blocking HTTP/1.1 client for the commands that talk to
 * a vitrine (or Qdrant) server: index, search, classify, export.
 *
 * Design. One connection per HttpClient, kept alive between requests, plain
 * POSIX sockets with poll() for the timeouts; a request is written whole
 * and its response read whole into memory (the commands send batches of a
 * few MB at most and read pages of results). Responses may carry a
 * Content-Length, be chunked, or run to the end of the connection.
 *
 * Why not libcurl: it would be one more shared library in the runtime image
 * for the few features used here (no TLS: a shop's vitrine sits behind its
 * own proxy, and `export` to an https Qdrant goes through one too), and the
 * server's own llhttp parses requests, not responses. The response parser
 * below is a separate, incremental function so it is unit-tested on byte
 * strings (tests/test_httpc.c) and fed one read at a time in real use.
 *
 * Retries: a request on a kept-alive connection that the server closed
 * meanwhile (the write fails, or the connection ends before any byte of a
 * response) is sent once more on a fresh connection. Every request the
 * commands send is idempotent (PUT with explicit ids, searches), so this
 * cannot apply a write twice in a harmful way. Nothing else is retried
 * here; 503s are the caller's decision.
 */
#ifndef VITRINE_HTTPC_H
#define VITRINE_HTTPC_H

#include <stddef.h>

#include "base/util.h"

#define HTTPC_MAX_HEADER_BYTES (64 * 1024)          /* status line + headers */
#define HTTPC_MAX_BODY_BYTES ((size_t)1 << 30)      /* 1 GiB: larger is refused */
#define HTTPC_DEFAULT_TIMEOUT_MS 300000             /* 5 min: a batch on a slow CPU */
#define HTTPC_MAX_EXTRA_HEADERS 8

/* HttpcResponse: what a response parsed into. body is decoded (chunks
 * joined) and NUL-terminated; free with httpc_response_free. */
typedef struct {
    int status;              /* e.g. 200 */
    int keep_alive;          /* the connection may carry another request */
    char content_type[128];  /* "" when absent */
    char retry_after[32];    /* the Retry-After header, "" when absent */
    Buf body;
} HttpcResponse;

void httpc_response_init(HttpcResponse *r);
void httpc_response_free(HttpcResponse *r);

/*
 * HttpcParser parses one response incrementally from a buffer the caller
 * keeps appending to. Pass the whole buffer each time (data[0..len)) with
 * eof set once the peer closed; the parser remembers how far it got.
 */
typedef struct {
    int state;          /* private: where in the response the parser is */
    size_t pos;         /* bytes of data consumed so far */
    size_t remaining;   /* bytes left of the body or of the current chunk */
    int chunked;
    int has_length;
    int head;           /* the request was HEAD: no body whatever the headers say */
} HttpcParser;

void httpc_parser_init(HttpcParser *p, int head_request);

/*
 * httpc_parse feeds data[0..len) (everything received so far for this
 * response) to the parser. Returns 0 when the response is complete
 * (*consumed: its length in data, so pipelined bytes after it are not
 * taken), ERR_BUSY when it needs more bytes, ERR_FORMAT (message in
 * err[0..errlen)) when the bytes are not an HTTP/1.x response or the
 * connection ended early, ERR_TOOLARGE beyond HTTPC_MAX_HEADER_BYTES or
 * HTTPC_MAX_BODY_BYTES. Interim 1xx responses are skipped.
 */
int httpc_parse(HttpcParser *p, const char *data, size_t len, int eof, HttpcResponse *r, size_t *consumed,
                char *err, size_t errlen);

/* A parsed http://host[:port][/base] URL. */
typedef struct {
    char host[256];
    char port[8];
    char base[512]; /* path prefix without the trailing slash ("" for none) */
} HttpcUrl;

/* httpc_url_parse: ERR_INVAL (message in err) for anything but http://. */
int httpc_url_parse(const char *url, HttpcUrl *out, char *err, size_t errlen);

typedef struct {
    HttpcUrl url;
    int fd;          /* -1 when not connected */
    int timeout_ms;  /* per connect / per read or write making no progress */
    int n_headers;
    char *headers[HTTPC_MAX_EXTRA_HEADERS]; /* "Name: value", sent with every request */
    Buf in;          /* bytes received and not yet parsed */
} HttpClient;

/* httpc_init prepares a client for url (no connection yet). */
int httpc_init(HttpClient *c, const char *url, int timeout_ms, char *err, size_t errlen);
/* httpc_add_header adds "Name: value" to every request (e.g. api-key). */
int httpc_add_header(HttpClient *c, const char *name, const char *value);
void httpc_free(HttpClient *c);

/*
 * httpc_request sends method path (appended to the URL's base path) with
 * body[0..body_len) of content_type (NULL: no body) and reads the
 * response into *r (initialised here; the caller frees it). Any status is
 * a success here: 0 means a response came. ERR_IO for connect, write,
 * read failures and timeouts, ERR_FORMAT for a malformed response, each
 * with a message in err naming the server.
 */
int httpc_request(HttpClient *c, const char *method, const char *path, const char *content_type,
                  const void *body, size_t body_len, HttpcResponse *r, char *err, size_t errlen);

#endif
