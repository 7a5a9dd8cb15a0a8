/*
 * test_util.c - the core helpers: Buf, slices, strict number parsing,
 * whole-file reads (src/base/util.c), the arena (src/base/arena.c) and
 * the photo buffers (src/base/bigmem.c).
 *
 * References: the C library (snprintf for formatted text, memcmp against
 * patterns written independently), files written with stdio here.
 */
#include "base/util.h"

#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <unistd.h>

#include "base/arena.h"
#include "base/bigmem.h"
#include "base/err.h"
#include "harness.h"

TEST(test_buf_append)
{
    Buf b;
    buf_init(&b);
    ASSERT_EQ_INT(b.len, 0);
    buf_append(&b, "ab", 2);
    buf_append_str(&b, "cd");
    buf_append(&b, NULL, 0);
    ASSERT_EQ_INT(b.len, 4);
    ASSERT_STR_EQ(b.data, "abcd");
    /* Grow through several doublings; content and terminator survive. */
    char expect[5000];
    for (int i = 0; i < 4996; i++) {
        char c = (char)('a' + i % 26);
        buf_append(&b, &c, 1);
    }
    memcpy(expect, "abcd", 4);
    for (int i = 0; i < 4996; i++) expect[4 + i] = (char)('a' + i % 26);
    ASSERT_EQ_INT(b.len, 5000);
    ASSERT_TRUE(memcmp(b.data, expect, 5000) == 0);
    ASSERT_EQ_INT(b.data[5000], 0);
    ASSERT_TRUE(b.cap > b.len);
    size_t len = 0;
    char *p = buf_detach(&b, &len);
    ASSERT_EQ_INT(len, 5000);
    ASSERT_TRUE(b.data == NULL && b.len == 0);
    ASSERT_TRUE(memcmp(p, expect, 5000) == 0);
    free(p);
    /* Detaching an empty buffer gives an empty string, not NULL. */
    p = buf_detach(&b, &len);
    ASSERT_TRUE(p != NULL);
    ASSERT_EQ_INT(len, 0);
    ASSERT_STR_EQ(p, "");
    free(p);
    buf_free(&b);
}

TEST(test_buf_printf)
{
    Buf b;
    buf_init(&b);
    buf_printf(&b, "%d-%s", 42, "x");
    ASSERT_STR_EQ(b.data, "42-x");
    /* Longer than the 256-byte stack path: the second vsnprintf path. */
    char big[1000], want[1100];
    memset(big, 'q', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    buf_printf(&b, "[%s]%05d", big, 7);
    snprintf(want, sizeof want, "42-x[%s]00007", big);
    ASSERT_EQ_INT(b.len, strlen(want));
    ASSERT_STR_EQ(b.data, want);
    buf_printf(&b, "%s", "");
    ASSERT_EQ_INT(b.len, strlen(want));
    buf_free(&b);
}

TEST(test_slices_and_strings)
{
    Slice s = slice_from_cstr("hello");
    ASSERT_EQ_INT(s.len, 5);
    ASSERT_TRUE(slice_eq_cstr(s, "hello"));
    ASSERT_TRUE(!slice_eq_cstr(s, "hell"));
    ASSERT_TRUE(!slice_eq_cstr(s, "hello!"));
    Slice lit = SLICE_LIT("ab");
    ASSERT_EQ_INT(lit.len, 2);
    char *d = xstrndup("abcdef", 3);
    ASSERT_STR_EQ(d, "abc");
    free(d);
    d = xstrdup("");
    ASSERT_STR_EQ(d, "");
    free(d);
}

TEST(test_parse_u64)
{
    uint64_t u = 7;
    ASSERT_OK(parse_u64("0", &u));
    ASSERT_EQ_U64(u, 0);
    ASSERT_OK(parse_u64("18446744073709551615", &u));
    ASSERT_EQ_U64(u, UINT64_MAX);
    ASSERT_OK(parse_u64("007", &u));
    ASSERT_EQ_U64(u, 7);
    static const char *bad[] = { "", "18446744073709551616", "-1", "+1", " 1", " -1", "1 ",
                                 "12a", "0x10", "1e3", "-0" };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        u = 12345;
        if (parse_u64(bad[i], &u) != ERR_INVAL) HARNESS_FAIL("parse_u64(\"%s\") accepted", bad[i]);
        if (u != 12345) HARNESS_FAIL("parse_u64(\"%s\") wrote its output", bad[i]);
    }
    ASSERT_EQ_INT(parse_u64(NULL, &u), ERR_INVAL);
}

