/*
 * harness.h - the unit-test harness: typed asserts that print both sides.
 *
 * A test file defines static void test functions with TEST(name), runs them
 * from main with RUN(name), and returns harness_report(). A failed assert
 * prints the file, line, expression and both values, marks the current test
 * failed and returns from it, so one broken test does not hide the others.
 *
 * A test that cannot run here (no real weights, a sandbox that forbids
 * changing the CPU mask) calls SKIP("why") instead of passing silently: it
 * prints "SKIP <test>: <why>", which tests/run.sh collects and reports. The
 * last line printed is "<file>: N passed, N failed, N skipped", and
 * harness_report returns the exit status tests/run.sh reads: 1 when a test
 * failed, HARNESS_EXIT_SKIP (77, automake's convention) when every test
 * skipped, else 0. A binary that cannot run at all returns
 * harness_skip_all("why") from main, which prints "SKIP: <why>" and gives
 * HARNESS_EXIT_SKIP.
 */
#ifndef VITRINE_TEST_HARNESS_H
#define VITRINE_TEST_HARNESS_H

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* The exit status that tells tests/run.sh "skipped, not passed". */
#define HARNESS_EXIT_SKIP 77

static int harness_passed, harness_failed, harness_skipped, harness_current_failed,
    harness_current_skipped;
static const char *harness_current = "";

/* stdout is line-buffered even into a pipe or file (tests/run.sh captures
 * it), so the lines printed before a crash or a timeout are not lost. */
__attribute__((constructor)) static void harness_init(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
}

#define TEST(name) static void name(void)

#define RUN(name)                                                    \
    do {                                                             \
        harness_current = #name;                                     \
        harness_current_failed = 0;                                  \
        harness_current_skipped = 0;                                 \
        name();                                                      \
        if (harness_current_failed) {                                \
            harness_failed++;                                        \
            printf("FAIL %s\n", #name);                              \
        } else if (harness_current_skipped) {                        \
            harness_skipped++;                                       \
        } else {                                                     \
            harness_passed++;                                        \
            printf("ok   %s\n", #name);                              \
        }                                                            \
        fflush(stdout);                                              \
    } while (0)

#define HARNESS_FAIL(...)                                            \
    do {                                                             \
        printf("  %s:%d: in %s: ", __FILE__, __LINE__, harness_current); \
        printf(__VA_ARGS__);                                         \
        printf("\n");                                                \
        harness_current_failed = 1;                                  \
        return;                                                      \
    } while (0)

/* SKIP ends the current test as skipped, with the reason printed on the
 * line tests/run.sh collects. Use it only for what the machine cannot do,
 * never for a failure. */
#define SKIP(...)                                                    \
    do {                                                             \
        printf("SKIP %s: ", harness_current);                        \
        printf(__VA_ARGS__);                                         \
        printf("\n");                                                \
        harness_current_skipped = 1;                                 \
        return;                                                      \
    } while (0)

#define ASSERT_TRUE(c)                                               \
    do { if (!(c)) HARNESS_FAIL("expected true: %s", #c); } while (0)

#define ASSERT_EQ_INT(a, b)                                          \
    do {                                                             \
        long long a_ = (long long)(a), b_ = (long long)(b);          \
        if (a_ != b_) HARNESS_FAIL("%s == %s: %lld != %lld", #a, #b, a_, b_); \
    } while (0)

#define ASSERT_EQ_U64(a, b)                                          \
    do {                                                             \
        uint64_t a_ = (uint64_t)(a), b_ = (uint64_t)(b);             \
        if (a_ != b_) HARNESS_FAIL("%s == %s: %" PRIu64 " != %" PRIu64, #a, #b, a_, b_); \
    } while (0)

#define ASSERT_OK(e)                                                 \
    do {                                                             \
        int r_ = (e);                                                \
        if (r_ != 0) HARNESS_FAIL("%s returned %d, expected 0", #e, r_); \
    } while (0)

#define ASSERT_NEAR(a, b, tol)                                       \
    do {                                                             \
        double a_ = (double)(a), b_ = (double)(b);                   \
        if (!(fabs(a_ - b_) <= (tol)))                               \
            HARNESS_FAIL("%s ~= %s: %.9g vs %.9g (tol %g)", #a, #b, a_, b_, (double)(tol)); \
    } while (0)

#define ASSERT_LE(a, b)                                              \
    do {                                                             \
        double a_ = (double)(a), b_ = (double)(b);                   \
        if (!(a_ <= b_)) HARNESS_FAIL("%s <= %s: %.9g > %.9g", #a, #b, a_, b_); \
    } while (0)

#define ASSERT_GE(a, b)                                              \
    do {                                                             \
        double a_ = (double)(a), b_ = (double)(b);                   \
        if (!(a_ >= b_)) HARNESS_FAIL("%s >= %s: %.9g < %.9g", #a, #b, a_, b_); \
    } while (0)

#define ASSERT_STR_EQ(a, b)                                          \
    do {                                                             \
        const char *a_ = (a), *b_ = (b);                             \
        if (!a_ || !b_ || strcmp(a_, b_) != 0)                       \
            HARNESS_FAIL("%s == %s: \"%s\" != \"%s\"", #a, #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)"); \
    } while (0)

static inline int harness_report(const char *file)
{
    printf("%s: %d passed, %d failed, %d skipped\n", file, harness_passed, harness_failed,
           harness_skipped);
    if (harness_failed) return 1;
    return harness_skipped && !harness_passed ? HARNESS_EXIT_SKIP : 0;
}

/* harness_skip_all reports a binary that cannot run any of its tests here
 * (file: the test file, why: the reason) and returns HARNESS_EXIT_SKIP for
 * main to return. */
static inline int harness_skip_all(const char *file, const char *why)
{
    printf("SKIP: %s\n", why);
    printf("%s: 0 passed, 0 failed, all skipped\n", file);
    return HARNESS_EXIT_SKIP;
}

/*
 * A seeded generator of test data: an LCG with Knuth's MMIX constants,
 * test_rng its state (a test sets it to repeat a sequence). test_urand is
 * uniform in (0, 1) from the top 53 bits, test_gauss standard normal
 * (Box-Muller).
 */
static uint64_t test_rng __attribute__((unused));

static inline double test_urand(void)
{
    test_rng = test_rng * 6364136223846793005ull + 1442695040888963407ull;
    return ((double)(test_rng >> 11) + 0.5) * 0x1p-53;
}

static inline float test_gauss(void)
{
    return (float)(sqrt(-2 * log(test_urand())) * cos(6.283185307179586 * test_urand()));
}

/*
 * fixture_path joins the CLIP fixture directory with rel into a static
 * buffer. The directory is VITRINE_FIXTURES, or tests/fixtures/clip (the
 * copy in the repository) relative to the repository root where tests run.
 */
static inline const char *fixture_path(const char *rel)
{
    static char buf[4096];
    const char *dir = getenv("VITRINE_FIXTURES");
    if (!dir || !*dir) dir = "tests/fixtures/clip";
    snprintf(buf, sizeof buf, "%s/%s", dir, rel);
    return buf;
}

/*
 * harness_rerun runs the test binary self again with env=1 in its
 * environment and arg (NULL: none) as its argument, and returns its exit
 * status, or -1 when it could not run or was killed. Tests use it to
 * repeat their checks on another code path chosen by an environment
 * variable at first use (such as the kernels without AVX-512).
 */
static inline int harness_rerun(const char *self, const char *env, const char *arg)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        setenv(env, "1", 1);
        execl(self, self, arg, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
    return WEXITSTATUS(status);
}

#endif
