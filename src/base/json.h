/*
 * json.h - JSON writer and reader (the only module that sees yajl).
 *
 * Reader: json_parse builds a compact DOM in a caller-owned Arena, so a
 * request's whole parse is released with one arena_free. Object members
 * keep their order. Numbers keep their exact integer value when they are
 * integers (ids are unsigned 64-bit), and a double for every number (the
 * one strtod gives for the text); json_get_floats gives the float strtof
 * gives for the text.
 *
 * Packed arrays. Arrays of numbers are the bulk of a vector upsert body
 * (10k points x 512 floats), where a 24-byte node per number costs more
 * than the body itself. json_parse_packed stores such an array as one
 * contiguous block instead: 4 bytes a number when every value is exactly
 * a float (what Qdrant's clients send: float32 values widened to doubles),
 * else 8, plus a bit a number when some are integers. Such an array has
 * type JSON_ARRAY, its len, JSON_FLAG_PACKED in flags and u.items NULL:
 * code that may see one reads items with json_item (by value), never
 * through u.items. json_parse never packs, so code written against
 * u.items keeps working on its DOMs.
 *
 * Writer: JsonWriter appends to a Buf and places commas itself, so callers
 * only say begin/key/value/end. It writes floats with the shortest text
 * that reads back to the same float, and rejects nothing: NaN and Inf
 * (which JSON cannot carry) are written as null.
 */
#ifndef VITRINE_JSON_H
#define VITRINE_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/util.h"

/* Nesting deeper than this is rejected by the reader (ERR_INVAL), which
 * bounds recursion everywhere the DOM is walked. */
#define JSON_MAX_DEPTH 64

typedef enum {
    JSON_NULL = 0,
    JSON_BOOL,
    JSON_NUMBER,
    JSON_STRING,
    JSON_ARRAY,
    JSON_OBJECT,
} JsonType;

/* How a JSON_NUMBER was written: an integer fitting int64 or uint64, or not. */
enum {
    JSON_NUM_DOUBLE = 0, /* had a fraction or exponent, or overflowed 64 bits */
    JSON_NUM_INT = 1,    /* integer, fits int64 (i is exact; u too when >= 0) */
    JSON_NUM_UINT = 2,   /* integer > INT64_MAX, fits uint64 (u is exact) */
};

/* JsonValue.flags. A value built by hand leaves flags 0. */
enum {
    /* A JSON_NUM_DOUBLE number whose double lies exactly halfway between
     * two floats: (float)u.num would round a second time, so n.f holds the
     * float nearest the text (strtof's). */
    JSON_FLAG_FLOAT = 1,
    /* A JSON_ARRAY stored packed: u.items is NULL, n.pack holds the items;
     * read them with json_item. Only json_parse_packed makes these. */
    JSON_FLAG_PACKED = 2,
};

typedef struct JsonValue JsonValue;
typedef struct JsonMember JsonMember;
typedef struct JsonPacked JsonPacked; /* private to json.c */

struct JsonValue {
    uint8_t type;     /* JsonType */
    uint8_t num_kind; /* JSON_NUM_* when type == JSON_NUMBER */
    uint8_t flags;    /* JSON_FLAG_* */
    uint32_t len;     /* string bytes, array items or object members */
    union {
        int boolean;
        double num;          /* every number, possibly rounded */
        const char *str;     /* UTF-8, NUL-terminated, may contain \0 (use len) */
        JsonValue *items;    /* array; NULL when JSON_FLAG_PACKED */
        JsonMember *members; /* object */
    } u;
    union {
        int64_t i; /* exact integer value for JSON_NUM_INT */
        uint64_t u; /* exact integer value for JSON_NUM_INT >= 0 and JSON_NUM_UINT */
        float f;    /* JSON_FLAG_FLOAT: the float nearest the number's text */
        const JsonPacked *pack; /* JSON_FLAG_PACKED: the array's items */
    } n;
};

struct JsonMember {
    const char *key; /* NUL-terminated */
    uint32_t key_len;
    JsonValue value;
};

