/*
 * fuzz_qdrant.c - fuzz target for the Qdrant routes' JSON bodies: collection
 * create and update, points upsert, delete, payload and vector operations,
 * batch updates, search, query (formulas, relevance feedback, lookup_from),
 * recommend, discover, scroll, count, the group searches, facets, distance
 * matrices, payload indexes, aliases and strict mode, with filters wherever they
 * go, through the router of an in-process server (fuzz_server.h: no crash,
 * no leak, a JSON answer, 2xx or 4xx, or 503 and 507 for limits).
 *
 * The input's first byte picks the route, the rest is its body. Collection
 * "c" has one 4-d Cosine vector per point, "n" named vectors (a dense
 * "a", a multivector "m" and a sparse "s"), "t" the fixture model's 64-d
 * vectors so that Qdrant's Document and Image objects run the model, and
 * "f" is whatever the fuzzer creates.
 */
#include "fuzz_server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const FuzzRoute routes[] = {
    { "PUT", "/collections/f", NULL },
    { "PATCH", "/collections/c", NULL },
    { "DELETE", "/collections/f", NULL },
    { "PUT", "/collections/c/points?wait=true", NULL },
    { "PUT", "/collections/c/points", NULL },
    { "POST", "/collections/c/points", NULL },
    { "POST", "/collections/c/points/delete?wait=true", NULL },
    { "POST", "/collections/c/points/payload?wait=true", NULL },
    { "PUT", "/collections/c/points/payload?wait=true", NULL },
    { "POST", "/collections/c/points/payload/delete?wait=true", NULL },
    { "POST", "/collections/c/points/payload/clear?wait=true", NULL },
    { "PUT", "/collections/c/points/vectors?wait=true", NULL },
    { "POST", "/collections/c/points/vectors/delete?wait=true", NULL },
    { "POST", "/collections/c/points/batch?wait=true", NULL },
    { "POST", "/collections/c/points/search", NULL },
    { "POST", "/collections/c/points/search/batch", NULL },
    { "POST", "/collections/c/points/recommend", NULL },
    { "POST", "/collections/c/points/recommend/batch", NULL },
    { "POST", "/collections/c/points/discover", NULL },
    { "POST", "/collections/c/points/discover/batch", NULL },
    { "POST", "/collections/c/points/scroll", NULL },
    { "POST", "/collections/c/points/count", NULL },
    { "POST", "/collections/c/points/query", NULL },
    { "POST", "/collections/c/points/query/batch", NULL },
    { "POST", "/collections/c/points/search/groups", NULL },
    { "POST", "/collections/c/points/recommend/groups", NULL },
    { "POST", "/collections/c/points/query/groups", NULL },
    { "PUT", "/collections/c/index?wait=true", NULL },
    { "POST", "/collections/aliases", NULL },
    { "PUT", "/collections/n/points?wait=true", NULL },
    { "POST", "/collections/n/points/query", NULL },
    { "POST", "/collections/n/points/search", NULL },
    { "POST", "/collections/n/points/recommend", NULL },
    { "PUT", "/collections/n/points/vectors?wait=true", NULL },
    { "PUT", "/collections/t/points?wait=true", NULL },
    { "POST", "/collections/t/points/query", NULL },
    { "POST", "/collections/t/points/search", NULL },
    { "PUT", "/collections/f/points?wait=true", NULL },
    { "POST", "/collections/f/points/query", NULL },
    { "POST", "/collections/f/points/scroll", NULL },
    { "POST", "/collections/c/facet", NULL },
    { "POST", "/collections/c/points/search/matrix/pairs", NULL },
    { "POST", "/collections/c/points/search/matrix/offsets", NULL },
    { "PATCH", "/collections/f", NULL }, /* strict_mode_config, then requests under it */
};

/* fuzz_reseed (re)creates the collections the table names with a few points. */
static void fuzz_reseed(void)
{
    static const char *const names[] = { "c", "n", "t" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char path[64];
        snprintf(path, sizeof path, "/collections/%s", names[i]);
        fuzz_serve_ok("DELETE", path, "");
    }
    fuzz_serve_ok("PUT", "/collections/c", "{\"vectors\":{\"size\":4,\"distance\":\"Cosine\"}}");
    fuzz_serve_ok("PUT", "/collections/c/index?wait=true", "{\"field_name\":\"color\",\"field_schema\":\"keyword\"}");
    fuzz_serve_ok("PUT", "/collections/c/points?wait=true",
                  "{\"points\":["
                  "{\"id\":1,\"vector\":[1,0,0,0],\"payload\":{\"color\":\"red\",\"price\":10,\"tags\":[\"a\",\"b\"]}},"
                  "{\"id\":2,\"vector\":[0,1,0,0],\"payload\":{\"color\":\"blue\",\"price\":20.5,\"loc\":{\"lat\":52.5,\"lon\":13.4}}},"
                  "{\"id\":3,\"vector\":[0,0,1,0],\"payload\":{\"color\":\"red\",\"nested\":[{\"x\":1},{\"x\":2}]}},"
                  "{\"id\":\"5c56c793-69f3-4fbf-87e6-c4bf54c28c26\",\"vector\":[0.5,0.5,0.5,0.5],\"payload\":{}},"
                  "{\"id\":5,\"vector\":[-1,0,0,1]}]}");
    fuzz_serve_ok("PUT", "/collections/n",
                  "{\"vectors\":{\"a\":{\"size\":3,\"distance\":\"Dot\"},"
                  "\"m\":{\"size\":2,\"distance\":\"Cosine\",\"multivector_config\":{\"comparator\":\"max_sim\"}}},"
                  "\"sparse_vectors\":{\"s\":{}}}");
    fuzz_serve_ok("PUT", "/collections/n/points?wait=true",
                  "{\"points\":["
                  "{\"id\":1,\"vector\":{\"a\":[1,2,3],\"m\":[[1,0],[0,1]],\"s\":{\"indices\":[1,7],\"values\":[0.5,1]}},\"payload\":{\"k\":1}},"
                  "{\"id\":2,\"vector\":{\"a\":[3,2,1],\"s\":{\"indices\":[7],\"values\":[2]}},\"payload\":{\"k\":2}}]}");
    fuzz_serve_ok("PUT", "/collections/t", "{\"vectors\":{\"size\":64,\"distance\":\"Cosine\"}}");
    fuzz_serve_ok("PUT", "/collections/t/points?wait=true",
                  "{\"points\":[{\"id\":1,\"vector\":{\"text\":\"a red shoe\",\"model\":\"openai/clip-vit-base-patch32\"}},"
                  "{\"id\":2,\"vector\":{\"text\":\"a blue bag\",\"model\":\"openai/clip-vit-base-patch32\"}}]}");
}

static void fuzz_init(void) { fuzz_server_start(); }
#define FUZZ_HAS_INIT 1

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_server_input(routes, sizeof routes / sizeof routes[0], data, size);
    return 0;
}

#define FUZZ_NAME "qdrant"
#include "fuzz_replay.h"
