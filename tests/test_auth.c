/*
 * test_auth.c - API keys (auth.c) against Qdrant's rules
 * (src/common/auth/mod.rs, src/actix/auth.rs, lib/storage/src/rbac):
 * which header carries the key, which key may do what, which paths stay
 * open, the answers' status, type and text, and the comparison itself.
 */
#include "server/auth.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "harness.h"

static void h(HttpRequest *req, void *ctx)
{
    (void)ctx;
    http_respond_text(req, 200, "ok");
}

static HttpRequest *answered;
static void capture(HttpRequest *req) { answered = req; }

/* run sends one request through auth_check with up to two headers and
 * returns the status it answered, or 200 when it let the request pass
 * without answering. */
static int run(const AuthConfig *a, const Router *rt, const char *method, const char *path, const char *h1,
               const char *v1, const char *h2, const char *v2, char *body, size_t body_cap)
{
    HttpRequest *r = http_request_new();
    r->method_name = method;
    r->method = http_method_from_str(method);
    r->path = arena_strndup(&r->arena, path, strlen(path));
    r->headers = arena_alloc(&r->arena, 2 * sizeof(HttpPair));
    if (h1) r->headers[r->n_headers++] = (HttpPair){ h1, v1 };
    if (h2) r->headers[r->n_headers++] = (HttpPair){ h2, v2 };
    r->on_response = capture;
    answered = NULL;
    int pass = auth_check(a, rt, r);
    int status = 200;
    if (body) body[0] = '\0';
    /* -1: auth_check's return and whether it answered disagree. */
    if (pass != (answered == NULL)) status = -1;
    else if (!pass) {
        status = r->status;
        if (body)
            snprintf(body, body_cap, "%.*s|%.*s", (int)r->resp_headers.len, r->resp_headers.data, (int)r->resp_body.len,
                     r->resp_body.data);
    }
    http_request_free(r);
    return status;
}

static Router *make_router(void)
{
    Router *r = router_new();
    router_add(r, "GET", "/collections", h, NULL);
    router_add(r, "PUT", "/collections/{collection_name}", h, NULL);
    router_add(r, "PUT", "/collections/{collection_name}/points", h, NULL);
    router_add(r, "POST", "/collections/{collection_name}/points", h, NULL);
    router_add(r, "POST", "/collections/{collection_name}/points/search", h, NULL);
    router_add(r, "POST", "/collections/{collection_name}/points/delete", h, NULL);
    router_add(r, "POST", "/collections/{collection_name}/snapshots", h, NULL);
    return r;
}

TEST(test_equal)
{
    ASSERT_TRUE(auth_equal("secret", 6, "secret", 6));
    ASSERT_TRUE(!auth_equal("secret", 6, "secreT", 6));
    ASSERT_TRUE(!auth_equal("secret", 6, "secret!", 7));
    ASSERT_TRUE(!auth_equal("secret", 6, "secre", 5));
    ASSERT_TRUE(auth_equal("", 0, "", 0));
    ASSERT_TRUE(!auth_equal("", 0, "x", 1));
}

TEST(test_config)
{
    AuthConfig a;
    memset(&a, 0, sizeof a);
    ASSERT_TRUE(!auth_enabled(&a));
    ASSERT_EQ_INT(auth_config_set_keys(&a, "", NULL), ERR_INVAL);
    ASSERT_EQ_INT(auth_config_set_keys(&a, NULL, ""), ERR_INVAL);
    ASSERT_EQ_INT(auth_config_set_keys(&a, "same", "same"), ERR_INVAL);
    ASSERT_OK(auth_config_set_keys(&a, NULL, "ro"));
    ASSERT_TRUE(auth_enabled(&a));
    ASSERT_TRUE(!a.has_rw && a.has_ro);
}

/* Qdrant's read handlers among these routes: GET everything, the POST
 * searches and retrieve; writes are the rest. */
