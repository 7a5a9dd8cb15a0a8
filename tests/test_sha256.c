/*
 * test_sha256.c - SHA-256 against the FIPS 180-2 / NIST test vectors
 * (Appendix B of FIPS 180-2 and the NIST "SHA Example" document), on the
 * portable path and, where the CPU has them, on the SHA extensions:
 *   - "abc", the empty message, the 448-bit and 896-bit messages, one
 *     million 'a' (fed in uneven pieces, so every buffering path runs);
 *   - the accelerated path equals the portable one on every length from
 *     0 to 300 bytes, with the message split at every point;
 *   - hex encoding and decoding.
 */
#include "base/sha256.h"

#include "base/err.h"
#include "base/util.h"
#include "harness.h"

static const char *hex_of(const void *data, size_t len)
{
    static char out[SHA256_HEX_LEN + 1];
    uint8_t d[SHA256_DIGEST_LEN];
    sha256(data, len, d);
    sha256_hex(d, out);
    return out;
}

static void vectors(void)
{
    ASSERT_STR_EQ(hex_of("abc", 3),
                  "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    ASSERT_STR_EQ(hex_of("", 0),
                  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    ASSERT_STR_EQ(hex_of(m448, strlen(m448)),
                  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    const char *m896 = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
                       "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
    ASSERT_STR_EQ(hex_of(m896, strlen(m896)),
                  "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
    /* One million 'a', in pieces of 1, 7, 63, 64, 65 and 1000 bytes. */
    static char a[1000];
    memset(a, 'a', sizeof a);
    static const size_t pieces[] = { 1, 7, 63, 64, 65, 1000 };
    Sha256 s;
    sha256_init(&s);
    size_t left = 1000000, i = 0;
    while (left) {
        size_t piece = pieces[i++ % ARRAY_LEN(pieces)];
        size_t n = MIN(piece, left);
        sha256_update(&s, a, n);
        left -= n;
    }
    uint8_t d[SHA256_DIGEST_LEN];
    char hex[SHA256_HEX_LEN + 1];
    sha256_final(&s, d);
    sha256_hex(d, hex);
    ASSERT_STR_EQ(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(test_vectors_portable)
{
    sha256_use_portable(1);
    ASSERT_EQ_INT(sha256_accelerated(), 0);
    vectors();
    sha256_use_portable(0);
}

TEST(test_vectors_default)
{
    /* Whatever this CPU selects (SHA-NI when present). */
    sha256_use_portable(0);
    printf("  sha256: %s path\n", sha256_accelerated() ? "SHA-NI" : "portable");
    vectors();
}

TEST(test_paths_agree_on_every_split)
{
    uint8_t msg[300];
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    for (size_t i = 0; i < sizeof msg; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        msg[i] = (uint8_t)x;
    }
    for (size_t len = 0; len <= sizeof msg; len++) {
        uint8_t want[SHA256_DIGEST_LEN], got[SHA256_DIGEST_LEN];
        sha256_use_portable(1);
        sha256(msg, len, want);
        sha256_use_portable(0);
        for (size_t cut = 0; cut <= len; cut += len < 140 ? 1 : 13) {
            Sha256 s;
            sha256_init(&s);
            sha256_update(&s, msg, cut);
            sha256_update(&s, msg + cut, len - cut);
            sha256_final(&s, got);
            if (memcmp(want, got, sizeof want))
                HARNESS_FAIL("length %zu split at %zu: digests differ", len, cut);
        }
    }
}

TEST(test_copy_of_a_context_finishes_a_prefix)
{
    /* Snapshots hash a common prefix once and finish it two ways. */
    Sha256 s, copy;
    uint8_t a[SHA256_DIGEST_LEN], b[SHA256_DIGEST_LEN];
    sha256_init(&s);
    sha256_update(&s, "ab", 2);
    copy = s;
    sha256_final(&copy, a);
    sha256_update(&s, "c", 1);
    sha256_final(&s, b);
    char ha[SHA256_HEX_LEN + 1], hb[SHA256_HEX_LEN + 1];
    sha256_hex(a, ha);
    sha256_hex(b, hb);
    ASSERT_STR_EQ(ha, "fb8e20fc2e4c3f248c60c39bd652f3c1347298bb977b8b4d5903b85055620603");
    ASSERT_STR_EQ(hb, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(test_hex)
{
    uint8_t d[SHA256_DIGEST_LEN];
    const char *upper = "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD";
    ASSERT_OK(sha256_from_hex(upper, d));
    char back[SHA256_HEX_LEN + 1];
    sha256_hex(d, back);
    ASSERT_STR_EQ(back, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    ASSERT_EQ_INT(sha256_from_hex("abc", d), ERR_INVAL);
    ASSERT_EQ_INT(sha256_from_hex(NULL, d), ERR_INVAL);
    char bad[SHA256_HEX_LEN + 1];
    memcpy(bad, upper, sizeof bad);
    bad[10] = 'g';
    ASSERT_EQ_INT(sha256_from_hex(bad, d), ERR_INVAL);
}

int main(void)
{
    RUN(test_vectors_portable);
    RUN(test_vectors_default);
    RUN(test_paths_agree_on_every_split);
    RUN(test_copy_of_a_context_finishes_a_prefix);
    RUN(test_hex);
    return harness_report("test_sha256");
}
