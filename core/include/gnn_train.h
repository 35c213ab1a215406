/*
 * The training loop shared by every model: BPR on sampled negatives with
 * L2 on the batch's base embeddings and Adam, full-graph propagation per
 * mini-batch, evaluation on the validation set with early stopping on
 * NDCG@20; closed-form models are fitted once instead.
 */
#ifndef GNN_TRAIN_H
#define GNN_TRAIN_H

#include <stdint.h>

#include "gnn_eval.h"
#include "gnn_minibatch.h"
#include "gnn_model.h"
#include "gnn_rng.h"

/* What a progress callback sees after each epoch. */
struct gnn_progress {
    int32_t epoch;       /* 1-based epoch just finished */
    int32_t epochs;      /* the most that will run */
    double loss;         /* mean BPR + L2 loss over the epoch's batches */
    double seconds;      /* training time of this epoch */
    double cpu_seconds;  /* process CPU time of this epoch */
    double eta_seconds;  /* rough time left if no early stop */
    double wall_seconds; /* since training started, evaluations included */
    const struct gnn_metrics *valid; /* NULL unless evaluated now */
    const struct gnn_metrics *test;  /* NULL unless tracked and now */
    int32_t best_epoch; /* epoch of the best valid NDCG so far, or 0 */
};

/* Return nonzero to stop training (gnn_train then returns
 * GNN_ECANCELED). */
typedef int (*gnn_progress_fn)(const struct gnn_progress *p, void *ctx);

struct gnn_train_config {
    int32_t epochs;          /* most epochs, >= 1 */
    int32_t batch;           /* positives per mini-batch, >= 1 */
    int32_t negatives;       /* sampled negatives per positive, >= 1 */
    float lr;                /* Adam step size */
    float lr_decay;          /* lr multiplied by this after each epoch */
    float l2;                /* weight of the L2 term */
    float beta1, beta2, eps; /* Adam */
    uint64_t seed;           /* negative sampling and batch order */
    int32_t eval_every;      /* epochs between validations (0: never) */
    int32_t patience;        /* validations without gain before stopping
                                (0: never stop early) */
    int32_t stop_cut;        /* K of the early-stopping NDCG, e.g. 20 */
    int32_t n_cut;           /* cut-offs evaluated */
    int32_t cut[GNN_MAX_CUTOFFS];
    gnn_progress_fn progress; /* may be NULL */
    void *progress_ctx;
    /* Train on a subset: n_entries indices into graph->ui's entries
     * (0 <= index < ui.nnz), each epoch shuffling only these. NULL: all. */
    const int64_t *entries;
    int64_t n_entries;
    double budget_seconds; /* stop after the batch that passes this much
                              training time (0: no limit) */
    double time_limit;     /* wall seconds after which the epoch that ends
                              is the last, validated (0: none) */
    /* Subgraph mini-batches (gnn_minibatch.h); off by default. */
    struct gnn_minibatch_config minibatch;
};

/* Defaults: 1000 epochs, batch 2048, 1 negative, lr 1e-3, l2 1e-4, ... */
void gnn_train_config_default(struct gnn_train_config *c);

struct gnn_train_result {
    int32_t epochs_run;
    int64_t batches_run;          /* mini-batches over all epochs */
    int budget_hit;               /* stopped by budget_seconds */
    int32_t best_epoch;           /* epoch whose parameters are kept, or the
                                     last one when there is no validation */
    double train_seconds;         /* training only, evaluations excluded */
    double wall_seconds;          /* everything */
    double seconds_per_epoch;     /* median over the epochs run */
    double cpu_seconds_per_epoch; /* median process CPU time (all
                                     threads) per epoch: on a shared
                                     machine, less noisy than wall time */
    double seconds_to_best;       /* wall time when the best epoch ended */
    double final_loss;
    int has_valid;
    struct gnn_metrics valid;            /* at best_epoch */
    struct gnn_minibatch_plan minibatch; /* what ran (mode off: full) */
};

/*
 * Train m on its graph. valid (may be NULL) holds held-out items per user
 * for early stopping; test (may be NULL) is evaluated beside valid and
 * only reported through the callback, never used for a decision. On
 * return the model holds the best validated parameters and its outputs
 * are computed (forward done). GNN_EINVAL for bad settings, GNN_ENOMEM,
 * GNN_ECANCELED when the callback asked to stop, or the model's fit error.
 */
int gnn_train(struct gnn_model *m, const struct gnn_csr *valid,
              const struct gnn_csr *test, const struct gnn_train_config *cfg,
              struct gnn_pool *pool, struct gnn_train_result *res,
              struct gnn_error *err);

/* One mini-batch of triples (user[b], pos[b], neg[b * n_neg + q]). */
struct gnn_batch {
    int32_t n;
    int32_t n_neg;
    const int32_t *user; /* n */
    const int32_t *pos;  /* n */
    const int32_t *neg;  /* n * n_neg */
};

/*
 * BPR loss over the batch on m's outputs, mean over the n * n_neg
 * triples of softplus(-(u.i - u.j)); adds its gradient into
 * m->grad_user / m->grad_item (which the caller zeroes). Returns the
 * loss.
 */
double gnn_bpr_loss(struct gnn_model *m, const struct gnn_batch *b);

/*
 * L2 on the batch's base embeddings as LightGCN weighs it: per triple
 * 0.5 l2 (|u0|^2 + |i0|^2 + |j0|^2) / (n * n_neg); adds its gradient into
 * m->grad_user_base / m->grad_item_base. Returns the term.
 */
double gnn_l2_loss(struct gnn_model *m, const struct gnn_batch *b, float l2);

/*
 * One Adam step (PyTorch's form, bias-corrected) over all parameters of
 * m, step t >= 1.
 */
void gnn_adam_step(struct gnn_model *m, int64_t t, float lr, float beta1,
                   float beta2, float eps, struct gnn_pool *pool);

/*
 * The same step on the rows of the given nodes only (users first, then
 * items, as in the graph), for every per-node and per-item parameter,
 * and on the whole of every shared one; the gradient of those node rows
 * is zeroed after use. Rows not named keep their weights and moments
 * (lazy Adam, the usual choice for embedding tables), so that a step
 * costs what its nodes do, not what the whole model does.
 */
void gnn_adam_step_rows(struct gnn_model *m, int64_t t, float lr, float beta1,
                        float beta2, float eps, const int32_t *nodes,
                        int64_t n_nodes, struct gnn_pool *pool);

/*
 * Sample n_neg negatives for user u into neg: uniform items not in u's
 * training row (up to 64 tries each, then accepted as drawn).
 */
void gnn_sample_negatives(const struct gnn_graph *g, struct gnn_rng *rng,
                          int32_t u, int32_t n_neg, int32_t *neg);

#endif