TEST(test_parse_int)
{
    long v;
    ASSERT_OK(parse_int("-5", -10, 10, &v));
    ASSERT_EQ_INT(v, -5);
    ASSERT_OK(parse_int("+10", -10, 10, &v));
    ASSERT_EQ_INT(v, 10);
    ASSERT_OK(parse_int("-10", -10, 10, &v));
    ASSERT_EQ_INT(v, -10);
    static const char *bad[] = { "", "11", "-11", " 1", "1 ", "--1", "-", "+", "1.0",
                                 "99999999999999999999999" };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++)
        if (parse_int(bad[i], -10, 10, &v) != ERR_INVAL) HARNESS_FAIL("parse_int(\"%s\") accepted", bad[i]);
    ASSERT_EQ_INT(parse_int(NULL, 0, 1, &v), ERR_INVAL);
}

TEST(test_file_read_all)
{
    char path[] = "/tmp/vitrine_test_util_XXXXXX";
    int fd = mkstemp(path);
    ASSERT_TRUE(fd >= 0);
    const char data[] = "line one\nline\0two\n";
    ssize_t wr = write(fd, data, sizeof data - 1);
    close(fd);
    char *out = NULL;
    size_t len = 0;
    int r1 = file_read_all(path, 1 << 20, &out, &len);
    int same = r1 == 0 && len == sizeof data - 1 && memcmp(out, data, len) == 0 && out[len] == '\0';
    free(out);
    int r2 = file_read_all(path, sizeof data - 2, &out, &len); /* one byte too small */
    char *exact = NULL;
    int r3 = file_read_all(path, sizeof data - 1, &exact, NULL);
    free(exact);
    unlink(path);
    int r4 = file_read_all(path, 100, &out, &len);
    int r5 = file_read_all("/tmp", 1 << 20, &out, &len); /* a directory */
    ASSERT_EQ_INT(wr, (ssize_t)sizeof data - 1);
    ASSERT_OK(r1);
    ASSERT_TRUE(same);
    ASSERT_EQ_INT(r2, ERR_TOOLARGE);
    ASSERT_OK(r3);
    ASSERT_EQ_INT(r4, ERR_NOTFOUND);
    ASSERT_TRUE(out == NULL);
    ASSERT_EQ_INT(len, 0);
    ASSERT_TRUE(r5 == ERR_IO || r5 == ERR_TOOLARGE);

    /* An empty file reads as an empty string. */
    char path2[] = "/tmp/vitrine_test_util_XXXXXX";
    fd = mkstemp(path2);
    ASSERT_TRUE(fd >= 0);
    close(fd);
    int r6 = file_read_all(path2, 10, &out, &len);
    int empty = r6 == 0 && out && out[0] == '\0' && len == 0;
    free(out);
    unlink(path2);
    ASSERT_TRUE(empty);

    /* A pseudo-file reports size 0 but has contents; the limit still holds. */
    int r7 = file_read_all("/proc/self/status", 1 << 20, &out, &len);
    int status_ok = r7 == 0 && len > 10 && strncmp(out, "Name:", 5) == 0 && out[len] == '\0';
    free(out);
    int r8 = file_read_all("/proc/self/status", 10, &out, &len);
    ASSERT_OK(r7);
    ASSERT_TRUE(status_ok);
    ASSERT_EQ_INT(r8, ERR_TOOLARGE);
    ASSERT_TRUE(out == NULL);
}

TEST(test_env_and_clock)
{
    setenv("VITRINE_TEST_UTIL_X", "val", 1);
    ASSERT_STR_EQ(env_or("VITRINE_TEST_UTIL_X", "fb"), "val");
    setenv("VITRINE_TEST_UTIL_X", "", 1);
    ASSERT_STR_EQ(env_or("VITRINE_TEST_UTIL_X", "fb"), "fb");
    unsetenv("VITRINE_TEST_UTIL_X");
    ASSERT_STR_EQ(env_or("VITRINE_TEST_UTIL_X", "fb"), "fb");
    uint64_t t0 = now_ns();
    usleep(2000);
    uint64_t t1 = now_ns();
    ASSERT_GE((double)(t1 - t0), 2e6);
    ASSERT_LE((double)(t1 - t0), 5e9);
    ASSERT_TRUE(now_seconds() > 0);
}

