/*
 * Over-smoothing diagnostics: the figures of hand-made tables against
 * their definitions, and the behaviour they exist to show: plain deep
 * propagation collapses the hops, hognn's remedies keep them apart.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "gnn.h"

/* A cycle of n nodes: every degree is 2. */
static void cycle(int32_t n, struct gnn_csr *a)
{
    int32_t r[64], c[64];

    for (int32_t i = 0; i < n; i++) {
        r[2 * i] = i, c[2 * i] = (i + 1) % n;
        r[2 * i + 1] = (i + 1) % n, c[2 * i + 1] = i;
    }
    cr_assert_eq(gnn_csr_from_coo(n, n, 2 * n, r, c, NULL, a, NULL), 0);
}

Test(diag, identical_rows_have_no_spread)
{
    float x[6 * 3];
    struct gnn_csr a;
    struct gnn_diag d;

    for (int i = 0; i < 6; i++) {
        x[3 * i] = 1.0f, x[3 * i + 1] = -2.0f, x[3 * i + 2] = 0.5f;
    }
    cycle(6, &a);
    cr_assert_eq(gnn_diag_table(x, 6, 3, &a, 0, 1, &d, NULL), 0);
    cr_assert_float_eq(d.std, 0.0, 1e-9);
    cr_assert_float_eq(d.mad, 0.0, 1e-6);
    cr_assert_float_eq(d.energy, 0.0, 1e-9);
    cr_assert(gnn_diag_smoothed(&d, GNN_DIAG_STD_MIN, 0.0));
    cr_assert(gnn_diag_smoothed(&d, 0.0, GNN_DIAG_MAD_MIN));
    cr_assert(!gnn_diag_smoothed(&d, 0.0, 0.0));
    gnn_csr_free(&a);
}

Test(diag, figures_match_their_definitions)
{
    enum { N = 9, D = 4 };
    float x[N * D];
    struct gnn_rng rng;
    struct gnn_csr a;
    struct gnn_diag d;
    double mad = 0.0, mean[D] = {0}, sd = 0.0, energy = 0.0;
    int pairs = 0;

    gnn_rng_seed(&rng, 3);
    for (int i = 0; i < N * D; i++)
        x[i] = gnn_rng_normal(&rng);
    memset(x + 4 * D, 0, D * sizeof(float)); /* a zero row: MAD skips it */
    cycle(N, &a);
    cr_assert_eq(gnn_diag_table(x, N, D, &a, 0, 1, &d, NULL), 0);

    for (int i = 0; i < N; i++) {
        for (int j = 0; j < N; j++) {
            if (i == j || i == 4 || j == 4)
                continue;
            double dot = 0, ni = 0, nj = 0;
            for (int c = 0; c < D; c++) {
                dot += x[i * D + c] * x[j * D + c];
                ni += x[i * D + c] * x[i * D + c];
                nj += x[j * D + c] * x[j * D + c];
            }
            mad += 1.0 - dot / sqrt(ni * nj);
            pairs++;
        }
    }
    cr_assert_float_eq(d.mad, mad / pairs, 1e-5);
    cr_assert(!gnn_diag_smoothed(&d, GNN_DIAG_STD_MIN, GNN_DIAG_MAD_MIN),
              "random rows flagged: std %g mad %g", d.std, d.mad);

    for (int i = 0; i < N; i++)
        for (int c = 0; c < D; c++)
            mean[c] += x[i * D + c] / N;
    for (int c = 0; c < D; c++) {
        double v = 0;
        for (int i = 0; i < N; i++)
            v += (x[i * D + c] - mean[c]) * (x[i * D + c] - mean[c]);
        sd += sqrt(v / N) / D;
    }
    double rms = 0;
    for (int i = 0; i < N * D; i++)
        rms += (double)x[i] * x[i] / (N * D);
    cr_assert_float_eq(d.std, sd / sqrt(rms), 1e-5);

    for (int i = 0; i < N; i++) {
        int j = (i + 1) % N;
        for (int c = 0; c < D; c++) {
            double t = (x[i * D + c] - x[j * D + c]) / sqrt(3.0);
            energy += t * t;
        }
    }
    cr_assert_float_eq(d.energy, energy / N, 1e-5);
    gnn_csr_free(&a);
}

