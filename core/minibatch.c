#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gnn_minibatch.h"
#include "gnn_model.h"
#include "gnn_train.h"

/* ------------------------------------------------------------ names */

static const char *const mode_names[] = {
    [GNN_MINIBATCH_OFF] = "off",
    [GNN_MINIBATCH_CLUSTER] = "cluster",
    [GNN_MINIBATCH_SAINT] = "saint",
    [GNN_MINIBATCH_AUTO] = "auto",
};

#define N_MODES (int)(sizeof(mode_names) / sizeof(mode_names[0]))

int gnn_minibatch_mode_parse(const char *name)
{
    for (int k = 0; k < N_MODES; k++) {
        if (strcmp(name, mode_names[k]) == 0)
            return k;
    }
    return -1;
}

const char *gnn_minibatch_mode_name(enum gnn_minibatch_mode mode)
{
    if ((int)mode < 0 || (int)mode >= N_MODES)
        return "unknown";
    return mode_names[mode];
}

void gnn_minibatch_config_default(struct gnn_minibatch_config *c)
{
    memset(c, 0, sizeof(*c));
    c->mode = GNN_MINIBATCH_OFF;
    c->per_batch = 4;
    c->saint_walk = 2;
}

/* ------------------------------------------------------- estimates */

static int64_t csr_bytes(int64_t rows, int64_t nnz)
{
    return (rows + 1) * (int64_t)sizeof(int64_t) +
           nnz * (int64_t)(sizeof(int32_t) + sizeof(float));
}

/* Activations, their gradients and the model's own edge arrays. */
static int64_t act_bytes(const struct gnn_model *m, int64_t nodes, int64_t nnz)
{
    int64_t k = m->cfg.layers, nd = nodes * m->dim, f = sizeof(float);

    if (m->cfg.kind == GNN_MODEL_HOGNN)
        return ((k + 5) * nd + 2 * nodes * (k + 1) + 3 * nnz) * f +
               csr_bytes(nodes, nnz);
    return (k + 3) * nd * f; /* hops 1..K, output, its gradient, scratch */
}

/* Weights, gradient and both Adam moments of every parameter. */
static int64_t param_bytes(const struct gnn_model *m, int node_rows_only)
{
    int64_t n = 0;

    for (int p = 0; p < m->n_params; p++) {
        if (!node_rows_only || m->params[p].rows != GNN_PARAM_SHARED)
            n += m->params[p].n;
    }
    return 4 * n * (int64_t)sizeof(float);
}

static int64_t graph_bytes(const struct gnn_graph *g)
{
    int64_t b = csr_bytes(g->ui.n_rows, g->ui.nnz) +
                csr_bytes(g->iu.n_rows, g->iu.nnz) +
                csr_bytes(g->adj.n_rows, g->adj.nnz);
    if (g->adj_t.row_ptr != NULL)
        b += csr_bytes(g->adj_t.n_rows, g->adj_t.nnz);
    return b;
}

static int64_t full_bytes(const struct gnn_model *m)
{
    const struct gnn_graph *g = m->graph;
    return param_bytes(m, 0) + graph_bytes(g) +
           act_bytes(m, g->n_nodes, g->adj.nnz);
}

/*
 * With a share f of the nodes and (at most) of the edges per step: the
 * whole parameters and Adam state, the parent graph and the sampler's
 * per-node arrays, plus a subgraph model (its parameter copies,
 * activations, CSRs and the batch).
 *
 * XXX(evaluation): the model over the whole graph still allocates its
 * full-graph activation tables when created, for the validation and
 * final forward, and this estimate leaves them out; so the peak RSS of
 * a mini-batch run stays near a full-graph run's until evaluation
 * propagates in blocks of rows and the training model stops allocating
 * them.
 */
