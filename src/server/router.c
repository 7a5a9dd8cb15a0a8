/*
 * router.c - the route table declared in router.h.
 *
 * Routes are kept in a flat array and matched by a linear scan: the API has
 * a few dozen routes, and a scan over pre-split patterns costs well under a
 * microsecond, far below parsing the JSON body. A trie would pay off only
 * with hundreds of routes (rejected: more code, same answers).
 *
 * The request path is split once into decoded segments in the request's
 * arena; each route's pattern was split at router_add time. Specificity is
 * a bit mask with one bit per segment, highest bit first, set for a
 * literal: comparing masks as integers is comparing "literal beats
 * parameter" from the left.
 */
#include "server/router.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"

typedef struct {
    char *text; /* literal text, or the parameter name without braces */
    int param;
} RouteSegment;

typedef struct {
    HttpMethod method;
    char *pattern;
    RouteSegment seg[ROUTER_MAX_SEGMENTS];
    size_t n_seg;
    HttpHandler fn;
    void *ctx;
} Route;

struct Router {
    Route *routes;
    size_t n;
    size_t cap;
};

Router *router_new(void)
{
    return xcalloc(1, sizeof(Router));
}

void router_free(Router *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->n; i++) {
        free(r->routes[i].pattern);
        for (size_t s = 0; s < r->routes[i].n_seg; s++) free(r->routes[i].seg[s].text);
    }
    free(r->routes);
    free(r);
}

/* split_pattern fills route->seg from pattern; 0 or ERR_INVAL. */
static int split_pattern(Route *route, const char *pattern)
{
    if (pattern[0] != '/') return ERR_INVAL;
    const char *s = pattern + 1;
    size_t plen = strlen(s);
    if (plen > 0 && s[plen - 1] == '/') plen--; /* trailing slash is ignored */
    route->n_seg = 0;
    size_t i = 0;
    while (i < plen) {
        const char *slash = memchr(s + i, '/', plen - i);
        size_t len = slash ? (size_t)(slash - (s + i)) : plen - i;
        if (len == 0 || route->n_seg >= ROUTER_MAX_SEGMENTS) return ERR_INVAL;
        RouteSegment *seg = &route->seg[route->n_seg];
        if (s[i] == '{') {
            if (len < 3 || s[i + len - 1] != '}') return ERR_INVAL;
            seg->param = 1;
            seg->text = xstrndup(s + i + 1, len - 2);
        } else {
            if (memchr(s + i, '{', len) || memchr(s + i, '}', len)) return ERR_INVAL;
            seg->param = 0;
            seg->text = xstrndup(s + i, len);
        }
        route->n_seg++;
        i += len + 1;
    }
    return 0;
}

static void free_segments(Route *route)
{
    for (size_t s = 0; s < route->n_seg; s++) free(route->seg[s].text);
    route->n_seg = 0;
}

int router_add(Router *r, const char *method, const char *pattern, HttpHandler fn, void *ctx)
{
    HttpMethod m = http_method_from_str(method);
    if (m == HTTP_METHOD_OTHER || !fn) return ERR_INVAL;
    if (r->n >= ROUTER_MAX_ROUTES) return ERR_FULL;
    Route route;
    memset(&route, 0, sizeof route);
    int rc = split_pattern(&route, pattern);
    if (rc) {
        free_segments(&route);
        log_error("router: bad pattern '%s'", pattern);
        return rc;
    }
    for (size_t i = 0; i < r->n; i++) {
        const Route *o = &r->routes[i];
        if (o->method != m || o->n_seg != route.n_seg) continue;
        size_t s = 0;
        for (; s < o->n_seg; s++)
            if (o->seg[s].param != route.seg[s].param ||
                (!o->seg[s].param && strcmp(o->seg[s].text, route.seg[s].text)))
                break;
        if (s == o->n_seg) {
            free_segments(&route);
            log_error("router: %s %s clashes with %s", method, pattern, o->pattern);
            return ERR_EXISTS;
        }
    }
    route.method = m;
    route.pattern = xstrdup(pattern);
    route.fn = fn;
    route.ctx = ctx;
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 16;
        r->routes = xrealloc(r->routes, r->cap * sizeof(Route));
    }
    r->routes[r->n++] = route;
    return 0;
}

