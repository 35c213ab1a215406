/*
 * Subgraph mini-batches: METIS parts, induced subgraphs and their
 * normalization, SAINT's estimates, the gradient through a subgraph
 * model, and seeded training in cluster and SAINT modes.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gnn.h"

#define N_USERS 24
#define N_ITEMS 30

/* A random bipartite graph with weights 1..3; item 29 stays cold. */
static void random_graph(uint64_t seed, float p, struct gnn_graph *g)
{
    struct gnn_interactions x;
    struct gnn_rng rng;

    gnn_interactions_init(&x);
    gnn_rng_seed(&rng, seed);
    for (int32_t u = 0; u < N_USERS; u++) {
        for (int32_t i = 0; i < N_ITEMS - 1; i++) {
            if (gnn_rng_uniform(&rng) < p || i == u)
                cr_assert_eq(gnn_interactions_push(&x, u, i,
                                                   1.0f + (float)((u + i) % 3),
                                                   0, NULL),
                             0);
        }
    }
    cr_assert_eq(gnn_graph_build(&x, N_USERS, N_ITEMS, 0.5f, 0.5f, g, NULL), 0);
    gnn_interactions_free(&x);
}

static int32_t *minus_ones(int32_t n)
{
    int32_t *s = malloc((size_t)n * sizeof(*s));
    for (int32_t v = 0; v < n; v++)
        s[v] = -1;
    return s;
}

/* Every other node, then a few more: users and items mixed. */
static int32_t pick_nodes(const struct gnn_graph *g, int32_t *nodes)
{
    int32_t n = 0;
    for (int32_t v = g->n_nodes - 1; v >= 0; v--) {
        if (v % 2 == 0 || v % 7 == 3)
            nodes[n++] = v;
    }
    return n;
}

/* ------------------------------------------------------- partition */

Test(minibatch, partition_covers_every_node_once)
{
    struct gnn_graph g;
    int32_t part[N_USERS + N_ITEMS], again[N_USERS + N_ITEMS];
    int32_t count[5] = {0};

    random_graph(1, 0.2f, &g);
    cr_assert_eq(gnn_partition(&g, 5, 7, part, NULL), 0);
    for (int32_t v = 0; v < g.n_nodes; v++) {
        cr_assert(part[v] >= 0 && part[v] < 5, "node %d in part %d", v,
                  part[v]);
        count[part[v]]++;
    }
    int32_t total = 0;
    for (int p = 0; p < 5; p++)
        total += count[p];
    cr_assert_eq(total, g.n_nodes, "each node in exactly one part");
    cr_assert_eq(gnn_partition(&g, 5, 7, again, NULL), 0);
    cr_assert_arr_eq(part, again, sizeof(part), "same seed, same parts");
    gnn_graph_free(&g);
}

Test(minibatch, partition_rejects_bad_part_counts)
{
    struct gnn_graph g;
    struct gnn_error err = {0};
    int32_t part[N_USERS + N_ITEMS];

    random_graph(1, 0.2f, &g);
    cr_assert_eq(gnn_partition(&g, 0, 7, part, &err), GNN_EINVAL);
    cr_assert_neq(err.text[0], '\0');
    cr_assert_eq(gnn_partition(&g, g.n_nodes + 1, 7, part, NULL), GNN_EINVAL);
    cr_assert_eq(gnn_partition(&g, 1, 7, part, NULL), 0);
    for (int32_t v = 0; v < g.n_nodes; v++)
        cr_assert_eq(part[v], 0);
    gnn_graph_free(&g);
}

/* ------------------------------------------------------- subgraphs */