TEST(test_arena_alignment_and_contents)
{
    Arena a;
    arena_init(&a, 1024);
    enum { N = 2000 };
    unsigned char *ptrs[N];
    size_t sizes[N];
    size_t sum = 0;
    for (int i = 0; i < N; i++) {
        /* Mixed sizes, some larger than a chunk. */
        sizes[i] = (size_t)(i * 37 % 300) + (i % 97 == 0 ? 5000 : 0);
        ptrs[i] = arena_alloc(&a, sizes[i]);
        if (((uintptr_t)ptrs[i] & 15) != 0) HARNESS_FAIL("allocation %d not 16-aligned", i);
        memset(ptrs[i], i & 255, sizes[i]);
        sum += sizes[i];
    }
    /* No allocation overlapped another: every pattern is intact. */
    for (int i = 0; i < N; i++)
        for (size_t k = 0; k < sizes[i]; k++)
            if (ptrs[i][k] != (unsigned char)(i & 255)) HARNESS_FAIL("allocation %d byte %zu overwritten", i, k);
    ASSERT_GE((double)a.total, (double)sum);
    ASSERT_LE((double)a.total, (double)sum + 15.0 * N);
    arena_free(&a);
    ASSERT_EQ_INT(a.total, 0);
    ASSERT_TRUE(a.head == NULL);
    /* The arena is reusable after arena_free. */
    char *s = arena_strndup(&a, "hello world", 5);
    ASSERT_STR_EQ(s, "hello");
    unsigned char *z = arena_calloc(&a, 100);
    for (int k = 0; k < 100; k++) ASSERT_EQ_INT(z[k], 0);
    arena_free(&a);
}

TEST(test_arena_big_keeps_head)
{
    /* A one-off bigger than the chunk must not waste the current chunk:
     * the next small allocation comes right after the previous one. */
    Arena a;
    arena_init(&a, 4096);
    char *p1 = arena_alloc(&a, 16);
    char *big = arena_alloc(&a, 100000);
    char *p2 = arena_alloc(&a, 16);
    memset(big, 1, 100000);
    ASSERT_TRUE(p2 == p1 + 16);
    ASSERT_TRUE(big != NULL);
    /* A zero-size allocation is valid and aligned. */
    void *z = arena_alloc(&a, 0);
    ASSERT_TRUE(z != NULL && ((uintptr_t)z & 15) == 0);
    arena_free(&a);
    /* Default chunk size when 0 is passed. */
    arena_init(&a, 0);
    ASSERT_EQ_INT(a.chunk_size, ARENA_DEFAULT_CHUNK);
    arena_free(&a);
}

/* A cgroup CPU quota in whole CPUs, rounded up. */
TEST(test_cpu_quota_and_count)
{
    ASSERT_EQ_INT(cpu_quota_cpus("max", "100000\n"), 0);
    ASSERT_EQ_INT(cpu_quota_cpus("-1\n", "100000\n"), 0);
    ASSERT_EQ_INT(cpu_quota_cpus("150000", "100000\n"), 2);
    ASSERT_EQ_INT(cpu_quota_cpus("50000\n", "100000"), 1);
    ASSERT_EQ_INT(cpu_quota_cpus("200000", "100000"), 2);
    ASSERT_EQ_INT(cpu_quota_cpus("junk", "100000"), 0);
    ASSERT_EQ_INT(cpu_quota_cpus("100000", "0"), 0);
    int n = cpu_count();
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    ASSERT_TRUE(n >= 1 && n <= online);
}

/* An affinity mask of one CPU makes cpu_count 1. */
TEST(test_affinity_limits_cpu_count)
{
    cpu_set_t old, one;
    if (sched_getaffinity(0, sizeof old, &old) != 0)
        SKIP("sched_getaffinity: %s (the sandbox hides the CPU mask)", strerror(errno));
    int first = 0;
    while (first < CPU_SETSIZE && !CPU_ISSET(first, &old)) first++;
    CPU_ZERO(&one);
    CPU_SET(first, &one);
    /* A sandbox may forbid changing it; that is not cpu_count's fault. */
    if (sched_setaffinity(0, sizeof one, &one) != 0)
        SKIP("sched_setaffinity: %s (the sandbox forbids changing the CPU mask)",
             strerror(errno));
    int n1 = cpu_count();
    ASSERT_OK(sched_setaffinity(0, sizeof old, &old));
    ASSERT_EQ_INT(n1, 1);
}

/* fill writes a pattern of its own (position times a seed, mod 251) that
 * check reads back. */
static void fill(uint8_t *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++) p[i] = (uint8_t)((i * seed + seed) % 251);
}

static int check(const uint8_t *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != (uint8_t)((i * seed + seed) % 251)) return 0;
    return 1;
}

