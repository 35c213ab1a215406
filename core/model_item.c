#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gnn_model.h"

/*
 * Models without embeddings: they learn in closed form (fit) and score
 * users by their training items (score).
 */

/* ---------------------------------------------------------------- pop */

struct pop {
    float *count; /* n_items training weight sums */
};

static int pop_init(struct gnn_model *m, struct gnn_error *err)
{
    struct pop *p = calloc(1, sizeof(*p));

    if (p == NULL)
        return gnn_error_set(err, GNN_ENOMEM, "cannot allocate pop");
    m->priv = p;
    p->count = calloc((size_t)m->n_items + 1, sizeof(*p->count));
    if (p->count == NULL)
        return gnn_error_set(err, GNN_ENOMEM, "cannot allocate counts");
    return 0;
}

static int pop_fit(struct gnn_model *m, struct gnn_pool *pool,
                   struct gnn_error *err)
{
    struct pop *p = m->priv;
    const struct gnn_csr *iu = &m->graph->iu;

    for (int32_t i = 0; i < m->n_items; i++) {
        double s = 0.0;
        for (int64_t k = iu->row_ptr[i]; k < iu->row_ptr[i + 1]; k++)
            s += iu->val[k];
        p->count[i] = (float)s;
    }
    return 0;
}

static void pop_score(const struct gnn_model *m, const int32_t *users,
                      int32_t n, float *out)
{
    const struct pop *p = m->priv;

    for (int32_t b = 0; b < n; b++)
        memcpy(out + (size_t)b * m->n_items, p->count,
               (size_t)m->n_items * sizeof(*out));
}

static void pop_destroy(struct gnn_model *m)
{
    struct pop *p = m->priv;

    if (p != NULL)
        free(p->count);
    free(p);
    m->priv = NULL;
}

const struct gnn_model_ops gnn__ops_pop = {
    .name = "pop",
    .init = pop_init,
    .fit = pop_fit,
    .score = pop_score,
    .destroy = pop_destroy,
};

/* ------------------------------------------------------------ itemknn */

/*
 * Item k-NN: cosine similarity of the items' user columns, the top
 * knn_neighbors kept per item; a user's score for j sums sim(i, j) over
 * the user's training items i.
 */
struct knn {
    int32_t n_nb; /* neighbours per item */
    int32_t *nb;  /* n_items x n_nb neighbour ids, -1 past the end */
    float *sim;   /* n_items x n_nb similarities */
};

static int knn_init(struct gnn_model *m, struct gnn_error *err)
{
    struct knn *k = calloc(1, sizeof(*k));
    size_t n;

    if (k == NULL)
        return gnn_error_set(err, GNN_ENOMEM, "cannot allocate itemknn");
    m->priv = k;
    k->n_nb = m->cfg.knn_neighbors;
    if (k->n_nb > m->n_items)
        k->n_nb = m->n_items > 0 ? m->n_items : 1;
    n = (size_t)m->n_items * (size_t)k->n_nb + 1;
    k->nb = malloc(n * sizeof(*k->nb));
    k->sim = malloc(n * sizeof(*k->sim));
    if (k->nb == NULL || k->sim == NULL)
        return gnn_error_set(err, GNN_ENOMEM,
                             "cannot allocate %d neighbours per item", k->n_nb);
    return 0;
}

struct knn_task {
    struct gnn_model *m;
    const float *norm; /* n_items column norms */
    int failed;
};

/* Insert (j, s) into the descending list of n kept entries (cap n_nb). */
static void keep_top(int32_t *nb, float *sim, int32_t *n, int32_t cap,
                     int32_t j, float s)
{
    int32_t at = *n < cap ? *n : cap - 1;

    if (*n == cap && !(s > sim[cap - 1]))
        return;
    while (at > 0 &&
           (sim[at - 1] < s || (sim[at - 1] == s && nb[at - 1] > j))) {
        nb[at] = nb[at - 1];
        sim[at] = sim[at - 1];
        at--;
    }
    nb[at] = j;
    sim[at] = s;
    if (*n < cap)
        (*n)++;
}

