/*
 * multipart.c - multipart/form-data bodies (see multipart.h).
 */
#include "server/multipart.h"

#include <string.h>
#include <strings.h>

#include "base/err.h"

/* RFC 2046 5.1.1: bchars, with space allowed but not last. */
static int boundary_char(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c && strchr("'()+_,-./:=? ", c));
}

static const char *skip_ws(const char *s)
{
    while (*s == ' ' || *s == '\t') s++;
    return s;
}

/*
 * param_value reads a parameter value at s (a quoted-string, with
 * backslash escapes, or a token ending at ';' or whitespace) into out
 * (cap bytes, NUL-terminated) and returns the position after it, or NULL
 * when it does not fit or a quote is not closed. end bounds s.
 */
static const char *param_value(const char *s, const char *end, char *out, size_t cap)
{
    size_t n = 0;
    if (s < end && *s == '"') {
        for (s++; s < end && *s != '"'; s++) {
            if (*s == '\\' && s + 1 < end) s++;
            if (n + 1 >= cap) return NULL;
            out[n++] = *s;
        }
        if (s >= end) return NULL;
        s++;
    } else {
        for (; s < end && *s != ';' && *s != ' ' && *s != '\t'; s++) {
            if (n + 1 >= cap) return NULL;
            out[n++] = *s;
        }
    }
    out[n] = '\0';
    return s;
}

int multipart_boundary(const char *ct, char *out, size_t cap)
{
    static const char type[] = "multipart/form-data";
    if (!ct) return ERR_INVAL;
    ct = skip_ws(ct);
    size_t tl = strcspn(ct, "; \t");
    if (tl != sizeof type - 1 || strncasecmp(ct, type, tl)) return ERR_INVAL;
    const char *end = ct + strlen(ct);
    const char *p = ct + tl;
    while (p < end) {
        p = skip_ws(p);
        if (*p == ';') p = skip_ws(p + 1);
        size_t kl = strcspn(p, "=;");
        if (p[kl] != '=') {
            p += kl;
            continue;
        }
        int is_boundary = kl == 8 && !strncasecmp(p, "boundary", 8);
        char value[MULTIPART_MAX_BOUNDARY + 2];
        const char *after = param_value(p + kl + 1, end, value, sizeof value);
        if (!is_boundary) {
            if (!after) return ERR_INVAL;
            p = after;
            continue;
        }
        size_t vl = after ? strlen(value) : 0;
        if (!vl || vl > MULTIPART_MAX_BOUNDARY || vl + 1 > cap || value[vl - 1] == ' ')
            return ERR_INVAL;
        for (size_t i = 0; i < vl; i++)
            if (!boundary_char(value[i])) return ERR_INVAL;
        memcpy(out, value, vl + 1);
        return 0;
    }
    return ERR_INVAL;
}

/* part_headers reads the header lines h[0..len) of one part. */
static int part_headers(Arena *a, const char *h, size_t len, MultipartPart *part, char *err,
                        size_t errlen)
{
    const char *end = h + len;
    int form_data = 0;
    while (h < end) {
        const char *eol = memchr(h, '\r', (size_t)(end - h));
        if (!eol) eol = end;
        const char *colon = memchr(h, ':', (size_t)(eol - h));
        if (colon) {
            size_t nl = (size_t)(colon - h);
            const char *v = colon + 1;
            while (v < eol && (*v == ' ' || *v == '\t')) v++;
            const char *ve = eol;
            while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) ve--;
            if (nl == 19 && !strncasecmp(h, "Content-Disposition", nl)) {
                size_t tl = 0;
                while (v + tl < ve && v[tl] != ';' && v[tl] != ' ' && v[tl] != '\t') tl++;
                form_data = tl == 9 && !strncasecmp(v, "form-data", 9);
                const char *p = v + tl;
                while (p < ve) {
                    while (p < ve && (*p == ';' || *p == ' ' || *p == '\t')) p++;
                    const char *k = p;
                    while (p < ve && *p != '=' && *p != ';') p++;
                    if (p >= ve || *p != '=') continue;
                    size_t kl = (size_t)(p - k);
                    while (kl && (k[kl - 1] == ' ' || k[kl - 1] == '\t')) kl--;
                    char *val = arena_alloc(a, (size_t)(ve - p) + 1);
                    const char *after = param_value(p + 1, ve, val, (size_t)(ve - p) + 1);
                    if (!after)
                        return err_set(err, errlen, ERR_FORMAT,
                                       "a part's Content-Disposition has an unclosed quote");
                    if (kl == 4 && !strncasecmp(k, "name", 4)) part->name = val;
                    else if (kl == 8 && !strncasecmp(k, "filename", 8)) part->filename = val;
                    p = after;
                }
            } else if (nl == 12 && !strncasecmp(h, "Content-Type", nl)) {
                part->content_type = arena_strndup(a, v, (size_t)(ve - v));
            }
        }
        h = eol + (eol + 1 < end && eol[1] == '\n' ? 2 : 1);
    }
    if (!form_data || !part->name)
        return err_set(err, errlen, ERR_FORMAT,
                       "a part has no Content-Disposition: form-data with a name");
    return 0;
}

