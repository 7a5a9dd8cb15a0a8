/*
 * test_pointid.c - point ids (src/index/pointid.c): parsing, text, keys, order.
 *
 * References: Qdrant's ExtendedPointId is `#[serde(untagged)] enum
 * { NumId(u64), Uuid(Uuid) }` with a derived Ord (qdrant/qdrant
 * lib/segment/src/types.rs), so serde's rules decide what parses (u64
 * only: no negatives, no floats, "123" is not a UUID) and every number
 * sorts before every UUID. UUID forms and bytes follow the uuid crate's
 * documentation (Uuid::parse_str accepts simple, hyphenated, braced and
 * urn forms; "67e55044-10b1-426f-9247-bb680e5fe0c8" is its example).
 * Expected byte values below are written by hand from those texts.
 */
#include "index/pointid.h"

#include "base/err.h"
#include "harness.h"

static Arena arena;

static const JsonValue *parse(const char *text)
{
    JsonValue *v = NULL;
    char err[128];
    if (json_parse(&arena, text, strlen(text), &v, err, sizeof err) != 0) {
        printf("  bad test JSON %s: %s\n", text, err);
        fflush(stdout);
        abort();
    }
    return v;
}

static const uint8_t example_uuid[16] = { 0x67, 0xe5, 0x50, 0x44, 0x10, 0xb1, 0x42, 0x6f,
                                          0x92, 0x47, 0xbb, 0x68, 0x0e, 0x5f, 0xe0, 0xc8 };

TEST(test_numbers)
{
    PointId id;
    char err[200];
    ASSERT_OK(point_id_from_json(parse("0"), &id, err, sizeof err));
    ASSERT_EQ_INT(id.kind, POINT_ID_NUM);
    ASSERT_EQ_U64(id.num, 0);
    ASSERT_OK(point_id_from_json(parse("42"), &id, err, sizeof err));
    ASSERT_EQ_U64(id.num, 42);
    /* u64::MAX is a valid Qdrant id. */
    ASSERT_OK(point_id_from_json(parse("18446744073709551615"), &id, err, sizeof err));
    ASSERT_EQ_INT(id.kind, POINT_ID_NUM);
    ASSERT_EQ_U64(id.num, UINT64_MAX);
    ASSERT_OK(point_id_from_json(parse("9223372036854775808"), &id, err, sizeof err));
    ASSERT_EQ_U64(id.num, 9223372036854775808ull);
}

TEST(test_rejects)
{
    PointId id;
    char err[200];
    ASSERT_EQ_INT(point_id_from_json(parse("-1"), &id, err, sizeof err), ERR_INVAL);
    ASSERT_STR_EQ(err, "point id -1 is negative: an id is an unsigned 64-bit integer or a UUID string");
    ASSERT_EQ_INT(point_id_from_json(parse("1.5"), &id, err, sizeof err), ERR_INVAL);
    ASSERT_TRUE(strstr(err, "point id 1.5 is not an unsigned 64-bit integer") == err);
    /* serde rejects a float for u64 even when it is whole. */
    ASSERT_EQ_INT(point_id_from_json(parse("1.0"), &id, err, sizeof err), ERR_INVAL);
    ASSERT_EQ_INT(point_id_from_json(parse("1e3"), &id, err, sizeof err), ERR_INVAL);
    /* One past u64::MAX. */
    ASSERT_EQ_INT(point_id_from_json(parse("18446744073709551616"), &id, err, sizeof err), ERR_INVAL);
    ASSERT_EQ_INT(point_id_from_json(parse("\"abc\""), &id, err, sizeof err), ERR_INVAL);
    ASSERT_STR_EQ(err, "point id \"abc\" is not a valid UUID: an id is an unsigned integer or a UUID string");
    /* A decimal string is not an id in Qdrant's JSON API. */
    ASSERT_EQ_INT(point_id_from_json(parse("\"123\""), &id, err, sizeof err), ERR_INVAL);
    ASSERT_EQ_INT(point_id_from_json(parse("true"), &id, err, sizeof err), ERR_INVAL);
    ASSERT_EQ_INT(point_id_from_json(parse("null"), &id, err, sizeof err), ERR_INVAL);
    ASSERT_EQ_INT(point_id_from_json(parse("[1]"), &id, err, sizeof err), ERR_INVAL);
    ASSERT_STR_EQ(err, "point id must be an unsigned integer or a UUID string");
    ASSERT_EQ_INT(point_id_from_json(NULL, &id, NULL, 0), ERR_INVAL);
    /* Bad UUIDs: a non-hex digit, hyphens misplaced, wrong lengths. */
    ASSERT_EQ_INT(point_id_from_json(parse("\"67e55044-10b1-426f-9247-bb680e5fe0cg\""), &id, NULL, 0), ERR_INVAL);
    ASSERT_EQ_INT(point_id_from_json(parse("\"67e5504-410b1-426f-9247-bb680e5fe0c8\""), &id, NULL, 0), ERR_INVAL);
    ASSERT_EQ_INT(point_id_from_json(parse("\"67e55044-10b1-426f-9247-bb680e5fe0c\""), &id, NULL, 0), ERR_INVAL);
    ASSERT_EQ_INT(point_id_from_json(parse("\"67e5504410b1426f9247bb680e5fe0c8a\""), &id, NULL, 0), ERR_INVAL);
    ASSERT_EQ_INT(point_id_from_json(parse("\"\""), &id, NULL, 0), ERR_INVAL);
    /* A long bad string is cut in the message. */
    ASSERT_EQ_INT(point_id_from_json(parse("\"0123456789012345678901234567890123456789xyz\""), &id, err,
                                     sizeof err), ERR_INVAL);
    ASSERT_TRUE(strstr(err, "...\"") != NULL);
}

