#include "gnn_model.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gnn_rng.h"

/* ------------------------------------------------------------- common */

static const char *const kind_names[] = {
    [GNN_MODEL_POP] = "pop",
    [GNN_MODEL_ITEMKNN] = "itemknn",
    [GNN_MODEL_EASE] = "ease",
    [GNN_MODEL_MF] = "mf",
    [GNN_MODEL_LIGHTGCN] = "lightgcn",
    [GNN_MODEL_GCN] = "gcn",
    [GNN_MODEL_EMBEDDINGS] = "embeddings",
    [GNN_MODEL_HOGNN] = "hognn",
};

#define N_KINDS (int)(sizeof(kind_names) / sizeof(kind_names[0]))

static const struct gnn_model_ops *const kind_ops[] = {
    [GNN_MODEL_POP] = &gnn__ops_pop,
    [GNN_MODEL_ITEMKNN] = &gnn__ops_itemknn,
    [GNN_MODEL_EASE] = &gnn__ops_ease,
    [GNN_MODEL_MF] = &gnn__ops_mf,
    [GNN_MODEL_LIGHTGCN] = &gnn__ops_lightgcn,
    [GNN_MODEL_GCN] = &gnn__ops_gcn,
    [GNN_MODEL_EMBEDDINGS] = &gnn__ops_embeddings,
    [GNN_MODEL_HOGNN] = &gnn__ops_hognn,
};

void gnn_model_config_default(struct gnn_model_config *c,
                              enum gnn_model_kind kind)
{
    memset(c, 0, sizeof(*c));
    c->kind = kind;
    c->dim = 64;
    c->layers = 3;
    c->init_std = 0.1f;
    c->seed = 2024;
    c->knn_neighbors = 100;
    c->ease_lambda = 500.0f;
    c->mem_limit = (int64_t)2 << 30;
    gnn_hognn_config_default(&c->hognn);
}

int gnn_model_kind_parse(const char *name)
{
    for (int k = 0; k < N_KINDS; k++) {
        if (strcmp(name, kind_names[k]) == 0)
            return k;
    }
    return -1;
}

const char *gnn_model_kind_name(enum gnn_model_kind kind)
{
    if ((int)kind < 0 || (int)kind >= N_KINDS)
        return "unknown";
    return kind_names[kind];
}

int gnn__model_add_param(struct gnn_model *m, int64_t n, float **w,
                         struct gnn_error *err)
{
    struct gnn_param *p;

    if (m->n_params == GNN_MODEL_MAX_PARAMS)
        return gnn_error_set(err, GNN_EINVAL, "too many parameters");
    p = &m->params[m->n_params];
    p->n = n;
    /* Weights, gradient and Adam moments share one block: one
     * allocation per parameter, released with w. */
    p->w = calloc(4 * (size_t)n + 1, sizeof(float));
    m->n_params++; /* counted even on failure, so that free releases it */
    if (p->w == NULL)
        return gnn_error_set(err, GNN_ENOMEM,
                             "cannot allocate a parameter of %lld floats",
                             (long long)n);
    p->g = p->w + n;
    p->m = p->g + n;
    p->v = p->m + n;
    *w = p->w;
    return 0;
}

static int check_config(const struct gnn_model_config *c, struct gnn_error *err)
{
    if ((int)c->kind < 0 || (int)c->kind >= N_KINDS)
        return gnn_error_set(err, GNN_EINVAL, "unknown model kind %d",
                             (int)c->kind);
    if (c->dim < 1 || c->dim > 4096)
        return gnn_error_set(err, GNN_EINVAL, "dim %d outside 1..4096", c->dim);
    if (c->layers < 0 || c->layers > 16)
        return gnn_error_set(err, GNN_EINVAL, "layers %d outside 0..16",
                             c->layers);
    if (!(c->init_std >= 0.0f) || c->knn_neighbors < 1 ||
        !(c->ease_lambda > 0.0f) || c->mem_limit < 0)
        return gnn_error_set(err, GNN_EINVAL, "bad model setting");
    return 0;
}

int gnn_model_new(const struct gnn_model_config *cfg,
                  const struct gnn_graph *graph, struct gnn_model **out,
                  struct gnn_error *err)
{
    struct gnn_model *m;
    int ret;

    *out = NULL;
    ret = check_config(cfg, err);
    if (ret != 0)
        return ret;
    if (cfg->kind == GNN_MODEL_EMBEDDINGS)
        return gnn_error_set(err, GNN_EINVAL,
                             "use gnn_model_new_embeddings for fixed "
                             "embeddings");
    m = calloc(1, sizeof(*m));
    if (m == NULL)
        return gnn_error_set(err, GNN_ENOMEM, "cannot allocate a model");
    m->ops = kind_ops[cfg->kind];
    m->cfg = *cfg;
    m->graph = graph;
    m->n_users = graph->n_users;
    m->n_items = graph->n_items;
    m->dim = cfg->dim;
    ret = m->ops->init(m, err);
    if (ret != 0) {
        gnn_model_free(m);
        return ret;
    }
    *out = m;
    return 0;
}