Test(minibatch, induced_subgraph_keeps_exactly_the_edges_between_nodes)
{
    struct gnn_graph g;
    struct gnn_subgraph s;
    int32_t nodes[N_USERS + N_ITEMS], *scratch;
    uint8_t in[N_USERS + N_ITEMS] = {0};

    random_graph(2, 0.3f, &g);
    scratch = minus_ones(g.n_nodes);
    int32_t n = pick_nodes(&g, nodes);
    for (int32_t q = 0; q < n; q++)
        in[nodes[q]] = 1;
    cr_assert_eq(gnn_subgraph_induce(&g, nodes, n, scratch, &s, NULL), 0);

    int64_t expect = 0;
    for (int32_t u = 0; u < N_USERS; u++) {
        for (int64_t e = g.ui.row_ptr[u]; e < g.ui.row_ptr[u + 1]; e++)
            expect += in[u] && in[N_USERS + g.ui.col_idx[e]];
    }
    cr_assert_eq(s.graph.ui.nnz, expect, "kept %lld edges, expected %lld",
                 (long long)s.graph.ui.nnz, (long long)expect);
    cr_assert_eq(s.graph.n_users + s.graph.n_items, n);
    for (int32_t lu = 0; lu < s.graph.n_users; lu++) {
        const struct gnn_csr *l = &s.graph.ui;
        for (int64_t e = l->row_ptr[lu]; e < l->row_ptr[lu + 1]; e++) {
            int32_t u = s.user_ids[lu], i = s.item_ids[l->col_idx[e]];
            cr_assert(gnn_csr_has(&g.ui, u, i), "edge %d-%d not in parent", u,
                      i);
            cr_assert_eq(g.ui.col_idx[s.ui_parent[e]], i);
            cr_assert_float_eq(l->val[e], g.ui.val[s.ui_parent[e]], 0.0f);
        }
    }
    for (int32_t v = 0; v < g.n_nodes; v++)
        cr_assert_eq(scratch[v], -1, "scratch restored");
    gnn_subgraph_free(&s);
    gnn_subgraph_free(&s); /* zeroed: a no-op */
    free(scratch);
    gnn_graph_free(&g);
}

Test(minibatch, subgraph_is_normalized_by_its_own_degrees)
{
    struct gnn_graph g;
    struct gnn_subgraph s;
    int32_t nodes[N_USERS + N_ITEMS], *scratch;

    random_graph(3, 0.3f, &g);
    scratch = minus_ones(g.n_nodes);
    int32_t n = pick_nodes(&g, nodes);
    cr_assert_eq(gnn_subgraph_induce(&g, nodes, n, scratch, &s, NULL), 0);

    const struct gnn_csr *ui = &s.graph.ui, *a = &s.graph.adj;
    int32_t nu = s.graph.n_users;
    double du[N_USERS + N_ITEMS] = {0};
    for (int32_t u = 0; u < nu; u++) {
        for (int64_t e = ui->row_ptr[u]; e < ui->row_ptr[u + 1]; e++) {
            du[u] += ui->val[e];
            du[nu + ui->col_idx[e]] += ui->val[e];
        }
    }
    for (int32_t u = 0; u < nu; u++) {
        for (int64_t e = ui->row_ptr[u]; e < ui->row_ptr[u + 1]; e++) {
            int32_t i = nu + ui->col_idx[e];
            double want = ui->val[e] / sqrt(du[u] * du[i]);
            int64_t k = a->row_ptr[u];
            while (a->col_idx[k] != i)
                k++;
            cr_assert_float_eq(a->val[k], want, 1e-6, "entry %d-%d", u, i);
        }
    }
    gnn_subgraph_free(&s);
    free(scratch);
    gnn_graph_free(&g);
}

Test(minibatch, induce_rejects_repeated_nodes)
{
    struct gnn_graph g;
    struct gnn_subgraph s;
    int32_t nodes[] = {1, 30, 1}, *scratch;

    random_graph(3, 0.3f, &g);
    scratch = minus_ones(g.n_nodes);
    cr_assert_eq(gnn_subgraph_induce(&g, nodes, 3, scratch, &s, NULL),
                 GNN_ERANGE);
    for (int32_t v = 0; v < g.n_nodes; v++)
        cr_assert_eq(scratch[v], -1);
    free(scratch);
    gnn_graph_free(&g);
}

/* ------------------------------------------------------------ SAINT */

/* One user with k items, walks of one step: each walk visits the user
 * and one uniform item, so P(item in a sample of r roots) is 1 - (1 -
 * 1/k)^r, and every item edge is drawn exactly when its item is. */
