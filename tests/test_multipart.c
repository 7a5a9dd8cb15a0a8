/*
 * test_multipart.c - multipart/form-data parsing.
 *
 *   - bodies captured from real clients (Node's FormData via undici, and
 *     curl -F) give back exactly the fields and bytes they were built from;
 *   - binary data holding CRLF, dashes and a prefix of the delimiter stays
 *     in one part; an empty part; a preamble and an epilogue; padding after
 *     a boundary; header names in any case; quoted parameters;
 *   - Content-Type boundaries: quoted, unquoted, among other parameters,
 *     and refusals (another type, no boundary, too long, bad characters);
 *   - malformed bodies are refused: no opening delimiter, a part not
 *     closed (a truncated upload) at every cut, headers that never end, a
 *     part without a form-data name, too many parts.
 */
#include "server/multipart.h"

#include "base/err.h"
#include "base/util.h"
#include "harness.h"

/* A body from Node 20's FormData (undici), captured with
 * `new Response(form).arrayBuffer()`: a Blob field "snapshot" of bytes
 * 00 01 02 0D 0A 2D 2D FF named `my "x".snapshot`, and a text field. */
static const char undici_ct[] = "multipart/form-data; boundary=----formdata-undici-004490517782";
static const char undici_body[] =
    "------formdata-undici-004490517782\r\n"
    "Content-Disposition: form-data; name=\"snapshot\"; filename=\"my %22x%22.snapshot\"\r\n"
    "Content-Type: application/octet-stream\r\n"
    "\r\n"
    "\x00\x01\x02\r\n--\xff\r\n"
    "------formdata-undici-004490517782\r\n"
    "Content-Disposition: form-data; name=\"other\"\r\n"
    "\r\n"
    "v\r\n"
    "------formdata-undici-004490517782--\r\n";

/* curl 7.88 -F snapshot=@cf.bin -F note=hi, cf.bin holding "AB\r\n--x". */
static const char curl_ct[] =
    "multipart/form-data; boundary=------------------------e1837c4a39d46f57";
static const char curl_body[] =
    "--------------------------e1837c4a39d46f57\r\n"
    "Content-Disposition: form-data; name=\"snapshot\"; filename=\"cf.bin\"\r\n"
    "Content-Type: application/octet-stream\r\n"
    "\r\n"
    "AB\r\n--x\r\n"
    "--------------------------e1837c4a39d46f57\r\n"
    "Content-Disposition: form-data; name=\"note\"\r\n"
    "\r\n"
    "hi\r\n"
    "--------------------------e1837c4a39d46f57--\r\n";

static int parse(Arena *a, const char *ct, const void *body, size_t len, MultipartPart **parts,
                 size_t *n, char *err, size_t errlen)
{
    char boundary[MULTIPART_MAX_BOUNDARY + 1];
    int e = multipart_boundary(ct, boundary, sizeof boundary);
    if (e) return e;
    return multipart_parse(a, body, len, boundary, parts, n, err, errlen);
}

TEST(test_undici_body)
{
    Arena a;
    arena_init(&a, 0);
    MultipartPart *p;
    size_t n;
    char err[256];
    ASSERT_OK(parse(&a, undici_ct, undici_body, sizeof undici_body - 1, &p, &n, err, sizeof err));
    ASSERT_EQ_INT(n, 2);
    ASSERT_STR_EQ(p[0].name, "snapshot");
    ASSERT_STR_EQ(p[0].filename, "my %22x%22.snapshot");
    ASSERT_STR_EQ(p[0].content_type, "application/octet-stream");
    static const uint8_t want[] = { 0, 1, 2, 13, 10, 45, 45, 255 };
    ASSERT_EQ_INT(p[0].len, sizeof want);
    ASSERT_TRUE(memcmp(p[0].data, want, sizeof want) == 0);
    ASSERT_STR_EQ(p[1].name, "other");
    ASSERT_TRUE(p[1].filename == NULL);
    ASSERT_EQ_INT(p[1].len, 1);
    ASSERT_TRUE(p[1].data[0] == 'v');
    ASSERT_TRUE(multipart_find(p, n, "other") == &p[1]);
    ASSERT_TRUE(multipart_find(p, n, "missing") == NULL);
    arena_free(&a);
}

