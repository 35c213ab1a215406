#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gnn_dense.h"
#include "gnn_model.h"
#include "gnn_rng.h"

/*
 * The textbook GCN: H_l = ReLU(A H_{l-1} W_l) for l = 1..L, H_0 the base
 * embeddings, the output H_L. No residual and no hop mean, so that it
 * shows how plain stacking smooths.
 *
 * Backward, layer l, with G the gradient on H_l:
 *   dP = G masked where H_l <= 0;   dW_l = Z_l^T dP;   dZ = dP W_l^T;
 *   gradient on H_{l-1} = A^T dZ.
 *
 * With cfg.gcn_residual, H_l = ReLU(A H_{l-1} W_l) + H_{l-1}: the ReLU
 * output R_l is kept for the mask, and G flows on to H_{l-1} unchanged
 * beside A^T dZ.
 */
struct gcn {
    int32_t n_layers;
    float **w;   /* n_layers weight matrices dim x dim (in params) */
    float **z;   /* n_layers tables A H_{l-1}, n_nodes x dim */
    float **h;   /* n_layers + 1 tables; h[0] is the base */
    float *gout; /* n_nodes x dim, gradient on the output */
    float *tmp;  /* n_nodes x dim */
    float *gemm_scratch;
    float **r;   /* residual: n_layers ReLU outputs, n_nodes x dim */
    float *skip; /* residual: n_nodes x dim, G kept for the skip path */
};

static float *alloc_nodes(const struct gnn_model *m)
{
    size_t n = (size_t)(m->n_users + m->n_items) * (size_t)m->dim;
    return calloc(n > 0 ? n : 1, sizeof(float));
}

static void gcn_destroy(struct gnn_model *m)
{
    struct gcn *c = m->priv;

    if (c == NULL)
        return;
    for (int32_t l = 0; l < c->n_layers; l++) {
        if (c->z != NULL)
            free(c->z[l]);
        if (c->h != NULL)
            free(c->h[l + 1]);
    }
    free(c->w);
    free(c->z);
    free(c->h);
    free(c->gout);
    free(c->tmp);
    free(c->gemm_scratch);
    if (c->r != NULL) {
        for (int32_t l = 0; l < c->n_layers; l++)
            free(c->r[l]);
    }
    free(c->r);
    free(c->skip);
    free(c);
    m->priv = NULL;
}

static int gcn_alloc(struct gnn_model *m, struct gcn *c, struct gnn_error *err)
{
    int32_t n_nodes = m->n_users + m->n_items;
    int64_t scratch = gnn_dense_gemm_tn_scratch(m->dim, m->dim, n_nodes);

    c->w = calloc((size_t)c->n_layers + 1, sizeof(*c->w));
    c->z = calloc((size_t)c->n_layers + 1, sizeof(*c->z));
    c->h = calloc((size_t)c->n_layers + 1, sizeof(*c->h));
    c->gout = alloc_nodes(m);
    c->tmp = alloc_nodes(m);
    c->gemm_scratch = malloc((size_t)(scratch + 1) * sizeof(float));
    if (c->w == NULL || c->z == NULL || c->h == NULL || c->gout == NULL ||
        c->tmp == NULL || c->gemm_scratch == NULL)
        return gnn_error_set(err, GNN_ENOMEM, "cannot allocate gcn layers");
    for (int32_t l = 0; l < c->n_layers; l++) {
        c->z[l] = alloc_nodes(m);
        c->h[l + 1] = alloc_nodes(m);
        if (c->z[l] == NULL || c->h[l + 1] == NULL)
            return gnn_error_set(err, GNN_ENOMEM,
                                 "cannot allocate gcn layer %d", l + 1);
    }
    if (!m->cfg.gcn_residual)
        return 0;
    c->r = calloc((size_t)c->n_layers + 1, sizeof(*c->r));
    c->skip = alloc_nodes(m);
    if (c->r == NULL || c->skip == NULL)
        return gnn_error_set(err, GNN_ENOMEM, "cannot allocate gcn residuals");
    for (int32_t l = 0; l < c->n_layers; l++) {
        c->r[l] = alloc_nodes(m);
        if (c->r[l] == NULL)
            return gnn_error_set(err, GNN_ENOMEM, "cannot allocate gcn layer");
    }
    return 0;
}