Test(minibatch, saint_counts_estimate_the_sampling_probabilities)
{
    struct gnn_interactions x;
    struct gnn_graph g;
    struct gnn_saint_norm c;
    int32_t k = 8, r = 3, m = 4000;

    gnn_interactions_init(&x);
    for (int32_t i = 0; i < k; i++)
        cr_assert_eq(gnn_interactions_push(&x, 0, i, 1.0f, 0, NULL), 0);
    cr_assert_eq(gnn_graph_build(&x, 1, k, 0.5f, 0.5f, &g, NULL), 0);
    cr_assert_eq(gnn_saint_estimate(&g, r, 1, m, 11, &c, NULL), 0);

    double p = 1.0 - pow(1.0 - 1.0 / k, r);
    cr_assert_eq(c.samples, m);
    cr_assert_eq(c.node_count[0], m, "the only user is in every sample");
    for (int32_t i = 0; i < k; i++) {
        double share = (double)c.node_count[1 + i] / m;
        cr_assert(fabs(share - p) < 0.05, "item %d drawn %.3f, expected %.3f",
                  i, share, p);
        /* entry (user, item) and (item, user) both count the edge */
        cr_assert_eq(c.edge_count[i], c.node_count[1 + i]);
        cr_assert_eq(c.edge_count[g.adj.row_ptr[1 + i]], c.node_count[1 + i]);
    }
    gnn_saint_norm_free(&c);
    gnn_graph_free(&g);
    gnn_interactions_free(&x);
}

Test(minibatch, saint_normalization_divides_by_edge_over_node_counts)
{
    struct gnn_graph g;
    struct gnn_saint_norm c;
    struct gnn_subgraph s;
    struct gnn_rng rng;
    int32_t nodes[N_USERS + N_ITEMS], n, *scratch, roots[N_USERS];
    uint8_t mark[N_USERS + N_ITEMS] = {0};

    random_graph(4, 0.25f, &g);
    scratch = minus_ones(g.n_nodes);
    for (int32_t u = 0; u < N_USERS; u++)
        roots[u] = u;
    cr_assert_eq(gnn_saint_estimate(&g, 4, 2, 300, 5, &c, NULL), 0);
    gnn_rng_seed(&rng, 9);
    gnn_saint_sample(&g, roots, N_USERS, 4, 2, &rng, mark, nodes, &n);
    cr_assert(n > 1 && n <= 12);
    for (int32_t v = 0; v < g.n_nodes; v++)
        cr_assert_eq(mark[v], 0, "mark returned zero");
    cr_assert_eq(gnn_subgraph_induce(&g, nodes, n, scratch, &s, NULL), 0);
    cr_assert_eq(gnn_subgraph_saint_norm(&s, &g, &c, NULL), 0);
    cr_assert_not_null(s.graph.adj_t.row_ptr, "values need their transpose");

    const struct gnn_csr *a = &s.graph.adj;
    int32_t nu = s.graph.n_users;
    for (int32_t r = 0; r < a->n_rows; r++) {
        int32_t pr = r < nu ? s.user_ids[r] : N_USERS + s.item_ids[r - nu];
        for (int64_t e = a->row_ptr[r]; e < a->row_ptr[r + 1]; e++) {
            int32_t lc = a->col_idx[e];
            int32_t pc =
                lc < nu ? s.user_ids[lc] : N_USERS + s.item_ids[lc - nu];
            int64_t pe = g.adj.row_ptr[pr];
            while (g.adj.col_idx[pe] != pc)
                pe++;
            double ce = c.edge_count[pe] > 1 ? c.edge_count[pe] : 1;
            double cv = c.node_count[pr] > ce ? c.node_count[pr] : ce;
            cr_assert_float_eq(a->val[e], g.adj.val[pe] * cv / ce, 1e-5);
        }
    }
    for (int64_t e = 0; e < s.graph.ui.nnz; e++) {
        int64_t pe = s.ui_parent[e];
        int32_t u = 0;
        while (g.ui.row_ptr[u + 1] <= pe)
            u++;
        int64_t ae = g.adj.row_ptr[u];
        while (g.adj.col_idx[ae] != N_USERS + g.ui.col_idx[pe])
            ae++;
        double ce = c.edge_count[ae] > 1 ? c.edge_count[ae] : 1;
        cr_assert_float_eq(s.loss_weight[e], 300.0 / (ce * g.ui.nnz), 1e-6);
    }
    gnn_subgraph_free(&s);
    gnn_saint_norm_free(&c);
    free(scratch);
    gnn_graph_free(&g);
}

