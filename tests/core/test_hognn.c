/*
 * hognn: finite-difference checks of every hand-written gradient (the
 * initial residual, PairNorm, hop logits, the gate, the dual source map
 * and the pair loss, and the residual option of gcn), and its behaviour:
 * the plain setting is LightGCN, DropEdge is a training-only function of
 * the seed and epoch, categories reach cold items, a cold item's
 * embedding is its category's propagation and it is never a sampled
 * negative, training is reproducible, bad settings and files are
 * refused.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "gnn.h"

#define N_USERS 6
#define N_ITEMS 7

static void tiny_graph(struct gnn_graph *g)
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
    cr_assert_eq(gnn_graph_build(&x, N_USERS, N_ITEMS, 0.5f, 0.5f, g, NULL), 0);
    gnn_interactions_free(&x);
}

static const int32_t users[] = {0, 3, 5, 3};
static const int32_t pos[] = {0, 3, 5, 1};
static const int32_t neg[] = {4, 6, 2, 0, 1, 6, 2, 4};
static const struct gnn_batch batch = {4, 2, users, pos, neg};

/* Directed pairs (i -> j) and categories (item 6, cold, has one). */
static const int32_t pairs[] = {0, 3, 1, 4, 2, 5, 0, 6, 5, 1};
static const int32_t cats[] = {0, 1, 0, 1, 2, 2, 1};

