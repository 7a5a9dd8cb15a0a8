/*
 * test_filter.c - Qdrant payload filters (src/index/filter.c).
 *
 * The reference is Qdrant's documented behaviour: every expected result
 * below comes from an example of the "Filtering" page of the Qdrant
 * documentation (qdrant/landing_page, content/documentation/concepts/
 * filtering.md; cited as "docs: <section>") or from an assertion in
 * Qdrant's own tests (qdrant/qdrant lib/segment/src/payload_storage/
 * query_checker.rs test_condition_checker, condition_checker.rs
 * test_value_checker_for_null_or_empty / test_value_count, json_path/
 * mod.rs and parse.rs tests; cited as "qdrant: <test>"), transcribed by
 * hand. Cases without such a source say which rule of Qdrant's code
 * they follow.
 *
 * JSON in this file is written with single quotes for readability; J()
 * turns them into double quotes before parsing.
 */
#include "index/filter.h"

#include "base/err.h"
#include "harness.h"

static Arena arena;

/* J parses text with ' as ", into the file's arena. */
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

static Filter *F(const char *text)
{
    Filter *f = NULL;
    char err[256];
    if (filter_compile(J(text), &f, err, sizeof err) != 0) {
        printf("  filter did not compile: %s\n", err);
        return NULL;
    }
    return f;
}

/* M compiles a filter and matches one payload (numeric id 0). */
static int M(const char *filter, const char *payload)
{
    Filter *f = F(filter);
    if (!f) return -1;
    PointId id = point_id_num(0);
    int r = filter_match(f, &id, payload ? J(payload) : NULL);
    filter_free(f);
    return r;
}

/* matching returns, as a bit set, which of payloads[0..n) (point ids
 * 1..n) pass filter: bit i-1 for id i. */
static unsigned matching(const char *filter, const char *const *payloads, size_t n)
{
    Filter *f = F(filter);
    if (!f) return 0xdeadu;
    unsigned bits = 0;
    for (size_t i = 0; i < n; i++) {
        PointId id = point_id_num(i + 1);
        if (filter_match(f, &id, J(payloads[i]))) bits |= 1u << i;
    }
    filter_free(f);
    return bits;
}

#define IDS1(a) (1u << ((a) - 1))

/* compile_err compiles a filter that must fail and returns its message. */
static const char *compile_err(const char *filter, int expect_rc)
{
    static char err[256];
    Filter *f = NULL;
    int rc = filter_compile(J(filter), &f, err, sizeof err);
    if (rc != expect_rc) {
        snprintf(err, sizeof err, "(returned %d, expected %d)", rc, expect_rc);
        filter_free(f);
    }
    return err;
}

/* docs: "Filtering clauses" - the six city/color points. */
static const char *const cities[] = {
    "{'city': 'London', 'color': 'green'}", "{'city': 'London', 'color': 'red'}",
    "{'city': 'London', 'color': 'blue'}",  "{'city': 'Berlin', 'color': 'red'}",
    "{'city': 'Moscow', 'color': 'green'}", "{'city': 'Moscow', 'color': 'blue'}",
};

TEST(test_docs_clauses)
{
    /* docs: Must -> [2] */
    ASSERT_EQ_INT(matching("{'must': [{'key': 'city', 'match': {'value': 'London'}},"
                           "{'key': 'color', 'match': {'value': 'red'}}]}", cities, 6), IDS1(2));
    /* docs: Should -> [1, 2, 3, 4] */
    ASSERT_EQ_INT(matching("{'should': [{'key': 'city', 'match': {'value': 'London'}},"
                           "{'key': 'color', 'match': {'value': 'red'}}]}", cities, 6),
                  IDS1(1) | IDS1(2) | IDS1(3) | IDS1(4));
    /* docs: Must Not -> [5, 6] */
    ASSERT_EQ_INT(matching("{'must_not': [{'key': 'city', 'match': {'value': 'London'}},"
                           "{'key': 'color', 'match': {'value': 'red'}}]}", cities, 6),
                  IDS1(5) | IDS1(6));
    /* docs: Clauses combination -> [1, 3] */
    ASSERT_EQ_INT(matching("{'must': [{'key': 'city', 'match': {'value': 'London'}}],"
                           "'must_not': [{'key': 'color', 'match': {'value': 'red'}}]}", cities, 6),
                  IDS1(1) | IDS1(3));
    /* docs: recursively nested clauses -> [1, 3, 4, 5, 6] */
    ASSERT_EQ_INT(matching("{'must_not': [{'must': [{'key': 'city', 'match': {'value': 'London'}},"
                           "{'key': 'color', 'match': {'value': 'red'}}]}]}", cities, 6),
                  IDS1(1) | IDS1(3) | IDS1(4) | IDS1(5) | IDS1(6));
    /* docs: Has id - has_id [1,3,5,7,9,11] -> [1, 3, 5] */
    ASSERT_EQ_INT(matching("{'must': [{'has_id': [1, 3, 5, 7, 9, 11]}]}", cities, 6),
                  IDS1(1) | IDS1(3) | IDS1(5));
    /* Qdrant's schema allows one condition instead of an array. */
    ASSERT_EQ_INT(matching("{'must': {'key': 'color', 'match': {'value': 'red'}}}", cities, 6),
                  IDS1(2) | IDS1(4));
    /* min_should: at least 2 of (London, red, green) -> [1, 2] */
    ASSERT_EQ_INT(matching("{'min_should': {'min_count': 2, 'conditions': ["
                           "{'key': 'city', 'match': {'value': 'London'}},"
                           "{'key': 'color', 'match': {'value': 'red'}},"
                           "{'key': 'color', 'match': {'value': 'green'}}]}}", cities, 6),
                  IDS1(1) | IDS1(2));
    /* All four clauses at once: London and (red or blue), not blue, and
     * one of (red, Berlin) -> [2] */
    ASSERT_EQ_INT(matching("{'must': [{'key': 'city', 'match': {'value': 'London'}}],"
                           "'should': [{'key': 'color', 'match': {'value': 'red'}},"
                           "{'key': 'color', 'match': {'value': 'blue'}}],"
                           "'must_not': [{'key': 'color', 'match': {'value': 'blue'}}],"
                           "'min_should': {'min_count': 1, 'conditions': ["
                           "{'key': 'color', 'match': {'value': 'red'}},"
                           "{'key': 'city', 'match': {'value': 'Berlin'}}]}}", cities, 6),
                  IDS1(2));
}

/* qdrant: test_condition_checker's payload (without the geo location). */
static const char *const checker_payload =
    "{'price': 499.90, 'amount': 10, 'rating': [3, 7, 9, 9], 'color': 'red',"
    " 'has_delivery': true, 'shipped_at': '2020-02-15T00:00:00Z', 'parts': [],"
    " 'packaging': null, 'not_null': [null]}";