TEST(test_read_routes)
{
    ASSERT_TRUE(auth_route_is_read(HTTP_METHOD_GET, "/collections/{collection_name}/snapshots/{snapshot_name}"));
    ASSERT_TRUE(auth_route_is_read(HTTP_METHOD_HEAD, "/collections"));
    ASSERT_TRUE(auth_route_is_read(HTTP_METHOD_POST, "/collections/{collection_name}/points"));
    ASSERT_TRUE(auth_route_is_read(HTTP_METHOD_POST, "/collections/{collection_name}/points/scroll"));
    ASSERT_TRUE(auth_route_is_read(HTTP_METHOD_POST, "/collections/{collection_name}/points/count"));
    ASSERT_TRUE(auth_route_is_read(HTTP_METHOD_POST, "/collections/{collection_name}/points/query/batch"));
    ASSERT_TRUE(auth_route_is_read(HTTP_METHOD_POST, "/collections/{collection_name}/points/recommend/groups"));
    ASSERT_TRUE(auth_route_is_read(HTTP_METHOD_POST, "/v1/embeddings"));
    ASSERT_TRUE(!auth_route_is_read(HTTP_METHOD_PUT, "/collections/{collection_name}/points"));
    ASSERT_TRUE(!auth_route_is_read(HTTP_METHOD_POST, "/collections/{collection_name}/points/delete"));
    ASSERT_TRUE(!auth_route_is_read(HTTP_METHOD_POST, "/collections/{collection_name}/points/payload"));
    ASSERT_TRUE(!auth_route_is_read(HTTP_METHOD_POST, "/collections/{collection_name}/points/batch"));
    ASSERT_TRUE(!auth_route_is_read(HTTP_METHOD_POST, "/collections/{collection_name}/snapshots"));
    ASSERT_TRUE(!auth_route_is_read(HTTP_METHOD_POST, "/collections/aliases"));
    ASSERT_TRUE(!auth_route_is_read(HTTP_METHOD_DELETE, "/collections/{collection_name}"));
    ASSERT_TRUE(!auth_route_is_read(HTTP_METHOD_PATCH, "/collections/{collection_name}"));
    ASSERT_TRUE(!auth_route_is_read(HTTP_METHOD_POST, NULL));
}

