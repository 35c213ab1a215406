/*
 * hognn: a high-order graph model that stays sharp at depth.
 *
 * Propagation is decoupled from the combination. Over the symmetric
 * normalized adjacency S = D^-1/2 A D^-1/2 of users, items and (when
 * given) item categories, hop k + 1 is
 *
 *     z_{k+1} = (1 - alpha) S h_k + alpha h_0,    h_{k+1} = N(z_{k+1}),
 *
 * h_0 the base embeddings and N PairNorm (centre across nodes, rescale
 * to a root mean squared row norm pn_scale) or the identity. The output
 * of node n is sum_k p_{n,k} h_{k,n}, p_{n,.} the softmax over k of
 *
 *     t (beta_k + <h_{k,n}, v * h_{0,n} + u_k>),
 *
 * beta the learned per-hop logits, v and u the gate (a bilinear form of
 * the node's hop-0 and hop-k rows plus a per-hop direction). With both
 * off the output is the uniform mean of the hops, as in LightGCN. The
 * logit scale t (0.1) slows these few shared parameters under Adam,
 * whose steps do not shrink with the gradient: unscaled, they moved far
 * within a few epochs and validation NDCG fell (LastFM, lr 0.01).
 *
 * During training a fresh share `dropedge` of the undirected edges is
 * dropped each epoch (a function of seed and epoch) and the rest is
 * normalized again. With `dual` each item has a source embedding
 * h_item (I + M) + s_item beside its target embedding h_item: users score
 * targets, and directed pairs (i then j) train source(i) . target(j)
 * against a sampled target by BPR, weighted by pair_weight.
 *
 * Cold items: an item with a category but no training interaction takes
 * its category's base row as its own hop 0 (not a parameter of its own;
 * its gradient goes to the category) and is never a sampled negative,
 * in the BPR term or the pair term (gnn_model.neg_items), so that its
 * output, served and evaluated alike, is what propagation from its
 * category and the category's warm items gives.
 */
#ifndef GNN_HOGNN_H
#define GNN_HOGNN_H

#include <stdint.h>

#include "gnn_csr.h"
#include "gnn_err.h"

struct gnn_hognn_config {
    float alpha;         /* initial residual share, 0..1 */
    int32_t pairnorm;    /* nonzero: PairNorm after each hop */
    float pn_scale;      /* PairNorm's root mean squared row norm, > 0 */
    int32_t hop_weights; /* nonzero: learned per-hop logits */
    int32_t gate;        /* nonzero: per-node gate over hops */
    float dropedge;      /* share of edges dropped per epoch, 0..0.9 */
    int32_t dual;        /* nonzero: separate source item embeddings */
    float pair_weight;   /* weight of the directed pair loss, >= 0 */
    uint64_t seed;       /* DropEdge and pair sampling */

    /* Directed item pairs (borrowed; must outlive the model): pair q
     * is pairs[2q] -> pairs[2q + 1], ids below the graph's n_items. */
    const int32_t *pairs;
    int64_t n_pairs;

    /* Side information (borrowed): item_cat[i] in 0..n_cats-1, or -1
     * for none, for the graph's n_items items; NULL for none. Each
     * category is a node joined to its items by edges of cat_weight. */
    const int32_t *item_cat;
    int32_t n_cats;
    float cat_weight;

    float logit_scale; /* t above, > 0 */
};

/* The defaults: alpha 0.1, DropEdge 0.1, dual on, pair weight 1 (used
 * only with pairs), logit scale 0.1; hop weights, gate and PairNorm off:
 * each lost test NDCG@20 on LastFM at 3 hops (benchmarks/results), the
 * learned weights drifting toward hop 0, which fits the training pairs
 * best. */
void gnn_hognn_config_default(struct gnn_hognn_config *c);

struct gnn_model;

/*
 * The hop weights of hognn model m after its last forward, averaged over
 * nodes, into w[0..K] (at most max entries); returns how many were
 * written, 0 when m is not a hognn model.
 */
int32_t gnn_hognn_hop_weights(const struct gnn_model *m, double *w,
                              int32_t max);

/* ------------------------------------------------- side data files */

/*
 * Read directed pairs from path: one "i j" per line (dense item ids),
 * blank lines and lines starting with '#' skipped. *pairs receives 2 *
 * *n ids (caller frees with free()). GNN_ENOENT, GNN_EIO, GNN_EFORMAT
 * ("path:line: ..."), GNN_ERANGE for an id outside 0..n_items-1,
 * GNN_ENOMEM.
 */
int gnn_pairs_load(const char *path, int32_t n_items, int32_t **pairs,
                   int64_t *n, struct gnn_error *err);

/*
 * Directed pairs from DIR/events.csv (header naming user, item, type and
 * timestamp columns; external ids mapped through DIR/users.txt and
 * DIR/items.txt, line q holding dense id q): for each user, a cart or
 * purchase of i followed by any event of j != i more than gap and at
 * most window seconds later, i and j both among the user's items in ui
 * (the training split, so that held-out periods do not leak), each pair
 * counted once per user. Events of unknown ids are skipped. *pairs gets
 * 2 * *n ids (caller frees). GNN_ENOENT, GNN_EFORMAT, GNN_ENOMEM.
 */
int gnn_pairs_from_events(const char *dir, const struct gnn_csr *ui,
                          int64_t gap, int64_t window, int32_t **pairs,
                          int64_t *n, struct gnn_error *err);

/*
 * Hit@k and MRR@k of held-out directed pairs (2 * n ids): for pair
 * (i, j), all items but i are ranked by src_i . tgt_t (src and tgt
 * n_items x d, row-major; pass the same table twice for a single
 * embedding) and j's rank is looked up. *hit and *mrr are means over
 * the pairs (0 when n is 0). GNN_EINVAL, GNN_ERANGE for an id.
 */
int gnn_pairs_evaluate(const float *src, const float *tgt, int32_t n_items,
                       int32_t d, const int32_t *pairs, int64_t n, int32_t k,
                       double *hit, double *mrr, struct gnn_error *err);

/*
 * Read item categories from path: line i names the category of item i
 * (any text; an empty line means none). *cat receives n_items ids
 * (items past the file's end get -1), *n_cats the number of distinct
 * names, numbered in order of first appearance; caller frees *cat.
 * GNN_ENOENT, GNN_EIO, GNN_ENOMEM.
 */
int gnn_categories_load(const char *path, int32_t n_items, int32_t **cat,
                        int32_t *n_cats, struct gnn_error *err);

#endif
