/*
 * NumPy .npy reader and writer (see gnn_npy.h for the layout).
 */
#include "gnn_npy.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the .npy code writes host floats as little-endian"
#endif

static const char magic[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};

size_t gnn_npy_dtype_size(enum gnn_npy_dtype dtype)
{
    switch (dtype) {
    case GNN_NPY_F32:
    case GNN_NPY_I32:
        return 4;
    case GNN_NPY_I64:
        return 8;
    }
    return 0;
}

const char *gnn_npy_dtype_name(enum gnn_npy_dtype dtype)
{
    switch (dtype) {
    case GNN_NPY_F32:
        return "<f4";
    case GNN_NPY_I32:
        return "<i4";
    case GNN_NPY_I64:
        return "<i8";
    }
    return "?";
}

/* Product of shape * elem_size into *bytes; -1 when it overflows. */
static int shape_bytes(int ndim, const int64_t *shape, size_t elem_size,
                       size_t *bytes)
{
    uint64_t total = elem_size;

    for (int d = 0; d < ndim; d++) {
        uint64_t n = (uint64_t)shape[d];
        if (shape[d] < 0 || (n != 0 && total > (uint64_t)SIZE_MAX / n / 2))
            return -1;
        total *= n;
    }
    *bytes = (size_t)total;
    return 0;
}

/* ------------------------------------------------------------ writing */

int gnn_npy_header(enum gnn_npy_dtype dtype, int ndim, const int64_t *shape,
                   char *buf, size_t *len, struct gnn_error *err)
{
    char dict[GNN_NPY_HEADER_MAX];
    size_t bytes;
    int n;

    if (gnn_npy_dtype_size(dtype) == 0 || ndim < 1 || ndim > GNN_NPY_MAX_DIMS)
        return gnn_error_set(err, GNN_EINVAL, "npy: bad dtype or ndim %d",
                             ndim);
    if (shape_bytes(ndim, shape, gnn_npy_dtype_size(dtype), &bytes) != 0)
        return gnn_error_set(err, GNN_EINVAL, "npy: bad shape");

    if (ndim == 1)
        n = snprintf(dict, sizeof(dict),
                     "{'descr': '%s', 'fortran_order': False, "
                     "'shape': (%lld,), }",
                     gnn_npy_dtype_name(dtype), (long long)shape[0]);
    else
        n = snprintf(dict, sizeof(dict),
                     "{'descr': '%s', 'fortran_order': False, "
                     "'shape': (%lld, %lld), }",
                     gnn_npy_dtype_name(dtype), (long long)shape[0],
                     (long long)shape[1]);

    /* magic(6) + version(2) + length(2) + dict + padding + '\n' */
    size_t total = 10 + (size_t)n + 1;
    total = (total + 63) / 64 * 64;
    if (n < 0 || total > GNN_NPY_HEADER_MAX)
        return gnn_error_set(err, GNN_EINVAL, "npy: header too long");

    memcpy(buf, magic, 6);
    buf[6] = 1;
    buf[7] = 0;
    buf[8] = (char)((total - 10) & 0xff);
    buf[9] = (char)((total - 10) >> 8);
    memcpy(buf + 10, dict, (size_t)n);
    memset(buf + 10 + n, ' ', total - 10 - (size_t)n - 1);
    buf[total - 1] = '\n';
    *len = total;
    return 0;
}

static uint32_t crc_update(uint32_t crc, const void *p, size_t len)
{
    const unsigned char *b = p;

    /* zlib takes uInt lengths: feed large buffers in pieces. */
    while (len > 0) {
        uInt chunk = len > (1u << 30) ? (1u << 30) : (uInt)len;
        crc = (uint32_t)crc32(crc, b, chunk);
        b += chunk;
        len -= chunk;
    }
    return crc;
}

uint32_t gnn__crc32(const void *buf, size_t len)
{
    return crc_update(0, buf, len);
}

