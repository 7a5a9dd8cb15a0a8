/*
 * server.c - listener, connections, built-in routes, graceful shutdown and
 * `vitrine serve`, declared in server.h (design notes there).
 *
 * Connection life cycle. A Conn owns two handles (its TCP stream and a
 * timer) and is freed when both close callbacks ran; nothing else frees it,
 * so callbacks already queued by libuv (write completions, shutdown) always
 * find it alive. A request being served points at its Conn through
 * req->owner; when the Conn closes first, the request is marked orphaned
 * and freed by whoever answers it later (http.c), so a threadpool job never
 * loses the memory it works on.
 *
 * States, in the order a connection meets them:
 *   reading      parser fed as bytes arrive; requests dispatched one by one
 *   serving      c->cur != NULL; input buffered (bounded), timer off
 *   no_more      a response said Connection: close (client asked, HTTP/1.0,
 *                an error, or shutdown): no more requests are parsed
 *   lingering    (after an error response) write side shut down, input drained
 *                until EOF or SERVER_LINGER_MS
 *   closing      uv_close issued on both handles
 * The timer means: idle_timeout while waiting for the first byte of a
 * later request (header_timeout for a connection's first one), the
 * request timeout or the request's header or body deadline, whichever
 * comes first, while a request is partially received (server.h), the
 * request timeout while a response is unread, off while serving,
 * SERVER_LINGER_MS while lingering.
 */
#include "server/server.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <uv.h>

#include "base/cli.h"
#include "base/err.h"
#include "base/log.h"
#include "server/metrics.h"
#include "base/util.h"
#include "server/work.h"

typedef struct Conn Conn;

struct Server {
    uv_loop_t *loop;
    ServerConfig cfg;
    HttpLimits limits;
    MemBudget budget; /* request memory: bodies and request arenas */
    Router *router;
    uv_tcp_t listener;
    uv_signal_t sigint, sigterm;
    uv_async_t stop_async;
    uv_timer_t shutdown_timer;
    uv_timer_t trim_timer; /* gives freed memory back once idle */
    int listening;
    int signals_on;
    int shutting_down;
    int finished; /* modules stopped, server handles closed */
    int port;
    size_t n_conns;   /* counted against max_connections */
    size_t n_rejects; /* connections being told 503 */
    Conn *conns;      /* every open Conn, doubly linked */
    const ServerModule *modules[SERVER_MAX_MODULES];
    void *module_state[SERVER_MAX_MODULES];
    size_t n_modules;
    char readbuf[SERVER_READ_BUF_BYTES]; /* read_cb consumes it before returning */
};

struct Conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_shutdown_t shutdown_req;
    Server *srv;
    HttpParser *parser;
    Buf in;          /* bytes not parsed yet (pipelined behind cur) */
    size_t in_off;   /* parsed prefix of in */
    HttpRequest *cur;/* dispatched, not answered */
    int pending_writes;
    int open_handles;
    int rejected;    /* over the connection limit; not counted in n_conns */
    int reading;
    int eof;         /* the client closed its side */
    int no_more;     /* no further requests on this connection */
    int lingering;
    int sent_error;  /* an error response ended the connection: linger */
    int closing;
    int in_parse;    /* conn_parse is on the stack: a synchronous answer
                        must not re-enter it */
    int served;      /* requests dispatched on this connection */
    uint64_t accepted_ns;
    /* When the request timeout (no bytes for request_timeout_ms) runs out,
     * in now_ns() time, while a request is being received: the timer is
     * armed for that or an earlier deadline, and libuv's cached loop time
     * can make it fire a little early (timer_cb re-arms then). */
    uint64_t request_due_ns;
    Conn *prev, *next;
};

typedef struct {
    uv_write_t w;
    Conn *conn;
    HttpRequest *req; /* freed after the write, or NULL */
    Buf owned;        /* for responses without a request */
} WriteReq;

static void conn_update(Conn *c);
static void conn_parse_input(Conn *c);
static void server_check_done(Server *s);

/* ---- helpers ---- */

static void gauge_connections(const Server *s)
{
    metrics_gauge_set("vitrine_http_open_connections", NULL, (double)s->n_conns);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    Conn *c = h->data;
    buf->base = c->srv->readbuf;
    buf->len = sizeof c->srv->readbuf;
}

static void conn_handle_close_cb(uv_handle_t *h)
{
    Conn *c = h->data;
    if (--c->open_handles > 0) return;
    http_parser_free(c->parser);
    buf_free(&c->in);
    free(c);
}

/*
 * unmap_shared_file_pages drops this process's page-table entries for
 * its read-only shared file mappings: LMDB's map of data.mdb (the store
 * writes with pwrite and reads through that map; the model's weights are
 * a private mapping and stay). Those pages are the kernel's page cache,
 * shared and clean; the mapping only makes them count in our RSS. After a
 * load of many small commits it counts every B-tree page the writer and
 * the readers touched, copies included: tools/bench_load.sh measured
 * data.mdb's resident pages growing from 15.7 to 23.3 MiB over 20 s of
 * single-point upserts while the heap shrank (malloc_trim), the whole of
 * the end RSS's growth. MADV_DONTNEED keeps the mapping and the page cache: the next
 * read of a page faults it back in from the cache (a minor fault, about a
 * microsecond) or, if the kernel evicted it meanwhile, from the disk, as
 * it would anyway. Linux; elsewhere nothing happens.
 */
static void unmap_shared_file_pages(void)
{
#ifdef __linux__
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f) return;
    char line[SERVER_MAX_PATH + 256];
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        char perms[8];
        int path_at = 0;
        if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %n", &lo, &hi, perms, &path_at) != 3) continue;
        /* Read-only, shared, backed by a named file. */
        if (strcmp(perms, "r--s") || !path_at || line[path_at] != '/') continue;
        madvise((void *)lo, hi - lo, MADV_DONTNEED);
    }
    fclose(f);
#endif
}

/* trim_timer_cb runs SERVER_IDLE_TRIM_MS after the last connection
 * closed, unless one opened meanwhile: a burst of connections and bodies
 * leaves freed memory in malloc's arenas (the threadpool threads' ones
 * too), which malloc_trim returns to the system, and pages of the store's
 * map in our RSS (unmap_shared_file_pages), so the resident size after a
 * load comes back near where it was (tools/bench_load.sh). */
