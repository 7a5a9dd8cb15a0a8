/*
 * bench_json.c - parse time and memory of a large Qdrant upsert body.
 *
 * Builds the body an official Qdrant client sends for N points of DIM
 * random floats plus a small payload each, {"points":[{"id":..,"vector":
 * [..],"payload":{..}},..]}, in three number forms:
 *   js     float32 values widened to doubles and written with the
 *          shortest text that reads back to that double, as JavaScript's
 *          JSON.stringify (and Python's json.dumps of numpy .tolist())
 *          writes them: ~17 significant digits, 0.12345679104328156;
 *   short  the shortest text that reads back to the float32, 6-9 digits
 *          (numpy's float32 repr, vitrine's own writer): 0.12345679;
 *   d17    random doubles, 17 significant digits (a float64 client).
 * For each form it reports the body size, the parse time (the minimum of
 * several runs), the time to copy every vector out with json_get_floats,
 * and the memory the parse adds: the arena's bytes, and the rise of the
 * process's peak resident set (VmHWM, reset through /proc/self/clear_refs
 * before the parse), which also counts the parser's temporary stacks,
 * yajl's buffers and allocator slack.
 *
 * Usage: build/release/tools/bench_json [--unpacked] [N [DIM [RUNS]]]
 *        (make bench-json builds it and runs it both ways, N=10000, DIM=512)
 * --unpacked parses with json_parse (one node per number) instead of
 * json_parse_packed, for the comparison.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/arena.h"
#include "base/json.h"
#include "base/util.h"

static uint64_t rng_state = 0x243F6A8885A308D3ull;

static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* A uniform double in [-1, 1). */
static double rng_unit(void)
{
    return (double)(rng_next() >> 11) / 9007199254740992.0 * 2.0 - 1.0;
}

enum { FORM_JS, FORM_SHORT, FORM_D17 };
static const char *const form_names[] = { "js", "short", "d17" };

/* write_number appends one vector component in the given form. */
static void write_number(JsonWriter *w, int form)
{
    double d = rng_unit();
    if (form == FORM_JS) {
        jw_double(w, (double)(float)d);
    } else if (form == FORM_SHORT) {
        jw_float(w, (float)d);
    } else {
        /* %.17g of a random double: 17 digits, as a float64 client would
         * send with a fixed precision. */
        char tmp[40];
        int n = snprintf(tmp, sizeof tmp, "%.17g", d);
        jw_raw(w, tmp, (size_t)n);
    }
}

static void build_body(Buf *b, int form, size_t npoints, size_t dim)
{
    static const char *const cats[] = { "shoes", "bags", "shirts", "hats" };
    JsonWriter w;
    jw_init(&w, b);
    jw_object_begin(&w);
    jw_key(&w, "points");
    jw_array_begin(&w);
    for (size_t i = 0; i < npoints; i++) {
        jw_object_begin(&w);
        jw_key(&w, "id");
        jw_uint(&w, i + 1);
        jw_key(&w, "vector");
        jw_array_begin(&w);
        for (size_t k = 0; k < dim; k++) write_number(&w, form);
        jw_array_end(&w);
        jw_key(&w, "payload");
        jw_object_begin(&w);
        jw_key(&w, "category");
        jw_string(&w, cats[i % 4]);
        jw_key(&w, "price");
        jw_double(&w, (double)(rng_next() % 10000) / 100.0);
        jw_key(&w, "stock");
        jw_int(&w, (int64_t)(rng_next() % 500));
        jw_key(&w, "tags");
        jw_array_begin(&w);
        jw_string(&w, "new");
        jw_string(&w, i % 3 ? "sale" : "summer");
        jw_array_end(&w);
        jw_object_end(&w);
        jw_object_end(&w);
    }
    jw_array_end(&w);
    jw_object_end(&w);
}

/* proc_kb reads a "Name:   N kB" line of /proc/self/status. */
static long proc_kb(const char *name)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    long v = -1;
    size_t n = strlen(name);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, name, n) == 0 && line[n] == ':') v = strtol(line + n + 1, NULL, 10);
    fclose(f);
    return v;
}

/* reset_peak makes VmHWM restart from the current resident set. */
static int reset_peak(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f) return -1;
    int ok = fputs("5", f) >= 0;
    return fclose(f) == 0 && ok ? 0 : -1;
}

static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int do_parse(int unpacked, Arena *a, const Buf *b, JsonValue **v, char *err, size_t errlen)
{
    return unpacked ? json_parse(a, b->data, b->len, v, err, errlen)
                    : json_parse_packed(a, b->data, b->len, v, err, errlen);
}

