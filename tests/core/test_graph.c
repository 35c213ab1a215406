#include <criterion/criterion.h>
#include <math.h>

#include "gnn.h"

/* u0: i0, i1;  u1: i1 (weight 3);  item 2 only exists as a cold node. */
static void small(float a, float b, struct gnn_graph *g)
{
    struct gnn_interactions x;

    gnn_interactions_init(&x);
    gnn_interactions_push(&x, 0, 0, 1, 0, NULL);
    gnn_interactions_push(&x, 0, 1, 1, 0, NULL);
    gnn_interactions_push(&x, 1, 1, 3, 0, NULL);
    cr_assert_eq(gnn_graph_build(&x, 2, 3, a, b, g, NULL), 0);
    gnn_interactions_free(&x);
}

static float entry(const struct gnn_csr *m, int32_t r, int32_t c)
{
    for (int64_t k = m->row_ptr[r]; k < m->row_ptr[r + 1]; k++) {
        if (m->col_idx[k] == c)
            return m->val[k];
    }
    return 0.0f;
}

Test(graph, symmetric_normalization_divides_by_both_degrees)
{
    struct gnn_graph g;

    small(0.5f, 0.5f, &g);
    cr_assert_eq(g.n_nodes, 5);
    cr_assert_eq(g.adj.nnz, 6);
    /* degrees: u0 2, u1 3, i0 1, i1 4 (node 3), cold i2 0 */
    cr_assert_float_eq(entry(&g.adj, 0, 2), 1 / sqrtf(2 * 1), 1e-6);
    cr_assert_float_eq(entry(&g.adj, 1, 3), 3 / sqrtf(3 * 4), 1e-6);
    cr_assert_float_eq(entry(&g.adj, 3, 0), 1 / sqrtf(4 * 2), 1e-6);
    cr_assert_eq(g.adj.row_ptr[5] - g.adj.row_ptr[4], 0, "cold item row");
    cr_assert_eq(gnn_graph_adj_t(&g), &g.adj, "symmetric: no copy");
    gnn_graph_free(&g);
}

Test(graph, general_exponents_scale_rows_and_columns_apart)
{
    struct gnn_graph g;

    small(1.0f, 0.0f, &g); /* row-stochastic: D^-1 A */
    for (int32_t r = 0; r < 4; r++) {
        float s = 0;
        for (int64_t k = g.adj.row_ptr[r]; k < g.adj.row_ptr[r + 1]; k++)
            s += g.adj.val[k];
        cr_assert_float_eq(s, 1.0f, 1e-6, "row %d sums to %g", r, s);
    }
    const struct gnn_csr *t = gnn_graph_adj_t(&g);
    cr_assert_neq(t, &g.adj);
    cr_assert_float_eq(entry(t, 2, 0), entry(&g.adj, 0, 2), 0);
    gnn_graph_free(&g);
}

Test(graph, bad_exponents_and_ids_are_refused)
{
    struct gnn_interactions x;
    struct gnn_graph g;
    struct gnn_error err;

    gnn_interactions_init(&x);
    gnn_interactions_push(&x, 0, 4, 1, 0, NULL);
    cr_assert_eq(gnn_graph_build(&x, 1, 5, 1.5f, 0.5f, &g, &err), GNN_EINVAL);
    cr_assert_eq(gnn_graph_build(&x, 1, 3, 0.5f, 0.5f, &g, &err), GNN_ERANGE,
                 "item 4 of 3");
    gnn_interactions_free(&x);
}