static int64_t batch_bytes(const struct gnn_model *m, double f)
{
    const struct gnn_graph *g = m->graph;
    int64_t nodes = (int64_t)ceil(f * g->n_nodes) + 1;
    int64_t nnz = (int64_t)ceil(f * (double)g->adj.nnz) + 1;
    int64_t sub = (int64_t)(f * (double)param_bytes(m, 1)) +
                  act_bytes(m, nodes, nnz) + 3 * csr_bytes(nodes, nnz) +
                  nnz * 16;
    return param_bytes(m, 0) + graph_bytes(g) + g->n_nodes * 12 + sub;
}

/* ------------------------------------------------------------ plan */

/*
 * XXX(side data): hognn's directed item pairs and item categories are
 * not carried into subgraphs (pairs need remapping to local items,
 * categories their extra nodes), so mini-batches refuse them.
 */
static int supported(const struct gnn_model *m)
{
    const struct gnn_hognn_config *h = &m->cfg.hognn;

    if (m->cfg.kind == GNN_MODEL_LIGHTGCN)
        return 1;
    return m->cfg.kind == GNN_MODEL_HOGNN && h->n_pairs == 0 &&
           h->item_cat == NULL;
}

static int check_mb(const struct gnn_minibatch_config *c, int32_t batch,
                    struct gnn_error *err)
{
    if ((int)c->mode < 0 || (int)c->mode >= N_MODES)
        return gnn_error_set(err, GNN_EINVAL, "unknown mini-batch mode %d",
                             (int)c->mode);
    if (c->clusters < 0 || c->per_batch < 1 || c->saint_roots < 0 ||
        c->saint_walk < 1 || c->saint_presample < 0 || c->memory_budget < 0 ||
        batch < 1)
        return gnn_error_set(err, GNN_EINVAL, "bad mini-batch setting");
    if (c->clusters > 0 && c->per_batch > c->clusters)
        return gnn_error_set(err, GNN_EINVAL,
                             "clusters per batch %d over the %d clusters",
                             c->per_batch, c->clusters);
    return 0;
}

/* Parts for as many steps as full-graph batches, `per` parts a step. */
static int32_t default_parts(const struct gnn_model *m, int32_t per,
                             int32_t batch)
{
    int64_t steps = (m->graph->ui.nnz + batch - 1) / batch;
    int64_t n = steps * per, cap = m->graph->n_nodes / 8;

    if (n > cap)
        n = cap;
    if (n < per)
        n = per;
    return (int32_t)(n < m->graph->n_nodes ? n : m->graph->n_nodes);
}

static void plan_saint(const struct gnn_model *m,
                       const struct gnn_minibatch_config *c, int32_t batch,
                       struct gnn_minibatch_plan *p)
{
    int64_t nodes;

    p->saint_walk = c->saint_walk;
    p->saint_calibrate = c->saint_roots == 0;
    p->saint_roots = c->saint_roots > 0
                         ? c->saint_roots
                         : (batch + c->saint_walk) / (c->saint_walk + 1);
    p->steps = (int32_t)((m->graph->ui.nnz + batch - 1) / batch);
    nodes = (int64_t)p->saint_roots * (p->saint_walk + 1);
    if (nodes > m->graph->n_nodes)
        nodes = m->graph->n_nodes;
    p->saint_presample = c->saint_presample;
    if (p->saint_presample == 0) {
        int64_t s = 50 * (int64_t)m->graph->n_nodes / (nodes > 0 ? nodes : 1);
        p->saint_presample = (int32_t)(s < 20 ? 20 : s > 1000 ? 1000 : s);
    }
    p->batch_bytes =
        batch_bytes(m, (double)nodes / (double)(m->graph->n_nodes + 1));
}

static void plan_cluster(const struct gnn_model *m, int32_t parts, int32_t per,
                         struct gnn_minibatch_plan *p)
{
    p->clusters = parts;
    p->per_batch = per;
    p->steps = (parts + per - 1) / per;
    p->batch_bytes = batch_bytes(m, (double)per / (double)parts);
}

int gnn_minibatch_plan(const struct gnn_model *m,
                       const struct gnn_minibatch_config *c, int32_t batch,
                       struct gnn_minibatch_plan *plan, struct gnn_error *err)
{
    int64_t budget = c->memory_budget;
    int ret = check_mb(c, batch, err);

