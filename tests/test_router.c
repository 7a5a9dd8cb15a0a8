/*
 * test_router.c - the route table (router.c): which handler a method and
 * path reach, the path parameters it binds, specificity (literal beats
 * parameter), 404 and 405 with Allow as Qdrant-shaped JSON, and the
 * patterns router_add refuses.
 */
#include "server/router.h"

#include <string.h>

#include "base/err.h"
#include "harness.h"
#include "base/json.h"

static int called_id;
static void h(HttpRequest *req, void *ctx)
{
    called_id = (int)(size_t)ctx;
    http_respond_text(req, 200, "ok");
}

static HttpRequest *answered;
static void capture(HttpRequest *req) { answered = req; }

static HttpRequest *make_req(const char *method, const char *path)
{
    HttpRequest *r = http_request_new();
    r->method_name = method;
    r->method = http_method_from_str(method);
    r->path = arena_strndup(&r->arena, path, strlen(path));
    r->on_response = capture;
    answered = NULL;
    called_id = 0;
    return r;
}

static Router *make_router(void)
{
    Router *r = router_new();
    router_add(r, "GET", "/collections", h, (void *)1);
    router_add(r, "GET", "/collections/{name}", h, (void *)2);
    router_add(r, "PUT", "/collections/{name}", h, (void *)3);
    router_add(r, "DELETE", "/collections/{name}", h, (void *)4);
    router_add(r, "GET", "/collections/{name}/points/{id}", h, (void *)5);
    router_add(r, "POST", "/collections/{name}/points/search", h, (void *)6);
    router_add(r, "POST", "/collections/{name}/points/{id}", h, (void *)7);
    router_add(r, "GET", "/", h, (void *)8);
    return r;
}

/* route_of returns the ctx id the request reaches, 0 for none. */
static int route_of(Router *rt, const char *method, const char *path)
{
    HttpRequest *r = make_req(method, path);
    RouteMatch m;
    char allow[64];
    int rc = router_match(rt, r, &m, allow, sizeof allow);
    int id = rc ? 0 : (int)(size_t)m.ctx;
    http_request_free(r);
    return id;
}

TEST(test_literal_and_params)
{
    Router *rt = make_router();
    ASSERT_EQ_INT(route_of(rt, "GET", "/collections"), 1);
    ASSERT_EQ_INT(route_of(rt, "GET", "/collections/"), 1);
    ASSERT_EQ_INT(route_of(rt, "GET", "/collections/shop"), 2);
    ASSERT_EQ_INT(route_of(rt, "PUT", "/collections/shop"), 3);
    ASSERT_EQ_INT(route_of(rt, "DELETE", "/collections/shop"), 4);
    ASSERT_EQ_INT(route_of(rt, "GET", "/collections/shop/points/42"), 5);
    ASSERT_EQ_INT(route_of(rt, "GET", "/"), 8);
    ASSERT_EQ_INT(route_of(rt, "HEAD", "/collections"), 1);
    router_free(rt);
}

TEST(test_literal_beats_param)
{
    Router *rt = make_router();
    ASSERT_EQ_INT(route_of(rt, "POST", "/collections/shop/points/search"), 6);
    ASSERT_EQ_INT(route_of(rt, "POST", "/collections/shop/points/17"), 7);
    /* GET has no literal "search" route: the parameter route takes it. */
    ASSERT_EQ_INT(route_of(rt, "GET", "/collections/shop/points/search"), 5);
    router_free(rt);
}

TEST(test_params_bound_and_decoded)
{
    Router *rt = make_router();
    HttpRequest *r = make_req("GET", "/collections/my%20shop/points/a%2Fb");
    RouteMatch m;
    char allow[64];
    ASSERT_OK(router_match(rt, r, &m, allow, sizeof allow));
    ASSERT_EQ_INT(r->n_params, 2);
    ASSERT_STR_EQ(http_param(r, "name"), "my shop");
    ASSERT_STR_EQ(http_param(r, "id"), "a/b");
    ASSERT_TRUE(http_param(r, "other") == NULL);
    ASSERT_STR_EQ(r->route, "/collections/{name}/points/{id}");
    ASSERT_STR_EQ(m.pattern, "/collections/{name}/points/{id}");
    http_request_free(r);
    router_free(rt);
}