static void trim_timer_cb(uv_timer_t *t)
{
    Server *s = t->data;
    if (s->n_conns + s->n_rejects != 0) return;
    malloc_trim(0);
    unmap_shared_file_pages();
}

/* conn_close closes both handles now; pending writes complete with
 * UV_ECANCELED before the close callbacks run. */
static void conn_close(Conn *c)
{
    if (c->closing) return;
    c->closing = 1;
    Server *s = c->srv;
    if (c->cur) {
        /* A job still holds the request: let its answer free it. */
        c->cur->orphaned = 1;
        c->cur->owner = NULL;
        c->cur = NULL;
    }
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    if (c->rejected)
        s->n_rejects--;
    else
        s->n_conns--;
    gauge_connections(s);
    if (s->n_conns + s->n_rejects == 0 && !s->shutting_down)
        uv_timer_start(&s->trim_timer, trim_timer_cb, SERVER_IDLE_TRIM_MS, 0);
    uv_close((uv_handle_t *)&c->tcp, conn_handle_close_cb);
    uv_close((uv_handle_t *)&c->timer, conn_handle_close_cb);
    server_check_done(s);
}

static void write_cb(uv_write_t *w, int status)
{
    WriteReq *wr = (WriteReq *)w;
    Conn *c = wr->conn;
    http_request_free(wr->req);
    buf_free(&wr->owned);
    free(wr);
    c->pending_writes--;
    if (c->closing) return;
    if (status < 0) {
        log_debug("server: write failed: %s", uv_strerror(status));
        conn_close(c);
        return;
    }
    /* Parsing may have paused for the write backlog: resume it. */
    conn_parse_input(c);
    conn_update(c);
}

/* conn_backlogged is 1 while more than SERVER_MAX_BUFFERED_BYTES of
 * responses wait for the client to read them: a client that pipelines
 * without reading must not make us queue answers without bound, so we
 * stop parsing (and reading) until it catches up. */
static int conn_backlogged(Conn *c)
{
    return uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) > SERVER_MAX_BUFFERED_BYTES;
}

/* conn_write queues head and body; wr takes req / owned. */
static void conn_write(Conn *c, HttpRequest *req, Buf *owned, const char *head, size_t head_len,
                       const char *body, size_t body_len)
{
    WriteReq *wr = xcalloc(1, sizeof *wr);
    wr->conn = c;
    wr->req = req;
    if (owned) {
        wr->owned = *owned;
        buf_init(owned);
    }
    uv_buf_t bufs[2];
    unsigned n = 0;
    bufs[n++] = uv_buf_init((char *)head, (unsigned)head_len);
    if (body_len) bufs[n++] = uv_buf_init((char *)body, (unsigned)body_len);
    c->pending_writes++;
    int rc = uv_write(&wr->w, (uv_stream_t *)&c->tcp, bufs, n, write_cb);
    if (rc) {
        log_debug("server: uv_write: %s", uv_strerror(rc));
        c->pending_writes--;
        http_request_free(wr->req);
        buf_free(&wr->owned);
        free(wr);
        conn_close(c);
    }
}

/* conn_send_simple writes a canned error response and ends the connection. */
static void conn_send_simple(Conn *c, int status, const char *msg, const char *extra_headers)
{
    Buf out;
    buf_init(&out);
    http_format_simple(&out, status, msg, extra_headers);
    metrics_observe_request("", NULL, NULL, status, 0);
    c->no_more = 1;
    c->sent_error = 1;
    const char *data = out.data;
    size_t len = out.len;
    conn_write(c, NULL, &out, data, len, NULL, 0);
}

static void shutdown_cb(uv_shutdown_t *req, int status)
{
    Conn *c = req->data;
    if (status < 0 && !c->closing) conn_close(c);
}

/* conn_deadline_ms is how long the request being received may still take
 * under the header and body deadlines (server.h), in ms from now; it
 * sets *what to the deadline's name. */
static uint64_t conn_deadline_ms(const Conn *c, const char **what)
{
    const ServerConfig *cfg = &c->srv->cfg;
    uint64_t headers_ns, now = now_ns(), deadline;
    size_t body;
    http_parser_body_progress(c->parser, &headers_ns, &body);
    if (!headers_ns) {
        uint64_t start = http_parser_started_ns(c->parser);
        if (!start) start = c->accepted_ns;
        deadline = start + (uint64_t)cfg->header_timeout_ms * 1000000u;
        *what = "request header deadline exceeded";
    } else {
        deadline = headers_ns + (uint64_t)cfg->body_timeout_ms * 1000000u +
                   (uint64_t)((double)body / (double)cfg->min_body_rate * 1e9);
        *what = "request body deadline exceeded (too slow)";
    }
    return deadline > now ? (deadline - now + 999999) / 1000000 : 0;
}

static void timer_cb(uv_timer_t *t)
{
    Conn *c = t->data;
    if (c->closing) return;
    if (!c->lingering && !c->cur && !c->no_more && http_parser_started(c->parser)) {
        const char *what;
        uint64_t left = conn_deadline_ms(c, &what);
        uint64_t now = now_ns();
        if (left && now < c->request_due_ns) {
            /* Neither the deadline nor the request timeout has passed: an
             * early firing (loop time behind the clock). Wait for the rest. */
            uint64_t idle_left = (c->request_due_ns - now + 999999) / 1000000;
            uv_timer_start(&c->timer, timer_cb, MIN(left, idle_left), 0);
            return;
        }
        log_debug("server: %s", left ? "request timed out" : what);
        metrics_counter_add("vitrine_http_request_timeouts_total", NULL, 1);
        conn_send_simple(c, 408, left ? "request timed out" : what, NULL);
        conn_update(c);
        return;
    }
    if (!c->lingering && !c->cur && !c->no_more && !c->served && !c->pending_writes)
        metrics_counter_add("vitrine_http_request_timeouts_total", NULL, 1);
    conn_close(c);
}

static void read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);
static void conn_set_reading(Conn *c, int on);

/* conn_finish ends a connection whose last write is out. After an error
 * response the client may still be sending (a refused body): closing with
 * unread input would make the kernel send a reset that can destroy our
 * answer in flight, so we shut our side down and drain input until EOF or
 * SERVER_LINGER_MS. After a normal last response a plain close is enough. */
