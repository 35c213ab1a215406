#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "gnn.h"

/* u0: 0 1;  u1: 0 1 2;  u2: 2 3;  u3: 1;  item 4 cold. */
static void small(struct gnn_graph *g)
{
    static const int32_t us[] = {0, 0, 1, 1, 1, 2, 2, 3};
    static const int32_t is[] = {0, 1, 0, 1, 2, 2, 3, 1};
    struct gnn_interactions x;

    gnn_interactions_init(&x);
    for (int k = 0; k < 8; k++)
        gnn_interactions_push(&x, us[k], is[k], 1, 0, NULL);
    cr_assert_eq(gnn_graph_build(&x, 4, 5, 0.5f, 0.5f, g, NULL), 0);
    gnn_interactions_free(&x);
}

static struct gnn_model *fitted(struct gnn_graph *g, enum gnn_model_kind k,
                                float lambda)
{
    struct gnn_model_config c;
    struct gnn_model *m;
    struct gnn_error err;

    gnn_model_config_default(&c, k);
    c.ease_lambda = lambda;
    c.knn_neighbors = 2;
    cr_assert_eq(gnn_model_new(&c, g, &m, &err), 0, "%s", err.text);
    cr_assert_eq(m->ops->fit(m, NULL, &err), 0, "%s", err.text);
    return m;
}

Test(model, kinds_parse_and_name_round_trip)
{
    for (int k = GNN_MODEL_POP; k <= GNN_MODEL_EMBEDDINGS; k++)
        cr_assert_eq(gnn_model_kind_parse(gnn_model_kind_name(k)), k);
    cr_assert_eq(gnn_model_kind_parse("bert4rec"), -1);
    gnn_model_free(NULL);
}

Test(model, pop_scores_items_by_training_count)
{
    struct gnn_graph g;
    float s[2 * 5];

    small(&g);
    struct gnn_model *m = fitted(&g, GNN_MODEL_POP, 1);
    gnn_model_score(m, (int32_t[]){0, 3}, 2, s);
    float want[] = {2, 3, 2, 1, 0};
    for (int i = 0; i < 5; i++) {
        cr_assert_float_eq(s[i], want[i], 0);
        cr_assert_float_eq(s[5 + i], want[i], 0);
    }
    gnn_model_free(m);
    gnn_graph_free(&g);
}

Test(model, itemknn_sums_cosine_neighbours_of_the_users_items)
{
    struct gnn_graph g;
    float s[5];

    small(&g);
    struct gnn_model *m = fitted(&g, GNN_MODEL_ITEMKNN, 1);
    /* u3 has item 1 (users 0, 1, 3). Cosines: (1,0) 2/sqrt(6),
     * (1,2) 1/sqrt(6), (1,3) 0: top-2 neighbours are 0 and 2. */
    gnn_model_score(m, (int32_t[]){3}, 1, s);
    cr_assert_float_eq(s[0], 2 / sqrtf(6), 1e-6);
    cr_assert_float_eq(s[2], 1 / sqrtf(6), 1e-6);
    cr_assert_float_eq(s[3], 0, 0);
    cr_assert_float_eq(s[4], 0, 0, "cold item");
    gnn_model_free(m);
    gnn_graph_free(&g);
}

Test(model, ease_solves_the_constrained_least_squares)
{
    struct gnn_graph g;
    float lambda = 0.7f;
    int n = 5;
    float s[4 * 5];

    small(&g);
    struct gnn_model *m = fitted(&g, GNN_MODEL_EASE, lambda);
    gnn_model_score(m, (int32_t[]){0, 1, 2, 3}, 4, s);

    /* Recover B from unit users is not possible here; check instead
     * the optimality condition of EASE: (X^T X + lambda I) B - X^T X
     * is diagonal (the Lagrange multipliers of diag(B) = 0). B's rows
     * are read back by scoring one-item pseudo-users through the
     * internal matrix (row i of B is the score of a user with item i). */
    double G[5][5] = {{0}}, B[5][5] = {{0}};
    const struct gnn_csr *ui = &g.ui;
    for (int u = 0; u < 4; u++)
        for (int64_t a = ui->row_ptr[u]; a < ui->row_ptr[u + 1]; a++)
            for (int64_t b = ui->row_ptr[u]; b < ui->row_ptr[u + 1]; b++)
                G[ui->col_idx[a]][ui->col_idx[b]] += 1;
    /* Users 3 (item 1) gives row 1 of B directly. */
    float *b = *(float **)m->priv;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            B[i][j] = b[i * n + j];
    for (int j = 0; j < n; j++)
        cr_assert_float_eq(s[3 * 5 + j], B[1][j], 1e-6);
    for (int i = 0; i < n; i++) {
        cr_assert_float_eq(B[i][i], 0, 0);
        for (int j = 0; j < n; j++) {
            if (i == j)
                continue;
            double r = lambda * B[i][j] - G[i][j];
            for (int k = 0; k < n; k++)
                r += G[i][k] * B[k][j];
            cr_assert_float_eq(r, 0, 1e-4, "(%d,%d) off by %g", i, j, r);
        }
    }
    gnn_model_free(m);
    gnn_graph_free(&g);
}

Test(model, ease_refuses_a_matrix_over_the_memory_limit)
{
    struct gnn_graph g;
    struct gnn_model_config c;
    struct gnn_model *m;
    struct gnn_error err;

    small(&g);
    gnn_model_config_default(&c, GNN_MODEL_EASE);
    c.mem_limit = 99; /* 5 x 5 floats need 100 bytes */
    cr_assert_eq(gnn_model_new(&c, &g, &m, &err), GNN_ERANGE);
    cr_assert_null(m);
    cr_assert(strstr(err.text, "memory limit") != NULL, "%s", err.text);
    c.mem_limit = 100;
    cr_assert_eq(gnn_model_new(&c, &g, &m, &err), 0);
    gnn_model_free(m);
    c.dim = 0;
    cr_assert_eq(gnn_model_new(&c, &g, &m, &err), GNN_EINVAL);
    gnn_graph_free(&g);
}
