/*
 * json.h - JSON writer and reader (the only module that sees yajl).
 *
 * Reader: json_parse builds a compact DOM in a caller-owned Arena, so a
 * request's whole parse is released with one arena_free. Object members
 * keep their order. Numbers keep their exact integer value when they are
 * integers (ids are unsigned 64-bit), and a double for every number.
 * Arrays of numbers are the bulk of a vector upsert body; their nodes are
 * 24 bytes each and json_get_floats copies them into a float buffer.
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

typedef struct JsonValue JsonValue;
typedef struct JsonMember JsonMember;

struct JsonValue {
    uint8_t type;     /* JsonType */
    uint8_t num_kind; /* JSON_NUM_* when type == JSON_NUMBER */
    uint32_t len;     /* string bytes, array items or object members */
    union {
        int boolean;
        double num;          /* every number, possibly rounded */
        const char *str;     /* UTF-8, NUL-terminated, may contain \0 (use len) */
        JsonValue *items;    /* array */
        JsonMember *members; /* object */
    } u;
    union {
        int64_t i; /* exact integer value for JSON_NUM_INT */
        uint64_t u; /* exact integer value for JSON_NUM_INT >= 0 and JSON_NUM_UINT */
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
 */
int json_parse(Arena *arena, const char *text, size_t len, JsonValue **out,
               char *err, size_t errlen);

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
 * json_get_floats copies an array of numbers into out[0..n). ERR_INVAL when
 * v is not an array of n numbers, or a value is not finite as a float.
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
