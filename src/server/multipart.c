/*
 * multipart.c - multipart/form-data parsing (RFC 7578, RFC 2046 5.1).
 * Design notes in multipart.h.
 *
 * The grammar, as far as it matters here:
 *   body       := preamble? dash-boundary padding CRLF part
 *                 (CRLF dash-boundary padding CRLF part)*
 *                 CRLF dash-boundary "--" epilogue?
 *   dash-boundary := "--" boundary
 *   part       := header-lines CRLF content
 * so a part's content ends where CRLF "--" boundary begins, and the
 * boundary may not occur in any content (the sender chose it so).
 */
#include "server/multipart.h"

#include <string.h>
#include <strings.h>

#include "base/err.h"

/* ---- header values: type; param=value; param="quoted value" ---- */

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t')) p++;
    return p;
}

/*
 * param_get finds parameter key in the ';'-separated list s[0..len) and
 * copies its value (quotes removed, quoted-pairs unescaped) into arena.
 * Returns 1 found, 0 absent, ERR_INVAL for an unterminated quoted string.
 * The first item of the list (the type itself) is skipped.
 */
static int param_get(const char *s, size_t len, const char *key, Arena *arena, const char **out)
{
    const char *p = s, *end = s + len;
    size_t klen = strlen(key);
    /* Skip the type: up to the first ';' outside quotes (a type has none). */
    p = memchr(p, ';', len);
    if (!p) return 0;
    while (p < end) {
        p = skip_ws(p + 1, end); /* past ';' */
        const char *name = p;
        while (p < end && *p != '=' && *p != ';') p++;
        const char *name_end = p;
        while (name_end > name && (name_end[-1] == ' ' || name_end[-1] == '\t')) name_end--;
        if (p == end || *p == ';') continue; /* a parameter without a value */
        p = skip_ws(p + 1, end);             /* past '=' */
        char *val;
        size_t vlen = 0;
        if (p < end && *p == '"') {
            p++;
            val = arena_alloc(arena, (size_t)(end - p) + 1);
            while (p < end && *p != '"') {
                if (*p == '\\' && p + 1 < end) p++;
                val[vlen++] = *p++;
            }
            if (p == end) return ERR_INVAL;
            p++; /* closing quote */
            val[vlen] = '\0';
            while (p < end && *p != ';') p++;
        } else {
            const char *v = p;
            while (p < end && *p != ';') p++;
            const char *v_end = p;
            while (v_end > v && (v_end[-1] == ' ' || v_end[-1] == '\t')) v_end--;
            val = arena_strndup(arena, v, (size_t)(v_end - v));
        }
        if ((size_t)(name_end - name) == klen && !strncasecmp(name, key, klen)) {
            *out = val;
            return 1;
        }
    }
    return 0;
}

/* type_is: the media type before the first ';' equals type (case-insensitive). */
static int type_is(const char *s, size_t len, const char *type)
{
    const char *end = s + len;
    const char *p = skip_ws(s, end);
    const char *semi = memchr(p, ';', (size_t)(end - p));
    const char *t_end = semi ? semi : end;
    while (t_end > p && (t_end[-1] == ' ' || t_end[-1] == '\t')) t_end--;
    size_t n = strlen(type);
    return (size_t)(t_end - p) == n && !strncasecmp(p, type, n);
}

/* RFC 2046's bchars: digits, letters and '()+_,-./:=? and space (not last). */
static int boundary_valid(const char *b)
{
    size_t n = strlen(b);
    if (n < 1 || n > MULTIPART_MAX_BOUNDARY || b[n - 1] == ' ') return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)b[i];
        if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) continue;
        if (!strchr("'()+_,-./:=? ", c)) return 0;
    }
    return 1;
}

int multipart_boundary(const char *content_type, Arena *arena, const char **boundary, char *err,
                       size_t errlen)
{
    if (!content_type) return 0;
    size_t len = strlen(content_type);
    if (!type_is(content_type, len, "multipart/form-data")) return 0;
    const char *b = NULL;
    int rc = param_get(content_type, len, "boundary", arena, &b);
    if (rc < 0) return err_set(err, errlen, ERR_INVAL, "multipart/form-data: unterminated quoted boundary");
    if (rc == 0) return err_set(err, errlen, ERR_INVAL, "multipart/form-data without a boundary parameter");
    if (!boundary_valid(b))
        return err_set(err, errlen, ERR_INVAL,
                       "multipart/form-data: the boundary must be 1 to %d characters of RFC 2046's set",
                       MULTIPART_MAX_BOUNDARY);
    *boundary = b;
    return 1;
}

/* ---- the body ---- */

/*
 * parse_headers reads the header lines h[0..len) of part k (each ending
 * in CRLF, the empty line excluded) into p.
 */
