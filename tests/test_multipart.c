/*
 * test_multipart.c - multipart/form-data parsing (src/server/multipart.c)
 * against bodies written out by hand here from RFC 2046 5.1's grammar and
 * RFC 7578's examples: the expected parts are the bytes placed between
 * the delimiters, compared with memcmp, and each malformed body is one
 * rule of the grammar broken.
 */
#include "server/multipart.h"

#include <string.h>

#include "base/err.h"
#include "base/util.h"
#include "harness.h"

#define CRLF "\r\n"

static int parse(Arena *a, const char *body, size_t len, const char *b, MultipartPart **p,
                 size_t *n, char *err)
{
    return multipart_parse(body, len, b, a, p, n, err, 256);
}

TEST(test_multipart_boundary_header)
{
    Arena a;
    arena_init(&a, 0);
    const char *b = NULL;
    char err[256];
    ASSERT_EQ_INT(multipart_boundary("multipart/form-data; boundary=AaB03x", &a, &b, err, sizeof err), 1);
    ASSERT_STR_EQ(b, "AaB03x");
    /* Quoted, case-insensitive names, other parameters around it. */
    ASSERT_EQ_INT(multipart_boundary("Multipart/Form-Data ; charset=utf-8; BOUNDARY=\"a b:c\"; x=1",
                                     &a, &b, err, sizeof err), 1);
    ASSERT_STR_EQ(b, "a b:c");
    /* curl's and WebKit's forms. */
    ASSERT_EQ_INT(multipart_boundary("multipart/form-data; boundary=------------------------d74496d66958873e",
                                     &a, &b, err, sizeof err), 1);
    ASSERT_STR_EQ(b, "------------------------d74496d66958873e");
    ASSERT_EQ_INT(multipart_boundary("application/json", &a, &b, err, sizeof err), 0);
    ASSERT_EQ_INT(multipart_boundary(NULL, &a, &b, err, sizeof err), 0);
    ASSERT_EQ_INT(multipart_boundary("multipart/form-data", &a, &b, err, sizeof err), ERR_INVAL);
    ASSERT_TRUE(strstr(err, "boundary") != NULL);
    ASSERT_EQ_INT(multipart_boundary("multipart/form-data; boundary=\"abc", &a, &b, err, sizeof err),
                  ERR_INVAL);
    char longb[128] = "multipart/form-data; boundary=";
    memset(longb + strlen(longb), 'x', 71);
    ASSERT_EQ_INT(multipart_boundary(longb, &a, &b, err, sizeof err), ERR_INVAL);
    ASSERT_EQ_INT(multipart_boundary("multipart/form-data; boundary=a<b", &a, &b, err, sizeof err),
                  ERR_INVAL);
    arena_free(&a);
}

TEST(test_multipart_two_parts)
{
    /* A preamble, a JSON part, a binary part whose bytes contain CRLF,
     * "--", the boundary without its CRLF and a CR LF "-" prefix of the
     * delimiter, then the close delimiter and an epilogue. */
    static const char bin[] = "\x89PNG\r\n\x1a\n\0\r\n--AaB03\r\n-AaB03x--AaB03x\xff";
    size_t bin_len = sizeof bin - 1;
    Buf body;
    buf_init(&body);
    buf_append_str(&body, "This is the preamble." CRLF "--AaB03x" CRLF
                          "Content-Disposition: form-data; name=\"items\"" CRLF
                          "Content-Type: application/json" CRLF CRLF
                          "{\"items\": []}" CRLF "--AaB03x  \t" CRLF
                          "content-disposition: form-data; name=\"pic\\\"1\"; filename=\"a b.png\"" CRLF
                          "Content-Type: image/png" CRLF CRLF);
    buf_append(&body, bin, bin_len);
    buf_append_str(&body, CRLF "--AaB03x--" CRLF "epilogue --AaB03x");
    Arena a;
    arena_init(&a, 0);
    MultipartPart *p;
    size_t n;
    char err[256] = "";
    int rc = parse(&a, body.data, body.len, "AaB03x", &p, &n, err);
    if (rc) HARNESS_FAIL("parse: %d %s", rc, err);
    ASSERT_EQ_INT(n, 2);
    ASSERT_STR_EQ(p[0].name, "items");
    ASSERT_TRUE(p[0].filename == NULL);
    ASSERT_STR_EQ(p[0].content_type, "application/json");
    ASSERT_EQ_INT(p[0].len, 13);
    ASSERT_TRUE(!memcmp(p[0].data, "{\"items\": []}", 13));
    ASSERT_STR_EQ(p[1].name, "pic\"1");
    ASSERT_STR_EQ(p[1].filename, "a b.png");
    ASSERT_STR_EQ(p[1].content_type, "image/png");
    ASSERT_EQ_INT(p[1].len, bin_len);
    ASSERT_TRUE(!memcmp(p[1].data, bin, bin_len));
    ASSERT_TRUE(multipart_find(p, n, "pic\"1") == &p[1]);
    ASSERT_TRUE(multipart_find(p, n, "nope") == NULL);
    buf_free(&body);
    arena_free(&a);
}

