#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gnn_dense.h"
#include "gnn_hognn.h"
#include "gnn_model.h"
#include "gnn_rng.h"

/*
 * hognn (see gnn_hognn.h). Notation: N nodes (users, items, categories),
 * d columns, K hops, S' = (1 - alpha) S the scaled adjacency (symmetric,
 * so it is its own transpose), p the per-node hop weights.
 *
 * Backward, with G the gradient on the outputs:
 *   combination: gp_{n,k} = <G_n, h_{k,n}>, gs_{n,k} = t p_{n,k} (gp_{n,k}
 *   - sum_j p_{n,j} gp_{n,j}), t the logit scale; the gradient on h_k is
 * p_{.,k} G + gs_{.,k} (v * h_0 + u_k), plus v * sum_k gs_{.,k} h_k on h_0;
 *   hops, k = K..1: through PairNorm, then S'^T onto h_{k-1} and alpha
 *   onto h_0 (Horner's rule, one SpMM per hop).
 * PairNorm y = s c / r, c = z - mean(z), r^2 = mean_n |c_n|^2 + eps:
 *   gc_n = (s / r) g_n - (sum <g, y>) / (N r s) y_n, then gz = gc -
 *   mean(gc); c is recovered as y r / s, so only r is kept per hop.
 */

#define PN_EPS 1e-8f

void gnn_hognn_config_default(struct gnn_hognn_config *c)
{
    memset(c, 0, sizeof(*c));
    c->alpha = 0.1f;
    c->pairnorm = 0;
    c->pn_scale = 1.0f;
    c->hop_weights = 0;
    c->gate = 0;
    c->dropedge = 0.1f;
    c->dual = 1;
    c->pair_weight = 1.0f;
    c->seed = 2024;
    c->cat_weight = 1.0f;
    c->logit_scale = 0.1f;
}

struct hognn {
    struct gnn_hognn_config hc;
    int32_t k, n_nodes, d;
    int dual; /* dual and there are pairs to train it */

    struct gnn_csr adj;   /* all nodes; val points at full or drop */
    struct gnn_csr adj_t; /* adj transposed when the graph's own values
                             are not symmetric (graph_norm), else empty */
    float *raw;           /* nnz edge weights */
    float *full;          /* nnz values of S' over every edge */
    float *drop;          /* nnz values of S' after this epoch's DropEdge */
    float *own_val;       /* what adj.val pointed at when built */

    float **h;           /* k + 1 tables N x d; h[0] is the base */
    double *rn;          /* k + 1 PairNorm root norms */
    float *p, *gs;       /* N x (k + 1) hop weights and score gradients */
    float *out, *gout;   /* N x d */
    float *ga, *gb, *gc; /* N x d backward buffers */

    int p_beta, p_v, p_u, p_m, p_s; /* parameter indices, -1 when off */
    float *src, *gsrc;              /* n_items x d source outputs, grad */
    float *scratch;                 /* gemm_tn scratch */

    float *part; /* per-thread partial sums */
    int64_t n_part;
    int64_t *order; /* n_pairs, shuffled each epoch */

    /* Items with a category and no training interaction (cold), and
     * all the others (warm), in increasing id order; with cold items,
     * h[0] is tied, N x d: the base with their rows replaced. */
    int32_t *cold, *warm;
    int32_t n_cold, n_warm;
    float *tied;
    struct gnn_rng rng;
    int32_t epoch; /* of the last training phase */
};

static float *alloc_f(int64_t n)
{
    return calloc((size_t)(n > 0 ? n : 1), sizeof(float));
}

static float *param_w(struct gnn_model *m, int p)
{
    return p >= 0 ? m->params[p].w : NULL;
}

static float *param_g(struct gnn_model *m, int p)
{
    return p >= 0 ? m->params[p].g : NULL;
}

/* Per-thread scratch of n floats for each of nth threads. */
static float *partials(struct hognn *h, int nth, int64_t n)
{
    if ((int64_t)nth * n > h->n_part) {
        free(h->part);
        h->n_part = (int64_t)nth * n;
        h->part = malloc((size_t)h->n_part * sizeof(float));
        if (h->part == NULL)
            h->n_part = 0;
    }
    return h->part;
}

/* --------------------------------------------------------- adjacency */

static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* Node edges: user-item both ways, then item-category both ways. */
static int build_adj(struct gnn_model *m, struct hognn *h,
                     struct gnn_error *err)
{
    const struct gnn_csr *ui = &m->graph->ui;
    const int32_t *cat = h->hc.item_cat;
    int64_t n_cat = 0, cap, w = 0;
    int32_t *rows, *cols;
    float *vals;
    int ret;

