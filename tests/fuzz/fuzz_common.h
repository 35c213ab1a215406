/*
 * Helpers shared by the file-loader harnesses: a private folder on tmpfs
 * when there is one (a harness rewrites its input file some ten thousand
 * times a second), and writing a fuzz input there as a file.
 */
#ifndef HOPREC_FUZZ_COMMON_H
#define HOPREC_FUZZ_COMMON_H

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Create a fresh folder named after tag; aborts on failure (a harness
 * that cannot set up must not report a clean run). */
static inline void fuzz_tmpdir(const char *tag, char *dir, size_t size)
{
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";

    snprintf(dir, size, "%s/hoprec-fuzz-%s-XXXXXX", base, tag);
    if (mkdtemp(dir) == NULL)
        abort();
}

/* Write the n bytes of data as path (replacing it); aborts on failure. */
static inline void fuzz_write_file(const char *path, const void *data, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const char *p = data;

    if (fd < 0)
        abort();
    while (n > 0) {
        ssize_t w = write(fd, p, n);

        if (w <= 0)
            abort();
        p += w;
        n -= (size_t)w;
    }
    close(fd);
}

#endif
