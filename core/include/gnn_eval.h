/*
 * Top-k evaluation by full ranking: every item is scored for every user
 * with held-out items, the user's training items are masked, and the
 * best max(cut) items are compared with the held-out set.
 */
#ifndef GNN_EVAL_H
#define GNN_EVAL_H

#include <stdint.h>

#include "gnn_csr.h"
#include "gnn_data.h"
#include "gnn_model.h"

#define GNN_MAX_CUTOFFS 8

/* Means over the users with at least one held-out item. */
struct gnn_metrics {
    int32_t n_cut;
    int32_t cut[GNN_MAX_CUTOFFS]; /* the K of each column, ascending */
    double recall[GNN_MAX_CUTOFFS];
    double ndcg[GNN_MAX_CUTOFFS];
    double hit[GNN_MAX_CUTOFFS];
    double mrr[GNN_MAX_CUTOFFS];
    double precision[GNN_MAX_CUTOFFS];
    int64_t n_users; /* users evaluated */
    double seconds;  /* wall time of the evaluation */
};

/*
 * Evaluate m on truth (held-out items per user: n_rows <= m->n_users,
 * n_cols <= m->n_items), masking mask's items per user (mask may be NULL;
 * its rows beyond mask->n_rows mask nothing). cut holds n_cut cut-offs in
 * ascending order, 1..1000, n_cut 1..GNN_MAX_CUTOFFS. Users are scored in
 * blocks by gnn_model_score, threads taking alternate blocks; metrics
 * are summed in user order, so any thread count gives the same figures.
 * GNN_EINVAL for bad cut-offs or shapes, GNN_ENOMEM.
 */
int gnn_evaluate(const struct gnn_model *m, const struct gnn_csr *mask,
                 const struct gnn_csr *truth, const int32_t *cut, int32_t n_cut,
                 struct gnn_pool *pool, struct gnn_metrics *out,
                 struct gnn_error *err);

/* The column of out for cut-off k, or -1 when k was not evaluated. */
int gnn_metrics_find(const struct gnn_metrics *out, int32_t k);

/*
 * The items of x as a binary n_users x n_items CSR (duplicates merged to
 * weight 1): the held-out sets for gnn_evaluate(). GNN_ERANGE when an id
 * is outside the counts. Free with gnn_csr_free().
 */
int gnn_interactions_to_csr(const struct gnn_interactions *x, int32_t n_users,
                            int32_t n_items, struct gnn_csr *out,
                            struct gnn_error *err);

/*
 * The best k items of scores[0..n-1] in descending order (ties: lower id
 * first), skipping items marked in skip (sorted ids, n_skip of them).
 * Writes min(k, available) ids to top and returns that count.
 */
int32_t gnn_topk(const float *scores, int32_t n, const int32_t *skip,
                 int64_t n_skip, int32_t k, int32_t *top);

#endif