    for (int32_t i = 0; cat != NULL && i < m->n_items; i++)
        n_cat += cat[i] >= 0;
    cap = 2 * (ui->nnz + n_cat) + 1;
    rows = malloc((size_t)cap * sizeof(*rows));
    cols = malloc((size_t)cap * sizeof(*cols));
    vals = malloc((size_t)cap * sizeof(*vals));
    if (rows == NULL || cols == NULL || vals == NULL) {
        ret = gnn_error_set(err, GNN_ENOMEM, "cannot allocate edges");
        goto out;
    }
    for (int32_t u = 0; u < ui->n_rows; u++) {
        for (int64_t e = ui->row_ptr[u]; e < ui->row_ptr[u + 1]; e++) {
            int32_t node = m->n_users + ui->col_idx[e];
            rows[w] = u, cols[w] = node, vals[w++] = ui->val[e];
            rows[w] = node, cols[w] = u, vals[w++] = ui->val[e];
        }
    }
    for (int32_t i = 0; cat != NULL && i < m->n_items; i++) {
        if (cat[i] < 0)
            continue;
        int32_t node = m->n_users + i, c = m->n_users + m->n_items + cat[i];
        rows[w] = node, cols[w] = c, vals[w++] = h->hc.cat_weight;
        rows[w] = c, cols[w] = node, vals[w++] = h->hc.cat_weight;
    }
    ret = gnn_csr_from_coo(h->n_nodes, h->n_nodes, w, rows, cols, vals, &h->adj,
                           err);
out:
    free(rows);
    free(cols);
    free(vals);
    return ret;
}

/*
 * dst = (1 - alpha) D^-1/2 A D^-1/2 over the edges kept: all of them
 * when rate is 0, else each undirected edge survives with probability
 * 1 - rate, decided by a hash of (seed, epoch, edge), the same both ways.
 */
static int normalize(struct hognn *h, float rate, int32_t epoch, float *dst)
{
    const struct gnn_csr *a = &h->adj;
    double *deg = calloc((size_t)a->n_rows + 1, sizeof(*deg));
    uint64_t cut = (uint64_t)((double)rate * 18446744073709551615.0);
    uint64_t key = mix64(h->hc.seed ^ mix64((uint64_t)epoch));

    if (deg == NULL)
        return GNN_ENOMEM;
    for (int32_t r = 0; r < a->n_rows; r++) {
        for (int64_t e = a->row_ptr[r]; e < a->row_ptr[r + 1]; e++) {
            int32_t c = a->col_idx[e];
            uint64_t lo = (uint64_t)(r < c ? r : c),
                     hi = (uint64_t)(r < c ? c : r);
            int keep = rate <= 0.0f || mix64(key ^ (lo << 32 | hi)) >= cut;
            dst[e] = keep ? h->raw[e] : 0.0f;
            deg[r] += dst[e];
        }
    }
    for (int32_t r = 0; r < a->n_rows; r++) {
        for (int64_t e = a->row_ptr[r]; e < a->row_ptr[r + 1]; e++) {
            double dd = deg[r] * deg[a->col_idx[e]];
            dst[e] = dd > 0.0 ? (float)((1.0 - h->hc.alpha) * dst[e] / sqrt(dd))
                              : 0.0f;
        }
    }
    free(deg);
    return 0;
}

/* ------------------------------------------------------------- init */

/*
 * graph_norm: S' = (1 - alpha) times the graph's own values (a SAINT
 * subgraph's), which need not be symmetric, so their transpose is kept
 * for backward. Without categories this adjacency has the graph's
 * structure, entry for entry.
 */
static int use_graph_values(struct gnn_model *m, struct hognn *h,
                            struct gnn_error *err)
{
    const struct gnn_csr *ga = &m->graph->adj;
    const struct gnn_csr *gt = gnn_graph_adj_t(m->graph);

    if (h->adj.nnz != ga->nnz || h->adj.n_rows != ga->n_rows ||
        memcmp(h->adj.col_idx, ga->col_idx,
               (size_t)ga->nnz * sizeof(int32_t)) != 0)
        return gnn_error_set(err, GNN_ENOTSUP,
                             "the graph's own values need a graph without "
                             "categories");
    for (int64_t e = 0; e < ga->nnz; e++)
        h->full[e] = (1.0f - h->hc.alpha) * ga->val[e];
    if (gt == ga)
        return 0;
    h->adj.val = h->full;
    return gnn_csr_transpose(&h->adj, &h->adj_t, err);
}

/* S'^T for backward: S' itself unless the graph's values are used. */
static const struct gnn_csr *adj_back(const struct hognn *h)
{
    return h->adj_t.row_ptr != NULL ? &h->adj_t : &h->adj;
}

static void hognn_destroy(struct gnn_model *m)
{
    struct hognn *h = m->priv;

    if (h == NULL)
        return;
    h->adj.val = h->own_val;
    gnn_csr_free(&h->adj);
    gnn_csr_free(&h->adj_t);
    free(h->raw);
    free(h->full);
    free(h->drop);
    if (h->h != NULL) {
        for (int32_t k = 1; k <= h->k; k++)
            free(h->h[k]);
    }
    free(h->h);
    free(h->rn);
    free(h->p);
    free(h->gs);
    free(h->out);
    free(h->gout);
    free(h->ga);
    free(h->gb);
    free(h->gc);
    free(h->src);
    free(h->gsrc);
    free(h->scratch);
    free(h->part);
    free(h->order);
    free(h->cold);
    free(h->warm);
    free(h->tied);
    free(h);
    m->priv = NULL;
}