    if (ret != 0)
        return ret;
    memset(plan, 0, sizeof(*plan));
    plan->batch = batch;
    plan->lazy_adam = !c->dense_adam;
    plan->full_bytes = full_bytes(m);
    plan->batch_bytes = plan->full_bytes;
    plan->mode = c->mode;
    if (c->mode == GNN_MINIBATCH_AUTO)
        plan->mode = budget > 0 && plan->full_bytes > budget && supported(m)
                         ? GNN_MINIBATCH_CLUSTER
                         : GNN_MINIBATCH_OFF;
    if (plan->mode != GNN_MINIBATCH_OFF && !supported(m))
        return gnn_error_set(err, GNN_ENOTSUP,
                             "%s mini-batches need lightgcn, or hognn "
                             "without pairs and categories",
                             gnn_minibatch_mode_name(plan->mode));
    if (plan->mode == GNN_MINIBATCH_SAINT)
        plan_saint(m, c, batch, plan);
    if (plan->mode == GNN_MINIBATCH_CLUSTER) {
        int32_t per = c->per_batch, n = c->clusters;
        if (n == 0)
            n = default_parts(m, per, batch);
        if (per > n)
            per = n;
        plan_cluster(m, n, per, plan);
        /* auto: double the parts until a step's working set fits. */
        while (c->mode == GNN_MINIBATCH_AUTO && c->clusters == 0 &&
               plan->batch_bytes > budget &&
               (int64_t)plan->clusters * 2 <= m->graph->n_nodes)
            plan_cluster(m, plan->clusters * 2, per, plan);
    }
    plan->fits = budget == 0 || plan->batch_bytes <= budget;
    return 0;
}

/* ------------------------------------------------------- one step */

static int make_submodel(struct gnn_model *m, const struct gnn_subgraph *s,
                         struct gnn_model **out, struct gnn_error *err)
{
    struct gnn_model_config c = m->cfg;
    int ret;

    if (!supported(m))
        return gnn_error_set(err, GNN_ENOTSUP,
                             "subgraph training needs lightgcn, or hognn "
                             "without pairs and categories");
    c.init_std = 0.0f; /* the parameters are gathered next */
    c.graph_norm = s->saint;
    ret = gnn_model_new(&c, &s->graph, out, err);
    if (ret == 0 && (*out)->n_params != m->n_params) {
        gnn_model_free(*out);
        *out = NULL;
        return gnn_error_set(err, GNN_ENOTSUP,
                             "the subgraph model has other parameters");
    }
    return ret;
}

/* Parent row of local row r for a parameter of `rows` kind. */
static int64_t parent_row(const struct gnn_model *m,
                          const struct gnn_subgraph *s, int rows, int64_t r)
{
    int32_t nu = s->graph.n_users;

    if (rows == GNN_PARAM_ITEMS)
        return s->item_ids[r];
    return r < nu ? s->user_ids[r] : m->n_users + s->item_ids[r - nu];
}

/* Copy between m's and sub's parameters (values or gradients). */
static void move_params(struct gnn_model *m, struct gnn_model *sub,
                        const struct gnn_subgraph *s, int scatter)
{
    for (int p = 0; p < m->n_params; p++) {
        struct gnn_param *gp = &m->params[p], *sp = &sub->params[p];
        int rows = gp->rows;
        int64_t n_rows =
            rows == GNN_PARAM_ITEMS ? m->n_items : m->n_users + m->n_items;
        int64_t sub_rows = rows == GNN_PARAM_ITEMS
                               ? sub->n_items
                               : sub->n_users + sub->n_items;

        if (rows == GNN_PARAM_SHARED) {
            if (scatter)
                memcpy(gp->g, sp->g, (size_t)gp->n * sizeof(float));
            else
                memcpy(sp->w, gp->w, (size_t)gp->n * sizeof(float));
            continue;
        }
        int64_t w = gp->n / n_rows;
        size_t bytes = (size_t)w * sizeof(float);
        for (int64_t r = 0; r < sub_rows; r++) {
            int64_t pr = parent_row(m, s, rows, r);
            if (scatter)
                memcpy(gp->g + pr * w, sp->g + r * w, bytes);
            else
                memcpy(sp->w + r * w, gp->w + pr * w, bytes);
        }
    }
}

