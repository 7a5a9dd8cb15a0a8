/*
 * server.h - the HTTP server: listener, connections, built-in routes,
 * graceful shutdown, and the `serve` command.
 *
 * Design. One libuv loop thread owns every socket. A connection reads into
 * a per-connection buffer, feeds its HttpParser, and serves ONE request at
 * a time: while a request is being served (synchronously or by a job),
 * later pipelined bytes wait unparsed in the buffer, which is what keeps
 * responses in request order. While serving, reading stops once
 * SERVER_MAX_BUFFERED_BYTES are waiting, so a pipelining client is bounded
 * by bytes (and so by requests) per connection. Errors the parser finds
 * (400, 413, 431), timeouts with a request started (408) and the
 * over-the-limit 503 are written and then the connection is closed
 * "lingering": our side is shut down and input is drained for a moment so
 * the client reads the error instead of a reset.
 *
 * Later modules plug in as ServerModules (see below): they register their
 * routes on the server's Router before the loop runs, run their blocking
 * work through work.h, and are stopped after the last connection closed.
 *
 * Shutdown (SIGINT/SIGTERM or server_shutdown): stop accepting, close idle
 * connections, let in-flight requests finish and answer them with
 * Connection: close, force-close what is left after shutdown_timeout_ms,
 * stop the modules, close every handle. uv_run then returns and
 * uv_loop_close succeeds.
 */
#ifndef VITRINE_SERVER_H
#define VITRINE_SERVER_H

#include <stddef.h>

#include "server/auth.h"
#include "server/http.h"
#include "server/router.h"

struct uv_loop_s; /* from uv.h, which only server.c and work.c include */

#define SERVER_DEFAULT_HOST "127.0.0.1"
#define SERVER_DEFAULT_PORT 6333 /* Qdrant's: its clients connect unchanged */
#define SERVER_DEFAULT_DATA "./data"
#define SERVER_DEFAULT_WEIGHTS "./weights/clip-vit-base-patch32"
#define SERVER_MAX_PATH 4096

/* Open connections; beyond this a client gets 503 and is closed, and
 * beyond SERVER_MAX_CONNECTIONS + SERVER_REJECT_SLACK it is closed at once. */
#define SERVER_MIN_CONNECTIONS 1
#define SERVER_DEFAULT_MAX_CONNECTIONS 1024
#define SERVER_MAX_CONNECTIONS 65536
#define SERVER_REJECT_SLACK 64
/* A keep-alive connection with no request in progress is closed after this. */
#define SERVER_MIN_IDLE_TIMEOUT_MS 10
#define SERVER_DEFAULT_IDLE_TIMEOUT_MS 60000
#define SERVER_MAX_IDLE_TIMEOUT_MS 3600000
/* A started request (or an unread response) making no progress for this
 * long is answered 408 (or dropped) and the connection closed. */
#define SERVER_MIN_REQUEST_TIMEOUT_MS 10
#define SERVER_DEFAULT_REQUEST_TIMEOUT_MS 30000
#define SERVER_MAX_REQUEST_TIMEOUT_MS 3600000
/*
 * Deadlines, so that a client trickling bytes cannot hold a connection
 * (and the memory charged for its request) forever; the request timeout
 * above only catches a client that stops altogether.
 * - Header deadline: a request's header section must be complete within
 *   header_timeout_ms of its first byte (of the accept, for a connection's
 *   first request: a client that connects and sends nothing is a slow
 *   header client too).
 * - Body deadline: the body must be complete within body_timeout_ms of the
 *   end of the headers plus one second for every min_body_rate bytes that
 *   arrived: a client must keep up an average of min_body_rate bytes/s
 *   once the grace period is spent. A 32 MiB body at 64 KiB/s may take
 *   30 s + 512 s; one byte a second is cut off after about 30 s.
 * Past a deadline the client gets 408 and the connection is closed.
 */
#define SERVER_MIN_HEADER_TIMEOUT_MS 10
#define SERVER_DEFAULT_HEADER_TIMEOUT_MS 10000
#define SERVER_MAX_HEADER_TIMEOUT_MS 3600000
#define SERVER_MIN_BODY_TIMEOUT_MS 10
#define SERVER_DEFAULT_BODY_TIMEOUT_MS 30000
#define SERVER_MAX_BODY_TIMEOUT_MS 3600000
#define SERVER_MIN_BODY_RATE 1                    /* bytes per second */
#define SERVER_DEFAULT_BODY_RATE (64 * 1024)
#define SERVER_MAX_BODY_RATE (1024 * 1024 * 1024)
/*
 * Request memory (http.h's budget): bodies and their parsed JSON, all
 * connections together. The default keeps `serve` with ViT-B/32 loaded
 * under 1 GB: weights ~605 MB (mapped f32), inference buffers and thread
 * stacks ~60 MB, an index of 20k 512-d vectors ~50 MB, and small requests
 * admitted past the budget at most 64 MiB (http.h): 128 MiB on top leaves
 * ~100 MB for the allocator and responses. Large bodies are admitted in
 * the first 102 MiB (80%), each reserving three times its length (http.h): one
 * 32 MiB upsert at a time, or eight of 4 MiB. It must hold at least one
 * body of max_body_bytes with its reservation in that share, so a largest
 * body can always be admitted alone.
 */