static int check(const struct gnn_model *m, struct gnn_error *err)
{
    const struct gnn_hognn_config *c = &m->cfg.hognn;

    if (!(c->alpha >= 0.0f && c->alpha <= 1.0f))
        return gnn_error_set(err, GNN_EINVAL, "alpha %g outside 0..1",
                             (double)c->alpha);
    if (!(c->dropedge >= 0.0f && c->dropedge <= 0.9f))
        return gnn_error_set(err, GNN_EINVAL, "dropedge %g outside 0..0.9",
                             (double)c->dropedge);
    if (!(c->pn_scale > 0.0f) || !(c->pair_weight >= 0.0f) ||
        !(c->logit_scale > 0.0f) || !(c->cat_weight > 0.0f) || c->n_cats < 0 ||
        c->n_pairs < 0 || (c->n_pairs > 0 && c->pairs == NULL))
        return gnn_error_set(err, GNN_EINVAL, "bad hognn setting");
    if (m->n_users + m->n_items > INT32_MAX - c->n_cats)
        return gnn_error_set(err, GNN_ERANGE, "too many nodes");
    for (int32_t i = 0; c->item_cat != NULL && i < m->n_items; i++) {
        if (c->item_cat[i] < -1 || c->item_cat[i] >= c->n_cats)
            return gnn_error_set(err, GNN_ERANGE,
                                 "item %d: category %d outside 0..%d", i,
                                 c->item_cat[i], c->n_cats - 1);
    }
    for (int64_t q = 0; q < 2 * c->n_pairs; q++) {
        if (c->pairs[q] < 0 || c->pairs[q] >= m->n_items)
            return gnn_error_set(
                err, GNN_ERANGE, "pair %lld: item %d outside 0..%d",
                (long long)(q / 2), c->pairs[q], m->n_items - 1);
    }
    return 0;
}

static int add_param(struct gnn_model *m, int64_t n, int *idx,
                     struct gnn_error *err)
{
    float *w;

    *idx = m->n_params;
    return gnn__model_add_param(m, n, &w, err);
}

static int alloc_tables(struct gnn_model *m, struct hognn *h,
                        struct gnn_error *err)
{
    int64_t nd = (int64_t)h->n_nodes * h->d,
            nk = (int64_t)h->n_nodes * (h->k + 1);

    h->h = calloc((size_t)h->k + 1, sizeof(*h->h));
    h->rn = calloc((size_t)h->k + 1, sizeof(*h->rn));
    h->p = alloc_f(nk);
    h->gs = alloc_f(nk);
    h->out = alloc_f(nd);
    h->gout = alloc_f(nd);
    h->ga = alloc_f(nd);
    h->gb = alloc_f(nd);
    h->gc = alloc_f(nd);
    h->raw = alloc_f(h->adj.nnz);
    h->full = alloc_f(h->adj.nnz);
    h->drop = alloc_f(h->adj.nnz);
    if (h->h == NULL || h->rn == NULL || h->p == NULL || h->gs == NULL ||
        h->out == NULL || h->gout == NULL || h->ga == NULL || h->gb == NULL ||
        h->gc == NULL || h->raw == NULL || h->full == NULL || h->drop == NULL)
        return gnn_error_set(err, GNN_ENOMEM, "cannot allocate hognn tables");
    for (int32_t k = 1; k <= h->k; k++) {
        h->h[k] = alloc_f(nd);
        if (h->h[k] == NULL)
            return gnn_error_set(err, GNN_ENOMEM, "cannot allocate hop %d", k);
    }
    if (!h->dual)
        return 0;
    h->src = alloc_f((int64_t)m->n_items * h->d);
    h->gsrc = alloc_f((int64_t)m->n_items * h->d);
    h->scratch = alloc_f(gnn_dense_gemm_tn_scratch(h->d, h->d, m->n_items) + 1);
    if (h->src == NULL || h->gsrc == NULL || h->scratch == NULL)
        return gnn_error_set(err, GNN_ENOMEM, "cannot allocate dual tables");
    return 0;
}

static int add_params(struct gnn_model *m, struct hognn *h,
                      struct gnn_error *err)
{
    int64_t nd = (int64_t)h->n_nodes * h->d;
    struct gnn_rng rng;
    int p0, ret;

    h->p_beta = h->p_v = h->p_u = h->p_m = h->p_s = -1;
    ret = add_param(m, nd, &p0, err);
    if (ret == 0)
        m->params[p0].rows = GNN_PARAM_NODES;
    if (ret == 0 && h->hc.hop_weights)
        ret = add_param(m, h->k + 1, &h->p_beta, err);
    if (ret == 0 && h->hc.gate)
        ret = add_param(m, h->d, &h->p_v, err);
    if (ret == 0 && h->hc.gate)
        ret = add_param(m, (int64_t)(h->k + 1) * h->d, &h->p_u, err);
    if (ret == 0 && h->dual)
        ret = add_param(m, (int64_t)h->d * h->d, &h->p_m, err);
    if (ret == 0 && h->dual)
        ret = add_param(m, (int64_t)m->n_items * h->d, &h->p_s, err);
    if (ret != 0)
        return ret;
    if (h->dual)
        m->params[h->p_s].rows = GNN_PARAM_ITEMS;
    /* Gate, hop logits and the source map start at zero: the model
     * starts as a LightGCN-like mean with source = target. */
    gnn_rng_seed(&rng, m->cfg.seed);
    for (int64_t i = 0; i < nd && m->cfg.init_std > 0.0f; i++)
        m->params[p0].w[i] = m->cfg.init_std * gnn_rng_normal(&rng);
    h->h[0] = m->params[p0].w;
    return 0;
}

/* ------------------------------------------------------- cold items */

