/*
 * sha256.h - SHA-256 (FIPS 180-4), for content addressing: the image
 * embedding cache is keyed by the digest of an image's bytes, and a
 * thumbnail's ETag is derived from its digest.
 *
 * Streaming (init / update / final) for data that arrives in pieces, and
 * sha256 for one buffer. Plain portable C: a digest of a few megabytes of
 * image costs milliseconds, small next to decoding the same bytes. No
 * state outside the caller's Sha256 struct, so it is safe from any thread.
 */
#ifndef VITRINE_SHA256_H
#define VITRINE_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_LEN 32
#define SHA256_BLOCK_LEN 64
/* Hex text of a digest, with its NUL. */
#define SHA256_HEX_LEN (2 * SHA256_DIGEST_LEN + 1)

typedef struct {
    uint32_t h[8];
    uint64_t bytes; /* message length so far */
    uint8_t block[SHA256_BLOCK_LEN];
    size_t fill; /* bytes waiting in block */
} Sha256;

void sha256_init(Sha256 *s);
void sha256_update(Sha256 *s, const void *data, size_t len);
/* sha256_final writes the digest; s must be initialised again for reuse. */
void sha256_final(Sha256 *s, uint8_t out[SHA256_DIGEST_LEN]);
/* sha256 digests data[0..len) in one call. */
void sha256(const void *data, size_t len, uint8_t out[SHA256_DIGEST_LEN]);
/* sha256_hex writes the digest as lower-case hex text. */
void sha256_hex(const uint8_t digest[SHA256_DIGEST_LEN], char out[SHA256_HEX_LEN]);

#endif