#define SERVER_MIN_REQUEST_MEMORY (1024 * 1024)
#define SERVER_DEFAULT_REQUEST_MEMORY ((size_t)128 * 1024 * 1024)
#define SERVER_MAX_REQUEST_MEMORY ((size_t)1024 * 1024 * 1024 * 1024)
/* malloc_trim runs this long after the last connection closed. */
#define SERVER_IDLE_TRIM_MS 1000
/* How long shutdown waits for in-flight requests before closing them. */
#define SERVER_DEFAULT_SHUTDOWN_TIMEOUT_MS 10000
/* How long a closing connection drains input after its last response. */
#define SERVER_LINGER_MS 2000
/* Pipelined input held while a request is served; reading pauses beyond. */
#define SERVER_MAX_BUFFERED_BYTES (256 * 1024)
#define SERVER_READ_BUF_BYTES (64 * 1024)
#define SERVER_BACKLOG 511
#define SERVER_MAX_MODULES 16

/* Everything `serve` was told; later modules read it via server_config. */
typedef struct {
    char host[256];
    int port; /* 0: pick a free port (see server_port) */
    char data_dir[SERVER_MAX_PATH];
    char weights_dir[SERVER_MAX_PATH];
    int have_weights; /* weights_dir exists; embedding endpoints are enabled */
    size_t max_body_bytes;
    size_t max_header_bytes;
    unsigned max_connections;
    unsigned idle_timeout_ms;
    unsigned request_timeout_ms;
    unsigned header_timeout_ms;
    unsigned body_timeout_ms;
    size_t min_body_rate;      /* bytes per second */
    size_t max_request_memory; /* the request memory budget, bytes */
    unsigned shutdown_timeout_ms;
    AuthConfig auth; /* API keys and /metrics access (auth.h); none by default */
} ServerConfig;

/* server_config_defaults fills every field with its SERVER_/HTTP_ default. */
void server_config_defaults(ServerConfig *cfg);

/*
 * server_config_parse reads VITRINE_HOST, VITRINE_PORT, VITRINE_DATA,
 * VITRINE_WEIGHTS, VITRINE_MAX_BODY and the VITRINE_ names of the limits
 * (see serve --help), then the flags in argv[1..] (argv[0]
 * is "serve"; flags win over the environment). 0 on success, 1 when --help
 * was printed, ERR_INVAL (message printed) on a bad flag or value.
 */
int server_config_parse(ServerConfig *cfg, int argc, char **argv);

typedef struct Server Server;

/*
 * A module that serves routes. start runs before the loop does (routes,
 * resources, work queues); stop runs on the loop thread at shutdown after
 * the last connection closed and must close the module's handles (e.g.
 * work_queue_stop); destroy runs after the loop ended and frees the state.
 * stop and destroy may be NULL.
 *
 * To plug a module into `vitrine serve`: declare
 *     extern const ServerModule api_qdrant_module;
 * in its header and add `&api_qdrant_module,` to serve_modules[] in
 * server.c. Its handlers read the settings with server_config(srv) (data
 * directory, have_weights) and get the loop for work.h with server_loop(srv).
 */
typedef struct {
    const char *name;
    int (*start)(Server *srv, Router *router, void **state);
    void (*stop)(void *state);
    void (*destroy)(void *state);
} ServerModule;

/* server_new creates the server on loop with the built-in routes
 * (/healthz, /livez, /readyz, /metrics). It does not listen yet. */
int server_new(struct uv_loop_s *loop, const ServerConfig *cfg, Server **out);

/* server_add_module calls m->start now; m must outlive the server. */
int server_add_module(Server *s, const ServerModule *m);

Router *server_router(Server *s);
const ServerConfig *server_config(const Server *s);
struct uv_loop_s *server_loop(Server *s);

/* server_listen binds and listens; ERR_IO (logged) when it cannot. Logs
 * "listening on http://HOST:PORT" with the actual port. */
int server_listen(Server *s);
int server_port(const Server *s);

/* server_handle_signals makes SIGINT and SIGTERM start a graceful
 * shutdown; a second signal closes remaining connections at once. */
int server_handle_signals(Server *s);

/* server_shutdown starts a graceful shutdown (loop thread; idempotent).
 * server_request_shutdown does the same from any thread. */
void server_shutdown(Server *s);
void server_request_shutdown(Server *s);

/* server_open_connections counts accepted, not yet closed connections. */
size_t server_open_connections(const Server *s);
/* server_request_memory is the request memory budget's counter: bytes of
 * bodies and request arenas in use now, and the most seen at once. */
void server_request_memory(const Server *s, size_t *used, size_t *peak);

/*
 * server_run runs a whole server: a loop, the server with the given modules
 * (started in order), signal handling and the listener, until a graceful
 * shutdown ends the loop. Returns the process exit status (0, or 1 after
 * logging why). `vitrine serve` is this plus its flags.
 */
int server_run(const ServerConfig *cfg, const ServerModule *const *modules, size_t n_modules);

/*
 * A whole server on a thread of its own, for commands that work on a data
 * directory directly (`vitrine index --data DIR`): they start one on
 * 127.0.0.1 with port 0 and talk to it over HTTP like to any other, so a
 * command behaves the same against a remote server and alone. No signal
 * handlers are installed (the command keeps its own). server_thread_start
 * returns once the server listens (0) or failed to start (ERR_IO, the
 * reason logged: e.g. the data directory held by another process).
 * server_thread_stop shuts it down gracefully, joins the thread and
 * returns its exit status (0 or 1); cfg and modules must outlive the
 * thread.
 */
typedef struct ServerThread ServerThread;
int server_thread_start(const ServerConfig *cfg, const ServerModule *const *modules, size_t n_modules,
                        ServerThread **out);
int server_thread_port(const ServerThread *t);
int server_thread_stop(ServerThread *t);

/* server_free releases the server after uv_run returned (every handle closed). */
void server_free(Server *s);

#endif
