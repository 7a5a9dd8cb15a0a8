/*
 * image_stbw.c - the one compilation unit that holds stb_image_write's
 * implementation, for image_thumbnail_jpeg (image.c): memory output only
 * (STBI_WRITE_NO_STDIO), the JPEG writer being the one used.
 *
 * A file of its own, apart from stb_image's (image_stb.c), for one
 * reason: stb_image_write's JPEG bit writer (stbiw__jpg_writeBits) shifts
 * a signed int past its top bit, which C11 leaves undefined and UBSan
 * reports (shift-base), though every compiler we build with gives the
 * two's-complement result it expects. The Makefile turns that one check
 * off for this file only, so the decoder's code keeps every check.
 *
 * Third-party code compiled as shipped by Debian; the pragmas silence
 * warnings from our strict set that we cannot fix in it.
 */
#define STBI_WRITE_NO_STDIO
#define STB_IMAGE_WRITE_IMPLEMENTATION

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wmissing-prototypes"
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#include <stdlib.h>
#include <stb/stb_image_write.h>
#pragma GCC diagnostic pop
