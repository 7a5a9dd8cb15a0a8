/*
 * sha256.h - SHA-256 (FIPS 180-4), incremental, for snapshot checksums.
 *
 * Design. Snapshot files are checked with SHA-256 because Qdrant's API
 * names it (`<file>.checksum`, the `checksum` of a recover request), so a
 * client can verify a download with any tool. Hashing sits on the snapshot
 * path, where a 100k x 512-d collection is a few hundred megabytes, so the
 * compression function has two implementations: the portable C one of the
 * standard, and one on the x86 SHA extensions (SHA-NI, on AMD since Zen
 * and Intel since Ice Lake), several times faster, chosen at run time by
 * CPUID. tests/test_sha256.c runs the FIPS test vectors through both.
 *
 * Usage: sha256_init, any number of sha256_update calls, sha256_final
 * (which leaves the context unusable until the next sha256_init). A context
 * may be copied by value to hash a common prefix once and finish two ways.
 */
#ifndef VITRINE_SHA256_H
#define VITRINE_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_LEN 32
#define SHA256_HEX_LEN 64 /* without the NUL */
#define SHA256_BLOCK_LEN 64

typedef struct {
    uint32_t h[8];                 /* the chaining state */
    uint64_t bytes;                /* message length so far */
    uint8_t buf[SHA256_BLOCK_LEN]; /* a partial block */
    size_t used;                   /* bytes in buf */
} Sha256;

void sha256_init(Sha256 *s);
void sha256_update(Sha256 *s, const void *data, size_t len);
void sha256_final(Sha256 *s, uint8_t out[SHA256_DIGEST_LEN]);
/* sha256 hashes one buffer. */
void sha256(const void *data, size_t len, uint8_t out[SHA256_DIGEST_LEN]);

/* sha256_hex writes the digest as 64 lowercase hex digits and a NUL. */
void sha256_hex(const uint8_t d[SHA256_DIGEST_LEN], char out[SHA256_HEX_LEN + 1]);
/* sha256_from_hex reads exactly 64 hex digits (either case); ERR_INVAL
 * for anything else. */
int sha256_from_hex(const char *hex, uint8_t out[SHA256_DIGEST_LEN]);

/* sha256_accelerated: 1 when the SHA-NI path is in use. sha256_use_portable
 * (tests, benchmarks) forces the portable path on or off again; call it
 * while no other thread hashes. */
int sha256_accelerated(void);
void sha256_use_portable(int on);

#endif
