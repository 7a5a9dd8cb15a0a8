/*
 * fuzz_json.c - fuzz target for the JSON reader and writer (src/base/json.c).
 *
 * For every input: parse it; when it parses, write the DOM back, parse that
 * text again and require it to succeed, to be json_equal to the first DOM,
 * and to write back byte-identical text (the writer is a fixed point). The
 * typed accessors and json_get_floats are exercised on whatever came out.
 * The same input through json_parse_packed must fail or succeed alike and
 * give the same DOM item for item (json_item against the nodes: number
 * kind, bits, exact integers and float fixes), the same json_get_floats
 * results, the same written text, arrays packed where the rule says so,
 * and the same nodes again after json_array_unpack.
 * Independently, the raw bytes are escaped as a string, which must always
 * parse (the writer replaces invalid UTF-8) and, when the bytes were valid
 * UTF-8 that the reader accepts, give the same bytes back.
 * Any violation calls abort() so the fuzzer records the input.
 *
 * Built two ways:
 *   libFuzzer:  `make fuzz` (clang -DFUZZING -fsanitize=fuzzer,address,undefined)
 *               gives build/fuzz/fuzz_json; `make fuzz-smoke` runs it a while.
 *   replay:     without -DFUZZING, fuzz_replay.h's main() runs every file or
 *               directory named on the command line, by default the
 *               committed corpus tests/corpus/json, through the same checks;
 *               `make test` runs it (also under the sanitizers), so an input
 *               that once broke the reader fails CI if the bug comes back.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/json.h"
#include "base/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok, const char *what, const uint8_t *data, size_t size)
{
    if (ok) return;
    fprintf(stderr, "fuzz_json: %s for input of %zu bytes: %.*s\n", what, size,
            (int)(size < 200 ? size : 200), data ? (const char *)data : "");
    abort();
}

/* touch walks a DOM calling every accessor, so a bad node shows under ASan. */
static void touch(const JsonValue *v)
{
    int b;
    double d;
    int64_t i;
    uint64_t u;
    (void)json_as_bool(v, &b);
    (void)json_as_double(v, &d);
    (void)json_as_int64(v, &i);
    (void)json_as_uint64(v, &u);
    (void)json_as_str(v);
    if (v->type == JSON_ARRAY) {
        float tmp[64];
        if (v->len <= 64) (void)json_get_floats(v, tmp, v->len);
        for (uint32_t k = 0; k < v->len; k++) touch(&v->u.items[k]);
    } else if (v->type == JSON_OBJECT) {
        for (uint32_t k = 0; k < v->len; k++) {
            const JsonValue *first = json_get(v, v->u.members[k].key);
            /* json_get takes a C string, so keys with NUL may not match. */
            if (strlen(v->u.members[k].key) == v->u.members[k].key_len) check(first != NULL, "json_get missed a key", NULL, 0);
            touch(&v->u.members[k].value);
        }
        (void)json_get_path(v, "a.b.c");
    }
}

/* The input being checked, for the messages of the packed checks. */
static const uint8_t *cur_data;
static size_t cur_size;

/* same_value: b is exactly the value a, as the reader built it (stronger
 * than json_equal, which compares numbers by value): type, length, number
 * kind and bits, the exact integer, the float of a halfway number; arrays
 * item by item through json_item, so a packed b is read the public way. */
static int same_value(const JsonValue *a, const JsonValue *b)
{
    if (a->type != b->type || a->len != b->len) return 0;
    switch (a->type) {
    case JSON_NULL: return 1;
    case JSON_BOOL: return !a->u.boolean == !b->u.boolean;
    case JSON_STRING: return memcmp(a->u.str, b->u.str, a->len) == 0;
    case JSON_NUMBER:
        if (a->num_kind != b->num_kind || memcmp(&a->u.num, &b->u.num, sizeof a->u.num) != 0)
            return 0;
        if (a->num_kind != JSON_NUM_DOUBLE) return a->n.u == b->n.u;
        if ((a->flags & JSON_FLAG_FLOAT) != (b->flags & JSON_FLAG_FLOAT)) return 0;
        return !(a->flags & JSON_FLAG_FLOAT) || memcmp(&a->n.f, &b->n.f, sizeof a->n.f) == 0;
    case JSON_ARRAY:
        for (uint32_t i = 0; i < a->len; i++) {
            JsonValue x = json_item(a, i), y = json_item(b, i);
            if (!same_value(&x, &y)) return 0;
        }
        return 1;
    case JSON_OBJECT:
        for (uint32_t i = 0; i < a->len; i++) {
            const JsonMember *x = &a->u.members[i], *y = &b->u.members[i];
            if (x->key_len != y->key_len || memcmp(x->key, y->key, x->key_len) != 0) return 0;
            if (!same_value(&x->value, &y->value)) return 0;
        }
        return 1;
    }
    return 0;
}

/* should_pack is 1 for an array that json_parse_packed must pack by its
 * rule: non-empty, only numbers, no integer it could not hold in a double
 * (well inside the rule's +-2^53 bound, so the edge itself is not judged
 * here). */
static int should_pack(const JsonValue *plain)
{
    if (plain->len == 0) return 0;
    for (uint32_t i = 0; i < plain->len; i++) {
        const JsonValue *x = &plain->u.items[i];
        if (x->type != JSON_NUMBER || x->num_kind == JSON_NUM_UINT) return 0;
        if (x->num_kind == JSON_NUM_INT && (x->n.i > (1LL << 52) || x->n.i < -(1LL << 52)))
            return 0;
    }
    return 1;
}

