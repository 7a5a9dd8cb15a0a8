/*
 * auth.c - API keys (see auth.h for the design).
 */
#include "server/auth.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "base/err.h"
#include "base/log.h"
#include "base/util.h"
#include "server/metrics.h"

/* Qdrant's answers (src/common/auth/mod.rs, lib/storage/src/rbac/mod.rs). */
#define AUTH_MSG_MISSING "Must provide an API key or an Authorization bearer token"
#define AUTH_MSG_INVALID "Invalid API key or JWT"
#define AUTH_MSG_FORBIDDEN "Forbidden: Global manage access is required"
#define AUTH_BEARER "Bearer "

/* Paths served without a key. Qdrant's whitelist is "/" and "/healthz"
 * exactly and "/readyz", "/livez" as prefixes; we take all four exactly
 * (one trailing slash allowed, as the router allows it): a prefix would
 * also open "/livez/../collections" to any later route that resolved it. */
static const char *const auth_open_paths[] = { "/", "/healthz", "/livez", "/readyz" };

/* The POST routes that only read; every other POST, and every PUT, PATCH
 * and DELETE, is a write. Qdrant decides per handler (each asks for
 * read or write access); these are its read handlers among our routes,
 * plus our own /v1 reads. A route missing here is refused to the
 * read-only key, which is the safe side. */
static const char *const auth_read_posts[] = {
    "/collections/{collection_name}/points",
    "/collections/{collection_name}/points/search",
    "/collections/{collection_name}/points/search/batch",
    "/collections/{collection_name}/points/search/groups",
    "/collections/{collection_name}/points/search/matrix/pairs",
    "/collections/{collection_name}/points/search/matrix/offsets",
    "/collections/{collection_name}/points/recommend",
    "/collections/{collection_name}/points/recommend/batch",
    "/collections/{collection_name}/points/recommend/groups",
    "/collections/{collection_name}/points/discover",
    "/collections/{collection_name}/points/discover/batch",
    "/collections/{collection_name}/points/query",
    "/collections/{collection_name}/points/query/batch",
    "/collections/{collection_name}/points/query/groups",
    "/collections/{collection_name}/points/scroll",
    "/collections/{collection_name}/points/count",
    "/collections/{collection_name}/facet",
    "/v1/embeddings",
    "/v1/classify",
    "/v1/moderate",
    "/v1/collections/{collection_name}/search",
};

int auth_equal(const char *x, size_t x_len, const char *y, size_t y_len)
{
    uint8_t dx[SHA256_DIGEST_LEN], dy[SHA256_DIGEST_LEN];
    sha256(x, x_len, dx);
    sha256(y, y_len, dy);
    volatile uint8_t diff = 0;
    for (size_t i = 0; i < SHA256_DIGEST_LEN; i++) diff |= (uint8_t)(dx[i] ^ dy[i]);
    return diff == 0;
}

/* digest_equal compares two digests without an early exit. */
static int digest_equal(const uint8_t *a, const uint8_t *b)
{
    volatile uint8_t diff = 0;
    for (size_t i = 0; i < SHA256_DIGEST_LEN; i++) diff |= (uint8_t)(a[i] ^ b[i]);
    return diff == 0;
}

int auth_config_set_keys(AuthConfig *a, const char *rw_key, const char *ro_key)
{
    if ((rw_key && !*rw_key) || (ro_key && !*ro_key)) return ERR_INVAL;
    if (rw_key && ro_key && !strcmp(rw_key, ro_key)) return ERR_INVAL;
    a->has_rw = rw_key != NULL;
    a->has_ro = ro_key != NULL;
    if (rw_key) sha256(rw_key, strlen(rw_key), a->rw_digest);
    if (ro_key) sha256(ro_key, strlen(ro_key), a->ro_digest);
    return 0;
}

int auth_enabled(const AuthConfig *a)
{
    return a->has_rw || a->has_ro;
}

int auth_route_is_read(HttpMethod method, const char *pattern)
{
    if (method == HTTP_METHOD_GET || method == HTTP_METHOD_HEAD) return 1;
    if (method != HTTP_METHOD_POST || !pattern) return 0;
    for (size_t i = 0; i < ARRAY_LEN(auth_read_posts); i++)
        if (!strcmp(pattern, auth_read_posts[i])) return 1;
    return 0;
}

