/*
 * Finite-difference checks of every hand-written gradient: the BPR and
 * L2 losses, the SpMM backward (transpose) inside LightGCN, the ReLU and
 * weight-matrix backward inside GCN, for symmetric and asymmetric
 * normalizations.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "gnn.h"

#define N_USERS 6
#define N_ITEMS 7

static void tiny_graph(float a, float b, struct gnn_graph *g)
{
    struct gnn_interactions x;
    struct gnn_rng rng;

    gnn_interactions_init(&x);
    gnn_rng_seed(&rng, 42);
    for (int32_t u = 0; u < N_USERS; u++) {
        for (int32_t i = 0; i < N_ITEMS - 1; i++) { /* item 6 stays cold */
            if (gnn_rng_uniform(&rng) < 0.45f || i == u)
                cr_assert_eq(gnn_interactions_push(
                                 &x, u, i, 1.0f + (float)(i % 3), 0, NULL),
                             0);
        }
    }
    cr_assert_eq(gnn_graph_build(&x, N_USERS, N_ITEMS, a, b, g, NULL), 0);
    gnn_interactions_free(&x);
}

static const int32_t users[] = {0, 3, 5, 3};
static const int32_t pos[] = {0, 3, 5, 1};
static const int32_t neg[] = {4, 6, 2, 0, 1, 6, 2, 4};
static const struct gnn_batch batch = {4, 2, users, pos, neg};

static double total_loss(struct gnn_model *m, float l2)
{
    size_t d = (size_t)m->dim * sizeof(float);

    m->ops->forward(m, NULL);
    memset(m->grad_user, 0, (size_t)m->n_users * d);
    memset(m->grad_item, 0, (size_t)m->n_items * d);
    double loss = gnn_bpr_loss(m, &batch);
    m->ops->backward(m, NULL);
    return loss + gnn_l2_loss(m, &batch, l2);
}

/* Normalized squared error of the analytic gradient, over all params. */
static double grad_nmse(struct gnn_model *m, float l2)
{
    double num = 0.0, den = 0.0;
    const float h = 1e-2f;

    total_loss(m, l2);
    for (int p = 0; p < m->n_params; p++) {
        struct gnn_param *q = &m->params[p];
        float *analytic = malloc((size_t)q->n * sizeof(float));
        memcpy(analytic, q->g, (size_t)q->n * sizeof(float));
        for (int64_t i = 0; i < q->n; i++) {
            float keep = q->w[i];
            q->w[i] = keep + h;
            double up = total_loss(m, l2);
            q->w[i] = keep - h;
            double down = total_loss(m, l2);
            q->w[i] = keep;
            double fd = (up - down) / (2.0 * h);
            num += (fd - analytic[i]) * (fd - analytic[i]);
            den += fd * fd;
        }
        free(analytic);
    }
    return num / (den > 0 ? den : 1);
}

static void check_model(enum gnn_model_kind kind, int32_t layers, float a,
                        float b)
{
    struct gnn_graph g;
    struct gnn_model_config c;
    struct gnn_model *m;

    tiny_graph(a, b, &g);
    gnn_model_config_default(&c, kind);
    c.dim = 5;
    c.layers = layers;
    c.init_std = 0.5f;
    cr_assert_eq(gnn_model_new(&c, &g, &m, NULL), 0);
    double e = grad_nmse(m, 0.3f);
    cr_assert_lt(e, 1e-4, "%s L=%d a=%g b=%g: gradient NMSE %g",
                 gnn_model_kind_name(kind), layers, (double)a, (double)b, e);
    gnn_model_free(m);
    gnn_graph_free(&g);
}

Test(grad, mf_matches_finite_differences)
{
    check_model(GNN_MODEL_MF, 0, 0.5f, 0.5f);
}

Test(grad, lightgcn_matches_finite_differences)
{
    check_model(GNN_MODEL_LIGHTGCN, 0, 0.5f, 0.5f);
    check_model(GNN_MODEL_LIGHTGCN, 1, 0.5f, 0.5f);
    check_model(GNN_MODEL_LIGHTGCN, 3, 0.5f, 0.5f);
}

Test(grad, lightgcn_with_asymmetric_normalization_uses_the_transpose)
{
    check_model(GNN_MODEL_LIGHTGCN, 2, 1.0f, 0.0f);
    check_model(GNN_MODEL_LIGHTGCN, 2, 0.3f, 0.6f);
}

