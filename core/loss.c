#include <math.h>

#include "gnn_train.h"

static float dot(const float *a, const float *b, int32_t d)
{
    float s = 0.0f;
    for (int32_t j = 0; j < d; j++)
        s += a[j] * b[j];
    return s;
}

/* log(1 + exp(x)) without overflow. */
static double softplus(double x)
{
    return x > 0.0 ? x + log1p(exp(-x)) : log1p(exp(x));
}

double gnn_bpr_loss(struct gnn_model *m, const struct gnn_batch *b)
{
    int32_t d = m->dim;
    double total = 0.0;
    float scale = 1.0f / ((float)b->n * (float)b->n_neg);

    /* Serial on purpose: rows repeat within a batch, and a fixed order
     * of the scatter-adds keeps the gradient bit-reproducible. */
    for (int32_t t = 0; t < b->n; t++) {
        const float *eu = m->user_out + (size_t)b->user[t] * d;
        const float *ei = m->item_out + (size_t)b->pos[t] * d;
        float *gu = m->grad_user + (size_t)b->user[t] * d;
        float *gi = m->grad_item + (size_t)b->pos[t] * d;
        float ui = dot(eu, ei, d);

        for (int32_t q = 0; q < b->n_neg; q++) {
            int32_t j = b->neg[(size_t)t * b->n_neg + q];
            const float *ej = m->item_out + (size_t)j * d;
            float *gj = m->grad_item + (size_t)j * d;
            float x = ui - dot(eu, ej, d);

            total += softplus(-(double)x);
            /* d softplus(-x) / dx = -sigmoid(-x) */
            float g = -scale / (1.0f + expf(x));
            for (int32_t c = 0; c < d; c++) {
                gu[c] += g * (ei[c] - ej[c]);
                gi[c] += g * eu[c];
                gj[c] -= g * eu[c];
            }
        }
    }
    return total * (double)scale;
}

static double add_l2(const float *e, float *g, int32_t d, float c)
{
    double s = 0.0;
    for (int32_t j = 0; j < d; j++) {
        s += (double)e[j] * e[j];
        g[j] += c * e[j];
    }
    return s;
}

double gnn_l2_loss(struct gnn_model *m, const struct gnn_batch *b, float l2)
{
    int32_t d = m->dim;
    float c = l2 / ((float)b->n * (float)b->n_neg);
    double s = 0.0;

    if (l2 == 0.0f || m->user_base == NULL)
        return 0.0;
    for (int32_t t = 0; t < b->n; t++) {
        size_t u = (size_t)b->user[t] * d, i = (size_t)b->pos[t] * d;
        for (int32_t q = 0; q < b->n_neg; q++) {
            size_t j = (size_t)b->neg[(size_t)t * b->n_neg + q] * d;
            s += add_l2(m->user_base + u, m->grad_user_base + u, d, c);
            s += add_l2(m->item_base + i, m->grad_item_base + i, d, c);
            s += add_l2(m->item_base + j, m->grad_item_base + j, d, c);
        }
    }
    return 0.5 * (double)c * s;
}

/* ---------------------------------------------------------------- adam */

struct adam_task {
    struct gnn_model *m;
    float lr_t, beta1, beta2, eps, bc2_sqrt;
};

static void adam_task(int ith, int nth, void *ctx)
{
    struct adam_task *t = ctx;

    for (int p = 0; p < t->m->n_params; p++) {
        struct gnn_param *q = &t->m->params[p];
        float *restrict w = q->w, *restrict mo = q->m, *restrict v = q->v;
        const float *restrict g = q->g;
        int64_t lo, hi;

        gnn_split_range(q->n, ith, nth, &lo, &hi);
        for (int64_t i = lo; i < hi; i++) {
            mo[i] = t->beta1 * mo[i] + (1.0f - t->beta1) * g[i];
            v[i] = t->beta2 * v[i] + (1.0f - t->beta2) * g[i] * g[i];
            w[i] -= t->lr_t * mo[i] / (sqrtf(v[i]) / t->bc2_sqrt + t->eps);
        }
    }
}

