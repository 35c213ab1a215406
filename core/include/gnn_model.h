/*
 * Recommendation models behind one interface.
 *
 * A model is a vtable (struct gnn_model_ops) over shared state (struct
 * gnn_model). Embedding models keep trainable parameters and produce,
 * by forward(), final user and item embeddings over the whole graph;
 * backward() turns the loss gradient on those outputs into parameter
 * gradients. Closed-form models (pop, itemknn, ease) implement fit() and
 * score() instead. The trainer (gnn_train.h) drives both kinds, so a new
 * model only adds an ops table: its own parameters (hop weights, gates),
 * its own propagation, and, for dual item embeddings, item_source_out
 * distinct from item_out.
 */
#ifndef GNN_MODEL_H
#define GNN_MODEL_H

#include <stdint.h>

#include "gnn_err.h"
#include "gnn_graph.h"
#include "gnn_hognn.h"
#include "gnn_pool.h"

enum gnn_model_kind {
    GNN_MODEL_POP,        /* most popular items first */
    GNN_MODEL_ITEMKNN,    /* cosine item-item neighbours */
    GNN_MODEL_EASE,       /* closed-form item-item regression */
    GNN_MODEL_MF,         /* BPR matrix factorization */
    GNN_MODEL_LIGHTGCN,   /* mean of K parameter-free hops */
    GNN_MODEL_GCN,        /* ReLU(A H W) stacked L times */
    GNN_MODEL_EMBEDDINGS, /* fixed embeddings, e.g. from a snapshot */
    GNN_MODEL_HOGNN,      /* high-order, anti-over-smoothing (gnn_hognn.h) */
};

struct gnn_model_config {
    enum gnn_model_kind kind;
    int32_t dim;           /* embedding width, 1..4096 */
    int32_t layers;        /* hops (lightgcn) or layers (gcn), 0..16 */
    float init_std;        /* std of the normal base embeddings */
    uint64_t seed;         /* parameter initialization */
    int32_t knn_neighbors; /* itemknn: neighbours kept per item */
    float ease_lambda;     /* ease: added to the Gram matrix diagonal */
    int64_t mem_limit;     /* ease: largest item x item matrix, bytes */
    int32_t gcn_residual;  /* gcn: nonzero for H' = ReLU(A H W) + H */
    /* hognn's switches and side data: */
    struct gnn_hognn_config hognn;
    /* Nonzero: propagate with the graph's adjacency values as they are
     * (hognn scales them by 1 - alpha and keeps DropEdge off), for a
     * subgraph whose normalization the trainer set (SAINT). */
    int32_t graph_norm;
};

/* Defaults for kind: dim 64, 3 layers, std 0.1, 100 neighbours, ... */
void gnn_model_config_default(struct gnn_model_config *c,
                              enum gnn_model_kind kind);

/* The kind named name ("lightgcn"), or -1 when unknown. */
int gnn_model_kind_parse(const char *name);

/* The name of kind ("lightgcn"); "unknown" when out of range. */
const char *gnn_model_kind_name(enum gnn_model_kind kind);

/* How a parameter's rows map onto the graph's nodes, so that a
 * subgraph can gather the rows of its own nodes. */
enum gnn_param_rows {
    GNN_PARAM_SHARED = 0, /* shared by all nodes (hop logits, maps) */
    GNN_PARAM_NODES,      /* one row per node: users, then items */
    GNN_PARAM_ITEMS,      /* one row per item */
};

/* A trainable array with its gradient and Adam moments, n floats each. */
struct gnn_param {
    float *w, *g, *m, *v;
    int64_t n;
    int32_t rows; /* enum gnn_param_rows; rows of n / count floats each */
};

#define GNN_MODEL_MAX_PARAMS 20

struct gnn_model;

struct gnn_model_ops {
    const char *name;
    /* Allocate parameters and buffers; initialize from cfg.seed. */
    int (*init)(struct gnn_model *m, struct gnn_error *err);
    /* Closed-form training from the graph; NULL for gradient models. */
    int (*fit)(struct gnn_model *m, struct gnn_pool *pool,
               struct gnn_error *err);
    /* user_out/item_out = f(parameters) over the whole graph. */
    void (*forward)(struct gnn_model *m, struct gnn_pool *pool);
    /* params[].g = d loss / d params from grad_user/grad_item (the
     * gradient on the outputs), overwriting g; may clobber grad_*. */
    void (*backward)(struct gnn_model *m, struct gnn_pool *pool);
    /* Scores of n users for all items into out (n x n_items); NULL
     * means the dot product of user_out and item_out rows. */
    void (*score)(const struct gnn_model *m, const int32_t *users, int32_t n,
                  float *out);
    /* Free what init allocated beyond params (priv). */
    void (*destroy)(struct gnn_model *m);
    /* Optional. Called by the trainer with training 1 before the
     * batches of epoch (1-based), and with training 0 before forwards
     * whose outputs are evaluated or kept (DropEdge draws per epoch). */
    void (*set_phase)(struct gnn_model *m, int32_t epoch, int training);
    /* Optional. An extra loss term for batch b of n_b in the epoch,
     * after the BPR term and before backward: adds its gradient into
     * grad_user/grad_item (and gradients the model keeps itself) and
     * returns the term's value. */
    double (*extra_loss)(struct gnn_model *m, int64_t b, int64_t n_b);
    /* Optional. Hop (or layer) k's node table, users then items then
     * any extra nodes, k in 0..*n_hops-1; *n_rows gets its rows. NULL
     * when k is out of range. For over-smoothing diagnostics. */
    const float *(*hop)(const struct gnn_model *m, int32_t k, int32_t *n_hops,
                        int32_t *n_rows);
};