static double total_loss(struct gnn_model *m, float l2)
{
    size_t d = (size_t)m->dim * sizeof(float);

    m->ops->forward(m, NULL);
    memset(m->grad_user, 0, (size_t)m->n_users * d);
    memset(m->grad_item, 0, (size_t)m->n_items * d);
    double loss = gnn_bpr_loss(m, &batch);
    if (m->ops->extra_loss != NULL)
        loss += m->ops->extra_loss(m, 0, 1);
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

/* A plain configuration: every remedy off, LightGCN's mean. */
static void plain(struct gnn_model_config *c, int32_t layers)
{
    gnn_model_config_default(c, GNN_MODEL_HOGNN);
    c->dim = 5;
    c->layers = layers;
    c->init_std = 0.5f;
    c->hognn.alpha = 0.0f;
    c->hognn.pairnorm = 0;
    c->hognn.hop_weights = 0;
    c->hognn.gate = 0;
    c->hognn.dropedge = 0.0f;
    c->hognn.dual = 0;
}

/* Give the zero-initialized extra parameters values, so the check sees
 * the gate and the source map away from their starting point. */
static void perturb(struct gnn_model *m)
{
    struct gnn_rng rng;

    gnn_rng_seed(&rng, 7);
    for (int p = 1; p < m->n_params; p++) {
        for (int64_t i = 0; i < m->params[p].n; i++)
            m->params[p].w[i] = 0.3f * gnn_rng_normal(&rng);
    }
}

static void check(const struct gnn_model_config *c, const char *what)
{
    struct gnn_graph g;
    struct gnn_model *m;

    tiny_graph(&g);
    cr_assert_eq(gnn_model_new(c, &g, &m, NULL), 0, "%s: model", what);
    perturb(m);
    double e = grad_nmse(m, 0.3f);
    cr_assert_lt(e, 1e-4, "%s: gradient NMSE %g", what, e);
    gnn_model_free(m);
    gnn_graph_free(&g);
}

Test(hognn, plain_propagation_gradient_matches_finite_differences)
{
    struct gnn_model_config c;

    plain(&c, 0);
    check(&c, "K=0");
    plain(&c, 3);
    check(&c, "K=3");
}

Test(hognn, initial_residual_gradient_matches_finite_differences)
{
    struct gnn_model_config c;

    plain(&c, 3);
    c.hognn.alpha = 0.2f;
    check(&c, "alpha");
}

Test(hognn, pairnorm_gradient_matches_finite_differences)
{
    struct gnn_model_config c;

    plain(&c, 2);
    c.hognn.pairnorm = 1;
    c.hognn.pn_scale = 1.5f;
    check(&c, "pairnorm");
    c.hognn.alpha = 0.1f;
    c.layers = 4;
    check(&c, "pairnorm + alpha");
}

Test(hognn, hop_weights_gradient_matches_finite_differences)
{
    struct gnn_model_config c;

    plain(&c, 3);
    c.hognn.hop_weights = 1;
    check(&c, "hop weights");
}

Test(hognn, gate_gradient_matches_finite_differences)
{
    struct gnn_model_config c;

    plain(&c, 3);
    c.hognn.gate = 1;
    check(&c, "gate");
    c.hognn.hop_weights = 1;
    c.hognn.alpha = 0.1f;
    c.hognn.pairnorm = 1;
    check(&c, "gate + weights + alpha + pairnorm");
}

Test(hognn, pair_loss_gradient_matches_finite_differences)
{
    struct gnn_model_config c;

    plain(&c, 2);
    c.hognn.pairs = pairs;
    c.hognn.n_pairs = 5;
    c.hognn.pair_weight = 0.7f;
    check(&c, "single-embedding pairs");
    c.hognn.dual = 1;
    check(&c, "dual pairs");
}

Test(hognn, everything_on_with_categories_matches_finite_differences)
{
    struct gnn_model_config c;

    gnn_model_config_default(&c, GNN_MODEL_HOGNN);
    c.dim = 4;
    c.layers = 3;
    c.init_std = 0.5f;
    c.hognn.pairnorm = 1;
    c.hognn.pairs = pairs;
    c.hognn.n_pairs = 5;
    c.hognn.item_cat = cats;
    c.hognn.n_cats = 3;
    check(&c, "all on");
}

Test(hognn, gcn_residual_gradient_matches_finite_differences)
{
    struct gnn_model_config c;

    gnn_model_config_default(&c, GNN_MODEL_GCN);
    c.dim = 5;
    c.layers = 2;
    c.init_std = 0.5f;
    c.gcn_residual = 1;
    struct gnn_graph g;
    struct gnn_model *m;
    tiny_graph(&g);
    cr_assert_eq(gnn_model_new(&c, &g, &m, NULL), 0);
    double e = grad_nmse(m, 0.3f);
    cr_assert_lt(e, 1e-4, "gcn residual: gradient NMSE %g", e);
    gnn_model_free(m);
    gnn_graph_free(&g);
}

/* ---------------------------------------------------------- behaviour */

Test(hognn, plain_setting_equals_lightgcn)
{
    struct gnn_graph g;
    struct gnn_model_config c, lc;
    struct gnn_model *m, *l;

    tiny_graph(&g);
    plain(&c, 3);
    gnn_model_config_default(&lc, GNN_MODEL_LIGHTGCN);
    lc.dim = c.dim;
    lc.layers = 3;
    lc.init_std = c.init_std;
    cr_assert_eq(gnn_model_new(&c, &g, &m, NULL), 0);
    cr_assert_eq(gnn_model_new(&lc, &g, &l, NULL), 0);
    m->ops->forward(m, NULL);
    l->ops->forward(l, NULL);
    for (int32_t i = 0; i < (N_USERS + N_ITEMS) * c.dim; i++)
        cr_assert_float_eq(m->user_out[i], l->user_out[i], 1e-5,
                           "output %d differs from lightgcn", i);
    double w[8];
    cr_assert_eq(gnn_hognn_hop_weights(m, w, 8), 4);
    for (int k = 0; k < 4; k++)
        cr_assert_float_eq(w[k], 0.25, 1e-6, "hop %d weight %g", k, w[k]);
    cr_assert_eq(gnn_hognn_hop_weights(l, w, 8), 0, "lightgcn is no hognn");
    gnn_model_free(m);
    gnn_model_free(l);
    gnn_graph_free(&g);
}

static void outputs(struct gnn_model *m, float *dst)
{
    m->ops->forward(m, NULL);
    memcpy(dst, m->user_out,
           (size_t)(N_USERS + N_ITEMS) * m->dim * sizeof(float));
}

Test(hognn, dropedge_acts_only_in_training_and_follows_the_epoch)
{
    struct gnn_graph g;
    struct gnn_model_config c;
    struct gnn_model *m;
    float full[(N_USERS + N_ITEMS) * 5], e1[sizeof(full) / 4],
        e1b[sizeof(full) / 4], e2[sizeof(full) / 4], back[sizeof(full) / 4];

    tiny_graph(&g);
    plain(&c, 2);
    c.hognn.dropedge = 0.5f;
    cr_assert_eq(gnn_model_new(&c, &g, &m, NULL), 0);
    outputs(m, full);
    m->ops->set_phase(m, 1, 1);
    outputs(m, e1);
    m->ops->set_phase(m, 2, 1);
    outputs(m, e2);
    m->ops->set_phase(m, 1, 1);
    outputs(m, e1b);
    m->ops->set_phase(m, 3, 0);
    outputs(m, back);
    cr_assert(memcmp(full, e1, sizeof(full)) != 0, "epoch 1 dropped nothing");
    cr_assert(memcmp(e1, e2, sizeof(full)) != 0, "epochs 1 and 2 agree");
    cr_assert(memcmp(e1, e1b, sizeof(full)) == 0, "epoch 1 not reproducible");
    cr_assert(memcmp(full, back, sizeof(full)) == 0,
              "evaluation does not use the full graph");
    gnn_model_free(m);
    gnn_graph_free(&g);
}

Test(hognn, categories_reach_an_item_without_interactions)
{
    struct gnn_graph g;
    struct gnn_model_config c;
    struct gnn_model *m;
    int32_t n_hops, n_rows;

    tiny_graph(&g);
    plain(&c, 2);
    c.hognn.item_cat = cats;
    c.hognn.n_cats = 3;
    cr_assert_eq(gnn_model_new(&c, &g, &m, NULL), 0);
    m->ops->forward(m, NULL);
    const float *h1 = m->ops->hop(m, 1, &n_hops, &n_rows);
    cr_assert_eq(n_rows, N_USERS + N_ITEMS + 3);
    cr_assert_eq(n_hops, 3);
    /* Item 6 has no interaction: its hop-1 row comes from category 1. */
    const float *cold = h1 + (size_t)(N_USERS + 6) * c.dim;
    double norm = 0.0;
    for (int32_t k = 0; k < c.dim; k++)
        norm += (double)cold[k] * cold[k];
    cr_assert_gt(norm, 1e-6, "the cold item got nothing from its category");
    gnn_model_free(m);

    c.hognn.item_cat = NULL;
    cr_assert_eq(gnn_model_new(&c, &g, &m, NULL), 0);
    m->ops->forward(m, NULL);
    h1 = m->ops->hop(m, 1, &n_hops, &n_rows);
    cold = h1 + (size_t)(N_USERS + 6) * c.dim;
    for (int32_t k = 0; k < c.dim; k++)
        cr_assert_eq(cold[k], 0.0f, "without categories it is isolated");
    gnn_model_free(m);
    gnn_graph_free(&g);
}

/*
 * What propagation from category c alone gives a cold item at hop k >= 1
 * under a plain setting with initial residual alpha: its only edge is to
 * c, of normalized weight (1 - alpha) / sqrt(n_c) for the n_c items of
 * c (all edges of weight cat_weight), and its hop 0 is c's.
 */
static void cold_expected(struct gnn_model *m, int32_t c, int32_t n_c,
                          float alpha, float *want)
{
    int32_t n_hops, n_rows, d = m->dim;
    size_t row = (size_t)N_USERS + N_ITEMS + c;
    const float *h0 = m->ops->hop(m, 0, &n_hops, &n_rows) + row * d;
    float s = (1.0f - alpha) / sqrtf((float)n_c);

    for (int32_t j = 0; j < d; j++)
        want[j] = h0[j];
    for (int32_t k = 1; k < n_hops; k++) {
        const float *prev = m->ops->hop(m, k - 1, &n_hops, &n_rows) + row * d;
        for (int32_t j = 0; j < d; j++)
            want[j] += s * prev[j] + alpha * h0[j];
    }
    for (int32_t j = 0; j < d; j++)
        want[j] /= (float)n_hops;
}

Test(hognn, cold_item_embedding_comes_from_its_category)
{
    struct gnn_graph g;
    struct gnn_model_config c;
    struct gnn_model *m;
    struct gnn_snapshot *snap;
    float want[5];

    tiny_graph(&g);
    plain(&c, 3);
    c.hognn.alpha = 0.2f;
    c.hognn.item_cat = cats;
    c.hognn.n_cats = 3;
    cr_assert_eq(gnn_model_new(&c, &g, &m, NULL), 0);
    /* Item 6 is cold, in category 1 with items 1 and 3. */
    m->ops->forward(m, NULL);
    cold_expected(m, 1, 3, c.hognn.alpha, want);
    const float *out = m->item_out + (size_t)6 * c.dim;
    double norm = 0.0;
    for (int32_t j = 0; j < c.dim; j++) {
        cr_assert_float_eq(out[j], want[j], 1e-5, "column %d: %g, not %g", j,
                           out[j], want[j]);
        norm += (double)out[j] * out[j];
    }
    cr_assert_gt(norm, 1e-4, "the cold item's output is zero");

    /* Its gradient goes to the category: its own row gets none (no L2
     * here, which would act on the unused row of item 6, a negative of
     * the batch). */
    total_loss(m, 0.0f);
    const float *g6 = m->params[0].g + (size_t)(N_USERS + 6) * c.dim;
    const float *gc = m->params[0].g + (size_t)(N_USERS + N_ITEMS + 1) * c.dim;
    double g6n = 0.0, gcn = 0.0;
    for (int32_t j = 0; j < c.dim; j++) {
        g6n += fabs((double)g6[j]);
        gcn += fabs((double)gc[j]);
    }
    cr_assert_eq(g6n, 0.0, "the cold item's own row has a gradient");
    cr_assert_gt(gcn, 0.0, "its category gets no gradient");

    /* The snapshot serves the embedding that was evaluated. */
    m->ops->forward(m, NULL);
    cr_assert_eq(gnn_snapshot_from_model(m, &g, "cold", &snap, NULL), 0);
    for (int32_t j = 0; j < c.dim; j++)
        cr_assert_eq(snap->items_target[(size_t)6 * c.dim + j], out[j],
                     "the snapshot serves another cold row");
    gnn_snapshot_free(snap);
    gnn_model_free(m);

    check(&c, "cold item tied to its category");
    c.layers = 0;
    check(&c, "cold item tied, K=0");
    gnn_graph_free(&g);
}

/* Draws of the trainer's sampler and of the pair term that hit item 6. */
static int32_t cold_draws(const int32_t *item_cat)
{
    static const int32_t warm_pairs[] = {0, 3, 1, 4, 2, 5, 3, 0, 5, 1};
    struct gnn_graph g;
    struct gnn_model_config c;
    struct gnn_model *m;
    struct gnn_rng rng;
    int32_t draw[8], hits = 0;

    tiny_graph(&g);
    plain(&c, 2);
    c.hognn.item_cat = item_cat;
    c.hognn.n_cats = 3;
    c.hognn.pairs = warm_pairs;
    c.hognn.n_pairs = 5;
    cr_assert_eq(gnn_model_new(&c, &g, &m, NULL), 0);
    gnn_rng_seed(&rng, 3);
    for (int rep = 0; rep < 100; rep++) {
        for (int32_t u = 0; u < N_USERS; u++) {
            gnn_model_sample_negatives(m, &rng, u, 8, draw);
            for (int q = 0; q < 8; q++) {
                cr_assert(draw[q] >= 0 && draw[q] < N_ITEMS);
                hits += draw[q] == 6;
            }
        }
    }
    /* The pairs never name item 6, so a gradient on its output comes
     * from a negative draw. */
    for (int32_t e = 1; e <= 40; e++) {
        m->ops->set_phase(m, e, 1);
        m->ops->forward(m, NULL);
        memset(m->grad_item, 0, (size_t)N_ITEMS * c.dim * sizeof(float));
        m->ops->extra_loss(m, 0, 1);
        for (int32_t j = 0; j < c.dim; j++)
            hits += m->grad_item[(size_t)6 * c.dim + j] != 0.0f;
    }
    gnn_model_free(m);
    gnn_graph_free(&g);
    return hits;
}

Test(hognn, cold_item_is_never_a_negative)
{
    cr_assert_eq(cold_draws(cats), 0, "a cold item was drawn as a negative");
    /* Without a category it is an ordinary (isolated) item and drawn. */
    cr_assert_gt(cold_draws(NULL), 0, "item 6 is never drawn at all");
}

static void train_once(int threads, int dual, float *items, float *src)
{
    struct gnn_graph g;
    struct gnn_model_config c;
    struct gnn_train_config tc;
    struct gnn_train_result res;
    struct gnn_model *m;
    struct gnn_pool *pool;

    tiny_graph(&g);
    gnn_model_config_default(&c, GNN_MODEL_HOGNN);
    c.dim = 8;
    c.layers = 4;
    c.hognn.pairnorm = 1;
    c.hognn.dual = dual;
    c.hognn.pairs = pairs;
    c.hognn.n_pairs = 5;
    c.hognn.item_cat = cats;
    c.hognn.n_cats = 3;
    gnn_train_config_default(&tc);
    tc.epochs = 6;
    tc.batch = 4;
    tc.lr = 0.05f;
    tc.eval_every = 0;
    cr_assert_eq(gnn_pool_new(threads, &pool, NULL), 0);
    cr_assert_eq(gnn_model_new(&c, &g, &m, NULL), 0);
    cr_assert_eq(gnn_train(m, NULL, NULL, &tc, pool, &res, NULL), 0);
    memcpy(items, m->item_out, (size_t)N_ITEMS * c.dim * sizeof(float));
    memcpy(src, m->item_source_out, (size_t)N_ITEMS * c.dim * sizeof(float));
    gnn_model_free(m);
    gnn_pool_free(pool);
    gnn_graph_free(&g);
}

Test(hognn, training_is_reproducible_and_dual_sources_differ)
{
    float a[N_ITEMS * 8], as[N_ITEMS * 8], b[N_ITEMS * 8], bs[N_ITEMS * 8];

    train_once(1, 1, a, as);
    train_once(1, 1, b, bs);
    cr_assert(memcmp(a, b, sizeof(a)) == 0, "same seed, other result");
    train_once(3, 1, a, as);
    train_once(3, 1, b, bs);
    cr_assert(memcmp(a, b, sizeof(a)) == 0, "3 threads: other result");
    cr_assert(memcmp(as, bs, sizeof(a)) == 0, "3 threads: other sources");
    cr_assert(memcmp(a, as, sizeof(a)) != 0, "dual sources equal targets");
    train_once(1, 0, a, as);
    cr_assert(memcmp(a, as, sizeof(a)) == 0, "single: sources are targets");
}

Test(hognn, bad_settings_are_refused)
{
    struct gnn_graph g;
    struct gnn_model_config c;
    struct gnn_model *m;
    struct gnn_error err = {0};
    const int32_t bad_pairs[] = {0, 99};
    const int32_t bad_cats[] = {0, 1, 0, 1, 2, 7, 1};

    tiny_graph(&g);
    plain(&c, 2);
    c.hognn.alpha = 1.5f;
    cr_assert_eq(gnn_model_new(&c, &g, &m, &err), GNN_EINVAL);
    cr_assert_null(m);
    plain(&c, 2);
    c.hognn.dropedge = 0.95f;
    cr_assert_eq(gnn_model_new(&c, &g, &m, &err), GNN_EINVAL);
    plain(&c, 2);
    c.hognn.pairs = bad_pairs;
    c.hognn.n_pairs = 1;
    cr_assert_eq(gnn_model_new(&c, &g, &m, &err), GNN_ERANGE);
    cr_assert(strstr(err.text, "99") != NULL, "error names the id: %s",
              err.text);
    plain(&c, 2);
    c.hognn.item_cat = bad_cats;
    c.hognn.n_cats = 3;
    cr_assert_eq(gnn_model_new(&c, &g, &m, &err), GNN_ERANGE);
    gnn_graph_free(&g);
}

/* --------------------------------------------------------- side files */

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

Test(hognn, pairs_file_is_read_and_bad_lines_are_named)
{
    char path[] = "/tmp/hognn_pairs_XXXXXX";
    int fd = mkstemp(path);
    int32_t *p;
    int64_t n;
    struct gnn_error err = {0};

    cr_assert_geq(fd, 0);
    close(fd);
    write_file(path, "# i j\n0 3\n\n2 1\n 4\t0\n");
    cr_assert_eq(gnn_pairs_load(path, 5, &p, &n, &err), 0, "%s", err.text);
    cr_assert_eq(n, 3);
    cr_assert(p[0] == 0 && p[1] == 3 && p[2] == 2 && p[3] == 1 && p[4] == 4 &&
              p[5] == 0);
    free(p);
    write_file(path, "0 3\n1 x\n");
    cr_assert_eq(gnn_pairs_load(path, 5, &p, &n, &err), GNN_EFORMAT);
    cr_assert(strstr(err.text, ":2:") != NULL, "%s", err.text);
    cr_assert_null(p);
    write_file(path, "0 5\n");
    cr_assert_eq(gnn_pairs_load(path, 5, &p, &n, &err), GNN_ERANGE);
    unlink(path);
    cr_assert_eq(gnn_pairs_load(path, 5, &p, &n, &err), GNN_ENOENT);
}

Test(hognn, categories_are_numbered_in_order_of_first_use)
{
    char path[] = "/tmp/hognn_cats_XXXXXX";
    int fd = mkstemp(path);
    int32_t *c, n;
    struct gnn_error err = {0};

    cr_assert_geq(fd, 0);
    close(fd);
    write_file(path, "shoes\nphones\nshoes\n\ncases\nphones\n");
    cr_assert_eq(gnn_categories_load(path, 8, &c, &n, &err), 0, "%s", err.text);
    cr_assert_eq(n, 3);
    const int32_t want[] = {0, 1, 0, -1, 2, 1, -1, -1};
    for (int i = 0; i < 8; i++)
        cr_assert_eq(c[i], want[i], "item %d: %d", i, c[i]);
    free(c);
    unlink(path);
}

Test(hognn, pair_ranking_counts_items_above_the_target)
{
    /* Item 0's source points along x; targets: 1 at 0.5, 2 at 0.9,
     * 3 at 0.1 along x. */
    const float src[] = {1, 0, 0, 1, 0, 1, 0, 1};
    const float tgt[] = {9, 0, 0.5f, 0, 0.9f, 0, 0.1f, 0};
    const int32_t p[] = {0, 1, 0, 2, 0, 3};
    double hit, mrr;

    cr_assert_eq(gnn_pairs_evaluate(src, tgt, 4, 2, p, 3, 2, &hit, &mrr, NULL),
                 0);
    /* ranks 2, 1, 3 (item 0 itself is not a candidate) */
    cr_assert_float_eq(hit, 2.0 / 3.0, 1e-9);
    cr_assert_float_eq(mrr, (0.5 + 1.0) / 3.0, 1e-9);
    cr_assert_eq(gnn_pairs_evaluate(src, tgt, 4, 2, p, 3, 0, &hit, &mrr, NULL),
                 GNN_EINVAL);
}

Test(hognn, event_pairs_follow_a_purchase_within_the_window)
{
    char dir[] = "/tmp/hognn_events_XXXXXX", path[256];
    struct gnn_interactions x;
    struct gnn_csr ui;
    int32_t *p;
    int64_t n;
    struct gnn_error err = {0};

    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/users.txt", dir);
    write_file(path, "ann\nbob\n");
    snprintf(path, sizeof(path), "%s/items.txt", dir);
    write_file(path, "phone\ncase\ncable\nbook\n");
    snprintf(path, sizeof(path), "%s/events.csv", dir);
    /* ann buys a phone, views a case a day later and the cable in the
     * same hour (under the gap), and a book a month later (over the
     * window); bob views the case, then buys the phone. */
    write_file(path, "user,item,type,value,timestamp\n"
                     "ann,phone,purchase,,1000\n"
                     "ann,cable,view,,1500\n"
                     "ann,case,view,,87400\n"
                     "ann,book,view,,3000000\n"
                     "bob,case,view,,1000\n"
                     "bob,phone,purchase,,90000\n"
                     "zed,phone,purchase,,5\n");
    gnn_interactions_init(&x);
    const int32_t uu[] = {0, 0, 0, 0, 1, 1}, ii[] = {0, 1, 2, 3, 0, 1};
    for (int q = 0; q < 6; q++)
        cr_assert_eq(gnn_interactions_push(&x, uu[q], ii[q], 1, 0, NULL), 0);
    cr_assert_eq(gnn_interactions_to_csr(&x, 2, 4, &ui, NULL), 0);
    cr_assert_eq(
        gnn_pairs_from_events(dir, &ui, 3600, 14 * 86400, &p, &n, &err), 0,
        "%s", err.text);
    cr_assert_eq(n, 1, "pairs: %lld", (long long)n);
    cr_assert(p[0] == 0 && p[1] == 1, "phone -> case, got %d -> %d", p[0],
              p[1]);
    free(p);
    gnn_csr_free(&ui);
    gnn_interactions_free(&x);
    snprintf(path, sizeof(path), "%s/events.csv", dir);
    write_file(path, "who,what\nann,phone\n");
    cr_assert_eq(gnn_pairs_from_events(dir, NULL, 0, 1, &p, &n, &err),
                 GNN_EFORMAT);
    for (const char *f = "users.txt\0items.txt\0events.csv\0"; *f;
         f += strlen(f) + 1) {
        snprintf(path, sizeof(path), "%s/%s", dir, f);
        unlink(path);
    }
    rmdir(dir);
}
