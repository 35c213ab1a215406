#include "gnn_eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int gnn_interactions_to_csr(const struct gnn_interactions *x, int32_t n_users,
                            int32_t n_items, struct gnn_csr *out,
                            struct gnn_error *err)
{
    int ret = gnn_csr_from_coo(n_users, n_items, x->n, x->user, x->item, NULL,
                               out, err);
    if (ret != 0)
        return ret;
    for (int64_t k = 0; k < out->nnz; k++)
        out->val[k] = 1.0f;
    return 0;
}

/* ----------------------------------------------------------------- top-k */

/* a ranks below b: lower score, or equal score and larger id. */
static int worse(float sa, int32_t ia, float sb, int32_t ib)
{
    return sa < sb || (sa == sb && ia > ib);
}

static void sift_down(float *hs, int32_t *hi, int32_t n, int32_t at)
{
    for (;;) {
        int32_t l = 2 * at + 1, r = l + 1, w = at;
        if (l < n && worse(hs[l], hi[l], hs[w], hi[w]))
            w = l;
        if (r < n && worse(hs[r], hi[r], hs[w], hi[w]))
            w = r;
        if (w == at)
            return;
        float ts = hs[at];
        int32_t ti = hi[at];
        hs[at] = hs[w];
        hi[at] = hi[w];
        hs[w] = ts;
        hi[w] = ti;
        at = w;
    }
}

#define TOPK_MAX 1000

int32_t gnn_topk(const float *scores, int32_t n, const int32_t *skip,
                 int64_t n_skip, int32_t k, int32_t *top)
{
    float hs[TOPK_MAX];
    int32_t hi[TOPK_MAX];
    int32_t size = 0;
    int64_t s = 0;

    if (k > TOPK_MAX)
        k = TOPK_MAX;
    /* A min-heap of the best k so far: most items fail the first test
     * against its root, so the scan costs one compare per item. */
    for (int32_t i = 0; i < n; i++) {
        while (s < n_skip && skip[s] < i)
            s++;
        if (s < n_skip && skip[s] == i)
            continue;
        float v = scores[i];
        if (isnan(v))
            v = -INFINITY;
        if (size < k) {
            int32_t at = size++;
            hs[at] = v;
            hi[at] = i;
            while (at > 0) {
                int32_t up = (at - 1) / 2;
                if (!worse(hs[at], hi[at], hs[up], hi[up]))
                    break;
                float ts = hs[at];
                int32_t ti = hi[at];
                hs[at] = hs[up];
                hi[at] = hi[up];
                hs[up] = ts;
                hi[up] = ti;
                at = up;
            }
        } else if (worse(hs[0], hi[0], v, i)) {
            hs[0] = v;
            hi[0] = i;
            sift_down(hs, hi, size, 0);
        }
    }
    /* Pop the worst first, filling top from the back. */
    int32_t count = size;
    while (size > 0) {
        top[size - 1] = hi[0];
        hs[0] = hs[size - 1];
        hi[0] = hi[size - 1];
        size--;
        sift_down(hs, hi, size, 0);
    }
    return count;
}

/* -------------------------------------------------------------- metrics */

#define BLOCK 128
#define N_FIG 5 /* recall, ndcg, hit, mrr, precision */

struct eval_task {
    const struct gnn_model *m;
    const struct gnn_csr *mask, *truth;
    const int32_t *users; /* users with held-out items */
    int32_t n_users;
    const int32_t *cut;
    int32_t n_cut;
    double *fig; /* n_users x n_cut x N_FIG */
    int failed;
};

static int in_row(const struct gnn_csr *a, int32_t r, int32_t c)
{
    return r < a->n_rows && gnn_csr_has(a, r, c);
}

static void user_figures(const struct eval_task *t, int32_t u,
                         const int32_t *top, int32_t n_top, double *fig)
{
    int64_t n_true = t->truth->row_ptr[u + 1] - t->truth->row_ptr[u];
    double dcg = 0.0, idcg = 0.0, rr = 0.0;
    int32_t hits = 0, r = 0;

    for (int32_t c = 0; c < t->n_cut; c++) {
        int32_t k = t->cut[c];
        for (; r < k; r++) {
            if (r < n_true)
                idcg += 1.0 / log2(r + 2.0);
            if (r >= n_top || !in_row(t->truth, u, top[r]))
                continue;
            hits++;
            dcg += 1.0 / log2(r + 2.0);
            if (rr == 0.0)
                rr = 1.0 / (r + 1.0);
        }
        double *f = fig + (size_t)c * N_FIG;
        f[0] = (double)hits / (double)n_true;
        f[1] = idcg > 0.0 ? dcg / idcg : 0.0;
        f[2] = hits > 0 ? 1.0 : 0.0;
        f[3] = rr;
        f[4] = (double)hits / (double)k;
    }
}