static void conn_finish(Conn *c)
{
    if (c->lingering || c->closing) return;
    if (c->eof || !c->sent_error) {
        conn_close(c);
        return;
    }
    c->lingering = 1;
    c->shutdown_req.data = c;
    if (uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->tcp, shutdown_cb)) {
        conn_close(c);
        return;
    }
    conn_set_reading(c, 1);
    uv_timer_start(&c->timer, timer_cb, SERVER_LINGER_MS, 0);
}

static void conn_set_reading(Conn *c, int on)
{
    if (on == c->reading || c->closing || (on && c->eof)) return;
    if (on) {
        if (uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb)) {
            conn_close(c);
            return;
        }
    } else {
        uv_read_stop((uv_stream_t *)&c->tcp);
    }
    c->reading = on;
}

/* conn_update decides, after any event, whether to read, which timer to
 * run, and whether the connection is done. */
static void conn_update(Conn *c)
{
    if (c->closing || c->lingering) return;
    Server *s = c->srv;
    if (!c->cur && (c->no_more || c->eof || (s->shutting_down && !http_parser_started(c->parser)))) {
        /* Nothing more will be served here; leave once the writes are out.
         * With eof but bytes still buffered, those were parsed already:
         * a partial request the client abandoned. */
        if (c->pending_writes == 0) {
            conn_finish(c);
        } else {
            conn_set_reading(c, 0);
            uv_timer_start(&c->timer, timer_cb, s->cfg.request_timeout_ms, 0);
        }
        return;
    }
    size_t buffered = c->in.len - c->in_off;
    conn_set_reading(c, !c->eof && buffered < SERVER_MAX_BUFFERED_BYTES && !conn_backlogged(c));
    if (c->closing) return;
    const char *what;
    if (c->cur) {
        uv_timer_stop(&c->timer);
    } else if (http_parser_started(c->parser)) {
        uint64_t left = conn_deadline_ms(c, &what);
        c->request_due_ns = now_ns() + (uint64_t)s->cfg.request_timeout_ms * 1000000u;
        uv_timer_start(&c->timer, timer_cb, MIN(left, (uint64_t)s->cfg.request_timeout_ms), 0);
    } else if (c->pending_writes) {
        uv_timer_start(&c->timer, timer_cb, s->cfg.request_timeout_ms, 0);
    } else if (!c->served) {
        /* A new connection owes us a request: the header deadline runs
         * from the accept (and the idle timeout, when that is shorter). */
        uint64_t left = conn_deadline_ms(c, &what);
        c->request_due_ns = now_ns() + (uint64_t)s->cfg.idle_timeout_ms * 1000000u;
        uv_timer_start(&c->timer, timer_cb, MIN(left, (uint64_t)s->cfg.idle_timeout_ms), 0);
    } else {
        uv_timer_start(&c->timer, timer_cb, s->cfg.idle_timeout_ms, 0);
    }
}

/* ---- requests ---- */

static void conn_on_response(HttpRequest *req)
{
    Conn *c = req->owner;
    Server *s = c->srv;
    metrics_observe_request(req->method_name, req->route, req->route ? http_param(req, "collection_name") : NULL,
                            req->status, http_request_seconds(req));
    c->cur = NULL;
    int keep = req->keep_alive && !s->shutting_down;
    if (!keep) c->no_more = 1;
    http_build_head(req, keep);
    int head_only = req->method == HTTP_METHOD_HEAD;
    conn_write(c, req, NULL, req->resp_head.data, req->resp_head.len, req->resp_body.data,
               head_only ? 0 : req->resp_body.len);
    if (c->closing) return;
    /* An answer that came LATER resumes the pipeline; one given inside
     * the handler returns into conn_parse's loop, which goes on itself. */
    if (!c->in_parse) {
        conn_parse_input(c);
        conn_update(c);
    }
}

/*
 * CORS as Qdrant does it (actix-cors with any origin, method and header):
 * a request with an Origin gets it echoed in Access-Control-Allow-Origin,
 * every response varies on the CORS request headers, and a preflight (an
 * OPTIONS with Access-Control-Request-Method) is answered here, 200 with
 * an empty body, without reaching the routes. Echoing the origin instead
 * of "*" is what Qdrant sends; without credentials both work in browsers.
 */
#define SERVER_CORS_METHODS "GET, POST, PUT, DELETE, HEAD, OPTIONS, PATCH"

static int cors_handle(HttpRequest *req)
{
    const char *origin = http_header(req, "Origin");
    http_set_header(req, "Vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers");
    if (origin) http_set_header(req, "Access-Control-Allow-Origin", origin);
    const char *want = http_header(req, "Access-Control-Request-Method");
    if (req->method != HTTP_METHOD_OPTIONS || !want) return 0;
    http_set_header(req, "Access-Control-Allow-Methods", SERVER_CORS_METHODS);
    const char *headers = http_header(req, "Access-Control-Request-Headers");
    if (headers) http_set_header(req, "Access-Control-Allow-Headers", headers);
    http_respond(req, 200, "text/plain", "", 0);
    return 1;
}

static void conn_dispatch(Conn *c, HttpRequest *req)
{
    req->owner = c;
    req->on_response = conn_on_response;
    c->cur = req;
    c->served++;
    if (cors_handle(req)) return;
    /* The handler's reference: an answer inside it may free the owner's
     * (a failed write), and a mistaken second answer must still find req. */
    http_request_hold(req);
    if (auth_check(&c->srv->cfg.auth, c->srv->router, req)) router_dispatch(c->srv->router, req);
    http_request_release(req);
}

/* conn_parse feeds data to the parser and serves complete requests until
 * one is in flight, the data is used up, or the connection is done.
 * Returns the bytes consumed. */