TEST(test_uuid_forms)
{
    const char *forms[] = {
        "\"67e55044-10b1-426f-9247-bb680e5fe0c8\"",
        "\"67E55044-10B1-426F-9247-BB680E5FE0C8\"",
        "\"67e5504410b1426f9247bb680e5fe0c8\"",
        "\"{67e55044-10b1-426f-9247-bb680e5fe0c8}\"",
        "\"urn:uuid:67e55044-10b1-426f-9247-bb680e5fe0c8\"",
    };
    for (size_t i = 0; i < ARRAY_LEN(forms); i++) {
        PointId id;
        char err[200];
        ASSERT_OK(point_id_from_json(parse(forms[i]), &id, err, sizeof err));
        ASSERT_EQ_INT(id.kind, POINT_ID_UUID);
        ASSERT_TRUE(memcmp(id.uuid, example_uuid, 16) == 0);
        char text[POINT_ID_TEXT_MAX];
        ASSERT_STR_EQ(point_id_format(&id, text), "67e55044-10b1-426f-9247-bb680e5fe0c8");
    }
}

TEST(test_write)
{
    Buf b;
    buf_init(&b);
    JsonWriter w;
    jw_init(&w, &b);
    jw_array_begin(&w);
    PointId a = point_id_num(UINT64_MAX), u = point_id_uuid(example_uuid), z = point_id_num(0);
    point_id_write(&w, &a);
    point_id_write(&w, &u);
    point_id_write(&w, &z);
    jw_array_end(&w);
    ASSERT_STR_EQ(b.data, "[18446744073709551615,\"67e55044-10b1-426f-9247-bb680e5fe0c8\",0]");
    buf_free(&b);
}

TEST(test_from_str)
{
    PointId id;
    ASSERT_OK(point_id_from_str("42", 2, &id));
    ASSERT_EQ_INT(id.kind, POINT_ID_NUM);
    ASSERT_EQ_U64(id.num, 42);
    ASSERT_OK(point_id_from_str("18446744073709551615", 20, &id));
    ASSERT_EQ_U64(id.num, UINT64_MAX);
    ASSERT_EQ_INT(point_id_from_str("18446744073709551616", 20, &id), ERR_INVAL);
    ASSERT_EQ_INT(point_id_from_str("-1", 2, &id), ERR_INVAL);
    ASSERT_EQ_INT(point_id_from_str("", 0, &id), ERR_INVAL);
    ASSERT_EQ_INT(point_id_from_str("1.5", 3, &id), ERR_INVAL);
    const char *u = "67e55044-10b1-426f-9247-bb680e5fe0c8";
    ASSERT_OK(point_id_from_str(u, strlen(u), &id));
    ASSERT_EQ_INT(id.kind, POINT_ID_UUID);
    ASSERT_TRUE(memcmp(id.uuid, example_uuid, 16) == 0);
}