void gnn_adam_step(struct gnn_model *m, int64_t t, float lr, float beta1,
                   float beta2, float eps, struct gnn_pool *pool)
{
    double bc1 = 1.0 - pow(beta1, (double)t);
    double bc2 = 1.0 - pow(beta2, (double)t);
    struct adam_task task = {m,   (float)(lr / bc1), beta1, beta2,
                             eps, (float)sqrt(bc2)};

    gnn_pool_run(pool, adam_task, &task);
}

struct adam_rows_task {
    struct adam_task a;
    const int32_t *nodes;
    int64_t n_nodes;
};

static void adam_update(const struct adam_task *t, struct gnn_param *q,
                        int64_t lo, int64_t hi, int zero_grad)
{
    float *restrict w = q->w, *restrict mo = q->m, *restrict v = q->v;
    float *restrict g = q->g;

    for (int64_t i = lo; i < hi; i++) {
        mo[i] = t->beta1 * mo[i] + (1.0f - t->beta1) * g[i];
        v[i] = t->beta2 * v[i] + (1.0f - t->beta2) * g[i] * g[i];
        w[i] -= t->lr_t * mo[i] / (sqrtf(v[i]) / t->bc2_sqrt + t->eps);
        if (zero_grad)
            g[i] = 0.0f;
    }
}

static void adam_rows_task(int ith, int nth, void *ctx)
{
    struct adam_rows_task *t = ctx;
    struct gnn_model *m = t->a.m;
    int64_t lo, hi;

    gnn_split_range(t->n_nodes, ith, nth, &lo, &hi);
    for (int p = 0; p < m->n_params; p++) {
        struct gnn_param *q = &m->params[p];
        int64_t width;

        for (int64_t k = lo; k < hi; k++) {
            int64_t at = gnn_param_node_row(m, q, t->nodes[k], &width);
            if (at >= 0)
                adam_update(&t->a, q, at, at + width, 1);
        }
    }
}

void gnn_adam_step_rows(struct gnn_model *m, int64_t t, float lr, float beta1,
                        float beta2, float eps, const int32_t *nodes,
                        int64_t n_nodes, struct gnn_pool *pool)
{
    double bc1 = 1.0 - pow(beta1, (double)t);
    double bc2 = 1.0 - pow(beta2, (double)t);
    struct adam_rows_task task = {
        {m, (float)(lr / bc1), beta1, beta2, eps, (float)sqrt(bc2)},
        nodes,
        n_nodes};

    for (int p = 0; p < m->n_params; p++) {
        if (m->params[p].rows == GNN_PARAM_SHARED)
            adam_update(&task.a, &m->params[p], 0, m->params[p].n, 0);
    }
    gnn_pool_run(pool, adam_rows_task, &task);
}

/* ------------------------------------------------------------ sampling */

void gnn_sample_negatives(const struct gnn_graph *g, struct gnn_rng *rng,
                          int32_t u, int32_t n_neg, int32_t *neg)
{
    for (int32_t q = 0; q < n_neg; q++) {
        int32_t j = (int32_t)gnn_rng_below(rng, (uint32_t)g->n_items);
        for (int tries = 1; tries < 64 && gnn_csr_has(&g->ui, u, j); tries++)
            j = (int32_t)gnn_rng_below(rng, (uint32_t)g->n_items);
        neg[q] = j;
    }
}

void gnn_model_sample_negatives(const struct gnn_model *m, struct gnn_rng *rng,
                                int32_t u, int32_t n_neg, int32_t *neg)
{
    const struct gnn_csr *ui = &m->graph->ui;
    const int32_t *from = m->neg_items;
    uint32_t n = (uint32_t)m->n_neg_items;

    if (from == NULL || n == 0) {
        gnn_sample_negatives(m->graph, rng, u, n_neg, neg);
        return;
    }
    for (int32_t q = 0; q < n_neg; q++) {
        int32_t j = from[gnn_rng_below(rng, n)];
        for (int tries = 1; tries < 64 && gnn_csr_has(ui, u, j); tries++)
            j = from[gnn_rng_below(rng, n)];
        neg[q] = j;
    }
}
