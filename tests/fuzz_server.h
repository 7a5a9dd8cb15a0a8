/*
 * fuzz_server.h - the in-process server shared by the route fuzz targets
 * (fuzz_qdrant.c, fuzz_v1.c).
 *
 * fuzz_init starts what `vitrine serve` runs (the /v1 module with the
 * tiny fixture model tests/fixtures/clip/models/tiny-p32, the Qdrant
 * module) on a loop of our own, over a temporary data directory (in
 * /dev/shm when there is one: fsync there costs nothing), without a
 * listener. A target then builds a request for one route of its table
 * (the input's first byte picks it, the rest is the body), feeds it
 * through a real HttpParser (limits and a request memory budget as the
 * server has), dispatches it on the router, and runs the loop until it
 * is answered: synchronously, after a threadpool job, the writer thread
 * or the embedding batcher. Every answer must be
 *   - a status that a client's body may cause: 2xx or 4xx, or 503 (a
 *     limit: queue or memory), 507 (disk full) and 501 (a Qdrant feature
 *     vitrine does not serve, named in the message); never another 5xx;
 *   - a well-formed JSON body when it says application/json (every route
 *     here answers JSON);
 * and once the request is freed its memory must be uncharged from the
 * budget. Leaks are ASan's (LeakSanitizer) to find.
 *
 * The state persists between inputs (a fuzzed delete may empty the
 * collection): every FUZZ_RESEED_EVERY inputs the target's reseed requests
 * run again, and they must succeed.
 */
#ifndef VITRINE_FUZZ_SERVER_H
#define VITRINE_FUZZ_SERVER_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>
/* uv.h brings sys/param.h's MIN and MAX; util.h defines its own. */
#undef MIN
#undef MAX

#include "api/qdrant.h"
#include "api/v1.h"
#include "base/arena.h"
#include "base/budget.h"
#include "base/json.h"
#include "base/log.h"
#include "base/util.h"
#include "server/http.h"
#include "server/router.h"
#include "server/server.h"

#define FUZZ_MODEL_DIR "tests/fixtures/clip/models/tiny-p32"
/* Run the reseed requests again after this many inputs. */
#define FUZZ_RESEED_EVERY 200
/* Bodies beyond this are cut: the routes' limits are tested elsewhere
 * (limits.sh), and big bodies only slow the fuzzer down. */
#define FUZZ_MAX_BODY (256 * 1024)

/* A route of a target's table; the body comes from the input. */
typedef struct {
    const char *method;
    const char *target;       /* path and query string */
    const char *content_type; /* NULL: application/json */
} FuzzRoute;

static uv_loop_t fuzz_loop;
static Server *fuzz_srv;
static char fuzz_dir[256];
static MemBudget fuzz_budget;
static HttpLimits fuzz_limits;
static unsigned long fuzz_inputs;

static void fuzz_check(int ok, const char *what, const HttpRequest *req)
{
    if (ok) return;
    fprintf(stderr, "fuzz: %s", what);
    if (req)
        fprintf(stderr, " (%s %s -> %d: %.*s)", req->method_name, req->target, req->status,
                (int)MIN(req->resp_body.len, 2000), req->resp_body.data ? req->resp_body.data : "");
    fprintf(stderr, "\n");
    abort();
}

static void fuzz_on_response(HttpRequest *req) { (void)req; }

/* fuzz_serve sends one request and returns its status after checking the
 * answer as the header says. */
static int fuzz_serve(const FuzzRoute *rt, const uint8_t *body, size_t len)
{
    if (len > FUZZ_MAX_BODY) len = FUZZ_MAX_BODY;
    Buf raw;
    buf_init(&raw);
    buf_printf(&raw, "%s %s HTTP/1.1\r\nHost: fuzz\r\nContent-Type: %s\r\nContent-Length: %zu\r\n\r\n",
               rt->method, rt->target, rt->content_type ? rt->content_type : "application/json", len);
    buf_append(&raw, body, len);
    HttpParser *p = http_parser_new(&fuzz_limits);
    size_t used;
    HttpRequest *req = NULL;
    int status = 0;
    const char *msg;
    HttpFeedResult r = http_parser_feed(p, raw.data, raw.len, &used, &req, &status, &msg);
    fuzz_check(r == HTTP_FEED_REQUEST, "the harness's request did not parse", NULL);
    req->on_response = fuzz_on_response;
    req->owner = &fuzz_srv;
    http_request_hold(req);
    router_dispatch(server_router(fuzz_srv), req);
    http_request_release(req);
    while (!req->status) uv_run(&fuzz_loop, UV_RUN_ONCE);
    status = req->status;
    fuzz_check((status >= 200 && status < 300) || (status >= 400 && status < 500) || status == 501 ||
                   status == 503 || status == 507,
               "a status the client's body must not cause", req);
    /* Every route in the tables answers JSON, errors included. */
    {
        Arena a;
        arena_init(&a, ARENA_DEFAULT_CHUNK);
        JsonValue *v;
        char err[256];
        int rc = json_parse(&a, req->resp_body.data, req->resp_body.len, &v, err, sizeof err);
        fuzz_check(rc == 0, "the response is not JSON", req);
        fuzz_check(v->type == JSON_OBJECT, "the response is not a JSON object", req);
        arena_free(&a);
    }
    http_request_free(req);
    http_parser_free(p);
    buf_free(&raw);
    fuzz_check(budget_used(&fuzz_budget) == 0, "request memory still charged after the request was freed", NULL);
    return status;
}