/* Keys must sort exactly as Qdrant's derived Ord: numbers by value, then
 * UUIDs by bytes. The expected order is written out by hand. */
TEST(test_key_order)
{
    uint8_t u0[16] = { 0 }, u1[16] = { 0 }, umax[16];
    u1[15] = 1;
    memset(umax, 0xff, 16);
    PointId ordered[] = {
        point_id_num(0), point_id_num(1), point_id_num(255), point_id_num(256),
        point_id_num(65536), point_id_num(4294967296ull), point_id_num(9223372036854775807ull),
        point_id_num(9223372036854775808ull), point_id_num(UINT64_MAX),
        point_id_uuid(u0), point_id_uuid(u1), point_id_uuid(example_uuid), point_id_uuid(umax),
    };
    size_t n = ARRAY_LEN(ordered);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++) {
            uint8_t ka[POINT_ID_KEY_MAX], kb[POINT_ID_KEY_MAX];
            size_t la = point_id_key(&ordered[i], ka), lb = point_id_key(&ordered[j], kb);
            /* LMDB's default order: memcmp over the shorter, then length. */
            int c = memcmp(ka, kb, MIN(la, lb));
            if (!c) c = (la > lb) - (la < lb);
            int expect = (i > j) - (i < j);
            if ((c > 0) - (c < 0) != expect) HARNESS_FAIL("variable keys: %zu vs %zu", i, j);
            /* Fixed 17-byte keys (zero padded) order the same way. */
            int cf = memcmp(ka, kb, POINT_ID_KEY_MAX);
            if ((cf > 0) - (cf < 0) != expect) HARNESS_FAIL("fixed keys: %zu vs %zu", i, j);
            int cc = point_id_cmp(&ordered[i], &ordered[j]);
            if ((cc > 0) - (cc < 0) != expect) HARNESS_FAIL("point_id_cmp: %zu vs %zu", i, j);
            ASSERT_EQ_INT(point_id_equal(&ordered[i], &ordered[j]), i == j);
        }
    }
}

TEST(test_key_bytes_and_roundtrip)
{
    uint8_t k[POINT_ID_KEY_MAX];
    PointId id = point_id_num(0x0102030405060708ull), back;
    ASSERT_EQ_INT(point_id_key(&id, k), POINT_ID_KEY_NUM_LEN);
    const uint8_t expect_num[9] = { 0, 1, 2, 3, 4, 5, 6, 7, 8 };
    ASSERT_TRUE(memcmp(k, expect_num, 9) == 0);
    ASSERT_OK(point_id_from_key(k, 9, &back));
    ASSERT_TRUE(point_id_equal(&id, &back));
    ASSERT_OK(point_id_from_key(k, POINT_ID_KEY_MAX, &back));
    ASSERT_TRUE(point_id_equal(&id, &back));
    id = point_id_uuid(example_uuid);
    ASSERT_EQ_INT(point_id_key(&id, k), POINT_ID_KEY_MAX);
    ASSERT_EQ_INT(k[0], 1);
    ASSERT_TRUE(memcmp(k + 1, example_uuid, 16) == 0);
    ASSERT_OK(point_id_from_key(k, POINT_ID_KEY_MAX, &back));
    ASSERT_TRUE(point_id_equal(&id, &back));
    /* Malformed keys. */
    ASSERT_EQ_INT(point_id_from_key(k, 9, &back), ERR_FORMAT);
    ASSERT_EQ_INT(point_id_from_key(k, 0, &back), ERR_FORMAT);
    uint8_t bad[POINT_ID_KEY_MAX] = { 2 };
    ASSERT_EQ_INT(point_id_from_key(bad, POINT_ID_KEY_MAX, &back), ERR_FORMAT);
    uint8_t padded[POINT_ID_KEY_MAX] = { 0 };
    padded[16] = 1; /* a number's padding must be zero */
    ASSERT_EQ_INT(point_id_from_key(padded, POINT_ID_KEY_MAX, &back), ERR_FORMAT);
}

int main(void)
{
    arena_init(&arena, 0);
    RUN(test_numbers);
    RUN(test_rejects);
    RUN(test_uuid_forms);
    RUN(test_write);
    RUN(test_from_str);
    RUN(test_key_order);
    RUN(test_key_bytes_and_roundtrip);
    arena_free(&arena);
    return harness_report(__FILE__);
}