static int bench_form(int form, int unpacked, size_t npoints, size_t dim, int runs)
{
    Buf b;
    buf_init(&b);
    build_body(&b, form, npoints, dim);
    /* The body stays resident; only what the parse adds is measured. */
    char err[160];
    Arena a;
    arena_init(&a, 0);
    JsonValue *v;
    long rss0 = proc_kb("VmRSS");
    int peak_ok = reset_peak() == 0;
    int rc = do_parse(unpacked, &a, &b, &v, err, sizeof err);
    long hwm = proc_kb("VmHWM");
    if (rc) {
        fprintf(stderr, "bench_json: parse failed: %s\n", err);
        return 1;
    }
    size_t arena_bytes = a.total;
    /* Copy every vector out, as an upsert does, and check the count. */
    const JsonValue *points = json_get(v, "points");
    float *vec = xmalloc(dim * sizeof(float));
    double t0 = now_seconds();
    size_t copied = 0;
    for (size_t i = 0; points && i < points->len; i++) {
        JsonValue p = json_item(points, i);
        if (json_get_floats(json_get(&p, "vector"), vec, dim) == 0) copied++;
    }
    double t_floats = now_seconds() - t0;
    arena_free(&a);
    if (copied != npoints) {
        fprintf(stderr, "bench_json: %zu of %zu vectors read back\n", copied, npoints);
        return 1;
    }
    /* Wall time and the thread's CPU time: on a shared machine the CPU
     * time shows what the parse costs when other work takes the cores. */
    double best = 1e9, best_cpu = 1e9;
    for (int r = 0; r < runs; r++) {
        arena_init(&a, 0);
        double c0 = cpu_seconds();
        t0 = now_seconds();
        rc = do_parse(unpacked, &a, &b, &v, err, sizeof err);
        double t = now_seconds() - t0, c = cpu_seconds() - c0;
        arena_free(&a);
        if (t < best) best = t;
        if (c < best_cpu) best_cpu = c;
    }
    double mb = (double)b.len / 1e6;
    printf("%-5s %-8s body %6.1f MB  parse %6.3f s (%5.0f MB/s, cpu %5.3f s)  get_floats %5.3f s  "
           "arena %6.1f MB (%.2fx body)  peak +%6.1f MB (%.2fx body)%s\n",
           form_names[form], unpacked ? "unpacked" : "packed", mb, best, mb / best, best_cpu, t_floats,
           (double)arena_bytes / 1e6, (double)arena_bytes / (double)b.len,
           (double)(hwm - rss0) * 1024 / 1e6, (double)(hwm - rss0) * 1024 / (double)b.len,
           peak_ok ? "" : " (peak not reset: clear_refs unavailable)");
    free(vec);
    buf_free(&b);
    return 0;
}

/* cpu_model prints the processor's name, which every figure depends on. */
static void cpu_model(char *out, size_t cap)
{
    snprintf(out, cap, "unknown CPU");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) == 0 && strchr(line, ':')) {
            const char *v = strchr(line, ':') + 1;
            while (*v == ' ' || *v == '\t') v++;
            snprintf(out, cap, "%.*s", (int)strcspn(v, "\n"), v);
            break;
        }
    }
    fclose(f);
}

int main(int argc, char **argv)
{
    int unpacked = 0, argi = 1;
    if (argi < argc && strcmp(argv[argi], "--unpacked") == 0) unpacked = 1, argi++;
    size_t npoints = argi < argc ? strtoul(argv[argi++], NULL, 10) : 10000;
    size_t dim = argi < argc ? strtoul(argv[argi++], NULL, 10) : 512;
    int runs = argi < argc ? atoi(argv[argi++]) : 5;
    if (!npoints || !dim || runs < 1) {
        fprintf(stderr, "usage: bench_json [--unpacked] [N [DIM [RUNS]]]\n");
        return 2;
    }
    char cpu[128];
    cpu_model(cpu, sizeof cpu);
    printf("%zu points x %zu floats, min of %d runs, %s, %ld CPUs online\n", npoints, dim, runs,
           cpu, sysconf(_SC_NPROCESSORS_ONLN));
    fflush(stdout);
    /* Each form runs in a child of its own, so memory the allocator kept
     * from one form's parse does not hide the next one's peak. */
    int failed = 0;
    for (int form = FORM_JS; form <= FORM_D17; form++) {
        pid_t pid = fork();
        if (pid == 0) {
            int rc = bench_form(form, unpacked, npoints, dim, runs);
            fflush(stdout);
            _exit(rc);
        }
        int status = 0;
        if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
            failed = 1;
    }
    return failed;
}
