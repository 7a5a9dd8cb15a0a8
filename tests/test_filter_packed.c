/*
 * test_filter_packed.c - filters and payload edits over packed arrays
 * (json_parse_packed) behave exactly as over node arrays (json_parse).
 *
 * References: the results over json_parse's DOM (the array walkers that
 * test_filter.c and test_payload.c check against Qdrant), and for a few
 * conditions the answer Qdrant gives, written out by hand. Every filter
 * and payload is parsed both ways and every combination is compared, so
 * a packed filter (match any [1,2], has_id [7,9]) and a packed payload
 * ([0.5, 1.5], [1,2,3]) are each met by the other kind.
 */
#include "index/filter.h"
#include "index/payload.h"
#include "index/pointid.h"

#include "base/err.h"
#include "harness.h"

static Arena arena;

/* parse reads text (single quotes for double) in the given mode. */
static JsonValue *parse(const char *text, int packed)
{
    size_t n = strlen(text);
    char *t = arena_alloc(&arena, n + 1);
    for (size_t i = 0; i <= n; i++) t[i] = text[i] == '\'' ? '"' : text[i];
    JsonValue *v = NULL;
    char err[128];
    int rc = packed ? json_parse_packed(&arena, t, n, &v, err, sizeof err)
                    : json_parse(&arena, t, n, &v, err, sizeof err);
    if (rc != 0) {
        printf("  bad test JSON %s: %s\n", t, err);
        fflush(stdout);
        abort();
    }
    return v;
}

static const char *const payloads[] = {
    "{'v':[0.5,1.5,-2.25],'n':[1,2,3],'m':[1,2.5,-0],'e':[],'s':['a','b']}",
    "{'v':[3.5,4.5],'n':[7,8,9007199254740992],'big':[1,9007199254740993]}",
    "{'a':[{'b':[1,2]},{'b':[3,4]}],'c':[[1,2],[3]],'z':[0.1,0.2,0.30000000000000004]}",
    "{'n':[],'v':[1e300,-1e-300],'s':[1,'x']}",
    "{'n':5,'v':0.5}",
};

static const char *const filters[] = {
    "{'must':[{'key':'n','match':{'any':[1,9]}}]}",
    "{'must':[{'key':'n','match':{'except':[1,2,3]}}]}",
    "{'must':[{'key':'n','match':{'value':7}}]}",
    "{'must':[{'key':'v','range':{'gte':1.0,'lt':4.0}}]}",
    "{'must':[{'key':'v','values_count':{'gte':3}}]}",
    "{'must':[{'key':'n','values_count':{'lt':1}}]}",
    "{'must':[{'is_empty':{'key':'e'}}]}",
    "{'must':[{'is_empty':{'key':'n'}}]}",
    "{'must':[{'is_null':{'key':'m'}}]}",
    "{'must':[{'key':'v[1]','range':{'gt':1.0}}]}",
    "{'must':[{'key':'v[]','range':{'lt':0}}]}",
    "{'must':[{'key':'a[].b','match':{'any':[4]}}]}",
    "{'must':[{'key':'c[][]','match':{'value':3}}]}",
    "{'must':[{'key':'m','match':{'value':0}}]}",
    "{'must':[{'key':'big','match':{'any':[9007199254740993]}}]}",
    "{'must':[{'key':'z[2]','range':{'gt':0.3}}]}",
    "{'should':[{'has_id':[7,9]},{'key':'s','match':{'any':['x']}}]}",
    "{'must_not':[{'key':'n','range':{'gt':2,'lte':9007199254740992}}]}",
};

/* The answers Qdrant gives for the first payload, by filter index (-1:
 * not checked by hand), for point id 7. */
static const int expected_first[] = { 1, 0, 0, 1, 1, 0, 1, 0, 0, 1, 1, -1, -1, 1, -1, -1, 1, 0 };

TEST(test_filters_same_both_ways)
{
    arena_init(&arena, 0);
    PointId id = point_id_num(7);
    int checked = 0;
    for (size_t f = 0; f < ARRAY_LEN(filters); f++) {
        Filter *fl[2];
        char err[256];
        for (int m = 0; m < 2; m++) ASSERT_OK(filter_compile(parse(filters[f], m), &fl[m], err, sizeof err));
        for (size_t p = 0; p < ARRAY_LEN(payloads); p++) {
            int want = -2;
            for (int fm = 0; fm < 2; fm++) {
                for (int pm = 0; pm < 2; pm++) {
                    int got = filter_match(fl[fm], &id, parse(payloads[p], pm));
                    if (want == -2) want = got;
                    if (got != want)
                        HARNESS_FAIL("filter %s on %s: %d with filter %s, payload %s; %d otherwise",
                                     filters[f], payloads[p], got, fm ? "packed" : "nodes",
                                     pm ? "packed" : "nodes", want);
                }
            }
            if (p == 0 && expected_first[f] >= 0) {
                if (want != expected_first[f])
                    HARNESS_FAIL("filter %s on %s: %d, Qdrant gives %d", filters[f], payloads[p], want,
                                 expected_first[f]);
                checked++;
            }
        }
        filter_free(fl[0]);
        filter_free(fl[1]);
    }
    ASSERT_TRUE(checked >= 12);
    arena_free(&arena);
}

