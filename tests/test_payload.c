/*
 * test_payload.c - set_payload / delete_payload semantics (src/index/payload.c).
 *
 * Reference: the tests of Qdrant's JSON path module (qdrant/qdrant
 * lib/segment/src/json_path/mod.rs: test_set_value_to_json_*,
 * test_expand_payload_with_non_existing_array, test_replace_scalar_key_
 * with_object, test_remove_key) and merge_map in common/utils.rs (a null
 * value removes the key). Inputs and expected outputs are transcribed
 * from those tests; member order is ours (replaced keys stay in place,
 * new keys go last), which Qdrant's map comparison does not check.
 *
 * JSON is written with single quotes; J() turns them into double quotes.
 */
#include "index/payload.h"

#include "base/err.h"
#include "harness.h"

static Arena arena;

static const JsonValue *J(const char *text)
{
    size_t n = strlen(text);
    char *t = arena_alloc(&arena, n + 1);
    for (size_t i = 0; i <= n; i++) t[i] = text[i] == '\'' ? '"' : text[i];
    JsonValue *v = NULL;
    char err[128];
    if (json_parse(&arena, t, n, &v, err, sizeof err) != 0) {
        printf("  bad test JSON %s: %s\n", t, err);
        fflush(stdout);
        abort();
    }
    return v;
}

/* text serialises v into a static buffer for messages and comparisons. */
static const char *text(const JsonValue *v)
{
    static char out[2][1024];
    static int which;
    Buf b;
    buf_init(&b);
    JsonWriter w;
    jw_init(&w, &b);
    jw_value(&w, v);
    which ^= 1;
    snprintf(out[which], sizeof out[which], "%s", b.data);
    buf_free(&b);
    return out[which];
}

/* SET_EQ applies set and compares with the expected JSON (member order included). */
#define SET_EQ(payload, set, key, expect)                                                  \
    do {                                                                                   \
        JsonValue *out_ = NULL;                                                            \
        char err_[128];                                                                    \
        ASSERT_OK(payload_set(&arena, J(payload), J(set), key, &out_, err_, sizeof err_)); \
        if (!json_equal(out_, J(expect)))                                                  \
            HARNESS_FAIL("set %s at %s: got %s, expected %s", set, key ? key : "(root)",   \
                         text(out_), text(J(expect)));                                     \
    } while (0)

#define DEL_EQ(payload, keys, expect)                                                      \
    do {                                                                                   \
        JsonValue *out_ = NULL;                                                            \
        char err_[128];                                                                    \
        ASSERT_OK(payload_delete_keys(&arena, J(payload), J(keys), &out_, err_, sizeof err_)); \
        if (!json_equal(out_, J(expect)))                                                  \
            HARNESS_FAIL("delete %s: got %s, expected %s", keys, text(out_), text(J(expect))); \
    } while (0)

static const char *const qdrant_map =
    "{'a': {'b': [{'c': 1}, {'c': 2}, {'d': {'e': 3}}]}, 'f': 3, 'g': ['g0', 'g1', 'g2']}";