/* ------------------------------------------------------- gradients */

static double sub_loss(struct gnn_model *m, const struct gnn_subgraph *s,
                       const int32_t *neg)
{
    double loss;
    cr_assert_eq(gnn_subgraph_loss(m, s, neg, 0.3f, 0, NULL, &loss, NULL), 0);
    return loss;
}

/* Normalized squared error of the scattered gradient of every parameter
 * of m against central differences of the subgraph loss. */
static double sub_grad_nmse(struct gnn_model *m, const struct gnn_subgraph *s,
                            const int32_t *neg)
{
    double num = 0.0, den = 0.0;
    const float h = 1e-2f;

    for (int p = 0; p < m->n_params; p++) {
        struct gnn_param *q = &m->params[p];
        float *analytic = malloc((size_t)q->n * sizeof(float));
        sub_loss(m, s, neg);
        memcpy(analytic, q->g, (size_t)q->n * sizeof(float));
        for (int64_t i = 0; i < q->n; i++) {
            float keep = q->w[i];
            q->w[i] = keep + h;
            double up = sub_loss(m, s, neg);
            q->w[i] = keep - h;
            double down = sub_loss(m, s, neg);
            q->w[i] = keep;
            double fd = (up - down) / (2.0 * h);
            num += (fd - analytic[i]) * (fd - analytic[i]);
            den += fd * fd;
        }
        free(analytic);
    }
    return num / (den > 0 ? den : 1);
}

static void check_sub_grad(const struct gnn_model_config *c, int saint)
{
    struct gnn_graph g;
    struct gnn_subgraph s;
    struct gnn_saint_norm norm;
    struct gnn_model *m;
    int32_t nodes[N_USERS + N_ITEMS], *scratch, *neg;

    random_graph(6, 0.25f, &g);
    scratch = minus_ones(g.n_nodes);
    int32_t n = pick_nodes(&g, nodes);
    cr_assert_eq(gnn_subgraph_induce(&g, nodes, n, scratch, &s, NULL), 0);
    if (saint) {
        cr_assert_eq(gnn_saint_estimate(&g, 3, 2, 200, 3, &norm, NULL), 0);
        cr_assert_eq(gnn_subgraph_saint_norm(&s, &g, &norm, NULL), 0);
        gnn_saint_norm_free(&norm);
    }
    cr_assert(s.graph.ui.nnz > 3 && s.graph.n_items > 2);
    neg = malloc((size_t)s.graph.ui.nnz * sizeof(*neg));
    for (int64_t e = 0; e < s.graph.ui.nnz; e++)
        neg[e] = (s.graph.ui.col_idx[e] + 1) % s.graph.n_items;
    cr_assert_eq(gnn_model_new(c, &g, &m, NULL), 0);

    double err = sub_grad_nmse(m, &s, neg);
    cr_assert_lt(err, 1e-4, "%s saint=%d: gradient NMSE %g",
                 gnn_model_kind_name(c->kind), saint, err);

    /* Rows of nodes outside the subgraph get no gradient. */
    uint8_t in[N_USERS + N_ITEMS] = {0};
    for (int32_t q = 0; q < n; q++)
        in[nodes[q]] = 1;
    sub_loss(m, &s, neg);
    for (int32_t v = 0; v < g.n_nodes; v++) {
        for (int32_t k = 0; !in[v] && k < c->dim; k++)
            cr_assert_eq(m->params[0].g[(size_t)v * c->dim + k], 0.0f);
    }
    gnn_model_free(m);
    free(neg);
    free(scratch);
    gnn_subgraph_free(&s);
    gnn_graph_free(&g);
}

Test(minibatch, lightgcn_subgraph_gradient_matches_finite_differences)
{
    struct gnn_model_config c;

    gnn_model_config_default(&c, GNN_MODEL_LIGHTGCN);
    c.dim = 4;
    c.layers = 2;
    c.init_std = 0.5f;
    check_sub_grad(&c, 0);
    check_sub_grad(&c, 1);
}