Test(grad, gcn_matches_finite_differences)
{
    check_model(GNN_MODEL_GCN, 1, 0.5f, 0.5f);
    check_model(GNN_MODEL_GCN, 2, 0.5f, 0.5f);
    check_model(GNN_MODEL_GCN, 2, 0.2f, 0.7f);
}

Test(grad, gemm_tn_matches_a_naive_product)
{
    int32_t m = 3, n = 4;
    int64_t k = 9000; /* three chunks */
    float *a = malloc((size_t)k * m * sizeof(float));
    float *b = malloc((size_t)k * n * sizeof(float));
    float c[12], c2[12];
    float *s = malloc((size_t)gnn_dense_gemm_tn_scratch(m, n, k) * 4);
    struct gnn_pool *p;

    for (int64_t i = 0; i < k * m; i++)
        a[i] = (float)((i * 31) % 17) / 17.0f - 0.5f;
    for (int64_t i = 0; i < k * n; i++)
        b[i] = (float)((i * 13) % 11) / 11.0f - 0.5f;
    gnn_dense_gemm_tn(m, n, k, a, b, c, s, NULL);
    for (int32_t i = 0; i < m; i++) {
        for (int32_t j = 0; j < n; j++) {
            double want = 0;
            for (int64_t r = 0; r < k; r++)
                want += (double)a[r * m + i] * b[r * n + j];
            cr_assert_float_eq(c[i * n + j], want, 1e-2);
        }
    }
    cr_assert_eq(gnn_pool_new(2, &p, NULL), 0);
    gnn_dense_gemm_tn(m, n, k, a, b, c2, s, p);
    cr_assert(memcmp(c, c2, sizeof(c)) == 0, "thread count changed bits");
    gnn_pool_free(p);
    free(a);
    free(b);
    free(s);
}

/* The batch's node rows, as the trainer marks them. */
static int32_t mark(const struct gnn_model *m, int32_t *rows, uint8_t *mask)
{
    int32_t n = 0;

    for (int32_t t = 0; t < batch.n; t++) {
        int32_t r[3] = {batch.user[t], m->n_users + batch.pos[t], -1};
        for (int q = 0; q < batch.n_neg; q++) {
            r[2] = m->n_users + batch.neg[t * batch.n_neg + q];
            for (int k = 0; k < 3; k++) {
                if (!mask[r[k]]) {
                    mask[r[k]] = 1;
                    rows[n++] = r[k];
                }
            }
        }
    }
    return n;
}

Test(grad, active_rows_give_the_same_bits_as_the_full_graph)
{
    struct gnn_graph g;
    struct gnn_model_config c;
    struct gnn_model *m;
    int32_t rows[N_USERS + N_ITEMS];
    uint8_t mask[N_USERS + N_ITEMS] = {0};

    tiny_graph(0.5f, 0.5f, &g);
    gnn_model_config_default(&c, GNN_MODEL_LIGHTGCN);
    c.dim = 64;
    c.layers = 3;
    cr_assert_eq(gnn_model_new(&c, &g, &m, NULL), 0);
    int64_t n = m->params[0].n;
    float *full = malloc((size_t)n * sizeof(float));
    float *out = malloc((size_t)n * sizeof(float));

    double l_full = total_loss(m, 0.1f);
    memcpy(full, m->params[0].g, (size_t)n * sizeof(float));
    memcpy(out, m->user_out, (size_t)n * sizeof(float));

    m->n_active = mark(m, rows, mask);
    m->active_rows = rows;
    m->active_mask = mask;
    cr_assert_lt(m->n_active, N_USERS + N_ITEMS, "some rows stay idle");
    double l_part = total_loss(m, 0.1f);
    cr_assert_eq(l_full, l_part);
    cr_assert(memcmp(full, m->params[0].g, (size_t)n * sizeof(float)) == 0,
              "the gradient changed");
    for (int32_t q = 0; q < m->n_active; q++)
        cr_assert(memcmp(out + (size_t)rows[q] * 64,
                         m->user_out + (size_t)rows[q] * 64,
                         64 * sizeof(float)) == 0,
                  "output row %d changed", rows[q]);
    gnn_model_free(m);
    gnn_graph_free(&g);
    free(full);
    free(out);
}
