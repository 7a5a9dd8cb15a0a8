/*
 * router.h - the route table: (method, path pattern) -> handler.
 *
 * A pattern is a path of '/'-separated segments; a segment written
 * "{name}" matches any one non-empty segment and binds it, percent-decoded,
 * as the path parameter `name` (read it with http_param). Example:
 *
 *     router_add(r, "GET", "/collections/{name}/points/{id}", get_point, ctx);
 *
 * Matching. Among the routes whose pattern matches the path and whose
 * method is the request's, the most specific wins: comparing segment by
 * segment from the left, a literal beats a parameter, so
 * "POST /collections/{name}/points/search" is not taken for "{id}". A HEAD
 * request is served by the GET route (the server drops the body). A path
 * that matches only under other methods gets 405 with an Allow header; a
 * path that matches nothing gets 404; both as Qdrant-shaped JSON errors.
 * One trailing slash is ignored ("/collections/" is "/collections").
 *
 * Routes are added before the loop starts and never removed; matching
 * takes no lock and allocates only in the request's arena.
 */
#ifndef VITRINE_ROUTER_H
#define VITRINE_ROUTER_H

#include <stddef.h>

#include "server/http.h"

/* Bounds that keep matching allocation-free and patterns sane. */
#define ROUTER_MAX_SEGMENTS 16
#define ROUTER_MAX_ROUTES 256

/* A handler answers the request exactly once, now or later (see http.h). */
typedef void (*HttpHandler)(HttpRequest *req, void *ctx);

typedef struct Router Router;

Router *router_new(void);
void router_free(Router *r);

/* router_add registers a route. ERR_INVAL for a malformed pattern or an
 * unknown method, ERR_EXISTS when the same method and pattern exist,
 * ERR_FULL beyond ROUTER_MAX_ROUTES. method is "GET", "POST", ... */
int router_add(Router *r, const char *method, const char *pattern, HttpHandler fn, void *ctx);

typedef struct {
    HttpHandler fn;
    void *ctx;
    const char *pattern; /* owned by the router */
} RouteMatch;

/*
 * router_match finds the route for req. On 0 it fills *out, sets req->route
 * and req->params (arena). ERR_NOTFOUND: no pattern matches the path.
 * ERR_UNSUPPORTED: the path matches under other methods only; allow then
 * holds them ("GET, PUT").
 */
int router_match(const Router *r, HttpRequest *req, RouteMatch *out, char *allow, size_t allow_len);

/* router_dispatch matches and calls the handler, or answers 404 / 405. */
void router_dispatch(const Router *r, HttpRequest *req);

#endif