TEST(test_qdrant_condition_checker)
{
    const char *p = checker_payload;
    /* is_empty: price no, something_new yes, parts ([]) yes, not_null ([null]) no */
    ASSERT_EQ_INT(M("{'must': [{'is_empty': {'key': 'price'}}]}", p), 0);
    ASSERT_EQ_INT(M("{'must': [{'is_empty': {'key': 'something_new'}}]}", p), 1);
    ASSERT_EQ_INT(M("{'must': [{'is_empty': {'key': 'parts'}}]}", p), 1);
    ASSERT_EQ_INT(M("{'must': [{'is_empty': {'key': 'not_null'}}]}", p), 0);
    /* docs: Is Empty - also true for null */
    ASSERT_EQ_INT(M("{'must': [{'is_empty': {'key': 'packaging'}}]}", p), 1);
    /* is_null: amount no, parts no, something_else no, packaging yes, not_null no */
    ASSERT_EQ_INT(M("{'must': [{'is_null': {'key': 'amount'}}]}", p), 0);
    ASSERT_EQ_INT(M("{'must': [{'is_null': {'key': 'parts'}}]}", p), 0);
    ASSERT_EQ_INT(M("{'must': [{'is_null': {'key': 'something_else'}}]}", p), 0);
    ASSERT_EQ_INT(M("{'must': [{'is_null': {'key': 'packaging'}}]}", p), 1);
    ASSERT_EQ_INT(M("{'must': [{'is_null': {'key': 'not_null'}}]}", p), 0);
    /* values_count on rating (4 values): gte 10 no, lt 5 yes */
    ASSERT_EQ_INT(M("{'must': [{'key': 'rating', 'values_count': {'gte': 10}}]}", p), 0);
    ASSERT_EQ_INT(M("{'must': [{'key': 'rating', 'values_count': {'lt': 5}}]}", p), 1);
    /* match red / blue, plain and negated */
    const char *red = "{'key': 'color', 'match': {'value': 'red'}}";
    const char *blue = "{'key': 'color', 'match': {'value': 'blue'}}";
    char q[512];
    snprintf(q, sizeof q, "{'must': [%s]}", red);
    ASSERT_EQ_INT(M(q, p), 1);
    snprintf(q, sizeof q, "{'must': [%s]}", blue);
    ASSERT_EQ_INT(M(q, p), 0);
    snprintf(q, sizeof q, "{'must_not': [%s]}", blue);
    ASSERT_EQ_INT(M(q, p), 1);
    snprintf(q, sizeof q, "{'must_not': [%s]}", red);
    ASSERT_EQ_INT(M(q, p), 0);
    /* must_not rating <= 5: rating holds 3, so the point is excluded */
    ASSERT_EQ_INT(M("{'must_not': [{'key': 'rating', 'range': {'lte': 5}}]}", p), 0);
    /* shipped in February yes, in March no (datetime ranges) */
    ASSERT_EQ_INT(M("{'must': [{'key': 'shipped_at', 'range': {'gte': '2020-02-01T00:00:00Z',"
                    " 'lt': '2020-03-01T00:00:00Z'}}]}", p), 1);
    ASSERT_EQ_INT(M("{'must': [{'key': 'shipped_at', 'range': {'gte': '2020-03-01T00:00:00Z',"
                    " 'lt': '2020-04-01T00:00:00Z'}}]}", p), 0);
    /* with_delivery: match true */
    ASSERT_EQ_INT(M("{'must': [{'key': 'has_delivery', 'match': {'value': true}}]}", p), 1);
    /* min_should: [blue, amount > 100] min 1 -> no; [red, delivery, blue] min 2 -> yes;
     * two nested filters, one true, min 1 -> yes */
    ASSERT_EQ_INT(M("{'min_should': {'min_count': 1, 'conditions': [{'key': 'color', 'match':"
                    " {'value': 'blue'}}, {'key': 'amount', 'range': {'gt': 100}}]}}", p), 0);
    ASSERT_EQ_INT(M("{'min_should': {'min_count': 2, 'conditions': [{'key': 'color', 'match':"
                    " {'value': 'red'}}, {'key': 'has_delivery', 'match': {'value': true}},"
                    " {'key': 'color', 'match': {'value': 'blue'}}]}}", p), 1);
    ASSERT_EQ_INT(M("{'min_should': {'min_count': 1, 'conditions': ["
                    "{'must': [{'key': 'color', 'match': {'value': 'blue'}}, {'key': 'amount', 'match': {'value': 10}}]},"
                    "{'must': [{'key': 'color', 'match': {'value': 'red'}}, {'key': 'amount', 'match': {'value': 10}}]}]}}",
                    p), 1);
    /* should of two nested filters, neither fully true -> no */
    ASSERT_EQ_INT(M("{'should': ["
                    "{'must': [{'key': 'color', 'match': {'value': 'blue'}}, {'key': 'amount', 'match': {'value': 10}}]},"
                    "{'must': [{'key': 'color', 'match': {'value': 'red'}}, {'key': 'amount', 'match': {'value': 11}}]}]}",
                    p), 0);
}

TEST(test_has_id)
{
    /* qdrant: test_condition_checker id filter with ids {1, 2, 3} */
    Filter *not_in = F("{'must_not': [{'has_id': [1, 2, 3]}]}");
    Filter *in = F("{'must': [{'has_id': [3, 1, 2, 2]}]}");
    ASSERT_TRUE(not_in && in);
    PointId two = point_id_num(2), ten = point_id_num(10);
    ASSERT_EQ_INT(filter_match(not_in, &two, NULL), 0);
    ASSERT_EQ_INT(filter_match(not_in, &ten, NULL), 1);
    ASSERT_EQ_INT(filter_match(in, &two, NULL), 1);
    ASSERT_EQ_INT(filter_match(in, &ten, NULL), 0);
    /* The planner hint exposes the sorted, de-duplicated id set. */
    const PointId *ids;
    size_t n;
    ASSERT_EQ_INT(filter_id_candidates(in, &ids, &n), 1);
    ASSERT_EQ_INT(n, 3);
    ASSERT_EQ_U64(ids[0].num, 1);
    ASSERT_EQ_U64(ids[2].num, 3);
    ASSERT_EQ_INT(filter_id_candidates(not_in, &ids, &n), 0);
    filter_free(not_in);
    filter_free(in);
    /* UUIDs in any accepted form match the same point; numbers and UUIDs mix. */
    Filter *u = F("{'must': [{'has_id': [7, '67E5504410B1426F9247BB680E5FE0C8']}]}");
    ASSERT_TRUE(u != NULL);
    PointId id;
    ASSERT_OK(point_id_from_str("67e55044-10b1-426f-9247-bb680e5fe0c8", 36, &id));
    ASSERT_EQ_INT(filter_match(u, &id, NULL), 1);
    ASSERT_OK(point_id_from_str("67e55044-10b1-426f-9247-bb680e5fe0c9", 36, &id));
    ASSERT_EQ_INT(filter_match(u, &id, NULL), 0);
    id = point_id_num(7);
    ASSERT_EQ_INT(filter_match(u, &id, NULL), 1);
    ASSERT_EQ_INT(filter_match(u, NULL, NULL), 0);
    filter_free(u);
    ASSERT_EQ_INT(M("{'must': [{'has_id': []}]}", "{}"), 0);
}