Test(minibatch, hognn_subgraph_gradient_matches_finite_differences)
{
    struct gnn_model_config c;

    gnn_model_config_default(&c, GNN_MODEL_HOGNN);
    c.dim = 4;
    c.layers = 2;
    c.init_std = 0.5f;
    c.hognn.hop_weights = 1;
    c.hognn.gate = 1;
    c.hognn.logit_scale = 1.0f;
    check_sub_grad(&c, 0);
    check_sub_grad(&c, 1);
    c.hognn.pairnorm = 1;
    check_sub_grad(&c, 0);
}

/* ------------------------------------------------------- training */

static float *train_copy(enum gnn_model_kind kind, enum gnn_minibatch_mode mode,
                         int nth, struct gnn_train_result *res)
{
    struct gnn_graph g;
    struct gnn_model_config c;
    struct gnn_train_config tc;
    struct gnn_model *m;
    struct gnn_pool *pool;

    random_graph(7, 0.3f, &g);
    gnn_model_config_default(&c, kind);
    c.dim = 8;
    c.layers = 2;
    cr_assert_eq(gnn_model_new(&c, &g, &m, NULL), 0);
    gnn_train_config_default(&tc);
    tc.epochs = 3;
    tc.batch = 40;
    tc.lr = 0.01f;
    tc.eval_every = 0;
    tc.minibatch.mode = mode;
    tc.minibatch.clusters = 6;
    tc.minibatch.per_batch = 2;
    cr_assert_eq(gnn_pool_new(nth, &pool, NULL), 0);
    struct gnn_error err = {0};
    cr_assert_eq(gnn_train(m, NULL, NULL, &tc, pool, res, &err), 0, "%s",
                 err.text);
    size_t bytes = (size_t)m->params[0].n * sizeof(float);
    float *w = malloc(bytes);
    memcpy(w, m->params[0].w, bytes);
    gnn_pool_free(pool);
    gnn_model_free(m);
    gnn_graph_free(&g);
    return w;
}

static void check_seeded(enum gnn_model_kind kind, enum gnn_minibatch_mode mode)
{
    struct gnn_train_result r1, r2;
    size_t n = (size_t)(N_USERS + N_ITEMS) * 8;
    float *a = train_copy(kind, mode, 2, &r1);
    float *b = train_copy(kind, mode, 2, &r2);
    float *off = train_copy(kind, GNN_MINIBATCH_OFF, 2, &r2);

    cr_assert_eq(r1.minibatch.mode, mode);
    cr_assert(r1.minibatch.steps >= 1);
    cr_assert_arr_eq(a, b, n * sizeof(float), "same seed and threads");
    cr_assert(memcmp(a, off, n * sizeof(float)) != 0,
              "mini-batches train otherwise than the full graph");
    cr_assert(isfinite(r1.final_loss) && r1.final_loss > 0.0);
    free(a);
    free(b);
    free(off);
}

Test(minibatch, cluster_training_is_deterministic_for_a_seed)
{
    check_seeded(GNN_MODEL_LIGHTGCN, GNN_MINIBATCH_CLUSTER);
    check_seeded(GNN_MODEL_HOGNN, GNN_MINIBATCH_CLUSTER);
}

Test(minibatch, saint_training_is_deterministic_for_a_seed)
{
    check_seeded(GNN_MODEL_LIGHTGCN, GNN_MINIBATCH_SAINT);
    check_seeded(GNN_MODEL_HOGNN, GNN_MINIBATCH_SAINT);
}

/* ------------------------------------------------------------ plan */

