/*
 * bigmem.h - buffers of several megabytes that live for one task: the
 * pixels of a decoded photo and the work areas of its resampling.
 *
 * A 12-megapixel photo decodes into 36 MB of RGB plus as much again of
 * decoder planes and resampling rows. malloc serves such sizes with fresh
 * mmap()s, so every photo touches ~18,000 new 4 KB pages, and each first
 * touch is a page fault: on a virtual machine that was a third of the
 * decode (stb_image, 4000 x 3000 JPEG: 315 ms a photo, 135 ms with huge
 * pages). bigmem maps buffers of BIGMEM_HUGE_MIN bytes and more on 2 MB
 * boundaries and asks the kernel for transparent huge pages
 * (madvise(MADV_HUGEPAGE); Linux's default THP mode, "madvise", honours
 * it), so the same photo takes ~40 faults. Freeing unmaps at once, as
 * malloc would have: nothing stays resident between photos, which
 * matters on a 1 GB box. Where THP is off the advice is ignored and the
 * buffers behave as malloc's.
 *
 * Smaller buffers go to the C allocator, and so does every buffer in an
 * AddressSanitizer build (which does not watch mmap'd memory). Every
 * buffer carries a small header, so
 * bigmem_free and bigmem_realloc need no size: stb_image's STBI_MALLOC /
 * STBI_REALLOC / STBI_FREE are these three (model/image_stb.c). A buffer
 * from here must be freed here, never with free().
 */
#ifndef VITRINE_BIGMEM_H
#define VITRINE_BIGMEM_H

#include <stddef.h>

/* From this size on (header included) a buffer is mapped with huge
 * pages: one huge page, below which a 4 KB page fault or two cost less
 * than the mapping. */
#define BIGMEM_HUGE_MIN ((size_t)2 << 20)

/*
 * bigmem_huge_pages says whether big buffers (these, and the HNSW graph's
 * chunks) ask for transparent huge pages: yes unless the environment sets
 * VITRINE_HUGE_PAGES=off (read once, at first use). With "off" they are
 * advised MADV_NOHUGEPAGE instead, so even a kernel in THP "always" mode
 * leaves them on 4 KB pages. The switch is for a long-running box whose
 * kernel defragments on fault (/sys/kernel/mm/transparent_hugepage/defrag
 * "always" or "madvise"): there a fault in an advised range may stall in
 * memory compaction when memory is fragmented, and latency matters more
 * than the 2-3x faster decode of a big photo or the ~15% faster search.
 */
#define BIGMEM_ENV_HUGE_PAGES "VITRINE_HUGE_PAGES"
int bigmem_huge_pages(void);
/* bigmem_set_huge_pages overrides the environment for later mappings. */
void bigmem_set_huge_pages(int on);
/* bigmem_advise advises len bytes at p (whole huge pages for "on") as
 * bigmem_huge_pages says. Advice only: errors are ignored. */
void bigmem_advise(void *p, size_t len);

/* bigmem_alloc returns n bytes aligned to 64, or NULL (never aborts: the
 * sizes come from clients' images). */
void *bigmem_alloc(size_t n);
/* bigmem_zalloc is bigmem_alloc with the bytes zeroed. */
void *bigmem_zalloc(size_t n);
/* bigmem_realloc is realloc for these buffers (p NULL: alloc; the first
 * min(old, n) bytes are kept; NULL on failure, p then untouched). */
void *bigmem_realloc(void *p, size_t n);
void bigmem_free(void *p);
/* bigmem_maps: 1 when buffers from BIGMEM_HUGE_MIN on are mapped with huge
 * pages, 0 in an AddressSanitizer build (all from the C allocator). */
int bigmem_maps(void);

#endif