TEST(test_match_value)
{
    /* docs: Match - keyword, integer and bool payloads */
    ASSERT_EQ_INT(M("{'must': [{'key': 'count', 'match': {'value': 0}}]}", "{'count': 0}"), 1);
    ASSERT_EQ_INT(M("{'must': [{'key': 'count', 'match': {'value': 0}}]}", "{'count': 1}"), 0);
    ASSERT_EQ_INT(M("{'must': [{'key': 'n', 'match': {'value': -5}}]}", "{'n': -5}"), 1);
    /* Qdrant compares integers through serde's as_i64: a float never matches. */
    ASSERT_EQ_INT(M("{'must': [{'key': 'n', 'match': {'value': 3}}]}", "{'n': 3.0}"), 0);
    ASSERT_EQ_INT(M("{'must': [{'key': 'n', 'match': {'value': 3}}]}", "{'n': '3'}"), 0);
    ASSERT_EQ_INT(M("{'must': [{'key': 'n', 'match': {'value': '3'}}]}", "{'n': 3}"), 0);
    ASSERT_EQ_INT(M("{'must': [{'key': 'b', 'match': {'value': false}}]}", "{'b': false}"), 1);
    ASSERT_EQ_INT(M("{'must': [{'key': 'b', 'match': {'value': false}}]}", "{'b': 0}"), 0);
    ASSERT_EQ_INT(M("{'must': [{'key': 'b', 'match': {'value': true}}]}", "{'b': true}"), 1);
    /* Strings compare exactly (case matters, embedded bytes too). */
    ASSERT_EQ_INT(M("{'must': [{'key': 'c', 'match': {'value': 'Red'}}]}", "{'c': 'red'}"), 0);
    ASSERT_EQ_INT(M("{'must': [{'key': 'c', 'match': {'value': 'a\\u0000b'}}]}", "{'c': 'a\\u0000b'}"), 1);
    ASSERT_EQ_INT(M("{'must': [{'key': 'c', 'match': {'value': 'a\\u0000b'}}]}", "{'c': 'a\\u0000c'}"), 0);
    /* docs: "If several values are stored, at least one of them should match". */
    ASSERT_EQ_INT(M("{'must': [{'key': 'c', 'match': {'value': 'red'}}]}", "{'c': ['blue', 'red']}"), 1);
    ASSERT_EQ_INT(M("{'must': [{'key': 'c', 'match': {'value': 'red'}}]}", "{'c': ['blue', 'green']}"), 0);
    /* Arrays inside arrays are not flattened (condition_checker: one level). */
    ASSERT_EQ_INT(M("{'must': [{'key': 'c', 'match': {'value': 'red'}}]}", "{'c': [['red']]}"), 0);
    /* A missing key fails a match; must_not of it passes. */
    ASSERT_EQ_INT(M("{'must': [{'key': 'c', 'match': {'value': 'red'}}]}", "{}"), 0);
    ASSERT_EQ_INT(M("{'must_not': [{'key': 'c', 'match': {'value': 'red'}}]}", "{}"), 1);
    ASSERT_EQ_INT(M("{'must_not': [{'key': 'c', 'match': {'value': 'red'}}]}", NULL), 1);
    /* A filter applies to the payload object only; null payloads are empty. */
    ASSERT_EQ_INT(M("{'must': [{'key': 'c', 'match': {'value': 'red'}}]}", NULL), 0);
}

TEST(test_match_any_except)
{
    /* docs: Match Any - ['black', 'yellow'] */
    const char *any = "{'must': [{'key': 'color', 'match': {'any': ['black', 'yellow']}}]}";
    ASSERT_EQ_INT(M(any, "{'color': 'black'}"), 1);
    ASSERT_EQ_INT(M(any, "{'color': 'yellow'}"), 1);
    ASSERT_EQ_INT(M(any, "{'color': 'green'}"), 0);
    ASSERT_EQ_INT(M(any, "{'color': ['black', 'green']}"), 1); /* the docs' array example */
    ASSERT_EQ_INT(M(any, "{}"), 0);
    const char *any_int = "{'must': [{'key': 'n', 'match': {'any': [9, -2, 400, 7]}}]}";
    ASSERT_EQ_INT(M(any_int, "{'n': 400}"), 1);
    ASSERT_EQ_INT(M(any_int, "{'n': -2}"), 1);
    ASSERT_EQ_INT(M(any_int, "{'n': 8}"), 0);
    ASSERT_EQ_INT(M(any_int, "{'n': '400'}"), 0);
    ASSERT_EQ_INT(M("{'must': [{'key': 'n', 'match': {'any': []}}]}", "{'n': 'x'}"), 0);
    /* docs: Match Except - ['black', 'yellow'] */
    const char *except = "{'must': [{'key': 'color', 'match': {'except': ['black', 'yellow']}}]}";
    ASSERT_EQ_INT(M(except, "{'color': 'black'}"), 0);
    ASSERT_EQ_INT(M(except, "{'color': 'green'}"), 1);
    ASSERT_EQ_INT(M(except, "{'color': ['black', 'green']}"), 1); /* the docs' array example */
    ASSERT_EQ_INT(M(except, "{'color': ['black', 'yellow']}"), 0);
    /* condition_checker.rs MatchExcept: no value -> false, null -> false,
     * values of other types -> true. */
    ASSERT_EQ_INT(M(except, "{}"), 0);
    ASSERT_EQ_INT(M(except, "{'color': null}"), 0);
    ASSERT_EQ_INT(M(except, "{'color': 5}"), 1);
    ASSERT_EQ_INT(M(except, "{'color': true}"), 1);
    ASSERT_EQ_INT(M(except, "{'color': {'a': 1}}"), 1);
    const char *except_int = "{'must': [{'key': 'n', 'match': {'except': [1, 2]}}]}";
    ASSERT_EQ_INT(M(except_int, "{'n': 1}"), 0);
    ASSERT_EQ_INT(M(except_int, "{'n': 3}"), 1);
    ASSERT_EQ_INT(M(except_int, "{'n': 1.5}"), 1);
    ASSERT_EQ_INT(M(except_int, "{'n': 'a'}"), 1);
    ASSERT_EQ_INT(M(except_int, "{'n': [1, 2]}"), 0);
    ASSERT_EQ_INT(M(except_int, "{'n': [1, 2, 3]}"), 1);
    /* must_not except == "is one of" for present keys. */
    ASSERT_EQ_INT(M("{'must_not': [{'key': 'color', 'match': {'except': ['red']}}]}", "{'color': 'red'}"), 1);
    /* Many values: the sorted lookup must still find each. */
    char big[4096];
    int off = snprintf(big, sizeof big, "{'must': [{'key': 'n', 'match': {'any': [");
    for (int i = 0; i < 200; i++) off += snprintf(big + off, sizeof big - (size_t)off, "%s%d", i ? "," : "", (i * 7919) % 1000);
    snprintf(big + off, sizeof big - (size_t)off, "]}}]}");
    ASSERT_EQ_INT(M(big, "{'n': 919}"), 1);  /* i = 1 */
    ASSERT_EQ_INT(M(big, "{'n': 1000}"), 0);
}

TEST(test_match_text)
{
    /* docs: Full Text Match - without a full-text index "the condition will
     * work as exact substring match". */
    const char *t = "{'must': [{'key': 'description', 'match': {'text': 'good cheap'}}]}";
    ASSERT_EQ_INT(M(t, "{'description': 'very good cheap phone'}"), 1);
    ASSERT_EQ_INT(M(t, "{'description': 'cheap and good'}"), 0);
    ASSERT_EQ_INT(M(t, "{'description': ['bad', 'a good cheap one']}"), 1);
    ASSERT_EQ_INT(M(t, "{'description': 5}"), 0);
    ASSERT_EQ_INT(M("{'must': [{'key': 'd', 'match': {'phrase': 'ood ch'}}]}", "{'d': 'good cheap'}"), 1);
    /* text_any: any whitespace-separated word is a substring (condition_checker.rs). */
    const char *ta = "{'must': [{'key': 'd', 'match': {'text_any': '  nothing cheap\\t'}}]}";
    ASSERT_EQ_INT(M(ta, "{'d': 'good cheap'}"), 1);
    ASSERT_EQ_INT(M(ta, "{'d': 'good value'}"), 0);
    ASSERT_EQ_INT(M("{'must': [{'key': 'd', 'match': {'text_any': '   '}}]}", "{'d': 'x'}"), 0);
}

