#include "gnn_graph.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static float inv_pow(double deg, float e)
{
    return deg > 0.0 ? (float)pow(deg, -(double)e) : 0.0f;
}

int gnn_csr_normalize(const struct gnn_csr *m, float a, float b,
                      struct gnn_csr *out, struct gnn_error *err)
{
    double *rs = calloc((size_t)m->n_rows + 1, sizeof(*rs));
    double *cs = calloc((size_t)m->n_cols + 1, sizeof(*cs));
    int ret = 0;

    memset(out, 0, sizeof(*out));
    if (rs == NULL || cs == NULL) {
        ret = gnn_error_set(err, GNN_ENOMEM, "cannot allocate degrees");
        goto out;
    }
    for (int32_t r = 0; r < m->n_rows; r++) {
        for (int64_t k = m->row_ptr[r]; k < m->row_ptr[r + 1]; k++) {
            rs[r] += m->val[k];
            cs[m->col_idx[k]] += m->val[k];
        }
    }
    /* Same structure as m, scaled values. */
    out->n_rows = m->n_rows;
    out->n_cols = m->n_cols;
    out->nnz = m->nnz;
    out->row_ptr = malloc(((size_t)m->n_rows + 1) * sizeof(*out->row_ptr));
    out->col_idx = malloc((size_t)(m->nnz + 1) * sizeof(*out->col_idx));
    out->val = malloc((size_t)(m->nnz + 1) * sizeof(*out->val));
    if (out->row_ptr == NULL || out->col_idx == NULL || out->val == NULL) {
        gnn_csr_free(out);
        ret = gnn_error_set(err, GNN_ENOMEM, "cannot allocate %lld entries",
                            (long long)m->nnz);
        goto out;
    }
    memcpy(out->row_ptr, m->row_ptr,
           ((size_t)m->n_rows + 1) * sizeof(*out->row_ptr));
    memcpy(out->col_idx, m->col_idx, (size_t)m->nnz * sizeof(*out->col_idx));
    for (int32_t r = 0; r < m->n_rows; r++) {
        float fr = inv_pow(rs[r], a);
        for (int64_t k = m->row_ptr[r]; k < m->row_ptr[r + 1]; k++)
            out->val[k] = fr * m->val[k] * inv_pow(cs[m->col_idx[k]], b);
    }
out:
    free(rs);
    free(cs);
    return ret;
}

/* The symmetric (users + items) adjacency from ui, before scaling. */
static int build_adjacency(const struct gnn_graph *g, struct gnn_csr *out,
                           struct gnn_error *err)
{
    int64_t nnz = 2 * g->ui.nnz;
    int32_t *rows = malloc((size_t)(nnz + 1) * sizeof(*rows));
    int32_t *cols = malloc((size_t)(nnz + 1) * sizeof(*cols));
    float *vals = malloc((size_t)(nnz + 1) * sizeof(*vals));
    int64_t w = 0;
    int ret;

    if (rows == NULL || cols == NULL || vals == NULL) {
        ret = gnn_error_set(err, GNN_ENOMEM, "cannot allocate %lld edges",
                            (long long)nnz);
        goto out;
    }
    for (int32_t u = 0; u < g->n_users; u++) {
        for (int64_t k = g->ui.row_ptr[u]; k < g->ui.row_ptr[u + 1]; k++) {
            int32_t item_node = g->n_users + g->ui.col_idx[k];
            rows[w] = u;
            cols[w] = item_node;
            vals[w++] = g->ui.val[k];
            rows[w] = item_node;
            cols[w] = u;
            vals[w++] = g->ui.val[k];
        }
    }
    ret =
        gnn_csr_from_coo(g->n_nodes, g->n_nodes, w, rows, cols, vals, out, err);
out:
    free(rows);
    free(cols);
    free(vals);
    return ret;
}

int gnn_graph_build(const struct gnn_interactions *train, int32_t n_users,
                    int32_t n_items, float a, float b, struct gnn_graph *g,
                    struct gnn_error *err)
{
    struct gnn_csr raw = {0};
    int ret;

    memset(g, 0, sizeof(*g));
    if (!(a >= 0.0f && a <= 1.0f && b >= 0.0f && b <= 1.0f))
        return gnn_error_set(err, GNN_EINVAL,
                             "normalization exponents %g, %g outside 0..1",
                             (double)a, (double)b);
    if (n_users < 0 || n_items < 0 || n_users > INT32_MAX - n_items)
        return gnn_error_set(err, GNN_ERANGE, "bad graph size %d + %d", n_users,
                             n_items);
    g->n_users = n_users;
    g->n_items = n_items;
    g->n_nodes = n_users + n_items;
    g->norm_a = a;
    g->norm_b = b;

    ret = gnn_csr_from_coo(n_users, n_items, train->n, train->user, train->item,
                           train->weight, &g->ui, err);
    if (ret == 0)
        ret = gnn_csr_transpose(&g->ui, &g->iu, err);
    if (ret == 0)
        ret = build_adjacency(g, &raw, err);
    if (ret == 0)
        ret = gnn_csr_normalize(&raw, a, b, &g->adj, err);
    if (ret == 0 && a != b)
        ret = gnn_csr_transpose(&g->adj, &g->adj_t, err);
    gnn_csr_free(&raw);
    if (ret != 0)
        gnn_graph_free(g);
    return ret;
}

void gnn_graph_free(struct gnn_graph *g)
{
    gnn_csr_free(&g->ui);
    gnn_csr_free(&g->iu);
    gnn_csr_free(&g->adj);
    gnn_csr_free(&g->adj_t);
}

const struct gnn_csr *gnn_graph_adj_t(const struct gnn_graph *g)
{
    return g->adj_t.row_ptr != NULL ? &g->adj_t : &g->adj;
}