struct gnn_model {
    const struct gnn_model_ops *ops;
    struct gnn_model_config cfg;
    const struct gnn_graph *graph; /* borrowed; outlives the model */
    int32_t n_users, n_items, dim;

    int n_params;
    struct gnn_param params[GNN_MODEL_MAX_PARAMS];

    /* Embedding models (all NULL otherwise). Layer-0 embeddings, which
     * the L2 term acts on, and their gradient, inside params: */
    float *user_base;      /* n_users x dim */
    float *item_base;      /* n_items x dim */
    float *grad_user_base; /* n_users x dim */
    float *grad_item_base; /* n_items x dim */
    /* Outputs of forward() and the loss gradient on them: */
    float *user_out;        /* n_users x dim */
    float *item_out;        /* n_items x dim: target side, scored */
    float *item_source_out; /* n_items x dim: source side (item_out for
                               single-embedding models) */
    float *grad_user;       /* n_users x dim */
    float *grad_item;       /* n_items x dim */

    /* Set by the trainer around forward/backward of a mini-batch: the
     * node rows (user u is row u, item i row n_users + i) whose outputs
     * the loss reads, as a list of n_active distinct rows and as a mask
     * of n_users + n_items bytes; NULL for every row (evaluation,
     * snapshots). A model may skip work outside them, but must give the
     * listed rows, and all parameter gradients, the same bits as
     * without. */
    const int32_t *active_rows;
    int32_t n_active;
    const uint8_t *active_mask;

    /* Items the trainer may draw as negatives, n_neg_items distinct ids
     * owned by the model (priv); NULL for every item. A model sets it
     * in init for items whose output is not theirs to push down (hognn:
     * cold items, which show their category). */
    const int32_t *neg_items;
    int32_t n_neg_items;

    void *priv; /* the model's own state */
};

/*
 * Create a model of cfg->kind over graph (borrowed; must outlive the
 * model) and initialize its parameters. GNN_EINVAL for a bad setting,
 * GNN_ERANGE when ease's matrix is over cfg->mem_limit, GNN_ENOMEM.
 * Free with gnn_model_free().
 */
int gnn_model_new(const struct gnn_model_config *cfg,
                  const struct gnn_graph *graph, struct gnn_model **out,
                  struct gnn_error *err);

/*
 * A GNN_MODEL_EMBEDDINGS model scoring by users (n_users x dim) times
 * items (n_items x dim); both arrays are copied. Free with
 * gnn_model_free().
 */
int gnn_model_new_embeddings(int32_t n_users, int32_t n_items, int32_t dim,
                             const float *users, const float *items,
                             struct gnn_model **out, struct gnn_error *err);

/* Free m and everything it owns; m may be NULL. */
void gnn_model_free(struct gnn_model *m);

/* True when m learns by gradients (forward/backward). */
int gnn_model_trainable(const struct gnn_model *m);

/* Scores of n users for all items, out n x n_items (see ops->score). */
void gnn_model_score(const struct gnn_model *m, const int32_t *users, int32_t n,
                     float *out);

struct gnn_rng;

/*
 * Sample n_neg negatives for user u into neg, as gnn_sample_negatives
 * (gnn_train.h) does over all items, but drawn from m->neg_items when
 * the model set it. The same draws as gnn_sample_negatives when it did
 * not.
 */
void gnn_model_sample_negatives(const struct gnn_model *m, struct gnn_rng *rng,
                                int32_t u, int32_t n_neg, int32_t *neg);

/*
 * Where node (users first, then items, as in the graph) sits in q: the
 * first float of its row, with *width floats per row; -1 when q has no
 * row of its own for the node (a shared parameter, or a user in a
 * per-item one).
 */
int64_t gnn_param_node_row(const struct gnn_model *m, const struct gnn_param *q,
                           int64_t node, int64_t *width);

/* ------------------------------------------------ for model sources */

/* Append a zeroed parameter of n floats; *w receives its values. */
int gnn__model_add_param(struct gnn_model *m, int64_t n, float **w,
                         struct gnn_error *err);

extern const struct gnn_model_ops gnn__ops_pop;
extern const struct gnn_model_ops gnn__ops_itemknn;
extern const struct gnn_model_ops gnn__ops_ease;
extern const struct gnn_model_ops gnn__ops_mf;
extern const struct gnn_model_ops gnn__ops_lightgcn;
extern const struct gnn_model_ops gnn__ops_gcn;
extern const struct gnn_model_ops gnn__ops_embeddings;
extern const struct gnn_model_ops gnn__ops_hognn;

#endif