TEST(test_range)
{
    /* docs: Range - price between 100 and 450 inclusive, null bounds ignored */
    const char *r = "{'must': [{'key': 'price', 'range': {'gt': null, 'gte': 100.0, 'lt': null, 'lte': 450.0}}]}";
    ASSERT_EQ_INT(M(r, "{'price': 100}"), 1);
    ASSERT_EQ_INT(M(r, "{'price': 450.0}"), 1);
    ASSERT_EQ_INT(M(r, "{'price': 99.99}"), 0);
    ASSERT_EQ_INT(M(r, "{'price': 450.01}"), 0);
    ASSERT_EQ_INT(M(r, "{'price': '200'}"), 0);
    ASSERT_EQ_INT(M(r, "{'price': [10, 200]}"), 1);
    ASSERT_EQ_INT(M(r, "{}"), 0);
    /* Strict bounds. */
    ASSERT_EQ_INT(M("{'must': [{'key': 'x', 'range': {'gt': 1, 'lt': 2}}]}", "{'x': 1}"), 0);
    ASSERT_EQ_INT(M("{'must': [{'key': 'x', 'range': {'gt': 1, 'lt': 2}}]}", "{'x': 1.5}"), 1);
    ASSERT_EQ_INT(M("{'must': [{'key': 'x', 'range': {'gt': 1, 'lt': 2}}]}", "{'x': 2}"), 0);
    /* An empty range accepts any number (all bounds None in Qdrant). */
    ASSERT_EQ_INT(M("{'must': [{'key': 'x', 'range': {}}]}", "{'x': -1e300}"), 1);
    ASSERT_EQ_INT(M("{'must': [{'key': 'x', 'range': {}}]}", "{'x': 'a'}"), 0);
    /* Large integers compare as doubles (serde's as_f64). */
    ASSERT_EQ_INT(M("{'must': [{'key': 'x', 'range': {'gte': 1e19}}]}", "{'x': 18446744073709551615}"), 1);
}

TEST(test_datetime_range)
{
    /* Formats the Qdrant core accepts (listed in qdrant-client's
     * local/datetime_utils.py); no zone means UTC. */
    const char *feb = "{'must': [{'key': 't', 'range': {'gte': '2020-02-01', 'lt': '2020-03-01T00:00:00Z'}}]}";
    ASSERT_EQ_INT(M(feb, "{'t': '2020-02-15T00:00:00Z'}"), 1);
    ASSERT_EQ_INT(M(feb, "{'t': '2020-02-01'}"), 1);
    ASSERT_EQ_INT(M(feb, "{'t': '2020-02-29 23:59:59.999999'}"), 1);
    ASSERT_EQ_INT(M(feb, "{'t': '2020-02-29T23:59'}"), 1);
    ASSERT_EQ_INT(M(feb, "{'t': '2020-03-01T00:00:00Z'}"), 0);
    ASSERT_EQ_INT(M(feb, "{'t': '2020-01-31T23:59:59.999Z'}"), 0);
    /* Offsets: 00:30 at +01:00 is 23:30 UTC the previous day. */
    ASSERT_EQ_INT(M(feb, "{'t': '2020-02-01T00:30:00+01:00'}"), 0);
    ASSERT_EQ_INT(M(feb, "{'t': '2020-02-29T23:30:00-01:00'}"), 0);
    ASSERT_EQ_INT(M(feb, "{'t': '2020-02-29T22:30:00-0100'}"), 1);
    /* Strings that are not datetimes, and numbers, never match. */
    ASSERT_EQ_INT(M(feb, "{'t': 'February'}"), 0);
    ASSERT_EQ_INT(M(feb, "{'t': '2020-02-30'}"), 0);
    ASSERT_EQ_INT(M(feb, "{'t': 1581724800}"), 0);
    ASSERT_EQ_INT(M(feb, "{'t': ['x', '2020-02-10T10:00:00.5+02:00']}"), 1);
    /* Fractions order correctly. */
    ASSERT_EQ_INT(M("{'must': [{'key': 't', 'range': {'gt': '2023-02-08T10:49:00.1Z'}}]}",
                    "{'t': '2023-02-08T10:49:00.10001Z'}"), 1);
    ASSERT_EQ_INT(M("{'must': [{'key': 't', 'range': {'gt': '2023-02-08T10:49:00.1Z'}}]}",
                    "{'t': '2023-02-08T10:49:00.1Z'}"), 0);
    /* Before the epoch and leap days. */
    ASSERT_EQ_INT(M("{'must': [{'key': 't', 'range': {'lt': '1970-01-01'}}]}", "{'t': '1969-12-31T23:59:59Z'}"), 1);
    ASSERT_EQ_INT(M("{'must': [{'key': 't', 'range': {'gt': '2000-02-28', 'lt': '2000-03-01'}}]}", "{'t': '2000-02-29'}"), 1);
}

TEST(test_values_count)
{
    /* docs: Values count - comments gt 2 -> product B only */
    const char *const products[] = {
        "{'name': 'product A', 'comments': ['Very good!', 'Excellent']}",
        "{'name': 'product B', 'comments': ['meh', 'expected more', 'ok']}",
    };
    ASSERT_EQ_INT(matching("{'must': [{'key': 'comments', 'values_count': {'gt': 2}}]}", products, 2), IDS1(2));
    /* qdrant: test_value_count - two countries: gt 1 yes, gt 2 no, gte 2 yes */
    const char *countries = "{'c': [{'country': 'Germany'}, {'country': 'France'}]}";
    ASSERT_EQ_INT(M("{'must': [{'key': 'c', 'values_count': {'gt': 1}}]}", countries), 1);
    ASSERT_EQ_INT(M("{'must': [{'key': 'c', 'values_count': {'gt': 2}}]}", countries), 0);
    ASSERT_EQ_INT(M("{'must': [{'key': 'c', 'values_count': {'gte': 2}}]}", countries), 1);
    /* docs: "If stored value is not an array - it is assumed that the
     * amount of values is equals to 1"; null counts 0 (check_count_from). */
    ASSERT_EQ_INT(M("{'must': [{'key': 'n', 'values_count': {'gte': 1, 'lte': 1}}]}", "{'n': 'x'}"), 1);
    ASSERT_EQ_INT(M("{'must': [{'key': 'n', 'values_count': {'lt': 1}}]}", "{'n': null}"), 1);
    /* A missing key has 0 values (documented; see filter.c on qdrant#9065). */
    ASSERT_EQ_INT(M("{'must': [{'key': 'n', 'values_count': {'lte': 0}}]}", "{}"), 1);
    ASSERT_EQ_INT(M("{'must': [{'key': 'n', 'values_count': {'gt': 0}}]}", "{}"), 0);
}

TEST(test_field_is_empty_is_null)
{
    /* qdrant: test_value_checker_for_null_or_empty, the FieldCondition
     * forms {"key": k, "is_empty": b} / {"key": k, "is_null": b}. */
    const char *values[] = { "[]", "[null]", "[true]", "[true, null]", "{}", "'string'", "1", "true" };
    const int is_empty[] = { 1, 0, 0, 0, 0, 0, 0, 0 };
    const int is_null[] = { 0, 1, 0, 1, 0, 0, 0, 0 };
    for (size_t i = 0; i < ARRAY_LEN(values); i++) {
        char p[64];
        snprintf(p, sizeof p, "{'key': %s}", values[i]);
        ASSERT_EQ_INT(M("{'must': [{'key': 'key', 'is_empty': true}]}", p), is_empty[i]);
        ASSERT_EQ_INT(M("{'must': [{'key': 'key', 'is_empty': false}]}", p), !is_empty[i]);
        ASSERT_EQ_INT(M("{'must': [{'key': 'key', 'is_null': true}]}", p), is_null[i]);
        ASSERT_EQ_INT(M("{'must': [{'key': 'key', 'is_null': false}]}", p), !is_null[i]);
    }
    /* Missing key: FieldCondition::check_empty gives is_empty / !is_null. */
    ASSERT_EQ_INT(M("{'must': [{'key': 'key', 'is_empty': true}]}", "{}"), 1);
    ASSERT_EQ_INT(M("{'must': [{'key': 'key', 'is_null': true}]}", "{}"), 0);
    ASSERT_EQ_INT(M("{'must': [{'key': 'key', 'is_null': false}]}", "{}"), 1);
}