/*
 * An item with a category but no training interaction has nothing of
 * its own to learn from: its base row would stay at its random start,
 * and as a uniform negative it would only be pushed down. So its base
 * row is no parameter of its own but a copy of its category's
 * (tie_cold fills hop 0 from the base before each propagation;
 * fold_cold hands the gradient on the copy to the category row; the
 * item's own base row stays unused, so that L2 on it, should it be in
 * a batch, is a term of its own), which makes every hop of it, 0
 * included, come from its category and, through the category, from the
 * category's warm items. It is also left out of the sampled negatives
 * (m->neg_items), where each draw would push its category's row down.
 * Its output is then computed like any item's, so evaluation and the
 * exported snapshot see the same embedding.
 */
static int find_cold(struct gnn_model *m, struct hognn *h,
                     struct gnn_error *err)
{
    const struct gnn_csr *iu = &m->graph->iu;
    const int32_t *cat = h->hc.item_cat;

    if (cat == NULL)
        return 0;
    h->cold = malloc((size_t)m->n_items * sizeof(*h->cold) + 1);
    h->warm = malloc((size_t)m->n_items * sizeof(*h->warm) + 1);
    if (h->cold == NULL || h->warm == NULL)
        return gnn_error_set(err, GNN_ENOMEM, "cannot allocate item lists");
    for (int32_t i = 0; i < m->n_items; i++) {
        int used = i < iu->n_rows && iu->row_ptr[i + 1] > iu->row_ptr[i];
        if (!used && cat[i] >= 0)
            h->cold[h->n_cold++] = i;
        else
            h->warm[h->n_warm++] = i;
    }
    if (h->n_cold > 0) {
        m->neg_items = h->warm;
        m->n_neg_items = h->n_warm;
    }
    return 0;
}

/* Hop 0 = the base, each cold item's row its category's. */
static void tie_cold(struct gnn_model *m, struct hognn *h)
{
    int32_t d = h->d, first_cat = m->n_users + m->n_items;

    if (h->n_cold == 0)
        return;
    memcpy(h->tied, m->params[0].w,
           (size_t)h->n_nodes * (size_t)d * sizeof(float));
    for (int32_t q = 0; q < h->n_cold; q++) {
        int32_t i = h->cold[q];
        memcpy(h->h[0] + ((size_t)m->n_users + i) * d,
               h->h[0] + ((size_t)first_cat + h->hc.item_cat[i]) * d,
               (size_t)d * sizeof(float));
    }
}

/* The gradient on a cold item's copied row belongs to its category. */
static void fold_cold(struct gnn_model *m, struct hognn *h, float *g)
{
    int32_t d = h->d, first_cat = m->n_users + m->n_items;

    for (int32_t q = 0; q < h->n_cold; q++) {
        int32_t i = h->cold[q];
        float *gi = g + ((size_t)m->n_users + i) * d;
        float *gc = g + ((size_t)first_cat + h->hc.item_cat[i]) * d;
        for (int32_t c = 0; c < d; c++) {
            gc[c] += gi[c];
            gi[c] = 0.0f;
        }
    }
}

static int hognn_init(struct gnn_model *m, struct gnn_error *err)
{
    struct hognn *h;
    size_t off = (size_t)m->n_users * (size_t)m->dim;
    int ret = check(m, err);

    if (ret != 0)
        return ret;
    h = calloc(1, sizeof(*h));
    if (h == NULL)
        return gnn_error_set(err, GNN_ENOMEM, "cannot allocate hognn");
    m->priv = h;
    h->hc = m->cfg.hognn;
    h->k = m->cfg.layers;
    h->d = m->dim;
    h->n_nodes = m->n_users + m->n_items + (h->hc.item_cat ? h->hc.n_cats : 0);
    h->dual = h->hc.dual && h->hc.n_pairs > 0 && h->hc.pair_weight > 0.0f;
    gnn_rng_seed(&h->rng, h->hc.seed ^ 0x5851f42d4c957f2dULL);

    ret = build_adj(m, h, err);
    if (ret == 0)
        ret = find_cold(m, h, err);
    if (ret == 0)
        ret = alloc_tables(m, h, err);
    if (ret == 0)
        ret = add_params(m, h, err);
    if (ret != 0)
        return ret;
    if (h->n_cold > 0) {
        h->tied = alloc_f((int64_t)h->n_nodes * h->d);
        if (h->tied == NULL)
            return gnn_error_set(err, GNN_ENOMEM, "cannot allocate hop 0");
        h->h[0] = h->tied;
        tie_cold(m, h);
    }
    h->own_val = h->adj.val;
    memcpy(h->raw, h->adj.val, (size_t)h->adj.nnz * sizeof(float));
    if (normalize(h, 0.0f, 0, h->full) != 0)
        return gnn_error_set(err, GNN_ENOMEM, "cannot normalize the graph");
    if (m->cfg.graph_norm) {
        ret = use_graph_values(m, h, err);
        if (ret != 0)
            return ret;
    }
    h->adj.val = h->full;

    if (h->hc.n_pairs > 0) {
        h->order = malloc((size_t)h->hc.n_pairs * sizeof(*h->order));
        if (h->order == NULL)
            return gnn_error_set(err, GNN_ENOMEM, "cannot allocate pairs");
        for (int64_t q = 0; q < h->hc.n_pairs; q++)
            h->order[q] = q;
    }

    m->user_base = m->params[0].w;
    m->item_base = m->params[0].w + off;
    m->grad_user_base = m->params[0].g;
    m->grad_item_base = m->params[0].g + off;
    m->user_out = h->out;
    m->item_out = h->out + off;
    m->item_source_out = h->dual ? h->src : m->item_out;
    m->grad_user = h->gout;
    m->grad_item = h->gout + off;
    return 0;
}

