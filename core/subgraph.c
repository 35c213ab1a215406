#include <stdlib.h>
#include <string.h>

#include "gnn_minibatch.h"

/* The entry of a holding column c in row r, or -1 (binary search). */
static int64_t find_entry(const struct gnn_csr *a, int32_t r, int32_t c)
{
    int64_t lo = a->row_ptr[r], hi = a->row_ptr[r + 1];

    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (a->col_idx[mid] < c)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < a->row_ptr[r + 1] && a->col_idx[lo] == c ? lo : -1;
}

/* The parent node of local node r of s. */
static int32_t parent_node(const struct gnn_subgraph *s,
                           const struct gnn_graph *g, int32_t r)
{
    int32_t nu = s->graph.n_users;
    return r < nu ? s->user_ids[r] : g->n_users + s->item_ids[r - nu];
}

void gnn_subgraph_free(struct gnn_subgraph *s)
{
    free(s->user_ids);
    free(s->item_ids);
    free(s->ui_parent);
    free(s->loss_weight);
    gnn_graph_free(&s->graph);
    memset(s, 0, sizeof(*s));
}

/* Local ids into scratch: users and items each numbered in list order. */
static int number_nodes(const struct gnn_graph *g, const int32_t *nodes,
                        int32_t n, int32_t *scratch, int32_t *nu, int32_t *ni,
                        struct gnn_error *err)
{
    *nu = *ni = 0;
    for (int32_t q = 0; q < n; q++) {
        int32_t v = nodes[q];
        if (v < 0 || v >= g->n_nodes || scratch[v] >= 0) {
            for (int32_t j = 0; j < q; j++)
                scratch[nodes[j]] = -1;
            return gnn_error_set(err, GNN_ERANGE,
                                 "node %d out of range or repeated", v);
        }
        scratch[v] = v < g->n_users ? (*nu)++ : (*ni)++;
    }
    return 0;
}

static int collect_edges(const struct gnn_graph *g, struct gnn_subgraph *s,
                         const int32_t *scratch, struct gnn_interactions *x,
                         struct gnn_error *err)
{
    const struct gnn_csr *ui = &g->ui;

    for (int32_t lu = 0; lu < s->graph.n_users; lu++) {
        int32_t u = s->user_ids[lu];
        for (int64_t e = ui->row_ptr[u]; e < ui->row_ptr[u + 1]; e++) {
            int32_t li = scratch[g->n_users + ui->col_idx[e]];
            if (li < 0)
                continue;
            int ret = gnn_interactions_push(x, lu, li, ui->val[e], 0, err);
            if (ret != 0)
                return ret;
        }
    }
    return 0;
}

int gnn_subgraph_induce(const struct gnn_graph *g, const int32_t *nodes,
                        int32_t n, int32_t *scratch, struct gnn_subgraph *s,
                        struct gnn_error *err)
{
    struct gnn_interactions x;
    int32_t nu, ni;
    int ret;

    memset(s, 0, sizeof(*s));
    gnn_interactions_init(&x);
    ret = number_nodes(g, nodes, n, scratch, &nu, &ni, err);
    if (ret != 0)
        return ret;
    s->user_ids = malloc(((size_t)nu + 1) * sizeof(*s->user_ids));
    s->item_ids = malloc(((size_t)ni + 1) * sizeof(*s->item_ids));
    if (s->user_ids == NULL || s->item_ids == NULL) {
        ret = gnn_error_set(err, GNN_ENOMEM, "cannot allocate a subgraph");
        goto out;
    }
    for (int32_t q = 0; q < n; q++) {
        int32_t v = nodes[q];
        if (v < g->n_users)
            s->user_ids[scratch[v]] = v;
        else
            s->item_ids[scratch[v]] = v - g->n_users;
    }
    s->graph.n_users = nu;
    ret = collect_edges(g, s, scratch, &x, err);
    if (ret == 0)
        ret = gnn_graph_build(&x, nu, ni, 0.5f, 0.5f, &s->graph, err);
    if (ret != 0)
        goto out;

    /* Each local positive's entry in the parent, for SAINT's weights. */
    const struct gnn_csr *lui = &s->graph.ui;
    s->ui_parent = malloc(((size_t)lui->nnz + 1) * sizeof(*s->ui_parent));
    if (s->ui_parent == NULL) {
        ret = gnn_error_set(err, GNN_ENOMEM, "cannot allocate a subgraph");
        goto out;
    }
    for (int32_t lu = 0; lu < nu; lu++) {
        for (int64_t e = lui->row_ptr[lu]; e < lui->row_ptr[lu + 1]; e++)
            s->ui_parent[e] = find_entry(&g->ui, s->user_ids[lu],
                                         s->item_ids[lui->col_idx[e]]);
    }
    ret = 0;
out:
    for (int32_t q = 0; q < n; q++)
        scratch[nodes[q]] = -1;
    gnn_interactions_free(&x);
    if (ret != 0)
        gnn_subgraph_free(s);
    return ret;
}

/* ------------------------------------------------------------ SAINT */

static void visit(uint8_t *mark, int32_t *nodes, int32_t *n, int32_t v)
{
    if (!mark[v]) {
        mark[v] = 1;
        nodes[(*n)++] = v;
    }
}