TEST(test_is_empty_paths)
{
    /* qdrant: json_path test_is_empty */
    const char *p = "{'a': [{'b': 1}, {'b': 2}, {'b': null}, {'d': []}, {'d': []}, {'f': null}]}";
    ASSERT_EQ_INT(M("{'must': [{'is_empty': {'key': 'a[].b'}}]}", p), 0);
    ASSERT_EQ_INT(M("{'must': [{'is_empty': {'key': 'a[].c'}}]}", p), 1);
    ASSERT_EQ_INT(M("{'must': [{'is_empty': {'key': 'a[].d'}}]}", p), 1);
    ASSERT_EQ_INT(M("{'must': [{'is_empty': {'key': 'a[].f'}}]}", p), 1);
    /* check_is_null comments: any null among the values */
    ASSERT_EQ_INT(M("{'must': [{'is_null': {'key': 'a[].b'}}]}", "{'a': [{'b': null}, {'b': 1}]}"), 1);
    ASSERT_EQ_INT(M("{'must': [{'is_null': {'key': 'a[].b'}}]}", "{'a': [{'b': 1}, {'b': null}]}"), 1);
    ASSERT_EQ_INT(M("{'must': [{'is_null': {'key': 'a[].b'}}]}", "{'a': [{'b': 1}, {'b': 2}]}"), 0);
    /* docs: IsEmpty with must_not selects all non-empty values */
    ASSERT_EQ_INT(M("{'must_not': [{'is_empty': {'key': 'reports'}}]}", "{'reports': [1]}"), 1);
    ASSERT_EQ_INT(M("{'must_not': [{'is_empty': {'key': 'reports'}}]}", "{}"), 0);
    ASSERT_EQ_INT(M("{'must': [{'is_empty': {'key': 'reports'}}]}", NULL), 1);
}

/* docs: Nested key - Germany and Japan. */
static const char *const countries[] = {
    "{'country': {'name': 'Germany', 'cities': ["
    "{'name': 'Berlin', 'population': 3.7, 'sightseeing': ['Brandenburg Gate', 'Reichstag']},"
    "{'name': 'Munich', 'population': 1.5, 'sightseeing': ['Marienplatz', 'Olympiapark']}]}}",
    "{'country': {'name': 'Japan', 'cities': ["
    "{'name': 'Tokyo', 'population': 9.3, 'sightseeing': ['Tokyo Tower', 'Tokyo Skytree']},"
    "{'name': 'Osaka', 'population': 2.7, 'sightseeing': ['Osaka Castle', 'Universal Studios Japan']}]}}",
};

TEST(test_nested_keys)
{
    ASSERT_EQ_INT(matching("{'should': [{'key': 'country.name', 'match': {'value': 'Germany'}}]}", countries, 2), IDS1(1));
    ASSERT_EQ_INT(matching("{'should': [{'key': 'country.cities[].population', 'range': {'gte': 9.0}}]}",
                           countries, 2), IDS1(2));
    ASSERT_EQ_INT(matching("{'should': [{'key': 'country.cities[].sightseeing', 'match': {'value': 'Osaka Castle'}}]}",
                           countries, 2), IDS1(2));
    /* No implicit flattening in the middle of a path (json_path value_get). */
    ASSERT_EQ_INT(matching("{'should': [{'key': 'country.cities.population', 'range': {'gte': 0}}]}", countries, 2), 0);
    /* Index items. */
    ASSERT_EQ_INT(matching("{'must': [{'key': 'country.cities[1].name', 'match': {'value': 'Osaka'}}]}", countries, 2), IDS1(2));
    ASSERT_EQ_INT(matching("{'must': [{'key': 'country.cities[0].name', 'match': {'value': 'Osaka'}}]}", countries, 2), 0);
    ASSERT_EQ_INT(matching("{'must': [{'key': 'country.cities[2].name', 'is_empty': true}]}", countries, 2), IDS1(1) | IDS1(2));
    ASSERT_EQ_INT(matching("{'must': [{'key': 'country.cities[].sightseeing[1]', 'match': {'value': 'Reichstag'}}]}",
                           countries, 2), IDS1(1));
    ASSERT_EQ_INT(matching("{'must': [{'key': 'country.cities', 'values_count': {'gte': 2}}]}", countries, 2),
                  IDS1(1) | IDS1(2));
    /* qdrant: test_get_deeply_nested_array_value_from_json_map: arr1[].arr2[].a -> 1, 3, 5 */
    const char *deep = "{'arr1': [{'arr2': [{'a': 1, 'b': 2}]}, {'arr2': [{'a': 3, 'b': 4}, {'a': 5, 'b': 6}]}]}";
    ASSERT_EQ_INT(M("{'must': [{'key': 'arr1[].arr2[].a', 'match': {'value': 5}}]}", deep), 1);
    ASSERT_EQ_INT(M("{'must': [{'key': 'arr1[].arr2[].a', 'match': {'value': 2}}]}", deep), 0);
    ASSERT_EQ_INT(M("{'must': [{'key': 'arr1[].arr2[].a', 'values_count': {'gt': 1}}]}", deep), 0);
    /* qdrant: test_no_flatten_array_value_from_json_map: arr[].a keeps the
     * [1,2,3] array as one value (3 values), arr[].a[] gives 1, 2, 3. */
    const char *nf = "{'arr': [{'a': [1, 2, 3]}, {'a': 4}, {'b': 5}]}";
    ASSERT_EQ_INT(M("{'must': [{'key': 'arr[].a', 'values_count': {'gte': 3}}]}", nf), 1);
    ASSERT_EQ_INT(M("{'must': [{'key': 'arr[].a[]', 'values_count': {'gte': 2}}]}", nf), 0);
    ASSERT_EQ_INT(M("{'must': [{'key': 'arr[].a[]', 'match': {'value': 2}}]}", nf), 1);
    ASSERT_EQ_INT(M("{'must': [{'key': 'arr[].a[]', 'match': {'value': 4}}]}", nf), 0);
    /* qdrant: test_get_null_and_absent_values: a[] of null and c[] of [] yield nothing */
    const char *na = "{'a': null, 'b': [null, null], 'c': []}";
    ASSERT_EQ_INT(M("{'must': [{'is_null': {'key': 'a'}}]}", na), 1);
    ASSERT_EQ_INT(M("{'must': [{'is_null': {'key': 'a[]'}}]}", na), 0);
    ASSERT_EQ_INT(M("{'must': [{'is_null': {'key': 'b'}}]}", na), 0);
    ASSERT_EQ_INT(M("{'must': [{'is_null': {'key': 'b[]'}}]}", na), 1);
    /* Quoted keys reach keys with dots and spaces. */
    ASSERT_EQ_INT(M("{'must': [{'key': 'a.\\'b.c d\\'', 'match': {'value': 1}}]}", "{'a': {'b.c d': 1}}"), 1);
    ASSERT_EQ_INT(M("{'must': [{'key': '\\'x y\\'', 'match': {'value': 1}}]}", "{'x y': 1}"), 1);
    ASSERT_EQ_INT(M("{'must': [{'key': 'prix-€', 'match': {'value': 1}}]}", "{'prix-€': 1}"), 1);
}