static float dot(const float *a, const float *b, int32_t d)
{
    float s = 0.0f;
    for (int32_t c = 0; c < d; c++)
        s += a[c] * b[c];
    return s;
}

/* BPR with one weight per triple (SAINT's loss normalization). */
static double weighted_bpr(struct gnn_model *m, const struct gnn_batch *b,
                           const float *wt)
{
    int32_t d = m->dim;
    double total = 0.0;

    for (int32_t t = 0; t < b->n; t++) {
        const float *eu = m->user_out + (size_t)b->user[t] * d;
        const float *ei = m->item_out + (size_t)b->pos[t] * d;
        const float *ej = m->item_out + (size_t)b->neg[t] * d;
        float *gu = m->grad_user + (size_t)b->user[t] * d;
        float *gi = m->grad_item + (size_t)b->pos[t] * d;
        float *gj = m->grad_item + (size_t)b->neg[t] * d;
        float x = dot(eu, ei, d) - dot(eu, ej, d);
        double nx = -(double)x;

        total += wt[t] * (nx > 0.0 ? nx + log1p(exp(-nx)) : log1p(exp(nx)));
        float g = -wt[t] / (1.0f + expf(x));
        for (int32_t c = 0; c < d; c++) {
            gu[c] += g * (ei[c] - ej[c]);
            gi[c] += g * eu[c];
            gj[c] -= g * eu[c];
        }
    }
    return total;
}

int gnn_subgraph_loss(struct gnn_model *m, const struct gnn_subgraph *s,
                      const int32_t *neg, float l2, int32_t epoch,
                      struct gnn_pool *pool, double *loss,
                      struct gnn_error *err)
{
    const struct gnn_csr *ui = &s->graph.ui;
    struct gnn_model *sub = NULL;
    int32_t *user = NULL;
    int ret;

    *loss = 0.0;
    ret = make_submodel(m, s, &sub, err);
    if (ret != 0)
        return ret;
    user = malloc(((size_t)ui->nnz + 1) * sizeof(*user));
    if (user == NULL) {
        ret = gnn_error_set(err, GNN_ENOMEM, "cannot allocate a batch");
        goto out;
    }
    for (int32_t u = 0; u < ui->n_rows; u++) {
        for (int64_t e = ui->row_ptr[u]; e < ui->row_ptr[u + 1]; e++)
            user[e] = u;
    }
    struct gnn_batch b = {(int32_t)ui->nnz, 1, user, ui->col_idx, neg};

    move_params(m, sub, s, 0);
    if (epoch > 0 && !s->saint && sub->ops->set_phase != NULL)
        sub->ops->set_phase(sub, epoch, 1);
    sub->ops->forward(sub, pool);
    memset(sub->grad_user, 0,
           (size_t)sub->n_users * (size_t)sub->dim * sizeof(float));
    memset(sub->grad_item, 0,
           (size_t)sub->n_items * (size_t)sub->dim * sizeof(float));
    if (b.n > 0) {
        *loss = s->loss_weight != NULL ? weighted_bpr(sub, &b, s->loss_weight)
                                       : gnn_bpr_loss(sub, &b);
    }
    sub->ops->backward(sub, pool);
    if (b.n > 0)
        *loss += gnn_l2_loss(sub, &b, l2);
    move_params(m, sub, s, 1);
    ret = 0;
out:
    free(user);
    gnn_model_free(sub);
    return ret;
}

/* ---------------------------------------------------------- sampler */