/* ---------------------------------------------------------- PairNorm */

struct pn_task {
    struct hognn *h;
    float *x;       /* N x d, normalized in place */
    const float *y; /* backward: the forward output */
    float *part;    /* nth x (d + 1) */
    double *mean;   /* d */
    double a, b;    /* scale factors of the second pass */
    int stage;
};

/* Column sums of x (and of squares or of x . y) over this thread's rows. */
static void pn_sums(int ith, int nth, void *ctx)
{
    struct pn_task *t = ctx;
    int32_t d = t->h->d;
    float *s = t->part + (size_t)ith * (d + 1);
    int64_t lo, hi;

    gnn_split_range(t->h->n_nodes, ith, nth, &lo, &hi);
    memset(s, 0, (size_t)(d + 1) * sizeof(float));
    for (int64_t n = lo; n < hi; n++) {
        const float *x = t->x + n * d;
        const float *y = t->y != NULL ? t->y + n * d : x;
        for (int32_t c = 0; c < d; c++) {
            s[c] += x[c];
            s[d] += x[c] * y[c];
        }
    }
}

/* x = a (x - mean) (forward), or x = a x + b y - mean (backward). */
static void pn_apply(int ith, int nth, void *ctx)
{
    struct pn_task *t = ctx;
    int32_t d = t->h->d;
    int64_t lo, hi;

    gnn_split_range(t->h->n_nodes, ith, nth, &lo, &hi);
    for (int64_t n = lo; n < hi; n++) {
        float *x = t->x + n * d;
        if (t->y == NULL) {
            for (int32_t c = 0; c < d; c++)
                x[c] = (float)(t->a * (x[c] - t->mean[c]));
        } else {
            const float *y = t->y + n * d;
            for (int32_t c = 0; c < d; c++)
                x[c] = (float)(t->a * x[c] + t->b * y[c] - t->mean[c]);
        }
    }
}

/* Sum the threads' partials in thread order: (d column sums, 1 extra). */
static double reduce(struct pn_task *t, int nth, double *mean)
{
    int32_t d = t->h->d;
    double extra = 0.0;

    for (int32_t c = 0; c < d; c++)
        mean[c] = 0.0;
    for (int i = 0; i < nth; i++) {
        const float *s = t->part + (size_t)i * (d + 1);
        for (int32_t c = 0; c < d; c++)
            mean[c] += s[c];
        extra += s[d];
    }
    return extra;
}

/* x = s (x - mean) / r in place; returns r. */
static double pairnorm_forward(struct hognn *h, float *x, struct gnn_pool *pool)
{
    int nth = gnn_pool_size(pool);
    double mean[4096], n = (double)h->n_nodes;
    struct pn_task t = {h, x, NULL, partials(h, nth, h->d + 1), mean, 0, 0, 0};

    if (t.part == NULL || n == 0)
        return 1.0;
    gnn_pool_run(pool, pn_sums, &t);
    double sq = reduce(&t, nth, mean);
    double norm2 = 0.0;
    for (int32_t c = 0; c < h->d; c++) {
        mean[c] /= n;
        norm2 += mean[c] * mean[c];
    }
    /* mean |c_n|^2 = mean |x_n|^2 - |mean|^2 */
    double ms = sq / n - norm2;
    double r = sqrt((ms > 0.0 ? ms : 0.0) + PN_EPS);
    t.a = h->hc.pn_scale / r;
    gnn_pool_run(pool, pn_apply, &t);
    return r;
}

/* g = d loss / d z from g = d loss / d y, y the output, r its norm. */
static void pairnorm_backward(struct hognn *h, float *g, const float *y,
                              double r, struct gnn_pool *pool)
{
    int nth = gnn_pool_size(pool);
    double mean[4096], n = (double)h->n_nodes, s = h->hc.pn_scale;
    struct pn_task t = {h, g, y, partials(h, nth, h->d + 1), mean, 0, 0, 0};

    if (t.part == NULL || n == 0)
        return;
    gnn_pool_run(pool, pn_sums, &t);
    double gy = reduce(&t, nth, mean); /* sum <g, y> */
    t.a = s / r;
    t.b = -gy / (n * r * s);
    /* gc = a g + b y, and y has zero column means, so mean(gc) = a
     * mean(g). */
    for (int32_t c = 0; c < h->d; c++)
        mean[c] = t.a * mean[c] / n;
    gnn_pool_run(pool, pn_apply, &t);
}

/* ------------------------------------------------------- combination */

/* A dot product in eight lanes, so that the compiler vectorizes it. */
static float dot8(const float *a, const float *b, int32_t d)
{
    float s[8] = {0}, t = 0.0f;
    int32_t c = 0;

    for (; c + 8 <= d; c += 8) {
        for (int q = 0; q < 8; q++)
            s[q] += a[c + q] * b[c + q];
    }
    for (; c < d; c++)
        t += a[c] * b[c];
    return t + ((s[0] + s[4]) + (s[1] + s[5])) +
           ((s[2] + s[6]) + (s[3] + s[7]));
}