TEST(test_multipart_empty_and_bare)
{
    /* The body opens with the delimiter (no preamble, no CRLF before it),
     * a part with empty content, a bare-token name; no epilogue. */
    static const char body[] = "--x" CRLF "Content-Disposition: form-data; name=a" CRLF CRLF CRLF
                               "--x" CRLF "Content-Disposition: form-data; name=b" CRLF CRLF "1" CRLF
                               "--x--";
    Arena a;
    arena_init(&a, 0);
    MultipartPart *p;
    size_t n;
    char err[256] = "";
    int rc = parse(&a, body, sizeof body - 1, "x", &p, &n, err);
    if (rc) HARNESS_FAIL("parse: %d %s", rc, err);
    ASSERT_EQ_INT(n, 2);
    ASSERT_STR_EQ(p[0].name, "a");
    ASSERT_EQ_INT(p[0].len, 0);
    ASSERT_STR_EQ(p[1].name, "b");
    ASSERT_EQ_INT(p[1].len, 1);
    ASSERT_EQ_INT(p[1].data[0], '1');
    /* Only the close delimiter: no parts, no error. */
    rc = parse(&a, "--x--", 5, "x", &p, &n, err);
    ASSERT_OK(rc);
    ASSERT_EQ_INT(n, 0);
    arena_free(&a);
}

TEST(test_multipart_malformed)
{
    static const struct {
        const char *body;
        int code;
        const char *says;
    } cases[] = {
        /* No delimiter at all. */
        { "just some bytes", ERR_INVAL, "opening boundary" },
        { "", ERR_INVAL, "opening boundary" },
        /* The last part has no close delimiter: a truncated upload. */
        { "--x" CRLF "Content-Disposition: form-data; name=a" CRLF CRLF "abc", ERR_INVAL, "truncated" },
        /* Cut inside the headers. */
        { "--x" CRLF "Content-Disposition: form-data; name=a" CRLF, ERR_INVAL, "empty line" },
        /* Cut right after a delimiter. */
        { "--x", ERR_INVAL, "CRLF" },
        /* Something other than "--" or CRLF after the boundary. */
        { "--xyz" CRLF CRLF "--x--", ERR_INVAL, "CRLF" },
        /* A part without a name, without any header, with a header line
         * that has no colon, with another disposition, with a folded line. */
        { "--x" CRLF "Content-Disposition: form-data" CRLF CRLF "1" CRLF "--x--", ERR_INVAL, "name" },
        { "--x" CRLF CRLF "1" CRLF "--x--", ERR_INVAL, "name" },
        { "--x" CRLF "garbage" CRLF CRLF "1" CRLF "--x--", ERR_INVAL, "':'" },
        { "--x" CRLF "Content-Disposition: attachment; name=a" CRLF CRLF "1" CRLF "--x--", ERR_INVAL,
          "form-data" },
        { "--x" CRLF "Content-Disposition: form-data;" CRLF " name=a" CRLF CRLF "1" CRLF "--x--", ERR_INVAL,
          "folded" },
        { "--x" CRLF "Content-Disposition: form-data; name=\"a" CRLF CRLF "1" CRLF "--x--", ERR_INVAL,
          "quoted" },
    };
    Arena a;
    arena_init(&a, 0);
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        MultipartPart *p;
        size_t n;
        char err[256] = "";
        int rc = parse(&a, cases[i].body, strlen(cases[i].body), "x", &p, &n, err);
        if (rc != cases[i].code || !strstr(err, cases[i].says))
            HARNESS_FAIL("case %zu: rc %d, message \"%s\" (want %d, \"%s\")", i, rc, err, cases[i].code,
                         cases[i].says);
    }
    arena_free(&a);
}

TEST(test_multipart_limits)
{
    /* One part more than allowed. */
    Buf body;
    buf_init(&body);
    for (int i = 0; i <= MULTIPART_MAX_PARTS; i++)
        buf_append_str(&body, "--x" CRLF "Content-Disposition: form-data; name=p" CRLF CRLF "v" CRLF);
    buf_append_str(&body, "--x--");
    Arena a;
    arena_init(&a, 0);
    MultipartPart *p;
    size_t n;
    char err[256] = "";
    ASSERT_EQ_INT(parse(&a, body.data, body.len, "x", &p, &n, err), ERR_TOOLARGE);
    /* Exactly the limit is fine. */
    size_t one = strlen("--x" CRLF "Content-Disposition: form-data; name=p" CRLF CRLF "v" CRLF);
    memcpy(body.data + body.len - 5 - one, "--x--", 5);
    ASSERT_OK(parse(&a, body.data, body.len - one, "x", &p, &n, err));
    ASSERT_EQ_INT(n, MULTIPART_MAX_PARTS);
    /* A header section longer than the limit. */
    buf_free(&body);
    buf_init(&body);
    buf_append_str(&body, "--x" CRLF "Content-Disposition: form-data; name=p" CRLF "X-Pad: ");
    for (int i = 0; i < MULTIPART_MAX_HEADER_BYTES; i++) buf_append(&body, "a", 1);
    buf_append_str(&body, CRLF CRLF "v" CRLF "--x--");
    ASSERT_EQ_INT(parse(&a, body.data, body.len, "x", &p, &n, err), ERR_TOOLARGE);
    buf_free(&body);
    arena_free(&a);
}

int main(void)
{
    RUN(test_multipart_boundary_header);
    RUN(test_multipart_two_parts);
    RUN(test_multipart_empty_and_bare);
    RUN(test_multipart_malformed);
    RUN(test_multipart_limits);
    return harness_report(__FILE__);
}