TEST(test_bigmem_sizes_and_realloc)
{
    /* Both sides of the huge-page threshold (header included), and a
     * photo's size. Every buffer is 64-aligned; a mapped one sits 64
     * bytes into a 2 MB-aligned mapping, which is what lets the kernel
     * back it with huge pages. */
    const size_t sizes[] = { 0, 1, 100, BIGMEM_HUGE_MIN - 65, BIGMEM_HUGE_MIN - 64,
                             BIGMEM_HUGE_MIN, 36u << 20 };
    for (size_t k = 0; k < ARRAY_LEN(sizes); k++) {
        uint8_t *p = bigmem_alloc(sizes[k]);
        ASSERT_TRUE(p != NULL);
        ASSERT_EQ_INT((uintptr_t)p % 64, 0);
        if (sizes[k] + 64 >= BIGMEM_HUGE_MIN && bigmem_maps())
            ASSERT_EQ_INT(((uintptr_t)p - 64) % (2u << 20), 0);
        fill(p, sizes[k], 7);
        ASSERT_TRUE(check(p, sizes[k], 7));
        bigmem_free(p);
        /* zalloc: zero whichever class serves it. */
        uint8_t *z = bigmem_zalloc(sizes[k]);
        ASSERT_TRUE(z != NULL);
        int zero = 1;
        for (size_t i = 0; i < sizes[k]; i++) zero &= z[i] == 0;
        bigmem_free(z);
        ASSERT_TRUE(zero);
    }
    bigmem_free(NULL);

    /* realloc across the classes, as stb grows and shrinks its buffers:
     * the kept prefix survives every move. */
    const size_t steps[] = { 10, 1000, 3u << 20, 3u << 20 | 12345, 5u << 20, 1u << 20, 50, 9u << 20 };
    uint8_t *p = bigmem_realloc(NULL, steps[0]);
    ASSERT_TRUE(p != NULL);
    fill(p, steps[0], 3);
    for (size_t k = 1; k < ARRAY_LEN(steps); k++) {
        size_t keep = steps[k - 1] < steps[k] ? steps[k - 1] : steps[k];
        p = bigmem_realloc(p, steps[k]);
        ASSERT_TRUE(p != NULL);
        ASSERT_EQ_INT((uintptr_t)p % 64, 0);
        ASSERT_TRUE(check(p, keep, 3));
        fill(p, steps[k], 3);
    }
    ASSERT_TRUE(check(p, steps[ARRAY_LEN(steps) - 1], 3));
    bigmem_free(p);

    /* A size no mapping can hold fails cleanly. */
    ASSERT_TRUE(bigmem_alloc(SIZE_MAX - 10) == NULL);
    uint8_t *q = bigmem_alloc(100);
    ASSERT_TRUE(q != NULL);
    ASSERT_TRUE(bigmem_realloc(q, SIZE_MAX - 10) == NULL);
    bigmem_free(q);
}

/* thp_eligible reads the kernel's THPeligible for the mapping holding
 * p from /proc/self/smaps: 0 or 1, or -1 when the kernel does not say. */
static int thp_eligible(const void *p)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f) return -1;
    char line[512];
    int in = 0, r = -1;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
            if (in) break;
            in = (uintptr_t)p >= lo && (uintptr_t)p < hi;
        } else if (in && !strncmp(line, "THPeligible:", 12)) {
            r = atoi(line + 12);
            break;
        }
    }
    fclose(f);
    return r;
}

TEST(test_bigmem_huge_pages_switch)
{
    /* VITRINE_HUGE_PAGES=off (here its override) advises big buffers
     * MADV_NOHUGEPAGE, so the kernel will not back them with huge pages
     * in any THP mode; on (the default) advises MADV_HUGEPAGE, which
     * makes them eligible unless THP is "never". */
    if (!bigmem_maps()) {
        printf("  skipped: buffers come from the C allocator in this build\n");
        return;
    }
    int was = bigmem_huge_pages();
    bigmem_set_huge_pages(0);
    uint8_t *off = bigmem_alloc(4u << 20);
    bigmem_set_huge_pages(1);
    uint8_t *on = bigmem_alloc(4u << 20);
    bigmem_set_huge_pages(was);
    ASSERT_TRUE(off && on);
    char mode[128] = "";
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    if (f) {
        if (!fgets(mode, sizeof mode, f)) mode[0] = 0;
        fclose(f);
    }
    int e_off = thp_eligible(off), e_on = thp_eligible(on);
    printf("  THP mode %s  eligible: off %d, on %d\n", mode[0] ? strtok(mode, "\n") : "?", e_off, e_on);
    bigmem_free(off);
    bigmem_free(on);
    if (e_off < 0) return; /* an old kernel: nothing to read */
    ASSERT_EQ_INT(e_off, 0);
    if (mode[0] && !strstr(mode, "[never]")) ASSERT_EQ_INT(e_on, 1);
}

int main(void)
{
    RUN(test_buf_append);
    RUN(test_bigmem_sizes_and_realloc);
    RUN(test_bigmem_huge_pages_switch);
    RUN(test_buf_printf);
    RUN(test_slices_and_strings);
    RUN(test_parse_u64);
    RUN(test_parse_int);
    RUN(test_file_read_all);
    RUN(test_env_and_clock);
    RUN(test_arena_alignment_and_contents);
    RUN(test_arena_big_keeps_head);
    RUN(test_cpu_quota_and_count);
    RUN(test_affinity_limits_cpu_count);
    return harness_report(__FILE__);
}
