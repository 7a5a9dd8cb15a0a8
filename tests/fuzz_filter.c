/*
 * fuzz_filter.c - fuzz target for payload filters (src/index/filter.c,
 * geo.c): compiling a Qdrant filter from JSON and matching it.
 *
 * The input is parsed as JSON and compiled. A filter that compiles is
 * matched against a fixed set of points (ids and payloads of every JSON
 * type, nested objects and arrays, geo points, datetimes, null and missing
 * fields). The same filter wrapped as {"must_not":[F]} must compile too
 * and match exactly the points F does not, and {"must":[F,F]} exactly the
 * points F does: boolean structure has one meaning whatever the inner
 * conditions are. The estimates and candidate helpers run too. A filter
 * that does not compile has a message. Any violation calls abort() so the
 * fuzzer records the input.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/json.h"
#include "index/filter.h"
#include "index/pointid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok, const char *what)
{
    if (ok) return;
    fprintf(stderr, "fuzz_filter: %s\n", what);
    abort();
}

static const char *const payload_texts[] = {
    "{}",
    "{\"color\":\"red\",\"price\":10,\"count\":3,\"tags\":[\"a\",\"b\"],\"ok\":true}",
    "{\"color\":\"blue\",\"price\":10.5,\"tags\":[],\"ok\":false,\"n\":null}",
    "{\"city\":{\"name\":\"Berlin\",\"loc\":{\"lat\":52.52,\"lon\":13.405}},\"price\":-1}",
    "{\"items\":[{\"a\":1,\"b\":\"x\"},{\"a\":2,\"b\":\"y\"}],\"date\":\"2024-01-02T03:04:05Z\"}",
    "{\"loc\":{\"lat\":-33.9,\"lon\":151.2},\"text\":\"the quick brown fox\",\"u\":\"550e8400-e29b-41d4-a716-446655440000\"}",
    "{\"price\":18446744073709551615,\"count\":-9223372036854775808,\"color\":[\"red\",\"green\"]}",
    "{\"a\":{\"b\":{\"c\":[1,[2,3],{\"d\":4}]}},\"e\":\"\"}",
};
#define N_POINTS (sizeof payload_texts / sizeof payload_texts[0])

static Arena payload_arena;
static JsonValue *payloads[N_POINTS];
static PointId ids[N_POINTS];

static void fuzz_init(void)
{
    arena_init(&payload_arena, 0);
    char err[128];
    for (size_t i = 0; i < N_POINTS; i++) {
        if (json_parse(&payload_arena, payload_texts[i], strlen(payload_texts[i]), &payloads[i], err,
                       sizeof err))
            abort();
        memset(&ids[i], 0, sizeof ids[i]);
        ids[i].kind = POINT_ID_NUM;
        ids[i].num = i;
    }
    /* One UUID id. */
    if (point_id_from_str("550e8400-e29b-41d4-a716-446655440000", 36, &ids[N_POINTS - 1])) abort();
}
#define FUZZ_HAS_INIT 1

/* compile_text compiles a filter from JSON text; NULL when it does not. */
static Filter *compile_text(Arena *a, const char *text, size_t len)
{
    JsonValue *v;
    char err[256];
    if (json_parse(a, text, len, &v, err, sizeof err)) return NULL;
    Filter *f = NULL;
    int rc = filter_compile(v, &f, err, sizeof err);
    if (rc) {
        check(f == NULL && err[0] != '\0', "a refused filter without a message");
        return NULL;
    }
    return f;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Arena a;
    arena_init(&a, 0);
    Filter *f = compile_text(&a, (const char *)data, size);
    if (!f) {
        arena_free(&a);
        return 0;
    }
    int match[N_POINTS];
    for (size_t i = 0; i < N_POINTS; i++) {
        match[i] = filter_match(f, &ids[i], payloads[i]);
        check(match[i] == 0 || match[i] == 1, "filter_match is not 0 or 1");
        check(filter_match(f, &ids[i], payloads[i]) == match[i], "filter_match is not deterministic");
    }
    FilterCardinality card;
    filter_estimate(f, 1000, &card);
    (void)filter_matches_all(f);
    (void)filter_needs_payload(f);
    const PointId *cand;
    size_t n_cand;
    (void)filter_id_candidates(f, &cand, &n_cand);

    /* Wrapped: must_not negates, must of itself is itself. Only for an
     * object filter (null and other shapes have no wrapped form). */
    JsonValue *v;
    char err[64];
    if (json_parse(&a, (const char *)data, size, &v, err, sizeof err) == 0 && v->type == JSON_OBJECT) {
        Buf b;
        buf_init(&b);
        buf_append_str(&b, "{\"must_not\":[");
        buf_append(&b, data, size);
        buf_append_str(&b, "]}");
        Filter *neg = compile_text(&a, b.data, b.len);
        check(neg != NULL, "{\"must_not\":[F]} does not compile");
        b.len = 0;
        buf_append_str(&b, "{\"must\":[");
        buf_append(&b, data, size);
        buf_append_str(&b, ",");
        buf_append(&b, data, size);
        buf_append_str(&b, "]}");
        Filter *both = compile_text(&a, b.data, b.len);
        check(both != NULL, "{\"must\":[F,F]} does not compile");
        for (size_t i = 0; i < N_POINTS; i++) {
            check(filter_match(neg, &ids[i], payloads[i]) == !match[i], "must_not is not the negation");
            check(filter_match(both, &ids[i], payloads[i]) == match[i], "must [F,F] differs from F");
        }
        filter_free(neg);
        filter_free(both);
        buf_free(&b);
    }
    filter_free(f);
    arena_free(&a);
    return 0;
}

#define FUZZ_NAME "filter"
#include "fuzz_replay.h"
