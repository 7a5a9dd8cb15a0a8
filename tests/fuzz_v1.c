/*
 * fuzz_v1.c - fuzz target for the /v1 routes' bodies: OpenAI's embeddings,
 * classify, the moderation rules and moderate, items (JSON and multipart)
 * and search, plus Qdrant's inference objects on an items collection,
 * through the router of an in-process server that runs the tiny fixture
 * model (fuzz_server.h: no crash, no leak, a JSON answer, 2xx or 4xx, or
 * 503 and 507 for limits).
 *
 * The input's first byte picks the route, the rest is its body. Collection
 * "items" holds two items (one with a photo) and is made again, with the
 * moderation rules emptied, every FUZZ_RESEED_EVERY inputs.
 */
#include "fuzz_server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_V1_BOUNDARY "fuzzboundary"

static const FuzzRoute routes[] = {
    { "POST", "/v1/embeddings", NULL },
    { "POST", "/v1/classify", NULL },
    { "PUT", "/v1/moderation/rules", NULL },
    { "POST", "/v1/moderate", NULL },
    { "PUT", "/v1/collections/items/items?wait=true", NULL },
    { "PUT", "/v1/collections/items/items?wait=true", "multipart/form-data; boundary=" FUZZ_V1_BOUNDARY },
    { "POST", "/v1/collections/items/search", NULL },
    { "POST", "/collections/items/points/query", NULL },
    { "PUT", "/collections/items/points?wait=true", NULL },
    { "PUT", "/v1/collections/other/items?wait=true", NULL },
    { "POST", "/v1/collections/other/search", NULL },
};

/* tests/fixtures/clip/images/tiny_7x5.png */
#define FUZZ_V1_PNG                                                                                    \
    "iVBORw0KGgoAAAANSUhEUgAAAAcAAAAFCAIAAAAG+GGPAAAAeUlEQVR4nAFuAJH/AUEjEVMmEjI9Og4bHfvq5vXm3wYaHwJc" \
    "KRIdAgUB9/H43cUDBwn+/P/++fYEHBoY7tDf1M7hDR4R+s/HFQD27fn9BPsKDOH0+9Pe2+nQCDkZDfwI/AQFAgIXJiTzGxrw" \
    "/f8N+fjp6+/pBQYDAwGjXjPp17C5RQAAAABJRU5ErkJggg=="

static void fuzz_reseed(void)
{
    fuzz_serve_ok("PUT", "/v1/moderation/rules", "{\"rules\":[]}");
    fuzz_serve_ok("DELETE", "/collections/items", "");
    fuzz_serve_ok("PUT", "/v1/collections/items/items?wait=true",
                  "{\"items\":[{\"id\":1,\"image\":\"data:image/png;base64," FUZZ_V1_PNG "\","
                  "\"text\":\"a small red square\",\"payload\":{\"price\":3,\"color\":\"red\"}},"
                  "{\"id\":2,\"text\":\"a blue bag\",\"payload\":{\"price\":7}}]}");
}

static void fuzz_init(void) { fuzz_server_start(); }
#define FUZZ_HAS_INIT 1

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_server_input(routes, sizeof routes / sizeof routes[0], data, size);
    return 0;
}

#define FUZZ_NAME "v1"
#include "fuzz_replay.h"
