/*
 * Dense row-major kernels over OpenBLAS, split by rows over a pool so
 * that every thread count gives the same bits.
 */
#ifndef GNN_DENSE_H
#define GNN_DENSE_H

#include <stdint.h>

#include "gnn_pool.h"

/*
 * c = a b (trans_b 0) or a b^T (trans_b 1), + beta c. a is m x k; b is
 * k x n, or n x k when transposed; c is m x n. Rows of c are split over
 * the pool's threads.
 */
void gnn_dense_gemm(int32_t m, int32_t n, int32_t k, const float *a,
                    const float *b, int trans_b, float beta, float *c,
                    struct gnn_pool *pool);

/*
 * c = a^T b with a (k x m) and b (k x n) tall: the k rows are cut into
 * fixed chunks whose partial products are summed in chunk order, so the
 * result does not depend on the thread count. c is m x n; scratch holds
 * gnn_dense_gemm_tn_scratch(m, n, k) floats.
 */
void gnn_dense_gemm_tn(int32_t m, int32_t n, int64_t k, const float *a,
                       const float *b, float *c, float *scratch,
                       struct gnn_pool *pool);

/* Floats of scratch that gnn_dense_gemm_tn(m, n, k, ...) needs. */
int64_t gnn_dense_gemm_tn_scratch(int32_t m, int32_t n, int64_t k);

/* y = max(x, 0) elementwise over n floats (y may be x). */
void gnn_relu(int64_t n, const float *x, float *y);

/* g[i] = 0 where y[i] <= 0 (the ReLU backward, y its output), n floats. */
void gnn_relu_backward(int64_t n, const float *y, float *g);

#endif