TEST(test_check)
{
    Router *rt = make_router();
    AuthConfig a;
    memset(&a, 0, sizeof a);
    char body[512];
    /* No key configured: everything passes. */
    ASSERT_EQ_INT(run(&a, rt, "PUT", "/collections/c", NULL, NULL, NULL, NULL, NULL, 0), 200);
    ASSERT_OK(auth_config_set_keys(&a, "rw-key", "ro-key"));

    ASSERT_EQ_INT(run(&a, rt, "GET", "/collections", NULL, NULL, NULL, NULL, body, sizeof body), 401);
    ASSERT_TRUE(strstr(body, "Content-Type: text/plain") != NULL);
    ASSERT_TRUE(strstr(body, "|Must provide an API key or an Authorization bearer token") != NULL);
    ASSERT_EQ_INT(run(&a, rt, "GET", "/collections", "api-key", "nope", NULL, NULL, body, sizeof body), 401);
    ASSERT_TRUE(strstr(body, "|Invalid API key or JWT") != NULL);
    /* Header names are case-insensitive; the Bearer prefix is not. */
    ASSERT_EQ_INT(run(&a, rt, "GET", "/collections", "API-Key", "rw-key", NULL, NULL, NULL, 0), 200);
    ASSERT_EQ_INT(run(&a, rt, "GET", "/collections", "authorization", "Bearer rw-key", NULL, NULL, NULL, 0), 200);
    ASSERT_EQ_INT(run(&a, rt, "GET", "/collections", "Authorization", "bearer rw-key", NULL, NULL, NULL, 0), 401);
    ASSERT_EQ_INT(run(&a, rt, "GET", "/collections", "Authorization", "Bearer  rw-key", NULL, NULL, NULL, 0), 401);
    /* api-key wins over Authorization. */
    ASSERT_EQ_INT(run(&a, rt, "GET", "/collections", "api-key", "x", "Authorization", "Bearer rw-key", NULL, 0), 401);
    ASSERT_EQ_INT(run(&a, rt, "GET", "/collections", "Authorization", "Bearer x", "api-key", "rw-key", NULL, 0), 200);

    /* Read-only key. */
    ASSERT_EQ_INT(run(&a, rt, "GET", "/collections", "api-key", "ro-key", NULL, NULL, NULL, 0), 200);
    ASSERT_EQ_INT(run(&a, rt, "POST", "/collections/c/points/search", "api-key", "ro-key", NULL, NULL, NULL, 0), 200);
    ASSERT_EQ_INT(run(&a, rt, "POST", "/collections/c/points", "api-key", "ro-key", NULL, NULL, NULL, 0), 200);
    ASSERT_EQ_INT(run(&a, rt, "PUT", "/collections/c/points", "api-key", "ro-key", NULL, NULL, body, sizeof body), 403);
    ASSERT_TRUE(strstr(body, "Content-Type: application/json") != NULL);
    ASSERT_TRUE(strstr(body, "|{\"status\":{\"error\":\"Forbidden: Global manage access is required\"},\"time\":") !=
                NULL);
    ASSERT_EQ_INT(run(&a, rt, "POST", "/collections/c/points/delete", "api-key", "ro-key", NULL, NULL, NULL, 0), 403);
    ASSERT_EQ_INT(run(&a, rt, "POST", "/collections/c/snapshots", "Authorization", "Bearer ro-key", NULL, NULL, NULL, 0),
                  403);
    ASSERT_EQ_INT(run(&a, rt, "PUT", "/collections/c", "api-key", "rw-key", NULL, NULL, NULL, 0), 200);
    /* An unknown path goes on to the router's 404 with the read-only key. */
    ASSERT_EQ_INT(run(&a, rt, "POST", "/nowhere", "api-key", "ro-key", NULL, NULL, NULL, 0), 200);

    /* Open paths, and only those. */
    const char *open_paths[] = { "/", "/healthz", "/livez", "/readyz", "/readyz/", "/healthz/", "/ui", "/ui/",
                                 "/ui/app.js" };
    for (size_t i = 0; i < sizeof open_paths / sizeof *open_paths; i++)
        ASSERT_EQ_INT(run(&a, rt, "GET", open_paths[i], NULL, NULL, NULL, NULL, NULL, 0), 200);
    const char *closed[] = { "/metrics", "/healthzz", "/livez/../collections", "/readyz/x", "/collections",
                             "/ui/../collections", "/ui/a/b", "/uix", "/ui//collections" };
    for (size_t i = 0; i < sizeof closed / sizeof *closed; i++)
        ASSERT_EQ_INT(run(&a, rt, "GET", closed[i], NULL, NULL, NULL, NULL, NULL, 0), 401);
    a.metrics = AUTH_METRICS_OPEN;
    ASSERT_EQ_INT(run(&a, rt, "GET", "/metrics", NULL, NULL, NULL, NULL, NULL, 0), 200);
    router_free(rt);
}

TEST(test_key_file)
{
    char dir[] = "/tmp/test_auth_XXXXXX";
    ASSERT_TRUE(mkdtemp(dir) != NULL);
    char path[256], key[AUTH_MAX_KEY_BYTES + 1];
    snprintf(path, sizeof path, "%s/key", dir);
    FILE *f = fopen(path, "w");
    fputs("  the key \r\n\n", f);
    fclose(f);
    chmod(path, 0600); /* else a (correct) warning about its mode */
    ASSERT_OK(auth_read_key_file(path, key, sizeof key));
    ASSERT_STR_EQ(key, "  the key"); /* trailing whitespace only */
    f = fopen(path, "w");
    fputs("\n\n", f);
    fclose(f);
    ASSERT_EQ_INT(auth_read_key_file(path, key, sizeof key), ERR_INVAL);
    f = fopen(path, "w");
    for (int i = 0; i < AUTH_MAX_KEY_BYTES + 1; i++) fputc('k', f);
    fclose(f);
    ASSERT_EQ_INT(auth_read_key_file(path, key, sizeof key), ERR_INVAL);
    unlink(path);
    ASSERT_EQ_INT(auth_read_key_file(path, key, sizeof key), ERR_IO);
    rmdir(dir);
}

int main(void)
{
    RUN(test_equal);
    RUN(test_config);
    RUN(test_read_routes);
    RUN(test_check);
    RUN(test_key_file);
    return harness_report(__FILE__);
}