TEST(test_curl_body)
{
    Arena a;
    arena_init(&a, 0);
    MultipartPart *p;
    size_t n;
    char err[256];
    ASSERT_OK(parse(&a, curl_ct, curl_body, sizeof curl_body - 1, &p, &n, err, sizeof err));
    ASSERT_EQ_INT(n, 2);
    ASSERT_STR_EQ(p[0].filename, "cf.bin");
    ASSERT_EQ_INT(p[0].len, 7);
    ASSERT_TRUE(memcmp(p[0].data, "AB\r\n--x", 7) == 0);
    ASSERT_STR_EQ(p[1].name, "note");
    ASSERT_EQ_INT(p[1].len, 2);
    arena_free(&a);
}

TEST(test_edges)
{
    Arena a;
    arena_init(&a, 0);
    MultipartPart *p;
    size_t n;
    char err[256];
    /* Preamble, padding after a boundary, lower-case headers, a quoted
     * filename with an escaped quote, data holding the delimiter without
     * its CRLF and a CRLF plus a prefix of it, an empty part, epilogue. */
    static const char body[] =
        "this is a preamble\r\n"
        "--b0und  \t\r\n"
        "content-disposition: FORM-DATA; filename=\"a\\\"b.snap\" ; name=snapshot\r\n"
        "\r\n"
        "--b0und in the middle\r\n--b0un\r\n-- end\r\n"
        "--b0und\r\n"
        "Content-Disposition: form-data; name=\"empty\"\r\n"
        "\r\n"
        "\r\n"
        "--b0und--\r\n"
        "epilogue --b0und\r\n";
    ASSERT_OK(parse(&a, "Multipart/Form-Data; charset=utf-8; boundary=\"b0und\"", body,
                    sizeof body - 1, &p, &n, err, sizeof err));
    ASSERT_EQ_INT(n, 2);
    ASSERT_STR_EQ(p[0].name, "snapshot");
    ASSERT_STR_EQ(p[0].filename, "a\"b.snap");
    const char *want = "--b0und in the middle\r\n--b0un\r\n-- end";
    ASSERT_EQ_INT(p[0].len, strlen(want));
    ASSERT_TRUE(memcmp(p[0].data, want, strlen(want)) == 0);
    ASSERT_STR_EQ(p[1].name, "empty");
    ASSERT_EQ_INT(p[1].len, 0);
    /* No parts at all. */
    ASSERT_OK(parse(&a, "multipart/form-data; boundary=z", "--z--\r\n", 7, &p, &n, err,
                    sizeof err));
    ASSERT_EQ_INT(n, 0);
    arena_free(&a);
}

TEST(test_boundary_header)
{
    char b[MULTIPART_MAX_BOUNDARY + 1];
    ASSERT_OK(multipart_boundary("multipart/form-data;boundary=abc", b, sizeof b));
    ASSERT_STR_EQ(b, "abc");
    ASSERT_OK(multipart_boundary("  multipart/form-data ; x=\"q;r\"; BOUNDARY=\"a b'c\"", b,
                                 sizeof b));
    ASSERT_STR_EQ(b, "a b'c");
    ASSERT_EQ_INT(multipart_boundary("application/json", b, sizeof b), ERR_INVAL);
    ASSERT_EQ_INT(multipart_boundary("multipart/mixed; boundary=x", b, sizeof b), ERR_INVAL);
    ASSERT_EQ_INT(multipart_boundary("multipart/form-data", b, sizeof b), ERR_INVAL);
    ASSERT_EQ_INT(multipart_boundary("multipart/form-data; boundary=", b, sizeof b), ERR_INVAL);
    ASSERT_EQ_INT(multipart_boundary("multipart/form-data; boundary=a@b", b, sizeof b), ERR_INVAL);
    ASSERT_EQ_INT(multipart_boundary("multipart/form-data; boundary=\"ab \"", b, sizeof b),
                  ERR_INVAL);
    ASSERT_EQ_INT(multipart_boundary(NULL, b, sizeof b), ERR_INVAL);
    char longb[100];
    memset(longb, 'x', sizeof longb);
    char ct[200];
    snprintf(ct, sizeof ct, "multipart/form-data; boundary=%.71s", longb);
    ASSERT_EQ_INT(multipart_boundary(ct, b, sizeof b), ERR_INVAL);
    snprintf(ct, sizeof ct, "multipart/form-data; boundary=%.70s", longb);
    ASSERT_OK(multipart_boundary(ct, b, sizeof b));
    ASSERT_EQ_INT(strlen(b), 70);
}

