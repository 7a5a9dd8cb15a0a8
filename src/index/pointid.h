/*
 * pointid.h - point ids as Qdrant defines them: an unsigned 64-bit integer
 * or a UUID.
 *
 * Qdrant's ExtendedPointId is `NumId(u64) | Uuid(Uuid)` with a derived
 * ordering: every number sorts before every UUID, numbers by value, UUIDs
 * by their 16 bytes. Scroll pages follow that order, so point_id_key
 * produces a byte string whose memcmp order is exactly that order; the
 * store uses it as the LMDB key and gets Qdrant's scroll order for free.
 *
 * Key layout (big-endian so memcmp compares numerically):
 *   number: 0x00, then the u64 in 8 big-endian bytes        (9 bytes)
 *   UUID:   0x01, then the 16 UUID bytes                     (17 bytes)
 * A caller that wants fixed-size keys may zero-pad a number's key to 17
 * bytes: the order is the same, and point_id_from_key accepts both.
 *
 * UUID text is accepted in the forms Rust's uuid crate (Qdrant's parser)
 * accepts: hyphenated "67e55044-10b1-426f-9247-bb680e5fe0c8", simple
 * 32 hex digits, braced "{...}" and "urn:uuid:..."; hex digits in either
 * case. Output is always the canonical lowercase hyphenated form, as
 * Qdrant returns it.
 */
#ifndef VITRINE_POINTID_H
#define VITRINE_POINTID_H

#include <stddef.h>
#include <stdint.h>

#include "base/json.h"

enum { POINT_ID_NUM = 0, POINT_ID_UUID = 1 };

typedef struct {
    uint8_t kind;     /* POINT_ID_NUM or POINT_ID_UUID */
    uint64_t num;     /* when kind == POINT_ID_NUM (0 otherwise) */
    uint8_t uuid[16]; /* when kind == POINT_ID_UUID (zero otherwise) */
} PointId;

/* Bytes point_id_key may write; the number form uses the first 9. */
#define POINT_ID_KEY_MAX 17
#define POINT_ID_KEY_NUM_LEN 9
/* Canonical UUID text length, without the terminating NUL. */
#define POINT_ID_UUID_TEXT_LEN 36
/* Enough for a u64 in decimal or a UUID, plus the NUL. */
#define POINT_ID_TEXT_MAX 37

/*
 * point_id_from_json reads an id from a JSON number or string. ERR_INVAL,
 * with a message in err[0..errlen) (err may be NULL), for a negative or
 * fractional number, an integer above 2^64-1, a string that is not a UUID,
 * or any other JSON type.
 */
int point_id_from_json(const JsonValue *v, PointId *out, char *err, size_t errlen);

/*
 * point_id_from_str reads an id from text such as a URL path segment:
 * decimal digits (a u64) or a UUID. ERR_INVAL otherwise.
 */
int point_id_from_str(const char *s, size_t len, PointId *out);

/* point_id_num / point_id_uuid build ids (uuid: 16 bytes). */
PointId point_id_num(uint64_t num);
PointId point_id_uuid(const uint8_t uuid[16]);

/* point_id_format writes the id as text (decimal or canonical UUID) into
 * buf[POINT_ID_TEXT_MAX] and returns buf. */
char *point_id_format(const PointId *id, char buf[POINT_ID_TEXT_MAX]);

/* point_id_write writes the id as Qdrant does: a JSON number or a string. */
void point_id_write(JsonWriter *w, const PointId *id);

/* point_id_key writes the ordered key (see the layout above) into out and
 * returns its length: POINT_ID_KEY_NUM_LEN or POINT_ID_KEY_MAX. Bytes of
 * out past the returned length are set to zero. */
size_t point_id_key(const PointId *id, uint8_t out[POINT_ID_KEY_MAX]);

/* point_id_from_key decodes a key made by point_id_key (9 or 17 bytes;
 * a number's padding must be zero). ERR_FORMAT for anything else. */
int point_id_from_key(const uint8_t *key, size_t len, PointId *out);

/* point_id_equal returns 1 when a and b are the same id. */
int point_id_equal(const PointId *a, const PointId *b);

/* point_id_cmp orders ids as Qdrant does (<0, 0, >0). */
int point_id_cmp(const PointId *a, const PointId *b);

#endif
