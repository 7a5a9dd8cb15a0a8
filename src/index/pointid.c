/*
 * pointid.c - parsing, formatting, ordering and key encoding of point ids
 * (see pointid.h for the forms accepted and the key layout).
 *
 * Parsing is strict in the same places serde is strict for Qdrant's
 * `ExtendedPointId`: a JSON number must be a non-negative integer that
 * fits u64 (1.0 and 1e3 are rejected, as serde rejects floats for u64),
 * and a JSON string must be a UUID (a decimal string such as "123" is not
 * an id in Qdrant's REST API).
 */
#include "index/pointid.h"

#include <stdio.h>
#include <string.h>

#include "base/err.h"

/* Offsets of the four hyphens in the canonical 36-character form. */
static const int uuid_hyphen_at[4] = { 8, 13, 18, 23 };

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* parse_hex32 reads 32 hex digits (hyphens already removed) into 16 bytes. */
static int parse_hex32(const char *s, uint8_t out[16])
{
    for (int i = 0; i < 16; i++) {
        int hi = hex_value(s[2 * i]), lo = hex_value(s[2 * i + 1]);
        if (hi < 0 || lo < 0) return ERR_INVAL;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

/* parse_hyphenated reads the 36-character 8-4-4-4-12 form. */
static int parse_hyphenated(const char *s, uint8_t out[16])
{
    char hex[32];
    int n = 0, h = 0;
    for (int i = 0; i < 36; i++) {
        if (h < 4 && i == uuid_hyphen_at[h]) {
            if (s[i] != '-') return ERR_INVAL;
            h++;
            continue;
        }
        hex[n++] = s[i];
    }
    return parse_hex32(hex, out);
}

/* uuid_parse accepts the forms listed in pointid.h, by length. */
static int uuid_parse(const char *s, size_t len, uint8_t out[16])
{
    if (len == 32) return parse_hex32(s, out);
    if (len == 36) return parse_hyphenated(s, out);
    if (len == 38 && s[0] == '{' && s[37] == '}') return parse_hyphenated(s + 1, out);
    if (len == 45 && strncmp(s, "urn:uuid:", 9) == 0) return parse_hyphenated(s + 9, out);
    return ERR_INVAL;
}

PointId point_id_num(uint64_t num)
{
    PointId id;
    memset(&id, 0, sizeof id);
    id.kind = POINT_ID_NUM;
    id.num = num;
    return id;
}

PointId point_id_uuid(const uint8_t uuid[16])
{
    PointId id;
    memset(&id, 0, sizeof id);
    id.kind = POINT_ID_UUID;
    memcpy(id.uuid, uuid, 16);
    return id;
}


int point_id_from_json(const JsonValue *v, PointId *out, char *err, size_t errlen)
{
    /* Long strings are cut in messages so an error line stays short. */
    char shown[48];
    if (!v) {
        err_set(err, errlen, 0, "point id is missing");
        return ERR_INVAL;
    }
    switch (v->type) {
    case JSON_NUMBER:
        if (v->num_kind == JSON_NUM_UINT || (v->num_kind == JSON_NUM_INT && v->n.i >= 0)) {
            *out = point_id_num(v->n.u);
            return 0;
        }
        if (v->num_kind == JSON_NUM_INT) {
            snprintf(shown, sizeof shown, "%lld", (long long)v->n.i);
            err_set(err, errlen, 0,
                    "point id %s is negative: an id is an unsigned 64-bit integer or a UUID string",
                    shown);
        } else {
            snprintf(shown, sizeof shown, "%.17g", v->u.num);
            err_set(err, errlen, 0,
                    "point id %s is not an unsigned 64-bit integer: an id is an unsigned integer or a UUID string",
                    shown);
        }
        return ERR_INVAL;
    case JSON_STRING: {
        uint8_t u[16];
        if (uuid_parse(v->u.str, v->len, u) == 0) {
            *out = point_id_uuid(u);
            return 0;
        }
        size_t n = v->len < 36 ? v->len : 36;
        /* A \0 inside the string simply ends what is shown. */
        snprintf(shown, sizeof shown, "%.*s%s", (int)n, v->u.str, v->len > n ? "..." : "");
        err_set(err, errlen, 0,
                "point id \"%s\" is not a valid UUID: an id is an unsigned integer or a UUID string",
                shown);
        return ERR_INVAL;
    }
    default:
        err_set(err, errlen, 0, "point id must be an unsigned integer or a UUID string");
        return ERR_INVAL;
    }
}

int point_id_from_str(const char *s, size_t len, PointId *out)
{
    if (len == 0) return ERR_INVAL;
    int all_digits = 1;
    for (size_t i = 0; i < len; i++)
        if (s[i] < '0' || s[i] > '9') all_digits = 0;
    if (all_digits && len <= 20) {
        uint64_t v = 0;
        for (size_t i = 0; i < len; i++) {
            uint64_t d = (uint64_t)(s[i] - '0');
            if (v > (UINT64_MAX - d) / 10) return ERR_INVAL;
            v = v * 10 + d;
        }
        *out = point_id_num(v);
        return 0;
    }
    uint8_t u[16];
    if (uuid_parse(s, len, u) != 0) return ERR_INVAL;
    *out = point_id_uuid(u);
    return 0;
}

char *point_id_format(const PointId *id, char buf[POINT_ID_TEXT_MAX])
{
    if (id->kind == POINT_ID_NUM) {
        snprintf(buf, POINT_ID_TEXT_MAX, "%llu", (unsigned long long)id->num);
        return buf;
    }
    static const char digits[] = "0123456789abcdef";
    int n = 0, h = 0;
    for (int i = 0; i < 16; i++) {
        if (h < 4 && n == uuid_hyphen_at[h]) {
            buf[n++] = '-';
            h++;
        }
        buf[n++] = digits[id->uuid[i] >> 4];
        buf[n++] = digits[id->uuid[i] & 15];
    }
    buf[n] = '\0';
    return buf;
}

void point_id_write(JsonWriter *w, const PointId *id)
{
    if (id->kind == POINT_ID_NUM) {
        jw_uint(w, id->num);
        return;
    }
    char buf[POINT_ID_TEXT_MAX];
    jw_string_len(w, point_id_format(id, buf), POINT_ID_UUID_TEXT_LEN);
}

size_t point_id_key(const PointId *id, uint8_t out[POINT_ID_KEY_MAX])
{
    memset(out, 0, POINT_ID_KEY_MAX);
    if (id->kind == POINT_ID_NUM) {
        out[0] = 0x00;
        for (int i = 0; i < 8; i++) out[1 + i] = (uint8_t)(id->num >> (56 - 8 * i));
        return POINT_ID_KEY_NUM_LEN;
    }
    out[0] = 0x01;
    memcpy(out + 1, id->uuid, 16);
    return POINT_ID_KEY_MAX;
}

int point_id_from_key(const uint8_t *key, size_t len, PointId *out)
{
    if (len == 0) return ERR_FORMAT;
    if (key[0] == 0x00 && (len == POINT_ID_KEY_NUM_LEN || len == POINT_ID_KEY_MAX)) {
        for (size_t i = POINT_ID_KEY_NUM_LEN; i < len; i++)
            if (key[i]) return ERR_FORMAT;
        uint64_t v = 0;
        for (int i = 0; i < 8; i++) v = v << 8 | key[1 + i];
        *out = point_id_num(v);
        return 0;
    }
    if (key[0] == 0x01 && len == POINT_ID_KEY_MAX) {
        *out = point_id_uuid(key + 1);
        return 0;
    }
    return ERR_FORMAT;
}

int point_id_equal(const PointId *a, const PointId *b)
{
    if (a->kind != b->kind) return 0;
    if (a->kind == POINT_ID_NUM) return a->num == b->num;
    return memcmp(a->uuid, b->uuid, 16) == 0;
}

int point_id_cmp(const PointId *a, const PointId *b)
{
    if (a->kind != b->kind) return a->kind < b->kind ? -1 : 1;
    if (a->kind == POINT_ID_NUM) return a->num < b->num ? -1 : a->num > b->num;
    return memcmp(a->uuid, b->uuid, 16);
}