struct gnn__minibatch {
    struct gnn_model *m;
    struct gnn_minibatch_plan plan;
    struct gnn_rng rng;
    int32_t *part_ptr;   /* clusters + 1 */
    int32_t *part_nodes; /* n_nodes, by part */
    int32_t *order;      /* clusters, shuffled per epoch */
    int32_t *nodes;      /* a step's nodes */
    int32_t *rows;       /* n_nodes: a step's subgraph nodes, parent ids */
    int32_t *scratch;    /* n_nodes, -1 */
    int32_t *neg;        /* a step's negatives, grown on demand */
    int64_t neg_cap;
    uint8_t *mark;  /* n_nodes, 0 */
    int32_t *roots; /* users with interactions */
    int32_t n_roots;
    struct gnn_saint_norm norm;
    int64_t seen; /* positives trained this epoch */
};

void gnn__minibatch_free(struct gnn__minibatch *mb)
{
    if (mb == NULL)
        return;
    free(mb->part_ptr);
    free(mb->part_nodes);
    free(mb->order);
    free(mb->nodes);
    free(mb->rows);
    free(mb->scratch);
    free(mb->neg);
    free(mb->mark);
    free(mb->roots);
    gnn_saint_norm_free(&mb->norm);
    free(mb);
}

/* Node lists per part (a counting sort of the partition). */
static int build_parts(struct gnn__minibatch *mb, uint64_t seed,
                       struct gnn_error *err)
{
    const struct gnn_graph *g = mb->m->graph;
    int32_t np = mb->plan.clusters, *part;
    int ret;

    part = malloc(((size_t)g->n_nodes + 1) * sizeof(*part));
    mb->part_ptr = calloc((size_t)np + 2, sizeof(*mb->part_ptr));
    mb->part_nodes = malloc(((size_t)g->n_nodes + 1) * sizeof(int32_t));
    mb->order = malloc(((size_t)np + 1) * sizeof(*mb->order));
    if (part == NULL || mb->part_ptr == NULL || mb->part_nodes == NULL ||
        mb->order == NULL) {
        free(part);
        return gnn_error_set(err, GNN_ENOMEM, "cannot allocate the parts");
    }
    ret = gnn_partition(g, np, seed, part, err);
    if (ret == 0) {
        for (int32_t v = 0; v < g->n_nodes; v++)
            mb->part_ptr[part[v] + 2]++;
        for (int32_t p = 0; p < np; p++)
            mb->part_ptr[p + 2] += mb->part_ptr[p + 1];
        for (int32_t v = 0; v < g->n_nodes; v++)
            mb->part_nodes[mb->part_ptr[part[v] + 1]++] = v;
        for (int32_t p = 0; p < np; p++)
            mb->order[p] = p;
    }
    free(part);
    return ret;
}

static int user_list(struct gnn__minibatch *mb, struct gnn_error *err)
{
    const struct gnn_graph *g = mb->m->graph;

    mb->roots = malloc(((size_t)g->n_users + 1) * sizeof(*mb->roots));
    if (mb->roots == NULL)
        return gnn_error_set(err, GNN_ENOMEM, "cannot allocate the roots");
    for (int32_t u = 0; u < g->n_users; u++) {
        if (g->ui.row_ptr[u + 1] > g->ui.row_ptr[u])
            mb->roots[mb->n_roots++] = u;
    }
    return 0;
}

/* Positives among nodes[0..n) (users' rows into marked items). */
static int64_t sample_edges(const struct gnn_graph *g, const int32_t *nodes,
                            int32_t n, uint8_t *mark)
{
    int64_t k = 0;

    for (int32_t q = 0; q < n; q++)
        mark[nodes[q]] = 1;
    for (int32_t q = 0; q < n; q++) {
        int32_t u = nodes[q];
        if (u >= g->n_users)
            continue;
        for (int64_t e = g->ui.row_ptr[u]; e < g->ui.row_ptr[u + 1]; e++)
            k += mark[g->n_users + g->ui.col_idx[e]];
    }
    for (int32_t q = 0; q < n; q++)
        mark[nodes[q]] = 0;
    return k;
}

/*
 * Roots for about plan->batch positives a subgraph: an induced
 * subgraph's edges grow faster than its nodes, so roots are scaled by
 * the square root of the shortfall, over a few rounds of a few samples.
 */