static int gcn_init(struct gnn_model *m, struct gnn_error *err)
{
    int64_t n = (int64_t)(m->n_users + m->n_items) * m->dim;
    struct gcn *c = calloc(1, sizeof(*c));
    struct gnn_rng rng;
    float *base;
    int ret;

    if (c == NULL)
        return gnn_error_set(err, GNN_ENOMEM, "cannot allocate gcn");
    m->priv = c;
    c->n_layers = m->cfg.layers;
    ret = gnn__model_add_param(m, n, &base, err);
    if (ret == 0)
        ret = gcn_alloc(m, c, err);
    if (ret != 0)
        return ret;

    gnn_rng_seed(&rng, m->cfg.seed);
    for (int64_t i = 0; i < n; i++)
        base[i] = m->cfg.init_std * gnn_rng_normal(&rng);
    c->h[0] = base;

    /* Glorot-uniform weights keep the activations' scale across layers. */
    float bound = sqrtf(6.0f / (float)(2 * m->dim));
    for (int32_t l = 0; l < c->n_layers; l++) {
        ret = gnn__model_add_param(m, (int64_t)m->dim * m->dim, &c->w[l], err);
        if (ret != 0)
            return ret;
        for (int64_t i = 0; i < (int64_t)m->dim * m->dim; i++)
            c->w[l][i] = bound * (2.0f * gnn_rng_uniform(&rng) - 1.0f);
    }

    size_t off = (size_t)m->n_users * (size_t)m->dim;
    m->user_base = base;
    m->item_base = base + off;
    m->grad_user_base = m->params[0].g;
    m->grad_item_base = m->params[0].g + off;
    m->user_out = c->h[c->n_layers];
    m->item_out = c->h[c->n_layers] + off;
    m->item_source_out = m->item_out;
    m->grad_user = c->gout;
    m->grad_item = c->gout + off;
    return 0;
}

static void gcn_forward(struct gnn_model *m, struct gnn_pool *pool)
{
    struct gcn *c = m->priv;
    int32_t n_nodes = m->n_users + m->n_items;
    int64_t n = (int64_t)n_nodes * m->dim;

    for (int32_t l = 0; l < c->n_layers; l++) {
        gnn_csr_spmm(&m->graph->adj, c->h[l], m->dim, c->z[l], NULL, 0.0f,
                     pool);
        if (c->r != NULL) {
            gnn_dense_gemm(n_nodes, m->dim, m->dim, c->z[l], c->w[l], 0, 0.0f,
                           c->r[l], pool);
            gnn_relu(n, c->r[l], c->r[l]);
            for (int64_t i = 0; i < n; i++)
                c->h[l + 1][i] = c->r[l][i] + c->h[l][i];
            continue;
        }
        gnn_dense_gemm(n_nodes, m->dim, m->dim, c->z[l], c->w[l], 0, 0.0f,
                       c->h[l + 1], pool);
        gnn_relu(n, c->h[l + 1], c->h[l + 1]);
    }
}

static void gcn_backward(struct gnn_model *m, struct gnn_pool *pool)
{
    struct gcn *c = m->priv;
    int32_t n_nodes = m->n_users + m->n_items;
    int64_t n = (int64_t)n_nodes * m->dim;
    const struct gnn_csr *at = gnn_graph_adj_t(m->graph);

    if (c->n_layers == 0) {
        memcpy(m->params[0].g, c->gout, (size_t)n * sizeof(float));
        return;
    }
    for (int32_t l = c->n_layers - 1; l >= 0; l--) {
        if (c->r != NULL) {
            memcpy(c->skip, c->gout, (size_t)n * sizeof(float));
            gnn_relu_backward(n, c->r[l], c->gout);
        } else {
            gnn_relu_backward(n, c->h[l + 1], c->gout);
        }
        gnn_dense_gemm_tn(m->dim, m->dim, n_nodes, c->z[l], c->gout,
                          m->params[l + 1].g, c->gemm_scratch, pool);
        gnn_dense_gemm(n_nodes, m->dim, m->dim, c->gout, c->w[l], 1, 0.0f,
                       c->tmp, pool);
        float *dst = l == 0 ? m->params[0].g : c->gout;
        gnn_csr_spmm(at, c->tmp, m->dim, dst, c->skip,
                     c->r != NULL ? 1.0f : 0.0f, pool);
    }
}

static const float *gcn_hop(const struct gnn_model *m, int32_t k,
                            int32_t *n_hops, int32_t *n_rows)
{
    const struct gcn *c = m->priv;

    *n_hops = c->n_layers + 1;
    *n_rows = m->n_users + m->n_items;
    return k >= 0 && k <= c->n_layers ? c->h[k] : NULL;
}

const struct gnn_model_ops gnn__ops_gcn = {
    .name = "gcn",
    .init = gcn_init,
    .forward = gcn_forward,
    .backward = gcn_backward,
    .destroy = gcn_destroy,
    .hop = gcn_hop,
};