static int parse_headers(const char *h, size_t len, size_t k, Arena *arena, MultipartPart *p,
                         char *err, size_t errlen)
{
    const char *s = h, *end = h + len;
    int disposition = 0;
    while (s < end) {
        const char *eol = memmem(s, (size_t)(end - s), "\r\n", 2);
        if (!eol) eol = end;
        if (*s == ' ' || *s == '\t')
            return err_set(err, errlen, ERR_INVAL, "multipart part %zu: folded header lines are not allowed", k);
        const char *colon = memchr(s, ':', (size_t)(eol - s));
        if (!colon || colon == s)
            return err_set(err, errlen, ERR_INVAL, "multipart part %zu: a header line without a name and ':'", k);
        size_t nlen = (size_t)(colon - s);
        const char *v = skip_ws(colon + 1, eol);
        const char *v_end = eol;
        while (v_end > v && (v_end[-1] == ' ' || v_end[-1] == '\t')) v_end--;
        size_t vlen = (size_t)(v_end - v);
        if (nlen == 19 && !strncasecmp(s, "Content-Disposition", 19)) {
            if (!type_is(v, vlen, "form-data"))
                return err_set(err, errlen, ERR_INVAL,
                               "multipart part %zu: Content-Disposition must be form-data", k);
            const char *name = NULL, *filename = NULL;
            if (param_get(v, vlen, "name", arena, &name) < 0 ||
                param_get(v, vlen, "filename", arena, &filename) < 0)
                return err_set(err, errlen, ERR_INVAL,
                               "multipart part %zu: unterminated quoted string in Content-Disposition", k);
            p->name = name;
            p->filename = filename;
            disposition = 1;
        } else if (nlen == 12 && !strncasecmp(s, "Content-Type", 12)) {
            p->content_type = arena_strndup(arena, v, vlen);
        }
        s = eol + 2;
    }
    if (!disposition || !p->name)
        return err_set(err, errlen, ERR_INVAL,
                       "multipart part %zu: no Content-Disposition: form-data with a name", k);
    return 0;
}

int multipart_parse(const char *body, size_t len, const char *boundary, Arena *arena,
                    MultipartPart **parts, size_t *n, char *err, size_t errlen)
{
    *parts = NULL;
    *n = 0;
    size_t blen = strlen(boundary);
    if (blen < 1 || blen > MULTIPART_MAX_BOUNDARY)
        return err_set(err, errlen, ERR_INVAL, "multipart boundary of %zu characters", blen);
    /* delim = CRLF "--" boundary; the first one may lack its CRLF when it
     * opens the body. */
    char delim[MULTIPART_MAX_BOUNDARY + 4];
    memcpy(delim, "\r\n--", 4);
    memcpy(delim + 4, boundary, blen);
    size_t dlen = blen + 4;
    const char *end = body + len;
    const char *p;
    if (len >= dlen - 2 && !memcmp(body, delim + 2, dlen - 2)) {
        p = body + dlen - 2;
    } else {
        const char *d = len ? memmem(body, len, delim, dlen) : NULL;
        if (!d) return err_set(err, errlen, ERR_INVAL, "multipart body without its opening boundary");
        p = d + dlen;
    }
    size_t cap = 16, count = 0;
    MultipartPart *out = arena_calloc(arena, cap * sizeof *out);
    for (;;) {
        /* p is just past a delimiter: "--" closes, else padding and CRLF. */
        if (end - p >= 2 && p[0] == '-' && p[1] == '-') break;
        p = skip_ws(p, end);
        if (end - p < 2 || p[0] != '\r' || p[1] != '\n')
            return err_set(err, errlen, ERR_INVAL,
                           "multipart part %zu: the boundary line does not end with CRLF (truncated body?)",
                           count);
        p += 2;
        if (count == MULTIPART_MAX_PARTS)
            return err_set(err, errlen, ERR_TOOLARGE, "more than %d multipart parts",
                           MULTIPART_MAX_PARTS);
        if (count == cap) {
            MultipartPart *grown = arena_calloc(arena, 2 * cap * sizeof *grown);
            memcpy(grown, out, cap * sizeof *out);
            out = grown;
            cap *= 2;
        }
        MultipartPart *part = &out[count];
        /* Headers end at the first empty line; none at all is an empty line. */
        const char *h_end;
        if (end - p >= 2 && p[0] == '\r' && p[1] == '\n') {
            h_end = p;
        } else {
            size_t scan = (size_t)(end - p);
            if (scan > MULTIPART_MAX_HEADER_BYTES + 4) scan = MULTIPART_MAX_HEADER_BYTES + 4;
            const char *e = memmem(p, scan, "\r\n\r\n", 4);
            if (!e) {
                if (scan == (size_t)(end - p))
                    return err_set(err, errlen, ERR_INVAL,
                                   "multipart part %zu: headers not ended by an empty line (truncated body?)",
                                   count);
                return err_set(err, errlen, ERR_TOOLARGE, "multipart part %zu: headers over %d bytes",
                               count, MULTIPART_MAX_HEADER_BYTES);
            }
            h_end = e + 2; /* keep the last header's CRLF with the headers */
        }
        int rc = parse_headers(p, (size_t)(h_end - p) >= 2 ? (size_t)(h_end - p) - 2 : 0, count,
                               arena, part, err, errlen);
        if (rc) return rc;
        const char *data = h_end + 2;
        const char *d = memmem(data, (size_t)(end - data), delim, dlen);
        if (!d)
            return err_set(err, errlen, ERR_INVAL,
                           "multipart part %zu (\"%s\"): no closing boundary after it (truncated body?)",
                           count, part->name);
        part->data = data;
        part->len = (size_t)(d - data);
        count++;
        p = d + dlen;
    }
    *parts = out;
    *n = count;
    return 0;
}

const MultipartPart *multipart_find(const MultipartPart *parts, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(parts[i].name, name)) return &parts[i];
    return NULL;
}