TEST(test_set_qdrant_cases)
{
    /* test_set_value_to_json_with_empty_key */
    SET_EQ(qdrant_map, "{'c': 5}", NULL,
           "{'a': {'b': [{'c': 1}, {'c': 2}, {'d': {'e': 3}}]}, 'f': 3, 'g': ['g0', 'g1', 'g2'], 'c': 5}");
    SET_EQ(qdrant_map, "{'c': 5}", "",
           "{'a': {'b': [{'c': 1}, {'c': 2}, {'d': {'e': 3}}]}, 'f': 3, 'g': ['g0', 'g1', 'g2'], 'c': 5}");
    /* test_set_value_to_json_with_one_level_key */
    SET_EQ(qdrant_map, "{'b': 5}", "a", "{'a': {'b': 5}, 'f': 3, 'g': ['g0', 'g1', 'g2']}");
    /* test_set_value_to_json_with_array_index */
    SET_EQ(qdrant_map, "{'c': 5}", "a.b[1]",
           "{'a': {'b': [{'c': 1}, {'c': 5}, {'d': {'e': 3}}]}, 'f': 3, 'g': ['g0', 'g1', 'g2']}");
    /* test_set_value_to_json_with_empty_src */
    SET_EQ(qdrant_map, "{}", "a.b[1]", qdrant_map);
    /* test_set_value_to_json_with_empty_dest */
    SET_EQ("{}", "{'c': 1}", NULL, "{'c': 1}");
    /* test_set_value_to_json_with_empty_dest_nested_key */
    SET_EQ("{}", "{'c': 1}", "key1.key2", "{'key1': {'key2': {'c': 1}}}");
    /* test_set_value_to_json_with_empty_dest_nested_array_index_key */
    SET_EQ("{}", "{'c': 1}", "key1.key2[3]", "{'key1': {'key2': []}}");
    SET_EQ("{}", "{'c': 1}", "key1.key2[0]", "{'key1': {'key2': []}}");
    /* test_expand_payload_with_non_existing_array */
    SET_EQ("{}", "{'c': 1}", "key1.key2[].key3", "{'key1': {'key2': []}}");
    /* test_replace_scalar_key_with_object */
    SET_EQ("{'a': 10}", "{'x': 1}", "a.b.c", "{'a': {'b': {'c': {'x': 1}}}}");
}

TEST(test_set_merge_rules)
{
    /* Replaced keys keep their place; new keys are appended. */
    SET_EQ("{'a': 1, 'b': 2, 'c': 3}", "{'b': [20], 'd': {'x': true}}", NULL,
           "{'a': 1, 'b': [20], 'c': 3, 'd': {'x': true}}");
    /* merge_map: a null value removes the key (and nothing else). */
    SET_EQ("{'a': 1, 'b': 2}", "{'a': null, 'z': null}", NULL, "{'b': 2}");
    /* The merge is shallow: an object value replaces, it is not merged. */
    SET_EQ("{'o': {'x': 1, 'y': 2}}", "{'o': {'y': 3}}", NULL, "{'o': {'y': 3}}");
    /* [] applies to every element; non-objects become {} first. */
    SET_EQ("{'a': [{'k': 1}, 5, {'m': 2}]}", "{'n': 0}", "a[]", "{'a': [{'k': 1, 'n': 0}, {'n': 0}, {'m': 2, 'n': 0}]}");
    /* [] on a non-array replaces it with []. */
    SET_EQ("{'a': 'text'}", "{'n': 0}", "a[]", "{'a': []}");
    /* Quoted keys. */
    SET_EQ("{}", "{'v': 1}", "\"a.b\".c", "{'a.b': {'c': {'v': 1}}}");
    /* A missing or null payload is empty. */
    JsonValue *out = NULL;
    char err[128];
    ASSERT_OK(payload_set(&arena, NULL, J("{'a': 1}"), NULL, &out, err, sizeof err));
    ASSERT_STR_EQ(text(out), "{\"a\":1}");
    ASSERT_OK(payload_set(&arena, J("null"), J("{'a': 1}"), "x", &out, err, sizeof err));
    ASSERT_STR_EQ(text(out), "{\"x\":{\"a\":1}}");
}

TEST(test_set_is_pure)
{
    /* The input is not modified and the output shares no storage with it. */
    const JsonValue *in = J("{'a': {'b': 1}, 's': 'str', 'l': [1, 2]}");
    const char *before = text(in);
    char saved[256];
    snprintf(saved, sizeof saved, "%s", before);
    Arena other;
    arena_init(&other, 0);
    JsonValue *out = NULL;
    char err[128];
    ASSERT_OK(payload_set(&other, in, J("{'c': 2, 's': null}"), "a", &out, err, sizeof err));
    ASSERT_STR_EQ(text(in), saved);
    const JsonValue *a = json_get(out, "a");
    ASSERT_TRUE(a && a->u.members != json_get(in, "a")->u.members);
    ASSERT_TRUE(json_get(out, "s")->u.str != json_get(in, "s")->u.str);
    ASSERT_STR_EQ(text(out), "{\"a\":{\"b\":1,\"c\":2},\"s\":\"str\",\"l\":[1,2]}");
    /* payload_copy gives an equal, independent value. */
    JsonValue *copy = payload_copy(&other, in);
    ASSERT_TRUE(json_equal(copy, in));
    ASSERT_TRUE(copy->u.members != in->u.members);
    arena_free(&other);
}

