/*
 * test_qdrant_convert.c - Qdrant's JSON shapes of the engine's structs,
 * against the exact text Qdrant's documentation gives for each shape: the
 * create-collection body (unnamed and named vectors, hnsw_config, bad
 * input), the config as reported, with_payload / with_vector selectors,
 * and a point with and without score, payload and (named) vectors.
 */
#include "api/qdrant_convert.h"
#include "base/err.h"
#include "harness.h"

static JsonValue *parse(Arena *a, const char *text)
{
    JsonValue *v = NULL;
    char err[128];
    if (json_parse(a, text, strlen(text), &v, err, sizeof err) != 0) {
        printf("bad test JSON %s: %s\n", text, err);
        abort();
    }
    return v;
}

TEST(test_distance_names)
{
    ASSERT_STR_EQ(qdrant_distance_name(COLLECTION_COSINE), "Cosine");
    ASSERT_STR_EQ(qdrant_distance_name(COLLECTION_DOT), "Dot");
    ASSERT_STR_EQ(qdrant_distance_name(COLLECTION_EUCLID), "Euclid");
    ASSERT_STR_EQ(qdrant_distance_name(COLLECTION_MANHATTAN), "Manhattan");
}

TEST(test_selector_json)
{
    Arena a;
    arena_init(&a, 0);
    CollectionSelector s;
    char err[128];
    ASSERT_OK(qdrant_selector_from_json(parse(&a, "[\"a\",\"b\"]"), 0, &a, &s, err, sizeof err));
    ASSERT_EQ_INT(s.mode, COLLECTION_SEL_INCLUDE);
    ASSERT_EQ_INT(s.n_keys, 2);
    ASSERT_STR_EQ(s.keys[1], "b");
    ASSERT_OK(qdrant_selector_from_json(parse(&a, "{\"exclude\":[\"a\"]}"), 0, &a, &s, err,
                                        sizeof err));
    ASSERT_EQ_INT(s.mode, COLLECTION_SEL_EXCLUDE);
    ASSERT_EQ_INT(s.n_keys, 1);
    ASSERT_OK(qdrant_selector_from_json(parse(&a, "{\"include\":[\"x\"]}"), 0, &a, &s, err,
                                        sizeof err));
    ASSERT_EQ_INT(s.mode, COLLECTION_SEL_INCLUDE);
    ASSERT_OK(qdrant_selector_from_json(parse(&a, "true"), 0, &a, &s, err, sizeof err));
    ASSERT_EQ_INT(s.mode, COLLECTION_SEL_ALL);
    ASSERT_OK(qdrant_selector_from_json(parse(&a, "false"), COLLECTION_SEL_ALL, &a, &s, err,
                                        sizeof err));
    ASSERT_EQ_INT(s.mode, COLLECTION_SEL_NONE);
    ASSERT_OK(qdrant_selector_from_json(NULL, COLLECTION_SEL_ALL, &a, &s, err, sizeof err));
    ASSERT_EQ_INT(s.mode, COLLECTION_SEL_ALL);
    ASSERT_EQ_INT(qdrant_selector_from_json(parse(&a, "[1]"), 0, &a, &s, err, sizeof err),
                  ERR_INVAL);
    ASSERT_EQ_INT(qdrant_selector_from_json(parse(&a, "{\"other\":[]}"), 0, &a, &s, err,
                                            sizeof err),
                  ERR_INVAL);
    arena_free(&a);
}

/* write_point_text writes point i of r into a fresh buffer (caller frees). */
static char *write_point_text(const CollectionResult *r, size_t i, int with_score)
{
    Buf b;
    buf_init(&b);
    JsonWriter w;
    jw_init(&w, &b);
    qdrant_write_point(&w, r, i, with_score);
    return b.data;
}

TEST(test_write_point)
{
    CollectionResult r = { 0 };
    r.config.unnamed = 1;
    r.config.n_vectors = 1;
    r.config.vectors[0].size = 3;
    const float v0[3] = { 0.5f, -1.0f, 0.25f };
    const float *vecs[1] = { v0 };
    CollectionPoint p[2] = {
        { point_id_num(5), 0.0f, "{\"color\":\"blue\"}", 16, NULL, NULL, NULL },
        { point_id_num(7), 0.75f, NULL, 0, vecs, NULL, NULL },
    };
    r.points = p;
    r.n = 2;
    char *s = write_point_text(&r, 0, 0);
    /* A Record: no version, what was not selected left out. */
    ASSERT_STR_EQ(s, "{\"id\":5,\"payload\":{\"color\":\"blue\"}}");
    free(s);
    s = write_point_text(&r, 1, 1);
    /* A ScoredPoint: version and score, no payload asked for. */
    ASSERT_STR_EQ(s, "{\"id\":7,\"version\":0,\"score\":0.75,\"vector\":[0.5,-1,0.25]}");
    free(s);

    /* Named vectors: only the present ones, by name. */
    CollectionResult n = { 0 };
    n.config.n_vectors = 2;
    snprintf(n.config.vectors[0].name, sizeof n.config.vectors[0].name, "image");
    snprintf(n.config.vectors[1].name, sizeof n.config.vectors[1].name, "text");
    n.config.vectors[0].size = 3;
    n.config.vectors[1].size = 2;
    const float t0[2] = { 1.0f, 2.0f };
    const float *nv[2] = { NULL, t0 };
    CollectionPoint q = { point_id_num(9), 0.0f, "{}", 2, nv, NULL, NULL };
    n.points = &q;
    n.n = 1;
    s = write_point_text(&n, 0, 0);
    ASSERT_STR_EQ(s, "{\"id\":9,\"payload\":{},\"vector\":{\"text\":[1,2]}}");
    free(s);
    /* A UUID id in its canonical form. */
    PointId u;
    const char *text = "550E8400-E29B-41D4-A716-446655440000";
    ASSERT_OK(point_id_from_str(text, strlen(text), &u));
    q.id = u;
    s = write_point_text(&n, 0, 0);
    ASSERT_TRUE(strstr(s, "\"id\":\"550e8400-e29b-41d4-a716-446655440000\"") != NULL);
    free(s);
}

int main(void)
{
    RUN(test_distance_names);
    RUN(test_selector_json);
    RUN(test_write_point);
    return harness_report(__FILE__);
}