static void calibrate_roots(struct gnn__minibatch *mb, uint64_t seed)
{
    const struct gnn_graph *g = mb->m->graph;
    struct gnn_minibatch_plan *p = &mb->plan;
    struct gnn_rng rng;
    int32_t n;

    gnn_rng_seed(&rng, seed ^ 0xca1bULL);
    for (int round = 0; round < 6; round++) {
        int64_t edges = 0;
        for (int k = 0; k < 4; k++) {
            gnn_saint_sample(g, mb->roots, mb->n_roots, p->saint_roots,
                             p->saint_walk, &rng, mb->mark, mb->nodes, &n);
            edges += sample_edges(g, mb->nodes, n, mb->mark);
        }
        double ratio = 4.0 * p->batch / (double)(edges > 0 ? edges : 1);
        if (ratio > 0.85 && ratio < 1.15)
            break;
        double r = p->saint_roots * sqrt(ratio);
        r = r < 1.0 ? 1.0 : r > mb->n_roots ? mb->n_roots : r;
        if ((int32_t)r == p->saint_roots)
            break;
        p->saint_roots = (int32_t)r;
    }
}

/* Steps per epoch: positives over the mean a subgraph held. */
static void saint_steps(struct gnn__minibatch *mb)
{
    const struct gnn_graph *g = mb->m->graph;
    double drawn = 0.0;

    for (int32_t u = 0; u < g->n_users; u++) {
        for (int64_t e = g->adj.row_ptr[u]; e < g->adj.row_ptr[u + 1]; e++)
            drawn += mb->norm.edge_count[e];
    }
    drawn /= mb->norm.samples;
    mb->plan.steps = (int32_t)ceil((double)g->ui.nnz / (drawn > 1 ? drawn : 1));
}

int gnn__minibatch_new(struct gnn_model *m, struct gnn_minibatch_plan *plan,
                       uint64_t seed, struct gnn__minibatch **out,
                       struct gnn_error *err)
{
    const struct gnn_graph *g = m->graph;
    struct gnn__minibatch *mb = calloc(1, sizeof(*mb));
    size_t n = (size_t)g->n_nodes + 1;
    int ret;

    *out = NULL;
    if (mb == NULL)
        return gnn_error_set(err, GNN_ENOMEM, "cannot allocate the sampler");
    mb->m = m;
    mb->plan = *plan;
    gnn_rng_seed(&mb->rng, seed);
    mb->nodes = malloc(n * sizeof(*mb->nodes));
    mb->rows = malloc(n * sizeof(*mb->rows));
    mb->scratch = malloc(n * sizeof(*mb->scratch));
    mb->mark = calloc(n, 1);
    if (mb->nodes == NULL || mb->rows == NULL || mb->scratch == NULL ||
        mb->mark == NULL) {
        ret = gnn_error_set(err, GNN_ENOMEM, "cannot allocate the sampler");
        goto out;
    }
    for (size_t v = 0; v < n; v++)
        mb->scratch[v] = -1;
    /* Steps write and clear only their own rows of the gradients. */
    for (int p = 0; p < m->n_params; p++)
        memset(m->params[p].g, 0, (size_t)m->params[p].n * sizeof(float));
    if (plan->mode == GNN_MINIBATCH_CLUSTER)
        ret = build_parts(mb, seed, err);
    else if (plan->mode == GNN_MINIBATCH_SAINT)
        ret = user_list(mb, err);
    else
        ret = gnn_error_set(err, GNN_EINVAL, "no mini-batch mode to sample");
    if (ret == 0 && plan->mode == GNN_MINIBATCH_SAINT && plan->saint_calibrate)
        calibrate_roots(mb, seed);
    /* The walks' distinct nodes fit in nodes (n_nodes) whatever roots. */
    if (ret == 0 && plan->mode == GNN_MINIBATCH_SAINT)
        ret = gnn_saint_estimate(g, mb->plan.saint_roots, plan->saint_walk,
                                 plan->saint_presample, seed ^ 0x5a1e7ULL,
                                 &mb->norm, err);
    if (ret != 0)
        goto out;
    if (plan->mode == GNN_MINIBATCH_SAINT)
        saint_steps(mb);
    *plan = mb->plan;
    *out = mb;
    mb = NULL;
out:
    gnn__minibatch_free(mb);
    return ret;
}