TEST(test_delete_qdrant_cases)
{
    /* test_remove_key, step by step from its payload. */
    const char *p = "{'a': 1, 'b': {'c': 123, 'e': {'f': [1, 2, 3], 'g': 7, 'h': 'text',"
                    " 'i': [{'j': 1, 'k': 2}, {'j': 3, 'k': 4}]}}}";
    DEL_EQ(p, "['b.c']", "{'a': 1, 'b': {'e': {'f': [1, 2, 3], 'g': 7, 'h': 'text',"
                         " 'i': [{'j': 1, 'k': 2}, {'j': 3, 'k': 4}]}}}");
    DEL_EQ(p, "['b.c', 'b.e.i[0].j']", "{'a': 1, 'b': {'e': {'f': [1, 2, 3], 'g': 7, 'h': 'text',"
                                       " 'i': [{'k': 2}, {'j': 3, 'k': 4}]}}}");
    DEL_EQ(p, "['b.c', 'b.e.i[0].j', 'b.e.i[].k']",
           "{'a': 1, 'b': {'e': {'f': [1, 2, 3], 'g': 7, 'h': 'text', 'i': [{}, {'j': 3}]}}}");
    DEL_EQ(p, "['b.e.i[]']", "{'a': 1, 'b': {'c': 123, 'e': {'f': [1, 2, 3], 'g': 7, 'h': 'text', 'i': []}}}");
    DEL_EQ(p, "['b.e.i', 'b.e.f', 'k', 'b.e.l', 'a']", "{'b': {'c': 123, 'e': {'g': 7, 'h': 'text'}}}");
    DEL_EQ(p, "['b.c', 'b.e', 'a']", "{'b': {}}");
    DEL_EQ(p, "['b', 'a']", "{}");
    /* Deleting by index removes nothing (not idempotent, so Qdrant skips it). */
    DEL_EQ(p, "['b.e.f[0]']", p);
    /* Paths through the wrong types are ignored. */
    DEL_EQ(p, "['a.x', 'a[]', 'b.c.d', 'b[].c']", p);
    DEL_EQ("{}", "[]", "{}");
}

/* nest_x writes {'x': {'x': ... 1 ...}} with levels objects. */
/* sel runs payload_select on a document with a list of paths. */
static const char *sel(const char *doc, int include, const char *p1, const char *p2)
{
    const char *paths[2] = { p1, p2 };
    Buf *b = arena_alloc(&arena, sizeof *b);
    buf_init(b);
    JsonWriter w;
    jw_init(&w, b);
    char err[128];
    if (payload_select(&w, J(doc), paths, p2 ? 2 : 1, include, &arena, err, sizeof err)) {
        buf_free(b);
        return "ERR";
    }
    char *out = arena_strndup(&arena, b->data, b->len);
    buf_free(b);
    return out;
}

/* The cases of Qdrant's json_path tests and tests/openapi/test_payload_selector.py. */
TEST(test_select_qdrant_cases)
{
    const char *doc = "{\"a\":{\"b\":1,\"c\":2},\"d\":3,\"e\":[{\"b\":4,\"c\":5},{\"b\":6}]}";
    ASSERT_STR_EQ(sel(doc, 1, "a.b", NULL), "{\"a\":{\"b\":1}}");
    ASSERT_STR_EQ(sel(doc, 1, "a", "d"), "{\"a\":{\"b\":1,\"c\":2},\"d\":3}");
    ASSERT_STR_EQ(sel(doc, 0, "a.b", NULL), "{\"a\":{\"c\":2},\"d\":3,\"e\":[{\"b\":4,\"c\":5},{\"b\":6}]}");
    ASSERT_STR_EQ(sel(doc, 0, "a", "e"), "{\"d\":3}");
    /* Array elements sit at [], so a.b-style paths do not reach inside. */
    ASSERT_STR_EQ(sel(doc, 1, "e.b", NULL), "{\"e\":[]}");
    ASSERT_STR_EQ(sel(doc, 1, "e[].b", NULL), "{\"e\":[{\"b\":4},{\"b\":6}]}");
    ASSERT_STR_EQ(sel(doc, 0, "e[].c", NULL), "{\"a\":{\"b\":1,\"c\":2},\"d\":3,\"e\":[{\"b\":4},{\"b\":6}]}");
    /* test_payload_selector.py: two nested keys of one object. */
    ASSERT_STR_EQ(sel("{\"country\":{\"name\":\"Germany\",\"capital\":\"Berlin\",\"x\":1}}", 1,
                      "country.name", "country.capital"),
                  "{\"country\":{\"name\":\"Germany\",\"capital\":\"Berlin\"}}");
    ASSERT_STR_EQ(sel(doc, 1, "zz", NULL), "{}");
    ASSERT_STR_EQ(sel("[1]", 1, "a", NULL), "{}");
    ASSERT_STR_EQ(sel(doc, 1, "a..b", NULL), "ERR");
}

