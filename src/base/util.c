/*
 * util.c - the helpers declared in util.h: checked allocation, slices,
 * the growable Buf, monotonic clocks, whole-file reads, environment and
 * strict decimal parsing.
 *
 * Allocation failure aborts after one log line (see util.h for why). Buf
 * keeps one spare byte so data is always NUL-terminated and can be handed
 * to C string functions without a copy.
 */
#include "base/util.h"

#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/err.h"
#include "base/log.h"

static void die_nomem(size_t n)
{
    log_error("out of memory allocating %zu bytes", n);
    abort();
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) die_nomem(n);
    return p;
}

void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) die_nomem(n * size);
    return p;
}

void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) die_nomem(n);
    return q;
}

char *xstrdup(const char *s) { return xstrndup(s, strlen(s)); }

char *xstrndup(const char *s, size_t n)
{
    char *p = xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

Slice slice_from_cstr(const char *s) { return (Slice){ s, strlen(s) }; }

int slice_eq_cstr(Slice s, const char *c)
{
    size_t n = strlen(c);
    return s.len == n && memcmp(s.ptr, c, n) == 0;
}

void buf_init(Buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void buf_free(Buf *b)
{
    free(b->data);
    buf_init(b);
}

void buf_reserve(Buf *b, size_t extra)
{
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) cap *= 2;
    b->data = xrealloc(b->data, cap);
    b->cap = cap;
}

void buf_append(Buf *b, const void *p, size_t n)
{
    buf_reserve(b, n);
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void buf_append_str(Buf *b, const char *s) { buf_append(b, s, strlen(s)); }

void buf_printf(Buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char tmp[256];
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof tmp) {
        buf_append(b, tmp, (size_t)n);
        return;
    }
    buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

char *buf_detach(Buf *b, size_t *len)
{
    if (!b->data) buf_reserve(b, 0), b->data[0] = '\0';
    char *p = b->data;
    if (len) *len = b->len;
    buf_init(b);
    return p;
}

uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

double now_seconds(void) { return (double)now_ns() / 1e9; }

int file_read_all(const char *path, size_t max_bytes, char **out, size_t *out_len)
{
    *out = NULL;
    if (out_len) *out_len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return errno == ENOENT ? ERR_NOTFOUND : ERR_IO;
    struct stat st;
    if (fstat(fileno(f), &st) != 0) {
        fclose(f);
        return ERR_IO;
    }
    int regular = S_ISREG(st.st_mode);
    if (regular && (uint64_t)st.st_size > max_bytes) {
        fclose(f);
        return ERR_TOOLARGE;
    }
    /* Read to the end whatever the size says: pseudo-files (/proc, cgroup
     * files) report 0 or a page, and a pipe (/dev/stdin) nothing. One byte
     * beyond max_bytes tells a file that is too large. */
    size_t limit = max_bytes < SIZE_MAX ? max_bytes + 1 : max_bytes;
    size_t cap = regular && st.st_size > 0 ? (size_t)st.st_size + 1 : 4096, n = 0;
    if (cap > limit) cap = limit;
    char *p = malloc(cap + 1);
    int rc = p ? 0 : ERR_NOMEM;
    while (rc == 0) {
        if (n == cap) {
            if (cap == limit) break;
            size_t ncap = cap < limit / 2 ? cap * 2 : limit;
            char *np = realloc(p, ncap + 1);
            if (!np) {
                rc = ERR_NOMEM;
                break;
            }
            p = np;
            cap = ncap;
        }
        size_t r = fread(p + n, 1, cap - n, f);
        n += r;
        if (r == 0) break;
    }
    if (rc == 0 && ferror(f)) rc = ERR_IO;
    if (rc == 0 && n > max_bytes) rc = ERR_TOOLARGE;
    fclose(f);
    if (rc != 0) {
        free(p);
        return rc;
    }
    p[n] = '\0';
    *out = p;
    if (out_len) *out_len = n;
    return 0;
}

const char *env_or(const char *name, const char *fallback)
{
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

int parse_u64(const char *s, uint64_t *out)
{
    /* strtoull skips leading blanks and accepts a sign ("-1" wraps to
     * UINT64_MAX), so insist on a digit first: the whole string must be
     * the number. */
    if (!s || *s < '0' || *s > '9') return ERR_INVAL;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end) return ERR_INVAL;
    *out = v;
    return 0;
}

int parse_int(const char *s, long min, long max, long *out)
{
    /* Like parse_u64: no leading blanks; one optional sign then digits. */
    const char *d = s && (*s == '-' || *s == '+') ? s + 1 : s;
    if (!d || *d < '0' || *d > '9') return ERR_INVAL;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < min || v > max) return ERR_INVAL;
    *out = v;
    return 0;
}

void rwlock_init_writer_pref(pthread_rwlock_t *l)
{
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(l, &attr);
    pthread_rwlockattr_destroy(&attr);
}

int cpu_quota_cpus(const char *quota, const char *period)
{
    char *end;
    errno = 0;
    long long q = strtoll(quota, &end, 10);
    if (errno || end == quota || q <= 0) return 0; /* "max", -1, junk */
    errno = 0;
    long long p = strtoll(period, &end, 10);
    if (errno || end == period || p <= 0) return 0;
    long long cpus = (q + p - 1) / p;
    return cpus > 4096 ? 4096 : (int)cpus;
}

/* cpu_dir_quota returns the quota in CPUs set on cgroup directory dir
 * (v2's cpu.max when v2 is set, else v1's two files), 0 when none or
 * unreadable. */
static int cpu_dir_quota(const char *dir, int v2)
{
    char path[4300]; /* dir (under 4200) and the longest file name */
    char *quota = NULL, *period = NULL;
    size_t len;
    int cpus = 0;
    if (v2) {
        snprintf(path, sizeof path, "%s/cpu.max", dir);
        if (file_read_all(path, 256, &quota, &len) == 0 && (period = strchr(quota, ' '))) {
            *period = '\0';
            cpus = cpu_quota_cpus(quota, period + 1);
        }
        free(quota);
        return cpus;
    }
    snprintf(path, sizeof path, "%s/cpu.cfs_quota_us", dir);
    if (file_read_all(path, 256, &quota, &len) == 0) {
        snprintf(path, sizeof path, "%s/cpu.cfs_period_us", dir);
        if (file_read_all(path, 256, &period, &len) == 0) cpus = cpu_quota_cpus(quota, period);
    }
    free(quota);
    free(period);
    return cpus;
}

/*
 * cpu_cgroup_quota returns the smallest CPU quota on the process's cgroup
 * and its ancestors (a parent's quota binds its children too), 0 when
 * there is none. The cgroup's path comes from /proc/self/cgroup; inside a
 * container whose /sys/fs/cgroup is its own cgroup the path may not exist
 * there, and the walk then still reaches the mount's root.
 */
static int cpu_cgroup_quota(void)
{
    FILE *f = fopen("/proc/self/cgroup", "r");
    char line[4096], rel[4096] = "";
    int v2 = 1;
    const char *base = "/sys/fs/cgroup";
    if (f) {
        while (fgets(line, sizeof line, f)) {
            line[strcspn(line, "\n")] = '\0';
            /* "hierarchy-id:controllers:path"; v2's line is "0::path". */
            char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
            if (!c2) continue;
            *c2 = '\0';
            const char *ctl = c1 + 1;
            int is_cpu = 0;
            for (const char *t = ctl; *t;) {
                size_t l = strcspn(t, ",");
                if (l == 3 && !strncmp(t, "cpu", 3)) is_cpu = 1;
                t += l + (t[l] == ',');
            }
            if (is_cpu) {
                /* v1 wins over v2's line: on a hybrid system cpu is on v1. */
                snprintf(rel, sizeof rel, "%s", c2 + 1);
                v2 = 0;
                struct stat st;
                base = stat("/sys/fs/cgroup/cpu", &st) == 0 ? "/sys/fs/cgroup/cpu"
                                                             : "/sys/fs/cgroup/cpu,cpuacct";
                break;
            }
            if (!*ctl) snprintf(rel, sizeof rel, "%s", c2 + 1);
        }
        fclose(f);
    }
    int best = 0;
    char dir[4200];
    for (;;) {
        snprintf(dir, sizeof dir, "%s%s", base, rel);
        int q = cpu_dir_quota(dir, v2);
        if (q > 0 && (best == 0 || q < best)) best = q;
        char *slash = strrchr(rel, '/');
        if (!slash || !*rel) break;
        *slash = '\0';
    }
    return best;
}

int cpu_count(void)
{
    int n = 0;
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) n = CPU_COUNT(&set);
    if (n <= 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        n = c > 0 ? (int)c : 1;
    }
    int quota = cpu_cgroup_quota();
    if (quota > 0 && quota < n) n = quota;
    return n;
}
