/*
 * Over-smoothing diagnostics: how far apart node embeddings stay, hop by
 * hop, so that depth's effect is measured rather than guessed.
 *
 * For a node table x (n rows of d floats):
 *   std     the mean over columns of the standard deviation across
 *           rows, divided by the root mean square of all entries, so
 *           that a table's scale does not count: 0 when every row is
 *           the same vector, about 1 for rows spread around zero;
 *   mad     the mean cosine distance 1 - cos(x_a, x_b) over pairs of
 *           distinct non-zero rows of a fixed random sample (all rows
 *           when the sample is 0 or covers them), computed exactly from
 *           the sum of the normalized rows; 0 when all rows point the
 *           same way;
 *   energy  the Dirichlet energy per node, (1/n) sum over undirected
 *           edges (a, b) of |x_a / sqrt(1 + deg a) - x_b / sqrt(1 +
 *           deg b)|^2, deg the number of neighbours.
 */
#ifndef GNN_DIAG_H
#define GNN_DIAG_H

#include <stdint.h>

#include "gnn_csr.h"
#include "gnn_err.h"
#include "gnn_model.h"

/* Final embeddings whose std is below this are flagged as smoothed. */
#define GNN_DIAG_STD_MIN 0.1
/* ... or whose MAD is: rows that share one direction at different norms
 * keep their std (gcn at 8 layers on LastFM: std 0.43, MAD 0.15). */
#define GNN_DIAG_MAD_MIN 0.2

struct gnn_diag {
    int32_t hop; /* 0..K, or -1 for the final outputs */
    double std;
    double mad;
    double energy;
    int64_t n_rows;
};

/*
 * Diagnostics of x (n_rows x d, row-major) into out. Edges are the
 * entries of adj's rows below n_rows whose columns are below n_rows
 * (adj may be NULL: energy 0). sample picks that many rows for MAD by
 * seed (0: all). GNN_EINVAL for bad shapes, GNN_ENOMEM.
 */
int gnn_diag_table(const float *x, int32_t n_rows, int32_t d,
                   const struct gnn_csr *adj, int32_t sample, uint64_t seed,
                   struct gnn_diag *out, struct gnn_error *err);

/*
 * Diagnostics of every hop of m (through ops->hop) into out[0..*n_out-1]
 * (at most max entries), over m's graph; then one more entry, hop -1,
 * for the final outputs (user_out then item_out rows). Models without
 * hops give only the final entry. max must be >= 1. GNN_EINVAL,
 * GNN_ENOMEM.
 */
int gnn_diag_model(const struct gnn_model *m, int32_t sample, uint64_t seed,
                   struct gnn_diag *out, int32_t max, int32_t *n_out,
                   struct gnn_error *err);

/* True when the final outputs' std is below std_min or their MAD below
 * mad_min (the guard; pass 0 to skip either test). */
int gnn_diag_smoothed(const struct gnn_diag *final, double std_min,
                      double mad_min);

#endif