static int write_all(int fd, const void *p, size_t len)
{
    const char *b = p;

    while (len > 0) {
        ssize_t w = write(fd, b, len > (1u << 30) ? (1u << 30) : len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        b += w;
        len -= (size_t)w;
    }
    return 0;
}

int gnn__file_write(const char *path, int excl, const void *const *parts,
                    const size_t *lens, int n_parts, uint32_t *crc,
                    struct gnn_error *err)
{
    int flags = O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | (excl ? O_EXCL : 0);
    int fd = open(path, flags, 0644);

    if (fd < 0)
        return gnn_error_set(err, GNN_EIO, "cannot create '%s': %s", path,
                             strerror(errno));
    for (int i = 0; i < n_parts; i++) {
        if (write_all(fd, parts[i], lens[i]) != 0)
            goto fail;
        if (crc != NULL)
            *crc = crc_update(*crc, parts[i], lens[i]);
    }
    if (fsync(fd) != 0)
        goto fail;
    if (close(fd) != 0) {
        fd = -1;
        goto fail;
    }
    return 0;

fail:
    gnn_error_set(err, GNN_EIO, "cannot write '%s': %s", path, strerror(errno));
    if (fd >= 0)
        close(fd);
    return GNN_EIO;
}

int gnn_npy_save(const char *path, enum gnn_npy_dtype dtype, int ndim,
                 const int64_t *shape, const void *data, struct gnn_error *err)
{
    char header[GNN_NPY_HEADER_MAX];
    size_t header_len, data_len = 0;
    int ret = gnn_npy_header(dtype, ndim, shape, header, &header_len, err);

    if (ret != 0)
        return ret;
    shape_bytes(ndim, shape, gnn_npy_dtype_size(dtype), &data_len);

    const void *parts[2] = {header, data};
    size_t lens[2] = {header_len, data_len};
    return gnn__file_write(path, 0, parts, lens, 2, NULL, err);
}

/* ------------------------------------------------------------ reading */

int gnn__file_read_at(int dirfd, const char *name, const char *path,
                      size_t max_bytes, char **buf, size_t *len,
                      struct gnn_error *err)
{
    struct stat st;
    char *data = NULL;
    size_t got = 0;
    int ret;
    int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return gnn_error_set(err, errno == ENOENT ? GNN_ENOENT : GNN_EIO,
                             "cannot open '%s': %s", path, strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ret =
            gnn_error_set(err, GNN_EFORMAT, "'%s' is not a regular file", path);
        goto out;
    }
    if ((uint64_t)st.st_size > max_bytes) {
        ret = gnn_error_set(err, GNN_EFORMAT, "'%s' is too large (%lld bytes)",
                            path, (long long)st.st_size);
        goto out;
    }
    data = malloc((size_t)st.st_size + 1);
    if (data == NULL) {
        ret =
            gnn_error_set(err, GNN_ENOMEM, "cannot read '%s': no memory", path);
        goto out;
    }
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, data + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            ret = gnn_error_set(err, GNN_EIO, "cannot read '%s': %s", path,
                                strerror(errno));
            goto out;
        }
        if (r == 0)
            break; /* shrank while we read: what we have is the file */
        got += (size_t)r;
    }
    data[got] = '\0';
    *buf = data;
    *len = got;
    data = NULL;
    ret = 0;

out:
    free(data);
    close(fd);
    return ret;
}

int gnn__file_read(const char *path, size_t max_bytes, char **buf, size_t *len,
                   struct gnn_error *err)
{
    return gnn__file_read_at(AT_FDCWD, path, path, max_bytes, buf, len, err);
}

/* A cursor over the header dict text. */
struct cursor {
    const char *p;
    const char *end;
};

static void skip_space(struct cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
        c->p++;
}

static int expect(struct cursor *c, char ch)
{
    skip_space(c);
    if (c->p >= c->end || *c->p != ch)
        return -1;
    c->p++;
    return 0;
}

/* A quoted string ('...' or "...") into out (cap bytes). */
static int parse_string(struct cursor *c, char *out, size_t cap)
{
    size_t n = 0;

    skip_space(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"'))
        return -1;
    char q = *c->p++;
    while (c->p < c->end && *c->p != q) {
        if (n + 1 >= cap)
            return -1;
        out[n++] = *c->p++;
    }
    if (c->p >= c->end)
        return -1;
    c->p++;
    out[n] = '\0';
    return 0;
}

static int parse_word(struct cursor *c, const char *word)
{
    size_t n = strlen(word);

    skip_space(c);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n) != 0)
        return -1;
    c->p += n;
    return 0;
}

/* A tuple of non-negative ints "(a, b)", "(a,)" or "()". */
static int parse_shape(struct cursor *c, struct gnn_npy_info *info)
{
    if (expect(c, '(') != 0)
        return -1;
    info->ndim = 0;
    for (;;) {
        skip_space(c);
        if (c->p < c->end && *c->p == ')') {
            c->p++;
            return 0;
        }
        if (c->p >= c->end || *c->p < '0' || *c->p > '9')
            return -1;
        int64_t v = 0;
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
            if (v > (INT64_MAX - 9) / 10)
                return -1;
            v = v * 10 + (*c->p++ - '0');
        }
        if (info->ndim >= GNN_NPY_MAX_DIMS)
            return -1;
        info->shape[info->ndim++] = v;
        skip_space(c);
        if (c->p < c->end && *c->p == ',')
            c->p++;
        else if (c->p >= c->end || *c->p != ')')
            return -1;
    }
}

