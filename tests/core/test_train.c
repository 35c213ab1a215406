#include <criterion/criterion.h>
#include <string.h>

#include "gnn.h"

/*
 * A planted data set: users and items fall into two groups, users only
 * use items of their own group. Train holds 8 items per user, valid 2.
 */
#define NU 60
#define NI 40

static void planted(struct gnn_graph *g, struct gnn_csr *valid)
{
    struct gnn_interactions tr, va;
    struct gnn_rng rng;

    gnn_interactions_init(&tr);
    gnn_interactions_init(&va);
    gnn_rng_seed(&rng, 1);
    for (int32_t u = 0; u < NU; u++) {
        int32_t base = (u % 2) * (NI / 2);
        int32_t picked[NI / 2] = {0};
        for (int n = 0; n < 10;) {
            int32_t i = (int32_t)gnn_rng_below(&rng, NI / 2);
            if (picked[i])
                continue;
            picked[i] = 1;
            gnn_interactions_push(n < 8 ? &tr : &va, u, base + i, 1, 0, NULL);
            n++;
        }
    }
    cr_assert_eq(gnn_graph_build(&tr, NU, NI, 0.5f, 0.5f, g, NULL), 0);
    cr_assert_eq(gnn_interactions_to_csr(&va, NU, NI, valid, NULL), 0);
    gnn_interactions_free(&tr);
    gnn_interactions_free(&va);
}

static void config(struct gnn_train_config *c)
{
    gnn_train_config_default(c);
    c->epochs = 30;
    c->batch = 64;
    c->lr = 0.01f;
    c->eval_every = 5;
    c->patience = 0;
}

static double train_recall(enum gnn_model_kind kind, int nth)
{
    struct gnn_graph g;
    struct gnn_csr valid;
    struct gnn_model_config mc;
    struct gnn_train_config tc;
    struct gnn_train_result r;
    struct gnn_model *m;
    struct gnn_pool *p;
    struct gnn_error err;

    planted(&g, &valid);
    gnn_model_config_default(&mc, kind);
    mc.dim = 8;
    mc.layers = 2;
    mc.knn_neighbors = 10;
    config(&tc);
    cr_assert_eq(gnn_pool_new(nth, &p, NULL), 0);
    cr_assert_eq(gnn_model_new(&mc, &g, &m, &err), 0, "%s", err.text);
    cr_assert_eq(gnn_train(m, &valid, NULL, &tc, p, &r, &err), 0, "%s",
                 err.text);
    cr_assert(r.has_valid);
    double recall = r.valid.recall[0]; /* @10 */
    gnn_model_free(m);
    gnn_pool_free(p);
    gnn_csr_free(&valid);
    gnn_graph_free(&g);
    return recall;
}

Test(train, every_model_learns_the_planted_groups)
{
    /* Random ranking puts 10 of 32 unseen items on the list: ~0.31. */
    const enum gnn_model_kind kinds[] = {GNN_MODEL_ITEMKNN, GNN_MODEL_EASE,
                                         GNN_MODEL_MF, GNN_MODEL_LIGHTGCN,
                                         GNN_MODEL_GCN};
    for (int k = 0; k < 5; k++) {
        double r = train_recall(kinds[k], 1);
        cr_assert_gt(r, 0.5, "%s: recall@10 %.3f",
                     gnn_model_kind_name(kinds[k]), r);
    }
}

/* Train lightgcn for a few epochs and return its base embeddings. */
static float *train_params(int nth, uint64_t seed)
{
    struct gnn_graph g;
    struct gnn_csr valid;
    struct gnn_model_config mc;
    struct gnn_train_config tc;
    struct gnn_train_result r;
    struct gnn_model *m;
    struct gnn_pool *p;

    planted(&g, &valid);
    gnn_model_config_default(&mc, GNN_MODEL_LIGHTGCN);
    mc.dim = 64; /* the vector kernel's width */
    mc.layers = 2;
    config(&tc);
    tc.epochs = 4;
    tc.negatives = 3;
    tc.seed = seed;
    cr_assert_eq(gnn_pool_new(nth, &p, NULL), 0);
    cr_assert_eq(gnn_model_new(&mc, &g, &m, NULL), 0);
    cr_assert_eq(gnn_train(m, &valid, NULL, &tc, p, &r, NULL), 0);
    float *w = malloc((size_t)m->params[0].n * sizeof(float));
    memcpy(w, m->params[0].w, (size_t)m->params[0].n * sizeof(float));
    gnn_model_free(m);
    gnn_pool_free(p);
    gnn_csr_free(&valid);
    gnn_graph_free(&g);
    return w;
}

Test(train, one_and_two_threads_give_identical_parameters)
{
    size_t n = (size_t)(NU + NI) * 64 * sizeof(float);
    float *a = train_params(1, 5), *b = train_params(2, 5);
    float *c = train_params(2, 6);

    cr_assert(memcmp(a, b, n) == 0, "thread count changed the result");
    cr_assert(memcmp(a, c, n) != 0, "the seed should matter");
    free(a);
    free(b);
    free(c);
}