Test(diag, a_sample_is_fixed_by_the_seed)
{
    enum { N = 50, D = 3 };
    float x[N * D];
    struct gnn_rng rng;
    struct gnn_diag a, b, c, all;

    gnn_rng_seed(&rng, 5);
    for (int i = 0; i < N * D; i++)
        x[i] = gnn_rng_normal(&rng) + (i % D == 0 ? 1.0f : 0.0f);
    cr_assert_eq(gnn_diag_table(x, N, D, NULL, 10, 11, &a, NULL), 0);
    cr_assert_eq(gnn_diag_table(x, N, D, NULL, 10, 11, &b, NULL), 0);
    cr_assert_eq(gnn_diag_table(x, N, D, NULL, 10, 12, &c, NULL), 0);
    cr_assert_eq(gnn_diag_table(x, N, D, NULL, 0, 0, &all, NULL), 0);
    cr_assert_eq(a.mad, b.mad);
    cr_assert_neq(a.mad, c.mad);
    cr_assert_float_eq(a.mad, all.mad, 0.3, "a sample strays far");
    cr_assert_eq(a.energy, 0.0);
}

Test(diag, bad_shapes_are_refused)
{
    float x[4] = {0};
    struct gnn_diag d;

    cr_assert_eq(gnn_diag_table(NULL, 2, 2, NULL, 0, 0, &d, NULL), GNN_EINVAL);
    cr_assert_eq(gnn_diag_table(x, 0, 2, NULL, 0, 0, &d, NULL), GNN_EINVAL);
    cr_assert_eq(gnn_diag_table(x, 2, 2, NULL, -1, 0, &d, NULL), GNN_EINVAL);
}

/* A random bipartite graph large enough for smoothing to show. */
static void graph(struct gnn_graph *g)
{
    struct gnn_interactions x;
    struct gnn_rng rng;

    gnn_interactions_init(&x);
    gnn_rng_seed(&rng, 9);
    for (int32_t u = 0; u < 60; u++) {
        for (int32_t q = 0; q < 6; q++)
            gnn_interactions_push(&x, u, (int32_t)gnn_rng_below(&rng, 40), 1.0f,
                                  0, NULL);
    }
    cr_assert_eq(gnn_graph_build(&x, 60, 40, 0.5f, 0.5f, g, NULL), 0);
    gnn_interactions_free(&x);
}

static void hops(struct gnn_model_config *c, const struct gnn_graph *g,
                 struct gnn_diag *out, int32_t *n)
{
    struct gnn_model *m;

    cr_assert_eq(gnn_model_new(c, g, &m, NULL), 0);
    m->ops->forward(m, NULL);
    cr_assert_eq(gnn_diag_model(m, 0, 1, out, 20, n, NULL), 0);
    gnn_model_free(m);
}

Test(diag, deep_plain_propagation_smooths_and_hognn_does_not)
{
    struct gnn_graph g;
    struct gnn_model_config c;
    struct gnn_diag lg[20], ho[20];
    int32_t nl, nh;

    graph(&g);
    gnn_model_config_default(&c, GNN_MODEL_LIGHTGCN);
    c.dim = 16;
    c.layers = 12;
    hops(&c, &g, lg, &nl);
    cr_assert_eq(nl, 14, "12 hops, hop 0 and the final outputs");
    cr_assert_eq(lg[13].hop, -1);
    /* On a bipartite graph the hops tend to two directions (users and
     * items), so MAD falls to about half rather than to zero. */
    cr_assert_lt(lg[12].mad, 0.6 * lg[0].mad, "12 plain hops did not smooth");

    gnn_model_config_default(&c, GNN_MODEL_HOGNN);
    c.dim = 16;
    c.layers = 12;
    c.hognn.pairnorm = 1;
    c.hognn.alpha = 0.2f;
    hops(&c, &g, ho, &nh);
    cr_assert_eq(nh, 14);
    cr_assert_gt(ho[12].mad, 1.5 * lg[12].mad,
                 "hognn's hop 12 is as smooth as LightGCN's");
    gnn_graph_free(&g);
}