static int parse_dict(struct cursor *c, struct gnn_npy_info *info)
{
    char key[32], descr[16];
    int seen = 0;

    if (expect(c, '{') != 0)
        return -1;
    for (;;) {
        skip_space(c);
        if (c->p < c->end && *c->p == '}')
            break;
        if (parse_string(c, key, sizeof(key)) != 0 || expect(c, ':') != 0)
            return -1;
        if (strcmp(key, "descr") == 0) {
            if (parse_string(c, descr, sizeof(descr)) != 0)
                return -1;
            if (strcmp(descr, "<f4") == 0)
                info->dtype = GNN_NPY_F32;
            else if (strcmp(descr, "<i4") == 0)
                info->dtype = GNN_NPY_I32;
            else if (strcmp(descr, "<i8") == 0)
                info->dtype = GNN_NPY_I64;
            else
                return -1;
            seen |= 1;
        } else if (strcmp(key, "fortran_order") == 0) {
            if (parse_word(c, "False") != 0)
                return -1; /* Fortran order is not supported */
            seen |= 2;
        } else if (strcmp(key, "shape") == 0) {
            if (parse_shape(c, info) != 0)
                return -1;
            seen |= 4;
        } else {
            return -1;
        }
        skip_space(c);
        if (c->p < c->end && *c->p == ',')
            c->p++;
    }
    return seen == 7 ? 0 : -1;
}

int gnn_npy_parse(const void *buf, size_t len, const char *name,
                  struct gnn_npy_info *info, struct gnn_error *err)
{
    const unsigned char *b = buf;
    size_t dict_len, start;

    memset(info, 0, sizeof(*info));
    if (len < 10 || memcmp(b, magic, 6) != 0)
        return gnn_error_set(err, GNN_EFORMAT, "%s: not a .npy file", name);
    if (b[6] == 1) {
        dict_len = (size_t)b[8] | (size_t)b[9] << 8;
        start = 10;
    } else if ((b[6] == 2 || b[6] == 3) && len >= 12) {
        dict_len = (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 |
                   (size_t)b[11] << 24;
        start = 12;
    } else {
        return gnn_error_set(err, GNN_EFORMAT,
                             "%s: unsupported .npy version %d.%d", name, b[6],
                             b[7]);
    }
    if (dict_len > len - start)
        return gnn_error_set(err, GNN_EFORMAT, "%s: truncated .npy header",
                             name);

    struct cursor c = {(const char *)b + start,
                       (const char *)b + start + dict_len};
    if (parse_dict(&c, info) != 0 || info->ndim < 1)
        return gnn_error_set(err, GNN_EFORMAT,
                             "%s: unsupported .npy header (need '<f4', "
                             "'<i4' or '<i8', C order, 1 or 2 dimensions)",
                             name);

    info->data_offset = start + dict_len;
    if (shape_bytes(info->ndim, info->shape, gnn_npy_dtype_size(info->dtype),
                    &info->data_bytes) != 0)
        return gnn_error_set(err, GNN_EFORMAT, "%s: shape is too large", name);
    if (info->data_bytes != len - info->data_offset)
        return gnn_error_set(err, GNN_EFORMAT,
                             "%s: data is %zu bytes, the shape needs %zu", name,
                             len - info->data_offset, info->data_bytes);
    return 0;
}

int gnn_npy_load(const char *path, struct gnn_npy_array *out,
                 struct gnn_error *err)
{
    char *buf = NULL;
    size_t len;
    int ret;

    memset(out, 0, sizeof(*out));
    ret = gnn__file_read(path, SIZE_MAX / 2, &buf, &len, err);
    if (ret != 0)
        return ret;
    ret = gnn_npy_parse(buf, len, path, &out->info, err);
    if (ret != 0)
        goto out;

    out->data = malloc(out->info.data_bytes ? out->info.data_bytes : 1);
    if (out->data == NULL) {
        ret = gnn_error_set(err, GNN_ENOMEM, "%s: no memory", path);
        goto out;
    }
    memcpy(out->data, buf + out->info.data_offset, out->info.data_bytes);

out:
    free(buf);
    if (ret != 0)
        gnn_npy_free(out);
    return ret;
}

void gnn_npy_free(struct gnn_npy_array *a)
{
    free(a->data);
    memset(a, 0, sizeof(*a));
}