/* Bad filters fail with the same message either way. */
TEST(test_filter_errors_same_both_ways)
{
    static const char *const bad[] = {
        "{'must':[{'key':'n','match':{'any':[1,2.5]}}]}",
        "{'must':[{'key':'n','match':{'any':[1,'a']}}]}",
        "{'must':[{'has_id':[1,-2]}]}",
        "{'must':[{'has_id':[1,0.5]}]}",
        "{'must':[1,2]}",
    };
    arena_init(&arena, 0);
    for (size_t k = 0; k < ARRAY_LEN(bad); k++) {
        char err[2][256];
        int rc[2];
        for (int m = 0; m < 2; m++) {
            Filter *f = NULL;
            rc[m] = filter_compile(parse(bad[k], m), &f, err[m], sizeof err[m]);
            filter_free(f);
        }
        if (rc[0] != ERR_INVAL || rc[1] != rc[0] || strcmp(err[0], err[1]) != 0)
            HARNESS_FAIL("%s: rc %d \"%s\" (nodes) vs %d \"%s\" (packed)", bad[k], rc[0], err[0], rc[1],
                         err[1]);
    }
    arena_free(&arena);
}

static char *write_text(const JsonValue *v)
{
    Buf b;
    buf_init(&b);
    JsonWriter w;
    jw_init(&w, &b);
    jw_value(&w, v);
    return buf_detach(&b, NULL);
}

/* set_payload and delete_payload give the same document either way; the
 * edits reach into packed arrays by index and by []. */
TEST(test_payload_edits_same_both_ways)
{
    static const struct {
        const char *set; /* NULL: delete keys */
        const char *key;
        const char *keys;
    } edits[] = {
        { "{'x':[1,2,3]}", NULL, NULL },
        { "{'w':0.5}", "v[1]", NULL },
        { "{'w':[0.25]}", "n[]", NULL },
        { "{'w':1}", "a[].b[0]", NULL },
        { "{'v':null}", NULL, NULL },
        { NULL, NULL, "['v[]','n[0]','a[].b','s']" },
        { NULL, NULL, "['m']" },
    };
    arena_init(&arena, 0);
    for (size_t p = 0; p < ARRAY_LEN(payloads); p++) {
        for (size_t e = 0; e < ARRAY_LEN(edits); e++) {
            char *out[2];
            for (int m = 0; m < 2; m++) {
                JsonValue *res = NULL;
                char err[256];
                const JsonValue *doc = parse(payloads[p], m);
                int rc = edits[e].set
                             ? payload_set(&arena, doc, parse(edits[e].set, m), edits[e].key, &res, err,
                                           sizeof err)
                             : payload_delete_keys(&arena, doc, parse(edits[e].keys, m), &res, err,
                                                   sizeof err);
                ASSERT_OK(rc);
                out[m] = write_text(res);
            }
            int same = strcmp(out[0], out[1]) == 0;
            if (!same) printf("  edit %zu on %s:\n  %s\n  %s\n", e, payloads[p], out[0], out[1]);
            free(out[0]);
            free(out[1]);
            ASSERT_TRUE(same);
        }
    }
    /* And one result written out by hand (Qdrant: the element at v[1]
     * becomes an object holding the set members). */
    JsonValue *res;
    char err[256];
    ASSERT_OK(payload_set(&arena, parse("{'v':[0.5,1.5]}", 1), parse("{'w':2}", 1), "v[1]", &res, err,
                          sizeof err));
    char *t = write_text(res);
    int ok = strcmp(t, "{\"v\":[0.5,{\"w\":2}]}") == 0;
    if (!ok) printf("  got %s\n", t);
    free(t);
    ASSERT_TRUE(ok);
    arena_free(&arena);
}

/* A payload copy of a packed array owns its items: the source arena can go. */
TEST(test_payload_copy_independent)
{
    Arena src;
    arena_init(&src, 0);
    JsonValue *v;
    char err[128];
    const char *text = "{\"v\":[0.5,1,2.5,-3]}";
    ASSERT_OK(json_parse_packed(&src, text, strlen(text), &v, err, sizeof err));
    ASSERT_TRUE(json_get(v, "v")->flags & JSON_FLAG_PACKED);
    Arena dst;
    arena_init(&dst, 0);
    JsonValue *copy = payload_copy(&dst, v);
    arena_free(&src);
    char *t = write_text(copy);
    int ok = strcmp(t, "{\"v\":[0.5,1,2.5,-3]}") == 0;
    free(t);
    arena_free(&dst);
    ASSERT_TRUE(ok);
}

int main(void)
{
    RUN(test_filters_same_both_ways);
    RUN(test_filter_errors_same_both_ways);
    RUN(test_payload_edits_same_both_ways);
    RUN(test_payload_copy_independent);
    return harness_report(__FILE__);
}