int multipart_parse(Arena *a, const void *body, size_t len, const char *boundary,
                    MultipartPart **parts, size_t *n, char *err, size_t errlen)
{
    size_t bl = strlen(boundary);
    if (!bl || bl > MULTIPART_MAX_BOUNDARY)
        return err_set(err, errlen, ERR_FORMAT, "the multipart boundary is not valid");
    /* The delimiter with the CRLF that belongs to it: "\r\n--" boundary. */
    char delim[MULTIPART_MAX_BOUNDARY + 4];
    memcpy(delim, "\r\n--", 4);
    memcpy(delim + 4, boundary, bl);
    size_t dl = bl + 4;
    const uint8_t *b = body, *end = b + len, *p;
    /* The first delimiter opens the body or follows a preamble's CRLF. */
    if (len >= dl - 2 && !memcmp(b, delim + 2, dl - 2)) {
        p = b + dl - 2;
    } else {
        p = memmem(b, len, delim, dl);
        if (!p)
            return err_set(err, errlen, ERR_FORMAT,
                           "the body holds no multipart boundary line \"--%s\"", boundary);
        p += dl;
    }
    MultipartPart *out = arena_calloc(a, MULTIPART_MAX_PARTS * sizeof *out);
    size_t count = 0;
    for (;;) {
        /* p is just past a delimiter: "--" closes, else padding and CRLF. */
        if (end - p >= 2 && p[0] == '-' && p[1] == '-') break;
        while (p < end && (*p == ' ' || *p == '\t')) p++;
        if (end - p < 2 || p[0] != '\r' || p[1] != '\n')
            return err_set(err, errlen, ERR_FORMAT,
                           "a multipart boundary line does not end with CRLF");
        p += 2;
        if (count == MULTIPART_MAX_PARTS)
            return err_set(err, errlen, ERR_TOOLARGE, "more than %d multipart parts",
                           MULTIPART_MAX_PARTS);
        MultipartPart *part = &out[count];
        const uint8_t *data;
        if (end - p >= 2 && p[0] == '\r' && p[1] == '\n') {
            data = p + 2; /* no headers at all */
        } else {
            size_t window = (size_t)(end - p);
            if (window > MULTIPART_MAX_HEADER_BYTES + 4) window = MULTIPART_MAX_HEADER_BYTES + 4;
            const uint8_t *h = memmem(p, window, "\r\n\r\n", 4);
            if (!h)
                return err_set(err, errlen, ERR_FORMAT,
                               "a part's headers do not end within %d bytes",
                               MULTIPART_MAX_HEADER_BYTES);
            int e = part_headers(a, (const char *)p, (size_t)(h - p), part, err, errlen);
            if (e) return e;
            data = h + 4;
        }
        const uint8_t *q = memmem(data, (size_t)(end - data), delim, dl);
        if (!q)
            return err_set(err, errlen, ERR_FORMAT,
                           "a part is not closed by a boundary line (a truncated upload?)");
        if (!part->name) {
            /* A part without headers has no name either. */
            return err_set(err, errlen, ERR_FORMAT,
                           "a part has no Content-Disposition: form-data with a name");
        }
        part->data = data;
        part->len = (size_t)(q - data);
        count++;
        p = q + dl;
    }
    *parts = out;
    *n = count;
    return 0;
}

const MultipartPart *multipart_find(const MultipartPart *parts, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (parts[i].name && !strcmp(parts[i].name, name)) return &parts[i];
    return NULL;
}
