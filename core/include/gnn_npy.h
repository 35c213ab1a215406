/*
 * NumPy .npy files (format version 1.0) for the three element types the
 * core stores: little-endian float32 ('<f4'), int32 ('<i4') and int64
 * ('<i8'), in C order, with one or two dimensions.
 *
 * A file is the magic "\x93NUMPY", the version bytes 1 0, a little-endian
 * uint16 header length, then an ASCII Python dict such as
 * "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }" padded
 * with spaces and a final '\n' so that the data starts at a multiple of 64
 * bytes, as NumPy itself writes it. The reader also accepts version 2.0
 * and 3.0 headers (uint32 length) and any key order and spacing.
 */
#ifndef GNN_NPY_H
#define GNN_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "gnn_err.h"

enum gnn_npy_dtype {
    GNN_NPY_F32 = 1, /* '<f4' */
    GNN_NPY_I32 = 2, /* '<i4' */
    GNN_NPY_I64 = 3, /* '<i8' */
};

#define GNN_NPY_MAX_DIMS 2

/* Longest header gnn_npy_header() writes, magic and padding included. */
#define GNN_NPY_HEADER_MAX 128

/* Bytes of one element of dtype (4 or 8); 0 for an unknown dtype. */
size_t gnn_npy_dtype_size(enum gnn_npy_dtype dtype);

/* NumPy's descr text of dtype ("<f4"); "?" for an unknown dtype. */
const char *gnn_npy_dtype_name(enum gnn_npy_dtype dtype);

/* What a header says: element type and shape. */
struct gnn_npy_info {
    enum gnn_npy_dtype dtype;
    int ndim;                        /* 1 or 2 */
    int64_t shape[GNN_NPY_MAX_DIMS]; /* first ndim entries used */
    size_t data_offset;              /* bytes before the data */
    size_t data_bytes;               /* product of shape * element size */
};

/*
 * Write the header of an array of dtype with ndim dimensions shape[0..ndim)
 * into buf (at least GNN_NPY_HEADER_MAX bytes) and set *len to its length,
 * a multiple of 64. GNN_EINVAL for a bad dtype, ndim or negative size.
 */
int gnn_npy_header(enum gnn_npy_dtype dtype, int ndim, const int64_t *shape,
                   char *buf, size_t *len, struct gnn_error *err);

/*
 * Parse the header at the start of the len bytes at buf, where len is the
 * whole file's size, and check that the data that follows has exactly the
 * size the shape implies (so a truncated file or a huge claimed shape is
 * caught before anything is allocated). name is used in error texts.
 * GNN_EFORMAT for anything malformed or unsupported (big-endian, Fortran
 * order, another dtype, more than two dimensions).
 */
int gnn_npy_parse(const void *buf, size_t len, const char *name,
                  struct gnn_npy_info *info, struct gnn_error *err);

/* An array read from a file; data is owned (free with gnn_npy_free). */
struct gnn_npy_array {
    struct gnn_npy_info info;
    void *data; /* info.data_bytes bytes, element type info.dtype */
};

/*
 * Write the array (data holds the product of shape elements of dtype) to
 * path, replacing it; the file is fsynced before close. Errors: GNN_EINVAL,
 * GNN_EIO (naming the path).
 */
int gnn_npy_save(const char *path, enum gnn_npy_dtype dtype, int ndim,
                 const int64_t *shape, const void *data, struct gnn_error *err);

/*
 * Read path into out (overwritten). Errors: GNN_ENOENT, GNN_EIO,
 * GNN_ENOMEM, GNN_EFORMAT naming the path. On error out holds nothing.
 */
int gnn_npy_load(const char *path, struct gnn_npy_array *out,
                 struct gnn_error *err);

/* Release out->data and zero out; out may hold nothing already. */
void gnn_npy_free(struct gnn_npy_array *a);

/*
 * Private to the core (shared with snapshot.c): whole-file helpers.
 *
 * gnn__file_read() reads path into a new buffer (*buf, freed by the
 * caller; *len bytes plus a NUL after them), refusing files over max_bytes
 * with GNN_EFORMAT; gnn__file_read_at() opens name relative to the folder
 * dirfd (or AT_FDCWD) and names it path in errors.
 *
 * gnn__file_write() creates path (O_EXCL when excl), writes the n_parts
 * buffers parts[i] of lens[i] bytes, fsyncs and closes it, and adds the
 * bytes' CRC-32 to *crc when crc is not NULL. gnn__crc32() is zlib's
 * CRC-32 of a buffer.
 */
int gnn__file_read(const char *path, size_t max_bytes, char **buf, size_t *len,
                   struct gnn_error *err);
int gnn__file_read_at(int dirfd, const char *name, const char *path,
                      size_t max_bytes, char **buf, size_t *len,
                      struct gnn_error *err);
uint32_t gnn__crc32(const void *buf, size_t len);
int gnn__file_write(const char *path, int excl, const void *const *parts,
                    const size_t *lens, int n_parts, uint32_t *crc,
                    struct gnn_error *err);

#endif