static size_t conn_parse(Conn *c, const char *data, size_t len)
{
    size_t off = 0;
    c->in_parse = 1;
    while (!c->closing && !c->cur && !c->no_more && off < len && !conn_backlogged(c)) {
        size_t used;
        HttpRequest *req;
        int status;
        const char *msg;
        HttpFeedResult r = http_parser_feed(c->parser, data + off, len - off, &used, &req, &status, &msg);
        off += used;
        if (r == HTTP_FEED_MORE) {
            if (http_parser_take_continue(c->parser)) {
                conn_write(c, NULL, NULL, HTTP_CONTINUE_LINE, sizeof HTTP_CONTINUE_LINE - 1, NULL, 0);
            }
            break;
        }
        if (r == HTTP_FEED_ERROR) {
            /* 503: the request memory budget is spent (http.h); the
             * client may retry once other requests are done. */
            if (status == 503) metrics_counter_add("vitrine_http_budget_rejections_total", NULL, 1);
            conn_send_simple(c, status, msg, status == 503 ? "Retry-After: 1\r\n" : NULL);
            off = len; /* nothing after a broken request can be trusted */
            break;
        }
        conn_dispatch(c, req);
    }
    c->in_parse = 0;
    return off;
}

/* conn_parse_input parses what is buffered in c->in and compacts it. */
static void conn_parse_input(Conn *c)
{
    if (c->in_parse || c->in.len == c->in_off) return;
    size_t used = conn_parse(c, c->in.data + c->in_off, c->in.len - c->in_off);
    c->in_off += used;
    if (c->in_off == c->in.len) {
        c->in.len = c->in_off = 0;
    } else if (c->in_off >= c->in.len / 2) {
        memmove(c->in.data, c->in.data + c->in_off, c->in.len - c->in_off);
        c->in.len -= c->in_off;
        c->in_off = 0;
    }
}

static void read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    Conn *c = stream->data;
    if (c->closing) return;
    if (nread == 0) return;
    if (nread < 0) {
        if (nread != UV_EOF) {
            log_debug("server: read: %s", uv_strerror((int)nread));
            conn_close(c);
            return;
        }
        c->eof = 1;
        uv_read_stop(stream);
        c->reading = 0;
        if (c->lingering) {
            conn_close(c);
            return;
        }
        conn_update(c);
        return;
    }
    if (c->lingering || c->no_more) return; /* drained and dropped */
    size_t n = (size_t)nread;
    if (c->in.len == c->in_off && !c->cur) {
        /* The common case: parse straight from the read buffer and keep
         * only what is left behind a request in flight. */
        size_t used = conn_parse(c, buf->base, n);
        if (used < n && !c->no_more) buf_append(&c->in, buf->base + used, n - used);
    } else {
        buf_append(&c->in, buf->base, n);
        conn_parse_input(c);
    }
    conn_update(c);
}

/* ---- listener ---- */

static void conn_link(Server *s, Conn *c)
{
    c->next = s->conns;
    if (s->conns) s->conns->prev = c;
    s->conns = c;
}

static void on_connection(uv_stream_t *listener, int status)
{
    Server *s = listener->data;
    if (status < 0) {
        log_warn("server: accept: %s", uv_strerror(status));
        return;
    }
    Conn *c = xcalloc(1, sizeof *c);
    c->srv = s;
    uv_tcp_init(s->loop, &c->tcp);
    uv_timer_init(s->loop, &c->timer);
    c->tcp.data = c;
    c->timer.data = c;
    c->open_handles = 2;
    c->accepted_ns = now_ns();
    c->parser = http_parser_new(&s->limits);
    buf_init(&c->in);
    if (uv_accept(listener, (uv_stream_t *)&c->tcp)) {
        c->closing = 1;
        uv_close((uv_handle_t *)&c->tcp, conn_handle_close_cb);
        uv_close((uv_handle_t *)&c->timer, conn_handle_close_cb);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    conn_link(s, c);
    metrics_counter_add("vitrine_http_connections_total", NULL, 1);
    if (s->n_conns >= s->cfg.max_connections || s->shutting_down) {
        c->rejected = 1;
        s->n_rejects++;
        metrics_counter_add("vitrine_http_rejected_connections_total", NULL, 1);
        if (s->n_rejects > SERVER_REJECT_SLACK || s->shutting_down) {
            conn_close(c);
            return;
        }
        conn_send_simple(c, 503, "too many open connections", "Retry-After: 1\r\n");
        conn_update(c);
        return;
    }
    s->n_conns++;
    gauge_connections(s);
    conn_update(c);
}

/* ---- built-in routes ---- */

/* The probes answer with Qdrant's texts: orchestration and client tools
 * written for Qdrant match on them. /livez says "healthz check passed"
 * because Qdrant's does (one function serves both there, and its tests
 * assert the text). */
static void handle_probe(HttpRequest *req, void *ctx)
{
    http_respond_text(req, 200, (const char *)ctx);
}

static void handle_metrics(HttpRequest *req, void *ctx)
{
    Server *s = ctx;
    gauge_connections(s);
    metrics_gauge_set("vitrine_work_jobs_in_flight", NULL, (double)work_jobs_in_flight());
    metrics_gauge_set("vitrine_http_request_memory_bytes", NULL, (double)budget_used(&s->budget));
    metrics_gauge_set("vitrine_http_request_memory_peak_bytes", NULL, (double)budget_peak(&s->budget));
    Buf b;
    buf_init(&b);
    /* Qdrant's ?per_collection=true: request counts by collection. */
    const char *pc = http_query_get(req, "per_collection");
    if (pc && !strcmp(pc, "true")) metrics_render_per_collection(&b);
    else metrics_render(&b);
    http_respond_buf(req, 200, "text/plain; version=0.0.4; charset=utf-8", &b);
}

/* ---- server ---- */

/* server_min_request_memory is the smallest budget that admits a body of
 * max_body bytes alone: the body, its NUL and its parse reservation
 * within the admission share of the budget. */
static size_t server_min_request_memory(size_t max_body)
{
    return ((max_body + 1) * (1 + HTTP_BUDGET_PARSE_FACTOR) + HTTP_BUDGET_ADMIT_PERCENT - 1) /
           HTTP_BUDGET_ADMIT_PERCENT * 100;
}

void server_config_defaults(ServerConfig *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->host, sizeof cfg->host, "%s", SERVER_DEFAULT_HOST);
    cfg->port = SERVER_DEFAULT_PORT;
    snprintf(cfg->data_dir, sizeof cfg->data_dir, "%s", SERVER_DEFAULT_DATA);
    snprintf(cfg->weights_dir, sizeof cfg->weights_dir, "%s", SERVER_DEFAULT_WEIGHTS);
    cfg->max_body_bytes = HTTP_DEFAULT_BODY_BYTES;
    cfg->max_header_bytes = HTTP_DEFAULT_HEADER_BYTES;
    cfg->max_connections = SERVER_DEFAULT_MAX_CONNECTIONS;
    cfg->idle_timeout_ms = SERVER_DEFAULT_IDLE_TIMEOUT_MS;
    cfg->request_timeout_ms = SERVER_DEFAULT_REQUEST_TIMEOUT_MS;
    cfg->header_timeout_ms = SERVER_DEFAULT_HEADER_TIMEOUT_MS;
    cfg->body_timeout_ms = SERVER_DEFAULT_BODY_TIMEOUT_MS;
    cfg->min_body_rate = SERVER_DEFAULT_BODY_RATE;
    cfg->max_request_memory = SERVER_DEFAULT_REQUEST_MEMORY;
    cfg->shutdown_timeout_ms = SERVER_DEFAULT_SHUTDOWN_TIMEOUT_MS;
}