Test(minibatch, auto_picks_clusters_when_the_budget_is_short)
{
    struct gnn_graph g;
    struct gnn_model_config c;
    struct gnn_model *m, *mf;
    struct gnn_minibatch_config mc;
    struct gnn_minibatch_plan p;
    struct gnn_error err = {0};

    random_graph(8, 0.3f, &g);
    gnn_model_config_default(&c, GNN_MODEL_LIGHTGCN);
    cr_assert_eq(gnn_model_new(&c, &g, &m, NULL), 0);
    gnn_minibatch_config_default(&mc);
    mc.mode = GNN_MINIBATCH_AUTO;
    cr_assert_eq(gnn_minibatch_plan(m, &mc, 16, &p, NULL), 0);
    cr_assert_eq(p.mode, GNN_MINIBATCH_OFF, "no budget: full graph");
    cr_assert(p.full_bytes > 4 * (int64_t)m->params[0].n * 4,
              "at least the embeddings and Adam state");

    mc.memory_budget = p.full_bytes - 1;
    cr_assert_eq(gnn_minibatch_plan(m, &mc, 16, &p, NULL), 0);
    cr_assert_eq(p.mode, GNN_MINIBATCH_CLUSTER);
    cr_assert(p.batch_bytes < p.full_bytes);
    cr_assert(p.fits && p.clusters >= p.per_batch);

    gnn_model_config_default(&c, GNN_MODEL_MF);
    cr_assert_eq(gnn_model_new(&c, &g, &mf, NULL), 0);
    cr_assert_eq(gnn_minibatch_plan(mf, &mc, 16, &p, NULL), 0);
    cr_assert_eq(p.mode, GNN_MINIBATCH_OFF, "mf has no propagation");
    mc.mode = GNN_MINIBATCH_CLUSTER;
    cr_assert_eq(gnn_minibatch_plan(mf, &mc, 16, &p, &err), GNN_ENOTSUP);
    cr_assert_neq(err.text[0], '\0');
    mc.per_batch = 0;
    cr_assert_eq(gnn_minibatch_plan(m, &mc, 16, &p, NULL), GNN_EINVAL);
    cr_assert_eq(gnn_minibatch_mode_parse("saint"), GNN_MINIBATCH_SAINT);
    cr_assert_eq(gnn_minibatch_mode_parse("nope"), -1);
    gnn_model_free(mf);
    gnn_model_free(m);
    gnn_graph_free(&g);
}

/* ------------------------------------------------------ lazy Adam */

/* Rows named get a step and a cleared gradient; the others keep their
 * weights and moments, where a dense step would move them by their
 * momentum alone. */
Test(minibatch, lazy_adam_moves_only_the_named_rows)
{
    struct gnn_graph g;
    struct gnn_model_config c;
    struct gnn_model *lazy, *dense;
    const int32_t nodes[] = {1, N_USERS + 2};

    random_graph(9, 0.3f, &g);
    gnn_model_config_default(&c, GNN_MODEL_LIGHTGCN);
    cr_assert_eq(gnn_model_new(&c, &g, &lazy, NULL), 0);
    cr_assert_eq(gnn_model_new(&c, &g, &dense, NULL), 0);
    struct gnn_param *pl = &lazy->params[0], *pd = &dense->params[0];
    int64_t d = pl->n / g.n_nodes;
    for (int64_t k = 0; k < pl->n; k++) {
        pl->m[k] = pd->m[k] = 0.01f * (float)(k % 5 + 1);
        pl->v[k] = pd->v[k] = 1e-4f;
    }
    for (int q = 0; q < 2; q++) {
        for (int64_t c2 = 0; c2 < d; c2++)
            pl->g[nodes[q] * d + c2] = pd->g[nodes[q] * d + c2] = 0.5f;
    }
    float *before = malloc((size_t)pl->n * sizeof(float));
    memcpy(before, pl->w, (size_t)pl->n * sizeof(float));

    gnn_adam_step_rows(lazy, 3, 0.01f, 0.9f, 0.999f, 1e-8f, nodes, 2, NULL);
    gnn_adam_step(dense, 3, 0.01f, 0.9f, 0.999f, 1e-8f, NULL);

    for (int32_t v = 0; v < g.n_nodes; v++) {
        int named = v == nodes[0] || v == nodes[1];
        for (int64_t c2 = 0; c2 < d; c2++) {
            int64_t k = v * d + c2;
            cr_assert_neq(pd->w[k], before[k], "dense moves every row");
            if (named) {
                cr_assert_eq(pl->w[k], pd->w[k], "named rows: same step");
                cr_assert_eq(pl->g[k], 0.0f, "gradient cleared");
            } else {
                cr_assert_eq(pl->w[k], before[k], "row %d kept", v);
                cr_assert_eq(pl->m[k], 0.01f * (float)(k % 5 + 1));
            }
        }
    }
    free(before);
    gnn_model_free(dense);
    gnn_model_free(lazy);
    gnn_graph_free(&g);
}