/* fuzz_serve_str sends a fixed JSON body (reseeding) and requires a 2xx. */
static void fuzz_serve_ok(const char *method, const char *target, const char *body)
{
    FuzzRoute rt = { method, target, NULL };
    int st = fuzz_serve(&rt, (const uint8_t *)body, strlen(body));
    if (st < 200 || st >= 300) {
        fprintf(stderr, "fuzz: setup request %s %s answered %d\n", method, target, st);
        abort();
    }
}

static void fuzz_reseed(void);

static void fuzz_rm_dir(void)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fuzz_dir);
    if (fuzz_dir[0] && system(cmd)) fprintf(stderr, "fuzz: cannot remove %s\n", fuzz_dir);
}

static void fuzz_server_start(void)
{
    struct stat st;
    const char *base = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && access("/dev/shm", W_OK) == 0
                           ? "/dev/shm"
                           : (getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    snprintf(fuzz_dir, sizeof fuzz_dir, "%s/vitrine-fuzz.XXXXXX", base);
    if (!mkdtemp(fuzz_dir)) {
        fprintf(stderr, "fuzz: cannot create a directory in %s\n", base);
        abort();
    }
    atexit(fuzz_rm_dir);
    log_set_level(getenv("FUZZ_VERBOSE") ? LOG_INFO : LOG_ERROR);
    /* Images never wait for a batch to fill: the fuzzer sends one request
     * at a time. */
    char *argv[] = { "serve", "--embed-batch-wait-ms", "0", NULL };
    int argc = 3;
    if (v1_options_take(&argc, argv)) abort();
    ServerConfig cfg;
    server_config_defaults(&cfg);
    cfg.port = 0;
    snprintf(cfg.data_dir, sizeof cfg.data_dir, "%s", fuzz_dir);
    snprintf(cfg.weights_dir, sizeof cfg.weights_dir, "%s", FUZZ_MODEL_DIR);
    cfg.have_weights = stat(FUZZ_MODEL_DIR "/model.safetensors", &st) == 0;
    if (!cfg.have_weights) {
        fprintf(stderr, "fuzz: %s is missing (run from the repository root)\n", FUZZ_MODEL_DIR);
        abort();
    }
    /* The server's defaults, except bodies of 1 MiB and a budget small
     * enough that the 503 paths run. */
    cfg.max_body_bytes = 1u << 20;
    cfg.max_request_memory = 16u << 20;
    fuzz_limits.max_header_bytes = cfg.max_header_bytes;
    fuzz_limits.max_body_bytes = cfg.max_body_bytes;
    fuzz_limits.budget = &fuzz_budget;
    budget_init(&fuzz_budget, cfg.max_request_memory / 100 * HTTP_BUDGET_ADMIT_PERCENT, cfg.max_request_memory);
    if (uv_loop_init(&fuzz_loop) || server_new(&fuzz_loop, &cfg, &fuzz_srv)) {
        fprintf(stderr, "fuzz: invalid server configuration\n");
        abort();
    }
    if (
server_add_module(fuzz_srv, &api_v1_module) || server_add_module(fuzz_srv, &api_qdrant_module)) {
        fprintf(stderr, "fuzz: the server did not start\n");
        abort();
    }
    fuzz_reseed();
}

/* fuzz_server_input serves one input against table[0..n). */
static void fuzz_server_input(const FuzzRoute *table, size_t n, const uint8_t *data, size_t size)
{
    if (size < 1) return;
    if (++fuzz_inputs % FUZZ_RESEED_EVERY == 0) fuzz_reseed();
    fuzz_serve(&table[data[0] % n], data + 1, size - 1);
}

#endif