/* docs: Nested object filter - the two dinosaurs. */
static const char *const dinosaurs[] = {
    "{'dinosaur': 't-rex', 'diet': [{'food': 'leaves', 'likes': false}, {'food': 'meat', 'likes': true}]}",
    "{'dinosaur': 'diplodocus', 'diet': [{'food': 'leaves', 'likes': true}, {'food': 'meat', 'likes': false}]}",
};

TEST(test_nested_condition)
{
    /* Plain keys match both points ... */
    ASSERT_EQ_INT(matching("{'must': [{'key': 'diet[].food', 'match': {'value': 'meat'}},"
                           "{'key': 'diet[].likes', 'match': {'value': true}}]}", dinosaurs, 2),
                  IDS1(1) | IDS1(2));
    /* ... the nested condition only the t-rex, with or without []. */
    const char *nested = "{'must': [{'nested': {'key': 'diet', 'filter': {'must': ["
                         "{'key': 'food', 'match': {'value': 'meat'}}, {'key': 'likes', 'match': {'value': true}}]}}}]}";
    ASSERT_EQ_INT(matching(nested, dinosaurs, 2), IDS1(1));
    ASSERT_EQ_INT(matching("{'must': [{'nested': {'key': 'diet[]', 'filter': {'must': ["
                           "{'key': 'food', 'match': {'value': 'meat'}}, {'key': 'likes', 'match': {'value': true}}]}}}]}",
                           dinosaurs, 2), IDS1(1));
    /* docs: has_id goes in an adjacent must. */
    ASSERT_EQ_INT(matching("{'must': [{'nested': {'key': 'diet', 'filter': {'must': ["
                           "{'key': 'food', 'match': {'value': 'leaves'}}]}}}, {'has_id': [2]}]}",
                           dinosaurs, 2), IDS1(2));
    /* must_not inside nested applies per element. */
    ASSERT_EQ_INT(matching("{'must': [{'nested': {'key': 'diet', 'filter': {'must_not': ["
                           "{'key': 'likes', 'match': {'value': true}}], 'must': [{'key': 'food', 'match': {'value': 'leaves'}}]}}}]}",
                           dinosaurs, 2), IDS1(1));
    /* Not an array of objects: nothing to match. */
    ASSERT_EQ_INT(M(nested, "{'diet': {'food': 'meat', 'likes': true}}"), 0);
    ASSERT_EQ_INT(M(nested, "{'diet': ['meat']}"), 0);
    ASSERT_EQ_INT(M(nested, "{}"), 0);
    /* Nested inside nested, with a dotted key. */
    ASSERT_EQ_INT(M("{'must': [{'nested': {'key': 'zoo.pens', 'filter': {'must': [{'nested': {'key': 'animals',"
                    " 'filter': {'must': [{'key': 'name', 'match': {'value': 'rex'}}, {'key': 'age', 'range': {'gt': 3}}]}}}]}}}]}",
                    "{'zoo': {'pens': [{'animals': [{'name': 'rex', 'age': 2}]}, {'animals': [{'name': 'rex', 'age': 5}]}]}}"), 1);
    ASSERT_EQ_INT(M("{'must': [{'nested': {'key': 'zoo.pens', 'filter': {'must': [{'nested': {'key': 'animals',"
                    " 'filter': {'must': [{'key': 'name', 'match': {'value': 'rex'}}, {'key': 'age', 'range': {'gt': 3}}]}}}]}}}]}",
                    "{'zoo': {'pens': [{'animals': [{'name': 'rex', 'age': 2}, {'name': 'bo', 'age': 9}]}]}}"), 0);
}

TEST(test_empty_clauses)
{
    /* qdrant#554 (wontfix): an empty should list matches nothing. */
    ASSERT_EQ_INT(M("{'should': []}", "{'a': 1}"), 0);
    /* must / must_not of nothing are true; null clauses are absent. */
    ASSERT_EQ_INT(M("{'must': [], 'must_not': []}", "{'a': 1}"), 1);
    ASSERT_EQ_INT(M("{'must': null, 'should': null, 'must_not': null, 'min_should': null}", "{}"), 1);
    ASSERT_EQ_INT(M("{}", NULL), 1);
    /* An empty object as a condition is an empty filter: true. */
    ASSERT_EQ_INT(M("{'must': [{}]}", "{}"), 1);
    ASSERT_EQ_INT(M("{'must_not': [{}]}", "{}"), 0);
    /* min_should: min_count 0 always passes; no conditions with
     * min_count 1 never does (qdrant#9369). */
    ASSERT_EQ_INT(M("{'min_should': {'conditions': [], 'min_count': 0}}", "{}"), 1);
    ASSERT_EQ_INT(M("{'min_should': {'conditions': [], 'min_count': 1}}", "{}"), 0);
    ASSERT_EQ_INT(M("{'min_should': {'conditions': [{'key': 'a', 'match': {'value': 1}}], 'min_count': 2}}", "{'a': 1}"), 0);
    /* Planner hints. */
    Filter *f = NULL;
    char err[64];
    ASSERT_OK(filter_compile(J("null"), &f, err, sizeof err));
    ASSERT_EQ_INT(filter_matches_all(f), 1);
    ASSERT_EQ_INT(filter_match(f, NULL, NULL), 1);
    filter_free(f);
    f = F("{'must': []}");
    ASSERT_EQ_INT(filter_matches_all(f), 1);
    filter_free(f);
    f = F("{'should': []}");
    ASSERT_EQ_INT(filter_matches_all(f), 0);
    filter_free(f);
    ASSERT_EQ_INT(filter_matches_all(NULL), 1);
    ASSERT_EQ_INT(filter_match(NULL, NULL, NULL), 1);
}

TEST(test_multiple_conditions_in_one_field)
{
    /* FieldCondition::check_match ORs match and range ... */
    const char *f = "{'must': [{'key': 'x', 'match': {'value': 'a'}, 'range': {'gt': 10}}]}";
    ASSERT_EQ_INT(M(f, "{'x': 'a'}"), 1);
    ASSERT_EQ_INT(M(f, "{'x': 11}"), 1);
    ASSERT_EQ_INT(M(f, "{'x': 5}"), 0);
    /* ... and values_count takes precedence over them (FieldCondition::check). */
    ASSERT_EQ_INT(M("{'must': [{'key': 'x', 'match': {'value': 'zzz'}, 'values_count': {'gte': 2}}]}",
                    "{'x': ['a', 'b']}"), 1);
}

/* resolve_abc: vectors "a", "b", "" at bits 0, 1 and 5; any other name is
 * not in the collection. */
static int resolve_abc(void *ctx, const char *name)
{
    (void)ctx;
    if (!strcmp(name, "a")) return 0;
    if (!strcmp(name, "b")) return 1;
    if (!strcmp(name, "")) return 5;
    return -1;
}

/* has_vector: the point has the named vector (its bit in the mask); an
 * unknown name matches nothing (Qdrant's condition_converter), an unbound
 * filter or a point of unknown mask nothing either; must_not and should
 * combine it as any condition. Every mask of the three bits against the
 * truth table written out. */
