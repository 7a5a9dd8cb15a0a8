/*
 * util.h - small helpers every module uses: checked allocation, a
 * {ptr, len} slice, a growable byte buffer, clocks and whole-file reads.
 *
 * Out of memory is one of the few reasons the process dies (see STYLE.md):
 * x* allocators log and abort rather than make every caller handle NULL.
 * Code that must survive a failed allocation (a huge client-sized buffer)
 * calls malloc itself and returns ERR_NOMEM.
 */
#ifndef VITRINE_UTIL_H
#define VITRINE_UTIL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

/* hash_fmix32 is MurmurHash3's 32-bit finaliser (full avalanche): the
 * last step of murmur3 (index/bm25.c) and a spreader of small integer
 * keys (index/sparse.c's dimension table, bench ann's filter). */
static inline uint32_t hash_fmix32(uint32_t h)
{
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}

/* hash_fmix64 is its 64-bit finaliser: the tokenizer's merge-table keys
 * (small dense id pairs) and the crash test's pseudo-random stream. */
static inline uint64_t hash_fmix64(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ULL;
    k ^= k >> 33;
    return k;
}

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

/* A borrowed view of bytes; the owner is whoever the comment at the use says. */
typedef struct {
    const char *ptr;
    size_t len;
} Slice;

#define SLICE_LIT(s) ((Slice){ (s), sizeof(s) - 1 })
Slice slice_from_cstr(const char *s);
int slice_eq_cstr(Slice s, const char *c);

/* A growable byte buffer; the struct owns data. Always NUL-terminated. */
typedef struct {
    char *data;
    size_t len;
    size_t cap;
} Buf;

void buf_init(Buf *b);
void buf_free(Buf *b);
void buf_reserve(Buf *b, size_t extra);
void buf_append(Buf *b, const void *p, size_t n);
void buf_append_str(Buf *b, const char *s);
void buf_printf(Buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* buf_detach hands data to the caller (free it) and leaves b empty. */
char *buf_detach(Buf *b, size_t *len);

/*
 * rwlock_init_writer_pref initialises a reader-writer lock that prefers
 * writers, so a steady stream of readers (searches) cannot starve a writer
 * (an upsert, a delete, a map resize). glibc's default prefers readers.
 */
void rwlock_init_writer_pref(pthread_rwlock_t *l);

/* Monotonic time. */
double now_seconds(void);
uint64_t now_ns(void);

/*
 * file_read_all reads a whole file into a malloc'd, NUL-terminated buffer
 * owned by the caller: a regular file, a pseudo-file (/proc, /sys) or a
 * pipe (/dev/stdin), read to its end. Returns ERR_NOTFOUND, ERR_IO,
 * ERR_NOMEM or ERR_TOOLARGE (more than max_bytes) on failure.
 */
int file_read_all(const char *path, size_t max_bytes, char **out, size_t *out_len);

/*
 * cpu_quota_cpus turns a CPU quota into whole CPUs, rounded up: quota
 * microseconds of CPU time per period microseconds (cgroup v2's cpu.max
 * holds "quota period" or "max period"; v1 has them in cpu.cfs_quota_us
 * and cpu.cfs_period_us, -1 meaning none). 0 means no limit (quota "max",
 * negative, or unparsable).
 */
int cpu_quota_cpus(const char *quota, const char *period);

/*
 * cpu_count returns the CPUs this process may run on: its affinity mask
 * (docker --cpuset-cpus, taskset), capped by a cgroup CPU quota (docker
 * --cpus, a VPS's CPU limit), which the core count does not show. A
 * thread pool sized from the core count alone would, on a 16-core host
 * with a 1-CPU quota, run 16 threads that mostly wait for the quota.
 * At least 1.
 */
int cpu_count(void);

/* env_or returns getenv(name) when set and non-empty, otherwise fallback. */
const char *env_or(const char *name, const char *fallback);

/* parse_u64 / parse_int: whole-string decimal parse with range check; 0 or ERR_INVAL. */
int parse_u64(const char *s, uint64_t *out);
int parse_int(const char *s, long min, long max, long *out);

#endif