void gnn_model_free(struct gnn_model *m)
{
    if (m == NULL)
        return;
    if (m->ops != NULL && m->ops->destroy != NULL)
        m->ops->destroy(m);
    for (int i = 0; i < m->n_params; i++) {
        free(m->params[i].w); /* and g, m, v in the same block */
    }
    free(m);
}

int64_t gnn_param_node_row(const struct gnn_model *m, const struct gnn_param *q,
                           int64_t node, int64_t *width)
{
    int items = q->rows == GNN_PARAM_ITEMS;
    int64_t rows = items ? m->n_items : (int64_t)m->n_users + m->n_items;
    int64_t r = node - (items ? m->n_users : 0);

    *width = q->n / rows;
    if (q->rows == GNN_PARAM_SHARED || r < 0)
        return -1;
    return r * *width;
}

int gnn_model_trainable(const struct gnn_model *m)
{
    return m->ops->forward != NULL && m->ops->backward != NULL &&
           m->n_params > 0;
}

void gnn_model_score(const struct gnn_model *m, const int32_t *users, int32_t n,
                     float *out)
{
    if (m->ops->score != NULL) {
        m->ops->score(m, users, n, out);
        return;
    }
    /* Gather the users' rows so that one GEMM scores the block. */
    int32_t d = m->dim;
    float *block = malloc((size_t)n * (size_t)d * sizeof(*block));
    if (block == NULL) {
        /* Slow path without scratch memory: one GEMV per user. */
        for (int32_t b = 0; b < n; b++)
            cblas_sgemv(CblasRowMajor, CblasNoTrans, m->n_items, d, 1.0f,
                        m->item_out, d, m->user_out + (size_t)users[b] * d, 1,
                        0.0f, out + (size_t)b * m->n_items, 1);
        return;
    }
    for (int32_t b = 0; b < n; b++)
        memcpy(block + (size_t)b * d, m->user_out + (size_t)users[b] * d,
               (size_t)d * sizeof(*block));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, m->n_items, d, 1.0f,
                block, d, m->item_out, d, 0.0f, out, m->n_items);
    free(block);
}

/* Node tables hold users then items: point the views into them. */
static void set_node_views(struct gnn_model *m, float *base, float *gbase,
                           float *out, float *gout)
{
    size_t off = (size_t)m->n_users * (size_t)m->dim;

    m->user_base = base;
    m->item_base = base + off;
    m->grad_user_base = gbase;
    m->grad_item_base = gbase + off;
    m->user_out = out;
    m->item_out = out + off;
    m->item_source_out = m->item_out;
    m->grad_user = gout;
    m->grad_item = gout + off;
}

static int init_base(struct gnn_model *m, float **base, struct gnn_error *err)
{
    int64_t n = (int64_t)(m->n_users + m->n_items) * m->dim;
    struct gnn_rng rng;
    int ret = gnn__model_add_param(m, n, base, err);

    if (ret != 0)
        return ret;
    m->params[m->n_params - 1].rows = GNN_PARAM_NODES;
    gnn_rng_seed(&rng, m->cfg.seed);
    for (int64_t i = 0; i < n && m->cfg.init_std > 0.0f; i++)
        (*base)[i] = m->cfg.init_std * gnn_rng_normal(&rng);
    return 0;
}

/* ----------------------------------------------------------------- mf */

/*
 * Matrix factorization: the outputs are the base embeddings themselves,
 * so the output gradient is the parameter gradient (same buffer) and
 * backward has nothing to do.
 */
static int mf_init(struct gnn_model *m, struct gnn_error *err)
{
    float *base;
    int ret = init_base(m, &base, err);

    if (ret != 0)
        return ret;
    set_node_views(m, base, m->params[0].g, base, m->params[0].g);
    return 0;
}

static void mf_forward(struct gnn_model *m, struct gnn_pool *pool)
{
}

static void mf_backward(struct gnn_model *m, struct gnn_pool *pool)
{
}

const struct gnn_model_ops gnn__ops_mf = {
    .name = "mf",
    .init = mf_init,
    .forward = mf_forward,
    .backward = mf_backward,
};

/* ----------------------------------------------------------- lightgcn */

/*
 * LightGCN: hop k is A^k E0, the output their uniform mean over
 * k = 0..K. With c = 1/(K+1) and G the output gradient, the base
 * gradient is c (G + A^T G + ... + (A^T)^K G), evaluated by Horner's
 * rule as K transposed SpMMs: t = c G; t = A^T t + c G, K times.
 */
struct hops {
    int32_t k;
    float **hop; /* k + 1 tables of n_nodes x dim; hop[0] is the base */
    float *out;  /* n_nodes x dim */
    float *gout; /* n_nodes x dim */
    float *tmp;  /* n_nodes x dim, backward scratch */
};

static void hops_destroy(struct gnn_model *m)
{
    struct hops *h = m->priv;

    if (h == NULL)
        return;
    if (h->hop != NULL) {
        for (int32_t k = 1; k <= h->k; k++)
            free(h->hop[k]);
    }
    free(h->hop);
    free(h->out);
    free(h->gout);
    free(h->tmp);
    free(h);
    m->priv = NULL;
}