TEST(test_has_vector)
{
    static const struct {
        const char *filter;
        unsigned want; /* bit m: the point whose mask has a (m&1), b (m&2), "" (m&4) passes */
    } cases[] = {
        { "{'must': [{'has_vector': 'a'}]}", 0xAAu },
        { "{'must': [{'has_vector': 'b'}]}", 0xCCu },
        { "{'must': [{'has_vector': ''}]}", 0xF0u },
        { "{'must_not': [{'has_vector': 'a'}]}", 0x55u },
        { "{'should': [{'has_vector': 'a'}, {'has_vector': 'b'}]}", 0xEEu },
        { "{'must': [{'has_vector': 'a'}, {'has_vector': 'b'}]}", 0x88u },
        { "{'must': [{'has_vector': 'zzz'}]}", 0x00u },
        { "{'must_not': [{'has_vector': 'zzz'}]}", 0xFFu },
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        Filter *f = F(cases[k].filter);
        ASSERT_TRUE(f != NULL);
        PointId id = point_id_num(1);
        int neg = strstr(cases[k].filter, "must_not") != NULL;
        /* Unbound: has_vector is false whatever the mask. */
        ASSERT_EQ_INT(filter_match_vectors(f, &id, NULL, 0xFFFFFFFFu), neg);
        filter_bind_vectors(f, resolve_abc, NULL);
        unsigned got = 0;
        for (unsigned m = 0; m < 8; m++) {
            uint32_t mask = (m & 1 ? 1u : 0) | (m & 2 ? 2u : 0) | (m & 4 ? 32u : 0);
            if (filter_match_vectors(f, &id, NULL, mask)) got |= 1u << m;
        }
        if (got != cases[k].want)
            fprintf(stderr, "  %s: got 0x%02X, want 0x%02X\n", cases[k].filter, got, cases[k].want);
        ASSERT_EQ_INT(got, cases[k].want);
        /* Without a mask (filter_match) has_vector is false. */
        ASSERT_EQ_INT(filter_match(f, &id, NULL), neg);
        filter_free(f);
    }
}

TEST(test_invalid_filters)
{
    ASSERT_STR_EQ(compile_err("{'must': [{'key': 'a', 'match': {'value': 'x'}}, {'key': 'b', 'range': 'x'}]}", ERR_INVAL),
                  "filter.must[1].range: expected an object, got a string");
    ASSERT_STR_EQ(compile_err("[]", ERR_INVAL), "filter: expected a filter object, got an array");
    ASSERT_STR_EQ(compile_err("{'must': 5}", ERR_INVAL),
                  "filter.must: expected a condition or an array of conditions, got an integer");
    ASSERT_STR_EQ(compile_err("{'must': [], 'must': []}", ERR_INVAL), "filter: duplicate field \"must\"");
    ASSERT_STR_EQ(compile_err("{'filter': {}}", ERR_INVAL),
                  "unknown field `filter`, expected one of `should`, `min_should`, `must`, `must_not` at `filter`");
    ASSERT_STR_EQ(compile_err("{'must': [{'key': 'a', 'match': {'value': 1.5}}]}", ERR_INVAL),
                  "filter.must[0].match.value: expected a string, a 64-bit integer or a bool, got a number "
                  "with a fraction (use range for other numbers, is_null for null)");
    ASSERT_STR_EQ(compile_err("{'must': [{'key': 'a', 'match': {'value': null}}]}", ERR_INVAL),
                  "filter.must[0].match: expected one of value, any, except, text, phrase or text_any");
    ASSERT_STR_EQ(compile_err("{'must': [{'key': 'a', 'match': {'value': 1, 'any': [1]}}]}", ERR_INVAL),
                  "filter.must[0].match: expected one of value, any, except, text, phrase or text_any, "
                  "got both value and any");
    ASSERT_STR_EQ(compile_err("{'must': [{'key': 'a', 'match': {'vale': 1}}]}", ERR_INVAL),
                  "unknown field `vale`, expected value, any, except, text, phrase or text_any at `filter.must[0].match`");
    ASSERT_STR_EQ(compile_err("{'should': [{'key': 'a', 'match': {'any': ['x', 2]}}]}", ERR_INVAL),
                  "filter.should[0].match.any[1]: expected a string like the first item, got an integer");
    ASSERT_STR_EQ(compile_err("{'should': [{'key': 'a', 'match': {'except': [1, 2.5]}}]}", ERR_INVAL),
                  "filter.should[0].match.except[1]: expected a string or a 64-bit integer, got a number with a fraction");
    ASSERT_STR_EQ(compile_err("{'must': [{'key': 'a'}]}", ERR_INVAL),
                  "filter.must[0]: field condition on \"a\" has no condition (expected match, range, "
                  "geo_bounding_box, geo_radius, geo_polygon, values_count, is_empty or is_null)");
    ASSERT_STR_EQ(compile_err("{'must': [{'key': 'a', 'rnage': {}}]}", ERR_INVAL),
                  "unknown field `rnage`, expected key, match, range, values_count, is_empty or is_null at `filter.must[0]`");
    ASSERT_STR_EQ(compile_err("{'must': [{'key': 7, 'match': {'value': 1}}]}", ERR_INVAL),
                  "filter.must[0].key: expected a key path string, got an integer");
    ASSERT_STR_EQ(compile_err("{'must_not': [{'key': 'a..b', 'match': {'value': 1}}]}", ERR_INVAL),
                  "filter.must_not[0].key: invalid key path \"a..b\" (expected keys of letters, digits, _ and -, "
                  "joined by '.', with optional [] or [N]; quote other keys: a.\"b c\")");
    ASSERT_TRUE(strstr(compile_err("{'must': [{'key': 'a b', 'match': {'value': 1}}]}", ERR_INVAL), "invalid key path"));
    ASSERT_TRUE(strstr(compile_err("{'must': [{'key': '', 'match': {'value': 1}}]}", ERR_INVAL), "invalid key path"));
    ASSERT_TRUE(strstr(compile_err("{'must': [{'key': 'a[x]', 'match': {'value': 1}}]}", ERR_INVAL), "invalid key path"));
    ASSERT_STR_EQ(compile_err("{'must': [{'key': 'a', 'range': {'gt': 1, 'lt': '2020-01-01'}}]}", ERR_INVAL),
                  "filter.must[0].range: mixes numbers and datetime strings; use one kind for all bounds");
    ASSERT_STR_EQ(compile_err("{'must': [{'key': 'a', 'range': {'gt': 'yesterday'}}]}", ERR_INVAL),
                  "filter.must[0].range.gt: \"yesterday\" is not an RFC 3339 datetime (e.g. 2023-02-08T10:49:00Z)");
    ASSERT_STR_EQ(compile_err("{'must': [{'key': 'a', 'range': {'gte': true}}]}", ERR_INVAL),
                  "filter.must[0].range.gte: expected a number or an RFC 3339 datetime string, got a bool");
    ASSERT_STR_EQ(compile_err("{'must': [{'key': 'a', 'values_count': {'gt': -1}}]}", ERR_INVAL),
                  "filter.must[0].values_count.gt: expected a non-negative integer, got an integer");
    ASSERT_STR_EQ(compile_err("{'must': [{'key': 'a', 'is_empty': 'yes'}]}", ERR_INVAL),
                  "filter.must[0].is_empty: expected a bool, got a string");
    ASSERT_STR_EQ(compile_err("{'must': [{'is_empty': {'field': 'a'}}]}", ERR_INVAL),
                  "unknown field `field`, expected key at `filter.must[0].is_empty`");
    ASSERT_STR_EQ(compile_err("{'must': [{'is_null': 'a'}]}", ERR_INVAL),
                  "filter.must[0].is_null: expected an object {\"key\": ...}, got a string");
    ASSERT_STR_EQ(compile_err("{'must': [{'has_id': [1, -1]}]}", ERR_INVAL),
                  "filter.must[0].has_id[1]: point id -1 is negative: an id is an unsigned 64-bit integer or a UUID string");
    ASSERT_STR_EQ(compile_err("{'must': [{'has_id': [1.5]}]}", ERR_INVAL),
                  "filter.must[0].has_id[0]: point id 1.5 is not an unsigned 64-bit integer: an id is an unsigned "
                  "integer or a UUID string");
    ASSERT_STR_EQ(compile_err("{'must': [{'has_id': ['abc']}]}", ERR_INVAL),
                  "filter.must[0].has_id[0]: point id \"abc\" is not a valid UUID: an id is an unsigned integer or a UUID string");
    ASSERT_STR_EQ(compile_err("{'must': [{'has_id': 1}]}", ERR_INVAL),
                  "filter.must[0].has_id: expected an array of point ids, got an integer");
    ASSERT_STR_EQ(compile_err("{'must': [{'has_id': [1], 'must': []}]}", ERR_INVAL),
                  "unknown field `must`, expected has_id at `filter.must[0]`");
    ASSERT_STR_EQ(compile_err("{'must': [{'color': 'red'}]}", ERR_INVAL),
                  "filter.must[0]: unknown condition field \"color\" (expected a field condition with \"key\", "
                  "is_empty, is_null, has_id, nested, has_vector, or a filter with must, should, must_not, min_should)");
    ASSERT_STR_EQ(compile_err("{'min_should': {'conditions': []}}", ERR_INVAL),
                  "filter.min_should: missing field \"min_count\"");
    ASSERT_STR_EQ(compile_err("{'min_should': {'conditions': {}, 'min_count': 1}}", ERR_INVAL),
                  "filter.min_should.conditions: expected an array of conditions, got an object");
    ASSERT_STR_EQ(compile_err("{'min_should': {'conditions': [{'key': 'a', 'match': 1}], 'min_count': 1}}", ERR_INVAL),
                  "filter.min_should.conditions[0].match: expected an object, got an integer");
    ASSERT_STR_EQ(compile_err("{'must': [{'nested': {'key': 'diet', 'filter': {'must': [{'has_id': [1]}]}}}]}", ERR_INVAL),
                  "filter.must[0].nested.filter.must[0].has_id: has_id is not supported inside a nested filter "
                  "(as in Qdrant); put it in an adjacent must");
    ASSERT_STR_EQ(compile_err("{'must': [{'nested': {'key': 'diet'}}]}", ERR_INVAL),
                  "filter.must[0].nested: missing field \"filter\"");
    ASSERT_STR_EQ(compile_err("{'should': [{'must': [{'should': [{'key': 'a', 'match': {'text': 3}}]}]}]}", ERR_INVAL),
                  "filter.should[0].must[0].should[0].match.text: expected a string, got an integer");
    ASSERT_STR_EQ(compile_err("{'must': [{'has_vector': 3}]}", ERR_INVAL),
                  "filter.must[0].has_vector: expected a vector name, got an integer");
    ASSERT_STR_EQ(compile_err("{'must': [{'nested': {'key': 'd', 'filter': {'must': [{'has_vector': 'a'}]}}}]}",
                              ERR_INVAL),
                  "filter.must[0].nested.filter.must[0].has_vector: has_vector is not supported inside a "
                  "nested filter; put it in an adjacent must");
    /* A filter nested beyond the limit (built by hand: the reader would
     * refuse the JSON text itself). */
    JsonValue levels[FILTER_MAX_DEPTH + 2];
    JsonMember members[FILTER_MAX_DEPTH + 2];
    for (int i = 0; i < FILTER_MAX_DEPTH + 2; i++) {
        memset(&levels[i], 0, sizeof levels[i]);
        levels[i].type = JSON_OBJECT;
        if (i + 1 < FILTER_MAX_DEPTH + 2) {
            levels[i].len = 1;
            levels[i].u.members = &members[i];
            members[i].key = "must";
            members[i].key_len = 4;
            members[i].value = levels[i + 1];
        }
    }
    /* Link from the innermost outwards so each copy holds its child. */
    for (int i = FILTER_MAX_DEPTH; i >= 0; i--) members[i].value = levels[i + 1];
    Filter *f = NULL;
    char err[256];
    ASSERT_EQ_INT(filter_compile(&levels[0], &f, err, sizeof err), ERR_INVAL);
    ASSERT_TRUE(strstr(err, "filters nest deeper than") != NULL);
    ASSERT_TRUE(f == NULL);
}

