/*
 * fuzz_memfile.h - the fuzz targets whose code under test reads a file by
 * path (safetensors_open, clip_config_load, image_preprocess_config_load)
 * get the input as an anonymous in-memory file, /proc/self/fd/N: nothing
 * touches the disk and nothing is left behind.
 */
#ifndef VITRINE_FUZZ_MEMFILE_H
#define VITRINE_FUZZ_MEMFILE_H

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/* memfile_open writes data into a new memfd and its path into path;
 * returns the descriptor (close it when done). Dies when it cannot. */
static int memfile_open(const void *data, size_t size, char *path, size_t cap)
{
    int fd = memfd_create("fuzz", 0);
    if (fd < 0) {
        perror("memfd_create");
        abort();
    }
    const char *p = data;
    size_t left = size;
    while (left) {
        ssize_t n = write(fd, p, left);
        if (n <= 0) abort();
        p += n;
        left -= (size_t)n;
    }
    snprintf(path, cap, "/proc/self/fd/%d", fd);
    return fd;
}

#endif