TEST(test_refusals)
{
    Arena a;
    arena_init(&a, 0);
    MultipartPart *p;
    size_t n;
    char err[256];
    const char *ct = undici_ct;
    /* Every cut of a real body short of its closing delimiter fails (the
     * closing "--" and its CRLF are the only bytes that may go). */
    size_t full = sizeof undici_body - 1;
    for (size_t cut = 0; cut + 2 < full; cut++) {
        err[0] = '\0';
        int e = parse(&a, ct, undici_body, cut, &p, &n, err, sizeof err);
        if (e != ERR_FORMAT) HARNESS_FAIL("cut at %zu of %zu: %d, expected ERR_FORMAT", cut, full, e);
        if (!err[0]) HARNESS_FAIL("cut at %zu: no message", cut);
    }
    ASSERT_EQ_INT(parse(&a, "multipart/form-data; boundary=q", "no delimiter here", 17, &p, &n,
                        err, sizeof err),
                  ERR_FORMAT);
    /* Headers that never end. */
    Buf big;
    buf_init(&big);
    buf_append_str(&big, "--q\r\nContent-Disposition: form-data; name=\"x\"\r\nX-Pad: ");
    for (int i = 0; i < MULTIPART_MAX_HEADER_BYTES; i++) buf_append(&big, "a", 1);
    buf_append_str(&big, "\r\n\r\ndata\r\n--q--\r\n");
    ASSERT_EQ_INT(parse(&a, "multipart/form-data; boundary=q", big.data, big.len, &p, &n, err,
                        sizeof err),
                  ERR_FORMAT);
    /* Not form-data, or no name. */
    static const char attach[] = "--q\r\nContent-Disposition: attachment; name=\"x\"\r\n\r\nd\r\n--q--";
    ASSERT_EQ_INT(parse(&a, "multipart/form-data; boundary=q", attach, sizeof attach - 1, &p, &n,
                        err, sizeof err),
                  ERR_FORMAT);
    static const char noname[] = "--q\r\nContent-Disposition: form-data\r\n\r\nd\r\n--q--";
    ASSERT_EQ_INT(parse(&a, "multipart/form-data; boundary=q", noname, sizeof noname - 1, &p, &n,
                        err, sizeof err),
                  ERR_FORMAT);
    static const char bare[] = "--q\r\n\r\nd\r\n--q--";
    ASSERT_EQ_INT(parse(&a, "multipart/form-data; boundary=q", bare, sizeof bare - 1, &p, &n, err,
                        sizeof err),
                  ERR_FORMAT);
    static const char nocrlf[] = "--qX\r\nContent-Disposition: form-data; name=a\r\n\r\nd\r\n--q--";
    ASSERT_EQ_INT(parse(&a, "multipart/form-data; boundary=q", nocrlf, sizeof nocrlf - 1, &p, &n,
                        err, sizeof err),
                  ERR_FORMAT);
    /* Too many parts. */
    buf_free(&big);
    buf_init(&big);
    for (int i = 0; i <= MULTIPART_MAX_PARTS; i++)
        buf_append_str(&big, "--q\r\nContent-Disposition: form-data; name=f\r\n\r\nx\r\n");
    buf_append_str(&big, "--q--\r\n");
    ASSERT_EQ_INT(parse(&a, "multipart/form-data; boundary=q", big.data, big.len, &p, &n, err,
                        sizeof err),
                  ERR_TOOLARGE);
    buf_free(&big);
    arena_free(&a);
}

int main(void)
{
    RUN(test_undici_body);
    RUN(test_curl_body);
    RUN(test_edges);
    RUN(test_boundary_header);
    RUN(test_refusals);
    return harness_report("test_multipart");
}
