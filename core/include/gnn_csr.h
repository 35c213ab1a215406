/*
 * Sparse matrices in compressed sparse row form, and the sparse-dense
 * product (SpMM) that propagates embeddings over a graph.
 *
 * Row r holds the entries row_ptr[r] .. row_ptr[r+1]-1 of col_idx/val,
 * with column indices strictly increasing within a row. Row pointers are
 * 64-bit so that a graph may hold more than 2^31 edges; column indices
 * are 32-bit, which halves the index traffic of the SpMM.
 */
#ifndef GNN_CSR_H
#define GNN_CSR_H

#include <stdint.h>

#include "gnn_err.h"
#include "gnn_pool.h"

struct gnn_csr {
    int32_t n_rows;
    int32_t n_cols;
    int64_t nnz;
    int64_t *row_ptr; /* length n_rows + 1; row_ptr[n_rows] == nnz */
    int32_t *col_idx; /* length nnz, each in 0..n_cols-1 */
    float *val;       /* length nnz */
};

/*
 * Build out from nnz coordinates (rows[i], cols[i], vals[i]); vals may be
 * NULL for all ones. Duplicate coordinates are merged by summing their
 * values. GNN_ERANGE when a coordinate is outside n_rows x n_cols,
 * GNN_ENOMEM. out is overwritten; free it with gnn_csr_free().
 */
int gnn_csr_from_coo(int32_t n_rows, int32_t n_cols, int64_t nnz,
                     const int32_t *rows, const int32_t *cols,
                     const float *vals, struct gnn_csr *out,
                     struct gnn_error *err);

/* out = a transposed (n_cols x n_rows); GNN_ENOMEM. Free with _free. */
int gnn_csr_transpose(const struct gnn_csr *a, struct gnn_csr *out,
                      struct gnn_error *err);

/* Release the arrays of a (a itself is the caller's) and zero it. */
void gnn_csr_free(struct gnn_csr *a);

/* True when row r has column c (binary search). */
int gnn_csr_has(const struct gnn_csr *a, int32_t r, int32_t c);

/*
 * y = a x + beta z, where x is n_cols x d, y and z are n_rows x d, all
 * row-major; z may be NULL (then beta is ignored). y must not overlap x.
 * Threads of pool take rows balanced by their entries, each writing its
 * own rows, so the result is the same for any thread count.
 */
void gnn_csr_spmm(const struct gnn_csr *a, const float *x, int32_t d, float *y,
                  const float *z, float beta, struct gnn_pool *pool);

/*
 * gnn_csr_spmm skipping the entries whose column c has mask[c] == 0
 * (mask: n_cols bytes). Exact when those rows of x are zero, as they are
 * for a gradient that lives on a few rows only: the skipped products
 * would add zeros, and their x rows are never fetched.
 */
void gnn_csr_spmm_masked(const struct gnn_csr *a, const float *x, int32_t d,
                         float *y, const float *z, float beta,
                         const uint8_t *mask, struct gnn_pool *pool);

/*
 * gnn_csr_spmm for the n_rows rows listed in rows (distinct, each in
 * 0..a->n_rows-1) only; the other rows of y are left as they were. Each
 * listed row gets the same bits as from gnn_csr_spmm.
 */
void gnn_csr_spmm_rows(const struct gnn_csr *a, const float *x, int32_t d,
                       float *y, const float *z, float beta,
                       const int32_t *rows, int32_t n_rows,
                       struct gnn_pool *pool);

/*
 * Rows [*lo, *hi) of a that thread ith of nth handles in gnn_csr_spmm:
 * contiguous ranges with about equal nnz + rows.
 */
void gnn_csr_split(const struct gnn_csr *a, int ith, int nth, int32_t *lo,
                   int32_t *hi);

#endif