struct comb_task {
    struct gnn_model *m;
    struct hognn *h;
    float *part; /* backward: nth x (k + 1) (1 + d) + d partials */
    int64_t part_n;
    int32_t hop; /* hop_grad: which hop */
    float *dst;
};

/* This node's hop weights from the logits and the gate. */
static void node_weights(struct gnn_model *m, struct hognn *h, int64_t n,
                         float *p)
{
    const float *beta = param_w(m, h->p_beta), *v = param_w(m, h->p_v),
                *u = param_w(m, h->p_u);
    int32_t d = h->d, kk = h->k + 1;
    const float *h0 = h->h[0] + n * d;
    float top = -INFINITY, sum = 0.0f, w0[4096];

    for (int32_t c = 0; v != NULL && c < d; c++)
        w0[c] = v[c] * h0[c];
    for (int32_t k = 0; k < kk; k++) {
        float s = beta != NULL ? beta[k] : 0.0f;
        if (v != NULL) {
            const float *hk = h->h[k] + n * d;
            s += dot8(hk, w0, d) + dot8(hk, u + (size_t)k * d, d);
        }
        s *= h->hc.logit_scale;
        p[k] = s;
        top = s > top ? s : top;
    }
    for (int32_t k = 0; k < kk; k++) {
        p[k] = expf(p[k] - top);
        sum += p[k];
    }
    for (int32_t k = 0; k < kk; k++)
        p[k] /= sum;
}

static void combine_task(int ith, int nth, void *ctx)
{
    struct comb_task *t = ctx;
    struct hognn *h = t->h;
    int32_t d = h->d, kk = h->k + 1;
    int64_t lo, hi;

    gnn_split_range(h->n_nodes, ith, nth, &lo, &hi);
    for (int64_t n = lo; n < hi; n++) {
        float *p = h->p + n * kk, *o = h->out + n * d;
        node_weights(t->m, h, n, p);
        memset(o, 0, (size_t)d * sizeof(float));
        for (int32_t k = 0; k < kk; k++) {
            const float *hk = h->h[k] + n * d;
            for (int32_t c = 0; c < d; c++)
                o[c] += p[k] * hk[c];
        }
    }
}

/*
 * Score gradients gs of this thread's nodes, and its partial sums of the
 * logit and gate gradients: part = [k+1 beta | d v | (k+1) d u].
 */
static void combine_back_task(int ith, int nth, void *ctx)
{
    struct comb_task *t = ctx;
    struct hognn *h = t->h;
    int32_t d = h->d, kk = h->k + 1;
    float *gbeta = t->part + (size_t)ith * t->part_n, *gv = gbeta + kk,
          *gu = gv + d;
    float gp[17];
    int64_t lo, hi;

    memset(gbeta, 0, (size_t)t->part_n * sizeof(float));
    gnn_split_range(h->n_nodes, ith, nth, &lo, &hi);
    for (int64_t n = lo; n < hi; n++) {
        const float *p = h->p + n * kk, *g = h->gout + n * d,
                    *h0 = h->h[0] + n * d;
        float *gs = h->gs + n * kk, mean = 0.0f;
        for (int32_t k = 0; k < kk; k++) {
            gp[k] = dot8(g, h->h[k] + n * d, d);
            mean += p[k] * gp[k];
        }
        for (int32_t k = 0; k < kk; k++) {
            gs[k] = h->hc.logit_scale * p[k] * (gp[k] - mean);
            gbeta[k] += gs[k];
            if (h->p_v < 0)
                continue;
            const float *hk = h->h[k] + n * d;
            float *guk = gu + (size_t)k * d;
            for (int32_t c = 0; c < d; c++) {
                gv[c] += gs[k] * h0[c] * hk[c];
                guk[c] += gs[k] * hk[c];
            }
        }
    }
}

/* dst = gradient on hop t->hop from the combination alone. */
static void hop_grad_task(int ith, int nth, void *ctx)
{
    struct comb_task *t = ctx;
    struct hognn *h = t->h;
    const float *v = param_w(t->m, h->p_v), *u = param_w(t->m, h->p_u);
    int32_t d = h->d, kk = h->k + 1, k = t->hop;
    const float *uk = u != NULL ? u + (size_t)k * d : NULL;
    int64_t lo, hi;

    gnn_split_range(h->n_nodes, ith, nth, &lo, &hi);
    for (int64_t n = lo; n < hi; n++) {
        const float *g = h->gout + n * d, *h0 = h->h[0] + n * d;
        float pk = h->p[n * kk + k], gk = h->gs[n * kk + k];
        float *o = t->dst + n * d;
        for (int32_t c = 0; c < d; c++)
            o[c] = pk * g[c];
        if (v == NULL)
            continue;
        for (int32_t c = 0; c < d; c++)
            o[c] += gk * (v[c] * h0[c] + uk[c]);
        if (k != 0)
            continue;
        for (int32_t j = 0; j < kk; j++) {
            const float *hj = h->h[j] + n * d;
            float gj = h->gs[n * kk + j];
            for (int32_t c = 0; c < d; c++)
                o[c] += gj * v[c] * hj[c];
        }
    }
}