TEST(test_path_parse)
{
    /* qdrant: json_path parse.rs test_parse */
    FilterPath p;
    const char *s = "foo[1][50].bar-baz[].\"qux[.]quux\"";
    ASSERT_OK(filter_path_parse(&arena, s, strlen(s), &p));
    ASSERT_EQ_INT(p.n, 6);
    ASSERT_EQ_INT(p.items[0].kind, FILTER_PATH_KEY);
    ASSERT_STR_EQ(p.items[0].key, "foo");
    ASSERT_EQ_INT(p.items[1].kind, FILTER_PATH_INDEX);
    ASSERT_EQ_U64(p.items[1].index, 1);
    ASSERT_EQ_U64(p.items[2].index, 50);
    ASSERT_EQ_INT(p.items[3].kind, FILTER_PATH_KEY);
    ASSERT_STR_EQ(p.items[3].key, "bar-baz");
    ASSERT_EQ_INT(p.items[4].kind, FILTER_PATH_WILDCARD);
    ASSERT_STR_EQ(p.items[5].key, "qux[.]quux");
    /* qdrant: "".parse() is an error; other malformed paths. */
    const char *bad[] = { "", ".a", "a.", "a[", "a[1", "a[-1]", "a]", "\"a", "a.\"b\\\"c\"", "[0]", "a b", "a[99999999999999999999]" };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++)
        if (filter_path_parse(&arena, bad[i], strlen(bad[i]), &p) != ERR_INVAL) HARNESS_FAIL("accepted \"%s\"", bad[i]);
    /* A quoted first key, possibly empty. */
    ASSERT_OK(filter_path_parse(&arena, "\"\"", 2, &p));
    ASSERT_EQ_INT(p.n, 1);
    ASSERT_EQ_INT(p.items[0].len, 0);
    /* The item limit. */
    char longp[4 * FILTER_MAX_PATH_ITEMS + 8];
    size_t n = 0;
    longp[n++] = 'a';
    for (int i = 0; i < FILTER_MAX_PATH_ITEMS; i++) {
        longp[n++] = '.';
        longp[n++] = 'b';
    }
    ASSERT_EQ_INT(filter_path_parse(&arena, longp, n, &p), ERR_INVAL);
    ASSERT_OK(filter_path_parse(&arena, longp, n - 2, &p));
    ASSERT_EQ_INT(p.n, FILTER_MAX_PATH_ITEMS);
}

int main(void)
{
    arena_init(&arena, 0);
    RUN(test_docs_clauses);
    RUN(test_qdrant_condition_checker);
    RUN(test_has_id);
    RUN(test_match_value);
    RUN(test_match_any_except);
    RUN(test_match_text);
    RUN(test_range);
    RUN(test_datetime_range);
    RUN(test_values_count);
    RUN(test_field_is_empty_is_null);
    RUN(test_is_empty_paths);
    RUN(test_nested_keys);
    RUN(test_nested_condition);
    RUN(test_empty_clauses);
    RUN(test_multiple_conditions_in_one_field);
    RUN(test_invalid_filters);
    RUN(test_has_vector);
    RUN(test_path_parse);
    arena_free(&arena);
    return harness_report(__FILE__);
}