static int stop_at_three(const struct gnn_progress *p, void *ctx)
{
    int *calls = ctx;
    (*calls)++;
    return p->epoch == 3;
}

Test(train, progress_reports_each_epoch_and_can_cancel)
{
    struct gnn_graph g;
    struct gnn_csr valid;
    struct gnn_model_config mc;
    struct gnn_train_config tc;
    struct gnn_train_result r;
    struct gnn_model *m;
    struct gnn_error err;
    int calls = 0;

    planted(&g, &valid);
    gnn_model_config_default(&mc, GNN_MODEL_MF);
    mc.dim = 4;
    config(&tc);
    tc.progress = stop_at_three;
    tc.progress_ctx = &calls;
    cr_assert_eq(gnn_model_new(&mc, &g, &m, NULL), 0);
    cr_assert_eq(gnn_train(m, &valid, NULL, &tc, NULL, &r, &err),
                 GNN_ECANCELED);
    cr_assert_eq(calls, 3);
    tc.batch = 0;
    cr_assert_eq(gnn_train(m, &valid, NULL, &tc, NULL, &r, &err), GNN_EINVAL);
    gnn_model_free(m);
    gnn_csr_free(&valid);
    gnn_graph_free(&g);
}

Test(train, early_stopping_keeps_the_best_validated_epoch)
{
    struct gnn_graph g;
    struct gnn_csr valid;
    struct gnn_model_config mc;
    struct gnn_train_config tc;
    struct gnn_train_result r;
    struct gnn_model *m;

    planted(&g, &valid);
    gnn_model_config_default(&mc, GNN_MODEL_MF);
    mc.dim = 8;
    config(&tc);
    tc.epochs = 400;
    tc.lr = 0.05f;
    tc.eval_every = 1;
    tc.patience = 3;
    cr_assert_eq(gnn_model_new(&mc, &g, &m, NULL), 0);
    cr_assert_eq(gnn_train(m, &valid, NULL, &tc, NULL, &r, NULL), 0);
    cr_assert_lt(r.epochs_run, 400, "should stop early");
    cr_assert_eq(r.epochs_run, r.best_epoch + 3);

    /* The kept parameters reproduce the best validation figure. */
    struct gnn_metrics again;
    cr_assert_eq(
        gnn_evaluate(m, &g.ui, &valid, tc.cut, tc.n_cut, NULL, &again, NULL),
        0);
    cr_assert_eq(again.ndcg[1], r.valid.ndcg[1]);
    gnn_model_free(m);
    gnn_csr_free(&valid);
    gnn_graph_free(&g);
}

Test(train, entries_restrict_training_and_a_budget_stops_it)
{
    struct gnn_graph g;
    struct gnn_csr valid;
    struct gnn_model_config mc;
    struct gnn_train_config tc;
    struct gnn_train_result r;
    struct gnn_model *m;
    int64_t entries[8];

    planted(&g, &valid);
    gnn_model_config_default(&mc, GNN_MODEL_MF);
    mc.dim = 4;
    config(&tc);
    tc.epochs = 5;
    tc.eval_every = 0;
    for (int64_t k = 0; k < 8; k++)
        entries[k] = g.ui.row_ptr[0] + k; /* user 0's edges only */
    tc.entries = entries;
    tc.n_entries = 8;
    cr_assert_eq(gnn_model_new(&mc, &g, &m, NULL), 0);

    float before0[4], before1[4];
    memcpy(before0, m->user_base, sizeof(before0));
    memcpy(before1, m->user_base + 4, sizeof(before1));
    cr_assert_eq(gnn_train(m, NULL, NULL, &tc, NULL, &r, NULL), 0);
    cr_assert_eq(r.epochs_run, 5);
    cr_assert_eq(r.batches_run, 5, "one batch of 8 entries per epoch");
    cr_assert_eq(r.budget_hit, 0);
    cr_assert_neq(memcmp(before0, m->user_base, sizeof(before0)), 0);
    cr_assert_eq(memcmp(before1, m->user_base + 4, sizeof(before1)), 0,
                 "a user outside the entries has no gradient");

    /* A budget already spent stops after the first batch. */
    tc.entries = NULL;
    tc.budget_seconds = 1e-9;
    cr_assert_eq(gnn_train(m, NULL, NULL, &tc, NULL, &r, NULL), 0);
    cr_assert_eq(r.batches_run, 1);
    cr_assert_eq(r.epochs_run, 1);
    cr_assert_eq(r.budget_hit, 1);

    tc.budget_seconds = 0;
    tc.entries = entries;
    entries[3] = g.ui.nnz;
    cr_assert_eq(gnn_train(m, NULL, NULL, &tc, NULL, &r, NULL), GNN_EINVAL);
    tc.n_entries = 0;
    cr_assert_eq(gnn_train(m, NULL, NULL, &tc, NULL, &r, NULL), GNN_EINVAL);
    gnn_model_free(m);
    gnn_csr_free(&valid);
    gnn_graph_free(&g);
}