static void stop_async_cb(uv_async_t *a)
{
    server_shutdown(a->data);
}

int server_new(uv_loop_t *loop, const ServerConfig *cfg, Server **out)
{
    *out = NULL;
    if (cfg->max_connections < SERVER_MIN_CONNECTIONS || cfg->max_connections > SERVER_MAX_CONNECTIONS ||
        cfg->max_body_bytes > HTTP_MAX_BODY_BYTES || cfg->max_header_bytes < HTTP_MIN_HEADER_BYTES ||
        cfg->max_header_bytes > HTTP_MAX_HEADER_BYTES ||
        cfg->idle_timeout_ms < SERVER_MIN_IDLE_TIMEOUT_MS || cfg->idle_timeout_ms > SERVER_MAX_IDLE_TIMEOUT_MS ||
        cfg->request_timeout_ms < SERVER_MIN_REQUEST_TIMEOUT_MS ||
        cfg->request_timeout_ms > SERVER_MAX_REQUEST_TIMEOUT_MS ||
        cfg->header_timeout_ms < SERVER_MIN_HEADER_TIMEOUT_MS ||
        cfg->header_timeout_ms > SERVER_MAX_HEADER_TIMEOUT_MS ||
        cfg->body_timeout_ms < SERVER_MIN_BODY_TIMEOUT_MS || cfg->body_timeout_ms > SERVER_MAX_BODY_TIMEOUT_MS ||
        cfg->min_body_rate < SERVER_MIN_BODY_RATE || cfg->min_body_rate > SERVER_MAX_BODY_RATE ||
        cfg->max_request_memory < SERVER_MIN_REQUEST_MEMORY ||
        cfg->max_request_memory > SERVER_MAX_REQUEST_MEMORY ||
        cfg->max_request_memory < server_min_request_memory(cfg->max_body_bytes))
        return ERR_INVAL;
    Server *s = xcalloc(1, sizeof *s);
    s->loop = loop;
    s->cfg = *cfg;
    s->limits.max_body_bytes = cfg->max_body_bytes;
    s->limits.max_header_bytes = cfg->max_header_bytes;
    budget_init(&s->budget, cfg->max_request_memory / 100 * HTTP_BUDGET_ADMIT_PERCENT, cfg->max_request_memory);
    s->limits.budget = &s->budget;
    s->router = router_new();
    uv_tcp_init(loop, &s->listener);
    s->listener.data = s;
    uv_async_init(loop, &s->stop_async, stop_async_cb);
    s->stop_async.data = s;
    uv_timer_init(loop, &s->shutdown_timer);
    s->shutdown_timer.data = s;
    uv_timer_init(loop, &s->trim_timer);
    s->trim_timer.data = s;
    uv_unref((uv_handle_t *)&s->trim_timer);

    metrics_describe("vitrine_http_requests_total", METRICS_COUNTER, "HTTP requests answered, by route and status.");
    metrics_describe("vitrine_http_request_duration_seconds", METRICS_HISTOGRAM,
                     "Time from a request's first byte to its response, by route.");
    metrics_describe("vitrine_http_open_connections", METRICS_GAUGE, "Open HTTP connections.");
    metrics_describe("vitrine_http_connections_total", METRICS_COUNTER, "HTTP connections accepted.");
    metrics_describe("vitrine_http_rejected_connections_total", METRICS_COUNTER,
                     "Connections refused because max_connections were open.");
    metrics_describe("vitrine_work_jobs_in_flight", METRICS_GAUGE, "Threadpool jobs submitted and not done.");
    metrics_describe("vitrine_auth_failures_total", METRICS_COUNTER,
                     "Requests refused for a missing or wrong API key (401) or a write with the read-only "
                     "key (403), by reason.");
    metrics_describe("vitrine_http_request_memory_bytes", METRICS_GAUGE,
                     "Request bodies and parsed JSON in memory now (the --max-request-memory budget).");
    metrics_describe("vitrine_http_request_memory_peak_bytes", METRICS_GAUGE,
                     "The most request memory in use at once since the start.");
    metrics_describe("vitrine_http_budget_rejections_total", METRICS_COUNTER,
                     "Requests refused with 503 because the request memory budget was spent.");
    metrics_describe("vitrine_http_request_timeouts_total", METRICS_COUNTER,
                     "Connections cut off by the header, body or request deadline.");
    gauge_connections(s);

    static const char *const probes[][2] = {
        { "/healthz", "healthz check passed" },
        { "/livez", "healthz check passed" },
        { "/readyz", "all shards are ready" },
    };
    int rc = 0;
    for (size_t i = 0; i < ARRAY_LEN(probes) && !rc; i++)
        rc = router_add(s->router, "GET", probes[i][0], handle_probe, (void *)probes[i][1]);
    if (!rc && cfg->auth.metrics != AUTH_METRICS_OFF)
        rc = router_add(s->router, "GET", "/metrics", handle_metrics, s);
    if (rc) abort(); /* the built-in table is ours: a clash is a bug */
    *out = s;
    return 0;
}

int server_add_module(Server *s, const ServerModule *m)
{
    if (s->n_modules >= SERVER_MAX_MODULES) return ERR_FULL;
    void *state = NULL;
    int rc = m->start ? m->start(s, s->router, &state) : 0;
    if (rc) {
        log_error("server: module %s failed to start: %s", m->name, err_str(rc));
        return rc;
    }
    s->modules[s->n_modules] = m;
    s->module_state[s->n_modules] = state;
    s->n_modules++;
    return 0;
}

