/*
 * A small pthread pool for data-parallel kernels.
 *
 * A kernel is fn(ith, nth, ctx): thread ith of nth computes its own slice
 * of the work and writes rows that no other thread touches, so results do
 * not depend on scheduling. The calling thread runs slice 0 itself.
 */
#ifndef GNN_POOL_H
#define GNN_POOL_H

#include <stdint.h>

#include "gnn_err.h"

typedef void (*gnn_task_fn)(int ith, int nth, void *ctx);

struct gnn_pool;

/*
 * Start a pool of nth threads (the caller counts as one, so nth - 1 are
 * created); nth in 1..256, else GNN_EINVAL. Also limits OpenBLAS to one
 * thread per call, since the pool splits BLAS work itself. Free with
 * gnn_pool_free().
 */
int gnn_pool_new(int nth, struct gnn_pool **out, struct gnn_error *err);

/* Stop and join the threads and free p; p may be NULL. */
void gnn_pool_free(struct gnn_pool *p);

/* Number of threads of p (1 when p is NULL). */
int gnn_pool_size(const struct gnn_pool *p);

/*
 * Run fn(ith, nth, ctx) for ith in 0..nth-1 and return once all are done.
 * With p NULL runs fn(0, 1, ctx). Not reentrant: one run at a time.
 */
void gnn_pool_run(struct gnn_pool *p, gnn_task_fn fn, void *ctx);

/*
 * Split [0, n) into nth near-equal parts; part ith is [*lo, *hi).
 */
void gnn_split_range(int64_t n, int ith, int nth, int64_t *lo, int64_t *hi);

#endif
