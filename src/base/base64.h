/*
 * base64.h - base64 decoding for images carried in JSON (Qdrant's Image
 * inference objects, OpenAI-style inputs, data: URLs).
 *
 * One decoder takes both alphabets, standard (+/) and URL-safe (-_), with
 * padding optional and ASCII whitespace ignored anywhere, as clients send
 * either. It is strict about the rest: any other byte, a byte after
 * padding, more than two '=' or a length that leaves one lone sextet (which
 * cannot end a byte) is an error.
 */
#ifndef VITRINE_BASE64_H
#define VITRINE_BASE64_H

#include <stddef.h>
#include <stdint.h>

/* base64_decoded_max is the room base64_decode needs for len input bytes. */
#define base64_decoded_max(len) ((len) / 4 * 3 + 3)

/*
 * base64_decode decodes s[0..len) into out (base64_decoded_max(len) bytes)
 * and sets *n. 0, or ERR_INVAL with *bad the offset of the offending byte
 * (len when the length or padding is wrong).
 */
int base64_decode(const char *s, size_t len, uint8_t *out, size_t *n, size_t *bad);

#endif