Router *server_router(Server *s) { return s->router; }
const ServerConfig *server_config(const Server *s) { return &s->cfg; }
uv_loop_t *server_loop(Server *s) { return s->loop; }
int server_port(const Server *s) { return s->port; }
size_t server_open_connections(const Server *s) { return s->n_conns + s->n_rejects; }

void server_request_memory(const Server *s, size_t *used, size_t *peak)
{
    *used = budget_used(&s->budget);
    *peak = budget_peak(&s->budget);
}

int server_listen(Server *s)
{
    union {
        struct sockaddr sa;
        struct sockaddr_in in4;
        struct sockaddr_in6 in6;
        struct sockaddr_storage ss;
    } addr;
    const char *host = s->cfg.host;
    if (!strcmp(host, "localhost")) host = "127.0.0.1";
    int v6 = strchr(host, ':') != NULL;
    int rc = v6 ? uv_ip6_addr(host, s->cfg.port, &addr.in6) : uv_ip4_addr(host, s->cfg.port, &addr.in4);
    if (rc) {
        log_error("server: invalid listen address '%s' (want an IPv4 or IPv6 address)", s->cfg.host);
        return ERR_INVAL;
    }
    rc = uv_tcp_bind(&s->listener, &addr.sa, 0);
    if (!rc) rc = uv_listen((uv_stream_t *)&s->listener, SERVER_BACKLOG, on_connection);
    if (rc) {
        log_error("server: cannot listen on %s:%d: %s", s->cfg.host, s->cfg.port, uv_strerror(rc));
        return ERR_IO;
    }
    int len = sizeof addr;
    uv_tcp_getsockname(&s->listener, &addr.sa, &len);
    s->port = ntohs(addr.sa.sa_family == AF_INET6 ? addr.in6.sin6_port : addr.in4.sin_port);
    s->listening = 1;
    log_info("listening on http://%s%s%s:%d", v6 ? "[" : "", host, v6 ? "]" : "", s->port);
    return 0;
}

static void signal_cb(uv_signal_t *h, int signum)
{
    Server *s = h->data;
    if (!s->shutting_down) {
        log_info("server: %s received, shutting down", signum == SIGINT ? "SIGINT" : "SIGTERM");
        server_shutdown(s);
        return;
    }
    log_info("server: second signal, closing every connection now");
    for (Conn *c = s->conns, *next; c; c = next) {
        next = c->next;
        conn_close(c);
    }
}

int server_handle_signals(Server *s)
{
    uv_signal_init(s->loop, &s->sigint);
    uv_signal_init(s->loop, &s->sigterm);
    s->sigint.data = s->sigterm.data = s;
    s->signals_on = 1;
    if (uv_signal_start(&s->sigint, signal_cb, SIGINT) || uv_signal_start(&s->sigterm, signal_cb, SIGTERM)) {
        log_error("server: cannot install signal handlers");
        return ERR_IO;
    }
    return 0;
}

static void shutdown_timer_cb(uv_timer_t *t)
{
    Server *s = t->data;
    if (s->conns) log_warn("server: shutdown timeout, closing %zu connections", server_open_connections(s));
    for (Conn *c = s->conns, *next; c; c = next) {
        next = c->next;
        conn_close(c);
    }
}

/* server_check_done finishes a shutdown once the last connection closed:
 * modules stop (they close their handles), then ours close. */
static void server_check_done(Server *s)
{
    if (!s->shutting_down || s->finished || s->conns) return;
    s->finished = 1;
    for (size_t i = s->n_modules; i-- > 0;)
        if (s->modules[i]->stop) s->modules[i]->stop(s->module_state[i]);
    uv_close((uv_handle_t *)&s->shutdown_timer, NULL);
    uv_close((uv_handle_t *)&s->trim_timer, NULL);
    uv_close((uv_handle_t *)&s->stop_async, NULL);
    if (s->signals_on) {
        uv_close((uv_handle_t *)&s->sigint, NULL);
        uv_close((uv_handle_t *)&s->sigterm, NULL);
    }
    log_info("server: stopped");
}

void server_shutdown(Server *s)
{
    if (s->shutting_down) return;
    s->shutting_down = 1;
    uv_close((uv_handle_t *)&s->listener, NULL);
    s->listening = 0;
    /* Idle connections go now; busy ones after their answer (conn_update
     * sees shutting_down), or when the timer runs out. */
    for (Conn *c = s->conns, *next; c; c = next) {
        next = c->next;
        conn_update(c);
    }
    uv_timer_start(&s->shutdown_timer, shutdown_timer_cb, s->cfg.shutdown_timeout_ms, 0);
    uv_unref((uv_handle_t *)&s->shutdown_timer);
    server_check_done(s);
}

void server_request_shutdown(Server *s)
{
    uv_async_send(&s->stop_async);
}

void server_free(Server *s)
{
    if (!s) return;
    for (size_t i = s->n_modules; i-- > 0;)
        if (s->modules[i]->destroy) s->modules[i]->destroy(s->module_state[i]);
    router_free(s->router);
    free(s);
}

/* ---- running a server ---- */

/* server_setup creates the server on loop with its modules, the signal
 * handlers when asked, and the listener. On failure the server is shutting
 * down (run the loop to close it) and *status is 1. */
static Server *server_setup(uv_loop_t *loop, const ServerConfig *cfg, const ServerModule *const *modules,
                            size_t n_modules, int signals, int *status)
{
    Server *s;
    *status = 0;
    if (server_new(loop, cfg, &s)) {
        log_error("invalid server configuration");
        *status = 1;
        return NULL;
    }
    for (size_t i = 0; i < n_modules && !*status; i++)
        if (server_add_module(s, modules[i])) *status = 1;
    if (*status || (signals && server_handle_signals(s)) || server_listen(s)) {
        *status = 1;
        server_shutdown(s);
    }
    return s;
}

/* server_teardown runs the loop to its end and frees what server_setup
 * made; returns the final status. */
static int server_teardown(uv_loop_t *loop, Server *s, int status)
{
    uv_run(loop, UV_RUN_DEFAULT);
    server_free(s);
    int rc = uv_loop_close(loop);
    if (rc) {
        log_error("event loop closed with handles still open: %s", uv_strerror(rc));
        status = 1;
    }
    metrics_reset();
    return status;
}

