/*
 * Topology-aware mini-batches: training on subgraphs instead of the
 * whole graph.
 *
 * Cluster mode (after Cluster-GCN) cuts the user-item graph into parts
 * with METIS once; each step takes the subgraph induced by a few parts
 * chosen at random (every edge between their nodes), normalizes it on
 * its own (D^-1/2 A D^-1/2 of the subgraph), propagates over it alone
 * and trains BPR on the positives inside it, negatives drawn from its
 * items. An epoch visits every part once.
 *
 * SAINT mode (after GraphSAINT) draws each step's nodes by random walks
 * from uniform user roots and takes the induced subgraph. Counts from
 * pre-sampled subgraphs estimate how often each node (C_v) and edge
 * (C_e) is drawn out of M samples; the subgraph then propagates with the
 * full graph's normalized values divided by C_e / C_v (aggregator
 * normalization, the row node v aggregating) and weighs the loss of
 * positive e by 1 / (|E| C_e / M), so that both are unbiased for the
 * full-graph quantities.
 *
 * Parameters stay whole: a step gathers the subgraph's rows of every
 * node parameter (and the shared ones) into a model of the same kind
 * built over the subgraph, runs forward, loss and backward there, and
 * scatters the gradient back for one Adam step over those rows and the
 * shared parameters (lazy Adam: other rows wait for a step of their own,
 * so that an epoch costs what its subgraphs do, linear in the graph), or
 * over every parameter when configured (dense_adam).
 */
#ifndef GNN_MINIBATCH_H
#define GNN_MINIBATCH_H

#include <stdint.h>

#include "gnn_err.h"
#include "gnn_graph.h"
#include "gnn_rng.h"

struct gnn_model;
struct gnn_pool;

/* ------------------------------------------------------- partition */

/*
 * Cut g's n_nodes nodes (users then items) into n_parts parts with
 * METIS's k-way partitioner, minimizing the edges cut; part (n_nodes
 * entries) receives each node's part in 0..n_parts-1. Deterministic for
 * a seed. GNN_EINVAL when n_parts is outside 1..n_nodes, GNN_ERANGE when
 * the graph is too large for METIS's 32-bit indices, GNN_ENOMEM, GNN_EIO
 * when METIS fails.
 */
int gnn_partition(const struct gnn_graph *g, int32_t n_parts, uint64_t seed,
                  int32_t *part, struct gnn_error *err);

/* ------------------------------------------------------- subgraphs */

/*
 * A subgraph of a parent graph over local ids: local user u is parent
 * user user_ids[u], local item i parent item item_ids[i]. graph holds
 * the induced edges with their weights, normalized on its own unless a
 * SAINT normalization replaced the values (then graph.adj_t is set).
 */
struct gnn_subgraph {
    int32_t *user_ids;  /* graph.n_users parent user ids */
    int32_t *item_ids;  /* graph.n_items parent item ids */
    int64_t *ui_parent; /* graph.ui.nnz: entry of the parent's ui */
    float *loss_weight; /* graph.ui.nnz SAINT loss weights, or NULL */
    int saint;          /* values set by gnn_subgraph_saint_norm */
    struct gnn_graph graph;
};

/*
 * The subgraph of g induced by the n distinct nodes in nodes (users
 * 0..n_users-1, item i as n_users + i): every ui entry between two of
 * them, symmetric normalization of its own. Local ids keep the order of
 * nodes. scratch: g->n_nodes int32 set to -1, returned so. GNN_ERANGE
 * for a node out of range, GNN_ENOMEM. s is overwritten; free with
 * gnn_subgraph_free().
 */
int gnn_subgraph_induce(const struct gnn_graph *g, const int32_t *nodes,
                        int32_t n, int32_t *scratch, struct gnn_subgraph *s,
                        struct gnn_error *err);

/* Release what s holds and zero it; s may be zeroed already. */
void gnn_subgraph_free(struct gnn_subgraph *s);

/* How often nodes and edges fell in M pre-sampled subgraphs. */
struct gnn_saint_norm {
    int32_t samples;     /* M */
    int32_t *node_count; /* n_nodes: C_v */
    int32_t *edge_count; /* g->adj.nnz: C_e per adjacency entry */
};

/*
 * Draw the nodes of one SAINT subgraph: `roots` walks of `walk` steps
 * from users with interactions, chosen uniformly, each step to a uniform
 * neighbour. nodes receives the distinct nodes visited (at most roots *
 * (walk + 1)), *n their count; mark (n_nodes bytes, zero) is returned
 * zero. Deterministic for the state of rng.
 */
void gnn_saint_sample(const struct gnn_graph *g, const int32_t *roots_from,
                      int32_t n_roots_from, int32_t roots, int32_t walk,
                      struct gnn_rng *rng, uint8_t *mark, int32_t *nodes,
                      int32_t *n);

/*
 * Estimate SAINT's normalization from `samples` subgraphs drawn as by
 * gnn_saint_sample from seed. out is overwritten; free with
 * gnn_saint_norm_free(). GNN_EINVAL, GNN_ENOMEM.
 */
int gnn_saint_estimate(const struct gnn_graph *g, int32_t roots, int32_t walk,
                       int32_t samples, uint64_t seed,
                       struct gnn_saint_norm *out, struct gnn_error *err);

/* Release what gnn_saint_estimate allocated; n may be zeroed. */
void gnn_saint_norm_free(struct gnn_saint_norm *n);

