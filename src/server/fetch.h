/*
 * fetch.h - a blocking HTTP/1.1 GET of an http:// URL into a file, for
 * worker threads (a snapshot recover downloading its location).
 *
 * Design. The server speaks HTTP through libuv on its loop thread, which
 * never blocks; a download instead runs where long work already runs (the
 * snapshot worker), one at a time, with plain blocking sockets bounded by
 * poll timeouts: a connect that takes longer than the connect timeout, or
 * a read that brings no byte for the read timeout, ends it. The response
 * is parsed by http.c's response parser (llhttp stays in http.c) and a
 * 2xx body streams to the caller's file descriptor while it is hashed, so
 * a large snapshot never sits in memory. Redirects (301, 302, 303, 307,
 * 308) are followed to http:// locations, at most FETCH_MAX_REDIRECTS, as
 * reqwest (Qdrant's client) does; the api-key header goes only to the
 * first URL's origin, never to another host a redirect names.
 *
 * Only http:// is spoken: vitrine links no TLS library, so an https://
 * URL (given or redirected to) fails with ERR_UNSUPPORTED and says so.
 */
#ifndef VITRINE_FETCH_H
#define VITRINE_FETCH_H

#include <stddef.h>
#include <stdint.h>

#include "base/sha256.h"

/* Redirects followed at most (reqwest's default policy). */
#define FETCH_MAX_REDIRECTS 10
/* A connection not established within this fails (all addresses tried). */
#define FETCH_CONNECT_TIMEOUT_MS 10000
/* No byte received for this long ends a download: Qdrant's
 * STREAM_READ_TIMEOUT (download_tar.rs). */
#define FETCH_READ_TIMEOUT_MS 60000
/* The longest URL accepted. */
#define FETCH_MAX_URL 4096
/* Bytes read from the socket at a time. */
#define FETCH_READ_BYTES (64 * 1024)

typedef struct {
    const char *url;        /* http://host[:port][/path][?query] */
    int fd;                 /* the final 2xx answer's body is written here */
    uint64_t max_bytes;     /* a longer body fails with ERR_TOOLARGE */
    const char *api_key;    /* sent as `api-key` to the URL's origin, or NULL */
    int connect_timeout_ms; /* 0: FETCH_CONNECT_TIMEOUT_MS */
    int read_timeout_ms;    /* 0: FETCH_READ_TIMEOUT_MS */
} FetchRequest;

typedef struct {
    int status;                     /* the final answer's status; 0 when none came */
    uint64_t bytes;                 /* body bytes written to fd */
    uint8_t sha256[SHA256_DIGEST_LEN]; /* of those bytes */
    char url[FETCH_MAX_URL];        /* the URL that gave the final answer */
    char err[FETCH_MAX_URL + 1024]; /* what went wrong, when fetch_url fails */
} FetchResult;

/*
 * fetch_url_check checks that url is one fetch_url can try: 0, or
 * ERR_UNSUPPORTED (another scheme; https needs TLS) or ERR_INVAL (no host,
 * a bad port, credentials in the URL, too long), with a message in err.
 */
int fetch_url_check(const char *url, char *err, size_t errlen);

/*
 * fetch_url GETs req->url, following redirects. 0 when a final answer
 * came: res->status says which; only a 2xx answer's body is read, written
 * to req->fd and hashed (res->bytes, res->sha256); any other answer's body
 * is not read. Errors, with res->err saying what happened: ERR_IO (the
 * host does not resolve, no connection, a timeout, the connection closed
 * early, too many redirects), ERR_FORMAT (not an HTTP response),
 * ERR_TOOLARGE (the body passes req->max_bytes), ERR_FULL (the disk is
 * full writing it), ERR_UNSUPPORTED / ERR_INVAL (a redirect to a URL
 * fetch_url_check refuses).
 */
int fetch_url(const FetchRequest *req, FetchResult *res);

#endif