/* split_path splits req->path into decoded segments; -1 when too many. */
static int split_path(HttpRequest *req, char **segs)
{
    const char *p = req->path;
    if (*p != '/') return -1;
    p++;
    size_t plen = strlen(p);
    if (plen > 0 && p[plen - 1] == '/') plen--;
    int n = 0;
    size_t i = 0;
    while (i < plen) {
        const char *slash = memchr(p + i, '/', plen - i);
        size_t len = slash ? (size_t)(slash - (p + i)) : plen - i;
        if (n >= ROUTER_MAX_SEGMENTS) return -1;
        /* %00 would decode to a NUL inside the segment, and the C string
         * handlers see would silently end there ("a%00b" naming "a"):
         * such a path matches no route. */
        for (size_t k = 0; k + 2 < len; k++)
            if (p[i + k] == '%' && p[i + k + 1] == '0' && p[i + k + 2] == '0') return -1;
        segs[n++] = http_url_decode(&req->arena, p + i, len, 0);
        i += len + 1;
    }
    /* "/a/" split as "a" then an empty tail is the trailing slash, dropped
     * above; "/a//b" keeps an empty middle segment, which matches nothing. */
    return n;
}

/* route_matches returns the specificity mask + 1 when the path matches. */
static uint32_t route_matches(const Route *route, char **segs, int n)
{
    if ((size_t)n != route->n_seg) return 0;
    uint32_t mask = 0;
    for (int i = 0; i < n; i++) {
        if (route->seg[i].param) {
            if (!segs[i][0]) return 0;
        } else {
            if (strcmp(route->seg[i].text, segs[i])) return 0;
            mask |= 1u << (ROUTER_MAX_SEGMENTS - 1 - i);
        }
    }
    return mask + 1;
}

int router_match(const Router *r, HttpRequest *req, RouteMatch *out, char *allow, size_t allow_len)
{
    char *segs[ROUTER_MAX_SEGMENTS];
    int n = split_path(req, segs);
    if (allow_len) allow[0] = '\0';
    if (n < 0) return ERR_NOTFOUND;
    HttpMethod want = req->method == HTTP_METHOD_HEAD ? HTTP_METHOD_GET : req->method;
    const Route *best = NULL;
    uint32_t best_score = 0;
    unsigned allowed = 0; /* bit per HttpMethod */
    for (size_t i = 0; i < r->n; i++) {
        const Route *route = &r->routes[i];
        uint32_t score = route_matches(route, segs, n);
        if (!score) continue;
        allowed |= 1u << route->method;
        if (route->method == want && score > best_score) {
            best = route;
            best_score = score;
        }
    }
    if (!best) {
        if (!allowed) return ERR_NOTFOUND;
        if (allowed & (1u << HTTP_METHOD_GET)) allowed |= 1u << HTTP_METHOD_HEAD;
        size_t used = 0;
        for (int m = HTTP_METHOD_GET; m <= HTTP_METHOD_OPTIONS; m++) {
            if (!(allowed & (1u << m))) continue;
            int w = snprintf(allow + used, allow_len > used ? allow_len - used : 0, "%s%s",
                             used ? ", " : "", http_method_str((HttpMethod)m));
            if (w > 0) used += (size_t)w;
            if (used >= allow_len) break;
        }
        return ERR_UNSUPPORTED;
    }
    size_t n_params = 0;
    for (size_t s = 0; s < best->n_seg; s++) n_params += best->seg[s].param;
    req->params = arena_alloc(&req->arena, (n_params ? n_params : 1) * sizeof(HttpPair));
    req->n_params = 0;
    for (size_t s = 0; s < best->n_seg; s++) {
        if (!best->seg[s].param) continue;
        req->params[req->n_params].name = best->seg[s].text;
        req->params[req->n_params].value = segs[s];
        req->n_params++;
    }
    req->route = best->pattern;
    out->fn = best->fn;
    out->ctx = best->ctx;
    out->pattern = best->pattern;
    return 0;
}

void router_dispatch(const Router *r, HttpRequest *req)
{
    RouteMatch m;
    char allow[128];
    int rc = router_match(r, req, &m, allow, sizeof allow);
    if (rc == ERR_NOTFOUND) {
        http_respond_error(req, 404, "Not found: no route for %s %s", req->method_name, req->path);
        return;
    }
    if (rc == ERR_UNSUPPORTED) {
        http_set_header(req, "Allow", allow);
        http_respond_error(req, 405, "Method %s not allowed for %s (allowed: %s)", req->method_name,
                           req->path, allow);
        return;
    }
    m.fn(req, m.ctx);
}