int server_run(const ServerConfig *cfg, const ServerModule *const *modules, size_t n_modules)
{
    /* A client that vanishes mid-write must not kill the process. */
    signal(SIGPIPE, SIG_IGN);

    uv_loop_t loop;
    if (uv_loop_init(&loop)) {
        log_error("cannot create the event loop");
        return 1;
    }
    int status;
    Server *s = server_setup(&loop, cfg, modules, n_modules, 1, &status);
    if (!s) {
        uv_loop_close(&loop);
        return 1;
    }
    return server_teardown(&loop, s, status);
}

/* ---- a server on a thread of its own (commands' standalone mode) ---- */

struct ServerThread {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int ready;  /* under mu: setup finished (listening, or failed) */
    int status; /* setup's status, then the final one after the join */
    Server *server;
    int port;
    ServerConfig cfg;
    const ServerModule *const *modules;
    size_t n_modules;
};

static void *server_thread_main(void *arg)
{
    ServerThread *t = arg;
    uv_loop_t loop;
    int status = 1;
    Server *s = NULL;
    if (uv_loop_init(&loop) == 0) {
        s = server_setup(&loop, &t->cfg, t->modules, t->n_modules, 0, &status);
        if (!s) uv_loop_close(&loop);
    } else {
        log_error("cannot create the event loop");
    }
    pthread_mutex_lock(&t->mu);
    t->server = status ? NULL : s;
    t->port = s && !status ? server_port(s) : 0;
    t->status = status;
    t->ready = 1;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
    if (s) status = server_teardown(&loop, s, status);
    t->status = status; /* read by server_thread_stop after the join */
    return NULL;
}

int server_thread_start(const ServerConfig *cfg, const ServerModule *const *modules, size_t n_modules,
                        ServerThread **out)
{
    signal(SIGPIPE, SIG_IGN); /* as server_run: a vanished peer must not kill us */
    ServerThread *t = xcalloc(1, sizeof *t);
    t->cfg = *cfg;
    t->modules = modules;
    t->n_modules = n_modules;
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->cv, NULL);
    if (pthread_create(&t->thread, NULL, server_thread_main, t)) {
        log_error("cannot start the server thread");
        pthread_mutex_destroy(&t->mu);
        pthread_cond_destroy(&t->cv);
        free(t);
        return ERR_IO;
    }
    pthread_mutex_lock(&t->mu);
    while (!t->ready) pthread_cond_wait(&t->cv, &t->mu);
    int failed = t->status;
    pthread_mutex_unlock(&t->mu);
    if (failed) {
        /* The thread has already run its shutdown to the end (or is about
         * to): join it and report the failure its log lines explained. */
        pthread_join(t->thread, NULL);
        pthread_mutex_destroy(&t->mu);
        pthread_cond_destroy(&t->cv);
        free(t);
        return ERR_IO;
    }
    *out = t;
    return 0;
}

int server_thread_port(const ServerThread *t)
{
    return t->port;
}

int server_thread_stop(ServerThread *t)
{
    if (!t) return 0;
    server_request_shutdown(t->server);
    pthread_join(t->thread, NULL);
    int status = t->status;
    pthread_mutex_destroy(&t->mu);
    pthread_cond_destroy(&t->cv);
    free(t);
    return status;
}

/* ---- configuration ---- */

static void serve_usage(FILE *f)
{
    fprintf(f,
            "usage: vitrine serve [options]\n"
            "\n"
            "Serve the HTTP API (Qdrant-compatible) until SIGINT or SIGTERM.\n"
            "\n"
            "  --host ADDR        listen address (VITRINE_HOST, default %s)\n"
            "  --port N           TCP port, 0 picks a free one (VITRINE_PORT, default %d)\n"
            "  --data DIR         data directory, created if missing (VITRINE_DATA, default %s)\n"
            "  --weights DIR      CLIP model folder (VITRINE_WEIGHTS, default %s)\n"
            "  --max-body BYTES   largest request body (VITRINE_MAX_BODY, default %u)\n"
            "\n"
            "Limits (docs/http-api.md, Limits):\n"
            "  --max-request-memory BYTES\n"
            "                     request bodies and their parsed JSON, all connections\n"
            "                     together; a large request beyond gets 503 + Retry-After\n"
            "                     (VITRINE_MAX_REQUEST_MEMORY, default %zu)\n"
            "  --max-connections N\n"
            "                     open connections; beyond, 503 and close\n"
            "                     (VITRINE_MAX_CONNECTIONS, default %d)\n"
            "  --header-timeout MS\n"
            "                     a request's headers must arrive within this\n"
            "                     (VITRINE_HEADER_TIMEOUT, default %d)\n"
            "  --body-timeout MS  a body must arrive within this plus 1 s per\n"
            "                     --min-body-rate bytes (VITRINE_BODY_TIMEOUT, default %d)\n"
            "  --min-body-rate BYTES_PER_S\n"
            "                     (VITRINE_MIN_BODY_RATE, default %d)\n"
            "  --request-timeout MS\n"
            "                     a request or response making no progress for this long\n"
            "                     is cut off (VITRINE_REQUEST_TIMEOUT, default %d)\n"
            "  --idle-timeout MS  an idle keep-alive connection is closed after this\n"
            "                     (VITRINE_IDLE_TIMEOUT, default %d)\n"
            "  --help             show this text\n",
            SERVER_DEFAULT_HOST, SERVER_DEFAULT_PORT, SERVER_DEFAULT_DATA, SERVER_DEFAULT_WEIGHTS,
            HTTP_DEFAULT_BODY_BYTES, SERVER_DEFAULT_REQUEST_MEMORY, SERVER_DEFAULT_MAX_CONNECTIONS,
            SERVER_DEFAULT_HEADER_TIMEOUT_MS, SERVER_DEFAULT_BODY_TIMEOUT_MS, SERVER_DEFAULT_BODY_RATE,
            SERVER_DEFAULT_REQUEST_TIMEOUT_MS, SERVER_DEFAULT_IDLE_TIMEOUT_MS);
}