/* compare_packed walks the json_parse DOM (plain) and the
 * json_parse_packed DOM (packed) together, checks each array's packing and
 * json_get_floats, then unpacks the packed arrays in place, which must
 * give plain's nodes. */
static void compare_packed(Arena *a, const JsonValue *plain, JsonValue *packed)
{
    const uint8_t *data = cur_data;
    size_t size = cur_size;
    if (plain->type == JSON_OBJECT) {
        for (uint32_t i = 0; i < plain->len; i++)
            compare_packed(a, &plain->u.members[i].value, &packed->u.members[i].value);
        return;
    }
    if (plain->type != JSON_ARRAY) return;
    int is_packed = (packed->flags & JSON_FLAG_PACKED) != 0;
    check(!should_pack(plain) || is_packed, "an array of numbers was not packed", data, size);
    check(!is_packed || (plain->len > 0 && packed->u.items == NULL),
          "an empty array packed, or a packed one with items", data, size);
    if (plain->len > 0) {
        float *f1 = malloc(plain->len * sizeof *f1), *f2 = malloc(plain->len * sizeof *f2);
        check(f1 && f2, "out of memory", data, size);
        int r1 = json_get_floats(plain, f1, plain->len), r2 = json_get_floats(packed, f2, plain->len);
        check(r1 == r2, "json_get_floats fails on one DOM only", data, size);
        check(r1 != 0 || memcmp(f1, f2, plain->len * sizeof(float)) == 0,
              "json_get_floats differs between the DOMs", data, size);
        free(f1);
        free(f2);
    }
    if (is_packed) {
        json_array_unpack(a, packed);
        check(!(packed->flags & JSON_FLAG_PACKED) && packed->u.items != NULL,
              "json_array_unpack left it packed", data, size);
        for (uint32_t i = 0; i < plain->len; i++)
            check(same_value(&plain->u.items[i], &packed->u.items[i]),
                  "an unpacked item differs from json_parse's", data, size);
        return;
    }
    for (uint32_t i = 0; i < plain->len; i++) compare_packed(a, &plain->u.items[i], &packed->u.items[i]);
}

/* check_packed: json_parse_packed against json_parse's result (rc, v). */
static void check_packed(Arena *a, const uint8_t *data, size_t size, int rc, const JsonValue *v)
{
    JsonValue *vp = NULL;
    char err[160];
    int rcp = json_parse_packed(a, (const char *)data, size, &vp, err, sizeof err);
    check(rcp == rc, "json_parse_packed and json_parse disagree on success", data, size);
    if (rc != 0) {
        check(vp == NULL, "*out set on error (packed)", data, size);
        return;
    }
    check(same_value(v, vp), "packed DOM differs from json_parse's", data, size);
    check(json_equal(v, vp) && json_equal(vp, v), "packed DOM not json_equal", data, size);
    Buf b1, b2;
    buf_init(&b1);
    buf_init(&b2);
    JsonWriter w;
    jw_init(&w, &b1);
    jw_value(&w, v);
    jw_init(&w, &b2);
    jw_value(&w, vp);
    check(b1.len == b2.len && memcmp(b1.data, b2.data, b1.len) == 0,
          "packed DOM writes other text", data, size);
    buf_free(&b1);
    buf_free(&b2);
    cur_data = data;
    cur_size = size;
    compare_packed(a, v, vp);
    check(same_value(v, vp), "DOM differs after json_array_unpack", data, size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Arena a;
    arena_init(&a, 0);
    JsonValue *v1 = NULL, *v2 = NULL;
    char err[160];
    int rc = json_parse(&a, (const char *)data, size, &v1, err, sizeof err);
    if (rc == 0) {
        touch(v1);
        Buf b1, b2;
        buf_init(&b1);
        buf_init(&b2);
        JsonWriter w;
        jw_init(&w, &b1);
        jw_value(&w, v1);
        int rc2 = json_parse(&a, b1.data, b1.len, &v2, err, sizeof err);
        check(rc2 == 0, "written JSON does not parse", data, size);
        check(json_equal(v1, v2), "round trip not json_equal", data, size);
        jw_init(&w, &b2);
        jw_value(&w, v2);
        check(b1.len == b2.len && memcmp(b1.data, b2.data, b1.len) == 0, "second write differs", data, size);
        buf_free(&b1);
        buf_free(&b2);
    } else {
        check(v1 == NULL, "*out set on error", data, size);
        check(strstr(err, "at byte ") != NULL, "error without offset", data, size);
    }
    check_packed(&a, data, size, rc, v1);

    /* Any bytes escaped as a string must parse as one string. */
    Buf s;
    buf_init(&s);
    json_escape_into(&s, (const char *)data, size);
    JsonValue *sv = NULL;
    rc = json_parse(&a, s.data, s.len, &sv, err, sizeof err);
    check(rc == 0 && sv->type == JSON_STRING, "escaped bytes do not parse as a string", data, size);
    if (sv->len == size) {
        /* Same length means nothing was replaced: the bytes are identical. */
        check(memcmp(sv->u.str, data, size) == 0, "escaped string changed", data, size);
    }
    buf_free(&s);
    arena_free(&a);
    return 0;
}

#define FUZZ_NAME "json"
#include "fuzz_replay.h"