/*
 * json_parse parses text[0..len) into a DOM allocated in arena; *out points
 * into the arena. On ERR_INVAL (bad syntax, invalid UTF-8, too deep, trailing
 * garbage) a message with the byte offset is written to err[0..errlen).
 * When the arena is charged to a budget (arena_set_budget) and the budget
 * is exceeded while parsing, the parse stops with ERR_FULL and the message
 * "request memory budget exhausted"; its temporary stacks are charged too.
 */
int json_parse(Arena *arena, const char *text, size_t len, JsonValue **out,
               char *err, size_t errlen);

/*
 * json_parse_packed parses like json_parse (same values, same errors) but
 * stores every non-empty array whose items are all numbers packed (see
 * above), unless one of them is an integer beyond +-2^53, which a double
 * cannot hold: such arrays stay nodes. Use it for bodies that carry
 * vectors, and read their arrays with json_item.
 */
int json_parse_packed(Arena *arena, const char *text, size_t len, JsonValue **out,
                      char *err, size_t errlen);

/*
 * json_item returns item i of array arr by value, whether arr is packed or
 * not; a packed item is a JSON_NUMBER exactly as json_parse would have
 * built it. A JSON_NULL value when arr is not an array or i >= arr->len.
 * The result lives on the caller's stack: pass &item down, do not keep it.
 */
JsonValue json_item(const JsonValue *arr, size_t i);

/*
 * json_array_unpack turns a packed array into nodes in place (allocated in
 * arena), for code that edits items; other values are left as they are.
 */
void json_array_unpack(Arena *arena, JsonValue *arr);

/* json_get returns the first member named key, or NULL (also for non-objects). */
const JsonValue *json_get(const JsonValue *obj, const char *key);
/* json_get_path follows a dotted path of object keys ("a.b.c"). */
const JsonValue *json_get_path(const JsonValue *obj, const char *path);

/* Typed accessors: 0, or ERR_INVAL when v is missing or of another type. */
int json_as_bool(const JsonValue *v, int *out);
int json_as_double(const JsonValue *v, double *out);
int json_as_int64(const JsonValue *v, int64_t *out);  /* integers only */
int json_as_uint64(const JsonValue *v, uint64_t *out); /* non-negative integers only */
const char *json_as_str(const JsonValue *v); /* NULL unless a string */

/*
 * json_get_floats copies an array of numbers into out[0..n), each the float
 * nearest its text (as strtof). ERR_INVAL when v is not an array of n
 * numbers, or a value is not finite as a float.
 */
int json_get_floats(const JsonValue *v, float *out, size_t n);

/* json_equal compares two values structurally (numbers by value, objects
 * as ordered member lists). */
int json_equal(const JsonValue *a, const JsonValue *b);

/* ---- writer ---- */

typedef struct {
    Buf *buf;
    int depth;
    uint8_t first[JSON_MAX_DEPTH + 1]; /* 1 when nothing written yet at depth */
    uint8_t after_key;
} JsonWriter;

void jw_init(JsonWriter *w, Buf *buf);
void jw_object_begin(JsonWriter *w);
void jw_object_end(JsonWriter *w);
void jw_array_begin(JsonWriter *w);
void jw_array_end(JsonWriter *w);
void jw_key(JsonWriter *w, const char *key);
void jw_key_len(JsonWriter *w, const char *key, size_t len);
void jw_string(JsonWriter *w, const char *s);
void jw_string_len(JsonWriter *w, const char *s, size_t len);
void jw_int(JsonWriter *w, int64_t v);
void jw_uint(JsonWriter *w, uint64_t v);
void jw_double(JsonWriter *w, double v); /* shortest round-trip for a double */
void jw_float(JsonWriter *w, float v);   /* shortest round-trip for a float */
void jw_floats(JsonWriter *w, const float *v, size_t n); /* an array */
void jw_bool(JsonWriter *w, int v);
void jw_null(JsonWriter *w);
/* jw_raw inserts already-serialised JSON (a stored payload) as one value. */
void jw_raw(JsonWriter *w, const char *json, size_t len);
/* jw_value writes a DOM value. */
void jw_value(JsonWriter *w, const JsonValue *v);

/* json_escape_into appends s as a quoted JSON string to buf. */
void json_escape_into(Buf *buf, const char *s, size_t len);

#endif
