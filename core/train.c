#include "gnn_train.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

void gnn_train_config_default(struct gnn_train_config *c)
{
    memset(c, 0, sizeof(*c));
    c->epochs = 1000;
    c->batch = 2048;
    c->negatives = 1;
    c->lr = 1e-3f;
    c->lr_decay = 1.0f;
    c->l2 = 1e-4f;
    c->beta1 = 0.9f;
    c->beta2 = 0.999f;
    c->eps = 1e-8f;
    c->seed = 2024;
    c->eval_every = 5;
    c->patience = 10;
    c->stop_cut = 20;
    c->n_cut = 2;
    c->cut[0] = 10;
    c->cut[1] = 20;
    gnn_minibatch_config_default(&c->minibatch);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(const double *v, int32_t n)
{
    double *s;
    double r;

    if (n == 0)
        return 0.0;
    s = malloc((size_t)n * sizeof(*s));
    if (s == NULL)
        return v[n - 1];
    memcpy(s, v, (size_t)n * sizeof(*s));
    qsort(s, (size_t)n, sizeof(*s), cmp_double);
    r = n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
    free(s);
    return r;
}

static int check_config(const struct gnn_train_config *c, struct gnn_error *err)
{
    if (c->epochs < 1 || c->batch < 1 || c->negatives < 1 ||
        c->negatives > 1000)
        return gnn_error_set(err, GNN_EINVAL,
                             "epochs, batch and negatives must be positive");
    if (!(c->lr > 0.0f) || !(c->l2 >= 0.0f) || !(c->lr_decay > 0.0f) ||
        !(c->beta1 >= 0.0f && c->beta1 < 1.0f) ||
        !(c->beta2 >= 0.0f && c->beta2 < 1.0f) || !(c->eps > 0.0f))
        return gnn_error_set(err, GNN_EINVAL, "bad optimizer setting");
    if (c->eval_every < 0 || c->patience < 0 || c->n_cut < 1 ||
        c->n_cut > GNN_MAX_CUTOFFS)
        return gnn_error_set(err, GNN_EINVAL, "bad evaluation setting");
    return 0;
}

/* ------------------------------------------------------------ state */

struct trainer {
    struct gnn_model *m;
    const struct gnn_train_config *cfg;
    struct gnn_pool *pool;
    struct gnn_rng rng;
    int64_t n_pos;
    int32_t *entry_user;       /* n_pos: the user of each training entry */
    int64_t *order;            /* n_pos: this epoch's order of entries */
    int32_t *user, *pos, *neg; /* batch buffers */
    int32_t *active;           /* distinct node rows of the batch */
    uint8_t *mask;             /* n_nodes: 1 on the rows of active */
    float **best;              /* copies of the parameters at the best epoch */
    double *epoch_secs;
    double *epoch_cpu;
    int64_t step;
    double deadline; /* now() after which no batch starts; 0: none */
    int out_of_time;
    int64_t batches;
    struct gnn__minibatch *mb; /* subgraph sampler, NULL for full graph */
};

static void trainer_free(struct trainer *t)
{
    free(t->entry_user);
    free(t->order);
    free(t->user);
    free(t->pos);
    free(t->neg);
    free(t->active);
    free(t->mask);
    if (t->best != NULL) {
        for (int p = 0; p < t->m->n_params; p++)
            free(t->best[p]);
    }
    free(t->best);
    free(t->epoch_secs);
    free(t->epoch_cpu);
    gnn__minibatch_free(t->mb);
}

static int trainer_init(struct trainer *t, struct gnn_model *m,
                        const struct gnn_train_config *cfg,
                        struct gnn_pool *pool, struct gnn_error *err)
{
    const struct gnn_csr *ui = &m->graph->ui;
    size_t nb = (size_t)cfg->batch;

    memset(t, 0, sizeof(*t));
    t->m = m;
    t->cfg = cfg;
    t->pool = pool;
    t->n_pos = cfg->entries != NULL ? cfg->n_entries : ui->nnz;
    gnn_rng_seed(&t->rng, cfg->seed);
    t->entry_user = malloc((size_t)(ui->nnz + 1) * sizeof(*t->entry_user));
    t->order = malloc((size_t)(t->n_pos + 1) * sizeof(*t->order));
    t->user = malloc(nb * sizeof(*t->user));
    t->pos = malloc(nb * sizeof(*t->pos));
    t->neg = malloc(nb * (size_t)cfg->negatives * sizeof(*t->neg));
    t->active = malloc(nb * (size_t)(2 + cfg->negatives) * sizeof(int32_t));
    t->mask = calloc((size_t)(m->n_users + m->n_items) + 1, 1);
    t->best = calloc((size_t)m->n_params + 1, sizeof(*t->best));
    t->epoch_secs = calloc((size_t)cfg->epochs, sizeof(*t->epoch_secs));
    t->epoch_cpu = calloc((size_t)cfg->epochs, sizeof(*t->epoch_cpu));
    if (t->entry_user == NULL || t->order == NULL || t->user == NULL ||
        t->pos == NULL || t->neg == NULL || t->active == NULL ||
        t->mask == NULL || t->best == NULL || t->epoch_secs == NULL)
        return gnn_error_set(err, GNN_ENOMEM, "cannot allocate the trainer");
    for (int p = 0; p < m->n_params; p++) {
        t->best[p] = malloc((size_t)m->params[p].n * sizeof(float));
        if (t->best[p] == NULL)
            return gnn_error_set(err, GNN_ENOMEM,
                                 "cannot allocate a parameter copy");
        memcpy(t->best[p], m->params[p].w,
               (size_t)m->params[p].n * sizeof(float));
    }
    for (int32_t u = 0; u < ui->n_rows; u++) {
        for (int64_t k = ui->row_ptr[u]; k < ui->row_ptr[u + 1]; k++)
            t->entry_user[k] = u;
    }
    for (int64_t k = 0; k < t->n_pos; k++) {
        t->order[k] = cfg->entries != NULL ? cfg->entries[k] : k;
        if (t->order[k] < 0 || t->order[k] >= ui->nnz)
            return gnn_error_set(err, GNN_EINVAL,
                                 "training entry out of range");
    }
    return 0;
}

static void save_best(struct trainer *t, int restore)
{
    for (int p = 0; p < t->m->n_params; p++) {
        size_t bytes = (size_t)t->m->params[p].n * sizeof(float);
        if (restore)
            memcpy(t->m->params[p].w, t->best[p], bytes);
        else
            memcpy(t->best[p], t->m->params[p].w, bytes);
    }
}

/* ------------------------------------------------------------ epoch */

static void shuffle(struct trainer *t)
{
    for (int64_t k = t->n_pos - 1; k > 0; k--) {
        /* n_pos < 2^32 in practice; draw 64 bits for larger ones. */
        int64_t j = (int64_t)(gnn_rng_next(&t->rng) % (uint64_t)(k + 1));
        int64_t s = t->order[k];
        t->order[k] = t->order[j];
        t->order[j] = s;
    }
}

static void add_active(struct trainer *t, int32_t row)
{
    if (!t->mask[row]) {
        t->mask[row] = 1;
        t->active[t->m->n_active++] = row;
    }
}

/* Tell the model which output rows the batch's loss reads. */
static void mark_active(struct trainer *t, const struct gnn_batch *b)
{
    struct gnn_model *m = t->m;

    m->n_active = 0;
    for (int32_t q = 0; q < b->n; q++) {
        add_active(t, b->user[q]);
        add_active(t, m->n_users + b->pos[q]);
        for (int32_t j = 0; j < b->n_neg; j++)
            add_active(t, m->n_users + b->neg[(size_t)q * b->n_neg + j]);
    }
    m->active_rows = t->active;
    m->active_mask = t->mask;
}

static void clear_active(struct trainer *t)
{
    struct gnn_model *m = t->m;

    for (int32_t q = 0; q < m->n_active; q++)
        t->mask[t->active[q]] = 0;
    m->active_rows = NULL;
    m->active_mask = NULL;
    m->n_active = 0;
}

static double train_batch(struct trainer *t, int64_t first, int32_t n, float lr)
{
    struct gnn_model *m = t->m;
    const struct gnn_csr *ui = &m->graph->ui;
    int32_t n_neg = t->cfg->negatives;
    size_t out_bytes = (size_t)m->dim * sizeof(float);
    struct gnn_batch b = {n, n_neg, t->user, t->pos, t->neg};
    double loss;

    for (int32_t q = 0; q < n; q++) {
        int64_t e = t->order[first + q];
        t->user[q] = t->entry_user[e];
        t->pos[q] = ui->col_idx[e];
        gnn_model_sample_negatives(m, &t->rng, t->user[q], n_neg,
                                   t->neg + (size_t)q * n_neg);
    }

    mark_active(t, &b);
    m->ops->forward(m, t->pool);
    memset(m->grad_user, 0, (size_t)m->n_users * out_bytes);
    memset(m->grad_item, 0, (size_t)m->n_items * out_bytes);
    loss = gnn_bpr_loss(m, &b);
    if (m->ops->extra_loss != NULL)
        loss +=
            m->ops->extra_loss(m, first / t->cfg->batch,
                               (t->n_pos + t->cfg->batch - 1) / t->cfg->batch);
    m->ops->backward(m, t->pool);
    clear_active(t);
    loss += gnn_l2_loss(m, &b, t->cfg->l2);
    gnn_adam_step(m, ++t->step, lr, t->cfg->beta1, t->cfg->beta2, t->cfg->eps,
                  t->pool);
    return loss;
}

static double train_epoch(struct trainer *t, float lr)
{
    double total = 0.0;
    int64_t n_batches = 0;

    shuffle(t);
    for (int64_t first = 0; first < t->n_pos; first += t->cfg->batch) {
        int64_t left = t->n_pos - first;
        int32_t n = left < t->cfg->batch ? (int32_t)left : t->cfg->batch;
        total += train_batch(t, first, n, lr);
        n_batches++;
        if (t->deadline > 0 && now() > t->deadline) {
            t->out_of_time = 1;
            break;
        }
    }
    t->batches += n_batches;
    return n_batches > 0 ? total / (double)n_batches : 0.0;
}

/* ------------------------------------------------------------- loop */

/* Tell a model with training-only behaviour (DropEdge) which phase. */
static void set_phase(struct gnn_model *m, int32_t epoch, int training)
{
    if (m->ops->set_phase != NULL)
        m->ops->set_phase(m, epoch, training);
}

static int fit_closed_form(struct gnn_model *m, const struct gnn_csr *valid,
                           const struct gnn_csr *test,
                           const struct gnn_train_config *cfg,
                           struct gnn_pool *pool, struct gnn_train_result *r,
                           struct gnn_error *err)
{
    struct gnn_metrics tm;
    double t0 = now();
    int ret = m->ops->fit(m, pool, err);

    if (ret != 0)
        return ret;
    r->epochs_run = 1;
    r->best_epoch = 1;
    r->train_seconds = now() - t0;
    r->seconds_per_epoch = r->train_seconds;
    if (valid != NULL) {
        ret = gnn_evaluate(m, &m->graph->ui, valid, cfg->cut, cfg->n_cut, pool,
                           &r->valid, err);
        if (ret != 0)
            return ret;
        r->has_valid = 1;
    }
    if (test != NULL) {
        ret = gnn_evaluate(m, &m->graph->ui, test, cfg->cut, cfg->n_cut, pool,
                           &tm, err);
        if (ret != 0)
            return ret;
    }
    r->wall_seconds = now() - t0;
    r->seconds_to_best = r->wall_seconds;
    if (cfg->progress != NULL) {
        struct gnn_progress p = {
            .epoch = 1,
            .epochs = 1,
            .seconds = r->train_seconds,
            .cpu_seconds = r->train_seconds,
            .wall_seconds = r->wall_seconds,
            .valid = r->has_valid ? &r->valid : NULL,
            .test = test != NULL ? &tm : NULL,
            .best_epoch = 1,
        };
        if (cfg->progress(&p, cfg->progress_ctx) != 0)
            return gnn_error_set(err, GNN_ECANCELED, "training canceled");
    }
    return 0;
}

struct loop_state {
    double best_ndcg;
    int32_t stale;
    int stop;
};

/* Validate after epoch e; updates the best copy and the stop flag. */
static int validate(struct trainer *t, const struct gnn_csr *valid,
                    const struct gnn_csr *test, int32_t e,
                    struct gnn_metrics *vm, struct gnn_metrics *tm,
                    struct loop_state *s, struct gnn_train_result *r,
                    double t_start, struct gnn_error *err)
{
    const struct gnn_train_config *cfg = t->cfg;
    struct gnn_model *m = t->m;
    int ret;

    set_phase(m, e, 0);
    m->ops->forward(m, t->pool);
    ret = gnn_evaluate(m, &m->graph->ui, valid, cfg->cut, cfg->n_cut, t->pool,
                       vm, err);
    if (ret == 0 && test != NULL)
        ret = gnn_evaluate(m, &m->graph->ui, test, cfg->cut, cfg->n_cut,
                           t->pool, tm, err);
    if (ret != 0)
        return ret;

    int c = gnn_metrics_find(vm, cfg->stop_cut);
    double ndcg = vm->ndcg[c >= 0 ? c : vm->n_cut - 1];
    if (!r->has_valid || ndcg > s->best_ndcg) {
        s->best_ndcg = ndcg;
        s->stale = 0;
        r->has_valid = 1;
        r->valid = *vm;
        r->best_epoch = e;
        r->seconds_to_best = now() - t_start;
        save_best(t, 0);
    } else if (cfg->patience > 0 && ++s->stale >= cfg->patience) {
        s->stop = 1;
    }
    return 0;
}

int gnn_train(struct gnn_model *m, const struct gnn_csr *valid,
              const struct gnn_csr *test, const struct gnn_train_config *cfg,
              struct gnn_pool *pool, struct gnn_train_result *res,
              struct gnn_error *err)
{
    struct trainer t;
    struct loop_state s = {0};
    struct gnn_metrics vm, tm;
    double t_start = now();
    float lr = cfg->lr;
    int ret;

    memset(res, 0, sizeof(*res));
    ret = check_config(cfg, err);
    if (ret != 0)
        return ret;
    if (m->ops->fit != NULL)
        return fit_closed_form(m, valid, test, cfg, pool, res, err);
    if (!gnn_model_trainable(m))
        return gnn_error_set(err, GNN_ENOTSUP, "model %s cannot be trained",
                             m->ops->name);
    if (m->graph->ui.nnz == 0 || m->n_items == 0 ||
        (cfg->entries != NULL && cfg->n_entries < 1))
        return gnn_error_set(err, GNN_EINVAL,
                             "no training interactions to learn from");
    ret = trainer_init(&t, m, cfg, pool, err);
    if (ret == 0)
        ret = gnn_minibatch_plan(m, &cfg->minibatch, cfg->batch,
                                 &res->minibatch, err);
    if (ret == 0 && res->minibatch.mode != GNN_MINIBATCH_OFF)
        ret = gnn__minibatch_new(m, &res->minibatch, cfg->seed ^ 0x6d696e69ULL,
                                 &t.mb, err);
    if (ret != 0)
        goto out;
    if (cfg->budget_seconds > 0)
        t.deadline = t_start + cfg->budget_seconds;

    for (int32_t e = 1; e <= cfg->epochs && !s.stop && !t.out_of_time; e++) {
        double t0 = now(), c0 = cpu_now(), loss;
        if (t.mb != NULL) {
            ret = gnn__minibatch_epoch(t.mb, e, lr, cfg->l2, cfg->beta1,
                                       cfg->beta2, cfg->eps, &t.step, pool,
                                       &loss, err);
            if (ret != 0)
                goto out;
        } else {
            set_phase(m, e, 1);
            loss = train_epoch(&t, lr);
        }
        lr *= cfg->lr_decay;
        t.epoch_secs[e - 1] = now() - t0;
        t.epoch_cpu[e - 1] = cpu_now() - c0;
        res->train_seconds += t.epoch_secs[e - 1];
        res->epochs_run = e;
        res->final_loss = loss;

        int out_of_time =
            cfg->time_limit > 0.0 && now() - t_start >= cfg->time_limit;
        int evaluated =
            valid != NULL && cfg->eval_every > 0 &&
            (e % cfg->eval_every == 0 || e == cfg->epochs || out_of_time);
        if (out_of_time)
            s.stop = 1;
        if (evaluated) {
            ret = validate(&t, valid, test, e, &vm, &tm, &s, res, t_start, err);
            if (ret != 0)
                goto out;
        }
        if (cfg->progress != NULL) {
            double med = median(t.epoch_secs, e);
            struct gnn_progress p = {
                .epoch = e,
                .epochs = cfg->epochs,
                .loss = loss,
                .seconds = t.epoch_secs[e - 1],
                .cpu_seconds = t.epoch_cpu[e - 1],
                .eta_seconds = med * (cfg->epochs - e),
                .wall_seconds = now() - t_start,
                .valid = evaluated ? &vm : NULL,
                .test = evaluated && test != NULL ? &tm : NULL,
                .best_epoch = res->best_epoch,
            };
            if (cfg->progress(&p, cfg->progress_ctx) != 0) {
                ret = gnn_error_set(err, GNN_ECANCELED, "training canceled");
                goto out;
            }
        }
    }

    if (res->has_valid && res->best_epoch < res->epochs_run)
        save_best(&t, 1);
    if (!res->has_valid) {
        res->best_epoch = res->epochs_run;
        res->seconds_to_best = now() - t_start;
    }
    set_phase(m, res->epochs_run + 1, 0);
    m->ops->forward(m, pool);
    res->batches_run = t.batches;
    res->budget_hit = t.out_of_time;
    if (t.mb != NULL)
        res->minibatch = *gnn__minibatch_plan_now(t.mb);
    res->seconds_per_epoch = median(t.epoch_secs, res->epochs_run);
    res->cpu_seconds_per_epoch = median(t.epoch_cpu, res->epochs_run);
    res->wall_seconds = now() - t_start;
    ret = 0;
out:
    trainer_free(&t);
    return ret;
}
