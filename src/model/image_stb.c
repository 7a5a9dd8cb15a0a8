/*
 * image_stb.c - the one compilation unit that holds stb_image's
 * implementation, configured for the formats image.c accepts.
 *
 * Only JPEG, PNG, GIF and BMP are compiled in: every other stb loader (PSD,
 * HDR, PIC, PNM, TGA) is attack surface for uploads that CLIP users do not
 * send. No stdio (image.c reads files itself, with a size limit), no HDR or
 * linear-light conversion. Allocation goes through base/bigmem.h (a
 * photo's planes and pixels on huge pages; see there why), which is why
 * image_free releases stb's buffers with bigmem_free.
 *
 * stb_image is third-party code compiled as shipped by Debian; the pragmas
 * below silence warnings from our strict set that we cannot fix in it.
 * The configuration macros must match the ones image.c defines before it
 * includes the same header for the declarations.
 */
#define STBI_NO_STDIO
#define STBI_NO_LINEAR
#define STBI_NO_HDR
#define STBI_ONLY_JPEG
#define STBI_ONLY_PNG
#define STBI_ONLY_GIF
#define STBI_ONLY_BMP
#define STBI_MALLOC(sz) bigmem_alloc(sz)
#define STBI_REALLOC(p, newsz) bigmem_realloc(p, newsz)
#define STBI_FREE(p) bigmem_free(p)
#define STB_IMAGE_IMPLEMENTATION

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wmissing-prototypes"
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#include <stdlib.h>
#include "base/bigmem.h"
#include <stb/stb_image.h>
#pragma GCC diagnostic pop
