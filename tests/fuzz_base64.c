/*
 * fuzz_base64.c - fuzz target for the base64 decoder (src/base/base64.c),
 * which reads every image a JSON body carries.
 *
 * Two checks per input. (1) The input as base64 text: when it decodes, the
 * output is exactly floor(6 * sextets / 8) bytes, and encoding it again
 * with a reference encoder gives the input's sextets (whitespace and '='
 * dropped, the URL-safe alphabet mapped to the standard one), except for
 * the unused low bits of a last partial sextet. When it does not decode,
 * the reported offset is a byte the reference rules refuse, or len. (2) The
 * input as bytes: the reference encoding, with padding and with CRLFs
 * every 76 characters as MIME writes it, or URL-safe without padding
 * (chosen by the first byte), must decode back to exactly the input.
 * Any violation calls abort() so the fuzzer records the input.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base64.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok, const char *what)
{
    if (ok) return;
    fprintf(stderr, "fuzz_base64: %s\n", what);
    abort();
}

static const char std_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* ref_encode writes the base64 of in[0..n) to out; returns its length. */
static size_t ref_encode(const uint8_t *in, size_t n, char *out, const char *chars, int pad, int wrap)
{
    size_t o = 0, col = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n) v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n) v |= in[i + 2];
        int k = n - i >= 3 ? 4 : (int)(n - i) + 1;
        for (int j = 0; j < 4; j++) {
            if (j < k) out[o++] = chars[v >> (18 - 6 * j) & 63];
            else if (pad) out[o++] = '=';
            else continue;
            if (wrap && ++col == 76) {
                out[o++] = '\r';
                out[o++] = '\n';
                col = 0;
            }
        }
    }
    return o;
}

static int ref_value(unsigned char c)
{
    const char *p = c ? strchr(std_chars, c) : NULL;
    if (p) return (int)(p - std_chars);
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    uint8_t *out = malloc(base64_decoded_max(size));
    size_t n = 0, bad = 0;
    int rc = base64_decode(s, size, out, &n, &bad);
    /* The sextets as the reference reads them. */
    char *sext = malloc(size + 1);
    size_t ns = 0;
    int pad = 0, ok = 1;
    size_t first_bad = size;
    for (size_t i = 0; i < size; i++) {
        unsigned char c = data[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
        if (c == '=') {
            pad++;
            continue;
        }
        int v = ref_value(c);
        if (v < 0 || pad) {
            ok = 0;
            first_bad = i;
            break;
        }
        sext[ns++] = std_chars[v];
    }
    if (ok && (ns % 4 == 1 || pad > 2)) ok = 0;
    check(ok == (rc == 0), "accepts or refuses unlike the reference");
    if (rc == 0) {
        check(n == ns * 6 / 8, "decoded length is not 6 * sextets / 8");
        char *again = malloc(n / 3 * 4 + 8);
        size_t m = ref_encode(out, n, again, std_chars, 0, 0);
        check(m == ns, "re-encoding gives a different number of sextets");
        /* A last partial sextet carries low bits the decoder drops. */
        size_t exact = ns % 4 ? ns - 1 : ns;
        check(memcmp(again, sext, exact) == 0, "re-encoding gives different sextets");
        free(again);
    } else {
        check(bad == first_bad, "the offending offset differs from the reference");
    }
    free(sext);
    free(out);

    /* The input as bytes, encoded and decoded back. */
    int mode = size ? data[0] % 3 : 0;
    char *enc = malloc(size / 3 * 4 + 8 + (size / 57 + 1) * 2);
    size_t elen = ref_encode(data, size, enc, mode == 2 ? url_chars : std_chars, mode != 2, mode == 1);
    uint8_t *back = malloc(base64_decoded_max(elen));
    check(base64_decode(enc, elen, back, &n, &bad) == 0, "a reference encoding does not decode");
    check(n == size && (size == 0 || memcmp(back, data, size) == 0), "round trip differs");
    free(back);
    free(enc);
    return 0;
}

#define FUZZ_NAME "base64"
#include "fuzz_replay.h"