static void nest_x(char *buf, size_t cap, int levels)
{
    size_t n = 0;
    for (int i = 0; i < levels; i++) n += (size_t)snprintf(buf + n, cap - n, "{'x': ");
    n += (size_t)snprintf(buf + n, cap - n, "1");
    for (int i = 0; i < levels; i++) n += (size_t)snprintf(buf + n, cap - n, "}");
}

TEST(test_invalid)
{
    JsonValue *out = NULL;
    char err[128];
    ASSERT_EQ_INT(payload_set(&arena, J("{}"), J("[1]"), NULL, &out, err, sizeof err), ERR_INVAL);
    ASSERT_STR_EQ(err, "payload to set must be a JSON object");
    ASSERT_EQ_INT(payload_set(&arena, J("{}"), NULL, NULL, &out, err, sizeof err), ERR_INVAL);
    ASSERT_EQ_INT(payload_set(&arena, J("[]"), J("{}"), NULL, &out, err, sizeof err), ERR_INVAL);
    ASSERT_STR_EQ(err, "payload must be a JSON object");
    ASSERT_EQ_INT(payload_set(&arena, J("{}"), J("{}"), "a..b", &out, err, sizeof err), ERR_INVAL);
    ASSERT_STR_EQ(err, "key: invalid key path \"a..b\"");
    ASSERT_EQ_INT(payload_delete_keys(&arena, J("{}"), J("'a'"), &out, err, sizeof err), ERR_INVAL);
    ASSERT_STR_EQ(err, "keys must be an array of key path strings");
    ASSERT_EQ_INT(payload_delete_keys(&arena, J("{}"), J("['a', 3]"), &out, err, sizeof err), ERR_INVAL);
    ASSERT_STR_EQ(err, "keys[1]: expected a key path string");
    ASSERT_EQ_INT(payload_delete_keys(&arena, J("{}"), J("['a', 'b c']"), &out, err, sizeof err), ERR_INVAL);
    ASSERT_STR_EQ(err, "keys[1]: invalid key path \"b c\"");
    /* A result the JSON reader could not load back is refused: the root
     * and 30 objects along a 31-key path, then the target object holding
     * the 33 levels below the 34-deep value's top: 65 levels (limit 64). */
    char key[128], deep[512], shallower[512];
    size_t n = 0;
    for (int i = 0; i < 31; i++) n += (size_t)snprintf(key + n, sizeof key - n, "%sk", i ? "." : "");
    nest_x(deep, sizeof deep, 34);
    ASSERT_EQ_INT(payload_set(&arena, J("{}"), J(deep), key, &out, err, sizeof err), ERR_INVAL);
    ASSERT_STR_EQ(err, "the resulting payload would nest deeper than 64 levels");
    /* One level shallower fits exactly. */
    nest_x(shallower, sizeof shallower, 33);
    ASSERT_OK(payload_set(&arena, J("{}"), J(shallower), key, &out, err, sizeof err));
}

int main(void)
{
    arena_init(&arena, 0);
    RUN(test_set_qdrant_cases);
    RUN(test_set_merge_rules);
    RUN(test_set_is_pure);
    RUN(test_delete_qdrant_cases);
    RUN(test_invalid);
    RUN(test_select_qdrant_cases);
    arena_free(&arena);
    return harness_report(__FILE__);
}