/* path_is_open says whether path (still percent-encoded) needs no key. */
static int path_is_open(const AuthConfig *a, const char *path)
{
    size_t n = strlen(path);
    if (n > 1 && path[n - 1] == '/') n--;
    for (size_t i = 0; i < ARRAY_LEN(auth_open_paths); i++)
        if (strlen(auth_open_paths[i]) == n && !memcmp(path, auth_open_paths[i], n)) return 1;
    /* The web UI's page and its static files (/ui, /ui/{file}; Qdrant
     * likewise opens its /dashboard): a browser cannot send a header when
     * it loads a page, so the page asks for the key and sends it with its
     * API calls. One segment only, so nothing deeper is opened by this. */
    if (n == 3 && !memcmp(path, "/ui", 3)) return 1;
    if (n > 4 && !memcmp(path, "/ui/", 4) && !memchr(path + 4, '/', n - 4)) return 1;
    return a->metrics == AUTH_METRICS_OPEN && n == 8 && !memcmp(path, "/metrics", 8);
}

static void auth_deny(HttpRequest *req, int status, const char *reason, const char *msg)
{
    char labels[64];
    snprintf(labels, sizeof labels, "reason=\"%s\"", reason);
    metrics_counter_add("vitrine_auth_failures_total", labels, 1);
    /* The path is the client's; the key is never logged. */
    log_debug("auth: %s %s refused (%s)", req->method_name, req->path, reason);
    if (status == 403)
        http_respond_error(req, 403, "%s", msg);
    else
        http_respond(req, status, "text/plain", msg, strlen(msg));
}

int auth_check(const AuthConfig *a, const Router *router, HttpRequest *req)
{
    if (!auth_enabled(a) || path_is_open(a, req->path)) return 1;
    const char *key = http_header(req, "api-key");
    if (!key) {
        const char *h = http_header(req, "Authorization");
        if (h && !strncmp(h, AUTH_BEARER, sizeof AUTH_BEARER - 1)) key = h + sizeof AUTH_BEARER - 1;
    }
    if (!key) {
        auth_deny(req, 401, "missing", AUTH_MSG_MISSING);
        return 0;
    }
    uint8_t d[SHA256_DIGEST_LEN];
    sha256(key, strlen(key), d);
    /* Both comparisons always run, so the timing does not say which key
     * (if any) came close. */
    int rw = a->has_rw & digest_equal(d, a->rw_digest);
    int ro = a->has_ro & digest_equal(d, a->ro_digest);
    if (rw) return 1;
    if (!ro) {
        auth_deny(req, 401, "invalid", AUTH_MSG_INVALID);
        return 0;
    }
    if (req->method == HTTP_METHOD_GET || req->method == HTTP_METHOD_HEAD) return 1;
    /* A POST may be a read: find its route. A path that matches no route
     * goes on to the router's 404/405, which reveal nothing a GET would
     * not. */
    RouteMatch m;
    char allow[128];
    int rc = router_match(router, req, &m, allow, sizeof allow);
    if (rc || auth_route_is_read(req->method, m.pattern)) return 1;
    auth_deny(req, 403, "forbidden", AUTH_MSG_FORBIDDEN);
    return 0;
}

int auth_read_key_file(const char *path, char *out, size_t out_len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "vitrine serve: cannot read the API key file %s: %s\n", path, strerror(errno));
        return ERR_IO;
    }
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077))
        log_warn("the API key file %s can be read by other users (mode %03o); chmod 600 it", path,
                 (unsigned)(st.st_mode & 0777));
    size_t n = fread(out, 1, out_len, f);
    int err = ferror(f);
    fclose(f);
    if (err || n == out_len) {
        fprintf(stderr, "vitrine serve: the API key file %s is unreadable or over %zu bytes\n", path,
                out_len - 1);
        return ERR_INVAL;
    }
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r' || out[n - 1] == ' ' || out[n - 1] == '\t'))
        n--;
    out[n] = '\0';
    if (!n || memchr(out, '\0', n)) {
        fprintf(stderr, "vitrine serve: the API key file %s holds no key (empty, or a NUL byte)\n", path);
        return ERR_INVAL;
    }
    return 0;
}
