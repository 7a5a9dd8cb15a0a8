/*
 * bigmem.c - see bigmem.h for why photos' buffers are mapped with huge
 * pages.
 *
 * Layout: every buffer is preceded by a 64-byte header (64 keeps the
 * caller's pointer as aligned as the AVX-512 loads of image.c could
 * want). A mapped buffer's header starts its 2 MB-aligned mapping, so the
 * whole buffer lies in huge-page-sized extents; a malloc'd one's header
 * starts the posix_memalign block.
 */
#include "base/bigmem.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define HEADER 64
#define HUGE_PAGE ((size_t)2 << 20)

/* Under AddressSanitizer every buffer comes from the allocator, sized
 * exactly: ASan does not watch mmap'd memory, nor the slack of a rounded
 * size, and the point of a sanitizer build (and of the fuzzers) is to
 * catch the decoders reading or writing past a buffer. */
#if defined(__SANITIZE_ADDRESS__)
#define BIGMEM_NO_MAP 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BIGMEM_NO_MAP 1
#endif
#endif
#ifndef BIGMEM_NO_MAP
#define BIGMEM_NO_MAP 0
#endif
#define MAGIC_MALLOC 0x6d616c6cu
#define MAGIC_MAPPED 0x6d617070u

typedef struct {
    uint32_t magic;
    size_t size;    /* the caller's bytes */
    size_t map_len; /* the mapping's length (MAGIC_MAPPED) */
} Header;

_Static_assert(sizeof(Header) <= HEADER, "the header fits its 64 bytes");

static Header *header_of(void *p)
{
    return (Header *)((char *)p - HEADER);
}

/* map_huge maps len bytes (a multiple of HUGE_PAGE) on a 2 MB boundary:
 * it maps one huge page more and unmaps the slack on both sides, because
 * the kernel aligns anonymous mappings only as it pleases and a range
 * that starts mid-way through a huge page cannot use one there. */
static void *map_huge(size_t len)
{
    size_t over = len + HUGE_PAGE;
    char *raw = mmap(NULL, over, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) return NULL;
    char *start = (char *)(((uintptr_t)raw + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
    if (start > raw) munmap(raw, (size_t)(start - raw));
    size_t tail = (size_t)(raw + over - (start + len));
    if (tail) munmap(start + len, tail);
    bigmem_advise(start, len);
    return start;
}

static int huge_state = -1; /* -1: not read yet; then 0 or 1 */

int bigmem_huge_pages(void)
{
    int s = __atomic_load_n(&huge_state, __ATOMIC_RELAXED);
    if (s < 0) {
        const char *v = getenv(BIGMEM_ENV_HUGE_PAGES);
        s = !(v && (!strcmp(v, "off") || !strcmp(v, "0") || !strcmp(v, "no")));
        __atomic_store_n(&huge_state, s, __ATOMIC_RELAXED);
    }
    return s;
}

void bigmem_set_huge_pages(int on)
{
    __atomic_store_n(&huge_state, on ? 1 : 0, __ATOMIC_RELAXED);
}

void bigmem_advise(void *p, size_t len)
{
    /* Advice only: without THP (or on a kernel without it) the mapping
     * works with 4 KB pages. */
#if defined(MADV_HUGEPAGE) && defined(MADV_NOHUGEPAGE)
    if (len) (void)madvise(p, len, bigmem_huge_pages() ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
#else
    (void)p;
    (void)len;
#endif
}

void *bigmem_alloc(size_t n)
{
    if (n > SIZE_MAX - HEADER - HUGE_PAGE) return NULL;
    Header *h;
    if (n + HEADER < BIGMEM_HUGE_MIN || BIGMEM_NO_MAP) {
        void *m;
        if (posix_memalign(&m, HEADER, n + HEADER)) return NULL;
        h = m;
        h->magic = MAGIC_MALLOC;
        h->map_len = 0;
    } else {
        size_t len = (n + HEADER + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
        if (!(h = map_huge(len))) return NULL;
        h->magic = MAGIC_MAPPED;
        h->map_len = len;
    }
    h->size = n;
    return (char *)h + HEADER;
}

int bigmem_maps(void)
{
    return !BIGMEM_NO_MAP;
}

void *bigmem_zalloc(size_t n)
{
    void *p = bigmem_alloc(n);
    /* A fresh mapping is zero already: writing it would only fault its
     * pages in early. */
    if (p && header_of(p)->magic == MAGIC_MALLOC) memset(p, 0, n);
    return p;
}

void bigmem_free(void *p)
{
    if (!p) return;
    Header *h = header_of(p);
    if (h->magic == MAGIC_MAPPED) {
        h->magic = 0;
        munmap(h, h->map_len);
    } else if (h->magic == MAGIC_MALLOC) {
        h->magic = 0;
        free(h);
    } else {
        /* Not a bigmem buffer (a malloc'd pointer, or freed twice):
         * guessing would corrupt the heap quietly. */
        abort();
    }
}

void *bigmem_realloc(void *p, size_t n)
{
    if (!p) return bigmem_alloc(n);
    Header *h = header_of(p);
    /* Within the mapping already (stb grows its buffers step by step):
     * the pages are there. */
    if (h->magic == MAGIC_MAPPED && n + HEADER <= h->map_len && n + HEADER >= BIGMEM_HUGE_MIN) {
        h->size = n;
        return p;
    }
    /* Otherwise a new buffer and a copy: realloc would not keep
     * posix_memalign's alignment, and a move between the classes copies
     * anyway. */
    void *q = bigmem_alloc(n);
    if (!q) return NULL;
    memcpy(q, p, h->size < n ? h->size : n);
    bigmem_free(p);
    return q;
}
