#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "gnn.h"

Test(eval, topk_orders_by_score_then_id_and_skips_masked_items)
{
    float s[] = {0.5f, 2.0f, 0.5f, NAN, 3.0f, 2.0f, -1.0f};
    int32_t skip[] = {4};
    int32_t top[7];

    int32_t n = gnn_topk(s, 7, skip, 1, 4, top);
    cr_assert_eq(n, 4);
    int32_t want[] = {1, 5, 0, 2};
    for (int i = 0; i < 4; i++)
        cr_assert_eq(top[i], want[i], "rank %d: got %d", i, top[i]);
    cr_assert_eq(gnn_topk(s, 7, skip, 1, 10, top), 6,
                 "only 6 items are left to rank");
}

/* One user, five items scored 0..4 (item i scores i). */
static struct gnn_model *ladder_model(void)
{
    float user[1] = {1.0f};
    float items[5] = {0, 1, 2, 3, 4};
    struct gnn_model *m;

    cr_assert_eq(gnn_model_new_embeddings(1, 5, 1, user, items, &m, NULL), 0);
    return m;
}

Test(eval, metrics_match_hand_computed_values)
{
    struct gnn_model *m = ladder_model();
    struct gnn_csr mask, truth;
    struct gnn_metrics r;
    int32_t mu[] = {0}, mi[] = {4}, tu[] = {0, 0}, ti[] = {2, 0};
    int32_t cut[] = {1, 3};

    cr_assert_eq(gnn_csr_from_coo(1, 5, 1, mu, mi, NULL, &mask, NULL), 0);
    cr_assert_eq(gnn_csr_from_coo(1, 5, 2, tu, ti, NULL, &truth, NULL), 0);
    cr_assert_eq(gnn_evaluate(m, &mask, &truth, cut, 2, NULL, &r, NULL), 0);

    /* Masked ranking: 3, 2, 1, 0. At 1: no hit. At 3: item 2 at rank 2. */
    cr_assert_eq(r.n_users, 1);
    cr_assert_float_eq(r.recall[0], 0.0, 1e-12);
    cr_assert_float_eq(r.hit[0], 0.0, 1e-12);
    cr_assert_float_eq(r.recall[1], 0.5, 1e-12);
    cr_assert_float_eq(r.precision[1], 1.0 / 3.0, 1e-12);
    cr_assert_float_eq(r.hit[1], 1.0, 1e-12);
    cr_assert_float_eq(r.mrr[1], 0.5, 1e-12);
    double idcg = 1.0 + 1.0 / log2(3.0);
    cr_assert_float_eq(r.ndcg[1], (1.0 / log2(3.0)) / idcg, 1e-12);

    /* Without the mask item 4 takes rank 1 and pushes item 2 to 3. */
    cr_assert_eq(gnn_evaluate(m, NULL, &truth, cut, 2, NULL, &r, NULL), 0);
    cr_assert_float_eq(r.recall[1], 0.5, 1e-12);
    cr_assert_float_eq(r.mrr[1], 1.0 / 3.0, 1e-12);
    cr_assert_float_eq(r.ndcg[1], 0.5 / idcg, 1e-12);
    gnn_csr_free(&mask);
    gnn_csr_free(&truth);
    gnn_model_free(m);
}

Test(eval, bad_cutoffs_and_shapes_are_refused)
{
    struct gnn_model *m = ladder_model();
    struct gnn_csr truth;
    struct gnn_metrics r;
    struct gnn_error err;
    int32_t tu[] = {0}, ti[] = {2};
    int32_t down[] = {20, 10}, zero[] = {0};

    cr_assert_eq(gnn_csr_from_coo(2, 5, 1, tu, ti, NULL, &truth, NULL), 0);
    cr_assert_eq(
        gnn_evaluate(m, NULL, &truth, (int32_t[]){5}, 1, NULL, &r, &err),
        GNN_EINVAL, "2 truth rows for a 1-user model");
    gnn_csr_free(&truth);
    cr_assert_eq(gnn_csr_from_coo(1, 5, 1, tu, ti, NULL, &truth, NULL), 0);
    cr_assert_eq(gnn_evaluate(m, NULL, &truth, down, 2, NULL, &r, &err),
                 GNN_EINVAL);
    cr_assert_eq(gnn_evaluate(m, NULL, &truth, zero, 1, NULL, &r, &err),
                 GNN_EINVAL);
    gnn_csr_free(&truth);
    gnn_model_free(m);
}

Test(eval, thread_counts_give_identical_figures)
{
    int32_t nu = 300, ni = 50, d = 4;
    float *u = malloc((size_t)nu * d * sizeof(float));
    float *it = calloc((size_t)ni * d, sizeof(float)); /* item 49 cold: 0 */
    struct gnn_interactions x;
    struct gnn_csr truth;
    struct gnn_model *m;
    struct gnn_pool *p;
    struct gnn_metrics r1, r2;
    struct gnn_rng rng;
    int32_t cut[] = {5, 10, 20};

    gnn_rng_seed(&rng, 9);
    for (int i = 0; i < nu * d; i++)
        u[i] = gnn_rng_normal(&rng);
    for (int i = 0; i < (ni - 1) * d; i++)
        it[i] = gnn_rng_normal(&rng);
    gnn_interactions_init(&x);
    for (int32_t q = 0; q < 900; q++)
        gnn_interactions_push(&x, (int32_t)gnn_rng_below(&rng, nu),
                              (int32_t)gnn_rng_below(&rng, ni), 1, 0, NULL);
    cr_assert_eq(gnn_interactions_to_csr(&x, nu, ni, &truth, NULL), 0);
    cr_assert_eq(gnn_model_new_embeddings(nu, ni, d, u, it, &m, NULL), 0);
    cr_assert_eq(gnn_pool_new(2, &p, NULL), 0);
    cr_assert_eq(gnn_evaluate(m, NULL, &truth, cut, 3, NULL, &r1, NULL), 0);
    cr_assert_eq(gnn_evaluate(m, NULL, &truth, cut, 3, p, &r2, NULL), 0);
    for (int c = 0; c < 3; c++) {
        cr_assert_eq(r1.recall[c], r2.recall[c]);
        cr_assert_eq(r1.ndcg[c], r2.ndcg[c]);
        cr_assert_eq(r1.mrr[c], r2.mrr[c]);
    }
    cr_assert_gt(r1.recall[2], 0.2, "20 of 50 items should catch some");
    gnn_pool_free(p);
    gnn_model_free(m);
    gnn_csr_free(&truth);
    gnn_interactions_free(&x);
    free(u);
    free(it);
}
