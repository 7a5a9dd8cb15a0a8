/*
 * base64.c - the decoder declared in base64.h (moved here from the
 * embedder so it has one home and a fuzz target, tests/fuzz_base64.c).
 */
#include "base/base64.h"

#include "base/err.h"

static int b64_value(unsigned char ch)
{
    if (ch >= 'A' && ch <= 'Z') return ch - 'A';
    if (ch >= 'a' && ch <= 'z') return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9') return ch - '0' + 52;
    if (ch == '+' || ch == '-') return 62;
    if (ch == '/' || ch == '_') return 63;
    return -1;
}

int base64_decode(const char *s, size_t len, uint8_t *out, size_t *n, size_t *bad)
{
    uint32_t acc = 0;
    int bits = 0, pad = 0;
    size_t o = 0, sextets = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n') continue;
        if (ch == '=') {
            pad++;
            continue;
        }
        int v = b64_value(ch);
        if (v < 0 || pad) {
            *bad = i;
            return ERR_INVAL;
        }
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        sextets++;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    /* One sextet alone cannot end a byte; padding never exceeds two. */
    if (sextets % 4 == 1 || pad > 2) {
        *bad = len;
        return ERR_INVAL;
    }
    *n = o;
    return 0;
}