/* The nodes of parts order[lo..hi) into mb->nodes; returns the count. */
static int32_t cluster_nodes(struct gnn__minibatch *mb, int32_t lo, int32_t hi)
{
    int32_t n = 0;

    for (int32_t q = lo; q < hi; q++) {
        int32_t p = mb->order[q];
        for (int32_t k = mb->part_ptr[p]; k < mb->part_ptr[p + 1]; k++)
            mb->nodes[n++] = mb->part_nodes[k];
    }
    return n;
}

static int sample_negatives(struct gnn__minibatch *mb,
                            const struct gnn_subgraph *s, struct gnn_error *err)
{
    const struct gnn_csr *ui = &s->graph.ui;

    if (ui->nnz + 1 > mb->neg_cap) {
        free(mb->neg);
        mb->neg_cap = 2 * ui->nnz + 1;
        mb->neg = malloc((size_t)mb->neg_cap * sizeof(*mb->neg));
        if (mb->neg == NULL) {
            mb->neg_cap = 0;
            return gnn_error_set(err, GNN_ENOMEM, "cannot allocate negatives");
        }
    }
    /* From the subgraph's items: only they have outputs this step. */
    for (int32_t u = 0; u < ui->n_rows; u++) {
        for (int64_t e = ui->row_ptr[u]; e < ui->row_ptr[u + 1]; e++)
            gnn_sample_negatives(&s->graph, &mb->rng, u, 1, mb->neg + e);
    }
    return 0;
}

/*
 * One subgraph step: the sample's nodes are in mb->nodes[0..n).
 *
 * XXX(allocations): each step builds its subgraph and a model over it
 * afresh, a few dozen allocations a step, small next to the propagation
 * but not the zero a per-epoch arena would give.
 */
struct adam_settings {
    float lr, l2, beta1, beta2, eps;
    int64_t *t;
};

/* The subgraph's nodes as parent node ids into mb->rows; the count. */
static int64_t subgraph_rows(struct gnn__minibatch *mb,
                             const struct gnn_subgraph *s)
{
    int32_t nu = s->graph.n_users, ni = s->graph.n_items;

    for (int32_t r = 0; r < nu; r++)
        mb->rows[r] = s->user_ids[r];
    for (int32_t r = 0; r < ni; r++)
        mb->rows[nu + r] = mb->m->n_users + s->item_ids[r];
    return (int64_t)nu + ni;
}

/* Zero the gradient rows of the given parent nodes (after dense Adam). */
static void clear_rows(struct gnn_model *m, const int32_t *nodes, int64_t n)
{
    for (int p = 0; p < m->n_params; p++) {
        struct gnn_param *q = &m->params[p];
        int64_t width;

        for (int64_t k = 0; k < n; k++) {
            int64_t at = gnn_param_node_row(m, q, nodes[k], &width);
            if (at >= 0)
                memset(q->g + at, 0, (size_t)width * sizeof(float));
        }
    }
}

