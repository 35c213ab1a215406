/*
 * Helpers shared by the file-loader harnesses: a private folder on tmpfs
 * when there is one (a harness rewrites its input file some ten thousand
 * times a second, and SQLite's fsync on a real disk would dominate), and
 * writing a fuzz input there as a file. The folder is removed when the
 * harness exits normally; after a crash it is left for inspection.
 */
#ifndef HOPREC_FUZZ_COMMON_H
#define HOPREC_FUZZ_COMMON_H

#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char fuzz_tmpdir_path[64];

static inline int fuzz_remove_entry(const char *path, const struct stat *st,
                                    int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static inline void fuzz_tmpdir_remove(void)
{
    if (fuzz_tmpdir_path[0] != '\0')
        nftw(fuzz_tmpdir_path, fuzz_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Create a fresh folder named after tag (one per harness process),
 * removed at exit; aborts on failure (a harness that cannot set up must
 * not report a clean run). */
static inline void fuzz_tmpdir(const char *tag, char *dir, size_t size)
{
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";

    snprintf(dir, size, "%s/hoprec-fuzz-%s-XXXXXX", base, tag);
    if (mkdtemp(dir) == NULL)
        abort();
    if (fuzz_tmpdir_path[0] == '\0' && strlen(dir) < sizeof(fuzz_tmpdir_path)) {
        strcpy(fuzz_tmpdir_path, dir);
        atexit(fuzz_tmpdir_remove);
    }
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
