/*
 * The weighted user-item bipartite graph and its normalized adjacency.
 *
 * Nodes are users 0..n_users-1 followed by items, item i being node
 * n_users + i. The adjacency A is symmetric (an interaction is an edge
 * both ways, weighted by the interaction's weight); propagation uses
 * D^-a A D^-b with D the weighted degrees (a = b = 1/2 is the symmetric
 * normalization of GCN and LightGCN).
 */
#ifndef GNN_GRAPH_H
#define GNN_GRAPH_H

#include "gnn_csr.h"
#include "gnn_data.h"

struct gnn_graph {
    int32_t n_users;
    int32_t n_items;
    int32_t n_nodes;      /* n_users + n_items */
    float norm_a;         /* exponent of the row degrees */
    float norm_b;         /* exponent of the column degrees */
    struct gnn_csr ui;    /* n_users x n_items training weights, duplicates
                             summed; used to sample, mask and count */
    struct gnn_csr iu;    /* ui transposed: n_items x n_users */
    struct gnn_csr adj;   /* n_nodes x n_nodes, D^-a A D^-b */
    struct gnn_csr adj_t; /* adj transposed when a != b, else empty (use
                             gnn_graph_adj_t) */
};

/*
 * Build g from the training interactions over n_users x n_items (which
 * may exceed the ids in train: users or items seen only in other splits
 * get isolated nodes). GNN_EINVAL for a bad exponent (outside 0..1),
 * GNN_ERANGE for an id over the counts, GNN_ENOMEM. Free with
 * gnn_graph_free().
 */
int gnn_graph_build(const struct gnn_interactions *train, int32_t n_users,
                    int32_t n_items, float a, float b, struct gnn_graph *g,
                    struct gnn_error *err);

/* Release what gnn_graph_build() allocated; g may be zeroed. */
void gnn_graph_free(struct gnn_graph *g);

/* The transpose of g->adj (g->adj itself when symmetric). */
const struct gnn_csr *gnn_graph_adj_t(const struct gnn_graph *g);

/*
 * out = D_r^-a m D_c^-b for a square or rectangular m, with D_r its row
 * sums and D_c its column sums; rows or columns summing to zero (or
 * less) get a zero factor. Free out with gnn_csr_free().
 */
int gnn_csr_normalize(const struct gnn_csr *m, float a, float b,
                      struct gnn_csr *out, struct gnn_error *err);

#endif