TEST(test_not_found)
{
    Router *rt = make_router();
    ASSERT_EQ_INT(route_of(rt, "GET", "/nope"), 0);
    ASSERT_EQ_INT(route_of(rt, "GET", "/collections/a/b"), 0);
    ASSERT_EQ_INT(route_of(rt, "GET", "/collections//points/1"), 0); /* empty param */
    ASSERT_EQ_INT(route_of(rt, "GET", "relative"), 0);
    ASSERT_EQ_INT(route_of(rt, "GET", "/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s"), 0);

    HttpRequest *r = make_req("GET", "/nope");
    router_dispatch(rt, r);
    ASSERT_TRUE(answered == r);
    ASSERT_EQ_INT(r->status, 404);
    Arena a;
    arena_init(&a, 0);
    JsonValue *v;
    char err[128];
    ASSERT_OK(json_parse(&a, r->resp_body.data, r->resp_body.len, &v, err, sizeof err));
    const char *msg = json_as_str(json_get_path(v, "status.error"));
    ASSERT_TRUE(msg && strstr(msg, "/nope"));
    ASSERT_TRUE(json_get(v, "time") != NULL);
    arena_free(&a);
    http_build_head(r, 1);
    ASSERT_TRUE(strstr(r->resp_head.data, "Content-Type: application/json\r\n") != NULL);
    http_request_free(r);
    router_free(rt);
}

TEST(test_method_not_allowed)
{
    Router *rt = make_router();
    HttpRequest *r = make_req("POST", "/collections/shop");
    RouteMatch m;
    char allow[64];
    ASSERT_EQ_INT(router_match(rt, r, &m, allow, sizeof allow), ERR_UNSUPPORTED);
    ASSERT_STR_EQ(allow, "GET, HEAD, PUT, DELETE");
    router_dispatch(rt, r);
    ASSERT_EQ_INT(r->status, 405);
    ASSERT_EQ_INT(called_id, 0);
    http_build_head(r, 1);
    ASSERT_TRUE(strstr(r->resp_head.data, "\r\nAllow: GET, HEAD, PUT, DELETE\r\n") != NULL);
    ASSERT_TRUE(strstr(r->resp_body.data, "\"status\":{\"error\":") != NULL);
    http_request_free(r);
    router_free(rt);
}

TEST(test_dispatch_calls_handler)
{
    Router *rt = make_router();
    HttpRequest *r = make_req("DELETE", "/collections/x");
    router_dispatch(rt, r);
    ASSERT_EQ_INT(called_id, 4);
    ASSERT_EQ_INT(r->status, 200);
    http_request_free(r);
    router_free(rt);
}

TEST(test_bad_patterns)
{
    Router *rt = router_new();
    ASSERT_EQ_INT(router_add(rt, "GET", "no-slash", h, NULL), ERR_INVAL);
    ASSERT_EQ_INT(router_add(rt, "GET", "/a//b", h, NULL), ERR_INVAL);
    ASSERT_EQ_INT(router_add(rt, "GET", "/a/{}", h, NULL), ERR_INVAL);
    ASSERT_EQ_INT(router_add(rt, "GET", "/a/{x", h, NULL), ERR_INVAL);
    ASSERT_EQ_INT(router_add(rt, "GET", "/a/b{x}", h, NULL), ERR_INVAL);
    ASSERT_EQ_INT(router_add(rt, "FETCH", "/a", h, NULL), ERR_INVAL);
    ASSERT_OK(router_add(rt, "GET", "/a/{x}", h, NULL));
    ASSERT_EQ_INT(router_add(rt, "GET", "/a/{y}", h, NULL), ERR_EXISTS);
    ASSERT_OK(router_add(rt, "POST", "/a/{y}", h, NULL));
    ASSERT_OK(router_add(rt, "GET", "/a/lit", h, NULL));
    router_free(rt);
}

int main(void)
{
    RUN(test_literal_and_params);
    RUN(test_literal_beats_param);
    RUN(test_params_bound_and_decoded);
    RUN(test_not_found);
    RUN(test_method_not_allowed);
    RUN(test_dispatch_calls_handler);
    RUN(test_bad_patterns);
    return harness_report(__FILE__);
}