static int step(struct gnn__minibatch *mb, int32_t n, int32_t epoch,
                const struct adam_settings *a, struct gnn_pool *pool,
                double *loss, int *used, struct gnn_error *err)
{
    struct gnn_subgraph s;
    int ret;

    *used = 0;
    ret = gnn_subgraph_induce(mb->m->graph, mb->nodes, n, mb->scratch, &s, err);
    if (ret != 0)
        return ret;
    mb->seen += s.graph.ui.nnz;
    if (s.graph.ui.nnz == 0 || s.graph.n_items == 0)
        goto out;
    if (mb->plan.mode == GNN_MINIBATCH_SAINT)
        ret = gnn_subgraph_saint_norm(&s, mb->m->graph, &mb->norm, err);
    if (ret == 0)
        ret = sample_negatives(mb, &s, err);
    if (ret == 0)
        ret = gnn_subgraph_loss(mb->m, &s, mb->neg, a->l2, epoch, pool, loss,
                                err);
    if (ret == 0) {
        int64_t n_rows = subgraph_rows(mb, &s);

        if (mb->plan.lazy_adam) {
            gnn_adam_step_rows(mb->m, ++*a->t, a->lr, a->beta1, a->beta2,
                               a->eps, mb->rows, n_rows, pool);
        } else {
            gnn_adam_step(mb->m, ++*a->t, a->lr, a->beta1, a->beta2, a->eps,
                          pool);
            clear_rows(mb->m, mb->rows, n_rows);
        }
        *used = 1;
    }
out:
    gnn_subgraph_free(&s);
    return ret;
}

const struct gnn_minibatch_plan *
gnn__minibatch_plan_now(const struct gnn__minibatch *mb)
{
    return &mb->plan;
}

/*
 * XXX(quality): subgraph training tops out below full-graph training on
 * LastFM lightgcn, whatever the schedule: best valid NDCG@20 about .15
 * to .16 in cluster mode and .17 with saint against .18 full-graph
 * (benchmarks/results/minibatch.md, with what was tried). A cluster step
 * trains about 55% of the positives an epoch, on neighbourhoods cut at
 * the partition. It bites whenever --minibatch is asked for, or auto
 * picks it because the graph exceeds --memory-budget: the model served
 * is then measurably worse than a full-graph one would be.
 *
 * XXX(lazy Adam): with Adam on the step's rows only, a row moves once per
 * epoch in cluster mode instead of riding its momentum for about ten
 * steps, and quality per epoch drops: LastFM lightgcn, cluster, best valid
 * NDCG@20 .116 (lazy, lr .02) against .136 (dense, lr .005). Dense Adam
 * (--minibatch-adam dense) costs the whole model every step, so its
 * epochs grow with the square of the graph (322 s against 7.8 s at 50M
 * events). A catch-up of the skipped momentum steps when a row returns
 * would give both.
 */
int gnn__minibatch_epoch(struct gnn__minibatch *mb, int32_t epoch, float lr,
                         float l2, float beta1, float beta2, float eps,
                         int64_t *t, struct gnn_pool *pool, double *loss,
                         struct gnn_error *err)
{
    const struct gnn_minibatch_plan *p = &mb->plan;
    struct adam_settings a = {lr, l2, beta1, beta2, eps, t};
    double total = 0.0;
    int32_t done = 0;

    mb->seen = 0;
    if (p->mode == GNN_MINIBATCH_CLUSTER) {
        for (int32_t k = p->clusters - 1; k > 0; k--) {
            int32_t j = (int32_t)gnn_rng_below(&mb->rng, (uint32_t)k + 1);
            int32_t s = mb->order[k];
            mb->order[k] = mb->order[j];
            mb->order[j] = s;
        }
    }
    for (int32_t b = 0; b < p->steps; b++) {
        int32_t n;
        double l = 0.0;
        int used, ret;

        if (p->mode == GNN_MINIBATCH_CLUSTER) {
            int32_t lo = b * p->per_batch, hi = lo + p->per_batch;
            n = cluster_nodes(mb, lo, hi < p->clusters ? hi : p->clusters);
        } else {
            gnn_saint_sample(mb->m->graph, mb->roots, mb->n_roots,
                             p->saint_roots, p->saint_walk, &mb->rng, mb->mark,
                             mb->nodes, &n);
        }
        ret = step(mb, n, epoch, &a, pool, &l, &used, err);
        if (ret != 0)
            return ret;
        if (!used)
            continue;
        total += l;
        done++;
    }
    *loss = done > 0 ? total / done : 0.0;
    mb->plan.coverage = (double)mb->seen / (double)mb->m->graph->ui.nnz;
    return 0;
}
