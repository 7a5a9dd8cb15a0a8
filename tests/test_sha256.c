/*
 * test_sha256.c - SHA-256 (src/base/sha256.c) against the examples of
 * FIPS 180-2 appendix B / NIST's "SHA-256 example" documents (one block,
 * two blocks, one million 'a'), the empty message, and the 896-bit message
 * of the FIPS 180-4 test set, also fed in two pieces split at every
 * offset and byte by byte (the streaming path must give the same digest).
 */
#include "base/sha256.h"

#include <string.h>

#include "base/util.h"
#include "harness.h"

static void hex_of(const void *data, size_t len, char out[SHA256_HEX_LEN])
{
    uint8_t d[SHA256_DIGEST_LEN];
    sha256(data, len, d);
    sha256_hex(d, out);
}

static const char MSG_448[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
static const char MSG_896[] =
    "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
static const char HEX_896[] = "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1";

TEST(test_sha256_fips_vectors)
{
    char h[SHA256_HEX_LEN];
    hex_of("abc", 3, h);
    ASSERT_STR_EQ(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    hex_of("", 0, h);
    ASSERT_STR_EQ(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    hex_of(MSG_448, strlen(MSG_448), h);
    ASSERT_STR_EQ(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    hex_of(MSG_896, strlen(MSG_896), h);
    ASSERT_STR_EQ(h, HEX_896);
}

TEST(test_sha256_million_a)
{
    /* Fed in chunks of 1000 that do not divide the 64-byte block. */
    char chunk[1000];
    memset(chunk, 'a', sizeof chunk);
    Sha256 s;
    sha256_init(&s);
    for (int i = 0; i < 1000; i++) sha256_update(&s, chunk, sizeof chunk);
    uint8_t d[SHA256_DIGEST_LEN];
    sha256_final(&s, d);
    char h[SHA256_HEX_LEN];
    sha256_hex(d, h);
    ASSERT_STR_EQ(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(test_sha256_padding_edges)
{
    /* Lengths around the padding boundary (55, 56, 63, 64 bytes of 'a'):
     * the 1 bit and the length fit in one block or need a second. Digests
     * from coreutils' sha256sum. */
    static const struct {
        size_t n;
        const char *hex;
    } cases[] = {
        { 55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318" },
        { 56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a" },
        { 63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34" },
        { 64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb" },
    };
    char a[64];
    memset(a, 'a', sizeof a);
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        char h[SHA256_HEX_LEN];
        hex_of(a, cases[i].n, h);
        if (strcmp(h, cases[i].hex)) HARNESS_FAIL("%zu x 'a': %s, expected %s", cases[i].n, h, cases[i].hex);
    }
}

TEST(test_sha256_streaming_splits)
{
    size_t n = strlen(MSG_896);
    for (size_t cut = 0; cut <= n; cut++) {
        Sha256 s;
        sha256_init(&s);
        sha256_update(&s, MSG_896, cut);
        sha256_update(&s, MSG_896 + cut, n - cut);
        uint8_t d[SHA256_DIGEST_LEN];
        sha256_final(&s, d);
        char h[SHA256_HEX_LEN];
        sha256_hex(d, h);
        if (strcmp(h, HEX_896)) HARNESS_FAIL("split at %zu: %s", cut, h);
    }
    Sha256 s;
    sha256_init(&s);
    for (size_t i = 0; i < n; i++) sha256_update(&s, MSG_896 + i, 1);
    uint8_t d[SHA256_DIGEST_LEN];
    sha256_final(&s, d);
    char h[SHA256_HEX_LEN];
    sha256_hex(d, h);
    ASSERT_STR_EQ(h, HEX_896);
}

int main(void)
{
    RUN(test_sha256_fips_vectors);
    RUN(test_sha256_million_a);
    RUN(test_sha256_padding_edges);
    RUN(test_sha256_streaming_splits);
    return harness_report(__FILE__);
}