void gnn_saint_sample(const struct gnn_graph *g, const int32_t *roots_from,
                      int32_t n_roots_from, int32_t roots, int32_t walk,
                      struct gnn_rng *rng, uint8_t *mark, int32_t *nodes,
                      int32_t *n)
{
    const struct gnn_csr *a = &g->adj;

    *n = 0;
    for (int32_t r = 0; r < roots && n_roots_from > 0; r++) {
        int32_t v = roots_from[gnn_rng_below(rng, (uint32_t)n_roots_from)];
        visit(mark, nodes, n, v);
        for (int32_t k = 0; k < walk; k++) {
            int64_t deg = a->row_ptr[v + 1] - a->row_ptr[v];
            if (deg == 0)
                break;
            v = a->col_idx[a->row_ptr[v] + gnn_rng_below(rng, (uint32_t)deg)];
            visit(mark, nodes, n, v);
        }
    }
    for (int32_t q = 0; q < *n; q++)
        mark[nodes[q]] = 0;
}

void gnn_saint_norm_free(struct gnn_saint_norm *n)
{
    free(n->node_count);
    free(n->edge_count);
    memset(n, 0, sizeof(*n));
}

/* Users with at least one interaction: the walks' roots. */
static int32_t *user_roots(const struct gnn_graph *g, int32_t *n)
{
    int32_t *r = malloc(((size_t)g->n_users + 1) * sizeof(*r));

    *n = 0;
    for (int32_t u = 0; r != NULL && u < g->n_users; u++) {
        if (g->ui.row_ptr[u + 1] > g->ui.row_ptr[u])
            r[(*n)++] = u;
    }
    return r;
}

/* Count the sample's nodes and the adjacency entries between them. */
static void count_sample(const struct gnn_graph *g, const int32_t *nodes,
                         int32_t n, uint8_t *mark, struct gnn_saint_norm *c)
{
    const struct gnn_csr *a = &g->adj;

    for (int32_t q = 0; q < n; q++)
        mark[nodes[q]] = 1;
    for (int32_t q = 0; q < n; q++) {
        int32_t v = nodes[q];
        c->node_count[v]++;
        for (int64_t e = a->row_ptr[v]; e < a->row_ptr[v + 1]; e++)
            c->edge_count[e] += mark[a->col_idx[e]];
    }
    for (int32_t q = 0; q < n; q++)
        mark[nodes[q]] = 0;
}

int gnn_saint_estimate(const struct gnn_graph *g, int32_t roots, int32_t walk,
                       int32_t samples, uint64_t seed,
                       struct gnn_saint_norm *out, struct gnn_error *err)
{
    struct gnn_rng rng;
    int32_t n_from = 0, n = 0, *from = NULL, *nodes = NULL;
    uint8_t *mark = NULL;
    int ret;

    memset(out, 0, sizeof(*out));
    if (roots < 1 || walk < 0 || samples < 1)
        return gnn_error_set(err, GNN_EINVAL,
                             "SAINT roots, walk and samples must be positive");
    from = user_roots(g, &n_from);
    nodes = malloc(((size_t)roots * ((size_t)walk + 1) + 1) * sizeof(*nodes));
    mark = calloc((size_t)g->n_nodes + 1, 1);
    out->node_count = calloc((size_t)g->n_nodes + 1, sizeof(int32_t));
    out->edge_count = calloc((size_t)g->adj.nnz + 1, sizeof(int32_t));
    if (from == NULL || nodes == NULL || mark == NULL ||
        out->node_count == NULL || out->edge_count == NULL) {
        ret = gnn_error_set(err, GNN_ENOMEM, "cannot allocate SAINT counts");
        goto out;
    }
    out->samples = samples;
    gnn_rng_seed(&rng, seed);
    for (int32_t s = 0; s < samples; s++) {
        gnn_saint_sample(g, from, n_from, roots, walk, &rng, mark, nodes, &n);
        count_sample(g, nodes, n, mark, out);
    }
    ret = 0;
out:
    free(from);
    free(nodes);
    free(mark);
    if (ret != 0)
        gnn_saint_norm_free(out);
    return ret;
}

int gnn_subgraph_saint_norm(struct gnn_subgraph *s, const struct gnn_graph *g,
                            const struct gnn_saint_norm *n,
                            struct gnn_error *err)
{
    struct gnn_csr *a = &s->graph.adj;
    const struct gnn_csr *lui = &s->graph.ui;
    double m = (double)n->samples, total = (double)g->ui.nnz;

    for (int32_t r = 0; r < a->n_rows; r++) {
        int32_t pr = parent_node(s, g, r);
        for (int64_t e = a->row_ptr[r]; e < a->row_ptr[r + 1]; e++) {
            int64_t pe =
                find_entry(&g->adj, pr, parent_node(s, g, a->col_idx[e]));
            double ce =
                pe >= 0 && n->edge_count[pe] > 1 ? n->edge_count[pe] : 1;
            double cv = n->node_count[pr] > ce ? n->node_count[pr] : ce;
            a->val[e] = pe >= 0 ? (float)(g->adj.val[pe] * cv / ce) : 0.0f;
        }
    }
    gnn_csr_free(&s->graph.adj_t);
    int ret = gnn_csr_transpose(a, &s->graph.adj_t, err);
    if (ret != 0)
        return ret;

    free(s->loss_weight);
    s->loss_weight = malloc(((size_t)lui->nnz + 1) * sizeof(float));
    if (s->loss_weight == NULL)
        return gnn_error_set(err, GNN_ENOMEM, "cannot allocate loss weights");
    for (int32_t lu = 0; lu < lui->n_rows; lu++) {
        int32_t u = s->user_ids[lu];
        for (int64_t e = lui->row_ptr[lu]; e < lui->row_ptr[lu + 1]; e++) {
            int32_t i = s->item_ids[lui->col_idx[e]];
            int64_t pe = find_entry(&g->adj, u, g->n_users + i);
            double ce =
                pe >= 0 && n->edge_count[pe] > 1 ? n->edge_count[pe] : 1;
            s->loss_weight[e] = (float)(m / (ce * total));
        }
    }
    s->saint = 1;
    return 0;
}