static void hop_grad(struct gnn_model *m, struct hognn *h, int32_t k,
                     float *dst, struct gnn_pool *pool)
{
    struct comb_task t = {m, h, NULL, 0, k, dst};
    gnn_pool_run(pool, hop_grad_task, &t);
}

/* Gate and logit gradients, summed over threads in thread order. */
static void combine_backward(struct gnn_model *m, struct hognn *h,
                             struct gnn_pool *pool)
{
    int nth = gnn_pool_size(pool);
    int32_t d = h->d, kk = h->k + 1;
    int64_t pn = kk + d + (int64_t)kk * d;
    struct comb_task t = {m, h, partials(h, nth, pn), pn, 0, NULL};
    float *gbeta = param_g(m, h->p_beta), *gv = param_g(m, h->p_v),
          *gu = param_g(m, h->p_u);

    if (t.part == NULL)
        return;
    gnn_pool_run(pool, combine_back_task, &t);
    if (gbeta != NULL)
        memset(gbeta, 0, (size_t)kk * sizeof(float));
    if (gv != NULL) {
        memset(gv, 0, (size_t)d * sizeof(float));
        memset(gu, 0, (size_t)kk * d * sizeof(float));
    }
    for (int i = 0; i < nth; i++) {
        const float *s = t.part + (size_t)i * pn;
        for (int32_t k = 0; gbeta != NULL && k < kk; k++)
            gbeta[k] += s[k];
        for (int64_t c = 0; gv != NULL && c < d; c++)
            gv[c] += s[kk + c];
        for (int64_t c = 0; gu != NULL && c < (int64_t)kk * d; c++)
            gu[c] += s[kk + d + c];
    }
}

/* ----------------------------------------------------------- forward */

static void dual_forward(struct gnn_model *m, struct hognn *h,
                         struct gnn_pool *pool)
{
    int64_t n = (int64_t)m->n_items * h->d;
    const float *s = m->params[h->p_s].w;

    gnn_dense_gemm(m->n_items, h->d, h->d, m->item_out, m->params[h->p_m].w, 0,
                   0.0f, h->src, pool);
    for (int64_t i = 0; i < n; i++)
        h->src[i] += m->item_out[i] + s[i];
}

static void hognn_forward(struct gnn_model *m, struct gnn_pool *pool)
{
    struct hognn *h = m->priv;
    struct comb_task t = {m, h, NULL, 0, 0, NULL};

    tie_cold(m, h);
    for (int32_t k = 1; k <= h->k; k++) {
        gnn_csr_spmm(&h->adj, h->h[k - 1], h->d, h->h[k], h->h[0], h->hc.alpha,
                     pool);
        if (h->hc.pairnorm)
            h->rn[k] = pairnorm_forward(h, h->h[k], pool);
    }
    gnn_pool_run(pool, combine_task, &t);
    if (h->dual)
        dual_forward(m, h, pool);
}

/* ---------------------------------------------------------- backward */

static void axpy(int64_t n, float a, const float *x, float *y)
{
    for (int64_t i = 0; i < n; i++)
        y[i] += a * x[i];
}

/* Source gradients: gM = T^T gsrc, gS = gsrc, gT += gsrc (I + M)^T. */
static void dual_backward(struct gnn_model *m, struct hognn *h,
                          struct gnn_pool *pool)
{
    int64_t n = (int64_t)m->n_items * h->d;

    gnn_dense_gemm_tn(h->d, h->d, m->n_items, m->item_out, h->gsrc,
                      m->params[h->p_m].g, h->scratch, pool);
    memcpy(m->params[h->p_s].g, h->gsrc, (size_t)n * sizeof(float));
    gnn_dense_gemm(m->n_items, h->d, h->d, h->gsrc, m->params[h->p_m].w, 1,
                   1.0f, m->grad_item, pool);
    axpy(n, 1.0f, h->gsrc, m->grad_item);
    memset(h->gsrc, 0, (size_t)n * sizeof(float));
}

static void hognn_backward(struct gnn_model *m, struct gnn_pool *pool)
{
    struct hognn *h = m->priv;
    int64_t nd = (int64_t)h->n_nodes * h->d;
    float *acc = h->ga, *g = h->gb, *g2 = h->gc, *pg = m->params[0].g;
    float alpha = h->hc.alpha;

    if (h->dual)
        dual_backward(m, h, pool);
    combine_backward(m, h, pool);
    if (h->k == 0) {
        hop_grad(m, h, 0, pg, pool);
        fold_cold(m, h, pg);
        return;
    }
    hop_grad(m, h, 0, acc, pool);
    hop_grad(m, h, h->k, g, pool);
    for (int32_t k = h->k; k >= 1; k--) {
        if (h->hc.pairnorm)
            pairnorm_backward(h, g, h->h[k], h->rn[k], pool);
        if (alpha != 0.0f)
            axpy(nd, alpha, g, acc);
        if (k == 1) {
            gnn_csr_spmm(adj_back(h), g, h->d, pg, acc, 1.0f, pool);
            break;
        }
        hop_grad(m, h, k - 1, pg, pool); /* pg as scratch until the end */
        gnn_csr_spmm(adj_back(h), g, h->d, g2, pg, 1.0f, pool);
        float *s = g;
        g = g2;
        g2 = s;
    }
    fold_cold(m, h, pg);
}

/* ------------------------------------------------------------ phases */