static void knn_task(int ith, int nth, void *ctx)
{
    struct knn_task *t = ctx;
    struct gnn_model *m = t->m;
    struct knn *k = m->priv;
    const struct gnn_csr *ui = &m->graph->ui, *iu = &m->graph->iu;
    float *acc = calloc((size_t)m->n_items + 1, sizeof(*acc));
    int32_t *touched = malloc(((size_t)m->n_items + 1) * sizeof(*touched));
    int64_t lo, hi;

    if (acc == NULL || touched == NULL) {
        t->failed = 1;
        free(acc);
        free(touched);
        return;
    }
    gnn_split_range(m->n_items, ith, nth, &lo, &hi);
    for (int64_t i = lo; i < hi; i++) {
        int32_t n_t = 0, kept = 0;
        int32_t *nb = k->nb + i * k->n_nb;
        float *sim = k->sim + i * k->n_nb;

        for (int64_t a = iu->row_ptr[i]; a < iu->row_ptr[i + 1]; a++) {
            int32_t u = iu->col_idx[a];
            for (int64_t b = ui->row_ptr[u]; b < ui->row_ptr[u + 1]; b++) {
                int32_t j = ui->col_idx[b];
                if (j == i)
                    continue;
                if (acc[j] == 0.0f)
                    touched[n_t++] = j;
                acc[j] += iu->val[a] * ui->val[b];
            }
        }
        for (int32_t q = 0; q < n_t; q++) {
            int32_t j = touched[q];
            float s = acc[j] / (t->norm[i] * t->norm[j]);
            keep_top(nb, sim, &kept, k->n_nb, j, s);
            acc[j] = 0.0f;
        }
        for (int32_t q = kept; q < k->n_nb; q++) {
            nb[q] = -1;
            sim[q] = 0.0f;
        }
    }
    free(acc);
    free(touched);
}

static int knn_fit(struct gnn_model *m, struct gnn_pool *pool,
                   struct gnn_error *err)
{
    const struct gnn_csr *iu = &m->graph->iu;
    float *norm = malloc(((size_t)m->n_items + 1) * sizeof(*norm));
    struct knn_task t = {m, norm, 0};

    if (norm == NULL)
        return gnn_error_set(err, GNN_ENOMEM, "cannot allocate norms");
    for (int32_t i = 0; i < m->n_items; i++) {
        double s = 0.0;
        for (int64_t a = iu->row_ptr[i]; a < iu->row_ptr[i + 1]; a++)
            s += (double)iu->val[a] * iu->val[a];
        norm[i] = s > 0.0 ? (float)sqrt(s) : 1.0f;
    }
    gnn_pool_run(pool, knn_task, &t);
    free(norm);
    if (t.failed)
        return gnn_error_set(err, GNN_ENOMEM,
                             "cannot allocate itemknn accumulators");
    return 0;
}

static void knn_score(const struct gnn_model *m, const int32_t *users,
                      int32_t n, float *out)
{
    const struct knn *k = m->priv;
    const struct gnn_csr *ui = &m->graph->ui;

    memset(out, 0, (size_t)n * (size_t)m->n_items * sizeof(*out));
    for (int32_t b = 0; b < n; b++) {
        float *o = out + (size_t)b * m->n_items;
        int32_t u = users[b];
        for (int64_t a = ui->row_ptr[u]; a < ui->row_ptr[u + 1]; a++) {
            int32_t i = ui->col_idx[a];
            const int32_t *nb = k->nb + (size_t)i * k->n_nb;
            const float *sim = k->sim + (size_t)i * k->n_nb;
            for (int32_t q = 0; q < k->n_nb && nb[q] >= 0; q++)
                o[nb[q]] += ui->val[a] * sim[q];
        }
    }
}

static void knn_destroy(struct gnn_model *m)
{
    struct knn *k = m->priv;

    if (k != NULL) {
        free(k->nb);
        free(k->sim);
    }
    free(k);
    m->priv = NULL;
}