/*
 * Replace s's values (s induced from g) by SAINT's: entry (v, u) of the
 * adjacency becomes g's value over C_e / C_v, its transpose goes to
 * graph.adj_t, and positive e gets loss weight M / (C_e g->ui.nnz).
 * Counts under 1 count as 1. GNN_ENOMEM.
 */
int gnn_subgraph_saint_norm(struct gnn_subgraph *s, const struct gnn_graph *g,
                            const struct gnn_saint_norm *n,
                            struct gnn_error *err);

/* ------------------------------------------------------- one step */

/*
 * Loss of model m restricted to subgraph s (induced from m's graph): a
 * model of m's kind over s gets m's parameters (node rows gathered),
 * propagates, and scores BPR on every positive of s against neg (one
 * local item per positive, s->graph.ui.nnz entries), weighted by
 * s->loss_weight when set, plus the L2 term on the rows used. The
 * gradient goes into m's params[].g: the rows of s's nodes and the whole
 * of shared parameters; other rows are left as they were (zero as long
 * as the caller clears the rows it used, as gnn_adam_step_rows does,
 * which keeps a step's cost to its subgraph's size). *loss gets
 * the loss. epoch > 0 lets the subgraph model apply training-only
 * behaviour (DropEdge) drawn for that epoch. GNN_ENOTSUP for a model
 * without node parameters or with side data (hognn pairs, categories),
 * GNN_ENOMEM.
 */
int gnn_subgraph_loss(struct gnn_model *m, const struct gnn_subgraph *s,
                      const int32_t *neg, float l2, int32_t epoch,
                      struct gnn_pool *pool, double *loss,
                      struct gnn_error *err);

/* ------------------------------------------------------- the plan */

enum gnn_minibatch_mode {
    GNN_MINIBATCH_OFF,     /* full-graph propagation per batch */
    GNN_MINIBATCH_CLUSTER, /* METIS parts */
    GNN_MINIBATCH_SAINT,   /* random-walk subgraphs */
    GNN_MINIBATCH_AUTO,    /* cluster when the full graph exceeds the
                              memory budget, else off */
};

/* The mode named name ("cluster"), or -1. */
int gnn_minibatch_mode_parse(const char *name);

/* The name of mode ("off"); "unknown" out of range. */
const char *gnn_minibatch_mode_name(enum gnn_minibatch_mode mode);

struct gnn_minibatch_config {
    enum gnn_minibatch_mode mode;
    int32_t clusters;        /* parts (0: per_batch times the full-graph
                                batches, at most n_nodes / 8, so that an
                                epoch has as many steps as full-graph) */
    int32_t per_batch;       /* parts per step, >= 1 */
    int32_t saint_roots;     /* walk roots per subgraph (0: calibrated for
                                about `batch` positives per subgraph) */
    int32_t saint_walk;      /* steps per walk, >= 1 */
    int32_t saint_presample; /* subgraphs counted for the normalization
                                (0: 50 per node share, at least 20) */
    int64_t memory_budget;   /* bytes for auto (0: unlimited) */
    int dense_adam;          /* Adam over every row each step (0: only
                                the step's rows, see gnn_adam_step_rows) */
};

/* Defaults: off, parts chosen from the data, 4 per step, walks of 2. */
void gnn_minibatch_config_default(struct gnn_minibatch_config *c);

/* What a run will do, with the working sets behind the choice. */
struct gnn_minibatch_plan {
    enum gnn_minibatch_mode mode; /* never AUTO */
    int32_t clusters, per_batch, steps;
    int32_t saint_roots, saint_walk, saint_presample;
    int32_t batch;       /* positives aimed at per step */
    int saint_calibrate; /* roots are tuned to `batch` by sampling */
    int lazy_adam;       /* Adam on the step's rows only */
    int64_t full_bytes;  /* estimated full-graph training working set */
    int64_t batch_bytes; /* estimated with the chosen mini-batches */
    int fits;            /* the chosen working set is within budget */
    double coverage;     /* positives trained in the last epoch over the
                            training positives (repeats counted) */
};

/*
 * Resolve c for model m with `batch` positives per full-graph step into
 * plan: the working-set estimates (embeddings, per-hop activations and
 * their gradients, Adam state, the CSRs), and for auto, cluster mode with
 * the fewest parts whose estimate fits the budget when the full graph's
 * does not. GNN_EINVAL for a bad setting, GNN_ENOTSUP for a mode the
 * model cannot use (only lightgcn and hognn without side data can).
 */
int gnn_minibatch_plan(const struct gnn_model *m,
                       const struct gnn_minibatch_config *c, int32_t batch,
                       struct gnn_minibatch_plan *plan, struct gnn_error *err);

/* --------------------------------------------- for the trainer */

struct gnn__minibatch;

/* Sampler state for plan over m (partition or pre-sampling done); SAINT
 * updates plan's roots and steps from what the pre-sampling saw. */
int gnn__minibatch_new(struct gnn_model *m, struct gnn_minibatch_plan *plan,
                       uint64_t seed, struct gnn__minibatch **out,
                       struct gnn_error *err);

/* One epoch (1-based) of plan->steps subgraph steps with Adam; *loss
 * gets the mean step loss; *step counts Adam steps. */
int gnn__minibatch_epoch(struct gnn__minibatch *mb, int32_t epoch, float lr,
                         float l2, float beta1, float beta2, float eps,
                         int64_t *step, struct gnn_pool *pool, double *loss,
                         struct gnn_error *err);

/* The plan as it runs (coverage of the last epoch). */
const struct gnn_minibatch_plan *
gnn__minibatch_plan_now(const struct gnn__minibatch *mb);

void gnn__minibatch_free(struct gnn__minibatch *mb);

#endif