static void hognn_set_phase(struct gnn_model *m, int32_t epoch, int training)
{
    struct hognn *h = m->priv;

    h->adj.val = h->full;
    if (training && h->hc.dropedge > 0.0f && !m->cfg.graph_norm &&
        normalize(h, h->hc.dropedge, epoch, h->drop) == 0)
        h->adj.val = h->drop;
    if (training)
        h->epoch = epoch;
    if (training && epoch >= 1 && h->order != NULL) {
        for (int64_t q = h->hc.n_pairs - 1; q > 0; q--) {
            int64_t j = (int64_t)(gnn_rng_next(&h->rng) % (uint64_t)(q + 1));
            int64_t s = h->order[q];
            h->order[q] = h->order[j];
            h->order[j] = s;
        }
    }
}

/* ---------------------------------------------------------- pair loss */

/*
 * The negative target of a pair with target j from 32 random bits r: a
 * uniform item other than j, or, when there are cold items, a warm one
 * other than j (the next warm item when r hits j itself).
 */
static int32_t pair_negative(const struct gnn_model *m, const struct hognn *h,
                             uint64_t r, int32_t j)
{
    if (h->n_cold == 0) {
        int32_t k = (int32_t)(r * (uint64_t)(m->n_items - 1) >> 32);
        return k + (k >= j);
    }
    int32_t q = (int32_t)(r * (uint64_t)h->n_warm >> 32);
    return h->warm[q] != j ? h->warm[q] : h->warm[(q + 1) % h->n_warm];
}

/*
 * BPR over this batch's share of the directed pairs: source(i) .
 * target(j) above source(i) . target(k), k an item other than j (see
 * pair_negative) drawn from a hash of (seed, epoch, batch, pair), so that the
 * term is a function of the parameters within a batch. Source gradients go to
 * gsrc (dual) or to the item gradient (single).
 */
static double hognn_pair_loss(struct gnn_model *m, int64_t b, int64_t n_b)
{
    struct hognn *h = m->priv;
    int64_t np = h->hc.n_pairs, per, lo, hi;
    int32_t d = h->d;
    float *gsrc = h->dual ? h->gsrc : m->grad_item;
    double total = 0.0;

    if (np == 0 || h->hc.pair_weight == 0.0f || n_b < 1 || m->n_items < 2 ||
        (h->n_cold > 0 && h->n_warm < 2))
        return 0.0;
    per = (np + n_b - 1) / n_b;
    lo = b * per;
    hi = lo + per < np ? lo + per : np;
    if (lo >= hi)
        return 0.0;
    float scale = h->hc.pair_weight / (float)(hi - lo);
    uint64_t key =
        mix64(h->hc.seed ^ mix64((uint64_t)h->epoch << 32 ^ (uint64_t)b));
    for (int64_t q = lo; q < hi; q++) {
        int64_t e = h->order[q];
        int32_t i = h->hc.pairs[2 * e], j = h->hc.pairs[2 * e + 1];
        uint64_t r = mix64(key ^ (uint64_t)q) >> 32;
        int32_t k = pair_negative(m, h, r, j);
        const float *si = m->item_source_out + (size_t)i * d;
        const float *tj = m->item_out + (size_t)j * d;
        const float *tk = m->item_out + (size_t)k * d;
        float x = dot8(si, tj, d) - dot8(si, tk, d);
        double nx = -(double)x;
        total += nx > 0.0 ? nx + log1p(exp(-nx)) : log1p(exp(nx));
        float g = -scale / (1.0f + expf(x));
        float *gi = gsrc + (size_t)i * d, *gj = m->grad_item + (size_t)j * d,
              *gk = m->grad_item + (size_t)k * d;
        for (int32_t c = 0; c < d; c++) {
            float sic = si[c], tjc = tj[c], tkc = tk[c];
            gi[c] += g * (tjc - tkc);
            gj[c] += g * sic;
            gk[c] -= g * sic;
        }
    }
    return total * (double)scale;
}

/* -------------------------------------------------------------- misc */

int32_t gnn_hognn_hop_weights(const struct gnn_model *m, double *w, int32_t max)
{
    const struct hognn *h = m->priv;
    int32_t kk;

    if (m->ops != &gnn__ops_hognn || h == NULL)
        return 0;
    kk = h->k + 1 < max ? h->k + 1 : max;
    for (int32_t k = 0; k < kk; k++)
        w[k] = 0.0;
    for (int64_t n = 0; n < h->n_nodes; n++) {
        for (int32_t k = 0; k < kk; k++)
            w[k] += h->p[n * (h->k + 1) + k];
    }
    for (int32_t k = 0; k < kk; k++)
        w[k] /= h->n_nodes > 0 ? h->n_nodes : 1;
    return kk;
}

static const float *hognn_hop(const struct gnn_model *m, int32_t k,
                              int32_t *n_hops, int32_t *n_rows)
{
    const struct hognn *h = m->priv;

    *n_hops = h->k + 1;
    *n_rows = h->n_nodes;
    return k >= 0 && k <= h->k ? h->h[k] : NULL;
}

const struct gnn_model_ops gnn__ops_hognn = {
    .name = "hognn",
    .init = hognn_init,
    .forward = hognn_forward,
    .backward = hognn_backward,
    .destroy = hognn_destroy,
    .set_phase = hognn_set_phase,
    .extra_loss = hognn_pair_loss,
    .hop = hognn_hop,
};