const struct gnn_model_ops gnn__ops_itemknn = {
    .name = "itemknn",
    .init = knn_init,
    .fit = knn_fit,
    .score = knn_score,
    .destroy = knn_destroy,
};

/* --------------------------------------------------------------- ease */

/*
 * EASE: B = I - P diag(1/diag(P)) with P = (X^T X + lambda I)^-1, the
 * diagonal of B then forced to zero; a user's scores are x_u B. The
 * item x item matrix is dense, so the model refuses to start when it
 * would exceed the configured memory limit.
 */
struct ease {
    float *b; /* n_items x n_items */
};

static int ease_init(struct gnn_model *m, struct gnn_error *err)
{
    int64_t bytes = (int64_t)m->n_items * m->n_items * (int64_t)sizeof(float);
    struct ease *e;

    if (bytes > m->cfg.mem_limit)
        return gnn_error_set(err, GNN_ERANGE,
                             "ease needs %.2f GiB for its %d x %d item "
                             "matrix, over the memory limit of %.2f GiB",
                             (double)bytes / (1 << 30), m->n_items, m->n_items,
                             (double)m->cfg.mem_limit / (1 << 30));
    e = calloc(1, sizeof(*e));
    if (e == NULL)
        return gnn_error_set(err, GNN_ENOMEM, "cannot allocate ease");
    m->priv = e;
    e->b = calloc((size_t)m->n_items * (size_t)m->n_items + 1, sizeof(*e->b));
    if (e->b == NULL)
        return gnn_error_set(err, GNN_ENOMEM,
                             "cannot allocate a %d x %d matrix", m->n_items,
                             m->n_items);
    return 0;
}

struct gram_task {
    const struct gnn_graph *g;
    float *out;
    int32_t n;
};

/* Rows i of X^T X: sum over i's users u of x_ui x_u. */
static void gram_task(int ith, int nth, void *ctx)
{
    struct gram_task *t = ctx;
    const struct gnn_csr *ui = &t->g->ui, *iu = &t->g->iu;
    int64_t lo, hi;

    gnn_split_range(t->n, ith, nth, &lo, &hi);
    for (int64_t i = lo; i < hi; i++) {
        float *row = t->out + i * t->n;
        for (int64_t a = iu->row_ptr[i]; a < iu->row_ptr[i + 1]; a++) {
            int32_t u = iu->col_idx[a];
            for (int64_t b = ui->row_ptr[u]; b < ui->row_ptr[u + 1]; b++)
                row[ui->col_idx[b]] += iu->val[a] * ui->val[b];
        }
    }
}

static int ease_fit(struct gnn_model *m, struct gnn_pool *pool,
                    struct gnn_error *err)
{
    struct ease *e = m->priv;
    int32_t n = m->n_items;
    struct gram_task t = {m->graph, e->b, n};
    lapack_int info;

    if (n == 0)
        return 0;
    memset(e->b, 0, (size_t)n * (size_t)n * sizeof(*e->b));
    gnn_pool_run(pool, gram_task, &t);
    for (int32_t i = 0; i < n; i++)
        e->b[(size_t)i * n + i] += m->cfg.ease_lambda;

    /* LAPACK may use every core here; the pool keeps BLAS at one thread
     * elsewhere, so restore that afterwards. */
    openblas_set_num_threads(gnn_pool_size(pool));
    /* The matrix is symmetric, so it reads the same in column-major
     * order: asking for that spares LAPACKE a transposed n x n copy. */
    info = LAPACKE_spotrf(LAPACK_COL_MAJOR, 'L', n, e->b, n);
    if (info == 0)
        info = LAPACKE_spotri(LAPACK_COL_MAJOR, 'L', n, e->b, n);
    openblas_set_num_threads(1);
    if (info != 0)
        return gnn_error_set(err, GNN_EINVAL,
                             "ease: the regularized Gram matrix is not "
                             "positive definite (LAPACK info %d); raise "
                             "lambda",
                             (int)info);