/* config_set applies one named setting; the source names it in errors. */
static int config_set(ServerConfig *cfg, const char *key, const char *value, const char *source)
{
    long v;
    if (!strcmp(key, "host")) {
        if (!*value || strlen(value) >= sizeof cfg->host) goto bad;
        snprintf(cfg->host, sizeof cfg->host, "%s", value);
    } else if (!strcmp(key, "port")) {
        if (parse_int(value, 0, 65535, &v)) goto bad;
        cfg->port = (int)v;
    } else if (!strcmp(key, "data")) {
        if (!*value || strlen(value) >= sizeof cfg->data_dir) goto bad;
        snprintf(cfg->data_dir, sizeof cfg->data_dir, "%s", value);
    } else if (!strcmp(key, "weights")) {
        if (!*value || strlen(value) >= sizeof cfg->weights_dir) goto bad;
        snprintf(cfg->weights_dir, sizeof cfg->weights_dir, "%s", value);
    } else if (!strcmp(key, "max-body")) {
        if (parse_int(value, HTTP_MIN_BODY_BYTES, HTTP_MAX_BODY_BYTES, &v)) {
            fprintf(stderr, "vitrine serve: %s: '%s' is not a byte count in [%d, %u]\n", source, value,
                    HTTP_MIN_BODY_BYTES, HTTP_MAX_BODY_BYTES);
            return ERR_INVAL;
        }
        cfg->max_body_bytes = (size_t)v;
    } else {
        /* The numeric limits: one table, bounds from server.h. */
        static const struct {
            const char *key;
            long min, max;
        } nums[] = {
            { "max-request-memory", (long)SERVER_MIN_REQUEST_MEMORY, (long)SERVER_MAX_REQUEST_MEMORY },
            { "max-connections", SERVER_MIN_CONNECTIONS, SERVER_MAX_CONNECTIONS },
            { "header-timeout", SERVER_MIN_HEADER_TIMEOUT_MS, SERVER_MAX_HEADER_TIMEOUT_MS },
            { "body-timeout", SERVER_MIN_BODY_TIMEOUT_MS, SERVER_MAX_BODY_TIMEOUT_MS },
            { "min-body-rate", SERVER_MIN_BODY_RATE, SERVER_MAX_BODY_RATE },
            { "request-timeout", SERVER_MIN_REQUEST_TIMEOUT_MS, SERVER_MAX_REQUEST_TIMEOUT_MS },
            { "idle-timeout", SERVER_MIN_IDLE_TIMEOUT_MS, SERVER_MAX_IDLE_TIMEOUT_MS },
        };
        size_t k = 0;
        while (k < ARRAY_LEN(nums) && strcmp(nums[k].key, key)) k++;
        if (k == ARRAY_LEN(nums)) return 0;
        if (parse_int(value, nums[k].min, nums[k].max, &v)) {
            fprintf(stderr, "vitrine serve: %s: '%s' is not a number in [%ld, %ld]\n", source, value,
                    nums[k].min, nums[k].max);
            return ERR_INVAL;
        }
        if (!strcmp(key, "max-request-memory")) cfg->max_request_memory = (size_t)v;
        else if (!strcmp(key, "max-connections")) cfg->max_connections = (unsigned)v;
        else if (!strcmp(key, "header-timeout")) cfg->header_timeout_ms = (unsigned)v;
        else if (!strcmp(key, "body-timeout")) cfg->body_timeout_ms = (unsigned)v;
        else if (!strcmp(key, "min-body-rate")) cfg->min_body_rate = (size_t)v;
        else if (!strcmp(key, "request-timeout")) cfg->request_timeout_ms = (unsigned)v;
        else cfg->idle_timeout_ms = (unsigned)v;
    }
    return 0;
bad:
    fprintf(stderr, "vitrine serve: %s: invalid value '%s'\n", source, value);
    return ERR_INVAL;
}

int server_config_parse(ServerConfig *cfg, int argc, char **argv)
{
    static const struct {
        const char *key, *flag, *env;
    } opts[] = {
        { "host", "--host", "VITRINE_HOST" },
        { "port", "--port", "VITRINE_PORT" },
        { "data", "--data", "VITRINE_DATA" },
        { "weights", "--weights", "VITRINE_WEIGHTS" },
        { "max-body", "--max-body", "VITRINE_MAX_BODY" },
        { "max-request-memory", "--max-request-memory", "VITRINE_MAX_REQUEST_MEMORY" },
        { "max-connections", "--max-connections", "VITRINE_MAX_CONNECTIONS" },
        { "header-timeout", "--header-timeout", "VITRINE_HEADER_TIMEOUT" },
        { "body-timeout", "--body-timeout", "VITRINE_BODY_TIMEOUT" },
        { "min-body-rate", "--min-body-rate", "VITRINE_MIN_BODY_RATE" },
        { "request-timeout", "--request-timeout", "VITRINE_REQUEST_TIMEOUT" },
        { "idle-timeout", "--idle-timeout", "VITRINE_IDLE_TIMEOUT" },
    };
    for (size_t k = 0; k < ARRAY_LEN(opts); k++) {
        const char *v = getenv(opts[k].env);
        if (v && *v && config_set(cfg, opts[k].key, v, opts[k].env)) return ERR_INVAL;
    }
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            serve_usage(stdout);
            return 1;
        }
        int taken = 0;
        for (size_t k = 0; k < ARRAY_LEN(opts) && !taken; k++) {
            const char *v;
            int r = cli_take_value(argc, argv, &i, opts[k].flag, &v);
            if (r < 0) return ERR_INVAL;
            if (r == 1) {
                if (config_set(cfg, opts[k].key, v, opts[k].flag)) return ERR_INVAL;
                taken = 1;
            }
        }
        if (!taken) {
            fprintf(stderr, "vitrine serve: unknown option '%s' (see vitrine serve --help)\n", argv[i]);
            return ERR_INVAL;
        }
    }
    if (cfg->max_request_memory < server_min_request_memory(cfg->max_body_bytes)) {
        fprintf(stderr, "vitrine serve: --max-request-memory (%zu) must be at least %zu: %d times "
                        "--max-body (%zu), the body and its parse reservation, within %d%% of it, "
                        "so a largest body can be admitted\n",
                cfg->max_request_memory, server_min_request_memory(cfg->max_body_bytes),
                1 + HTTP_BUDGET_PARSE_FACTOR, cfg->max_body_bytes, HTTP_BUDGET_ADMIT_PERCENT);
        return ERR_INVAL;
    }
    return 0;
}