static void eval_task(int ith, int nth, void *ctx)
{
    struct eval_task *t = ctx;
    int32_t ni = t->m->n_items, kmax = t->cut[t->n_cut - 1];
    float *scores = malloc((size_t)BLOCK * (size_t)ni * sizeof(*scores) + 1);
    int32_t *top = malloc((size_t)kmax * sizeof(*top));

    if (scores == NULL || top == NULL) {
        t->failed = 1;
        goto out;
    }
    for (int32_t b0 = ith * BLOCK; b0 < t->n_users; b0 += nth * BLOCK) {
        int32_t nb = t->n_users - b0 < BLOCK ? t->n_users - b0 : BLOCK;
        gnn_model_score(t->m, t->users + b0, nb, scores);
        for (int32_t q = 0; q < nb; q++) {
            int32_t u = t->users[b0 + q];
            const int32_t *skip = NULL;
            int64_t n_skip = 0;
            if (t->mask != NULL && u < t->mask->n_rows) {
                skip = t->mask->col_idx + t->mask->row_ptr[u];
                n_skip = t->mask->row_ptr[u + 1] - t->mask->row_ptr[u];
            }
            int32_t n_top =
                gnn_topk(scores + (size_t)q * ni, ni, skip, n_skip, kmax, top);
            user_figures(t, u, top, n_top,
                         t->fig + (size_t)(b0 + q) * t->n_cut * N_FIG);
        }
    }
out:
    free(scores);
    free(top);
}

static int check_eval(const struct gnn_model *m, const struct gnn_csr *mask,
                      const struct gnn_csr *truth, const int32_t *cut,
                      int32_t n_cut, struct gnn_error *err)
{
    if (n_cut < 1 || n_cut > GNN_MAX_CUTOFFS)
        return gnn_error_set(err, GNN_EINVAL, "%d cut-offs, expected 1..%d",
                             n_cut, GNN_MAX_CUTOFFS);
    for (int32_t c = 0; c < n_cut; c++) {
        if (cut[c] < 1 || cut[c] > TOPK_MAX || (c > 0 && cut[c] <= cut[c - 1]))
            return gnn_error_set(err, GNN_EINVAL,
                                 "cut-offs must ascend within 1..%d", TOPK_MAX);
    }
    if (truth->n_rows > m->n_users || truth->n_cols > m->n_items)
        return gnn_error_set(err, GNN_EINVAL,
                             "held-out set %d x %d exceeds the model's "
                             "%d users x %d items",
                             truth->n_rows, truth->n_cols, m->n_users,
                             m->n_items);
    if (mask != NULL && mask->n_cols > m->n_items)
        return gnn_error_set(err, GNN_EINVAL, "mask has %d items, the model %d",
                             mask->n_cols, m->n_items);
    return 0;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int gnn_evaluate(const struct gnn_model *m, const struct gnn_csr *mask,
                 const struct gnn_csr *truth, const int32_t *cut, int32_t n_cut,
                 struct gnn_pool *pool, struct gnn_metrics *out,
                 struct gnn_error *err)
{
    struct eval_task t = {m, mask, truth, NULL, 0, cut, n_cut, NULL, 0};
    int32_t *users = NULL;
    double t0 = now();
    int ret;

    memset(out, 0, sizeof(*out));
    ret = check_eval(m, mask, truth, cut, n_cut, err);
    if (ret != 0)
        return ret;
    out->n_cut = n_cut;
    memcpy(out->cut, cut, (size_t)n_cut * sizeof(*cut));

    users = malloc(((size_t)truth->n_rows + 1) * sizeof(*users));
    if (users == NULL)
        return gnn_error_set(err, GNN_ENOMEM, "cannot list users");
    for (int32_t u = 0; u < truth->n_rows; u++) {
        if (truth->row_ptr[u + 1] > truth->row_ptr[u])
            users[t.n_users++] = u;
    }
    t.users = users;
    t.fig = calloc((size_t)t.n_users * n_cut * N_FIG + 1, sizeof(*t.fig));
    if (t.fig == NULL) {
        ret = gnn_error_set(err, GNN_ENOMEM, "cannot allocate figures");
        goto out;
    }
    gnn_pool_run(pool, eval_task, &t);
    if (t.failed) {
        ret = gnn_error_set(err, GNN_ENOMEM, "cannot allocate score blocks");
        goto out;
    }

    for (int32_t q = 0; q < t.n_users; q++) {
        for (int32_t c = 0; c < n_cut; c++) {
            const double *f = t.fig + ((size_t)q * n_cut + c) * N_FIG;
            out->recall[c] += f[0];
            out->ndcg[c] += f[1];
            out->hit[c] += f[2];
            out->mrr[c] += f[3];
            out->precision[c] += f[4];
        }
    }
    for (int32_t c = 0; c < n_cut && t.n_users > 0; c++) {
        out->recall[c] /= t.n_users;
        out->ndcg[c] /= t.n_users;
        out->hit[c] /= t.n_users;
        out->mrr[c] /= t.n_users;
        out->precision[c] /= t.n_users;
    }
    out->n_users = t.n_users;
    out->seconds = now() - t0;
    ret = 0;
out:
    free(users);
    free(t.fig);
    return ret;
}

int gnn_metrics_find(const struct gnn_metrics *out, int32_t k)
{
    for (int32_t c = 0; c < out->n_cut; c++) {
        if (out->cut[c] == k)
            return c;
    }
    return -1;
}