    /* P is in the column-major lower triangle, which is the row-major
     * upper one: mirror it down, then B_ij = -P_ij / P_jj. */
    for (int32_t r = 1; r < n; r++) {
        for (int32_t c = 0; c < r; c++)
            e->b[(size_t)r * n + c] = e->b[(size_t)c * n + r];
    }
    float *inv_diag = malloc((size_t)n * sizeof(*inv_diag));
    if (inv_diag == NULL)
        return gnn_error_set(err, GNN_ENOMEM, "cannot allocate a diagonal");
    for (int32_t j = 0; j < n; j++)
        inv_diag[j] = 1.0f / e->b[(size_t)j * n + j];
    for (int32_t i = 0; i < n; i++) {
        float *row = e->b + (size_t)i * n;
        for (int32_t j = 0; j < n; j++)
            row[j] = i == j ? 0.0f : -row[j] * inv_diag[j];
    }
    free(inv_diag);
    return 0;
}

static void ease_score(const struct gnn_model *m, const int32_t *users,
                       int32_t n, float *out)
{
    const struct ease *e = m->priv;
    const struct gnn_csr *ui = &m->graph->ui;
    int32_t ni = m->n_items;

    memset(out, 0, (size_t)n * (size_t)ni * sizeof(*out));
    for (int32_t b = 0; b < n; b++) {
        int32_t u = users[b];
        for (int64_t a = ui->row_ptr[u]; a < ui->row_ptr[u + 1]; a++)
            cblas_saxpy(ni, ui->val[a], e->b + (size_t)ui->col_idx[a] * ni, 1,
                        out + (size_t)b * ni, 1);
    }
}

static void ease_destroy(struct gnn_model *m)
{
    struct ease *e = m->priv;

    if (e != NULL)
        free(e->b);
    free(e);
    m->priv = NULL;
}

const struct gnn_model_ops gnn__ops_ease = {
    .name = "ease",
    .init = ease_init,
    .fit = ease_fit,
    .score = ease_score,
    .destroy = ease_destroy,
};

/* --------------------------------------------------------- embeddings */

/* Fixed embeddings (a loaded snapshot): scored as dot products. */
struct fixed {
    float *users, *items;
};

static void fixed_destroy(struct gnn_model *m)
{
    struct fixed *f = m->priv;

    if (f != NULL) {
        free(f->users);
        free(f->items);
    }
    free(f);
    m->priv = NULL;
}

const struct gnn_model_ops gnn__ops_embeddings = {
    .name = "embeddings",
    .destroy = fixed_destroy,
};

int gnn_model_new_embeddings(int32_t n_users, int32_t n_items, int32_t dim,
                             const float *users, const float *items,
                             struct gnn_model **out, struct gnn_error *err)
{
    struct gnn_model *m;
    struct fixed *f;
    size_t nu = (size_t)n_users * (size_t)dim;
    size_t ni = (size_t)n_items * (size_t)dim;

    *out = NULL;
    if (n_users < 0 || n_items < 0 || dim < 1)
        return gnn_error_set(err, GNN_EINVAL, "bad embedding shape %d, %d x %d",
                             n_users, n_items, dim);
    m = calloc(1, sizeof(*m));
    f = calloc(1, sizeof(*f));
    if (m == NULL || f == NULL) {
        free(m);
        free(f);
        return gnn_error_set(err, GNN_ENOMEM, "cannot allocate a model");
    }
    m->ops = &gnn__ops_embeddings;
    m->priv = f;
    gnn_model_config_default(&m->cfg, GNN_MODEL_EMBEDDINGS);
    m->cfg.dim = dim;
    m->n_users = n_users;
    m->n_items = n_items;
    m->dim = dim;
    f->users = malloc((nu + 1) * sizeof(float));
    f->items = malloc((ni + 1) * sizeof(float));
    if (f->users == NULL || f->items == NULL) {
        gnn_model_free(m);
        return gnn_error_set(err, GNN_ENOMEM, "cannot allocate embeddings");
    }
    memcpy(f->users, users, nu * sizeof(float));
    memcpy(f->items, items, ni * sizeof(float));
    m->user_out = f->users;
    m->item_out = f->items;
    m->item_source_out = f->items;
    *out = m;
    return 0;
}
