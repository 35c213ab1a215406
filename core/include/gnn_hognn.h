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
 *     beta_k + <h_{k,n}, v * h_{0,n} + u_k>,
 *
 * beta the learned per-hop logits, v and u the gate (a bilinear form of
 * the node's hop-0 and hop-k rows plus a per-hop direction). With both
 * off the output is the uniform mean of the hops, as in LightGCN.
 *
 * During training a fresh share `dropedge` of the undirected edges is
 * dropped each epoch (a function of seed and epoch) and the rest is
 * normalized again. With `dual` each item has a source embedding
 * h_item (I + M) + s_item beside its target embedding h_item: users score
 * targets, and directed pairs (i then j) train source(i) . target(j)
 * against a sampled target by BPR, weighted by pair_weight.
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
};

/* The defaults: alpha 0.1, hop weights and gate on, PairNorm off,
 * DropEdge 0.1, dual on, pair weight 1 (used only with pairs). */
void gnn_hognn_config_default(struct gnn_hognn_config *c);

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
 * Read item categories from path: line i names the category of item i
 * (any text; an empty line means none). *cat receives n_items ids
 * (items past the file's end get -1), *n_cats the number of distinct
 * names, numbered in order of first appearance; caller frees *cat.
 * GNN_ENOENT, GNN_EIO, GNN_ENOMEM.
 */
int gnn_categories_load(const char *path, int32_t n_items, int32_t **cat,
                        int32_t *n_cats, struct gnn_error *err);

#endif