static float *alloc_nodes(const struct gnn_model *m)
{
    size_t n = (size_t)(m->n_users + m->n_items) * (size_t)m->dim;
    return calloc(n > 0 ? n : 1, sizeof(float));
}

static int lightgcn_init(struct gnn_model *m, struct gnn_error *err)
{
    struct hops *h = calloc(1, sizeof(*h));
    float *base;
    int ret;

    if (h == NULL)
        return gnn_error_set(err, GNN_ENOMEM, "cannot allocate hops");
    m->priv = h;
    h->k = m->cfg.layers;
    ret = init_base(m, &base, err);
    if (ret != 0)
        return ret;
    h->hop = calloc((size_t)h->k + 1, sizeof(*h->hop));
    h->out = alloc_nodes(m);
    h->gout = alloc_nodes(m);
    h->tmp = alloc_nodes(m);
    if (h->hop == NULL || h->out == NULL || h->gout == NULL || h->tmp == NULL)
        return gnn_error_set(err, GNN_ENOMEM, "cannot allocate hops");
    h->hop[0] = base;
    for (int32_t k = 1; k <= h->k; k++) {
        h->hop[k] = alloc_nodes(m);
        if (h->hop[k] == NULL)
            return gnn_error_set(err, GNN_ENOMEM, "cannot allocate hop %d", k);
    }
    set_node_views(m, base, m->params[0].g, h->out, h->gout);
    return 0;
}

struct mean_task {
    float **hop;
    int32_t k, d;
    int32_t n_nodes;
    const int32_t *rows; /* NULL: every node */
    int32_t n_rows;
    float *out;
};

static void mean_row(const struct mean_task *t, int64_t r)
{
    float c = 1.0f / (float)(t->k + 1);
    int64_t lo = r * t->d, hi = lo + t->d;

    for (int64_t i = lo; i < hi; i++) {
        float s = t->hop[0][i];
        for (int32_t k = 1; k <= t->k; k++)
            s += t->hop[k][i];
        t->out[i] = c * s;
    }
}

static void mean_task(int ith, int nth, void *ctx)
{
    struct mean_task *t = ctx;
    int64_t lo, hi;

    gnn_split_range(t->rows != NULL ? t->n_rows : t->n_nodes, ith, nth, &lo,
                    &hi);
    for (int64_t q = lo; q < hi; q++)
        mean_row(t, t->rows != NULL ? t->rows[q] : q);
}

/* During training only the active rows of the last hop and of the mean
 * are read, so only those are computed. */
static void lightgcn_forward(struct gnn_model *m, struct gnn_pool *pool)
{
    struct hops *h = m->priv;
    const struct gnn_csr *a = &m->graph->adj;

    for (int32_t k = 1; k <= h->k; k++) {
        if (k == h->k && m->active_rows != NULL)
            gnn_csr_spmm_rows(a, h->hop[k - 1], m->dim, h->hop[k], NULL, 0.0f,
                              m->active_rows, m->n_active, pool);
        else
            gnn_csr_spmm(a, h->hop[k - 1], m->dim, h->hop[k], NULL, 0.0f, pool);
    }

    struct mean_task t = {
        h->hop,         h->k,        m->dim, m->n_users + m->n_items,
        m->active_rows, m->n_active, h->out};
    gnn_pool_run(pool, mean_task, &t);
}

static void scale_into(int64_t n, float c, const float *x, float *y)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = c * x[i];
}

static void lightgcn_backward(struct gnn_model *m, struct gnn_pool *pool)
{
    struct hops *h = m->priv;
    const struct gnn_csr *at = gnn_graph_adj_t(m->graph);
    int64_t n = (int64_t)(m->n_users + m->n_items) * m->dim;
    float c = 1.0f / (float)(h->k + 1);
    float *t = m->params[0].g, *u = h->tmp;

    /* Ping-pong between the two buffers so the last write lands in g. */
    if (h->k % 2 == 1) {
        t = h->tmp;
        u = m->params[0].g;
    }
    scale_into(n, c, h->gout, t);
    for (int32_t k = 0; k < h->k; k++) {
        /* The first product's input lives on the active rows only. */
        if (k == 0 && m->active_mask != NULL)
            gnn_csr_spmm_masked(at, t, m->dim, u, h->gout, c, m->active_mask,
                                pool);
        else
            gnn_csr_spmm(at, t, m->dim, u, h->gout, c, pool);
        float *s = t;
        t = u;
        u = s;
    }
}

static const float *lightgcn_hop(const struct gnn_model *m, int32_t k,
                                 int32_t *n_hops, int32_t *n_rows)
{
    const struct hops *h = m->priv;

    *n_hops = h->k + 1;
    *n_rows = m->n_users + m->n_items;
    return k >= 0 && k <= h->k ? h->hop[k] : NULL;
}

const struct gnn_model_ops gnn__ops_lightgcn = {
    .name = "lightgcn",
    .init = lightgcn_init,
    .forward = lightgcn_forward,
    .backward = lightgcn_backward,
    .destroy = hops_destroy,
    .hop = lightgcn_hop,
};
